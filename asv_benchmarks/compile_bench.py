#!/usr/bin/env python
"""jitgrad.compile against eager jitgrad and PyTorch eager, W1 and W2 (issue 10, v1).

    python asv_benchmarks/compile_bench.py             # 5 rounds
    python asv_benchmarks/compile_bench.py --rounds 9

  W1  ``((x*2 + 1).exp() * x).sum().backward()``, 16 float32
  W2  ``(x.tanh()*x.sigmoid() + x*x*0.5).sum().backward()``, 4,000,000 float32

Steady state: each (variant, workload) runs in its own fresh process per round (variants
alternate, the order rotating round by round), warms up, then times batches of iterations
(garbage collector off); the figure is the median over rounds of each process's median batch,
printed with its ratio to PyTorch eager.  First call: a fresh process times the first call of
the compiled function (trace, kernel generation, Numba compile or cache load, one backward)
with a cold cache (an empty ``NUMBA_CACHE_DIR``: jitgrad's own eager kernels compile too) and
then warm (the same directory again).  Threads: each framework's default.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap

VARIANTS = ("torch", "jitgrad", "jitgrad.compile")
WORKLOADS = {"w1": ("W1 tiny chain fwd+bwd, 16 f32", 16), "w2": ("W2 tanh*sigmoid chain fwd+bwd, 4M f32", 4_000_000)}

_WORKER = textwrap.dedent("""
    import gc, json, sys, time
    variant, workload, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if variant == "torch":
        import torch
    else:
        import jitgrad as torch
    torch.manual_seed(0)
    x = torch.randn(n, requires_grad=True)

    def w1(x):
        return ((x * 2 + 1).exp() * x).sum()

    def w2(x):
        return (x.tanh() * x.sigmoid() + x * x * 0.5).sum()

    fn = {"w1": w1, "w2": w2}[workload]
    if variant == "jitgrad.compile":
        fn = torch.compile(fn)
    t0 = time.perf_counter()
    fn(x).backward()
    first = time.perf_counter() - t0
    if sys.argv[4] == "first":
        print(json.dumps({"first": first}))
        sys.exit()
    for _ in range(20):
        fn(x).backward()
    per_batch = max(1, int(0.05 / max((time.perf_counter() - t0) / 21, 1e-7)))
    gc.disable()
    times = []
    for _ in range(15):
        t = time.perf_counter()
        for _ in range(per_batch):
            x.grad = None
            fn(x).backward()
        times.append((time.perf_counter() - t) / per_batch)
    gc.enable()
    times.sort()
    print(json.dumps({"time": times[len(times) // 2]}))
""")


def _run(variant, workload, mode, env=None):
    out = subprocess.run([sys.executable, "-c", _WORKER, variant, workload, str(WORKLOADS[workload][1]), mode],
                         capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    opts = parser.parse_args()

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; median of {opts.rounds} rounds, "
          "each variant in its own fresh process\n")
    for workload, (title, _) in WORKLOADS.items():
        samples = {v: [] for v in VARIANTS}
        for r in range(opts.rounds):
            order = VARIANTS[r % 3:] + VARIANTS[:r % 3]
            for variant in (order if r % 2 == 0 else order[::-1]):
                samples[variant].append(_run(variant, workload, "steady")["time"])
        base = statistics.median(samples["torch"])
        print(title)
        for variant in VARIANTS:
            t = statistics.median(samples[variant])
            print(f"  {variant:16s} {t * 1e6:10.1f} us   {t / base:5.2f}x torch eager")
        print()

    print("first call of the compiled function (trace + kernels + one backward), fresh processes")
    for workload, (title, _) in WORKLOADS.items():
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, NUMBA_CACHE_DIR=cache)
            cold = _run("jitgrad.compile", workload, "first", env)["first"]
            warm = _run("jitgrad.compile", workload, "first", env)["first"]
        print(f"  {workload}: cold cache {cold:6.2f} s   warm cache {warm:6.3f} s")


if __name__ == "__main__":
    main()
