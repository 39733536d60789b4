"""jitgrad's own vectorisable transcendental math for Numba kernels.

Numba 0.68 / llvmlite 0.50 ship without Intel SVML, so ``np.exp``, ``np.tanh``, ``np.log`` ...
inside a jitted loop are scalar libm calls, and the loop cannot be vectorised.  The functions
here use range reduction + minimax polynomials, bit manipulation through three tiny LLVM
intrinsics, and selects instead of data-dependent branches, so a loop such as

    @njit(cache=True, error_model="numpy")
    def exp_forward(x, out):
        for i in range(out.size):
            out[i] = vmath.exp(x[i])

compiles to packed SIMD code with no call inside (AVX-512 ``zmm`` on an AVX-512 host, AVX2
``ymm`` for a Haswell target; ``tests/test_vmath.py`` checks the assembly).  Each function takes
a float32 or float64 scalar and returns the same type.  float32 computes in float32 with its
own shorter polynomials and int32 bit tricks (8 / 16 lanes per AVX2 / AVX-512 instruction).

    exp  expm1  log  log1p  tanh  sigmoid  softplus  log_sigmoid  erf

Accuracy: max error in ulps of the result's dtype over dense grids + random bit patterns of
the whole float range (+-0, subnormals, huge magnitudes, +-inf, NaN), against float64
references (float32 results) and long double / mpmath references (float64 results); 5
million points per function and dtype (erf float64: 30 thousand against mpmath), on an AMD
EPYC (no FMA contraction: Numba does not fuse without fastmath).  NaN, +-inf and signed zeros
come out as in NumPy.  ``tests/test_vmath.py`` asserts <= 2 ulp (float32), <= 4 ulp (float64).

    ===========  =======  =======
    function     float32  float64
    ===========  =======  =======
    exp          1.03     1.01
    expm1        1.64     2.21
    log          0.82     0.81
    log1p        0.81     0.80
    tanh         1.29     1.29
    sigmoid      1.13     2.30
    softplus     1.55     1.51
    erf          1.23     1.13
    ===========  =======  =======

Notes
-----
* The polynomials are weighted minimax fits (Remez exchange in 50-digit mpmath); each fit's
  own error is far below half an ulp, so the roundings of the evaluation dominate.
* Numba's on-disk cache of a kernel is keyed on the kernel's *own* source file, so kernels
  that inlined an older version of this module would be loaded unchanged.  Importing this
  module therefore deletes the cached kernels beside it whenever this file has changed (see
  the end of the file); kernels cached elsewhere (tests, user code) are not covered.
* Not here: sin/cos (accurate vector versions need a Payne-Hanek reduction for huge
  arguments) and pow (needs a double-double log for a few-ulp bound); kernels keep libm's.
* Results are not bit-identical to NumPy's or PyTorch's (nor are those to each other).
"""
import os
from collections import namedtuple

import numpy as np
from llvmlite import ir
from numba import types

from ._jit import njit
from numba.extending import intrinsic


# ============================================================================ bit-level intrinsics
def _layout(fty):
    """(llvm float type, llvm int type, mantissa bits, exponent bias) of a Numba float type."""
    if fty.bitwidth == 32:
        return ir.FloatType(), ir.IntType(32), 23, 127
    return ir.DoubleType(), ir.IntType(64), 52, 1023


@intrinsic
def _mul_pow2(typingctx, p, n):
    """``p * 2**n`` for a finite, integer-valued float ``n`` with ``|n| <= 2 * max exponent``
    (callers clamp their argument first, NaN included: converting NaN to int is undefined).

    Two exact power-of-two factors ``2**(n//2)`` and ``2**(n - n//2)`` (both normal), so the
    result overflows to inf, or rounds once into the subnormals, exactly as ``ldexp`` does.
    """
    if not (isinstance(p, types.Float) and p == n):
        return None

    def codegen(context, builder, sig, args):
        pv, nv = args
        fty, ity, mbits, bias = _layout(sig.args[0])
        i32 = ir.IntType(32)
        k = builder.fptosi(nv, i32)  # |n| < 2^11: an int32 conversion vectorises on AVX2 too
        k1 = builder.ashr(k, ir.Constant(i32, 1))
        k2 = builder.sub(k, k1)
        scales = []
        for kk in (k1, k2):
            e = builder.add(kk, ir.Constant(i32, bias))
            if ity.width != 32:
                e = builder.sext(e, ity)
            scales.append(builder.bitcast(builder.shl(e, ir.Constant(ity, mbits)), fty))
        return builder.fmul(builder.fmul(pv, scales[0]), scales[1])

    return p(p, n), codegen


