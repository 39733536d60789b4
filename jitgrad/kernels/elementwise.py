"""Elementwise kernels: plain loops over flat, C-contiguous 1-D arrays.

Every kernel here sees only NumPy arrays and scalars (no Tensor, no graph).  The Python
layer ravels its operands first, so one compiled specialisation per dtype serves every
shape and ndim.  Each op's forward kernel sits directly above its backward kernel(s).

Conventions
-----------
* unary forward:   ``name_forward(x, out)``
* unary backward:  ``name_backward(grad, x, result, out)`` -- ``out = d(result)/dx * grad``
* binary forward:  ``name_forward(a, b, out)`` plus ``name_scalar_forward(a, s, out)``
* ``out`` is always written, never read, so it may be ``np.empty``.
* ``error_model="numpy"``: division by zero gives inf/nan as in PyTorch, not a ZeroDivisionError.
* exp, log, tanh and sigmoid use jitgrad's own vectorisable math (``kernels/vmath.py``: <= 2 ulp
  float32, <= 4 ulp float64), so their loops compile to SIMD code; sin, cos and pow stay on
  libm (scalar calls), see vmath's docstring.

Parallel twins
--------------
Each elementwise kernel has a ``<name>_parallel`` twin at the end of this file: the same loop
with ``prange``, compiled with ``parallel=True``.  ``PARALLEL`` maps each serial kernel to its
twin; the op layer switches to the twin for arrays of ``PARALLEL_THRESHOLD`` elements or more,
where the gain from splitting the loop over the threads outweighs the launch cost (measured
on a 2-core machine, see the constant).  Parallel kernels compile only when first used on a
large array, so small workloads never pay their (slower) compilation.  The thread count is
``jitgrad.set_num_threads`` (default: ``NUMBA_NUM_THREADS``, i.e. all cores).
"""
import numpy as np
from numba import prange

from ._jit import njit

from . import vmath


# ----------------------------------------------------------------------------- add / sub
@njit(cache=True, error_model="numpy")
def fill_scalar(s, out):
    # the gradient of a full reduction, spread back over its input
    for i in range(out.size):
        out[i] = s


@njit(cache=True, error_model="numpy")
def add3_forward(a, b, c, out):
    # three gradients of one tensor summed in one pass (the engine's deferred sums)
    for i in range(out.size):
        out[i] = (a[i] + b[i]) + c[i]


@njit(cache=True, error_model="numpy")
def add_forward(a, b, out):
    for i in range(out.size):
        out[i] = a[i] + b[i]


@njit(cache=True, error_model="numpy")
def add_scalar_forward(a, s, out):
    for i in range(out.size):
        out[i] = a[i] + s


@njit(cache=True, error_model="numpy")
def sub_forward(a, b, out):
    for i in range(out.size):
        out[i] = a[i] - b[i]


@njit(cache=True, error_model="numpy")
def sub_scalar_forward(a, s, out):
    for i in range(out.size):
        out[i] = a[i] - s


@njit(cache=True, error_model="numpy")
def rsub_forward(a, b, out):
    # b - a: PyTorch's rsub(input, other) for two tensors (RsubBackward0)
    for i in range(out.size):
        out[i] = b[i] - a[i]


@njit(cache=True, error_model="numpy")
def rsub_scalar_forward(a, s, out):
    # s - a: the forward of ``2 - x`` (PyTorch's RsubBackward1)
    for i in range(out.size):
        out[i] = s - a[i]


# ----------------------------------------------------------------------------- mul
@njit(cache=True, error_model="numpy")
def mul_forward(a, b, out):
    # also the backward kernel of mul: d(a*b)/da * g = g * b
    for i in range(out.size):
        out[i] = a[i] * b[i]


@njit(cache=True, error_model="numpy")
def mul_backward_square(g, a, out):
    # x * x: both gradients (g*a + g*a) in one pass; 2*(g*a) is that sum exactly
    for i in range(out.size):
        out[i] = (g[i] * a[i]) * 2


@njit(cache=True, error_model="numpy")
def mul_scalar_forward(a, s, out):
    for i in range(out.size):
        out[i] = a[i] * s


