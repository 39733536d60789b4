"""Unary elementwise ops, each declared once.

A declaration (:func:`unary_op`) says everything about an op in one place::

    sinh = unary_op(
        "sinh", "SinhBackward0",
        forward=lambda x: np.sinh(x),               # the value, for one element
        vjp=lambda g, x, y: g * np.cosh(x),          # d(result)/dx * g, for one element (y: the result)
        saves="input",                               # what backward reads: "input", "result" or "both"
        graph=lambda g, x, y: g * cosh(x),           # the same vjp on Tensors, for create_graph=True
        samples=uniform(-2.0, 2.0))                  # inputs for gradcheck / the comparison with PyTorch

and from it come: the serial loop and its parallel twin for the forward and for the vjp
(``kernels/loops.py`` instantiates its templates with the scalar functions, compiled
``inline``), the op ``jitgrad.sinh`` / ``Tensor.sinh``, the node class ``SinhBackward0``, the
in-place ``sinh_``, and the op table rows that gradcheck, gradgradcheck, the comparison with
PyTorch and the hostile-input fuzzer read.  Dtype rules are options: integer inputs compute in
the default float dtype (PyTorch's ``exp(int_tensor)``), keep their dtype (``ints="keep"``: abs,
relu), or raise PyTorch's kernel error (``ints="error"``); float16 computes in float32.

:func:`unary_template` is the op half on its own (kernels in, op out): the activations with
parameters and their own signatures (``ops/pointwise.py``) use it directly.
"""
import builtins

import numpy as np

from .. import _dtype
from ..autograd.graph import next_seq
from ..kernels import _jit, loops
from ..kernels import vmath as vm  # jitgrad's vectorisable exp/log/tanh/sigmoid/erf/log1p/expm1
from ..kernels.elementwise import PARALLEL_THRESHOLD
from ..tensor import Tensor, edge
from . import registry
from .elementwise import _via_float32
from .inplace import _inplace
from .registry import OpInfo, define_node, register, saved_tensors

_state = registry._state
_F16 = np.dtype(np.float16)
_F32_MAX = float(np.finfo(np.float32).max)
_INF = float("inf")
_PARALLEL = _jit.PARALLEL
_NOTHING = (None, None)

scalar = loops.scalar


def _type_name(dt: np.dtype) -> str:
    """PyTorch's scalar type name in kernel errors: 'Long', 'Int', 'Bool' ..."""
    return _dtype.from_numpy_dtype(dt)._legacy[:-6]


def _cast_params(dt, params):
    """The scalar parameters in the array's dtype (a Python float would move float32 loops to
    float64); PyTorch's RuntimeError where a finite one overflows float32."""
    if dt == np.float32:
        for p in params:
            if _F32_MAX < builtins.abs(p) < _INF:
                raise RuntimeError("value cannot be converted to type float without overflow")
    return [dt.type(p) for p in params]


