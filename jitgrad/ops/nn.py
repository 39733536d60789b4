"""Neural-network ops (``torch.nn.functional``'s): softmax, log_softmax, dropout, layer_norm,
batch_norm, embedding and the losses.

Each op is a row in the op table under PyTorch's ``torch.nn.functional`` name, with its
arguments and defaults; ``jitgrad.nn.functional`` reads them from there.  Forward and backward
are fused jitted kernels (``kernels/nn.py``): softmax is one pass per row, and
``cross_entropy`` on class indices is log_softmax and nll in one node, one kernel pass forward
and one backward.  Where PyTorch itself composes an op from smaller ones (``l1_loss``,
``kl_div``, ``cross_entropy`` on class probabilities) jitgrad composes the same ops, so the
graph -- and every ``grad_fn`` name -- is PyTorch's.
"""
import math
import warnings

import numpy as np

from .. import _dtype, _random
from ..kernels import elementwise as ek
from ..kernels import nn as k
from ..tensor import Tensor, _wrap, _wrap_dim, edge
from . import registry
from .elementwise import _F16, _via_float32
from .registry import OpInfo, define_node, new_node, register, result, saved_version

_state = registry._state
_NO_EDGE = (None, 0)
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_I64 = np.dtype(np.int64)
_EMPTY = {_F16: np.empty(0, _F16), _F32: np.empty(0, _F32), _F64: np.empty(0, _F64)}
_FINITE_MAX = {_F32: float(np.finfo(_F32).max), _F64: float(np.finfo(_F64).max)}


# ============================================================================ helpers
def _type_name(dt) -> str:
    """PyTorch's short scalar-type name ('Float', 'Long', ...) used in its error messages."""
    return _dtype.from_numpy_dtype(dt)._legacy[:-6]


def _not_implemented(kernel: str, dt):
    return NotImplementedError(f'"{kernel}" not implemented for \'{_type_name(dt)}\'')


def _as_3d(xd: np.ndarray, d: int) -> np.ndarray:
    """``xd`` as a C-contiguous ``(outer, n, inner)`` view with dim ``d`` in the middle."""
    if not xd.flags.c_contiguous:
        xd = np.ascontiguousarray(xd)
    shape = xd.shape
    if not shape:
        return xd.reshape(1, 1, 1)
    return xd.reshape(math.prod(shape[:d]), shape[d], math.prod(shape[d + 1:]))


def _grad_array(g: np.ndarray, dt) -> np.ndarray:
    """An incoming gradient as a C-contiguous array of ``dt`` (a copy only when needed)."""
    if g.dtype != dt:
        g = g.astype(dt)
    return g if g.flags.c_contiguous else np.ascontiguousarray(g)


def _optional(t, dt):
    """An optional weight tensor's data as a flat C array of ``dt``; empty when absent."""
    if t is None:
        return _EMPTY[dt]
    return np.ascontiguousarray(t._data, dtype=dt).ravel()


def _needs(node, i) -> bool:
    return node.next_functions[i][0] is not None


def linear_pair(apply_name, adjoint_name, apply, adjoint):
    """A linear map given by array functions ``apply(a, ctx)`` and ``adjoint(g, ctx)`` (its transpose),
    as two differentiable Tensor ops, each recording the other as its backward -- so the gradient of
    a pooling op (linear in the incoming gradient) can be differentiated again, to any order."""

    def run(fn, cls):
        def op(t: Tensor, ctx) -> Tensor:
            td = t._data
            out = fn(td if td.flags.c_contiguous else np.ascontiguousarray(td), ctx)
            if _state.enabled and t._requires_grad:
                return _attach(out, cls, (edge(t),), None, ctx, ())
            return result(out, None)

        return op

    def grad_array(fn):
        return lambda node, grads: (fn(np.ascontiguousarray(grads[0]), node._ctx),)

    apply_node = define_node(apply_name, grad_array(adjoint), lambda node, grads: (adjoint_op(grads[0], node._ctx),))
    adjoint_node = define_node(adjoint_name, grad_array(apply), lambda node, grads: (apply_op(grads[0], node._ctx),))
    apply_op, adjoint_op = run(apply, apply_node), run(adjoint, adjoint_node)
    return apply_op, adjoint_op


_REDUCTIONS = {"none": 0, "mean": 1, "sum": 2}


def _legacy_reduction(size_average, reduce) -> str:
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = "mean" if (size_average and reduce) else ("sum" if reduce else "none")
    warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{ret}' instead.",
                  stacklevel=3)
    return ret


def _reduction(reduction, size_average=None, reduce=None) -> int:
    """PyTorch's reduction enum: 0 'none', 1 'mean', 2 'sum' (legacy size_average/reduce honoured)."""
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    code = _REDUCTIONS.get(reduction)
    if code is None:
        if reduction == "elementwise_mean":
            warnings.warn("reduction='elementwise_mean' is deprecated. Please use reduction='mean' instead.",
                          stacklevel=3)
            return 1
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return code


def _reduce_tensor(t: Tensor, code: int) -> Tensor:
    """PyTorch's ``apply_loss_reduction`` on a Tensor of elementwise losses."""
    from .reduction import mean
    from .reduction import sum as _sum

    if code == 1:
        return mean(t)
    if code == 2:
        return _sum(t)
    return t


def _tensor_arg(value, fn: str, arg: str, position: int, optional=False):
    """PyTorch's TypeError for a non-Tensor argument (a NumPy array or list of targets, say)."""
    if value.__class__ is not Tensor and not isinstance(value, Tensor) and not (optional and value is None):
        cls = type(value)
        name = cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
        raise TypeError(f"{fn}(): argument '{arg}' (position {position}) must be Tensor, not {name}")


def _no_grad_allowed(t, arg: str, fn: str):
    if t is not None and _state.enabled and t._requires_grad:
        raise RuntimeError(f"The function '{fn}' is not differentiable with respect to argument '{arg}'. "
                           "This input cannot have requires_grad True.")


def _broadcast_pair(input: Tensor, target: Tensor):
    """``torch.broadcast_tensors(input, target)``: each expanded (ExpandBackward0) only if needed."""
    from .broadcast import broadcast_shapes
    from .shape import expand

    a, b = input._data.shape, target._data.shape
    if a == b:
        return input, target
    shape = broadcast_shapes(a, b)
    return (input if a == shape else expand(input, shape)), (target if b == shape else expand(target, shape))


def _size_warning(input: Tensor, target: Tensor):
    if target._data.shape != input._data.shape:
        from ..tensor import Size

        warnings.warn(
            f"Using a target size ({Size(target._data.shape)}) that is different to the input size "
            f"({Size(input._data.shape)}). This will likely lead to incorrect results due to broadcasting. "
            "Please ensure they have the same size.", stacklevel=3)


def _attach(out: np.ndarray, node_cls, edges, saved, ctx, versions=(), save_output=False) -> Tensor:
    """Wrap ``out`` and, when given a node class, record the node (optionally saving the output)."""
    t = result(out, None)
    if node_cls is not None:
        if save_output:
            versions = versions + ((t._vc, 0, out, 0),)
        t.grad_fn = new_node(node_cls, edges, saved, ctx, versions)
        t._requires_grad = True
    return t


# ============================================================================ softmax family
def _softmax_dim(name, ndim):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include "
                  "dim=X as an argument.", stacklevel=4)
    return 0 if ndim in (0, 1, 3) else 1


def _softmax_like(name, kernel_name, forward, node_cls, input, dim, _stacklevel, dtype):
    if _stacklevel.__class__ is _dtype.dtype:  # Tensor.softmax(dim, dtype) passes dtype second
        dtype = _stacklevel
    xd = input._data
    if dim is None:
        dim = _softmax_dim(name, xd.ndim)
    if dtype is not None:
        from .conversion import to_dtype

        input = to_dtype(input, _dtype.to_numpy_dtype(dtype))
        xd = input._data
    dt = xd.dtype
    if dt.kind != "f":
        raise _not_implemented(kernel_name, dt)
    if dt == _F16:
        return _via_float32(lambda t: _softmax_like(name, kernel_name, forward, node_cls, t, dim, 3, None), input)
    d = _wrap_dim(dim, xd.ndim)
    x3 = _as_3d(xd, d)
    out = np.empty(xd.shape, dt)
    y3 = out.reshape(x3.shape)
    if x3.size:
        forward(x3, y3)
    if _state.enabled and input._requires_grad:
        return _attach(out, node_cls, (edge(input),), (y3,), (xd.shape, d), save_output=True)
    return result(out, None)


