"""Custom autograd Functions: PyTorch's API, and jitgrad's jitted-kernel Functions.

The PyTorch-style tests take the ``T`` fixture and run on jitgrad and (when importable) on real
torch with the same hard-coded expectations.  The kernel tests are jitgrad-only.
"""
import re

import numpy as np
import pytest
from numba import njit

import jitgrad
from jitgrad.autograd import Function as JFunction


BACKWARD_TWICE = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
    "graph a second time or if you need to access saved tensors after calling backward."
)


def L(t):
    return t.tolist()


def _functions(T):
    """The same custom Functions, defined against either backend."""
    F = T.autograd.Function
    ns = {}

    class MulConstant(F):
        @staticmethod
        def forward(ctx, tensor, constant):
            ctx.constant = constant
            return tensor * constant

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output * ctx.constant, None

    class Exp(F):
        @staticmethod
        def forward(ctx, i):
            result = i.exp()
            ctx.save_for_backward(result)
            return result

        @staticmethod
        def backward(ctx, grad_output):
            (result,) = ctx.saved_tensors
            return grad_output * result

    class MulAdd(F):  # saves inputs; a * b + c
        @staticmethod
        def forward(ctx, a, b, c):
            ctx.save_for_backward(a, b)
            ctx.record = ctx.needs_input_grad
            return a * b + c

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            ga = g * b if ctx.needs_input_grad[0] else None
            gb = g * a if ctx.needs_input_grad[1] else None
            gc = g if ctx.needs_input_grad[2] else None
            return ga, gb, gc

    class SinCos(F):  # two outputs
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin(), x.cos()

        @staticmethod
        def backward(ctx, gs, gc):
            (x,) = ctx.saved_tensors
            return gs * x.cos() - gc * x.sin()

    class WrongCount(F):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            return g

    class GradForConstant(F):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g * 2, g

    class WrongShape(F):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return T.ones(2)

    class Sorted(F):  # values and non-differentiable indices-like output
        @staticmethod
        def forward(ctx, x):
            idx = T.tensor([1, 0])
            ctx.mark_non_differentiable(idx)
            return x * 2, idx

        @staticmethod
        def backward(ctx, g, g_idx):
            return g * 2

    class AddOneInplace(F):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    class NoMaterialize(F):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 1, x * 2

        @staticmethod
        def backward(ctx, g1, g2):
            ns["seen"] = (g1 is None, g2 is None)
            total = None
            if g1 is not None:
                total = g1
            if g2 is not None:
                total = g2 * 2 if total is None else total + g2 * 2
            return total

    class Materialize(F):
        @staticmethod
        def forward(ctx, x):
            return x * 1, x * 2

        @staticmethod
        def backward(ctx, g1, g2):
            ns["seen_m"] = (g1 is None, L(g1), g2 is None, L(g2))
            return g1 + g2 * 2

    class SaveOutputAndInput(F):
        @staticmethod
        def forward(ctx, x):
            y = x * x
            ctx.save_for_backward(x, y)
            return y

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            ns["saved"] = (L(x), L(y))
            return g * 2 * x

    class SaveNonTensor(F):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, 3)
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return g

    ns.update({k: v for k, v in locals().items() if isinstance(v, type)})
    return ns


# ============================================================================================
# PyTorch's Function API
# ============================================================================================
def test_forward_backward_apply(T):
    fns = _functions(T)
    a = T.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    b = fns["MulConstant"].apply(a, 5)
    assert L(b) == [[5.0, 10.0], [15.0, 20.0]]
    assert b.requires_grad and not b.is_leaf
    b.backward(T.ones_like(a))
    assert L(a.grad) == [[5.0, 5.0], [5.0, 5.0]]


def test_node_name_and_next_functions(T):
    fns = _functions(T)
    a = T.tensor([1.0, 2.0], requires_grad=True)
    b = fns["MulConstant"].apply(a, 5)
    node = b.grad_fn
    assert type(node).__name__ == "MulConstantBackward"
    assert node.name() == "MulConstantBackward"
    assert repr(b) == "tensor([ 5., 10.], grad_fn=<MulConstantBackward>)"
    # one edge per Tensor argument (the constant 5 has none)
    ((acc, nr0),) = node.next_functions
    assert type(acc).__name__ == "AccumulateGrad" and acc.variable is a and nr0 == 0
    c = fns["MulConstant"].apply(b * 1, 2)
    assert c.grad_fn.next_functions[0][0].name() == "MulBackward0"


