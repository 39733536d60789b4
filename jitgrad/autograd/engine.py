"""The backward engine: run each node once, in decreasing creation order, after all the
gradients flowing into it have been summed.

Creation order is a topological order of the graph (a node's inputs exist before it), so a
max-heap on each node's sequence number replaces a dependency-counting pass.  Gradients travel
as raw NumPy arrays (Tensors under ``create_graph``); only hooks and ``retain_grad`` see Tensors.

One loop, ``_run``, serves every kind of pass; the rest are options of it:

* ``create_graph``: each node runs its ``_double_backward`` (differentiable Tensor ops) with grad
  mode on, so the gradients get a graph of their own (higher-order gradients);
* ``capture`` (``autograd.grad``, ``backward(inputs=...)``): only the nodes leading to the captured
  edges run, and the gradients arriving there are returned instead of accumulated;
* ``detect_anomaly()``: every node's output is checked for NaN.

Two eager speed tricks each keep their rule in one place:

* a ``FilledGrad`` (a full sum's gradient kept as one value, ``filled.py``) reaches only nodes that
  take one: ``_written_out`` writes it out at the node's turn, before anything else sees it;
* buffer ownership: a node class declares whether it owns the arrays its backward returns
  (``graph.VIEW``); for the nodes that ask (``_asks_owner``: a leaf's AccumulateGrad, a view's
  node), a gradient the engine does not own waits in a ``BorrowedGrads`` list, and only owned ones
  become a leaf's ``.grad`` uncopied (``graph.accumulate_into``).
"""
from heapq import heapify, heappop, heappush

import numpy as np

from .. import errors
from .._fp import QUIET as _QUIET, enter as _quiet_on, leave as _quiet_off
from ..kernels import elementwise as _ek, share_cores as _share_cores
from .filled import FilledGrad as _Filled, filled as _filled, materialize as _materialize
from .graph import _FREED, VIEW, AccumulateGrad, BorrowedGrads


def run_backward(roots, root_grads, retain_graph: bool, capture=None, create_graph: bool = False):
    """Backpropagate ``root_grads`` from ``roots`` (a list of ``(node, output_nr)``).

    With ``capture`` (a list of ``(node, output_nr)``), gradients arriving there are returned
    (a dict) instead of being accumulated, and only the part of the graph leading to them runs.
    With ``create_graph``, ``root_grads`` and the gradients are Tensors with graphs of their own.
    The pass runs with NumPy's overflow/invalid warnings off (``jitgrad/_fp.py``: PyTorch prints
    nothing), set once here rather than around each product of the backward functions.
    """
    _share_cores()  # at most every 0.2 s: the cores other processes leave free (kernels/__init__)
    token = _quiet_on(_QUIET)
    try:
        if not create_graph:
            return _run(roots, root_grads, retain_graph, capture, False)
        from .grad_mode import _state

        prev_mode = _state.enabled
        _state.enabled = True
        try:
            return _run(roots, root_grads, retain_graph, capture, True)
        finally:
            _state.enabled = prev_mode
    finally:
        _quiet_off(token)


