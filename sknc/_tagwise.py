r"""The tag-wise-average model, shared by the ONN decoder and the NC metrics.

Under the PAL loss, the mean feature of the samples with label set ``S`` is a
scaled average of its labels' means around a centre ``o``:

.. math::

    \mu_S - o \approx \rho_{|S|} \, \frac{1}{|S|} \sum_{k \in S} (\mu_k - o).

:class:`LabelSetSums` streams the per-set counts and feature sums this model
is fitted from; :func:`fit_rho` fits :math:`\rho_m` per multiplicity by least
squares; :func:`tagwise_average` gives the model's prediction of a set's mean.
"""

import math

import torch

__all__ = ["LabelSetSums", "fit_rho", "tagwise_average"]

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

    Attributes
    ----------
    keys : torch.Tensor of shape (n_sets, n_words), dtype int64
        The sets' keys, in order of first appearance.
    counts : torch.Tensor of shape (n_sets,), dtype int64
        Rows with each set.
    sums : torch.Tensor of shape (n_sets, d), dtype float64
        Feature sum of each set's rows.
    """

    def __init__(self, n_labels, device=None):
        self.n_labels = int(n_labels)
        self.device = device
        self.keys = self.counts = self.sums = None
        self.dtype = None

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


def tagwise_average(members, label_offsets):
    r"""Return each set's tag-wise average :math:`a_S`.

    :math:`a_S = \frac{1}{|S|}\sum_{k \in S} (\mu_k - o)`.

    Parameters
    ----------
    members : torch.Tensor of shape (n_sets, K), bool
        The label sets (rows with at least one label).
    label_offsets : torch.Tensor of shape (K, d)
        :math:`\mu_k - o` per label.

    Returns
    -------
    average : torch.Tensor of shape (n_sets, d)
        The tag-wise averages, in the dtype of ``label_offsets``.
    """
    members = members.to(label_offsets)
    sizes = members.sum(dim=1, keepdim=True).clamp(min=1)
    return (members @ label_offsets) / sizes


def fit_rho(members, set_offsets, label_offsets, tol=0.0):
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
            a = tagwise_average(members[batch], offsets)
            c = set_offsets[batch].to(a)
            numer += float((a * c).sum())
            denom += float((a * a).sum())
        if denom > tol * len(rows) and denom > 0:
            rho[int(m)] = numer / denom
        else:
            rho[int(m)] = math.nan
    return rho
