"""Convolution and pooling kernels.

A convolution is ``im2col`` (a jitted gather of every receptive field into the columns of a
matrix) followed by one BLAS matrix product; its backward is two matrix products and
``col2im`` (the scatter-add that undoes the gather).  The Python layer runs them on blocks of
samples small enough for the column matrix to stay in cache.  A block's column matrix has the
layout ``(C*KH*KW, n, OH*pitch)``: one product ``W @ col`` covers the block, and the
``(OC, n, OH*pitch)`` result is turned into NCHW (plus bias) by ``conv_output``.  For stride 1
(the common case) the input is zero-padded once and the rows have the padded width as pitch:
every row of the column matrix is then a single contiguous run of the input plane, copied at
memory speed (the few extra "wide" columns cost a little more BLAS work and are dropped).
1-D convolutions are 2-D ones with a kernel of height 1.

Pooling kernels see ``(planes, H, W)`` views (planes = N*C): one compiled specialisation per
dtype for batched and unbatched inputs alike.  Padding and dilation follow PyTorch's CPU
kernels exactly, including which index wins a tie (the first) and NaN propagation (max pool).
"""
import numpy as np
from ._jit import njit


# ============================================================================ convolution
# Indices computed from loop variables are cast to unsigned before indexing: for a signed index
# Numba must handle negative values (Python's wraparound), and that check alone keeps LLVM from
# vectorising these short copy loops (5-10x slower).
@njit(cache=True, error_model="numpy")
def _valid_range(off, stride, size, out_size):
    # the output positions o with 0 <= o * stride + off < size
    lo = 0 if off >= 0 else (-off + stride - 1) // stride
    hi = (size - 1 - off) // stride + 1
    hi = max(0, min(out_size, hi))
    return min(lo, hi), hi


@njit(cache=True, error_model="numpy")
def pad_planes(x, ph, pw, out):
    # x: (P, H, W) -> out: (P, H + 2 ph, W + 2 pw) with a zero border
    P, H, W = x.shape
    _, Hp, Wp = out.shape
    for p in range(P):
        for i in range(Hp):
            row = out[p, i]
            if i < ph or i >= ph + H:
                for j in range(Wp):
                    row[j] = 0
                continue
            src = x[p, i - ph]
            for j in range(pw):
                row[j] = 0
            dst = row[pw:pw + W]
            for j in range(W):
                dst[j] = src[j]
            for j in range(pw + W, Wp):
                row[j] = 0


@njit(cache=True, error_model="numpy")
def unpad_planes(x, ph, pw, out):
    # the adjoint of pad_planes: the interior of x (P, Hp, Wp) -> out (P, H, W)
    P, H, W = out.shape
    for p in range(P):
        for i in range(H):
            src = x[p, ph + i, pw:pw + W]
            dst = out[p, i]
            for j in range(W):
                dst[j] = src[j]


@njit(cache=True, error_model="numpy")
def im2col_stride1(xp, KH, KW, dh, dw, OH, OW, zero_junk, col):
    """Stride 1 on a padded input xp (N, C, Hp, Wp): col (C*KH*KW, N, OH*Wp) in "wide" rows of
    pitch Wp, so that each (c, kh, kw, n) row of col is ONE contiguous run of the padded plane.
    The Wp - OW extra columns of each output row are junk the caller ignores (the last row's
    are zeroed).  With ``zero_junk`` all of them are zeroed: the weight gradient multiplies
    them by the gradient's zero junk columns, and an inf/NaN input value there would make
    0 * inf = NaN leak into every weight's gradient.

    (col2im_stride1 walks the same runs the other way, as its adjoint: see im2col_stride1_rows.)"""
    N, C, Hp, Wp = xp.shape
    run = (OH - 1) * Wp + OW
    wide = OH * Wp
    planes = xp.reshape(N, C, Hp * Wp)
    for c in range(C):
        for kh in range(KH):
            for kw in range(KW):
                r = (c * KH + kh) * KW + kw
                off = kh * dh * Wp + kw * dw
                for n in range(N):
                    src = planes[n, c, off:off + run]
                    dst = col[r, n]
                    for j in range(run):
                        dst[j] = src[j]
                    for j in range(run, wide):
                        dst[j] = 0
                    if zero_junk:
                        for oh in range(OH - 1):
                            for j in range(oh * Wp + OW, (oh + 1) * Wp):
                                dst[j] = 0


