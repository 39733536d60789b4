"""jitgrad: PyTorch's autograd API on the CPU, with Numba-jitted kernels.

``import jitgrad as torch`` -- tensors, the graph recorder, the backward engine and custom
Functions behave as PyTorch's do.  Importing compiles nothing: each kernel is compiled (or
loaded from Numba's on-disk cache) the first time an op needs it.
"""
__version__ = "0.1.0"

from . import _dtype
from ._dtype import (  # noqa: F401  (dtypes under PyTorch's names)
    bool, double, dtype, float, float16, float32, float64, get_default_dtype, half, int, int8, int16,
    int32, int64, long, set_default_dtype, short, uint8,
)
from ._tensor_str import set_printoptions  # noqa: F401
from .tensor import Size, Tensor, device  # noqa: F401
from . import ops as _ops  # noqa: F401  (declares every op and attaches the Tensor methods)
from .ops.registry import OPS as _OPS, public_function as _public_function
from .factories import (  # noqa: F401
    arange, as_tensor, asarray, empty, empty_like, eye, from_numpy, full, full_like, get_rng_state,
    initial_seed, linspace, logspace, manual_seed, normal, ones, ones_like, rand, rand_like, randint,
    randint_like, randn, randn_like, randperm, seed, set_rng_state, tensor, zeros, zeros_like,
)
from . import autograd  # noqa: F401
from .autograd import function as _function
from .autograd import gradcheck as _gradcheck_module

# PyTorch's names on jitgrad.autograd; the functions shadow their modules' names, as in PyTorch
for _name in ("Function", "FunctionCtx", "InplaceFunction", "NestedIOFunction", "once_differentiable"):
    setattr(autograd, _name, getattr(_function, _name))
for _name in ("gradcheck", "gradgradcheck", "GradcheckError"):
    setattr(autograd, _name, getattr(_gradcheck_module, _name))
from .autograd import functional as _functional  # noqa: F401,E402  (jitgrad.autograd.functional)
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled  # noqa: F401
from .autograd.grad_mode import is_grad_enabled as _is_grad_enabled  # noqa: F401
from .kernels import set_num_threads, get_num_threads  # noqa: F401
from .kernels import _install_lazy_pool

_install_lazy_pool()  # starts no thread: the pool starts at the first parallel kernel (see kernels/__init__)
from . import _allocator

_allocator.tune()  # keep freed large buffers mapped: no page faults per iteration (see its docstring)
from . import _blas

_blas.tune()  # OpenBLAS's idle threads sleep at once instead of spinning ~0.1 s (see its docstring)

# jitgrad.add, jitgrad.exp, jitgrad.matmul ... straight from the op table
for _info in _OPS.values():
    if _info.public:
        for _name in (_info.name,) + _info.aliases:
            globals()[_name] = _public_function(_info)
del _info, _name

from ._legacy import (  # noqa: F401,E402  (legacy constructors: LongTensor([1, 2]) is int64)
    BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor, HalfTensor, IntTensor, LongTensor, ShortTensor,
)
from ._device import get_default_device, set_default_device  # noqa: F401,E402
from . import backends, cuda  # noqa: F401,E402  (a CPU-only build's torch.cuda / torch.backends)
cpu = device("cpu")


def is_tensor(obj):
    """True if ``obj`` is a jitgrad Tensor."""
    return isinstance(obj, Tensor)


def numel(input: Tensor):
    """Number of elements of ``input``."""
    return input.numel()


def is_floating_point(input: Tensor):
    return input.is_floating_point()


def promote_types(type1: dtype, type2: dtype) -> dtype:
    """The dtype both operands are promoted to (``torch.promote_types``)."""
    return _dtype.from_numpy_dtype(_dtype.promote_types(type1.np, type2.np))


def broadcast_shapes(*shapes) -> Size:
    from .ops.broadcast import broadcast_shapes as _bs

    out = ()
    for s in shapes:
        out = _bs(out, (s,) if isinstance(s, _dtype._py_int) else tuple(s))
    return Size(out)


from . import nn, optim
from .serialization import save, load
from . import linalg  # noqa: E402  (torch.linalg)
from . import utils; from ._random import TensorGenerator as Generator, default_generator  # noqa: E402,E702  (torch.utils.data, torch.Generator)
from . import compiler; from .compiler import compile  # noqa: E402,E702,A001  (torch.compile)
