"""Recover a driven, damped oscillator's physics from noisy trajectories, then measure the curvature.

    x'' + 2 gamma x' + omega0^2 x = force * cos(Omega_k t),    x(0) = 1, x'(0) = 0

Four experiments drive the same oscillator at known frequencies ``Omega_k``; each records a
noisy position every ``dt``.  The model integrates the ODE with a fixed-step fourth-order
Runge-Kutta scheme written in tensor ops (the four experiments are one batch), so autograd
differentiates *through the integrator*.  The unknowns ``theta = (omega0, gamma, force)`` are
fitted twice from the same rough starting guess: with ``torch.optim.Adam`` (cosine-annealed
learning rate) and with plain full-batch gradient descent (``torch.optim.SGD``, no momentum).

At the optimum the script then uses second derivatives:

* ``torch.autograd.functional.hvp`` and an explicit double backward
  (``autograd.grad(..., create_graph=True)``) give Hessian-vector products, checked against a
  central finite difference of gradients;
* three HVPs give the full Hessian: its eigenvalues are the curvature along the stiffest and
  the softest parameter directions, and the Laplace approximation (the inverse Hessian of the
  negative log-likelihood) gives an error bar for each parameter.

The code is PyTorch code: ``--backend torch`` runs the very same lines on PyTorch.  It is an
end-to-end check too: the script exits non-zero unless both fits recover the true parameters
(within their error bars and a small tolerance) and the three HVPs agree.

    python examples/physics_fit.py [--adam-steps N] [--gd-steps N] [--backend {jitgrad,torch}]
"""
import argparse
import math
import sys
import time

import numpy as np


def _backend_argument(parser):
    parser.add_argument("--backend", choices=("jitgrad", "torch"), default="jitgrad",
                        help="run on jitgrad (default) or on PyTorch itself: the code is the same")
    return parser


# the backend is chosen before anything else so that the rest reads as plain PyTorch code
if _backend_argument(argparse.ArgumentParser(add_help=False)).parse_known_args()[0].backend == "torch":
    import torch
else:
    import jitgrad as torch

NAMES = ("omega0", "gamma", "force")
TRUE = (2.0, 0.15, 0.8)
GUESS = (1.6, 0.40, 0.4)           # a rough guess: 20% off in frequency, damping and force far off
DRIVES = (0.7, 1.4, 2.1, 2.8)      # the known drive frequency of each experiment
NOISE = 0.05                       # standard deviation of the measurement noise
REL_TOL = 0.10                     # "recovered": within 10% of the truth ...
Z_TOL = 4.0                        # ... and within 4 standard errors of it
MSE_TOL = 1.25                     # the final mean squared residual is within 25% of NOISE**2
AGREE_TOL = 0.5                    # Adam and gradient descent agree within half a standard error


def make_data(n_steps, dt, seed):
    """Noisy positions x_k(t_i), i = 1..n_steps: a NumPy RK4 run 16x finer than the model's grid."""
    omega0, gamma, force = TRUE
    drives = np.array(DRIVES)
    fine = 16
    h = dt / fine
    x, v = np.ones_like(drives), np.zeros_like(drives)

    def rhs(t, x, v):
        return v, force * np.cos(drives * t) - 2 * gamma * v - omega0 ** 2 * x

    observed = []
    for i in range(n_steps * fine):
        t = i * h
        k1x, k1v = rhs(t, x, v)
        k2x, k2v = rhs(t + h / 2, x + h / 2 * k1x, v + h / 2 * k1v)
        k3x, k3v = rhs(t + h / 2, x + h / 2 * k2x, v + h / 2 * k2v)
        k4x, k4v = rhs(t + h, x + h * k3x, v + h * k3v)
        x = x + h / 6 * (k1x + 2 * k2x + 2 * k3x + k4x)
        v = v + h / 6 * (k1v + 2 * k2v + 2 * k3v + k4v)
        if (i + 1) % fine == 0:
            observed.append(x.copy())
    rng = np.random.default_rng(seed)
    return np.array(observed) + NOISE * rng.standard_normal((n_steps, drives.size))


