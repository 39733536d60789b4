"""The legacy tensor types: ``torch.FloatTensor``, ``LongTensor``, ... with PyTorch's semantics.

``LongTensor([1, 2])`` is int64 data, ``LongTensor(2, 3)`` an uninitialised (here: zeroed) tensor
of that shape, ``LongTensor()`` an empty one, ``LongTensor(t)`` an alias of an int64 tensor ``t``;
``isinstance(x, torch.LongTensor)`` is true for int64 tensors only; ``x.type(torch.LongTensor)``
and ``x.type('torch.LongTensor')`` convert.  Each constructor returns a plain ``Tensor``, as
PyTorch's do.
"""
import numpy as np

from . import _dtype
from ._device import check as _check_device
from .tensor import Size, Tensor, _wrap

_SIGNATURES = (" * (*, torch.device device = None)\n"
               "      didn't match because some of the keywords were incorrect: {kw}\n"
               " * (torch.Storage storage)\n * (Tensor other)\n"
               " * (tuple of ints size, *, torch.device device = None)\n"
               " * (object data, *, torch.device device = None)\n")
_C_NAMES = {"float16": "c10::Half", "float32": "float", "float64": "double", "uint8": "unsigned char",
            "int8": "signed char", "int16": "short int", "int32": "int", "int64": "long int", "bool": "bool"}


def _options(dt: np.dtype) -> str:
    return (f"TensorOptions(dtype={_C_NAMES[dt.name]}, device=cpu, layout=Strided, requires_grad=false (default), "
            "pinned_memory=false (default), memory_format=(nullopt))")


def _new(dt: np.dtype, args: tuple) -> Tensor:
    if not args:
        return _wrap(np.empty((0,), dt))
    first = args[0]
    if len(args) == 1:
        if isinstance(first, Tensor):
            if first._data.dtype != dt:
                raise TypeError(f"expected {_options(dt)} (got {_options(first._data.dtype)})")
            alias = _wrap(first._data)  # (PyTorch's alias: the same storage and version counter)
            alias._vc = first._vc
            return alias
        if isinstance(first, Size):
            return _shaped(dt, tuple(first))
        if isinstance(first, (int, np.integer)) and not isinstance(first, bool):
            return _shaped(dt, (first,))
        if isinstance(first, (float, bool, complex, str, np.floating, np.bool_)) or first is None:
            raise TypeError(f"new(): data must be a sequence (got {type(first).__name__})")
        from .factories import tensor

        return tensor(first, dtype=_dtype.from_numpy_dtype(dt))
    for pos, s in enumerate(args, 1):
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(f"new(): argument 'size' failed to unpack the object at pos {pos} with error "
                            f"\"type must be tuple of ints,but got {type(s).__name__}\"")
    return _shaped(dt, args)


def _shaped(dt: np.dtype, shape: tuple) -> Tensor:
    shape = tuple(int(s) for s in shape)
    for s in shape:
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(shape)}")
    return _wrap(np.zeros(shape, dt))


class _LegacyTensorType(type):
    """The metaclass of the legacy types: calling one builds a Tensor of its dtype, and an
    isinstance check compares dtypes."""

    def __call__(cls, *args, device=None, **kwargs):
        if kwargs:
            got = [type(a).__name__ for a in args] + [f"{k}={type(v).__name__}" for k, v in kwargs.items()]
            raise TypeError(f"new() received an invalid combination of arguments - got ({', '.join(got)}), "
                            "but expected one of:\n" + _SIGNATURES.format(kw=", ".join(kwargs)))
        if device is not None:
            _check_device(device)
        return _new(cls.dtype.np, args)

    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, Tensor) and obj._data.dtype == cls.dtype.np


def _legacy_type(d: _dtype.dtype):
    return _LegacyTensorType(d._legacy, (), {"dtype": d, "__module__": "jitgrad", "__doc__": f"Legacy {d!r} tensors."})


TYPES = {d._legacy: _legacy_type(d) for d in (
    _dtype.float32, _dtype.float64, _dtype.float16, _dtype.int64, _dtype.int32, _dtype.int16, _dtype.int8,
    _dtype.uint8, _dtype.bool)}
FloatTensor, DoubleTensor, HalfTensor = TYPES["FloatTensor"], TYPES["DoubleTensor"], TYPES["HalfTensor"]
LongTensor, IntTensor, ShortTensor = TYPES["LongTensor"], TYPES["IntTensor"], TYPES["ShortTensor"]
CharTensor, ByteTensor, BoolTensor = TYPES["CharTensor"], TYPES["ByteTensor"], TYPES["BoolTensor"]


def dtype_of(kind) -> _dtype.dtype:
    """The dtype a ``Tensor.type(...)`` argument names: a dtype, a legacy type, or its name
    ('torch.LongTensor', 'LongTensor')."""
    if isinstance(kind, _dtype.dtype):
        return kind
    if isinstance(kind, _LegacyTensorType):
        return kind.dtype
    if isinstance(kind, str):
        name = kind[len("torch."):] if kind.startswith("torch.") else kind
        if name in TYPES:
            return TYPES[name].dtype
        if name.startswith("cuda."):
            raise AssertionError("Torch not compiled with CUDA enabled")
    raise ValueError(f"invalid type: {kind!r}")
