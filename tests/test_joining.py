"""Joining, splitting, indexing and contraction ops (ops/joining.py, ops/contraction.py) and
``jitgrad.linalg``: what the table-driven tests cannot check.

* second derivatives (gradgradcheck) of every sample of these ops;
* multi-output views (split / chunk / unbind): node names, output_nr, shared storage;
* PyTorch's error messages, index bounds errors, repeated indices accumulating in backward;
* graph structure of einsum / outer / take_along_dim against PyTorch's;
* integer / bool / float16 inputs, non-contiguous inputs, in-place scatter, saved-index checks.
"""
import numpy as np
import pytest

import jitgrad as jg
from jitgrad.autograd.gradcheck import gradgradcheck
from jitgrad.ops import contraction, joining
from jitgrad.ops.registry import OPS

from conftest import SEED

try:
    import torch
except ImportError:  # the comparisons below skip; the jitgrad-only checks still run
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="compares with PyTorch (torch not importable)")

MY_OPS = sorted(n for n, info in OPS.items() if info.function.__module__ in (joining.__name__, contraction.__name__)
                and info.differentiable)
TOL = {"float64": {"rtol": 1e-10, "atol": 1e-12}, "float32": {"rtol": 1e-5, "atol": 1e-6},
       "float16": {"rtol": 1e-3, "atol": 1e-3}}


# ------------------------------------------------------------------------------- helpers
def _samples(name):
    return OPS[name].samples(np.random.default_rng(SEED))


def _cases():
    return [pytest.param(name, i, id=f"{name}-{i}") for name in MY_OPS for i, _ in enumerate(_samples(name))]


def _convert(a, m, dtype="float64", leaves=None):
    """A sample argument for module ``m``: float arrays -> leaves requiring grad (collected in
    ``leaves``), int arrays -> int64 tensors, lists/tuples of arrays -> lists of tensors."""
    if isinstance(a, np.ndarray):
        if a.dtype.kind == "f":
            t = m.from_numpy(a.astype(dtype)).requires_grad_()
            if leaves is not None:
                leaves.append(t)
            return t
        return m.from_numpy(a.astype(np.int64))
    if isinstance(a, list) and a and all(isinstance(v, np.ndarray) for v in a):
        return [_convert(v, m, dtype, leaves) for v in a]
    return a


def _np(t):
    return np.asarray(t.detach().numpy())


def _same(j, t, dtype=None, what=""):
    assert str(j.dtype) == str(t.dtype), f"{what}: dtype {j.dtype} vs {t.dtype}"
    assert tuple(j.shape) == tuple(t.shape), f"{what}: shape {tuple(j.shape)} vs {tuple(t.shape)}"
    a, b = _np(j), _np(t)
    if b.dtype.kind in "biu":
        np.testing.assert_array_equal(a, b, err_msg=what)
    else:
        np.testing.assert_allclose(a, b, err_msg=what, **TOL[dtype or b.dtype.name])


def _backward_both(jouts, touts, seed=0):
    rng = np.random.default_rng(seed)
    jl, tl = 0, 0
    for j, t in zip(jouts, touts):
        if not t.requires_grad:
            continue
        w = rng.uniform(-1, 1, tuple(t.shape)).astype(_np(t).dtype)
        jl = jl + (j * jg.from_numpy(w)).sum()
        tl = tl + (t * torch.from_numpy(w)).sum()
    jl.backward()
    tl.backward()


# jitgrad's reshape (ops/shape.py) records ViewBackward0 where PyTorch records
# ReshapeAliasBackward0 (a non-contiguous input that reshapes as a view); not this module's concern
_SAME_NODE = {"ReshapeAliasBackward0": "ViewBackward0"}


def _tree(fn, depth=10):
    if fn is None:
        return None
    name = type(fn).__name__
    name = _SAME_NODE.get(name, name)
    if depth == 0 or name == "AccumulateGrad":
        return name
    return (name, [(_tree(c, depth - 1), nr) for c, nr in fn.next_functions])


def _raises_like(fn_torch, fn_jg, exact=True):
    """jitgrad raises what PyTorch raises: the same builtin class and message (first line)."""
    with pytest.raises(Exception) as te:
        fn_torch()
    expected = next(c for c in type(te.value).__mro__ if c.__module__ == "builtins")
    with pytest.raises(expected) as je:
        fn_jg()
    if exact:
        assert str(je.value).split("\n")[0] == str(te.value).split("\n")[0]


# ------------------------------------------------------------------------------- samples
def test_every_op_has_samples():
    # the values, output places, grad_fn names and gradients of these samples are compared with
    # PyTorch by tests/test_ops_vs_torch.py::test_sample_matches_torch (lists and tuples included)
    for name in MY_OPS:
        assert _samples(name), name


@pytest.mark.parametrize("name, i", _cases())
def test_gradgradcheck(name, i):
    args, kwargs = _samples(name)[i]
    leaves = []
    conv = [_convert(a, jg, "float64", leaves) for a in args]
    fn = OPS[name].function

    def f(*ts):
        it = iter(ts)
        rebuilt = [[next(it) for _ in a] if isinstance(a, list) and a and isinstance(a[0], jg.Tensor)
                   else (next(it) if isinstance(a, jg.Tensor) and a.requires_grad else a) for a in conv]
        return fn(*rebuilt, **kwargs)

    assert gradgradcheck(f, leaves)


