"""Issue #8, convolution and pooling part: no input crashes the process or gets a silently wrong answer.

Cases that crashed before the fix (a max-pooling window lying wholly in the padding read past
the input in forward and corrupted the heap in backward; a pooling argmax changed after the
forward scattered out of the plane) run in a subprocess.  Error texts and values are PyTorch
2.13's, hard-coded, so the file runs without torch; the parameter sweeps compare with live
torch when it is installed.
"""
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import jitgrad as torch

F = torch.nn.functional
_TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
VERSION = "one of the variables needed for gradient computation has been modified by an inplace operation"
TWICE = "Trying to backward through the graph a second time"


def _run(code: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------- saved tensors: versions and freeing
_OPS = {  # name: (input shape, op)
    "max_pool2d": ((1, 1, 4, 4), lambda t: F.max_pool2d(t, 2)),
    "max_pool2d padded": ((1, 1, 4, 4), lambda t: F.max_pool2d(t, 3, 1, 1)),
    "max_pool2d indices": ((1, 1, 4, 4), lambda t: F.max_pool2d(t, 2, return_indices=True)[0]),
    "avg_pool2d": ((1, 1, 4, 4), lambda t: F.avg_pool2d(t, 2)),
    "adaptive_avg_pool2d": ((1, 1, 4, 4), lambda t: F.adaptive_avg_pool2d(t, (2, 3))),
    "conv2d": ((1, 1, 4, 4), lambda t: F.conv2d(t, torch.ones(2, 1, 3, 3))),
    "conv1d": ((1, 1, 16), lambda t: F.conv1d(t, torch.ones(2, 1, 3))),
}


@pytest.mark.parametrize("name", list(_OPS))
def test_input_changed_in_place_after_forward_raises(name):
    # PyTorch saves the input of each of these ops: changing it in place makes backward raise
    # (before the fix the pooling ops silently returned the gradient of the old input)
    shape, op = _OPS[name]
    x = torch.randn(*shape, requires_grad=True)
    y = x * 1
    z = op(y)
    y.add_(1)
    with pytest.raises(RuntimeError, match=VERSION) as info:
        z.sum().backward()
    assert f"[torch.FloatTensor {list(shape)}], which is output 0 of Add, is at version 1; expected " \
           "version 0 instead" in str(info.value)


@pytest.mark.parametrize("name", list(_OPS))
def test_second_backward_without_retain_graph_raises(name):
    shape, op = _OPS[name]
    x = torch.randn(*shape, requires_grad=True)
    z = op(x)
    z.backward(torch.ones_like(z), retain_graph=True)
    z.backward(torch.ones_like(z))  # retained: runs again
    assert float(x.grad.sum()) == pytest.approx(2 * float(torch.autograd.grad(op(x).sum(), x)[0].sum()),
                                                rel=1e-5)
    with pytest.raises(RuntimeError, match=TWICE):
        z.backward(torch.ones_like(z))


def test_max_pool_indices_changed_in_place_raise_and_cannot_scatter_out_of_the_plane():
    # PyTorch saves the returned indices too.  Changing the user's copy (in place, or through
    # .data with no version bump) must never reach the scatter/gather kernels, including the
    # double-backward ones, which check no versions.
    code = "\n".join([
        "import jitgrad as torch",
        "F = torch.nn.functional",
        "x = torch.randn(1, 1, 4, 4, requires_grad=True)",
        "o, i = F.max_pool2d(x, 2, return_indices=True)",
        "i.add_(10**9)",
        "try:",
        "    o.sum().backward()",
        "except RuntimeError as e:",
        "    print('E', e)",
        "x = torch.randn(1, 1, 4, 4, requires_grad=True)",
        "o, i = F.max_pool2d(x, 2, return_indices=True)",
        "i.data[0, 0, 0, 0] = 10**9",
        "(g,) = torch.autograd.grad((o * o).sum(), x, create_graph=True)",
        "g.sum().backward()",
        "print('G', x.grad.tolist() == (2 * (g != 0)).float().tolist())",
    ])
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == ("E one of the variables needed for gradient computation has been modified by an inplace "
                        "operation: [torch.LongTensor [1, 1, 2, 2]] is at version 1; expected version 0 instead. "
                        "Hint: enable anomaly detection to find the operation that failed to compute its gradient, "
                        "with torch.autograd.set_detect_anomaly(True, check_nan=False).")
    assert lines[1] == "G True"


# ---------------------------------------------------------------- windows wholly in the padding
_EMPTY_WINDOW = ("max_pool2d: pooling window 0 along the height lies entirely in the padding (input height 2, "
                 "kernel_size=2, stride=2, padding=1, dilation=3): it has no element to take the maximum of")


def test_max_pool_window_in_the_padding_raises_instead_of_reading_out_of_bounds():
    # PyTorch returns -inf with argmax 12 and 15 (outside the 2x6 planes) here, and its backward
    # aborts with "double free or corruption"; jitgrad read 4.2e16-like garbage and corrupted the heap
    code = "\n".join([
        "import jitgrad as torch",
        "F = torch.nn.functional",
        "x = torch.randn(2, 2, 2, 6, requires_grad=True)",
        "for ri in (False, True):",
        "    try:",
        "        out = F.max_pool2d(x, (2, 1), (2, 3), (1, 0), (3, 3), True, ri)",
        "        (out[0] if ri else out).sum().backward()",
        "        print('no error')",
        "    except RuntimeError as e:",
        "        print(e)",
        "try:",
        "    F.max_pool2d(torch.ones(1, 1, 1, 1), (1, 2), None, (0, 1), (1, 2), True)",
        "except RuntimeError as e:",
        "    print(e)",
    ])
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [_EMPTY_WINDOW, _EMPTY_WINDOW, (
        "max_pool2d: pooling window 0 along the width lies entirely in the padding (input width 1, kernel_size=2, "
        "stride=2, padding=1, dilation=2): it has no element to take the maximum of")]


def _has_empty_window(size, k, pad, stride, dilation, n_out):
    # brute force: does some window have no tap inside [0, size)?
    return any(all(not 0 <= o * stride - pad + j * dilation < size for j in range(k)) for o in range(n_out))


def _every_small_max_pool_geometry():
    """Every legal geometry of a small plane, along each axis: the output and the gradient are the
    brute-force max over the taps inside the input (an out-of-bounds read would show as garbage),
    and exactly the geometries with an empty window raise.  Run in a subprocess (the empty windows
    corrupted the heap before the fix)."""
    rng = np.random.default_rng(0)
    checked = raised = 0
    for size in range(1, 6):
        x_np = rng.permutation(3 * size).reshape(1, 3, size).astype(np.float64)  # distinct: one argmax
        for k in range(1, 5):
            for pad in range(0, k // 2 + 1):
                for stride in range(1, 4):
                    for dil in range(1, 5):
                        for ceil in (False, True):
                            n_out = (size + 2 * pad - dil * (k - 1) - 1 + (stride - 1 if ceil else 0)) // stride + 1
                            if ceil and (n_out - 1) * stride >= size + pad:
                                n_out -= 1
                            if n_out < 1 or pad > ((k - 1) * dil + 1) // 2:
                                continue
                            for axis in (0, 1):  # the geometry along the height, then along the width
                                xa = x_np.reshape(1, 3, size, 1) if axis == 0 else x_np.reshape(1, 3, 1, size)
                                geo = [(k, 1), (stride, 1), (pad, 0), (dil, 1)]
                                kw = [g if axis == 0 else g[::-1] for g in geo]
                                x = torch.tensor(xa, requires_grad=True)
                                if _has_empty_window(size, k, pad, stride, dil, n_out):
                                    with pytest.raises(RuntimeError, match="lies entirely in the padding"):
                                        F.max_pool2d(x, *kw, ceil)
                                    raised += 1
                                    continue
                                out, idx = F.max_pool2d(x, *kw, ceil, True)
                                out.sum().backward()
                                line = x_np[0]
                                want = np.empty((3, n_out))
                                grad = np.zeros((3, size))
                                for o in range(n_out):
                                    taps = [o * stride - pad + j * dil for j in range(k)]
                                    taps = [t for t in taps if 0 <= t < size]
                                    for c in range(3):
                                        best = max(taps, key=lambda t: line[c, t])
                                        want[c, o] = line[c, best]
                                        grad[c, best] += 1
                                assert out.detach().numpy().reshape(3, n_out).tolist() == want.tolist()
                                assert x.grad.numpy().reshape(3, size).tolist() == grad.tolist()
                                assert idx.numpy().min() >= 0 and idx.numpy().max() < size
                                checked += 1
    assert checked > 500 and raised > 10
    print("checked", checked, "raised", raised)


def test_max_pool_kernel_reads_only_inside_the_input_for_every_small_geometry():
    proc = _run(f"import sys; sys.path.insert(0, {_TESTS_DIR!r}); import test_safety_conv as t; "
                "t._every_small_max_pool_geometry()")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("checked ")


_SWEEP = r"""
import json, random, sys
import numpy as np
import torch as T
import jitgrad as J
sys.path.insert(0, TESTS_DIR)
from test_safety_conv import _has_empty_window as empty
random.seed(1)
bad = []
n_max = n_avg = n_raised = 0

for trial in range(400):
    H, W = random.randint(1, 6), random.randint(1, 6)
    kh, kw = random.randint(1, 4), random.randint(1, 4)
    sh, sw = random.randint(1, 3), random.randint(1, 3)
    ph, pw = random.randint(0, kh // 2), random.randint(0, kw // 2)
    dh, dw = random.randint(1, 4), random.randint(1, 4)
    ceil = random.random() < 0.5
    shape = random.choice([(2, 2, H, W), (3, H, W), (0, 2, H, W)])
    x_np = (np.random.default_rng(trial).permutation(max(1, int(np.prod(shape)))).astype(np.float32)
            [:int(np.prod(shape))].reshape(shape))
    for op in ("max", "avg"):
        args = ((kh, kw), (sh, sw), (ph, pw)) + (((dh, dw), ceil) if op == "max" else (ceil,))
        tx = T.tensor(x_np, requires_grad=True)
        jx = J.tensor(x_np, requires_grad=True)
        try:
            t_out = getattr(T.nn.functional, op + "_pool2d")(tx, *args)
            t_err = None
        except RuntimeError as e:
            t_err = str(e)
        n_out = [t_out.shape[-2], t_out.shape[-1]] if t_err is None else None
        skip_torch_backward = op == "max" and t_err is None and (
            empty(H, kh, ph, sh, dh, n_out[0]) or empty(W, kw, pw, sw, dw, n_out[1]))
        try:
            j_out = getattr(J.nn.functional, op + "_pool2d")(jx, *args)
            j_err = None
        except RuntimeError as e:
            j_err = str(e)
        case = [op, shape, args]
        if skip_torch_backward:  # PyTorch: -inf and an argmax outside the plane (its backward aborts)
            n_raised += 1
            if j_err is None or "lies entirely in the padding" not in j_err:
                bad.append(case + ["expected the empty-window error", j_err])
            continue
        if t_err is not None or j_err is not None:
            if t_err != j_err:
                bad.append(case + [t_err, j_err])
            continue
        g = np.random.default_rng(trial + 1).standard_normal(tuple(t_out.shape)).astype(np.float32)
        t_out.backward(T.tensor(g))
        j_out.backward(J.tensor(g))
        if not (np.allclose(t_out.detach().numpy(), j_out.detach().numpy(), atol=1e-6)
                and np.allclose(tx.grad.numpy(), jx.grad.numpy(), atol=1e-5)):
            bad.append(case + ["values differ"])
        if op == "max":
            n_max += 1
        else:
            n_avg += 1
print(json.dumps({"bad": bad[:10], "n_bad": len(bad), "max": n_max, "avg": n_avg, "raised": n_raised}))
"""


def test_pooling_sweep_against_torch():
    pytest.importorskip("torch")
    proc = _run(f"TESTS_DIR = {_TESTS_DIR!r}\n" + _SWEEP, timeout=300)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout.splitlines()[-1])
    assert res["n_bad"] == 0, res["bad"]
    assert res["max"] > 100 and res["avg"] > 200 and res["raised"] > 0, res


# ---------------------------------------------------------------- argument checks and empty inputs
# expression -> PyTorch 2.13's "Type: message", or "OK <shape>" (run on x = ones(2, 3, 6, 6),
# w = ones(4, 3, 3, 3), xg = x requiring grad; back(t) runs t.sum().backward() and returns t)
_EXPECTED = {
    'F.max_pool2d(x, 3, padding=-1)': 'RuntimeError: pad must be non-negative, but got pad: -1',
    'F.max_pool2d(x, 3, padding=2)':
        'RuntimeError: pad should be at most half of effective kernel size, but got pad=2, kernel_size=3 and '
        'dilation=1',
    'F.max_pool2d(x, 3, padding=2, dilation=2)':
        'RuntimeError: pad should be smaller than or equal to half of kernel size, but got padW = 2, padH = '
        '2, kW = 3, kH = 3',
    'F.max_pool2d(x, 3, stride=0)': 'RuntimeError: stride should not be zero',
    'F.max_pool2d(x, 3, stride=-1)': 'RuntimeError: stride should be greater than zero, but got dH: -1 dW: -1',
    'F.max_pool2d(x, 3, dilation=0)':
        'RuntimeError: dilation should be greater than zero, but got dilationH: 0 dilationW: 0',
    'F.max_pool2d(x, 0)': 'RuntimeError: stride should not be zero',
    'F.max_pool2d(x, -1)': 'RuntimeError: kernel size should be greater than zero, but got kH: -1 kW: -1',
    'F.max_pool2d(x, 7)':
        'RuntimeError: Given input size: (3x6x6). Calculated output size: (3x0x0). Output size is too small',
    'F.max_pool2d(x, 9, padding=1)':
        'RuntimeError: Given input size: (3x6x6). Calculated output size: (3x0x0). Output size is too small',
    'F.max_pool2d(torch.ones(4, 4), 2)': 'RuntimeError: non-empty 3D or 4D (batch mode) tensor expected for input',
    'F.max_pool2d(torch.ones(2, 0, 4, 4), 2)':
        'RuntimeError: Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but '
        'got:[2, 0, 4, 4]',
    'F.max_pool2d(torch.ones(2, 3, 4, 0), 2)':
        'RuntimeError: Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but '
        'got:[2, 3, 4, 0]',
    'F.max_pool2d(x, 2**31)': 'RuntimeError: value cannot be converted to type int without overflow',
    'F.max_pool2d(x, 2, 2**63)': 'ValueError: Overflow when unpacking long long',
    'F.max_pool2d(x, 2**40, 1, 2**39)': 'RuntimeError: value cannot be converted to type int without overflow',
    'F.avg_pool2d(x, 3, padding=-1)': 'RuntimeError: pad must be non-negative, but got pad: -1',
    'F.avg_pool2d(x, 3, padding=2)':
        'RuntimeError: pad should be at most half of effective kernel size, but got pad=2, kernel_size=3 and '
        'dilation=1',
    'F.avg_pool2d(x, 3, stride=0)': 'RuntimeError: stride should not be zero',
    'F.avg_pool2d(x, 7)':
        'RuntimeError: Given input size: (3x6x6). Calculated output size: (3x0x0). Output size is too small',
    'F.avg_pool2d(x, 2, divisor_override=0)': 'RuntimeError: divisor must be not zero',
    'F.avg_pool2d(x, 2, divisor_override=2**70)': 'ValueError: Overflow when unpacking long long',
    'F.adaptive_avg_pool2d(x, 2**70)': 'ValueError: Overflow when unpacking long long',
    'F.avg_pool2d(x, 2, divisor_override=2.5)':
        "TypeError: avg_pool2d(): argument 'divisor_override' must be int, not float",
    'F.avg_pool2d(torch.ones(2, 0, 4, 4), 2)':
        'RuntimeError: Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but '
        'got:[2, 0, 4, 4]',
    'F.avg_pool2d(torch.ones(1, 1, 1, 4, 4), 2)':
        'RuntimeError: Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but '
        'got:[1, 1, 1, 4, 4]',
    'F.adaptive_avg_pool2d(x, -1)':
        'RuntimeError: adaptive_avg_pool2d: elements of output_size must be greater than or equal to 0 but '
        'received {-1, -1}',
    'F.adaptive_avg_pool2d(x, (2, -3))':
        'RuntimeError: adaptive_avg_pool2d: elements of output_size must be greater than or equal to 0 but '
        'received {2, -3}',
    'F.adaptive_avg_pool2d(torch.ones(3, 4), (None, -1))': 'ValueError: Input dimension should be at least 3',
    'F.adaptive_avg_pool2d(torch.ones(2, 3, 0, 4), (0, 2))':
        'RuntimeError: adaptive_avg_pool2d(): Expected input to have non-zero size for non-batch dimensions, '
        'but input has sizes [2, 3, 0, 4] with dimension 2 being empty',
    'F.adaptive_avg_pool2d(torch.ones(2, 3, 4, 0), 2)':
        'RuntimeError: adaptive_avg_pool2d(): Expected input to have non-zero size for non-batch dimensions, '
        'but input has sizes [2, 3, 4, 0] with dimension 3 being empty',
    'F.adaptive_avg_pool2d(torch.ones(4, 4), 2)':
        'RuntimeError: adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got [4, 4]',
    'F.adaptive_avg_pool2d(x, 2**40)': 'RuntimeError: ',  # (PyTorch: 'numel: integer multiplication overflow')
    'back(F.adaptive_avg_pool2d(xg, (0, 2)))':
        'RuntimeError: adaptive_avg_pool2d_backward(): Expected grad_output to have non-zero size for '
        'non-batch dimensions, but grad_output has sizes [2, 3, 0, 2] with dimension 2 being empty',
    'back(F.adaptive_avg_pool2d(xg, 0))':
        'RuntimeError: adaptive_avg_pool2d_backward(): Expected grad_output to have non-zero size for '
        'non-batch dimensions, but grad_output has sizes [2, 3, 0, 0] with dimension 2 being empty',
    'back(F.adaptive_avg_pool2d(torch.ones(2, 0, 4, 4, requires_grad=True), 2))':
        'RuntimeError: adaptive_avg_pool2d_backward(): Expected grad_output to have non-zero size for '
        'non-batch dimensions, but grad_output has sizes [2, 0, 2, 2] with dimension 1 being empty',
    'F.conv2d(x, torch.ones(0, 3, 3, 3))':
        'RuntimeError: Given groups=1, expected weight to be at least 1 at dimension 0, but got weight of '
        'size [0, 3, 3, 3] instead',
    'F.conv2d(x, torch.ones(0, 3, 3, 3), torch.ones(0))':
        'RuntimeError: Given groups=1, expected weight to be at least 1 at dimension 0, but got weight of '
        'size [0, 3, 3, 3] instead',
    'F.conv2d(x[0], torch.ones(0, 3, 3, 3))':
        'RuntimeError: Given groups=1, expected weight to be at least 1 at dimension 0, but got weight of '
        'size [0, 3, 3, 3] instead',
    'F.conv1d(torch.ones(2, 3, 6), torch.ones(0, 3, 3))':
        'RuntimeError: Given groups=1, expected weight to be at least 1 at dimension 0, but got weight of '
        'size [0, 3, 3] instead',
    'F.conv2d(x, torch.ones(4, 1, 3, 3), groups=2)':
        'RuntimeError: Given groups=2, weight of size [4, 1, 3, 3], expected input[2, 3, 6, 6] to have 2 '
        'channels, but got 3 channels instead',
    'F.conv2d(torch.ones(2, 4, 6, 6), torch.ones(3, 2, 3, 3), groups=2)':
        'RuntimeError: Given groups=2, expected weight to be divisible by 2 at dimension 0, but got weight '
        'of size [[3, 2, 3, 3]] instead',
    'F.conv2d(torch.ones(2, 4, 6, 6), torch.ones(1, 1, 3, 3), groups=4)':
        'RuntimeError: Given groups=4, expected weight to be at least 4 at dimension 0, but got weight of '
        'size [1, 1, 3, 3] instead',
    'F.conv2d(x, w, groups=0)': 'RuntimeError: non-positive groups is not supported',
    'F.conv2d(x, torch.ones(4, 2, 3, 3))':
        'RuntimeError: Given groups=1, weight of size [4, 2, 3, 3], expected input[2, 3, 6, 6] to have 2 '
        'channels, but got 3 channels instead',
    'F.conv2d(x, w, torch.ones(3))':
        'RuntimeError: Given weight of size [4, 3, 3, 3], expected bias to be 1-dimensional with 4 elements, '
        'but got bias of size [3] instead',
    'F.conv2d(x, w, torch.ones(4, 1))':
        'RuntimeError: Given weight of size [4, 3, 3, 3], expected bias to be 1-dimensional with 4 elements, '
        'but got bias of size [4, 1] instead',
    'F.conv1d(torch.ones(2, 3, 6), torch.ones(4, 3, 3), torch.ones(5))':
        'RuntimeError: Given weight of size [4, 3, 3], expected bias to be 1-dimensional with 4 elements, '
        'but got bias of size [5] instead',
    'F.conv2d(torch.ones(6, 6), w)':
        'RuntimeError: Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: [6, 6]',
    'F.conv2d(torch.ones(1, 2, 3, 6, 6), w)':
        'RuntimeError: Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: [1, '
        '2, 3, 6, 6]',
    'F.conv1d(torch.ones(6), torch.ones(4, 3, 3))':
        'RuntimeError: Expected 2D (unbatched) or 3D (batched) input to conv1d, but got input of size: [6]',
    'F.conv2d(x, torch.ones(4, 3, 3))':
        'RuntimeError: expected stride to be a single integer value or a list of 1 values to match the '
        'convolution dimensions, but got stride=[1, 1]',
    'F.conv2d(x, torch.ones(4, 3, 7, 7))':
        'RuntimeError: Calculated padded input size per channel: (6 x 6). Kernel size: (7 x 7). Kernel size '
        "can't be greater than actual input size",
    'F.conv2d(x.double(), torch.ones(4, 3, 0, 3).double())':
        'RuntimeError: kernel size should be greater than zero, but got kernel_height: 0 kernel_width: 3',
    'F.conv1d(torch.ones(2, 3, 6).double(), torch.ones(4, 3, 0).double())':
        'RuntimeError: kernel size should be greater than zero, but got kernel_height: 1 kernel_width: 0',
    'F.conv2d(x, w, padding=-1)': 'RuntimeError: negative padding is not supported',
    'F.conv2d(x, w, stride=0)': 'RuntimeError: non-positive stride is not supported',
    'F.conv2d(x, w, dilation=0)': 'RuntimeError: non-positive dilation is not supported',
    'F.conv2d(x, w, stride=2**63)': 'ValueError: Overflow when unpacking long long',
    'F.conv2d(x, w, padding=2**20)':
        "RuntimeError: [enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate "
        'memory: you tried to allocate 140738025226752 bytes. Error code 12 (Cannot allocate memory)',
    'F.max_pool2d(torch.ones(0, 3, 4, 4), 2)': 'OK [0, 3, 2, 2]',
    'F.max_pool2d(torch.ones(0, 3, 4, 4), 2, return_indices=True)[1]': 'OK [0, 3, 2, 2]',
    'F.avg_pool2d(torch.ones(0, 3, 4, 4), 2)': 'OK [0, 3, 2, 2]',
    'F.adaptive_avg_pool2d(torch.ones(0, 3, 4, 4), 2)': 'OK [0, 3, 2, 2]',
    'F.adaptive_avg_pool2d(x, 0)': 'OK [2, 3, 0, 0]',
    'F.adaptive_avg_pool2d(x, (0, 2))': 'OK [2, 3, 0, 2]',
    'F.adaptive_avg_pool2d(x, (9, 13))': 'OK [2, 3, 9, 13]',
    'F.adaptive_avg_pool2d(torch.ones(2, 0, 4, 4), 2)': 'OK [2, 0, 2, 2]',
    'F.adaptive_avg_pool2d(torch.ones(2, 3, 0, 4), 1)': 'OK [2, 3, 1, 1]',
    'F.adaptive_avg_pool2d(torch.ones(4, 4), 1)': 'OK [1, 1]',
    'F.conv2d(torch.ones(0, 3, 6, 6), w)': 'OK [0, 4, 4, 4]',
    'F.conv1d(torch.ones(0, 3, 6), torch.ones(4, 3, 3))': 'OK [0, 4, 4]',
    'F.conv2d(x, w, stride=2**62)': 'OK [2, 4, 1, 1]',
    'back(F.max_pool2d(torch.ones(0, 3, 4, 4, requires_grad=True), 2))': 'OK [0, 3, 2, 2]',
    'back(F.avg_pool2d(torch.ones(0, 3, 4, 4, requires_grad=True), 2))': 'OK [0, 3, 2, 2]',
    'back(F.adaptive_avg_pool2d(torch.ones(0, 3, 4, 4, requires_grad=True), 2))': 'OK [0, 3, 2, 2]',
    'back(F.adaptive_avg_pool2d(torch.ones(0, 4, 4, requires_grad=True), 2))': 'OK [0, 2, 2]',
    'back(F.conv2d(torch.ones(0, 3, 6, 6, requires_grad=True), w))': 'OK [0, 4, 4, 4]',
    # int-list arguments: a float, bool or str raised no error (truncated by int()) before the fix
    'F.max_pool2d(x, 2.5)':
        "TypeError: max_pool2d(): argument 'kernel_size' (position 2) must be tuple of ints, not float",
    'F.max_pool2d(x, (2, 2.0))':
        "TypeError: max_pool2d(): argument 'kernel_size' failed to unpack the object at pos 2 with error "
        '"type must be tuple of ints,but got float"',
    'F.max_pool2d(x, (2.5, 2))':
        "TypeError: max_pool2d(): argument 'kernel_size' (position 2) must be tuple of ints, but found "
        'element of type float at pos 0',
    'F.max_pool2d(x, 2, 1.5)':
        "TypeError: max_pool2d(): argument 'stride' (position 3) must be tuple of ints, not float",
    'F.max_pool2d(x, 2, padding=True)':
        "TypeError: max_pool2d(): argument 'padding' (position 4) must be tuple of ints, not bool",
    "F.max_pool2d(x, '2')":
        "TypeError: max_pool2d(): argument 'kernel_size' (position 2) must be tuple of ints, not str",
    'F.max_pool2d(x, 2, return_indices=True, dilation=(1, 1.5))':
        "TypeError: max_pool2d_with_indices(): argument 'dilation' failed to unpack the object at pos 2 with "
        'error "type must be tuple of ints,but got float"',
    'F.max_pool2d(x, (1, 2, 3))':
        'RuntimeError: max_pool2d: kernel_size must either be a single int, or a tuple of two ints',
    'F.max_pool2d(x, 2, (1, 2, 3))':
        'RuntimeError: max_pool2d: stride must either be omitted, a single int, or a tuple of two ints',
    'F.max_pool2d(x, 2, 2, 0, ())':
        'RuntimeError: max_pool2d: dilation must be either a single int, or a tuple of two ints',
    'F.avg_pool2d(x, 2.5)':
        "TypeError: avg_pool2d(): argument 'kernel_size' (position 2) must be tuple of ints, not float",
    'F.avg_pool2d(x, 2, 2, (1, 2, 3))':
        'RuntimeError: avg_pool2d: padding must either be a single int, or a tuple of two ints',
    'F.adaptive_avg_pool2d(x, 2.5)': "TypeError: object of type 'float' has no len()",
    'F.adaptive_avg_pool2d(x, (2.5, 2))':
        "TypeError: adaptive_avg_pool2d(): argument 'output_size' (position 2) must be tuple of ints, but "
        'found element of type float at pos 0',
    'F.adaptive_avg_pool2d(x, (None, 2.5))':
        "TypeError: adaptive_avg_pool2d(): argument 'output_size' failed to unpack the object at pos 2 with "
        'error "type must be tuple of ints,but got float"',
    'F.adaptive_avg_pool2d(x, True)':
        "TypeError: adaptive_avg_pool2d(): argument 'output_size' (position 2) must be tuple of ints, not "
        'bool',
    "F.adaptive_avg_pool2d(x, '2')":
        "TypeError: adaptive_avg_pool2d(): argument 'output_size' (position 2) must be tuple of ints, but "
        "found element of type str at pos 0",
    'F.max_pool2d(torch.ones(1, 1, 4, 4, dtype=torch.bool), 2)':
        'NotImplementedError: "max_pool2d" not implemented for \'Bool\'',
    'F.conv2d(x, w, stride=(1, 1.5))':
        'TypeError: conv2d(): argument \'stride\' failed to unpack the object at pos 2 with error "type must '
        'be tuple of ints,but got float"',
    'F.max_pool2d(x, (np.int64(2), 2))': 'OK [2, 3, 3, 3]',
    'F.max_pool2d(x, torch.tensor(2))': 'OK [2, 3, 3, 3]',
    'F.max_pool2d(x, (2,), (1,))': 'OK [2, 3, 5, 5]',
    'F.max_pool2d(x, 2, (), 0)': 'OK [2, 3, 3, 3]',
}


def test_bad_arguments_raise_pytorchs_errors_and_empty_inputs_give_empty_results():
    code = "\n".join([
        "import numpy as np",
        "import jitgrad as torch",
        "F = torch.nn.functional",
        "x = torch.ones(2, 3, 6, 6)",
        "w = torch.ones(4, 3, 3, 3)",
        "xg = torch.ones(2, 3, 6, 6, requires_grad=True)",
        "def back(t):",
        "    t.sum().backward()",
        "    return t",
        f"for c in {list(_EXPECTED)!r}:",
        "    try:",
        "        print('OK', list(eval(c).shape))",
        "    except Exception as e:",
        "        print(type(e).__name__ + ': ' + str(e))",
    ])
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr
    got = proc.stdout.splitlines()
    assert len(got) == len(_EXPECTED)
    for (case, want), line in zip(_EXPECTED.items(), got):
        assert line.startswith(want) if want == "RuntimeError: " else line == want, case


@pytest.mark.parametrize("kwargs", [{"stride": 1.5}, {"padding": (1.0, 1)}, {"dilation": True}, {"groups": 1.0}])
def test_conv_int_arguments_of_another_type_raise_type_error(kwargs):
    # PyTorch raises TypeError (its "invalid combination of arguments" text, which depends on how
    # the arguments were passed); before the fix jitgrad truncated 1.5 to 1 or leaked a Python error
    with pytest.raises(TypeError, match="must be"):
        F.conv2d(torch.ones(1, 1, 4, 4), torch.ones(1, 1, 2, 2), **kwargs)


def test_avg_pool_negative_divisor_override_divides_by_it():
    # PyTorch accepts a negative divisor_override; jitgrad silently ignored it before the fix
    x = torch.arange(16.).reshape(1, 1, 4, 4).requires_grad_()
    out = F.avg_pool2d(x, 2, divisor_override=-1)
    assert out.tolist() == [[[[-10.0, -18.0], [-42.0, -50.0]]]]
    out.sum().backward()
    assert x.grad.tolist() == [[[[-1.0] * 4] * 4]]


def test_conv_gradients_with_an_inf_stay_finite_where_pytorchs_do():
    # stride-1 convolutions read "wide" rows whose junk columns met the gradient's zeros: an inf
    # weight or input there made 0 * inf = NaN leak into gradients PyTorch computes finite (with
    # a NumPy RuntimeWarning, which PyTorch does not give either)
    inf = float("inf")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = torch.arange(16.).reshape(1, 1, 4, 4).requires_grad_()
        w = torch.ones(1, 1, 3, 3)
        w[0, 0, 2, 2] = inf
        w.requires_grad_()
        F.conv2d(x, w, padding=1).sum().backward()
        assert x.grad.tolist() == [[[[4.0, 6.0, 6.0, 4.0], [6.0, inf, inf, inf], [6.0, inf, inf, inf],
                                     [4.0, inf, inf, inf]]]]
        x = torch.arange(16.).reshape(1, 1, 4, 4)
        x[0, 0, 1, 3] = inf
        x.requires_grad_()
        w = torch.ones(1, 1, 3, 3, requires_grad=True)
        F.conv2d(x, w, padding=1).sum().backward()
        assert w.grad.tolist() == [[[[45.0, inf, inf], [84.0, inf, inf], [81.0, inf, inf]]]]
        # the bias gradient, summed in float64, overflows float32 to inf without a NumPy warning
        x = torch.ones(2, 1, 4, 4, requires_grad=True)
        b = torch.ones(1, requires_grad=True)
        out = F.conv2d(x, torch.ones(1, 1, 3, 3), b)
        out.backward(torch.full_like(out, 3e38))
        assert b.grad.tolist() == [inf]
