"""Factories, dtypes, Tensor attributes/methods and reprs, as PyTorch 2.13 has them.

Every test takes the ``T`` fixture: it runs on jitgrad and, when torch is importable, on real
torch with the same hard-coded expectations (each one is therefore checked to be PyTorch's).
"""
import copy
import pickle
import warnings

import numpy as np
import pytest


def R(t):
    return repr(t)


# ============================================================================================
# tensor(): dtype inference, nesting, scalars
# ============================================================================================
@pytest.mark.parametrize("data, dtype_name", [
    (1, "int64"), (1.0, "float32"), (True, "bool"), ([1, 2.0], "float32"), ([[1, 2], [3, 4]], "int64"),
    ([True, 1], "int64"), ([True, False], "bool"), ([], "float32"), ([[1.5], [2]], "float32"),
    ([[[1]]], "int64"),
])
def test_tensor_dtype_inference(T, data, dtype_name):
    assert T.tensor(data).dtype == getattr(T, dtype_name)


def test_tensor_dtype_from_numpy_inputs(T):
    assert T.tensor(np.array([1, 2], dtype=np.int32)).dtype == T.int32
    assert T.tensor(np.array([1.0], dtype=np.float64)).dtype == T.float64
    assert T.tensor(np.float64(1.5)).dtype == T.float64
    assert T.tensor([np.float32(1)]).dtype == T.float32


@pytest.mark.parametrize("data, shape", [
    (2.5, ()), (5, ()), (True, ()), ([], (0,)), ([[]], (1, 0)), ([1.0], (1,)), ([[1, 2, 3]], (1, 3)),
    ([[[1.0], [2.0]]], (1, 2, 1)),
])
def test_tensor_shapes(T, data, shape):
    assert tuple(T.tensor(data).shape) == shape


def test_tensor_zero_dim(T):
    s = T.tensor(3.5, requires_grad=True)
    assert s.dim() == 0 and s.shape == T.Size([]) and s.numel() == 1
    assert R(s) == "tensor(3.5000, requires_grad=True)"
    assert R(T.tensor(2.0) * T.tensor(3.0, requires_grad=True)) == "tensor(6., grad_fn=<MulBackward0>)"
    assert R(T.tensor(1e-10)) == "tensor(1.0000e-10)"
    assert R(T.tensor(5)) == "tensor(5)"
    assert T.tensor(np.array(3)).shape == T.Size([])


def test_tensor_explicit_dtype(T):
    assert R(T.tensor([[1, 2], [3, 4]], dtype=T.float64)) == "tensor([[1., 2.],\n        [3., 4.]], dtype=torch.float64)"
    assert T.tensor([1.7], dtype=T.long).tolist() == [1]
    assert T.tensor([0, 2], dtype=T.bool).tolist() == [False, True]


def test_tensor_copies_its_input(T):
    a = np.arange(3.0)
    t = T.tensor(a)
    a[0] = 100
    assert t.tolist() == [0.0, 1.0, 2.0]


def test_tensor_of_tensors(T):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert T.tensor(T.ones(2)).tolist() == [1.0, 1.0]
        x = T.tensor([1.0, 2.0], requires_grad=True)
        y = T.tensor(x)
    assert not y.requires_grad and y.is_leaf
    assert T.tensor([T.tensor(1.0), T.tensor(2.0)]).tolist() == [1.0, 2.0]


def test_tensor_ragged_error(T):
    with pytest.raises(ValueError) as info:
        T.tensor([[1, 2], [3]])
    assert str(info.value) == "expected sequence of length 2 at dim 1 (got 1)"
    with pytest.raises(ValueError) as info:
        T.tensor([[1.0], [2.0, 3.0]])
    assert str(info.value) == "expected sequence of length 1 at dim 1 (got 2)"


