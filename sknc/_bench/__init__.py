"""``python -m sknc benchmark`` and ``demo``: sknc against scikit-learn's estimators.

The one benchmark layer of sknc: the repository's ``benchmarks`` studies import
their methods, metrics and runner from here. :func:`load_data` reads a data
set, :func:`preprocess` scales it, :func:`describe` sums it up,
:func:`make_estimator` builds a method by its key, :data:`SCORES` (all the
metrics) and :data:`METRICS` (the report's columns) name the scores of
:func:`score_predictions`, which :func:`label_scores`,
:func:`label_probabilities` and :func:`n_trainable_params` complete,
:class:`Runner` fits, times and scores methods over data sets and seeds,
:func:`run_benchmark` runs it on a list of methods, and :func:`format_report`
writes the result as text, Markdown, CSV or JSON. :class:`ConstantLabels` lets
a multi-label estimator ignore labels that are constant in training;
:class:`LinearOneVsRest` is the linear one-vs-rest peer with ``C`` chosen by
inner cross-validation; :class:`BCENetClassifier` is the usual neural baseline
(sknc's backbone, sigmoid outputs, binary cross-entropy). :func:`cli` runs
``python -m sknc``.
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
    standard_scaler,
)
from ._demo import format_table, run_demo
from ._estimators import (
    ALIASES,
    DEFAULT_METHODS,
    LINEAR_GRIDS,
    METHODS,
    MLP_MAX_ITER,
    PEER_EPOCH_METHODS,
    STRONG_PEERS,
    TORCH_METHODS,
    ConstantLabels,
    LinearOneVsRest,
    make_estimator,
)
from ._peers import ChainEnsemble, strong_peer
from ._report import COSTS, FORMATS, format_report, leaders
from ._run import Runner, benchmark, run_benchmark, warm_up, warning_text
from ._scoring import (
    LOG_LOSS_EPS,
    METRICS,
    SCORES,
    Metric,
    label_probabilities,
    label_scores,
    multilabel_log_loss,
    n_trainable_params,
    score_predictions,
)

__all__ = [
    "ALIASES",
    "COSTS",
    "DATA_KEYS",
    "DEFAULT_METHODS",
    "DESCRIPTION",
    "DIGITS_SIZES",
    "EPILOG",
    "FORMATS",
    "LINEAR_GRIDS",
    "LOG_LOSS_EPS",
    "METHODS",
    "METRICS",
    "MLP_MAX_ITER",
    "SCORES",
    "STRONG_PEERS",
    "PEER_EPOCH_METHODS",
    "TORCH_METHODS",
    "BCENetClassifier",
    "ChainEnsemble",
    "ConstantLabels",
    "LinearOneVsRest",
    "Metric",
    "Runner",
    "add_parser",
    "benchmark",
    "cli",
    "describe",
    "digits_split",
    "format_report",
    "format_table",
    "is_binary",
    "label_probabilities",
    "label_scores",
    "leaders",
    "load_data",
    "main",
    "make_estimator",
    "multilabel_log_loss",
    "n_trainable_params",
    "preprocess",
    "run_benchmark",
    "run_demo",
    "score_predictions",
    "standard_scaler",
    "strong_peer",
    "warm_up",
    "warning_text",
]
