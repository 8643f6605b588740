r"""The estimator of the label means :math:`\mu_k` behind the metrics.

The theory defines :math:`\mu_k` as the mean feature of the rows whose only
label is ``k``. Many real data sets have few such rows (yeast: 24 of 1,500
training rows, all of one label), so the metrics can also fit the label
means to *every* label set's mean under the tag-wise-average model
(:func:`sknc._tagwise.fit_label_means`):

- ``'singletons'``: the means of the multiplicity-1 rows (the definition);
- ``'all_rows'``: the least-squares fit over all labelled rows;
- ``'auto'``: ``'singletons'`` when every label that occurs has at least
  :data:`MIN_SINGLETONS` multiplicity-1 row, so that the definition gives
  every label a mean, else ``'all_rows'``.

:func:`estimate_label_means` turns the raw statistics of a streamed pass
into the :class:`~sknc.metrics._accumulator.Summary` the kernels measure.
"""

import dataclasses

import torch

from .._docstring import Substitution, metric_params
from .._tagwise import fit_label_means

__all__ = [
    "LABEL_MEANS",
    "MIN_SINGLETONS",
    "WEIGHTINGS",
    "estimate_label_means",
    "label_frequencies",
    "set_members",
]

LABEL_MEANS = ("auto", "singletons", "all_rows")
WEIGHTINGS = ("uniform", "frequency")
# Multiplicity-1 rows per label that 'auto' needs to use them: with one
# each, the definition is complete and the metrics are those of before
# 'all_rows' existed.
MIN_SINGLETONS = 1


def set_members(s):
    """Return the label sets of ``s.set_labels`` as a boolean ``(n_sets, K)`` tensor."""
    members = torch.zeros(
        len(s.set_labels), s.n_labels, dtype=torch.bool, device=s.set_means.device
    )
    rows = [i for i, labels in enumerate(s.set_labels) for _ in labels]
    cols = [k for labels in s.set_labels for k in labels]
    if rows:
        members[rows, cols] = True
    return members


def label_frequencies(s, members=None):
    """Rows that contain each label, float64 ``(K,)``."""
    if members is None:
        members = set_members(s)
    counts = s.mult1_counts.to(torch.float64)
    return counts + s.set_counts.to(torch.float64) @ members.to(torch.float64)


def _listing(labels):
    shown = labels[:20]
    more = f" and {len(labels) - 20} more" if len(labels) > 20 else ""
    return f"{shown}{more}"


def _singletons(s, weights):
    """Return ``s`` with the means of the multiplicity-1 rows (the definition)."""
    messages = list(s.messages)
    if len(s.missing) == s.n_labels:
        messages.append(
            "No row of Y has exactly one positive label, so no label has "
            "a class mean (the mean of its multiplicity-1 samples). "
            "label_means='all_rows' fits them to every row instead."
        )
    elif s.missing:
        messages.append(
            f"{len(s.missing)} label(s) have no multiplicity-1 sample (no row "
            f"of Y with that label alone): {_listing(s.missing)}. They have no "
            "class mean: NC1, NC2 and NC3 use the other "
            f"{s.n_labels - len(s.missing)} label(s), and NCm and rho "
            "skip the label sets that contain them. label_means='all_rows' "
            "fits every label's mean to all rows instead."
        )
    used = s.labels_used.to(s.mu.device)
    return dataclasses.replace(
        s,
        messages=messages,
        label_means="singletons",
        label_weights=None if weights is None else weights[used],
        n_mean_rows=s.n_mult1,
        n_within=s.n_mult1,
    )


