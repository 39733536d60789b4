"""``jitgrad.nn``: modules, parameters, ``functional`` and ``init``, with PyTorch's API."""
from . import functional, init  # noqa: F401
from .modules import *  # noqa: F401,F403
from .modules import __all__ as _modules_all
from .modules.module import register_module_forward_hook, register_module_forward_pre_hook  # noqa: F401
from .parameter import Buffer, Parameter  # noqa: F401
from . import utils  # noqa: F401,E402  (torch.nn.utils: clip_grad_norm_, parameters_to_vector, ...)

__all__ = ["Buffer", "Parameter", "functional", "init"] + list(_modules_all)
