"""jitgrad.nn: Parameter, Module (registration, traversal, state dicts, hooks, repr), the layers
and nn.init -- checked against PyTorch where a twin exists (same seeds, same values, same texts)."""
import copy
import math
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import jitgrad
import jitgrad.nn as nn
import jitgrad.nn.functional as F
from jitgrad.ops.registry import OPS


def _j(t, requires_grad=False):
    """A torch tensor's values as a jitgrad tensor."""
    out = jitgrad.tensor(t.detach().numpy().copy())
    return out.requires_grad_() if requires_grad else out


def _np(t):
    return t.detach().numpy()


def _needs(*names):
    missing = [n for n in names if n not in OPS]
    if missing:
        pytest.skip(f"nn.functional op(s) {missing} not declared in the op table yet")


def _copy_into(jmod, tmod):
    """Give the jitgrad module the torch module's parameters and buffers."""
    jmod.load_state_dict({k: jitgrad.tensor(v.numpy().copy()) for k, v in tmod.state_dict().items()})


# ============================================================================ Parameter
def test_parameter_is_a_tensor_leaf_requiring_grad():
    data = jitgrad.randn(2, 3)
    p = nn.Parameter(data)
    assert isinstance(p, jitgrad.Tensor) and isinstance(p, nn.Parameter)
    assert p.requires_grad and p.is_leaf and p.grad_fn is None
    assert p.data_ptr() == data.data_ptr()  # shares storage ...
    data.add_(1)
    assert p._version == data._version == 1  # ... and the version counter, like data.detach()
    assert not nn.Parameter(jitgrad.zeros(2), requires_grad=False).requires_grad
    assert nn.Parameter().shape == (0,)
    with pytest.raises(RuntimeError, match="Only Tensors of floating point and complex dtype can require gradients"):
        nn.Parameter(jitgrad.arange(3))
    assert type(nn.Parameter(jitgrad.arange(3), requires_grad=False).data) is jitgrad.Tensor


def test_parameter_repr_matches_torch(torch):
    values = np.array([[0.25, -1.5], [3.0, 0.125]])
    for dtype in ("float32", "float64"):
        jp = nn.Parameter(jitgrad.tensor(values, dtype=getattr(jitgrad, dtype)))
        tp = torch.nn.Parameter(torch.tensor(values, dtype=getattr(torch, dtype)))
        assert repr(jp) == repr(tp) and str(jp) == str(tp)
    jp = nn.Parameter(jitgrad.arange(3), requires_grad=False)
    assert repr(jp) == repr(torch.nn.Parameter(torch.arange(3), requires_grad=False))


def test_ops_on_parameters_give_plain_tensors_and_gradients_flow():
    p = nn.Parameter(jitgrad.tensor([1.0, 2.0, 3.0]))
    x = jitgrad.tensor([0.5, -1.0, 2.0])
    # a Parameter as the right operand goes through the binary template's tensor path
    outs = [x * p, x + p, x - p, x / p, p * x, p ** 2, 2.0 * p, x @ p, p.sum(), p[1:], p.exp()]
    for out in outs:
        assert type(out) is jitgrad.Tensor and out.requires_grad
    (x * p + p * p).sum().backward()
    np.testing.assert_allclose(p.grad.numpy(), [2.5, 3.0, 8.0])
    assert type(p.detach()) is jitgrad.Tensor and type(p.data) is jitgrad.Tensor
    assert type(p.clone()) is jitgrad.Tensor


def test_parameter_deepcopy_and_in_place_update_rules():
    p = nn.Parameter(jitgrad.ones(2))
    p.grad = jitgrad.full((2,), 3.0)
    q = copy.deepcopy(p)
    assert type(q) is nn.Parameter and q.requires_grad and q.data_ptr() != p.data_ptr()
    np.testing.assert_array_equal(q.grad.numpy(), [3.0, 3.0])
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        p.add_(1)
    with jitgrad.no_grad():
        p.add_(1)
    np.testing.assert_array_equal(p.numpy(force=True), [2.0, 2.0])


# ============================================================================ Module basics
class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.act = nn.ReLU()
        self.block = nn.Sequential(nn.Linear(4, 4), nn.Tanh())
        self.scale = nn.Parameter(jitgrad.ones(1))
        self.register_buffer("steps", jitgrad.zeros(1))
        self.register_buffer("cache", jitgrad.zeros(2), persistent=False)

    def forward(self, x):
        return self.block(self.act(self.fc1(x))) * self.scale


def test_registration_and_traversal_order():
    net = _Net()
    assert [n for n, _ in net.named_parameters()] == [
        "scale", "fc1.weight", "fc1.bias", "block.0.weight", "block.0.bias"]
    assert [n for n, _ in net.named_parameters(recurse=False)] == ["scale"]
    assert [n for n, _ in net.named_buffers()] == ["steps", "cache"]
    assert [n for n, _ in net.named_children()] == ["fc1", "act", "block"]
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "act", "block", "block.0", "block.1"]
    assert len(list(net.parameters())) == 5 and len(list(net.modules())) == 6
    assert list(net.state_dict()) == ["scale", "steps", "fc1.weight", "fc1.bias", "block.0.weight", "block.0.bias"]
    assert net.get_submodule("block.0") is net.block[0]
    assert net.get_parameter("block.0.bias") is net.block[0].bias
    assert net.get_buffer("steps") is net.steps
    # a module shared twice is visited once; so are its parameters
    shared = nn.Linear(2, 2)
    seq = nn.Sequential(shared, shared)
    assert len(list(seq.parameters())) == 2 and len(list(seq.modules())) == 2
    assert len(list(seq.named_parameters(remove_duplicate=False))) == 4