@intrinsic
def _split_exponent(typingctx, x):
    """``(m, k)`` with ``x = m * 2**k``, ``sqrt(1/2) <= m < sqrt(2)`` and ``k`` integer-valued,
    for a positive normal ``x`` (garbage otherwise: callers select the special cases)."""
    if not isinstance(x, types.Float):
        return None
    ret = types.UniTuple(x, 2)

    def codegen(context, builder, sig, args):
        fty, ity, mbits, bias = _layout(sig.args[0])
        # Shift the exponent boundary from 1 to sqrt(1/2) (musl's logf trick): adding
        # bits(1) - bits(sqrt(1/2)) carries mantissas >= sqrt(2) into the next exponent.
        if ity.width == 32:
            one, sqrt_half = 0x3F800000, 0x3F3504F3
        else:
            one, sqrt_half = 0x3FF0000000000000, 0x3FE6A09E667F3BCD
        bits = builder.add(builder.bitcast(args[0], ity), ir.Constant(ity, one - sqrt_half))
        k = builder.sub(builder.ashr(bits, ir.Constant(ity, mbits)), ir.Constant(ity, bias))
        mbits_mask = ir.Constant(ity, (1 << mbits) - 1)
        m = builder.bitcast(builder.add(builder.and_(bits, mbits_mask), ir.Constant(ity, sqrt_half)), fty)
        if ity.width != 32:
            k = builder.trunc(k, ir.IntType(32))  # int32 -> double converts packed on AVX2
        kf = builder.sitofp(k, fty)
        return context.make_tuple(builder, sig.return_type, (m, kf))

    return ret(x), codegen


@intrinsic
def _copysign(typingctx, a, b):
    """``|a|`` with the sign bit of ``b`` (LLVM's copysign: a bit operation, no branch)."""
    if not (isinstance(a, types.Float) and a == b):
        return None

    def codegen(context, builder, sig, args):
        t = args[0].type
        fn = builder.module.declare_intrinsic("llvm.copysign", [t], ir.FunctionType(t, [t, t]))
        return builder.call(fn, args)

    return a(a, b), codegen


# ============================================================================ constants per dtype
# Polynomial coefficients, lowest degree first: weighted minimax fits (Remez exchange in
# 50-digit mpmath; the figures in parentheses are each fit's weighted error).
# exp(r) = 1 + r + r^2 P(r) on |r| <= ln2/2 (P: relative error 2^-22.9 / 2^-52.1)
_EXP_P32 = (0.49999999552856284, 0.16666577319893783, 0.041666853345757385, 0.00836314038258434,
            0.0013901285073863094)
_EXP_P64 = (0.5000000000000001, 0.16666666666666644, 0.041666666666624344, 0.00833333333335618,
            0.001388888891712146, 0.0001984126978470441, 2.480152142265828e-05, 2.755735548936216e-06,
            2.762003412053019e-07, 2.50681664889625e-08)
# log(1+f) = f - hfsq + s (hfsq + z T(z)), s = f / (2 + f), z = s^2 <= 0.02944 (T: 2^-29.1 / 2^-58.2)
_LOG_T32 = (0.6666666655408089, 0.40000122095477236, 0.2855079760153966, 0.23330993685336282)
_LOG_T64 = (0.6666666666666666, 0.4000000000000088, 0.28571428570801927, 0.22222222392057692,
            0.18181795606731505, 0.15386241368418008, 0.13268731959035937, 0.1308702607424041)
# tanh(x) = x + x^3 P(x^2) on |x| <= 0.625 (relative error of tanh 2^-32.6 / 2^-56.5)
_TANH_P32 = (-0.3333333080274078, 0.13333206008560758, -0.05394676307516125, 0.021700703266369418,
             -0.008177398305849464, 0.0021429618807794187)
_TANH_P64 = (-0.33333333333332854, 0.1333333333326209, -0.05396825393126771, 0.02186948757609457,
             -0.008863221002628643, 0.0035919891737877067, -0.0014549588777933442, 0.0005863165395520342,
             -0.0002285642092701408, 7.714436429273962e-05, -1.6072568421631014e-05)