def softmax(input: Tensor, dim=None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """Softmax over ``dim``: ``exp(x) / exp(x).sum(dim)``, computed stably in one fused pass."""
    return _softmax_like("softmax", "softmax_lastdim_kernel_impl", k.softmax_forward, _SoftmaxNode,
                         input, dim, _stacklevel, dtype)


def log_softmax(input: Tensor, dim=None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """``log(softmax(x))`` over ``dim``, computed stably as ``x - max - log(sum(exp(x - max)))``."""
    return _softmax_like("log_softmax", "log_softmax_lastdim_kernel_impl", k.log_softmax_forward, _LogSoftmaxNode,
                         input, dim, _stacklevel, dtype)


def _softmax_family_backward(kernel):
    def backward(node, grads):
        (y3,) = node._saved
        g = _grad_array(grads[0], y3.dtype).reshape(y3.shape)
        gx = np.empty(y3.shape, y3.dtype)
        kernel(g, y3, gx)
        return (gx.reshape(node._ctx[0]),)

    return backward


def _softmax_graph(node, grads):
    (y,) = registry.saved_tensors(node)
    g, d = grads[0], node._ctx[1]
    return (y * (g - (g * y).sum(d, keepdim=True)),)


def _log_softmax_graph(node, grads):
    (y,) = registry.saved_tensors(node)
    g, d = grads[0], node._ctx[1]
    return (g - y.exp() * g.sum(d, keepdim=True),)


_SoftmaxNode = define_node("SoftmaxBackward0", _softmax_family_backward(k.softmax_backward), _softmax_graph)
_LogSoftmaxNode = define_node("LogSoftmaxBackward0", _softmax_family_backward(k.log_softmax_backward),
                              _log_softmax_graph)


# ============================================================================ class-index losses
def _int_arg(value, fn: str, arg: str, position: int) -> int:
    """PyTorch's parsing of an ``int`` argument (``ignore_index``): a bool, float or None refused, a
    0-d integer tensor taken, a value past int64 an overflow (it would not type in a kernel)."""
    if value.__class__ is not int:
        if isinstance(value, Tensor) and value._data.ndim == 0 and value._data.dtype.kind in "iu":
            value = int(value._data)
        elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            value = int(value)
        else:
            raise TypeError(f"{fn}(): argument '{arg}' (position {position}) must be int, not {type(value).__name__}")
    if not -(1 << 63) <= value < (1 << 63):
        raise ValueError("Overflow when unpacking long long")
    return value


def _class_weight(weight, n_classes, dt, spatial: bool) -> np.ndarray:
    """The per-class weight as a flat C array of ``dt`` (empty when absent), checked as nll_loss
    (``spatial``: nll_loss2d, which only counts the elements) does."""
    if weight is None:
        return _EMPTY[dt]
    wd = weight._data
    if spatial:
        if wd.size != n_classes:
            raise RuntimeError("weight tensor should be defined either for all or no classes")
    elif wd.ndim != 1 or wd.shape[0] != n_classes:
        raise RuntimeError(f"weight tensor should be defined either for all {n_classes} classes or no classes but "
                           f"got weight tensor of shape: {list(wd.shape)}")
    if wd.dtype != dt:
        raise RuntimeError(f"expected scalar type {_type_name(dt)} but found {_type_name(wd.dtype)}")
    return np.ascontiguousarray(wd).reshape(-1)


def _class_layout(xd, td, weight):
    """Validate (input, target, weight) in PyTorch's order (nll_loss_nd, then nll_loss or
    nll_loss2d); return the (N, C, inner) input view, the (N, inner) target view, the weight
    array and the node class PyTorch's graph ends in."""
    nd = xd.ndim
    if nd < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {nd})")
    if nd != 1 and xd.shape[0] != (td.shape[0] if td.ndim else 0):
        raise ValueError(f"Expected input batch_size ({xd.shape[0]}) to match target batch_size "
                         f"({td.shape[0] if td.ndim else 0}).")
    if nd <= 2:
        if td.ndim > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    elif nd != 4 and td.shape[1:] != xd.shape[2:]:
        raise RuntimeError(f"Expected target size {list(xd.shape[:1] + xd.shape[2:])}, got {list(td.shape)}")
    if td.dtype != _I64 and td.dtype != np.uint8:
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {_type_name(td.dtype)}")
    if nd == 1 and td.ndim == 1 and td.shape[0] != 1:
        raise ValueError(f"For 1D input, 1D target must have size 1, but got target size: {td.shape[0]}")
    if nd <= 2:
        x3 = _as_3d(xd if nd == 2 else xd.reshape(1, -1), 1)
        return x3, td.reshape(x3.shape[0], 1), _class_weight(weight, x3.shape[1], xd.dtype, False), _NllNode
    if nd == 4 and td.ndim != 3:
        raise RuntimeError(f"only batches of spatial targets supported (3D tensors) but got targets of dimension: "
                           f"{td.ndim}")
    w = _class_weight(weight, xd.shape[1], xd.dtype, True)
    if nd == 4 and td.shape != xd.shape[:1] + xd.shape[2:]:
        raise RuntimeError(f"size mismatch (got input: {list(xd.shape)} , target: {list(td.shape)}")
    x3 = _as_3d(xd, 1)
    return x3, td.reshape(x3.shape[0], x3.shape[2]), w, _Nll2dNode


def _target_out_of_bounds(target) -> IndexError:
    return IndexError(f"Target {target} is out of bounds.")


def _class_index_loss(input, target, weight, ignore_index, red, smoothing, fused_softmax):
    """nll_loss, or (``fused_softmax``) cross_entropy = nll_loss(log_softmax(input)), as one node."""
    xd, td = input._data, target._data
    dt = xd.dtype
    if dt.kind != "f":
        raise _not_implemented("log_softmax_lastdim_kernel_impl" if fused_softmax else "nll_loss_out_frame", dt)
    x3, t2, w, node_cls = _class_layout(xd, td, weight)
    if dt == _F16:
        return _via_float32(lambda t: _class_index_loss(t, target, None if weight is None else
                                                        _wrap(weight._data.astype(_F32)),
                                                        ignore_index, red, smoothing, fused_softmax), input)
    if t2.dtype != _I64:
        t2 = t2.astype(_I64)
    elif not t2.flags.c_contiguous:
        t2 = np.ascontiguousarray(t2)
    _no_grad_allowed(weight, "weight", "nll_loss_forward")
    loss = np.empty(t2.shape, dt)
    if fused_softmax:
        stats = np.empty((2,) + t2.shape, dt)  # each row's max and log(sum(exp(x - max)))
        total, wtotal, bad, nbad = k.cross_entropy_forward(x3, t2, w, ignore_index, smoothing, stats[0], stats[1],
                                                           loss)
    else:
        stats = None
        total, wtotal, bad, nbad = k.nll_loss_forward(x3, t2, w, ignore_index, loss)
    if nbad:
        raise _target_out_of_bounds(bad)
    # PyTorch's nll_loss_nd runs 3-D and >4-D inputs through nll_loss2d and views the unreduced
    # result back to the target's shape (ViewBackward0 on top); a 1-D input gives a 0-d loss
    view_back = red == 0 and node_cls is _Nll2dNode and xd.ndim != 4 and not smoothing
    if red == 0:
        out = loss.reshape((t2.shape[0], 1, t2.shape[1]) if view_back else td.shape if xd.ndim != 1 else ())
        scale = 1.0
    elif red == 1:
        out = np.array(total / wtotal if wtotal else np.nan, dt)
        scale = 1.0 / wtotal if wtotal else 0.0
    else:
        out = np.array(total, dt)
        scale = 1.0
    if not (_state.enabled and input._requires_grad):
        return result(out, None)
    if smoothing > 0:
        node_cls = _LabelSmoothingNode
    # like PyTorch's, the node checks the versions of the input, target and weight it reads
    versions = (saved_version(input), saved_version(target))
    if weight is not None:
        versions += (saved_version(weight),)
    t = _attach(out, node_cls, (edge(input),), (x3, t2, w, stats),
                (xd.shape, red != 0, scale, ignore_index, smoothing, fused_softmax), versions)
    if view_back:
        from .shape import view

        t = view(t, td.shape)
    return t


def _class_loss_backward(node, grads):
    x3, t2, w, stats = node._saved
    shape, reduced, scale, ignore_index, smoothing, fused_softmax = node._ctx
    g = _grad_array(grads[0], x3.dtype).ravel()
    gx = np.empty(x3.shape, x3.dtype)
    if fused_softmax:
        nbad, bad = k.cross_entropy_backward(g, reduced, scale, x3, t2, w, ignore_index, smoothing, stats[0],
                                             stats[1], gx)
    else:
        nbad, bad = k.nll_loss_backward(g, reduced, scale, t2, w, ignore_index, gx)
    if nbad:  # a target changed through .data after forward
        raise _target_out_of_bounds(bad)
    return (gx.reshape(shape),)


def _class_loss_graph(node, grads):
    """The same gradient with differentiable ops: g * (softmax(x) * a - onehot * (1-e) w_t - e/C w)."""
    from .shape import reshape

    x3, t2, w, _ = node._saved
    shape, reduced, scale, ignore_index, smoothing, fused_softmax = node._ctx
    N, C, inner = x3.shape
    dt = x3.dtype
    keep = t2 != ignore_index
    out_of_range = keep & ((t2 < 0) | (t2 >= C))
    if out_of_range.any():  # a target changed through .data after forward
        raise _target_out_of_bounds(t2[out_of_range][0])
    tgt = np.where(keep, t2, 0)
    wvec = w if w.size else np.ones(C, dt)
    onehot = np.zeros(x3.shape, dt)
    np.put_along_axis(onehot, tgt[:, None, :], 1, axis=1)
    wt = (wvec[tgt] * keep).astype(dt)[:, None, :]  # (N, 1, inner), 0 on ignored rows
    constant = -(1 - smoothing) * wt * onehot - (smoothing / C) * wvec[None, :, None] * keep[:, None, :]
    g = grads[0] * scale if reduced else reshape(grads[0], (N, 1, inner)) * scale
    if not fused_softmax:
        return (reshape(g * _wrap(np.ascontiguousarray(constant, dt)), shape),)
    (x,) = registry.saved_tensors(node)[:1]
    p = softmax(reshape(x, (N, C, inner)), 1)
    a = (1 - smoothing) * wt + smoothing * wvec.sum(dtype=np.float64) / C * keep[:, None, :]
    return (reshape(g * (p * _wrap(np.ascontiguousarray(a, dt)) + _wrap(np.ascontiguousarray(constant, dt))),
                    shape),)


_NllNode = define_node("NllLossBackward0", _class_loss_backward, _class_loss_graph)
_Nll2dNode = define_node("NllLoss2DBackward0", _class_loss_backward, _class_loss_graph)
# cross_entropy with label_smoothing: PyTorch's graph ends in the AddBackward0 that mixes the nll
# and smoothing terms; jitgrad computes both in one fused node, which carries that name.
_LabelSmoothingNode = define_node("AddBackward0", _class_loss_backward, _class_loss_graph)


def nll_loss(input: Tensor, target: Tensor, weight=None, size_average=None, ignore_index: int = -100,
             reduce=None, reduction: str = "mean") -> Tensor:
    """The negative log likelihood loss of log-probabilities ``input`` for class indices ``target``."""
    red = _reduction(reduction, size_average, reduce)
    _tensor_arg(target, "nll_loss_nd", "target", 2)
    _tensor_arg(weight, "nll_loss_nd", "weight", 3, optional=True)
    ignore_index = _int_arg(ignore_index, "nll_loss_nd", "ignore_index", 5)
    return _class_index_loss(input, target, weight, ignore_index, red, 0.0, False)


def cross_entropy(input: Tensor, target: Tensor, weight=None, size_average=None, ignore_index: int = -100,
                  reduce=None, reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross entropy between logits ``input`` and class indices or class probabilities ``target``."""
    red = _reduction(reduction, size_average, reduce)
    _tensor_arg(target, "cross_entropy_loss", "target", 2)
    _tensor_arg(weight, "cross_entropy_loss", "weight", 3, optional=True)
    ignore_index = _int_arg(ignore_index, "cross_entropy_loss", "ignore_index", 5)
    xd, td = input._data, target._data
    if xd.shape == td.shape:  # class probabilities (PyTorch decides by the shapes)
        if td.dtype.kind != "f":
            raise RuntimeError("Expected floating point type for target with class probabilities, got "
                               f"{_type_name(td.dtype)}")
        if ignore_index >= 0:
            raise RuntimeError("ignore_index is not supported for floating point target")
        if not 0.0 <= label_smoothing <= 1.0:
            raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
        return _cross_entropy_probabilities(input, target, weight, red, label_smoothing)
    if label_smoothing > 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    smoothing = float(label_smoothing) if label_smoothing > 0.0 else 0.0
    return _class_index_loss(input, target, weight, ignore_index, red, smoothing, True)


def _cross_entropy_probabilities(input, target, weight, red, label_smoothing):
    # PyTorch's composition, op for op: -(log_softmax(x) * target * weight).sum(...) [/ n]
    from .reduction import sum as _sum

    class_dim = 0 if input._data.ndim == 1 else 1
    n_classes = input._data.shape[class_dim]
    if weight is not None and (weight._data.ndim != 1 or weight._data.shape[0] != n_classes):
        raise RuntimeError(f"cross_entropy: weight tensor should be defined either for all {n_classes} classes or no "
                           f"classes but got weight tensor of shape: {list(weight._data.shape)}")
    logp = log_softmax(input, class_dim)
    if label_smoothing > 0.0:
        target = target * (1 - label_smoothing) + label_smoothing / n_classes
    prod = logp * target
    if weight is not None:
        shape = [1] * logp._data.ndim
        shape[class_dim] = weight._data.shape[0]
        prod = prod * weight.view(tuple(shape)) if logp._data.ndim > 1 else prod * weight
    if red == 0:
        return -_sum(prod, class_dim)
    total = -_sum(prod)
    if red == 2:
        return total
    if not input._data.size:  # PyTorch's mean of nothing: the sum filled with NaN, not a division by 0
        return -(_sum(prod).fill_(math.nan))
    return _div_scalar(total, input._data.size // n_classes)


def _div_scalar(t: Tensor, s) -> Tensor:
    """``t / s`` for a Python number, recorded as PyTorch's C++ ``div(Tensor, Scalar)`` (DivBackward1)."""
    xd = t._data
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.asarray(xd / xd.dtype.type(s), dtype=xd.dtype)
    if _state.enabled and t._requires_grad:
        return _attach(out, _DivScalarNode, (edge(t),), None, xd.dtype.type(s))
    return result(out, None)


_DivScalarNode = define_node("DivBackward1", lambda node, grads: (grads[0] / node._ctx,),
                             lambda node, grads: (grads[0] / float(node._ctx),))


# ============================================================================ elementwise losses
def _pointwise_operands(input: Tensor, target: Tensor):
    """The computing dtype and both operands as flat C arrays of it (for the elementwise losses)."""
    a, b = input._data, target._data
    dt = a.dtype if a.dtype == b.dtype else _dtype.promote_types(a.dtype, b.dtype)
    if dt.kind != "f":
        dt = _dtype.get_default_dtype().np
    af = np.ascontiguousarray(a, dtype=dt).ravel()
    bf = np.ascontiguousarray(b, dtype=dt).ravel()
    return dt, af, bf


def _loss_output(total, loss, dt, red, n, shape):
    if red == 0:
        return loss.reshape(shape), 1.0
    if red == 1:
        return np.array(total / n if n else np.nan, dt), (1.0 / n if n else 0.0)
    return np.array(total, dt), 1.0


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
             weight=None) -> Tensor:
    """Mean squared error ``(input - target) ** 2``, reduced."""
    _size_warning(input, target)
    red = _reduction(reduction, size_average, reduce)
    input, target = _broadcast_pair(input, target)
    if weight is not None:
        return _weighted_loss((input - target) ** 2, weight, input, red)
    dt, a, b = _pointwise_operands(input, target)
    if dt == _F16:
        return _via_float32(lambda x, y: mse_loss(x, y, reduction=reduction), input, target)
    loss = np.empty(a.size if red == 0 else 0, dt)
    total = k.mse_loss_forward(a, b, loss)
    out, scale = _loss_output(total, loss, dt, red, a.size, input._data.shape)
    if _state.enabled and (input._requires_grad or target._requires_grad):
        return _attach(out, _MseNode, (edge(input), edge(target)), (a, b),
                       (input._data.shape, red != 0, scale, input._data.dtype, target._data.dtype),
                       (saved_version(input), saved_version(target)))
    return result(out, None)


def _pair_loss_backward(kernel):
    """Backward of a loss of (a - b): the gradient for b is minus the one for a."""

    def backward(node, grads):
        a, b = node._saved[:2]
        extra = node._saved[2:]
        shape, reduced, scale, dt_a, dt_b = node._ctx
        g = _grad_array(grads[0], a.dtype).ravel()
        ga = np.empty(a.size, a.dtype)
        kernel(g, reduced, scale, a, b, *extra, ga)
        gb = None
        if _needs(node, 1):
            gb = np.empty(a.size, a.dtype)
            ek.neg_forward(ga, gb)
            gb = gb.reshape(shape).astype(dt_b, copy=False)
        return (ga.reshape(shape).astype(dt_a, copy=False) if _needs(node, 0) else None, gb)

    return backward


def _mse_graph(node, grads):
    a, b = registry.saved_tensors(node)
    shape, reduced, scale, dt_a, dt_b = node._ctx
    ga = (a - b) * (grads[0] * (2 * scale))
    return (ga if _needs(node, 0) else None, -ga if _needs(node, 1) else None)


_MseNode = define_node("MseLossBackward0", _pair_loss_backward(k.mse_loss_backward), _mse_graph)


def _weighted_loss(elementwise: Tensor, weight: Tensor, input: Tensor, red: int) -> Tensor:
    # torch.nn.functional's own composition for mse_loss / l1_loss with ``weight``
    from .reduction import sum as _sum

    if weight._data.shape != input._data.shape:
        raise ValueError("Weights and input must have the same size.")
    weighted = elementwise * weight
    if red == 0:
        return weighted
    if red == 2:
        return _sum(weighted)
    return _sum(weighted) / _sum(weight)


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
            weight=None) -> Tensor:
    """Mean absolute error ``|input - target|``, reduced (PyTorch's composition: sub, abs, mean)."""
    _size_warning(input, target)
    red = _reduction(reduction, size_average, reduce)
    input, target = _broadcast_pair(input, target)
    if weight is not None:
        return _weighted_loss((input - target).abs(), weight, input, red)
    return _reduce_tensor((input - target).abs(), red)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """Huber-like loss: ``0.5 d**2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta``."""
    _size_warning(input, target)
    red = _reduction(reduction, size_average, reduce)
    input, target = _broadcast_pair(input, target)
    if beta == 0.0:
        return _reduce_tensor((input - target).abs(), red)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    dt, a, b = _pointwise_operands(input, target)
    if dt == _F16:
        return _via_float32(lambda x, y: smooth_l1_loss(x, y, reduction=reduction, beta=beta), input, target)
    beta = float(beta)
    loss = np.empty(a.size if red == 0 else 0, dt)
    total = k.smooth_l1_loss_forward(a, b, beta, loss)
    out, scale = _loss_output(total, loss, dt, red, a.size, input._data.shape)
    if _state.enabled and (input._requires_grad or target._requires_grad):
        return _attach(out, _SmoothL1Node, (edge(input), edge(target)), (a, b, beta),
                       (input._data.shape, red != 0, scale, input._data.dtype, target._data.dtype),
                       (saved_version(input), saved_version(target)))
    return result(out, None)


