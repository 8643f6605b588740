r"""Multi-label neural collapse in the unconstrained-feature model (UFM).

No network: the classifier ``W`` (K x d) and one free feature vector ``h_i``
per training sample are optimised directly, from a random start, on the
training objective of DESIGN.md with the PAL cross-entropy,

    F(W, H) = (1/N) sum_i L_PAL(W h_i, S_i) + (lambda_W/2) ||W||_F^2
              + (lambda_H/2) (1/N) sum_i ||h_i||^2,

**without a bias** (with label sets balanced within each multiplicity, the
optimal bias is a constant vector, which no softmax sees, so leaving it out
changes nothing at the optimum). The data are K labels, ``n1`` samples of
each single label and ``n2`` samples of each of the K(K-1)/2 label pairs:
balanced within each multiplicity, imbalanced between them when
``n1 != n2``. Full-batch gradient descent in float64, with step ``lr`` for
``W`` and ``lr * N`` for each ``h_i`` (the same step per sample as if its own
term were not divided by ``N``), then L-BFGS to polish the optimum.

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
   norm of the rows of W.

Run (about 15 s with one thread)::

    python benchmarks/ufm_experiment.py --threads 1
"""

import argparse
import itertools
import math
import time
import warnings

import numpy as np
import torch
from scipy.optimize import minimize, minimize_scalar

from sknc.metrics import neural_collapse_report, rho


def make_labels(K, n1, n2):
    """Label indicator: n1 rows per single label, n2 rows per label pair."""
    rows = [np.eye(K, dtype=np.int64)[k] for k in range(K) for _ in range(n1)]
    for a, b in itertools.combinations(range(K), 2):
        y = np.zeros(K, dtype=np.int64)
        y[[a, b]] = 1
        rows += [y] * n2
    return np.array(rows)


def pal_loss(logits, Y):
    """PAL cross-entropy per sample: sum over positives of -log softmax."""
    return -(torch.log_softmax(logits, dim=1) * Y).sum(dim=1)


def objective(W, H, Y, lambda_W, lambda_H):
    loss = pal_loss(H @ W.T, Y).mean()
    return (
        loss + 0.5 * lambda_W * W.pow(2).sum() + 0.5 * lambda_H * H.pow(2).sum(1).mean()
    )


