"""Joining, splitting and indexing ops: cat/stack, split/chunk/unbind, gather/scatter,
index_select/take_along_dim, flip/roll, repeat/tile, narrow, constant padding, tril/triu and
diagonal.

All of them are linear and move data without arithmetic, so their backward is the adjoint
data movement: cat <-> slices, split <-> cat, unbind <-> stack, gather <-> scatter_add,
index_select <-> index_add, flip/roll <-> flip/roll back, pad <-> pad with the pads negated,
tril <-> tril, repeat <-> a sum over the copies.  The double backward of each is that adjoint
written with the differentiable ops of this module (each op's double backward is another op's
forward), so higher-order gradients come without extra formulas.

Loops that gather, scatter or roll run as Numba kernels (``kernels/joining.py``) on the
``(outer, n, inner)`` view around the op's dim; the pure data-movement kernels see the arrays'
bits (``_bits``), so one compilation serves every dtype of an item size.  Concatenation,
stacking, flipping, tiling and padding are single NumPy copies (no arithmetic to jit), and
views (split, chunk, unbind, narrow, diagonal) share the input's storage and version counter as
PyTorch's views do.
"""
import math
from typing import Optional

import numpy as np

from .. import _dtype
from ..factories import _allocate
from ..kernels import joining as k
from ..tensor import Tensor, _wrap, _wrap_dim, edge
from . import registry
from . import shape as sh
from .broadcast import broadcast_shapes, reduce_to_shape
from .conversion import to_dtype
from .elementwise import checked_scalar
from .inplace import _inplace
from .reduction import sum_array
from .registry import OpInfo, define_node, new_node, register, result, saved_version

_state = registry._state
_py_int = _dtype._py_int
_INDEX_DTYPES = (np.dtype(np.int64), np.dtype(np.int32))
_I64 = np.dtype(np.int64)
_F16 = np.dtype(np.float16)
_F32 = np.dtype(np.float32)
_BITS = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


# ============================================================================ shared helpers
def _bits(a: np.ndarray) -> np.ndarray:
    """The same memory as unsigned integers: data-movement kernels compile once per item size."""
    return a.view(_BITS[a.itemsize])


def _middle(a: np.ndarray, d: int) -> np.ndarray:
    """A C-contiguous array as ``(outer, a.shape[d], inner)`` (a view)."""
    shape = a.shape
    return a.reshape(math.prod(shape[:d]), shape[d], math.prod(shape[d + 1:]))


def _is_int(value) -> bool:
    return isinstance(value, (_py_int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _int_list(values, fname: str, argname: str, pos: int) -> tuple:
    """A sequence of ints (PyTorch's TypeError otherwise); a single int is a 1-tuple."""
    if _is_int(values):
        values = (values,)
    elif isinstance(values, Tensor) or not isinstance(values, (tuple, list)):
        raise TypeError(f"{fname}(): argument '{argname}' (position {pos}) must be tuple of ints, "
                        f"not {type(values).__name__}")
    for i, v in enumerate(values):
        if not _is_int(v):
            raise TypeError(f"{fname}(): argument '{argname}' (position {pos}) must be tuple of ints, "
                            f"but found element of type {type(v).__name__} at pos {i}")
        if not _INT64_MIN <= v <= _INT64_MAX:  # PyTorch's int64 parser (NumPy would fail later, its own way)
            raise TypeError(f"{fname}(): argument '{argname}' failed to unpack the object at pos {i + 1} with "
                            'error "Overflow when unpacking long long"')
    return tuple(int(v) for v in values)


def _check_int(value, fname: str, argname: str, pos: int) -> int:
    if not _is_int(value):
        raise TypeError(f"{fname}(): argument '{argname}' (position {pos}) must be int, not {type(value).__name__}")
    if not _INT64_MIN <= value <= _INT64_MAX:  # PyTorch's int64 parser
        raise ValueError("Overflow when unpacking long long")
    return int(value)


def _tensor_arg(value, fname: str, argname: str, pos: int) -> Tensor:
    if not isinstance(value, Tensor):
        raise TypeError(f"{fname}(): argument '{argname}' (position {pos}) must be Tensor, not {type(value).__name__}")
    return value


def _tensor_list(tensors, fname: str) -> list:
    if isinstance(tensors, Tensor) or not isinstance(tensors, (tuple, list)):
        raise TypeError(f"{fname}(): argument 'tensors' (position 1) must be tuple of Tensors, "
                        f"not {type(tensors).__name__}")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got {type(t).__name__}")
    return list(tensors)


def _legacy(np_dtype) -> str:
    """PyTorch's short dtype name: 'Float', 'Long', 'Int' ..."""
    return _dtype.from_numpy_dtype(np_dtype)._legacy[:-6]


def _view_of(input: Tensor, arr: np.ndarray, node) -> Tensor:
    """Wrap ``arr``, a view of ``input``'s storage: shares its version counter and base."""
    t = result(arr, node)
    t._vc = input._vc
    t._base = input if input._base is None else input._base
    return t


def _zeros_tensor(shape, dtype) -> Tensor:
    """A constant zero tensor (for double-backward formulas)."""
    return _wrap(np.zeros(shape, dtype))


def _cast(g: np.ndarray, dtype) -> np.ndarray:
    return g if g.dtype == dtype else g.astype(dtype)


def _cast_t(g: Tensor, dtype) -> Tensor:
    return g if g._data.dtype == dtype else to_dtype(g, dtype)


def _via_f32(kernel, out: np.ndarray, index, src):
    """Run an accumulating kernel in float32 for float16 arrays (Numba has no float16 arithmetic)."""
    if out.dtype != _F16:
        return kernel(out, index, src)
    out32 = out.astype(_F32)
    bad = kernel(out32, index, src.astype(_F32))
    out[...] = out32
    return bad


def _slices(d: int, start: int, stop: int) -> tuple:
    return (slice(None),) * d + (slice(start, stop),)


def _multi_output_views(input: Tensor, arrays: list, node_cls, ctx) -> tuple:
    """The outputs of split/unbind: views of ``input`` sharing one node (output_nr 0, 1, ...)."""
    node = None
    if _state.enabled and input._requires_grad:
        node = new_node(node_cls, (edge(input),), None, ctx)
        node._num_outputs = len(arrays)
    outs = []
    for i, arr in enumerate(arrays):
        t = _view_of(input, arr, node)
        t._output_nr = i
        outs.append(t)
    return tuple(outs)


def _with_zeros(grads, shapes, dtype) -> list:
    """The gradients of a multi-output node, with zeros for outputs that received none."""
    return [np.zeros(s, dtype) if g is None else g for g, s in zip(grads, shapes)]


def _with_zeros_t(grads, shapes, dtype) -> list:
    return [_zeros_tensor(s, dtype) if g is None else g for g, s in zip(grads, shapes)]


# ============================================================================ cat / stack
def _cat_backward(node, grads):
    # (_cat_graph is this walk on Tensors, with differentiable ops for create_graph: each op here
    # writes its backward twice, NumPy for speed and Tensors for double backward, side by side)
    d, sizes, dtypes = node._ctx
    g = grads[0]
    out = []
    start = 0
    for n, dt, (fn, _) in zip(sizes, dtypes, node.next_functions):
        if n is None:  # a skipped 1-D empty tensor
            piece = np.zeros((0,), dt)
        else:
            piece = g[_slices(d, start, start + n)]
            start += n
        out.append(None if fn is None else _cast(piece, dt))
    return tuple(out)


def _cat_graph(node, grads):
    # (_cat_backward's walk on Tensors; see there)
    d, sizes, dtypes = node._ctx
    g = grads[0]
    out = []
    start = 0
    for n, dt, (fn, _) in zip(sizes, dtypes, node.next_functions):
        if n is None:
            piece = _zeros_tensor((0,), dt)
        else:
            piece = narrow(g, d, start, n)
            start += n
        out.append(None if fn is None else _cast_t(piece, dt))
    return tuple(out)


_CatNode = define_node("CatBackward0", _cat_backward, _cat_graph)


def cat(tensors, dim=0, *, axis=None) -> Tensor:
    """Concatenate tensors along an existing dim (1-D empty tensors are skipped, as in PyTorch)."""
    # (stack parses its arguments the same way, inline in each: one call less on a hot op, and the
    # empty-list errors differ)
    tensors = _tensor_list(tensors, "cat")
    dim = _check_int(dim if axis is None else axis, "cat", "dim", 2)  # ``axis``: NumPy's name, as in PyTorch
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    arrays = [t._data for t in tensors]
    dt = arrays[0].dtype
    for i, a in enumerate(arrays):
        if a.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
        if a.dtype != dt:
            dt = _dtype.promote_types(dt, a.dtype)
    # PyTorch's legacy rule: 1-D tensors with no elements take no part in the shape checks
    skipped = [a.ndim == 1 and a.size == 0 for a in arrays]
    ref = next((i for i, s in enumerate(skipped) if not s), None)
    if ref is None:
        d = dim
        res = np.empty((0,), dt)
    else:
        ref_shape = arrays[ref].shape
        nd = len(ref_shape)
        d = _wrap_dim(dim, nd)
        for i, a in enumerate(arrays):
            if skipped[i]:
                continue
            if a.ndim != nd:
                raise RuntimeError(f"Tensors must have same number of dimensions: got {nd} and {a.ndim}")
            for j in range(nd):
                if j != d and a.shape[j] != ref_shape[j]:
                    raise RuntimeError(
                        f"Sizes of tensors must match except in dimension {d}. Expected size {ref_shape[j]} but "
                        f"got size {a.shape[j]} for tensor number {i} in the list.")
        res = np.concatenate([a for a, s in zip(arrays, skipped) if not s], axis=d, dtype=dt, casting="unsafe")
    node = None
    if registry.needs_grad(*tensors) and dt.kind == "f":
        sizes = tuple(None if s else a.shape[d] for a, s in zip(arrays, skipped))
        node = new_node(_CatNode, tuple(edge(t) for t in tensors), None,
                        (d, sizes, tuple(a.dtype for a in arrays)))
    return result(res, node)


def _stack_backward(node, grads):
    d, dtypes = node._ctx
    g = grads[0]
    return tuple(None if fn is None else _cast(g[(slice(None),) * d + (i,)], dt)
                 for i, (dt, (fn, _)) in enumerate(zip(dtypes, node.next_functions)))


def _stack_graph(node, grads):
    d, dtypes = node._ctx
    pieces = unbind(grads[0], d)
    return tuple(None if fn is None else _cast_t(p, dt)
                 for p, dt, (fn, _) in zip(pieces, dtypes, node.next_functions))


_StackNode = define_node("StackBackward0", _stack_backward, _stack_graph)


def stack(tensors, dim=0, *, axis=None) -> Tensor:
    """Join equally shaped tensors along a new dim."""
    # (cat's argument parsing, with stack's own empty-list error; see cat)
    tensors = _tensor_list(tensors, "stack")
    dim = _check_int(dim if axis is None else axis, "stack", "dim", 2)  # ``axis``: NumPy's name, as in PyTorch
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    arrays = [t._data for t in tensors]
    shape0 = arrays[0].shape
    d = _wrap_dim(dim, len(shape0) + 1)
    dt = arrays[0].dtype
    for i, a in enumerate(arrays):
        if a.shape != shape0:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(shape0)} at entry 0 "
                               f"and {list(a.shape)} at entry {i}")
        if a.dtype != dt:
            dt = _dtype.promote_types(dt, a.dtype)
    res = np.empty(shape0[:d] + (len(arrays),) + shape0[d:], dt)
    lead = (slice(None),) * d
    for i, a in enumerate(arrays):  # (faster than np.stack for the usual few small tensors)
        res[lead + (i,)] = a
    node = None
    if registry.needs_grad(*tensors) and dt.kind == "f":
        node = new_node(_StackNode, tuple(edge(t) for t in tensors), None, (d, tuple(a.dtype for a in arrays)))
    return result(res, node)