def test_next_functions_one_edge_per_tensor_argument(T):
    F = T.autograd.Function

    class Mixed(F):
        @staticmethod
        def forward(ctx, c, x, k, w):
            return x * k + w * c

        @staticmethod
        def backward(ctx, g):
            return None, g * 2, None, g * 3.0

    x = T.ones(2, requires_grad=True)
    w = T.ones(2)
    y = Mixed.apply(3.0, x, 2, w)
    nf = y.grad_fn.next_functions
    assert len(nf) == 2
    assert nf[0][0].variable is x and nf[1] == (None, 0)
    assert y.grad_fn.needs_input_grad == (False, True, False, False)
    y.sum().backward()
    assert L(x.grad) == [2.0, 2.0]


def test_node_repr_like_pytorch(T):
    # Same form as PyTorch's; the module path names the library that defines the node class
    # (torch.autograd.function in PyTorch, jitgrad.autograd.function here).
    fns = _functions(T)
    b = fns["Exp"].apply(T.tensor([1.0], requires_grad=True))
    lib = T.__name__.split(".")[0]
    assert re.fullmatch(rf"<{lib}\.autograd\.function\.ExpBackward object at 0x[0-9a-f]+>", repr(b.grad_fn)), \
        repr(b.grad_fn)


def test_exp_save_output(T):
    fns = _functions(T)
    x = T.tensor([1.0], requires_grad=True)
    ret = fns["Exp"].apply(x)
    assert repr(ret) == "tensor([2.7183], grad_fn=<ExpBackward>)"
    ret.backward()
    assert repr(x.grad) == "tensor([2.7183])"


def test_saved_tensors_inputs_and_outputs(T):
    fns = _functions(T)
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = fns["SaveOutputAndInput"].apply(x)
    x_saved, y_saved = y.grad_fn.saved_tensors
    assert L(x_saved) == [1.0, 2.0] and L(y_saved) == [1.0, 4.0]
    assert y_saved.grad_fn is y.grad_fn  # a saved output unpacks with its own node as grad_fn
    y.sum().backward()
    assert fns["saved"] == ([1.0, 2.0], [1.0, 4.0])
    assert L(x.grad) == [2.0, 4.0]


def test_saved_tensors_freed_after_backward(T):
    fns = _functions(T)
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = fns["Exp"].apply(x)
    node = y.grad_fn
    y.sum().backward()
    with pytest.raises(RuntimeError) as info:
        node.saved_tensors
    assert str(info.value) == BACKWARD_TWICE
    with pytest.raises(RuntimeError) as info:
        y.sum().backward()
    assert str(info.value) == BACKWARD_TWICE


def test_saved_tensors_kept_with_retain_graph(T):
    fns = _functions(T)
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = fns["Exp"].apply(x)
    y.sum().backward(retain_graph=True)
    assert len(y.grad_fn.saved_tensors) == 1
    y.sum().backward()
    assert L(x.grad) == pytest.approx([2 * 2.7182817, 2 * 7.3890562], rel=1e-6)


def test_saved_tensor_version_check(T):
    fns = _functions(T)
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = fns["Exp"].apply(x)
    with T.no_grad():
        y.mul_(2)
    with pytest.raises(RuntimeError) as info:
        y.sum().backward()
    assert str(info.value).startswith(
        "one of the variables needed for gradient computation has been modified by an inplace operation: "
        "[torch.FloatTensor [2]], which is output 0 of Exp, is at version 1; expected version 0 instead.")


def test_save_for_backward_rejects_non_tensor(T):
    fns = _functions(T)
    with pytest.raises(TypeError) as info:
        fns["SaveNonTensor"].apply(T.ones(1, requires_grad=True))
    assert str(info.value) == "save_for_backward can only save variables, but argument 1 is of type int"


def test_needs_input_grad(T):
    fns = _functions(T)
    a = T.tensor([2.0], requires_grad=True)
    b = T.tensor([3.0])
    c = T.tensor([4.0], requires_grad=True)
    out = fns["MulAdd"].apply(a, b, c)
    assert out.grad_fn.needs_input_grad == (True, False, True)
    assert out.grad_fn.record == (True, False, True)
    out.backward()
    assert L(a.grad) == [3.0] and b.grad is None and L(c.grad) == [1.0]


