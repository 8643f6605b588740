"""The pick-all-label (PAL) cross-entropy loss."""

import torch.nn.functional as F
from torch import nn

__all__ = ["PALCrossEntropyLoss"]


class PALCrossEntropyLoss(nn.Module):
    r"""Pick-all-label cross-entropy for multi-label (and multi-class) targets.

    For a sample with logits :math:`z \in \mathbb{R}^K` and label set
    :math:`S`, PAL sums one softmax cross-entropy per positive label:

    .. math::

        L_{PAL}(z, y) = -\sum_{k=1}^{K} y_k \log \mathrm{softmax}(z)_k ,

    where ``y`` is the 0/1 indicator of :math:`S` (soft targets in [0, 1]
    are accepted and weight each label's term). The normalized variant
    (PAL-N) divides by the multiplicity :math:`|S| = \sum_k y_k`. The loss
    is averaged over the samples of the batch.

    Parameters
    ----------
    normalize : bool, default=False
        If True, compute PAL-N: each sample's loss is divided by the sum of
        its targets, so every sample weighs the same whatever its number of
        labels.
    reduction : {'mean', 'sum', 'none'}, default='mean'
        How per-sample losses are combined, as in
        :class:`torch.nn.CrossEntropyLoss`.

    Notes
    -----
    * Targets may be an ``(N, K)`` 0/1 (or soft) indicator, or ``(N,)``
      integer class indices; with class indices PAL is the ordinary
      cross-entropy (PAL and PAL-N coincide).
    * Rows without any positive label contribute a loss of zero (they still
      count in the mean over the batch). Their features are still shaped by
      any feature decay.
    * The loss is computed from ``log_softmax``, so it stays finite, with
      finite gradients, for logits as large as ``1e4`` in absolute value.

    Examples
    --------
    >>> import torch
    >>> from sknc import PALCrossEntropyLoss
    >>> logits = torch.tensor([[2.0, 2.0, -1.0], [0.0, 0.0, 0.0]])
    >>> targets = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    >>> loss = PALCrossEntropyLoss()(logits, targets)
    >>> round(loss.item(), 3)
    1.267
    """

    def __init__(self, normalize=False, reduction="mean"):
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(
                f"reduction must be 'mean', 'sum' or 'none'; got {reduction!r}."
            )
        self.normalize = normalize
        self.reduction = reduction

    def forward(self, logits, target):
        """Compute the loss.

        Parameters
        ----------
        logits : torch.Tensor of shape (N, K)
            Unnormalized scores.
        target : torch.Tensor of shape (N, K) or (N,)
            A 0/1 (or soft) label indicator, or integer class indices.

        Returns
        -------
        loss : torch.Tensor
            A scalar, or the ``(N,)`` per-sample losses with
            ``reduction='none'``.
        """
        if logits.ndim != 2:
            raise ValueError(
                f"logits must have shape (N, K); got shape {tuple(logits.shape)}."
            )
        log_p = F.log_softmax(logits, dim=1)
        if target.ndim == 1:
            per_sample = -log_p.gather(1, target.long().view(-1, 1)).squeeze(1)
        elif target.shape == logits.shape:
            target = target.to(log_p.dtype)
            per_sample = -(target * log_p).sum(dim=1)
            if self.normalize:
                # clamp: rows without a label stay at zero instead of 0/0
                per_sample = per_sample / target.sum(dim=1).clamp_min(1e-12)
        else:
            raise ValueError(
                "target must be (N,) class indices or an (N, K) indicator with "
                f"the shape of the logits {tuple(logits.shape)}; got shape "
                f"{tuple(target.shape)}."
            )
        if self.reduction == "mean":
            return per_sample.mean()
        if self.reduction == "sum":
            return per_sample.sum()
        return per_sample