class Oscillator:
    """Sum of squared residuals of the RK4-integrated model against the observations."""

    def __init__(self, observed, dt):
        self.dt = dt
        self.n_steps = observed.shape[0]
        drives = np.array(DRIVES)
        times = dt * np.arange(self.n_steps + 1)
        # cos(Omega_k t) at every RK4 stage time: t_i and t_i + dt/2 (t_i + dt is the next t_i)
        self.cos_at = [torch.from_numpy(np.cos(drives * t)) for t in times]
        self.cos_mid = [torch.from_numpy(np.cos(drives * (t + dt / 2))) for t in times]
        self.observed = [torch.from_numpy(row) for row in observed]
        self.x0 = torch.ones(len(DRIVES), dtype=torch.float64)
        self.v0 = torch.zeros(len(DRIVES), dtype=torch.float64)

    def __call__(self, theta):
        omega0, gamma, force = theta[0], theta[1], theta[2]
        stiffness, friction = omega0 * omega0, 2 * gamma
        dt = self.dt

        def rhs(x, v, drive):
            return v, force * drive - friction * v - stiffness * x

        x, v = self.x0, self.v0
        sse = 0.0
        for i in range(self.n_steps):
            k1x, k1v = rhs(x, v, self.cos_at[i])
            k2x, k2v = rhs(x + dt / 2 * k1x, v + dt / 2 * k1v, self.cos_mid[i])
            k3x, k3v = rhs(x + dt / 2 * k2x, v + dt / 2 * k2v, self.cos_mid[i])
            k4x, k4v = rhs(x + dt * k3x, v + dt * k3v, self.cos_at[i + 1])
            x = x + dt / 6 * (k1x + 2 * k2x + 2 * k3x + k4x)
            v = v + dt / 6 * (k1v + 2 * k2v + 2 * k3v + k4v)
            sse = sse + ((x - self.observed[i]) ** 2).sum()
        return sse

    def n_observations(self):
        return self.n_steps * len(DRIVES)


def fit(sse, optimizer_name, steps, lr, print_every):
    """Minimise the mean squared residual from GUESS; returns the fitted theta and the final MSE."""
    theta = torch.tensor(GUESS, dtype=torch.float64, requires_grad=True)
    if optimizer_name == "adam":
        optimizer = torch.optim.Adam([theta], lr=lr)
        # Adam's steps do not shrink with the gradient: anneal the rate to settle in the minimum
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    else:
        optimizer = torch.optim.SGD([theta], lr=lr)
        schedule = None
    n = sse.n_observations()
    t0 = time.perf_counter()
    for step in range(1, steps + 1):
        optimizer.zero_grad()
        loss = sse(theta) / n
        loss.backward()
        optimizer.step()
        if schedule is not None:
            schedule.step()
        if step % print_every == 0 or step == steps:
            values = "  ".join(f"{name}={value:+.4f}" for name, value in zip(NAMES, theta.tolist()))
            print(f"  {optimizer_name:<4} step {step:4d}  mse {loss.item():.6f}  {values}")
    elapsed = time.perf_counter() - t0
    with torch.no_grad():
        final = (sse(theta) / n).item()
    print(f"  {optimizer_name}: {steps} steps in {elapsed:.2f} s ({1e3 * elapsed / steps:.1f} ms/step)")
    return theta.detach(), final


def hessian_checks(sse, theta, eps):
    """HVPs three ways at theta; returns (ok, the NLL Hessian as a NumPy array, report lines)."""
    sigma2 = NOISE ** 2

    def nll(t):  # negative log-likelihood of Gaussian noise, up to a constant
        return sse(t) / (2 * sigma2)

    direction = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    direction = direction / direction.norm()

    # 1. torch.autograd.functional.hvp
    _, hvp_functional = torch.autograd.functional.hvp(nll, theta, direction)

    # 2. double backward: grad with create_graph=True, then the gradient of <grad, v>
    leaf = theta.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(nll(leaf), leaf, create_graph=True)
    (hvp_double,) = torch.autograd.grad((gradient * direction).sum(), leaf)

    # 3. central finite difference of first-order gradients
    def grad_at(t):
        t = t.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(nll(t), t)
        return g

    hvp_fd = (grad_at(theta + eps * direction) - grad_at(theta - eps * direction)) / (2 * eps)

    scale = hvp_functional.norm().item()
    err_double = (hvp_double - hvp_functional).norm().item() / scale
    err_fd = (hvp_fd - hvp_functional).norm().item() / scale
    ok = err_double < 1e-10 and err_fd < 1e-5
    lines = [
        f"  direction v = {np.array2string(direction.numpy(), precision=4)}",
        f"  H v  functional.hvp : {np.array2string(hvp_functional.numpy(), precision=6)}",
        f"  H v  double backward: {np.array2string(hvp_double.numpy(), precision=6)}"
        f"  rel. diff {err_double:.1e}",
        f"  H v  finite diff.   : {np.array2string(hvp_fd.numpy(), precision=6)}"
        f"  rel. diff {err_fd:.1e} (eps {eps:g})  {'ok' if ok else 'FAIL'}",
        f"  curvature along v: v.Hv = {(direction * hvp_functional).sum().item():.6g}",
    ]
    # the full Hessian, one HVP per basis vector
    columns = [torch.autograd.functional.hvp(nll, theta, basis)[1].numpy()
               for basis in torch.eye(len(NAMES), dtype=torch.float64)]
    hessian = np.stack(columns, axis=1)
    asymmetry = np.abs(hessian - hessian.T).max() / np.abs(hessian).max()
    ok &= asymmetry < 1e-8
    lines.append(f"  Hessian from {len(NAMES)} HVPs, asymmetry {asymmetry:.1e}")
    return ok, hessian, lines


