#!/usr/bin/env python
"""jitgrad vs PyTorch on the same workloads, in one process, interleaved.

    python asv_benchmarks/compare.py                      # every workload
    python asv_benchmarks/compare.py --quick              # fewer rounds / start-up runs
    python asv_benchmarks/compare.py -w w1 -w w1_fwd      # a subset
    python asv_benchmarks/compare.py --markdown out.md    # also write a Markdown report

Each in-process workload is written once against the PyTorch API (``benchmarks/common.py``)
and run with ``X = jitgrad`` and ``X = torch``.  Timing alternates frameworks round by round
(A B, B A, A B, ...) so machine drift (frequency, noisy neighbours) hits both alike; each round
times a batch of iterations sized to ``--batch-ms`` with the garbage collector off (as
``timeit`` and asv do), and the reported figure is the median over rounds of the
per-iteration time, with its interquartile range (marked NOISY when wider than a quarter of
the median).  Start-up (W4) runs each case in a fresh subprocess, also interleaved.

A framework that is not installed is skipped with a note.  PyTorch gets
``torch.set_num_threads(jitgrad.get_num_threads())``; both counts are printed.
"""
import argparse
import gc
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "benchmarks"))
from common import eltwise_chain, startup_once, w1_chain, w1_input  # noqa: E402

import numpy as np  # noqa: E402


# ----------------------------------------------------------------------------- frameworks
def load_frameworks():
    """``{name: module}`` of the installed frameworks, and notes about the missing ones."""
    fws, notes = {}, []
    try:
        import jitgrad
        fws["jitgrad"] = jitgrad
    except ImportError as e:  # pragma: no cover - jitgrad is this repo
        notes.append(f"jitgrad not importable ({e}); its columns are skipped")
    try:
        import torch
        fws["torch"] = torch
    except ImportError as e:
        notes.append(f"PyTorch not installed ({e}); its columns are skipped")
    return fws, notes


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "n/a"


def parallel_kernels():
    """How many of jitgrad's Numba dispatchers are compiled with ``parallel=True``."""
    import importlib
    import pkgutil

    import jitgrad.kernels as kpkg
    from numba.core.dispatcher import Dispatcher

    par = total = 0
    for info in pkgutil.iter_modules(kpkg.__path__):
        mod = importlib.import_module(f"jitgrad.kernels.{info.name}")
        for obj in vars(mod).values():
            if isinstance(obj, Dispatcher) and obj.__module__ == mod.__name__:
                total += 1
                par += bool(obj.targetoptions.get("parallel"))
    return par, total


def header(fws, notes):
    import numba

    lines = []
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    lines.append(f"machine : {cpu_model()}; {os.cpu_count()} logical CPUs ({usable} usable); "
                 f"{platform.system()} {platform.release()}")
    versions = [f"python {platform.python_version()}", f"numpy {np.__version__}",
                f"numba {numba.__version__}"]
    for name, mod in fws.items():
        versions.append(f"{name} {mod.__version__}")
    lines.append("versions: " + ", ".join(versions))
    threads = []
    if "jitgrad" in fws:
        threads.append(f"jitgrad (Numba) {fws['jitgrad'].get_num_threads()}")
    if "torch" in fws:
        threads.append(f"torch {fws['torch'].get_num_threads()} "
                       f"(interop {fws['torch'].get_num_interop_threads()})")
    lines.append("threads : " + ", ".join(threads))
    if "jitgrad" in fws:
        par, total = parallel_kernels()
        lines.append(f"kernels : {par} of jitgrad's {total} Numba kernels are parallel=True "
                     "(the others run on one thread whatever the thread count)")
    lines.append(f"load    : {loadavg()} (1/5/15-min load average at start; other processes skew timings)")
    try:
        busy = float(loadavg().split()[0])
    except ValueError:
        busy = 0.0
    threads_used = max(fws[fw].get_num_threads() for fw in fws)
    if threads_used > 1 and busy + threads_used > (os.cpu_count() or 1) + 0.5:
        lines.append(f"WARNING : load {busy:.2f} + {threads_used} threads > {os.cpu_count()} CPUs: multi-threaded "
                     "timings (torch's OpenMP barriers) turn erratic; compare with --threads 1 too")
    lines.extend("note    : " + n for n in notes)
    return lines


# ----------------------------------------------------------------------------- workloads
def _w1(X, mode):
    x = w1_input(X)
    if mode == "fwd_bwd":
        def run():
            w1_chain(x).backward()
    elif mode == "fwd":
        def run():
            w1_chain(x)
    else:
        def run():
            with X.no_grad():
                w1_chain(x)
    return run