def test_needs_input_grad_with_non_tensor(T):
    fns = _functions(T)
    b = fns["MulConstant"].apply(T.ones(1, requires_grad=True), 2.0)
    assert b.grad_fn.needs_input_grad == (True, False)


def test_non_tensor_argument_gets_none_grad(T):
    fns = _functions(T)
    x = T.tensor([1.0], requires_grad=True)
    y = fns["MulConstant"].apply(x, 3)
    (g,) = T.autograd.grad(y.sum(), [x])
    assert L(g) == [3.0]


def test_gradient_for_non_tensor_argument_is_an_error(T):
    fns = _functions(T)
    y = fns["GradForConstant"].apply(T.ones(1, requires_grad=True), 3.0)
    with pytest.raises(RuntimeError) as info:
        y.sum().backward()
    assert str(info.value) == (
        "function GradForConstantBackward returned a gradient different than None at position 2, but the "
        "corresponding forward input was not a Variable")


def test_incorrect_number_of_gradients(T):
    fns = _functions(T)
    x = T.ones(2, requires_grad=True)
    y = T.ones(2, requires_grad=True)
    out = fns["WrongCount"].apply(x, y)
    with pytest.raises(RuntimeError) as info:
        out.sum().backward()
    assert str(info.value) == "function WrongCountBackward returned an incorrect number of gradients (expected 2, got 1)"


def test_invalid_gradient_shape(T):
    fns = _functions(T)
    y = fns["WrongShape"].apply(T.ones(3, requires_grad=True))
    with pytest.raises(RuntimeError) as info:
        y.sum().backward()
    assert str(info.value) == ("Function WrongShapeBackward returned an invalid gradient at index 0 - got [2] but "
                               "expected shape compatible with [3]")


def test_multiple_outputs(T):
    fns = _functions(T)
    x = T.tensor([0.0, 1.0], requires_grad=True)
    s, c = fns["SinCos"].apply(x)
    assert s.grad_fn is c.grad_fn and s.grad_fn.name() == "SinCosBackward"
    assert (s.output_nr, c.output_nr) == (0, 1)
    (s + c).sum().backward()
    expected = [np.cos(v) - np.sin(v) for v in (0.0, 1.0)]
    assert L(x.grad) == pytest.approx(expected, rel=1e-6)


def test_multiple_outputs_one_used_materialises_zeros(T):
    fns = _functions(T)  # backward records what it received in fns["seen_m"]
    x = T.tensor([1.0, 2.0], requires_grad=True)
    a, b = fns["Materialize"].apply(x)
    b.sum().backward()
    assert fns["seen_m"] == (False, [0.0, 0.0], False, [1.0, 1.0])
    assert L(x.grad) == [2.0, 2.0]


def test_set_materialize_grads_false(T):
    fns = _functions(T)  # backward records (g1 is None, g2 is None) in fns["seen"]
    x = T.tensor([1.0, 2.0], requires_grad=True)
    a, b = fns["NoMaterialize"].apply(x)
    b.sum().backward()
    assert fns["seen"] == (True, False)
    assert L(x.grad) == [2.0, 2.0]


def test_mark_non_differentiable(T):
    fns = _functions(T)
    x = T.tensor([1.0, 2.0], requires_grad=True)
    vals, idx = fns["Sorted"].apply(x)
    assert vals.requires_grad and not idx.requires_grad
    assert idx.grad_fn is None
    vals.sum().backward()
    assert L(x.grad) == [2.0, 2.0]


def test_mark_dirty_inplace(T):
    fns = _functions(T)
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    v0 = y._version
    z = fns["AddOneInplace"].apply(y)
    assert z is y
    assert L(y) == [2.0, 3.0]
    assert y.grad_fn.name() == "AddOneInplaceBackward"
    assert y._version == v0 + 2  # PyTorch: once for add_, once for mark_dirty
    (y * 3).sum().backward()
    assert L(x.grad) == [3.0, 3.0]


