"""CPU idioms (torch.cuda / torch.backends / torch.device / device=), legacy constructors, and the
elementwise math of issue 11 beyond what the op table checks (round(decimals=), integer dtypes,
sgn, special values at kinks), each compared with PyTorch where PyTorch is installed."""
import pickle

import numpy as np
import pytest

import jitgrad as jg


# ------------------------------------------------------------------------------- CPU idioms
def test_cuda_and_backends_answer_as_a_cpu_only_build():
    assert jg.cuda.is_available() is False and jg.cuda.device_count() == 0
    assert jg.backends.mps.is_available() is False and jg.backends.mps.is_built() is False
    assert jg.backends.cudnn.is_available() is False
    jg.cuda.manual_seed(0)
    jg.cuda.manual_seed_all(0)
    with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
        jg.cuda.current_device()
    flags = jg.backends.cudnn
    old = flags.benchmark, flags.deterministic
    try:
        flags.benchmark, flags.deterministic = True, True
        assert jg.backends.cudnn.benchmark and jg.backends.cudnn.deterministic
    finally:
        flags.benchmark, flags.deterministic = old
    import jitgrad.backends.cudnn as cudnn  # noqa: F401  (importable as a module, as torch's is)


def test_device_objects_match_torch(torch):
    for args in [("cpu",), ("cuda",), ("cuda:1",), ("cpu", 0), ("cuda", 2), ("mps",), ("meta",)]:
        j, t = jg.device(*args), torch.device(*args)
        assert (repr(j), str(j), j.type, j.index) == (repr(t), str(t), t.type, t.index)
    assert jg.device("cpu") == jg.device("cpu") and jg.device("cpu") != jg.device("cpu", 0)
    assert (jg.device("cpu") == "cpu") is (torch.device("cpu") == "cpu")
    assert jg.device("cuda") != jg.device("cpu")
    assert {jg.device("cpu"): 1}[jg.device("cpu")] == 1
    assert jg.device(jg.device("cuda", 1)) == jg.device("cuda:1")
    assert pickle.loads(pickle.dumps(jg.device("cuda", 3))) == jg.device("cuda:3")
    assert isinstance(jg.ones(2).device, jg.device) and jg.ones(2).device == jg.device("cpu")
    for bad in ["foo", "cuda:x", " cpu", "cpu:", "cuda:01", 0, None]:
        with pytest.raises(Exception) as t_err:
            torch.device(bad)
        with pytest.raises(type(t_err.value)) as j_err:
            jg.device(bad)
        assert str(j_err.value).split("\n")[0] == str(t_err.value).split("\n")[0]
    with pytest.raises(RuntimeError, match="must not include an index"):
        jg.device("cuda:1", 0)


def test_using_a_device_other_than_the_cpu_raises_what_a_cpu_build_raises():
    x = jg.ones(2)
    assert x.to("cpu") is x and x.to(jg.device("cpu")) is x and x.cpu() is x
    assert x.to("cpu", jg.float64).dtype == jg.float64 and x.get_device() == -1 and not x.is_cuda
    for call in (lambda: x.to("cuda"), lambda: x.to(jg.device("cuda", 0)), lambda: x.cuda(),
                 lambda: jg.zeros(2, device="cuda"), lambda: jg.tensor([1.0], device="cuda:0"),
                 lambda: jg.rand(2, device=jg.device("cuda")), lambda: jg.nn.Linear(2, 2).to("cuda"),
                 lambda: jg.nn.Linear(2, 2).cuda(), lambda: jg.LongTensor([1], device="cuda")):
        with pytest.raises(AssertionError, match="^Torch not compiled with CUDA enabled$"):
            call()
    with pytest.raises(RuntimeError, match="not linked with support for mps"):
        x.to("mps")
    assert jg.zeros(2, device="cpu").tolist() == [0.0, 0.0]
    assert jg.arange(3, device=jg.device("cpu")).tolist() == [0, 1, 2]
    lin = jg.nn.Linear(2, 2)
    assert lin.to(jg.device("cpu")) is lin


