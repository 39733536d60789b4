"""Matrix products: dot, mv, mm, bmm and matmul (which folds onto them as PyTorch does).

The forward and backward products are GEMM/GEMV calls through NumPy's BLAS: a hand-written
Numba loop cannot match a tuned BLAS, and Numba's own ``np.dot`` would pull in SciPy.
"""
import numpy as np

from .._fp import QUIET as _QUIET, enter as _quiet_on, leave as _quiet_off, quiet
from ..autograd.graph import next_seq as _next_seq
from ..tensor import _TYPE_META_NAMES, Tensor, edge
from . import registry
from .registry import OpInfo, define_node, new_node, register, result

_state = registry._state
_new_tensor = Tensor.__new__

_matmul = np.matmul
_new_node = object.__new__


def _name(dt):
    return _TYPE_META_NAMES.get(dt, dt.name)  # c10's TypeMeta names, as PyTorch prints them


def _check_args(name, arg2, a, b):
    """PyTorch's TypeError for a non-Tensor operand and NotImplementedError for bool matrices."""
    if not isinstance(b, Tensor):
        raise TypeError(f"{name}(): argument '{arg2}' (position 2) must be Tensor, not {type(b).__name__}")
    if a._data.dtype.kind == "b" or b._data.dtype.kind == "b":
        kernel = "dot" if name == "dot" else "addmm_impl_cpu_"
        raise NotImplementedError(f'"{kernel}" not implemented for \'Bool\'')


def _record(cls, out, a: Tensor, b: Tensor, ctx=None):
    if _state.enabled and (a._requires_grad or b._requires_grad):
        node = new_node(cls, (edge(a), edge(b)), (a._data, b._data), ctx,
                        (registry.saved_version(a), registry.saved_version(b)))
        return result(out, node)
    return result(out, None)


def dot(input: Tensor, other: Tensor) -> Tensor:
    """Inner product of two 1-D tensors."""
    # (dot, mm, mv and bmm share this check-then-record shape; the checks and messages are each op's own)
    _check_args("dot", "tensor", input, other)
    a, b = input._data, other._data
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors")
    if a.shape[0] != b.shape[0]:
        raise RuntimeError(
            f"inconsistent tensor size, expected tensor [{a.shape[0]}] and src [{b.shape[0]}] to have the "
            f"same number of elements, but got {a.shape[0]} and {b.shape[0]} elements respectively"
        )
    if a.dtype != b.dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                           f"{_short(a.dtype)} and {_short(b.dtype)}")
    return _record(_DotNode, np.asarray(quiet(np.dot, a, b), dtype=a.dtype), input, other)


def _short(dt):
    from .._dtype import from_numpy_dtype

    return from_numpy_dtype(dt)._legacy[:-6]


def _dot_backward(node, grads):
    a, b = node._saved
    g = grads[0]
    return (g * b if node.next_functions[0][0] is not None else None,
            g * a if node.next_functions[1][0] is not None else None)


def _dot_graph(node, grads):
    a, b = registry.saved_tensors(node)
    g = grads[0]
    return (g * b if node.next_functions[0][0] is not None else None,
            g * a if node.next_functions[1][0] is not None else None)


_DotNode = define_node("DotBackward0", _dot_backward, _dot_graph, owns_grads=True)


def _check_same_dtype(a, b):
    if a.dtype != b.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {_name(a.dtype)} != {_name(b.dtype)}")


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """Matrix product of two 2-D tensors."""
    _check_args("mm", "mat2", input, mat2)
    a, b = input._data, mat2._data
    if a.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if b.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    if a.shape[1] != b.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x{a.shape[1]} and "
                           f"{b.shape[0]}x{b.shape[1]})")
    _check_same_dtype(a, b)
    return _record(_MmNode, quiet(_matmul, a, b), input, mat2)


def product_like(like, left, right):
    """``left @ right`` laid out like ``like``: the gradient of a transposed operand (``x @ w.t()``,
    nn.Linear's weight) is computed as ``(right.T @ left.T).T``, the same product, so that it
    reaches the transpose's backward -- and AccumulateGrad -- contiguous instead of as a strided
    view (a strided copy of a weight-sized gradient cost ~1 ms of an MLP step)."""
    s = like.strides
    if len(s) == 2 and s[0] < s[1]:  # column-major (a transpose); either way the values are the same
        return (right.T @ left.T).T
    return left @ right


def _mm_backward(node, grads):
    # (_bmm_backward is this formula batched, without product_like)
    a, b = node._saved
    g = grads[0]
    ga = product_like(a, g, b.T) if node.next_functions[0][0] is not None else None
    gb = product_like(b, a.T, g) if node.next_functions[1][0] is not None else None
    return (ga, gb)


