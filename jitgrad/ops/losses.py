"""The losses of ``torch.nn.functional``: class-index losses (nll_loss, cross_entropy), elementwise
losses (mse_loss, l1_loss, smooth_l1_loss, binary_cross_entropy[_with_logits]) and kl_div.

``cross_entropy`` on class indices is log_softmax and nll in one node, one kernel pass forward
and one backward (``kernels/nn.py``).  Where PyTorch composes a loss from smaller ops (``l1_loss``,
``kl_div``, ``cross_entropy`` on class probabilities) jitgrad composes the same ops, so every
``grad_fn`` name is PyTorch's.
"""
import math
import warnings

import numpy as np

from .. import _dtype
from ..kernels import elementwise as ek
from ..kernels import nn as k
from ..tensor import Tensor, _wrap, edge
from . import registry
from ._nn_common import (_EMPTY, _F32, _I64, _NN, _as_3d, _attach, _grad_array, _needs, _not_implemented,
                         _state, _tensor_arg, _type_name, _u)
from .elementwise import _F16, _via_float32
from .registry import OpInfo, define_node, register, result, saved_version
from .softmax import log_softmax, softmax


# ============================================================================ reduction and argument checks
_REDUCTIONS = {"none": 0, "mean": 1, "sum": 2}


def _legacy_reduction(size_average, reduce) -> str:
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = "mean" if (size_average and reduce) else ("sum" if reduce else "none")
    warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{ret}' instead.",
                  stacklevel=3)
    return ret


def _reduction(reduction, size_average=None, reduce=None, stacklevel=3) -> int:
    """PyTorch's reduction enum: 0 'none', 1 'mean', 2 'sum' (legacy size_average/reduce honoured)."""
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    code = _REDUCTIONS.get(reduction)
    if code is None:
        if reduction == "elementwise_mean":
            warnings.warn("reduction='elementwise_mean' is deprecated. Please use reduction='mean' instead.",
                          stacklevel=stacklevel)
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


def _pair_loss_args(input: Tensor, target: Tensor, reduction, size_average, reduce):
    """The start of mse / l1 / smooth_l1_loss: PyTorch's size warning, the reduction code and the
    broadcast pair ``(red, input, target)``; both warnings name the frame that called the loss."""
    if target._data.shape != input._data.shape:
        from ..tensor import Size

        warnings.warn(
            f"Using a target size ({Size(target._data.shape)}) that is different to the input size "
            f"({Size(input._data.shape)}). This will likely lead to incorrect results due to broadcasting. "
            "Please ensure they have the same size.", stacklevel=3)
    red = _reduction(reduction, size_average, reduce, stacklevel=4)
    input, target = _broadcast_pair(input, target)
    return red, input, target


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
    red, input, target = _pair_loss_args(input, target, reduction, size_average, reduce)
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
    red, input, target = _pair_loss_args(input, target, reduction, size_average, reduce)
    if weight is not None:
        return _weighted_loss((input - target).abs(), weight, input, red)
    return _reduce_tensor((input - target).abs(), red)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """Huber-like loss: ``0.5 d**2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta``."""
    red, input, target = _pair_loss_args(input, target, reduction, size_average, reduce)
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
    from .elementwise import clamp
    from .unary import log

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
    from .unary import sigmoid
    from .pointwise import softplus

    x, t = registry.saved_tensors(node)[:2]  # (the weights' records may follow)
    _, _, w, pw = node._saved
    shape, reduced, scale = node._ctx
    g = grads[0] * scale
    if w.size:
        g = g * _wrap(w.reshape(shape))
    if pw.size:
        pwt = _wrap(pw.reshape(shape))
        gx = (sigmoid(x) * (1 - t + pwt * t) - pwt * t) * g
        # PyTorch's (log_sigmoid(-x) - pos_weight * log_sigmoid(x)) * g: log_sigmoid(x) is
        # -softplus(-x), exact for every x (threshold=inf: no linear cut-off, unlike F.softplus's 20)
        gt = (pwt * softplus(-x, threshold=math.inf) - softplus(x, threshold=math.inf)) * g
    else:
        gx = (sigmoid(x) - t) * g
        gt = -x * g
    return (gx if _needs(node, 0) else None, gt if _needs(node, 1) else None)


_BceLogitsNode = define_node("BinaryCrossEntropyWithLogitsBackward0", _bce_logits_backward, _bce_logits_graph)


def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence of ``target`` from log-probabilities ``input`` (PyTorch's composition)."""
    from .unary import exp

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
    from .unary import log

    (t,) = registry.saved_tensors(node)
    return (grads[0] * (log(t) + 1),)


_XlogyNode = define_node("XlogyBackward0", _xlogy_backward, _xlogy_graph)


# ============================================================================ the table
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


# The nodes of PyTorch's composition for a ``weight`` (``_weighted_loss``): the product ('none'),
# its sum ('sum'), divided by the weights' sum ('mean').
_WEIGHTED_NODES = ("MulBackward0", "SumBackward0", "DivBackward0")
register(OpInfo("mse_loss", "MseLossBackward0", mse_loss, method=False, public=False, extra=_NN,
                nodes=_WEIGHTED_NODES, samples=_samples_pair_loss))
register(OpInfo("l1_loss", "MeanBackward0", l1_loss, method=False, public=False, extra=_NN,
                nodes=("AbsBackward0", "SumBackward0", "MulBackward0", "DivBackward0"), samples=_samples_pair_loss))
register(OpInfo("smooth_l1_loss", "SmoothL1LossBackward0", smooth_l1_loss, method=False, public=False, extra=_NN,
                nodes=("AbsBackward0", "MeanBackward0", "SumBackward0"),  # beta=0: l1_loss's composition
                samples=lambda rng: _samples_pair_loss(rng) + _samples_pair_loss(rng, beta=0.5)[:3]))
# nll_loss2d's node for other than 2-D inputs, viewed back to the target's shape when unreduced
_NLL_ND_NODES = ("NllLoss2DBackward0", "ViewBackward0")
register(OpInfo("nll_loss", "NllLossBackward0", nll_loss, method=False, public=False, extra=_NN,
                nodes=_NLL_ND_NODES, samples=_samples_nll))
register(OpInfo("cross_entropy", "NllLossBackward0", cross_entropy, method=False, public=False, extra=_NN,
                # label smoothing's AddBackward0; class probabilities: the negated sum [/ n]
                nodes=_NLL_ND_NODES + ("NegBackward0", "AddBackward0", "DivBackward1"),
                samples=_samples_cross_entropy))
register(OpInfo("binary_cross_entropy", "BinaryCrossEntropyBackward0", binary_cross_entropy, method=False,
                public=False, extra=_NN, samples=_samples_bce))
register(OpInfo("binary_cross_entropy_with_logits", "BinaryCrossEntropyWithLogitsBackward0",
                binary_cross_entropy_with_logits, method=False, public=False, extra=_NN,
                samples=_samples_bce_logits))
# kl_div, unreduced: SubBackward0 (MulBackward0 with log_target); 'mean': MeanBackward0; 'batchmean': DivBackward0
register(OpInfo("kl_div", "SumBackward0", kl_div, method=False, public=False, extra=_NN,
                nodes=("SubBackward0", "MulBackward0", "MeanBackward0", "DivBackward0"), samples=_samples_kl))
