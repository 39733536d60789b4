"""Tracing by recording: run the user's function once, eagerly, noting every op-table call.

While a trace runs, the Tensor attributes and the ``jitgrad.<name>`` /
``jitgrad.nn.functional.<name>`` entries that the op table binds are replaced (under a lock,
restored afterwards, also on error) by recorders: each outermost call made by the user's code
is kept as a :class:`Call` (the implementation, its arguments with tensors replaced by
:class:`Ref` numbers, its outputs numbered), and -- where it is an elementwise op the compiler
can fuse -- with its fusion facts (``Call.fuse``).  Calls made inside an op are not recorded:
the op is replayed whole.

What a recording cannot replay breaks the graph: data-dependent Python (``item``, ``bool(t)``,
printing, iteration ...), ``backward`` / ``autograd.grad``, optimizer steps, hooks, and tensors
that come from neither the arguments, nor recorded ops, nor a known outside place (module
parameters and buffers, the function's globals and closure cells).  The traced call itself ran
eagerly, so its result is right either way; the key then runs eagerly (one warning naming the
user's line), or, with ``fullgraph=True``, the break raises :class:`Unsupported` there.
"""
import os
import sys
import threading

import numpy as np

from .. import autograd as _autograd_module
from ..autograd import grad_mode
from ..ops.elementwise import _cast_scalar
from ..ops.registry import OPS, SCALAR_DEFS, public_function
from ..tensor import Tensor
from . import Unsupported

_state = grad_mode._state
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
# the binary ops whose eager tensor-scalar path computes forward(a, s) (elementwise.binary_op's
# scalar loops); the others take a tensor operand only in v1 (pow's scalar exponent has its own path)
_SCALAR_OPERAND_OPS = frozenset(("add", "sub", "mul", "div", "rsub"))
_REDUCTIONS = ("sum", "mean")


class Ref:
    """A tensor in a recording: value number ``i``."""

    __slots__ = ("i",)

    def __init__(self, i: int):
        self.i = i


class Call:
    """One recorded op-table call."""

    __slots__ = ("impl", "args", "kwargs", "out", "grad_enabled", "fuse")

    def __init__(self, impl, args, kwargs, out, grad_enabled, fuse):
        self.impl = impl
        self.args = args
        self.kwargs = kwargs
        self.out = out  # a Ref, a tuple of Refs (same type as the op returned), or None
        self.grad_enabled = grad_enabled
        # None, or ("ew", op, operands, out value, shape, dtype): operands ("t", value) / ("s", scalar);
        # or ("reduce", "sum"/"mean", value, out value, shape, dtype)
        self.fuse = fuse


class Recording:
    """What one traced call did: its calls, where each value came from, what it returned."""

    def __init__(self):
        self.calls = []
        self.n_inputs = 0
        self.externals = []  # (value, container, key, tensor): container[key] (a cell: key None)
        self.requires_grad = []  # per value, when it was made
        self.shapes = []
        self.output = None  # the function's result, tensors as Refs
        self.broken = None  # (reason, "file:line") of the first graph break


# ============================================================================ the active trace
_lock = threading.RLock()
_active = None  # the Tracer running now (at most one: the lock)


