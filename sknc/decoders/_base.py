"""The decoder interface and what every decoder shares."""

import numbers

from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions

__all__ = [
    "BaseDecoder",
    "PROBA_EPS",
    "StrictInterval",
    "ensure_nonempty",
    "positive_int",
]

# Probabilities are kept strictly inside (0, 1): scikit-learn's multi-label
# contract, and log-loss stays finite.
PROBA_EPS = 1e-7


class StrictInterval(Interval):
    """scikit-learn's :class:`Interval` constraint, with booleans rejected.

    ``True`` is an ``int`` to Python, but never a count, a threshold or a
    temperature.
    """

    def is_satisfied_by(self, val):
        """Return whether ``val`` is a number (not a bool) in the interval."""
        return not isinstance(val, bool) and super().is_satisfied_by(val)


def positive_int():
    """Return the constraint of an integer >= 1."""
    return StrictInterval(numbers.Integral, 1, None, closed="left")


def ensure_nonempty(pred, scores):
    """Switch on the best-scoring label of the rows that predict no label.

    Parameters
    ----------
    pred : torch.Tensor of shape (n, K), dtype bool
        Predicted label sets.
    scores : torch.Tensor of shape (n, K)
        Per-label scores; the largest of an empty row is switched on.

    Returns
    -------
    pred : torch.Tensor of shape (n, K), dtype bool
        ``pred`` with no empty row (a copy when a row changed).
    """
    empty = ~pred.any(dim=1)
    if empty.any():
        pred = pred.clone()
        pred[empty, scores[empty].argmax(dim=1)] = True
    return pred


class BaseDecoder(BaseEstimator):
    """Base class of the decoders.

    Subclasses implement :meth:`fit`, :meth:`predict_proba` and
    :meth:`predict`. Each receives ``logits`` ``(n, K)`` and ``features``
    ``(n, d)`` torch tensors on the model's device; ``fit`` also receives the
    ``(n, K)`` 0/1 training targets as a tensor on the same device, and
    optionally ``calibration``: a ``(logits, features, Y)`` triple of data the
    network was not trained on (the estimators pass skorch's validation
    split when there is one), used for the parameters that must generalise
    (a temperature, a threshold, a calibration curve).

    ``allow_empty`` (in every decoder): ``'auto'`` allows predicting the
    empty label set when the training targets contain rows with no label;
    ``False`` always predicts at least one label; ``True`` allows empty
    predictions.

    A subclass declares its parameters in ``_parameter_constraints``,
    extending the base's (``{**BaseDecoder._parameter_constraints, ...}``),
    and validates them at the start of ``fit`` with
    ``self._validate_params()``.
    """

    _parameter_constraints = {
        "allow_empty": [StrOptions({"auto"}), "boolean"],
    }

    def fit(self, logits, features, Y, calibration=None):
        """Fit the decoder on training outputs and targets; return self."""
        raise NotImplementedError  # pragma: no cover

    def predict_proba(self, logits, features):
        """Return the ``(n, K)`` per-label probabilities as a tensor."""
        raise NotImplementedError  # pragma: no cover

    def predict(self, logits, features):
        """Return the ``(n, K)`` boolean label indicator as a tensor."""
        raise NotImplementedError  # pragma: no cover

    def _resolve_allow_empty(self, Y):
        """``allow_empty`` as a bool: ``'auto'`` if ``Y`` has an empty row."""
        if isinstance(self.allow_empty, str):
            return bool((Y.sum(dim=1) == 0).any())
        return bool(self.allow_empty)
