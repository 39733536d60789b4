"""The neural-network ops (jitgrad/ops/nn.py, jitgrad/ops/conv.py) beyond their OpInfo samples:
what the table-driven gradient check and torch comparison cannot express -- random dropout
masks, in-place running statistics, gradients that are deliberately not derivatives
(padding_idx), many-block convolutions, PyTorch's error messages and graph structure, and
second derivatives (gradgradcheck) of the ops that provide a differentiable backward."""
import warnings

import numpy as np
import pytest

import jitgrad as jg
from jitgrad.autograd.gradcheck import gradcheck, gradgradcheck
from jitgrad.ops import conv as conv_ops
from jitgrad.ops.registry import OPS

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def F(name):
    """The jitgrad op declared under torch.nn.functional's ``name``."""
    return OPS[name].function


def both(arr, dtype="float64", grad=True):
    arr = np.asarray(arr, dtype=dtype)
    j, t = jg.from_numpy(arr.copy()), torch.from_numpy(arr.copy())
    if grad:
        j.requires_grad_()
        t.requires_grad_()
    return j, t


def ints(arr):
    arr = np.asarray(arr, dtype=np.int64)
    return jg.from_numpy(arr.copy()), torch.from_numpy(arr.copy())


def close(j, t, **tol):
    assert j is not None and t is not None
    assert tuple(j.shape) == tuple(t.shape)
    np.testing.assert_allclose(j.detach().numpy(), t.detach().numpy(), **(tol or dict(rtol=1e-10, atol=1e-12)))


def same_forward_and_grads(jfn, tfn, jleaves, tleaves, seed=0, **tol):
    jout, tout = jfn(*jleaves), tfn(*tleaves)
    close(jout, tout, **tol)
    assert type(jout.grad_fn).__name__ == type(tout.grad_fn).__name__
    w = np.random.default_rng(seed).uniform(-1, 1, tuple(tout.shape))
    (jout * jg.from_numpy(w.astype(jout.detach().numpy().dtype))).sum().backward()
    (tout * torch.from_numpy(w.astype(tout.detach().numpy().dtype))).sum().backward()
    for j, t in zip(jleaves, tleaves):
        if isinstance(t, torch.Tensor) and t.requires_grad:
            close(j.grad, t.grad, **tol)
    return jout, tout


# ============================================================================ dropout
def test_dropout_mask_is_reproducible_and_scaled():
    x = jg.ones(64, 64, requires_grad=True)
    jg.manual_seed(3)
    a = F("dropout")(x, p=0.25)
    jg.manual_seed(3)
    b = F("dropout")(x, p=0.25)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    vals = np.unique(a.detach().numpy())
    np.testing.assert_allclose(vals, [0.0, 1 / 0.75], rtol=1e-6)
    kept = (a.detach().numpy() != 0).mean()
    assert abs(kept - 0.75) < 0.03
    assert type(a.grad_fn).__name__ == "MulBackward0"
    assert a.grad_fn.next_functions[1] == (None, 0)
    a.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), a.detach().numpy())  # the gradient is the scaled mask


def test_dropout_identity_cases_and_errors():
    x = jg.randn(3, 4, requires_grad=True)
    for kwargs in (dict(training=False), dict(p=0.0)):
        assert F("dropout")(x, **kwargs) is x and TF.dropout(torch.zeros(2), **kwargs) is not None
    out = F("dropout")(x, p=1.0)
    assert (out.detach().numpy() == 0).all() and type(out.grad_fn).__name__ == "MulBackward0"
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match=f"dropout probability has to be between 0 and 1, but got {p}"):
            F("dropout")(x, p)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        F("dropout")(x, 0.5, inplace=True)


def test_dropout_inplace_and_float32_and_float16():
    y = jg.randn(50, 50, requires_grad=True) * 1
    before = y.detach().numpy().copy()
    jg.manual_seed(0)
    out = F("dropout")(y, 0.5, inplace=True)
    assert out is y and y._version == 1
    got = y.detach().numpy()
    assert ((got == 0) | np.isclose(got, 2 * before)).all()
    for dt in (jg.float32, jg.float16):
        z = jg.ones(10, 10, dtype=dt)
        assert F("dropout")(z, 0.5).dtype == dt


# ============================================================================ embedding
@pytest.mark.parametrize("kwargs", [dict(padding_idx=2), dict(padding_idx=-1), dict(scale_grad_by_freq=True),
                                    dict(padding_idx=0, scale_grad_by_freq=True)])
