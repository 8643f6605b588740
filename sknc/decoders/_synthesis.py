r"""Prototypes of label sets never seen in training, by the tag-wise-average rule.

Shared by :class:`~sknc.ONNDecoder` and :class:`~sknc.KNNDecoder`: from the
per-set counts and feature sums of the training rows,

- :func:`label_means_of_sets` estimates each label's mean :math:`\mu_k` and
  (with ``label_means='all_rows'``) the scales :math:`\rho_m`;
- :func:`candidate_sets` lists the sets of 2 to ``max_multiplicity`` labels
  not observed;
- :func:`synthesize` places each at :math:`o + \rho_{|S|} a_S`, with
  :math:`a_S` the (plain or frequency-weighted) average of its labels'
  offsets :math:`\mu_k - o` (:func:`sknc._tagwise.tagwise_average`).
"""

import math
from itertools import combinations

import torch

from .._tagwise import fit_label_means, fit_rho, tagwise_average
from .._warnings import warn

__all__ = [
    "MAX_SYNTHESIZED",
    "Synthesis",
    "candidate_sets",
    "label_means_of_sets",
    "rho_for",
    "set_index",
    "synthesize",
]

# Synthesis enumerates label combinations; cap their number.
MAX_SYNTHESIZED = 50_000


def set_index(sets, Y):
    """Index of each row of ``Y`` among the rows of ``sets``, or -1."""
    both = torch.cat([sets.to(torch.uint8), Y.to(torch.uint8)])
    _, inverse = torch.unique(both, dim=0, return_inverse=True)
    lookup = torch.full((int(inverse.max()) + 1,), -1, device=Y.device)
    lookup[inverse[: len(sets)]] = torch.arange(len(sets), device=Y.device)
    return lookup[inverse[len(sets) :]]


def label_means_of_sets(sets, counts, sums, label_means="singletons", weights=None):
    r"""Each label's mean feature, from per-set counts and sums.

    Parameters
    ----------
    sets : torch.Tensor of shape (n_sets, K), bool
        The distinct label sets of the training rows.
    counts : torch.Tensor of shape (n_sets,)
        Rows of each set.
    sums : torch.Tensor of shape (n_sets, d)
        Feature sum of each set's rows (float64).
    label_means : {'singletons', 'all_rows'}, default='singletons'
        ``'singletons'``: the mean of the rows whose only label is ``k``, or
        of all rows that contain ``k`` when it never occurs alone;
        ``'all_rows'``: the least-squares fit of the tag-wise-average model
        to every set's mean (:func:`sknc._tagwise.fit_label_means`).
    weights : torch.Tensor of shape (K,) or None, default=None
        Label weights of the frequency-weighted average (``'all_rows'``).

    Returns
    -------
    means : torch.Tensor of shape (K, d)
        :math:`\mu_k`, float64; NaN for a label in no training row.
    rho : dict of int to float or None
        The scales fitted with the means (``'all_rows'``), else None.
    """
    sizes = sets.sum(dim=1)
    means = sums / counts[:, None]
    if label_means == "all_rows":
        fit = fit_label_means(sets, means, counts, weights)
        return fit.label_means, fit.rho
    K = sets.shape[1]
    member = sets.double()
    # the sum and count of the rows containing k, from the per-set ones
    n_with = member.T @ counts.double()
    out = (member.T @ sums) / n_with[:, None]  # NaN where absent
    singles = sizes == 1
    labels = sets[singles].double().argmax(dim=1)
    out[labels] = means[singles]
    return out.reshape(K, -1), None


def rho_for(rho, m):
    """rho_m, or that of the nearest fitted multiplicity, or 1."""
    fitted = {k: v for k, v in rho.items() if math.isfinite(v)}
    if m in fitted:
        return fitted[m]
    if not fitted:
        return 1.0
    return fitted[min(fitted, key=lambda k: (abs(k - m), k))]


