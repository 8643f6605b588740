"""Input checks of the neural-collapse metrics, and row chunking.

``H`` (features) and ``W`` (the head) are checked here; the label indicator
``Y`` goes through the one target checker, :func:`sknc._targets.check_indicator`,
which keeps tensors and sparse matrices as they are so that they can be
streamed. The metrics then read every input in row chunks
(:func:`take_rows`) on the device of ``H``.
"""

import numbers

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils import column_or_1d
from sklearn.utils._param_validation import Interval, StrOptions

from .._targets import check_indicator, one_hot
from ._label_means import LABEL_MEANS, WEIGHTINGS

__all__ = [
    "BATCH_ELEMENTS",
    "COMMON_CONSTRAINTS",
    "GEOMETRIES",
    "GEOMETRY_CONSTRAINT",
    "MEANS_CONSTRAINTS",
    "SET_CONSTRAINTS",
    "accumulation_device",
    "as_indicator",
    "check_features",
    "check_head",
    "check_labels",
    "compute_dtype",
    "default_chunk_size",
    "device_of",
    "raise_non_finite",
    "take_rows",
]

# Elements (not bytes) in one row chunk when chunk_size is None: 16 MiB of
# float32 features per chunk.
_CHUNK_ELEMENTS = 2**22
# Elements per batch in the per-label-set and per-label computations.
BATCH_ELEMENTS = 2**21

# The collapsed geometries that nc2_means (and the report) can measure.
GEOMETRIES = ("etf", "orthogonal")

COMMON_CONSTRAINTS = {
    "H": ["array-like", "sparse matrix"],
    "Y": ["array-like", "sparse matrix"],
    "chunk_size": [Interval(numbers.Integral, 1, None, closed="left"), None],
}
GEOMETRY_CONSTRAINT = {"geometry": [StrOptions(set(GEOMETRIES))]}
MEANS_CONSTRAINTS = {
    "label_means": [StrOptions(set(LABEL_MEANS))],
    "weighting": [StrOptions(set(WEIGHTINGS))],
}
SET_CONSTRAINTS = {
    "center": ["boolean"],
    "n_random": [Interval(numbers.Integral, 1, None, closed="left")],
    "random_state": ["random_state"],
}


def check_features(H, name="H"):
    """Return ``H`` as a 2-D numeric torch tensor, NumPy array or CSR matrix.

    Parameters
    ----------
    H : array-like, sparse matrix, DataFrame or torch.Tensor
        Features ``(n_samples, n_features)``, or the head ``(n_labels,
        n_features)`` with ``name="W"``.
    name : str, default="H"
        The parameter's name, for error messages.

    Returns
    -------
    H : torch.Tensor, ndarray or csr_matrix
        The checked input, not copied.
    """
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


def check_labels(Y, n_samples, min_labels=2):
    """Return the 0/1 indicator ``Y`` as a tensor, NumPy array or CSR matrix.

    Parameters
    ----------
    Y : array-like, sparse matrix, DataFrame or torch.Tensor
        The label indicator ``(n_samples, n_labels)``.
    n_samples : int
        Rows of ``H``, which ``Y`` must match.
    min_labels : int, default=2
        The fewest label columns accepted.

    Returns
    -------
    Y : torch.Tensor, ndarray or csr_matrix
        The checked indicator (values checked, not converted).
    """
    Y, _ = check_indicator(
        Y,
        "Y",
        n_samples=n_samples,
        rows_of="H",
        min_labels=min_labels,
        purpose=(
            "Neural collapse compares class means with each other, which is "
            "not defined for a single label."
        ),
        lazy=True,
    )
    return Y


def as_indicator(y, classes=None):
    """Return ``(Y, one_hot)``: targets as a 2-D 0/1 indicator the metrics accept.

    A 2-D indicator (array, DataFrame, sparse matrix) is returned as is (the
    metrics check it). 1-D class labels, or a single column, are one-hot
    encoded over ``classes`` (sorted unique values of ``y`` when None), so
    that a multi-class problem is measured as multi-class neural collapse;
    ``one_hot`` says whether that happened.

    Parameters
    ----------
    y : array-like, sparse matrix or DataFrame
        A 0/1 label indicator or 1-D class labels.
    classes : array-like or None, default=None
        The classes of a fitted estimator, for 1-D labels.

    Returns
    -------
    Y : array-like or sparse matrix
        The indicator.
    one_hot : bool
        Whether ``y`` held class labels.
    """
    if y is None:
        raise ValueError(
            "NeuralCollapseScorer requires y to be passed, but the target y is "
            "None. Pass the 0/1 label indicator Y (or class labels)."
        )
    if sp.issparse(y):
        if y.shape[1] > 1:
            return y, False
        y = y.toarray()
    if hasattr(y, "to_numpy"):  # DataFrame or Series
        y = y.to_numpy()
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = column_or_1d(y, warn=True)
    if y.ndim != 1:
        return y, False
    classes = np.unique(y) if classes is None else np.asarray(classes)
    if len(classes) < 2:
        raise ValueError(
            f"y has only 1 class ({classes[0]!r}); neural-collapse metrics "
            "compare class means with each other and need at least 2 classes "
            "(or a 2-D 0/1 label indicator with at least 2 labels)."
        )
    Y, _ = one_hot(y, classes)
    return Y, True


def check_head(W, n_labels, n_features, device):
    """Return the head ``W`` as a finite float64 tensor on ``device``.

    Parameters
    ----------
    W : array-like, sparse matrix or torch.Tensor
        The head, one row per label.
    n_labels : int
        Rows ``W`` must have.
    n_features : int or None
        Columns ``W`` must have; None accepts any.
    device : torch.device
        Where the metrics accumulate.

    Returns
    -------
    W : torch.Tensor of shape (n_labels, n_features), float64
        The head.
    """
    W = check_features(W, name="W")
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


def take_rows(A, start, stop, device, dtype=None):
    """Rows ``start:stop`` of an array, tensor or CSR matrix as a tensor.

    Parameters
    ----------
    A : ndarray, torch.Tensor or csr_matrix
        A checked input.
    start, stop : int
        The rows.
    device : torch.device
        Where the chunk goes.
    dtype : torch.dtype or None, default=None
        Its dtype; None keeps that of ``A``.

    Returns
    -------
    chunk : torch.Tensor
        The rows.
    """
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


def device_of(H):
    """Device of a tensor; the CPU for NumPy and SciPy input."""
    return H.device if isinstance(H, torch.Tensor) else torch.device("cpu")


def compute_dtype(H):
    """float64 for float64 input, float32 otherwise (half precision upcast)."""
    if H.dtype in (torch.float64, np.dtype("float64")):
        return torch.float64
    return torch.float32


def accumulation_device(device):
    """Where float64 sums are kept for data on ``device``.

    Apple's ``mps`` has no float64: its sums are kept on the CPU.
    """
    return torch.device("cpu") if device.type == "mps" else device


def default_chunk_size(n_features):
    """Rows per chunk for ``n_features`` features: about 4M elements."""
    return max(256, _CHUNK_ELEMENTS // max(n_features, 1))


def raise_non_finite(Hc, offset):
    """Raise the error for a chunk of ``H`` whose statistics are not finite.

    Parameters
    ----------
    Hc : torch.Tensor
        The chunk, rows ``offset`` onwards of ``H``.
    offset : int
        Index of its first row in ``H``.
    """
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
