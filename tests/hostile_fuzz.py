"""Hostile-input fuzzer for every op in ``jitgrad.ops.registry.OPS`` and the optimizers.

Used by ``tests/test_hostile.py``; also a command-line tool:

    python tests/hostile_fuzz.py --worker            # the subprocess the tests drive (JSON lines)
    python tests/hostile_fuzz.py '<case json>'       # run one case and print what happened
    python tests/hostile_fuzz.py --op gather         # run every case of one op, print failures

Cases are *specs*: small JSON dicts ``{"op", "i", "t", "p"}`` -- op name (or ``optim:<Class>``),
sample index, transform name and its parameters.  The inputs are rebuilt from the op's own
``samples`` (seeded), so a spec is a complete, deterministic repro.  The systematic specs apply
every applicable transform to some sample of every op; hypothesis (derandomized) draws extra
specs that combine a transform with random hostile values.

A worker subprocess runs specs one at a time and answers one JSON line per case before taking the
next, so a crash (signal, abort, hang) pins the exact case; the driver then starts a new worker
for the rest.  The oracle, in the worker (``judge``):

* jitgrad must not leak an exception that is not its own: Numba/NumPy exception classes,
  ZeroDivisionError/MemoryError/OverflowError/..., a builtin error raised from inside NumPy or
  Numba code, Numba's bounds-check ``IndexError`` (under NUMBA_BOUNDSCHECK=1), an empty message;
  nor a RuntimeWarning / NumPy warning;
* with torch importable, the same case runs in PyTorch: torch raising where jitgrad returns is a
  silently wrong answer, so are different values (per-dtype tolerance, NaN where NaN), shapes or
  dtypes of outputs and gradients; both raising with different builtin exception kinds fails too.
  jitgrad raising a clean error where torch computes is recorded as a note (a gap, not a crash
  or a wrong answer), not a failure.

Knobs: JITGRAD_FUZZ_CASES (hypothesis cases per op, default 3), JITGRAD_FUZZ_WORKERS (default 2),
JITGRAD_FUZZ_CASE_TIMEOUT (seconds before a case counts as a hang, default 120),
JITGRAD_FUZZ_TORCH=0 (no torch comparison), JITGRAD_FUZZ_REPORT (tests/test_hostile.py: a JSON file
with every case's outcome).  Workers run with glibc's malloc checks (LD_PRELOAD of
libc_malloc_debug, MALLOC_CHECK_=3) and trim the heap after each case, so an out-of-bounds write
aborts in the case that made it; a death that only a sequence reproduces names both cases.
"""
import gc
import json
import math
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings

import numpy as np

SEED = 20240607  # as tests/conftest.py: the samples the other table tests use
HERE = os.path.abspath(__file__)
CASE_TIMEOUT = float(os.environ.get("JITGRAD_FUZZ_CASE_TIMEOUT", "120"))  # cold Numba compiles

# ------------------------------------------------------------------------------- transforms
# Forward transforms of the differentiable float inputs (positional float arrays).
DTYPE_T = {"f32": "float32", "f16": "float16", "i64": "int64", "i32": "int32", "u8": "uint8",
           "bool": "bool", "c128": "complex128"}
VALUE_T = ("nan", "inf", "ninf", "huge", "tiny", "zero", "neg")
LAYOUT_T = ("noncontig", "fortran", "expand", "overlap", "empty0", "emptyl")
# Integer-array arguments (indices, targets): values, dtypes, layouts, mutation after forward.
INDEX_VALUES = (-1, -7, 5, 1000, -1000, 2 ** 31, 2 ** 40, 2 ** 63 - 1, -2 ** 63)
INDEX_T = ("idx_val", "idx_i32", "idx_u8", "idx_f64", "idx_bool", "idx_noncontig", "idx_expand",
           "idx_empty", "idx_mut_data", "idx_mut_inplace")
# Python int arguments (dims, sizes, counts, shape entries).
INT_VALUES = (-1, -9, 9, 10 ** 6, 2 ** 31, 2 ** 62, 2 ** 63, -2 ** 63 - 1, 2 ** 70)
# Backward transforms.
GRAD_T = ("g_shape", "g_f32", "g_int", "g_expand", "g_noncontig", "g_nan", "hook_out_shape",
          "hook_out_dtype", "hook_leaf_shape", "leaf_data_shape", "grad_data_shape", "backward_twice")

OPTIMIZERS = {
    "SGD": [dict(lr=0.1), dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)],
    "Adam": [dict(lr=0.01), dict(lr=0.01, amsgrad=True, weight_decay=0.1)],
    "AdamW": [dict(lr=0.01), dict(lr=0.01, amsgrad=True)],
    "RMSprop": [dict(lr=0.01), dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.1)],
    "Adagrad": [dict(lr=0.1), dict(lr=0.1, lr_decay=0.01, weight_decay=0.1)],
}
OPTIM_T = ("base", "grad_data_shape", "grad_f32", "grad_noncontig", "grad_expand", "grad_nan",
           "grad_none", "param_data_shape", "param_f16", "param_f32", "param_empty", "hook_shape",
           "grad_int")


def _ops():
    from jitgrad.ops.registry import OPS
    return OPS


