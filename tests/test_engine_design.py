"""The engine's contained tricks: the FilledGrad rule (one point, Node.__call__ included), explicit
gradient-buffer ownership (``owns_grads``), the one traversal loop's options, and the autograd
package's imports."""
import ast
import pathlib

import numpy as np
import pytest

import jitgrad
from jitgrad import errors
from jitgrad.autograd import engine
from jitgrad.autograd.graph import VIEW, node_class
from jitgrad.kernels.elementwise import PARALLEL_THRESHOLD
from jitgrad.ops.registry import define_node, new_node, result
from jitgrad.tensor import edge

BIG = PARALLEL_THRESHOLD + 3  # a full sum of this many elements has a FilledGrad gradient


def _big(requires_grad=True):
    return jitgrad.ones(BIG, dtype=jitgrad.float32, requires_grad=requires_grad)


def _plain(a):
    """A gradient anyone may see: a writable, C-contiguous ndarray (never a stride-0 FilledGrad)."""
    return type(a) is np.ndarray and a.flags.writeable and a.flags.c_contiguous


# ----------------------------------------------------------------------------- FilledGrad
def test_sum_node_called_directly_returns_a_written_out_gradient():
    x = _big()
    g = (x * 2).sum().grad_fn(jitgrad.tensor(1.5))
    assert _plain(g._data) and g.shape == (BIG,) and np.all(g.numpy() == 1.5)
    g.add_(1)  # writable: it is the caller's
    assert np.all(g.numpy() == 2.5)


def test_filled_gradient_is_written_out_for_every_hook_kind():
    x = _big()
    y = x * 3.0
    seen = {}

    def look(kind, g):
        seen[kind] = _plain(g._data)  # (returns None: the hook changes nothing)

    y.register_hook(lambda g: look("tensor", g))
    y.grad_fn.register_prehook(lambda go: look("pre", go[0]))
    s = y.sum()
    s.grad_fn.register_hook(lambda gi, go: look("post", gi[0]))
    y.retain_grad()
    s.backward()
    assert seen == {"tensor": True, "pre": True, "post": True}
    assert _plain(y.grad._data) and _plain(x.grad._data) and np.all(x.grad.numpy() == 3.0)


def test_hook_registered_during_backward_sees_a_written_out_gradient():
    x = _big()
    y = x * 3.0
    z = y * 2.0
    seen = []

    def register_on_y(g):
        y.register_hook(lambda gy: seen.append(_plain(gy._data)))

    z.register_hook(register_on_y)
    (z + y).sum().backward()  # y's FilledGrad from the sum is queued before its hook exists
    assert seen == [True] and np.all(x.grad.numpy() == 9.0)


def test_captured_filled_gradient_is_written_out():
    x = _big()
    y = x * 3.0  # MulBackward0 takes a FilledGrad; a captured one must still be written out
    (gy,) = jitgrad.autograd.grad(y.sum(), y, retain_graph=True)
    assert _plain(gy._data) and np.all(gy.numpy() == 1.0)
    (gy,) = jitgrad.autograd.grad(y.sum(), y, create_graph=True)
    assert np.all(gy.numpy() == 1.0)


def test_filled_gradient_under_anomaly_detection_gives_the_same_gradient():
    x = _big()
    with jitgrad.autograd.detect_anomaly():
        (x * 2.0 * 3.0).sum().backward()
    assert _plain(x.grad._data) and np.all(x.grad.numpy() == 6.0)


# ----------------------------------------------------------------------------- Node.__call__
def test_node_call_checks_the_gradient_shape_where_the_node_knows_it():
    x = jitgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    exp_node = x.exp().grad_fn  # saves its output: its shape is known
    with pytest.raises(RuntimeError) as info:
        exp_node(jitgrad.ones(2, 3))
    assert str(info.value) == str(errors.grad_shape_mismatch(0, (2, 3), (3,)))
    assert exp_node(jitgrad.ones(3)).tolist() == pytest.approx(np.exp([1.0, 2.0, 3.0]).tolist())
    acc = x.grad_fn if x.grad_fn is not None else (x * 1).grad_fn.next_functions[0][0]
    with pytest.raises(RuntimeError, match=r"Mismatch in shape: grad_output\[0\]"):
        acc(jitgrad.ones(4))
    assert x.grad is None