# ----------------------------------------------------------------------------- div
@njit(cache=True, error_model="numpy")
def div_forward(a, b, out):
    # also the backward kernel for the numerator: g / b
    for i in range(out.size):
        out[i] = a[i] / b[i]


@njit(cache=True, error_model="numpy")
def div_scalar_forward(a, s, out):
    for i in range(out.size):
        out[i] = a[i] / s


@njit(cache=True, error_model="numpy")
def div_backward_other(grad, a, b, out):
    # d(a/b)/db = -(a / b) / b, in PyTorch's order: b * b would overflow first (a = inf, b = 1e308)
    for i in range(out.size):
        bi = b[i]
        out[i] = -grad[i] * (a[i] / bi / bi)


# ----------------------------------------------------------------------------- pow
@njit(cache=True, error_model="numpy")
def pow_forward(a, b, out):
    for i in range(out.size):
        out[i] = a[i] ** b[i]


@njit(cache=True, error_model="numpy")
def pow_backward_self(grad, a, b, out):
    # d(a^b)/da = b * a^(b-1); PyTorch masks b == 0 to an exact zero
    for i in range(out.size):
        bi = b[i]
        if bi == 0:
            out[i] = 0
        else:
            out[i] = grad[i] * bi * a[i] ** (bi - 1)


@njit(cache=True, error_model="numpy")
def pow_backward_exponent(grad, a, b, result, out):
    # d(a^b)/db = a^b * log(a); PyTorch defines it as 0 where a == 0 and b >= 0 (only: 0 ** -1
    # gives -inf and 0 ** nan nan)
    for i in range(out.size):
        ai = a[i]
        out[i] = 0 if (ai == 0 and b[i] >= 0) else grad[i] * result[i] * vmath.log(ai)


@njit(cache=True, error_model="numpy")
def pow_scalar_forward(a, p, out):
    # integer tensors (float ones use pow_float_scalar_forward)
    for i in range(out.size):
        out[i] = a[i] ** p


@njit(cache=True, error_model="numpy")
def float_pow(x, p):
    # x ** p with PyTorch's special exponents: 0.5 is sqrt and -0.5 is 1/sqrt, so that
    # (-inf) ** 0.5 is nan and (-0.) ** 0.5 is -0. (C's pow() gives inf and 0.)
    if p == 0.5:
        return np.sqrt(x)
    if p == -0.5:
        return 1 / np.sqrt(x)
    return x ** p


@njit(cache=True, error_model="numpy")
def pow_float_scalar_forward(a, p, out):
    for i in range(out.size):
        out[i] = float_pow(a[i], p)


@njit(cache=True, error_model="numpy")
def pow_scalar_backward(grad, a, p, out):
    # d(a^p)/da = grad * (p * a^(p-1)), exactly 0 for p == 0 (PyTorch's pow_backward)
    if p == 0:
        for i in range(out.size):
            out[i] = 0
    else:
        for i in range(out.size):
            out[i] = grad[i] * (p * float_pow(a[i], p - 1))


@njit(cache=True, error_model="numpy")
def rpow_scalar_forward(s, b, out):
    # s ** b for a scalar base: PyTorch's PowBackward2
    for i in range(out.size):
        out[i] = s ** b[i]


@njit(cache=True, error_model="numpy")
def rpow_scalar_backward(grad, result, log_s, out):
    # d(s^b)/db = s^b * log(s); for s == 0 (log_s == -inf) PyTorch defines it as 0 where b >= 0,
    # i.e. where the result 0 ** b is 0 or 1
    zero_base = log_s == -np.inf
    for i in range(out.size):
        yi = result[i]
        out[i] = 0 if (zero_base and yi <= 1) else grad[i] * yi * log_s


# ----------------------------------------------------------------------------- unary math
@njit(cache=True, error_model="numpy")
def neg_forward(x, out):
    # also neg's backward: -g
    for i in range(out.size):
        out[i] = -x[i]


@njit(cache=True, error_model="numpy")
def exp_forward(x, out):
    for i in range(out.size):
        out[i] = vmath.exp(x[i])


@njit(cache=True, error_model="numpy")
def exp_backward(grad, x, result, out):
    for i in range(out.size):
        out[i] = grad[i] * result[i]