def candidate_sets(kept_sets, present, top, *, max_sets=MAX_SYNTHESIZED, warn_cap=True):
    """All label sets of 2 to ``top`` present labels not among ``kept_sets``.

    At most ``max_sets``, enumerated by increasing size; a size that would
    pass the cap is left out (with a warning when ``warn_cap``).
    """
    K = kept_sets.shape[1]
    labels = torch.nonzero(present).flatten().tolist()
    top = min(top, len(labels))
    rows, total = [], 0
    for m in range(2, top + 1):
        n_sets = math.comb(len(labels), m)
        if total + n_sets > max_sets:
            if not warn_cap:
                break
            warn(
                f"Synthesising label sets of size {m} would make "
                f"{total + n_sets} prototypes (more than {max_sets}); "
                f"only sets of up to {m - 1} labels are synthesised. Lower "
                "max_multiplicity to silence this warning.",
                UserWarning,
            )
            break
        rows.extend(combinations(labels, m))
        total += n_sets
    device = kept_sets.device
    if not rows:
        return torch.zeros(0, K, dtype=torch.bool, device=device)
    by_size = {}
    for combo in rows:
        by_size.setdefault(len(combo), []).append(combo)
    blocks = []
    for combos in by_size.values():
        index = torch.tensor(combos, device=device)
        block = torch.zeros(len(combos), K, dtype=torch.bool, device=device)
        block.scatter_(1, index, True)
        blocks.append(block)
    candidates = torch.cat(blocks)
    known = set_index(kept_sets, candidates) >= 0
    return candidates[~known]


def synthesize(syn_sets, offsets, center, rho, weights=None):
    """Prototypes ``center + rho_|S| a_S`` of the sets ``syn_sets`` (float64)."""
    sizes = syn_sets.sum(dim=1)
    scale = torch.tensor(
        [rho_for(rho, int(m)) for m in sizes.tolist()],
        dtype=torch.float64,
        device=offsets.device,
    )
    average = tagwise_average(syn_sets, offsets.nan_to_num(), weights)
    return center + scale[:, None] * average


class Synthesis:
    r"""The tag-wise model fitted to training label sets, for unseen sets.

    Parameters
    ----------
    sets, counts, sums
        As in :func:`label_means_of_sets`.
    label_means : {'singletons', 'all_rows'}, default='singletons'
        How the label means are estimated.
    weighting : {'uniform', 'frequency'}, default='uniform'
        The average of a set's label offsets: plain, or weighted by the
        labels' frequencies in the training rows.

    Attributes
    ----------
    label_means : torch.Tensor of shape (K, d)
        :math:`\mu_k` (NaN for an absent label).
    present : torch.Tensor of shape (K,), bool
        Labels with a mean.
    center : torch.Tensor of shape (d,)
        The mean of the label means.
    rho : dict of int to float
        :math:`\rho_m` per multiplicity ``m >= 2`` seen in training.
    weights : torch.Tensor of shape (K,) or None
        The label weights of the average.
    """

    def __init__(
        self, sets, counts, sums, label_means="singletons", weighting="uniform"
    ):
        frequencies = sets.double().T @ counts.double()
        self.weights = frequencies if weighting == "frequency" else None
        means, rho = label_means_of_sets(sets, counts, sums, label_means, self.weights)
        self.label_means = means
        self.present = ~means.isnan().any(dim=1)
        if not self.present.any():
            raise ValueError(
                "No label set can be predicted: Y has no positive label in any "
                "row, so there are no label prototypes. Fit on rows with labels."
            )
        self.center = means[self.present].mean(dim=0)
        if rho is None:
            rho = fit_rho(
                sets,
                sums / counts[:, None] - self.center,
                self.offsets,
                weights=self.weights,
            )
        self.rho = rho

    @property
    def offsets(self):
        """Return the offsets of the label means from the centre, ``(K, d)``."""
        return self.label_means - self.center

    def prototypes(self, syn_sets):
        """Return the prototypes of the sets ``syn_sets``, float64 ``(n, d)``."""
        return synthesize(syn_sets, self.offsets, self.center, self.rho, self.weights)
