"""Elementwise ops: each declared with its forward kernel and the kernels of its gradient.

Binary ops share one template (``_binary``) that solves dtype promotion, broadcasting
and the reduction of each input's gradient back to its shape; an op supplies only its
kernels and, per input, the vector-Jacobian product ``vjp(grad, a, b, result)`` on flat arrays.
Unary ops are declared in ``ops/unary.py``.
"""
import math

import numpy as np

from .. import _dtype
from ..kernels import elementwise as k
from ..kernels import loops, vmath
from ..autograd.filled import FilledGrad as _Filled, filled as _filled, materialize as _materialize
from ..autograd.graph import next_seq
from ..tensor import Tensor, _wrap, edge
from . import registry
from .broadcast import broadcast_shapes, reduce_to_shape
from .registry import OpInfo, define_node, new_node, register, result

_state = registry._state
_float = _dtype._py_float
_int = _dtype._py_int
_bool = _dtype._py_bool


def _empty_like(a: np.ndarray) -> np.ndarray:
    return np.empty(a.shape, a.dtype)


def _is_scalar(value) -> bool:
    cls = value.__class__
    return cls is _float or cls is _int or cls is _bool or isinstance(value, (np.number, np.bool_))


# ============================================================================ binary template
def _one_operand(node) -> bool:
    """``x * x``: both operands are one tensor (and no node hook expects two gradients), so the
    node may send one summed gradient.  The version records hold each operand's Tensor."""
    return not node._hooked and node._versions[0][3] is node._versions[1][3]