# erf(x) = x P(x^2) on |x| < 0.875 (float32) / 1 (float64) (relative error 2^-26.8 / 2^-56.9)
_ERF_P32 = (1.1283791574918252 - 1.0, -0.37612550464236705, 0.1128245532942137, -0.02679146301485309,
            0.005032181280782197, -0.0006203254890352538)
_ERF_P64 = (1.1283791670955126 - 1.0, -0.3761263890318352, 0.11283791670944185, -0.02686617064311147,
            0.0052239776061184795, -0.0008548325929314715, 0.00012055293576906122, -1.4924712302094168e-05,
            1.6447131572079016e-06, -1.6206313762925994e-07, 1.3710980410467934e-08, -7.779468500673891e-10)
# erf(x) = 1 - exp(-x^2) R(x - c) above that, R ~ erfcx: float32 one piece on [0.875, 4]
# (c = 2.4375), float64 two pieces [1, 2] (c = 1.5) and [2, 6] (c = 4) whose coefficients are
# selected per lane (error of erf relative to erf: 2^-27.2 / 2^-56.5, 2^-54.0)
_ERF_R32 = (0.21555480697534268, -0.07755431587522255, 0.02644362678642584, -0.008880643429664686,
            0.002473798570613023, -0.0006246797166630635, 0.0008060940723263818, 0.00036594552794867724,
            0.00014550000724821368)
_ERF_RA64 = (0.32158541645431743, -0.16362291773255996, 0.07615103985552069, -0.032930905299495945,
             0.013377340949891216, -0.005145957554036503, 0.0018861349623114545, -0.0006619298971694749,
             0.00022330886585162987, -7.266104362242437e-05, 2.2871331204569892e-05, -6.961752556694839e-06,
             2.0436752313027788e-06, -6.361417286844083e-07, 2.018341373194971e-07)
_ERF_RB64 = (0.13699945714125186, -0.03238350986968217, 0.007465436103342624, -0.001681089696956108,
             0.00037066769179517717, -7.9482840131365e-05, 1.6900083166305173e-05, -4.397559222844061e-06,
             -7.610910670551467e-07, -1.4564603604208207e-06, -6.987755901382861e-07, -2.597799348821042e-07,
             -5.1525236113860586e-08, -5.347468040675209e-09, 0.0)

_Consts = namedtuple("_Consts", [
    "zero", "half", "one", "two", "inf", "nan", "tiny",  # tiny: the smallest normal number
    "sub_scale", "sub_k",  # subnormal inputs are scaled by 2**sub_k = sub_scale first
    "log2e", "shifter", "ln2_hi", "ln2_lo",  # round-to-integer shifter 1.5 * 2**mantissa_bits
    "exp_lo", "exp_hi", "exp_p",  # exp(x) is 0 below exp_lo, inf above exp_hi
    "expm1_lo",  # expm1(x) is -1 below it
    "log_t",
    "tanh_small", "tanh_p",
    "erf_small", "erf_big", "erf_split", "erf_ca", "erf_cb", "erf_ra", "erf_rb", "erf_p",
])


def _consts(dtype, **fields):
    cast = np.dtype(dtype).type
    return _Consts(**{k: tuple(cast(c) for c in v) if isinstance(v, tuple) else cast(v) for k, v in fields.items()})


_COMMON = {"zero": 0.0, "half": 0.5, "one": 1.0, "two": 2.0, "inf": np.inf, "nan": np.nan, "log2e": 1.4426950408889634}
_F32 = _consts(
    np.float32, **_COMMON, tiny=2.0 ** -126, sub_scale=2.0 ** 24, sub_k=24.0, shifter=1.5 * 2 ** 23,
    # ln2_hi has 9 significant bits, so n * ln2_hi is exact for |n| < 2**15
    ln2_hi=0.693359375, ln2_lo=-0.00021219444170128554,
    exp_lo=-104.0, exp_hi=89.0, exp_p=_EXP_P32, expm1_lo=-30.0, log_t=_LOG_T32,
    tanh_small=0.625, tanh_p=_TANH_P32,
    erf_small=0.875, erf_big=4.0, erf_split=4.0, erf_ca=2.4375, erf_cb=2.4375, erf_ra=_ERF_R32, erf_rb=_ERF_R32,
    erf_p=_ERF_P32)
