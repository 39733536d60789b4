"""``Parameter``: a Tensor that a Module registers as one of its parameters; ``Buffer``."""
from .. import errors
from ..tensor import Tensor, _wrap

__all__ = ["Parameter", "Buffer"]


class Parameter(Tensor):
    """A Tensor that is a module parameter: assigning it as a Module attribute registers it.

    It shares storage and version counter with ``data`` (like ``data.detach()``) and requires
    grad by default.  Results of ops on parameters are plain Tensors, as in PyTorch.
    """

    __slots__ = ()

    def __new__(cls, data=None, requires_grad: bool = True):
        if data is None:
            from ..factories import empty

            data = empty(0)
        if not isinstance(data, Tensor):
            raise AttributeError(f"'{type(data).__name__}' object has no attribute 'detach'")
        p = Tensor.__new__(cls)
        p._data = data._data
        p._vc = data._vc
        p._output_nr = 0
        p.grad_fn = None
        p._requires_grad = False
        if requires_grad:
            if data._data.dtype.kind != "f":
                raise RuntimeError(errors.FLOAT_ONLY_GRAD)
            p._requires_grad = True
        return p

    def __init__(self, data=None, requires_grad: bool = True):
        pass  # everything happens in __new__ (Tensor.__init__ would re-create the storage)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = Parameter(_wrap(self._data.copy()), self._requires_grad)
        if self._grad is not None:
            result._grad = _wrap(self._grad._data.copy())
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (self._data, self._requires_grad))


def _rebuild_parameter(data, requires_grad):
    return Parameter(_wrap(data), requires_grad)


class _BufferMeta(type):
    # ``isinstance(t, Buffer)`` holds for tensors made by ``Buffer(...)``, which are plain Tensors
    def __instancecheck__(cls, instance):
        if cls is Buffer:
            return isinstance(instance, Tensor) and getattr(instance, "_is_buffer", False)
        return super().__instancecheck__(instance)


class Buffer(metaclass=_BufferMeta):
    """Marks a Tensor as a buffer when assigned to a Module attribute (``persistent`` decides
    whether it is part of the state dict)."""

    def __new__(cls, data=None, *, persistent: bool = True):
        if data is None:
            from ..factories import empty

            data = empty(0)
        t = data.detach()
        t.__dict__["_is_buffer"] = True
        t.__dict__["persistent"] = persistent
        return t