def _fallback_samples(name, ops):
    """Inputs for an op that declares no samples: its out-of-place twin's (for ``x_``), or a
    generic template by the op's kind (the table declares only a few such kinds)."""
    rng = np.random.default_rng(SEED)
    x = rng.uniform(-2, 2, (3, 4))
    y = rng.uniform(-2, 2, (3, 4))
    row = rng.uniform(-2, 2, (4,))
    mask = np.array([[True, False, True, False]] * 3)
    if name.endswith("_") and name[:-1] in ops and name[:-1] != name:
        base = sample_list(name[:-1], ops)
        if base:
            return base
    if name in ("where",):
        return [((mask, x, y), {})]
    if name in ("masked_fill", "masked_fill_"):
        return [((x, mask, 0.5), {})]
    if name == "setitem":
        return [((x, (1,), 0.5), {}), ((x, (np.array([0, 2]),), row), {})]
    if name == "to" or name == "type_as":
        return [((x, "dtype:float32"), {})] if name == "to" else [((x, y.astype(np.float32)), {})]
    if name in ("fill_",):
        return [((x, 0.5), {})]
    if name in ("copy_",):
        return [((x, y), {}), ((x, row), {})]
    if name in ("lerp_",):
        return [((x, y, 0.3), {})]
    unary = ("bitwise_not", "logical_not", "isnan", "isinf", "isfinite", "sign", "float", "double",
             "half", "long", "int", "short", "bool", "byte", "char", "zero_", "silu_", "neg_", "relu_")
    if name in unary:
        return [((x,), {})]
    return [((x, y), {}), ((x, row), {})]  # comparisons, bitwise/logical, isclose, remainder, ...


def sample_list(name, ops=None):
    """The op's sample inputs: its ``samples`` or a fallback."""
    ops = ops or _ops()
    if name.startswith("optim:"):
        return [((), opts) for opts in OPTIMIZERS[name[6:]]]
    info = ops[name]
    samples = info.samples(np.random.default_rng(SEED)) if info.samples is not None else []
    return samples or _fallback_samples(name, ops)


def _walk(obj, path=()):
    """(path, value) for every leaf of nested args/kwargs (tuples/lists/dicts)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk(v, path + (k,))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _walk(v, path + (i,))
    else:
        yield path, obj


def _is_input(path, v):
    return path[0] == "a" and isinstance(v, np.ndarray) and v.dtype.kind == "f"


def _int_arrays(args, kwargs):
    return [list(p) for p, v in _walk({"a": list(args), "k": kwargs})
            if isinstance(v, np.ndarray) and v.dtype.kind in "iu"]


def _int_scalars(args, kwargs):
    return [list(p) for p, v in _walk({"a": list(args), "k": kwargs})
            if isinstance(v, int) and not isinstance(v, bool)]


def applicable(name, args, kwargs, differentiable):
    """The transforms that make sense for one sample: {transform: [param choices]}."""
    out = {"base": [{}]}
    tree = list(_walk({"a": list(args), "k": kwargs}))
    has_input = any(_is_input(p, v) for p, v in tree)
    if has_input:
        for t in DTYPE_T:
            out[t] = [{}]
        for t in VALUE_T + LAYOUT_T:
            out[t] = [{}]
        if differentiable:
            for t in GRAD_T:
                out[t] = [{}]
    arrays = _int_arrays(args, kwargs)
    for t in INDEX_T:
        if arrays:
            out[t] = [{"path": p, "v": v} for p in arrays for v in INDEX_VALUES]
    ints = _int_scalars(args, kwargs)
    if ints:
        out["int_val"] = [{"path": p, "v": v} for p in ints for v in INT_VALUES]
    return out


def systematic_specs(name, ops=None):
    """Every applicable transform once per op, on the samples in rotation (and every integer
    argument position with a rotating hostile value)."""
    ops = ops or _ops()
    diff = True if name.startswith("optim:") else ops[name].differentiable
    samples = sample_list(name, ops)
    if name.startswith("optim:"):
        return [{"op": name, "i": i, "t": t, "p": {}} for i in range(len(samples)) for t in OPTIM_T]
    per_sample = [applicable(name, a, k, diff) for a, k in samples]
    names = []
    for app in per_sample:
        names += [t for t in app if t not in names]
    specs, k = [], 0
    for t in names:
        hits = [i for i, app in enumerate(per_sample) if t in app]
        if t in ("int_val",) + INDEX_T:  # one case per argument position (and per sample)
            for i in hits:
                seen = set()
                for j, p in enumerate(per_sample[i][t]):
                    key = json.dumps(p["path"])
                    if key not in seen:
                        seen.add(key)
                        vals = INDEX_VALUES if t in INDEX_T else INT_VALUES
                        p = dict(p, v=vals[(k + j) % len(vals)])
                        specs.append({"op": name, "i": i, "t": t, "p": p})
                k += 1
                if t not in ("int_val", "idx_val", "idx_mut_data"):
                    break  # dtype/layout of the index: one sample is enough
            continue
        specs.append({"op": name, "i": hits[k % len(hits)], "t": t, "p": {}})
        k += 1
    return specs


def hypothesis_specs(name, n, ops=None):
    """``n`` extra specs drawn by hypothesis (derandomized: the same on every run): a random
    transform on a random sample, with a random hostile integer for index/int transforms."""
    if n <= 0:
        return []
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    ops = ops or _ops()
    if name.startswith("optim:"):
        return []
    diff = ops[name].differentiable
    samples = sample_list(name, ops)
    apps = [applicable(name, a, k, diff) for a, k in samples]
    drawn = []
    ints = st.one_of(st.sampled_from(INDEX_VALUES + INT_VALUES), st.integers(-2 ** 64, 2 ** 64),
                     st.integers(-10, 10))

    @settings(max_examples=n, derandomize=True, database=None, deadline=None,
              phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck))
    @given(st.data())
    def draw(data):
        i = data.draw(st.integers(0, len(samples) - 1))
        t = data.draw(st.sampled_from(sorted(apps[i])))
        p = dict(data.draw(st.sampled_from(apps[i][t])))
        if "v" in p:
            p["v"] = data.draw(ints)
        spec = {"op": name, "i": i, "t": t, "p": p}
        if spec not in drawn:
            drawn.append(spec)

    draw()
    return drawn


def all_specs(names, extra_per_op=None):
    ops = _ops()
    if extra_per_op is None:
        extra_per_op = int(os.environ.get("JITGRAD_FUZZ_CASES", "3"))
    specs = []
    for name in names:
        own = systematic_specs(name, ops)
        own += [s for s in hypothesis_specs(name, extra_per_op, ops) if s not in own]
        specs += own
    return specs


def all_op_names():
    return sorted(_ops()) + ["optim:" + n for n in OPTIMIZERS]


# =============================================================================== the worker
def _layout(arr, how):
    """A fresh array with ``arr``'s values in the requested memory layout (a copy per library, so
    an in-place op in one cannot touch the other's)."""
    arr = np.array(arr, copy=True)
    if how == "noncontig" and arr.ndim >= 1:
        buf = np.zeros(arr.shape[:-1] + (2 * arr.shape[-1] + 1,), arr.dtype)
        view = buf[..., 1::2]
        view[...] = arr
        return view
    if how == "fortran" and arr.ndim >= 2:
        return np.asfortranarray(arr)
    if how == "overlap" and arr.ndim >= 1 and arr.size > 1:
        # rows overlapping by all but one element: x[i, j] and x[i+1, j-1] share memory
        n = arr.shape[-1]
        lead = int(np.prod(arr.shape[:-1]))
        buf = np.array(arr.reshape(-1)[: lead + n - 1], copy=True)
        if buf.size < lead + n - 1:
            return arr
        strides = tuple(arr.itemsize for _ in arr.shape)
        return np.lib.stride_tricks.as_strided(buf, arr.shape, strides)
    if how == "zero_stride":
        buf = np.array(arr.reshape(-1)[:1] if arr.size else np.zeros(1, arr.dtype), copy=True)
        return np.lib.stride_tricks.as_strided(buf, arr.shape, (0,) * arr.ndim)
    return arr


