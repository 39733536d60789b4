"""The compiled call path: guard key -> plan -> replay (kept lean: a W1-sized call is a few µs)."""
import types
import warnings

from ..autograd import grad_mode
from ..nn import Module
from ..nn.modules import module as _module_mod
from ..tensor import Tensor
from . import RECOMPILE_LIMIT, fuse, trace
from .trace import Ref

_state = grad_mode._state
_SCALARS = (int, bool, str, type(None))
_CELL = object()  # an external tensor's key when its container is a closure cell
_HOOKED = "module hooks"  # (a key of _candidates' result: a module with forward hooks was found)


def _flatten(obj, key: list, tensors: list) -> None:
    """Append ``obj``'s guard facts to ``key`` and its tensors to ``tensors``, in one order."""
    cls = obj.__class__
    if cls is Tensor or isinstance(obj, Tensor):
        tensors.append(obj)
        d = obj._data
        key.append((d.shape, d.dtype, obj._requires_grad))
    elif cls is float:
        key.append(obj.hex())  # (-0.0 and nan are values of their own)
    elif cls in _SCALARS:
        key.append((cls, obj))
    elif cls is tuple or cls is list:
        key.append((cls, len(obj)))
        for o in obj:
            _flatten(o, key, tensors)
    elif cls is dict:
        key.append((cls, tuple(obj)))
        for o in obj.values():
            _flatten(o, key, tensors)
    else:  # any other object: by identity
        key.append((cls, id(obj)))


def guard_key(args, kwargs):
    key = [_state.enabled]
    tensors = []
    for a in args:
        _flatten(a, key, tensors)
    if kwargs:
        _flatten(kwargs, key, tensors)
    return tuple(key), tensors


def call(compiled, args, kwargs):
    if trace.tracing_here():  # called inside another compiled function's trace: recorded there
        return compiled.fn(*args, **kwargs)
    key, tensors = guard_key(args, kwargs)
    plans = compiled._plans
    plan = plans.get(key, _MISSING)
    if plan.__class__ is Plan:
        out = plan.run(tensors)
        if out is not _STALE:
            return out
        del plans[key]  # an outside tensor changed (replaced, resized, requires_grad): trace again
    elif plan is None:
        return compiled.fn(*args, **kwargs)
    if len(plans) >= RECOMPILE_LIMIT:
        if not compiled._warned_limit:
            compiled._warned_limit = True
            code = getattr(compiled.fn, "__code__", None) or getattr(getattr(compiled.fn, "forward", None),
                                                                     "__code__", None)
            where = f"'{code.co_name}' ({code.co_filename}:{code.co_firstlineno})" if code else repr(compiled.fn)
            warnings.warn(f"jitgrad.compile hit recompile_limit ({RECOMPILE_LIMIT})\n   function: {where}\n"
                          "   new calls with other guard keys (shapes, dtypes, requires_grad, grad mode, "
                          "Python scalars) run eagerly", UserWarning, stacklevel=3)
        return compiled.fn(*args, **kwargs)
    return _trace_and_plan(compiled, key, tensors, args, kwargs)


_MISSING = object()
_STALE = object()


def _trace_and_plan(compiled, key, tensors, args, kwargs):
    fn = compiled.fn
    candidates = _candidates(fn, args, kwargs)
    if _HOOKED in candidates:  # a forward hook's side effects would happen at the trace only
        if compiled.fullgraph:
            raise trace.Unsupported("jitgrad.compile(fullgraph=True) cannot capture a module with forward hooks")
        result = fn(*args, **kwargs)
        rec = trace.Recording()
        rec.broken = ("a module with forward hooks", trace.user_location())
    else:
        result, rec = trace.trace(fn, args, kwargs, tensors, candidates, compiled.fullgraph)
    if rec.broken is not None:
        reason, where = rec.broken
        warnings.warn(f"Graph break in jitgrad.compile: {reason} at {where}. This call signature runs eagerly "
                      "(fullgraph=True raises instead).", UserWarning, stacklevel=3)
        compiled._plans[key] = None
    else:
        compiled._plans[key] = Plan(rec)
    return result


def _candidates(fn, args, kwargs) -> dict:
    """id(tensor) -> (tensor, container, key) for the tensors a traced function may read from
    outside its arguments: module parameters and buffers (of the compiled module, of modules
    among the arguments or the function's globals and closure), and tensors in its globals and
    closure cells.  A tensor from anywhere else breaks the graph."""
    found = {}

    def add_module(module):
        if _module_mod._global_forward_hooks or _module_mod._global_forward_pre_hooks:
            found[_HOOKED] = True
        for sub in module.modules():
            if sub._forward_hooks or sub._forward_pre_hooks:
                found[_HOOKED] = True
            for store in ("_parameters", "_buffers"):
                d = sub.__dict__.get(store) or {}
                for name, t in d.items():
                    if isinstance(t, Tensor):
                        found[id(t)] = (t, d, name)

    def add(value, container, name):
        if isinstance(value, Tensor) and container is not None:
            found[id(value)] = (value, container, name)
        elif isinstance(value, Module):
            add_module(value)

    if isinstance(fn, Module):
        add_module(fn)
        fn = fn.forward
    if isinstance(fn, types.MethodType):
        add(fn.__self__, None, None)
        fn = fn.__func__
    code = getattr(fn, "__code__", None)
    if code is not None:
        globs = fn.__globals__
        for name in code.co_names:
            if name in globs:
                add(globs[name], globs, name)
        for cell in fn.__closure__ or ():
            try:
                add(cell.cell_contents, cell, _CELL)
            except ValueError:  # an empty cell
                pass
    for a in (*args, *(kwargs or {}).values()):
        if isinstance(a, Module):
            add_module(a)
    return found


class Plan:
    """The replay of one guard key."""

    __slots__ = ("steps", "n_values", "n_inputs", "externals", "output", "flat_output")

    def __init__(self, rec):
        self.steps = fuse.plan(rec)
        self.n_values = len(rec.requires_grad)
        self.n_inputs = rec.n_inputs
        # (value number, container, key, tensor, its facts at the trace)
        self.externals = [(v, c, k, t, (t._data.shape, t._data.dtype, t._requires_grad))
                          for v, c, k, t in rec.externals]
        self.output = rec.output

    def run(self, tensors):
        vals = tensors + [None] * (self.n_values - self.n_inputs)
        for value, container, key, traced, facts in self.externals:
            t = container.cell_contents if key is _CELL else container[key]
            if t is not traced or (t._data.shape, t._data.dtype, t._requires_grad) != facts:
                return _STALE
            vals[value] = t
        for step in self.steps:
            step(vals)
        out = self.output
        if out.__class__ is Ref:
            return vals[out.i]
        return fuse._resolve(out, vals)
