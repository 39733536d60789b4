"""Statistics: max/min (with indices), argmax/argmin, amax/amin, prod, var/std, logsumexp,
cumsum, cumprod -- with PyTorch's signatures, return types and tie rules.

Every kernel sees the ``(outer, n, inner)`` view of ``ops/reduction._as_middle`` (everything at
once is ``(1, numel, 1)``), so it compiles once per dtype.  Gradients follow PyTorch:
``max(dim)`` sends each slice's gradient to the returned index; ``max()`` and ``amax`` share it
equally among ties; ``prod`` and ``cumprod`` are exact with zeros in the input.
Kernels: ``jitgrad/kernels/statistics.py``.
"""
import warnings
from collections import namedtuple
from math import prod as prod_of

import numpy as np

from .. import _dtype
from ..kernels import statistics as k
from ..tensor import Tensor, _wrap, _wrap_dim, edge
from . import elementwise as ew
from . import registry
from .inplace import _inplace
from .reduction import _as_middle, normalize_dims, record_saving_output
from .registry import OpInfo, define_node, new_node, register, result, saved_tensors

_state = registry._state
_F16 = np.dtype(np.float16)
_F32 = np.dtype(np.float32)
_I64 = np.dtype(np.int64)
_NO_DIM = object()  # "not passed": PyTorch's overloads tell dim=None apart from no dim at all


# ============================================================================ shared plumbing
def _middle(xd: np.ndarray, axes: tuple) -> np.ndarray:
    """``xd`` as (outer, n, inner) with ``axes`` in the middle; no axes or all of them: (1, numel, 1).
    Adjacent axes (the common case) are a reshape, sized with ``math.prod``: ``np.prod`` costs
    microseconds on a tuple.  Non-adjacent axes go through ``reduction._as_middle``."""
    if not xd.flags.c_contiguous:
        xd = np.ascontiguousarray(xd)
    if not axes or len(axes) == xd.ndim:
        return xd.reshape(1, -1, 1)
    lo, hi = axes[0], axes[-1]
    if hi - lo + 1 != len(axes):
        return _as_middle(xd, axes)
    shape = xd.shape
    return xd.reshape(prod_of(shape[:lo]), prod_of(shape[lo:hi + 1]), prod_of(shape[hi + 1:]))


def _unmiddle(g3: np.ndarray, shape: tuple, axes: tuple) -> np.ndarray:
    """A gradient computed on the (outer, n, inner) view, back in the input's layout."""
    if axes and axes[-1] - axes[0] + 1 != len(axes):  # _as_middle moved the axes to the end
        keep = [d for d in range(len(shape)) if d not in axes]
        perm = keep + list(axes)
        return g3.reshape([shape[d] for d in perm]).transpose(np.argsort(perm))
    return g3.reshape(shape)


def _keepdim_shape(shape: tuple, axes: tuple) -> tuple:
    return tuple(1 if d in axes else s for d, s in enumerate(shape))


def _reduced_shape(shape: tuple, axes: tuple, keepdim: bool) -> tuple:
    if keepdim:
        return _keepdim_shape(shape, axes)
    return tuple(s for d, s in enumerate(shape) if d not in axes)


def _grad_2d(g: np.ndarray, x3: np.ndarray, dtype) -> np.ndarray:
    """An incoming gradient of a reduction as the (outer, inner) array of the kernels."""
    return np.ascontiguousarray(g, dtype=dtype).reshape(x3.shape[0], x3.shape[2])


def _expand_graph(g: Tensor, shape: tuple, axes: tuple) -> Tensor:
    """A reduction's gradient Tensor with its reduced dims back (size 1), to broadcast."""
    return g.reshape(_keepdim_shape(shape, axes)) if g._data.ndim != len(shape) else g


def _single_dim(fn: str, dim, ndim: int) -> int:
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{fn}(): argument 'dim' must be int, not {type(dim).__name__}")
    return _wrap_dim(int(dim), ndim)


def _invalid(fn: str, args: tuple, kwargs: dict, signatures: str) -> TypeError:
    """PyTorch's TypeError for a call matching none of an op's overloads."""
    got = ", ".join([type(a).__name__ if not isinstance(a, Tensor) else "Tensor" for a in args]
                    + [f"{key}={type(v).__name__}" for key, v in sorted(kwargs.items())])
    if not args:
        got += ", "
    return TypeError(f"{fn}() received an invalid combination of arguments - got ({got}), "
                     f"but expected one of:\n{signatures}")


