#!/usr/bin/env python
"""Where the hand-written NumPy W3 step spends its time, and which GEMM is fastest here.

    python asv_benchmarks/gemm_study.py                       # NumPy/SciPy/torch, both OpenBLAS settings
    python asv_benchmarks/gemm_study.py --threads 1           # one thread everywhere
    python asv_benchmarks/gemm_study.py --libs DIR --mkl DIR  # also libraries installed aside:
        pip install --no-deps --target DIR scipy-openblas32 blis   (OpenBLAS 0.3.34, BLIS)
        the shared objects of the mkl + intel-openmp wheels in one folder (libmkl_rt.so.3 ...)

W3 is the MLP step (batch 256, 784->512->512->10, ReLU, cross-entropy, SGD, float32) with
PyTorch's ``nn.Linear`` layout (W is out x in): its eight products are ``x @ W.T`` (forward),
``g.T @ h`` (weight gradients) and ``g @ W`` (input gradients), so half of them have a
transposed operand.  For each product and each GEMM available, the script times the call
(interleaved rounds, median), then times the whole NumPy step by phase and with its
products routed through each GEMM, next to PyTorch's own step (``torch.nn``).

OpenBLAS picks its kernels when it loads, from ``OPENBLAS_CORETYPE`` (and sizes its blocking
from ``OPENBLAS_L2_SIZE``); where those are set (this machine sets Haswell / 512), the
measurements run twice, in child processes: with the environment as it is, and with the two
variables removed (OpenBLAS detects the CPU itself).
"""
import argparse
import ctypes
import gc
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "benchmarks"))

import numpy as np  # noqa: E402

OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
N, SIZES = 256, (784, 512, 512, 10)


def w3_products():
    """``[(label, a, b)]``: W3's products with the operand layouts the NumPy step uses."""
    rng = np.random.default_rng(0)
    f32 = np.float32
    x = rng.standard_normal((N, SIZES[0])).astype(f32)
    Ws = [rng.standard_normal((o, i)).astype(f32) for i, o in zip(SIZES[:-1], SIZES[1:])]
    hs = [x] + [rng.standard_normal((N, o)).astype(f32) for o in SIZES[1:-1]]
    gs = [rng.standard_normal((N, o)).astype(f32) for o in SIZES[1:]]
    out = []
    for i, W in enumerate(Ws):
        out.append((f"fwd{i} x@W.T  {N}x{W.shape[1]} @ {W.shape[1]}x{W.shape[0]}", hs[i], W.T))
    for i in range(len(Ws) - 1, -1, -1):
        out.append((f"dW{i}  g.T@h  {gs[i].shape[1]}x{N} @ {N}x{hs[i].shape[1]}", gs[i].T, hs[i]))
        if i:
            out.append((f"dX{i}  g@W    {N}x{Ws[i].shape[0]} @ {Ws[i].shape[0]}x{Ws[i].shape[1]}",
                        gs[i], Ws[i]))
    return out


# ----------------------------------------------------------------------------- GEMM back-ends
def _layout(a):
    """``(transposed, C-contiguous storage)`` of a 2-D operand for a row-major GEMM."""
    if a.flags.c_contiguous:
        return False, a
    if a.flags.f_contiguous:
        return True, a.T
    return False, np.ascontiguousarray(a)


def cblas_gemm(lib, symbol):
    fn = getattr(lib, symbol)
    fn.restype = None
    i, f, p = ctypes.c_int, ctypes.c_float, ctypes.c_void_p
    fn.argtypes = [i, i, i, i, i, i, f, p, i, p, i, f, p, i]

    def mm(a, b):
        (ta, sa), (tb, sb) = _layout(a), _layout(b)
        m, k = a.shape
        n = b.shape[1]
        c = np.empty((m, n), np.float32)
        fn(101, 112 if ta else 111, 112 if tb else 111, m, n, k, 1.0, sa.ctypes.data, sa.shape[1],
           sb.ctypes.data, sb.shape[1], 0.0, c.ctypes.data, n)
        return c
    return mm


def scipy_gemm():
    from scipy.linalg.blas import sgemm

    def mm(a, b):
        # Fortran BLAS: C = A B in row-major is C^T = B^T A^T in column-major, and the
        # transpose of a C-contiguous array is a Fortran-contiguous one -- no copies.
        (ta, sa), (tb, sb) = _layout(a), _layout(b)
        return sgemm(1.0, sb.T, sa.T, trans_a=tb, trans_b=ta).T
    return mm


def blis_gemm():
    import blis.py

    def mm(a, b):
        (ta, sa), (tb, sb) = _layout(a), _layout(b)
        c = np.empty((a.shape[0], b.shape[1]), np.float32)
        return blis.py.gemm(sa, sb, out=c, trans1=ta, trans2=tb, beta=0.0)
    return mm


