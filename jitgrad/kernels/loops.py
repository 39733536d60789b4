"""Loops generated from functions of one element.

An elementwise op is declared as scalar functions (``ops/unary.py``): its value ``f(x, *params)``
and its vector-Jacobian product ``df(g, x, y, *params)`` (``g`` the incoming gradient, ``y`` the
result).  The loops over flat arrays are written once, here, as templates in which ``f`` is a free
(global) name; :func:`instantiate` makes a template's function object anew with ``f`` bound to
the op's scalar function, named after the op, and compiles it with :func:`_jit.twin`: a serial
kernel and its ``parallel=True`` twin, each with its own on-disk cache entry.  The scalar
functions are ``inline="always"``: the loop compiles to the same machine code as a loop written
out by hand (and vectorises where the scalar code does).

Cache names carry a hash of the scalar functions' bytecode (``<op>_forward_<hash>``), so editing
a declaration compiles anew instead of loading the old code (Numba's own key covers only the
template's file).
"""
import hashlib
import types

import numpy as np  # noqa: F401  (for the scalar functions' globals)
from numba import prange

from . import _jit
from .pointwise import _K32, _K64


# ----------------------------------------------------------------------------- templates
# ``f`` / ``df``: the op's scalar functions; each template's arity is in its name
def unary(x, out):
    for i in prange(out.size):
        out[i] = f(x[i])  # noqa: F821


def unary_1(x, p, out):
    for i in prange(out.size):
        out[i] = f(x[i], p)  # noqa: F821


def unary_2(x, p, q, out):
    for i in prange(out.size):
        out[i] = f(x[i], p, q)  # noqa: F821


def unary_vjp(grad, x, result, out):
    for i in prange(out.size):
        out[i] = df(grad[i], x[i], result[i])  # noqa: F821


def unary_vjp_1(grad, x, result, p, out):
    for i in prange(out.size):
        out[i] = df(grad[i], x[i], result[i], p)  # noqa: F821


def unary_vjp_2(grad, x, result, p, q, out):
    for i in prange(out.size):
        out[i] = df(grad[i], x[i], result[i], p, q)  # noqa: F821


FORWARD = (unary, unary_1, unary_2)
VJP = (unary_vjp, unary_vjp_1, unary_vjp_2)


def binary(a, b, out):
    for i in prange(out.size):
        out[i] = f(a[i], b[i])  # noqa: F821


def binary_scalar(a, s, out):
    for i in prange(out.size):
        out[i] = f(a[i], s)  # noqa: F821


# A binary vjp loop takes only the arrays its function reads (each array argument costs the call
# ~70 ns of Numba's dispatch): ``binary_vjp_<read>``, <read> from a (operand a), b (operand b),
# y (the result); what is not read is passed as ``grad``'s element, dead code once inlined.
def binary_vjp_(grad, out):
    for i in prange(out.size):
        g = grad[i]
        out[i] = df(g, g, g, g)  # noqa: F821


def binary_vjp_a(grad, a, out):
    for i in prange(out.size):
        g = grad[i]
        out[i] = df(g, a[i], g, g)  # noqa: F821


def binary_vjp_b(grad, b, out):
    for i in prange(out.size):
        g = grad[i]
        out[i] = df(g, g, b[i], g)  # noqa: F821


def binary_vjp_ab(grad, a, b, out):
    for i in prange(out.size):
        g = grad[i]
        out[i] = df(g, a[i], b[i], g)  # noqa: F821


def binary_vjp_y(grad, result, out):
    for i in prange(out.size):
        g = grad[i]
        out[i] = df(g, g, g, result[i])  # noqa: F821


def binary_vjp_ay(grad, a, result, out):
    for i in prange(out.size):
        g = grad[i]
        out[i] = df(g, a[i], g, result[i])  # noqa: F821


def binary_vjp_by(grad, b, result, out):
    for i in prange(out.size):
        g = grad[i]
        out[i] = df(g, g, b[i], result[i])  # noqa: F821


def binary_vjp_aby(grad, a, b, result, out):
    for i in prange(out.size):
        out[i] = df(grad[i], a[i], b[i], result[i])  # noqa: F821


BINARY_VJP = {"": binary_vjp_, "a": binary_vjp_a, "b": binary_vjp_b, "ab": binary_vjp_ab, "y": binary_vjp_y,
              "ay": binary_vjp_ay, "by": binary_vjp_by, "aby": binary_vjp_aby}


def binary_vjp_scalar(grad, s, out):
    # tensor <op> Python scalar: the vjp reads only the gradient and the scalar
    for i in prange(out.size):
        g = grad[i]
        out[i] = df(g, g, s, g)  # noqa: F821


def reads(fn) -> str:
    """Which of a vjp ``(g, a, b, y)``'s operands its body reads: a subset of "aby", in that order."""
    import dis

    code = getattr(fn, "py_func", fn).__code__
    names = code.co_varnames[:code.co_argcount]
    loaded = {ins.argval for ins in dis.get_instructions(code) if ins.opname.startswith("LOAD_FAST")}
    return "".join(k for k, name in zip("aby", names[1:4]) if name in loaded)


# ----------------------------------------------------------------------------- instantiation
def _digest(*scalars) -> str:
    """A hash of the scalar functions' bytecode, and of the njit helpers they call (found through
    their global names, also as ``module.helper``), so editing any of them compiles anew."""
    h = hashlib.sha1()
    seen = set()
    todo = list(scalars)
    while todo:
        fn = todo.pop(0)
        fn = getattr(fn, "py_func", fn)
        if id(fn) in seen or not hasattr(fn, "__code__"):
            continue
        seen.add(id(fn))
        code = fn.__code__
        h.update(code.co_code)
        h.update(repr((code.co_names, [c for c in code.co_consts if not hasattr(c, "co_code")])).encode())
        for name in code.co_names:
            obj = fn.__globals__.get(name)
            if hasattr(obj, "py_func"):
                todo.append(obj)
            elif isinstance(obj, types.ModuleType):  # module.helper
                todo.extend(getattr(obj, attr) for attr in code.co_names
                            if hasattr(getattr(obj, attr, None), "py_func"))
    return h.hexdigest()[:10]


def instantiate(template, name: str, **scalars):
    """``template`` with its free names bound to ``scalars`` (njit functions), compiled as the
    kernel ``name`` and its parallel twin; also bound in this module as ``name`` /
    ``name_parallel``."""
    namespace = dict(template.__globals__, **scalars)
    qualname = f"{name}_{_digest(*scalars.values())}"
    fn = _jit._copy_function(template, name, qualname, namespace)
    serial = _jit.twin(error_model="numpy")(fn)  # (binds ``name_parallel`` here)
    globals()[name] = serial
    return serial


def scalar(fn):
    """A function of one element, for the templates: compiled into each loop that calls it (an
    already compiled one is returned as it is)."""
    if hasattr(fn, "py_func"):
        return fn
    return _jit.njit(inline="always", error_model="numpy")(fn)


@scalar
def constants(x):
    """``0.5, 1, 3, 2/sqrt(pi), ...`` (``kernels.pointwise._Consts``) in ``x``'s float type, so
    float32 math stays float32 (a Python float literal would promote it to float64)."""
    return _K32 if isinstance(x, np.float32) else _K64