def binary_template(name, node_name, *, forward, forward_scalar, vjp_a, vjp_b, vjp_a_scalar=None,
                    true_divide=False, save_inputs=True, save_result=False, graph=None, vjp_same=None,
                    vjp_filled=None, owns_grads=False):
    """Build ``op(a, b)`` for ``a`` a Tensor and ``b`` a Tensor or Python scalar.

    Solves, once for every binary op: dtype promotion, broadcasting, output allocation, and
    reducing each input's gradient back to its shape and dtype.  The op supplies its kernels
    (``forward(a, b, out)``, ``forward_scalar(a, s, out)``) and the vector-Jacobian products
    ``vjp(grad, a, b, result)`` on flat arrays of the broadcast shape (``b`` is the scalar, cast
    to the result dtype, in the tensor-scalar case); :func:`binary_op` makes all of them from
    functions of one element.
    This is the hottest path in jitgrad: it is written flat, without helper calls.
    ``vjp_same(grad, a)``, where given, is the summed gradient when both operands are the same
    tensor (``x * x``): one pass and one array instead of two and the engine's sum.
    ``vjp_filled(node, c, a, b)``, where given, takes a FilledGrad's value ``c`` (a full
    sum's gradient; autograd/filled.py) instead of the written-out gradient, without broadcasting.
    """

    # node._saved: (a, b, result) flat arrays or None; node._ctx: (shape_a, dtype_a, shape_b, dtype_b,
    # out shape, a needs grad, b needs grad, the Python scalar b or None) -- shape_b is None for a scalar b
    def backward(node, grads):
        a, b, y = node._saved or _NOTHING_SAVED
        shape_a, dtype_a, shape_b, dtype_b, shape, need_a, need_b, scalar = node._ctx
        g = grads[0]
        if g.__class__ is _Filled:  # (vjp_filled's ops only: node_cls._filled_ok)
            if shape_b is None or (shape_a == shape and shape_b == shape):
                return vjp_filled(node, g.fill_value, a, b)
            g = _materialize(g)
        g = g.ravel()
        if shape_b is None:  # tensor <op> Python scalar
            ga = vjp_a_scalar(g, a, scalar, y)
            if ga.dtype != dtype_a:
                ga = ga.astype(dtype_a)
            return (ga.reshape(shape_a), None)
        if shape_a == shape and shape_b == shape:  # no broadcasting: the common case
            if vjp_same is not None and need_a and need_b and _one_operand(node):
                ga = vjp_same(g, a).reshape(shape)  # x * x: one tensor, one gradient to send
                return (ga if ga.dtype == dtype_a else ga.astype(dtype_a), None)
            ga = vjp_a(g, a, b, y).reshape(shape) if need_a else None
            gb = vjp_b(g, a, b, y).reshape(shape) if need_b else None
            if ga is not None and ga.dtype != dtype_a:
                ga = ga.astype(dtype_a)
            if gb is not None and gb.dtype != dtype_b:
                gb = gb.astype(dtype_b)
            return (ga, gb)
        if a is not None and a.size != g.size:
            a = _operand(a.reshape(shape_a), a.dtype, shape)
        if b is not None and b.size != g.size:
            b = _operand(b.reshape(shape_b), b.dtype, shape)
        ga = _finish(vjp_a(g, a, b, y), shape, shape_a, dtype_a) if need_a else None
        gb = _finish(vjp_b(g, a, b, y), shape, shape_b, dtype_b) if need_b else None
        return (ga, gb)

    def double_backward(node, grads):
        # ``graph(g, a, b, y, scalar) -> (ga, gb)`` on Tensors, then the same reduction to each
        # input's shape and dtype as the fast path
        shape_a, dtype_a, shape_b, dtype_b, shape, need_a, need_b, scalar = node._ctx
        g = grads[0]
        if shape_b is None:
            ga, _ = graph(g, None, None, None, scalar)
            return (_finish_graph(ga, shape_a, dtype_a), None)
        saved = registry.saved_tensors(node) if save_inputs else (None, None, None)
        a, b = saved[0], saved[1]
        y = saved[2] if save_result else None
        ga, gb = graph(g, a, b, y, None)
        return (_finish_graph(ga, shape_a, dtype_a) if need_a else None,
                _finish_graph(gb, shape_b, dtype_b) if need_b else None)

    # owns_grads: every array backward returns is new (no vjp hands on the incoming gradient)
    node_cls = define_node(node_name, backward, double_backward if graph is not None else None, owns_grads=owns_grads)
    node_cls._filled_ok = vjp_filled is not None
    new_tensor = Tensor.__new__
    new_node_obj = object.__new__
    default_float = _dtype.get_default_dtype
    state = _state

    def op(a, b):
        ad = a._data
        if b.__class__ is Tensor or isinstance(b, Tensor):  # (subclasses: nn.Parameter)
            bd = b._data
            dt = ad.dtype
            if bd.dtype != dt:
                dt = _dtype.result_type_tensors(dt, ad.ndim, bd.dtype, bd.ndim)
            if true_divide and dt.kind != "f":
                dt = default_float().np
            if dt is _F16:
                return _via_float32(op, a, b)
            shape = ad.shape
            if bd.shape == shape:
                xa = ad.ravel() if ad.dtype == dt else ad.astype(dt).ravel()
                xb = bd.ravel() if bd.dtype == dt else bd.astype(dt).ravel()
            else:
                shape = broadcast_shapes(shape, bd.shape)
                xa = _operand(ad, dt, shape)
                xb = _operand(bd, dt, shape)
            out = np.empty(shape, dt)
            (forward if out.size < _PARALLEL_THRESHOLD else _PARALLEL.get(forward, forward))(xa, xb, out.ravel())
            # registry.result/new_node, inlined: one call less per op is ~70 ns, 5% of a small op
            # (ops/unary.py's template does the same; both are the hottest paths in jitgrad)
            t = new_tensor(Tensor)
            t._data = out
            t._vc = [0]
            t._output_nr = 0
            if state.enabled and (a._requires_grad or b._requires_grad):
                node = new_node_obj(node_cls)
                node.next_functions = (edge(a), edge(b))
                node._seq = next_seq()  # after edge(): a leaf's AccumulateGrad is created first
                if save_inputs:
                    node._saved = (xa, xb, out.ravel() if save_result else None)
                    node._versions = ((a._vc, a._vc[0], ad, a), (b._vc, b._vc[0], bd, b))
                    if save_result:
                        node._versions += ((t._vc, 0, out, 0),)
                else:  # nothing saved: like PyTorch, such a node may run backward again
                    node._saved = None
                    node._versions = ()
                node._ctx = (ad.shape, ad.dtype, bd.shape, bd.dtype, shape, a._requires_grad, b._requires_grad, None)
                t._requires_grad = True
                t.grad_fn = node
            else:
                t._requires_grad = False
                t.grad_fn = None
            return t
        if not _is_scalar(b):
            return op(a, _to_tensor(name, b))
        # tensor <op> Python scalar: computed in the tensor's precision, as PyTorch does
        dt = ad.dtype
        cls = b.__class__
        if dt.kind != "f" and (cls is _float or isinstance(b, np.floating)):
            dt = default_float().np
        elif dt.kind == "b" and cls is not _bool:
            dt = np.dtype(np.int64)
        if true_divide and dt.kind != "f":
            dt = default_float().np
        if dt is _F16:
            return _via_float32(op, a, b)
        x = ad.ravel() if ad.dtype == dt else ad.astype(dt).ravel()
        s = _cast_scalar(dt, b)
        out = np.empty(ad.shape, dt)
        (forward_scalar if out.size < _PARALLEL_THRESHOLD else _PARALLEL.get(forward_scalar, forward_scalar))(
            x, s, out.ravel())
        t = new_tensor(Tensor)  # (registry.result/new_node inlined, as above)
        t._data = out
        t._vc = [0]
        t._output_nr = 0
        if state.enabled and a._requires_grad:
            node = new_node_obj(node_cls)
            node.next_functions = (edge(a), _NO_EDGE)
            node._seq = next_seq()
            # PyTorch saves a scalar operand of mul/div as a (freeable) tensor, but none for add/sub
            node._saved = _NOTHING_SAVED if save_inputs else None
            node._versions = ()
            node._ctx = (ad.shape, ad.dtype, None, None, ad.shape, True, False, s)
            t._requires_grad = True
            t.grad_fn = node
        else:
            t._requires_grad = False
            t.grad_fn = None
        return t

    op.__name__ = name
    op.node_cls = node_cls
    return op


_NO_EDGE = (None, 0)
_NOTHING_SAVED = (None, None, None)


_F16 = np.dtype(np.float16)
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)


def _via_float32(fn, *args):
    """float16 ops compute in float32 and round the result back, as PyTorch's CPU kernels do
    (Numba has no float16 arithmetic).  The casts are recorded, so gradients flow in float16."""
    from .conversion import to_dtype

    args = [to_dtype(a, _F32) if isinstance(a, Tensor) and a._data.dtype == _F16 else a for a in args]
    return to_dtype(fn(*args), _F16)


def _cast_scalar(dt, value):
    """The Python scalar in the tensor's dtype; integers wrap like PyTorch's (uint8 * -2)."""
    try:
        return dt.type(value)
    except OverflowError:
        if isinstance(value, int):  # PyTorch reads a Python int as int64, else as uint64
            if not _INT64_MIN <= value < _UINT64_END:
                raise scalar_overflow(value) from None
            return np.array(value & 0xFFFFFFFFFFFFFFFF, np.uint64).astype(dt)[()]
        return np.array(value).astype(dt)[()]


