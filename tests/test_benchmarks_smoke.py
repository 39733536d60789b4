"""The benchmarks cannot rot: every asv benchmark runs once, the reference implementations
that ``compare.py`` times against are checked against PyTorch, and the scripts run briefly.

Discovery mirrors asv: modules ``bench_*`` under ``asv_benchmarks/benchmarks``; classes or
functions with ``time_`` / ``peakmem_`` / ``track_`` attributes; the first parameter
combination; ``setup_cache`` (its result, unless None, passed first), ``setup`` /
``teardown`` around each call, ``NotImplementedError`` from setup = skip (a piece of jitgrad
not written yet).  The cold-compile start-up benchmarks are skipped (they compile every
kernel from scratch); the warm ones run with a single subprocess.
"""
import importlib
import inspect
import itertools
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH_ROOT = os.path.join(ROOT, "asv_benchmarks")
PREFIXES = ("time_", "peakmem_", "track_")
SKIP = {"bench_startup.Startup.track_cold_compile": "spawns a cold Numba compile",
        "bench_startup.Startup.track_warm_import": "the same child process as track_warm_startup",
        "bench_startup.StartupW3.track_cold_compile_w3": "spawns a cold Numba compile of a W3 step"}
FAST_ATTRS = {"warm_runs": 1, "cold_runs": 1}  # start-up benchmarks: one subprocess each

if BENCH_ROOT not in sys.path:
    sys.path.insert(0, BENCH_ROOT)


def _modules():
    import pkgutil

    pkg = importlib.import_module("benchmarks")
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("bench_"):
            yield importlib.import_module(f"benchmarks.{info.name}")


def _first_params(owner):
    params = getattr(owner, "params", None)
    if params is None or params == []:
        return ()
    names = getattr(owner, "param_names", None) or []
    if len(names) <= 1 and not (params and isinstance(params[0], (list, tuple))):
        params = [params]
    return next(itertools.product(*params))


def _cases():
    for mod in _modules():
        short = mod.__name__.split(".", 1)[1]
        for cname, cls in inspect.getmembers(mod, inspect.isclass):
            if cls.__module__ != mod.__name__:
                continue
            for mname in sorted(vars(cls)):
                if mname.startswith(PREFIXES):
                    yield f"{short}.{cname}.{mname}", cls, mname
        for fname, fn in inspect.getmembers(mod, inspect.isfunction):
            if fn.__module__ == mod.__name__ and fname.startswith(PREFIXES):
                yield f"{short}.{fname}", None, fn


CASES = list(_cases())


def test_discovered_every_area():
    names = {c[0] for c in CASES}
    for expected in ("bench_overhead.W1.time_forward_backward", "bench_overhead.W1.time_forward_no_grad",
                     "bench_elementwise.ElementwiseChain.time_forward_backward",
                     "bench_reduction.Reduction.time_forward_backward",
                     "bench_matmul.MatMul.time_forward_backward",
                     "bench_nn.SoftmaxCrossEntropy.time_forward_backward",
                     "bench_nn.Conv2d.time_forward_backward", "bench_nn.MaxPool2d.time_forward_backward",
                     "bench_training.MLPStep.time_step", "bench_training.MLPStep.peakmem_step",
                     "bench_training.CNNStep.time_step", "bench_training.CNNStep.peakmem_step",
                     "bench_training.OptimizerStep.time_step",
                     "bench_startup.Startup.track_warm_startup", "bench_startup.Startup.track_cold_compile",
                     "bench_startup.StartupW3.track_cold_compile_w3"):
        assert expected in names


_cache_results = {}


@pytest.mark.parametrize("name,cls,method", CASES, ids=[c[0] for c in CASES])
def test_benchmark_runs_once(name, cls, method):
    if name in SKIP:
        pytest.skip(SKIP[name])
    if cls is None:  # a module-level benchmark function
        params = _first_params(method)
        method(*params)
        return
    obj = cls()
    for attr, value in FAST_ATTRS.items():
        if hasattr(obj, attr):
            setattr(obj, attr, value)
    params = _first_params(cls)
    args = params
    if hasattr(cls, "setup_cache"):
        if cls not in _cache_results:
            _cache_results[cls] = obj.setup_cache()
        if _cache_results[cls] is not None:  # asv passes the cache only when it is not None
            args = (_cache_results[cls],) + params
    if hasattr(obj, "setup"):
        try:
            obj.setup(*args)
        except NotImplementedError as e:
            pytest.skip(f"setup raised NotImplementedError (asv skips this combination): {e}")
    try:
        result = getattr(obj, method)(*args)
        if method.startswith("track_"):
            assert isinstance(result, (int, float)) and result == result, result
    finally:
        if hasattr(obj, "teardown"):
            obj.teardown(*args)


# ----------------------------------------------------------------------------- references
# compare.py times hand-written NumPy, JAX and HIPS autograd versions of the workloads: they
# must compute what PyTorch computes, or the comparison means nothing.
def _close(got, want, tol=1e-4):
    got = np.asarray(got, np.float64)
    want = np.asarray(want.detach().numpy() if hasattr(want, "detach") else want, np.float64)
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= tol * (np.abs(want).max() + 1e-12)


def _torch_mlp(torch, params, x, y):
    F = torch.nn.functional
    ts = [(torch.from_numpy(W.copy()).requires_grad_(), torch.from_numpy(b.copy()).requires_grad_())
          for W, b in params]
    h = torch.from_numpy(x)
    for i, (W, b) in enumerate(ts):
        h = F.linear(h.relu() if i else h, W, b)
    loss = F.cross_entropy(h, torch.from_numpy(y))
    loss.backward()
    return loss, ts


