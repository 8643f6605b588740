"""calibration_cv: the decoder calibrated on out-of-fold outputs (#16)."""

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
    for a, b in zip(
        plain.module_.state_dict().values(),
        crossed.module_.state_dict().values(),
        strict=True,
    ):
        assert torch.equal(a, b)
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
