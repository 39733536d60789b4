"""``torch.cuda`` as a CPU-only PyTorch build has it: nothing is available, the queries scripts
make at start-up answer so (``is_available()`` False, ``device_count()`` 0, seeding is a no-op),
and what needs a GPU raises PyTorch's ``AssertionError: Torch not compiled with CUDA enabled``."""
_NOT_COMPILED = "Torch not compiled with CUDA enabled"


def _lazy_init():
    raise AssertionError(_NOT_COMPILED)


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def is_initialized() -> bool:
    return False


def is_bf16_supported(including_emulation: bool = True) -> bool:
    return False


def current_device() -> int:
    _lazy_init()


def get_device_name(device=None) -> str:
    _lazy_init()


def get_device_properties(device=None):
    _lazy_init()


def get_device_capability(device=None):
    _lazy_init()


def set_device(device) -> None:
    _lazy_init()


def synchronize(device=None) -> None:
    _lazy_init()


def init() -> None:
    _lazy_init()


def manual_seed(seed) -> None:
    """No CUDA generator to seed (PyTorch's call is silently a no-op without CUDA)."""


manual_seed_all = seed = seed_all = manual_seed


def empty_cache() -> None:
    """Nothing cached."""


def memory_allocated(device=None) -> int:
    return 0


max_memory_allocated = memory_reserved = max_memory_reserved = memory_allocated


class _UnavailableTensorType(type):
    def __call__(cls, *args, **kwargs):
        raise TypeError(f"type torch.cuda.{cls.__name__} not available. {_NOT_COMPILED}.")

    def __instancecheck__(cls, obj) -> bool:
        return False


def _tensor_type(name):
    cls = _UnavailableTensorType(name, (), {"__module__": "torch.cuda"})
    return cls


FloatTensor, DoubleTensor, HalfTensor, LongTensor, IntTensor, ShortTensor, CharTensor, ByteTensor, BoolTensor = (
    _tensor_type(n) for n in ("FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor", "ShortTensor",
                              "CharTensor", "ByteTensor", "BoolTensor"))