def _run(roots, root_grads, retain_graph, capture, create_graph):
    buffers, heap = _seed(roots, root_grads)
    captured = needed = None
    if capture is not None:
        captured, needed, heap = _restrict(buffers, heap, capture)
    check_nan = _anomaly.enabled and _anomaly.check_nan and not create_graph
    pop = buffers.pop
    get = buffers.get
    Filled, view = _Filled, VIEW
    deferred = False  # a large tensor's gradients wait in a _Pending until its node runs
    filled = False  # a FilledGrad was sent: nodes that do not take one get it written out
    while heap:
        node = heappop(heap)[1]
        grads = pop(node)
        if deferred:
            grads = _resolve(grads)
        hooked = node._hooked
        if filled and (hooked or captured is not None or not node._filled_ok):
            grads = _written_out(grads)
        if captured is not None and _capture(captured, node, grads):
            continue
        if create_graph:
            backward = node._double_backward
            if backward is None:
                raise RuntimeError(f"jitgrad: create_graph=True (higher-order gradients) is not implemented "
                                   f"for {node.name()}; its backward runs only as a jitted kernel")
        else:
            backward = node._backward
        if hooked:
            grads = _pre_graph(node, grads) if create_graph else _pre(node, grads)
            if _no_grads(grads):
                backward = _passes_none(node)
        saved = node._saved
        if saved is _FREED:
            raise RuntimeError(errors.BACKWARD_TWICE)
        if node._versions:
            node._check_versions()
        out = backward(grads)
        if saved is not None and not retain_graph:
            node._saved = _FREED
        owned = node._owns_grads
        if owned is view:
            owned = grads.__class__ is list  # a view of what it was given: owned when that was
        if hooked:
            if node._post_hooks:
                out = _post_graph(node, out, grads) if create_graph else _post(node, out, grads)
                owned = False  # the hooks saw them
        if check_nan:
            _check_nan(node, out)
        for (nxt, nr), g in zip(node.next_functions, out):
            if g is None or nxt is None:
                continue
            if needed is not None and nxt not in needed:
                continue
            if g.__class__ is Filled:
                filled = True
            buf = get(nxt)
            if buf is None:
                buf = buffers[nxt] = [None] * nxt._num_outputs
                heappush(heap, (-nxt._seq, nxt))
                buf[nr] = g
                if not owned and nxt._asks_owner:  # (single-output nodes only)
                    buffers[nxt] = BorrowedGrads(buf)
                continue
            prev = buf[nr]
            if prev is None:  # another output of a multi-output node
                buf[nr] = g
            elif create_graph or prev.size < _BIG:
                buf[nr] = prev + g
            else:
                buf[nr] = _defer(prev, g)
                deferred = True
            if buf.__class__ is not list:
                buffers[nxt] = [buf[0]]  # summed: a new array, the engine's own
    return captured


# ---------------------------------------------------------------------------- roots and capture
def _seed(roots, root_grads):
    """Pending-gradient buffers and the max-heap (on creation order) holding the roots.  The root
    gradients are the caller's: borrowed."""
    buffers = {}
    heap = []
    for (node, nr), g in zip(roots, root_grads):
        buf = buffers.get(node)
        if buf is None:
            buf = buffers[node] = [None] * node._num_outputs
            if node._asks_owner:
                buf = buffers[node] = BorrowedGrads(buf)
            heappush(heap, (-node._seq, node))
        buf[nr] = g if buf[nr] is None else buf[nr] + g
    return buffers, heap


def _restrict(buffers, heap, capture):
    """For ``capture``: the slots to fill, the nodes that lead to them, and the heap cut to those."""
    needed = _needed_nodes(list(buffers), {n for n, _ in capture})
    heap = [item for item in heap if item[1] in needed]
    heapify(heap)
    return dict.fromkeys(capture), needed, heap


def _capture(captured, node, grads) -> bool:
    """Record the gradients arriving at captured slots of ``node``; True when ``node`` is a leaf's
    AccumulateGrad, which a capturing pass does not run (it must not touch ``.grad``)."""
    for i, g in enumerate(grads):
        if (node, i) in captured:
            captured[(node, i)] = g
    return node.__class__ is AccumulateGrad


def _needed_nodes(roots, targets):
    """The nodes on some path from a root to a target (what ``autograd.grad`` must run)."""
    parents = {}
    seen = set(roots)
    stack = list(roots)
    while stack:
        node = stack.pop()
        for child, _ in node.next_functions:
            if child is None:
                continue
            parents.setdefault(child, []).append(node)
            if child not in seen:
                seen.add(child)
                stack.append(child)
    needed = {t for t in targets if t in seen}
    stack = list(needed)
    while stack:
        for parent in parents.get(stack.pop(), ()):
            if parent not in needed:
                needed.add(parent)
                stack.append(parent)
    return needed