def test_default_device():
    assert jg.get_default_device() == jg.device("cpu")
    jg.set_default_device("cpu")
    assert jg.ones(1).device == jg.device("cpu")
    jg.set_default_device("cuda")
    try:
        with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
            jg.zeros(2)
    finally:
        jg.set_default_device(None)
    assert jg.zeros(2).tolist() == [0.0, 0.0]


# ------------------------------------------------------------------------------- legacy constructors
LEGACY = ["FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor", "ShortTensor", "CharTensor",
          "ByteTensor", "BoolTensor"]


@pytest.mark.parametrize("name", LEGACY)
def test_legacy_constructors_match_torch(torch, name):
    J, T = getattr(jg, name), getattr(torch, name)
    for args in [([1, 0, 3],), ([[1.7, 2.5], [0.0, 4.0]],), ((2, 3),), (np.array([1.0, 2.0]),)]:
        j, t = J(*args), T(*args)
        assert str(j.dtype) == str(t.dtype) and j.tolist() == t.tolist()
        assert j.type() == t.type() == f"torch.{name}"
    for args in [(2, 3), (0,), (jg.Size([2, 1]),)]:
        targs = tuple(torch.Size(a) if isinstance(a, jg.Size) else a for a in args)
        j, t = J(*args), T(*targs)
        assert tuple(j.shape) == tuple(t.shape) and str(j.dtype) == str(t.dtype)
    assert J().shape == (0,) and str(J().dtype) == str(T().dtype)
    assert isinstance(J([1]), J) and isinstance(J([1]), jg.Tensor) and type(J([1])) is jg.Tensor
    assert J.dtype == getattr(jg, str(T.dtype).split(".")[1])


def test_legacy_constructor_details(torch):
    assert jg.LongTensor([1, 2]).dtype == jg.int64  # the silent wrong dtype of issue 11
    assert not isinstance(jg.ones(2), jg.LongTensor) and isinstance(jg.ones(2), jg.FloatTensor)
    x = jg.tensor([1, 2])
    alias = jg.LongTensor(x)
    alias[0] = 7
    assert x.tolist() == [7, 2]
    for bad in [lambda m: m.LongTensor(m.tensor([1.0])), lambda m: m.LongTensor(2.5), lambda m: m.LongTensor(-1),
                lambda m: m.LongTensor(2, [3]), lambda m: m.LongTensor([1], dtype=m.float32)]:
        with pytest.raises(Exception) as t_err:
            bad(torch)
        with pytest.raises(type(t_err.value)) as j_err:
            bad(jg)
        assert str(j_err.value).split("\n")[0].replace("=dtype", "=torch.dtype") == str(t_err.value).split("\n")[0]
    assert jg.ones(2).type(jg.LongTensor).dtype == jg.int64
    assert jg.ones(2).type("torch.DoubleTensor").dtype == jg.float64
    assert jg.ones(2).type(jg.int32).dtype == jg.int32
    with pytest.raises(ValueError, match="invalid type: 'foo'"):
        jg.ones(2).type("foo")
    with pytest.raises(TypeError, match="torch.cuda.FloatTensor not available"):
        jg.cuda.FloatTensor([1.0])


# ------------------------------------------------------------------------------- elementwise math
UNARY = ["floor", "ceil", "trunc", "fix", "frac", "round", "rsqrt", "log2", "log10", "asinh", "acosh", "atanh",
         "arcsinh", "arccosh", "arctanh", "sgn"]
SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5, 1.0, -1.0, 3.7, -1e-30, 1e30]


def _same(j, t, what=""):
    assert str(j.dtype) == str(t.dtype), what
    np.testing.assert_allclose(j.detach().numpy().astype(np.float64), t.detach().numpy().astype(np.float64),
                               rtol=2e-3 if j.dtype == jg.float16 else 2e-6, atol=0, equal_nan=True, err_msg=what)
    jn, tn = j.detach().numpy(), t.detach().numpy()
    if jn.dtype.kind == "f":  # -0. where PyTorch gives -0. (NaN's sign bit aside)
        assert (np.signbit(jn) == np.signbit(tn))[~np.isnan(tn)].all(), what


