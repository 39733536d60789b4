#!/usr/bin/env python
"""jitgrad and PyTorch sharing a process or a machine: import order, a busy neighbour, run-to-run spread.

    python asv_benchmarks/contention.py            # the full run: a few minutes on 2 cores
    python asv_benchmarks/contention.py --quick    # a smoke test: w3 only, short timings, 3 fresh processes

Every measurement runs in its own fresh process (default thread settings), timing one workload
for ``--seconds`` after a warm-up, and reports the median per-iteration time:

  w3  MLP training step: batch 256, 784-512-512-10, ReLU, cross-entropy, SGD, float32
  w5  ``((a @ b).tanh() @ c).sum()`` forward+backward, 64x64 float32
  w2  ``(tanh(x)*sigmoid(x) + x*x*0.5).sum()`` forward+backward, 4M float32

Cases, for jitgrad and for PyTorch:

* import order: the framework alone in its process, ``import torch`` then ``import jitgrad``, and
  ``import jitgrad`` then ``import torch`` (the other framework imported, not used).  The target:
  within 10% of alone (both share OpenMP/BLAS libraries, thread pools and environment variables);
* a busy neighbour: w3 while a second process trains the same MLP with jitgrad (2 cores: a fair
  share is 2x the quiet time; the target for jitgrad is 2.5x);
* spread: w3's median in ten fresh processes alone; the target: slowest within 1.3x of fastest.

The ratios are only meaningful on an otherwise idle machine: the header prints the load average.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOADS = {"w3": "MLP step (256, 784-512-512-10)", "w5": "(a@b).tanh()@c fwd+bwd, 64x64",
             "w2": "tanh*sigmoid chain fwd+bwd, 4M"}
ORDERS = ("alone", "torch-then-jitgrad", "jitgrad-then-torch")
FRAMEWORKS = ("jitgrad", "torch")


# ----------------------------------------------------------------------------- in the fresh process
def import_frameworks(framework, order):
    """Import as ``order`` says; the module under test."""
    import importlib

    names = {"alone": [framework], "torch-then-jitgrad": ["torch", "jitgrad"],
             "jitgrad-then-torch": ["jitgrad", "torch"]}[order]
    mods = {name: importlib.import_module(name) for name in names}
    return mods[framework]


def make_step(X, workload):
    sys.path.insert(0, os.path.join(HERE, "benchmarks"))
    import common

    if workload == "w3":
        step, _ = common.w3_setup(X)
        return step
    if workload == "w5":
        a, b, c = common.tensors(X, common.w5_data())

        def step():
            a.grad = b.grad = c.grad = None
            common.w5_chain(a, b, c).backward()
        return step
    (x,) = common.tensors(X, [common.w2_data()])

    def step():
        x.grad = None
        common.eltwise_chain(X, x).backward()
    return step


def worker(framework, order, workload, seconds):
    """Time ``workload``; print one JSON line (median ms, iterations, CPU time / wall time)."""
    import gc
    import resource

    X = import_frameworks(framework, order)
    step = make_step(X, workload)
    t_end = time.perf_counter() + min(1.0, seconds / 2)
    while time.perf_counter() < t_end:  # warm-up: compile/load kernels, start thread pools
        step()
    gc.disable()
    times = []
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    t_end = t0 + seconds
    while time.perf_counter() < t_end or len(times) < 5:
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
    print(json.dumps({"median_ms": statistics.median(times) * 1e3, "n": len(times), "cpu_per_wall": cpu / (t1 - t0),
                      "switches_per_iter": (r1.ru_nvcsw - r0.ru_nvcsw) / len(times)}))


def neighbour():
    """Train the W3 MLP with jitgrad until killed (prints ``ready`` once warm)."""
    import jitgrad

    step = make_step(jitgrad, "w3")
    for _ in range(3):
        step()
    print("ready", flush=True)
    while True:
        step()


# ----------------------------------------------------------------------------- the driver
def measure(framework, order, workload, seconds):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", framework, order, workload, str(seconds)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def median_of(results):
    """The median of fresh processes' medians (an error when none ran)."""
    ok = [r["median_ms"] for r in results if "median_ms" in r]
    return {"median_ms": statistics.median(ok)} if ok else results[0]


def available(name):
    return subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True).returncode == 0


def fmt(r):
    return f"{r['median_ms']:.2f}" if "median_ms" in r else "error"


def ratio(r, base, target=None):
    if "median_ms" not in r or "median_ms" not in base:
        return "n/a"
    q = r["median_ms"] / base["median_ms"]
    return f"{q:.2f}x" + ("" if target is None else (" ok" if q <= target else " **over**"))


