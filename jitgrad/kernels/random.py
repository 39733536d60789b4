"""Random-number kernels: PyTorch's CPU generator (mt19937) and its transforms, bit for bit.

Everything here works on the generator's raw state and on flat, C-contiguous 1-D output
arrays; ``jitgrad._random`` owns the state, the locking and the reshaping.

Generator state (mirrors ``at::mt19937`` in ATen/core/MT19937RNGEngine.h)
------------------------------------------------------------------------
* ``mt``  -- ``uint32[624]``, the Mersenne-Twister state vector
* ``pos`` -- ``int64[2]`` = ``[left, next]``; a draw does ``if --left == 0: twist()``
  and then tempers ``mt[next++]``, exactly like ATen, so the counters can be exported in
  PyTorch's ``get_rng_state`` layout.
* ``cache`` -- ``float64[2]`` = ``[valid, value]``, the Box-Muller sample PyTorch keeps
  for ``normal_distribution<double>`` (``next_double_normal_sample_``).

Each kernel copies ``left``/``next`` into locals, draws, and writes them back.  Bulk
kernels produce raw words a chunk at a time (:func:`_raw`) and transform them in a
second, vectorisable loop.

Floating point: PyTorch's wheels build ``aten/src/ATen/native/cpu`` with GCC once per CPU
capability, and GCC contracts ``a * b + c`` into a fused multiply-add in the AVX2/AVX512
builds but has no FMA in the baseline x86-64 build.  Kernels whose result depends on that
take ``use_fma`` and call :func:`_fma` (LLVM's ``llvm.fma``, exactly rounded) where GCC
fuses; the ``* std + mean`` of the >= 16-element normal fill is fused in every build.
Numba itself never contracts (no fastmath), so unfused code is what it says.
log/sin/cos/log1p lower to the same glibc libm calls ATen makes, and the AVX builds'
float32 Box-Muller (avx_mathfun.h) is emulated lane by lane, FMA contractions included.
"""
import math

import numpy as np
from ._jit import njit
from numba.core import types
from numba.extending import intrinsic

N = 624
M = 397
MATRIX_A = 0x9908B0DF
UMASK = 0x80000000
LMASK = 0x7FFFFFFF

_TWO_POW_M24 = 1.0 / 16777216.0          # 1 / 2**24  (float digits)
_TWO_POW_M53 = 1.0 / 9007199254740992.0  # 1 / 2**53  (double digits)
_TWO_PI = 6.283185307179586              # 2.0f * c10::pi<double>, i.e. 2*pi as a double


# ----------------------------------------------------------------------------- fma
# ``intrinsic`` generates LLVM IR inline in the calling jitted function and takes no
# ``cache`` option; the @njit(cache=True) kernels that call it cache the generated code.
@intrinsic
def _fma(typingctx, a, b, c):
    """Fused multiply-add ``a * b + c`` with a single rounding (llvm.fma)."""
    if isinstance(a, types.Float) and a == b and a == c:
        def codegen(context, builder, signature, args):
            return builder.fma(args[0], args[1], args[2])
        return a(a, b, c), codegen
    return None


# ----------------------------------------------------------------------------- mt19937
@njit(cache=True)
def _twist(mt):
    # at::mt19937_engine::next_state
    for k in range(N - M):
        y = (mt[k] & UMASK) | (mt[k + 1] & LMASK)
        mt[k] = mt[k + M] ^ (y >> 1) ^ (MATRIX_A if mt[k + 1] & 1 else 0)
    for k in range(N - M, N - 1):
        y = (mt[k] & UMASK) | (mt[k + 1] & LMASK)
        mt[k] = mt[k + M - N] ^ (y >> 1) ^ (MATRIX_A if mt[k + 1] & 1 else 0)
    y = (mt[N - 1] & UMASK) | (mt[0] & LMASK)
    mt[N - 1] = mt[M - 1] ^ (y >> 1) ^ (MATRIX_A if mt[0] & 1 else 0)


