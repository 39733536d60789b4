"""The nn ops' layout -- one module per family under ``jitgrad/ops/`` -- and what their table rows
claim: the node classes an op declares (``OpInfo.node`` plus ``OpInfo.nodes``) are exactly those it
gives its outputs, each PyTorch's for the same call (the ``T`` fixture runs every case on torch too)."""
import importlib.util
import warnings

import numpy as np
import pytest

from jitgrad.ops.registry import OPS

FAMILIES = {
    "softmax": ("softmax", "log_softmax"),
    "losses": ("mse_loss", "l1_loss", "smooth_l1_loss", "nll_loss", "cross_entropy", "binary_cross_entropy",
               "binary_cross_entropy_with_logits", "kl_div"),
    "normalization": ("layer_norm", "batch_norm"),
    "embedding": ("embedding",),
    "dropout": ("dropout",),
}


def test_each_nn_op_is_declared_in_its_family_module():
    for module, names in FAMILIES.items():
        for name in names:
            assert OPS[name].function.__module__ == f"jitgrad.ops.{module}", name
    assert importlib.util.find_spec("jitgrad.ops.nn") is None  # split, not kept as a re-export


_rng = np.random.default_rng(7)
_A, _B, _W = (_rng.uniform(-2, 2, (3, 4)) for _ in range(3))
_LOGP = np.log(_rng.dirichlet(np.ones(5), 4))
_X3 = _rng.uniform(-2, 2, (2, 5, 3))
_X4 = _rng.uniform(-2, 2, (2, 3, 2, 2))
_PROBS = _rng.dirichlet(np.ones(5), 4)
_Q = _rng.dirichlet(np.ones(4), 3)


def _leaf(T, arr):
    return T.from_numpy(np.array(arr, dtype=np.float64)).requires_grad_()


def _const(T, arr):
    return T.from_numpy(np.array(arr))


def _pair(T):
    return _leaf(T, _A), _leaf(T, _B)


# (op, a call on module T, the grad_fn name it gives): every node an op declares, each reached once
GRAD_FN_CASES = [
    ("mse_loss", lambda T, F: F.mse_loss(*_pair(T)), "MseLossBackward0"),
    ("mse_loss", lambda T, F: F.mse_loss(*_pair(T), reduction="none", weight=_const(T, _W)), "MulBackward0"),
    ("mse_loss", lambda T, F: F.mse_loss(*_pair(T), reduction="sum", weight=_const(T, _W)), "SumBackward0"),
    ("mse_loss", lambda T, F: F.mse_loss(*_pair(T), weight=_const(T, _W)), "DivBackward0"),
    ("l1_loss", lambda T, F: F.l1_loss(*_pair(T)), "MeanBackward0"),
    ("l1_loss", lambda T, F: F.l1_loss(*_pair(T), reduction="none"), "AbsBackward0"),
    ("l1_loss", lambda T, F: F.l1_loss(*_pair(T), reduction="sum"), "SumBackward0"),
    ("l1_loss", lambda T, F: F.l1_loss(*_pair(T), reduction="none", weight=_const(T, _W)), "MulBackward0"),
    ("l1_loss", lambda T, F: F.l1_loss(*_pair(T), weight=_const(T, _W)), "DivBackward0"),
    ("smooth_l1_loss", lambda T, F: F.smooth_l1_loss(*_pair(T)), "SmoothL1LossBackward0"),
    ("smooth_l1_loss", lambda T, F: F.smooth_l1_loss(*_pair(T), beta=0.0), "MeanBackward0"),
    ("smooth_l1_loss", lambda T, F: F.smooth_l1_loss(*_pair(T), beta=0.0, reduction="none"), "AbsBackward0"),
    ("smooth_l1_loss", lambda T, F: F.smooth_l1_loss(*_pair(T), beta=0.0, reduction="sum"), "SumBackward0"),
    ("nll_loss", lambda T, F: F.nll_loss(_leaf(T, _LOGP), _const(T, [0, 3, 1, 3])), "NllLossBackward0"),
    ("nll_loss", lambda T, F: F.nll_loss(_leaf(T, _X3), _const(T, [[0, 4, 1], [2, 2, 3]])), "NllLoss2DBackward0"),
    ("nll_loss", lambda T, F: F.nll_loss(_leaf(T, _X3), _const(T, [[0, 4, 1], [2, 2, 3]]), reduction="none"),
     "ViewBackward0"),
    ("cross_entropy", lambda T, F: F.cross_entropy(_leaf(T, _LOGP), _const(T, [0, 3, 1, 3])), "NllLossBackward0"),
    ("cross_entropy", lambda T, F: F.cross_entropy(_leaf(T, _X4), _const(T, np.zeros((2, 2, 2), np.int64))),
     "NllLoss2DBackward0"),
    ("cross_entropy", lambda T, F: F.cross_entropy(_leaf(T, _X3), _const(T, [[0, 4, 1], [2, 2, 3]]),
                                                   reduction="none"), "ViewBackward0"),
    ("cross_entropy", lambda T, F: F.cross_entropy(_leaf(T, _LOGP), _const(T, [0, 3, 1, 3]), label_smoothing=0.1),
     "AddBackward0"),
    ("cross_entropy", lambda T, F: F.cross_entropy(_leaf(T, _LOGP), _const(T, _PROBS), reduction="sum"),
     "NegBackward0"),
    ("cross_entropy", lambda T, F: F.cross_entropy(_leaf(T, _LOGP), _const(T, _PROBS)), "DivBackward1"),
    ("kl_div", lambda T, F: F.kl_div(_leaf(T, np.log(_Q)), _const(T, _Q), reduction="sum"), "SumBackward0"),
    ("kl_div", lambda T, F: F.kl_div(_leaf(T, np.log(_Q)), _const(T, _Q), reduction="none"), "SubBackward0"),
    ("kl_div", lambda T, F: F.kl_div(_leaf(T, np.log(_Q)), _const(T, np.log(_Q)), reduction="none", log_target=True),
     "MulBackward0"),
    ("kl_div", lambda T, F: F.kl_div(_leaf(T, np.log(_Q)), _const(T, _Q)), "MeanBackward0"),
    ("kl_div", lambda T, F: F.kl_div(_leaf(T, np.log(_Q)), _const(T, _Q), reduction="batchmean"), "DivBackward0"),
    ("batch_norm", lambda T, F: F.batch_norm(_leaf(T, _A), None, None, training=True), "NativeBatchNormBackward0"),
    ("batch_norm", lambda T, F: F.batch_norm(_leaf(T, np.zeros((0, 3))), None, None, training=True),
     "CloneBackward0"),
    ("batch_norm", lambda T, F: F.batch_norm(_leaf(T, np.zeros((0, 3))), None, None, _leaf(T, np.ones(3)),
                                             training=True), "MulBackward0"),
    ("batch_norm", lambda T, F: F.batch_norm(_leaf(T, np.zeros((0, 3))), None, None, _leaf(T, np.ones(3)),
                                             _leaf(T, np.zeros(3)), training=True), "AddBackward0"),
]


