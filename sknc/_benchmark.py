"""``python -m sknc benchmark``: sknc against the usual scikit-learn estimators.

The pieces are usable on their own (the repository's ``benchmarks`` scripts
may reuse them): :func:`load_data` reads a data set, :func:`preprocess`
scales it, :func:`make_estimator` builds a method by its key,
:func:`label_scores`, :func:`score_predictions` and :func:`n_trainable_params`
measure a fitted model, :func:`run_benchmark` fits and scores a list of
methods, and :func:`format_report` writes the result as text, Markdown, CSV
or JSON. :class:`ConstantLabels` lets a multi-label estimator ignore labels
that are constant in training.
"""

import argparse
import csv
import io
import json
import re
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    hamming_loss,
    label_ranking_average_precision_score,
)
from sklearn.multiclass import OneVsRestClassifier
from sklearn.multioutput import ClassifierChain
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from ._classifier import FixedETFClassifier, PALClassifier
from ._modules import MLPBackbone
from .datasets import load_arff, make_multilabel_digits
from .model_selection import multilabel_train_test_split

# key -> name shown in the report, in report order
METHODS = {
    "pal": "PALClassifier",
    "etf": "FixedETFClassifier",
    "mlp": "MLPClassifier",
    "bce": "BCE net (sknc backbone)",
    "ovr-lr": "OneVsRest(LogisticRegression)",
    "cc-lr": "ClassifierChain(LogisticRegression)",
    "knn": "KNeighborsClassifier",
}
DEFAULT_METHODS = ("pal", "etf", "mlp", "ovr-lr", "cc-lr", "knn")
_ALIASES = {"br-lr": "ovr-lr"}  # the name used by benchmarks/bench_suite.py
TORCH_METHODS = ("pal", "etf", "bce")

# key, header, decimals, higher is better
METRICS = (
    ("micro_f1", "micro-F1", 3, True),
    ("macro_f1", "macro-F1", 3, True),
    ("subset_acc", "subset acc", 3, True),
    ("hamming", "Hamming loss", 4, False),
    ("lrap", "LRAP", 3, True),
)
# the other columns: key, header
COSTS = (("fit_s", "fit s"), ("predict_s", "predict s"), ("params", "params"))
DATA_KEYS = ("X_train", "Y_train", "X_test", "Y_test")
FORMATS = ("text", "markdown", "csv", "json")
DIGITS_SIZES = (1000, 500)  # training and test samples per multiplicity


