"""ThresholdDecoder: every label whose calibrated probability reaches a threshold."""

import numbers

import torch
from sklearn.utils._param_validation import StrOptions

from ._base import BaseDecoder, StrictInterval, ensure_nonempty
from ._calibration import PlattScoresMixin

__all__ = ["ThresholdDecoder"]


def _micro_f1_threshold(proba, Y):
    """Return the micro-F1-maximising threshold (middle of the best plateau)."""
    grid = torch.linspace(0.02, 0.98, 97, dtype=proba.dtype, device=proba.device)
    Yb = Y.bool()
    n_true = Yb.sum()
    f1 = torch.empty_like(grid)
    for i, t in enumerate(grid):
        pred = proba >= t
        tp = (pred & Yb).sum()
        f1[i] = 2 * tp / (pred.sum() + n_true).clamp(min=1)
    best = torch.nonzero(f1 >= f1.max() - 1e-12).flatten()
    return float(grid[best[len(best) // 2]])


class ThresholdDecoder(PlattScoresMixin, BaseDecoder):
    r"""Predict every label whose calibrated probability reaches a threshold.

    Each label's log-softmax score :math:`s_k = z_k - \log\sum_j e^{z_j}`
    (about :math:`-\log m` for the :math:`m` labels of a sample under the PAL
    loss) is mapped to a probability :math:`p_k = \sigma(a\,s_k + b)` with a
    logistic curve shared by all labels (Platt scaling, fitted by maximum
    likelihood), and the labels with :math:`p_k \geq t` are predicted.

    Parameters
    ----------
    threshold : float or 'auto', default=0.5
        The threshold :math:`t`, in (0, 1); ``'auto'`` picks the one that
        maximises micro-F1 (the middle of the best range, on a 0.01 grid).
    allow_empty : 'auto' or bool, default='auto'
        Whether a prediction may have no label. ``'auto'``: only when the
        training targets have rows with no label. Otherwise a sample with no
        label above the threshold gets its most probable label.

    Attributes
    ----------
    coef_ : float
        The fitted slope ``a``, never negative: a negative fit (scores
        anti-correlated with the targets) is replaced by ``a = 0`` and the
        base rate.
    intercept_ : float
        The fitted intercept ``b``.
    threshold_ : float
        The threshold in use.
    allow_empty_ : bool
        Whether empty predictions are allowed.

    Notes
    -----
    The curve and an ``'auto'`` threshold are fitted on the ``calibration``
    data when the estimator has some (a validation split), otherwise on the
    training outputs. A network fits its training data closely, so the curve
    is then steeper than on new data and tends to predict too many labels:
    give the estimator a ``train_split`` (for example
    :class:`sknc.model_selection.MultilabelStratifiedValidSplit`) to calibrate
    on held-out data.

    Examples
    --------
    >>> import torch
    >>> from sknc import ThresholdDecoder
    >>> logits = torch.tensor([[4.0, 4.0, -4.0], [5.0, -5.0, -5.0]]).repeat(10, 1)
    >>> Y = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]]).repeat(10, 1)
    >>> dec = ThresholdDecoder().fit(logits, None, Y)
    >>> dec.predict(logits[:2], None)
    tensor([[ True,  True, False],
            [ True, False, False]])
    """

    # fitted on held-out data (the probability curve, the threshold);
    # calibration_cv averages them over its folds
    _calibration_attributes = ("coef_", "intercept_", "threshold_")

    _parameter_constraints = {
        **BaseDecoder._parameter_constraints,
        "threshold": [
            StrictInterval(numbers.Real, 0, 1, closed="neither"),
            StrOptions({"auto"}),
        ],
    }

    def __init__(self, threshold=0.5, allow_empty="auto"):
        self.threshold = threshold
        self.allow_empty = allow_empty

    def fit(self, logits, features, Y, calibration=None):
        """Fit the calibration curve (and an ``'auto'`` threshold).

        Parameters
        ----------
        logits : torch.Tensor of shape (n, K)
            Training logits.
        features : torch.Tensor of shape (n, d) or None
            Unused; part of the decoder interface.
        Y : torch.Tensor of shape (n, K)
            Training 0/1 targets.
        calibration : tuple (logits, features, Y) or None, default=None
            Held-out outputs and targets to fit on instead of the training
            ones.

        Returns
        -------
        self : ThresholdDecoder
            The fitted decoder.
        """
        self._validate_params()
        t = self.threshold
        self.allow_empty_ = self._resolve_allow_empty(Y)
        logits, Y = self._fit_calibration(logits, Y, calibration)
        if t == "auto":
            t = _micro_f1_threshold(self.predict_proba(logits, None), Y)
        self.threshold_ = float(t)
        return self

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
        proba = self.predict_proba(logits, features)
        pred = proba >= self.threshold_
        if not self.allow_empty_:
            pred = ensure_nonempty(pred, proba)
        return pred
