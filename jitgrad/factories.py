"""Tensor factories with PyTorch's signatures: tensor, zeros, ones, arange, rand, ..."""
import numbers

import numpy as np

from . import _dtype, _random
from .tensor import Tensor, _wrap

_sentinel = object()


def _finish(arr: np.ndarray, requires_grad: bool) -> Tensor:
    t = _wrap(arr)
    if requires_grad:
        if arr.dtype.kind != "f":
            from . import errors

            raise RuntimeError(errors.FLOAT_ONLY_GRAD)
        t._requires_grad = True
    return t


def _np_dtype(dtype, default=None, who="tensor"):
    if dtype is None:
        return default if default is not None else _dtype.get_default_dtype().np
    if not isinstance(dtype, _dtype.dtype):
        raise TypeError(f"{who}(): argument 'dtype' must be torch.dtype, not {type(dtype).__name__}")
    return dtype.np


def _size(size) -> tuple:
    """Accept ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])`` and ``f(torch.Size(...))``."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = int(s.item())
        if not isinstance(s, (int, np.integer)):
            raise TypeError(f"size must be tuple of ints, but got {type(s).__name__}")
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(size)}")
        out.append(int(s))
    return tuple(out)


def _infer(data):
    """NumPy array for nested Python data with PyTorch's dtype inference and ragged check."""
    if isinstance(data, Tensor):
        return data._data.copy()
    if isinstance(data, np.ndarray):
        return data.copy()
    if isinstance(data, np.generic):
        return np.array(data)
    if isinstance(data, (bool, np.bool_)):
        return np.array(data, dtype=np.bool_)
    if isinstance(data, numbers.Integral):
        return np.array(data, dtype=np.int64)
    if isinstance(data, numbers.Real):
        return np.array(data, dtype=_dtype.get_default_dtype().np)
    if isinstance(data, str):
        raise TypeError("new(): invalid data type 'str'")
    if not isinstance(data, (list, tuple)):
        raise RuntimeError(f"Could not infer dtype of {type(data).__name__}")
    _check_ragged(data, 0)
    flat = []
    _flatten(data, flat)
    for v in flat:
        if isinstance(v, str):
            raise TypeError("new(): invalid data type 'str'")
        if not isinstance(v, (numbers.Number, np.generic)):
            raise RuntimeError(f"Could not infer dtype of {type(v).__name__}")
    kinds = {("b" if isinstance(v, (bool, np.bool_)) else "i" if isinstance(v, numbers.Integral) else "f") for v in flat}
    arr = np.array(data)
    if "f" in kinds:
        # Python floats go to the default dtype; float64 NumPy scalars inside lists do too
        return arr.astype(_dtype.get_default_dtype().np)
    if "i" in kinds:
        return arr.astype(np.int64)
    if kinds == {"b"}:
        return arr.astype(np.bool_)
    return arr.astype(_dtype.get_default_dtype().np)  # empty list


def _check_ragged(seq, dim):
    lengths = None
    kinds = {isinstance(item, (list, tuple, Tensor)) for item in seq}
    if len(kinds) > 1:
        raise TypeError("not a sequence")
    for item in seq:
        if isinstance(item, Tensor):
            item = item._data.tolist()
        if isinstance(item, (list, tuple)):
            if lengths is None:
                lengths = len(item)
            elif len(item) != lengths:
                raise ValueError(f"expected sequence of length {lengths} at dim {dim + 1} (got {len(item)})")
            _check_ragged(item, dim + 1)


def _flatten(seq, out):
    for item in seq:
        if isinstance(item, (list, tuple)):
            _flatten(item, out)
        elif isinstance(item, Tensor):
            _flatten([item._data.tolist()] if item._data.ndim else [item.item()], out)
        else:
            out.append(item)


def tensor(data, *, dtype=None, device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A new leaf tensor holding a copy of ``data`` (nested lists, numbers, arrays or tensors)."""
    if isinstance(data, list) and any(isinstance(x, Tensor) for x in data):
        data = [x._data if isinstance(x, Tensor) else x for x in data]
        arr = np.array(data)
    else:
        arr = _infer(data)
    if dtype is not None:
        arr = arr.astype(_dtype.to_numpy_dtype(dtype))
    elif arr.dtype not in _dtype._FROM_NP:
        arr = arr.astype(_dtype.from_numpy_dtype(arr.dtype).np)
    if requires_grad and arr.dtype.kind != "f":
        raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
    if not arr.flags.c_contiguous:
        arr = np.array(arr, order="C")  # (np.ascontiguousarray would turn 0-d data into 1-d)
    return _finish(arr, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with a NumPy array or tensor when it can."""
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, np.ndarray) and (dtype is None or _dtype.to_numpy_dtype(dtype) == data.dtype):
        _dtype.from_numpy_dtype(data.dtype)
        return _wrap(data)
    return tensor(data, dtype=dtype)


