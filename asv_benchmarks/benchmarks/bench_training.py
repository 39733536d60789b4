"""Whole training steps and the optimisers, written against the PyTorch API.

``MLPStep`` is W3 (batch 256, 784 -> 512 -> 512 -> 10, ReLU, cross-entropy, SGD, float32),
``CNNStep`` is W6 (128 8x8 images, conv 1->16, ReLU, conv 16->32, ReLU, 2x2 max-pool, linear
512->10, cross-entropy, SGD); one step is ``zero_grad``, forward, loss, ``backward``,
``step``.  ``peakmem_step`` is asv's peak resident memory of the process around one step.
``OptimizerStep`` updates ~1.07M parameters in six tensors with gradients already there.
"""
import numpy as np

import jitgrad as torch

from .common import forward, require, w3_data, w3_setup, w6_setup

_OPT_SHAPES = [(1024, 784), (1024,), (256, 1024), (256,), (10, 256), (10,)]  # 1,068,810 values


class MLPStep:
    """W3."""

    timeout = 300

    def setup(self):
        self.step, self.layers = w3_setup(torch)
        self.step()
        x, _ = w3_data()
        self.x = torch.from_numpy(x)

    def time_step(self):
        self.step()

    def time_forward_no_grad(self):
        with torch.no_grad():
            forward(self.layers, self.x)

    def peakmem_step(self):
        self.step()


class CNNStep:
    """W6."""

    timeout = 300

    def setup(self):
        self.step, _ = w6_setup(torch)
        self.step()

    def time_step(self):
        self.step()

    def peakmem_step(self):
        self.step()


class OptimizerStep:
    params = [["SGD", "SGD_momentum", "Adam", "AdamW"]]
    param_names = ["optimizer"]

    def setup(self, optimizer):
        name = optimizer.split("_")[0]
        require(torch, f"optim.{name}")
        rng = np.random.default_rng(0)
        self.params = []
        for shape in _OPT_SHAPES:
            p = torch.from_numpy(rng.standard_normal(shape).astype(np.float32)).requires_grad_(True)
            p.grad = torch.from_numpy(rng.standard_normal(shape).astype(np.float32))
            self.params.append(p)
        kwargs = {"momentum": 0.9} if optimizer == "SGD_momentum" else {}
        self.opt = getattr(torch.optim, name)(self.params, lr=1e-3, **kwargs)
        self.opt.step()

    def time_step(self, optimizer):
        self.opt.step()

    def time_zero_grad_set_to_none(self, optimizer):
        grads = [p.grad for p in self.params]
        self.opt.zero_grad()
        for p, g in zip(self.params, grads):
            p.grad = g