_SIGMOID_LO32 = np.float32(-110.0)  # sigmoid(x) < 2**-150 rounds to 0 in float32 below it
_F64 = _consts(
    np.float64, **_COMMON, tiny=2.0 ** -1022, sub_scale=2.0 ** 54, sub_k=54.0, shifter=1.5 * 2 ** 52,
    # fdlibm's split: ln2_hi has 32 significant bits, so n * ln2_hi is exact for |n| < 2**21
    ln2_hi=6.93147180369123816490e-01, ln2_lo=1.90821492927058770002e-10,
    exp_lo=-746.0, exp_hi=710.0, exp_p=_EXP_P64, expm1_lo=-40.0, log_t=_LOG_T64,
    tanh_small=0.625, tanh_p=_TANH_P64,
    erf_small=1.0, erf_big=6.0, erf_split=2.0, erf_ca=1.5, erf_cb=4.0, erf_ra=_ERF_RA64, erf_rb=_ERF_RB64,
    erf_p=_ERF_P64)




# ============================================================================ the functions
# Each public function is one self-contained Numba function (the shared steps -- range
# reduction, Horner loops over the coefficient tuples -- are repeated rather than factored
# into helpers): every helper would be one more function for Numba to compile per dtype, and
# Numba's IR inlining (``inline="always"``) costs even more compile time (and, in Numba 0.68,
# prunes an ``isinstance`` branch wrongly when an inlined function is inlined into another).
# ``forceinline=True`` marks them ``alwaysinline`` for LLVM, which inlines them into the
# calling kernel's loop and vectorises it.  ``k`` is the constant set of x's dtype, resolved
# while typing.
@njit(forceinline=True, cache=True, error_model="numpy", fastmath=False)
def _horner(c, z):
    """c[0] + c[1] z + c[2] z**2 + ..., by Horner's rule from the highest coefficient (every
    polynomial here: exp's, log's, tanh's and erf's fits)."""
    p = c[len(c) - 1]
    for j in range(len(c) - 2, -1, -1):
        p = p * z + c[j]
    return p


@njit(forceinline=True, cache=True, error_model="numpy", fastmath=False)
def _exp_of_clamped(a, k):
    """e**a for ``a`` already clamped into [exp_lo, exp_hi] (never NaN): the core exp, tanh,
    sigmoid, softplus and erf share (expm1 and float32 sigmoid keep the pieces apart)."""
    n = (a * k.log2e + k.shifter) - k.shifter  # round(a / ln2) without a libm call
    r = (a - n * k.ln2_hi) - n * k.ln2_lo  # |r| <= ln2 / 2
    p = _horner(k.exp_p, r)
    return _mul_pow2(k.one + (r + r * r * p), n)


@njit(forceinline=True, cache=True, error_model="numpy", fastmath=False)
def exp(x):
    """e**x."""
    k = _F32 if isinstance(x, np.float32) else _F64
    xc = k.exp_lo if not x >= k.exp_lo else (k.exp_hi if x > k.exp_hi else x)  # NaN -> exp_lo
    y = _exp_of_clamped(xc, k)
    return x if np.isnan(x) else y


@njit(forceinline=True, cache=True, error_model="numpy", fastmath=False)
def expm1(x):
    """e**x - 1, accurate near 0."""
    k = _F32 if isinstance(x, np.float32) else _F64
    xc = k.expm1_lo if not x >= k.expm1_lo else (k.exp_hi if x > k.exp_hi else x)
    n = (xc * k.log2e + k.shifter) - k.shifter
    r = (xc - n * k.ln2_hi) - n * k.ln2_lo
    p = _horner(k.exp_p, r)
    em = r + r * r * p  # expm1(r)
    # expm1(x) = 2**n (em + 1 - 2**-n): one rounding, exact scaling (2**-n may be subnormal)
    y = _mul_pow2(em + (k.one - _mul_pow2(k.one, -n)), n)
    y = x if abs(x) < k.tiny else y  # keeps -0.0 and the subnormals (expm1(x) == x there)
    return x if np.isnan(x) else y


