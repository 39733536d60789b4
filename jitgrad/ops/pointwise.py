"""Pointwise ops of the wider library: the activations PyTorch keeps in ``torch.nn.functional``
(softplus, gelu, silu, leaky_relu, elu, hardtanh), and the selection ops (maximum, minimum,
where, masked_fill, lerp, atan2) -- with their in-place variants.  (The unary math ops are
declared in ``ops/unary.py``.)

The activations use the one unary template (``unary.unary_template``, here ``_pointwise``): dtype
handling, the node, what is saved, and the differentiable formula used under
``create_graph=True``; an activation brings its kernel pair and scalar parameters.  Two-tensor ops reuse ``elementwise._binary`` (promotion, broadcasting and
gradient reduction solved there once).  Kernels: ``jitgrad/kernels/pointwise.py``.
"""
import math
import warnings

import numpy as np

from .. import _dtype
from ..autograd.graph import next_seq
from ..kernels import elementwise as ek
from ..kernels import loops
from ..kernels import pointwise as k
from ..tensor import Tensor, _wrap, edge
from . import elementwise as ew
from . import registry
from .broadcast import broadcast_shapes
from .inplace import _inplace, has_internal_overlap
from .registry import OpInfo, define_node, new_node, register, result, saved_tensors
from .unary import erf, exp, sigmoid, tanh, unary_template

_state = registry._state
_F16 = np.dtype(np.float16)
_via_float32 = ew._via_float32


def _type_name(dt: np.dtype) -> str:
    """PyTorch's scalar type name in kernel errors: 'Long', 'Int', 'Bool' ..."""
    return _dtype.from_numpy_dtype(dt)._legacy[:-6]


# PyTorch's C type names, in its dtype-check messages ("expected dtype float ... got dtype double")
_C_TYPE_NAMES = {"int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
                 "uint8": "unsigned char", "float32": "float", "float64": "double", "float16": "c10::Half",
                 "bool": "bool"}


def _check_tensor(fn_name, arg_name, position, value):
    if not isinstance(value, Tensor):
        raise TypeError(f"{fn_name}(): argument '{arg_name}' (position {position}) must be Tensor, "
                        f"not {type(value).__name__}")


# ============================================================================ activations
# one template for every unary op (ops/unary.py); the activations bring their own signatures
_pointwise = unary_template


def _where_positive(x, then, otherwise):
    """``then`` where x > 0 else ``otherwise`` (Tensors or numbers), for the graph formulas."""
    return where(x > 0, then, otherwise)


# ---------------------------------------------------------------------------- activations
def _softplus_graph(g, x, y, beta, threshold):
    z = x * beta
    return where(z > threshold, g, g * sigmoid(z))


_softplus = _pointwise("softplus", "SoftplusBackward0", k.softplus_forward, k.softplus_backward,
                       nparams=2, saves="input", graph=_softplus_graph, cpu_kernel="softplus_cpu")


def softplus(input: Tensor, beta=1, threshold=20) -> Tensor:
    """``log(1 + exp(beta * x)) / beta``, linear above ``threshold`` (``torch.nn.functional``)."""
    return _softplus(input, float(beta), float(threshold))


_SQRT_2, _SQRT_2_PI = np.sqrt(2.0), np.sqrt(2.0 * np.pi)
_GELU_BETA, _GELU_KAPPA = np.sqrt(2.0 / np.pi), 0.044715


def _gelu_graph(g, x, y):
    cdf = (erf(x / _SQRT_2) + 1) * 0.5
    pdf = exp(x * x * -0.5) / _SQRT_2_PI
    return g * (cdf + x * pdf)


def _gelu_tanh_graph(g, x, y):
    t = tanh((x + x * x * x * _GELU_KAPPA) * _GELU_BETA)
    right = x * 0.5 * (1 - t * t) * _GELU_BETA * (x * x * (3 * _GELU_KAPPA) + 1)
    return g * ((t + 1) * 0.5 + right)


_gelu = _pointwise("gelu", "GeluBackward0", k.gelu_forward, k.gelu_backward, saves="input",
                   graph=_gelu_graph, cpu_kernel="GeluKernelImpl")
_gelu_tanh = _pointwise("gelu", "GeluBackward0", k.gelu_tanh_forward, k.gelu_tanh_backward, saves="input",
                        graph=_gelu_tanh_graph, cpu_kernel="GeluKernelImpl")


