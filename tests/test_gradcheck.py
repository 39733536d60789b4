"""Table-driven gradient check: every differentiable op in ``jitgrad.ops.registry.OPS``.

For each OpInfo with samples, and each of its samples, the reverse-mode Jacobian is compared
with central differences by ``jitgrad.autograd.gradcheck`` (float64).  The grad_fn of each
sample's output is compared with PyTorch's for the same call (the real check), or, without
torch, checked against the set of names PyTorch can give that op.

A differentiable op with no samples must be listed in ``NO_SAMPLES`` with the reason, so a
newly declared op cannot slip past the gradient check unnoticed.
"""
import numpy as np
import pytest

import jitgrad
# The implementation module, imported directly: ``jitgrad.autograd.gradcheck`` (the public name)
# is itself under test in test_public_gradcheck_is_a_function below.
from jitgrad.autograd.gradcheck import GradcheckError, gradcheck
from jitgrad.ops.registry import OPS

from conftest import SEED, _torch_key, sample_constant

try:  # the grad_fn comparison uses torch when it is there; the gradcheck itself never does
    import torch
except ImportError:  # pragma: no cover - exercised only without the test extra
    torch = None


# Differentiable ops that deliberately have no ``samples``: each is covered by an explicit case
# in EXTRA_CASES below (and in test_ops_vs_torch.py::test_unsampled_ops_match_torch).
NO_SAMPLES = {
    # aliases / thin wrappers of sampled ops
    "clamp_min": "clamp(min=...) under another name",
    "clamp_max": "clamp(max=...) under another name",
    "view_as": "view(other.shape)",
    "reshape_as": "reshape(other.shape)",
    "expand_as": "expand(other.shape)",
    # zero gradient everywhere; a central difference across the jump would be meaningless
    "sign": "piecewise constant",
    # a bool condition/mask input, which samples (float arrays become tensors) cannot express:
    # gradcheck, gradgradcheck and torch comparisons in tests/test_pointwise_statistics.py
    "where": "bool condition tensor", "masked_fill": "bool mask tensor",
    # casts (ToCopyBackward0): gradcheck needs float64 in and out, so only the float64 -> float64
    # copy can be checked numerically; the dtype round trips are compared with torch instead
    "to": "cast", "type_as": "cast", "float": "cast", "double": "cast", "half": "cast",
    "long": "cast", "int": "cast", "short": "cast", "bool": "cast", "byte": "cast", "char": "cast",
}

# Names PyTorch may give an op's grad_fn (used only when torch is not importable).
PLAUSIBLE = {
    "add": {"AddBackward0", "AddBackward1"},
    "sub": {"SubBackward0", "SubBackward1"},
    "rsub": {"RsubBackward0", "RsubBackward1"},
    "mul": {"MulBackward0"},
    "div": {"DivBackward0"},
    "pow": {"PowBackward0", "PowBackward1", "PowBackward2"},
    "clamp": {"ClampBackward0", "ClampBackward1", "ClampMinBackward0", "ClampMaxBackward0"},
    "sum": {"SumBackward0", "SumBackward1"},
    "mean": {"MeanBackward0", "MeanBackward1"},
    "norm": {"LinalgVectorNormBackward0", "NormBackward0", "NormBackward1"},
    "matmul": {"DotBackward0", "MvBackward0", "MmBackward0", "BmmBackward0", "SqueezeBackward4",
               "UnsafeViewBackward0", "ViewBackward0"},
    "reshape": {"ViewBackward0", "UnsafeViewBackward0"},
    "flatten": {"ViewBackward0", "UnsafeViewBackward0"},
    "unflatten": {"ViewBackward0", "UnsafeViewBackward0"},
    "squeeze": {"SqueezeBackward0", "SqueezeBackward1", "SqueezeBackward2"},
    "getitem": {"SelectBackward0", "SliceBackward0", "IndexBackward0", "UnsqueezeBackward0",
                "AliasBackward0"},
}


