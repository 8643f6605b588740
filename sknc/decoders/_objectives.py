r"""Bayes-optimal predictions for multi-label metrics, from a set distribution.

A fitted decoder gives, for every sample, a distribution over label sets
(:class:`SetDistribution`: the most probable candidate sets and their
probabilities) and the per-label marginals derived from it. The prediction
that maximises the expected value of a metric depends on the metric
(Dembczyński et al., 2012): the joint mode for subset accuracy, the marginal
mode for the Hamming loss, the general F-measure maximiser (GFM, Waegeman et
al., 2014) for the example-based F1, the set of largest expected Jaccard
index among candidates for the example-based Jaccard index, and thresholds
on the marginals, one shared (micro-F1) or one per label (macro-F1), fitted
on held-out data (Koyejo et al., 2015).
"""

import torch

from ._distribution import bit_patterns, chunks

__all__ = [
    "OBJECTIVES",
    "THRESHOLD_OBJECTIVES",
    "fit_thresholds",
    "gfm",
    "max_expected_jaccard",
]

OBJECTIVES = (
    "subset_accuracy",
    "hamming",
    "f1_micro",
    "f1_macro",
    "f1_samples",
    "jaccard_samples",
)
# objectives whose rule needs thresholds fitted on held-out data
THRESHOLD_OBJECTIVES = ("f1_micro", "f1_macro")


def gfm(distribution, allow_empty=True):
    r"""Return the set of largest expected F1 (general F-measure maximiser).

    With :math:`\Delta_{is} = P(y_i = 1, |y| = s)` and
    :math:`W_{sk} = 2 / (s + k)`, the best prediction of size ``k`` takes the
    ``k`` largest entries of column ``k`` of :math:`F = \Delta W`; its
    expected F1 is their sum, and the empty prediction's is :math:`P(y = 0)`
    (Waegeman et al., 2014). ``k`` runs up to the number of labels that
    occur in a sample's candidates (the others have :math:`F = 0`).

    Parameters
    ----------
    distribution : SetDistribution
        The sets and probabilities; probability not listed is ignored.
    allow_empty : bool, default=True
        Whether the empty prediction may be chosen.

    Returns
    -------
    pred : torch.Tensor of shape (n, K), dtype bool
        The prediction of each sample.
    expected : torch.Tensor of shape (n,)
        Its expected F1 under the listed probabilities.
    """
    sets, index, proba = distribution.sets, distribution.index, distribution.proba
    n, K = index.shape[0], sets.shape[1]
    device = proba.device
    pred = torch.zeros(n, K, dtype=torch.bool, device=device)
    expected = torch.zeros(n, dtype=torch.float64, device=device)
    sizes_table = sets.sum(dim=1)
    for rows in chunks(n, index.shape[1] * K):
        members = distribution.members(rows).double()  # (c, m, K)
        w = proba[rows]
        sizes = sizes_table[index[rows].clamp(min=0)].double()  # (c, m)
        in_union = members.amax(dim=1) > 0  # (c, K)
        k_max = max(1, int(in_union.sum(dim=1).max()))
        best_value = torch.full((len(w),), -1.0, dtype=torch.float64, device=device)
        best_k = torch.zeros(len(w), dtype=torch.long, device=device)
        best_labels = torch.zeros(len(w), k_max, dtype=torch.long, device=device)
        for k in range(1, k_max + 1):
            # F(i, k) = sum_j w_j [i in S_j] 2 / (|S_j| + k)
            F = torch.einsum("cm,cmk->ck", w * 2.0 / (sizes + k), members)
            values, labels = torch.topk(F, k, dim=1)
            value = values.sum(dim=1)
            better = value > best_value
            best_value = torch.where(better, value, best_value)
            best_k = torch.where(better, k, best_k)
            best_labels[better, :k] = labels[better]
        if allow_empty:
            empty = (members.sum(dim=2) == 0) & (index[rows] >= 0)
            p_empty = (w * empty).sum(dim=1)
            take_empty = p_empty > best_value
            best_value = torch.where(take_empty, p_empty, best_value)
            best_k = torch.where(take_empty, 0, best_k)
        chosen = torch.arange(k_max, device=device)[None, :] < best_k[:, None]
        block = torch.zeros(len(w), K, dtype=torch.bool, device=device)
        owner = torch.arange(len(w), device=device)[:, None].expand_as(chosen)
        block[owner[chosen], best_labels[chosen]] = True
        pred[rows] = block
        expected[rows] = best_value
    return pred, expected