def gelu(input: Tensor, *, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit; ``approximate='tanh'`` for the tanh approximation."""
    if approximate == "none":
        return _gelu(input)
    if approximate == "tanh":
        return _gelu_tanh(input)
    raise RuntimeError("approximate argument must be either none or tanh.")


def _silu_graph(g, x, y):
    s = sigmoid(x)
    return g * s * (x * (1 - s) + 1)


_silu = _pointwise("silu", "SiluBackward0", k.silu_forward, k.silu_backward, saves="input",
                   graph=_silu_graph, cpu_kernel="silu_cpu")


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * sigmoid(x)`` (``torch.nn.functional.silu``)."""
    return silu_(input) if inplace else _silu(input)


_leaky_relu = _pointwise("leaky_relu", "LeakyReluBackward0", k.leaky_relu_forward, k.leaky_relu_backward,
                         nparams=1, saves="input", cpu_kernel="leaky_relu_cpu",
                         graph=lambda g, x, y, slope: _where_positive(x, g, g * slope))


def _leaky_relu_result_backward(grad, x, result, slope, out):
    if slope < 0:
        raise RuntimeError(
            "In-place leakyReLu backward calculation is triggered with a negative slope which is not supported. "
            "This is caused by calling in-place forward function with a negative slope, please call out-of-place "
            "version instead. File an issue at https://github.com/pytorch/pytorch if you do require supporting "
            "in-place leakRelu backward calculation with negative slope")
    k.leaky_relu_backward(grad, result, result, slope, out)


# LeakyReluBackward1: the node of the in-place leaky_relu_, which saves the result
_leaky_relu_saving_result = _pointwise(
    "leaky_relu_", "LeakyReluBackward1", k.leaky_relu_forward, _leaky_relu_result_backward, nparams=1, saves="result",
    cpu_kernel="leaky_relu_cpu", graph=lambda g, x, y, slope: _where_positive(y, g, g * slope))


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``x`` for positive ``x``, ``negative_slope * x`` otherwise (``torch.nn.functional``)."""
    if inplace:
        return leaky_relu_(input, negative_slope)
    return _leaky_relu(input, float(negative_slope))


_elu = _pointwise("elu", "EluBackward0", k.elu_forward, k.elu_backward, nparams=1, saves="input", cpu_kernel="elu_cpu",
                  graph=lambda g, x, y, alpha: where(x <= 0, g * exp(x) * alpha, g))


def _elu_result_backward(grad, x, result, alpha, out):
    if alpha < 0:
        raise RuntimeError(
            "In-place elu backward calculation is triggered with a negative slope which is not supported. "
            "This is caused by calling in-place forward function with a negative slope, please call out-of-place "
            "version instead.")
    k.elu_result_backward(grad, x, result, alpha, out)


# EluBackward1: the node of the in-place elu_, which saves the result
_elu_saving_result = _pointwise("elu_", "EluBackward1", k.elu_forward, _elu_result_backward, nparams=1, saves="result",
                                cpu_kernel="elu_cpu", graph=lambda g, x, y, alpha: where(y <= 0, g * (y + alpha), g))


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` for positive ``x``, ``alpha * (exp(x) - 1)`` otherwise (``torch.nn.functional``)."""
    if inplace:
        return elu_(input, alpha)
    return _elu(input, float(alpha))


def _hardtanh_graph(g, x, y, min_val, max_val):
    return where((x > min_val) & (x < max_val), g, 0.0)  # (NaN: 0, as the kernel)


# (hardtanh forward is a clamp: kernels.elementwise.clamp_forward)
_hardtanh_float = _pointwise("hardtanh", "HardtanhBackward0", ek.clamp_forward, k.hardtanh_backward,
                             nparams=2, saves="input", graph=_hardtanh_graph)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """Clamp to ``[min_val, max_val]``; zero gradient at and beyond the bounds (``torch.nn.functional``)."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    if inplace:
        return hardtanh_(input, min_val, max_val)
    xd = input._data
    kind = xd.dtype.kind
    if kind == "b":
        raise RuntimeError("Bool inputs not supported for hardtanh")
    if kind in "iu":  # integers clamp to the bounds cast to the integer type (no gradient)
        lo, hi = ew._cast_scalar(xd.dtype, int(min_val)), ew._cast_scalar(xd.dtype, int(max_val))
        out = np.empty(xd.shape, xd.dtype)
        ek.clamp_forward(xd.ravel(), lo, hi, out.ravel())
        return _wrap(out)
    return _hardtanh_float(input, float(min_val), float(max_val))


# ---------------------------------------------------------------------------- in-place variants
def _inplace_variant(op, name):
    fn = _inplace(op, name)
    fn.__doc__ = f"In-place version of ``{name[:-1]}``."
    return fn


silu_ = _inplace_variant(_silu, "silu_")
_leaky_relu_inplace = _inplace(_leaky_relu_saving_result, "leaky_relu_")
_elu_inplace = _inplace(_elu_saving_result, "elu_")
_hardtanh_inplace = _inplace(lambda t, lo, hi: hardtanh(t, lo, hi), "hardtanh_")


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """In-place ``leaky_relu`` (its node saves the result: LeakyReluBackward1)."""
    return _leaky_relu_inplace(input, float(negative_slope))


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place ``elu`` (its node saves the result: EluBackward1)."""
    return _elu_inplace(input, float(alpha))


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """In-place ``hardtanh``."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _hardtanh_inplace(input, min_val, max_val)


# ============================================================================ two-tensor ops
_fill = ew._fill  # (a fresh flat array from a kernel, its parallel twin when large)


@loops.scalar
def _d_max(g, a, b):
    # d max(a, b)/da: all of g where a > b, half on a tie, none where a < b (NaN: all).  The same
    # function serves the three other cases by argument order: d max/db = _d_max(g, b, a),
    # d min/da = _d_max(g, b, a), d min/db = _d_max(g, a, b).
    if a == b:
        return g / 2
    return 0 if a < b else g


@loops.scalar
def _d_atan2(g, a, b, num):
    # g * num / (a^2 + b^2), in PyTorch's order; 0 where a^2 + b^2 == 0 (at the origin)
    d = a * a + b * b
    return g * num * (0 if d == 0 else 1 / d)


# NaN in either operand propagates; a tie (0. vs -0.) gives b, as PyTorch's vectorised loop does
# (its scalar loop, used for a tensor of a few elements, gives a)
_maximum = ew.binary_op("maximum", "MaximumBackward0", forward=lambda a, b: a if (a > b or a != a) else b,
                        vjp_a=lambda g, a, b, y: _d_max(g, a, b), vjp_b=lambda g, a, b, y: _d_max(g, b, a),
                        scalar_forward=False, graph=lambda g, a, b, y, s: (g * _ties(g, a, b), g * _ties(g, b, a)))
_minimum = ew.binary_op("minimum", "MinimumBackward0", forward=lambda a, b: a if (a < b or a != a) else b,
                        vjp_a=lambda g, a, b, y: _d_max(g, b, a), vjp_b=lambda g, a, b, y: _d_max(g, a, b),
                        scalar_forward=False, graph=lambda g, a, b, y, s: (g * _ties(g, b, a), g * _ties(g, a, b)))
_atan2 = ew.binary_op("atan2", "Atan2Backward0", forward=lambda a, b: math.atan2(a, b),
                      vjp_a=lambda g, a, b, y: _d_atan2(g, a, b, b), vjp_b=lambda g, a, b, y: _d_atan2(g, a, b, -a),
                      scalar_forward=False, true_divide=True,
                      graph=lambda g, a, b, y, s: (g * b / (a * a + b * b), -g * a / (a * a + b * b)))


def _ties(g, a, b):
    """The constant weights of d max(a, b)/da, as a Tensor of g's dtype: 1 where a > b (or NaN),
    1/2 on a tie, 0 where a < b."""
    dt = g._data.dtype
    shape = broadcast_shapes(a._data.shape, b._data.shape)
    ones = np.ones(int(np.prod(shape, dtype=np.int64)), dt)
    weights = _fill(loops.maximum_backward_a, ones, ew._operand(a._data, dt, shape), ew._operand(b._data, dt, shape))
    return _wrap(weights.reshape(shape))


def maximum(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise maximum, broadcasting; NaN propagates; a tie splits the gradient in half."""
    _check_tensor("maximum", "other", 2, other)
    return _maximum(input, other)


def minimum(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise minimum, broadcasting; NaN propagates; a tie splits the gradient in half."""
    _check_tensor("minimum", "other", 2, other)
    return _minimum(input, other)


def atan2(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise arctangent of ``input / other``, choosing the quadrant."""
    _check_tensor("atan2", "other", 2, other)
    return _atan2(input, other)


# ============================================================================ where
_MISSING = object()
_NO_EDGE = (None, 0)


def _scalar_dtype(value) -> np.dtype:
    return _dtype.scalar_dtype(value)


def _result_dtype(a, b) -> np.dtype:
    """PyTorch's promotion of two where/lerp operands, each a Tensor or a Python number."""
    a_t, b_t = isinstance(a, Tensor), isinstance(b, Tensor)
    if a_t and b_t:
        return _dtype.result_type_tensors(a._data.dtype, a._data.ndim, b._data.dtype, b._data.ndim)
    if a_t:
        return _dtype.result_type_scalar(a._data.dtype, b)
    if b_t:
        return _dtype.result_type_scalar(b._data.dtype, a)
    da, db = _scalar_dtype(a), _scalar_dtype(b)  # two wrapped numbers: the higher category wins
    return _dtype.promote_types(da, db)


def _flat_operand(value, dt, shape) -> np.ndarray:
    if isinstance(value, Tensor):
        return ew._operand(value._data, dt, shape)
    return np.full(int(np.prod(shape, dtype=np.int64)), ew.checked_scalar(dt, value), dt)


def _where_invalid(args) -> TypeError:
    got = ", ".join(type(a).__name__ if not isinstance(a, Tensor) else "Tensor" for a in args)
    return TypeError(
        f"where() received an invalid combination of arguments - got ({got}), but expected one of:\n"
        " * (Tensor condition)\n"
        " * (Tensor condition, Tensor input, Tensor other, *, Tensor out = None)\n"
        " * (Tensor condition, Number self, Tensor other)\n"
        " * (Tensor condition, Tensor input, Number other)\n"
        " * (Tensor condition, Number self, Number other)\n")


def where(condition: Tensor, input=_MISSING, other=_MISSING) -> Tensor:
    """Elements of ``input`` where ``condition`` holds, else of ``other`` (broadcasting; either may be
    a number).  ``where(condition)`` alone is ``nonzero(condition, as_tuple=True)``."""
    if input is _MISSING and other is _MISSING:
        return tuple(_wrap(np.ascontiguousarray(i, dtype=np.int64)) for i in np.nonzero(condition._data))
    if input is _MISSING or other is _MISSING:
        raise _where_invalid([a for a in (condition, input, other) if a is not _MISSING])
    for v in (input, other):
        if not isinstance(v, Tensor) and not ew._is_scalar(v):
            raise _where_invalid((condition, input, other))
    _check_tensor("where", "condition", 1, condition)
    cd = condition._data
    if cd.dtype.kind != "b":
        raise RuntimeError("where expected condition to be a boolean tensor, but got a tensor with dtype "
                           + _type_name(cd.dtype))
    dt = _result_dtype(input, other)
    if dt is _F16 or dt == _F16:
        return _via_float32(lambda a, b: where(condition, a, b), input, other)
    shape = cd.shape
    for v in (input, other):
        if isinstance(v, Tensor) and v._data.shape != shape:
            shape = broadcast_shapes(shape, v._data.shape)
    c = ew._operand(cd, cd.dtype, shape)
    a = _flat_operand(input, dt, shape)
    b = _flat_operand(other, dt, shape)
    out = np.empty(shape, dt)
    ew._fill_into(k.where_forward, c, a, b, out.ravel())
    a_grad = isinstance(input, Tensor) and input._requires_grad
    b_grad = isinstance(other, Tensor) and other._requires_grad
    if _state.enabled and (a_grad or b_grad):
        edges = (edge(input) if isinstance(input, Tensor) else _NO_EDGE,
                 edge(other) if isinstance(other, Tensor) else _NO_EDGE)
        ctx = (shape, input._data.shape if a_grad else None, input._data.dtype if a_grad else None,
               other._data.shape if b_grad else None, other._data.dtype if b_grad else None)
        node = new_node(_WhereNode, edges, (c,), ctx, (registry.saved_version(condition),))
        return result(out, node)
    return result(out, None)


def _branch_grad(g, c, branch, shape, target_shape, target_dtype):
    return ew._finish(_fill(k.where_backward, g, c, branch), shape, target_shape, target_dtype)


def _where_backward(node, grads):
    (c,) = node._saved
    shape, a_shape, a_dtype, b_shape, b_dtype = node._ctx
    g = grads[0].ravel()
    ga = _branch_grad(g, c, True, shape, a_shape, a_dtype) if a_shape is not None else None
    gb = _branch_grad(g, c, False, shape, b_shape, b_dtype) if b_shape is not None else None
    return (ga, gb)


def _where_graph(node, grads):
    (condition,) = saved_tensors(node)
    shape, a_shape, a_dtype, b_shape, b_dtype = node._ctx
    g = grads[0]
    ga = ew._finish_graph(where(condition, g, 0.0), a_shape, a_dtype) if a_shape is not None else None
    gb = ew._finish_graph(where(condition, 0.0, g), b_shape, b_dtype) if b_shape is not None else None
    return (ga, gb)


_WhereNode = define_node("WhereBackward0", _where_backward, _where_graph)


def _tensor_where(self: Tensor, condition: Tensor, other) -> Tensor:
    """``Tensor.where(condition, other)``: ``where(condition, self, other)``."""
    return where(condition, self, other)


# ============================================================================ masked_fill
def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:
    """``value`` where ``mask`` holds, else ``input`` (``value``: a number or a 0-d tensor)."""
    _check_tensor("masked_fill", "mask", 1, mask)
    md = mask._data
    if md.dtype.kind != "b":
        raise RuntimeError("masked_fill_ only supports boolean masks, but got mask with dtype "
                           + _C_TYPE_NAMES.get(md.dtype.name, md.dtype.name))
    value_is_tensor = isinstance(value, Tensor)
    if value_is_tensor:
        if value._data.ndim != 0:
            raise RuntimeError("masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value._data.ndim} dimension(s).")
    elif not ew._is_scalar(value):
        raise TypeError(
            f"masked_fill() received an invalid combination of arguments - got (Tensor, {type(value).__name__}), "
            "but expected one of:\n * (Tensor mask, Tensor value)\n * (Tensor mask, Number value)\n")
    xd = input._data
    dt = xd.dtype
    if dt is _F16:
        if not value_is_tensor:
            ew.checked_scalar(dt, value)  # (before float32 would take 1e5)
        return _via_float32(lambda t, v: masked_fill(t, mask, v), input, value)
    shape = xd.shape if md.shape == xd.shape else broadcast_shapes(xd.shape, md.shape)
    x = ew._operand(xd, dt, shape)
    m = ew._operand(md, md.dtype, shape)
    fill = ew._cast_scalar(dt, value._data[()]) if value_is_tensor else ew.checked_scalar(dt, value)
    out = np.empty(shape, dt)
    ew._fill_into(k.masked_fill_forward, x, m, fill, out.ravel())
    value_grad = value_is_tensor and value._requires_grad
    if _state.enabled and (input._requires_grad or value_grad):
        versions = (registry.saved_version(mask),)
        ctx = (shape, xd.shape, dt, value._data.dtype if value_is_tensor else None)
        if value_is_tensor:
            node = new_node(_MaskedFillTensorNode, (edge(input), edge(value)), (m,), ctx, versions)
        else:
            node = new_node(_MaskedFillNode, (edge(input),), (m,), ctx, versions)
        return result(out, node)
    return result(out, None)


def _masked_fill_backward(node, grads):
    (m,) = node._saved
    shape, x_shape, x_dtype, value_dtype = node._ctx
    g = grads[0].ravel()
    gx = _branch_grad(g, m, False, shape, x_shape, x_dtype)
    if value_dtype is None:
        return (gx,)
    return (gx, np.array(k.masked_sum(g, m), dtype=value_dtype))


def _masked_fill_graph(node, grads):
    (mask,) = saved_tensors(node)
    shape, x_shape, x_dtype, value_dtype = node._ctx
    g = grads[0]
    gx = ew._finish_graph(where(mask, 0.0, g), x_shape, x_dtype)
    if value_dtype is None:
        return (gx,)
    return (gx, ew._finish_graph(where(mask, g, 0.0).sum(), (), value_dtype))


_MaskedFillNode = define_node("MaskedFillBackward0", _masked_fill_backward, _masked_fill_graph)
_MaskedFillTensorNode = define_node("MaskedFillBackward1", _masked_fill_backward, _masked_fill_graph)


# ============================================================================ lerp
def lerp(input: Tensor, end: Tensor, weight) -> Tensor:
    """``input + weight * (end - input)``, broadcasting (``weight``: a number or a tensor)."""
    _check_tensor("lerp", "end", 2, end)
    xd, ed = input._data, end._data
    dt = xd.dtype
    weight_is_tensor = isinstance(weight, Tensor)
    if not weight_is_tensor and not ew._is_scalar(weight):
        raise TypeError(f"lerp(): argument 'weight' (position 3) must be Number or Tensor, not {type(weight).__name__}")
    for what, other in (("end", ed), ("weight", weight._data if weight_is_tensor else None)):
        if other is not None and other.dtype != dt:
            raise RuntimeError(f"expected dtype {_C_TYPE_NAMES[dt.name]} for `{what}` but got dtype "
                               f"{_C_TYPE_NAMES[other.dtype.name]}")
    if dt.kind != "f":
        kernel = "lerp_kernel_tensor" if weight_is_tensor else "lerp_kernel_scalar"
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_type_name(dt)}'")
    if dt is _F16:
        return _via_float32(lambda a, b, w: lerp(a, b, w), input, end, weight)
    shape = xd.shape if ed.shape == xd.shape else broadcast_shapes(xd.shape, ed.shape)
    if weight_is_tensor and weight._data.shape != shape:
        shape = broadcast_shapes(shape, weight._data.shape)
    a = ew._operand(xd, dt, shape)
    b = ew._operand(ed, dt, shape)
    out = np.empty(shape, dt)
    if weight_is_tensor:
        w = ew._operand(weight._data, dt, shape)
        ew._fill_into(k.lerp_forward, a, b, w, out.ravel())
        if registry.needs_grad(input, end, weight):
            node = new_node(_LerpTensorNode, (edge(input), edge(end), edge(weight)), (a, b, w),
                            (shape, xd.shape, ed.shape, weight._data.shape, dt,
                             input._requires_grad, end._requires_grad, weight._requires_grad),
                            (registry.saved_version(input), registry.saved_version(end), registry.saved_version(weight)))
            return result(out, node)
        return result(out, None)
    w = float(weight)
    k.lerp_scalar_forward(a, b, w, out.ravel())
    if registry.needs_grad(input, end):
        node = new_node(_LerpScalarNode, (edge(input), edge(end)), None,
                        (shape, xd.shape, ed.shape, dt, w, input._requires_grad, end._requires_grad))
        return result(out, node)
    return result(out, None)


def _lerp_scalar_backward(node, grads):
    shape, a_shape, b_shape, dt, w, need_a, need_b = node._ctx
    g = grads[0].ravel()
    ga, gb = np.empty(g.size, g.dtype), np.empty(g.size, g.dtype)
    k.lerp_scalar_backward(g, w, ga, gb)
    return (ew._finish(ga, shape, a_shape, dt) if need_a else None,
            ew._finish(gb, shape, b_shape, dt) if need_b else None)


def _lerp_scalar_graph(node, grads):
    shape, a_shape, b_shape, dt, w, need_a, need_b = node._ctx
    g = grads[0]
    return (ew._finish_graph(g * (1 - w), a_shape, dt) if need_a else None,
            ew._finish_graph(g * w, b_shape, dt) if need_b else None)


def _lerp_backward(node, grads):
    a, b, w = node._saved
    shape, a_shape, b_shape, w_shape, dt, need_a, need_b, need_w = node._ctx
    g = grads[0].ravel()
    ga, gb, gw = np.empty(g.size, g.dtype), np.empty(g.size, g.dtype), np.empty(g.size, g.dtype)
    k.lerp_backward(g, a, b, w, ga, gb, gw)
    return (ew._finish(ga, shape, a_shape, dt) if need_a else None,
            ew._finish(gb, shape, b_shape, dt) if need_b else None,
            ew._finish(gw, shape, w_shape, dt) if need_w else None)


def _lerp_graph(node, grads):
    a, b, w = saved_tensors(node)
    shape, a_shape, b_shape, w_shape, dt, need_a, need_b, need_w = node._ctx
    g = grads[0]
    return (ew._finish_graph(g * (1 - w), a_shape, dt) if need_a else None,
            ew._finish_graph(g * w, b_shape, dt) if need_b else None,
            ew._finish_graph(g * (b - a), w_shape, dt) if need_w else None)


_LerpScalarNode = define_node("LerpBackward0", _lerp_scalar_backward, _lerp_scalar_graph)
_LerpTensorNode = define_node("LerpBackward1", _lerp_backward, _lerp_graph)

_masked_fill_inplace = _inplace(masked_fill, "masked_fill_", allow_overlap=True)
_EXPANDED_MASKED_FILL_WARNING = (
    "Use of masked_fill_ on expanded tensors is deprecated. Please clone() the tensor before performing this "
    "operation. This also applies to advanced indexing e.g. tensor[mask] = scalar")


def masked_fill_(input: Tensor, mask: Tensor, value) -> Tensor:
    """In-place version of ``masked_fill`` (on an expanded tensor: PyTorch's deprecation warning,
    then the write through the shared memory)."""
    if not input._data.flags.writeable and has_internal_overlap(input._data):
        warnings.warn(_EXPANDED_MASKED_FILL_WARNING, UserWarning, stacklevel=2)
    return _masked_fill_inplace(input, mask, value)
_lerp_inplace = _inplace(lerp, "lerp_")


def lerp_(input: Tensor, end: Tensor, weight) -> Tensor:
    """In-place version of ``lerp``.  PyTorch checks the output's shape against the broadcast of
    all three operands before it looks at the dtype (an int32 self with a bigger ``end`` is a shape
    error, not a missing kernel)."""
    shape = input._data.shape
    for other in (end, weight):
        if isinstance(other, Tensor) and other._data.shape != shape:
            shape = broadcast_shapes(shape, other._data.shape)
    if shape != input._data.shape:
        raise RuntimeError(f"output with shape {list(input._data.shape)} doesn't match the broadcast shape "
                           f"{list(shape)}")
    return _lerp_inplace(input, end, weight)
atan2_ = _inplace_variant(atan2, "atan2_")


# ============================================================================ the table
def _any(rng, *shapes):
    return [rng.uniform(-2.0, 2.0, s) for s in shapes]


def _away_from(rng, shape, kinks, low=-2.0, high=2.0, gap=0.1):
    """Uniform samples kept at least ``gap`` away from every kink (where the derivative jumps)."""
    x = rng.uniform(low, high, shape)
    for p in kinks:
        x = np.where(np.abs(x - p) < gap, np.where(x >= p, p + 2 * gap, p - 2 * gap), x)
    return x


def _unary_samples(low=-2.0, high=2.0):
    return lambda rng: [((rng.uniform(low, high, s),), {}) for s in ((3, 4), (), (2, 3, 2))]


def _grid_pair(rng, sa, sb):
    """Two operands on interleaved grids, so no pair is ever tied or within 0.2 of a tie."""
    return np.asarray(0.4 * rng.integers(-5, 5, sa) + 0.2), np.asarray(0.4 * rng.integers(-5, 5, sb), np.float64)


_PAIR_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((), (2, 3))]

