"""Selection and index-building ops: nonzero, masked_select, take, select, diag, diag_embed,
repeat_interleave, movedim/moveaxis, bincount, histc, and the paired statistics std_mean /
var_mean -- PyTorch's signatures, errors, result dtypes and node names.

Gradients that put values back at positions go through ``scatter_add`` on the flattened
tensor (``ops/joining.py``), whose own gradient is ``gather``, so each has every order of
gradient; composite ops (select, movedim, repeat_interleave) are made of recorded views and
``index_select``, as PyTorch's are.  Every index is checked here before NumPy sees it.
"""
import math

import numpy as np

from .. import _dtype
from ..factories import _allocate
from ..tensor import Tensor, _wrap, _wrap_dim, edge
from . import registry
from . import shape as sh
from .broadcast import broadcast_shapes, reduce_to_shape
from .joining import _diagonal_backward_array, _diagonal_view, index_select, scatter_add
from .joining import diagonal as _diagonal_op
from .reduction import normalize_dims
from .sorting import numpy_names
from .registry import OpInfo, define_node, new_node, register, result, saved_tensors, saved_version

_state = registry._state
_I64 = np.dtype(np.int64)
_F32 = np.dtype(np.float32)


def _legacy(np_dtype) -> str:
    return _dtype.from_numpy_dtype(np_dtype)._legacy[:-6]


