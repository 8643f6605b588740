"""The decoder interface and what every decoder shares."""

import math
import numbers

import torch
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions

from ._distribution import top_product_sets

__all__ = [
    "BaseDecoder",
    "PROBA_EPS",
    "RowSample",
    "StrictInterval",
    "ensure_nonempty",
    "positive_int",
    "positive_real",
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


class RowSample:
    """A uniform sample without replacement of at most ``size`` streamed rows.

    Every row gets a random key and the ``size`` smallest keys are kept
    (bottom-k sampling), with a fixed seed so that a fit is repeatable.
    ``update`` takes any number of row-aligned tensors; ``positions`` holds
    the kept rows' positions in the stream. Batches are buffered and the
    sample is cut down when the buffer holds twice ``size`` rows, so that
    each row is copied a bounded number of times.

    Parameters
    ----------
    size : int
        Rows kept at most.
    seed : int, default=0
        Seed of the keys.
    """

    def __init__(self, size, seed=0):
        self.size = int(size)
        self.generator = torch.Generator().manual_seed(seed)
        self.n_seen = 0
        self._pending = []  # (keys, positions, tensors) of buffered batches
        self._n_pending = 0

    def update(self, *tensors):
        """Add a batch of rows (the tensors share their first dimension)."""
        n = len(tensors[0])
        device = tensors[0].device
        keys = torch.rand(n, generator=self.generator).to(device)
        positions = torch.arange(self.n_seen, self.n_seen + n, device=device)
        self._pending.append((keys, positions, [t.detach() for t in tensors]))
        self.n_seen += n
        self._n_pending += n
        if self._n_pending > 2 * self.size:
            self._compact()
        return self

    def _compact(self):
        keys = torch.cat([k for k, _, _ in self._pending])
        positions = torch.cat([p for _, p, _ in self._pending])
        columns = zip(*(t for _, _, t in self._pending), strict=True)
        tensors = [torch.cat(column) for column in columns]
        if len(keys) > self.size:
            keep = torch.topk(keys, self.size, largest=False).indices
            keep = keep[torch.argsort(positions[keep])]  # stream order
            keys, positions = keys[keep], positions[keep]
            tensors = [t[keep] for t in tensors]
        self._pending = [(keys, positions, tensors)]
        self._n_pending = len(keys)

    @property
    def tensors(self):
        """The kept rows of each tensor, in stream order (None before any row)."""
        if not self._pending:
            return None
        self._compact()
        return self._pending[0][2]

    @property
    def positions(self):
        """The kept rows' positions in the stream, ascending."""
        if not self._pending:
            return None
        self._compact()
        return self._pending[0][1]

    def rows(self):
        """Return the kept rows of each tensor, in stream order."""
        return tuple(self.tensors)


def positive_real():
    """Return the constraint of a finite number > 0."""
    return StrictInterval(numbers.Real, 0, math.inf, closed="neither")


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
    # fitted attributes (floats) that the calibration data sets; the
    # estimators' calibration_cv averages them over its folds
    _calibration_attributes = ()
    # the feature decay the network should train with for this decoder
    # (the estimators' feature_decay='auto'); None: the estimators' default
    preferred_feature_decay = None

    def fit(self, logits, features, Y, calibration=None):
        """Fit the decoder on training outputs and targets; return self."""
        raise NotImplementedError  # pragma: no cover

    def recalibrate(self, folds):
        """Refit the calibration on cross-fitted folds (``calibration_cv``).

        This default sets each of ``_calibration_attributes`` to its mean
        over the folds' decoders. A decoder whose calibration is better
        fitted on the folds' held-out rows pooled (a threshold chosen on
        all of them at once) overrides it.

        Parameters
        ----------
        folds : list of (BaseDecoder, tuple of torch.Tensor)
            For each fold, a decoder of the same parameters fitted (and
            calibrated on the fold) on the outputs of a network that did not
            train on the fold, and the fold's ``(logits, features, Y)`` from
            that network.

        Returns
        -------
        self : BaseDecoder
            The recalibrated decoder.
        """
        for name in self._calibration_attributes:
            values = [float(getattr(decoder, name)) for decoder, _ in folds]
            setattr(self, name, sum(values) / len(values))
        return self

    def predict_proba(self, logits, features):
        """Return the ``(n, K)`` per-label probabilities as a tensor."""
        raise NotImplementedError  # pragma: no cover

    def predict(self, logits, features):
        """Return the ``(n, K)`` boolean label indicator as a tensor."""
        raise NotImplementedError  # pragma: no cover

    def predict_set_proba(self, logits, features, top=None):
        """Return the most probable label sets of each sample.

        A decoder of per-label probabilities describes independent labels:
        this default lists the most probable sets of the product
        distribution of :meth:`predict_proba`. Set-valued decoders override
        it with their own distribution.

        Parameters
        ----------
        logits : torch.Tensor of shape (n, K) or None
            The network's logits.
        features : torch.Tensor of shape (n, d) or None
            The network's features.
        top : int or None, default=None
            Sets per sample (None: 32).

        Returns
        -------
        distribution : SetDistribution
            The sets and their probabilities.
        """
        marginals = self.predict_proba(logits, features)
        return top_product_sets(marginals, 32 if top is None else top)

    def training_proba(self, logits, features, positions=None):
        """Return per-label probabilities of the rows :meth:`fit` was given.

        The decoder's best estimate of what it would say of them held out;
        this default is :meth:`predict_proba` (a decoder that can leave a row
        out of its own fit overrides it).

        Parameters
        ----------
        logits : torch.Tensor of shape (n, K) or None
            The training logits, in the order given to :meth:`fit`.
        features : torch.Tensor of shape (n, d) or None
            The training features, in the same order.
        positions : torch.Tensor of shape (n,) or None, default=None
            The rows' positions among the rows :meth:`fit` was given (None:
            all of them, in order); unused by this default.

        Returns
        -------
        proba : torch.Tensor of shape (n, K)
            Probabilities strictly inside (0, 1).
        """
        return self.predict_proba(logits, features)

    def training_predict(self, logits, features, positions=None):
        """Return :meth:`predict` of the rows :meth:`fit` was given.

        The counterpart of :meth:`training_proba` for the decoder's own rule
        (the default of the objectives' thresholds is weighed against it):
        this default is :meth:`predict`; a decoder that can leave a row out of
        its own fit overrides it.

        Parameters
        ----------
        logits, features, positions
            As :meth:`training_proba`.

        Returns
        -------
        pred : torch.Tensor of shape (n, K), dtype bool
        """
        return self.predict(logits, features)

    def _resolve_allow_empty(self, Y):
        """``allow_empty`` as a bool: ``'auto'`` if ``Y`` has an empty row."""
        if isinstance(self.allow_empty, str):
            return bool((Y.sum(dim=1) == 0).any())
        return bool(self.allow_empty)
