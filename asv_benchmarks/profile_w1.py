#!/usr/bin/env python
"""Where W1's microseconds go: a per-phase, per-function breakdown of jitgrad's hot path.

    python asv_benchmarks/profile_w1.py                 # 20000 iterations, top 25 functions
    python asv_benchmarks/profile_w1.py --iters 50000 --top 40
    py-spy record --native -r 997 -o w1.svg -- python asv_benchmarks/profile_w1.py --plain 300000

W1 is ``((x*2 + 1).exp() * x).sum().backward()`` on 16 float32 elements.  The script

1. times W1 unprofiled (forward and backward separately, interleaved) -- the ground truth;
2. runs it under cProfile with one profiler for the forward (graph building) and another for
   ``backward()``, and prints self time per iteration by category (op plumbing, node
   creation, tensor wrapping, engine, AccumulateGrad, Numba kernels, NumPy calls) and by function.
   cProfile adds a fixed cost to every Python call, so read its numbers as shares, and scale
   by the unprofiled total;
3. counts the Numba kernel calls per iteration and times one warm dispatch of such a kernel
   on 16 elements (the dispatcher's C path: argument typing, then the compiled loop).  Numba's
   dispatcher reports its calls to an active profiler, so kernels also appear in cProfile
   under ``jitgrad/kernels/*.py``.

``--plain N`` just runs N iterations (for an external sampler such as py-spy);
``--pyspy-summary FILE`` summarises a ``py-spy record --native -f raw`` capture of it: samples
by phase (forward / backward / graph teardown) and by the innermost jitgrad function, split
into its own Python time, NumPy C calls and Numba dispatch+kernel (native frames)::

    py-spy record --native -r 997 -f raw -o /tmp/w1.raw -- python asv_benchmarks/profile_w1.py --plain 300000
    python asv_benchmarks/profile_w1.py --pyspy-summary /tmp/w1.raw
"""
import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
import timeit

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "benchmarks"))
from common import w1_chain, w1_input  # noqa: E402

import jitgrad as torch  # noqa: E402

# (category, test(filename, funcname)) -- first match wins; filename is the profiler's path
CATEGORIES = [
    ("engine (run_backward, heap, buffers)", lambda f, n: "autograd/engine.py" in f or "heapq" in n),
    ("backward() entry (root grads, checks)", lambda f, n: "autograd/__init__.py" in f
     or (f.endswith("tensor.py") and n == "backward")),
    ("AccumulateGrad (leaf .grad update)", lambda f, n: n in ("accumulate_into",)
     or ("graph.py" in f and n == "_backward")),
    ("node creation / graph edges", lambda f, n: n in ("new_node", "edge", "accumulator_for", "saved_version",
                                                       "__init__") and "jitgrad" in f),
    ("output tensor wrapping", lambda f, n: n in ("result", "_wrap") and "jitgrad" in f),
    ("grad mode (no_grad enter/exit)", lambda f, n: "grad_mode.py" in f),
    ("Numba kernels (dispatch + loop, jitgrad/kernels/)", lambda f, n: "jitgrad/kernels/" in f),
    ("op plumbing (ops/*.py self time)", lambda f, n: "jitgrad/ops/" in f),
    ("workload expression (w1_chain: operator dispatch)", lambda f, n: n == "w1_chain"),
    ("other jitgrad Python", lambda f, n: "jitgrad" in f),
    ("NumPy / builtins called from jitgrad", lambda f, n: f == "~" or "numpy" in f),
]


def categorize(filename, funcname):
    for name, test in CATEGORIES:
        if test(filename, funcname):
            return name
    return "other"


def short(func):
    filename, line, name = func
    if filename == "~":
        return name
    parts = filename.replace("\\", "/").split("/")
    if "jitgrad" in parts:
        filename = "/".join(parts[parts.index("jitgrad"):])
    else:
        filename = parts[-1]
    return f"{filename}:{line}({name})"


def unprofiled(x, rounds=15, number=2000):
    """Median us/iter of forward (graph built) and backward (on a pre-built graph), interleaved."""
    fwd, fb = [], []
    for _ in range(rounds):
        fwd.append(timeit.timeit(lambda: w1_chain(x), number=number) / number)
        fb.append(timeit.timeit(lambda: w1_chain(x).backward(), number=number) / number)
    f, t = statistics.median(fwd), statistics.median(fb)
    return f, t - f, t


def profile_phases(x, iters):
    pf, pb = cProfile.Profile(), cProfile.Profile()
    for _ in range(iters):
        pf.enable()
        loss = w1_chain(x)
        pf.disable()
        pb.enable()
        loss.backward()
        pb.disable()
    return pstats.Stats(pf), pstats.Stats(pb)