# ---------------------------------------------------------------------------- summing large gradients
_BIG = _ek.PARALLEL_THRESHOLD


class _Pending(list):
    """The gradients of one large tensor, summed in one pass when its node runs (``x`` used by
    k ops: one k-way sum instead of k-1 pairwise sums, each a full memory pass)."""

    __slots__ = ()

    @property
    def size(self):
        return self[0].size


def _defer(prev, g):
    if prev.__class__ is _Pending:
        prev.append(g)
        return prev
    if prev.__class__ is _Filled and g.__class__ is _Filled and prev.dtype == g.dtype:
        return _filled(prev.fill_value + g.fill_value, prev.shape, prev.dtype)  # still one value
    return _Pending((prev, g))


def _resolve(grads):
    for x in grads:
        if x.__class__ is _Pending:
            return grads.__class__(_total(x) if x.__class__ is _Pending else x for x in grads)
    return grads


def _total(parts):
    """The sum of a large tensor's pending gradients: jitgrad's parallel 2- and 3-way adds when
    all are contiguous arrays of one float dtype and shape (NumPy's ``+`` is single-threaded)."""
    # (the sum reads its parts as plain arrays: a FilledGrad is one of its inputs, never its result)
    parts = [_materialize(p) if p.__class__ is _Filled else p for p in parts]
    first = parts[0]
    if not all(p.shape == first.shape and p.dtype == first.dtype and p.flags.c_contiguous
               for p in parts) or first.dtype.kind != "f" or first.dtype.itemsize < 4:  # (no float16 kernels)
        total = first
        for p in parts[1:]:
            total = total + p
        return total
    out = np.empty(first.shape, first.dtype)
    flat = [p.reshape(-1) for p in parts]
    dst = out.reshape(-1)
    if len(flat) == 2:
        _ek.add_forward_parallel(flat[0], flat[1], dst)
        return out
    _ek.add3_forward_parallel(flat[0], flat[1], flat[2], dst)
    rest = flat[3:]
    while rest:
        if len(rest) == 1:
            _ek.add_forward_parallel(dst, rest[0], dst)
            break
        _ek.add3_forward_parallel(dst, rest[0], rest[1], dst)
        rest = rest[2:]
    return out


# ---------------------------------------------------------------------------- FilledGrad
def _written_out(grads):
    """The FilledGrad rule, in one place: ``grads`` with every FilledGrad written out.  Applied to
    a node's gradients at its turn unless it takes FilledGrads and nothing else looks (no hook,
    no capture), and to what a node returns before a post hook or a caller (``call_node``) sees it."""
    for g in grads:
        if g.__class__ is _Filled:
            return grads.__class__(_materialize(g) if g.__class__ is _Filled else g for g in grads)
    return grads


# ---------------------------------------------------------------------------- hooks
def _pre(node, grads):
    """Tensor hooks, retain_grad and node pre-hooks, for nodes that have any."""
    seen = node._tensor_hooks or node._pre_hooks
    if node._tensor_hooks is not None or node._retained is not None:
        grads = _tensor_hooks_and_retain(node, grads)
    if node._pre_hooks:
        grads = _call_pre_hooks(node, grads)
    return BorrowedGrads(grads) if seen else grads  # a hook may keep what it saw: no longer the engine's


def _no_grads(grads) -> bool:
    """True when hooks left a node no gradient at all (they replaced every one with None)."""
    for g in grads:
        if g is not None:
            return False
    return True


def _passes_none(node):
    """The backward of a node whose hooks removed every gradient: it passes on None, as PyTorch's
    nodes do for undefined gradients (the node's own backward expects at least one array)."""
    nones = (None,) * len(node.next_functions)
    return lambda grads: nones


