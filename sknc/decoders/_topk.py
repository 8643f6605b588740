"""TopKDecoder: the k most probable labels, k fixed or predicted per sample."""

import torch
from sklearn.utils._param_validation import StrOptions

from ._base import BaseDecoder, positive_int
from ._calibration import PlattScoresMixin

__all__ = ["TopKDecoder"]


def _sorted_proba(logits, width):
    """Return the ``width`` largest softmax probabilities of each row, descending."""
    proba = torch.softmax(logits.double(), dim=1)
    return proba.topk(min(width, proba.shape[1]), dim=1).values


class TopKDecoder(PlattScoresMixin, BaseDecoder):
    r"""Predict the k labels with the largest scores, k fixed or predicted.

    With ``k='auto'`` the number of labels is predicted per sample: under the
    PAL loss the softmax of a sample with :math:`m` labels puts about
    :math:`1/m` on each of them, so the sorted softmax probabilities
    :math:`(p_{(1)} \geq p_{(2)} \geq \dots)` of the training samples of each
    multiplicity :math:`m` are averaged into a profile, and a new sample gets
    the :math:`m` of the nearest profile (Euclidean distance).

    Probabilities come from the same Platt curve as
    :class:`ThresholdDecoder`'s, so the predicted labels are always the most
    probable ones.

    Parameters
    ----------
    k : int or 'auto', default='auto'
        Number of labels to predict, at most the number of labels, or
        ``'auto'`` to predict it per sample.
    allow_empty : 'auto' or bool, default='auto'
        With ``k='auto'``, whether the predicted number may be 0 (learned
        from the training rows with no label). ``'auto'``: when the training
        targets have such rows. A fixed ``k`` never predicts an empty set.

    Attributes
    ----------
    coef_ : float
        The slope of the calibration curve.
    intercept_ : float
        Its intercept.
    k_ : int or None
        The fixed k, or None when it is predicted.
    multiplicities_ : torch.Tensor of shape (n_profiles,)
        With ``k='auto'``: the multiplicities seen in training.
    profiles_ : torch.Tensor of shape (n_profiles, max_multiplicity)
        With ``k='auto'``: the mean sorted softmax probabilities of each.
    allow_empty_ : bool
        Whether empty predictions are allowed.

    Examples
    --------
    >>> import torch
    >>> from sknc import TopKDecoder
    >>> logits = torch.tensor([[4.0, 4.0, -4.0], [5.0, -5.0, -5.0]]).repeat(10, 1)
    >>> Y = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]]).repeat(10, 1)
    >>> TopKDecoder().fit(logits, None, Y).predict(logits[:2], None)
    tensor([[ True,  True, False],
            [ True, False, False]])
    """

    # fitted on held-out data (the probability curve);
    # calibration_cv averages them over its folds
    _calibration_attributes = ("coef_", "intercept_")

    _parameter_constraints = {
        **BaseDecoder._parameter_constraints,
        "k": [positive_int(), StrOptions({"auto"})],
    }

    def __init__(self, k="auto", allow_empty="auto"):
        self.k = k
        self.allow_empty = allow_empty

    def fit(self, logits, features, Y, calibration=None):
        """Fit the multiplicity profiles and the calibration curve.

        Parameters
        ----------
        logits : torch.Tensor of shape (n, K)
            Training logits.
        features : torch.Tensor of shape (n, d) or None
            Unused; part of the decoder interface.
        Y : torch.Tensor of shape (n, K)
            Training 0/1 targets.
        calibration : tuple (logits, features, Y) or None, default=None
            Held-out outputs and targets for the calibration curve.

        Returns
        -------
        self : TopKDecoder
            The fitted decoder.
        """
        self._validate_params()
        K = logits.shape[1]
        k = self.k
        if k != "auto" and k > K:
            raise ValueError(
                f"k={k} is larger than the number of labels ({K}); use "
                f"k <= {K} or k='auto'."
            )
        self.allow_empty_ = self._resolve_allow_empty(Y)
        self.k_ = None if k == "auto" else int(k)
        if self.k_ is None:
            m = Y.sum(dim=1).long()
            profile_logits = logits
            if not self.allow_empty_:
                profile_logits, m = logits[m > 0], m[m > 0]
            width = max(1, int(m.max()) + 1) if m.numel() else 1
            sorted_proba = _sorted_proba(profile_logits, width)
            self.multiplicities_ = torch.unique(m)
            self.profiles_ = torch.stack(
                [sorted_proba[m == v].mean(dim=0) for v in self.multiplicities_]
            )
        self._fit_calibration(logits, Y, calibration)
        return self

    def predict_k(self, logits):
        """Return the number of labels to predict for each row.

        Parameters
        ----------
        logits : torch.Tensor of shape (n, K)
            The network's logits.

        Returns
        -------
        k : torch.Tensor of shape (n,), dtype int64
            The fixed ``k``, or the predicted multiplicity of each row.
        """
        if self.k_ is not None:
            return torch.full(
                (logits.shape[0],), self.k_, dtype=torch.long, device=logits.device
            )
        sorted_proba = _sorted_proba(logits, self.profiles_.shape[1])
        nearest = torch.cdist(sorted_proba, self.profiles_.to(sorted_proba)).argmin(1)
        return self.multiplicities_.to(logits.device)[nearest]

    def predict(self, logits, features):
        """Return the ``(n, K)`` boolean label indicator.

        Parameters
        ----------
        logits : torch.Tensor of shape (n, K)
            The network's logits.
        features : torch.Tensor of shape (n, d) or None
            Unused.

        Returns
        -------
        pred : torch.Tensor of shape (n, K), dtype bool
            The predicted label sets.
        """
        k = self.predict_k(logits)
        rank = logits.argsort(dim=1, descending=True).argsort(dim=1)
        return rank < k[:, None]
