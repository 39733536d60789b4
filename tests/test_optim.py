"""jitgrad.optim: every optimizer and option against PyTorch (identical trajectories from the same
start on the same data), PyTorch's state-dict layout, parameter groups, and the LR schedulers."""
import copy
import warnings

import numpy as np
import pytest

import jitgrad
import jitgrad.nn as nn
from jitgrad import optim


CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.5, "dampening": 0.3, "maximize": True}),
    ("SGD", {"lr": 0.05, "weight_decay": 0.2, "maximize": True}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.02, "betas": (0.3, 0.5), "eps": 1e-6, "maximize": True}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.5, "maximize": True}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.9, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.3, "centered": True, "eps": 1e-4, "maximize": True}),
    ("RMSprop", {"lr": 0.005, "momentum": 0.5}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.1,
                 "maximize": True}),
    ("Adagrad", {"lr": 0.1, "eps": 1e-3}),
]


def _trajectory(lib, cls, kwargs, dtype, steps=25, split_at=None):
    """Fit a tiny linear model for ``steps`` steps; returns the parameters after each step.

    With ``split_at``, the optimizer is rebuilt from its state dict halfway (exercising
    ``state_dict``/``load_state_dict``)."""
    rng = np.random.default_rng(0)
    w0, b0 = rng.standard_normal((5, 3)), rng.standard_normal(3)
    X, Y = rng.standard_normal((steps, 4, 5)), rng.standard_normal((steps, 4, 3))
    dt = getattr(lib, dtype)
    w = lib.tensor(w0, dtype=dt, requires_grad=True)
    b = lib.tensor(b0, dtype=dt, requires_grad=True)
    opt = getattr(lib.optim, cls)([w, b], **kwargs)
    out = []
    for s in range(steps):
        if s == split_at:
            state = copy.deepcopy(opt.state_dict())
            opt = getattr(lib.optim, cls)([w, b], **kwargs)
            opt.load_state_dict(state)
        opt.zero_grad()
        loss = (((lib.tensor(X[s], dtype=dt) @ w + b) - lib.tensor(Y[s], dtype=dt)) ** 2).mean()
        loss.backward()
        opt.step()
        out.append(np.concatenate([w.detach().numpy().ravel(), b.detach().numpy().ravel()]))
    return np.array(out), opt


@pytest.mark.parametrize("cls,kwargs", CASES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(CASES)])
def test_trajectory_matches_torch(torch, cls, kwargs):
    for dtype, rtol, atol in (("float64", 1e-6, 1e-12), ("float32", 1e-5, 2e-6)):
        mine, jopt = _trajectory(jitgrad, cls, kwargs, dtype)
        ref, topt = _trajectory(torch, cls, kwargs, dtype)
        np.testing.assert_allclose(mine, ref, rtol=rtol, atol=atol, err_msg=f"{cls} {kwargs} {dtype}")
        # the state has PyTorch's layout and values
        jsd, tsd = jopt.state_dict(), topt.state_dict()
        assert jsd["param_groups"] == tsd["param_groups"]
        assert list(jsd["state"]) == list(tsd["state"])
        for i in tsd["state"]:
            assert list(jsd["state"][i]) == list(tsd["state"][i])
            for key, tv in tsd["state"][i].items():
                jv = jsd["state"][i][key]
                assert jv.dtype.name == str(tv.dtype).replace("torch.", "") and tuple(jv.shape) == tuple(tv.shape)
                np.testing.assert_allclose(jv.numpy(), tv.numpy(), rtol=rtol * 10, atol=atol * 10, err_msg=key)
        assert repr(jopt) == repr(topt)


@pytest.mark.parametrize("cls,kwargs", [CASES[1], CASES[6], CASES[12], CASES[16]])
def test_resuming_from_a_state_dict_continues_the_same_trajectory(cls, kwargs):
    straight, _ = _trajectory(jitgrad, cls, kwargs, "float64", steps=20)
    resumed, _ = _trajectory(jitgrad, cls, kwargs, "float64", steps=20, split_at=10)
    np.testing.assert_array_equal(straight, resumed)


