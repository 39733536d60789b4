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
    # the core-sharing policy would switch to the serial kernels on a busy machine: off here
    # unless a test asks for it (its own tests drive it with simulated loads)
    full_env["JITGRAD_SHARE_CORES"] = "0"
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
        from jitgrad.kernels import elementwise as ek, loops as lk

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
        assert ek.PARALLEL[lk.tanh_forward] is not lk.tanh_forward  # the (lock-guarded) twin

        # set_num_threads(1): the serial kernels, no thread woken; back to the twins with 2
        X.set_num_threads(1)
        assert ek.PARALLEL[lk.tanh_forward] is lk.tanh_forward and ek.add_forward_parallel is ek.add_forward
        assert X.get_num_threads() == 1 and chain_ok(X)
        X.set_num_threads(2)
        assert ek.PARALLEL[lk.tanh_forward] is not lk.tanh_forward and X.get_num_threads() == 2

        # a child forked after the pool started runs the serial kernels (GNU OpenMP killed it: -15)
        pid = os.fork()
        if pid == 0:
            ok = chain_ok(X) and K.pool_state == "forked" and X.get_num_threads() == 1
            ok = ok and ek.PARALLEL[lk.tanh_forward] is lk.tanh_forward
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


def test_blas_settings_after_torch_then_jitgrad(tmp_path):
    """NumPy's OpenBLAS: idle threads sleep at once (timeout 4) after `import torch; import jitgrad`,
    a user's OPENBLAS_THREAD_TIMEOUT wins, JITGRAD_BLAS_TUNING=0 leaves it alone."""
    code = """
    try:
        import torch
    except ImportError:
        pass
    import jitgrad
    from jitgrad import _blas
    print(json.dumps([_blas.available(), _blas.thread_timeout()]))
    """
    code = "import json\n" + textwrap.dedent(code)
    found, timeout = json.loads(run_python(tmp_path, code).splitlines()[-1])
    if not found:
        pytest.skip("NumPy's BLAS here is not OpenBLAS")
    assert timeout == 4
    assert json.loads(run_python(tmp_path, code, env={"OPENBLAS_THREAD_TIMEOUT": "12"}).splitlines()[-1])[1] == 12
    assert json.loads(run_python(tmp_path, code, env={"JITGRAD_BLAS_TUNING": "0"}).splitlines()[-1])[1] == 0


def test_share_cores_policy(tmp_path):
    """The core-sharing policy's decisions for simulated loads (kernels/__init__.py): one thread
    beside a busy neighbour on 2 cores, all of them again when it leaves; a user's set_num_threads
    and JITGRAD_SHARE_CORES=0 switch it off."""
    out = run_python(tmp_path, """
    import json
    import jitgrad as X
    from jitgrad import kernels as K, _blas
    from jitgrad.kernels import elementwise as ek
    K._CORES = 2
    seen = []
    def state():
        twin = ek.PARALLEL[ek.add_forward]
        return [K._active, twin is ek.add_forward]
    assert chain_ok(X)  # the pool runs
    seen.append(state())
    for _ in range(6):
        K._adapt(1)  # a neighbour's thread is always runnable
    seen.append(state())
    assert chain_ok(X)  # correct on the serial kernels
    for _ in range(6):
        K._adapt(0)  # it left
    seen.append(state())
    for _ in range(6):
        K._adapt(3)
    X.set_num_threads(2)  # the user decides from now on
    seen.append(state())
    K._next_check = 0.0
    K.share_cores()
    seen.append(state())
    print(json.dumps(seen))
    """)
    seen = json.loads(out.splitlines()[-1])
    assert seen == [[None, False], [1, True], [None, False], [None, False], [None, False]]


def test_share_cores_reads_the_machine(tmp_path):
    """share_cores parses /proc/loadavg and is rate-limited; JITGRAD_SHARE_CORES=0 disables it."""
    if not os.path.exists("/proc/loadavg"):
        pytest.skip("no /proc/loadavg")
    code = """
    import json, time
    import jitgrad as X
    from jitgrad import kernels as K
    K._CORES = 2
    calls = []
    K._adapt = lambda others: calls.append(others)
    K._next_check = 0.0
    K.share_cores()
    K.share_cores()  # within 0.2 s: no second read
    print(json.dumps([len(calls), all(isinstance(c, int) and c >= -1 for c in calls)]))
    """
    assert json.loads(run_python(tmp_path, code, env={"JITGRAD_SHARE_CORES": "1"}).splitlines()[-1]) == [1, True]
    assert json.loads(run_python(tmp_path, code, env={"JITGRAD_SHARE_CORES": "0"}).splitlines()[-1])[0] == 0
