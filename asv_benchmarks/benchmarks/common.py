"""Workloads shared by the asv benchmarks and ``asv_benchmarks/compare.py``.

Each workload is written once against the PyTorch API and called with the framework module
(``jitgrad`` or ``torch``) as ``X``, so both frameworks run exactly the same code.  The
workloads that need pieces still being written (``nn``, ``optim``, ``conv2d``, ...) check for
them with :func:`require`, which raises ``NotImplementedError`` -- asv's "skip this
benchmark" -- when a piece is missing, so the suite runs at every stage of jitgrad.

The hand-written NumPy versions and the JAX / HIPS autograd ones are in ``reference.py``.
"""
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

# The W1 input: 16 float32 values (both frameworks' default dtype for Python floats).
W1_VALUES = [(i - 7.5) / 8.0 for i in range(16)]

# Workload sizes (the definitions).
W2_SIZE = 4_000_000
W3_BATCH, W3_SIZES = 256, (784, 512, 512, 10)  # MLP 784 -> 512 -> 512 -> 10, ReLU
W5_N = 64
W6_BATCH, W6_IMAGE, W6_CHANNELS, W6_CLASSES = 128, 8, (1, 16, 32), 10
LR = 0.01


# ----------------------------------------------------------------------------- features
def feature(X, path):
    """The object at dotted ``path`` under framework ``X`` (``"nn.functional.conv2d"``), or None.

    Submodules are imported on the way (``jitgrad.nn`` is not an attribute of ``jitgrad``
    until something imports it)."""
    obj, name = X, X.__name__
    for part in path.split("."):
        name = f"{name}.{part}"
        nxt = getattr(obj, part, None)
        if nxt is None:
            try:
                nxt = importlib.import_module(name)
            except ImportError:
                return None
        obj = nxt
    return obj


def require(X, *paths):
    """Raise ``NotImplementedError`` (asv: skip) unless ``X`` has every dotted ``path``."""
    missing = [p for p in paths if feature(X, p) is None]
    if missing:
        raise NotImplementedError(f"{X.__name__} lacks {', '.join(missing)}")


# ----------------------------------------------------------------------------- W1, W2, W5
def w1_chain(x):
    """W1: the tiny chain ``((x*2 + 1).exp() * x).sum()`` -- a scalar, ready for backward."""
    return ((x * 2 + 1).exp() * x).sum()


def eltwise_chain(X, x):
    """W2's elementwise chain ``(tanh(x) * sigmoid(x) + x*x*0.5).sum()``."""
    return (X.tanh(x) * X.sigmoid(x) + x * x * 0.5).sum()


def w1_input(X, dtype=None, requires_grad=True):
    return X.tensor(W1_VALUES, dtype=dtype, requires_grad=requires_grad)


def w2_data(size=W2_SIZE, dtype="float32"):
    return np.random.default_rng(0).standard_normal(size).astype(dtype)


def w5_data(n=W5_N):
    rng = np.random.default_rng(0)
    return [(rng.standard_normal((n, n)) / np.sqrt(n)).astype(np.float32) for _ in range(3)]


def w5_chain(a, b, c):
    """W5: ``((a @ b).tanh() @ c).sum()``."""
    return ((a @ b).tanh() @ c).sum()


def tensors(X, arrays, requires_grad=True):
    """Framework tensors over copies of NumPy ``arrays``."""
    return [X.from_numpy(np.array(a, copy=True)).requires_grad_(requires_grad) for a in arrays]


# ----------------------------------------------------------------------------- W3: MLP step
W3_FEATURES = ("nn.Linear", "nn.functional.cross_entropy", "optim.SGD")


def w3_data(batch=W3_BATCH, dtype="float32"):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, W3_SIZES[0])).astype(dtype)
    y = rng.integers(0, W3_SIZES[-1], batch).astype(np.int64)
    return x, y


