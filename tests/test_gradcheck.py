"""Table-driven gradient check: every differentiable op in ``jitgrad.ops.registry.OPS``.

For each OpInfo and each of its samples -- ``samples``, and the deferred ``extra['samples']``
(lists of tensors, index tensors, tuple outputs) -- the reverse-mode Jacobian is compared with
central differences by ``jitgrad.autograd.gradcheck`` (float64), and the grad_fn of each output
must be a node class the op declares (``OpInfo.node``; see ``declared_nodes``).  When torch is
importable, each grad_fn is also compared with PyTorch's for the same call.

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



# Differentiable ops that deliberately have no ``samples``: each is covered by an explicit case
# in EXTRA_CASES below (and in test_ops_vs_torch.py::test_unsampled_ops_match_torch).
NO_SAMPLES = {
    # aliases / thin wrappers of sampled ops
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

# Node classes ops create besides their ``OpInfo.node`` (found by running every sample here and
# in PyTorch).  INTERIM: these belong in the op table -- an ``OpInfo.nodes`` field naming the
# other node classes the op can create -- and this map goes away once the ops files declare them
# (test_interim_node_list_is_not_stale fails for an op that declares ``nodes`` and is still here).
_NODES_TO_DECLARE = {
    "sum": ("SumBackward1",),
    "mean": ("MeanBackward1",),
    "prod": ("ProdBackward1",),
    "pow": ("PowBackward1",),
    "rsub": ("RsubBackward0",),
    "remainder": ("RemainderBackward0",),
    "fmod": ("FmodBackward0",),
    "lerp": ("LerpBackward1",),
    "squeeze": ("SqueezeBackward1",),
    "split": ("SplitWithSizesBackward0",),
    "scatter": ("ScatterBackward1",),
    "getitem": ("SliceBackward0", "IndexBackward0"),
    "matmul": ("DotBackward0", "MvBackward0", "SqueezeBackward4", "UnsafeViewBackward0"),
    "einsum": ("MulBackward0", "PermuteBackward0", "SumBackward1"),
    "conv1d": ("SqueezeBackward1",),
    "conv2d": ("SqueezeBackward1",),
    "adaptive_avg_pool2d": ("MeanBackward1",),
    "l1_loss": ("AbsBackward0", "SumBackward0"),
    "nll_loss": ("NllLoss2DBackward0", "ViewBackward0"),
    "cross_entropy": ("NllLoss2DBackward0", "ViewBackward0", "NegBackward0", "AddBackward0", "DivBackward1"),
    "kl_div": ("SubBackward0", "DivBackward0"),
}


def declared_nodes(info) -> tuple:
    """The node classes op ``info`` may give its outputs: its ``node`` and ``nodes`` (once the
    table has that field; until then the interim list above)."""
    return (info.node,) + tuple(getattr(info, "nodes", ())) + _NODES_TO_DECLARE.get(info.name, ())


def _samples(info):
    """Every sample op ``info`` declares: ``samples``, then the deferred ``extra['samples']``
    (each from a fresh generator on the shared seed, so a case id always names the same inputs)."""
    out = []
    for gen in (info.samples, info.extra.get("samples")):
        if gen is not None:
            out.extend(gen(np.random.default_rng(SEED)))
    return out


def _cases():
    cases = []
    for name, info in OPS.items():
        if not info.differentiable:
            continue
        try:
            samples = _samples(info)
        except Exception as e:  # noqa: BLE001 - a broken sample generator fails its own test only
            cases.append(pytest.param(name, e, None, id=f"{name}-samples-error"))
            continue
        for i, (args, kwargs) in enumerate(samples):
            cases.append(pytest.param(name, args, kwargs, id=f"{name}-{i}"))
    return cases


CASES = _cases()


def _is_input(a) -> bool:
    return isinstance(a, np.ndarray) and a.dtype.kind == "f"


def _is_array_list(a) -> bool:
    """A list of arrays (``cat``/``stack`` inputs): its float arrays are differentiable inputs too."""
    return isinstance(a, list) and bool(a) and all(isinstance(v, np.ndarray) for v in a)


def _float_arrays(args):
    """The sample's differentiable inputs, in order (inside lists too)."""
    for a in args:
        for v in (a if _is_array_list(a) else (a,)):
            if _is_input(v):
                yield v


