"""Optimizers with PyTorch's API (``jitgrad.optim.SGD``, ``Adam``, ...), each updating parameters
in place with one jitted kernel per parameter; learning-rate schedulers in ``lr_scheduler``."""
from . import lr_scheduler  # noqa: F401
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .nadam import NAdam
from .radam import RAdam
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "SGD", "lr_scheduler"]
__all__ += ["Adamax", "NAdam", "RAdam"]
