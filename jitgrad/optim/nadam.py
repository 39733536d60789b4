"""NAdam (Adam with Nesterov momentum)."""
from ..kernels import optim as kernels
from ..factories import tensor as _tensor
from .. import _dtype
from .adam import _integral_lerp_error
from .adamax import _check_betas, _scalar_states_to_tensors
from .optimizer import Optimizer, _advance_step, _check_lerp_dtype, _check_lr, _closure_loss, _Flat, _scalar, \
    _step_counter

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """Implements the NAdam algorithm, as ``torch.optim.NAdam`` (``decoupled_weight_decay``: NAdamW)."""

    _group_defaults = (("maximize", False), ("foreach", None), ("capturable", False), ("differentiable", False),
                       ("decoupled_weight_decay", False))

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        _check_lr(lr)
        _check_betas(eps, betas, weight_decay)
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "momentum_decay": momentum_decay, "decoupled_weight_decay": decoupled_weight_decay,
                    "maximize": maximize, "foreach": foreach, "capturable": capturable,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        _scalar_states_to_tensors(self, ("step", "mu_product"))

    def step(self, closure=None):
        """Perform a single optimization step; ``closure`` re-evaluates the model and returns the loss."""
        # (the group / parameter loop of Adam, with this algorithm's state and kernel)
        loss = _closure_loss(closure)
        from ..factories import zeros_like

        step = kernels.nadam_step
        for group in self.param_groups:
            self._check_differentiable(group)
            lr = _scalar(group["lr"])
            beta1, beta2 = (_scalar(b) for b in group["betas"])
            eps, weight_decay, momentum_decay = group["eps"], group["weight_decay"], group["momentum_decay"]
            decoupled, maximize = bool(group["decoupled_weight_decay"]), bool(group["maximize"])
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _step_counter()
                    state["mu_product"] = _tensor(1.0, dtype=_dtype.float32)
                    state["exp_avg"] = zeros_like(p)
                    state["exp_avg_sq"] = zeros_like(p)
                step_count = _advance_step(state["step"])
                bias_correction2 = 1 - beta2 ** step_count
                # the momentum cache mu_t, mu_{t+1}; mu_product is a float32 tensor (*= in float32, as PyTorch)
                mu = beta1 * (1.0 - 0.5 * (0.96 ** (step_count * momentum_decay)))
                mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step_count + 1) * momentum_decay)))
                mu_product_t = state["mu_product"]
                mu_product_t._data *= mu_product_t._data.dtype.type(mu)
                mu_product_t._vc[0] += 1
                mu_product = float(mu_product_t._data.item())
                mu_product_next = mu_product * mu_next
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                flat = _Flat(p, None if decoupled else _integral_lerp_error)
                s = flat.scalar
                coupled_decay = weight_decay != 0 and not decoupled
                flat_grad = flat.grad(grad, coupled_decay)
                if not coupled_decay:
                    _check_lerp_dtype(exp_avg, grad)
                step(flat(p), flat_grad, flat(exp_avg), flat(exp_avg_sq), s(1 - beta1), s(beta2), s(1 - beta2),
                     s(weight_decay), s(1 - lr * weight_decay), s(bias_correction2), s(eps),
                     s(-lr * (1.0 - mu) / (1.0 - mu_product)), s((-lr * mu_next) / (1.0 - mu_product_next)),
                     decoupled, maximize)
                flat.finish(p, exp_avg, exp_avg_sq)
        return loss
