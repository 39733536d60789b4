"""``jitgrad.nn.functional``: PyTorch's functional API.

Every public or functional op in the op table is available here under its PyTorch name
(``F.softmax``, ``F.conv2d``, ``F.cross_entropy``, ...): a module-level ``__getattr__`` resolves
names to ``jitgrad.ops.registry.OPS[name].function`` (behind the same Tensor-argument check as
``jitgrad.<name>``), so an op declared anywhere appears here with no further wiring.  Defined here: ``linear`` (one fused ``AddmmBackward0`` node, as PyTorch
records it), ``bilinear`` and the ``inplace=`` forms of the activations.
"""
import numpy as np

from ..kernels import linear as _linear_kernels
from ..ops import registry as _registry
from .._fp import quiet
from ..ops.linalg import product_like
from ..ops.registry import OPS as _OPS
from ..tensor import Tensor, edge as _edge

_state = _registry._state
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)


def __getattr__(name: str):
    info = _OPS.get(name)
    if info is None or name.startswith("_") or not (info.public or info.extra.get("functional")):
        raise AttributeError(f"module 'jitgrad.nn.functional' has no attribute '{name}'")
    # the same checked function as ``jitgrad.<name>``; resolved once, then a plain module global
    fn = _registry.public_function(info, "functional")  # F's own out= rules (F.softmax takes none)
    globals()[name] = fn
    return fn


def __dir__():
    return sorted(set(globals()) | {n for n, info in _OPS.items() if not n.startswith("_")
                                    and (info.public or info.extra.get("functional"))})


def _op(name):
    info = _OPS.get(name)
    if info is None:
        raise NotImplementedError(f"jitgrad.nn.functional.{name} is not available (the op '{name}' is not declared)")
    return info.function


# ============================================================================ linear
def _addmm_backward(node, grads):
    mat1, mat2 = node._saved
    g = grads[0]
    nf = node.next_functions
    gb = _sum_rows(g) if nf[0][0] is not None else None
    g1 = product_like(mat1, g, mat2.T) if nf[1][0] is not None else None
    g2 = product_like(mat2, mat1.T, g) if nf[2][0] is not None else None  # nn.Linear: mat2 = weight.T
    return (gb, g1, g2)


def _sum_rows(g):
    from ..ops.reduction import sum_array

    return sum_array(g, (0,)) if g.shape[0] else np.zeros(g.shape[1], g.dtype)


def _addmm_graph(node, grads):
    mat1, mat2 = _registry.saved_tensors(node)
    g = grads[0]
    nf = node.next_functions
    gb = _registry.sum_to(g, (g.shape[1],)) if nf[0][0] is not None else None
    g1 = g.mm(mat2.t()) if nf[1][0] is not None else None
    g2 = mat1.t().mm(g) if nf[2][0] is not None else None
    return (gb, g1, g2)


_AddmmNode = _registry.define_node("AddmmBackward0", _addmm_backward, _addmm_graph, owns_grads=True)  # (fresh arrays)


def _addmm(bias: Tensor, mat1: Tensor, mat2: Tensor) -> Tensor:
    """``bias + mat1 @ mat2`` for a 1-D ``bias`` as one node (PyTorch's ``addmm``)."""
    a, b = mat1._data, mat2._data
    if a.shape[1] != b.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x{a.shape[1]} and "
                           f"{b.shape[0]}x{b.shape[1]})")
    out = quiet(np.matmul, a, b)  # (an overflow to inf prints nothing in PyTorch)
    _linear_kernels.add_bias_rows(out.reshape(-1), bias._data.ravel())
    if _state.enabled and (bias._requires_grad or mat1._requires_grad or mat2._requires_grad):
        node = _registry.new_node(_AddmmNode, (_edge(bias), _edge(mat1), _edge(mat2)), (a, b), None,
                                  (_registry.saved_version(mat1), _registry.saved_version(mat2)))
        return _registry.result(out, node)
    return _registry.result(out, None)


def linear(input: Tensor, weight: Tensor, bias: Tensor = None) -> Tensor:
    """``input @ weight.T + bias``; recorded as PyTorch records it (``AddmmBackward0`` for 2-D input)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"linear(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if not isinstance(weight, Tensor):
        raise TypeError(f"linear(): argument 'weight' (position 2) must be Tensor, not {type(weight).__name__}")
    wt = weight.t()
    if bias is None:
        return input.matmul(wt)
    xd, wd, bd = input._data, weight._data, bias._data
    dt = xd.dtype
    if (bd.ndim == 1 and wd.ndim == 2 and xd.ndim >= 1 and (dt == _F32 or dt == _F64)
            and wd.dtype == dt and bd.dtype == dt and (xd.ndim == 2 or xd.flags.c_contiguous)):
        out_features = wd.shape[0]
        if bd.shape[0] != out_features:
            rows = int(np.prod(xd.shape[:-1], dtype=np.int64))
            raise RuntimeError(
                f"The expanded size of the tensor ({out_features}) must match the existing size ({bd.shape[0]}) at "
                f"non-singleton dimension 1.  Target sizes: [{rows}, {out_features}].  Tensor sizes: [{bd.shape[0]}]"
            )
        if xd.ndim == 2:
            return _addmm(bias, input, wt)
        rows = int(np.prod(xd.shape[:-1], dtype=np.int64))
        out = _addmm(bias, input.reshape(rows, xd.shape[-1]), wt)
        return out.view(*xd.shape[:-1], out.shape[1])
    return input.matmul(wt) + bias


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor = None) -> Tensor:
    """``y_k = input1^T weight_k input2 + bias_k`` over the last dims (leading dims must match)."""
    s1, s2, sw = input1.shape, input2.shape, weight.shape
    if len(sw) != 3:
        raise RuntimeError(f"bilinear(): weight must be three-dimensional, but got {len(sw)}D")
    if s1[:-1] != s2[:-1]:
        raise RuntimeError(f"bilinear(): input batch dimensions do not match: got {list(s1[:-1])} and {list(s2[:-1])}")
    if s1[-1] != sw[1]:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got {s1[-1]} but expected {sw[1]}")
    if s2[-1] != sw[2]:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got {s2[-1]} but expected {sw[2]}")
    out_features, in1, in2 = sw
    lead = tuple(s1[:-1])
    x1 = input1.reshape(-1, in1)
    x2 = input2.reshape(-1, in2)
    # (N, in1) @ (in1, out*in2) -> (N, out, in2), then contract with x2 over in2
    w = weight.permute(1, 0, 2).reshape(in1, out_features * in2)
    y = (x1.matmul(w).reshape(-1, out_features, in2) * x2.unsqueeze(1)).sum(-1)
    y = y.reshape(*lead, out_features)
    if bias is not None:
        y = y + bias
    return y


# ============================================================================ activations with inplace=
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``max(input, 0)`` elementwise (in place with ``inplace=True``)."""
    return input.relu_() if inplace else _OPS["relu"].function(input)


def relu_(input: Tensor) -> Tensor:
    return input.relu_()


# (F.sigmoid, F.tanh: the op table's, through __getattr__ above, as every public op)