def test_setattr_rules_and_error_texts():
    m = nn.Module()
    m.w = nn.Parameter(jitgrad.ones(2))
    assert "w" in m._parameters and "w" not in m.__dict__
    m.w = None
    assert m._parameters["w"] is None and m.w is None
    with pytest.raises(TypeError, match=r"cannot assign 'torch.FloatTensor' as parameter 'w' "
                                        r"\(torch.nn.Parameter or None expected\)"):
        m.w = jitgrad.ones(2)
    m.sub = nn.ReLU()
    with pytest.raises(TypeError, match=r"cannot assign 'int' as child module 'sub'"):
        m.sub = 3
    m.register_buffer("b", jitgrad.zeros(1))
    m.b = jitgrad.ones(1)  # re-assigning a buffer keeps it a buffer
    assert m._buffers["b"] is m.b
    with pytest.raises(KeyError, match="attribute 'sub' already exists"):
        m.register_buffer("sub", jitgrad.zeros(1))
    with pytest.raises(KeyError, match="buffer name can"):
        m.register_buffer("a.b", None)
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("x", 3)
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'nope'"):
        m.nope
    p = nn.Parameter(jitgrad.ones(1), requires_grad=False)
    p.mul_(jitgrad.ones(1, requires_grad=True))  # an in-place op gives the Parameter a history
    with pytest.raises(ValueError, match="Cannot assign non-leaf Tensor to parameter 'bad'"):
        m.register_parameter("bad", p)
    del m.b, m.sub, m.w
    assert not m._buffers and not m._modules and not m._parameters
    m.buf = nn.Buffer(jitgrad.zeros(2), persistent=False)
    assert "buf" in m._buffers and "buf" in m._non_persistent_buffers_set and "buf" not in m.state_dict()
    with pytest.raises(AttributeError, match=r"cannot assign parameters before Module.__init__\(\) call"):
        _Uninitialised()


class _Uninitialised(nn.Module):
    def __init__(self):
        self.w = nn.Parameter(jitgrad.ones(1))