@njit(cache=True, error_model="numpy")
def col2im_stride1(col, KH, KW, dh, dw, OH, OW, out):
    # (the same walk as im2col_stride1, the copy reversed into a sum)
    # the adjoint of im2col_stride1: out (N, C, Hp, Wp) = scatter-add of the OW real columns of
    # each output row of col's runs (the junk columns are skipped, not added: they are zero only
    # while the weights are finite)
    N, C, Hp, Wp = out.shape
    planes = out.reshape(N, C, Hp * Wp)
    for n in range(N):
        for c in range(C):
            plane = planes[n, c]
            for j in range(Hp * Wp):
                plane[j] = 0
    for c in range(C):
        for kh in range(KH):
            for kw in range(KW):
                r = (c * KH + kh) * KW + kw
                off = kh * dh * Wp + kw * dw
                for n in range(N):
                    src = col[r, n]
                    for oh in range(OH):
                        d = planes[n, c, off + oh * Wp:off + oh * Wp + OW]
                        s = src[oh * Wp:oh * Wp + OW]
                        for j in range(OW):
                            d[j] += s[j]


@njit(cache=True, error_model="numpy")
def im2col_stride1_rows(xp, KH, KW, dh, dw, OH, OW, col):
    """Stride 1 on a padded input xp (N, C, Hp, Wp): col (C*KH*KW, N, OH*OW), one contiguous
    row of OW elements per output row (no junk columns; see ops.conv._wide)."""
    # (col2im_stride1_rows walks the same rows the other way; each of the three im2col / col2im
    # pairs is written out as a forward and its adjoint, read side by side)
    N, C, Hp, Wp = xp.shape
    for c in range(C):
        for kh in range(KH):
            for kw in range(KW):
                r = (c * KH + kh) * KW + kw
                for n in range(N):
                    plane = xp[n, c]
                    dst = col[r, n]
                    for oh in range(OH):
                        src = plane[np.uint64(oh + kh * dh), kw * dw:kw * dw + OW]
                        d = dst[oh * OW:oh * OW + OW]
                        for j in range(OW):
                            d[j] = src[j]


@njit(cache=True, error_model="numpy")
def col2im_stride1_rows(col, KH, KW, dh, dw, OH, OW, out):
    # the adjoint of im2col_stride1_rows: out (N, C, Hp, Wp) = scatter-add of col's rows (the
    # same walk: the copy there is a sum here, into an output zeroed first)
    N, C, Hp, Wp = out.shape
    for n in range(N):
        for c in range(C):
            plane = out[n, c]
            for i in range(Hp):
                for j in range(Wp):
                    plane[i, j] = 0
    for c in range(C):
        for kh in range(KH):
            for kw in range(KW):
                r = (c * KH + kh) * KW + kw
                for n in range(N):
                    plane = out[n, c]
                    src = col[r, n]
                    for oh in range(OH):
                        dst = plane[np.uint64(oh + kh * dh), kw * dw:kw * dw + OW]
                        s = src[oh * OW:oh * OW + OW]
                        for j in range(OW):
                            dst[j] += s[j]


@njit(cache=True, error_model="numpy")
def im2col(x, KH, KW, sh, sw, ph, pw, dh, dw, OH, OW, col):
    # any stride: x (N, C, H, W) -> col (C*KH*KW, N, OH*OW); zero where the field is in the padding
    # (col2im is the same walk the other way, as its adjoint: see im2col_stride1_rows)
    N, C, H, W = x.shape
    col4 = col.reshape(col.shape[0], N, OH, OW)
    for c in range(C):
        for kh in range(KH):
            for kw in range(KW):
                r = (c * KH + kh) * KW + kw
                off_w = kw * dw - pw
                lo, hi = _valid_range(off_w, sw, W, OW)
                for n in range(N):
                    for oh in range(OH):
                        ih = oh * sh - ph + kh * dh
                        dst = col4[r, n, oh]
                        if ih < 0 or ih >= H:
                            for ow in range(OW):
                                dst[ow] = 0
                            continue
                        src = x[n, c, np.uint64(ih)]
                        for ow in range(lo):
                            dst[ow] = 0
                        for ow in range(lo, hi):
                            dst[ow] = src[np.uint64(ow * sw + off_w)]
                        for ow in range(hi, OW):
                            dst[ow] = 0


