"""In-place ops (``add_``, ``mul_``, ``zero_``, ``+=`` ...) and dtype conversion.

An in-place op under autograd is its out-of-place twin whose result is written back into the
tensor's storage; the tensor's ``grad_fn`` then becomes the new node (PyTorch "rebases" its
history the same way) and its version counter is bumped, so any node that saved the old value
refuses to run backward.
"""
import numpy as np

from .. import _dtype, errors
from ..tensor import Tensor, _wrap, edge
from . import elementwise as ew
from . import registry
from .registry import OpInfo, define_node, new_node, register, result

_state = registry._state


def check_inplace(t: Tensor, others=()) -> bool:
    """Raise PyTorch's error for in-place ops on leaves that require grad; return whether the
    op must be recorded."""
    if not _state.enabled:
        return False
    if t._requires_grad:
        if t.grad_fn is None:
            raise RuntimeError(errors.LEAF_INPLACE)
        base = t._base
        if base is not None and base.grad_fn is None and base._requires_grad:
            raise RuntimeError(errors.VIEW_OF_LEAF_INPLACE)
    record = t._requires_grad or any(isinstance(o, Tensor) and o._requires_grad for o in others)
    if record and t._base is not None:
        raise NotImplementedError(
            "in-place operations on views of tensors that are part of an autograd graph are not supported "
            "yet; use the out-of-place op (e.g. y = y + 1) or .clone() the view first"
        )
    return record


def _write_back(t: Tensor, res: Tensor, op_name: str) -> Tensor:
    src = res._data
    if src.shape != t._data.shape:
        raise RuntimeError(
            f"output with shape {list(t._data.shape)} doesn't match the broadcast shape {list(src.shape)}"
        )
    if src.dtype != t._data.dtype and not np.can_cast(src.dtype, t._data.dtype, casting="same_kind"):
        raise RuntimeError(
            f"result type {_dtype.from_numpy_dtype(src.dtype)._legacy[:-6]} can't be cast to the desired "
            f"output type {_dtype.from_numpy_dtype(t._data.dtype)._legacy[:-6]}"
        )
    np.copyto(t._data, src, casting="unsafe")
    t._vc[0] += 1
    return t


def _inplace(out_of_place, name):
    def op(self: Tensor, *args, **kwargs) -> Tensor:
        if not check_inplace(self, args):
            with _NoGrad():
                res = out_of_place(self, *args, **kwargs)
            return _write_back(self, res, name)
        # Record: run the out-of-place op on a snapshot of self that carries self's history
        # (and a fresh version counter), so the node it saves is the value before the write.
        snapshot = _wrap(self._data.copy())
        snapshot.grad_fn, snapshot._output_nr, snapshot._requires_grad = self.grad_fn, self._output_nr, self._requires_grad
        res = out_of_place(snapshot, *args, **kwargs)
        _write_back(self, res, name)
        self.grad_fn = res.grad_fn
        self._output_nr = res._output_nr
        self._requires_grad = res._requires_grad
        return self

    op.__name__ = name
    op.__doc__ = f"In-place version of ``{name[:-1]}``."
    return op


class _NoGrad:
    __slots__ = ("prev",)

    def __enter__(self):
        self.prev = _state.enabled
        _state.enabled = False

    def __exit__(self, *exc):
        _state.enabled = self.prev


_FillNode = define_node("FillBackward0", lambda node, grads: (np.zeros(node._ctx, grads[0].dtype),),
                        lambda node, grads: (grads[0] * 0,))
_ZeroNode = define_node("ZeroBackward0", lambda node, grads: (np.zeros(node._ctx, grads[0].dtype),),
                        lambda node, grads: (grads[0] * 0,))


def fill_(self: Tensor, value) -> Tensor:
    """Fill with ``value`` in place."""
    record = check_inplace(self, (value,))
    v = value._data if isinstance(value, Tensor) else value
    self._data[...] = v
    self._vc[0] += 1
    if record:
        self.grad_fn = new_node(_FillNode, (edge(self),), None, self._data.shape)
        self._output_nr = 0
    return self


def zero_(self: Tensor) -> Tensor:
    """Fill with zeros in place."""
    record = check_inplace(self)
    self._data[...] = 0
    self._vc[0] += 1
    if record:
        self.grad_fn = new_node(_ZeroNode, (edge(self),), None, self._data.shape)
        self._output_nr = 0
    return self


def copy_(self: Tensor, src, non_blocking=False) -> Tensor:
    """Copy ``src`` (broadcast) into this tensor's storage."""
    record = check_inplace(self, (src,))
    s = src._data if isinstance(src, Tensor) else np.asarray(src)
    np.copyto(self._data, np.broadcast_to(s, self._data.shape), casting="unsafe")
    self._vc[0] += 1
    if record:
        from .shape import expand
        from .conversion import to_dtype

        res = to_dtype(expand(src, self._data.shape), self._data.dtype) if isinstance(src, Tensor) else None
        if res is not None and res.grad_fn is not None:
            self.grad_fn, self._output_nr, self._requires_grad = res.grad_fn, 0, True
    return self


add_ = _inplace(ew.add, "add_")
sub_ = _inplace(ew.sub, "sub_")
mul_ = _inplace(ew.mul, "mul_")
div_ = _inplace(ew.div, "div_")
pow_ = _inplace(ew.pow, "pow_")
clamp_ = _inplace(ew.clamp, "clamp_")
neg_ = _inplace(ew.neg, "neg_")
exp_ = _inplace(ew.exp, "exp_")
relu_ = _inplace(ew.relu, "relu_")
sigmoid_ = _inplace(ew.sigmoid, "sigmoid_")
tanh_ = _inplace(ew.tanh, "tanh_")
sqrt_ = _inplace(ew.sqrt, "sqrt_")
abs_ = _inplace(ew.abs, "abs_")
log_ = _inplace(ew.log, "log_")

for _op, _dunders in [(add_, ("__iadd__",)), (sub_, ("__isub__",)), (mul_, ("__imul__",)),
                      (div_, ("__itruediv__",)), (pow_, ("__ipow__",)), (clamp_, ()), (neg_, ()), (exp_, ()),
                      (relu_, ()), (sigmoid_, ()), (tanh_, ()), (sqrt_, ()), (abs_, ()), (log_, ()),
                      (fill_, ()), (zero_, ()), (copy_, ())]:
    register(OpInfo(_op.__name__, "", _op, dunders=_dunders, samples=None, differentiable=False,
                    public=_op.__name__ in ("relu_", "clamp_", "exp_", "sigmoid_", "tanh_", "sqrt_", "abs_", "neg_", "log_")))
Tensor.clip_ = clamp_
