"""Neural-network kernels: the softmax family, cross entropy and the other losses, dropout,
layer and batch normalisation, embedding.

Plain loops over NumPy arrays, no Tensor in sight.  Ops over a dim see the ``(outer, n, inner)``
view built by the Python layer (the dim in the middle), so each kernel compiles once per dtype
whatever the input's ndim; elementwise losses see flat 1-D arrays.  Each forward kernel sits
right above its backward kernel.

Conventions
-----------
* Sums are accumulated in float64 (``acc = 0.0``), also for float32 data.
* Optional per-class / per-element weights are passed as an array that is empty when absent,
  so one compiled specialisation serves both cases.
* A loss's backward takes the upstream gradient as an array ``grad`` and a flag ``reduced``:
  when the loss was reduced to a scalar, ``grad[0]`` (times ``scale``: ``1/n`` for 'mean')
  applies to every element.
"""
import math

import numpy as np
from ._jit import njit

from . import vmath


# ============================================================================ softmax family
# The exps are computed in their own loops over unit-stride rows and stored, the sums in
# separate loops: with the vectorisable exp (``vmath.exp``, measured 2.5-3.7x faster on rows of
# 64-1000 elements) those loops compile to SIMD code.  exp/log/log1p/softplus/sigmoid here are
# all vmath's (importing vmath drops this directory's kernel caches when vmath changes).  No
# fastmath here: "reassoc" would fold away vmath's round-to-integer trick.
_exp = vmath.exp


# Pure float64 sums over a unit-stride row, with fastmath "reassoc" only (so LLVM may split the
# sum into SIMD partial sums: ~13x faster on rows of 1000 float32); inlined into the callers,
# whose own instructions keep strict IEEE semantics.
@njit(cache=True, error_model="numpy", fastmath={"reassoc"}, forceinline=True)
def _row_sum(a):
    s = 0.0
    for j in range(a.size):
        s += a[j]
    return s


@njit(cache=True, error_model="numpy", fastmath={"reassoc"}, forceinline=True)
def _row_dot(a, b):
    s = 0.0
    for j in range(a.size):
        s += a[j] * b[j]
    return s


@njit(cache=True, error_model="numpy", forceinline=True)
def _row_max(a):
    m = a[0]
    for j in range(1, a.size):
        v = a[j]
        m = v if v > m else m
    return m


@njit(cache=True, error_model="numpy", forceinline=True)
def _shifted_exps_down_middle(x, i, m, s, out):
    # The softmax family's first passes over a dim other than the last, walking unit-stride rows:
    # m[k] = max over j of x[i, j, k]; out[i, j, k] = exp(x[i, j, k] - m[k]); s[k] = their sum
    n = x.shape[1]
    for k in range(m.size):
        m[k] = x[i, 0, k]
        s[k] = 0.0
    for j in range(1, n):
        row = x[i, j]
        for k in range(m.size):
            v = row[k]
            m[k] = v if v > m[k] else m[k]
    for j in range(n):
        row = x[i, j]
        orow = out[i, j]
        for k in range(m.size):
            e = _exp(row[k] - m[k])
            orow[k] = e
            s[k] += e


@njit(cache=True, error_model="numpy", forceinline=True)
def _softmax_family_forward(x, out, row_kernel, finish_down_middle):
    # softmax and log_softmax differ only in their kernel over a unit-stride row (inner == 1) and
    # in their last pass over a dim other than the last (after _shifted_exps_down_middle)
    outer, n, inner = x.shape
    if inner == 1:
        x2 = x.reshape(outer, n)
        o2 = out.reshape(outer, n)
        for i in range(outer):
            row_kernel(x2[i], o2[i])
        return
    m = np.empty(inner, x.dtype)
    s = np.empty(inner, np.float64)
    for i in range(outer):
        _shifted_exps_down_middle(x, i, m, s, out)
        finish_down_middle(x, i, m, s, out)