# ---------------------------------------------------------------- estimators
class ConstantLabels(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Fit a multi-label estimator on the labels that vary in training.

    A label with a single value in the training data (a label that never
    occurs, for instance) is predicted as that value; the wrapped estimator
    sees only the other labels. Estimators that fit one binary classifier per
    label on that label alone, such as
    :class:`~sklearn.linear_model.LogisticRegression` inside a
    :class:`~sklearn.multioutput.ClassifierChain`, fail on a label with a
    single class.

    Parameters
    ----------
    estimator : estimator object
        A multi-label classifier with ``predict`` and, for
        :meth:`predict_proba`, ``predict_proba`` returning an array of shape
        ``(n_samples, n_varying_labels)``.

    Attributes
    ----------
    estimator_ : estimator object or None
        The estimator fitted on the varying labels; None when every label is
        constant.
    constant_ : ndarray of shape (n_labels,), dtype bool
        Which labels are constant in training.
    values_ : ndarray of shape (n_labels,)
        The first training row of ``Y``: the value of each constant label.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.multioutput import ClassifierChain
    >>> from sknc._benchmark import ConstantLabels
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> Y = np.array([[0, 0], [0, 0], [1, 0], [1, 0]])
    >>> clf = ConstantLabels(ClassifierChain(LogisticRegression())).fit(X, Y)
    >>> clf.constant_
    array([False,  True])
    >>> clf.predict([[0.0], [3.0]])
    array([[0, 0],
           [1, 0]])
    """

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, X, Y):
        """Fit the estimator on the labels that are not constant.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training features.
        Y : array-like of shape (n_samples, n_labels)
            The 0/1 label indicator.

        Returns
        -------
        self : ConstantLabels
            The fitted estimator.
        """
        Y = np.asarray(Y)
        self.values_ = Y[0].copy()
        self.constant_ = (Y == Y[0]).all(axis=0)
        self.estimator_ = None
        if not self.constant_.all():
            self.estimator_ = clone(self.estimator).fit(X, Y[:, ~self.constant_])
        return self

    def _fill(self, X, method, dtype):
        out = np.tile(self.values_.astype(dtype), (X.shape[0], 1))
        if self.estimator_ is not None:
            out[:, ~self.constant_] = getattr(self.estimator_, method)(X)
        return out

    def predict(self, X):
        """Predict the label indicator.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Features.

        Returns
        -------
        Y : ndarray of shape (n_samples, n_labels)
            The predicted labels; constant labels take their training value.
        """
        X = X if sp.issparse(X) else np.asarray(X)
        return self._fill(X, "predict", self.values_.dtype)

    def predict_proba(self, X):
        """Predict the probability of each label.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Features.

        Returns
        -------
        P : ndarray of shape (n_samples, n_labels)
            The probabilities of the wrapped estimator; a constant label has
            probability 1 or 0, its training value.
        """
        X = X if sp.issparse(X) else np.asarray(X)
        return self._fill(X, "predict_proba", np.float64)


class _BCENet(torch.nn.Module):
    """sknc's default backbone followed by a linear layer to the logits."""

    def __init__(self, n_features, n_labels, feature_dim=256):
        super().__init__()
        self.backbone = MLPBackbone(n_features, feature_dim, hidden_layer_sizes=(512,))
        self.head = torch.nn.Linear(feature_dim, n_labels)

    def forward(self, X):
        return self.head(self.backbone(X))


class BCENetClassifier(ClassifierMixin, BaseEstimator):
    """The usual neural multi-label baseline: sigmoid outputs and binary CE.

    sknc's default backbone (an MLP with a hidden layer of 512 units, batch
    normalization and 256 features) with a linear head, trained with
    ``BCEWithLogitsLoss`` and the optimizer settings of sknc's defaults
    (AdamW, learning rate 1e-3, weight decay 5e-4, batches of 128); a label
    is predicted when its probability is at least 0.5.

    Parameters
    ----------
    max_epochs : int, default=100
        Training epochs.
    random_state : int, default=0
        Seed of the weights and of the batch order.
    device : str, default='cpu'
        Torch device.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The fitted network; ``predict_proba`` of it returns the logits.
    n_trainable_params_ : int
        Trainable parameters of the network.
    """

    def __init__(self, max_epochs=100, random_state=0, device="cpu"):
        self.max_epochs = max_epochs
        self.random_state = random_state
        self.device = device

    @staticmethod
    def _as_input(X):
        if sp.issparse(X):
            return sp.csr_matrix(X, dtype=np.float32)
        return np.asarray(X, dtype=np.float32)

    def fit(self, X, Y):
        """Train the network.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training features.
        Y : array-like of shape (n_samples, n_labels)
            The 0/1 label indicator.

        Returns
        -------
        self : BCENetClassifier
            The fitted estimator.
        """
        import skorch

        X = self._as_input(X)
        Y = np.asarray(Y, dtype=np.float32)
        torch.manual_seed(self.random_state)
        self.net_ = skorch.NeuralNet(
            _BCENet,
            module__n_features=X.shape[1],
            module__n_labels=Y.shape[1],
            criterion=torch.nn.BCEWithLogitsLoss,
            optimizer=torch.optim.AdamW,
            optimizer__weight_decay=5e-4,
            lr=1e-3,
            max_epochs=self.max_epochs,
            batch_size=128,
            iterator_train__shuffle=True,
            train_split=None,
            predict_nonlinearity=None,
            device=self.device,
            verbose=0,
        ).fit(X, Y)
        self.n_trainable_params_ = sum(
            p.numel() for p in self.net_.module_.parameters() if p.requires_grad
        )
        return self

    def decision_function(self, X):
        """Return the logits, shape ``(n_samples, n_labels)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Features.

        Returns
        -------
        logits : ndarray of shape (n_samples, n_labels)
            One logit per label.
        """
        return np.asarray(self.net_.predict_proba(self._as_input(X)))

    def predict_proba(self, X):
        """Return the sigmoid of the logits.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Features.

        Returns
        -------
        P : ndarray of shape (n_samples, n_labels)
            The probability of each label.
        """
        return 1.0 / (1.0 + np.exp(-self.decision_function(X)))

    def predict(self, X):
        """Predict the labels whose probability is at least 0.5.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Features.

        Returns
        -------
        Y : ndarray of shape (n_samples, n_labels), dtype uint8
            The predicted label indicator.
        """
        return (self.decision_function(X) >= 0).astype(np.uint8)


def make_estimator(key, *, max_epochs=None, random_state=0, device="cpu"):
    """Build the method ``key`` (a key of :data:`METHODS`).

    Parameters
    ----------
    key : str
        One of ``'pal'``, ``'etf'``, ``'mlp'``, ``'bce'``, ``'ovr-lr'`` (alias
        ``'br-lr'``), ``'cc-lr'``, ``'knn'``.
    max_epochs : int, default=None
        Epochs of the neural methods (sknc, the BCE net and
        ``MLPClassifier``'s ``max_iter``). None: sknc's and the BCE net's 100,
        ``MLPClassifier(max_iter=300)``.
    random_state : int, default=0
        Seed of the neural methods; the others are deterministic.
    device : str, default='cpu'
        Torch device of sknc and the BCE net.

    Returns
    -------
    estimator : estimator object
        Unfitted; ``fit(X, Y)`` takes a 0/1 label indicator ``Y``.
    """
    key = _ALIASES.get(key, key)
    epochs = {} if max_epochs is None else {"max_epochs": max_epochs}
    if key in ("pal", "etf"):
        cls = PALClassifier if key == "pal" else FixedETFClassifier
        return cls(random_state=random_state, device=device, **epochs)
    if key == "bce":
        return BCENetClassifier(random_state=random_state, device=device, **epochs)
    if key == "mlp":
        max_iter = 300 if max_epochs is None else max_epochs
        return MLPClassifier(max_iter=max_iter, random_state=random_state)
    if key == "ovr-lr":
        return OneVsRestClassifier(LogisticRegression(max_iter=1000))
    if key == "cc-lr":
        return ConstantLabels(ClassifierChain(LogisticRegression(max_iter=1000)))
    if key == "knn":
        return KNeighborsClassifier()
    raise ValueError(f"unknown method {key!r}; choose from {', '.join(METHODS)}")


# ------------------------------------------------------------------ metrics
def label_scores(estimator, X, response="auto"):
    """Per-label scores of a fitted multi-label estimator, for ranking metrics.

    As scikit-learn's ranking scorers do: ``decision_function`` where the
    estimator has one (sknc and the BCE net: the logits), else the
    probability of the positive class from ``predict_proba``. One exception:
    a :class:`~sklearn.multiclass.OneVsRestClassifier` with ``predict_proba``
    is scored by it. Its ``decision_function`` gives a label that is constant
    in training the margin 0 (the constant), which ranks a label that never
    occurred above the labels with negative margins; its probabilities give
    such a label 0 and, for logistic regression, rank the other labels as
    the margins do.

    Parameters
    ----------
    estimator : estimator object
        A fitted multi-label classifier.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Features.
    response : {'auto', 'proba'}, default='auto'
        ``'proba'`` uses ``predict_proba`` even when there is a
        ``decision_function``.

    Returns
    -------
    scores : ndarray of shape (n_samples, n_labels)
        Higher means more likely.
    """
    proba_first = isinstance(estimator, OneVsRestClassifier) and hasattr(
        estimator, "predict_proba"
    )
    if (
        response == "auto"
        and hasattr(estimator, "decision_function")
        and not (proba_first)
    ):
        scores = estimator.decision_function(X)
    else:
        scores = estimator.predict_proba(X)
    if isinstance(scores, list):  # multi-output: one (n, n_classes) per label
        columns = []
        for classes, proba in zip(estimator.classes_, scores, strict=True):
            classes = list(classes)
            if 1 in classes:
                columns.append(proba[:, classes.index(1)])
            else:  # the label is never positive in training
                columns.append(np.zeros(proba.shape[0]))
        scores = np.column_stack(columns)
    if sp.issparse(scores):
        scores = scores.toarray()
    return np.asarray(scores, dtype=np.float64)


def score_predictions(Y_true, Y_pred, Y_score):
    """Quality metrics of a multi-label prediction.

    Parameters
    ----------
    Y_true, Y_pred : array-like of shape (n_samples, n_labels)
        True and predicted 0/1 label indicators.
    Y_score : array-like of shape (n_samples, n_labels)
        Per-label scores (see :func:`label_scores`), for the LRAP.

    Returns
    -------
    scores : dict
        ``micro_f1``, ``macro_f1`` (``zero_division=0``), ``subset_acc``,
        ``hamming`` (the Hamming loss) and ``lrap`` (label-ranking average
        precision), as floats.
    """
    if sp.issparse(Y_pred):
        Y_pred = Y_pred.toarray()
    Y_pred = np.asarray(Y_pred).astype(np.uint8)
    Y_true = np.asarray(Y_true).astype(np.uint8)
    return {
        "micro_f1": float(f1_score(Y_true, Y_pred, average="micro", zero_division=0)),
        "macro_f1": float(f1_score(Y_true, Y_pred, average="macro", zero_division=0)),
        "subset_acc": float(accuracy_score(Y_true, Y_pred)),
        "hamming": float(hamming_loss(Y_true, Y_pred)),
        "lrap": float(label_ranking_average_precision_score(Y_true, Y_score)),
    }


def _linear_params(estimators):
    return sum(
        e.coef_.size + e.intercept_.size for e in estimators if hasattr(e, "coef_")
    )


def n_trainable_params(estimator):
    """Trainable parameters of a fitted estimator, or None if it has none.

    Parameters
    ----------
    estimator : estimator object
        A fitted estimator of :func:`make_estimator`, or any estimator with
        ``n_trainable_params_``, ``coefs_`` (MLP), ``coef_`` or ``estimators_``
        of linear models.

    Returns
    -------
    n : int or None
        None for a non-parametric method such as k-NN.
    """
    if hasattr(estimator, "n_trainable_params_"):
        return int(estimator.n_trainable_params_)
    if isinstance(estimator, ConstantLabels):
        inner = estimator.estimator_
        return 0 if inner is None else n_trainable_params(inner)
    if hasattr(estimator, "coefs_"):  # MLPClassifier
        return int(
            sum(c.size for c in estimator.coefs_)
            + sum(b.size for b in estimator.intercepts_)
        )
    if hasattr(estimator, "coef_"):
        return int(estimator.coef_.size + np.size(estimator.intercept_))
    if hasattr(estimator, "estimators_"):
        return int(_linear_params(estimator.estimators_))
    return None


# --------------------------------------------------------------------- data
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
    if sp.issparse(Y):
        Y = Y.toarray()
    Y = np.asarray(Y)
    if Y.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D 0/1 label indicator of shape (n_samples, "
            f"n_labels); got shape {Y.shape}"
        )
    if Y.dtype.kind not in "biuf" or not np.isin(Y, (0, 1)).all():
        raise ValueError(f"{name} must hold only 0 and 1 (a label indicator)")
    return Y.astype(np.uint8)


def _read_npz(path):
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except Exception as exc:
        raise ValueError(f"{path}: not a readable .npz file ({exc})") from exc


def _read(path, arff_options, flags, role):
    """``(X, Y)`` or ``(X_train, Y_train, X_test, Y_test)`` from one file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{role}: file not found: {path}")
    name = path.name.lower()
    if name.endswith(".npz"):
        if flags:
            raise ValueError(f"{', '.join(flags)}: only for ARFF files, not for {path}")
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
        if "X_train" in arrays:
            return tuple(arrays[key] for key in DATA_KEYS)
        return arrays["X"], arrays["Y"]
    if name.endswith((".arff", ".arff.gz")):
        X, Y = load_arff(path, return_X_y=True, **arff_options)
        return X, Y
    raise ValueError(
        f"{role}: {path}: unknown file type; expected a .npz file or an ARFF file "
        "(.arff or .arff.gz)"
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
        labels uint8) and ``source`` and ``split``, which describe them.

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
    option_names = {
        "n_labels": "--n-labels",
        "xml": "--xml",
        "label_location": "--label-location",
        "encode_nominal": "--encode-nominal",
    }
    flags = [option_names.get(k, k) for k in arff_options]
    if path is None:
        if test_path is not None or test_size is not None or flags:
            raise ValueError(
                "--test-data, --test-size and the ARFF options need --data"
            )
        n_train = DIGITS_SIZES[0] if n_train is None else n_train
        n_test = DIGITS_SIZES[1] if n_test is None else n_test
        X_train, Y_train = make_multilabel_digits(
            (n_train, n_train), random_state=random_state
        )
        X_test, Y_test = make_multilabel_digits(
            (n_test, n_test), random_state=random_state + 1
        )
        source = "built-in multi-label digits (make_multilabel_digits)"
        split = (
            f"{n_train} single digits and {n_train} pairs for training, "
            f"{n_test} + {n_test} for testing"
        )
    else:
        if n_train is not None or n_test is not None:
            raise ValueError("--n-train and --n-test apply to the built-in digits only")
        train = _read(path, arff_options, flags, "--data")
        source = str(path)
        if test_path is not None:
            if len(train) == 4:
                raise ValueError(
                    f"{path} is already split ({', '.join(DATA_KEYS)}); "
                    "drop --test-data"
                )
            test = _read(test_path, arff_options, flags, "--test-data")
            if len(test) == 4:
                raise ValueError(
                    f"--test-data: {test_path} must hold X and Y, not a split"
                )
            if test_size is not None:
                raise ValueError("--test-size does not apply with --test-data")
            (X_train, Y_train), (X_test, Y_test) = train, test
            split = f"training part from {path}, test part from {test_path}"
            source = f"{path} + {test_path}"
        elif len(train) == 4:
            if test_size is not None:
                raise ValueError(
                    f"--test-size does not apply: {path} is already split "
                    f"({', '.join(DATA_KEYS)})"
                )
            X_train, Y_train, X_test, Y_test = train
            split = "the file's own train/test split"
        else:
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
    data = {
        "X_train": _as_features(X_train),
        "Y_train": _as_labels(Y_train, "Y_train"),
        "X_test": _as_features(X_test),
        "Y_test": _as_labels(Y_test, "Y_test"),
    }
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
    if data["X_train"].shape[1] != data["X_test"].shape[1]:
        raise ValueError(
            f"X_train has {data['X_train'].shape[1]} features but X_test has "
            f"{data['X_test'].shape[1]}"
        )
    if data["Y_train"].shape[1] != data["Y_test"].shape[1]:
        raise ValueError(
            f"Y_train has {data['Y_train'].shape[1]} labels but Y_test has "
            f"{data['Y_test'].shape[1]}"
        )
    if data["Y_train"].shape[1] < 2:
        raise ValueError("the benchmark needs at least 2 labels")
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
    sparse = sp.issparse(X_train)
    scaler = StandardScaler(with_mean=not sparse).fit(X_train)
    note = "StandardScaler fitted on the training part" + (
        " (sparse: scaled, not centred)" if sparse else ""
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
        Rows, features, labels and label cardinality.
    """
    X_train, Y_train, Y_test = data["X_train"], data["Y_train"], data["Y_test"]
    text = (
        f"{X_train.shape[0]} training and {Y_test.shape[0]} test rows, "
        f"{X_train.shape[1]} features{' (sparse)' if sp.issparse(X_train) else ''}, "
        f"{Y_train.shape[1]} labels, {Y_train.sum(1).mean():.2f} labels per "
        f"training row"
    )
    never = int((Y_train.sum(0) == 0).sum())
    if never:
        text += f"; {never} label(s) never positive in training"
    return text


# ------------------------------------------------------------------- runner
def _warm_up(device):
    """One tiny fit, so that torch's one-off set-up is not in the timings."""
    rng = np.random.RandomState(0)
    X = rng.randn(64, 8).astype(np.float32)
    Y = (rng.rand(64, 3) < 0.4).astype(np.uint8)
    PALClassifier(max_epochs=1, random_state=0, device=device).fit(X, Y).predict(X)


def _first_line(exc):
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:300]


