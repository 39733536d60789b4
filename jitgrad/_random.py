"""Random number generation, bit-identical to PyTorch's CPU generator.

Array-level API (the Tensor wrappers live elsewhere).  After ``manual_seed(s)`` every
function below produces exactly what the same sequence of ``torch`` calls produces after
``torch.manual_seed(s)`` on the same machine:

* ``rand(shape, dtype)``            -- ``torch.rand``
* ``randn(shape, dtype)``           -- ``torch.randn``
* ``randint(low, high, shape, dtype)`` -- ``torch.randint``
* ``randperm(n, dtype)``            -- ``torch.randperm``
* ``uniform_(a, low, high)`` / ``normal_(a, mean, std)`` -- the in-place Tensor methods

Each takes an optional ``generator=`` (a :class:`Generator`), defaulting to
:data:`default_generator`.  ``get_rng_state()`` returns PyTorch's own 5056-byte
``CPUGeneratorImplState`` layout, so states are interchangeable with
``torch.get_rng_state()`` / ``torch.set_rng_state()``.

How PyTorch generates (ATen, CPU):

* engine: mt19937 seeded with ``init_genrand(seed & 0xffffffff)``; ``random()`` is one
  32-bit output, ``random64()`` is ``(first << 32) | second``;
* float uniform: ``(random() & (2^24-1)) * 2^-24 * (to-from) + from`` in float32;
  double uniform: the same with ``random64()`` and 53 bits;
* normal, contiguous with >= 16 elements: fill with uniforms, Box-Muller in blocks of 16
  (the last, partial block is redrawn and recomputed), ``* std + mean`` fused; fewer than
  16 elements (or non-contiguous): one ``normal_distribution<double>`` sample per
  element, the second Box-Muller value cached in the generator;
* randint: ``int64((val % range) + low)``, ``val`` from ``random64()`` when
  range >= 2^28 (any dtype; the public-wheel branch of DistributionsHelper.h),
  otherwise ``random()``;
* randperm: Fisher-Yates with ``random() % (n - i)``.

CPU-dependence: PyTorch compiles these kernels once per CPU capability and picks one at
run time (``ATEN_CPU_CAPABILITY`` or CPU detection).  On x86-64 the AVX2 and AVX512 builds
fuse ``a * b + c`` into FMA in uniform_ / small normal_, and their float32 ``randn`` with
>= 16 elements uses the ``avx_mathfun.h`` log/sincos approximations instead of libm.  We
detect the capability the same way (lazily, at the first draw) and reproduce whichever
variant torch would use; all three x86-64 variants are verified bit-for-bit against the
torch 2.13 CPU wheel.
"""
import os
import platform
import threading

import numpy as np

__all__ = [
    "Generator", "default_generator", "manual_seed", "seed", "initial_seed",
    "get_rng_state", "set_rng_state", "rand", "randn", "randint", "randperm",
    "uniform_", "normal_",
]

# seed of a freshly constructed torch.Generator() (c10::detail::default_rng_seed_val)
DEFAULT_GENERATOR_SEED = 67280421310721

_N = 624
_UINT64_MAX = 2 ** 64 - 1

# CPUGeneratorImplState (ATen/CPUGeneratorImpl.cpp), native byte order, 5056 bytes
_STATE_DTYPE = np.dtype({
    "names": ["the_initial_seed", "left", "seeded", "next", "state", "normal_x",
              "normal_y", "normal_rho", "normal_is_valid", "next_float_normal_sample",
              "is_next_float_normal_sample_valid"],
    "formats": ["=u8", "=i4", "=i4", "=u8", ("=u8", (_N,)), "=f8", "=f8", "=f8", "=i4",
                "=f4", "u1"],
    "offsets": [0, 8, 12, 16, 24, 5016, 5024, 5032, 5040, 5048, 5052],
    "itemsize": 5056,
})
STATE_SIZE = _STATE_DTYPE.itemsize

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _kernels():
    # Imported on first use so that importing jitgrad stays free of Numba work.
    from .kernels import random as k
    return k


# ----------------------------------------------------------------------------- capability
_fp_mode = None  # (use_fma, avx, capability) once detected
_X86 = ("x86_64", "amd64", "x86", "i386", "i686")


def _cpu_has():
    """Feature test of the host CPU (LLVM's view, which includes OS support)."""
    try:
        import llvmlite.binding as llvm
        feats = llvm.get_host_cpu_features()
        return lambda name: bool(feats.get(name, False))
    except Exception:  # pragma: no cover - fall back to /proc/cpuinfo
        try:
            with open("/proc/cpuinfo") as f:
                flags = set(f.read().split())
        except OSError:
            flags = set()
        return lambda name: name in flags