@njit(cache=True, error_model="numpy")
def log_forward(x, out):
    for i in range(out.size):
        out[i] = vmath.log(x[i])


@njit(cache=True, error_model="numpy")
def log_backward(grad, x, result, out):
    for i in range(out.size):
        out[i] = grad[i] / x[i]


@njit(cache=True, error_model="numpy")
def sqrt_forward(x, out):
    for i in range(out.size):
        out[i] = np.sqrt(x[i])


@njit(cache=True, error_model="numpy")
def sqrt_backward(grad, x, result, out):
    for i in range(out.size):
        out[i] = grad[i] / (2 * result[i])


@njit(cache=True, error_model="numpy")
def abs_forward(x, out):
    for i in range(out.size):
        out[i] = abs(x[i])


@njit(cache=True, error_model="numpy")
def abs_backward(grad, x, result, out):
    # sign(x) * g, with sign(0) = 0 as in PyTorch
    for i in range(out.size):
        xi = x[i]
        if xi > 0:
            out[i] = grad[i]
        elif xi < 0:
            out[i] = -grad[i]
        else:
            out[i] = 0


@njit(cache=True, error_model="numpy")
def sin_forward(x, out):
    for i in range(out.size):
        out[i] = np.sin(x[i])


@njit(cache=True, error_model="numpy")
def sin_backward(grad, x, result, out):
    for i in range(out.size):
        out[i] = grad[i] * np.cos(x[i])


@njit(cache=True, error_model="numpy")
def cos_forward(x, out):
    for i in range(out.size):
        out[i] = np.cos(x[i])


@njit(cache=True, error_model="numpy")
def cos_backward(grad, x, result, out):
    for i in range(out.size):
        out[i] = -grad[i] * np.sin(x[i])


@njit(cache=True, error_model="numpy")
def tanh_forward(x, out):
    for i in range(out.size):
        out[i] = vmath.tanh(x[i])


@njit(cache=True, error_model="numpy")
def tanh_backward(grad, x, result, out):
    for i in range(out.size):
        yi = result[i]
        out[i] = grad[i] * (1 - yi * yi)


@njit(cache=True, error_model="numpy")
def sigmoid_forward(x, out):
    for i in range(out.size):
        out[i] = vmath.sigmoid(x[i])


@njit(cache=True, error_model="numpy")
def sigmoid_backward(grad, x, result, out):
    for i in range(out.size):
        yi = result[i]
        out[i] = grad[i] * yi * (1 - yi)


@njit(cache=True, error_model="numpy")
def relu_forward(x, out):
    # NaN and -0. pass through unchanged, as in PyTorch (clamp_min(x, 0) keeps -0.)
    for i in range(out.size):
        xi = x[i]
        out[i] = 0 if xi < 0 else xi


@njit(cache=True, error_model="numpy")
def relu_backward(grad, x, result, out):
    # PyTorch's threshold_backward: zero where result <= 0, so a NaN result passes the gradient
    for i in range(out.size):
        out[i] = 0 if result[i] <= 0 else grad[i]


@njit(cache=True, error_model="numpy")
def reciprocal_forward(x, out):
    for i in range(out.size):
        out[i] = 1 / x[i]


@njit(cache=True, error_model="numpy")
def reciprocal_backward(grad, x, result, out):
    for i in range(out.size):
        yi = result[i]
        out[i] = -grad[i] * yi * yi


@njit(cache=True, error_model="numpy")
def clamp_forward(x, low, high, out):
    # low/high are -inf/+inf when absent; NaN in x propagates
    for i in range(out.size):
        xi = x[i]
        if xi < low:
            xi = low
        if xi > high:
            xi = high
        out[i] = xi


@njit(cache=True, error_model="numpy")
def clamp_backward(grad, x, low, high, out):
    # gradient passes where low <= x <= high (PyTorch includes the bounds)
    for i in range(out.size):
        xi = x[i]
        out[i] = grad[i] if (xi >= low and xi <= high) else 0


# ----------------------------------------------------------------------------- scatter
@njit(cache=True, error_model="numpy")
def index_add_flat(out, index, values):
    # out[index[i]] += values[i]; duplicates accumulate (the gradient of a gather)
    for i in range(index.size):
        out[index[i]] += values[i]