def test_mark_dirty_on_leaf_requiring_grad(T):
    fns = _functions(T)
    with pytest.raises(RuntimeError) as info:
        fns["AddOneInplace"].apply(T.tensor([1.0], requires_grad=True))
    assert str(info.value) == "a leaf Variable that requires grad has been used in an in-place operation."


def test_function_without_grad_inputs(T):
    fns = _functions(T)
    y = fns["Exp"].apply(T.tensor([0.0]))
    assert not y.requires_grad and y.grad_fn is None
    assert L(y) == [1.0]


def test_function_under_no_grad(T):
    fns = _functions(T)
    x = T.tensor([0.0], requires_grad=True)
    with T.no_grad():
        y = fns["Exp"].apply(x)
    assert not y.requires_grad and y.grad_fn is None


def test_forward_runs_without_grad_tracking(T):
    F = T.autograd.Function
    seen = {}

    class Probe(F):
        @staticmethod
        def forward(ctx, x):
            y = x * 2
            seen["inner"] = (y.requires_grad, T.is_grad_enabled())
            return y

        @staticmethod
        def backward(ctx, g):
            seen["backward_grad_mode"] = T.is_grad_enabled()
            return g * 2

    x = T.ones(1, requires_grad=True)
    Probe.apply(x).sum().backward()
    assert seen["inner"] == (False, False)
    assert L(x.grad) == [2.0]


def test_legacy_call_is_an_error(T):
    fns = _functions(T)
    with pytest.raises(RuntimeError) as info:
        fns["Exp"]()(T.ones(1))
    assert str(info.value) == ("Legacy autograd function with non-static forward method is deprecated. Please use "
                               "new-style autograd function with static forward method. (Example: "
                               "https://pytorch.org/docs/stable/autograd.html#torch.autograd.Function)")


def test_gradcheck_custom_function(T):
    fns = _functions(T)
    a = T.tensor([0.5, -1.0, 2.0], dtype=T.float64, requires_grad=True)
    b = T.tensor([1.5, 2.0, -0.5], dtype=T.float64, requires_grad=True)
    c = T.tensor([0.1, 0.2, 0.3], dtype=T.float64, requires_grad=True)
    assert T.autograd.gradcheck(fns["MulAdd"].apply, (a, b, c))
    assert T.autograd.gradcheck(fns["Exp"].apply, (a,))
    assert T.autograd.gradcheck(lambda x: fns["SinCos"].apply(x), (a,))


def test_gradcheck_detects_wrong_backward(T):
    F = T.autograd.Function

    class Bad(F):
        @staticmethod
        def forward(ctx, x):
            return x * x

        @staticmethod
        def backward(ctx, g):
            return g * 3

    x = T.tensor([1.0, 2.0], dtype=T.float64, requires_grad=True)
    assert T.autograd.gradcheck(Bad.apply, (x,), raise_exception=False) is False
    with pytest.raises(RuntimeError):
        T.autograd.gradcheck(Bad.apply, (x,))


def test_gradcheck_is_the_function(T):
    assert callable(T.autograd.gradcheck)
    from importlib import import_module

    import_module(T.__name__ + ".autograd.gradcheck")
    assert callable(T.autograd.gradcheck)  # the submodule import must not shadow the function
    gc_fn = getattr(import_module(T.__name__ + ".autograd"), "gradcheck")
    assert callable(gc_fn)


def test_once_differentiable_importable(T):
    from importlib import import_module

    mod = import_module(T.__name__ + ".autograd.function")
    assert callable(mod.once_differentiable)
    assert mod.Function is T.autograd.Function


def test_node_hooks_on_custom_node(T):
    fns = _functions(T)
    x = T.tensor([1.0], requires_grad=True)
    y = fns["MulConstant"].apply(x, 4)
    calls = []
    y.grad_fn.register_hook(lambda gi, go: calls.append((L(gi[0]), L(go[0]))))
    y.sum().backward()
    assert calls == [([4.0], [1.0])]


# ============================================================================================
# jitgrad's jitted-kernel Functions (forward_kernel / backward_kernel)
# ============================================================================================
PTRS = np.zeros(8, np.int64)  # what the kernels saw: data pointers recorded from inside Numba


