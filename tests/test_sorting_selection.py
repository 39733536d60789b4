"""Sorting, searching, selection and logical reductions (ops/sorting.py, ops/selection.py): what
the op table's samples cannot express -- ties, NaN ordering, stability, errors, return types,
integer inputs, gradients through one output of a pair -- checked against PyTorch."""
import numpy as np
import pytest

import jitgrad as jt

nan, inf = float("nan"), float("inf")


def both(torch, data, dtype=None, requires_grad=False):
    arr = np.array(data, dtype=dtype)
    j = jt.from_numpy(arr.copy())
    t = torch.from_numpy(arr.copy())
    if requires_grad:
        j.requires_grad_()
        t.requires_grad_()
    return j, t


def same(j, t):
    if isinstance(t, tuple):
        assert isinstance(j, tuple) and len(j) == len(t)
        for a, b in zip(j, t):
            same(a, b)
        return
    a, b = j.detach().numpy(), t.detach().numpy()
    assert a.dtype == b.dtype and a.shape == b.shape, (a, b)
    if b.dtype.kind == "f":
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-12, equal_nan=True)
    else:
        np.testing.assert_array_equal(a, b)


def raises_like(torch, call):
    with pytest.raises(Exception) as te:
        call(torch)
    with pytest.raises(type(te.value)) as je:
        call(jt)
    assert str(je.value) == str(te.value)


TIES = [[3.0, 1.0, nan, 1.0, -0.0, 0.0, 3.0, nan, -inf, inf], [2.0, 2.0, 0.0, -1.0, 2.0, nan, 5.0, 5.0, 1.0, 1.0]]


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "uint8", "bool"])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_is_stable_with_nan_last(torch, dtype, descending):
    data = np.nan_to_num(np.array(TIES), nan=7.0, posinf=9.0, neginf=0.0) if dtype != "float32" and \
        dtype != "float64" else np.array(TIES)
    j, t = both(torch, data.astype(dtype) if dtype != "bool" else data > 1)
    for dim in (0, 1, -1):
        same(jt.sort(j, dim, descending), torch.sort(t, dim, descending))
        same(j.sort(dim=dim, descending=descending, stable=True), t.sort(dim=dim, descending=descending, stable=True))
        same(jt.argsort(j, dim, descending), torch.argsort(t, dim=dim, descending=descending, stable=True))
    same(jt.msort(j), torch.msort(t))


def test_return_types_print_and_unpack_like_pytorch(torch):
    j, t = both(torch, [[3.0, 1.0, 2.0]])
    for name, args in (("sort", ()), ("topk", (2,)), ("kthvalue", (2,)), ("cummax", (1,)), ("cummin", (1,))):
        jr, tr = getattr(jt, name)(j, *args), getattr(torch, name)(t, *args)
        assert repr(jr) == repr(tr)
        values, indices = jr
        assert values is jr.values and indices is jr[1]
    assert type(jt.std_mean(j)) is tuple and type(jt.var_mean(j, 1)) is tuple


def test_topk_and_kthvalue(torch):
    rng = np.random.default_rng(0)
    j, t = both(torch, rng.permutation(40).reshape(4, 10).astype(np.float64) - 20, requires_grad=True)
    for k in (1, 3, 10):
        same(jt.topk(j, k), torch.topk(t, k))
        same(jt.topk(j, k, sorted=False), torch.topk(t, k, sorted=False))
        same(jt.kthvalue(j, k), torch.kthvalue(t, k))
        same(j.kthvalue(min(k, 4), 0, True), t.kthvalue(min(k, 4), 0, True))
        same(jt.topk(j, min(k, 4), 0, largest=False), torch.topk(t, min(k, 4), 0, largest=False))
    jn, tn = both(torch, [[1.0, nan, 3.0, -1.0]])
    same(jt.topk(jn, 2), torch.topk(tn, 2))
    same(jt.topk(jn, 2, largest=False), torch.topk(tn, 2, largest=False))
    same(jt.kthvalue(jn, 4), torch.kthvalue(tn, 4))
    raises_like(torch, lambda L: L.topk(L.zeros(2, 3), 4))
    raises_like(torch, lambda L: L.topk(L.tensor([True, False]), 1))
    raises_like(torch, lambda L: L.kthvalue(L.zeros(2, 3), 0))
    raises_like(torch, lambda L: L.kthvalue(L.zeros(2, 0), 1))


