"""``jitgrad.compile``: trace a function once per guard key, replay it with fused kernels.

v1 (issue 10, first version).  The first call of a guard key (each tensor argument's shape,
dtype and requires_grad; grad mode; Python scalars' values; the arguments' structure) runs the
function eagerly while recording its op-table calls (``trace``); the recording becomes a plan
(``fuse``): chains of elementwise ops declared from scalar math, with a full ``sum()`` /
``mean()`` ending them, run as one generated forward kernel and one ``CompiledFunctionBackward``
node each (``codegen``, cached on disk); every other call runs as its eager op.  What cannot be
replayed (data-dependent Python, ``backward`` or an optimizer step inside the function, tensors
from unknown places) breaks the graph: that key runs eagerly, with one warning naming the line
(``fullgraph=True``: an :class:`Unsupported` error instead).

Not guarded in v1: Python values the function reads from globals or closures other than
tensors (a changed global float is not seen), and side effects other than op calls (they ran
once, at the trace).  The heavy parts are imported at the first compiled call.
"""
import functools
import os
import types
import weakref

RECOMPILE_LIMIT = 8  # torch._dynamo.config.recompile_limit


class Unsupported(RuntimeError):
    """Raised under ``fullgraph=True`` where the function cannot be captured as one graph
    (PyTorch raises ``torch._dynamo.exc.Unsupported``)."""

_compiled = weakref.WeakSet()  # every live CompiledFunction, for reset()


def reset() -> None:
    """Drop every compiled graph (``torch._dynamo.reset()``): the next call of each compiled
    function traces again."""
    for fn in _compiled:
        fn._plans.clear()
        fn._warned_limit = False


def compile(model=None, *, fullgraph: bool = False, dynamic=None, backend="inductor", mode=None, options=None,
            disable: bool = False):
    """Compile a function or ``nn.Module`` (``torch.compile``): usable as ``@jitgrad.compile``,
    ``@jitgrad.compile(fullgraph=True)`` or ``jitgrad.compile(fn)``.  ``dynamic``, ``backend``,
    ``mode`` and ``options`` are accepted for PyTorch's signature; v1 recompiles per shape."""
    if model is None:
        return functools.partial(compile, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode,
                                 options=options, disable=disable)
    disabled = disable or os.environ.get("JITGRAD_COMPILE", "1") == "0"
    from ..nn import Module

    if isinstance(model, Module):
        return OptimizedModule(model, CompiledFunction(model, fullgraph, disabled))
    return functools.update_wrapper(CompiledFunction(model, fullgraph, disabled), model)


def _first_call(compiled, args, kwargs):
    """Import the compiled call path at the first compiled call (keeps ``import jitgrad`` light)."""
    global _call
    from .runtime import call

    _call = call
    return call(compiled, args, kwargs)


_call = _first_call


class CompiledFunction:
    """A compiled function: the guard-key cache of ``fn``'s plans (``_plans``)."""

    def __init__(self, fn, fullgraph: bool, disabled: bool):
        self.fn = fn
        self.fullgraph = fullgraph
        self.disabled = disabled
        self._plans = {}  # guard key -> runtime.Plan, or None for "runs eagerly"
        self._warned_limit = False
        _compiled.add(self)

    def __call__(self, *args, **kwargs):
        if self.disabled:
            return self.fn(*args, **kwargs)
        return _call(self, args, kwargs)

    def __get__(self, obj, objtype=None):  # a compiled method binds like a function
        return self if obj is None else types.MethodType(self, obj)


from ..nn import Module as _Module  # noqa: E402  (jitgrad.nn is imported before jitgrad.compiler)


class OptimizedModule(_Module):
    """A compiled module (PyTorch's ``OptimizedModule``): calling it runs the compiled forward;
    its parameters are the original module's (``_orig_mod``), so optimizers and ``state_dict``
    see them."""

    def __init__(self, mod, compiled):
        super().__init__()
        self._orig_mod = mod
        self.__dict__["_compiled_call"] = compiled

    def __call__(self, *args, **kwargs):
        return self.__dict__["_compiled_call"](*args, **kwargs)

    def forward(self, *args, **kwargs):
        return self._orig_mod(*args, **kwargs)