# ------------------------------------------------------------------------------- multi-output views
@needs_torch
@pytest.mark.parametrize("expr", [
    lambda m, x: m.split(x, 2), lambda m, x: x.split([1, 3], 1), lambda m, x: m.split(x, [4], 1),
    lambda m, x: x.split(5, -1), lambda m, x: m.chunk(x, 2, 1), lambda m, x: x.chunk(3),
    lambda m, x: m.unbind(x, 1), lambda m, x: x.unbind(), lambda m, x: m.split_with_sizes(x, [2, 0, 1]),
    lambda m, x: m.chunk(x[:, :0], 3, 1), lambda m, x: m.split(x[:0], 0),
], ids=["split-int", "split-list", "split-one", "split-big", "chunk", "chunk-method", "unbind", "unbind-method",
        "split_with_sizes-zero", "chunk-empty", "split-zero-empty"])
def test_multi_output_views(expr):
    base = np.arange(12.0).reshape(3, 4)
    jx = (jg.from_numpy(base.copy()).requires_grad_() * 1)
    tx = (torch.from_numpy(base.copy()).requires_grad_() * 1)
    jouts, touts = expr(jg, jx), expr(torch, tx)
    assert isinstance(jouts, tuple) and len(jouts) == len(touts)
    for j, t in zip(jouts, touts):
        _same(j, t)
        assert type(j.grad_fn).__name__ == type(t.grad_fn).__name__
        assert j.output_nr == t.output_nr and j.grad_fn is jouts[0].grad_fn
        assert j._base is jx  # a view of the input
    jx.add_(1)  # one version counter for the input and its views
    tx.add_(1)
    assert [j._version for j in jouts] == [t._version for t in touts]
    if jouts[0].numel():
        assert _np(jouts[0]).ravel()[0] == _np(touts[0]).ravel()[0]


@needs_torch
def test_split_backward_with_unused_outputs():
    # outputs that get no gradient contribute zeros (PyTorch materialises them)
    for m in (jg, torch):
        x = m.from_numpy(np.arange(6.0)).requires_grad_()
        _, b, _ = x.split(2)
        (b * 3).sum().backward()
        assert x.grad.tolist() == [0, 0, 3, 3, 0, 0]
        y = m.from_numpy(np.arange(6.0).reshape(2, 3)).requires_grad_()
        u = y.unbind(1)
        (u[2] * 2).sum().backward()
        assert y.grad.tolist() == [[0, 0, 2], [0, 0, 2]]


def test_split_no_grad_and_non_requiring_inputs():
    x = jg.arange(6.0)
    outs = x.split(4)
    assert all(o.grad_fn is None and not o.requires_grad for o in outs)
    with jg.no_grad():
        outs = jg.ones(4, requires_grad=True).chunk(2)
    assert all(o.grad_fn is None for o in outs)


# ------------------------------------------------------------------------------- error messages
def _x(m, *shape, dtype="float32"):
    return m.from_numpy(np.arange(float(np.prod(shape))).reshape(shape).astype(dtype))


def _i(m, data):
    return m.tensor(data)


def _F(m):
    return torch.nn.functional if m is torch else jg.nn.functional