# ============================================================================ the op template
def unary_template(name, node_name, forward, backward, *, saves, graph=None, nparams=0, ints=None,
                   cpu_kernel=None, bool_error=None):
    """``op(input, *params) -> Tensor`` from a kernel pair ``forward(x, *params, out)`` and
    ``backward(grad, x, result, *params, out)`` on flat arrays.

    ``saves``: what backward reads ('input', 'result', 'both' or 'nothing'; what is not saved
    arrives as the gradient array, never read).  ``ints``: integer/bool inputs compute in the default float dtype
    ('float'), keep their dtype ('keep'), or raise PyTorch's NotImplementedError naming
    ``cpu_kernel`` ('error'; the default when a ``cpu_kernel`` is named, else 'float').  ``bool_error``: (exception class, message) for bool input.
    ``graph(g, x, y, *params)``: the vjp on Tensors (for ``create_graph=True``).  Above
    ``PARALLEL_THRESHOLD`` elements the kernels' parallel twins run, where they have one.
    """
    save_x = saves in ("input", "both")
    save_y = saves in ("result", "both")
    if ints is None:
        ints = "error" if cpu_kernel else "float"
    new_tensor = Tensor.__new__
    new_node_obj = object.__new__
    state = _state

    def run(input: Tensor, *, params: tuple = ()) -> Tensor:
        xd = input._data
        dt = xd.dtype
        if dt.kind != "f":
            if dt.kind == "b" and bool_error is not None:
                raise bool_error[0](bool_error[1])
            if ints == "error":
                raise NotImplementedError(f"\"{cpu_kernel}\" not implemented for '{_type_name(dt)}'")
            if ints == "float":
                dt = _dtype.get_default_dtype().np
                xd = xd.astype(dt)
        if dt is _F16:
            return _via_float32(lambda t: run(t, params=params), input)
        x = xd.ravel()
        out = np.empty(xd.shape, dt)
        y = out.ravel()
        kernel = forward if y.size < PARALLEL_THRESHOLD else _PARALLEL.get(forward, forward)
        if params:
            kernel(x, *_cast_params(dt, params), y)
        else:
            kernel(x, y)
        # registry.result/new_node, inlined: one call less per op is ~70 ns, 5% of a small op
        # (the binary template does the same; both are the hottest paths in jitgrad)
        t = new_tensor(Tensor)
        t._data = out
        t._vc = [0]
        t._output_nr = 0
        if state.enabled and input._requires_grad:
            node = new_node_obj(node_cls)
            node.next_functions = (edge(input),)
            node._seq = next_seq()
            # version records of what was saved (the result is output 0 of this node)
            if save_x and save_y:
                node._saved = (x, y)
                node._versions = ((input._vc, input._vc[0], xd, input), (t._vc, 0, out, 0))
            elif save_x:
                node._saved = (x, None)
                node._versions = ((input._vc, input._vc[0], xd, input),)
            elif save_y:
                node._saved = (None, y)
                node._versions = ((t._vc, 0, out, 0),)
            else:  # nothing saved: like PyTorch, such a node may run backward again
                node._saved = None
                node._versions = ()
            node._ctx = (xd.shape, params)  # (input shape, scalar parameters)
            t._requires_grad = True
            t.grad_fn = node
        else:
            t._requires_grad = False
            t.grad_fn = None
        return t

    def _backward(node, grads):
        x, y = node._saved or _NOTHING
        shape, params = node._ctx
        g = grads[0].ravel()
        gx = np.empty(g.size, g.dtype)
        kernel = backward if g.size < PARALLEL_THRESHOLD else _PARALLEL.get(backward, backward)
        if params:
            kernel(g, g if x is None else x, g if y is None else y, *[g.dtype.type(p) for p in params], gx)
        else:
            kernel(g, g if x is None else x, g if y is None else y, gx)
        return (gx.reshape(shape),)

    def _graph(node, grads):
        saved = saved_tensors(node)
        _, params = node._ctx
        return (graph(grads[0], saved[0] if save_x else None, saved[-1] if save_y else None, *params),)

    if nparams:  # the public wrappers pass exactly nparams floats
        def op(input: Tensor, *params) -> Tensor:
            return run(input, params=params)
    else:  # ``run`` itself (one call less); a stray positional argument is a TypeError naming the op
        op = run
        op.__code__ = run.__code__.replace(co_name=name, co_qualname=name)

    # (backward returns a fresh array: the engine may hand it on as .grad uncopied)
    node_cls = define_node(node_name, _backward, _graph if graph is not None else None, owns_grads=True)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {name}."
    op.node_cls = node_cls
    op.kernels = (forward, backward)
    return op


def unary_kernels(name, forward, vjp, nparams=0):
    """The kernel pair of an op from its scalar functions: ``<name>_forward`` and
    ``<name>_backward`` (each with its parallel twin), generated by ``kernels/loops.py``."""
    return (loops.instantiate(loops.FORWARD[nparams], f"{name}_forward", f=scalar(forward)),
            loops.instantiate(loops.VJP[nparams], f"{name}_backward", df=scalar(vjp)))