@njit(cache=True)
def _draw(mt, left, nxt):
    """One 32-bit output (as int64) -> (value, left, next); ``CPUGeneratorImpl::random``."""
    left -= 1
    if left == 0:
        _twist(mt)
        left = N
        nxt = 0
    y = np.int64(mt[nxt])
    nxt += 1
    y ^= y >> 11
    y ^= (y << 7) & 0x9D2C5680
    y ^= (y << 15) & 0xEFC60000
    y ^= y >> 18
    return y, left, nxt


_BLK = 2048  # outputs per chunk of raw words in the bulk kernels


@njit(cache=True)
def _raw(mt, left, nxt, buf, m):
    """The next ``m`` outputs into ``buf[:m]`` (uint32); returns the new (left, next).

    Same stream and counters as ``m`` calls of :func:`_draw`: at (left, next) there are
    ``left - 1`` words before the next twist, and the draw that twists leaves
    (N, 1)."""
    i = 0
    while i < m:
        avail = left - 1
        if avail == 0:
            _twist(mt)
            left = N + 1
            nxt = 0
            avail = N
        take = min(avail, m - i)
        for k in range(take):
            y = np.int64(mt[nxt + k])
            y ^= y >> 11
            y ^= (y << 7) & 0x9D2C5680
            y ^= (y << 15) & 0xEFC60000
            y ^= y >> 18
            buf[i + k] = y
        i += take
        nxt += take
        left -= take
    return left, nxt


@njit(cache=True)
def fill_u32(mt, pos, out):
    """Raw ``random()`` outputs into a uint32 array."""
    left, nxt = _raw(mt, pos[0], pos[1], out, out.size)
    pos[0] = left
    pos[1] = nxt


# ----------------------------------------------------------------------------- uniform
@njit(cache=True)
def _uniform_f32(mt, left, nxt, out, start, stop, lo, rng, use_fma):
    # out[start:stop] = uniform_real_distribution<float>(lo, lo + rng)
    scale = np.float32(_TWO_POW_M24)
    buf = np.empty(_BLK, dtype=np.uint32)
    i = start
    while i < stop:
        m = min(_BLK, stop - i)
        left, nxt = _raw(mt, left, nxt, buf, m)
        if use_fma:
            for k in range(m):
                out[i + k] = _fma(np.float32(buf[k] & 0xFFFFFF) * scale, rng, lo)
        else:
            for k in range(m):
                out[i + k] = np.float32(buf[k] & 0xFFFFFF) * scale * rng + lo
        i += m
    return left, nxt


@njit(cache=True)
def _uniform_f64(mt, left, nxt, out, start, stop, lo, rng, use_fma):
    # out[start:stop] = uniform_real_distribution<double>(lo, lo + rng), random64() each
    buf = np.empty(2 * _BLK, dtype=np.uint32)
    i = start
    while i < stop:
        m = min(_BLK, stop - i)
        left, nxt = _raw(mt, left, nxt, buf, 2 * m)
        if use_fma:
            for k in range(m):
                v = ((np.int64(buf[2 * k]) & 0x1FFFFF) << 32) | np.int64(buf[2 * k + 1])
                out[i + k] = _fma(np.float64(v) * _TWO_POW_M53, rng, lo)
        else:
            for k in range(m):
                v = ((np.int64(buf[2 * k]) & 0x1FFFFF) << 32) | np.int64(buf[2 * k + 1])
                out[i + k] = np.float64(v) * _TWO_POW_M53 * rng + lo
        i += m
    return left, nxt


@njit(cache=True)
def uniform_f32(mt, pos, out, low, high, use_fma):
    """``uniform_real_distribution<float>``: ((u32 & (2^24-1)) * 2^-24) * (to-from) + from,
    all in float32 (``use_fma``: the last multiply-add fused, as GCC does for AVX2/512)."""
    lo = np.float32(low)
    rng = np.float32(np.float32(high) - lo)
    left, nxt = _uniform_f32(mt, pos[0], pos[1], out, 0, out.size, lo, rng, use_fma)
    pos[0] = left
    pos[1] = nxt