def _smooth_l1_graph(node, grads):
    from .elementwise import clamp

    a, b = registry.saved_tensors(node)
    beta = node._saved[2]
    shape, reduced, scale, dt_a, dt_b = node._ctx
    # clamp((a - b) / beta, -1, 1) is the derivative: d / beta inside the beta band, sign(d) outside
    ga = clamp((a - b) / beta, -1.0, 1.0) * (grads[0] * scale)
    return (ga if _needs(node, 0) else None, -ga if _needs(node, 1) else None)


_SmoothL1Node = define_node("SmoothL1LossBackward0", _pair_loss_backward(k.smooth_l1_loss_backward), _smooth_l1_graph)


def _expand_weight(weight, shape, dt, broadcast_error=None):
    """A weight broadcast to the loss's shape, as a flat C array (empty when absent).

    A weight that does not broadcast to ``shape`` gets ``broadcast_error(weight_shape)``;
    one that would enlarge the loss gets the error of PyTorch's in-place ``loss.mul_(weight)``."""
    if weight is None:
        return _EMPTY[dt]
    wd = weight._data
    if wd.dtype != dt:
        wd = wd.astype(dt)
    if wd.shape != shape:
        from .broadcast import broadcast_shapes

        try:
            full = broadcast_shapes(shape, wd.shape)
        except RuntimeError:
            if broadcast_error is None:
                raise
            raise broadcast_error(wd.shape) from None
        if full != shape:
            raise RuntimeError(f"output with shape {list(shape)} doesn't match the broadcast shape {list(full)}")
        wd = np.broadcast_to(wd, shape)
    return np.ascontiguousarray(wd).ravel()