@njit(cache=True, error_model="numpy")
def _softmax_row(x, out):
    m = _row_max(x)
    for j in range(x.size):
        out[j] = _exp(x[j] - m)
    r = 1.0 / _row_sum(out)
    for j in range(x.size):
        out[j] *= r


@njit(cache=True, error_model="numpy", forceinline=True)
def _softmax_finish_down_middle(x, i, m, s, out):
    # out[i, j, k] holds exp(x - max): divide by the sum s[k]
    for k in range(s.size):
        s[k] = 1.0 / s[k]
    for j in range(x.shape[1]):
        orow = out[i, j]
        for k in range(s.size):
            orow[k] *= s[k]


@njit(cache=True, error_model="numpy")
def softmax_forward(x, out):
    # exp(x - max) / sum: the max shift keeps every exp <= 1, so nothing overflows
    _softmax_family_forward(x, out, _softmax_row, _softmax_finish_down_middle)


@njit(cache=True, error_model="numpy")
def softmax_backward(grad, y, out):
    # dx = y * (g - sum(g * y))
    # (the same layout switch as log_softmax_backward's, written out in each: as shared helpers
    # taking the row and column kernels they measured ~10% slower on small tensors)
    outer, n, inner = y.shape
    if inner == 1:
        g2 = grad.reshape(outer, n)
        y2 = y.reshape(outer, n)
        o2 = out.reshape(outer, n)
        for i in range(outer):
            grow, yrow, orow = g2[i], y2[i], o2[i]
            dot = _row_dot(grow, yrow)
            for j in range(n):
                orow[j] = yrow[j] * (grow[j] - dot)
        return
    # PyTorch's rule over a dim other than the last (matched bit for bit on float32): the dot
    # accumulated down the dim in the data's dtype, one fused multiply-add per step.  A float32
    # product is exact in float64, so float64 arithmetic stored to float32 rounds once, as an fma
    # does.  (So sum(softmax) has the exact gradient 0 where PyTorch's has, not float64 noise.)
    dot = np.empty(inner, y.dtype)
    for i in range(outer):
        for k in range(inner):
            dot[k] = 0.0
        for j in range(n):
            grow = grad[i, j]
            yrow = y[i, j]
            for k in range(inner):
                dot[k] = dot[k] + np.float64(grow[k]) * yrow[k]
        for j in range(n):
            grow = grad[i, j]
            yrow = y[i, j]
            orow = out[i, j]
            for k in range(inner):
                orow[k] = yrow[k] * (grow[k] - dot[k])


@njit(cache=True, error_model="numpy")
def _log_softmax_row(x, out):
    m = _row_max(x)
    for j in range(x.size):
        out[j] = _exp(x[j] - m)
    # (x - max) - log(sum), not x - (max + log(sum)): for |x| >~ 1e8 (float32) the sum's
    # log would be rounded away next to max
    log_sum = vmath.log(_row_sum(out))
    for j in range(x.size):
        out[j] = (x[j] - m) - log_sum


@njit(cache=True, error_model="numpy", forceinline=True)
def _log_softmax_finish_down_middle(x, i, m, s, out):
    # (x - max) - log(sum); the exps left in out are overwritten (storing them in the shared pass
    # costs nothing measurable)
    for k in range(s.size):
        s[k] = vmath.log(s[k])
    for j in range(x.shape[1]):
        row = x[i, j]
        orow = out[i, j]
        for k in range(s.size):
            orow[k] = (row[k] - m[k]) - s[k]


@njit(cache=True, error_model="numpy")
def log_softmax_forward(x, out):
    # (x - max) - log(sum(exp(x - max)))
    _softmax_family_forward(x, out, _log_softmax_row, _log_softmax_finish_down_middle)