class KSquare(JFunction):
    """y = x * x, recording the addresses of the arrays it is handed."""

    @staticmethod
    @njit(cache=True)
    def forward_kernel(x, log, out):
        log[0] = x.ctypes.data
        log[1] = out.ctypes.data
        xf = x.reshape(-1)
        of = out.reshape(-1)
        for i in range(xf.size):
            of[i] = xf[i] * xf[i]

    @staticmethod
    @njit(cache=True)
    def backward_kernel(grad, x, log, out, grad_x):
        log[2] = x.ctypes.data
        log[3] = out.ctypes.data
        gf = grad.reshape(-1)
        xf = x.reshape(-1)
        gx = grad_x.reshape(-1)
        for i in range(xf.size):
            gx[i] = 2.0 * xf[i] * gf[i]


class KScaleAdd(JFunction):
    """y = alpha * a + b (two tensors and a Python scalar)."""

    @staticmethod
    @njit(cache=True)
    def forward_kernel(a, alpha, b, out):
        af = a.reshape(-1)
        bf = b.reshape(-1)
        of = out.reshape(-1)
        for i in range(af.size):
            of[i] = alpha * af[i] + bf[i]

    @staticmethod
    @njit(cache=True)
    def backward_kernel(grad, a, alpha, b, out, grad_a, grad_b):
        gf = grad.reshape(-1)
        ga = grad_a.reshape(-1)
        gb = grad_b.reshape(-1)
        for i in range(gf.size):
            ga[i] = alpha * gf[i]
            gb[i] = gf[i]


def _sq(x):
    return KSquare.apply(x, PTRS)


def test_kernel_function_values_and_grad():
    x = jitgrad.tensor([[1.0, -2.0], [3.0, 0.5]], requires_grad=True)
    y = _sq(x)
    assert y.tolist() == [[1.0, 4.0], [9.0, 0.25]]
    assert y.dtype == jitgrad.float32 and tuple(y.shape) == (2, 2)
    assert y.grad_fn.name() == "KSquareBackward"
    # as for every custom Function: one edge per Tensor argument (PTRS is a NumPy array)
    ((acc, nr),) = y.grad_fn.next_functions
    assert type(acc).__name__ == "AccumulateGrad" and acc.variable is x and nr == 0
    (y * 3).sum().backward()
    assert x.grad.tolist() == [[6.0, -12.0], [18.0, 3.0]]


def test_kernel_function_receives_own_storage():
    x = jitgrad.tensor([1.0, 2.0, 3.0], dtype=jitgrad.float64, requires_grad=True)
    PTRS[:] = 0
    y = _sq(x)
    assert PTRS[0] == x.data_ptr()  # no copy of the input
    assert PTRS[1] == y.data_ptr()  # the output tensor wraps the kernel's out array
    y.backward(jitgrad.ones(3, dtype=jitgrad.float64))
    assert PTRS[2] == x.data_ptr()
    assert PTRS[3] == y.data_ptr()
    assert x.grad.tolist() == [2.0, 4.0, 6.0]


def test_kernel_function_gradcheck_float64():
    from jitgrad.autograd.gradcheck import gradcheck  # the function itself (see test_gradcheck_is_the_function)

    x = jitgrad.tensor([[0.3, -1.2, 2.0], [1.0, 0.0, -0.7]], dtype=jitgrad.float64, requires_grad=True)
    assert gradcheck(_sq, (x,))
    a = jitgrad.tensor([0.5, -1.5, 2.5], dtype=jitgrad.float64, requires_grad=True)
    b = jitgrad.tensor([1.0, 2.0, 3.0], dtype=jitgrad.float64, requires_grad=True)
    assert gradcheck(lambda a_, b_: KScaleAdd.apply(a_, 2.5, b_), (a, b))

    class BadKernel(JFunction):
        forward_kernel = KScaleAdd.forward_kernel

        @staticmethod
        @njit(cache=True)
        def backward_kernel(grad, a, alpha, b, out, grad_a, grad_b):
            grad_a[:] = 0.0
            grad_b[:] = 1.0

    assert gradcheck(lambda a_, b_: BadKernel.apply(a_, 2.5, b_), (a, b), raise_exception=False) is False


def test_kernel_function_non_contiguous_input():
    base = jitgrad.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    xt = base.t()  # (3, 2), not contiguous
    assert not xt.is_contiguous()
    y = _sq(xt)
    assert y.tolist() == [[1.0, 16.0], [4.0, 25.0], [9.0, 36.0]]
    y.backward(jitgrad.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]]))
    assert base.grad.tolist() == [[2.0, 0.0, 0.0], [0.0, 0.0, 12.0]]


