"""Binary elementwise math: copysign, logaddexp, logaddexp2, hypot, fmax, fmin.

Each is one ``binary_op`` declaration (scalar forward + one vjp per input, ``ops/elementwise.py``)
plus its table row, next to the PyTorch-facing function that checks what PyTorch checks first
(a non-Tensor ``other``, integer inputs of the float-only kernels).  Gradients follow PyTorch's
derivatives.yaml, kinks included.
"""
import math

import numpy as np

from .. import _dtype
from ..kernels import loops
from ..tensor import Tensor, _wrap
from . import elementwise as ew
from .inplace import _inplace
from .pointwise import _check_tensor, _grid_pair, _type_name
from .registry import OpInfo, register
from .unary import _zeros, unary_kernels, unary_template


def _float_only(kernel, input, other):
    """PyTorch's NotImplementedError for a float-only kernel given integer/bool operands."""
    a, b = input._data.dtype, other._data.dtype
    if a.kind != "f" and b.kind != "f":
        dt = a if a == b else _dtype.result_type_tensors(a, input._data.ndim, b, other._data.ndim)
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_type_name(dt)}'")


def _constant(array, like: Tensor) -> Tensor:
    """A NumPy mask/ratio as a constant Tensor of ``like``'s dtype (for double-backward formulas)."""
    return _wrap(np.asarray(array, like._data.dtype))


# ============================================================================ copysign
@loops.scalar
def _copysign_ratio(g, a, y):
    # copysign_tensor_self_backward: g * (result / self), 0 where self == 0
    return 0 if a == 0 else g * (y / a)


def _copysign_graph(g, a, b, y, s):
    ratio = np.where(a._data == 0, 0, np.copysign(1, a._data) * np.copysign(1, b._data))
    return g * _constant(ratio, g), _zeros(g, None, None)


_copysign = ew.binary_op("copysign", "CopysignBackward0", forward=lambda a, b: np.copysign(a, b),
                         vjp_a=lambda g, a, b, y: _copysign_ratio(g, a, y), vjp_b=lambda g, a, b, y: 0,
                         scalar_forward=False, saves="inputs+result", true_divide=True, graph=_copysign_graph)
# a Python number as ``other``: its own node (copysign.Scalar), saving self and the result
_copysign_scalar = unary_template(
    "copysign", "CopysignBackward1",
    *unary_kernels("copysign_scalar", lambda x, s: np.copysign(x, s), lambda g, x, y, s: _copysign_ratio(g, x, y),
                   nparams=1),
    nparams=1, saves="both",
    graph=lambda g, x, y, s: g * _constant(np.where(x._data == 0, 0, np.copysign(1, x._data) * math.copysign(1, s)), g))


def copysign(input: Tensor, other) -> Tensor:
    """Elementwise magnitude of ``input`` with the sign of ``other`` (a tensor or a number); integer
    inputs compute in the default float dtype."""
    if isinstance(other, Tensor):
        return _copysign(input, other)
    if not ew._is_scalar(other):
        raise TypeError(f"copysign(): argument 'other' (position 2) must be Tensor or Number, not "
                        f"{type(other).__name__}")
    return _copysign_scalar(input, float(other))


# ============================================================================ logaddexp / logaddexp2
# PyTorch's kernel: an infinity added to itself is itself, else max + log1p(exp(-|a - b|))
_logaddexp = ew.binary_op(
    "logaddexp", "LogaddexpBackward0",
    forward=lambda a, b: a if (math.isinf(a) and a == b) else max(a, b) + np.log1p(np.exp(-abs(a - b))),
    vjp_a=lambda g, a, b, y: g / (np.exp(b - a) + 1), vjp_b=lambda g, a, b, y: g / (np.exp(a - b) + 1),
    scalar_forward=False, graph=lambda g, a, b, y, s: (g / ((b - a).exp() + 1), g / ((a - b).exp() + 1)))
_INV_LN2 = 1 / math.log(2.0)
_logaddexp2 = ew.binary_op(
    "logaddexp2", "Logaddexp2Backward0",
    forward=lambda a, b: a if (math.isinf(a) and a == b) else max(a, b) + np.log1p(np.exp2(-abs(a - b))) * _INV_LN2,
    vjp_a=lambda g, a, b, y: g / (np.exp2(b - a) + 1), vjp_b=lambda g, a, b, y: g / (np.exp2(a - b) + 1),
    scalar_forward=False, graph=lambda g, a, b, y, s: (g / ((b - a).exp2() + 1), g / ((a - b).exp2() + 1)))