def _cases():
    cases = []
    for name, info in OPS.items():
        if not info.differentiable or info.samples is None:
            continue
        try:
            samples = info.samples(np.random.default_rng(SEED))
        except Exception as e:  # noqa: BLE001 - a broken sample generator fails its own test only
            cases.append(pytest.param(name, e, None, id=f"{name}-samples-error"))
            continue
        for i, (args, kwargs) in enumerate(samples):
            cases.append(pytest.param(name, args, kwargs, id=f"{name}-{i}"))
    return cases


CASES = _cases()


def _is_input(a) -> bool:
    return isinstance(a, np.ndarray) and a.dtype.kind == "f"


def _jg_inputs(args):
    """The sample's float arrays as float64 leaves requiring grad (other args left as they are)."""
    # from_numpy, not jitgrad.tensor: these tests are about the ops, not the factory
    return [jitgrad.from_numpy(np.array(a, dtype=np.float64)).requires_grad_() for a in args if _is_input(a)]


def _rebuild(args, tensors):
    """``args`` with each float array replaced, in order, by the matching tensor (and integer arrays
    by int tensors without grad)."""
    it = iter(tensors)
    return [next(it) if _is_input(a) else sample_constant(a, jitgrad) for a in args]


def _constants(kwargs, module):
    """Keyword arrays (class weights, running statistics, ...) as tensors without grad."""
    return {key: sample_constant(v, module) for key, v in kwargs.items()}


# ------------------------------------------------------------------------------- coverage
def test_every_differentiable_op_has_samples_or_is_allow_listed():
    missing = sorted(n for n, info in OPS.items()
                     if info.differentiable and info.samples is None and n not in NO_SAMPLES)
    assert not missing, f"differentiable ops without samples (add samples or a NO_SAMPLES entry): {missing}"
    stale = sorted(n for n in NO_SAMPLES if n not in OPS)
    assert not stale, f"NO_SAMPLES names ops that no longer exist: {stale}"


def test_public_gradcheck_is_a_function():
    # torch.autograd.gradcheck is the function (the submodule must not shadow it)
    import jitgrad.autograd as ag

    assert callable(ag.gradcheck) and ag.gradcheck.__name__ == "gradcheck"
    x = jitgrad.tensor([0.5, -1.0], dtype=jitgrad.float64, requires_grad=True)
    assert ag.gradcheck(jitgrad.exp, (x,))


def test_gradcheck_detects_a_wrong_gradient():
    # guards the harness itself: a Function with a deliberately wrong backward must be caught
    class Bad(jitgrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 3

    x = jitgrad.tensor([0.5, -1.0], dtype=jitgrad.float64, requires_grad=True)
    with pytest.raises(GradcheckError):
        gradcheck(Bad.apply, (x,))


def test_table_is_not_empty():
    assert len(CASES) > 50


# ------------------------------------------------------------------------------- gradcheck
@pytest.mark.parametrize("name, args, kwargs", CASES)
def test_gradcheck(name, args, kwargs):
    if isinstance(args, Exception):
        raise args
    info = OPS[name]
    tensors = _jg_inputs(args)
    assert tensors, "a differentiable sample needs at least one float array input"
    kw = _constants(kwargs, jitgrad)
    assert gradcheck(lambda *ts: info.function(*_rebuild(args, ts), **kw), tensors)


@pytest.mark.parametrize("name, args, kwargs", CASES)
def test_grad_fn_name(name, args, kwargs):
    if isinstance(args, Exception):
        raise args
    info = OPS[name]
    tensors = _jg_inputs(args)
    out = info.function(*_rebuild(args, tensors), **_constants(kwargs, jitgrad))
    assert out.requires_grad and out.grad_fn is not None
    got = type(out.grad_fn).__name__
    assert got == out.grad_fn.name()
    if torch is None:
        assert got in PLAUSIBLE.get(name, {info.node}), got
        return
    targs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) if _is_input(a) else sample_constant(a, torch)
             for a in args]
    kwargs = _constants(kwargs, torch)
    if name == "getitem":
        tout = targs[0][_torch_key(args[1], torch)]
    elif info.extra.get("functional"):  # declared as torch.nn.functional.<name>
        tout = getattr(torch.nn.functional, name)(*targs, **kwargs)
    else:
        fn = (getattr(torch, name, None) or getattr(torch.nn.functional, name, None)) if info.public else None
        tout = fn(*targs, **kwargs) if callable(fn) else getattr(targs[0], name)(*targs[1:], **kwargs)
    assert got == type(tout.grad_fn).__name__


