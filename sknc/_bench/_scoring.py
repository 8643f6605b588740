"""What the benchmark measures of a fitted method: scores and parameters."""

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.metrics import (
    accuracy_score,
    coverage_error,
    f1_score,
    hamming_loss,
    label_ranking_average_precision_score,
)
from sklearn.multiclass import OneVsRestClassifier

from .._classifier import _PALNetBase
from ._estimators import ConstantLabels, LinearOneVsRest

__all__ = [
    "LOG_LOSS_EPS",
    "METRICS",
    "SCORES",
    "Metric",
    "label_probabilities",
    "label_scores",
    "multilabel_log_loss",
    "n_trainable_params",
    "score_predictions",
]

# probabilities are clipped to [LOG_LOSS_EPS, 1 - LOG_LOSS_EPS] for the log loss
LOG_LOSS_EPS = 1e-15


class Metric(NamedTuple):
    """A score of :func:`score_predictions`: how reports name and show it."""

    key: str
    header: str
    decimals: int
    higher: bool | None  # whether higher is better; None: a diagnostic

    def format(self, value):
        """``value`` with the metric's decimals."""
        return f"{value:.{self.decimals}f}"


# every score of score_predictions, by key: the one table of metric names
SCORES = {
    metric.key: metric
    for metric in (
        Metric("micro_f1", "micro-F1", 3, True),
        Metric("macro_f1", "macro-F1", 3, True),
        Metric("example_f1", "example-F1", 3, True),
        Metric("subset_acc", "subset acc", 3, True),
        Metric("hamming", "Hamming loss", 4, False),
        Metric("lrap", "LRAP", 3, True),
        Metric("coverage", "coverage error", 2, False),
        Metric("log_loss", "log loss", 4, False),
        Metric("pred_card", "labels/row", 2, None),
        Metric("empty_pred", "rows predicted empty", 3, None),
    )
}
# the columns of `python -m sknc benchmark` and of the benchmark suite
METRICS = tuple(
    SCORES[key]
    for key in (
        "micro_f1",
        "macro_f1",
        "subset_acc",
        "hamming",
        "lrap",
        "coverage",
        "log_loss",
    )
)


