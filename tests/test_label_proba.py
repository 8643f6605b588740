"""label_proba: the per-label head behind predict_proba, and what it must not touch."""

import numpy as np
import pytest
import torch
from sklearn.isotonic import isotonic_regression
from sklearn.utils._param_validation import InvalidParameterError

from sknc import FixedETFClassifier, PALClassifier
from sknc.decoders._calibration import ordered_like

from .conftest import FAST

ESTIMATORS = (PALClassifier, FixedETFClassifier)


def _log_loss(Y, P):
    P = np.clip(P, 1e-12, 1 - 1e-12)
    return float(-np.mean(Y * np.log(P) + (1 - Y) * np.log(1 - P)))


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("n_estimators", [1, 2])
@pytest.mark.parametrize("source", ["blend", "wide"])
def test_the_label_head_leaves_the_network_and_predict_unchanged(
    multilabel_data, cls, n_estimators, source
):
    X, Y = multilabel_data
    params = dict(FAST, n_estimators=n_estimators)
    plain = cls(**params, label_proba="decoder").fit(X, Y)
    headed = cls(**params, label_proba=source).fit(X, Y)
    assert plain.module_.label_head is None and plain.module_.input_head is None
    assert headed.module_.label_head is not None
    # only 'linear' and 'wide' fit the model of the inputs, after the network
    assert (headed.module_.input_head is not None) == (source == "wide")
    np.testing.assert_array_equal(headed.predict(X), plain.predict(X))
    np.testing.assert_array_equal(headed.transform(X), plain.transform(X))
    assert np.abs(headed.predict_proba(X) - plain.predict_proba(X)).max() > 0.01
    # the source applies at once: 'decoder' is exactly the network without head
    headed.set_params(label_proba="decoder")
    np.testing.assert_array_equal(headed.predict_proba(X), plain.predict_proba(X))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_blend_is_the_mean_of_the_decoder_and_the_head(multilabel_data, cls):
    X, Y = multilabel_data
    clf = cls(**FAST, label_proba="blend").fit(X, Y)
    proba = {}
    for source in ("decoder", "head", "blend"):
        proba[source] = clf.set_params(label_proba=source).predict_proba(X)
        assert proba[source].dtype == np.float64
        assert ((proba[source] > 0) & (proba[source] < 1)).all()
    np.testing.assert_allclose(
        proba["blend"], (proba["decoder"] + proba["head"]) / 2, rtol=0, atol=1e-12
    )
    assert np.abs(proba["head"] - proba["decoder"]).max() > 0.01


@pytest.mark.parametrize(
    "source",
    ["decoder", "head", "blend", "calibrated", "calibrated_wide", "linear", "wide"],
)
def test_the_hamming_objective_thresholds_predict_proba_at_a_half(
    multilabel_data, source
):
    X, Y = multilabel_data
    clf = PALClassifier(**FAST, objective="hamming", label_proba=source).fit(X, Y)
    np.testing.assert_array_equal(
        clf.predict(X), (clf.predict_proba(X) >= 0.5).astype(Y.dtype)
    )


def test_the_head_learns_each_label(multilabel_data):
    X, Y = multilabel_data
    clf = PALClassifier(**dict(FAST, max_epochs=30), label_proba="head").fit(X, Y)
    head = clf.module_.label_head
    assert head.weight.abs().sum() > 0  # trained away from its zero start
    prior = np.broadcast_to(Y.mean(axis=0), Y.shape)
    assert _log_loss(Y, clf.predict_proba(X)) < 0.7 * _log_loss(Y, prior)


def test_a_network_without_the_head_refuses_the_head_sources(multilabel_data):
    X, Y = multilabel_data
    clf = PALClassifier(**FAST, label_proba="decoder").fit(X, Y)  # no head
    assert clf.module_.label_head is None
    clf.set_params(label_proba="calibrated")
    with pytest.raises(ValueError, match="trained without one.*fit again"):
        clf.predict_proba(X)
    with pytest.raises(ValueError, match="trained without one"):
        clf.set_params(objective="hamming").predict(X)
    # the decision-based answers never needed the head
    clf.set_params(objective=None).predict(X)


def test_label_proba_is_validated_at_fit_and_where_predict_uses_it(multilabel_data):
    X, Y = multilabel_data
    with pytest.raises(InvalidParameterError, match="label_proba"):
        PALClassifier(**FAST, label_proba="heads").fit(X, Y)
    clf = PALClassifier(**FAST, label_proba="blend").fit(X, Y)
    clf.set_params(label_proba="Blend")
    with pytest.raises(InvalidParameterError, match="label_proba"):
        clf.predict_proba(X)


def test_multi_class_mode_has_no_label_head(multilabel_data):
    X, Y = multilabel_data
    y = Y.argmax(axis=1)
    clf = PALClassifier(**FAST, label_proba="blend").fit(X, y)
    assert clf.module_.label_head is None
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0)


