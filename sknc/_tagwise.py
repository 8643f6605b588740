r"""The tag-wise-average model, shared by the ONN decoder and the NC metrics.

Under the PAL loss, the mean feature of the samples with label set ``S`` is a
scaled average of its labels' means around a centre ``o``:

.. math::

    \mu_S - o \approx \rho_{|S|} \, \frac{1}{|S|} \sum_{k \in S} (\mu_k - o).

:class:`LabelSetSums` streams the per-set counts and feature sums this model
is fitted from; :func:`fit_rho` fits :math:`\rho_m` per multiplicity by least
squares; :func:`tagwise_average` gives the model's prediction of a set's mean.
:func:`fit_label_means` fits the label means themselves, with the
:math:`\rho_m`, from every label set (for data with few single-label rows),
and :func:`tagwise_r2` says how much of the spread of the set means the model
explains.

Every function takes optional label ``weights``: the *frequency-weighted*
variant of the model, in which a set's mean is the average of its labels'
means weighted by :math:`w_k` (the labels' frequencies),
:math:`\sum_{k \in S} w_k (\mu_k - o) / \sum_{k \in S} w_k`.
"""

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import minimize

__all__ = [
    "LabelSetSums",
    "TagwiseFit",
    "fit_label_means",
    "fit_rho",
    "tagwise_average",
    "tagwise_r2",
]

# Bits per int64 word of a label-set key (62 keeps every key positive).
_KEY_BITS = 62
# Elements of the float64 membership matrix handled at once by fit_rho.
_BATCH_ELEMENTS = 2**21


def _unique_rows(keys):
    """Return ``(unique, inverse)`` of the rows of an ``(n, W)`` int64 key matrix.

    One 1-D ``torch.unique`` per word: faster than ``unique(dim=0)``, and the
    unique rows come out in lexicographic order of their words.
    """
    _, inverse = torch.unique(keys[:, 0], return_inverse=True)
    for w in range(1, keys.shape[1]):
        _, word = torch.unique(keys[:, w], return_inverse=True)
        _, inverse = torch.unique(
            inverse * (int(word.max()) + 1) + word, return_inverse=True
        )
    n_unique = int(inverse.max()) + 1 if len(inverse) else 0
    unique = keys.new_zeros(n_unique, keys.shape[1])
    unique[inverse] = keys  # duplicates write equal rows
    return unique, inverse