def _doubling_function(backward):
    """A Python ``Function`` computing ``2 * a`` whose ``backward(ctx, g)`` is given."""
    return type("Double", (jitgrad.autograd.Function,), {
        "forward": staticmethod(lambda ctx, a: a * 2), "backward": staticmethod(backward)})


def test_node_call_checks_a_custom_function_output_shape():
    x = jitgrad.tensor([1.0, 2.0], requires_grad=True)
    node = _doubling_function(lambda ctx, g: g * 2).apply(x).grad_fn
    with pytest.raises(RuntimeError, match=r"torch.Size\(\[3\]\).*torch.Size\(\[2\]\)"):
        node(jitgrad.ones(3))
    assert node(jitgrad.ones(2)).tolist() == [2.0, 2.0]


def test_node_call_after_the_graph_was_freed_raises_pytorchs_error():
    x = jitgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    y.sum().backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.grad_fn(jitgrad.ones(2))


def test_accumulate_grad_called_directly_copies_the_callers_gradient():
    x = jitgrad.tensor([1.0, 2.0], requires_grad=True)
    acc = (x * 1).grad_fn.next_functions[0][0]
    g = jitgrad.tensor([5.0, 6.0])
    acc(g)
    assert x.grad.tolist() == [5.0, 6.0] and not np.shares_memory(x.grad._data, g._data)


# ----------------------------------------------------------------------------- ownership
def _probe_op(owns_grads, fresh=True):
    """An identity op whose backward returns a new array (or its incoming one) and remembers it."""
    returned = []

    def backward(node, grads):
        g = grads[0].copy() if fresh else grads[0]
        returned.append(g)
        return (g,)

    cls = define_node("ProbeBackward0", backward, owns_grads=owns_grads)

    def op(t):
        return result(t._data.copy(), new_node(cls, (edge(t),)))

    return op, returned


def test_owning_node_hands_its_array_to_grad_uncopied():
    op, returned = _probe_op(owns_grads=True)
    x = jitgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (op(x) * 2).sum().backward()
    assert x.grad._data is returned[0]


def test_node_without_the_declaration_has_its_gradient_copied():
    op, returned = _probe_op(owns_grads=False)
    x = jitgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (op(x) * 2).sum().backward()
    assert x.grad._data is not returned[0] and not np.shares_memory(x.grad._data, returned[0])
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


def test_view_node_passes_ownership_on():
    op, returned = _probe_op(owns_grads=True)
    x = jitgrad.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    (op(x.reshape(4)) * 2).sum().backward()  # ViewBackward0 is declared VIEW
    assert np.shares_memory(x.grad._data, returned[0])
    op, returned = _probe_op(owns_grads=False)
    x.grad = None
    (op(x.reshape(4)) * 2).sum().backward()  # a view of a borrowed array is borrowed
    assert not np.shares_memory(x.grad._data, returned[0])


def test_pass_through_add_gives_each_leaf_its_own_grad():
    a = jitgrad.tensor([1.0, 2.0], requires_grad=True)
    b = jitgrad.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()  # AddBackward0 sends one array to both leaves
    assert not np.shares_memory(a.grad._data, b.grad._data)


@pytest.mark.parametrize("where", ["tensor hook", "pre hook", "post hook", "leaf hook"])
def test_a_gradient_a_hook_keeps_never_changes_afterwards(where):
    # PyTorch: whatever a hook was shown is never written to by later accumulation into .grad
    op, _ = _probe_op(owns_grads=True)
    x = jitgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    kept = []
    for _ in range(2):
        y = op(x)
        if where == "tensor hook":
            y.register_hook(lambda g: kept.append(g))
        elif where == "pre hook":
            y.grad_fn.register_prehook(lambda go: kept.append(go[0]))
        elif where == "post hook":
            y.grad_fn.register_hook(lambda gi, go: kept.append(gi[0]))
        else:
            x.register_hook(lambda g: kept.append(g)) if not x._hooks else None
        (y * 2).sum().backward()
    assert x.grad.tolist() == [4.0, 4.0, 4.0]
    assert all(k.tolist() == [2.0, 2.0, 2.0] for k in kept)
    x.grad.add_(1)
    assert all(k.tolist() == [2.0, 2.0, 2.0] for k in kept)