def test_embedding_gradient_options_match_torch(kwargs):
    idx = [[0, 2, 5], [2, 2, 1], [5, 3, 0]]
    (jw, tw), (ji, ti) = both(np.random.default_rng(0).normal(size=(6, 3))), ints(idx)
    same_forward_and_grads(lambda w: F("embedding")(ji, w, **kwargs), lambda w: TF.embedding(ti, w, **kwargs),
                           [jw], [tw])


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0])
def test_embedding_max_norm_renormalises_weight_in_place(norm_type):
    w = np.random.default_rng(1).normal(size=(5, 4)) * 3
    (jw, tw), (ji, ti) = both(w, grad=False), ints([[1, 3], [1, 0]])
    jo, to = F("embedding")(ji, jw, max_norm=1.5, norm_type=norm_type), TF.embedding(ti, tw, max_norm=1.5,
                                                                                       norm_type=norm_type)
    close(jo, to)
    close(jw, tw)  # rows 0, 1, 3 rescaled, the others untouched


def test_embedding_errors():
    jw, tw = both(np.ones((4, 3)))
    cases = [lambda m, w, f: f(m.tensor([4]), w), lambda m, w, f: f(m.tensor([-1]), w),
             lambda m, w, f: f(m.tensor([1.0]), w), lambda m, w, f: f(m.tensor([1]), w, padding_idx=4),
             lambda m, w, f: f(m.tensor([1]), w[0])]
    for case in cases:
        assert_same_error(lambda: case(torch, tw, TF.embedding), lambda: case(jg, jw, F("embedding")))


# ============================================================================ batch norm
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (2, 3, 2, 3)])
def test_batch_norm_training_updates_running_stats_like_torch(shape):
    rng = np.random.default_rng(2)
    (jx, tx), (jw, tw), (jb, tb) = both(rng.normal(size=shape)), both(rng.normal(size=3)), both(rng.normal(size=3))
    (jm, tm), (jv, tv) = both(rng.normal(size=3), grad=False), both(rng.uniform(0.5, 2, 3), grad=False)
    same_forward_and_grads(lambda x, w, b: F("batch_norm")(x, jm, jv, w, b, training=True, momentum=0.3),
                           lambda x, w, b: TF.batch_norm(x, tm, tv, w, b, training=True, momentum=0.3),
                           [jx, jw, jb], [tx, tw, tb])
    close(jm, tm)
    close(jv, tv)  # the unbiased batch variance
    assert jm._version == tm._version == 0  # PyTorch's kernel updates them without a version bump


def test_batch_norm_eval_uses_running_stats_and_differentiates_weight():
    rng = np.random.default_rng(3)
    (jx, tx), (jw, tw), (jb, tb) = both(rng.normal(size=(4, 3, 2))), both(rng.normal(size=3)), both(rng.normal(size=3))
    (jm, tm), (jv, tv) = both(rng.normal(size=3), grad=False), both(rng.uniform(0.5, 2, 3), grad=False)
    same_forward_and_grads(lambda x, w, b: F("batch_norm")(x, jm, jv, w, b),
                           lambda x, w, b: TF.batch_norm(x, tm, tv, w, b),
                           [jx, jw, jb], [tx, tw, tb])
    assert jm._version == 0


def test_batch_norm_float32_matches_torch():
    rng = np.random.default_rng(4)
    (jx, tx), (jw, tw) = both(rng.normal(size=(16, 4, 8, 8)), "float32"), both(rng.normal(size=4), "float32")
    same_forward_and_grads(lambda x, w: F("batch_norm")(x, None, None, w, None, True),
                           lambda x, w: TF.batch_norm(x, None, None, w, None, True), [jx, jw], [tx, tw],
                           rtol=2e-4, atol=2e-5)


# ============================================================================ layer norm
def test_layer_norm_float32_and_non_contiguous_input():
    rng = np.random.default_rng(5)
    (jx, tx), (jw, tw), (jb, tb) = (both(rng.normal(size=s), "float32") for s in ((4, 6, 5), (6,), (6,)))
    same_forward_and_grads(lambda x, w, b: F("layer_norm")(x.transpose(1, 2), (6,), w, b),
                           lambda x, w, b: TF.layer_norm(x.transpose(1, 2), (6,), w, b), [jx, jw, jb], [tx, tw, tb],
                           rtol=1e-4, atol=1e-5)