# ============================================================================ split / chunk / unbind
def _split_backward(node, grads):
    d, sizes, shape, dtype = node._ctx
    shapes = [shape[:d] + (n,) + shape[d + 1:] for n in sizes]
    return (np.concatenate(_with_zeros(grads, shapes, dtype), axis=d),)


def _split_graph(node, grads):
    d, sizes, shape, dtype = node._ctx
    shapes = [shape[:d] + (n,) + shape[d + 1:] for n in sizes]
    return (cat(_with_zeros_t(grads, shapes, dtype), d),)


_SplitNode = define_node("SplitBackward0", _split_backward, _split_graph)
_SplitWithSizesNode = define_node("SplitWithSizesBackward0", _split_backward, _split_graph)


def _split_views(input: Tensor, d: int, sizes: tuple, node_cls) -> tuple:
    xd = input._data
    arrays = []
    start = 0
    for n in sizes:
        arrays.append(xd[_slices(d, start, start + n)])
        start += n
    return _multi_output_views(input, arrays, node_cls, (d, sizes, xd.shape, xd.dtype))


def _split_dim(input: Tensor, dim, what: str) -> int:
    if input._data.ndim == 0:
        raise RuntimeError(f"{what} expects at least a 1-dimensional tensor")
    return _wrap_dim(dim, input._data.ndim)


def split_with_sizes(input: Tensor, split_sizes, dim: int = 0) -> tuple:
    """Split into pieces of the given sizes along ``dim`` (views)."""
    if isinstance(split_sizes, Tensor) or not isinstance(split_sizes, (tuple, list)):
        raise TypeError("split_with_sizes(): argument 'split_sizes' (position 2) must be tuple of ints, "
                        f"not {type(split_sizes).__name__}")
    for i, s in enumerate(split_sizes):
        if isinstance(s, (bool, np.bool_)):
            raise TypeError("split_with_sizes(): argument 'split_sizes' (position 2) must be tuple of ints, "
                            f"but found element of type bool at pos {i}")
        if not _is_int(s):
            raise TypeError(f"split_with_sizes(): argument 'split_sizes' failed to unpack the object at pos "
                            f"{i + 1} with error \"type must be tuple of ints,but got {type(s).__name__}\"")
    sizes = tuple(int(s) for s in split_sizes)
    d = _split_dim(input, dim, "split")
    n = input._data.shape[d]
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"split_with_sizes expects split_sizes have only non-negative entries, but got "
                           f"split_sizes={list(sizes)}")
    if sum(sizes) != n:
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at "
                           f"dimension {dim}), but got split_sizes={list(sizes)}")
    return _split_views(input, d, sizes, _SplitWithSizesNode)


