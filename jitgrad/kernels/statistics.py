"""Statistics kernels: max/min (with indices), amax/amin, prod, var/std, logsumexp, cumsum,
cumprod.

Like ``kernels/reduction.py`` they see a reduction over one dim (or a run of adjacent dims) as
the middle axis of a C-contiguous ``(outer, n, inner)`` view, built by the Python layer (a
reduction over everything is ``(1, numel, 1)``), so each compiles once per dtype whatever the
input's ndim.  Reduced results are ``(outer, inner)``; scans keep ``(outer, n, inner)``.  Loops
run over ``inner`` last, the contiguous axis.  Float32 accumulates in float64 (PyTorch's CPU
accumulation type), integers in int64.
"""
import numpy as np
from ._jit import njit

from . import vmath


# ----------------------------------------------------------------------------- max / min
@njit(cache=True, inline="always", error_model="numpy")
def _greater(v, best):
    return v > best


@njit(cache=True, inline="always", error_model="numpy")
def _less(v, best):
    return v < best


@njit(cache=True, inline="always", error_model="numpy")
def _first_extreme_middle(x, values, indices, beats):
    # the first element of each slice that no later one beats; NaN beats everything (the first
    # NaN wins), as in PyTorch
    outer, n, inner = x.shape
    for i in range(outer):
        for k in range(inner):
            values[i, k] = x[i, 0, k]
            indices[i, k] = 0
        for j in range(1, n):
            for k in range(inner):
                v = x[i, j, k]
                best = values[i, k]
                if beats(v, best) or (v != v and best == best):
                    values[i, k] = v
                    indices[i, k] = j


@njit(cache=True, error_model="numpy")
def max_middle_forward(x, values, indices):
    _first_extreme_middle(x, values, indices, _greater)


@njit(cache=True, error_model="numpy")
def min_middle_forward(x, values, indices):
    _first_extreme_middle(x, values, indices, _less)


@njit(cache=True, error_model="numpy")
def select_middle_backward(grad, indices, out):
    # max(dim)/min(dim): each slice's gradient goes to the one selected element (zeroing then
    # adding is also conv.avg_pool2d_backward's and adaptive_avg_pool2d_backward's shape, with
    # other logic)
    outer, n, inner = out.shape
    for i in range(outer):
        for j in range(n):
            for k in range(inner):
                out[i, j, k] = 0
        for k in range(inner):
            out[i, indices[i, k], k] = grad[i, k]


@njit(cache=True, error_model="numpy")
def ties_middle_backward(grad, x, result, nan_is_tie, out):
    # (the case-by-case shape of reduction.norm_middle_backward, not its logic)
    # amax/amin and max()/min(): grad shared equally among the elements equal to the result.
    # amax/amin: PyTorch computes (grad / count) * mask: a NaN result matches nothing, so amax
    # spreads NaN (0 * inf), and so does a NaN/inf grad.  max() without dim (nan_is_tie) counts
    # the NaN elements as the ties instead, and scatters (masked_fill of zeros): the other
    # elements get exactly 0 whatever the grad.
    outer, n, inner = x.shape
    for i in range(outer):
        for k in range(inner):
            r = result[i, k]
            match_nan = nan_is_tie and r != r
            count = 0
            for j in range(n):
                v = x[i, j, k]
                if v == r or (match_nan and v != v):
                    count += 1
            share = grad[i, k] / count
            for j in range(n):
                v = x[i, j, k]
                if v == r or (match_nan and v != v):
                    out[i, j, k] = share
                elif nan_is_tie:
                    out[i, j, k] = 0
                else:
                    out[i, j, k] = share * 0