def logaddexp(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise ``log(exp(input) + exp(other))``, without overflow."""
    _check_tensor("logaddexp", "other", 2, other)
    _float_only("logaddexp_cpu", input, other)
    return _logaddexp(input, other)


def logaddexp2(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise ``log2(2**input + 2**other)``, without overflow."""
    _check_tensor("logaddexp2", "other", 2, other)
    _float_only("logaddexp2_cpu", input, other)
    return _logaddexp2(input, other)


# ============================================================================ hypot
# d hypot/da = g * a / result (NaN at the origin, as in PyTorch)
_hypot = ew.binary_op("hypot", "HypotBackward0", forward=lambda a, b: math.hypot(a, b),
                      vjp_a=lambda g, a, b, y: g * a / y, vjp_b=lambda g, a, b, y: g * b / y, scalar_forward=False,
                      saves="inputs+result", graph=lambda g, a, b, y, s: (g * a / y, g * b / y))


def hypot(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise ``sqrt(input**2 + other**2)``."""
    _check_tensor("hypot", "other", 2, other)
    _float_only("hypot_cpu", input, other)
    return _hypot(input, other)


# ============================================================================ fmax / fmin
# NaN-ignoring max/min (a NaN operand gives the other); integers and bool keep their dtype.  The
# gradient goes to self where self >= other (fmin: <=) or other is NaN, else to other: a tie goes
# to self, unlike maximum's halves (derivatives.yaml)
@loops.scalar
def _to_self(g, a, b, first):
    return g if (first or b != b) else 0


@loops.scalar
def _to_other(g, a, b, first):
    return 0 if (first or b != b) else g


def _fselect_graph(first):
    def graph(g, a, b, y, s):
        ad, bd = a._data, b._data
        mask = first(ad, bd) | np.isnan(bd)
        return g * _constant(mask, g), g * _constant(~mask, g)

    return graph


_fmax = ew.binary_op("fmax", "FmaxBackward0", forward=lambda a, b: a if (a >= b or b != b) else b,
                     vjp_a=lambda g, a, b, y: _to_self(g, a, b, a >= b),
                     vjp_b=lambda g, a, b, y: _to_other(g, a, b, a >= b),
                     scalar_forward=False, graph=_fselect_graph(np.greater_equal))
_fmin = ew.binary_op("fmin", "FminBackward0", forward=lambda a, b: a if (a <= b or b != b) else b,
                     vjp_a=lambda g, a, b, y: _to_self(g, a, b, a <= b),
                     vjp_b=lambda g, a, b, y: _to_other(g, a, b, a <= b),
                     scalar_forward=False, graph=_fselect_graph(np.less_equal))


def fmax(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise maximum, ignoring NaN (``torch.fmax``)."""
    _check_tensor("fmax", "other", 2, other)
    return _fmax(input, other)


def fmin(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise minimum, ignoring NaN (``torch.fmin``)."""
    _check_tensor("fmin", "other", 2, other)
    return _fmin(input, other)


# ============================================================================ the table
_PAIRS = ew.BINARY_SHAPES


def _uniform_pairs(low=-2.0, high=2.0):
    return lambda rng: [((rng.uniform(low, high, sa), rng.uniform(low, high, sb)), {}) for sa, sb in _PAIRS]


def _nonzero(rng, shape):
    return np.asarray(ew._away_from_zero(rng, shape))  # (0-d: an array, not a NumPy scalar)


def _copysign_samples(rng):
    # both operands away from 0: the gradient flips sign there
    pairs = [((_nonzero(rng, sa), _nonzero(rng, sb)), {}) for sa, sb in _PAIRS]
    return pairs + [((_nonzero(rng, (3, 4)), -1.5), {}), ((_nonzero(rng, ()), 2), {})]


_OUT = {"out": True}
register(OpInfo("copysign", "CopysignBackward0", copysign, nodes=("CopysignBackward1",), extra=_OUT,
                samples=_copysign_samples, notes="samples away from 0, where the gradient flips sign"))
register(OpInfo("logaddexp", "LogaddexpBackward0", logaddexp, extra=_OUT, samples=_uniform_pairs()))
register(OpInfo("logaddexp2", "Logaddexp2Backward0", logaddexp2, extra=_OUT, samples=_uniform_pairs()))
register(OpInfo("hypot", "HypotBackward0", hypot, extra=_OUT, samples=lambda rng: [
    ((_nonzero(rng, sa), _nonzero(rng, sb)), {}) for sa, sb in _PAIRS],
    notes="samples away from the origin, where the gradient is NaN"))
register(OpInfo("fmax", "FmaxBackward0", fmax, extra=_OUT, samples=lambda rng: [
    (_grid_pair(rng, sa, sb), {}) for sa, sb in _PAIRS], notes="grid samples: never tied"))
register(OpInfo("fmin", "FminBackward0", fmin, extra=_OUT, samples=lambda rng: [
    (_grid_pair(rng, sa, sb), {}) for sa, sb in _PAIRS], notes="grid samples: never tied"))

# in-place variants: Tensor methods only, as in PyTorch (torch.copysign_ / torch.hypot_ do not exist)
copysign_ = _inplace(copysign, "copysign_", broadcasts=1)
hypot_ = _inplace(hypot, "hypot_", broadcasts=1)
for _op in (copysign_, hypot_):
    register(OpInfo(_op.__name__, "", _op, public=False, samples=None, differentiable=False))
