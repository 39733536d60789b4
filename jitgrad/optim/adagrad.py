"""Adagrad."""
from ..kernels import optim as kernels
from .optimizer import Optimizer, _advance_step, _check_fused, _check_lr, _closure_loss, _Flat, _scalar, _step_counter

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Implements the Adagrad algorithm, as ``torch.optim.Adagrad``."""

    _group_defaults = (("foreach", None), ("maximize", False), ("differentiable", False), ("fused", None))

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        # (PyTorch's checks, one message each: the same shape in every optimizer's __init__)
        _check_lr(lr)
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)
        _check_fused(fused, differentiable, foreach)
        from ..factories import full_like

        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                state["step"] = _step_counter()
                state["sum"] = full_like(p, initial_accumulator_value)

    def step(self, closure=None):
        """Perform a single optimization step; ``closure`` re-evaluates the model and returns the loss."""
        # (the group / parameter loop every optimizer here shares -- Adagrad, Adam, RMSprop, SGD -- as in
        # PyTorch's single-tensor steps: what differs is the hyper-parameters read and the kernel called)
        loss = _closure_loss(closure)
        step = kernels.adagrad_step
        for group in self.param_groups:
            self._check_differentiable(group)
            lr = _scalar(group["lr"])
            lr_decay, eps = group["lr_decay"], group["eps"]
            weight_decay, maximize = group["weight_decay"], bool(group["maximize"])
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                state = self.state[p]
                step_count = _advance_step(state["step"])
                clr = lr / (1 + (step_count - 1) * lr_decay)
                state_sum = state["sum"]
                flat = _Flat(p)
                s = flat.scalar
                step(flat(p), flat.grad(grad, weight_decay != 0), flat(state_sum), s(-clr), s(eps), s(weight_decay),
                     maximize)
                flat.finish(p, state_sum)
        return loss