# ============================================================================ parallel twins
# The loops above with ``prange``: keep each in step with its serial kernel (tests/test_vmath.py
# checks that every twin's source is its serial kernel's with range -> prange).
@njit(cache=True, parallel=True, error_model="numpy")
def add_forward_parallel(a, b, out):
    for i in prange(out.size):
        out[i] = a[i] + b[i]


@njit(cache=True, parallel=True, error_model="numpy")
def add_scalar_forward_parallel(a, s, out):
    for i in prange(out.size):
        out[i] = a[i] + s


@njit(cache=True, parallel=True, error_model="numpy")
def sub_forward_parallel(a, b, out):
    for i in prange(out.size):
        out[i] = a[i] - b[i]


@njit(cache=True, parallel=True, error_model="numpy")
def sub_scalar_forward_parallel(a, s, out):
    for i in prange(out.size):
        out[i] = a[i] - s


@njit(cache=True, parallel=True, error_model="numpy")
def rsub_forward_parallel(a, b, out):
    for i in prange(out.size):
        out[i] = b[i] - a[i]


@njit(cache=True, parallel=True, error_model="numpy")
def rsub_scalar_forward_parallel(a, s, out):
    for i in prange(out.size):
        out[i] = s - a[i]


@njit(cache=True, parallel=True, error_model="numpy")
def mul_forward_parallel(a, b, out):
    for i in prange(out.size):
        out[i] = a[i] * b[i]


@njit(cache=True, parallel=True, error_model="numpy")
def add3_forward_parallel(a, b, c, out):
    for i in prange(out.size):
        out[i] = (a[i] + b[i]) + c[i]


@njit(cache=True, parallel=True, error_model="numpy")
def fill_scalar_parallel(s, out):
    for i in prange(out.size):
        out[i] = s


@njit(cache=True, parallel=True, error_model="numpy")
def mul_backward_square_parallel(g, a, out):
    for i in prange(out.size):
        out[i] = (g[i] * a[i]) * 2


@njit(cache=True, parallel=True, error_model="numpy")
def mul_scalar_forward_parallel(a, s, out):
    for i in prange(out.size):
        out[i] = a[i] * s


@njit(cache=True, parallel=True, error_model="numpy")
def div_forward_parallel(a, b, out):
    for i in prange(out.size):
        out[i] = a[i] / b[i]


@njit(cache=True, parallel=True, error_model="numpy")
def div_scalar_forward_parallel(a, s, out):
    for i in prange(out.size):
        out[i] = a[i] / s


@njit(cache=True, parallel=True, error_model="numpy")
def div_backward_other_parallel(grad, a, b, out):
    for i in prange(out.size):
        bi = b[i]
        out[i] = -grad[i] * (a[i] / bi / bi)


@njit(cache=True, parallel=True, error_model="numpy")
def pow_forward_parallel(a, b, out):
    for i in prange(out.size):
        out[i] = a[i] ** b[i]


@njit(cache=True, parallel=True, error_model="numpy")
def pow_backward_self_parallel(grad, a, b, out):
    for i in prange(out.size):
        bi = b[i]
        if bi == 0:
            out[i] = 0
        else:
            out[i] = grad[i] * bi * a[i] ** (bi - 1)


@njit(cache=True, parallel=True, error_model="numpy")
def pow_backward_exponent_parallel(grad, a, b, result, out):
    for i in prange(out.size):
        ai = a[i]
        out[i] = 0 if (ai == 0 and b[i] >= 0) else grad[i] * result[i] * vmath.log(ai)


@njit(cache=True, parallel=True, error_model="numpy")
def pow_scalar_forward_parallel(a, p, out):
    for i in prange(out.size):
        out[i] = a[i] ** p


@njit(cache=True, parallel=True, error_model="numpy")
def pow_float_scalar_forward_parallel(a, p, out):
    for i in prange(out.size):
        out[i] = float_pow(a[i], p)


@njit(cache=True, parallel=True, error_model="numpy")
def pow_scalar_backward_parallel(grad, a, p, out):
    if p == 0:
        for i in prange(out.size):
            out[i] = 0
    else:
        for i in prange(out.size):
            out[i] = grad[i] * (p * float_pow(a[i], p - 1))


