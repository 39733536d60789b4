"""Numerical gradient checking: ``gradcheck`` with PyTorch's signature.

The analytical Jacobian is built row by row with vector-Jacobian products (one backward per
output element); the numerical one by central differences ``(f(x+eps) - f(x-eps)) / 2eps``
on each input element.  Use float64 inputs: float32 cannot resolve eps=1e-6.
"""
import numpy as np

from ..tensor import Tensor, _wrap
from . import grad as _grad
from .grad_mode import enable_grad, no_grad


class GradcheckError(RuntimeError):
    """Raised by gradcheck when analytical and numerical gradients disagree."""


def _outputs(func, inputs):
    out = func(*inputs)
    return (out,) if isinstance(out, Tensor) else tuple(o for o in out if isinstance(o, Tensor))


def get_numerical_jacobian(func, inputs, eps=1e-6):
    """One (input numel x output numel) matrix per (differentiable input, output) pair."""
    diff = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    with no_grad():
        outs = _outputs(func, inputs)
        jac = [[np.zeros((t.numel(), o.numel())) for o in outs] for t in diff]
        for i, t in enumerate(diff):
            flat = t._data.reshape(-1)  # a view: perturb in place, restore after
            for j in range(flat.size):
                orig = flat[j]
                flat[j] = orig + eps
                plus = [o._data.astype(np.float64).ravel().copy() for o in _outputs(func, inputs)]
                flat[j] = orig - eps
                minus = [o._data.astype(np.float64).ravel().copy() for o in _outputs(func, inputs)]
                flat[j] = orig
                for k, (p, m) in enumerate(zip(plus, minus)):
                    jac[i][k][j] = (p - m) / (2 * eps)
    return jac


def get_analytical_jacobian(func, inputs):
    """Jacobians from reverse mode: one ``autograd.grad`` per output element."""
    diff = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    outs = _outputs(func, inputs)
    jac = [[np.zeros((t.numel(), o.numel())) for o in outs] for t in diff]
    for k, o in enumerate(outs):
        if not o.requires_grad:
            continue
        for r in range(o.numel()):
            seed = np.zeros(o._data.size, o._data.dtype)
            seed[r] = 1
            grads = _grad(o, diff, grad_outputs=_wrap(seed.reshape(o._data.shape)), retain_graph=True,
                          allow_unused=True)
            for i, g in enumerate(grads):
                if g is not None:
                    jac[i][k][:, r] = g._data.astype(np.float64).ravel()
    return jac


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, nondet_tol=0.0,
              check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
              check_batched_forward_grad=False, check_forward_ad=False, check_backward_ad=True,
              fast_mode=False, masked=None) -> bool:
    """Check analytical gradients of ``func`` at ``inputs`` against finite differences."""
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    for t in inputs:
        if isinstance(t, Tensor) and t.requires_grad and t.dtype.name != "float64":
            import warnings

            warnings.warn("Input #0 requires gradient and is not a double precision floating point. "
                          "This check will likely fail if all the inputs are not of double precision floating point. ")
    numerical = get_numerical_jacobian(func, inputs, eps)
    analytical = get_analytical_jacobian(func, inputs)
    for i, (num_rows, ana_rows) in enumerate(zip(numerical, analytical)):
        for k, (n, a) in enumerate(zip(num_rows, ana_rows)):
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                msg = (f"Jacobian mismatch for output {k} with respect to input {i},\n"
                       f"numerical:{_wrap(n)}\nanalytical:{_wrap(a)}\n")
                if raise_exception:
                    raise GradcheckError(msg)
                return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3, gen_non_contig_grad_outputs=False,
                  raise_exception=True, nondet_tol=0.0, check_undefined_grad=True, check_grad_dtypes=False,
                  check_batched_grad=False, check_fwd_over_rev=False, check_rev_over_rev=True, fast_mode=False,
                  masked=False) -> bool:
    """Check second derivatives: gradcheck of ``(inputs, v) -> v^T J(inputs)`` computed with
    ``create_graph=True``.  Random ``grad_outputs`` (float64, requiring grad) when not given."""
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    outputs = tuple(o for o in _outputs(func, inputs) if o.requires_grad)  # PyTorch's _differentiable_outputs
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = tuple(_wrap(rng.standard_normal(o._data.shape).astype(o._data.dtype)).requires_grad_()
                             for o in outputs)
    else:
        grad_outputs = (grad_outputs,) if isinstance(grad_outputs, Tensor) else tuple(grad_outputs)
    n = len(inputs)

    def vjp(*args):
        ins, gos = args[:n], args[n:]
        with enable_grad():  # the numerical pass runs under no_grad, but this needs a graph
            return _vjp(ins, gos)

    def _vjp(ins, gos):
        outs = tuple(o for o in _outputs(func, ins) if o.requires_grad)
        diff = [t for t in ins if isinstance(t, Tensor) and t.requires_grad]
        grads = _grad(outs, diff, grad_outputs=gos, create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(vjp, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception)
