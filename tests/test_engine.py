"""The backward engine, ``autograd.grad``, hooks, grad modes, detach/.data and memory.

Most tests take the ``T`` fixture: they run once on jitgrad and, when torch is importable,
once on real torch with the very same hard-coded expectations -- so every expectation here is
checked to be what PyTorch 2.13 does.  Tests of jitgrad internals (memory, node lifetime) run on
jitgrad only.
"""
import gc
import threading
import tracemalloc
import warnings
import weakref

import numpy as np
import pytest

import jitgrad


BACKWARD_TWICE = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
    "graph a second time or if you need to access saved tensors after calling backward."
)
UNUSED = ("The differentiated Tensor at index 1 appears to not have been used in the graph. "
          "Set allow_unused=True if this is the desired behavior.")


def L(t):
    return t.tolist()


# ============================================================================================
# backward from any root
# ============================================================================================
def test_scalar_root(T):
    x = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    assert L(x.grad) == [2.0, 4.0, 6.0]


def test_non_scalar_root_with_gradient(T):
    x = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    y.backward(T.tensor([1.0, 0.5, 0.0]))
    assert L(x.grad) == [2.0, 2.0, 0.0]


def test_backward_from_intermediate_node(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = y * 3  # noqa: F841 - the later part of the graph is not involved
    y.backward(T.ones(2))
    assert L(x.grad) == [2.0, 2.0]


def test_backward_from_leaf_itself(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    x.backward(T.tensor([3.0, 4.0]))
    assert L(x.grad) == [3.0, 4.0]


def test_backward_from_a_view(T):
    x = T.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    x.t()[0].sum().backward()
    assert L(x.grad) == [[1.0, 0.0], [1.0, 0.0]]


def test_backward_scalar_gradient_argument(T):
    x = T.tensor(3.0, requires_grad=True)
    (x * x).backward(T.tensor(2.0))
    assert x.grad.item() == 12.0


def test_autograd_backward_multiple_roots(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    a = x * 2
    b = x * x
    T.autograd.backward([a, b], [T.ones(2), T.tensor([1.0, 10.0])])
    assert L(x.grad) == [4.0, 42.0]


def test_autograd_backward_scalar_roots_without_grads(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    T.autograd.backward([(x * 3).sum(), x.sum()])
    assert L(x.grad) == [4.0, 4.0]


def test_backward_returns_none(T):
    x = T.ones(2, requires_grad=True)
    assert x.sum().backward() is None


def test_grad_dtype_and_shape_follow_leaf(T):
    x = T.ones(2, 3, dtype=T.float64, requires_grad=True)
    (x * 2).sum().backward()
    assert x.grad.dtype == T.float64
    assert tuple(x.grad.shape) == (2, 3)
    assert x.grad.requires_grad is False and x.grad.grad_fn is None


def test_broadcast_gradient_is_reduced(T):
    x = T.ones(3, 1, requires_grad=True)
    b = T.ones(4, requires_grad=True)
    (x + b).sum().backward()
    assert L(x.grad) == [[4.0], [4.0], [4.0]]
    assert L(b.grad) == [3.0, 3.0, 3.0, 3.0]


# ============================================================================================
# accumulation
# ============================================================================================
def test_grads_accumulate_in_place(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    g = x.grad
    (x * 3).sum().backward()
    assert x.grad is g
    assert L(g) == [5.0, 7.0]
    x.grad.zero_()
    assert x.grad is g and L(g) == [0.0, 0.0]
    x.sum().backward()
    assert x.grad is g and L(g) == [1.0, 1.0]


def test_grad_set_to_none_then_fresh(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    x.sum().backward()
    g = x.grad
    x.grad = None
    (2 * x).sum().backward()
    assert x.grad is not g and L(x.grad) == [2.0, 2.0] and L(g) == [1.0, 1.0]


def test_first_grad_does_not_alias_incoming_gradient(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    v = T.tensor([5.0, 6.0])
    x.backward(v)
    x.grad.add_(1)
    assert L(v) == [5.0, 6.0]


def test_grad_assignment(T):
    x = T.ones(2, requires_grad=True)
    x.grad = T.tensor([1.0, 1.0])
    x.sum().backward()
    assert L(x.grad) == [2.0, 2.0]


# ============================================================================================
# retain_graph and freed graphs
# ============================================================================================
def test_retain_graph_allows_second_backward(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert L(x.grad) == [4.0, 8.0]


@pytest.mark.parametrize("make", ["mul", "exp", "pow", "matmul", "div", "mul_scalar"])
def test_second_backward_raises(T, make):
    x = T.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = {"mul": lambda: (x * x).sum(), "exp": lambda: x.exp().sum(), "pow": lambda: (x ** 2).sum(),
         "matmul": lambda: (x @ x).sum(), "div": lambda: (x / 2).sum(),
         "mul_scalar": lambda: (x * 2).sum()}[make]()
    y.backward()
    with pytest.raises(RuntimeError) as info:
        y.backward()
    assert str(info.value) == BACKWARD_TWICE


def test_retain_graph_then_release(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward(retain_graph=True)
    y.backward()
    with pytest.raises(RuntimeError, match="a second time"):
        y.backward()
    assert L(x.grad) == [6.0, 12.0]


@pytest.mark.parametrize("make", [
    lambda x: (x + 1).sum(),
    lambda x: (x - 1).sum(),
    lambda x: (x + x).sum(),
    lambda x: (x + 1).mean(),
    lambda x: x.sum(),
    lambda x: (-x).sum(),
    lambda x: x[1:].sum(),
    lambda x: x.view(3, 1).t().sum(),
], ids=["add_scalar", "sub_scalar", "add_self", "add_mean", "sum", "neg", "slice", "view_t"])
def test_graph_without_saved_tensors_backwards_twice(T, make):
    """PyTorch: nodes that save no tensors (Add, Sub, Sum, Neg, views) can run again."""
    x = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = make(x)
    y.backward()
    first = L(x.grad)
    y.backward()
    assert L(x.grad) == [2 * v for v in first]


def test_non_scalar_add_backwards_twice(T):
    x = T.ones(3, requires_grad=True)
    y = x + 1
    y.backward(T.ones(3))
    y.backward(T.ones(3))
    assert L(x.grad) == [2.0, 2.0, 2.0]


def test_freed_part_of_graph_reached_from_other_root(T):
    """The shared subgraph was freed by the first backward: a second root through it fails."""
    x = T.tensor([1.0, 2.0], requires_grad=True)
    h = x.exp()
    a = h.sum()
    b = (h * 2).sum()
    a.backward()
    with pytest.raises(RuntimeError) as info:
        b.backward()
    assert str(info.value) == BACKWARD_TWICE


# ============================================================================================
# graph shapes
# ============================================================================================
def test_diamond(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    a = y + 1
    b = y * 3
    z = (a * b).sum()  # z = (2x+1)(6x) = 12x^2 + 6x
    z.backward()
    assert L(x.grad) == [30.0, 54.0]  # 24x + 6


def test_shared_subexpression(T):
    x = T.tensor([1.0, -2.0], requires_grad=True)
    y = x * x
    z = (y * y + y).sum()  # x^4 + x^2
    z.backward()
    assert L(x.grad) == [6.0, -36.0]  # 4x^3 + 2x


def test_same_input_many_times(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    (x + x + x * x + x).sum().backward()
    assert L(x.grad) == [5.0, 7.0]


def test_deep_chain(T):
    x = T.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(2000):
        y = y * 1.0 + 0.0
    y.sum().backward()
    assert L(x.grad) == [1.0]


def test_wide_fan_in(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    parts = [x * float(i) for i in range(50)]
    total = parts[0]
    for p in parts[1:]:
        total = total + p
    total.sum().backward()
    assert L(x.grad) == [1225.0, 1225.0]


def test_two_leaves_and_constant(T):
    w = T.tensor([1.0], requires_grad=True)
    x = T.tensor([2.0], requires_grad=True)
    c = T.tensor([5.0])
    y = (w + x) * (w + 1) * c
    y.backward()
    assert L(w.grad) == [25.0] and L(x.grad) == [10.0] and c.grad is None


def test_multi_output_node_partial_use(T):
    class Split(T.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1, x * 2

        @staticmethod
        def backward(ctx, ga, gb):
            return ga + 2 * gb

    x = T.tensor([1.0, 2.0], requires_grad=True)
    a, b = Split.apply(x)
    assert a.grad_fn is b.grad_fn and (a.output_nr, b.output_nr) == (0, 1)
    (b * 3).sum().backward()  # ga is materialised as zeros
    assert L(x.grad) == [6.0, 6.0]
    x.grad = None
    a, b = Split.apply(x)
    (a * b).sum().backward()  # both outputs reach the node: d/dx 2x^2 = 4x
    assert L(x.grad) == [4.0, 8.0]


# ============================================================================================
# autograd.grad
# ============================================================================================
def test_grad_basic_leaves_untouched(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    (g,) = T.autograd.grad(y, x)
    assert L(g) == [2.0, 4.0]
    assert x.grad is None


def test_grad_returns_tuple_for_list_inputs(T):
    x = T.tensor([1.0], requires_grad=True)
    w = T.tensor([3.0], requires_grad=True)
    out = T.autograd.grad([(x * w).sum()], [x, w])
    assert isinstance(out, tuple) and len(out) == 2
    assert L(out[0]) == [3.0] and L(out[1]) == [1.0]


def test_grad_with_grad_outputs(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    (g,) = T.autograd.grad(y, x, grad_outputs=T.tensor([1.0, 0.5]))
    assert L(g) == [2.0, 2.0]


def test_grad_positional_grad_outputs(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    (g,) = T.autograd.grad([x * 2], [x], [T.tensor([1.0, 3.0])])
    assert L(g) == [2.0, 6.0]


def test_grad_non_scalar_without_grad_outputs(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError) as info:
        T.autograd.grad(x * x, x)
    assert str(info.value) == "grad can be implicitly created only for scalar outputs"


def test_grad_frees_graph_unless_retained(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    T.autograd.grad(y, x, retain_graph=True)
    (g,) = T.autograd.grad(y, x)
    assert L(g) == [2.0, 4.0]
    with pytest.raises(RuntimeError) as info:
        T.autograd.grad(y, x)
    assert str(info.value) == BACKWARD_TWICE


def test_grad_unused_input_error(T):
    x = T.tensor([1.0], requires_grad=True)
    z = T.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError) as info:
        T.autograd.grad((x * 2).sum(), [x, z])
    assert str(info.value) == UNUSED


def test_grad_allow_unused_returns_none(T):
    x = T.tensor([1.0], requires_grad=True)
    z = T.tensor([1.0], requires_grad=True)
    gx, gz = T.autograd.grad((x * 2).sum(), [x, z], allow_unused=True)
    assert L(gx) == [2.0] and gz is None
    assert x.grad is None and z.grad is None


def test_grad_non_leaf_input(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    z = (y * y).sum()
    (gy,) = T.autograd.grad(z, y, retain_graph=True)
    assert L(gy) == [6.0, 12.0]
    (gx, gy2) = T.autograd.grad(z, [x, y])
    assert L(gx) == [18.0, 36.0] and L(gy2) == [6.0, 12.0]
    assert x.grad is None


def test_grad_input_not_requiring_grad(T):
    x = T.tensor([1.0], requires_grad=True)
    c = T.tensor([1.0])
    with pytest.raises(RuntimeError) as info:
        T.autograd.grad((x * c).sum(), [x, c])
    assert str(info.value) == "One of the differentiated Tensors does not require grad"


def test_grad_output_not_requiring_grad(T):
    x = T.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError) as info:
        T.autograd.grad(T.tensor(1.0), x)
    assert str(info.value) == "element 0 of tensors does not require grad and does not have a grad_fn"


def test_grad_fills_retained_grad_of_non_leaf(T):
    """PyTorch 2.x: retain_grad works through a hook, so autograd.grad fills it too."""
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    (g,) = T.autograd.grad((y * y).sum(), x)
    assert L(g) == [8.0, 16.0]
    assert L(y.grad) == [4.0, 8.0] and x.grad is None


def test_grad_does_not_run_leaf_hooks_of_other_leaves(T):
    x = T.tensor([1.0], requires_grad=True)
    w = T.tensor([2.0], requires_grad=True)
    T.autograd.grad((x * w).sum(), x)
    assert w.grad is None


def test_grad_result_is_not_requires_grad(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    (g,) = T.autograd.grad((x * x).sum(), x)
    assert g.requires_grad is False and g.grad_fn is None


# ============================================================================================
# backward(inputs=...)
# ============================================================================================
def test_backward_inputs_restricts_accumulation(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    w = T.tensor([3.0, 4.0], requires_grad=True)
    (x * w).sum().backward(inputs=[x])
    assert L(x.grad) == [3.0, 4.0] and w.grad is None


def test_backward_inputs_single_tensor(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    w = T.tensor([3.0, 4.0], requires_grad=True)
    (x * w).sum().backward(inputs=w)
    assert x.grad is None and L(w.grad) == [1.0, 2.0]


def test_backward_inputs_non_leaf(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    (y * y).sum().backward(inputs=[y])
    assert L(y.grad) == [4.0, 8.0]
    assert x.grad is None


def test_autograd_backward_inputs(T):
    x = T.tensor([1.0], requires_grad=True)
    w = T.tensor([2.0], requires_grad=True)
    T.autograd.backward((x * w).sum(), inputs=[w])
    assert x.grad is None and L(w.grad) == [1.0]


def test_backward_inputs_accumulate(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).sum().backward(inputs=[x])
    (x * 2).sum().backward(inputs=[x])
    assert L(x.grad) == [4.0, 4.0]


# ============================================================================================
# tensor hooks
# ============================================================================================
def test_leaf_hook_sees_grad(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(L(g)))
    (x * 3).sum().backward()
    assert seen == [[3.0, 3.0]] and L(x.grad) == [3.0, 3.0]


def test_leaf_hook_replacement(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g * 10)
    (x * 3).sum().backward()
    assert L(x.grad) == [30.0, 30.0]


def test_non_leaf_hook_replacement_propagates(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    seen = []
    y.register_hook(lambda g: seen.append(L(g)))
    y.register_hook(lambda g: g + 1)
    (y * y).sum().backward()
    assert seen == [[4.0, 8.0]]
    assert L(x.grad) == [10.0, 18.0]  # dz/dy = 2y = [4, 8]; hook adds 1; times dy/dx = 2


def test_hook_handle_remove(T):
    x = T.tensor([1.0], requires_grad=True)
    calls = []
    h = x.register_hook(lambda g: calls.append(1))
    x.sum().backward()
    h.remove()
    x.sum().backward()
    assert calls == [1]
    y = x * 1
    h2 = y.register_hook(lambda g: g * 100)
    h2.remove()
    y.sum().backward()
    assert L(x.grad) == [3.0]


def test_hooks_run_in_registration_order(T):
    x = T.tensor([1.0], requires_grad=True)
    order = []
    x.register_hook(lambda g: order.append("a") or g * 2)
    x.register_hook(lambda g: order.append(("b", L(g))))
    x.sum().backward()
    assert order == ["a", ("b", [2.0])]
    assert L(x.grad) == [2.0]


def test_hook_on_tensor_without_grad(T):
    with pytest.raises(RuntimeError) as info:
        T.ones(2).register_hook(lambda g: g)
    assert str(info.value) == "cannot register a hook on a tensor that doesn't require gradient"


def test_non_leaf_hook_with_retain_grad(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    y.register_hook(lambda g: g * 0)
    (y * 5).sum().backward()
    assert L(x.grad) == [0.0, 0.0]


def test_hook_not_called_for_unreached_tensor(T):
    x = T.tensor([1.0], requires_grad=True)
    w = T.tensor([1.0], requires_grad=True)
    calls = []
    w.register_hook(lambda g: calls.append(g))
    (x * 2).sum().backward()
    assert calls == []


# ============================================================================================
# node hooks
# ============================================================================================
def test_node_post_hook(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    seen = []

    def hook(grad_inputs, grad_outputs):
        seen.append(([None if g is None else L(g) for g in grad_inputs], [L(g) for g in grad_outputs]))

    y.grad_fn.register_hook(hook)
    y.sum().backward()
    assert seen == [([[3.0, 3.0], None], [[1.0, 1.0]])]  # the scalar 3 is a (None, 0) edge
    assert y.grad_fn.next_functions[1] == (None, 0)


def test_node_post_hook_replacement(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    y.grad_fn.register_hook(lambda gi, go: (T.tensor([7.0, 8.0]),))
    y.sum().backward()
    assert L(x.grad) == [7.0, 8.0]


def test_node_prehook(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    seen = []

    def pre(grad_outputs):
        seen.append([L(g) for g in grad_outputs])
        return (grad_outputs[0] * 2,)

    h = y.grad_fn.register_prehook(pre)
    y.sum().backward(retain_graph=True)
    assert seen == [[[1.0, 1.0]]] and L(x.grad) == [6.0, 6.0]
    h.remove()
    y.sum().backward()
    assert L(x.grad) == [9.0, 9.0]


def test_node_hook_remove(T):
    x = T.tensor([1.0], requires_grad=True)
    y = x * 3
    calls = []
    h = y.grad_fn.register_hook(lambda gi, go: calls.append(1))
    h.remove()
    y.sum().backward()
    assert calls == []


def test_accumulate_grad_node_hooks(T):
    x = T.tensor([1.0], requires_grad=True)
    y = x * 2
    acc = y.grad_fn.next_functions[0][0]
    assert acc.variable is x
    calls = []
    acc.register_prehook(lambda go: calls.append(L(go[0])))
    y.sum().backward()
    assert calls == [[2.0]]


# ============================================================================================
# retain_grad
# ============================================================================================
def test_retain_grad(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    assert y.retains_grad is True and x.retains_grad is False
    (y * y).sum().backward(retain_graph=True)
    assert L(y.grad) == [4.0, 8.0]
    (y * y).sum().backward()
    assert L(y.grad) == [8.0, 16.0]


def test_retain_grad_on_leaf_is_noop(T):
    x = T.tensor([1.0], requires_grad=True)
    x.retain_grad()
    x.sum().backward()
    assert L(x.grad) == [1.0]


def test_non_leaf_grad_is_none_with_warning(T):
    x = T.tensor([1.0], requires_grad=True)
    y = x * 2
    y.sum().backward()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert y.grad is None
    assert any(issubclass(i.category, UserWarning) and "is not a leaf Tensor is being accessed" in str(i.message)
               for i in w)


def test_retain_grad_on_tensor_without_grad(T):
    with pytest.raises(RuntimeError) as info:
        T.ones(2).retain_grad()
    assert str(info.value) == "can't retain_grad on Tensor that has requires_grad=False"


# ============================================================================================
# grad modes
# ============================================================================================
def test_no_grad_context(T):
    x = T.ones(2, requires_grad=True)
    with T.no_grad():
        y = x * 2
        assert T.is_grad_enabled() is False
    assert T.is_grad_enabled() is True
    assert y.requires_grad is False and y.grad_fn is None and y.is_leaf


def test_enable_grad_inside_no_grad(T):
    x = T.ones(2, requires_grad=True)
    with T.no_grad():
        with T.enable_grad():
            y = x * 2
        z = x * 2
    assert y.requires_grad and not z.requires_grad


def test_set_grad_enabled_context_and_call(T):
    x = T.ones(2, requires_grad=True)
    with T.set_grad_enabled(False):
        assert (x * 2).requires_grad is False
    assert T.is_grad_enabled()
    with T.set_grad_enabled(True):
        assert (x * 2).requires_grad is True
    T.set_grad_enabled(False)
    try:
        assert T.is_grad_enabled() is False
        assert (x * 2).requires_grad is False
    finally:
        T.set_grad_enabled(True)
    assert (x * 2).requires_grad is True


def test_no_grad_restored_after_exception(T):
    with pytest.raises(ValueError):
        with T.no_grad():
            raise ValueError("boom")
    assert T.is_grad_enabled()


def test_no_grad_decorators(T):
    x = T.ones(2, requires_grad=True)

    @T.no_grad()
    def f1(a):
        return a * 2

    @T.no_grad
    def f2(a):
        return a * 2

    @T.enable_grad()
    def f3(a):
        return a * 2

    @T.set_grad_enabled(False)
    def f4(a):
        return a * 2

    assert f1(x).requires_grad is False
    assert f2(x).requires_grad is False
    assert f4(x).requires_grad is False
    assert T.is_grad_enabled()
    with T.no_grad():
        assert f3(x).requires_grad is True
        assert T.is_grad_enabled() is False
    assert f1.__name__ == "f1" and f2.__name__ == "f2"


def test_autograd_namespace_grad_modes(T):
    assert T.autograd.no_grad is T.no_grad
    assert T.autograd.enable_grad is T.enable_grad
    assert T.autograd.set_grad_enabled is T.set_grad_enabled


def test_grad_mode_is_thread_local(T):
    results = {}

    def worker():
        results["start"] = T.is_grad_enabled()
        T.set_grad_enabled(False)
        results["set"] = T.is_grad_enabled()
        x = T.ones(1, requires_grad=True)
        results["op"] = (x * 2).requires_grad

    with T.no_grad():
        th = threading.Thread(target=worker)
        th.start()
        th.join()
        assert T.is_grad_enabled() is False
    assert results == {"start": True, "set": False, "op": False}
    assert T.is_grad_enabled() is True

    def worker2():
        results["start2"] = T.is_grad_enabled()
        x = T.ones(1, requires_grad=True)
        results["op2"] = (x * 2).requires_grad

    th = threading.Thread(target=worker2)
    th.start()
    th.join()
    assert results["start2"] is True and results["op2"] is True
    assert T.is_grad_enabled() is True


def test_backward_inside_no_grad_still_works(T):
    x = T.ones(2, requires_grad=True)
    y = (x * 3).sum()
    with T.no_grad():
        y.backward()
    assert L(x.grad) == [3.0, 3.0]


def test_inplace_update_under_no_grad(T):
    w = T.ones(2, requires_grad=True)
    (w * 2).sum().backward()
    with T.no_grad():
        w -= 0.5 * w.grad
    assert w.is_leaf and w.requires_grad and w.grad_fn is None
    assert L(w) == [0.0, 0.0]


# ============================================================================================
# requires_grad_, detach, detach_, .data
# ============================================================================================
def test_requires_grad_(T):
    x = T.ones(2)
    assert x.requires_grad_() is x and x.requires_grad
    assert x.requires_grad_(False) is x and not x.requires_grad
    x.requires_grad = True
    assert x.requires_grad and x.is_leaf


def test_requires_grad_false_on_non_leaf(T):
    y = T.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError) as info:
        y.requires_grad_(False)
    assert str(info.value) == (
        "you can only change requires_grad flags of leaf variables. If you want to use a computed "
        "variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach().")


def test_requires_grad_true_on_non_leaf_is_fine(T):
    y = T.ones(2, requires_grad=True) * 2
    assert y.requires_grad_(True) is y
    assert y.requires_grad and not y.is_leaf
    with pytest.raises(RuntimeError) as info:  # the setter differs from requires_grad_
        y.requires_grad = True
    assert str(info.value) == "you can only change requires_grad flags of leaf variables."


def test_detach_shares_storage(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert d.requires_grad is False and d.grad_fn is None and d.is_leaf
    assert d.data_ptr() == y.data_ptr()
    d.mul_(5)
    assert L(y.detach()) == [10.0, 20.0]


def test_detach_shares_version_counter(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    v0 = y._version
    y.detach().add_(1)
    assert y._version == v0 + 1
    with pytest.raises(RuntimeError) as info:
        y.sum().backward()
    assert str(info.value).startswith(
        "one of the variables needed for gradient computation has been modified by an inplace operation: "
        "[torch.FloatTensor [2]], which is output 0 of Exp, is at version 1; expected version 0 instead. Hint:")


def test_detach_of_leaf_version_counter(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    x.detach().mul_(2)
    with pytest.raises(RuntimeError) as info:
        y.sum().backward()
    assert str(info.value).startswith(
        "one of the variables needed for gradient computation has been modified by an inplace operation: "
        "[torch.FloatTensor [2]] is at version 1; expected version 0 instead.")


def test_detach_(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    assert y.detach_() is y
    assert y.requires_grad is False and y.grad_fn is None and y.is_leaf
    assert L(y) == [2.0, 4.0]


def test_data_shares_storage_untracked(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    d = x.data
    assert d.requires_grad is False and d.grad_fn is None
    assert d.data_ptr() == x.data_ptr()
    d.mul_(3)
    assert L(x.detach()) == [3.0, 6.0]
    assert x.requires_grad and x.is_leaf


def test_data_modification_is_not_versioned(T):
    """The classic .data footgun: backward runs with the modified value, no error."""
    x = T.tensor([0.0, 1.0], requires_grad=True)
    y = x.exp()
    y.data.zero_()
    y.sum().backward()
    assert L(x.grad) == [0.0, 0.0]


def test_data_setter(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    x.data = T.tensor([5.0, 6.0, 7.0])
    assert L(x.detach()) == [5.0, 6.0, 7.0] and x.requires_grad
    (x * 2).sum().backward()
    assert L(x.grad) == [2.0, 2.0, 2.0]


def test_grad_data_zero(T):
    w = T.tensor([1.0], requires_grad=True)
    w.sum().backward()
    g = w.grad
    w.grad.data.zero_()
    assert w.grad is g and L(g) == [0.0]


# ============================================================================================
# memory (jitgrad only)
# ============================================================================================
def test_training_loop_memory_is_flat():
    T = jitgrad
    T.manual_seed(0)
    x = T.randn(8, 4)
    y = T.randn(8, 1)
    w = T.zeros(4, 1, requires_grad=True)
    w_id = id(w)
    grad_id = None

    def step():
        nonlocal w
        loss = ((x @ w - y) ** 2).mean()
        loss.backward()
        with T.no_grad():
            w -= 0.01 * w.grad
        w.grad.zero_()
        return loss.item()

    first = step()
    grad_id = id(w.grad)
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()  # the graph of every step must be freed by reference counting alone
    tracemalloc.start()
    try:
        for _ in range(999):
            step()
        cur_1000, peak_1000 = tracemalloc.get_traced_memory()
        for _ in range(9000):
            last = step()
        cur_10000, peak_10000 = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        if was_enabled:
            gc.enable()
    assert cur_10000 - cur_1000 < 16 * 1024, (cur_1000, cur_10000)
    assert peak_10000 - peak_1000 < 16 * 1024, (peak_1000, peak_10000)
    assert id(w) == w_id and id(w.grad) == grad_id and w.is_leaf
    assert last < first


def test_intermediate_node_freed_without_gc():
    x = jitgrad.ones(3, requires_grad=True)
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        y = x * 2
        z = y.exp()
        out = (z * z).sum()
        refs = [weakref.ref(out.grad_fn), weakref.ref(z.grad_fn), weakref.ref(y.grad_fn)]
        del y, z
        assert all(r() is not None for r in refs)  # kept alive by out's graph
        del out
        assert [r() for r in refs] == [None, None, None]
    finally:
        if was_enabled:
            gc.enable()


def test_graph_freed_after_backward_and_drop_without_gc():
    x = jitgrad.ones(3, requires_grad=True)
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        y = x.exp()
        loss = (y * x).sum()
        node = weakref.ref(y.grad_fn)
        loss.backward()
        del loss
        assert node() is not None  # y still holds it
        del y
        assert node() is None
        # the leaf's accumulator does not keep the leaf alive
        xr = weakref.ref(x)
        del x
        assert xr() is None
    finally:
        if was_enabled:
            gc.enable()


def test_grad_fn_holds_no_reference_to_its_output():
    x = jitgrad.ones(3, requires_grad=True)
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        y = x.exp()  # ExpBackward saves its output
        z = y * 2
        yr = weakref.ref(y)
        del y
        assert yr() is None
        z.sum().backward()
        assert x.grad.tolist() == pytest.approx([2 * 2.718281828] * 3, rel=1e-6)
    finally:
        if was_enabled:
            gc.enable()


# ----------------------------------------------------------------------------- AccumulateGrad
# A leaf's first gradient is stolen (not copied) when nothing but the engine holds it, as in
# PyTorch; whenever anything else can still see the array it must be copied.
def test_gradient_a_post_hook_saw_is_copied_not_adopted():
    # MulBackward0 owns the array it sends to x's AccumulateGrad (owns_grads=True), but a node post
    # hook saw it and may keep it: .grad gets a copy (tests/test_engine_design.py: the adoption)
    x = jitgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    seen = []
    y = x * 2
    y.grad_fn.register_hook(lambda grad_inputs, grad_outputs: seen.append(grad_inputs[0]._data))
    y.sum().backward()
    assert x.grad._data is not seen[0]
    x.grad.add_(1)
    assert seen[0].tolist() == [2.0, 2.0, 2.0] and x.grad.tolist() == [3.0, 3.0, 3.0]


def test_gradient_still_referenced_elsewhere_is_copied():
    x = jitgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    kept = []
    x.register_hook(lambda g: kept.append(g._data))  # a strong reference: the hook's caller keeps it
    (x * 2).sum().backward()
    assert x.grad._data is not kept[0]
    x.grad.add_(1)
    assert kept[0].tolist() == [2.0, 2.0, 2.0] and x.grad.tolist() == [3.0, 3.0, 3.0]


def test_one_gradient_array_sent_to_two_leaves_gives_two_grads():
    # AddBackward0 passes the same array to both leaves: at most one of them may own it
    a = jitgrad.tensor([1.0, 2.0], requires_grad=True)
    b = jitgrad.tensor([3.0, 4.0], requires_grad=True)
    w = jitgrad.tensor([5.0, 6.0])
    ((a + b) * w).sum().backward()
    assert a.grad._data is not b.grad._data and not np.shares_memory(a.grad._data, b.grad._data)
    a.grad.mul_(10)
    assert a.grad.tolist() == [50.0, 60.0] and b.grad.tolist() == [5.0, 6.0]
    ((a + b) * w).sum().backward()  # the second backward accumulates in place into each
    assert a.grad.tolist() == [55.0, 66.0] and b.grad.tolist() == [10.0, 12.0]


def test_user_gradient_argument_is_never_stolen():
    x = jitgrad.tensor([1.0, 2.0], requires_grad=True)
    g = jitgrad.tensor([1.0, 1.0])
    (x * 1).backward(g)  # MulBackward0 computes g * 1: a fresh array, stolen
    y = x.detach().requires_grad_()
    y.backward(g)  # a leaf's own backward: the root gradient is the user's tensor
    assert y.grad._data is not g._data
    y.grad.add_(1)
    assert g.tolist() == [1.0, 1.0]


def test_square_sends_one_summed_gradient_with_the_same_values():
    # x * x: MulBackward0 keeps both edges (as PyTorch shows them) but sends 2*g*x once
    x = jitgrad.tensor([1.5, -2.0, 3.0], dtype=jitgrad.float32, requires_grad=True)
    y = x * x
    assert y.grad_fn.next_functions[0] == y.grad_fn.next_functions[1]
    y.backward(jitgrad.tensor([1.0, 0.5, -2.0]))
    assert x.grad.dtype == jitgrad.float32 and x.grad.tolist() == [3.0, -2.0, -12.0]
    seen = []
    z = x * x
    z.grad_fn.register_hook(lambda gi, go: seen.append(len([g for g in gi if g is not None])))
    z.sum().backward()  # with a node hook the two gradients are reported separately, as in PyTorch
    assert seen == [2] and x.grad.tolist() == [6.0, -6.0, -6.0]


@pytest.mark.parametrize("uses", [2, 3, 4, 5])
def test_large_tensor_used_k_times_gets_one_k_way_sum(uses):
    # the engine defers a large tensor's gradient sums to one pass when its node runs; the result
    # is the pairwise sum in arrival order, bit for bit
    from jitgrad.kernels.elementwise import PARALLEL_THRESHOLD

    rng = np.random.default_rng(uses)
    xs = rng.uniform(-1, 1, PARALLEL_THRESHOLD + 5)
    x = jitgrad.tensor(xs, requires_grad=True)
    ws = [rng.uniform(-1, 1, xs.size) for _ in range(uses)]
    loss = sum((x * jitgrad.tensor(w)).sum() for w in ws)
    loss.backward()
    engine_order = list(reversed(ws))  # the last product's node runs first
    expected = engine_order[0]
    for w in engine_order[1:]:
        expected = expected + w
    assert np.array_equal(x.grad.numpy(), expected)


def test_deferred_sums_reach_hooks_and_mixed_dtypes():
    from jitgrad.kernels.elementwise import PARALLEL_THRESHOLD

    n = PARALLEL_THRESHOLD
    x = jitgrad.ones(n, dtype=jitgrad.float32, requires_grad=True)
    y = x * 1.0
    seen = []
    y.register_hook(lambda g: seen.append((type(g._data), float(g[0]))))
    (y * 2.0 + y * 3.0 + y.double() * 4.0).sum().backward()  # float32, float32 and a cast
    assert seen == [(np.ndarray, 9.0)] and x.grad.dtype == jitgrad.float32 and np.all(x.grad.numpy() == 9.0)


def test_gradient_replaced_by_a_hook_is_never_stolen():
    # the hook returns a tensor its owner keeps: .grad must be a copy, not an alias of it
    keep = jitgrad.tensor([7.0, 8.0])
    x = jitgrad.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: keep)
    (x * 2).sum().backward()
    assert x.grad._data is not keep._data and not np.shares_memory(x.grad._data, keep._data)
    x.grad.add_(1)
    assert keep.tolist() == [7.0, 8.0] and x.grad.tolist() == [8.0, 9.0]


def test_cast_gradient_is_the_leafs_own():
    x = jitgrad.tensor([1.0, 2.0], dtype=jitgrad.float32, requires_grad=True)
    (x.double() * 3).sum().backward()  # the float64 gradient is cast back to float32
    assert x.grad.dtype == jitgrad.float32 and x.grad.tolist() == [3.0, 3.0]
    assert x.grad._data.flags.c_contiguous and x.grad._data.flags.writeable
