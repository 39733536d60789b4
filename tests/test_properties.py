"""Property tests (hypothesis) for broadcasting, gradients, dtype promotion and reductions.

* binary ops (add, sub, mul, div, pow) on random broadcast-compatible shape pairs (up to 4-D,
  sizes 0..4, size-1 dims included), float32 and float64: the forward matches NumPy's
  broadcasting; each input's gradient has the input's shape and equals both the analytic
  reduction (the elementwise partial derivative, broadcast, summed back to the input's shape)
  and, when torch is importable, PyTorch's gradient;
* dtype promotion for every pair of {bool, uint8, int32, int64, float32, float64}, with
  dimensioned and 0-d tensors, and tensor-with-Python-scalar, against ``torch.result_type`` and
  the dtype and values of PyTorch's actual result;
* sum / mean / norm over random dims with and without keepdim, against PyTorch (and NumPy).

Example counts are modest and the search is derandomized, so the file runs in seconds and a
failure reproduces on every run.
"""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import jitgrad as jg

try:
    import torch
except ImportError:  # pragma: no cover - the analytic checks still run without torch
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch not importable")

SETTINGS = dict(deadline=None, derandomize=True, database=None)
FLOATS = ["float32", "float64"]
# Forward tolerances against NumPy: a single correctly rounded op (pow: libm, a few ulps).
FWD_TOL = {"float32": dict(rtol=2e-6, atol=0), "float64": dict(rtol=1e-13, atol=0)}
# Gradients are sums of up to 4**4 = 256 broadcast terms: the summation order differs between
# jitgrad, PyTorch and the float64 reference, so allow ~n ulps of the largest term.
GRAD_TOL = {"float32": dict(rtol=1e-5, atol=2e-5), "float64": dict(rtol=1e-11, atol=1e-12)}


def jg_array(arr):
    return jg.from_numpy(np.array(arr, copy=True))


def t_array(arr):
    return torch.from_numpy(np.array(arr, copy=True))


def np_of(t):
    return np.asarray(t.detach().numpy())


def dt_name(t):
    return t.dtype.name if isinstance(t, jg.Tensor) else str(t.dtype).split(".")[-1]


def sum_to_shape(g: np.ndarray, shape: tuple) -> np.ndarray:
    """The analytic reduction of a broadcast gradient back to ``shape``."""
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead))) if lead else g
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


# ------------------------------------------------------------------------------- binary ops
def _operands(op, shapes, dtype, seed):
    rng = np.random.default_rng(seed)
    sa, sb = shapes
    if op == "pow":
        a = rng.uniform(0.5, 2.0, sa)
        b = rng.uniform(-2.0, 2.0, sb)
    else:
        a = rng.uniform(0.5, 2.0, sa) * rng.choice([-1.0, 1.0], sa)
        b = rng.uniform(0.5, 2.0, sb) * rng.choice([-1.0, 1.0], sb)
    return a.astype(dtype), b.astype(dtype)


NP_FORWARD = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide, "pow": np.power}


def _analytic_partials(op, a, b, w):
    """d(sum(w * op(a, b)))/da and /db before reduction, in float64 on the broadcast shape."""
    a, b, w = (np.asarray(v, np.float64) for v in (a, b, w))
    a, b = np.broadcast_arrays(a, b)
    if op == "add":
        return w, w
    if op == "sub":
        return w, -w
    if op == "mul":
        return w * b, w * a
    if op == "div":
        return w / b, -w * a / (b * b)
    return w * b * a ** (b - 1), w * a ** b * np.log(a)  # pow


@settings(max_examples=60, **SETTINGS)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=0, max_side=4),
       op=st.sampled_from(sorted(NP_FORWARD)), dtype=st.sampled_from(FLOATS), seed=st.integers(0, 2**32 - 1))
