"""The activations celu selu mish hardswish hardsigmoid relu6 softmin logsigmoid (functional,
in-place and modules), ``nn.utils`` (gradient clipping, parameters <-> vector), the optimizers
Adamax / NAdam / RAdam and the schedulers LinearLR OneCycleLR ReduceLROnPlateau SequentialLR
CosineAnnealingWarmRestarts -- each against PyTorch running the same calls (trajectories of 20
optimizer steps in float64 within 1e-12, 30 scheduler steps exactly).  The op table's tests
(gradcheck, gradgradcheck, test_ops_vs_torch, float16) cover the activations' samples too."""
import warnings

import numpy as np
import pytest

import jitgrad as jg

ACTIVATIONS = ["celu", "selu", "mish", "hardswish", "hardsigmoid", "relu6", "logsigmoid"]
# the kinks (0, +-3, 6), both infinities, large magnitudes, values where exp under/overflows
SPECIAL = [-1000.0, -50.0, -20.0, -3.0, -2.9999, -1e-3, 0.0, -0.0, 1e-3, 2.9999, 3.0, 5.9, 6.0, 6.1, 20.0, 50.0,
           1000.0, float("inf"), -float("inf")] * 2  # (twice: long enough for vectorised paths in PyTorch)


def _pair(torch, values, dtype, requires_grad=True):
    a = np.array(values, dtype=dtype)
    return (jg.tensor(a, requires_grad=requires_grad), torch.tensor(a, requires_grad=requires_grad))


def _close(j, t, rtol, what=""):
    a, b = j.detach().numpy(), t.detach().numpy()
    np.testing.assert_allclose(a, b, rtol=rtol, atol=0, equal_nan=True, err_msg=what)
    finite = ~np.isnan(b)
    assert (np.signbit(a) == np.signbit(b))[finite].all(), f"{what}: signs of zeros differ"


# ============================================================================ activations
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_special_values_match_torch(name, dtype, torch):
    xj, xt = _pair(torch, SPECIAL, dtype)
    yj, yt = getattr(jg.nn.functional, name)(xj), getattr(torch.nn.functional, name)(xt)
    assert type(yj.grad_fn).__name__ == type(yt.grad_fn).__name__
    rtol = 1e-6 if dtype == "float32" else 1e-12
    _close(yj, yt, rtol, f"{name} forward")
    (gj,), (gt,) = jg.autograd.grad(yj.sum(), xj), torch.autograd.grad(yt.sum(), xt)
    _close(gj, gt, rtol, f"{name} gradient")


@pytest.mark.parametrize("name, kwargs, node", [
    ("celu", {"alpha": 0.7}, "CeluBackward1"), ("selu", {}, "EluBackward1"), ("mish", {}, "MishBackward0"),
    ("hardswish", {}, "HardswishBackward0"), ("hardsigmoid", {}, "HardsigmoidBackward0"),
    ("relu6", {}, "HardtanhBackward0")])