def test_loading_torch_optimizer_state_continues_torch_trajectory(torch):
    """A torch optimizer's state dict (tensors converted) drives a jitgrad optimizer identically."""
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal(6)
    X = rng.standard_normal((10, 6))

    def step(lib, w, opt, x):
        opt.zero_grad()
        (lib.tensor(x) * w).sin().sum().backward()
        opt.step()

    tw = torch.tensor(w0, requires_grad=True)
    topt = torch.optim.Adam([tw], lr=0.05, amsgrad=True)
    for s in range(5):
        step(torch, tw, topt, X[s])
    jw = jitgrad.tensor(tw.detach().numpy().copy(), requires_grad=True)
    jopt = optim.Adam([jw], lr=0.5)
    sd = topt.state_dict()
    sd = {"state": {k: {n: jitgrad.tensor(v.numpy().copy()) for n, v in st.items()} for k, st in sd["state"].items()},
          "param_groups": sd["param_groups"]}
    jopt.load_state_dict(sd)
    assert jopt.param_groups[0]["lr"] == 0.05 and jopt.param_groups[0]["amsgrad"] is True
    assert jopt.param_groups[0]["params"][0] is jw
    for s in range(5, 10):
        step(torch, tw, topt, X[s])
        step(jitgrad, jw, jopt, X[s])
    np.testing.assert_allclose(jw.detach().numpy(), tw.detach().numpy(), rtol=1e-12)


def test_param_groups_and_add_param_group(torch):
    a, b, c = (nn.Parameter(jitgrad.ones(2)) for _ in range(3))
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[1]["params"] == [b] and opt.param_groups[0]["momentum"] == 0
    opt.add_param_group({"params": [c], "lr": 0.01})
    assert len(opt.param_groups) == 3
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        opt.add_param_group({"params": [a]})
    for p in (a, b, c):
        p.grad = jitgrad.ones(2)
    opt.step()
    np.testing.assert_allclose(a.detach().numpy(), [0.9, 0.9])
    np.testing.assert_allclose(b.detach().numpy(), [0.5, 0.5])
    np.testing.assert_allclose(c.detach().numpy(), [0.99, 0.99])
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1], [2]]
    assert list(sd["state"]) == [1]  # only the momentum group keeps state
    # named parameters are accepted and recorded, as in PyTorch
    lin = nn.Linear(2, 1)
    named = optim.SGD(lin.named_parameters(), lr=0.1)
    assert named.state_dict()["param_groups"][0]["param_names"] == ["weight", "bias"]
    tlin = torch.nn.Linear(2, 1)
    assert named.state_dict()["param_groups"] == torch.optim.SGD(tlin.named_parameters(),
                                                                 lr=0.1).state_dict()["param_groups"]