@pytest.mark.parametrize("case", range(len(GRAD_FN_CASES)),
                         ids=[f"{op}-{name}" for op, _, name in GRAD_FN_CASES])
def test_grad_fn_name(case, T):
    op, call, expected = GRAD_FN_CASES[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kl_div's reduction='mean' notice
        out = call(T, T.nn.functional)
    assert out.grad_fn.name() == expected


@pytest.mark.parametrize("op", sorted({op for op, _, _ in GRAD_FN_CASES}))
def test_declared_nodes_are_exactly_the_ones_reached(op):
    info = OPS[op]
    reached = {name for case_op, _, name in GRAD_FN_CASES if case_op == op}
    assert len(set(info.nodes)) == len(info.nodes) and info.node not in info.nodes
    assert {info.node, *info.nodes} == reached


def test_bce_with_logits_target_gradient_is_exact_softplus(T):
    """The gradient for the target with ``pos_weight``, differentiated again: PyTorch's
    ``log_sigmoid(-x) - pos_weight * log_sigmoid(x)``, without F.softplus's linear cut-off at 20
    (visible at x = 25 in float64) and with the derivative 1/2 of softplus at 0."""
    x = np.array([-40.0, -1.0, 0.0, 1e-3, 25.0, 40.0])
    pw = np.linspace(0.5, 3.0, x.size)
    xt, t = _leaf(T, x), _leaf(T, np.linspace(0.0, 1.0, x.size))
    loss = T.nn.functional.binary_cross_entropy_with_logits(xt, t, pos_weight=_const(T, pw), reduction="sum")
    (gt,) = T.autograd.grad(loss, t, create_graph=True)
    (gx,) = T.autograd.grad(gt.sum(), xt)

    def softplus(v):  # log(1 + e**v), to float64's precision
        return np.logaddexp(0.0, v)

    def sigmoid(v):
        return 1.0 / (1.0 + np.exp(-v))

    np.testing.assert_allclose(gt.detach().numpy(), pw * softplus(-x) - softplus(x), rtol=1e-14)
    np.testing.assert_allclose(gx.numpy(), -(pw * sigmoid(-x) + sigmoid(x)), rtol=1e-14)
    assert gx.numpy()[2] == -(pw[2] + 1) / 2

