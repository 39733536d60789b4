"""Convolutions and pooling (``torch.nn.functional``'s conv1d, conv2d, max_pool2d, avg_pool2d,
adaptive_avg_pool2d).

A convolution is a jitted ``im2col`` and one BLAS product per group, run on blocks of samples
sized for the L2 cache; its backward is the two transposed products and a jitted ``col2im``
(``kernels/conv.py``; stride-1 convolutions read a zero-padded copy of the input, whose column
rows are contiguous runs).  conv1d is conv2d with a kernel of height 1.  Pooling runs on
``(N*C, H, W)`` views with jitted kernels both ways.  Argument checks and error messages are
PyTorch's.

Second derivatives: the gradient of a convolution is a transposed convolution of the output
gradient (input) and a correlation of the input with it (weight); both are differentiable ops
here, each other's backward, so ``create_graph=True`` works to any order.  The gradients of the
pooling ops are linear maps of the output gradient, recorded as pairs of mutually transposed
ops (``nn.linear_pair``).
"""
import math

import numpy as np

from .. import _dtype, errors
from ..factories import _allocation_error
from ..kernels import conv as k
from ..tensor import Tensor, edge
from . import registry
from .elementwise import _F16, _via_float32
from ._nn_common import _record_half_versions
from ._nn_common import linear_pair as _linear_pair
from .registry import OpInfo, define_node, register, result, saved_version

_state = registry._state
_INT32_MIN, _INT32_MAX = -(2 ** 31), 2 ** 31 - 1
_INT64_MIN, _INT64_MAX = -(2 ** 63), 2 ** 63 - 1
_SIZE_LIMIT = 2 ** 62  # (padded) sizes and strides of a convolution, so that index sums fit in int64
_NO_EDGE = (None, 0)
# The _saved of a node whose backward needs only its ctx but that records the input's version, as
# PyTorch saves it: any non-None _saved makes the engine check the versions and refuse a second
# backward without retain_graph.
_VERSIONS_ONLY = ()
_EMPTY = {np.dtype(np.float32): np.empty(0, np.float32), np.dtype(np.float64): np.empty(0, np.float64)}


def _type_name(dt) -> str:
    return _dtype.from_numpy_dtype(dt)._legacy[:-6]


def _c_name(dt) -> str:
    """The C++ scalar name PyTorch prints in some dtype errors ('float', 'double')."""
    return {"float32": "float", "float64": "double", "float16": "c10::Half"}.get(dt.name, dt.name)


def _attach(out, node_cls, edges, saved, ctx, versions) -> Tensor:
    from .registry import new_node

    t = result(out, None)
    t.grad_fn = new_node(node_cls, edges, saved, ctx, versions)
    t._requires_grad = True
    return t


# ============================================================================ convolution
def _is_int(v) -> bool:
    if isinstance(v, (int, np.integer)):
        return not isinstance(v, (bool, np.bool_))
    return isinstance(v, Tensor) and v._data.ndim == 0 and v._data.dtype.kind in "iu"


def _int_list(value, fn: str, arg: str, pos: int) -> tuple:
    """An int-list argument ("tuple of ints") as PyTorch's argument parser reads it: an int or a
    sequence of ints (NumPy ints and 0-d integer tensors too), as a tuple of Python ints; a float,
    a bool or a string raises its TypeError instead of being truncated."""
    cls = value.__class__
    if cls is int:  # the common cases first
        return (value,)
    if cls is tuple and len(value) == 2 and value[0].__class__ is int and value[1].__class__ is int:
        return value
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            if not _is_int(v):
                what = type(v).__name__
                if i == 0:
                    raise TypeError(f"{fn}(): argument '{arg}' (position {pos}) must be tuple of ints, but found "
                                    f"element of type {what} at pos {i}")
                raise TypeError(f"{fn}(): argument '{arg}' failed to unpack the object at pos {i + 1} with error "
                                f'"type must be tuple of ints,but got {what}"')
        return tuple(int(v) for v in value)
    if _is_int(value):
        return (int(value),)
    raise TypeError(f"{fn}(): argument '{arg}' (position {pos}) must be tuple of ints, not {type(value).__name__}")


_CONV_ARG_POSITION = {"stride": 4, "padding": 5, "dilation": 6}


def _expand_arg(value, n: int, what: str) -> tuple:
    """An int or a sequence of 1 or ``n`` ints, as an ``n``-tuple (PyTorch's expand_param_if_needed)."""
    vals = _int_list(value, f"conv{n}d", what, _CONV_ARG_POSITION[what])
    if max(vals, default=0) > _INT64_MAX or min(vals, default=0) < _INT64_MIN:  # the kernels take int64
        raise ValueError("Overflow when unpacking long long")
    if len(vals) == 1:
        return vals * n
    if len(vals) != n:
        raise RuntimeError(f"expected {what} to be a single integer value or a list of {n} values to match the "
                           f"convolution dimensions, but got {what}={list(vals)}")
    return vals


def _conv_checks(xd, wd, bias, groups, nd):
    if wd.ndim != nd + 2:
        raise RuntimeError(f"expected stride to be a single integer value or a list of {wd.ndim - 2} values to "
                           f"match the convolution dimensions, but got stride={[1] * nd}")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if wd.shape[0] < groups:  # also catches zero output channels
        raise RuntimeError(f"Given groups={groups}, expected weight to be at least {groups} at dimension 0, but got "
                           f"weight of size {list(wd.shape)} instead")
    if wd.shape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but "
                           f"got weight of size [{list(wd.shape)}] instead")
    if xd.shape[1] != wd.shape[1] * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {list(wd.shape)}, expected input{list(xd.shape)} "
                           f"to have {wd.shape[1] * groups} channels, but got {xd.shape[1]} channels instead")
    if bias is not None and (bias._data.ndim != 1 or bias._data.shape[0] != wd.shape[0]):
        raise RuntimeError(f"Given weight of size {list(wd.shape)}, expected bias to be 1-dimensional with "
                           f"{wd.shape[0]} elements, but got bias of size {list(bias._data.shape)} instead")
    if xd.dtype != wd.dtype:
        if xd.dtype.itemsize > wd.dtype.itemsize:
            raise RuntimeError(f"expected scalar type {_type_name(xd.dtype)} but found {_type_name(wd.dtype)}")
        raise RuntimeError(f"Input type (torch.{_dtype.from_numpy_dtype(xd.dtype)._legacy}) and weight type "
                           f"(torch.{_dtype.from_numpy_dtype(wd.dtype)._legacy}) should be the same or input should "
                           "be a MKLDNN tensor and weight is a dense tensor")
    if bias is not None and bias._data.dtype != xd.dtype:
        raise RuntimeError(f"Input type ({_c_name(xd.dtype)}) and bias type ({_c_name(bias._data.dtype)}) should be "
                           "the same")


