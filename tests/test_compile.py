"""jitgrad.compile (v1): compiled results equal eager ones, forward and gradients; guards,
recompiles, graph breaks; the on-disk kernel cache across processes."""
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import jitgrad
from jitgrad.compiler import Unsupported, fuse
from jitgrad.ops.registry import OPS, SCALAR_DEFS

TOL = {np.float64: dict(rtol=1e-12, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-5)}


def _steps(compiled_function):
    """Every replay step of every guard key of a compiled function (None: a key that runs eagerly)."""
    plans = compiled_function._plans.values()
    return [s for p in plans if p is not None for s in p.steps]


def _fused(compiled_function) -> int:
    return sum(isinstance(s, fuse.RegionStep) for s in _steps(compiled_function))


def _leaves(arrays, dtype):
    return [jitgrad.tensor(np.asarray(a, dtype), requires_grad=True) if isinstance(a, (np.ndarray, np.generic))
            else a for a in arrays]


def _run(fn, arrays, dtype, seed_grad):
    """``fn``'s outputs and the gradients of its tensor inputs under ``(y * seed_grad).sum() + loss``."""
    args = _leaves(arrays, dtype)
    y, loss = fn(*args)
    (loss + (y * jitgrad.tensor(seed_grad.astype(dtype))).sum()).backward()
    grads = [a.grad.numpy() if isinstance(a, jitgrad.Tensor) and a.grad is not None else None for a in args]
    return y.detach().numpy(), loss.detach().numpy(), grads


def _assert_same(eager, compiled, dtype):
    tol = TOL[dtype]
    for e, c in zip(eager[:2], compiled[:2]):
        np.testing.assert_allclose(c, e, **tol)
        assert c.dtype == e.dtype
    for e, c in zip(eager[2], compiled[2]):
        assert (e is None) == (c is None)
        if e is not None:
            np.testing.assert_allclose(c, e, **tol)


# ============================================================================ every fusable op
def _op_cases():
    rng = np.random.default_rng(7)
    for name in sorted(SCALAR_DEFS):
        samples = OPS[name].samples
        if samples is None:  # (an op the gradient check samples elsewhere): inputs of one shape
            samples = lambda rng, k=len(SCALAR_DEFS[name].vjps): [(tuple(rng.uniform(0.3, 2, (3, 4)) for _ in range(k)),
                                                                   {})]
        for i, (args, kwargs) in enumerate(samples(rng)):
            yield pytest.param(name, args, kwargs, id=f"{name}-{i}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,args,kwargs", list(_op_cases()))
def test_every_scalar_op_matches_eager(name, args, kwargs, dtype):
    def fn(*ts):
        y = getattr(jitgrad, name)(*ts, **kwargs)  # (looked up at the call, as a trace needs)
        return y, (y * y).mean()

    compiled = jitgrad.compile(fn)
    shapes = [np.shape(a) for a in args if isinstance(a, (np.ndarray, np.generic))]
    out_shape = np.broadcast_shapes(*shapes)
    seed = np.random.default_rng(1).standard_normal(out_shape)
    eager = _run(fn, args, dtype, seed)
    _run(compiled, args, dtype, seed)  # (the trace: runs eagerly)
    _assert_same(eager, _run(compiled, args, dtype, seed), dtype)
    # (a Python scalar operand fuses where the eager op's scalar path is its scalar math)
    fusable = not kwargs and all(s in (out_shape, ()) for s in shapes) and (
        name in ("add", "sub", "mul", "div", "rsub") or not any(isinstance(a, (int, float)) for a in args))
    kinds = [type(s).__name__ for s in _steps(compiled)]
    assert kinds == (["RegionStep"] if fusable else ["EagerStep", "RegionStep"])


# ============================================================================ chains and mixes
_UNARY = ("exp", "tanh", "sigmoid", "sin", "atan", "relu", "abs", "erf", "expm1", "cos")
_BINARY = ("add", "sub", "mul", "maximum", "minimum")


@settings(max_examples=10, deadline=None, derandomize=True)  # (each new chain compiles its kernels once)
@given(st.lists(st.tuples(st.sampled_from(_UNARY + _BINARY), st.integers(0, 3), st.floats(-2, 2)),
                min_size=1, max_size=5), st.sampled_from(["sum", "mean", None]))