@pytest.mark.filterwarnings("ignore:overflow encountered in cast")  # (1e30 in float16 is inf)
@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_unary_special_values_and_gradients(torch, name, dtype):
    data = np.array(SPECIAL, dtype)
    j, t = jg.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    jy, ty = getattr(jg, name)(j), getattr(torch, name)(t)
    _same(jy, ty, f"{name} {dtype} value")
    if dtype != "float16":  # (float16 computes through float32: its grad_fn is the cast back)
        assert jy.grad_fn.name() == ty.grad_fn.name()
    jy.sum().backward()
    ty.sum().backward()
    tg = t.grad if t.grad.layout == torch.strided and not t.grad._is_zerotensor() else torch.zeros_like(t)
    _same(j.grad, tg, f"{name} {dtype} grad")
    # method and in-place forms
    _same(getattr(jg.tensor(data), name)(), getattr(torch.tensor(data), name)(), f"{name} method")
    jz, tz = jg.tensor(data), torch.tensor(data)
    getattr(jz, name + "_")(), getattr(tz, name + "_")()
    _same(jz, tz, f"{name}_")


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
def test_unary_integer_inputs(torch, name, dtype):
    data = np.array([0, 1, 3, 7] if dtype != "bool" else [True, False], dtype)
    try:
        t = getattr(torch, name)(torch.tensor(data))
    except Exception as e:  # PyTorch's kernel error, word for word
        with pytest.raises(type(e), match=str(e).replace('"', '.').replace("'", ".")):
            getattr(jg, name)(jg.tensor(data))
        return
    _same(getattr(jg, name)(jg.tensor(data)), t, f"{name} {dtype}")


def test_rounding_keeps_large_integers_exact():
    big = jg.tensor([2 ** 62 + 1, -(2 ** 62) - 3])
    for name in ("floor", "ceil", "trunc", "round"):
        assert getattr(jg, name)(big).tolist() == big.tolist()


@pytest.mark.filterwarnings("ignore:overflow encountered in cast")
def test_round_decimals(torch):
    data = np.array([1.2345, -2.5, 0.125, 0.375, 1250.0, 15.0, 25.0, -0.0, np.nan, np.inf, 1e30], np.float64)
    for dtype in ("float32", "float64", "float16"):
        for d in (0, 1, 2, -1, -2, 20, 40, -400, 400):
            x = data.astype(dtype)
            j, t = jg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
            jy, ty = jg.round(j, decimals=d), torch.round(t, decimals=d)
            _same(jy, ty, f"round {dtype} decimals={d}")
            assert dtype == "float16" or jy.grad_fn.name() == ty.grad_fn.name() == "RoundBackward1"
            jy.sum().backward()
            assert j.grad.tolist() == [0.0] * len(data)
    assert jg.tensor([2.5, 1.25]).round(decimals=1).tolist() == torch.tensor([2.5, 1.25]).round(decimals=1).tolist()
    x = jg.tensor([2.25, 3.5])
    x.round_(decimals=1)
    assert x.tolist() == [float(np.float32(2.2)), 3.5]
    for bad in [lambda m: m.round(m.tensor([1, 2]), decimals=1), lambda m: m.round(m.tensor([1, 2]), decimals=0),
                lambda m: m.round(m.tensor([1.5]), decimals=1.5)]:
        with pytest.raises(Exception) as t_err:
            bad(torch)
        with pytest.raises(type(t_err.value)) as j_err:
            bad(jg)
        assert str(j_err.value).split("\n")[0] == str(t_err.value).split("\n")[0]
    assert jg.round(jg.tensor([3, 4])).tolist() == [3, 4]  # plain round keeps integers


BINARY = ["copysign", "logaddexp", "logaddexp2", "hypot", "fmax", "fmin"]


