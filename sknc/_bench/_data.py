"""The benchmark's data: the built-in digits, or .npz and ARFF files, checked."""

from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import StandardScaler

from .._targets import check_indicator
from ..datasets import load_arff, make_multilabel_digits
from ..model_selection import multilabel_train_test_split

__all__ = [
    "DATA_KEYS",
    "DIGITS_SIZES",
    "describe",
    "digits_split",
    "is_binary",
    "load_data",
    "preprocess",
    "standard_scaler",
]

DATA_KEYS = ("X_train", "Y_train", "X_test", "Y_test")
DIGITS_SIZES = (1000, 500)  # training and test samples per multiplicity
# the ARFF options of load_data -> the flags that set them on the command line
_ARFF_FLAGS = {
    "n_labels": "--n-labels",
    "xml": "--xml",
    "label_location": "--label-location",
    "encode_nominal": "--encode-nominal",
}


def is_binary(X):
    """Whether every value of ``X`` (dense or sparse) is 0 or 1.

    Parameters
    ----------
    X : {array-like, sparse matrix}
        Features.

    Returns
    -------
    binary : bool
        True for 0/1 indicators, e.g. word occurrences.
    """
    values = X.data if sp.issparse(X) else np.asarray(X)
    return bool(np.isin(values, (0, 1)).all())


def standard_scaler(X_train):
    """Return the benchmark's standardisation, unfitted: the one of :func:`preprocess`.

    Parameters
    ----------
    X_train : {array-like, sparse matrix}
        The training features it is for.

    Returns
    -------
    scaler : StandardScaler
        Centres and scales dense features; scales sparse ones without
        centring them (which would make them dense).
    """
    return StandardScaler(with_mean=not sp.issparse(X_train))


def digits_split(n_train, n_test, random_state=0):
    """Return the built-in multi-label digits as training and test parts.

    Parameters
    ----------
    n_train, n_test : int
        Images per multiplicity (single digits and pairs) in each part.
    random_state : int, default=0
        Seed of the training images; ``random_state + 1`` for the test images.

    Returns
    -------
    X_train, Y_train, X_test, Y_test : ndarray
        From :func:`sknc.datasets.make_multilabel_digits`.
    """
    X_train, Y_train = make_multilabel_digits(
        (n_train, n_train), random_state=random_state
    )
    X_test, Y_test = make_multilabel_digits(
        (n_test, n_test), random_state=random_state + 1
    )
    return X_train, Y_train, X_test, Y_test


def _as_features(X):
    if sp.issparse(X):
        return sp.csr_matrix(X, dtype=np.float32)
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise ValueError(
            f"the features must be numeric; got an array of dtype {X.dtype}"
        )
    return X.astype(np.float32)


def _as_labels(Y, name):
    try:
        Y, _ = check_indicator(Y, name, dtype=np.uint8)
    except ValueError as exc:
        raise ValueError(
            f"{exc} The benchmark takes labels that hold only 0 and 1, one "
            "column per label."
        ) from None
    return Y


def _read_npz(path):
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except Exception as exc:
        raise ValueError(f"{path}: not a readable .npz file ({exc})") from exc


def _names(arrays, key, path):
    """Return the ``label_names`` or ``feature_names`` of a .npz, as strings."""
    if key not in arrays:
        return None
    names = arrays[key]
    if names.ndim != 1:
        raise ValueError(f"{path}: {key} must be 1-D; got shape {names.shape}")
    return [str(name) for name in names.tolist()]


def _read(path, arff_options, role, names=None):
    """``(X, Y)`` or ``(X_train, Y_train, X_test, Y_test)`` from one file.

    The label and feature names the file holds go into the dict ``names``.
    """
    names = {} if names is None else names
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{role}: file not found: {path}")
    name = path.name.lower()
    if name.endswith(".npz"):
        if arff_options:
            flags = ", ".join(_ARFF_FLAGS.get(k, k) for k in arff_options)
            raise ValueError(f"{flags}: only for ARFF files, not for {path}")
        arrays = _read_npz(path)
        found = ", ".join(arrays) or "no arrays"
        if any(key in arrays for key in DATA_KEYS):
            missing = [key for key in DATA_KEYS if key not in arrays]
        elif "X" in arrays or "Y" in arrays:
            missing = [key for key in ("X", "Y") if key not in arrays]
        else:
            missing = [*DATA_KEYS, "(or X and Y)"]
        if missing:
            raise ValueError(
                f"{role}: {path}: missing {', '.join(missing)}. A .npz holds "
                f"{', '.join(DATA_KEYS)}, or X and Y to be split (found: {found})"
            )
        for key in ("label_names", "feature_names"):
            names.setdefault(key, _names(arrays, key, path))
        if "X_train" in arrays:
            return tuple(arrays[key] for key in DATA_KEYS)
        return arrays["X"], arrays["Y"]
    if name.endswith((".arff", ".arff.gz")):
        bunch = load_arff(path, **arff_options)
        names.setdefault("label_names", [str(n) for n in bunch.target_names])
        names.setdefault("feature_names", [str(n) for n in bunch.feature_names])
        return bunch.data, bunch.target
    raise ValueError(
        f"{role}: {path}: unknown file type; expected a .npz file or an ARFF file "
        "(.arff or .arff.gz)"
    )


