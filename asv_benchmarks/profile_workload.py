#!/usr/bin/env python
"""Where one compare.py workload's time goes in jitgrad: a cProfile breakdown by category.

    python asv_benchmarks/profile_workload.py -w w3              # the MLP training step
    python asv_benchmarks/profile_workload.py -w w6 --top 30     # the CNN step, 30 functions
    python asv_benchmarks/profile_workload.py -w w2_f32 --threads 1

Workloads are compare.py's (w1, w2_f32, w2_f64, w3, w5, w6; W1 in depth: profile_w1.py).
The script times the workload unprofiled (the ground truth, median of batches), then runs it
under cProfile and prints self time per iteration by category -- BLAS products (NumPy's
``matmul``/``dot``), Numba kernels (``jitgrad/kernels/``, reported by Numba's dispatcher),
other NumPy calls (allocation, copies, reductions), the backward engine, nn/optim Python,
the rest of jitgrad's Python -- and the top functions.  cProfile adds a fixed cost per
Python call, so read the shares, scaled to the unprofiled time.
"""
import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

CATEGORIES = [
    ("BLAS products (NumPy matmul/dot)", lambda f, n: f == "~" and any(
        k in n for k in ("matmul", "'dot'", "built-in method numpy.dot", "tensordot", "einsum"))),
    ("Numba kernels (jitgrad/kernels/)", lambda f, n: "jitgrad/kernels/" in f),
    ("NumPy C calls (alloc, copy, ufuncs, reductions)", lambda f, n: f == "~" and (
        "numpy" in n or "ndarray" in n or "array" in n or "method 'reduce'" in n)),
    ("NumPy Python functions", lambda f, n: "/numpy/" in f),
    ("backward engine (jitgrad/autograd/)", lambda f, n: "jitgrad/autograd/" in f),
    ("nn modules / functional (jitgrad/nn/)", lambda f, n: "jitgrad/nn/" in f),
    ("optimizer (jitgrad/optim/)", lambda f, n: "jitgrad/optim/" in f),
    ("op plumbing (jitgrad/ops/, tensor.py)", lambda f, n: "jitgrad/" in f),
    ("workload code (benchmarks/)", lambda f, n: "asv_benchmarks/" in f),
    ("other builtins", lambda f, n: f == "~"),
]


def categorize(filename, name):
    filename = filename.replace("\\", "/")
    for label, test in CATEGORIES:
        if test(filename, name):
            return label
    return "other Python"


def short(func):
    filename, line, name = func
    if filename == "~":
        return name
    parts = filename.replace("\\", "/").split("/")
    for root in ("jitgrad", "asv_benchmarks", "numpy"):
        if root in parts:
            return "/".join(parts[parts.index(root):]) + f":{line}({name})"
    return f"{parts[-1]}:{line}({name})"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-w", "--workload", default="w3", help="w1, w2_f32, w2_f64, w3, w5, w6 (default w3)")
    p.add_argument("-f", "--framework", default="jitgrad", help="jitgrad (default) or torch")
    p.add_argument("--iters", type=int, default=None, help="profiled iterations (default: ~2 s worth)")
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--threads", type=int, default=None, help="Numba/BLAS/torch threads")
    args = p.parse_args()
    if args.threads:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    sys.path.insert(0, os.path.join(HERE, "benchmarks"))
    import reference

    step = reference.make_step(args.framework, args.workload)
    if step is None:
        print(f"{args.framework} has no {args.workload}")
        return 1
    for _ in range(3):
        step()
    t0 = time.perf_counter()
    step()
    one = time.perf_counter() - t0
    n = max(1, int(0.05 / max(one, 1e-7)))
    batches = []
    for _ in range(15):
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        batches.append((time.perf_counter() - t0) / n)
    plain = statistics.median(batches)
    iters = args.iters or max(3, int(2.0 / max(plain, 1e-7)))
    print(f"{args.framework} {args.workload}: {plain * 1e3:.3f} ms per iteration unprofiled "
          f"(median of 15 batches of {n}); profiling {iters} iterations")

    prof = cProfile.Profile()
    prof.enable()
    for _ in range(iters):
        step()
    prof.disable()
    stats = pstats.Stats(prof).stats
    rows = [(tt / iters, cc / iters, func) for func, (cc, nc, tt, ct, callers) in stats.items()]
    total = sum(r[0] for r in rows)
    scale = plain / total if total else 0.0
    cats = {}
    for tt, calls, func in rows:
        c = categorize(func[0], func[2])
        cats.setdefault(c, [0.0, 0.0])
        cats[c][0] += tt
        cats[c][1] += calls
    print(f"\nself time per iteration by category (cProfile total {total * 1e3:.3f} ms, scaled to the "
          f"unprofiled {plain * 1e3:.3f} ms):")
    for c, (tt, calls) in sorted(cats.items(), key=lambda kv: -kv[1][0]):
        print(f"  {c:<52} {tt * scale * 1e3:9.3f} ms  {tt / total:6.1%}  {calls:8.0f} calls")
    print(f"\ntop {args.top} functions by self time (scaled ms per iteration, calls per iteration):")
    for tt, calls, func in sorted(rows, key=lambda r: -r[0])[:args.top]:
        print(f"  {tt * scale * 1e3:9.3f} ms {calls:7.0f}  {short(func)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
