"""Shape and view ops: reshape/view, transpose/t/T, permute, squeeze/unsqueeze, expand, flatten,
indexing, clone.  Forward is a NumPy view (sharing storage and the version counter, as PyTorch
views do); backward is the inverse rearrangement of the gradient."""
import math

import numpy as np

from .. import errors
from ..kernels import elementwise as ek
from ..tensor import Size, Tensor, _wrap_dim, edge
from . import registry
from .broadcast import reduce_to_shape
from .registry import OpInfo, define_node, new_node, register, result

_state = registry._state


def _shape_arg(shape, who="view") -> tuple:
    """Accept ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])`` and ``f(torch.Size)``."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    for s in shape:
        if not isinstance(s, (int, np.integer)) and not (isinstance(s, Tensor) and s._data.size == 1):
            raise TypeError(f"{who}(): argument 'size' must be tuple of ints, but found element of type "
                            f"{type(s).__name__}")
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
    if neg and numel == 0 and 0 in shape:
        raise RuntimeError(f"cannot reshape tensor of 0 elements into shape {list(shape)} because the "
                           "unspecified dimension size -1 can be any value and is ambiguous")
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


def _reshape_graph(node, grads):
    return (grads[0].reshape(node._ctx),)


_ViewNode = define_node("ViewBackward0", _reshape_backward, _reshape_graph)
_UnsafeViewNode = define_node("UnsafeViewBackward0", _reshape_backward, _reshape_graph)


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
        # not expressible as a view: PyTorch copies (CloneBackward0), then views the copy
        return unsafe_view(clone(input), new_shape)


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


_TransposeNode = define_node("TransposeBackward0", _transpose_backward,
                             lambda node, grads: (grads[0].transpose(*node._ctx),))
_TNode = define_node("TBackward0", lambda node, grads: (grads[0].T,), lambda node, grads: (grads[0].t(),))


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


_PermuteNode = define_node("PermuteBackward0", _permute_backward,
                           lambda node, grads: (grads[0].permute(*[int(d) for d in node._ctx]),))


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
        cls = _SqueezeNodes[node_name] = define_node(node_name, _reshape_backward, _reshape_graph)
    return _view_result(input, out, cls, xd.shape)


def squeeze(input: Tensor, dim=None) -> Tensor:
    """Remove dims of size 1 (all, or only ``dim``)."""
    name = "SqueezeBackward0" if dim is None else ("SqueezeBackward1" if isinstance(dim, int) else "SqueezeBackward2")
    return squeeze_named(input, dim, name)


_UnsqueezeNode = define_node("UnsqueezeBackward0", _reshape_backward, _reshape_graph)


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert a dim of size 1 at ``dim``."""
    xd = input._data
    d = _wrap_dim(dim, xd.ndim + 1)
    return _view_result(input, np.expand_dims(xd, d), _UnsqueezeNode, xd.shape)


# --------------------------------------------------------------------------- expand
def _expand_backward(node, grads):
    return (reduce_to_shape(grads[0], node._ctx),)


_ExpandNode = define_node("ExpandBackward0", _expand_backward,
                          lambda node, grads: (registry.sum_to(grads[0], node._ctx),))


def expand(input: Tensor, *sizes) -> Tensor:
    """Broadcast to a larger shape without copying (-1 keeps a dim)."""
    sizes = _shape_arg(sizes, "expand")
    xd = input._data
    if len(sizes) < xd.ndim:
        raise RuntimeError(
            f"expand(torch.FloatTensor{{{list(xd.shape)}}}, size={list(sizes)}): the number of sizes provided "
            f"({len(sizes)}) must be greater or equal to the number of dimensions in the tensor ({xd.ndim})"
        )
    lead = len(sizes) - xd.ndim
    target = list(sizes)
    for i in range(lead):
        if sizes[i] < 0:
            raise RuntimeError(f"The expanded size of the tensor ({sizes[i]}) isn't allowed in a leading, "
                               f"non-existing dimension {i}")
    for i in range(xd.ndim - 1, -1, -1):  # PyTorch reports the last mismatching dim
        s = xd.shape[i]
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
_CloneNode = define_node("CloneBackward0", lambda node, grads: (grads[0],), lambda node, grads: (grads[0],))


