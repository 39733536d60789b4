"""Issue #8 for the nn ops: no input crashes the process or gets a silently wrong answer.

Every index or target that reaches a kernel of ``kernels/nn.py`` is range-checked (also in
backward, where it may have been changed through ``.data`` after forward), every node that saves
a tensor checks its version, and bad shapes and dtypes get PyTorch's errors.  The expected texts
were taken from torch 2.13 and are hard-coded, so the file runs without torch.
"""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import jitgrad as torch
import jitgrad.nn.functional as F
from jitgrad import errors

MODIFIED = ("one of the variables needed for gradient computation has been modified by an inplace operation: "
            "{what} is at version 1; expected version 0 instead.")


# ============================================================================ crash cases, in a subprocess
# Each of these wrote out of bounds (SIGSEGV, or megabytes past a buffer) before the fix.
_CRASH_CASES = {
    "embedding_data_index": ("w = torch.randn(5, 3, requires_grad=True); i = torch.tensor([0, 1])\n"
                             "y = F.embedding(i, w); i.data[1] = 10**9; y.sum().backward()",
                             "IndexError: index out of range in self"),
    "embedding_scale_grad": ("w = torch.randn(5, 3, requires_grad=True); i = torch.tensor([0, 1])\n"
                             "y = F.embedding(i, w, scale_grad_by_freq=True); i.data[1] = 10**9; y.sum().backward()",
                             "IndexError: index out of range in self"),
    "embedding_double_backward": (
        "w = torch.randn(5, 3, requires_grad=True); i = torch.tensor([0, 1])\n"
        "y = F.embedding(i, w); g, = torch.autograd.grad((y * y).sum(), w, create_graph=True)\n"
        "i.data[0] = -10**6; g.sum().backward()",
        "IndexError: index out of range in self"),
    "cross_entropy_data_target": ("x = torch.randn(3, 5, requires_grad=True); t = torch.tensor([0, 1, 2])\n"
                                  "l = F.cross_entropy(x, t); t.data[1] = 10**9; l.backward()",
                                  "IndexError: Target 1000000000 is out of bounds."),
    "cross_entropy_none_negative": ("x = torch.randn(3, 5, requires_grad=True); t = torch.tensor([0, 1, 2])\n"
                                    "l = F.cross_entropy(x, t, reduction='none')\n"
                                    "t.data[1] = -10**6; l.sum().backward()",
                                    "IndexError: Target -1000000 is out of bounds."),
    "cross_entropy_smoothing_nd": ("x = torch.randn(2, 5, 3, requires_grad=True)\n"
                                   "t = torch.zeros(2, 3, dtype=torch.int64)\n"
                                   "l = F.cross_entropy(x, t, label_smoothing=0.2, weight=torch.ones(5))\n"
                                   "t.data[1, 2] = 10**6; l.backward()",
                                   "IndexError: Target 1000000 is out of bounds."),
    "cross_entropy_float16": ("x = torch.randn(3, 5).half().requires_grad_(); t = torch.tensor([0, 1, 2])\n"
                              "l = F.cross_entropy(x, t); t.data[1] = 10**9; l.backward()",
                              "IndexError: Target 1000000000 is out of bounds."),
    "nll_loss_data_target": ("x = torch.randn(3, 5, requires_grad=True); t = torch.tensor([0, 1, 2])\n"
                             "l = F.nll_loss(x, t, weight=torch.ones(5)); t.data[1] = 10**6; l.backward()",
                             "IndexError: Target 1000000 is out of bounds."),
    "nll_loss_negative": ("x = torch.randn(3, 5, requires_grad=True); t = torch.tensor([0, 1, 2])\n"
                          "l = F.nll_loss(x, t); t.data[1] = -7; l.backward()",
                          "IndexError: Target -7 is out of bounds."),
    "nll_loss_double_backward": (
        "x = torch.randn(3, 5, requires_grad=True); t = torch.tensor([0, 1, 2])\n"
        "l = F.cross_entropy(x, t); t.data[2] = 99; torch.autograd.grad(l, x, create_graph=True)",
        "IndexError: Target 99 is out of bounds."),
}


