"""Custom differentiable operations: ``Function`` with PyTorch's API, plus jitted kernels.

Two ways to write one:

* PyTorch's way -- ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)`` staticmethods
  on Tensors, ``ctx.save_for_backward`` / ``ctx.saved_tensors``, called through ``.apply``.
* jitgrad's way -- ``forward_kernel`` and ``backward_kernel`` (Numba ``njit`` functions) on
  raw NumPy arrays.  ``apply`` hands the kernels the tensors' own storage (no copy when it is
  C-contiguous), allocates the output like the first tensor input, and the engine calls
  ``backward_kernel(grad_output, *args, output, *grad_inputs)`` with preallocated
  ``grad_inputs`` (one per tensor argument, shaped like it) for the kernel to fill.

Both kinds get a node named ``<ClassName>Backward``; the node is also the ``ctx``.
"""
import functools
import inspect

import numpy as np

from .. import errors
from ..tensor import Tensor, _wrap, edge
from . import grad_mode
from .graph import _FREED, Node, accumulator_for, new_node, next_seq, saved_version


class FunctionCtx:
    """What ``forward`` can use to stash state for ``backward``."""

    def save_for_backward(self, *tensors) -> None:
        """Save tensors (or None) for backward; they come back through ``saved_tensors``."""
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError("save_for_backward can only save variables, but argument "
                                f"{tensors.index(t)} is of type {type(t).__name__}")
        self._to_save = tensors

    def save_for_forward(self, *tensors) -> None:
        self._saved_for_forward = tensors

    def mark_dirty(self, *tensors) -> None:
        """Declare inputs that ``forward`` modified in place."""
        self._dirty = tensors

    def mark_non_differentiable(self, *tensors) -> None:
        """Declare outputs that have no gradient (e.g. indices)."""
        self._non_differentiable = tensors

    def set_materialize_grads(self, value: bool) -> None:
        """If False, ``backward`` receives None instead of zeros for unused outputs."""
        self._materialize_grads = value

    @property
    def saved_tensors(self) -> tuple:
        saved = self._saved
        if saved is _FREED:
            raise RuntimeError(errors.BACKWARD_TWICE)
        if saved is None:
            return ()
        if self._versions:
            self._check_versions()
        out = []
        for item in saved:
            if item is None or isinstance(item, Tensor):
                out.append(item)
            else:  # an output of this very node, kept as its array to avoid a reference cycle
                data, nr, requires_grad = item
                t = _wrap(data)
                if requires_grad:
                    t.grad_fn, t._output_nr, t._requires_grad = self, nr, True
                out.append(t)
        return tuple(out)

    saved_variables = saved_tensors


class BackwardCFunction(Node, FunctionCtx):
    """The node (and ctx) of a custom Function application."""

    def _double_backward(self, grads):
        return _function_double_backward(self, grads)

    _function = None  # the Function subclass, set on each generated node class
    _materialize_grads = True
    _to_save = None
    _dirty = ()
    _non_differentiable = ()

    def _output_shapes(self):
        metas = self._ctx  # (shape, dtype) of each Tensor output, None for the others
        return [None if m is None else m[0] for m in metas] if metas else super()._output_shapes()

    def __init__(self):
        self._seq = 0  # numbered in apply(), once the edges to the inputs exist
        self.next_functions = ()
        self._saved = None
        self._versions = ()
        self._ctx = None

    def _backward(self, grads):
        fn = self._function
        metas = self._ctx
        if self._materialize_grads:
            grads = [np.zeros(m[0], m[1]) if g is None else g for g, m in zip(grads, metas)]
        if fn._uses_kernels:
            return _kernel_backward(self, grads)
        grad_tensors = [None if g is None else _wrap(g) for g in grads]
        with grad_mode.no_grad():
            result = fn.backward(self, *grad_tensors)
        if not isinstance(result, tuple):
            result = (result,)
        n_inputs = len(self._input_is_tensor)
        if len(result) != n_inputs:
            if len(result) > n_inputs and all(r is None for r in result[n_inputs:]):
                result = result[:n_inputs]
            else:
                raise RuntimeError(
                    f"function {type(self).__name__} returned an incorrect number of gradients "
                    f"(expected {n_inputs}, got {len(result)})"
                )
        out = []
        for i, g in enumerate(result):
            if not self._input_is_tensor[i]:
                if g is not None:
                    raise RuntimeError(
                        f"function {type(self).__name__} returned a gradient different than None at "
                        f"position {i + 1}, but the corresponding forward input was not a Variable"
                    )
                continue
            if g is None:
                out.append(None)
                continue
            arr = g._data if isinstance(g, Tensor) else np.asarray(g)
            shape, dtype = self._input_meta[i]
            if arr.shape != shape:
                arr = _sum_to_or_raise(arr, shape, i, type(self).__name__)
            if arr.dtype != dtype:
                arr = arr.astype(dtype)
            out.append(arr)
        return tuple(out)