def w3_model(X, sizes=W3_SIZES):
    """The W3 MLP as a list of layers: Linear, ReLU, Linear, ReLU, Linear (PyTorch's init)."""
    require(X, *W3_FEATURES)
    X.manual_seed(0)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        if i:
            layers.append(X.relu)
        layers.append(X.nn.Linear(n_in, n_out))
    return layers


def parameters(layers):
    return [p for layer in layers if hasattr(layer, "parameters") for p in layer.parameters()]


def forward(layers, x):
    for layer in layers:
        x = layer(x)
    return x


def train_step(X, layers, opt, x, y):
    """One SGD training step: zero_grad, forward, cross-entropy, backward, step; the loss."""
    opt.zero_grad()
    loss = X.nn.functional.cross_entropy(forward(layers, x), y)
    loss.backward()
    opt.step()
    return loss


def w3_setup(X, batch=W3_BATCH):
    """``(step, layers)``: a zero-argument W3 training step (data already framework tensors)."""
    layers = w3_model(X)
    opt = X.optim.SGD(parameters(layers), lr=LR)
    xd, yd = w3_data(batch)
    x, y = X.from_numpy(xd), X.from_numpy(yd)
    return (lambda: train_step(X, layers, opt, x, y)), layers


# ----------------------------------------------------------------------------- W6: CNN step
W6_FEATURES = ("nn.Linear", "nn.Conv2d", "nn.functional.max_pool2d", "nn.functional.cross_entropy",
               "optim.SGD")


def w6_data(batch=W6_BATCH):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, W6_CHANNELS[0], W6_IMAGE, W6_IMAGE)).astype(np.float32)
    y = rng.integers(0, W6_CLASSES, batch).astype(np.int64)
    return x, y


def w6_model(X):
    """W6: conv 1->16 3x3 pad 1, ReLU, conv 16->32 3x3 pad 1, ReLU, max-pool 2, flatten, linear 512->10."""
    require(X, *W6_FEATURES)
    X.manual_seed(0)
    c0, c1, c2 = W6_CHANNELS
    pooled = W6_IMAGE // 2
    F = X.nn.functional
    return [X.nn.Conv2d(c0, c1, 3, padding=1), X.relu, X.nn.Conv2d(c1, c2, 3, padding=1), X.relu,
            lambda t: F.max_pool2d(t, 2), lambda t: t.reshape(t.shape[0], -1),
            X.nn.Linear(c2 * pooled * pooled, W6_CLASSES)]


def w6_setup(X, batch=W6_BATCH):
    layers = w6_model(X)
    opt = X.optim.SGD(parameters(layers), lr=LR)
    xd, yd = w6_data(batch)
    x, y = X.from_numpy(xd), X.from_numpy(yd)
    return (lambda: train_step(X, layers, opt, x, y)), layers


# ----------------------------------------------------------------------------- start-up (W4)
# Run in a fresh interpreter: import the framework, take one gradient of the W1 chain, and
# report the phases as JSON on stdout.  Timed inside the child, so the interpreter's own
# start-up (identical for every framework) is excluded; the parent also reports the process
# wall time.  ``w3`` runs one W3 training step instead (the cold-compile target).
_STARTUP_CHILD = r"""
import json, os, sys, time
sys.path.insert(0, %(here)r)
mod, what = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
if mod == "jax":
    import jax, jax.numpy as jnp
    t1 = time.perf_counter()
    g = jax.grad(lambda x: (jnp.exp(x * 2 + 1) * x).sum())(jnp.asarray(%(w1)r, dtype=jnp.float32))
    g = [float(v) for v in g]
elif mod == "autograd":
    import autograd, autograd.numpy as anp
    t1 = time.perf_counter()
    g = autograd.grad(lambda x: (anp.exp(x * 2 + 1) * x).sum())(anp.asarray(%(w1)r, dtype="float32"))
    g = [float(v) for v in g]
else:
    X = __import__(mod)
    t1 = time.perf_counter()
    if what == "w3":
        import common
        step, _ = common.w3_setup(X)
        step()
        g = [0.0] * 16
    else:
        x = X.tensor(%(w1)r, requires_grad=True)
        ((x * 2 + 1).exp() * x).sum().backward()
        g = x.grad.tolist()
t2 = time.perf_counter()
assert len(g) == 16 and all(v == v for v in g), g
print(json.dumps({"import_s": t1 - t0, "grad_s": t2 - t1, "total_s": t2 - t0}))
""" % {"here": os.path.dirname(os.path.abspath(__file__)), "w1": W1_VALUES}


