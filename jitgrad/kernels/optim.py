"""In-place optimizer updates: one flat loop per optimizer over a parameter's storage.

Each kernel mirrors, element by element, the sequence of tensor ops PyTorch's single-tensor
(``foreach=False``) implementation runs, with the same operand order (``addcmul``:
``self + value * t1 * t2``; ``addcdiv``: ``self + value * t1 / t2``; ``lerp`` switching formula
at weight 0.5), so trajectories agree with PyTorch's to rounding.  Scalars arrive already cast
to the parameter's dtype, so float32 parameters are updated in float32 arithmetic, as PyTorch
does.  Arrays are flat C-contiguous views: one compilation per dtype.
"""
import numpy as np
from ._jit import njit


@njit(cache=True, error_model="numpy")
def _lerp(start, end, weight, one):
    # PyTorch's lerp: the two formulas keep the result exact at weight 0 and 1
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (one - weight)


@njit(cache=True, error_model="numpy")
def _l2_decayed_grad(g, p, weight_decay, maximize, zero):
    # the gradient as PyTorch's loops take it: negated to maximize, plus weight_decay * param
    # (Adam's differs: its parameter may be decayed in place instead, see _adam_moments)
    g = -g if maximize else g
    if weight_decay != zero:
        g = g + weight_decay * p
    return g


@njit(cache=True, error_model="numpy", inline="always")
def _adam_moments(i, param, grad, exp_avg, exp_avg_sq, one_minus_beta1, beta2, one_minus_beta2, weight_decay,
                  decoupled_decay_factor, decoupled, maximize, zero, one):
    """Adam's first steps, shared by Adam/AdamW, NAdam and RAdam: the gradient (negated to
    maximize), the weight decay (L2 into the gradient, or ``decoupled`` into the parameter), and
    both moments updated in place; returns (parameter after decay, gradient, m, v)."""
    g = -grad[i] if maximize else grad[i]
    p = param[i]
    if weight_decay != zero:
        if decoupled:
            p = p * decoupled_decay_factor
        else:
            g = g + weight_decay * p
    m = _lerp(exp_avg[i], g, one_minus_beta1, one)
    exp_avg[i] = m
    v = exp_avg_sq[i] * beta2
    v = v + one_minus_beta2 * g * g
    exp_avg_sq[i] = v
    return p, g, m, v


@njit(cache=True, error_model="numpy")
def sgd_step(param, grad, momentum_buffer, lr, weight_decay, momentum, one_minus_dampening,
             nesterov, maximize, first_step):
    """SGD with optional weight decay, (Nesterov) momentum and maximisation, in place."""
    zero = param.dtype.type(0)
    for i in range(param.size):
        g = _l2_decayed_grad(grad[i], param[i], weight_decay, maximize, zero)
        if momentum != zero:
            if first_step:
                b = g
            else:
                b = momentum_buffer[i] * momentum
                b = b + one_minus_dampening * g
            momentum_buffer[i] = b
            if nesterov:
                g = g + momentum * b
            else:
                g = b
        param[i] = param[i] - lr * g


@njit(cache=True, error_model="numpy")
def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, one_minus_beta1, beta2,
              one_minus_beta2, weight_decay, decoupled_decay_factor, eps, neg_step_size,
              bias_correction2_sqrt, amsgrad, decoupled, maximize):
    """Adam / AdamW (``decoupled``), optionally AMSGrad, in place; the bias corrections and
    step size are computed by the caller from the step count (as PyTorch does, in double)."""
    zero = param.dtype.type(0)
    one = param.dtype.type(1)
    for i in range(param.size):
        p, g, m, v = _adam_moments(i, param, grad, exp_avg, exp_avg_sq, one_minus_beta1, beta2, one_minus_beta2,
                                   weight_decay, decoupled_decay_factor, decoupled, maximize, zero, one)
        if amsgrad:
            vmax = max_exp_avg_sq[i]
            if vmax == vmax and (v > vmax or v != v):  # torch.maximum: NaN wins
                vmax = v
            max_exp_avg_sq[i] = vmax
            denom = np.sqrt(vmax) / bias_correction2_sqrt + eps
        else:
            denom = np.sqrt(v) / bias_correction2_sqrt + eps
        param[i] = p + neg_step_size * m / denom


