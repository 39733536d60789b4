"""Table-driven gradient check: every differentiable op in ``jitgrad.ops.registry.OPS``.

For each OpInfo and each of its ``samples`` (lists of tensors, index tensors and tuple outputs
included) the reverse-mode Jacobian is compared with central differences by
``jitgrad.autograd.gradcheck`` (float64), and the grad_fn of each output must be a node class the
op declares (``OpInfo.node`` and ``OpInfo.nodes``).  When torch is importable, each grad_fn is
also compared with PyTorch's for the same call.

A differentiable op with no samples must be listed in ``NO_SAMPLES`` with the reason, so a
newly declared op cannot slip past the gradient check unnoticed.
"""
import warnings

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
    # the same; and PyTorch's gradient is a ZeroTensor the comparison cannot read: tests/test_idioms.py
    # checks sgn (gradcheck, gradgradcheck, values and node against torch)
    "sgn": "piecewise constant",
    # a bool condition/mask input, which samples (float arrays become tensors) cannot express:
    # gradcheck, gradgradcheck and torch comparisons in tests/test_pointwise_statistics.py
    "where": "bool condition tensor", "masked_fill": "bool mask tensor",
    # casts (ToCopyBackward0): gradcheck needs float64 in and out, so only the float64 -> float64
    # copy can be checked numerically; the dtype round trips are compared with torch instead
    "to": "cast", "type_as": "cast", "float": "cast", "double": "cast", "half": "cast",
    "long": "cast", "int": "cast", "short": "cast", "bool": "cast", "byte": "cast", "char": "cast",
}

def declared_nodes(info) -> tuple:
    """The node classes op ``info`` may give its outputs: its ``node`` and ``nodes``."""
    return (info.node,) + info.nodes


def _samples(info):
    """Op ``info``'s samples, from a fresh generator on the shared seed (so a case id always names
    the same inputs)."""
    return [] if info.samples is None else info.samples(np.random.default_rng(SEED))


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


def test_declared_nodes_are_listed_once():
    # ``nodes`` lists the *other* node classes (test_every_declared_node_is_reached: each is created)
    for name, info in OPS.items():
        assert info.node not in info.nodes and len(set(info.nodes)) == len(info.nodes), name
        assert not info.nodes or info.differentiable, f"{name}: a non-differentiable op creates no nodes"


def test_public_names_are_the_table_functions():
    for name, info in OPS.items():
        if info.public:
            for alias in (name,) + info.aliases:
                public = getattr(jitgrad, alias)
                # jitgrad.<name> is the table's function, or the type-checking wrapper around it
                assert public is info.function or getattr(public, "__wrapped__", None) is info.function, alias
        if info.method:
            method = info.function if info.method is True else info.method
            for alias in (name,) + info.aliases:
                assert jitgrad.Tensor.__dict__[alias] is method, alias
        for dunder in info.dunders:
            assert jitgrad.Tensor.__dict__[dunder] is info.function, dunder
        for attr, impl in info.methods.items():
            assert jitgrad.Tensor.__dict__[attr] is impl, attr


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


# ------------------------------------------------------------------------------- declared nodes
def _bn(m, x, *affine):
    """batch_norm of an empty batch (PyTorch's composition: a clone, times weight, plus bias)."""
    return m.nn.functional.batch_norm(x, m.zeros(3, dtype=m.float64), m.ones(3, dtype=m.float64), *affine)


def _fixed(m, low, high):
    """A (3, 4) float64 constant, the same in either library ``m``."""
    return m.linspace(low, high, 12, dtype=m.float64).reshape(3, 4)


def _loss(name, target=(-1.0, 1.0), weighted=False, **options):
    """``F.<name>(x, target, **options)`` with a constant target (and weight) as a NODE_CASES call."""
    def call(m, x):
        weight = {"weight": _fixed(m, 0.5, 2.0)} if weighted else {}
        return getattr(m.nn.functional, name)(x, _fixed(m, *target), **weight, **options)

    return call