ERRORS = {
    # cat / stack
    "cat-sizes": lambda m: m.cat([_x(m, 2, 3), _x(m, 3, 3)], 1),
    "cat-sizes-dim0": lambda m: m.cat([_x(m, 2, 3), _x(m, 2, 4)], 0),
    "cat-sizes-neg-dim": lambda m: m.cat([_x(m, 2, 3), _x(m, 3, 3)], -1),
    "cat-sizes-third": lambda m: m.cat([_x(m, 3), _x(m, 0), _x(m, 2, 3)]),
    "cat-ndim": lambda m: m.cat([_x(m, 2, 3), _x(m, 3)]),
    "cat-0d": lambda m: m.cat([_x(m, 2), m.tensor(1.0)]),
    "cat-empty-list": lambda m: m.cat([]),
    "cat-tensor": lambda m: m.cat(_x(m, 2, 3)),
    "cat-non-tensor": lambda m: m.cat([_x(m, 2), 1]),
    "cat-dim-range": lambda m: m.cat([_x(m, 2, 3)], 2),
    "cat-dim-float": lambda m: m.cat([_x(m, 2, 3)], 1.0),
    "cat-2d-empty": lambda m: m.cat([_x(m, 0, 2), _x(m, 2, 3)]),
    "stack-sizes": lambda m: m.stack([_x(m, 2, 3), _x(m, 2, 4)]),
    "stack-empty": lambda m: m.stack([]),
    "stack-dim": lambda m: m.stack([_x(m, 2)], 2),
    # split / chunk / unbind
    "split-negative": lambda m: m.split(_x(m, 2, 3), -1, 1),
    "split-zero": lambda m: m.split(_x(m, 2, 3), 0, 1),
    "split-sum": lambda m: m.split(_x(m, 2, 3), [1, 1], 1),
    "split-sum-neg-dim": lambda m: m.split(_x(m, 2, 3), [1, 1], -1),
    "split-negative-size": lambda m: m.split(_x(m, 2, 3), [4, -1], 1),
    "split-0d": lambda m: m.split(m.tensor(1.0), 1),
    "split-float": lambda m: m.split(_x(m, 2, 3), 2.0, 1),
    "split-dim": lambda m: m.split(_x(m, 2, 3), 1, 2),
    "chunk-zero": lambda m: m.chunk(_x(m, 2, 3), 0),
    "chunk-0d": lambda m: m.chunk(m.tensor(1.0), 1),
    "unbind-0d": lambda m: m.unbind(m.tensor(1.0)),
    "unbind-dim": lambda m: m.unbind(_x(m, 2, 3), 2),
    # gather / scatter / index_select / take_along_dim
    "gather-oob": lambda m: m.gather(_x(m, 3, 4), 1, _i(m, [[4, 0]])),
    "gather-negative": lambda m: m.gather(_x(m, 3, 4), 1, _i(m, [[0, -1]])),
    "gather-oob-dim0": lambda m: m.gather(_x(m, 3, 4), 0, _i(m, [[0, 1], [1, 3]])),
    "gather-ndim": lambda m: m.gather(_x(m, 3, 4), 1, _i(m, [0, 1])),
    "gather-size": lambda m: m.gather(_x(m, 3, 4), 1, m.zeros(4, 1, dtype=m.int64)),
    "gather-float-index": lambda m: m.gather(_x(m, 3, 4), 1, m.zeros(1, 1)),
    "gather-dim": lambda m: m.gather(_x(m, 3, 4), 2, _i(m, [[0]])),
    "gather-list": lambda m: m.gather(_x(m, 3, 4), 1, [[0]]),
    "scatter_add-oob": lambda m: m.scatter_add(_x(m, 3, 4), 1, _i(m, [[5]]), _x(m, 2, 2)),
    "scatter_add-dtype": lambda m: m.scatter_add(_x(m, 3, 4), 1, _i(m, [[0]]), _x(m, 2, 2, dtype="float64")),
    "scatter_add-src-size": lambda m: m.scatter_add(_x(m, 3, 4), 1, _i(m, [[0, 1], [1, 3]]), _x(m, 2, 1)),
    "scatter_add-self-size": lambda m: m.scatter_add(_x(m, 3, 4), 1, m.zeros(4, 1, dtype=m.int64), _x(m, 4, 2)),
    "scatter_add-ndim": lambda m: m.scatter_add(_x(m, 3, 4), 1, _i(m, [0, 1]), _x(m, 2)),
    "scatter-src-ndim": lambda m: m.scatter(_x(m, 3, 4), 1, _i(m, [[0, 1]]), m.tensor(2.0)),
    "scatter-oob": lambda m: m.scatter(_x(m, 3, 4), 1, _i(m, [[0, 4]]), 2.0),
    "index_select-oob": lambda m: m.index_select(_x(m, 3, 4), 0, _i(m, [3])),
    "index_select-negative": lambda m: m.index_select(_x(m, 3, 4), 0, _i(m, [0, -1])),
    "index_select-2d": lambda m: m.index_select(_x(m, 3, 4), 0, _i(m, [[0]])),
    "index_select-float": lambda m: m.index_select(_x(m, 3, 4), 0, m.zeros(1)),
    "index_select-int16": lambda m: m.index_select(_x(m, 3, 4), 0, m.zeros(1, dtype=m.int16)),
    "index_select-list": lambda m: m.index_select(_x(m, 3, 4), 0, [0]),
    "index_select-scalar": lambda m: m.index_select(m.tensor(5.0), 0, _i(m, [0, 0])),
    "take_along_dim-int32": lambda m: m.take_along_dim(_x(m, 3, 4), _i(m, [[0]]).int(), 1),
    "take_along_dim-ndim": lambda m: m.take_along_dim(_x(m, 3, 4), _i(m, [0]), 1),
    "take_along_dim-bcast": lambda m: m.take_along_dim(_x(m, 3, 4), _i(m, [[0, 1], [1, 2]]), 1),
    "take_along_dim-oob-flat": lambda m: m.take_along_dim(_x(m, 3, 4), _i(m, [12])),
    "take_along_dim-noncontig": lambda m: m.take_along_dim(_x(m, 3, 4).t(), _i(m, [5])),
    # flip / roll / repeat / tile / narrow
    "flip-dup": lambda m: m.flip(_x(m, 3, 4), (0, -2)),
    "flip-dim": lambda m: m.flip(_x(m, 3, 4), [2]),
    "roll-align": lambda m: m.roll(_x(m, 3, 4), (1, 2), 0),
    "roll-align-nodims": lambda m: m.roll(_x(m, 3, 4), (1, 2)),
    "roll-empty-shifts": lambda m: m.roll(_x(m, 3, 4), (), 0),
    "roll-0d-dim": lambda m: m.roll(m.tensor(1.0), 1, 0),
    "roll-float": lambda m: m.roll(_x(m, 3, 4), 1.5),
    "repeat-short": lambda m: _x(m, 3, 4).repeat(2),
    "repeat-negative": lambda m: _x(m, 3, 4).repeat(-1, 1),
    "repeat-missing": lambda m: _x(m, 3, 4).repeat(),
    "tile-negative": lambda m: m.tile(_x(m, 3, 4), (-1,)),
    "narrow-exceeds": lambda m: m.narrow(_x(m, 3, 4), 1, 3, 2),
    "narrow-exceeds-neg-start": lambda m: m.narrow(_x(m, 3, 4), 1, -1, 2),
    "narrow-start-range": lambda m: m.narrow(_x(m, 3, 4), 1, -5, 1),
    "narrow-length": lambda m: m.narrow(_x(m, 3, 4), 1, 5, -1),
    "narrow-0d": lambda m: m.narrow(m.tensor(1.0), 0, 0, 1),
    "narrow-start-tensor": lambda m: m.narrow(_x(m, 3, 4), 1, m.tensor([1]), 1),
    # pad
    "pad-odd": lambda m: _F(m).pad(_x(m, 3, 4), (1,)),
    "pad-long": lambda m: _F(m).pad(_x(m, 3, 4), (1, 1, 1, 1, 1, 1)),
    "pad-crop-too-much": lambda m: _F(m).pad(_x(m, 3, 4), (-3, -2)),
    "pad-crop-then-pad": lambda m: _F(m).pad(_x(m, 3, 4), (-5, 2)),
    "pad-float": lambda m: _F(m).pad(_x(m, 3, 4), (1.5, 1)),
    "pad-mode": lambda m: _F(m).pad(_x(m, 3, 4), (1, 1), mode="foo"),
    "pad-overflow": lambda m: _F(m).pad(_x(m, 3, dtype="uint8"), (1, 1), value=300),
    "pad-overflow-int32": lambda m: _F(m).pad(_x(m, 3, dtype="int32"), (1, 1), value=1e30),
    "constant_pad_nd-odd": lambda m: m.constant_pad_nd(_x(m, 3, 4), (1,)),
    "constant_pad_nd-long": lambda m: m.constant_pad_nd(_x(m, 3, 4), (1, 1, 1, 1, 1, 1)),
    # tril / triu / diagonal / outer
    "tril-1d": lambda m: m.tril(_x(m, 3)),
    "triu-float-diag": lambda m: m.triu(_x(m, 3, 3), 1.5),
    "diagonal-same": lambda m: m.diagonal(_x(m, 3, 4), 0, 0, -2),
    "diagonal-dim": lambda m: m.diagonal(_x(m, 3)),
    "outer-2d": lambda m: m.outer(_x(m, 3, 4), _x(m, 3)),
    "outer-vec2": lambda m: m.outer(_x(m, 3), _x(m, 3, 4)),
    "ger-2d": lambda m: m.ger(_x(m, 3, 4), _x(m, 3)),
    "outer-list": lambda m: m.outer(_x(m, 3), [1]),
    # einsum
    "einsum-subscripts": lambda m: m.einsum("ij", _x(m, 3)),
    "einsum-too-many-operands": lambda m: m.einsum("i", _x(m, 3), _x(m, 3)),
    "einsum-too-few-operands": lambda m: m.einsum("i,i,i", _x(m, 3), _x(m, 3)),
    "einsum-invalid": lambda m: m.einsum("i->i->", _x(m, 3)),
    "einsum-invalid-lhs": lambda m: m.einsum("i1", _x(m, 3, 3)),
    "einsum-out-twice": lambda m: m.einsum("ij->ii", _x(m, 3, 3)),
    "einsum-out-unknown": lambda m: m.einsum("ij->k", _x(m, 3, 3)),
    "einsum-sizes": lambda m: m.einsum("ij,jk->ik", _x(m, 3, 4), _x(m, 3, 4)),
    "einsum-diag-sizes": lambda m: m.einsum("ii->i", _x(m, 3, 4)),
    "einsum-ellipsis-twice": lambda m: m.einsum("......", _x(m, 3, 4)),
    "einsum-ellipsis-dots": lambda m: m.einsum("i..", _x(m, 3, 4)),
    "einsum-ellipsis-more": lambda m: m.einsum("ijk...", _x(m, 3, 4)),
    "einsum-dtypes": lambda m: m.einsum("i,i->", _x(m, 3), _x(m, 3, dtype="float64")),
    "einsum-no-operands": lambda m: m.einsum("i"),
    "einsum-sublist-range": lambda m: m.einsum(_x(m, 3), [60]),
    # linalg
    "vector_norm-ord-str": lambda m: m.linalg.vector_norm(_x(m, 3), "fro"),
    "vector_norm-int": lambda m: m.linalg.vector_norm(_x(m, 3, dtype="int64")),
    "vector_norm-narrowing": lambda m: m.linalg.vector_norm(_x(m, 3, dtype="float64"), dtype=m.float32),
    "vector_norm-dim": lambda m: m.linalg.vector_norm(_x(m, 3, 4), dim=2),
    "norm-order": lambda m: m.linalg.norm(_x(m, 3, 4), 3),
    "norm-fro-1d": lambda m: m.linalg.norm(_x(m, 4), "fro"),
    "norm-3d-ord": lambda m: m.linalg.norm(_x(m, 2, 3, 4), 2),
    "norm-fro-dim": lambda m: m.linalg.norm(_x(m, 3, 4), "fro", dim=1),
    "norm-dims": lambda m: m.linalg.norm(_x(m, 3, 4), dim=(0, 1, 1)),
    "matrix_norm-1d": lambda m: m.linalg.matrix_norm(_x(m, 4)),
    "matrix_norm-same-dims": lambda m: m.linalg.matrix_norm(_x(m, 3, 4), dim=(0, -2)),
    "matrix_norm-order": lambda m: m.linalg.matrix_norm(_x(m, 3, 4), 3.5),
    "matrix_norm-order-str": lambda m: m.linalg.matrix_norm(_x(m, 3, 4), "abc"),
    "matrix_norm-3-dims": lambda m: m.linalg.matrix_norm(_x(m, 3, 4), dim=(0, 1, 2)),
    "matrix_norm-int": lambda m: m.linalg.matrix_norm(_x(m, 3, 4, dtype="int64")),
}


