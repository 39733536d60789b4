"""How an op is declared, and the shared plumbing every op uses.

An op is declared once, in an ``OpInfo``: its public name(s), its node name (what
``grad_fn`` prints), its forward and backward kernels, and how to sample inputs for the
gradient check.  ``OPS`` collects every declaration; the tensor methods, the
``jitgrad.<name>`` functions and ``tests/test_gradcheck.py`` are all generated from it.
The plumbing (dtype promotion, broadcasting, output allocation, recording the node) lives
in the helpers below, written once.
"""
import warnings
from dataclasses import dataclass, field
from typing import Callable, Optional, Union

import numpy as np

from .. import _dtype
from ..autograd import grad_mode
from ..autograd.graph import VIEW, Node, new_node, node_class, saved_version  # noqa: F401  (re-exported for the ops)
from ..tensor import Tensor, _wrap, edge

_state = grad_mode._state


@dataclass
class OpInfo:
    """One row of the op table."""

    name: str  # public name: jitgrad.<name> and, unless method=False, Tensor.<name>
    node: str  # grad_fn name, e.g. 'MulBackward0'
    function: Callable  # the Tensor-level implementation
    # also a Tensor method: True binds the function itself; a callable is the method's own
    # implementation where its arguments differ from the function's (Tensor.where(condition, other))
    method: Union[bool, Callable] = True
    aliases: tuple = ()  # other public names (functions and methods)
    dunders: tuple = ()  # operator overloads on Tensor bound to the same function
    # other Tensor attributes of the op with their own implementation, {name: function or property}:
    # operators that skip the function's keyword handling, reflected operators (operands swapped),
    # properties (Tensor.T)
    methods: dict = field(default_factory=dict)
    public: bool = True  # exported as jitgrad.<name> (False for methods-only ops such as casts)
    scalar_input: bool = False  # the function form accepts a Python number as its first argument
    # every other node class the op may give its outputs (by argument kind: a scalar operand, a 1-D
    # input, a composite's last step); ``node`` plus these are all its ``grad_fn`` names
    nodes: tuple = ()
    # -- for the table-driven gradient check --
    samples: Optional[Callable] = None  # rng -> list of (args, kwargs); args may hold arrays
    differentiable: bool = True
    notes: str = ""
    extra: dict = field(default_factory=dict)


OPS: dict = {}


@dataclass(frozen=True)
class ScalarDef:
    """An elementwise op as math on one element (``ops/unary.py``'s ``unary_op``,
    ``ops/elementwise.py``'s ``binary_op``): what the eager loops are generated from, and what a
    compiler can fuse.  ``forward(x)`` / ``forward(a, b)``; ``vjps``: one per input, each
    ``(g, x, y)`` / ``(g, a, b, y)`` (``y`` the result) or the markers "grad" / "-grad";
    all are ``inline`` njit functions."""

    name: str
    forward: Callable
    vjps: tuple
    saves: str  # what backward reads: 'input' / 'result' / 'both' (unary); 'inputs' / 'inputs+result' / 'nothing'


#: op name -> its ScalarDef, for every op declared from scalar math
SCALAR_DEFS: dict = {}


# The op-table functions whose PyTorch counterpart takes ``out=`` (found by calling each
# torch.<name> / torch.nn.functional.<name> of torch 2.13 with ``out=``); the others refuse it.
# (A unary op's declaration says it itself: ``unary_op(..., out=True)``, ``OpInfo.extra['out']``.)
OUT_FUNCTIONS = frozenset("""
    add sub mul div pow neg sign atan2 maximum minimum lerp where clamp clamp_min clamp_max
    floor_divide remainder eq ne lt le gt ge bitwise_and bitwise_or bitwise_xor bitwise_not
    logical_and logical_or logical_xor logical_not sum mean prod var std norm logsumexp max min
    argmax argmin amax amin cumsum cumprod dot mm mv bmm matmul outer cat stack gather scatter
    scatter_add index_select take_along_dim tril triu softmax log_softmax gelu softplus
""".split())
OUT_FUNCTIONAL = frozenset(("gelu", "softplus", "avg_pool2d", "logsigmoid"))  # torch.nn.functional.<name>(..., out=)