@njit(cache=True, parallel=True, error_model="numpy")
def rpow_scalar_forward_parallel(s, b, out):
    for i in prange(out.size):
        out[i] = s ** b[i]


@njit(cache=True, parallel=True, error_model="numpy")
def rpow_scalar_backward_parallel(grad, result, log_s, out):
    zero_base = log_s == -np.inf
    for i in prange(out.size):
        yi = result[i]
        out[i] = 0 if (zero_base and yi <= 1) else grad[i] * yi * log_s


@njit(cache=True, parallel=True, error_model="numpy")
def neg_forward_parallel(x, out):
    for i in prange(out.size):
        out[i] = -x[i]


@njit(cache=True, parallel=True, error_model="numpy")
def exp_forward_parallel(x, out):
    for i in prange(out.size):
        out[i] = vmath.exp(x[i])


@njit(cache=True, parallel=True, error_model="numpy")
def exp_backward_parallel(grad, x, result, out):
    for i in prange(out.size):
        out[i] = grad[i] * result[i]


@njit(cache=True, parallel=True, error_model="numpy")
def log_forward_parallel(x, out):
    for i in prange(out.size):
        out[i] = vmath.log(x[i])


@njit(cache=True, parallel=True, error_model="numpy")
def log_backward_parallel(grad, x, result, out):
    for i in prange(out.size):
        out[i] = grad[i] / x[i]


@njit(cache=True, parallel=True, error_model="numpy")
def sqrt_forward_parallel(x, out):
    for i in prange(out.size):
        out[i] = np.sqrt(x[i])


@njit(cache=True, parallel=True, error_model="numpy")
def sqrt_backward_parallel(grad, x, result, out):
    for i in prange(out.size):
        out[i] = grad[i] / (2 * result[i])


@njit(cache=True, parallel=True, error_model="numpy")
def abs_forward_parallel(x, out):
    for i in prange(out.size):
        out[i] = abs(x[i])


@njit(cache=True, parallel=True, error_model="numpy")
def abs_backward_parallel(grad, x, result, out):
    for i in prange(out.size):
        xi = x[i]
        if xi > 0:
            out[i] = grad[i]
        elif xi < 0:
            out[i] = -grad[i]
        else:
            out[i] = 0


@njit(cache=True, parallel=True, error_model="numpy")
def sin_forward_parallel(x, out):
    for i in prange(out.size):
        out[i] = np.sin(x[i])


@njit(cache=True, parallel=True, error_model="numpy")
def sin_backward_parallel(grad, x, result, out):
    for i in prange(out.size):
        out[i] = grad[i] * np.cos(x[i])


@njit(cache=True, parallel=True, error_model="numpy")
def cos_forward_parallel(x, out):
    for i in prange(out.size):
        out[i] = np.cos(x[i])


@njit(cache=True, parallel=True, error_model="numpy")
def cos_backward_parallel(grad, x, result, out):
    for i in prange(out.size):
        out[i] = -grad[i] * np.sin(x[i])


@njit(cache=True, parallel=True, error_model="numpy")
def tanh_forward_parallel(x, out):
    for i in prange(out.size):
        out[i] = vmath.tanh(x[i])


@njit(cache=True, parallel=True, error_model="numpy")
def tanh_backward_parallel(grad, x, result, out):
    for i in prange(out.size):
        yi = result[i]
        out[i] = grad[i] * (1 - yi * yi)


@njit(cache=True, parallel=True, error_model="numpy")
def sigmoid_forward_parallel(x, out):
    for i in prange(out.size):
        out[i] = vmath.sigmoid(x[i])


@njit(cache=True, parallel=True, error_model="numpy")
def sigmoid_backward_parallel(grad, x, result, out):
    for i in prange(out.size):
        yi = result[i]
        out[i] = grad[i] * yi * (1 - yi)


@njit(cache=True, parallel=True, error_model="numpy")
def relu_forward_parallel(x, out):
    for i in prange(out.size):
        xi = x[i]
        out[i] = 0 if xi < 0 else xi


