"""Where the decoders lived before ``sknc.decoders``; kept for old pickles.

Models saved by earlier versions (``save_params(f_state=...)``, pickle,
joblib) refer to their decoder as ``sknc._decoding.<class>``: this alias lets
them load. New code imports from :mod:`sknc.decoders`.
"""

from .decoders import (
    BaseDecoder,
    KNNDecoder,
    ONNDecoder,
    ThresholdDecoder,
    TopKDecoder,
)

__all__ = [
    "BaseDecoder",
    "KNNDecoder",
    "ONNDecoder",
    "ThresholdDecoder",
    "TopKDecoder",
]
