"""Per-call overhead on tiny tensors, where Python-side bookkeeping (op dispatch, node
creation, the backward engine, AccumulateGrad) dominates the Numba kernels' work.

``W1`` is the tiny chain ``((x*2 + 1).exp() * x).sum().backward()`` on 16 float32 elements;
``SingleOp`` / ``SingleOpBackward`` isolate one op at a time.  Every kernel is compiled (or
loaded from Numba's cache) in ``setup``, so no ``time_`` sample includes compilation.
"""
import jitgrad as torch

from .common import w1_chain, w1_input


class W1:
    """The W1 tiny chain: forward+backward, forward recording the graph, and no_grad forward."""

    def setup(self):
        self.x = w1_input(torch)
        # warm up: compile/load every forward and backward kernel of the chain
        w1_chain(self.x).backward()
        with torch.no_grad():
            w1_chain(self.x)
        self.x.grad = None

    def time_forward_backward(self):
        w1_chain(self.x).backward()

    def time_forward(self):
        w1_chain(self.x)

    def time_forward_no_grad(self):
        with torch.no_grad():
            w1_chain(self.x)

    def track_graph_nodes(self):
        """Nodes the chain records (excluding AccumulateGrad): a change here changes everything."""
        node = w1_chain(self.x).grad_fn
        count, stack, seen = 0, [node], set()
        while stack:
            n = stack.pop()
            if n is None or id(n) in seen or type(n).__name__ == "AccumulateGrad":
                continue
            seen.add(id(n))
            count += 1
            stack.extend(nxt for nxt, _ in n.next_functions)
        return count

    track_graph_nodes.unit = "nodes"


def _op_call(op, a, b):
    if op == "add":
        return lambda: a + b
    if op == "mul":
        return lambda: a * b
    if op == "add_scalar":
        return lambda: a + 1.0
    if op == "exp":
        return lambda: a.exp()
    if op == "sum":
        return lambda: a.sum()
    if op == "matmul":
        return lambda: a @ b
    raise ValueError(op)


_OPS = ["add", "add_scalar", "mul", "exp", "sum", "matmul"]


def _operands(op, requires_grad):
    torch.manual_seed(0)
    shape = (16, 16) if op == "matmul" else (16,)
    a = torch.randn(*shape, requires_grad=requires_grad)
    b = torch.randn(*shape, requires_grad=requires_grad)
    return a, b


class SingleOp:
    """One forward op on 16-element (matmul: 16x16) float32 tensors, with and without a graph."""

    params = [_OPS, [False, True]]
    param_names = ["op", "requires_grad"]

    def setup(self, op, requires_grad):
        self.a, self.b = _operands(op, requires_grad)
        self.call = _op_call(op, self.a, self.b)
        self.call()

    def time_forward(self, op, requires_grad):
        self.call()


class SingleOpBackward:
    """One op forward + ``out.backward(ones)``: the op's node, the engine and AccumulateGrad."""

    params = [_OPS]
    param_names = ["op"]

    def setup(self, op):
        self.a, self.b = _operands(op, True)
        self.call = _op_call(op, self.a, self.b)
        out = self.call()
        self.gout = torch.ones_like(out)
        out.backward(self.gout)

    def time_forward_backward(self, op):
        self.call().backward(self.gout)


class GradBookkeeping:
    """The optimiser-side per-step overhead: zeroing gradients and a no_grad SGD update."""

    def setup(self):
        self.x = w1_input(torch)
        w1_chain(self.x).backward()
        with torch.no_grad():
            self.x -= 0.0 * self.x.grad
        self.x.grad.zero_()

    def time_grad_zero(self):
        self.x.grad.zero_()

    def time_sgd_update_no_grad(self):
        with torch.no_grad():
            self.x -= 0.0 * self.x.grad