def run_benchmark(
    data,
    methods=DEFAULT_METHODS,
    *,
    max_epochs=None,
    random_state=0,
    device="cpu",
    log=None,
):
    """Fit every method on the training part and score it on the test part.

    Parameters
    ----------
    data : dict
        ``X_train, Y_train, X_test, Y_test``, preprocessed.
    methods : sequence of str, default=DEFAULT_METHODS
        Keys of :data:`METHODS`.
    max_epochs, random_state, device
        Passed to :func:`make_estimator`.
    log : callable, default=None
        Called with one progress line per method; None: silent.

    Returns
    -------
    results : list of dict
        One per method that ran: ``method`` (key), ``name``, the metrics of
        :func:`score_predictions`, ``fit_s``, ``predict_s`` and ``params``.
    failures : list of dict
        ``method``, ``name`` and ``error`` for each method that raised.
    warnings : list of dict
        ``method``, ``category``, ``message`` and ``count`` of the warnings
        raised while fitting and predicting.
    """
    log = log or (lambda message: None)
    X_train, Y_train = data["X_train"], data["Y_train"]
    X_test, Y_test = data["X_test"], data["Y_test"]
    if any(key in TORCH_METHODS for key in methods):
        _warm_up(device)
    results, failures, caught_warnings = [], [], []
    for i, key in enumerate(methods, start=1):
        name = METHODS[key]
        prefix = f"[{i}/{len(methods)}] {name}"
        log(f"{prefix}: fitting ...")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                est = make_estimator(
                    key,
                    max_epochs=max_epochs,
                    random_state=random_state,
                    device=device,
                )
                start = time.perf_counter()
                est.fit(X_train, Y_train)
                fit_s = time.perf_counter() - start
                start = time.perf_counter()
                Y_pred = est.predict(X_test)
                predict_s = time.perf_counter() - start
                row = {
                    "method": key,
                    "name": name,
                    **score_predictions(Y_test, Y_pred, label_scores(est, X_test)),
                    "fit_s": fit_s,
                    "predict_s": predict_s,
                    "params": n_trainable_params(est),
                }
        except Exception as exc:  # one failure must not end the run
            error = _first_line(exc)
            failures.append({"method": key, "name": name, "error": error})
            log(f"{prefix}: FAILED, {error}")
            continue
        counts = {}  # messages that differ only in numbers count together
        for w in caught:
            text = " ".join(str(w.message).split())[:200]
            entry = (w.category.__name__, re.sub(r"\d+", "#", text))
            first, count, differs = counts.get(entry, (text, 0, False))
            counts[entry] = (first, count + 1, differs or text != first)
        for (category, _), (text, count, differs) in counts.items():
            caught_warnings.append(
                {"method": key, "category": category, "message": text, "count": count}
            )
            similar = " (and similar)" if differs else ""
            log(f"{prefix}: {count} x {category}: {text}{similar}")
        results.append(row)
        log(
            f"{prefix}: fit {fit_s:.2f} s, predict {predict_s:.2f} s, "
            f"micro-F1 {row['micro_f1']:.3f}, subset acc {row['subset_acc']:.3f}"
        )
    return results, failures, caught_warnings


