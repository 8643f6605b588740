"""Decoders: turn a PAL network's outputs into label sets and probabilities.

A decoder is fitted once, at the end of training, on the network's outputs
for the training data (one eval-mode pass), and then maps the outputs of new
samples to an ``(n, K)`` 0/1 prediction and ``(n, K)`` per-label
probabilities. Decoders work on torch tensors on the model's device.
"""

import numbers

import torch
from sklearn.base import BaseEstimator

__all__ = ["BaseDecoder", "ThresholdDecoder", "get_decoder"]

# Probabilities are kept strictly inside (0, 1): scikit-learn's multi-label
# contract, and log-loss stays finite.
_PROBA_EPS = 1e-7


class BaseDecoder(BaseEstimator):
    """Base class of the decoders.

    Subclasses implement :meth:`fit`, :meth:`predict_proba` and
    :meth:`predict`. Each receives ``logits`` ``(n, K)`` and ``features``
    ``(n, d)`` torch tensors on the model's device; ``fit`` also receives the
    ``(n, K)`` 0/1 training targets as a tensor on the same device.
    """

    def fit(self, logits, features, Y):
        """Fit the decoder on training outputs and targets; return self."""
        raise NotImplementedError  # pragma: no cover

    def predict_proba(self, logits, features):
        """Return the ``(n, K)`` per-label probabilities as a tensor."""
        raise NotImplementedError  # pragma: no cover

    def predict(self, logits, features):
        """Return the ``(n, K)`` boolean label indicator as a tensor."""
        raise NotImplementedError  # pragma: no cover


def _ensure_nonempty(pred, scores):
    """Switch on the best-scoring label of rows that predict no label."""
    empty = ~pred.any(dim=1)
    if empty.any():
        pred = pred.clone()
        pred[empty, scores[empty].argmax(dim=1)] = True
    return pred


def _fit_platt(x, t, l2=1e-3, max_iter=100, tol=1e-10):
    """Fit ``P(t=1 | x) = sigmoid(a x + b)`` by damped Newton steps.

    A small ridge keeps the two parameters finite when the training scores
    separate the classes perfectly (as they do once a network fits its
    training data); the step-halving line search keeps Newton from
    overshooting on such data.
    """
    x = x.double()
    t = t.double()
    n = x.numel()

    def objective(theta):
        z = theta[0] * x + theta[1]
        nll = (torch.nn.functional.softplus(z) - t * z).sum() / n
        return nll + 0.5 * l2 * (theta**2).sum()

    theta = torch.tensor([1.0, 0.0], dtype=torch.float64, device=x.device)
    value = objective(theta)
    for _ in range(max_iter):
        p = torch.sigmoid(theta[0] * x + theta[1])
        r = p - t
        w = p * (1 - p)
        grad = torch.stack([(r * x).sum(), r.sum()]) / n + l2 * theta
        hxb = (w * x).sum() / n
        hess = torch.stack(
            [
                torch.stack([(w * x * x).sum() / n + l2, hxb]),
                torch.stack([hxb, w.sum() / n + l2]),
            ]
        )
        step = torch.linalg.solve(hess, grad)
        scale = 1.0
        while scale > 1e-8:
            candidate = theta - scale * step
            new_value = objective(candidate)
            if new_value <= value:
                break
            scale /= 2
        else:
            break
        theta, value = candidate, new_value
        if (scale * step).abs().max() < tol:
            break
    return float(theta[0]), float(theta[1])


class ThresholdDecoder(BaseDecoder):
    r"""Predict every label whose calibrated probability reaches a threshold.

    Under the PAL loss a label's log-softmax score
    :math:`s_k = z_k - \log\sum_j e^{z_j}` is about :math:`-\log m` for the
    :math:`m` labels of a sample and much lower for the others. The decoder
    maps the score to a per-label probability with a logistic curve
    :math:`p_k = \sigma(a\,s_k + b)` whose two parameters are fitted by
    maximum likelihood on the training outputs (Platt scaling, shared by all
    labels), and predicts the labels with :math:`p_k \geq` ``threshold``.

    Parameters
    ----------
    threshold : float, default=0.5
        Probability at or above which a label is predicted; in (0, 1).
    allow_empty : bool, default=False
        If False, a sample with no label above the threshold is given its
        most probable label, so that every prediction has at least one label.

    Attributes
    ----------
    coef_ : float
        The fitted slope ``a``.
    intercept_ : float
        The fitted intercept ``b``.

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

    def __init__(self, threshold=0.5, allow_empty=False):
        self.threshold = threshold
        self.allow_empty = allow_empty

    # Platt scaling over at most this many (sample, label) scores: the
    # two-parameter fit converges long before, and memory stays bounded.
    _max_fit_scores = 2_000_000

    def fit(self, logits, features, Y):
        """Fit the calibration curve on training logits and 0/1 targets.

        Parameters
        ----------
        logits : torch.Tensor of shape (n, K)
            Training logits.
        features : torch.Tensor of shape (n, d) or None
            Unused; part of the decoder interface.
        Y : torch.Tensor of shape (n, K)
            Training 0/1 targets.

        Returns
        -------
        self : ThresholdDecoder
            The fitted decoder.
        """
        if not (isinstance(self.threshold, numbers.Real) and 0 < self.threshold < 1):
            raise ValueError(
                f"threshold must be a number in (0, 1); got {self.threshold!r}."
            )
        n, K = logits.shape
        step = max(1, (n * K) // self._max_fit_scores)
        scores = torch.log_softmax(logits[::step].float(), dim=1)
        self.coef_, self.intercept_ = _fit_platt(
            scores.reshape(-1), Y[::step].reshape(-1)
        )
        return self

    def predict_proba(self, logits, features):
        """Return the ``(n, K)`` per-label probabilities, in float64."""
        scores = torch.log_softmax(logits.double(), dim=1)
        proba = torch.sigmoid(self.coef_ * scores + self.intercept_)
        return proba.clamp(_PROBA_EPS, 1 - _PROBA_EPS)

    def predict(self, logits, features):
        """Return the ``(n, K)`` boolean label indicator."""
        proba = self.predict_proba(logits, features)
        pred = proba >= self.threshold
        if not self.allow_empty:
            pred = _ensure_nonempty(pred, proba)
        return pred


_DECODERS = {"threshold": ThresholdDecoder}


def get_decoder(decoder):
    """Return a fresh, unfitted decoder from a name or a decoder instance.

    Parameters
    ----------
    decoder : str or BaseDecoder
        A name (``'threshold'``) or a decoder instance, which is cloned.

    Returns
    -------
    decoder : BaseDecoder
        An unfitted decoder.
    """
    from sklearn.base import clone

    if isinstance(decoder, str):
        if decoder not in _DECODERS:
            raise ValueError(
                f"Unknown decoder {decoder!r}; use one of {sorted(_DECODERS)} or "
                "pass a decoder instance such as sknc.ThresholdDecoder()."
            )
        return _DECODERS[decoder]()
    if isinstance(decoder, BaseDecoder):
        return clone(decoder)
    raise TypeError(
        f"decoder must be a decoder name or an sknc decoder instance; got {decoder!r}."
    )