def _fmt(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _flat_scatter(shape, dtype, positions: np.ndarray, g: Tensor) -> Tensor:
    """Differentiable: zeros of ``shape`` with ``g`` (flattened) added at the flat ``positions``."""
    zeros = _wrap(np.zeros(max(math.prod(shape), 1), dtype))
    out = scatter_add(zeros, 0, _wrap(positions.reshape(-1)), g.reshape(-1))
    return out[: math.prod(shape)].reshape(shape) if not shape else out.reshape(shape)


def _flat_add_at(shape, dtype, positions: np.ndarray, g: np.ndarray) -> np.ndarray:
    gx = np.zeros(math.prod(shape), dtype)
    np.add.at(gx, positions.reshape(-1), np.asarray(g, dtype).reshape(-1))
    return gx.reshape(shape)


# ============================================================================ nonzero
def nonzero(input: Tensor, *, as_tuple: bool = False):
    """The indices of the non-zero elements: an ``(n, ndim)`` int64 tensor, or (``as_tuple``) one
    1-D tensor per dim (a 0-d input counts as 1-D)."""
    xd = input._data
    if as_tuple:
        where = np.nonzero(xd.reshape(1) if xd.ndim == 0 else xd)
        return tuple(_wrap(np.ascontiguousarray(w, dtype=_I64)) for w in where)
    return _wrap(np.ascontiguousarray(np.argwhere(xd), dtype=_I64))


# ============================================================================ masked_select
def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """The elements of ``input`` where ``mask`` (bool, broadcast with it) is True, as a 1-D tensor."""
    if not isinstance(mask, Tensor):
        raise TypeError(f"masked_select(): argument 'mask' (position 2) must be Tensor, not {type(mask).__name__}")
    md = mask._data
    if md.dtype != np.bool_:
        raise RuntimeError("masked_select: expected BoolTensor for mask")
    xd = input._data
    shape = broadcast_shapes(md.shape, xd.shape)  # (PyTorch's order in its error)
    mb = np.broadcast_to(md, shape)
    res = np.ascontiguousarray(np.broadcast_to(xd, shape)[mb])
    node = None
    if _state.enabled and input._requires_grad:
        node = new_node(_MaskedSelectNode, (edge(input),), (np.flatnonzero(mb),), (xd.shape, xd.dtype, shape),
                        (saved_version(mask),))
    return result(res, node)


def _masked_select_backward(node, grads):
    (positions,) = node._saved
    shape, dtype, bshape = node._ctx
    return (reduce_to_shape(_flat_add_at(bshape, dtype, positions, grads[0]), shape),)


def _masked_select_graph(node, grads):
    (positions,) = node._saved
    shape, dtype, bshape = node._ctx
    return (registry.sum_to(_flat_scatter(bshape, dtype, positions, grads[0]), shape),)


_MaskedSelectNode = define_node("MaskedSelectBackward0", _masked_select_backward, _masked_select_graph)


# ============================================================================ take
def take(input: Tensor, index: Tensor) -> Tensor:
    """``input`` read as 1-D at ``index`` (int64; negative counts from the end); ``index``'s shape."""
    if not isinstance(index, Tensor):
        raise TypeError(f"take(): argument 'index' (position 2) must be Tensor, not {type(index).__name__}")
    idx = index._data
    if idx.dtype != _I64:
        raise RuntimeError(f"take(): Expected a long tensor for index, but got {_legacy(idx.dtype)}")
    xd = input._data
    n = xd.size
    flat = _take_positions(idx, n)
    res = np.ascontiguousarray(xd).reshape(-1)[flat] if n else np.empty(idx.shape, xd.dtype)
    node = None
    if _state.enabled and input._requires_grad:
        node = new_node(_TakeNode, (edge(input),), (idx,), (xd.shape, xd.dtype), (saved_version(index),))
    return result(np.asarray(res, xd.dtype).reshape(idx.shape), node)


def _take_positions(idx: np.ndarray, n: int) -> np.ndarray:
    """``idx`` as flat positions into ``n`` elements, with PyTorch's error for the first bad one
    (checked again in backward: the index may have been changed through ``.data``)."""
    if idx.size:
        bad = (idx < -n) | (idx >= n)
        if bad.any():
            first = int(idx.reshape(-1)[np.flatnonzero(bad.reshape(-1))[0]])
            raise IndexError(f"out of range: tried to access index {first} on a tensor of {n} elements.")
    return np.where(idx < 0, idx + n, idx)


def _take_backward(node, grads):
    (idx,) = node._saved
    shape, dtype = node._ctx
    return (_flat_add_at(shape, dtype, _take_positions(idx, math.prod(shape)), grads[0]),)


def _take_graph(node, grads):
    (idx,) = node._saved
    shape, dtype = node._ctx
    return (_flat_scatter(shape, dtype, _take_positions(idx, math.prod(shape)), grads[0]),)


_TakeNode = define_node("TakeBackward0", _take_backward, _take_graph)


# ============================================================================ select / movedim
def select(input: Tensor, dim, index) -> Tensor:
    """The slice at ``index`` along ``dim``, without that dim (a view)."""
    xd = input._data
    if not _is_int(dim):
        raise TypeError(f"select(): argument 'dim' (position 2) must be int, not {type(dim).__name__}")
    if not _is_int(index):
        raise TypeError(f"select(): argument 'index' (position 3) must be int, not {type(index).__name__}")
    if xd.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = _wrap_dim(int(dim), xd.ndim)
    size = xd.shape[d]
    if not -size <= index < size:
        raise IndexError(f"select(): index {int(index)} out of range for tensor of size {_fmt(xd.shape)} "
                         f"at dimension {d}")
    return sh.getitem(input, (slice(None),) * d + (int(index),))


def _dim_list(value, ndim: int, what: str) -> list:
    if _is_int(value):
        return [_wrap_dim(int(value), ndim)]
    if isinstance(value, (tuple, list)) and all(_is_int(v) for v in value):
        return [_wrap_dim(int(v), ndim) for v in value]
    raise TypeError(f"movedim(): argument '{what}' must be tuple of ints, not {type(value).__name__}")


def movedim(input: Tensor, source, destination) -> Tensor:
    """The dims ``source`` moved to the positions ``destination`` (the others keep their order)."""
    nd = input._data.ndim
    src = _dim_list(source, nd, "source")
    dst = _dim_list(destination, nd, "destination")
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({_fmt(_raw_dims(source))} dims) "
                           f"should contain the same number of dims as destination ({_fmt(_raw_dims(destination))} "
                           "dims)")
    for name, dims, raw in (("source", src, source), ("destination", dst, destination)):
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"movedim: repeated dim in `{name}` ({_fmt(_raw_dims(raw))})")
    order = [None] * nd
    for s, t in zip(src, dst):
        order[t] = s
    rest = iter(d for d in range(nd) if d not in src)
    order = [next(rest) if o is None else o for o in order]
    return sh.permute(input, *order) if nd else sh.permute(input)


