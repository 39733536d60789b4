"""The training examples (digits MLP and CNN, physics fit) run end to end, briefly, in a fresh
interpreter: exit status, the key lines they print, and that they fail loudly when they should.

The digits examples need the ``examples`` extra (scikit-learn, tqdm, matplotlib); without it
their tests skip.  ``--backend torch`` runs the same scripts on PyTorch.
"""
import importlib.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
EXTRA = {"sklearn": "scikit-learn", "tqdm": "tqdm", "matplotlib": "matplotlib"}
# a fit that converges in a few seconds: a 4 s recording sampled every 0.2 s
PHYSICS_SHORT = ("--dt", "0.2", "--duration", "4", "--adam-steps", "100",
                 "--gd-steps", "150", "--gd-lr", "0.4")


def requires(*modules):
    missing = [EXTRA.get(m, m) for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (the 'examples' extra: pip install -e '.[examples]')")


@pytest.fixture
def examples_extra():
    requires(*EXTRA)


def run_example(name, *args, timeout=180):
    # one thread: the examples are small, and on a shared machine extra threads only contend
    env = dict(os.environ, OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, name), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stdout + proc.stderr


def test_digits_mlp(examples_extra, tmp_path):
    plot, checkpoint = tmp_path / "curves.png", tmp_path / "mlp.pt"
    rc, out, everything = run_example("digits_mlp.py", "--epochs", "2", "--plot", str(plot),
                                      "--checkpoint", str(checkpoint))  # with its tqdm bar
    assert rc == 0, everything
    assert "backend: jitgrad" in out, everything
    assert "epoch   1/2  train loss" in out and "epoch   2/2  train loss" in out, everything
    assert "test acc" in out, everything
    assert "reloaded: identical test outputs" in out, everything
    assert "smoke run (2 < 10 epochs): accuracy target not checked" in out, everything
    assert "DIGITS MLP OK" in out, everything
    assert "epoch 1/2" in everything, "no tqdm progress bar on stderr:\n" + everything
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert checkpoint.stat().st_size > 0


def test_digits_mlp_fails_loudly(examples_extra):
    """A missed accuracy target is a failure: the example is a real check."""
    rc, out, everything = run_example("digits_mlp.py", "--epochs", "1", "--no-plot", "--no-progress",
                                      "--check-from", "1", "--min-accuracy", "0.999")
    assert rc != 0, everything
    assert "accuracy target 100%: MISSED" in out and "DIGITS MLP FAILED" in out, everything


def test_digits_cnn(examples_extra):
    rc, out, everything = run_example("digits_cnn.py", "--epochs", "1", "--no-plot", "--no-progress")
    assert rc == 0, everything
    assert "DigitsCNN(" in out and "Conv2d(16, 32, kernel_size=(3, 3)" in out, everything
    assert "epoch   1/1  train loss" in out, everything
    assert "reloaded: identical test outputs" in out, everything
    assert "DIGITS CNN OK" in out, everything


def test_physics_fit():
    rc, out, everything = run_example("physics_fit.py", *PHYSICS_SHORT)
    assert rc == 0, everything
    assert "backend: jitgrad" in out, everything
    assert "H v  double backward" in out, everything
    fd_line = next(line for line in out.splitlines() if "H v  finite diff." in line)
    assert fd_line.endswith("ok"), everything
    assert "Adam and gradient descent agree" in out, everything
    assert "FIT OK" in out, everything


def test_physics_fit_fails_loudly():
    rc, out, everything = run_example("physics_fit.py", "--dt", "0.2", "--duration", "4",
                                      "--adam-steps", "3", "--gd-steps", "3")
    assert rc != 0, everything
    assert "FIT FAILED" in out, everything


# Runs several examples in one interpreter (PyTorch is imported once): each "name arg ..." spec
# runs as __main__ with that argv, between marker lines that carry its exit status.
DRIVER = """
import os, runpy, sys
for spec in sys.argv[1:]:
    name, *args = spec.split()
    sys.argv = [name, *args]
    print("=== start", name, flush=True)
    try:
        runpy.run_path(os.path.join("examples", name), run_name="__main__")
        code = 0
    except SystemExit as stop:
        code = stop.code
    print("=== exit", name, code, flush=True)
"""


def test_same_scripts_on_torch():
    """``--backend torch``: the examples are PyTorch code, so PyTorch runs them unchanged."""
    pytest.importorskip("torch")
    specs = {"physics_fit.py": ("FIT OK", PHYSICS_SHORT)}
    if all(importlib.util.find_spec(m) for m in EXTRA):
        smoke = ("--epochs", "1", "--no-plot", "--no-progress")
        specs["digits_mlp.py"] = ("DIGITS MLP OK", smoke)
        specs["digits_cnn.py"] = ("DIGITS CNN OK", smoke)
    argv = [" ".join((name, "--backend", "torch") + args) for name, (_, args) in specs.items()]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", DRIVER, *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    everything = proc.stdout + proc.stderr
    assert proc.returncode == 0, everything
    for name, (success, _) in specs.items():
        out = proc.stdout.split(f"=== start {name}\n")[1].split(f"=== exit {name}")[0]
        assert f"=== exit {name} 0\n" in proc.stdout, everything
        assert "backend: torch" in out and success in out, everything
    if len(specs) == 1:
        pytest.skip("digits examples not run on torch: the 'examples' extra is not installed")