@njit(cache=True, error_model="numpy")
def log_softmax_backward(grad, y, out):
    # dx = g - exp(y) * sum(g)
    # (laid out as softmax_backward, which says why it is not shared)
    outer, n, inner = y.shape
    if inner == 1:
        g2 = grad.reshape(outer, n)
        y2 = y.reshape(outer, n)
        o2 = out.reshape(outer, n)
        for i in range(outer):
            grow, yrow, orow = g2[i], y2[i], o2[i]
            total = _row_sum(grow)
            for j in range(n):
                orow[j] = grow[j] - _exp(yrow[j]) * total
        return
    total = np.empty(inner, np.float64)
    for i in range(outer):
        for k in range(inner):
            total[k] = 0.0
        for j in range(n):
            grow = grad[i, j]
            for k in range(inner):
                total[k] += grow[k]
        for j in range(n):
            grow = grad[i, j]
            yrow = y[i, j]
            orow = out[i, j]
            for k in range(inner):
                orow[k] = grow[k] - _exp(yrow[k]) * total[k]


# ============================================================================ cross entropy
# The backward kernels re-read the targets, which the caller may have changed (through ``.data``,
# no version bump) after forward: each target is range-checked before it indexes anything, and
# the first bad one is returned as ``(1, target)`` (``(0, 0)`` when all are good).
@njit(cache=True, error_model="numpy")
def cross_entropy_forward(x, target, weight, ignore_index, smoothing, row_max, log_sum, loss):
    """log_softmax + nll (+ label smoothing) in one pass over each row of logits.

    x: (N, C, inner) logits; target: (N, inner) class indices; weight: (C,) or empty.
    Writes each row's max and log(sum(exp(x - max))) (for backward) and loss; returns (sum of
    the losses, sum of the target weights of the rows not ignored, first out-of-range target,
    count of them).  The two row statistics are kept apart, never added: max + log_sum would
    round log_sum away when |max| is large (1e8 in float32), and softmax = exp(x - max - log_sum).
    The logits of a row are copied to a unit-stride buffer first (for inner > 1), so that the
    exp loop vectorises.  (nll_loss_forward starts with the same accumulators.)
    """
    N, C, inner = x.shape
    has_w = weight.size > 0
    total = 0.0
    wtotal = 0.0
    nbad = 0
    bad = 0
    rows = np.empty((1, C), x.dtype) if inner > 1 else x.reshape(N, C)
    exps = np.empty(C, x.dtype)
    for i in range(N):
        for k in range(inner):
            t = target[i, k]
            if t == ignore_index or t < 0 or t >= C:
                if t != ignore_index:
                    if nbad == 0:
                        bad = t
                    nbad += 1
                loss[i, k] = 0
                row_max[i, k] = 0
                log_sum[i, k] = 0
                continue
            r = i
            if inner > 1:
                r = 0
                for j in range(C):
                    rows[0, j] = x[i, j, k]
            m = _row_max(rows[r])
            for j in range(C):
                exps[j] = _exp(rows[r, j] - m)
            ls = vmath.log(_row_sum(exps))
            row_max[i, k] = m
            log_sum[i, k] = ls
            wt = weight[t] if has_w else 1.0
            value = wt * ((m - rows[r, t]) + ls)  # -log_softmax(x)[t]
            if smoothing > 0:
                smooth = 0.0
                for j in range(C):
                    wj = weight[j] if has_w else 1.0
                    smooth += wj * ((m - rows[r, j]) + ls)
                value = (1 - smoothing) * value + smoothing / C * smooth
            loss[i, k] = value
            total += value
            wtotal += wt
    return total, wtotal, bad, nbad


