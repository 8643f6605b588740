r"""Multi-label neural collapse in the unconstrained-feature model (UFM).

No network: the classifier ``W`` (K x d) and one free feature vector ``h_i``
per training sample are optimised directly, from a random start, on the
training objective of DESIGN.md with the PAL cross-entropy (with
:func:`sknc.ufm.simulate_ufm`),

    F(W, H) = (1/N) sum_i L_PAL(W h_i, S_i) + (lambda_W/2) ||W||_F^2
              + (lambda_H/2) (1/N) sum_i ||h_i||^2,

**without a bias** (with label sets balanced within each multiplicity, the
optimal bias is a constant vector, which no softmax sees, so leaving it out
changes nothing at the optimum). The data are K labels, ``n1`` samples of
each single label and ``n2`` samples of each of the K(K-1)/2 label pairs:
balanced within each multiplicity, imbalanced between them when
``n1 != n2`` (:func:`sknc.ufm.make_label_structure`). Full-batch gradient
descent in float64, with step ``lr`` for ``W`` and ``lr * N`` for each
``h_i`` (the same step per sample as if its own term were not divided by
``N``), then L-BFGS to polish the optimum.

The script prints the neural-collapse metrics of :mod:`sknc.metrics` every
few hundred steps (all go to 0), then compares the fitted scale ``rho_2`` of
the tag-wise average rule (``sknc.metrics.rho``) with its value derived below.

Derivation of rho_2
-------------------
At a global optimum W is a scaled simplex ETF, ``w_k = alpha m_k`` with unit
``m_k``, ``m_j . m_k = -1/(K-1)`` (M-lab NC). With W fixed, the objective
splits into one strictly convex problem per sample,

    f_S(h) = L_PAL(W h, S) + (lambda_H/2) ||h||^2

(the 1/N weights of both terms cancel), so every sample of a label set has
the same optimal feature (NC1) and, by the symmetry of the ETF, that feature
lies in the span of its labels' ``m_k``: ``h_{a} = beta_1 m_a`` for a single
label ``a``, ``h_{ab} = beta_2 (m_a + m_b)/2`` for a pair. Since the
singleton means are ``mu_a = beta_1 m_a`` (and their mean ``mu_G`` is 0),

    mu_{ab} = rho_2 (mu_a + mu_b)/2   with   rho_2 = beta_2 / beta_1.

The logits are, for a single label, ``z_a = alpha beta_1`` and
``z_j = -alpha beta_1/(K-1)``; for a pair, ``z_a = z_b = alpha beta_2
(K-2)/(2(K-1))`` and ``z_j = -alpha beta_2/(K-1)``, and
``||(m_a + m_b)/2||^2 = (K-2)/(2(K-1))``. So the per-sample objectives are
scalar functions of the scale:

    g_1(b) = log(1 + (K-1) exp(-alpha b K/(K-1))) + (lambda_H/2) b^2
    g_2(b) = 2 log(2 + (K-2) exp(-alpha b K/(2(K-1))))
             + (lambda_H/2) b^2 (K-2)/(2(K-1)),

and setting their derivatives to 0, with ``x_1 = alpha beta_1 K/(K-1)`` and
``x_2 = alpha beta_2 K/(2(K-1))``:

    lambda_H beta_1 = alpha K / (exp(x_1) + K - 1)
    lambda_H beta_2 = 2 alpha K / (2 exp(x_2) + K - 2)
    rho_2 = beta_2 / beta_1 = 2 (exp(x_1) + K - 1) / (2 exp(x_2) + K - 2).

The script computes rho_2 three ways and compares them with the fitted one:

1. **per-sample, W fixed at the fit** (no symmetry assumed): for each pair
   ``{a, b}``, minimise ``f_{ab}(r (mu_a + mu_b)/2)`` over the scalar ``r``,
   with the fitted ``W`` and the fitted singleton means ``mu_a``;
2. **scalar problems**: ``beta_1``, ``beta_2`` minimising ``g_1``, ``g_2``
   with ``alpha`` = the mean row norm of the fitted ``W``;
3. **fully predicted**: ``alpha``, ``beta_1``, ``beta_2`` minimising the
   collapsed objective
   ``(N_1/N) g_1(beta_1) + (N_2/N) g_2(beta_2) + (lambda_W/2) K alpha^2``
   (``N_m``: number of samples of multiplicity m), which also predicts the
   norm of the rows of W: :func:`sknc.ufm.collapsed_optimum`, which
   evaluates the loss itself instead of ``g_1``, ``g_2``.

Examples
--------
About 15 s with one thread::

    python -m benchmarks.ufm_experiment --threads 1
    python -m benchmarks.ufm_experiment --device cuda   # simulate_ufm on the GPU
"""