@pytest.mark.parametrize("build,message,exc", [
    (lambda p: optim.SGD([], lr=0.1), "optimizer got an empty parameter list", ValueError),
    (lambda p: optim.SGD(p, lr=0.1), "params argument given to the optimizer should be an iterable of Tensors or "
                                     "dicts, but got torch.FloatTensor", TypeError),
    (lambda p: optim.SGD([p], lr=-1), "Invalid learning rate: -1", ValueError),
    (lambda p: optim.SGD([p], lr=0.1, momentum=-0.5), "Invalid momentum value: -0.5", ValueError),
    (lambda p: optim.SGD([p], lr=0.1, nesterov=True), "Nesterov momentum requires a momentum and zero dampening",
     ValueError),
    (lambda p: optim.Adam([p], betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0", ValueError),
    (lambda p: optim.Adam([p], eps=-1.0), "Invalid epsilon value: -1.0", ValueError),
    (lambda p: optim.RMSprop([p], alpha=-0.1), "Invalid alpha value: -0.1", ValueError),
    (lambda p: optim.Adagrad([p], lr_decay=-1), "Invalid lr_decay value: -1", ValueError),
    (lambda p: optim.SGD([p * 2], lr=0.1), "can't optimize a non-leaf Tensor", ValueError),
    (lambda p: optim.SGD([p, 3], lr=0.1), "optimizer can only optimize Tensors, but one of the params is int",
     TypeError),
    (lambda p: optim.SGD([{"params": {p}}], lr=0.1),
     "optimizer parameters need to be organized in ordered collections", TypeError),
])
def test_constructor_errors_match_torch(torch, build, message, exc):
    p = nn.Parameter(jitgrad.ones(2))
    with pytest.raises(exc) as err:
        build(p)
    assert message in str(err.value)
    tp = torch.nn.Parameter(torch.ones(2))
    with pytest.raises(exc) as terr:
        _torch_twin(build, torch)(tp)
    assert str(err.value) == str(terr.value)


def _torch_twin(build, torch):
    """Run ``build`` with ``optim`` rebound to torch.optim."""
    import types

    return types.FunctionType(build.__code__, {**build.__globals__, "optim": torch.optim}, None, build.__defaults__)


def test_zero_grad_step_versions_and_closure():
    w = nn.Parameter(jitgrad.tensor([1.0, -2.0]))
    opt = optim.SGD([w], lr=0.5)
    opt.step()  # no grad yet: nothing happens
    assert w.tolist() == [1.0, -2.0] and w._version == 0

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == 5.0 and w.tolist() == [0.0, 0.0] and w._version == 1
    assert w.requires_grad and w.grad_fn is None  # still a leaf
    opt.zero_grad(set_to_none=False)
    assert w.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert w.grad is None
    # a parameter updated after being saved for backward is caught, as in PyTorch
    w.grad = jitgrad.ones(2)
    y = (w * w).sum()
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_step_hooks_and_scheduler_order_warning():
    w = nn.Parameter(jitgrad.ones(1))
    opt = optim.SGD([w], lr=1.0)
    calls = []
    h1 = opt.register_step_pre_hook(lambda o, args, kwargs: calls.append("pre"))
    opt.register_step_post_hook(lambda o, args, kwargs: calls.append("post"))
    w.grad = jitgrad.ones(1)
    opt.step()
    assert calls == ["pre", "post"]
    h1.remove()
    opt.step()
    assert calls == ["pre", "post", "post"]
    opt2 = optim.SGD([nn.Parameter(jitgrad.ones(1))], lr=1.0)
    sched = optim.lr_scheduler.StepLR(opt2, 1)
    with pytest.warns(UserWarning, match="Detected call of `lr_scheduler.step\\(\\)` before `optimizer.step\\(\\)`"):
        sched.step()


def test_float16_and_non_contiguous_parameters(torch):
    w16 = jitgrad.tensor([1.0, 2.0, 3.0], dtype=jitgrad.float16, requires_grad=True)
    t16 = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float16, requires_grad=True)
    for p, lib in ((w16, optim), (t16, torch.optim)):
        o = lib.Adam([p], lr=0.1)
        p.grad = (p.detach() * 0 + 1)
        o.step()
    assert w16.dtype == jitgrad.float16
    np.testing.assert_allclose(w16.detach().numpy().astype(float), t16.detach().numpy().astype(float), rtol=1e-3)
    base = jitgrad.arange(12, dtype=jitgrad.float64).reshape(3, 4)
    w = base.t().detach().requires_grad_()  # a transposed (non-contiguous) leaf
    o = optim.SGD([w], lr=0.5, momentum=0.9)
    w.grad = jitgrad.ones(4, 3, dtype=jitgrad.float64)
    o.step()
    np.testing.assert_allclose(w.detach().numpy(), np.arange(12.0).reshape(3, 4).T - 0.5)


# ============================================================================ schedulers
SCHEDULERS = [
    ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [2, 5, 5, 9], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 7, "eta_min": 0.001}),
    ("CosineAnnealingLR", {"T_max": 10}),
    ("LambdaLR", {"lr_lambda": lambda epoch: 0.95 ** epoch + 0.01 * epoch}),
]


@pytest.mark.parametrize("name,kwargs", SCHEDULERS, ids=[s[0] + str(i) for i, s in enumerate(SCHEDULERS)])
def test_schedulers_match_torch(torch, name, kwargs):
    def run(lib):
        p = lib.zeros(1, requires_grad=True)
        opt = lib.optim.SGD([{"params": [p]}, {"params": [lib.zeros(1, requires_grad=True)], "lr": 0.5}], lr=0.1)
        sched = getattr(lib.optim.lr_scheduler, name)(opt, **kwargs)
        lrs = [sched.get_last_lr()]
        for _ in range(25):
            opt.step()
            sched.step()
            lrs.append(sched.get_last_lr())
        return lrs, [g["lr"] for g in opt.param_groups], sched

    (jl, jg, js), (tl, tg, ts) = run(jitgrad), run(torch)
    assert jl == tl and jg == tg  # exactly: the same recursions in double precision
    jsd, tsd = js.state_dict(), ts.state_dict()
    assert set(jsd) == set(tsd)
    for key in tsd:
        if key not in ("lr_lambdas",):
            assert jsd[key] == tsd[key], key


def test_scheduler_state_dict_round_trip_and_epoch_argument():
    p = jitgrad.zeros(1, requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
    for _ in range(3):
        opt.step()
        sched.step()
    state = sched.state_dict()
    opt2 = optim.SGD([p], lr=1.0)
    opt2.load_state_dict(opt.state_dict())
    sched2 = optim.lr_scheduler.StepLR(opt2, step_size=2, gamma=0.1)
    sched2.load_state_dict(state)
    assert sched2.last_epoch == 3 and sched2.get_last_lr() == sched.get_last_lr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sched.step(6)
    assert any("epoch parameter" in str(w.message) for w in caught)
    assert abs(opt.param_groups[0]["lr"] - 0.001) < 1e-15
    with pytest.raises(TypeError, match="int is not an Optimizer"):
        optim.lr_scheduler.StepLR(3, 1)