def _mm_graph(node, grads):
    a, b = registry.saved_tensors(node)
    g = grads[0]
    return (mm(g, b.t()) if node.next_functions[0][0] is not None else None,
            mm(a.t(), g) if node.next_functions[1][0] is not None else None)


_MmNode = define_node("MmBackward0", _mm_backward, _mm_graph, owns_grads=True)


def mv(input: Tensor, vec: Tensor) -> Tensor:
    """Matrix-vector product."""
    _check_args("mv", "vec", input, vec)
    a, v = input._data, vec._data
    if a.ndim != 2 or v.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {a.ndim}, {v.ndim}")
    if a.shape[1] != v.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({a.shape[0]}), mat ({a.shape[0]}x{a.shape[1]}), vec ({v.shape[0]})")
    _check_same_dtype(a, v)
    return _record(_MvNode, quiet(_matmul, a, v), input, vec)


def _mv_backward(node, grads):
    a, v = node._saved
    g = grads[0]
    ga = np.outer(g, v) if node.next_functions[0][0] is not None else None
    gv = a.T @ g if node.next_functions[1][0] is not None else None
    return (ga, gv)


def _mv_graph(node, grads):
    a, v = registry.saved_tensors(node)
    g = grads[0]
    return (mm(g.unsqueeze(1), v.unsqueeze(0)) if node.next_functions[0][0] is not None else None,
            mv(a.t(), g) if node.next_functions[1][0] is not None else None)


_MvNode = define_node("MvBackward0", _mv_backward, _mv_graph, owns_grads=True)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """Batched matrix product of two 3-D tensors with the same batch size."""
    # (the check-then-record shape of dot / mm / mv above, with bmm's own checks and messages)
    _check_args("bmm", "mat2", input, mat2)
    a, b = input._data, mat2._data
    if a.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if b.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: [{a.shape[0]}, {a.shape[2]}] "
            f"but got: [{b.shape[0]}, {b.shape[1]}]."
        )
    _check_same_dtype(a, b)
    return _record(_BmmNode, quiet(_matmul, a, b), input, mat2)


def _bmm_backward(node, grads):
    # (_mm_backward's formula, batched; mm's goes through product_like for a transposed weight's
    # layout, which bmm's operands never need)
    a, b = node._saved
    g = grads[0]
    ga = np.matmul(g, b.transpose(0, 2, 1)) if node.next_functions[0][0] is not None else None
    gb = np.matmul(a.transpose(0, 2, 1), g) if node.next_functions[1][0] is not None else None
    return (ga, gb)


def _bmm_graph(node, grads):
    a, b = registry.saved_tensors(node)
    g = grads[0]
    return (bmm(g, b.transpose(1, 2)) if node.next_functions[0][0] is not None else None,
            bmm(a.transpose(1, 2), g) if node.next_functions[1][0] is not None else None)


