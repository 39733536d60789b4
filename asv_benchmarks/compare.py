#!/usr/bin/env python
"""jitgrad vs PyTorch, JAX, HIPS autograd and hand-written NumPy on the same workloads.

    python asv_benchmarks/compare.py                       # every workload, every framework installed
    python asv_benchmarks/compare.py --quick               # fewer rounds / start-up runs
    python asv_benchmarks/compare.py -w w1 -w w3           # a subset of workloads
    python asv_benchmarks/compare.py -f jitgrad -f torch   # a subset of frameworks
    python asv_benchmarks/compare.py --threads 1           # every framework on one thread
    python asv_benchmarks/compare.py --markdown out.md --png out.png

Workloads (``benchmarks/common.py`` and ``benchmarks/reference.py``):

  W1  ``((x*2 + 1).exp() * x).sum()`` forward+backward, 16 float32 (+ forward only, no_grad)
  W2  ``(tanh(x)*sigmoid(x) + x*x*0.5).sum()`` forward+backward, 4,000,000 float32 / float64
  W3  MLP training step: batch 256, 784->512->512->10, ReLU, cross-entropy, SGD, float32
  W4  start-up: fresh process, import + one W1 gradient (jitgrad with a warm and a cold
      Numba cache), and jitgrad's cold compile of everything a W3 step touches
  W5  ``((a @ b).tanh() @ c).sum()`` forward+backward, 64x64 float32
  W6  CNN training step: 128 8x8 images, conv 1->16, ReLU, conv 16->32, ReLU, 2x2 max-pool,
      linear 512->10, cross-entropy, SGD, float32; and W3/W6 peak memory

jitgrad and PyTorch run the same PyTorch-API code; JAX (``jax.jit`` of the whole step,
``value_and_grad``) and HIPS autograd run one functional version written once against
``jax.numpy`` / ``autograd.numpy``; NumPy runs forward and backward written by hand.

Timing: all frameworks live in this process; each round times one batch of iterations per
framework (sized to ``--batch-ms``, garbage collector off, as ``timeit`` and asv do), the
order rotating and reversing round by round so machine drift hits everyone alike; the figure
is the median per-iteration time over rounds, with its interquartile range (NOISY when wider
than a quarter of the median).  With several threads each batch starts after ``--settle-ms``
of sleep, because an idle BLAS/OpenMP pool keeps spinning for a while after its last call
(OpenBLAS ~0.1 s) and would steal a core from the next framework.  Start-up and peak memory
run in fresh subprocesses, interleaved.  A framework that is not installed is skipped with a
note.
"""
import argparse
import gc
import os
import platform
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FRAMEWORKS = ("jitgrad", "torch", "jax", "autograd", "numpy")

# name -> description
WORKLOADS = {
    "w1": "W1 tiny chain fwd+bwd, 16 f32",
    "w1_fwd": "W1 forward only (graph recorded)",
    "w1_nograd": "W1 forward under no_grad",
    "w2_f32": "W2 tanh*sigmoid chain fwd+bwd, 4M f32",
    "w2_f64": "W2 tanh*sigmoid chain fwd+bwd, 4M f64",
    "w3": "W3 MLP training step (256, 784-512-512-10)",
    "w5": "W5 (a@b).tanh()@c fwd+bwd, 64x64 f32",
    "w6": "W6 CNN training step (128 8x8 images)",
}
STARTUP, PEAKMEM = "startup", "peakmem"
ALL = list(WORKLOADS) + [STARTUP, PEAKMEM]
# The targets: jitgrad time / PyTorch time (W4: warm import + gradient, W3 cold: seconds)
TARGETS = {"w1": 0.25, "w5": 0.6, "w2_f32": 0.4, "w2_f64": 0.4, "w3": 0.9, "w6": 0.9}
TARGET_STARTUP_WARM, TARGET_COLD_W3_S = 0.5, 15.0