def _split_files(path, test_path, test_size, random_state, arff_options, names):
    """Return the parts in ``path`` (and ``test_path``), the source and the split."""
    train = _read(path, arff_options, "--data", names)
    if test_path is not None:
        if len(train) == 4:
            raise ValueError(
                f"{path} is already split ({', '.join(DATA_KEYS)}); drop --test-data"
            )
        test = _read(test_path, arff_options, "--test-data", {})
        if len(test) == 4:
            raise ValueError(f"--test-data: {test_path} must hold X and Y, not a split")
        if test_size is not None:
            raise ValueError("--test-size does not apply with --test-data")
        split = f"training part from {path}, test part from {test_path}"
        return (*train, *test), f"{path} + {test_path}", split
    if len(train) == 4:
        if test_size is not None:
            raise ValueError(
                f"--test-size does not apply: {path} is already split "
                f"({', '.join(DATA_KEYS)})"
            )
        return train, str(path), "the file's own train/test split"
    X, Y = train
    Y = _as_labels(Y, "Y")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but Y has {Y.shape[0]}")
    size = 0.25 if test_size is None else test_size
    X_train, X_test, Y_train, Y_test = multilabel_train_test_split(
        X, Y, test_size=size, random_state=random_state, stratify=Y
    )
    split = (
        f"stratified split (multilabel_train_test_split, test_size={size}, "
        f"random_state={random_state})"
    )
    return (X_train, Y_train, X_test, Y_test), str(path), split


def _check_parts(data):
    """Raise if the parts of ``data`` do not fit a benchmark."""
    for part in ("train", "test"):
        X, Y = data[f"X_{part}"], data[f"Y_{part}"]
        if X.ndim != 2:
            raise ValueError(f"X_{part} must be 2-D; got shape {X.shape}")
        if X.shape[0] != Y.shape[0]:
            raise ValueError(
                f"X_{part} has {X.shape[0]} rows but Y_{part} has {Y.shape[0]}"
            )
        if X.shape[0] == 0:
            raise ValueError(f"the {part}ing part is empty")
        values = X.data if sp.issparse(X) else X
        if not np.isfinite(values).all():
            raise ValueError(
                f"X_{part} has missing or infinite values; impute them first "
                "(e.g. sklearn.impute.SimpleImputer) or drop those columns"
            )
    for matrix, what in (("X", "features"), ("Y", "labels")):
        n_train = data[f"{matrix}_train"].shape[1]
        n_test = data[f"{matrix}_test"].shape[1]
        if n_train != n_test:
            raise ValueError(
                f"{matrix}_train has {n_train} {what} but {matrix}_test has {n_test}"
            )
    if data["Y_train"].shape[1] < 2:
        raise ValueError("the benchmark needs at least 2 labels")
    for key, matrix, what in (
        ("label_names", "Y_train", "label columns"),
        ("feature_names", "X_train", "feature columns"),
    ):
        names = data.get(key)
        if names is not None and len(names) != data[matrix].shape[1]:
            raise ValueError(
                f"{key} has {len(names)} names but the data has "
                f"{data[matrix].shape[1]} {what}"
            )