def expected_jaccard(candidates, distribution, rows=slice(None)):
    """Return the expected Jaccard index of each candidate prediction, ``(n, c)``.

    ``candidates`` is ``(n, c, K)`` boolean; two empty sets count as 1.
    """
    members = distribution.members(rows).double()  # (n, m, K)
    cand = candidates.double()
    inter = torch.einsum("nck,nmk->ncm", cand, members)
    union = cand.sum(dim=2)[:, :, None] + members.sum(dim=2)[:, None, :] - inter
    jac = torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(inter))
    return torch.einsum("ncm,nm->nc", jac, distribution.proba[rows])


# Up to this many labels in a sample's listed sets, every subset of them is
# a candidate (2**12 patterns): the expected-Jaccard maximiser is then exact.
_EXACT_JACCARD_LABELS = 12


def _union_labels(members):
    """Each row's labels that occur in its listed sets, padded with -1: ``(n, u)``."""
    in_union = members.any(dim=1)  # (n, K)
    u = int(in_union.sum(dim=1).max()) if len(in_union) else 0
    order = torch.argsort(in_union.to(torch.int8), dim=1, descending=True, stable=True)
    labels = order[:, :u]
    valid = in_union.gather(1, labels)
    return torch.where(valid, labels, -1)


def _exact_jaccard(distribution, rows, allow_empty):
    """Best subset of the labels of each row's listed sets, by enumeration."""
    members = distribution.members(rows)  # (c, m, K)
    union = _union_labels(members)  # (c, u)
    c, u = union.shape
    device = members.device
    patterns = bit_patterns(u, device)  # (2^u, u)
    reduced = members.gather(
        2, union.clamp(min=0)[:, None, :].expand(-1, members.shape[1], -1)
    )
    reduced &= (union >= 0)[:, None, :]  # (c, m, u)
    allowed = ~(patterns[None, :, :] & (union < 0)[:, None, :]).any(dim=2)  # (c, 2^u)
    inter = torch.einsum("pu,cmu->cpm", patterns.double(), reduced.double())
    size_p = patterns.sum(dim=1).double()[None, :, None]
    size_s = members.sum(dim=2).double()[:, None, :]
    union_size = size_p + size_s - inter
    jac = torch.where(union_size > 0, inter / union_size.clamp(min=1), 1.0)
    score = torch.einsum("cpm,cm->cp", jac, distribution.proba[rows])
    if not allow_empty:
        allowed[:, 0] = False
    score = score.masked_fill(~allowed, -1.0)
    best = patterns[score.argmax(dim=1)]  # (c, u)
    pred = torch.zeros(c, members.shape[2], dtype=torch.bool, device=device)
    owner = torch.arange(c, device=device)[:, None].expand_as(best)
    pred[owner[best], union[best]] = True
    return pred