def clone(input: Tensor, *, memory_format=None) -> Tensor:
    """A copy that stays in the graph (gradient flows back unchanged)."""
    out = np.array(input._data, order="C")
    node = new_node(_CloneNode, (edge(input),)) if (_state.enabled and input._requires_grad) else None
    return result(out, node)


# --------------------------------------------------------------------------- indexing
_INDEX_ERROR = ("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid "
                "indices (got {})")


def _convert_item(item):
    """One PyTorch index component as a NumPy one (int, slice, None, Ellipsis or an index array)."""
    if isinstance(item, Tensor):
        arr = item._data
        if arr.dtype.kind == "f":
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        if arr.ndim == 0 and arr.dtype.kind in "iu":
            return int(arr)
        return arr
    if isinstance(item, (bool, np.bool_)):
        return np.array(item)
    if isinstance(item, (int, np.integer)):
        return int(item)
    if item is None or item is Ellipsis or isinstance(item, slice):
        return item
    if isinstance(item, (list, np.ndarray)):
        arr = np.asarray(item)
        if arr.dtype.kind not in "iub":
            if arr.dtype.kind in "US":
                raise TypeError("new(): invalid data type 'str'")
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        return arr
    if isinstance(item, str):
        raise TypeError("new(): invalid data type 'str'")
    raise IndexError(_INDEX_ERROR.format(type(item).__name__))


def _convert_key(key) -> tuple:
    return tuple(_convert_item(k) for k in (key if isinstance(key, tuple) else (key,)))


def _dims_consumed(item) -> int:
    if item is None or item is Ellipsis:
        return 0
    if isinstance(item, np.ndarray) and item.dtype.kind == "b":
        return item.ndim
    return 1


def _scatter_backward(node, grads):
    shape, dtype, key = node._ctx
    g = np.zeros(shape, dtype)
    g[key] = grads[0]
    return (g,)


def _scatter_graph(node, grads):
    from ..factories import zeros
    from .._dtype import from_numpy_dtype

    shape, dtype, key = node._ctx
    g = zeros(shape, dtype=from_numpy_dtype(dtype))
    setitem(g, key, grads[0])  # recorded as CopySlices: differentiable in grads[0]
    return (g,)


_SelectNode = define_node("SelectBackward0", _scatter_backward, _scatter_graph)
_SliceNode = define_node("SliceBackward0", _scatter_backward, _scatter_graph)
_AliasNode = define_node("AliasBackward0", lambda node, grads: (grads[0],), lambda node, grads: (grads[0],))


def _view_index(input: Tensor, key: tuple, node_cls) -> Tensor:
    out = input._data[key + (Ellipsis,)]  # the trailing ... keeps 0-d results as views
    return _view_result(input, out, node_cls, (input._data.shape, input._data.dtype, key))


def _index_backward(node, grads):
    shape, dtype, key = node._ctx
    numel = int(np.prod(shape, dtype=np.int64))
    flat_index = np.arange(numel, dtype=np.int64).reshape(shape)[key]
    g = np.zeros(numel, dtype)
    values = np.ascontiguousarray(np.broadcast_to(grads[0], flat_index.shape), dtype=dtype).ravel()
    ek.index_add_flat(g, np.ascontiguousarray(flat_index).ravel(), values)  # repeats add up
    return (g.reshape(shape),)


def _index_graph(node, grads):
    # scatter-add the gradient back through the flat positions the index picked (differentiable)
    from ..factories import from_numpy, zeros
    from .._dtype import from_numpy_dtype
    from .joining import scatter_add

    shape, dtype, key = node._ctx
    numel = math.prod(shape)
    flat_index = np.ascontiguousarray(np.arange(numel, dtype=np.int64).reshape(shape)[key]).ravel()
    g = grads[0].reshape(-1)
    out = scatter_add(zeros(numel, dtype=from_numpy_dtype(dtype)), 0, from_numpy(flat_index), g)
    return (out.reshape(shape),)


_IndexNode = define_node("IndexBackward0", _index_backward, _index_graph)


