r"""The pick-all-label (PAL) loss family.

Every loss here is a *pick-all-label* construction: a per-label loss
:math:`\ell(z, k)`, the loss of logits :math:`z \in \mathbb{R}^K` for a sample
of the single class :math:`k`, summed over the label set :math:`S` of the
sample (or averaged over it, with ``normalize=True``):

.. math::

    L(z, S) = \sum_{k \in S} \ell(z, k), \qquad
    L_N(z, S) = \frac{1}{|S|} \sum_{k \in S} \ell(z, k).

With a 0/1 indicator ``y`` of :math:`S` this is
:math:`\sum_k y_k \, \ell(z, k)`; soft targets in [0, 1] weight each label's
term the same way. Rows without any positive label contribute zero.
"""

import math
import numbers

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LOSSES", "PALCrossEntropyLoss", "PALFocalLoss", "PALMSELoss"]

_REDUCTIONS = ("mean", "sum", "none")


def _check_bool(name, value):
    if value not in (True, False):
        raise ValueError(f"{name} must be True or False; got {value!r}.")
    return bool(value)


def _check_real(name, value, low, high=math.inf, low_closed=True, high_closed=True):
    """Validate a real parameter in an interval; return it as a float."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = math.isfinite(value) and (
            (value >= low if low_closed else value > low)
            and (value <= high if high_closed else value < high)
        )
    if not ok:
        interval = (
            ("[" if low_closed else "(")
            + f"{low:g}, {high:g}"
            + ("]" if high_closed and math.isfinite(high) else ")")
        )
        raise ValueError(
            f"{name} must be a finite real number in {interval}; got {value!r}."
        )
    return value


class _PALLoss(nn.Module):
    """Shared input handling of the PAL losses.

    Subclasses define :meth:`_label_losses`, the ``(N, K)`` matrix of
    per-label losses ``l(z_i, k)``, or override :meth:`_pick_all` when the sum
    over the label set has a better closed form.
    """

    def __init__(self, normalize=False, reduction="mean"):
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(
                f"reduction must be 'mean', 'sum' or 'none'; got {reduction!r}."
            )
        self.normalize = _check_bool("normalize", normalize)
        self.reduction = reduction

    def _label_losses(self, logits):  # pragma: no cover - abstract
        raise NotImplementedError

    def _pick_all(self, logits, weights):
        """``sum_k weights[:, k] * l(z, k)``: the un-normalized PAL sum."""
        return (weights * self._label_losses(logits)).sum(dim=1)

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
        if not logits.is_floating_point():
            logits = logits.float()
        if target.ndim == 1 and target.shape[0] == logits.shape[0]:
            index = target.long()
            n_outputs = logits.shape[1]
            if index.numel() and (index.min() < 0 or index.max() >= n_outputs):
                raise ValueError(
                    f"class indices must be in [0, {n_outputs - 1}] for logits "
                    f"with {n_outputs} columns; got values from "
                    f"{int(index.min())} to {int(index.max())}."
                )
            weights = F.one_hot(index, n_outputs).to(logits.dtype)
            normalize = False  # one label per row: PAL and PAL-N coincide
        elif target.shape == logits.shape:
            weights = target.to(logits.dtype)
            normalize = self.normalize
        else:
            raise ValueError(
                "target must be (N,) class indices or an (N, K) indicator with "
                f"the shape of the logits {tuple(logits.shape)}; got shape "
                f"{tuple(target.shape)}."
            )
        per_sample = self._pick_all(logits, weights)
        if normalize:
            # rows without a label stay at zero instead of 0/0 (a where on
            # the denominator keeps their gradient finite too)
            mass = weights.sum(dim=1)
            positive = mass > 0
            per_sample = torch.where(
                positive, per_sample / torch.where(positive, mass, 1.0), 0.0
            )
        if self.reduction == "mean":
            return per_sample.mean()
        if self.reduction == "sum":
            return per_sample.sum()
        return per_sample


class PALCrossEntropyLoss(_PALLoss):
    r"""Pick-all-label cross-entropy for multi-label (and multi-class) targets.

    For a sample with logits :math:`z \in \mathbb{R}^K` and label set
    :math:`S`, PAL sums one softmax cross-entropy per positive label:

    .. math::

        L_{PAL}(z, y) = -\sum_{k=1}^{K} y_k \log \mathrm{softmax}(z)_k ,

    where ``y`` is the 0/1 indicator of :math:`S` (soft targets in [0, 1]
    are accepted and weight each label's term). The normalized variant
    (PAL-N) divides by the multiplicity :math:`|S| = \sum_k y_k`. The loss
    is averaged over the samples of the batch.

    With ``label_smoothing`` :math:`= \varepsilon > 0`, each picked label's
    one-hot target is smoothed to :math:`(1 - \varepsilon) e_k +
    \varepsilon / K` (as in :class:`torch.nn.CrossEntropyLoss`), so that, with
    :math:`p = \mathrm{softmax}(z)` and :math:`m = |S|`:

    .. math::

        L_{PAL-LS}(z, y) = \sum_{k \in S} \Big[ -(1 - \varepsilon) \log p_k
        - \frac{\varepsilon}{K} \sum_{j=1}^{K} \log p_j \Big]
        = -(1 - \varepsilon) \sum_{k \in S} \log p_k
        - \frac{m \varepsilon}{K} \sum_{j=1}^{K} \log p_j .

    Parameters
    ----------
    normalize : bool, default=False
        If True, compute PAL-N: each sample's loss is divided by the sum of
        its targets, so every sample weighs the same whatever its number of
        labels.
    reduction : {'mean', 'sum', 'none'}, default='mean'
        How per-sample losses are combined, as in
        :class:`torch.nn.CrossEntropyLoss`.
    label_smoothing : float in [0, 1], default=0.0
        The smoothing :math:`\varepsilon` of each picked label's target; 0 is
        the plain PAL cross-entropy. ``K`` is the number of columns of the
        logits (with the estimators: the labels, plus the background label
        when there is one).

    See Also
    --------
    PALFocalLoss : The focal variant.
    PALMSELoss : The rescaled square-loss variant.

    Notes
    -----
    * Targets may be an ``(N, K)`` 0/1 (or soft) indicator, or ``(N,)``
      integer class indices; with class indices PAL is the ordinary
      cross-entropy (PAL and PAL-N coincide), and with label smoothing it is
      ``torch.nn.functional.cross_entropy(..., label_smoothing=eps)``.
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
    >>> smoothed = PALCrossEntropyLoss(label_smoothing=0.1)(logits, targets)
    >>> round(smoothed.item(), 3)
    1.367
    """

    def __init__(self, normalize=False, reduction="mean", label_smoothing=0.0):
        super().__init__(normalize=normalize, reduction=reduction)
        self.label_smoothing = _check_real("label_smoothing", label_smoothing, 0, 1)

    def _pick_all(self, logits, weights):
        log_p = F.log_softmax(logits, dim=1)
        per_sample = -(weights * log_p).sum(dim=1)
        eps = self.label_smoothing
        if eps:
            # sum_{k in S} [(1-eps)(-log p_k) + eps/K (-sum_j log p_j)]
            uniform = -log_p.mean(dim=1)
            per_sample = (1 - eps) * per_sample + eps * weights.sum(dim=1) * uniform
        return per_sample

    def extra_repr(self):
        """Show the parameters in ``repr``."""
        return (
            f"normalize={self.normalize}, reduction={self.reduction!r}, "
            f"label_smoothing={self.label_smoothing}"
        )


def _log1m_softmax(logits, log_p):
    r"""``log(1 - softmax(z)_k)`` for every ``k``, accurate and differentiable.

    Every label but the row's top one has :math:`p_k \le 1/2`, where
    ``log1p(-p_k)`` is accurate. For the top label, :math:`1 - p_k` may round
    to 0; it is computed as ``logsumexp`` of the other logits minus
    ``logsumexp`` of all, finite whenever :math:`K \ge 2`. The unused branch of
    each entry is kept finite so that no NaN leaks into the gradients.
    """
    top = logits.argmax(dim=1, keepdim=True)
    is_top = torch.zeros_like(logits, dtype=torch.bool).scatter_(1, top, True)
    rest = torch.log1p(-log_p.exp().masked_fill(is_top, 0.0))
    others = logits.masked_fill(is_top, -math.inf)
    top_value = torch.logsumexp(others, dim=1, keepdim=True) - torch.logsumexp(
        logits, dim=1, keepdim=True
    )
    return torch.where(is_top, top_value, rest)


class PALFocalLoss(_PALLoss):
    r"""Pick-all-label focal loss.

    The focal loss of Lin et al. (2017) for the softmax,
    :math:`-(1 - p_k)^\gamma \log p_k` with :math:`p = \mathrm{softmax}(z)`,
    summed over the label set :math:`S` of each sample:

    .. math::

        L_{PAL-focal}(z, y) = -\sum_{k=1}^{K} y_k \, (1 - p_k)^{\gamma}
        \log p_k .

    Well-classified labels (:math:`p_k` near its ideal value) are
    down-weighted by :math:`(1 - p_k)^\gamma`; ``gamma=0`` gives the PAL
    cross-entropy. The normalized variant divides by :math:`|S| = \sum_k
    y_k`. Under PAL a sample with :math:`m` labels ideally puts
    :math:`p_k = 1/m` on each, so the focal weight of its labels stays at
    least :math:`(1 - 1/m)^\gamma`: multi-label rows are never fully
    down-weighted.

    Parameters
    ----------
    gamma : float >= 0, default=2.0
        The focusing parameter :math:`\gamma`.
    normalize : bool, default=False
        If True, divide each sample's loss by the sum of its targets.
    reduction : {'mean', 'sum', 'none'}, default='mean'
        How per-sample losses are combined, as in
        :class:`torch.nn.CrossEntropyLoss`.

    See Also
    --------
    PALCrossEntropyLoss : ``gamma=0``.

    Notes
    -----
    * Targets: an ``(N, K)`` 0/1 (or soft) indicator, or ``(N,)`` class
      indices (the multi-class focal loss). Rows without any positive label
      contribute zero.
    * :math:`\log p_k` comes from ``log_softmax`` and :math:`\log(1 - p_k)`
      from a log-sum-exp over the other logits, and the weight is
      :math:`\exp(\gamma \log(1 - p_k))`: loss and gradients stay finite
      even when :math:`p_k` rounds to 0 or 1 (logits of ``1e4`` in float32).

    References
    ----------
    .. [1] T.-Y. Lin, P. Goyal, R. Girshick, K. He and P. Dollár, "Focal
       Loss for Dense Object Detection", ICCV 2017.

    Examples
    --------
    >>> import torch
    >>> from sknc import PALFocalLoss
    >>> logits = torch.tensor([[2.0, 2.0, -1.0], [0.0, 0.0, 0.0]])
    >>> targets = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    >>> loss = PALFocalLoss(gamma=2.0)(logits, targets)
    >>> round(loss.item(), 3)
    0.432
    >>> round(PALFocalLoss(gamma=0.0)(logits, targets).item(), 3)  # = PAL
    1.267
    """

    def __init__(self, gamma=2.0, normalize=False, reduction="mean"):
        super().__init__(normalize=normalize, reduction=reduction)
        self.gamma = _check_real("gamma", gamma, 0)

    def _label_losses(self, logits):
        log_p = F.log_softmax(logits, dim=1)
        if self.gamma == 0 or logits.shape[1] == 1:
            # gamma=0 is PAL; with one output p = 1 and the loss is 0 (= -log p)
            return -log_p
        weight = torch.exp(self.gamma * _log1m_softmax(logits, log_p))
        return -weight * log_p

    def extra_repr(self):
        """Show the parameters in ``repr``."""
        return (
            f"gamma={self.gamma}, normalize={self.normalize}, "
            f"reduction={self.reduction!r}"
        )


class PALMSELoss(_PALLoss):
    r"""Pick-all-label rescaled square loss (Hui & Belkin, 2021).

    For a sample of the single class :math:`k`, the rescaled square loss of
    Hui and Belkin pulls the true logit to :math:`M` with weight
    :math:`\kappa` and every other logit to 0:

    .. math::

        \ell(z, k) = \frac{1}{K} \Big[ \kappa (z_k - M)^2
        + \sum_{j \ne k} z_j^2 \Big]

    (with :math:`\kappa = M = 1` it is the mean squared error between the
    logits and the one-hot target, ``torch.nn.MSELoss()(z, e_k)``). PAL sums
    it over the label set :math:`S` of the sample; with the 0/1 (or soft)
    indicator ``y`` and :math:`s = \sum_k y_k`:

    .. math::

        L_{PAL-MSE}(z, y) = \sum_{k} y_k \, \ell(z, k)
        = \frac{1}{K} \Big[ \kappa \sum_{k} y_k (z_k - M)^2
        + \sum_{j} (s - y_j) \, z_j^2 \Big] ,

    and the normalized variant divides by :math:`s`. For a set of :math:`m`
    labels the minimiser puts :math:`z_k = \kappa M / (\kappa + m - 1)` on
    each label of :math:`S` and 0 elsewhere (:math:`M` for :math:`m = 1`).

    Parameters
    ----------
    kappa : float > 0, default=1.0
        Weight :math:`\kappa` of the true label's term (Hui & Belkin's
        :math:`k`).
    M : float > 0, default=1.0
        Target value :math:`M` of the true label's logit.
    normalize : bool, default=False
        If True, divide each sample's loss by the sum of its targets.
    reduction : {'mean', 'sum', 'none'}, default='mean'
        How per-sample losses are combined, as in
        :class:`torch.nn.CrossEntropyLoss`.

    See Also
    --------
    PALCrossEntropyLoss : The cross-entropy counterpart.

    Notes
    -----
    * Hui and Belkin use :math:`\kappa = M = 1` for up to about ten classes
      and larger values (e.g. :math:`\kappa = 15, M = 30` for ImageNet's
      1000 classes) when there are many.
    * The logits are regressed onto targets, not turned into probabilities:
      the multi-class ``predict_proba`` of the estimators (a softmax of the
      logits) is then far from calibrated, while predictions and the
      nearest-prototype decoder are not affected.
    * The sum over ``j`` uses the weights :math:`s - y_j \ge 0` instead of
      :math:`s \|z\|^2 - \sum_k y_k z_k^2`, which avoids cancellation; loss
      and gradients are finite (about :math:`10^8`) for logits of ``1e4`` in
      float32.
    * Targets: an ``(N, K)`` 0/1 (or soft) indicator, or ``(N,)`` class
      indices (the multi-class rescaled square loss). Rows without any
      positive label contribute zero.

    References
    ----------
    .. [1] L. Hui and M. Belkin, "Evaluation of Neural Architectures Trained
       with Square Loss vs Cross-Entropy in Classification Tasks", ICLR 2021.

    Examples
    --------
    >>> import torch
    >>> from sknc import PALMSELoss
    >>> logits = torch.tensor([[1.0, 0.5, 0.0], [0.0, 0.0, 0.0]])
    >>> targets = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    >>> loss = PALMSELoss(reduction="none")(logits, targets)
    >>> [round(v, 4) for v in loss.tolist()]
    [0.5, 0.3333]
    """

    def __init__(self, kappa=1.0, M=1.0, normalize=False, reduction="mean"):
        super().__init__(normalize=normalize, reduction=reduction)
        self.kappa = _check_real("kappa", kappa, 0, low_closed=False)
        self.M = _check_real("M", M, 0, low_closed=False)

    def _pick_all(self, logits, weights):
        s = weights.sum(dim=1, keepdim=True)
        on_label = (weights * (logits - self.M).square()).sum(dim=1)
        off_label = ((s - weights) * logits.square()).sum(dim=1)
        return (self.kappa * on_label + off_label) / logits.shape[1]

    def extra_repr(self):
        """Show the parameters in ``repr``."""
        return (
            f"kappa={self.kappa}, M={self.M}, normalize={self.normalize}, "
            f"reduction={self.reduction!r}"
        )


# the estimators' and the simulator's ``loss=`` names: (class, its arguments)
LOSSES = {
    "pal": (PALCrossEntropyLoss, {"normalize": False}),
    "pal_n": (PALCrossEntropyLoss, {"normalize": True}),
    "pal_ls": (PALCrossEntropyLoss, {"normalize": False, "label_smoothing": 0.1}),
    "pal_focal": (PALFocalLoss, {"normalize": False, "gamma": 2.0}),
    "pal_mse": (PALMSELoss, {"normalize": False, "kappa": 1.0, "M": 1.0}),
}