register(OpInfo("softplus", "SoftplusBackward0", softplus, method=False, samples=lambda rng: [
    ((_any(rng, (3, 4))[0],), {}), ((_away_from(rng, (3, 4), [0.5]),), {"beta": 2, "threshold": 1}),
    ((_any(rng, (5,))[0],), {"beta": 0.5})], notes="samples avoid beta * x == threshold, where softplus turns linear"))
register(OpInfo("gelu", "GeluBackward0", gelu, method=False, samples=lambda rng: [
    ((_any(rng, (3, 4))[0],), {}), ((_any(rng, (3, 4))[0],), {"approximate": "tanh"}), ((_any(rng, ())[0],), {})]))
register(OpInfo("silu", "SiluBackward0", silu, method=False, samples=lambda rng: [
    ((x,), {}) for x in _any(rng, (3, 4), ())]))
register(OpInfo("leaky_relu", "LeakyReluBackward0", leaky_relu, method=False, samples=lambda rng: [
    ((_away_from(rng, (3, 4), [0.0]),), {}), ((_away_from(rng, (5,), [0.0]), 0.2), {}),
    ((_away_from(rng, (5,), [0.0]),), {"negative_slope": -0.3})]))
register(OpInfo("elu", "EluBackward0", elu, method=False, samples=lambda rng: [
    ((_away_from(rng, (3, 4), [0.0]),), {}), ((_away_from(rng, (5,), [0.0]),), {"alpha": 0.7})]))
