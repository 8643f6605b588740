"""The linear one-vs-rest peers and the ranking metrics of the benchmark (#25)."""

import json
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_multilabel_classification
from sklearn.metrics import log_loss
from sklearn.preprocessing import Normalizer, StandardScaler

from sknc import _bench
from sknc.__main__ import main

LINEAR = ("ovr-svm", "ovr-logreg")


def tiny_data(n=90, binary=False, seed=0):
    X, Y = make_multilabel_classification(
        n_samples=n,
        n_features=8,
        n_classes=4,
        n_labels=2,
        allow_unlabeled=False,
        random_state=seed,
    )
    if binary:
        X = (X > 1).astype(np.float32)
    return X.astype(np.float32), Y.astype(np.uint8)


def fit_quietly(estimator, X, Y):
    # inner folds without a rare label warn; the tests are not about that
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return estimator.fit(X, Y)


@pytest.mark.parametrize("key", LINEAR)
def test_linear_peers_are_methods_and_strong_peers(key):
    assert key in _bench.METHODS and key in _bench.STRONG_PEERS
    est = _bench.make_estimator(key, random_state=3)
    assert isinstance(est, _bench.LinearOneVsRest)
    assert list(est.Cs) == list(_bench.LINEAR_GRIDS[key])
    assert est.random_state == 3


@pytest.mark.parametrize("key", LINEAR)
def test_linear_peers_fit_and_score_with_a_constant_label(key):
    X, Y = tiny_data()
    Y[:60, 2] = 0  # never positive in training
    est = fit_quietly(_bench.make_estimator(key), X[:60], Y[:60])
    assert est.best_C_ in _bench.LINEAR_GRIDS[key]
    assert _bench.n_trainable_params(est) == 3 * (X.shape[1] + 1)
    Y_pred = est.predict(X[60:])
    assert Y_pred.shape == (30, 4) and (Y_pred[:, 2] == 0).all()
    # a label never positive in training ranks last in every row
    margins = est.decision_function(X[60:])
    assert (margins[:, 2] < np.delete(margins, 2, axis=1).min(axis=1)).all()
    scores = _bench.label_scores(est, X[60:])
    assert (scores[:, 2] <= np.delete(scores, 2, axis=1).min(axis=1)).all()
    proba, reason = _bench.label_probabilities(est, X[60:])
    result = _bench.score_predictions(Y[60:], Y_pred, scores, proba)
    assert 0 <= result["lrap"] <= 1 and 1 <= result["coverage"] <= 4
    if key == "ovr-svm":
        assert proba is None and "LinearSVC has no predict_proba" in reason
        assert np.isnan(result["log_loss"])
        assert not hasattr(est, "predict_proba")
    else:
        assert reason is None and (proba[:, 2] == 0).all()
        assert 0 < result["log_loss"] < 35


def test_l2_normalised_rows_on_binary_data_standardised_features_otherwise():
    X, Y = tiny_data(binary=True)
    assert _bench.is_binary(X)
    est = fit_quietly(_bench.make_estimator("ovr-svm"), X, Y)
    scale = est.pipeline_.named_steps["scale"]
    assert isinstance(scale, Normalizer) and scale.norm == "l2"
    assert [name for name, _ in est.pipeline_.steps] == ["scale", "ovr"]
    rows = scale.transform(X[X.sum(1) > 0])
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1, rtol=1e-6)

    X, Y = tiny_data()
    assert not _bench.is_binary(X)
    est = fit_quietly(_bench.make_estimator("ovr-logreg"), X, Y)
    scale = est.pipeline_.named_steps["scale"]
    assert isinstance(scale, StandardScaler) and scale.with_mean
    np.testing.assert_allclose(scale.mean_, X.mean(0), rtol=1e-5)


def test_all_labels_constant():
    X, _ = tiny_data(n=30)
    Y = np.zeros((30, 3), dtype=np.uint8)
    Y[:, 1] = 1
    est = fit_quietly(_bench.make_estimator("ovr-svm"), X, Y)
    assert est.best_C_ is None and _bench.n_trainable_params(est) == 0
    np.testing.assert_array_equal(est.predict(X[:2]), Y[:2])
    margins = est.decision_function(X[:2])
    assert (margins[:, 1] > margins[:, 0]).all()


def test_coverage_error_and_log_loss_are_metrics_lower_is_better():
    for key, header in (("coverage", "coverage error"), ("log_loss", "log loss")):
        metric = _bench.SCORES[key]
        assert metric.header == header and metric.higher is False
        assert metric in _bench.METRICS
    assert _bench.SCORES["lrap"].higher is True and _bench.SCORES["lrap"] in (
        _bench.METRICS
    )
    rows = [
        {"name": "a", "coverage": 2.0, "log_loss": 0.3},
        {"name": "b", "coverage": 1.5, "log_loss": None},  # no probabilities
        {"name": "c", "coverage": 3.0, "log_loss": 0.2},
    ]
    best = _bench.leaders(rows)
    assert best["coverage"] == ["b"] and best["log_loss"] == ["c"]


def test_coverage_and_log_loss_values():
    Y = np.array([[1, 0, 1], [0, 1, 0]])
    perfect = np.array([[0.9, 0.1, 0.8], [0.2, 0.7, 0.1]])
    result = _bench.score_predictions(Y, Y, perfect, perfect)
    assert result["coverage"] == 1.5  # the true labels first: their number
    expected = np.mean([log_loss(Y[:, k], perfect[:, k]) for k in range(3)])
    assert result["log_loss"] == pytest.approx(expected)
    # clipped: a certain mistake costs -log(eps), not infinity
    wrong = _bench.multilabel_log_loss([[1]], [[0.0]])
    assert wrong == pytest.approx(-np.log(_bench.LOG_LOSS_EPS))
    # scores without probabilities: no log loss, the ranking metrics all the same
    result = _bench.score_predictions(Y, Y, perfect)
    assert np.isnan(result["log_loss"]) and result["lrap"] == 1
    assert "coverage" not in _bench.score_predictions(Y, Y)


def test_cli_linear_peers_with_a_constant_label(tmp_path, capsys):
    X, Y = tiny_data(binary=True)
    Y[:60, 1] = 0
    path = tmp_path / "words.npz"
    np.savez(path, X_train=X[:60], Y_train=Y[:60], X_test=X[60:], Y_test=Y[60:])
    argv = ["benchmark", "--data", str(path), "--methods", "ovr-svm,ovr-logreg"]
    assert main([*argv, "--format", "json", "-q"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert "all training values are 0 or 1" in report["preprocessing"]
    rows = {row["method"]: row for row in report["results"]}
    assert set(rows) == set(LINEAR) and report["failures"] == []
    assert rows["ovr-svm"]["log_loss"] is None
    assert "LinearSVC" in rows["ovr-svm"]["not_scored"]["log_loss"]
    assert rows["ovr-logreg"]["log_loss"] > 0 and rows["ovr-logreg"]["params"] > 0
    assert report["best"]["log_loss"] == [_bench.METHODS["ovr-logreg"]]
    assert set(report["best"]) == {metric.key for metric in _bench.METRICS}

    assert main([*argv, "-q"]) == 0
    out = capsys.readouterr().out
    assert "coverage error" in out and "log loss" in out and "n/a" in out
    assert "Not scored (n/a):" in out and "LinearSVC has no predict_proba" in out
    assert "except Hamming loss, coverage error and log loss" in " ".join(out.split())