@njit(cache=True, error_model="numpy")
def col2im(col, KH, KW, sh, sw, ph, pw, dh, dw, OH, OW, out):
    # the adjoint of im2col: out (N, C, H, W) = scatter-add of col (C*KH*KW, N, OH*OW) (the same
    # walk as im2col, the copy reversed into a sum; only the fields inside the input are visited)
    N, C, H, W = out.shape
    col4 = col.reshape(col.shape[0], N, OH, OW)
    for n in range(N):
        for c in range(C):
            for ih in range(H):
                for iw in range(W):
                    out[n, c, ih, iw] = 0
    for c in range(C):
        for kh in range(KH):
            for kw in range(KW):
                r = (c * KH + kh) * KW + kw
                off_w = kw * dw - pw
                lo, hi = _valid_range(off_w, sw, W, OW)
                for n in range(N):
                    for oh in range(OH):
                        ih = oh * sh - ph + kh * dh
                        if ih < 0 or ih >= H:
                            continue
                        dst = out[n, c, np.uint64(ih)]
                        src = col4[r, n, oh]
                        for ow in range(lo, hi):
                            dst[np.uint64(ow * sw + off_w)] += src[ow]


@njit(cache=True, error_model="numpy")
def conv_output(prod, bias, out):
    # prod: (OC, N, OH * pitch) from W @ col (pitch Wp for wide rows, OW otherwise)
    # -> out: (N, OC, OH, OW), plus bias[oc] when bias is not empty
    OC, N, span = prod.shape
    _, _, OH, OW = out.shape
    pitch = span // OH if OH else 0
    has_bias = bias.size > 0
    for n in range(N):
        for o in range(OC):
            b = bias[o] if has_bias else 0
            src = prod[o, n]
            for i in range(OH):
                row = src[i * pitch:i * pitch + OW]
                dst = out[n, o, i]
                for j in range(OW):
                    dst[j] = row[j] + b


@njit(cache=True, error_model="numpy")
def conv_grad_output(grad, out, grad_bias):
    # grad: (N, OC, OH, OW) -> out: (OC, N, OH * pitch) for the weight and input products, zero in
    # the junk columns of wide rows; adds the sums of grad over N, OH, OW to grad_bias[oc]
    # (float64; empty: not needed)
    N, OC, OH, OW = grad.shape
    span = out.shape[2]
    pitch = span // OH if OH else 0
    need_bias = grad_bias.size > 0
    for n in range(N):
        for o in range(OC):
            dst = out[o, n]
            s = 0.0
            for i in range(OH):
                src = grad[n, o, i]
                row = dst[i * pitch:(i + 1) * pitch]
                for j in range(OW):
                    g = src[j]
                    row[j] = g
                    s += g
                for j in range(OW, pitch):
                    row[j] = 0
            if need_bias:
                grad_bias[o] += s


# ============================================================================ max pooling
@njit(cache=True, error_model="numpy")
def _pool_bounds(n_out, stride, pad, K, dilation, size):
    # PyTorch's window of each output position: [start, end) clipped to the input, with the start
    # moved past the padding in steps of the dilation
    lo = np.empty(n_out, np.int64)
    hi = np.empty(n_out, np.int64)
    for o in range(n_out):
        s = o * stride - pad
        e = min(s + (K - 1) * dilation + 1, size)
        if s < 0:  # (in closed form: a loop of steps would take ~pad/dilation iterations)
            s += (-s + dilation - 1) // dilation * dilation
        lo[o] = s
        hi[o] = e
    return lo, hi