def test_train_eval_zero_grad_requires_grad_apply():
    net = _Net()
    assert net.training and net.block[1].training
    assert net.eval() is net and not net.training and not net.block[1].training
    net.train()
    assert net.block[0].training
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        net.train(1)
    net(jitgrad.randn(2, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Linear", "ReLU", "Linear", "Tanh", "Sequential", "_Net"]


def test_forward_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: calls.append("pre") or (args[0] * 0,))
    h2 = lin.register_forward_hook(lambda m, args, out: calls.append("post") or out + 1)
    out = lin(jitgrad.ones(1, 2))
    assert calls == ["pre", "post"]
    np.testing.assert_allclose(out.detach().numpy(), lin.bias.detach().numpy()[None] + 1, rtol=1e-6)
    h1.remove()
    h2.remove()
    calls.clear()
    lin(jitgrad.ones(1, 2))
    assert calls == []
    h = lin.register_forward_hook(lambda m, args, kwargs, out: calls.append(sorted(kwargs)), with_kwargs=True)
    lin.register_forward_pre_hook(lambda m, args, kwargs: (args, kwargs), with_kwargs=True)
    lin.forward = lambda x, scale=1: x * scale
    lin(jitgrad.ones(1), scale=2)
    assert calls == [["scale"]]
    h.remove()


def test_missing_forward():
    with pytest.raises(NotImplementedError, match=r'Module \[Module\] is missing the required "forward" function'):
        nn.Module()(jitgrad.ones(1))


def test_to_dtype_keeps_parameter_objects():
    net = _Net()
    weight = net.fc1.weight
    net(jitgrad.randn(2, 3)).sum().backward()
    assert net.double() is net
    assert net.fc1.weight is weight and weight.dtype == jitgrad.float64 and weight.grad.dtype == jitgrad.float64
    assert net.steps.dtype == jitgrad.float64
    assert net(jitgrad.randn(2, 3, dtype=jitgrad.float64)).dtype == jitgrad.float64
    net.to(jitgrad.float32)
    assert weight.dtype == jitgrad.float32
    net.to("cpu")
    with pytest.raises(TypeError, match="nn.Module.to only accepts floating point or complex dtypes, "
                                        "but got desired dtype=torch.int64"):
        net.to(jitgrad.int64)
    bn = nn.BatchNorm1d(3).double()
    assert bn.num_batches_tracked.dtype == jitgrad.int64 and bn.running_mean.dtype == jitgrad.float64


def test_deepcopy_module():
    net = _Net()
    clone = copy.deepcopy(net)
    x = jitgrad.randn(2, 3)
    np.testing.assert_array_equal(net(x).detach().numpy(), clone(x).detach().numpy())
    assert clone.fc1.weight is not net.fc1.weight and isinstance(clone.fc1.weight, nn.Parameter)


# ============================================================================ state dicts
def test_state_dict_round_trip_and_detach():
    a, b = _Net(), _Net()
    sd = a.state_dict()
    assert isinstance(sd, OrderedDict) and sd._metadata[""] == {"version": 1}
    assert all(type(v) is jitgrad.Tensor and not v.requires_grad for v in sd.values())
    assert sd["fc1.weight"].data_ptr() == a.fc1.weight.data_ptr()
    assert isinstance(a.state_dict(keep_vars=True)["fc1.weight"], nn.Parameter)
    result = b.load_state_dict(sd)
    assert repr(result) == "<All keys matched successfully>"
    x = jitgrad.randn(4, 3)
    np.testing.assert_array_equal(a(x).detach().numpy(), b(x).detach().numpy())
    assert b.fc1.weight.data_ptr() != a.fc1.weight.data_ptr()  # copied, not shared


def test_load_state_dict_errors_match_torch(torch):
    def both(build_j, build_t, mutate):
        jm, tm = build_j(), build_t()
        jsd, tsd = jm.state_dict(), tm.state_dict()
        mutate(jsd, jitgrad)
        mutate(tsd, torch)
        with pytest.raises(RuntimeError) as jerr:
            jm.load_state_dict(jsd)
        with pytest.raises(RuntimeError) as terr:
            tm.load_state_dict(tsd)
        assert str(jerr.value) == str(terr.value)
        j_res = jm.load_state_dict(jsd, strict=False) if "size mismatch" not in str(jerr.value) else None
        if j_res is not None:
            t_res = tm.load_state_dict(tsd, strict=False)
            assert (j_res.missing_keys, j_res.unexpected_keys) == (t_res.missing_keys, t_res.unexpected_keys)
            assert repr(j_res) == repr(t_res)

    def seq(m):
        return m.Sequential(m.Linear(3, 4), m.ReLU(), m.Sequential(m.Linear(4, 2)), m.BatchNorm1d(2))

    def drop(sd, lib):
        del sd["2.0.bias"]
        del sd["3.running_var"]

    def extra(sd, lib):
        sd["0.extra"] = lib.zeros(1)
        sd["5.weight"] = lib.zeros(1)

    def resize(sd, lib):
        sd["0.weight"] = lib.zeros(4, 5)
        sd["2.0.bias"] = lib.zeros(3)

    def mixed(sd, lib):
        drop(sd, lib)
        extra(sd, lib)

    for mutate in (drop, extra, resize, mixed):
        both(lambda: seq(nn), lambda: seq(torch.nn), mutate)


def test_batchnorm_state_dict_without_num_batches_tracked_loads():
    bn = nn.BatchNorm1d(3)
    sd = bn.state_dict()
    del sd["num_batches_tracked"]
    sd._metadata[""] = {"version": 1}  # an old checkpoint, from before the buffer existed
    assert repr(nn.BatchNorm1d(3).load_state_dict(sd)) == "<All keys matched successfully>"


# ============================================================================ repr
def _all_modules(m):
    return [
        m.Linear(3, 4), m.Linear(3, 4, bias=False), m.Bilinear(2, 3, 4), m.Conv1d(2, 3, 3),
        m.Conv1d(2, 4, 3, stride=2, padding=1, dilation=2, groups=2, bias=False),
        m.Conv2d(1, 2, 3), m.Conv2d(2, 4, (3, 2), stride=2, padding=1, dilation=2, groups=2, bias=False),
        m.Conv2d(2, 2, 3, padding="same"), m.Conv2d(2, 2, 3, padding_mode="reflect"),
        m.MaxPool2d(2), m.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), m.AvgPool2d(2),
        m.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False), m.AdaptiveAvgPool2d((2, 3)),
        m.AdaptiveAvgPool2d(2), m.Flatten(), m.Flatten(0, 2), m.Dropout(), m.Dropout(0.2, inplace=True),
        m.LayerNorm(4), m.LayerNorm((2, 3), eps=1e-6, elementwise_affine=False), m.LayerNorm(3, bias=False),
        m.BatchNorm1d(3), m.BatchNorm2d(4, eps=1e-3, momentum=None, affine=False, track_running_stats=False),
        m.Embedding(10, 3), m.Embedding(10, 3, padding_idx=0, max_norm=1.0, scale_grad_by_freq=True),
        m.ReLU(), m.ReLU(inplace=True), m.GELU(), m.GELU("tanh"), m.Tanh(), m.Sigmoid(), m.SiLU(),
        m.SiLU(inplace=True), m.Softmax(dim=1), m.Softmax(), m.LogSoftmax(dim=-1), m.LeakyReLU(),
        m.LeakyReLU(0.2, True), m.Identity(), m.MSELoss(), m.L1Loss(reduction="sum"), m.SmoothL1Loss(beta=0.5),
        m.CrossEntropyLoss(), m.CrossEntropyLoss(label_smoothing=0.1), m.NLLLoss(), m.BCELoss(),
        m.BCEWithLogitsLoss(), m.KLDivLoss(), m.KLDivLoss(reduction="batchmean", log_target=True),
        m.ModuleList([m.ReLU(), m.ReLU(), m.Tanh(), m.Linear(2, 2), m.Linear(2, 2)]),
        m.ModuleDict({"a": m.ReLU(), "b": m.Sequential(m.Linear(1, 1))}), m.Sequential(), m.ModuleList(),
        m.Sequential(OrderedDict([("conv", m.Conv2d(1, 2, 3)), ("pool", m.MaxPool2d(2)),
                                  ("body", m.Sequential(m.Flatten(), m.Linear(8, 2), m.Dropout(0.1)))])),
    ]


def test_repr_state_dict_keys_and_buffers_match_torch(torch):
    for jm, tm in zip(_all_modules(nn), _all_modules(torch.nn)):
        assert repr(jm) == repr(tm)
        assert list(jm.state_dict()) == list(tm.state_dict())
        assert [n for n, _ in jm.named_buffers()] == [n for n, _ in tm.named_buffers()]
        assert [(n, tuple(p.shape)) for n, p in jm.named_parameters()] == \
               [(n, tuple(p.shape)) for n, p in tm.named_parameters()]