def _tensor_hooks_and_retain(node, grads):
    from ..tensor import _run_tensor_hooks, _wrap

    grads = grads.__class__(grads)
    if node._tensor_hooks:
        for nr, hooks in node._tensor_hooks.items():
            if grads[nr] is not None and hooks:
                grads[nr] = _run_tensor_hooks(hooks, grads[nr])
    if node._retained:
        for nr, ref in node._retained.items():
            t = ref()
            g = grads[nr]
            if t is None or g is None:
                continue
            if t._grad is None:
                t._grad = _wrap(g.copy())
            else:
                prev = t._grad._data
                try:
                    t._grad = _wrap(prev + g)  # out of place, broadcasting, as PyTorch's retain_grad hook
                except ValueError:  # (its .data was replaced by one of another size)
                    raise errors.broadcast_error(prev.shape, g.shape) from None
    return grads


def _call_pre_hooks(node, grads):
    from ..tensor import _checked_hook_results, _wrap

    wrapped = tuple(None if g is None else _wrap(g) for g in grads)
    for hook in list(node._pre_hooks):
        res = hook(wrapped)
        if res is not None:
            wrapped = _checked_hook_results(hook, wrapped, res)
    return [None if g is None else g._data for g in wrapped]


def _post(node, out, grads):
    from ..tensor import _checked_hook_results, _wrap

    gin = tuple(None if g is None else _wrap(g) for g in _written_out(out))
    gout = tuple(None if g is None else _wrap(g) for g in grads)
    for hook in list(node._post_hooks):
        res = hook(gin, gout)
        if res is not None:
            gin = _checked_hook_results(hook, gin, res)
    return tuple(None if g is None else g._data for g in gin)


def _pre_graph(node, grads):
    """``_pre`` under create_graph: the hooks get the gradients themselves (Tensors, with graphs)."""
    from ..tensor import _checked_hook_result, _checked_hook_results

    grads = list(grads)
    if node._tensor_hooks:
        for nr, hooks in node._tensor_hooks.items():
            for hook in list(hooks):
                if grads[nr] is not None:
                    res = hook(grads[nr])
                    if res is not None:
                        _checked_hook_result(hook, grads[nr]._data, res)
                        grads[nr] = res
    if node._retained:
        for nr, ref in node._retained.items():
            t = ref()
            if t is not None and grads[nr] is not None:
                t._grad = grads[nr] if t._grad is None else t._grad + grads[nr]
    for hook in list(node._pre_hooks):
        res = hook(tuple(grads))
        if res is not None:
            grads = list(_checked_hook_results(hook, tuple(grads), res))
    return grads


def _post_graph(node, out, grads):
    from ..tensor import _checked_hook_results

    for hook in list(node._post_hooks):
        res = hook(tuple(out), tuple(grads))
        if res is not None:
            out = _checked_hook_results(hook, tuple(out), res)
    return out


# ---------------------------------------------------------------------------- anomaly detection
class _AnomalyMode:
    enabled = False
    check_nan = True


_anomaly = _AnomalyMode()


def _check_nan(node, out):
    for i, g in enumerate(out):
        if g is not None and g.dtype.kind == "f" and np.isnan(g).any():
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th output.")


# ---------------------------------------------------------------------------- one node, called directly
def call_node(node, grads):
    """``node(*grads)``: its backward on the caller's gradients (arrays or Tensors), each checked
    against the shape of the output it stands for where the node knows it; the result as Tensors
    (a lone gradient unwrapped, as PyTorch returns it)."""
    from ..tensor import Tensor, _wrap

    arrays = BorrowedGrads(g._data if isinstance(g, Tensor) else g for g in grads)
    for i, (g, shape) in enumerate(zip(arrays, node._output_shapes())):
        # (the kernels trust their gradient's size, as they trust the engine's)
        if shape is not None and g is not None and getattr(g, "shape", shape) != shape:
            raise errors.grad_shape_mismatch(i, g.shape, shape)
    if node._saved is _FREED:
        raise RuntimeError(errors.BACKWARD_TWICE)
    token = _quiet_on(_QUIET)
    try:
        out = node._backward(arrays)
    finally:
        _quiet_off(token)
    out = tuple(None if g is None else _wrap(g) for g in _written_out(out))
    return out[0] if len(out) == 1 else out
