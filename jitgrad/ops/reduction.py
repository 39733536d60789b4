"""Reductions: sum, mean, norm -- over everything or over ``dim`` with ``keepdim``."""
import math

import numpy as np

from .. import _dtype, errors
from ..autograd.filled import filled
from ..kernels import elementwise as _ek
from ..kernels import reduction as k
from ..tensor import Tensor, edge
from . import registry
from .registry import OpInfo, define_node, new_node, register, result

_state = registry._state


def normalize_dims(dim, ndim: int) -> tuple:
    """``dim`` (None, int or sequence) as a sorted tuple of non-negative dims."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (int, np.integer)):
        dims = (int(dim),)
    elif isinstance(dim, (tuple, list)) and all(isinstance(d, (int, np.integer)) for d in dim):
        dims = tuple(int(d) for d in dim)
    else:
        raise TypeError(f"argument 'dim' must be int or tuple of ints, not {type(dim).__name__}")
    if not dims:
        return tuple(range(ndim))
    n = ndim if ndim > 0 else 1
    out = []
    for d in dims:
        if d < -n or d >= n:
            raise errors.dim_out_of_range(d, ndim)
        d = d + n if d < 0 else d
        if d in out:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
        out.append(d)
    if ndim == 0:
        return ()
    return tuple(sorted(out))


def _as_middle(x: np.ndarray, axes: tuple):
    """View ``x`` as (outer, n, inner) with ``axes`` merged into the middle (copying only when the
    axes are not adjacent or ``x`` is not contiguous)."""
    lo, hi = axes[0], axes[-1]
    if hi - lo + 1 != len(axes):  # not adjacent: move the reduced axes to the end
        keep = [d for d in range(x.ndim) if d not in axes]
        x = np.ascontiguousarray(x.transpose(keep + list(axes)))
        lo, hi = len(keep), x.ndim - 1
    elif not x.flags.c_contiguous:
        x = np.ascontiguousarray(x)
    shape = x.shape
    # math.prod: np.prod costs microseconds per call on these tiny tuples
    return x.reshape(math.prod(shape[:lo]), math.prod(shape[lo:hi + 1]), math.prod(shape[hi + 1:]))


def _sum_dtype(dt: np.dtype) -> np.dtype:
    return dt if dt.kind == "f" else np.dtype(np.int64)


def sum_array(x: np.ndarray, axes: tuple) -> np.ndarray:
    """Sum ``x`` over ``axes`` (sorted, non-empty) without keepdim, with the jitted kernels."""
    if x.dtype == np.float16:  # accumulate in float32, round once (Numba has no float16 math)
        with np.errstate(over="ignore"):  # beyond float16's range the sum is inf, silently (as PyTorch)
            return sum_array(x.astype(np.float32), axes).astype(np.float16)
    dt = _sum_dtype(x.dtype)
    if x.dtype != dt:
        x = x.astype(dt)
    if len(axes) == x.ndim:
        flat_x = x.ravel()
        kernel = k.sum_all_forward if flat_x.size < k.PARALLEL_THRESHOLD else k.sum_all_forward_parallel
        acc = kernel(flat_x, 0.0 if dt.kind == "f" else 0)
        return np.array(acc, dtype=dt)
    x3 = _as_middle(x, axes)
    out = np.empty((x3.shape[0], x3.shape[2]), dt)
    k.sum_middle_forward(x3, out)
    return out.reshape([s for d, s in enumerate(x.shape) if d not in axes])


def record_saving_output(out: np.ndarray, input: Tensor, node_cls, saved, ctx) -> Tensor:
    """``out``, the result of a reduction of ``input`` that needs grad, with its node, whose saved
    values include the output: a version record of each, so an in-place change to either fails
    backward (norm, var/std, logsumexp, prod, max/min; called only when recording, so the no-grad
    path pays no extra call)."""
    t = result(out, None)
    t.grad_fn = new_node(node_cls, (edge(input),), saved, ctx,
                         (registry.saved_version(input), registry.saved_version(t, 0)))
    t._requires_grad = True
    return t


def _keepdim_shape(shape, axes):
    return tuple(1 if d in axes else s for d, s in enumerate(shape))


_NO_DIM = object()  # distinguishes sum(x, keepdim=True) (a TypeError in PyTorch) from sum(x, None, True)


def sum(input: Tensor, dim=_NO_DIM, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A001
    """Sum of all elements, or over ``dim`` (int or tuple) keeping it if ``keepdim``."""
    xd = input._data
    if dtype is not None:
        dtype = _dtype.to_numpy_dtype(dtype)
        xd = xd.astype(dtype)
    if dim is _NO_DIM:
        if keepdim:
            raise TypeError("sum() received an invalid combination of arguments - got (keepdim=bool, )")
        dim = None
    axes = normalize_dims(dim, xd.ndim)
    if not axes:
        # (+ 0: -0. sums to 0., as PyTorch's accumulator starts from 0)
        out = xd.astype(_sum_dtype(xd.dtype)) if xd.dtype != _sum_dtype(xd.dtype) else xd + xd.dtype.type(0)
    else:
        out = sum_array(xd, axes)
    if dtype is not None and out.dtype != dtype:  # an explicit integer dtype wraps, as in PyTorch
        out = out.astype(dtype)
    if keepdim:
        out = out.reshape(_keepdim_shape(xd.shape, axes))
    if _state.enabled and input._requires_grad:
        cls = _SumAllNode if dim is None else _SumDimNode
        node = new_node(cls, (edge(input),), None, (xd.shape, input._data.dtype, axes, keepdim))
        return result(out, node)
    return result(out, None)


def _expand_grad(g: np.ndarray, shape, dtype, axes, keepdim) -> np.ndarray:
    """The gradient of a reduction, copied out to the input's shape.  A contiguous copy, not a
    broadcast view: every consumer's flat kernel would copy the view anyway, and
    ``np.broadcast_to`` alone costs microseconds on small tensors.  The exception is a large
    tensor's full reduction: one value everywhere, a FilledGrad (autograd/filled.py)."""
    if g.size == 1 and dtype.itemsize >= 4 and dtype.kind == "f" and math.prod(shape) >= _ek.PARALLEL_THRESHOLD:
        return filled(g.reshape(())[()], shape, dtype)  # one value, written out only if needed
    out = np.empty(shape, dtype)
    if not keepdim and g.ndim:
        g = g.reshape(_keepdim_shape(shape, axes))
    out[...] = g
    return out