@njit(forceinline=True, cache=True, error_model="numpy", fastmath=False)
def _log_of_reduced(f, e, low, k):
    # log(m 2**e) for f = m - 1 (sqrt(1/2) <= m < sqrt(2)) and low = e ln2_lo (+ log1p's rounding
    # correction): log(1 + f) = f - hfsq + s (hfsq + z T(z)) with s = f / (2 + f), in fdlibm's
    # order: the small terms first, f and e ln2_hi (exact: ln2_hi has few bits) last.  Shared by
    # log, log1p and softplus.
    s = f / (k.two + f)
    z = s * s
    t = _horner(k.log_t, z)
    hfsq = k.half * f * f
    return e * k.ln2_hi - ((hfsq - (s * (hfsq + z * t) + low)) - f)


@njit(forceinline=True, cache=True, error_model="numpy", fastmath=False)
def _log1p_of_reduced(x, u, k):
    # log1p(x) for u = 1 + x rounded, before log1p's special cases (softplus needs none of them)
    m, e = _split_exponent(u)
    # u's rounding error as a relative correction (fdlibm): log1p(x) = log(u) + c; each
    # branch's subtractions are exact (Sterbenz) on its side of u = 2
    c = ((k.one - (u - x)) if u >= k.two else (x - (u - k.one))) / u
    small = e == k.zero  # |x| < ~0.41: f = x exactly, no correction
    f = x if small else m - k.one
    c = k.zero if small else c
    return _log_of_reduced(f, e, e * k.ln2_lo + c, k)


@njit(forceinline=True, cache=True, error_model="numpy", fastmath=False)
def log(x):
    """Natural logarithm."""
    k = _F32 if isinstance(x, np.float32) else _F64
    sub = x < k.tiny
    m, e = _split_exponent(x * k.sub_scale if sub else x)  # x = m 2**e, sqrt(1/2) <= m < sqrt(2)
    e = e - k.sub_k if sub else e
    y = _log_of_reduced(m - k.one, e, e * k.ln2_lo, k)
    y = -k.inf if x == k.zero else y
    y = k.nan if x < k.zero else y
    return x if (np.isnan(x) or x == k.inf) else y


@njit(forceinline=True, cache=True, error_model="numpy", fastmath=False)
def log1p(x):
    """log(1 + x), accurate near 0."""
    k = _F32 if isinstance(x, np.float32) else _F64
    y = _log1p_of_reduced(x, k.one + x, k)
    y = -k.inf if x == -k.one else y
    y = k.nan if x < -k.one else y
    y = x if (x == k.zero or x == k.inf) else y  # keeps -0.0
    return x if np.isnan(x) else y


@njit(forceinline=True, cache=True, error_model="numpy", fastmath=False)
def tanh(x):
    """Hyperbolic tangent."""
    # (laid out as erf: an odd polynomial for small |x|, an exp-based form on a clamped |x|, one
    # selected per lane; the fits and forms are each function's own)
    k = _F32 if isinstance(x, np.float32) else _F64
    # |x| < 0.625: x + x^3 P(x^2)
    z = x * x
    p = _horner(k.tanh_p, z)
    small = x + x * z * p
    # otherwise 1 - 2 / (e**2|x| + 1): cancels at most a factor 0.8; e = inf gives 1
    a = k.two * abs(x)
    a = k.exp_hi if not a <= k.exp_hi else a  # NaN -> exp_hi (selected at the end)
    e = _exp_of_clamped(a, k)
    large = _copysign(k.one - k.two / (e + k.one), x)
    y = small if abs(x) < k.tanh_small else large
    return x if (np.isnan(x) or x == k.zero) else y  # keeps -0.0 (the polynomial gives +0.0)


@njit(forceinline=True, cache=True, error_model="numpy", fastmath=False)
def sigmoid(x):
    """1 / (1 + e**-x)."""
    if isinstance(x, np.float32):
        # e = e**-|x| as an unevaluated sum 2**n (big + lo) and 1 + e as den_hi + den_lo
        # (exact two-sum steps), then one corrected division: plain e / (1 + e) in float32
        # adds the roundings of e, 1 + e and the division (2.0 ulp measured; this: 1.15)
        k = _F32
        a = -abs(x)
        a = _SIGMOID_LO32 if not a >= _SIGMOID_LO32 else a  # below, the result rounds to 0; NaN too
        n = (a * k.log2e + k.shifter) - k.shifter
        r_hi = a - n * k.ln2_hi  # exact
        t = n * k.ln2_lo
        r = r_hi - t
        r_err = (r_hi - r) - t
        p = _horner(k.exp_p, r)
        s2 = r * r * p
        q = r + s2
        q_err = (r - q) + s2
        big = k.one + q
        lo = ((k.one - big) + q) + (q_err + r_err)
        e_hi = _mul_pow2(big, n)
        e_lo = _mul_pow2(lo, n)
        den_hi = k.one + e_hi
        den_lo = ((k.one - den_hi) + e_hi) + e_lo
        num_hi = k.one if x >= k.zero else e_hi
        num_lo = k.zero if x >= k.zero else e_lo
        y = num_hi / den_hi
        y = y + (num_lo - y * den_lo) / den_hi
        return x if np.isnan(x) else y
    k = _F64
    a = -abs(x)
    a = k.exp_lo if not a >= k.exp_lo else a  # e**-|x| <= 1 never overflows; NaN -> exp_lo
    e = _exp_of_clamped(a, k)
    y = (k.one if x >= k.zero else e) / (k.one + e)
    return x if np.isnan(x) else y


