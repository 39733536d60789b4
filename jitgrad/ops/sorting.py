"""Sorting, searching and logical reductions: sort, argsort, msort, topk, kthvalue, cummax,
cummin, logcumsumexp, all, any -- with PyTorch's signatures, ``torch.return_types`` results,
NaN ordering (NaN is the largest value) and tie rules.

Sorts are stable (PyTorch's CPU sort is, whatever ``stable`` says): ascending keeps equal
elements in input order, and so does descending.  The gradient of every selecting op goes back
through the returned indices with ``scatter_add`` (``ops/joining.py``), whose own gradient is
``gather``: so every order of gradient exists.  Kernels: NumPy's stable sort, and
``jitgrad/kernels/sorting.py`` for the running extremes.
"""
import functools

import numpy as np

from .. import _dtype
from ..kernels import sorting as kern
from ..tensor import Tensor, _wrap, _wrap_dim, edge
from . import registry
from .joining import _scatter_add_array, scatter_add
from .reduction import normalize_dims
from .registry import OpInfo, define_node, new_node, register, result, saved_tensors, saved_version
from .statistics import _distinct, _middle, _return_type

_state = registry._state
_F16 = np.dtype(np.float16)
_F32 = np.dtype(np.float32)
_I64 = np.dtype(np.int64)

return_types_sort = _return_type("sort")
return_types_topk = _return_type("topk")
return_types_kthvalue = _return_type("kthvalue")
return_types_cummax = _return_type("cummax")
return_types_cummin = _return_type("cummin")


def numpy_names(fn):
    """``fn`` also taking NumPy's keyword names ``axis`` / ``keepdims``, as PyTorch's argument
    parser does for every ``dim`` / ``keepdim``."""
    @functools.wraps(fn)
    def op(input, *args, **kwargs):
        if kwargs:
            if "axis" in kwargs:
                kwargs["dim"] = kwargs.pop("axis")
            if "keepdims" in kwargs:
                kwargs["keepdim"] = kwargs.pop("keepdims")
        return fn(input, *args, **kwargs)
    return op


def _dim(fn: str, dim, ndim: int) -> int:
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{fn}(): argument 'dim' must be int, not {type(dim).__name__}")
    return _wrap_dim(int(dim), ndim)


