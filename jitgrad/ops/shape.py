"""Shape and view ops: reshape/view, transpose/t/T, permute, squeeze/unsqueeze, expand, flatten,
indexing, clone.  Forward is a NumPy view (sharing storage and the version counter, as PyTorch
views do); backward is the inverse rearrangement of the gradient."""
import numpy as np

from .. import errors
from ..kernels import elementwise as ek
from ..tensor import Size, Tensor, _wrap_dim, edge
from . import registry
from .broadcast import reduce_to_shape
from .registry import OpInfo, define_node, new_node, register, result

_state = registry._state


def _shape_arg(shape) -> tuple:
    """Accept ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])`` and ``f(torch.Size)``."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def _view_result(input: Tensor, out: np.ndarray, node_cls, ctx, is_view=True) -> Tensor:
    """Wrap a view: shares ``input``'s version counter and records ``node_cls`` if needed."""
    if _state.enabled and input._requires_grad:
        t = result(out, new_node(node_cls, (edge(input),), None, ctx))
    else:
        t = result(out, None)
    if is_view:
        t._vc = input._vc
        t._base = input if input._base is None else input._base
    return t


def _infer_shape(shape: tuple, numel: int) -> tuple:
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"invalid shape dimension {s}")
            known *= s
    if neg:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = shape[: neg[0]] + (numel // known,) + shape[neg[0] + 1:]
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


def _reshape_backward(node, grads):
    return (grads[0].reshape(node._ctx),)


_ViewNode = define_node("ViewBackward0", _reshape_backward)
_UnsafeViewNode = define_node("UnsafeViewBackward0", _reshape_backward)


def view(input: Tensor, *shape) -> Tensor:
    """A view with a new shape; fails if the strides cannot express it (use reshape)."""
    if len(shape) == 1 and not isinstance(shape[0], (tuple, list, int, np.integer)):
        from .._dtype import dtype as _dt

        if isinstance(shape[0], _dt):
            return _wrap_view_dtype(input, shape[0])
    xd = input._data
    new_shape = _infer_shape(_shape_arg(shape), xd.size)
    try:
        out = np.reshape(xd, new_shape, copy=False)
    except ValueError:
        raise RuntimeError(
            "view size is not compatible with input tensor's size and stride (at least one dimension "
            "spans across two contiguous subspaces). Use .reshape(...) instead."
        ) from None
    return _view_result(input, out, _ViewNode, xd.shape)


def _wrap_view_dtype(input, dt):
    out = input._data.view(dt.np)
    return _view_result(input, out, _ViewNode, input._data.shape)


def reshape(input: Tensor, *shape) -> Tensor:
    """The same data with a new shape: a view when possible, else a copy."""
    xd = input._data
    new_shape = _infer_shape(_shape_arg(shape), xd.size)
    try:
        out = np.reshape(xd, new_shape, copy=False)
        return _view_result(input, out, _ViewNode, xd.shape)
    except ValueError:
        out = np.ascontiguousarray(xd).reshape(new_shape)
        return _view_result(input, out, _UnsafeViewNode, xd.shape, is_view=False)


def unsafe_view(input: Tensor, shape) -> Tensor:
    """Reshape a freshly computed result (PyTorch's ``_unsafe_view`` after matmul)."""
    out = input._data.reshape(shape)
    return _view_result(input, out, _UnsafeViewNode, input._data.shape, is_view=False)


def view_as(input: Tensor, other: Tensor) -> Tensor:
    return view(input, other._data.shape)


def reshape_as(input: Tensor, other: Tensor) -> Tensor:
    return reshape(input, other._data.shape)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` into one."""
    shape = input._data.shape
    if not shape:
        return reshape(input, (1,))
    s = _wrap_dim(start_dim, len(shape))
    e = _wrap_dim(end_dim, len(shape))
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return input
    merged = int(np.prod(shape[s:e + 1], dtype=np.int64))
    return reshape(input, shape[:s] + (merged,) + shape[e + 1:])


def unflatten(input: Tensor, dim: int, sizes) -> Tensor:
    shape = input._data.shape
    d = _wrap_dim(dim, len(shape))
    sizes = _infer_shape(tuple(sizes), shape[d])
    return view(input, shape[:d] + sizes + shape[d + 1:])


# --------------------------------------------------------------------------- transpose family
def _transpose_backward(node, grads):
    d0, d1 = node._ctx
    return (grads[0].swapaxes(d0, d1),)


_TransposeNode = define_node("TransposeBackward0", _transpose_backward)
_TNode = define_node("TBackward0", lambda node, grads: (grads[0].T,))


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dims (a view)."""
    nd = input._data.ndim
    d0, d1 = _wrap_dim(dim0, nd), _wrap_dim(dim1, nd)
    if nd == 0:
        return _view_result(input, input._data, _TransposeNode, (0, 0))
    return _view_result(input, input._data.swapaxes(d0, d1), _TransposeNode, (d0, d1))


def t(input: Tensor) -> Tensor:
    """Transpose a tensor of at most 2 dims."""
    nd = input._data.ndim
    if nd > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {nd}D")
    return _view_result(input, input._data.T, _TNode, None)


def _permute_backward(node, grads):
    return (grads[0].transpose(node._ctx),)


_PermuteNode = define_node("PermuteBackward0", _permute_backward)


def permute(input: Tensor, *dims) -> Tensor:
    """Reorder the dims (a view)."""
    dims = _shape_arg(dims)
    nd = input._data.ndim
    if len(dims) != nd:
        raise RuntimeError(
            "permute(sparse_coo): number of dimensions in the tensor input does not match the length of the "
            f"desired ordering of dimensions i.e. input.dim() = {nd} is not equal to len(dims) = {len(dims)}"
        )
    dims = tuple(_wrap_dim(d, nd) for d in dims)
    if len(set(dims)) != nd:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return _view_result(input, input._data.transpose(dims), _PermuteNode, tuple(np.argsort(dims)))


def _T(input: Tensor) -> Tensor:
    nd = input._data.ndim
    return permute(input, tuple(range(nd - 1, -1, -1))) if nd else input


def _mT(input: Tensor) -> Tensor:
    if input._data.ndim < 2:
        raise RuntimeError("tensor.mT is only supported on matrices or batches of matrices. Got 1-D tensor.")
    return transpose(input, -2, -1)


# --------------------------------------------------------------------------- squeeze family
_SqueezeNodes = {}


def squeeze_named(input: Tensor, dim, node_name: str) -> Tensor:
    xd = input._data
    if dim is None:
        axes = tuple(i for i, s in enumerate(xd.shape) if s == 1)
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        axes = tuple(_wrap_dim(d, xd.ndim) for d in dims)
        axes = tuple(a for a in axes if xd.ndim and xd.shape[a] == 1)
    out = xd.squeeze(axes) if axes else xd
    cls = _SqueezeNodes.get(node_name)
    if cls is None:
        cls = _SqueezeNodes[node_name] = define_node(node_name, _reshape_backward)
    return _view_result(input, out, cls, xd.shape)


def squeeze(input: Tensor, dim=None) -> Tensor:
    """Remove dims of size 1 (all, or only ``dim``)."""
    name = "SqueezeBackward0" if dim is None else ("SqueezeBackward1" if isinstance(dim, int) else "SqueezeBackward2")
    return squeeze_named(input, dim, name)


_UnsqueezeNode = define_node("UnsqueezeBackward0", _reshape_backward)


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert a dim of size 1 at ``dim``."""
    xd = input._data
    d = _wrap_dim(dim, xd.ndim + 1)
    return _view_result(input, np.expand_dims(xd, d), _UnsqueezeNode, xd.shape)


# --------------------------------------------------------------------------- expand
def _expand_backward(node, grads):
    return (reduce_to_shape(grads[0], node._ctx),)


_ExpandNode = define_node("ExpandBackward0", _expand_backward)


def expand(input: Tensor, *sizes) -> Tensor:
    """Broadcast to a larger shape without copying (-1 keeps a dim)."""
    sizes = _shape_arg(sizes)
    xd = input._data
    if len(sizes) < xd.ndim:
        raise RuntimeError(
            f"expand(torch.FloatTensor{{{list(xd.shape)}}}, size={list(sizes)}): the number of sizes provided "
            f"({len(sizes)}) must be greater or equal to the number of dimensions in the tensor ({xd.ndim})"
        )
    lead = len(sizes) - xd.ndim
    target = list(sizes)
    for i, s in enumerate(xd.shape):
        want = sizes[lead + i]
        if want == -1:
            target[lead + i] = s
        elif s != want and s != 1:
            raise RuntimeError(
                f"The expanded size of the tensor ({want}) must match the existing size ({s}) at non-singleton "
                f"dimension {lead + i}.  Target sizes: {list(sizes)}.  Tensor sizes: {list(xd.shape)}"
            )
    out = np.broadcast_to(xd, tuple(target))
    return _view_result(input, out, _ExpandNode, xd.shape)


def expand_as(input: Tensor, other: Tensor) -> Tensor:
    return expand(input, other._data.shape)


# --------------------------------------------------------------------------- clone
_CloneNode = define_node("CloneBackward0", lambda node, grads: (grads[0],))


def clone(input: Tensor, *, memory_format=None) -> Tensor:
    """A copy that stays in the graph (gradient flows back unchanged)."""
    out = np.array(input._data, order="C")
    node = new_node(_CloneNode, (edge(input),)) if (_state.enabled and input._requires_grad) else None
    return result(out, node)


# --------------------------------------------------------------------------- indexing
_INDEX_ERROR = ("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid "
                "indices (got {})")


def _convert_key(key):
    """Turn a PyTorch index into a NumPy one; report whether it uses advanced indexing."""
    if not isinstance(key, tuple):
        key = (key,)
    out = []
    advanced = False
    kinds = set()
    for item in key:
        if isinstance(item, Tensor):
            arr = item._data
            if arr.dtype.kind == "f":
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            if arr.ndim == 0 and arr.dtype.kind in "iu":
                out.append(int(arr))
                kinds.add("int")
                continue
            out.append(arr)
            advanced = True
        elif isinstance(item, (bool, np.bool_)):
            out.append(item)
            advanced = True
        elif isinstance(item, (int, np.integer)):
            out.append(int(item))
            kinds.add("int")
        elif isinstance(item, slice):
            out.append(item)
            kinds.add("slice")
        elif item is None:
            out.append(None)
            kinds.add("none")
        elif item is Ellipsis:
            out.append(item)
            kinds.add("ellipsis")
        elif isinstance(item, (list, np.ndarray)):
            arr = np.asarray(item)
            if arr.dtype.kind == "f":
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            out.append(arr)
            advanced = True
        else:
            raise IndexError(_INDEX_ERROR.format(type(item).__name__))
    return tuple(out), advanced, kinds


def _basic_node_name(kinds) -> str:
    if "slice" in kinds:
        return "SliceBackward0"
    if "int" in kinds:
        return "SelectBackward0"
    if "none" in kinds:
        return "UnsqueezeBackward0"
    return "AliasBackward0"


def _index_backward_basic(node, grads):
    shape, dtype, key = node._ctx
    g = np.zeros(shape, dtype)
    g[key] = grads[0]
    return (g,)


def _index_backward_advanced(node, grads):
    shape, dtype, key = node._ctx
    flat_index = np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.int64).reshape(shape)[key]
    g = np.zeros(int(np.prod(shape, dtype=np.int64)), dtype)
    values = np.ascontiguousarray(np.broadcast_to(grads[0], flat_index.shape), dtype=dtype).ravel()
    ek.index_add_flat(g, np.ascontiguousarray(flat_index).ravel(), values)
    return (g.reshape(shape),)


_BASIC_NODES = {name: define_node(name, _index_backward_basic)
                for name in ("SliceBackward0", "SelectBackward0", "UnsqueezeBackward0", "AliasBackward0")}
_IndexNode = define_node("IndexBackward0", _index_backward_advanced)


def getitem(input: Tensor, key) -> Tensor:
    """Basic indexing returns a view; integer-array and mask indexing return a copy.
    The gradient is scattered (and for repeated indices, added) back into the input's shape."""
    xd = input._data
    np_key, advanced, kinds = _convert_key(key)
    try:
        out = xd[np_key]
    except IndexError as e:
        raise IndexError(str(e).replace("axis", "dimension")) from None
    if not isinstance(out, np.ndarray):  # NumPy returns scalars for full integer indexing
        out = np.asarray(out)
        view = out.base is not None
    else:
        view = not advanced
    if advanced:
        return _view_result(input, out if out.base is None else out.copy(), _IndexNode,
                            (xd.shape, xd.dtype, np_key), is_view=False)
    if not view:
        out = xd[np_key + (Ellipsis,)] if Ellipsis not in np_key else out  # a 0-d view of the storage
    return _view_result(input, out, _BASIC_NODES[_basic_node_name(kinds)], (xd.shape, xd.dtype, np_key))


# --------------------------------------------------------------------------- the table
def _x(rng, *shape):
    return rng.uniform(-1, 1, shape)


register(OpInfo("reshape", "ViewBackward0", reshape,
                samples=lambda rng: [((_x(rng, 3, 4), (2, 6)), {}), ((_x(rng, 3, 4), (-1,)), {})]))
register(OpInfo("view", "ViewBackward0", view, samples=lambda rng: [((_x(rng, 3, 4), (4, 3)), {})]))
register(OpInfo("flatten", "ViewBackward0", flatten,
                samples=lambda rng: [((_x(rng, 2, 3, 4),), {}), ((_x(rng, 2, 3, 4),), {"start_dim": 1})]))
register(OpInfo("transpose", "TransposeBackward0", transpose, aliases=("swapaxes", "swapdims"),
                samples=lambda rng: [((_x(rng, 2, 3, 4), 0, 2), {})]))
register(OpInfo("t", "TBackward0", t, samples=lambda rng: [((_x(rng, 3, 4),), {})]))
register(OpInfo("permute", "PermuteBackward0", permute, samples=lambda rng: [((_x(rng, 2, 3, 4), (2, 0, 1)), {})]))
register(OpInfo("squeeze", "SqueezeBackward0", squeeze,
                samples=lambda rng: [((_x(rng, 3, 1, 4),), {}), ((_x(rng, 3, 1, 4), 1), {})]))
register(OpInfo("unsqueeze", "UnsqueezeBackward0", unsqueeze, samples=lambda rng: [((_x(rng, 3, 4), 1), {})]))
register(OpInfo("expand", "ExpandBackward0", expand,
                samples=lambda rng: [((_x(rng, 3, 1), (2, 3, 4)), {}), ((_x(rng, 4), (3, -1)), {})]))
register(OpInfo("clone", "CloneBackward0", clone, samples=lambda rng: [((_x(rng, 3, 4),), {})]))
register(OpInfo("getitem", "SelectBackward0", getitem, method=False, public=False, dunders=("__getitem__",),
                samples=lambda rng: [((_x(rng, 4, 5), key), {}) for key in [
                    0, (1, 2), slice(1, 3), (Ellipsis, 1), (None, 2), ([0, 2, 0],), (slice(None), [4, 4, 1]),
                    (np.array([[0, 1], [3, 3]]),), (np.array([True, False, True, True]),)]]))
register(OpInfo("view_as", "ViewBackward0", view_as, samples=None))
register(OpInfo("reshape_as", "ViewBackward0", reshape_as, samples=None))
register(OpInfo("expand_as", "ExpandBackward0", expand_as, samples=None))
register(OpInfo("unflatten", "ViewBackward0", unflatten, samples=lambda rng: [((_x(rng, 6, 2), 0, (2, 3)), {})]))

Tensor.T = property(_T)
Tensor.mT = property(_mT)
Tensor.H = Tensor.T
_ = Size  # re-exported shape type used by callers of this module