def test_random_chains_match_eager(program, reduction):
    def fn(x, w, c):
        values = [x, w]
        for op, pick, scalar in program:
            a = values[pick % len(values)]
            if op in _UNARY:
                values.append(getattr(a, op)())
            elif op in ("add", "sub", "mul") and pick == 3:
                values.append(getattr(a, op)(scalar))
            else:
                values.append(getattr(jitgrad, op)(a, values[(pick + 1) % len(values)] if pick != 2 else c))
        y = values[-1] * 0.5 + values[-2]
        return y, (getattr(y, reduction)() if reduction else y[0, 0] * 1.0)

    rng = np.random.default_rng(3)
    arrays = [rng.uniform(-1, 1, (4, 5)), rng.uniform(-1, 1, (4, 5)), np.asarray(rng.uniform(0.5, 1))]
    seed = rng.standard_normal((4, 5))
    compiled = jitgrad.compile(fn)
    eager = _run(fn, arrays, np.float64, seed)
    _run(compiled, arrays, np.float64, seed)
    _assert_same(eager, _run(compiled, arrays, np.float64, seed), np.float64)
    assert _fused(compiled) >= 1


def test_mixed_fused_and_opaque_program():
    def fn(a, b, c):
        h = (a * 2 + 1).tanh()
        h = h @ b  # a matrix product in the middle runs as its eager op
        return h, (h.sigmoid() * h + c).sum()

    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((3, 4)), rng.standard_normal((4, 5)), np.asarray(0.3)]
    seed = rng.standard_normal((3, 5))
    compiled = jitgrad.compile(fn)
    eager = _run(fn, arrays, np.float64, seed)
    _run(compiled, arrays, np.float64, seed)
    _assert_same(eager, _run(compiled, arrays, np.float64, seed), np.float64)
    steps = _steps(compiled)
    assert [type(s).__name__ for s in steps] == ["RegionStep", "EagerStep", "RegionStep"]


def test_w1_w2_grad_fn_and_dtype():
    f = jitgrad.compile(lambda x: ((x * 2 + 1).exp() * x).sum())
    x = jitgrad.randn(16, requires_grad=True)
    f(x)
    loss = f(x)
    assert loss.grad_fn.name() == "CompiledFunctionBackward"
    assert loss.dtype == jitgrad.float32
    loss.backward()
    expected = ((x.detach() * 2 + 1).exp() * (1 + 2 * x.detach())).numpy()
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-5)


def test_parallel_kernels_above_the_threshold():
    from jitgrad.kernels.elementwise import PARALLEL_THRESHOLD

    def fn(x):
        return x, (x.tanh() * x.sigmoid() + x * x * 0.5).sum()

    arrays = [np.random.default_rng(0).standard_normal(PARALLEL_THRESHOLD + 3)]
    seed = np.zeros(PARALLEL_THRESHOLD + 3)
    compiled = jitgrad.compile(fn)
    eager = _run(fn, arrays, np.float64, seed)
    _run(compiled, arrays, np.float64, seed)
    _assert_same(eager, _run(compiled, arrays, np.float64, seed), np.float64)


def test_no_grad_runs_forward_only():
    compiled = jitgrad.compile(lambda x: (x.exp() * x).sum())
    x = jitgrad.randn(5, requires_grad=True)
    with jitgrad.no_grad():
        compiled(x)
        y = compiled(x)
    assert y.grad_fn is None and not y.requires_grad
    np.testing.assert_allclose(y.item(), (x.detach().exp() * x.detach()).sum().item(), rtol=1e-6)


def test_outputs_without_grad_path_stay_plain():
    compiled = jitgrad.compile(lambda x, w: (x.exp(), x * w))
    x, w = jitgrad.randn(4), jitgrad.randn(4, requires_grad=True)
    compiled(x, w)
    a, b = compiled(x, w)
    assert a.grad_fn is None and not a.requires_grad
    assert b.grad_fn.name() == "CompiledFunctionBackward"


def test_double_backward_raises():
    compiled = jitgrad.compile(lambda x: (x.exp() * x).sum())
    x = jitgrad.randn(3, requires_grad=True)
    compiled(x)
    with pytest.raises(RuntimeError, match="create_graph=True .* not implemented for CompiledFunctionBackward"):
        jitgrad.autograd.grad(compiled(x), x, create_graph=True)


# ============================================================================ modules
def test_module_with_sgd_matches_eager_over_20_steps():
    def make():
        jitgrad.manual_seed(0)
        return jitgrad.nn.Sequential(jitgrad.nn.Linear(6, 8), jitgrad.nn.Tanh(), jitgrad.nn.Linear(8, 4),
                                     jitgrad.nn.ReLU(), jitgrad.nn.Linear(4, 1))

    rng = np.random.default_rng(0)
    data = [(jitgrad.tensor(rng.standard_normal((5, 6)), dtype=jitgrad.float32),
             jitgrad.tensor(rng.standard_normal((5, 1)), dtype=jitgrad.float32)) for _ in range(20)]
    results = []
    for compiled in (False, True):
        model = make()
        run = jitgrad.compile(model) if compiled else model
        opt = jitgrad.optim.SGD(run.parameters(), lr=0.1)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # (no graph break)
            for x, y in data:
                opt.zero_grad()
                loss = ((run(x) - y) ** 2).mean()
                loss.backward()
                opt.step()
        results.append([p.detach().numpy().copy() for p in model.parameters()])
        if compiled:
            assert isinstance(run._orig_mod, jitgrad.nn.Sequential)
            assert all(k.startswith("_orig_mod.") for k in run.state_dict())
            assert _fused(run.__dict__["_compiled_call"]) == 2  # tanh, relu; the linears run eagerly
    for e, c in zip(*results):
        np.testing.assert_allclose(c, e, rtol=1e-5, atol=1e-6)


