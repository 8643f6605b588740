"""TunedDecoderCV: tune the decoder and the objective with one network per fold."""

import copy
import numbers
import time
import warnings
from inspect import signature

import numpy as np
from scipy.stats import rankdata
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    _fit_context,
    clone,
)
from sklearn.metrics import check_scoring
from sklearn.metrics._scorer import _check_multimetric_scoring, _MultimetricScorer
from sklearn.model_selection import ParameterGrid, check_cv
from sklearn.utils import Bunch, _safe_indexing, indexable
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _raise_for_params,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import _check_method_params, check_is_fitted

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


def _search_estimator_has(attr):
    """Whether ``attr`` can be delegated to the estimator, as in GridSearchCV.

    The fitted ``best_estimator_`` decides once there is one, the unfitted
    estimator before (so that ``hasattr`` works on an unfitted search).
    """

    def check(self):
        if hasattr(self, "best_estimator_"):
            getattr(self.best_estimator_, attr)
        else:
            getattr(self.estimator, attr)
        return True

    return check


def _accepts_sample_weight(scorer):
    """Whether ``scorer`` takes ``sample_weight`` (any of them, for several)."""
    if hasattr(scorer, "_accept_sample_weight"):
        return scorer._accept_sample_weight()
    return "sample_weight" in signature(scorer).parameters


def _fit_and_score_fold(
    estimator, X, y, train, test, candidates, own_objective, scorer, params
):
    """Train one network on ``train``; refit and score every candidate on ``test``.

    Returns the network's fit time, each candidate's score (a number, or a
    dict for several metrics) and each candidate's decoding time: its share
    of its decoder's fit plus its scoring.
    """
    fit_params = _check_method_params(X, params=params["fit"], indices=train)
    score_params = _check_method_params(X, params=params["score"], indices=test)
    X_train, y_train = _safe_indexing(X, train), _safe_indexing(y, train)
    X_test, y_test = _safe_indexing(X, test), _safe_indexing(y, test)
    start = time.perf_counter()
    network = clone(estimator).fit(X_train, y_train, **fit_params)
    fit_time = time.perf_counter() - start
    # the decoder leaves out the rows that the network's fit left out
    weight = fit_params.get("sample_weight")
    decoder_params = {} if weight is None else {"sample_weight": weight}
    scores = [None] * len(candidates)
    decode_times = np.empty(len(candidates))
    for group in _by_decoder(candidates):
        start = time.perf_counter()
        # a copy of the trained network, so that each decoder starts from the
        # estimator's own decoder settings
        candidate = copy.deepcopy(network)
        with warnings.catch_warnings():
            # another candidate's decoder__<name> is dropped: expected
            warnings.filterwarnings("ignore", message="decoder__.* does not")
            candidate.set_params(**candidates[group[0]])
        # one decoder fit serves every objective: an objective only changes
        # the rule applied to the decoder's distribution
        candidate.fit_decoder(X_train, y_train, **decoder_params)
        fit_share = (time.perf_counter() - start) / len(group)
        for i in group:
            start = time.perf_counter()
            candidate.set_params(
                objective=candidates[i].get("objective", own_objective)
            )
            scores[i] = scorer(candidate, X_test, y_test, **score_params)
            decode_times[i] = fit_share + time.perf_counter() - start
    return fit_time, scores, decode_times