def _jg_inputs(args):
    """The sample's float arrays as float64 leaves requiring grad (other args left as they are)."""
    # from_numpy, not jitgrad.tensor: these tests are about the ops, not the factory
    return [jitgrad.from_numpy(np.array(a, dtype=np.float64)).requires_grad_() for a in _float_arrays(args)]


def _rebuild(args, tensors, module=jitgrad):
    """``args`` with each float array replaced, in order, by the matching tensor (and integer arrays
    by ``module``'s int tensors without grad); lists of arrays become lists of tensors."""
    it = iter(tensors)

    def one(a):
        return next(it) if _is_input(a) else sample_constant(a, module)

    return [[one(v) for v in a] if _is_array_list(a) else one(a) for a in args]


def _constants(kwargs, module):
    """Keyword arrays (class weights, running statistics, ...) as tensors without grad."""
    return {key: sample_constant(v, module) for key, v in kwargs.items()}


def _grad_fn_names(out) -> list:
    """The grad_fn names of an op's differentiable outputs (one result, or a tuple of them)."""
    outs = out if isinstance(out, tuple) else (out,)
    return [type(o.grad_fn).__name__ for o in outs if getattr(o, "requires_grad", False)]


# ------------------------------------------------------------------------------- coverage
def test_every_differentiable_op_has_samples_or_is_allow_listed():
    # an op counts as sampled only if some sample really comes out of its generators (an empty
    # ``samples`` list does not count)
    sampled = {c.values[0] for c in CASES}
    missing = sorted(n for n, info in OPS.items()
                     if info.differentiable and n not in sampled and n not in NO_SAMPLES)
    assert not missing, f"differentiable ops without samples (add samples or a NO_SAMPLES entry): {missing}"
    stale = sorted(n for n in NO_SAMPLES if n not in OPS or n in sampled)
    assert not stale, f"NO_SAMPLES names ops that no longer exist or now have samples: {stale}"


def test_interim_node_list_is_not_stale():
    for name, nodes in _NODES_TO_DECLARE.items():
        assert name in OPS, f"{name}: no such op"
        assert not getattr(OPS[name], "nodes", None), f"{name} declares OpInfo.nodes: drop its _NODES_TO_DECLARE entry"
        assert OPS[name].node not in nodes, name


def test_public_names_are_the_table_functions():
    for name, info in OPS.items():
        if info.public:
            for alias in (name,) + info.aliases:
                public = getattr(jitgrad, alias)
                # jitgrad.<name> is the table's function, or the type-checking wrapper around it
                assert public is info.function or getattr(public, "__wrapped__", None) is info.function, alias
        if info.method:
            for alias in (name,) + info.aliases:
                assert getattr(jitgrad.Tensor, alias) is info.function, alias


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
    out = info.function(*_rebuild(args, _jg_inputs(args)), **_constants(kwargs, jitgrad))
    got = _grad_fn_names(out)
    assert got, "no output of a differentiable sample requires grad"
    for o in (out if isinstance(out, tuple) else (out,)):
        if getattr(o, "requires_grad", False):
            assert type(o.grad_fn).__name__ == o.grad_fn.name()
    undeclared = sorted(set(got) - set(declared_nodes(info)))
    assert not undeclared, f"{name} creates node classes it does not declare: {undeclared}"


@pytest.mark.parametrize("name, args, kwargs", CASES)
def test_grad_fn_name_matches_torch(name, args, kwargs, torch):
    if isinstance(args, Exception):
        raise args
    info = OPS[name]
    out = info.function(*_rebuild(args, _jg_inputs(args)), **_constants(kwargs, jitgrad))
    leaves = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in _float_arrays(args)]
    targs = _rebuild(args, leaves, torch)
    kwargs = _constants(kwargs, torch)
    if name == "getitem":
        tout = targs[0][_torch_key(args[1], torch)]
    elif info.extra.get("functional"):  # declared as torch.nn.functional.<name>
        tout = getattr(torch.nn.functional, name)(*targs, **kwargs)
    else:
        fn = (getattr(torch, name, None) or getattr(torch.nn.functional, name, None)) if info.public else None
        tout = fn(*targs, **kwargs) if callable(fn) else getattr(targs[0], name)(*targs[1:], **kwargs)
    assert _grad_fn_names(out) == _grad_fn_names(tout)


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