@njit(cache=True, error_model="numpy")
def cross_entropy_backward(grad, reduced, scale, x, target, weight, ignore_index, smoothing, row_max, log_sum, out):
    # d loss_row / dx_j = softmax_j * ((1-e) w_t + e W / C) - (1-e) w_t [j == t] - e/C w_j
    # (W = sum of the class weights); rows with the ignored target get no gradient
    N, C, inner = x.shape
    has_w = weight.size > 0
    wall = 0.0
    if has_w:
        for j in range(C):
            wall += weight[j]
    else:
        wall = C
    g0 = grad[0] * scale if reduced else 0.0  # (unreduced: grad may be empty)
    x2 = x.reshape(N, C * inner)  # row i, class j, position k at column j * inner + k
    o2 = out.reshape(N, C * inner)
    for i in range(N):
        for k in range(inner):
            t = target[i, k]
            if t == ignore_index:
                for j in range(C):
                    o2[i, j * inner + k] = 0
                continue
            if t < 0 or t >= C:
                return 1, t
            g = g0 if reduced else grad[i * inner + k] * scale
            wt = weight[t] if has_w else 1.0
            a = g * ((1 - smoothing) * wt + smoothing * wall / C)
            m = row_max[i, k]
            ls = log_sum[i, k]
            if inner == 1:
                for j in range(C):
                    o2[i, j] = a * _exp((x2[i, j] - m) - ls)
            else:
                for j in range(C):
                    o2[i, j * inner + k] = a * _exp((x2[i, j * inner + k] - m) - ls)
            o2[i, t * inner + k] -= g * (1 - smoothing) * wt
            if smoothing > 0:
                for j in range(C):
                    wj = weight[j] if has_w else 1.0
                    o2[i, j * inner + k] -= g * smoothing / C * wj
    return 0, 0


@njit(cache=True, error_model="numpy")
def nll_loss_forward(x, target, weight, ignore_index, loss):
    """x: (N, C, inner) log-probabilities; loss_row = -w_t x[t].  Returns like cross_entropy_forward
    (whose accumulators it starts the same way; the row loops differ: no softmax here)."""
    N, C, inner = x.shape
    has_w = weight.size > 0
    total = 0.0
    wtotal = 0.0
    nbad = 0
    bad = 0
    for i in range(N):
        for k in range(inner):
            t = target[i, k]
            if t == ignore_index:
                loss[i, k] = 0
                continue
            if t < 0 or t >= C:
                if nbad == 0:
                    bad = t
                nbad += 1
                loss[i, k] = 0
                continue
            wt = weight[t] if has_w else 1.0
            row = -wt * x[i, t, k]
            loss[i, k] = row
            total += row
            wtotal += wt
    return total, wtotal, bad, nbad


@njit(cache=True, error_model="numpy")
def nll_loss_backward(grad, reduced, scale, target, weight, ignore_index, out):
    N, C, inner = out.shape
    has_w = weight.size > 0
    g0 = grad[0] * scale if reduced else 0.0  # (unreduced: grad may be empty)
    for i in range(N):
        for j in range(C):
            for k in range(inner):
                out[i, j, k] = 0
        for k in range(inner):
            t = target[i, k]
            if t == ignore_index:
                continue
            if t < 0 or t >= C:
                return 1, t
            g = g0 if reduced else grad[i * inner + k] * scale
            wt = weight[t] if has_w else 1.0
            out[i, t, k] = -wt * g
    return 0, 0


# ============================================================================ elementwise losses
@njit(cache=True, error_model="numpy")
def mse_loss_forward(a, b, out):
    # out: the elementwise losses (reduction='none'), or empty: only the sum is returned
    total = 0.0
    write = out.size > 0
    for i in range(a.size):
        d = a[i] - b[i]
        v = d * d
        if write:
            out[i] = v
        total += v
    return total


@njit(cache=True, error_model="numpy")
def mse_loss_backward(grad, reduced, scale, a, b, out):
    # d/da (a - b)^2 = 2 (a - b); the gradient for b is its negation
    g0 = grad[0] * scale if reduced else 0.0  # (unreduced: grad may be empty)
    for i in range(a.size):
        g = g0 if reduced else grad[i] * scale
        out[i] = 2 * (a[i] - b[i]) * g


@njit(cache=True, error_model="numpy")
def smooth_l1_loss_forward(a, b, beta, out):
    total = 0.0
    write = out.size > 0
    for i in range(a.size):
        d = abs(a[i] - b[i])
        v = 0.5 * d * d / beta if d < beta else d - 0.5 * beta
        if write:
            out[i] = v
        total += v
    return total


