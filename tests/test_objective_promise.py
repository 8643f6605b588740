"""The objectives keep their promise on long-tailed labels (issue 25).

The thresholds of ``'f1_micro'`` and ``'f1_macro'`` are placed where the F1
expected under the marginals is largest (``rule='plug-in'``, the default) or,
with ``rule='fitted'``, fitted to the labels and shrunk toward the shared one
for labels of few positive rows; a rule that scores below the decoder's own
rule on the rows it is fitted on keeps that rule (NaN thresholds).
"""

import io

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score

from sknc import PALClassifier
from sknc.decoders import KNNDecoder, _decision
from sknc.decoders._objectives import (
    apply_thresholds,
    fit_objective_thresholds,
    fit_thresholds,
    plug_in_thresholds,
)
from sknc.model_selection import (
    MultilabelStratifiedValidSplit,
    multilabel_train_test_split,
)

FAST = {"max_epochs": 20, "hidden_layer_sizes": (32,), "random_state": 0}


def _long_tailed(n=400, K=12, d=10, seed=0):
    """Labels of a linear model whose prevalences fall from ~40% to a few rows."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d).astype(np.float32)
    W = rng.randn(d, K)
    scores = X @ W + 0.5 * rng.randn(n, K)
    prevalence = np.geomspace(0.4, 4 / n, K)
    cuts = [np.quantile(scores[:, k], 1 - prevalence[k]) for k in range(K)]
    return X, (scores > cuts).astype(np.uint8)


@pytest.fixture(scope="module")
def long_tailed_fit():
    X, Y = _long_tailed()
    X_train, X_test, Y_train, Y_test = multilabel_train_test_split(
        X, Y, test_size=0.5, random_state=0, stratify=Y
    )
    clf = PALClassifier(**FAST).fit(X_train, Y_train)
    return clf, X_train, Y_train, X_test, Y_test


def test_f1_macro_never_predicts_more_than_twice_the_true_labels(long_tailed_fit):
    clf, X_train, Y_train, X_test, Y_test = long_tailed_fit
    try:
        for objective in ("f1_micro", "f1_macro"):
            clf.set_params(objective=objective)
            for X, Y in ((X_train, Y_train), (X_test, Y_test)):
                pred = clf.predict(X)
                assert pred.sum(axis=1).mean() <= 2 * Y.sum(axis=1).mean()
    finally:
        clf.set_params(objective=None)


def test_rare_labels_are_shrunk_toward_the_shared_threshold():
    rng = np.random.RandomState(0)
    n, K = 300, 4
    Y = rng.rand(n, K) < [0.3, 0.3, 0.3, 0.0]
    Y[:2, 3] = True  # a label of two positive rows
    marginals = torch.as_tensor(np.clip(Y * 0.4 + rng.rand(n, K) * 0.6, 0.01, 0.99))
    Y = torch.as_tensor(Y)
    marginals[:2, 3] = 0.02  # its positives scored lowest: its best cut is ~0
    default = marginals >= 0.5
    raw = fit_thresholds(marginals, Y, "macro")
    micro = float(fit_thresholds(marginals, Y, "micro")[0])
    assert raw[3] < 0.05
    n_pos = Y.sum(dim=0)
    for a in (1.0, 10.0):
        got = fit_objective_thresholds(
            marginals, Y, default, shrinkage=a, guard=None, rule="fitted"
        )
        expected = (n_pos * raw + a * micro) / (n_pos + a)
        torch.testing.assert_close(got["f1_macro"], expected.double())
        # the rare label moves toward the shared threshold, by a / (2 + a);
        # the common ones (90 positives) barely move
        moved = (got["f1_macro"] - raw) / (micro - raw)
        assert moved[3] == pytest.approx(a / (2 + a))
        assert torch.all(moved[:3] < a / 80)
    none = fit_objective_thresholds(
        marginals, Y & False, default, guard=None, rule="fitted"
    )
    assert torch.all(none["f1_macro"] == none["f1_micro"])  # not 1/2
    # with the guard, a label of two positive rows cannot beat the default
    # rule significantly: it keeps the default rule
    guarded = fit_objective_thresholds(marginals, Y, default)
    assert torch.isnan(guarded["f1_macro"][3])
    guarded = fit_objective_thresholds(marginals, Y & False, default)
    assert torch.isnan(guarded["f1_macro"]).all()


def _expected_f1(p, t):
    return 2 * p[p >= t].sum() / ((p >= t).sum() + p.sum())


def test_plug_in_cuts_maximise_the_f1_expected_under_the_marginals():
    rng = np.random.RandomState(1)
    marginals = torch.as_tensor(rng.beta(0.5, 2.0, size=(200, 5)))
    micro = float(plug_in_thresholds(marginals, "micro")[0])
    macro = plug_in_thresholds(marginals, "macro")
    flat = marginals.numpy().ravel()
    best = max(_expected_f1(flat, t) for t in np.unique(flat))
    assert _expected_f1(flat, micro) == pytest.approx(best)
    for k in range(5):
        column = marginals[:, k].numpy()
        best = max(_expected_f1(column, t) for t in np.unique(column))
        assert _expected_f1(column, float(macro[k])) == pytest.approx(best)


def test_the_plug_in_rule_places_its_cuts_without_the_labels():
    rng = np.random.RandomState(2)
    marginals = torch.as_tensor(rng.rand(150, 6))
    Y = torch.as_tensor(rng.rand(150, 6) < 0.3)
    default = marginals >= 0.5
    rule = {"guard": None, "rule": "plug-in"}
    one = fit_objective_thresholds(marginals, Y, default, **rule)
    other = fit_objective_thresholds(marginals, ~Y, default, **rule)
    for objective in ("f1_micro", "f1_macro"):
        torch.testing.assert_close(one[objective], other[objective])
    with pytest.raises(ValueError, match="rule"):
        fit_objective_thresholds(marginals, Y, default, rule="best")


@pytest.mark.parametrize("rule", ["plug-in", "fitted"])
@pytest.mark.parametrize("seed", range(5))
def test_on_the_rows_it_was_fitted_on_no_rule_loses_to_the_default(seed, rule):
    rng = np.random.RandomState(seed)
    n, K = 120, 8
    prevalence = np.geomspace(0.5, 0.02, K)
    Y = rng.rand(n, K) < prevalence
    marginals = torch.as_tensor(np.clip(Y * 0.3 + rng.rand(n, K) * 0.7, 0.01, 0.99))
    Y = torch.as_tensor(Y)
    # a default rule that is good on some labels: the truth, flipped at random
    default = Y ^ torch.as_tensor(rng.rand(n, K) < 0.1)
    thresholds = fit_objective_thresholds(marginals, Y, default, rule=rule)
    for objective, average in (("f1_micro", "micro"), ("f1_macro", None)):
        pred = apply_thresholds(marginals, thresholds[objective], default).numpy()
        own = f1_score(Y.numpy(), pred, average=average, zero_division=0)
        base = f1_score(Y.numpy(), default.numpy(), average=average, zero_division=0)
        assert np.all(own >= base - 1e-12)
    # here the default rule is hard to beat: some labels keep it
    assert torch.isnan(thresholds["f1_macro"]).any()


def test_nan_thresholds_predict_the_default_rule(long_tailed_fit):
    clf, X_train, Y_train, X_test, Y_test = long_tailed_fit
    decision = clf.decision_
    saved = dict(decision.thresholds_)
    try:
        decision.thresholds_ = {k: torch.full_like(v, np.nan) for k, v in saved.items()}
        default = clf.predict(X_test)
        for objective in ("f1_micro", "f1_macro"):
            clf.set_params(objective=objective)
            np.testing.assert_array_equal(clf.predict(X_test), default)
    finally:
        decision.thresholds_ = saved
        clf.set_params(objective=None)


def test_nan_thresholds_survive_the_state_file(long_tailed_fit):
    clf, X_train, Y_train, X_test, Y_test = long_tailed_fit
    thresholds = clf.decision_.thresholds_["f1_macro"]
    params, state = io.BytesIO(), io.BytesIO()
    clf.save_params(f_params=params, f_state=state)
    params.seek(0)
    state.seek(0)
    new = PALClassifier(**FAST)
    new.load_params(f_params=params, f_state=state)
    torch.testing.assert_close(
        new.decision_.thresholds_["f1_macro"], thresholds, equal_nan=True
    )


def test_knn_training_predict_leaves_each_row_out():
    rng = np.random.RandomState(0)
    features = torch.as_tensor(rng.randn(60, 3), dtype=torch.float32)
    Y = torch.as_tensor(rng.rand(60, 4) < 0.3)
    decoder = KNNDecoder(n_neighbors=3, metric="euclidean", vote="label")
    decoder.fit(None, features, Y)
    # left out, a row's vote is that of its three nearest other rows
    loo = decoder.training_predict(None, features)
    distances = torch.cdist(features, features).fill_diagonal_(float("inf"))
    nearest = distances.topk(3, dim=1, largest=False).indices
    np.testing.assert_array_equal(loo, Y[nearest].sum(dim=1) >= 2)
    assert not torch.equal(loo, decoder.predict(None, features))


def test_held_out_rows_fit_the_cuts_and_training_rows_plug_them_in(monkeypatch):
    rules = []
    original = _decision.fit_objective_thresholds

    def spy(*args, rule, **kwargs):
        rules.append(rule)
        return original(*args, rule=rule, **kwargs)

    monkeypatch.setattr(_decision, "fit_objective_thresholds", spy)
    X, Y = _long_tailed(n=200)
    PALClassifier(**dict(FAST, max_epochs=3)).fit(X, Y)
    held_out = MultilabelStratifiedValidSplit(0.25, random_state=0)
    PALClassifier(**dict(FAST, max_epochs=3), train_split=held_out).fit(X, Y)
    assert rules == ["plug-in", "fitted"]
