"""The helpers that replaced repeated code (issue 9, item 5) keep PyTorch's behaviour: optimizer
group defaults on load, zero_grad of an expanded gradient, the warnings' reported frame, the
shared name checks of Module."""
import warnings

import numpy as np
import pytest

import jitgrad
from jitgrad import nn


@pytest.mark.parametrize("name,kwargs", [("SGD", {"lr": 0.1, "momentum": 0.9}), ("Adam", {}), ("AdamW", {}),
                                         ("Adagrad", {}), ("RMSprop", {})])
def test_loading_a_state_dict_without_the_newer_group_keys_fills_them_as_pytorch(torch, name, kwargs):
    def loaded_groups(lib):
        w = lib.nn.Parameter(lib.ones(2))
        opt = getattr(lib.optim, name)([w], **kwargs)
        sd = opt.state_dict()
        for key in ("maximize", "foreach", "differentiable", "fused", "capturable", "decoupled_weight_decay"):
            sd["param_groups"][0].pop(key, None)
        opt.load_state_dict(sd)
        return [(k, v) for k, v in opt.param_groups[0].items() if k != "params"]

    assert loaded_groups(jitgrad) == loaded_groups(torch)


def test_module_and_optimizer_zero_grad_of_an_expanded_grad_give_zeros():
    for owner in ("module", "optimizer"):
        m = nn.Linear(3, 1)
        m.weight.grad = jitgrad.ones(1, 1).expand(1, 3)
        if owner == "module":
            m.zero_grad(set_to_none=False)
        else:
            jitgrad.optim.SGD(m.parameters(), lr=0.1).zero_grad(set_to_none=False)
        assert m.weight.grad.shape == (1, 3)
        assert np.array_equal(m.weight.grad.numpy(), np.zeros((1, 3), np.float32))


@pytest.mark.parametrize("fn", ["mse_loss", "l1_loss", "smooth_l1_loss"])
def test_pair_loss_warnings_are_the_same_for_every_loss(fn):
    f = getattr(nn.functional, fn)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f(jitgrad.ones(3), jitgrad.ones(1))
        f(jitgrad.ones(3), jitgrad.ones(3), reduction="elementwise_mean")
    messages = [str(w.message) for w in caught]
    assert messages[0].startswith("Using a target size (torch.Size([1])) that is different to the input size")
    assert messages[1].startswith("reduction='elementwise_mean' is deprecated")
    assert caught[0].filename == caught[1].filename and caught[0].lineno == caught[1].lineno


@pytest.mark.parametrize("init", ["kaiming_uniform_", "kaiming_normal_"])
def test_kaiming_warning_on_a_zero_element_tensor_names_the_caller(init):
    t = jitgrad.empty(0, 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert getattr(nn.init, init)(t) is t
    assert [str(w.message) for w in caught] == ["Initializing zero-element tensors is a no-op"]
    assert caught[0].filename == __file__


@pytest.mark.parametrize("kind", ["buffer", "parameter"])
def test_module_name_checks_are_pytorchs(torch, kind):
    def errors(lib):
        m = lib.nn.Module()
        m.taken = 1
        out = []
        for name in (1, "a.b", "", "taken"):
            try:
                if kind == "buffer":
                    m.register_buffer(name, None)
                else:
                    m.register_parameter(name, None)
            except (TypeError, KeyError) as e:
                out.append((type(e), str(e)))
        return out

    got = errors(jitgrad)
    assert len(got) == 4
    assert got == errors(torch)
