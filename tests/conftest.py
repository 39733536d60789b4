"""Shared fixtures for the table-driven and differential tests (kept small on purpose)."""
import importlib
import os

import numpy as np
import pytest

# The suite checks which kernels run (serial or parallel twins) and shares the machine with its
# own worker processes (tests/test_hostile.py): jitgrad's core-sharing policy, which switches to
# one thread on a busy machine, would make that depend on the load.  Its own tests
# (tests/test_threads.py) drive it in fresh processes.
os.environ.setdefault("JITGRAD_SHARE_CORES", "0")

# One seed for every sample generator, so a failing case id always names the same inputs.
SEED = 20240607


@pytest.fixture
def rng():
    """A fresh, fixed-seed NumPy generator per test."""
    return np.random.default_rng(SEED)


@pytest.fixture(params=["jitgrad", "torch"])
def T(request):
    """The module under test: each test runs on jitgrad and then, when torch is importable, on
    real torch with the very same hard-coded expectations (so each one is checked to be
    PyTorch's); without torch the torch run is skipped."""
    if request.param == "torch":
        return pytest.importorskip("torch")
    return importlib.import_module(request.param)


@pytest.fixture(scope="session")
def torch():
    """PyTorch, for tests that compare with it; they skip when it is not importable."""
    return pytest.importorskip("torch")


def _torch_key(key, torch):
    """An index key with NumPy integer/bool arrays turned into torch tensors (lists stay lists)."""
    if isinstance(key, tuple):
        return tuple(_torch_key(k, torch) for k in key)
    if isinstance(key, np.ndarray):
        return torch.from_numpy(key.copy())
    return key


def sample_constant(value, module, dtype="float64"):
    """A sample argument that is not a differentiable input, as ``module``'s tensor (jitgrad or
    torch) without grad: integer/bool NumPy arrays (class targets, indices) keep their dtype; float
    arrays passed by keyword (class weights, running statistics) take ``dtype``.  Positional float
    arrays are the differentiable inputs and are not handled here; other values pass unchanged."""
    if not isinstance(value, np.ndarray):
        return value
    return module.from_numpy(np.array(value, dtype=dtype if value.dtype.kind == "f" else value.dtype, copy=True))


@pytest.fixture(scope="session")
def torch_call():
    """``torch_call(info)`` -> a callable running the PyTorch twin of OpInfo ``info``.

    jitgrad.<name> maps to torch.<name> (or torch.nn.functional.<name>); methods-only ops (casts, ``to``) to the Tensor method;
    ``getitem`` to indexing.  Skips the test when torch is not importable.
    """
    torch = pytest.importorskip("torch")

    def call(info):
        name = info.name
        if name == "getitem":
            return lambda x, key: x[_torch_key(key, torch)]
        if info.extra.get("functional"):  # declared as torch.nn.functional.<name>
            return getattr(torch.nn.functional, name)
        fn = (getattr(torch, name, None) or getattr(torch.nn.functional, name, None)) if info.public else None
        if callable(fn) and not isinstance(fn, torch.dtype):
            return fn
        return lambda x, *args, **kwargs: getattr(x, name)(*args, **kwargs)

    return call