def _raw_dims(value) -> list:
    return [int(value)] if _is_int(value) else [int(v) for v in value]


# ============================================================================ diag / diag_embed
def _diag_embed_array(v: np.ndarray, offset: int, d1: int, d2: int) -> np.ndarray:
    n = v.shape[-1] + abs(offset) if v.ndim else 1 + abs(offset)
    lead = list(v.shape[:-1])
    shape = lead[:]
    for d in sorted((d1, d2)):
        shape.insert(d, n)
    return _diagonal_backward_array(v, tuple(shape), v.dtype, offset, d1, d2)


def _embed(input: Tensor, offset: int, d1: int, d2: int) -> Tensor:
    xd = input._data
    res = _diag_embed_array(xd, offset, d1, d2)
    node = None
    if _state.enabled and input._requires_grad:
        node = new_node(_DiagEmbedNode, (edge(input),), None, (offset, d1, d2))
    return result(res, node)


_DiagEmbedNode = define_node(
    "DiagEmbedBackward0",
    lambda node, grads: (np.array(_diagonal_view(np.asarray(grads[0]), *node._ctx), order="C"),),
    lambda node, grads: (_diagonal_op(grads[0], *node._ctx),))


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """A tensor whose diagonals over ``dim1``/``dim2`` (shifted by ``offset``) are the last dim of
    ``input``, zero elsewhere."""
    for name, value, pos in (("offset", offset, 2), ("dim1", dim1, 3), ("dim2", dim2, 4)):
        if not _is_int(value):
            raise TypeError(f"diag_embed(): argument '{name}' (position {pos}) must be int, not "
                            f"{type(value).__name__}")
    nd = input._data.ndim + 1
    d1, d2 = _wrap_dim(int(dim1), nd), _wrap_dim(int(dim2), nd)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    if input._data.ndim == 0:
        raise IndexError("Dimension out of range (expected to be in range of [-1, 0], but got -1)")
    return _embed(input, int(offset), d1, d2)


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """1-D input: the square matrix with it on the ``diagonal``-th diagonal; 2-D: that diagonal."""
    if not _is_int(diagonal):
        raise TypeError(f"diag(): argument 'diagonal' (position 2) must be int, not {type(diagonal).__name__}")
    xd = input._data
    offset = int(diagonal)
    if xd.ndim == 1:
        return _embed(input, offset, 0, 1)
    if xd.ndim != 2:
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {xd.ndim}D")
    res = np.array(_diagonal_view(xd, offset, 0, 1), order="C")
    node = None
    if _state.enabled and input._requires_grad:
        node = new_node(_DiagCopyNode, (edge(input),), None, (xd.shape, xd.dtype, offset))
    return result(res, node)


def _diag_copy_positions(shape, offset: int) -> np.ndarray:
    pos = np.arange(math.prod(shape), dtype=_I64).reshape(shape)
    return np.array(_diagonal_view(pos, offset, 0, 1))


_DiagCopyNode = define_node(
    "DiagonalBackward0_copy",
    lambda node, grads: (_diagonal_backward_array(grads[0], node._ctx[0], node._ctx[1], node._ctx[2], 0, 1),),
    lambda node, grads: (_flat_scatter(node._ctx[0], node._ctx[1], _diag_copy_positions(node._ctx[0], node._ctx[2]),
                                       grads[0]),))


# ============================================================================ repeat_interleave
def _repeat_counts(repeats: Tensor) -> np.ndarray:
    rd = repeats._data
    if rd.dtype.kind not in "iu":
        raise NotImplementedError(f"\"repeat_interleave_cpu\" not implemented for '{_legacy(rd.dtype)}'")
    if rd.ndim > 1:
        raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
    if rd.size and rd.min() < 0:
        raise RuntimeError("repeats can not be negative")
    return rd.reshape(-1).astype(_I64)