@njit(cache=True, error_model="numpy")
def smooth_l1_loss_backward(grad, reduced, scale, a, b, beta, out):
    # PyTorch's formula: -g below -beta, g above beta, g * d / beta in between
    g0 = grad[0] * scale if reduced else 0.0  # (unreduced: grad may be empty)
    for i in range(a.size):
        g = g0 if reduced else grad[i] * scale
        d = a[i] - b[i]
        if d < -beta:
            out[i] = -g
        elif d > beta:
            out[i] = g
        else:
            out[i] = g * d / beta


@njit(cache=True, error_model="numpy")
def binary_cross_entropy_forward(x, t, w, out):
    # -w (t log x + (1 - t) log(1 - x)), each log clamped at -100 as PyTorch does (so x = 0 or 1
    # gives a finite loss); returns the count of inputs outside [0, 1] (an error)
    has_w = w.size > 0
    write = out.size > 0
    total = 0.0
    nbad = 0
    for i in range(x.size):
        xi = x[i]
        if not (xi >= 0 and xi <= 1):
            nbad += 1
            continue
        log_x = max(vmath.log(xi), -100.0)
        log_1mx = max(vmath.log1p(-xi), -100.0)
        v = (t[i] - 1) * log_1mx - t[i] * log_x
        if has_w:
            v *= w[i]
        if write:
            out[i] = v
        total += v
    return total, nbad


@njit(cache=True, error_model="numpy")
def binary_cross_entropy_backward(grad, reduced, scale, x, t, w, need_x, need_t, gx, gt):
    # d/dx = w (x - t) / max(x (1 - x), 1e-12); d/dt = w (log(1 - x) - log(x))
    # (the per-element grad scaling is bce_with_logits_backward's too; the formulas differ)
    has_w = w.size > 0
    g0 = grad[0] * scale if reduced else 0.0  # (unreduced: grad may be empty)
    for i in range(x.size):
        g = g0 if reduced else grad[i] * scale
        if has_w:
            g *= w[i]
        xi = x[i]
        if need_x:
            gx[i] = g * (xi - t[i]) / max((1 - xi) * xi, 1e-12)
        if need_t:
            gt[i] = g * (vmath.log1p(-xi) - vmath.log(xi))


@njit(cache=True, error_model="numpy")
def _softplus(x):
    # log(1 + e**x), no overflow for any x
    return vmath.softplus(x)


@njit(cache=True, error_model="numpy")
def _sigmoid(x):
    return vmath.sigmoid(x)


@njit(cache=True, error_model="numpy")
def bce_with_logits_forward(x, t, w, pw, out):
    # (1 - t) x + (1 + (pw - 1) t) softplus(-x): stable for any |x|
    has_w = w.size > 0
    has_pw = pw.size > 0
    write = out.size > 0
    total = 0.0
    for i in range(x.size):
        xi = x[i]
        ti = t[i]
        sp = _softplus(-xi)
        if has_pw:
            v = (1 - ti) * xi + (1 + (pw[i] - 1) * ti) * sp
        else:
            v = (1 - ti) * xi + sp
        if has_w:
            v *= w[i]
        if write:
            out[i] = v
        total += v
    return total


@njit(cache=True, error_model="numpy")
def bce_with_logits_backward(grad, reduced, scale, x, t, w, pw, need_x, need_t, gx, gt):
    # d/dx = sigmoid(x) (1 - t + pw t) - pw t;  d/dt = pw softplus(-x) - softplus(x)
    # (= -x without pos_weight)
    # (binary_cross_entropy_backward scales the grad per element the same way)
    has_w = w.size > 0
    has_pw = pw.size > 0
    g0 = grad[0] * scale if reduced else 0.0  # (unreduced: grad may be empty)
    for i in range(x.size):
        g = g0 if reduced else grad[i] * scale
        if has_w:
            g *= w[i]
        xi = x[i]
        ti = t[i]
        p = pw[i] if has_pw else 1.0
        if need_x:
            gx[i] = g * (_sigmoid(xi) * (1 - ti + p * ti) - p * ti)
        if need_t:
            if has_pw:
                sp_neg = _softplus(-xi)
                gt[i] = g * (p * sp_neg - (sp_neg + xi))  # softplus(x) = softplus(-x) + x
            else:
                gt[i] = -g * xi