def _sum_backward(node, grads):
    shape, dtype, axes, keepdim = node._ctx
    return (_expand_grad(grads[0], shape, dtype, axes, keepdim),)


def _expand_grad_graph(g, shape, dtype, axes, keepdim):
    if not keepdim and g._data.ndim:
        g = g.reshape(_keepdim_shape(shape, axes))
    g = g.expand(shape)
    return g if g._data.dtype == dtype else g.to(_dtype.from_numpy_dtype(dtype))


def _sum_graph(node, grads):
    shape, dtype, axes, keepdim = node._ctx
    return (_expand_grad_graph(grads[0], shape, dtype, axes, keepdim),)


# (reductions' backward functions return a new array, or a read-only FilledGrad the engine writes out)
_SumAllNode = define_node("SumBackward0", _sum_backward, _sum_graph, owns_grads=True)
_SumDimNode = define_node("SumBackward1", _sum_backward, _sum_graph, owns_grads=True)


def mean(input: Tensor, dim=_NO_DIM, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Mean of all elements, or over ``dim`` keeping it if ``keepdim``."""
    if dim is _NO_DIM:
        if keepdim:
            raise TypeError("mean() received an invalid combination of arguments - got (keepdim=bool, )")
        dim = None
    xd = input._data
    if dtype is not None:
        xd = xd.astype(_dtype.to_numpy_dtype(dtype))
    if xd.dtype == np.float16:
        from .elementwise import _via_float32

        return _via_float32(lambda t: mean(t, dim, keepdim), input)
    if xd.dtype.kind != "f":
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point or "
            f"complex dtype. Got: {_dtype.from_numpy_dtype(xd.dtype)._legacy[:-6]}"
        )
    axes = normalize_dims(dim, xd.ndim)
    count = math.prod(xd.shape[d] for d in axes) if axes else 1
    total = sum_array(xd, axes) if axes else xd + xd.dtype.type(0)  # (-0. sums to 0., as in sum)
    out = np.asarray(total / xd.dtype.type(count) if count else np.full(total.shape, np.nan, xd.dtype),
                     dtype=xd.dtype)
    if keepdim:
        out = out.reshape(_keepdim_shape(xd.shape, axes))
    if _state.enabled and input._requires_grad:
        cls = _MeanAllNode if dim is None else _MeanDimNode
        node = new_node(cls, (edge(input),), None, (xd.shape, xd.dtype, axes, keepdim, count))
        return result(out, node)
    return result(out, None)


def _mean_backward(node, grads):
    shape, dtype, axes, keepdim, count = node._ctx
    with np.errstate(divide="ignore", invalid="ignore"):  # the mean of nothing: inf/nan, silently (as PyTorch)
        g = np.asarray(grads[0] / dtype.type(count), dtype=dtype)
    return (_expand_grad(g, shape, dtype, axes, keepdim),)


def _mean_graph(node, grads):
    shape, dtype, axes, keepdim, count = node._ctx
    return (_expand_grad_graph(grads[0] / count, shape, dtype, axes, keepdim),)


_MeanAllNode = define_node("MeanBackward0", _mean_backward, _mean_graph, owns_grads=True)
_MeanDimNode = define_node("MeanBackward1", _mean_backward, _mean_graph, owns_grads=True)


def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """Vector p-norm of all elements, or over ``dim`` (p: number, inf, -inf or 'fro')."""
    xd = input._data
    if dtype is not None:
        xd = xd.astype(_dtype.to_numpy_dtype(dtype))
    if xd.dtype.kind != "f":
        raise RuntimeError(
            "linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
            + _dtype.from_numpy_dtype(xd.dtype)._legacy[:-6]
        )
    fro = p == "fro"
    if p == "fro" or p is None:
        p = 2.0
    elif p == "nuc" or isinstance(p, str):
        raise NotImplementedError(f"norm with p={p!r} (matrix norms) is not supported yet")
    if dim is not None and not isinstance(dim, (int, np.integer, tuple, list)):
        raise TypeError(f"linalg_vector_norm(): argument 'dim' (position 3) must be tuple of ints, not {type(dim).__name__}")
    if fro and isinstance(dim, (tuple, list)) and len(dim) > 2:
        raise RuntimeError("linalg.matrix_norm: dim must be a 2-tuple. Got " + " ".join(str(d) for d in dim))
    p = float(p)
    if (p == np.inf or p < 0) and xd.size == 0:
        raise RuntimeError(f"linalg.vector_norm cannot compute the {p:g} norm on an empty tensor because the "
                           "operation does not have an identity")
    if xd.dtype == np.float16:  # the kernels compute in float32 (Numba has no float16 math)
        from .elementwise import _via_float32

        if xd is not input._data:
            input = input.to(_dtype.from_numpy_dtype(xd.dtype))
        return _via_float32(lambda t: norm(t, p, dim, keepdim), input)
    axes = normalize_dims(dim, xd.ndim)
    if not axes:
        axes = ()
        x3 = xd.reshape(-1, 1, 1) if xd.ndim else xd.reshape(1, 1, 1)
    else:
        x3 = _as_middle(xd, axes)
    out2 = np.empty((x3.shape[0], x3.shape[2]), xd.dtype)
    k.norm_middle_forward(x3, p, out2)
    out_shape = _keepdim_shape(xd.shape, axes) if keepdim else tuple(s for d, s in enumerate(xd.shape) if d not in axes)
    out = out2.reshape(out_shape)
    if _state.enabled and input._requires_grad:
        return record_saving_output(out, input, _NormNode, (x3, out2), (xd.shape, axes, p))
    return result(out, None)


def _norm_backward(node, grads):
    x3, norm2 = node._saved
    shape, axes, p = node._ctx
    if p == 0:  # the count of non-zeros: PyTorch gives no gradient at all (None)
        return (None,)
    g = np.ascontiguousarray(grads[0], dtype=x3.dtype).reshape(norm2.shape)
    gx = np.empty(x3.shape, x3.dtype)
    k.norm_middle_backward(g, x3, norm2, p, gx)
    if axes and axes[-1] - axes[0] + 1 != len(axes):  # undo the transpose of _as_middle
        keep = [d for d in range(len(shape)) if d not in axes]
        perm = keep + list(axes)
        gx = gx.reshape([shape[d] for d in perm]).transpose(np.argsort(perm))
    return (gx.reshape(shape),)


def _norm_graph(node, grads):
    x, norm = registry.saved_tensors(node)
    shape, axes, p = node._ctx
    g = grads[0]
    if axes:
        g = g.reshape(_keepdim_shape(shape, axes)) if g._data.ndim != len(shape) else g
        norm = norm.reshape(_keepdim_shape(shape, axes)) if norm._data.ndim != len(shape) else norm
    if p == 2:
        return (g * x / norm,)
    if p == 1:
        return (g * x.sign(),)
    if p == np.inf:
        # the gradient is shared equally among the entries attaining the max, as in the kernel
        at_max = x.abs() == norm
        count = sum(at_max, axes if axes else None, keepdim=True) if axes else sum(at_max)
        return (g * x.sign() * at_max / count,)
    if p == 0:
        return (g * 0 * x,)
    return (g * x.sign() * x.abs() ** (p - 1) / norm ** (p - 1),)


_NormNode = define_node("LinalgVectorNormBackward0", _norm_backward, _norm_graph)


def _samples_reduce(rng):
    x = rng.uniform(-2, 2, (3, 4, 5))
    return [((x,), {}), ((x,), {"dim": 1}), ((x,), {"dim": -1, "keepdim": True}), ((x,), {"dim": (0, 2)}),
            ((rng.uniform(-2, 2, ()),), {})]


def _samples_norm(rng):
    x = rng.uniform(0.2, 2, (3, 4)) * rng.choice([-1.0, 1.0], (3, 4))
    return [((x,), {}), ((x,), {"dim": 1}), ((x,), {"p": 1, "dim": 0}), ((x,), {"p": 3}),
            ((x,), {"dim": 0, "keepdim": True}), ((x,), {"p": float("inf"), "dim": 1})]


register(OpInfo("sum", "SumBackward0", sum, nodes=("SumBackward1",), samples=_samples_reduce))
register(OpInfo("mean", "MeanBackward0", mean, nodes=("MeanBackward1",), samples=_samples_reduce))
register(OpInfo("norm", "LinalgVectorNormBackward0", norm, samples=_samples_norm))
