"""Identity, Linear and Bilinear layers."""
import math

from ... import factories
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module

__all__ = ["Identity", "Linear", "Bilinear"]


def _factory(dtype):
    return {} if dtype is None else {"dtype": dtype}


class Identity(Module):
    """A placeholder that returns its input (any constructor arguments are ignored)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, input):
        return input


def _init_weight_and_bias(module: Module, weight_shape: tuple, bias: bool, dtype) -> None:
    """Give ``module`` an uninitialised ``weight`` and, if ``bias``, a ``bias`` of weight_shape[0]
    (else a ``bias`` registered as None), as Linear, Bilinear and the convolutions do."""
    factory = _factory(dtype)
    module.weight = Parameter(factories.empty(weight_shape, **factory))
    if bias:
        module.bias = Parameter(factories.empty(weight_shape[0], **factory))
    else:
        module.register_parameter("bias", None)


def _reset_weight_and_bias(weight, bias) -> None:
    # PyTorch's default for Linear and the convolutions: kaiming_uniform_(a=sqrt(5)), the bias
    # U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(bias, -bound, bound)


class Linear(Module):
    """``y = x W^T + b``; weight ``(out_features, in_features)`` initialised as PyTorch does
    (``kaiming_uniform_(a=sqrt(5))``, bias ``U(-1/sqrt(in), 1/sqrt(in))``)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        _init_weight_and_bias(self, (out_features, in_features), bias, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise the parameters as ``__init__`` does."""
        _reset_weight_and_bias(self.weight, self.bias)

    def forward(self, input):
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Bilinear(Module):
    """``y = x1^T A x2 + b`` with weight ``(out_features, in1_features, in2_features)``."""

    def __init__(self, in1_features: int, in2_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        _init_weight_and_bias(self, (out_features, in1_features, in2_features), bias, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.in1_features <= 0:
            raise ValueError(f"in1_features must be > 0, but got (in1_features={self.in1_features})")
        bound = 1 / math.sqrt(self.weight.size(1))
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