# ============================================================================ softmax family
def test_softmax_extremes_dtype_argument_and_implicit_dim():
    data = [[1000.0, 0.0, -1000.0], [-np.inf, 0.0, 1.0], [np.inf, 0.0, 1.0]]
    (jx, tx) = both(data, grad=False)
    for name in ("softmax", "log_softmax"):
        with np.errstate(all="ignore"):
            close(F(name)(jx, 1), getattr(TF, name)(tx, 1), equal_nan=True)
    jx32, tx32 = both(np.ones((2, 3)), "float32")
    out = jx32.softmax(1, jg.float64)  # Tensor.softmax(dim, dtype)
    assert out.dtype == jg.float64 and type(out.grad_fn.next_functions[0][0]).__name__ == "ToCopyBackward0"
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        close(F("softmax")(jx32), TF.softmax(tx32, dim=1))
    assert_same_error(lambda: TF.softmax(torch.arange(3), 0), lambda: F("softmax")(jg.arange(3), 0))
    assert F("softmax")(jg.ones(2, 3, dtype=jg.float16), 1).dtype == jg.float16


# ============================================================================ cross entropy / nll
@pytest.mark.parametrize("kwargs", [
    dict(weight=True, ignore_index=1), dict(label_smoothing=0.15, weight=True, ignore_index=2, reduction="sum"),
    dict(label_smoothing=0.3, reduction="none"), dict(weight=True, reduction="none", ignore_index=0),
])
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5), (2, 4, 3, 2), (2, 4, 2, 2, 2)])
def test_cross_entropy_and_nll_options_match_torch(shape, kwargs):
    rng = np.random.default_rng(6)
    target = rng.integers(0, 4, (shape[0],) + shape[2:])
    jt, tt = ints(target)
    kw_j, kw_t = dict(kwargs), dict(kwargs)
    if kwargs.get("weight"):
        jwt, twt = both(rng.uniform(0.5, 2, 4), grad=False)
        kw_j["weight"], kw_t["weight"] = jwt, twt
    jx, tx = both(rng.normal(size=shape))
    jout, tout = same_forward_and_grads(lambda x: F("cross_entropy")(x, jt, **kw_j),
                                        lambda x: TF.cross_entropy(x, tt, **kw_t), [jx], [tx])
    if "label_smoothing" not in kwargs:
        jx2, tx2 = both(np.moveaxis(np.log(rng.dirichlet(np.ones(4), shape[:1] + shape[2:])), -1, 1))
        same_forward_and_grads(lambda x: F("nll_loss")(x, jt, **kw_j), lambda x: TF.nll_loss(x, tt, **kw_t),
                               [jx2], [tx2])


def test_cross_entropy_float32_batch_and_all_ignored():
    rng = np.random.default_rng(7)
    jx, tx = both(rng.normal(size=(128, 10)) * 5, "float32")
    jt, tt = ints(rng.integers(0, 10, 128))
    same_forward_and_grads(lambda x: F("cross_entropy")(x, jt), lambda x: TF.cross_entropy(x, tt), [jx], [tx],
                           rtol=1e-5, atol=1e-6)
    jt2, tt2 = ints([-100, -100])
    ja, ta = both(np.zeros((2, 3)))
    ja_out, ta_out = F("cross_entropy")(ja, jt2), TF.cross_entropy(ta, tt2)
    assert np.isnan(ja_out.item()) and np.isnan(ta_out.item())
    ja_out.backward()
    ta_out.backward()
    close(ja.grad, ta.grad)


def test_cross_entropy_probabilities_k_dim_with_weight():
    rng = np.random.default_rng(8)
    (jx, tx), (jp, tp) = both(rng.normal(size=(2, 3, 4))), both(rng.dirichlet(np.ones(3), (2, 4)).swapaxes(1, 2))
    jw, tw = both(rng.uniform(0.5, 2, 3), grad=False)
    for red in ("mean", "sum", "none"):
        same_forward_and_grads(lambda x, p: F("cross_entropy")(x, p, weight=jw, reduction=red, label_smoothing=0.1),
                               lambda x, p: TF.cross_entropy(x, p, weight=tw, reduction=red, label_smoothing=0.1),
                               [jx, jp], [tx, tp])


def test_class_loss_graph_structure():
    jx, tx = both(np.zeros((2, 3, 4)))
    jt, tt = ints(np.zeros((2, 4)))
    j, t = F("cross_entropy")(jx, jt, reduction="none"), TF.cross_entropy(tx, tt, reduction="none")
    assert type(j.grad_fn).__name__ == type(t.grad_fn).__name__ == "ViewBackward0"
    assert type(j.grad_fn.next_functions[0][0]).__name__ == "NllLoss2DBackward0"


