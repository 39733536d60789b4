"""Adamax (Adam with the infinity norm)."""
from .. import _dtype
from ..kernels import optim as kernels
from ..tensor import Tensor
from .adam import _integral_lerp_error
from .optimizer import Optimizer, _advance_step, _check_lerp_dtype, _check_lr, _closure_loss, _Flat, _scalar, \
    _step_counter

__all__ = ["Adamax"]


def _check_betas(eps, betas, weight_decay) -> None:
    """PyTorch's checks of ``eps``, ``betas`` and ``weight_decay`` (Adamax, NAdam, RAdam), in its order."""
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


def _scalar_states_to_tensors(optimizer, keys=("step",)) -> None:
    """After loading an old state dict: per-parameter scalars (``step``, NAdam's ``mu_product``)
    become float32 tensors, as PyTorch's ``__setstate__`` makes them."""
    from ..factories import tensor

    for group in optimizer.param_groups:
        for p in group["params"]:
            p_state = optimizer.state.get(p, [])
            if len(p_state) != 0:
                for key in keys:
                    if not isinstance(p_state[key], Tensor):
                        p_state[key] = tensor(float(p_state[key]), dtype=_dtype.float32)


class Adamax(Optimizer):
    """Implements the Adamax algorithm (a variant of Adam based on the infinity norm), as ``torch.optim.Adamax``."""

    _group_defaults = (("foreach", None), ("maximize", False), ("differentiable", False), ("capturable", False))

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        _check_lr(lr)
        _check_betas(eps, betas, weight_decay)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable, "capturable": capturable}
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        _scalar_states_to_tensors(self)

    def step(self, closure=None):
        """Perform a single optimization step; ``closure`` re-evaluates the model and returns the loss."""
        # (the group / parameter loop of Adam, with this algorithm's state and kernel)
        loss = _closure_loss(closure)
        from ..factories import zeros_like

        step = kernels.adamax_step
        for group in self.param_groups:
            self._check_differentiable(group)
            lr = _scalar(group["lr"])
            beta1, beta2 = (_scalar(b) for b in group["betas"])
            eps, weight_decay, maximize = group["eps"], group["weight_decay"], bool(group["maximize"])
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _step_counter()
                    state["exp_avg"] = zeros_like(p)
                    state["exp_inf"] = zeros_like(p)
                step_count = _advance_step(state["step"])
                clr = lr / (1 - beta1 ** step_count)
                exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
                flat = _Flat(p, _integral_lerp_error)
                s = flat.scalar
                flat_grad = flat.grad(grad, weight_decay != 0)
                if weight_decay == 0:
                    _check_lerp_dtype(exp_avg, grad)
                step(flat(p), flat_grad, flat(exp_avg), flat(exp_inf), s(1 - beta1), s(beta2), s(eps),
                     s(weight_decay), s(-clr), maximize)
                flat.finish(p, exp_avg, exp_inf)
        return loss