def test_extra_repr_multiline_and_custom():
    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Linear(1, 1)

        def extra_repr(self):
            return "alpha=1\nbeta=2"

    assert repr(Custom()) == ("Custom(\n  alpha=1\n  beta=2\n  (inner): Linear(in_features=1, out_features=1, "
                              "bias=True)\n)")


# ============================================================================ containers
def test_sequential_indexing_and_editing():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and seq[0] is a and seq[-1] is c and list(seq) == [a, b, c]
    assert isinstance(seq[1:], nn.Sequential) and list(seq[1:]) == [b, c] and list(seq[1:]._modules) == ["1", "2"]
    with pytest.raises(IndexError, match="index 3 is out of range"):
        seq[3]
    x = jitgrad.randn(4, 2)
    np.testing.assert_allclose(seq(x).detach().numpy(), c(b(a(x))).detach().numpy())
    d = nn.Tanh()
    assert seq.append(d) is seq and seq[3] is d and len(seq) == 4
    seq.insert(1, nn.Identity())
    assert [type(m).__name__ for m in seq] == ["Linear", "Identity", "ReLU", "Linear", "Tanh"]
    del seq[1]
    assert list(seq._modules) == ["0", "1", "2", "3"] and seq[1] is b
    seq[1] = nn.Sigmoid()
    assert isinstance(seq[1], nn.Sigmoid)
    assert len(seq + nn.Sequential(nn.ReLU())) == 5 and len(seq * 2) == 8
    named = nn.Sequential(OrderedDict([("first", a), ("second", b)]))
    assert named.first is a and list(named._modules) == ["first", "second"]


def test_module_list_and_dict():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    layers.append(nn.ReLU())
    layers.extend([nn.Tanh()])
    layers.insert(0, nn.Identity())
    assert [type(m).__name__ for m in layers] == ["Identity", "Linear", "Linear", "Linear", "ReLU", "Tanh"]
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    del layers[0]
    assert isinstance(layers[0], nn.Linear) and list(layers._modules) == ["0", "1", "2", "3", "4"]
    assert layers.pop(-1).__class__ is nn.Tanh and len(layers) == 4
    with pytest.raises(TypeError, match="ModuleList.extend should be called with an iterable, but got int"):
        layers.extend(3)
    md = nn.ModuleDict({"act": nn.ReLU(), "lin": nn.Linear(1, 2)})
    md["out"] = nn.Sigmoid()
    assert list(md) == ["act", "lin", "out"] and "lin" in md and len(md) == 3
    assert list(md.keys()) == ["act", "lin", "out"] and isinstance(md.pop("act"), nn.ReLU)
    md.update([("extra", nn.Tanh())])
    assert list(md) == ["lin", "out", "extra"] and [n for n, _ in md.named_parameters()] == ["lin.weight", "lin.bias"]


# ============================================================================ initialisation
def _init_cases(m):
    return [
        lambda: m.Linear(3, 4), lambda: m.Linear(7, 2, bias=False), lambda: m.Conv2d(2, 4, 3),
        lambda: m.Conv1d(3, 6, 5, groups=3), lambda: m.Bilinear(2, 3, 4), lambda: m.Embedding(10, 3, padding_idx=2),
        lambda: m.LayerNorm(5), lambda: m.BatchNorm2d(3),
        lambda: m.Sequential(m.Linear(4, 8), m.ReLU(), m.Linear(8, 1)),
    ]


@pytest.mark.parametrize("seed", [0, 1234])
def test_default_initialisation_matches_torch(torch, seed):
    jitgrad.manual_seed(seed)
    torch.manual_seed(seed)
    for make_j, make_t in zip(_init_cases(nn), _init_cases(torch.nn)):
        jm, tm = make_j(), make_t()
        for (jn, jv), (tn, tv) in zip(jm.state_dict().items(), tm.state_dict().items()):
            assert jn == tn
            np.testing.assert_array_equal(jv.numpy(), tv.numpy(), err_msg=f"{type(tm).__name__}.{tn}")
    # the generator is left in the same state too
    np.testing.assert_array_equal(jitgrad.rand(3).numpy(), torch.rand(3).numpy())


def test_nn_linear_weights_equal_torch_after_manual_seed(torch):
    jitgrad.manual_seed(7)
    torch.manual_seed(7)
    j, t = nn.Linear(3, 4), torch.nn.Linear(3, 4)
    np.testing.assert_array_equal(j.weight.detach().numpy(), t.weight.detach().numpy())
    np.testing.assert_array_equal(j.bias.detach().numpy(), t.bias.detach().numpy())
    assert repr(j.weight) == repr(t.weight)


@pytest.mark.parametrize("name,kwargs", [
    ("uniform_", {"a": -0.5, "b": 2.0}), ("normal_", {"mean": 1.0, "std": 0.5}), ("constant_", {"val": 0.3}),
    ("ones_", {}), ("zeros_", {}), ("xavier_uniform_", {"gain": 2.0}), ("xavier_normal_", {}),
    ("kaiming_uniform_", {}), ("kaiming_uniform_", {"a": 0.1, "mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal_", {}), ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "tanh"}),
    ("trunc_normal_", {}), ("trunc_normal_", {"mean": 0.0, "std": 1.0, "a": 0.5, "b": 1.0}),
    ("eye_", {}),
])
def test_init_functions_match_torch(torch, name, kwargs):
    for dtype in ("float32", "float64"):
        jitgrad.manual_seed(11)
        torch.manual_seed(11)
        jt = jitgrad.empty(6, 5, dtype=getattr(jitgrad, dtype))
        tt = torch.empty(6, 5, dtype=getattr(torch, dtype))
        jr = getattr(nn.init, name)(jt, **kwargs)
        getattr(torch.nn.init, name)(tt, **kwargs)
        assert jr is jt
        np.testing.assert_array_equal(jt.numpy(), tt.numpy())