def _cast(arr, dtype):
    if dtype in ("int64", "int32", "uint8"):
        return np.round(arr * 3).astype(dtype)
    if dtype == "bool":
        return arr > 0
    return arr.astype(dtype)


def _get(tree, path):
    for k in path:
        tree = tree[k]
    return tree


def _set(tree, path, value):
    """Replace the leaf at ``path`` (tuples rebuilt as tuples); NumPy scalars stay 0-d arrays."""
    if isinstance(value, np.generic):
        value = np.asarray(value)
    k, rest = path[0], path[1:]
    if isinstance(tree, tuple):
        items = list(tree)
        items[k] = _set(items[k], rest, value) if rest else value
        return tuple(items)
    tree[k] = _set(tree[k], rest, value) if rest else value
    return tree


def prepare(spec):
    """The case's NumPy-level arguments after the forward transform, and the build plan."""
    ops = _ops()
    name, t, p = spec["op"], spec["t"], spec["p"]
    args, kwargs = sample_list(name, ops)[spec["i"]]
    tree = deep_copy({"a": list(args), "k": dict(kwargs)})  # transforms never touch the sample table
    plan = {"layout": None, "expand": False}
    inputs = [list(pp) for pp, v in _walk(tree) if _is_input(pp, v)]
    floats = [list(pp) for pp, v in _walk(tree) if isinstance(v, np.ndarray) and v.dtype.kind == "f"]
    if t in DTYPE_T:
        for pp in floats:
            _set(tree, pp, _cast(_get(tree, pp), DTYPE_T[t]))
    elif t in VALUE_T:
        for pp in inputs:
            a = np.array(_get(tree, pp), copy=True)
            flat = a.reshape(-1)
            if t == "nan" and a.size:
                flat[0] = np.nan
            elif t == "inf" and a.size:
                flat[0] = np.inf
            elif t == "ninf" and a.size:
                flat[-1] = -np.inf
            elif t == "huge":
                a = a * 1e300
            elif t == "tiny":
                a = a * 1e-310
            elif t == "zero":
                a = np.zeros_like(a)
            elif t == "neg":
                a = -np.abs(a)
            _set(tree, pp, a)
    elif t in ("empty0", "emptyl"):
        for pp in inputs:
            a = _get(tree, pp)
            if a.ndim:
                _set(tree, pp, a[:0] if t == "empty0" else a[..., :0])
    elif t in ("noncontig", "fortran", "overlap"):
        plan["layout"] = t
    elif t == "expand":
        plan["expand"] = True
    elif t in ("idx_val", "int_val"):
        path, v = p["path"], p["v"]
        old = _get(tree, path)
        if isinstance(old, np.ndarray):
            a = np.array(old, copy=True)
            if a.size:
                try:
                    a.reshape(-1)[0] = v
                except OverflowError:  # the value does not fit the array's dtype: widen
                    a = a.astype(object)
                    a.reshape(-1)[0] = v
            _set(tree, path, a)
        else:
            _set(tree, path, v)
    elif t in ("idx_i32", "idx_u8", "idx_f64", "idx_bool"):
        dt = {"idx_i32": "int32", "idx_u8": "uint8", "idx_f64": "float64", "idx_bool": "bool"}[t]
        _set(tree, p["path"], np.abs(_get(tree, p["path"])).astype(dt) if dt == "uint8" else
             _get(tree, p["path"]).astype(dt))
    elif t == "idx_empty":
        a = _get(tree, p["path"])
        _set(tree, p["path"], a[:0] if a.ndim else a)
    plan["idx_layout"] = {"idx_noncontig": "noncontig", "idx_expand": "zero_stride"}.get(t)
    return tree, plan