def test_backward_after_data_change_raises_instead_of_writing_out_of_bounds():
    body = "".join(
        f"try:\n{textwrap.indent(code, '    ')}\n    print({name!r}, 'no error')\n"
        f"except Exception as e:\n    print({name!r}, type(e).__name__ + ': ' + str(e))\n"
        for name, (code, _) in _CRASH_CASES.items())
    program = "import jitgrad as torch\nimport jitgrad.nn.functional as F\n" + body
    proc = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    for name, (_, expected) in _CRASH_CASES.items():
        assert got[name] == expected, name


# ============================================================================ embedding
def test_embedding_saves_the_index():
    w = torch.randn(5, 3, requires_grad=True)
    i = torch.tensor([0, 1])
    y = F.embedding(i, w)
    i[1] = 10 ** 9
    with pytest.raises(RuntimeError, match=MODIFIED.format(what=r"\[torch.LongTensor \[2\]\]").replace(".", r"\.")):
        y.sum().backward()


def test_embedding_backward_twice():
    w = torch.randn(5, 3, requires_grad=True)
    y = F.embedding(torch.tensor([0, 1]), w).sum()
    y.backward()
    with pytest.raises(RuntimeError) as info:
        y.backward()
    assert str(info.value) == errors.BACKWARD_TWICE
    y = F.embedding(torch.tensor([0, 1]), w).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert w.grad[:2].tolist() == [[3.0] * 3] * 2


