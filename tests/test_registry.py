"""The metric registry is what the metrics, report, scorer, tracker and plots use.

Each test swaps the registry's kernels for ones that return a mark of their
own, so a consumer that computed a metric some other way (its own list of
names, an if-chain over kernels) would not return the marks (#26).
"""

import dataclasses

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from sknc import PALClassifier
from sknc.callbacks import NeuralCollapseTracker
from sknc.metrics import (
    NeuralCollapseScorer,
    nc1,
    nc2,
    nc2_means,
    nc3,
    ncm,
    neural_collapse_report,
    rho,
)
from sknc.metrics._kernels import METRICS, SCORED_METRICS, Metric
from sknc.plotting import plot_nc_history

from .conftest import FAST

pytestmark = pytest.mark.filterwarnings(
    # make_multilabel_classification draws one sample with all 5 labels: it
    # has no NCm angle after centring (expected, and tested in test_metrics)
    "ignore:1 label set\\(s\\) are left out of NCm:sknc.metrics.NeuralCollapseWarning",
    "ignore:rho for multiplicity 5:sknc.metrics.NeuralCollapseWarning",
)

PUBLIC = {
    "nc1": lambda H, Y, W: nc1(H, Y),
    "nc2": lambda H, Y, W: nc2(W),
    "nc2_means": lambda H, Y, W: nc2_means(H, Y),
    "nc3": lambda H, Y, W: nc3(H, Y, W),
    "ncm": lambda H, Y, W: ncm(H, Y, random_state=0),
    "rho": lambda H, Y, W: rho(H, Y),
}


def _returning(value):
    def kernel(*inputs, **options):
        return value

    return kernel


@pytest.fixture
def marks(monkeypatch):
    """Replace every kernel by one that returns its mark; return the marks."""
    marks = {}
    for i, (name, metric) in enumerate(METRICS.items()):
        # a scalar metric's mark is a float, rho's a dict like its scales
        marks[name] = 10.0 + i if metric.scored else {2: 10.0 + i}
        marked = dataclasses.replace(
            metric, kernel=_returning(marks[name]), label=f"mark {name}"
        )
        monkeypatch.setitem(METRICS, name, marked)
    return marks


@pytest.fixture
def data(multilabel_data):
    X, Y = multilabel_data
    W = np.random.default_rng(0).normal(size=(Y.shape[1], X.shape[1]))
    return X, Y, W


def test_every_public_metric_is_computed_by_its_registry_kernel(marks, data):
    assert set(PUBLIC) == set(METRICS)
    for name, metric in PUBLIC.items():
        assert metric(*data) == marks[name], name


def test_the_report_has_every_registry_metric(marks, data):
    report = neural_collapse_report(*data, random_state=0)
    for name in METRICS:
        assert report[name] == marks[name], name
    without_head = neural_collapse_report(*data[:2], random_state=0)
    assert {name for name in METRICS if name not in without_head} == {"nc2", "nc3"}


def test_a_new_registry_metric_is_in_the_report(monkeypatch, data):
    new = Metric("nc_new", _returning(0.25), "A metric for this test.", "NCnew")
    monkeypatch.setitem(METRICS, "nc_new", new)
    assert neural_collapse_report(*data[:2], random_state=0)["nc_new"] == 0.25


def test_the_scorer_takes_every_scored_metric_and_signs_it(marks, multilabel_data):
    X, Y = multilabel_data
    clf = PALClassifier(**{**FAST, "max_epochs": 1}, feature_dim=8).fit(X, Y)
    for name in SCORED_METRICS:
        assert NeuralCollapseScorer(name, random_state=0)(clf, X, Y) == -marks[name]
    assert NeuralCollapseScorer("nc1").fit(X, Y).score(X, Y) == -marks["nc1"]
    for name in set(METRICS) - set(SCORED_METRICS):  # rho: not a score
        with pytest.raises(InvalidParameterError, match="metric"):
            NeuralCollapseScorer(name)(clf, X, Y)


def test_the_tracker_and_the_plot_use_every_registry_metric(marks, multilabel_data):
    X, Y = multilabel_data
    tracker = NeuralCollapseTracker(metrics=list(METRICS), random_state=0)
    clf = PALClassifier(
        **{**FAST, "max_epochs": 2}, feature_dim=8, callbacks=[tracker]
    ).fit(X, Y)
    row = clf.history[-1]
    expected = {"nc2": marks["nc2"], "train_rho_2": marks["rho"][2]}
    expected.update(
        (f"train_{name}", marks[name])
        for name, metric in METRICS.items()
        if metric.scored and metric.needs_features
    )
    assert {key: row[key] for key in expected} == expected
    assert not {key for key in row if "nc" in key} - {*expected, "nc_dur"}

    pytest.importorskip("matplotlib").use("Agg")
    # by default, the scored metrics, without the head's constant NC2
    labels = [line.get_label() for line in plot_nc_history(clf).get_lines()]
    assert labels == [
        f"mark {name} (train)"
        for name in SCORED_METRICS
        if METRICS[name].needs_features
    ]
