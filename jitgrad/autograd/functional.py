"""``jitgrad.autograd.functional``: vjp, jvp, jacobian, hessian, vhp and hvp, as in PyTorch.

All are built on reverse mode (``autograd.grad``); jvp uses the double-vjp trick (the vjp is
linear in its cotangent ``u``, so differentiating it w.r.t. ``u`` along ``v`` gives ``J v``).
"""
import numpy as np

from ..tensor import Tensor, _wrap
from . import grad as _grad
from .grad_mode import enable_grad


def _tuple(x):
    return (x, False) if isinstance(x, tuple) else ((x,), True)


def _prepare(inputs, create_graph):
    # fresh leaves that require grad, sharing storage (so inputs are never modified)
    out = []
    for t in inputs:
        if not isinstance(t, Tensor):
            raise TypeError(f"The inputs given to the function must be Tensors, got {type(t).__name__}")
        leaf = t if (create_graph and t.requires_grad) else t.detach().requires_grad_(True)
        out.append(leaf)
    return tuple(out)


def _zeros_like(t):
    return _wrap(np.zeros(t._data.shape, t._data.dtype))


def _grads(outputs, inputs, grad_outputs, create_graph, strict):
    grads = _grad(outputs, inputs, grad_outputs=grad_outputs, create_graph=create_graph, retain_graph=True,
                  allow_unused=True)
    res = []
    for i, (g, t) in enumerate(zip(grads, inputs)):
        if g is None:
            if strict:
                raise RuntimeError(f"The output of the user-provided function is independent of input {i}. "
                                   "This is not allowed in strict mode.")
            g = _zeros_like(t)
        res.append(g if create_graph else g.detach())
    return tuple(res)


def _default_v(v, tensors, message):
    """``v`` as a tuple; ``None`` means ones, allowed only for single-element ``tensors``."""
    if v is not None:
        return _tuple(v)[0]
    if any(t.numel() != 1 for t in tensors):
        raise RuntimeError(message)
    return tuple(_wrap(np.ones(t._data.shape, t._data.dtype)) for t in tensors)


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T J)``."""
    inputs, single_in = _tuple(inputs)
    with enable_grad():
        ins = _prepare(inputs, create_graph)
        outputs = func(*ins)
        outs, single_out = _tuple(outputs)
        v = _default_v(v, outs, "The vector v can only be None if the user-provided function returns a "
                                "single Tensor with a single element.")
        result = _grads(outs, ins, v, create_graph, strict)
    outputs = tuple(o if create_graph else o.detach() for o in outs)
    return (outputs[0] if single_out else outputs), (result[0] if single_in else result)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), J v)`` via the double-vjp trick."""
    # (the same preamble as vjp above; kept apart: what follows, the double vjp, differs)
    inputs, single_in = _tuple(inputs)
    with enable_grad():
        ins = _prepare(inputs, True)
        outputs = func(*ins)
        outs, single_out = _tuple(outputs)
        v = _default_v(v, ins, "The vector v can only be None if the input to the user-provided function "
                               "is a single Tensor with a single element.")
        us = tuple(_zeros_like(o).requires_grad_() for o in outs)
        g = _grad(outs, ins, grad_outputs=us, create_graph=True, allow_unused=True)
        pairs = [(gi, vi) for gi, vi in zip(g, v) if gi is not None]
        if not pairs:
            result = tuple(_zeros_like(o) for o in outs)
        else:
            result = _grad([p[0] for p in pairs], us, grad_outputs=[p[1] for p in pairs],
                           create_graph=create_graph, allow_unused=True)
            result = tuple(_zeros_like(o) if r is None else (r if create_graph else r.detach())
                           for r, o in zip(result, outs))
    outputs = tuple(o if create_graph else o.detach() for o in outs)
    return (outputs[0] if single_out else outputs), (result[0] if single_out else result)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: shape ``output.shape + input.shape`` (tuples of them
    for several inputs/outputs), one reverse pass per output element."""
    inputs, single_in = _tuple(inputs)
    with enable_grad():
        ins = _prepare(inputs, create_graph)
        outputs = func(*ins)
        outs, single_out = _tuple(outputs)
        jac = []
        for o in outs:
            rows = [[] for _ in ins]
            flat = o.reshape(-1)
            for k in range(flat.numel()):
                gs = _grads((flat[k],), ins, None, create_graph, strict)
                for i, g in enumerate(gs):
                    rows[i].append(g)
            per_input = []
            for i, t in enumerate(ins):
                if rows[i]:
                    from ..ops.joining import stack  # noqa: PLC0415  (the op library's stack)

                    j = stack(rows[i]).reshape(tuple(o.shape) + tuple(t.shape))
                else:
                    j = _wrap(np.zeros(tuple(o.shape) + tuple(t.shape), t._data.dtype))
                per_input.append(j)
            jac.append(per_input[0] if single_in else tuple(per_input))
    return jac[0] if single_out else tuple(jac)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar ``func``: the Jacobian of its gradient."""
    inputs, single_in = _tuple(inputs)

    def gradient(*ins):
        out = func(*ins)
        if not isinstance(out, Tensor) or out.numel() != 1:
            raise RuntimeError("The function given to hessian should return a single Tensor with a single element")
        g = _grad(out, ins, create_graph=True, allow_unused=True)
        g = tuple(_zeros_like(t) if gi is None else gi for gi, t in zip(g, ins))
        return g[0] if single_in else g

    return jacobian(gradient, inputs[0] if single_in else inputs, create_graph=create_graph, strict=strict)


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T H)``."""
    inputs, single_in = _tuple(inputs)
    with enable_grad():
        ins = _prepare(inputs, True)
        out = func(*ins)
        if not isinstance(out, Tensor) or out.numel() != 1:
            raise RuntimeError("The function given to vhp should return a single Tensor with a single element")
        g = _grad(out, ins, create_graph=True, allow_unused=True)
        v, _ = _tuple(v)
        pairs = [(gi, vi) for gi, vi in zip(g, v) if gi is not None]
        res = _grads([p[0] for p in pairs], ins, [p[1] for p in pairs], create_graph, strict)
    out = out if create_graph else out.detach()
    return out, (res[0] if single_in else res)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), H v)``; the Hessian is symmetric, so this equals vhp."""
    return vhp(func, inputs, v, create_graph, strict)
