"""jitgrad's Numba cache survives processes that fill it at the same time (kernels/_jit.py)."""
import os
import subprocess
import sys
import textwrap

import pytest
from numba.core import caching

import jitgrad.kernels as kernels
from jitgrad.kernels import _jit


def _cache_file(cls, path):
    return cls(cache_path=str(path), filename_base="f-1.py311", source_stamp=(1.0, 2))


def test_a_torn_entry_is_a_miss_not_another_signatures_code(tmp_path):
    # the state Numba's unlocked save can leave: the index sends key B to the data file that holds A's code
    plain = _cache_file(caching.IndexDataCacheFile, tmp_path)
    plain.save("A", "code compiled for A")
    plain._save_index({"A": plain._data_name(1), "B": plain._data_name(1)})
    assert plain.load("B") == "code compiled for A"  # what plain Numba would run for B

    safe = _cache_file(_jit.SafeCacheFile, tmp_path)
    assert safe.load("B") is None  # not tagged with B's key: compile again
    safe.save("A", "A2")
    safe.save("B", "B2")
    assert safe.load("A") == "A2" and safe.load("B") == "B2"
    index = safe._load_index()
    assert index["A"] != index["B"]


_WRITER = textwrap.dedent("""
    import sys, time
    from jitgrad.kernels import _jit
    path, who, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
    f = _jit.SafeCacheFile(cache_path=path, filename_base="f-1.py311", source_stamp=(1.0, 2))
    while time.time() < start:
        pass
    for i in range(25):
        f.save((who, i), ("data of", who, i))
""")


def test_concurrent_writers_keep_every_entry_its_own(tmp_path):
    import time

    start = time.time() + 1.5  # all four start writing at the same moment
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), w, str(start)]) for w in "abcd"]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0, 0]
    f = _cache_file(_jit.SafeCacheFile, tmp_path)
    index = f._load_index()
    assert len(index) == 100 and len(set(index.values())) == 100
    for w in "abcd":
        for i in range(25):
            assert f.load((w, i)) == ("data of", w, i)


def test_every_kernel_uses_the_safe_cache():
    import importlib

    checked = 0
    for name in ("elementwise", "pointwise", "nn", "conv", "joining", "reduction", "statistics", "optim",
                 "random", "linear", "vmath"):
        mod = importlib.import_module(f"jitgrad.kernels.{name}")
        for obj in vars(mod).values():
            cache = getattr(obj, "_cache", None)
            if isinstance(cache, caching.FunctionCache):
                assert type(cache._cache_file) is _jit.SafeCacheFile, (name, obj)
                checked += 1
    assert checked > 150


@pytest.mark.skipif(sys.platform == "win32", reason="fork-free check of the lock file only")
def test_a_real_kernel_round_trips_through_the_safe_cache(tmp_path):
    code = textwrap.dedent("""
        import numpy as np
        import jitgrad
        from jitgrad.kernels import loops as k  # (the kernels generated from ops/unary.py)
        x = np.arange(5.0); out = np.empty(5)
        k.exp_forward(x, out)
        print(sorted(k.exp_forward.stats.cache_hits.values()), sorted(k.exp_forward.stats.cache_misses.values()))
    """)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    first = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    second = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert first.stdout.split() == ["[]", "[1]"]  # compiled and saved
    assert second.stdout.split() == ["[1]", "[]"]  # loaded: the tagged entry is read back
    assert any(p.name == _jit._LOCK_NAME for p in tmp_path.rglob("*"))
    assert kernels is not None
