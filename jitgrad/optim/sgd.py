"""Stochastic gradient descent (optionally with momentum)."""
from ..kernels import optim as kernels
from .optimizer import Optimizer, _closure_loss, _Flat, _scalar
from ..tensor import Tensor

__all__ = ["SGD"]


class SGD(Optimizer):
    """Implements stochastic gradient descent (optionally with momentum), as ``torch.optim.SGD``."""

    _group_defaults = (("nesterov", False), ("maximize", False), ("foreach", None), ("differentiable", False),
                       ("fused", False))

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        # (PyTorch's checks, as in every optimizer's __init__; SGD's ``lr < 0.0`` lets NaN through: not _check_lr)
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay,
                    "nesterov": nesterov, "maximize": maximize, "foreach": foreach,
                    "differentiable": differentiable, "fused": fused}
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def step(self, closure=None):
        """Perform a single optimization step; ``closure`` re-evaluates the model and returns the loss."""
        # (the group / parameter loop every optimizer here shares -- Adagrad, Adam, RMSprop, SGD -- as in
        # PyTorch's single-tensor steps: what differs is the hyper-parameters read and the kernel called)
        loss = _closure_loss(closure)
        step = kernels.sgd_step
        for group in self.param_groups:
            self._check_differentiable(group)
            lr = _scalar(group["lr"])
            momentum = group["momentum"]
            weight_decay = group["weight_decay"]
            one_minus_dampening = 1 - group["dampening"]
            nesterov, maximize = bool(group["nesterov"]), bool(group["maximize"])
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                buf = None
                first = False
                if momentum != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        from ..factories import empty_like

                        buf = empty_like(p)  # (the parameter's shape: a gradient may be broadcast)
                        state["momentum_buffer"] = buf
                        first = True
                flat = _Flat(p, _integral_sgd_error)
                s = flat.scalar
                step(flat(p), flat.grad(grad, weight_decay != 0), flat(buf), s(lr), s(weight_decay), s(momentum),
                     s(one_minus_dampening), nesterov, maximize, first)
                flat.finish(p, buf)
        return loss


def _integral_sgd_error(param_dtype) -> RuntimeError:
    return RuntimeError("For integral input tensors, argument alpha must not be a floating point number.")