def metrics(W, H, Y, seed=0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NaN metrics at a random start are fine
        report = neural_collapse_report(H, Y, W, random_state=seed)
    return report


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


def predicted_optimum(K, N1, N2, lambda_W, lambda_H):
    """alpha, beta_1, beta_2 minimising the collapsed objective (way 3)."""
    N = N1 + N2

    def F(p):
        alpha, b1, b2 = p
        return (
            N1 / N * g1(b1, alpha, K, lambda_H)
            + N2 / N * g2(b2, alpha, K, lambda_H)
            + 0.5 * lambda_W * K * alpha**2
        )

    res = minimize(F, x0=[1.0, 1.0, 1.0], method="BFGS", options={"gtol": 1e-12})
    return res.x


def check_closed_form(alpha, b1, b2, K, lambda_H):
    """Residuals of the first-order conditions in the docstring."""
    x1 = alpha * b1 * K / (K - 1)
    x2 = alpha * b2 * K / (2 * (K - 1))
    r1 = lambda_H * b1 - alpha * K / (math.exp(x1) + K - 1)
    r2 = lambda_H * b2 - 2 * alpha * K / (2 * math.exp(x2) + K - 2)
    return r1, r2, 2 * (math.exp(x1) + K - 1) / (2 * math.exp(x2) + K - 2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--K", type=int, default=6, help="number of labels")
    parser.add_argument("--d", type=int, default=10, help="feature dimension")
    parser.add_argument("--n1", type=int, default=10, help="samples per single label")
    parser.add_argument("--n2", type=int, default=5, help="samples per label pair")
    parser.add_argument("--lambda-W", type=float, default=5e-3)
    parser.add_argument("--lambda-H", type=float, default=5e-3)
    parser.add_argument("--steps", type=int, default=4000, help="gradient steps")
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--every", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    torch.manual_seed(args.seed)
    K, d = args.K, args.d
    Y_np = make_labels(K, args.n1, args.n2)
    Y = torch.as_tensor(Y_np, dtype=torch.float64)
    N = len(Y)
    N1 = int((Y_np.sum(1) == 1).sum())
    N2 = N - N1
    W = (0.1 * torch.randn(K, d, dtype=torch.float64)).requires_grad_()
    H = (0.1 * torch.randn(N, d, dtype=torch.float64)).requires_grad_()
    lw, lh = args.lambda_W, args.lambda_H
    print(
        f"UFM, PAL-CE, no bias: K={K} labels, d={d}, {args.n1} samples per label, "
        f"{args.n2} per pair (N={N}: {N1} singles, {N2} pairs), "
        f"lambda_W={lw}, lambda_H={lh}, float64"
    )
    header = (
        f"{'step':>6} {'objective':>10} {'nc1':>9} {'nc2':>9} {'nc2_means':>9} "
        f"{'nc3':>9} {'ncm':>9} {'rho_2':>7}"
    )
    print(header)

    def row(step):
        with torch.no_grad():
            obj = float(objective(W, H, Y, lw, lh))
        r = metrics(W.detach(), H.detach(), Y_np, seed=args.seed)
        rho2 = r["rho"].get(2, math.nan)
        print(
            f"{step:>6} {obj:10.6f} {r['nc1']:9.2e} {r['nc2']:9.2e} "
            f"{r['nc2_means']:9.2e} {r['nc3']:9.2e} {r['ncm']:9.2e} {rho2:7.4f}"
        )

    # Gradient descent, step lr for W and lr * N for each h_i.
    for step in range(args.steps + 1):
        if step % args.every == 0:
            row(step)
        if step == args.steps:
            break
        W.grad = H.grad = None
        objective(W, H, Y, lw, lh).backward()
        with torch.no_grad():
            W -= args.lr * W.grad
            H -= args.lr * N * H.grad

    # L-BFGS polish to the optimum.
    opt = torch.optim.LBFGS(
        [W, H],
        lr=1,
        max_iter=2000,
        tolerance_grad=1e-14,
        tolerance_change=1e-16,
        history_size=50,
        line_search_fn="strong_wolfe",
    )

    def closure():
        opt.zero_grad()
        loss = objective(W, H, Y, lw, lh)
        loss.backward()
        return loss

    opt.step(closure)
    print("after L-BFGS:")
    row(args.steps)
    Wd, Hd = W.detach(), H.detach()
    grad = torch.cat([W.grad.flatten(), N * H.grad.flatten()]).abs().max()
    print(f"max |gradient| (per-sample scale for H): {float(grad):.1e}")

    fitted = rho(Hd, Y_np)[2]
    alpha_fit = float(Wd.norm(dim=1).mean())
    singles = Y_np.sum(1) == 1
    beta1_fit = float(Hd[torch.as_tensor(singles)].norm(dim=1).mean())
    per_sample, spread = derived_rho(Wd, Hd, Y, K, lh)
    b1, b2, scalar = scalar_rho(alpha_fit, K, lh)
    alpha_p, b1_p, b2_p = predicted_optimum(K, N1, N2, lw, lh)
    *_, closed = check_closed_form(alpha_p, b1_p, b2_p, K, lh)
    print()
    print("rho_2 of the tag-wise average rule mu_ab = rho_2 (mu_a + mu_b)/2:")
    print(f"  fitted (sknc.metrics.rho on the optimised H)      {fitted:.6f}")
    print(
        f"  1. per-sample minimisation, W fixed at the fit     {per_sample:.6f}"
        f"  (std over the {K * (K - 1) // 2} pairs {spread:.1e})"
    )
    print(f"  2. scalar problems g_1, g_2 at the fitted alpha   {scalar:.6f}")
    print(
        f"  3. collapsed objective over (alpha, beta_1, beta_2) {b2_p / b1_p:.6f}"
        f"  (closed form 2(e^x1+K-1)/(2e^x2+K-2) = {closed:.6f})"
    )
    print(
        f"scales: alpha fitted {alpha_fit:.6f} / predicted {alpha_p:.6f}; "
        f"beta_1 fitted {beta1_fit:.6f} / at fitted alpha {b1:.6f} / "
        f"predicted {b1_p:.6f}"
    )
    print(f"time {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
