"""The matrix-product family: mm, bmm and matmul on square sizes 16..1024.

``mm``: (n, n) @ (n, n); ``bmm``: (B, n, n) @ (B, n, n); ``matmul``: (B, n, n) @ (n, n), the
broadcast case PyTorch folds onto one mm.  B is 8 up to n = 256 and 2 at 1024.  Forward
without a graph, and forward + backward (both operands require grad: three products).
``NumpyMatmul`` is the same forward product in NumPy, the BLAS floor.
"""
import numpy as np

import jitgrad as torch

_OPS = ["mm", "bmm", "matmul"]
_SIZES = [16, 64, 256, 1024]
_DTYPES = ["float32", "float64"]


def _operands(op, n, dtype):
    batch = 8 if n <= 256 else 2
    rng = np.random.default_rng(0)
    a_shape = (n, n) if op == "mm" else (batch, n, n)
    b_shape = (batch, n, n) if op == "bmm" else (n, n)
    return ((rng.standard_normal(a_shape) / np.sqrt(n)).astype(dtype),
            rng.standard_normal(b_shape).astype(dtype))


class MatMul:
    params = [_OPS, _SIZES, _DTYPES]
    param_names = ["op", "n", "dtype"]
    timeout = 180

    def setup(self, op, n, dtype):
        a, b = _operands(op, n, dtype)
        self.a = torch.from_numpy(a).requires_grad_(True)
        self.b = torch.from_numpy(b).requires_grad_(True)
        self.f = getattr(torch, op)
        out = self.f(self.a, self.b)
        self.gout = torch.ones_like(out)
        out.backward(self.gout)
        with torch.no_grad():
            self.f(self.a, self.b)

    def time_forward_no_grad(self, op, n, dtype):
        with torch.no_grad():
            self.f(self.a, self.b)

    def time_forward_backward(self, op, n, dtype):
        self.a.grad = self.b.grad = None
        self.f(self.a, self.b).backward(self.gout)


class NumpyMatmul:
    params = [_OPS, _SIZES, _DTYPES]
    param_names = ["op", "n", "dtype"]

    def setup(self, op, n, dtype):
        self.a, self.b = _operands(op, n, dtype)

    def time_forward(self, op, n, dtype):
        np.matmul(self.a, self.b)
