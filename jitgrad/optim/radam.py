"""RAdam (Adam with a rectified adaptive learning rate)."""
from ..kernels import optim as kernels
from .adam import _integral_lerp_error
from .adamax import _check_betas, _scalar_states_to_tensors
from .optimizer import Optimizer, _advance_step, _check_lerp_dtype, _check_lr, _closure_loss, _Flat, _scalar, \
    _step_counter

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """Implements the RAdam algorithm, as ``torch.optim.RAdam`` (``decoupled_weight_decay``: RAdamW)."""

    _group_defaults = (("foreach", None), ("maximize", False), ("differentiable", False),
                       ("decoupled_weight_decay", False), ("capturable", False))

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, foreach=None, maximize=False, capturable=False, differentiable=False):
        _check_lr(lr)
        _check_betas(eps, betas, weight_decay)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "maximize": maximize,
                    "foreach": foreach, "capturable": capturable, "decoupled_weight_decay": decoupled_weight_decay,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        _scalar_states_to_tensors(self)

    def step(self, closure=None):
        """Perform a single optimization step; ``closure`` re-evaluates the model and returns the loss."""
        # (the group / parameter loop of Adam, with this algorithm's state and kernel)
        loss = _closure_loss(closure)
        from ..factories import zeros_like

        step = kernels.radam_step
        for group in self.param_groups:
            self._check_differentiable(group)
            lr = _scalar(group["lr"])
            beta1, beta2 = (_scalar(b) for b in group["betas"])
            eps, weight_decay = group["eps"], group["weight_decay"]
            decoupled, maximize = bool(group["decoupled_weight_decay"]), bool(group["maximize"])
            rho_inf = 2 / (1 - beta2) - 1  # the maximum length of the approximated SMA
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _step_counter()
                    state["exp_avg"] = zeros_like(p)
                    state["exp_avg_sq"] = zeros_like(p)
                step_count = _advance_step(state["step"])
                bias_correction1 = 1 - beta1 ** step_count
                bias_correction2 = 1 - beta2 ** step_count
                rho_t = rho_inf - 2 * step_count * (beta2 ** step_count) / bias_correction2
                rectified = rho_t > 5.0
                rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5 \
                    if rectified else 0.0
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                flat = _Flat(p, None if decoupled else _integral_lerp_error)
                s = flat.scalar
                coupled_decay = weight_decay != 0 and not decoupled
                flat_grad = flat.grad(grad, coupled_decay)
                if not coupled_decay:
                    _check_lerp_dtype(exp_avg, grad)
                step(flat(p), flat_grad, flat(exp_avg), flat(exp_avg_sq), s(1 - beta1), s(beta2), s(1 - beta2),
                     s(weight_decay), s(1 - lr * weight_decay), s(bias_correction1), s(lr),
                     s(bias_correction2 ** 0.5), s(rect), s(eps), rectified, decoupled, maximize)
                flat.finish(p, exp_avg, exp_avg_sq)
        return loss
