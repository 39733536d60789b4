"""``torch.utils``: data loading (:mod:`jitgrad.utils.data`)."""
from . import data  # noqa: F401
