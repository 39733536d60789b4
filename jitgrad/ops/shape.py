"""Shape and view ops: reshape/view, transpose/t/T, permute, squeeze/unsqueeze, expand, flatten,
indexing, clone.  Forward is a NumPy view (sharing storage and the version counter, as PyTorch
views do); backward is the inverse rearrangement of the gradient."""
import math
import operator
import warnings

import numpy as np

from .. import errors
from ..kernels import elementwise as ek
from ..tensor import Size, Tensor, _wrap_dim, edge
from . import registry
from .broadcast import reduce_to_shape
from .conversion import cast_array
from .elementwise import fill_scalar
from .registry import VIEW, OpInfo, define_node, new_node, register, result, saved_version

_state = registry._state


def _shape_arg(shape, who="view", arg="size") -> tuple:
    """Accept ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])`` and ``f(torch.Size)``; ints past int64
    get PyTorch's parser error (NumPy would raise its own ValueError further on)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    for s in shape:
        if not isinstance(s, (int, np.integer)) and not (isinstance(s, Tensor) and s._data.size == 1):
            raise TypeError(f"{who}(): argument '{arg}' must be tuple of ints, but found element of type "
                            f"{type(s).__name__}")
    out = tuple(int(s) for s in shape)
    for i, s in enumerate(out):
        if not _INT64_MIN <= s <= _INT64_MAX:
            raise TypeError(f"{who}(): argument '{arg}' failed to unpack the object at pos {i + 1} with error "
                            f'"{_OVERFLOW}"')
    return out


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


# (views' backward functions return a view of the incoming gradient: owned when that was)
_ViewNode = define_node("ViewBackward0", _reshape_backward, _reshape_graph, owns_grads=VIEW)
_UnsafeViewNode = define_node("UnsafeViewBackward0", _reshape_backward, _reshape_graph, owns_grads=VIEW)


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
    new_shape = _infer_shape(_shape_arg(shape, "reshape", "shape"), xd.size)
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
                             lambda node, grads: (grads[0].transpose(*node._ctx),), owns_grads=VIEW)
_TNode = define_node("TBackward0", lambda node, grads: (grads[0].T,), lambda node, grads: (grads[0].t(),),
                     owns_grads=VIEW)


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
                           lambda node, grads: (grads[0].permute(*[int(d) for d in node._ctx]),), owns_grads=VIEW)


def permute(input: Tensor, *dims) -> Tensor:
    """Reorder the dims (a view)."""
    dims = _shape_arg(dims, "permute", "dims")
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
        cls = _SqueezeNodes[node_name] = define_node(node_name, _reshape_backward, _reshape_graph, owns_grads=VIEW)
    return _view_result(input, out, cls, xd.shape)


def squeeze(input: Tensor, dim=None) -> Tensor:
    """Remove dims of size 1 (all, or only ``dim``)."""
    name = "SqueezeBackward0" if dim is None else ("SqueezeBackward1" if isinstance(dim, int) else "SqueezeBackward2")
    return squeeze_named(input, dim, name)


_UnsqueezeNode = define_node("UnsqueezeBackward0", _reshape_backward, _reshape_graph, owns_grads=VIEW)


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert a dim of size 1 at ``dim``."""
    xd = input._data
    d = _wrap_dim(dim, xd.ndim + 1)
    return _view_result(input, np.expand_dims(xd, d), _UnsqueezeNode, xd.shape)


# --------------------------------------------------------------------------- expand
def _expand_backward(node, grads):
    return (reduce_to_shape(grads[0], node._ctx),)


_ExpandNode = define_node("ExpandBackward0", _expand_backward,
                          lambda node, grads: (registry.sum_to(grads[0], node._ctx),), owns_grads=VIEW)


def _numel_overflows(sizes) -> bool:
    """PyTorch's numel check: the running product of the sizes passes int64 at some step (so
    ``(2**62, 2**62, 0)`` overflows but ``(0, 2**62, 2**62)`` does not)."""
    numel = 1
    for s in sizes:
        numel *= s
        if numel > _INT64_MAX:
            return True
    return False


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
    if _numel_overflows(target):  # (NumPy: "iterator is too large")
        raise RuntimeError("numel: integer multiplication overflow")
    try:
        out = np.broadcast_to(xd, tuple(target))
    except ValueError:  # an empty shape whose other sizes multiply past NumPy's limit: PyTorch has it
        raise RuntimeError(f"jitgrad cannot expand to sizes {target}: its non-zero sizes multiply past the "
                           "largest array NumPy can describe") from None
    return _view_result(input, out, _ExpandNode, xd.shape)


