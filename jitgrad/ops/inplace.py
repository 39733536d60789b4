"""In-place ops (``add_``, ``mul_``, ``zero_``, ``+=`` ...) and dtype conversion.

An in-place op under autograd is its out-of-place twin whose result is written back into the
tensor's storage; the tensor's ``grad_fn`` then becomes the new node (PyTorch "rebases" its
history the same way) and its version counter is bumped, so any node that saved the old value
refuses to run backward.
"""
import numpy as np

from .. import _dtype, errors
from ..tensor import Tensor, _wrap, edge, inplace_broadcast_error
from . import elementwise as ew
from . import registry
from .._fp import quiet
from .registry import OpInfo, define_node, new_node, register, result

_state = registry._state


OVERLAP_ERROR = ("unsupported operation: more than one element of the written-to tensor refers to a single memory "
                 "location. Please clone() the tensor before performing the operation.")


def has_internal_overlap(a: np.ndarray) -> bool:
    """PyTorch's definite internal overlap: a dim of size > 1 with stride 0 (an expanded tensor)."""
    for n, st in zip(a.shape, a.strides):
        if st == 0 and n > 1:
            return True
    return False


def writable(a: np.ndarray, allow_overlap: bool = False) -> np.ndarray:
    """``a``, ready to be written in place.  Expanded tensors are read-only NumPy broadcasts:
    writing to one whose elements share memory raises PyTorch's error (unless the op is one
    PyTorch lets through, ``allow_overlap``: fill_, zero_, index_put_); otherwise the write goes
    through a writable alias of the same memory."""
    if a.flags.writeable:
        return a
    if not allow_overlap and has_internal_overlap(a):
        raise RuntimeError(OVERLAP_ERROR)
    alias = a.view()
    try:
        alias.flags.writeable = True
    except ValueError:  # the memory itself is read-only (a read-only NumPy array behind from_numpy)
        raise RuntimeError("jitgrad: this tensor's memory is read-only (it wraps a read-only NumPy array); "
                           "clone() it before writing to it in place") from None
    return alias


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


def _write_back(t: Tensor, res: Tensor, op_name: str, allow_overlap: bool = False) -> Tensor:
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
    np.copyto(writable(t._data, allow_overlap), src, casting="unsafe")
    t._vc[0] += 1
    return t


def _takes_only_self(fn) -> bool:
    import inspect

    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) == 1 and not any(p.kind == p.VAR_POSITIONAL for p in params)


def _inplace(out_of_place, name, allow_overlap=False, broadcasts=0):
    """The in-place op ``name``: ``out_of_place`` written back into self (``allow_overlap``: the
    op writes through an expanded self, as PyTorch's masked_fill_ does, instead of refusing it;
    ``broadcasts``: how many leading arguments broadcast against self -- PyTorch checks that they
    fit self's shape before anything else about them)."""
    no_args = _takes_only_self(out_of_place)

    def op(self: Tensor, *args, **kwargs) -> Tensor:
        if no_args and args:  # PyTorch's argument parser, before anything else
            raise TypeError(f"Tensor.{name}() takes no arguments ({len(args)} given)")
        for other in args[:broadcasts]:
            if isinstance(other, Tensor) and other._data.shape != self._data.shape:
                err = inplace_broadcast_error(self._data.shape, other._data.shape)
                if err is not None:
                    raise err
        if not self._data.flags.writeable:
            writable(self._data, allow_overlap)  # PyTorch refuses an expanded self before anything else
        if not check_inplace(self, args):
            with _NoGrad():
                res = out_of_place(self, *args, **kwargs)
            return _write_back(self, res, name, allow_overlap)
        # Record: run the out-of-place op on a snapshot of self that carries self's history
        # (and a fresh version counter), so the node it saves is the value before the write.
        snapshot = _wrap(self._data.copy())
        snapshot.grad_fn, snapshot._output_nr, snapshot._requires_grad = self.grad_fn, self._output_nr, self._requires_grad
        res = out_of_place(snapshot, *args, **kwargs)
        _write_back(self, res, name, allow_overlap)
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
    dst = writable(self._data, allow_overlap=True)
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                               f"{value._data.ndim} dimensions.")
        quiet(np.copyto, dst, value._data, "unsafe")  # a tensor value is cast as copy_ does: no check
    else:
        if not isinstance(value, (int, float, complex, np.number, np.bool_)):  # (bool is an int)
            raise TypeError(f"fill_() received an invalid combination of arguments - got ({type(value).__name__}), "
                            "but expected one of:\n * (Tensor value)\n * (Number value)\n")
        dst[...] = ew.fill_scalar(dst.dtype, value)  # PyTorch's overflow check (int8 1000, float32 1e39)
    self._vc[0] += 1
    if record:
        self.grad_fn = new_node(_FillNode, (edge(self),), None, self._data.shape)
        self._output_nr = 0
    return self


def zero_(self: Tensor) -> Tensor:
    """Fill with zeros in place."""
    record = check_inplace(self)
    writable(self._data, allow_overlap=True)[...] = 0
    self._vc[0] += 1
    if record:
        self.grad_fn = new_node(_ZeroNode, (edge(self),), None, self._data.shape)
        self._output_nr = 0
    return self


def copy_(self: Tensor, src, non_blocking=False) -> Tensor:
    """Copy ``src`` (broadcast) into this tensor's storage."""
    dst = writable(self._data)
    record = check_inplace(self, (src,))
    s = src._data if isinstance(src, Tensor) else np.asarray(src)
    if s.shape != dst.shape:
        error = inplace_broadcast_error(dst.shape, s.shape)  # PyTorch's, where NumPy's would leak
        if error is not None:
            raise error
    if s.dtype == dst.dtype:
        np.copyto(dst, np.broadcast_to(s, dst.shape))
    else:  # PyTorch casts silently (float64 1e39 -> inf, NaN -> an integer)
        quiet(np.copyto, dst, np.broadcast_to(s, dst.shape), "unsafe")
    self._vc[0] += 1
    if record:
        from .shape import expand
        from .conversion import to_dtype

        res = to_dtype(expand(src, self._data.shape), self._data.dtype) if isinstance(src, Tensor) else None
        if res is not None and res.grad_fn is not None:
            self.grad_fn, self._output_nr, self._requires_grad = res.grad_fn, 0, True
    return self


# (one declaration a line: the same shape as ops/comparison.py's eq = _compare(...) table, no logic to share)
add_ = _inplace(ew.add, "add_")
sub_ = _inplace(ew.sub, "sub_")
mul_ = _inplace(ew.mul, "mul_")
div_ = _inplace(ew.div, "div_")
pow_ = _inplace(ew.pow, "pow_")
clamp_ = _inplace(ew.clamp, "clamp_")
neg_ = _inplace(ew.neg, "neg_")
# (the unary ops' in-place forms -- exp_, relu_, ... -- are made by their declarations: ops/unary.py)

for _op, _dunders in [(add_, ("__iadd__",)), (sub_, ("__isub__",)), (mul_, ("__imul__",)),
                      (div_, ("__itruediv__",)), (pow_, ("__ipow__",)), (clamp_, ()), (neg_, ()),
                      (fill_, ()), (zero_, ()), (copy_, ())]:
    register(OpInfo(_op.__name__, "", _op, dunders=_dunders, samples=None, differentiable=False,
                    public=_op.__name__ in ("clamp_", "neg_"),
                    methods={"clip_": clamp_} if _op is clamp_ else {}))  # a Tensor-method spelling only