@needs_torch
@pytest.mark.parametrize("case", sorted(ERRORS))
def test_error_matches_torch(case):
    fn = ERRORS[case]
    _raises_like(lambda: fn(torch), lambda: fn(jg))


@needs_torch
def test_scatter_src_grad_shape_error():
    # PyTorch's engine refuses a gradient whose shape does not fit: index smaller than src
    for m in (torch, jg):
        x = m.from_numpy(np.zeros((3, 4))).requires_grad_()
        s = m.from_numpy(np.ones((2, 3))).requires_grad_()
        with pytest.raises(RuntimeError, match=r"Function ScatterAddBackward0 returned an invalid gradient at index "
                                               r"1 - got \[2, 2\] but expected shape compatible with \[2, 3\]"):
            m.scatter_add(x, 1, m.tensor([[0, 1], [1, 3]]), s).sum().backward()


@needs_torch
def test_modified_index_is_detected():
    for m in (torch, jg):
        x = m.from_numpy(np.zeros((3, 4))).requires_grad_()
        i = m.tensor([[0, 1], [1, 2]])
        y = m.gather(x, 1, i)
        i.add_(1)
        with pytest.raises(RuntimeError, match=r"\[torch.LongTensor \[2, 2\]\] is at version 1; expected version 0"):
            y.sum().backward()
        i2 = m.tensor([0, 2])
        y2 = m.index_select(x, 1, i2)
        i2.zero_()
        with pytest.raises(RuntimeError, match=r"\[torch.LongTensor \[2\]\] is at version 1; expected version 0"):
            y2.sum().backward()