def _detect_capability():
    """The ATen CPU kernel build torch dispatches to ('default'/'avx2'/'avx512' on x86-64;
    the rules of compute_cpu_capability in ATen/native/DispatchStub.cpp), else 'default'."""
    if platform.machine().lower() not in _X86:
        return "default"
    env = os.environ.get("ATEN_CPU_CAPABILITY")
    if env in ("default", "avx2", "avx512"):
        return env
    has = _cpu_has()
    if has("avx512vl") and has("avx512bw") and has("avx512dq") and has("fma"):
        return "avx512"
    if has("avx2") and has("fma"):
        return "avx2"
    return "default"


def _set_capability(cap=None):
    """Select the floating-point variant to reproduce: 'default', 'avx2', 'avx512', or
    None to detect.  Returns the capability now in use (tests use this)."""
    global _fp_mode
    if cap is None:
        cap = _detect_capability()
    if cap not in ("default", "avx2", "avx512"):
        raise ValueError(f"unknown CPU capability {cap!r}")
    # use_fma: GCC fuses ``a * b + c`` in the uniform / serial-normal kernels of the AVX2
    # and AVX512 builds; the x86-64 'default' build has no FMA.  Other targets (aarch64)
    # have FMA in the baseline ISA, so GCC fuses there too (not verified).
    use_fma = cap != "default" or platform.machine().lower() not in _X86
    # avx: float32 normal_fill uses normal_fill_AVX2 (avx_mathfun.h log/sincos); the
    # torch 2.13 wheel does so in both its AVX2 and AVX512 builds (measured).
    _fp_mode = (use_fma, cap in ("avx2", "avx512"), cap)
    return cap


def _mode():
    if _fp_mode is None:
        _set_capability(None)
    return _fp_mode


# ----------------------------------------------------------------------------- helpers
def _init_genrand(seed):
    s = seed & 0xFFFFFFFF
    out = [s]
    for j in range(1, _N):
        s = (1812433253 * (s ^ (s >> 30)) + j) & 0xFFFFFFFF
        out.append(s)
    return np.array(out, dtype=np.uint32)


def _normalize_seed(seed):
    s = int(seed)
    if 0 <= s <= _UINT64_MAX:
        return s
    if -(2 ** 63) <= s < 0:
        return s + 2 ** 64  # reinterpreted as uint64, like torch
    raise ValueError(f"seed must be in [-2**63, 2**64), got {s}")


def _normalize_shape(shape):
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    else:
        shape = tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise RuntimeError(f"Trying to create tensor with negative dimension: {shape}")
    return shape


def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def _float_dtype(dtype, what):
    dt = np.dtype(np.float32 if dtype is None else dtype)
    if dt not in _FLOAT_DTYPES:
        raise TypeError(f"{what}: expected float32 or float64, got {dt}")
    return dt


def _check_fill_target(array, what):
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{what}: expected a numpy.ndarray, got {type(array).__name__}")
    if array.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{what}: expected float32 or float64, got {array.dtype}")
    if not array.flags.writeable:
        raise ValueError(f"{what}: array is read-only")


def _fill_in_iteration_order(array, fill):
    """Call ``fill(flat)`` on a 1-D buffer laid out in the order torch's TensorIterator
    visits ``array`` (C order when contiguous; otherwise dimensions sorted by stride,
    the smallest innermost), then store it into ``array``."""
    if array.flags.c_contiguous:
        fill(array.reshape(-1))
        return
    # outermost = largest stride; ties keep the original dimension order
    axes = sorted(range(array.ndim), key=lambda d: -array.strides[d])
    view = array.transpose(axes)
    tmp = np.empty(array.size, dtype=array.dtype)
    fill(tmp)
    view[...] = tmp.reshape(view.shape)


_FLOAT_DIGITS = {np.dtype(np.float32): 24, np.dtype(np.float64): 53}


def _float_to_int64(x):
    # static_cast<int64_t>(float) as x86-64 executes it: out-of-range -> INT64_MIN
    x = float(x)
    if x != x or not -(2.0 ** 63) <= x < 2.0 ** 63:
        return -(2 ** 63)
    return int(x)


def _update_from(frm, digits, ftype):
    # at::native::templates::update_from
    plus1 = _float_to_int64(ftype(frm + 1))
    if plus1 < frm:
        f = abs(frm + 1)
        n = f.bit_length() - 1 if f else 0
        frm = plus1 + (1 << (n - digits + 1))
    return frm


