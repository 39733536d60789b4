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

import numpy as np
from numba import njit, prange


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
    # vector p-norm over the middle axis; p == inf -> max |x|, p == 0 -> count of non-zeros
    outer, n, inner = x.shape
    for i in range(outer):
        for k in range(inner):
            acc = 0.0
            if p == np.inf:
                for j in range(n):
                    acc = max(acc, abs(x[i, j, k]))
            elif p == 0:
                for j in range(n):
                    if x[i, j, k] != 0:
                        acc += 1.0
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
def norm_middle_backward(grad, x, norm, p, out):
    # d||x||_p/dx = sign(x) |x|^(p-1) / ||x||^(p-1); zero where the norm is zero (PyTorch).
    # For p == inf the gradient is shared equally among the entries attaining the max.
    outer, n, inner = x.shape
    for i in range(outer):
        for k in range(inner):
            nrm = norm[i, k]
            g = grad[i, k]
            if nrm == 0 or p == 0:
                for j in range(n):
                    out[i, j, k] = 0
            elif p == np.inf:
                count = 0
                for j in range(n):
                    if abs(x[i, j, k]) == nrm:
                        count += 1
                for j in range(n):
                    v = x[i, j, k]
                    if abs(v) == nrm:
                        out[i, j, k] = g * (1 if v > 0 else -1) / count
                    else:
                        out[i, j, k] = 0
            elif p == 2:
                for j in range(n):
                    out[i, j, k] = g * x[i, j, k] / nrm
            elif p == 1:
                for j in range(n):
                    v = x[i, j, k]
                    out[i, j, k] = g if v > 0 else (-g if v < 0 else 0)
            else:
                scale = g / nrm ** (p - 1)
                for j in range(n):
                    v = x[i, j, k]
                    a = abs(v) ** (p - 1) * scale
                    out[i, j, k] = a if v > 0 else (-a if v < 0 else 0)


# Serial kernel -> parallel twin, and the size from which the twin is used: measured as in
# kernels/elementwise.py, the vectorised serial sum is so cheap (~0.04 ns/element) that the
# twin breaks even only at ~64k elements and halves the time from 128k on.
PARALLEL = {sum_all_forward: sum_all_forward_parallel}
PARALLEL_THRESHOLD = 1 << 17