@njit(cache=True, error_model="numpy")
def xlogy_self_forward(t, out):
    # t * log(t), 0 where t == 0 (PyTorch's xlogy(t, t)); NaN stays NaN
    for i in range(t.size):
        ti = t[i]
        out[i] = 0 if ti == 0 else ti * vmath.log(ti)


@njit(cache=True, error_model="numpy")
def xlogy_self_backward(grad, t, out):
    # xlogy(t, t) differentiated in both arguments, as PyTorch does: log(t) (0 at t == 0) from the
    # first, t / t from the second -- so log(t) + 1, and NaN at t == 0
    for i in range(t.size):
        ti = t[i]
        a = vmath.log(ti) if ti != 0 else 0.0
        out[i] = grad[i] * a + grad[i] * ti / ti


# ============================================================================ dropout
@njit(cache=True, error_model="numpy")
def dropout_noise(noise, keep):
    # uniform [0, 1) draws -> PyTorch's noise tensor bernoulli(keep) / keep, in place
    scale = 1.0 / keep
    for i in range(noise.size):
        noise[i] = scale if noise[i] < keep else 0.0


# ============================================================================ layer norm
@njit(cache=True, error_model="numpy")
def layer_norm_forward(x, w, b, eps, var_max, out, mean, rstd):
    # x, out: (M, N), normalised over N; w, b: (N,) or empty; mean, rstd: (M,).
    # A variance above var_max (the largest finite value of x's dtype) overflows in PyTorch's
    # accumulation, which makes the row NaN there: so here too, not a 1/sqrt(inf) = 0 scale.
    M, N = x.shape
    has_w = w.size > 0
    has_b = b.size > 0
    for i in range(M):
        acc = 0.0
        for j in range(N):
            acc += x[i, j]
        mu = acc / N
        acc = 0.0
        for j in range(N):
            d = x[i, j] - mu
            acc += d * d
        var = acc / N
        r = 1.0 / math.sqrt(var + eps) if var <= var_max else np.nan
        mean[i] = mu
        rstd[i] = r
        for j in range(N):
            v = (x[i, j] - mu) * r
            if has_w:
                v *= w[j]
            # (+ 0.0 without a bias: a row of zeros gives +0, as PyTorch's, not -0)
            out[i, j] = v + (b[j] if has_b else 0.0)


@njit(cache=True, error_model="numpy")
def layer_norm_backward(grad, x, mean, rstd, w, need_x, gx, gw, gb):
    # dxhat = g w; dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)), in PyTorch's form
    # rstd dxhat + b (x - mean) + c, with db = sum(dxhat), b = (db mean - sum(dxhat x)) rstd^3 / N
    # and c = -db rstd / N: the rstd factors kept out of the sums, so a row whose gradient is 0
    # (sum(layer_norm)) gets PyTorch's exact +0, not a -0 of rounding noise.  (PyTorch computes
    # db mean - sum(dxhat x) and b x - b mean apart; centring x first keeps the digits a large
    # mean would cancel.)
    # dw = sum_rows g xhat; db = sum_rows g.  gw / gb: (N,) float64 accumulators (empty when not needed)
    M, N = x.shape
    has_w = w.size > 0
    need_w = gw.size > 0
    need_b = gb.size > 0
    scale = 1.0 / N
    for j in range(gw.size):
        gw[j] = 0.0
    for j in range(gb.size):
        gb[j] = 0.0
    for i in range(M):
        mu = mean[i]
        r = rstd[i]
        if need_x:
            ds = 0.0  # sum(dxhat (x - mean))
            db = 0.0
            for j in range(N):
                d = grad[i, j] * w[j] if has_w else grad[i, j]
                ds += d * (x[i, j] - mu)
                db += d
            b_ = (0.0 - ds) * r * r * r * scale  # (0.0 - ds: +0 for an exact 0, as PyTorch's difference)
            c_ = -db * r * scale
            for j in range(N):
                d = grad[i, j] * w[j] if has_w else grad[i, j]
                gx[i, j] = r * d + b_ * (x[i, j] - mu) + c_
        if need_w:
            for j in range(N):
                gw[j] += grad[i, j] * (x[i, j] - mu) * r
        if need_b:
            for j in range(N):
                gb[j] += grad[i, j]