def _bce_weight_error(shape):
    """binary_cross_entropy's error for a weight that does not broadcast to the loss's ``shape``:
    the first mismatching dim, counted from the end, against ``shape`` padded with leading 1s."""
    def error(wshape):
        padded = (1,) * (len(wshape) - len(shape)) + tuple(shape)
        for i in range(1, len(wshape) + 1):
            n = wshape[-i]
            if n != 1 and n != padded[-i]:
                from ..tensor import Size

                return RuntimeError(f"Attempting to broadcast a dimension of length {n} at {-i}! Mismatching "
                                    f"argument at index 1 had {Size(wshape)!r}; but expected shape should be "
                                    f"broadcastable to {list(padded)}")
        return RuntimeError(f"output with shape {list(shape)} doesn't match the broadcast shape {list(padded)}")

    return error


def _weight_version(weight, w: np.ndarray, shape):
    """The version record of a loss weight, saved (as PyTorch saves it) at the loss's shape."""
    return (weight._vc, weight._vc[0], w.reshape(shape) if w.size else weight._data, weight)


def binary_cross_entropy(input: Tensor, target: Tensor, weight=None, size_average=None, reduce=None,
                         reduction: str = "mean") -> Tensor:
    """Binary cross entropy between probabilities ``input`` and ``target`` (logs clamped at -100)."""
    red = _reduction(reduction, size_average, reduce)
    if target._data.shape != input._data.shape:
        from ..tensor import Size

        raise ValueError(f"Using a target size ({Size(target._data.shape)}) that is different to the input size "
                         f"({Size(input._data.shape)}) is deprecated. Please ensure they have the same size.")
    _no_grad_allowed(weight, "weight", "binary_cross_entropy")
    xdt, tdt = input._data.dtype, target._data.dtype
    if tdt != xdt:  # PyTorch's kernel neither promotes nor computes on integers
        raise RuntimeError(f"Found dtype {_type_name(tdt)} but expected {_type_name(xdt)}")
    if xdt.kind != "f":
        raise _not_implemented("binary_cross_entropy", xdt)
    dt, x, t = _pointwise_operands(input, target)
    if dt == _F16:
        w32 = None if weight is None else _wrap(weight._data.astype(_F32))
        return _via_float32(lambda a, b: binary_cross_entropy(a, b, w32, reduction=reduction), input, target)
    shape = input._data.shape
    w = _expand_weight(weight, shape, dt, _bce_weight_error(shape))
    loss = np.empty(x.size if red == 0 else 0, dt)
    total, nbad = k.binary_cross_entropy_forward(x, t, w, loss)
    if nbad:
        raise RuntimeError("all elements of input should be between 0 and 1")
    out, scale = _loss_output(total, loss, dt, red, x.size, shape)
    if _state.enabled and (input._requires_grad or target._requires_grad):
        versions = (saved_version(input), saved_version(target))
        if weight is not None:
            versions += (_weight_version(weight, w, shape),)
        return _attach(out, _BceNode, (edge(input), edge(target)), (x, t, w), (shape, red != 0, scale), versions)
    return result(out, None)


def _bce_backward(node, grads):
    x, t, w = node._saved
    shape, reduced, scale = node._ctx
    g = _grad_array(grads[0], x.dtype).ravel()
    need_x, need_t = _needs(node, 0), _needs(node, 1)
    gx = np.empty(x.size if need_x else 0, x.dtype)
    gt = np.empty(x.size if need_t else 0, x.dtype)
    k.binary_cross_entropy_backward(g, reduced, scale, x, t, w, need_x, need_t, gx, gt)
    return (gx.reshape(shape) if need_x else None, gt.reshape(shape) if need_t else None)


def _bce_graph(node, grads):
    from .elementwise import clamp, log

    x, t = registry.saved_tensors(node)[:2]  # (a weight's record may follow)
    w = node._saved[2]
    shape, reduced, scale = node._ctx
    g = grads[0] * scale
    if w.size:
        g = g * _wrap(w.reshape(shape))
    gx = g * (x - t) / clamp(x * (1 - x), min=1e-12) if _needs(node, 0) else None
    gt = g * (log(1 - x) - log(x)) if _needs(node, 1) else None
    return (gx, gt)


_BceNode = define_node("BinaryCrossEntropyBackward0", _bce_backward, _bce_graph)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight=None, size_average=None, reduce=None,
                                     reduction: str = "mean", pos_weight=None) -> Tensor:
    """Sigmoid + binary cross entropy in one numerically stable op (``pos_weight`` weighs positives)."""
    red = _reduction(reduction, size_average, reduce)
    if target._data.shape != input._data.shape:
        from ..tensor import Size

        raise ValueError(f"Target size ({Size(target._data.shape)}) must be the same as input size "
                         f"({Size(input._data.shape)})")
    _no_grad_allowed(weight, "weight", "binary_cross_entropy_with_logits")
    _no_grad_allowed(pos_weight, "pos_weight", "binary_cross_entropy_with_logits")
    dt, x, t = _pointwise_operands(input, target)
    if dt == _F16:
        def f32(t_):
            return None if t_ is None else _wrap(t_._data.astype(_F32))

        return _via_float32(lambda a, b: binary_cross_entropy_with_logits(a, b, f32(weight), reduction=reduction,
                                                                          pos_weight=f32(pos_weight)), input, target)
    shape = input._data.shape
    # PyTorch's composition: (pos_weight - 1) * target first, then loss.mul_(weight)
    from ..errors import broadcast_error

    pw = _expand_weight(pos_weight, shape, dt, lambda wshape: broadcast_error(wshape, shape))
    w = _expand_weight(weight, shape, dt, lambda wshape: broadcast_error(shape, wshape))
    loss = np.empty(x.size if red == 0 else 0, dt)
    total = k.bce_with_logits_forward(x, t, w, pw, loss)
    out, scale = _loss_output(total, loss, dt, red, x.size, shape)
    if _state.enabled and (input._requires_grad or target._requires_grad):
        versions = (saved_version(input), saved_version(target))
        if weight is not None:
            versions += (saved_version(weight),)
        if pos_weight is not None:
            versions += (saved_version(pos_weight),)
        return _attach(out, _BceLogitsNode, (edge(input), edge(target)), (x, t, w, pw), (shape, red != 0, scale),
                       versions)
    return result(out, None)


