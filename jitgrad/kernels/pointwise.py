"""Pointwise kernels of the wider op library: activations, where, masked_fill and lerp.  (The
unary math ops' loops and maximum/minimum/atan2's are generated from their declarations, as
math on one element, in ``ops/unary.py`` and ``ops/pointwise.py``.)  These loops are
``@twin``s: one ``prange`` source compiled serial and parallel (see ``kernels/elementwise.py``).

The conventions of ``kernels/elementwise.py`` hold: flat, C-contiguous 1-D arrays (the Python
layer ravels and broadcasts first), ``out`` last and write-only; a unary backward kernel is
``name_backward(grad, x, result, [params,] out)`` and receives whichever of ``x``/``result`` its
op saved.  Scalar parameters (``beta``, ``alpha`` ...) arrive as scalars of the array's
dtype (the op layer casts them), so float32 loops stay in float32 and each kernel compiles once
per dtype.  erf/tanh/sigmoid/softplus come from ``kernels/vmath.py`` (vectorisable).
Each forward kernel sits directly above its backward kernel(s); the formulas (and their
behaviour at kinks, ties and NaN) are PyTorch's ``derivatives.yaml``.
"""
import math
from collections import namedtuple

import numpy as np
from numba import prange

from ._jit import njit, twin

from . import vmath

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_TANH_BETA = math.sqrt(2.0 / math.pi)  # PyTorch's M_SQRT2 * M_2_SQRTPI * 0.5
_GELU_TANH_KAPPA = 0.044715

# The constants above in each float dtype: a kernel picks its set with
# ``k = _K32 if isinstance(xi, np.float32) else _K64`` (resolved while typing), so float32 loops
# stay in float32 (a Python float or int literal would promote them to float64) and vectorise
# with vmath's float32 code.
_Consts = namedtuple("_Consts", "half one three two_over_sqrt_pi inv_sqrt_2 inv_sqrt_2pi tanh_beta tanh_kappa")
_K32, _K64 = (_Consts(*(t(c) for c in (0.5, 1.0, 3.0, _TWO_OVER_SQRT_PI, _INV_SQRT_2, _INV_SQRT_2PI,
                                          _GELU_TANH_BETA, _GELU_TANH_KAPPA)))
              for t in (np.float32, np.float64))


# ----------------------------------------------------------------------------- activations
@twin(error_model="numpy")
def softplus_forward(x, beta, threshold, out):
    # log(1 + exp(beta x)) / beta, and x itself once beta x > threshold (PyTorch's cut-off);
    # beta and threshold come in x's dtype
    for i in prange(out.size):
        xi = x[i]
        z = xi * beta
        out[i] = xi if z > threshold else vmath.softplus(z) / beta


@twin(error_model="numpy")
def softplus_backward(grad, x, result, beta, threshold, out):
    for i in prange(out.size):
        z = x[i] * beta
        out[i] = grad[i] if z > threshold else grad[i] * vmath.sigmoid(z)


@twin(error_model="numpy")
def gelu_forward(x, out):
    # x * Phi(x), Phi the standard normal CDF
    for i in prange(out.size):
        xi = x[i]
        k = _K32 if isinstance(xi, np.float32) else _K64
        out[i] = k.half * xi * (k.one + vmath.erf(xi * k.inv_sqrt_2))


@twin(error_model="numpy")
def gelu_backward(grad, x, result, out):
    # Phi(x) + x * phi(x)
    for i in prange(out.size):
        xi = x[i]
        k = _K32 if isinstance(xi, np.float32) else _K64
        cdf = k.half * (k.one + vmath.erf(xi * k.inv_sqrt_2))
        pdf = k.inv_sqrt_2pi * vmath.exp(-k.half * xi * xi)
        out[i] = grad[i] * (cdf + xi * pdf)


@twin(error_model="numpy")
def gelu_tanh_forward(x, out):
    # approximate='tanh': 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    for i in prange(out.size):
        xi = x[i]
        k = _K32 if isinstance(xi, np.float32) else _K64
        inner = k.tanh_beta * (xi + k.tanh_kappa * xi * xi * xi)
        out[i] = k.half * xi * (k.one + vmath.tanh(inner))


@twin(error_model="numpy")
def gelu_tanh_backward(grad, x, result, out):
    for i in prange(out.size):
        xi = x[i]
        k = _K32 if isinstance(xi, np.float32) else _K64
        x_sq = xi * xi
        t = vmath.tanh(k.tanh_beta * (xi + k.tanh_kappa * x_sq * xi))
        left_derivative = k.half * (k.one + t)
        right_derivative = k.half * xi * (k.one - t * t) * k.tanh_beta * (k.one + k.three * k.tanh_kappa * x_sq)
        out[i] = grad[i] * (left_derivative + right_derivative)