def test_embedding_padding_index_changed_to_minus_one_is_skipped_like_pytorch():
    # PyTorch's backward skips index -1 (its default padding_idx), so jitgrad does too
    w = torch.randn(5, 3, requires_grad=True)
    i = torch.tensor([0, 1])
    y = F.embedding(i, w)
    i.data[1] = -1
    y.sum().backward()
    assert w.grad.sum(1).tolist() == [3.0, 0.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize("index, kwargs, exc, message", [
    ([0, 5], {}, IndexError, "index out of range in self"),
    ([0, -1], {}, IndexError, "index out of range in self"),
    ([0, 7], {"max_norm": 1.0}, IndexError, "select(): index 7 out of range for tensor of size [5, 3] at dimension 0"),
    ([-9, 7], {"max_norm": 1.0}, IndexError,
     "select(): index -9 out of range for tensor of size [5, 3] at dimension 0"),
    ([0, -1], {"max_norm": 1.0}, IndexError, "index out of range in self"),
    ([0, 1], {"padding_idx": 5}, AssertionError, "Padding_idx must be within num_embeddings"),
    ([0, 1], {"padding_idx": -6}, AssertionError, "Padding_idx must be within num_embeddings"),
])
def test_embedding_forward_errors(index, kwargs, exc, message):
    w = torch.randn(5, 3)
    before = w.clone()
    with pytest.raises(exc) as info:
        F.embedding(torch.tensor(index), w, **kwargs)
    assert str(info.value) == message
    assert torch.equal(w, before)  # a failed renorm changes nothing


def test_embedding_float16():
    w = torch.randn(5, 3).half().requires_grad_()
    y = F.embedding(torch.tensor([0, 1, 1]), w)
    assert y.dtype == torch.float16 and y.grad_fn.name() == "EmbeddingBackward0"
    assert torch.equal(y.detach(), w.detach()[[0, 1, 1]])
    y.sum().backward()
    assert w.grad.dtype == torch.float16
    assert w.grad.sum(1).tolist() == [3.0, 6.0, 0.0, 0.0, 0.0]
    with pytest.raises(IndexError, match="index out of range in self"):
        F.embedding(torch.tensor([9]), w)
    with torch.no_grad():
        r = F.embedding(torch.tensor([0, 2]), w, max_norm=0.5)
    assert r.dtype == torch.float16
    assert np.all(np.linalg.norm(r.float().numpy(), axis=1) <= 0.5005)


# ============================================================================ class-index losses
@pytest.mark.parametrize("fn", ["nll_loss", "cross_entropy"])
def test_class_loss_checks_target_and_weight_versions(fn):
    loss = getattr(F, fn)
    x = torch.randn(3, 5, requires_grad=True)
    t = torch.tensor([0, 1, 2])
    w = torch.ones(5)
    out = loss(x, t, weight=w)
    w.add_(1)
    with pytest.raises(RuntimeError, match=r"\[torch\.FloatTensor \[5\]\] is at version 1"):
        out.backward()
    out = loss(x, t)
    t[1] = 10 ** 9
    with pytest.raises(RuntimeError, match=r"\[torch\.LongTensor \[3\]\] is at version 1"):
        out.backward()


def test_nll_loss_checks_its_input_version():
    x = torch.randn(3, 5, requires_grad=True)
    y = x * 1
    out = F.nll_loss(y, torch.tensor([0, 1, 2]))
    y.add_(1)
    with pytest.raises(RuntimeError, match=r"\[torch\.FloatTensor \[3, 5\]\], which is output 0 of Add"):
        out.backward()


@pytest.mark.parametrize("x_shape, target, kwargs, exc, message", [
    ((3, 5), [0, 1, 10], {}, IndexError, "Target 10 is out of bounds."),
    ((3, 5), [0, -3, 10], {"weight": np.ones(5, np.float32)}, IndexError, "Target -3 is out of bounds."),
    ((3, 5), np.zeros(3, np.int32), {}, RuntimeError, "expected target dtype to be Long or Byte, but got Int"),
    ((3, 5), np.zeros(2, np.int32), {}, ValueError, "Expected input batch_size (3) to match target batch_size (2)."),
    ((1, 5), np.array(1), {}, ValueError, "Expected input batch_size (1) to match target batch_size (0)."),
    ((3, 5), np.zeros((3, 2), np.int32), {}, RuntimeError,
     "0D or 1D target tensor expected, multi-target not supported"),
    ((3, 5), np.zeros((3, 4), np.float32), {}, RuntimeError,
     "0D or 1D target tensor expected, multi-target not supported"),
    ((5,), np.array([0, 1], np.int32), {}, RuntimeError, "expected target dtype to be Long or Byte, but got Int"),
    ((5,), [0, 1], {}, ValueError, "For 1D input, 1D target must have size 1, but got target size: 2"),
    ((3, 5, 2), np.zeros((3, 3), np.int32), {}, RuntimeError, "Expected target size [3, 2], got [3, 3]"),
    ((2, 5, 3, 4), np.zeros((2, 3)), {}, RuntimeError, "expected target dtype to be Long or Byte, but got Double"),
    ((2, 5, 3, 4), np.zeros((2, 3), np.int64), {}, RuntimeError,
     "only batches of spatial targets supported (3D tensors) but got targets of dimension: 2"),
    ((2, 5, 3, 4), np.zeros((2, 3, 5), np.int64), {}, RuntimeError,
     "size mismatch (got input: [2, 5, 3, 4] , target: [2, 3, 5]"),
    ((2, 5, 3, 4), np.zeros((2, 3, 5), np.int64), {"weight": np.ones(4, np.float32)}, RuntimeError,
     "weight tensor should be defined either for all or no classes"),
    ((2, 5, 3), np.zeros((2, 3), np.int64), {"weight": np.ones(4, np.float32)}, RuntimeError,
     "weight tensor should be defined either for all or no classes"),
    ((3, 5), [0, 1, 2], {"weight": np.ones(4, np.float32)}, RuntimeError,
     "weight tensor should be defined either for all 5 classes or no classes but got weight tensor of shape: [4]"),
    ((3, 5), [0, 1, 2], {"weight": np.ones(5)}, RuntimeError, "expected scalar type Float but found Double"),
    ((3, 5), [0, 1, 2], {"ignore_index": 2.0}, TypeError,
     "{fn}(): argument 'ignore_index' (position 5) must be int, not float"),
    ((3, 5), [0, 1, 2], {"ignore_index": True}, TypeError,
     "{fn}(): argument 'ignore_index' (position 5) must be int, not bool"),
    ((3, 5), [0, 1, 2], {"ignore_index": 2 ** 63}, ValueError, "Overflow when unpacking long long"),
])
@pytest.mark.parametrize("fn", ["nll_loss", "cross_entropy"])
def test_class_loss_errors(fn, x_shape, target, kwargs, exc, message):
    kwargs = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    x = torch.randn(*x_shape, requires_grad=True)
    with pytest.raises(exc) as info:
        getattr(F, fn)(x, torch.tensor(target), **kwargs)
    assert str(info.value) == message.format(fn="nll_loss_nd" if fn == "nll_loss" else "cross_entropy_loss")


def test_class_loss_1d_input_with_1d_target_of_size_1():
    x = torch.randn(5, requires_grad=True)
    out = F.cross_entropy(x, torch.tensor([3]), reduction="none")
    assert out.shape == () and out.grad_fn.name() == "NllLossBackward0"
    assert F.nll_loss(x, torch.tensor(3), ignore_index=torch.tensor(3)).isnan()


@pytest.mark.parametrize("weight", [np.ones(4, np.float32), np.ones((5, 2), np.float32)])
def test_cross_entropy_probabilities_weight_size(weight):
    with pytest.raises(RuntimeError) as info:
        F.cross_entropy(torch.randn(3, 5), torch.rand(3, 5), weight=torch.tensor(weight))
    assert str(info.value) == ("cross_entropy: weight tensor should be defined either for all 5 classes or no classes "
                               f"but got weight tensor of shape: {list(weight.shape)}")


@pytest.mark.parametrize("offset", [1e5, 1e8, 1e30])
@pytest.mark.parametrize("case", ["plain", "smoothing", "probabilities", "spatial", "log_softmax"])
def test_cross_entropy_large_logits(offset, case):
    # softmax was computed as exp(x - lse) with lse = max + log(sum) rounded: at |x| ~ 1e8 (float32)
    # log(sum) vanished, giving [0, .5, .5] instead of [-1/3, 1/6, 1/6] (PyTorch's values)
    x = torch.full((1, 3), offset + 1, requires_grad=True)
    expected = [-2 / 3, 1 / 3, 1 / 3]
    if case == "plain":
        loss = F.cross_entropy(x, torch.tensor([0]))
    elif case == "smoothing":
        loss = F.cross_entropy(x, torch.tensor([0]), label_smoothing=0.1)
        expected = [-0.6, 0.3, 0.3]
    elif case == "probabilities":
        loss = F.cross_entropy(x, torch.tensor([[1.0, 0.0, 0.0]]))
    elif case == "spatial":
        loss = F.cross_entropy(x.view(1, 3, 1).expand(1, 3, 2), torch.tensor([[0, 1]]))
        expected = [-1 / 6, -1 / 6, 1 / 3]  # the mean over two positions, summed back by expand
    else:
        loss = F.nll_loss(F.log_softmax(x, 1), torch.tensor([0]))
    loss.backward()
    assert abs(loss.item() - np.log(3)) < 1e-6
    np.testing.assert_allclose(x.grad.numpy().ravel(), expected, rtol=1e-5, atol=1e-6)


# ============================================================================ the other losses and the norms
@pytest.mark.parametrize("fn, kwargs, message", [
    ("binary_cross_entropy", {"weight": (4,)},
     "Attempting to broadcast a dimension of length 4 at -1! Mismatching argument at index 1 had torch.Size([4]); "
     "but expected shape should be broadcastable to [3, 5]"),
    ("binary_cross_entropy", {"weight": (2, 5)},
     "Attempting to broadcast a dimension of length 2 at -2! Mismatching argument at index 1 had "
     "torch.Size([2, 5]); but expected shape should be broadcastable to [3, 5]"),
    ("binary_cross_entropy", {"weight": (3, 5, 2)},
     "Attempting to broadcast a dimension of length 2 at -1! Mismatching argument at index 1 had "
     "torch.Size([3, 5, 2]); but expected shape should be broadcastable to [1, 3, 5]"),
    ("binary_cross_entropy", {"weight": (1, 3, 5)},
     "output with shape [3, 5] doesn't match the broadcast shape [1, 3, 5]"),
    ("binary_cross_entropy_with_logits", {"weight": (4,)},
     "The size of tensor a (5) must match the size of tensor b (4) at non-singleton dimension 1"),
    ("binary_cross_entropy_with_logits", {"weight": (3, 1), "pos_weight": (4,)},
     "The size of tensor a (4) must match the size of tensor b (5) at non-singleton dimension 1"),
    ("binary_cross_entropy_with_logits", {"pos_weight": (2, 3, 5)},
     "output with shape [3, 5] doesn't match the broadcast shape [2, 3, 5]"),
])
def test_bce_weight_shapes(fn, kwargs, message):
    kwargs = {k: torch.ones(*shape) for k, shape in kwargs.items()}
    with pytest.raises(RuntimeError) as info:
        getattr(F, fn)(torch.rand(3, 5, requires_grad=True), torch.rand(3, 5), **kwargs)
    assert str(info.value) == message


@pytest.mark.parametrize("fn, arg, what", [
    ("binary_cross_entropy", "weight", "[3, 5]"),  # PyTorch saves the expanded weight
    ("binary_cross_entropy_with_logits", "weight", "[5]"),
    ("binary_cross_entropy_with_logits", "pos_weight", "[5]"),
])
def test_bce_weight_versions(fn, arg, what):
    w = torch.ones(5)
    out = getattr(F, fn)(torch.rand(3, 5, requires_grad=True), torch.rand(3, 5), **{arg: w})
    w.add_(1)
    with pytest.raises(RuntimeError, match=rf"\[torch\.FloatTensor {what.replace('[', '.').replace(']', '.')}\] is at"):
        out.backward()


def test_norm_parameter_versions():
    x = torch.randn(4, 3, requires_grad=True)
    b = torch.zeros(3)
    out = F.layer_norm(x, (3,), torch.ones(3), b)
    b.add_(1)
    with pytest.raises(RuntimeError, match="is at version 1"):
        out.sum().backward()
    rm = torch.zeros(3)
    out = F.batch_norm(x, rm, torch.ones(3))
    rm.add_(1)
    with pytest.raises(RuntimeError, match="is at version 1"):
        out.sum().backward()
    b = torch.zeros(3)  # batch_norm does not save its bias (as PyTorch)
    out = F.batch_norm(x, None, None, torch.ones(3), b, training=True)
    b.add_(1)
    out.sum().backward()


@pytest.mark.parametrize("call, message", [
    (lambda x: F.batch_norm(x, torch.zeros(3), torch.ones(3, dtype=torch.float64)),
     "expected scalar type Float but found Double"),
    (lambda x: F.batch_norm(x, torch.zeros(3), torch.ones(3), weight=torch.ones(3, dtype=torch.float64)),
     "mixed dtype (CPU): expect parameter to have scalar type of Float"),
    (lambda x: F.batch_norm(x, torch.zeros(3, dtype=torch.int64), torch.ones(3)),
     "mixed dtype (CPU): expect parameter to have scalar type of Float"),
    (lambda x: F.batch_norm(x.double(), None, None, weight=torch.ones(3), training=True),
     "mixed dtype (CPU): all inputs must share same datatype."),
    (lambda x: F.batch_norm(x, torch.zeros(1, 3), torch.ones(3)), "TensorAccessor expected 1 dims but tensor has 2"),
    (lambda x: F.layer_norm(x, (3,), torch.ones(3), torch.ones(3, dtype=torch.float64)),
     "expected scalar type Float but found Double"),
    (lambda x: F.layer_norm(x, (3,), torch.ones(3, dtype=torch.int64)),
     "mixed dtype (CPU): expect parameter to have scalar type of Float"),
    (lambda x: F.kl_div(x, torch.ones(4, 3, dtype=torch.int64), reduction="sum"),
     "kl_div: Integral inputs not supported."),
])
def test_norm_and_kl_div_dtypes(call, message):
    with pytest.raises(RuntimeError) as info:
        call(torch.randn(4, 3, requires_grad=True))
    assert str(info.value) == message


def test_float16_norms_take_float32_parameters():
    x = torch.randn(4, 3).half()
    assert F.batch_norm(x, torch.zeros(3), torch.ones(3), weight=torch.ones(3)).dtype == torch.float16
    assert F.layer_norm(x, (3,), torch.ones(3), torch.ones(3)).dtype == torch.float16


def test_against_torch():
    ref = pytest.importorskip("torch")
    x = np.full((2, 3), 1e8 + 1, np.float32)
    xr = ref.tensor(x, requires_grad=True)
    xj = torch.tensor(x, requires_grad=True)
    ref.nn.functional.cross_entropy(xr, ref.tensor([0, 2]), label_smoothing=0.2).backward()
    F.cross_entropy(xj, torch.tensor([0, 2]), label_smoothing=0.2).backward()
    np.testing.assert_allclose(xj.grad.numpy(), xr.grad.numpy(), rtol=1e-6, atol=1e-7)


# ============================================================================ fuzzer findings (part J)
NAN = float("nan")


def test_cross_entropy_probabilities_empty_class_dim_is_nan_without_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # it used to divide by zero in NumPy
        for shape in ((4, 0), (0, 5), (0,)):
            x = torch.zeros(*shape, dtype=torch.float64, requires_grad=True)
            loss = F.cross_entropy(x, torch.zeros(*shape, dtype=torch.float64))
            assert np.isnan(loss.item()) and loss.grad_fn.name() == "NegBackward0"
            loss.backward()
            assert x.grad.shape == x.shape


def test_kl_div_float16():
    x = (torch.arange(6, dtype=torch.float16).reshape(2, 3) / 10 - 1).requires_grad_()
    q = (torch.arange(6, dtype=torch.float16).reshape(2, 3) / 10).requires_grad_()
    loss = F.kl_div(x, q, reduction="batchmean")
    assert loss.dtype == torch.float16 and abs(loss.item() - -0.3384) < 2e-3  # torch: -0.3384
    loss.backward()
    np.testing.assert_allclose(q.grad.float().numpy().ravel()[1:], [-0.2014, 0.0952, 0.2480, 0.3418, 0.4033],
                               atol=2e-3)
    loss = F.kl_div(x, q, reduction="sum")
    with torch.no_grad():
        q.mul_(2)
    with pytest.raises(RuntimeError, match=r"\[torch.HalfTensor \[2, 3\]\] is at version 1"):
        loss.backward()


@pytest.mark.parametrize("call", [
    lambda x: F.max_pool2d(x, 2), lambda x: F.avg_pool2d(x, 2), lambda x: F.adaptive_avg_pool2d(x, 2),
    lambda x: F.layer_norm(x, (4,)), lambda x: F.conv2d(x, torch.ones(1, 1, 2, 2, dtype=torch.float16)),
    lambda x: F.batch_norm(x, None, None, training=True),
    lambda x: F.batch_norm(x, torch.zeros(1, dtype=torch.float16), torch.ones(1, dtype=torch.float16)),
])
def test_float16_ops_check_the_users_input_version(call):
    # computed through float32 copies, the node must still record the user's float16 tensor
    x = torch.arange(16, dtype=torch.float16).reshape(1, 1, 4, 4).requires_grad_()
    y = call(x)
    with torch.no_grad():
        x.add_(1)
    with pytest.raises(RuntimeError) as info:
        y.sum().backward()
    assert str(info.value).startswith(MODIFIED.format(what="[torch.HalfTensor [1, 1, 4, 4]]"))


def test_batch_norm_float16_running_stats():
    x = torch.arange(24, dtype=torch.float16).reshape(4, 3, 2).requires_grad_()
    rm, rv = torch.zeros(3, dtype=torch.float16), torch.ones(3, dtype=torch.float16)
    y = F.batch_norm(x, rm, rv, torch.ones(3, dtype=torch.float16), None, training=True)
    assert y.dtype == torch.float16  # torch's values, running stats rounded to float16 in place:
    np.testing.assert_allclose(y.flatten()[:2].tolist(), [-1.412109375, -1.263671875])
    assert rm.tolist() == [0.9501953125, 1.150390625, 1.349609375] and rv.tolist() == [6.0703125] * 3
    y = F.batch_norm(x, rm, rv, training=False)
    with torch.no_grad():
        rm.add_(1)
    with pytest.raises(RuntimeError, match=r"\[torch.HalfTensor \[3\]\] is at version 1"):
        y.sum().backward()


_H, _F32_, _D = torch.float16, torch.float32, torch.float64
_MIXED = "mixed dtype (CPU): expect parameter to have scalar type of Float"


@pytest.mark.parametrize("dtypes, message", [
    ((_H, _H, _F32_, _F32_), "expected scalar type Half but found Float"),
    ((_F32_, _F32_, _H, _H), _MIXED), ((_F32_, _H, _F32_, _F32_), _MIXED), ((_D, _D, None, None), _MIXED),
    ((_H, _H, _D, _D), "expected scalar type Half but found Double"),
])
def test_float16_batch_norm_parameter_dtypes(dtypes, message):
    w, b, rm, rv = (None if d is None else torch.ones(3, dtype=d) for d in dtypes)
    with pytest.raises(RuntimeError) as info:
        F.batch_norm(torch.ones(4, 3, dtype=torch.float16), rm, rv, w, b, training=True)
    assert str(info.value) == message
    for ok in ((_H, _H, _H, _H), (_F32_, _F32_, _F32_, _F32_), (None, None, _H, _H)):
        w, b, rm, rv = (None if d is None else torch.ones(3, dtype=d) for d in ok)
        assert F.batch_norm(torch.ones(4, 3, dtype=torch.float16), rm, rv, w, b).dtype == torch.float16


def test_float16_layer_norm_parameter_dtypes():
    x = torch.ones(4, 2, dtype=torch.float16)
    for w, b, message in ((_H, _F32_, "expected scalar type Half but found Float"), (_F32_, _H, _MIXED),
                          (_D, None, _MIXED), (_H, _D, "expected scalar type Half but found Double")):
        with pytest.raises(RuntimeError) as info:
            F.layer_norm(x, (2,), torch.ones(2, dtype=w), None if b is None else torch.ones(2, dtype=b))
        assert str(info.value) == message


def test_batch_norm_running_stats_both_or_neither():
    with pytest.raises(ValueError, match="running_mean and running_var must either both be None or neither be None"):
        F.batch_norm(torch.ones(4, 3), torch.zeros(3), None, training=True)


def test_batch_norm_empty_input_is_pytorchs_shortcut():
    # no statistics and no size checks: input.clone() * weight[0] + bias[0]
    x = torch.zeros(4, 3, 0, requires_grad=True)
    w, b = torch.ones(3, requires_grad=True), torch.ones(3, requires_grad=True)
    y = F.batch_norm(x, None, None, w, b, training=True)
    assert y.shape == (4, 3, 0) and y.grad_fn.name() == "AddBackward0"
    y.sum().backward()
    assert w.grad.tolist() == [0.0] * 3 and b.grad.tolist() == [0.0] * 3
    assert F.batch_norm(torch.zeros(4, 3, 0), torch.zeros(5), torch.ones(5), torch.ones(5)).shape == (4, 3, 0)
    for x_shape in ((4, 3, 0), (4, 0)):
        with pytest.raises(IndexError) as info:
            F.batch_norm(torch.zeros(x_shape), None, None, torch.zeros(0), torch.zeros(0), training=True)
        assert str(info.value) == "select(): index 0 out of range for tensor of size [0] at dimension 0"


def test_embedding_empty_weight():
    for idx in ([0], [[0, 1]]):
        with pytest.raises(RuntimeError) as info:
            F.embedding(torch.tensor(idx), torch.zeros(0, 3))
        assert str(info.value) == "index_select(): self indexing axis dim should be positive"
    assert F.embedding(torch.tensor([], dtype=torch.int64), torch.zeros(0, 3)).shape == (0, 3)


@pytest.mark.parametrize("x_dtype, t_dtype, exc, message", [
    (torch.int64, torch.int64, NotImplementedError, "\"binary_cross_entropy\" not implemented for 'Long'"),
    (torch.uint8, torch.uint8, NotImplementedError, "\"binary_cross_entropy\" not implemented for 'Byte'"),
    (torch.bool, torch.bool, NotImplementedError, "\"binary_cross_entropy\" not implemented for 'Bool'"),
    (torch.int64, torch.float32, RuntimeError, "Found dtype Float but expected Long"),
    (torch.float32, torch.float64, RuntimeError, "Found dtype Double but expected Float"),
])
def test_bce_dtypes(x_dtype, t_dtype, exc, message):
    with pytest.raises(exc) as info:
        F.binary_cross_entropy(torch.ones(3, dtype=x_dtype), torch.ones(3, dtype=t_dtype))
    assert str(info.value) == message


@pytest.mark.parametrize("dtype, row", [(torch.float64, [1e300, -2e300, 3e300, 5e299]),
                                        (torch.float32, [1e38, -2e38, 3e38, 5e37])])
def test_layer_norm_variance_overflow_is_nan(dtype, row):
    # PyTorch's variance overflows (inf) in the input's dtype: NaN, not a 1/sqrt(inf) = 0 scale
    x = torch.tensor([row], dtype=dtype, requires_grad=True)
    y = F.layer_norm(x, (4,))
    assert np.isnan(y.detach().numpy()).all()
    y.sum().backward()
    assert np.isnan(x.grad.numpy()).all()


def test_normalisation_special_values():
    zeros = F.layer_norm(torch.tensor([[-0.0, -0.0]]), (2,))
    assert not np.signbit(zeros.numpy()).any()  # torch: +0, not -0
    # float32 data: a variance past float32's range still normalises (as PyTorch's double accumulation)
    y = F.batch_norm(torch.tensor([[1e38], [-2e38], [3e38], [5e37]]), None, None, training=True)
    np.testing.assert_allclose(y.flatten().tolist(), [0.2106, -1.474, 1.334, -0.07019], rtol=1e-3)
    assert F.log_softmax(torch.tensor([-0.0]), 0).tolist() == [0.0]
    assert not np.signbit(F.log_softmax(torch.tensor([-0.0]), 0).numpy()).any()


def test_dropout_p1_on_integers_gives_zeros():
    for dt in (torch.int64, torch.uint8, torch.bool):
        out = F.dropout(torch.ones(3, dtype=dt), 1.0)
        assert out.dtype == dt and not out.numpy().any()
        x = torch.ones(3, dtype=dt)
        assert F.dropout(x, 1.0, inplace=True) is x and not x.numpy().any()
        with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type"):
            F.dropout(torch.ones(3, dtype=dt), 0.5)


def test_softmax_backward_over_an_inner_dim_is_pytorchs_float32_rule():
    # PyTorch accumulates the dot down the dim in float32 with an fma: sum(softmax) has the exact
    # gradient 0 there (a float64 dot left -1e-9 noise at rows holding -inf)
    inf = float("inf")
    x = torch.tensor([[[-inf, -0.0], [1e-30, -inf], [0.5, 3.0], [-inf, -0.0]]], requires_grad=True)
    (g,) = torch.autograd.grad(F.softmax(x, 1).sum(), (x,))
    assert g.tolist() == [[[0.0, 0.0]] * 4] and not np.signbit(g.numpy()).any()
    x = torch.tensor([[[0.3, -1.2, 2.0], [1.7, 0.25, -0.5], [-2.2, 0.9, 1.1]]], requires_grad=True)
    gy = torch.tensor([[[0.7, -0.3, 1.3], [0.11, 2.1, -0.9], [1.5, -1.25, 0.4]]])
    (g,) = torch.autograd.grad(F.softmax(x, 1), (x,), gy)
    expected = ["0x1.6922b8p-4", "-0x1.c171c2p-7", "0x1.f90c10p-3", "-0x1.bb231ap-4", "0x1.6824bap-1",
                "-0x1.9df7aep-4", "0x1.48017cp-6", "-0x1.611ef2p-1", "-0x1.2a103ep-3"]  # torch 2.13
    # (the forward's float64 sum may round y an ulp away from PyTorch's float32 one, hence rtol)
    np.testing.assert_allclose(g.flatten().tolist(), [float.fromhex(v) for v in expected], rtol=1e-6)


def test_layer_norm_backward_signs_and_values():
    # sum(layer_norm) has the gradient +0 (PyTorch's), not a -0 of rounding noise
    x = torch.tensor([[-0.0, 0.0, -0.0, 1e-30]], requires_grad=True)
    (g,) = torch.autograd.grad(F.layer_norm(x, (4,)).sum(), (x,))
    assert g.tolist() == [[0.0] * 4] and not np.signbit(g.numpy()).any()
    x = torch.tensor([[0.3, -1.2, 2.0, 0.7]], requires_grad=True)
    w = torch.tensor([0.5, -1.5, 2.0, 1.0], requires_grad=True)
    gx, gw = torch.autograd.grad(F.layer_norm(x, (4,), w), (x, w), torch.tensor([[0.7, -0.3, 1.3, 0.2]]))
    np.testing.assert_allclose(gx.tolist(), [[-0.3990473449, 0.5172695518, 0.6332424283, -0.7514647245]], rtol=1e-6)
    np.testing.assert_allclose(gw.tolist(), [-0.0920023024, 0.4337252378, 1.7655682564, 0.0438106284], rtol=1e-6)


@pytest.mark.parametrize("loss", ["mse_loss", "l1_loss", "smooth_l1_loss", "binary_cross_entropy",
                                  "binary_cross_entropy_with_logits"])
def test_unreduced_loss_of_an_empty_batch_backward(loss):
    """reduction='none' over no element: the backward kernels never read grad[0] of an empty
    gradient (found by the NUMBA_BOUNDSCHECK run of the fuzzer)."""
    x = torch.zeros(3, 0, requires_grad=True)
    t = torch.zeros(3, 0)
    out = getattr(F, loss)(x.sigmoid() if loss == "binary_cross_entropy" else x, t, reduction="none")
    assert out.shape == (3, 0)
    out.sum().backward()
    assert x.grad.shape == (3, 0)


def test_unreduced_class_losses_of_an_empty_batch_backward():
    x = torch.zeros(0, 4, requires_grad=True)
    target = torch.zeros(0, dtype=torch.int64)
    for fn in (F.cross_entropy, F.nll_loss):
        out = fn(x, target, reduction="none")
        assert out.shape == (0,)
        out.sum().backward()
        assert x.grad.shape == (0, 4)