def user_location() -> str:
    """``file:line`` of the innermost frame outside the jitgrad package (the user's code)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


class Tracer:
    def __init__(self, candidates: dict, fullgraph: bool):
        self.rec = Recording()
        self.ids = {}  # id(tensor) -> value number
        self.keep = []  # every tensor seen, alive until the trace ends (ids stay unique)
        self.candidates = candidates  # id(tensor) -> (tensor, container, key)
        self.fullgraph = fullgraph
        self.depth = 0
        self.thread = threading.get_ident()

    def active_here(self) -> bool:
        return self.depth == 0 and self.rec.broken is None and threading.get_ident() == self.thread

    def new_value(self, t: Tensor) -> Ref:
        i = len(self.rec.requires_grad)
        self.ids[id(t)] = i
        self.keep.append(t)
        self.rec.requires_grad.append(t._requires_grad)
        self.rec.shapes.append(t._data.shape)
        return Ref(i)

    def graph_break(self, reason: str) -> None:
        where = user_location()
        if self.fullgraph:
            raise Unsupported(f"jitgrad.compile(fullgraph=True) cannot capture this function: {reason} "
                              f"(at {where}). Remove it from the compiled function, or compile with "
                              "fullgraph=False to run such calls eagerly.")
        self.rec.broken = (reason, where)

    def ref(self, t: Tensor):
        i = self.ids.get(id(t))
        if i is not None:
            return Ref(i)
        known = self.candidates.get(id(t))
        if known is None:
            self.graph_break("a tensor made outside the traced ops (a factory, or an op called through a "
                             "name bound before tracing)")
            return None
        ref = self.new_value(t)
        self.rec.externals.append((ref.i, known[1], known[2], t))
        return ref

    def template(self, obj):
        """``obj`` with each tensor replaced by its Ref (None: the trace broke)."""
        if isinstance(obj, Tensor):
            return self.ref(obj)
        cls = obj.__class__
        if cls is tuple or cls is list:
            return cls(self.template(o) for o in obj)
        if cls is dict:
            return {k: self.template(v) for k, v in obj.items()}
        return obj

    def record(self, impl, fusable, args, kwargs, out) -> None:
        targs = self.template(args)
        tkwargs = self.template(kwargs)
        if self.rec.broken is not None:
            return
        fuse = None
        if fusable is not None and not kwargs:
            fuse = self._fusion_facts(fusable, args, targs, out)
        if isinstance(out, Tensor):
            tout = self.new_value(out)
        elif isinstance(out, tuple) and all(isinstance(o, Tensor) for o in out):
            refs = [self.new_value(o) for o in out]
            tout = out.__class__(*refs) if hasattr(out, "_fields") else tuple(refs)
        elif out is None:
            tout = None
        else:
            self.graph_break(f"{getattr(impl, '__name__', 'an op')}() returned a Python value")
            return
        if fuse is not None:
            fuse = fuse + (tout.i, out._data.shape, out._data.dtype)
        self.rec.calls.append(Call(impl, targs, tkwargs, tout, _state.enabled, fuse))

    def _fusion_facts(self, op, args, targs, out):
        """The fusion facts of a call of ``op`` (an op of SCALAR_DEFS, or a full reduction),
        or None where it must run as its eager op: float32/float64 tensors of one dtype, operands
        of the result's shape or 0-d, Python scalars cast as the eager op casts them."""
        if not isinstance(out, Tensor) or not isinstance(args[0], Tensor):
            return None
        dt = out._data.dtype
        shape = out._data.shape
        if dt not in _FLOATS:
            return None
        if op in _REDUCTIONS:
            if len(args) != 1 or args[0]._data.dtype != dt:
                return None
            return ("reduce", op, targs[0].i)
        defn = SCALAR_DEFS[op]
        if len(args) != len(defn.vjps) or _arity(defn.forward) != len(args):  # (an op with parameters)
            return None
        operands = []
        for a, ta in zip(args, targs):
            if isinstance(a, Tensor):
                d = a._data
                if d.dtype != dt or (d.shape != shape and d.shape != ()):
                    return None
                operands.append(("t", ta.i))
            elif a.__class__ in (int, float) and op in _SCALAR_OPERAND_OPS:
                operands.append(("s", _cast_scalar(dt, a)))
            else:
                return None
        return ("ew", op, tuple(operands))


def _arity(scalar_function) -> int:
    return getattr(scalar_function, "py_func", scalar_function).__code__.co_argcount


# ============================================================================ the recorders
def _recorder(impl, fusable=None):
    def record_call(*args, **kwargs):
        tracer = _active
        if tracer is None or not tracer.active_here():
            return impl(*args, **kwargs)
        tracer.depth += 1
        try:
            out = impl(*args, **kwargs)
        finally:
            tracer.depth -= 1
        tracer.record(impl, fusable, args, kwargs, out)
        return out

    record_call.__name__ = getattr(impl, "__name__", "op")
    record_call.__wrapped__ = impl
    return record_call


def _breaker(impl, reason):
    def break_graph(*args, **kwargs):
        tracer = _active
        if tracer is not None and tracer.active_here():
            tracer.graph_break(reason)
        return impl(*args, **kwargs)

    break_graph.__name__ = getattr(impl, "__name__", "call")
    return break_graph


# Tensor attributes that read values into Python, or act outside the graph
_DATA_DEPENDENT = ("item", "tolist", "numpy", "__array__", "__bool__", "__float__", "__int__", "__index__",
                   "__repr__", "__format__", "__iter__", "__contains__")
_OUTSIDE_THE_GRAPH = ("backward", "register_hook", "retain_grad")
_BREAKING_PROPERTIES = ("data", "grad")  # the values behind autograd's back
# Tensor methods outside the op table that return tensors: recorded and replayed like ops
_TENSOR_PRODUCERS = ("contiguous", "cpu", "type", "__pos__", "detach", "detach_", "requires_grad_")
# F.<name> that are these SCALAR_DEFS ops when called with the input alone
_FUNCTIONAL_FUSABLE = ("relu", "sigmoid", "tanh")


def _fusable_impls() -> dict:
    """implementation -> op name, for the implementations that compute exactly the op's scalar
    math on (tensor, tensor-or-scalar): its function and the template closures named after it."""
    found = {}
    for name in (*SCALAR_DEFS, *_REDUCTIONS):
        info = OPS.get(name)
        if info is None:
            continue
        found[info.function] = name
        for impl in info.methods.values():
            if callable(impl) and getattr(impl, "__name__", None) == name:
                found[impl] = name
    return found


