"""label_proba='auto': the per-label source chosen on rows not trained on."""

import numpy as np
import pytest
import torch

import sknc._classifier as classifier_module
from sknc import FixedETFClassifier, PALClassifier
from sknc.decoders._decision import AUTO_SOURCES, choose_label_proba

from .conftest import FAST

HELD_OUT = {"early_stopping": True, "validation_fraction": 0.25}


def _labels_of(X, kind, seed):
    """Label k: feature k's sign ('linear') or its size ('band'), 5% flipped.

    A linear model of the inputs gets 'linear' right and cannot tell
    'band' (``|x| > 0.67``, half the rows each way) from noise.
    """
    rng = np.random.default_rng(seed)
    Y = X[:, :3] > 0 if kind == "linear" else np.abs(X[:, :3]) > 0.67
    flip = rng.random(Y.shape) < 0.05
    return np.where(flip, ~Y, Y).astype(int)


def _data(kind, n=300, seed=0):
    X = np.random.default_rng(seed).normal(size=(n, 8)).astype(np.float32)
    return X, _labels_of(X, kind, seed)


def _fast(**params):
    return {**FAST, "max_epochs": 20, **params}


@pytest.mark.parametrize("cls", [PALClassifier, FixedETFClassifier])
def test_without_held_out_rows_auto_is_calibrated_wide(multilabel_data, cls):
    X, Y = multilabel_data
    clf = cls(**FAST).fit(X, Y)
    assert clf.label_proba == "auto" and clf.label_proba_ == "calibrated_wide"
    assert clf.module_.input_head is not None
    auto = clf.predict_proba(X)
    np.testing.assert_array_equal(
        auto, clf.set_params(label_proba="calibrated_wide").predict_proba(X)
    )
    calibrated = clf.set_params(label_proba="calibrated").predict_proba(X)
    assert np.abs(calibrated - auto).max() > 0.01


@pytest.mark.parametrize(
    "cls, kind, expected",
    [
        (PALClassifier, "linear", "wide"),
        (PALClassifier, "band", "calibrated"),
        (FixedETFClassifier, "linear", "wide"),
    ],
)
def test_a_validation_split_chooses_the_source_that_generalises(cls, kind, expected):
    X, Y = _data(kind)
    clf = cls(**_fast(**HELD_OUT)).fit(X, Y)
    assert clf.label_proba_ == expected
    auto = clf.predict_proba(X)
    chosen = clf.set_params(label_proba=expected).predict_proba(X)
    np.testing.assert_array_equal(auto, chosen)
    # the model of the inputs is kept only where it was chosen
    assert (clf.module_.input_head is not None) == (expected == "wide")
    if expected == "wide":
        calibrated = clf.set_params(label_proba="calibrated").predict_proba(X)
        assert np.abs(calibrated - auto).max() > 0.01
    else:
        with pytest.raises(ValueError, match="model of the inputs"):
            clf.set_params(label_proba="wide").predict_proba(X)


def test_calibration_cv_chooses_on_the_out_of_fold_rows(monkeypatch):
    X, Y = _data("linear")
    seen = []

    def spy(candidates):
        seen.append(sum(len(labels) for _, labels in candidates))
        return choose_label_proba(candidates)

    monkeypatch.setattr(classifier_module, "choose_label_proba", spy)
    clf = PALClassifier(**_fast(calibration_cv=2)).fit(X, Y)
    assert seen == [len(X)]  # every row once, from the fold that left it out
    assert clf.label_proba_ == "wide"


def test_the_input_model_sees_only_the_networks_training_part(monkeypatch):
    X, Y = _data("linear", n=200)
    rows = []
    original = classifier_module.fit_input_head

    def spy(head, X_rows, *args, **kwargs):
        rows.append(X_rows.numpy())
        return original(head, X_rows, *args, **kwargs)

    splits = []
    positions = classifier_module._training_positions

    def record(data):
        splits.append(data.split)
        return positions(data)

    monkeypatch.setattr(classifier_module, "fit_input_head", spy)
    monkeypatch.setattr(classifier_module, "_training_positions", record)
    PALClassifier(**_fast(**HELD_OUT)).fit(X, Y)
    PALClassifier(**_fast(label_proba="wide")).fit(X, Y)
    # the validation quarter scores it, unseen; without one it sees every row
    train, valid = splits[0]
    assert len(valid) == pytest.approx(len(X) / 4, abs=2)
    assert not set(train.indices) & set(valid.indices)
    np.testing.assert_array_equal(rows[0], X[np.sort(train.indices)])
    assert splits[1][1] is None
    np.testing.assert_array_equal(rows[1], X)


