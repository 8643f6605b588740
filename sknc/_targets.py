"""The one target checker: label indicators and class labels, checked once.

Every part of sknc that takes targets (the estimators, the metrics, the
splitters, the scorer, the UFM simulator, the benchmark CLI) goes through
:func:`check_indicator` (a 2-D 0/1 label indicator), :func:`one_hot` (1-D
class labels) or :func:`encode_targets` (what ``fit`` accepts: either), so a
bad ``y`` gets the same clear error everywhere.
"""

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import column_or_1d
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _assert_all_finite

from ._warnings import warn

__all__ = [
    "check_indicator",
    "encode_targets",
    "indicator_dtype",
    "one_hot",
    "to_array",
]

# Rows per block when checking the values of a dense indicator, so that a
# memory-mapped Y is never copied whole.
_CHECK_ROWS = 65_536


def to_array(y, name="y"):
    """Return ``(array, column_names)`` of an array-like, DataFrame or tensor.

    Sparse matrices are densified, pandas nullable columns (``Int64``,
    ``boolean``) become numbers, and a missing value (``pd.NA``, ``None``)
    is an error that names its columns.

    Parameters
    ----------
    y : array-like, sparse matrix, DataFrame, Series or torch.Tensor
        The targets.
    name : str, default="y"
        The parameter's name, for error messages.

    Returns
    -------
    array : ndarray
        The values.
    names : ndarray or None
        The DataFrame's column names, else None.
    """
    names = None
    if hasattr(y, "to_numpy") and hasattr(y, "isna"):  # DataFrame or Series
        missing = np.asarray(y.isna())
        if missing.any():
            where = ""
            if hasattr(y, "columns"):
                cols = np.asarray(y.columns)[missing.any(axis=0)]
                where = f" in column(s) {cols[:10].tolist()}"
            raise ValueError(
                f"{name} has {int(missing.sum())} missing value(s) (NaN, None "
                f"or pd.NA){where}. A label indicator must be complete: fill "
                "them (e.g. .fillna(0) if missing means absent) or drop those "
                "rows."
            )
        if hasattr(y, "columns"):
            names = np.asarray(y.columns)
        y = _frame_values(y)
    elif isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    elif sp.issparse(y):
        y = y.toarray()
    try:
        y = np.asarray(y)
    except ValueError as exc:  # ragged lists
        raise ValueError(_label_sets_message(name)) from exc
    if y.dtype == object and y.ndim == 1 and len(y) and isinstance(y[0], list | set):
        raise ValueError(_label_sets_message(name))
    return y, names


def _frame_values(frame):
    """Numbers of a DataFrame or Series whose columns may be pandas-nullable."""
    dtypes = getattr(frame, "dtypes", None)
    if dtypes is None or not hasattr(dtypes, "__iter__"):  # a Series
        dtypes = [frame.dtype]
    kinds = set()
    for dtype in dtypes:
        numpy_dtype = getattr(dtype, "numpy_dtype", dtype)  # nullable: int64, bool
        kinds.add(np.dtype(numpy_dtype).kind if _is_numpy_like(numpy_dtype) else "O")
    if kinds and kinds <= set("biu"):
        target = np.result_type(
            *[np.dtype(getattr(d, "numpy_dtype", d)) for d in dtypes]
        )
        return frame.to_numpy(dtype=target)
    return frame.to_numpy()


def indicator_dtype(y):
    """Return the NumPy dtype of a label indicator, for predictions like it.

    A DataFrame's columns give their common dtype, with pandas nullable
    columns as their NumPy counterparts (``Int64`` -> ``int64``, ``boolean``
    -> ``bool``); a sparse matrix or a tensor gives its values' dtype.

    Parameters
    ----------
    y : array-like, sparse matrix, DataFrame or torch.Tensor
        A label indicator that :func:`check_indicator` accepted.

    Returns
    -------
    dtype : numpy.dtype
        The dtype.
    """
    dtypes = getattr(y, "dtypes", None)
    if dtypes is not None and hasattr(dtypes, "__iter__"):  # a DataFrame
        numpy_dtypes = [getattr(d, "numpy_dtype", d) for d in dtypes]
        dtype = np.result_type(
            *[
                np.dtype(d) if _is_numpy_like(d) else np.dtype(object)
                for d in numpy_dtypes
            ]
        )
        if dtype.kind == "O":  # object columns of numbers
            return _numeric_values(to_array(y)[0], "y").dtype
        return dtype
    if isinstance(y, torch.Tensor):
        return torch.empty(0, dtype=y.dtype).numpy().dtype
    if sp.issparse(y):
        return y.dtype
    dtype = y.dtype if isinstance(y, np.ndarray) else np.asarray(y).dtype
    if dtype.kind == "O":  # numbers held as objects: predict as their own dtype
        return _numeric_values(to_array(y)[0], "y").dtype
    return dtype