def _update_to(to, digits, ftype):
    # at::native::templates::update_to
    minus1 = _float_to_int64(ftype(to - 1))
    if minus1 >= to:
        t = abs(to - 1)
        n = t.bit_length() - 1 if t else 0
        to = minus1 - (1 << (n - digits + 1))
    return to


# ----------------------------------------------------------------------------- Generator
class Generator:
    """PyTorch's CPU generator (mt19937 + Box-Muller cache), the array-level equivalent of
    ``torch.Generator()``.  A new Generator is seeded with 67280421310721 like torch's."""

    def __init__(self, device="cpu"):
        if str(device) != "cpu":
            raise RuntimeError(f"jitgrad only supports CPU generators, got device={device!r}")
        self.device = "cpu"
        self._lock = threading.RLock()
        self._mt = np.empty(_N, dtype=np.uint32)
        self._pos = np.zeros(2, dtype=np.int64)        # [left, next]
        self._cache = np.zeros(2, dtype=np.float64)    # double normal sample [valid, value]
        self._float_cache = (False, 0.0)               # float normal sample (state only)
        self._seed = 0
        self._reseed(DEFAULT_GENERATOR_SEED)

    # --------------------------------------------------------------- seeding / state
    def _reseed(self, s):
        mt = _init_genrand(s)
        with self._lock:
            self._mt[:] = mt
            self._pos[0] = 1
            self._pos[1] = 0
            self._cache[:] = 0.0
            self._float_cache = (False, 0.0)
            self._seed = s

    def manual_seed(self, seed):
        """Seed with an int in [-2**63, 2**64) (negatives wrap to uint64); returns self."""
        self._reseed(_normalize_seed(seed))
        return self

    def seed(self):
        """Reseed from a non-deterministic 64-bit source and return the seed."""
        s = int.from_bytes(os.urandom(8), "little")
        self._reseed(s)
        return s

    def initial_seed(self):
        return self._seed

    def get_state(self):
        """The state as a uint8 array in PyTorch's CPUGeneratorImplState layout."""
        st = np.zeros((), dtype=_STATE_DTYPE)
        with self._lock:
            st["the_initial_seed"] = self._seed
            st["left"] = self._pos[0]
            st["seeded"] = 1
            st["next"] = self._pos[1]
            st["state"] = self._mt
            if self._cache[0] != 0.0:
                st["normal_is_valid"] = 1
                st["normal_y"] = self._cache[1]
            if self._float_cache[0]:
                st["is_next_float_normal_sample_valid"] = 1
                st["next_float_normal_sample"] = self._float_cache[1]
        return np.frombuffer(st.tobytes(), dtype=np.uint8).copy()

    def set_state(self, new_state):
        """Restore a state from :meth:`get_state` (or from ``torch.get_rng_state()``)."""
        arr = np.asarray(new_state)
        if arr.dtype != np.uint8:
            raise TypeError("RNG state must be a uint8 (byte) array")
        if arr.size != STATE_SIZE:
            raise RuntimeError(
                f"Expected a CPUGeneratorImplState of size {STATE_SIZE} but found the "
                f"input RNG state size to be {arr.size}")
        st = np.frombuffer(np.ascontiguousarray(arr).tobytes(), dtype=_STATE_DTYPE)[0]
        left = int(st["left"])
        nxt = int(st["next"]) & 0xFFFFFFFF
        if not (int(st["seeded"]) != 0 and 0 < left <= _N and nxt <= _N):
            raise RuntimeError("Invalid mt19937 state")
        with self._lock:
            self._mt[:] = st["state"].astype(np.uint32)  # uint64 -> uint32, as std::copy
            self._pos[0] = left
            self._pos[1] = nxt
            self._seed = int(st["the_initial_seed"])
            if int(st["normal_is_valid"]) != 0:
                self._cache[0] = 1.0
                self._cache[1] = float(st["normal_y"])
            else:
                self._cache[:] = 0.0
            if int(st["is_next_float_normal_sample_valid"]) != 0:
                self._float_cache = (True, float(st["next_float_normal_sample"]))
            else:
                self._float_cache = (False, 0.0)
        return self

    # --------------------------------------------------------------- sampling
    def _random_u32(self, n):
        """The next ``n`` raw 32-bit engine outputs (``CPUGeneratorImpl::random``)."""
        out = np.empty(int(n), dtype=np.uint32)
        with self._lock:
            _kernels().fill_u32(self._mt, self._pos, out)
        return out

    def _uniform_flat(self, flat, low, high):
        k = _kernels()
        use_fma = _mode()[0]
        with self._lock:
            if flat.dtype == np.float32:
                k.uniform_f32(self._mt, self._pos, flat, low, high, use_fma)
            else:
                k.uniform_f64(self._mt, self._pos, flat, low, high, use_fma)

    def _normal_flat(self, flat, mean, std, contiguous):
        k = _kernels()
        use_fma, avx, _ = _mode()
        n = flat.size
        with self._lock:
            if contiguous and n >= 16:
                if flat.dtype == np.float32:
                    k.normal_fill_f32(self._mt, self._pos, flat, mean, std, avx)
                else:
                    k.normal_fill_f64(self._mt, self._pos, flat, mean, std)
            elif flat.dtype == np.float64:
                k.normal_serial(self._mt, self._pos, self._cache, flat, mean, std, use_fma)
            else:
                tmp = np.empty(n, dtype=np.float64)
                k.normal_serial(self._mt, self._pos, self._cache, tmp, mean, std, use_fma)
                flat[:] = tmp  # static_cast<float>(double)

    def rand(self, shape, dtype=np.float32):
        shape = _normalize_shape(shape)
        dt = _float_dtype(dtype, "rand")
        out = np.empty(_numel(shape), dtype=dt)
        if out.size:
            self._uniform_flat(out, 0.0, 1.0)
        return out.reshape(shape)

    def randn(self, shape, dtype=np.float32):
        shape = _normalize_shape(shape)
        dt = _float_dtype(dtype, "randn")
        out = np.empty(_numel(shape), dtype=dt)
        if out.size:
            self._normal_flat(out, 0.0, 1.0, True)
        return out.reshape(shape)

    def uniform_(self, array, low=0.0, high=1.0):
        """Fill ``array`` (float32/float64, any strides) in place, like ``Tensor.uniform_``."""
        _check_fill_target(array, "uniform_")
        low = float(low)
        high = float(high)
        fmax = float(np.finfo(array.dtype).max)
        if not -fmax <= low <= fmax:
            raise RuntimeError(f"from is out of bounds for {array.dtype}")
        if not -fmax <= high <= fmax:
            raise RuntimeError(f"to is out of bounds for {array.dtype}")
        if not low <= high:
            raise RuntimeError(
                f"uniform_ expects to return a [from, to) range, but found from={low} > to={high}")
        if not high - low <= fmax:
            raise RuntimeError(
                f"uniform_ expects to-from <= max of {array.dtype}, but found to={high} and "
                f"from={low} which result in to-from to exceed the limit")
        if array.size:
            _fill_in_iteration_order(array, lambda flat: self._uniform_flat(flat, low, high))
        return array

    def normal_(self, array, mean=0.0, std=1.0):
        """Fill ``array`` (float32/float64, any strides) in place, like ``Tensor.normal_``
        (non-contiguous arrays take torch's one-sample-at-a-time path)."""
        _check_fill_target(array, "normal_")
        mean = float(mean)
        std = float(std)
        if not std >= 0.0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
        if array.size:
            contiguous = array.flags.c_contiguous
            _fill_in_iteration_order(
                array, lambda flat: self._normal_flat(flat, mean, std, contiguous))
        return array

    def randint(self, low, high, shape, dtype=np.int64):
        """Integers uniform in [low, high), like ``torch.randint(low, high, shape)``."""
        shape = _normalize_shape(shape)
        dt = np.dtype(np.int64 if dtype is None else dtype)
        frm = int(low)
        to = int(high)
        if not frm < to:
            raise RuntimeError(
                f"random_ expects 'from' to be less than 'to', but got from={frm} >= to={to}")
        if dt.kind == "f":
            if dt not in _FLOAT_DIGITS:
                raise TypeError(f"randint: unsupported dtype {dt}")
            digits = _FLOAT_DIGITS[dt]
            frm = _update_from(frm, digits, dt.type)
            to = _update_to(to, digits, dt.type)
            if not frm < to:
                raise RuntimeError(
                    "random_ expects 'from' casted to dtype to be less than 'to' casted to "
                    f"dtype, but got from={frm} >= to={to}")
            lo_b, hi_b = -float(np.finfo(dt).max), float(np.finfo(dt).max)
        elif dt.kind in "iu":
            info = np.iinfo(dt)
            lo_b, hi_b = info.min, info.max
            if dt.kind == "u" and dt.itemsize == 8:
                hi_b = 2 ** 63 - 1
        else:
            raise TypeError(f"randint: unsupported dtype {dt}")
        if not lo_b <= frm <= hi_b:
            raise RuntimeError(f"from is out of bounds for {dt}")
        if not lo_b <= to - 1 <= hi_b:
            raise RuntimeError(f"to - 1 is out of bounds for {dt}")
        n = _numel(shape)
        out = np.empty(n, dtype=np.int64)
        if n:
            span = (to - frm) & _UINT64_MAX
            use64 = span >= 2 ** 28  # public wheels (non-FBCODE DistributionsHelper.h)
            with self._lock:
                _kernels().randint_fill(self._mt, self._pos, out, np.uint64(span),
                                        np.int64(frm), use64)
        if dt != np.int64:
            out = out.astype(dt)
        return out.reshape(shape)

    def randperm(self, n, dtype=np.int64):
        n = int(n)
        if n < 0:
            raise RuntimeError(f"n must be non-negative, got {n}")
        dt = np.dtype(np.int64 if dtype is None else dtype)
        if dt.kind == "f":
            if n > 2 ** _FLOAT_DIGITS.get(dt, 11) + 1:
                raise RuntimeError(f"n cannot be greater than 2^digits + 1 for {dt}")
        elif dt.kind in "iu":
            if n > int(np.iinfo(dt).max) + 1:
                raise RuntimeError(f"n is too large for result tensor type: {dt}")
        else:
            raise TypeError(f"randperm: unsupported dtype {dt}")
        out = np.empty(n, dtype=np.int64)
        with self._lock:
            _kernels().randperm_fill(self._mt, self._pos, out)
        return out if dt == np.int64 else out.astype(dt)

    def __repr__(self):
        return f"<jitgrad Generator seed={self._seed}>"

    def random64_seed(self):
        """A non-negative int64 from the next 64 raw bits: ``torch.empty((), dtype=torch.int64)
        .random_(generator=self).item()``, which DataLoader and RandomSampler draw seeds with."""
        hi, lo = self._random_u32(2)
        return ((int(hi) << 32) | int(lo)) % 2 ** 63