def report_fit(label, fitted, hessian):
    """Recovered vs true parameters with Laplace error bars; returns (ok, lines)."""
    covariance = np.linalg.inv(hessian)
    stderr = np.sqrt(np.diag(covariance))
    ok = True
    lines = [f"  {label}:"]
    for name, true, got, se in zip(NAMES, TRUE, fitted, stderr):
        rel = abs(got - true) / abs(true)
        z = abs(got - true) / se
        good = rel < REL_TOL and z < Z_TOL
        ok &= good
        lines.append(f"    {name:<6} true {true:+.4f}  fitted {got:+.4f} +- {se:.4f}  "
                     f"rel. error {rel:6.2%}  |z| {z:4.1f}  {'ok' if good else 'FAIL'}")
    return ok, lines


def main(argv=None):
    ap = _backend_argument(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]))
    ap.add_argument("--adam-steps", type=int, default=150, help="Adam steps (default 150)")
    ap.add_argument("--adam-lr", type=float, default=0.05, help="Adam learning rate (default 0.05)")
    ap.add_argument("--gd-steps", type=int, default=150, help="gradient-descent steps (default 150)")
    ap.add_argument("--gd-lr", type=float, default=0.3, help="gradient-descent learning rate (default 0.3)")
    ap.add_argument("--duration", type=float, default=6.0, help="length of each recording (default 6.0)")
    ap.add_argument("--dt", type=float, default=0.1, help="RK4 step and sampling interval (default 0.1)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    t_start = time.perf_counter()
    n_steps = int(round(args.duration / args.dt))
    observed = make_data(n_steps, args.dt, args.seed)
    sse = Oscillator(observed, args.dt)
    print(f"backend: {torch.__name__}; data: {len(DRIVES)} experiments x {n_steps} samples "
          f"(dt {args.dt}), noise sigma {NOISE}")
    print("starting guess: " + ", ".join(f"{n}={g:+.4f}" for n, g in zip(NAMES, GUESS)))

    fits = {}
    for name, steps, lr in (("adam", args.adam_steps, args.adam_lr), ("gd", args.gd_steps, args.gd_lr)):
        print(f"fitting with {'Adam' if name == 'adam' else 'plain gradient descent'} (lr {lr}):")
        fits[name] = fit(sse, name, steps, lr, max(1, steps // 5))

    best = min(fits, key=lambda k: fits[k][1])
    theta_opt = fits[best][0]
    print(f"second order at the {best} optimum:")
    hvp_ok, hessian, lines = hessian_checks(sse, theta_opt, eps=1e-6)
    print("\n".join(lines))
    curvatures, axes = np.linalg.eigh(hessian)
    print(f"  curvature (Hessian eigenvalues): {np.array2string(curvatures, precision=1)}; "
          f"condition number {curvatures[-1] / curvatures[0]:.0f}")
    one_sigma = 1 / math.sqrt(curvatures[0]) if curvatures[0] > 0 else float("nan")
    print(f"  softest direction {np.array2string(axes[:, 0], precision=3)} (1-sigma step {one_sigma:.4f})")

    print("recovered parameters (error bars: Laplace approximation, inverse NLL Hessian):")
    all_ok = hvp_ok and bool(np.all(curvatures > 0))
    for name, label in (("adam", "Adam"), ("gd", "gradient descent")):
        fitted, mse = fits[name][0].tolist(), fits[name][1]
        # at the optimum the mean squared residual is the noise variance, up to ~sqrt(2/N) = 9%
        mse_ok = mse < MSE_TOL * NOISE ** 2
        ok, lines = report_fit(f"{label}: final mse {mse:.6f} vs noise floor {NOISE ** 2:.6f} "
                               f"{'ok' if mse_ok else 'FAIL'}", fitted, hessian)
        print("\n".join(lines))
        all_ok &= ok and mse_ok
    stderr = np.sqrt(np.diag(np.linalg.inv(hessian)))
    gap = np.abs(fits["adam"][0].numpy() - fits["gd"][0].numpy()) / stderr
    agree = bool(np.all(gap < AGREE_TOL))
    print(f"  Adam and gradient descent agree to {gap.max():.3f} standard errors  "
          f"{'ok' if agree else 'FAIL'} (tol {AGREE_TOL})")
    all_ok &= agree
    print(f"total time {time.perf_counter() - t_start:.1f} s")
    print("FIT OK" if all_ok else "FIT FAILED")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