register(OpInfo("hardtanh", "HardtanhBackward0", hardtanh, method=False, samples=lambda rng: [
    ((_away_from(rng, (3, 4), [-1.0, 1.0]),), {}),
    ((_away_from(rng, (5,), [-0.5, 1.5]),), {"min_val": -0.5, "max_val": 1.5})]))
register(OpInfo("maximum", "MaximumBackward0", maximum, samples=lambda rng: [
    (_grid_pair(rng, sa, sb), {}) for sa, sb in _PAIR_SHAPES], notes="grid samples: never tied"))
register(OpInfo("minimum", "MinimumBackward0", minimum, samples=lambda rng: [
    (_grid_pair(rng, sa, sb), {}) for sa, sb in _PAIR_SHAPES], notes="grid samples: never tied"))
register(OpInfo("atan2", "Atan2Backward0", atan2, aliases=("arctan2",), samples=lambda rng: [
    ((a, ew._away_from_zero(rng, sb)), {}) for sa, sb in _PAIR_SHAPES for a in _any(rng, sa)]))
register(OpInfo("lerp", "LerpBackward0", lerp, nodes=("LerpBackward1",), samples=lambda rng: [
    ((a, b, 0.3), {}) for a, b in [_any(rng, (3, 4), (3, 4)), _any(rng, (3, 4), (4,))]]
    + [((a, b, 0.8), {}) for a, b in [_any(rng, (2, 1, 3), (4, 1))]]
    + [((a, b, w), {}) for a, b, w in [_any(rng, (3, 4), (3, 4), (3, 4)), _any(rng, (3, 1), (4,), (2, 1, 1))]]))