def leaders(results):
    """Return the method(s) that lead each metric.

    Values are compared at the precision the table shows them, so that ties
    in the table are ties here.

    Parameters
    ----------
    results : list of dict
        As returned by :func:`run_benchmark`.

    Returns
    -------
    best : dict
        Metric key -> list of the leading methods' names.
    """
    best = {}
    for key, _, decimals, higher in METRICS:
        values = [round(row[key], decimals) for row in results]
        if not values:
            continue
        top = max(values) if higher else min(values)
        best[key] = [
            row["name"] for row, v in zip(results, values, strict=True) if v == top
        ]
    return best


# --------------------------------------------------------------- formatting
def _cell(row, key):
    value = row[key]
    if value is None:
        return "-"
    for metric, _, decimals, _ in METRICS:
        if key == metric:
            return f"{value:.{decimals}f}"
    if key in ("fit_s", "predict_s"):
        return f"{value:.2f}"
    return str(value)


def _header_lines(report):
    lines = [
        f"Data: {report['data']['source']}: {report['data']['description']}",
        f"Split: {report['data']['split']}",
        f"Features: {report['preprocessing']}",
        f"Settings: {report['settings_text']}",
    ]
    return lines


def _best_lines(report):
    headers = {key: header for key, header, _, _ in METRICS}
    return [
        f"{headers[key]}: {', '.join(names)}" for key, names in report["best"].items()
    ]


