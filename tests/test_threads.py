"""jitgrad's thread pool: lazy start, the settings it relies on, fork and thread safety.

Each case runs in a fresh interpreter: pool start-up is once per process, and a regression here
kills or hangs the process (GNU OpenMP kills a forked child; Numba's workqueue layer aborts on
concurrent launches).  See ``jitgrad/kernels/__init__.py`` ("Threads").
"""
import json
import os
import subprocess
import sys
import textwrap

import pytest

BIG = 1 << 17  # above every PARALLEL_THRESHOLD: the ops below run the parallel twins


def run_python(tmp_path, code, env=None, timeout=120):
    """Run ``CHAIN`` + ``code`` as a script (multiprocessing's spawn re-imports it) in a fresh
    interpreter without the user's thread settings; its stdout."""
    full_env = dict(os.environ)
    for var in ("NUMBA_THREADING_LAYER", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "NUMBA_NUM_THREADS"):
        full_env.pop(var, None)
    full_env.update(env or {})
    script = tmp_path / "case.py"
    script.write_text(CHAIN + textwrap.dedent(code))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=timeout,
                          env=full_env)
    assert proc.returncode == 0, f"rc={proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc.stdout


# The check every child process makes: W2's chain and its gradient, against the closed form.
CHAIN = f"""
import numpy as np
def chain_ok(X, n={BIG}):
    x = X.linspace(-3, 3, n, requires_grad=True)
    loss = (X.tanh(x) * X.sigmoid(x) + x * x * 0.5).sum()
    loss.backward()
    v = np.linspace(-3, 3, n, dtype=np.float32)
    t, s = np.tanh(v), 1 / (1 + np.exp(-v))
    want_loss = float((t * s + v * v * 0.5).astype(np.float64).sum())
    want_grad = (1 - t * t) * s + t * s * (1 - s) + v
    return abs(float(loss) - want_loss) < 1e-3 * abs(want_loss) and np.allclose(x.grad.numpy(), want_grad, atol=1e-5)
"""


def test_pool_settings_after_torch_then_jitgrad_and_fork_safety(tmp_path):
    out = run_python(tmp_path, """
    import os, sys, multiprocessing as mp
    try:
        import torch  # first, as in the issue: its libgomp.so.1 is loaded RTLD_GLOBAL
    except ImportError:
        torch = None
    import jitgrad as X


    def work(q):  # a multiprocessing child's job (spawn re-imports this script: nothing else runs)
        q.put(bool(chain_ok(X)))


    def main():
        import numba
        from numba.np.ufunc import parallel
        from jitgrad import kernels as K
        from jitgrad.kernels import elementwise as ek

        # importing starts no pool, and asking for the thread count does not start it either
        assert not parallel._is_initialized and K.pool_state == "lazy", K.pool_state
        assert X.get_num_threads() == numba.config.NUMBA_NUM_THREADS
        assert not parallel._is_initialized

        # a child forked before the pool started starts its own
        pid = os.fork()
        if pid == 0:
            os._exit(0 if chain_ok(X) and K.pool_state == "started" else 3)
        assert os.waitpid(pid, 0)[1] == 0

        assert chain_ok(X)  # the first parallel kernel starts the pool
        assert parallel._is_initialized and K.pool_state == "started"
        assert numba.threading_layer() == "workqueue"  # no OpenMP shared with torch, no spinning
        assert "numba.np.ufunc.omppool" not in sys.modules  # (torch's libgomp keeps its own settings)
        assert "GOMP_SPINCOUNT" not in os.environ and "OMP_WAIT_POLICY" not in os.environ
        assert ek.PARALLEL[ek.tanh_forward] is not ek.tanh_forward  # the (lock-guarded) twin

        # set_num_threads(1): the serial kernels, no thread woken; back to the twins with 2
        X.set_num_threads(1)
        assert ek.PARALLEL[ek.tanh_forward] is ek.tanh_forward and ek.add_forward_parallel is ek.add_forward
        assert X.get_num_threads() == 1 and chain_ok(X)
        X.set_num_threads(2)
        assert ek.PARALLEL[ek.tanh_forward] is not ek.tanh_forward and X.get_num_threads() == 2

        # a child forked after the pool started runs the serial kernels (GNU OpenMP killed it: -15)
        pid = os.fork()
        if pid == 0:
            ok = chain_ok(X) and K.pool_state == "forked" and X.get_num_threads() == 1
            ok = ok and ek.PARALLEL[ek.tanh_forward] is ek.tanh_forward
            os._exit(0 if ok else 3)
        assert os.waitpid(pid, 0)[1] == 0

        for method in ("fork", "spawn"):  # a DataLoader worker; a spawned one re-imports jitgrad
            ctx = mp.get_context(method)
            q = ctx.Queue()
            p = ctx.Process(target=work, args=(q,))
            p.start()
            got = q.get(timeout=60)
            p.join(30)
            assert got is True and p.exitcode == 0, (method, got, p.exitcode)
        print("torch" if torch is not None else "no torch", "ok")


    if __name__ == "__main__":
        main()
    """)
    assert out.strip().endswith("ok")


def test_concurrent_backward_from_four_threads(tmp_path):
    # workqueue aborts the process when two threads launch parallel kernels at once
    out = run_python(tmp_path, """
    import threading
    import jitgrad as X
    errors = []

    def work():
        try:
            for _ in range(6):
                assert chain_ok(X, n=300_000)
        except BaseException as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    import numba
    print(numba.threading_layer(), errors)
    """)
    assert out.split() == ["workqueue", "[]"]


def test_a_users_threading_layer_and_wait_policy_are_respected(tmp_path):
    code = """
    import os
    import jitgrad as X, numba
    assert chain_ok(X)
    print(numba.threading_layer(), os.environ.get("GOMP_SPINCOUNT"))
    """
    out = run_python(tmp_path, code, env={"NUMBA_THREADING_LAYER": "workqueue", "OMP_WAIT_POLICY": "active"})
    assert out.split() == ["workqueue", "None"]
    try:
        from numba.np.ufunc import omppool  # noqa: F401
    except ImportError:
        pytest.skip("Numba's OpenMP layer is not available here")
    out = run_python(tmp_path, code, env={"NUMBA_THREADING_LAYER": "omp"})
    assert out.split() == ["omp", "None"]  # GOMP_SPINCOUNT=1000 only while libgomp loaded


def test_contention_benchmark_worker_runs():
    # asv_benchmarks/contention.py's per-process measurement (the full script takes minutes)
    script = os.path.join(os.path.dirname(__file__), "..", "asv_benchmarks", "contention.py")
    proc = subprocess.run([sys.executable, script, "--worker", "jitgrad", "alone", "w5", "0.05"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["median_ms"] > 0 and result["n"] >= 5
