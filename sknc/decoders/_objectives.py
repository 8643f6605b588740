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

import math

import torch

from ._base import ensure_nonempty
from ._distribution import bit_patterns, chunks

__all__ = [
    "OBJECTIVES",
    "THRESHOLD_OBJECTIVES",
    "apply_thresholds",
    "fit_objective_thresholds",
    "fit_thresholds",
    "plug_in_thresholds",
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
# The per-label (macro) thresholds are shrunk toward the shared (micro) one
# with the weight of this many positive rows: t_k = (n_k t_k + a t) / (n_k + a).
# Chosen on the tuning half of benchmarks/study_objectives.py.
THRESHOLD_SHRINKAGE = 3.0
# Where the cuts come from on the training rows (no held-out rows): 'plug-in'
# places them where the F1 expected under the marginals themselves is largest
# (the labels only test them against the decoder's own rule: the guard
# below), because the network's outputs on the rows it trained on are
# over-confident; on held-out rows (a validation split, calibration_cv) the
# labels place them ('fitted'). Chosen by benchmarks/study_objectives.py: on
# the tuning half (training rows only) both 'plug-in' at z=2 and 'fitted' at
# z=3 kept every (set, seed, objective) at or above objective=None, gaining
# alike; on the confirmation half 'fitted' at z=3 fell below it on emotions
# (micro -0.32, macro -0.26 points) and 'plug-in' nowhere.
TRAINING_ROWS_RULE = "plug-in"
# A threshold rule replaces the decoder's own rule only where, on the rows it
# was fitted on, it is right in significantly more (row, label) cells than it
# is wrong where that rule is right: (right - wrong) >= z sqrt(right + wrong).
THRESHOLD_GUARD_Z = 2.0


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
        members = distribution.members(rows)  # (c, m, K)
        # work on the labels of the listed sets only: the others have F = 0
        union, reduced = _reduce_to_union(members)  # (c, u), (c, m, u)
        reduced = reduced.double()
        w = proba[rows]
        sizes = sizes_table[index[rows].clamp(min=0)].double()  # (c, m)
        c, u = union.shape
        best_value = torch.full((c,), -1.0, dtype=torch.float64, device=device)
        best_k = torch.zeros(c, dtype=torch.long, device=device)
        best_slots = torch.zeros(c, max(u, 1), dtype=torch.long, device=device)
        for k in range(1, u + 1):
            # F(i, k) = sum_j w_j [i in S_j] 2 / (|S_j| + k)
            F = torch.einsum("cm,cmu->cu", w * 2.0 / (sizes + k), reduced)
            F = F.masked_fill(union < 0, -1.0)
            values, slots = torch.topk(F, k, dim=1)
            value = values.clamp(min=0).sum(dim=1)
            better = value > best_value
            best_value = torch.where(better, value, best_value)
            best_k = torch.where(better, k, best_k)
            best_slots[better, :k] = slots[better]
        if allow_empty or u == 0:
            empty = ~members.any(dim=2) & (index[rows] >= 0)
            p_empty = (w * empty).sum(dim=1)
            take_empty = (p_empty > best_value) | (best_value < 0)
            best_value = torch.where(take_empty, p_empty, best_value)
            best_k = torch.where(take_empty, 0, best_k)
        width = best_slots.shape[1]
        chosen = torch.arange(width, device=device)[None, :] < best_k[:, None]
        labels = union.gather(1, best_slots) if u else best_slots
        block = torch.zeros(c, K, dtype=torch.bool, device=device)
        owner = torch.arange(c, device=device)[:, None].expand_as(chosen)
        block[owner[chosen], labels[chosen]] = True
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


def _reduce_to_union(members):
    """Return the rows' union labels ``(c, u)`` and their sets on them ``(c, m, u)``."""
    union = _union_labels(members)
    slots = union.clamp(min=0)[:, None, :].expand(-1, members.shape[1], -1)
    reduced = members.gather(2, slots) & (union >= 0)[:, None, :]
    return union, reduced


def _exact_jaccard(distribution, rows, allow_empty):
    """Best subset of the labels of each row's listed sets, by enumeration."""
    members = distribution.members(rows)  # (c, m, K)
    union, reduced = _reduce_to_union(members)  # (c, u), (c, m, u)
    c, u = union.shape
    device = members.device
    patterns = bit_patterns(u, device)  # (2^u, u)
    allowed = ~(patterns[None, :, :] & (union < 0)[:, None, :]).any(dim=2)  # (c, 2^u)
    inter = torch.einsum("pu,cmu->cpm", patterns.double(), reduced.double())
    size_p = patterns.sum(dim=1).double()[None, :, None]
    size_s = members.sum(dim=2).double()[:, None, :]
    # in place on the one (c, 2^u, m) block: this is the rule's whole cost
    jac = (size_s - inter).add_(size_p).clamp_(min=1)  # the union's size
    jac = torch.div(inter, jac, out=jac)
    # the empty prediction against an empty set (the only empty union) is right
    jac[:, 0, :] = (size_s[:, 0, :] == 0).double()
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
    # rows of like union sizes together: a block enumerates the subsets of
    # its largest union
    small = small[torch.argsort(union_size[small], stable=True)]
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


# (row, label) scores per block of the threshold search
_THRESHOLD_BLOCK = 2**22


def _best_f1_thresholds(scores, targets):
    """Per column, the threshold on ``scores`` that maximises F1 of ``scores >= t``.

    Exact over the distinct score values of each column; the middle between
    the best cut's score and the next one is returned, so that it
    generalises. A column without a positive target gets NaN.
    """
    n = scores.shape[0]
    order = torch.argsort(scores, dim=0, descending=True)
    s = scores.gather(0, order)
    t = targets.gather(0, order).double()
    n_true = t.sum(dim=0)
    tp = torch.cumsum(t, dim=0)
    n_pred = torch.arange(1, n + 1, dtype=torch.float64, device=s.device)[:, None]
    f1 = 2 * tp / (n_pred + n_true)
    # only cut between distinct values
    last = torch.ones_like(s, dtype=torch.bool)
    last[:-1] = s[:-1] != s[1:]
    best = f1.masked_fill(~last, -1.0).argmax(dim=0)
    nxt = torch.cat([s[1:], s[-1:] - 1e-3])
    cut = (s.gather(0, best[None]) + nxt.gather(0, best[None]))[0] / 2
    return torch.where(n_true > 0, cut, torch.nan)


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
        label without a positive held-out sample). The micro threshold is
        fitted on at most 4M (row, label) scores, an evenly spaced sample of
        the rows.

    Returns
    -------
    thresholds : torch.Tensor of shape (K,)
        The threshold of each label (all equal for ``'micro'``).
    """
    marginals = marginals.double()
    return _thresholds(marginals, Y.to(marginals.device).bool(), average)


def plug_in_thresholds(marginals, average):
    """Return the thresholds of the largest F1 expected under the marginals.

    For cuts ``t``, the F1 of ``marginals >= t`` expected if the marginals
    were the labels' probabilities, ``2 sum_{p >= t} p / (#{p >= t} + sum p)``
    (the expected true positives over the predicted and the expected
    positives, pooled over the rows), is largest at the returned cut. It
    needs no labels, so a rare label's cut is not placed by its few
    positive rows.

    Parameters
    ----------
    marginals : torch.Tensor of shape (n, K)
        Per-label probabilities.
    average : {'micro', 'macro'}
        One threshold shared by every label (at most 4M scores, an evenly
        spaced sample of the rows), or one per label.

    Returns
    -------
    thresholds : torch.Tensor of shape (K,)
        The threshold of each label (all equal for ``'micro'``).
    """
    marginals = marginals.double()
    return _thresholds(marginals, marginals, average)


def _thresholds(scores, targets, average):
    """Return the F1-maximising cuts of ``scores`` for 0/1 or expected ``targets``."""
    n, K = scores.shape
    if average == "micro":
        step = max(1, -(-n * K // _THRESHOLD_BLOCK))
        flat = scores[::step].reshape(-1, 1)
        t = _best_f1_thresholds(flat, targets[::step].reshape(-1, 1))[0]
        t = 0.5 if torch.isnan(t) else float(t)
        return torch.full((K,), t, dtype=torch.float64)
    out = torch.empty(K, dtype=torch.float64)
    width = max(1, _THRESHOLD_BLOCK // max(n, 1))
    for start in range(0, K, width):
        block = slice(start, start + width)
        out[block] = _best_f1_thresholds(scores[:, block], targets[:, block]).cpu()
    return out.nan_to_num(0.5)


def _f1_columns(pred, Y):
    """F1 of each column of ``pred`` against ``Y`` (0 where both are empty)."""
    tp = (pred & Y).sum(dim=0).double()
    total = (pred.sum(dim=0) + Y.sum(dim=0)).double()
    return torch.where(total > 0, 2 * tp / total.clamp(min=1), torch.zeros_like(tp))


def _f1_micro(pred, Y):
    total = int(pred.sum() + Y.sum())
    return 2 * int((pred & Y).sum()) / total if total else 0.0


def apply_thresholds(marginals, thresholds, default, allow_empty=True):
    """Return ``marginals >= thresholds``, the default rule where a threshold is NaN.

    Parameters
    ----------
    marginals : torch.Tensor of shape (n, K)
        Per-label probabilities.
    thresholds : torch.Tensor of shape (K,)
        One threshold per label; NaN: that label follows the default rule.
    default : torch.Tensor of shape (n, K), bool, or callable
        The default rule's prediction (a callable returning it is called only
        when a threshold is NaN).
    allow_empty : bool, default=True
        Whether a row may predict no label (if not, a row of no label above
        its thresholds gets its most probable label).

    Returns
    -------
    pred : torch.Tensor of shape (n, K), dtype bool
    """
    thresholds = thresholds.to(marginals)
    fall_back = torch.isnan(thresholds)
    if bool(fall_back.all()):
        return (default() if callable(default) else default).to(marginals.device)
    pred = marginals >= thresholds
    if not allow_empty:
        pred = ensure_nonempty(pred, marginals)
    if bool(fall_back.any()):
        default = default() if callable(default) else default
        pred = torch.where(fall_back, default.to(pred.device).bool(), pred)
    return pred


def _significant(pred, default, Y, z, dim=None):
    """Whether ``pred`` is right in significantly more cells than ``default``.

    McNemar's comparison of two rules on the same cells: among the cells
    where they disagree, ``right`` are those ``pred`` gets right and
    ``wrong`` those it gets wrong; it wins when ``right - wrong >= z
    sqrt(right + wrong)`` and ``right > wrong``. Per column with ``dim=0``.
    """
    right = ((pred == Y) & (default != Y)).sum(dim=dim).double()
    wrong = ((pred != Y) & (default == Y)).sum(dim=dim).double()
    return (right - wrong >= z * (right + wrong).sqrt()) & (right > wrong)


def fit_objective_thresholds(
    marginals,
    Y,
    default,
    shrinkage=THRESHOLD_SHRINKAGE,
    guard=THRESHOLD_GUARD_Z,
    allow_empty=True,
    rule="fitted",
):
    r"""Return the thresholds of ``'f1_micro'`` and ``'f1_macro'``.

    With ``rule='plug-in'``, the cuts of the largest F1 expected under the
    marginals (:func:`plug_in_thresholds`). With ``rule='fitted'``, the cuts
    that maximise micro- and macro-F1 on the labelled rows (see
    :func:`fit_thresholds`); these overfit a label of few positive rows (its
    best cut on them is often near 0) and outputs the network trained on
    (they are over-confident), so each per-label threshold is shrunk toward
    the shared one by the label's positive count :math:`n_k`,
    :math:`t_k = (n_k t^{macro}_k + a\, t^{micro}) / (n_k + a)`. With
    ``guard``, a rule falls back to the default rule (NaN thresholds) unless
    it beats it on these rows, significantly: the whole micro rule, and each
    label of the macro rule (macro-F1 is the mean of the labels' F1). A
    rule that falls back scores what the default rule scores; one that is
    kept scores above it on these rows.

    Parameters
    ----------
    marginals : torch.Tensor of shape (n, K)
        Per-label probabilities of rows the thresholds are fitted on
        (held-out, or the decoder's training probabilities).
    Y : torch.Tensor of shape (n, K)
        Their true 0/1 labels.
    default : torch.Tensor of shape (n, K), bool
        The default rule's prediction of the same rows.
    shrinkage : float, default=THRESHOLD_SHRINKAGE
        The weight ``a`` of the shared threshold, in positive rows (0: no
        shrinkage).
    guard : float or None, default=THRESHOLD_GUARD_Z
        ``z`` of the comparison with the default rule: a rule is kept where
        its F1 is above the default rule's and, among the cells where they
        disagree, it is right in ``right`` of them and wrong in ``wrong``,
        with ``right - wrong >= z sqrt(right + wrong)`` (0: only the F1
        comparison); None: no comparison, the rules are always kept.
    allow_empty : bool, default=True
        Whether a row may predict no label (see :func:`apply_thresholds`).
    rule : {'fitted', 'plug-in'}, default='fitted'
        Where the cuts come from (``shrinkage`` applies to ``'fitted'``):
        ``'fitted'`` for held-out rows, :data:`TRAINING_ROWS_RULE` for the
        rows the network trained on.

    Returns
    -------
    thresholds : dict of str to torch.Tensor of shape (K,)
        ``'f1_micro'`` and ``'f1_macro'``; NaN where the default rule is kept.
    """
    if rule not in ("plug-in", "fitted"):
        raise ValueError(f"rule must be 'plug-in' or 'fitted'; got {rule!r}.")
    marginals = marginals.double()
    Y = Y.to(marginals.device).bool()
    default = default.to(marginals.device).bool()
    if rule == "plug-in":
        micro = plug_in_thresholds(marginals, "micro")
        macro = plug_in_thresholds(marginals, "macro").to(marginals.device)
    else:
        micro = fit_thresholds(marginals, Y, "micro")
        macro = fit_thresholds(marginals, Y, "macro").to(marginals.device)
        n_pos = Y.sum(dim=0).double()
        shared = micro.to(marginals)
        if shrinkage > 0:
            macro = (n_pos * macro + shrinkage * shared) / (n_pos + shrinkage)
        # a label without a positive row: the shared threshold, not 1/2
        macro = torch.where(n_pos > 0, macro, shared)
    if guard is not None:
        pred = apply_thresholds(marginals, micro, default, allow_empty)
        better = _f1_micro(pred, Y) > _f1_micro(default, Y)
        if not (better and bool(_significant(pred, default, Y, guard))):
            micro = torch.full_like(micro, math.nan)
        pred = apply_thresholds(marginals, macro, default, allow_empty)
        better = _f1_columns(pred, Y) > _f1_columns(default, Y)
        keep = better & _significant(pred, default, Y, guard, dim=0)
        macro = macro.masked_fill(~keep, math.nan)
    return {"f1_micro": micro.cpu(), "f1_macro": macro.cpu()}