@njit(cache=True)
def uniform_f64(mt, pos, out, low, high, use_fma):
    """``uniform_real_distribution<double>``: 53 bits of ``random64()``."""
    left, nxt = _uniform_f64(mt, pos[0], pos[1], out, 0, out.size, low, high - low,
                             use_fma)
    pos[0] = left
    pos[1] = nxt


@njit(cache=True)
def _u53(mt, left, nxt):
    # random64() = (first << 32) | second, masked to the 53 mantissa bits
    hi, left, nxt = _draw(mt, left, nxt)
    lo, left, nxt = _draw(mt, left, nxt)
    return ((hi & 0x1FFFFF) << 32) | lo, left, nxt


# ----------------------------------------------------------------------------- normal
@njit(cache=True, inline="always")
def _normal16_f32(d, o, mean, std):
    # normal_fill_16<float>, libm path (x86-64 'default' build); the final
    # ``* std + mean`` is a true fused multiply-add in every build (measured)
    for j in range(8):
        u1 = np.float32(1.0) - d[o + j]
        u2 = d[o + j + 8]
        radius = math.sqrt(np.float32(-2.0) * math.log(u1))
        theta = np.float32(_TWO_PI * np.float64(u2))
        d[o + j] = _fma(radius * math.cos(theta), std, mean)
        d[o + j + 8] = _fma(radius * math.sin(theta), std, mean)


@njit(cache=True, inline="always")
def _normal16_f64(d, o, mean, std):
    # normal_fill_16<double>: libm log/cos/sin, fused ``* std + mean``
    for j in range(8):
        u1 = 1.0 - d[o + j]
        u2 = d[o + j + 8]
        radius = math.sqrt(-2.0 * math.log(u1))
        theta = _TWO_PI * u2
        d[o + j] = _fma(radius * math.cos(theta), std, mean)
        d[o + j + 8] = _fma(radius * math.sin(theta), std, mean)


# avx_mathfun.h (cephes) constants, as the float32 values the AVX2 build uses
_SQRTHF = np.float32(0.707106781186547524)
_LOG_P = (np.float32(7.0376836292E-2), np.float32(-1.1514610310E-1),
          np.float32(1.1676998740E-1), np.float32(-1.2420140846E-1),
          np.float32(1.4249322787E-1), np.float32(-1.6668057665E-1),
          np.float32(2.0000714765E-1), np.float32(-2.4999993993E-1),
          np.float32(3.3333331174E-1))
_LOG_Q1 = np.float32(-2.12194440e-4)
_LOG_Q2 = np.float32(0.693359375)
_MIN_NORM_POS = np.float32(1.17549435e-38)
_DP1 = np.float32(-0.78515625)
_DP2 = np.float32(-2.4187564849853515625e-4)
_DP3 = np.float32(-3.77489497744594108e-8)
_SIN_P0 = np.float32(-1.9515295891E-4)
_SIN_P1 = np.float32(8.3321608736E-3)
_SIN_P2 = np.float32(-1.6666654611E-1)
_COS_P0 = np.float32(2.443315711809948E-005)
_COS_P1 = np.float32(-1.388731625493765E-003)
_COS_P2 = np.float32(4.166664568298827E-002)
_FOPI = np.float32(1.27323954473516)
_TWO_PI_F32 = np.float32(_TWO_PI)


