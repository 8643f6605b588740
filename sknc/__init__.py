"""sknc: multi-label neural classification built on neural-collapse theory."""

from . import datasets, model_selection
from ._classifier import FixedETFClassifier, PALClassifier
from ._decoding import BaseDecoder, ThresholdDecoder
from ._etf import simplex_etf
from ._loss import PALCrossEntropyLoss
from ._modules import FixedETFHead, LinearHead, MLPBackbone, PALNet
from ._version import __version__

__all__ = [
    "PALClassifier",
    "FixedETFClassifier",
    "PALCrossEntropyLoss",
    "simplex_etf",
    "BaseDecoder",
    "ThresholdDecoder",
    "MLPBackbone",
    "LinearHead",
    "FixedETFHead",
    "PALNet",
    "datasets",
    "model_selection",
    "__version__",
]
