"""From a recording to a plan: fused regions and eager calls, replayed per compiled call.

Consecutive fusable calls (``trace.Call.fuse``) of one shape, dtype and grad mode form a
:class:`Region`; a full ``sum()`` / ``mean()`` may end one.  Each region runs one generated
forward kernel (``codegen``), computing only the values used outside it, and -- where grad is
on and an input requires grad -- records one ``CompiledFunctionBackward`` node whose backward
runs one generated kernel over the saved region inputs (for a region whose only differentiable
output is its full reduction, the forward kernel computes the gradients too, and the backward
only scales them).  Double backward through a compiled node raises (v1).  Every other call is replayed as the
eager op it was, on the replayed tensors, so autograd composes across both.
"""
import numpy as np

from ..autograd import grad_mode
from ..autograd.graph import next_seq
from ..kernels import _jit
from ..kernels.elementwise import PARALLEL_THRESHOLD
from ..ops.registry import define_node, result
from ..tensor import edge
from . import codegen
from .trace import Ref

_state = grad_mode._state
_PARALLEL = _jit.PARALLEL


class Region:
    """A fused chain: its ops as operand descriptors, ``("x", k)`` a full input, ``("z", k)`` a
    0-d input, ``("s", k)`` a Python scalar, ``("v", j)`` the value of the region's op ``j``."""

    def __init__(self, shape, dtype, grad_enabled):
        self.shape = shape
        self.dtype = dtype
        self.n = int(np.prod(shape)) if shape else 1
        self.grad_enabled = grad_enabled
        self.ops = []  # (op name, operand descriptors)
        self.full_ids, self.zero_ids, self.scalars = [], [], []
        self.local = {}  # value number -> descriptor inside this region
        self.op_values = []  # value number of each op's result
        self.reduce = None  # None, "sum" or "mean"
        self.reduce_operand = None
        self.reduce_value = None

    @property
    def n_full(self):
        return len(self.full_ids)

    @property
    def n_zero(self):
        return len(self.zero_ids)

    @property
    def n_scalar(self):
        return len(self.scalars)

    def accepts(self, fuse, grad_enabled, shapes) -> bool:
        if self.reduce is not None or grad_enabled != self.grad_enabled or fuse[-1] != self.dtype:
            return False
        if fuse[0] == "reduce":
            return shapes[fuse[2]] == self.shape
        return fuse[-2] == self.shape

    def operand(self, value: int, shapes) -> tuple:
        desc = self.local.get(value)
        if desc is None:
            if shapes[value] == self.shape:
                desc = ("x", len(self.full_ids))
                self.full_ids.append(value)
            else:  # a 0-d tensor operand
                desc = ("z", len(self.zero_ids))
                self.zero_ids.append(value)
            self.local[value] = desc
        return desc

    def add(self, fuse, shapes) -> None:
        if fuse[0] == "reduce":
            _, op, value, out, _, _ = fuse
            self.reduce, self.reduce_operand, self.reduce_value = op, self.operand(value, shapes), out
            return
        _, op, operands, out, _, _ = fuse
        descs = []
        for kind, v in operands:
            if kind == "t":
                descs.append(self.operand(v, shapes))
            else:
                descs.append(("s", len(self.scalars)))
                self.scalars.append(v)
        self.local[out] = ("v", len(self.ops))
        self.ops.append((op, tuple(descs)))
        self.op_values.append(out)

    def finish(self, used_outside: set, requires_grad: list) -> None:
        """Which values leave the region, and which need gradients (``requires_grad``: per
        value, as the trace saw it)."""
        self.outputs = [j for j, v in enumerate(self.op_values) if v in used_outside]
        on = self.grad_enabled
        needs = {("x", k): on and requires_grad[v] for k, v in enumerate(self.full_ids)}
        needs.update({("z", k): on and requires_grad[v] for k, v in enumerate(self.zero_ids)})
        inputs_of = {d: {d} for d in needs}  # descriptor -> the region inputs it is computed from
        self.value_needs = []
        for j, (_, descs) in enumerate(self.ops):
            needs[("v", j)] = any(needs.get(d, False) for d in descs)
            inputs_of[("v", j)] = set().union(*(inputs_of.get(d, ()) for d in descs))
            self.value_needs.append(needs[("v", j)])
        self.reduce_needs = self.reduce is not None and needs.get(self.reduce_operand, False)
        self.grad_outputs = [j for j in self.outputs if self.value_needs[j]]
        self.makes_node = bool(self.grad_outputs) or self.reduce_needs
        # which node outputs each input reaches: an input gets a gradient only through one of them
        # that received a gradient (as eager, where an unreached node never runs)
        reached = [inputs_of[("v", j)] for j in self.grad_outputs]
        if self.reduce_needs:
            reached.append(inputs_of[self.reduce_operand])
        self.reaches = [tuple(m for m, found in enumerate(reached) if d in found)
                        for d in [("x", k) for k in range(self.n_full)] + [("z", k) for k in range(self.n_zero)]]
        self.full_needs = [needs[("x", k)] and bool(self.reaches[k]) for k in range(self.n_full)]
        self.zero_needs = [needs[("z", k)] and bool(self.reaches[self.n_full + k]) for k in range(self.n_zero)]