class LabelSetSums:
    """Running count and float64 feature sum of each distinct label set.

    Label sets are keyed by bit words (one int64 per 62 labels), so thousands
    of labels and tens of thousands of sets are handled without a Python
    loop over rows or sets.

    Parameters
    ----------
    n_labels : int
        Number of columns ``K`` of the indicators passed to :meth:`update`.
    device : torch.device or str or None, default=None
        Where the sums are kept (float64); None keeps them on the device of
        the first batch. Apple ``mps`` has no float64: pass ``'cpu'``.
    scatter : bool, default=False
        Also accumulate the within-set scatter matrix (``d x d``), read with
        :attr:`within_scatter`.

    Attributes
    ----------
    keys : torch.Tensor of shape (n_sets, n_words), dtype int64
        The sets' keys, in order of first appearance.
    counts : torch.Tensor of shape (n_sets,), dtype int64
        Rows with each set.
    sums : torch.Tensor of shape (n_sets, d), dtype float64
        Feature sum of each set's rows.
    """

    def __init__(self, n_labels, device=None, scatter=False):
        self.n_labels = int(n_labels)
        self.device = device
        self.scatter = scatter
        self.keys = self.counts = self.sums = None
        self.dtype = None
        # within-batch scatter and the batches' sum of n m m^T (float64)
        self._scatter = self._outer = None

    def _keys(self, Y):
        K = self.n_labels
        words = []
        for start in range(0, K, _KEY_BITS):
            stop = min(start + _KEY_BITS, K)
            weights = 2 ** torch.arange(stop - start, device=Y.device)
            words.append((Y[:, start:stop].long() * weights).sum(dim=1))
        return torch.stack(words, dim=1)

    def update(self, R, Y):
        """Add rows: features ``R`` ``(n, d)`` with 0/1 label sets ``Y`` ``(n, K)``.

        Parameters
        ----------
        R : torch.Tensor of shape (n, d)
            Features (any floating dtype, any device).
        Y : torch.Tensor of shape (n, K)
            0/1 or boolean label sets of the rows.

        Returns
        -------
        self : LabelSetSums
            The accumulator.
        """
        if Y.shape[1] != self.n_labels:
            raise ValueError(
                f"Y has {Y.shape[1]} labels but these sums were started with "
                f"{self.n_labels}."
            )
        if self.sums is None:
            self.dtype = R.dtype
            if self.device is None:
                self.device = R.device
        if not len(R):
            return self
        batch_keys, inverse = _unique_rows(self._keys(Y.to(R.device)))
        device = self.device
        batch_sums = torch.zeros(
            len(batch_keys), R.shape[1], dtype=torch.float64, device=R.device
        )
        batch_sums.index_add_(0, inverse, R.double())
        batch_counts = torch.bincount(inverse, minlength=len(batch_keys))
        if self.scatter:
            self._add_scatter(R, inverse, batch_sums, batch_counts)
        batch_keys = batch_keys.to(device)
        batch_sums, batch_counts = batch_sums.to(device), batch_counts.to(device)
        if self.sums is None:
            self.keys, self.counts, self.sums = batch_keys, batch_counts, batch_sums
            return self
        # merge: sets seen before keep their index, new ones are appended
        both, where = _unique_rows(torch.cat([self.keys, batch_keys]))
        n_old = len(self.keys)
        old_slot = torch.full((len(both),), -1, dtype=torch.long, device=device)
        old_slot[where[:n_old]] = torch.arange(n_old, device=device)
        slot = old_slot[where[n_old:]]
        new = slot < 0
        if new.any():
            fresh = torch.unique(where[n_old:][new])
            old_slot[fresh] = n_old + torch.arange(len(fresh), device=device)
            slot = old_slot[where[n_old:]]
            self.keys = torch.cat([self.keys, both[fresh]])
            self.counts = torch.cat([self.counts, self.counts.new_zeros(len(fresh))])
            self.sums = torch.cat(
                [self.sums, self.sums.new_zeros(len(fresh), R.shape[1])]
            )
        self.counts.index_add_(0, slot, batch_counts)
        self.sums.index_add_(0, slot, batch_sums)
        return self

    def _add_scatter(self, R, inverse, batch_sums, batch_counts):
        """Add the scatter of the rows around their set's mean in this batch.

        The residuals are small, so their product keeps the working
        precision of ``R``; the batches are then merged in float64 through
        the sum of ``n m m^T`` of the batch means (see :attr:`within_scatter`).
        """
        f64 = torch.float64
        n = batch_counts.to(f64)[:, None]
        means = batch_sums / n
        resid = R - means.to(R.dtype)[inverse]
        # the rounding of the means to R's precision, removed in float64
        shift = torch.zeros_like(batch_sums).index_add_(0, inverse, resid.to(f64)) / n
        scatter = (resid.T @ resid).to(f64) - (shift * n).T @ shift
        root = means * n.sqrt()
        outer = root.T @ root
        device = self.device
        scatter, outer = scatter.to(device), outer.to(device)
        if self._scatter is None:
            self._scatter, self._outer = scatter, outer
        else:
            self._scatter += scatter
            self._outer += outer

    @property
    def within_scatter(self):
        r"""Within-set scatter :math:`\sum_S \sum_{i \in S} (h_i - m_S)(h_i - m_S)^T`.

        float64 ``(d, d)``; needs ``scatter=True``. None before any row.
        """
        if not self.scatter:
            raise ValueError("within_scatter needs LabelSetSums(..., scatter=True).")
        if self._scatter is None:
            return None
        root = self.means * self.counts.double().sqrt()[:, None]
        return self._scatter + (self._outer - root.T @ root)

    @property
    def sets(self):
        """The sets as a boolean ``(n_sets, K)`` indicator."""
        if self.keys is None:
            return torch.zeros(0, self.n_labels, dtype=torch.bool)
        columns = []
        for w in range(self.keys.shape[1]):
            bits = min(_KEY_BITS, self.n_labels - w * _KEY_BITS)
            shifts = torch.arange(bits, device=self.keys.device)
            columns.append((self.keys[:, w : w + 1] >> shifts) & 1)
        return torch.cat(columns, dim=1).bool()

    @property
    def labels(self):
        """The sets as sorted tuples of label indices, in the order of ``keys``."""
        if self.keys is None:
            return []
        out = []
        for key in self.keys.tolist():
            labels = []
            for w, value in enumerate(key):
                while value:
                    low = value & -value  # lowest set bit
                    labels.append(w * _KEY_BITS + low.bit_length() - 1)
                    value ^= low
            out.append(tuple(labels))
        return out

    @property
    def means(self):
        """Mean feature of each set, float64 ``(n_sets, d)``."""
        return self.sums / self.counts[:, None].double()


