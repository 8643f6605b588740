r"""Calibration: the curves that turn decoder scores into probabilities.

- :class:`PlattScoresMixin`: one logistic curve over the labels' log-softmax
  scores (Platt scaling), the probabilities of :class:`ThresholdDecoder` and
  :class:`TopKDecoder`;
- :func:`fit_temperature`: the maximum-likelihood temperature of the soft
  nearest-prototype assignment, the probabilities of :class:`ONNDecoder`;
- :func:`ordered_like`: per-label probabilities moved to the order of other
  scores (``label_proba='calibrated'``).
"""

import math

import numpy as np
import torch
from sklearn.isotonic import isotonic_regression

from ._base import PROBA_EPS
from ._search import (
    _check_max_memory,
    _check_targets,
    _chunk_rows,
    _is_int,
    _Prototypes,
    _wide_dtype,
)

try:
    # scikit-learn's pool-adjacent-violators on one contiguous row, in place
    # (what isotonic_regression runs after its input checks, which would
    # dominate row by row)
    from sklearn._isotonic import (
        _inplace_contiguous_isotonic_regression as _increasing_fit,
    )
except ImportError:  # a private module: the public function, slower

    def _increasing_fit(y, w):
        y[:] = isotonic_regression(y, sample_weight=w)


__all__ = [
    "PlattScoresMixin",
    "fit_gap_temperature",
    "fit_temperature",
    "ordered_like",
]

# ordered_like's relative step per rank, so that pooled labels keep the order.
_ORDER_STEP = 1e-9
# The temperature fit uses at most this many queries.
_FIT_MAX_SAMPLES = 4096
# Bracket of the temperature fit, relative to the distance scale.
_FIT_BRACKET = (1e-6, 1e3)


def _fit_platt(x, t, l2=1e-3, max_iter=100, tol=1e-10):
    """Fit ``P(t=1 | x) = sigmoid(a x + b)`` by damped Newton steps.

    A small ridge keeps the two parameters finite when the training scores
    separate the classes perfectly (as they do once a network fits its
    training data); the step-halving line search keeps Newton from
    overshooting on such data.
    """
    x = x.double()
    t = t.double()
    n = x.numel()

    def objective(theta):
        z = theta[0] * x + theta[1]
        nll = (torch.nn.functional.softplus(z) - t * z).sum() / n
        return nll + 0.5 * l2 * (theta**2).sum()

    theta = torch.tensor([1.0, 0.0], dtype=torch.float64, device=x.device)
    value = objective(theta)
    for _ in range(max_iter):
        p = torch.sigmoid(theta[0] * x + theta[1])
        r = p - t
        w = p * (1 - p)
        grad = torch.stack([(r * x).sum(), r.sum()]) / n + l2 * theta
        hxb = (w * x).sum() / n
        hess = torch.stack(
            [
                torch.stack([(w * x * x).sum() / n + l2, hxb]),
                torch.stack([hxb, w.sum() / n + l2]),
            ]
        )
        step = torch.linalg.solve(hess, grad)
        scale = 1.0
        while scale > 1e-8:
            candidate = theta - scale * step
            new_value = objective(candidate)
            if new_value <= value:
                break
            scale /= 2
        else:
            break
        theta, value = candidate, new_value
        if (scale * step).abs().max() < tol:
            break
    return float(theta[0]), float(theta[1])