def _return_type(name: str):
    """PyTorch's ``torch.return_types.<name>``: a (values, indices) tuple with named fields."""
    cls = namedtuple(name, ("values", "indices"))
    cls.__qualname__ = f"return_types_{name}"
    cls.__module__ = __name__
    cls.__repr__ = lambda self: f"torch.return_types.{name}(\nvalues={self.values!r},\nindices={self.indices!r})"
    cls.__doc__ = f"The result of ``{name}(input, dim)``: ``values`` and their ``indices``."
    return cls


return_types_max = _return_type("max")
return_types_min = _return_type("min")


def _as_kernel_input(xd: np.ndarray) -> np.ndarray:
    """Bools compare as uint8 in the kernels (the same bytes)."""
    return xd.view(np.uint8) if xd.dtype.kind == "b" else xd


def _in_float32(fn, input: Tensor, *args):
    """float16 selections compute in float32 (exact) and cast back, through recorded casts
    (Numba has no float16); ``fn`` may return a (values, indices) pair."""
    from .conversion import to_dtype

    out = fn(to_dtype(input, _F32), *args)
    if isinstance(out, tuple):
        return to_dtype(out[0], _F16), out[1]
    return to_dtype(out, _F16)


# ============================================================================ max / min / argmax / argmin
_MAX_SIGNATURES = " * ()\n * (Tensor other)\n * (int dim, bool keepdim = False)\n"


def _extreme(fn: str, input: Tensor, dim, keepdim, other, kernel, all_node, dim_node, binary):
    if other is not None:
        if dim is not _NO_DIM:
            raise _invalid(fn, (dim,), {"other": other}, _MAX_SIGNATURES)
        return binary(input, other)
    if dim is _NO_DIM:
        if keepdim is not _NO_DIM:
            raise _invalid(fn, (), {"keepdim": keepdim}, _MAX_SIGNATURES)
        return _extreme_all(fn, input, kernel, all_node)
    if isinstance(dim, Tensor):
        if keepdim is not _NO_DIM:
            raise _invalid(fn, (dim, keepdim), {}, _MAX_SIGNATURES)
        return binary(input, dim)
    if dim is None or isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise _invalid(fn, (dim,), {}, _MAX_SIGNATURES)
    keepdim = False if keepdim is _NO_DIM else keepdim
    values, indices = _extreme_dim(fn, input, dim, bool(keepdim), kernel, dim_node)
    return (return_types_max if fn == "max" else return_types_min)(values, indices)


def _extreme_all(fn, input: Tensor, kernel, node_cls) -> Tensor:
    xd = input._data
    if xd.dtype == _F16:
        return _in_float32(lambda t: _extreme_all(fn, t, kernel, node_cls), input)
    if xd.size == 0:
        raise RuntimeError(f"{fn}(): Expected reduction dim to be specified for input.numel() == 0. "
                           "Specify the reduction dim with the 'dim' argument.")
    x3 = _middle(_as_kernel_input(xd), ())
    values = np.empty((1, 1), x3.dtype)
    indices = np.empty((1, 1), np.int64)
    kernel(x3, values, indices)
    out = values.astype(xd.dtype, copy=False).reshape(())
    if _state.enabled and input._requires_grad:
        return record_saving_output(out, input, node_cls, (x3, values), (xd.shape, tuple(range(xd.ndim)), True))
    return result(out, None)


def _extreme_dim(fn, input: Tensor, dim, keepdim: bool, kernel, node_cls):
    xd = input._data
    if xd.dtype == _F16:
        return _in_float32(lambda t: _extreme_dim(fn, t, dim, keepdim, kernel, node_cls), input)
    d = _single_dim(fn, dim, xd.ndim)
    if xd.ndim and xd.shape[d] == 0:
        raise IndexError(f"{fn}(): Expected reduction dim {d} to have non-zero size.")
    axes = (d,) if xd.ndim else ()
    x3 = _middle(_as_kernel_input(xd), axes)
    values = np.empty((x3.shape[0], x3.shape[2]), x3.dtype)
    indices = np.empty((x3.shape[0], x3.shape[2]), np.int64)
    if x3.size:
        kernel(x3, values, indices)
    out_shape = _reduced_shape(xd.shape, axes, keepdim)
    out = values.astype(xd.dtype, copy=False).reshape(out_shape)
    idx = _wrap(indices.reshape(out_shape))
    if _state.enabled and input._requires_grad:
        node = new_node(node_cls, (edge(input),), (indices,), (xd.shape, xd.dtype, x3.shape, axes))
        return result(out, node), idx
    return result(out, None), idx