def loadavg():
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "n/a"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke test: w3 only, short timings, 3 fresh processes")
    ap.add_argument("--seconds", type=float, default=None, help="timing per measurement (default 1.5, quick 0.4)")
    ap.add_argument("--fresh", type=int, default=None, help="fresh processes for the spread (default 10, quick 3)")
    ap.add_argument("--rounds", type=int, default=None,
                    help="fresh processes per import-order cell, alternated (default 3, quick 1)")
    ap.add_argument("--worker", nargs=4, metavar=("FRAMEWORK", "ORDER", "WORKLOAD", "SECONDS"), help=argparse.SUPPRESS)
    ap.add_argument("--neighbour", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        fw, order, wl, secs = args.worker
        return worker(fw, order, wl, float(secs))
    if args.neighbour:
        return neighbour()
    seconds = args.seconds or (0.4 if args.quick else 1.5)
    rounds = args.rounds or (1 if args.quick else 3)
    fresh = args.fresh or (3 if args.quick else 10)
    fws = [f for f in FRAMEWORKS if available(f)]
    print(f"# contention: {os.cpu_count()} CPUs, load average at start {loadavg()}, {seconds:g} s per measurement, {rounds} alternated fresh processes per cell"
          f"{' (quick)' if args.quick else ''}; frameworks: {', '.join(fws)}\n")

    # import order: the other framework present only when both are installed
    orders = ORDERS if len(fws) == 2 else ORDERS[:1]
    workloads = {"w3": WORKLOADS["w3"]} if args.quick else WORKLOADS
    # several rounds, the cells' order rotating round by round (machine drift hits every cell
    # alike); a cell's figure is the median of its fresh processes' medians
    cells = [(fw, o, wl) for wl in workloads for fw in fws for o in orders]
    runs = {cell: [] for cell in cells}
    for r in range(rounds):
        k = r % len(cells)
        for cell in (cells[k:] + cells[:k])[::(-1 if r % 2 else 1)]:
            runs[cell].append(measure(*cell, seconds))
    res = {cell: median_of(rs) for cell, rs in runs.items()}

    # a busy neighbour (a jitgrad process training the same MLP) beside each framework's w3
    nb = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--neighbour"], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True)
    try:
        nb.stdout.readline()  # "ready"
        busy = {fw: measure(fw, "alone", "w3", seconds) for fw in fws}
    finally:
        nb.kill()
        nb.wait()

    spread = {fw: [] for fw in fws}
    for _ in range(fresh):  # alternated
        for fw in fws:
            spread[fw].append(measure(fw, "alone", "w3", seconds / 2))

    print("## Import order and a busy neighbour (median ms per iteration; ratio to alone)\n")
    head = "| framework | workload | alone | torch, jitgrad | ratio | jitgrad, torch | ratio | busy neighbour | ratio |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for wl, desc in workloads.items():
        for fw in fws:
            base = res[fw, "alone", wl]
            cells = [fw, f"{wl} {desc}", fmt(base)]
            for o in orders[1:]:
                cells += [fmt(res[fw, o, wl]), ratio(res[fw, o, wl], base, 1.10)]
            cells += ["", ""] * (len(ORDERS) - len(orders))
            if wl == "w3":
                cells += [fmt(busy[fw]), ratio(busy[fw], base, 2.5 if fw == "jitgrad" else None)]
            else:
                cells += ["", ""]
            print("| " + " | ".join(cells) + " |")

    print(f"\n## w3 in {fresh} fresh processes alone (median ms of each)\n")
    print("| framework | medians | fastest | slowest | slowest / fastest |")
    print("|---|---|---|---|---|")
    for fw in fws:
        ok = [r["median_ms"] for r in spread[fw] if "median_ms" in r]
        if not ok:
            print(f"| {fw} | error | | | |")
            continue
        q = max(ok) / min(ok)
        print(f"| {fw} | {' '.join(f'{m:.1f}' for m in ok)} | {min(ok):.2f} | {max(ok):.2f} | "
              f"{q:.2f}x{' ok' if q <= 1.3 else ' **over**'} |")
    errors = [(k, r["error"]) for k, r in res.items() if "error" in r]
    for k, e in errors:
        print(f"\nerror in {k}: {e}")
    extra = []
    try:
        out = subprocess.run([sys.executable, "-c", "import jitgrad, numba; x = jitgrad.ones(1 << 18); (x * 2).sum();"
                              "print(numba.threading_layer())"], capture_output=True, text=True, timeout=120)
        extra.append(f"jitgrad's Numba threading layer: {out.stdout.strip() or 'n/a'}")
    except subprocess.TimeoutExpired:
        pass
    print(f"\nload average at end {loadavg()}" + "".join("; " + e for e in extra))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