# PyTorch's C type names, in "value cannot be converted to type int8_t without overflow"
_C_TYPE_NAMES = {"int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "int32": "int", "int64": "int64_t",
                 "float16": "c10::Half", "float32": "float", "float64": "double"}


_INT64_MIN, _UINT64_END = -(1 << 63), 1 << 64


def scalar_overflow(value: int) -> OverflowError:
    """PyTorch's error for a Python int no Scalar holds (outside [-2**63, 2**64))."""
    return OverflowError("int too big to convert" if value > 0 else "can't convert negative int to unsigned")


def checked_scalar(dt, value):
    """A Python number in dtype ``dt`` with PyTorch's overflow check (fill values, clamp bounds,
    integer pow exponents): a RuntimeError where it does not fit, where ``_cast_scalar`` would wrap
    (int8 1000 -> -24).  Like c10's ``checked_convert``, an unsigned type also takes a negative
    integer whose magnitude fits (uint8 -1 -> 255); a float goes to an integer type truncated, and
    NaN or inf never does; a float type takes inf and NaN but no finite value beyond its range.
    Before that, PyTorch's Scalar parsing: a Python int outside [-2**63, 2**64) is its
    OverflowError; a complex value is refused unless its imaginary part is 0 (``fill_(1j)``)."""
    cls = value.__class__
    if cls is int and not _INT64_MIN <= value < _UINT64_END:
        raise scalar_overflow(value)
    if cls is complex or isinstance(value, np.complexfloating):
        if dt.kind == "b":
            return dt.type(value != 0)
        if value.imag != 0:
            raise RuntimeError(f"value cannot be converted to type {_C_TYPE_NAMES[dt.name]} without overflow")
        value = value.real
    kind = dt.kind
    if kind in "iu":
        info = np.iinfo(dt)
        low = -int(info.max) if kind == "u" else int(info.min)
        if value.__class__ is _float or isinstance(value, np.floating):
            fits = math.isfinite(value) and low <= value <= info.max
        else:
            value = int(value)
            fits = low <= value <= info.max
        if fits:
            return _cast_scalar(dt, int(value))
    elif kind == "f":
        try:
            value = float(value)
        except OverflowError:  # a Python int beyond any float
            value = None
        if value is not None and (math.fabs(value) <= _FLOAT_MAX[dt.itemsize] or not math.isfinite(value)):
            return dt.type(value)
    else:
        return dt.type(value)
    raise RuntimeError(f"value cannot be converted to type {_C_TYPE_NAMES[dt.name]} without overflow")


def fill_scalar(dt, value):
    """``checked_scalar`` for PyTorch's fills (``fill_``, ``full``, ``x[k] = v``), which store a
    float16 value through float without the range check: 1e5 or 1e39 becomes inf there."""
    if dt is not _F16:
        return checked_scalar(dt, value)
    value = checked_scalar(_F64, value)  # (the Scalar checks: ints past 64 bits, complex)
    with np.errstate(over="ignore"):
        return _F16.type(value)


_FLOAT_MAX = {2: float(np.finfo(np.float16).max), 4: float(np.finfo(np.float32).max), 8: float(np.finfo(np.float64).max)}


def _to_tensor(name, value):
    if isinstance(value, (list, tuple, np.ndarray)) and not any(isinstance(v, str) for v in np.ravel(value)):
        from ..factories import tensor as _tensor

        return _tensor(value)
    if isinstance(value, (complex, np.complexfloating)):  # PyTorch would compute in a complex dtype
        from ..factories import _complex_error

        raise _complex_error(value)
    raise TypeError(f"unsupported operand type(s) for {name}: 'Tensor' and '{type(value).__name__}'")


def _operand(arr: np.ndarray, dt: np.dtype, shape: tuple) -> np.ndarray:
    """``arr`` as a flat C array of dtype ``dt`` and broadcast to ``shape`` (copies only if needed)."""
    if arr.dtype != dt:
        arr = arr.astype(dt)
    if arr.shape != shape:
        arr = np.broadcast_to(arr, shape)
    return arr.ravel()


def _finish(g: np.ndarray, shape: tuple, target_shape: tuple, target_dtype) -> np.ndarray:
    """Reshape a flat gradient, sum it back to the input's shape and cast to its dtype."""
    g = g.reshape(shape)
    if shape != target_shape:
        g = reduce_to_shape(g, target_shape)
    if g.dtype != target_dtype:
        g = g.astype(target_dtype)
    return g


def _finish_graph(g: Tensor, shape, dtype) -> Tensor:
    g = registry.sum_to(g, shape)
    return g if g._data.dtype == dtype else g.to(_dtype.from_numpy_dtype(dtype))


def _safe_log(a: Tensor) -> Tensor:
    # log(a) with log(0) replaced by 0 (a+1 where a == 0): the exponent's gradient of a**b is
    # defined as 0 at a == 0, as in PyTorch
    return (a + (a == 0)).log()


# Large arrays use a kernel's parallel twin (kernels.elementwise.PARALLEL); below the threshold
# the serial kernel wins, since a parallel launch costs microseconds.
_PARALLEL = getattr(k, "PARALLEL", {})
_PARALLEL_THRESHOLD = getattr(k, "PARALLEL_THRESHOLD", 1 << 62)


