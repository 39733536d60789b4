"""dtypes with PyTorch's names, each backed by a NumPy dtype, and PyTorch's type promotion."""
import numpy as np

_py_float, _py_int, _py_bool = float, int, bool  # captured before PyTorch's names shadow them


class dtype:
    """A tensor element type (``jitgrad.float32`` ...), printed as ``torch.float32``."""

    __slots__ = ("name", "np", "is_floating_point", "is_signed", "itemsize", "_legacy", "_category")

    def __init__(self, name, np_dtype, legacy, category):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = category == 2
        self.is_signed = self.np.kind in "fi"
        self.itemsize = self.np.itemsize
        self._legacy = legacy  # the old tensor type name used in error messages: FloatTensor
        self._category = category  # 0 bool, 1 integer, 2 floating point

    @property
    def is_complex(self) -> bool:
        return False

    def __repr__(self):
        return "torch." + self.name

    def __reduce__(self):
        return (_by_name, (self.name,))


float16 = dtype("float16", np.float16, "HalfTensor", 2)
float32 = dtype("float32", np.float32, "FloatTensor", 2)
float64 = dtype("float64", np.float64, "DoubleTensor", 2)
uint8 = dtype("uint8", np.uint8, "ByteTensor", 1)
int8 = dtype("int8", np.int8, "CharTensor", 1)
int16 = dtype("int16", np.int16, "ShortTensor", 1)
int32 = dtype("int32", np.int32, "IntTensor", 1)
int64 = dtype("int64", np.int64, "LongTensor", 1)
bool = dtype("bool", np.bool_, "BoolTensor", 0)  # noqa: A001 - PyTorch's name

half, float, double = float16, float32, float64  # noqa: A001
short, int, long = int16, int32, int64  # noqa: A001

ALL = (float16, float32, float64, uint8, int8, int16, int32, int64, bool)
_FROM_NP = {d.np: d for d in ALL}
_NAMES = {d.name: d for d in ALL}


def _by_name(name):
    return _NAMES[name]


_default = [float32]


def get_default_dtype() -> dtype:
    """Return the default floating point dtype (``torch.float32`` unless changed)."""
    return _default[0]


def set_default_dtype(d: dtype) -> None:
    """Set the default floating point dtype used by factories and integer promotion."""
    if d not in (float32, float64, float16):
        raise TypeError("only floating-point types are supported as the default type")
    _default[0] = d


def from_numpy_dtype(np_dtype) -> dtype:
    try:
        return _FROM_NP[np.dtype(np_dtype)]
    except KeyError:
        pass
    np_dtype = np.dtype(np_dtype)
    if np_dtype.byteorder not in "=|" and np_dtype.newbyteorder("=") in _FROM_NP:  # e.g. '>f4'
        raise ValueError("given numpy array has byte order different from the native byte order. "
                         "Conversion between byte orders is currently not supported.")
    # jitgrad has no complex, uint16/32/64, object, string or datetime dtypes
    raise TypeError(
        f"can't convert np.ndarray of type numpy.{np_dtype.type.__name__}. The only supported types are: "
        "float64, float32, float16, int64, int32, int16, int8, uint8, and bool.")


def to_numpy_dtype(d) -> np.dtype:
    """Accept a jitgrad dtype, a NumPy dtype or a Python type and return the NumPy dtype."""
    if d.__class__ is dtype:
        return d.np
    if d is _py_float:
        return _default[0].np
    if d is _py_int:
        return np.dtype(np.int64)
    if d is _py_bool:
        return np.dtype(np.bool_)
    return from_numpy_dtype(d).np


def scalar_dtype(value) -> np.dtype:
    """The dtype PyTorch gives a Python scalar standing alone (``torch.tensor(2.)``)."""
    cls = value.__class__
    if cls is _py_bool or cls is np.bool_:
        return np.dtype(np.bool_)
    if cls is _py_int or isinstance(value, np.integer):
        return np.dtype(np.int64)
    return _default[0].np


# Type promotion, as PyTorch does it: the highest category (bool < int < float) wins; within
# the winning category, tensors with dimensions outrank zero-dim tensors, which outrank Python
# scalars; operands of the winning tier are promoted with NumPy's rules.  Int-with-float mixes
# take the float operand's dtype (NumPy would widen int64 + float32 to float64; PyTorch does not).
_CATEGORY = {d.np: d._category for d in ALL}


def promote_types(a: np.dtype, b: np.dtype) -> np.dtype:
    """Promote two tensor dtypes the PyTorch way (``torch.promote_types``)."""
    if a is b or a == b:
        return a
    ca, cb = _CATEGORY[a], _CATEGORY[b]
    if ca != cb:
        return a if ca > cb else b
    return np.promote_types(a, b)


def result_type_scalar(a: np.dtype, scalar) -> np.dtype:
    """Result dtype of ``tensor <op> python_scalar``."""
    cls = scalar.__class__
    if cls is _py_float or isinstance(scalar, np.floating):
        return a if _CATEGORY[a] == 2 else _default[0].np
    if cls is _py_bool or cls is np.bool_:
        return a
    # int scalar
    return a if _CATEGORY[a] >= 1 else np.dtype(np.int64)


def result_type_tensors(a: np.dtype, a_dim: int, b: np.dtype, b_dim: int) -> np.dtype:
    """Result dtype of ``tensor <op> tensor`` given each operand's ndim (0-d ranks below dimensioned)."""
    if a == b:
        return a
    if (a_dim == 0) == (b_dim == 0):
        return promote_types(a, b)
    ca, cb = _CATEGORY[a], _CATEGORY[b]
    if a_dim == 0:  # a is the zero-dim operand
        return b if cb >= ca else a
    return a if ca >= cb else b