# ============================================================================ the declaration
def unary_op(name, node_name, *, forward, vjp, saves, graph, samples, inplace=True, out=True, aliases=(), dunders=(),
             ints=None, cpu_kernel=None, bool_error=None, notes=""):
    """Declare a unary elementwise op (see the module docstring); returns the op function.
    ``out``: ``jitgrad.<name>`` takes ``out=`` (as PyTorch's does)."""
    forward, vjp = scalar(forward), scalar(vjp)
    fk, bk = unary_kernels(name, forward, vjp)
    registry.SCALAR_DEFS[name] = registry.ScalarDef(name, forward, (vjp,), saves)
    op = unary_template(name, node_name, fk, bk, saves=saves, graph=graph, ints=ints, cpu_kernel=cpu_kernel,
                        bool_error=bool_error)
    op.__doc__ = f"Elementwise {name} (``torch.{name}``)."
    register(OpInfo(name, node_name, op, aliases=aliases, dunders=dunders, samples=samples, notes=notes,
                    extra={"out": out}))
    if inplace:
        op_ = _inplace(op, name + "_")
        register(OpInfo(name + "_", "", op_, aliases=tuple(a + "_" for a in aliases), samples=None,
                        differentiable=False))
        op.inplace = op_
    return op


# ---------------------------------------------------------------------------- samplers
_SHAPES = ((3, 4), (), (2, 3, 2))


def uniform(low=-2.0, high=2.0):
    """Samples drawn uniformly from ``[low, high]``."""
    return lambda rng: [((rng.uniform(low, high, s),), {}) for s in _SHAPES]


def away_from_zero(rng):
    """Samples at least 0.3 from 0 (for ops with a kink or a pole there)."""
    return [((np.asarray(rng.uniform(0.3, 2.0, s) * rng.choice([-1.0, 1.0], s)),), {}) for s in _SHAPES]


_K = loops.constants  # (half, one, two_over_sqrt_pi, ...) in the element's float type
_abs = builtins.abs  # (``abs`` below is the op)
_LN2 = float(np.log(2.0))


# ============================================================================ the ops

exp = unary_op("exp", "ExpBackward0", forward=lambda x: vm.exp(x), vjp=lambda g, x, y: g * y, saves="result",
               graph=lambda g, x, y: g * y, samples=uniform())
log = unary_op("log", "LogBackward0", forward=lambda x: vm.log(x), vjp=lambda g, x, y: g / x, saves="input",
               graph=lambda g, x, y: g / x, samples=uniform(0.5, 2.0))
sqrt = unary_op("sqrt", "SqrtBackward0", forward=lambda x: np.sqrt(x), vjp=lambda g, x, y: g / (2 * y),
                saves="result", graph=lambda g, x, y: g / (2 * y), samples=uniform(0.5, 2.0))
sin = unary_op("sin", "SinBackward0", forward=lambda x: np.sin(x), vjp=lambda g, x, y: g * np.cos(x),
               saves="input", graph=lambda g, x, y: g * x.cos(), samples=uniform())
cos = unary_op("cos", "CosBackward0", forward=lambda x: np.cos(x), vjp=lambda g, x, y: -g * np.sin(x),
               saves="input", graph=lambda g, x, y: -g * x.sin(), samples=uniform())
tan = unary_op("tan", "TanBackward0", forward=lambda x: np.tan(x), vjp=lambda g, x, y: g * (1 + y * y),
               saves="result", graph=lambda g, x, y: g * (y * y + 1), samples=uniform(-1.2, 1.2))
tanh = unary_op("tanh", "TanhBackward0", forward=lambda x: vm.tanh(x), vjp=lambda g, x, y: g * (1 - y * y),
                saves="result", graph=lambda g, x, y: g * (1 - y * y), samples=uniform())
sigmoid = unary_op("sigmoid", "SigmoidBackward0", forward=lambda x: vm.sigmoid(x),
                   vjp=lambda g, x, y: g * y * (1 - y), saves="result", graph=lambda g, x, y: g * y * (1 - y),
                   samples=uniform())