def _function_double_backward(self, grads):
    """create_graph=True through a custom Function: its Python backward runs with grad mode on, so
    the Tensor ops it uses are recorded (jitted-kernel Functions have no such path)."""
    fn = self._function
    if fn._uses_kernels:
        raise RuntimeError(f"jitgrad: create_graph=True is not supported through the jitted-kernel "
                           f"Function {fn.__name__} (its backward_kernel is not differentiable)")
    if self._materialize_grads:
        from ..factories import zeros

        grads = [zeros(m[0], dtype=_dtype_of(m[1])) if g is None else g for g, m in zip(grads, self._ctx)]
    result = fn.backward(self, *grads)
    if not isinstance(result, tuple):
        result = (result,)
    n_inputs = len(self._input_is_tensor)
    if len(result) > n_inputs and all(r is None for r in result[n_inputs:]):
        result = result[:n_inputs]
    if len(result) != n_inputs:
        raise RuntimeError(f"function {type(self).__name__} returned an incorrect number of gradients "
                           f"(expected {n_inputs}, got {len(result)})")
    return tuple(g for g, is_t in zip(result, self._input_is_tensor) if is_t)


def _dtype_of(np_dtype):
    from .._dtype import from_numpy_dtype

    return from_numpy_dtype(np_dtype)


def _sum_to_or_raise(arr, shape, index, name):
    from ..ops.broadcast import reduce_to_shape

    try:
        np.broadcast_shapes(arr.shape, shape)
        if np.broadcast_shapes(arr.shape, shape) != arr.shape:
            raise ValueError
    except ValueError:
        raise RuntimeError(
            f"Function {name} returned an invalid gradient at index {index} - got "
            f"{list(arr.shape)} but expected shape compatible with {list(shape)}"
        ) from None
    return reduce_to_shape(arr, shape)


def _kernel_backward(node, grads):
    """Call the user's ``backward_kernel`` on raw arrays with preallocated gradient buffers."""
    saved = node._saved
    if saved is _FREED:
        raise RuntimeError(errors.BACKWARD_TWICE)
    args, output = saved
    grad_inputs = [np.zeros(a.shape, a.dtype) if is_t else None
                   for a, is_t in zip(args, node._input_is_tensor)]
    g = grads[0]
    if not g.flags.c_contiguous or g.dtype != output.dtype:
        g = np.ascontiguousarray(g, dtype=output.dtype)
    node._function.backward_kernel(g, *args, output, *[gi for gi in grad_inputs if gi is not None])
    return tuple(gi for gi in grad_inputs if gi is not None)


class FunctionMeta(type):
    """Gives every Function subclass its own node class, named ``<ClassName>Backward``."""

    def __init__(cls, name, bases, attrs):
        super().__init__(name, bases, attrs)
        kernel = getattr(cls, "forward_kernel", None)
        cls._uses_kernels = kernel is not None
        # a kernel Function's backward returns the gradient buffers _kernel_backward allocated; a
        # Python backward may return anything (an input, its incoming gradient, a saved tensor)
        backward_cls = type(name + "Backward", (BackwardCFunction,),
                            {"_function": cls, "_owns_grads": cls._uses_kernels,
                             "__module__": "jitgrad.autograd.function"})
        cls._backward_cls = backward_cls
        cls._kernel_signature = _kernel_signature(kernel) if kernel is not None else None