def test_inplace_activations_match_torch(name, kwargs, node, torch):
    values = np.random.default_rng(0).uniform(-4, 8, 16)
    results = []
    for lib in (jg, torch):
        leaf = lib.tensor(values, requires_grad=True)
        x = leaf * 1.0
        y = getattr(lib.nn.functional, name)(x, inplace=True, **kwargs)
        assert y is x and type(y.grad_fn).__name__ == node
        (y * lib.arange(16.0)).sum().backward()
        results.append((y.detach().numpy(), leaf.grad.numpy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_celu_selu_public_and_inplace_functions(torch):
    for lib in (jg, torch):
        x = lib.tensor([-1.5, 0.5], dtype=lib.float64)
        assert not hasattr(x, "celu") and not hasattr(x, "mish")  # functions only, as in PyTorch
        np.testing.assert_allclose(lib.celu(x, 2.0).numpy(), [2.0 * np.expm1(-0.75), 0.5])
        y = x.clone()
        assert lib.selu_(y) is y and lib.nn.functional.celu_(x.clone()).shape == (2,)
        np.testing.assert_allclose(y.numpy(), lib.selu(x).numpy())
        with pytest.raises(RuntimeError, match="ZeroDivisionError: alpha cannot be 0 for CELU"):
            lib.celu(x, alpha=0.0)
        with pytest.raises(NotImplementedError, match="\"elu_cpu\" not implemented for 'Long'"):
            lib.selu(lib.tensor([1, 2]))
        with pytest.raises(NotImplementedError, match="\"hardswish_cpu\" not implemented for 'Bool'"):
            lib.nn.functional.hardswish(lib.tensor([True]))
        assert lib.nn.functional.relu6(lib.tensor([-2, 3, 9])).tolist() == [0, 3, 6]  # integers stay integers
        # celu_ with a negative alpha: PyTorch refuses the backward of the result-saving node
        leaf = lib.tensor([-1.0, 2.0], requires_grad=True)
        z = lib.celu_(leaf * 1.0, alpha=-1.0)
        with pytest.raises(RuntimeError, match="In-place elu backward calculation is triggered with a negative"):
            z.sum().backward()


def test_softmin_matches_torch(torch):
    x = np.random.default_rng(1).standard_normal((3, 4))
    for dim, dtype in [(1, None), (0, None), (-1, "float64")]:
        xj, xt = _pair(torch, x, "float32")
        yj = jg.nn.functional.softmin(xj, dim, dtype=None if dtype is None else jg.float64)
        yt = torch.nn.functional.softmin(xt, dim, dtype=None if dtype is None else torch.float64)
        assert yj.dtype.__repr__() == repr(yt.dtype) and type(yj.grad_fn).__name__ == "SoftmaxBackward0"
        _close(yj, yt, 1e-6)
    for lib in (jg, torch):
        with pytest.warns(UserWarning, match="Implicit dimension choice for softmin has been deprecated"):
            out = lib.nn.Softmin()(lib.tensor(x))
        np.testing.assert_allclose(out.numpy().sum(1), 1.0)


@pytest.mark.parametrize("make", [
    lambda nn: nn.CELU(), lambda nn: nn.CELU(0.5, inplace=True), lambda nn: nn.SELU(), lambda nn: nn.SELU(True),
    lambda nn: nn.Mish(inplace=True), lambda nn: nn.Hardswish(True), lambda nn: nn.Hardsigmoid(),
    lambda nn: nn.ReLU6(), lambda nn: nn.ReLU6(inplace=True), lambda nn: nn.Softmin(dim=1), lambda nn: nn.LogSigmoid(),
    lambda nn: nn.ELU(alpha=0.3), lambda nn: nn.Hardtanh(-2.0, 2.5, True)])
def test_activation_modules_match_torch(make, torch):
    mj, mt = make(jg.nn), make(torch.nn)
    assert repr(mj) == repr(mt)
    assert isinstance(mj, jg.nn.Hardtanh) == isinstance(mt, torch.nn.Hardtanh)
    x = np.random.default_rng(2).uniform(-5, 8, (2, 5))
    np.testing.assert_allclose(mj(jg.tensor(x)).numpy(), mt(torch.tensor(x)).numpy(), rtol=1e-12, atol=1e-15)


# ============================================================================ nn.utils
def _params_with_grads(lib, dtype="float64", scale=1.0):
    rng = np.random.default_rng(3)
    params = [lib.tensor(rng.standard_normal(s), dtype=getattr(lib, dtype), requires_grad=True)
              for s in [(3, 4), (4,), (2, 2, 2)]]
    for p in params[:2]:  # the last one has no gradient
        p.grad = lib.tensor(rng.standard_normal(tuple(p.shape)) * scale, dtype=getattr(lib, dtype))
    return params


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, float("inf"), "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, dtype, torch):
    pj, pt = _params_with_grads(jg, dtype), _params_with_grads(torch, dtype)
    nj = jg.nn.utils.clip_grad_norm_(pj, max_norm, norm_type=norm_type, foreach=True)
    nt = torch.nn.utils.clip_grad_norm_(pt, max_norm, norm_type=norm_type)
    rtol = 1e-6 if dtype == "float32" else 1e-14
    assert isinstance(nj, jg.Tensor) and nj.shape == () and repr(nj.dtype) == repr(nt.dtype)
    np.testing.assert_allclose(float(nj), float(nt), rtol=rtol)
    for a, b in zip(pj[:2], pt[:2]):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol)
    assert pj[2].grad is None


def test_clip_grad_norm_edge_cases(T):
    params = _params_with_grads(T)
    params[0].grad[0, 0] = float("nan")
    with pytest.raises(RuntimeError, match=r"The total norm of order 2\.0 for gradients from `parameters` is "
                                           "non-finite, so it cannot be clipped"):
        T.nn.utils.clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    assert np.isnan(float(T.nn.utils.clip_grad_norm_(params[0], 1.0)))  # a single tensor; NaN scales all
    empty = T.nn.utils.clip_grad_norm_([], 1.0)
    assert float(empty) == 0.0 and repr(empty.dtype).endswith("float32")
    with pytest.warns(UserWarning, match="`parameters` is an empty generator"):
        T.nn.utils.clip_grad_norm_((p for p in []), 1.0)
    with pytest.warns(FutureWarning, match="clip_grad_norm` is now deprecated"):
        T.nn.utils.clip_grad_norm(_params_with_grads(T), 1.0)
    total = T.nn.utils.get_total_norm([p.grad for p in _params_with_grads(T)[:2]])
    assert abs(float(total) - 4.5163702081414) < 1e-12


def test_clip_grad_value_and_vector_conversion(T):
    params = _params_with_grads(T, scale=2.0)
    before = [p.grad.clone() for p in params[:2]]
    assert T.nn.utils.clip_grad_value_(params, 0.3) is None
    for p, b in zip(params[:2], before):
        np.testing.assert_array_equal(p.grad.numpy(), np.clip(b.numpy(), -0.3, 0.3))
    vec = T.nn.utils.parameters_to_vector(params)
    assert vec.shape == (24,) and type(vec.grad_fn).__name__ == "CatBackward0"
    np.testing.assert_array_equal(vec.detach().numpy()[12:16], params[1].detach().numpy())
    T.nn.utils.vector_to_parameters(T.arange(24.0, dtype=T.float64), params)
    assert params[2].tolist() == [[[16.0, 17.0], [18.0, 19.0]], [[20.0, 21.0], [22.0, 23.0]]]
    assert params[2].requires_grad and params[2].is_leaf
    with pytest.raises(TypeError, match="expected torch.Tensor, but got: list"):
        T.nn.utils.vector_to_parameters([1.0, 2.0], params)


# ============================================================================ optimizers
OPTIMIZER_CASES = [
    ("Adamax", {}), ("Adamax", {"weight_decay": 0.1}), ("Adamax", {"maximize": True, "betas": (0.8, 0.9)}),
    ("NAdam", {}), ("NAdam", {"weight_decay": 0.1}), ("NAdam", {"weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("NAdam", {"maximize": True, "momentum_decay": 0.01, "eps": 1e-3}),
    ("RAdam", {}), ("RAdam", {"weight_decay": 0.1}), ("RAdam", {"weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("RAdam", {"betas": (0.9, 0.9), "maximize": True}),  # (beta2 0.9: rectified from step 6 on)
]


def _trajectory(lib, name, kwargs, dtype="float64", steps=20, resume_at=None):
    """Parameters after each step of a least-squares fit with two param groups; ``resume_at``:
    rebuild the optimizer from its state_dict at that step (state and groups must carry over)."""
    rng = np.random.default_rng(0)
    w0, b0, x, y = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal((5, 3)), \
        rng.standard_normal((5, 4))
    dt = getattr(lib, dtype)
    w, b = lib.tensor(w0, dtype=dt, requires_grad=True), lib.tensor(b0, dtype=dt, requires_grad=True)
    make = lambda: getattr(lib.optim, name)([{"params": [w]}, {"params": [b], "lr": 0.05}], lr=0.01,  # noqa: E731
                                            **kwargs)
    opt = make()
    xt, yt = lib.tensor(x, dtype=dt), lib.tensor(y, dtype=dt)
    out = []
    for i in range(steps):
        if i == resume_at:
            state = opt.state_dict()
            opt = make()
            opt.load_state_dict(state)
        opt.zero_grad()
        ((xt @ w + b - yt) ** 2).mean().backward()
        opt.step()
        out.append(np.concatenate([w.detach().numpy().ravel(), b.detach().numpy().ravel()]))
    return np.array(out), opt


@pytest.mark.parametrize("name, kwargs", OPTIMIZER_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(OPTIMIZER_CASES)])
def test_optimizer_trajectory_matches_torch(name, kwargs, torch):
    pj, oj = _trajectory(jg, name, kwargs)
    pt, ot = _trajectory(torch, name, kwargs)
    np.testing.assert_allclose(pj, pt, rtol=0, atol=1e-12)
    assert repr(oj) == repr(ot)
    sj, st = oj.state_dict(), ot.state_dict()
    assert sj["param_groups"] == st["param_groups"]
    for k in st["state"]:
        assert list(sj["state"][k]) == list(st["state"][k])  # the same keys, in the same order
        for key, value in st["state"][k].items():
            assert repr(sj["state"][k][key].dtype) == repr(value.dtype)
            np.testing.assert_allclose(sj["state"][k][key].numpy(), value.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["Adamax", "NAdam", "RAdam"])
def test_optimizer_float32_and_state_dict_resume(name, torch):
    pj, _ = _trajectory(jg, name, {"weight_decay": 0.01}, dtype="float32")
    pt, _ = _trajectory(torch, name, {"weight_decay": 0.01}, dtype="float32")
    np.testing.assert_allclose(pj, pt, rtol=0, atol=1e-6)
    # (a loaded state takes the parameter's dtype: NAdam's float32 mu_product becomes float64, in both)
    resumed, _ = _trajectory(jg, name, {}, resume_at=7)
    np.testing.assert_allclose(resumed, _trajectory(torch, name, {}, resume_at=7)[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(resumed, _trajectory(jg, name, {})[0], rtol=0, atol=1e-9)


@pytest.mark.parametrize("name, kwargs, message", [
    ("Adamax", {"lr": -1.0}, "Invalid learning rate: -1.0"), ("Adamax", {"eps": -1.0}, "Invalid epsilon value: -1.0"),
    ("NAdam", {"betas": (1.0, 0.9)}, "Invalid beta parameter at index 0: 1.0"),
    ("NAdam", {"momentum_decay": -0.1}, "Invalid momentum_decay value: -0.1"),
    ("RAdam", {"betas": (0.9, -0.5)}, "Invalid beta parameter at index 1: -0.5"),
    ("RAdam", {"weight_decay": -2}, "Invalid weight_decay value: -2")])
def test_optimizer_argument_errors(name, kwargs, message, T):
    with pytest.raises(ValueError, match=f"^{message}$".replace("(", r"\(").replace(")", r"\)")):
        getattr(T.optim, name)([T.zeros(2, requires_grad=True)], **kwargs)


def test_optimizer_defaults(T):
    p = [T.zeros(2, requires_grad=True)]
    assert T.optim.Adamax(p).defaults == {"lr": 2e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0,
                                          "foreach": None, "maximize": False, "differentiable": False,
                                          "capturable": False}
    assert list(T.optim.NAdam(p).defaults) == ["lr", "betas", "eps", "weight_decay", "momentum_decay",
                                               "decoupled_weight_decay", "maximize", "foreach", "capturable",
                                               "differentiable"]
    assert T.optim.RAdam(p).defaults["lr"] == 1e-3 and T.optim.NAdam(p).defaults["momentum_decay"] == 4e-3


# ============================================================================ schedulers
SCHEDULERS = {
    "LinearLR": lambda m, o: m.optim.lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=8),
    "LinearLR-down": lambda m, o: m.optim.lr_scheduler.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=12),
    "CosineAnnealingWarmRestarts": lambda m, o: m.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=4, T_mult=2,
                                                                                                 eta_min=0.001),
    "CosineAnnealingWarmRestarts-1": lambda m, o: m.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=7),
    "OneCycleLR": lambda m, o: m.optim.lr_scheduler.OneCycleLR(o, max_lr=[1.0, 2.0], total_steps=30),
    "OneCycleLR-three-phase-linear": lambda m, o: m.optim.lr_scheduler.OneCycleLR(
        o, max_lr=1.0, epochs=3, steps_per_epoch=11, three_phase=True, anneal_strategy="linear"),
    "SequentialLR": lambda m, o: m.optim.lr_scheduler.SequentialLR(o, [
        m.optim.lr_scheduler.LinearLR(o, 0.1, total_iters=5), m.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10),
        m.optim.lr_scheduler.ExponentialLR(o, 0.9)], milestones=[5, 15]),
}
PLATEAU_METRICS = [1.0, 0.9, 0.95, 0.96, 0.97, 0.97, 0.8, 0.81, 0.82, 0.83, 0.84, 0.85, 0.86, 0.7] + [0.7] * 16


def _schedule(lib, make, metrics=None, optimizer="SGD", steps=30):
    w, b = lib.zeros(2, requires_grad=True), lib.zeros(1, requires_grad=True)
    kwargs = {"momentum": 0.9} if optimizer == "SGD" else {}
    opt = getattr(lib.optim, optimizer)([{"params": [w]}, {"params": [b], "lr": 0.5}], lr=0.1, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = make(lib, opt)
        lrs, momenta = [], []
        for i in range(steps):
            opt.step()
            sched.step() if metrics is None else sched.step(metrics[i])
            lrs.append([g["lr"] for g in opt.param_groups])
            momenta.append([g.get("momentum", g.get("betas")) for g in opt.param_groups])
            assert sched.get_last_lr() == lrs[-1]
    return lrs, momenta, sched


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_scheduler_matches_torch(name, torch):
    lj, mj, sj = _schedule(jg, SCHEDULERS[name])
    lt, mt, st = _schedule(torch, SCHEDULERS[name])
    assert lj == lt and mj == mt  # exactly: the same recursions in double
    assert sorted(sj.state_dict()) == sorted(st.state_dict())


def test_one_cycle_cycles_adam_beta1(torch):
    make = SCHEDULERS["OneCycleLR"]
    lj, mj, _ = _schedule(jg, make, optimizer="Adamax")
    lt, mt, _ = _schedule(torch, make, optimizer="Adamax")
    assert lj == lt and mj == mt


@pytest.mark.parametrize("kwargs", [{"patience": 2}, {"mode": "max", "factor": 0.5, "patience": 1, "cooldown": 2,
                                                      "threshold_mode": "abs", "threshold": 0.01,
                                                      "min_lr": [0.01, 0.2]}])
def test_reduce_lr_on_plateau_matches_torch(kwargs, torch):
    make = lambda m, o: m.optim.lr_scheduler.ReduceLROnPlateau(o, **kwargs)  # noqa: E731
    lj, _, sj = _schedule(jg, make, PLATEAU_METRICS)
    lt, _, st = _schedule(torch, make, PLATEAU_METRICS)
    assert lj == lt and len(set(map(tuple, lj))) > 1  # (and it did reduce)
    assert sorted(sj.state_dict()) == sorted(st.state_dict())


@pytest.mark.parametrize("name", ["SequentialLR", "CosineAnnealingWarmRestarts", "OneCycleLR"])
def test_scheduler_state_dict_resume(name, T):
    # a checkpoint at step 12 (optimizer and scheduler state), loaded into fresh objects: the
    # schedule goes on as if uninterrupted
    full, _, _ = _schedule(T, SCHEDULERS[name], steps=30)
    _, _, sched = _schedule(T, SCHEDULERS[name], steps=12)
    state, opt_state = sched.state_dict(), sched.optimizer.state_dict()
    assert "optimizer" not in state
    w, b = T.zeros(2, requires_grad=True), T.zeros(1, requires_grad=True)
    opt = T.optim.SGD([{"params": [w]}, {"params": [b], "lr": 0.5}], lr=0.1, momentum=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fresh = SCHEDULERS[name](T, opt)
        opt.load_state_dict(opt_state)
        fresh.load_state_dict(state)
        for lr in full[12:]:
            opt.step()
            fresh.step()
            assert [g["lr"] for g in opt.param_groups] == lr


def test_scheduler_argument_errors(T):
    opt = T.optim.SGD([T.zeros(1, requires_grad=True)], lr=0.1)
    sched = T.optim.lr_scheduler
    for make, error, message in [
        (lambda: sched.LinearLR(opt, start_factor=0), ValueError, "Starting multiplicative factor expected"),
        (lambda: sched.ReduceLROnPlateau(opt, factor=1.0), ValueError, r"Factor should be < 1\.0\."),
        (lambda: sched.ReduceLROnPlateau(opt, mode="up"), ValueError, "mode up is unknown!"),
        (lambda: sched.CosineAnnealingWarmRestarts(opt, T_0=0), ValueError, "Expected positive integer T_0, but got 0"),
        (lambda: sched.OneCycleLR(opt, max_lr=1.0), ValueError, r"You must define either total_steps OR"),
        (lambda: sched.OneCycleLR(T.optim.Adagrad([T.zeros(1, requires_grad=True)]), 1.0, total_steps=5),
         ValueError, "optimizer must support momentum or beta1 with `cycle_momentum` option enabled"),
        (lambda: sched.SequentialLR(opt, [sched.LinearLR(opt)], milestones=[3]), ValueError,
         "Sequential Schedulers expects number of schedulers provided to be one more"),
        (lambda: sched.SequentialLR(opt, [sched.ReduceLROnPlateau(opt)], milestones=[]), ValueError,
         "SequentialLR does not support `ReduceLROnPlateau`"),
    ]:
        with pytest.raises(error, match=message):
            make()
    one_cycle = sched.OneCycleLR(T.optim.SGD([T.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9), 1.0,
                                 total_steps=2)
    one_cycle.optimizer.step()
    one_cycle.step()
    one_cycle.step()
    with pytest.raises(ValueError, match="Tried to step 3 times. The specified number of total steps is 2"):
        one_cycle.step()
