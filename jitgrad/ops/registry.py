"""How an op is declared, and the shared plumbing every op uses.

An op is declared once, in an ``OpInfo``: its public name(s), its node name (what
``grad_fn`` prints), its forward and backward kernels, and how to sample inputs for the
gradient check.  ``OPS`` collects every declaration; the tensor methods, the
``jitgrad.<name>`` functions and ``tests/test_gradcheck.py`` are all generated from it.
The plumbing (dtype promotion, broadcasting, output allocation, recording the node) lives
in the helpers below, written once.
"""
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from .. import _dtype
from ..autograd import grad_mode
from ..autograd.graph import Node, next_seq, node_class
from ..tensor import Tensor, _wrap, edge

_state = grad_mode._state


@dataclass
class OpInfo:
    """One row of the op table."""

    name: str  # public name: jitgrad.<name> and, unless method=False, Tensor.<name>
    node: str  # grad_fn name, e.g. 'MulBackward0'
    function: Callable  # the Tensor-level implementation
    method: bool = True  # also a Tensor method
    aliases: tuple = ()  # other public names (functions and methods)
    dunders: tuple = ()  # operator overloads on Tensor bound to the same function
    public: bool = True  # exported as jitgrad.<name> (False for methods-only ops such as casts)
    scalar_input: bool = False  # the function form accepts a Python number as its first argument
    # -- for the table-driven gradient check --
    samples: Optional[Callable] = None  # rng -> list of (args, kwargs); args may hold arrays
    differentiable: bool = True
    notes: str = ""
    extra: dict = field(default_factory=dict)


OPS: dict = {}


def public_function(info: OpInfo):
    """``jitgrad.<name>``: the op, refusing a non-Tensor input with PyTorch's TypeError."""
    fn = info.function
    if info.scalar_input:
        return fn
    name = info.name

    def checked(input, *args, **kwargs):
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
        return fn(input, *args, **kwargs)

    checked.__name__ = name
    checked.__doc__ = fn.__doc__
    checked.__wrapped__ = fn
    return checked


def register(info: OpInfo) -> OpInfo:
    """Add an op to the table and attach it to Tensor (methods and operators)."""
    OPS[info.name] = info
    if info.method:
        for name in (info.name,) + info.aliases:
            setattr(Tensor, name, info.function)
    for dunder in info.dunders:
        setattr(Tensor, dunder, info.function)
    return info


# ---------------------------------------------------------------------------- recording
def saved_version(t: Tensor, own_output_nr=None):
    """A version-counter record for a tensor saved for backward (checked when backward runs).

    ``own_output_nr`` marks an output of the saving node itself (stored as its index, not the
    node, so the record creates no reference cycle).
    """
    creator = t if own_output_nr is None else own_output_nr
    return (t._vc, t._vc[0], t._data, creator)


def result(out: np.ndarray, node: Optional[Node]) -> Tensor:
    """Wrap a new output array; with a node, make it the tensor's grad_fn."""
    t = Tensor.__new__(Tensor)
    t._data = out
    t._vc = [0]
    t._output_nr = 0
    if node is None:
        t._requires_grad = False
        t.grad_fn = None
    else:
        t._requires_grad = True
        t.grad_fn = node
    return t


def new_node(cls, edges: tuple, saved=None, ctx=None, versions=()):
    """Instantiate a node class with its graph edges and saved state."""
    node = cls.__new__(cls)
    node._seq = next_seq()
    node.next_functions = edges
    node._saved = saved
    node._ctx = ctx
    node._versions = versions
    return node


def needs_grad(*tensors) -> bool:
    """True when grad mode is on and any of ``tensors`` requires grad."""
    if not _state.enabled:
        return False
    for t in tensors:
        if isinstance(t, Tensor) and t._requires_grad:
            return True
    return False


def as_tensor_arg(value, like: Tensor) -> Tensor:
    """Turn a Python number / array-like operand into a tensor (PyTorch's wrapped numbers)."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        return _wrap(value)
    raise TypeError(f"unsupported operand type: {type(value).__name__}")


def float_dtype_for(np_dtype: np.dtype) -> np.dtype:
    """The dtype a floating-point op computes in: the input's if float, else the default."""
    return np_dtype if np_dtype.kind == "f" else _dtype.get_default_dtype().np


def flat(a: np.ndarray) -> np.ndarray:
    """A 1-D C-contiguous view (a copy only when ``a`` is not contiguous) for the flat kernels."""
    return a.ravel()


def define_node(name: str, backward, double_backward=None) -> type:
    """The node class named ``name``.

    ``backward(node, grads) -> tuple``: the fast path, NumPy arrays in and out (jitted kernels).
    ``double_backward(node, grads) -> tuple``: the same formula with differentiable jitgrad Tensor
    ops, Tensors in and out, used under ``create_graph=True`` (higher-order gradients).  Read the
    tensors it needs with ``saved_tensors(node)``.  Without it, ``create_graph=True`` through this
    node raises a clear error.
    """
    return node_class(name, backward, double_backward)


def saved_tensors(node) -> list:
    """The tensors a node recorded for backward (its version records, in recording order), as
    differentiable Tensors: saved inputs are the input tensors themselves; saved outputs of
    ``node`` are re-linked to it (``grad_fn=node``), as PyTorch's SavedVariable does."""
    out = []
    for box, _version, data, creator in node._versions:
        if isinstance(creator, int):
            t = _wrap(data)
            t._vc = box
            t.grad_fn, t._output_nr, t._requires_grad = node, creator, True
            out.append(t)
        else:
            out.append(creator)
    return out


def sum_to(t: Tensor, shape) -> Tensor:
    """Differentiable ``reduce_to_shape`` on Tensors: sum ``t`` over the dims broadcasting added or
    stretched so it has ``shape`` (for double-backward formulas of broadcasting ops)."""
    from .reduction import sum as _sum

    shape = tuple(shape)
    tshape = t._data.shape
    if tshape == shape:
        return t
    lead = len(tshape) - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and tshape[lead + i] != 1)
    if axes:
        t = _sum(t, axes, keepdim=True)
    return t.reshape(shape)
