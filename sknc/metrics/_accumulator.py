"""Streamed sufficient statistics of the neural-collapse metrics.

:class:`NCAccumulator` reads ``(H, Y)`` chunk by chunk into per-label sums of
the multiplicity-1 rows and per-label-set sums of the other rows;
:meth:`NCAccumulator.summary` turns them into a :class:`Summary` (class
means, within-class covariance, label-set means) that the kernels of
:mod:`sknc.metrics._kernels` measure, with the label means estimated as
chosen by :func:`sknc.metrics._label_means.estimate_label_means`.
"""

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import torch

from .._docstring import Substitution, metric_params
from .._tagwise import LabelSetSums
from ._checks import (
    accumulation_device,
    check_features,
    check_labels,
    compute_dtype,
    default_chunk_size,
    device_of,
    raise_non_finite,
    take_rows,
)
from ._label_means import estimate_label_means

__all__ = ["NCAccumulator", "Summary", "accumulate"]


@dataclass
class Summary:
    """Class means, within-class covariance and label-set means.

    Every tensor is float64 on the device where the sums were kept (that of
    ``H``, or the CPU for Apple ``mps``). ``mu``, ``mu_G``, ``sigma_W``,
    ``labels_used`` and ``missing`` are those of the estimator of the label
    means named by ``label_means``; ``mult1_counts``, ``mult1_means`` and
    ``set_scatter`` are the raw statistics it is chosen from.
    """

    n_labels: int
    n_features: int
    n_samples: int
    n_unlabeled: int
    multiplicity_counts: dict
    labels_used: torch.Tensor  # (K',) indices of labels with a class mean
    missing: list  # labels without a multiplicity-1 sample
    n_mult1: int
    mu: torch.Tensor  # (K', d) class means
    mu_G: torch.Tensor  # (d,) mean of the class means
    sigma_W: torch.Tensor  # (d, d) within-class covariance
    set_labels: list  # label tuples of the sets with |S| >= 2, by size then labels
    set_means: torch.Tensor  # (n_sets, d)
    set_counts: torch.Tensor  # (n_sets,)
    messages: list  # warnings shared by all metrics
    eps: float  # machine epsilon of the working precision of H
    mult1_counts: torch.Tensor = None  # (K,) multiplicity-1 rows per label
    mult1_means: torch.Tensor = None  # (K', d) their means (labels_used of singletons)
    set_scatter: torch.Tensor = None  # (d, d) within-set scatter of |S| >= 2, or None
    label_means: str = "singletons"  # the estimator of mu in use
    weighting: str = "uniform"  # the average of the tag-wise model
    label_weights: torch.Tensor = None  # (K',) weights of labels_used, or None
    n_mean_rows: int = 0  # rows the label means were estimated from
    n_within: int = 0  # rows behind sigma_W (0: undefined)
    fit: dict = field(default_factory=dict)  # how a least-squares fit went

    @cached_property
    def sets_by_size(self):
        """The label sets whose labels all have a class mean, by size.

        Returns
        -------
        groups : dict
            ``m -> (rows, positions)``, in increasing ``m``: the indices of
            the sets of size ``m`` in ``set_labels`` (int64 ``(n_m,)``) and
            the positions of their labels among ``labels_used`` (int64
            ``(n_m, m)``).
        n_skipped : int
            Sets left out because one of their labels has no class mean.
        """
        device = self.mu.device
        position = np.full(self.n_labels, -1)
        position[self.labels_used.cpu().numpy()] = np.arange(len(self.labels_used))
        by_size = {}  # sets are sorted by size, so the keys are too
        n_skipped = 0
        for i, labels in enumerate(self.set_labels):
            pos = position[list(labels)]
            if (pos < 0).any():
                n_skipped += 1
                continue
            rows, positions = by_size.setdefault(len(labels), ([], []))
            rows.append(i)
            positions.append(pos)
        groups = {
            m: (
                torch.tensor(rows, dtype=torch.int64, device=device),
                torch.as_tensor(np.array(positions), device=device),
            )
            for m, (rows, positions) in by_size.items()
        }
        return groups, n_skipped