def _fill(kernel, g, *args):
    """A fresh flat array written by ``kernel(g, *args, out)``."""
    out = np.empty(g.size, g.dtype)
    (kernel if g.size < _PARALLEL_THRESHOLD else _PARALLEL.get(kernel, kernel))(g, *args, out)
    return out


def _fill_into(kernel, x, *args):
    """``kernel(x, *args, out)`` on a preallocated flat ``out`` (the last argument), parallel when large."""
    (kernel if x.size < _PARALLEL_THRESHOLD else _PARALLEL.get(kernel, kernel))(x, *args)


def _neg(g):
    return _fill(k.neg_forward, g)


# ============================================================================ binary declarations
#: a vjp that is the incoming gradient itself (d(a+b)/da), or its negation: no kernel, no copy
GRAD = "grad"
NEG_GRAD = "-grad"


def _array_vjp(name, vjp, saves_inputs, saves_result):
    """The array-level vjp ``(g, a, b, y) -> array`` for a binary op's declared ``vjp``: GRAD /
    NEG_GRAD, or a (``loops.scalar``) function of one element ``(g, a, b, y)`` compiled into a loop."""
    if vjp == GRAD:
        return lambda g, a, b, y: g
    if vjp == NEG_GRAD:
        return lambda g, a, b, y: _neg(g)
    read = loops.reads(vjp)
    if ("a" in read or "b" in read) and not saves_inputs or "y" in read and not saves_result:
        raise ValueError(f"{name}: the vjp reads what the op does not save")
    kernel = loops.instantiate(loops.BINARY_VJP[read], name, df=vjp)
    return _VJP_CALLS[read](kernel)


# the array-level call of a vjp loop, per what it reads (no per-call argument selection)
_VJP_CALLS = {
    "": lambda k: lambda g, a, b, y: _fill(k, g),
    "a": lambda k: lambda g, a, b, y: _fill(k, g, a),
    "b": lambda k: lambda g, a, b, y: _fill(k, g, b),
    "ab": lambda k: lambda g, a, b, y: _fill(k, g, a, b),
    "y": lambda k: lambda g, a, b, y: _fill(k, g, y),
    "ay": lambda k: lambda g, a, b, y: _fill(k, g, a, y),
    "by": lambda k: lambda g, a, b, y: _fill(k, g, b, y),
    "aby": lambda k: lambda g, a, b, y: _fill(k, g, a, b, y),
}


def binary_op(name, node_name, *, forward, vjp_a, vjp_b, vjp_a_scalar=None, scalar_forward=True, saves="inputs",
              graph=None, **options):
    """Declare a binary elementwise op from functions of one element: ``forward(a, b)``, and the
    vjps ``vjp_a(g, a, b, y)`` / ``vjp_b(g, a, b, y)`` (``y`` the result; or GRAD / NEG_GRAD).
    ``saves``: "inputs", "inputs+result" or "nothing" (then a vjp may read only ``g``).  With a
    Python scalar ``b`` the forward runs as ``forward(a, s)`` and the gradient is
    ``vjp_a_scalar(g, s)`` (default: ``vjp_a`` with ``b = s``, reading only ``g`` and ``s``).
    The loops (serial and parallel) come from ``kernels/loops.py``; ``options`` go to
    :func:`binary_template` (``true_divide``, ``vjp_same``, ``vjp_filled``).  Returns ``op(a, b)``."""
    saves_inputs, saves_result = saves != "nothing", saves == "inputs+result"
    f = loops.scalar(forward)
    vjp_a, vjp_b = (v if v in (GRAD, NEG_GRAD) else loops.scalar(v) for v in (vjp_a, vjp_b))
    registry.SCALAR_DEFS[name] = registry.ScalarDef(name, f, (vjp_a, vjp_b), saves)
    fwd = loops.instantiate(loops.binary, f"{name}_forward", f=f)
    fwd_scalar = loops.instantiate(loops.binary_scalar, f"{name}_scalar_forward", f=f) if scalar_forward else None
    if vjp_a_scalar is None and scalar_forward:
        vjp_a_scalar = vjp_a
    if vjp_a_scalar in (GRAD, NEG_GRAD):
        scalar_vjp = _array_vjp(None, vjp_a_scalar, False, False)
    elif vjp_a_scalar is not None:
        vjp_a_scalar = loops.scalar(vjp_a_scalar)
        if loops.reads(vjp_a_scalar) not in ("", "b"):
            raise ValueError(f"{name}: with a scalar operand the vjp may read only g and the scalar")
        kernel = loops.instantiate(loops.binary_vjp_scalar, f"{name}_scalar_backward", df=vjp_a_scalar)
        scalar_vjp = lambda g, a, s, y: _fill(kernel, g, s)  # noqa: E731
    else:
        scalar_vjp = None
    fresh = not {GRAD}.intersection({vjp_a, vjp_b, vjp_a_scalar} - {None})  # (a GRAD vjp hands on g itself)
    return binary_template(
        name, node_name, forward=fwd, forward_scalar=fwd_scalar, owns_grads=fresh,
        vjp_a=_array_vjp(f"{name}_backward_a", vjp_a, saves_inputs, saves_result),
        vjp_b=_array_vjp(f"{name}_backward_b", vjp_b, saves_inputs, saves_result), vjp_a_scalar=scalar_vjp,
        save_inputs=saves_inputs, save_result=saves_result, graph=graph, **options)