def report_phase(title, stats, iters, top):
    rows = []
    total = 0.0
    for func, (cc, nc, tt, ct, callers) in stats.stats.items():
        if func[2] in ("<method 'disable' of '_lsprof.Profiler' objects>",):
            continue
        total += tt
        rows.append((tt, nc, func))
    by_cat = {}
    for tt, nc, func in rows:
        cat = categorize(func[0], func[2])
        by_cat[cat] = by_cat.get(cat, 0.0) + tt
    print(f"\n{title}: {total / iters * 1e6:.2f} us/iter under cProfile (self time, all functions)")
    print("  by category:")
    for cat, tt in sorted(by_cat.items(), key=lambda kv: -kv[1]):
        print(f"    {tt / iters * 1e6:7.2f} us  {tt / total:6.1%}  {cat}")
    print(f"  top {top} functions (self us/iter, calls/iter):")
    for tt, nc, func in sorted(rows, key=lambda r: -r[0])[:top]:
        print(f"    {tt / iters * 1e6:7.2f} us  {nc / iters:5.1f}  {short(func)}")
    return total / iters


def count_kernel_calls(x):
    """Numba kernel calls per W1 iteration (forward, backward), by kernel name."""
    from numba.core.dispatcher import Dispatcher
    import numba._dispatcher as cdisp

    counts = {}
    base_call = cdisp.Dispatcher.__call__

    def counting(self, *args, **kwargs):
        key = self.py_func.__name__
        counts[key] = counts.get(key, 0) + 1
        return base_call(self, *args, **kwargs)

    Dispatcher.__call__ = counting
    try:
        loss = w1_chain(x)
        fwd = dict(counts)
        counts.clear()
        loss.backward()
        bwd = dict(counts)
    finally:
        del Dispatcher.__call__
    return fwd, bwd


def dispatch_cost():
    """us per warm call of a 16-element Numba kernel vs the NumPy ufunc doing the same."""
    from jitgrad.kernels import elementwise as k

    a = np.linspace(-1, 1, 16, dtype=np.float32)
    b = a.copy()
    out = np.empty_like(a)
    k.mul_forward(a, b, out)
    n = 200_000
    numba_us = min(timeit.repeat(lambda: k.mul_forward(a, b, out), number=n, repeat=5)) / n * 1e6
    numpy_us = min(timeit.repeat(lambda: np.multiply(a, b, out=out), number=n, repeat=5)) / n * 1e6
    empty_us = min(timeit.repeat(lambda: np.empty(16, np.float32), number=n, repeat=5)) / n * 1e6
    return numba_us, numpy_us, empty_us


def _frame_kind(frame):
    """'py' for a Python frame, 'numba' / 'numpy' / 'native' for native ones."""
    if "_dispatcher" in frame or "Dispatcher_call" in frame or "numba" in frame and ".so" in frame:
        return "numba"
    if "_multiarray_umath" in frame or "numpy/_core" in frame and ".so" in frame:
        return "numpy"
    if frame.startswith("0x") or ".so)" in frame or ".c:" in frame or ".cpp:" in frame:
        return "native"
    return "py"