asarray = as_tensor


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``ndarray`` (zero-copy; changes show in both)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    _dtype.from_numpy_dtype(ndarray.dtype)
    return _wrap(ndarray)


def _filled(size, value, dtype, requires_grad, default=None, who="full"):
    arr = np.full(_size(size), value, dtype=_np_dtype(dtype, default, who))
    return _finish(arr, requires_grad)


def zeros(*size_args, size=None, dtype=None, device=None, requires_grad=False, out=None, layout=None) -> Tensor:
    """A tensor of zeros."""
    return _filled(size_args if size is None else (size,), 0, dtype, requires_grad, who="zeros")


def ones(*size_args, size=None, dtype=None, device=None, requires_grad=False, out=None, layout=None) -> Tensor:
    """A tensor of ones."""
    return _filled(size_args if size is None else (size,), 1, dtype, requires_grad, who="ones")


def empty(*size_args, size=None, dtype=None, device=None, requires_grad=False, out=None, layout=None, memory_format=None) -> Tensor:
    """An uninitialised tensor."""
    return _finish(np.empty(_size(size_args if size is None else (size,)), dtype=_np_dtype(dtype)), requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    """A tensor filled with ``fill_value`` (dtype inferred from the value, as PyTorch does)."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if not isinstance(fill_value, (numbers.Number, np.number, np.bool_)):
        raise TypeError(f"full(): argument 'fill_value' (position 2) must be Number, not {type(fill_value).__name__}")
    if dtype is None:
        dtype = _dtype.from_numpy_dtype(_dtype.scalar_dtype(fill_value))
    return _filled((size,) if isinstance(size, (list, tuple)) else (size,), fill_value, dtype, requires_grad)


def _like(input: Tensor, dtype):
    return input._data.shape, (_dtype.to_numpy_dtype(dtype) if dtype is not None else input._data.dtype)


def zeros_like(input: Tensor, *, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    shape, dt = _like(input, dtype)
    return _finish(np.zeros(shape, dt), requires_grad)


def ones_like(input: Tensor, *, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    shape, dt = _like(input, dtype)
    return _finish(np.ones(shape, dt), requires_grad)


def empty_like(input: Tensor, *, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    shape, dt = _like(input, dtype)
    return _finish(np.empty(shape, dt), requires_grad)


def full_like(input: Tensor, fill_value, *, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    shape, dt = _like(input, dtype)
    return _finish(np.full(shape, fill_value, dt), requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) spaced by ``step``."""
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if dtype is None:
        is_int = all(isinstance(v, numbers.Integral) for v in vals)
        dt = np.dtype(np.int64) if is_int else _dtype.get_default_dtype().np
    else:
        dt = _dtype.to_numpy_dtype(dtype)
    s, e, st = vals
    n = int(np.ceil((e - s) / st))
    if n < 0:
        raise RuntimeError("upper bound and larger bound inconsistent with step sign")
    # computed in float64 (or int64) then cast, like PyTorch's start + i * step
    arr = (np.arange(n, dtype=np.float64 if dt.kind == "f" else np.int64) * st + s).astype(dt)
    return _finish(arr, requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    dt = _np_dtype(dtype)
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    # PyTorch fills the first half forwards from start and the second half backwards from end
    if steps == 1:
        return _finish(np.array([start], dtype=dt), requires_grad)
    i = np.arange(steps, dtype=np.float64)
    step = (end - start) / (steps - 1) if steps > 1 else 0.0
    half = steps // 2
    arr = np.where(i < half, start + step * i, end - step * (steps - 1 - i)).astype(dt)
    return _finish(arr, requires_grad)


def logspace(start, end, steps, base=10.0, *, dtype=None, requires_grad=False) -> Tensor:
    lin = linspace(start, end, steps, dtype=_dtype.float64)._data
    return _finish(np.power(base, lin).astype(_np_dtype(dtype)), requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    """An ``n x m`` identity matrix."""
    if n < 0:
        raise RuntimeError(f"n must be greater or equal to 0, got {n}")
    if m is not None and m < 0:
        raise RuntimeError(f"m must be greater or equal to 0, got {m}")
    return _finish(np.eye(n, n if m is None else m, dtype=_np_dtype(dtype)), requires_grad)


# ------------------------------------------------------------------------- random (PyTorch's CPU streams)
def manual_seed(seed: int):
    """Seed the default generator; streams then match PyTorch's CPU generator."""
    _random.manual_seed(seed)
    return _random.default_generator


def seed() -> int:
    return _random.seed()


def initial_seed() -> int:
    return _random.initial_seed()


def get_rng_state() -> Tensor:
    return _wrap(_random.get_rng_state())


def set_rng_state(new_state) -> None:
    _random.set_rng_state(new_state._data if isinstance(new_state, Tensor) else new_state)


def _float_rand(fn, size, dtype, requires_grad, generator):
    dt = _np_dtype(dtype)
    if dt.kind != "f":
        name = _dtype.from_numpy_dtype(dt)._legacy[:-6]
        raise RuntimeError(f'"{fn.__name__}" not implemented for \'{name}\'')
    return _finish(fn(_size(size), dt, generator=generator), requires_grad)


def rand(*size_args, size=None, generator=None, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    """Uniform samples in [0, 1)."""
    return _float_rand(_random.rand, size_args if size is None else (size,), dtype, requires_grad, generator)


def randn(*size_args, size=None, generator=None, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    """Standard normal samples."""
    return _float_rand(_random.randn, size_args if size is None else (size,), dtype, requires_grad, generator)


def randint(low=0, high=_sentinel, size=_sentinel, *, generator=None, dtype=None, device=None,
            requires_grad=False) -> Tensor:
    """Integers uniform in [low, high); ``randint(high, size)`` or ``randint(low, high, size)``."""
    if size is _sentinel:
        low, high, size = 0, low, high
    if high is _sentinel:
        raise TypeError("randint() missing required argument 'size'")
    dt = _np_dtype(dtype, np.dtype(np.int64))
    return _finish(_random.randint(int(low), int(high), _size((size,) if isinstance(size, int) else (tuple(size),)),
                                   dt, generator=generator), requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A random permutation of ``0 .. n-1``."""
    return _finish(_random.randperm(n, _np_dtype(dtype, np.dtype(np.int64)), generator=generator), requires_grad)


def rand_like(input: Tensor, *, dtype=None, requires_grad=False, device=None, memory_format=None) -> Tensor:
    return rand(input._data.shape, dtype=dtype or input.dtype, requires_grad=requires_grad)


def randn_like(input: Tensor, *, dtype=None, requires_grad=False, device=None, memory_format=None) -> Tensor:
    return randn(input._data.shape, dtype=dtype or input.dtype, requires_grad=requires_grad)


def randint_like(input: Tensor, low=0, high=None, *, dtype=None, requires_grad=False) -> Tensor:
    if high is None:
        low, high = 0, low
    return randint(low, high, input._data.shape, dtype=dtype or input.dtype)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, requires_grad=False) -> Tensor:
    """Normal samples with the given mean and std (scalar parameters)."""
    out = np.empty(_size((size,) if isinstance(size, int) else (tuple(size),)), _np_dtype(dtype))
    _random.normal_(out, float(mean), float(std), generator=generator)
    return _finish(out, requires_grad)


def _uniform_(self: Tensor, from_=0.0, to=1.0, *, generator=None) -> Tensor:
    from .ops.inplace import check_inplace

    check_inplace(self)
    _random.uniform_(self._data, from_, to, generator=generator)
    self._vc[0] += 1
    return self


def _normal_(self: Tensor, mean=0.0, std=1.0, *, generator=None) -> Tensor:
    from .ops.inplace import check_inplace

    check_inplace(self)
    _random.normal_(self._data, mean, std, generator=generator)
    self._vc[0] += 1
    return self


Tensor.uniform_ = _uniform_
Tensor.normal_ = _normal_
Tensor.new_tensor = lambda self, data, dtype=None, requires_grad=False: tensor(
    data, dtype=dtype or self.dtype, requires_grad=requires_grad)
Tensor.new_zeros = lambda self, *size, dtype=None, requires_grad=False: zeros(
    *size, dtype=dtype or self.dtype, requires_grad=requires_grad)
Tensor.new_ones = lambda self, *size, dtype=None, requires_grad=False: ones(
    *size, dtype=dtype or self.dtype, requires_grad=requires_grad)
Tensor.new_empty = lambda self, *size, dtype=None, requires_grad=False: empty(
    *size, dtype=dtype or self.dtype, requires_grad=requires_grad)
Tensor.new_full = lambda self, size, fill_value, dtype=None, requires_grad=False: full(
    size, fill_value, dtype=dtype or self.dtype, requires_grad=requires_grad)