reciprocal = unary_op("reciprocal", "ReciprocalBackward0", forward=lambda x: 1 / x,
                      vjp=lambda g, x, y: -g * y * y, saves="result", graph=lambda g, x, y: -g * y * y,
                      samples=away_from_zero)
# abs: sign(x) * g with sign(0) = 0, as in PyTorch; integers stay integers
abs = unary_op("abs", "AbsBackward0", forward=lambda x: _abs(x),  # noqa: A001 - PyTorch's name
               vjp=lambda g, x, y: g if x > 0 else (-g if x < 0 else 0), saves="input",
               graph=lambda g, x, y: g * x.sign(), samples=away_from_zero, aliases=("absolute",),
               dunders=("__abs__",), ints="keep", bool_error=(NotImplementedError, '"abs_cpu" not implemented for \'Bool\''))
# relu: NaN and -0. pass through (clamp_min(x, 0) keeps -0.); the gradient is zero where the result
# is <= 0 (PyTorch's threshold_backward), so a NaN result passes it
relu = unary_op("relu", "ReluBackward0", forward=lambda x: 0 if x < 0 else x,
                vjp=lambda g, x, y: 0 if y <= 0 else g, saves="result",
                graph=lambda g, x, y: g * (y <= 0).logical_not(), samples=away_from_zero, ints="keep", out=False,
                bool_error=(RuntimeError, '"clamp_min_cpu" not implemented for \'Bool\''))
log1p = unary_op("log1p", "Log1PBackward0", forward=lambda x: vm.log1p(x), vjp=lambda g, x, y: g / (x + 1),
                 saves="input", graph=lambda g, x, y: g / (x + 1), samples=uniform(-0.5, 2.0))
expm1 = unary_op("expm1", "Expm1Backward0", forward=lambda x: vm.expm1(x), vjp=lambda g, x, y: g * (y + 1),
                 saves="result", graph=lambda g, x, y: g * (y + 1), samples=uniform())
asin = unary_op("asin", "AsinBackward0", forward=lambda x: np.arcsin(x), vjp=lambda g, x, y: g / np.sqrt(1 - x * x),
                saves="input", graph=lambda g, x, y: g / (1 - x * x).sqrt(), samples=uniform(-0.9, 0.9),
                aliases=("arcsin",))
acos = unary_op("acos", "AcosBackward0", forward=lambda x: np.arccos(x),
                vjp=lambda g, x, y: -g / np.sqrt(1 - x * x), saves="input",
                graph=lambda g, x, y: -g / (1 - x * x).sqrt(), samples=uniform(-0.9, 0.9), aliases=("arccos",))
atan = unary_op("atan", "AtanBackward0", forward=lambda x: np.arctan(x), vjp=lambda g, x, y: g / (1 + x * x),
                saves="input", graph=lambda g, x, y: g / (x * x + 1), samples=uniform(), aliases=("arctan",))
sinh = unary_op("sinh", "SinhBackward0", forward=lambda x: np.sinh(x), vjp=lambda g, x, y: g * np.cosh(x),
                saves="input", graph=lambda g, x, y: g * cosh(x), samples=uniform())
cosh = unary_op("cosh", "CoshBackward0", forward=lambda x: np.cosh(x), vjp=lambda g, x, y: g * np.sinh(x),
                saves="input", graph=lambda g, x, y: g * sinh(x), samples=uniform())
exp2 = unary_op("exp2", "Exp2Backward0", forward=lambda x: np.exp2(x), vjp=lambda g, x, y: g * y * _LN2,
                saves="result", graph=lambda g, x, y: g * y * _LN2, samples=uniform())
# d erf = 2/sqrt(pi) exp(-x^2)
erf = unary_op("erf", "ErfBackward0", forward=lambda x: vm.erf(x),
               vjp=lambda g, x, y: g * _K(x).two_over_sqrt_pi * vm.exp(-x * x), saves="input",
               graph=lambda g, x, y: g * (2 / np.sqrt(np.pi)) * exp(-(x * x)), samples=uniform())


