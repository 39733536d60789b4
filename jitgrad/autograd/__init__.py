"""``jitgrad.autograd``: backward, grad, Function, grad modes -- PyTorch's autograd API."""
import numpy as np

from .. import errors
from . import engine
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .graph import AccumulateGrad, Node, accumulate_into, accumulator_for

# jitgrad.tensor imports this package, so the names that need Tensor are bound on first use
# (see _bind below) rather than at import time.
Tensor = _wrap = edge = None


def _bind():
    global Tensor, _wrap, edge
    from ..tensor import Tensor, _wrap, edge  # noqa: F811

__all__ = ["backward", "grad", "Function", "Variable", "no_grad", "enable_grad", "set_grad_enabled",
           "is_grad_enabled", "inference_mode", "gradcheck", "gradgradcheck"]


def _as_tuple(x):
    if Tensor is None:
        _bind()
    if x is None:
        return ()
    if isinstance(x, Tensor):
        return (x,)
    return tuple(x)


def _root_grads(outputs, grad_outputs, who="backward"):
    """Validate outputs and build their initial gradients (ones for scalars)."""
    grads = list(_as_tuple(grad_outputs)) if grad_outputs is not None else [None] * len(outputs)
    for g in grads:
        if g is not None and not isinstance(g, Tensor):
            raise TypeError(f"gradients can be either Tensors or None, but got {type(g).__name__}")
    if len(grads) != len(outputs):
        raise RuntimeError(f"got {len(grads)} tensors and {len(outputs)} gradients")
    roots, arrays = [], []
    for i, (out, g) in enumerate(zip(outputs, grads)):
        if not out._requires_grad:
            raise errors.no_grad_fn(i)
        od = out._data
        if g is None:
            if od.size != 1:
                raise RuntimeError(errors.NON_SCALAR)
            garr = np.ones(od.shape, od.dtype)
        else:
            if not isinstance(g, Tensor):
                raise TypeError(f"gradients can be either Tensors or None, but got {type(g).__name__}")
            garr = g._data
            if garr.shape != od.shape:
                raise errors.grad_shape_mismatch(i, garr.shape, od.shape)
            if garr.dtype != od.dtype:
                garr = garr.astype(od.dtype)
        roots.append(edge(out))
        arrays.append(garr)
    return roots, arrays


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, grad_variables=None,
             inputs=None) -> None:
    """Accumulate the gradients of ``tensors`` w.r.t. graph leaves into their ``.grad``."""
    outputs = _as_tuple(tensors)
    if grad_tensors is None:
        grad_tensors = grad_variables
    if isinstance(grad_tensors, Tensor) or (grad_tensors is not None and not isinstance(grad_tensors, (list, tuple))):
        grad_tensors = (grad_tensors,)
    roots, arrays = _root_grads(outputs, grad_tensors)
    retain = create_graph if retain_graph is None else retain_graph
    if create_graph:
        _backward_create_graph(roots, arrays, retain, grad_tensors, inputs)
        return
    if inputs is None:
        engine.run_backward(roots, arrays, retain)
        return
    inputs = _as_tuple(inputs)
    if not inputs:
        raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    keys = [_input_key(t) for t in inputs]
    captured = engine.run_backward(roots, arrays, retain, capture=keys)
    for t, key in zip(inputs, keys):
        g = captured.get(key)
        if g is None:
            continue
        if t.grad_fn is None:
            accumulate_into(t, g, owned=False)  # (the engine's captured gradient: not adopted)
        else:
            t._grad = _wrap(np.array(g)) if t._grad is None else _wrap(t._grad._data + g)


def _graph_root_grads(arrays, grad_tensors):
    """Root gradients as Tensors for create_graph: the caller's tensors (keeping their graph)."""
    given = list(_as_tuple(grad_tensors)) if grad_tensors is not None else [None] * len(arrays)
    out = []
    for arr, g in zip(arrays, given):
        if g is not None and g._data.dtype == arr.dtype:
            out.append(g)
        else:
            out.append(_wrap(arr))
    return out


