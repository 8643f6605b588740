"""Validation and encoding of the targets given to ``fit``."""

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import column_or_1d
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _assert_all_finite

__all__ = ["encode_targets"]


def _to_array(y):
    """Return ``(array, column_names)`` from an array-like, sparse or DataFrame."""
    names = None
    if hasattr(y, "columns") and hasattr(y, "to_numpy"):  # a DataFrame
        names = np.asarray(y.columns)
        y = y.to_numpy()
    elif sp.issparse(y):
        y = y.toarray()
    try:
        y = np.asarray(y)
    except ValueError as exc:  # ragged lists
        raise ValueError(
            "y must be a 1-D array of class labels or a 2-D (n_samples, "
            "n_labels) 0/1 indicator. It looks like a list of label lists: "
            "convert it with sklearn.preprocessing.MultiLabelBinarizer()."
            "fit_transform(y)."
        ) from exc
    if y.dtype == object and y.ndim == 1 and len(y) and isinstance(y[0], list | set):
        raise ValueError(
            "y looks like a list of label lists; convert it to a 0/1 indicator "
            "with sklearn.preprocessing.MultiLabelBinarizer().fit_transform(y)."
        )
    return y, names


def _check_indicator(Y):
    """Check that a 2-D target is a 0/1 indicator; warn on absent labels."""
    if Y.dtype.kind not in "biuf":
        raise ValueError(
            "A 2-D y must be a numeric 0/1 label indicator of shape "
            f"(n_samples, n_labels); got dtype {Y.dtype}."
        )
    if Y.dtype.kind == "f":
        _assert_all_finite(Y, input_name="y")
    bad = ~np.isin(Y, (0, 1))
    if bad.any():
        values = np.unique(Y[bad])[:5]
        raise ValueError(
            "A 2-D y must be a 0/1 label indicator (multi-label data); it "
            f"contains other values, e.g. {values.tolist()}. Binarize it (for "
            "example y > 0), or pass a 1-D y of class labels for multi-class "
            "data."
        )
    if Y.shape[1] < 2:  # pragma: no cover - column vectors are raveled earlier
        raise ValueError("A label indicator needs at least 2 columns.")
    if not Y.any():
        raise ValueError(
            "y has no positive label in any row: there is nothing to learn. "
            "Check that the label columns were not lost (e.g. an all-zero "
            "indicator after a failed MultiLabelBinarizer)."
        )
    never = np.flatnonzero(Y.sum(axis=0) == 0)
    if never.size:
        warnings.warn(
            f"{never.size} label(s) never occur in y (columns "
            f"{never[:10].tolist()}{'...' if never.size > 10 else ''}); the "
            "model will learn never to predict them.",
            UserWarning,
            stacklevel=5,
        )


def encode_targets(y, n_samples):
    """Validate ``y`` and encode it for training.

    Parameters
    ----------
    y : array-like, sparse matrix or DataFrame
        A 1-D array of class labels (multi-class mode), or a 2-D
        ``(n_samples, n_labels)`` 0/1 indicator (multi-label mode). A
        single-column 2-D ``y`` is treated as 1-D, with a
        ``DataConversionWarning``, as in scikit-learn.
    n_samples : int
        Number of rows of ``X``.

    Returns
    -------
    y_encoded : ndarray
        ``int64`` class indices (multi-class) or a ``float32`` indicator
        (multi-label).
    classes : ndarray
        The class labels, or the label names (``arange(K)`` or the
        DataFrame's columns).
    multilabel : bool
        Whether ``y`` is a multi-label indicator.
    """
    if y is None:
        raise ValueError(
            "This classifier requires y to be passed, but the target y is None."
        )
    y, names = _to_array(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = column_or_1d(y, warn=True)
    if y.shape[0] != n_samples:
        raise ValueError(
            f"X and y have inconsistent numbers of samples: X has {n_samples} "
            f"rows, y has {y.shape[0]}."
        )
    if y.ndim == 1:
        if y.dtype.kind == "f":
            _assert_all_finite(y, input_name="y")
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        if len(encoder.classes_) < 2:
            raise ValueError(
                "The classifier needs samples of at least 2 classes in y; got "
                f"only one class: {encoder.classes_[0]!r}."
            )
        return encoder.transform(y).astype(np.int64), encoder.classes_, False
    if y.ndim == 2:
        _check_indicator(y)
        classes = names if names is not None else np.arange(y.shape[1])
        return y.astype(np.float32), classes, True
    raise ValueError(
        f"y must be 1-D (class labels) or 2-D (a 0/1 label indicator); got an "
        f"array with {y.ndim} dimensions."
    )