def test_init_gain_fan_and_no_grad(torch):
    for nl, param in [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
                      ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None)]:
        assert nn.init.calculate_gain(nl, param) == torch.nn.init.calculate_gain(nl, param)
    with pytest.raises(ValueError, match="Unsupported nonlinearity foo"):
        nn.init.calculate_gain("foo")
    w = jitgrad.empty(4, 3, 2, 5)
    assert nn.init._calculate_fan_in_and_fan_out(w) == torch.nn.init._calculate_fan_in_and_fan_out(
        torch.empty(4, 3, 2, 5)) == (30, 40)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(jitgrad.empty(3))
    p = nn.Parameter(jitgrad.empty(3, 3))  # a leaf requiring grad: init runs under no_grad
    nn.init.kaiming_normal_(p)
    assert p.requires_grad and p.grad_fn is None
    jd, td = jitgrad.empty(4, 2, 3, 3), torch.empty(4, 2, 3, 3)
    nn.init.dirac_(jd, groups=2)
    torch.nn.init.dirac_(td, groups=2)
    np.testing.assert_array_equal(jd.numpy(), td.numpy())


# ============================================================================ layers vs torch
def _compare_module(torch, make, inputs, dtype="float64", rtol=1e-10, atol=1e-12, train=True):
    """Same parameters, same inputs: same output, same input and parameter gradients."""
    tm = make(torch.nn).to(getattr(torch, dtype))
    jm = make(nn).to(getattr(jitgrad, dtype))
    _copy_into(jm, tm)
    tm.train(train)
    jm.train(train)
    t_in = [torch.tensor(x, dtype=getattr(torch, dtype), requires_grad=True) if x.dtype.kind == "f"
            else torch.tensor(x) for x in inputs]
    j_in = [jitgrad.tensor(x, dtype=getattr(jitgrad, dtype), requires_grad=True) if x.dtype.kind == "f"
            else jitgrad.tensor(x) for x in inputs]
    t_out, j_out = tm(*t_in), jm(*j_in)
    np.testing.assert_allclose(_np(j_out), _np(t_out), rtol=rtol, atol=atol)
    seed = np.random.default_rng(0).standard_normal(tuple(t_out.shape))
    t_out.backward(torch.tensor(seed, dtype=t_out.dtype))
    j_out.backward(jitgrad.tensor(seed, dtype=j_out.dtype))
    for ti, ji in zip(t_in, j_in):
        if ti.requires_grad:
            np.testing.assert_allclose(_np(ji.grad), _np(ti.grad), rtol=rtol, atol=atol)
    for (n, tp), (_, jp) in zip(tm.named_parameters(), jm.named_parameters()):
        np.testing.assert_allclose(_np(jp.grad), _np(tp.grad), rtol=rtol, atol=atol, err_msg=n)
    for (n, tb), (_, jb) in zip(tm.named_buffers(), jm.named_buffers()):
        np.testing.assert_allclose(_np(jb), _np(tb), rtol=rtol, atol=atol, err_msg=n)
    return j_out, t_out