# Each op: ``graph``, the vjps on Tensors for create_graph=True: graph(g, a, b, result, scalar) -> (ga, gb).
def _filled_pair(node, ca, cb):
    """Filled gradients ``(ca, cb)`` for the inputs that need one, in each input's shape and dtype."""
    shape_a, dtype_a, shape_b, dtype_b, _, need_a, need_b, _ = node._ctx
    if shape_b is None:
        return (_filled(ca, shape_a, dtype_a), None)
    return (_filled(ca, shape_a, dtype_a) if need_a else None, _filled(cb, shape_b, dtype_b) if need_b else None)


def _mul_filled(node, c, a, b):
    # g = c everywhere: g*b is b*c (one read instead of two); g*s is a filled c*s
    shape_a, dtype_a, shape_b, dtype_b, shape, need_a, need_b, scalar = node._ctx
    if shape_b is None:
        return _filled_pair(node, c * scalar, None)
    if need_a and need_b and _one_operand(node):
        ga = _fill(k.mul_scalar_forward, a, c * 2).reshape(shape)  # x * x (2*c exact)
        return (ga if ga.dtype == dtype_a else ga.astype(dtype_a), None)
    ga = _fill(k.mul_scalar_forward, b, c).reshape(shape) if need_a else None
    gb = _fill(k.mul_scalar_forward, a, c).reshape(shape) if need_b else None
    return (ga if ga is None or ga.dtype == dtype_a else ga.astype(dtype_a),
            gb if gb is None or gb.dtype == dtype_b else gb.astype(dtype_b))


_add = binary_op("add", "AddBackward0", forward=lambda a, b: a + b, vjp_a=GRAD, vjp_b=GRAD, saves="nothing",
                 graph=lambda g, a, b, y, s: (g, g), vjp_filled=lambda node, c, a, b: _filled_pair(node, c, c))
_sub = binary_op("sub", "SubBackward0", forward=lambda a, b: a - b, vjp_a=GRAD, vjp_b=NEG_GRAD, saves="nothing",
                 graph=lambda g, a, b, y, s: (g, -g), vjp_filled=lambda node, c, a, b: _filled_pair(node, c, -c))
_mul_op = binary_op("mul", "MulBackward0", forward=lambda a, b: a * b,
                    vjp_a=lambda g, a, b, y: g * b, vjp_b=lambda g, a, b, y: g * a,
                    graph=lambda g, a, b, y, s: (g * s, None) if s is not None else (g * b, g * a),
                    vjp_same=lambda g, a: _fill(k.mul_backward_square, g, a), vjp_filled=_mul_filled)
# d(a/b)/db = -(a / b) / b, in PyTorch's order: b * b would overflow first (a = inf, b = 1e308)
_div_op = binary_op("div", "DivBackward0", forward=lambda a, b: a / b,
                    vjp_a=lambda g, a, b, y: g / b, vjp_b=lambda g, a, b, y: -g * (a / b / b), true_divide=True,
                    graph=lambda g, a, b, y, s: (g / s, None) if s is not None else (g / b, -g * a / (b * b)))
# d(a^b)/da = b a^(b-1), an exact zero where b == 0; d(a^b)/db = a^b log(a), defined as 0 where
# a == 0 and b >= 0 (only: 0 ** -1 gives -inf and 0 ** nan nan), as PyTorch's pow_backward.
# (A scalar exponent is ``_pow_scalar``'s PowBackward0, not this node.)
_pow_op = binary_op("pow", "PowBackward1", forward=lambda a, b: a ** b,
                    vjp_a=lambda g, a, b, y: 0 if b == 0 else g * b * a ** (b - 1),
                    vjp_b=lambda g, a, b, y: 0 if (a == 0 and b >= 0) else g * y * vmath.log(a),
                    scalar_forward=False, saves="inputs+result",
                    graph=lambda g, a, b, y, s: (g * b * a ** (b - 1), g * y * _safe_log(a)))
# PyTorch's rsub(input, other) for two tensors: other - input (RsubBackward0)
_rsub_op = binary_op("rsub", "RsubBackward0", forward=lambda a, b: b - a, vjp_a=NEG_GRAD, vjp_b=GRAD,
                     scalar_forward=False, saves="nothing", graph=lambda g, a, b, y, s: (-g, g))


def _check_alpha(input, other, alpha):
    """PyTorch converts ``alpha`` to the result's dtype with its overflow check (int8 alpha=1000
    raises instead of wrapping); an integer result takes no float alpha."""
    dt = input._data.dtype
    if isinstance(other, Tensor):
        dt = _dtype.result_type_tensors(dt, input._data.ndim, other._data.dtype, other._data.ndim)
    elif _is_scalar(other):
        dt = _dtype.result_type_scalar(dt, other)
    if dt.kind != "b" and isinstance(alpha, (bool, np.bool_)):
        raise RuntimeError("Boolean alpha only supported for Boolean results.")
    if dt.kind in "iub":
        if isinstance(alpha, (float, np.floating)):
            raise RuntimeError("For integral input tensors, argument alpha must not be a floating point number.")
        if dt.kind == "b":
            return bool(alpha)  # a bool result takes alpha as a bool: a + 2 * b is a | b
        checked_scalar(dt, alpha)
    return alpha


def _times_alpha(other, alpha):
    """``other * alpha``; a Python bool times a bool alpha stays a bool (``True * False`` is the
    int 0, which would promote a bool result to int64)."""
    if alpha.__class__ is bool and isinstance(other, (bool, np.bool_)):
        return bool(other) and alpha
    return other * alpha


def _alpha(b, alpha):
    if alpha == 1:
        return b
    return b * alpha