def _text_table(header, rows, align_left=1):
    widths = [
        max(len(str(line[j])) for line in [header, *rows]) for j in range(len(header))
    ]

    def fmt(line):
        cells = [
            str(c).ljust(w) if j < align_left else str(c).rjust(w)
            for j, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    return "\n".join(
        [fmt(header), "  ".join("-" * w for w in widths)] + [fmt(row) for row in rows]
    )


def format_report(report, fmt="text"):
    """Write a benchmark report as text.

    Parameters
    ----------
    report : dict
        ``data`` (``source``, ``description``, ``split``), ``preprocessing``,
        ``settings``, ``settings_text``, ``results``, ``failures``,
        ``warnings`` and ``best``, as :func:`benchmark` builds it.
    fmt : {'text', 'markdown', 'csv', 'json'}, default='text'
        Plain text (an aligned table), a Markdown table (the leading value of
        each metric in bold), CSV (one row per method, no header lines) or
        JSON (the whole report).

    Returns
    -------
    text : str
        Ends with a newline.
    """
    results = report["results"]
    columns = [key for key, *_ in METRICS] + [key for key, _ in COSTS]
    headers = [h for _, h, *_ in METRICS] + [h for _, h in COSTS]
    if fmt == "json":
        public = {k: v for k, v in report.items() if k != "settings_text"}
        return json.dumps(public, indent=2) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["method", "name", *columns])
        for row in results:
            writer.writerow(
                [row["method"], row["name"]]
                + ["" if row[c] is None else row[c] for c in columns]
            )
        return buffer.getvalue()
    note = (
        "Higher is better, except Hamming loss; macro-F1 with zero_division=0; "
        "LRAP from decision_function (predict_proba for one-vs-rest, k-NN, "
        "MLP and the chain); params: trainable parameters (- for k-NN)."
    )
    failures = [f"{f['name']}: {f['error']}" for f in report["failures"]]
    if fmt == "markdown":
        best_names = report["best"]
        lines = [f"- {line}" for line in _header_lines(report)]
        lines += ["", "| method | " + " | ".join(headers) + " |"]
        lines.append("|---|" + "---:|" * len(headers))
        for row in results:
            cells = []
            for c in columns:
                text = _cell(row, c)
                if row["name"] in best_names.get(c, ()):
                    text = f"**{text}**"
                cells.append(text)
            lines.append(f"| {row['name']} | " + " | ".join(cells) + " |")
        lines += ["", note]
        if report["best"]:
            lines += ["", "Best:", ""] + [f"- {line}" for line in _best_lines(report)]
        if failures:
            lines += ["", "Failed:", ""] + [f"- {line}" for line in failures]
        return "\n".join(lines) + "\n"
    if fmt != "text":
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}; got {fmt!r}")
    lines = _header_lines(report) + [""]
    if results:
        lines.append(
            _text_table(
                ["method", *headers],
                [[row["name"]] + [_cell(row, c) for c in columns] for row in results],
            )
        )
        lines += ["", *textwrap.wrap(note, 79)]
    if report["best"]:
        lines += ["", "Best:"] + [f"  {line}" for line in _best_lines(report)]
    if failures:
        lines += ["", "Failed:"] + [f"  {line}" for line in failures]
    return "\n".join(lines) + "\n"


