"""early_stopping: a stratified validation split, the best epoch restored."""

import numpy as np
import pytest
import torch
from skorch.callbacks import EarlyStopping

from sknc import FixedETFClassifier, PALClassifier
from sknc.model_selection import MultilabelStratifiedValidSplit

from .conftest import FAST


@pytest.fixture(scope="module")
def noisy_data():
    # labels unrelated to the features: the validation loss soon rises
    rng = np.random.RandomState(0)
    X = rng.randn(200, 10).astype(np.float32)
    Y = (rng.rand(200, 4) < 0.3).astype(int)
    Y[Y.sum(axis=1) == 0, 0] = 1
    return X, Y


@pytest.mark.parametrize("cls", [PALClassifier, FixedETFClassifier])
def test_early_stopping_stops_and_restores_the_best_epoch(noisy_data, cls):
    X, Y = noisy_data
    clf = cls(**{**FAST, "max_epochs": 200}, early_stopping=True, n_iter_no_change=5)
    clf.fit(X, Y)
    assert clf.early_stopping_
    history = clf.history[:, "valid_loss"]
    assert len(history) < 200
    best = int(np.argmin(history))
    assert len(history) == best + 1 + 5  # stopped after 5 epochs without gain
    callback = dict(clf.callbacks_)["early_stopping"]
    for name, value in clf.module_.state_dict().items():
        if name.startswith("input_head."):
            # label_proba='auto''s model of the inputs: fitted after training
            continue
        assert torch.equal(value, callback.best_model_weights_[name]), name
    # the decoder learnt from the training part only (about 10% held out;
    # iterative stratification rounds per label)
    assert 170 <= len(clf.decoder_.features_) < len(X)


def test_auto_turns_early_stopping_on_for_large_data_only(multilabel_data):
    X, Y = multilabel_data
    clf = PALClassifier(**FAST, early_stopping="auto").fit(X, Y)
    assert not clf.early_stopping_ and "valid_loss" not in clf.history[-1]
    assert np.isnan(clf.history[-1].get("valid_loss", np.nan))


def test_auto_is_the_default_and_turns_on_from_the_row_threshold(
    noisy_data, monkeypatch
):
    import sknc._training

    X, Y = noisy_data
    assert PALClassifier().early_stopping == "auto"
    monkeypatch.setattr(sknc._training, "EARLY_STOPPING_AUTO_ROWS", len(X))
    clf = PALClassifier(**FAST).fit(X, Y)
    assert clf.early_stopping_ and np.isfinite(clf.history[-1, "valid_loss"])
    monkeypatch.setattr(sknc._training, "EARLY_STOPPING_AUTO_ROWS", len(X) + 1)
    assert not PALClassifier(**FAST).fit(X, Y).early_stopping_


def test_validation_fraction_and_a_given_train_split(noisy_data):
    X, Y = noisy_data
    clf = PALClassifier(**FAST, early_stopping=True, validation_fraction=0.25)
    assert 140 <= len(clf.fit(X, Y).decoder_.features_) <= 160
    split = MultilabelStratifiedValidSplit(0.5, random_state=0)
    clf = PALClassifier(**FAST, early_stopping=True, train_split=split).fit(X, Y)
    assert 90 <= len(clf.decoder_.features_) <= 110


def test_skorchs_early_stopping_callback_keeps_working(noisy_data):
    X, Y = noisy_data
    clf = PALClassifier(
        **{**FAST, "max_epochs": 200},
        train_split=MultilabelStratifiedValidSplit(0.2, random_state=0),
        callbacks=[EarlyStopping(patience=3, load_best=True, sink=lambda *a: None)],
    ).fit(X, Y)
    assert len(clf.history) < 200 and not clf.early_stopping_


@pytest.mark.parametrize(
    "params, match",
    [
        ({"validation_fraction": 0.0}, "validation_fraction"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"n_iter_no_change": 0}, "n_iter_no_change"),
        ({"tol": -1.0}, "tol"),
        ({"early_stopping": "yes"}, "early_stopping"),
    ],
)
def test_bad_early_stopping_parameters(noisy_data, params, match):
    X, Y = noisy_data
    with pytest.raises(ValueError, match=match):
        PALClassifier(**FAST, **params).fit(X, Y)