def _int_arg(fn: str, name: str, value, pos: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{fn}(): argument '{name}' (position {pos}) must be int, not {type(value).__name__}")
    return int(value)


def stable_argsort(a: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """Indices that sort ``a`` along ``axis`` (int64), stably both ways, NaN the largest value."""
    if a.ndim == 0:
        return np.zeros((), _I64)
    if not descending:
        return np.argsort(a, axis=axis, kind="stable").astype(_I64, copy=False)
    # descending, ties in input order: sort the reversed array ascending, then reverse back
    rev = np.argsort(np.flip(a, axis), axis=axis, kind="stable")
    return (a.shape[axis] - 1) - np.flip(rev, axis).astype(_I64, copy=False)


# ============================================================================ the shared backward
def _selected_backward(node, grads):
    """Gradient of values picked from the input at ``indices`` along ``d``: zeros with the
    incoming gradient added back at each index."""
    (idx,) = node._saved
    shape, dtype, d = node._ctx
    g = np.asarray(grads[0], dtype)
    if g.ndim != idx.ndim:
        g = g.reshape(idx.shape)
    return (_scatter_add_array(shape, dtype, d if shape else 0, idx, g),)


def _selected_graph(node, grads):
    (idx,) = node._saved
    shape, dtype, d = node._ctx
    g = grads[0]
    if g._data.ndim != idx.ndim:
        g = g.reshape(idx.shape)
    if g._data.dtype != dtype:
        g = g.to(_dtype.from_numpy_dtype(dtype))
    return (scatter_add(_wrap(np.zeros(shape, dtype)), d if shape else 0, _wrap(idx), g),)


def _selection_result(input: Tensor, values: np.ndarray, indices: np.ndarray, node_cls, d: int,
                      saved_idx: np.ndarray, return_type):
    """``return_type(values, indices)``, ``values`` recorded as ``node_cls`` when the input needs
    grad (the saved indices are ``saved_idx``: the index array in the values' layout with ``d``)."""
    idx_t = _wrap(indices)
    xd = input._data
    if _state.enabled and input._requires_grad and xd.dtype.kind == "f":
        node = new_node(node_cls, (edge(input),), (saved_idx,), (xd.shape, xd.dtype, d),
                        (saved_version(idx_t),))
        return return_type(result(values, node), idx_t)
    return return_type(result(values, None), idx_t)


_SortNode = define_node("SortBackward0", _selected_backward, _selected_graph)
_SortStableNode = define_node("SortBackward1", _selected_backward, _selected_graph)
_TopkNode = define_node("TopkBackward0", _selected_backward, _selected_graph)
_KthvalueNode = define_node("KthvalueBackward0", _selected_backward, _selected_graph)
_CummaxNode = define_node("CummaxBackward0", _selected_backward, _selected_graph)
_CumminNode = define_node("CumminBackward0", _selected_backward, _selected_graph)


# ============================================================================ sort / argsort / msort
def sort(input: Tensor, dim=-1, descending: bool = False, *, stable=None):
    """``(values, indices)`` of ``input`` sorted along ``dim`` (stable; NaN sorts as the largest)."""
    xd = input._data
    d = _dim("sort", dim, xd.ndim)
    idx = stable_argsort(xd, d, bool(descending))
    values = np.take_along_axis(xd, idx, d) if xd.ndim else xd.copy()
    node_cls = _SortNode if stable is None else _SortStableNode
    return _selection_result(input, values, idx, node_cls, d, idx, return_types_sort)


def argsort(input: Tensor, dim=-1, descending: bool = False, *, stable: bool = False) -> Tensor:
    """The indices that sort ``input`` along ``dim`` (stable)."""
    xd = input._data
    return _wrap(stable_argsort(xd, _dim("argsort", dim, xd.ndim), bool(descending)))


def msort(input: Tensor) -> Tensor:
    """``input`` sorted along its first dim."""
    return sort(input, 0).values


# ============================================================================ topk / kthvalue
def topk(input: Tensor, k, dim=-1, largest: bool = True, sorted: bool = True):  # noqa: A002 - PyTorch's name
    """The ``k`` largest (``largest=False``: smallest) elements along ``dim`` and their indices,
    selected as PyTorch's CPU kernel does (libstdc++'s partial_sort / nth_element + sort, in
    ``kernels/sorting.py``), so ties and ``sorted=False`` give PyTorch's order."""
    xd = input._data
    kk = _int_arg("topk", "k", k, 2)
    d = _dim("topk", dim, xd.ndim)
    if xd.dtype.kind == "b":
        raise RuntimeError("topk does not support bool dtypes on CPU")
    n = xd.shape[d] if xd.ndim else 1
    if kk < 0 or kk > n:
        raise RuntimeError("selected index k out of range")
    if xd.ndim == 0:
        zero = np.zeros((), _I64)
        return _selection_result(input, xd.copy(), zero, _TopkNode, 0, zero, return_types_topk)
    x3 = _middle(xd.astype(_F32) if xd.dtype == _F16 else xd, (d,))
    values = np.empty((x3.shape[0], kk, x3.shape[2]), x3.dtype)
    idx = np.empty((x3.shape[0], kk, x3.shape[2]), _I64)
    if values.size:
        kern.topk_middle(x3, kk, bool(largest), bool(sorted), values, idx)
    out_shape = xd.shape[:d] + (kk,) + xd.shape[d + 1:]
    values, idx = values.astype(xd.dtype, copy=False).reshape(out_shape), idx.reshape(out_shape)
    return _selection_result(input, values, idx, _TopkNode, d, idx, return_types_topk)


def kthvalue(input: Tensor, k, dim=-1, keepdim: bool = False):
    """The ``k``-th smallest element along ``dim`` (1-based) and its index (PyTorch's quickselect,
    so ties give PyTorch's index)."""
    xd = input._data
    kk = _int_arg("kthvalue", "k", k, 2)
    d = _dim("kthvalue", dim, xd.ndim)
    if xd.dtype.kind == "b":
        raise NotImplementedError("\"kthvalue_cpu\" not implemented for 'Bool'")
    n = xd.shape[d] if xd.ndim else 1
    if n == 0:
        raise IndexError(f"kthvalue(): Expected reduction dim {d} to have non-zero size.")
    if kk < 1 or kk > n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    if xd.ndim == 0:
        zero = np.zeros((), _I64)
        return _selection_result(input, xd.copy(), zero, _KthvalueNode, 0, zero, return_types_kthvalue)
    x3 = _middle(xd.astype(_F32) if xd.dtype == _F16 else xd, (d,))
    values = np.empty((x3.shape[0], x3.shape[2]), x3.dtype)
    idx = np.empty((x3.shape[0], x3.shape[2]), _I64)
    if x3.size:
        kern.kthvalue_middle(x3, kk - 1, values, idx)
    keep_shape = xd.shape[:d] + (1,) + xd.shape[d + 1:]
    values, idx = values.astype(xd.dtype, copy=False).reshape(keep_shape), idx.reshape(keep_shape)
    if not keepdim:
        values, out_idx = values.squeeze(d), idx.squeeze(d)
    else:
        out_idx = idx
    return _selection_result(input, values, out_idx, _KthvalueNode, d, idx, return_types_kthvalue)


# ============================================================================ cummax / cummin
def _cum_extreme(fn: str, input: Tensor, dim, kernel, node_cls, return_type):
    xd = input._data
    d = _dim(fn, dim, xd.ndim)
    if xd.ndim == 0 or xd.size == 0:
        zero = np.zeros(xd.shape, _I64)
        return _selection_result(input, xd.copy(), zero, node_cls, d, zero, return_type)
    src = xd.astype(_F32) if xd.dtype == _F16 else (xd.view(np.uint8) if xd.dtype.kind == "b" else xd)
    x3 = _middle(src, (d,))
    values = np.empty(x3.shape, x3.dtype)
    indices = np.empty(x3.shape, _I64)
    kernel(x3, values, indices)
    values = values.reshape(xd.shape).astype(xd.dtype, copy=False) if xd.dtype.kind != "b" \
        else values.reshape(xd.shape).view(np.bool_)
    indices = indices.reshape(xd.shape)
    return _selection_result(input, values, indices, node_cls, d, indices, return_type)


def cummax(input: Tensor, dim):
    """Running maximum along ``dim`` and where it was attained (ties and NaN: the latest)."""
    return _cum_extreme("cummax", input, dim, kern.cummax_middle, _CummaxNode, return_types_cummax)


def cummin(input: Tensor, dim):
    """Running minimum along ``dim`` and where it was attained (ties and NaN: the latest)."""
    return _cum_extreme("cummin", input, dim, kern.cummin_middle, _CumminNode, return_types_cummin)


# ============================================================================ logcumsumexp
def _lcse_array(x: np.ndarray, d: int) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.logaddexp.accumulate(x, axis=d) + x.dtype.type(0)  # (-0. -> 0., as PyTorch's -inf start)


def logcumsumexp(input: Tensor, dim) -> Tensor:
    """``log(cumsum(exp(input)))`` along ``dim``, computed stably."""
    xd = input._data
    if xd.dtype.kind != "f":
        raise NotImplementedError(f"\"logcumsumexp_out_cpu\" not implemented for "
                                  f"'{_dtype.from_numpy_dtype(xd.dtype)._legacy[:-6]}'")
    d = _dim("logcumsumexp", dim, xd.ndim)
    work = xd.astype(_F32) if xd.dtype == _F16 else xd
    out = (_lcse_array(work, d) if xd.ndim else work.copy()).astype(xd.dtype, copy=False)
    t = result(out, None)
    if _state.enabled and input._requires_grad:
        t.grad_fn = new_node(_LogcumsumexpNode, (edge(input),), (work, out), (d,),
                             (saved_version(input), saved_version(t, 0)))
        t._requires_grad = True
    return t


def _logcumsumexp_backward(node, grads):
    # grad_i = sum_{j >= i} g_j exp(x_i - y_j): the positive and the negative parts of g summed
    # in log space (PyTorch's formula: no overflow for large x)
    x, y = node._saved
    (d,) = node._ctx
    g = np.asarray(grads[0], x.dtype)
    if x.ndim == 0:
        return (g.copy(),)
    y = y.astype(x.dtype, copy=False)
    total = np.zeros(x.shape, x.dtype)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for sign, part in ((1.0, np.where(g > 0, g, 0)), (-1.0, np.where(g < 0, -g, 0))):
            rev = np.flip(_lcse_array(np.flip(np.log(part) - y, d), d), d)
            total += sign * np.exp(x + rev)
    return (total,)


def _logcumsumexp_graph(node, grads):
    from .pointwise import where
    from .reduction import sum as _sum

    x, y = saved_tensors(node)
    (d,) = node._ctx
    g = grads[0]
    if x._data.ndim == 0:
        return (g,)
    n = x._data.shape[d]
    nd = x._data.ndim
    later = np.triu(np.ones((n, n), dtype=bool)).reshape((1,) * d + (n, n) + (1,) * (nd - d - 1))
    # terms[.., i, j, ..] = g_j exp(x_i - y_j) for j >= i
    diff = x.unsqueeze(d + 1) - y.unsqueeze(d)
    weights = where(_wrap(later), diff, float("-inf")).exp()
    return (_sum(weights * g.unsqueeze(d), d + 1),)


_LogcumsumexpNode = define_node("LogcumsumexpBackward0", _logcumsumexp_backward, _logcumsumexp_graph)


# ============================================================================ all / any
def _logical_reduction(fn: str, input: Tensor, dim, keepdim: bool, reducer) -> Tensor:
    xd = input._data
    if not isinstance(keepdim, (bool, np.bool_)):
        raise TypeError(f"{fn}(): argument 'keepdim' must be bool, not {type(keepdim).__name__}")
    axes = normalize_dims(dim, xd.ndim)
    out = reducer(xd, axis=axes, keepdims=bool(keepdim)) if axes else (xd != 0)
    out = np.asarray(out, dtype=np.uint8 if xd.dtype == np.uint8 else np.bool_)
    if keepdim and not axes and dim is None:
        out = out.reshape((1,) * xd.ndim)
    return result(out, None)


def all(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001 - PyTorch's name
    """True where every element (over ``dim``: int or tuple; all by default) is non-zero."""
    return _logical_reduction("all", input, dim, keepdim, np.all)


def any(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001 - PyTorch's name
    """True where some element (over ``dim``: int or tuple; all by default) is non-zero."""
    return _logical_reduction("any", input, dim, keepdim, np.any)


# ============================================================================ the table
def _samples_sort(rng):
    x = _distinct(rng, (3, 4, 5))
    return [((x,), {}), ((x, 1), {}), ((x, 0, True), {}), ((x,), {"dim": -1, "descending": True, "stable": True}),
            ((_distinct(rng, ()),), {}), ((_distinct(rng, (6,)),), {"stable": False})]


def _samples_msort(rng):
    return [((_distinct(rng, (4, 3)),), {}), ((_distinct(rng, (5,)),), {})]


def _samples_topk(rng):
    x = _distinct(rng, (3, 4, 5))
    return [((x, 2), {}), ((x, 3, 1), {}), ((x, 1), {"dim": 0, "largest": False}), ((x, 5, -1, False), {}),
            ((_distinct(rng, (6,)), 0), {}), ((_distinct(rng, ()), 1), {})]


def _samples_kthvalue(rng):
    x = _distinct(rng, (3, 4, 5))
    return [((x, 2), {}), ((x, 3, 1), {}), ((x, 1), {"dim": 0, "keepdim": True}), ((x, 5, -1, True), {}),
            ((_distinct(rng, ()), 1), {})]


def _samples_cum(rng):
    x = _distinct(rng, (3, 4, 5))
    return [((x, 1), {}), ((x, 0), {}), ((x,), {"dim": -1}), ((_distinct(rng, ()), 0), {})]


def _samples_lcse(rng):
    x = rng.uniform(-2, 2, (3, 4, 5))
    return [((x, 1), {}), ((x, 0), {}), ((x,), {"dim": -1}), ((rng.uniform(-2, 2, ()), 0), {})]


def _samples_logical(rng):
    x = rng.uniform(-1, 1, (3, 4, 5))
    x[x < -0.5] = 0.0
    return [((x,), {}), ((x, 1), {}), ((x,), {"dim": (0, 2), "keepdim": True}), ((x, -1, True), {}),
            ((np.array([True, False, True]),), {}), ((np.array([[1, 0], [2, 3]], np.uint8), 1), {})]


register(OpInfo("sort", "SortBackward0", numpy_names(sort), nodes=("SortBackward1",), samples=_samples_sort))
register(OpInfo("argsort", "", numpy_names(argsort), samples=_samples_sort, differentiable=False))
register(OpInfo("msort", "SortBackward0", msort, samples=_samples_msort))
register(OpInfo("topk", "TopkBackward0", numpy_names(topk), samples=_samples_topk))
register(OpInfo("kthvalue", "KthvalueBackward0", numpy_names(kthvalue), samples=_samples_kthvalue))
register(OpInfo("cummax", "CummaxBackward0", numpy_names(cummax), samples=_samples_cum))
register(OpInfo("cummin", "CumminBackward0", numpy_names(cummin), samples=_samples_cum))
register(OpInfo("logcumsumexp", "LogcumsumexpBackward0", numpy_names(logcumsumexp), samples=_samples_lcse))
register(OpInfo("all", "", numpy_names(all), samples=_samples_logical, differentiable=False))
register(OpInfo("any", "", numpy_names(any), samples=_samples_logical, differentiable=False))