def _is_numpy_like(dtype):
    try:
        np.dtype(dtype)
    except TypeError:
        return False
    return True


def _label_sets_message(name):
    return (
        f"{name} must be a 2-D (n_samples, n_labels) 0/1 label indicator. It "
        "looks like a list of label sets: convert it with "
        f"sklearn.preprocessing.MultiLabelBinarizer().fit_transform({name})."
    )


def _invalid_values_message(name, values, n_columns):
    shown = ", ".join(f"{v:g}" for v in values[:5])
    if n_columns == 1:
        hint = (
            f" For a multi-class target stored as a column, pass {name}.ravel() "
            "(1-D class labels)."
        )
    else:
        hint = (
            f" Binarize it first (for example {name} > 0, or "
            "sklearn.preprocessing.MultiLabelBinarizer for label sets)."
        )
    listed = np.asarray(values[:5]).tolist()
    return (
        f"{name} must be a 0/1 label indicator of shape (n_samples, n_labels); "
        f"it has values other than 0 and 1, e.g. {listed}: it contains the "
        f"value(s) {shown}.{hint}"
    )


def _non_finite_message(name):
    # "Input y contains NaN" is scikit-learn's wording for the same problem
    return f"Input {name} contains NaN or infinity; it must be a 0/1 label indicator."


def _numeric_values(Y, name):
    """Return the numbers of an indicator stored as objects; refuse strings.

    Strings such as ``'0'``/``'1'`` (a CSV read as text) would parse, but
    predictions could not be returned in the user's values and dtype, so
    they are refused like any other string.
    """
    values = np.asarray(Y.tolist()) if Y.dtype.kind == "O" else Y
    if values.dtype.kind not in "biuf":
        shown = np.unique(np.asarray(Y[:20], dtype=object).astype(str))[:5]
        raise ValueError(
            f"{name} must be a numeric or boolean 0/1 label indicator; its "
            f"values (dtype {Y.dtype}) include non-numbers, e.g. "
            f"{shown.tolist()}. Convert it first: {name}.astype(int) for "
            "'0'/'1' strings (or read the file with dtype=int), map other "
            "strings to 0/1, and convert label sets with "
            "sklearn.preprocessing.MultiLabelBinarizer."
        )
    return values


def _check_dense_values(Y, name):
    if Y.dtype == bool:
        return
    for start in range(0, max(len(Y), 1), _CHECK_ROWS):
        block = np.asarray(Y[start : start + _CHECK_ROWS])
        if block.dtype.kind == "f" and not np.isfinite(block).all():
            raise ValueError(_non_finite_message(name))
        bad = (block != 0) & (block != 1)
        if bad.any():
            raise ValueError(
                _invalid_values_message(name, np.unique(block[bad]), Y.shape[1])
            )


def _check_tensor_values(Y, name):
    if Y.dtype == torch.bool:
        return
    if Y.is_floating_point() and not torch.isfinite(Y).all():
        raise ValueError(_non_finite_message(name))
    bad = (Y != 0) & (Y != 1)
    if bool(bad.any()):
        values = torch.unique(Y[bad])[:5].cpu().double().numpy()
        raise ValueError(_invalid_values_message(name, values, Y.shape[1]))