def test_kernel_function_sliced_input():
    base = jitgrad.arange(10.0).requires_grad_()
    x = base[::3]  # [0, 3, 6, 9], strided
    y = _sq(x)
    assert y.tolist() == [0.0, 9.0, 36.0, 81.0]
    y.sum().backward()
    assert base.grad.tolist() == [0.0, 0.0, 0.0, 6.0, 0.0, 0.0, 12.0, 0.0, 0.0, 18.0]


def test_kernel_function_scalar_argument():
    a = jitgrad.tensor([1.0, 2.0], requires_grad=True)
    b = jitgrad.tensor([10.0, 20.0], requires_grad=True)
    y = KScaleAdd.apply(a, 3.0, b)
    assert y.tolist() == [13.0, 26.0]
    assert y.grad_fn.name() == "KScaleAddBackward"
    assert [e[0].variable for e in y.grad_fn.next_functions] == [a, b]  # no edge for the scalar
    assert y.grad_fn.needs_input_grad == (True, False, True)
    (y * y).sum().backward()
    assert a.grad.tolist() == [78.0, 156.0]  # 2y * 3
    assert b.grad.tolist() == [26.0, 52.0]


def test_kernel_function_partial_requires_grad():
    a = jitgrad.tensor([1.0, 2.0], requires_grad=True)
    b = jitgrad.tensor([10.0, 20.0])
    y = KScaleAdd.apply(a, 2.0, b)
    y.sum().backward()
    assert a.grad.tolist() == [2.0, 2.0] and b.grad is None


def test_kernel_function_without_grad():
    y = KScaleAdd.apply(jitgrad.ones(2), 2.0, jitgrad.ones(2))
    assert y.tolist() == [3.0, 3.0] and not y.requires_grad and y.grad_fn is None
    with jitgrad.no_grad():
        z = _sq(jitgrad.ones(2, requires_grad=True))
    assert z.grad_fn is None


def test_kernel_function_backward_twice_and_retain():
    x = jitgrad.tensor([1.0, 2.0], requires_grad=True)
    y = _sq(x)
    y.sum().backward(retain_graph=True)
    y.sum().backward()
    assert x.grad.tolist() == [4.0, 8.0]
    with pytest.raises(RuntimeError) as info:
        y.sum().backward()
    assert str(info.value) == BACKWARD_TWICE


def test_kernel_function_in_a_larger_graph():
    x = jitgrad.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2 + 1  # [3, 5]
    y = KScaleAdd.apply(_sq(h), 0.5, h)  # 0.5 h^2 + h
    y.sum().backward()
    assert x.grad.tolist() == [8.0, 12.0]  # (h + 1) * 2


def test_kernel_function_output_version_check():
    x = jitgrad.tensor([1.0, 2.0], requires_grad=True)
    y = _sq(x)
    with jitgrad.no_grad():
        x.mul_(2)  # the kernel's saved input changed
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_kernel_function_keyword_arguments():
    # bound to forward_kernel's parameter names, as PyTorch binds a Function's arguments to its
    # forward: a Tensor passed by keyword is an input like a positional one (edge, gradient)
    a = jitgrad.tensor([1.0, 2.0], requires_grad=True)
    b = jitgrad.tensor([10.0, 20.0], requires_grad=True)
    for y in (KScaleAdd.apply(a, alpha=3.0, b=b), KScaleAdd.apply(a, 3.0, b=b), KScaleAdd.apply(b=b, alpha=3.0, a=a)):
        assert y.tolist() == [13.0, 26.0]
        assert y.grad_fn.needs_input_grad == (True, False, True)
        assert [e[0].variable for e in y.grad_fn.next_functions] == [a, b]
    a.grad = b.grad = None
    (y * y).sum().backward()
    assert a.grad.tolist() == [78.0, 156.0] and b.grad.tolist() == [26.0, 52.0]