def backends(args):
    """``{name: mm(a, b)}`` for every GEMM that loads here, and notes on those that do not."""
    out, notes = {"numpy @": lambda a, b: a @ b}, []
    out["numpy @ C-contig"] = None  # timed on pre-copied contiguous operands (copy cost isolated)
    try:
        out["scipy sgemm"] = scipy_gemm()
    except ImportError as e:
        notes.append(f"scipy: {e}")
    if args.libs:
        try:
            import scipy_openblas32

            lib = ctypes.CDLL(os.path.join(scipy_openblas32.get_lib_dir(), "libscipy_openblas.so"))
            out["OpenBLAS 0.3.34 (scipy-openblas32)"] = cblas_gemm(lib, "scipy_cblas_sgemm")
        except (ImportError, OSError) as e:
            notes.append(f"scipy-openblas32: {e}")
        try:
            out["BLIS (cython-blis)"] = blis_gemm()
        except ImportError as e:
            notes.append(f"blis: {e}")
    if args.mkl:
        try:
            lib = ctypes.CDLL(os.path.join(args.mkl, "libmkl_rt.so.3"))
            out["MKL cblas (mkl wheel)"] = cblas_gemm(lib, "cblas_sgemm")
        except OSError as e:
            notes.append(f"mkl: {e}")
    try:
        if args.quick:
            raise ImportError("left out by --quick")
        import torch

        torch.set_num_threads(args.threads)
        def tmm(a, b):  # zero-copy views both ways; torch picks its own trans flags
            (ta, sa), (tb, sb) = _layout(a), _layout(b)
            ta_, tb_ = torch.from_numpy(sa), torch.from_numpy(sb)
            return torch.mm(ta_.T if ta else ta_, tb_.T if tb else tb_).numpy()
        out["torch.mm"] = tmm
    except ImportError as e:
        notes.append(f"torch: {e}")
    return out, notes


# ----------------------------------------------------------------------------- timing
def _median_time(fn, rounds, number):
    return statistics.median(_batch(fn, number) / number for _ in range(rounds))


def _batch(fn, n):
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return time.perf_counter() - t0


SETTLE_S = 0.0
BATCH_S = 0.02  # target time of one timed batch (--quick: 2 ms)


def interleaved(fns, rounds, batch_s=None):
    """``{name: median seconds per call}``, the callables alternating round by round.

    With several threads, each batch starts after ``SETTLE_S`` of sleep: a BLAS thread pool
    keeps spinning for a while after its last call (OpenBLAS ~0.1 s, OpenMP less), and on
    two cores the next library's threads would otherwise run beside it."""
    batch_s = batch_s or BATCH_S
    for fn in fns.values():
        fn()
        fn()
    number = {k: max(1, int(batch_s / max(_batch(f, 1), 1e-7))) for k, f in fns.items()}
    samples = {k: [] for k in fns}
    order = list(fns)
    gc.disable()
    try:
        for r in range(rounds):
            rot = order[r % len(order):] + order[:r % len(order)]
            for k in (rot if r % 2 == 0 else rot[::-1]):
                if SETTLE_S:
                    time.sleep(SETTLE_S)
                samples[k].append(_batch(fns[k], number[k]) / number[k])
    finally:
        gc.enable()
    return {k: statistics.median(v) for k, v in samples.items()}


