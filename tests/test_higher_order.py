"""Higher-order gradients: create_graph=True, gradgradcheck over the op table, autograd.functional,
detect_anomaly."""
import numpy as np
import pytest

import jitgrad as jg
from jitgrad.autograd import gradgradcheck
from jitgrad.autograd.functional import hessian, hvp, jacobian, jvp, vhp, vjp
from jitgrad.ops.registry import OPS

from conftest import sample_constant

# Ops whose backward exists only as a jitted kernel: create_graph=True through them raises a
# clear error (tested below).  Everything else must pass gradgradcheck.
NO_DOUBLE_BACKWARD = {}


def _to_tensors(args):
    out, tensors = [], []
    for a in args:
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            t = jg.from_numpy(a.astype(np.float64)).requires_grad_()
            tensors.append(t)
            out.append(t)
        else:
            out.append(sample_constant(a, jg))  # targets, indices: tensors without grad
    return out, tensors


def _cases():
    rng = np.random.default_rng(1)
    cases = []
    for name, info in sorted(OPS.items()):
        if not info.differentiable or info.samples is None:
            continue
        for i, (args, kwargs) in enumerate(info.samples(rng)[:3] + info.samples(rng)[5:7]):
            cases.append(pytest.param(name, args, kwargs, id=f"{name}-{i}"))
    return cases


@pytest.mark.parametrize("name,args,kwargs", _cases())
def test_gradgradcheck_every_op(name, args, kwargs):
    info = OPS[name]
    full, tensors = _to_tensors(args)
    if not tensors:
        pytest.skip("no differentiable input in this sample")
    positions = [i for i, a in enumerate(full) if isinstance(a, jg.Tensor) and a.requires_grad]

    def fn(*ts):
        call = list(full)
        for p, t in zip(positions, ts):
            call[p] = t
        out = info.function(*call, **{key: sample_constant(v, jg) for key, v in kwargs.items()})
        return out if isinstance(out, jg.Tensor) else tuple(o for o in out if isinstance(o, jg.Tensor))

    try:
        assert gradgradcheck(fn, tensors, atol=1e-5, rtol=1e-3)
    except RuntimeError as e:
        if "create_graph=True" in str(e) and "not implemented" in str(e):
            assert name in NO_DOUBLE_BACKWARD, f"{name}: {e}"
            pytest.skip(NO_DOUBLE_BACKWARD[name])
        raise


def test_backward_create_graph_gives_grad_a_graph():
    x = jg.tensor([1.0, 2.0], requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad and x.grad.grad_fn is not None
    assert np.allclose(x.grad.detach().numpy(), [3.0, 12.0])
    x.grad.sum().backward()  # d/dx sum(3x^2) = 6x, accumulated onto the 3x^2 already there
    assert np.allclose(x.grad.detach().numpy(), [3.0 + 6.0, 12.0 + 12.0])


def test_gradient_penalty_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    w0, x0 = rng.standard_normal((3, 4)), rng.standard_normal((5, 3))
    results = []
    for lib in (jg, torch):
        w = lib.tensor(w0, requires_grad=True)
        x = lib.tensor(x0, requires_grad=True)
        out = (x @ w).tanh().sum()
        (gx,) = lib.autograd.grad(out, x, create_graph=True)
        penalty = ((gx.norm(dim=1) - 1) ** 2).mean()
        penalty.backward()
        results.append((w.grad.detach().numpy(), x.grad.detach().numpy()))
    for a, b in zip(results[0], results[1]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_custom_function_double_backward():
    class Cube(jg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x ** 2

    x = jg.tensor([0.5, -1.5], dtype=jg.float64, requires_grad=True)
    (g,) = jg.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    (h,) = jg.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), 6 * np.array([0.5, -1.5]))


def test_kernel_function_refuses_create_graph():
    from numba import njit

    class Twice(jg.autograd.Function):
        forward_kernel = staticmethod(njit(cache=True)(_twice_forward))
        backward_kernel = staticmethod(njit(cache=True)(_twice_backward))

    x = jg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="create_graph=True is not supported"):
        jg.autograd.grad(Twice.apply(x).sum(), x, create_graph=True)


def _twice_forward(x, out):
    for i in range(x.size):
        out.flat[i] = 2 * x.flat[i]


def _twice_backward(g, x, out, gx):
    for i in range(x.size):
        gx.flat[i] = 2 * g.flat[i]


@pytest.mark.parametrize("fn_name", ["vjp", "jvp", "hvp", "vhp"])
def test_functional_matches_torch(fn_name):
    torch = pytest.importorskip("torch")
    import torch.autograd.functional as tf

    x0 = np.array([0.3, -1.2, 2.0])
    v0 = np.array([1.0, 0.5, -2.0])

    def f(lib):
        return (lambda x: (x.sin() * x ** 2).sum()) if fn_name in ("hvp", "vhp") else (lambda x: x.exp() * x)

    ours = {"vjp": vjp, "jvp": jvp, "hvp": hvp, "vhp": vhp}[fn_name](
        f(jg), jg.tensor(x0), jg.tensor(v0))
    theirs = getattr(tf, fn_name)(f(torch), torch.tensor(x0), torch.tensor(v0))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)


def test_jacobian_and_hessian_match_torch():
    torch = pytest.importorskip("torch")
    import torch.autograd.functional as tf

    if "stack" not in OPS:
        pytest.skip("jacobian needs the op library's stack")
    x0 = np.array([0.3, -1.2, 2.0])
    np.testing.assert_allclose(jacobian(lambda x: x.exp() * x.sum(), jg.tensor(x0)).numpy(),
                               tf.jacobian(lambda x: x.exp() * x.sum(), torch.tensor(x0)).numpy(), rtol=1e-12)
    np.testing.assert_allclose(hessian(lambda x: (x ** 3).sum() * x[0], jg.tensor(x0)).numpy(),
                               tf.hessian(lambda x: (x ** 3).sum() * x[0], torch.tensor(x0)).numpy(), rtol=1e-12)


def test_detect_anomaly_names_the_op():
    x = jg.tensor([0.0, 1.0], requires_grad=True)
    with jg.autograd.detect_anomaly():
        with pytest.raises(RuntimeError, match=r"Function 'SqrtBackward0' returned nan values in its 0th output."):
            (x.sqrt() * 0).sum().backward()
    # outside the context nothing is checked
    x.grad = None
    (x.sqrt() * 0).sum().backward()
    assert np.isnan(x.grad.numpy()[0])
