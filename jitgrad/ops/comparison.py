"""Non-differentiable elementwise ops (comparisons, logic, rounding division) and the
tensor-bound clamp.  Comparisons return bool tensors that never require grad; they are single
NumPy ufunc calls already, so no Numba kernel would make them faster."""
import numpy as np

from .. import _dtype
from ..kernels import pointwise as _pk
from ..tensor import Tensor, _wrap, edge
from . import registry
from .broadcast import broadcast_shapes, reduce_to_shape
from .elementwise import _cast_scalar
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
    elif b.__class__ is int and ad.dtype.kind in "iu":
        # PyTorch converts a Python int to the tensor's integer type first, wrapping (int8: 1000 -> -24)
        b = _cast_scalar(ad.dtype, b)
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


# (one declaration a line: the same shape as ops/inplace.py's add_ = _inplace(...) table, no logic to share)
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
        raise NotImplementedError(f"\"bitwise_not_cpu\" not implemented for '{_legacy(input._data.dtype)}'")
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
    return bool(_isclose("allclose", input, other, rtol, atol, equal_nan).all())


def isclose(input: Tensor, other: Tensor, rtol=1e-05, atol=1e-08, equal_nan=False) -> Tensor:
    return _wrap(_isclose("isclose", input, other, rtol, atol, equal_nan))


def _isclose(name: str, input: Tensor, other: Tensor, rtol, atol, equal_nan) -> np.ndarray:
    """PyTorch's checks (a tensor ``other`` of the same dtype, non-negative tolerances, shapes
    that broadcast), then NumPy's isclose, whose overflow to inf in ``atol + rtol * |other|``
    PyTorch also lets through silently."""
    if not isinstance(other, Tensor):
        raise TypeError(f"{name}(): argument 'other' (position 2) must be Tensor, not {type(other).__name__}")
    a, b = input._data, other._data
    if a.dtype != b.dtype:
        raise RuntimeError(f"{_legacy(a.dtype)} did not match {_legacy(b.dtype)}")
    if rtol < 0:
        raise RuntimeError(f"rtol must be greater than or equal to zero, but got {rtol:g}")
    if atol < 0:
        raise RuntimeError(f"atol must be greater than or equal to zero, but got {atol:g}")
    broadcast_shapes(a.shape, b.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)


def _legacy(np_dtype) -> str:
    """PyTorch's short dtype name: 'Float', 'Long', 'Bool' ..."""
    return _dtype.from_numpy_dtype(np_dtype)._legacy[:-6]


def _check_int_zero_division(a, b):
    b_arr = np.asarray(b)
    if a.dtype.kind in "iub" and b_arr.dtype.kind in "iub" and not np.all(b_arr):
        raise RuntimeError("ZeroDivisionError")


def _check_not_bool(input: Tensor, other, kernel_name: str):
    if input._data.dtype.kind == "b" and (not isinstance(other, Tensor) or other._data.dtype.kind == "b"):
        raise NotImplementedError(f"\"{kernel_name}\" not implemented for 'Bool'")


def rounded_div(input: Tensor, other, mode: str) -> Tensor:
    """``div`` with ``rounding_mode`` 'trunc' or 'floor' (not differentiable; zero gradient)."""
    if mode in ("trunc", "floor"):
        _check_not_bool(input, other, f"div_{mode}_cpu")
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


def _modulo(np_fn, kernel_name, rounding, scalar_node, tensor_node):
    """remainder / fmod: NumPy's ufunc in PyTorch's promoted dtype, differentiable like PyTorch's:
    d/dinput = 1 and d/dother = -(input / other rounded: ``rounding``)."""

    def op(input: Tensor, other) -> Tensor:
        _check_not_bool(input, other, kernel_name)
        a, b = _arrays(input, other)
        _check_int_zero_division(a, b)
        dt = _promoted_dtype(input, other)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.asarray(np_fn(a, b)).astype(dt, copy=False)
        other_is_tensor = isinstance(other, Tensor)
        if not registry.needs_grad(input, other):
            return result(out, None)
        if other_is_tensor:
            node = new_node(tensor_node, (edge(input), edge(other)), (a, b),
                            (a.shape, a.dtype, b.shape, b.dtype, input._requires_grad, other._requires_grad),
                            (registry.saved_version(input), registry.saved_version(other)))
        else:
            node = new_node(scalar_node, (edge(input),), None, a.shape)
        return result(out, node)

    def backward_tensor(node, grads):
        a, b = node._saved
        shape_a, dtype_a, shape_b, dtype_b, need_a, need_b = node._ctx
        g = grads[0]
        ga = reduce_to_shape(np.broadcast_to(g, g.shape), shape_a).astype(dtype_a, copy=False) if need_a else None
        gb = None
        if need_b:
            with np.errstate(divide="ignore", invalid="ignore"):
                q = np.floor_divide(a, b) if rounding == "floor" else np.trunc(np.true_divide(a, b))
                gb = reduce_to_shape(np.asarray(-g * q, g.dtype), shape_b).astype(dtype_b, copy=False)
        return (ga, gb)

    def graph_tensor(node, grads):
        a, b = registry.saved_tensors(node)
        shape_a, dtype_a, shape_b, dtype_b, need_a, need_b = node._ctx
        g = grads[0]
        return (registry.sum_to(g, shape_a) if need_a else None,
                registry.sum_to(-g * rounded_div(a.detach(), b.detach(), rounding), shape_b) if need_b else None)

    scalar_cls = define_node(scalar_node, lambda node, grads: (grads[0].reshape(node._ctx),),
                             lambda node, grads: (grads[0].reshape(node._ctx),))
    tensor_cls = define_node(tensor_node, backward_tensor, graph_tensor)
    scalar_node, tensor_node = scalar_cls, tensor_cls
    return op


