"""RMSprop."""
from ..kernels import optim as kernels
from .optimizer import (Optimizer, _advance_step, _check_lerp_dtype, _check_lr, _closure_loss, _Flat, _scalar,
                        _step_counter)

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """Implements the RMSprop algorithm, as ``torch.optim.RMSprop``."""

    _group_defaults = (("momentum", 0), ("centered", False), ("foreach", None), ("maximize", False),
                       ("differentiable", False), ("capturable", False))

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        # (PyTorch's checks, one message each: the same shape in every optimizer's __init__)
        _check_lr(lr)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps, "centered": centered,
                    "weight_decay": weight_decay, "capturable": capturable, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable}
        super().__init__(params, defaults)

    def step(self, closure=None):
        """Perform a single optimization step; ``closure`` re-evaluates the model and returns the loss."""
        # (the group / parameter loop every optimizer here shares -- Adagrad, Adam, RMSprop, SGD -- as in
        # PyTorch's single-tensor steps: what differs is the hyper-parameters read and the kernel called)
        loss = _closure_loss(closure)
        from ..factories import zeros_like

        step = kernels.rmsprop_step
        for group in self.param_groups:
            self._check_differentiable(group)
            lr = _scalar(group["lr"])
            alpha, eps = group["alpha"], group["eps"]
            weight_decay, momentum = group["weight_decay"], group["momentum"]
            centered, maximize = bool(group["centered"]), bool(group["maximize"])
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _step_counter()
                    state["square_avg"] = zeros_like(p)
                    if momentum > 0:
                        state["momentum_buffer"] = zeros_like(p)
                    if centered:
                        state["grad_avg"] = zeros_like(p)
                _advance_step(state["step"])
                square_avg = state["square_avg"]
                grad_avg = state["grad_avg"] if centered else None
                buf = state["momentum_buffer"] if momentum > 0 else None
                flat = _Flat(p)
                s = flat.scalar
                flat_grad = flat.grad(grad, weight_decay != 0)
                if centered and weight_decay == 0:  # (grad + wd * param has the param's dtype)
                    _check_lerp_dtype(grad_avg, grad)
                step(flat(p), flat_grad, flat(square_avg), flat(grad_avg), flat(buf), s(lr),
                     s(alpha), s(1 - alpha), s(eps), s(weight_decay), s(momentum), centered, maximize)
                flat.finish(p, square_avg, grad_avg, buf)
        return loss