@njit(cache=True, inline="always")
def _log256(x):
    """One lane of ``log256_ps`` as GCC compiles it for AVX2 (mul+add fused into FMA).

    Only called with x in (0, 1] (x = 1 - uniform), so the NaN mask is never set."""
    one = np.float32(1.0)
    if x < _MIN_NORM_POS:
        x = _MIN_NORM_POS
    m, ex = math.frexp(x)            # bit tricks of the original: mantissa in [0.5, 1)
    x = np.float32(m)
    e = np.float32(ex)               # (biased_exponent - 0x7f) + 1
    if x < _SQRTHF:
        e = e - one
        x = (x - one) + x
    else:
        x = x - one
    z = x * x
    y = _LOG_P[0]
    y = _fma(y, x, _LOG_P[1])
    y = _fma(y, x, _LOG_P[2])
    y = _fma(y, x, _LOG_P[3])
    y = _fma(y, x, _LOG_P[4])
    y = _fma(y, x, _LOG_P[5])
    y = _fma(y, x, _LOG_P[6])
    y = _fma(y, x, _LOG_P[7])
    y = _fma(y, x, _LOG_P[8])
    y = y * x
    y = _fma(y, z, e * _LOG_Q1)
    y = _fma(-z, np.float32(0.5), y)
    return _fma(e, _LOG_Q2, x + y)


@njit(cache=True, inline="always")
def _sincos256(x):
    """One lane of ``sincos256_ps`` (AVX2 build, FMA-contracted); x = theta >= 0."""
    one = np.float32(1.0)
    zero = np.float32(0.0)
    y = x * _FOPI
    j = np.int64(np.int32(y))        # _mm256_cvttps_epi32 (truncation)
    j = (j + 1) & ~1
    y = np.float32(j)
    swap_sign_sin = (j & 4) != 0
    poly_mask = (j & 2) == 0
    sign_cos = ((~(j - 2)) & 4) != 0
    x = _fma(y, _DP1, x)
    x = _fma(y, _DP2, x)
    x = _fma(y, _DP3, x)
    z = x * x
    yc = _fma(_COS_P0, z, _COS_P1)
    yc = _fma(yc, z, _COS_P2)
    yc = yc * z
    yc = _fma(yc, z, -(z * np.float32(0.5)))
    yc = yc + one
    ys = _fma(_SIN_P0, z, _SIN_P1)
    ys = _fma(ys, z, _SIN_P2)
    ys = ys * z
    ys = _fma(ys, x, x)
    if poly_mask:
        ysin2 = ys
        ysin1 = zero
    else:
        ysin2 = zero
        ysin1 = yc
    ys = ys - ysin2
    yc = yc - ysin1
    s = ysin1 + ysin2
    c = yc + ys
    if swap_sign_sin:
        s = -s
    if sign_cos:
        c = -c
    return s, c


@njit(cache=True, inline="always")
def _normal16_avx2(d, o, mean, std):
    # normal_fill_16_AVX2
    for j in range(8):
        u1 = np.float32(1.0) - d[o + j]
        u2 = d[o + j + 8]
        radius = math.sqrt(np.float32(-2.0) * _log256(u1))
        theta = _TWO_PI_F32 * u2
        s, c = _sincos256(theta)
        d[o + j] = _fma(radius * c, std, mean)
        d[o + j + 8] = _fma(radius * s, std, mean)


@njit(cache=True)
def normal_fill_f32(mt, pos, out, mean, std, avx):
    """``normal_fill`` for a contiguous float32 array with >= 16 elements.

    ``avx``: the AVX2/AVX512 builds (``normal_fill_AVX2``, avx_mathfun.h log/sincos);
    otherwise the scalar libm version."""
    n = out.size
    one = np.float32(1.0)
    zero = np.float32(0.0)
    mean32 = np.float32(mean)
    std32 = np.float32(std)
    left, nxt = _uniform_f32(mt, pos[0], pos[1], out, 0, n, zero, one, False)
    nblk = n // 16
    for b in range(nblk + (1 if n % 16 else 0)):
        o = 16 * b
        if b == nblk:
            # partial last block: redraw the last 16 uniforms and recompute them
            o = n - 16
            left, nxt = _uniform_f32(mt, left, nxt, out, o, n, zero, one, False)
        if avx:
            _normal16_avx2(out, o, mean32, std32)
        else:
            _normal16_f32(out, o, mean32, std32)
    pos[0] = left
    pos[1] = nxt