@pytest.mark.parametrize("kwargs, message", [
    # Python's argument-binding messages, which PyTorch gives for Functions it binds the same way
    ({"alpha": 3.0, "b": None, "gamma": 1.0}, "got an unexpected keyword argument 'gamma'"),
    ({"a": None, "alpha": 3.0}, "multiple values for argument 'a'"),
    ({"alpha": 3.0}, "missing a required argument: 'b'"),
])
def test_kernel_function_bad_keyword_arguments(kwargs, message):
    a = jitgrad.tensor([1.0, 2.0], requires_grad=True)
    kwargs = {k: (jitgrad.ones(2) if v is None else v) for k, v in kwargs.items()}
    with pytest.raises(TypeError) as info:
        KScaleAdd.apply(a, **kwargs)
    assert str(info.value) == message


def test_python_function_keyword_arguments(T):
    class Scale(T.autograd.Function):
        @staticmethod
        def forward(ctx, x, beta=1.0):
            ctx.beta = beta
            return x * beta

        @staticmethod
        def backward(ctx, grad):
            return grad * ctx.beta, None

    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = Scale.apply(x, beta=2.0)
    assert L(y) == [2.0, 4.0]
    y.sum().backward()
    assert L(x.grad) == [2.0, 2.0]


# ------------------------------------------------------------------------------ once_differentiable
ONCE_DIFFERENTIABLE = "trying to differentiate twice a function that was marked with @once_differentiable"


def _once_square(T):
    """y = x * c (c a number) with a once_differentiable backward that records the grad mode."""
    once_differentiable = __import__(T.__name__ + ".autograd.function", fromlist=["_"]).once_differentiable
    seen = []

    class Square(T.autograd.Function):
        @staticmethod
        def forward(ctx, x, c):
            ctx.save_for_backward(x)
            ctx.c = c
            return x * x * c

        @staticmethod
        @once_differentiable
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            seen.append(T.is_grad_enabled())
            return 2 * x * grad * ctx.c, None

    return Square, seen


def test_once_differentiable_plain_backward(T):
    Square, seen = _once_square(T)
    assert Square.backward.__name__ == "backward"  # functools.wraps
    x = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
    Square.apply(x, 1.0).sum().backward()
    assert L(x.grad) == [2.0, 4.0, 6.0] and seen == [False]


def test_once_differentiable_builds_no_graph(T):
    # create_graph=True with a root gradient that needs no grad: backward still runs without grad
    # mode, so the gradient has no history although it was computed from x
    Square, seen = _once_square(T)
    x = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (g,) = T.autograd.grad(Square.apply(x, 1.0).sum(), x, create_graph=True)
    assert L(g) == [2.0, 4.0, 6.0] and seen == [False]
    assert not g.requires_grad and g.grad_fn is None


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True:UserWarning")  # PyTorch's
@pytest.mark.parametrize("how", ["grad_outputs", "chain", "backward_create_graph"])
def test_once_differentiable_double_backward_raises(T, how):
    Square, seen = _once_square(T)
    x = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = Square.apply(x, 1.0)
    if how == "grad_outputs":  # a gradient flowing in that requires grad
        v = T.ones(3, requires_grad=True)
        (g,) = T.autograd.grad(y, x, grad_outputs=v, create_graph=True)
    elif how == "chain":  # d(y^2)/dy = 2y depends on x: the gradient reaching Square requires grad
        (g,) = T.autograd.grad((y * y).sum(), x, create_graph=True)
    else:
        (y * y).sum().backward(create_graph=True)
        g = x.grad
    assert seen == [False] and g.requires_grad
    assert L(g) == ([2.0, 4.0, 6.0] if how == "grad_outputs" else [4.0, 32.0, 108.0])
    if how != "backward_create_graph":  # (PyTorch's x.grad is a CopyBackwards of it there)
        assert type(g.grad_fn).__name__ == "Error" and g.grad_fn.name() == "torch::autograd::Error"
        assert type(g.grad_fn.next_functions[0][0]).__name__ == "AccumulateGrad"
    with pytest.raises(RuntimeError) as info:
        g.sum().backward()
    assert str(info.value) == ONCE_DIFFERENTIABLE
    if how == "grad_outputs":  # the Error node's edge leads to a fresh leaf, not to v
        with pytest.raises(RuntimeError) as info:
            T.autograd.grad(g.sum(), v)
        assert str(info.value) == ("The differentiated Tensor at index 0 appears to not have been used in the "
                                   "graph. Set allow_unused=True if this is the desired behavior.")