def add(input, other, *, alpha=1) -> Tensor:
    """``input + alpha * other``, broadcasting."""
    if not isinstance(input, Tensor):
        input, other = other, input  # jitgrad.add(2, x)
    if alpha != 1 or alpha.__class__ is bool:
        alpha = _check_alpha(input, other, alpha)
        if alpha is not True:
            other = _times_alpha(other, alpha)
    return _add(input, other)


def _is_bool_operand(v) -> bool:
    """A bool tensor or a bool scalar (PyTorch wraps ``True`` as a bool tensor, so ``x - True``
    on a bool ``x`` is its "two bool tensors" error, and ``int_x - True`` is refused too)."""
    if isinstance(v, Tensor):
        return v._data.dtype.kind == "b"
    return isinstance(v, (bool, np.bool_))


def _check_bool_sub(a, b):
    a_bool = _is_bool_operand(a)
    b_bool = _is_bool_operand(b)
    if a_bool and b_bool:
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. "
                           "Use the `^` or `logical_xor()` operator instead.")
    if a_bool or b_bool:
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.")


def sub(input, other, *, alpha=1) -> Tensor:
    """``input - alpha * other``, broadcasting."""
    if not isinstance(input, Tensor):
        return rsub(other, input, alpha=alpha)
    if input._data.dtype.kind == "b" or _is_bool_operand(other):
        _check_bool_sub(input, other)
    if alpha != 1 or alpha.__class__ is bool:
        _check_alpha(input, other, alpha)
        other = other * alpha
    return _sub(input, other)


def rsub(input, other, *, alpha=1) -> Tensor:
    """``other - alpha * input`` (PyTorch's ``rsub``)."""
    _check_bool_sub(input, other)
    if alpha != 1:
        input = input * alpha
    if isinstance(other, Tensor):
        return _rsub_op(input, other)
    return _rsub_scalar(input, other)


_RsubNode = define_node("RsubBackward1", lambda node, grads: (_neg(grads[0].ravel()).reshape(grads[0].shape),),
                        lambda node, grads: (-grads[0],), owns_grads=True)


def _rsub_scalar(a: Tensor, s) -> Tensor:
    ad = a._data
    dt = _dtype.result_type_scalar(ad.dtype, s)
    if dt is _F16:
        return _via_float32(lambda t: _rsub_scalar(t, s), a)
    x = ad.ravel() if ad.dtype == dt else ad.astype(dt).ravel()
    out = np.empty(ad.shape, dt)
    k.rsub_scalar_forward(x, _cast_scalar(dt, s), out.ravel())
    node = new_node(_RsubNode, (edge(a),)) if (_state.enabled and a._requires_grad) else None
    return result(out, node)


def mul(input, other) -> Tensor:
    """Elementwise product, broadcasting."""
    if not isinstance(input, Tensor):
        input, other = other, input
    return _mul_op(input, other)


def div(input, other, *, rounding_mode=None) -> Tensor:
    """Elementwise true division (``rounding_mode`` 'trunc'/'floor' are not differentiable)."""
    if not isinstance(input, Tensor):
        from ..factories import tensor as _tensor

        input = _tensor(input)
    if rounding_mode is not None:
        from .comparison import rounded_div

        return rounded_div(input, other, rounding_mode)
    return _div_op(input, other)


def _rdiv(self, other) -> Tensor:
    # other / self, as PyTorch spells it: reciprocal(self) * other -> MulBackward0
    return self.reciprocal() * other


def pow(input, exponent) -> Tensor:  # noqa: A001 - PyTorch's name
    """``input ** exponent`` for a tensor or scalar exponent (and a scalar base)."""
    if not isinstance(input, Tensor):
        return _rpow(input, exponent)
    if not isinstance(exponent, Tensor) and _is_scalar(exponent):
        return _pow_scalar(input, exponent)
    if input._data.dtype.kind == "b" and isinstance(exponent, Tensor) and exponent._data.dtype.kind == "b":
        raise NotImplementedError(_POW_BOOL)
    return _pow_op(input, exponent)


# PyTorch has no bool pow kernel: bool ** bool tensors (or True ** a bool tensor) is refused
# (a bool tensor ** a bool *scalar* is computed: that path keeps the tensor's dtype).
_POW_BOOL = "\"pow\" not implemented for 'Bool'"


def _pow_scalar(a: Tensor, p) -> Tensor:
    # tensor ** scalar (PowBackward0).  Same shape as _rpow (scalar ** tensor) below, kept apart:
    # the dtype rules (integer powers, overflow checks, the exact x*x), what is saved (the input
    # here, the result there) and the node differ.
    if p.__class__ is int and not _INT64_MIN <= p < _UINT64_END:
        raise scalar_overflow(p)  # PyTorch's Scalar parsing (a float base would take it silently)
    ad = a._data
    if ad.dtype.kind in "iu" and isinstance(p, (int, np.integer)) and p < 0:
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    dt = _dtype.result_type_scalar(ad.dtype, p)
    if dt is _F16:
        return _via_float32(lambda t: _pow_scalar(t, p), a)
    x = ad.ravel() if ad.dtype == dt else ad.astype(dt).ravel()
    if dt.kind in "iu":  # an integer exponent must fit int64, then the tensor's type (a float one need not)
        checked_scalar(np.dtype(np.int64), p)
        p = checked_scalar(dt, p)
    else:
        p = dt.type(p)
    out = np.empty(ad.shape, dt)
    if dt.kind != "f":
        k.pow_scalar_forward(x, p, out.ravel())
    elif p == 2:
        k.mul_forward(x, x, out.ravel())  # x*x is exact where a**2.0 may call pow()
    else:
        _fill_into(k.pow_float_scalar_forward, x, p, out.ravel())
    if _state.enabled and a._requires_grad:
        node = new_node(_PowScalarNode, (edge(a),), (x,), (ad.shape, p), (registry.saved_version(a),))
        return result(out, node)
    return result(out, None)