# ----------------------------------------------------------------------------- prod
@njit(cache=True, error_model="numpy")
def prod_middle_forward(x, one, out):
    # ``one`` is the accumulator's unit: 1.0 (float64) for floats, 1 (int64) for integers.
    # (cumprod_middle_forward is this loop storing every partial product; kept apart so this
    # one writes each result once)
    outer, n, inner = x.shape
    acc = np.full(inner, one)
    for i in range(outer):
        for k in range(inner):
            acc[k] = one
        for j in range(n):
            for k in range(inner):
                acc[k] *= x[i, j, k]
        for k in range(inner):
            out[i, k] = acc[k]


@njit(cache=True, error_model="numpy")
def prod_middle_backward(grad, x, result, whole, out):
    # PyTorch's prod_backward, overflow and rounding included.  With no zero anywhere in the
    # input: g * (result / x_j).  With a zero anywhere (the choice is global, not per slice):
    # g * (prefix_j * suffix_j), the exclusive products built as PyTorch's cumprod builds them (a
    # float64 accumulator rounded to x's dtype at each step), so a prefix that overflowed to inf
    # times a suffix holding the zero is NaN, as in PyTorch.  ``whole`` (prod of every element):
    # two or more zeros give an all-zero gradient (PyTorch's shortcut outside create_graph).
    outer, n, inner = x.shape
    zeros = 0
    for i in range(outer):
        for j in range(n):
            for k in range(inner):
                if x[i, j, k] == 0:
                    zeros += 1
    if zeros == 0:
        for i in range(outer):
            for k in range(inner):
                g = grad[i, k]
                r = result[i, k]
                for j in range(n):
                    out[i, j, k] = g * (r / x[i, j, k])
        return
    if whole and zeros > 1:
        for i in range(outer):
            for j in range(n):
                for k in range(inner):
                    out[i, j, k] = 0
        return
    prefix = np.empty(n, x.dtype)
    suffix = np.empty(n, x.dtype)
    for i in range(outer):
        for k in range(inner):
            acc = 1.0
            for j in range(n):
                prefix[j] = acc
                acc *= x[i, j, k]
            acc = 1.0
            for j in range(n - 1, -1, -1):
                suffix[j] = acc
                acc *= x[i, j, k]
            g = grad[i, k]
            for j in range(n):
                out[i, j, k] = g * (prefix[j] * suffix[j])


# ----------------------------------------------------------------------------- var / std
@njit(cache=True, error_model="numpy")
def var_middle_forward(x, correction, take_sqrt, out):
    # two passes (mean, then squared deviations) in float64; divisor max(0, n - correction)
    outer, n, inner = x.shape
    divisor = max(0.0, n - correction)
    for i in range(outer):
        for k in range(inner):
            total = 0.0
            for j in range(n):
                total += x[i, j, k]
            mean = total / n
            m2 = 0.0
            for j in range(n):
                d = x[i, j, k] - mean
                m2 += d * d
            v = m2 / divisor
            out[i, k] = np.sqrt(v) if take_sqrt else v


@njit(cache=True, error_model="numpy")
def var_middle_backward(grad, x, result, correction, is_std, all_dims, out):
    # var: 2 / (n - correction) * grad * (x - mean).  std: the same with grad / (2 std),
    # which PyTorch sets to 0 where std == 0.  Reducing everything with n <= correction,
    # PyTorch gives grad * (NaN where x == mean, else inf) instead
    outer, n, inner = x.shape
    dof = n - correction
    no_dof = all_dims and dof <= 0
    scale = 2.0 / dof
    for i in range(outer):
        for k in range(inner):
            g = grad[i, k]
            if is_std:
                r = result[i, k]
                g = 0.0 if r == 0 else g / (2 * r)
            total = 0.0
            for j in range(n):
                total += x[i, j, k]
            mean = total / n
            for j in range(n):
                d = x[i, j, k] - mean
                if no_dof:
                    out[i, j, k] = g * (np.nan if d == 0 else np.inf)
                else:
                    out[i, j, k] = scale * g * d