class TensorGenerator(Generator):
    """``jitgrad.Generator``: :class:`Generator` with ``torch.Generator``'s Tensor-facing state API
    (``get_state`` returns a uint8 Tensor, ``set_state`` takes one, ``clone_state``, ``device``)."""

    def get_state(self):
        from .tensor import _wrap
        return _wrap(Generator.get_state(self))

    def set_state(self, new_state):
        from .tensor import Tensor
        if not isinstance(new_state, Tensor):
            kind = type(new_state)
            name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
            raise TypeError(f"expected a torch.ByteTensor, but got {name}")
        if new_state._data.dtype != np.uint8:
            raise TypeError("RNG state must be a torch.ByteTensor")
        return Generator.set_state(self, new_state._data)

    def clone_state(self):
        """A new Generator in this one's state."""
        g = TensorGenerator()
        Generator.set_state(g, Generator.get_state(self))
        return g

    @property
    def device(self):
        from .tensor import device
        return device("cpu")

    @device.setter
    def device(self, value):  # (Generator.__init__ assigns it)
        pass

    def __reduce__(self):
        return _rebuild_generator, (Generator.get_state(self),)

    def __repr__(self):
        return f"<jitgrad.Generator object at {id(self):#x}>"


TensorGenerator.__name__ = TensorGenerator.__qualname__ = "Generator"
TensorGenerator.__module__ = "jitgrad"


