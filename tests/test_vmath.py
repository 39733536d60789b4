"""jitgrad's vectorisable math (``jitgrad/kernels/vmath.py``) and the parallel kernel twins.

* accuracy: max error in ulps over dense grids + random bit patterns (the whole float range:
  subnormals, huge magnitudes) + edge values, against float64 references for float32 and
  long double / mpmath references for float64 -- bounds 2 ulp (float32), 4 ulp (float64);
* special values (+-0, +-inf, NaN, subnormals, overflow/underflow boundaries) exactly as NumPy;
* code generation: a loop over each function compiles to packed SIMD code with no call;
* every ``*_parallel`` twin is its serial kernel with ``prange``, and computes the same.
"""
import inspect
import math
import os
import re

import numpy as np
import pytest
from numba import njit

import jitgrad  # noqa: F401  (declares the ops: their loops are generated in kernels.loops)
from jitgrad.kernels import elementwise as ek
from jitgrad.kernels import loops
from jitgrad.kernels import reduction as rk
from jitgrad.kernels import vmath

F32, F64 = np.float32, np.float64
BOUND = {F32: 2.0, F64: 4.0}


# ----------------------------------------------------------------------------- the loops under test
# Not cached on purpose: Numba's cache of a function is keyed on its own file only, so a cached
# copy of these loops would keep testing an old vmath after vmath.py changes.
@njit(error_model="numpy")
def _exp(x, out):
    for i in range(out.size):
        out[i] = vmath.exp(x[i])


@njit(error_model="numpy")
def _expm1(x, out):
    for i in range(out.size):
        out[i] = vmath.expm1(x[i])


@njit(error_model="numpy")
def _log(x, out):
    for i in range(out.size):
        out[i] = vmath.log(x[i])


@njit(error_model="numpy")
def _log1p(x, out):
    for i in range(out.size):
        out[i] = vmath.log1p(x[i])


@njit(error_model="numpy")
def _tanh(x, out):
    for i in range(out.size):
        out[i] = vmath.tanh(x[i])


@njit(error_model="numpy")
def _sigmoid(x, out):
    for i in range(out.size):
        out[i] = vmath.sigmoid(x[i])


@njit(error_model="numpy")
def _softplus(x, out):
    for i in range(out.size):
        out[i] = vmath.softplus(x[i])


@njit(error_model="numpy")
def _erf(x, out):
    for i in range(out.size):
        out[i] = vmath.erf(x[i])


def _apply(kernel, x):
    out = np.empty_like(x)
    kernel(x, out)
    return out