def test_the_head_weighs_rows_as_the_pal_loss_does(multilabel_data):
    X, Y = multilabel_data
    # an integer weight is a repeated row (full batches, no batch statistics)
    weight = np.ones(len(X))
    weight[::3] = 3
    repeats = weight.astype(int)
    params = dict(
        FAST,
        batch_size=-1,
        batch_norm=False,
        input_scaling=None,
        label_proba="head",
        dtype="float64",
    )
    weighted = PALClassifier(**params).fit(X, Y, sample_weight=weight)
    repeated = PALClassifier(**params).fit(
        np.repeat(X, repeats, axis=0), np.repeat(Y, repeats, axis=0)
    )
    np.testing.assert_allclose(
        weighted.predict_proba(X), repeated.predict_proba(X), rtol=0, atol=1e-8
    )


@pytest.mark.parametrize("source", ["blend", "wide"])
def test_the_head_is_saved_with_the_network(multilabel_data, tmp_path, source):
    X, Y = multilabel_data
    params = dict(FAST, label_proba=source)
    clf = PALClassifier(**params).fit(X, Y)
    files = {"f_params": tmp_path / "params.pt", "f_state": tmp_path / "state.pt"}
    clf.save_params(**files)
    fresh = PALClassifier(**params)
    fresh.load_params(**files)
    np.testing.assert_array_equal(fresh.predict_proba(X), clf.predict_proba(X))


def test_the_head_trains_with_calibration_cv_and_partial_fit(multilabel_data):
    X, Y = multilabel_data
    clf = PALClassifier(**FAST, label_proba="blend", calibration_cv=2).fit(X, Y)
    before = clf.predict_proba(X)
    clf.partial_fit(X, Y)  # more epochs move the head too
    assert np.abs(clf.predict_proba(X) - before).max() > 1e-3
    assert ((before > 0) & (before < 1)).all()


@pytest.mark.parametrize("K", [1, 2, 7, 40])
def test_ordered_like_is_the_isotonic_fit_in_the_given_order(K):
    rng = np.random.RandomState(K)
    values, order = rng.rand(30, K), rng.rand(30, K)
    fitted = ordered_like(torch.tensor(values), torch.tensor(order)).numpy()
    for row in range(30):
        rank = np.argsort(-order[row], kind="stable")
        expected = isotonic_regression(values[row, rank], increasing=False)
        # pooled labels differ by relative steps of 1e-9 per rank only
        np.testing.assert_allclose(fitted[row, rank], expected, rtol=1e-7, atol=0)
        assert (np.diff(fitted[row, rank]) < 0).all()  # exactly order's ranking
    # values already in that order are kept
    ordered = np.sort(values, axis=1)
    kept = ordered_like(torch.tensor(ordered), torch.tensor(ordered)).numpy()
    np.testing.assert_allclose(kept, ordered, rtol=1e-7, atol=0)


def test_ordered_like_pools_every_row_on_its_own():
    # rows of many labels with long violating runs: each row's fit is its own
    rng = np.random.RandomState(0)
    values = rng.rand(200, 300)
    order = values + rng.normal(scale=0.3, size=values.shape)
    fitted = ordered_like(torch.tensor(values), torch.tensor(order)).numpy()
    for row in (0, 57, 199):
        rank = np.argsort(-order[row], kind="stable")
        expected = isotonic_regression(values[row, rank], increasing=False)
        np.testing.assert_allclose(fitted[row, rank], expected, rtol=1e-6, atol=0)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("source", ["calibrated", "calibrated_wide"])
def test_calibrated_ranks_as_the_decoder_with_the_blends_levels(
    multilabel_data, cls, source
):
    X, Y = multilabel_data
    clf = cls(**FAST, label_proba=source).fit(X, Y)
    calibrated = clf.predict_proba(X)
    # 'calibrated_wide' blends the model of the inputs in too
    models = ["decoder", "head"] + ["linear"] * (source == "calibrated_wide")
    proba = {}
    for name in models:
        proba[name] = clf.set_params(label_proba=name).predict_proba(X)
    decoder = proba["decoder"]
    blend = np.mean([proba[name] for name in models], axis=0)
    assert ((calibrated > 0) & (calibrated < 1)).all()
    for row in range(len(X)):
        rank = np.argsort(-decoder[row], kind="stable")
        np.testing.assert_array_equal(np.argsort(-calibrated[row], kind="stable"), rank)
    # no closer to the blend is possible in that order: never farther than it
    # from the blend than the decoder's own values are
    assert ((calibrated - blend) ** 2).sum() <= ((decoder - blend) ** 2).sum()


def test_the_head_is_found_under_a_wrapper_of_the_network(multilabel_data):
    # accelerate wraps module_ in DistributedDataParallel (the network is its
    # .module), torch.compile in an OptimizedModule (._orig_mod)
    class Wrapper(torch.nn.Module):
        def __init__(self, module):
            super().__init__()
            self.module = module

        def forward(self, X):
            return self.module(X)

    X, Y = multilabel_data
    clf = PALClassifier(**FAST).fit(X, Y)
    expected = clf.predict_proba(X)
    clf.module_ = Wrapper(clf.module_)
    np.testing.assert_array_equal(clf.predict_proba(X), expected)
    clf.partial_fit(X, Y)  # the head trains through the wrapper too
    assert np.abs(clf.predict_proba(X) - expected).max() > 1e-4