# ------------------------------------------------------------------------------- repeated indices
REPEATS = {
    "gather": lambda m, x: m.gather(x, 1, m.tensor([[0, 0, 0], [2, 2, 1], [3, 0, 3]])),
    "gather-dim0": lambda m, x: m.gather(x, 0, m.tensor([[1, 1, 1, 1], [1, 0, 1, 0]])),
    "index_select": lambda m, x: m.index_select(x, 1, m.tensor([3, 3, 0, 3])),
    "index_select-int32": lambda m, x: m.index_select(x, 0, m.tensor([2, 2], dtype=m.int32)),
    "take_along_dim": lambda m, x: m.take_along_dim(x, m.tensor([[1, 1, 1]]), 1),
    "take_along_dim-flat": lambda m, x: m.take_along_dim(x, m.tensor([5, 5, 0, 5])),
    "scatter_add": lambda m, x: m.scatter_add(x * 0, 1, m.tensor([[0, 0, 0], [1, 1, 3], [2, 2, 2]]), x[:, :3] * 2),
    "gather-int32-index": lambda m, x: m.gather(x, 1, m.tensor([[1, 1]], dtype=m.int32)),
}


@needs_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", sorted(REPEATS))
def test_repeated_indices_accumulate(case, dtype):
    base = np.random.default_rng(1).uniform(-1, 1, (3, 4)).astype(dtype)
    jx, tx = jg.from_numpy(base.copy()).requires_grad_(), torch.from_numpy(base.copy()).requires_grad_()
    jo, to = REPEATS[case](jg, jx), REPEATS[case](torch, tx)
    _same(jo, to)
    assert type(jo.grad_fn).__name__ == type(to.grad_fn).__name__
    _backward_both([jo], [to])
    _same(jx.grad, tx.grad)
    assert np.count_nonzero(_np(jx.grad)) < base.size  # some positions got nothing, some several


# ------------------------------------------------------------------------------- graph structure
STRUCTURE = {
    "outer": lambda m, a, b, c: m.outer(a[0], b[0]),
    "take_along_dim": lambda m, a, b, c: m.take_along_dim(a, m.tensor([[0], [2], [1]]), 1),
    "take_along_dim-flat": lambda m, a, b, c: m.take_along_dim(a, m.tensor([4, 1])),
    "cat-empty": lambda m, a, b, c: m.cat([a, m.zeros(0, requires_grad=True), b], 0),
    "stack-cat": lambda m, a, b, c: m.stack([m.cat([a, b]), m.cat([b, a])], 1),
    "narrow-of-split": lambda m, a, b, c: m.narrow(a.split(1)[1], 1, 1, 2),
    "pad-neg": lambda m, a, b, c: _F(m).pad(a, (-1, 2, 1, 0)),
    "tile-repeat": lambda m, a, b, c: m.tile(a, (2,)) + a.repeat(1, 2),
    "einsum-mm": lambda m, a, b, c: m.einsum("ij,kj->ik", a, b),
    "einsum-bmm": lambda m, a, b, c: m.einsum("bij,bjk->bik", a.reshape(3, 1, 4), c.reshape(3, 4, 1)),
    "einsum-trace": lambda m, a, b, c: m.einsum("ii->", a[:, :3]),
    "einsum-diag": lambda m, a, b, c: m.einsum("ii->i", a[:, :3]),
    "einsum-transpose": lambda m, a, b, c: m.einsum("ij->ji", a),
    "einsum-dot": lambda m, a, b, c: m.einsum("ij,ij->", a, c),
    "einsum-outer": lambda m, a, b, c: m.einsum("i,j->ij", a[0], b[1]),
    "einsum-sum": lambda m, a, b, c: m.einsum("ij->j", a),
    "einsum-implicit": lambda m, a, b, c: m.einsum("ij,jk", a, c.t()),
    "einsum-ellipsis": lambda m, a, b, c: m.einsum("...j,kj->...k", a, b),
    "einsum-broadcast": lambda m, a, b, c: m.einsum("ij,ij->i", a, b[:1]),
    "einsum-sum-one-side": lambda m, a, b, c: m.einsum("ij,kl->ik", a, b),
    "einsum-three": lambda m, a, b, c: m.einsum("ij,kj,il->kl", a, b, c),
    "einsum-three-list": lambda m, a, b, c: m.einsum("ij,jk,kl->il", [a, b.t(), b]),
    "einsum-sublist": lambda m, a, b, c: m.einsum(a, [0, 1], b, [2, 1], [0, 2]),
    "einsum-hadamard": lambda m, a, b, c: m.einsum("ij,ij->ij", a, c),
    "einsum-batch-diag": lambda m, a, b, c: m.einsum("bii->bi", a[:, :3].expand(2, 3, 3)),
}