def test_view_of_a_hooked_gradient_is_copied():
    op, _ = _probe_op(owns_grads=True)
    x = jitgrad.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    v = x.reshape(4)
    kept = []
    v.register_hook(lambda g: kept.append(g))
    (op(v) * 2).sum().backward()
    x.grad.add_(1)
    assert kept[0].tolist() == [2.0] * 4


def test_sum_of_borrowed_gradients_is_the_engines_own():
    x = jitgrad.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    y = x + 1.0  # AddBackward0: a borrowed gradient reaches x first ...
    z = x * 3.0  # ... then MulBackward0's is added to it: a new array
    w = z * 1.0
    w.grad_fn.register_hook(lambda gi, go: seen.append(1))
    (y.sum() + w.sum()).backward()
    assert x.grad.tolist() == [4.0, 4.0] and seen == [1]


def test_owns_grads_accepts_only_the_three_declarations():
    assert node_class("XBackward0", lambda n, g: g, owns_grads=VIEW)._owns_grads == VIEW
    with pytest.raises(ValueError):
        node_class("XBackward0", lambda n, g: g, owns_grads="yes")


def test_kernel_function_nodes_own_their_gradient_buffers_python_ones_do_not():
    py = _doubling_function(lambda ctx, g: g)  # its incoming gradient itself: not the engine's to give

    class Kernel(jitgrad.autograd.Function):
        forward_kernel = staticmethod(lambda x, out: None)  # (never called here)

    assert py._backward_cls._owns_grads is False and Kernel._backward_cls._owns_grads is True
    x = jitgrad.tensor([1.0, 2.0], requires_grad=True)
    kept = []
    y = py.apply(x)
    y.register_hook(lambda g: kept.append(g))
    y.sum().backward()
    x.grad.add_(1)
    assert kept[0].tolist() == [1.0, 1.0] and x.grad.tolist() == [2.0, 2.0]


# ----------------------------------------------------------------------------- the loop's options
def test_one_loop_serves_plain_graph_capture_and_anomaly_passes():
    src = pathlib.Path(engine.__file__).read_text()
    assert src.count("while heap:") == 1
    x = jitgrad.tensor([0.5, 1.5], dtype=jitgrad.float64, requires_grad=True)
    y = (x * x).exp().sum()
    (g,) = jitgrad.autograd.grad(y, x, create_graph=True)  # graph + capture
    (gg,) = jitgrad.autograd.grad(g.sum(), x)  # plain + capture
    with jitgrad.autograd.detect_anomaly():
        (x * x).exp().sum().backward()  # plain + anomaly
    e = np.exp(x.detach().numpy() ** 2)
    assert np.allclose(g.detach().numpy(), 2 * x.detach().numpy() * e)
    assert np.allclose(gg.numpy(), (2 + 4 * x.detach().numpy() ** 2) * e)
    assert np.allclose(x.grad.numpy(), 2 * x.detach().numpy() * e)


def test_accumulate_grad_node_hooks_run_under_create_graph_too():
    x = jitgrad.tensor([1.0, 2.0], requires_grad=True)
    acc = (x * 1).grad_fn.next_functions[0][0]
    calls = []
    acc.register_prehook(lambda go: calls.append("pre"))
    (x * x).sum().backward(create_graph=True)
    assert calls == ["pre"] and x.grad.requires_grad


# ----------------------------------------------------------------------------- imports
def _module_level_imports(path):
    tree = ast.parse(pathlib.Path(path).read_text())
    return [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]


def test_autograd_function_does_not_import_the_op_library():
    import jitgrad.autograd.function as function

    for node in _module_level_imports(function.__file__):
        assert not (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ops")), ast.dump(node)


def test_recording_helpers_live_in_the_graph_module():
    from jitgrad.autograd import graph
    from jitgrad.ops import registry

    assert registry.new_node is graph.new_node and registry.saved_version is graph.saved_version
    assert errors.ONCE_DIFFERENTIABLE.startswith("trying to differentiate twice")