def _convolution(input: Tensor, weight: Tensor, bias, stride, padding, dilation, groups, nd: int) -> Tensor:
    xd, wd = input._data, weight._data
    if not _is_int(groups):
        raise TypeError(f"conv{nd}d(): argument 'groups' (position 7) must be int, not {type(groups).__name__}")
    groups = int(groups)
    if xd.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to conv{nd}d, but got "
                           f"input of size: {list(xd.shape)}")
    if xd.ndim == nd + 1:  # unbatched: PyTorch unsqueezes, convolves and squeezes (SqueezeBackward1)
        from .shape import squeeze, unsqueeze

        out = _convolution(unsqueeze(input, 0), weight, bias, stride, padding, dilation, groups, nd)
        return squeeze(out, 0)
    _conv_checks(xd, wd, bias, groups, nd)
    if min(wd.shape[2:]) <= 0:  # PyTorch's slow_conv2d check (its oneDNN path fails with an internal error)
        kernel_hw = (1,) + wd.shape[2:] if nd == 1 else wd.shape[2:]
        raise RuntimeError(f"kernel size should be greater than zero, but got kernel_height: {kernel_hw[0]} "
                           f"kernel_width: {kernel_hw[1]}")
    stride = _expand_arg(stride, nd, "stride")
    dilation = _expand_arg(dilation, nd, "dilation")
    kernel = wd.shape[2:]
    if isinstance(padding, str):
        if padding == "valid":
            pad_lo = pad_hi = (0,) * nd
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            total = [d * (kk - 1) for d, kk in zip(dilation, kernel)]
            pad_lo = tuple(t // 2 for t in total)
            pad_hi = tuple(t - t // 2 for t in total)  # the odd one out goes on the right, as in PyTorch
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        pad_lo = pad_hi = _expand_arg(padding, nd, "padding")
    if any(p < 0 for p in pad_lo):
        raise RuntimeError("negative padding is not supported")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("non-positive dilation is not supported")
    padded = [s + a + b for s, a, b in zip(xd.shape[2:], pad_lo, pad_hi)]
    eff = [d * (kk - 1) + 1 for d, kk in zip(dilation, kernel)]
    if any(p < e for p, e in zip(padded, eff)):
        raise RuntimeError(f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). Kernel size: "
                           f"({' x '.join(map(str, eff))}). Kernel size can't be greater than actual input size")
    if max(padded) > _SIZE_LIMIT or max(stride) > _SIZE_LIMIT:
        # The kernels index in int64: keep every position and stride sum below 2**63.
        if max(padded) > _SIZE_LIMIT:
            raise RuntimeError(f"conv{nd}d: the padded input size ({' x '.join(map(str, padded))}) is too large")
        stride = tuple(min(s, p) for s, p in zip(stride, padded))  # a stride past the input: one window, as before
    dt = xd.dtype
    if dt.kind != "f":
        raise NotImplementedError(f'"slow_conv{nd}d_cpu" not implemented for \'{_type_name(dt)}\' in jitgrad '
                                  "(floating-point convolutions only)")
    if dt == _F16:
        out = _via_float32(lambda x, w, *b: _convolution(x, w, b[0] if b else None, stride, padding, dilation,
                                                         groups, nd),
                           *((input, weight) + ((bias,) if bias is not None else ())))
        return _record_half_versions(out, input, weight)
    if nd == 1:  # 1-D as 2-D with a kernel of height 1
        stride, dilation, pad_lo, pad_hi = (1,) + stride, (1,) + dilation, (0,) + pad_lo, (0,) + pad_hi
    return _conv_apply(input, weight, bias, (stride, pad_lo, pad_hi, dilation, groups))


# ---------------------------------------------------------------------------- array level
# ``params`` = (stride, pad_lo, pad_hi, dilation, groups), each a pair (height, width): a conv1d is a
# conv2d over inputs of height 1.  Arrays are NCHW / (OC, C/groups, KH, KW), C-contiguous.
def _as_4d(a: np.ndarray) -> np.ndarray:
    if a.ndim == 3:
        a = a.reshape(a.shape[0], a.shape[1], 1, a.shape[2])
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def _geometry(x_shape, w_shape, params):
    """The kernel geometry tuple and the shape of the (padded, for stride 1) input the kernels read."""
    (sh, sw), (ph, pw), (ph_hi, pw_hi), (dh, dw), _ = params
    N, C, H, W = x_shape
    KH, KW = w_shape[2:]
    OH = (H + ph + ph_hi - dh * (KH - 1) - 1) // sh + 1
    OW = (W + pw + pw_hi - dw * (KW - 1) - 1) // sw + 1
    geometry = (KH, KW, sh, sw, ph, pw, dh, dw, OH, OW)
    src_shape = (N, C, H + ph + ph_hi, W + pw + pw_hi) if sh == 1 and sw == 1 else tuple(x_shape)
    return geometry, src_shape


def _wide(geometry, C):
    """Whether stride-1 im2col uses "wide" rows: each column row one contiguous run of the
    zero-padded input, with pitch Wp = OW + dw*(KW-1) instead of OW.  The runs copy at memory
    speed, but the Wp - OW junk columns cost BLAS work in all three products: on small images
    with many channels (W6's 8x8, 16 channels: Wp/OW = 10/8) rows of OW win (conv2 of W6:
    2.55 -> 2.06 ms of products), on few channels or wide images the runs do."""
    KH, KW, sh, sw, ph, pw, dh, dw, OH, OW = geometry
    if sh != 1 or sw != 1:
        return False
    return C * KH * KW < 64 or (OW + dw * (KW - 1)) * 8 <= OW * 9


def _source(x4, src_shape, geometry):
    """What im2col reads: for stride 1 the zero-padded input (so that column rows are contiguous runs)."""
    if src_shape == x4.shape:
        return x4
    N, C, H, W = x4.shape
    src = np.empty(src_shape, x4.dtype)
    k.pad_planes(x4.reshape(N * C, H, W), geometry[4], geometry[5], src.reshape(N * C, src_shape[2], src_shape[3]))
    return src


# The column matrix of a block of samples (C*KH*KW rows, block*OH*pitch columns) is kept to
# about this many elements, so that it and the block's product stay in cache between im2col,
# the BLAS call and the kernel that consumes the product, instead of a batch-sized matrix
# making a round trip through memory.  Measured on the 2-core CI machine (batch 128, 3x3
# kernels, 8-32 channels): 2**19 was best or within 5% of best both with one BLAS thread and
# with two; smaller blocks cost BLAS threading efficiency (many small products), larger ones
# the cache.
_BLOCK_ELEMENTS = 1 << 19


def _blocks(N, CKK, L):
    nb = max(1, min(N, _BLOCK_ELEMENTS // max(1, CKK * L)))
    return nb, [(n0, min(N, n0 + nb)) for n0 in range(0, N, nb)]


def _matrices(w4, groups):
    """The weight as (OC, CKK) -- or (G, OC/G, CKK/G) -- and the leading shapes of the product and columns."""
    OC = w4.shape[0]
    CKK = w4.size // OC * groups
    if groups == 1:
        return w4.reshape(OC, CKK), (OC,), (CKK,)
    return w4.reshape(groups, OC // groups, CKK // groups), (groups, OC // groups), (groups, CKK // groups)


def _im2col(src, geometry, col, wide, zero_junk=False):
    KH, KW, sh, sw, ph, pw, dh, dw, OH, OW = geometry
    if sh == 1 and sw == 1:  # src is the padded input
        if wide:
            k.im2col_stride1(src, KH, KW, dh, dw, OH, OW, zero_junk, col)
        else:
            k.im2col_stride1_rows(src, KH, KW, dh, dw, OH, OW, col)
    else:
        k.im2col(src, *geometry, col)


def _col2im(col, geometry, out, wide):
    KH, KW, sh, sw, ph, pw, dh, dw, OH, OW = geometry
    if sh == 1 and sw == 1:  # out is the gradient of the padded input
        (k.col2im_stride1 if wide else k.col2im_stride1_rows)(col, KH, KW, dh, dw, OH, OW, out)
    else:
        k.col2im(col, *geometry, out)


def _conv_forward(src, w4, bias, geometry, groups, out):
    """out (N, OC, OH, OW) = conv + bias, block by block: im2col, one product, conv_output."""
    N, C = src.shape[:2]
    OC, _, KH, KW = w4.shape
    OH = geometry[8]
    wide = _wide(geometry, C)
    L = OH * (src.shape[3] if wide else geometry[9])
    CKK = C * KH * KW
    nb, blocks = _blocks(N, CKK, L)
    col_buf = np.empty(CKK * nb * L, src.dtype)
    prod_buf = np.empty(OC * nb * L, src.dtype)
    wm, rows, col_rows = _matrices(w4, groups)
    with np.errstate(over="ignore", invalid="ignore"):  # inf/NaN inputs: no NumPy warning, as in PyTorch
        for n0, n1 in blocks:
            m = n1 - n0
            col = col_buf[:CKK * m * L].reshape(CKK, m, L)
            _im2col(src[n0:n1], geometry, col, wide)
            prod = prod_buf[:OC * m * L]
            np.matmul(wm, col.reshape(col_rows + (m * L,)), out=prod.reshape(rows + (m * L,)))
            k.conv_output(prod.reshape(OC, m, L), bias, out[n0:n1])


def _conv_grads(src, src_shape, w4, g4, geometry, groups, need_src, need_w, need_b):
    """The gradients of a convolution for the output gradient g4 (N, OC, OH, OW): of the input read
    by im2col (``src``, shape ``src_shape``; ``src`` may be None when need_w is False), of the
    weight and of the bias -- block by block, sharing each block's reordered gradient."""
    dt = g4.dtype
    N, C = src_shape[:2]
    OC, _, KH, KW = w4.shape
    OH, OW = geometry[8:]
    wide = _wide(geometry, C)
    L = OH * (src_shape[3] if wide else OW)
    CKK = C * KH * KW
    grad_bias = np.zeros(OC if need_b else 0, np.float64)
    gsrc = np.empty(src_shape, dt) if need_src else None
    nb, blocks = _blocks(N, CKK, L)
    col_buf = np.empty(CKK * nb * L, dt)
    gt_buf = np.empty(OC * nb * L, dt)
    wm, rows, col_rows = _matrices(w4, groups)
    wt = np.swapaxes(wm, -1, -2)
    gw = np.zeros(wm.shape, dt) if need_w else None
    gw_part = np.empty(wm.shape, dt) if need_w else None
    with np.errstate(over="ignore", invalid="ignore"):  # inf/NaN inputs: no NumPy warning, as in PyTorch
        for n0, n1 in blocks:
            m = n1 - n0
            gt = gt_buf[:OC * m * L].reshape(OC, m, L)
            k.conv_grad_output(g4[n0:n1], gt, grad_bias)
            gt_mat = gt.reshape(rows + (m * L,))
            col = col_buf[:CKK * m * L].reshape(CKK, m, L)
            col_mat = col.reshape(col_rows + (m * L,))
            if need_w:  # the columns are recomputed, not saved: im2col is cheaper than a batch-sized copy
                _im2col(src[n0:n1], geometry, col, wide, zero_junk=True)
                np.matmul(gt_mat, np.swapaxes(col_mat, -1, -2), out=gw_part)
                gw += gw_part
            if need_src:
                np.matmul(wt, gt_mat, out=col_mat)
                _col2im(col, geometry, gsrc[n0:n1], wide)
    return gsrc, gw, grad_bias


def _unpad(gsrc, x4_shape, geometry):
    if gsrc.shape == tuple(x4_shape):
        return gsrc
    gx = np.empty(x4_shape, gsrc.dtype)
    Hp, Wp = gsrc.shape[2:]
    k.unpad_planes(gsrc.reshape(-1, Hp, Wp), geometry[4], geometry[5], gx.reshape(-1, x4_shape[2], x4_shape[3]))
    return gx


def _forward_arrays(x4, w4, bias, params):
    geometry, src_shape = _geometry(x4.shape, w4.shape, params)
    src = _source(x4, src_shape, geometry)
    out = np.empty((x4.shape[0], w4.shape[0], geometry[8], geometry[9]), x4.dtype)
    _conv_forward(src, w4, bias, geometry, params[4], out)
    return out, src, geometry


def _input_grad_arrays(g4, w4, x4_shape, params):
    geometry, src_shape = _geometry(x4_shape, w4.shape, params)
    gsrc = _conv_grads(None, src_shape, w4, g4, geometry, params[4], True, False, False)[0]
    return _unpad(gsrc, x4_shape, geometry)


def _weight_grad_arrays(x4, g4, w4_shape, params):
    geometry, src_shape = _geometry(x4.shape, w4_shape, params)
    src = _source(x4, src_shape, geometry)
    w_dummy = np.empty(w4_shape, x4.dtype)  # only its shape is read when the input gradient is not needed
    return _conv_grads(src, src_shape, w_dummy, g4, geometry, params[4], False, True, False)[1].reshape(w4_shape)


def _contiguous(g, dt):
    return g if g.dtype == dt and g.flags.c_contiguous else np.ascontiguousarray(g, dtype=dt)


# ---------------------------------------------------------------------------- the op
def _conv_apply(input: Tensor, weight: Tensor, bias, params) -> Tensor:
    """The convolution of validated, batched arguments (``params`` as in the array level)."""
    xd, wd = input._data, weight._data
    x4, w4 = _as_4d(xd), _as_4d(wd)
    dt = xd.dtype
    bias_data = _EMPTY[dt] if bias is None else np.ascontiguousarray(bias._data)
    try:
        out4, src, geometry = _forward_arrays(x4, w4, bias_data, params)
    except (MemoryError, ValueError) as e:  # sizes past the memory (a huge padding, say): PyTorch's error
        geometry = _geometry(x4.shape, w4.shape, params)[0]
        raise _allocation_error(e, (x4.shape[0], w4.shape[0]) + geometry[8:], dt.itemsize) from None
    out = out4.reshape(out4.shape[:2] + out4.shape[3:]) if xd.ndim == 3 else out4
    if _state.enabled and (input._requires_grad or weight._requires_grad
                           or (bias is not None and bias._requires_grad)):
        return _attach(out, _ConvNode, (edge(input), edge(weight), edge(bias) if bias is not None else _NO_EDGE),
                       (src, w4), (xd.shape, wd.shape, x4.shape, geometry, params),
                       (saved_version(input), saved_version(weight)))
    return result(out, None)


def _conv_backward(node, grads):
    src, w4 = node._saved
    x_shape, w_shape, x4_shape, geometry, params = node._ctx
    need_x, need_w, need_b = (node.next_functions[i][0] is not None for i in range(3))
    g4 = _contiguous(grads[0], src.dtype).reshape(x4_shape[0], w4.shape[0], geometry[8], geometry[9])
    gsrc, gw, gb = _conv_grads(src, src.shape, w4, g4, geometry, params[4], need_x, need_w, need_b)
    if need_b:
        with np.errstate(over="ignore"):  # a float64 sum past float32's range is inf, silently (as PyTorch)
            gb = gb.astype(src.dtype)
    return (_unpad(gsrc, x4_shape, geometry).reshape(x_shape) if need_x else None,
            gw.reshape(w_shape) if need_w else None, gb if need_b else None)


def _conv_graph(node, grads):
    # the same gradients with differentiable ops: the input gradient is a transposed convolution
    # of g, the weight gradient a correlation of the input with g (both differentiable again)
    x, w = registry.saved_tensors(node)
    params = node._ctx[4]
    need_x, need_w, need_b = (node.next_functions[i][0] is not None for i in range(3))
    g = grads[0]
    gb = None
    if need_b:
        from .reduction import sum as _sum

        gb = _sum(g, (0,) + tuple(range(2, g._data.ndim)))
    return (_conv_input_grad(g, w, x._data.shape, params) if need_x else None,
            _conv_weight_grad(x, g, w._data.shape, params) if need_w else None, gb)


_ConvNode = define_node("ConvolutionBackward0", _conv_backward, _conv_graph)


def _conv_input_grad(g: Tensor, w: Tensor, x_shape, params) -> Tensor:
    """The input gradient of a convolution, as a differentiable op of (g, w)."""
    gd, wd = g._data, w._data
    out = _input_grad_arrays(_as_4d(_contiguous(gd, wd.dtype)), _as_4d(wd), _as4_shape(x_shape), params)
    out = out.reshape(x_shape)
    if _state.enabled and (g._requires_grad or w._requires_grad):
        return _attach(out, _ConvInputGradNode, (edge(g), edge(w)), (gd, wd), (x_shape, params),
                       (saved_version(g), saved_version(w)))
    return result(out, None)


def _conv_weight_grad(x: Tensor, g: Tensor, w_shape, params) -> Tensor:
    """The weight gradient of a convolution, as a differentiable op of (x, g)."""
    xd, gd = x._data, g._data
    out = _weight_grad_arrays(_as_4d(xd), _as_4d(_contiguous(gd, xd.dtype)), _as4_shape(w_shape), params)
    out = out.reshape(w_shape)
    if _state.enabled and (x._requires_grad or g._requires_grad):
        return _attach(out, _ConvWeightGradNode, (edge(x), edge(g)), (xd, gd), (w_shape, params),
                       (saved_version(x), saved_version(g)))
    return result(out, None)


def _as4_shape(shape):
    return (shape[0], shape[1], 1, shape[2]) if len(shape) == 3 else tuple(shape)


def _input_grad_backward(node, grads):
    # z = convT(g, w): dz/dg is the convolution with w, dz/dw the weight gradient of (dz, g)
    # (_weight_grad_backward has this shape with the other two of the three convolution maps)
    gd, wd = node._saved
    x_shape, params = node._ctx
    gz = _as_4d(_contiguous(grads[0], wd.dtype))
    gg = gw = None
    if node.next_functions[0][0] is not None:
        gg = _forward_arrays(gz, _as_4d(wd), _EMPTY[wd.dtype], params)[0].reshape(gd.shape)
    if node.next_functions[1][0] is not None:
        gw = _weight_grad_arrays(gz, _as_4d(_contiguous(gd, wd.dtype)), _as4_shape(wd.shape), params).reshape(wd.shape)
    return (gg, gw)


def _input_grad_graph(node, grads):
    g, w = registry.saved_tensors(node)
    x_shape, params = node._ctx
    gz = grads[0]
    return (_conv_apply(gz, w, None, params) if node.next_functions[0][0] is not None else None,
            _conv_weight_grad(gz, g, w._data.shape, params) if node.next_functions[1][0] is not None else None)


def _weight_grad_backward(node, grads):
    # v = wgrad(x, g): dv/dx is the transposed convolution of g with dv, dv/dg the convolution x * dv
    # (the shape of _input_grad_backward, with the other pair of the three convolution maps)
    xd, gd = node._saved
    w_shape, params = node._ctx
    gv = _as_4d(_contiguous(grads[0], xd.dtype))
    gx = gg = None
    if node.next_functions[0][0] is not None:
        gx = _input_grad_arrays(_as_4d(_contiguous(gd, xd.dtype)), gv, _as4_shape(xd.shape), params).reshape(xd.shape)
    if node.next_functions[1][0] is not None:
        gg = _forward_arrays(_as_4d(xd), gv, _EMPTY[xd.dtype], params)[0].reshape(gd.shape)
    return (gx, gg)


def _weight_grad_graph(node, grads):
    x, g = registry.saved_tensors(node)
    w_shape, params = node._ctx
    gv = grads[0]
    return (_conv_input_grad(g, gv, x._data.shape, params) if node.next_functions[0][0] is not None else None,
            _conv_apply(x, gv, None, params) if node.next_functions[1][0] is not None else None)


# PyTorch records the double backward of a convolution as ConvolutionBackwardBackward0
_ConvInputGradNode = define_node("ConvolutionBackwardBackward0", _input_grad_backward, _input_grad_graph)
_ConvWeightGradNode = define_node("ConvolutionBackwardBackward0", _weight_grad_backward, _weight_grad_graph)


def conv2d(input: Tensor, weight: Tensor, bias=None, stride=1, padding=0, dilation=1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation) of an (N, C, H, W) or (C, H, W) input with (OC, C/groups, KH, KW)
    filters; ``padding`` may be an int, a pair, 'valid' or 'same'."""
    return _convolution(input, weight, bias, stride, padding, dilation, groups, 2)


def conv1d(input: Tensor, weight: Tensor, bias=None, stride=1, padding=0, dilation=1, groups: int = 1) -> Tensor:
    """1-D convolution (cross-correlation) of an (N, C, L) or (C, L) input with (OC, C/groups, K) filters."""
    return _convolution(input, weight, bias, stride, padding, dilation, groups, 1)


# ============================================================================ pooling
def _pool_pair(vals: tuple, what: str, name: str) -> tuple:
    if len(vals) == 1:
        return vals * 2
    if len(vals) != 2:
        options = "omitted, a single int" if what == "stride" else "a single int"
        raise RuntimeError(f"{name}: {what} must be either a single int, or a tuple of two ints" if what == "dilation"
                           else f"{name}: {what} must either be {options}, or a tuple of two ints")
    return vals


def _half_effective_kernel(k, dilation):
    # PyTorch's ((k - 1) * dilation + 1) / 2 in C++ integer division, which truncates toward zero
    eff = (k - 1) * dilation + 1
    return eff // 2 if eff >= 0 else -(-eff // 2)


def _pool_output_size(size, k, pad, stride, dilation, ceil_mode):
    """PyTorch's pooling_output_shape, with its argument checks in its order."""
    if stride == 0:
        raise RuntimeError("stride should not be zero")
    if pad:
        if pad < 0:
            raise RuntimeError(f"pad must be non-negative, but got pad: {pad}")
        if pad > _half_effective_kernel(k, dilation):
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={pad}, "
                               f"kernel_size={k} and dilation={dilation}")
    elif (k - 1) * dilation <= -3:  # pad 0 fails only for an effective kernel of -2 or less (half < 0)
        raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={pad}, "
                           f"kernel_size={k} and dilation={dilation}")
    out = (size + 2 * pad - dilation * (k - 1) - 1 + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:  # the last window must start inside the input
        out -= 1
    return out


def _check_max_pool_windows(axis, size, n_out, k, pad, stride, dilation):
    """Raise if a max-pooling window along ``axis`` ('height' or 'width') has no tap inside the input.

    With padding <= kernel/2 and the output-size rule, only a window starting in the padding can
    miss the input: its first tap past the padding, at ``start mod dilation``, may lie beyond the
    input when dilation > size.  PyTorch returns -inf with an argmax outside the plane there and
    writes out of bounds in backward; such a window is never read here."""
    for o in range(n_out):
        start = o * stride - pad
        if start >= 0:
            return
        if start % dilation >= size:
            raise RuntimeError(f"max_pool2d: pooling window {o} along the {axis} lies entirely in the padding "
                               f"(input {axis} {size}, kernel_size={k}, stride={stride}, padding={pad}, "
                               f"dilation={dilation}): it has no element to take the maximum of")


def _pool_setup(input, kernel_size, stride, padding, dilation, ceil_mode, name, return_indices=False):
    """Validate a pooling call with PyTorch's checks, in PyTorch's order (pooling_output_shape for
    the height and the width, then pool2d_shape_check); return the input, its (planes, H, W) view,
    the geometry and the output size."""
    xd = input._data
    fn = "max_pool2d_with_indices" if return_indices else name  # the function PyTorch's argument parser names
    kernel_size = _int_list(kernel_size, fn, "kernel_size", 2)
    stride = () if stride is None else _int_list(stride, fn, "stride", 3)
    padding = _int_list(padding, fn, "padding", 4)
    dilation = _int_list(dilation, fn, "dilation", 5)
    kh, kw = _pool_pair(kernel_size, "kernel_size", name)
    sh, sw = (kh, kw) if len(stride) == 0 else _pool_pair(stride, "stride", name)
    ph, pw = _pool_pair(padding, "padding", name)
    dh, dw = _pool_pair(dilation, "dilation", name)
    params = (kh, kw, sh, sw, ph, pw, dh, dw)
    if max(params) > _INT32_MAX or min(params) < _INT32_MIN:  # PyTorch's pooling works in C int
        if max(params) > _INT64_MAX or min(params) < _INT64_MIN:
            raise ValueError("Overflow when unpacking long long")
        raise RuntimeError("value cannot be converted to type int without overflow")
    if xd.ndim not in (3, 4) and name == "max_pool2d":
        raise RuntimeError("non-empty 3D or 4D (batch mode) tensor expected for input")
    C, H, W = xd.shape[-3:]
    oh = _pool_output_size(H, kh, ph, sh, dh, ceil_mode)
    ow = _pool_output_size(W, kw, pw, sw, dw, ceil_mode)
    if kh <= 0 or kw <= 0:
        raise RuntimeError(f"kernel size should be greater than zero, but got kH: {kh} kW: {kw}")
    if sh <= 0 or sw <= 0:
        raise RuntimeError(f"stride should be greater than zero, but got dH: {sh} dW: {sw}")
    if dh <= 0 or dw <= 0:
        raise RuntimeError(f"dilation should be greater than zero, but got dilationH: {dh} dilationW: {dw}")
    if xd.ndim not in (3, 4) or C == 0 or H == 0 or W == 0:  # an empty batch (N = 0) is fine
        raise RuntimeError("Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but "
                           f"got:{list(xd.shape)}")
    if kw // 2 < pw or kh // 2 < ph:
        raise RuntimeError(f"pad should be smaller than or equal to half of kernel size, but got padW = {pw}, "
                           f"padH = {ph}, kW = {kw}, kH = {kh}")
    if oh < 1 or ow < 1:
        raise RuntimeError(f"Given input size: ({C}x{H}x{W}). Calculated output size: ({C}x{oh}x{ow}). "
                           "Output size is too small")
    if (dh > H and ph) or (dw > W and pw):  # the only way to get a window with no tap in the input
        _check_max_pool_windows("height", H, oh, kh, ph, sh, dh)
        _check_max_pool_windows("width", W, ow, kw, pw, sw, dw)
    x3 = np.ascontiguousarray(xd).reshape(-1, H, W)
    return xd, x3, params, oh, ow


def _planes(a: np.ndarray) -> np.ndarray:
    """``a`` (..., H, W) as a C-contiguous (planes, H, W) view."""
    a = a if a.flags.c_contiguous else np.ascontiguousarray(a)
    # (an empty array cannot infer the -1: count its planes)
    return a.reshape(-1 if a.size else math.prod(a.shape[:-2]), a.shape[-2], a.shape[-1])


def _pool_node(name: str, backward_name: str, pool, adjoint):
    """The node class of a pooling op, a map linear in its input given by the array functions
    ``pool(x, ctx)`` and ``adjoint(g, ctx)``: backward is the adjoint, and the double backward its
    differentiable Tensor op (``linear_pair``), so the pool differentiates to any order."""
    adjoint_op = _linear_pair(name, backward_name, pool, adjoint)[1]
    return define_node(name, lambda node, grads: (adjoint(grads[0], node._ctx),),
                       lambda node, grads: (adjoint_op(grads[0], node._ctx),))


# ---------------------------------------------------------------------------- max pooling
def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """2-D max pooling over (N, C, H, W) or (C, H, W); with ``return_indices`` also the flat argmax
    positions (h * W + w) in each plane."""
    xd, x3, geom, oh, ow = _pool_setup(input, kernel_size, stride, padding, dilation, ceil_mode, "max_pool2d",
                                       return_indices)
    dt = xd.dtype
    if dt == np.bool_:
        raise NotImplementedError("\"max_pool2d\" not implemented for 'Bool'")
    if dt == _F16:
        out, idx = max_pool2d(input.float(), kernel_size, stride, padding, dilation, ceil_mode, True)
        out = _record_half_versions(out.half(), input)
        return (out, idx) if return_indices else out
    out_shape = xd.shape[:-2] + (oh, ow)
    out = np.empty(out_shape, dt)
    indices = np.empty(out_shape, np.int64)
    k.max_pool2d_forward(x3, *geom, out.reshape(-1, oh, ow), indices.reshape(-1, oh, ow))
    if not (_state.enabled and input._requires_grad):
        t = result(out, None)
        idx = result(indices, None) if return_indices else None
    else:
        # The node keeps its own indices: the user's copy may be changed in place, and a changed
        # index would scatter out of the plane (the double-backward gather/scatter nodes check no
        # versions).  The version records are PyTorch's (it saves the input and the indices):
        # changing either in place raises in backward; a non-None _saved makes the engine check
        # them and refuse a second backward.
        idx = result(indices.copy(), None) if return_indices else None
        versions = (saved_version(input),) if idx is None else (saved_version(input), saved_version(idx))
        t = _attach(out, _MaxPoolNode, (edge(input),), indices, (xd.shape, indices), versions)
    return (t, idx) if return_indices else t


def _max_pool_scatter(g: np.ndarray, ctx) -> np.ndarray:
    # each output's gradient goes to its argmax
    shape, indices = ctx
    gx = np.empty(shape, g.dtype)
    k.max_pool2d_backward(_planes(g), _planes(indices), _planes(gx))
    return gx


def _max_pool_gather(a: np.ndarray, ctx) -> np.ndarray:
    # the transpose of the scatter: read each output's argmax
    shape, indices = ctx
    out = np.empty(indices.shape, a.dtype)
    k.max_pool2d_gather(_planes(a), _planes(indices), _planes(out))
    return out


_MaxPoolNode = _pool_node("MaxPool2DWithIndicesBackward0", "MaxPool2DWithIndicesBackwardBackward0", _max_pool_gather,
                          _max_pool_scatter)


# ---------------------------------------------------------------------------- average pooling
def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    """2-D average pooling over (N, C, H, W) or (C, H, W)."""
    if input._data.ndim < 3:
        raise errors.dim_out_of_range(-3, input._data.ndim)
    if divisor_override is not None:
        if not isinstance(divisor_override, (int, np.integer)) or isinstance(divisor_override, bool):
            raise TypeError(f"avg_pool2d(): argument 'divisor_override' must be int, not "
                            f"{type(divisor_override).__name__}")
        if not _INT64_MIN <= divisor_override <= _INT64_MAX:
            raise ValueError("Overflow when unpacking long long")
        if divisor_override == 0:
            raise RuntimeError("divisor must be not zero")
    xd, x3, geom, oh, ow = _pool_setup(input, kernel_size, stride, padding, 1, ceil_mode, "avg_pool2d")
    dt = xd.dtype
    if dt.kind != "f":
        raise NotImplementedError(f'"avg_pool2d" not implemented for \'{_type_name(dt)}\' in jitgrad '
                                  "(floating-point pooling only)")
    if dt == _F16:
        out = _via_float32(lambda t: avg_pool2d(t, kernel_size, stride, padding, ceil_mode, count_include_pad,
                                                divisor_override), input)
        return _record_half_versions(out, input)
    kh, kw, sh, sw, ph, pw = geom[:6]
    ctx = (xd.shape, xd.shape[:-2] + (oh, ow), (kh, kw, sh, sw, ph, pw, bool(count_include_pad),
                                               int(divisor_override or 0)))
    out = _avg_pool(x3, ctx)
    if _state.enabled and input._requires_grad:
        return _attach(out, _AvgPoolNode, (edge(input),), _VERSIONS_ONLY, ctx, (saved_version(input),))
    return result(out, None)


def _avg_pool(a: np.ndarray, ctx) -> np.ndarray:
    x_shape, out_shape, params = ctx
    out = np.empty(out_shape, a.dtype)
    k.avg_pool2d_forward(_planes(a), *params, _planes(out))
    return out


def _avg_pool_adjoint(g: np.ndarray, ctx) -> np.ndarray:
    x_shape, out_shape, params = ctx
    gx = np.empty(x_shape, g.dtype)
    k.avg_pool2d_backward(_planes(g), *params, _planes(gx))
    return gx


_AvgPoolNode = _pool_node("AvgPool2DBackward0", "AvgPool2DBackwardBackward0", _avg_pool, _avg_pool_adjoint)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """2-D average pooling to a fixed output size (an int, or a pair whose entries may be None)."""
    xd = input._data
    if isinstance(output_size, (int, np.integer)):
        oh, ow = _int_list(output_size, "adaptive_avg_pool2d", "output_size", 2) * 2  # (a bool raises)
    else:  # torch.nn.functional's _list_with_default: None entries take the input's sizes
        if not hasattr(output_size, "__len__"):
            raise TypeError(f"object of type '{type(output_size).__name__}' has no len()")
        if xd.ndim <= len(output_size):
            raise ValueError(f"Input dimension should be at least {len(output_size) + 1}")
        defaults = xd.shape[xd.ndim - len(output_size):]
        size = _int_list([d if v is None else v for v, d in zip(output_size, defaults)], "adaptive_avg_pool2d",
                         "output_size", 2)
        if len(size) != 2:
            raise RuntimeError("adaptive_avg_pool2d: output_size must be 2")
        oh, ow = size
    if max(oh, ow) > _INT64_MAX or min(oh, ow) < _INT64_MIN:
        raise ValueError("Overflow when unpacking long long")
    if oh < 0 or ow < 0:
        raise RuntimeError("adaptive_avg_pool2d: elements of output_size must be greater than or equal to 0 but "
                           f"received {{{oh}, {ow}}}")
    if oh == 1 and ow == 1:  # PyTorch computes this case as a mean over (H, W) (MeanBackward1)
        from .reduction import mean

        return mean(input, (-1, -2), keepdim=True)
    if xd.ndim not in (3, 4):
        raise RuntimeError(f"adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got {list(xd.shape)}")
    if xd.shape[-2] == 0 or xd.shape[-1] == 0:  # a window of an empty plane would divide by zero
        raise RuntimeError("adaptive_avg_pool2d(): Expected input to have non-zero size for non-batch dimensions, "
                           f"but input has sizes {list(xd.shape)} with dimension "
                           f"{xd.ndim - (2 if xd.shape[-2] == 0 else 1)} being empty")
    dt = xd.dtype
    if dt.kind != "f":
        raise NotImplementedError(f'"adaptive_avg_pool2d" not implemented for \'{_type_name(dt)}\'')
    if dt == _F16:
        return _record_half_versions(_via_float32(lambda t: adaptive_avg_pool2d(t, (oh, ow)), input), input)
    ctx = (xd.shape, xd.shape[:-2] + (oh, ow))
    try:
        out = _adaptive_pool(xd, ctx)
    except (MemoryError, ValueError) as e:  # a huge output_size: PyTorch's allocator error
        raise _allocation_error(e, ctx[1], dt.itemsize) from None
    if _state.enabled and input._requires_grad:
        return _attach(out, _AdaptiveAvgPoolNode, (edge(input),), _VERSIONS_ONLY, ctx, (saved_version(input),))
    return result(out, None)


def _adaptive_pool(a: np.ndarray, ctx) -> np.ndarray:
    out = np.empty(ctx[1], a.dtype)
    k.adaptive_avg_pool2d_forward(_planes(a), _planes(out))
    return out


def _adaptive_pool_adjoint(g: np.ndarray, ctx) -> np.ndarray:
    if g.size == 0:  # PyTorch's backward refuses an empty output plane or channel (not an empty batch)
        for dim in range(1, g.ndim):
            if g.shape[dim] == 0:
                raise RuntimeError("adaptive_avg_pool2d_backward(): Expected grad_output to have non-zero size for "
                                   f"non-batch dimensions, but grad_output has sizes {list(g.shape)} with dimension "
                                   f"{dim} being empty")
    gx = np.empty(ctx[0], g.dtype)
    k.adaptive_avg_pool2d_backward(_planes(g), _planes(gx))
    return gx


_AdaptiveAvgPoolNode = _pool_node("AdaptiveAvgPool2DBackward0", "AdaptiveAvgPool2DBackwardBackward0", _adaptive_pool,
                                  _adaptive_pool_adjoint)


# ============================================================================ the table
def _u(rng, *shape):
    return rng.uniform(-1.0, 1.0, shape)


def _samples_conv2d(rng):
    x = _u(rng, 2, 2, 5, 5)
    w = _u(rng, 3, 2, 3, 3)
    b = _u(rng, 3)
    return [((x, w), {}), ((x, w, b), {}), ((x, w, b), {"stride": 2, "padding": 1}),
            ((x, w), {"padding": (2, 1), "dilation": (2, 1)}), ((x, _u(rng, 4, 1, 2, 3), _u(rng, 4)), {"groups": 2}),
            ((x, w), {"padding": "same", "dilation": 2}), ((x, w), {"padding": "valid", "stride": (1, 2)}),
            ((x[0], w, b), {"padding": 1}),
            # 8 channels x 3x3 on narrow images: stride 1 with rows of OW (_wide is False)
            ((_u(rng, 2, 8, 4, 5), _u(rng, 3, 8, 3, 3), b), {"padding": 1}),
            ((_u(rng, 1, 8, 5, 4), _u(rng, 2, 8, 3, 3)), {"padding": (2, 1), "dilation": (2, 1)})]


def _samples_conv1d(rng):
    x = _u(rng, 2, 2, 7)
    w = _u(rng, 3, 2, 3)
    return [((x, w), {}), ((x, w, _u(rng, 3)), {"stride": 2, "padding": 1}), ((x, w), {"dilation": 2}),
            ((x, _u(rng, 4, 1, 3)), {"groups": 2, "padding": "same"}), ((x[0], w), {}),
            ((_u(rng, 2, 22, 6), _u(rng, 2, 22, 3)), {"padding": 1})]  # rows of OW (_wide is False)


def _distinct(rng, *shape):
    # pooling inputs without ties (the argmax of a tie is a kink for the gradient check)
    n = math.prod(shape)
    return (rng.permutation(n).reshape(shape) / n - 0.5) * 2


def _samples_max_pool(rng):
    x = _distinct(rng, 2, 2, 5, 5)
    return [((x, 2), {}), ((x, 3), {"stride": 2, "padding": 1}), ((x, (2, 3)), {"stride": 1, "dilation": (2, 1)}),
            ((x, 2), {"ceil_mode": True}), ((x[0], 3, 2), {"ceil_mode": True, "padding": 1})]


def _samples_avg_pool(rng):
    x = _u(rng, 2, 2, 5, 5)
    return [((x, 2), {}), ((x, 3), {"stride": 2, "padding": 1}), ((x, 3), {"stride": 2, "padding": 1,
                                                                              "count_include_pad": False}),
            ((x, 2), {"ceil_mode": True}), ((x[0], (2, 3), 2), {"ceil_mode": True, "padding": 1}),
            ((x, 2), {"divisor_override": 3})]


def _samples_adaptive(rng):
    x = _u(rng, 2, 2, 5, 7)
    return [((x, 2), {}), ((x, (3, 4)), {}), ((x, (None, 3)), {}), ((x[0], 1), {}), ((x, (5, 7)), {})]


_NN = {"functional": True}
# an unbatched input is convolved as a batch of one and squeezed back, as PyTorch does
register(OpInfo("conv2d", "ConvolutionBackward0", conv2d, method=False, nodes=("SqueezeBackward1",), extra=_NN,
                samples=_samples_conv2d))
register(OpInfo("conv1d", "ConvolutionBackward0", conv1d, method=False, nodes=("SqueezeBackward1",), extra=_NN,
                samples=_samples_conv1d))
register(OpInfo("max_pool2d", "MaxPool2DWithIndicesBackward0", max_pool2d, method=False, extra=_NN,
                samples=_samples_max_pool))
register(OpInfo("avg_pool2d", "AvgPool2DBackward0", avg_pool2d, method=False, public=False, extra=_NN,
                samples=_samples_avg_pool))
# an output size of 1 (global pooling) is a mean over the spatial dims, as in PyTorch
register(OpInfo("adaptive_avg_pool2d", "AdaptiveAvgPool2DBackward0", adaptive_avg_pool2d, method=False,
                nodes=("MeanBackward1",),
                public=False, extra=_NN, samples=_samples_adaptive))
