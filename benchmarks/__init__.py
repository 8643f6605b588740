"""sknc's benchmark studies, run from the repository root as modules.

``python -m benchmarks.<study> --help`` describes a study and its options;
``benchmarks/README.md`` lists them with their results. Every study is a
module of settings and report sections on the shared harness
(:mod:`benchmarks._harness`: data sets, common arguments, the run and its
report header, runs per data set with checkpoints, Markdown tables, peak
memory). The methods by key, the metrics and the runner of fits are
``sknc._bench``'s: the one benchmark layer, re-exported here.
"""

from sknc._bench import (
    METRICS,
    SCORES,
    STRONG_PEERS,
    ConstantLabels,
    Runner,
    is_binary,
    label_scores,
    make_estimator,
    preprocess,
    score_predictions,
    warm_up,
)

from ._harness import *  # noqa: F403
from ._harness import __all__ as _harness_all

__all__ = [
    *_harness_all,
    "METRICS",
    "SCORES",
    "STRONG_PEERS",
    "ConstantLabels",
    "Runner",
    "is_binary",
    "label_scores",
    "make_estimator",
    "preprocess",
    "score_predictions",
    "warm_up",
]