def repeat_interleave(input: Tensor, repeats=None, dim=None, *, output_size=None) -> Tensor:
    """Each element (or slice along ``dim``) repeated ``repeats`` times (an int, or one count per
    slice); without ``dim`` the input is flattened.  ``repeat_interleave(counts)``: the indices
    0, 1, ... each repeated its count."""
    if repeats is None:  # repeat_interleave(repeats_tensor)
        counts = _repeat_counts(input)
        return _wrap(np.repeat(np.arange(counts.size, dtype=_I64), counts))
    if dim is None:
        input = sh.reshape(input, -1)
        d = 0
    else:
        if not _is_int(dim):
            raise TypeError(f"repeat_interleave(): argument 'dim' must be int, not {type(dim).__name__}")
        d = _wrap_dim(int(dim), input._data.ndim)
    shape = input._data.shape if input._data.ndim else (1,)
    if input._data.ndim == 0:
        input = sh.reshape(input, 1)
    n = shape[d]
    if isinstance(repeats, Tensor):
        counts = _repeat_counts(repeats)
        if counts.size == 1:
            counts = np.full(n, counts[0], _I64)
        elif counts.size != n:
            raise RuntimeError("repeats must have the same size as input along dim, but got "
                               f"repeats.size(0) = {counts.size} and input.size({d}) = {n}")
        index = np.repeat(np.arange(n, dtype=_I64), counts)
        if output_size is not None and output_size != index.size:
            raise RuntimeError("allocated size does not match required size")
        return index_select(input, d, _wrap(index))
    if not _is_int(repeats):
        raise TypeError(f"repeat_interleave(): argument 'repeats' must be Tensor or int, not "
                        f"{type(repeats).__name__}")
    r = int(repeats)
    if r < 0:
        raise RuntimeError("Repeats must be non-negative")
    expanded = sh.expand(sh.unsqueeze(input, d + 1), *(shape[:d + 1] + (r,) + shape[d + 1:]))
    return sh.reshape(sh.clone(expanded), *(shape[:d] + (n * r,) + shape[d + 1:]))


# ============================================================================ bincount / histc
def bincount(input: Tensor, weights=None, minlength: int = 0) -> Tensor:
    """Counts of each non-negative integer in the 1-D ``input`` (``weights``: sums of them)."""
    xd = input._data
    if xd.dtype.kind not in "iu":
        raise NotImplementedError(f"\"bincount_cpu\" not implemented for '{_legacy(xd.dtype)}'")
    if not _is_int(minlength):
        raise TypeError(f"bincount(): argument 'minlength' (position 3) must be int, not {type(minlength).__name__}")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if xd.ndim != 1 or (xd.size and xd.min() < 0):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    length = int(builtin_max(int(xd.max()) + 1 if xd.size else 0, minlength))
    if weights is None:
        return _wrap(np.bincount(xd, minlength=length).astype(_I64))
    wd = weights._data
    if wd.ndim != 1 or wd.shape[0] != xd.shape[0]:
        raise RuntimeError("weights should be 1-d and have the same length as input")
    out_dtype = wd.dtype if wd.dtype in (_F32, np.dtype(np.float64)) else np.dtype(np.float64)
    out = np.zeros(length, out_dtype)
    np.add.at(out, xd, wd.astype(out_dtype))
    return _wrap(out)


builtin_max = max


def _torch_linspace(lo, hi, steps: int, dtype) -> np.ndarray:
    """PyTorch's linspace (the first half from ``lo``, the second from ``hi``), in ``dtype``."""
    lo, hi = dtype.type(lo), dtype.type(hi)
    step = (hi - lo) / dtype.type(steps - 1)
    i = np.arange(steps)
    half = steps // 2
    out = np.where(i < half, lo + step * i.astype(dtype), hi - step * (steps - 1 - i).astype(dtype))
    return out.astype(dtype)