import itertools
import math
import sys
import warnings

import numpy as np
import torch
from scipy.optimize import minimize_scalar
from sklearn.exceptions import ConvergenceWarning

from sknc.metrics import rho
from sknc.ufm import collapsed_optimum, make_label_structure, simulate_ufm

from . import Run, add_common_arguments, positive_int, study_parser


def pal_loss(logits, Y):
    """PAL cross-entropy per sample: sum over positives of -log softmax."""
    return -(torch.log_softmax(logits, dim=1) * Y).sum(dim=1)


def derived_rho(W, H, Y, K, lambda_H):
    """rho_2 from the per-sample problem with W fixed (way 1 in the docstring)."""
    Wd = W.detach()
    Yd = Y.numpy()
    single = Yd.sum(1) == 1
    mu = np.stack([H.numpy()[single & (Yd[:, k] == 1)].mean(0) for k in range(K)])
    values = []
    for a, b in itertools.combinations(range(K), 2):
        t = torch.as_tensor((mu[a] + mu[b]) / 2)
        y = torch.zeros(1, K, dtype=torch.float64)
        y[0, [a, b]] = 1

        def f(r, t=t, y=y):
            h = r * t
            return float(pal_loss((Wd @ h)[None], y)[0] + 0.5 * lambda_H * h @ h)

        values.append(minimize_scalar(f, bracket=(0.5, 2.0), tol=1e-12).x)
    return np.mean(values), np.std(values)


def g1(b, alpha, K, lambda_H):
    return (
        math.log1p((K - 1) * math.exp(-alpha * b * K / (K - 1)))
        + 0.5 * lambda_H * b * b
    )


def g2(b, alpha, K, lambda_H):
    x = alpha * b * K / (2 * (K - 1))
    return 2 * math.log(2 + (K - 2) * math.exp(-x)) + 0.5 * lambda_H * b * b * (
        K - 2
    ) / (2 * (K - 1))


def scalar_rho(alpha, K, lambda_H):
    """beta_1, beta_2 and rho_2 for a given alpha (way 2)."""
    b1 = minimize_scalar(g1, args=(alpha, K, lambda_H), bracket=(0.1, 10), tol=1e-12).x
    b2 = minimize_scalar(g2, args=(alpha, K, lambda_H), bracket=(0.1, 10), tol=1e-12).x
    return b1, b2, b2 / b1


def check_closed_form(alpha, b1, b2, K, lambda_H):
    """Residuals of the first-order conditions in the docstring."""
    x1 = alpha * b1 * K / (K - 1)
    x2 = alpha * b2 * K / (2 * (K - 1))
    r1 = lambda_H * b1 - alpha * K / (math.exp(x1) + K - 1)
    r2 = lambda_H * b2 - 2 * alpha * K / (2 * math.exp(x2) + K - 2)
    return r1, r2, 2 * (math.exp(x1) + K - 1) / (2 * math.exp(x2) + K - 2)