def split(input: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Split into pieces of ``split_size`` (the last may be smaller), or of the listed sizes (views)."""
    size = split_size_or_sections
    if isinstance(size, Tensor) and size._data.size == 1 and size._data.dtype.kind in "iu":
        size = int(size._data)
    if not _is_int(size):
        return split_with_sizes(input, size, dim)
    size = _check_int(size, "split", "split_size", 2)
    d = _split_dim(input, dim, "split")
    n = input._data.shape[d]
    if size < 0:
        raise RuntimeError(f"split expects split_size be non-negative, but got split_size={size}")
    if size == 0 and n != 0:
        raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}")
    count = max((n + size - 1) // size, 1) if size else 1
    sizes = [size] * count
    sizes[-1] = size - (size * count - n)
    return _split_views(input, d, tuple(sizes), _SplitNode)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """Split into ``chunks`` pieces of equal size (the last may be smaller; there may be fewer)."""
    chunks = _check_int(chunks, "chunk", "chunks", 2)
    if input._data.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = _wrap_dim(dim, input._data.ndim)
    n = input._data.shape[d]
    size = (n + chunks - 1) // chunks
    if size == 0 and n == 0:  # PyTorch keeps the number of (empty) chunks
        return _split_views(input, d, (0,) * chunks, _SplitWithSizesNode)
    return split(input, size, d)


def _unbind_backward(node, grads):
    d, shape, dtype = node._ctx
    piece = shape[:d] + shape[d + 1:]
    return (np.stack(_with_zeros(grads, [piece] * len(grads), dtype), axis=d),)


def _unbind_graph(node, grads):
    d, shape, dtype = node._ctx
    piece = shape[:d] + shape[d + 1:]
    return (stack(_with_zeros_t(grads, [piece] * len(grads), dtype), d),)


_UnbindNode = define_node("UnbindBackward0", _unbind_backward, _unbind_graph)


def unbind(input: Tensor, dim: int = 0) -> tuple:
    """All slices along ``dim``, as a tuple of views without that dim."""
    xd = input._data
    if xd.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    d = _wrap_dim(dim, xd.ndim)
    lead = (slice(None),) * d
    arrays = [xd[lead + (i,)] for i in range(xd.shape[d])]
    return _multi_output_views(input, arrays, _UnbindNode, (d, xd.shape, xd.dtype))


# ============================================================================ gather / scatter
def _index_dtype_check(index: Tensor, method: str) -> np.ndarray:
    idx = index._data
    if idx.size and idx.dtype not in _INDEX_DTYPES:
        raise RuntimeError(f"{method}(): Expected dtype int32/int64 for index")
    return idx


def _nonempty(shape) -> tuple:
    """PyTorch's ``ensure_nonempty``: a 0-d tensor counts as 1-d of size 1."""
    return shape if shape else (1,)


def _fmt(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _block(a: np.ndarray, shape: tuple, d: int):
    """``a``'s leading block of ``shape`` in every dim but ``d`` (which keeps its size), as a
    C-contiguous array, and the key that selects it (None when it is the whole of ``a``)."""
    if all(s == a.shape[j] for j, s in enumerate(shape) if j != d):
        return np.ascontiguousarray(a), None
    key = tuple(slice(None) if j == d else slice(0, s) for j, s in enumerate(shape))
    return np.ascontiguousarray(a[key]), key


def _index3(idx: np.ndarray, shape: tuple, d: int) -> np.ndarray:
    return _middle(np.ascontiguousarray(idx.reshape(shape), dtype=_I64), d)


def _out_of_bounds(i3: np.ndarray, bad: int, d: int, size: int) -> RuntimeError:
    return RuntimeError(f"index {int(i3.ravel()[bad])} is out of bounds for dimension {d} with size {size}")


def _gather_array(x: np.ndarray, d: int, idx: np.ndarray) -> np.ndarray:
    """``x.gather(d, idx)`` on arrays (shapes already checked)."""
    xshape, ishape = _nonempty(x.shape), _nonempty(idx.shape)
    xs, _ = _block(x.reshape(xshape), ishape, d)
    i3 = _index3(idx, ishape, d)
    out = np.empty(idx.shape, x.dtype)
    bad = k.gather_middle(_middle(_bits(xs), d), i3, _bits(out).reshape(i3.shape))
    if bad >= 0:
        raise _out_of_bounds(i3, bad, d, xshape[d])
    return out


def _scatter_add_array(shape, dtype, d: int, idx: np.ndarray, src: np.ndarray) -> np.ndarray:
    """zeros(shape).scatter_add(d, idx, src) on arrays; ``src`` has ``idx``'s shape.  The index
    is checked again: it may have been changed through ``.data`` since the forward."""
    out = np.zeros(_nonempty(shape), dtype)
    ishape = _nonempty(idx.shape)
    block, key = _block(out, ishape, d)
    i3 = _index3(idx, ishape, d)
    bad = _via_f32(k.scatter_add_middle, _middle(block, d), i3,
                   _middle(np.ascontiguousarray(src.reshape(ishape), dtype=dtype), d))
    if bad >= 0:
        raise _out_of_bounds(i3, bad, d, out.shape[d])
    if key is not None:
        out[key] = block
    return out.reshape(shape)


def _gather_backward(node, grads):
    (idx,) = node._saved
    d, shape, dtype = node._ctx
    return (_scatter_add_array(shape, dtype, d, idx, grads[0]),)


def _gather_graph(node, grads):
    (index,) = registry.saved_tensors(node)
    d, shape, dtype = node._ctx
    return (scatter_add(_zeros_tensor(shape, dtype), d, index, grads[0]),)


_GatherNode = define_node("GatherBackward0", _gather_backward, _gather_graph)


def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
    """``out[i][j] = input[index[i][j]][j]`` (for dim=0), and so on along ``dim``."""
    index = _tensor_arg(index, "gather", "index", 3)
    xd = input._data
    d = _wrap_dim(dim, xd.ndim)
    idx = _index_dtype_check(index, "gather")
    if idx.size == 0:
        res = np.empty(idx.shape, xd.dtype)
    else:
        xshape, ishape = _nonempty(xd.shape), _nonempty(idx.shape)
        if len(xshape) != len(ishape):
            raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
        for j in range(len(xshape)):
            if j != d and ishape[j] > xshape[j]:
                raise RuntimeError(f"Size does not match at dimension {j} expected index {_fmt(idx.shape)} to be "
                                   f"no larger than self {_fmt(xd.shape)} apart from dimension {d}")
        res = _gather_array(xd, d, idx)
    node = None
    if _state.enabled and input._requires_grad:
        node = new_node(_GatherNode, (edge(input),), (idx,), (d, xd.shape, xd.dtype), (saved_version(index),))
    return result(res, node)


def _scatter_checks(method: str, input: Tensor, dim, index, src: Optional[Tensor]):
    """PyTorch's scatter argument checks; returns (dim, index array)."""
    index = _tensor_arg(index, method, "index", 3)
    xd = input._data
    d = _wrap_dim(dim, xd.ndim)
    idx = index._data
    if idx.size and idx.dtype not in _INDEX_DTYPES:
        raise RuntimeError("scatter(): Expected dtype int32/int64 for index")
    if src is not None and src._data.dtype != xd.dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    if idx.size == 0:
        return d, idx
    ishape, xshape = _nonempty(idx.shape), _nonempty(xd.shape)
    if len(xshape) != len(ishape):
        raise RuntimeError("Index tensor must have the same number of dimensions as self tensor")
    if src is not None and len(_nonempty(src._data.shape)) != len(ishape):
        raise RuntimeError("Index tensor must have the same number of dimensions as src tensor")
    wrong = any(ishape[j] > xshape[j] for j in range(len(ishape)) if j != d)
    if src is not None:
        sshape = _nonempty(src._data.shape)
        wrong = wrong or any(ishape[j] > sshape[j] for j in range(len(ishape)))
        if wrong:
            raise RuntimeError(f"Expected index {_fmt(idx.shape)} to be no larger than self {_fmt(xd.shape)} apart "
                               f"from dimension {d} and to be no larger size than src {_fmt(src._data.shape)}")
    elif wrong:
        raise RuntimeError(f"Expected index {_fmt(idx.shape)} to be no larger than self {_fmt(xd.shape)} apart "
                           f"from dimension {d}")
    return d, idx


def _scatter_into(kernel, out: np.ndarray, d: int, idx: np.ndarray, src) -> None:
    """Run a scatter kernel on ``out`` (C-contiguous, modified in place) with ``src`` an array
    (cut to the index's shape) or a scalar."""
    if idx.size == 0:
        return
    shape = _nonempty(out.shape)
    ishape = _nonempty(idx.shape)
    full = out.reshape(shape)
    block, key = _block(full, ishape, d)
    i3 = _index3(idx, ishape, d)
    o3 = _middle(block, d)
    if isinstance(src, np.ndarray):
        s = src.reshape(_nonempty(src.shape))
        if s.shape != ishape:
            s = s[tuple(slice(0, n) for n in ishape)]
        s3 = _middle(np.ascontiguousarray(s), d)
        if kernel is k.scatter_add_middle:
            if out.dtype.kind == "b":  # bool addition is a logical or
                o8 = o3.view(np.uint8)
                bad = kernel(o8, i3, s3.view(np.uint8))
                o3[...] = o8 != 0
            else:
                bad = _via_f32(kernel, o3, i3, s3)
        else:
            bad = kernel(_bits(o3), i3, _bits(s3))
    else:
        bad = kernel(_bits(o3), i3, _bits(np.array([src], out.dtype))[0])
    if bad >= 0:
        raise _out_of_bounds(i3, bad, d, shape[d])
    if key is not None:
        full[key] = block


def _src_grad(node, g: np.ndarray, idx: np.ndarray, d: int, src_shape, src_dtype) -> np.ndarray:
    """``grad.gather(dim, index)``, the gradient of a scatter's ``src``.  When the index is
    smaller than ``src``, PyTorch's engine refuses the gradient (its shape check of node
    outputs), unless ``src`` broadcasts to it."""
    gs = _gather_array(g, d, idx) if idx.size else np.zeros(idx.shape, g.dtype)
    if gs.shape != src_shape:
        try:
            expandable = np.broadcast_shapes(src_shape, gs.shape) == gs.shape
        except ValueError:
            expandable = False
        if not expandable:
            raise RuntimeError(f"Function {node.name()} returned an invalid gradient at index 1 - got "
                               f"{_fmt(gs.shape)} but expected shape compatible with {_fmt(src_shape)}")
        gs = reduce_to_shape(gs, src_shape)
    return _cast(gs, src_dtype)


def _scatter_add_backward(node, grads):
    (idx,) = node._saved
    d, src_shape, src_dtype = node._ctx
    g = grads[0]
    g_src = _src_grad(node, g, idx, d, src_shape, src_dtype) if node.next_functions[1][0] is not None else None
    return (g, g_src)


def _scatter_add_graph(node, grads):
    (index,) = registry.saved_tensors(node)
    d = node._ctx[0]
    g = grads[0]
    return (g, gather(g, d, index) if node.next_functions[1][0] is not None else None)


_ScatterAddNode = define_node("ScatterAddBackward0", _scatter_add_backward, _scatter_add_graph)


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """A copy of ``input`` with ``src`` added at the positions ``index`` names along ``dim``
    (repeated indices accumulate)."""
    src = _tensor_arg(src, "scatter_add", "src", 4)
    return _scatter_tensor("scatter_add", k.scatter_add_middle, _ScatterAddNode, input, dim, index, src)


def _scatter_tensor(fname: str, kernel, node_cls, input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """A copy of ``input`` with ``src``'s values moved in by ``kernel`` at ``index`` along ``dim``
    (scatter_add, and scatter of a tensor), recorded as ``node_cls``."""
    d, idx = _scatter_checks(fname, input, dim, index, src)
    res = np.array(input._data, order="C")
    _scatter_into(kernel, res, d, idx, src._data)
    node = None
    if registry.needs_grad(input, src):
        node = new_node(node_cls, (edge(input), edge(src)), (idx,), (d, src._data.shape, src._data.dtype),
                        (saved_version(index),))
    return result(res, node)


def _scatter_src_backward(node, grads):
    (idx,) = node._saved
    d, src_shape, src_dtype = node._ctx
    g = grads[0]
    g_self = None
    if node.next_functions[0][0] is not None:
        g_self = np.array(g, order="C")
        _scatter_into(k.scatter_fill_middle, g_self, d, idx, 0)
    g_src = None
    if len(node.next_functions) > 1 and node.next_functions[1][0] is not None:
        g_src = _src_grad(node, g, idx, d, src_shape, src_dtype)
    return (g_self, g_src)


def _scatter_src_graph(node, grads):
    (index,) = registry.saved_tensors(node)
    d = node._ctx[0]
    g = grads[0]
    g_self = scatter(g, d, index, 0.0) if node.next_functions[0][0] is not None else None
    g_src = None
    if len(node.next_functions) > 1 and node.next_functions[1][0] is not None:
        g_src = gather(g, d, index)
    return (g_self, g_src)


_ScatterNode = define_node("ScatterBackward0", _scatter_src_backward, _scatter_src_graph)
_ScatterValueNode = define_node("ScatterBackward1", _scatter_src_backward,
                                lambda node, grads: _scatter_src_graph(node, grads)[:1])


def scatter(input: Tensor, dim: int, index: Tensor, src=None, *, value=None, reduce=None) -> Tensor:
    """A copy of ``input`` with ``src`` (a tensor, or the scalar ``value``) written at the
    positions ``index`` names along ``dim``."""
    if reduce is not None:
        raise NotImplementedError("jitgrad: scatter(..., reduce=...) is not supported; use scatter_add")
    if src is None and value is None:
        raise TypeError("scatter() missing required argument 'src' or 'value'")
    if src is None or not isinstance(src, Tensor):
        fill = value if src is None else src
        d, idx = _scatter_checks("scatter", input, dim, index, None)
        res = np.array(input._data, order="C")
        _scatter_into(k.scatter_fill_middle, res, d, idx, fill)
        node = None
        if _state.enabled and input._requires_grad:
            node = new_node(_ScatterValueNode, (edge(input),), (idx,), (d, None, None), (saved_version(index),))
        return result(res, node)
    return _scatter_tensor("scatter", k.scatter_middle, _ScatterNode, input, dim, index, src)


# ============================================================================ index_select / take_along_dim
def _index_select_backward(node, grads):
    (idx,) = node._saved
    d, shape, dtype = node._ctx
    shape1 = _nonempty(shape)
    gx = np.zeros(shape1, dtype)
    if gx.size == 0:  # PyTorch's index_add_ returns before it reads the index
        return (gx.reshape(shape),)
    g = np.ascontiguousarray(grads[0], dtype=dtype).reshape(shape1[:d] + (idx.size,) + shape1[d + 1:])
    bad = _via_f32(k.index_add_middle, _middle(gx, d), idx, _middle(g, d))
    if bad >= 0:  # the index was changed through ``.data`` after the forward: PyTorch's index_add_
        # errors (its select() loop for the first/last dim of a 2+-D tensor, else its kernel's)
        if len(shape1) > 1 and d in (0, len(shape1) - 1):
            raise RuntimeError(f"index {int(idx[bad])} is out of bounds for dimension {d} with size {shape1[d]}")
        raise IndexError("index out of range in self")
    return (gx.reshape(shape),)


def _index_select_graph(node, grads):
    (idx,) = node._saved
    d, shape, dtype = node._ctx
    g = grads[0]
    gshape = _nonempty(g._data.shape)
    full = np.ascontiguousarray(np.broadcast_to(idx.reshape((1,) * d + (idx.size,) + (1,) * (len(gshape) - d - 1)),
                                                gshape))
    res = scatter_add(_zeros_tensor(_nonempty(shape), dtype), d, _wrap(full), g.reshape(gshape))
    return (res.reshape(shape),)


_IndexSelectNode = define_node("IndexSelectBackward0", _index_select_backward, _index_select_graph)


def _index_select_error(xd: np.ndarray, d: int, idx: np.ndarray, bad: int) -> Exception:
    """PyTorch's error for ``idx[bad]`` out of range: its CPU kernel for dim 1 (and for inputs
    with no elements) of a tensor of 2+ dims words it differently from the generic one."""
    if xd.ndim > 1 and (d == 1 or xd.size == 0):
        if xd.shape[d] == 0:
            return RuntimeError("index_select(): self indexing axis dim should be positive")
        return RuntimeError(f"INDICES element is out of DATA bounds, id={int(idx[bad])} axis_dim={xd.shape[d]}")
    return IndexError("index out of range in self")


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """The slices of ``input`` along ``dim`` at the positions in the 1-D ``index``."""
    index = _tensor_arg(index, "index_select", "index", 3)
    xd = input._data
    d = _wrap_dim(dim, xd.ndim)
    idx = index._data
    if idx.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    if idx.dtype not in _INDEX_DTYPES:
        raise RuntimeError("index_select(): Expected dtype int32 or int64 for index")
    if xd.ndim == 0 and idx.size != 1:
        raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, got {idx.size} value(s)")
    idx = np.ascontiguousarray(idx.ravel(), dtype=_I64)
    shape1 = _nonempty(xd.shape)
    out_shape = shape1[:d] + (idx.size,) + shape1[d + 1:]
    res = np.empty(out_shape, xd.dtype)
    x3 = _middle(np.ascontiguousarray(xd).reshape(shape1), d)
    bad = k.index_select_middle(_bits(x3), idx, _bits(_middle(res, d)))
    if bad >= 0:
        raise _index_select_error(xd, d, idx, bad)
    if xd.ndim == 0:
        res = res.reshape(())
    node = None
    if _state.enabled and input._requires_grad:
        node = new_node(_IndexSelectNode, (edge(input),), (idx,), (d, xd.shape, xd.dtype), (saved_version(index),))
    return result(res, node)


def take_along_dim(input: Tensor, indices: Tensor, dim: Optional[int] = None) -> Tensor:
    """Pick values along ``dim`` at ``indices`` (broadcast against ``input``); without ``dim``,
    from the flattened input."""
    indices = _tensor_arg(indices, "take_along_dim", "indices", 2)
    idx = indices._data
    if dim is None:
        return gather(sh.view(input, -1), 0, sh.view(indices, -1))
    if idx.dtype.kind in "iu" and idx.dtype != _I64:
        raise RuntimeError(f"torch.take_along_dim(): dtype of indices should be Long but got {_legacy(idx.dtype)}")
    xd = input._data
    if xd.ndim != idx.ndim:
        raise RuntimeError("torch.take_along_dim(): input and indices should have the same number of dimensions, "
                           f"but got {xd.ndim} dimensions for input, and {idx.ndim} dimensions for indices")
    if xd.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    d = _wrap_dim(dim, xd.ndim)
    if idx.size and idx.dtype == _I64:
        # PyTorch 2.13 takes the indices modulo the dim's size here (a new index tensor, so
        # the caller's may change afterwards without affecting the gradient)
        if xd.shape[d] == 0:
            raise RuntimeError("ZeroDivisionError")
        idx = np.remainder(idx, xd.shape[d])
    self_sizes = xd.shape[:d] + (idx.shape[d],) + xd.shape[d + 1:]
    idx_b = np.broadcast_to(idx, broadcast_shapes(self_sizes, idx.shape))
    idx_sizes = idx.shape[:d] + (xd.shape[d],) + idx.shape[d + 1:]
    x_b = sh.expand(input, broadcast_shapes(idx_sizes, xd.shape))
    return gather(x_b, d, _wrap(idx_b))


# ============================================================================ flip / roll
def _dims_kwarg(dims: tuple, kwargs: dict, fname: str) -> tuple:
    """``f(x, 0, 1)``, ``f(x, (0, 1))`` (positional) or ``f(x, dims=(0, 1))``."""
    if kwargs:
        if dims or set(kwargs) != {"dims"}:
            raise TypeError(f"{fname}() got an unexpected keyword argument '{next(iter(kwargs))}'")
        return (kwargs["dims"],)
    return dims


def _dims_arg(dims, ndim: int, fname: str) -> tuple:
    if len(dims) == 1 and not _is_int(dims[0]):
        dims = dims[0]
    dims = _int_list(dims, fname, "dims", 2)
    out = []
    for dim in dims:
        d = _wrap_dim(dim, ndim)
        if d in out:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
        out.append(d)
    return tuple(out)


def _flip_array(a: np.ndarray, dims: tuple) -> np.ndarray:
    return np.flip(a, dims) if dims and a.ndim else a


_FlipNode = define_node("FlipBackward0", lambda node, grads: (_flip_array(grads[0], node._ctx),),
                        lambda node, grads: (flip(grads[0], node._ctx),))


def flip(input: Tensor, *dims, **kwargs) -> Tensor:
    """Reverse the order of elements along the given dims (a copy, as in PyTorch)."""
    xd = input._data
    dims = _dims_arg(_dims_kwarg(dims, kwargs, "flip"), xd.ndim, "flip")
    res = np.array(_flip_array(xd, dims), order="C")
    node = new_node(_FlipNode, (edge(input),), None, dims) if (_state.enabled and input._requires_grad) else None
    return result(res, node)


def _roll_array(a: np.ndarray, shifts: tuple, dims: Optional[tuple]) -> np.ndarray:
    if dims is None:
        return _roll_array(a.reshape(-1), shifts, (0,)).reshape(a.shape)
    cur = np.ascontiguousarray(a)
    if cur.ndim == 0:
        return cur.copy()
    for s, d in zip(shifts, dims):
        n = cur.shape[d]
        if n == 0 or cur.size == 0:
            continue
        res = np.empty_like(cur)
        k.roll_middle(_middle(_bits(cur), d), s % n, _middle(_bits(res), d))
        cur = res
    return cur if cur is not a else cur.copy()


_RollNode = define_node(
    "RollBackward0",
    lambda node, grads: (_roll_array(grads[0], tuple(-s for s in node._ctx[0]), node._ctx[1]),),
    lambda node, grads: (roll(grads[0], tuple(-s for s in node._ctx[0]), node._ctx[1]),))


def roll(input: Tensor, shifts, dims=None) -> Tensor:
    """Rotate elements along ``dims`` by ``shifts`` (over the flattened tensor without ``dims``)."""
    xd = input._data
    shifts = _int_list(shifts, "roll", "shifts", 2)
    dims_t = None if dims is None else _int_list(dims, "roll", "dims", 3)
    if not shifts:
        raise RuntimeError("`shifts` required")
    if dims_t is not None and len(dims_t) == 0 and len(shifts) == 1:
        dims_t = None  # PyTorch: roll(x, 1, ()) rolls the flattened tensor
    if dims_t is None:
        if len(shifts) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:0")
    else:
        if len(shifts) != len(dims_t):
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims_t)}")
        if xd.ndim == 0:
            raise IndexError(f"Dimension specified as {dims_t[0]} but tensor has no dimensions")
        dims_t = tuple(_wrap_dim(d, xd.ndim) for d in dims_t)
    res = _roll_array(xd, shifts, dims_t)
    node = None
    if _state.enabled and input._requires_grad:
        node = new_node(_RollNode, (edge(input),), None, (shifts, dims_t))
    return result(res, node)


# ============================================================================ repeat / tile
def _repeat_plan(shape: tuple, repeats: tuple):
    """The interleaved (repeat, size) shape of a repeated gradient and the axes to sum."""
    shape = (1,) * (len(repeats) - len(shape)) + tuple(shape)
    inter, axes = [], []
    for r, s in zip(repeats, shape):
        if r != 1:
            axes.append(len(inter))
            inter.append(r)
        inter.append(s)
    return tuple(inter), tuple(axes)


def _repeat_backward(node, grads):
    shape, dtype, repeats = node._ctx
    inter, axes = _repeat_plan(shape, repeats)
    g = grads[0]
    if g.size == 0:
        return (np.zeros(shape, dtype),)
    g = np.reshape(g, inter)
    if axes:
        g = sum_array(g, axes)
    return (g.reshape(shape),)


def _repeat_graph(node, grads):
    from .reduction import sum as _sum

    shape, _, repeats = node._ctx
    inter, axes = _repeat_plan(shape, repeats)
    g = grads[0].reshape(inter)
    if axes:
        g = _sum(g, axes)
    return (g.reshape(shape),)


_RepeatNode = define_node("RepeatBackward0", _repeat_backward, _repeat_graph)


def repeat(input: Tensor, *sizes) -> Tensor:
    """Tile the tensor ``sizes[i]`` times along each dim (leading dims are added as needed)."""
    if not sizes:
        raise TypeError('repeat() missing 1 required positional arguments: "repeats"')
    if len(sizes) == 1 and not _is_int(sizes[0]):
        sizes = sizes[0]
    repeats = _int_list(sizes, "repeat", "repeats", 1)
    xd = input._data
    if len(repeats) < xd.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor")
    padded = (1,) * (len(repeats) - xd.ndim) + xd.shape
    target = [r * s for r, s in zip(repeats, padded)]
    for t in target:
        if t < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {t}: {target}")
    try:
        res = np.tile(xd.reshape(padded), repeats) if repeats else xd.copy()
    except (MemoryError, ValueError) as e:  # sizes past the memory: PyTorch's allocator error
        from ..factories import _allocation_error

        raise _allocation_error(e, target, xd.itemsize) from None
    node = None
    if _state.enabled and input._requires_grad:
        node = new_node(_RepeatNode, (edge(input),), None, (xd.shape, xd.dtype, repeats))
    return result(res, node)


def tile(input: Tensor, *dims, **kwargs) -> Tensor:
    """``repeat`` with the shorter of (dims, shape) padded with leading ones."""
    dims = _dims_kwarg(dims, kwargs, "tile")
    if len(dims) == 1 and not _is_int(dims[0]):
        dims = dims[0]
    dims = _int_list(dims, "tile", "dims", 2)
    nd = input._data.ndim
    if len(dims) < nd:
        dims = (1,) * (nd - len(dims)) + dims
    return repeat(input, dims)


# ============================================================================ narrow / pad
def narrow(input: Tensor, dim: int, start, length: int) -> Tensor:
    """The view of ``length`` elements from ``start`` along ``dim``."""
    xd = input._data
    if xd.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = _wrap_dim(dim, xd.ndim)
    if isinstance(start, Tensor):
        if start._data.ndim != 0 or start._data.dtype.kind not in "iu":
            raise RuntimeError("start must be an 0-dim integral Tensor.")
        start = int(start._data)
    start = _check_int(start, "narrow", "start", 3)
    length = _check_int(length, "narrow", "length", 4)
    n = xd.shape[d]
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    if not -n <= start <= n:
        raise IndexError(f"start out of range (expected to be in range of [{-n}, {n}], but got {start})")
    if start < 0:
        start += n
    if start + length > n:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    return sh._view_index(input, _slices(d, start, start + length), sh._SliceNode)


def _pad_array(a: np.ndarray, pad: tuple, value) -> np.ndarray:
    """Constant padding (negative pads crop); ``pad`` pairs start from the last dim."""
    nd = a.ndim
    shape = list(a.shape)
    src, dst = [slice(None)] * nd, [slice(None)] * nd
    for i in range(len(pad) // 2):
        d = nd - 1 - i
        before, after = pad[2 * i], pad[2 * i + 1]
        n = shape[d]
        new = n + before + after
        src[d] = slice(max(-before, 0), n - max(-after, 0))
        dst[d] = slice(max(before, 0), new - max(after, 0))
        shape[d] = new
    out = _allocate(lambda: np.full(shape, value, a.dtype), shape, a.dtype)  # PyTorch's error when too big
    out[tuple(dst)] = a[tuple(src)]
    return out


def _pad_check(shape: tuple, pad: tuple, itemsize: int) -> None:
    """PyTorch's checks of constant_pad_nd, in its order: negative pads crop with narrow() first,
    then each new size is computed in int64 (a sum past int64 wraps negative: its "negative output
    size" error), then the allocation (a byte count past int64: its storage-size error)."""
    nd = len(shape)
    for i in range(len(pad) // 2):
        d = nd - 1 - i
        n = shape[d]
        before, after = pad[2 * i], pad[2 * i + 1]
        if before < 0:
            if n + before < 0:
                raise RuntimeError("narrow(): length must be non-negative.")
            n += before
        if after < 0 and n + after < 0:
            raise RuntimeError("narrow(): length must be non-negative.")
    new_shape = list(shape)
    for d in range(nd - len(pad) // 2, nd):
        j = 2 * (nd - 1 - d)
        new = shape[d] + pad[j] + pad[j + 1]
        if new > _INT64_MAX:
            raise RuntimeError(f"The input size {shape[d]}, plus negative padding {pad[j]} and {pad[j + 1]} resulted "
                               f"in a negative output size, which is invalid. Check dimension {d} of your input.")
        new_shape[d] = new
    if math.prod(new_shape) * itemsize > _INT64_MAX:
        raise RuntimeError(f"Storage size calculation overflowed with sizes={new_shape}")


_ConstantPadNode = define_node(
    "ConstantPadNdBackward0",
    lambda node, grads: (_pad_array(grads[0], tuple(-p for p in node._ctx), 0),),
    lambda node, grads: (constant_pad_nd(grads[0], tuple(-p for p in node._ctx)),))


def constant_pad_nd(input: Tensor, pad, value=0) -> Tensor:
    """Pad with ``value``: ``pad = (last_dim_before, last_dim_after, ...)``; negative pads crop."""
    pad = _int_list(pad, "constant_pad_nd", "pad", 2)
    xd = input._data
    if len(pad) % 2:
        raise RuntimeError(f"Length of pad must be even but instead it equals {len(pad)}")
    if len(pad) // 2 > xd.ndim:
        raise RuntimeError("Length of pad should be no more than twice the number of dimensions of the input. "
                           f"Pad length is {len(pad)}while the input has {xd.ndim}dimensions.")
    _pad_check(xd.shape, pad, xd.itemsize)
    res = _pad_array(xd, pad, checked_scalar(xd.dtype, value))
    node = new_node(_ConstantPadNode, (edge(input),), None, pad) if (_state.enabled and input._requires_grad) else None
    return result(res, node)


def pad(input: Tensor, pad, mode: str = "constant", value=None) -> Tensor:
    """``torch.nn.functional.pad`` (mode 'constant' only): pads start from the last dim."""
    pad = _int_list(pad, "pad", "pad", 2)
    nd = input._data.ndim
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) > 2 * nd:
        raise RuntimeError("Padding length should be less than or equal to two times the input dimension but got "
                           f"padding length {len(pad)} and input of dimension {nd}")
    if mode != "constant":
        if mode not in ("reflect", "replicate", "circular"):
            raise NotImplementedError(f"Unrecognised padding mode {mode}")
        raise NotImplementedError(f"jitgrad: pad(mode={mode!r}) is not supported yet (only mode='constant')")
    return constant_pad_nd(input, pad, 0 if value is None else value)


# ============================================================================ tril / triu
def _trilu_array(a: np.ndarray, diagonal: int, lower: bool) -> np.ndarray:
    a = np.ascontiguousarray(a)
    out = np.empty_like(a)
    if a.size:
        shape3 = (-1,) + a.shape[-2:]
        k.trilu_forward(_bits(a).reshape(shape3), diagonal, lower, _bits(out).reshape(shape3))
    return out


def _trilu(name: str, lower: bool):
    node_cls = define_node(
        f"{name.capitalize()}Backward0",
        lambda node, grads: (_trilu_array(grads[0], node._ctx, lower),),
        lambda node, grads: (op(grads[0], node._ctx),))

    def op(input: Tensor, diagonal: int = 0) -> Tensor:
        diagonal = _check_int(diagonal, name, "diagonal", 2)
        xd = input._data
        if xd.ndim < 2:
            raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
        res = _trilu_array(xd, diagonal, lower)
        node = new_node(node_cls, (edge(input),), None, diagonal) if (_state.enabled and input._requires_grad) else None
        return result(res, node)

    op.__name__ = name
    op.__doc__ = (f"The {'lower' if lower else 'upper'} triangle of the last two dims (on and "
                  f"{'below' if lower else 'above'} ``diagonal``); the rest is zero.")
    return op


tril = _trilu("tril", True)
triu = _trilu("triu", False)


# ============================================================================ diagonal
def _diagonal_view(a: np.ndarray, offset: int, d1: int, d2: int) -> np.ndarray:
    """The (writable) view of the diagonal of ``a`` over dims ``d1``, ``d2``, appended last."""
    n1, n2 = a.shape[d1], a.shape[d2]
    if offset >= 0:
        length, s1, s2 = max(min(n1, n2 - offset), 0), 0, offset
    else:
        length, s1, s2 = max(min(n1 + offset, n2), 0), -offset, 0
    keep = [j for j in range(a.ndim) if j not in (d1, d2)]
    shape = tuple(a.shape[j] for j in keep) + (length,)
    strides = tuple(a.strides[j] for j in keep) + (a.strides[d1] + a.strides[d2],)
    base = a
    if length:
        key = [slice(None)] * a.ndim
        key[d1], key[d2] = slice(s1, None), slice(s2, None)
        base = a[tuple(key)]
    return np.lib.stride_tricks.as_strided(base, shape, strides)


def _diagonal_backward_array(g: np.ndarray, shape, dtype, offset, d1, d2) -> np.ndarray:
    gx = np.zeros(shape, dtype)
    _diagonal_view(gx, offset, d1, d2)[...] = g
    return gx


_DiagonalNode = define_node(
    "DiagonalBackward0",
    lambda node, grads: (_diagonal_backward_array(grads[0], *node._ctx),),
    lambda node, grads: (_diagonal_backward(grads[0], *node._ctx),))


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal over ``dim1``/``dim2`` (shifted by ``offset``), as a view with that dim last."""
    offset = _check_int(offset, "diagonal", "offset", 2)
    xd = input._data
    d1, d2 = _wrap_dim(dim1, xd.ndim), _wrap_dim(dim2, xd.ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    res = _diagonal_view(xd, offset, d1, d2)
    node = None
    if _state.enabled and input._requires_grad:
        node = new_node(_DiagonalNode, (edge(input),), None, (xd.shape, xd.dtype, offset, d1, d2))
    return _view_of(input, res, node)


# diagonal's gradient is itself a differentiable op (PyTorch's diagonal_backward), whose own
# gradient is the diagonal again: the pair gives every higher order
_DiagonalBackwardNode = define_node(
    "DiagonalBackwardBackward0",
    lambda node, grads: (np.array(_diagonal_view(grads[0], *node._ctx[2:]), order="C"),),
    lambda node, grads: (diagonal(grads[0], *node._ctx[2:]),))


def _diagonal_backward(g: Tensor, shape, dtype, offset, d1, d2) -> Tensor:
    res = _diagonal_backward_array(g._data, shape, dtype, offset, d1, d2)
    node = None
    if _state.enabled and g._requires_grad:
        node = new_node(_DiagonalBackwardNode, (edge(g),), None, (shape, dtype, offset, d1, d2))
    return result(res, node)


# ============================================================================ samples
# Float arrays become float64 leaves, integer arrays index tensors, lists of arrays lists of tensors.
def _x(rng, *shape):
    return rng.uniform(-1, 1, shape)


def _cat_samples(rng):
    return [(([_x(rng, 2, 3), _x(rng, 1, 3)],), {}), (([_x(rng, 2, 3), _x(rng, 2, 2), _x(rng, 2, 1)], -1), {}),
            (([_x(rng, 0), _x(rng, 2, 2)], 1), {}), (([_x(rng, 3)],), {"dim": 0})]


def _stack_samples(rng):
    return [(([_x(rng, 2, 3), _x(rng, 2, 3)],), {}), (([_x(rng, 3), _x(rng, 3), _x(rng, 3)], -1), {}),
            (([_x(rng, 2, 2)], 2), {})]


def _split_samples(rng):
    return [((_x(rng, 5, 2), 2), {}), ((_x(rng, 2, 6), [1, 3, 2], 1), {}), ((_x(rng, 3, 4), 4), {"dim": -1})]


def _index_samples(rng):
    idx = np.array([[0, 2], [1, 1], [2, 0]])
    return [((_x(rng, 3, 4), 1, idx), {}), ((_x(rng, 4, 3), 0, np.array([[3, 0, 1], [0, 0, 3]])), {}),
            ((_x(rng, 3, 4), -1, np.array([[1], [3]])), {})]


def _scatter_add_samples(rng):
    return [((_x(rng, 3, 4), 1, np.array([[0, 2], [1, 1], [3, 3]]), _x(rng, 3, 2)), {}),
            ((_x(rng, 4, 2), 0, np.array([[3, 0], [3, 0]]), _x(rng, 2, 2)), {})]


def _scatter_samples(rng):
    return [((_x(rng, 3, 4), 1, np.array([[0, 2], [1, 3], [3, 0]]), _x(rng, 3, 2)), {}),
            ((_x(rng, 3, 4), 0, np.array([[2, 0, 1, 1]])), {"value": 0.5})]


def _index_select_samples(rng):
    return [((_x(rng, 4, 3), 0, np.array([3, 0, 3])), {}), ((_x(rng, 2, 5, 2), 1, np.array([4, 1])), {}),
            ((_x(rng, 3, 4), -1, np.array([2])), {})]


def _take_along_dim_samples(rng):
    return [((_x(rng, 3, 4), np.array([[0, 3], [1, 1], [2, 0]]), 1), {}),
            ((_x(rng, 3, 4), np.array([[0], [3]])), {}),
            ((_x(rng, 3, 4), np.array([[2, 0, 1, 0]]), 0), {}),
            ((_x(rng, 3, 4), np.array([11, 0, 5])), {})]


def _pad_samples(rng):
    return [((_x(rng, 3, 4), (1, 2)), {}), ((_x(rng, 2, 3, 4), (1, 0, -1, 2)), {"value": 0.5})]


_TABLE = [
    # name, node, function, kwargs
    ("cat", "CatBackward0", cat, dict(method=False, scalar_input=True, aliases=("concat", "concatenate"),
                                      samples=_cat_samples)),
    ("stack", "StackBackward0", stack, dict(method=False, scalar_input=True, samples=_stack_samples)),
    ("split", "SplitBackward0", split, dict(nodes=("SplitWithSizesBackward0",), samples=_split_samples)),
    ("split_with_sizes", "SplitWithSizesBackward0", split_with_sizes,
     dict(samples=lambda rng: [((_x(rng, 2, 6), [1, 5], 1), {})])),
    ("chunk", "SplitBackward0", chunk,
     dict(samples=lambda rng: [((_x(rng, 7, 2), 3), {}), ((_x(rng, 2, 4), 2, 1), {})])),
    ("unbind", "UnbindBackward0", unbind,
     dict(samples=lambda rng: [((_x(rng, 3, 2),), {}), ((_x(rng, 2, 3), -1), {})])),
    ("gather", "GatherBackward0", gather, dict(samples=_index_samples)),
    ("scatter_add", "ScatterAddBackward0", scatter_add, dict(samples=_scatter_add_samples)),
    ("scatter", "ScatterBackward0", scatter, dict(nodes=("ScatterBackward1",), samples=_scatter_samples)),
    ("index_select", "IndexSelectBackward0", index_select, dict(samples=_index_select_samples)),
    ("take_along_dim", "GatherBackward0", take_along_dim, dict(samples=_take_along_dim_samples)),
    # F.pad: nn.functional finds it in OPS; the table tests compare it with torch.nn.functional.pad
    ("pad", "ConstantPadNdBackward0", pad, dict(method=False, samples=_pad_samples)),
    ("constant_pad_nd", "ConstantPadNdBackward0", constant_pad_nd, dict(method=False, samples=lambda rng: [
        ((_x(rng, 3, 4), (1, 2)), {}), ((_x(rng, 2, 3, 4), (0, 1, 2, 0), 0.5), {}),
        ((_x(rng, 3, 4), (-1, 2, 1, -2)), {}), ((_x(rng, 3, 4), (-1, 0)), {})])),
    ("flip", "FlipBackward0", flip, dict(samples=lambda rng: [
        ((_x(rng, 3, 4), (0,)), {}), ((_x(rng, 2, 3, 4), (0, -1)), {}), ((_x(rng, 3, 4), ()), {})])),
    ("roll", "RollBackward0", roll, dict(samples=lambda rng: [
        ((_x(rng, 3, 4), 1), {}), ((_x(rng, 3, 4), (1, -3), (0, 1)), {}), ((_x(rng, 2, 3, 4), 5, 2), {}),
        ((_x(rng, 3, 4), -2), {"dims": -2})])),
    ("repeat", "RepeatBackward0", repeat, dict(public=False, samples=lambda rng: [
        ((_x(rng, 2, 3), 2, 1), {}), ((_x(rng, 2, 3), (2, 1, 3)), {}), ((_x(rng, 3), 1, 1), {})])),
    ("tile", "RepeatBackward0", tile, dict(samples=lambda rng: [
        ((_x(rng, 2, 3), (2,)), {}), ((_x(rng, 2, 3), (2, 1, 2)), {})])),
    ("narrow", "SliceBackward0", narrow, dict(samples=lambda rng: [
        ((_x(rng, 3, 4), 1, 1, 2), {}), ((_x(rng, 3, 4), 0, -2, 2), {}), ((_x(rng, 3, 4), -1, 0, 4), {})])),
    ("tril", "TrilBackward0", tril, dict(samples=lambda rng: [
        ((_x(rng, 3, 4),), {}), ((_x(rng, 2, 3, 4), 1), {}), ((_x(rng, 4, 3),), {"diagonal": -1})])),
    ("triu", "TriuBackward0", triu, dict(samples=lambda rng: [
        ((_x(rng, 3, 4),), {}), ((_x(rng, 2, 3, 4), -1), {}), ((_x(rng, 4, 3),), {"diagonal": 2})])),
    ("diagonal", "DiagonalBackward0", diagonal, dict(samples=lambda rng: [
        ((_x(rng, 3, 4),), {}), ((_x(rng, 3, 4), 1), {}), ((_x(rng, 3, 4), -2), {}),
        ((_x(rng, 2, 3, 4), 0, 0, 2), {}), ((_x(rng, 2, 3, 4),), {"offset": 1, "dim1": -1, "dim2": -2})])),
]

for _name, _node, _fn, _kw in _TABLE:
    register(OpInfo(_name, _node, _fn, **_kw))


scatter_add_ = _inplace(scatter_add, "scatter_add_")
scatter_ = _inplace(scatter, "scatter_")
register(OpInfo("scatter_add_", "", scatter_add_, public=False, samples=None, differentiable=False))
register(OpInfo("scatter_", "", scatter_, public=False, samples=None, differentiable=False))