def _rebuild_generator(state):
    return Generator.set_state(TensorGenerator(), state)


# ----------------------------------------------------------------------------- default
default_generator = TensorGenerator()
default_generator.seed()  # per-process random seed, like torch's default CPU generator


def _gen(generator):
    if generator is None:
        return default_generator
    if not isinstance(generator, Generator):
        raise TypeError(f"argument 'generator' must be torch.Generator, not {type(generator).__name__}")
    return generator


def manual_seed(seed):
    """Seed the default generator (``torch.manual_seed``); returns it."""
    return default_generator.manual_seed(seed)


def seed():
    """Reseed the default generator non-deterministically; returns the seed."""
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return Generator.get_state(default_generator)  # (the array; TensorGenerator's is a Tensor)


def set_rng_state(new_state):
    Generator.set_state(default_generator, new_state)


def rand(shape, dtype=np.float32, generator=None):
    return _gen(generator).rand(shape, dtype)


def randn(shape, dtype=np.float32, generator=None):
    return _gen(generator).randn(shape, dtype)


def randint(low, high, shape, dtype=np.int64, generator=None):
    return _gen(generator).randint(low, high, shape, dtype)


def randperm(n, dtype=np.int64, generator=None):
    return _gen(generator).randperm(n, dtype)


def uniform_(array, low=0.0, high=1.0, generator=None):
    return _gen(generator).uniform_(array, low, high)


def normal_(array, mean=0.0, std=1.0, generator=None):
    return _gen(generator).normal_(array, mean, std)