# ============================================================================ guards and breaks
def test_guards_retrace_on_shape_dtype_requires_grad_and_scalars():
    calls = []

    def fn(x, s):
        calls.append(1)
        return x * s

    compiled = jitgrad.compile(fn)
    x, x4, x64, xg = jitgrad.ones(3), jitgrad.ones(4), jitgrad.ones(3).double(), jitgrad.ones(3, requires_grad=True)
    for args in [(x, 2.0), (x, 2.0), (x, 3.0), (x4, 2.0), (x64, 2.0), (xg, 2.0), (x, 2.0), (xg, 2.0)]:
        np.testing.assert_allclose(compiled(*args).detach().numpy(), args[0].detach().numpy() * args[1])
    assert len(calls) == 5  # five guard keys traced; the repeats replayed
    assert len(compiled._plans) == 5


def test_recompile_limit_runs_eagerly_with_one_warning():
    compiled = jitgrad.compile(lambda x: x + 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for n in range(1, 12):
            assert compiled(jitgrad.ones(n)).shape == (n,)
    limit = [w for w in caught if "recompile_limit" in str(w.message)]
    assert len(limit) == 1 and "(8)" in str(limit[0].message)
    assert len(compiled._plans) == 8


def test_graph_break_warns_with_the_line_and_runs_eagerly():
    def fn(x):
        y = x.exp()
        if y.sum().item() > 0:  # data-dependent Python
            return y * 2
        return y

    compiled = jitgrad.compile(fn)
    x = jitgrad.randn(3)
    with pytest.warns(UserWarning, match=r"Graph break.*item.*test_compile.py:\d+"):
        compiled(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(compiled(x).numpy(), fn(x).numpy())  # eager, no second warning


@pytest.mark.parametrize("body", ["print(y)", "y.backward(jitgrad.ones_like(y))", "float(y.sum())",
                                  "list(y)", "jitgrad.randn(3) + y"])
def test_fullgraph_raises_naming_the_line(body):
    namespace = {"jitgrad": jitgrad}
    exec(textwrap.dedent(f"""
        def fn(x):
            y = x.exp()
            {body}
            return y
    """), namespace)
    x = jitgrad.randn(3, requires_grad=True)
    with pytest.raises(Unsupported, match=r"at <string>:4"):
        jitgrad.compile(fullgraph=True)(namespace["fn"])(x)


def test_tensor_from_an_unknown_place_breaks_the_graph():
    holder = {"w": jitgrad.ones(3)}

    def fn(x):
        return x * holder_w()

    def holder_w():
        return holder["w"]

    # a tensor reached through a helper is not a known outside place: the key runs eagerly
    with pytest.warns(UserWarning, match="outside the traced ops"):
        jitgrad.compile(fn)(jitgrad.ones(3))


def test_global_tensor_replaced_is_seen():
    namespace = {"jitgrad": jitgrad, "W": jitgrad.full((3,), 2.0)}
    exec("def fn(x):\n    return x * W\n", namespace)
    compiled = jitgrad.compile(namespace["fn"])
    x = jitgrad.ones(3)
    compiled(x)
    assert compiled(x).numpy().tolist() == [2.0] * 3
    namespace["W"] = jitgrad.full((3,), 5.0)
    assert compiled(x).numpy().tolist() == [5.0] * 3


def test_disable_and_environment_run_eagerly(monkeypatch):
    assert jitgrad.compile(disable=True)(lambda x: x + 1).disabled
    monkeypatch.setenv("JITGRAD_COMPILE", "0")
    f = jitgrad.compile(lambda x: x + 1)
    assert f(jitgrad.ones(2)).numpy().tolist() == [2.0, 2.0]
    assert not f._plans


def test_reset_drops_compiled_graphs():
    f = jitgrad.compile(lambda x: x + 1)
    f(jitgrad.ones(2))
    assert f._plans
    jitgrad.compiler.reset()
    assert not f._plans


# ============================================================================ the on-disk cache
_CACHE_SCRIPT = """
import sys, jitgrad
from jitgrad.compiler import codegen
ops = sys.argv[1].split(",")
def fn(x):
    for op in ops:
        x = getattr(x, op)()
    return (x * x).sum()
f = jitgrad.compile(fn)
x = jitgrad.linspace(-1, 1, 10, requires_grad=True)
f(x)
f(x).backward()
kernels = [k for m in codegen._modules.values() for k in (m.forward, m.backward, m.forward_grad)]
misses = sum(sum(k.stats.cache_misses.values()) for k in kernels)
hits = sum(sum(k.stats.cache_hits.values()) for k in kernels)
print(misses, hits)
"""


def _run_script(ops, env=None):
    return subprocess.Popen([sys.executable, "-c", _CACHE_SCRIPT, ",".join(ops)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _unique_chain():
    rng = np.random.default_rng(int.from_bytes(os.urandom(8), "little"))
    return list(rng.choice(["sin", "cos", "atan", "tanh", "sigmoid", "exp"], 12))


def test_two_processes_compile_at_once_then_a_third_loads_from_cache():
    ops = _unique_chain()  # a graph no earlier run compiled
    procs = [_run_script(ops), _run_script(ops)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    p = _run_script(ops)
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    misses, hits = map(int, out.split())
    assert misses == 0 and hits == 1  # forward_grad (the loss and its gradient) loaded, nothing compiled


def test_inputs_reaching_only_unused_outputs_get_no_grad():
    compiled = jitgrad.compile(lambda x, w: (x.exp(), (w * 2).sum()))  # one region, two outputs
    x, w = jitgrad.randn(4, requires_grad=True), jitgrad.randn(4, requires_grad=True)
    compiled(x, w)
    y, loss = compiled(x, w)
    loss.backward()
    assert x.grad is None  # as eager: ExpBackward0 would never run
    np.testing.assert_allclose(w.grad.numpy(), np.full(4, 2.0))


def test_training_step_inside_the_function_runs_eagerly_and_matches():
    def make():
        jitgrad.manual_seed(1)
        model = jitgrad.nn.Linear(3, 1)
        return model, jitgrad.optim.SGD(model.parameters(), lr=0.1)

    x, y = jitgrad.ones(4, 3), jitgrad.zeros(4, 1)
    results = []
    for compiled in (False, True):
        model, opt = make()

        def step(x, y):
            opt.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()  # inside the function: a graph break in v1
            opt.step()
            return loss

        run = jitgrad.compile(step) if compiled else step
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            losses = [run(x, y).item() for _ in range(5)]
        assert len([w for w in caught if "Graph break" in str(w.message)]) == (1 if compiled else 0)
        results.append((losses, model.weight.detach().numpy().copy()))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-6)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-6)


def test_module_with_forward_hook_runs_eagerly():
    model = jitgrad.nn.Linear(2, 2)
    seen = []
    model.register_forward_hook(lambda mod, args, out: seen.append(1))
    compiled = jitgrad.compile(model)
    with pytest.warns(UserWarning, match="forward hooks"):
        compiled(jitgrad.ones(1, 2))
    compiled(jitgrad.ones(1, 2))
    assert len(seen) == 2  # the hook ran on every call


def test_assigning_data_inside_breaks_the_graph():
    def fn(x, w):
        w.data = x * 2
        return w + 1

    with pytest.raises(Unsupported, match="Tensor.data"):
        jitgrad.compile(fn, fullgraph=True)(jitgrad.ones(2), jitgrad.zeros(2))


def test_empty_tensors():
    compiled = jitgrad.compile(lambda x: ((x * 2).exp().sum(), x.sigmoid().mean()))
    x = jitgrad.zeros(0, requires_grad=True)
    compiled(x)
    total, mean = compiled(x)
    assert total.item() == 0.0 and np.isnan(mean.item())
    (total + mean).backward()
    assert x.grad.shape == (0,)


def test_reduction_gradient_scaled_and_retained_graph():
    # the loss's gradient computed with the forward pass: scaled by a gradient that is not 1, and
    # computed again by the backward kernel on a second pass over a retained graph
    def fn(x):
        return (x.tanh() * x + 1).sum()

    compiled = jitgrad.compile(fn)
    results = []
    for f in (fn, compiled, compiled):
        x = jitgrad.linspace(-2, 2, 7, dtype=jitgrad.float64, requires_grad=True)
        loss = f(x)
        (loss * 3).backward(retain_graph=True)
        loss.backward()
        results.append(x.grad.numpy().copy())
    np.testing.assert_allclose(results[1], results[0], rtol=1e-12)
    np.testing.assert_allclose(results[2], results[0], rtol=1e-12)
