"""Sample and class weights: checked once, and applied to the PAL loss.

A row's weight multiplies its PAL loss (zero removes it from the loss). A
label's weight (``class_weight``) multiplies that label's term of the PAL
sum, ``sum_k y_k c_k l(z, k)``; with PAL-N the sum is still divided by the
number of labels of the row, so that the weights only shift the balance
between labels.

Row weights travel with the encoded targets, as one more column, so that
every input path (arrays, sparse matrices, torch Datasets, skorch's
validation split) carries them without a path of its own: :func:`pack`
appends the column, :func:`unpack` splits it off again.
"""

import numbers

import numpy as np
import torch

__all__ = [
    "check_class_weight",
    "check_sample_weight",
    "pack",
    "unpack",
    "weighted_loss",
]


def check_sample_weight(sample_weight, n_samples):
    """Return ``sample_weight`` as a float64 array of ``n_samples`` weights, or None.

    Parameters
    ----------
    sample_weight : array-like of shape (n_samples,) or None
        Non-negative, finite weights, not all zero.
    n_samples : int
        Number of training rows.

    Returns
    -------
    sample_weight : ndarray of shape (n_samples,) or None
        The checked weights (None stays None).
    """
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Number):
        raise ValueError(
            "sample_weight must be an array of one weight per row (shape "
            f"(n_samples,) = ({n_samples},)); got the number {sample_weight!r}."
        )
    try:
        weight = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"sample_weight must be numbers, one per row; got {exc}."
        ) from exc
    if weight.shape != (n_samples,):
        raise ValueError(
            f"sample_weight has shape {weight.shape} but X has {n_samples} rows: "
            f"give one weight per row, shape ({n_samples},)."
        )
    if not np.isfinite(weight).all():
        row = int(np.flatnonzero(~np.isfinite(weight))[0])
        raise ValueError(
            f"sample_weight contains NaN or infinity (first in row {row}); "
            "weights must be finite numbers >= 0."
        )
    if (weight < 0).any():
        row = int(np.flatnonzero(weight < 0)[0])
        raise ValueError(
            f"sample_weight has negative weights (row {row}: {weight[row]:g}); "
            "weights must be >= 0 (0 leaves a row out)."
        )
    if not weight.any():
        raise ValueError(
            "sample_weight is zero for every row: nothing would be learned. "
            "Give at least one row a positive weight."
        )
    return weight


def check_class_weight(class_weight, Y, label_names):
    """Return per-label loss weights from ``class_weight``, or None.

    Parameters
    ----------
    class_weight : None, 'balanced', dict or array-like
        None: no weights. ``'balanced'``: ``n_pos / (K' * n_k)`` for label
        ``k`` with ``n_k`` positive rows, ``n_pos`` the positives of all
        labels and ``K'`` the labels that occur (labels that never occur get
        1), so that the weights average to 1 over the positive occurrences.
        A dict maps label names to weights (labels left out get 1); an array
        gives one weight per label.
    Y : ndarray of shape (n_samples, K)
        The 0/1 training indicator (multi-label), or one-hot classes.
    label_names : array-like of shape (K,)
        The labels' names (the keys of a dict).

    Returns
    -------
    weights : ndarray of shape (K,) or None
        Positive finite weights.
    """
    if class_weight is None:
        return None
    K = Y.shape[1]
    names = list(np.asarray(label_names).tolist())
    if isinstance(class_weight, str):
        counts = np.asarray(Y.sum(axis=0), dtype=np.float64).ravel()
        present = counts > 0
        weights = np.ones(K)
        weights[present] = counts.sum() / (present.sum() * counts[present])
        return weights
    if isinstance(class_weight, dict):
        unknown = [key for key in class_weight if key not in names]
        if unknown:
            raise ValueError(
                f"class_weight names label(s) {unknown[:5]} that are not among "
                f"the labels of y ({names[:10]}{'...' if K > 10 else ''})."
            )
        weights = np.ones(K)
        for key, value in class_weight.items():
            weights[names.index(key)] = value
    else:
        weights = np.asarray(class_weight, dtype=np.float64)
        if weights.shape != (K,):
            raise ValueError(
                f"class_weight must hold one weight per label: shape ({K},); got "
                f"shape {weights.shape}."
            )
    if not np.all(np.isfinite(weights)) or np.any(weights <= 0):
        raise ValueError(
            "class_weight must be positive and finite for every label; got "
            f"{weights[~(np.isfinite(weights) & (weights > 0))][:5].tolist()}."
        )
    return weights


