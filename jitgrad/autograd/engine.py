"""The backward engine: run each node once, in decreasing creation order, after all the
gradients flowing into it have been summed.

Creation order is a topological order of the graph (a node's inputs exist before it), so a
max-heap on each node's sequence number replaces a dependency-counting pass.  Gradients travel
as raw NumPy arrays; only tensor hooks and ``retain_grad`` see Tensors.
"""
from heapq import heapify, heappop, heappush

import numpy as np

from .. import errors
from .._fp import QUIET as _QUIET, enter as _quiet_on, leave as _quiet_off
from ..kernels import elementwise as _ek, share_cores as _share_cores
from .filled import FilledGrad as _Filled, filled as _filled, materialize as _materialize, plain as _plain
from .graph import _FREED, AccumulateGrad


def _seed(roots, root_grads):
    """Pending-gradient buffers and the max-heap (on creation order) holding the roots."""
    buffers = {}
    heap = []
    for (node, nr), g in zip(roots, root_grads):
        buf = buffers.get(node)
        if buf is None:
            buf = buffers[node] = [None] * node._num_outputs
            heappush(heap, (-node._seq, node))
        buf[nr] = g if buf[nr] is None else buf[nr] + g
    return buffers, heap


def _restrict(buffers, heap, capture):
    """For ``capture``: the slots to fill, the nodes that lead to them, and the heap cut to those."""
    if capture is None:
        return None, None, heap
    needed = _needed_nodes(list(buffers), {n for n, _ in capture})
    heap = [item for item in heap if item[1] in needed]
    heapify(heap)
    return dict.fromkeys(capture), needed, heap


def _send(node, out, buffers, heap, needed):
    """Add ``node``'s input gradients to its successors' buffers (the general loops' version of
    the hot loop's inlined code)."""
    for (nxt, nr), g in zip(node.next_functions, out):
        if g is None or nxt is None or (needed is not None and nxt not in needed):
            continue
        if g.__class__ is _Filled:  # the general loops capture gradients and check them for NaN
            g = _materialize(g)
        buf = buffers.get(nxt)
        if buf is None:
            buf = buffers[nxt] = [None] * nxt._num_outputs
            heappush(heap, (-nxt._seq, nxt))
            buf[nr] = g
        else:
            prev = buf[nr]
            buf[nr] = g if prev is None else prev + g


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


def run_backward(roots, root_grads, retain_graph: bool, capture=None):
    """Backpropagate ``root_grads`` from ``roots`` (a list of ``(node, output_nr)``).

    With ``capture`` (a list of ``(node, output_nr)``), gradients arriving there are returned
    instead of being accumulated, and only the part of the graph leading to them runs.
    The pass runs with NumPy's overflow/invalid warnings off (``jitgrad/_fp.py``: PyTorch prints
    nothing), set once here rather than around each product of the backward functions.
    """
    _share_cores()  # at most every 0.2 s: the cores other processes leave free (kernels/__init__)
    token = _quiet_on(_QUIET)
    try:
        return _run_backward(roots, root_grads, retain_graph, capture)
    finally:
        _quiet_off(token)


def _run_backward(roots, root_grads, retain_graph, capture):
    buffers, heap = _seed(roots, root_grads)

    if capture is not None or _anomaly.enabled:
        return _run_capturing(buffers, heap, retain_graph, capture)

    # The hot loop: kept free of the capture logic and of attribute lookups it does not need.
    pop = buffers.pop
    get = buffers.get
    deferred = False  # a large tensor's gradients wait in a _Pending until its node runs
    while heap:
        node = heappop(heap)[1]
        grads = pop(node)
        if deferred:
            grads = _resolve(grads)
        backward = node._backward
        if node._hooked:
            grads = _pre(node, grads)
            if _no_grads(grads):
                backward = _passes_none(node)
        saved = node._saved
        if saved is not None:
            if saved is _FREED:
                raise RuntimeError(errors.BACKWARD_TWICE)
            if node._versions:
                node._check_versions()
        out = backward(grads)
        if node._hooked and node._post_hooks:
            out = _call_post_hooks(node, out, grads)
        if saved is not None and not retain_graph:
            node._saved = _FREED
        for (nxt, nr), g in zip(node.next_functions, out):
            if g is None or nxt is None:
                continue
            if g.__class__ is _Filled and (not nxt._filled_ok or nxt._hooked):
                g = _materialize(g)
            buf = get(nxt)
            if buf is None:
                buf = buffers[nxt] = [None] * nxt._num_outputs
                heappush(heap, (-nxt._seq, nxt))
                buf[nr] = g
            else:
                prev = buf[nr]
                if prev is None:
                    buf[nr] = g
                elif prev.size < _BIG:
                    buf[nr] = prev + g
                else:
                    buf[nr] = _defer(prev, g)
                    deferred = True
        out = g = prev = None  # a leaf's gradient, held only by its buffer, can be stolen by AccumulateGrad
    return None


