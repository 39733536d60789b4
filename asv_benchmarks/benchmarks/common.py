"""Workloads shared by the asv benchmarks and ``asv_benchmarks/compare.py``.

Each workload is written once against the PyTorch API and called with the framework module
(``jitgrad`` or ``torch``) as ``X``, so both frameworks run exactly the same code.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

# The W1 input: 16 float32 values (both frameworks' default dtype for Python floats).
W1_VALUES = [(i - 7.5) / 8.0 for i in range(16)]


def w1_chain(x):
    """W1: the tiny chain ``((x*2 + 1).exp() * x).sum()`` -- a scalar, ready for backward."""
    return ((x * 2 + 1).exp() * x).sum()


def eltwise_chain(X, x):
    """The elementwise chain ``(tanh(x) * sigmoid(x) + x*x*0.5).sum()``."""
    return (X.tanh(x) * X.sigmoid(x) + x * x * 0.5).sum()


def w1_input(X, dtype=None, requires_grad=True):
    return X.tensor(W1_VALUES, dtype=dtype, requires_grad=requires_grad)


# ----------------------------------------------------------------------------- start-up (W4)
# Run in a fresh interpreter: import the framework, take one gradient of the W1 chain, and
# report the phases as JSON on stdout.  Timed inside the child, so the interpreter's own
# start-up (identical for every framework) is excluded; the parent also reports the process
# wall time.
_STARTUP_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
X = __import__(sys.argv[1])
t1 = time.perf_counter()
x = X.tensor(%r, requires_grad=True)
((x * 2 + 1).exp() * x).sum().backward()
g = x.grad.tolist()
t2 = time.perf_counter()
assert len(g) == 16 and all(v == v for v in g), g
print(json.dumps({"import_s": t1 - t0, "grad_s": t2 - t1, "total_s": t2 - t0}))
""" % (W1_VALUES,)


def startup_once(module, cold_cache=False, timeout=600):
    """One fresh-process start-up of ``module`` (``import`` + one W1 gradient).

    ``cold_cache=True`` points ``NUMBA_CACHE_DIR`` at a new empty directory, so every kernel
    the gradient needs is compiled from scratch (jitgrad's worst case, the very first run).
    Returns ``{"import_s", "grad_s", "total_s", "wall_s"}`` in seconds.
    """
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="jitgrad-numba-cold-") as tmp:
        if cold_cache:
            env["NUMBA_CACHE_DIR"] = tmp
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", _STARTUP_CHILD, module], env=env,
                              capture_output=True, text=True, timeout=timeout)
        wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"start-up child for {module} failed (rc={proc.returncode}):\n{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = wall
    return result
