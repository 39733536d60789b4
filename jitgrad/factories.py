"""Tensor factories with PyTorch's signatures: tensor, zeros, ones, arange, rand, ..."""
import math
import numbers
import warnings

import numpy as np

from . import _device, _dtype, _random
from .ops.elementwise import fill_scalar  # (jitgrad imports its ops before this module)
from .ops.registry import OpInfo, register
from .tensor import Tensor, _wrap

_sentinel = object()
_INT64_MIN, _INT64_MAX = -(2 ** 63), 2 ** 63 - 1


def _complex_error(value) -> TypeError:
    return TypeError(f"complex values are not supported: jitgrad has no complex dtype (got {value!r})")


def _allocation_error(exc: Exception, shape, itemsize: int) -> Exception:
    """PyTorch's allocator error for a NumPy allocation that failed (too large for memory, or a
    byte count past int64); any other exception is returned unchanged, to be re-raised."""
    nbytes = math.prod(shape) * itemsize
    if nbytes > _INT64_MAX:
        return RuntimeError(f"Storage size calculation overflowed with sizes={list(shape)}")
    if isinstance(exc, MemoryError) or "too big" in str(exc):
        return RuntimeError(f"[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate "
                            f"memory: you tried to allocate {nbytes} bytes. Error code 12 (Cannot allocate memory)")
    return exc


def _allocate(make, shape, dt: np.dtype) -> np.ndarray:
    """``make()``, an allocation of ``shape``/``dt`` elements, with PyTorch's errors when it cannot be done."""
    try:
        return make()
    except (MemoryError, ValueError) as e:
        raise _allocation_error(e, shape, dt.itemsize) from None


def _fits(value, dt: np.dtype) -> bool:
    """PyTorch's ``overflows`` check for storing a Python number in integer dtype ``dt``
    (unsigned types accept negatives down to -max, which wrap; a NaN fits nothing)."""
    lo, hi = _RANGE[dt]
    if isinstance(value, np.generic):
        value = value.item()  # (a NumPy float16 compared with int64's bounds would overflow)
    return lo <= value <= hi  # (a NaN compares False)


_RANGE = {np.dtype(t): ((-int(np.iinfo(t).max) if np.dtype(t).kind == "u" else int(np.iinfo(t).min)),
                        int(np.iinfo(t).max)) for t in (np.int8, np.int16, np.int32, np.int64, np.uint8)}


def _conversion_error(dt: np.dtype) -> RuntimeError:
    return RuntimeError(f"value cannot be converted to type {dt.name} without overflow")


def _fill_value(value, dt: np.dtype):
    """A fill value checked for ``dt`` as PyTorch's full() does (``fill_scalar``: overflow is an
    error, so is a complex value with an imaginary part; a negative value for an unsigned type
    wraps)."""
    return fill_scalar(dt, value)


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