def benchmark(
    data,
    methods=DEFAULT_METHODS,
    *,
    scaling="auto",
    max_epochs=None,
    random_state=0,
    device="cpu",
    log=None,
):
    """Preprocess, fit, score and collect everything into a report.

    Parameters
    ----------
    data : dict
        As returned by :func:`load_data`.
    methods : sequence of str, default=DEFAULT_METHODS
        Keys of :data:`METHODS`.
    scaling : {'auto', 'standard', 'none'}, default='auto'
        See :func:`preprocess`.
    max_epochs, random_state, device
        See :func:`make_estimator`.
    log : callable, default=None
        Receives progress lines.

    Returns
    -------
    report : dict
        The input to :func:`format_report`.
    """
    log = log or (lambda message: None)
    description = describe(data)
    log(f"[data] {data['source']}: {description}")
    X_train, X_test, note = preprocess(data["X_train"], data["X_test"], scaling)
    log(f"[data] features: {note}")
    scaled = {**data, "X_train": X_train, "X_test": X_test}
    results, failures, caught = run_benchmark(
        scaled,
        methods,
        max_epochs=max_epochs,
        random_state=random_state,
        device=device,
        log=log,
    )
    sknc_epochs = PALClassifier().max_epochs if max_epochs is None else max_epochs
    mlp_iter = 300 if max_epochs is None else max_epochs
    settings = {
        "methods": list(methods),
        "max_epochs": max_epochs,
        "random_state": random_state,
        "device": device,
    }
    settings_text = (
        f"sknc with default parameters, {sknc_epochs} epochs"
        + (" (default)" if max_epochs is None else "")
        + f"; MLPClassifier max_iter={mlp_iter}; random_state={random_state}; "
        f"device={device}"
    )
    return {
        "data": {
            "source": data["source"],
            "description": description,
            "split": data["split"],
            "n_train": int(data["X_train"].shape[0]),
            "n_test": int(data["X_test"].shape[0]),
            "n_features": int(data["X_train"].shape[1]),
            "n_labels": int(data["Y_train"].shape[1]),
        },
        "preprocessing": note,
        "settings": settings,
        "settings_text": settings_text,
        "results": results,
        "best": leaders(results),
        "failures": failures,
        "warnings": caught,
    }


