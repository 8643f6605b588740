"""The collapsed optimum of the unconstrained feature model (the M-lab NC ansatz)."""

import math
import numbers

import numpy as np
import torch
from scipy.optimize import minimize
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._structure import _LOSS_NAMES, _check_Y, _evaluate_loss, _make_loss

__all__ = ["collapsed_optimum"]

# --------------------------------------------------------------------------
# The symmetric (collapsed) optimum
# --------------------------------------------------------------------------


def _balanced_counts(Y):
    """``{m: samples per set}`` of a structure balanced within multiplicities."""
    N, K = Y.shape
    sizes = Y.sum(1).astype(int)
    out = {}
    for m in np.unique(sizes):
        rows = Y[sizes == m]
        _, per_set = np.unique(rows, axis=0, return_counts=True)
        if len(per_set) != math.comb(K, int(m)) or (per_set != per_set[0]).any():
            raise ValueError(
                f"The symmetric optimum needs every label set of a multiplicity "
                f"present equally often; multiplicity {m} has {len(per_set)} of "
                f"its {math.comb(K, int(m))} sets, with {per_set.min()} to "
                f"{per_set.max()} samples each. Simulate it with simulate_ufm "
                "instead."
            )
        out[int(m)] = int(per_set[0])
    return out


def _is_shift_invariant(criterion, K):
    g = torch.Generator().manual_seed(0)
    z = torch.randn(4, K, generator=g, dtype=torch.float64)
    y = (torch.rand(4, K, generator=g) < 0.5).to(torch.float64)
    y[:, 0] = 1
    with torch.no_grad():
        a = float(_evaluate_loss(criterion, z, y))
        b = float(_evaluate_loss(criterion, z + 1.5, y))
    return abs(a - b) <= 1e-9 * max(1.0, abs(a))