def _patches() -> list:
    """``(owner, attribute, replacement)`` for every entry a trace replaces."""
    from .. import nn
    import jitgrad

    functional = nn.functional
    fusable = _fusable_impls()
    patches = []
    seen = set()

    def tensor_attr(owner, attr, make):
        original = owner.__dict__.get(attr)
        if original is None or (owner, attr) in seen:
            return
        seen.add((owner, attr))
        if isinstance(original, property):
            setter = original.fset if attr not in _BREAKING_PROPERTIES or original.fset is None else make(original.fset)
            replacement = property(make(original.fget), setter, original.fdel, original.__doc__)
        elif callable(original):
            replacement = make(original)
        else:
            return
        patches.append((owner, attr, replacement))

    op_attrs = set()
    for info in OPS.values():
        op_attrs.update((info.name, *info.aliases) if info.method else ())
        op_attrs.update(info.dunders)
        op_attrs.update(info.methods)
    for attr in sorted(op_attrs) + list(_TENSOR_PRODUCERS):
        tensor_attr(Tensor, attr, lambda impl: _recorder(impl, fusable.get(impl)))
    for owner in (Tensor, nn.Parameter):
        for attr in _DATA_DEPENDENT:
            tensor_attr(owner, attr, lambda impl, attr=attr: _breaker(impl, f"Tensor.{attr} reads a value into Python"))
        for attr in _OUTSIDE_THE_GRAPH + _BREAKING_PROPERTIES:
            tensor_attr(owner, attr, lambda impl, attr=attr: _breaker(impl, f"Tensor.{attr} inside the function"))

    # module-level functions: jitgrad.<name>, jitgrad.nn.functional.<name>
    public_names = {n for info in OPS.values() if info.public for n in (info.name, *info.aliases)}
    for name, value in list(vars(jitgrad).items()):
        if name in public_names and callable(value) and not isinstance(value, type):
            impl = getattr(value, "__wrapped__", value)
            patches.append((jitgrad, name, _recorder(value, fusable.get(impl))))
    for name, info in OPS.items():
        if not name.startswith("_") and (info.public or info.extra.get("functional")):
            getattr(functional, name, None)  # (resolve F's lazily bound names, so they can be wrapped)
    for name, value in list(vars(functional).items()):
        if name.startswith("_") or isinstance(value, type) or not callable(value) or not hasattr(value, "__code__"):
            continue
        if getattr(value, "__module__", None) not in (functional.__name__, public_function.__module__):
            continue
        op = name if name in _FUNCTIONAL_FUSABLE else fusable.get(getattr(value, "__wrapped__", value))
        patches.append((functional, name, _recorder_functional(value, op)))
    for name in ("backward", "grad"):
        patches.append((_autograd_module, name, _breaker(getattr(_autograd_module, name),
                                                          f"autograd.{name} inside the function")))
    patches.append((nn.Module, "zero_grad", _breaker(nn.Module.zero_grad, "Module.zero_grad inside the function")))
    return patches


def _optimizer_patches() -> list:
    """Optimizer steps write parameters through their own kernels, which a recording cannot see:
    every optimizer class's ``step`` / ``zero_grad`` breaks the graph (classes found per trace:
    users define their own)."""
    from .. import optim

    return [(cls, attr, _breaker(cls.__dict__[attr], f"an optimizer's {attr}() inside the function"))
            for cls in _subclasses(optim.Optimizer) for attr in ("step", "zero_grad") if attr in cls.__dict__]


def _recorder_functional(impl, op):
    """F.relu(x) fuses as relu when called with the input alone (or ``inplace=False``, as
    ``nn.ReLU`` calls it)."""
    if op in _FUNCTIONAL_FUSABLE:
        plain, fused = _recorder(impl), _recorder(impl, op)

        def functional_call(*args, **kwargs):
            if kwargs:
                if len(kwargs) == 1 and kwargs.get("inplace", True) is False:
                    return functional_call(*args)
            elif len(args) == 1:
                return fused(*args)
            elif len(args) == 2 and args[1] is False:
                return fused(args[0])
            return plain(*args, **kwargs)

        functional_call.__name__ = impl.__name__
        return functional_call
    return _recorder(impl, op)


def _subclasses(cls):
    out = [cls]
    for sub in cls.__subclasses__():
        out += _subclasses(sub)
    return out


_PATCHES = None  # built at the first trace (the op table is complete by then)


def trace(fn, args, kwargs, inputs, candidates, fullgraph):
    """Run ``fn(*args, **kwargs)`` eagerly while recording it; returns ``(result, Recording)``.
    ``inputs``: the tensor arguments in guard order (values 0..)."""
    global _active, _PATCHES
    tracer = Tracer(candidates, fullgraph)
    for t in inputs:
        tracer.new_value(t)
    tracer.rec.n_inputs = len(inputs)
    with _lock:
        if _PATCHES is None:
            _PATCHES = _patches()
        patches = _PATCHES + _optimizer_patches()
        originals = [(owner, attr, owner.__dict__[attr]) for owner, attr, _ in patches]
        try:
            for owner, attr, replacement in patches:
                setattr(owner, attr, replacement)
            _active = tracer
            result = fn(*args, **kwargs)
            if tracer.rec.broken is None:
                tracer.rec.output = tracer.template(result)
        finally:
            _active = None
            for owner, attr, original in originals:
                setattr(owner, attr, original)
    return result, tracer.rec


def tracing_here() -> bool:
    """True inside a trace on this thread (a compiled function called there runs its body eagerly,
    recorded into the outer trace)."""
    return _active is not None and _active.thread == threading.get_ident()