def test_binary_broadcasting_forward_and_grad(shapes, op, dtype, seed):
    sa, sb = shapes.input_shapes
    a, b = _operands(op, (sa, sb), dtype, seed)
    ja, jb = jg_array(a).requires_grad_(), jg_array(b).requires_grad_()
    out = getattr(jg, op)(ja, jb)

    expected = NP_FORWARD[op](a, b)
    assert out.dtype.name == dtype
    assert tuple(out.shape) == shapes.result_shape == expected.shape
    np.testing.assert_allclose(np_of(out), expected, **FWD_TOL[dtype])

    w = np.random.default_rng(seed + 1).uniform(-1, 1, shapes.result_shape).astype(dtype)
    (out * jg_array(w)).sum().backward()
    pa, pb = _analytic_partials(op, a, b, w)
    for leaf, shape, partial in [(ja, sa, pa), (jb, sb, pb)]:
        assert leaf.grad is not None
        assert tuple(leaf.grad.shape) == shape and leaf.grad.dtype.name == dtype
        np.testing.assert_allclose(np_of(leaf.grad), sum_to_shape(partial, shape), **GRAD_TOL[dtype])

    if torch is not None:
        ta, tb = t_array(a).requires_grad_(), t_array(b).requires_grad_()
        tout = getattr(torch, op)(ta, tb)
        (tout * t_array(w)).sum().backward()
        np.testing.assert_allclose(np_of(out), np_of(tout), **FWD_TOL[dtype])
        np.testing.assert_allclose(np_of(ja.grad), np_of(ta.grad), **GRAD_TOL[dtype])
        np.testing.assert_allclose(np_of(jb.grad), np_of(tb.grad), **GRAD_TOL[dtype])


@settings(max_examples=30, **SETTINGS)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=0, max_side=4),
       op=st.sampled_from(["add", "mul", "sub"]), seed=st.integers(0, 2**32 - 1))
def test_binary_broadcasting_operators_and_reflected(shapes, op, seed):
    # the operator forms (a + b, b * a, ...) broadcast the same way, in either order
    sa, sb = shapes.input_shapes
    a, b = _operands(op, (sa, sb), "float64", seed)
    sym = {"add": "+", "mul": "*", "sub": "-"}[op]
    ja, jb = jg_array(a), jg_array(b)
    for x, y, nx, ny in [(ja, jb, a, b), (jb, ja, b, a)]:
        got = eval(f"x {sym} y")
        np.testing.assert_allclose(np_of(got), eval(f"nx {sym} ny"), rtol=1e-15)
        assert tuple(got.shape) == shapes.result_shape


# ------------------------------------------------------------------------------- dtype promotion
PROMO_DTYPES = ["bool", "uint8", "int32", "int64", "float32", "float64"]


def _values(dtype, shape, rng):
    if dtype == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    if dtype in ("uint8", "int32", "int64"):
        return rng.integers(0, 6, shape).astype(dtype)
    return rng.uniform(-3, 3, shape).astype(dtype)


def _compare_result(jout, tout, what, failures):
    if dt_name(jout) != dt_name(tout):
        failures.append(f"{what}: dtype {dt_name(jout)} != torch {dt_name(tout)}")
        return
    if tuple(jout.shape) != tuple(tout.shape):
        failures.append(f"{what}: shape {tuple(jout.shape)} != torch {tuple(tout.shape)}")
        return
    a, b = np_of(jout), np_of(tout)
    ok = np.array_equal(a, b) if b.dtype.kind in "biu" else np.allclose(a, b, rtol=1e-6, atol=1e-6, equal_nan=True)
    if not ok:
        failures.append(f"{what}: values {a.tolist()} != torch {b.tolist()}")