@pytest.mark.parametrize("shape", [(5, 3), (3,), (2, 4, 3), (2, 2, 2, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(torch, shape, bias):
    x = np.random.default_rng(1).standard_normal(shape)
    for dtype, rtol in (("float64", 1e-12), ("float32", 1e-5)):
        j_out, t_out = _compare_module(torch, lambda m: m.Linear(3, 4, bias=bias), [x], dtype, rtol, rtol)
        assert type(j_out.grad_fn).__name__ == type(t_out.grad_fn).__name__
        assert [type(f).__name__ for f, _ in j_out.grad_fn.next_functions] == \
               [type(f).__name__ for f, _ in t_out.grad_fn.next_functions]


def test_linear_non_contiguous_input_and_errors(torch):
    x = np.random.default_rng(2).standard_normal((4, 2, 3))
    w = np.random.default_rng(3).standard_normal((5, 3))
    b = np.random.default_rng(4).standard_normal(5)
    jx = jitgrad.tensor(x).transpose(0, 1)
    tx = torch.tensor(x).transpose(0, 1)
    jy = F.linear(jx, jitgrad.tensor(w), jitgrad.tensor(b))
    ty = torch.nn.functional.linear(tx, torch.tensor(w), torch.tensor(b))
    np.testing.assert_allclose(jy.numpy(), ty.numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(2x5 and 3x4\)"):
        F.linear(jitgrad.randn(2, 5), jitgrad.randn(4, 3), jitgrad.randn(4))
    with pytest.raises(RuntimeError, match=r"The expanded size of the tensor \(4\) must match the existing size "
                                           r"\(3\) at non-singleton dimension 1.  Target sizes: \[2, 4\].  "
                                           r"Tensor sizes: \[3\]"):
        F.linear(jitgrad.randn(2, 3), jitgrad.randn(4, 3), jitgrad.randn(3))
    with pytest.raises(TypeError, match="linear\\(\\): argument 'input' \\(position 1\\) must be Tensor, not list"):
        F.linear([1.0], jitgrad.randn(4, 3))


def test_linear_gradcheck_and_gradgradcheck():
    rng = np.random.default_rng(5)

    def t(*shape):
        return jitgrad.tensor(rng.standard_normal(shape), requires_grad=True)

    for x in (t(3, 4), t(2, 3, 4), t(4)):
        args = (x, t(2, 4), t(2))
        assert jitgrad.autograd.gradcheck(F.linear, args)
        assert jitgrad.autograd.gradgradcheck(F.linear, args)
    assert jitgrad.autograd.gradcheck(F.bilinear, (t(3, 2), t(3, 4), t(5, 2, 4), t(5)))


def test_linear_saved_weight_modified_in_place_is_detected():
    lin = nn.Linear(3, 2)
    out = lin(jitgrad.randn(4, 3, requires_grad=True)).sum()
    with jitgrad.no_grad():
        lin.weight.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.backward()


def test_bilinear_matches_torch(torch):
    rng = np.random.default_rng(6)
    _compare_module(torch, lambda m: m.Bilinear(2, 3, 4), [rng.standard_normal((5, 2)), rng.standard_normal((5, 3))])
    _compare_module(torch, lambda m: m.Bilinear(2, 3, 4, bias=False),
                    [rng.standard_normal((2, 5, 2)), rng.standard_normal((2, 5, 3))])


@pytest.mark.parametrize("make,ops", [
    (lambda m: m.ReLU(), ["relu"]), (lambda m: m.Tanh(), ["tanh"]), (lambda m: m.Sigmoid(), ["sigmoid"]),
    (lambda m: m.GELU(), ["gelu"]), (lambda m: m.GELU("tanh"), ["gelu"]), (lambda m: m.SiLU(), ["silu"]),
    (lambda m: m.LeakyReLU(0.2), ["leaky_relu"]), (lambda m: m.Softmax(dim=1), ["softmax"]),
    (lambda m: m.LogSoftmax(dim=-1), ["log_softmax"]), (lambda m: m.Identity(), []),
    (lambda m: m.Flatten(), ["flatten"]), (lambda m: m.Flatten(0, 1), ["flatten"]),
])
def test_activation_and_shape_modules_match_torch(torch, make, ops):
    _needs(*ops)
    x = np.random.default_rng(7).uniform(-2, 2, (3, 4, 2))
    x[np.abs(x) < 0.05] = 0.3  # away from kinks
    _compare_module(torch, make, [x], rtol=1e-9, atol=1e-12)


def test_inplace_activation_modules(torch):
    _needs("leaky_relu", "silu")
    for make in (lambda m: m.ReLU(inplace=True), lambda m: m.LeakyReLU(0.1, inplace=True),
                 lambda m: m.SiLU(inplace=True)):
        x = np.random.default_rng(8).uniform(-2, 2, (3, 4))
        jx, tx = jitgrad.tensor(x), torch.tensor(x)
        jo, to = make(nn)(jx), make(torch.nn)(tx)
        assert jo is jx and to is tx
        np.testing.assert_allclose(jx.numpy(), tx.numpy(), rtol=1e-12)


def test_softmax_implicit_dim_warns(torch):
    _needs("softmax")
    x = np.random.default_rng(9).standard_normal((2, 3))
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax has been deprecated"):
        jo = nn.Softmax()(jitgrad.tensor(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        to = torch.nn.Softmax()(torch.tensor(x))
    np.testing.assert_allclose(jo.numpy(), to.numpy(), rtol=1e-12)


@pytest.mark.parametrize("make,shape,ops", [
    (lambda m: m.Conv1d(2, 4, 3), (2, 2, 7), ["conv1d"]),
    (lambda m: m.Conv1d(4, 6, 3, stride=2, padding=1, dilation=2, groups=2, bias=False), (2, 4, 9), ["conv1d"]),
    (lambda m: m.Conv2d(2, 3, 3), (2, 2, 6, 5), ["conv2d"]),
    (lambda m: m.Conv2d(2, 4, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2), groups=2), (1, 2, 7, 6), ["conv2d"]),
    (lambda m: m.Conv2d(2, 2, 3, padding="same"), (1, 2, 5, 5), ["conv2d"]),
    (lambda m: m.Conv2d(2, 2, 3, padding="valid", bias=False), (1, 2, 5, 5), ["conv2d"]),
    (lambda m: m.MaxPool2d(2), (2, 3, 6, 6), ["max_pool2d"]),
    (lambda m: m.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), (1, 2, 7, 7), ["max_pool2d"]),
    (lambda m: m.AvgPool2d(2), (2, 3, 6, 6), ["avg_pool2d"]),
    (lambda m: m.AvgPool2d(3, 2, 1, count_include_pad=False), (1, 2, 7, 7), ["avg_pool2d"]),
    (lambda m: m.AdaptiveAvgPool2d((2, 3)), (2, 3, 7, 8), ["adaptive_avg_pool2d"]),
    (lambda m: m.AdaptiveAvgPool2d(1), (2, 3, 5, 5), ["adaptive_avg_pool2d"]),
    (lambda m: m.LayerNorm(4), (3, 2, 4), ["layer_norm"]),
    (lambda m: m.LayerNorm((2, 4), elementwise_affine=False), (3, 2, 4), ["layer_norm"]),
    (lambda m: m.LayerNorm(4, bias=False), (3, 4), ["layer_norm"]),
])
def test_conv_pool_norm_modules_match_torch(torch, make, shape, ops):
    _needs(*ops)
    x = np.random.default_rng(10).standard_normal(shape)
    _compare_module(torch, make, [x], rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("make,shape", [
    (lambda m: m.BatchNorm1d(3), (5, 3)), (lambda m: m.BatchNorm1d(3, momentum=None), (4, 3, 2)),
    (lambda m: m.BatchNorm2d(2), (3, 2, 4, 4)), (lambda m: m.BatchNorm2d(2, affine=False), (3, 2, 2, 2)),
    (lambda m: m.BatchNorm2d(2, track_running_stats=False), (3, 2, 2, 3)),
])
def test_batchnorm_matches_torch_train_and_eval(torch, make, shape):
    _needs("batch_norm")
    rng = np.random.default_rng(11)
    tm, jm = make(torch.nn).double(), make(nn).double()
    for step in range(3):  # running statistics evolve identically
        x = rng.standard_normal(shape) * 2 + 1
        _compare_module(torch, lambda m: tm if m is torch.nn else jm, [x], rtol=1e-9, atol=1e-11)
    if jm.track_running_stats:
        assert int(jm.num_batches_tracked) == int(tm.num_batches_tracked) == 3
    _compare_module(torch, lambda m: tm if m is torch.nn else jm, [rng.standard_normal(shape)], rtol=1e-9,
                    atol=1e-11, train=False)
    with pytest.raises(ValueError, match=r"expected \dD (or \dD )?input \(got 1D input\)"):
        jm(jitgrad.ones(3))


def test_dropout_module(torch):
    _needs("dropout")
    d = nn.Dropout(0.5)
    x = jitgrad.ones(1000)
    y = d(x)
    vals = set(np.unique(y.numpy()).tolist())
    assert vals <= {0.0, 2.0} and 300 < int((y.numpy() == 0).sum()) < 700
    d.eval()
    assert np.array_equal(d(x).numpy(), x.numpy())
    jitgrad.manual_seed(3)
    torch.manual_seed(3)
    ja = nn.Dropout(0.3)(jitgrad.ones(50, dtype=jitgrad.float64))
    ta = torch.nn.Dropout(0.3)(torch.ones(50, dtype=torch.float64))
    np.testing.assert_allclose(ja.numpy(), ta.numpy())
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)


def test_embedding_matches_torch(torch):
    _needs("embedding")
    idx = np.array([[1, 2, 0], [4, 2, 2]])
    for make in (lambda m: m.Embedding(5, 3), lambda m: m.Embedding(5, 3, padding_idx=2)):
        tm, jm = make(torch.nn).double(), make(nn).double()
        _copy_into(jm, tm)
        to, jo = tm(torch.tensor(idx)), jm(jitgrad.tensor(idx))
        np.testing.assert_allclose(_np(jo), _np(to))
        g = np.random.default_rng(12).standard_normal(tuple(to.shape))
        to.backward(torch.tensor(g))
        jo.backward(jitgrad.tensor(g))
        np.testing.assert_allclose(_np(jm.weight.grad), _np(tm.weight.grad), rtol=1e-12)
    pre = nn.Embedding.from_pretrained(jitgrad.eye(3))
    assert not pre.weight.requires_grad and pre.num_embeddings == 3


@pytest.mark.parametrize("make,kind,ops", [
    (lambda m: m.MSELoss(), "regression", ["mse_loss"]),
    (lambda m: m.MSELoss(reduction="sum"), "regression", ["mse_loss"]),
    (lambda m: m.L1Loss(), "regression", ["l1_loss"]),
    (lambda m: m.L1Loss(reduction="none"), "regression", ["l1_loss"]),
    (lambda m: m.SmoothL1Loss(beta=0.5), "regression", ["smooth_l1_loss"]),
    (lambda m: m.CrossEntropyLoss(), "classes", ["cross_entropy"]),
    (lambda m: m.CrossEntropyLoss(label_smoothing=0.1, reduction="sum"), "classes", ["cross_entropy"]),
    (lambda m: m.CrossEntropyLoss(ignore_index=1), "classes", ["cross_entropy"]),
    (lambda m: m.NLLLoss(), "log_probs", ["nll_loss"]),
    (lambda m: m.BCELoss(), "probs", ["binary_cross_entropy"]),
    (lambda m: m.BCEWithLogitsLoss(), "binary_logits", ["binary_cross_entropy_with_logits"]),
    (lambda m: m.KLDivLoss(reduction="batchmean"), "kl", ["kl_div"]),
    (lambda m: m.KLDivLoss(reduction="sum", log_target=True), "kl_log", ["kl_div"]),
])
def test_loss_modules_match_torch(torch, make, kind, ops):
    _needs(*ops)
    rng = np.random.default_rng(13)
    x = rng.standard_normal((4, 3))
    if kind == "regression":
        target = rng.standard_normal((4, 3))
    elif kind in ("classes", "log_probs"):
        target = np.array([0, 2, 1, 1])
        if kind == "log_probs":
            x = x - np.log(np.exp(x).sum(1, keepdims=True))
    elif kind == "probs":
        x = rng.uniform(0.1, 0.9, (4, 3))
        target = rng.uniform(0, 1, (4, 3))
    elif kind == "binary_logits":
        target = rng.uniform(0, 1, (4, 3))
    else:
        x = x - np.log(np.exp(x).sum(1, keepdims=True))
        target = rng.dirichlet(np.ones(3), 4)
        if kind == "kl_log":
            target = np.log(target)
    tl, jl = make(torch.nn), make(nn)
    tx = torch.tensor(x, requires_grad=True)
    jx = jitgrad.tensor(x, requires_grad=True)
    tt = torch.tensor(target)
    jt = jitgrad.tensor(target)
    to, jo = tl(tx, tt), jl(jx, jt)
    np.testing.assert_allclose(_np(jo), _np(to), rtol=1e-10, atol=1e-12)
    to.sum().backward()
    jo.sum().backward()
    np.testing.assert_allclose(_np(jx.grad), _np(tx.grad), rtol=1e-10, atol=1e-12)


def test_legacy_reduction_arguments_warn():
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated, please use "
                                         "reduction='sum' instead."):
        loss = nn.MSELoss(size_average=False)
    assert loss.reduction == "sum"


# ============================================================================ end to end
def test_mlp_training_matches_torch(torch):
    """Same seed -> same init; same data -> same SGD trajectory, through Linear/ReLU/loss/backward."""
    def build(m):
        return m.Sequential(m.Linear(4, 16), m.ReLU(), m.Linear(16, 1))

    jitgrad.manual_seed(0)
    torch.manual_seed(0)
    jm, tm = build(nn), build(torch.nn)
    jopt = jitgrad.optim.SGD(jm.parameters(), lr=0.05, momentum=0.9)
    topt = torch.optim.SGD(tm.parameters(), lr=0.05, momentum=0.9)
    rng = np.random.default_rng(14)
    X = rng.standard_normal((32, 4)).astype(np.float32)
    Y = np.sin(X.sum(1, keepdims=True)).astype(np.float32)
    for _ in range(20):
        for model, opt, lib in ((jm, jopt, jitgrad), (tm, topt, torch)):
            opt.zero_grad()
            diff = model(lib.tensor(X)) - lib.tensor(Y)
            loss = (diff * diff).mean()
            loss.backward()
            opt.step()
    for (n, jp), (_, tp) in zip(jm.named_parameters(), tm.named_parameters()):
        np.testing.assert_allclose(_np(jp), _np(tp), rtol=1e-4, atol=1e-5, err_msg=n)


def test_functional_namespace_resolves_the_op_table():
    assert F.exp.__wrapped__ is OPS["exp"].function and F.exp is F.exp
    assert F.cross_entropy.__wrapped__ is OPS["cross_entropy"].function  # functional-only ops too
    with pytest.raises(TypeError, match="softmax\\(\\): argument 'input' \\(position 1\\) must be Tensor, not list"):
        F.softmax([1.0], 0)
    with pytest.raises(AttributeError):
        F.getitem  # methods-only entries of the table are not functional API
    with pytest.raises(AttributeError, match="module 'jitgrad.nn.functional' has no attribute 'no_such_op'"):
        F.no_such_op
    assert "exp" in dir(F) and "linear" in dir(F)
    x = jitgrad.tensor([-1.0, 2.0])
    y = x.clone()
    assert F.relu(y, inplace=True) is y and y.tolist() == [0.0, 2.0]
    assert math.isclose(F.sigmoid(jitgrad.tensor(0.0)).item(), 0.5)


def _op_samples():
    cases = []
    for name, info in sorted(OPS.items()):
        if not info.differentiable or info.samples is None:
            continue
        for i, (args, kwargs) in enumerate(info.samples(np.random.default_rng(20240607))[:2]):
            cases.append(pytest.param(name, args, kwargs, id=f"{name}-{i}"))
    return cases


@pytest.mark.parametrize("name,args,kwargs", _op_samples())
def test_every_op_accepts_parameters(name, args, kwargs):
    """Every sampled op gives the same values and gradients with ``nn.Parameter`` inputs as with
    plain leaf tensors (the ops' fast paths must not test ``type(x) is Tensor``)."""
    fn = OPS[name].function

    def run(make):
        leaves = []

        def one(a):
            if isinstance(a, np.ndarray) and a.dtype.kind == "f":
                leaves.append(make(jitgrad.from_numpy(np.array(a, dtype=np.float64))))
                return leaves[-1]
            return jitgrad.from_numpy(a.copy()) if isinstance(a, np.ndarray) else a

        # a list of arrays (cat, stack) is a list of inputs
        call = [[one(v) for v in a] if isinstance(a, list) and a and all(isinstance(v, np.ndarray) for v in a)
                else one(a) for a in args]
        kw = {k: jitgrad.from_numpy(np.array(v, dtype=np.float64 if v.dtype.kind == "f" else v.dtype))
              if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
        out = fn(*call, **kw)
        outs = [o for o in (out if isinstance(out, (tuple, list)) else (out,))
                if isinstance(o, jitgrad.Tensor) and o.requires_grad]
        if outs:
            sum(o.sum() for o in outs).backward()
        values = [o.detach().numpy().copy() for o in (out if isinstance(out, (tuple, list)) else (out,))
                  if isinstance(o, jitgrad.Tensor)]
        return values, [None if p.grad is None else p.grad.numpy() for p in leaves], outs

    plain = run(lambda t: t.requires_grad_())
    params = run(nn.Parameter)
    assert len(plain[0]) == len(params[0])
    for a, b in zip(plain[0] + plain[1], params[0] + params[1]):
        if a is None or b is None:
            assert a is None and b is None
        else:
            np.testing.assert_array_equal(a, b)
    assert not any(isinstance(o, nn.Parameter) for o in params[2])