def _bce_logits_backward(node, grads):
    x, t, w, pw = node._saved
    shape, reduced, scale = node._ctx
    g = _grad_array(grads[0], x.dtype).ravel()
    need_x, need_t = _needs(node, 0), _needs(node, 1)
    gx = np.empty(x.size if need_x else 0, x.dtype)
    gt = np.empty(x.size if need_t else 0, x.dtype)
    k.bce_with_logits_backward(g, reduced, scale, x, t, w, pw, need_x, need_t, gx, gt)
    return (gx.reshape(shape) if need_x else None, gt.reshape(shape) if need_t else None)


def _bce_logits_graph(node, grads):
    from .elementwise import sigmoid

    x, t = registry.saved_tensors(node)[:2]  # (the weights' records may follow)
    _, _, w, pw = node._saved
    shape, reduced, scale = node._ctx
    g = grads[0] * scale
    if w.size:
        g = g * _wrap(w.reshape(shape))
    if pw.size:
        pwt = _wrap(pw.reshape(shape))
        gx = (sigmoid(x) * (1 - t + pwt * t) - pwt * t) * g
        gt = (pwt * _softplus(-x) - _softplus(x)) * g
    else:
        gx = (sigmoid(x) - t) * g
        gt = -x * g
    return (gx if _needs(node, 0) else None, gt if _needs(node, 1) else None)


def _softplus(x: Tensor) -> Tensor:
    # log(1 + exp(x)) = max(x, 0) + log(1 + exp(-|x|)), with differentiable ops
    from .elementwise import exp, log

    return x.relu() + log(exp(-x.abs()) + 1)


_BceLogitsNode = define_node("BinaryCrossEntropyWithLogitsBackward0", _bce_logits_backward, _bce_logits_graph)


