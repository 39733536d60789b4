"""softmax and log_softmax: one fused jitted pass per row forward (``kernels/nn.py``), and one
backward from the saved output."""
import warnings

import numpy as np

from .. import _dtype
from ..kernels import nn as k
from ..tensor import Tensor, _wrap_dim, edge
from . import registry
from ._nn_common import _NN, _as_3d, _attach, _grad_array, _not_implemented, _state, _u
from .elementwise import _F16, _via_float32
from .registry import OpInfo, define_node, register, result


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


# ============================================================================ the table
def _samples_softmax(rng):
    x = _u(rng, (3, 4, 5))
    return [((x, 1), {}), ((x,), {"dim": -1}), ((x, 0), {}), ((_u(rng, (6,)), 0), {}), ((_u(rng, ()), 0), {})]


register(OpInfo("softmax", "SoftmaxBackward0", softmax, extra=_NN, samples=_samples_softmax))
register(OpInfo("log_softmax", "LogSoftmaxBackward0", log_softmax, extra=_NN, samples=_samples_softmax))