def _set_weights(members, weights):
    """Per-set label weights: the 0/1 memberships, or times ``weights``."""
    if weights is None:
        return members
    return members * weights.to(members)


def tagwise_average(members, label_offsets, weights=None):
    r"""Return each set's tag-wise average :math:`a_S`.

    :math:`a_S = \frac{1}{|S|}\sum_{k \in S} (\mu_k - o)`, or with label
    weights :math:`a_S = \sum_{k \in S} w_k (\mu_k - o) / \sum_{k \in S} w_k`.

    Parameters
    ----------
    members : torch.Tensor of shape (n_sets, K), bool
        The label sets (rows with at least one label).
    label_offsets : torch.Tensor of shape (K, d)
        :math:`\mu_k - o` per label.
    weights : torch.Tensor of shape (K,) or None, default=None
        Positive label weights (e.g. the labels' frequencies); None weights
        every label the same.

    Returns
    -------
    average : torch.Tensor of shape (n_sets, d)
        The tag-wise averages, in the dtype of ``label_offsets``.
    """
    coefficients = _set_weights(members.to(label_offsets), weights)
    sizes = coefficients.sum(dim=1, keepdim=True)
    sizes = torch.where(sizes > 0, sizes, torch.ones_like(sizes))
    return (coefficients @ label_offsets) / sizes


