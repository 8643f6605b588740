"""A per-label logistic model of the inputs: the wide part of ``label_proba``.

The PAL features serve the set decoder; where each label has its own linear
evidence in the inputs (words in a document, a threshold on a measurement),
a linear per-label model ranks and calibrates that label better than the
features do, most of all for rare labels on small data (issue 25). So the
estimators fit, after the network, one L2-regularised logistic regression
per label on the robust-scaled inputs, convex and solved to convergence by
L-BFGS over all labels at once, and ``label_proba='wide'`` averages it with
the decoder's marginals (the wide-and-deep combination of Cheng et al.,
2016). The penalty is chosen from :data:`PENALTIES` by the log loss on a
held-out fifth of the rows, then the model is refitted on every row.
"""

import math

import torch
from torch import nn

from ._modules import InputScaler, prior_log_odds

__all__ = ["PENALTIES", "InputHead", "fit_input_head"]

# L2 penalties tried, strongest first (each warm-starts the next), in units
# of the mean per-row log loss summed over the labels: bag-of-words data
# with rare labels want the weak end, dense measurements the strong end.
PENALTIES = (1.0, 0.1, 0.01, 0.001)
# The share of the rows the penalty is chosen on, and the fewest held-out
# rows that choice needs (below it: the middle penalty, without a choice).
HOLDOUT = 0.2
MIN_HOLDOUT_ROWS = 20
FALLBACK_PENALTY = 0.01
# L-BFGS iterations per penalty of the path, and for the final fit. Against
# 50 and 100, a third of the time (it is part of the default since
# label_proba='calibrated_wide') and, on the protocol's tuning half, the same
# chosen penalties and held-out losses within .0003 (benchmarks/README.md,
# "calibrated_wide").
PATH_ITERATIONS = 15
FINAL_ITERATIONS = 30


class InputHead(nn.Module):
    """Per-label logistic regression of the robust-scaled inputs.

    Its statistics and coefficients are buffers: they travel with the
    network's parameters (``save_params(f_params=...)``) and its device, and
    no optimizer of the network ever sees them (:func:`fit_input_head` sets
    them).

    Parameters
    ----------
    n_features : int
        Number of input features ``D``.
    n_labels : int
        The labels ``K``.
    """

    def __init__(self, n_features, n_labels):
        super().__init__()
        self.scaler = InputScaler(n_features)
        self.register_buffer("weight", torch.zeros(n_labels, n_features))
        self.register_buffer("bias", torch.zeros(n_labels))
        # the chosen L2 penalty (NaN until fitted)
        self.register_buffer("penalty", torch.tensor(math.nan))

    def forward(self, X):
        """Return the ``(N, K)`` logits of a batch of ``(N, D)`` inputs."""
        X = X.reshape(len(X), -1).to(self.weight.dtype)
        return nn.functional.linear(self.scaler(X), self.weight, self.bias)


def _fit_path(Z, Y, weight, penalties, start, iterations):
    """L-BFGS fits along ``penalties``; yields ``(penalty, (W, b))`` of each."""
    coefficients = start
    for penalty in penalties:
        # each fit goes on from the previous penalty's solution
        coefficients = _fit_one(Z, Y, weight, penalty, coefficients, iterations)
        yield penalty, coefficients


def _fit_one(Z, Y, weight, penalty, start, iterations):
    """Minimise the weighted log loss plus ``penalty / 2 * |W|^2`` from ``start``."""
    W, b = (t.clone().requires_grad_(True) for t in start)
    total = weight.sum()
    optimizer = torch.optim.LBFGS(
        [W, b],
        max_iter=iterations,
        # scipy's default memory: 100 would keep 200 copies of W
        history_size=10,
        line_search_fn="strong_wolfe",
        tolerance_grad=1e-5,
        tolerance_change=1e-9,
    )

    def closure():
        optimizer.zero_grad()
        per_row = nn.functional.binary_cross_entropy_with_logits(
            nn.functional.linear(Z, W, b), Y, reduction="none"
        ).sum(dim=1)
        loss = (per_row * weight).sum() / total + 0.5 * penalty * W.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return W.detach(), b.detach()


def _held_out_loss(Z, Y, weight, coefficients):
    logits = nn.functional.linear(Z, *coefficients)
    per_row = nn.functional.binary_cross_entropy_with_logits(
        logits, Y, reduction="none"
    ).sum(dim=1)
    return float((per_row * weight).sum() / weight.sum())


@torch.no_grad()
def fit_input_head(head, X, Y, weight=None, seed=0, penalties=PENALTIES):
    """Fit ``head`` to rows ``X`` with 0/1 labels ``Y``; return it.

    Parameters
    ----------
    head : InputHead
        The head to fit (in place).
    X : torch.Tensor of shape (n, D)
        Training rows (a sample of them for large data).
    Y : torch.Tensor of shape (n, K)
        Their labels.
    weight : torch.Tensor of shape (n,) or None, default=None
        Row weights (``sample_weight``); rows of weight 0 are left out.
    seed : int, default=0
        Seed of the held-out fifth the penalty is chosen on.
    penalties : tuple of float, default=PENALTIES
        The L2 penalties to choose from, strongest first; one is used as is.

    Returns
    -------
    head : InputHead
        The fitted head; ``head.penalty`` holds the chosen penalty.
    """
    device, dtype = head.weight.device, head.weight.dtype
    X = X.reshape(len(X), -1).to(device, dtype)
    Y = Y.to(device, dtype)
    weight = torch.ones(len(X)) if weight is None else torch.as_tensor(weight)
    weight = weight.to(device, dtype)
    keep = weight > 0
    X, Y, weight = X[keep], Y[keep], weight[keep]
    head.scaler.fit(X, weight)
    Z = head.scaler(X)
    start = (torch.zeros_like(head.weight), prior_log_odds(Y, weight))
    with torch.enable_grad():
        penalty, near = _choose_penalty(Z, Y, weight, start, seed, penalties)
        # warm-started where the held-out path found that penalty's solution
        W, b = _fit_one(Z, Y, weight, penalty, near, FINAL_ITERATIONS)
    head.weight.copy_(W)
    head.bias.copy_(b)
    head.penalty.fill_(penalty)
    return head


def _choose_penalty(Z, Y, weight, start, seed, penalties):
    """Return the penalty of ``penalties`` with the least held-out log loss.

    Returns it and its coefficients on the other rows (a warm start).
    """
    if len(penalties) == 1:
        return penalties[0], start
    n = len(Z)
    n_held = int(round(HOLDOUT * n))
    if n_held < MIN_HOLDOUT_ROWS or n - n_held < MIN_HOLDOUT_ROWS:
        return FALLBACK_PENALTY, start
    generator = torch.Generator().manual_seed(int(seed))
    order = torch.randperm(n, generator=generator).to(Z.device)
    held, fit = order[:n_held], order[n_held:]
    start = (start[0], prior_log_odds(Y[fit], weight[fit]))
    best = None
    path = _fit_path(Z[fit], Y[fit], weight[fit], penalties, start, PATH_ITERATIONS)
    for penalty, coefficients in path:
        loss = _held_out_loss(Z[held], Y[held], weight[held], coefficients)
        if best is None or loss < best[0]:
            best = (loss, penalty, coefficients)
    return best[1], best[2]