class PlattScoresMixin:
    r"""Per-label probabilities ``sigmoid(a * log_softmax(z)_k + b)``.

    Under the PAL loss a label's log-softmax score
    :math:`s_k = z_k - \log\sum_j e^{z_j}` is about :math:`-\log m` for the
    :math:`m` labels of a sample and much lower for the others, so one
    logistic curve shared by all labels (Platt scaling) turns it into a
    probability.
    """

    # Platt scaling over at most this many (sample, label) scores: the
    # two-parameter fit converges long before, and memory stays bounded.
    _max_fit_scores = 2_000_000

    def _fit_calibration(self, logits, Y, calibration=None):
        """Fit the curve on the held-out data if any; return the data used."""
        if calibration is not None:
            logits, _, Y = calibration
        n, K = logits.shape
        step = max(1, (n * K) // self._max_fit_scores)
        scores = torch.log_softmax(logits[::step].float(), dim=1)
        targets = Y[::step].reshape(-1)
        self.coef_, self.intercept_ = _fit_platt(scores.reshape(-1), targets)
        if self.coef_ < 0:
            # scores anti-correlated with the targets (a failed fit): rather
            # than ranking labels backwards, give every label the base rate
            rate = float(targets.double().mean().clamp(PROBA_EPS, 1 - PROBA_EPS))
            self.coef_, self.intercept_ = 0.0, math.log(rate / (1 - rate))
        return logits, Y

    def predict_proba(self, logits, features):
        """Return the ``(n, K)`` per-label probabilities, in float64.

        Parameters
        ----------
        logits : torch.Tensor of shape (n, K)
            The network's logits.
        features : torch.Tensor of shape (n, d) or None
            Unused.

        Returns
        -------
        proba : torch.Tensor of shape (n, K)
            Probabilities strictly inside (0, 1).
        """
        scores = torch.log_softmax(logits.double(), dim=1)
        proba = torch.sigmoid(self.coef_ * scores + self.intercept_)
        return proba.clamp(PROBA_EPS, 1 - PROBA_EPS)


@torch.no_grad()
def fit_temperature(
    queries,
    prototypes,
    targets,
    *,
    metric,
    max_samples=_FIT_MAX_SAMPLES,
    max_memory=None,
):
    """Maximum-likelihood temperature of the soft assignment to prototypes.

    Minimises :func:`prototype_nll` over the temperature ``T``. With
    ``beta = 1/T`` the objective is convex, and its derivative
    ``mean(D_target - E_beta[D])`` is increasing in ``beta``; its root is
    found by safeguarded Newton steps on ``log(beta)`` within a bisection
    bracket, deterministically.

    Parameters
    ----------
    queries : torch.Tensor of shape (n, d)
        Floating-point queries (``n >= 1``).
    prototypes : torch.Tensor of shape (P, d)
        Prototypes on the same device.
    targets : torch.Tensor of shape (n,)
        Integer index of each query's true prototype.
    metric : {'euclidean', 'cosine'}
        Distance ``D``, as in :func:`nearest_prototypes`.
    max_samples : int, default=4096
        The fit uses at most this many queries, evenly spaced over the rows.
    max_memory : int or None, default=None
        Bytes for the work (``None``: 64 MiB). The float64 distances of the
        sampled queries to all prototypes are computed once and kept in 3/4
        of it: fewer queries are used when ``max_samples * P`` of them do
        not fit (629 queries at P = 10,000).

    Returns
    -------
    temperature : float
        The fitted temperature, in the units of ``D``, clipped to
        ``[1e-6, 1e3] * s`` with ``s`` the mean excess of the distances over
        each query's nearest one (the limits are reached when every target is
        the nearest prototype, or when targets are no nearer than the average
        prototype). When the likelihood does not depend on the temperature
        (one prototype, or all equidistant), 1.0 is returned.
    """
    P, targets = _check_targets(queries, prototypes, targets, metric)
    max_memory = _check_max_memory(max_memory)
    if not _is_int(max_samples) or max_samples < 1:
        raise ValueError(
            f"max_samples must be a positive integer; got {max_samples!r}."
        )
    queries = queries.detach()
    n, device = queries.shape[0], queries.device
    itemsize = queries.element_size()
    # float64 distances of the sample (3/4 of max_memory) and a work block.
    f64 = _wide_dtype(device)
    s = min(n, max_samples, _chunk_rows(max_memory * 3 // 4, P, 8))
    rows = min(s, _chunk_rows(max_memory // 4, P, max(8, itemsize)))
    sample = torch.div(torch.arange(s, device=device) * n, s, rounding_mode="floor")
    protos = _Prototypes(prototypes, queries.dtype, metric)
    gaps = torch.empty((s, P), dtype=f64, device=device)
    block = queries.new_empty((rows, P))
    for start in range(0, s, rows):
        stop = min(start + rows, s)
        q, _ = protos.prepare(queries[sample[start:stop]])
        protos.partial(q, block[: stop - start])
        gaps[start:stop] = block[: stop - start]
    del block
    return fit_gap_temperature(gaps, targets[sample], max_rows=rows)


@torch.no_grad()
def fit_gap_temperature(gaps, targets, max_rows=None):
    """Maximum-likelihood temperature of ``softmax(-gaps / T)`` for the targets.

    The core of :func:`fit_temperature`, for any ``(n, c)`` matrix of
    distances or scores (lower is better): with ``beta = 1/T`` the negative
    log-likelihood of the targets is convex, and its derivative
    ``mean(g_target - E_beta[g])`` is increasing in ``beta``; its root is
    found by safeguarded Newton steps on ``log(beta)`` within a bisection
    bracket, deterministically.

    Parameters
    ----------
    gaps : torch.Tensor of shape (n, c)
        Scores of each row's candidates, float64 or float32; ``inf`` marks a
        candidate a row does not have. Modified in place.
    targets : torch.Tensor of shape (n,)
        The column of each row's true candidate (a finite entry).
    max_rows : int or None, default=None
        Rows per work block; None takes all.

    Returns
    -------
    temperature : float
        The fitted temperature, in the units of ``gaps``, clipped to
        ``[1e-6, 1e3] * s`` with ``s`` the mean excess of the scores over each
        row's smallest one. 1.0 when the likelihood does not depend on it.
    """
    s, device = gaps.shape[0], gaps.device
    rows = s if max_rows is None else max(1, min(int(max_rows), s))
    present = torch.isfinite(gaps)
    gaps.sub_(gaps.masked_fill(~present, math.inf).min(dim=1, keepdim=True).values)
    gaps.masked_fill_(~present, 0.0)
    a = gaps.gather(1, targets[:, None]).mean()
    scale = float(gaps.sum() / present.sum().clamp(min=1))
    if gaps.shape[1] == 1 or not scale > 0 or not math.isfinite(scale):
        return 1.0
    work = torch.empty((rows, gaps.shape[1]), dtype=gaps.dtype, device=device)

    def slope(u):
        """Return the first and second derivatives of the nll in beta = exp(u)."""
        beta = math.exp(u)
        mean_b = torch.zeros((), dtype=gaps.dtype, device=device)
        var_b = torch.zeros((), dtype=gaps.dtype, device=device)
        for start in range(0, s, rows):
            b = gaps[start : start + rows]
            w = torch.mul(b, -beta, out=work[: len(b)]).exp_()
            w.mul_(present[start : start + rows])
            z = w.sum(dim=1)
            e1 = w.mul_(b).sum(dim=1) / z
            e2 = w.mul_(b).sum(dim=1) / z
            mean_b += e1.sum()
            var_b += (e2 - e1 * e1).clamp_min(0).sum()
        return float(a - mean_b / s), float(var_b / s)

    lo = math.log(1.0 / (_FIT_BRACKET[1] * scale))
    hi = math.log(1.0 / (_FIT_BRACKET[0] * scale))
    if slope(lo)[0] >= 0:
        return math.exp(-lo)
    if slope(hi)[0] <= 0:
        return math.exp(-hi)
    u = min(max(math.log(1.0 / scale), lo), hi)
    for _ in range(100):
        g, h = slope(u)
        if g > 0:
            hi = u
        else:
            lo = u
        step = g / (math.exp(u) * h) if h > 0 else math.inf
        new = u - step
        if not lo < new < hi:
            new = 0.5 * (lo + hi)
        if abs(new - u) < 1e-8 or hi - lo < 1e-8:
            u = new
            break
        u = new
    return math.exp(-u)


def ordered_like(values, order):
    """Per row, the values closest to ``values`` in the order of ``order``.

    For each row, the least-squares fit of ``values`` by a sequence that does
    not increase along ``order`` sorted from largest to smallest (isotonic
    regression, scikit-learn's pool-adjacent-violators, linear in the
    labels): labels that ``order`` ranks higher never get a smaller value,
    and where ``values`` already agree with that order they are unchanged.
    Labels pooled into one value are kept in ``order``'s order by a relative
    step of ``1e-9`` per rank, so that rankings (LRAP, coverage error) of
    positive values are exactly ``order``'s.

    Parameters
    ----------
    values : torch.Tensor of shape (n, K)
        The values to keep as close as possible (e.g. probabilities).
    order : torch.Tensor of shape (n, K)
        Scores whose order within each row the result follows.

    Returns
    -------
    fitted : torch.Tensor of shape (n, K), float64
    """
    values = values.double()
    n, K = values.shape
    rank = torch.argsort(order.to(values.device), dim=1, descending=True, stable=True)
    # a non-increasing fit of y is minus the non-decreasing fit of -y
    fitted = -np.ascontiguousarray(torch.gather(values, 1, rank).cpu().numpy())
    for row in fitted:
        _increasing_fit(row, np.ones(K))  # in place
    # relative: positive values stay positive
    fitted = -fitted * (1 - _ORDER_STEP * np.arange(K))
    fitted = torch.as_tensor(fitted, device=values.device)
    return torch.empty_like(fitted).scatter_(1, rank, fitted)