@pytest.mark.parametrize("name", BINARY)
def test_binary_special_values_and_gradients(torch, name):
    vals = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.5, -2.0], np.float64)
    a, b = np.meshgrid(vals, vals)
    for dtype in ("float32", "float64"):
        ja, jb = (jg.tensor(v.astype(dtype), requires_grad=True) for v in (a, b))
        ta, tb = (torch.tensor(v.astype(dtype), requires_grad=True) for v in (a, b))
        jy, ty = getattr(jg, name)(ja, jb), getattr(torch, name)(ta, tb)
        _same(jy, ty, f"{name} {dtype}")
        assert jy.grad_fn.name() == ty.grad_fn.name()
        jy.sum().backward()
        ty.sum().backward()
        np.testing.assert_allclose(ja.grad.numpy(), ta.grad.numpy(), rtol=2e-6, equal_nan=True)
        np.testing.assert_allclose(jb.grad.numpy(), tb.grad.numpy(), rtol=2e-6, equal_nan=True)


@pytest.mark.parametrize("name", BINARY)
def test_binary_dtypes_and_errors(torch, name):
    cases = [lambda m: (m.tensor([1, 2]), m.tensor([3, -4])), lambda m: (m.tensor([True]), m.tensor([False])),
             lambda m: (m.tensor([1.0, 2.0], dtype=m.float16), m.tensor([1.0, -2.0])),
             lambda m: (m.tensor([1, -2]), m.tensor([0.5, -1.0], dtype=m.float64)),
             lambda m: (m.tensor([1.0, 2.0]), 2), lambda m: (m.tensor([1.0, 2.0]), -2.5),
             lambda m: (2.0, m.tensor([1.0]))]  # (the last: only the error type is compared)
    for case in cases:
        try:
            t = getattr(torch, name)(*case(torch))
        except Exception as e:
            with pytest.raises(type(e)) as j_err:
                getattr(jg, name)(*case(jg))
            if case is not cases[-1]:
                assert str(j_err.value).split("\n")[0] == str(e).split("\n")[0]
            continue
        _same(getattr(jg, name)(*case(jg)), t, name)
    if hasattr(torch.Tensor, name + "_"):  # copysign_ / hypot_
        jx, tx = jg.tensor([1.0, -2.0]), torch.tensor([1.0, -2.0])
        getattr(jx, name + "_")(jg.tensor([-3.0, 4.0])), getattr(tx, name + "_")(torch.tensor([-3.0, 4.0]))
        _same(jx, tx, name + "_")
    assert hasattr(jg, name + "_") == hasattr(torch, name + "_")


def test_copysign_scalar_node_and_gradient(torch):
    for s in (-1.5, 2, 0.0, -0.0):
        j, t = jg.tensor([1.0, -2.0, 0.0], requires_grad=True), torch.tensor([1.0, -2.0, 0.0], requires_grad=True)
        jy, ty = jg.copysign(j, s), torch.copysign(t, s)
        _same(jy, ty, f"copysign {s}")
        assert jy.grad_fn.name() == ty.grad_fn.name() == "CopysignBackward1"
        jy.sum().backward()
        ty.sum().backward()
        assert j.grad.tolist() == t.grad.tolist()
    x = jg.tensor([1.0, -2.0], dtype=jg.float64, requires_grad=True)
    assert jg.autograd.gradcheck(lambda v: jg.copysign(v, -1.5), (x,))
    assert jg.autograd.gradgradcheck(lambda v: jg.copysign(v, -1.5) * v, (x,))


def test_fmax_fmin_ties_go_to_self(torch):
    for name in ("fmax", "fmin"):
        j, t = jg.tensor([1.0, np.nan], requires_grad=True), torch.tensor([1.0, np.nan], requires_grad=True)
        jo, to = jg.tensor([1.0, 2.0], requires_grad=True), torch.tensor([1.0, 2.0], requires_grad=True)
        getattr(jg, name)(j, jo).sum().backward()
        getattr(torch, name)(t, to).sum().backward()
        assert j.grad.tolist() == t.grad.tolist() and jo.grad.tolist() == to.grad.tolist()


def test_sgn_gradgrad():
    x = jg.tensor([0.5, -1.5], dtype=jg.float64, requires_grad=True)
    assert jg.autograd.gradcheck(jg.sgn, (x,))
    assert jg.autograd.gradgradcheck(lambda v: jg.sgn(v) * v * v, (x,))