@pytest.mark.parametrize("n", [3, 10, 17, 64, 200])
def test_topk_and_kthvalue_ties_give_pytorchs_indices(torch, n):
    # PyTorch's selection algorithms (quickselect; partial_sort / nth_element + sort) decide which
    # of equal values comes first: jitgrad runs the same steps
    rng = np.random.default_rng(n)
    x = rng.integers(0, 4, (3, n)).astype(np.float64)
    x[rng.random((3, n)) < 0.15] = nan
    j, t = both(torch, x)
    for k in sorted({1, 2, n // 3 + 1, n}):
        for largest in (True, False):
            for srt in (True, False):
                same(jt.topk(j, k, largest=largest, sorted=srt), torch.topk(t, k, largest=largest, sorted=srt))
        same(jt.kthvalue(j, k), torch.kthvalue(t, k))
    ji, ti = both(torch, np.nan_to_num(x, nan=9).astype(np.int64))
    same(jt.topk(ji, 2, 1), torch.topk(ti, 2, 1))
    same(jt.kthvalue(ji, 2, 1), torch.kthvalue(ti, 2, 1))


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "float16"])
def test_cummax_cummin_take_the_latest_tie_and_nan(torch, dtype):
    data = [[1.0, 3.0, 3.0, nan, 2.0, nan, 4.0], [2.0, 2.0, 1.0, 1.0, 5.0, 0.0, 0.0]]
    if dtype == "int64":
        data = np.nan_to_num(np.array(data), nan=6.0)
    j, t = both(torch, data, dtype=dtype)
    for dim in (0, 1):
        same(jt.cummax(j, dim), torch.cummax(t, dim))
        same(j.cummin(dim), t.cummin(dim))


def test_selection_gradients_follow_the_indices(torch):
    # ties: each output's gradient goes to the index it reports (sums where indices repeat)
    data = [[1.0, 3.0, 3.0, 0.5, 4.0], [2.0, 2.0, 1.0, 1.0, 5.0]]
    w = np.random.default_rng(1).uniform(-1, 1, (2, 5))
    for fn in (lambda L, x: L.cummax(x, 1)[0], lambda L, x: L.cummin(x, 1).values,
               lambda L, x: L.sort(x, 1, True)[0], lambda L, x: L.msort(x)):
        j, t = both(torch, data, requires_grad=True)
        (fn(jt, j) * jt.from_numpy(w)).sum().backward()
        (fn(torch, t) * torch.from_numpy(w)).sum().backward()
        same(j.grad, t.grad)


def test_logcumsumexp_large_values_and_gradient(torch):
    data = [[1000.0, -1000.0, 1001.0, 0.0], [-inf, -inf, 2.0, -inf]]
    j, t = both(torch, data, requires_grad=True)
    same(jt.logcumsumexp(j, 1), torch.logcumsumexp(t, 1))
    g = np.array([[1.0, -2.0, 0.5, 3.0], [-1.0, 1.0, 2.0, 0.25]])
    jt.logcumsumexp(j, 1).backward(jt.from_numpy(g))
    torch.logcumsumexp(t, 1).backward(torch.from_numpy(g))
    same(j.grad, t.grad)
    raises_like(torch, lambda L: L.logcumsumexp(L.tensor([1, 2]), 0))


def test_all_any(torch):
    data = np.array([[1.0, 0.0, nan], [2.0, -1.0, 3.0]])
    for dtype in ("float64", "int64", "uint8", "bool"):
        j, t = both(torch, np.nan_to_num(data, nan=4.0).astype(dtype) if dtype not in ("bool", "float64") else
                    data > 0 if dtype == "bool" else data)
        for kw in ({}, {"dim": 1}, {"dim": 0, "keepdim": True}, {"dim": (0, 1)}):
            same(jt.all(j, **kw), torch.all(t, **kw))
            same(j.any(**kw), t.any(**kw))
    j, t = both(torch, 0.0)
    same(jt.any(j), torch.any(t))
    same(jt.all(j, 0, True), torch.all(t, 0, True))


