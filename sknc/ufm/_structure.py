"""Label structures of the unconstrained feature model, and its losses."""

import itertools
import numbers

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, validate_params

from .._loss import LOSSES
from .._targets import check_indicator

__all__ = ["make_label_structure"]

_LOSS_NAMES = tuple(LOSSES)
_DTYPES = {"float32": torch.float32, "float64": torch.float64}

# --------------------------------------------------------------------------
# Label structures
# --------------------------------------------------------------------------


def _check_label_set(key, n_labels):
    """Return a label-set key of ``counts`` as a sorted tuple of ints."""
    try:
        labels = [int(k) for k in key]
    except (TypeError, ValueError):
        labels = None
    if labels is None or any(
        isinstance(k, bool) or not isinstance(k, numbers.Integral) for k in key
    ):
        raise ValueError(
            "counts keys must be a multiplicity (int) or a label set (a tuple "
            f"of label indices); got {key!r}."
        )
    if len(set(labels)) != len(labels) or any(not 0 <= k < n_labels for k in labels):
        raise ValueError(
            f"The label set {key!r} in counts must hold distinct label indices "
            f"in [0, {n_labels - 1}]."
        )
    return tuple(sorted(labels))


@validate_params(
    {
        "n_labels": [Interval(numbers.Integral, 2, None, closed="left")],
        "counts": [dict],
        "label_weights": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def make_label_structure(n_labels, counts, *, label_weights=None):
    """Build a label indicator with a prescribed number of samples per set.

    Every label set gets a number of identical rows: the UFM has one free
    feature per row, so only these counts matter.

    Parameters
    ----------
    n_labels : int
        Number of labels ``K``; at least 2.
    counts : dict
        Samples per label set. A key is either

        - an int ``m`` (a multiplicity, ``0 <= m <= K``): **every** set of
          ``m`` labels gets ``counts[m]`` samples (balanced within the
          multiplicity; ``m = 0`` is the empty set, rows without a label);
        - a tuple of label indices, e.g. ``(0, 3)``: that set gets
          ``counts[(0, 3)]`` samples, overriding its multiplicity's entry;
          ``0`` removes the set (a *missing* set).

        Different values for different ``m`` make the multiplicities
        imbalanced between each other.
    label_weights : array-like of shape (n_labels,), default=None
        Imbalance *within* a multiplicity: a set ``S`` of an int entry gets
        ``round(counts[m] * prod(label_weights[k] for k in S))`` samples
        (an explicit tuple entry is used as given). For example weights
        ``[1, 1, 1, 0.1, 0.1, 0.1]`` with ``counts={1: 100}`` give 100
        samples to each of labels 0-2 and 10 to each of labels 3-5.

    Returns
    -------
    Y : ndarray of shape (n_samples, n_labels), dtype int64
        0/1 indicator; the rows of one set are contiguous, sets ordered by
        multiplicity and then lexicographically.

    See Also
    --------
    simulate_ufm : Optimise the UFM on the structure.

    Examples
    --------
    >>> from sknc.ufm import make_label_structure
    >>> Y = make_label_structure(3, {1: 2, 2: 1, (0, 2): 0})
    >>> Y
    array([[1, 0, 0],
           [1, 0, 0],
           [0, 1, 0],
           [0, 1, 0],
           [0, 0, 1],
           [0, 0, 1],
           [1, 1, 0],
           [0, 1, 1]])
    >>> make_label_structure(4, {1: 100}, label_weights=[1, 1, 0.1, 0.1]).sum(0)
    array([100, 100,  10,  10])
    """
    K = int(n_labels)
    if label_weights is None:
        weights = np.ones(K)
    else:
        weights = np.asarray(label_weights, dtype=float)
        if weights.shape != (K,) or not (
            np.isfinite(weights).all() and (weights > 0).all()
        ):
            raise ValueError(
                f"label_weights must hold {K} positive finite numbers (one per "
                f"label); got {label_weights!r}."
            )
    per_set = {}
    explicit = {}
    for key, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError(
                f"counts values must be non-negative ints; got {value!r} for {key!r}."
            )
        if value < 0:
            raise ValueError(f"counts[{key!r}] must be >= 0; got {value}.")
        if isinstance(key, numbers.Integral) and not isinstance(key, bool):
            if not 0 <= key <= K:
                raise ValueError(
                    f"A multiplicity key of counts must be in [0, {K}]; got {key}."
                )
            for labels in itertools.combinations(range(K), int(key)):
                n = int(round(value * float(np.prod(weights[list(labels)]))))
                per_set[labels] = n
        else:
            explicit[_check_label_set(key, K)] = int(value)
    per_set.update(explicit)
    rows = []
    for labels in sorted(per_set, key=lambda s: (len(s), s)):
        y = np.zeros(K, dtype=np.int64)
        y[list(labels)] = 1
        rows.extend([y] * per_set[labels])
    if not rows:
        raise ValueError(
            f"counts={counts!r} gives no sample at all; give at least one label "
            "set a positive count."
        )
    return np.array(rows)


def _check_Y(Y):
    """Return ``Y`` as a dense 0/1 float64 ndarray of shape (n, K >= 2)."""
    Y, _ = check_indicator(
        Y,
        "Y",
        min_labels=2,
        purpose="The UFM needs at least one sample and two labels.",
        dtype=np.float64,
    )
    if Y.shape[0] == 0:
        raise ValueError(
            f"Y needs at least one sample and two labels; got shape {Y.shape}."
        )
    return Y


# --------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------


def _make_loss(loss, loss_params):
    """Return the loss module of a name (the estimators' mapping) or a callable."""
    params = dict(loss_params or {})
    if isinstance(loss, str):
        cls, defaults = LOSSES[loss]
        return cls(**{**defaults, **params})
    if params:
        raise ValueError(
            "loss_params only applies to a loss given by name; configure the "
            f"loss object {loss!r} directly instead."
        )
    return loss


def _evaluate_loss(criterion, logits, Y):
    value = criterion(logits, Y)
    if not isinstance(value, torch.Tensor) or value.ndim != 0:
        raise ValueError(
            "The loss must return a scalar tensor (the mean over the samples); "
            f"got {type(value).__name__} "
            f"{tuple(getattr(value, 'shape', ()))}. Use reduction='mean'."
        )
    return value