def test_tensor_requires_grad(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    assert x.requires_grad and x.is_leaf and x.grad_fn is None and x.grad is None


# ============================================================================================
# factories
# ============================================================================================
def test_ones_zeros_full_empty(T):
    assert R(T.ones(2, 3)) == "tensor([[1., 1., 1.],\n        [1., 1., 1.]])"
    assert R(T.ones((2, 3))) == R(T.ones([2, 3])) == R(T.ones(T.Size([2, 3])))
    assert R(T.zeros(2)) == "tensor([0., 0.])"
    assert R(T.zeros(2, dtype=T.int32)) == "tensor([0, 0], dtype=torch.int32)"
    assert R(T.full((2,), 7)) == "tensor([7, 7])"
    assert R(T.full((2,), 7.0)) == "tensor([7., 7.])"
    assert R(T.full((1,), True)) == "tensor([True])"
    assert R(T.full((2, 1), 1.5, dtype=T.float64)) == "tensor([[1.5000],\n        [1.5000]], dtype=torch.float64)"
    assert T.empty(2, 3).shape == T.Size([2, 3]) and T.empty((2, 3)).dtype == T.float32
    assert T.empty(0).shape == T.Size([0])
    assert R(T.ones(())) == "tensor(1.)"
    assert R(T.ones(2, requires_grad=True)) == "tensor([1., 1.], requires_grad=True)"
    assert R(T.zeros(2, 0)) == "tensor([], size=(2, 0))"


def test_arange(T):
    assert R(T.arange(5)) == "tensor([0, 1, 2, 3, 4])"
    assert R(T.arange(1, 4)) == "tensor([1, 2, 3])"
    assert R(T.arange(0, 1, 0.25)) == "tensor([0.0000, 0.2500, 0.5000, 0.7500])"
    assert R(T.arange(4.0)) == "tensor([0., 1., 2., 3.])"
    assert T.arange(5, dtype=T.float64).dtype == T.float64
    assert R(T.arange(10, 0, -3)) == "tensor([10,  7,  4,  1])"
    assert R(T.arange(4.0, requires_grad=True)) == "tensor([0., 1., 2., 3.], requires_grad=True)"


def test_linspace(T):
    assert R(T.linspace(0, 1, 5)) == "tensor([0.0000, 0.2500, 0.5000, 0.7500, 1.0000])"
    assert R(T.linspace(-1, 1, steps=3)) == "tensor([-1.,  0.,  1.])"
    assert R(T.linspace(0, 1, 1)) == "tensor([0.])"
    assert T.linspace(0, 10, 0).shape == T.Size([0])


def test_eye(T):
    assert R(T.eye(3)) == "tensor([[1., 0., 0.],\n        [0., 1., 0.],\n        [0., 0., 1.]])"
    assert R(T.eye(2, 3)) == "tensor([[1., 0., 0.],\n        [0., 1., 0.]])"
    assert T.eye(2, dtype=T.long).dtype == T.int64


def test_random_factories_match_torch_stream(T):
    T.manual_seed(0)
    assert R(T.rand(2, 3)) == "tensor([[0.4963, 0.7682, 0.0885],\n        [0.1320, 0.3074, 0.6341]])"
    assert R(T.randn(3)) == "tensor([ 1.2645, -0.6874,  0.1604])"
    assert R(T.randint(0, 10, (5,))) == "tensor([8, 6, 6, 8, 4])"
    assert R(T.randint(5, (3,))) == "tensor([3, 1, 4])"
    assert T.randint(0, 10, (2,)).dtype == T.int64
    T.manual_seed(3)
    assert R(T.rand(3)) == "tensor([0.0043, 0.1056, 0.2858])"
    assert R(T.randn(2, dtype=T.float64)) == "tensor([0.2453, 1.1186], dtype=torch.float64)"


def test_random_factories_requires_grad(T):
    T.manual_seed(0)
    x = T.randn(2, requires_grad=True)
    assert x.requires_grad and x.is_leaf
    assert R(x) == "tensor([ 1.5410, -0.2934], requires_grad=True)"


def test_like_factories(T):
    x = T.ones(2, 3, dtype=T.float64)
    assert R(T.zeros_like(x)) == "tensor([[0., 0., 0.],\n        [0., 0., 0.]], dtype=torch.float64)"
    assert R(T.ones_like(x)) == "tensor([[1., 1., 1.],\n        [1., 1., 1.]], dtype=torch.float64)"
    assert R(T.full_like(x, 2)) == "tensor([[2., 2., 2.],\n        [2., 2., 2.]], dtype=torch.float64)"
    assert T.empty_like(x).shape == T.Size([2, 3]) and T.empty_like(x).dtype == T.float64
    assert T.ones_like(x, dtype=T.int32).dtype == T.int32
    g = T.ones(3, requires_grad=True)
    assert not T.zeros_like(g).requires_grad
    assert T.ones_like(g, requires_grad=True).requires_grad
    T.manual_seed(1)
    y = T.ones(2, 2)
    assert R(T.rand_like(y)) == "tensor([[0.7576, 0.2793],\n        [0.4031, 0.7347]])"
    assert R(T.randn_like(y)) == "tensor([[ 0.0617,  0.6213],\n        [-0.4519, -0.1661]])"
    assert R(T.randint_like(y, 10)) == "tensor([[6., 3.],\n        [3., 0.]])"


def test_from_numpy_zero_copy_both_ways(T):
    a = np.arange(4.0)
    t = T.from_numpy(a)
    assert t.dtype == T.float64
    t.add_(1)
    assert a.tolist() == [1.0, 2.0, 3.0, 4.0]
    a[0] = 100
    assert t.tolist() == [100.0, 2.0, 3.0, 4.0]
    n = t.numpy()
    assert np.shares_memory(n, a)
    n[1] = -1
    assert t.tolist()[1] == -1.0
    assert T.from_numpy(np.zeros(2, dtype=np.int32)).dtype == T.int32


def test_numpy_and_array_share_memory(T):
    t = T.arange(3.0)
    n = t.numpy()
    n[0] = 5
    assert t.tolist() == [5.0, 1.0, 2.0]
    assert np.asarray(t).tolist() == [5.0, 1.0, 2.0]
    assert np.array(t).dtype == np.float32
    assert np.asarray(T.ones(2, dtype=T.float64)).dtype == np.float64
    assert T.ones(2, requires_grad=True).detach().numpy().tolist() == [1.0, 1.0]


def test_numpy_of_view(T):
    x = T.arange(6.0).view(2, 3)
    n = x.t().numpy()
    assert n.shape == (3, 2) and n.tolist() == [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]


# ============================================================================================
# Size, dtypes, version
# ============================================================================================
def test_size(T):
    s = T.Size([2, 3])
    assert R(s) == "torch.Size([2, 3])" and str(s) == "torch.Size([2, 3])"
    assert s == (2, 3) and isinstance(s, tuple) and s.numel() == 6
    assert T.ones(2, 3).size() == s and T.ones(2, 3).shape == s
    assert R(T.ones(2, 3).shape[1:]) == "torch.Size([3])"
    assert R(T.Size([])) == "torch.Size([])"
    assert list(s) == [2, 3] and s[0] == 2


def test_dtypes_and_aliases(T):
    assert T.float is T.float32 and T.double is T.float64
    assert T.long is T.int64 and T.int is T.int32
    assert T.half is T.float16 and T.short is T.int16
    assert R(T.bool) == "torch.bool" and str(T.float32) == "torch.float32" and R(T.int64) == "torch.int64"
    assert T.float32.is_floating_point and not T.int64.is_floating_point
    assert T.float64.itemsize == 8 and T.int32.itemsize == 4
    assert T.get_default_dtype() == T.float32
    assert isinstance(T.float32, T.dtype)


def test_version(T):
    assert isinstance(T.__version__, str)
    assert str(T.__version__)[0].isdigit()


def test_module_helpers(T):
    assert T.is_tensor(T.ones(1)) and not T.is_tensor([1])
    assert T.numel(T.ones(2, 3)) == 6
    assert isinstance(T.ones(1), T.Tensor)
    assert T.is_floating_point(T.ones(1)) and not T.arange(2).is_floating_point()
    assert T.equal(T.ones(2), T.ones(2)) and not T.ones(2).equal(T.zeros(2))


# ============================================================================================
# attributes
# ============================================================================================
def test_basic_attributes(T):
    x = T.ones(2, 3)
    assert x.shape == T.Size([2, 3]) and x.size() == T.Size([2, 3])
    assert x.size(1) == 3 and x.size(-1) == 3 and x.size(dim=0) == 2
    assert x.dim() == 2 and x.ndim == 2 and x.numel() == 6 and len(x) == 2
    assert x.dtype == T.float32
    assert R(x.device) == "device(type='cpu')" and str(x.device) == "cpu"
    assert x.requires_grad is False and x.grad is None and x.grad_fn is None and x.is_leaf is True
    assert x.is_contiguous() and not T.ones(2, 3).t().is_contiguous()
    assert x.stride() == (3, 1) and x.t().stride() == (1, 3)
    assert x.element_size() == 4 and T.ones(1, dtype=T.float64).element_size() == 8


def test_autograd_attributes_of_result(T):
    x = T.ones(2, requires_grad=True)
    y = x * 2
    assert y.requires_grad and not y.is_leaf and y.grad_fn.name() == "MulBackward0"
    assert x.is_leaf and x.grad_fn is None
    z = T.ones(2) * 2
    assert not z.requires_grad and z.is_leaf and z.grad_fn is None


def test_data_attribute(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    d = x.data
    assert not d.requires_grad and d.is_leaf and d.data_ptr() == x.data_ptr()
    assert R(d) == "tensor([1., 2.])"


def test_item_and_tolist(T):
    assert T.tensor([[1.0, 2.0], [3.0, 4.0]]).tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert T.tensor(5).item() == 5 and type(T.tensor(5).item()) is int
    assert T.tensor(2.5).item() == 2.5 and type(T.tensor(2.5).item()) is float
    assert type(T.tensor([True]).item()) is bool
    assert T.tensor([[7.0]]).item() == 7.0
    assert T.tensor(2.5).tolist() == 2.5
    assert type(T.arange(3).tolist()[0]) is int
    x = T.tensor([1.5], requires_grad=True)
    assert x.item() == 1.5


def test_clone(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert c.requires_grad and not c.is_leaf and c.grad_fn.name() == "CloneBackward0"
    assert c.data_ptr() != x.data_ptr()
    assert R(c) == "tensor([1., 2.], grad_fn=<CloneBackward0>)"
    c.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]
    d = T.tensor([1.0, 2.0])
    e = d.clone()
    e.add_(1)
    assert d.tolist() == [1.0, 2.0]


def test_zero_and_fill(T):
    x = T.tensor([1.0, 2.0])
    assert x.zero_() is x and R(x) == "tensor([0., 0.])"
    assert x.fill_(3) is x and R(x) == "tensor([3., 3.])"
    assert R(T.arange(3).fill_(2.7)) == "tensor([2, 2, 2])"
    v = x._version
    x.fill_(1)
    assert x._version == v + 1


def test_norm(T):
    x = T.tensor([3.0, 4.0])
    assert R(x.norm()) == "tensor(5.)"
    assert R(T.tensor([[1.0, 2.0], [3.0, 4.0]]).norm(dim=1)) == "tensor([2.2361, 5.0000])"
    assert R(x.norm(p=1)) == "tensor(7.)" and R(x.norm(1)) == "tensor(7.)"
    g = T.tensor([3.0, 4.0], requires_grad=True)
    n = g.norm()
    assert R(n) == "tensor(5., grad_fn=<LinalgVectorNormBackward0>)"
    n.backward()
    assert R(g.grad) == "tensor([0.6000, 0.8000])"


def test_len_iter(T):
    x = T.tensor([1, 2, 3])
    assert len(x) == 3
    items = list(x)
    assert [R(v) for v in items] == ["tensor(1)", "tensor(2)", "tensor(3)"]
    assert [row.tolist() for row in T.ones(2, 2)] == [[1.0, 1.0], [1.0, 1.0]]
    y = T.ones(2, 2, requires_grad=True)
    rows = list(y)
    assert rows[0].grad_fn is not None
    (rows[0] * 2 + rows[1]).sum().backward()
    assert y.grad.tolist() == [[2.0, 2.0], [1.0, 1.0]]


def test_bool_float_int(T):
    assert bool(T.tensor([0.0])) is False and bool(T.tensor(1)) is True and bool(T.tensor([[True]])) is True
    assert float(T.tensor([2.5])) == 2.5
    assert int(T.tensor(3.9)) == 3 and int(T.tensor(-3.9)) == -3


def test_comparisons(T):
    a = T.tensor([1.0, 2.0, 3.0])
    b = T.tensor([3.0, 2.0, 1.0])
    assert R(a == b) == "tensor([False,  True, False])"
    assert R(a != b) == "tensor([ True, False,  True])"
    assert R(a < b) == "tensor([ True, False, False])"
    assert R(a <= b) == "tensor([ True,  True, False])"
    assert R(a > b) == "tensor([False, False,  True])"
    assert R(a >= b) == "tensor([False,  True,  True])"
    assert R(a == 2) == "tensor([False,  True, False])"
    assert R(2 < a) == "tensor([False, False,  True])"
    g = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
    assert R(g == g) == "tensor([True, True, True])"
    assert not (g > 1).requires_grad


def test_eq_returns_tensor_and_tensor_is_hashable(T):
    a = T.ones(2)
    assert isinstance(a == a, T.Tensor)
    d = {a: 1}
    assert d[a] == 1
    assert a in [a]


def test_format(T):
    assert f"{T.tensor(2.5):.2f}" == "2.50"
    assert f"{T.tensor(2.5)}" == "2.5"
    assert f"{T.tensor([1.0, 2.0])}" == "tensor([1., 2.])"


def test_setitem(T):
    x = T.tensor([[1.0, 2.0], [3.0, 4.0]])
    x[0, 1] = 9
    x[1] = T.tensor([7.0, 8.0])
    x[:, 0] = 0
    assert R(x) == "tensor([[0., 9.],\n        [0., 8.]])"


def test_getitem(T):
    x = T.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert R(x[0, 1]) == "tensor(2.)"
    assert R(x[:, 0]) == "tensor([1., 3.])"
    assert R(x[..., 1]) == "tensor([2., 4.])"
    assert x[None].shape == T.Size([1, 2, 2])
    assert R(x[-1]) == "tensor([3., 4.])"
    assert R(x[[1, 0]]) == "tensor([[3., 4.],\n        [1., 2.]])"
    assert R(x[x > 2]) == "tensor([3., 4.])"
    g = T.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    g[g > 2].sum().backward()
    assert R(g.grad) == "tensor([[0., 0.],\n        [1., 1.]])"


def test_conversions(T):
    assert R(T.tensor([1, 2]).float()) == "tensor([1., 2.])"
    assert R(T.tensor([1.7, -1.7]).long()) == "tensor([ 1, -1])"
    assert R(T.tensor([1.0, 0.0]).bool()) == "tensor([ True, False])"
    assert R(T.tensor([1.0, 2.0]).double()) == "tensor([1., 2.], dtype=torch.float64)"
    assert R(T.tensor([1.0, 2.0]).to(T.int32)) == "tensor([1, 2], dtype=torch.int32)"
    assert R(T.tensor([1.0]).type(T.int64)) == "tensor([1])"
    assert T.tensor([1.0]).type() == "torch.FloatTensor"
    assert R(T.tensor([1.0, 2.0]).new_ones(2)) == "tensor([1., 1.])"
    assert R(T.tensor([1, 2]).new_zeros((1, 2))) == "tensor([[0, 0]])"
    assert R(T.tensor([1.0]).new_full((2,), 5)) == "tensor([5., 5.])"


def test_copy_and_pickle(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = copy.deepcopy(x)
    assert y.requires_grad and y.is_leaf and y.tolist() == [1.0, 2.0] and y.data_ptr() != x.data_ptr()
    z = pickle.loads(pickle.dumps(x))
    assert R(z) == "tensor([1., 2.], requires_grad=True)"


# ============================================================================================
# reprs with requires_grad / grad_fn
# ============================================================================================
def test_repr_grad_fn_names(T):
    x = T.ones(2, requires_grad=True)
    y = x * 2
    assert R(y) == "tensor([2., 2.], grad_fn=<MulBackward0>)"
    assert R(y.sum()) == "tensor(4., grad_fn=<SumBackward0>)"
    assert R(y.mean()) == "tensor(2., grad_fn=<MeanBackward0>)"
    assert R(-y) == "tensor([-2., -2.], grad_fn=<NegBackward0>)"
    assert R(y - 1) == "tensor([1., 1.], grad_fn=<SubBackward0>)"
    assert R(y / 2) == "tensor([1., 1.], grad_fn=<DivBackward0>)"
    assert R(y ** 2) == "tensor([4., 4.], grad_fn=<PowBackward0>)"
    assert R(y @ y) == "tensor(8., grad_fn=<DotBackward0>)"
    assert R(y.exp().log()) == "tensor([2., 2.], grad_fn=<LogBackward0>)"
    assert R(x + 2) == "tensor([3., 3.], grad_fn=<AddBackward0>)"
    assert R(2 * x) == "tensor([2., 2.], grad_fn=<MulBackward0>)"
    assert R(1 - x) == "tensor([0., 0.], grad_fn=<RsubBackward1>)"
    assert R(x.sum(0)) == "tensor(2., grad_fn=<SumBackward1>)"
    assert R(x.mean(0)) == "tensor(1., grad_fn=<MeanBackward1>)"


def test_repr_view_grad_fn_names(T):
    x = T.ones(2, 2, requires_grad=True)
    assert R(x.t()) == "tensor([[1., 1.],\n        [1., 1.]], grad_fn=<TBackward0>)"
    assert R(x.view(4)) == "tensor([1., 1., 1., 1.], grad_fn=<ViewBackward0>)"
    assert R(x.reshape(4)) == "tensor([1., 1., 1., 1.], grad_fn=<ViewBackward0>)"
    assert R(x[0]) == "tensor([1., 1.], grad_fn=<SelectBackward0>)"
    assert R(x[:1]) == "tensor([[1., 1.]], grad_fn=<SliceBackward0>)"
    assert R(x.unsqueeze(0)) == "tensor([[[1., 1.],\n         [1., 1.]]], grad_fn=<UnsqueezeBackward0>)"
    assert R(x.transpose(0, 1)) == "tensor([[1., 1.],\n        [1., 1.]], grad_fn=<TransposeBackward0>)"
    assert R(x.permute(1, 0)) == "tensor([[1., 1.],\n        [1., 1.]], grad_fn=<PermuteBackward0>)"
    assert R(x.expand(1, 2, 2)) == "tensor([[[1., 1.],\n         [1., 1.]]], grad_fn=<ExpandBackward0>)"
    assert R(x @ x) == "tensor([[2., 2.],\n        [2., 2.]], grad_fn=<MmBackward0>)"


def test_repr_unary_grad_fn_names(T):
    x = T.ones(2, requires_grad=True)
    assert R(x.sigmoid()) == "tensor([0.7311, 0.7311], grad_fn=<SigmoidBackward0>)"
    assert R(x.tanh()) == "tensor([0.7616, 0.7616], grad_fn=<TanhBackward0>)"
    assert R(x.relu()) == "tensor([1., 1.], grad_fn=<ReluBackward0>)"
    assert R(x.sqrt()) == "tensor([1., 1.], grad_fn=<SqrtBackward0>)"
    assert R(x.abs()) == "tensor([1., 1.], grad_fn=<AbsBackward0>)"
    assert R(x.sin()) == "tensor([0.8415, 0.8415], grad_fn=<SinBackward0>)"
    assert R(x.cos()) == "tensor([0.5403, 0.5403], grad_fn=<CosBackward0>)"
    assert R(x.clamp(0, 0.5)) == "tensor([0.5000, 0.5000], grad_fn=<ClampBackward1>)"
    assert R(x.pow(3)) == "tensor([1., 1.], grad_fn=<PowBackward0>)"
    assert R(x.reciprocal()) == "tensor([1., 1.], grad_fn=<ReciprocalBackward0>)"


def test_repr_dtypes_and_special_values(T):
    x = T.ones(2, dtype=T.float64, requires_grad=True)
    assert R(x) == "tensor([1., 1.], dtype=torch.float64, requires_grad=True)"
    assert R(x * 2) == "tensor([2., 2.], dtype=torch.float64, grad_fn=<MulBackward0>)"
    assert R(T.tensor([1, 2]) + 0.5) == "tensor([1.5000, 2.5000])"
    assert R(T.tensor([1e10, 1.0])) == "tensor([1.0000e+10, 1.0000e+00])"
    assert R(T.tensor([float("nan"), float("inf"), -float("inf"), 1.5])) == "tensor([   nan,    inf,   -inf, 1.5000])"
    assert R(T.tensor([0.1, 100.0])) == "tensor([  0.1000, 100.0000])"
    assert R(T.zeros(0)) == "tensor([])"
    assert R(T.tensor([], requires_grad=True)) == "tensor([], requires_grad=True)"
    assert R(T.ones(3, dtype=T.int8)) == "tensor([1, 1, 1], dtype=torch.int8)"
    assert R(T.tensor([1, -2], dtype=T.int16)) == "tensor([ 1, -2], dtype=torch.int16)"
    assert R(T.tensor([200], dtype=T.uint8)) == "tensor([200], dtype=torch.uint8)"
    assert R(T.tensor([1.5], dtype=T.float16)) == "tensor([1.5000], dtype=torch.float16)"
    assert str(T.tensor([1.0, 2.0], requires_grad=True)) == "tensor([1., 2.], requires_grad=True)"
    assert R(T.tensor([1.0, 2.0], requires_grad=True).detach()) == "tensor([1., 2.])"


def test_repr_summarised(T):
    assert R(T.arange(2000.0)) == (
        "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n        1.9990e+03])")


def test_requires_grad_setter_on_leaf(T):
    x = T.ones(2)
    x.requires_grad = True
    assert x.requires_grad and x.is_leaf
    assert R(x) == "tensor([1., 1.], requires_grad=True)"