def _kernel_signature(kernel):
    """The signature ``apply`` binds keyword arguments to for a kernel Function: the
    ``forward_kernel``'s parameters without its last one (the output buffer ``apply`` passes).
    Worked out once per class; None when the kernel's signature cannot be read."""
    try:
        params = list(inspect.signature(getattr(kernel, "py_func", kernel)).parameters.values())
    except (TypeError, ValueError):
        return None
    return inspect.Signature(params[:-1])


def _bind_kernel_kwargs(cls, args, kwargs):
    """``args`` with ``kwargs`` placed at their parameters' positions (defaults filled in), as
    PyTorch binds a Function's arguments to ``forward``: the kernels take positional arguments
    only, and a Tensor passed by keyword is an input like any other.  Python's TypeError for an
    unknown, repeated or missing argument."""
    signature = cls._kernel_signature
    if signature is None:
        raise TypeError(f"{cls.__name__}.apply() got keyword arguments, but the signature of its "
                        f"forward_kernel cannot be read to place them")
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    return bound.args


class Function(FunctionCtx, metaclass=FunctionMeta):
    """Base class for custom autograd operations (PyTorch's ``torch.autograd.Function``).

    Subclass it and define ``forward``/``backward`` staticmethods, or ``forward_kernel``/
    ``backward_kernel`` jitted kernels; call it with ``MyFunction.apply(*args)``.
    """

    forward_kernel = None
    backward_kernel = None

    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):
        raise RuntimeError(
            "Legacy autograd function with non-static forward method is deprecated. "
            "Please use new-style autograd function with static forward method. "
            "(Example: https://pytorch.org/docs/stable/autograd.html#torch.autograd.Function)"
        )

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your custom autograd.Function to use it with backward mode AD.")

    vjp = backward

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run ``forward`` and, if any tensor input requires grad, record one node for backward."""
        if kwargs and cls._uses_kernels:
            args = _bind_kernel_kwargs(cls, args, kwargs)
        node = cls._backward_cls()
        is_tensor = tuple(isinstance(a, Tensor) for a in args)
        needs = tuple(t and a._requires_grad for a, t in zip(args, is_tensor))
        node.needs_input_grad = needs
        record = grad_mode._state.enabled and any(needs)

        if cls._uses_kernels:
            outputs, raw_args = _kernel_forward(cls, args, is_tensor)
        else:
            with grad_mode.no_grad():
                outputs = cls.forward(node, *args, **kwargs)
        single = not isinstance(outputs, tuple)
        outs = (outputs,) if single else outputs

        if not record:
            return outputs if single else tuple(outs)

        # one edge per Tensor argument, as in PyTorch; backward still returns one grad per argument
        node.next_functions = tuple(edge(a) for a, t in zip(args, is_tensor) if t)
        node._seq = next_seq()
        node._input_is_tensor = is_tensor
        node._input_meta = tuple((a._data.shape, a._data.dtype) if t else None for a, t in zip(args, is_tensor))
        dirty = {id(t) for t in node._dirty}
        non_diff = {id(t) for t in node._non_differentiable}
        input_ids = {id(a) for a, t in zip(args, is_tensor) if t}
        result = []
        metas = []
        for nr, out in enumerate(outs):
            if not isinstance(out, Tensor):
                result.append(out)
                metas.append(None)
                continue
            if id(out) in dirty:
                if out.grad_fn is None and out._requires_grad:
                    raise RuntimeError(errors.LEAF_MARKED_DIRTY)
                out._vc[0] += 1
            elif id(out) in input_ids:  # an input returned as-is: the output is a new alias
                alias = _wrap(out._data)
                alias._vc = out._vc
                out = alias
            metas.append((out._data.shape, out._data.dtype))
            if id(outs[nr]) not in non_diff:
                out.grad_fn = node
                out._output_nr = nr
                out._requires_grad = True
            result.append(out)
        node._ctx = metas
        node._num_outputs = len(outs)

        if cls._uses_kernels:
            node._saved = (raw_args, result[0]._data)
            node._versions = tuple(saved_version(a) for a, t in zip(args, is_tensor) if t) + (
                saved_version(result[0], 0),)
        elif node._to_save is not None:
            _save(node, node._to_save, result)
            node._to_save = None
        return result[0] if single else tuple(result)


def _save(node, tensors, outputs):
    """Store saved tensors; outputs of this node are kept as arrays so no cycle forms."""
    output_ids = {id(o): nr for nr, o in enumerate(outputs) if isinstance(o, Tensor)}
    saved = []
    versions = []
    for t in tensors:
        if t is None:
            saved.append(None)
            continue
        nr = output_ids.get(id(t))
        if nr is not None:
            saved.append((t._data, nr, t._requires_grad))
        else:
            saved.append(t)
        versions.append(saved_version(t, nr))
    node._saved = tuple(saved)
    node._versions = tuple(versions)


def _kernel_forward(cls, args, is_tensor):
    """Run ``forward_kernel`` on the arguments' storage, allocating the output."""
    raw = []
    first = None
    for a, t in zip(args, is_tensor):
        if t:
            arr = a._data
            if not arr.flags.c_contiguous:
                arr = np.ascontiguousarray(arr)
            if first is None:
                first = arr
            raw.append(arr)
        else:
            raw.append(a)
    if first is None:
        raise TypeError(f"{cls.__name__}.apply needs at least one Tensor argument")
    shape_fn = getattr(cls, "output_shape", None)
    shape = shape_fn(*[r.shape if t else r for r, t in zip(raw, is_tensor)]) if shape_fn else first.shape
    out = np.empty(shape, first.dtype)
    cls.forward_kernel(*raw, out)
    return _wrap(out), tuple(raw)