@njit(forceinline=True, cache=True, error_model="numpy", fastmath=False)
def softplus(x):
    """log(1 + e**x) = max(x, 0) + log1p(e**-|x|), without overflow."""
    k = _F32 if isinstance(x, np.float32) else _F64
    a = -abs(x)
    a = k.exp_lo if not a >= k.exp_lo else a  # NaN -> exp_lo (selected at the end)
    v = _exp_of_clamped(a, k)  # e**-|x| in [0, 1]
    # log1p(v), for 0 <= v <= 1: none of log1p's special cases
    y = (x if x > k.zero else k.zero) + _log1p_of_reduced(v, k.one + v, k)
    return x if np.isnan(x) else y


@njit(forceinline=True, cache=True, error_model="numpy", fastmath=False)
def log_sigmoid(x):
    """log(sigmoid(x)) = -softplus(-x)."""
    return -softplus(-x)


@njit(forceinline=True, cache=True, error_model="numpy", fastmath=False)
def erf(x):
    """The error function."""
    # (laid out as tanh, which says how; the fits and forms are each function's own)
    k = _F32 if isinstance(x, np.float32) else _F64
    # |x| < erf_small: x + x Q(x^2) (Q = P - 1: x is exact, no binade change)
    z = x * x
    q = _horner(k.erf_p, z)
    small = x + x * q
    # otherwise 1 - e**-x^2 R(|x| - c), R's coefficients picked per lane (piecewise fit)
    a = abs(x)
    a = k.erf_small if not a >= k.erf_small else (k.erf_big if a > k.erf_big else a)  # NaN -> erf_small
    use_a = a < k.erf_split
    d = a - (k.erf_ca if use_a else k.erf_cb)
    ra, rb = k.erf_ra, k.erf_rb
    rr = ra[len(ra) - 1] if use_a else rb[len(rb) - 1]
    for j in range(len(ra) - 2, -1, -1):
        rr = rr * d + (ra[j] if use_a else rb[j])
    b = -(a * a)  # in [-erf_big**2, 0]: no clamping needed
    large = _copysign(k.one - _exp_of_clamped(b, k) * rr, x)
    y = small if abs(x) < k.erf_small else large
    return x if np.isnan(x) else y


# ============================================================================ cache hygiene
def _drop_caches_compiled_with_an_older_vmath():
    """Delete the Numba caches of the kernels beside this module when this file has changed.

    Numba keys a cached kernel on its own source file only, so kernels that inlined an older
    version of these functions would otherwise be loaded from disk unchanged.  Costs two
    ``stat`` calls per import; deletes (and so recompiles) only after an edit of this file.
    """
    try:
        cache_dir = exp._cache._cache_path  # where Numba keeps this package's kernels
        st = os.stat(__file__)
        stamp = f"{st.st_mtime_ns} {st.st_size}"
        stamp_file = os.path.join(cache_dir, "vmath.stamp")
        try:
            with open(stamp_file) as f:
                if f.read() == stamp:
                    return
        except OSError:
            pass
        for name in os.listdir(cache_dir):
            if name.endswith((".nbi", ".nbc")) and not name.startswith("vmath."):
                try:
                    os.remove(os.path.join(cache_dir, name))
                except OSError:  # another process got there first
                    pass
        with open(stamp_file, "w") as f:
            f.write(stamp)
    except (AttributeError, OSError):  # no cache directory (yet), or a read-only one
        pass


_drop_caches_compiled_with_an_older_vmath()