class NCAccumulator:
    """Stream ``(H, Y)`` chunks into the sufficient statistics of the metrics.

    Holds, for the multiplicity-1 rows, per-label counts and sums and the sum
    of outer products, and for the rows with two or more labels, per-label-set
    counts and sums (a :class:`~sknc._tagwise.LabelSetSums`). Memory is
    ``O(K d + d^2 + n_sets d)``; ``update`` can be called any number of
    times (an epoch callback feeds it batch by batch) and :meth:`summary`
    then gives the means and the within-class covariance.

    Numerics: each multiplicity-1 row is shifted by a fixed reference point of
    its label (the mean of that label's rows in the first chunk that has
    any), so the scatter matrix accumulates small residuals. The product of a
    chunk is computed in the working precision of ``H`` (float32 for float32
    input) and added to float64 totals; the shift keeps the float32 rounding
    relative to the within-class spread rather than to the norm of the
    features, which matters for collapsed, uncentred (e.g. post-ReLU)
    features. The label-set sums are float64 throughout.

    Parameters
    ----------
    n_labels : int
        Number of columns ``K`` of ``Y``; at least 2.
    chunk_size : int or None, default=None
        Rows per chunk inside :meth:`update`; ``None`` picks about 4M
        elements per chunk (8192 rows for 512 features).
    set_scatter : bool, default=True
        Also accumulate the scatter of the rows with two or more labels
        around their set's mean, which NC1 needs with label means fitted to
        all rows (``label_means='all_rows'``, or ``'auto'`` on data without
        enough multiplicity-1 rows). It costs as much again as the scatter
        of the multiplicity-1 rows; leave it out for ``'singletons'``.
    """

    def __init__(self, n_labels, chunk_size=None, set_scatter=True):
        self.n_labels = n_labels
        self.chunk_size = chunk_size
        self.set_scatter = set_scatter
        self.n_features = None

    def _start(self, n_features, device, dtype):
        K, d = self.n_labels, n_features
        sum_device = accumulation_device(device)
        self.n_features = d
        self.device = device
        self.dtype = dtype
        self.sum_device = sum_device
        self.n_samples = 0
        self.mult_counts = torch.zeros(K + 1, dtype=torch.int64, device=device)
        self.counts = torch.zeros(K, dtype=torch.int64, device=device)
        self.ref = torch.zeros(K, d, dtype=dtype, device=device)
        self.has_ref = torch.zeros(K, dtype=torch.bool, device=device)
        self.resid_sum = torch.zeros(K, d, dtype=torch.float64, device=sum_device)
        self.scatter = torch.zeros(d, d, dtype=torch.float64, device=sum_device)
        self.label_sets = LabelSetSums(K, device=sum_device, scatter=self.set_scatter)

    def update(self, H, Y):
        """Add the rows of ``H`` (features) and ``Y`` (0/1 indicator).

        Parameters
        ----------
        H : array-like or torch.Tensor of shape (n_samples, n_features)
            Features.
        Y : array-like, sparse matrix or torch.Tensor of shape (n_samples, n_labels)
            0/1 label indicator.

        Returns
        -------
        self : NCAccumulator
            The accumulator.
        """
        H = check_features(H)
        Y = check_labels(Y, H.shape[0])
        if Y.shape[1] != self.n_labels:
            raise ValueError(
                f"Y has {Y.shape[1]} labels (columns) but this accumulator "
                f"was built for {self.n_labels}."
            )
        return self._stream(H, Y)

    def _stream(self, H, Y):
        """:meth:`update` of a checked ``H`` and ``Y``."""
        if self.n_features is None:
            self._start(H.shape[1], device_of(H), compute_dtype(H))
        elif H.shape[1] != self.n_features:
            raise ValueError(
                f"H has {H.shape[1]} features but earlier chunks had {self.n_features}."
            )
        n = H.shape[0]
        step = self.chunk_size or default_chunk_size(self.n_features)
        with torch.no_grad():
            for start in range(0, n, step):
                stop = min(start + step, n)
                Hc = take_rows(H, start, stop, self.device, self.dtype)
                Yc = take_rows(Y, start, stop, self.device) != 0
                self._update_chunk(Hc, Yc, self.n_samples + start)
        self.n_samples += n
        return self

    def _update_chunk(self, Hc, Yc, offset):
        K, f64 = self.n_labels, torch.float64
        mult = Yc.sum(dim=1)
        self.mult_counts += torch.bincount(mult, minlength=K + 1)
        rows1 = torch.nonzero(mult == 1)[:, 0]
        rows2 = torch.nonzero(mult >= 2)[:, 0]
        if len(rows1):
            # a copy of the rows, shifted in place by their label's reference
            H1 = Hc[rows1]
            labels = torch.nonzero(Yc[rows1])[:, 1]  # one positive per row
            cnt = torch.bincount(labels, minlength=K)
            new = (cnt > 0) & ~self.has_ref
            if new.any():
                sums = _group_sum(H1, labels, K)
                self.ref[new] = sums[new] / cnt[new].unsqueeze(1).to(sums.dtype)
                self.has_ref |= new
            H1 -= self.ref[labels]
            scatter = H1.T @ H1
            # NaN or inf in a row reaches the diagonal of its product, so
            # this checks these rows without another pass over them.
            if not torch.isfinite(scatter.diagonal()).all():
                raise_non_finite(Hc, offset)
            self.scatter += scatter.to(device=self.sum_device, dtype=f64)
            self.counts += cnt
            resid = _group_sum(H1, labels, K)
            self.resid_sum += resid.to(device=self.sum_device, dtype=f64)
        if len(rows2):
            H2 = Hc[rows2]
            if not torch.isfinite(H2).all():
                raise_non_finite(Hc, offset)
            self.label_sets.update(H2.to(self.sum_device), Yc[rows2])
        if len(rows1) + len(rows2) < len(Hc):  # rows without a label: checked
            if not torch.isfinite(Hc[mult == 0]).all():
                raise_non_finite(Hc, offset)

    @Substitution(**metric_params(indent=8))
    def summary(self, label_means="auto", weighting="uniform"):
        """Means and covariances from the statistics accumulated so far.

        Parameters
        ----------
        {label_means}
        {weighting}

        Returns
        -------
        summary : Summary
            Class means (float64, on the accumulation device), their mean,
            the within-class covariance, the label-set means (sorted by size,
            then by labels) and the warnings shared by every metric.
        """
        if self.n_features is None:
            raise ValueError("No data: call update(H, Y) before summary().")
        device = self.sum_device
        f64 = torch.float64
        counts = self.counts.to(device)
        present = counts > 0
        labels_used = torch.nonzero(present)[:, 0]
        missing = torch.nonzero(~present)[:, 0].tolist()
        n_k = counts[present].to(f64)
        ref = self.ref.to(device=device, dtype=f64)[present]
        shift = self.resid_sum[present] / n_k.unsqueeze(1)  # mu_k - ref_k
        mu = ref + shift
        n1 = int(n_k.sum().item())
        if mu.shape[0]:
            mu_G = mu.mean(dim=0)
            D = shift * n_k.sqrt().unsqueeze(1)
            sigma_W = (self.scatter - D.T @ D) / n1
        else:
            mu_G = torch.zeros(self.n_features, dtype=f64, device=device)
            sigma_W = torch.zeros_like(self.scatter)

        sets = self.label_sets
        set_labels = sets.labels
        order = sorted(
            range(len(set_labels)), key=lambda i: (len(set_labels[i]), set_labels[i])
        )
        if order:
            order_t = torch.tensor(order, dtype=torch.int64, device=device)
            set_counts = sets.counts[order_t]
            set_means = sets.sums[order_t] / set_counts.unsqueeze(1).to(f64)
            set_scatter = sets.within_scatter if self.set_scatter else None
        else:
            set_counts = torch.zeros(0, dtype=torch.int64, device=device)
            set_means = torch.zeros(0, self.n_features, dtype=f64, device=device)
            set_scatter = torch.zeros_like(self.scatter)
        mult = self.mult_counts.tolist()
        raw = Summary(
            n_labels=self.n_labels,
            n_features=self.n_features,
            n_samples=self.n_samples,
            n_unlabeled=mult[0],
            multiplicity_counts={m: c for m, c in enumerate(mult) if c and m},
            labels_used=labels_used,
            missing=missing,
            n_mult1=n1,
            mu=mu,
            mu_G=mu_G,
            sigma_W=sigma_W,
            set_labels=[set_labels[i] for i in order],
            set_means=set_means,
            set_counts=set_counts,
            messages=[],
            eps=torch.finfo(self.dtype).eps,
            mult1_counts=counts,
            mult1_means=mu,
            set_scatter=set_scatter,
            n_mean_rows=n1,
            n_within=n1,
        )
        return estimate_label_means(raw, label_means, weighting)


def _group_sum(src, index, n_groups):
    """Row sums of ``src`` per group: ``out[g] = src[index == g].sum(0)``."""
    out = src.new_zeros(n_groups, src.shape[1])
    return out.index_put_((index,), src, accumulate=True)


def accumulate(H, Y, chunk_size=None, set_scatter=True):
    """Check ``H`` and ``Y`` and stream them into a new :class:`NCAccumulator`.

    Parameters
    ----------
    H : array-like, sparse matrix or torch.Tensor of shape (n_samples, n_features)
        Features.
    Y : array-like, sparse matrix or torch.Tensor of shape (n_samples, n_labels)
        0/1 label indicator, at least 2 labels.
    chunk_size : int or None, default=None
        Rows per chunk; ``None`` picks about 4M elements per chunk.
    set_scatter : bool, default=True
        See :class:`NCAccumulator`.

    Returns
    -------
    accumulator : NCAccumulator
        The filled accumulator; its :meth:`~NCAccumulator.summary` is what
        the metrics measure.
    """
    H = check_features(H)
    Y = check_labels(Y, H.shape[0])
    return NCAccumulator(
        Y.shape[1], chunk_size=chunk_size, set_scatter=set_scatter
    )._stream(H, Y)
