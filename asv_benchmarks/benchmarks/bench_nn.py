"""nn.functional pieces: softmax / log_softmax / cross-entropy, conv2d and max_pool2d.

Written against the PyTorch API; a piece jitgrad does not have yet makes ``setup`` raise
``NotImplementedError`` (asv skips the benchmark).
"""
import numpy as np

import jitgrad as torch

from .common import require


def _randn(shape, dtype="float32", requires_grad=True, seed=0):
    data = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return torch.from_numpy(data).requires_grad_(requires_grad)


class SoftmaxCrossEntropy:
    """Over logits (batch, classes): softmax and log_softmax on dim 1, mean cross-entropy
    against integer labels."""

    params = [["softmax", "log_softmax", "cross_entropy"], ["256x10", "256x1000"], ["float32", "float64"]]
    param_names = ["op", "shape", "dtype"]

    def setup(self, op, shape, dtype):
        require(torch, f"nn.functional.{op}")
        F = torch.nn.functional
        batch, classes = map(int, shape.split("x"))
        self.x = _randn((batch, classes), dtype)
        if op == "cross_entropy":
            labels = torch.from_numpy(np.random.default_rng(1).integers(0, classes, batch))
            self.f = lambda x: F.cross_entropy(x, labels)
        else:
            fn = getattr(F, op)
            self.f = lambda x: fn(x, dim=1)
        out = self.f(self.x)
        self.gout = torch.ones_like(out)
        out.backward(self.gout)

    def time_forward_no_grad(self, *params):
        with torch.no_grad():
            self.f(self.x)

    def time_forward_backward(self, *params):
        self.x.grad = None
        self.f(self.x).backward(self.gout)


# (batch, in channels, height = width, out channels); 3x3 kernels, padding 1
_CONVS = {"w6_conv1": (128, 1, 8, 16), "w6_conv2": (128, 16, 8, 32), "32x32x32x32_to_64": (32, 32, 32, 64)}


class Conv2d:
    """``F.conv2d`` with a 3x3 kernel, padding 1: W6's two layers and a mid-size layer.
    Forward+backward computes the input, weight and bias gradients."""

    params = [list(_CONVS)]
    param_names = ["layer"]
    timeout = 180

    def setup(self, layer):
        require(torch, "nn.functional.conv2d")
        n, c, hw, o = _CONVS[layer]
        self.x = _randn((n, c, hw, hw))
        self.w = _randn((o, c, 3, 3), seed=1)
        self.b = _randn((o,), seed=2)
        F = torch.nn.functional
        self.f = lambda: F.conv2d(self.x, self.w, self.b, padding=1)
        out = self.f()
        self.gout = torch.ones_like(out)
        out.backward(self.gout)

    def time_forward_no_grad(self, layer):
        with torch.no_grad():
            self.f()

    def time_forward_backward(self, layer):
        self.x.grad = self.w.grad = self.b.grad = None
        self.f().backward(self.gout)


class MaxPool2d:
    """``F.max_pool2d(x, 2)``: W6's pooling input and a larger feature map."""

    params = [["128x32x8x8", "32x64x32x32"]]
    param_names = ["shape"]

    def setup(self, shape):
        require(torch, "nn.functional.max_pool2d")
        self.x = _randn(tuple(map(int, shape.split("x"))))
        F = torch.nn.functional
        self.f = lambda: F.max_pool2d(self.x, 2)
        out = self.f()
        self.gout = torch.ones_like(out)
        out.backward(self.gout)

    def time_forward_no_grad(self, shape):
        with torch.no_grad():
            self.f()

    def time_forward_backward(self, shape):
        self.x.grad = None
        self.f().backward(self.gout)
