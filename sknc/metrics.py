r"""Neural-collapse metrics for multi-label features.

Measure how far the penultimate features ``H`` (``n x d``) of a trained
network, its 0/1 label indicator ``Y`` (``n x K``) and its linear head ``W``
(``K x d``) are from multi-label neural collapse (M-lab NC). Every metric goes
to 0 under collapse.

Notation (used by every docstring of this module):

- multiplicity of a sample: its number of positive labels ``|S|``;
- :math:`\mu_k`: mean feature of the *multiplicity-1* samples of label ``k``
  (rows of ``Y`` whose only positive is ``k``);
- :math:`\mu_G = \frac{1}{K}\sum_k \mu_k`: the global mean is the mean of the
  class means, not the mean over samples, so that it does not move with the
  class sizes (it is the centre of the simplex under collapse, whatever the
  imbalance);
- :math:`\bar M` (``K x d``): rows :math:`\mu_k - \mu_G`;
- :math:`\mu_S`: mean feature of the samples whose label set is exactly ``S``;
- :math:`E = (I_K - \mathbf{1}\mathbf{1}^T/K)/\sqrt{K-1}`: the normalised
  Gram matrix of a simplex equiangular tight frame (ETF);
- :math:`O = I_K/\sqrt{K}`: the normalised Gram matrix of an orthogonal
  frame (``K`` mutually orthogonal vectors of equal norm), the geometry of
  the *uncentred* class means when the features are non-negative (after a
  ReLU); see ``geometry`` in :func:`nc2_means`.

Conventions shared by all functions:

- ``H`` and ``W`` may be NumPy arrays or torch tensors on any device; the
  work runs with torch on the device of ``H`` (NumPy input runs on the CPU).
  ``Y`` may also be a SciPy sparse matrix. Results are Python floats.
- The data are streamed in row chunks; besides the inputs, memory stays
  :math:`O(Kd + d^2)` plus :math:`O(d)` per distinct label set, and chunk
  results are accumulated in float64 (on the CPU for Apple ``mps`` tensors,
  which have no float64).
- Rows of ``Y`` without any positive label are ignored (and counted in the
  report).
- A label without any multiplicity-1 sample has no class mean. The metrics
  are then computed over the other labels (``K`` becomes the number of labels
  that have one) and a :class:`NeuralCollapseWarning` names the missing
  labels; label sets that contain a missing label are left out of ``ncm`` and
  ``rho``.
- A quantity that is undefined on the data given (fewer than two usable
  labels, class means that coincide, no label set with two or more labels,
  ...) is returned as NaN with a :class:`NeuralCollapseWarning` saying why.
  Input errors raise a ``ValueError`` that names the problem and the fix.
"""

import itertools
import math
import numbers
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

__all__ = [
    "NeuralCollapseWarning",
    "nc1",
    "nc2",
    "nc2_means",
    "nc3",
    "ncm",
    "rho",
    "neural_collapse_report",
    "label_report",
    "label_report_from_estimator",
]

# Bits per int64 word of a label-set key (62 keeps every key positive).
_KEY_BITS = 62
# Elements (not bytes) in one row chunk when chunk_size is None: 16 MiB of
# float32 features per chunk.
_CHUNK_ELEMENTS = 2**22
# Elements per batch in the per-label-set computations of ncm.
_BATCH_ELEMENTS = 2**21
# Relative size under which a tag-wise direction counts as zero.
_DEGENERATE_RTOL = 1e-4


class NeuralCollapseWarning(UserWarning):
    """Warning for a neural-collapse metric that is undefined or partial.

    Raised when a label has no multiplicity-1 sample, when a metric is NaN
    because the data do not define it (for example no label set with two or
    more labels for :func:`ncm`), or when some label sets are left out.
    """


_COMMON_CONSTRAINTS = {
    "H": ["array-like", "sparse matrix"],
    "Y": ["array-like", "sparse matrix"],
    "chunk_size": [Interval(numbers.Integral, 1, None, closed="left"), None],
}
# The collapsed geometries that nc2_means (and the report) can measure.
_GEOMETRIES = ("etf", "orthogonal")
_GEOMETRY_CONSTRAINT = {"geometry": [StrOptions(set(_GEOMETRIES))]}
_SET_CONSTRAINTS = {
    "center": ["boolean"],
    "n_random": [Interval(numbers.Integral, 1, None, closed="left")],
    "random_state": ["random_state"],
}


# --------------------------------------------------------------------------
# Input checks and chunking
# --------------------------------------------------------------------------


def _check_features(H, name="H"):
    """Return ``H`` as a 2-D numeric torch tensor, NumPy array or CSR matrix."""
    if isinstance(H, torch.Tensor):
        H = H.detach()
        if H.dtype == torch.bool or H.is_complex():
            raise ValueError(f"{name} must hold real numbers; got dtype {H.dtype}.")
    elif sp.issparse(H):
        H = H.tocsr()
    else:
        if hasattr(H, "to_numpy"):  # DataFrame
            H = H.to_numpy()
        H = np.asarray(H)
        if H.dtype.kind not in "iuf":
            raise ValueError(f"{name} must hold real numbers; got dtype {H.dtype}.")
    if H.ndim != 2:
        rows = "n_labels" if name == "W" else "n_samples"
        raise ValueError(
            f"{name} must be a 2-D ({rows}, n_features) array; got shape "
            f"{tuple(H.shape)}."
        )
    if H.shape[0] == 0 or H.shape[1] == 0:
        raise ValueError(
            f"{name} must have at least one sample and one feature; got shape "
            f"{tuple(H.shape)}."
        )
    return H


def _check_indicator(Y, n_samples, min_labels=2):
    """Return ``Y`` as a 2-D torch tensor, NumPy array or CSR matrix."""
    if isinstance(Y, torch.Tensor):
        Y = Y.detach()
        if Y.is_complex():
            raise ValueError(f"Y must be a 0/1 indicator; got dtype {Y.dtype}.")
    elif sp.issparse(Y):
        Y = Y.tocsr()
    else:
        if hasattr(Y, "to_numpy"):  # DataFrame
            Y = Y.to_numpy()
        try:
            Y = np.asarray(Y)
        except ValueError as exc:  # ragged list of label lists
            raise ValueError(
                "Y must be a 2-D (n_samples, n_labels) 0/1 indicator. It looks "
                "like a list of label sets: convert it with "
                "sklearn.preprocessing.MultiLabelBinarizer().fit_transform(Y)."
            ) from exc
        if Y.dtype.kind not in "biuf":
            raise ValueError(
                "Y must be a numeric 0/1 indicator of shape (n_samples, "
                f"n_labels); got dtype {Y.dtype}. Convert label sets with "
                "sklearn.preprocessing.MultiLabelBinarizer."
            )
    if Y.ndim == 1:
        raise ValueError(
            "Y must be a 2-D (n_samples, n_labels) 0/1 indicator; got a 1-D "
            "array. Convert class labels with "
            "sklearn.preprocessing.label_binarize(y, classes=classes) (with at "
            "least 3 classes, or use np.eye(2)[y] for 2) or label sets with "
            "sklearn.preprocessing.MultiLabelBinarizer."
        )
    if Y.ndim != 2:
        raise ValueError(
            "Y must be a 2-D (n_samples, n_labels) 0/1 indicator; got an array "
            f"with {Y.ndim} dimensions."
        )
    if Y.shape[0] != n_samples:
        raise ValueError(
            f"H and Y have inconsistent numbers of samples: H has {n_samples} "
            f"rows, Y has {Y.shape[0]}."
        )
    if Y.shape[1] < min_labels:
        if Y.shape[1] == 0:
            raise ValueError("Y has no label column; pass at least one label.")
        raise ValueError(
            f"Neural collapse needs at least 2 labels; Y has {Y.shape[1]} "
            "column. The metrics compare class means with each other, which "
            "is not defined for a single label."
        )
    return Y


def _rows(A, start, stop, device, dtype=None):
    """Rows ``start:stop`` of an array, tensor or CSR matrix as a tensor."""
    if isinstance(A, torch.Tensor):
        t = A[start:stop]
    elif sp.issparse(A):
        t = torch.from_numpy(A[start:stop].toarray())
    else:
        a = A[start:stop]
        if not (a.flags.writeable and a.flags.c_contiguous):
            a = np.array(a)  # torch wants writeable, positive-stride memory
        t = torch.as_tensor(a)
    return t.to(device=device, dtype=dtype)


def _device_of(H):
    return H.device if isinstance(H, torch.Tensor) else torch.device("cpu")


def _compute_dtype(H):
    """float64 for float64 input, float32 otherwise (half precision upcast)."""
    dtype = H.dtype
    if dtype in (torch.float64, np.dtype("float64")):
        return torch.float64
    return torch.float32


def _accumulation_device(device):
    # MPS has no float64: accumulate there on the CPU.
    return torch.device("cpu") if device.type == "mps" else device


