#!/usr/bin/env python
"""Thread scaling: W2 and W3 (by default) in jitgrad and PyTorch from 1 to N threads.

    python asv_benchmarks/scaling.py                          # 1, 2, 4, ... up to the CPU count
    python asv_benchmarks/scaling.py --threads 1 2 4 8 16 --markdown scaling.md --png scaling.png

Each thread count runs ``compare.py --quick --threads N`` in a fresh process (thread pools are
sized when NumPy, Numba and torch load, so a count cannot change inside one process), with
jitgrad and PyTorch interleaved in that process as ``compare.py`` always does.  The result is
a table of median times and jitgrad/PyTorch ratios per thread count, and a PNG of time against
threads (log-log, with the ideal ``t1 / n`` line for each framework).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_WORKLOADS = ("w2_f32", "w2_f64", "w3")


def _default_threads():
    n, out = os.cpu_count() or 1, []
    k = 1
    while k < n:
        out.append(k)
        k *= 2
    return out + [n]


def run_one(threads, workloads, frameworks, extra):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "rows.json")
        cmd = [sys.executable, os.path.join(HERE, "compare.py"), "--quick", "--threads", str(threads),
               "--json", path, *extra]
        for w in workloads:
            cmd += ["-w", w]
        for f in frameworks:
            cmd += ["-f", f]
        print(f"$ {' '.join(cmd[1:])}", flush=True)
        subprocess.run(cmd, check=True)
        with open(path) as f:
            return json.load(f)


def _fmt(s):
    return f"{s * 1e3:.2f} ms" if s < 0.1 else f"{s * 1e3:.0f} ms"


def table(results, workloads, frameworks):
    """Markdown rows: one per thread count, a time per framework and jitgrad/torch per workload."""
    descs = {}
    for res in results:
        for r in res["rows"]:
            descs.setdefault(r["workload"], r["desc"])
    head = ["threads"]
    for w in workloads:
        head += [f"{w} {fw}" for fw in frameworks]
        if {"jitgrad", "torch"} <= set(frameworks):
            head.append(f"{w} ratio")
    lines = ["| " + " | ".join(head) + " |", "|---:|" + "---:|" * (len(head) - 1)]
    for res in results:
        rows = {r["workload"]: r for r in res["rows"]}
        cells = [str(res["threads"])]
        for w in workloads:
            med = rows.get(w, {}).get("med", {})
            cells += [_fmt(med[fw]) if fw in med else "n/a" for fw in frameworks]
            if {"jitgrad", "torch"} <= set(frameworks):
                cells.append(f"**{med['jitgrad'] / med['torch']:.2f}**" if {"jitgrad", "torch"} <= set(med)
                             else "n/a")
        lines.append("| " + " | ".join(cells) + " |")
    legend = "; ".join(f"{w} = {descs.get(w, w)}" for w in workloads)
    return lines, legend


def plot(path, results, workloads, frameworks, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(workloads), figsize=(4.2 * len(workloads), 3.8), squeeze=False)
    for ax, w in zip(axes[0], workloads):
        for fw in frameworks:
            pts = [(res["threads"], r["med"][fw]) for res in results for r in res["rows"]
                   if r["workload"] == w and fw in r.get("med", {})]
            if not pts:
                continue
            xs, ys = zip(*pts)
            line, = ax.plot(xs, [y * 1e3 for y in ys], "o-", label=fw)
            ax.plot(xs, [ys[0] * 1e3 * xs[0] / x for x in xs], ":", color=line.get_color(), lw=0.8)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("threads")
        ax.set_ylabel("ms per iteration")
        ax.set_title(w, fontsize=9)
        ax.legend(fontsize=8)
    fig.suptitle(title + "  (dotted: ideal t1/n)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, nargs="+", default=None,
                   help="thread counts (default: 1, 2, 4, ... and the CPU count)")
    p.add_argument("-w", "--workload", action="append", help=f"default: {' '.join(DEFAULT_WORKLOADS)}")
    p.add_argument("-f", "--framework", action="append", help="default: jitgrad and torch")
    p.add_argument("--markdown", metavar="PATH")
    p.add_argument("--png", metavar="PATH")
    p.add_argument("--json", metavar="PATH", help="all compare.py results, one per thread count")
    args = p.parse_args(argv)
    workloads = args.workload or list(DEFAULT_WORKLOADS)
    frameworks = args.framework or ["jitgrad", "torch"]
    results = [run_one(n, workloads, frameworks, []) for n in (args.threads or _default_threads())]
    lines, legend = table(results, workloads, frameworks)
    first = results[0]
    machine = f"{first['cpu']}, {first['cpus']} CPUs; " + ", ".join(f"{k} {v}" for k, v in first["versions"].items())
    print("\n" + machine + "\n" + "\n".join(lines) + "\n" + legend)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(["# Thread scaling, jitgrad vs PyTorch", "", machine, "",
                               "Median time per iteration (compare.py --quick, one fresh process per thread "
                               "count, frameworks interleaved); ratio = jitgrad / torch.", "",
                               *lines, "", legend, ""]))
    if args.png:
        plot(args.png, results, workloads, frameworks, machine.split(";")[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
