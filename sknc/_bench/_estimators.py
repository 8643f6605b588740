"""The benchmark's methods: sknc, the BCE baseline and scikit-learn's estimators."""

import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.multiclass import OneVsRestClassifier
from sklearn.multioutput import ClassifierChain
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Normalizer
from sklearn.svm import LinearSVC
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.metaestimators import available_if

from .._classifier import FixedETFClassifier, PALClassifier
from ..model_selection import MultilabelStratifiedKFold
from ._bce import BCENetClassifier
from ._data import is_binary, standard_scaler
from ._peers import strong_peer

__all__ = [
    "ALIASES",
    "DEFAULT_METHODS",
    "LINEAR_GRIDS",
    "METHODS",
    "MLP_MAX_ITER",
    "PEER_EPOCH_METHODS",
    "STRONG_PEERS",
    "TORCH_METHODS",
    "ConstantLabels",
    "LinearOneVsRest",
    "make_estimator",
]

# key -> name shown in the report, in report order
METHODS = {
    "pal": "PALClassifier",
    "etf": "FixedETFClassifier",
    "mlp": "MLPClassifier",
    "bce": "BCE net (sknc backbone)",
    "ovr-lr": "OneVsRest(LogisticRegression)",
    "cc-lr": "ClassifierChain(LogisticRegression)",
    "knn": "KNeighborsClassifier",
    "rf": "RandomForestClassifier(500)",
    "et": "ExtraTreesClassifier(500)",
    "ovr-hgb": "OneVsRest(HistGradientBoosting)",
    "ecc-lr": "10 classifier chains (LogisticRegression)",
    "ovr-svm": "OneVsRest(LinearSVC), C by inner CV",
    "ovr-logreg": "OneVsRest(LogisticRegression), C by inner CV",
}
STRONG_PEERS = ("rf", "et", "ovr-hgb", "ecc-lr", "ovr-svm", "ovr-logreg")
# the linear one-vs-rest peers (LinearOneVsRest): their grids of C
LINEAR_GRIDS = {"ovr-svm": (0.1, 1, 10), "ovr-logreg": (0.1, 1, 10, 100)}
DEFAULT_METHODS = ("pal", "etf", "mlp", "ovr-lr", "cc-lr", "knn")
ALIASES = {"br-lr": "ovr-lr"}  # the name used by benchmarks.bench_suite
TORCH_METHODS = ("pal", "etf", "bce")
MLP_MAX_ITER = 300  # MLPClassifier's max_iter when no peer_epochs is given
# the neural peers, whose iterations --peer-epochs sets (never --max-epochs)
PEER_EPOCH_METHODS = ("mlp", "bce")


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
    >>> from sknc._bench import ConstantLabels
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> Y = np.array([[0, 0], [0, 0], [1, 0], [1, 0]])
    >>> clf = ConstantLabels(ClassifierChain(LogisticRegression())).fit(X, Y)
    >>> clf.constant_
    array([False,  True])
    >>> clf.predict([[0.0], [3.0]])
    array([[0, 0],
           [1, 0]])
    """

    _parameter_constraints = {"estimator": [HasMethods(["fit", "predict"])]}

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
        self._validate_params()
        Y = np.asarray(Y)
        self.values_ = Y[0].copy()
        self.constant_ = (Y == Y[0]).all(axis=0)
        self.estimator_ = None
        if not self.constant_.all():
            self.estimator_ = clone(self.estimator).fit(X, Y[:, ~self.constant_])
        return self

    def _fill(self, X, method, dtype):
        """Return the constant labels' values and ``estimator_.method`` of the rest."""
        X = X if sp.issparse(X) else np.asarray(X)
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
        return self._fill(X, "predict_proba", np.float64)

    @available_if(lambda self: hasattr(self.estimator, "decision_function"))
    def decision_function(self, X):
        """Return the wrapped estimator's scores, a constant label's at an end.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Features.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_labels)
            The scores of the wrapped estimator; in each row, a label never
            positive in training scores 1 below the lowest score of the other
            labels and a label always positive 1 above the highest, so that a
            ranking puts them last and first.
        """
        X = X if sp.issparse(X) else np.asarray(X)
        out = np.zeros((X.shape[0], self.constant_.size))
        low = high = np.zeros(X.shape[0])
        if self.estimator_ is not None:
            scores = np.asarray(self.estimator_.decision_function(X), dtype=float)
            scores = scores.reshape(X.shape[0], -1)
            out[:, ~self.constant_] = scores
            low, high = scores.min(axis=1), scores.max(axis=1)
        positive = self.values_ == 1
        out[:, self.constant_ & ~positive] = (low - 1)[:, None]
        out[:, self.constant_ & positive] = (high + 1)[:, None]
        return out