# ----------------------------------------------------------------------- CLI
DESCRIPTION = """\
Fit sknc's PALClassifier and FixedETFClassifier (default parameters) and the
scikit-learn estimators one would otherwise use on the same training data, and
score them all on the same test data: the built-in multi-label digits, or your
own data. Features are standardised (StandardScaler fitted on the training
part) unless every training value is 0 or 1."""

EPILOG = """\
method keys (default: all but bce):
  pal     sknc.PALClassifier()             etf     sknc.FixedETFClassifier()
  mlp     MLPClassifier(max_iter=300)      bce     sknc's backbone + BCE loss
  ovr-lr  OneVsRestClassifier(LogisticRegression(max_iter=1000))
  cc-lr   ClassifierChain(LogisticRegression(max_iter=1000)), labels constant
          in training predicted as that constant
  knn     KNeighborsClassifier()
  all     every method above

data files:
  --data FILE.npz   arrays X_train, Y_train, X_test, Y_test (Y: 0/1, shape
                    n_samples x n_labels), or X and Y (split with --test-size)
  --data FILE.arff  multi-label ARFF (Mulan: --xml or --n-labels; MEKA: the
                    relation's -C option is read), split with --test-size,
                    or with --test-data TEST.arff

output: a table of micro-F1, macro-F1 (zero_division=0), subset accuracy,
Hamming loss, label-ranking average precision (LRAP), fit and predict seconds
and trainable parameters, then the leading method of each metric. Progress
goes to stderr, results to stdout (or --out). Exit status: 0 when every method
ran, 1 when one failed (the others are still reported), 2 for usage errors.

examples:
  python -m sknc benchmark
  python -m sknc benchmark --data emotions.npz --format markdown
  python -m sknc benchmark --data yeast.arff --xml yeast.xml --test-size 0.3
  python -m sknc benchmark --data train.arff --test-data test.arff --n-labels 6
  python -m sknc benchmark --methods pal,ovr-lr,knn --max-epochs 30 \\
      --format json --out results.json
"""


def _method_list(text):
    keys = [k for k in text.replace(",", " ").split() if k]
    out = []
    for key in keys:
        key = _ALIASES.get(key, key)
        if key == "all":
            out.extend(METHODS)
        elif key in METHODS:
            out.append(key)
        else:
            raise argparse.ArgumentTypeError(
                f"unknown method {key!r}; choose from {', '.join(METHODS)} or all"
            )
    return out


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1; got {value}")
    return value