def max_expected_jaccard(distribution, marginals, allow_empty=True):
    """Return the prediction of largest expected Jaccard index.

    A label that occurs in none of a sample's listed sets only enlarges the
    unions, so the best prediction is a subset of the labels of its listed
    sets. Up to 12 such labels every subset is tried (exact under the listed
    probabilities); beyond, the candidates are the listed sets and the
    top-``k`` labels of the marginals for ``k`` up to the largest listed set
    plus one.

    Parameters
    ----------
    distribution : SetDistribution
        The sets and probabilities.
    marginals : torch.Tensor of shape (n, K)
        The per-label marginals (for the top-``k`` candidates).
    allow_empty : bool, default=True
        Whether the empty prediction may be chosen.

    Returns
    -------
    pred : torch.Tensor of shape (n, K), dtype bool
        The chosen prediction of each sample.
    """
    n, K = marginals.shape
    m = distribution.index.shape[1]
    device = marginals.device
    pred = torch.zeros(n, K, dtype=torch.bool, device=device)
    union_size = torch.zeros(n, dtype=torch.long, device=device)
    for rows in chunks(n, m * K):
        union_size[rows] = distribution.members(rows).any(dim=1).sum(dim=1)
    small = torch.nonzero(union_size <= _EXACT_JACCARD_LABELS).flatten()
    for block in chunks(len(small), max(m, 1) * (K + 2**_EXACT_JACCARD_LABELS)):
        rows = small[block]
        pred[rows] = _exact_jaccard(distribution, rows, allow_empty)
    large = torch.nonzero(union_size > _EXACT_JACCARD_LABELS).flatten()
    if not len(large):
        return pred
    sizes_table = distribution.sets.sum(dim=1)
    k_top = min(max(int(sizes_table.max()) + 1, 1), K)
    order = marginals.argsort(dim=1, descending=True)
    for block in chunks(len(large), (2 * m + k_top) * K):
        rows = large[block]
        listed = distribution.members(rows)  # (c, m, K)
        ranks = order[rows].argsort(dim=1)  # rank of each label
        tops = (
            ranks[:, None, :] < torch.arange(1, k_top + 1, device=device)[None, :, None]
        )  # (c, k_top, K)
        candidates = torch.cat([listed, tops], dim=1)
        score = expected_jaccard(candidates, distribution, rows)
        invalid = torch.cat(
            [
                distribution.index[rows] < 0,
                torch.zeros(len(rows), k_top, dtype=torch.bool, device=device),
            ],
            dim=1,
        )
        if not allow_empty:
            invalid |= candidates.sum(dim=2) == 0
        best = score.masked_fill(invalid, -1.0).argmax(dim=1)
        pred[rows] = candidates[torch.arange(len(best), device=device), best]
    return pred


def _best_f1_threshold(scores, targets):
    """Threshold on ``scores`` maximising F1 of ``scores >= t`` against ``targets``.

    Exact over the distinct score values; the middle of the best plateau is
    taken as the threshold, so that it generalises.
    """
    n_true = targets.sum()
    if n_true == 0:
        return None
    order = torch.argsort(scores, descending=True)
    s, t = scores[order], targets[order].double()
    tp = torch.cumsum(t, 0)
    n_pred = torch.arange(1, len(s) + 1, dtype=torch.float64, device=s.device)
    f1 = 2 * tp / (n_pred + n_true)
    # only cut between distinct values
    last = torch.ones_like(s, dtype=torch.bool)
    last[:-1] = s[:-1] != s[1:]
    f1 = torch.where(last, f1, torch.full_like(f1, -1.0))
    i = int(f1.argmax())
    nxt = s[i + 1] if i + 1 < len(s) else s[i] - 1e-3
    return float((s[i] + nxt) / 2)


def fit_thresholds(marginals, Y, average):
    """Return thresholds on the marginals that maximise micro- or macro-F1.

    Parameters
    ----------
    marginals : torch.Tensor of shape (n, K)
        Held-out per-label probabilities.
    Y : torch.Tensor of shape (n, K)
        Their true 0/1 labels.
    average : {'micro', 'macro'}
        One threshold shared by every label, or one per label (0.5 for a
        label without a positive held-out sample).

    Returns
    -------
    thresholds : torch.Tensor of shape (K,)
        The threshold of each label (all equal for ``'micro'``).
    """
    marginals = marginals.double()
    Y = Y.to(marginals.device).bool()
    K = marginals.shape[1]
    if average == "micro":
        t = _best_f1_threshold(marginals.reshape(-1), Y.reshape(-1))
        return torch.full((K,), 0.5 if t is None else t, dtype=torch.float64)
    out = torch.full((K,), 0.5, dtype=torch.float64)
    for k in range(K):
        t = _best_f1_threshold(marginals[:, k], Y[:, k])
        if t is not None:
            out[k] = t
    return out
