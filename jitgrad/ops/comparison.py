"""Non-differentiable elementwise ops (comparisons, logic, rounding division) and the
tensor-bound clamp.  Comparisons return bool tensors that never require grad; they are single
NumPy ufunc calls already, so no Numba kernel would make them faster."""
import numpy as np

from .. import _dtype
from ..tensor import Tensor, _wrap, edge
from . import registry
from .broadcast import broadcast_shapes, reduce_to_shape
from .registry import OpInfo, define_node, new_node, register, result

_state = registry._state


def _arrays(a, b):
    ad = a._data
    if isinstance(b, Tensor):
        bd = b._data
        broadcast_shapes(ad.shape, bd.shape)
        return ad, bd
    if isinstance(b, (list, tuple)):
        b = np.asarray(b)
    return ad, b


def _comparable(other) -> bool:
    return isinstance(other, (Tensor, int, float, np.number, np.bool_, np.ndarray, list, tuple))


def _compare(ufunc, name):
    def op(input: Tensor, other) -> Tensor:
        if not _comparable(other):
            raise TypeError(f"{name}(): argument 'other' (position 2) must be Tensor or Number, "
                            f"not {type(other).__name__}")
        a, b = _arrays(input, other)
        return _wrap(np.asarray(ufunc(a, b)))

    def dunder(input: Tensor, other):
        # a foreign operand defers to Python: ``t == "a"`` is False, ``t < "a"`` a TypeError
        if not _comparable(other):
            return NotImplemented
        return op(input, other)

    op.__name__ = name
    op.__doc__ = f"Elementwise ``{name}`` comparison, giving a bool tensor."
    op.dunder = dunder
    return op


eq = _compare(np.equal, "eq")
ne = _compare(np.not_equal, "ne")
lt = _compare(np.less, "lt")
le = _compare(np.less_equal, "le")
gt = _compare(np.greater, "gt")
ge = _compare(np.greater_equal, "ge")


def _logical(ufunc, name, bitwise):
    def op(input: Tensor, other) -> Tensor:
        a, b = _arrays(input, other)
        if bitwise and (a.dtype.kind == "f" or (isinstance(b, np.ndarray) and b.dtype.kind == "f")
                        or isinstance(b, float)):
            raise NotImplementedError(f'"{name}_cpu" not implemented for \'Float\'')
        return _wrap(np.asarray(ufunc(a, b)))

    op.__name__ = name
    return op


bitwise_and = _logical(np.bitwise_and, "bitwise_and", True)
bitwise_or = _logical(np.bitwise_or, "bitwise_or", True)
bitwise_xor = _logical(np.bitwise_xor, "bitwise_xor", True)
logical_and = _logical(np.logical_and, "logical_and", False)
logical_or = _logical(np.logical_or, "logical_or", False)
logical_xor = _logical(np.logical_xor, "logical_xor", False)


def logical_not(input: Tensor) -> Tensor:
    return _wrap(np.logical_not(input._data))


def bitwise_not(input: Tensor) -> Tensor:
    if input._data.dtype.kind == "f":
        raise RuntimeError("\"bitwise_not_cpu\" not implemented for 'Float'")
    return _wrap(np.asarray(np.invert(input._data)))


def isnan(input: Tensor) -> Tensor:
    return _wrap(np.isnan(input._data))


def isinf(input: Tensor) -> Tensor:
    return _wrap(np.isinf(input._data))


def isfinite(input: Tensor) -> Tensor:
    return _wrap(np.isfinite(input._data))


def equal(input: Tensor, other: Tensor) -> bool:
    """True if both tensors have the same shape and elements."""
    return input._data.shape == other._data.shape and bool(np.array_equal(input._data, other._data))