def _run_both(fn, jargs, targs, what, failures):
    """Run ``fn`` in both libraries; PyTorch raising means jitgrad must raise the same class."""
    try:
        tout = fn(*targs)
    except Exception as e:  # noqa: BLE001
        expected = next(c for c in type(e).__mro__ if c.__module__ == "builtins")
        try:
            fn(*jargs)
        except expected:
            return
        except Exception as je:  # noqa: BLE001
            failures.append(f"{what}: torch raised {expected.__name__}, jitgrad {type(je).__name__}: {je}")
            return
        failures.append(f"{what}: torch raised {expected.__name__} ({e}), jitgrad did not")
        return
    try:
        jout = fn(*jargs)
    except Exception as je:  # noqa: BLE001
        failures.append(f"{what}: jitgrad raised {type(je).__name__}: {je}")
        return
    _compare_result(jout, tout, what, failures)


BINARY_PROMO = {"add": lambda x, y: x + y, "mul": lambda x, y: x * y, "div": lambda x, y: x / y,
                "sub": lambda x, y: x - y, "eq": lambda x, y: x == y}
DIM_COMBOS = {"nd-nd": ((2, 3), (2, 3)), "nd-0d": ((2, 3), ()), "0d-nd": ((), (3,)), "0d-0d": ((), ()),
              "bcast": ((2, 1), (3,))}


@needs_torch
@pytest.mark.parametrize("dims", sorted(DIM_COMBOS))
def test_dtype_promotion_tensor_tensor(dims):
    sa, sb = DIM_COMBOS[dims]
    rng = np.random.default_rng(5)
    failures = []
    for da, db in itertools.product(PROMO_DTYPES, repeat=2):
        a, b = _values(da, sa, rng), _values(db, sb, rng)
        if db != "bool":
            b = np.where(b == 0, 1, b).astype(db)  # keep integer division well defined
        ja, jb = jg_array(a), jg_array(b)
        ta, tb = t_array(a), t_array(b)
        expected = str(torch.result_type(ta, tb)).split(".")[-1]
        if dims == "nd-nd" and jg.promote_types(ja.dtype, jb.dtype).name != expected:
            failures.append(f"promote_types({da}, {db}) = {jg.promote_types(ja.dtype, jb.dtype).name} "
                            f"!= torch {expected}")
        try:
            got = (ja * jb).dtype.name  # mul never changes the category: its dtype is result_type
            if got != expected:
                failures.append(f"result_type({da}{list(sa)}, {db}{list(sb)}): {got} != torch {expected}")
        except Exception as e:  # noqa: BLE001
            failures.append(f"{da} * {db} raised {e!r}")
        for op, fn in BINARY_PROMO.items():
            if op == "sub" and "bool" in (da, db):
                continue  # PyTorch refuses: checked in test_ops_vs_torch.py::test_int_bool_inputs
            if op == "div" and db == "bool":  # dividing by False is division by zero: not this property
                jb_, tb_ = jg_array(np.ones(sb, bool)), t_array(np.ones(sb, bool))
                _run_both(fn, (ja, jb_), (ta, tb_), f"{da}{list(sa)} {op} {db}{list(sb)}", failures)
                continue
            _run_both(fn, (ja, jb), (ta, tb), f"{da}{list(sa)} {op} {db}{list(sb)}", failures)
    assert not failures, "\n".join(failures)


SCALARS = [3, -2, 2.5, True, False, 0.0]


@needs_torch
@pytest.mark.parametrize("dtype", PROMO_DTYPES)
@pytest.mark.parametrize("ndim", [0, 2])
def test_dtype_promotion_tensor_scalar(dtype, ndim):
    rng = np.random.default_rng(6)
    x = _values(dtype, (2, 3)[:ndim], rng)
    if dtype != "bool":
        x = np.where(x == 0, 1, x).astype(dtype)
    jx, tx = jg_array(x), t_array(x)
    failures = []
    for s in SCALARS:
        expected = str(torch.result_type(tx, s)).split(".")[-1]
        for op, fn in BINARY_PROMO.items():
            if op == "sub" and (dtype == "bool" or isinstance(s, bool)):
                continue  # PyTorch refuses: checked in test_ops_vs_torch.py::test_int_bool_inputs
            if not (op == "div" and s in (0.0, False)):  # division by zero: test_special_values
                _run_both(fn, (jx, s), (tx, s), f"{dtype}{list(x.shape)} {op} {s!r}", failures)
            jd, td = (jg_array(np.ones_like(x)), t_array(np.ones_like(x))) if op == "div" and dtype == "bool" \
                else (jx, tx)  # (x is already nonzero for the other dtypes)
            _run_both(lambda x, y: fn(y, x), (jd, s), (td, s), f"{s!r} {op} {dtype}{list(x.shape)}", failures)
        # torch.result_type itself, through the op that never changes the category (mul)
        try:
            got = (jx * s).dtype.name
            if got != expected:
                failures.append(f"result_type({dtype}{list(x.shape)}, {s!r}): {got} != torch {expected}")
        except Exception as e:  # noqa: BLE001
            failures.append(f"{dtype} * {s!r} raised {e!r}")
    assert not failures, "\n".join(failures)


