"""Generated kernels for fused regions, and their on-disk cache.

A region (``fuse.Region``) is a chain of elementwise ops over arrays of one shape and dtype,
declared from scalar math (``ops.registry.SCALAR_DEFS``), optionally ended by a full ``sum`` /
``mean``.  :func:`kernels_for` writes one Python module per region structure holding its loops:

* ``forward(n, x.., z.., s.., o..)``: one pass computing, per element, every op of the region
  from its inputs (``x``: full arrays, ``z``: 0-d inputs as 1-element arrays, ``s``: Python
  scalars cast to the dtype), storing the values used outside the region in ``o..`` and
  returning the reduction's float64 sum (0.0 without one);
* ``backward(n, x.., z.., s.., g.., gr, gx..)``: the same values recomputed from the inputs (a
  region saves its inputs, never its intermediates), then the adjoints accumulated in reverse
  op order with each op's vjps (a value used twice sums its adjoints); ``g..`` are the incoming
  gradients of the region's differentiable outputs, ``gr`` the reduction's, ``gx..`` receive the
  full inputs' gradients and the 0-d inputs' gradients are returned as float64 sums;
* ``forward_grad(n, x.., z.., s.., o.., gr, gx..)``, for a region whose only differentiable
  output is its full reduction (``loss = f(x).sum()``): both in one pass, for a gradient ``gr``
  of 1 (the backward then scales by the real one, or hands the arrays over when it is 1).

The source goes to ``<cache dir>/<sha>.py`` and is imported from there, so Numba's
``cache=True`` (which keys on the source file) keeps the machine code across processes.  The
sha covers the source, jitgrad's and Numba's versions and the bytecode of every scalar function
the kernels inline, so a changed op never loads a stale kernel.
"""
import hashlib
import importlib.util
import os
import sys
import tempfile
import threading

import numba

from .. import __version__ as _jitgrad_version
from ..kernels import _jit, loops
from ..ops.registry import SCALAR_DEFS

GRAD, NEG_GRAD = "grad", "-grad"  # (ops/elementwise.py's vjp markers)

_modules: dict = {}  # sha -> imported module, for this process
_lock = threading.Lock()


def cache_dir() -> str:
    """``$NUMBA_CACHE_DIR/jitgrad_compiled`` if set, else ``~/.cache/jitgrad/compiled`` (never
    the package directory: installs may be read-only)."""
    base = os.environ.get("NUMBA_CACHE_DIR")
    if base:
        return os.path.join(base, "jitgrad_compiled")
    return os.path.join(os.path.expanduser("~"), ".cache", "jitgrad", "compiled")


# ----------------------------------------------------------------------------- source
_BLOCK = 4096  # elements per block of a reducing forward loop


@_jit.njit(cache=True, inline="always")
def block_sum(buf, m):
    """``buf[:m].sum()`` with four independent partial sums (pipelined, and more accurate than
    one running sum)."""
    s0 = s1 = s2 = s3 = 0.0
    j = 0
    while j + 4 <= m:
        s0 += buf[j]
        s1 += buf[j + 1]
        s2 += buf[j + 2]
        s3 += buf[j + 3]
        j += 4
    while j < m:
        s0 += buf[j]
        j += 1
    return (s0 + s1) + (s2 + s3)


def _operand(desc) -> str:
    kind, k = desc
    return {"x": f"e{k}", "z": f"c{k}", "s": f"s{k}", "v": f"v{k}"}[kind]


def _signature(region) -> list:
    return ([f"x{k}" for k in range(region.n_full)] + [f"z{k}" for k in range(region.n_zero)]
            + [f"s{k}" for k in range(region.n_scalar)])


def _prologue(region) -> list:
    return [f"    c{k} = z{k}[0]" for k in range(region.n_zero)]


def _recompute(region) -> list:
    lines = [f"        e{k} = x{k}[i]" for k in range(region.n_full)]
    for j, (name, operands) in enumerate(region.ops):
        lines.append(f"        v{j} = F{j}({', '.join(map(_operand, operands))})")
    return lines


