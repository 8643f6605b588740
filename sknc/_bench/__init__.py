"""``python -m sknc benchmark`` and ``demo``: sknc against scikit-learn's estimators.

The pieces are usable on their own (the repository's ``benchmarks`` scripts
reuse them): :func:`load_data` reads a data set, :func:`preprocess` scales
it, :func:`make_estimator` builds a method by its key,
:func:`label_scores`, :func:`score_predictions` and :func:`n_trainable_params`
measure a fitted model, :func:`run_benchmark` fits and scores a list of
methods, and :func:`format_report` writes the result as text, Markdown, CSV
or JSON. :class:`ConstantLabels` lets a multi-label estimator ignore labels
that are constant in training; :class:`BCENetClassifier` is the usual neural
baseline (sknc's backbone, sigmoid outputs, binary cross-entropy).
:func:`cli` runs ``python -m sknc``.
"""

from ._bce import BCENetClassifier
from ._cli import DESCRIPTION, EPILOG, add_parser, cli, main
from ._data import (
    DATA_KEYS,
    DIGITS_SIZES,
    describe,
    digits_split,
    is_binary,
    load_data,
    preprocess,
)
from ._demo import format_table, run_demo
from ._estimators import (
    ALIASES,
    DEFAULT_METHODS,
    METHODS,
    MLP_MAX_ITER,
    PEER_EPOCH_METHODS,
    STRONG_PEERS,
    TORCH_METHODS,
    ConstantLabels,
    make_estimator,
)
from ._peers import ChainEnsemble, strong_peer
from ._report import COSTS, FORMATS, format_report, leaders
from ._run import benchmark, run_benchmark
from ._scoring import METRICS, label_scores, n_trainable_params, score_predictions

__all__ = [
    "ALIASES",
    "COSTS",
    "DATA_KEYS",
    "DEFAULT_METHODS",
    "DESCRIPTION",
    "DIGITS_SIZES",
    "EPILOG",
    "FORMATS",
    "METHODS",
    "METRICS",
    "MLP_MAX_ITER",
    "STRONG_PEERS",
    "PEER_EPOCH_METHODS",
    "TORCH_METHODS",
    "BCENetClassifier",
    "ChainEnsemble",
    "ConstantLabels",
    "add_parser",
    "benchmark",
    "cli",
    "describe",
    "digits_split",
    "format_report",
    "format_table",
    "is_binary",
    "label_scores",
    "leaders",
    "load_data",
    "main",
    "make_estimator",
    "n_trainable_params",
    "preprocess",
    "run_benchmark",
    "run_demo",
    "score_predictions",
    "strong_peer",
]
