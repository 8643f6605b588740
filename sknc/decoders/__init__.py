"""Decoders: turn a PAL network's outputs into label sets and probabilities.

A decoder is fitted once, at the end of training, on the network's outputs
for the training data (one eval-mode pass), and then maps the outputs of new
samples to an ``(n, K)`` 0/1 prediction and ``(n, K)`` per-label
probabilities. Decoders work on torch tensors on the model's device.

Four decoders are provided:

- :class:`KNNDecoder` (the default): the label set whose nearest training
  samples in feature space are closest.
- :class:`ONNDecoder`: nearest label-set prototype in feature space, the
  decoding the multi-label neural-collapse geometry suggests.
- :class:`ThresholdDecoder`: per-label calibrated probability >= threshold.
- :class:`TopKDecoder`: the k most probable labels, k fixed or predicted.

:class:`Decision` holds a fitted decoder and the objectives' thresholds:
the estimators' ``predict`` is one call into it with the network's outputs.
:func:`get_decoder` makes a decoder from a name. The building blocks of ONN
decoding work on any prototypes: :func:`nearest_prototypes` (exact search in
bounded memory, with optional label pruning), :func:`soft_assign_marginals`
(per-label marginals of a soft assignment), :func:`prototype_nll` and
:func:`fit_temperature` (its likelihood and maximum-likelihood temperature).
"""

from ._base import BaseDecoder
from ._calibration import fit_temperature
from ._decision import Decision
from ._knn import KNNDecoder
from ._onn import ONNDecoder
from ._registry import get_decoder
from ._search import nearest_prototypes, prototype_nll, soft_assign_marginals
from ._threshold import ThresholdDecoder
from ._topk import TopKDecoder

__all__ = [
    "BaseDecoder",
    "Decision",
    "KNNDecoder",
    "ONNDecoder",
    "ThresholdDecoder",
    "TopKDecoder",
    "get_decoder",
    "nearest_prototypes",
    "soft_assign_marginals",
    "prototype_nll",
    "fit_temperature",
]