def _pow_scalar_backward(node, grads):
    (x,) = node._saved
    shape, p = node._ctx
    return (_fill(k.pow_scalar_backward, grads[0].ravel(), x, p).reshape(shape),)


def _pow_scalar_graph(node, grads):
    (x,) = registry.saved_tensors(node)
    p = node._ctx[1]
    if p == 0:
        return (grads[0] * 0,)
    return (grads[0] * p * x ** (p - 1),)


_PowScalarNode = define_node("PowBackward0", _pow_scalar_backward, _pow_scalar_graph, owns_grads=True)


def _rpow(base, exponent: Tensor) -> Tensor:
    # scalar ** tensor (PowBackward2); same shape as _pow_scalar above (see there why apart)
    if not isinstance(exponent, Tensor):
        raise TypeError("pow() needs at least one Tensor argument")
    ed = exponent._data
    dt = _dtype.result_type_scalar(ed.dtype, base)
    if dt.kind == "b":
        raise NotImplementedError(_POW_BOOL)
    if dt is _F16:
        return _via_float32(lambda t: _rpow(base, t), exponent)
    x = ed.ravel() if ed.dtype == dt else ed.astype(dt).ravel()
    s = dt.type(base)
    out = np.empty(ed.shape, dt)
    k.rpow_scalar_forward(s, x, out.ravel())
    if _state.enabled and exponent._requires_grad:
        log_s = dt.type(math.log(base)) if base > 0 else (dt.type(-np.inf) if base == 0 else dt.type(np.nan))
        t = result(out, None)
        t.grad_fn = new_node(_RpowNode, (edge(exponent),), (out.ravel(),), (ed.shape, log_s), ((t._vc, 0, out, 0),))
        t._requires_grad = True
        return t
    return result(out, None)


def _rpow_backward(node, grads):
    (y,) = node._saved
    shape, log_s = node._ctx
    return (_fill(k.rpow_scalar_backward, grads[0].ravel(), y, log_s).reshape(shape),)


def _rpow_graph(node, grads):
    (y,) = registry.saved_tensors(node)
    return (grads[0] * y * node._ctx[1],)


_RpowNode = define_node("PowBackward2", _rpow_backward, _rpow_graph, owns_grads=True)


# ============================================================================ neg, clamp
# (the other unary ops are declared in ops/unary.py)
_NegNode = define_node("NegBackward0", lambda node, grads: (_neg(grads[0].ravel()).reshape(grads[0].shape),),
                       lambda node, grads: (-grads[0],), owns_grads=True)


def neg(input: Tensor) -> Tensor:
    """Elementwise negation."""
    xd = input._data
    if xd.dtype.kind == "b":
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.")
    if xd.dtype is _F16:
        return _via_float32(neg, input)
    out = np.empty(xd.shape, xd.dtype)
    k.neg_forward(xd.ravel(), out.ravel())
    node = new_node(_NegNode, (edge(input),)) if (_state.enabled and input._requires_grad) else None
    return result(out, node)


def clamp(input: Tensor, min=None, max=None) -> Tensor:  # noqa: A002
    """Clamp every element into ``[min, max]`` (scalar or tensor bounds)."""
    return _clamp(input, min, max, _ClampNode)


def clamp_min(input: Tensor, min) -> Tensor:  # noqa: A002
    """``max(input, min)`` elementwise."""
    return _clamp(input, min, None, _ClampMinNode)


def clamp_max(input: Tensor, max) -> Tensor:  # noqa: A002
    """``min(input, max)`` elementwise."""
    return _clamp(input, None, max, _ClampMaxNode)


def _clamp(input: Tensor, min, max, node_cls) -> Tensor:  # noqa: A002
    for bound in (min, max):
        if bound is not None and not isinstance(bound, (Tensor, int, float, np.number)):
            raise TypeError(f"clamp(): argument 'min' must be Number or Tensor, not {type(bound).__name__}")
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        from . import comparison

        return comparison.clamp_tensor(input, min, max)
    xd = input._data
    dt = xd.dtype
    if (isinstance(min, float) or isinstance(max, float)) and dt.kind != "f":
        dt = _dtype.get_default_dtype().np
    elif dt.kind == "b":
        dt = np.dtype(np.int64)  # PyTorch promotes a bool tensor clamped by ints
    if dt is _F16:
        for bound in (min, max):
            if bound is not None:
                checked_scalar(dt, bound)  # (before float32 would take 1e5)
        return _via_float32(lambda t: _clamp(t, min, max, node_cls), input)
    if xd.dtype != dt:
        xd = xd.astype(dt)
    if dt.kind == "f":
        low = dt.type(-np.inf) if min is None else checked_scalar(dt, min)
        high = dt.type(np.inf) if max is None else checked_scalar(dt, max)
    else:
        info = np.iinfo(dt)
        low = dt.type(info.min) if min is None else checked_scalar(dt, min)
        high = dt.type(info.max) if max is None else checked_scalar(dt, max)
    x = xd.ravel()
    out = np.empty(xd.shape, dt)
    _fill_into(k.clamp_forward, x, low, high, out.ravel())
    if low != low or high != high:  # a NaN bound: PyTorch's min/max propagate it to every element
        out.fill(np.nan)
    if _state.enabled and input._requires_grad:
        node = new_node(node_cls, (edge(input),), (x,), (xd.shape, low, high), (registry.saved_version(input),))
        return result(out, node)
    return result(out, None)