@validate_params(
    {
        "Y": ["array-like", "sparse matrix"],
        "loss": [StrOptions(set(_LOSS_NAMES)), callable],
        "loss_params": [dict, None],
        "lambda_W": [Interval(numbers.Real, 0, None, closed="neither")],
        "lambda_H": [Interval(numbers.Real, 0, None, closed="neither")],
        "lambda_b": [Interval(numbers.Real, 0, None, closed="left"), None],
        "bias": ["boolean"],
        "etf_scale": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "symmetrize": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def collapsed_optimum(
    Y,
    *,
    loss="pal",
    loss_params=None,
    lambda_W=5e-3,
    lambda_H=5e-3,
    lambda_b=None,
    bias=False,
    etf_scale=None,
    symmetrize=False,
):
    r"""Predict the UFM optimum from multi-label neural collapse.

    For label sets balanced within every multiplicity (every set of size
    ``m`` present, equally often), M-lab NC says that at the global optimum
    the head is a scaled simplex ETF, :math:`w_k = \alpha m_k`, and the
    feature of every sample of a set :math:`S` of size :math:`m` is
    :math:`\beta_m \frac{1}{m}\sum_{k \in S} m_k` (plus, with a bias, a
    common logit offset :math:`c`). The objective of :func:`simulate_ufm`
    then depends on these few scalars only; this function minimises it over
    them (numerically, with the actual loss). With the class means
    :math:`\mu_k = \beta_1 m_k` (and :math:`\mu_G = 0`), the scale of the
    tag-wise average rule :math:`\mu_S = \rho_m \frac{1}{m}\sum_{k\in S}
    \mu_k` is :math:`\rho_m = \beta_m / \beta_1`.

    Parameters
    ----------
    Y : array-like or sparse matrix of shape (n_samples, n_labels)
        0/1 label indicator, balanced within every multiplicity (as made by
        :func:`make_label_structure` with int keys only), with single
        labels.
    loss, loss_params, lambda_W, lambda_H, lambda_b, bias
        As in :func:`simulate_ufm` (both decays must be positive). A loss
        that changes when every logit is shifted by the same amount (such as
        ``'pal_mse'``) needs ``bias=True``.
    etf_scale : float, default=None
        Fix :math:`\alpha` (a fixed ETF head of that scale); ``None``
        optimises it (a learned head or a learned scale).
    symmetrize : bool, default=False
        Accept any ``Y`` (real data are never balanced within their
        multiplicities) and predict the optimum of its symmetrised version:
        the same number of labels and the same share of samples of each
        multiplicity, spread equally over all the sets of that multiplicity.

    Returns
    -------
    optimum : dict
        ``"alpha"`` (row norm of :math:`W`), ``"beta"`` (``{m: beta_m}``,
        the norm scale of each multiplicity; :math:`\|\mu_k\| = \beta_1`),
        ``"rho"`` (``{m: rho_m}`` for ``m >= 2`` with ``m < n_labels``),
        ``"offset"`` (the common logit offset :math:`c`, 0 without a bias)
        and ``"objective"`` (the predicted minimum of :math:`F`).

    Raises
    ------
    ValueError
        If ``Y`` is not balanced within its multiplicities, has no single
        labels, or if the loss needs a bias that ``bias=False`` forbids.

    See Also
    --------
    simulate_ufm : The optimum found by optimisation.

    Notes
    -----
    With :math:`x = \alpha\beta_m K / (m (K-1))`, the logits of a sample of
    a set of size :math:`m` are :math:`x (K-m)/K` on its labels and
    :math:`-x m/K` on the others, and :math:`\|\frac{1}{m}\sum_{k\in S}
    m_k\|^2 = (K-m)/(m(K-1))`. For the PAL cross-entropy the per-sample
    loss is :math:`m \log(m + (K-m) e^{-x})`; setting the derivatives to 0
    gives closed forms, e.g. for pairs :math:`\rho_2 = 2(e^{x_1} + K - 1) /
    (2 e^{x_2} + K - 2)` (see ``python -m benchmarks.ufm_experiment``). The
    prediction is the best *symmetric* point; that the global optimum is
    symmetric is the M-lab NC theorem for the PAL cross-entropy, and
    :func:`simulate_ufm` checks it for the other losses.

    Examples
    --------
    >>> from sknc.ufm import collapsed_optimum, make_label_structure
    >>> Y = make_label_structure(4, {1: 10, 2: 5})
    >>> optimum = collapsed_optimum(Y)
    >>> round(optimum["rho"][2], 6)
    1.804322
    """
    Y = _check_Y(Y)
    N, K = Y.shape
    if symmetrize:
        sizes, n_rows = np.unique(np.asarray(Y.sum(axis=1)).ravel(), return_counts=True)
        # the rows of multiplicity m, as if spread over its comb(K, m) sets
        shares = {int(m): int(n) / N for m, n in zip(sizes, n_rows, strict=True)}
    else:
        counts = _balanced_counts(Y)
        shares = {m: counts[m] * math.comb(K, m) / N for m in counts}
    if 1 not in shares:
        raise ValueError(
            "The symmetric optimum is parametrised by the single labels' means; "
            "Y has no multiplicity-1 sample."
        )
    criterion = _make_loss(loss, loss_params)
    if not bias and not _is_shift_invariant(criterion, K):
        raise ValueError(
            "This loss changes when every logit is shifted by the same amount, "
            "so without a bias the optimum uses a common feature direction that "
            "the symmetric prediction does not model. Pass bias=True."
        )
    lambda_b = lambda_W if lambda_b is None else lambda_b
    ms = [m for m in shares if 0 < m < K]  # m = 0 and m = K have h = 0
    weights = {m: shares[m] for m in ms}
    # Representative set {0, ..., m-1} of each multiplicity.
    targets = torch.zeros(len(ms), K, dtype=torch.float64)
    for i, m in enumerate(ms):
        targets[i, :m] = 1.0
    on = torch.as_tensor([(K - m) / K for m in ms], dtype=torch.float64)
    off = torch.as_tensor([-m / K for m in ms], dtype=torch.float64)
    norm2 = torch.as_tensor([(K - m) / (m * (K - 1)) for m in ms], dtype=torch.float64)
    w = torch.as_tensor([weights[m] for m in ms], dtype=torch.float64)
    mass = torch.as_tensor(ms, dtype=torch.float64)
    # Constant loss of the rows whose logits are all equal (m = 0 or m = K).
    rest = {m: shares[m] for m in shares if m in (0, K)}

    n_alpha = 1 if etf_scale is None else 0
    n_beta = len(ms)

    def unpack(p):
        alpha = p[0] if n_alpha else torch.tensor(float(etf_scale), dtype=p.dtype)
        beta = p[n_alpha : n_alpha + n_beta]
        c = p[-1] if bias else torch.zeros((), dtype=p.dtype)
        return alpha, beta, c

    def objective(p):
        p = torch.as_tensor(p, dtype=torch.float64).requires_grad_()
        alpha, beta, c = unpack(p)
        x = alpha * beta * K / (mass * (K - 1))
        logits = torch.where(targets > 0, (x * on)[:, None], (x * off)[:, None]) + c
        # the loss averages over its rows: one call per representative row
        per_set = torch.stack(
            [
                _evaluate_loss(criterion, logits[i : i + 1], targets[i : i + 1])
                for i in range(n_beta)
            ]
        )
        value = (w * per_set).sum() + 0.5 * lambda_H * (w * beta**2 * norm2).sum()
        for m, n in rest.items():
            y = torch.zeros(1, K, dtype=torch.float64)
            y[0, :m] = 1.0
            flat = torch.zeros(1, K, dtype=torch.float64) + c
            value = value + n * _evaluate_loss(criterion, flat, y)
        value = value + 0.5 * lambda_W * K * alpha**2 + 0.5 * lambda_b * K * c**2
        value.backward()
        return value.item(), p.grad.numpy().copy()

    x0 = np.array([1.0] * (n_alpha + n_beta) + ([0.0] if bias else []))
    res = minimize(
        objective,
        x0,
        jac=True,
        method="BFGS",
        options={"gtol": 1e-12, "maxiter": 10000},
    )
    alpha, beta, c = (v.detach().numpy() for v in unpack(torch.as_tensor(res.x)))
    if alpha < 0:  # (alpha, beta) -> (-alpha, -beta) is a symmetry
        alpha, beta = -alpha, -beta
    beta = {m: float(beta[i]) for i, m in enumerate(ms)}
    return {
        "alpha": float(alpha),
        "beta": beta,
        "rho": {m: beta[m] / beta[1] for m in ms if m >= 2},
        "offset": float(c),
        "objective": float(res.fun),
    }