def deep_copy(obj):
    """A copy of nested dicts/lists/tuples with every array copied."""
    if isinstance(obj, dict):
        return {k: deep_copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [deep_copy(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(deep_copy(v) for v in obj)
    if isinstance(obj, np.ndarray):
        return np.array(obj, copy=True)
    return obj


class Build:
    """One library's arguments for a case: tensors, the leaves that require grad, index tensors."""

    def __init__(self, lib, spec, tree, plan, differentiable):
        self.lib, self.leaves, self.index = lib, [], []
        t = spec["t"]
        grad_ok = differentiable and t not in ("i64", "i32", "u8", "bool")
        idx_path = spec["p"].get("path")

        def conv(path, v):
            if isinstance(v, str) and v.startswith("dtype:"):
                return getattr(lib, v[6:])
            if not isinstance(v, np.ndarray):
                return v
            if v.dtype == object:  # an index value no integer dtype holds: let the library refuse
                return lib.tensor(v.tolist())
            if _is_input(path, v) or (path[0] == "a" and v.dtype.kind == "c"):
                layout = plan["layout"]
                if plan["expand"] and v.ndim >= 1 and v.shape[0] > 1:
                    base = lib.from_numpy(np.array(v[:1], copy=True))
                    if grad_ok:
                        base.requires_grad_(True)
                        self.leaves.append(base)
                    return base.expand(*v.shape)
                x = lib.from_numpy(_layout(v, layout) if layout else np.array(v, copy=True))
                if grad_ok and v.dtype.kind in "fc":
                    x.requires_grad_(True)
                    self.leaves.append(x)
                    if spec["op"].endswith("_") and len(self.leaves) == 1:
                        return x.clone()  # an in-place op needs a non-leaf to write into
                return x
            lay = plan["idx_layout"] if (idx_path is not None and list(path) == list(idx_path)) else None
            x = lib.from_numpy(_layout(v, lay) if lay else np.array(v, copy=True))
            if v.dtype.kind in "iub":
                self.index.append((list(path), x))
            return x

        def rebuild(obj, path):
            if isinstance(obj, dict):
                return {k: rebuild(v, path + (k,)) for k, v in obj.items()}
            if isinstance(obj, list):
                return [rebuild(v, path + (i,)) for i, v in enumerate(obj)]
            if isinstance(obj, tuple):
                return tuple(rebuild(v, path + (i,)) for i, v in enumerate(obj))
            return conv(path, obj)

        built = rebuild(tree, ())
        self.args, self.kwargs = built["a"], built["k"]


def resolve(lib, name, ops):
    """The user-facing callable for op ``name`` in ``lib`` (jitgrad or torch), or None."""
    info = ops.get(name)
    if name == "getitem":
        return lambda x, key: x[key]
    if name == "setitem":
        def setitem(x, key, value):
            x[key] = value
            return x
        return setitem
    if info is not None and info.extra.get("functional"):
        return getattr(lib.nn.functional, name, None)
    if info is not None and info.public:
        fn = getattr(lib, name, None)
        if fn is None and hasattr(lib, "nn"):
            fn = getattr(lib.nn.functional, name, None)
        if callable(fn) and not isinstance(fn, type(getattr(lib, "float32"))):
            return fn
    if name in ("silu_", "leaky_relu_", "elu_", "hardtanh_") and hasattr(lib, "nn"):
        return getattr(lib.nn.functional, name, None) or (
            lambda x, *a, **k: getattr(lib.nn.functional, name[:-1])(x, *a, inplace=True, **k))

    def method(x, *a, **k):
        return getattr(x, name)(*a, **k)
    return method


def _to_np(lib, x):
    if isinstance(x, lib.Tensor):
        x = x.detach()
        try:
            return np.array(x.numpy(), copy=True)
        except Exception:  # noqa: BLE001 - torch bfloat16 etc.
            return np.array(x.to(lib.float64).numpy(), copy=True)
    return x


def _flat_outputs(lib, out):
    if isinstance(out, (tuple, list)):
        res = []
        for o in out:
            res += _flat_outputs(lib, o)
        return res
    return [out]


class Raised(Exception):
    pass


def _exc_record(stage, e):
    tb = traceback.extract_tb(e.__traceback__)
    last = tb[-1].filename if tb else ""
    return {"stage": stage, "type": type(e).__name__, "module": type(e).__module__,
            "builtin": next((c.__name__ for c in type(e).__mro__ if c.__module__ == "builtins"), "?"),
            "msg": str(e).split("\n")[0][:300], "last_frame": last,
            "tb": "".join(traceback.format_exception(type(e), e, e.__traceback__)[-6:])[-1500:]}


def run_case(lib, spec, tree, plan):
    """Run a case in one library: a dict with 'raised' (the exception record, or None), 'values'
    (forward outputs, then gradients, as NumPy/Python values) and 'warnings'."""
    ops = _ops()
    name, t, p = spec["op"], spec["t"], spec["p"]
    rec = {"raised": None, "values": [], "warnings": [], "requires_grad": None}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stage = "build"
        try:
            if name.startswith("optim:"):
                stage = "forward"  # (build, backward and steps: compared as one stage)
                run_optim(lib, spec, rec)
                return rec
            info = ops[name]
            b = Build(lib, spec, tree, plan, info.differentiable)
            fn = resolve(lib, name, ops)
            stage = "forward"
            out = fn(*b.args, **b.kwargs)
            outs = _flat_outputs(lib, out)
            rec["values"] = [("out%d" % i, _to_np(lib, o)) for i, o in enumerate(outs)]
            stage = "backward"
            tensors = [o for o in outs if isinstance(o, lib.Tensor) and o.requires_grad]
            rec["requires_grad"] = [bool(isinstance(o, lib.Tensor) and o.requires_grad) for o in outs]
            if t in ("idx_mut_data", "idx_mut_inplace") and b.index:
                path = p["path"]
                hit = [x for pp, x in b.index if pp == list(path)] or [b.index[0][1]]
                for x in hit:
                    if x.numel():
                        if t == "idx_mut_data":
                            x.data.numpy().reshape(-1)[0] = np.array(p["v"]).astype(x.data.numpy().dtype) \
                                if abs(p["v"]) < 2 ** 31 else np.iinfo(x.data.numpy().dtype).max
                        else:
                            x.fill_(1000 if x.dtype != lib.bool else True)
            if tensors:
                backward(lib, t, tensors[0], b.leaves)
            rec["values"] += [("grad%d" % i, _to_np(lib, leaf.grad) if leaf.grad is not None else None)
                              for i, leaf in enumerate(b.leaves)]
        except Exception as e:  # noqa: BLE001 - the record is the result
            rec["raised"] = _exc_record(stage, e)
    for w in caught:
        rec["warnings"].append({"category": w.category.__name__, "msg": str(w.message)[:200],
                                "file": w.filename})
    return rec


def _weight(out_np, shape):
    w = np.random.default_rng(1).uniform(-1, 1, shape)
    return w.astype(out_np.dtype) if out_np.dtype.kind in "fc" else w


def backward(lib, t, out, leaves):
    o = out.detach().numpy() if hasattr(out.detach(), "numpy") else None
    shape = tuple(out.shape)
    w = _weight(o, shape)
    alt = "float32" if o.dtype != np.float32 else "float64"
    if t == "g_shape":
        w = np.ones(shape + (2,), o.dtype)
    elif t == "g_f32":
        w = w.astype(alt)
    elif t == "g_int":
        w = np.ones(shape, np.int64)
    elif t == "g_expand":
        w = _layout(w, "zero_stride")
    elif t == "g_noncontig":
        w = _layout(w, "noncontig")
    elif t == "g_nan" and w.size:
        w = w.copy()
        w.reshape(-1)[0] = np.nan
    g = lib.from_numpy(w)
    if t == "hook_out_shape":
        out.register_hook(lambda grad: lib.from_numpy(np.zeros(shape + (2,), o.dtype)))
    elif t == "hook_out_dtype":
        out.register_hook(lambda grad: lib.from_numpy(np.zeros(shape, alt)))
    elif t == "hook_leaf_shape" and leaves:
        leaves[0].register_hook(lambda grad: lib.from_numpy(np.zeros(tuple(grad.shape) + (2,), o.dtype)))
    elif t == "leaf_data_shape" and leaves:
        leaves[0].data = lib.from_numpy(np.zeros((7,), o.dtype))
    if t == "grad_data_shape" and leaves:
        out.backward(g, retain_graph=True)
        leaves[0].grad.data = lib.from_numpy(np.zeros((7,), o.dtype))
    if t == "backward_twice":
        out.backward(g)
    out.backward(g)


def run_optim(lib, spec, rec):
    """An optimizer step with a hostile parameter/gradient; values: the parameters after two steps."""
    cls, opts = spec["op"][6:], OPTIMIZERS[spec["op"][6:]][spec["i"]]
    t = spec["t"]
    rng = np.random.default_rng(SEED)
    dtype = {"param_f16": "float16", "param_f32": "float32"}.get(t, "float64")
    shape = (0, 3) if t == "param_empty" else (3, 4)
    p0 = lib.from_numpy(rng.uniform(-1, 1, shape).astype(dtype)).requires_grad_(True)
    p1 = lib.from_numpy(rng.uniform(-1, 1, (4,)).astype(dtype)).requires_grad_(True)
    opt = getattr(lib.optim, cls)([p0, p1], **opts)
    gw = rng.uniform(-1, 1, shape).astype(dtype)
    if t == "hook_shape":
        p0.register_hook(lambda g: lib.from_numpy(np.zeros((5,), dtype)))
    for step in range(2):
        opt.zero_grad()
        if t == "grad_none" and step == 0:
            p0.grad = None
        else:
            loss = (p0 * lib.from_numpy(gw)).sum() + (p1 * p1).sum()
            loss.backward()
        if t == "grad_data_shape":
            p0.grad.data = lib.from_numpy(np.ones((7,), dtype))
        elif t == "grad_int":
            p0.grad.data = lib.from_numpy(np.ones(shape, np.int64))
        elif t == "grad_f32":
            p0.grad.data = lib.from_numpy(gw.astype("float32" if dtype != "float32" else "float64"))
        elif t == "grad_noncontig":
            p0.grad.data = lib.from_numpy(_layout(gw, "noncontig"))
        elif t == "grad_expand":
            p0.grad.data = lib.from_numpy(_layout(gw, "zero_stride"))
        elif t == "grad_nan" and p0.grad is not None and p0.grad.numel():
            p0.grad.data = lib.from_numpy(np.full(shape, np.nan, dtype))
        if t == "param_data_shape" and step == 1:  # the state keeps the old shape
            p0.data = lib.from_numpy(np.ones((5,), dtype))
            p0.grad = lib.from_numpy(np.full((5,), 0.5, dtype))
        opt.step()
    rec["values"] = [("param0", _to_np(lib, p0)), ("param1", _to_np(lib, p1))]


# ------------------------------------------------------------------------------- the oracle
_OK_TYPES = ("RuntimeError", "IndexError", "TypeError", "ValueError", "NotImplementedError")
_TOL = {"float16": (2e-2, 2e-3), "float32": (2e-4, 1e-5), "complex64": (2e-4, 1e-5)}


def leak(raised, beyond_int64=False):
    """Why a jitgrad exception is not a clean, intended error (or None)."""
    if raised is None:
        return None
    mod, last = raised["module"], raised["last_frame"].replace("\\", "/")
    if "index is out of bounds" in raised["msg"]:
        return "Numba bounds check fired (an out-of-range index reached a kernel)"
    if not (mod == "builtins" or mod.startswith("jitgrad")):
        return f"foreign exception class {mod}.{raised['type']}"
    if raised["type"] == "OverflowError" and beyond_int64:
        return None  # PyTorch raises OverflowError for some of these too
    if raised["builtin"] not in _OK_TYPES or raised["type"] in ("OverflowError", "ZeroDivisionError"):
        return f"{raised['type']} is not one of PyTorch's error kinds"
    if "/numpy/" in last or "/numba/" in last:
        return f"raised inside {'NumPy' if '/numpy/' in last else 'Numba'} ({last.split('site-packages/')[-1]})"
    if not raised["msg"].strip():
        return "an exception without a message"
    return None


def _same(a, b, nonfinite_ok=False):
    """None when jitgrad's value ``a`` matches torch's ``b``, else why not."""
    if b is None or a is None:
        return None if a is None and b is None else f"{'None' if a is None else 'a value'} vs torch " \
                                                      f"{'None' if b is None else 'a value'}"
    if isinstance(b, np.ndarray) or isinstance(a, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            return f"shape {a.shape} vs torch {b.shape}"
        if a.dtype != b.dtype:
            return f"dtype {a.dtype} vs torch {b.dtype}"
        if b.dtype.kind in "fc":
            rtol, atol = _TOL.get(b.dtype.name, (1e-7, 1e-9))
            bad = ~np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
            if nonfinite_ok:  # inf vs NaN where the input held inf/NaN/1e300: both non-finite is a match
                bad &= ~(~np.isfinite(a) & ~np.isfinite(b))
            if bad.any():
                i = np.argwhere(bad)[0]
                return f"values differ at {tuple(int(k) for k in i)}: {a[tuple(i)]!r} vs torch {b[tuple(i)]!r} " \
                       f"({int(bad.sum())} of {bad.size})"
            return None
        if not np.array_equal(a, b):
            return f"values differ: {a.reshape(-1)[:6]} vs torch {b.reshape(-1)[:6]}"
        return None
    if isinstance(a, float) and isinstance(b, float) and (a == b or (math.isnan(a) and math.isnan(b))):
        return None
    return None if a == b else f"{a!r} vs torch {b!r}"


NONDETERMINISTIC = {"dropout"}
# torch refusing an input for a reason of its own implementation: jitgrad may compute there
TORCH_GAPS = ("not implemented for", "Integral inputs not supported", "must be contiguous")


def judge(spec, jg, th):
    """('ok' | 'fail' | 'note', kind, detail) for one case."""
    beyond_int64 = isinstance(spec["p"].get("v"), int) and not -2 ** 63 <= spec["p"]["v"] < 2 ** 63
    why = leak(jg["raised"], beyond_int64)
    if why:
        return "fail", "leak", f"{why}: {jg['raised']['type']}: {jg['raised']['msg']}"
    bad_w = [w for w in jg["warnings"] if w["category"] == "RuntimeWarning" or "/numpy/" in w["file"]
             or "/numba/" in w["file"] or "Numba" in w["category"]]
    if bad_w:
        return "fail", "warning", f"{bad_w[0]['category']}: {bad_w[0]['msg']}"
    if th is None:
        return "ok", "", ""
    # a Python int no int64 holds (beyond_int64): torch's error kind there is its argument parser's,
    # and computing with it (roll by 2**63, ...) is not a wrong answer
    jr, tr = jg["raised"], th["raised"]
    if tr is not None and tr["stage"] == "build":
        return "ok", "torch-refuses-input", ""
    if jr is not None and jr["stage"] == "build":
        return "note", "gap", f"jitgrad cannot build the input: {jr['type']}: {jr['msg']}"
    if tr is not None and jr is None:
        if any(gap in tr["msg"] for gap in TORCH_GAPS):
            return "note", "torch-gap", f"torch: {tr['type']}: {tr['msg']}"
        if beyond_int64:
            return "note", "int-overflow", f"torch refuses the int ({tr['type']}: {tr['msg']}), jitgrad computes"
        return "fail", "silent", f"torch raises {tr['type']} at {tr['stage']} ({tr['msg']}), jitgrad returns"
    if tr is not None and jr is not None:
        if jr["stage"] != tr["stage"]:
            order = ("build", "forward", "backward")
            if order.index(jr["stage"]) > order.index(tr["stage"]):
                return "fail", "silent", f"torch raises at {tr['stage']} ({tr['type']}: {tr['msg']}), " \
                                         f"jitgrad only at {jr['stage']} ({jr['type']}: {jr['msg']})"
        if spec["t"] == "idx_mut_data":
            # an index changed through .data after forward (no version bump): PyTorch then reads
            # out of bounds -- undefined behaviour, whose error (or answer) varies run to run
            # ("Cannot access data pointer of Storage that is invalid", or none); jitgrad's
            # range check raising cleanly is the right outcome, whatever PyTorch's kind
            return "ok", "both-raise", ""
        if jr["builtin"] != tr["builtin"] and not beyond_int64 and spec["t"] != "leaf_data_shape":
            # (after `x.data = <another shape>` PyTorch fails wherever its kernels first trip over
            # the stale shape -- often an IndexError from a dimension wrap; jitgrad checks the
            # gradient against the leaf: any clean error is right there)
            return "fail", "error-kind", f"jitgrad {jr['type']}: {jr['msg']} | torch {tr['builtin']}: {tr['msg']}"
        return "ok", "both-raise", ""
    if jr is not None:
        return "note", "gap", f"torch computes, jitgrad raises at {jr['stage']} {jr['type']}: {jr['msg']}"
    if spec["op"] in NONDETERMINISTIC:
        return "ok", "", ""
    if spec["op"].endswith("_") and spec["t"] == "overlap":
        # writing in place through overlapping memory: PyTorch's result depends on its loop order
        # (it refuses only some such ops), so only "no crash, no leak" is checked
        return "ok", "overlap-inplace", ""
    jv, tv = dict(jg["values"]), dict(th["values"])
    for key, b in th["values"]:
        if key not in jv:
            return "fail", "value", f"{key}: missing in jitgrad's result"
        why = _same(jv[key], b, spec["t"] in ("nan", "inf", "ninf", "huge"))
        if why:
            return "fail", "value", f"{key}: {why}"
    if jg["requires_grad"] != th["requires_grad"]:
        return "fail", "value", f"requires_grad {jg['requires_grad']} vs torch {th['requires_grad']}"
    return "ok", "", ""


def _selftest(kind):
    """Deliberately bad cases that check the harness itself (tests/test_hostile.py)."""
    if kind == "segv":
        import ctypes
        ctypes.string_at(0)  # reads address 0: SIGSEGV
    if kind == "leak":
        import numpy
        numpy.zeros((2, 2)).sum(axis=5)  # numpy's AxisError, from NumPy code
    if kind == "hang":
        time.sleep(3600)
    return {"raised": None, "values": [("out0", np.ones(2))], "warnings": [], "requires_grad": [False]}


def run_spec(spec, use_torch=True):
    if spec["op"].startswith("selftest:"):
        try:
            jg = _selftest(spec["op"][9:])
        except Exception as e:  # noqa: BLE001
            jg = {"raised": _exc_record("forward", e), "values": [], "warnings": [], "requires_grad": None}
        return dict(zip(("verdict", "kind", "detail"), judge(spec, jg, None)), jg=_brief(jg), torch=None)
    import jitgrad
    tree, plan = prepare(spec)
    jg = run_case(jitgrad, spec, tree, plan)
    th = None
    if use_torch and _TRIM is not None:
        # jitgrad's part is over: free its buffers and walk the heap now (a write out of bounds
        # aborts here), then mark it, so a death in torch's part is blamed on torch, not jitgrad
        gc.collect(0)
        _TRIM(0)
        sys.stderr.write(TORCH_PART + "\n")
        sys.stderr.flush()
    if use_torch:
        try:
            import torch
        except ImportError:
            torch = None
        if torch is not None:
            th = run_case(torch, spec, tree, plan)
    verdict, kind, detail = judge(spec, jg, th)
    return {"verdict": verdict, "kind": kind, "detail": detail, "jg": _brief(jg), "torch": _brief(th)}


def _brief(rec):
    if rec is None:
        return None
    r = rec["raised"]
    return {"raised": None if r is None else {k: r[k] for k in ("stage", "type", "msg")},
            "tb": None if r is None else r["tb"]}


def describe(spec):
    """A one-line description of the case's inputs (shapes, dtypes, strides of jitgrad's args)."""
    try:
        import jitgrad
        tree, plan = prepare(spec)
        ops = _ops()
        b = Build(jitgrad, spec, tree, plan, spec["op"].startswith("optim:") or ops[spec["op"]].differentiable) \
            if not spec["op"].startswith("optim:") else None
        if b is None:
            return spec["op"]
        def d(v):
            if isinstance(v, jitgrad.Tensor):
                return f"T{tuple(v.shape)}:{v.dtype.name if hasattr(v.dtype, 'name') else v.dtype}:s{v.stride()}"
            if isinstance(v, (list, tuple)):
                return type(v)(d(x) for x in v)
            return repr(v)
        return f"args={d(list(b.args))} kwargs={ {k: d(v) for k, v in b.kwargs.items()} }"
    except Exception as e:  # noqa: BLE001
        return f"(cannot describe: {type(e).__name__}: {e})"


def repro(spec):
    return f"python tests/hostile_fuzz.py '{json.dumps(spec)}'"


TORCH_PART = "JITGRAD PART DONE; TORCH PART"
try:
    import ctypes as _ctypes
    _TRIM = _ctypes.CDLL(None).malloc_trim
except (OSError, AttributeError):  # not glibc
    _TRIM = None


def worker_main():
    """Read specs (JSON lines) from stdin, answer one JSON line per spec on the original stdout."""
    import faulthandler
    faulthandler.enable()
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything the library prints goes to stderr, not the protocol stream
    sys.stdout = sys.stderr
    use_torch = os.environ.get("JITGRAD_FUZZ_TORCH", "1") != "0"
    try:
        import ctypes
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        trim = None
    for line in sys.stdin:
        spec = json.loads(line)
        sys.stderr.write(f"CASE {line}")
        sys.stderr.flush()
        try:
            res = run_spec(spec, use_torch)
        except Exception as e:  # noqa: BLE001 - a harness error is reported, not fatal
            res = {"verdict": "fail", "kind": "harness", "detail": f"{type(e).__name__}: {e}",
                   "jg": None, "torch": None}
        gc.collect(0)  # free the case's buffers now: glibc's checks then blame the case that overran one
        if trim is not None:
            trim(0)  # walks and consolidates the heap: a corrupted chunk aborts here, in this case
        out.write(json.dumps(res, default=str) + "\n")
        out.flush()


# =============================================================================== the driver
class Worker:
    """A worker subprocess; ``run(spec)`` -> result dict, or a crash/hang record."""

    def __init__(self, env=None):
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, HERE, "--worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.err, env=env, bufsize=0)
        self.buf = b""

    def run(self, spec, timeout=CASE_TIMEOUT):
        try:
            self.proc.stdin.write((json.dumps(spec) + "\n").encode())
        except (BrokenPipeError, OSError):
            return self._died("worker gone before the case")
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self.proc.kill()
                self.proc.wait()
                return self._died(f"hang: no answer in {timeout:.0f} s")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    self.proc.wait()
                    return self._died(f"worker died: exit status {self.proc.returncode}")
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def _died(self, what):
        self.err.seek(0)
        tail = self.err.read().decode(errors="replace")
        tail = tail[tail.rfind("CASE "):] if "CASE " in tail else tail
        if len(tail) > 3000:  # faulthandler prints the innermost frames first: keep both ends
            tail = tail[:2000] + "\n[...]\n" + tail[-1000:]
        if TORCH_PART in tail:
            # jitgrad's part of the case finished with a sound heap: PyTorch itself crashed
            # (it segfaults on some hostile inputs, e.g. nll_loss(reduction='none') with a target
            # changed through .data); jitgrad's outcome is not known to be bad
            return {"verdict": "note", "kind": "torch-crash", "detail": f"{what} in torch's part\n{tail}",
                    "jg": None, "torch": None, "dead": True}
        return {"verdict": "fail", "kind": "crash", "detail": f"{what}\n{tail}", "jg": None, "torch": None,
                "dead": True}

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except Exception:  # noqa: BLE001
            self.proc.kill()
        self.err.close()


_MALLOC_DEBUG = "/lib/x86_64-linux-gnu/libc_malloc_debug.so.0"


def worker_env(env=None):
    """The workers' environment: glibc's malloc checks on where available, so that a kernel writing
    past its buffer aborts when that buffer is freed (in the guilty case) rather than later."""
    env = dict(os.environ if env is None else env)
    if os.path.exists(_MALLOC_DEBUG) and "LD_PRELOAD" not in env:
        env.update(LD_PRELOAD=_MALLOC_DEBUG, MALLOC_CHECK_="3")
    return env


def _replay_crashes(seq, env):
    """Whether running ``seq`` in a fresh worker kills it."""
    w = Worker(env)
    try:
        return any(w.run(s).get("dead") for s in seq)
    finally:
        w.close()


def blame(specs, history, i, env):
    """A worker died on case ``i`` after running ``history``: rerun ``i`` alone; if it survives, find
    the earliest-needed earlier case (bisection over the last 64) whose damage killed the worker.
    Returns (result for case i, index of the guilty earlier case or None)."""
    w = Worker(env)
    try:
        alone = w.run(specs[i])
    finally:
        w.close()
    if alone.get("dead"):
        return alone, None
    cands = history[-64:]
    if not cands or not _replay_crashes([specs[j] for j in cands] + [specs[i]], env):
        return alone, None  # not reproducible: report the case's own outcome
    lo, hi = 0, len(cands) - 1  # cands[lo:] + [i] crashes; find the largest such lo
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _replay_crashes([specs[j] for j in cands[mid:]] + [specs[i]], env):
            lo = mid
        else:
            hi = mid - 1
    if not _replay_crashes([specs[cands[lo]], specs[i]], env):
        return alone, None  # the damage needs several cases: not pinned to one
    return alone, cands[lo]


def run_specs(specs, workers=None, env=None):
    """Run specs on ``workers`` worker processes; results in spec order."""
    workers = workers or int(os.environ.get("JITGRAD_FUZZ_WORKERS", "2"))
    env = worker_env(env)
    results = [None] * len(specs)
    lock = threading.Lock()
    pending = iter(range(len(specs)))

    def loop():
        w, history = Worker(env), []
        try:
            while True:
                with lock:
                    i = next(pending, None)
                if i is None:
                    return
                res = w.run(specs[i])
                if res.get("dead"):
                    w.close()
                    alone, guilty = blame(specs, history, i, env)
                    if guilty is not None:  # both fail: either may be the one writing out of bounds
                        pair = f"{json.dumps(specs[guilty])} then {json.dumps(specs[i])} kill a fresh worker " \
                               f"(the second alone does not):\n{res['detail']}"
                        results[guilty] = res = dict(res, detail="crash when followed by another case: " + pair)
                        res = dict(res, detail="crash after another case: " + pair)
                    w, history = Worker(env), []
                else:
                    history.append(i)
                results[i] = res
        finally:
            w.close()

    threads = [threading.Thread(target=loop) for _ in range(max(1, workers))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return results


def main(argv):
    if argv[:1] == ["--worker"]:
        return worker_main()
    if argv[:1] == ["--op"]:
        names = argv[1:] or all_op_names()
        specs = all_specs(names)
        res = run_specs(specs)
        counts = {}
        for s, r in zip(specs, res):
            counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
            if r["verdict"] != "ok":
                print(f"{r['verdict'].upper()} [{r['kind']}] {s['op']} {s['t']} {s['p']}: {r['detail'][:400]}")
                print("    " + repro(s))
        print(f"{len(specs)} cases: {counts}")
        return 0
    spec = json.loads(argv[0])
    print("case:", describe(spec))
    res = run_spec(spec)
    print(json.dumps({k: res[k] for k in ("verdict", "kind", "detail")}, indent=1))
    for lib in ("jg", "torch"):
        if res[lib] and res[lib]["tb"]:
            print(f"--- {lib} traceback ---\n{res[lib]['tb']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