def _torch_remainder(a, b):
    """PyTorch's float remainder: fmod, moved by b where its sign differs from b's (a zero keeps
    fmod's sign, where NumPy's remainder takes b's)."""
    if np.result_type(a, b).kind != "f":
        return np.remainder(a, b)
    m = np.fmod(a, b)
    return np.where((m != 0) & ((np.asarray(b) < 0) != (m < 0)), m + b, m)


remainder = _modulo(_torch_remainder, "remainder_cpu", "floor", "RemainderBackward0", "RemainderBackward1")
remainder.__name__ = "remainder"
remainder.__doc__ = "Python-style modulus (the sign of the divisor), computed in PyTorch's promoted dtype."
fmod = _modulo(np.fmod, "fmod_cpu", "trunc", "FmodBackward0", "FmodBackward1")
fmod.__name__ = "fmod"
fmod.__doc__ = "C-style modulus (the sign of the dividend), computed in PyTorch's promoted dtype."


def sign(input: Tensor) -> Tensor:
    """Elementwise sign; its gradient is zero."""
    xd = input._data
    if xd.dtype.kind == "b":
        return _wrap(xd.copy())
    x = xd.ravel() if xd.dtype != np.float16 else xd.ravel().astype(np.float32)  # (no float16 in Numba)
    out = np.empty(xd.shape, x.dtype)
    _pk.sign_forward(x, out.ravel())  # (sign(nan) is 0 in PyTorch, nan in NumPy)
    if out.dtype != xd.dtype:
        out = out.astype(xd.dtype)
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
    shape = x.shape
    for bound in (lo, hi):  # PyTorch's broadcast error, not NumPy's
        if isinstance(bound, np.ndarray):
            shape = broadcast_shapes(shape, bound.shape)
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
    # PyTorch's clamp_backward_min_max, comparisons as written there so that NaN (in x or a bound)
    # sends no gradient to x; when lo > hi the result is hi, and hi gets the gradient
    if lo is not None and hi is not None:
        inside = (x >= lo) & (x <= hi)
        below = (x < lo) & (lo < hi)
        above = (x > hi) | (hi < lo)
    elif lo is not None:
        inside, below, above = x >= lo, x < lo, None
    else:
        inside, below, above = x <= hi, None, x > hi
    gx = reduce_to_shape(np.where(inside, g, 0).astype(g.dtype), shape)
    glo = reduce_to_shape(np.where(below, g, 0).astype(g.dtype), lo_shape) if lo_shape is not None else None
    ghi = reduce_to_shape(np.where(above, g, 0).astype(g.dtype), hi_shape) if hi_shape is not None else None
    return (gx, glo, ghi)


_ClampTensorNode = define_node("ClampBackward0", _clamp_tensor_backward)

# the operators are the ops' own dunder closures; greater, less, ... are PyTorch's Tensor-method
# spellings (not added as jitgrad.<name> functions)
for _name, _fn, _spellings in [("eq", eq, ()), ("ne", ne, ("not_equal",)), ("lt", lt, ("less",)),
                               ("le", le, ("less_equal",)), ("gt", gt, ("greater",)), ("ge", ge, ("greater_equal",))]:
    register(OpInfo(_name, "", _fn, differentiable=False,
                    methods={f"__{_name}__": _fn.dunder, **dict.fromkeys(_spellings, _fn)}))
for _name, _fn, _dunders in [
    ("bitwise_and", bitwise_and, ("__and__", "__rand__")), ("bitwise_or", bitwise_or, ("__or__", "__ror__")),
    ("bitwise_xor", bitwise_xor, ("__xor__", "__rxor__")), ("bitwise_not", bitwise_not, ("__invert__",)),
    ("logical_and", logical_and, ()), ("logical_or", logical_or, ()), ("logical_xor", logical_xor, ()),
    ("logical_not", logical_not, ()), ("isnan", isnan, ()), ("isinf", isinf, ()), ("isfinite", isfinite, ()),
    ("equal", equal, ()), ("allclose", allclose, ()), ("isclose", isclose, ()),
    ("floor_divide", floor_divide, ("__floordiv__",)),
]:
    register(OpInfo(_name, "", _fn, dunders=_dunders, differentiable=False))
register(OpInfo("sign", "SignBackward0", sign, samples=None))


def _modulo_samples(rng):
    # operands kept away from the jumps of the rounded quotient a / b
    a = rng.uniform(0.2, 0.8, (3, 4)) + rng.integers(-3, 3, (3, 4))
    b = rng.uniform(1.2, 1.8, (4,)) * rng.choice([-1.0, 1.0], (4,))
    return [((a, 1.5), {}), ((a, b), {})]


register(OpInfo("remainder", "RemainderBackward1", remainder, dunders=("__mod__",), nodes=("RemainderBackward0",),
                samples=_modulo_samples,
                notes="samples avoid the jumps where input / other is an integer"))
register(OpInfo("fmod", "FmodBackward1", fmod, nodes=("FmodBackward0",), samples=_modulo_samples,
                notes="samples avoid the jumps where input / other is an integer"))
