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
Each loop that pays off on many threads is written once, with ``prange``, under ``@twin``
(``kernels/_jit.py``): compiled serial (``prange`` runs as ``range``) and with ``parallel=True``,
each with its own cache entry.  ``PARALLEL`` maps each serial kernel to its twin (also bound as
``<name>_parallel``); the op layer switches to the twin for arrays of ``PARALLEL_THRESHOLD``
elements or more, where the gain from splitting the loop over the threads outweighs the launch
cost (measured on a 2-core machine, see the constant).  Parallel kernels compile only when first
used on a large array, so small workloads never pay their (slower) compilation.  The thread count
is ``jitgrad.set_num_threads`` (default: ``NUMBA_NUM_THREADS``, i.e. all cores).
"""
import numpy as np
from numba import prange

from ._jit import PARALLEL, njit, twin  # noqa: F401 (PARALLEL: the op layer's table)

from . import vmath


# ----------------------------------------------------------------------------- add / sub
@twin(error_model="numpy")
def fill_scalar(s, out):
    # the gradient of a full reduction, spread back over its input
    for i in prange(out.size):
        out[i] = s


@twin(error_model="numpy")
def add3_forward(a, b, c, out):
    # three gradients of one tensor summed in one pass (the engine's deferred sums)
    for i in prange(out.size):
        out[i] = (a[i] + b[i]) + c[i]


@twin(error_model="numpy")
def add_forward(a, b, out):
    for i in prange(out.size):
        out[i] = a[i] + b[i]


@twin(error_model="numpy")
def rsub_scalar_forward(a, s, out):
    # s - a: the forward of ``2 - x`` (PyTorch's RsubBackward1)
    for i in prange(out.size):
        out[i] = s - a[i]


# ----------------------------------------------------------------------------- mul
@twin(error_model="numpy")
def mul_forward(a, b, out):
    # also the backward kernel of mul: d(a*b)/da * g = g * b
    for i in prange(out.size):
        out[i] = a[i] * b[i]


@twin(error_model="numpy")
def mul_backward_square(g, a, out):
    # x * x: both gradients (g*a + g*a) in one pass; 2*(g*a) is that sum exactly
    for i in prange(out.size):
        out[i] = (g[i] * a[i]) * 2


@twin(error_model="numpy")
def mul_scalar_forward(a, s, out):
    for i in prange(out.size):
        out[i] = a[i] * s


# ----------------------------------------------------------------------------- pow


@twin(error_model="numpy")
def pow_scalar_forward(a, p, out):
    # integer tensors (float ones use pow_float_scalar_forward)
    for i in prange(out.size):
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


@twin(error_model="numpy")
def pow_float_scalar_forward(a, p, out):
    for i in prange(out.size):
        out[i] = float_pow(a[i], p)


@twin(error_model="numpy")
def pow_scalar_backward(grad, a, p, out):
    # d(a^p)/da = grad * (p * a^(p-1)), exactly 0 for p == 0 (PyTorch's pow_backward)
    if p == 0:
        for i in prange(out.size):
            out[i] = 0
    else:
        for i in prange(out.size):
            out[i] = grad[i] * (p * float_pow(a[i], p - 1))


@twin(error_model="numpy")
def rpow_scalar_forward(s, b, out):
    # s ** b for a scalar base: PyTorch's PowBackward2
    for i in prange(out.size):
        out[i] = s ** b[i]


@twin(error_model="numpy")
def rpow_scalar_backward(grad, result, log_s, out):
    # d(s^b)/db = s^b * log(s); for s == 0 (log_s == -inf) PyTorch defines it as 0 where b >= 0,
    # i.e. where the result 0 ** b is 0 or 1
    zero_base = log_s == -np.inf
    for i in prange(out.size):
        yi = result[i]
        out[i] = 0 if (zero_base and yi <= 1) else grad[i] * yi * log_s


# ----------------------------------------------------------------------------- unary math
@twin(error_model="numpy")
def neg_forward(x, out):
    # also neg's backward: -g
    for i in prange(out.size):
        out[i] = -x[i]


@twin(error_model="numpy")
def clamp_forward(x, low, high, out):
    # low/high are -inf/+inf when absent; NaN in x propagates
    for i in prange(out.size):
        xi = x[i]
        if xi < low:
            xi = low
        if xi > high:
            xi = high
        out[i] = xi


@twin(error_model="numpy")
def clamp_backward(grad, x, low, high, out):
    # gradient passes where low <= x <= high (PyTorch includes the bounds)
    for i in prange(out.size):
        xi = x[i]
        out[i] = grad[i] if (xi >= low and xi <= high) else 0


# ----------------------------------------------------------------------------- scatter
@njit(cache=True, error_model="numpy")
def index_add_flat(out, index, values):
    # out[index[i]] += values[i]; duplicates accumulate (the gradient of a gather)
    for i in range(index.size):
        out[index[i]] += values[i]


# Elements from which the parallel twins are used.  Measured on the 2-core AMD EPYC VM with
# 2 threads (best of 400 calls each, float32 / float64): a parallel launch costs ~1.5 us; the
# twins of cheap kernels (add, mul by a scalar, tanh_backward) break even at 32k-64k elements
# (at 65536: 0.76-1.08x the serial time in float32, 0.53-0.71x in float64) and take half the
# time from 128k on; the vmath kernels (exp, tanh, sigmoid) win from 8k-16k (0.55-0.58x at 65536).
# One threshold for all: 2**16.
PARALLEL_THRESHOLD = 1 << 16
