"""calibration_cv: the decoder calibrated on out-of-fold outputs (#16)."""

import io
from itertools import combinations

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from sknc import FixedETFClassifier, PALClassifier

from .conftest import FAST


@pytest.fixture(scope="module")
def noisy_data():
    # weakly informative features: the training outputs are over-confident
    rng = np.random.RandomState(0)
    X = rng.randn(240, 10).astype(np.float32)
    Y = (rng.rand(240, 4) < 0.3).astype(int)
    Y[:, 0] |= (X[:, 0] > 0.5).astype(int)
    Y[Y.sum(axis=1) == 0, 1] = 1
    return X, Y


def _count_initializations(monkeypatch, cls):
    calls = []
    initialize = cls.initialize

    def counting(self):
        calls.append(1)
        return initialize(self)

    monkeypatch.setattr(cls, "initialize", counting)
    return calls


@pytest.mark.parametrize("cls", [PALClassifier, FixedETFClassifier])
def test_cross_fitting_trains_more_networks_and_keeps_the_main_one(
    noisy_data, cls, monkeypatch
):
    X, Y = noisy_data
    plain = cls(**FAST).fit(X, Y)
    calls = _count_initializations(monkeypatch, cls)
    crossed = cls(**FAST, calibration_cv=3).fit(X, Y)
    assert len(calls) == 1 + 3
    # the predicting network is trained on every row, as without cross-fitting
    # (label_proba='auto' may keep the model of the inputs it chose)
    network = crossed.module_.state_dict()
    for key, value in plain.module_.state_dict().items():
        assert torch.equal(value, network[key])
    # only the calibration differs
    assert crossed.decoder_.temperature_ != plain.decoder_.temperature_
    assert crossed.thresholds_["f1_micro"] is not None


def test_the_temperature_is_larger_than_from_the_training_outputs(noisy_data):
    # training outputs are over-confident: held-out ones need a softer
    # distribution over label sets
    X, Y = noisy_data
    params = {**FAST, "max_epochs": 40}
    plain = PALClassifier(**params).fit(X, Y)
    crossed = PALClassifier(**params, calibration_cv=3).fit(X, Y)
    assert crossed.decoder_.temperature_ > 1.5 * plain.decoder_.temperature_


@pytest.mark.parametrize("decoder", ["knn", "onn", "threshold", "topk"])
def test_every_decoder_is_calibrated_by_cross_fitting(noisy_data, decoder):
    X, Y = noisy_data
    clf = PALClassifier(**FAST, decoder=decoder, calibration_cv=2).fit(X, Y)
    attributes = type(clf.decoder_)._calibration_attributes
    assert attributes
    for name in attributes:
        assert np.isfinite(getattr(clf.decoder_, name))
    proba = clf.predict_proba(X)
    assert proba.shape == Y.shape and np.all((proba > 0) & (proba < 1))
    clf.set_params(objective="f1_micro")
    assert clf.predict(X).shape == Y.shape


def test_sample_weights_reach_the_fold_networks(noisy_data, monkeypatch):
    X, Y = noisy_data
    seen = []
    fit = PALClassifier.fit

    def recording(self, X, y, sample_weight=None, **kwargs):
        seen.append(None if sample_weight is None else len(sample_weight))
        return fit(self, X, y, sample_weight=sample_weight, **kwargs)

    monkeypatch.setattr(PALClassifier, "fit", recording)
    weight = np.linspace(0.5, 2.0, len(X))
    PALClassifier(**FAST, calibration_cv=2).fit(X, Y, sample_weight=weight)
    assert seen[0] == len(X)
    # each fold network gets the weights of its own rows (stratified halves)
    assert len(seen) == 3 and sum(seen[1:]) == len(X)


def test_a_torch_dataset_gets_a_clear_error(noisy_data):
    X, Y = noisy_data
    dataset = TensorDataset(torch.as_tensor(X))
    with pytest.raises(ValueError, match="calibration_cv needs X as an array"):
        PALClassifier(**FAST, calibration_cv=2).fit(dataset, Y)


# label pairs of composed_data: a third never occur in training
_PAIRS = list(combinations(range(6), 2))
_UNSEEN_PAIRS = _PAIRS[::3]