# ----------------------------------------------------------------------------- references
def _sigmoid_ref(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _erf_ref32(x):
    with np.errstate(invalid="ignore"):
        return np.array([math.erf(v) for v in x.astype(F64).tolist()])  # glibc's double erf: < 1 ulp float64


def _erf_ref64(x):
    mpmath = pytest.importorskip("mpmath")
    with mpmath.workdps(30):
        return np.array([np.longdouble(str(mpmath.erf(mpmath.mpf(v)))) if np.isfinite(v) else math.erf(v)
                         for v in x.tolist()], dtype=np.longdouble)


def _ref(numpy_fn):
    """A reference evaluated in float64 (float32 inputs) or long double (float64 inputs)."""
    def ref(x):
        with np.errstate(all="ignore"):
            return numpy_fn(x.astype(np.float64 if x.dtype == F32 else np.longdouble))
    return ref


# name: (kernel, dense range, float32 reference, float64 reference)
CASES = {
    "exp": (_exp, (-110, 100), _ref(np.exp), _ref(np.exp)),
    "expm1": (_expm1, (-50, 100), _ref(np.expm1), _ref(np.expm1)),
    "log": (_log, (0, 10), _ref(np.log), _ref(np.log)),
    "log1p": (_log1p, (-1, 10), _ref(np.log1p), _ref(np.log1p)),
    "tanh": (_tanh, (-12, 12), _ref(np.tanh), _ref(np.tanh)),
    "sigmoid": (_sigmoid, (-110, 110), _ref(_sigmoid_ref), _ref(_sigmoid_ref)),
    "softplus": (_softplus, (-110, 110), _ref(lambda x: np.logaddexp(0, x)), _ref(lambda x: np.logaddexp(0, x))),
    "erf": (_erf, (-7, 7), _erf_ref32, _erf_ref64),
}


def _edges(dt):
    fi = np.finfo(dt)
    v = [0.0, 1.0, 2.0, 0.5, 1e-3, 0.1, 0.625, 0.875, 1.5, 3.0, 8.0, 20.0, 50.0, 88.5, 89.0, 700.0, 710.0,
         745.0, 750.0, 103.0, 104.0, 1e10, 1e30, float(fi.max), float(fi.tiny), float(fi.smallest_subnormal),
         float(fi.tiny) * 0.75, float(fi.eps), math.log(float(fi.max)), math.log(float(fi.tiny))]
    v = np.array(v + [-a for a in v], dtype=F64)
    with np.errstate(over="ignore"):
        v = v.astype(dt)
    with np.errstate(over="ignore"):
        return np.concatenate([v, np.nextafter(v, dt(np.inf)), np.nextafter(v, dt(-np.inf))])


def _inputs(dt, lo, hi, dense):
    rng = np.random.default_rng(20240607)
    ints = np.int32 if dt == F32 else np.int64
    bits = rng.integers(np.iinfo(ints).min, np.iinfo(ints).max, dense // 2, dtype=ints, endpoint=True)
    with np.errstate(over="ignore"):
        grid = np.linspace(lo, hi, dense).astype(dt)
    return np.concatenate([grid, bits.view(dt), _edges(dt)])


def ulp_error(y, ref, dt):
    """|y - ref| in units of the spacing of ``dt`` at ``ref`` (0 where both are the same inf or NaN)."""
    fi = np.finfo(dt)
    with np.errstate(all="ignore"):
        rounded = ref.astype(dt)
        mag = np.abs(rounded)
        spacing = np.spacing(mag).astype(ref.dtype)
        # just below a power of two the spacing is half the one above it
        below = (np.abs(ref) < mag.astype(ref.dtype)) & (np.frexp(mag)[0] == 0.5) & (mag > fi.tiny)
        spacing = np.where(below, spacing / 2, spacing)
        spacing = np.maximum(spacing, ref.dtype.type(fi.smallest_subnormal))
        # a reference beyond the largest finite value rounds to inf: measure against the max
        ref_c = np.where(np.isinf(rounded) & np.isfinite(ref), np.sign(ref) * ref.dtype.type(fi.max), ref)
        err = np.abs(y.astype(ref.dtype) - ref_c) / spacing
    same_inf = np.isinf(y) & np.isinf(rounded) & (np.sign(y) == np.sign(rounded))
    err = np.where(same_inf | (np.isnan(y) & np.isnan(ref)), 0.0, err)
    return np.where(np.isnan(y) != np.isnan(ref), np.inf, err).astype(np.float64)


# ----------------------------------------------------------------------------- accuracy
@pytest.mark.parametrize("dt", [F32, F64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", list(CASES))
def test_accuracy_in_ulps(name, dt):
    kernel, (lo, hi), ref32, ref64 = CASES[name]
    dense = 4000 if (name == "erf" and dt == F64) else 200_000  # mpmath is slow
    x = _inputs(dt, lo, hi, dense)
    y = _apply(kernel, x)
    err = ulp_error(y, (ref32 if dt == F32 else ref64)(x), dt)
    worst = int(np.argmax(err))
    assert err[worst] <= BOUND[dt], f"{name}({x[worst]!r}) = {y[worst]!r}: {err[worst]:.2f} ulp"


def test_erf_float64_accuracy_on_a_wider_sample():
    # the mpmath reference is slow, so the dense float64 test above is small; math.erf (glibc,
    # < 1 ulp) checks many more points with one more ulp of slack
    x = np.concatenate([np.linspace(-6.5, 6.5, 200_001), np.random.default_rng(3).standard_normal(50_000) * 2])
    err = ulp_error(_apply(_erf, x), _erf_ref32(x).astype(np.longdouble), F64)
    assert err.max() <= BOUND[F64] + 1


# ----------------------------------------------------------------------------- special values
NUMPY_FUNCS = {"exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p, "tanh": np.tanh,
               "sigmoid": _sigmoid_ref, "softplus": lambda x: np.logaddexp(x.dtype.type(0), x),
               "erf": lambda x: np.array([math.erf(v) for v in x.tolist()], x.dtype)}


@pytest.mark.parametrize("dt", [F32, F64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", list(CASES))
def test_special_values_as_numpy(name, dt):
    fi = np.finfo(dt)
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1.0, -1.0, float(fi.smallest_subnormal),
                  -float(fi.smallest_subnormal), float(fi.tiny), -float(fi.tiny), float(fi.max), -float(fi.max)], dt)
    y = _apply(CASES[name][0], x)
    with np.errstate(all="ignore"):
        expected = NUMPY_FUNCS[name](x).astype(dt)
    # NaN where NumPy gives NaN; the same infinities and signed zeros bit for bit; the rest
    # (tiny and huge arguments) within the ulp bound
    assert np.array_equal(np.isnan(y), np.isnan(expected)), (x, y, expected)
    exact = (~np.isfinite(expected) | (expected == 0) | (x == 0) | ~np.isfinite(x)) & ~np.isnan(expected)
    assert np.array_equal(y[exact].view(np.uint8), expected[exact].view(np.uint8)), (x[exact], y[exact], expected[exact])
    rest = ~exact & ~np.isnan(expected)
    assert ulp_error(y[rest], expected[rest].astype(np.longdouble), dt).max() <= BOUND[dt]


def test_overflow_and_underflow_boundaries():
    for dt in (F32, F64):
        fi = np.finfo(dt)
        big = np.log(dt(fi.max))  # exp(big) is finite, exp(next above) overflows in NumPy too
        x = np.array([big, np.nextafter(big, dt(np.inf)), np.nextafter(big, dt(np.inf)) * 2], dt)
        with np.errstate(over="ignore"):
            assert np.array_equal(np.isinf(_apply(_exp, x)), np.isinf(np.exp(x)))
            assert np.array_equal(np.isinf(_apply(_expm1, x)), np.isinf(np.expm1(x)))
        # exp rounds into the subnormals, then to zero, like NumPy (within the ulp bound)
        x = np.linspace(np.log(float(fi.smallest_subnormal)) - 2, np.log(float(fi.tiny)), 10_001).astype(dt)
        y = _apply(_exp, x)
        assert (y >= 0).all() and ulp_error(y, _ref(np.exp)(x), dt).max() <= BOUND[dt]


# ----------------------------------------------------------------------------- code generation
def _kernel_body_asm(kernel, *args):
    """The assembly of ``kernel`` compiled for ``args``, without its CPython / cfunc wrappers.

    Compiled afresh (Numba cannot inspect code loaded from its cache); the vmath functions it
    inlines still come from their own cache."""
    options = {k: v for k, v in kernel.targetoptions.items() if k not in ("cache", "nopython")}
    dispatcher = njit(**options)(kernel.py_func)
    dispatcher(*args)
    asm = dispatcher.inspect_asm(dispatcher.signatures[0])
    bodies = {name: body for name, body in re.findall(r"\.type\s+(\S+),@function\n(.*?)\.size\s+\1", asm, re.DOTALL)}
    return [body for name, body in bodies.items()
            if "cpython" not in name and not name.startswith(("cfunc.", "NRT_"))]


def _host_has_avx2():
    try:
        from llvmlite import binding as llvm

        return bool(llvm.get_host_cpu_features().get("avx2")) and not os.environ.get("NUMBA_CPU_NAME")
    except (ImportError, AttributeError, RuntimeError):  # pragma: no cover - no feature query
        return False


@pytest.mark.parametrize("name", list(CASES))
def test_loops_vectorise_without_calls(name):
    for dt in (F32, F64):
        bodies = _kernel_body_asm(CASES[name][0], np.ones(4, dt), np.ones(4, dt))
        assert bodies
        for body in bodies:
            assert not re.findall(r"\bcall", body), f"{name} {dt.__name__}: the loop calls out (libm?)"
            if _host_has_avx2():
                assert re.search(r"%[yz]mm", body), f"{name} {dt.__name__}: no packed 256/512-bit code"


@pytest.mark.parametrize("kernel", [loops.exp_forward, loops.log_forward, loops.tanh_forward, loops.sigmoid_forward],
                         ids=lambda k: k.__name__)
def test_elementwise_kernels_use_vmath(kernel):
    # the hot transcendental kernels of jitgrad's ops compile to call-free loops too
    x = np.linspace(0.1, 2.0, 64, dtype=F32)
    for body in _kernel_body_asm(kernel, x, np.empty_like(x)):
        assert not re.findall(r"\bcall", body), kernel


# ----------------------------------------------------------------------------- parallel twins
def test_every_parallel_twin_is_its_serial_kernels_code_compiled_parallel():
    import jitgrad.kernels as kernels

    assert ek.PARALLEL and isinstance(ek.PARALLEL_THRESHOLD, int) and ek.PARALLEL_THRESHOLD > 0
    # the PARALLEL table's entries are routed through the lazy pool (kernels/__init__.py): the real
    # twins are kept in kernels._TWINS, one per table entry
    twins = {entry[3]: entry[4] for entry in kernels._TWINS}
    assert set(twins) == set(ek.PARALLEL) and ek.PARALLEL is rk.PARALLEL
    assert len(twins) > 60  # kernels/elementwise.py's loops and every declared elementwise op's
    for serial, twin in twins.items():
        assert twin.__name__ == serial.__name__ + "_parallel"
        assert twin.targetoptions.get("parallel") and not serial.targetoptions.get("parallel")
        if serial is rk.sum_all_forward:  # the one hand-paired loop: a blocked sum in another order
            continue
        # one source: the very same code object, compiled twice (no hand-kept copy to drift)
        assert twin.py_func.__code__ is serial.py_func.__code__, serial.__name__
        assert "prange" in serial.py_func.__code__.co_names, serial.__name__


@pytest.mark.parametrize("serial", [loops.tanh_forward, loops.sigmoid_backward, ek.pow_scalar_backward, ek.add_forward],
                         ids=lambda k: k.__name__)
def test_parallel_twin_computes_the_same(serial):
    rng = np.random.default_rng(0)
    n = 10_007
    params = list(inspect.signature(serial.py_func).parameters)
    args = [rng.uniform(0.1, 2.0, n) if p in ("x", "a", "b", "grad", "result") else 1.5 for p in params[:-1]]
    expected, got = np.empty(n), np.empty(n)
    serial(*args, expected)
    ek.PARALLEL[serial](*args, got)
    assert np.array_equal(expected, got)


def test_parallel_sum():
    x = np.random.default_rng(1).standard_normal(100_003).astype(F32)
    exact = x.astype(np.longdouble).sum()
    for kernel in (rk.sum_all_forward, rk.sum_all_forward_parallel):
        assert abs(kernel(x, 0.0) - exact) < 1e-9
    assert rk.sum_all_forward_parallel(np.arange(1000), 0) == 499_500
    assert np.isnan(rk.sum_all_forward_parallel(np.array([1.0, np.nan, 2.0]), 0.0))