@njit(cache=True, error_model="numpy")
def _max_pool_2x2(x, out, indices):
    # kernel 2, stride 2, no padding or dilation: the same scan order and NaN rule as below
    P, H, W = x.shape
    _, OH, OW = out.shape
    for p in range(P):
        plane = x[p]
        for oh in range(OH):
            r0 = plane[np.uint64(2 * oh)]
            r1 = plane[np.uint64(2 * oh + 1)]
            orow = out[p, oh]
            irow = indices[p, oh]
            b0 = 2 * oh * W
            b1 = b0 + W
            for ow in range(OW):
                j = np.uint64(2 * ow)
                m = r0[j]
                best = b0 + 2 * ow
                v = r0[j + np.uint64(1)]
                take = (v > m) | (v != v)  # noqa: PLR0124
                m = v if take else m
                best = b0 + 2 * ow + 1 if take else best
                v = r1[j]
                take = (v > m) | (v != v)  # noqa: PLR0124
                m = v if take else m
                best = b1 + 2 * ow if take else best
                v = r1[j + np.uint64(1)]
                take = (v > m) | (v != v)  # noqa: PLR0124
                m = v if take else m
                best = b1 + 2 * ow + 1 if take else best
                orow[ow] = m
                irow[ow] = best


@njit(cache=True, error_model="numpy")
def max_pool2d_forward(x, KH, KW, sh, sw, ph, pw, dh, dw, out, indices):
    # x: (P, H, W); out, indices: (P, OH, OW); indices are flat positions h * W + w in the plane.
    # The first maximum in scan order wins and a NaN wins over everything, as in PyTorch; the
    # update is a select, not a branch (the comparisons are data-dependent).
    P, H, W = x.shape
    _, OH, OW = out.shape
    if (KH == 2 and KW == 2 and sh == 2 and sw == 2 and ph == 0 and pw == 0 and dh == 1 and dw == 1
            and 2 * OH <= H and 2 * OW <= W):  # (ceil_mode's partial last window takes the general path)
        _max_pool_2x2(x, out, indices)  # the common case, without the general bounds and loops
        return
    hs, he = _pool_bounds(OH, sh, ph, KH, dh, H)
    ws, we = _pool_bounds(OW, sw, pw, KW, dw, W)
    for p in range(P):
        plane = x[p]
        for oh in range(OH):
            h0 = hs[oh]
            h1 = he[oh]
            orow = out[p, oh]
            irow = indices[p, oh]
            for ow in range(OW):
                w0 = ws[ow]
                w1 = we[ow]
                best = h0 * W + w0
                m = plane[np.uint64(h0), np.uint64(w0)]
                ih = h0
                while ih < h1:
                    row = plane[np.uint64(ih)]
                    base = ih * W
                    iw = w0
                    while iw < w1:
                        v = row[np.uint64(iw)]
                        take = (v > m) | (v != v)  # noqa: PLR0124 (v != v: NaN)
                        m = v if take else m
                        best = base + iw if take else best
                        iw += dw
                    ih += dh
                orow[ow] = m
                irow[ow] = best


@njit(cache=True, error_model="numpy")
def max_pool2d_backward(grad, indices, out):
    # out: (P, H, W), zeroed here; each output's gradient goes to its argmax
    # (max_pool2d_gather below is the same walk, transposed: the pair is a map and its adjoint)
    P, H, W = out.shape
    _, OH, OW = grad.shape
    planes = out.reshape(P, H * W)
    grads = grad.reshape(P, OH * OW)
    where = indices.reshape(P, OH * OW)
    for p in range(P):
        dst = planes[p]
        for j in range(H * W):
            dst[j] = 0
        g = grads[p]
        idx = where[p]
        for j in range(OH * OW):
            dst[np.uint64(idx[j])] += g[j]


@njit(cache=True, error_model="numpy")
def max_pool2d_gather(x, indices, out):
    # the transpose of max_pool2d_backward: out[p, o] = x[p, indices[p, o]] (x: (P, H, W))
    P, H, W = x.shape
    _, OH, OW = out.shape
    planes = x.reshape(P, H * W)
    where = indices.reshape(P, OH * OW)
    dst = out.reshape(P, OH * OW)
    for p in range(P):
        src = planes[p]
        idx = where[p]
        row = dst[p]
        for j in range(OH * OW):
            row[j] = src[np.uint64(idx[j])]


# ============================================================================ average pooling
@njit(cache=True, error_model="numpy")
def _avg_window(o, stride, pad, k, size):
    # PyTorch's window: the divisor counts padding (up to the padded edge), the sum does not
    start = o * stride - pad
    end = min(start + k, size + pad)
    span = end - start
    return max(start, 0), min(end, size), span