def _rank(mean):
    """Rank 1 for the best mean; ties share the smallest rank, NaN ranks last."""
    if np.isnan(mean).all():
        return np.ones(len(mean), dtype=np.int32)
    mean = np.where(np.isnan(mean), np.nanmin(mean) - 1, mean)
    return rankdata(-mean, method="min").astype(np.int32)


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
    over the same grid trains one network per candidate and fold; the
    scores, ``scoring``, ``refit``, ``n_jobs``, fit parameters and metadata
    routing work as in it.

    Parameters
    ----------
    estimator : estimator
        An unfitted sknc estimator (it needs ``fit_decoder``). Preprocessing
        goes outside: ``make_pipeline(StandardScaler(), TunedDecoderCV(...))``.
    param_grid : dict or list of dicts
        Candidate values of ``decoder``, ``decoder__<name>`` and
        ``objective``, as in :class:`~sklearn.model_selection.GridSearchCV`.
        A candidate starts from the estimator's own values.
    scoring : str, callable, list, tuple, dict or None, default=None
        What to maximise. One metric: a scikit-learn scorer name such as
        ``'f1_micro'``, or a callable ``scorer(estimator, X, y)``; None uses
        the estimator's ``score`` (subset accuracy). Several metrics: a list
        or tuple of scorer names, or a dict of names to scorers (``refit``
        then names the one that picks the best candidate), or a callable
        that returns a dict of scores.
    cv : int, cross-validation generator or iterable, default=5
        An int gives :class:`~sknc.model_selection.MultilabelStratifiedKFold`
        for a 2-D ``y`` (scikit-learn's default splitter otherwise).
    refit : bool, str or callable, default=True
        Fit the best candidate on all data (``best_estimator_``), so that
        this object predicts and scores. With several metrics, the name of
        the metric that picks the best candidate (``best_index_``,
        ``best_score_``, ``best_params_``, :meth:`score`), or False for no
        refit. A callable takes ``cv_results_`` and returns ``best_index_``
        (there is then no ``best_score_``).
    n_jobs : int or None, default=None
        Folds trained in parallel with joblib (None: one at a time, unless
        in a :func:`joblib.parallel_backend` context; -1: all processors).
        The results do not depend on it when the estimator has a
        ``random_state``.

    Attributes
    ----------
    cv_results_ : dict of ndarray
        ``params``; ``mean_test_<name>``, ``std_test_<name>``,
        ``rank_test_<name>`` and ``split<i>_test_<name>`` per candidate for
        each metric (``<name>`` is ``score`` for a single metric); and
        ``mean_decode_time``: seconds to refit the decoder and score, per
        candidate and fold.
    best_index_ : int
        Index of the best candidate in ``cv_results_`` (by the ``refit``
        metric; absent with several metrics and ``refit=False``).
    best_params_ : dict
        Its parameters.
    best_score_ : float
        Its mean cross-validated score (absent with a callable ``refit``).
    best_estimator_ : estimator
        The best candidate fitted on all data (with ``refit``).
    scorer_ : callable or dict
        The scorer (one metric), or a dict of the metrics' scorers.
    multimetric_ : bool
        Whether several metrics were scored.
    n_splits_ : int
        Number of folds.
    fold_fit_times_ : ndarray of shape (n_splits,)
        Seconds to train each fold's network.
    refit_time_ : float
        Seconds to fit ``best_estimator_`` on all data (with ``refit``).
    classes_ : ndarray or list of ndarray
        The best estimator's classes (with ``refit``).
    n_features_in_ : int
        Number of input features (with ``refit``).
    feature_names_in_ : ndarray of str
        Names of the input features, when ``X`` had them (with ``refit``).

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
    ...                                       allow_unlabeled=False, random_state=0)
    >>> search = TunedDecoderCV(
    ...     PALClassifier(max_epochs=5, random_state=0),
    ...     {"decoder": ["knn", "onn"], "objective": [None, "f1_samples"]},
    ...     scoring=["f1_samples", "f1_micro"], refit="f1_samples", cv=3,
    ... ).fit(X, Y)
    >>> len(search.cv_results_["params"])
    4
    >>> sorted(k for k in search.cv_results_ if k.startswith("mean_test"))
    ['mean_test_f1_micro', 'mean_test_f1_samples']
    >>> search.predict(X[:2]).shape
    (2, 4)
    """

    _parameter_constraints = {
        # checked in fit, with a short message (not the estimator's repr)
        "estimator": "no_validation",
        "param_grid": [dict, list],
        "scoring": [str, callable, list, tuple, dict, None],
        "cv": ["cv_object"],
        "refit": ["boolean", str, callable],
        "n_jobs": [numbers.Integral, None],
    }

    def __init__(
        self, estimator, param_grid, *, scoring=None, cv=5, refit=True, n_jobs=None
    ):
        self.estimator = estimator
        self.param_grid = param_grid
        self.scoring = scoring
        self.cv = cv
        self.refit = refit
        self.n_jobs = n_jobs

    def _check_estimator(self):
        estimator = self.estimator
        if all(hasattr(estimator, m) for m in ("fit", "fit_decoder", "predict")):
            return
        name = type(estimator).__name__
        raise ValueError(
            f"TunedDecoderCV needs an sknc estimator with fit_decoder "
            f"(PALClassifier, FixedETFClassifier), not a {name}; put any "
            "preprocessing outside it, as in make_pipeline(StandardScaler(), "
            "TunedDecoderCV(PALClassifier(), grid))."
        )

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

    def _check_refit_for_multimetric(self, names):
        refit = self.refit
        if callable(refit) or (isinstance(refit, str) and refit in names):
            return
        if not isinstance(refit, str) and not refit:
            return
        names = sorted(names)
        raise ValueError(
            f"With several metrics ({', '.join(names)}), refit must name the "
            f"one that picks the best candidate, such as refit={names[0]!r}, "
            f"or be False (no best_estimator_); got refit={refit!r}."
        )

    def _get_scorers(self):
        """Return the scorer (a multi-metric one for several) and refit's metric."""
        if callable(self.scoring):
            return self.scoring, "score"
        if self.scoring is None or isinstance(self.scoring, str):
            return check_scoring(self.estimator, scoring=self.scoring), "score"
        scorers = _check_multimetric_scoring(self.estimator, self.scoring)
        self._check_refit_for_multimetric(scorers)
        return _MultimetricScorer(scorers=scorers, raise_exc=True), self.refit

    def _routed_params(self, scorer, params):
        """Return the fit parameters of the estimator, the scorer and the splitter."""
        if _routing_enabled():
            return process_routing(self, "fit", **params)
        # as GridSearchCV without routing: everything but groups to the
        # estimator's fit, sample_weight also to a scorer that takes it
        params = dict(params)
        groups = params.pop("groups", None)
        score_params = {}
        weight = params.get("sample_weight")
        if weight is not None:
            if _accepts_sample_weight(scorer):
                score_params["sample_weight"] = weight
            else:
                warnings.warn(
                    f"The scoring {self.scoring!r} does not take sample_weight: "
                    "the held-out folds are scored unweighted.",
                    UserWarning,
                    stacklevel=3,
                )
        return Bunch(
            estimator=Bunch(fit=params),
            scorer=Bunch(score=score_params),
            splitter=Bunch(split={"groups": groups}),
        )

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, **params):
        """Train one network per fold, score every candidate, refit the best.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples, n_labels) or (n_samples,)
            Targets.
        **params : dict
            Fit parameters such as ``sample_weight``, as in
            :meth:`sklearn.model_selection.GridSearchCV.fit`. Without metadata
            routing they go to the estimator's ``fit`` (arrays of one value
            per row restricted to the fold's training rows; ``sample_weight``
            also to the decoder's fit, and to a scorer that takes it, on the
            held-out rows) and ``groups`` to the splitter. With
            ``sklearn.set_config(enable_metadata_routing=True)`` each goes
            where it is requested (``set_fit_request``, ``set_score_request``).

        Returns
        -------
        self : TunedDecoderCV
            The fitted search.
        """
        self._check_estimator()
        # a refit must not keep attributes of the previous fit (best_score_)
        for name in [k for k in vars(self) if k.endswith("_") and k[0] != "_"]:
            delattr(self, name)
        candidates = self._candidates()
        scorer, refit_metric = self._get_scorers()
        X, y = indexable(X, y)
        params = _check_method_params(X, params=params)
        routed = self._routed_params(scorer, params)
        cv = self._check_cv(y)
        splits = list(cv.split(X, y, **routed.splitter.split))
        own_objective = self.estimator.get_params().get("objective")
        fold_params = {"fit": routed.estimator.fit, "score": routed.scorer.score}
        out = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_and_score_fold)(
                self.estimator,
                X,
                y,
                train,
                test,
                candidates,
                own_objective,
                scorer,
                fold_params,
            )
            for train, test in splits
        )
        self.n_splits_ = len(splits)
        self.fold_fit_times_ = np.array([fit_time for fit_time, _, _ in out])
        # scores[fold][candidate]: a number, or a dict of the metrics' scores
        scores = [fold_scores for _, fold_scores, _ in out]
        decode_times = np.column_stack([times for _, _, times in out])
        self.multimetric_ = isinstance(scores[0][0], dict)
        if self.multimetric_ and callable(self.scoring):
            self._check_refit_for_multimetric(scores[0][0])
            refit_metric = self.refit
        self.cv_results_ = self._results(candidates, scores, decode_times)
        if self.refit or not self.multimetric_:
            if callable(self.refit):
                self.best_index_ = self._index_from_refit()
            else:
                ranks = self.cv_results_[f"rank_test_{refit_metric}"]
                self.best_index_ = int(np.argmin(ranks))
                means = self.cv_results_[f"mean_test_{refit_metric}"]
                self.best_score_ = float(means[self.best_index_])
            self.best_params_ = candidates[self.best_index_]
        if self.refit:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="decoder__.* does not")
                best = clone(self.estimator).set_params(**self.best_params_)
            start = time.perf_counter()
            self.best_estimator_ = best.fit(X, y, **routed.estimator.fit)
            self.refit_time_ = time.perf_counter() - start
            self.classes_ = self.best_estimator_.classes_
            self.n_features_in_ = self.best_estimator_.n_features_in_
            if hasattr(self.best_estimator_, "feature_names_in_"):
                self.feature_names_in_ = self.best_estimator_.feature_names_in_
        self.scorer_ = (
            scorer._scorers
            if self.multimetric_ and not callable(self.scoring)
            else scorer
        )
        return self

    def _index_from_refit(self):
        index = self.refit(self.cv_results_)
        if not isinstance(index, numbers.Integral):
            raise TypeError(
                f"refit must return the index of the best candidate (an int); "
                f"it returned {index!r}."
            )
        if not 0 <= index < len(self.cv_results_["params"]):
            raise IndexError(
                f"refit returned {index}, but there are "
                f"{len(self.cv_results_['params'])} candidates."
            )
        return int(index)

    @staticmethod
    def _results(candidates, scores, decode_times):
        n_splits = len(scores)
        first = scores[0][0]
        names = list(first) if isinstance(first, dict) else ["score"]
        results = {"params": candidates}
        for name in names:
            # (n_candidates, n_splits)
            table = np.array(
                [
                    [s[name] if isinstance(s, dict) else s for s in fold]
                    for fold in scores
                ],
                dtype=np.float64,
            ).T
            mean = table.mean(axis=1)
            results[f"mean_test_{name}"] = mean
            results[f"std_test_{name}"] = table.std(axis=1)
            results[f"rank_test_{name}"] = _rank(mean)
            for fold in range(n_splits):
                results[f"split{fold}_test_{name}"] = table[:, fold]
        results["mean_decode_time"] = decode_times.mean(axis=1)
        return results

    def _fitted(self):
        check_is_fitted(self, "cv_results_")
        if not self.refit:
            raise AttributeError(
                "This TunedDecoderCV was fitted with refit=False: it has no "
                "best_estimator_ to predict with. Fit with refit=True."
            )
        return self.best_estimator_

    def score(self, X, y, **params):
        """Score the best candidate with ``scoring`` (the ``refit`` metric).

        As :meth:`sklearn.model_selection.GridSearchCV.score`: the metric
        that chose the best candidate, not the estimator's own ``score``
        (which ``scoring=None`` uses).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.
        y : array-like of shape (n_samples, n_labels) or (n_samples,)
            True targets.
        **params : dict
            Parameters for the scorer, such as ``sample_weight`` (only with
            metadata routing enabled; request them with
            ``set_score_request``).

        Returns
        -------
        score : float
            ``best_estimator_``'s score.
        """
        best = self._fitted()
        _raise_for_params(params, self, "score")
        score_params = {}
        if _routing_enabled():
            score_params = process_routing(self, "score", **params).scorer["score"]
        scorer = self.scorer_
        if isinstance(scorer, dict):
            if self.refit not in scorer:
                raise ValueError(
                    f"With several metrics, score needs refit to name one of "
                    f"them ({', '.join(sorted(scorer))}); got refit={self.refit!r}."
                )
            return scorer[self.refit](best, X, y, **score_params)
        score = scorer(best, X, y, **score_params)
        if self.multimetric_:
            score = score[self.refit]
        return score

    def get_metadata_routing(self):
        """Get the metadata routing of this object, as GridSearchCV's.

        ``fit``'s metadata go to the estimator's ``fit``, to the scorer and
        to the splitter, ``score``'s to the scorer.

        Returns
        -------
        routing : MetadataRouter
            A :class:`~sklearn.utils.metadata_routing.MetadataRouter` with the
            routing information.
        """
        router = MetadataRouter(owner=self)
        router.add(
            estimator=self.estimator,
            method_mapping=MethodMapping().add(caller="fit", callee="fit"),
        )
        scorer, _ = self._get_scorers()
        router.add(
            scorer=scorer,
            method_mapping=MethodMapping()
            .add(caller="score", callee="score")
            .add(caller="fit", callee="score"),
        )
        router.add(
            splitter=self.cv,
            method_mapping=MethodMapping().add(caller="fit", callee="split"),
        )
        return router

    @available_if(_search_estimator_has("predict"))
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

    @available_if(_search_estimator_has("predict_proba"))
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

    @available_if(_search_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Return ``best_estimator_.predict_log_proba(X)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        log_proba : ndarray
            The best candidate's log-probabilities.
        """
        return self._fitted().predict_log_proba(X)

    @available_if(_search_estimator_has("predict_set_proba"))
    def predict_set_proba(self, X, top=5):
        """Return ``best_estimator_.predict_set_proba(X, top=top)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.
        top : int, default=5
            Number of most probable label sets per sample.

        Returns
        -------
        sets : Bunch
            The best candidate's most probable label sets and their
            probabilities (see :meth:`sknc.PALClassifier.predict_set_proba`).
        """
        return self._fitted().predict_set_proba(X, top=top)

    @available_if(_search_estimator_has("decision_function"))
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

    @available_if(_search_estimator_has("transform"))
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