def _select_backward(node, grads):
    (indices,) = node._saved
    shape, dtype, shape3, axes = node._ctx
    gx = np.empty(shape3, dtype)
    k.select_middle_backward(np.ascontiguousarray(grads[0], dtype=dtype).reshape(indices.shape), indices, gx)
    return (gx.reshape(shape),)


def _select_graph(node, grads):
    (indices,) = node._saved
    shape, dtype, shape3, axes = node._ctx
    chosen = np.arange(shape3[1]).reshape(1, -1, 1) == indices.reshape(shape3[0], 1, shape3[2])
    from .pointwise import where

    return (where(_wrap(chosen.reshape(shape)), _expand_graph(grads[0], shape, axes), 0.0),)


def _ties_backward(node, grads):
    x3, res2 = node._saved
    shape, axes, nan_is_tie = node._ctx
    gx = np.empty(x3.shape, grads[0].dtype)
    k.ties_middle_backward(_grad_2d(grads[0], x3, grads[0].dtype), x3, res2, nan_is_tie, gx)
    return (_unmiddle(gx, shape, axes),)


def _ties_graph(node, grads):
    # the gradient is linear in grads with constant weights (1/count at the ties)
    x3, res2 = node._saved
    shape, axes, nan_is_tie = node._ctx
    dtype = grads[0]._data.dtype
    weights = np.empty(x3.shape, dtype)
    k.ties_middle_backward(np.ones(res2.shape, dtype), x3, res2, nan_is_tie, weights)
    weighted = _expand_graph(grads[0], shape, axes) * _wrap(_unmiddle(weights, shape, axes))
    if nan_is_tie:  # max()/min() scatter: a NaN grad stays off the unselected elements
        from .pointwise import where

        return (where(_wrap(_unmiddle(weights != 0, shape, axes)), weighted, 0.0),)
    return (weighted,)


_MaxAllNode = define_node("MaxBackward1", _ties_backward, _ties_graph)
_MinAllNode = define_node("MinBackward1", _ties_backward, _ties_graph)
_MaxDimNode = define_node("MaxBackward0", _select_backward, _select_graph)
_MinDimNode = define_node("MinBackward0", _select_backward, _select_graph)


def _maximum(a, b):
    from .pointwise import maximum

    return maximum(a, b)


def _minimum(a, b):
    from .pointwise import minimum

    return minimum(a, b)


def max(input: Tensor, dim=_NO_DIM, keepdim=_NO_DIM, *, other=None):  # noqa: A001 - PyTorch's name
    """The largest element (0-d); with ``dim``, ``(values, indices)`` of each slice's first maximum;
    with a tensor, ``maximum(input, other)``.  NaN counts as the largest value."""
    return _extreme("max", input, dim, keepdim, other, k.max_middle_forward, _MaxAllNode, _MaxDimNode, _maximum)


def min(input: Tensor, dim=_NO_DIM, keepdim=_NO_DIM, *, other=None):  # noqa: A001 - PyTorch's name
    """The smallest element (0-d); with ``dim``, ``(values, indices)`` of each slice's first minimum;
    with a tensor, ``minimum(input, other)``.  NaN counts as the smallest value."""
    return _extreme("min", input, dim, keepdim, other, k.min_middle_forward, _MinAllNode, _MinDimNode, _minimum)


def _arg_extreme(fn: str, input: Tensor, dim, keepdim: bool, kernel) -> Tensor:
    xd = input._data
    if xd.dtype.kind == "b":
        raise RuntimeError(f"{fn}(): does not support bool input")
    if xd.dtype == _F16:
        xd = xd.astype(_F32)  # exact; Numba has no float16
    if dim is None:
        if xd.size == 0:
            raise IndexError(f"{fn}(): Expected reduction dim to be specified for input.numel() == 0.")
        x3 = _middle(_as_kernel_input(xd), ())
        out_shape = (1,) * xd.ndim if keepdim else ()
    else:
        d = _single_dim(fn, dim, xd.ndim)
        if xd.ndim and xd.shape[d] == 0:
            raise IndexError(f"{fn}(): Expected reduction dim {d} to have non-zero size.")
        axes = (d,) if xd.ndim else ()
        x3 = _middle(_as_kernel_input(xd), axes)
        out_shape = _reduced_shape(xd.shape, axes, keepdim)
    values = np.empty((x3.shape[0], x3.shape[2]), x3.dtype)
    indices = np.empty((x3.shape[0], x3.shape[2]), np.int64)
    if x3.size:
        kernel(x3, values, indices)
    return _wrap(indices.reshape(out_shape))