def child(args):
    """Every measurement in this process's BLAS environment; JSON on stdout."""
    import reference
    import common

    mms, notes = backends(args)
    res = {"notes": notes, "gemm": {}, "step": {}, "phases": {}}
    try:
        import threadpoolctl

        res["blas"] = [f"{i['internal_api']} {i['version']} {i.get('architecture')} "
                       f"threads={i['num_threads']} ({os.path.basename(i['filepath'])})"
                       for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    except ImportError:
        res["blas"] = []
    # 1. each product, each GEMM
    for label, a, b in w3_products():
        ac, bc = np.ascontiguousarray(a), np.ascontiguousarray(b)
        ref = a @ b
        fns = {}
        for name, mm in mms.items():
            if mm is None:
                fns[name] = (lambda ac=ac, bc=bc: ac @ bc)
                continue
            got = mm(a, b)
            assert np.allclose(got, ref, rtol=1e-3, atol=1e-3), name
            fns[name] = (lambda mm=mm, a=a, b=b: mm(a, b))
        t = interleaved(fns, args.rounds)
        flops = 2 * a.shape[0] * a.shape[1] * b.shape[1]
        res["gemm"][label] = {k: (v, flops / v / 1e9) for k, v in t.items()}
    # 2. the whole NumPy step by phase (default GEMM)
    params, (x, y) = reference.mlp_params(), common.w3_data()
    phases, last = {}, [0.0]

    def tick(label):
        now = time.perf_counter()
        key = "gemm" if label.startswith("gemm") else label
        phases[key] = phases.get(key, 0.0) + now - last[0]
        last[0] = now

    steps = 0
    for _ in range(args.rounds * 2):
        last[0] = time.perf_counter()
        _, grads = reference.numpy_w3_grads(params, x, y, timer=tick)
        t0 = time.perf_counter()
        reference.sgd_update(params, grads)
        phases["sgd update"] = phases.get("sgd update", 0.0) + time.perf_counter() - t0
        steps += 1
    res["phases"] = {k: v / steps for k, v in phases.items()}
    # 3. the whole step with each GEMM, and PyTorch's nn step
    fns = {}
    for name, mm in mms.items():
        if mm is None:
            continue
        p = reference.mlp_params()

        def step(p=p, mm=mm):
            _, grads = reference.numpy_w3_grads(p, x, y, mm=mm)
            reference.sgd_update(p, grads)
        fns[f"NumPy step, {name}"] = step
    try:
        if args.quick:
            raise ImportError("left out by --quick")
        import torch

        fns["PyTorch nn step"] = common.w3_setup(torch)[0]
    except (ImportError, NotImplementedError) as e:
        res["notes"].append(f"torch step: {e}")
    res["step"] = interleaved(fns, args.rounds, batch_s=2.5 * BATCH_S)
    print(json.dumps(res))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2, help="BLAS / torch threads (default 2)")
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--settle-ms", type=float, default=None,
                   help="sleep before each timed batch (default: 150 with several threads, else 0)")
    p.add_argument("--libs", help="a pip --target folder holding scipy_openblas32 and blis")
    p.add_argument("--mkl", help="a folder holding libmkl_rt.so.3 and libiomp5.so")
    p.add_argument("--quick", action="store_true",
                   help="a smoke run: 2 ms batches, the environment as it is only, no torch")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.libs:
        sys.path.insert(0, args.libs)
    if args.child:
        global SETTLE_S, BATCH_S
        SETTLE_S = args.settle_ms / 1e3
        BATCH_S = 0.002 if args.quick else BATCH_S
        return child(args)
    if args.settle_ms is None:
        args.settle_ms = 150.0 if args.threads > 1 else 0.0

    base = dict(os.environ)
    for v in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS", "OMP_NUM_THREADS"):
        base[v] = str(args.threads)
    if args.mkl:
        base["LD_LIBRARY_PATH"] = args.mkl + os.pathsep + base.get("LD_LIBRARY_PATH", "")
    set_vars = {v: os.environ[v] for v in OPENBLAS_VARS if v in os.environ}
    envs = [("env as is: " + (", ".join(f"{k}={v}" for k, v in set_vars.items()) or "no OpenBLAS vars"), base)]
    if set_vars and not args.quick:
        unset = {k: v for k, v in base.items() if k not in OPENBLAS_VARS}
        envs.append(("OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset (autodetect)", unset))
    cmd = [sys.executable, os.path.abspath(__file__), "--child", "--threads", str(args.threads),
           "--rounds", str(args.rounds), "--settle-ms", str(args.settle_ms)] \
        + (["--quick"] if args.quick else []) + (["--libs", args.libs] if args.libs else []) \
        + (["--mkl", args.mkl] if args.mkl else [])
    print(f"threads: {args.threads}; {args.rounds} interleaved rounds, medians; settle {args.settle_ms:g} ms; "
          f"load average {open('/proc/loadavg').read().split()[:3]}")
    for label, env in envs:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode:
            print(proc.stderr)
            return 1
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"\n=== {label}")
        for b in r["blas"]:
            print(f"  BLAS loaded: {b}")
        for n in r["notes"]:
            print(f"  note: {n}")
        names = list(next(iter(r["gemm"].values())))
        print("\n  per product: microseconds (GFLOP/s)")
        print("  " + f"{'product':<36}" + "".join(f"{n[:22]:>24}" for n in names))
        tot = dict.fromkeys(names, 0.0)
        for label2, row in r["gemm"].items():
            print("  " + f"{label2:<36}" + "".join(f"{row[n][0] * 1e6:>14,.0f} ({row[n][1]:5.0f})  "
                                                 for n in names))
            for n in names:
                tot[n] += row[n][0]
        print("  " + f"{'sum of the 8 products':<36}" + "".join(f"{tot[n] * 1e6:>14,.0f}          "
                                                                for n in names))
        print("\n  NumPy step by phase (default GEMM, ms per step):")
        total = sum(r["phases"].values())
        for k, v in sorted(r["phases"].items(), key=lambda kv: -kv[1]):
            print(f"    {k:<16} {v * 1e3:7.2f} ms  {v / total:5.1%}")
        print(f"    {'total':<16} {total * 1e3:7.2f} ms")
        print("\n  whole W3 step (ms), ratio to PyTorch's nn step:")
        tref = r["step"].get("PyTorch nn step")
        for k, v in r["step"].items():
            ratio = f"{v / tref:5.2f}x" if tref else ""
            print(f"    {k:<52} {v * 1e3:7.2f} ms  {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
