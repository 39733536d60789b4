"""The backward graph: ``Node`` (a tensor's ``grad_fn``) and ``AccumulateGrad`` (a leaf's sink).

A node holds ``next_functions`` -- one ``(node or None, output_nr)`` edge per forward input --
and what its backward needs.  Built-in ops keep their saved values as raw NumPy arrays, never
as Tensors, so the graph has no reference cycles and is freed by reference counting the moment
the last output tensor goes away.
"""
import itertools
import weakref

import numpy as np

from ..errors import saved_tensor_modified

_FREED = object()  # marks a node whose saved values were released by a backward pass

# Who owns the arrays a node's backward returns (its class's ``_owns_grads``, declared once with
# ``node_class(..., owns_grads=...)``).  Only an array the engine owns may become a leaf's ``.grad``
# without a copy (later backward passes add into ``.grad`` in place): nothing else -- the caller, a
# hook, another node or leaf -- may hold it.
#   False (the default): it may return arrays held elsewhere (its incoming gradient itself, twice,
#     or a saved array), so they are copied before they become a ``.grad``.
#   True: every array it returns is new, made by it and returned once.
#   VIEW: it returns one view of its one incoming gradient (or a new array): owned when that was.
VIEW = "view"


class BorrowedGrads(list):
    """A node's pending gradient when it may not be the engine's own (see ``VIEW``): from a node
    that does not own what it returns, from the caller, or seen by a hook."""

    __slots__ = ()


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
    _owns_grads = False  # who owns the arrays _backward returns: False, True or VIEW (see above)
    # True: what this node does depends on whether the engine owns its gradient (AccumulateGrad,
    # VIEW nodes), so the engine tells it, with a BorrowedGrads list; single-output nodes only
    _asks_owner = False

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
        return self._add_hook("_post_hooks", fn)

    def register_prehook(self, fn):
        """Register ``fn(grad_outputs)``, called before this node's backward; may return new grads."""
        return self._add_hook("_pre_hooks", fn)

    def _add_hook(self, kind: str, fn):
        self._hooked = True
        hooks = getattr(self, kind)
        if not hooks:
            hooks = []
            setattr(self, kind, hooks)
        hooks.append(fn)
        return RemovableHandle(hooks, fn)

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
        from .engine import call_node

        return call_node(self, grads)

    def _output_shapes(self):
        """The shapes of this node's forward outputs, where it recorded them (None where not):
        what ``__call__`` checks the gradients it is given against."""
        shapes = [None] * self._num_outputs
        for _box, _version, data, creator in self._versions or ():
            if creator.__class__ is int and creator < len(shapes):  # a saved output of this node
                shapes[creator] = data.shape
        return shapes


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
    _asks_owner = True

    def __init__(self, variable):
        self.variable = variable
        self._seq = -next_seq()
        self._saved = None
        self._versions = ()
        self._ctx = None

    def _backward(self, grads):
        """Run the leaf's hooks, then add the gradient into ``.grad`` in place -- or, when ``.grad``
        is unset, make it ``.grad``: adopted as is when the engine owns it (a ``grads`` list that is
        not ``BorrowedGrads``), as PyTorch's AccumulateGrad steals an unshared gradient, else copied."""
        accumulate_into(self.variable, grads[0], grads.__class__ is not BorrowedGrads)
        return ()

    def _double_backward(self, grads):
        """create_graph=True: ``.grad`` keeps the gradient's own graph."""
        self.variable._accumulate_grad_graph(grads[0])
        return ()

    def _output_shapes(self):
        return [self.variable._data.shape]


# PyTorch's AccumulateGrad is a C type whose repr is <class 'AccumulateGrad'>.
AccumulateGrad.__module__ = "builtins"


# jitgrad.tensor imports this module, so the tensor helpers accumulate_into needs are bound on
# its first call.
_wrap = _run_tensor_hooks = _checked_grad_update = inplace_broadcast_error = _accumulate_lock = None


def _bind_tensor_helpers():
    global _wrap, _run_tensor_hooks, _checked_grad_update, inplace_broadcast_error, _accumulate_lock
    from ..tensor import (  # noqa: F811
        _accumulate_lock, _checked_grad_update, _run_tensor_hooks, _wrap, inplace_broadcast_error)


