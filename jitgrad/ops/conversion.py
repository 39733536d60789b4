"""dtype conversion: ``to``, ``float()``, ``double()``, ``long()`` ... (``ToCopyBackward0``)."""
import numpy as np

from .. import _dtype
from ..tensor import Tensor, edge
from . import registry
from .._fp import quiet
from .registry import OpInfo, define_node, new_node, register, result

_state = registry._state


def cast_array(a: np.ndarray, np_dtype: np.dtype) -> np.ndarray:
    """``a.astype(np_dtype)`` with PyTorch's silence: a cast that can overflow (to a narrower
    float, or to float16) or meet NaN/inf/out-of-range floats (float to integer) gives inf or the
    C cast's value in PyTorch, where NumPy would also print a RuntimeWarning."""
    if np_dtype.kind in "iu" and a.dtype.kind == "f" or np_dtype.kind == "f" and (
            np_dtype.itemsize < a.dtype.itemsize or np_dtype.itemsize == 2):
        return quiet(a.astype, np_dtype)
    return a.astype(np_dtype)


def to_dtype(input: Tensor, np_dtype: np.dtype, copy: bool = False) -> Tensor:
    """Cast to ``np_dtype``; returns ``input`` itself when nothing changes and ``copy`` is False."""
    xd = input._data
    if xd.dtype == np_dtype and not copy:
        return input
    out = cast_array(xd, np_dtype)
    if _state.enabled and input._requires_grad and np_dtype.kind == "f":
        return result(out, new_node(_ToCopyNode, (edge(input),), None, xd.dtype))
    return result(out, None)


_ToCopyNode = define_node("ToCopyBackward0", lambda node, grads: (cast_array(grads[0], node._ctx),),
                          lambda node, grads: (to_dtype(grads[0], node._ctx),))


def to(input: Tensor, *args, dtype=None, device=None, copy=False, non_blocking=False, memory_format=None) -> Tensor:
    """Convert dtype (device must be the CPU): ``x.to(torch.float64)``, ``x.to('cpu')``, ``x.to(other)``."""
    for a in args:
        if isinstance(a, _dtype.dtype):
            dtype = a
        elif isinstance(a, Tensor):
            dtype = a.dtype
        elif a is not None:
            from .._device import check as _device

            _device(str(a))
    if device is not None:
        from .._device import check as _device

        _device(str(device))
    if dtype is None:
        return input.clone() if copy else input
    return to_dtype(input, _dtype.to_numpy_dtype(dtype), copy)


def _caster(d):
    def cast(input: Tensor, memory_format=None) -> Tensor:
        return to_dtype(input, d.np)

    cast.__doc__ = f"Convert to {d!r}."
    return cast


def type_as(input: Tensor, other: Tensor) -> Tensor:
    return to_dtype(input, other._data.dtype)


register(OpInfo("to", "ToCopyBackward0", to, samples=None, public=False))
register(OpInfo("type_as", "ToCopyBackward0", type_as, samples=None))
for _name, _d in [("float", _dtype.float32), ("double", _dtype.float64), ("half", _dtype.float16),
                  ("long", _dtype.int64), ("int", _dtype.int32), ("short", _dtype.int16), ("bool", _dtype.bool),
                  ("byte", _dtype.uint8), ("char", _dtype.int8)]:
    register(OpInfo(_name, "ToCopyBackward0", _caster(_d), samples=None, public=False))