# How an out= tensor's dtype must relate to the result's.  Default: PyTorch's canCast (no float
# into an integer/bool out, no integer into a bool out).  These ops want exactly the result dtype;
# the value is PyTorch's message for them ({want}/{got}: C type names, {Want}/{Got}: Float, Long).
_EXACT_MSG = "Expected out tensor to have dtype {want}, but got {got} instead"
_OUT_EXACT_DTYPE = {
    **dict.fromkeys(("gather", "scatter", "scatter_add", "take_along_dim", "argmax", "argmin", "norm",
                     "max", "min"), _EXACT_MSG),
    "where": "Expected out type to be {Want} but got {Got}",
    "sign": "Found dtype {Got} but expected {Want}",
    "index_select": "index_select(): self and result must have the same scalar type",
    "linalg_vector_norm": _EXACT_MSG,
    "linalg_matrix_norm": "linalg.matrix_norm expected out tensor dtype {Want} but got: {Got}",
    "linalg_norm": "linalg.norm expected out tensor dtype {Want} but got: {Got}",
}
_CAST_MSG = {"cat": "torch.cat(): input types can't be cast to the desired output type {Got}"}
_CAST_MSG["stack"] = _CAST_MSG["cat"]
_C_TYPE = {"float16": "c10::Half", "float32": "float", "float64": "double", "uint8": "unsigned char",
           "int8": "signed char", "int16": "short int", "int32": "int", "int64": "long int", "bool": "bool"}
_RESIZE_WARNING = (
    "An output with one or more elements was resized since it had shape {old}, which does not match the "
    "required output shape {new}. This behavior is deprecated, and in a future PyTorch release outputs will "
    "not be resized unless they have zero elements. You can explicitly reuse an out tensor t by resizing it, "
    "inplace, to zero elements with t.resize_(0).")


def _requires_grad_arg(args, kwargs, out) -> bool:
    for a in (*args, *kwargs.values(), out):
        if isinstance(a, Tensor):
            if a._requires_grad:
                return True
        elif isinstance(a, (list, tuple)) and any(isinstance(t, Tensor) and t._requires_grad for t in a):
            return True
    return False


def _check_out_dtype(name: str, res: np.ndarray, out: np.ndarray, exact: bool) -> None:
    src, dst = res.dtype, out.dtype
    if src == dst:
        return
    names = {"want": _C_TYPE[src.name], "got": _C_TYPE[dst.name],  # float, long int
             "Want": _dtype.from_numpy_dtype(src)._legacy[:-6], "Got": _dtype.from_numpy_dtype(dst)._legacy[:-6]}
    if exact:
        raise RuntimeError(_OUT_EXACT_DTYPE.get(name, _EXACT_MSG).format(**names))
    if (src.kind == "f" and dst.kind != "f") or (src.kind in "iu" and dst.kind == "b"):
        msg = _CAST_MSG.get(name, "result type {Want} can't be cast to the desired output type {Got}")
        raise RuntimeError(msg.format(**names))


def write_out(name: str, res: np.ndarray, out: Tensor, exact_dtype: bool = False, warn_resize: bool = True) -> Tensor:
    """Store a computed result in an ``out=`` tensor as PyTorch does: into its own storage (so a view
    or a tensor sharing memory with NumPy sees the values), cast to its dtype where PyTorch allows,
    resized (with PyTorch's deprecation warning when it had elements) when its shape is wrong; its
    version counter is bumped like any in-place write."""
    od = out._data
    _check_out_dtype(name, res, od, exact_dtype)
    if od.shape != res.shape:
        if od.size and warn_resize:
            warnings.warn(_RESIZE_WARNING.format(old=list(od.shape), new=list(res.shape)), UserWarning, stacklevel=4)
        out._data = od = np.empty(res.shape, od.dtype)
    elif od.size > 1 and 0 in od.strides:
        raise RuntimeError("unsupported operation: more than one element of the written-to tensor refers to a "
                           "single memory location. Please clone() the tensor before performing the operation.")
    elif not od.flags.writeable:  # (jitgrad copies read-only NumPy arrays; a defensive check)
        raise RuntimeError("the out= tensor's memory is read-only")
    np.copyto(od, res, casting="unsafe")
    out._vc[0] += 1
    return out