@needs_torch
@pytest.mark.parametrize("case", sorted(STRUCTURE))
def test_graph_structure_matches_torch(case):
    rng = np.random.default_rng(5)
    arrays = [rng.uniform(-1, 1, s) for s in [(3, 4), (2, 4), (3, 4)]]
    jl = [jg.from_numpy(a.copy()).requires_grad_() for a in arrays]
    tl = [torch.from_numpy(a.copy()).requires_grad_() for a in arrays]
    jo, to = STRUCTURE[case](jg, *jl), STRUCTURE[case](torch, *tl)
    assert _tree(jo.grad_fn) == _tree(to.grad_fn)
    _same(jo, to)
    _backward_both([jo], [to])
    for j, t in zip(jl, tl):
        assert (j.grad is None) == (t.grad is None)
        if t.grad is not None:
            _same(j.grad, t.grad)


# ------------------------------------------------------------------------------- dtypes and layouts
DTYPE_CASES = {
    "cat-promote": lambda m: m.cat([_x(m, 2, dtype="int32"), _x(m, 2, dtype="float64")]),
    "cat-int-bool": lambda m: m.cat([_x(m, 2, dtype="int32"), _x(m, 2, dtype="bool")]),
    "cat-int-empty-float": lambda m: m.cat([_x(m, 2, 3, dtype="int64"), m.zeros(0)]),
    "cat-all-empty": lambda m: m.cat([m.zeros(0), m.zeros(0)], 1),
    "concat-f16": lambda m: m.concat([_x(m, 2, dtype="float16"), _x(m, 3, dtype="float16")]),
    "concatenate": lambda m: m.concatenate((_x(m, 2, 1), _x(m, 2, 2)), 1),
    "cat-axis": lambda m: m.cat([_x(m, 2, 1), _x(m, 2, 2)], axis=-1),
    "stack-axis": lambda m: m.stack([_x(m, 2, 1), _x(m, 2, 1)], axis=1),
    "stack-promote": lambda m: m.stack([_x(m, 2, dtype="int64"), _x(m, 2, dtype="float32")], 1),
    "stack-0d": lambda m: m.stack([m.tensor(1.0), m.tensor(2.0)]),
    "gather-bool": lambda m: m.gather(_x(m, 3, 4, dtype="bool"), 1, m.tensor([[0, 3]])),
    "gather-int8": lambda m: m.gather(_x(m, 3, 4, dtype="int8"), 0, m.tensor([[2, 1, 0, 2]])),
    "gather-f16": lambda m: m.gather(_x(m, 3, 4, dtype="float16"), 1, m.tensor([[3], [0], [1]])),
    "gather-0d": lambda m: m.gather(m.tensor(2.5), 0, m.tensor(0)),
    "gather-0d-1d-index": lambda m: m.gather(m.tensor(2.5), 0, m.tensor([0, 0])),
    "gather-empty-index": lambda m: m.gather(_x(m, 3, 4), 1, m.zeros(0, 2, dtype=m.int64)),
    "gather-wide-index": lambda m: m.gather(_x(m, 3, 4), 1, m.tensor([[0, 1, 2, 3, 0]])),
    "scatter_add-int": lambda m: m.scatter_add(_x(m, 3, 4, dtype="int64"), 1, m.tensor([[0, 0]]),
                                               _x(m, 1, 2, dtype="int64")),
    "scatter_add-bool": lambda m: m.scatter_add(_x(m, 2, 2, dtype="bool"), 1, m.tensor([[0, 0]]),
                                                _x(m, 1, 2, dtype="bool")),
    "scatter_add-f16": lambda m: m.scatter_add(_x(m, 2, 3, dtype="float16"), 1, m.tensor([[0, 0, 2]]),
                                               _x(m, 1, 3, dtype="float16")),
    "scatter_add-wide-index": lambda m: m.scatter_add(_x(m, 3, 4), 1, m.tensor([[0, 3, 3, 1, 0]]), _x(m, 2, 5)),
    "scatter-value-int": lambda m: m.scatter(_x(m, 3, 4, dtype="int64"), 0, m.tensor([[2, 0]]), 7),
    "scatter-src": lambda m: m.scatter(_x(m, 3, 4), 1, m.tensor([[3, 1], [0, 2]]), src=-_x(m, 2, 3)),
    "index_select-bool": lambda m: m.index_select(_x(m, 3, 4, dtype="bool"), 1, m.tensor([0, 0, 3])),
    "index_select-0d": lambda m: m.index_select(m.tensor(5.0), 0, m.tensor(0)),
    "index_select-empty": lambda m: m.index_select(_x(m, 3, 4), 0, m.tensor([], dtype=m.int64)),
    "take_along_dim-int": lambda m: m.take_along_dim(_x(m, 3, 4, dtype="int32"), m.tensor([[0, 2]]), 1),
    "flip-int": lambda m: m.flip(_x(m, 2, 3, dtype="int16"), [0, 1]),
    "flip-0d": lambda m: m.flip(m.tensor(1.5), [0]),
    "flip-method-varargs": lambda m: _x(m, 2, 3).flip(0, 1),
    "flip-dims-keyword": lambda m: m.flip(_x(m, 2, 3), dims=[1]),
    "tile-dims-keyword": lambda m: m.tile(_x(m, 2, 3), dims=(2, 1, 1)),
    "roll-bool": lambda m: m.roll(_x(m, 2, 3, dtype="bool"), -1, 1),
    "roll-empty": lambda m: m.roll(m.zeros(0, 3), 1, 0),
    "roll-0d": lambda m: m.roll(m.tensor(1.5), 3),
    "roll-big-shift": lambda m: m.roll(_x(m, 3, 4), (-7, 9), (1, 0)),
    "roll-same-dim-twice": lambda m: m.roll(_x(m, 3, 4), (1, 1), (0, 0)),
    "roll-empty-dims": lambda m: m.roll(_x(m, 3, 4), 5, ()),
    "repeat-int": lambda m: _x(m, 2, dtype="int64").repeat(2, 3),
    "repeat-zero": lambda m: _x(m, 2, 3).repeat(0, 1),
    "repeat-0d": lambda m: m.tensor(1.5).repeat(2),
    "tile-empty-dims": lambda m: m.tile(_x(m, 2, 3), ()),
    "tile-method": lambda m: _x(m, 2, 3).tile(2, 1),
    "narrow-tensor-start": lambda m: m.narrow(_x(m, 3, 4), 0, m.tensor(1), 2),
    "narrow-empty": lambda m: m.narrow(_x(m, 3, 4), 1, 4, 0),
    "pad-int-float-value": lambda m: _F(m).pad(_x(m, 3, dtype="int64"), (1, 1), value=1.5),
    "pad-int-neg-value": lambda m: _F(m).pad(_x(m, 3, dtype="int64"), (1, 1), value=-1.5),
    "pad-bool": lambda m: _F(m).pad(_x(m, 3, dtype="bool"), (1, 1), value=2),
    "pad-0d-empty-pad": lambda m: _F(m).pad(m.tensor(1.0), ()),
    "pad-crop-all": lambda m: _F(m).pad(_x(m, 3, 4), (-4, 0)),
    "pad-value-none": lambda m: _F(m).pad(_x(m, 3, 4), (1, 1), "constant", None),
    "constant_pad_nd-value": lambda m: m.constant_pad_nd(_x(m, 3, 4), (1, 1), 2.5),
    "tril-int": lambda m: m.tril(_x(m, 3, 4, dtype="int64")),
    "triu-bool": lambda m: m.triu(_x(m, 3, 4, dtype="bool") | True, -1),
    "tril-empty": lambda m: m.tril(m.zeros(0, 3)),
    "tril-far": lambda m: m.tril(_x(m, 3, 4), -5) + m.triu(_x(m, 3, 4), 7),
    "diagonal-offset-far": lambda m: m.diagonal(_x(m, 3, 4), 5),
    "diagonal-neg-offset-far": lambda m: m.diagonal(_x(m, 3, 4), -4),
    "diagonal-int": lambda m: m.diagonal(_x(m, 2, 3, 4, dtype="int32"), 1, 2, 0),
    "outer-int-float": lambda m: m.outer(_x(m, 3, dtype="int64"), _x(m, 2)),
    "outer-int": lambda m: m.outer(_x(m, 3, dtype="int64"), _x(m, 2, dtype="int64")),
    "einsum-int": lambda m: m.einsum("ij,jk->ik", _x(m, 2, 3, dtype="int64"), _x(m, 3, 2, dtype="int64")),
    "vector_norm-dtype": lambda m: m.linalg.vector_norm(_x(m, 3, 4), dtype=m.float64),
    "vector_norm-empty-dim": lambda m: m.linalg.vector_norm(_x(m, 3, 4), dim=[]),
}