# ------------------------------------------------------------------------------- unsampled ops
def _x(shape, seed=0):
    return jitgrad.from_numpy(np.random.default_rng(seed).uniform(-2, 2, shape)).requires_grad_()


# Bounds for the tensor-bound clamp: lo (4,) and hi (3, 1) cross in the last row (lo > hi there,
# where PyTorch gives the whole gradient to max, also where x is below both); x keeps >= 0.1
# away from every bound.
_LO = np.array([-1.5, -0.5, 0.25, 0.5])
_HI = np.array([[1.7], [0.9], [-0.3]])
_XC = np.array([[-1.8, 0.0, 1.2, 2.0], [-1.0, -0.9, 0.6, 1.4], [-1.9, -0.7, -1.0, 0.9]])


def _const(a):
    return jitgrad.from_numpy(np.array(a, dtype=np.float64)).requires_grad_()


EXTRA_CASES = {
    # name: (function, input shapes or fixed arrays)
    "clamp_min": (lambda x: jitgrad.clamp_min(x, 0.3), [(3, 4)]),
    "clamp_max": (lambda x: jitgrad.clamp_max(x, -0.1), [(3, 4)]),
    "Tensor.clamp_min": (lambda x: x.clamp_min(0.3), [(5,)]),
    "clamp-tensor-bounds": (lambda x, lo, hi: jitgrad.clamp(x, lo, hi), [_XC, _LO, _HI]),
    "view_as": (lambda x, y: x.view_as(y) * y, [(3, 4), (2, 6)]),
    "reshape_as": (lambda x, y: x.reshape_as(y) * y, [(3, 4), (4, 3)]),
    "expand_as": (lambda x, y: x.expand_as(y) * y, [(3, 1), (2, 3, 4)]),
    "sign": (lambda x: jitgrad.sign(x) * x, [(3, 4)]),
    "to-copy": (lambda x: x.to(jitgrad.float64, copy=True), [(3,)]),
    "double-noop": (lambda x: x.double() * 2, [(3,)]),
    "type_as": (lambda x, y: x.type_as(y) * y, [(3,), (3,)]),
    # indexing keys the getitem samples do not cover
    "getitem-None": (lambda x: x[None], [(3, 4)]),
    "getitem-slice-None": (lambda x: x[:, None, 1:], [(3, 4)]),
    "getitem-steps": (lambda x: x[::2, 1::2], [(5, 6)]),
    "getitem-negative": (lambda x: x[-1, -2:], [(3, 4)]),
    "getitem-int-tensor": (lambda x: x[jitgrad.tensor([2, 0, 2])], [(3, 4)]),
    "getitem-bool-tensor": (lambda x: x[x > 0], [(3, 4)]),
    "getitem-two-arrays": (lambda x: x[[0, 2, 2], [1, 1, 3]], [(3, 4)]),
}


@pytest.mark.parametrize("case", sorted(EXTRA_CASES))
def test_gradcheck_unsampled(case):
    fn, shapes = EXTRA_CASES[case]
    inputs = [_const(s) if isinstance(s, np.ndarray) else _x(s, seed=i) for i, s in enumerate(shapes)]
    assert gradcheck(fn, inputs)