# ============================================================================ other losses
def test_loss_reduction_arguments_and_warnings():
    (ja, ta), (jb, tb) = both(np.ones((3, 4))), both(np.zeros(4))
    with pytest.warns(UserWarning, match="Using a target size"):
        out = F("mse_loss")(ja, jb)
    with pytest.warns(UserWarning):
        close(out, TF.mse_loss(ta, tb))
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        close(F("l1_loss")(ja, ja * 2, size_average=False), TF.l1_loss(ta, ta * 2, reduction="sum"))
    with pytest.raises(ValueError, match="foo is not a valid value for reduction"):
        F("mse_loss")(ja, ja, reduction="foo")
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        F("kl_div")(ja, ja)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_weighted_mse_and_l1_match_torch(name, reduction):
    rng = np.random.default_rng(9)
    (ja, ta), (jb, tb) = both(rng.normal(size=(3, 4))), both(rng.normal(size=(3, 4)))
    jw, tw = both(rng.uniform(0.5, 2, (3, 4)), grad=False)
    same_forward_and_grads(lambda a, b: F(name)(a, b, reduction=reduction, weight=jw),
                           lambda a, b: getattr(TF, name)(a, b, reduction=reduction, weight=tw), [ja, jb], [ta, tb])


def test_smooth_l1_with_zero_beta_is_l1():
    (ja, ta), (jb, tb) = both([[0.5, -2.0, 3.0]]), both([[1.0, 1.0, 1.0]])
    same_forward_and_grads(lambda a, b: F("smooth_l1_loss")(a, b, beta=0.0),
                           lambda a, b: TF.smooth_l1_loss(a, b, beta=0.0), [ja, jb], [ta, tb])


def test_bce_clamps_logs_and_bce_with_logits_is_stable():
    (jx, tx), (jt, tt) = both([0.0, 1.0, 0.3, 1e-30]), both([0.5, 0.2, 1.0, 0.0], grad=False)
    close(F("binary_cross_entropy")(jx, jt, reduction="none"), TF.binary_cross_entropy(tx, tt, reduction="none"))
    (jl, tl), (jp, tp) = both([-200.0, -30.0, 0.0, 40.0, 500.0]), both([0.0, 1.0, 0.5, 0.0, 1.0])
    jpw, tpw = both([2.0, 0.5, 1.0, 3.0, 1.5], grad=False)
    for kwargs in ({}, {"pos_weight": True}):
        kj = {"pos_weight": jpw} if kwargs else {}
        kt = {"pos_weight": tpw} if kwargs else {}
        same_forward_and_grads(lambda x, t: F("binary_cross_entropy_with_logits")(x, t, reduction="none", **kj),
                               lambda x, t: TF.binary_cross_entropy_with_logits(x, t, reduction="none", **kt),
                               [jl, jp], [tl, tp])
        jl.grad = tl.grad = jp.grad = tp.grad = None


def test_kl_div_with_zero_target_probabilities():
    (jx, tx), (jt, tt) = both(np.log([[0.2, 0.3, 0.5]])), both([[0.0, 0.4, 0.6]], grad=False)
    for red in ("batchmean", "sum", "none"):
        same_forward_and_grads(lambda x: F("kl_div")(x, jt, reduction=red), lambda x: TF.kl_div(x, tt, reduction=red),
                               [jx], [tx])


# ============================================================================ convolution
@pytest.mark.parametrize("case", [
    dict(x=(5, 4, 7, 6), w=(6, 2, 3, 2), groups=2, padding=1),
    dict(x=(5, 4, 7, 6), w=(6, 4, 3, 3), stride=2, padding=1),
    dict(x=(3, 2, 9, 9), w=(4, 1, 3, 3), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2),
    dict(x=(4, 3, 5, 5), w=(3, 3, 1, 1)),
    dict(x=(3, 2, 8, 8), w=(4, 2, 3, 3), stride=3),
    dict(x=(3, 2, 8, 8), w=(4, 2, 2, 2), padding="same", dilation=2),
])
def test_conv2d_in_many_blocks_matches_torch(case, monkeypatch):
    monkeypatch.setattr(conv_ops, "_BLOCK_ELEMENTS", 300)  # several samples per block, several blocks
    rng = np.random.default_rng(10)
    case = dict(case)
    (jx, tx), (jw, tw), (jb, tb) = both(rng.normal(size=case.pop("x"))), both(rng.normal(size=case.pop("w"))), \
        both(rng.normal(size=case["w"][0] if "w" in case else 0))
    jb, tb = both(rng.normal(size=jw.shape[0]))
    same_forward_and_grads(lambda x, w, b: F("conv2d")(x, w, b, **case), lambda x, w, b: TF.conv2d(x, w, b, **case),
                           [jx, jw, jb], [tx, tw, tb])


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_conv_same_padding_even_kernel_and_conv1d_variants():
    rng = np.random.default_rng(11)
    (jx, tx), (jw, tw) = both(rng.normal(size=(2, 3, 6, 5))), both(rng.normal(size=(2, 3, 2, 4)))
    same_forward_and_grads(lambda x, w: F("conv2d")(x, w, padding="same"), lambda x, w: TF.conv2d(x, w, padding="same"),
                           [jx, jw], [tx, tw])
    (jx, tx), (jw, tw) = both(rng.normal(size=(3, 4, 11))), both(rng.normal(size=(6, 2, 4)))
    for kwargs in (dict(stride=3, padding=2, dilation=2, groups=2), dict(padding="same", groups=2)):
        jx.grad = tx.grad = jw.grad = tw.grad = None
        same_forward_and_grads(lambda x, w: F("conv1d")(x, w, **kwargs), lambda x, w: TF.conv1d(x, w, **kwargs),
                               [jx, jw], [tx, tw])


