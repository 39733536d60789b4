"""Issue #8, numeric semantics: values and errors that used to differ from PyTorch 2.13.

Integer scalars that overflow the tensor's dtype, remainder/fmod gradients, norms with NaN and
inf, special values (nan, inf, -0., tiny, huge) through the pointwise ops forward and backward,
float16 through every op of the table, bool and integer edge cases.  Expected values and
messages are PyTorch's, hard-coded (obtained by running torch 2.13); the sweeps against live
torch run only where torch is installed.
"""
import itertools
import math

import numpy as np
import pytest

import jitgrad as jt
from jitgrad.ops.registry import OPS

nan, inf = float("nan"), float("inf")
OVERFLOW_INT8 = "value cannot be converted to type int8_t without overflow"


def _int8(*values):
    return jt.tensor(list(values), dtype=jt.int8)


def _same(actual, expected):
    """Equal values with equal signs of zero (NaN equal to NaN)."""
    a = np.asarray(actual, np.float64)
    b = np.asarray(expected, np.float64)
    assert a.shape == b.shape, (a, b)
    both_nan = np.isnan(a) & np.isnan(b)
    close = np.isclose(a, b, rtol=1e-5, atol=0) & (np.signbit(a) == np.signbit(b))
    assert np.all(both_nan | close), (a, b)


# ============================================================================ 1. integer scalar overflow
@pytest.mark.parametrize("call, message", [
    (lambda: _int8(1).clamp(max=1000), OVERFLOW_INT8),
    (lambda: _int8(1).clamp(min=-1000), OVERFLOW_INT8),
    (lambda: _int8(1).clamp(max=-129), OVERFLOW_INT8),
    (lambda: _int8(1).clamp_(max=1000), OVERFLOW_INT8),
    (lambda: _int8(1).clamp_min(1000), OVERFLOW_INT8),
    (lambda: _int8(1).clamp_max(1000), OVERFLOW_INT8),
    (lambda: _int8(1).masked_fill(jt.tensor([True]), 1000), OVERFLOW_INT8),
    (lambda: _int8(1).masked_fill_(jt.tensor([True]), 1000), OVERFLOW_INT8),
    (lambda: _int8(1).masked_fill(jt.tensor([True]), nan), OVERFLOW_INT8),
    (lambda: jt.where(jt.tensor([True]), _int8(1), 1000), OVERFLOW_INT8),
    (lambda: _int8(1) ** 1000, OVERFLOW_INT8),
    (lambda: _int8(1) ** 2 ** 63, "value cannot be converted to type int64_t without overflow"),
    (lambda: _int8(1).add(1, alpha=1000), OVERFLOW_INT8),
    (lambda: _int8(1).sub(1, alpha=1000), OVERFLOW_INT8),
    (lambda: jt.tensor([1], dtype=jt.uint8).masked_fill(jt.tensor([True]), -256),
     "value cannot be converted to type uint8_t without overflow"),
    (lambda: jt.tensor([1], dtype=jt.int16).clamp(max=2 ** 40),
     "value cannot be converted to type int16_t without overflow"),
    (lambda: jt.tensor([1.0]).clamp(max=1e300), "value cannot be converted to type float without overflow"),
    (lambda: jt.tensor([1.0]).masked_fill(jt.tensor([True]), 1e300),
     "value cannot be converted to type float without overflow"),
    (lambda: jt.tensor([1.0], dtype=jt.float16).clamp(max=1e5),
     "value cannot be converted to type c10::Half without overflow"),
    (lambda: jt.tensor([1.0], dtype=jt.float16).masked_fill(jt.tensor([True]), 1e5),
     "value cannot be converted to type c10::Half without overflow"),
    (lambda: _int8(1).add(1, alpha=1.5), "For integral input tensors, argument alpha must not be a floating point number."),
    (lambda: _int8(1).add(1, alpha=True), "Boolean alpha only supported for Boolean results."),
    (lambda: _int8(1) ** -1, "Integers to negative integer powers are not allowed."),
])
def test_scalar_that_does_not_fit_raises_like_pytorch(call, message):
    with pytest.raises(RuntimeError) as info:
        call()
    assert str(info.value) == message


