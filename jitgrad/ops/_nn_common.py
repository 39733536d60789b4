"""What the neural-network op modules share (softmax, losses, normalization, embedding,
dropout; conv too): PyTorch's error texts, array views for the fused kernels, node recording
(``_attach``, ``linear_pair``) and what their table rows use.

Each nn op is a row in the op table under PyTorch's ``torch.nn.functional`` name, with its
arguments and defaults; ``jitgrad.nn.functional`` reads them from there.  Forward and backward
are fused jitted kernels (``kernels/nn.py``).  Where PyTorch itself composes an op from smaller
ones (``l1_loss``, ``kl_div``, ``cross_entropy`` on class probabilities) jitgrad composes the same
ops, so the graph -- and every ``grad_fn`` name -- is PyTorch's.
"""
import math

import numpy as np

from .. import _dtype
from ..tensor import Tensor, edge
from . import registry
from .elementwise import _F16
from .registry import define_node, new_node, result, saved_version

_state = registry._state
_NO_EDGE = (None, 0)
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_I64 = np.dtype(np.int64)
_EMPTY = {_F16: np.empty(0, _F16), _F32: np.empty(0, _F32), _F64: np.empty(0, _F64)}


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


def _tensor_arg(value, fn: str, arg: str, position: int, optional=False):
    """PyTorch's TypeError for a non-Tensor argument (a NumPy array or list of targets, say)."""
    if value.__class__ is not Tensor and not isinstance(value, Tensor) and not (optional and value is None):
        cls = type(value)
        name = cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
        raise TypeError(f"{fn}(): argument '{arg}' (position {position}) must be Tensor, not {name}")


def _attach(out: np.ndarray, node_cls, edges, saved, ctx, versions=(), save_output=False) -> Tensor:
    """Wrap ``out`` and, when given a node class, record the node (optionally saving the output)."""
    t = result(out, None)
    if node_cls is not None:
        if save_output:
            versions = versions + ((t._vc, 0, out, 0),)
        t.grad_fn = new_node(node_cls, edges, saved, ctx, versions)
        t._requires_grad = True
    return t


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


def _u(rng, shape, low=-2.0, high=2.0):
    return rng.uniform(low, high, shape)


_NN = {"functional": True}  # compared with torch.nn.functional.<name> by the differential tests
# Names under which ``torch.<name>`` is the same function as ``torch.nn.functional.<name>``: only
# those are also exported as ``jitgrad.<name>`` (``torch.dropout``, ``torch.embedding``,
# ``torch.batch_norm``, ... exist too, but with other signatures).
