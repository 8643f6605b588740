"""Model selection for multi-label data: splitters and decoder tuning.

- Splitters and a skorch ``train_split`` built on iterative stratification
  (:mod:`sknc.model_selection._split`).
- :class:`TunedDecoderCV`, which tunes the decoder and the objective of an
  sknc estimator with one trained network per fold.
"""

from ._split import (
    MultilabelStratifiedKFold,
    MultilabelStratifiedShuffleSplit,
    MultilabelStratifiedValidSplit,
    RepeatedMultilabelStratifiedKFold,
    StratificationWarning,
    multilabel_train_test_split,
)
from ._tuned_decoder import TunedDecoderCV

__all__ = [
    "MultilabelStratifiedKFold",
    "MultilabelStratifiedShuffleSplit",
    "MultilabelStratifiedValidSplit",
    "RepeatedMultilabelStratifiedKFold",
    "StratificationWarning",
    "TunedDecoderCV",
    "multilabel_train_test_split",
]
