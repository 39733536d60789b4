"""Reduction kernels.

A reduction over one dim (or a run of adjacent dims) of a C-contiguous array is a
reduction over the middle axis of the 3-D view ``(outer, n, inner)``; the Python layer
builds that view, so these kernels compile once per dtype whatever the input's ndim.
The inner axis is the fast one: the loops run over it last so LLVM can vectorise them.
"""
import math

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy")
def sum_all_forward(x, acc):
    # ``acc`` is the accumulator's zero: 0.0 (float64) for floats, 0 (int64) for ints.
    # Accumulating float32 in float64 keeps large sums accurate.
    for i in range(x.size):
        acc += x[i]
    return acc


@njit(cache=True, error_model="numpy")
def sum_middle_forward(x, out):
    # x: (outer, n, inner) -> out: (outer, inner)
    outer, n, inner = x.shape
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