# ============================================================================ batch norm
@njit(cache=True, error_model="numpy")
def batch_norm_stats(x, mean, var):
    # x: (N, C, inner); per-channel mean and biased variance over N and inner (two passes)
    N, C, inner = x.shape
    count = N * inner
    acc = np.zeros(C, np.float64)
    for i in range(N):
        for c in range(C):
            s = 0.0
            for k in range(inner):
                s += x[i, c, k]
            acc[c] += s
    mean64 = np.empty(C, np.float64)  # (x - mean) in float64: float32 squares would overflow early
    for c in range(C):
        mean64[c] = acc[c] / count
        mean[c] = mean64[c]
        acc[c] = 0.0
    for i in range(N):
        for c in range(C):
            mu = mean64[c]
            s = 0.0
            for k in range(inner):
                d = x[i, c, k] - mu
                s += d * d
            acc[c] += s
    for c in range(C):
        var[c] = acc[c] / count


@njit(cache=True, error_model="numpy")
def batch_norm_update_running(running, stat, momentum, unbias):
    # running = (1 - momentum) running + momentum stat (unbias: n / (n - 1) for the variance)
    for c in range(running.size):
        running[c] = (1 - momentum) * running[c] + momentum * stat[c] * unbias


@njit(cache=True, error_model="numpy")
def batch_norm_invstd(var, eps, out):
    for c in range(var.size):
        out[c] = 1.0 / math.sqrt(var[c] + eps)


@njit(cache=True, error_model="numpy")
def batch_norm_forward(x, mean, invstd, w, b, out):
    # y = (x - mean) invstd w + b, as one multiply-add per element
    N, C, inner = x.shape
    has_w = w.size > 0
    has_b = b.size > 0
    for i in range(N):
        for c in range(C):
            scale = invstd[c] * w[c] if has_w else invstd[c]
            shift = (b[c] if has_b else 0.0) - mean[c] * scale
            for k in range(inner):
                out[i, c, k] = x[i, c, k] * scale + shift


@njit(cache=True, error_model="numpy")
def batch_norm_backward(grad, x, mean, invstd, w, training, need_x, gx, gw, gb):
    # training: the batch statistics depend on x too:
    #   dx = w invstd (g - mean(g) - xhat mean(g xhat));  eval: dx = w invstd g
    # dw = sum g xhat, db = sum g (gw, gb: (C,) float64, empty when not needed)
    N, C, inner = x.shape
    has_w = w.size > 0
    count = N * inner
    sum_g = np.zeros(C, np.float64)
    sum_gx = np.zeros(C, np.float64)
    for i in range(N):
        for c in range(C):
            mu = mean[c]
            s1 = 0.0
            s2 = 0.0
            for k in range(inner):
                g = grad[i, c, k]
                s1 += g
                s2 += g * (x[i, c, k] - mu)
            sum_g[c] += s1
            sum_gx[c] += s2
    for c in range(gw.size):
        gw[c] = sum_gx[c] * invstd[c]
    for c in range(gb.size):
        gb[c] = sum_g[c]
    if not need_x:
        return
    for i in range(N):
        for c in range(C):
            r = invstd[c]
            scale = r * w[c] if has_w else r
            mu = mean[c]
            if training:
                mg = sum_g[c] / count
                k2 = sum_gx[c] / count * r * r
                for k in range(inner):
                    gx[i, c, k] = (grad[i, c, k] - mg - (x[i, c, k] - mu) * k2) * scale
            else:
                for k in range(inner):
                    gx[i, c, k] = grad[i, c, k] * scale