def _test_size(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value >= 1:
        if value != int(value):
            raise argparse.ArgumentTypeError(
                "a fraction in (0, 1) or a whole number of rows"
            )
        return int(value)
    if value <= 0:
        raise argparse.ArgumentTypeError(
            f"a fraction in (0, 1) or a number of rows; got {text}"
        )
    return value


def add_parser(subparsers):
    """Add the ``benchmark`` subcommand to an argparse ``subparsers`` object.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        From ``ArgumentParser.add_subparsers``.

    Returns
    -------
    parser : argparse.ArgumentParser
        The subcommand's parser.
    """
    parser = subparsers.add_parser(
        "benchmark",
        help="compare sknc with scikit-learn's multi-label estimators on the "
        "built-in digits or your own data",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--data",
        metavar="FILE",
        help=".npz or ARFF file (default: the built-in multi-label digits)",
    )
    data.add_argument(
        "--test-data",
        metavar="FILE",
        help="a separate test file (X and Y, or ARFF); --data is then the "
        "training part",
    )
    data.add_argument(
        "--test-size",
        type=_test_size,
        default=None,
        metavar="SIZE",
        help="test fraction, or number of rows, of the stratified split of data "
        "that is not split yet (default 0.25; iterative stratification can "
        "make the sizes differ slightly)",
    )
    data.add_argument(
        "--n-labels",
        type=_positive_int,
        metavar="N",
        help="ARFF: the number of label attributes (Mulan: the last N)",
    )
    data.add_argument("--xml", metavar="FILE", help="ARFF: Mulan XML label file")
    data.add_argument(
        "--label-location",
        choices=("start", "end"),
        help="ARFF: labels are the first or last --n-labels attributes",
    )
    data.add_argument(
        "--encode-nominal",
        action="store_true",
        help="ARFF: encode nominal features with non-numeric values as 0, 1, ...",
    )
    data.add_argument(
        "--n-train",
        type=_positive_int,
        metavar="N",
        help="digits: training images per multiplicity (default 1000: 1000 "
        "single digits and 1000 pairs)",
    )
    data.add_argument(
        "--n-test",
        type=_positive_int,
        metavar="N",
        help="digits: test images per multiplicity (default 500)",
    )
    data.add_argument(
        "--scaling",
        choices=("auto", "standard", "none"),
        default="auto",
        help="auto: StandardScaler unless all training values are 0/1 "
        "(default); standard: always; none: never",
    )
    model = parser.add_argument_group("methods")
    model.add_argument(
        "--methods",
        type=_method_list,
        nargs="+",
        default=None,
        metavar="METHOD",
        help="methods to compare, space- or comma-separated: "
        f"{', '.join(METHODS)}, all (default: {','.join(DEFAULT_METHODS)})",
    )
    model.add_argument(
        "--max-epochs",
        type=_positive_int,
        default=None,
        metavar="N",
        help="epochs of sknc and the BCE net, and MLPClassifier's max_iter "
        "(default: 100, 100 and 300)",
    )
    model.add_argument(
        "--random-state",
        type=int,
        default=0,
        metavar="SEED",
        help="seed of the neural methods, the split and the digits (default 0)",
    )
    model.add_argument(
        "--device",
        default="cpu",
        help="torch device of sknc and the BCE net: cpu, cuda, cuda:N or auto "
        "(default cpu)",
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text (default), markdown, csv or json",
    )
    out.add_argument(
        "--out", metavar="FILE", help="write the results to FILE, not to stdout"
    )
    out.add_argument(
        "-q", "--quiet", action="store_true", help="no progress lines on stderr"
    )
    return parser


def _resolve_device(device):
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: CUDA is not available on this machine")
    return device


def main(args, parser):
    """Run ``python -m sknc benchmark`` with parsed arguments.

    Parameters
    ----------
    args : argparse.Namespace
        From the parser of :func:`add_parser`.
    parser : argparse.ArgumentParser
        That parser, to report usage errors (exit status 2).

    Returns
    -------
    status : int
        0 when every method ran, 1 when at least one failed.
    """

    def log(message):
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    methods = DEFAULT_METHODS
    if args.methods is not None:
        flat = [key for group in args.methods for key in group]
        methods = [key for key in METHODS if key in flat]  # report order, unique
        if not methods:
            parser.error("--methods: no method given")
    try:
        device = _resolve_device(args.device)
        data = load_data(
            args.data,
            test_path=args.test_data,
            test_size=args.test_size,
            n_train=args.n_train,
            n_test=args.n_test,
            random_state=args.random_state,
            n_labels=args.n_labels,
            xml=args.xml,
            label_location=args.label_location,
            encode_nominal=args.encode_nominal,
        )
    except (OSError, ValueError, ImportError) as exc:
        parser.error(str(exc))
    start = time.perf_counter()
    report = benchmark(
        data,
        methods,
        scaling=args.scaling,
        max_epochs=args.max_epochs,
        random_state=args.random_state,
        device=device,
        log=log,
    )
    text = format_report(report, args.format)
    if args.out:
        path = Path(args.out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        log(f"[done] {time.perf_counter() - start:.0f} s; results written to {path}")
    else:
        sys.stdout.write(text)
        log(f"[done] {time.perf_counter() - start:.0f} s")
    return 1 if report["failures"] else 0
