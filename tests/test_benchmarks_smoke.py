"""Every asv benchmark runs once (first parameter combination), the way asv would call it.

Discovery mirrors asv: modules under ``asv_benchmarks/benchmarks``; classes or functions with
``time_`` / ``peakmem_`` / ``track_`` attributes; ``setup_cache`` (its result, unless None, passed first),
``setup`` / ``teardown`` around each call, ``NotImplementedError`` from setup = skip.  The
cold-compile start-up benchmark is skipped (it compiles every kernel from scratch); the warm
ones run with a single subprocess.  ``compare.py`` and ``profile_w1.py`` run once, briefly.
"""
import importlib
import inspect
import itertools
import os
import pkgutil
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH_ROOT = os.path.join(ROOT, "asv_benchmarks")
PREFIXES = ("time_", "peakmem_", "track_")
SKIP = {"bench_startup.Startup.track_cold_compile": "spawns a cold Numba compile"}
FAST_ATTRS = {"warm_runs": 1, "cold_runs": 1}  # start-up benchmarks: one subprocess each


def _modules():
    if BENCH_ROOT not in sys.path:
        sys.path.insert(0, BENCH_ROOT)
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
    for expected in ("bench_overhead.W1.time_forward_backward", "bench_overhead.W1.time_forward",
                     "bench_overhead.W1.time_forward_no_grad",
                     "bench_elementwise.ElementwiseChain.time_forward_backward",
                     "bench_startup.Startup.track_warm_startup", "bench_startup.Startup.track_cold_compile"):
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
        except NotImplementedError:
            pytest.skip("setup raised NotImplementedError (asv skips this combination)")
    try:
        result = getattr(obj, method)(*args)
        if method.startswith("track_"):
            assert isinstance(result, (int, float)) and result == result, result
    finally:
        if hasattr(obj, "teardown"):
            obj.teardown(*args)


def _run_tool(*args):
    import subprocess

    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


def test_compare_script_runs(tmp_path):
    md = tmp_path / "out.md"
    rc, out = _run_tool(os.path.join(BENCH_ROOT, "compare.py"), "-w", "w1_nograd", "--rounds", "2",
                        "--batch-ms", "2", "--markdown", str(md))
    assert rc == 0, out
    assert "machine :" in out and "threads :" in out and "w1_nograd" in out, out
    assert "| W1 forward under no_grad |" in md.read_text()


def test_profile_script_runs():
    rc, out = _run_tool(os.path.join(BENCH_ROOT, "profile_w1.py"), "--plain", "200")
    assert rc == 0 and "W1 iterations" in out, out