# ============================================================================ embedding
# The index reaches backward as forward saw it, unless changed through ``.data`` (no version
# bump): the backward kernels range-check every index before it addresses a row and return True
# at the first bad one (nothing written out of bounds; the caller raises).
@njit(cache=True, error_model="numpy")
def embedding_forward(weight, index, out):
    # out[i] = weight[index[i]]; returns the count of out-of-range indices (an error)
    V, D = weight.shape
    nbad = 0
    for i in range(index.size):
        r = index[i]
        if r < 0 or r >= V:
            nbad += 1
            continue
        for d in range(D):
            out[i, d] = weight[r, d]
    return nbad


@njit(cache=True, error_model="numpy")
def _embedding_counts(index, V, padding_idx, scale_grad_by_freq):
    # (whether an index other than padding_idx is out of range, how often each row is looked up
    # -- only with scale_grad_by_freq: else empty)
    counts = np.zeros(V if scale_grad_by_freq else 0, np.int64)
    for i in range(index.size):
        r = index[i]
        if r == padding_idx:
            continue
        if r < 0 or r >= V:
            return True, counts
        if scale_grad_by_freq:
            counts[r] += 1
    return False, counts


@njit(cache=True, error_model="numpy")
def embedding_backward(grad, index, padding_idx, scale_grad_by_freq, out):
    # scatter-add the rows of grad into out (zeroed here); the padding row gets nothing
    # (embedding_backward_transpose below is the same walk as a gather: a map and its adjoint)
    V, D = out.shape
    bad, counts = _embedding_counts(index, V, padding_idx, scale_grad_by_freq)
    if bad:
        return True
    for r in range(V):
        for d in range(D):
            out[r, d] = 0
    for i in range(index.size):
        r = index[i]
        if r == padding_idx:
            continue
        s = 1.0 / counts[r] if scale_grad_by_freq else 1.0
        for d in range(D):
            out[r, d] += grad[i, d] * s
    return False


@njit(cache=True, error_model="numpy")
def embedding_backward_transpose(u, index, padding_idx, scale_grad_by_freq, out):
    # the transpose of embedding_backward: out[i] = u[index[i]] (scaled, 0 for the padding row)
    V, D = u.shape
    bad, counts = _embedding_counts(index, V, padding_idx, scale_grad_by_freq)
    if bad:
        return True
    for i in range(index.size):
        r = index[i]
        if r == padding_idx:
            for d in range(D):
                out[i, d] = 0
            continue
        s = 1.0 / counts[r] if scale_grad_by_freq else 1.0
        for d in range(D):
            out[i, d] = u[r, d] * s
    return False


@njit(cache=True, error_model="numpy")
def embedding_renorm(weight, index, max_norm, norm_type):
    """Rescale (in place) each referenced row whose norm exceeds max_norm, once per row.

    Returns (0, 0) when done; nothing is changed when an index is out of range: (1, the
    smallest index outside [-V, V)) -- PyTorch's renorm visits the sorted indices with
    ``select``, which fails there -- or else (2, 0) for a negative index (which the lookup
    refuses: "index out of range in self")."""
    V, D = weight.shape
    code = 0
    bad = 0
    for i in range(index.size):
        r = index[i]
        if r < -V or r >= V:
            if code != 1 or r < bad:
                bad = r
            code = 1
        elif r < 0 and code == 0:
            code = 2
    if code:
        return code, bad
    seen = np.zeros(V, np.bool_)
    for i in range(index.size):
        r = index[i]
        if seen[r]:
            continue
        seen[r] = True
        acc = 0.0
        if norm_type == 1:
            for d in range(D):
                acc += abs(weight[r, d])
        elif norm_type == 2:
            for d in range(D):
                acc += weight[r, d] * weight[r, d]
            acc = math.sqrt(acc)
        elif norm_type == np.inf:
            for d in range(D):
                acc = max(acc, abs(weight[r, d]))
        else:
            for d in range(D):
                acc += abs(weight[r, d]) ** norm_type
            acc = acc ** (1.0 / norm_type)
        if acc > max_norm:
            scale = max_norm / (acc + 1e-7)
            for d in range(D):
                weight[r, d] *= scale
    return 0, 0
