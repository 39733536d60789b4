"""The op table: importing this package declares every op (see ``registry.OPS``)."""
from . import elementwise, reduction, linalg, shape, comparison, conversion, inplace  # noqa: F401
from . import pointwise, statistics  # noqa: F401
from . import joining, contraction  # noqa: F401
from . import nn, conv  # noqa: F401
