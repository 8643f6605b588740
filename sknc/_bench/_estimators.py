"""The benchmark's methods: sknc, the BCE baseline and scikit-learn's estimators."""

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.multioutput import ClassifierChain
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.utils._param_validation import HasMethods

from .._classifier import FixedETFClassifier, PALClassifier
from ._bce import BCENetClassifier
from ._peers import strong_peer

__all__ = [
    "ALIASES",
    "DEFAULT_METHODS",
    "METHODS",
    "MLP_MAX_ITER",
    "PEER_EPOCH_METHODS",
    "STRONG_PEERS",
    "TORCH_METHODS",
    "ConstantLabels",
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
}
STRONG_PEERS = ("rf", "et", "ovr-hgb", "ecc-lr")
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
        ``'et'``, ``'ovr-hgb'``, ``'ecc-lr'``.
    random_state : int, default=0
        Seed of the neural methods, the forests and the chains' orders.
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
    if key in STRONG_PEERS:
        estimator = strong_peer(key, random_state=random_state)
        # a label constant in training breaks a chain's logistic regression
        return ConstantLabels(estimator) if key == "ecc-lr" else estimator
    raise ValueError(f"unknown method {key!r}; choose from {', '.join(METHODS)}")
