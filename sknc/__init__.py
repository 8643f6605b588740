"""sknc: multi-label neural classification built on neural-collapse theory."""

import importlib

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
from ._persistence import StateFileError
from ._version import __version__
from .decoders import (
    BaseDecoder,
    KNNDecoder,
    ONNDecoder,
    ThresholdDecoder,
    TopKDecoder,
)

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
    "StateFileError",
    "NeuralCollapseScorer",
    "callbacks",
    "datasets",
    "metrics",
    "model_selection",
    "plotting",
    "ufm",
    "__version__",
]

# Imported on first use (``sknc.metrics``, ``from sknc import datasets``):
# ``import sknc`` then costs the estimators only.
_SUBMODULES = {"callbacks", "datasets", "metrics", "model_selection", "plotting", "ufm"}
_LAZY_NAMES = {"NeuralCollapseScorer": "metrics"}


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY_NAMES:
        module = importlib.import_module(f".{_LAZY_NAMES[name]}", __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