# ============================================================================ replay steps
def _resolve(template, vals):
    cls = template.__class__
    if cls is Ref:
        return vals[template.i]
    if cls is tuple or cls is list:
        return cls(_resolve(t, vals) for t in template)
    if cls is dict:
        return {k: _resolve(v, vals) for k, v in template.items()}
    return template


def _is_flat(args) -> bool:
    return all(a.__class__ not in (tuple, list, dict) for a in args)


class EagerStep:
    """A recorded call replayed as its eager op."""

    __slots__ = ("impl", "args", "kwargs", "flat", "out", "grad_enabled")

    def __init__(self, call):
        self.impl = call.impl
        self.args = call.args
        self.kwargs = call.kwargs
        self.flat = _is_flat(call.args) and _is_flat(call.kwargs.values())
        self.out = call.out
        self.grad_enabled = call.grad_enabled

    def __call__(self, vals):
        if self.flat:
            args = [vals[a.i] if a.__class__ is Ref else a for a in self.args]
            kwargs = {k: vals[v.i] if v.__class__ is Ref else v for k, v in self.kwargs.items()} if self.kwargs else {}
        else:
            args, kwargs = _resolve(self.args, vals), _resolve(self.kwargs, vals)
        if self.grad_enabled == _state.enabled:
            out = self.impl(*args, **kwargs)
        else:
            with grad_mode.set_grad_enabled(self.grad_enabled):
                out = self.impl(*args, **kwargs)
        ref = self.out
        if ref.__class__ is Ref:
            vals[ref.i] = out
        elif ref is not None:
            for r, o in zip(ref, out):
                vals[r.i] = o


def _compiled_backward(node, grads):
    step = node._ctx
    region = step.region
    xs, zs, ready = node._saved
    dt, n = region.dtype, region.n
    if ready is not None and grads[0] is not None:
        # forward_grad's gradients for a gradient of 1: handed over once (a second backward,
        # retain_graph=True, runs the kernel), scaled by the real gradient where it is not 1
        node._saved = (xs, zs, None)
        g = grads[0].reshape(())[()]
        if g != 1:
            for gx in ready:
                np.multiply(gx, g, out=gx)
        it = iter(ready)
        return tuple(next(it) if need else None for need in region.full_needs)
    gs = []
    for m in range(len(region.grad_outputs)):
        g = grads[m]
        gs.append(np.zeros(n, dt) if g is None else np.ascontiguousarray(g, dt).reshape(-1))
    gr = dt.type(0)
    if region.reduce_needs:
        g = grads[len(gs)]
        if g is not None:
            g = g.reshape(())[()]
            gr = dt.type(g / n if region.reduce == "mean" and n else g)
    gx = [np.empty(region.shape, dt) for need in region.full_needs if need]
    kernel = _PARALLEL[step.backward] if step.parallel else step.backward
    sums = kernel(n, *xs, *zs, *step.scalars, *gs, gr, *[g.ravel() for g in gx])
    out = []
    it = iter(gx)
    for need in region.full_needs:
        out.append(next(it) if need else None)
    k = 0
    for need in region.zero_needs:
        if need:
            out.append(np.array(dt.type(sums[k])))
            k += 1
        else:
            out.append(None)
    if any(g is None for g in grads):  # inputs reaching only outputs that got no gradient get none either
        for i, reaches in enumerate(region.reaches):
            if out[i] is not None and all(grads[m] is None for m in reaches):
                out[i] = None
    return tuple(out)