def _eltwise(size):
    data = np.random.default_rng(0).standard_normal(size).astype(np.float32)

    def make(X):
        x = X.from_numpy(data.copy()).requires_grad_(True)

        def run():
            eltwise_chain(X, x).backward()
        return run
    return make


# name -> (description, factory(X) -> zero-arg callable)
WORKLOADS = {
    "w1": ("W1 ((x*2+1).exp()*x).sum() fwd+bwd, 16 f32", lambda X: _w1(X, "fwd_bwd")),
    "w1_fwd": ("W1 forward only (graph recorded)", lambda X: _w1(X, "fwd")),
    "w1_nograd": ("W1 forward under no_grad", lambda X: _w1(X, "nograd")),
    "eltwise_1e5": ("(tanh(x)*sigmoid(x)+x*x*0.5).sum() fwd+bwd, 1e5 f32", _eltwise(100_000)),
    "eltwise_1e6": ("(tanh(x)*sigmoid(x)+x*x*0.5).sum() fwd+bwd, 1e6 f32", _eltwise(1_000_000)),
}
STARTUP = "startup"
ALL = list(WORKLOADS) + [STARTUP]


def _batch(fn, n):
    gcold = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        return time.perf_counter() - t0
    finally:
        if gcold:
            gc.enable()


def _calibrate(fn, batch_s):
    """Iterations per batch so that one batch takes about ``batch_s``."""
    n = 1
    while True:
        t = _batch(fn, n)
        if t >= batch_s / 4 or n >= 1 << 22:
            return max(1, int(n * batch_s / max(t, 1e-9)))
        n *= 4


def time_interleaved(fns, rounds, batch_s):
    """``{name: [per-iteration seconds, one per round]}``, frameworks alternating A B / B A."""
    for fn in fns.values():  # warm up: compile / load kernels, allocate caches
        for _ in range(3):
            fn()
    sizes = {name: _calibrate(fn, batch_s) for name, fn in fns.items()}
    samples = {name: [] for name in fns}
    order = list(fns)
    for r in range(rounds):
        gc.collect()
        for name in (order if r % 2 == 0 else order[::-1]):
            samples[name].append(_batch(fns[name], sizes[name]) / sizes[name])
    return samples, sizes


def _fmt_us(s):
    return f"{s * 1e6:,.1f}"


def _iqr(xs):
    q = statistics.quantiles(xs, n=4)
    return q[0], q[2]


def run_inprocess(fws, names, rounds, batch_s, rows):
    for key in names:
        desc, factory = WORKLOADS[key]
        fns = {fw: factory(mod) for fw, mod in fws.items()}
        samples, sizes = time_interleaved(fns, rounds, batch_s)
        med = {fw: statistics.median(s) for fw, s in samples.items()}
        spread = {fw: _iqr(s) for fw, s in samples.items()}
        ratio = med["jitgrad"] / med["torch"] if {"jitgrad", "torch"} <= set(med) else None
        row = {"workload": key, "desc": desc, "unit": "us/iter", "med": med, "spread": spread,
               "ratio": ratio, "detail": f"{rounds} rounds; iters/batch " +
               ", ".join(f"{fw} {n}" for fw, n in sizes.items())}
        rows.append(row)
        print_row(row)


def run_startup(fws, runs, rows):
    """W4: fresh-process ``import`` + one W1 gradient; jitgrad warm and cold Numba cache."""
    cases = []
    if "jitgrad" in fws:
        startup_once("jitgrad")  # make sure the default Numba cache is warm
        cases += [("jitgrad", "jitgrad warm cache", False), ("jitgrad", "jitgrad cold cache", True)]
    if "torch" in fws:
        cases.append(("torch", "torch", False))
    results = {label: [] for _, label, _ in cases}
    for i in range(runs):
        for mod, label, cold in (cases if i % 2 == 0 else cases[::-1]):
            results[label].append(startup_once(mod, cold_cache=cold))
    for label, rs in results.items():
        med = {k: statistics.median(r[k] for r in rs) for k in ("import_s", "grad_s", "total_s", "wall_s")}
        row = {"workload": "startup", "desc": f"W4 start-up: {label}", "unit": "s", "startup": med,
               "detail": f"median of {runs} fresh processes"}
        rows.append(row)
        print_row(row)
    if "jitgrad warm cache" in results and "torch" in results:
        for tag in ("jitgrad warm cache", "jitgrad cold cache"):
            r = (statistics.median(x["total_s"] for x in results[tag])
                 / statistics.median(x["total_s"] for x in results["torch"]))
            line = f"    ratio {tag} / torch (import + first gradient): {r:.2f}x"
            print(line)
            rows.append({"workload": "startup_ratio", "desc": line.strip()})