def test_conv2d_float32_and_non_contiguous_input_and_graph():
    rng = np.random.default_rng(12)
    (jx, tx), (jw, tw), (jb, tb) = (both(rng.normal(size=s), "float32") for s in ((4, 6, 9, 3), (5, 3, 3, 3), (5,)))
    same_forward_and_grads(lambda x, w, b: F("conv2d")(x.permute(0, 3, 1, 2), w, b, padding=1),
                           lambda x, w, b: TF.conv2d(x.permute(0, 3, 1, 2), w, b, padding=1), [jx, jw, jb],
                           [tx, tw, tb], rtol=1e-4, atol=1e-5)
    j = F("conv2d")(jx[0].permute(2, 0, 1), jw)  # unbatched: unsqueeze, conv, squeeze -- as PyTorch
    t = TF.conv2d(tx[0].permute(2, 0, 1), tw)
    assert type(j.grad_fn).__name__ == type(t.grad_fn).__name__ == "SqueezeBackward1"
    assert type(j.grad_fn.next_functions[0][0]).__name__ == "ConvolutionBackward0"
    assert j.grad_fn.next_functions[0][0].next_functions[2] == (None, 0)


# ============================================================================ pooling
def test_max_pool2d_indices_ties_nan_and_unbatched():
    x = np.array([[[[1.0, 1.0, 0.0], [1.0, np.nan, 2.0], [3.0, 3.0, -1.0]]]])
    (jx, tx) = both(x)
    jo, ji = F("max_pool2d")(jx, 2, 1, return_indices=True)
    to, ti = TF.max_pool2d(tx, 2, 1, return_indices=True)
    close(jo, to, equal_nan=True)
    np.testing.assert_array_equal(ji.numpy(), ti.numpy())
    assert ji.dtype == jg.int64 and not ji.requires_grad
    jo.sum().backward()
    to.sum().backward()
    close(jx.grad, tx.grad)
    rng = np.random.default_rng(13)
    (jx, tx) = both(rng.normal(size=(3, 9, 8)), "float32")
    kwargs = dict(kernel_size=(3, 2), stride=(2, 3), padding=1, dilation=(1, 2), ceil_mode=True)
    same_forward_and_grads(lambda x: F("max_pool2d")(x, **kwargs), lambda x: TF.max_pool2d(x, **kwargs), [jx], [tx])


@pytest.mark.parametrize("kwargs", [dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
                                    dict(kernel_size=(2, 4), stride=(3, 1), padding=(1, 2), divisor_override=5)])
def test_avg_pool2d_windows_match_torch(kwargs):
    (jx, tx) = both(np.random.default_rng(14).normal(size=(2, 3, 10, 9)))
    same_forward_and_grads(lambda x: F("avg_pool2d")(x, **kwargs), lambda x: TF.avg_pool2d(x, **kwargs), [jx], [tx])


@pytest.mark.parametrize("size", [(4, 3), 5, (1, 1), (None, 1), (13, 7)])
def test_adaptive_avg_pool2d_matches_torch(size):
    (jx, tx) = both(np.random.default_rng(15).normal(size=(2, 3, 10, 7)))
    same_forward_and_grads(lambda x: F("adaptive_avg_pool2d")(x, size), lambda x: TF.adaptive_avg_pool2d(x, size),
                           [jx], [tx])