def _backward_create_graph(roots, arrays, retain, grad_tensors, inputs):
    grads = _graph_root_grads(arrays, grad_tensors)
    if inputs is None:
        engine.run_backward(roots, grads, retain, create_graph=True)
        return
    inputs = _as_tuple(inputs)
    keys = [_input_key(t) for t in inputs]
    captured = engine.run_backward(roots, grads, retain, capture=keys, create_graph=True)
    for t, key in zip(inputs, keys):
        g = captured.get(key)
        if g is not None:
            t._accumulate_grad_graph(g) if t.grad_fn is None else setattr(
                t, "_grad", g if t._grad is None else t._grad + g)


def _input_key(t: Tensor):
    if not t._requires_grad:
        raise RuntimeError("One of the differentiated Tensors does not require grad")
    return edge(t)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Return the gradients of ``outputs`` w.r.t. ``inputs`` (without touching ``.grad``)."""
    if allow_unused is None:
        allow_unused = materialize_grads
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads=True, "
                         "but got: allow_unused=False.")
    outputs = _as_tuple(outputs)
    single = isinstance(inputs, Tensor)
    inputs = _as_tuple(inputs)
    roots, arrays = _root_grads(outputs, grad_outputs)
    keys = [_input_key(t) for t in inputs]
    retain = create_graph if retain_graph is None else retain_graph
    grads = _graph_root_grads(arrays, grad_outputs) if create_graph else arrays
    captured = engine.run_backward(roots, grads, retain, capture=keys, create_graph=create_graph)
    result = []
    for i, (t, key) in enumerate(zip(inputs, keys)):
        g = captured.get(key)
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"The differentiated Tensor at index {i} appears to not have been used in the graph. "
                    "Set allow_unused=True if this is the desired behavior."
                )
            result.append(_wrap(np.zeros(t._data.shape, t._data.dtype)) if materialize_grads else None)
        elif create_graph:
            result.append(g)
        else:
            if t._hooks and t.grad_fn is None:
                from ..tensor import _run_tensor_hooks

                g = _run_tensor_hooks(t._hooks, g)
            result.append(_wrap(np.array(g, dtype=t._data.dtype)))
    return tuple(result)


class _VariableMeta(type):
    def __instancecheck__(cls, instance):
        if Tensor is None:
            _bind()
        return isinstance(instance, Tensor)


class Variable(metaclass=_VariableMeta):
    """Deprecated (PyTorch 0.4): ``Variable(t)`` is a new leaf tensor sharing ``t``'s storage, and
    every Tensor is an instance of Variable."""

    def __new__(cls, data, requires_grad: bool = False, volatile: bool = False):
        if Tensor is None:
            _bind()
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        t = data.detach()
        if requires_grad:
            if t._data.dtype.kind != "f":
                raise RuntimeError(errors.FLOAT_ONLY_GRAD)
            t._requires_grad = True
        return t


# Function, gradcheck, ... need Tensor; jitgrad/__init__.py binds them here once it is loaded.


class detect_anomaly:
    """Context manager: during backward, check every node's gradients and raise, naming the node
    (and so the forward op: ``ExpBackward0`` is ``exp``), as soon as one produces NaN."""

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan

    def __enter__(self):
        self._prev = (engine._anomaly.enabled, engine._anomaly.check_nan)
        engine._anomaly.enabled, engine._anomaly.check_nan = True, self.check_nan
        return self

    def __exit__(self, *exc):
        engine._anomaly.enabled, engine._anomaly.check_nan = self._prev
        return False


def set_detect_anomaly(mode: bool, check_nan: bool = True) -> None:
    """Turn anomaly detection on or off globally."""
    engine._anomaly.enabled, engine._anomaly.check_nan = bool(mode), check_nan


def is_anomaly_enabled() -> bool:
    return engine._anomaly.enabled