def load_data(
    path=None,
    *,
    test_path=None,
    test_size=None,
    n_train=None,
    n_test=None,
    random_state=0,
    **arff_options,
):
    """Load a multi-label data set as training and test parts.

    Parameters
    ----------
    path : str or path-like, default=None
        A ``.npz`` file holding ``X_train, Y_train, X_test, Y_test``, or ``X``
        and ``Y``; or a multi-label ARFF file (``.arff``, ``.arff.gz``, read by
        :func:`sknc.datasets.load_arff`). None: the built-in multi-label
        digits (:func:`sknc.datasets.make_multilabel_digits`).
    test_path : str or path-like, default=None
        A second file with the test part (``X`` and ``Y`` in a ``.npz``, or
        ARFF); ``path`` then holds the training part.
    test_size : float or int, default=None
        For data not yet split: the test fraction or number of rows of the
        stratified split (:func:`sknc.model_selection.multilabel_train_test_split`);
        None: 0.25.
    n_train, n_test : int, default=None
        Digits only: training and test images per multiplicity (single digits
        and pairs); None: 1000 and 500.
    random_state : int, default=0
        Seed of the split, or of the digits (``random_state`` for the
        training images, ``random_state + 1`` for the test images).
    **arff_options
        ``n_labels``, ``xml``, ``label_location``, ``encode_nominal`` of
        :func:`sknc.datasets.load_arff`; only the ones given.

    Returns
    -------
    data : dict
        ``X_train, Y_train, X_test, Y_test`` (features float32, dense or CSR;
        labels uint8), ``source`` and ``split``, which describe them, and
        ``label_names`` and ``feature_names``: lists of strings (a .npz's
        ``label_names`` and ``feature_names`` arrays, an ARFF file's
        attribute names, the digits 0 to 9), or None.

    Raises
    ------
    FileNotFoundError
        If a file does not exist.
    ValueError
        If a file cannot be read or lacks arrays, if the labels are not a 0/1
        indicator, if the parts do not fit together, or if options do not
        apply to the data.
    """
    arff_options = {k: v for k, v in arff_options.items() if v not in (None, False)}
    if path is None:
        if test_path is not None or test_size is not None or arff_options:
            raise ValueError(
                "--test-data, --test-size and the ARFF options need --data"
            )
        n_train = DIGITS_SIZES[0] if n_train is None else n_train
        n_test = DIGITS_SIZES[1] if n_test is None else n_test
        parts = digits_split(n_train, n_test, random_state)
        names = {"label_names": [str(k) for k in range(10)], "feature_names": None}
        source = "built-in multi-label digits (make_multilabel_digits)"
        split = (
            f"{n_train} single digits and {n_train} pairs for training, "
            f"{n_test} + {n_test} for testing"
        )
    else:
        if n_train is not None or n_test is not None:
            raise ValueError("--n-train and --n-test apply to the built-in digits only")
        names = {}
        parts, source, split = _split_files(
            path, test_path, test_size, random_state, arff_options, names
        )
    data = {
        key: _as_features(part) if key.startswith("X") else _as_labels(part, key)
        for key, part in zip(DATA_KEYS, parts, strict=True)
    }
    data["label_names"] = names.get("label_names")
    data["feature_names"] = names.get("feature_names")
    _check_parts(data)
    data["source"] = source
    data["split"] = split
    return data


def preprocess(X_train, X_test, scaling="auto"):
    """Scale the features as the benchmark does.

    Parameters
    ----------
    X_train, X_test : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Features.
    scaling : {'auto', 'standard', 'none'}, default='auto'
        ``'standard'``: a :class:`~sklearn.preprocessing.StandardScaler`
        fitted on ``X_train`` (without centering for sparse data); ``'auto'``:
        the same unless every training value is 0 or 1, as word indicators
        are, which are left as they are; ``'none'``: no scaling.

    Returns
    -------
    X_train, X_test : {ndarray, sparse matrix}
        The features, float32.
    note : str
        What was done, in words.
    """
    if scaling == "auto":
        if is_binary(X_train):
            return X_train, X_test, "left as they are (all training values are 0 or 1)"
        scaling = "standard"
    if scaling == "none":
        return X_train, X_test, "left as they are (--scaling none)"
    scaler = standard_scaler(X_train).fit(X_train)
    note = "StandardScaler fitted on the training part" + (
        " (sparse: scaled, not centred)" if sp.issparse(X_train) else ""
    )
    X_train = scaler.transform(X_train).astype(np.float32)
    X_test = scaler.transform(X_test).astype(np.float32)
    return X_train, X_test, note


def describe(data):
    """One line on the size of the data.

    Parameters
    ----------
    data : dict
        As returned by :func:`load_data`.

    Returns
    -------
    text : str
        Rows, features, labels and label cardinality, with the first names
        of the labels and features when the data has them.
    """
    X_train, Y_train, Y_test = data["X_train"], data["Y_train"], data["Y_test"]
    label_names = data.get("label_names")
    feature_names = data.get("feature_names")
    text = (
        f"{X_train.shape[0]} training and {Y_test.shape[0]} test rows, "
        f"{X_train.shape[1]} features{' (sparse)' if sp.issparse(X_train) else ''}"
        f"{_listed(feature_names, 3)}, {Y_train.shape[1]} labels"
        f"{_listed(label_names, 8)}, {Y_train.sum(1).mean():.2f} labels per "
        f"training row"
    )
    never = np.flatnonzero(Y_train.sum(0) == 0)
    if never.size:
        text += f"; {never.size} label(s) never positive in training"
        if label_names is not None:
            text += f" ({', '.join(label_names[k] for k in never[:8])}"
            text += ", ...)" if never.size > 8 else ")"
    return text


def _listed(names, limit):
    if not names:
        return ""
    more = ", ..." if len(names) > limit else ""
    return f" ({', '.join(names[:limit])}{more})"