# ----------------------------------------------------------------------------- logsumexp
@njit(cache=True, error_model="numpy")
def logsumexp_middle_forward(x, out):
    # max + log(sum(exp(x - max))); an infinite max is replaced by 0 (PyTorch), so all -inf
    # gives -inf and a +inf gives +inf instead of NaN
    outer, n, inner = x.shape
    for i in range(outer):
        for k in range(inner):
            m = -np.inf
            for j in range(n):
                v = x[i, j, k]
                if v > m:
                    m = v
            if np.isinf(m):
                m = 0.0
            total = 0.0
            for j in range(n):
                total += vmath.exp(x[i, j, k] - m)
            out[i, k] = vmath.log(total) + m


@njit(cache=True, error_model="numpy")
def logsumexp_middle_backward(grad, x, result, out):
    # softmax times grad: exp(x - logsumexp) (joining.trilu_forward has this loop's shape only)
    outer, n, inner = x.shape
    for i in range(outer):
        for j in range(n):
            for k in range(inner):
                out[i, j, k] = grad[i, k] * vmath.exp(x[i, j, k] - result[i, k])


# ----------------------------------------------------------------------------- cumsum / cumprod
@njit(cache=True, error_model="numpy")
def cumsum_middle_forward(x, zero, out):
    # ``zero``: 0.0 (float64 accumulation) for floats, 0 (int64) for integers
    # (cumprod_middle_forward's loop with a sum: one jitted loop per operation, as for prod / cumprod)
    outer, n, inner = x.shape
    acc = np.full(inner, zero)
    for i in range(outer):
        for k in range(inner):
            acc[k] = zero
        for j in range(n):
            for k in range(inner):
                acc[k] += x[i, j, k]
                out[i, j, k] = acc[k]


@njit(cache=True, error_model="numpy")
def reverse_cumsum_middle(grad, out):
    # cumsum's backward: the sum of grad from each position to the end of the slice
    outer, n, inner = grad.shape
    acc = np.empty(inner, np.float64)
    for i in range(outer):
        for k in range(inner):
            acc[k] = 0.0
        for j in range(n - 1, -1, -1):
            for k in range(inner):
                acc[k] += grad[i, j, k]
                out[i, j, k] = acc[k]


@njit(cache=True, error_model="numpy")
def cumprod_middle_forward(x, one, out):
    # (prod_middle_forward's loop, storing every partial product)
    outer, n, inner = x.shape
    acc = np.full(inner, one)
    for i in range(outer):
        for k in range(inner):
            acc[k] = one
        for j in range(n):
            for k in range(inner):
                acc[k] *= x[i, j, k]
                out[i, j, k] = acc[k]


@njit(cache=True, error_model="numpy")
def cumprod_middle_backward(grad, x, result, out):
    # d/dx_m of sum_j g_j y_j, with y_j = prod_{i <= j} x_i.  Before the first zero z of a
    # slice: sum_{j >= m} g_j y_j / x_m (the y_j past z are 0).  At z: sum_{j >= z} g_j times
    # the product of x_0..x_j without x_z (a running product), up to the next zero.  After z: 0.
    outer, n, inner = x.shape
    for i in range(outer):
        for k in range(inner):
            z = n
            for j in range(n):
                if x[i, j, k] == 0:
                    z = j
                    break
            acc = 0.0
            for j in range(z - 1, -1, -1):
                acc += grad[i, j, k] * result[i, j, k]
                out[i, j, k] = acc / x[i, j, k]
            if z < n:
                # PyTorch's order: the product before z times the sum of g_j * prod_{z < i <= j} x_i
                running = 1.0
                total = grad[i, z, k] * running
                for j in range(z + 1, n):
                    running *= x[i, j, k]
                    total += grad[i, j, k] * running
                    if x[i, j, k] == 0:  # past a second zero every term is 0 (PyTorch leaves them out:
                        break            # a NaN or inf beyond it does not reach x_z's gradient)
                out[i, z, k] = total * (result[i, z - 1, k] if z > 0 else 1.0)
                for j in range(z + 1, n):
                    out[i, j, k] = 0