class RegionStep:
    """A fused region: one forward kernel, one node."""

    __slots__ = ("region", "forward", "backward", "forward_grad", "unit_grad", "scalars", "full_ids", "zero_ids", "input_ids", "out_ids",
                 "out_nrs", "reduce_nr", "node_cls", "parallel")

    def __init__(self, region):
        self.region = region
        self.forward, self.backward, self.forward_grad = codegen.kernels_for(region)
        # the reduced value's adjoint for a loss gradient of 1 (what the backward computes from it)
        self.unit_grad = region.dtype.type(1 / region.n if region.reduce == "mean" and region.n else 1)
        self.scalars = tuple(region.scalars)
        self.full_ids, self.zero_ids = tuple(region.full_ids), tuple(region.zero_ids)
        self.input_ids = self.full_ids + self.zero_ids
        self.out_ids = [region.op_values[j] for j in region.outputs]
        nrs = {j: m for m, j in enumerate(region.grad_outputs)}
        self.out_nrs = [nrs.get(j) for j in region.outputs]  # the node's output number, or None
        self.reduce_nr = len(region.grad_outputs) if region.reduce_needs else None
        self.parallel = region.n >= PARALLEL_THRESHOLD
        self.node_cls = None
        if region.makes_node:  # (a class per region: its output count is a class attribute)
            self.node_cls = define_node("CompiledFunctionBackward", _compiled_backward, owns_grads=True)
            self.node_cls._num_outputs = len(region.grad_outputs) + (1 if region.reduce_needs else 0)

    def __call__(self, vals):
        region = self.region
        dt = region.dtype
        n = region.n
        shape = region.shape
        xs = [vals[i]._data.ravel() for i in self.full_ids]
        zs = [vals[i]._data.reshape(1) for i in self.zero_ids]
        outs = [np.empty(shape, dt) for _ in self.out_ids]
        cls = self.node_cls
        if cls is not None and self.forward_grad is not None:  # the gradients (for a gradient of 1) too
            grads = [np.empty(shape, dt) for need in region.full_needs if need]
            acc = (_PARALLEL[self.forward_grad] if self.parallel else self.forward_grad)(
                n, *xs, *zs, *self.scalars, *[o.ravel() for o in outs], self.unit_grad, *[g.ravel() for g in grads])
        else:
            grads = None
            acc = (_PARALLEL[self.forward] if self.parallel else self.forward)(
                n, *xs, *zs, *self.scalars, *[o.ravel() for o in outs])
        node = None
        if cls is not None:
            inputs = [vals[i] for i in self.input_ids]
            node = cls.__new__(cls)
            node.next_functions = tuple([edge(t) for t in inputs])
            node._seq = next_seq()
            node._saved = (xs, zs, grads)
            node._ctx = self
            node._versions = tuple([(t._vc, t._vc[0], t._data, t) for t in inputs])
        for value, nr, out in zip(self.out_ids, self.out_nrs, outs):
            if nr is None:
                vals[value] = result(out, None)
            else:
                t = vals[value] = result(out, node)
                t._output_nr = nr
        if region.reduce is not None:
            nr = self.reduce_nr
            if region.reduce == "mean":
                acc = acc / n if n else np.nan  # (the mean of no elements, as eager)
            t = vals[region.reduce_value] = result(np.array(acc, dt), None if nr is None else node)
            if nr is not None:
                t._output_nr = nr


# ============================================================================ planning
def _refs(template) -> list:
    """The value numbers a template (arguments, a result) reads."""
    found = []

    def walk(t):
        cls = t.__class__
        if cls is Ref:
            found.append(t.i)
        elif cls in (tuple, list):
            for x in t:
                walk(x)
        elif cls is dict:
            for x in t.values():
                walk(x)

    walk(template)
    return found


def plan(rec) -> list:
    """The replay steps of a recording."""
    groups = []  # Region or Call, in order
    region = None
    for call in rec.calls:
        fuse = call.fuse
        if fuse is not None:
            if region is None or not region.accepts(fuse, call.grad_enabled, rec.shapes):
                shape = rec.shapes[fuse[2]] if fuse[0] == "reduce" else fuse[-2]
                region = Region(shape, fuse[-1], call.grad_enabled)
                groups.append(region)
            region.add(fuse, rec.shapes)
        else:
            region = None
            groups.append(call)

    # a region's value is used outside it when another group reads it or the function returns it
    used_outside = set()
    owner = {}
    for g in groups:
        if isinstance(g, Region):
            for v in g.op_values:
                owner[v] = g
            for v in g.full_ids + g.zero_ids:
                if owner.get(v) is not None and owner[v] is not g:
                    used_outside.add(v)
        else:
            used_outside.update(_refs((g.args, g.kwargs)))
    used_outside.update(_refs(rec.output))
    steps = []
    for g in groups:
        if isinstance(g, Region):
            g.finish(used_outside, rec.requires_grad)
            if g.outputs or g.reduce is not None:
                steps.append(RegionStep(g))
        else:
            steps.append(EagerStep(g))
    return steps