@njit(cache=True)
def normal_fill_f64(mt, pos, out, mean, std):
    """``normal_fill<double>`` for a contiguous float64 array with >= 16 elements."""
    n = out.size
    left, nxt = _uniform_f64(mt, pos[0], pos[1], out, 0, n, 0.0, 1.0, False)
    nblk = n // 16
    for b in range(nblk + (1 if n % 16 else 0)):
        o = 16 * b
        if b == nblk:
            o = n - 16
            left, nxt = _uniform_f64(mt, left, nxt, out, o, n, 0.0, 1.0, False)
        _normal16_f64(out, o, mean, std)
    pos[0] = left
    pos[1] = nxt


@njit(cache=True)
def normal_serial(mt, pos, cache, out, mean, std, use_fma):
    """``normal_distribution<double>`` one sample at a time (tensors < 16 elements or
    non-contiguous), with the generator's cached second Box-Muller sample.  ``out`` is
    float64; the caller casts (``static_cast<scalar_t>``)."""
    left = pos[0]
    nxt = pos[1]
    for i in range(out.size):
        if cache[0] != 0.0:
            ret = cache[1]
            cache[0] = 0.0
        else:
            v1, left, nxt = _u53(mt, left, nxt)
            v2, left, nxt = _u53(mt, left, nxt)
            u1 = np.float64(v1) * _TWO_POW_M53
            u2 = np.float64(v2) * _TWO_POW_M53
            r = math.sqrt(-2.0 * math.log1p(-u2))
            theta = _TWO_PI * u1
            cache[1] = r * math.sin(theta)
            cache[0] = 1.0
            ret = r * math.cos(theta)
        if use_fma:
            out[i] = _fma(ret, std, mean)
        else:
            out[i] = ret * std + mean
    pos[0] = left
    pos[1] = nxt


# ----------------------------------------------------------------------------- integers
@njit(cache=True)
def randint_fill(mt, pos, out, span, base, use64):
    """``uniform_int_from_to_distribution``: int64((val % range) + base), val from
    ``random64()`` when ``use64`` else ``random()``.  ``span`` / ``base`` are uint64 /
    int64 scalars; ``out`` is int64 (the caller casts to the target dtype)."""
    left = pos[0]
    nxt = pos[1]
    ubase = np.uint64(base)
    n = out.size
    w = 2 if use64 else 1
    buf = np.empty(w * _BLK, dtype=np.uint32)
    i = 0
    while i < n:
        m = min(_BLK, n - i)
        left, nxt = _raw(mt, left, nxt, buf, w * m)
        if use64:
            for k in range(m):
                val = (np.uint64(buf[2 * k]) << np.uint64(32)) | np.uint64(buf[2 * k + 1])
                out[i + k] = np.int64(val % span + ubase)
        else:
            for k in range(m):
                out[i + k] = np.int64(np.uint64(buf[k]) % span + ubase)
        i += m
    pos[0] = left
    pos[1] = nxt


@njit(cache=True)
def randperm_fill(mt, pos, out):
    """``randperm_cpu``: Fisher-Yates with ``random() % (n - i)`` for
    n < UINT32_MAX / 20, else the inside-out variant with ``random64() % (i + 1)``."""
    left = pos[0]
    nxt = pos[1]
    n = out.size
    if n < 214748364:  # std::numeric_limits<uint32_t>::max() / 20
        for i in range(n):
            out[i] = i
        buf = np.empty(_BLK, dtype=np.uint32)
        i = 0
        while i < n - 1:
            m = min(_BLK, n - 1 - i)
            left, nxt = _raw(mt, left, nxt, buf, m)
            for k in range(m):
                z = np.int64(buf[k]) % (n - i) + i
                sav = out[i]
                out[i] = out[z]
                out[z] = sav
                i += 1
    else:
        for i in range(n):
            hi, left, nxt = _draw(mt, left, nxt)
            lo, left, nxt = _draw(mt, left, nxt)
            val = (np.uint64(hi) << np.uint64(32)) | np.uint64(lo)
            z = np.int64(val % np.uint64(i + 1))
            out[i] = i
            out[i] = out[z]
            out[z] = i
    pos[0] = left
    pos[1] = nxt