@pytest.mark.parametrize("call, expected, dtype", [
    # what does fit: PyTorch's checked conversion takes these
    (lambda: jt.tensor([1], dtype=jt.uint8).masked_fill(jt.tensor([True]), -1), [255], jt.uint8),
    (lambda: _int8(1).masked_fill(jt.tensor([True]), 1.5), [1], jt.int8),
    (lambda: _int8(1).clamp(max=-128), [-128], jt.int8),
    (lambda: _int8(1).clamp(1000.0), [1000.0], jt.float32),
    (lambda: jt.where(jt.tensor([False]), _int8(1), 1.5), [1.5], jt.float32),
    (lambda: _int8(5).add(jt.tensor([1.0]), alpha=1000), [1005.0], jt.float32),
    # binary ops with a wrapped number wrap, as PyTorch does
    (lambda: _int8(1) + 1000, [-23], jt.int8),
    (lambda: _int8(1) // 1000, [-1], jt.int8),
    (lambda: _int8(1) % 1000, [-23], jt.int8),
    (lambda: _int8(1).fmod(1000), [1], jt.int8),
    (lambda: _int8(1) & 1000, [0], jt.int8),
    (lambda: _int8(1) < 1000, [False], jt.bool),
    (lambda: _int8(1).div(1000, rounding_mode="floor"), [-1], jt.int8),
    # integer reductions
    (lambda: _int8(100, 100).sum(), 200, jt.int64),
    (lambda: _int8(100, 100).sum(dtype=jt.int8), -56, jt.int8),
    (lambda: _int8(100, 100).prod(), 10000, jt.int64),
    (lambda: jt.tensor([2 ** 31 - 1, 1], dtype=jt.int32).sum(), 2 ** 31, jt.int64),
    (lambda: jt.tensor([0]) ** 0, [1], jt.int64),
    (lambda: 0 ** jt.tensor([0.0]), [1.0], jt.float32),
])
def test_scalar_values_match_pytorch(call, expected, dtype):
    out = call()
    assert out.dtype == dtype
    assert out.tolist() == expected


@pytest.mark.parametrize("call, exc, message", [
    (lambda: -jt.tensor([True]), RuntimeError,
     "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert a mask, "
     "use the `~` or `logical_not()` operator instead."),
    (lambda: jt.tensor([True]) // jt.tensor([True]), NotImplementedError, "\"div_floor_cpu\" not implemented for 'Bool'"),
    (lambda: jt.tensor([True]).div(jt.tensor([True]), rounding_mode="trunc"), NotImplementedError,
     "\"div_trunc_cpu\" not implemented for 'Bool'"),
    (lambda: jt.tensor([True]) % jt.tensor([True]), NotImplementedError, "\"remainder_cpu\" not implemented for 'Bool'"),
    (lambda: jt.tensor([True]).fmod(jt.tensor([True])), NotImplementedError, "\"fmod_cpu\" not implemented for 'Bool'"),
    (lambda: jt.tensor([1]) // 0, RuntimeError, "ZeroDivisionError"),
    (lambda: jt.tensor([1]) % jt.tensor([0]), RuntimeError, "ZeroDivisionError"),
    (lambda: jt.tensor([1]).fmod(0), RuntimeError, "ZeroDivisionError"),
    (lambda: jt.tensor([1]).fmod(jt.tensor([0])), RuntimeError, "ZeroDivisionError"),
])
def test_bool_and_integer_division_errors(call, exc, message):
    with pytest.raises(exc) as info:
        call()
    assert str(info.value) == message


# ============================================================================ 2. remainder / fmod gradients
@pytest.mark.parametrize("op, node_scalar, node_tensor, grad_other", [
    (lambda a, b: a % b, "RemainderBackward0", "RemainderBackward1", [-2.0, 2.0, -0.0]),
    (lambda a, b: jt.fmod(a, b), "FmodBackward0", "FmodBackward1", [-2.0, 1.0, -0.0]),
])
def test_remainder_and_fmod_are_differentiable(op, node_scalar, node_tensor, grad_other):
    x = jt.tensor([5.0, -3.0, -1.5], requires_grad=True)
    y = op(x, 2.0)
    assert type(y.grad_fn).__name__ == node_scalar
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0]
    x.grad = None
    b = jt.tensor([2.0, 2.0, -2.0], requires_grad=True)
    y = op(x, b)
    assert type(y.grad_fn).__name__ == node_tensor
    gx, gb = jt.autograd.grad(y.sum(), (x, b))
    assert gx.tolist() == [1.0, 1.0, 1.0]
    _same(gb.numpy(), grad_other)
    bb = jt.tensor(2.0, requires_grad=True)  # a broadcast divisor gets its gradient summed
    (gbb,) = jt.autograd.grad(op(x, bb).sum(), (bb,))
    assert gbb.shape == ()


def test_remainder_values_and_zero_signs_match_pytorch():
    x = jt.tensor([5.0, -5.0, 0.0, -0.0, -4.0, 2.0, -2.0])
    _same((x % jt.tensor([inf, inf, -inf, 3.0, 2.0, -1.0, 2.0])).numpy(), [5.0, inf, 0.0, -0.0, -0.0, 0.0, -0.0])
    _same(jt.fmod(x, 3.0).numpy(), [2.0, -2.0, 0.0, -0.0, -1.0, 2.0, -2.0])
    assert (jt.tensor([5, -3]).fmod(jt.tensor([2]))).tolist() == [1, -1]


def test_remainder_gradcheck_and_double_backward():
    x = jt.tensor([0.7, -1.3, 2.2], dtype=jt.float64, requires_grad=True)
    b = jt.tensor([1.5, 1.4, -1.6], dtype=jt.float64, requires_grad=True)
    assert jt.autograd.gradcheck(lambda a, c: a % c, (x, b))
    assert jt.autograd.gradcheck(lambda a, c: jt.fmod(a, c), (x, b))
    (g,) = jt.autograd.grad((x % b).sum(), (b,), create_graph=True)
    _same(g.detach().numpy(), [-0.0, 1.0, 2.0])


# ============================================================================ 3. norms with NaN and inf
# (values, p) -> (norm, gradient), PyTorch 2.13 (None: no gradient at all)
_NORM_CASES = {
    ((1.0, nan, 2.0), 1): (nan, [1.0, 0.0, 1.0]),
    ((1.0, nan, 2.0), 2): (nan, [nan, nan, nan]),
    ((1.0, nan, 2.0), 3): (nan, [nan, nan, nan]),
    ((1.0, nan, 2.0), 0.5): (nan, [nan, nan, nan]),
    ((1.0, nan, 2.0), inf): (nan, [0.0, 0.0, 0.0]),
    ((1.0, nan, 2.0), -inf): (nan, [0.0, 0.0, 0.0]),
    ((1.0, nan, 2.0), -1): (nan, [nan, nan, nan]),
    ((1.0, nan, 2.0), 0): (3.0, None),
    ((1.0, inf, -2.0), 1): (inf, [1.0, 1.0, -1.0]),
    ((1.0, inf, -2.0), 2): (inf, [0.0, nan, -0.0]),
    ((1.0, inf, -2.0), 3): (inf, [0.0, nan, -0.0]),
    ((1.0, inf, -2.0), 0.5): (inf, [inf, nan, -inf]),
    ((1.0, inf, -2.0), inf): (inf, [0.0, 1.0, -0.0]),
    ((1.0, inf, -2.0), -inf): (1.0, [1.0, 0.0, -0.0]),
    ((1.0, inf, -2.0), -1): (2 / 3, [4 / 9, 0.0, -1 / 9]),
    ((0.0, 0.0), 2): (0.0, [0.0, 0.0]),
    ((0.0, 0.0), 3): (0.0, [0.0, 0.0]),
    ((0.0, 0.0), 0.5): (0.0, [0.0, 0.0]),
    ((0.0, 0.0), -inf): (0.0, [0.0, 0.0]),
    ((0.0, 0.0), -1): (0.0, [0.0, 0.0]),
    ((1.0, -2.0, 2.0), -inf): (1.0, [1.0, -0.0, 0.0]),
    ((1.0, -2.0, 2.0), -2): (math.sqrt(2 / 3), [0.5443, -0.0680, 0.0680]),
}


@pytest.mark.parametrize("values, p", list(_NORM_CASES))
def test_norm_nan_inf_and_all_orders(values, p):
    expected_norm, expected_grad = _NORM_CASES[(values, p)]
    x = jt.tensor(list(values), requires_grad=True)
    n = x.norm(p)
    (g,) = jt.autograd.grad(n, (x,), allow_unused=True)
    _same(n.item(), expected_norm)
    if expected_grad is None:
        assert g is None
    else:
        a, b = g.numpy(), np.array(expected_grad)
        assert np.all((np.isnan(a) & np.isnan(b)) | np.isclose(a, b, rtol=1e-3)), (a, b)
        assert np.array_equal(np.signbit(a[a == 0]), np.signbit(b[a == 0]))


def test_norm_single_element_and_empty():
    # one element is |x| itself (no under/overflow of x ** p), as in PyTorch
    for p in (2, 3, 0.5):
        _same(_float64([1e-310]).norm(p).item(), 1e-310)
    _same(_float64([1e308]).norm().item(), 1e308)
    for p, name in ((-inf, "-inf"), (inf, "inf"), (-1, "-1")):
        with pytest.raises(RuntimeError, match=f"cannot compute the {name} norm on an empty tensor"):
            jt.tensor([]).norm(p)
    assert jt.tensor([]).norm(0.5).item() == 0.0


def test_amax_and_max_propagate_nan():
    x = jt.tensor([1.0, nan, 3.0])
    for value in (x.amax(), x.max(), x.amin(), x.min(), x.max(0)[0]):
        assert math.isnan(value.item())


# ============================================================================ 4. special values
def _float64(v):
    # (from NumPy: jitgrad.tensor(1e-310, dtype=float64) goes through float32 today -- factories.py)
    return jt.from_numpy(np.array(v, np.float64)).requires_grad_()


def _grad1(f, v):
    x = _float64(v)
    y = f(x)
    (g,) = jt.autograd.grad(y.sum(), (x,), allow_unused=True)
    return y.detach().numpy(), (None if g is None else g.numpy())


@pytest.mark.parametrize("f, x, value, grad", [
    (jt.relu, nan, nan, 1.0),
    (jt.relu, -0.0, -0.0, 0.0),
    (jt.relu, -1.0, 0.0, 0.0),
    (jt.sign, nan, 0.0, 0.0),
    (lambda t: t.clamp(min=nan), 2.0, nan, 0.0),
    (lambda t: t.clamp(max=nan), -inf, nan, 0.0),
    (lambda t: t.clamp(min=nan, max=1.0), 0.5, nan, 0.0),
    (lambda t: t ** 0.5, -inf, nan, nan),
    (lambda t: t ** 0.5, -0.0, -0.0, -inf),
    (lambda t: t ** -0.5, -0.0, -inf, -inf),
    (lambda t: t ** -0.5, -inf, nan, -0.0),
    (lambda t: t ** 1.5, -0.0, 0.0, -0.0),
    (lambda t: t ** 1.5, -inf, inf, nan),
    (lambda t: t ** 0, 0.0, 1.0, 0.0),
    (lambda t: 0 ** t, 0.0, 1.0, 0.0),
    (lambda t: 0 ** t, -1.0, inf, -inf),
    (lambda t: 0 ** t, inf, 0.0, 0.0),
    (lambda t: t.reshape(1).prod(), inf, inf, nan),
    (lambda t: t.prod(), inf, inf, 1.0),
    (lambda t: t.prod(), nan, nan, 1.0),
    (lambda t: t.reshape(1).cumprod(0), nan, [nan], 1.0),
    (lambda t: t.sum(), -0.0, 0.0, 1.0),
    (lambda t: t.mean(), -0.0, 0.0, 1.0),
])
def test_unary_special_values(f, x, value, grad):
    y, g = _grad1(f, x)
    _same(y, value)
    _same(g, grad)


@pytest.mark.parametrize("values, grad", [
    ([0.0, 0.0, nan], [1.0, 0.0, 0.0]),  # terms past a second zero are left out
    ([inf, 0.0, -2.0], [nan, -inf, 0.0]),  # the product before the zero multiplies the sum
    ([0.0, inf, 0.0], [nan, 0.0, 0.0]),  # ... and the second zero's own term is in it
    ([2.0, 0.0, inf], [1.0, inf, 0.0]),
])
def test_cumprod_gradient_with_zeros_and_special_values(values, grad):
    x = _float64(values)
    (g,) = jt.autograd.grad(x.cumprod(0).sum(), (x,))
    _same(g.numpy(), grad)


@pytest.mark.parametrize("value, exc_message", [
    (2 ** 64, "int too big to convert"),
    (-(2 ** 63) - 1, "can't convert negative int to unsigned"),
])
def test_python_int_beyond_64_bits(value, exc_message):
    with pytest.raises(OverflowError, match=exc_message):
        jt.tensor([1], dtype=jt.int8) + value
    assert (jt.tensor([1], dtype=jt.int64) + 2 ** 63).tolist() == [-(2 ** 63) + 1]  # read as uint64, wrapped


@pytest.mark.parametrize("f, a, b, value, grads", [
    (jt.atan2, 0.0, 0.0, 0.0, (0.0, -0.0)),
    (jt.atan2, 0.0, -0.0, math.pi, (-0.0, -0.0)),
    (jt.atan2, 1e-160, 1e-161, 1.4711276743037347, (inf, -inf)),
    (jt.atan2, inf, 1.0, math.pi / 2, (0.0, nan)),
    (lambda a, b: a ** b, 0.0, 0.0, 1.0, (0.0, 0.0)),
    (lambda a, b: a ** b, 0.0, -1.0, inf, (-inf, -inf)),
    (lambda a, b: a ** b, 0.0, nan, nan, (nan, nan)),
    (lambda a, b: a ** b, 0.0, 2.0, 0.0, (0.0, 0.0)),
    (lambda a, b: a / b, inf, 1e308, inf, (1e-308, -inf)),
    (jt.maximum, 1.0, nan, nan, (1.0, 1.0)),
    (lambda a, b: jt.clamp(a, min=b), nan, nan, nan, (0.0, 0.0)),
    (lambda a, b: jt.clamp(a, min=b, max=b - 1), 0.0, 1.0, 0.0, (0.0, 1.0)),
])
def test_binary_special_values(f, a, b, value, grads):
    ta, tb = _float64(a), _float64(b)
    y = f(ta, tb)
    ga, gb = jt.autograd.grad(y, (ta, tb))
    _same(y.detach().numpy(), value)
    _same(ga.numpy(), grads[0])
    _same(gb.numpy(), grads[1])


_SPECIAL = [nan, inf, -inf, 0.0, -0.0, 1e-310, -1e-310, 1e-30, 1e308, -1e308, 1.0, -1.0, 0.5, -2.0, 3.0]
_UNARY = {
    "exp": lambda L, x: L.exp(x), "log": lambda L, x: L.log(x), "sqrt": lambda L, x: L.sqrt(x),
    "abs": lambda L, x: L.abs(x), "sin": lambda L, x: L.sin(x), "cos": lambda L, x: L.cos(x),
    "tan": lambda L, x: L.tan(x), "tanh": lambda L, x: L.tanh(x), "sigmoid": lambda L, x: L.sigmoid(x),
    "reciprocal": lambda L, x: L.reciprocal(x), "relu": lambda L, x: L.relu(x), "neg": lambda L, x: -x,
    "log1p": lambda L, x: L.log1p(x), "expm1": lambda L, x: L.expm1(x), "asin": lambda L, x: L.asin(x),
    "acos": lambda L, x: L.acos(x), "atan": lambda L, x: L.atan(x), "sinh": lambda L, x: L.sinh(x),
    "cosh": lambda L, x: L.cosh(x), "erf": lambda L, x: L.erf(x), "sign": lambda L, x: L.sign(x),
    "softplus": lambda L, x: L.nn.functional.softplus(x), "gelu": lambda L, x: L.nn.functional.gelu(x),
    "gelu_tanh": lambda L, x: L.nn.functional.gelu(x, approximate="tanh"),
    "silu": lambda L, x: L.nn.functional.silu(x), "leaky_relu": lambda L, x: L.nn.functional.leaky_relu(x, 0.1),
    "elu": lambda L, x: L.nn.functional.elu(x), "hardtanh": lambda L, x: L.nn.functional.hardtanh(x),
    "clamp": lambda L, x: L.clamp(x, -1.0, 1.0), "clamp_nan": lambda L, x: L.clamp(x, min=nan),
    "pow0.5": lambda L, x: x ** 0.5, "pow-0.5": lambda L, x: x ** -0.5, "pow2": lambda L, x: x ** 2,
    "pow1.5": lambda L, x: x ** 1.5, "pow-1": lambda L, x: x ** -1, "pow0": lambda L, x: x ** 0,
    "rpow0": lambda L, x: 0 ** x, "rpow2": lambda L, x: 2 ** x, "mod": lambda L, x: x % 2.0,
    "fmod": lambda L, x: L.fmod(x, 2.0), "norm2": lambda L, x: x.reshape(1).norm(),
    "norm_inf": lambda L, x: x.reshape(1).norm(inf), "norm3": lambda L, x: x.reshape(1).norm(3),
    "prod": lambda L, x: x.prod(), "sum": lambda L, x: x.sum(),
}
_REDUCTIONS = ("norm2", "norm_inf", "norm3", "prod", "sum")
_BINARY = {
    "add": lambda L, a, b: a + b, "mul": lambda L, a, b: a * b, "div": lambda L, a, b: a / b,
    "pow": lambda L, a, b: a ** b, "atan2": lambda L, a, b: L.atan2(a, b), "maximum": lambda L, a, b: L.maximum(a, b),
    "minimum": lambda L, a, b: L.minimum(a, b), "remainder": lambda L, a, b: a % b, "fmod": lambda L, a, b: L.fmod(a, b),
    "clamp_tensor": lambda L, a, b: L.clamp(a, min=b), "clamp_tensor_max": lambda L, a, b: L.clamp(a, max=b),
}


def _evaluate(L, f, arrays):
    xs = [L.from_numpy(a.copy()).requires_grad_() for a in arrays]
    y = f(L, *xs)
    grads = L.autograd.grad(y.sum(), xs, allow_unused=True)
    return y.detach().numpy(), [None if g is None else g.numpy() for g in grads]


def _sweep_against_torch(f, arrays, signed_zeros=True):
    torch = pytest.importorskip("torch")
    y, grads = _evaluate(jt, f, arrays)
    ty, tgrads = _evaluate(torch, f, arrays)
    if not signed_zeros:
        y, ty = y + 0.0, ty + 0.0  # (-0. + 0. is 0.)
    _same(y, ty)
    for g, tg in zip(grads, tgrads):
        assert (g is None) == (tg is None)
        if g is not None:
            _same(g, tg)


# Where PyTorch's vectorised loop and its scalar loop (a tensor's tail, or a tensor of a few
# elements) disagree, the sweep leaves the value out: hardtanh's gradient at NaN, gelu at
# +-inf in float32, the sign of a 0. vs -0. tie in maximum/minimum/clamp; and the float32
# 3-norm of 1e-30, whose backward PyTorch computes in float32 (1e-30 ** 2 underflows: nan).
# layer_norm of a float64 row whose variance overflows: PyTorch's running (Welford) moments give
# NaN or 0 by the position of the huge value and the row's length -- layer_norm over the last
# dim of [1e-310, -1e-310, 1e-30, 1e308] is all 0., of [1e308, 1e-310, -1e-310, 1e-30] all nan;
# [1., 2., 1e308] and [1e308, 1., 2.] are nan, [1e308, 1., 2., ..., 8.] is 0. (the same with -1e308).
_TORCH_INCONSISTENT = {("hardtanh", "float64"): [nan], ("hardtanh", "float32"): [nan],
                       ("relu6", "float64"): [nan], ("relu6", "float32"): [nan],  # (relu6 is hardtanh(0, 6))
                       ("gelu", "float32"): [inf, -inf, 1e308, -1e308], ("norm3", "float32"): [1e-30],
                       ("layer_norm", "float64"): [1e308, -1e308]}
_UNSIGNED_ZEROS = ("maximum", "minimum", "clamp_tensor", "clamp_tensor_max")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(_UNARY))
def test_unary_special_values_sweep_against_torch(name, dtype):
    skip = _TORCH_INCONSISTENT.get((name, dtype), [])
    kept = [v for v in _SPECIAL if not any(v == s or (v != v and s != s) for s in skip)]
    with np.errstate(all="ignore"):
        values = np.array(kept, dtype)
    f = _UNARY[name]
    if name in _REDUCTIONS:  # one special value at a time
        for v in values:
            _sweep_against_torch(f, [np.array(v)])
    else:
        _sweep_against_torch(f, [values])


@pytest.mark.parametrize("name", list(_BINARY))
def test_binary_special_values_sweep_against_torch(name):
    pairs = [p for p in itertools.product(_SPECIAL, repeat=2) if p[0] in _SPECIAL[:7] or p[1] in _SPECIAL[:7]]
    if name in ("remainder", "fmod"):  # (PyTorch's loops disagree where a finite quotient overflows)
        pairs = [(x, y) for x, y in pairs if not (math.isfinite(x) and math.isfinite(y) and y != 0
                                                  and (abs(x) > 1e300 or abs(y) < 1e-300))]
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    _sweep_against_torch(_BINARY[name], [a, b], signed_zeros=name not in _UNSIGNED_ZEROS)


# ============================================================================ 5. float16
@pytest.mark.parametrize("f, grad_expected", [
    (lambda t: -t, [-1.0, -1.0]),
    (lambda t: t ** 2, [2.0, 4.0]),
    (lambda t: 2.5 - t, [-1.0, -1.0]),
    (lambda t: t ** 0.5, [0.5, 0.35351]),
    (lambda t: 2 ** t, [1.3862, 2.7724]),
    (lambda t: t ** jt.tensor([1.0, 2.0], dtype=jt.float16), [1.0, 4.0]),
    (lambda t: t.norm(), [0.4472, 0.8945]),
    (lambda t: t.norm(-inf), [1.0, 0.0]),
    (lambda t: t % 1.5, [1.0, 1.0]),
    (lambda t: jt.sign(t), [0.0, 0.0]),
])
def test_float16_ops_compute_and_differentiate(f, grad_expected):
    x = jt.tensor([1.0, 2.0], dtype=jt.float16, requires_grad=True)
    y = f(x)
    assert y.dtype == jt.float16
    (g,) = jt.autograd.grad(y.sum(), (x,))
    assert g.dtype == jt.float16
    assert np.allclose(g.numpy().astype(np.float64), grad_expected, rtol=2e-3)




def _to_float16(value):
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            return jt.tensor(value, dtype=jt.float16).requires_grad_()
        return jt.tensor(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_to_float16(v) for v in value)
    return value


@pytest.mark.parametrize("name", [n for n, info in OPS.items() if info.samples is not None])
def test_every_op_of_the_table_runs_in_float16(name):
    info = OPS[name]
    for args, kwargs in info.samples(np.random.default_rng(0)):
        if not any(isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in args):
            continue
        args = _to_float16(args)
        kwargs = {key: _to_float16(v) for key, v in kwargs.items()}
        try:
            out = info.function(*args, **kwargs)
        except RuntimeError as e:  # PyTorch's own refusals (e.g. a weight that needs no gradient)
            assert "float16" not in str(e) and "Half" not in str(e), str(e)
            continue
        out = out[0] if isinstance(out, tuple) else out
        assert out.dtype in (jt.float16, jt.int64, jt.bool), (name, out.dtype)
        if out.requires_grad:
            leaves = [a for a in list(args) + list(kwargs.values()) if isinstance(a, jt.Tensor) and a.requires_grad]
            grads = jt.autograd.grad(out.float().sum(), leaves, allow_unused=True)
            for leaf, g in zip(leaves, grads):
                assert g is None or g.dtype == leaf.dtype, name


# ---------------------------------------------------------------------------- the op table, generated
def _single_tensor_sample(info):
    """The first sample of an op taking one float tensor (and non-tensor arguments), or None."""
    if info.samples is None or not info.differentiable:
        return None
    samples = info.samples(np.random.default_rng(0))
    if not samples:
        return None
    args, kwargs = samples[0]
    if not (args and isinstance(args[0], np.ndarray) and args[0].dtype.kind == "f"):
        return None
    if any(isinstance(v, np.ndarray) for v in list(args[1:]) + list(kwargs.values())):
        return None
    return args, kwargs


_TABLE_UNARY = [name for name, info in OPS.items() if _single_tensor_sample(info) is not None]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", _TABLE_UNARY)
def test_op_table_special_values_against_torch(name, dtype):
    """Every one-tensor op of the table, its first sample's shape filled with the special values
    (each value in every position over the rolls), forward and backward against PyTorch."""
    torch = pytest.importorskip("torch")
    info = OPS[name]
    torch_fn = getattr(torch.nn.functional, name, None) or getattr(torch, name, None)
    if torch_fn is None:
        pytest.skip(f"torch has no function {name}")
    args, kwargs = _single_tensor_sample(info)

    def f(L, x):
        out = (info.function if L is jt else torch_fn)(x, *args[1:], **kwargs)
        return out[0] if isinstance(out, tuple) else out

    skip = _TORCH_INCONSISTENT.get((name, dtype), [])
    values = np.array([v for v in _SPECIAL if not any(v == s or (v != v and s != s) for s in skip)])
    size = max(1, int(np.prod(args[0].shape)))
    for start in range(0, len(values), size):
        with np.errstate(all="ignore"):
            x = np.resize(np.roll(values, -start), args[0].shape).astype(dtype)
        _sweep_against_torch(f, [x])
