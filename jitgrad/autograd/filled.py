"""Filled gradients: the gradient of a full ``sum``/``mean`` of a large tensor, kept as one value.

``loss = f(x).sum()`` starts its backward with a gradient whose every element is the same
number.  PyTorch hands it on as a stride-0 ``expand`` view, and its kernels read the one value;
jitgrad used to write it out (4M elements: a 16 MB pass) and then read that array in the next
products.  A :class:`FilledGrad` is a read-only stride-0 view that carries its value as
``fill_value``.  Nodes that declare ``_filled_ok = True`` (the binary elementwise ops: add, sub,
mul) compute with the value -- ``g * b`` becomes ``b * c``, one read instead of two, and a
``* 0.5`` of a filled gradient is just another filled gradient -- and the engine writes it out
(:func:`materialize`) before it reaches any other node, a hook, a captured gradient or ``.grad``.
Only tensors of ``PARALLEL_THRESHOLD`` elements or more get one: below that, making the view
costs more than the pass it saves.
"""
import numpy as np

from ..kernels import elementwise as _ek


class FilledGrad(np.ndarray):
    """A read-only stride-0 array whose every element is ``fill_value`` (see the module's docstring)."""

    fill_value = None


def filled(value, shape, dtype) -> FilledGrad:
    """A :class:`FilledGrad` of ``shape`` and ``dtype`` holding ``value`` everywhere."""
    c = np.asarray(value, dtype=dtype).reshape(())
    g = np.broadcast_to(c, shape).view(FilledGrad)
    g.fill_value = c[()]
    return g


def materialize(g: FilledGrad) -> np.ndarray:
    """The gradient written out as a fresh C-contiguous array (filled by the parallel kernel)."""
    out = np.empty(g.shape, g.dtype)
    if g.dtype.kind == "f" and g.dtype.itemsize >= 4:  # (the kernels have no float16)
        _ek.fill_scalar_parallel(g.fill_value, out.reshape(-1))
    else:
        out[...] = g.fill_value
    return out


def plain(g):
    """``g``, written out if it is a :class:`FilledGrad`."""
    return materialize(g) if g.__class__ is FilledGrad else g