@pytest.mark.parametrize("held_out", [HELD_OUT, {}])
def test_a_model_too_large_to_afford_keeps_calibrated(monkeypatch, held_out):
    X, Y = _data("linear")
    monkeypatch.setattr(classifier_module, "AUTO_MAX_COEFFICIENTS", 8 * 3 - 1)
    clf = PALClassifier(**_fast(**held_out)).fit(X, Y)
    assert clf.module_.input_head is None and clf.label_proba_ == "calibrated"
    # the model of the inputs is fitted up to the cap
    monkeypatch.setattr(classifier_module, "AUTO_MAX_COEFFICIENTS", 8 * 3)
    assert clf.fit(X, Y).module_.input_head is not None


def test_other_sources_are_kept_as_given():
    X, Y = _data("linear")
    clf = PALClassifier(**_fast(**HELD_OUT, label_proba="blend")).fit(X, Y)
    assert clf.label_proba_ == "blend" and clf.module_.input_head is None


@pytest.mark.parametrize("kind, expected", [("linear", "wide"), ("band", "calibrated")])
@pytest.mark.parametrize("held_out", [HELD_OUT, {"calibration_cv": 2}])
def test_the_choice_is_saved_and_loads_without_the_training_parameters(
    tmp_path, kind, expected, held_out
):
    X, Y = _data(kind)
    clf = PALClassifier(**_fast(**held_out)).fit(X, Y)
    assert clf.label_proba_ == expected
    files = {"f_params": tmp_path / "params.pt", "f_state": tmp_path / "state.pt"}
    clf.save_params(**files)
    # a model for predicting needs no validation split or calibration_cv
    for params in (_fast(**held_out), _fast()):
        fresh = PALClassifier(**params)
        fresh.load_params(**files)
        assert fresh.label_proba_ == expected
        np.testing.assert_array_equal(fresh.predict_proba(X), clf.predict_proba(X))


def test_a_new_fit_chooses_again():
    X, Y = _data("linear")
    clf = PALClassifier(**_fast(**HELD_OUT)).fit(X, Y)
    assert clf.label_proba_ == "wide"
    X_band, Y_band = _data("band")
    assert clf.fit(X_band, Y_band).label_proba_ == "calibrated"
    assert clf.module_.input_head is None
    # and back: the network is rebuilt for the new fit
    assert clf.fit(X, Y).label_proba_ == "wide"


def test_choose_label_proba_pools_the_parts_log_loss():
    Y = torch.tensor([[1, 0], [0, 1]])
    good = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
    poor = torch.tensor([[0.6, 0.4], [0.4, 0.6]])
    # 'wide' is better on the first part, much worse on the second: pooled,
    # the second part decides
    parts = [
        ({"calibrated_wide": poor, "calibrated": poor, "wide": good}, Y),
        ({"calibrated_wide": 1 - good, "calibrated": good, "wide": 1 - good}, Y),
    ]
    source, losses = choose_label_proba(parts)
    assert source == "calibrated"
    expected = -np.mean(np.log([0.6] * 4 + [0.9, 0.9, 0.8, 0.8]))
    assert losses["calibrated"] == pytest.approx(expected)
    assert set(losses) == set(AUTO_SOURCES)
    tie = [(dict.fromkeys(AUTO_SOURCES, good), Y)]
    assert choose_label_proba(tie)[0] == AUTO_SOURCES[0] == "calibrated_wide"


def test_verbose_says_what_auto_chose_and_why(capsys):
    X, Y = _data("linear")
    PALClassifier(**_fast(**HELD_OUT), verbose=1).fit(X, Y)
    out = capsys.readouterr().out
    assert "label_proba='auto' chose 'wide' (log loss on" in out
    assert "held-out rows: calibrated_wide 0." in out
    assert "calibrated 0." in out and "wide 0." in out
    PALClassifier(**_fast(**HELD_OUT)).fit(X, Y)
    assert "label_proba" not in capsys.readouterr().out


def test_a_model_saved_before_auto_loads_into_an_auto_estimator(tmp_path):
    # files written while 'calibrated' was the default hold no label_proba_
    # and no model of the inputs: 'auto' must not build one to load into
    X, Y = _data("linear")
    clf = PALClassifier(**_fast(label_proba="calibrated")).fit(X, Y)
    del clf.__dict__["label_proba_"]
    files = {"f_params": tmp_path / "params.pt", "f_state": tmp_path / "state.pt"}
    clf.save_params(**files)
    fresh = PALClassifier(**_fast())
    fresh.load_params(**files)
    assert fresh.label_proba_ == "calibrated" and fresh.module_.input_head is None
    np.testing.assert_array_equal(fresh.predict_proba(X), clf.predict_proba(X))