_BmmNode = define_node("BmmBackward0", _bmm_backward, _bmm_graph, owns_grads=True)


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """Matrix product with PyTorch's rules for 1-D, 2-D and batched (broadcast) operands."""
    if other.__class__ is Tensor and input.__class__ is Tensor:  # the common 2-D float case, lean
        a, b = input._data, other._data
        if a.ndim == 2 and b.ndim == 2 and a.shape[1] == b.shape[0] and a.dtype is b.dtype and a.dtype.kind == "f":
            # registry.result/new_node, inlined: one call less per op is ~70 ns, 5% of a small op
            # (the same block as ops/unary.py's and ops/elementwise.py's templates, for the same reason)
            t = _new_tensor(Tensor)
            token = _quiet_on(_QUIET)
            try:
                t._data = a @ b
            finally:
                _quiet_off(token)
            t._vc = [0]
            t._output_nr = 0
            if _state.enabled and (input._requires_grad or other._requires_grad):
                node = _new_node(_MmNode)
                node.next_functions = (edge(input), edge(other))
                node._seq = _next_seq()
                node._saved = (a, b)
                node._ctx = None
                node._versions = ((input._vc, input._vc[0], a, input), (other._vc, other._vc[0], b, other))
                t._requires_grad = True
                t.grad_fn = node
            else:
                t._requires_grad = False
                t.grad_fn = None
            return t
    from . import shape as sh

    _check_args("matmul", "other", input, other)
    da, db = input._data.ndim, other._data.ndim
    if da == 0 or db == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {da}D and {db}D")
    if da == 1 and db == 1:
        return dot(input, other)
    if da == 2 and db == 1:
        return mv(input, other)
    if da == 1 and db == 2:
        return sh.squeeze_named(mm(sh.unsqueeze(input, 0), other), 0, "SqueezeBackward4")
    if da == 2 and db == 2:
        return mm(input, other)
    # PyTorch folds a batched operand against a 1-D/2-D one into a single mm/mv.  With the batched
    # operand second, folding goes through its transpose, which PyTorch skips (and uses bmm)
    # when only the batched operand requires grad: its transposed copy would cost more.
    if da >= 3 and db <= 2:
        return _folded(input, other, transpose=False)
    if db >= 3 and da <= 2 and not (other._requires_grad and not input._requires_grad):
        return _folded(other, input, transpose=True)
    # general batched case: broadcast the batch dims, then bmm
    a1 = sh.unsqueeze(input, 0) if da == 1 else input
    b1 = sh.unsqueeze(other, -1) if db == 1 else other
    n, ka = a1._data.shape[-2:]
    kb, m = b1._data.shape[-2:]
    if ka != kb:
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: [{int(np.prod(a1._data.shape[:-2]))}, {ka}] "
            f"but got: [{int(np.prod(b1._data.shape[:-2]))}, {kb}]."
        )
    from .broadcast import broadcast_shapes

    batch = broadcast_shapes(a1._data.shape[:-2], b1._data.shape[:-2])
    nb = int(np.prod(batch))  # explicit, not -1: a reshape of an empty tensor cannot infer it
    a3 = sh.reshape(sh.expand(a1, batch + (n, ka)), (nb, n, ka))
    b3 = sh.reshape(sh.expand(b1, batch + (kb, m)), (nb, kb, m))
    res = bmm(a3, b3)
    out_shape = batch + ((n,) if da > 1 else ()) + ((m,) if db > 1 else ())
    return sh.unsafe_view(res, out_shape)


def _folded(big: Tensor, small: Tensor, transpose: bool) -> Tensor:
    """(..., n, k) @ (k[, m]) as one mm/mv on the batch folded into the rows.  With
    ``transpose``, computes small @ big as (big^T @ small^T)^T the same way."""
    from . import shape as sh

    t1 = sh.transpose(big, -1, -2) if transpose else big
    t2 = sh.t(small) if (transpose and small._data.ndim == 2) else small
    k = t1._data.shape[-1]
    rows = int(np.prod(t1._data.shape[:-1]))  # explicit, not -1: a reshape of an empty tensor cannot infer it
    if t2._data.shape[0] != k:
        if t2._data.ndim == 1:
            raise RuntimeError(f"size mismatch, got input ({rows}), mat ({rows}x{k}), vec ({t2._data.shape[0]})")
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{k} and "
                           f"{t2._data.shape[0]}x{t2._data.shape[1]})")
    out_shape = t1._data.shape[:-1] + ((t2._data.shape[1],) if t2._data.ndim == 2 else ())
    folded = sh.reshape(t1, (rows, k))
    res = sh.unsafe_view(mm(folded, t2) if t2._data.ndim == 2 else mv(folded, t2), out_shape)
    if transpose and small._data.ndim == 2:
        res = sh.clone(sh.transpose(res, -1, -2))  # PyTorch's .mT.contiguous()
    return res


def _mat(rng, *shape):
    return rng.uniform(-1, 1, shape)


register(OpInfo("dot", "DotBackward0", dot, samples=lambda rng: [((_mat(rng, 5), _mat(rng, 5)), {})]))
register(OpInfo("mm", "MmBackward0", mm, samples=lambda rng: [((_mat(rng, 3, 4), _mat(rng, 4, 2)), {})]))
register(OpInfo("mv", "MvBackward0", mv, samples=lambda rng: [((_mat(rng, 3, 4), _mat(rng, 4)), {})]))
register(OpInfo("bmm", "BmmBackward0", bmm, samples=lambda rng: [((_mat(rng, 2, 3, 4), _mat(rng, 2, 4, 2)), {})]))
register(OpInfo("matmul", "MmBackward0", matmul, dunders=("__matmul__",),
                methods={"__rmatmul__": lambda self, other: matmul(other, self)},
                nodes=("DotBackward0", "MvBackward0", "SqueezeBackward4", "UnsafeViewBackward0", "CloneBackward0"),
                samples=lambda rng: [((_mat(rng, *sa), _mat(rng, *sb)), {}) for sa, sb in [
                    ((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 2)), ((3, 4), (4, 2)), ((2, 3, 4), (4, 2)),
                    ((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (3, 4, 2)), ((4,), (2, 4, 3)), ((2, 3, 4), (4,)),
                    ((3, 4), (2, 4, 5))]]))