# ---------------------------------------------------------------------------- issue 11: more math
def _zeros(g, x, y):
    """The double-backward of a piecewise-constant op: PyTorch's ``zeros_like(grad)`` (no graph)."""
    from ..factories import zeros_like

    return zeros_like(g)


_LN10 = float(np.log(10.0))


@scalar
def _round_half_even(x):
    # np.rint for floats (PyTorch's nearbyint: ties to even); integers are their own rounding
    return np.rint(x) if (isinstance(x, np.float32) or isinstance(x, np.float64)) else x


def _no_bool(kernel):
    return (NotImplementedError, f"\"{kernel}\" not implemented for 'Bool'")


# floor/ceil/trunc/round: integer inputs keep their dtype (np.floor of an integer is that integer
# in Numba, exact past 2**53), bool raises PyTorch's kernel error; the gradient is zero everywhere
# (derivatives.yaml: zeros_like(grad)), so the samples need avoid nothing
floor = unary_op("floor", "FloorBackward0", forward=lambda x: np.floor(x), vjp=lambda g, x, y: 0, saves="nothing",
                 graph=_zeros, samples=uniform(), ints="keep", bool_error=_no_bool("floor_vml_cpu"))
ceil = unary_op("ceil", "CeilBackward0", forward=lambda x: np.ceil(x), vjp=lambda g, x, y: 0, saves="nothing",
                graph=_zeros, samples=uniform(), ints="keep", bool_error=_no_bool("ceil_vml_cpu"))
trunc = unary_op("trunc", "TruncBackward0", forward=lambda x: np.trunc(x), vjp=lambda g, x, y: 0, saves="nothing",
                 graph=_zeros, samples=uniform(), ints="keep", bool_error=_no_bool("trunc_vml_cpu"), aliases=("fix",))
# frac = x - trunc(x); d/dx = 1 (derivatives.yaml: grad); integers raise
frac = unary_op("frac", "FracBackward0", forward=lambda x: x - np.trunc(x), vjp=lambda g, x, y: g, saves="nothing",
                graph=lambda g, x, y: g, samples=away_from_zero, cpu_kernel="frac_cpu")
# d rsqrt = -0.5 * g * y^3 (PyTorch's order)
rsqrt = unary_op("rsqrt", "RsqrtBackward0", forward=lambda x: _K(x).one / np.sqrt(x),
                 vjp=lambda g, x, y: -_K(x).half * g * (y * y * y), saves="result",
                 graph=lambda g, x, y: g * (y * y * y) * -0.5, samples=uniform(0.5, 2.0))
log2 = unary_op("log2", "Log2Backward0", forward=lambda x: np.log2(x), vjp=lambda g, x, y: g / (x * _LN2),
                saves="input", graph=lambda g, x, y: g / (x * _LN2), samples=uniform(0.5, 2.0))
log10 = unary_op("log10", "Log10Backward0", forward=lambda x: np.log10(x), vjp=lambda g, x, y: g / (x * _LN10),
                 saves="input", graph=lambda g, x, y: g / (x * _LN10), samples=uniform(0.5, 2.0))
# d asinh = g * rsqrt(x^2 + 1), d acosh = g * rsqrt(x^2 - 1), d atanh = g / (1 - x^2) (derivatives.yaml)
asinh = unary_op("asinh", "AsinhBackward0", forward=lambda x: np.arcsinh(x),
                 vjp=lambda g, x, y: g / np.sqrt(x * x + _K(x).one), saves="input",
                 graph=lambda g, x, y: g * rsqrt(x * x + 1), samples=uniform(), aliases=("arcsinh",))
acosh = unary_op("acosh", "AcoshBackward0", forward=lambda x: np.arccosh(x),
                 vjp=lambda g, x, y: g / np.sqrt(x * x - _K(x).one), saves="input",
                 graph=lambda g, x, y: g * rsqrt(x * x - 1), samples=uniform(1.2, 3.0), aliases=("arccosh",))
