"""TunedDecoderCV: tune the decoder and the objective with one network per fold."""

import copy
import numbers
import time
import warnings

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    _fit_context,
    clone,
)
from sklearn.metrics import check_scoring
from sklearn.model_selection import ParameterGrid, check_cv
from sklearn.utils import _safe_indexing, indexable
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted

from ._split import MultilabelStratifiedKFold

__all__ = ["TunedDecoderCV"]

# What a candidate may change: everything else needs its own network.
_DECISION_PARAMS = ("decoder", "objective")


def _is_decision_param(name):
    return name in _DECISION_PARAMS or name.startswith("decoder__")


def _by_decoder(candidates):
    """Group the candidates' indices by their decoder settings.

    Candidates that differ only in ``objective`` share a group (one decoder
    fit); groups come in the order of their first candidate.
    """
    groups = {}
    for i, params in enumerate(candidates):
        key = tuple(sorted((k, repr(v)) for k, v in params.items() if k != "objective"))
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def _best_estimator_has(attr):
    def check(self):
        return hasattr(self.best_estimator_ if self.refit else self.estimator, attr)

    return check


class TunedDecoderCV(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Cross-validated choice of the decoder and the objective, one network per fold.

    A grid search over ``decoder``, ``decoder__<name>`` and ``objective`` of
    an sknc estimator (:class:`~sknc.PALClassifier`,
    :class:`~sknc.FixedETFClassifier`, ...), in the spirit of
    :class:`~sklearn.model_selection.TunedThresholdClassifierCV`: these
    parameters only change how the trained network's outputs become
    predictions, so each fold trains ONE network, every candidate refits
    its decoder on that network (:meth:`~sknc.PALClassifier.fit_decoder`)
    and is scored on the fold's held-out part, and the best candidate is
    refitted on all data. A :class:`~sklearn.model_selection.GridSearchCV`
    over the same grid trains one network per candidate and fold.

    Parameters
    ----------
    estimator : estimator
        An unfitted sknc estimator (it needs ``fit_decoder``).
    param_grid : dict or list of dicts
        Candidate values of ``decoder``, ``decoder__<name>`` and
        ``objective``, as in :class:`~sklearn.model_selection.GridSearchCV`.
        A candidate starts from the estimator's own values.
    scoring : str, callable or None, default=None
        The score to maximise (a scikit-learn scorer name such as
        ``'f1_micro'``, or a callable ``scorer(estimator, X, y)``); None uses
        the estimator's ``score`` (subset accuracy).
    cv : int, cross-validation generator or iterable, default=5
        An int gives :class:`~sknc.model_selection.MultilabelStratifiedKFold`
        for a 2-D ``y`` (scikit-learn's default splitter otherwise).
    refit : bool, default=True
        Fit the best candidate on all data (``best_estimator_``), so that
        this object predicts.

    Attributes
    ----------
    cv_results_ : dict of ndarray
        ``params``, ``mean_test_score``, ``std_test_score``,
        ``rank_test_score`` and ``split<i>_test_score`` per candidate, and
        ``mean_decode_time``: seconds to refit the decoder and score, per
        candidate and fold.
    best_index_ : int
        Index of the best candidate in ``cv_results_``.
    best_params_ : dict
        Its parameters.
    best_score_ : float
        Its mean cross-validated score.
    best_estimator_ : estimator
        The best candidate fitted on all data (with ``refit=True``).
    n_splits_ : int
        Number of folds.
    fold_fit_times_ : ndarray of shape (n_splits,)
        Seconds to train each fold's network.
    classes_ : ndarray or list of ndarray
        The best estimator's classes (with ``refit=True``).
    n_features_in_ : int
        Number of input features (with ``refit=True``).

    See Also
    --------
    sklearn.model_selection.GridSearchCV : Any parameter, one network per
        candidate and fold.

    Examples
    --------
    >>> from sklearn.datasets import make_multilabel_classification
    >>> from sknc import PALClassifier
    >>> from sknc.model_selection import TunedDecoderCV
    >>> X, Y = make_multilabel_classification(n_samples=120, n_classes=4,
    ...                                       random_state=0)
    >>> search = TunedDecoderCV(
    ...     PALClassifier(max_epochs=5, random_state=0),
    ...     {"decoder": ["knn", "onn"], "objective": [None, "f1_samples"]},
    ...     scoring="f1_samples", cv=3,
    ... ).fit(X, Y)
    >>> len(search.cv_results_["params"])
    4
    >>> search.predict(X[:2]).shape
    (2, 4)
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "fit_decoder", "predict"])],
        "param_grid": [dict, list],
        "scoring": [str, callable, None],
        "cv": ["cv_object"],
        "refit": ["boolean"],
    }

    def __init__(self, estimator, param_grid, *, scoring=None, cv=5, refit=True):
        self.estimator = estimator
        self.param_grid = param_grid
        self.scoring = scoring
        self.cv = cv
        self.refit = refit

    def _candidates(self):
        candidates = list(ParameterGrid(self.param_grid))
        for params in candidates:
            other = sorted(k for k in params if not _is_decision_param(k))
            if other:
                raise ValueError(
                    f"TunedDecoderCV tunes decoder, decoder__<name> and objective "
                    f"only; {other[0]!r} changes the network, so every value "
                    "needs its own training: use sklearn's GridSearchCV."
                )
        return candidates

    def _check_cv(self, y):
        cv = self.cv
        multilabel = type_of_target(y) in ("multilabel-indicator",)
        if isinstance(cv, numbers.Integral) and multilabel:
            return MultilabelStratifiedKFold(n_splits=cv)
        return check_cv(cv, y, classifier=True)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Train one network per fold, score every candidate, refit the best.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples, n_labels) or (n_samples,)
            Targets.

        Returns
        -------
        self : TunedDecoderCV
            The fitted search.
        """
        candidates = self._candidates()
        X, y = indexable(X, y)
        cv = self._check_cv(y)
        splits = list(cv.split(X, y))
        scorer = check_scoring(self.estimator, scoring=self.scoring)
        scores = np.empty((len(candidates), len(splits)))
        decode_times = np.empty_like(scores)
        self.fold_fit_times_ = np.empty(len(splits))
        own_objective = self.estimator.get_params().get("objective")
        for fold, (train, test) in enumerate(splits):
            X_train, y_train = _safe_indexing(X, train), _safe_indexing(y, train)
            X_test, y_test = _safe_indexing(X, test), _safe_indexing(y, test)
            start = time.perf_counter()
            network = clone(self.estimator).fit(X_train, y_train)
            self.fold_fit_times_[fold] = time.perf_counter() - start
            for group in _by_decoder(candidates):
                start = time.perf_counter()
                # a copy of the trained network, so that each decoder starts
                # from the estimator's own decoder settings
                candidate = copy.deepcopy(network)
                with warnings.catch_warnings():
                    # another candidate's decoder__<name> is dropped: expected
                    warnings.filterwarnings("ignore", message="decoder__.* does not")
                    candidate.set_params(**candidates[group[0]])
                # one decoder fit serves every objective: an objective only
                # changes the rule applied to the decoder's distribution
                candidate.fit_decoder(X_train, y_train)
                fit_share = (time.perf_counter() - start) / len(group)
                for i in group:
                    start = time.perf_counter()
                    candidate.set_params(
                        objective=candidates[i].get("objective", own_objective)
                    )
                    scores[i, fold] = scorer(candidate, X_test, y_test)
                    decode_times[i, fold] = fit_share + time.perf_counter() - start
        self.n_splits_ = len(splits)
        self.cv_results_ = self._results(candidates, scores, decode_times)
        self.best_index_ = int(np.argmax(self.cv_results_["mean_test_score"]))
        self.best_params_ = candidates[self.best_index_]
        self.best_score_ = float(self.cv_results_["mean_test_score"][self.best_index_])
        if self.refit:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="decoder__.* does not")
                best = clone(self.estimator).set_params(**self.best_params_)
            self.best_estimator_ = best.fit(X, y)
            self.classes_ = self.best_estimator_.classes_
            self.n_features_in_ = self.best_estimator_.n_features_in_
        return self

    @staticmethod
    def _results(candidates, scores, decode_times):
        mean = scores.mean(axis=1)
        # rank 1 is the best; ties share the smallest rank
        order = np.argsort(-mean, kind="stable")
        rank = np.empty(len(mean), dtype=np.int32)
        rank[order] = np.arange(1, len(mean) + 1)
        for i in range(1, len(order)):
            if mean[order[i]] == mean[order[i - 1]]:
                rank[order[i]] = rank[order[i - 1]]
        results = {
            "params": candidates,
            "mean_test_score": mean,
            "std_test_score": scores.std(axis=1),
            "rank_test_score": rank,
            "mean_decode_time": decode_times.mean(axis=1),
        }
        for fold in range(scores.shape[1]):
            results[f"split{fold}_test_score"] = scores[:, fold]
        return results

    def _fitted(self):
        check_is_fitted(self, "cv_results_")
        if not self.refit:
            raise AttributeError(
                "This TunedDecoderCV was fitted with refit=False: it has no "
                "best_estimator_ to predict with. Fit with refit=True."
            )
        return self.best_estimator_

    @available_if(_best_estimator_has("predict"))
    def predict(self, X):
        """Predict with the best candidate refitted on all data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        y_pred : ndarray
            ``best_estimator_.predict(X)``.
        """
        return self._fitted().predict(X)

    @available_if(_best_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Return ``best_estimator_.predict_proba(X)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        proba : ndarray
            The best candidate's probabilities.
        """
        return self._fitted().predict_proba(X)

    @available_if(_best_estimator_has("decision_function"))
    def decision_function(self, X):
        """Return ``best_estimator_.decision_function(X)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        scores : ndarray
            The best candidate's logits.
        """
        return self._fitted().decision_function(X)

    @available_if(_best_estimator_has("transform"))
    def transform(self, X):
        """Return ``best_estimator_.transform(X)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        features : ndarray
            The best candidate's features.
        """
        return self._fitted().transform(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = self.estimator.__sklearn_tags__()
        tags.classifier_tags.multi_label = inner.classifier_tags.multi_label
        tags.input_tags.sparse = inner.input_tags.sparse
        return tags