def allclose(input: Tensor, other: Tensor, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    return bool(np.allclose(input._data, other._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(input: Tensor, other: Tensor, rtol=1e-05, atol=1e-08, equal_nan=False) -> Tensor:
    return _wrap(np.isclose(input._data, other._data if isinstance(other, Tensor) else other,
                            rtol=rtol, atol=atol, equal_nan=equal_nan))


def _check_int_zero_division(a, b):
    b_arr = np.asarray(b)
    if a.dtype.kind in "iub" and b_arr.dtype.kind in "iub" and not np.all(b_arr):
        raise RuntimeError("ZeroDivisionError")


def rounded_div(input: Tensor, other, mode: str) -> Tensor:
    """``div`` with ``rounding_mode`` 'trunc' or 'floor' (not differentiable; zero gradient)."""
    a, b = _arrays(input, other)
    _check_int_zero_division(a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        if mode == "trunc":
            out = np.trunc(np.true_divide(a, b)) if a.dtype.kind == "f" or getattr(b, "dtype", np.dtype(float)).kind == "f" \
                else (np.sign(a) * np.sign(b) * (np.abs(a) // np.abs(b)))
        elif mode == "floor":
            out = np.floor_divide(a, b)
        else:
            raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{mode}'")
    return _wrap(np.asarray(out).astype(_promoted_dtype(input, other), copy=False))


def _promoted_dtype(input: Tensor, other):
    if isinstance(other, Tensor):
        return _dtype.result_type_tensors(input._data.dtype, input._data.ndim, other._data.dtype, other._data.ndim)
    return _dtype.result_type_scalar(input._data.dtype, other)


def floor_divide(input: Tensor, other) -> Tensor:
    return rounded_div(input, other, "floor")


def remainder(input: Tensor, other) -> Tensor:
    """Python-style modulus (the sign of the divisor), computed in PyTorch's promoted dtype."""
    a, b = _arrays(input, other)
    _check_int_zero_division(a, b)
    return _wrap(np.asarray(np.remainder(a, b)).astype(_promoted_dtype(input, other), copy=False))


def sign(input: Tensor) -> Tensor:
    """Elementwise sign; its gradient is zero."""
    if input._data.dtype.kind == "b":
        return _wrap(input._data.copy())
    out = np.sign(input._data)
    if _state.enabled and input._requires_grad:
        node = new_node(_SignNode, (edge(input),), None, input._data.shape)
        return result(out, node)
    return result(out, None)


_SignNode = define_node("SignBackward0", lambda node, grads: (np.zeros(node._ctx, grads[0].dtype),),
                        lambda node, grads: (grads[0] * 0,))


def clamp_tensor(input: Tensor, min=None, max=None) -> Tensor:  # noqa: A002
    """clamp with tensor bounds (ClampBackward0): the gradient goes to whichever of input, min
    or max produced each output element."""
    x = input._data
    lo = min._data if isinstance(min, Tensor) else min
    hi = max._data if isinstance(max, Tensor) else max
    out = x
    if lo is not None:
        out = np.maximum(out, lo)
    if hi is not None:
        out = np.minimum(out, hi)
    out = np.asarray(out)
    tensors = [t for t in (input, min, max) if isinstance(t, Tensor)]
    if registry.needs_grad(*tensors):
        edges = (edge(input),
                 edge(min) if isinstance(min, Tensor) else (None, 0),
                 edge(max) if isinstance(max, Tensor) else (None, 0))
        node = new_node(_ClampTensorNode, edges, (x, lo, hi), (x.shape, getattr(lo, "shape", None),
                                                                 getattr(hi, "shape", None)))
        return result(out, node)
    return result(out, None)


def _clamp_tensor_backward(node, grads):
    x, lo, hi = node._saved
    shape, lo_shape, hi_shape = node._ctx
    g = np.broadcast_to(grads[0], grads[0].shape)
    # out = min(max(x, lo), hi): hi wins wherever max(x, lo) exceeds it, even when lo > hi
    above = ((x if lo is None else np.maximum(x, lo)) > hi) if hi is not None else np.zeros(shape, bool)
    below = ((x < lo) & ~above) if lo is not None else np.zeros(shape, bool)
    inside = ~(below | above)
    gx = reduce_to_shape(np.where(inside, g, 0).astype(g.dtype), shape)
    glo = reduce_to_shape(np.where(below, g, 0).astype(g.dtype), lo_shape) if lo_shape is not None else None
    ghi = reduce_to_shape(np.where(above, g, 0).astype(g.dtype), hi_shape) if hi_shape is not None else None
    return (gx, glo, ghi)


_ClampTensorNode = define_node("ClampBackward0", _clamp_tensor_backward)

for _name, _fn in [("eq", eq), ("ne", ne), ("lt", lt), ("le", le), ("gt", gt), ("ge", ge)]:
    register(OpInfo(_name, "", _fn, differentiable=False))
    setattr(Tensor, f"__{_name}__", _fn.dunder)
for _name, _fn, _dunders in [
    ("bitwise_and", bitwise_and, ("__and__", "__rand__")), ("bitwise_or", bitwise_or, ("__or__", "__ror__")),
    ("bitwise_xor", bitwise_xor, ("__xor__", "__rxor__")), ("bitwise_not", bitwise_not, ("__invert__",)),
    ("logical_and", logical_and, ()), ("logical_or", logical_or, ()), ("logical_xor", logical_xor, ()),
    ("logical_not", logical_not, ()), ("isnan", isnan, ()), ("isinf", isinf, ()), ("isfinite", isfinite, ()),
    ("equal", equal, ()), ("allclose", allclose, ()), ("isclose", isclose, ()),
    ("floor_divide", floor_divide, ("__floordiv__",)), ("remainder", remainder, ("__mod__",)),
]:
    register(OpInfo(_name, "", _fn, dunders=_dunders, differentiable=False))
register(OpInfo("sign", "SignBackward0", sign, samples=None))
Tensor.greater, Tensor.less, Tensor.greater_equal, Tensor.less_equal, Tensor.not_equal = gt, lt, ge, le, ne
Tensor.__hash__ = lambda self: id(self)  # defining __eq__ would otherwise make tensors unhashable