def _run_capturing(buffers, heap, retain_graph, capture):
    """The general loop.  With ``capture`` (``autograd.grad`` / ``backward(inputs=...)``): run only
    what leads to the captured edges and return the gradients arriving there instead of
    accumulating them.  Under ``detect_anomaly()``: check every node's output for NaN."""
    captured, needed, heap = _restrict(buffers, heap, capture)
    check_nan = _anomaly.enabled and _anomaly.check_nan
    while heap:
        node = heappop(heap)[1]
        grads = buffers.pop(node)
        if captured is not None:
            for i, g in enumerate(grads):
                if (node, i) in captured:
                    captured[(node, i)] = g
            if node.__class__ is AccumulateGrad:
                continue
        backward = node._backward
        if node._hooked:
            grads = _pre(node, grads)
            if _no_grads(grads):
                backward = _passes_none(node)
        saved = node._saved
        if saved is _FREED:
            raise RuntimeError(errors.BACKWARD_TWICE)
        if node._versions:
            node._check_versions()
        out = backward(grads)
        if node._hooked and node._post_hooks:
            out = _call_post_hooks(node, out, grads)
        if check_nan:
            _check_nan(node, out)
        if saved is not None and not retain_graph:
            node._saved = _FREED
        _send(node, out, buffers, heap, needed)
        out = None
    return captured


def run_backward_graph(roots, root_grads, retain_graph: bool, capture=None):
    """``create_graph=True``: the same traversal, but gradients are Tensors and every node runs
    its ``_double_backward`` (the vector-Jacobian product written with differentiable jitgrad
    ops) with grad mode on, so the gradients get a graph of their own (higher-order gradients).
    Returns the captured gradients (Tensors) when ``capture`` is given."""
    from .grad_mode import _state

    buffers, heap = _seed(roots, root_grads)
    captured, needed, heap = _restrict(buffers, heap, capture)
    prev_mode = _state.enabled
    _state.enabled = True
    try:
        while heap:
            node = heappop(heap)[1]
            grads = buffers.pop(node)
            if captured is not None:
                for i, g in enumerate(grads):
                    if (node, i) in captured:
                        captured[(node, i)] = g
            if node.__class__ is AccumulateGrad:
                if captured is None:
                    node.variable._accumulate_grad_graph(grads[0])
                continue
            double_backward = node._double_backward
            if node._hooked:
                grads = _pre_graph(node, grads)
                if _no_grads(grads):
                    double_backward = _passes_none(node)
            saved = node._saved
            if saved is _FREED:
                raise RuntimeError(errors.BACKWARD_TWICE)
            if node._versions:
                node._check_versions()
            if double_backward is None:
                raise RuntimeError(
                    f"jitgrad: create_graph=True (higher-order gradients) is not implemented for "
                    f"{node.name()}; its backward runs only as a jitted kernel"
                )
            out = double_backward(grads)
            if node._hooked and node._post_hooks:
                out = _call_post_hooks_graph(node, out, grads)
            if saved is not None and not retain_graph:
                node._saved = _FREED
            _send(node, out, buffers, heap, needed)
    finally:
        _state.enabled = prev_mode
    return captured


def _pre_graph(node, grads):
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


def _call_post_hooks_graph(node, out, grads):
    from ..tensor import _checked_hook_results

    for hook in list(node._post_hooks):
        res = hook(tuple(out), tuple(grads))
        if res is not None:
            out = _checked_hook_results(hook, tuple(out), res)
    return out


class _AnomalyMode:
    enabled = False
    check_nan = True


_anomaly = _AnomalyMode()


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
            return [_total(x) if x.__class__ is _Pending else x for x in grads]
    return grads


def _total(parts):
    """The sum of a large tensor's pending gradients: jitgrad's parallel 2- and 3-way adds when
    all are contiguous arrays of one float dtype and shape (NumPy's ``+`` is single-threaded)."""
    parts = [_plain(p) for p in parts]
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


def _check_nan(node, out):
    for i, g in enumerate(out):
        if g is not None and g.dtype.kind == "f" and np.isnan(g).any():
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th output.")


def _pre(node, grads):
    """Tensor hooks, retain_grad and node pre-hooks, for nodes that have any."""
    # (a hook registered during this backward can find a filled gradient already queued)
    grads = [_plain(g) for g in grads]
    if node._tensor_hooks is not None or node._retained is not None:
        grads = _tensor_hooks_and_retain(node, grads)
    if node._pre_hooks:
        grads = _call_pre_hooks(node, grads)
    return grads


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

    grads = list(grads)
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


def _call_post_hooks(node, out, grads):
    from ..tensor import _checked_hook_results, _wrap

    # (a hook may write into what it is given: never a read-only filled gradient)
    gin = tuple(None if g is None else _wrap(_plain(g)) for g in out)
    gout = tuple(None if g is None else _wrap(g) for g in grads)
    for hook in list(node._post_hooks):
        res = hook(gin, gout)
        if res is not None:
            gin = _checked_hook_results(hook, gin, res)
    return tuple(None if g is None else g._data for g in gin)