def histc(input: Tensor, bins: int = 100, min=0, max=0) -> Tensor:  # noqa: A002 - PyTorch's names
    """A histogram of ``bins`` equal bins over ``[min, max]`` (both 0: the data's range); values
    outside are ignored."""
    xd = input._data
    if xd.dtype.kind == "b":
        raise NotImplementedError("\"linspace_cpu\" not implemented for 'Bool'")
    if xd.dtype.kind in "iu":  # PyTorch converts the range to the input's type first
        info = np.iinfo(xd.dtype)
        for v in (min, max):
            if not info.min <= v <= info.max:
                ctype = "int" if xd.dtype == np.int32 else f"{xd.dtype.name}_t"
                raise RuntimeError(f"value cannot be converted to type {ctype} without overflow")
        raise NotImplementedError(f"\"histogram_cpu\" not implemented for '{_legacy(xd.dtype)}'")
    if not _is_int(bins):
        raise TypeError(f"histc(): argument 'bins' (position 2) must be int, not {type(bins).__name__}")
    if bins <= 0:
        raise RuntimeError("torch.histc: bins must be > 0")
    work = xd.astype(_F32) if xd.dtype == np.float16 else xd
    dt = work.dtype
    lo, hi = dt.type(min), dt.type(max)
    if lo == hi and work.size:
        lo, hi = work.min(), work.max()
    if lo == hi:
        lo, hi = lo - dt.type(1), hi + dt.type(1)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise RuntimeError(f"torch.histc: range of [{_c_float(lo)}, {_c_float(hi)}] is not finite")
    if lo > hi:
        raise RuntimeError("torch.histc: max must be larger than min")
    x = work.reshape(-1)
    with np.errstate(invalid="ignore"):
        inside = x[(x >= lo) & (x <= hi)]
        pos = ((inside - lo) * dt.type(bins) / (hi - lo)).astype(np.int64)
    pos[pos == bins] = bins - 1
    hist = _allocate(lambda: np.zeros(bins, xd.dtype), (bins,), xd.dtype)  # (calloc: untouched pages cost nothing)
    if pos.size:
        counts = np.bincount(pos)
        hist[:counts.size] = counts
    return _wrap(hist)


def _c_float(v) -> str:
    return "-nan" if np.isnan(v) else ("inf" if v > 0 else "-inf") if np.isinf(v) else f"{v:g}"


# ============================================================================ std_mean / var_mean
def _pair_stat(fn: str, input: Tensor, dim, unbiased, keepdim, correction, take_sqrt: bool):
    from .statistics import std, var

    detached = _wrap(input._data)
    spread = (std if take_sqrt else var)(detached, dim, unbiased, keepdim, correction=correction)
    if isinstance(dim, bool):  # the legacy (input, unbiased) overload
        dim, unbiased = None, dim
    if unbiased is not None:
        correction = 1.0 if unbiased else 0.0
    correction = 1.0 if correction is None else float(correction)
    xd = input._data
    axes = normalize_dims(dim, xd.ndim)
    # PyTorch's backward special-cases "no dim" (not "every dim") when n <= correction
    all_dims = dim is None or xd.ndim == 0 or (isinstance(dim, (tuple, list)) and len(dim) == 0)
    work = xd.astype(_F32) if xd.dtype == np.float16 else xd
    mean_out = _mean_array(work, axes, bool(keepdim)).astype(xd.dtype, copy=False)
    s = spread._data
    if _state.enabled and input._requires_grad:
        node = new_node(_StdMeanNode if take_sqrt else _VarMeanNode, (edge(input),), (work, s),
                        (axes, bool(keepdim), correction, take_sqrt, xd.dtype, all_dims), (saved_version(input),))
        node._num_outputs = 2
        st, mt = result(s, node), result(mean_out, node)
        mt._output_nr = 1
        node._versions = node._versions + (saved_version(st, 0),)
        return st, mt
    return result(s, None), result(mean_out, None)