@needs_torch
@settings(max_examples=40, **SETTINGS)
@given(da=st.sampled_from(PROMO_DTYPES), db=st.sampled_from(PROMO_DTYPES),
       shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=1, max_side=3),
       seed=st.integers(0, 2**32 - 1))
def test_dtype_promotion_random_shapes(da, db, shapes, seed):
    # 0-d operands rank below dimensioned ones whatever the shapes: the rule holds in general
    rng = np.random.default_rng(seed)
    sa, sb = shapes.input_shapes
    a, b = _values(da, sa, rng), _values(db, sb, rng)
    failures = []
    _run_both(lambda x, y: x + y, (jg_array(a), jg_array(b)), (t_array(a), t_array(b)),
              f"{da}{list(sa)} + {db}{list(sb)}", failures)
    assert not failures, "\n".join(failures)


# ------------------------------------------------------------------------------- reductions
@st.composite
def reduction_args(draw):
    ndim = draw(st.integers(0, 4))
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=ndim, max_size=ndim)))
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none" or ndim == 0:
        dim = None
    elif kind == "int":
        dim = draw(st.integers(-ndim, ndim - 1))
    else:
        dims = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
        dim = tuple(d - ndim if draw(st.booleans()) else d for d in dims)  # mix in negative dims
    keepdim = draw(st.booleans())
    return shape, dim, keepdim


def _np_reduce(op, x, dim, keepdim, p=2.0):
    axis = dim if dim is None or isinstance(dim, tuple) else (dim,)
    x64 = x.astype(np.float64)
    if op == "sum":
        return x64.sum(axis=axis, keepdims=keepdim)
    if op == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            return x64.mean(axis=axis, keepdims=keepdim)
    if p == np.inf:
        a = np.abs(x64)
        return a.max(axis=axis, keepdims=keepdim, initial=0.0)
    return (np.abs(x64) ** p).sum(axis=axis, keepdims=keepdim) ** (1.0 / p)


@needs_torch
@settings(max_examples=60, **SETTINGS)
@given(args=reduction_args(), op=st.sampled_from(["sum", "mean", "norm"]), dtype=st.sampled_from(FLOATS),
       p=st.sampled_from([2.0, 1.0, 3.0, float("inf"), "fro"]), seed=st.integers(0, 2**32 - 1))