def _size(size, who="empty") -> tuple:
    """Accept ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])`` and ``f(torch.Size(...))``."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    out = []
    for i, s in enumerate(size):
        if isinstance(s, Tensor):
            # PyTorch's parser takes a one-element integer tensor as an int, no other tensor
            if s._data.size != 1 or s._data.dtype.kind not in "iu":
                raise TypeError(f"{who}(): argument 'size' (position 1) must be tuple of ints, not Tensor")
            s = int(s.item())
        if not isinstance(s, (int, np.integer)):
            raise TypeError(f"size must be tuple of ints, but got {type(s).__name__}")
        if not _INT64_MIN <= s <= _INT64_MAX:
            raise TypeError(f"{who}(): argument 'size' failed to unpack the object at pos {i + 1} with error "
                            '"Overflow when unpacking long long"')
        out.append(int(s))
    for s in out:
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {out}")
    return tuple(out)


def _infer(data, target=None):
    """NumPy array for nested Python data with PyTorch's dtype inference and ragged check.

    ``target`` (a NumPy dtype or None) is the requested dtype: Python numbers are checked against
    it as PyTorch does (no integer past int64, no value that overflows an integer target)."""
    if isinstance(data, Tensor):
        return data._data.copy()
    if isinstance(data, np.ndarray):
        return data.copy()
    if isinstance(data, (numbers.Number, np.generic)) and not isinstance(data, (str, bytes)):
        flat = [data.item() if isinstance(data, np.generic) and data.dtype.kind in "biufc" else data]
        _check_numbers(flat, target)
        if isinstance(data, np.generic):
            return np.array(data)
        if isinstance(data, bool):
            return np.array(data, dtype=np.bool_)
        if isinstance(data, int):
            return np.array(data, dtype=np.int64 if _INT64_MIN <= data <= _INT64_MAX else np.float64)
        return _python_floats(np.array(data, dtype=np.float64), target)
    if isinstance(data, str):
        raise TypeError("new(): invalid data type 'str'")
    if not isinstance(data, (list, tuple)):
        raise RuntimeError(f"Could not infer dtype of {type(data).__name__}")
    arr = _homogeneous(data, target)
    if arr is not None:
        return arr
    _check_ragged(data, 0)
    flat = []
    _flatten(data, flat)
    for v in flat:
        if isinstance(v, str):  # PyTorch reads a leading string as one more dimension
            raise ValueError("too many dimensions 'str'") if v is flat[0] else TypeError("new(): invalid data type 'str'")
        if not isinstance(v, (numbers.Number, np.generic)):
            raise RuntimeError(f"Could not infer dtype of {type(v).__name__}")
    kinds, big = _check_numbers(flat, target)
    # (an integer past int64 reaches here only with a float/bool target: build it in float64)
    arr = np.array(data, dtype=np.float64) if big else np.array(data)
    if "f" in kinds:  # float64 NumPy scalars inside lists count as Python floats
        return _python_floats(arr, target)
    if "i" in kinds:
        return arr if big else arr.astype(np.int64)
    if kinds == {"b"}:
        return arr.astype(np.bool_)
    return arr.astype(_dtype.get_default_dtype().np)  # empty list


def _homogeneous(data, target):
    """The common case, checked in C: nested lists of Python floats, ints or bools that NumPy turns
    into a float, int64 or bool array.  None for anything else -- ragged, empty, strings, complex,
    integers past int64 (NumPy's uint64/object arrays), objects -- which the element-by-element
    path checks and reports as PyTorch does.  The result equals that path's."""
    try:
        arr = np.array(data)
    except (ValueError, TypeError, OverflowError, RuntimeError):
        return None
    kind = arr.dtype.kind
    if not arr.size or kind not in "fib":
        return None
    if target is not None and target.kind in "iu" and kind != "b":
        lo, hi = _RANGE[target]
        if not (lo <= arr.min().item() and arr.max().item() <= hi):  # (Python numbers: exact; NaN compares False)
            raise _conversion_error(target)
    if kind == "f":
        return _python_floats(arr, target)
    return arr if kind == "b" or arr.dtype == np.int64 else arr.astype(np.int64)


def _python_floats(arr: np.ndarray, target) -> np.ndarray:
    """Python floats (built in float64): kept in float64 for a requested dtype, which the caller
    casts to once (a detour through float32 would round ``tensor(1.1, dtype=torch.float64)``);
    otherwise in the default dtype, where a value past float32's range becomes inf, silently, as
    in PyTorch."""
    if target is not None:
        return arr
    with np.errstate(over="ignore"):
        return arr.astype(_dtype.get_default_dtype().np)


def _check_numbers(flat, target):
    """The kinds ('b', 'i', 'f') of the Python numbers in ``flat`` and whether an integer is past
    int64, raising PyTorch's errors: complex values (no complex dtype here), integers past int64
    when the dtype (given, or inferred from the data) is not floating/bool, and values that
    overflow a given integer/float target."""
    kinds = set()
    big = False
    for v in flat:
        if isinstance(v, (bool, np.bool_)):
            kinds.add("b")
        elif isinstance(v, numbers.Integral):
            kinds.add("i")
            if not _INT64_MIN <= v <= _INT64_MAX:
                big = True
        elif isinstance(v, numbers.Real):
            kinds.add("f")
        elif isinstance(v, (complex, np.complexfloating)):
            raise _complex_error(v)
        else:  # a NumPy datetime64 / void scalar: PyTorch's TypeError for an unsupported NumPy type
            _dtype.from_numpy_dtype(v.dtype)
            raise RuntimeError(f"Could not infer dtype of {type(v).__name__}")
    if big and (target.kind in "iu" if target is not None else "f" not in kinds):
        raise ValueError("Overflow when unpacking long long")
    if target is not None and target.kind in "iu":  # (a float target takes any float: 1e300 -> inf)
        for v in flat:
            if not _fits(v, target):
                raise _conversion_error(target)
    return kinds, big


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
    if device is not None or _device._default[0] is not None:
        _device.check_factory(device)
    target = None if dtype is None else _dtype.to_numpy_dtype(dtype)
    if isinstance(data, list) and any(isinstance(x, Tensor) for x in data):
        data = [x._data if isinstance(x, Tensor) else x for x in data]
        arr = np.array(data)
    else:
        arr = _infer(data, target)
    if target is not None:
        if arr.dtype.kind == "i" and target.kind == "u":  # negatives wrap (PyTorch); NumPy's cast does too
            arr = arr.astype(target)
        else:
            with np.errstate(over="ignore", invalid="ignore"):  # range already checked for Python numbers
                arr = arr.astype(target)
    elif arr.dtype not in _dtype._FROM_NP:
        arr = arr.astype(_dtype.from_numpy_dtype(arr.dtype).np)
    if requires_grad and arr.dtype.kind != "f":
        raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
    if not arr.flags.c_contiguous:
        arr = np.array(arr, order="C")  # (np.ascontiguousarray would turn 0-d data into 1-d)
    return _finish(arr, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with a NumPy array or tensor when it can."""
    if device is not None or _device._default[0] is not None:
        _device.check_factory(device)
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, np.ndarray) and (dtype is None or _dtype.to_numpy_dtype(dtype) == data.dtype):
        return _wrap(_shareable(data))
    return tensor(data, dtype=dtype)


asarray = as_tensor


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``ndarray`` (zero-copy; changes show in both)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    return _wrap(_shareable(ndarray))


def _shareable(arr: np.ndarray) -> np.ndarray:
    """``arr`` itself for a zero-copy tensor, or PyTorch's error for a dtype jitgrad lacks.  A
    read-only array is copied (with a warning, where PyTorch warns of undefined behaviour): jitgrad's
    in-place kernels write into a tensor's array, and Numba refuses read-only arrays."""
    _dtype.from_numpy_dtype(arr.dtype)
    if not arr.flags.writeable:
        warnings.warn("The given NumPy array is not writable, and jitgrad does not support non-writable tensors: "
                      "the tensor holds a copy of it, so later changes to the array's memory will not show in it.",
                      UserWarning, stacklevel=3)
        return arr.copy()
    return arr


def _out_dtype(dtype, out, who):
    """A factory's dtype with ``out=``: out's own, or PyTorch's error when ``dtype`` names another."""
    if not isinstance(out, Tensor):
        raise TypeError(f"{who}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if dtype is not None and _np_dtype(dtype, who=who) != out._data.dtype:
        raise RuntimeError(f"dtype {dtype._legacy[:-6]} does not match dtype of out parameter "
                           f"({out.dtype._legacy[:-6]})")
    return out.dtype


def _into(t: Tensor, out, who) -> Tensor:
    """The factory's result, or ``out`` holding it (resized to fit, as PyTorch's factories do)."""
    if out is None:
        return t
    from .ops.registry import write_out

    return write_out(who, t._data, out, warn_resize=False)


def _filled(size, value, dtype, requires_grad, default=None, who="full", out=None):
    if out is not None:
        dtype = _out_dtype(dtype, out, who)
    shape = _size(size, who)
    dt = _np_dtype(dtype, default, who)
    if who == "full":  # zeros/ones fill with 0/1, which fit every dtype
        value = _fill_value(value, dt)
    if who == "zeros":  # calloc'd: a large buffer is not written (nor paged in) until used
        arr = _allocate(lambda: np.zeros(shape, dtype=dt), shape, dt)
    else:
        arr = _allocate(lambda: np.full(shape, value, dtype=dt), shape, dt)
    return _into(_finish(arr, requires_grad), out, who)


def zeros(*size_args, size=None, dtype=None, device=None, requires_grad=False, out=None, layout=None) -> Tensor:
    """A tensor of zeros."""
    if device is not None or _device._default[0] is not None:
        _device.check_factory(device)
    return _filled(size_args if size is None else (size,), 0, dtype, requires_grad, who="zeros", out=out)


def ones(*size_args, size=None, dtype=None, device=None, requires_grad=False, out=None, layout=None) -> Tensor:
    """A tensor of ones."""
    if device is not None or _device._default[0] is not None:
        _device.check_factory(device)
    return _filled(size_args if size is None else (size,), 1, dtype, requires_grad, who="ones", out=out)


def empty(*size_args, size=None, dtype=None, device=None, requires_grad=False, out=None, layout=None, memory_format=None) -> Tensor:
    """An uninitialised tensor."""
    if device is not None or _device._default[0] is not None:
        _device.check_factory(device)
    if out is not None:
        dtype = _out_dtype(dtype, out, "empty")
    shape, dt = _size(size_args if size is None else (size,), "empty"), _np_dtype(dtype, who="empty")
    return _into(_finish(_allocate(lambda: np.empty(shape, dtype=dt), shape, dt), requires_grad), out, "empty")


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    """A tensor filled with ``fill_value`` (dtype inferred from the value, as PyTorch does)."""
    if device is not None or _device._default[0] is not None:
        _device.check_factory(device)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if isinstance(fill_value, (complex, np.complexfloating)) and dtype is None and out is None:
        raise _complex_error(fill_value)  # PyTorch would make a complex tensor: jitgrad has no complex dtype
    if not isinstance(fill_value, (numbers.Number, np.number, np.bool_)):
        raise TypeError(f"full(): argument 'fill_value' (position 2) must be Number, not {type(fill_value).__name__}")
    if dtype is None and out is None:
        dtype = _dtype.from_numpy_dtype(_dtype.scalar_dtype(fill_value))
    return _filled((size,) if isinstance(size, (list, tuple)) else (size,), fill_value, dtype, requires_grad, out=out)


def _like(input: Tensor, dtype):
    return input._data.shape, (_dtype.to_numpy_dtype(dtype) if dtype is not None else input._data.dtype)


def zeros_like(input: Tensor, *, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    if device is not None or _device._default[0] is not None:
        _device.check_factory(device)
    shape, dt = _like(input, dtype)
    return _finish(np.zeros(shape, dt), requires_grad)


def ones_like(input: Tensor, *, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    if device is not None or _device._default[0] is not None:
        _device.check_factory(device)
    shape, dt = _like(input, dtype)
    return _finish(np.ones(shape, dt), requires_grad)


def empty_like(input: Tensor, *, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    if device is not None or _device._default[0] is not None:
        _device.check_factory(device)
    shape, dt = _like(input, dtype)
    return _finish(np.empty(shape, dt), requires_grad)


def full_like(input: Tensor, fill_value, *, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    if device is not None or _device._default[0] is not None:
        _device.check_factory(device)
    shape, dt = _like(input, dtype)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    return _finish(np.full(shape, _fill_value(fill_value, dt), dt), requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) spaced by ``step``."""
    if device is not None or _device._default[0] is not None:
        _device.check_factory(device)
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if out is not None:
        dtype = _out_dtype(dtype, out, "arange")
    if dtype is None:
        is_int = all(isinstance(v, numbers.Integral) for v in vals)
        dt = np.dtype(np.int64) if is_int else _dtype.get_default_dtype().np
    else:
        dt = _dtype.to_numpy_dtype(dtype)
    s, e, st = vals
    if not all(math.isfinite(v) for v in vals):
        raise RuntimeError(f"unsupported range: {s:g} -> {e:g}")
    n = math.ceil((e - s) / st)
    if n < 0:
        raise RuntimeError("upper bound and larger bound inconsistent with step sign")
    # computed in float64 (or int64) then cast, like PyTorch's start + i * step
    work = np.float64 if dt.kind == "f" else np.int64
    arr = _allocate(lambda: (np.arange(n, dtype=work) * st + s).astype(dt), (n,), np.dtype(work))
    return _into(_finish(arr, requires_grad), out, "arange")


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    if device is not None or _device._default[0] is not None:
        _device.check_factory(device)
    if out is not None:
        dtype = _out_dtype(dtype, out, "linspace")
    dt = _np_dtype(dtype)
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    # PyTorch fills the first half forwards from start and the second half backwards from end
    if steps == 1:
        return _into(_finish(np.array([start], dtype=dt), requires_grad), out, "linspace")
    step = (end - start) / (steps - 1) if steps > 1 else 0.0
    half = steps // 2

    def fill():
        i = np.arange(steps, dtype=np.float64)
        return np.where(i < half, start + step * i, end - step * (steps - 1 - i)).astype(dt)

    arr = _allocate(fill, (steps,), dt)
    return _into(_finish(arr, requires_grad), out, "linspace")


def logspace(start, end, steps, base=10.0, *, dtype=None, requires_grad=False) -> Tensor:
    lin = linspace(start, end, steps, dtype=_dtype.float64)._data
    return _finish(np.power(base, lin).astype(_np_dtype(dtype)), requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    """An ``n x m`` identity matrix."""
    if device is not None or _device._default[0] is not None:
        _device.check_factory(device)
    if n < 0:
        raise RuntimeError(f"n must be greater or equal to 0, got {n}")
    if m is not None and m < 0:
        raise RuntimeError(f"m must be greater or equal to 0, got {m}")
    if out is not None:
        dtype = _out_dtype(dtype, out, "eye")
    m = n if m is None else m
    dt = _np_dtype(dtype)
    return _into(_finish(_allocate(lambda: np.eye(n, m, dtype=dt), (n, m), dt), requires_grad), out, "eye")


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


def _float_rand(fn, size, dtype, requires_grad, generator, out=None):
    who = fn.__name__
    if out is not None:
        dtype = _out_dtype(dtype, out, who)
    dt = _np_dtype(dtype)
    if dt.kind != "f":
        name = _dtype.from_numpy_dtype(dt)._legacy[:-6]
        raise RuntimeError(f'"{who}" not implemented for \'{name}\'')
    shape = _size(size, who)
    arr = _allocate(lambda: fn(shape, dt, generator=generator), shape, dt)
    return _into(_finish(arr, requires_grad), out, who)


def rand(*size_args, size=None, generator=None, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    """Uniform samples in [0, 1)."""
    if device is not None or _device._default[0] is not None:
        _device.check_factory(device)
    return _float_rand(_random.rand, size_args if size is None else (size,), dtype, requires_grad, generator, out)


def randn(*size_args, size=None, generator=None, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    """Standard normal samples."""
    if device is not None or _device._default[0] is not None:
        _device.check_factory(device)
    return _float_rand(_random.randn, size_args if size is None else (size,), dtype, requires_grad, generator, out)


def randint(low=0, high=_sentinel, size=_sentinel, *, generator=None, dtype=None, device=None,
            requires_grad=False) -> Tensor:
    """Integers uniform in [low, high); ``randint(high, size)`` or ``randint(low, high, size)``."""
    if device is not None or _device._default[0] is not None:
        _device.check_factory(device)
    if size is _sentinel:
        low, high, size = 0, low, high
    if high is _sentinel:
        raise TypeError("randint() missing required argument 'size'")
    dt = _np_dtype(dtype, np.dtype(np.int64))
    shape = _size((size,) if isinstance(size, int) else (tuple(size),), "randint")
    arr = _allocate(lambda: _random.randint(int(low), int(high), shape, dt, generator=generator), shape, np.dtype(np.int64))
    return _finish(arr, requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A random permutation of ``0 .. n-1``."""
    if device is not None or _device._default[0] is not None:
        _device.check_factory(device)
    (n,) = _size((n,), "randperm")
    dt = _np_dtype(dtype, np.dtype(np.int64))
    arr = _allocate(lambda: _random.randperm(n, dt, generator=generator), (n,), np.dtype(np.int64))
    return _finish(arr, requires_grad)


def rand_like(input: Tensor, *, dtype=None, requires_grad=False, device=None, memory_format=None) -> Tensor:
    if device is not None or _device._default[0] is not None:
        _device.check_factory(device)
    return rand(input._data.shape, dtype=dtype or input.dtype, requires_grad=requires_grad)


def randn_like(input: Tensor, *, dtype=None, requires_grad=False, device=None, memory_format=None) -> Tensor:
    if device is not None or _device._default[0] is not None:
        _device.check_factory(device)
    return randn(input._data.shape, dtype=dtype or input.dtype, requires_grad=requires_grad)


def randint_like(input: Tensor, low=0, high=None, *, dtype=None, requires_grad=False) -> Tensor:
    if high is None:
        low, high = 0, low
    return randint(low, high, input._data.shape, dtype=dtype or input.dtype)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, requires_grad=False) -> Tensor:
    """Normal samples with the given mean and std (scalar parameters)."""
    shape, dt = _size((size,) if isinstance(size, int) else (tuple(size),), "normal"), _np_dtype(dtype)
    out = _allocate(lambda: np.empty(shape, dt), shape, dt)
    _random.normal_(out, float(mean), float(std), generator=generator)
    return _finish(out, requires_grad)


# ---------------------------------------------------------------------------- Tensor methods
def _float_arg(value, who: str, name: str, position: int):
    """A float argument as PyTorch's parser takes it: a number or a 0-d tensor."""
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise TypeError(f"{who}(): argument '{name}' (position {position}) must be float, not Tensor")
        return value.item()
    return value


def _fill_random_(self: Tensor, sample_, first: float, second: float, generator) -> Tensor:
    """Fill ``self`` in place with ``sample_(array, first, second)`` (kernels/random's uniform_ / normal_)."""
    from .ops.inplace import check_inplace, writable

    dst = writable(self._data)  # an expanded tensor: PyTorch's overlap error, not NumPy's read-only one
    check_inplace(self)
    sample_(dst, first, second, generator=generator)
    self._vc[0] += 1
    return self


def uniform_(self: Tensor, from_=0.0, to=1.0, *, generator=None) -> Tensor:
    """Fill ``self`` with uniform samples from ``[from_, to)``, in place."""
    from_, to = _float_arg(from_, "uniform_", "from", 1), _float_arg(to, "uniform_", "to", 2)
    return _fill_random_(self, _random.uniform_, from_, to, generator)


def normal_(self: Tensor, mean=0.0, std=1.0, *, generator=None) -> Tensor:
    """Fill ``self`` with normal samples of the given mean and std, in place."""
    mean, std = _float_arg(mean, "normal_", "mean", 1), _float_arg(std, "normal_", "std", 2)
    return _fill_random_(self, _random.normal_, mean, std, generator)


def new_tensor(self: Tensor, data, dtype=None, requires_grad=False) -> Tensor:
    """A tensor of ``data``, of ``self``'s dtype unless ``dtype`` is given."""
    return tensor(data, dtype=dtype or self.dtype, requires_grad=requires_grad)


def new_zeros(self: Tensor, *size, dtype=None, requires_grad=False) -> Tensor:
    """Zeros of ``size``, of ``self``'s dtype unless ``dtype`` is given."""
    return zeros(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)


def new_ones(self: Tensor, *size, dtype=None, requires_grad=False) -> Tensor:
    """Ones of ``size``, of ``self``'s dtype unless ``dtype`` is given."""
    return ones(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)


def new_empty(self: Tensor, *size, dtype=None, requires_grad=False) -> Tensor:
    """An uninitialised tensor of ``size``, of ``self``'s dtype unless ``dtype`` is given."""
    return empty(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)


def new_full(self: Tensor, size, fill_value, dtype=None, requires_grad=False) -> Tensor:
    """``fill_value`` in a tensor of ``size``, of ``self``'s dtype unless ``dtype`` is given."""
    return full(size, fill_value, dtype=dtype or self.dtype, requires_grad=requires_grad)


# Tensor methods only, as in PyTorch (no torch.new_zeros; torch.normal is another function)
for _method in (uniform_, normal_, new_tensor, new_zeros, new_ones, new_empty, new_full):
    register(OpInfo(_method.__name__, "", _method, public=False, samples=None, differentiable=False))
