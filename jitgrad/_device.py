"""``torch.device`` and the checks behind every ``device=`` argument.

jitgrad computes on the CPU only, but scripts name devices everywhere: ``torch.device("cuda" if
torch.cuda.is_available() else "cpu")``, ``.to(device)``, ``zeros(..., device=device)``.  A
device object is PyTorch's (parsing, repr, equality, hashing, its errors); *using* one that is not
the CPU raises what a CPU-only PyTorch build raises (``AssertionError: Torch not compiled with
CUDA enabled``).
"""
import re

_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga", "maia", "xla",
          "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone")
_DEVICE_STRING = re.compile(r"([a-zA-Z_]+)(?::(0|[1-9][0-9]*))?")
_MISSING = object()
_SIGNATURES = " * (torch.device device)\n * (str type, int index = -1)\n"


class device:
    """A device: ``device("cpu")``, ``device("cuda:1")``, ``device("cuda", 1)``; ``.type``, ``.index``."""

    __slots__ = ("_type", "_index")

    def __new__(cls, type=_MISSING, index=None):  # noqa: A002 - PyTorch's names
        if isinstance(type, device) and index is None:
            return type
        if isinstance(type, int) and not isinstance(type, bool):  # an accelerator's ordinal
            raise RuntimeError("Cannot access accelerator device when none is available.")
        if not isinstance(type, str):
            got = "" if type is _MISSING else type.__class__.__name__
            raise TypeError(f"device() received an invalid combination of arguments - got ({got}), but expected "
                            f"one of:\n{_SIGNATURES}")
        m = _DEVICE_STRING.fullmatch(type)
        if m is None:
            raise RuntimeError(f"Invalid device string: '{type}'")
        name, ordinal = m.group(1), m.group(2)
        if name not in _TYPES:
            raise RuntimeError(f"Expected one of {', '.join(_TYPES)} device type at start of device string: {type}")
        if ordinal is not None:
            if index is not None:
                raise RuntimeError(f"type (string) must not include an index because index was passed explicitly: "
                                   f"{type}")
            index = int(ordinal)
        elif index is not None:
            if not isinstance(index, int) or isinstance(index, bool):
                raise TypeError(f"device() received an invalid combination of arguments - got (str, "
                                f"{index.__class__.__name__}), but expected one of:\n{_SIGNATURES}")
            if index < 0:
                if index != -1:
                    raise RuntimeError("Device index must not be negative")
                index = None
        self = object.__new__(cls)
        object.__setattr__(self, "_type", name)
        object.__setattr__(self, "_index", index)
        return self

    @property
    def type(self) -> str:
        return self._type

    @property
    def index(self):
        return self._index

    def __setattr__(self, name, value):
        raise AttributeError(f"attribute '{name}' of 'torch.device' objects is not writable")

    def __repr__(self):
        if self._index is None:
            return f"device(type='{self._type}')"
        return f"device(type='{self._type}', index={self._index})"

    def __str__(self):
        return self._type if self._index is None else f"{self._type}:{self._index}"

    __format__ = lambda self, spec: format(str(self), spec)  # noqa: E731

    def __eq__(self, other):
        if not isinstance(other, device):
            return NotImplemented
        return self._type == other._type and self._index == other._index

    def __hash__(self):
        return hash((self._type, self._index))

    def __reduce__(self):
        return (device, (self._type, self._index))

    def __enter__(self):  # ``with torch.device("cpu"):`` -- the CPU is the only device anyway
        check(self)
        return self

    def __exit__(self, *exc):
        return False


device.__module__ = "jitgrad"
CPU = device("cpu")
_NOT_COMPILED = {"cuda": "CUDA", "xpu": "XPU"}


def check(d) -> device:
    """``d`` (a device, a device string or an ordinal) as a device, or the error a CPU-only PyTorch
    raises for computing on it."""
    d = d if isinstance(d, device) else device(d)
    kind = d._type
    if kind == "cpu":
        return d
    if kind in _NOT_COMPILED:
        raise AssertionError(f"Torch not compiled with {_NOT_COMPILED[kind]} enabled")
    raise RuntimeError(f"PyTorch is not linked with support for {kind} devices")


_default = [None]  # set_default_device's device, None for the CPU


def check_factory(d) -> None:
    """A factory's ``device=`` (or, without one, the default device): only the CPU computes."""
    if d is not None:
        check(d)
    elif _default[0] is not None:
        check(_default[0])


def set_default_device(d) -> None:
    """The device factories create tensors on (``torch.set_default_device``): the CPU (or None);
    another device is accepted here and refused by the next factory, as in a CPU-only PyTorch."""
    if d is None:
        _default[0] = None
        return
    d = d if isinstance(d, device) else device(d)
    _default[0] = None if d._type == "cpu" else d


def get_default_device() -> device:
    """``torch.get_default_device()``."""
    return _default[0] if _default[0] is not None else CPU
