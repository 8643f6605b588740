"""sknc: multi-label neural classification built on neural-collapse theory."""

from . import callbacks, datasets, metrics, model_selection, plotting, ufm
from ._classifier import FixedETFClassifier, PALClassifier
from ._etf import simplex_etf
from ._loss import PALCrossEntropyLoss, PALFocalLoss, PALMSELoss
from ._modules import (
    EnsembleNet,
    FixedETFHead,
    LinearHead,
    MLPBackbone,
    NormalizedHead,
    PALNet,
)
from ._version import __version__
from .decoders import (
    BaseDecoder,
    KNNDecoder,
    ONNDecoder,
    ThresholdDecoder,
    TopKDecoder,
)
from .metrics import NeuralCollapseScorer

__all__ = [
    "PALClassifier",
    "FixedETFClassifier",
    "PALCrossEntropyLoss",
    "PALFocalLoss",
    "PALMSELoss",
    "simplex_etf",
    "BaseDecoder",
    "ONNDecoder",
    "KNNDecoder",
    "ThresholdDecoder",
    "TopKDecoder",
    "MLPBackbone",
    "LinearHead",
    "FixedETFHead",
    "NormalizedHead",
    "PALNet",
    "EnsembleNet",
    "NeuralCollapseScorer",
    "callbacks",
    "datasets",
    "metrics",
    "model_selection",
    "plotting",
    "ufm",
    "__version__",
]
