"""Adam and AdamW."""
from .. import _dtype
from ..kernels import optim as kernels
from ..tensor import Tensor, _scalar_type_name
from .optimizer import (Optimizer, _advance_step, _check_fused, _check_lerp_dtype, _check_lr, _closure_loss, _Flat,
                        _scalar, _step_counter)

__all__ = ["Adam", "AdamW"]


def _integral_lerp_error(param_dtype) -> NotImplementedError:
    # Adam's first op on an integer parameter is exp_avg.lerp_(grad, 1 - beta1)
    return NotImplementedError(f'"lerp_kernel_scalar" not implemented for \'{_scalar_type_name(param_dtype)}\'')


class Adam(Optimizer):
    """Implements the Adam algorithm (and AdamW with ``decoupled_weight_decay=True``), as ``torch.optim.Adam``."""

    _group_defaults = (("amsgrad", False), ("maximize", False), ("foreach", None), ("capturable", False),
                       ("differentiable", False), ("decoupled_weight_decay", False), ("fused", None))

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        # (PyTorch's checks, one message each: the same shape in every optimizer's __init__)
        _check_lr(lr)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not ((isinstance(betas[0], float) and isinstance(betas[1], float))
                or (isinstance(betas[0], Tensor) and isinstance(betas[1], Tensor))):
            raise ValueError("betas must be either both floats or both Tensors")
        betas = tuple(_scalar(b) for b in betas)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "amsgrad": amsgrad,
                    "maximize": maximize, "foreach": foreach, "capturable": capturable,
                    "differentiable": differentiable, "fused": fused,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)
        _check_fused(fused, differentiable, foreach)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            for p in group["params"]:
                p_state = self.state.get(p, [])
                if len(p_state) != 0 and not isinstance(p_state["step"], Tensor):
                    from ..factories import tensor

                    p_state["step"] = tensor(float(p_state["step"]), dtype=_dtype.float32)

    def step(self, closure=None):
        """Perform a single optimization step; ``closure`` re-evaluates the model and returns the loss."""
        # (the group / parameter loop every optimizer here shares -- Adagrad, Adam, RMSprop, SGD -- as in
        # PyTorch's single-tensor steps: what differs is the hyper-parameters read and the kernel called)
        loss = _closure_loss(closure)
        from ..factories import zeros_like

        step = kernels.adam_step
        for group in self.param_groups:
            self._check_differentiable(group)
            lr = _scalar(group["lr"])
            beta1, beta2 = group["betas"]
            eps, weight_decay = group["eps"], group["weight_decay"]
            amsgrad, maximize = bool(group["amsgrad"]), bool(group["maximize"])
            decoupled = bool(group["decoupled_weight_decay"])
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _step_counter()
                    state["exp_avg"] = zeros_like(p)
                    state["exp_avg_sq"] = zeros_like(p)
                    if amsgrad:
                        state["max_exp_avg_sq"] = zeros_like(p)
                step_count = _advance_step(state["step"])
                bias_correction1 = 1 - beta1 ** step_count
                bias_correction2 = 1 - beta2 ** step_count
                step_size = lr / bias_correction1
                bias_correction2_sqrt = bias_correction2 ** 0.5
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                max_exp_avg_sq = state["max_exp_avg_sq"] if amsgrad else None
                flat = _Flat(p, None if decoupled else _integral_lerp_error)
                s = flat.scalar
                coupled_decay = weight_decay != 0 and not decoupled
                flat_grad = flat.grad(grad, coupled_decay)
                if not coupled_decay:  # (PyTorch's grad + wd * param already has the param's dtype)
                    _check_lerp_dtype(exp_avg, grad)
                step(flat(p), flat_grad, flat(exp_avg), flat(exp_avg_sq), flat(max_exp_avg_sq),
                     s(1 - beta1), s(beta2), s(1 - beta2), s(weight_decay), s(1 - lr * weight_decay), s(eps),
                     s(-step_size), s(bias_correction2_sqrt), amsgrad, decoupled, maximize)
                flat.finish(p, exp_avg, exp_avg_sq, max_exp_avg_sq)
        return loss


class AdamW(Adam):
    """Implements AdamW (Adam with decoupled weight decay), as ``torch.optim.AdamW``."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
