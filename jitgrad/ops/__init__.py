"""The op table: importing this package declares every op (see ``registry.OPS``)."""
from . import elementwise, reduction, linalg, shape, comparison, conversion, inplace  # noqa: F401