@twin(error_model="numpy")
def silu_forward(x, out):
    for i in prange(out.size):
        xi = x[i]
        out[i] = xi * vmath.sigmoid(xi)


@twin(error_model="numpy")
def silu_backward(grad, x, result, out):
    # sigmoid(x) (1 + x (1 - sigmoid(x)))
    for i in prange(out.size):
        xi = x[i]
        k = _K32 if isinstance(xi, np.float32) else _K64
        s = vmath.sigmoid(xi)
        out[i] = grad[i] * s * (k.one + xi * (k.one - s))


@twin(error_model="numpy")
def leaky_relu_forward(x, negative_slope, out):
    for i in prange(out.size):
        xi = x[i]
        out[i] = xi if xi > 0 else xi * negative_slope


@twin(error_model="numpy")
def leaky_relu_backward(grad, x, result, negative_slope, out):
    # the slope applies at 0 too; ``x`` may be the result (LeakyReluBackward1): same sign
    for i in prange(out.size):
        out[i] = grad[i] if x[i] > 0 else grad[i] * negative_slope


@twin(error_model="numpy")
def elu_forward(x, alpha, out):
    for i in prange(out.size):
        xi = x[i]
        out[i] = alpha * vmath.expm1(xi) if xi <= 0 else xi


@twin(error_model="numpy")
def elu_backward(grad, x, result, alpha, out):
    # EluBackward0, from the input: alpha exp(x) for x <= 0 (so alpha at 0)
    for i in prange(out.size):
        xi = x[i]
        out[i] = grad[i] * alpha * vmath.exp(xi) if xi <= 0 else grad[i]


@twin(error_model="numpy")
def elu_result_backward(grad, x, result, alpha, out):
    # EluBackward1 (in-place elu_), from the result: alpha exp(x) = result + alpha
    for i in prange(out.size):
        yi = result[i]
        out[i] = grad[i] * (yi + alpha) if yi <= 0 else grad[i]


@twin(error_model="numpy")
def hardtanh_backward(grad, x, result, min_val, max_val, out):
    # unlike clamp, the gradient is zero at the bounds themselves; and at NaN, as PyTorch's
    # vectorised kernel computes it (its scalar tail, for the last few elements, passes it through)
    for i in prange(out.size):
        xi = x[i]
        out[i] = grad[i] if (xi > min_val and xi < max_val) else 0


# ----------------------------------------------------------------------------- sign
@twin(error_model="numpy")
def sign_forward(x, out):
    # 1, -1 or 0; NaN gives 0, as in PyTorch
    for i in prange(out.size):
        xi = x[i]
        out[i] = 1 if xi > 0 else (-1 if xi < 0 else 0)


# ----------------------------------------------------------------------------- where / masked_fill
@twin(error_model="numpy")
def where_forward(condition, a, b, out):
    for i in prange(out.size):
        out[i] = a[i] if condition[i] else b[i]


@twin(error_model="numpy")
def where_backward(grad, condition, branch, out):
    # the gradient of one branch of where: grad where condition == branch, else 0
    for i in prange(out.size):
        out[i] = grad[i] if condition[i] == branch else 0


@twin(error_model="numpy")
def masked_fill_forward(x, mask, value, out):
    for i in prange(out.size):
        out[i] = value if mask[i] else x[i]


@njit(cache=True, error_model="numpy")
def masked_sum(grad, mask):
    # the gradient of a 0-d fill value: the sum of grad over the filled positions (float64)
    acc = 0.0
    for i in range(grad.size):
        if mask[i]:
            acc += grad[i]
    return acc


# ----------------------------------------------------------------------------- lerp
@njit(cache=True, error_model="numpy")
def lerp_scalar_forward(a, b, weight, out):
    # PyTorch's two-sided formula: exact at weight 0 and at weight 1
    if abs(weight) < 0.5:
        for i in range(out.size):
            out[i] = a[i] + weight * (b[i] - a[i])
    else:
        for i in range(out.size):
            out[i] = b[i] - (b[i] - a[i]) * (1 - weight)


@njit(cache=True, error_model="numpy")
def lerp_scalar_backward(grad, weight, grad_a, grad_b):
    for i in range(grad.size):
        g = grad[i]
        grad_a[i] = g * (1 - weight)
        grad_b[i] = g * weight


@twin(error_model="numpy")
def lerp_forward(a, b, weight, out):
    for i in prange(out.size):
        w = weight[i]
        if abs(w) < 0.5:
            out[i] = a[i] + w * (b[i] - a[i])
        else:
            out[i] = b[i] - (b[i] - a[i]) * (1 - w)


@njit(cache=True, error_model="numpy")
def lerp_backward(grad, a, b, weight, grad_a, grad_b, grad_weight):
    for i in range(grad.size):
        g = grad[i]
        w = weight[i]
        grad_a[i] = g * (1 - w)
        grad_b[i] = g * w
        grad_weight[i] = g * (b[i] - a[i])