def set_thread_env(n):
    """Thread counts that must be fixed before the libraries load (BLAS pools, OpenMP, XLA)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(n)
    if n == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = (flags + " --xla_cpu_multi_thread_eigen=false "
                                   "intra_op_parallelism_threads=1").strip()


# ----------------------------------------------------------------------------- frameworks
def load_frameworks(wanted, threads):
    """``{name: module}`` of the wanted frameworks that import, and notes on the others."""
    import reference

    fws, notes = {}, []
    for name in wanted:
        try:
            fws[name] = reference.load(name)
        except ImportError as e:
            notes.append(f"{name} not installed ({e}); skipped")
    if "jitgrad" in fws:
        fws["jitgrad"].set_num_threads(threads)
    if "torch" in fws:
        fws["torch"].set_num_threads(threads)
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


def blas_info():
    """Lines on the BLAS NumPy (and so jitgrad's matmul, autograd and hand-written NumPy) uses."""
    import numpy as np

    lines = []
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        lines.append(f"numpy built with {blas.get('name')} {blas.get('version')} "
                     f"({blas.get('openblas configuration', '').strip()})")
    except Exception:  # noqa: BLE001 - older NumPy: no dict mode
        pass
    try:
        import threadpoolctl

        for i in threadpoolctl.threadpool_info():
            lines.append(f"loaded {i['user_api']}: {i['internal_api']} {i.get('version')} "
                         f"{i.get('architecture') or ''} threads={i['num_threads']} "
                         f"({os.path.basename(i['filepath'])})")
    except ImportError:
        lines.append("threadpoolctl not installed: loaded BLAS/OpenMP libraries not listed")
    env = [f"{v}={os.environ[v]}" for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if v in os.environ]
    if env:
        lines.append(f"{' '.join(env)} set in the environment: NumPy's OpenBLAS uses those kernels "
                     "(see gemm_study.py for the difference)")
    return lines


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


def _version(name, mod):
    v = getattr(mod, "__version__", None)
    if v is None:
        from importlib import metadata

        try:
            v = metadata.version(name)
        except metadata.PackageNotFoundError:
            v = "?"
    return v


def header(fws, notes, threads, settle_ms):
    import numba
    import numpy as np

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
        if name != "numpy":
            versions.append(f"{name} {_version(name, mod)}")
    lines.append("versions: " + ", ".join(versions))
    lines.extend("blas    : " + b for b in blas_info())
    t = [f"requested {threads} for every framework"]
    if "jitgrad" in fws:
        t.append(f"jitgrad (Numba) {fws['jitgrad'].get_num_threads()} + NumPy's BLAS for matmul")
    if "torch" in fws:
        t.append(f"torch {fws['torch'].get_num_threads()} (interop {fws['torch'].get_num_interop_threads()})")
    if "jax" in fws:
        t.append("jax/XLA " + ("1 (XLA_FLAGS intra-op 1, no Eigen pool)" if threads == 1
                               else f"default pool ({os.cpu_count()} CPUs)"))
    if "numpy" in fws or "autograd" in fws:
        t.append(f"NumPy/autograd: BLAS pool {os.environ.get('OPENBLAS_NUM_THREADS', 'default')}, "
                 "elementwise 1")
    lines.append("threads : " + "; ".join(t))
    if "jitgrad" in fws:
        par, total = parallel_kernels()
        lines.append(f"kernels : {par} of jitgrad's {total} Numba kernels are parallel=True; Numba threading layer "
                     f"{numba.config.THREADING_LAYER!r} (NUMBA_THREADING_LAYER)")
        from jitgrad import _allocator

        lines.append(f"malloc  : jitgrad's glibc threshold tuning {_allocator.state} (process-wide: every framework "
                     "in this process reuses freed large buffers; JITGRAD_MALLOC_TUNING=0 turns it off)")
    lines.append(f"load    : {loadavg()} (1/5/15-min load average at start; other processes skew timings)")
    if settle_ms:
        lines.append(f"settle  : {settle_ms:g} ms sleep before each timed batch (idle thread pools stop spinning)")
    try:
        busy = float(loadavg().split()[0])
    except ValueError:
        busy = 0.0
    if threads > 1 and busy + threads > (os.cpu_count() or 1) + 0.5:
        lines.append(f"WARNING : load {busy:.2f} + {threads} threads > {os.cpu_count()} CPUs: multi-threaded "
                     "timings turn erratic (a barrier waits for a descheduled thread); compare with --threads 1")
    lines.extend("note    : " + n for n in notes)
    return lines


# ----------------------------------------------------------------------------- timing
def _batch(fn, n):
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return time.perf_counter() - t0


def _calibrate(fn, batch_s):
    """Iterations per batch so that one batch takes about ``batch_s``."""
    n = 1
    while True:
        t = min(_batch(fn, n) for _ in range(3))  # the least disturbed of three
        if t >= batch_s / 4 or n >= 1 << 22:
            return max(1, int(n * batch_s / max(t, 1e-9)))
        n *= 4


def time_interleaved(fns, rounds, batch_s, settle_s=0.0):
    """``({name: [seconds per iteration, one per round]}, {name: iterations per batch})``."""
    for fn in fns.values():  # warm up: compile / load kernels, jit-trace, allocate caches
        for _ in range(3):
            fn()
    sizes = {name: _calibrate(fn, batch_s) for name, fn in fns.items()}
    samples = {name: [] for name in fns}
    order = list(fns)
    gcold = gc.isenabled()
    try:
        for r in range(rounds):
            gc.collect()
            gc.disable()
            k = r % len(order)
            rot = order[k:] + order[:k]
            for name in (rot if r % 2 == 0 else rot[::-1]):
                if settle_s:
                    time.sleep(settle_s)
                samples[name].append(_batch(fns[name], sizes[name]) / sizes[name])
            gc.enable()
    finally:
        if gcold:
            gc.enable()
    return samples, sizes


def _iqr(xs):
    if len(xs) < 2:
        return xs[0], xs[0]
    q = statistics.quantiles(xs, n=4)
    return q[0], q[2]


def _fmt_t(s):
    if s >= 0.1:
        return f"{s * 1e3:,.0f} ms"
    if s >= 1e-3:
        return f"{s * 1e3:,.2f} ms"
    return f"{s * 1e6:,.1f} us"


def run_inprocess(fws, names, rounds, batch_s, settle_s, rows, notes):
    import reference

    for key in names:
        fns = {}
        for fw in fws:
            try:
                fn = reference.make_step(fw, key)
                if fn is not None:
                    fn()
                    fns[fw] = fn
            except NotImplementedError as e:
                notes.append(f"{key}: {fw} skipped ({e})")
            except Exception as e:  # noqa: BLE001 - a piece being written: report, go on
                notes.append(f"{key}: {fw} FAILED ({type(e).__name__}: {e})")
                print(f"  {key}: {fw} FAILED ({type(e).__name__}: {e})")
        if not fns:
            continue
        samples, sizes = time_interleaved(fns, rounds, batch_s, settle_s)
        row = {"workload": key, "desc": WORKLOADS[key],
               "med": {fw: statistics.median(s) for fw, s in samples.items()},
               "spread": {fw: _iqr(s) for fw, s in samples.items()},
               "detail": f"{rounds} rounds; iterations/batch " + ", ".join(f"{fw} {n}" for fw, n in sizes.items())}
        rows.append(row)
        print_row(row)


def ratio(row, fw, ref="torch"):
    med = row["med"]
    return med[fw] / med[ref] if fw in med and ref in med else None


def print_row(row):
    print(f"  {row['workload']:<10} {row['desc']}")
    for fw, v in row["med"].items():
        lo, hi = row["spread"][fw]
        noisy = "  NOISY" if hi - lo > 0.25 * v else ""
        r = ratio(row, fw)
        rs = f"{r:6.2f}x torch" if r is not None else ""
        print(f"      {fw:<9} {_fmt_t(v):>11}  [IQR {_fmt_t(lo)} - {_fmt_t(hi)}]  {rs}{noisy}")
    print(f"      ({row['detail']})")


# ----------------------------------------------------------------------------- W4 start-up
def run_startup(fws, runs, rows, notes):
    """Fresh-process ``import`` + one W1 gradient per framework; jitgrad warm and cold Numba
    cache; jitgrad's cold compile of a whole W3 step (warm W3 alongside)."""
    from common import startup_once

    cases = []
    if "jitgrad" in fws:
        startup_once("jitgrad")  # make sure the default Numba cache is warm
        cases += [("jitgrad", "jitgrad, warm cache", False, "w1"),
                  ("jitgrad", "jitgrad, cold cache", True, "w1")]
        try:
            startup_once("jitgrad", what="w3")
            cases += [("jitgrad", "jitgrad W3 step, warm cache", False, "w3"),
                      ("jitgrad", "jitgrad W3 step, cold cache", True, "w3")]
        except NotImplementedError as e:
            notes.append(f"W3 cold compile skipped: {e}")
    for fw in ("torch", "jax", "autograd"):
        if fw in fws:
            cases.append((fw, fw, False, "w1"))
    results = {c[1]: [] for c in cases}
    for i in range(runs):
        for mod, label, cold, what in (cases if i % 2 == 0 else cases[::-1]):
            results[label].append(startup_once(mod, cold_cache=cold, what=what))
    for label, rs in results.items():
        med = {k: statistics.median(r[k] for r in rs) for k in ("import_s", "grad_s", "total_s", "wall_s")}
        row = {"workload": "startup", "desc": label, "startup": med, "detail": f"median of {runs} processes"}
        rows.append(row)
        m = med
        what = "first W3 step" if "W3" in label else "first gradient"
        print(f"  {label:<30} import {m['import_s']:.3f} s + {what} {m['grad_s']:.3f} s = "
              f"{m['total_s']:.3f} s   (process wall {m['wall_s']:.3f} s)")


# ----------------------------------------------------------------------------- peak memory
def run_peakmem(fws, rows, notes, runs=3):
    """W3 / W6 training-step peak RSS above the steady state, per framework, fresh processes."""
    from common import peak_memory

    for workload in ("w3", "w6"):
        got = {}
        for i in range(runs):
            order = list(fws) if i % 2 == 0 else list(fws)[::-1]
            for fw in order:
                if got.get(fw) == "skip":
                    continue
                try:
                    got.setdefault(fw, []).append(peak_memory(fw, workload))
                except NotImplementedError as e:
                    notes.append(f"peak memory {workload}: {fw} skipped ({e})")
                    got[fw] = "skip"
        med = {fw: {k: statistics.median(r[k] for r in rs) for k in ("extra_bytes", "peak_bytes", "base_bytes")}
               for fw, rs in got.items() if rs != "skip"}
        if med:
            row = {"workload": "peakmem", "desc": workload, "mem": med}
            rows.append(row)
            print(f"  {workload}: " + "; ".join(
                f"{fw} +{m['extra_bytes'] / 2**20:.1f} MiB (peak {m['peak_bytes'] / 2**20:.0f} MiB)"
                for fw, m in med.items()))


# ----------------------------------------------------------------------------- targets
def target_lines(rows):
    out = []
    for r in rows:
        if r["workload"] in TARGETS and "jitgrad" in r.get("med", {}) and "torch" in r["med"]:
            x, t = ratio(r, "jitgrad"), TARGETS[r["workload"]]
            out.append(f"{r['workload']}: jitgrad/torch {x:.2f} (target <= {t}) {'met' if x <= t else 'MISSED'}")
    st = {r["desc"]: r["startup"] for r in rows if r["workload"] == "startup"}
    if "jitgrad, warm cache" in st and "torch" in st:
        x = st["jitgrad, warm cache"]["total_s"] / st["torch"]["total_s"]
        out.append(f"w4 warm: jitgrad/torch import + gradient {x:.2f} (target <= {TARGET_STARTUP_WARM}) "
                   f"{'met' if x <= TARGET_STARTUP_WARM else 'MISSED'}")
    if "jitgrad W3 step, cold cache" in st:
        c = st["jitgrad W3 step, cold cache"]["total_s"]
        w = st.get("jitgrad W3 step, warm cache", {}).get("total_s", 0.0)
        out.append(f"w3 cold compile: {c:.1f} s for import + first W3 step, {c - w:.1f} s over the warm cache "
                   f"(target < {TARGET_COLD_W3_S:g} s) {'met' if c < TARGET_COLD_W3_S else 'MISSED'}")
    for r in rows:
        if r["workload"] == "peakmem" and r["desc"] == "w6" and {"jitgrad", "torch"} <= set(r["mem"]):
            j, t = r["mem"]["jitgrad"]["extra_bytes"], r["mem"]["torch"]["extra_bytes"]
            out.append(f"w6 peak memory: jitgrad +{j / 2**20:.1f} MiB vs torch +{t / 2**20:.1f} MiB "
                       f"(target: no higher) {'met' if j <= t else 'MISSED'}")
    return out


# ----------------------------------------------------------------------------- reports
def markdown(path, head, rows, fws, argv, targets):
    out = ["# jitgrad vs PyTorch, JAX, HIPS autograd and NumPy", "", "```", *head, "```", "",
           f"Command: `python {' '.join(argv)}`", ""]
    tr = [r for r in rows if "med" in r]
    if tr:
        cols = [fw for fw in fws if any(fw in r["med"] for r in tr)]
        out += ["Median time per iteration (ratio to PyTorch); [interquartile range over rounds].", "",
                "| workload | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
        for r in tr:
            cells = []
            for fw in cols:
                if fw not in r["med"]:
                    cells.append("n/a")
                    continue
                lo, hi = r["spread"][fw]
                x = ratio(r, fw)
                cells.append(f"{_fmt_t(r['med'][fw])}" + (f" (**{x:.2f}x**)" if x is not None else "")
                             + f"<br>[{_fmt_t(lo)}–{_fmt_t(hi)}]")
            out.append(f"| {r['desc']} | " + " | ".join(cells) + " |")
        out.append("")
    st = [r for r in rows if r["workload"] == "startup"]
    if st:
        out += ["| W4 start-up (fresh process, medians) | import (s) | first gradient / step (s) | total (s) | "
                "process wall (s) |", "|---|---:|---:|---:|---:|"]
        for r in st:
            m = r["startup"]
            out.append(f"| {r['desc']} | {m['import_s']:.3f} | {m['grad_s']:.3f} | {m['total_s']:.3f} | "
                       f"{m['wall_s']:.3f} |")
        out.append("")
    pm = [r for r in rows if r["workload"] == "peakmem"]
    if pm:
        cols = [fw for fw in fws if any(fw in r["mem"] for r in pm)]
        out += ["Training-step working memory: peak RSS of 3 steps above the steady state after 2 warm-up "
                "steps and malloc_trim (MiB; fresh process, median of 3):", "",
                "| workload | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
        for r in pm:
            out.append(f"| {r['desc'].upper()} | " + " | ".join(
                f"{r['mem'][fw]['extra_bytes'] / 2**20:.1f}" if fw in r["mem"] else "n/a" for fw in cols) + " |")
        out.append("")
    if targets:
        out += ["Targets (jitgrad):", ""] + [f"- {t}" for t in targets] + [""]
    with open(path, "w") as f:
        f.write("\n".join(out))


def png(path, rows, fws, title):
    """Grouped bars: each framework's time relative to PyTorch's, per workload (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tr = [r for r in rows if "med" in r and "torch" in r["med"]]
    if not tr:
        return False
    cols = [fw for fw in fws if any(fw in r["med"] for r in tr)]
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(tr) + 2), 4.5))
    width = 0.8 / len(cols)
    for i, fw in enumerate(cols):
        xs = [j + (i - (len(cols) - 1) / 2) * width for j, r in enumerate(tr) if fw in r["med"]]
        ys = [ratio(r, fw) for r in tr if fw in r["med"]]
        ax.bar(xs, ys, width, label=fw)
        for x, y in zip(xs, ys):
            ax.text(x, y, f"{y:.2g}", ha="center", va="bottom", fontsize=6, rotation=90)
    for j, r in enumerate(tr):
        if r["workload"] in TARGETS:
            ax.plot([j - 0.45, j + 0.45], [TARGETS[r["workload"]]] * 2, "k--", lw=0.8)
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_yscale("log")
    ax.set_xticks(range(len(tr)))
    ax.set_xticklabels([r["workload"] for r in tr])
    ax.set_ylabel("time / PyTorch time (log; lower is faster)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, ncol=len(cols), loc="upper center", bbox_to_anchor=(0.5, -0.08), frameon=False)
    fig.text(0.01, 0.01, "dashed: jitgrad's target", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-w", "--workload", action="append", choices=ALL,
                   help="run only this workload (repeatable); default: all")
    p.add_argument("-f", "--framework", action="append", choices=FRAMEWORKS,
                   help="run only this framework (repeatable); default: every one installed")
    p.add_argument("--rounds", type=int, default=30, help="interleaved rounds per workload (default 30)")
    p.add_argument("--batch-ms", type=float, default=25.0, help="target time of one batch (default 25 ms)")
    p.add_argument("--startup-runs", type=int, default=5, help="fresh processes per start-up case (default 5)")
    p.add_argument("--threads", type=int, default=None,
                   help="threads for every framework (default: all CPUs)")
    p.add_argument("--settle-ms", type=float, default=None,
                   help="sleep before each timed batch (default 100 with several threads, 0 with one)")
    p.add_argument("--quick", action="store_true", help="8 rounds of 10 ms batches, 2 start-up runs")
    p.add_argument("--markdown", metavar="PATH", help="also write the results as Markdown to PATH")
    p.add_argument("--png", metavar="PATH", help="also draw the ratios to PyTorch as a bar chart (matplotlib)")
    p.add_argument("--json", metavar="PATH", help="also write the raw rows as JSON to PATH (scaling.py reads it)")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.batch_ms, args.startup_runs = 8, 10.0, 2
    threads = args.threads or os.cpu_count() or 1
    settle_ms = args.settle_ms if args.settle_ms is not None else (100.0 if threads > 1 else 0.0)
    names = args.workload or ALL
    set_thread_env(threads)  # before NumPy, torch or jax load
    sys.path.insert(0, os.path.join(HERE, "benchmarks"))

    fws, notes = load_frameworks(args.framework or FRAMEWORKS, threads)
    if not fws:
        print("nothing to compare: no framework is importable")
        return 1
    head = header(fws, notes, threads, settle_ms)
    print("\n".join(head))
    print()
    notes = []
    rows = []
    inproc = [n for n in names if n in WORKLOADS]
    if inproc:
        print(f"In-process workloads (median per iteration over {args.rounds} interleaved rounds):")
        run_inprocess(fws, inproc, args.rounds, args.batch_ms / 1e3, settle_ms / 1e3, rows, notes)
    if STARTUP in names:
        print(f"\nW4 start-up in fresh subprocesses (median of {args.startup_runs}):")
        run_startup(fws, args.startup_runs, rows, notes)
    if PEAKMEM in names:
        print("\nWorking memory of a training step: peak RSS of 3 steps above the steady state after 2 warm-up "
              "steps and malloc_trim (fresh processes, median of 3):")
        run_peakmem(fws, rows, notes)
    targets = target_lines(rows)
    if targets:
        print("\nTargets (jitgrad):")
        print("\n".join("  " + t for t in targets))
    if notes:
        print()
        print("\n".join("note: " + n for n in notes))
    end = f"load at end: {loadavg()}"
    if "jitgrad" in fws:
        try:
            import numba

            end += f"; Numba threading layer used: {numba.threading_layer()}"
        except ValueError:  # no parallel kernel ran
            pass
    print(f"\n{end}")
    head = head + [end] + ["note    : " + n for n in notes]
    cmd = [os.path.relpath(sys.argv[0])] + (argv if argv is not None else sys.argv[1:])
    if args.markdown:
        markdown(args.markdown, head, rows, fws, cmd, targets)
        print(f"wrote {args.markdown}")
    if args.json:
        import json

        with open(args.json, "w") as f:
            json.dump({"threads": threads, "cpu": cpu_model(), "cpus": os.cpu_count(),
                       "versions": {fw: _version(fw, mod) for fw, mod in fws.items()},
                       "header": head, "rows": rows}, f, indent=1)
        print(f"wrote {args.json}")
    if args.png:
        try:
            if png(args.png, rows, fws, f"{cpu_model()}, {threads} thread(s): time relative to PyTorch"):
                print(f"wrote {args.png}")
        except ImportError:
            print("matplotlib not installed: no PNG (pip install matplotlib)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