atanh = unary_op("atanh", "AtanhBackward0", forward=lambda x: np.arctanh(x),
                 vjp=lambda g, x, y: g / (_K(x).one - x * x), saves="input",
                 graph=lambda g, x, y: g / (1 - x * x), samples=uniform(-0.9, 0.9), aliases=("arctanh",))
# sgn on real tensors is sign (NaN and -0. give 0), with its own node; integers and bool keep their
# dtype; sgn_backward is zero for real inputs (PyTorch returns a ZeroTensor there, which the
# table-driven comparisons cannot read: tests/test_idioms.py checks sgn against torch)
sgn = unary_op("sgn", "SgnBackward0", forward=lambda x: (x > 0) - (x < 0), vjp=lambda g, x, y: 0, saves="nothing",
               graph=_zeros, samples=None, ints="keep")
registry.OPS["sgn_"].public = False  # (PyTorch has Tensor.sgn_ but no torch.sgn_)


# round: ties to even; ``decimals`` (keyword only) rounds x * 10^d (x / 10^-d for d < 0) in the
# element's float type, as PyTorch's round_decimals kernel, and is its own node, RoundBackward1,
# which refuses integer inputs even for decimals=0 (only plain round keeps them)
_round = unary_op("round", "RoundBackward0", forward=lambda x: _round_half_even(x), vjp=lambda g, x, y: 0,
                  saves="nothing", graph=_zeros, samples=None, ints="keep", bool_error=_no_bool("round_vml_cpu"),
                  inplace=False)


@scalar
def _round_decimals_value(x, scale, negative):
    return np.rint(x / scale) * scale if negative else np.rint(x * scale) / scale


_round_decimals = unary_template("round", "RoundBackward1",
                                 *unary_kernels("round_decimals", _round_decimals_value.py_func,
                                                lambda g, x, y, scale, negative: 0, nparams=2),
                                 nparams=2, saves="nothing", graph=lambda g, x, y, scale, negative: _zeros(g, x, y))
_NO_DECIMALS = object()


def round(input: Tensor, *, decimals=_NO_DECIMALS) -> Tensor:  # noqa: A001 - PyTorch's name
    """Elementwise rounding to the nearest integer, ties to even (``torch.round``); ``decimals``:
    to that many decimal places (negative: to tens, hundreds ...)."""
    if decimals is _NO_DECIMALS:
        return _round(input)
    if decimals.__class__ is not _dtype._py_int and not isinstance(decimals, np.integer):
        raise TypeError(f"round() received an invalid combination of arguments - got (Tensor, "
                        f"decimals={type(decimals).__name__}), but expected one of:\n"
                        " * (Tensor input, *, Tensor out = None)\n * (Tensor input, *, int decimals, Tensor out = None)\n")
    if not -(1 << 63) <= decimals < (1 << 63):
        raise ValueError("Overflow when unpacking long long")
    dt = input._data.dtype
    if dt.kind != "f":
        kernel = "round_vml_cpu" if decimals == 0 else "round_cpu"
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_type_name(dt)}'")
    d = builtins.abs(int(decimals))
    scale = float(10 ** d) if d <= 308 else _INF  # std::pow(10, d) in double ...
    if dt != np.float64 and scale > _F32_MAX:  # ... then in the op's float type (float16 computes in float)
        scale = _INF
    return _round_decimals(input, scale, 1.0 if decimals < 0 else 0.0)


round.node_cls = _round.node_cls
# (not a fusable op of scalar math: the public round takes decimals=, which a fused call would drop)
del registry.SCALAR_DEFS["round"]
register(OpInfo("round", "RoundBackward0", round, nodes=("RoundBackward1",), extra={"out": True}, samples=lambda rng: [
    *uniform()(rng), ((rng.uniform(-20.0, 20.0, (3, 4)),), {"decimals": 1}),
    ((rng.uniform(-200.0, 200.0, (5,)),), {"decimals": -1})]))
round_ = _inplace(round, "round_")
register(OpInfo("round_", "", round_, samples=None, differentiable=False))
round.inplace = round_