def _pair_graph(node, grads):
    from .pointwise import where

    x, y = saved_tensors(node)
    axes, keepdim, correction, take_sqrt, _, all_dims = node._ctx
    shape = x._data.shape
    dtype = x._data.dtype
    n = math.prod(shape[d] for d in axes) if axes else 1
    keep = tuple(1 if d in axes else s for d, s in enumerate(shape))
    g_spread, g_mean = grads
    total = None
    if g_spread is not None:
        g = g_spread.reshape(keep) if g_spread._data.ndim != len(shape) else g_spread
        if take_sqrt:
            yk = y.reshape(keep) if y._data.ndim != len(shape) else y
            zero = _wrap(yk._data == 0)
            g = where(zero, 0.0, g / (where(zero, 1.0, yk) * 2))
        centred = x - x.mean(axes, keepdim=True) if axes else x - x
        if all_dims and n - correction <= 0:
            total = g * _wrap(_degenerate_scale(centred._data))
        else:
            total = g * centred * float(_two_over(n - correction))
    if g_mean is not None:
        gm = g_mean.reshape(keep) if g_mean._data.ndim != len(shape) else g_mean
        part = (gm / n).expand(*shape)
        total = part if total is None else total + part
    if total is None:
        total = _wrap(np.zeros(shape, dtype))
    return (total,)