def pack(y_enc, sample_weight):
    """Append the row weights to the encoded targets as a last column."""
    y2d = y_enc if y_enc.ndim == 2 else y_enc[:, None]
    # class indices stay exact in float64; indicators are float32 already
    dtype = np.float32 if y_enc.ndim == 2 else np.float64
    return np.concatenate([y2d.astype(dtype), sample_weight[:, None].astype(dtype)], 1)


def unpack(y, multilabel, n_columns):
    """Split packed targets into ``(targets, row weights)``; weights None if unpacked.

    Parameters
    ----------
    y : ndarray or torch.Tensor
        Encoded targets, packed by :func:`pack` or not.
    multilabel : bool
        Whether the targets are an indicator (else class indices).
    n_columns : int
        Columns of the unpacked indicator (the network's outputs).

    Returns
    -------
    targets : ndarray or torch.Tensor
        The encoded targets: the indicator, or int64 class indices.
    weights : ndarray, torch.Tensor or None
        The row weights, when packed.
    """
    if multilabel:
        if y.ndim == 2 and y.shape[1] == n_columns + 1:
            return y[:, :-1], y[:, -1]
        return y, None
    if y.ndim == 2:
        classes = y[:, 0]
        classes = classes.long() if torch.is_tensor(classes) else classes.astype(int)
        return classes, y[:, 1]
    return y, None


def weighted_loss(criterion, logits, target, row_weight=None, label_weight=None):
    """Average the batch's per-row PAL losses with the rows' weights.

    Parameters
    ----------
    criterion : torch.nn.Module
        A loss with a ``reduction`` attribute (sknc's PAL losses, torch's).
    logits : torch.Tensor of shape (N, K)
        The logits.
    target : torch.Tensor of shape (N, K) or (N,)
        The indicator or class indices.
    row_weight : torch.Tensor of shape (N,) or None
        Per-row weights.
    label_weight : torch.Tensor of shape (K,) or None
        Per-label weights of the PAL terms.

    Returns
    -------
    loss : torch.Tensor
        A scalar.
    """
    if not hasattr(criterion, "reduction"):
        raise ValueError(
            f"sample_weight and class_weight need a criterion with a reduction "
            f"attribute (per-row losses with reduction='none'), as sknc's PAL "
            f"losses and torch's have; {type(criterion).__name__} has none."
        )
    factor = None
    if label_weight is not None:
        label_weight = label_weight.to(logits)
        if target.ndim == 1:
            factor = label_weight[target.long()]
        else:
            weighted = target * label_weight
            if getattr(criterion, "normalize", False):
                # PAL-N divides by the weighted mass: rescale to |S|
                mass = target.sum(dim=1)
                factor = weighted.sum(dim=1) / torch.where(mass > 0, mass, 1.0)
            target = weighted
    reduction = criterion.reduction
    criterion.reduction = "none"
    try:
        per_row = criterion(logits, target)
    finally:
        criterion.reduction = reduction
    if factor is not None:
        per_row = per_row * factor
    if row_weight is None:
        return per_row.mean()
    # the average weighted by the rows' weights: an integer weight is then
    # exactly a repeated row (with full batches), whatever the optimizer
    row_weight = row_weight.to(logits)
    mass = row_weight.sum()
    return (per_row * row_weight).sum() / mass.clamp_min(torch.finfo(mass.dtype).tiny)
