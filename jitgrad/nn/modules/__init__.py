"""The layers of ``jitgrad.nn``."""
from .activation import GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Tanh
from .container import ModuleDict, ModuleList, Sequential
from .conv import AdaptiveAvgPool2d, AvgPool2d, Conv1d, Conv2d, MaxPool2d
from .linear import Bilinear, Identity, Linear
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, KLDivLoss, L1Loss, MSELoss, NLLLoss, SmoothL1Loss
from .misc import Dropout, Embedding, Flatten
from .module import Module
from .normalization import BatchNorm1d, BatchNorm2d, LayerNorm

__all__ = [
    "Module", "Identity", "Linear", "Bilinear", "Conv1d", "Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d",
    "Flatten", "Dropout", "LayerNorm", "BatchNorm1d", "BatchNorm2d", "Embedding", "ReLU", "GELU", "Tanh", "Sigmoid",
    "SiLU", "Softmax", "LogSoftmax", "LeakyReLU", "Sequential", "ModuleList", "ModuleDict", "MSELoss", "L1Loss",
    "SmoothL1Loss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss", "KLDivLoss",
]