# A call for each declared node no sample reaches (samples call the op's function on contiguous
# arrays, the tensor first): a scalar first operand, reflected operators, non-contiguous inputs, bool
# masks, empty batches, and loss options the nn samples do not use yet.
# name: (op, node, fn(module, *leaves), leaf shapes)
NODE_CASES = {
    "pow-scalar-base": ("pow", "PowBackward2", lambda m, x: m.pow(2.0, x), [(4,)]),
    "div-reflected": ("div", "MulBackward0", lambda m, x: 2.0 / x, [(3,)]),
    "reshape-noncontiguous": ("reshape", "UnsafeViewBackward0", lambda m, x: x.t().reshape(-1), [(3, 4)]),
    "flatten-noncontiguous": ("flatten", "UnsafeViewBackward0", lambda m, x: x.t().flatten(), [(3, 4)]),
    "masked_fill-tensor-value": ("masked_fill", "MaskedFillBackward1", lambda m, x, v: x.masked_fill(x > 0, v),
                                 [(3, 4), ()]),
    "batch_norm-empty": ("batch_norm", "CloneBackward0", lambda m, x: _bn(m, x), [(0, 3)]),
    "batch_norm-empty-weight": ("batch_norm", "MulBackward0", lambda m, x, w: _bn(m, x, w), [(0, 3), (3,)]),
    "batch_norm-empty-affine": ("batch_norm", "AddBackward0", lambda m, x, w, b: _bn(m, x, w, b),
                                [(0, 3), (3,), (3,)]),
    **{f"{loss}-weight-{reduction}": (loss, node, _loss(loss, weighted=True, reduction=reduction), [(3, 4)])
       for loss in ("mse_loss", "l1_loss")
       for reduction, node in (("none", "MulBackward0"), ("sum", "SumBackward0"), ("mean", "DivBackward0"))},
    **{f"smooth_l1_loss-beta0-{reduction}": ("smooth_l1_loss", node,
                                             _loss("smooth_l1_loss", reduction=reduction, beta=0.0), [(3, 4)])
       for reduction, node in (("none", "AbsBackward0"), ("sum", "SumBackward0"), ("mean", "MeanBackward0"))},
    "kl_div-mean": ("kl_div", "MeanBackward0", _loss("kl_div", target=(0.1, 0.9)), [(3, 4)]),
    "kl_div-log_target": ("kl_div", "MulBackward0",
                          _loss("kl_div", target=(-2.0, -0.1), reduction="none", log_target=True), [(3, 4)]),
}


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")  # kl_div's own deprecation warning
@pytest.mark.parametrize("case", sorted(NODE_CASES))
def test_node_case(case):
    name, node, fn, shapes = NODE_CASES[case]
    arrays = [np.random.default_rng(i).uniform(-2, 2, s) for i, s in enumerate(shapes)]
    leaves = [jitgrad.from_numpy(a.copy()).requires_grad_() for a in arrays]
    assert type(fn(jitgrad, *leaves).grad_fn).__name__ == node
    assert node in OPS[name].nodes, f"{name} does not declare {node}"
    assert gradcheck(lambda *ts: fn(jitgrad, *ts), leaves)
    torch = pytest.importorskip("torch")
    tout = fn(torch, *[torch.from_numpy(a.copy()).requires_grad_() for a in arrays])
    assert type(tout.grad_fn).__name__ == node


def test_every_declared_node_is_reached():
    # each node an op declares besides its main one comes out of one of its samples or a NODE_CASE,
    # so ``nodes`` cannot list a class the op never creates
    reached = {(case[0], case[1]) for case in NODE_CASES.values()}
    for param in CASES:
        name, args, kwargs = param.values
        if isinstance(args, Exception):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = OPS[name].function(*_rebuild(args, _jg_inputs(args)), **_constants(kwargs, jitgrad))
        reached.update((name, node) for node in _grad_fn_names(out))
    unreached = sorted((name, node) for name, info in OPS.items() for node in info.nodes
                       if (name, node) not in reached)
    assert not unreached, f"declared nodes no sample or NODE_CASE creates: {unreached}"


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