@njit(cache=True, parallel=True, error_model="numpy")
def relu_backward_parallel(grad, x, result, out):
    for i in prange(out.size):
        out[i] = 0 if result[i] <= 0 else grad[i]


@njit(cache=True, parallel=True, error_model="numpy")
def reciprocal_forward_parallel(x, out):
    for i in prange(out.size):
        out[i] = 1 / x[i]


@njit(cache=True, parallel=True, error_model="numpy")
def reciprocal_backward_parallel(grad, x, result, out):
    for i in prange(out.size):
        yi = result[i]
        out[i] = -grad[i] * yi * yi


@njit(cache=True, parallel=True, error_model="numpy")
def clamp_forward_parallel(x, low, high, out):
    for i in prange(out.size):
        xi = x[i]
        if xi < low:
            xi = low
        if xi > high:
            xi = high
        out[i] = xi


@njit(cache=True, parallel=True, error_model="numpy")
def clamp_backward_parallel(grad, x, low, high, out):
    for i in prange(out.size):
        xi = x[i]
        out[i] = grad[i] if (xi >= low and xi <= high) else 0


# Serial kernel -> parallel twin, for arrays of PARALLEL_THRESHOLD elements or more.
PARALLEL = {
    add_forward: add_forward_parallel,
    add_scalar_forward: add_scalar_forward_parallel,
    sub_forward: sub_forward_parallel,
    sub_scalar_forward: sub_scalar_forward_parallel,
    rsub_forward: rsub_forward_parallel,
    rsub_scalar_forward: rsub_scalar_forward_parallel,
    mul_forward: mul_forward_parallel,
    mul_backward_square: mul_backward_square_parallel,
    fill_scalar: fill_scalar_parallel,
    add3_forward: add3_forward_parallel,
    mul_scalar_forward: mul_scalar_forward_parallel,
    div_forward: div_forward_parallel,
    div_scalar_forward: div_scalar_forward_parallel,
    div_backward_other: div_backward_other_parallel,
    pow_forward: pow_forward_parallel,
    pow_backward_self: pow_backward_self_parallel,
    pow_backward_exponent: pow_backward_exponent_parallel,
    pow_scalar_forward: pow_scalar_forward_parallel,
    pow_float_scalar_forward: pow_float_scalar_forward_parallel,
    pow_scalar_backward: pow_scalar_backward_parallel,
    rpow_scalar_forward: rpow_scalar_forward_parallel,
    rpow_scalar_backward: rpow_scalar_backward_parallel,
    neg_forward: neg_forward_parallel,
    exp_forward: exp_forward_parallel,
    exp_backward: exp_backward_parallel,
    log_forward: log_forward_parallel,
    log_backward: log_backward_parallel,
    sqrt_forward: sqrt_forward_parallel,
    sqrt_backward: sqrt_backward_parallel,
    abs_forward: abs_forward_parallel,
    abs_backward: abs_backward_parallel,
    sin_forward: sin_forward_parallel,
    sin_backward: sin_backward_parallel,
    cos_forward: cos_forward_parallel,
    cos_backward: cos_backward_parallel,
    tanh_forward: tanh_forward_parallel,
    tanh_backward: tanh_backward_parallel,
    sigmoid_forward: sigmoid_forward_parallel,
    sigmoid_backward: sigmoid_backward_parallel,
    relu_forward: relu_forward_parallel,
    relu_backward: relu_backward_parallel,
    reciprocal_forward: reciprocal_forward_parallel,
    reciprocal_backward: reciprocal_backward_parallel,
    clamp_forward: clamp_forward_parallel,
    clamp_backward: clamp_backward_parallel,
}

# Elements from which the parallel twins are used.  Measured on the 2-core AMD EPYC VM with
# 2 threads (best of 400 calls each, float32 / float64): a parallel launch costs ~1.5 us; the
# twins of cheap kernels (add, mul by a scalar, tanh_backward) break even at 32k-64k elements
# (at 65536: 0.76-1.08x the serial time in float32, 0.53-0.71x in float64) and take half the
# time from 128k on; the vmath kernels (exp, tanh, sigmoid) win from 8k-16k (0.55-0.58x at 65536).
# One threshold for all: 2**16.
PARALLEL_THRESHOLD = 1 << 16