def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence of ``target`` from log-probabilities ``input`` (PyTorch's composition)."""
    from .elementwise import exp

    if size_average is not None or reduce is not None:
        red = _REDUCTIONS[_legacy_reduction(size_average, reduce)]
    else:
        if reduction == "mean":
            warnings.warn(
                "reduction: 'mean' divides the total loss by both the batch size and the support size."
                "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                "'mean' will be changed to behave the same as 'batchmean' in the next major release.", stacklevel=2)
        red = 2 if reduction == "batchmean" else _reduction(reduction)
    if input._data.dtype.kind in "biu" or target._data.dtype.kind in "biu":
        raise RuntimeError("kl_div: Integral inputs not supported.")
    if log_target:
        out = exp(target) * (target - input)
    else:
        out = _xlogy_self(target) - target * input
    out = _reduce_tensor(out, red)
    if reduction == "batchmean" and input._data.ndim != 0:
        out = out / input._data.shape[0]
    return out


def _xlogy_self(t: Tensor) -> Tensor:
    """``torch.xlogy(t, t)``: ``t * log(t)``, 0 where ``t == 0`` (XlogyBackward0)."""
    td = t._data
    if td.dtype.kind != "f":
        td = td.astype(_dtype.get_default_dtype().np)
    dt = td.dtype
    # float16 is computed in float32 (Numba has no float16 arithmetic) inside the one node, so the
    # node's version record is the user's tensor, as PyTorch's
    x = np.ascontiguousarray(td, dtype=_F32 if dt == _F16 else dt).ravel()
    out = np.empty(x.size, x.dtype)
    k.xlogy_self_forward(x, out)
    out = out.astype(dt, copy=False).reshape(td.shape)
    if _state.enabled and t._requires_grad:
        return _attach(out, _XlogyNode, (edge(t),), (x,), (td.shape, dt), (saved_version(t),))
    return result(out, None)


def _xlogy_backward(node, grads):
    (x,) = node._saved
    shape, dt = node._ctx
    g = _grad_array(grads[0], x.dtype).ravel()
    gx = np.empty(x.size, x.dtype)
    k.xlogy_self_backward(g, x, gx)
    return (gx.astype(dt, copy=False).reshape(shape),)


def _xlogy_graph(node, grads):
    from .elementwise import log

    (t,) = registry.saved_tensors(node)
    return (grads[0] * (log(t) + 1),)


_XlogyNode = define_node("XlogyBackward0", _xlogy_backward, _xlogy_graph)


# ============================================================================ dropout
def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the others by ``1 / (1 - p)`` (when training).

    The mask comes from jitgrad's generator, so it is reproducible after ``manual_seed`` (it is
    not PyTorch's mask)."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    xd = input._data
    if not training or p == 0 or xd.size == 0:
        return input
    dt = xd.dtype
    if dt.kind != "f":
        if p == 1:  # PyTorch multiplies by a zero scalar then, which any dtype takes
            return input.zero_() if inplace else result(np.zeros(xd.shape, dt), None)
        raise RuntimeError(f"result type Float can't be cast to the desired output type {_type_name(dt)}")
    if dt == _F16:
        if inplace:
            return input.mul_(_wrap(_dropout_noise(xd.shape, _F32, p).astype(_F16)))
        return _via_float32(lambda t: dropout(t, p, training), input)
    noise = _dropout_noise(xd.shape, dt, p)
    if inplace:
        return input.mul_(_wrap(noise))
    x = np.ascontiguousarray(xd).ravel()
    out = np.empty(xd.shape, dt)
    ek.mul_forward(x, noise.ravel(), out.ravel())
    if _state.enabled and input._requires_grad:
        return _attach(out, _DropoutNode, (edge(input), _NO_EDGE), (noise,), None)
    return result(out, None)


def _dropout_noise(shape, dt, p) -> np.ndarray:
    """PyTorch's noise tensor: ``bernoulli(1 - p) / (1 - p)`` (all zeros for p == 1)."""
    if p == 1:
        return np.zeros(shape, dt)
    noise = _random.default_generator.rand(shape, dt)
    k.dropout_noise(noise.ravel(), 1.0 - p)
    return noise


def _dropout_backward(node, grads):
    (noise,) = node._saved
    g = _grad_array(grads[0], noise.dtype)
    gx = np.empty(noise.shape, noise.dtype)
    ek.mul_forward(g.ravel(), noise.ravel(), gx.ravel())
    return (gx, None)


# dropout is recorded as PyTorch records it: the product of the input and a noise tensor
_DropoutNode = define_node("MulBackward0", _dropout_backward,
                           lambda node, grads: (grads[0] * _wrap(node._saved[0]), None))


# ============================================================================ layer norm
def _check_param_dtypes(dt, params):
    """PyTorch's dtype checks of a normalisation's parameters (those given of weight, bias,
    running_mean, running_var): the first must have the input's dtype ``dt``, the others the
    first's.  (A float16 input may have float32 parameters: its float32 pass checks them.)"""
    if dt == _F16:  # parameters all float16, or all float32 (PyTorch's mixed-type kernel)
        given = [t._data.dtype for t in params if t is not None]
        first = given[0] if given else _F16
        for pdt in given:
            if first == _F16 and pdt != _F16:
                raise RuntimeError(f"expected scalar type Half but found {_type_name(pdt)}")
            if first != _F16 and pdt != _F32:
                raise RuntimeError("mixed dtype (CPU): expect parameter to have scalar type of Float")
        return
    first = None
    for t in params:
        if t is None:
            continue
        pdt = t._data.dtype
        if first is None:
            first = pdt
            if pdt != dt:
                raise RuntimeError("mixed dtype (CPU): all inputs must share same datatype." if dt == _F64 else
                                   f"mixed dtype (CPU): expect parameter to have scalar type of {_type_name(dt)}")
        elif pdt != first:
            raise RuntimeError(f"expected scalar type {_type_name(first)} but found {_type_name(pdt)}")


def _float32(t):
    """An optional float16 parameter cast (differentiably) to float32; other tensors as they are."""
    return t if t is None or t._data.dtype != _F16 else t.float()


def _record_half_versions(out: Tensor, *tensors) -> Tensor:
    """``out``: a float16 result computed through float32 casts (``_via_float32``), whose op node
    saved only the float32 copies.  Add the version records of the user's float16 ``tensors`` to
    that node, so an in-place change to one of them after forward fails backward, as it does in
    PyTorch (whose node saves them)."""
    cast = out.grad_fn  # the cast back to float16; the op's node is its input
    node = cast.next_functions[0][0] if cast is not None else None
    if node is not None and node._saved is not None:
        node._versions = tuple(node._versions) + tuple(
            saved_version(t) for t in tensors if t is not None and t._data.dtype == _F16)
    return out


def _saved_versions(*tensors) -> tuple:
    """Version records of the given tensors (None skipped): the tensors PyTorch's normalisation
    node saves, so that an in-place change to any of them fails backward as it does there."""
    return tuple(saved_version(t) for t in tensors if t is not None)


def _shape_list(s) -> tuple:
    if not isinstance(s, (tuple, list)):  # torch.Size is a tuple
        raise TypeError(f"layer_norm(): argument 'normalized_shape' (position 2) must be tuple of ints, not "
                        f"{type(s).__name__}")
    return tuple(int(v) for v in s)


def layer_norm(input: Tensor, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """Normalise over the trailing ``normalized_shape`` dims, then scale by ``weight`` and shift by ``bias``."""
    xd = input._data
    norm = _shape_list(normalized_shape)
    nn_ = len(norm)
    if nn_ == 0:
        raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., containing at least one "
                           "element, but got normalized_shape = []")
    if xd.ndim < nn_ or xd.shape[xd.ndim - nn_:] != norm:
        raise RuntimeError(f"Given normalized_shape={list(norm)}, expected input with shape "
                           f"[*{''.join(', ' + str(s) for s in norm)}], but got input of size{list(xd.shape)}")
    for t, what in ((weight, "weight"), (bias, "bias")):
        if t is not None and t._data.shape != norm:
            raise RuntimeError(f"Expected {what} to be of same shape as normalized_shape, but got {what} of shape "
                               f"{list(t._data.shape)} and normalized_shape = {list(norm)}")
    dt = xd.dtype
    if dt.kind != "f":
        raise _not_implemented("LayerNormKernelImpl", dt)
    _check_param_dtypes(dt, (weight, bias))
    if dt == _F16:
        out = _via_float32(lambda x: layer_norm(x, norm, _float32(weight), _float32(bias), eps), input)
        return _record_half_versions(out, input, weight, bias)
    N = math.prod(norm)
    M = xd.size // N if N else 0
    x2 = np.ascontiguousarray(xd).reshape(M, N)
    w = _optional(weight, dt)
    b = _optional(bias, dt)
    out = np.empty(xd.shape, dt)
    mean = np.empty(M, dt)
    rstd = np.empty(M, dt)
    k.layer_norm_forward(x2, w, b, float(eps), _FINITE_MAX[dt], out.reshape(M, N), mean, rstd)
    if _state.enabled and (input._requires_grad or (weight is not None and weight._requires_grad)
                           or (bias is not None and bias._requires_grad)):
        versions = _saved_versions(input, weight, bias)
        return _attach(out, _LayerNormNode,
                       (edge(input), edge(weight) if weight is not None else _NO_EDGE,
                        edge(bias) if bias is not None else _NO_EDGE),
                       (x2, mean, rstd, w), (xd.shape, norm, float(eps)), versions)
    return result(out, None)


def _layer_norm_backward(node, grads):
    x2, mean, rstd, w = node._saved
    shape, norm, eps = node._ctx
    dt = x2.dtype
    g = _grad_array(grads[0], dt).reshape(x2.shape)
    need_x, need_w, need_b = _needs(node, 0), _needs(node, 1), _needs(node, 2)
    gx = np.empty(x2.shape if need_x else (0, 0), dt)
    gw = np.empty(x2.shape[1] if need_w else 0, np.float64)
    gb = np.empty(x2.shape[1] if need_b else 0, np.float64)
    k.layer_norm_backward(g, x2, mean, rstd, w, need_x, gx, gw, gb)
    return (gx.reshape(shape) if need_x else None, gw.astype(dt).reshape(norm) if need_w else None,
            gb.astype(dt).reshape(norm) if need_b else None)


def _layer_norm_graph(node, grads):
    from .shape import reshape

    saved = registry.saved_tensors(node)
    x2a = node._saved[0]
    shape, norm, eps = node._ctx
    M, N = x2a.shape
    x = reshape(saved[0], (M, N))
    mu = x.mean(1, keepdim=True)
    xc = x - mu
    rstd = ((xc * xc).mean(1, keepdim=True) + eps) ** -0.5
    xhat = xc * rstd
    g = reshape(grads[0], (M, N))
    dxhat = g * reshape(saved[1], (1, N)) if node._saved[3].size else g  # saved[1]: the weight, if any
    gx = rstd * (dxhat - dxhat.mean(1, keepdim=True) - xhat * (dxhat * xhat).mean(1, keepdim=True))
    gw = reshape((g * xhat).sum(0), norm) if _needs(node, 1) else None
    gb = reshape(g.sum(0), norm) if _needs(node, 2) else None
    return (reshape(gx, shape) if _needs(node, 0) else None, gw, gb)


_LayerNormNode = define_node("NativeLayerNormBackward0", _layer_norm_backward, _layer_norm_graph)


# ============================================================================ batch norm
def batch_norm(input: Tensor, running_mean, running_var, weight=None, bias=None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel (dim 1) by the batch statistics (training, which also update the running
    statistics in place) or by the running statistics (evaluation); then scale and shift."""
    xd = input._data
    if training:
        size = xd.shape
        prod = size[0] if size else 1
        for s in size[2:]:
            prod *= s
        if prod == 1:
            from ..tensor import Size

            raise ValueError(f"Expected more than 1 value per channel when training, got input size {Size(size)}")
        if eps <= 0.0:
            raise ValueError(f"batch_norm eps must be positive during training, but got {eps}")
    elif eps < 0.0:
        raise ValueError(f"batch_norm eps must be non-negative, but got {eps}")
    if momentum is None or not isinstance(momentum, (int, float)):
        raise TypeError(f"batch_norm(): argument 'momentum' (position 7) must be float, not {type(momentum).__name__}")
    if xd.size == 0:
        return _batch_norm_empty(input, weight, bias)
    C = xd.shape[1] if xd.ndim >= 2 else 0
    for t, what in ((weight, "weight"), (bias, "bias"), (running_mean, "running_mean"),
                    (running_var, "running_var")):
        if t is not None and t._data.size != C:
            raise RuntimeError(f"{what} should contain {C} elements not {t._data.size}")
    if training and (running_mean is None) != (running_var is None):
        raise ValueError("running_mean and running_var must either both be None or neither be None")
    if not training and (running_mean is None or running_var is None):
        raise RuntimeError(f"{'running_mean' if running_mean is None else 'running_var'} must be defined in "
                           "evaluation mode")
    for t in (running_mean, running_var):  # read (and updated) as 1-D accessors by PyTorch's kernel
        if t is not None and t._data.ndim != 1:
            raise RuntimeError(f"TensorAccessor expected 1 dims but tensor has {t._data.ndim}")
    dt = xd.dtype
    if dt.kind != "f":
        raise _not_implemented("batch_norm", dt)
    _check_param_dtypes(dt, (weight, bias, running_mean, running_var))
    if dt == _F16:
        return _batch_norm_half(input, running_mean, running_var, weight, bias, training, momentum, eps)
    N = xd.shape[0]
    x3 = _as_3d(xd, 1)
    inner = x3.shape[2]
    if training:
        mean = np.empty(C, dt)
        var = np.empty(C, np.float64)  # (float32 data: a variance past float32's range still normalises)
        k.batch_norm_stats(x3, mean, var)
        count = N * inner
        for t, stat, unbias in ((running_mean, mean, 1.0), (running_var, var, count / (count - 1) if count > 1
                                                             else np.inf)):
            if t is not None:  # in place; like PyTorch's kernel this leaves the version counter alone
                k.batch_norm_update_running(t._data.reshape(-1), stat, float(momentum), unbias)
        invstd = np.empty(C, dt)
        k.batch_norm_invstd(var, float(eps), invstd)
    else:
        mean = np.ascontiguousarray(running_mean._data, dtype=dt).reshape(-1)
        invstd = np.empty(C, dt)
        k.batch_norm_invstd(np.ascontiguousarray(running_var._data, dtype=dt).reshape(-1), float(eps), invstd)
    w = _optional(weight, dt)
    b = _optional(bias, dt)
    out = np.empty(xd.shape, dt)
    k.batch_norm_forward(x3, mean, invstd, w, b, out.reshape(x3.shape))
    if _state.enabled and (input._requires_grad or (weight is not None and weight._requires_grad)
                           or (bias is not None and bias._requires_grad)):
        versions = _saved_versions(input, weight, running_mean, running_var)  # (not bias: as PyTorch's node)
        return _attach(out, _BatchNormNode,
                       (edge(input), edge(weight) if weight is not None else _NO_EDGE,
                        edge(bias) if bias is not None else _NO_EDGE),
                       (x3, mean, invstd, w), (xd.shape, bool(training), float(eps)), versions)
    return result(out, None)


def _batch_norm_half(input, running_mean, running_var, weight, bias, training, momentum, eps) -> Tensor:
    """float16 batch norm through float32, as PyTorch's CPU kernel computes it: float16 running
    statistics are updated through float32 copies and rounded back in place."""
    def copy32(t):
        return t if t is None or t._data.dtype != _F16 else _wrap(t._data.astype(_F32))

    mean32, var32 = copy32(running_mean), copy32(running_var)
    out = _via_float32(lambda x: batch_norm(x, mean32, var32, _float32(weight), _float32(bias), training,
                                            momentum, eps), input)
    if training:
        for t, t32 in ((running_mean, mean32), (running_var, var32)):
            if t is not None and t is not t32:
                t._data[...] = t32._data
    return _record_half_versions(out, input, weight, running_mean, running_var)


def _batch_norm_empty(input: Tensor, weight, bias) -> Tensor:
    """PyTorch's shortcut for an empty input, taken before any other check: ``input.clone() *
    weight[0] + bias[0]`` (so an empty weight or bias is an IndexError, and the graph is PyTorch's)."""
    from .shape import clone

    def first(t: Tensor) -> Tensor:
        shape = list(t._data.shape)
        if not shape:
            raise IndexError("select() cannot be applied to a 0-dim tensor.")
        if not shape[0]:
            raise IndexError(f"select(): index 0 out of range for tensor of size {shape} at dimension 0")
        return t[0]

    out = clone(input)
    if weight is not None:
        out = out * first(weight)
    if bias is not None:
        out = out + first(bias)
    return out


def _batch_norm_backward(node, grads):
    x3, mean, invstd, w = node._saved
    shape, training, eps = node._ctx
    dt = x3.dtype
    g = _grad_array(grads[0], dt).reshape(x3.shape)
    need_x, need_w, need_b = _needs(node, 0), _needs(node, 1), _needs(node, 2)
    C = x3.shape[1]
    gx = np.empty(x3.shape if need_x else (0, 0, 0), dt)
    gw = np.empty(C if need_w else 0, np.float64)
    gb = np.empty(C if need_b else 0, np.float64)
    k.batch_norm_backward(g, x3, mean, invstd, w, training, need_x, gx, gw, gb)
    return (gx.reshape(shape) if need_x else None, gw.astype(dt) if need_w else None,
            gb.astype(dt) if need_b else None)


def _batch_norm_graph(node, grads):
    from .shape import reshape

    saved = registry.saved_tensors(node)
    x3a, mean_a, invstd_a, w_saved = node._saved
    shape, training, eps = node._ctx
    N, C, inner = x3a.shape
    x = reshape(saved[0], (N, C, inner))
    g = reshape(grads[0], (N, C, inner))
    axes = (0, 2)
    if training:
        xc = x - x.mean(axes, keepdim=True)
        invstd = ((xc * xc).mean(axes, keepdim=True) + eps) ** -0.5
    else:
        xc = x - _wrap(mean_a.reshape(1, C, 1))
        invstd = _wrap(invstd_a.reshape(1, C, 1))
    xhat = xc * invstd
    scale = invstd * reshape(saved[1], (1, C, 1)) if w_saved.size else invstd  # saved[1]: the weight, if any
    if training:
        gx = (g - g.mean(axes, keepdim=True) - xhat * (g * xhat).mean(axes, keepdim=True)) * scale
    else:
        gx = g * scale
    gw = (g * xhat).sum(axes) if _needs(node, 1) else None
    gb = g.sum(axes) if _needs(node, 2) else None
    return (reshape(gx, shape) if _needs(node, 0) else None, gw, gb)


_BatchNormNode = define_node("NativeBatchNormBackward0", _batch_norm_backward, _batch_norm_graph)


# ============================================================================ embedding
_INDEX_OUT_OF_RANGE = "index out of range in self"


def embedding(input: Tensor, weight: Tensor, padding_idx=None, max_norm=None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Look up rows of ``weight`` by the integer indices ``input``; gradients are scatter-added."""
    _tensor_arg(input, "embedding", "indices", 2)
    wd = weight._data
    if padding_idx is not None:
        if padding_idx > 0:
            if padding_idx >= wd.shape[0]:
                raise AssertionError("Padding_idx must be within num_embeddings")
        elif padding_idx < 0:
            if padding_idx < -wd.shape[0]:
                raise AssertionError("Padding_idx must be within num_embeddings")
            padding_idx = wd.shape[0] + padding_idx
    else:
        padding_idx = -1
    idx = input._data
    if idx.dtype != _I64 and idx.dtype != np.int32:
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got torch.{_dtype.from_numpy_dtype(idx.dtype)._legacy} instead (while "
                           "checking arguments for embedding)")
    if wd.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    if sparse:
        raise NotImplementedError("jitgrad has no sparse tensors: embedding(sparse=True) is not supported; "
                                  "use sparse=False (dense gradients)")
    flat = np.ascontiguousarray(idx, dtype=_I64).ravel()
    if max_norm is not None:
        _embedding_renorm(wd, flat, float(max_norm), float(norm_type))
        weight._vc[0] += 1
    w2 = wd if wd.flags.c_contiguous else np.ascontiguousarray(wd)
    if w2.dtype == _F16:  # a row copy moves bits only: look up float16 rows as uint16
        w2 = w2.view(np.uint16)
    out = np.empty((flat.size, wd.shape[1]), w2.dtype)
    if k.embedding_forward(w2, flat, out):
        if not wd.shape[0]:  # PyTorch's index_select refuses an empty table before any index
            raise RuntimeError("index_select(): self indexing axis dim should be positive")
        raise IndexError(_INDEX_OUT_OF_RANGE)
    out = out.view(wd.dtype).reshape(idx.shape + (wd.shape[1],))
    if _state.enabled and weight._requires_grad:
        # saves the index (checked by the version counter; a change through .data is caught by the
        # kernels' range checks)
        lookup = (flat, wd.shape, out.shape, padding_idx, bool(scale_grad_by_freq))
        return _attach(out, _EmbeddingNode, (edge(weight),), lookup, wd.dtype, (saved_version(input),))
    return result(out, None)


def _embedding_renorm(wd: np.ndarray, flat: np.ndarray, max_norm: float, norm_type: float):
    """PyTorch's embedding_renorm_: the looked-up rows of ``wd`` with a norm above ``max_norm``
    scaled down to it, in place (float16 rows through float32)."""
    work = wd.astype(_F32) if wd.dtype == _F16 else wd
    code, bad = k.embedding_renorm(work, flat, max_norm, norm_type)
    if code == 1:
        raise IndexError(f"select(): index {bad} out of range for tensor of size {list(wd.shape)} at dimension 0")
    if code == 2:
        raise IndexError(_INDEX_OUT_OF_RANGE)
    if work is not wd:
        wd[...] = work


def _embedding_scatter(g: np.ndarray, lookup) -> np.ndarray:
    # the weight gradient: rows of g scatter-added (the padding row skipped, optionally scaled)
    flat, shape, out_shape, padding_idx, scale_grad_by_freq = lookup
    dt = g.dtype
    if dt == _F16:  # no float16 arithmetic in Numba: accumulate in float32
        g = g.astype(_F32)
    gw = np.empty(shape, g.dtype)
    if k.embedding_backward(np.ascontiguousarray(g).reshape(flat.size, shape[1]), flat, padding_idx,
                            scale_grad_by_freq, gw):
        raise IndexError(_INDEX_OUT_OF_RANGE)  # the index was changed through .data after forward
    return gw if gw.dtype == dt else gw.astype(dt)


def _embedding_gather(u: np.ndarray, lookup) -> np.ndarray:
    # the transpose of _embedding_scatter -- without the 1/count scaling of scale_grad_by_freq, as
    # PyTorch's embedding_dense_double_backward (so second-order gradients match PyTorch's)
    flat, shape, out_shape, padding_idx, scale_grad_by_freq = lookup
    dt = u.dtype
    if dt == _F16:
        u = u.astype(_F32)
    out = np.empty(out_shape, u.dtype)
    if k.embedding_backward_transpose(np.ascontiguousarray(u), flat, padding_idx, False,
                                      out.reshape(flat.size, shape[1])):
        raise IndexError(_INDEX_OUT_OF_RANGE)
    return out if out.dtype == dt else out.astype(dt)


_embedding_gather_op, _embedding_scatter_op = linear_pair("EmbeddingBackward0", "EmbeddingBackwardBackward0",
                                                          _embedding_gather, _embedding_scatter)
# node._saved: the lookup (flat index, weight shape, output shape, padding_idx, scale_grad_by_freq);
# node._ctx: the weight's dtype
_EmbeddingNode = define_node("EmbeddingBackward0",
                             lambda node, grads: (_embedding_scatter(_grad_array(grads[0], node._ctx), node._saved),),
                             lambda node, grads: (_embedding_scatter_op(grads[0], node._saved),))


# ============================================================================ the table
def _u(rng, shape, low=-2.0, high=2.0):
    return rng.uniform(low, high, shape)


def _samples_softmax(rng):
    x = _u(rng, (3, 4, 5))
    return [((x, 1), {}), ((x,), {"dim": -1}), ((x, 0), {}), ((_u(rng, (6,)), 0), {}), ((_u(rng, ()), 0), {})]


def _targets(rng, n, c, shape=None):
    return rng.integers(0, c, n if shape is None else shape)


def _samples_nll(rng):
    logp = np.log(rng.dirichlet(np.ones(5), 4))
    t = np.array([0, 3, 1, 3])
    x3 = _u(rng, (2, 5, 3))
    x4 = _u(rng, (2, 3, 2, 2))
    return [((logp, t), {}), ((logp, t), {"reduction": "sum"}), ((logp, t), {"reduction": "none"}),
            ((logp, t), {"weight": rng.uniform(0.5, 2, 5)}), ((logp, t), {"ignore_index": 3}),
            ((logp, t), {"weight": rng.uniform(0.5, 2, 5), "ignore_index": 1, "reduction": "mean"}),
            ((x3, _targets(rng, None, 5, (2, 3))), {}), ((x3, _targets(rng, None, 5, (2, 3))), {"reduction": "none"}),
            ((x4, _targets(rng, None, 3, (2, 2, 2))), {"reduction": "none"}),
            ((logp[0], np.array(2)), {})]


def _samples_cross_entropy(rng):
    x = _u(rng, (4, 5))
    t = np.array([0, 3, 1, 3])
    x3 = _u(rng, (2, 5, 3))
    t3 = _targets(rng, None, 5, (2, 3))
    probs = rng.dirichlet(np.ones(5), 4)
    w = rng.uniform(0.5, 2, 5)
    return [((x, t), {}), ((x, t), {"reduction": "sum"}), ((x, t), {"reduction": "none"}),
            ((x, t), {"weight": w}), ((x, t), {"ignore_index": 3}),
            ((x, t), {"weight": w, "ignore_index": 1, "reduction": "none"}),
            ((x, t), {"label_smoothing": 0.2}), ((x, t), {"label_smoothing": 0.1, "weight": w, "ignore_index": 0}),
            ((x, t), {"label_smoothing": 0.1, "reduction": "none"}),
            ((x3, t3), {}), ((x3, t3), {"reduction": "none"}),
            ((_u(rng, (2, 3, 2, 2)), _targets(rng, None, 3, (2, 2, 2))), {}),
            ((x[0], np.array(4)), {}),
            ((x, probs), {}), ((x, probs), {"reduction": "sum"}), ((x, probs), {"reduction": "none"}),
            ((x, probs), {"weight": w, "label_smoothing": 0.3}),
            ((x3, rng.dirichlet(np.ones(5), (2, 3)).transpose(0, 2, 1).copy()), {})]


def _pair(rng, shape=(3, 4)):
    return _u(rng, shape), _u(rng, shape)


def _samples_pair_loss(rng, **extra):
    a, b = _pair(rng)
    return [((a, b), dict(extra)), ((a, b), dict(extra, reduction="sum")), ((a, b), dict(extra, reduction="none")),
            ((_u(rng, (5,)), _u(rng, (5,))), dict(extra))]


def _samples_bce(rng):
    x = rng.uniform(0.1, 0.9, (3, 4))
    t = rng.uniform(0, 1, (3, 4))
    return [((x, t), {}), ((x, t), {"reduction": "sum"}), ((x, t), {"reduction": "none"}),
            ((x, t), {"weight": rng.uniform(0.5, 2, 4)})]


def _samples_bce_logits(rng):
    x = _u(rng, (3, 4), -3, 3)
    t = rng.uniform(0, 1, (3, 4))
    return [((x, t), {}), ((x, t), {"reduction": "sum"}), ((x, t), {"reduction": "none"}),
            ((x, t), {"weight": rng.uniform(0.5, 2, 4)}), ((x, t), {"pos_weight": rng.uniform(0.5, 3, 4)}),
            ((x, t), {"weight": rng.uniform(0.5, 2, (3, 1)), "pos_weight": rng.uniform(0.5, 3, 4),
                      "reduction": "none"})]


def _samples_kl(rng):
    logp = np.log(rng.dirichlet(np.ones(4), 3))
    q = rng.dirichlet(np.ones(4), 3)
    return [((logp, q), {"reduction": "batchmean"}), ((logp, q), {"reduction": "sum"}),
            ((logp, q), {"reduction": "none"}), ((logp, np.log(q)), {"reduction": "batchmean", "log_target": True})]


def _samples_layer_norm(rng):
    x = _u(rng, (2, 3, 4))
    return [((x, (4,)), {}), ((x, (3, 4), _u(rng, (3, 4)), _u(rng, (3, 4))), {}),
            ((x, [4], _u(rng, (4,))), {"eps": 1e-3}), ((x, (4,), None, _u(rng, (4,))), {})]


def _samples_batch_norm(rng):
    x = _u(rng, (4, 3, 2))
    stats = {"running_mean": rng.uniform(-0.5, 0.5, 3), "running_var": rng.uniform(0.5, 2, 3)}
    return [((x, None, None, _u(rng, (3,)), _u(rng, (3,))), {"training": True}),
            ((_u(rng, (5, 3)), None, None), {"training": True, "eps": 1e-3}),
            ((_u(rng, (2, 3, 2, 2)),), dict(stats, training=True, momentum=0.3)),
            ((x,), dict(stats, weight=_u(rng, (3,)), bias=_u(rng, (3,)))),
            ((_u(rng, (4, 3)),), dict(stats))]


def _samples_embedding(rng):
    w = _u(rng, (6, 3))
    idx = np.array([[0, 2, 5], [2, 2, 1]])
    # padding_idx and scale_grad_by_freq change the gradient on purpose (it is not the derivative
    # any more), so they are compared with torch in tests/test_nn_ops.py instead
    return [((idx, w), {}), ((idx[0], w), {}), ((np.array(4), w), {})]


_NN = {"functional": True}  # compared with torch.nn.functional.<name> by the differential tests
# Names under which ``torch.<name>`` is the same function as ``torch.nn.functional.<name>``: only
# those are also exported as ``jitgrad.<name>`` (``torch.dropout``, ``torch.embedding``,
# ``torch.batch_norm``, ... exist too, but with other signatures).
register(OpInfo("softmax", "SoftmaxBackward0", softmax, extra=_NN, samples=_samples_softmax))
register(OpInfo("log_softmax", "LogSoftmaxBackward0", log_softmax, extra=_NN, samples=_samples_softmax))
register(OpInfo("dropout", "MulBackward0", dropout, method=False, public=False, extra=_NN,
                samples=lambda rng: [((_u(rng, (3, 4)),), {"p": 1.0})],
                notes="only p=1 is deterministic; random masks are tested in tests/test_nn_ops.py"))
register(OpInfo("layer_norm", "NativeLayerNormBackward0", layer_norm, method=False, extra=_NN,
                samples=_samples_layer_norm))
register(OpInfo("batch_norm", "NativeBatchNormBackward0", batch_norm, method=False, public=False, extra=_NN,
                samples=_samples_batch_norm))
register(OpInfo("embedding", "EmbeddingBackward0", embedding, method=False, public=False, extra=_NN,
                samples=_samples_embedding))
register(OpInfo("mse_loss", "MseLossBackward0", mse_loss, method=False, public=False, extra=_NN,
                samples=_samples_pair_loss))
register(OpInfo("l1_loss", "MeanBackward0", l1_loss, method=False, public=False, extra=_NN,
                samples=_samples_pair_loss))
register(OpInfo("smooth_l1_loss", "SmoothL1LossBackward0", smooth_l1_loss, method=False, public=False, extra=_NN,
                samples=lambda rng: _samples_pair_loss(rng) + _samples_pair_loss(rng, beta=0.5)[:3]))
register(OpInfo("nll_loss", "NllLossBackward0", nll_loss, method=False, public=False, extra=_NN,
                samples=_samples_nll))
register(OpInfo("cross_entropy", "NllLossBackward0", cross_entropy, method=False, public=False, extra=_NN,
                samples=_samples_cross_entropy))
register(OpInfo("binary_cross_entropy", "BinaryCrossEntropyBackward0", binary_cross_entropy, method=False,
                public=False, extra=_NN, samples=_samples_bce))
register(OpInfo("binary_cross_entropy_with_logits", "BinaryCrossEntropyWithLogitsBackward0",
                binary_cross_entropy_with_logits, method=False, public=False, extra=_NN,
                samples=_samples_bce_logits))
register(OpInfo("kl_div", "SumBackward0", kl_div, method=False, public=False, extra=_NN, samples=_samples_kl))