class InplaceFunction(Function):
    pass


class NestedIOFunction(Function):
    pass


def _differentiated_twice(node, grads):
    raise RuntimeError(errors.ONCE_DIFFERENTIABLE)


class _DelayedError(Node):
    """PyTorch's DelayedError node (``grad_fn=<Error>``): the grad_fn of what a once_differentiable
    backward returns under create_graph=True, so differentiating that result raises, in plain
    backward and under create_graph alike, instead of silently giving a wrong (zero) gradient."""

    __slots__ = ()
    _backward = _double_backward = _differentiated_twice

    def name(self) -> str:
        return "torch::autograd::Error"


# PyTorch's C++ node prints as <Error object at ...>
_DelayedError.__name__ = _DelayedError.__qualname__ = "Error"
_DelayedError.__module__ = "builtins"


def _delayed_error(outputs):
    """``outputs`` (Tensors or None) re-made as outputs of a ``_DelayedError`` node.  Each edge
    goes to a fresh leaf, as PyTorch's does: the gradients point at nothing differentiable."""
    edges = []
    for out in outputs:
        if isinstance(out, Tensor):
            leaf = _wrap(out._data)
            leaf._requires_grad = True
            edges.append((accumulator_for(leaf), 0))
        else:
            edges.append((None, 0))
    node = new_node(_DelayedError, tuple(edges))
    node._num_outputs = len(outputs)
    wrapped = []
    for nr, out in enumerate(outputs):
        if isinstance(out, Tensor):
            alias = _wrap(out._data)
            alias._vc = out._vc
            alias.grad_fn, alias._output_nr, alias._requires_grad = node, nr, True
            out = alias
        wrapped.append(out)
    return wrapped


def once_differentiable(fn):
    """Decorate a Function's ``backward`` that cannot itself be differentiated (PyTorch's
    ``torch.autograd.function.once_differentiable``).  It runs with grad mode off, so it records
    no graph; under ``create_graph=True`` its results, when a gradient flowing in requires grad,
    come from an ``Error`` node that raises PyTorch's RuntimeError if a double backward reaches it."""

    @functools.wraps(fn)
    def wrapper(ctx, *grad_outputs):
        with grad_mode.no_grad():
            outputs = fn(ctx, *grad_outputs)
        if not grad_mode._state.enabled or not any(
                isinstance(g, Tensor) and g._requires_grad for g in grad_outputs):
            return outputs
        if not isinstance(outputs, tuple):
            return _delayed_error((outputs,))[0]
        return tuple(_delayed_error(outputs))

    return wrapper