@needs_torch
@pytest.mark.parametrize("case", sorted(DTYPE_CASES))
def test_dtypes_and_edge_cases_match_torch(case):
    fn = DTYPE_CASES[case]
    _same(fn(jg), fn(torch), what=case)


@needs_torch
def test_diagonal_is_a_writable_view():
    for m in (jg, torch):
        x = m.zeros(3, 4)
        d = x.diagonal(1)
        d += 1
        assert x.tolist() == [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]
        assert d._version == x._version == 1


NONCONTIG = {
    "cat": lambda m, x: m.cat([x, x[:, ::2]], 1),
    "stack": lambda m, x: m.stack([x, x.flip(0)], 2),
    "split": lambda m, x: x.split([1, 2], 1)[1],
    "gather": lambda m, x: m.gather(x, 0, m.tensor([[2, 0, 1], [1, 1, 0]])),
    "gather-small-index": lambda m, x: m.gather(x, 1, m.tensor([[2], [0]])),
    "scatter_add": lambda m, x: m.scatter_add(x, 1, m.tensor([[0, 0], [2, 1]]), x[::2, :2]),
    "scatter": lambda m, x: m.scatter(x, 0, m.tensor([[1, 0, 2]]), x[:1] * 5),
    "index_select": lambda m, x: m.index_select(x, 1, m.tensor([2, 0, 2])),
    "take_along_dim": lambda m, x: m.take_along_dim(x, m.tensor([[1], [0], [2]]), 1),
    "flip": lambda m, x: m.flip(x, [0, 1]),
    "roll": lambda m, x: m.roll(x, (1, -1), (0, 1)),
    "roll-flat": lambda m, x: m.roll(x, 4),
    "repeat": lambda m, x: x.repeat(2, 1, 2),
    "narrow": lambda m, x: m.narrow(x, 0, 1, 2),
    "pad": lambda m, x: _F(m).pad(x, (1, 1, -1, 0)),
    "tril": lambda m, x: m.tril(x, 1),
    "triu": lambda m, x: m.triu(x),
    "diagonal": lambda m, x: m.diagonal(x, -1),
    "einsum": lambda m, x: m.einsum("ij,jk->ik", x, x.t()),
}