def _default_chunk_size(n_features):
    return max(256, _CHUNK_ELEMENTS // max(n_features, 1))


def _check_head(W, n_labels, n_features, device):
    """Return the head ``W`` as a float64 tensor on ``device``."""
    W = _check_features(W, name="W")
    if W.shape[0] != n_labels or (n_features is not None and W.shape[1] != n_features):
        expected = f"({n_labels}, {n_features if n_features is not None else 'd'})"
        raise ValueError(
            f"W must have shape (n_labels, n_features) = {expected}, one row "
            f"per label (as nn.Linear(n_features, n_labels).weight); got shape "
            f"{tuple(W.shape)}."
        )
    if sp.issparse(W):
        W = torch.from_numpy(W.toarray())
    W = torch.as_tensor(W).to(device=device, dtype=torch.float64)
    if not torch.isfinite(W).all():
        raise ValueError("W contains NaN or infinity; pass a finite head.")
    return W


# --------------------------------------------------------------------------
# Streaming sufficient statistics
# --------------------------------------------------------------------------


@dataclass
class _Summary:
    """Class means, within-class covariance and label-set means."""

    n_labels: int
    n_features: int
    n_samples: int
    n_unlabeled: int
    multiplicity_counts: dict
    labels_used: torch.Tensor  # (K',) indices of labels with a class mean
    missing: list  # labels without a multiplicity-1 sample
    n_mult1: int
    mu: torch.Tensor  # (K', d) class means, float64
    mu_G: torch.Tensor  # (d,) mean of the class means
    sigma_W: torch.Tensor  # (d, d) within-class covariance
    set_labels: list  # sorted label tuples of the sets with |S| >= 2
    set_means: torch.Tensor  # (n_sets, d)
    set_counts: torch.Tensor  # (n_sets,)
    messages: list  # warnings shared by all metrics
    eps: float  # machine epsilon of the working precision of H


class _NCAccumulator:
    """Stream ``(H, Y)`` chunks into the sufficient statistics of the metrics.

    Holds, for the multiplicity-1 rows, per-label counts and sums and the sum
    of outer products, and for the rows with two or more labels, per-label-set
    counts and sums. Memory is ``O(K d + d^2 + n_sets d)``; ``update`` can be
    called any number of times (an epoch callback or a streaming decoder feeds
    it batch by batch) and :meth:`summary` then gives the means and the
    within-class covariance.

    Numerics: each multiplicity-1 row is shifted by a fixed reference point of
    its label (the mean of that label's rows in the first chunk that has
    any), so the scatter matrix accumulates small residuals. The product of a
    chunk is computed in the working precision of ``H`` (float32 for float32
    input) and added to float64 totals; the shift keeps the float32 rounding
    relative to the within-class spread rather than to the norm of the
    features, which matters for collapsed, uncentred (e.g. post-ReLU)
    features.

    Parameters
    ----------
    n_labels : int
        Number of columns ``K`` of ``Y``; at least 2.
    chunk_size : int or None, default=None
        Rows per chunk inside :meth:`update`; ``None`` picks about 4M
        elements per chunk (8192 rows for 512 features).
    """

    def __init__(self, n_labels, chunk_size=None):
        self.n_labels = n_labels
        self.chunk_size = chunk_size
        self.n_features = None

    def _start(self, n_features, device, dtype):
        K, d = self.n_labels, n_features
        acc = _accumulation_device(device)
        self.n_features = d
        self.device = device
        self.dtype = dtype
        self.acc_device = acc
        self.n_samples = 0
        self.mult_counts = torch.zeros(K + 1, dtype=torch.int64, device=device)
        self.counts = torch.zeros(K, dtype=torch.int64, device=device)
        self.ref = torch.zeros(K, d, dtype=dtype, device=device)
        self.has_ref = torch.zeros(K, dtype=torch.bool, device=device)
        self.resid_sum = torch.zeros(K, d, dtype=torch.float64, device=acc)
        self.scatter = torch.zeros(d, d, dtype=torch.float64, device=acc)
        # Label-set keys: one int64 per 62 labels, bit j of word w = label
        # 62 w + j.
        sizes = [min(_KEY_BITS, K - start) for start in range(0, K, _KEY_BITS)]
        self.key_weights = [2 ** torch.arange(size, device=device) for size in sizes]
        self.set_index = {}
        self.set_labels = []
        self.set_sums = torch.zeros(16, d, dtype=torch.float64, device=acc)
        self.set_counts = torch.zeros(16, dtype=torch.int64, device=acc)

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
        self : _NCAccumulator
            The accumulator.
        """
        H = _check_features(H)
        Y = _check_indicator(Y, H.shape[0])
        if Y.shape[1] != self.n_labels:
            raise ValueError(
                f"Y has {Y.shape[1]} labels (columns) but this accumulator "
                f"was built for {self.n_labels}."
            )
        if self.n_features is None:
            self._start(H.shape[1], _device_of(H), _compute_dtype(H))
        elif H.shape[1] != self.n_features:
            raise ValueError(
                f"H has {H.shape[1]} features but earlier chunks had {self.n_features}."
            )
        n = H.shape[0]
        step = self.chunk_size or _default_chunk_size(self.n_features)
        with torch.no_grad():
            for start in range(0, n, step):
                stop = min(start + step, n)
                Hc = _rows(H, start, stop, self.device, self.dtype)
                Yc = _rows(Y, start, stop, self.device)
                self._update_chunk(Hc, Yc, self.n_samples + start)
        self.n_samples += n
        return self

    def _update_chunk(self, Hc, Yc, offset):
        Yc = _binary_indicator(Yc)
        K, acc, f64 = self.n_labels, self.acc_device, torch.float64
        mult = Yc.sum(dim=1)
        self.mult_counts += torch.bincount(mult, minlength=K + 1)
        rows1 = torch.nonzero(mult == 1)[:, 0]
        rows2 = torch.nonzero(mult >= 2)[:, 0]
        n1, n2 = len(rows1), len(rows2)
        # Group of each labelled row: its label (multiplicity 1) or K + the
        # index of its label set among the sets of this chunk.
        labels = torch.nonzero(Yc[rows1])[:, 1]  # one positive per row, in order
        if n2:
            inverse, set_ids = self._set_ids(Yc[rows2])
            groups = torch.cat([labels, inverse + K])
        else:
            groups = labels
        # One copy of the labelled rows, multiplicity-1 rows first; those are
        # shifted in place by their label's reference point.
        Hp = Hc[torch.cat([rows1, rows2])] if n2 else Hc[rows1]
        if n1:
            H1 = Hp[:n1]
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
                _raise_non_finite(Hc, offset)
            self.scatter += scatter.to(device=acc, dtype=f64)
            self.counts += cnt
        if n1 or n2:
            sums = _group_sum(Hp, groups, K + (len(set_ids) if n2 else 0))
            if n1:
                self.resid_sum += sums[:K].to(device=acc, dtype=f64)
            if n2:
                if not torch.isfinite(sums[K:]).all():
                    _raise_non_finite(Hc, offset)
                self.set_sums.index_add_(0, set_ids, sums[K:].to(device=acc, dtype=f64))
                set_counts = torch.bincount(inverse, minlength=len(set_ids))
                self.set_counts.index_add_(0, set_ids, set_counts.to(acc))
        if n1 + n2 < len(Hc):  # rows without a label are unused, but checked
            if not torch.isfinite(Hc[mult == 0]).all():
                _raise_non_finite(Hc, offset)

    def _set_ids(self, Y2):
        """Index of each row's set in this chunk, and those sets' global ids."""
        keys = torch.stack(
            [
                (Y2[:, w * _KEY_BITS : w * _KEY_BITS + len(wt)].long() * wt).sum(1)
                for w, wt in enumerate(self.key_weights)
            ],
            dim=1,
        )
        # Rows with equal keys. With several words, 1-D unique word by word:
        # torch.unique(dim=0) loops over rows at Python speed.
        uniq, inverse = torch.unique(keys[:, 0], return_inverse=True)
        if keys.shape[1] > 1:
            for w in range(1, keys.shape[1]):
                _, word = torch.unique(keys[:, w], return_inverse=True)
                pair = inverse * (int(word.max()) + 1) + word
                _, inverse = torch.unique(pair, return_inverse=True)
            uniq = keys.new_zeros(int(inverse.max()) + 1, keys.shape[1])
            uniq[inverse] = keys  # duplicates write equal rows
        else:
            uniq = uniq.unsqueeze(1)
        ids = []
        for key in map(tuple, uniq.tolist()):
            idx = self.set_index.get(key)
            if idx is None:
                idx = len(self.set_labels)
                self.set_index[key] = idx
                self.set_labels.append(_decode_key(key))
            ids.append(idx)
        n_sets = len(self.set_labels)
        if n_sets > self.set_sums.shape[0]:
            cap = max(n_sets, 2 * self.set_sums.shape[0])
            sums = self.set_sums.new_zeros(cap, self.n_features)
            sums[: self.set_sums.shape[0]] = self.set_sums
            counts = self.set_counts.new_zeros(cap)
            counts[: self.set_counts.shape[0]] = self.set_counts
            self.set_sums, self.set_counts = sums, counts
        return inverse, torch.tensor(ids, dtype=torch.int64, device=self.acc_device)

    def summary(self):
        """Means and covariances from the statistics accumulated so far.

        Returns
        -------
        summary : _Summary
            Class means (float64, on the accumulation device), their mean,
            the within-class covariance, the label-set means (sorted by size,
            then by labels) and the warnings shared by every metric.
        """
        if self.n_features is None:
            raise ValueError("No data: call update(H, Y) before summary().")
        acc = self.acc_device
        f64 = torch.float64
        messages = []
        counts = self.counts.to(acc)
        present = counts > 0
        labels_used = torch.nonzero(present)[:, 0]
        missing = torch.nonzero(~present)[:, 0].tolist()
        if len(missing) == self.n_labels:
            messages.append(
                "No row of Y has exactly one positive label, so no label has "
                "a class mean (the mean of its multiplicity-1 samples)."
            )
        elif missing:
            shown = missing[:20]
            more = f" and {len(missing) - 20} more" if len(missing) > 20 else ""
            messages.append(
                f"{len(missing)} label(s) have no multiplicity-1 sample (no row "
                f"of Y with that label alone): {shown}{more}. They have no "
                "class mean: NC1, NC2 and NC3 use the other "
                f"{self.n_labels - len(missing)} label(s), and NCm and rho "
                "skip the label sets that contain them."
            )
        n_k = counts[present].to(f64)
        ref = self.ref.to(device=acc, dtype=f64)[present]
        shift = self.resid_sum[present] / n_k.unsqueeze(1)  # mu_k - ref_k
        mu = ref + shift
        n1 = int(n_k.sum().item())
        if mu.shape[0]:
            mu_G = mu.mean(dim=0)
            D = shift * n_k.sqrt().unsqueeze(1)
            sigma_W = (self.scatter - D.T @ D) / n1
        else:
            mu_G = torch.zeros(self.n_features, dtype=f64, device=acc)
            sigma_W = torch.zeros_like(self.scatter)

        n_sets = len(self.set_labels)
        order = sorted(
            range(n_sets), key=lambda i: (len(self.set_labels[i]), self.set_labels[i])
        )
        order_t = torch.tensor(order, dtype=torch.int64, device=acc)
        set_counts = self.set_counts[:n_sets][order_t]
        set_means = self.set_sums[:n_sets][order_t] / set_counts.unsqueeze(1).to(f64)
        mult = self.mult_counts.tolist()
        return _Summary(
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
            set_labels=[self.set_labels[i] for i in order],
            set_means=set_means,
            set_counts=set_counts,
            messages=messages,
            eps=torch.finfo(self.dtype).eps,
        )


def _binary_indicator(Yc):
    """Check that a chunk of ``Y`` is 0/1 and return it as booleans."""
    if Yc.dtype == torch.bool:
        return Yc
    if Yc.is_floating_point():
        invalid = bool(((Yc != 0) & (Yc != 1)).any())
    else:
        low, high = torch.aminmax(Yc)
        invalid = bool(low < 0) or bool(high > 1)
    if invalid:
        values = torch.unique(Yc[(Yc != 0) & (Yc != 1)])[:5].tolist()
        raise ValueError(
            "Y must be a 0/1 label indicator; it contains other values, "
            f"e.g. {values}. Binarize it (for example Y > 0)."
        )
    return Yc != 0


def _group_sum(src, index, n_groups):
    """Row sums of ``src`` per group: ``out[g] = src[index == g].sum(0)``."""
    out = src.new_zeros(n_groups, src.shape[1])
    return out.index_put_((index,), src, accumulate=True)


def _raise_non_finite(Hc, offset):
    bad = ~torch.isfinite(Hc).all(dim=1)
    if bad.any():
        row = int(torch.nonzero(bad)[0, 0]) + offset
        raise ValueError(
            f"H contains NaN or infinity (first in row {row}). Features must "
            "be finite: check the network for diverged training."
        )
    raise ValueError(
        f"H has values too large for {Hc.dtype} arithmetic in rows {offset} to "
        f"{offset + len(Hc) - 1} (their squares overflow). Rescale the "
        "features or pass them as float64."
    )


def _decode_key(key):
    """Label tuple of a label-set key (one int per 62 labels)."""
    labels = []
    for w, value in enumerate(key):
        while value:
            low = value & -value  # lowest set bit
            labels.append(w * _KEY_BITS + low.bit_length() - 1)
            value ^= low
    return tuple(labels)


def _accumulate(H, Y, chunk_size):
    H = _check_features(H)
    Y = _check_indicator(Y, H.shape[0])
    return _NCAccumulator(Y.shape[1], chunk_size=chunk_size).update(H, Y)


# --------------------------------------------------------------------------
# Metrics from the summary
# --------------------------------------------------------------------------


def _etf_distance(G, what, messages, geometry="etf"):
    """``|| G / ||G||_F - T ||_F`` for a square Gram-like matrix ``G``.

    ``T`` is the normalised Gram matrix of the frame named by ``geometry``:
    ``E = (I - 11^T/K)/sqrt(K-1)`` (simplex ETF) or ``I/sqrt(K)``
    (orthogonal frame). Both have unit Frobenius norm.
    """
    K = G.shape[0]
    norm = torch.linalg.matrix_norm(G)
    if not norm > 0:
        frame = "ETF" if geometry == "etf" else "orthogonal-frame"
        messages.append(f"{what} is zero, so its {frame} distance is undefined: NaN.")
        return math.nan
    if geometry == "etf":
        T = torch.eye(K, dtype=G.dtype, device=G.device) - 1.0 / K
        T /= math.sqrt(K - 1)
    else:
        T = torch.eye(K, dtype=G.dtype, device=G.device) / math.sqrt(K)
    return float(torch.linalg.matrix_norm(G / norm - T))


def _enough_labels(s, metric, messages):
    if s.mu.shape[0] >= 2:
        return True
    messages.append(
        f"{metric} needs class means of at least 2 labels, but only "
        f"{s.mu.shape[0]} label(s) have a multiplicity-1 sample: NaN."
    )
    return False


def _nc1(s, messages):
    if not _enough_labels(s, "NC1", messages):
        return math.nan
    Mbar = s.mu - s.mu_G  # (K', d)
    # Sigma_B = Mbar^T Mbar / K' = V diag(sv^2) V^T / K', so
    # (1/K') tr(Sigma_W pinv(Sigma_B)) = sum_i v_i^T Sigma_W v_i / sv_i^2.
    # Its rank is at most min(K' - 1, d): the centred means sum to zero, and
    # that null direction is dropped explicitly (it is not exactly zero in
    # floating point, and relative to the spread of the means it can be
    # large when the features are far from the origin). Directions below
    # the rounding level of the input precision are dropped too.
    _, sv, Vh = torch.linalg.svd(Mbar, full_matrices=False)
    rank = min(Mbar.shape[0] - 1, Mbar.shape[1])
    tol = sv[0] * max(Mbar.shape) * s.eps
    keep = sv[:rank] > tol
    if not keep.any():
        messages.append(
            "NC1 is undefined: all class means coincide (the between-class "
            "covariance is zero): NaN."
        )
        return math.nan
    V = Vh[:rank][keep]
    within = ((V @ s.sigma_W) * V).sum(dim=1)
    return float((within / sv[:rank][keep] ** 2).sum())


def _nc2_means(s, messages, geometry="etf"):
    if not _enough_labels(s, "NC2 on the class means", messages):
        return math.nan
    if geometry == "orthogonal":  # the uncentred means
        return _etf_distance(
            s.mu @ s.mu.T, "The class-mean matrix", messages, "orthogonal"
        )
    Mbar = s.mu - s.mu_G
    return _etf_distance(Mbar @ Mbar.T, "The centred class-mean matrix", messages)


def _nc3(s, W, messages):
    if not _enough_labels(s, "NC3", messages):
        return math.nan
    Mbar = s.mu - s.mu_G
    WM = W[s.labels_used.to(W.device)] @ Mbar.T
    return _etf_distance(WM, "W times the centred class means", messages)


def _subset_pool(n_labels, m, n_random, rng, device):
    """Return indicator rows (float64) of the ``m``-subsets for the chance level.

    All ``m``-subsets of ``range(n_labels)`` when there are at most
    ``n_random`` of them, else ``n_random`` uniformly random ones.
    """
    if math.comb(n_labels, m) <= n_random:
        subsets = np.array(list(itertools.combinations(range(n_labels), m)))
    else:
        keys = rng.random_sample((n_random, n_labels))
        subsets = np.argpartition(keys, m - 1, axis=1)[:, :m]
    Z = np.zeros((len(subsets), n_labels))
    np.put_along_axis(Z, subsets, 1.0, axis=1)
    return torch.as_tensor(Z, device=device)


def _tagwise(s, messages, *, center, n_random=None, random_state=None, with_rho=True):
    """Statistics of the tag-wise-average property per label set.

    Returns ``(ncm, rho)``; ``ncm`` is only computed when ``n_random`` is
    given (else NaN); ``with_rho=False`` drops the messages about rho.
    """
    if not s.set_labels:
        messages.append(
            "Y has no sample with two or more labels, so the tag-wise "
            "average property (NCm, rho) is undefined: NaN / empty."
        )
        return math.nan, {}
    if s.mu.shape[0] == 0:
        messages.append(
            "No label has a multiplicity-1 sample, so NCm and rho are "
            "undefined: NaN / empty."
        )
        return math.nan, {}
    acc = s.mu.device
    origin = s.mu_G if center else torch.zeros_like(s.mu_G)
    Mb = s.mu - origin  # (K', d)
    n_used = Mb.shape[0]
    gram = Mb @ Mb.T
    tol2 = _DEGENERATE_RTOL**2 * float(gram.diagonal().mean())
    position = np.full(s.n_labels, -1)
    position[s.labels_used.cpu().numpy()] = np.arange(n_used)

    by_size = {}  # m -> (set rows, label positions); sets are sorted by size
    n_skipped = 0
    for i, labels in enumerate(s.set_labels):
        pos = position[list(labels)]
        if (pos < 0).any():
            n_skipped += 1
            continue
        rows, positions = by_size.setdefault(len(labels), ([], []))
        rows.append(i)
        positions.append(pos)
    if n_skipped:
        messages.append(
            f"{n_skipped} of {len(s.set_labels)} label set(s) with two or more "
            "labels contain a label without a multiplicity-1 sample and are "
            "left out of NCm and rho."
        )
    rng = None if n_random is None else check_random_state(random_state)
    rho = {}
    angle_sum, n_angles = 0.0, 0
    base_sum, n_base = 0.0, 0
    n_degenerate = 0
    for m, (rows, positions) in by_size.items():
        rows = torch.tensor(rows, dtype=torch.int64, device=acc)
        positions = torch.as_tensor(np.array(positions), device=acc)
        if n_random is not None:
            # Chance level: the same angle with random label sets of size m,
            # one pool of them shared by all observed sets of that size.
            pool = _subset_pool(n_used, m, n_random, rng, acc)  # (R, K')
            pool_norm2 = ((pool @ gram) * pool).sum(dim=1)
            pool = pool[pool_norm2 > tol2]
            pool_norm = pool_norm2[pool_norm2 > tol2].sqrt()
        batch = max(1, _BATCH_ELEMENTS // max(n_used, n_random or 0))
        dots_sum, norm2_sum = 0.0, 0.0
        for b in range(0, len(rows), batch):
            C = s.set_means[rows[b : b + batch]] - origin  # (B, d): c_S
            G = C @ Mb.T  # (B, K'): <c_S, mu_k - origin>
            Z = torch.zeros_like(G).scatter_(1, positions[b : b + batch], 1.0)
            dots = (G * Z).sum(dim=1)  # <c_S, t_S>, t_S = sum_{k in S} mu_k - o
            norm2 = ((Z @ gram) * Z).sum(dim=1)  # ||t_S||^2
            dots_sum += float(dots.sum())
            norm2_sum += float(norm2.sum())
            if n_random is None:
                continue
            c_norm = torch.linalg.vector_norm(C, dim=1)
            ok = (norm2 > tol2) & (c_norm**2 > tol2)
            n_degenerate += int((~ok).sum())
            if not ok.any():
                continue
            cos = dots[ok] / (c_norm[ok] * norm2[ok].sqrt())
            angle_sum += float(torch.arccos(cos.clamp(-1.0, 1.0)).sum())
            n_angles += int(ok.sum())
            if len(pool):
                cos = (G[ok] @ pool.T) / (c_norm[ok, None] * pool_norm)
                base_sum += float(torch.arccos(cos.clamp(-1.0, 1.0)).sum())
                n_base += cos.numel()
        if norm2_sum > tol2 * len(rows):
            rho[m] = m * dots_sum / norm2_sum
        else:
            rho[m] = math.nan
            if with_rho:
                messages.append(
                    f"rho for multiplicity {m} is undefined: the tag-wise "
                    "average of every observed set of that size is zero (with "
                    "center=True a set that contains every label averages to "
                    "mu_G): NaN."
                )
    if n_random is None:
        return math.nan, rho
    if n_degenerate:
        messages.append(
            f"{n_degenerate} label set(s) are left out of NCm because their "
            "mean or the sum of their labels' means is zero after centring "
            "(with center=True, a set that contains every label always is)."
        )
    if n_angles == 0 or n_base == 0 or base_sum == 0:
        messages.append("No label set gives a usable angle, so NCm is undefined: NaN.")
        return math.nan, rho
    return (angle_sum / n_angles) / (base_sum / n_base), rho


def _emit(messages, stacklevel=4):
    for message in dict.fromkeys(messages):  # unique, in order
        warnings.warn(message, NeuralCollapseWarning, stacklevel=stacklevel)


def _report(
    acc, W=None, *, n_random=1000, center=True, random_state=None, geometry="etf"
):
    """Report dict and warning messages from a filled accumulator."""
    s = acc.summary()
    messages = list(s.messages)
    out = {"nc1": _nc1(s, messages)}
    if W is not None:
        W = _check_head(W, s.n_labels, s.n_features, acc.acc_device)
        out["nc2"] = _etf_distance(W @ W.T, "W W^T", messages)
    out["nc2_means"] = _nc2_means(s, messages, geometry)
    if W is not None:
        out["nc3"] = _nc3(s, W, messages)
    out["ncm"], out["rho"] = _tagwise(
        s, messages, center=center, n_random=n_random, random_state=random_state
    )
    out.update(
        n_samples=s.n_samples,
        n_features=s.n_features,
        n_labels=s.n_labels,
        n_labels_used=int(s.mu.shape[0]),
        n_mult1=s.n_mult1,
        n_unlabeled=s.n_unlabeled,
        n_label_sets=len(s.set_labels),
        multiplicity_counts=s.multiplicity_counts,
        geometry=geometry,
    )
    return out, messages


# --------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------


@validate_params(_COMMON_CONSTRAINTS, prefer_skip_nested_validation=True)
def nc1(H, Y, *, chunk_size=None):
    r"""Within-class variability relative to between-class variability (NC1).

    .. math::

        \mathrm{NC1} = \frac{1}{K}\operatorname{tr}\big(\Sigma_W
        \Sigma_B^{+}\big),\quad
        \Sigma_W = \frac{1}{n_1}\sum_{i:\,|S_i|=1}(h_i - \mu_{k_i})
        (h_i - \mu_{k_i})^T,\quad
        \Sigma_B = \frac{1}{K}\sum_k (\mu_k - \mu_G)(\mu_k - \mu_G)^T,

    computed on the ``n_1`` multiplicity-1 samples (rows of ``Y`` with
    exactly one positive; ``k_i`` is that label). :math:`\mu_G` is the mean of
    the class means, :math:`^{+}` the Moore-Penrose pseudo-inverse. 0 when
    every multiplicity-1 feature equals its class mean.

    Parameters
    ----------
    H : array-like or torch.Tensor of shape (n_samples, n_features)
        Features (NumPy or a torch tensor on any device).
    Y : array-like, sparse matrix or torch.Tensor of shape (n_samples, n_labels)
        0/1 label indicator, at least 2 labels.
    chunk_size : int, default=None
        Rows per streamed chunk; ``None`` picks about 4M elements per chunk.
        Results do not depend on it beyond rounding.

    Returns
    -------
    nc1 : float
        The NC1 value; NaN (with a :class:`NeuralCollapseWarning`) when fewer
        than two labels have a multiplicity-1 sample or all class means
        coincide.

    See Also
    --------
    neural_collapse_report : All metrics from one pass over the data.

    Examples
    --------
    >>> import numpy as np
    >>> from sknc.metrics import nc1
    >>> Y = np.repeat(np.eye(3, dtype=int), 2, axis=0)  # 2 samples per label
    >>> means = np.array([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]])
    >>> H = Y @ means  # every sample sits on its class mean
    >>> nc1(H, Y)
    0.0
    >>> H_noisy = H + np.random.default_rng(0).normal(0, 0.1, H.shape)
    >>> 0 < nc1(H_noisy, Y) < 0.1
    True
    """
    s = _accumulate(H, Y, chunk_size).summary()
    messages = list(s.messages)
    value = _nc1(s, messages)
    _emit(messages)
    return value


@validate_params(
    {"W": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def nc2(W):
    r"""Distance of a linear head from a simplex ETF (NC2 on the classifier).

    .. math::

        \mathrm{NC2}(W) = \Big\| \frac{W W^T}{\|W W^T\|_F} - E \Big\|_F,
        \qquad E = \frac{I_K - \mathbf{1}\mathbf{1}^T/K}{\sqrt{K-1}}.

    0 exactly when the rows of ``W`` have equal norms and pairwise cosine
    :math:`-1/(K-1)`. ``W`` is not centred. With ``n_features < K - 1`` the
    value stays positive (a simplex ETF needs ``K - 1`` dimensions). For the
    same measure on the class means, see :func:`nc2_means`.

    There is no ``geometry`` parameter: the head of a softmax (PAL) loss
    with weight decay is a simplex ETF also when the features are
    non-negative and their uncentred means form an orthogonal frame, since
    adding the same vector to every row of ``W`` changes no softmax and
    weight decay removes it (see the Notes of :func:`nc2_means`). Only a
    square loss without a bias, which sknc does not train, makes the head
    an orthogonal frame.

    Parameters
    ----------
    W : array-like or torch.Tensor of shape (n_labels, n_features)
        The head, one row per label (``nn.Linear(d, K).weight``).

    Returns
    -------
    nc2 : float
        The NC2 value of the head, between 0 and 2; NaN (with a
        :class:`NeuralCollapseWarning`) when ``W`` is zero.

    See Also
    --------
    nc2_means : NC2 on the centred class means.

    Examples
    --------
    >>> import numpy as np
    >>> from sknc import simplex_etf
    >>> from sknc.metrics import nc2
    >>> round(nc2(simplex_etf(4, 3, random_state=0)), 6)
    0.0
    >>> round(nc2(np.eye(4)), 3)  # orthogonal rows are not an ETF
    0.518
    """
    W = _check_features(W, name="W")
    if W.shape[0] < 2:
        raise ValueError(
            "Neural collapse needs at least 2 labels; W has "
            f"{W.shape[0]} row. Pass the whole head, one row per label."
        )
    W = _check_head(W, W.shape[0], None, _accumulation_device(_device_of(W)))
    messages = []
    value = _etf_distance(W @ W.T, "W W^T", messages)
    _emit(messages)
    return value


@validate_params(
    {**_COMMON_CONSTRAINTS, **_GEOMETRY_CONSTRAINT},
    prefer_skip_nested_validation=True,
)
def nc2_means(H, Y, *, geometry="etf", chunk_size=None):
    r"""Distance of the class means from their collapsed frame (NC2).

    With ``geometry='etf'`` (default), the distance of the **centred** class
    means from a simplex ETF:

    .. math::

        \mathrm{NC2}_\mu = \Big\| \frac{\bar M \bar M^T}{\|\bar M \bar M^T\|_F}
        - E \Big\|_F, \qquad \bar M = [\mu_k - \mu_G]_k \in
        \mathbb{R}^{K \times d},

    with :math:`\mu_k` the mean of the multiplicity-1 samples of label ``k``
    and :math:`\mu_G` the mean of the :math:`\mu_k`. 0 when the centred means
    have equal norms and pairwise cosine :math:`-1/(K-1)`.

    With ``geometry='orthogonal'``, the distance of the **uncentred** class
    means :math:`M = [\mu_k]_k` from an orthogonal frame:

    .. math::

        \mathrm{NC2}^{\perp}_\mu = \Big\| \frac{M M^T}{\|M M^T\|_F}
        - \frac{I_K}{\sqrt{K}} \Big\|_F,

    0 when the means are mutually orthogonal with equal norms, the collapsed
    geometry of non-negative features (see Notes).

    Parameters
    ----------
    H : array-like or torch.Tensor of shape (n_samples, n_features)
        Features (NumPy or a torch tensor on any device).
    Y : array-like, sparse matrix or torch.Tensor of shape (n_samples, n_labels)
        0/1 label indicator, at least 2 labels.
    geometry : {'etf', 'orthogonal'}, default='etf'
        The collapsed geometry to measure the means against: ``'etf'`` for
        unconstrained features (a backbone whose last layer is linear, as
        sknc's :class:`~sknc.MLPBackbone`), ``'orthogonal'`` for
        non-negative features (a backbone that ends with a ReLU).
    chunk_size : int, default=None
        Rows per streamed chunk; ``None`` picks about 4M elements per chunk.

    Returns
    -------
    nc2_means : float
        The NC2 value of the class means, between 0 and 2; NaN (with a
        :class:`NeuralCollapseWarning`) when fewer than two labels have a
        multiplicity-1 sample or all class means coincide (are all zero,
        for ``'orthogonal'``).

    See Also
    --------
    nc2 : NC2 on the head.

    Notes
    -----
    **Which geometry.** In the unconstrained-features model, the optimum of
    the regularised cross-entropy is a simplex ETF [1]_. When the features
    pass through a ReLU they cannot leave the non-negative orthant, and the
    optimum changes: the uncentred class means become an *orthogonal frame*
    [2]_ [3]_. The centred means of an orthogonal frame are still a simplex
    ETF (:math:`\mu_k - \mu_G` with orthogonal, equal-norm :math:`\mu_k` has
    pairwise cosine :math:`-1/(K-1)`), so ``'etf'`` is 0 at both optima;
    ``'orthogonal'`` also checks the position of the origin and is 0 only at
    the non-negative one. A simplex ETF centred at the origin is at distance
    :math:`\sqrt{2 - 2\sqrt{(K-1)/K}}` from an orthogonal frame (0.61 for
    ``K = 3``, 0.10 for ``K = 100``): for many labels the two frames are
    close, and the difference is mostly in the position of :math:`\mu_G`.
    An orthogonal frame needs ``n_features >= K``; with fewer the value
    stays positive.

    The head is a simplex ETF at both optima: a softmax (and so the PAL
    loss) does not change when the same vector is added to every row of
    ``W``, so weight decay makes the rows sum to zero, the head is the
    *centred* frame and :func:`nc2` and :func:`nc3` keep their ETF target
    whatever the features (an unconstrained-features model with
    non-negative features, solved numerically, is in the user guide).

    References
    ----------
    .. [1] J. Zhu et al., "A Geometric Analysis of Neural Collapse with
       Unconstrained Features", NeurIPS 2021.
    .. [2] T. Tirer and J. Bruna, "Extended Unconstrained Features Model for
       Exploring Deep Neural Collapse", ICML 2022, arXiv:2202.08087.
    .. [3] D. A. Nguyen, R. Levie, J. Lienen, G. Kutyniok and E. Hüllermeier,
       "Memorization-Dilation: Modeling Neural Collapse Under Label Noise",
       ICLR 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from sknc.metrics import nc2_means
    >>> Y = np.eye(3, dtype=int)
    >>> H = np.array([[2.0, 0.0], [-1.0, 3**0.5], [-1.0, -(3**0.5)]]) + 5.0
    >>> round(nc2_means(H, Y), 6)  # an equilateral triangle, anywhere
    0.0
    >>> H = 2.0 * np.eye(3)  # orthogonal means: their centred version is an ETF
    >>> round(nc2_means(H, Y, geometry="orthogonal"), 6), round(nc2_means(H, Y), 6)
    (0.0, 0.0)
    >>> round(nc2_means(H - H.mean(axis=0), Y, geometry="orthogonal"), 3)
    0.606
    """
    s = _accumulate(H, Y, chunk_size).summary()
    messages = list(s.messages)
    value = _nc2_means(s, messages, geometry)
    _emit(messages)
    return value


@validate_params(
    {**_COMMON_CONSTRAINTS, "W": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def nc3(H, Y, W, *, chunk_size=None):
    r"""Self-duality of the head and the centred class means (NC3).

    .. math::

        \mathrm{NC3} = \Big\| \frac{W \bar M^T}{\|W \bar M^T\|_F} - E
        \Big\|_F, \qquad \bar M = [\mu_k - \mu_G]_k \in \mathbb{R}^{K \times d},

    so :math:`(W \bar M^T)_{jk} = w_j^T(\mu_k - \mu_G)` (the ``d x K`` matrix
    of centred means of DESIGN.md is :math:`\bar M^T`). 0 when ``W`` and the
    centred class means are the same simplex ETF up to scale. This holds
    for non-negative features too (their centred means are an ETF; see the
    Notes of :func:`nc2_means`), so NC3 has no ``geometry`` parameter.

    Parameters
    ----------
    H : array-like or torch.Tensor of shape (n_samples, n_features)
        Features (NumPy or a torch tensor on any device).
    Y : array-like, sparse matrix or torch.Tensor of shape (n_samples, n_labels)
        0/1 label indicator, at least 2 labels.
    W : array-like or torch.Tensor of shape (n_labels, n_features)
        The head, one row per label.
    chunk_size : int, default=None
        Rows per streamed chunk; ``None`` picks about 4M elements per chunk.

    Returns
    -------
    nc3 : float
        The NC3 value, between 0 and 2; NaN (with a
        :class:`NeuralCollapseWarning`) when it is undefined.

    Examples
    --------
    >>> import numpy as np
    >>> from sknc.metrics import nc3
    >>> W = np.array([[2.0, 0.0], [-1.0, 3**0.5], [-1.0, -(3**0.5)]])
    >>> Y = np.eye(3, dtype=int)
    >>> round(nc3(0.5 * W + 1.0, Y, W), 6)  # means = scaled, shifted head
    0.0
    """
    acc = _accumulate(H, Y, chunk_size)
    s = acc.summary()
    W = _check_head(W, s.n_labels, s.n_features, acc.acc_device)
    messages = list(s.messages)
    value = _nc3(s, W, messages)
    _emit(messages)
    return value


@validate_params(
    {**_COMMON_CONSTRAINTS, **_SET_CONSTRAINTS},
    prefer_skip_nested_validation=True,
)
def ncm(H, Y, *, n_random=1000, center=True, random_state=None, chunk_size=None):
    r"""How well label-set means follow the tag-wise average rule (NCm).

    Under M-lab NC the mean of the samples whose label set is exactly ``S``
    (:math:`|S| = m \geq 2`) is a scaled average of its labels' means:
    :math:`\mu_S - \mu_G = \rho_m \frac{1}{m}\sum_{k\in S}(\mu_k - \mu_G)`.
    NCm compares the angle between the two sides with the angle obtained for
    random label sets :math:`S'` of the same size:

    .. math::

        \mathrm{NCm} = \frac{\operatorname{mean}_S\,
        \angle\big(\mu_S - o,\ \sum_{k\in S}(\mu_k - o)\big)}
        {\operatorname{mean}_{S,\,S'}\,
        \angle\big(\mu_S - o,\ \sum_{k\in S'}(\mu_k - o)\big)},

    over the label sets ``S`` with two or more labels observed in ``Y`` (each
    set counts once, whatever its number of samples) and, in the
    denominator, over label sets :math:`S'` with :math:`|S'| = |S|` drawn
    uniformly at random (``n_random`` per size, or every set of that size
    when there are no more), with the origin :math:`o = \mu_G`
    (``center=True``) or :math:`o = 0`. 0 means the rule holds exactly;
    about 1 means the set means are no closer to their tag-wise direction
    than to a random one. A set whose centred mean or tag-wise sum is zero
    (relative to the spread of the class means) has no angle and is left
    out, with a warning.

    Parameters
    ----------
    H : array-like or torch.Tensor of shape (n_samples, n_features)
        Features (NumPy or a torch tensor on any device).
    Y : array-like, sparse matrix or torch.Tensor of shape (n_samples, n_labels)
        0/1 label indicator, at least 2 labels.
    n_random : int, default=1000
        Number of random label sets of each size ``m`` that set the chance
        level (one pool per size, shared by the observed sets of that size).
        When there are at most ``n_random`` sets of size ``m`` in all, every
        one of them is used instead: exact, and no randomness.
    center : bool, default=True
        Measure angles around :math:`\mu_G`, the mean of the class means.
        This makes NCm invariant to a translation of the features: raw
        post-ReLU features all lie in the positive orthant, where every pair
        of means makes a small angle and the ratio says little. For features
        centred at the origin (a collapsed network with a bias) both choices
        agree. With ``center=True`` a set that contains every label is
        skipped: the centred means of all labels sum to zero.
    random_state : int, RandomState instance or None, default=None
        Seeds the random label sets. Pass an int for a repeatable value.
    chunk_size : int, default=None
        Rows per streamed chunk; ``None`` picks about 4M elements per chunk.

    Returns
    -------
    ncm : float
        The NCm value; NaN (with a :class:`NeuralCollapseWarning`) when no
        label set with two or more labels gives a usable angle.

    See Also
    --------
    rho : The scale :math:`\rho_m` of the tag-wise average rule.

    Examples
    --------
    >>> import numpy as np
    >>> from sknc import simplex_etf
    >>> from sknc.metrics import ncm
    >>> means = simplex_etf(4, 3, random_state=0)
    >>> Y = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1],
    ...               [1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 1, 0]])
    >>> H = Y @ means  # set means: sums of their labels' means
    >>> round(ncm(H, Y, random_state=0), 6)
    0.0
    """
    acc = _accumulate(H, Y, chunk_size)
    s = acc.summary()
    messages = list(s.messages)
    value, _ = _tagwise(
        s,
        messages,
        center=center,
        n_random=n_random,
        random_state=random_state,
        with_rho=False,
    )
    _emit(messages)
    return value


@validate_params(
    {**_COMMON_CONSTRAINTS, "center": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def rho(H, Y, *, center=True, chunk_size=None):
    r"""Least-squares scale :math:`\rho_m` of the tag-wise average rule.

    For each multiplicity :math:`m \geq 2` observed in ``Y``:

    .. math::

        \rho_m = \arg\min_\rho \sum_{|S| = m} \|c_S - \rho\, a_S\|^2
        = \frac{\sum_S \langle c_S, a_S\rangle}{\sum_S \|a_S\|^2},
        \quad c_S = \mu_S - o,\quad
        a_S = \frac{1}{m}\sum_{k \in S}(\mu_k - o),

    over the observed label sets of size ``m`` (each set counts once), with
    :math:`o = \mu_G` (``center=True``) or :math:`o = 0`. A prototype for an
    unseen set ``S`` is then :math:`o + \rho_m a_S`.

    Parameters
    ----------
    H : array-like or torch.Tensor of shape (n_samples, n_features)
        Features (NumPy or a torch tensor on any device).
    Y : array-like, sparse matrix or torch.Tensor of shape (n_samples, n_labels)
        0/1 label indicator, at least 2 labels.
    center : bool, default=True
        Fit around :math:`\mu_G`, the mean of the class means (translation
        invariant), or around the origin. See :func:`ncm`.
    chunk_size : int, default=None
        Rows per streamed chunk; ``None`` picks about 4M elements per chunk.

    Returns
    -------
    rho : dict of int to float
        :math:`\rho_m` per observed multiplicity ``m >= 2``, sorted by ``m``.
        Empty (with a :class:`NeuralCollapseWarning`) when no sample has two
        or more labels; NaN for a multiplicity whose tag-wise averages are
        all zero.

    Examples
    --------
    >>> import numpy as np
    >>> from sknc import simplex_etf
    >>> from sknc.metrics import rho
    >>> means = simplex_etf(4, 3, random_state=0)
    >>> Y = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1],
    ...               [1, 1, 0, 0], [0, 1, 1, 0]])
    >>> H = Y @ means  # a pair's mean is the sum, 2x the average of its labels
    >>> {m: round(r, 6) for m, r in rho(H, Y).items()}
    {2: 2.0}
    """
    acc = _accumulate(H, Y, chunk_size)
    s = acc.summary()
    messages = list(s.messages)
    _, value = _tagwise(s, messages, center=center)
    _emit(messages)
    return dict(sorted(value.items()))


@validate_params(
    {
        **_COMMON_CONSTRAINTS,
        **_SET_CONSTRAINTS,
        **_GEOMETRY_CONSTRAINT,
        "W": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def neural_collapse_report(
    H,
    Y,
    W=None,
    *,
    n_random=1000,
    center=True,
    random_state=None,
    geometry="etf",
    chunk_size=None,
):
    r"""All neural-collapse metrics from one streamed pass over the data.

    Streams ``H`` and ``Y`` once into per-label and per-label-set sums, then
    computes every metric of this module from them. Cheaper than calling the
    functions one by one, and the values are the same.

    Parameters
    ----------
    H : array-like or torch.Tensor of shape (n_samples, n_features)
        Features (NumPy or a torch tensor on any device).
    Y : array-like, sparse matrix or torch.Tensor of shape (n_samples, n_labels)
        0/1 label indicator, at least 2 labels.
    W : array-like or torch.Tensor of shape (n_labels, n_features), default=None
        The head. Without it, the keys ``"nc2"`` and ``"nc3"`` are absent.
    n_random : int, default=1000
        Random label sets per size for the chance level of NCm; see
        :func:`ncm`.
    center : bool, default=True
        Centre NCm and rho at the mean of the class means; see :func:`ncm`.
    random_state : int, RandomState instance or None, default=None
        Seeds the random label sets of NCm.
    geometry : {'etf', 'orthogonal'}, default='etf'
        The collapsed geometry of the class means for ``"nc2_means"``:
        ``'etf'`` for unconstrained features (sknc's default backbone),
        ``'orthogonal'`` for non-negative (post-ReLU) features; see
        :func:`nc2_means`. The other metrics do not depend on it.
    chunk_size : int, default=None
        Rows per streamed chunk; ``None`` picks about 4M elements per chunk.

    Returns
    -------
    report : dict
        ``"nc1"``, ``"nc2"`` (with ``W``), ``"nc2_means"``, ``"nc3"`` (with
        ``W``), ``"ncm"``: floats as returned by :func:`nc1`, :func:`nc2`,
        :func:`nc2_means`, :func:`nc3`, :func:`ncm`; ``"rho"``: the dict
        returned by :func:`rho`; and the counts ``"n_samples"``,
        ``"n_features"``, ``"n_labels"``, ``"n_labels_used"`` (labels with a
        multiplicity-1 sample), ``"n_mult1"`` (multiplicity-1 samples),
        ``"n_unlabeled"`` (rows without a label, ignored),
        ``"n_label_sets"`` (distinct observed sets with two or more labels),
        ``"multiplicity_counts"`` (``{m: number of samples}``) and
        ``"geometry"`` (the ``geometry`` used for ``"nc2_means"``).

    Examples
    --------
    >>> import numpy as np
    >>> from sknc import simplex_etf
    >>> from sknc.metrics import neural_collapse_report
    >>> W = simplex_etf(4, 3, random_state=0)
    >>> Y = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1],
    ...               [1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 1, 0]])
    >>> report = neural_collapse_report(Y @ W, Y, W, random_state=0)
    >>> {key: round(report[key], 6) for key in ["nc1", "nc2", "nc3", "ncm"]}
    {'nc1': 0.0, 'nc2': 0.0, 'nc3': 0.0, 'ncm': 0.0}
    >>> round(report["rho"][2], 6), report["n_mult1"], report["n_label_sets"]
    (2.0, 4, 3)
    """
    acc = _accumulate(H, Y, chunk_size)
    out, messages = _report(
        acc,
        W,
        n_random=n_random,
        center=center,
        random_state=random_state,
        geometry=geometry,
    )
    out["rho"] = dict(sorted(out["rho"].items()))
    _emit(messages)
    return out


# --------------------------------------------------------------------------
# Per-label diagnostics: label imbalance and minority collapse
# --------------------------------------------------------------------------

# Columns of label_report, in order: always, then with a head.
_LABEL_COLUMNS = (
    "label",
    "count",
    "frequency",
    "mean_norm",
    "mean_max_cosine",
    "mean_nearest",
    "mean_nearest_cooccurrence",
)
_HEAD_COLUMNS = (
    "weight_norm",
    "max_cosine",
    "nearest",
    "nearest_cooccurrence",
    "collapsed",
)


def _max_cosine(V, valid):
    """Largest cosine of each row of ``V`` to another valid row, and which row.

    ``V`` is a ``(K, d)`` float64 tensor and ``valid`` a ``(K,)`` boolean
    tensor of the rows that have a direction. Returns NumPy arrays
    ``(cosine, index)``: NaN and -1 for a row that is not valid or has no
    other valid row. Ties go to the lowest index. Works in blocks of rows,
    so memory stays ``O(K d)`` for any ``K``.
    """
    K = V.shape[0]
    norms = torch.linalg.vector_norm(V, dim=1, keepdim=True)
    U = torch.where(valid.unsqueeze(1), V / norms.clamp_min(1e-300), 0.0)
    best = torch.full((K,), math.nan, dtype=torch.float64, device=V.device)
    which = torch.full((K,), -1, dtype=torch.int64, device=V.device)
    batch = max(1, _BATCH_ELEMENTS // max(K, 1))
    for start in range(0, K, batch):
        stop = min(start + batch, K)
        C = U[start:stop] @ U.T  # (B, K)
        C[:, ~valid] = -math.inf
        rows = torch.arange(stop - start, device=V.device)
        C[rows, rows + start] = -math.inf  # not itself
        value, index = C.max(dim=1)
        ok = valid[start:stop] & torch.isfinite(value)
        best[start:stop] = torch.where(ok, value.clamp(-1.0, 1.0), math.nan)
        which[start:stop] = torch.where(ok, index, -1)
    return best.cpu().numpy(), which.cpu().numpy()


def _label_sums(H, Y, W, chunk_size):
    """Per-label feature sums and counts over the rows that contain each label.

    Returns ``(sums (K, d), counts (K,), global_sum (d,), n_labelled,
    n_samples, Y, W)``: float64 / int64 tensors on the accumulation device,
    two ints, the checked ``Y`` and the head ``W`` as a float64 tensor (or
    None), checked before the pass over the data. The sums are computed in
    float64, so that a label mean and the global mean that are equal in
    exact arithmetic are equal to about 1e-12 relative.
    """
    H = _check_features(H)
    Y = _check_indicator(Y, H.shape[0], min_labels=1)
    acc = _accumulation_device(_device_of(H))
    if W is not None:
        W = _check_head(W, Y.shape[1], H.shape[1], acc)
    dtype = torch.float64
    n, d = H.shape
    K = Y.shape[1]
    sums = torch.zeros(K, d, dtype=torch.float64, device=acc)
    counts = torch.zeros(K, dtype=torch.int64, device=acc)
    global_sum = torch.zeros(d, dtype=torch.float64, device=acc)
    n_labelled = 0
    step = chunk_size or _default_chunk_size(d)
    with torch.no_grad():
        for start in range(0, n, step):
            stop = min(start + step, n)
            Hc = _rows(H, start, stop, acc, dtype)
            Yc = _binary_indicator(_rows(Y, start, stop, acc))
            if not torch.isfinite(Hc).all():
                _raise_non_finite(Hc, start)
            sums += Yc.to(dtype).T @ Hc  # (K, d): sum of the rows with label k
            counts += Yc.sum(dim=0)
            labelled = Yc.any(dim=1)
            global_sum += Hc[labelled].sum(dim=0)
            n_labelled += int(labelled.sum())
    return sums, counts, global_sum, n_labelled, n, Y, W


def _cooccurrence(Y, partner, counts, chunk_size):
    """Fraction of the rows of each label that also contain ``partner[k]``."""
    K = Y.shape[1]
    out = np.full(K, math.nan)
    has = (partner >= 0) & (counts > 0)
    if not has.any():
        return out
    labels = np.nonzero(has)[0]
    both = np.zeros(len(labels), dtype=np.int64)
    step = chunk_size or _default_chunk_size(K)
    for start in range(0, Y.shape[0], step):
        stop = min(start + step, Y.shape[0])
        Yc = _binary_indicator(_rows(Y, start, stop, torch.device("cpu")))
        hit = Yc[:, labels] & Yc[:, partner[labels]]
        both += hit.sum(dim=0).numpy()
    out[labels] = both / counts[labels]
    return out


def _check_label_names(label_names, n_labels):
    if label_names is None:
        return np.arange(n_labels)
    names = np.asarray(label_names)
    if names.ndim != 1 or len(names) != n_labels:
        raise ValueError(
            f"label_names must have one name per label (column of Y): "
            f"{n_labels}; got {len(names) if names.ndim == 1 else names.shape}."
        )
    return names


def _listing(labels, names, limit=20):
    shown = [names[k].item() if hasattr(names[k], "item") else names[k] for k in labels]
    more = f" and {len(shown) - limit} more" if len(shown) > limit else ""
    return f"{shown[:limit]}{more}"


@validate_params(
    {
        **_COMMON_CONSTRAINTS,
        "W": ["array-like", None],
        "threshold": [Interval(numbers.Real, -1, 1, closed="both")],
        "label_names": ["array-like", None],
        "as_frame": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def label_report(
    H, Y, W=None, *, threshold=0.9, label_names=None, as_frame=False, chunk_size=None
):
    r"""Per-label diagnostics of imbalance and minority collapse.

    Real multi-label data are long-tailed: a few labels are on most rows
    and most labels on a few. Trained with weight decay on imbalanced data,
    the classifier rows of the rare labels shrink and turn towards each
    other until they can no longer be told apart, *minority collapse* [1]_.
    This report gives, for every label ``k``, how often it occurs and how
    its classifier row and its features sit among the others, so that rare
    labels whose geometry has collapsed can be spotted (and drawn with
    :func:`sknc.plotting.plot_label_report`).

    Quantities, per label ``k`` (``n``: rows of ``Y``):

    - ``count``, ``frequency``: rows that contain ``k``, and that number
      divided by ``n``;
    - ``mean_norm``: :math:`\|\nu_k - \nu_G\|`, with :math:`\nu_k` the mean
      feature of the rows that contain ``k`` (whatever their other labels:
      rare labels often never occur alone) and :math:`\nu_G` the mean
      feature of the rows that have at least one label. Centring at the
      data's own mean, not at the mean of the label means as the NC
      metrics do, keeps the reference point where most rows are: a rare
      label whose features are not separated from the bulk has a small
      ``mean_norm``;
    - ``mean_max_cosine``, ``mean_nearest``: the largest cosine between
      :math:`\nu_k - \nu_G` and :math:`\nu_j - \nu_G` over the other labels
      ``j``, and that ``j``;
    - with ``W``: ``weight_norm`` :math:`\|w_k\|`; ``max_cosine`` and
      ``nearest``, the largest cosine between :math:`w_k` and another row
      :math:`w_j` and that ``j``; ``collapsed``, whether ``max_cosine``
      exceeds ``threshold``;
    - ``mean_nearest_cooccurrence``, ``nearest_cooccurrence``: the fraction
      of the rows of ``k`` that also contain its nearest label. In
      multi-label data, two labels that (almost) always occur together have
      no reason to be told apart, and their rows may align without any
      imbalance: a ``collapsed`` label with a high co-occurrence is
      redundant rather than collapsed.

    Parameters
    ----------
    H : array-like or torch.Tensor of shape (n_samples, n_features)
        Features (NumPy or a torch tensor on any device), e.g.
        ``clf.transform(X_train)``.
    Y : array-like, sparse matrix or torch.Tensor of shape (n_samples, n_labels)
        0/1 label indicator.
    W : array-like or torch.Tensor of shape (n_labels, n_features), default=None
        The head, one row per label. Without it the head columns
        (``weight_norm``, ``max_cosine``, ``nearest``,
        ``nearest_cooccurrence``, ``collapsed``) are absent. For an sknc
        estimator with ``feature_norm`` set, ``module_.head.weight`` has
        normalised rows times the temperature: ``weight_norm`` is then the
        same for every label by construction, and only the cosines are
        informative.
    threshold : float in [-1, 1], default=0.9
        A label is ``collapsed`` when its row's largest cosine to another row
        exceeds this. 0.9 (an angle of 26 degrees) is far from any healthy
        head: the rows of a collapsed head have pairwise cosine
        :math:`-1/(K-1)` (a simplex ETF), those of a random one about
        :math:`\pm 1/\sqrt{d}`, while minority collapse drives the angle
        between rare rows towards 0 [1]_. Below 1, so that a collapse that
        training has not finished is flagged.
    label_names : array-like of shape (n_labels,), default=None
        Names of the labels, stored in ``label``; default ``0, 1, ...``.
    as_frame : bool, default=False
        Return a :class:`pandas.DataFrame` (one row per label, the scalars
        in its ``attrs``) instead of a :class:`~sklearn.utils.Bunch`. Needs
        pandas, which sknc does not require.
    chunk_size : int, default=None
        Rows per streamed chunk; ``None`` picks about 4M elements per chunk.

    Returns
    -------
    report : :class:`~sklearn.utils.Bunch` or pandas.DataFrame
        One array of length ``n_labels`` per column above (``nearest`` and
        ``mean_nearest`` are label indices, -1 where undefined;
        ``collapsed`` is boolean), plus the scalars ``threshold``,
        ``n_samples`` and ``n_unlabeled`` (rows without a label, left out
        of :math:`\nu_G`). Undefined values are NaN (with a
        :class:`NeuralCollapseWarning`): a label that never occurs has no
        mean; a label whose mean equals :math:`\nu_G` (it is on every
        labelled row) or a zero head row has no direction; with a single
        label there is no other one to compare with. ``collapsed`` is False
        where ``max_cosine`` is NaN.

    See Also
    --------
    label_report_from_estimator : The same from a fitted estimator.
    sknc.plotting.plot_label_report : Frequency against row norm and cosine.

    References
    ----------
    .. [1] C. Fang, H. He, Q. Long and W. J. Su, "Exploring deep neural
       networks via layer-peeled model: Minority collapse in imbalanced
       training", PNAS 118 (43), 2021.

    Examples
    --------
    Two frequent labels with well separated rows, two rare ones whose rows
    have collapsed onto each other:

    >>> import numpy as np
    >>> from sknc.metrics import label_report
    >>> Y = np.array([[1, 0, 0, 0]] * 45 + [[0, 1, 0, 0]] * 45
    ...              + [[0, 0, 1, 0]] * 5 + [[0, 0, 0, 1]] * 5)
    >>> W = np.array([[3.0, 0.0, 0.0], [0.0, 3.0, 0.0],
    ...               [0.3, 0.3, 1.0], [0.3, 0.2, 1.0]])
    >>> H = Y @ W  # features on their rows
    >>> report = label_report(H, Y, W)
    >>> report.frequency
    array([0.45, 0.45, 0.05, 0.05])
    >>> report.collapsed, report.nearest
    (array([False, False,  True,  True]), array([3, 2, 3, 2]))
    """
    sums, counts_t, global_sum, n_labelled, n, Y, W = _label_sums(H, Y, W, chunk_size)
    K = sums.shape[0]
    names = _check_label_names(label_names, K)
    messages = []
    counts = counts_t.cpu().numpy()
    present = counts > 0
    if K == 1:
        messages.append(
            "Y has a single label, so there is no other label to compare its "
            "mean or its head row with: the cosines are NaN."
        )
    absent = np.nonzero(~present)[0]
    if len(absent) and n_labelled:
        messages.append(
            f"{len(absent)} label(s) never occur in Y: {_listing(absent, names)}. "
            "They have no feature mean: their mean_norm and mean cosines are NaN."
        )
    # Feature means of the rows that contain each label, centred at the mean
    # of the labelled rows.
    mean_norm = np.full(K, math.nan)
    mean_cos = np.full(K, math.nan)
    mean_nearest = np.full(K, -1, dtype=np.int64)
    if n_labelled:
        nu_G = global_sum / n_labelled
        present_t = torch.as_tensor(present, device=sums.device)
        nu = sums / counts_t.clamp_min(1).unsqueeze(1).to(torch.float64)
        centred = torch.where(present_t.unsqueeze(1), nu - nu_G, 0.0)
        norms = torch.linalg.vector_norm(centred, dim=1)
        mean_norm[present] = norms.cpu().numpy()[present]
        # A mean has a direction when its norm is above the rounding of
        # float64 sums at the features' scale.
        scale = float(torch.linalg.vector_norm(nu_G)) + float(norms.max())
        has_direction = present_t & (norms > scale * 1e-9)
        flat = np.nonzero(present & ~has_direction.cpu().numpy())[0]
        if len(flat) and K > 1:
            messages.append(
                f"The feature mean of label(s) {_listing(flat, names)} equals the "
                "mean of all labelled rows (e.g. a label on every row), so it "
                "has no direction: its mean cosine is NaN."
            )
        mean_cos, mean_nearest = _max_cosine(centred, has_direction)
    else:
        messages.append(
            "Y has no row with a label, so no label has a feature mean: "
            "mean_norm and the mean cosines are NaN."
        )
    out = Bunch(
        label=names,
        count=counts.astype(np.int64),
        frequency=counts / n,
        mean_norm=mean_norm,
        mean_max_cosine=mean_cos,
        mean_nearest=mean_nearest,
        mean_nearest_cooccurrence=_cooccurrence(Y, mean_nearest, counts, chunk_size),
    )
    if W is not None:
        weight_norm = torch.linalg.vector_norm(W, dim=1)
        nonzero = weight_norm > 0
        zero = np.nonzero(~nonzero.cpu().numpy())[0]
        if len(zero):
            messages.append(
                f"The head row of label(s) {_listing(zero, names)} is zero, so it "
                "has no direction: its max_cosine is NaN (and collapsed False)."
            )
        max_cos, nearest = _max_cosine(W, nonzero)
        with np.errstate(invalid="ignore"):
            collapsed = max_cos > threshold  # NaN compares False
        out.update(
            weight_norm=weight_norm.cpu().numpy(),
            max_cosine=max_cos,
            nearest=nearest,
            nearest_cooccurrence=_cooccurrence(Y, nearest, counts, chunk_size),
            collapsed=collapsed,
        )
    scalars = {
        "threshold": float(threshold),
        "n_samples": int(n),
        "n_unlabeled": int(n - n_labelled),
    }
    _emit(messages)
    if as_frame:
        return _as_frame(out, scalars)
    out.update(scalars)
    return out


def _as_frame(columns, attrs):
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError(
            "label_report(as_frame=True) needs pandas, which is not installed. "
            "Install it (pip install pandas) or use the default Bunch of NumPy "
            "arrays."
        ) from exc
    frame = pd.DataFrame({key: columns[key] for key in columns})
    frame.attrs.update(attrs)
    return frame


def label_report_from_estimator(
    estimator, X, Y, *, threshold=0.9, as_frame=False, chunk_size=None
):
    """Per-label diagnostics of a fitted estimator on data ``(X, Y)``.

    Calls :func:`label_report` with the features ``estimator.transform(X)``,
    the estimator's head (``module_.head.weight``, its first ``n_outputs_``
    rows, so without the hidden background label) and its label names.
    Pass the training data to diagnose minority collapse (a training
    phenomenon); the head columns do not depend on ``X``.

    Parameters
    ----------
    estimator : estimator
        A fitted sknc estimator, a Pipeline ending with one, or a fitted
        search whose best estimator is one; any fitted estimator with
        ``transform`` works, without the head columns.
    X : array-like of shape (n_samples, n_features)
        Input data.
    Y : array-like or sparse matrix of shape (n_samples, n_labels)
        0/1 label indicator of ``X`` (or 1-D class labels, one-hot encoded
        over the estimator's ``classes_``).
    threshold : float in [-1, 1], default=0.9
        Cosine above which a head row counts as collapsed; see
        :func:`label_report`.
    as_frame : bool, default=False
        Return a pandas DataFrame; see :func:`label_report`.
    chunk_size : int, default=None
        Rows per streamed chunk; ``None`` picks about 4M elements per chunk.

    Returns
    -------
    report : :class:`~sklearn.utils.Bunch` or pandas.DataFrame
        As :func:`label_report`.

    Examples
    --------
    >>> from sklearn.datasets import make_multilabel_classification
    >>> from sknc import PALClassifier
    >>> from sknc.metrics import label_report_from_estimator
    >>> X, Y = make_multilabel_classification(n_samples=100, n_classes=4,
    ...                                       random_state=0)
    >>> clf = PALClassifier(max_epochs=5, random_state=0).fit(X, Y)
    >>> report = label_report_from_estimator(clf, X, Y)
    >>> report.weight_norm.shape, report.collapsed.dtype
    ((4,), dtype('bool'))
    """
    from ._scorer import _as_indicator, _features_and_head, _head_weight

    H, owner = _features_and_head(estimator, X)
    W = _head_weight(owner)
    classes, names = None, None
    if owner is not None:
        if getattr(owner, "multilabel_", True) is False:
            classes = owner.classes_
        names = getattr(owner, "label_names_", None)
    Y, _ = _as_indicator(Y, classes)
    if names is not None and len(names) != Y.shape[1]:
        names = None
    return label_report(
        H,
        Y,
        W,
        threshold=threshold,
        label_names=names,
        as_frame=as_frame,
        chunk_size=chunk_size,
    )