def print_row(row):
    if row["workload"] == "startup":
        m = row["startup"]
        print(f"  {row['desc']:<40} import {m['import_s']:.3f} s + first gradient {m['grad_s']:.3f} s"
              f" = {m['total_s']:.3f} s   (process wall {m['wall_s']:.3f} s; {row['detail']}, per column)")
        return
    parts = []
    for fw, v in row["med"].items():
        lo, hi = row["spread"][fw]
        noisy = " NOISY" if hi - lo > 0.25 * v else ""
        parts.append(f"{fw} {_fmt_us(v):>10} us/iter [IQR {_fmt_us(lo)}-{_fmt_us(hi)}{noisy}]")
    ratio = f"  jitgrad/torch = {row['ratio']:.2f}x" if row["ratio"] is not None else ""
    print(f"  {row['workload']:<12} " + "   ".join(parts) + ratio)
    print(f"  {'':<12} ({row['desc']}; {row['detail']})")


def markdown(path, head, rows, argv):
    out = ["# jitgrad vs PyTorch", "", "```", *head, "```", "",
           f"Command: `python {' '.join(argv)}`", ""]
    tr = [r for r in rows if r["workload"] not in ("startup", "startup_ratio")]
    if tr:
        out += ["| workload | jitgrad (µs/iter) [IQR] | torch (µs/iter) [IQR] | jitgrad/torch |",
                "|---|---:|---:|---:|"]

        def cell(r, fw):
            if fw not in r["med"]:
                return "n/a"
            lo, hi = r["spread"][fw]
            return f"{_fmt_us(r['med'][fw])} [{_fmt_us(lo)}–{_fmt_us(hi)}]"
        for r in tr:
            j, t = cell(r, "jitgrad"), cell(r, "torch")
            ratio = f"{r['ratio']:.2f}x" if r["ratio"] is not None else "n/a"
            out.append(f"| {r['desc']} | {j} | {t} | {ratio} |")
        out.append("")
    st = [r for r in rows if r["workload"] == "startup"]
    if st:
        out += ["| W4 start-up (fresh process) | import (s) | first gradient (s) | total (s) | process wall (s) |",
                "|---|---:|---:|---:|---:|"]
        for r in st:
            m = r["startup"]
            out.append(f"| {r['desc'].split(': ', 1)[1]} | {m['import_s']:.3f} | {m['grad_s']:.3f} | "
                       f"{m['total_s']:.3f} | {m['wall_s']:.3f} |")
        out.append("")
        out += [r["desc"] for r in rows if r["workload"] == "startup_ratio"]
        out.append("")
    with open(path, "w") as f:
        f.write("\n".join(out))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-w", "--workload", action="append", choices=ALL,
                   help="run only this workload (repeatable); default: all")
    p.add_argument("--rounds", type=int, default=40, help="interleaved rounds per workload (default 40)")
    p.add_argument("--batch-ms", type=float, default=25.0, help="target time of one batch (default 25 ms)")
    p.add_argument("--startup-runs", type=int, default=7, help="fresh processes per start-up case (default 7)")
    p.add_argument("--threads", type=int, default=None,
                   help="set both jitgrad's (Numba's) and torch's thread count (default: jitgrad's)")
    p.add_argument("--quick", action="store_true", help="10 rounds of 10 ms batches, 3 start-up runs")
    p.add_argument("--markdown", metavar="PATH", help="also write the results as Markdown to PATH")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.batch_ms, args.startup_runs = 10, 10.0, 3
    names = args.workload or ALL

    fws, notes = load_frameworks()
    if args.threads is not None and "jitgrad" in fws:
        fws["jitgrad"].set_num_threads(args.threads)
    if "torch" in fws:
        n = fws["jitgrad"].get_num_threads() if "jitgrad" in fws else args.threads
        if n is not None:
            fws["torch"].set_num_threads(n)
    if not fws:
        print("nothing to compare: neither jitgrad nor torch is importable")
        return 1
    head = header(fws, notes)
    print("\n".join(head))
    print()

    rows = []
    inproc = [n for n in names if n in WORKLOADS]
    if inproc:
        print(f"In-process workloads (median per iteration over {args.rounds} interleaved rounds):")
        run_inprocess(fws, inproc, args.rounds, args.batch_ms / 1e3, rows)
    if STARTUP in names:
        print(f"\nW4 start-up in fresh subprocesses (median of {args.startup_runs}):")
        run_startup(fws, args.startup_runs, rows)
    print(f"\nload average at end: {loadavg()}")
    head.append(f"load at end: {loadavg()}")
    if args.markdown:
        markdown(args.markdown, head, rows, [os.path.relpath(sys.argv[0])] + (argv or sys.argv[1:]))
        print(f"\nwrote {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