def main(argv=None):
    parser = study_parser(__doc__)
    parser.add_argument("--K", type=positive_int, default=6, help="number of labels")
    parser.add_argument("--d", type=positive_int, default=10, help="feature dimension")
    parser.add_argument(
        "--n1", type=positive_int, default=10, help="samples per single label"
    )
    parser.add_argument(
        "--n2", type=positive_int, default=5, help="samples per label pair"
    )
    parser.add_argument("--lambda-W", type=float, default=5e-3)
    parser.add_argument("--lambda-H", type=float, default=5e-3)
    parser.add_argument("--steps", type=int, default=4000, help="gradient steps")
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--every", type=int, default=500)
    add_common_arguments(parser, "seed", "threads", "device", "out")
    args = parser.parse_args(argv)
    run = Run(args)
    out = []  # the lines of the report, printed as text
    K, d = args.K, args.d
    Y_np = make_label_structure(K, {1: args.n1, 2: args.n2})
    N = len(Y_np)
    N1 = int((Y_np.sum(1) == 1).sum())
    N2 = N - N1
    lw, lh = args.lambda_W, args.lambda_H
    out.append(
        f"UFM, PAL-CE, no bias: K={K} labels, d={d}, {args.n1} samples per label, "
        f"{args.n2} per pair (N={N}: {N1} singles, {N2} pairs), "
        f"lambda_W={lw}, lambda_H={lh}, float64, device: {args.device}"
    )
    with warnings.catch_warnings():
        # tol=0: run every step (the table), then L-BFGS as far as float64 goes
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = simulate_ufm(
            Y_np,
            feature_dim=d,
            lambda_W=lw,
            lambda_H=lh,
            n_steps=args.steps,
            lr=args.lr,
            lbfgs_iter=2000,
            tol=0.0,
            record_every=args.every,
            random_state=args.seed,
            device=args.device,
        )
    header = (
        f"{'step':>6} {'objective':>10} {'nc1':>9} {'nc2':>9} {'nc2_means':>9} "
        f"{'nc3':>9} {'ncm':>9} {'rho_2':>7}"
    )
    out.append(header)
    for row in result.history:
        if row["phase"] == "lbfgs":
            out.append(f"after L-BFGS ({result.n_lbfgs_iter} iterations):")
        out.append(
            f"{row['step']:>6} {row['objective']:10.6f} {row['nc1']:9.2e} "
            f"{row['nc2']:9.2e} {row['nc2_means']:9.2e} {row['nc3']:9.2e} "
            f"{row['ncm']:9.2e} {row['rho_2']:7.4f}"
        )
    out.append(f"max |gradient| (per-sample scale for H): {result.grad_norm:.1e}")

    Wd = torch.as_tensor(result.W)
    Hd = torch.as_tensor(result.H)
    Y = torch.as_tensor(Y_np, dtype=torch.float64)
    fitted = rho(Hd, Y_np)[2]
    alpha_fit = float(Wd.norm(dim=1).mean())
    singles = Y_np.sum(1) == 1
    beta1_fit = float(Hd[torch.as_tensor(singles)].norm(dim=1).mean())
    per_sample, spread = derived_rho(Wd, Hd, Y, K, lh)
    b1, b2, scalar = scalar_rho(alpha_fit, K, lh)
    optimum = collapsed_optimum(Y_np, lambda_W=lw, lambda_H=lh)
    alpha_p, b1_p, b2_p = optimum["alpha"], optimum["beta"][1], optimum["beta"][2]
    *_, closed = check_closed_form(alpha_p, b1_p, b2_p, K, lh)
    out.append("")
    out.append("rho_2 of the tag-wise average rule mu_ab = rho_2 (mu_a + mu_b)/2:")
    out.append(f"  fitted (sknc.metrics.rho on the optimised H)      {fitted:.6f}")
    out.append(
        f"  1. per-sample minimisation, W fixed at the fit     {per_sample:.6f}"
        f"  (std over the {K * (K - 1) // 2} pairs {spread:.1e})"
    )
    out.append(f"  2. scalar problems g_1, g_2 at the fitted alpha   {scalar:.6f}")
    out.append(
        f"  3. collapsed objective over (alpha, beta_1, beta_2) {b2_p / b1_p:.6f}"
        f"  (closed form 2(e^x1+K-1)/(2e^x2+K-2) = {closed:.6f})"
    )
    out.append(
        f"scales: alpha fitted {alpha_fit:.6f} / predicted {alpha_p:.6f}; "
        f"beta_1 fitted {beta1_fit:.6f} / at fitted alpha {b1:.6f} / "
        f"predicted {b1_p:.6f}"
    )
    out.append(f"time {result.time:.1f} s")
    header = run.header("# Neural collapse in the unconstrained-feature model")
    return run.finish(header + "\n\n```\n" + "\n".join(out) + "\n```")


if __name__ == "__main__":
    sys.exit(main())
