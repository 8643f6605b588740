"""The strong peers a data scientist tries first on tabular multi-label data."""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import (
    ExtraTreesClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.multioutput import ClassifierChain
from sklearn.utils._param_validation import HasMethods, Interval

__all__ = ["ChainEnsemble", "strong_peer"]


class ChainEnsemble(ClassifierMixin, BaseEstimator):
    """An ensemble of classifier chains in random label orders (ECC).

    Each chain is a :class:`~sklearn.multioutput.ClassifierChain` of the base
    estimator with its own random label order; ``predict_proba`` is the
    chains' mean and ``predict`` their majority vote (mean prediction of at
    least one half), as in Read et al. (2011).

    Parameters
    ----------
    estimator : estimator object
        The binary classifier of every link.
    n_chains : int, default=10
        Number of chains.
    random_state : int, default=0
        Seed of the label orders.

    Attributes
    ----------
    chains_ : list of ClassifierChain
        The fitted chains.
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict_proba"])],
        "n_chains": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator, n_chains=10, random_state=0):
        self.estimator = estimator
        self.n_chains = n_chains
        self.random_state = random_state

    def fit(self, X, Y):
        """Fit the chains.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training features.
        Y : array-like of shape (n_samples, n_labels)
            The 0/1 label indicator.

        Returns
        -------
        self : ChainEnsemble
            The fitted ensemble.
        """
        self._validate_params()
        rng = np.random.RandomState(self.random_state)
        self.chains_ = [
            ClassifierChain(
                clone(self.estimator), order="random", random_state=rng.randint(2**31)
            ).fit(X, Y)
            for _ in range(self.n_chains)
        ]
        return self

    def predict_proba(self, X):
        """Return the chains' mean probability of each label.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Features.

        Returns
        -------
        P : ndarray of shape (n_samples, n_labels)
            Mean probabilities.
        """
        return np.mean([chain.predict_proba(X) for chain in self.chains_], axis=0)

    def predict(self, X):
        """Return the chains' majority vote.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Features.

        Returns
        -------
        Y : ndarray of shape (n_samples, n_labels)
            The labels predicted by at least half of the chains.
        """
        votes = np.mean([chain.predict(X) for chain in self.chains_], axis=0)
        return (votes >= 0.5).astype(int)


def strong_peer(key, *, random_state=0, n_jobs=None):
    """Build the strong peer ``key``: ``'rf'``, ``'et'``, ``'ovr-hgb'`` or ``'ecc-lr'``.

    Parameters
    ----------
    key : str
        ``'rf'`` (``RandomForestClassifier(500)``), ``'et'``
        (``ExtraTreesClassifier(500)``), both natively multi-label;
        ``'ovr-hgb'`` (``OneVsRestClassifier(HistGradientBoostingClassifier())``);
        ``'ecc-lr'`` (:class:`ChainEnsemble` of 10 logistic-regression chains).
    random_state : int, default=0
        Seed of the forests, the boosting's validation split and the chains.
    n_jobs : int or None, default=None
        Parallel jobs of the forests.

    Returns
    -------
    estimator : estimator object
        Unfitted.
    """
    if key == "rf":
        return RandomForestClassifier(500, n_jobs=n_jobs, random_state=random_state)
    if key == "et":
        return ExtraTreesClassifier(500, n_jobs=n_jobs, random_state=random_state)
    if key == "ovr-hgb":
        return OneVsRestClassifier(
            HistGradientBoostingClassifier(random_state=random_state)
        )
    if key == "ecc-lr":
        return ChainEnsemble(
            LogisticRegression(max_iter=1000), n_chains=10, random_state=random_state
        )
    raise ValueError(f"unknown strong peer {key!r}: rf, et, ovr-hgb or ecc-lr")
