"""
=====================================================
Neural collapse in the unconstrained feature model
=====================================================

The unconstrained feature model (UFM) drops the network and optimises one free
feature vector per training sample together with the head, on the training
objective of the estimators (PAL loss, weight decay, feature decay).
:func:`sknc.ufm.simulate_ufm` does it in about a second on a CPU and records
the metrics of :mod:`sknc.metrics` on the way. Its optimum is where the theory
of multi-label neural collapse is proven, so the model shows what the metrics
measure, and what breaks the collapse.
"""

# %%
# Single labels and pairs
# -----------------------
#
# Five labels; :func:`~sknc.ufm.make_label_structure` gives each single label
# 8 samples and each of the 10 pairs 4: balanced within each multiplicity,
# imbalanced between them.
import matplotlib.pyplot as plt
import numpy as np

from sknc.plotting import plot_feature_geometry
from sknc.ufm import collapsed_optimum, make_label_structure, simulate_ufm

Y = make_label_structure(5, {1: 8, 2: 4})
result = simulate_ufm(Y, n_steps=1000, record_every=50, random_state=0)
print(result)
print(
    f"{result.n_steps} gradient steps, {result.n_lbfgs_iter} L-BFGS iterations, "
    f"{result.time:.2f} s"
)

# %%
# Every metric falls to 0: the features of a label set collapse to one point
# (NC1), the single labels' means and the head form the same simplex ETF (NC2,
# NC3), and the mean of every pair lies on the ray through the average of its
# two labels' means (NCm). :func:`~sknc.ufm.collapsed_optimum` predicts the
# scale :math:`\rho_2` of that rule from a problem with three scalars.
descent = [row for row in result.history if row["phase"] == "gd"]
polished = [row for row in result.history if row["phase"] == "lbfgs"]
fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), width_ratios=[1, 1.15])
for i, (key, name) in enumerate(
    [
        ("nc1", "NC1"),
        ("nc2", "NC2 (head)"),
        ("nc2_means", "NC2 (means)"),
        ("nc3", "NC3"),
        ("ncm", "NCm"),
    ]
):
    steps = [row["step"] for row in descent]
    axes[0].plot(steps, [row[key] for row in descent], color=f"C{i}", label=name)
    for row in polished:  # the optimum, after L-BFGS
        axes[0].plot(steps[-1], row[key], "*", color=f"C{i}", markersize=10)
axes[0].set_yscale("log")
axes[0].set_xlabel("gradient step (stars: after L-BFGS)")
axes[0].set_ylabel("metric (log scale)")
axes[0].set_title("Collapse during gradient descent")
axes[0].legend(fontsize="small")
axes[0].grid(True, alpha=0.3)
plot_feature_geometry(result.H, Y, ax=axes[1])
axes[1].legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
axes[1].set_title("Features at the optimum")
fig.tight_layout()

predicted = collapsed_optimum(Y)
print(
    f"rho_2: fitted {result.report['rho'][2]:.6f}, predicted {predicted['rho'][2]:.6f}"
)

# %%
# Minority collapse
# -----------------
#
# Six single labels: three with ``R`` samples each, three with one sample. As
# the minority share :math:`n_B/N` shrinks, the classifier rows of the three
# rare labels close up, and they merge (cosine 1) once
# :math:`n_B / N \le \lambda_W \lambda_H`: below it, separating them would
# cost more weight and feature decay than it gains in loss.
settings = [(0.1, 0.1), (0.1, 0.05)]
fig, ax = plt.subplots(figsize=(7, 4.5))
for (lambda_W, lambda_H), color in zip(settings, ["C0", "C1"], strict=True):
    shares, cosines = [], []
    for R in [1, 3, 8, 16, 24, 32, 40, 56, 72, 96]:
        Y = make_label_structure(6, {(k,): R if k < 3 else 1 for k in range(6)})
        fit = simulate_ufm(
            Y,
            lambda_W=lambda_W,
            lambda_H=lambda_H,
            n_steps=500,
            record_every=None,
            random_state=0,
        )
        W = fit.W / np.linalg.norm(fit.W, axis=1, keepdims=True)
        cosines.append((W[3:] @ W[3:].T)[np.triu_indices(3, 1)].mean())
        shares.append(1 / len(Y))
    ax.plot(shares, cosines, "o-", color=color, label=f"λ_W={lambda_W}, λ_H={lambda_H}")
    ax.axvline(lambda_W * lambda_H, color=color, linestyle="--", alpha=0.7)
    merged = [s for s, c in zip(shares, cosines, strict=True) if c > 1 - 1e-6]
    apart = [s for s, c in zip(shares, cosines, strict=True) if c <= 1 - 1e-6]
    print(
        f"lambda_W={lambda_W}, lambda_H={lambda_H}: rows apart at n_B/N >= "
        f"{min(apart):.4f}, merged at n_B/N <= {max(merged):.4f} "
        f"(lambda_W * lambda_H = {lambda_W * lambda_H:g})"
    )
ax.set_xscale("log")
ax.set_xlabel("minority share n_B / N (dashed: λ_W λ_H)")
ax.set_ylabel("cosine between minority classifier rows")
ax.set_title("Minority collapse")
ax.legend()
ax.grid(True, alpha=0.3)
fig.tight_layout()
plt.show()
