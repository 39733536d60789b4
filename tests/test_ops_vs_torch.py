"""Differential tests: jitgrad against PyTorch running the same call.

* every OpInfo sample, in float32 and float64: forward values and dtype, and the gradients of
  ``(out * w).sum()`` for a random weight ``w``;
* non-contiguous inputs (transposed, permuted and strided-sliced views) for elementwise,
  reduction and matrix-product ops, and broadcasting pairs;
* integer / bool inputs where PyTorch accepts them: result dtype and values (and, where
  PyTorch raises, jitgrad must raise too);
* ``grad_fn`` names and the ``next_functions`` structure of representative expressions.

Tolerances: float64 ``rtol=1e-10`` (all ops here are a handful of correctly rounded libm / BLAS
operations, so the two libraries agree to a few ulps); float32 ``rtol=1e-5, atol=1e-6``.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import jitgrad as jg  # noqa: E402
from jitgrad.ops.registry import OPS  # noqa: E402

from conftest import SEED, sample_constant  # noqa: E402

DTYPES = ["float32", "float64"]
TOL = {"float64": dict(rtol=1e-10, atol=1e-12), "float32": dict(rtol=1e-5, atol=1e-6),
       # float16 appears only as a cast target: both round to nearest, so this is ~1 half ulp slack
       "float16": dict(rtol=1e-3, atol=1e-3)}
# Reductions over up to 60 float32 elements: PyTorch sums pairwise/vectorised, jitgrad in
# another order, so the results may differ by ~n ulps of the *summands* (|x| <= 2), not of the
# (possibly cancelled) result -- hence an absolute tolerance scaled to n * eps32 * max|x|.
REDUCTION_F32 = dict(rtol=1e-5, atol=2e-5)


# ------------------------------------------------------------------------------- helpers
def dt_name(t) -> str:
    return t.dtype.name if isinstance(t, jg.Tensor) else str(t.dtype).split(".")[-1]


def np_of(t) -> np.ndarray:
    return np.asarray(t.detach().numpy())


def assert_same(j, t, tol=None, what=""):
    """Same dtype name, shape and values (exact for bool/int, ``tol`` for floats)."""
    assert isinstance(j, jg.Tensor), f"{what}: jitgrad returned {type(j).__name__}"
    assert dt_name(j) == dt_name(t), f"{what}: dtype {dt_name(j)} != torch {dt_name(t)}"
    assert tuple(j.shape) == tuple(t.shape), f"{what}: shape {tuple(j.shape)} != torch {tuple(t.shape)}"
    a, b = np_of(j), np_of(t)
    if b.dtype.kind in "biu":
        np.testing.assert_array_equal(a, b, err_msg=what)
    else:
        np.testing.assert_allclose(a, b, equal_nan=True, err_msg=what, **(tol or TOL[dt_name(t)]))


def jg_array(arr) -> "jg.Tensor":
    """A jitgrad leaf holding a copy of ``arr`` (via ``from_numpy``, so that these op tests do not
    depend on ``jitgrad.tensor``'s own conversion, which test_factory_shapes_and_dtypes checks)."""
    return jg.from_numpy(np.array(arr, copy=True))


def pair(arr, dtype=None, requires_grad=False):
    """The same data as a jitgrad and a torch tensor."""
    arr = np.asarray(arr)
    if dtype is not None:
        arr = arr.astype(dtype)
    j = jg_array(arr)
    t = torch.tensor(arr.copy(), dtype=getattr(torch, arr.dtype.name))
    if requires_grad:
        j.requires_grad_(True)
        t.requires_grad_(True)
    return j, t


def backward_both(jout, tout, seed=0):
    """Backpropagate ``(out * w).sum()`` in both libraries for the same random ``w`` (summed over
    the outputs that require grad when ``out`` is a tuple)."""
    jouts, touts = (jout, tout) if isinstance(tout, tuple) else ((jout,), (tout,))
    rng = np.random.default_rng(seed)
    jloss = tloss = 0
    for j, t in zip(jouts, touts):
        if t.requires_grad:
            w = rng.uniform(-1, 1, tuple(t.shape)).astype(np_of(t).dtype)
            jloss = jloss + (j * jg_array(w)).sum()
            tloss = tloss + (t * torch.tensor(w)).sum()
    jloss.backward()
    tloss.backward()


def builtin_exception(e: BaseException) -> type:
    """The builtin class of an exception PyTorch raised (user code catches these)."""
    return next(c for c in type(e).__mro__ if c.__module__ == "builtins")


def check_grads(jleaves, tleaves, tol=None, what="grad"):
    for i, (jl, tl) in enumerate(zip(jleaves, tleaves)):
        assert (jl.grad is None) == (tl.grad is None), f"{what} of input {i}: {jl.grad} vs {tl.grad}"
        if tl.grad is not None:
            assert_same(jl.grad, tl.grad, tol, f"{what} of input {i}")


# ------------------------------------------------------------------------------- OpInfo samples
def _is_input(a) -> bool:
    return isinstance(a, np.ndarray) and a.dtype.kind == "f"


def _is_array_list(a) -> bool:
    """A list of arrays (``cat``/``stack`` inputs): its float arrays are differentiable inputs too."""
    return isinstance(a, list) and bool(a) and all(isinstance(v, np.ndarray) for v in a)


def _sample_args(args, dtype, requires_grad):
    """A sample's positional arguments for jitgrad and for torch, and their leaves: float arrays
    become leaves (inside lists too), the rest ``sample_constant``s."""
    jl, tl = [], []

    def one(a):
        if not _is_input(a):
            return sample_constant(a, jg, dtype), sample_constant(a, torch, dtype)
        j, t = pair(a, dtype, requires_grad)
        jl.append(j)
        tl.append(t)
        return j, t

    jargs, targs = [], []
    for a in args:
        if _is_array_list(a):
            js, ts = zip(*[one(v) for v in a])
            jargs.append(list(js))
            targs.append(list(ts))
        else:
            j, t = one(a)
            jargs.append(j)
            targs.append(t)
    return jargs, targs, jl, tl


def _cases():
    cases = []
    for name, info in OPS.items():
        if info.samples is None:
            continue
        try:
            samples = info.samples(np.random.default_rng(SEED))
        except Exception as e:  # noqa: BLE001 - a broken sample generator fails its own test only
            cases.append(pytest.param(name, e, None, id=f"{name}-samples-error"))
            continue
        for i, (args, kwargs) in enumerate(samples):
            cases.append(pytest.param(name, args, kwargs, id=f"{name}-{i}"))
    return cases


CASES = _cases()
_REDUCTIONS = {"sum", "mean", "norm", "dot", "mm", "mv", "bmm", "matmul"}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, args, kwargs", CASES)
def test_sample_matches_torch(name, args, kwargs, dtype, torch_call):
    if isinstance(args, Exception):
        raise args
    info = OPS[name]
    jargs, targs, jl, tl = _sample_args(args, dtype, info.differentiable)
    tol = REDUCTION_F32 if (dtype == "float32" and name in _REDUCTIONS) else None
    jout = info.function(*jargs, **{key: sample_constant(v, jg, dtype) for key, v in kwargs.items()})
    tout = torch_call(info)(*targs, **{key: sample_constant(v, torch, dtype) for key, v in kwargs.items()})
    # a tuple result (split, chunk, unbind): each output compared, with its place among them
    jouts, touts = (jout, tout) if isinstance(tout, tuple) else ((jout,), (tout,))
    assert isinstance(jout, tuple) == isinstance(tout, tuple) and len(jouts) == len(touts), f"{name} outputs"
    for k, (j, t) in enumerate(zip(jouts, touts)):
        assert_same(j, t, tol, f"{name} forward, output {k}")
        if info.differentiable:
            assert type(j.grad_fn).__name__ == type(t.grad_fn).__name__
            assert j.output_nr == t.output_nr
    if info.differentiable:
        backward_both(jout, tout)
        check_grads(jl, tl, tol, f"{name} grad")


@pytest.mark.parametrize("data", [2.5, 3, True, np.array(1.5), np.float32(0.5), [], [[1.0, 2.0]]], ids=repr)
def test_factory_shapes_and_dtypes(data):
    # torch.tensor(2.5) is 0-d: the factory must not promote a 0-d array to 1-d
    j, t = jg.tensor(data), torch.tensor(data)
    assert tuple(j.shape) == tuple(t.shape)
    assert dt_name(j) == dt_name(t)
    assert_same(j, t)


# ------------------------------------------------------------------------------- ops without samples
UNSAMPLED = {
    "clamp_min": lambda m, x: m.clamp_min(x, 0.3),
    "clamp_max": lambda m, x: m.clamp_max(x, -0.1),
    "clamp_min-method": lambda m, x: x.clamp_min(-0.5),
    "clip": lambda m, x: m.clip(x, -0.5, 0.5),
    "view_as": lambda m, x: x.view_as(x.reshape(4, 3)),
    "reshape_as": lambda m, x: x.t().reshape_as(x.reshape(12)),
    "expand_as": lambda m, x: x[:1].expand_as(x),
    "sign": lambda m, x: m.sign(x),
    "to-float32": lambda m, x: x.to(m.float32),
    "float": lambda m, x: x.float(),
    "double": lambda m, x: x.double(),
    "half": lambda m, x: x.half(),
    "type_as": lambda m, x: x.type_as(m.zeros(1, dtype=m.float16)),
    "to-copy": lambda m, x: x.to(m.float64, copy=True),
    "long": lambda m, x: x.long(),
    "int": lambda m, x: x.int(),
    "short": lambda m, x: x.short(),
    "bool": lambda m, x: x.bool(),
    "byte": lambda m, x: x.abs().byte(),
    "char": lambda m, x: x.char(),
    "negative": lambda m, x: m.negative(x),
    "absolute": lambda m, x: m.absolute(x),
    "multiply": lambda m, x: m.multiply(x, x),
    "divide": lambda m, x: m.divide(x, 3.0),
    "true_divide": lambda m, x: m.true_divide(x, x + 5),
    "swapaxes": lambda m, x: m.swapaxes(x, 0, 1),
    "swapdims": lambda m, x: x.swapdims(1, 0),
    "sub-alpha": lambda m, x: m.sub(x, x * 3, alpha=2),
    "rsub-tensor": lambda m, x: m.rsub(x, x.exp()),
    "mT": lambda m, x: x.mT,
    "contiguous": lambda m, x: x.t().contiguous(),
    "clamp-tensor-min": lambda m, x: m.clamp(x, min=x[0]),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", sorted(UNSAMPLED))
def test_unsampled_ops_match_torch(case, dtype):
    fn = UNSAMPLED[case]
    base = np.random.default_rng(3).uniform(0.2, 2.0, (3, 4)) * np.array([1, -1, 1, -1])
    (j, t) = pair(base, dtype, requires_grad=True)
    jout, tout = fn(jg, j), fn(torch, t)
    assert_same(jout, tout, what=case)
    if tout.grad_fn is None:
        assert jout.grad_fn is None
    else:
        assert type(jout.grad_fn).__name__ == type(tout.grad_fn).__name__
    if tout.requires_grad:
        if tout.dtype == torch.float16:  # float16 arithmetic is tested on its own below
            jout, tout = jout.double(), tout.double()
        backward_both(jout, tout)
        check_grads([j], [t], what=case)


@pytest.mark.parametrize("expr", ["x + x", "x * 2", "x.sum()", "x.exp()", "x @ x.t()"])
def test_float16_arithmetic(expr):
    # torch supports half-precision arithmetic on the CPU; jitgrad exposes float16 and .half()
    j, t = pair(np.array([[0.5, -1.25, 2.0], [1.5, 3.0, -0.75]]), "float16")
    jout, tout = eval(expr, {"x": j}), eval(expr, {"x": t})
    assert_same(jout, tout, dict(rtol=2e-3, atol=2e-3), what=expr)  # ~2 half ulps (sums round twice)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bounds", ["both", "min", "max"])
def test_clamp_tensor_bounds(bounds, dtype):
    # lo (4,) and hi (3, 1) are leaves of their own; they cross in the last row (lo > hi), where
    # PyTorch sends the gradient to max, and x touches a bound exactly in two places (-0.5, 0.9)
    x = np.array([[-1.8, -0.5, 1.2, 2.0], [-1.0, -0.9, 0.6, 0.9], [-1.9, -0.7, -1.0, 0.1]])
    lo = np.array([-1.5, -0.5, 0.25, 0.5])
    hi = np.array([[1.7], [0.9], [-0.3]])
    (jx, tx), (jlo, tlo), (jhi, thi) = (pair(a, dtype, requires_grad=True) for a in (x, lo, hi))
    kw = {"both": lambda L, H: dict(min=L, max=H), "min": lambda L, H: dict(min=L),
          "max": lambda L, H: dict(max=H)}[bounds]
    jout, tout = jg.clamp(jx, **kw(jlo, jhi)), torch.clamp(tx, **kw(tlo, thi))
    assert_same(jout, tout, what="clamp")
    assert type(jout.grad_fn).__name__ == type(tout.grad_fn).__name__
    backward_both(jout, tout)
    check_grads([jx, jlo, jhi], [tx, tlo, thi], what=f"clamp({bounds})")


# ------------------------------------------------------------------------------- non-contiguous inputs
# name: (leaf shape, the non-contiguous view taken of it); every view is (3, 4) or (k, 3, 4)
VIEWS = {
    "t": ((4, 3), lambda x: x.t()),
    "strided": ((6, 8), lambda x: x[::2, 1::2]),
    "permuted": ((3, 4, 2), lambda x: x.permute(2, 0, 1)),
    "neg-dim-transpose": ((2, 4, 3), lambda x: x.transpose(-1, -2)[1:]),
}
VIEW_BASES = {name: shape for name, (shape, _) in VIEWS.items()}
UNARY = ["neg", "exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu", "reciprocal"]


def _view_leaf(view, dtype, positive=False, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.3, 2.0, VIEW_BASES[view])
    if not positive:
        base = base * rng.choice([-1.0, 1.0], base.shape)
    j, t = pair(base, dtype, requires_grad=True)
    f = VIEWS[view][1]
    jv, tv = f(j), f(t)
    assert not jv.is_contiguous() and not tv.is_contiguous()
    return j, t, jv, tv


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("view", sorted(VIEW_BASES))
@pytest.mark.parametrize("op", UNARY)
def test_unary_noncontiguous(op, view, dtype):
    j, t, jv, tv = _view_leaf(view, dtype, positive=op in ("log", "sqrt"))
    jout, tout = getattr(jg, op)(jv), getattr(torch, op)(tv)
    assert_same(jout, tout, what=op)
    backward_both(jout, tout)
    check_grads([j], [t], what=op)


BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a.abs() ** b,
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("view", sorted(VIEW_BASES))
@pytest.mark.parametrize("op", sorted(BINARY))
def test_binary_noncontiguous(op, view, dtype):
    f = BINARY[op]
    ja, ta, jv, tv = _view_leaf(view, dtype, seed=1)
    jb_, tb_, jw, tw = _view_leaf(view, dtype, seed=2)
    # non-contiguous with non-contiguous, with a contiguous copy, and with a broadcast row
    jc, tc = pair(np.random.default_rng(5).uniform(0.5, 1.5, tuple(tv.shape)), dtype, requires_grad=True)
    jr, tr = pair(np.random.default_rng(6).uniform(0.5, 1.5, tuple(tv.shape)[-1:]), dtype, requires_grad=True)
    for other_j, other_t, leaves_j, leaves_t in [(jw, tw, [ja, jb_], [ta, tb_]), (jc, tc, [ja, jc], [ta, tc]),
                                                 (jr, tr, [ja, jr], [ta, tr])]:
        for leaf in leaves_j + leaves_t:
            leaf.grad = None
        jout, tout = f(jv, other_j), f(tv, other_t)
        assert_same(jout, tout, what=op)
        jout2, tout2 = f(other_j, jv), f(other_t, tv)  # the view on the right
        assert_same(jout2, tout2, what=op + " (swapped)")
        backward_both(jout + jout2, tout + tout2)
        check_grads(leaves_j, leaves_t, what=op)


REDUCE_ARGS = [dict(), dict(dim=0), dict(dim=-1, keepdim=True), dict(dim=(0, 1)), dict(dim=1)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("view", sorted(VIEW_BASES))
@pytest.mark.parametrize("op", ["sum", "mean", "norm"])
def test_reduction_noncontiguous(op, view, dtype):
    for kwargs in REDUCE_ARGS:
        j, t, jv, tv = _view_leaf(view, dtype)
        jout, tout = getattr(jg, op)(jv, **kwargs), getattr(torch, op)(tv, **kwargs)
        tol = REDUCTION_F32 if dtype == "float32" else None
        assert_same(jout, tout, tol, what=f"{op}{kwargs}")
        backward_both(jout, tout)
        check_grads([j], [t], tol, what=f"{op}{kwargs}")


MATMUL_CASES = {
    # name: (base shapes, how to view each leaf, op)
    "mm-tA": ([(4, 3), (4, 5)], [lambda x: x.t(), lambda x: x], "mm"),
    "mm-tB": ([(3, 4), (5, 4)], [lambda x: x, lambda x: x.t()], "mm"),
    "mm-strided": ([(6, 8), (8, 5)], [lambda x: x[::2, ::2], lambda x: x[::2]], "mm"),
    "mv-strided": ([(3, 4), (8,)], [lambda x: x.t().t(), lambda x: x[::2]], "mv"),
    "dot-strided": ([(8,), (12,)], [lambda x: x[::2], lambda x: x[1::3]], "dot"),
    "bmm-transposed": ([(2, 4, 3), (4, 2, 5)], [lambda x: x.transpose(1, 2), lambda x: x.transpose(0, 1)], "bmm"),
    "matmul-3d-2d-t": ([(2, 4, 3), (5, 4)], [lambda x: x.transpose(1, 2), lambda x: x.t()], "matmul"),
    "matmul-bcast-t": ([(2, 1, 4, 3), (3, 4, 5)], [lambda x: x.transpose(-1, -2), lambda x: x], "matmul"),
    "matmul-1d-3d": ([(8,), (2, 4, 3)], [lambda x: x[::2], lambda x: x], "matmul"),
    "matmul-3d-1d": ([(2, 3, 4), (4,)], [lambda x: x, lambda x: x], "matmul"),
    "matmul-2d-1d-t": ([(4, 3), (4,)], [lambda x: x.t(), lambda x: x], "matmul"),
    "matmul-1d-2d-t": ([(4,), (3, 4)], [lambda x: x, lambda x: x.t()], "matmul"),
    "operator-@": ([(3, 4), (2, 4)], [lambda x: x, lambda x: x.t()], "@"),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", sorted(MATMUL_CASES))
def test_matmul_noncontiguous(case, dtype):
    shapes, views, op = MATMUL_CASES[case]
    rng = np.random.default_rng(11)
    leaves = [pair(rng.uniform(-1, 1, s), dtype, requires_grad=True) for s in shapes]
    jargs = [v(j) for v, (j, _) in zip(views, leaves)]
    targs = [v(t) for v, (_, t) in zip(views, leaves)]
    if op == "@":
        jout, tout = jargs[0] @ jargs[1], targs[0] @ targs[1]
    else:
        jout, tout = getattr(jg, op)(*jargs), getattr(torch, op)(*targs)
    tol = REDUCTION_F32 if dtype == "float32" else None
    assert_same(jout, tout, tol, what=case)
    backward_both(jout, tout)
    check_grads([j for j, _ in leaves], [t for _, t in leaves], tol, what=case)


BROADCAST_PAIRS = [((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 1, 4), (3, 1)), ((), (2, 3)), ((4, 1, 1), (2, 3)),
                   ((1,), (3, 2)), ((2, 3), (1, 1, 1)), ((0, 3), (1, 3)), ((2, 0), (2, 1)), ((1, 0), (3, 1))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
@pytest.mark.parametrize("op", sorted(BINARY))
def test_binary_broadcasting(op, shapes, dtype):
    rng = np.random.default_rng(4)
    ja, ta = pair(rng.uniform(0.5, 2, shapes[0]), dtype, requires_grad=True)
    jb, tb = pair(rng.uniform(0.5, 2, shapes[1]) * rng.choice([-1, 1], shapes[1]), dtype, requires_grad=True)
    f = BINARY[op]
    jout, tout = f(ja, jb), f(ta, tb)
    assert_same(jout, tout, what=op)
    backward_both(jout, tout)
    check_grads([ja, jb], [ta, tb], what=op)


def test_broadcast_error_matches():
    a, b = pair(np.ones((2, 3))), pair(np.ones((4,)))
    with pytest.raises(RuntimeError):
        torch.add(a[1], b[1])
    with pytest.raises(RuntimeError, match="must match the size"):
        jg.add(a[0], b[0])


# ------------------------------------------------------------------------------- integer / bool inputs
I = np.array([[3, -2, 0], [7, 1, -5]])
B = np.array([[True, False, True], [False, False, True]])
U = np.array([[3, 250, 0], [7, 1, 5]], dtype=np.uint8)
F = np.array([[0.5, -1.25, 2.0], [3.5, -0.75, 0.0]])

# id: (inputs as (data, dtype name), expression over (module, *tensors))
INT_BOOL_CASES = {
    "i64+1": ([(I, "int64")], lambda m, x: x + 1),
    "1+i64": ([(I, "int64")], lambda m, x: 1 + x),
    "i64-1": ([(I, "int64")], lambda m, x: x - 1),
    "5-i64": ([(I, "int64")], lambda m, x: 5 - x),
    "i64*2": ([(I, "int64")], lambda m, x: x * 2),
    "i64*1.5": ([(I, "int64")], lambda m, x: x * 1.5),
    "i64+1.5": ([(I, "int64")], lambda m, x: x + 1.5),
    "i64/2": ([(I, "int64")], lambda m, x: x / 2),
    "2/i64-nonzero": ([(I[:, :2], "int64")], lambda m, x: 2 / x),
    "i64/i64": ([(I, "int64"), (I + 10, "int64")], lambda m, x, y: x / y),
    "i32/2": ([(I, "int32")], lambda m, x: x / 2),
    "i64//2": ([(I, "int64")], lambda m, x: x // 2),
    "i64%3": ([(I, "int64")], lambda m, x: x % 3),
    "i64%-3": ([(I, "int64")], lambda m, x: x % -3),
    "div-floor": ([(I, "int64")], lambda m, x: m.div(x, 2, rounding_mode="floor")),
    "div-trunc": ([(I, "int64")], lambda m, x: m.div(x, 2, rounding_mode="trunc")),
    "div-trunc-float": ([(F, "float32")], lambda m, x: m.div(x, 0.7, rounding_mode="trunc")),
    "floor_divide-float": ([(F, "float64")], lambda m, x: m.floor_divide(x, 0.7)),
    "i64**2": ([(I, "int64")], lambda m, x: x ** 2),
    "i64**0.5": ([(np.abs(I), "int64")], lambda m, x: x ** 0.5),
    "2**i64": ([(np.abs(I), "int64")], lambda m, x: 2 ** x),
    "2.5**i64": ([(I, "int64")], lambda m, x: 2.5 ** x),
    "i64**-1": ([(I, "int64")], lambda m, x: x ** -1),
    "i32+i64": ([(I, "int32"), (I, "int64")], lambda m, x, y: x + y),
    "u8+i32": ([(U, "uint8"), (I, "int32")], lambda m, x, y: x + y),
    "u8+1-wraps": ([(U, "uint8")], lambda m, x: x + 10),
    "u8*i8": ([(U, "uint8"), (I, "int8")], lambda m, x, y: x * y),
    "i64+f32": ([(I, "int64"), (F, "float32")], lambda m, x, y: x + y),
    "f32+f64": ([(F, "float32"), (F, "float64")], lambda m, x, y: x + y),
    "f32+f64-0d": ([(F, "float32"), (2.5, "float64")], lambda m, x, y: x + y),
    "i64+f64-0d": ([(I, "int64"), (2.5, "float64")], lambda m, x, y: x * y),
    "i64-0d+f32": ([(7, "int64"), (F, "float32")], lambda m, x, y: x - y),
    "i32+i64-0d": ([(I, "int32"), (7, "int64")], lambda m, x, y: x + y),
    "b+b": ([(B, "bool"), (B[::-1], "bool")], lambda m, x, y: x + y),
    "b*b": ([(B, "bool"), (B[::-1], "bool")], lambda m, x, y: x * y),
    "b-b": ([(B, "bool"), (B[::-1], "bool")], lambda m, x, y: x - y),
    "b+1": ([(B, "bool")], lambda m, x: x + 1),
    "b+True": ([(B, "bool")], lambda m, x: x + True),
    "b*1.5": ([(B, "bool")], lambda m, x: x * 1.5),
    "b/2": ([(B, "bool")], lambda m, x: x / 2),
    "i64*b": ([(I, "int64"), (B, "bool")], lambda m, x, y: x * y),
    "f32+b": ([(F, "float32"), (B, "bool")], lambda m, x, y: x + y),
    "i64-b": ([(I, "int64"), (B, "bool")], lambda m, x, y: x - y),
    "b-f32": ([(B, "bool"), (F, "float32")], lambda m, x, y: x - y),
    "b-1": ([(B, "bool")], lambda m, x: x - 1),
    "1.5-b": ([(B, "bool")], lambda m, x: 1.5 - x),
    "b-True": ([(B, "bool")], lambda m, x: x - True),
    "u8*-2-wraps": ([(U, "uint8")], lambda m, x: x * -2),
    "u8+-1-wraps": ([(U, "uint8")], lambda m, x: x + -1),
    "u8-3-wraps": ([(U, "uint8")], lambda m, x: x - 3),
    "-b": ([(B, "bool")], lambda m, x: -x),
    "~b": ([(B, "bool")], lambda m, x: ~x),
    "~i64": ([(I, "int64")], lambda m, x: ~x),
    "b&b": ([(B, "bool"), (B[::-1], "bool")], lambda m, x, y: x & y),
    "b|b": ([(B, "bool"), (B[::-1], "bool")], lambda m, x, y: x | y),
    "i64^i64": ([(I, "int64"), (I * 3, "int64")], lambda m, x, y: x ^ y),
    "f32&f32": ([(F, "float32"), (F, "float32")], lambda m, x, y: x & y),
    "logical_and-int": ([(I, "int64"), (B, "bool")], lambda m, x, y: m.logical_and(x, y)),
    "logical_not-float": ([(F, "float32")], lambda m, x: m.logical_not(x)),
    "sum(b)": ([(B, "bool")], lambda m, x: x.sum()),
    "sum(b,dim)": ([(B, "bool")], lambda m, x: x.sum(dim=1)),
    "sum(i32)": ([(I, "int32")], lambda m, x: x.sum()),
    "sum(u8)": ([(U, "uint8")], lambda m, x: x.sum(0)),
    "sum(i64,dtype=f64)": ([(I, "int64")], lambda m, x: x.sum(dtype=m.float64)),
    "mean(i64)": ([(I, "int64")], lambda m, x: x.mean()),
    "mean(i64,dtype=f64)": ([(I, "int64")], lambda m, x: x.mean(dtype=m.float64)),
    "norm(i64)": ([(I, "int64")], lambda m, x: x.norm()),
    "i64==0": ([(I, "int64")], lambda m, x: x == 0),
    "i64!=f32": ([(I, "int64"), (F, "float32")], lambda m, x, y: x != y),
    "i64<1.5": ([(I, "int64")], lambda m, x: x < 1.5),
    "f32>=f64-bcast": ([(F, "float32"), (F[0], "float64")], lambda m, x, y: x >= y),
    "b==b": ([(B, "bool"), (B[::-1], "bool")], lambda m, x, y: x == y),
    "f32>0-0d": ([(F, "float32"), (0.0, "float32")], lambda m, x, y: x > y),
    "gt-method": ([(F, "float32")], lambda m, x: x.gt(0.5)),
    "lt-bcast-error": ([(F, "float32"), (np.ones(4), "float32")], lambda m, x, y: x < y),
    "abs(i64)": ([(I, "int64")], lambda m, x: x.abs()),
    "abs(b)": ([(B, "bool")], lambda m, x: x.abs()),
    "neg(i32)": ([(I, "int32")], lambda m, x: -x),
    "relu(i64)": ([(I, "int64")], lambda m, x: m.relu(x)),
    "exp(i64)": ([(I, "int64")], lambda m, x: m.exp(x)),
    "sqrt(b)": ([(B, "bool")], lambda m, x: m.sqrt(x)),
    "sigmoid(u8)": ([(U, "uint8")], lambda m, x: m.sigmoid(x)),
    "sign(i64)": ([(I, "int64")], lambda m, x: m.sign(x)),
    "sign(b)": ([(B, "bool")], lambda m, x: m.sign(x)),
    "clamp(i64,int)": ([(I, "int64")], lambda m, x: x.clamp(0, 3)),
    "clamp(i64,float)": ([(I, "int64")], lambda m, x: x.clamp(min=0.5)),
    "clamp(b)": ([(B, "bool")], lambda m, x: x.clamp(min=0)),
    "mm(i64)": ([(I, "int64"), (I.T, "int64")], lambda m, x, y: x @ y),
    "dot(i32)": ([(I[0], "int32"), (I[1], "int32")], lambda m, x, y: m.dot(x, y)),
    "mm(i64,f32)": ([(I, "int64"), (F.T, "float32")], lambda m, x, y: m.mm(x, y)),
    "isnan(i64)": ([(I, "int64")], lambda m, x: m.isnan(x)),
    "f32.long()": ([(F, "float32")], lambda m, x: x.long()),
    "i64.float()": ([(I, "int64")], lambda m, x: x.float()),
    "i64.bool()": ([(I, "int64")], lambda m, x: x.bool()),
    "b.to(i32)": ([(B, "bool")], lambda m, x: x.to(m.int32)),
    "i64[mask]": ([(I, "int64"), (B, "bool")], lambda m, x, y: x[y]),
    "i64[idx]": ([(I, "int64"), (np.array([1, 0, 1]), "int64")], lambda m, x, y: x[y]),
    "i64[::2]+1": ([(I, "int64")], lambda m, x: x[:, ::2] + 1),
    "i64.t()*2": ([(I, "int64")], lambda m, x: x.t() * 2),
}


@pytest.mark.parametrize("case", list(INT_BOOL_CASES))
def test_int_bool_inputs(case):
    inputs, fn = INT_BOOL_CASES[case]
    js, ts = zip(*[pair(np.asarray(d), dtype) for d, dtype in inputs])
    try:
        tout = fn(torch, *ts)
    except Exception as e:  # noqa: BLE001 - PyTorch refuses: jitgrad must refuse the same way
        expected = builtin_exception(e)
        with pytest.raises(Exception) as info:
            fn(jg, *js)
        assert isinstance(info.value, expected), f"torch raised {expected.__name__}: {e}; jitgrad {info.value!r}"
        return
    jout = fn(jg, *js)
    if isinstance(tout, torch.Tensor):
        assert_same(jout, tout, what=case)
        assert not jout.requires_grad
    else:
        assert jout == tout


# ------------------------------------------------------------------------------- IEEE special values
INF, NAN = float("inf"), float("nan")
Z = [0.0, -1.5, 2.0, 0.0]  # zeros on purpose
# id: (data, expression over (module, x)); float tensors, forward and (where floats) gradient
SPECIAL = {
    "x/0.0": (Z, lambda m, x: x / 0.0),
    "x/zeros": (Z, lambda m, x: x / (x * 0)),
    "1/x": (Z, lambda m, x: 1 / x),
    "reciprocal(0)": (Z, lambda m, x: x.reciprocal()),
    "div(x,x)": (Z, lambda m, x: m.div(x, x)),
    "log(0),log(-)": (Z, lambda m, x: x.log()),
    "sqrt(0),sqrt(-)": (Z, lambda m, x: x.sqrt()),
    "x**-1": (Z, lambda m, x: x ** -1),
    "x**0.5": (Z, lambda m, x: x ** 0.5),
    "x**0": (Z, lambda m, x: x ** 0),
    "x**2-at-0": (Z, lambda m, x: x ** 2),
    "0**y": (Z, lambda m, x: (x * 0) ** x.abs()),
    "relu-at-0": (Z, lambda m, x: x.relu()),
    "abs-at-0": (Z, lambda m, x: x.abs()),
    "clamp-at-bounds": ([0.0, -1.0, 1.0, 0.5], lambda m, x: x.clamp(-1.0, 1.0)),
    "norm-of-zeros": ([0.0, 0.0, 0.0], lambda m, x: x.norm()),
    "norm(p=1)-with-zero": (Z, lambda m, x: x.norm(p=1)),
    "norm(inf)-ties": ([2.0, -2.0, 1.0], lambda m, x: x.norm(p=float("inf"))),
    "exp(inf)": ([INF, -INF, 0.0], lambda m, x: x.exp()),
    "tanh(inf)": ([INF, -INF, 0.0], lambda m, x: x.tanh()),
    "sigmoid(inf)": ([INF, -INF, 0.0], lambda m, x: x.sigmoid()),
    "nan-propagates": ([NAN, 1.0, -INF], lambda m, x: (x * 2 + 1).sum()),
    "mean-empty": ([], lambda m, x: x.mean()),
    "sum-empty": ([], lambda m, x: x.sum()),
    "nan==nan": ([NAN, 1.0], lambda m, x: x == x),
    "isnan/isinf": ([NAN, INF, -INF, 1.0], lambda m, x: m.isnan(x) | m.isinf(x)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(SPECIAL))
def test_special_values(case, dtype):
    data, fn = SPECIAL[case]
    j, t = pair(np.array(data, dtype=dtype), requires_grad=True)
    with np.errstate(all="ignore"):
        jout, tout = fn(jg, j), fn(torch, t)
        assert_same(jout, tout, what=case)
        if tout.requires_grad:
            jout.sum().backward()
            tout.sum().backward()
            check_grads([j], [t], what=case)


@pytest.mark.parametrize("expr", ["x // 0", "x % 0", "x / 0", "x.div(0, rounding_mode='trunc')"])
def test_integer_division_by_zero(expr):
    # PyTorch: true division gives inf/nan; integer floor/trunc division and remainder raise
    j, t = pair(np.array([3, -2, 0]), "int64")
    try:
        tout = eval(expr, {"x": t})
    except Exception as e:  # noqa: BLE001
        with pytest.raises(builtin_exception(e)):
            eval(expr, {"x": j})
        return
    with np.errstate(all="ignore"):
        assert_same(eval(expr, {"x": j}), tout, what=expr)


def test_result_type_scalar_ops_keep_tensor_dtype():
    # int32 tensor with a Python int stays int32; float32 with a Python float stays float32
    for dtype, scalar in [("int32", 3), ("int8", 2), ("float32", 2.0), ("uint8", 1), ("float64", True)]:
        j, t = pair(np.ones((2,)), dtype)
        assert_same(j * scalar, t * scalar, what=f"{dtype} * {scalar!r}")


# ------------------------------------------------------------------------------- grad_fn structure
def node_tree(fn, depth=8):
    """``(name, [(child tree or None, output_nr), ...])``, down to the leaves."""
    if fn is None:
        return None
    name = type(fn).__name__
    if depth == 0 or name == "AccumulateGrad":
        return name
    return (name, [(node_tree(child, depth - 1), nr) for child, nr in fn.next_functions])


X = np.array([[0.5, -1.2, 2.0, 0.7], [1.5, 0.3, -0.8, 1.1], [-0.6, 0.9, 1.3, -2.2]])
Y = np.array([[1.1, 0.4, -0.9, 1.6], [0.7, -1.3, 0.2, 0.8], [1.9, 0.6, -0.4, 1.2]])
# Extra leaves, so that the matmul cases are built from leaves directly and a difference in
# the indexing nodes does not hide (or fake) one in matmul's decomposition.
LEAF_SHAPES = {"v4": (4,), "v3": (3,), "a3": (2, 3, 4), "b3": (2, 4, 5), "a4": (2, 1, 3, 4), "m45": (4, 5),
               "m34": (3, 4), "s": ()}


class Leaves:
    """x, y: (3, 4) leaves requiring grad; c: (3, 4) constant; plus the LEAF_SHAPES leaves."""

    def __init__(self, m):
        self.x, self.y = _mk(m, X), _mk(m, Y)
        self.c = _mk(m, Y, rg=False)
        rng = np.random.default_rng(17)
        for name, shape in LEAF_SHAPES.items():
            setattr(self, name, _mk(m, rng.uniform(0.5, 1.5, shape)))


def _mk(m, arr, rg=True, dtype="float64"):
    arr = np.array(arr, dtype=dtype)
    t = m.from_numpy(arr)
    return t.requires_grad_(True) if rg else t


# id: expression over (module, Leaves)
STRUCTURE = {
    "x+y": lambda m, L: L.x + L.y,
    "x+c": lambda m, L: L.x + L.c,
    "c+x": lambda m, L: L.c + L.x,
    "x+2": lambda m, L: L.x + 2,
    "2+x": lambda m, L: 2 + L.x,
    "x+s(0-d)": lambda m, L: L.x + L.s,
    "x-y": lambda m, L: L.x - L.y,
    "x-2": lambda m, L: L.x - 2,
    "2-x": lambda m, L: 2 - L.x,
    "x*2": lambda m, L: L.x * 2,
    "2*x": lambda m, L: 2 * L.x,
    "x*y": lambda m, L: L.x * L.y,
    "x/y": lambda m, L: L.x / L.y,
    "x/2": lambda m, L: L.x / 2,
    "2/x": lambda m, L: 2 / L.x,
    "x**2": lambda m, L: L.x ** 2,
    "x**y": lambda m, L: L.y ** L.x,
    "2**x": lambda m, L: 2 ** L.x,
    "y**c": lambda m, L: L.y ** L.c,
    "c**x": lambda m, L: L.c.abs() ** L.x,
    "x*y+x": lambda m, L: L.x * L.y + L.x,
    "x+x": lambda m, L: L.x + L.x,
    "sum": lambda m, L: L.x.sum(),
    "sum(dim)": lambda m, L: L.x.sum(1),
    "sum(dim,keepdim)": lambda m, L: L.x.sum(dim=0, keepdim=True),
    "mean": lambda m, L: L.x.mean(),
    "mean(dim)": lambda m, L: L.x.mean(dim=-1),
    "norm": lambda m, L: L.x.norm(),
    "norm(p=1,dim)": lambda m, L: L.x.norm(p=1, dim=1),
    "dot": lambda m, L: m.dot(L.v4, L.v4 * 2),
    "mm": lambda m, L: m.mm(L.x, L.m45),
    "mv": lambda m, L: m.mv(L.x, L.v4),
    "bmm": lambda m, L: m.bmm(L.a3, L.b3),
    "matmul-1d-1d": lambda m, L: L.v4 @ L.v4,
    "matmul-2d-1d": lambda m, L: L.x @ L.v4,
    "matmul-1d-2d": lambda m, L: L.v3 @ L.x,
    "matmul-2d-2d": lambda m, L: L.x @ L.m45,
    "matmul-3d-2d": lambda m, L: L.a3 @ L.m45,
    "matmul-3d-1d": lambda m, L: L.a3 @ L.v4,
    "matmul-1d-3d": lambda m, L: L.v4 @ L.b3,
    "matmul-2d-3d": lambda m, L: L.m34 @ L.b3,
    "matmul-3d-3d": lambda m, L: L.a3 @ L.b3,
    "matmul-bcast-4d-3d": lambda m, L: L.a4 @ L.b3,
    "matmul-bcast-4d-2d": lambda m, L: L.a4 @ L.m45,
    "reshape": lambda m, L: L.x.reshape(2, 6),
    "reshape(-1)": lambda m, L: L.x.reshape(-1),
    "reshape-noncontig": lambda m, L: L.x.t().reshape(-1),
    "view": lambda m, L: L.x.view(4, 3),
    "view_as": lambda m, L: L.x.view_as(L.y),
    "t": lambda m, L: L.x.t(),
    "T": lambda m, L: L.x.T,
    "T-3d": lambda m, L: L.a3.T,
    "mT": lambda m, L: L.a3.mT,
    "transpose": lambda m, L: L.x.transpose(0, 1),
    "permute": lambda m, L: L.a3.permute(2, 0, 1),
    "squeeze()": lambda m, L: L.a4.squeeze(),
    "squeeze(1)": lambda m, L: L.a4.squeeze(1),
    "squeeze(0)-noop": lambda m, L: L.a4.squeeze(0),
    "squeeze(dims)": lambda m, L: L.a4.squeeze((0, 1)),
    "unsqueeze": lambda m, L: L.x.unsqueeze(1),
    "expand": lambda m, L: L.v4.expand(3, 4),
    "expand_as": lambda m, L: L.v4.expand_as(L.y),
    "flatten": lambda m, L: L.x.flatten(),
    "flatten-noncontig": lambda m, L: L.x.t().flatten(),
    "unflatten": lambda m, L: L.x.unflatten(1, (2, 2)),
    "x[0]": lambda m, L: L.x[0],
    "x[1:]": lambda m, L: L.x[1:],
    "x[::2]": lambda m, L: L.x[::2],
    "x[:,1]": lambda m, L: L.x[:, 1],
    "x[...,1]": lambda m, L: L.x[..., 1],
    "x[:,:2]": lambda m, L: L.x[:, :2],
    "x[1:,:2]": lambda m, L: L.x[1:, :2],
    "x[1:,0]": lambda m, L: L.x[1:, 0],
    "x[1,2]": lambda m, L: L.x[1, 2],
    "x[0][1]": lambda m, L: L.x[0][1],
    "x[None]": lambda m, L: L.x[None],
    "x[:,None]": lambda m, L: L.x[:, None],
    "x[...]": lambda m, L: L.x[...],
    "x[[0,2]]": lambda m, L: L.x[[0, 2]],
    "x[mask]": lambda m, L: L.x[L.x > 0],
    "x[idx-tensor]": lambda m, L: L.x[m.tensor([2, 0])],
    "x[:,[0,2]]": lambda m, L: L.x[:, [0, 2]],
    "clone": lambda m, L: L.x.clone(),
    "contiguous": lambda m, L: L.x.t().contiguous(),
    "clamp": lambda m, L: L.x.clamp(-1, 1),
    "clamp(min)": lambda m, L: L.x.clamp(min=0),
    "clamp(tensor)": lambda m, L: L.x.clamp(min=L.y),
    "clamp_min": lambda m, L: m.clamp_min(L.x, 0.0),
    "neg": lambda m, L: -L.x,
    "exp": lambda m, L: L.x.exp(),
    "log(abs)": lambda m, L: L.x.abs().log(),
    "relu": lambda m, L: L.x.relu(),
    "sigmoid(tanh)": lambda m, L: m.sigmoid(m.tanh(L.x)),
    "sign": lambda m, L: L.x.sign(),
    "float": lambda m, L: L.x.float(),
    "to(float64)-noop": lambda m, L: L.x.to(m.float64) * 1,
    "rsub(tensor)": lambda m, L: m.rsub(L.x, L.y),
    "detach": lambda m, L: L.x.detach() * L.y,
    "x.data": lambda m, L: L.x.data * L.y,
    "no_grad": lambda m, L: _no_grad_mul(m, L.x, L.y),
}


def _no_grad_mul(m, x, y):
    with m.no_grad():
        a = x * 2
    return a + y


@pytest.mark.filterwarnings("ignore:The use of `x.T` on tensors")  # torch's warning for "T-3d"
@pytest.mark.parametrize("case", list(STRUCTURE))
def test_grad_fn_structure(case):
    fn = STRUCTURE[case]
    jl, tl = Leaves(jg), Leaves(torch)
    jout, tout = fn(jg, jl), fn(torch, tl)
    assert jout.requires_grad and tout.requires_grad
    assert node_tree(jout.grad_fn) == node_tree(tout.grad_fn)
    assert jout.is_leaf == tout.is_leaf
    assert_same(jout, tout, what=case)
    # and the graph computes the same gradients
    backward_both(jout, tout)
    names = ["x", "y"] + list(LEAF_SHAPES)
    check_grads([getattr(jl, n) for n in names], [getattr(tl, n) for n in names], what=case)


def test_leaf_accumulate_grad_is_shared():
    # every use of a leaf points at the same AccumulateGrad node, as in PyTorch
    for m in (jg, torch):
        x = _mk(m, X)
        a, b = x * 2, x.exp()
        assert a.grad_fn.next_functions[0][0] is b.grad_fn.next_functions[0][0]
        assert type(a.grad_fn.next_functions[0][0]).__name__ == "AccumulateGrad"
        assert a.grad_fn.next_functions[0][0].variable is x
