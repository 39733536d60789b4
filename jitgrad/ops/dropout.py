"""dropout, recorded as PyTorch records it: the product of the input and a noise tensor."""
import numpy as np

from .. import _random
from ..kernels import elementwise as ek
from ..kernels import nn as k
from ..tensor import Tensor, _wrap, edge
from ._nn_common import _F32, _NN, _NO_EDGE, _attach, _grad_array, _state, _type_name, _u
from .elementwise import _F16, _via_float32
from .registry import OpInfo, define_node, register, result


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


# ============================================================================ the table
register(OpInfo("dropout", "MulBackward0", dropout, method=False, public=False, extra=_NN,
                samples=lambda rng: [((_u(rng, (3, 4)),), {"p": 1.0})],
                notes="only p=1 is deterministic; random masks are tested in tests/test_nn_ops.py"))