@needs_torch
@pytest.mark.parametrize("case", sorted(NONCONTIG))
def test_noncontiguous_inputs(case):
    base = np.random.default_rng(2).uniform(-1, 1, (3, 3))
    jx, tx = jg.from_numpy(base.copy()).requires_grad_(), torch.from_numpy(base.copy()).requires_grad_()
    jv, tv = jx.t(), tx.t()
    jo, to = NONCONTIG[case](jg, jv), NONCONTIG[case](torch, tv)
    _same(jo, to)
    _backward_both([jo], [to])
    _same(jx.grad, tx.grad)


# ------------------------------------------------------------------------------- in-place scatter
@needs_torch
@pytest.mark.parametrize("op", ["scatter_add_", "scatter_", "scatter_-value"])
def test_inplace_scatter(op):
    idx = [[0, 2], [1, 1]]
    outs = {}
    for m in (jg, torch):
        x = m.from_numpy(np.arange(8.0).reshape(2, 4)).requires_grad_()
        s = m.from_numpy(np.full((2, 2), 0.5)).requires_grad_()
        y = x * 1
        if op == "scatter_add_":
            r = y.scatter_add_(1, m.tensor(idx), s)
        elif op == "scatter_":
            r = y.scatter_(1, m.tensor([[0, 2], [1, 3]]), s)
        else:
            r = y.scatter_(1, m.tensor(idx), value=-1.0)
        assert r is y and y._version == 1
        (y * m.from_numpy(np.arange(8.0).reshape(2, 4))).sum().backward()
        outs[m] = (_np(y), type(y.grad_fn).__name__, _np(x.grad), None if s.grad is None else _np(s.grad))
    for a, b in zip(outs[jg], outs[torch]):
        if isinstance(a, np.ndarray):
            np.testing.assert_allclose(a, b)
        else:
            assert a == b


def test_scatter_add_on_leaf_refused():
    x = jg.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        x.scatter_add_(0, jg.tensor([0]), jg.ones(1))


# ------------------------------------------------------------------------------- linalg
LINALG = {
    "vector_norm": lambda L, x: L.vector_norm(x),
    "vector_norm-ord-dim": lambda L, x: L.vector_norm(x, 3, 1),
    "vector_norm-dims-keepdim": lambda L, x: L.vector_norm(x, 1, (0, 1), True),
    "vector_norm-inf": lambda L, x: L.vector_norm(x, float("inf"), -1),
    "vector_norm-neg": lambda L, x: L.vector_norm(x, -1.5, 0),
    "norm": lambda L, x: L.norm(x),
    "norm-fro": lambda L, x: L.norm(x, "fro"),
    "norm-ord1-matrix": lambda L, x: L.norm(x, 1),
    "norm-inf-matrix": lambda L, x: L.norm(x, float("inf")),
    "norm-dim": lambda L, x: L.norm(x, dim=1),
    "norm-ord-dim": lambda L, x: L.norm(x, 1, dim=1, keepdim=True),
    "norm-dims": lambda L, x: L.norm(x, dim=(1, 0)),
    "norm-1d-ord": lambda L, x: L.norm(x[0], 3),
    "norm-keepdim": lambda L, x: L.norm(x, keepdim=True),
    "matrix_norm": lambda L, x: L.matrix_norm(x),
    "matrix_norm-1": lambda L, x: L.matrix_norm(x, 1),
    "matrix_norm--1": lambda L, x: L.matrix_norm(x, -1),
    "matrix_norm-inf-keepdim": lambda L, x: L.matrix_norm(x, float("inf"), keepdim=True),
    "matrix_norm--inf-dims": lambda L, x: L.matrix_norm(x, -float("inf"), dim=(1, 0)),
    "matrix_norm-batched": lambda L, x: L.matrix_norm(x.reshape(2, 3, 2), 1, dim=(0, 2)),
    "matrix_norm-batched-inf": lambda L, x: L.matrix_norm(x.reshape(2, 2, 3), float("inf")),
}


@needs_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", sorted(LINALG))
def test_linalg_norms_match_torch(case, dtype):
    base = np.array([[0.5, -1.5, 2.0, 0.25], [1.25, 0.75, -0.5, 3.0], [-2.5, 1.0, 0.3, -0.1]])
    jx, tx = (jg.from_numpy(base.astype(dtype)).requires_grad_(),
              torch.from_numpy(base.astype(dtype)).requires_grad_())
    jo, to = LINALG[case](jg.linalg, jx), LINALG[case](torch.linalg, tx)
    _same(jo, to, what=case)
    assert type(jo.grad_fn).__name__ == type(to.grad_fn).__name__
    _backward_both([jo], [to])
    _same(jx.grad, tx.grad, what=case)


def test_linalg_norm_gradgradcheck():
    x = jg.from_numpy(np.array([[0.5, -1.5, 2.0], [1.25, 0.75, -0.5]])).requires_grad_()
    assert gradgradcheck(lambda t: jg.linalg.norm(t), (x,))
    assert gradgradcheck(lambda t: jg.linalg.matrix_norm(t, 1), (x,))


def test_linalg_unsupported_orders_say_so():
    x = jg.ones(2, 2)
    for ord in ("nuc", 2, -2):
        with pytest.raises(NotImplementedError, match="singular value decomposition"):
            jg.linalg.matrix_norm(x, ord)
