"""NeuralCollapseScorer: a neural-collapse metric as a scorer and a Pipeline step."""

import warnings

from sklearn.base import (
    BaseEstimator,
    OneToOneFeatureMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .._docstring import Substitution, metric_params
from ._checks import (
    COMMON_CONSTRAINTS,
    GEOMETRY_CONSTRAINT,
    MEANS_CONSTRAINTS,
    SET_CONSTRAINTS,
    as_indicator,
)
from ._collapse import metric_value, neural_collapse_report
from ._estimator import features_and_head, head_owner, head_weight
from ._kernels import METRICS, SCORED_METRICS, NeuralCollapseWarning

__all__ = ["NeuralCollapseScorer"]

# The warning neural_collapse_report gives for data without a label set of
# two or more labels; expected (and dropped) for 1-D class labels.
_NO_SETS_MESSAGE = "Y has no sample with two or more labels"


@Substitution(**metric_params())
class NeuralCollapseScorer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    r"""A neural-collapse metric as a scikit-learn scorer and a Pipeline step.

    One object, two uses:

    - **Scorer** (``scoring=`` of :class:`~sklearn.model_selection.GridSearchCV`,
      :func:`~sklearn.model_selection.cross_validate`, alone or in a
      multi-metric dict): ``scorer(estimator, X, Y)`` measures the collapse of
      ``estimator.transform(X)``, the penultimate features of an sknc
      estimator, on the data it is given: in cross-validation, the **test
      fold**, i.e. how well the learned geometry holds on held-out samples
      (the training-set collapse is what
      :class:`~sknc.callbacks.NeuralCollapseTracker` records). Head-based
      metrics read the head from the estimator (``module_.head.weight``,
      its first ``n_outputs_`` rows).
    - **Transformer**: in a :class:`~sklearn.pipeline.Pipeline` after any
      feature step (PCA, an sknc estimator, ...), ``fit(H, Y)`` measures the
      features that reach it and stores every metric in ``report_``,
      ``transform(H)`` returns ``H`` unchanged, and ``score(H, Y)`` returns
      the chosen metric on ``(H, Y)``, so the pipeline's own ``score`` (and
      a search with ``scoring=None``) uses it.

    **Sign convention**: scores follow scikit-learn's "greater is better"
    rule, so both ``__call__`` and ``score`` return the **negative** of the
    metric, like the ``neg_*`` scorers: ``-0.0`` is perfect collapse and
    ``cv_results_["mean_test_nc1"]`` holds ``-NC1``. A metric that is
    undefined on the data is NaN (with a
    :class:`~sknc.metrics.NeuralCollapseWarning`).

    Parameters
    ----------
    metric : {'nc1', 'nc2', 'nc2_means', 'nc3', 'ncm'}, default='nc1'
        The metric to score; see :mod:`sknc.metrics`. ``'nc2'`` (the head
        alone) and ``'nc3'`` (head and class means) need a head, so they
        work only as a scorer of an estimator that has one; ``'nc2'`` does
        not depend on ``X`` at all. ``rho`` is a fitted scale, not a loss,
        and is not a choice; the transformer's ``report_`` contains it.
    {n_random}
    {center}
    random_state : int, RandomState instance or None, default=None
        Seeds the random label sets of NCm (exact, without randomness, when
        there are at most ``n_random`` sets of a size). Pass an int for
        repeatable scores.
    geometry : {'etf', 'orthogonal'}, default='etf'
        The collapsed geometry of the class means that ``'nc2_means'``
        measures: ``'etf'`` (the centred means, a simplex ETF) for
        unconstrained features such as those of sknc's default backbone,
        ``'orthogonal'`` (the uncentred means, an orthogonal frame) for a
        backbone that ends with a ReLU; see :func:`sknc.metrics.nc2_means`.
        The other metrics do not depend on it (the head is a simplex ETF
        in both cases).
    {label_means}
    {weighting}
    {chunk_size}

    Attributes
    ----------
    report_ : dict
        After ``fit``: :func:`sknc.metrics.neural_collapse_report` of the
        training features (without ``"nc2"`` and ``"nc3"``: a Pipeline step
        sees no head). These are **not** negated.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of str
        Names of the features seen during ``fit``, when they are all strings.

    See Also
    --------
    sknc.metrics.neural_collapse_report : All metrics of given features.
    sknc.callbacks.NeuralCollapseTracker : The metrics of the training
        features after every epoch.

    Notes
    -----
    ``Y`` is a 2-D 0/1 label indicator. 1-D class labels (a multi-class
    problem) are one-hot encoded, over the estimator's ``classes_`` when it
    has a head, else over the sorted labels of ``y``; NCm is then undefined
    (no sample has two labels).

    Which features the scorer measures, for an ``estimator`` that is:

    - an sknc estimator (or any fitted transformer): ``estimator.transform(X)``;
      head: its ``module_.head.weight[:n_outputs_]``, if any;
    - a :class:`~sklearn.pipeline.Pipeline` whose last step transforms (an
      sknc estimator, optionally followed by ``NeuralCollapseScorer`` steps):
      ``pipeline.transform(X)``, i.e. ``X`` through the earlier steps and
      then the sknc estimator's features; head: that estimator's;
    - a Pipeline whose last step does not transform (e.g. a linear model on
      top of an sknc estimator's features): ``pipeline[:-1].transform(X)``,
      the features that reach the last step; head: that of the step before
      it, when it is an sknc estimator.

    ``sample_weight`` is not supported: every sample counts the same in the
    class means.

    Examples
    --------
    As a Pipeline step on synthetic, perfectly collapsed features (three
    labels at the vertices of a simplex, a pair at its scaled midpoint):

    >>> import numpy as np
    >>> from sknc import simplex_etf
    >>> from sknc.metrics import NeuralCollapseScorer
    >>> means = simplex_etf(3, 2, random_state=0)
    >>> Y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]] * 2)
    >>> H = Y @ means
    >>> step = NeuralCollapseScorer("nc1").fit(H, Y)
    >>> round(step.report_["nc1"], 6), round(step.report_["rho"][2], 6)
    (0.0, 2.0)
    >>> bool((step.transform(H) == H).all())
    True
    >>> noisy = H + np.random.default_rng(0).normal(0, 0.1, H.shape)
    >>> step.score(noisy, Y) < step.score(H, Y) + 1e-12  # -NC1: higher is better
    True

    As a scorer of a fitted estimator, e.g. in ``scoring=`` of a grid search:

    >>> from sklearn.datasets import make_multilabel_classification
    >>> from sknc import FixedETFClassifier
    >>> X, Y = make_multilabel_classification(n_samples=100, n_classes=4,
    ...                                       allow_unlabeled=False,
    ...                                       random_state=0)
    >>> clf = FixedETFClassifier(max_epochs=5, random_state=0).fit(X, Y)
    >>> scores = [NeuralCollapseScorer(m)(clf, X, Y) for m in ("nc1", "nc3")]
    >>> all(s <= 0 for s in scores)
    True
    """

    _parameter_constraints = {
        "metric": [StrOptions(set(SCORED_METRICS))],
        **SET_CONSTRAINTS,
        **GEOMETRY_CONSTRAINT,
        **MEANS_CONSTRAINTS,
        "chunk_size": COMMON_CONSTRAINTS["chunk_size"],
    }
    # transform returns its input: the head of the step before it applies
    # to the features after it (read by _estimator.head_owner)
    _passes_features_through = True

    def __init__(
        self,
        metric="nc1",
        *,
        n_random=1000,
        center=True,
        random_state=None,
        geometry="etf",
        label_means="auto",
        weighting="uniform",
        chunk_size=None,
    ):
        self.metric = metric
        self.n_random = n_random
        self.center = center
        self.random_state = random_state
        self.geometry = geometry
        self.label_means = label_means
        self.weighting = weighting
        self.chunk_size = chunk_size

    # ----------------------------------------------------------------- tags
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        # a 2-D 0/1 indicator, or 1-D class labels (one-hot encoded)
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        tags.input_tags.sparse = True
        # transform returns its input: every dtype is kept
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    # --------------------------------------------------------------- metric
    def _score(self, H, Y, W):
        """Return the score (the signed metric) of features H, labels Y, head W."""
        metric = METRICS[self.metric]
        if metric.needs_head and W is None:
            raise ValueError(
                f"metric={metric.name!r} needs the classifier head W, but none is "
                "available here: a Pipeline step only sees features, and the "
                "scored estimator has no module_.head.weight. Use "
                f"NeuralCollapseScorer({metric.name!r}) as scoring= on a fitted "
                "sknc estimator (or a Pipeline ending with one), or "
                "metric='nc2_means' to measure the class means alone."
            )
        value = metric_value(
            metric.name,
            H,
            Y,
            W,
            label_means=self.label_means,
            weighting=self.weighting,
            chunk_size=self.chunk_size,
            geometry=self.geometry,
            center=self.center,
            n_random=self.n_random,
            random_state=self.random_state,
        )
        return value if metric.greater_is_better else -value

    def __call__(self, estimator, X, y, sample_weight=None):
        """Score the collapse of a fitted estimator's features of ``X``.

        Parameters
        ----------
        estimator : estimator
            A fitted sknc estimator, a Pipeline ending with one, or any
            fitted estimator with ``transform`` (see the Notes of the class).
        X : array-like of shape (n_samples, n_features)
            Input data, e.g. a test fold of cross-validation.
        y : array-like or sparse matrix of shape (n_samples, n_labels)
            0/1 label indicator of ``X`` (or 1-D class labels).
        sample_weight : None
            Not supported; must be None.

        Returns
        -------
        score : float
            Minus the metric (greater is better); NaN when it is undefined.
        """
        self._validate_params()
        if sample_weight is not None:
            raise ValueError(
                "NeuralCollapseScorer does not support sample_weight: the "
                "neural-collapse metrics count every sample the same."
            )
        if METRICS[self.metric].needs_features:
            H, owner = features_and_head(estimator, X)
        else:  # a property of the head alone
            H = None
            owner = head_owner(estimator)
        W = head_weight(owner)
        classes = None
        if owner is not None and getattr(owner, "multilabel_", True) is False:
            classes = owner.classes_
        Y = None if H is None else as_indicator(y, classes)[0]
        return self._score(H, Y, W)

    # ---------------------------------------------------------- transformer
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Measure the collapse of the features ``X`` and store it in ``report_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Features, e.g. the output of the previous Pipeline step.
        y : array-like or sparse matrix of shape (n_samples, n_labels)
            0/1 label indicator (or 1-D class labels).

        Returns
        -------
        self : NeuralCollapseScorer
            The fitted step.
        """
        H = validate_data(self, X, accept_sparse="csr", dtype="numeric")
        Y, one_hot = as_indicator(y)
        with warnings.catch_warnings():
            if one_hot:
                # class labels: NCm and rho are undefined, and say so
                warnings.filterwarnings(
                    "ignore", message=_NO_SETS_MESSAGE, category=NeuralCollapseWarning
                )
            self.report_ = neural_collapse_report(
                H,
                Y,
                n_random=self.n_random,
                center=self.center,
                random_state=self.random_state,
                geometry=self.geometry,
                label_means=self.label_means,
                weighting=self.weighting,
                chunk_size=self.chunk_size,
            )
        return self

    def transform(self, X):
        """Return the features unchanged.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Features.

        Returns
        -------
        X : {ndarray, sparse matrix} of shape (n_samples, n_features)
            The same values, with the same dtype.
        """
        check_is_fitted(self)
        return validate_data(
            self, X, accept_sparse=True, dtype=None, reset=False, copy=False
        )

    def score(self, X, y):
        """Minus the chosen metric of the features ``X`` (greater is better).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Features, e.g. the output of the previous Pipeline step on test
            data.
        y : array-like or sparse matrix of shape (n_samples, n_labels)
            0/1 label indicator (or 1-D class labels).

        Returns
        -------
        score : float
            Minus the metric on ``(X, y)``; NaN when it is undefined.
        """
        check_is_fitted(self)
        self._validate_params()
        H = validate_data(self, X, accept_sparse="csr", dtype="numeric", reset=False)
        return self._score(H, as_indicator(y)[0], None)