def test_nonzero_masked_select_take(torch):
    data = np.array([[0.0, 1.5, -2.0], [0.0, 0.0, 3.0]])
    j, t = both(torch, data, requires_grad=True)
    same(jt.nonzero(j), torch.nonzero(t))
    same(j.nonzero(as_tuple=True), t.nonzero(as_tuple=True))
    same(jt.nonzero(jt.tensor(2.0), as_tuple=True), torch.nonzero(torch.tensor(2.0), as_tuple=True))
    mask = np.array([True, False, True])  # broadcast over rows
    jm, tm = both(torch, mask)
    jr, tr = jt.masked_select(j, jm), torch.masked_select(t, tm)
    same(jr, tr)
    assert type(jr.grad_fn).__name__ == type(tr.grad_fn).__name__
    (jr * jr).sum().backward()
    (tr * tr).sum().backward()
    same(j.grad, t.grad)
    raises_like(torch, lambda L: L.masked_select(L.zeros(2, 3), L.tensor([1, 0, 1])))
    raises_like(torch, lambda L: L.masked_select(L.zeros(2, 3), L.tensor([True, False])))
    # take: negative indices, repeats accumulate in the gradient
    j2, t2 = both(torch, data, requires_grad=True)
    ji, ti = both(torch, [[0, -1], [5, 5]])
    same(jt.take(j2, ji), torch.take(t2, ti))
    jt.take(j2, ji).sum().backward()
    torch.take(t2, ti).sum().backward()
    same(j2.grad, t2.grad)
    raises_like(torch, lambda L: L.take(L.zeros(2, 3), L.tensor([6])))
    raises_like(torch, lambda L: L.take(L.zeros(2, 3), L.tensor([-7])))
    raises_like(torch, lambda L: L.take(L.zeros(2, 3), L.tensor([1.0])))


def test_take_index_changed_after_forward_is_caught():
    x = jt.zeros(2, 3, requires_grad=True)
    idx = jt.tensor([0, 4])
    y = jt.take(x, idx)
    idx.data[1] = 99
    with pytest.raises(IndexError, match="tried to access index 99"):
        y.sum().backward()


