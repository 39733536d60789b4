"""Activation modules: each calls its ``nn.functional`` op."""
import warnings

from .. import functional as F
from .module import Module

__all__ = ["ReLU", "GELU", "Tanh", "Sigmoid", "SiLU", "Softmax", "LogSoftmax", "LeakyReLU", "ELU", "CELU", "SELU",
           "Mish", "Hardtanh", "ReLU6", "Hardswish", "Hardsigmoid", "Softmin", "LogSigmoid"]


class ReLU(Module):
    """``max(0, x)`` elementwise."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.relu(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class GELU(Module):
    """The Gaussian error linear unit (``approximate='tanh'`` for the tanh approximation)."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={repr(self.approximate)}"


class Tanh(Module):
    """The hyperbolic tangent, elementwise."""

    def forward(self, input):
        return F.tanh(input)


class Sigmoid(Module):
    """The logistic sigmoid, elementwise."""

    def forward(self, input):
        return F.sigmoid(input)


class SiLU(Module):
    """``x * sigmoid(x)`` elementwise."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.silu(input, inplace=True) if self.inplace else F.silu(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """``max(0, x) + negative_slope * min(0, x)`` elementwise."""

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input):
        if self.inplace:
            return F.leaky_relu(input, self.negative_slope, inplace=True)
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        inplace_str = ", inplace=True" if self.inplace else ""
        return f"negative_slope={self.negative_slope}{inplace_str}"


def _softmax_dim(name: str, ndim: int) -> int:
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. "
                  "Change the call to include dim=X as an argument.", stacklevel=4)
    return 0 if ndim in (0, 1, 3) else 1


class _SoftmaxOverDim(Module):
    # Softmax and LogSoftmax: the same module around another function
    _function_name = ""

    def __init__(self, dim=None) -> None:
        super().__init__()
        self.dim = dim

    def __setstate__(self, state):
        super().__setstate__(state)
        if not hasattr(self, "dim"):
            self.dim = None

    def forward(self, input):
        dim = self.dim if self.dim is not None else _softmax_dim(self._function_name, input.dim())
        return self._function(input, dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_SoftmaxOverDim):
    """``exp(x_i) / sum_j exp(x_j)`` along ``dim``."""

    _function_name = "softmax"
    _function = staticmethod(F.softmax)


class LogSoftmax(_SoftmaxOverDim):
    """``log(softmax(x))`` along ``dim``, computed stably."""

    _function_name = "log_softmax"
    _function = staticmethod(F.log_softmax)


class Softmin(_SoftmaxOverDim):
    """``softmax(-x)`` along ``dim``."""

    _function_name = "softmin"
    _function = staticmethod(F.softmin)


# ---------------------------------------------------------------------------- the inplace= activations
class _InplaceActivation(Module):
    """An activation whose only option is ``inplace`` (SELU, Mish, Hardswish, Hardsigmoid)."""

    _function = None
    _repr_inplace = True  # (PyTorch's Hardswish and Hardsigmoid print no extra_repr)

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return self._function(input, self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if (self.inplace and self._repr_inplace) else ""


class SELU(_InplaceActivation):
    """``scale * (max(0, x) + min(0, alpha * (exp(x) - 1)))``, PyTorch's alpha and scale."""

    _function = staticmethod(F.selu)


class Mish(_InplaceActivation):
    """``x * tanh(softplus(x))`` elementwise."""

    _function = staticmethod(F.mish)


class Hardswish(_InplaceActivation):
    """``x * relu6(x + 3) / 6`` elementwise."""

    _function = staticmethod(F.hardswish)
    _repr_inplace = False


class Hardsigmoid(_InplaceActivation):
    """``relu6(x + 3) / 6`` elementwise."""

    _function = staticmethod(F.hardsigmoid)
    _repr_inplace = False


class _AlphaActivation(Module):
    """ELU and CELU: an ``alpha`` and ``inplace``."""

    _function = None

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input):
        return self._function(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        inplace_str = ", inplace=True" if self.inplace else ""
        return f"alpha={self.alpha}{inplace_str}"


class ELU(_AlphaActivation):
    """``max(0, x) + min(0, alpha * (exp(x) - 1))`` elementwise."""

    _function = staticmethod(F.elu)


class CELU(_AlphaActivation):
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))`` elementwise."""

    _function = staticmethod(F.celu)


class Hardtanh(Module):
    """Clamp to ``[min_val, max_val]`` (``min_value`` / ``max_value``: deprecated spellings)."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False, min_value=None,
                 max_value=None) -> None:
        super().__init__()
        if min_value is not None:
            warnings.warn("keyword argument `min_value` is deprecated and renamed to `min_val`", FutureWarning,
                          stacklevel=2)
            min_val = min_value
        if max_value is not None:
            warnings.warn("keyword argument `max_value` is deprecated and renamed to `max_val`", FutureWarning,
                          stacklevel=2)
            max_val = max_value
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace
        if self.max_val <= self.min_val:
            raise AssertionError(f"max_val ({self.max_val}) must be greater than min_val ({self.min_val})")

    def forward(self, input):
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        inplace_str = ", inplace=True" if self.inplace else ""
        return f"min_val={self.min_val}, max_val={self.max_val}{inplace_str}"


class ReLU6(Hardtanh):
    """``min(max(0, x), 6)`` elementwise (a Hardtanh from 0 to 6)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LogSigmoid(Module):
    """``log(sigmoid(x))`` elementwise, computed stably."""

    def forward(self, input):
        return F.logsigmoid(input)
