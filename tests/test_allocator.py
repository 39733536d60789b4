"""jitgrad._allocator: glibc's malloc thresholds raised at import, so that an autograd loop over
large tensors reuses its freed buffers instead of page-faulting them back in every iteration."""
import os
import subprocess
import sys
import textwrap

import pytest

import jitgrad
from jitgrad import _allocator

glibc = pytest.mark.skipif(_allocator._libc() is None, reason="glibc only")

LOOP = textwrap.dedent("""
    import resource, jitgrad as torch
    from jitgrad import _allocator
    x = torch.randn(4_000_000, requires_grad=True)
    def step():
        x.grad = None
        (torch.tanh(x) * torch.sigmoid(x) + x * x * 0.5).sum().backward()
    for _ in range(3):
        step()
    r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        step()
    print(_allocator.state, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0) / 5)
""")


def _run(env_extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "JITGRAD_MALLOC_TUNING"}
    env.update(env_extra)
    out = subprocess.run([sys.executable, "-c", LOOP], env=env, capture_output=True, text=True, check=True)
    state, faults = out.stdout.rsplit(None, 1)
    return state, float(faults)


@glibc
def test_tuned_at_import_and_no_page_faults_per_iteration():
    state, faults = _run({})
    assert state == "tuned"
    # 4M float32 = 16 MB per array, ~20 arrays per iteration: untuned glibc faults ~6,000 pages
    # per iteration here (measured); tuned, the buffers are reused
    assert faults < 200, faults


@glibc
@pytest.mark.parametrize("env, why", [({"JITGRAD_MALLOC_TUNING": "0"}, "JITGRAD_MALLOC_TUNING"),
                                      ({"MALLOC_TRIM_THRESHOLD_": "131072"}, "environment"),
                                      ({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=131072"}, "environment")])
def test_user_settings_win(env, why):
    state, _ = _run(env)
    assert state.startswith("off") and why in state


def test_state_reported_in_process():
    assert _allocator.state in ("tuned", "off (not glibc)") or _allocator.state.startswith("off (")
    assert jitgrad._allocator is _allocator


@glibc
def test_release_memory_returns_a_bool():
    assert isinstance(_allocator.release_memory(), bool)
