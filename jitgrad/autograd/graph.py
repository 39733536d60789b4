"""The backward graph: ``Node`` (a tensor's ``grad_fn``) and ``AccumulateGrad`` (a leaf's sink).

A node holds ``next_functions`` -- one ``(node or None, output_nr)`` edge per forward input --
and what its backward needs.  Built-in ops keep their saved values as raw NumPy arrays, never
as Tensors, so the graph has no reference cycles and is freed by reference counting the moment
the last output tensor goes away.
"""
import itertools
import weakref

from ..errors import saved_tensor_modified

_FREED = object()  # marks a node whose saved values were released by a backward pass

# Every node gets an increasing sequence number when created (after the edges to its inputs
# exist).  A node's inputs always exist before it, so running nodes in decreasing sequence order
# is a topological order: the engine needs no dependency-counting pass (PyTorch orders its
# ready queue by the same number).  AccumulateGrad nodes take negative numbers, so every leaf
# sink runs after all other nodes, whenever it was created.
next_seq = itertools.count(1).__next__


class RemovableHandle:
    """Returned by ``register_hook``; ``remove()`` unregisters the hook."""

    __slots__ = ("_hooks", "_fn")

    def __init__(self, hooks: list, fn):
        self._hooks = hooks
        self._fn = fn

    def remove(self) -> None:
        try:
            self._hooks.remove(self._fn)
        except ValueError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class Node:
    """Base of every ``grad_fn``.  Subclasses implement ``_backward(grads) -> tuple``.

    ``grads`` is a list with one NumPy array (or None) per forward output; the result has one
    array (or None) per entry of ``next_functions``.
    """

    __slots__ = ("next_functions", "_saved", "_versions", "_ctx", "_seq", "__dict__", "__weakref__")

    # Rarely-set state lives in the instance __dict__ (created only when first set); these
    # class-level defaults keep reads fast and creation cheap.
    _hooked = False  # True once any hook or retain_grad is registered (one check in the engine)
    _double_backward = None  # the differentiable backward used by create_graph=True (see node_class)
    _pre_hooks = ()
    _post_hooks = ()
    _tensor_hooks = None  # {output_nr: [hook, ...]} from Tensor.register_hook on non-leaves
    _retained = None  # {output_nr: weakref(tensor)} from Tensor.retain_grad()
    _num_outputs = 1
    _filled_ok = False  # True: _backward accepts a FilledGrad (autograd/filled.py) as is

    def name(self) -> str:
        """The node's name, e.g. ``'AddBackward0'``."""
        return type(self).__name__

    @property
    def requires_grad(self) -> bool:
        return True

    @property
    def metadata(self) -> dict:
        meta = self.__dict__.get("_metadata")
        if meta is None:
            meta = self.__dict__["_metadata"] = {}
        return meta

    def register_hook(self, fn):
        """Register ``fn(grad_inputs, grad_outputs)``, called after this node's backward ran."""
        self._hooked = True
        if not self._post_hooks:
            self._post_hooks = []
        self._post_hooks.append(fn)
        return RemovableHandle(self._post_hooks, fn)

    def register_prehook(self, fn):
        """Register ``fn(grad_outputs)``, called before this node's backward; may return new grads."""
        self._hooked = True
        if not self._pre_hooks:
            self._pre_hooks = []
        self._pre_hooks.append(fn)
        return RemovableHandle(self._pre_hooks, fn)

    def _add_tensor_hook(self, output_nr: int, fn):
        self._hooked = True
        if self._tensor_hooks is None:
            self._tensor_hooks = {}
        hooks = self._tensor_hooks.setdefault(output_nr, [])
        hooks.append(fn)
        return RemovableHandle(hooks, fn)

    def _check_versions(self):
        for box, version, data, creator in self._versions:
            if box[0] != version:
                raise saved_tensor_modified(_describe_saved(self, data, creator), box[0], version)

    def __call__(self, *grads):
        """Run this node's backward on explicit gradients (NumPy arrays or Tensors)."""
        from ..tensor import Tensor, _wrap
        from .._fp import quiet
        from .filled import plain

        arrays = [g._data if isinstance(g, Tensor) else g for g in grads]
        # plain(): a FilledGrad (one value standing for a full gradient) is written out here too
        out = tuple(None if g is None else _wrap(plain(g)) for g in quiet(self._backward, arrays))
        return out[0] if len(out) == 1 else out  # PyTorch returns a lone gradient unwrapped


def _describe_saved(node, data, creator) -> str:
    """PyTorch's description of a saved tensor: ``[torch.FloatTensor [3]], which is output 0 of Exp``."""
    from .._dtype import from_numpy_dtype

    dt = from_numpy_dtype(data.dtype)
    # PyTorch has no legacy tensor type for bool and prints the backend type name instead
    what = f"[{'CPUBoolType' if data.dtype.kind == 'b' else 'torch.' + dt._legacy} {list(data.shape)}]"
    # creator: the saved input tensor itself (described by its grad_fn now, as PyTorch does),
    # or the index of an output of ``node``
    creator = (node, creator) if isinstance(creator, int) else (creator.grad_fn, creator._output_nr)
    if creator[0] is None:
        return what
    name = creator[0].name()
    for suffix in ("Backward0", "Backward1", "Backward2", "Backward"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return f"{what}, which is output {creator[1]} of {name},"


class AccumulateGrad(Node):
    """The sink of a leaf tensor: adds the incoming gradient into ``variable.grad``."""

    __slots__ = ("variable",)
    next_functions = ()

    def __init__(self, variable):
        self.variable = variable
        self._seq = -next_seq()
        self._saved = None
        self._versions = ()
        self._ctx = None

    def _backward(self, grads):
        self.variable._accumulate_grad(grads[0])
        return ()


# PyTorch's AccumulateGrad is a C type whose repr is <class 'AccumulateGrad'>.
AccumulateGrad.__module__ = "builtins"


def accumulator_for(tensor) -> AccumulateGrad:
    """The leaf's AccumulateGrad node, created once and shared while anything holds it."""
    ref = tensor._grad_acc
    acc = ref() if ref is not None else None
    if acc is None:
        acc = AccumulateGrad(tensor)
        tensor._grad_acc = weakref.ref(acc)
    return acc


def node_class(name: str, backward, double_backward=None, base=Node):
    """A Node subclass called ``name`` (PyTorch's node name) whose backward is ``backward(node, grads)``.

    ``double_backward(node, grads)`` is the same vector-Jacobian product written with jitgrad's
    differentiable Tensor ops (``grads`` are Tensors); the engine uses it when
    ``create_graph=True``, so the gradient itself gets a graph.
    Several ops may share a name (``UnsqueezeBackward0`` from ``unsqueeze`` and from ``x[None]``);
    each gets its own class, since their backward functions differ."""
    return type(name, (base,), {"__slots__": (), "_backward": backward, "_double_backward": double_backward,
                                "__module__": "builtins"})