@njit(cache=True, error_model="numpy")
def rmsprop_step(param, grad, square_avg, grad_avg, momentum_buffer, lr, alpha, one_minus_alpha,
                 eps, weight_decay, momentum, centered, maximize):
    """RMSprop, optionally centered and with momentum, in place."""
    zero = param.dtype.type(0)
    one = param.dtype.type(1)
    for i in range(param.size):
        g = _l2_decayed_grad(grad[i], param[i], weight_decay, maximize, zero)
        s = square_avg[i] * alpha
        s = s + one_minus_alpha * g * g
        square_avg[i] = s
        if centered:
            a = _lerp(grad_avg[i], g, one_minus_alpha, one)
            grad_avg[i] = a
            avg = np.sqrt(s + (-one) * a * a)
        else:
            avg = np.sqrt(s)
        avg = avg + eps
        if momentum > zero:
            b = momentum_buffer[i] * momentum
            b = b + one * g / avg
            momentum_buffer[i] = b
            param[i] = param[i] - lr * b
        else:
            param[i] = param[i] + (-lr) * g / avg


@njit(cache=True, error_model="numpy")
def adagrad_step(param, grad, state_sum, neg_clr, eps, weight_decay, maximize):
    """Adagrad (dense gradients), in place; ``neg_clr`` is minus the decayed learning rate."""
    zero = param.dtype.type(0)
    one = param.dtype.type(1)
    for i in range(param.size):
        g = _l2_decayed_grad(grad[i], param[i], weight_decay, maximize, zero)
        s = state_sum[i] + one * g * g
        state_sum[i] = s
        std = np.sqrt(s) + eps
        param[i] = param[i] + neg_clr * g / std


@njit(cache=True, error_model="numpy")
def adamax_step(param, grad, exp_avg, exp_inf, one_minus_beta1, beta2, eps, weight_decay, neg_clr, maximize):
    """Adamax, in place: the first moment, the decayed infinity norm ``max(beta2 * u, |g| + eps)``
    (NaN wins, as torch.maximum) and ``param + neg_clr * m / u``."""
    zero = param.dtype.type(0)
    one = param.dtype.type(1)
    for i in range(param.size):
        g = _l2_decayed_grad(grad[i], param[i], weight_decay, maximize, zero)
        m = _lerp(exp_avg[i], g, one_minus_beta1, one)
        exp_avg[i] = m
        u = exp_inf[i] * beta2
        b = abs(g) + eps
        if u == u and (b > u or b != b):
            u = b
        exp_inf[i] = u
        param[i] = param[i] + neg_clr * m / u


@njit(cache=True, error_model="numpy")
def nadam_step(param, grad, exp_avg, exp_avg_sq, one_minus_beta1, beta2, one_minus_beta2, weight_decay,
               decoupled_decay_factor, bias_correction2, eps, grad_coef, exp_avg_coef, decoupled, maximize):
    """NAdam (``decoupled``: NAdamW-style decay), in place; the momentum-cache coefficients
    ``grad_coef`` and ``exp_avg_coef`` are computed by the caller, in double, as PyTorch does."""
    zero = param.dtype.type(0)
    one = param.dtype.type(1)
    for i in range(param.size):
        p, g, m, v = _adam_moments(i, param, grad, exp_avg, exp_avg_sq, one_minus_beta1, beta2, one_minus_beta2,
                                   weight_decay, decoupled_decay_factor, decoupled, maximize, zero, one)
        denom = np.sqrt(v / bias_correction2) + eps
        p = p + grad_coef * g / denom
        param[i] = p + exp_avg_coef * m / denom


@njit(cache=True, error_model="numpy")
def radam_step(param, grad, exp_avg, exp_avg_sq, one_minus_beta1, beta2, one_minus_beta2, weight_decay,
               decoupled_decay_factor, bias_correction1, lr, bias_correction2_sqrt, rect, eps, rectified, decoupled,
               maximize):
    """RAdam, in place: the rectified adaptive step where ``rectified`` (rho_t > 5), else the
    bias-corrected momentum step; products in PyTorch's order (``c / t`` is ``t.reciprocal() * c``)."""
    zero = param.dtype.type(0)
    one = param.dtype.type(1)
    for i in range(param.size):
        p, g, m, v = _adam_moments(i, param, grad, exp_avg, exp_avg_sq, one_minus_beta1, beta2, one_minus_beta2,
                                   weight_decay, decoupled_decay_factor, decoupled, maximize, zero, one)
        update = m / bias_correction1 * lr
        if rectified:
            adaptive = one / (np.sqrt(v) + eps) * bias_correction2_sqrt
            update = update * adaptive * rect
        param[i] = p - update