def _all_rows(s, weights, frequencies, members):
    """Return ``s`` with label means fitted to every labelled row."""
    f64 = torch.float64
    device = s.mu.device
    messages = list(s.messages)
    singles = torch.zeros(
        len(s.labels_used), s.n_labels, dtype=torch.bool, device=device
    )
    singles[torch.arange(len(s.labels_used), device=device), s.labels_used] = True
    fit = fit_label_means(
        torch.cat([singles, members]),
        torch.cat([s.mult1_means, s.set_means]),
        torch.cat([s.mult1_counts[s.labels_used], s.set_counts]),
        weights,
    )
    occurring = frequencies > 0
    labels_used = torch.nonzero(occurring)[:, 0]
    missing = torch.nonzero(~occurring)[:, 0].tolist()
    mu = fit.label_means[labels_used]
    mu_G = mu.mean(dim=0) if len(mu) else torch.zeros_like(s.mu_G)
    if not len(labels_used):
        messages.append("No row of Y has a positive label, so no label has a mean.")
    elif missing:
        messages.append(
            f"{len(missing)} label(s) never occur in Y: {_listing(missing)}. They "
            f"have no mean: the metrics use the other {len(labels_used)} label(s)."
        )
    if fit.rank < len(labels_used):
        messages.append(
            f"The label means fitted to all rows are not all identified (rank "
            f"{fit.rank} of {len(labels_used)}): some labels always occur in "
            "the same combinations. The smallest least-squares solution is used."
        )
    if not fit.converged:
        messages.append(
            "The least-squares fit of the label means did not converge; the "
            "metrics use its last iterate."
        )
    if s.set_scatter is None and len(s.set_labels):
        raise ValueError(
            "label_means='all_rows' needs the scatter of the rows with two or "
            "more labels: accumulate with NCAccumulator(..., set_scatter=True)."
        )
    # within-set scatter of every set with two or more rows
    n_single = s.mult1_counts[s.labels_used]
    scatter = s.sigma_W * s.n_mult1
    if s.set_scatter is not None:
        scatter = scatter + s.set_scatter
    n_within = int(n_single[n_single >= 2].sum()) + int(
        s.set_counts[s.set_counts >= 2].sum()
    )
    sigma_W = scatter / n_within if n_within else torch.zeros_like(scatter)
    n_rows = int(s.mult1_counts.sum()) + int(s.set_counts.sum())
    return dataclasses.replace(
        s,
        labels_used=labels_used,
        missing=missing,
        mu=mu.to(f64),
        mu_G=mu_G.to(f64),
        sigma_W=sigma_W,
        messages=messages,
        label_means="all_rows",
        label_weights=None if weights is None else weights[labels_used],
        n_mean_rows=n_rows,
        n_within=n_within,
        fit={
            "rho": fit.rho,
            "anchor": fit.anchor,
            "rank": fit.rank,
            "n_iter": fit.n_iter,
            "converged": fit.converged,
        },
    )


@Substitution(**metric_params())
def estimate_label_means(s, label_means="auto", weighting="uniform"):
    """Return summary ``s`` with the label means of the chosen estimator.

    Parameters
    ----------
    s : Summary
        The raw statistics of a streamed pass (means of the multiplicity-1
        rows, label-set means, scatters).
    {label_means}
    {weighting}

    Returns
    -------
    summary : Summary
        ``s`` with ``mu``, ``mu_G``, ``sigma_W``, ``labels_used``,
        ``missing``, the messages, ``label_means`` (the estimator used),
        ``label_weights``, ``n_mean_rows`` and ``n_within`` of that estimator.
    """
    if label_means not in LABEL_MEANS:
        raise ValueError(
            f"label_means must be one of {list(LABEL_MEANS)}; got {label_means!r}."
        )
    if weighting not in WEIGHTINGS:
        raise ValueError(
            f"weighting must be one of {list(WEIGHTINGS)}; got {weighting!r}."
        )
    members = set_members(s)
    frequencies = label_frequencies(s, members)
    weights = frequencies if weighting == "frequency" else None
    s = dataclasses.replace(s, weighting=weighting)
    if label_means == "auto":
        occurring = frequencies > 0
        enough = bool((s.mult1_counts[occurring] >= MIN_SINGLETONS).all())
        label_means = "singletons" if enough else "all_rows"
    if label_means == "singletons":
        return _singletons(s, weights)
    return _all_rows(s, weights, frequencies, members)