def _adjoints(region) -> list:
    """The element loop's reverse sweep (at the loop body's indentation): each differentiable
    output's adjoint seeded (``g{m}[i]``, the reduction's ``gr``), the ops' vjps applied in reverse
    order (a value used twice sums its adjoints), the full inputs' gradients stored in ``gx{k}``
    and the 0-d inputs' added to ``r{k}``."""
    lines = []
    started = set()

    def contribute(target, expr):
        if target in started:
            lines.append(f"        {target} = {target} + {expr}")
        else:
            started.add(target)
            lines.append(f"        {target} = {expr}")

    def adjoint_name(desc):
        kind, k = desc
        if kind == "v":
            return f"dv{k}" if region.value_needs[k] else None
        if kind == "x":
            return f"dx{k}" if region.full_needs[k] else None
        if kind == "z":
            return f"dz{k}" if region.zero_needs[k] else None
        return None  # a Python scalar

    for m, j in enumerate(region.grad_outputs):
        contribute(f"dv{j}", f"g{m}[i]")
    if region.reduce_needs:
        target = adjoint_name(region.reduce_operand)
        if target is not None:
            contribute(target, "gr")
    for j in reversed(range(len(region.ops))):
        if f"dv{j}" not in started:
            continue
        name, operands = region.ops[j]
        for p, (desc, vjp) in enumerate(zip(operands, SCALAR_DEFS[name].vjps)):
            target = adjoint_name(desc)
            if target is None:
                continue
            if vjp == GRAD:
                expr = f"dv{j}"
            elif vjp == NEG_GRAD:
                expr = f"-dv{j}"
            else:
                expr = f"D{j}_{p}({', '.join([f'dv{j}'] + [_operand(d) for d in operands] + [f'v{j}'])})"
            contribute(target, expr)
    for k in range(region.n_full):
        if region.full_needs[k]:
            lines.append(f"        gx{k}[i] = {'dx%d' % k if f'dx{k}' in started else '0'}")
    for k in range(region.n_zero):
        if region.zero_needs[k] and f"dz{k}" in started:
            lines.append(f"        r{k} += dz{k}")
    return lines


def _reducing_loop(region, body) -> list:
    """A forward loop whose reduction still vectorises: a running sum in the element loop would
    not (float additions may not be reordered), so per block the loop stores the reduced values in
    a buffer and four independent float64 partial sums add them up (``block_sum``); the blocks'
    sums are a prange reduction.  ``body``: the element loop's lines (loop body indentation)."""
    return (["    acc = 0.0", f"    for b in prange((n + {_BLOCK - 1}) // {_BLOCK}):",
             f"        start = b * {_BLOCK}", f"        m = min({_BLOCK}, n - start)",
             f"        buf = np.empty({_BLOCK}, x0.dtype)", "        for k in range(m):", "            i = start + k"]
            + ["    " + line for line in body]
            + [f"            buf[k] = {_operand(region.reduce_operand)}", "        acc += _block_sum(buf, m)",
               "    return acc"])


def gradient_in_forward(region) -> bool:
    """Whether the forward kernel may also compute the gradients (``forward_grad``): the region's
    only differentiable output is its full reduction, so its gradient is ``gr`` times what a
    gradient of 1 gives, known at forward time, and one pass does both (backward then only scales)."""
    return region.reduce_needs and not region.grad_outputs and not any(region.zero_needs)