def call_with_out(name: str, fn, differentiable: bool, args: tuple, kwargs: dict, out):
    """``fn(*args, **kwargs)`` written into ``out`` (a Tensor, or a tuple of them for a tuple result)."""
    if differentiable and _state.enabled and _requires_grad_arg(args, kwargs, out):
        raise RuntimeError(f"{name}(): functions with out=... arguments don't support automatic differentiation, "
                           "but one of the arguments requires grad.")
    res = fn(*args, **kwargs)
    exact = name in _OUT_EXACT_DTYPE
    if isinstance(res, tuple):  # (values, indices): out must be a matching tuple of tensors
        if not isinstance(out, (tuple, list)) or not all(isinstance(o, Tensor) for o in out):
            raise TypeError(f"{name}(): argument 'out' must be tuple of Tensors, not {type(out).__name__}")
        if len(out) != len(res):
            raise TypeError(f"expected tuple of {len(res)} elements but got {len(out)}")
        outs = [write_out(name, r._data, o, exact) for r, o in zip(res, out)]
        return type(res)(*outs) if hasattr(res, "_fields") else tuple(outs)
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    return write_out(name, res._data, out, exact)


def public_function(info: OpInfo, namespace: str = "torch"):
    """``jitgrad.<name>`` (``namespace="torch"``) or ``jitgrad.nn.functional.<name>``
    (``namespace="functional"``): the op, refusing a non-Tensor input with PyTorch's TypeError, and
    taking ``out=`` exactly where PyTorch's function of that namespace does."""
    fn = info.function
    name = info.name
    takes_out = (name in OUT_FUNCTIONS or info.extra.get("out", False)) if namespace == "torch" \
        else name in OUT_FUNCTIONAL
    differentiable = info.differentiable
    if info.scalar_input:
        if not takes_out:
            return fn

        def with_out(*args, out=None, **kwargs):
            if out is None:
                return fn(*args, **kwargs)
            return call_with_out(name, fn, differentiable, args, kwargs, out)

        checked = with_out
    elif takes_out:
        def checked(input, *args, out=None, **kwargs):
            if not isinstance(input, Tensor):
                raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
            if out is None:
                return fn(input, *args, **kwargs)
            return call_with_out(name, fn, differentiable, (input,) + args, kwargs, out)
    else:
        def checked(input, *args, **kwargs):
            if not isinstance(input, Tensor):
                raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
            if kwargs and "out" in kwargs:  # PyTorch gives this function no out=
                raise TypeError(f"{name}() got an unexpected keyword argument 'out'")
            return fn(input, *args, **kwargs)

    checked.__name__ = name
    checked.__doc__ = fn.__doc__
    checked.__wrapped__ = fn
    return checked


def register(info: OpInfo) -> OpInfo:
    """Add an op to the table and attach it to Tensor (methods, operators, properties): the one
    place Tensor gets its op methods, each a plain function bound once, at import."""
    OPS[info.name] = info
    if info.method:
        method = info.function if info.method is True else info.method
        for name in (info.name,) + info.aliases:
            setattr(Tensor, name, method)
    for dunder in info.dunders:
        setattr(Tensor, dunder, info.function)
    for name, attribute in info.methods.items():
        setattr(Tensor, name, attribute)
    return info


# ---------------------------------------------------------------------------- recording
def result(out: np.ndarray, node: Optional[Node]) -> Tensor:
    """Wrap a new output array; with a node, make it the tensor's grad_fn.

    (The unary and binary templates -- ops/unary.py, ops/elementwise.py -- and the matrix
    products in ops/linalg.py inline this and :func:`new_node`: one call less is ~70 ns, 5% of a
    small op on the hottest paths.)"""
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


def define_node(name: str, backward, double_backward=None, owns_grads=False) -> type:
    """The node class named ``name``.

    ``backward(node, grads) -> tuple``: the fast path, NumPy arrays in and out (jitted kernels).
    ``double_backward(node, grads) -> tuple``: the same formula with differentiable jitgrad Tensor
    ops, Tensors in and out, used under ``create_graph=True`` (higher-order gradients).  Read the
    tensors it needs with ``saved_tensors(node)``.  Without it, ``create_graph=True`` through this
    node raises a clear error.
    ``owns_grads``: True when every array ``backward`` returns is new and returned once (the engine
    may then make it a leaf's ``.grad`` without a copy); ``VIEW`` when it returns one view of its
    incoming gradient; False (the safe default) otherwise.  See ``autograd/graph.py``.
    """
    return node_class(name, backward, double_backward, owns_grads=owns_grads)


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