def _mean_array(x: np.ndarray, axes: tuple, keepdim: bool) -> np.ndarray:
    if not axes:
        return x.copy()
    n = math.prod(x.shape[d] for d in axes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(x.sum(axis=axes, keepdims=keepdim) / x.dtype.type(n), x.dtype)


def _pair_backward(node, grads):
    x, y = node._saved
    axes, keepdim, correction, take_sqrt, dtype, all_dims = node._ctx
    shape = x.shape
    work = x
    n = math.prod(shape[d] for d in axes) if axes else 1
    keep = tuple(1 if d in axes else s for d, s in enumerate(shape))
    total = np.zeros(shape, work.dtype)
    g_spread, g_mean = grads
    with np.errstate(divide="ignore", invalid="ignore"):
        if g_spread is not None:
            g = np.asarray(g_spread, work.dtype).reshape(keep)
            if take_sqrt:
                yk = np.asarray(y, work.dtype).reshape(keep)
                g = np.where(yk == 0, 0, g / (2 * np.where(yk == 0, 1, yk)))
            centred = work - _mean_array(work, axes, True) if axes else work - work
            if all_dims and n - correction <= 0:
                total += g * _degenerate_scale(centred)
            else:
                total += g * centred * work.dtype.type(_two_over(n - correction))
        if g_mean is not None:
            total += np.asarray(g_mean, work.dtype).reshape(keep) / work.dtype.type(n)
    return (total.astype(dtype, copy=False),)


def _two_over(dof) -> np.float64:
    """2 / (n - correction): inf at no degrees of freedom, as PyTorch's double arithmetic."""
    with np.errstate(divide="ignore"):
        return np.float64(2.0) / np.float64(dof)


def _degenerate_scale(centred: np.ndarray) -> np.ndarray:
    """PyTorch's variance gradient factor over all dims when n <= correction: NaN at zero, inf elsewhere."""
    return np.where(centred == 0, np.nan, np.inf).astype(centred.dtype)


_StdMeanNode = define_node("StdMeanBackward0", _pair_backward, _pair_graph)
_VarMeanNode = define_node("VarMeanBackward0", _pair_backward, _pair_graph)


def std_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """``(std(input, dim), mean(input, dim))`` in one call (same arguments as ``std``)."""
    return _pair_stat("std_mean", input, dim, unbiased, keepdim, correction, True)


def var_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """``(var(input, dim), mean(input, dim))`` in one call (same arguments as ``var``)."""
    return _pair_stat("var_mean", input, dim, unbiased, keepdim, correction, False)


# ============================================================================ the table
def _x(rng, *shape):
    return rng.uniform(-2, 2, shape)


def _samples_masked_select(rng):
    x = _x(rng, 3, 4)
    return [((x, x > 0), {}), ((x, np.array([True, False, True, True])), {}),
            ((_x(rng, 4), np.array([[True, False, False, True], [False, True, True, True]])), {})]


def _samples_take(rng):
    return [((_x(rng, 3, 4), np.array([0, 5, -1, 5, 11])), {}), ((_x(rng, 3, 4), np.array([[1, 2], [2, -12]])), {}),
            ((_x(rng), np.array([0, 0])), {})]


def _samples_select(rng):
    return [((_x(rng, 3, 4), 0, 1), {}), ((_x(rng, 3, 4, 2), -1, -2), {}), ((_x(rng, 3, 4), 1, 3), {})]


def _samples_movedim(rng):
    x = _x(rng, 2, 3, 4)
    return [((x, 0, 2), {}), ((x, (0, 1), (2, 0)), {}), ((x, -1, 0), {}), ((x, [1], [1]), {})]


def _samples_diag(rng):
    return [((_x(rng, 4),), {}), ((_x(rng, 3), 1), {}), ((_x(rng, 3), -2), {}), ((_x(rng, 3, 4),), {}),
            ((_x(rng, 3, 4), 1), {}), ((_x(rng, 4, 3), -2), {}), ((_x(rng, 3, 4), 5), {})]


def _samples_diag_embed(rng):
    return [((_x(rng, 2, 3),), {}), ((_x(rng, 3), 1), {}), ((_x(rng, 2, 3), -1, 0, 2), {}),
            ((_x(rng, 2, 3),), {"offset": 1, "dim1": 2, "dim2": 0})]


def _samples_repeat_interleave(rng):
    x = _x(rng, 2, 3)
    return [((x, 2), {}), ((x, 2, 0), {}), ((x, np.array([1, 0, 2]), 1), {}), ((x,), {"repeats": np.array([3]),
                                                                                      "dim": 0}),
            ((x, np.array([1, 2, 0, 1, 1, 2])), {}), ((_x(rng), 3), {})]


def _samples_bincount(rng):
    idx = np.array([0, 3, 1, 3, 3, 7])
    return [((idx,), {}), ((idx,), {"minlength": 10}), ((idx,), {"weights": rng.uniform(0, 1, 6)})]


def _samples_histc(rng):
    x = _x(rng, 4, 5)
    # (bins is passed once: the fuzzer's 2**31 bins would exhaust PyTorch's memory, not jitgrad's)
    return [((x,), {}), ((x, 7), {}), ((x,), {"min": -1.0, "max": 1.0}), ((x,), {"min": 0.5, "max": 0.5})]


def _samples_pair(rng):
    x = _x(rng, 3, 4, 5)
    return [((x,), {}), ((x, 1), {}), ((x,), {"dim": (0, 2), "keepdim": True}), ((x,), {"correction": 0}),
            ((x, -1, False), {}), ((x,), {"dim": [1], "correction": 2}), ((x, True), {})]


register(OpInfo("nonzero", "", nonzero, differentiable=False,
                samples=lambda rng: [((_x(rng, 3, 4) > 0,), {}), ((_x(rng, 3, 4).round(),), {"as_tuple": True}),
                                     ((np.array(2.0),), {}), ((np.array(0.0),), {"as_tuple": True})]))
register(OpInfo("masked_select", "MaskedSelectBackward0", masked_select, samples=_samples_masked_select))
register(OpInfo("take", "TakeBackward0", take, samples=_samples_take))
register(OpInfo("select", "SelectBackward0", select, samples=_samples_select))
register(OpInfo("movedim", "PermuteBackward0", movedim, aliases=("moveaxis",), samples=_samples_movedim))
register(OpInfo("diag", "DiagEmbedBackward0", diag, nodes=("DiagonalBackward0_copy",), samples=_samples_diag))
register(OpInfo("diag_embed", "DiagEmbedBackward0", diag_embed, samples=_samples_diag_embed))
register(OpInfo("repeat_interleave", "ViewBackward0", repeat_interleave, nodes=("IndexSelectBackward0",),
                samples=_samples_repeat_interleave))
register(OpInfo("bincount", "", bincount, differentiable=False, samples=_samples_bincount))
register(OpInfo("histc", "", histc, differentiable=False, samples=_samples_histc))
register(OpInfo("std_mean", "StdMeanBackward0", numpy_names(std_mean), samples=_samples_pair))
register(OpInfo("var_mean", "VarMeanBackward0", numpy_names(var_mean), samples=_samples_pair))
