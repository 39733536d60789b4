"""The op table: importing this package declares every op (see ``registry.OPS``)."""
from . import elementwise, reduction, linalg, shape, comparison, conversion, inplace  # noqa: F401
from . import unary, pointwise, statistics  # noqa: F401
from . import joining, contraction  # noqa: F401
from . import softmax, dropout, normalization, embedding, losses, conv  # noqa: F401
from . import sorting, selection  # noqa: F401
from . import binary_math  # noqa: F401
