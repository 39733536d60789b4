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
"""
import math

import numpy as np
from numba import njit


# ----------------------------------------------------------------------------- add / sub
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
    # d(a/b)/db = -a / b^2
    for i in range(out.size):
        bi = b[i]
        out[i] = -grad[i] * a[i] / (bi * bi)


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
def pow_backward_exponent(grad, a, result, out):
    # d(a^b)/db = a^b * log(a); PyTorch defines it as 0 where a == 0 and b >= 0
    for i in range(out.size):
        ai = a[i]
        if ai == 0:
            out[i] = 0
        else:
            out[i] = grad[i] * result[i] * math.log(ai)


@njit(cache=True, error_model="numpy")
def pow_scalar_forward(a, p, out):
    for i in range(out.size):
        out[i] = a[i] ** p


@njit(cache=True, error_model="numpy")
def pow_scalar_backward(grad, a, p, out):
    # d(a^p)/da = p * a^(p-1), exactly 0 for p == 0 (PyTorch's pow_backward)
    if p == 0:
        for i in range(out.size):
            out[i] = 0
    else:
        for i in range(out.size):
            out[i] = grad[i] * p * a[i] ** (p - 1)


@njit(cache=True, error_model="numpy")
def rpow_scalar_forward(s, b, out):
    # s ** b for a scalar base: PyTorch's PowBackward2
    for i in range(out.size):
        out[i] = s ** b[i]


@njit(cache=True, error_model="numpy")
def rpow_scalar_backward(grad, result, log_s, out):
    # d(s^b)/db = s^b * log(s)
    for i in range(out.size):
        out[i] = grad[i] * result[i] * log_s


# ----------------------------------------------------------------------------- unary math
@njit(cache=True, error_model="numpy")
def neg_forward(x, out):
    # also neg's backward: -g
    for i in range(out.size):
        out[i] = -x[i]


@njit(cache=True, error_model="numpy")
def exp_forward(x, out):
    for i in range(out.size):
        out[i] = np.exp(x[i])


@njit(cache=True, error_model="numpy")
def exp_backward(grad, x, result, out):
    for i in range(out.size):
        out[i] = grad[i] * result[i]


@njit(cache=True, error_model="numpy")
def log_forward(x, out):
    for i in range(out.size):
        out[i] = np.log(x[i])


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
        out[i] = np.tanh(x[i])


@njit(cache=True, error_model="numpy")
def tanh_backward(grad, x, result, out):
    for i in range(out.size):
        yi = result[i]
        out[i] = grad[i] * (1 - yi * yi)


@njit(cache=True, error_model="numpy")
def sigmoid_forward(x, out):
    # two branches so that exp never overflows: exp(-|x|) <= 1
    for i in range(out.size):
        xi = x[i]
        if xi >= 0:
            out[i] = 1 / (1 + np.exp(-xi))
        else:
            e = np.exp(xi)
            out[i] = e / (1 + e)


@njit(cache=True, error_model="numpy")
def sigmoid_backward(grad, x, result, out):
    for i in range(out.size):
        yi = result[i]
        out[i] = grad[i] * yi * (1 - yi)


@njit(cache=True, error_model="numpy")
def relu_forward(x, out):
    # NaN propagates, as in PyTorch (x > 0 is False for NaN, so test x <= 0)
    for i in range(out.size):
        xi = x[i]
        out[i] = 0 if xi <= 0 else xi


@njit(cache=True, error_model="numpy")
def relu_backward(grad, x, result, out):
    for i in range(out.size):
        out[i] = grad[i] if result[i] > 0 else 0


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
