"""embedding: a jitted row lookup; its gradient a jitted scatter-add, recorded with its transpose
as a ``linear_pair`` so it can be differentiated again."""
import numpy as np

from .. import _dtype
from ..kernels import nn as k
from ..tensor import Tensor, edge
from ._nn_common import _F32, _I64, _NN, _attach, _grad_array, _state, _tensor_arg, _u, linear_pair
from .elementwise import _F16
from .registry import OpInfo, define_node, register, result, saved_version


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
def _samples_embedding(rng):
    w = _u(rng, (6, 3))
    idx = np.array([[0, 2, 5], [2, 2, 1]])
    # padding_idx and scale_grad_by_freq change the gradient on purpose (it is not the derivative
    # any more), so they are compared with torch in tests/test_nn_ops.py instead
    return [((idx, w), {}), ((idx[0], w), {}), ((np.array(4), w), {})]


register(OpInfo("embedding", "EmbeddingBackward0", embedding, method=False, public=False, extra=_NN,
                samples=_samples_embedding))