def label_scores(estimator, X, response="auto"):
    """Per-label scores of a fitted multi-label estimator, for ranking metrics.

    As scikit-learn's ranking scorers do: ``decision_function`` where the
    estimator has one (sknc and the BCE net: the logits), else the
    probability of the positive class from ``predict_proba``. Two exceptions
    are scored by ``predict_proba``. sknc's estimators: their probabilities
    are their per-label scores (the decoder's marginals, ties ordered by the
    logits), which rank a row's labels better than the logits on 6 of the 8
    shared data sets (issue 25); the logits are the network's PAL outputs.
    And a :class:`~sklearn.multiclass.OneVsRestClassifier` (or the
    benchmark's :class:`~sknc._bench.LinearOneVsRest`) with
    ``predict_proba``: its ``decision_function`` gives a label that is
    constant in training the margin 0 (the constant), which ranks a label
    that never occurred above the labels with negative margins; its
    probabilities give such a label 0 and, for logistic regression, rank the
    other labels as the margins do.

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
    proba_first = isinstance(
        estimator, OneVsRestClassifier | LinearOneVsRest | _PALNetBase
    ) and hasattr(estimator, "predict_proba")
    if (
        response == "auto"
        and hasattr(estimator, "decision_function")
        and not proba_first
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


def label_probabilities(estimator, X):
    """Per-label probabilities of a fitted estimator, or why it has none.

    Parameters
    ----------
    estimator : estimator object
        A fitted multi-label classifier.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Features.

    Returns
    -------
    proba : ndarray of shape (n_samples, n_labels) or None
        ``predict_proba``'s probability of each label (see
        :func:`label_scores`); None for an estimator without
        ``predict_proba``.
    reason : str or None
        Why there are no probabilities, in words; None when there are.
    """
    if hasattr(estimator, "predict_proba"):
        return label_scores(estimator, X, response="proba"), None
    inner = getattr(estimator, "estimator", estimator)
    return None, f"no probabilities ({type(inner).__name__} has no predict_proba)"


def multilabel_log_loss(Y_true, Y_proba, eps=LOG_LOSS_EPS):
    """Mean per-label binary log loss, the probabilities clipped.

    Parameters
    ----------
    Y_true : array-like of shape (n_samples, n_labels)
        True 0/1 label indicator.
    Y_proba : array-like of shape (n_samples, n_labels)
        Each label's probability.
    eps : float, default=LOG_LOSS_EPS
        The probabilities are clipped to ``[eps, 1 - eps]``, so that a
        certain mistake costs ``-log(eps)`` (34.5 with the default), not
        infinity.

    Returns
    -------
    loss : float
        The binary cross-entropy of each label averaged over the rows, then
        over the labels (equally: the mean over all entries).
    """
    Y_true = np.asarray(Y_true, dtype=np.float64)
    P = np.clip(np.asarray(Y_proba, dtype=np.float64), eps, 1 - eps)
    losses = -(Y_true * np.log(P) + (1 - Y_true) * np.log1p(-P))
    return float(losses.mean(axis=0).mean())


def score_predictions(Y_true, Y_pred, Y_score=None, Y_proba=None):
    """Quality metrics of a multi-label prediction, under the keys of :data:`SCORES`.

    Parameters
    ----------
    Y_true, Y_pred : array-like of shape (n_samples, n_labels)
        True and predicted 0/1 label indicators.
    Y_score : array-like of shape (n_samples, n_labels), default=None
        Per-label scores (see :func:`label_scores`), for the LRAP and the
        coverage error; None: neither.
    Y_proba : array-like of shape (n_samples, n_labels), default=None
        Per-label probabilities (see :func:`label_probabilities`), for the
        log loss. None: no log loss; with ``Y_score`` given, ``log_loss`` is
        NaN (a method with scores but no probabilities).

    Returns
    -------
    scores : dict
        ``micro_f1``, ``macro_f1`` and ``example_f1`` (F1 per row, averaged:
        scikit-learn's ``average='samples'``), all with ``zero_division=0``;
        ``subset_acc``, ``hamming`` (the Hamming loss), ``pred_card``
        (predicted labels per row), ``empty_pred`` (share of rows predicted
        with no label), given ``Y_score``, ``lrap`` (label-ranking average
        precision) and ``coverage`` (scikit-learn's ``coverage_error``: how
        far down the ranking one must go, on average, to cover every true
        label; lower is better) and, given ``Y_proba`` (or NaN with
        ``Y_score`` alone), ``log_loss`` (:func:`multilabel_log_loss`), as
        floats.
    """
    if sp.issparse(Y_pred):
        Y_pred = Y_pred.toarray()
    Y_pred = np.asarray(Y_pred).astype(np.uint8)
    Y_true = np.asarray(Y_true).astype(np.uint8)
    scores = {
        "micro_f1": f1_score(Y_true, Y_pred, average="micro", zero_division=0),
        "macro_f1": f1_score(Y_true, Y_pred, average="macro", zero_division=0),
        "example_f1": f1_score(Y_true, Y_pred, average="samples", zero_division=0),
        "subset_acc": accuracy_score(Y_true, Y_pred),
        "hamming": hamming_loss(Y_true, Y_pred),
        "pred_card": Y_pred.sum(1).mean(),
        "empty_pred": (Y_pred.sum(1) == 0).mean(),
    }
    if Y_score is not None:
        scores["lrap"] = label_ranking_average_precision_score(Y_true, Y_score)
        scores["coverage"] = coverage_error(Y_true, Y_score)
        scores["log_loss"] = np.nan
    if Y_proba is not None:
        scores["log_loss"] = multilabel_log_loss(Y_true, Y_proba)
    return {key: float(value) for key, value in scores.items()}


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
    if isinstance(estimator, LinearOneVsRest):
        return n_trainable_params(estimator.pipeline_.named_steps["ovr"])
    if hasattr(estimator, "best_estimator_"):  # a grid search
        return n_trainable_params(estimator.best_estimator_)
    if hasattr(estimator, "coefs_"):  # MLPClassifier
        return int(
            sum(c.size for c in estimator.coefs_)
            + sum(b.size for b in estimator.intercepts_)
        )
    if hasattr(estimator, "coef_"):
        return int(estimator.coef_.size + np.size(estimator.intercept_))
    if hasattr(estimator, "estimators_"):
        # one-vs-rest or a chain; a label constant in training has no model
        return sum(n_trainable_params(e) or 0 for e in estimator.estimators_)
    return None