def generate(region) -> str:
    """The module source of ``region``'s loops: ``forward``, ``backward`` and, where
    :func:`gradient_in_forward`, ``forward_grad``."""
    head = ["# generated by jitgrad.compile: one fused region (see jitgrad/compiler/codegen.py)",
            "import numpy as np", "from numba import prange", "from jitgrad.kernels._jit import twin",
            "from jitgrad.compiler.codegen import block_sum as _block_sum",
            "from jitgrad.ops.registry import SCALAR_DEFS as _DEFS", ""]
    for j, (name, _) in enumerate(region.ops):
        head.append(f"F{j} = _DEFS[{name!r}].forward")
        for p, vjp in enumerate(SCALAR_DEFS[name].vjps):
            if vjp not in (GRAD, NEG_GRAD):
                head.append(f"D{j}_{p} = _DEFS[{name!r}].vjps[{p}]")
    args = _signature(region)
    outs = [f"o{m}" for m in range(len(region.outputs))]
    stores = [f"        o{m}[i] = v{j}" for m, j in enumerate(region.outputs)]
    gxs = [f"gx{k}" for k in range(region.n_full) if region.full_needs[k]]
    decorate = ["", "", '@twin(error_model="numpy")']

    fwd = decorate + [f"def forward({', '.join(['n'] + args + outs)}):"] + _prologue(region)
    if region.reduce is None:
        fwd += ["    for i in prange(n):"] + _recompute(region) + stores + ["    return 0.0"]
    else:
        fwd += _reducing_loop(region, _recompute(region) + stores)

    gouts = [f"g{m}" for m in range(len(region.grad_outputs))]
    zero_sums = [k for k in range(region.n_zero) if region.zero_needs[k]]
    bwd = decorate + [f"def backward({', '.join(['n'] + args + gouts + ['gr'] + gxs)}):"] + _prologue(region)
    bwd += [f"    r{k} = 0.0" for k in zero_sums]
    bwd += ["    for i in prange(n):"] + _recompute(region) + _adjoints(region)
    bwd.append(f"    return ({''.join(f'r{k}, ' for k in zero_sums)})" if zero_sums else "    return 0.0")

    both = []
    if gradient_in_forward(region):
        both = decorate + [f"def forward_grad({', '.join(['n'] + args + outs + ['gr'] + gxs)}):"]
        both += _prologue(region) + _reducing_loop(region, _recompute(region) + stores + _adjoints(region))
    return "\n".join(head + fwd + bwd + both) + "\n"


# ----------------------------------------------------------------------------- cache
def _sha(source: str, region) -> str:
    h = hashlib.sha256(source.encode())
    h.update(f"jitgrad {_jitgrad_version} numba {numba.__version__}".encode())
    scalars = []
    for name, _ in region.ops:
        d = SCALAR_DEFS[name]
        scalars += [d.forward] + [v for v in d.vjps if v not in (GRAD, NEG_GRAD)]
    if scalars:
        h.update(loops._digest(*scalars).encode())
    return h.hexdigest()[:32]


def _write_atomically(path: str, source: str) -> None:
    """Write ``source`` to ``path`` unless it is there already: a temporary file renamed into
    place, so two processes writing the same kernel both succeed and no reader sees half a file."""
    if os.path.exists(path):
        return
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(source)
        if not os.path.exists(path):  # (keep the first writer's file: its mtime keys Numba's cache)
            os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def kernels_for(region):
    """``(forward, backward, forward_grad or None)``: the serial kernels of ``region``
    (``_jit.PARALLEL`` holds their parallel twins), from this process's modules, the on-disk
    cache, or newly generated."""
    source = generate(region)
    sha = _sha(source, region)
    with _lock:
        module = _modules.get(sha)
        if module is None:
            path = os.path.join(cache_dir(), f"{sha}.py")
            _write_atomically(path, source)
            name = f"jitgrad_compiled_{sha}"
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # (twin binds the parallel kernels on the module by name)
            spec.loader.exec_module(module)
            _register_twins(module)
            _modules[sha] = module
    return module.forward, module.backward, getattr(module, "forward_grad", None)


def _register_twins(module) -> None:
    """Route the module's parallel twins like jitgrad's own (``kernels._install_lazy_pool``): the
    thread pool starts at the first parallel call; serial kernels after a fork or with one thread."""
    from .. import kernels
    from ..kernels import _jit

    for serial in (module.forward, module.backward, getattr(module, "forward_grad", None)):
        if serial is None:
            continue
        site = _jit.TWIN_SITES[serial]
        parallel = getattr(*site)
        kernels._TWINS.append((_jit.PARALLEL, *site, serial, parallel, kernels._make_starter(*site),
                               kernels._make_guarded(serial, parallel)))
    kernels._reroute()
