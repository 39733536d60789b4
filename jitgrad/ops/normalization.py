"""layer_norm and batch_norm: fused jitted kernels forward and backward (``kernels/nn.py``), with
PyTorch's argument and dtype checks; float16 runs through float32 as PyTorch's CPU kernels do."""
import math

import numpy as np

from ..kernels import nn as k
from ..tensor import Tensor, _wrap, edge
from . import registry
from ._nn_common import (_EMPTY, _F32, _F64, _NN, _NO_EDGE, _as_3d, _attach, _grad_array, _needs,
                         _not_implemented, _record_half_versions, _state, _type_name, _u)
from .elementwise import _F16, _via_float32
from .registry import OpInfo, define_node, register, result, saved_version

_FINITE_MAX = {_F32: float(np.finfo(_F32).max), _F64: float(np.finfo(_F64).max)}


# ============================================================================ helpers
def _optional(t, dt):
    """An optional weight tensor's data as a flat C array of ``dt``; empty when absent."""
    if t is None:
        return _EMPTY[dt]
    return np.ascontiguousarray(t._data, dtype=dt).ravel()


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
    # (the same unpack-and-allocate shape as _batch_norm_backward, around another kernel on another
    # layout: (M, N) rows here, (N, C, inner) there)
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
    # (shaped as _layer_norm_backward, which says why they stay apart)
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


# ============================================================================ the table
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


register(OpInfo("layer_norm", "NativeLayerNormBackward0", layer_norm, method=False, extra=_NN,
                samples=_samples_layer_norm))
register(OpInfo("batch_norm", "NativeBatchNormBackward0", batch_norm, method=False, public=False, extra=_NN,
                nodes=("CloneBackward0", "MulBackward0", "AddBackward0"),  # an empty input (_batch_norm_empty)
                samples=_samples_batch_norm))