def expand_as(input: Tensor, other: Tensor) -> Tensor:
    return expand(input, other._data.shape)


# --------------------------------------------------------------------------- clone
_CloneNode = define_node("CloneBackward0", lambda node, grads: (grads[0],), lambda node, grads: (grads[0],),
                         owns_grads=VIEW)


def clone(input: Tensor, *, memory_format=None) -> Tensor:
    """A copy that stays in the graph (gradient flows back unchanged)."""
    out = np.array(input._data, order="C")
    node = new_node(_CloneNode, (edge(input),)) if (_state.enabled and input._requires_grad) else None
    return result(out, node)


# --------------------------------------------------------------------------- indexing
_INDEX_ERROR = ("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid "
                "indices (got {})")
_INDEX_DTYPE_ERROR = "tensors used as indices must be long, int, byte or bool tensors"
_INDEX_DTYPES = (np.dtype(np.int64), np.dtype(np.int32))
_I64 = np.dtype(np.int64)
_U8 = np.dtype(np.uint8)
_F64 = np.dtype(np.float64)
_F16 = np.dtype(np.float16)
_F32 = np.dtype(np.float32)
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_OVERFLOW = "Overflow when unpacking long long"
_UINT8_MASK_WARNING = "indexing with dtype torch.uint8 is now deprecated, please use a dtype torch.bool instead."
_SEQUENCE_KEY_WARNING = (
    "Using a non-tuple sequence for multidimensional indexing is deprecated and will be changed in pytorch 2.9; "
    "use x[tuple(seq)] instead of x[seq]. In pytorch 2.9 this will be interpreted as tensor index, "
    "x[torch.tensor(seq)], which will result either in an error or a different result")
_EXPANDED_INDEX_PUT_WARNING = (
    "Use of index_put_ on expanded tensors is deprecated. Please clone() the tensor before performing this "
    "operation. This also applies to advanced indexing e.g. tensor[indices] = tensor")
# what makes PyTorch (and old NumPy) read a short list key as a tuple of indices
_SEQUENCE_LIKE = (Tensor, list, tuple, range, str, bytes, slice, np.ndarray)