def check_indicator(
    Y,
    name="y",
    *,
    n_samples=None,
    rows_of="X",
    min_labels=1,
    purpose=None,
    lazy=False,
    dtype=bool,
):
    """Check that ``Y`` is a 2-D 0/1 label indicator.

    Parameters
    ----------
    Y : array-like, sparse matrix, DataFrame or torch.Tensor
        The label indicator, of shape ``(n_samples, n_labels)``.
    name : str, default="y"
        The parameter's name, for error messages.
    n_samples : int or None, default=None
        The number of rows ``Y`` must have.
    rows_of : str, default="X"
        What ``n_samples`` counts the rows of, for error messages.
    min_labels : int, default=1
        The fewest label columns accepted.
    purpose : str or None, default=None
        What needs ``min_labels`` labels, for the error message.
    lazy : bool, default=False
        Keep torch tensors (on their device) and sparse matrices (as CSR) as
        they are, for callers that stream ``Y`` in chunks; the values are
        still checked. Otherwise return a dense array of ``dtype``.
    dtype : numpy dtype, default=bool
        dtype of the returned dense array.

    Returns
    -------
    Y : ndarray, torch.Tensor or csr_matrix
        The checked indicator.
    names : ndarray or None
        The DataFrame's column names, else None.
    """
    names = None
    if isinstance(Y, torch.Tensor) and lazy:
        Y = Y.detach()
        if Y.is_complex():
            raise ValueError(f"{name} must be a 0/1 indicator; got dtype {Y.dtype}.")
    elif sp.issparse(Y) and lazy:
        Y = Y.tocsr()
    else:
        Y, names = to_array(Y, name)
        if Y.dtype.kind not in "biuf":
            Y = _numeric_values(Y, name)
    if Y.ndim == 1:
        raise ValueError(
            f"{name} must be a 2-D (n_samples, n_labels) 0/1 label indicator; "
            "got a 1-D array. Convert class labels with "
            f"sklearn.preprocessing.label_binarize({name}, classes=classes) "
            "(with at least 3 classes, or use np.eye(2)[y] for 2) or label "
            "sets with sklearn.preprocessing.MultiLabelBinarizer."
        )
    if Y.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D 0/1 label indicator of shape (n_samples, "
            f"n_labels); got an array with {Y.ndim} dimensions, shape "
            f"{tuple(Y.shape)}."
        )
    if n_samples is not None and Y.shape[0] != n_samples:
        raise ValueError(
            f"{rows_of} and {name} have inconsistent numbers of samples: "
            f"{rows_of} has {n_samples} rows, {name} has {Y.shape[0]}."
        )
    if Y.shape[1] == 0:
        raise ValueError(
            f"{name} has no columns (shape {tuple(Y.shape)}); it needs at least "
            "one label."
        )
    if Y.shape[1] < min_labels:
        why = f" {purpose}" if purpose else ""
        raise ValueError(
            f"{name} has {Y.shape[1]} label column(s), but at least "
            f"{min_labels} labels are needed.{why}"
        )
    if isinstance(Y, torch.Tensor):
        _check_tensor_values(Y, name)
        return Y, names
    if sp.issparse(Y):
        data = Y.data
        if data.dtype.kind == "f" and not np.isfinite(data).all():
            raise ValueError(_non_finite_message(name))
        bad = (data != 0) & (data != 1)
        if bad.any():
            raise ValueError(
                _invalid_values_message(name, np.unique(data[bad]), Y.shape[1])
            )
        return Y, names
    _check_dense_values(Y, name)
    if lazy:
        return Y, names
    return Y.astype(dtype, copy=False), names


def one_hot(y, classes=None, name="y"):
    """Encode 1-D class labels as a 0/1 indicator over ``classes``.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels.
    classes : array-like or None, default=None
        The classes, sorted; None takes the sorted unique values of ``y``.
    name : str, default="y"
        The parameter's name, for error messages.

    Returns
    -------
    Y : ndarray of shape (n_samples, n_classes), dtype uint8
        The indicator.
    classes : ndarray
        The classes of its columns.
    """
    y = np.asarray(y)
    classes = np.unique(y) if classes is None else np.asarray(classes)
    index = np.clip(np.searchsorted(classes, y), 0, max(len(classes) - 1, 0))
    unknown = classes[index] != y if len(classes) else np.ones(len(y), bool)
    if unknown.any():
        raise ValueError(
            f"{name} contains classes the estimator was not fitted on: "
            f"{np.unique(y[unknown])[:5].tolist()}."
        )
    Y = np.zeros((len(y), len(classes)), dtype=np.uint8)
    Y[np.arange(len(y)), index] = 1
    return Y, classes


def _warn_absent_labels(Y):
    never = np.flatnonzero(Y.sum(axis=0) == 0)
    if never.size:
        warn(
            f"{never.size} label(s) never occur in y (columns "
            f"{never[:10].tolist()}{'...' if never.size > 10 else ''}); the "
            "model will learn never to predict them.",
            UserWarning,
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
    array, names = to_array(y)
    if array.ndim == 2 and array.shape[1] == 1:
        array = column_or_1d(array, warn=True)
    if array.ndim == 1:
        if array.shape[0] != n_samples:
            raise ValueError(
                f"X and y have inconsistent numbers of samples: X has "
                f"{n_samples} rows, y has {array.shape[0]}."
            )
        if array.dtype.kind == "f":
            _assert_all_finite(array, input_name="y")
        check_classification_targets(array)
        encoder = LabelEncoder().fit(array)
        if len(encoder.classes_) < 2:
            raise ValueError(
                "The classifier needs samples of at least 2 classes in y; got "
                f"only one class: {encoder.classes_[0]!r}."
            )
        return encoder.transform(array).astype(np.int64), encoder.classes_, False
    Y, _ = check_indicator(array, n_samples=n_samples, dtype=np.float32)
    if not Y.any():
        raise ValueError(
            "y has no positive label in any row: there is nothing to learn. "
            "Check that the label columns were not lost (e.g. an all-zero "
            "indicator after a failed MultiLabelBinarizer)."
        )
    _warn_absent_labels(Y)
    classes = names if names is not None else np.arange(Y.shape[1])
    return Y, classes, True