def pyspy_summary(path, top):
    """Aggregate a py-spy raw capture of ``--plain``: phase x innermost jitgrad function x kind."""
    # the loop is the main() line holding most samples (line numbers move as this file changes)
    per_line = {}
    with open(path) as f:
        for raw in f:
            stack, _, count = raw.rstrip("\n").rpartition(" ")
            for fr in stack.split(";"):
                if fr.startswith("main (profile_w1.py:"):
                    per_line[fr] = per_line.get(fr, 0) + int(count)
                    break
    if not per_line:
        print(f"no samples of profile_w1.py main() in {path}")
        return 1
    marker = max(per_line, key=per_line.get)
    total = 0
    phases, funcs, lines, entries = {}, {}, {}, {}
    with open(path) as f:
        for raw in f:
            stack, _, count = raw.rstrip("\n").rpartition(" ")
            frames = stack.split(";")
            idx = next((i for i, fr in enumerate(frames) if fr.startswith(marker)), None)
            if idx is None:
                continue
            n = int(count)
            total += n
            inner = frames[idx + 1:]
            if not inner:
                phase = "loop line itself (call overhead + freeing the graph)"
            elif inner[0].startswith("w1_chain"):
                phase = "forward (w1_chain: ops build the graph)"
            elif "backward" in inner[0]:
                phase = "backward (Tensor.backward -> engine -> nodes)"
            else:
                phase = "other: " + inner[0]
            phases[phase] = phases.get(phase, 0) + n
            # innermost jitgrad (or workload) Python frame, and what runs below it
            owner, kind, entry = None, "python", None
            for fr in inner:
                k = _frame_kind(fr)
                if k == "py" and ("jitgrad/" in fr or "common.py" in fr):
                    owner, kind, entry = fr, "python", None
                elif owner is not None and k in ("numba", "numpy") and kind == "python":
                    kind, entry = k, fr.split(" (")[0]
                elif owner is not None and k == "py" and "numba/" in fr:
                    kind = "numba"
            if kind == "numpy" and entry:
                key = f"{entry} <- {owner.split(' (')[0]}"
                entries[key] = entries.get(key, 0) + n
            if owner is None:
                owner = "(no jitgrad frame) " + (inner[-1] if inner else "main loop")
            fname = owner.split(" (")[0] + " (" + owner.split(" (")[1].split(":")[0] + ")" if " (" in owner else owner
            d = funcs.setdefault(fname, {})
            d[kind] = d.get(kind, 0) + n
            if kind == "python":
                lines[owner] = lines.get(owner, 0) + n
    if not total:
        print(f"no samples under {marker!r} in {path}")
        return 1
    print(f"{total} samples in the W1 loop ({path})")
    print("by phase:")
    for k, v in sorted(phases.items(), key=lambda kv: -kv[1]):
        print(f"  {v / total:6.1%}  {k}")
    kinds = ("python", "numpy", "numba")
    sums = {k: sum(d.get(k, 0) for d in funcs.values()) for k in kinds}
    print("by what runs: " + ", ".join(f"{k} {sums[k] / total:.1%}" for k in kinds)
          + "  (python = the jitgrad function's own bytecode, incl. object alloc/free)")
    print(f"by innermost jitgrad function (top {top}):   total   python    numpy    numba")
    for name, d in sorted(funcs.items(), key=lambda kv: -sum(kv[1].values()))[:top]:
        t = sum(d.values())
        print(f"  {t / total:6.1%}  " + "  ".join(f"{d.get(k, 0) / total:7.1%}" for k in kinds) + f"  {name}")
    print(f"NumPy C entry points (top {min(top, 12)}), with the jitgrad function calling them:")
    for name, v in sorted(entries.items(), key=lambda kv: -kv[1])[:min(top, 12)]:
        print(f"  {v / total:6.1%}  {name}")
    print(f"hottest lines (own Python time, top {top}):")
    for name, v in sorted(lines.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {v / total:6.1%}  {name}")
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--iters", type=int, default=20000)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--plain", type=int, metavar="N", help="only run N W1 iterations (for py-spy)")
    p.add_argument("--pyspy-summary", metavar="RAW", help="summarise a py-spy raw capture of --plain")
    args = p.parse_args(argv)
    if args.pyspy_summary:
        return pyspy_summary(args.pyspy_summary, args.top)

    x = w1_input(torch)
    for _ in range(10):  # compile / load every kernel first
        w1_chain(x).backward()

    if args.plain:
        t0 = time.perf_counter()
        for _ in range(args.plain):
            w1_chain(x).backward()  # the loop --pyspy-summary analyses
        dt = time.perf_counter() - t0
        print(f"{args.plain} W1 iterations: {dt / args.plain * 1e6:.2f} us/iter")
        return 0

    f, b, t = unprofiled(x)
    print(f"W1 unprofiled (median of interleaved rounds): forward {f * 1e6:.2f} us + backward "
          f"{b * 1e6:.2f} us = {t * 1e6:.2f} us/iter   (jitgrad {torch.__version__}, "
          f"{torch.__file__})")

    sf, sb = profile_phases(x, args.iters)
    pf = report_phase("FORWARD (graph building)", sf, args.iters, args.top)
    pb = report_phase("BACKWARD (loss.backward())", sb, args.iters, args.top)
    print(f"\ncProfile total {(pf + pb) * 1e6:.2f} us/iter vs {t * 1e6:.2f} unprofiled "
          f"(profiling inflation x{(pf + pb) / t:.2f}); forward share {pf / (pf + pb):.0%} "
          f"profiled vs {f / t:.0%} unprofiled")

    fwd, bwd = count_kernel_calls(x)
    numba_us, numpy_us, empty_us = dispatch_cost()
    nk = sum(fwd.values()) + sum(bwd.values())
    print(f"\nNumba kernel calls per iteration: forward {sum(fwd.values())} {fwd}; "
          f"backward {sum(bwd.values())} {bwd}")
    print(f"one warm 16-element kernel call: {numba_us:.3f} us (NumPy ufunc with out=: {numpy_us:.3f} us; "
          f"np.empty(16): {empty_us:.3f} us)")
    print(f"=> kernel dispatch ~ {nk} x {numba_us:.3f} = {nk * numba_us:.2f} us/iter "
          f"({nk * numba_us / (t * 1e6):.0%} of the unprofiled {t * 1e6:.2f} us)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
