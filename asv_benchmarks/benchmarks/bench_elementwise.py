"""Elementwise chains over 1e3..1e7 elements in float32 and float64, forward+backward.

At 1e3 elements the per-op overhead still shows; by 1e6 the Numba kernels (and memory
traffic) dominate.  ``NumpyReference`` runs the same forward and hand-written backward in
plain NumPy, a floor to read jitgrad's numbers against.
"""
import numpy as np

import jitgrad as torch

from .common import eltwise_chain, w1_chain
from .reference import numpy_w2_grads

_SIZES = [1_000, 10_000, 100_000, 1_000_000, 10_000_000]
_DTYPES = ["float32", "float64"]


def _chain(name):
    if name == "tanh_sigmoid":
        return lambda x: eltwise_chain(torch, x)
    if name == "w1":
        return w1_chain
    raise ValueError(name)


def _data(size, dtype):
    return np.random.default_rng(0).standard_normal(size).astype(dtype)


class ElementwiseChain:
    """``tanh_sigmoid``: W2's ``(tanh(x)*sigmoid(x) + x*x*0.5).sum()``; ``w1``: ``((x*2+1).exp()*x).sum()``."""

    params = [["tanh_sigmoid", "w1"], _SIZES, _DTYPES]
    param_names = ["chain", "size", "dtype"]
    timeout = 180

    def setup(self, chain, size, dtype):
        self.f = _chain(chain)
        self.x = torch.from_numpy(_data(size, dtype)).requires_grad_(True)
        self.f(self.x).backward()  # warm up forward and backward kernels
        with torch.no_grad():
            self.f(self.x)
        self.x.grad = None

    def time_forward_backward(self, chain, size, dtype):
        self.x.grad = None  # fresh gradients each iteration, as after optimizer.zero_grad()
        self.f(self.x).backward()

    def time_forward_no_grad(self, chain, size, dtype):
        with torch.no_grad():
            self.f(self.x)

    def peakmem_forward_backward(self, chain, size, dtype):
        self.x.grad = None
        self.f(self.x).backward()


class NumpyReference:
    """W2's chain and its gradient in plain NumPy (no autograd)."""

    params = [_SIZES, _DTYPES]
    param_names = ["size", "dtype"]

    def setup(self, size, dtype):
        self.x = _data(size, dtype)

    def time_forward_backward(self, size, dtype):
        numpy_w2_grads(self.x)