def argmax(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the (first) maximum, of the flattened input or along ``dim``."""
    return _arg_extreme("argmax", input, dim, keepdim, k.max_middle_forward)


def argmin(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the (first) minimum, of the flattened input or along ``dim``."""
    return _arg_extreme("argmin", input, dim, keepdim, k.min_middle_forward)


# ============================================================================ amax / amin
def _amax_like(fn: str, input: Tensor, dim, keepdim: bool, kernel, node_cls) -> Tensor:
    xd = input._data
    if xd.dtype == _F16:
        return _in_float32(lambda t: _amax_like(fn, t, dim, keepdim, kernel, node_cls), input)
    axes = normalize_dims(dim, xd.ndim)
    if xd.size == 0:
        if isinstance(dim, (tuple, list)) and len(dim) == 0:
            raise RuntimeError(f"{fn}(): Expected reduction dim to be specified for input.numel() == 0. "
                               "Specify the reduction dim with the 'dim' argument.")
        empty = [d for d in axes if xd.shape[d] == 0]
        if empty:
            raise IndexError(f"{fn}(): Expected reduction dim {empty[0]} to have non-zero size.")
    x3 = _middle(_as_kernel_input(xd), axes)
    values = np.empty((x3.shape[0], x3.shape[2]), x3.dtype)
    indices = np.empty((x3.shape[0], x3.shape[2]), np.int64)
    if x3.size:
        kernel(x3, values, indices)
    out = values.astype(xd.dtype, copy=False).reshape(_reduced_shape(xd.shape, axes, keepdim))
    if _state.enabled and input._requires_grad:
        return record_saving_output(out, input, node_cls, (x3, values), (xd.shape, axes, False))
    return result(out, None)


_AmaxNode = define_node("AmaxBackward0", _ties_backward, _ties_graph)
_AminNode = define_node("AminBackward0", _ties_backward, _ties_graph)


def amax(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """Maximum over ``dim`` (int or tuple; all dims by default); the gradient is shared among ties."""
    return _amax_like("amax", input, dim, keepdim, k.max_middle_forward, _AmaxNode)


def amin(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """Minimum over ``dim`` (int or tuple; all dims by default); the gradient is shared among ties."""
    return _amax_like("amin", input, dim, keepdim, k.min_middle_forward, _AminNode)


# ============================================================================ prod
_PROD_SIGNATURES = " * (*, torch.dtype dtype = None)\n * (int dim, bool keepdim = False, *, torch.dtype dtype = None)\n"


def _accumulator(dt: np.dtype, unit: int):
    return float(unit) if dt.kind == "f" else unit


def prod(input: Tensor, dim=_NO_DIM, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Product of all elements, or along ``dim``; integers and bools multiply in int64."""
    if dim is _NO_DIM:
        if keepdim:
            raise _invalid("prod", (), {"keepdim": keepdim}, _PROD_SIGNATURES)
    elif dim is None or isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise _invalid("prod", (dim,), {}, _PROD_SIGNATURES)
    xd = input._data
    if dtype is not None:
        xd = xd.astype(_dtype.to_numpy_dtype(dtype), copy=False)
    elif xd.dtype.kind != "f":
        xd = xd.astype(_I64)
    if xd.dtype == _F16:
        from .conversion import to_dtype

        return to_dtype(prod(to_dtype(input, _F32), dim, keepdim), _F16)
    if dim is _NO_DIM:
        axes, node_cls, out_shape = tuple(range(xd.ndim)), _ProdAllNode, ()
    else:
        d = _single_dim("prod", dim, xd.ndim)
        axes = (d,) if xd.ndim else ()
        node_cls, out_shape = _ProdDimNode, _reduced_shape(xd.shape, axes, keepdim)
    x3 = _middle(xd, axes)
    out2 = np.empty((x3.shape[0], x3.shape[2]), xd.dtype)
    k.prod_middle_forward(x3, _accumulator(xd.dtype, 1), out2)
    out = out2.reshape(out_shape)
    if _state.enabled and input._requires_grad and xd.dtype.kind == "f":
        return record_saving_output(out, input, node_cls, (x3, out2), (input._data.shape, input._data.dtype, axes))
    return result(out, None)


def _prod_backward(node, grads):
    x3, res2 = node._saved
    shape, dtype, axes = node._ctx
    if len(shape) == 0:  # PyTorch passes the gradient through (result / x would be nan at inf or nan)
        return (np.asarray(grads[0], dtype).reshape(shape),)
    gx = np.empty(x3.shape, x3.dtype)
    k.prod_middle_backward(_grad_2d(grads[0], x3, x3.dtype), x3, res2, node.__class__ is _ProdAllNode, gx)
    return (gx.reshape(shape).astype(dtype, copy=False),)


def _exclusive(x: Tensor, d: int, scan) -> Tensor:
    """``scan`` over dim d + 1 of the (.., n, n, ..) expansion of x whose row k has x_k replaced by 1:
    with prod, the products of all elements but x_k; with cumprod, the prefix products skipping x_k."""
    from .pointwise import where

    shape = x._data.shape
    n = shape[d]
    eye = np.eye(n, dtype=bool).reshape((1,) * d + (n, n) + (1,) * (len(shape) - d - 1))
    rows = x.unsqueeze(d).expand(*(shape[:d] + (n,) + shape[d:]))
    return scan(where(_wrap(eye), 1.0, rows), d + 1)


def _prod_graph(node, grads):
    x, y = saved_tensors(node)
    shape, dtype, axes = node._ctx
    g = grads[0]
    if len(shape) == 0:
        return (g,)
    if not (x._data == 0).any():
        return (_expand_graph(g, shape, axes) * _expand_graph(y, shape, axes) / x,)
    if len(axes) == len(shape):  # everything: the products-but-one of the flattened input
        return ((g.reshape(-1) * _exclusive(x.reshape(-1), 0, prod)).reshape(shape),)
    return (_expand_graph(g, shape, axes) * _exclusive(x, axes[0], prod),)


_ProdAllNode = define_node("ProdBackward0", _prod_backward, _prod_graph)
_ProdDimNode = define_node("ProdBackward1", _prod_backward, _prod_graph)


# ============================================================================ var / std
_VAR_SIGNATURES = (" * (tuple of ints dim, bool unbiased = True, bool keepdim = False)\n"
                   " * (tuple of ints dim = None, *, Number correction = None, bool keepdim = False)\n"
                   " * (bool unbiased = True)\n")


def _variance(fn: str, input: Tensor, dim, unbiased, keepdim, correction, take_sqrt: bool) -> Tensor:
    if isinstance(dim, bool):  # var(input, unbiased): the legacy overload
        if unbiased is not None:
            raise _invalid(fn, (dim, unbiased), {}, _VAR_SIGNATURES)
        dim, unbiased = None, dim
    if unbiased is not None:
        if correction is not None or not isinstance(unbiased, (bool, np.bool_)):
            kwargs = {"correction": correction} if correction is not None else {}
            raise _invalid(fn, (dim, unbiased), kwargs, _VAR_SIGNATURES)
        correction = 1.0 if unbiased else 0.0
    correction = 1.0 if correction is None else float(correction)
    xd = input._data
    if xd.dtype.kind != "f":
        raise RuntimeError("std and var only support floating point and complex dtypes")
    if xd.dtype == _F16:
        return ew._via_float32(lambda t: _variance(fn, t, dim, None, keepdim, correction, take_sqrt), input)
    axes = normalize_dims(dim, xd.ndim)
    # PyTorch's backward special-cases "no dim" (not "every dim") when n <= correction
    all_dims = dim is None or xd.ndim == 0 or (isinstance(dim, (tuple, list)) and len(dim) == 0)
    x3 = _middle(xd, axes)
    if x3.shape[1] - correction <= 0:
        warnings.warn(f"{fn}(): degrees of freedom is <= 0. Correction should be strictly less than the "
                      "reduction factor (input numel divided by output numel).", UserWarning, stacklevel=3)
    out2 = np.empty((x3.shape[0], x3.shape[2]), xd.dtype)
    k.var_middle_forward(x3, correction, take_sqrt, out2)
    out = out2.reshape(_reduced_shape(xd.shape, axes, keepdim))
    if _state.enabled and input._requires_grad:
        return record_saving_output(out, input, _StdNode if take_sqrt else _VarNode, (x3, out2),
                                    (xd.shape, axes, correction, take_sqrt, all_dims))
    return result(out, None)


def var(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    """Variance over ``dim`` (all by default) with ``correction`` (1: Bessel's; ``unbiased``: legacy)."""
    return _variance("var", input, dim, unbiased, keepdim, correction, False)


def std(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    """Standard deviation over ``dim`` (all by default) with ``correction`` (1: Bessel's)."""
    return _variance("std", input, dim, unbiased, keepdim, correction, True)


def _var_backward(node, grads):
    x3, res2 = node._saved
    shape, axes, correction, take_sqrt, all_dims = node._ctx
    gx = np.empty(x3.shape, x3.dtype)
    k.var_middle_backward(_grad_2d(grads[0], x3, x3.dtype), x3, res2, correction, take_sqrt, all_dims, gx)
    return (_unmiddle(gx, shape, axes),)


def _var_graph(node, grads):
    from .pointwise import where
    from .reduction import mean

    x, y = saved_tensors(node)
    shape, axes, correction, take_sqrt, all_dims = node._ctx
    g = _expand_graph(grads[0], shape, axes)
    if take_sqrt:  # std: grad / (2 std), zero where std == 0 (a safe denominator keeps NaN out)
        y = _expand_graph(y, shape, axes)
        zero = _wrap(y._data == 0)
        g = where(zero, 0.0, g / (where(zero, 1.0, y) * 2))
    n = int(np.prod([shape[d] for d in axes], dtype=np.int64)) if axes else 1
    centred = x - mean(x, axes, keepdim=True) if axes else x - x
    if all_dims and n - correction <= 0:
        return (g * _wrap(np.where(centred._data == 0, np.nan, np.inf).astype(x._data.dtype)),)
    return (g * centred * (2.0 / (n - correction)),)


_VarNode = define_node("VarBackward0", _var_backward, _var_graph)
_StdNode = define_node("StdBackward0", _var_backward, _var_graph)


# ============================================================================ logsumexp
def logsumexp(input: Tensor, dim, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(input)))`` over ``dim``, computed stably (shifted by the maximum)."""
    xd = input._data
    if xd.dtype.kind != "f":
        xd = xd.astype(_dtype.get_default_dtype().np)
    if xd.dtype == _F16:
        return ew._via_float32(lambda t: logsumexp(t, dim, keepdim), input)
    if isinstance(dim, (tuple, list)) and len(dim) == 0 and xd.ndim and not keepdim:
        # PyTorch: sums over no dim (keeping them), then fails to write into the 0-d result
        raise RuntimeError(f"output with shape [] doesn't match the broadcast shape {[1] * xd.ndim}")
    axes = normalize_dims(dim, xd.ndim)
    x3 = _middle(xd, axes)
    out2 = np.empty((x3.shape[0], x3.shape[2]), xd.dtype)
    k.logsumexp_middle_forward(x3, out2)
    out = out2.reshape(_reduced_shape(xd.shape, axes, keepdim))
    if _state.enabled and input._requires_grad:
        return record_saving_output(out, input, _LogsumexpNode, (x3, out2), (xd.shape, axes))
    return result(out, None)


def _logsumexp_backward(node, grads):
    x3, res2 = node._saved
    shape, axes = node._ctx
    gx = np.empty(x3.shape, x3.dtype)
    k.logsumexp_middle_backward(_grad_2d(grads[0], x3, x3.dtype), x3, res2, gx)
    return (_unmiddle(gx, shape, axes),)


def _logsumexp_graph(node, grads):
    x, y = saved_tensors(node)
    shape, axes = node._ctx
    return (_expand_graph(grads[0], shape, axes) * (x - _expand_graph(y, shape, axes)).exp(),)


_LogsumexpNode = define_node("LogsumexpBackward0", _logsumexp_backward, _logsumexp_graph)


# ============================================================================ cumsum / cumprod
def _scan(fn: str, input: Tensor, dim, dtype, kernel, unit: int, node_cls) -> Tensor:
    xd = input._data
    d = _single_dim(fn, dim, xd.ndim)
    if dtype is not None:
        xd = xd.astype(_dtype.to_numpy_dtype(dtype), copy=False)
        if xd.dtype.kind == "b":
            raise NotImplementedError(f"\"{fn}_out_cpu\" not implemented for 'Bool'")
    elif xd.dtype.kind != "f":
        xd = xd.astype(_I64)
    if xd.dtype == _F16:
        from .conversion import to_dtype

        return to_dtype(_scan(fn, to_dtype(input, _F32), dim, None, kernel, unit, node_cls), _F16)
    axes = (d,) if xd.ndim else ()
    x3 = _middle(xd, axes)
    out3 = np.empty(x3.shape, xd.dtype)
    kernel(x3, _accumulator(xd.dtype, unit), out3)
    out = out3.reshape(xd.shape)
    t = result(out, None)
    if _state.enabled and input._requires_grad and xd.dtype.kind == "f":
        versions = (registry.saved_version(input), registry.saved_version(t, 0)) if node_cls is _CumprodNode else ()
        saved = (x3, out3) if node_cls is _CumprodNode else None
        t.grad_fn = new_node(node_cls, (edge(input),), saved, (input._data.shape, input._data.dtype, d, x3.shape),
                             versions)
        t._requires_grad = True
    return t


def cumsum(input: Tensor, dim, *, dtype=None) -> Tensor:
    """Cumulative sum along ``dim``; integers and bools accumulate in int64."""
    return _scan("cumsum", input, dim, dtype, k.cumsum_middle_forward, 0, _CumsumNode)


def cumprod(input: Tensor, dim, *, dtype=None) -> Tensor:
    """Cumulative product along ``dim``; the gradient is exact with zeros in the input."""
    return _scan("cumprod", input, dim, dtype, k.cumprod_middle_forward, 1, _CumprodNode)


def _cumsum_backward(node, grads):
    shape, dtype, d, shape3 = node._ctx
    g3 = np.ascontiguousarray(grads[0], dtype=dtype).reshape(shape3)
    gx = np.empty(shape3, dtype)
    k.reverse_cumsum_middle(g3, gx)
    return (gx.reshape(shape),)


def _reverse_cumsum(v: Tensor, d: int) -> Tensor:
    """sum_{j >= i} v_j along d, with differentiable ops: total - cumsum + v."""
    from .reduction import sum as _sum

    return _sum(v, d, keepdim=True) - cumsum(v, d) + v


def _cumsum_graph(node, grads):
    shape, dtype, d, shape3 = node._ctx
    g = grads[0]
    if g._data.dtype != dtype:
        g = g.to(_dtype.from_numpy_dtype(dtype))
    return (_reverse_cumsum(g, d) if len(shape) else g,)


def _cumprod_backward(node, grads):
    x3, y3 = node._saved
    shape, dtype, d, shape3 = node._ctx
    if x3.size <= 1:  # PyTorch passes the gradient through (y / x would be nan at inf or nan)
        return (np.asarray(grads[0], dtype).reshape(shape),)
    gx = np.empty(shape3, x3.dtype)
    k.cumprod_middle_backward(np.ascontiguousarray(grads[0], dtype=x3.dtype).reshape(shape3), x3, y3, gx)
    return (gx.reshape(shape).astype(dtype, copy=False),)


def _cumprod_graph(node, grads):
    from .pointwise import where
    from .reduction import sum as _sum

    x, y = saved_tensors(node)
    shape, dtype, d, shape3 = node._ctx
    g = grads[0]
    if x._data.size <= 1:
        return (g,)
    if not (x._data == 0).any():
        return (_reverse_cumsum(g * y, d) / x,)
    # with zeros: grad_k = sum_{j >= k} g_j * prod_{i <= j, i != k} x_i, on the (.., n, n, ..) expansion
    n = shape[d]
    later = np.triu(np.ones((n, n), dtype=bool)).reshape((1,) * d + (n, n) + (1,) * (len(shape) - d - 1))
    terms = g.unsqueeze(d) * _exclusive(x, d, cumprod)
    return (_sum(where(_wrap(later), terms, 0.0), d + 1),)


_CumsumNode = define_node("CumsumBackward0", _cumsum_backward, _cumsum_graph)
_CumprodNode = define_node("CumprodBackward0", _cumprod_backward, _cumprod_graph)

def _scan_inplace(out_of_place, name: str):
    """``cumsum_`` / ``cumprod_``: PyTorch has no bool kernel to write a bool tensor with (the
    out-of-place op accumulates bools in int64, which cannot be written back)."""
    inplace = _inplace(out_of_place, name)

    def op(input: Tensor, dim, *, dtype=None) -> Tensor:
        kind = input._data.dtype.kind
        if kind == "b":
            raise NotImplementedError(f"\"{name[:-1]}_out_cpu\" not implemented for 'Bool'")
        if dtype is None and kind in "iu":  # accumulate as PyTorch does, into self's own type (uint8 wraps)
            dtype = input.dtype
        return inplace(input, dim, dtype=dtype)

    op.__name__ = name
    op.__doc__ = inplace.__doc__
    return op


cumsum_ = _scan_inplace(cumsum, "cumsum_")
cumprod_ = _scan_inplace(cumprod, "cumprod_")


# ============================================================================ the table
def _distinct(rng, shape, low=-2.0, high=2.0):
    """Values at least 0.05 apart (a shuffled grid plus jitter): no ties, so max/amax are smooth."""
    n = int(np.prod(shape, dtype=np.int64))
    grid = np.linspace(low, high, n + 1)[:n] + rng.uniform(-0.01, 0.01, n)
    return rng.permutation(grid).reshape(shape)


def _samples_extreme(rng):
    x = _distinct(rng, (3, 4, 5))
    pair = _distinct(rng, (2, 3, 4))  # max(a, b): no ties between the operands either
    return [((x,), {}), ((_distinct(rng, ()),), {}), ((_distinct(rng, (6,)),), {}),
            ((x, 1), {}), ((x,), {"dim": -1, "keepdim": True}), ((pair[0], pair[1]), {})]


def _samples_arg(rng):
    x = _distinct(rng, (3, 4, 5))
    return [((x,), {}), ((x,), {"dim": 1}), ((x, -1, True), {}), ((x,), {"keepdim": True}), ((x, 0), {})]


def _samples_amax(rng):
    x = _distinct(rng, (3, 4, 5))
    return [((x,), {}), ((x,), {"dim": 1}), ((x, (0, 2)), {}), ((x,), {"dim": -1, "keepdim": True}),
            ((x, (0, 1), True), {}), ((_distinct(rng, ()),), {})]


def _samples_prod(rng):
    x = rng.uniform(0.5, 1.5, (3, 4, 2)) * rng.choice([-1.0, 1.0], (3, 4, 2))
    one_zero = x.copy()
    one_zero[1, 2, 0] = 0.0
    two_zeros = one_zero.copy()
    two_zeros[1, 0, 0] = 0.0
    return [((x,), {}), ((x, 1), {}), ((x,), {"dim": 0, "keepdim": True}), ((one_zero, 1), {}),
            ((one_zero,), {}), ((two_zeros, 1), {}), ((two_zeros,), {}), ((rng.uniform(0.5, 2, ()),), {})]


def _samples_var(rng):
    x = rng.uniform(-2, 2, (3, 4, 5))
    return [((x,), {}), ((x, 1), {}), ((x,), {"dim": (0, 2), "keepdim": True}), ((x,), {"correction": 0}),
            ((x, -1, False), {}), ((x,), {"dim": [1], "correction": 2}), ((x, True), {})]


def _samples_logsumexp(rng):
    x = rng.uniform(-2, 2, (3, 4, 5))
    return [((x, 1), {}), ((x, (0, 2)), {}), ((x, -1, True), {}), ((x, (0, 1, 2)), {}),
            ((rng.uniform(-2, 2, ()), 0), {})]


def _samples_scan(rng, zeros=False):
    x = rng.uniform(0.5, 1.5, (3, 4, 2)) * rng.choice([-1.0, 1.0], (3, 4, 2))
    samples = [((x, 1), {}), ((x, 0), {}), ((x,), {"dim": -1}), ((rng.uniform(0.5, 1.5, ()), 0), {})]
    if zeros:
        z = x.copy()
        z[0, 1, :] = 0.0
        z[2, 0, 1] = z[2, 3, 1] = 0.0
        samples.append(((z, 1), {}))
    return samples


register(OpInfo("max", "MaxBackward1", max, nodes=("MaxBackward0", "MaximumBackward0"), samples=_samples_extreme))
register(OpInfo("min", "MinBackward1", min, nodes=("MinBackward0", "MinimumBackward0"), samples=_samples_extreme))
register(OpInfo("argmax", "", argmax, samples=_samples_arg, differentiable=False))
register(OpInfo("argmin", "", argmin, samples=_samples_arg, differentiable=False))
register(OpInfo("amax", "AmaxBackward0", amax, samples=_samples_amax))
register(OpInfo("amin", "AminBackward0", amin, samples=_samples_amax))
register(OpInfo("prod", "ProdBackward0", prod, nodes=("ProdBackward1",), samples=_samples_prod))
register(OpInfo("var", "VarBackward0", var, samples=_samples_var))
register(OpInfo("std", "StdBackward0", std, samples=_samples_var))
register(OpInfo("logsumexp", "LogsumexpBackward0", logsumexp, samples=_samples_logsumexp))
register(OpInfo("cumsum", "CumsumBackward0", cumsum, samples=_samples_scan))
register(OpInfo("cumprod", "CumprodBackward0", cumprod, samples=lambda rng: _samples_scan(rng, zeros=True)))
for _op in (cumsum_, cumprod_):
    register(OpInfo(_op.__name__, "", _op, public=False, samples=None, differentiable=False))
