"""Reductions over all elements or one dim: sum, mean, max, softmax, log_softmax, logsumexp.

``64x64`` shows the per-call overhead, ``1024x1024`` (1M elements) the kernels' bandwidth;
``dim`` is ``all`` (a scalar), ``0`` (down the columns: strided) or ``-1`` (along rows:
contiguous).  Forward without a graph, and forward + ``backward(ones)``.
"""
import numpy as np

import jitgrad as torch

from .common import require

_OPS = ["sum", "mean", "max", "softmax", "log_softmax", "logsumexp"]
_NEEDS_DIM = {"softmax", "log_softmax", "logsumexp"}


def _reduce(op, dim):
    if op in ("sum", "mean"):
        return (lambda x: getattr(x, op)()) if dim is None else (lambda x: getattr(x, op)(dim))
    if op == "max":
        return (lambda x: x.max()) if dim is None else (lambda x: x.max(dim).values)
    if op == "logsumexp":
        return lambda x: torch.logsumexp(x, dim)
    F = torch.nn.functional
    fn = getattr(F, op)
    return lambda x: fn(x, dim=dim)


class Reduction:
    params = [_OPS, ["64x64", "1024x1024"], ["all", "0", "-1"], ["float32", "float64"]]
    param_names = ["op", "shape", "dim", "dtype"]

    def setup(self, op, shape, dim, dtype):
        if op in _NEEDS_DIM and dim == "all":
            raise NotImplementedError(f"{op} needs a dim")
        if op in ("softmax", "log_softmax"):
            require(torch, f"nn.functional.{op}")
        elif op == "logsumexp":
            require(torch, "logsumexp")
        elif op == "max":
            require(torch, "Tensor.max")
        rows, cols = map(int, shape.split("x"))
        data = np.random.default_rng(0).standard_normal((rows, cols)).astype(dtype)
        self.f = _reduce(op, None if dim == "all" else int(dim))
        self.x = torch.from_numpy(data).requires_grad_(True)
        out = self.f(self.x)
        self.gout = torch.ones_like(out)
        out.backward(self.gout)
        with torch.no_grad():
            self.f(self.x)

    def time_forward_no_grad(self, *params):
        with torch.no_grad():
            self.f(self.x)

    def time_forward_backward(self, *params):
        self.x.grad = None
        self.f(self.x).backward(self.gout)