def getitem(input: Tensor, key) -> Tensor:
    """PyTorch indexing.  Ints, slices and None are applied one dim at a time, each a view with
    its own node (SelectBackward0, SliceBackward0, UnsqueezeBackward0) as in PyTorch; integer-array
    and mask indices then gather a copy (IndexBackward0), whose gradient is scatter-added back."""
    items = _convert_key(key)
    ndim = input._data.ndim
    consumed = 0
    for item in items:
        consumed += _dims_consumed(item)
    if consumed > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    if len(items) == 1 and isinstance(items[0], slice) and not isinstance(key, tuple):
        # a lone slice is always a SliceBackward0 in PyTorch, even ``x[:]``
        return _view_index(input, (items[0],), _SliceNode)
    t = input
    dim = 0  # the dim of ``t`` the next item applies to
    src_dim = 0  # the same position counted in ``input`` (PyTorch's error messages use it)
    advanced = []  # (dim in t, index array)
    for item in items:
        src_dim += _dims_consumed(item)
        if item is Ellipsis:
            dim += ndim - consumed
            src_dim += ndim - consumed
        elif item is None:
            t = unsqueeze(t, dim)
            dim += 1
        elif isinstance(item, int):
            size = t._data.shape[dim]
            if not -size <= item < size:
                raise IndexError(f"index {item} is out of bounds for dimension {src_dim - 1} with size {size}")
            t = _view_index(t, (slice(None),) * dim + (item,), _SelectNode)
        elif isinstance(item, slice):
            if item != slice(None):
                t = _view_index(t, (slice(None),) * dim + (item,), _SliceNode)
            dim += 1
        else:
            advanced.append((dim, item))
            dim += _dims_consumed(item)
    if advanced:
        np_key = []
        pos = 0
        for d, arr in advanced:
            np_key.extend([slice(None)] * (d - pos))
            np_key.append(arr)
            pos = d + _dims_consumed(arr)
        np_key = tuple(np_key)
        td = t._data
        try:
            out = np.array(td[np_key])
        except IndexError as e:
            raise IndexError(str(e).replace("axis", "dimension")) from None
        return _view_result(t, out, _IndexNode, (td.shape, td.dtype, np_key), is_view=False)
    if t is input:
        return _view_result(input, input._data[...], _AliasNode, None)
    return t


def _copy_slices_backward(node, grads):
    key, value_shape, value_dtype = node._ctx
    g = grads[0]
    g_self = np.array(g)
    g_self[key] = 0
    g_value = None
    if node.next_functions[1][0] is not None:
        g_value = reduce_to_shape(np.asarray(g[key]), value_shape).astype(value_dtype, copy=False)
    return (g_self, g_value)


def _copy_slices_graph(node, grads):
    key, value_shape, value_dtype = node._ctx
    g = grads[0]
    g_self = g.clone()
    setitem(g_self, key, 0)
    g_value = None
    if node.next_functions[1][0] is not None:
        g_value = registry.sum_to(getitem(g, key), value_shape)
    return (g_self, g_value)


_CopySlicesNode = define_node("CopySlices", _copy_slices_backward, _copy_slices_graph)


def setitem(input: Tensor, key, value) -> None:
    """``x[key] = value`` in place (value broadcast; recorded as PyTorch's CopySlices)."""
    from .inplace import check_inplace

    items = _convert_key(key)
    record = check_inplace(input, (value,))
    v = value._data if isinstance(value, Tensor) else value
    if not isinstance(value, (Tensor, int, float, bool, np.number, np.ndarray, list, tuple)):
        raise TypeError(f"can't assign a {type(value).__name__} to a {input.type()}")
    try:
        input._data[items] = v
    except IndexError as e:
        raise IndexError(str(e).replace("axis", "dimension")) from None
    input._vc[0] += 1
    if record:
        value_edge = edge(value) if isinstance(value, Tensor) else (None, 0)
        shape = value._data.shape if isinstance(value, Tensor) else ()
        dtype = value._data.dtype if isinstance(value, Tensor) else input._data.dtype
        input.grad_fn = new_node(_CopySlicesNode, (edge(input), value_edge), None, (items, shape, dtype))
        input._output_nr = 0
        input._requires_grad = True


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
register(OpInfo("setitem", "CopySlices", setitem, method=False, public=False, dunders=("__setitem__",),
                differentiable=False))
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