# where / masked_fill take a bool tensor, which the table's samples (float arrays) cannot express:
# tests/test_pointwise_statistics.py checks them (gradcheck, gradgradcheck and against torch).
register(OpInfo("where", "WhereBackward0", where, method=_tensor_where, samples=None))  # self is the x operand
register(OpInfo("masked_fill", "MaskedFillBackward0", masked_fill, nodes=("MaskedFillBackward1",), samples=None))

for _op, _public, _aliases in [(masked_fill_, False, ()), (lerp_, False, ()), (atan2_, False, ("arctan2_",))]:
    register(OpInfo(_op.__name__, "", _op, aliases=_aliases, public=_public, samples=None, differentiable=False))
# nn.functional's in-place activations: in the table for jitgrad.nn.functional, not Tensor methods
for _op in (leaky_relu_, elu_, hardtanh_, silu_):
    register(OpInfo(_op.__name__, "", _op, method=False, public=_op is not silu_, samples=None, differentiable=False))


# ============================================================================ more activations
# celu, selu, mish, hardswish, hardsigmoid, logsigmoid: scalar math (as ``unary_op`` declares it),
# its loops generated by ``unary.unary_kernels``, the op from the one template ``_pointwise``;
# relu6 is hardtanh(0, 6) and softmin softmax(-x), as in PyTorch.  The formulas, their branches at
# the kinks and at NaN, and each node's name are PyTorch's (``derivatives.yaml``, its CPU kernels).
from .unary import unary_kernels  # noqa: E402
from ..kernels import vmath as _vm  # noqa: E402
from ..kernels.loops import scalar as _scalar  # noqa: E402
from collections import namedtuple as _namedtuple  # noqa: E402