def accumulate_into(leaf, g: np.ndarray, owned: bool) -> None:
    """AccumulateGrad's body: ``leaf``'s hooks, then ``g`` added into ``leaf.grad``.  ``owned``:
    nothing but the caller holds ``g`` (see ``_owns_grads``), so it may become ``.grad`` uncopied."""
    if _wrap is None:
        _bind_tensor_helpers()
    if leaf._hooks:
        g = _run_tensor_hooks(leaf._hooks, g)
        owned = False  # the hooks saw g (or made it): a hook may keep it, and must never see it change
    data = leaf._data
    if g.dtype != data.dtype:
        g = g.astype(data.dtype, order="C")
        owned = True
    # One lock around the read-modify-write of .grad: backward passes running in several threads
    # into one leaf must not lose updates (np.add releases the GIL), as PyTorch serialises
    # AccumulateGrad.  Uncontended, it costs about 0.1 us.
    with _accumulate_lock:
        grad = leaf._grad
        if grad is None:
            if g.shape != data.shape:
                # the leaf's .data was replaced by one of another shape after the graph was
                # recorded: its .grad must still match it (optimizers rely on that)
                err = inplace_broadcast_error(data.shape, g.shape)
                if err is not None:
                    raise err
                g = np.array(np.broadcast_to(g, data.shape))
                owned = True
            if not (owned and _adoptable(g)):
                g = np.array(g, order="C")
            leaf._grad = _wrap(g)
            return
        acc = grad._data
        try:
            np.add(acc, g, out=acc)  # broadcasts g, as PyTorch's in-place add does
        except (ValueError, TypeError):
            # .grad (or its .data) was replaced by the user: another size or dtype, or read-only
            _checked_grad_update(acc, g)  # raises PyTorch's error
            raise
        grad._vc[0] += 1


def _adoptable(g: np.ndarray) -> bool:
    """An owned array fit to be ``.grad`` as is: writable, C-contiguous (optimizers' flat kernels)
    and all of its memory (not a view keeping a larger buffer alive)."""
    flags = g.flags
    base = g.base
    return flags.c_contiguous and flags.writeable and (base is None or base.nbytes == g.nbytes)


def accumulator_for(tensor) -> AccumulateGrad:
    """The leaf's AccumulateGrad node, created once and shared while anything holds it."""
    ref = tensor._grad_acc
    acc = ref() if ref is not None else None
    if acc is None:
        acc = AccumulateGrad(tensor)
        tensor._grad_acc = weakref.ref(acc)
    return acc


def node_class(name: str, backward, double_backward=None, base=Node, owns_grads=False):
    """A Node subclass called ``name`` (PyTorch's node name) whose backward is ``backward(node, grads)``.

    ``double_backward(node, grads)`` is the same vector-Jacobian product written with jitgrad's
    differentiable Tensor ops (``grads`` are Tensors); the engine uses it when
    ``create_graph=True``, so the gradient itself gets a graph.  ``owns_grads``: who owns the
    arrays ``backward`` returns (False, True or VIEW: see ``VIEW`` above).
    Several ops may share a name (``UnsqueezeBackward0`` from ``unsqueeze`` and from ``x[None]``);
    each gets its own class, since their backward functions differ."""
    if owns_grads not in (False, True, VIEW):
        raise ValueError(f"owns_grads must be False, True or {VIEW!r}, not {owns_grads!r}")
    return type(name, (base,), {"__slots__": (), "_backward": backward, "_double_backward": double_backward,
                                "_owns_grads": owns_grads, "_asks_owner": owns_grads is VIEW,
                                "__module__": "builtins"})


# ---------------------------------------------------------------------------- recording
def new_node(cls, edges: tuple, saved=None, ctx=None, versions=()):
    """Instantiate a node class with its graph edges and saved state."""
    node = cls.__new__(cls)
    node._seq = next_seq()
    node.next_functions = edges
    node._saved = saved
    node._ctx = ctx
    node._versions = versions
    return node


def saved_version(t, own_output_nr=None):
    """A version-counter record for a tensor saved for backward (checked when backward runs).

    ``own_output_nr`` marks an output of the saving node itself (stored as its index, not the
    node, so the record creates no reference cycle).
    """
    creator = t if own_output_nr is None else own_output_nr
    return (t._vc, t._vc[0], t._data, creator)