def _fmt(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _sequence_as_tuple(seq) -> bool:
    """PyTorch's ``treatSequenceAsTuple``: ``x[[0, [1]]]`` means ``x[0, [1]]`` (deprecated)."""
    if len(seq) >= 32:
        return False
    for e in seq:
        if e is None or e is Ellipsis or isinstance(e, _SEQUENCE_LIKE):
            return True
    return False


def _sequence_index(seq) -> np.ndarray:
    """A list index as PyTorch reads it: all bools make a mask, anything else an int64 index
    (floats truncated, as ``indexing_tensor_from_data`` does)."""
    try:
        arr = np.asarray(seq)
    except ValueError:
        raise _ragged_error(seq) from None
    kind = arr.dtype.kind
    if kind == "b":
        return arr
    if kind == "i":
        return arr.astype(_I64, copy=False)
    if kind == "u":
        if arr.size and arr.max() > _INT64_MAX:
            raise ValueError(_OVERFLOW)
        return arr.astype(_I64)
    if kind == "f":
        if _has_huge_int(seq):  # NumPy turned a list holding ints beyond int64 into floats
            raise ValueError(_OVERFLOW)
        if arr.size and not (np.isfinite(arr).all() and _INT64_MIN <= arr.min() and arr.max() < 2.0 ** 63):
            raise RuntimeError("value cannot be converted to type int64 without overflow")
        return arr.astype(_I64)
    if kind == "O":  # Python ints beyond int64 (or Tensors mixed with numbers)
        try:
            return np.array(seq, dtype=_I64)
        except OverflowError:
            raise ValueError(_OVERFLOW) from None
        except (TypeError, ValueError):
            raise IndexError(_INDEX_DTYPE_ERROR) from None
    if kind in "US":
        raise TypeError("new(): invalid data type 'str'")
    raise IndexError(_INDEX_DTYPE_ERROR)


def _has_huge_int(seq) -> bool:
    for e in seq:
        if isinstance(e, (list, tuple)):
            if _has_huge_int(e):
                return True
        elif isinstance(e, int) and not _INT64_MIN <= e <= _INT64_MAX:
            return True
    return False


def _ragged_error(seq) -> ValueError:
    """PyTorch's error for a ragged nested list: each depth's length is set by its first element."""
    sizes = []
    s = seq
    while isinstance(s, (list, tuple)) and len(s):
        sizes.append(len(s))
        s = s[0]

    def walk(s, d):
        if d < len(sizes):
            n = len(s) if isinstance(s, (list, tuple)) else None
            if n != sizes[d]:
                return ValueError(f"expected sequence of length {sizes[d]} at dim {d} (got {n})")
            for e in s:
                err = walk(e, d + 1)
                if err is not None:
                    return err
        return None

    return walk(seq, 0) or ValueError("expected a rectangular (non-ragged) sequence as an index")


def _check_slice(s: slice) -> slice:
    step = s.step
    if step is not None:
        if not isinstance(step, (int, np.integer)):
            step = operator.index(step)  # TypeError for floats, as Python's own slicing
        if step <= 0:
            raise ValueError("slice step cannot be zero" if step == 0 else "step must be greater than zero")
    return s


def _convert_item(item, index_tensors: list):
    """One PyTorch index component as a NumPy one (int, slice, None, Ellipsis or an index
    array: int64/int32 positions or a bool mask).  Index tensors used as such are appended to
    ``index_tensors`` (the indexing node saves them)."""
    if isinstance(item, Tensor):
        arr = item._data
        dt = arr.dtype
        if dt.kind == "b":
            pass
        elif dt == _U8:  # PyTorch's legacy byte mask
            warnings.warn(_UINT8_MASK_WARNING, UserWarning, stacklevel=4)
            arr = arr != 0
        elif dt.kind in "iu" and arr.ndim == 0:  # a 0-d integer tensor is an int (PyTorch's select)
            return int(arr)
        elif dt not in _INDEX_DTYPES:
            raise IndexError(_INDEX_DTYPE_ERROR)
        index_tensors.append(item)
        return arr
    if isinstance(item, (bool, np.bool_)):
        return np.array(bool(item))
    if isinstance(item, (int, np.integer)):
        item = int(item)
        if not _INT64_MIN <= item <= _INT64_MAX:
            raise ValueError(_OVERFLOW)
        return item
    if item is None or item is Ellipsis:
        return item
    if isinstance(item, slice):
        return _check_slice(item)
    if isinstance(item, (list, tuple, range, np.ndarray)):
        return _sequence_index(item)
    if isinstance(item, str):
        raise TypeError("new(): invalid data type 'str'")
    raise IndexError(_INDEX_ERROR.format(type(item).__name__))


def _convert_key(key) -> tuple:
    """``(items, index_tensors)``: the key as a tuple of NumPy index components, and the
    tensors it uses as advanced indices."""
    if isinstance(key, tuple):
        parts = key
    elif isinstance(key, (list, np.ndarray)) and _sequence_as_tuple(key):
        warnings.warn(_SEQUENCE_KEY_WARNING, UserWarning, stacklevel=3)
        parts = tuple(key)
    else:
        parts = (key,)
    index_tensors = []
    return tuple([_convert_item(k, index_tensors) for k in parts]), index_tensors


def _dims_consumed(item) -> int:
    if item is None or item is Ellipsis:
        return 0
    if isinstance(item, np.ndarray) and item.dtype.kind == "b":
        return item.ndim
    return 1


def _check_dims(items: tuple, ndim: int) -> int:
    """The number of dims ``items`` index (PyTorch's error when that is more than ``ndim``)."""
    consumed = 0
    for item in items:
        consumed += _dims_consumed(item)
    if consumed > ndim:
        if ndim == 0 and isinstance(items[0], int):
            raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` "
                             "in C++ to convert a 0-dim tensor to a number")
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    return consumed


def _check_int_index(item: int, size: int, src_dim: int) -> None:
    if not -size <= item < size:
        raise IndexError(f"index {item} is out of bounds for dimension {src_dim} with size {size}")


def _advanced_key(shape: tuple, advanced: list) -> tuple:
    """The NumPy key of the advanced ``(dim, array)`` items over an array of ``shape`` (what the
    basic items left), with PyTorch's check of mask shapes."""
    np_key = []
    pos = 0
    for d, arr in advanced:
        n = _dims_consumed(arr)
        if arr.dtype.kind == "b" and arr.shape != shape[d:d + n]:
            j = next(j for j in range(n) if arr.shape[j] != shape[d + j])
            raise IndexError(f"The shape of the mask {_fmt(arr.shape)} at index {j} does not match the shape of "
                             f"the indexed tensor {_fmt(shape)} at index {d + j}")
        np_key.extend([slice(None)] * (d - pos))
        np_key.append(arr)
        pos = d + n
    return tuple(np_key)


def _advanced_error(shape: tuple, advanced: list, exc: IndexError) -> IndexError:
    """PyTorch's error for advanced indices NumPy refused (``exc``): indices that do not
    broadcast together, or the first index out of range -- PyTorch numbers the dim by the
    index tensor's position (a mask counts as one tensor per dim)."""
    arrays, sizes = [], []
    for d, arr in advanced:
        if arr.dtype.kind == "b":
            if arr.ndim:
                arrays.extend(np.nonzero(arr))
                sizes.extend(shape[d:d + arr.ndim])
        else:
            arrays.append(arr)
            sizes.append(shape[d])
    try:
        arrays = np.broadcast_arrays(*arrays)
    except ValueError:
        return IndexError("shape mismatch: indexing tensors could not be broadcast together with shapes "
                          + ", ".join(_fmt(a.shape) for a in arrays))
    bad = [((a < -n) | (a >= n)).ravel() for a, n in zip(arrays, sizes)]
    first = np.flatnonzero(np.logical_or.reduce(bad)) if bad else ()
    if not len(first):
        return IndexError(str(exc).replace("axis", "dimension"))
    e = first[0]
    p = next(p for p in range(len(bad)) if bad[p][e])
    return IndexError(f"index {arrays[p].ravel()[e]} is out of bounds for dimension {p} with size {sizes[p]}")


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
_AliasNode = define_node("AliasBackward0", lambda node, grads: (grads[0],), lambda node, grads: (grads[0],),
                         owns_grads=VIEW)


def _view_index(input: Tensor, key: tuple, node_cls) -> Tensor:
    out = input._data[key + (Ellipsis,)]  # the trailing ... keeps 0-d results as views
    return _view_result(input, out, node_cls, (input._data.shape, input._data.dtype, key))


def _flat_positions(shape: tuple, key: tuple, gshape: tuple) -> np.ndarray:
    """The flat positions of ``shape`` that ``key`` picked, as a 1-D array.  The index tensors
    in ``key`` are checked again: they may have been changed through ``.data`` since the
    forward (in-place changes raise the version error before this)."""
    try:
        flat = np.arange(math.prod(shape), dtype=np.int64).reshape(shape)[key]
    except IndexError as e:
        raise IndexError(str(e).replace("axis", "dimension")) from None
    if flat.shape != gshape:
        raise RuntimeError(f"shape mismatch: value tensor of shape {_fmt(gshape)} cannot be broadcast to indexing "
                           f"result of shape {_fmt(flat.shape)}")
    return np.ascontiguousarray(flat).ravel()


def _index_backward(node, grads):
    shape, dtype = node._ctx
    g = np.asarray(grads[0])
    flat_index = _flat_positions(shape, node._saved, g.shape)
    acc = _F32 if dtype == _F16 else dtype  # Numba has no float16: accumulate in float32, cast back
    out = np.zeros(math.prod(shape), acc)
    ek.index_add_flat(out, flat_index, np.ascontiguousarray(g, dtype=acc).ravel())  # repeats add up
    out = out.reshape(shape)
    return (out if acc is dtype else out.astype(dtype),)


def _index_graph(node, grads):
    # scatter-add the gradient back through the flat positions the index picked (differentiable)
    from ..factories import from_numpy, zeros
    from .._dtype import from_numpy_dtype
    from .joining import scatter_add

    shape, dtype = node._ctx
    flat_index = _flat_positions(shape, node._saved, grads[0]._data.shape)
    g = grads[0].reshape(-1)
    out = scatter_add(zeros(math.prod(shape), dtype=from_numpy_dtype(dtype)), 0, from_numpy(flat_index), g)
    return (out.reshape(shape),)


_IndexNode = define_node("IndexBackward0", _index_backward, _index_graph)


def getitem(input: Tensor, key) -> Tensor:
    """PyTorch indexing.  Ints, slices and None are applied one dim at a time, each a view with
    its own node (SelectBackward0, SliceBackward0, UnsqueezeBackward0) as in PyTorch; integer-array
    and mask indices then gather a copy (IndexBackward0, which saves the index tensors), whose
    gradient is scatter-added back."""
    items, index_tensors = _convert_key(key)
    ndim = input._data.ndim
    consumed = _check_dims(items, ndim)
    if len(items) == 1 and isinstance(items[0], slice) and not isinstance(key, tuple):
        # a lone slice is always a SliceBackward0 in PyTorch, even ``x[:]``
        return _view_index(input, (items[0],), _SliceNode)
    # (_basic_view walks the key the same way on a NumPy array, for setitem; see there why apart)
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
            _check_int_index(item, t._data.shape[dim], src_dim - 1)
            t = _view_index(t, (slice(None),) * dim + (item,), _SelectNode)
        elif isinstance(item, slice):
            if item != slice(None):
                t = _view_index(t, (slice(None),) * dim + (item,), _SliceNode)
            dim += 1
        else:
            advanced.append((dim, item))
            dim += _dims_consumed(item)
    if advanced:
        td = t._data
        np_key = _advanced_key(td.shape, advanced)
        try:
            out = td[np_key]  # advanced indexing: always a new array
        except IndexError as e:
            raise _advanced_error(td.shape, advanced, e) from None
        node = None
        if _state.enabled and t._requires_grad:
            node = new_node(_IndexNode, (edge(t),), np_key, (td.shape, td.dtype),
                            tuple([saved_version(i) for i in index_tensors]))
        return result(out, node)
    if t is input:
        return _view_result(input, input._data[...], _AliasNode, None)
    return t


def _copy_slices_backward(node, grads):
    key = node._saved
    value_shape, value_dtype = node._ctx
    g = grads[0]
    g_self = np.array(g)
    g_self[key] = 0
    g_value = None
    if node.next_functions[1][0] is not None:
        g_value = reduce_to_shape(np.asarray(g[key]), value_shape).astype(value_dtype, copy=False)
    return (g_self, g_value)


def _copy_slices_graph(node, grads):
    key = node._saved
    value_shape, value_dtype = node._ctx
    g = grads[0]
    g_self = g.clone()
    setitem(g_self, key, 0)
    g_value = None
    if node.next_functions[1][0] is not None:
        g_value = registry.sum_to(getitem(g, key), value_shape)
    return (g_self, g_value)


_CopySlicesNode = define_node("CopySlices", _copy_slices_backward, _copy_slices_graph)


def _basic_view(a: np.ndarray, items: tuple, consumed: int):
    """Apply the int / slice / None / ... items to ``a`` (NumPy views; ints checked as PyTorch
    does).  Returns the view and the advanced ``(dim in the view, array)`` items left.

    (The same walk over the key as ``getitem``'s, on a NumPy array instead of recorded Tensor
    ops: ``x[k] = v`` writes through views and must not record view nodes.)"""
    ndim = a.ndim
    dim = src_dim = 0
    advanced = []
    for item in items:
        src_dim += _dims_consumed(item)
        if item is Ellipsis:
            dim += ndim - consumed
            src_dim += ndim - consumed
        elif item is None:
            a = np.expand_dims(a, dim)
            dim += 1
        elif isinstance(item, int):
            _check_int_index(item, a.shape[dim], src_dim - 1)
            a = a[(slice(None),) * dim + (item, Ellipsis)]
        elif isinstance(item, slice):
            a = a[(slice(None),) * dim + (item,)]
            dim += 1
        else:
            advanced.append((dim, item))
            dim += _dims_consumed(item)
    return a, advanced


def _type_name(value) -> str:
    cls = type(value)
    return cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _copy_error(value: np.ndarray, shape: tuple) -> RuntimeError:
    """PyTorch's error for ``dst[...] = value`` when ``value`` does not expand to ``shape``."""
    vshape = value.shape
    if len(vshape) > len(shape):
        return RuntimeError(f"expand(torch.{_legacy_name(value.dtype)}{{{_fmt(vshape)}}}, size={_fmt(shape)}): the "
                            f"number of sizes provided ({len(shape)}) must be greater or equal to the number of "
                            f"dimensions in the tensor ({len(vshape)})")
    lead = len(shape) - len(vshape)
    for i in range(len(vshape) - 1, -1, -1):
        if vshape[i] != 1 and vshape[i] != shape[lead + i]:
            return RuntimeError(f"The expanded size of the tensor ({shape[lead + i]}) must match the existing size "
                                f"({vshape[i]}) at non-singleton dimension {lead + i}.  Target sizes: {_fmt(shape)}.  "
                                f"Tensor sizes: {_fmt(vshape)}")
    return RuntimeError(f"cannot copy a tensor of shape {_fmt(vshape)} into one of shape {_fmt(shape)}")


def _check_scalar(v, dtype):
    """``v`` ready to store: a Python number checked as PyTorch's fill does (its error for NaN
    or a value too large for the dtype -- NumPy may have refused it, or would store it wrongly)."""
    if isinstance(v, np.ndarray):
        return v
    return fill_scalar(dtype, v)


def _legacy_name(np_dtype) -> str:
    from .._dtype import from_numpy_dtype

    return from_numpy_dtype(np_dtype)._legacy


def setitem(input: Tensor, key, value) -> None:
    """``x[key] = value`` in place (value broadcast; recorded as PyTorch's CopySlices)."""
    from .inplace import check_inplace, has_internal_overlap, writable

    if not isinstance(value, (Tensor, int, float, bool, complex, np.number)):
        raise TypeError(f"can't assign a {_type_name(value)} to a {input.type()}")
    items, index_tensors = _convert_key(key)
    record = check_inplace(input, (value,))
    v = value._data if isinstance(value, Tensor) else value
    data = input._data
    fast = data.flags.writeable and not any(item.__class__ is np.ndarray for item in items)
    if v.__class__ is np.ndarray:
        if v.dtype != data.dtype:  # PyTorch casts a tensor value silently (float64 1e39 -> inf, NaN -> int)
            v = cast_array(v, data.dtype)
    elif fast and (data.dtype is not _F64 or isinstance(v, complex)):
        # NumPy would store float32 1e39 as inf, or drop an imaginary part: PyTorch's check first
        # (a bad value takes the slow path, where a bad index raises before it, as in PyTorch)
        try:
            v = fill_scalar(data.dtype, v)
        except (RuntimeError, OverflowError):
            fast = False
    advanced = ()  # the advanced (dim, array) items; None once the fast path has written
    if fast:
        # the usual case, basic indexing of a writable tensor: NumPy's assignment has PyTorch's
        # semantics (the value broadcast, its leading 1s dropped); its errors are translated
        try:
            data[items] = v
            advanced = None
        except (IndexError, ValueError, OverflowError):  # the slow path below raises PyTorch's error
            advanced = ()
    if advanced is not None:
        a, advanced = _basic_view(data, items, _check_dims(items, data.ndim))  # raises PyTorch's index errors
        v = _check_scalar(v, data.dtype)  # (np.copyto would cast a NaN into an integer silently)
    if advanced:  # PyTorch's index_put_
        np_key = _advanced_key(a.shape, advanced)
        if not a.flags.writeable and has_internal_overlap(a):
            warnings.warn(_EXPANDED_INDEX_PUT_WARNING, UserWarning, stacklevel=3)
        dst = writable(a, allow_overlap=True)
        try:
            dst[np_key] = v
        except IndexError as e:
            raise _advanced_error(a.shape, advanced, e) from None
        except (ValueError, OverflowError):
            _check_scalar(v, data.dtype)
            raise RuntimeError(f"shape mismatch: value tensor of shape {_fmt(np.shape(v))} cannot be broadcast to "
                               f"indexing result of shape {_fmt(np.empty(a.shape, bool)[np_key].shape)}") from None
    elif advanced is not None:  # PyTorch's copy_ into the view (leading 1s of the value dropped)
        dst = writable(a)
        if isinstance(v, np.ndarray):
            while v.ndim > dst.ndim and v.shape[0] == 1:
                v = v[0]
        try:
            np.copyto(dst, v, casting="unsafe")
        except (ValueError, OverflowError):
            _check_scalar(v, data.dtype)
            raise _copy_error(np.asarray(v), dst.shape) from None
    input._vc[0] += 1
    if record:
        value_edge = edge(value) if isinstance(value, Tensor) else (None, 0)
        shape = value._data.shape if isinstance(value, Tensor) else ()
        dtype = value._data.dtype if isinstance(value, Tensor) else input._data.dtype
        input.grad_fn = new_node(_CopySlicesNode, (edge(input), value_edge), items, (shape, dtype),
                                 tuple([saved_version(i) for i in index_tensors]))
        input._output_nr = 0
        input._requires_grad = True


# --------------------------------------------------------------------------- the table
def _x(rng, *shape):
    return rng.uniform(-1, 1, shape)


register(OpInfo("reshape", "ViewBackward0", reshape, nodes=("UnsafeViewBackward0",),
                samples=lambda rng: [((_x(rng, 3, 4), (2, 6)), {}), ((_x(rng, 3, 4), (-1,)), {})]))
register(OpInfo("view", "ViewBackward0", view, samples=lambda rng: [((_x(rng, 3, 4), (4, 3)), {})]))
register(OpInfo("flatten", "ViewBackward0", flatten, nodes=("UnsafeViewBackward0",),
                samples=lambda rng: [((_x(rng, 2, 3, 4),), {}), ((_x(rng, 2, 3, 4),), {"start_dim": 1})]))
register(OpInfo("transpose", "TransposeBackward0", transpose, aliases=("swapaxes", "swapdims"),
                methods={"mT": property(_mT)},
                samples=lambda rng: [((_x(rng, 2, 3, 4), 0, 2), {})]))
register(OpInfo("t", "TBackward0", t, samples=lambda rng: [((_x(rng, 3, 4),), {})]))
register(OpInfo("permute", "PermuteBackward0", permute, samples=lambda rng: [((_x(rng, 2, 3, 4), (2, 0, 1)), {})],
                methods=dict.fromkeys(("T", "H"), property(_T))))  # H (adjoint) is T for real tensors
register(OpInfo("squeeze", "SqueezeBackward0", squeeze, nodes=("SqueezeBackward1", "SqueezeBackward2"),
                samples=lambda rng: [((_x(rng, 3, 1, 4),), {}), ((_x(rng, 3, 1, 4), 1), {}),
                                     ((_x(rng, 3, 1, 4, 1), (1, 3)), {})]))
register(OpInfo("unsqueeze", "UnsqueezeBackward0", unsqueeze, samples=lambda rng: [((_x(rng, 3, 4), 1), {})]))
register(OpInfo("expand", "ExpandBackward0", expand,
                samples=lambda rng: [((_x(rng, 3, 1), (2, 3, 4)), {}), ((_x(rng, 4), (3, -1)), {})]))
register(OpInfo("clone", "CloneBackward0", clone, samples=lambda rng: [((_x(rng, 3, 4),), {})]))
register(OpInfo("setitem", "CopySlices", setitem, method=False, public=False, dunders=("__setitem__",),
                differentiable=False))
register(OpInfo("getitem", "SelectBackward0", getitem, method=False, public=False, dunders=("__getitem__",),
                nodes=("SliceBackward0", "IndexBackward0", "UnsqueezeBackward0", "AliasBackward0"),
                samples=lambda rng: [((_x(rng, 4, 5), key), {}) for key in [
                    0, (1, 2), slice(1, 3), (Ellipsis, 1), (None, 2), ([0, 2, 0],), (slice(None), [4, 4, 1]),
                    (np.array([[0, 1], [3, 3]]),), (np.array([True, False, True, True]),), None, Ellipsis]]))
register(OpInfo("view_as", "ViewBackward0", view_as, samples=None))
register(OpInfo("reshape_as", "ViewBackward0", reshape_as, samples=None))
register(OpInfo("expand_as", "ExpandBackward0", expand_as, samples=None))
register(OpInfo("unflatten", "ViewBackward0", unflatten, samples=lambda rng: [((_x(rng, 6, 2), 0, (2, 3)), {})]))
_ = Size  # re-exported shape type used by callers of this module