_HardConsts = _namedtuple("_HardConsts", "zero half one three six one_sixth")
# one_sixth is PyTorch's ``1.0f / 6.0f`` in every dtype (hardsigmoid's gradient is 0.1666666716... in double)
_HK32, _HK64 = (_HardConsts(t(0.0), t(0.5), t(1.0), t(3.0), t(6.0), t(np.float32(1.0) / np.float32(6.0)))
                for t in (np.float32, np.float64))


@_scalar
def _hk(x):
    """The constants above in x's float type (a Python literal would move float32 math to float64)."""
    return _HK32 if isinstance(x, np.float32) else _HK64


@_scalar
def _inverse_via_float32(alpha):
    # celu's gradients scale by 1.0 / alpha.toFloat() (derivatives.yaml), its forward by 1. / alpha
    if isinstance(alpha, np.float32):
        return np.float32(1.0) / alpha
    return 1.0 / np.float64(np.float32(alpha))


def _celu_vjp(g, x, y, alpha, inv):
    inv_f = _inverse_via_float32(alpha)
    return g * inv_f * alpha * _vm.exp(x * inv_f) if x <= 0 else g


def _celu_result_vjp(g, x, y, alpha, inv):
    return g * _inverse_via_float32(alpha) * (y + alpha) if y <= 0 else g