class LinearOneVsRest(ClassifierMixin, BaseEstimator):
    """One-vs-rest linear classifiers with ``C`` chosen by inner cross-validation.

    The linear baseline of text classification (LibMultiLabel's default): on
    0/1 features (word indicators, the test of :func:`is_binary` that the
    benchmark uses to leave such data unscaled) the rows are l2-normalised,
    otherwise the features are standardised (the benchmark's
    :func:`standard_scaler`). A
    :class:`~sklearn.model_selection.GridSearchCV` of a
    :class:`~sklearn.multiclass.OneVsRestClassifier` picks ``C`` by micro-F1
    over :class:`~sknc.model_selection.MultilabelStratifiedKFold` folds;
    labels constant in training are set aside by :class:`ConstantLabels`.

    Parameters
    ----------
    estimator : estimator object
        The binary linear classifier, e.g.
        :class:`~sklearn.svm.LinearSVC`; it must have a parameter ``C``.
    Cs : sequence of float
        The grid of ``C``.
    cv : int, default=3
        Inner folds.
    random_state : int, default=0
        Seed of the inner folds.

    Attributes
    ----------
    pipeline_ : Pipeline
        The fitted ``scale`` (``Normalizer`` or ``StandardScaler``) and
        ``ovr`` (``ConstantLabels`` of the grid search) steps.
    best_C_ : float or None
        The chosen ``C``; None when every label is constant in training.
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "decision_function"])],
        "Cs": ["array-like"],
        "cv": [Interval(numbers.Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator, Cs, cv=3, random_state=0):
        self.estimator = estimator
        self.Cs = Cs
        self.cv = cv
        self.random_state = random_state

    def fit(self, X, Y):
        """Scale, choose ``C`` and fit one classifier per label.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training features.
        Y : array-like of shape (n_samples, n_labels)
            The 0/1 label indicator.

        Returns
        -------
        self : LinearOneVsRest
            The fitted estimator.
        """
        self._validate_params()
        scale = Normalizer(norm="l2") if is_binary(X) else standard_scaler(X)
        folds = MultilabelStratifiedKFold(
            self.cv, shuffle=True, random_state=self.random_state
        )
        search = GridSearchCV(
            OneVsRestClassifier(clone(self.estimator)),
            {"estimator__C": list(self.Cs)},
            scoring="f1_micro",
            cv=folds,
            error_score="raise",
        )
        self.pipeline_ = Pipeline(
            [("scale", scale), ("ovr", ConstantLabels(search))]
        ).fit(X, Y)
        fitted = self.pipeline_.named_steps["ovr"].estimator_
        self.best_C_ = None if fitted is None else fitted.best_params_["estimator__C"]
        return self

    def predict(self, X):
        """Predict the label indicator.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Features.

        Returns
        -------
        Y : ndarray of shape (n_samples, n_labels)
            The predicted labels.
        """
        return self.pipeline_.predict(X)

    def decision_function(self, X):
        """Return each label's margin (see :meth:`ConstantLabels.decision_function`).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Features.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_labels)
            The margins; higher means more likely.
        """
        return self.pipeline_.decision_function(X)

    @available_if(lambda self: hasattr(self.estimator, "predict_proba"))
    def predict_proba(self, X):
        """Predict each label's probability (a classifier with probabilities only).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Features.

        Returns
        -------
        P : ndarray of shape (n_samples, n_labels)
            The probabilities; 0 or 1 for a label constant in training.
        """
        return self.pipeline_.predict_proba(X)


def make_estimator(
    key,
    random_state=0,
    *,
    max_epochs=None,
    peer_epochs=None,
    device="cpu",
    amp=False,
    pin_memory=False,
    **params,
):
    """Build the method ``key`` (a key of :data:`METHODS`).

    Parameters
    ----------
    key : str
        One of ``'pal'``, ``'etf'``, ``'mlp'``, ``'bce'``, ``'ovr-lr'`` (alias
        ``'br-lr'``), ``'cc-lr'``, ``'knn'``, or a strong peer: ``'rf'``,
        ``'et'``, ``'ovr-hgb'``, ``'ecc-lr'``, and the linear ones,
        :class:`LinearOneVsRest` of ``LinearSVC`` (``'ovr-svm'``) or
        ``LogisticRegression`` (``'ovr-logreg'``), ``C`` from
        :data:`LINEAR_GRIDS`.
    random_state : int, default=0
        Seed of the neural methods, the forests, the chains' orders and the
        linear peers' inner folds.
    max_epochs : int, default=None
        Epochs of sknc's estimators; None: their default (100).
    peer_epochs : int, default=None
        Epochs of the neural peers: the BCE net's ``max_epochs`` and
        ``MLPClassifier``'s ``max_iter``. None: their defaults, 100 and 300.
        Kept apart from ``max_epochs`` so that a short sknc run does not
        handicap the peers.
    device : str, default='cpu'
        Torch device of sknc and the BCE net.
    amp : bool, default=False
        sknc's estimators only: mixed-precision training
        (:class:`~sknc._bench._amp.AMPMixin`).
    pin_memory : bool, default=False
        sknc's estimators only: pinned training batches (for CUDA).
    **params
        sknc's estimators only: their parameters, e.g. ``feature_dim=512``.

    Returns
    -------
    estimator : estimator object
        Unfitted; ``fit(X, Y)`` takes a 0/1 label indicator ``Y``.
    """
    key = ALIASES.get(key, key)
    if key in ("pal", "etf"):
        if amp:
            from ._amp import AMPFixedETFClassifier, AMPPALClassifier

            cls = AMPPALClassifier if key == "pal" else AMPFixedETFClassifier
        else:
            cls = PALClassifier if key == "pal" else FixedETFClassifier
        if max_epochs is not None:
            params["max_epochs"] = max_epochs
        if pin_memory:
            params["iterator_train__pin_memory"] = True
        return cls(random_state=random_state, device=device, **params)
    if params:
        raise ValueError(f"{key}: parameters apply to sknc's estimators only")
    if key == "bce":
        epochs = {} if peer_epochs is None else {"max_epochs": peer_epochs}
        return BCENetClassifier(random_state=random_state, device=device, **epochs)
    if key == "mlp":
        max_iter = MLP_MAX_ITER if peer_epochs is None else peer_epochs
        return MLPClassifier(max_iter=max_iter, random_state=random_state)
    if key == "ovr-lr":
        return OneVsRestClassifier(LogisticRegression(max_iter=1000))
    if key == "cc-lr":
        return ConstantLabels(ClassifierChain(LogisticRegression(max_iter=1000)))
    if key == "knn":
        return KNeighborsClassifier()
    if key in LINEAR_GRIDS:
        if key == "ovr-svm":
            # liblinear's primal solver at liblinear's own tolerance (0.01)
            # and up to 10,000 iterations: the dual solver, the primal at
            # scikit-learn's 1e-4 or at 1,000 iterations stop at their limits
            # on standardised features (yeast, scene, digits) with C=10
            base = LinearSVC(dual=False, tol=1e-2, max_iter=10_000)
        else:
            base = LogisticRegression(max_iter=1000)
        return LinearOneVsRest(base, LINEAR_GRIDS[key], random_state=random_state)
    if key in STRONG_PEERS:
        estimator = strong_peer(key, random_state=random_state)
        # a label constant in training breaks a chain's logistic regression
        return ConstantLabels(estimator) if key == "ecc-lr" else estimator
    raise ValueError(f"unknown method {key!r}; choose from {', '.join(METHODS)}")