def startup_once(module, cold_cache=False, what="w1", timeout=600, env=None):
    """One fresh-process start-up of ``module``: ``import`` + one W1 gradient (``what="w3"``:
    one W3 training step instead).

    ``module`` is ``jitgrad``, ``torch``, ``jax`` or ``autograd``.  ``cold_cache=True`` points
    ``NUMBA_CACHE_DIR`` at a new empty directory, so every kernel the run needs is compiled
    from scratch (jitgrad's worst case, the very first run).  Returns
    ``{"import_s", "grad_s", "total_s", "wall_s"}`` in seconds.
    """
    env = dict(os.environ if env is None else env)
    # Bytecode is part of a warm start: pip compiles an installed package's .pyc files (torch's
    # are there), but an editable jitgrad under PYTHONDONTWRITEBYTECODE=1 (set on this project's
    # VMs) would recompile its 64 modules from source in every process: 0.10 s of a 0.5 s start.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory(prefix="jitgrad-numba-cold-") as tmp:
        if cold_cache:
            env["NUMBA_CACHE_DIR"] = tmp
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", _STARTUP_CHILD, module, what], env=env,
                              capture_output=True, text=True, timeout=timeout)
        wall = time.perf_counter() - t0
    if proc.returncode != 0:
        if "NotImplementedError" in proc.stderr:
            raise NotImplementedError(proc.stderr.strip().splitlines()[-1])
        raise RuntimeError(f"start-up child for {module} failed (rc={proc.returncode}):\n{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = wall
    return result


# ----------------------------------------------------------------------------- peak memory
# A training step's working memory, in a fresh process: set up, run two warm-up steps (kernel
# loading, jit compilation and first-touch caches land there), collect garbage and hand the
# allocator's free pages back to the OS (glibc ``malloc_trim``), note VmRSS, reset the
# high-water mark (Linux: /proc/self/clear_refs "5"), run the steps, read VmHWM.  The same
# RSS yardstick works for every framework (tracemalloc sees NumPy's allocations but not
# PyTorch's or XLA's), and trimming first keeps memory an allocator merely kept cached from
# hiding what a step really needs.
_PEAKMEM_CHILD = r"""
import ctypes, gc, json, sys
sys.path.insert(0, %(here)r)
import common, reference
fw, workload, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
step = reference.make_step(fw, workload)
step(); step()
def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
gc.collect()
try:
    ctypes.CDLL(None).malloc_trim(0)
    trimmed = True
except (OSError, AttributeError):
    trimmed = False
base = status("VmRSS")
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    reset = True
except OSError:
    reset = False
for _ in range(steps):
    step()
print(json.dumps({"base_bytes": base, "peak_bytes": status("VmHWM"), "reset": reset, "trimmed": trimmed}))
""" % {"here": os.path.dirname(os.path.abspath(__file__))}


def peak_memory(framework, workload, steps=3, timeout=600, env=None):
    """``{"base_bytes", "peak_bytes", "extra_bytes"}`` of ``steps`` training steps of
    ``workload`` (``"w3"``/``"w6"``) in ``framework``, measured in a fresh process:
    ``extra_bytes`` is the step's working memory (peak RSS above the trimmed steady state)."""
    proc = subprocess.run([sys.executable, "-c", _PEAKMEM_CHILD, framework, workload, str(steps)],
                          env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        if "NotImplementedError" in proc.stderr:
            raise NotImplementedError(proc.stderr.strip().splitlines()[-1])
        raise RuntimeError(f"peak-memory child {framework} {workload} failed:\n{proc.stderr}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    r["extra_bytes"] = r["peak_bytes"] - r["base_bytes"]
    return r