@njit(cache=True, error_model="numpy", forceinline=True)
def _avg_divisor(divisor, count_include_pad, hspan, wspan, h0, h1, w0, w1):
    # divisor != 0: divisor_override (which PyTorch lets be negative); else the window's area,
    # counting the padding or not
    if divisor != 0:
        return divisor
    if count_include_pad:
        return hspan * wspan
    return (h1 - h0) * (w1 - w0)


@njit(cache=True, error_model="numpy")
def avg_pool2d_forward(x, KH, KW, sh, sw, ph, pw, count_include_pad, divisor, out):
    # (avg_pool2d_backward walks the same windows as its adjoint; the adaptive pair below the same
    # way with adaptive windows: each pair written out as a map and its adjoint, side by side)
    P, H, W = x.shape
    _, OH, OW = out.shape
    for p in range(P):
        for oh in range(OH):
            h0, h1, hspan = _avg_window(oh, sh, ph, KH, H)
            for ow in range(OW):
                w0, w1, wspan = _avg_window(ow, sw, pw, KW, W)
                if h0 >= h1 or w0 >= w1:
                    out[p, oh, ow] = 0
                    continue
                s = 0.0
                for ih in range(h0, h1):
                    for iw in range(w0, w1):
                        s += x[p, ih, iw]
                out[p, oh, ow] = s / _avg_divisor(divisor, count_include_pad, hspan, wspan, h0, h1, w0, w1)


@njit(cache=True, error_model="numpy")
def avg_pool2d_backward(grad, KH, KW, sh, sw, ph, pw, count_include_pad, divisor, out):
    # (avg_pool2d_forward's windows, each spreading its gradient instead of summing, laid out as
    # adaptive_avg_pool2d_backward; zero the planes, then add into them: the shape of
    # statistics.select_middle_backward, not its logic)
    P, H, W = out.shape
    _, OH, OW = grad.shape
    for p in range(P):
        for ih in range(H):
            for iw in range(W):
                out[p, ih, iw] = 0
        for oh in range(OH):
            h0, h1, hspan = _avg_window(oh, sh, ph, KH, H)
            for ow in range(OW):
                w0, w1, wspan = _avg_window(ow, sw, pw, KW, W)
                if h0 >= h1 or w0 >= w1:
                    continue
                g = grad[p, oh, ow] / _avg_divisor(divisor, count_include_pad, hspan, wspan, h0, h1, w0, w1)
                for ih in range(h0, h1):
                    for iw in range(w0, w1):
                        out[p, ih, iw] += g


@njit(cache=True, error_model="numpy", forceinline=True)
def _adaptive_window(o, size, out_size):
    # window of output o over an input of size I pooled to O: [floor(o I / O), ceil((o + 1) I / O))
    return (o * size) // out_size, -((-(o + 1) * size) // out_size)


@njit(cache=True, error_model="numpy")
def adaptive_avg_pool2d_forward(x, out):
    # (adaptive_avg_pool2d_backward walks the same windows as its adjoint; see avg_pool2d_forward)
    P, H, W = x.shape
    _, OH, OW = out.shape
    for p in range(P):
        for oh in range(OH):
            h0, h1 = _adaptive_window(oh, H, OH)
            for ow in range(OW):
                w0, w1 = _adaptive_window(ow, W, OW)
                s = 0.0
                for ih in range(h0, h1):
                    for iw in range(w0, w1):
                        s += x[p, ih, iw]
                out[p, oh, ow] = s / ((h1 - h0) * (w1 - w0))


@njit(cache=True, error_model="numpy")
def adaptive_avg_pool2d_backward(grad, out):
    # (adaptive_avg_pool2d_forward's windows, spreading instead of summing; laid out as
    # avg_pool2d_backward, zeroing then adding as statistics.select_middle_backward does)
    P, H, W = out.shape
    _, OH, OW = grad.shape
    for p in range(P):
        for ih in range(H):
            for iw in range(W):
                out[p, ih, iw] = 0
        for oh in range(OH):
            h0, h1 = _adaptive_window(oh, H, OH)
            for ow in range(OW):
                w0, w1 = _adaptive_window(ow, W, OW)
                g = grad[p, oh, ow] / ((h1 - h0) * (w1 - w0))
                for ih in range(h0, h1):
                    for iw in range(w0, w1):
                        out[p, ih, iw] += g
