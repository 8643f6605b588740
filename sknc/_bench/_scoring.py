"""What the benchmark measures of a fitted method: scores and parameters."""

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    hamming_loss,
    label_ranking_average_precision_score,
)
from sklearn.multiclass import OneVsRestClassifier

from ._estimators import ConstantLabels

__all__ = [
    "METRICS",
    "SCORES",
    "Metric",
    "label_scores",
    "n_trainable_params",
    "score_predictions",
]


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
        Metric("pred_card", "labels/row", 2, None),
        Metric("empty_pred", "rows predicted empty", 3, None),
    )
}
# the columns of `python -m sknc benchmark` and of the benchmark suite
METRICS = tuple(
    SCORES[key] for key in ("micro_f1", "macro_f1", "subset_acc", "hamming", "lrap")
)


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


def score_predictions(Y_true, Y_pred, Y_score=None):
    """Quality metrics of a multi-label prediction, under the keys of :data:`SCORES`.

    Parameters
    ----------
    Y_true, Y_pred : array-like of shape (n_samples, n_labels)
        True and predicted 0/1 label indicators.
    Y_score : array-like of shape (n_samples, n_labels), default=None
        Per-label scores (see :func:`label_scores`), for the LRAP; None:
        no LRAP.

    Returns
    -------
    scores : dict
        ``micro_f1``, ``macro_f1`` and ``example_f1`` (F1 per row, averaged:
        scikit-learn's ``average='samples'``), all with ``zero_division=0``;
        ``subset_acc``, ``hamming`` (the Hamming loss), ``pred_card``
        (predicted labels per row), ``empty_pred`` (share of rows predicted
        with no label) and, given ``Y_score``, ``lrap`` (label-ranking
        average precision), as floats.
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