def _clamp_backward(node, grads):
    (x,) = node._saved
    shape, low, high = node._ctx
    return (_fill(k.clamp_backward, grads[0].ravel(), x, low, high).reshape(shape),)


def _clamp_graph(node, grads):
    (x,) = registry.saved_tensors(node)
    _, low, high = node._ctx
    return (grads[0] * ((x >= low) & (x <= high)),)


_ClampNode = define_node("ClampBackward1", _clamp_backward, _clamp_graph, owns_grads=True)
_ClampMinNode = define_node("ClampMinBackward0", _clamp_backward, _clamp_graph, owns_grads=True)
_ClampMaxNode = define_node("ClampMaxBackward0", _clamp_backward, _clamp_graph, owns_grads=True)


# ============================================================================ the table
def _pos(rng, *shapes, low=0.5, high=2.0):
    return [rng.uniform(low, high, s) for s in shapes]


def _any(rng, *shapes):
    return [rng.uniform(-2.0, 2.0, s) for s in shapes]


def _away_from_zero(rng, shape):
    x = rng.uniform(0.3, 2.0, shape)
    return x * rng.choice([-1.0, 1.0], shape)


# Broadcasting pairs exercised by the gradient check for every binary op.
BINARY_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((), (2, 3)), ((5,), ())]

# Operators bind straight to the templates' closures: no keyword handling on the hot path.
register(OpInfo("add", "AddBackward0", add, scalar_input=True, methods={"__add__": _add, "__radd__": _add},
                samples=lambda rng: [((a, b), {}) for sa, sb in BINARY_SHAPES for a, b in [_any(rng, sa, sb)]]
                + [((_any(rng, (3,))[0], 2.5), {}), ((_any(rng, (3,))[0], _any(rng, (3,))[0]), {"alpha": 2})]))
register(OpInfo("sub", "SubBackward0", sub, scalar_input=True, dunders=("__sub__",),  # PyTorch's bool - bool error
                samples=lambda rng: [((a, b), {}) for sa, sb in BINARY_SHAPES for a, b in [_any(rng, sa, sb)]]
                + [((_any(rng, (3,))[0], 2.5), {})]))
register(OpInfo("rsub", "RsubBackward1", rsub, scalar_input=True, method=False, dunders=("__rsub__",),
                nodes=("RsubBackward0",),
                samples=lambda rng: [((_any(rng, (3, 2))[0], 2.0), {}),
                                     ((_any(rng, (3, 2))[0], _any(rng, (2,))[0]), {})]))
register(OpInfo("mul", "MulBackward0", mul, scalar_input=True, aliases=("multiply",),
                methods={"__mul__": _mul_op, "__rmul__": _mul_op},
                samples=lambda rng: [((a, b), {}) for sa, sb in BINARY_SHAPES for a, b in [_any(rng, sa, sb)]]
                + [((_any(rng, (3,))[0], -1.5), {})]))
register(OpInfo("div", "DivBackward0", div, scalar_input=True, aliases=("divide", "true_divide"),
                methods={"__truediv__": _div_op, "__rtruediv__": _rdiv},
                nodes=("MulBackward0",),  # 2 / x is reciprocal(x) * 2, as in PyTorch
                samples=lambda rng: [((a, _away_from_zero(rng, sb)), {}) for sa, sb in BINARY_SHAPES
                                     for a in _any(rng, sa)] + [((_any(rng, (3,))[0], 0.7), {})]))
register(OpInfo("pow", "PowBackward0", pow, scalar_input=True, dunders=("__pow__",),
                methods={"__rpow__": lambda self, other: _rpow(other, self)}, nodes=("PowBackward1", "PowBackward2"),
                samples=lambda rng: [((a, b), {}) for sa, sb in BINARY_SHAPES[:3] for a, b in
                                     [(_pos(rng, sa)[0], _any(rng, sb)[0])]]
                + [((_any(rng, (4,))[0], 2), {}), ((_pos(rng, (4,))[0], 0.5), {}), ((_any(rng, (4,))[0], 3.0), {}),
                   ((_any(rng, (4,))[0], 0), {})]))
register(OpInfo("neg", "NegBackward0", neg, dunders=("__neg__",), aliases=("negative",),
                samples=lambda rng: [((x,), {}) for x in _any(rng, (3, 4), ())]))
register(OpInfo("clamp", "ClampBackward1", clamp, aliases=("clip",), nodes=("ClampBackward0",),
                samples=lambda rng: [((_any(rng, (3, 4))[0],), {"min": -0.9, "max": 1.1}),
                                     ((_any(rng, (5,))[0],), {"min": 0.1}),
                                     ((_any(rng, (5,))[0],), {"max": -0.2}),
                                     ((_any(rng, (3, 4))[0], rng.uniform(-1.0, -0.2, 4), rng.uniform(0.2, 1.0, (3, 1))),
                                      {})],
                notes="sample points avoid the kinks at the bounds"))
register(OpInfo("clamp_min", "ClampMinBackward0", clamp_min,
                samples=lambda rng: [((_any(rng, (5,))[0], 0.1), {})]))
register(OpInfo("clamp_max", "ClampMaxBackward0", clamp_max,
                samples=lambda rng: [((_any(rng, (5,))[0], -0.2), {})]))
