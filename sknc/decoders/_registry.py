"""Decoder names and :func:`get_decoder`, the estimators' way to a decoder."""

from sklearn.base import clone

from ._base import BaseDecoder
from ._knn import KNNDecoder
from ._onn import ONNDecoder
from ._threshold import ThresholdDecoder
from ._topk import TopKDecoder

__all__ = ["DECODERS", "get_decoder"]

# The names the estimators' ``decoder`` parameter accepts.
DECODERS = {
    "onn": ONNDecoder,
    "knn": KNNDecoder,
    "threshold": ThresholdDecoder,
    "topk": TopKDecoder,
}


def get_decoder(decoder):
    """Return a fresh, unfitted decoder from a name or a decoder instance.

    Parameters
    ----------
    decoder : str or BaseDecoder
        A name (``'onn'``, ``'knn'``, ``'threshold'``, ``'topk'``) or a decoder
        instance, which is cloned.

    Returns
    -------
    decoder : BaseDecoder
        An unfitted decoder.
    """
    if isinstance(decoder, str):
        if decoder not in DECODERS:
            raise ValueError(
                f"Unknown decoder {decoder!r}; use one of {sorted(DECODERS)} or "
                "pass a decoder instance such as sknc.ONNDecoder()."
            )
        return DECODERS[decoder]()
    if isinstance(decoder, BaseDecoder):
        return clone(decoder)
    raise TypeError(
        f"decoder must be a decoder name or an sknc decoder instance; got {decoder!r}."
    )