def _torch_cnn(torch, params, x, y):
    F = torch.nn.functional
    ts = [(torch.from_numpy(W.copy()).requires_grad_(), torch.from_numpy(b.copy()).requires_grad_())
          for W, b in params]
    (W1, b1), (W2, b2), (W3, b3) = ts
    h = F.conv2d(torch.from_numpy(x), W1, b1, padding=1).relu()
    h = F.max_pool2d(F.conv2d(h, W2, b2, padding=1).relu(), 2).flatten(1)
    loss = F.cross_entropy(F.linear(h, W3, b3), torch.from_numpy(y))
    loss.backward()
    return loss, ts


def test_numpy_references_match_torch():
    torch = pytest.importorskip("torch")
    from benchmarks import common, reference as R

    x = np.asarray(common.W1_VALUES, np.float32)
    loss, g = R.numpy_w1_grads(x)
    xt = torch.from_numpy(x.copy()).requires_grad_()
    lt = common.w1_chain(xt)
    lt.backward()
    _close(loss, lt), _close(g, xt.grad)

    x = common.w2_data(1000, "float64")
    loss, g = R.numpy_w2_grads(x)
    xt = torch.from_numpy(x.copy()).requires_grad_()
    lt = common.eltwise_chain(torch, xt)
    lt.backward()
    _close(loss, lt), _close(g, xt.grad)

    abc = common.w5_data()
    loss, grads = R.numpy_w5_grads(*abc)
    ts = common.tensors(torch, abc)
    lt = common.w5_chain(*ts)
    lt.backward()
    _close(loss, lt)
    for g, t in zip(grads, ts):
        _close(g, t.grad)

    for params, data, grads_of, torch_of in (
            (R.mlp_params(), common.w3_data(32), R.numpy_w3_grads, _torch_mlp),
            (R.cnn_params(), common.w6_data(16), R.numpy_w6_grads, _torch_cnn)):
        loss, grads = grads_of(params, *data)
        lt, ts = torch_of(torch, params, *data)
        _close(loss, lt)
        for (gW, gb), (W, b) in zip(grads, ts):
            _close(gW, W.grad), _close(gb, b.grad)


@pytest.mark.parametrize("framework", ["jax", "autograd"])
def test_functional_references_match_numpy(framework):
    """The JAX / HIPS autograd versions (written once) against the hand-written NumPy ones."""
    pytest.importorskip(framework)
    from benchmarks import common, reference as R

    R.load(framework)
    abc = common.w5_data()
    loss, grads = R.functional_grads(framework, "w5", tuple(abc))
    want_loss, want = R.numpy_w5_grads(*abc)
    _close(loss, want_loss)
    for g, w in zip(grads, want):
        _close(g, w)
    for workload, params, (x, y), grads_of in (("w3", R.mlp_params(), common.w3_data(32), R.numpy_w3_grads),
                                               ("w6", R.cnn_params(), common.w6_data(16), R.numpy_w6_grads)):
        loss, grads = R.functional_grads(framework, workload, params, x, R.one_hot(y, 10))
        want_loss, want = grads_of(params, x, y)
        _close(loss, want_loss)
        for (gW, gb), (wW, wb) in zip(grads, want):
            _close(gW, wW), _close(gb, wb)


# ----------------------------------------------------------------------------- scripts
def _run_tool(*args, timeout=120):
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


def test_compare_script_runs(tmp_path):
    md, png = tmp_path / "out.md", tmp_path / "out.png"
    rc, out = _run_tool(os.path.join(BENCH_ROOT, "compare.py"), "-w", "w1", "-w", "w1_nograd",
                        "-f", "jitgrad", "-f", "torch", "-f", "numpy", "--rounds", "2", "--batch-ms", "2",
                        "--threads", "1", "--markdown", str(md), "--png", str(png))
    assert rc == 0, out
    assert "machine :" in out and "threads :" in out and "blas    :" in out and "w1_nograd" in out, out
    text = md.read_text()
    assert "| W1 forward under no_grad |" in text, text
    try:
        import torch  # noqa: F401
    except ImportError:  # the targets and the chart are ratios to PyTorch's times: both need torch
        assert "Targets (jitgrad):" not in text and "wrote " + str(png) not in out, text
        return
    assert "Targets (jitgrad):" in text, text
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "matplotlib not installed" in out
    else:
        assert png.stat().st_size > 0


def test_gemm_study_runs():
    rc, out = _run_tool(os.path.join(BENCH_ROOT, "gemm_study.py"), "--quick", "--rounds", "1", "--threads", "1")
    assert rc == 0, out
    assert "per product" in out and "NumPy step by phase" in out, out


def test_profile_script_runs():
    rc, out = _run_tool(os.path.join(BENCH_ROOT, "profile_w1.py"), "--plain", "200")
    assert rc == 0 and "W1 iterations" in out, out


def test_scaling_script_runs(tmp_path):
    md, png, js = tmp_path / "s.md", tmp_path / "s.png", tmp_path / "s.json"
    rc, out = _run_tool(os.path.join(BENCH_ROOT, "scaling.py"), "--threads", "1", "2", "-w", "w1",
                        "-f", "jitgrad", "-f", "torch", "--markdown", str(md), "--png", str(png),
                        "--json", str(js), timeout=300)
    assert rc == 0, out
    rows = [ln for ln in md.read_text().splitlines() if ln.startswith("| 1 |") or ln.startswith("| 2 |")]
    assert len(rows) == 2, md.read_text()
    results = json.loads(js.read_text())
    assert [r["threads"] for r in results] == [1, 2]
    assert all(r["rows"][0]["workload"] == "w1" and "jitgrad" in r["rows"][0]["med"] for r in results)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    assert png.stat().st_size > 0