# ============================================================================ errors
def assert_same_error(torch_fn, jitgrad_fn):
    with pytest.raises(Exception) as expected:
        torch_fn()
    with pytest.raises(Exception) as got:
        jitgrad_fn()
    cls = next(c for c in type(expected.value).__mro__ if c.__module__ == "builtins")
    assert isinstance(got.value, cls), f"{got.value!r} is not a {cls.__name__} ({expected.value})"
    assert str(got.value).split("\n")[0] == str(expected.value).split("\n")[0]


X35 = np.random.default_rng(16).normal(size=(3, 5))
XC = np.random.default_rng(17).normal(size=(2, 2, 5, 5))
WC = np.random.default_rng(18).normal(size=(3, 2, 3, 3))
ERRORS = {
    "softmax-dim": lambda m, f: f("softmax")(m.ones(3, 5), 2),
    "ce-target-oob": lambda m, f: f("cross_entropy")(m.ones(3, 5), m.tensor([0, 1, 7])),
    "ce-target-neg": lambda m, f: f("cross_entropy")(m.ones(3, 5), m.tensor([0, -1, 2])),
    "nll-target-oob": lambda m, f: f("nll_loss")(m.ones(3, 5), m.tensor([5, 1, 2])),
    "ce-int32-target": lambda m, f: f("cross_entropy")(m.ones(3, 5), m.tensor([0, 1, 2], dtype=m.int32)),
    "ce-batch": lambda m, f: f("cross_entropy")(m.ones(3, 5), m.tensor([0, 1])),
    "ce-label-smoothing": lambda m, f: f("cross_entropy")(m.ones(3, 5), m.tensor([0, 1, 2]), label_smoothing=1.5),
    "ce-weight-size": lambda m, f: f("cross_entropy")(m.ones(3, 5), m.tensor([0, 1, 2]), weight=m.ones(4)),
    "ce-weight-grad": lambda m, f: f("nll_loss")(m.ones(3, 5), m.tensor([0, 1, 2]),
                                                weight=m.ones(5, requires_grad=True)),
    "ce-kdim-target": lambda m, f: f("cross_entropy")(m.ones(2, 5, 3), m.zeros(2, 4, dtype=m.int64)),
    "ce-prob-ignore": lambda m, f: f("cross_entropy")(m.ones(3, 5), m.ones(3, 5), ignore_index=1),
    "ce-weight-dtype": lambda m, f: f("cross_entropy")(m.ones(3, 5), m.tensor([0, 1, 2]),
                                                       weight=m.ones(5, dtype=m.float64)),
    "mse-broadcast": lambda m, f: f("mse_loss")(m.ones(3, 5), m.ones(4, 5)),
    "bce-range": lambda m, f: f("binary_cross_entropy")(m.ones(3, 5) * 2, m.ones(3, 5)),
    "bce-size": lambda m, f: f("binary_cross_entropy")(m.ones(3, 5), m.ones(5)),
    "bcel-size": lambda m, f: f("binary_cross_entropy_with_logits")(m.ones(3, 5), m.ones(5)),
    "bcel-pos-weight-grad": lambda m, f: f("binary_cross_entropy_with_logits")(
        m.ones(3, 5), m.ones(3, 5), pos_weight=m.ones(5, requires_grad=True)),
    "smooth-l1-beta": lambda m, f: f("smooth_l1_loss")(m.ones(3), m.ones(3), beta=-1.0),
    "ln-shape": lambda m, f: f("layer_norm")(m.ones(3, 5), (4,)),
    "ln-weight": lambda m, f: f("layer_norm")(m.ones(3, 5), (5,), weight=m.ones(4)),
    "ln-int-shape": lambda m, f: f("layer_norm")(m.ones(3, 5), 5),
    "bn-eval-stats": lambda m, f: f("batch_norm")(m.ones(3, 5), None, None),
    "bn-one-value": lambda m, f: f("batch_norm")(m.ones(1, 3), None, None, training=True),
    "bn-channels": lambda m, f: f("batch_norm")(m.ones(3, 5), m.zeros(4), m.ones(4), training=True),
    "conv-input-dim": lambda m, f: f("conv2d")(m.ones(5, 5), m.ones(3, 2, 3, 3)),
    "conv-channels": lambda m, f: f("conv2d")(m.ones(2, 3, 5, 5), m.ones(3, 2, 3, 3)),
    "conv-groups": lambda m, f: f("conv2d")(m.ones(2, 4, 5, 5), m.ones(3, 2, 3, 3), groups=2),
    "conv-bias": lambda m, f: f("conv2d")(m.ones(2, 2, 5, 5), m.ones(3, 2, 3, 3), m.ones(4)),
    "conv-kernel-size": lambda m, f: f("conv2d")(m.ones(2, 2, 2, 2), m.ones(3, 2, 3, 3)),
    "conv-dtype": lambda m, f: f("conv2d")(m.ones(2, 2, 5, 5, dtype=m.float64), m.ones(3, 2, 3, 3)),
    "conv-dtype-weight": lambda m, f: f("conv2d")(m.ones(2, 2, 5, 5), m.ones(3, 2, 3, 3, dtype=m.float64)),
    "conv-same-stride": lambda m, f: f("conv2d")(m.ones(2, 2, 5, 5), m.ones(3, 2, 3, 3), padding="same", stride=2),
    "conv-padding-string": lambda m, f: f("conv2d")(m.ones(2, 2, 5, 5), m.ones(3, 2, 3, 3), padding="foo"),
    "conv-negative-padding": lambda m, f: f("conv2d")(m.ones(2, 2, 5, 5), m.ones(3, 2, 3, 3), padding=-1),
    "conv-stride-0": lambda m, f: f("conv2d")(m.ones(2, 2, 5, 5), m.ones(3, 2, 3, 3), stride=0),
    "conv-stride-len": lambda m, f: f("conv2d")(m.ones(2, 2, 5, 5), m.ones(3, 2, 3, 3), stride=(1, 1, 1)),
    "pool-input-dim": lambda m, f: f("max_pool2d")(m.ones(5, 5), 2),
    "pool-padding": lambda m, f: f("max_pool2d")(m.ones(2, 2, 5, 5), 2, padding=2),
    "pool-too-small": lambda m, f: f("max_pool2d")(m.ones(2, 1, 1), 2),
    "pool-kernel-len": lambda m, f: f("max_pool2d")(m.ones(2, 2, 5, 5), (2, 2, 2)),
    "avg-divisor": lambda m, f: f("avg_pool2d")(m.ones(2, 2, 5, 5), 2, divisor_override=0),
    "adaptive-dim": lambda m, f: f("adaptive_avg_pool2d")(m.ones(5, 5), 2),
    "adaptive-size": lambda m, f: f("adaptive_avg_pool2d")(m.ones(2, 5, 5), (2, 2, 2)),
    "ce-numpy-target": lambda m, f: f("cross_entropy")(m.ones(3, 5), np.array([0, 1, 2])),
    "nll-list-target": lambda m, f: f("nll_loss")(m.ones(3, 5), [0, 1, 2]),
    "ce-numpy-weight": lambda m, f: f("cross_entropy")(m.ones(3, 5), m.tensor([0, 1, 2]), weight=np.ones(5)),
    "embedding-numpy-indices": lambda m, f: f("embedding")(np.array([1]), m.ones(3, 2)),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_errors_match_torch(case):
    fn = ERRORS[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_same_error(lambda: fn(torch, lambda n: getattr(TF, n)), lambda: fn(jg, F))


# ============================================================================ second derivatives
def _leaf(shape, seed, low=-1.0, high=1.0):
    return jg.from_numpy(np.random.default_rng(seed).uniform(low, high, shape)).requires_grad_()


GRADGRAD = {
    "softmax": (lambda x: F("softmax")(x, 1), [(3, 4)]),
    "log_softmax-dim0": (lambda x: F("log_softmax")(x, 0), [(3, 4, 2)]),
    "cross_entropy": (lambda x: F("cross_entropy")(x, jg.tensor([0, 2, 1])), [(3, 4)]),
    "cross_entropy-smoothing-weight": (lambda x: F("cross_entropy")(
        x, jg.tensor([[0, 2], [1, 3]]), weight=jg.tensor([1.0, 2.0, 0.5, 1.5], dtype=jg.float64),
        label_smoothing=0.2, ignore_index=3, reduction="none"), [(2, 4, 2)]),
    "nll_loss": (lambda x: F("nll_loss")(x, jg.tensor([0, 2, 1]), reduction="sum") * F("softmax")(x, 1).sum(),
                 [(3, 4)]),
    "mse_loss": (lambda a, b: F("mse_loss")(a, b), [(3, 4), (3, 4)]),
    "bce_with_logits": (lambda x, t: F("binary_cross_entropy_with_logits")(
        x, t, pos_weight=jg.tensor([0.5, 2.0, 1.0], dtype=jg.float64)), [(2, 3), (2, 3)]),
    "layer_norm": (lambda x, w, b: F("layer_norm")(x, (4,), w, b), [(3, 4), (4,), (4,)]),
    "batch_norm-train": (lambda x, w: F("batch_norm")(x, None, None, w, None, True), [(4, 3), (3,)]),
    "batch_norm-eval": (lambda x, w: F("batch_norm")(
        x, jg.tensor([0.1, -0.2, 0.3], dtype=jg.float64), jg.tensor([1.5, 0.5, 1.0], dtype=jg.float64), w),
        [(4, 3), (3,)]),
    "kl_div": (lambda x, t: F("kl_div")(x, t, reduction="sum"), [(2, 3), (2, 3)]),
    "smooth_l1_loss": (lambda a, b: F("smooth_l1_loss")(a, b, beta=0.7, reduction="sum"), [(2, 3), (2, 3)]),
    "binary_cross_entropy": (lambda x, t: F("binary_cross_entropy")(x, t, weight=jg.tensor([1.0, 2.0, 0.5],
                                                                                            dtype=jg.float64)),
                             [(2, 3), (2, 3)]),
    "conv2d": (lambda x, w, b: F("conv2d")(x, w, b, stride=(2, 1), padding=1, groups=2), [(2, 4, 5, 4), (4, 2, 3, 2),
                                                                                           (4,)]),
    "conv2d-same-dilated": (lambda x, w: F("conv2d")(x, w, padding="same", dilation=2), [(1, 2, 5, 5), (2, 2, 3, 3)]),
    "conv1d": (lambda x, w: F("conv1d")(x, w, stride=2, padding=1), [(2, 2, 7), (3, 2, 3)]),
    "max_pool2d": (lambda x: F("max_pool2d")(x, 2, 1) * x.sum(), [(1, 2, 4, 4)]),
    "avg_pool2d": (lambda x: F("avg_pool2d")(x, 3, 2, 1, count_include_pad=False) ** 2, [(1, 2, 5, 5)]),
    "adaptive_avg_pool2d": (lambda x: F("adaptive_avg_pool2d")(x, (2, 3)) ** 2, [(1, 2, 5, 5)]),
    "embedding": (lambda w: F("embedding")(jg.tensor([[0, 2], [2, 3]]), w) ** 2, [(4, 3)]),
}


@pytest.mark.parametrize("case", sorted(GRADGRAD))
def test_gradgradcheck(case):
    fn, shapes = GRADGRAD[case]
    positive = case == "binary_cross_entropy" or (case == "kl_div")
    inputs = [_leaf(s, i, 0.2, 0.8) if positive and (i or case == "binary_cross_entropy") else _leaf(s, i)
              for i, s in enumerate(shapes)]
    if case == "max_pool2d":  # distinct values: no ties (a tie is a kink)
        inputs = [jg.from_numpy(np.random.default_rng(0).permutation(32).reshape(1, 2, 4, 4) / 32.0).requires_grad_()]
    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


def test_conv_gradient_penalty_matches_torch():
    # a WGAN-GP style penalty: the norm of d(out)/d(input), differentiated again w.r.t. the weights
    rng = np.random.default_rng(19)
    (jx, tx), (jw, tw), (jb, tb) = both(rng.normal(size=(2, 3, 6, 6))), both(rng.normal(size=(4, 3, 3, 3))), \
        both(rng.normal(size=4))
    (jw2, tw2) = both(rng.normal(size=(5, 4, 2, 2)))
    grads = {}
    for m, f, x, w, b, w2 in ((jg, F, jx, jw, jb, jw2), (torch, lambda n: getattr(TF, n), tx, tw, tb, tw2)):
        h = f("max_pool2d")(f("conv2d")(x, w, b, padding=1).tanh(), 2)
        out = f("avg_pool2d")(f("conv2d")(h, w2, stride=1, padding=1), 2)
        (gx,) = m.autograd.grad(out.sum(), x, create_graph=True)
        ((gx * gx).sum() + out.pow(2).mean()).backward()
        grads[m] = (gx, w.grad, b.grad, w2.grad)
    for j, t in zip(grads[jg], grads[torch]):
        close(j, t, rtol=1e-9, atol=1e-11)


def test_embedding_double_backward_with_padding_and_frequency_scaling_matches_torch():
    # not a derivative any more (so no gradgradcheck), but the same second-order graph as PyTorch's
    (jw, tw), (ji, ti) = both(np.random.default_rng(20).normal(size=(5, 3))), ints([[0, 2, 4], [2, 2, 1]])
    results = []
    for m, f, w, i in ((jg, F("embedding"), jw, ji), (torch, TF.embedding, tw, ti)):
        out = f(i, w, padding_idx=4, scale_grad_by_freq=True)
        (g,) = m.autograd.grad((out ** 3).sum(), w, create_graph=True)
        (g * g).sum().backward()
        results.append((g, w.grad))
    for j, t in zip(*results):
        close(j, t)
