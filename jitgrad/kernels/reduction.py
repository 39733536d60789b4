"""Reduction kernels.

A reduction over one dim (or a run of adjacent dims) of a C-contiguous array is a
reduction over the middle axis of the 3-D view ``(outer, n, inner)``; the Python layer
builds that view, so these kernels compile once per dtype whatever the input's ndim.
The inner axis is the fast one: the loops run over it last so LLVM can vectorise them.

Sums are compiled with ``fastmath={"reassoc"}`` and nothing else: it lets LLVM keep several
SIMD partial sums instead of one serial chain (about 10x faster on a large float32 sum, and a
blocked order that is more accurate than the serial one), while NaN and inf keep their IEEE
behaviour (no ``nnan``/``ninf``).  The order depends only on the length, so a
sum is reproducible run to run; the parallel twin splits it differently (last bits may differ).
"""
import math
import sys

import numpy as np
from numba import prange

from ._jit import PARALLEL, njit, pair  # noqa: F401 (PARALLEL: the op layer's table)


@njit(cache=True, error_model="numpy", fastmath={"reassoc"})
def sum_all_forward(x, acc):
    # ``acc`` is the accumulator's zero: 0.0 (float64) for floats, 0 (int64) for ints.
    # Accumulating float32 in float64 keeps large sums accurate.
    for i in range(x.size):
        acc += x[i]
    return acc


@njit(cache=True, parallel=True, error_model="numpy", fastmath={"reassoc"})
def sum_all_forward_parallel(x, acc):
    # each thread sums its own chunk (vectorised as above); the partial sums are then added
    for i in prange(x.size):
        acc += x[i]
    return acc


@njit(cache=True, error_model="numpy", fastmath={"reassoc"})
def sum_middle_forward(x, out):
    # x: (outer, n, inner) -> out: (outer, inner)
    outer, n, inner = x.shape
    if inner == 1:  # a sum over the last axis: one contiguous run per output, vectorised
        for i in range(outer):
            out[i, 0] = 0
            acc = out[i, 0]
            for j in range(n):
                acc += x[i, j, 0]
            out[i, 0] = acc
        return
    for i in range(outer):
        for k in range(inner):
            out[i, k] = 0
        for j in range(n):
            for k in range(inner):
                out[i, k] += x[i, j, k]


@njit(cache=True, error_model="numpy")
def norm_middle_forward(x, p, out):
    # vector p-norm over the middle axis; p == inf -> max |x|, p == -inf -> min |x| (NaN
    # propagating, as in PyTorch), p == 0 -> count of non-zeros; one element is |x| itself
    # (as in PyTorch: no under/overflow in x**p for a denormal or huge x)
    outer, n, inner = x.shape
    for i in range(outer):
        for k in range(inner):
            acc = 0.0
            if p == 0:
                for j in range(n):
                    if x[i, j, k] != 0:
                        acc += 1.0
            elif n == 1:
                acc = abs(x[i, 0, k])
            elif p == np.inf or p == -np.inf:
                acc = 0.0 if p == np.inf else np.inf
                for j in range(n):
                    a = abs(x[i, j, k])
                    if a != a:
                        acc = a
                        break
                    if (a > acc) if p == np.inf else (a < acc):
                        acc = a
            elif p == 2:
                for j in range(n):
                    v = x[i, j, k]
                    acc += v * v
                acc = math.sqrt(acc)
            elif p == 1:
                for j in range(n):
                    acc += abs(x[i, j, k])
            else:
                for j in range(n):
                    acc += abs(x[i, j, k]) ** p
                acc = acc ** (1.0 / p)
            out[i, k] = acc


@njit(cache=True, error_model="numpy")
def _sgn(v):
    # PyTorch's sgn for real numbers: 0 for 0 and NaN
    return 1.0 if v > 0 else (-1.0 if v < 0 else 0.0)


@njit(cache=True, error_model="numpy")
def norm_middle_backward(grad, x, norm, p, out):
    # (statistics.ties_middle_backward has this case-by-case shape, with other logic)
    # PyTorch's norm_backward, case by case (p == 0 has no gradient: the caller returns None):
    # p == 2: g * x / norm; p == +-inf: the gradient shared equally among the entries attaining
    # the norm (or NaN); p < 1: sgn(x) |x|^(p-1) g norm^(1-p), 0 where x == 0; otherwise
    # x |x|^(p-2) g / norm^(p-1) (sgn(x) |x|^(p-1) for p < 2); 0 where the norm is 0
    outer, n, inner = x.shape
    for i in range(outer):
        for k in range(inner):
            nrm = norm[i, k]
            g = grad[i, k]
            if p == 1:
                for j in range(n):
                    out[i, j, k] = _sgn(x[i, j, k]) * g
            elif p == 2:
                for j in range(n):
                    out[i, j, k] = 0 if nrm == 0 else g * (x[i, j, k] / nrm)
            elif p == np.inf or p == -np.inf:
                count = 0
                for j in range(n):
                    a = abs(x[i, j, k])
                    if a == nrm or a != a:
                        count += 1
                share = g / count
                for j in range(n):
                    v = x[i, j, k]
                    a = abs(v)
                    out[i, j, k] = _sgn(v) * (share * (1.0 if (a == nrm or a != a) else 0.0))
            elif p < 1:
                scale = g * nrm ** (1 - p)
                for j in range(n):
                    v = x[i, j, k]
                    out[i, j, k] = 0 if v == 0 else _sgn(v) * abs(v) ** (p - 1) * scale
            else:
                scale = 0 if nrm == 0 else g / nrm ** (p - 1)
                for j in range(n):
                    v = x[i, j, k]
                    if p < 2:
                        out[i, j, k] = _sgn(v) * abs(v) ** (p - 1) * scale
                    else:
                        out[i, j, k] = v * abs(v) ** (p - 2) * scale


# The parallel sum adds in another order (blocks per thread), so it is its own loop, paired with
# the serial one by hand; and the size from which it is used: measured as in
# kernels/elementwise.py, the vectorised serial sum is so cheap (~0.04 ns/element) that the
# twin breaks even only at ~64k elements and halves the time from 128k on.
pair(sum_all_forward, sum_all_forward_parallel, sys.modules[__name__])
PARALLEL_THRESHOLD = 1 << 17