# ELU family (PyTorch's elu with negcoef = alpha * scale, poscoef = scale, negiptcoef = input_scale):
# celu passes (alpha, 1 / alpha), selu (alpha * scale, scale) -- in the array's dtype
_celu_k = unary_kernels("celu", lambda x, alpha, inv: _vm.expm1(x * inv) * alpha if x <= 0 else x, _celu_vjp,
                        nparams=2)
_celu_result_k = unary_kernels("celu_", lambda x, alpha, inv: _vm.expm1(x * inv) * alpha if x <= 0 else x,
                               _celu_result_vjp, nparams=2)
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_SELU_PARAMS = (_SELU_ALPHA * _SELU_SCALE, _SELU_SCALE)
_selu_k = unary_kernels("selu", lambda x, neg, scale: _vm.expm1(x) * neg if x <= 0 else x * scale,
                        lambda g, x, y, neg, scale: g * neg * _vm.exp(x) if x <= 0 else g * scale, nparams=2)
_selu_result_k = unary_kernels("selu_", lambda x, neg, scale: _vm.expm1(x) * neg if x <= 0 else x * scale,
                               lambda g, x, y, neg, scale: g * (y + neg) if y <= 0 else g * scale, nparams=2)


def _inv_f(alpha):
    return 1.0 / float(np.float32(alpha))


def _celu_result_backward(grad, x, result, alpha, inv, out):
    if alpha < 0:
        raise RuntimeError(
            "In-place elu backward calculation is triggered with a negative slope which is not supported. "
            "This is caused by calling in-place forward function with a negative slope, please call out-of-place "
            "version instead.")
    _celu_result_k[1](grad, x, result, alpha, inv, out)


_celu = _pointwise("celu", "CeluBackward0", *_celu_k, nparams=2, saves="input", cpu_kernel="elu_cpu",
                   graph=lambda g, x, y, alpha, inv: where(x <= 0, g * exp(x * _inv_f(alpha)) * (_inv_f(alpha) * alpha),
                                                           g))
# CeluBackward1 / EluBackward1: the nodes of the in-place celu_ / selu_, which save the result
_celu_saving_result = _pointwise("celu_", "CeluBackward1", _celu_result_k[0], _celu_result_backward, nparams=2,
                                 saves="result", cpu_kernel="elu_cpu",
                                 graph=lambda g, x, y, alpha, inv: where(y <= 0, g * (y + alpha) * _inv_f(alpha), g))
_selu = _pointwise("selu", "EluBackward0", *_selu_k, nparams=2, saves="input", cpu_kernel="elu_cpu",
                   graph=lambda g, x, y, neg, scale: where(x <= 0, g * exp(x) * neg, g * scale))
_selu_saving_result = _pointwise("selu_", "EluBackward1", *_selu_result_k, nparams=2, saves="result",
                                 cpu_kernel="elu_cpu",
                                 graph=lambda g, x, y, neg, scale: where(y <= 0, g * (y + neg), g * scale))
_celu_inplace = _inplace(_celu_saving_result, "celu_")
_selu_inplace = _inplace(_selu_saving_result, "selu_")


def _celu_params(alpha):
    alpha = float(alpha)
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    return alpha, 1.0 / alpha


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))`` (``torch.celu``, ``torch.nn.functional.celu``)."""
    if inplace:
        return celu_(input, alpha)
    return _celu(input, *_celu_params(alpha))


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place ``celu`` (its node saves the result: CeluBackward1)."""
    return _celu_inplace(input, *_celu_params(alpha))


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """``scale * (max(0, x) + min(0, alpha * (exp(x) - 1)))`` with PyTorch's constants (an ELU node)."""
    if inplace:
        return selu_(input)
    return _selu(input, *_SELU_PARAMS)


def selu_(input: Tensor) -> Tensor:
    """In-place ``selu`` (its node saves the result: EluBackward1)."""
    return _selu_inplace(input, *_SELU_PARAMS)


def _mish_vjp(g, x, y):
    t = _vm.tanh(_vm.softplus(x))
    return g * (t + x * _vm.sigmoid(x) * (_hk(x).one - t * t))


def _mish_graph(g, x, y):
    t = tanh(softplus(x))
    return g * (t + x * sigmoid(x) * (1 - t * t))


_mish = _pointwise("mish", "MishBackward0",
                   *unary_kernels("mish", lambda x: x * _vm.tanh(_vm.softplus(x)), _mish_vjp),
                   saves="input", graph=_mish_graph, cpu_kernel="mish_cpu")


def _hardswish_forward(x):
    k = _hk(x)
    t = x + k.three
    t = k.zero if t < k.zero else t  # (NaN stays NaN, as std::max / std::min keep it)
    t = k.six if t > k.six else t
    return x * t / k.six


def _hardswish_vjp(g, x, y):
    # zero at and below -3, the slope x/3 + 1/2 inside, the gradient itself from 3 on and at NaN (as
    # PyTorch's scalar loop and its vectorised one on small tensors; on long ones that gives NaN)
    k = _hk(x)
    if x <= -k.three:
        return k.zero
    return g * (x / k.three + k.half) if x < k.three else g


def _hardsigmoid_forward(x):
    k = _hk(x)
    t = x + k.three
    t = k.zero if t < k.zero else t
    t = k.six if t > k.six else t
    return t / k.six


def _hardsigmoid_vjp(g, x, y):
    k = _hk(x)
    return g * k.one_sixth if (x > -k.three and x < k.three) else k.zero