def test_select_movedim(torch):
    j, t = both(torch, np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    same(jt.select(j, 1, -1), torch.select(t, 1, -1))
    assert jt.select(j, 0, 1)._base is j  # a view
    raises_like(torch, lambda L: L.select(L.zeros(2, 4), 0, 5))
    raises_like(torch, lambda L: L.select(L.zeros(2, 4), 2, 0))
    for src, dst in ((0, 2), ((0, 1), (2, 0)), (-1, 0), ([1], [1])):
        same(jt.movedim(j, src, dst), torch.movedim(t, src, dst))
        same(j.moveaxis(src, dst), t.moveaxis(src, dst))
    assert type(jt.movedim(j, 0, 0).grad_fn).__name__ == "PermuteBackward0"
    raises_like(torch, lambda L: L.movedim(L.zeros(2, 3), (0, 0), (1, 0)))
    raises_like(torch, lambda L: L.movedim(L.zeros(2, 3), (0, 1), (1,)))
    raises_like(torch, lambda L: L.movedim(L.zeros(2, 3), 0, 2))


def test_diag_and_diag_embed(torch):
    v = np.array([1.0, -2.0, 3.0])
    m = np.arange(12.0).reshape(3, 4)
    for data, offset in ((v, 0), (v, 2), (v, -1), (m, 0), (m, 1), (m, -2), (m, 7)):
        j, t = both(torch, data, requires_grad=True)
        jr, tr = jt.diag(j, offset), torch.diag(t, offset)
        same(jr, tr)
        assert type(jr.grad_fn).__name__ == type(tr.grad_fn).__name__
    j, t = both(torch, np.arange(6.0).reshape(2, 3))
    for args in ((), (1,), (-1, 0, 2), (0, 2, 0)):
        same(jt.diag_embed(j, *args), torch.diag_embed(t, *args))
    raises_like(torch, lambda L: L.diag(L.zeros(2, 2, 2)))
    raises_like(torch, lambda L: L.diag_embed(L.zeros(2), 1, 0, 0))


def test_repeat_interleave(torch):
    j, t = both(torch, np.arange(6.0).reshape(2, 3), requires_grad=True)
    for args in ((2,), (2, 0), (3, -1)):
        same(jt.repeat_interleave(j, *args), torch.repeat_interleave(t, *args))
    jr, tr = both(torch, [1, 0, 2])
    same(j.repeat_interleave(jr, dim=1), t.repeat_interleave(tr, dim=1))
    same(jt.repeat_interleave(jr), torch.repeat_interleave(tr))
    raises_like(torch, lambda L: L.repeat_interleave(L.zeros(2, 4), L.tensor([1, 2]), dim=1))
    raises_like(torch, lambda L: L.repeat_interleave(L.zeros(2, 4), L.tensor([1, -2]), dim=0))
    raises_like(torch, lambda L: L.repeat_interleave(L.zeros(2, 4), -1))


def test_bincount_and_histc(torch):
    ji, ti = both(torch, [0, 3, 1, 3, 3, 7])
    same(jt.bincount(ji), torch.bincount(ti))
    same(ji.bincount(minlength=10), ti.bincount(minlength=10))
    for wdtype in ("float32", "float64", "int64"):
        jw, tw = both(torch, [0.5, 1, 2, 0.25, 1, 3], dtype=wdtype)
        same(jt.bincount(ji, jw), torch.bincount(ti, tw))
    raises_like(torch, lambda L: L.bincount(L.tensor([1, -3])))
    raises_like(torch, lambda L: L.bincount(L.tensor([1.0])))
    rng = np.random.default_rng(3)
    for dtype in ("float32", "float64"):
        x = np.concatenate([rng.uniform(-2, 2, 200), [-1.0, 1.0, 0.0, 0.5]])
        j, t = both(torch, x, dtype=dtype)
        for args in ((), (7,), (4, 0.5, 0.5), (3, 0, 0)):
            same(jt.histc(j, *args), torch.histc(t, *args))
        j, t = both(torch, np.concatenate([x, [nan, inf, -inf]]), dtype=dtype)  # outside the range: not counted
        same(jt.histc(j, 10, -1.0, 1.0), torch.histc(t, 10, -1.0, 1.0))
    raises_like(torch, lambda L: L.histc(L.tensor([1.0, nan]), 4))
    raises_like(torch, lambda L: L.histc(L.tensor([1.0, 2.0]), 4, 3, 1))
    raises_like(torch, lambda L: L.histc(L.tensor([1, 2]), 4))


@pytest.mark.parametrize("name", ["std_mean", "var_mean"])
def test_std_var_mean_pairs(torch, name):
    rng = np.random.default_rng(4)
    data = rng.uniform(-2, 2, (3, 4))
    for kwargs, use in (({}, (0, 1)), ({"dim": 1}, (0,)), ({"dim": 0, "keepdim": True, "correction": 0}, (1,))):
        j, t = both(torch, data, requires_grad=True)
        jr, tr = getattr(jt, name)(j, **kwargs), getattr(torch, name)(t, **kwargs)
        same(jr, tr)
        assert [type(o.grad_fn).__name__ for o in jr] == [type(o.grad_fn).__name__ for o in tr]
        sum(jr[i].sum() * (i + 2) for i in use).backward()
        sum(tr[i].sum() * (i + 2) for i in use).backward()
        same(j.grad, t.grad)
    j = jt.from_numpy(data.copy()).requires_grad_()
    s, m = getattr(jt, name)(j, 1)
    (s + m).sum().backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        (s + m).sum().backward()


def test_numpy_keyword_names(torch):
    j, t = both(torch, [[3.0, 1.0, 2.0], [0.0, 5.0, -1.0]])
    for call in (lambda L, x: L.all(x, axis=0), lambda L, x: x.any(axis=1, keepdims=True),
                 lambda L, x: L.sort(x, axis=0), lambda L, x: L.topk(x, 2, axis=1), lambda L, x: L.cummax(x, axis=1),
                 lambda L, x: L.kthvalue(x, 1, axis=0, keepdims=True), lambda L, x: L.logcumsumexp(x, axis=0),
                 lambda L, x: L.std_mean(x, axis=1, keepdims=True), lambda L, x: L.var_mean(x, axis=0)):
        same(call(jt, j), call(torch, t))


@pytest.mark.parametrize("data, kwargs", [([1.5], {}), ([[1.0, 2.0]], {"dim": 0}), ([1.0, 1.0, 2.0], {"correction": 3}),
                                          ([2.0, 2.0], {"correction": 2})])
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_std_var_mean_without_degrees_of_freedom(torch, data, kwargs):
    for name in ("std_mean", "var_mean"):
        j, t = both(torch, data, requires_grad=True)
        jr, tr = getattr(jt, name)(j, **kwargs), getattr(torch, name)(t, **kwargs)
        same(jr, tr)
        (jr[0].sum() + jr[1].sum()).backward()
        (tr[0].sum() + tr[1].sum()).backward()
        same(j.grad, t.grad)