def fit_rho(members, set_offsets, label_offsets, tol=0.0, weights=None):
    r"""Least-squares :math:`\rho_m` per multiplicity ``m >= 2``.

    .. math::

        \rho_m = \frac{\sum_{|S|=m} \langle c_S, a_S \rangle}
                      {\sum_{|S|=m} \|a_S\|^2},
        \qquad c_S = \mu_S - o, \quad
        a_S = \frac{1}{m}\sum_{k \in S} (\mu_k - o),

    each observed set counting once.

    Parameters
    ----------
    members : torch.Tensor of shape (n_sets, K), bool
        The observed label sets; those of fewer than two labels are ignored.
    set_offsets : torch.Tensor of shape (n_sets, d)
        :math:`c_S`, each set's mean minus the centre.
    label_offsets : torch.Tensor of shape (K, d)
        :math:`\mu_k - o`; a set containing a label whose row is NaN (no
        label mean) is left out.
    tol : float, default=0.0
        A multiplicity whose mean :math:`\|a_S\|^2` is at most ``tol`` gets
        NaN (its averages are all zero, e.g. every label around the centre).
    weights : torch.Tensor of shape (K,) or None, default=None
        Label weights of the frequency-weighted average (see
        :func:`tagwise_average`); None: the plain average.

    Returns
    -------
    rho : dict of int to float
        :math:`\rho_m` per multiplicity with a usable set, sorted by ``m``.
    """
    members = members.bool()
    usable_label = ~label_offsets.isnan().any(dim=1)
    sizes = members.sum(dim=1)
    usable = (sizes >= 2) & ~(members & ~usable_label).any(dim=1)
    offsets = label_offsets.nan_to_num()
    rho = {}
    # rows per batch, so that the float64 copy of the memberships stays small
    step = max(1, _BATCH_ELEMENTS // max(members.shape[1], 1))
    for m in torch.unique(sizes[usable]).tolist():
        rows = torch.nonzero(usable & (sizes == m))[:, 0]
        numer = denom = 0.0
        for start in range(0, len(rows), step):
            batch = rows[start : start + step]
            a = tagwise_average(members[batch], offsets, weights)
            c = set_offsets[batch].to(a)
            numer += float((a * c).sum())
            denom += float((a * a).sum())
        if denom > tol * len(rows) and denom > 0:
            rho[int(m)] = numer / denom
        else:
            rho[int(m)] = math.nan
    return rho


def tagwise_r2(members, set_offsets, label_offsets, rho, weights=None):
    r"""Share of the spread of the set means that the tag-wise model explains.

    Per multiplicity ``m >= 2``, over the observed sets of that size (each
    counting once, as in :func:`fit_rho`):

    .. math::

        R^2_m = 1 - \frac{\sum_{|S|=m} \|c_S - \rho_m a_S\|^2}
                         {\sum_{|S|=m} \|c_S - \bar c_m\|^2},

    with :math:`\bar c_m` the mean of the :math:`c_S`. 1 when every set mean
    is its prediction; 0 when the model does no better than one point per
    multiplicity; negative when it does worse.

    Parameters
    ----------
    members, set_offsets, label_offsets, weights
        As in :func:`fit_rho`.
    rho : dict of int to float
        :math:`\rho_m` per multiplicity (e.g. from :func:`fit_rho`); a
        multiplicity without a finite one is skipped.

    Returns
    -------
    r2 : dict of int to float
        :math:`R^2_m` per multiplicity (NaN when all its set means are
        equal).
    overall : float
        The same ratio over every multiplicity (residuals and spreads
        summed over the sizes, each around its own :math:`\bar c_m`); NaN
        when there is none.
    """
    members = members.bool()
    usable_label = ~label_offsets.isnan().any(dim=1)
    sizes = members.sum(dim=1)
    usable = (sizes >= 2) & ~(members & ~usable_label).any(dim=1)
    offsets = label_offsets.nan_to_num()
    r2, total_res, total_spread = {}, 0.0, 0.0
    for m in torch.unique(sizes[usable]).tolist():
        if not math.isfinite(rho.get(int(m), math.nan)):
            continue
        rows = torch.nonzero(usable & (sizes == m))[:, 0]
        c = set_offsets[rows].to(offsets)
        a = tagwise_average(members[rows], offsets, weights)
        residual = float(((c - rho[int(m)] * a) ** 2).sum())
        spread = float(((c - c.mean(dim=0)) ** 2).sum())
        r2[int(m)] = 1.0 - residual / spread if spread > 0 else math.nan
        total_res += residual
        total_spread += spread
    overall = 1.0 - total_res / total_spread if total_spread > 0 else math.nan
    return r2, overall


@dataclass
class TagwiseFit:
    r"""The label means and scales fitted by :func:`fit_label_means`.

    Attributes
    ----------
    label_means : torch.Tensor of shape (K, d)
        :math:`\mu_k`, float64; NaN rows for the labels in no set.
    center : torch.Tensor of shape (d,)
        :math:`o`, the mean of the label means.
    rho : dict of int to float
        :math:`\rho_m` per multiplicity ``m >= 2`` of the fit (rows
        weighted); NaN for a multiplicity whose averages are all at the
        centre.
    anchor : int
        The multiplicity whose scale is fixed to 1: 1 (the single-label
        rows) when there are any, else the smallest multiplicity.
    rank : int
        Rank of the least-squares problem of the means (the number of labels
        with a mean when every one is identified).
    n_iter : int
        Newton steps taken.
    converged : bool
        Whether the gradient fell below the tolerance.
    """

    label_means: torch.Tensor
    center: torch.Tensor
    rho: dict
    anchor: int
    rank: int
    n_iter: int
    converged: bool


def fit_label_means(members, means, counts, weights=None, *, max_iter=200, tol=1e-13):
    r"""Fit the label means and :math:`\rho_m` to every label set's mean.

    The tag-wise-average model, centred at the mean of the label means
    :math:`o = \frac{1}{K}\sum_k \mu_k`, predicts the mean of set ``S``

    .. math::

        \hat\mu_S = o + \rho_{|S|} \, a_S(\mu), \qquad \rho_1 = 1,

    with :math:`a_S` the (plain or frequency-weighted) tag-wise average of
    :func:`tagwise_average`. The means :math:`\mu_k` and the scales
    :math:`\rho_m` minimise the squared error over the rows,
    :math:`\sum_S n_S \|\bar h_S - \hat\mu_S\|^2` (:math:`\bar h_S` the mean
    of the :math:`n_S` rows of set ``S``). For fixed scales the means solve
    one ``K x K`` linear system (per feature); the scales, a handful of
    numbers, are found by Newton's method on what is left (variable
    projection), from :math:`\rho_m = 1`. Single-label rows fix the scale
    (:math:`\rho_1 = 1`); without any, the means are scaled so that the
    smallest multiplicity has :math:`\rho = 1`. On data that follow the
    model exactly, with single-label rows for every label, the fit returns
    those rows' means.

    Parameters
    ----------
    members : torch.Tensor of shape (n_sets, K), bool
        The distinct label sets; empty ones are ignored.
    means : torch.Tensor of shape (n_sets, d)
        Each set's mean feature.
    counts : torch.Tensor of shape (n_sets,)
        Rows of each set, the weights of the least squares.
    weights : torch.Tensor of shape (K,) or None, default=None
        Label weights of the frequency-weighted average; None: plain.
    max_iter : int, default=200
        Most Newton steps.
    tol : float, default=1e-13
        Stop when the gradient of the squared error with respect to the
        scales, relative to the total sum of squares, is below ``tol``.

    Returns
    -------
    fit : TagwiseFit
        The means, the centre, the scales and how the fit went.
    """
    f64 = torch.float64
    members = members.bool()
    sizes = members.sum(dim=1)
    keep = sizes > 0
    members, sizes = members[keep], sizes[keep]
    means, counts = means[keep].to(f64), counts[keep].to(f64)
    K, d = members.shape[1], means.shape[1]
    device = means.device
    present = members.any(dim=0)
    labels = torch.nonzero(present)[:, 0]
    Kp = len(labels)
    label_means = torch.full((K, d), math.nan, dtype=f64, device=device)
    if Kp == 0:
        return TagwiseFit(label_means, label_means[0], {}, 1, 0, 0, True)
    w = None if weights is None else weights.to(device=device, dtype=f64)[labels]
    # the model moves with a translation of the data: fit centred data
    shift = (counts @ means) / counts.sum()
    means = means - shift
    # Sufficient statistics per multiplicity, with A the (n_m, Kp) average
    # coefficients: G = A^T N A, g = A^T n, s = sum n, R = A^T N means,
    # r = sum n means.
    stats = {}
    step = max(1, _BATCH_ELEMENTS // max(Kp, d, 1))
    for m in torch.unique(sizes).tolist():
        rows = torch.nonzero(sizes == m)[:, 0]
        G = torch.zeros(Kp, Kp, dtype=f64, device=device)
        g = torch.zeros(Kp, dtype=f64, device=device)
        R = torch.zeros(Kp, d, dtype=f64, device=device)
        r = torch.zeros(d, dtype=f64, device=device)
        for start in range(0, len(rows), step):
            batch = rows[start : start + step]
            A = _set_weights(members[batch][:, labels].to(f64), w)
            A = A / A.sum(dim=1, keepdim=True)
            n = counts[batch]
            G += A.T @ (n[:, None] * A)
            g += A.T @ n
            R += A.T @ (n[:, None] * means[batch])
            r += n @ means[batch]
        stats[int(m)] = (G, g, counts[rows].sum(), R, r)
    sizes_seen = sorted(stats)
    anchor = 1 if 1 in stats else sizes_seen[0]
    free = [m for m in sizes_seen if m != anchor]
    # stacked per multiplicity, in the order of sizes_seen
    G, g, s, R, r = (
        torch.stack([torch.as_tensor(stats[m][i], device=device) for m in sizes_seen])
        for i in range(5)
    )
    is_free = torch.tensor([m != anchor for m in sizes_seen], device=device)
    total = float((means**2).sum(dim=1) @ counts)
    norm = 1.0 / total if total > 0 else 1.0

    def scales(x):
        rho = torch.ones(len(sizes_seen), dtype=f64, device=device)
        rho[is_free] = torch.as_tensor(x, dtype=f64, device=device)
        return rho, (1.0 - rho) / Kp

    # The prediction of set S is C_S M, with C_S = rho A_S + (1 - rho)/Kp 1^T
    # (o = mean of the rows of M): linear in M for fixed scales.
    def solve(x):
        """Solve the means for fixed scales."""
        p, q = scales(x)
        a = (p * q) @ g
        gram = torch.einsum("m,mkl->kl", p * p, G) + (a[:, None] + a[None, :])
        gram += float((q * q) @ s)
        rhs = torch.einsum("m,mkd->kd", p, R) + (q @ r)[None, :]
        evals, evecs = torch.linalg.eigh(gram)
        # structurally singular directions (labels that always occur in the
        # same combinations) sit at rounding level, far below this cutoff
        good = evals > evals[-1] * 1e-12
        V, lam = evecs[:, good], evals[good]
        M = V @ ((V.T @ rhs) / lam[:, None])
        return M, rhs, V, lam

    cache = {}

    def derivatives(x):
        # Variable projection: the means are solved for and the scales
        # optimised. By the envelope theorem the gradient is that at fixed
        # means; the Hessian adds the coupling through the means.
        key = tuple(np.asarray(x).tolist())
        if key in cache:
            return cache[key]
        p, q = scales(x)
        M, rhs, V, lam = solve(x)
        value = total - float((M * rhs).sum())
        colsum = M.sum(dim=0)
        GM = torch.einsum("mkl,ld->mkd", G, M)
        gM = g @ M  # (nm, d)
        sq = float(colsum @ colsum)
        g_col = gM @ colsum
        grad = (
            2 * p * torch.einsum("mkd,kd->m", GM, M)
            + 2 * (q - p / Kp) * g_col
            - 2 * q / Kp * s * sq
            - 2 * (torch.einsum("mkd,kd->m", R, M) - (r @ colsum) / Kp)
        )
        curvature = 2 * torch.einsum("mkd,kd->m", GM, M) - 4 / Kp * g_col
        curvature += 2 * s / Kp**2 * sq
        # d/dM of each gradient entry, (nm, Kp, d)
        B = 2 * (
            2 * p[:, None, None] * GM
            + (q - p / Kp)[:, None, None] * (g[:, :, None] * colsum + gM[:, None, :])
            - (2 * q * s / Kp)[:, None, None] * colsum
            - (R - r[:, None, :] / Kp)
        )
        Bt = torch.einsum("kr,mkd->mrd", V, B) / lam.sqrt()[None, :, None]
        hess = torch.diag(curvature) - 0.5 * torch.einsum("mrd,nrd->mn", Bt, Bt)
        free_rows = is_free.nonzero()[:, 0]
        out = (
            value * norm,
            grad[free_rows].cpu().numpy() * norm,
            hess[free_rows][:, free_rows].cpu().numpy() * norm,
        )
        cache.clear()
        cache[key] = out
        return out

    x = np.ones(len(free))
    n_iter, converged = 0, True
    if free:
        result = minimize(
            lambda x: derivatives(x)[0],
            x,
            jac=lambda x: derivatives(x)[1],
            hess=lambda x: derivatives(x)[2],
            method="trust-exact",
            options={"gtol": tol, "maxiter": max_iter},
        )
        x, n_iter = result.x, int(result.nit)
        # The value loses precision as the residual vanishes (a difference
        # of large sums) and can stop the trust region early; the gradient
        # keeps it: finish with Newton steps while they shrink the gradient.
        _, grad, hess = derivatives(x)
        while np.abs(grad).max() > tol and n_iter < max_iter:
            step = np.linalg.lstsq(hess, grad, rcond=None)[0]
            _, new_grad, new_hess = derivatives(x - step)
            if not np.abs(new_grad).max() < np.abs(grad).max():
                break
            x, grad, hess, n_iter = x - step, new_grad, new_hess, n_iter + 1
        converged = bool(result.success) or bool(np.abs(grad).max() <= 1e3 * tol)
    rho = {anchor: 1.0, **dict(zip(free, x.tolist(), strict=True))}
    M, _, V, _ = solve(x)
    rank = V.shape[1]
    M = M + shift
    center = M.mean(dim=0)
    U = M - center
    gram_U = U @ U.T
    level = float(gram_U.diagonal().mean()) * 1e-12
    # a multiplicity whose averages all sit at the centre has no scale
    undefined = {
        m
        for i, m in enumerate(sizes_seen)
        if m != anchor and float((G[i] * gram_U).sum()) <= level * float(s[i])
    }
    label_means[labels] = M
    fitted = {
        m: (math.nan if m in undefined else value) for m, value in rho.items() if m >= 2
    }
    return TagwiseFit(label_means, center, fitted, anchor, rank, n_iter, converged)
