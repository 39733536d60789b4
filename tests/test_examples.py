"""The examples run end to end (briefly) in a fresh interpreter and report success."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")


def run_example(name, *args, timeout=120):
    proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, name), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


def test_custom_jitted_op():
    rc, out = run_example("custom_jitted_op.py", "--steps", "250", "--no-timing")
    assert rc == 0, out
    assert "custom_jitted_op: OK" in out, out
    assert "gradcheck float64 beta=1.0: kernel Function          PASSED" in out, out
    assert "zero-copy): True" in out, out
    assert "fit converged" in out, out


def test_fit_curve():
    rc, out = run_example("fit_curve.py", "--steps", "800")
    assert rc == 0, out
    assert "FIT OK" in out, out
    assert "recovered parameters:" in out, out


def test_fit_curve_fails_loudly():
    """Too few steps to converge: the example is a real check, so it must exit non-zero."""
    rc, out = run_example("fit_curve.py", "--steps", "5")
    assert rc != 0, out
    assert "FIT FAILED" in out, out


@pytest.mark.parametrize("name", ["custom_jitted_op.py", "fit_curve.py"])
def test_help(name):
    rc, out = run_example(name, "--help")
    assert rc == 0 and "--steps" in out, out
