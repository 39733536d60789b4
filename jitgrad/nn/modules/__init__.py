"""The layers of ``jitgrad.nn``."""
from .activation import GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Tanh
from .activation import CELU, ELU, SELU, Hardsigmoid, Hardswish, Hardtanh, LogSigmoid, Mish, ReLU6, Softmin
from .container import ModuleDict, ModuleList, Sequential
from .conv import AdaptiveAvgPool2d, AvgPool2d, Conv1d, Conv2d, MaxPool2d
from .linear import Bilinear, Identity, Linear
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, KLDivLoss, L1Loss, MSELoss, NLLLoss, SmoothL1Loss
from .misc import Dropout, Embedding, Flatten
from .module import Module
from .normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase

__all__ = [
    "Module", "Identity", "Linear", "Bilinear", "Conv1d", "Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d",
    "Flatten", "Dropout", "LayerNorm", "BatchNorm1d", "BatchNorm2d", "Embedding", "ReLU", "GELU", "Tanh", "Sigmoid",
    "SiLU", "Softmax", "LogSoftmax", "LeakyReLU", "Sequential", "ModuleList", "ModuleDict", "MSELoss", "L1Loss",
    "SmoothL1Loss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss", "KLDivLoss",
]
__all__ += ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]
__all__ += ["ELU", "CELU", "SELU", "Mish", "Hardtanh", "ReLU6", "Hardswish", "Hardsigmoid", "Softmin", "LogSigmoid"]