def test_reductions_vs_torch(args, op, dtype, p, seed):
    shape, dim, keepdim = args
    if op == "norm" and p == "fro" and isinstance(dim, tuple) and len(dim) > 2:
        p = 2.0  # 'fro' over > 2 dims is torch's matrix-norm error path (test_norm_fro_over_three_dims)
    if op == "norm" and p == float("inf") and 0 in shape:
        p = 2.0  # the inf-norm of an empty slice is an error in torch (test_norm_inf_of_empty)
    rng = np.random.default_rng(seed)
    x = (rng.uniform(0.2, 2.0, shape) * rng.choice([-1.0, 1.0], shape)).astype(dtype)
    jx, tx = jg_array(x).requires_grad_(), t_array(x).requires_grad_()
    kwargs = {} if dim is None else {"dim": dim, "keepdim": keepdim}  # torch.sum(x, keepdim=) is a TypeError
    if op == "norm":
        kwargs["p"] = p

    try:
        tout = getattr(torch, op)(tx, **kwargs)
    except Exception as e:  # noqa: BLE001 - PyTorch refuses: jitgrad must refuse the same way
        with pytest.raises(next(c for c in type(e).__mro__ if c.__module__ == "builtins")):
            getattr(jg, op)(jx, **kwargs)
        return
    jout = getattr(jg, op)(jx, **kwargs)
    assert dt_name(jout) == dt_name(tout)
    assert tuple(jout.shape) == tuple(tout.shape)
    # up to 256 summands: float32 results may differ by ~n ulps of the summands
    tol = dict(rtol=1e-5, atol=5e-5) if dtype == "float32" else dict(rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(np_of(jout), np_of(tout), equal_nan=True, **tol)
    ref = _np_reduce(op, x, dim, keepdim and dim is not None, 2.0 if p == "fro" else p)
    np.testing.assert_allclose(np_of(jout), ref, equal_nan=True, **tol)

    w = rng.uniform(-1, 1, tuple(tout.shape)).astype(dtype)
    (jout * jg_array(w)).sum().backward()
    (tout * t_array(w)).sum().backward()
    assert tuple(jx.grad.shape) == shape and jx.grad.dtype.name == dtype
    np.testing.assert_allclose(np_of(jx.grad), np_of(tx.grad), equal_nan=True, **tol)


@settings(max_examples=40, **SETTINGS)
@given(args=reduction_args(), seed=st.integers(0, 2**32 - 1))
def test_sum_mean_grad_analytic(args, seed):
    # without torch: d(sum)/dx = w broadcast back; d(mean)/dx = w / count broadcast back
    shape, dim, keepdim = args
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, shape)
    axes = tuple(range(len(shape))) if dim is None else tuple(
        d % max(len(shape), 1) for d in ((dim,) if isinstance(dim, int) else dim))
    kwargs = {"dim": dim}  # dim=None with keepdim is valid; keepdim without dim is not (PyTorch)
    for op in ("sum", "mean"):
        jx = jg_array(x).requires_grad_()
        out = getattr(jg, op)(jx, keepdim=keepdim, **kwargs)
        ref = _np_reduce(op, x, dim, keepdim)
        assert tuple(out.shape) == ref.shape
        np.testing.assert_allclose(np_of(out), ref, rtol=1e-12, atol=1e-12, equal_nan=True)
        w = rng.uniform(-1, 1, ref.shape)
        (out * jg_array(w)).sum().backward()
        wk = w if keepdim else np.expand_dims(w, axes) if axes and len(shape) else w
        count = int(np.prod([shape[a] for a in axes])) if shape else 1
        expected = np.broadcast_to(wk / (count if op == "mean" else 1), shape)
        assert tuple(jx.grad.shape) == shape
        np.testing.assert_allclose(np_of(jx.grad), expected, rtol=1e-12, atol=1e-12)


@needs_torch
def test_norm_fro_over_three_dims():
    # torch.norm's default p='fro' over more than two dims is a matrix norm: PyTorch refuses
    x = np.ones((2, 2, 2))
    with pytest.raises(RuntimeError):
        torch.norm(torch.from_numpy(x), dim=(0, 1, 2))
    with pytest.raises(RuntimeError):
        jg.norm(jg_array(x), dim=(0, 1, 2))


@needs_torch
@pytest.mark.parametrize("shape, dim", [((0,), None), ((2, 0), 1)])
def test_norm_inf_of_empty(shape, dim):
    # the inf-norm has no identity: PyTorch refuses to reduce an empty slice
    kwargs = {} if dim is None else {"dim": dim}
    with pytest.raises(RuntimeError):
        torch.norm(torch.zeros(shape), p=float("inf"), **kwargs)
    with pytest.raises(RuntimeError):
        jg.norm(jg.zeros(shape), p=float("inf"), **kwargs)