def _composed(sets, seed):
    """Inputs that add up their labels' directions: the features compose."""
    directions = np.random.default_rng(0).standard_normal((6, 20))
    Y = np.zeros((len(sets), 6), dtype=int)
    for row, labels in enumerate(sets):
        Y[row, list(labels)] = 1
    noise = 0.1 * np.random.default_rng(seed).standard_normal((len(Y), 20))
    return (Y @ directions + noise).astype(np.float32), Y


def composed_data(rows_per_pair):
    """Training rows (40 per label, ``rows_per_pair`` per seen pair), test pairs.

    The test rows carry the pairs never seen in training. With one row per
    seen pair, each pair's row is unseen by the network of its fold: the
    folds' held-out rows show whether synthesis pays.
    """
    seen = [p for p in _PAIRS if p not in _UNSEEN_PAIRS]
    sets = [(k,) for k in range(6) for _ in range(40)]
    X, Y = _composed(sets + [p for p in seen for _ in range(rows_per_pair)], 0)
    X_test, Y_test = _composed([p for p in _UNSEEN_PAIRS for _ in range(5)], 1)
    return X, Y, X_test, Y_test


def _exact(Y, pred):
    return (np.asarray(pred) == Y).all(axis=1).mean()


def test_cross_fitting_calibrates_auto_where_synthesis_pays():
    X, Y, X_test, Y_test = composed_data(rows_per_pair=1)
    auto = {**FAST, "max_epochs": 20, "decoder__candidates": "auto"}
    # no held-out rows: observed sets only
    blind = PALClassifier(**auto).fit(X, Y)
    assert blind.decoder_.synthesis_threshold_ == 0.0
    assert _exact(Y_test, blind.predict(X_test)) == 0.0
    # the folds' held-out pairs are unseen by their networks: synthesis pays
    crossed = PALClassifier(**auto, calibration_cv=3).fit(X, Y)
    assert crossed.decoder_.synthesis_threshold_ > 0
    assert _exact(Y_test, crossed.predict(X_test)) >= 0.8
    assert _exact(Y, crossed.predict(X)) >= 0.95  # the seen sets stay right
    # the most probable set and the subset-accuracy objective follow
    sets = crossed.predict_set_proba(X_test, top=1)
    assert _exact(Y_test, sets.sets[sets.index[:, 0]]) >= 0.8
    crossed.set_params(objective="subset_accuracy")
    assert _exact(Y_test, crossed.predict(X_test)) >= 0.8


def test_cross_fitting_keeps_auto_on_observed_sets_where_synthesis_never_pays():
    # every seen pair has rows in every fold's training part: no held-out
    # row has an unseen set, so no synthesised set can be right
    X, Y, X_test, _ = composed_data(rows_per_pair=10)
    params = {**FAST, "max_epochs": 20, "calibration_cv": 3}
    auto = PALClassifier(**params, decoder__candidates="auto").fit(X, Y)
    assert len(auto.decoder_.synthetic_sets_)
    assert auto.decoder_.synthesis_threshold_ == 0.0
    observed = PALClassifier(**params).fit(X, Y)
    np.testing.assert_array_equal(auto.predict(X_test), observed.predict(X_test))


def test_auto_calibrated_by_cross_fitting_survives_the_state_file():
    X, Y, X_test, _ = composed_data(rows_per_pair=1)
    params = {**FAST, "max_epochs": 20, "decoder__candidates": "auto"}
    clf = PALClassifier(**params, calibration_cv=3).fit(X, Y)
    threshold = clf.decoder_.synthesis_threshold_
    assert threshold > 0
    files = {"f_params": io.BytesIO(), "f_state": io.BytesIO()}
    clf.save_params(**files)
    for f in files.values():
        f.seek(0)
    new = PALClassifier(**params, calibration_cv=3)
    new.load_params(**files)
    assert new.decoder_.synthesis_threshold_ == threshold
    for objective in (None, "subset_accuracy"):
        clf.set_params(objective=objective)
        new.set_params(objective=objective)
        np.testing.assert_array_equal(new.predict(X_test), clf.predict(X_test))
    old_sets, new_sets = clf.predict_set_proba(X_test), new.predict_set_proba(X_test)
    np.testing.assert_array_equal(
        new_sets.sets[new_sets.index], old_sets.sets[old_sets.index]
    )
    np.testing.assert_allclose(new_sets.proba, old_sets.proba)