def _logsigmoid_forward(x):
    # PyTorch's min(x, 0) - log1p(exp(-|x|)): +0. for large x
    return (x if x < _hk(x).zero else _hk(x).zero) - _vm.log1p(_vm.exp(-abs(x)))


_ONE_SIXTH = float(np.float32(1.0) / np.float32(6.0))
_hardswish = _pointwise("hardswish", "HardswishBackward0",
                        *unary_kernels("hardswish", _hardswish_forward, _hardswish_vjp),
                        saves="input", cpu_kernel="hardswish_cpu",
                        graph=lambda g, x, y: where(x <= -3, 0.0, where(x < 3, g * (x / 3 + 0.5), g)))
_hardsigmoid = _pointwise("hardsigmoid", "HardsigmoidBackward0",
                          *unary_kernels("hardsigmoid", _hardsigmoid_forward, _hardsigmoid_vjp),
                          saves="input", cpu_kernel="hardsigmoid_cpu",
                          graph=lambda g, x, y: where((x > -3) & (x < 3), g * _ONE_SIXTH, 0.0))
_logsigmoid = _pointwise("logsigmoid", "LogSigmoidBackward0",
                         *unary_kernels("logsigmoid", _logsigmoid_forward,
                                        lambda g, x, y: g * _vm.sigmoid(-x)),
                         saves="input", cpu_kernel="log_sigmoid_cpu", graph=lambda g, x, y: g * sigmoid(-x))
_mish_inplace = _inplace(_mish, "mish_")
_hardswish_inplace = _inplace(_hardswish, "hardswish_")
_hardsigmoid_inplace = _inplace(_hardsigmoid, "hardsigmoid_")


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * tanh(softplus(x))`` (``torch.nn.functional.mish``)."""
    return _mish_inplace(input) if inplace else _mish(input)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * relu6(x + 3) / 6`` (``torch.nn.functional.hardswish``)."""
    return _hardswish_inplace(input) if inplace else _hardswish(input)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """``relu6(x + 3) / 6`` (``torch.nn.functional.hardsigmoid``)."""
    return _hardsigmoid_inplace(input) if inplace else _hardsigmoid(input)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """``min(max(0, x), 6)``: ``hardtanh(x, 0, 6)``, as PyTorch records it (HardtanhBackward0)."""
    return hardtanh_(input, 0.0, 6.0) if inplace else hardtanh(input, 0.0, 6.0)


def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(x))``, computed stably (``torch.nn.functional.logsigmoid``)."""
    return _logsigmoid(input)


def softmin(input: Tensor, dim=None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """``softmax(-x)`` over ``dim`` (``torch.nn.functional.softmin``)."""
    from .softmax import softmax

    if dim is None:
        warnings.warn("Implicit dimension choice for softmin has been deprecated. Change the call to include "
                      "dim=X as an argument.", stacklevel=_stacklevel)
        dim = 0 if input._data.ndim in (0, 1, 3) else 1
    return softmax(-input, dim, dtype=dtype)


def _samples_away(*kinks, low=-2.0, high=2.0):
    return lambda rng: [((_away_from(rng, s, kinks, low, high),), {}) for s in ((3, 4), (), (2, 3, 2))]


_FUNCTIONAL = {"functional": True}  # torch.nn.functional.<name> only
register(OpInfo("celu", "CeluBackward0", celu, method=False, samples=lambda rng: [
    ((_away_from(rng, (3, 4), [0.0]),), {}), ((_away_from(rng, (5,), [0.0]),), {"alpha": 0.7}),
    ((_away_from(rng, (), [0.0]), 2.0), {})]))
register(OpInfo("selu", "EluBackward0", selu, method=False, samples=_samples_away(0.0)))
register(OpInfo("mish", "MishBackward0", mish, method=False, public=False, extra=_FUNCTIONAL,
                samples=_samples_away(low=-4.0, high=4.0)))
register(OpInfo("hardswish", "HardswishBackward0", hardswish, method=False, public=False, extra=_FUNCTIONAL,
                samples=_samples_away(-3.0, 3.0, low=-4.0, high=4.0)))
register(OpInfo("hardsigmoid", "HardsigmoidBackward0", hardsigmoid, method=False, public=False, extra=_FUNCTIONAL,
                samples=_samples_away(-3.0, 3.0, low=-4.0, high=4.0)))
register(OpInfo("relu6", "HardtanhBackward0", relu6, method=False, public=False, extra=_FUNCTIONAL,
                samples=_samples_away(0.0, 6.0, low=-2.0, high=8.0)))
register(OpInfo("logsigmoid", "LogSigmoidBackward0", logsigmoid, method=False, public=False, extra=_FUNCTIONAL,
                samples=_samples_away(low=-5.0, high=5.0)))
register(OpInfo("softmin", "SoftmaxBackward0", softmin, method=False, public=False, extra=_FUNCTIONAL,
                samples=lambda rng: [((rng.uniform(-2, 2, (6,)), 0), {}), ((rng.uniform(-2, 2, (3, 4)), -1), {}),
                                     ((rng.uniform(-2, 2, (3, 4, 5)), 1), {}),
                                     ((rng.uniform(-2, 2, (2, 5)),), {"dim": 0})],
                notes="the special-value sweep runs on the first sample (1-D): on rows of equal values (1/3 three "
                      "times) jitgrad's softmax backward rounds the dot product unlike PyTorch's, and over a "
                      "non-last dim its forward differs in the last bit (softmax's kernels, kernels/nn.py)"))
for _op in (celu_, selu_):  # torch.celu_ / torch.selu_ and F.celu_ / F.selu_ (no Tensor methods)
    register(OpInfo(_op.__name__, "", _op, method=False, samples=None, differentiable=False))
