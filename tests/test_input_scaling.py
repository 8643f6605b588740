"""input_scaling='robust': fitted in fit, saved with the network, applied everywhere."""

import io

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from sknc import FixedETFClassifier, PALClassifier
from sknc._modules import InputScaler

from .conftest import FAST

ESTIMATORS = [PALClassifier, FixedETFClassifier]


def _robust(X, X_fit):
    q25, median, q75 = np.percentile(X_fit, [25, 50, 75], axis=0)
    scale = q75 - q25
    half_range = (X_fit.max(axis=0) - X_fit.min(axis=0)) / 2
    scale = np.where(scale > 0, scale, np.where(half_range > 0, half_range, 1.0))
    Z = (X - median) / scale
    return Z / np.sqrt(1 + (Z / 3) ** 2)


@pytest.fixture(scope="module")
def tabular(multilabel_data):
    """Heavy tails, a binary and a constant column: what tabular data brings."""
    X, Y = multilabel_data
    rng = np.random.default_rng(0)
    X = X.astype(np.float64).copy()
    X[:, 0] = rng.standard_cauchy(len(X)) * 1e3
    X[:, 1] = rng.random(len(X)) < 0.1
    X[:, 2] = 7.0
    return X, Y


def test_the_statistics_are_the_training_rows_median_and_iqr(tabular):
    X, _ = tabular
    scaler = InputScaler(X.shape[1]).fit(torch.as_tensor(X, dtype=torch.float32))
    np.testing.assert_allclose(
        scaler(torch.as_tensor(X, dtype=torch.float32)).numpy(),
        _robust(X, X),
        rtol=1e-4,
        atol=1e-5,
    )
    assert scaler.scale[1] == 0.5  # binary, mostly 0: half its range
    assert scaler.scale[2] == 1.0  # constant


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_robust_scaling_equals_training_on_the_scaled_rows(cls, tabular):
    # the scaler has no parameters to draw: the same seed trains the same
    # network on what it outputs, and every predict path applies it (training
    # is chaotic enough that rows rounded differently would not match)
    X, Y = tabular
    # the per-label model of the inputs robust-scales them whatever
    # input_scaling says: a source without it compares the networks alone
    params = dict(FAST, label_proba="calibrated")
    inside = cls(**params, input_scaling="robust").fit(X, Y)
    Z = inside.module_.input_scaler(torch.as_tensor(X, dtype=torch.float32))
    Z = Z.numpy()
    np.testing.assert_allclose(Z, _robust(X, X), rtol=1e-4, atol=1e-5)
    outside = cls(**params, input_scaling=None).fit(Z, Y)
    for method in ("predict_proba", "decision_function", "transform", "predict"):
        np.testing.assert_array_equal(
            getattr(inside, method)(X), getattr(outside, method)(Z)
        )


def test_robust_scaling_ignores_the_units_of_a_feature(tabular):
    X, Y = tabular
    rescaled = X * np.linspace(1e-3, 1e3, X.shape[1]) + 50
    a = PALClassifier(**FAST, input_scaling="robust").fit(X, Y)
    b = PALClassifier(**FAST, input_scaling="robust").fit(rescaled, Y)
    Za = a.module_.input_scaler(torch.as_tensor(X, dtype=torch.float32))
    Zb = b.module_.input_scaler(torch.as_tensor(rescaled, dtype=torch.float32))
    torch.testing.assert_close(Za, Zb, rtol=1e-3, atol=1e-3)


def test_outliers_at_predict_time_stay_bounded(tabular):
    X, Y = tabular
    clf = PALClassifier(**FAST, input_scaling="robust").fit(X, Y)
    wild = X[:5] * 1e12
    assert np.isfinite(clf.decision_function(wild)).all()
    scaled = clf.module_.input_scaler(torch.as_tensor(wild, dtype=torch.float32))
    assert scaled.abs().max() <= 3.0


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_the_statistics_travel_with_the_parameters(cls, tabular):
    X, Y = tabular
    clf = cls(**FAST, input_scaling="robust").fit(X, Y)
    params, state = io.BytesIO(), io.BytesIO()
    clf.save_params(f_params=params, f_state=state)
    params.seek(0)
    state.seek(0)
    new = cls(**FAST, input_scaling="robust")
    new.load_params(f_params=params, f_state=state)
    np.testing.assert_array_equal(new.predict_proba(X), clf.predict_proba(X))
    params.seek(0)
    state.seek(0)
    with pytest.raises(ValueError, match="another input_scaling"):
        cls(**FAST, input_scaling=None).load_params(f_params=params, f_state=state)


def test_sparse_input_and_partial_fit_fit_the_same_statistics(tabular):
    X, Y = tabular
    dense = PALClassifier(**FAST, input_scaling="robust").fit(X, Y)
    sparse = PALClassifier(**FAST, input_scaling="robust").fit(sp.csr_matrix(X), Y)
    partial = PALClassifier(**FAST, input_scaling="robust").partial_fit(X, Y)
    for other in (sparse, partial):
        for name in ("center", "scale"):
            torch.testing.assert_close(
                getattr(other.module_.input_scaler, name),
                getattr(dense.module_.input_scaler, name),
            )


def test_warm_start_keeps_the_statistics_the_network_trained_on(tabular):
    X, Y = tabular
    clf = PALClassifier(**FAST, input_scaling="robust", warm_start=True).fit(X, Y)
    center = clf.module_.input_scaler.center.clone()
    clf.fit(X[:40] + 100, Y[:40])
    torch.testing.assert_close(clf.module_.input_scaler.center, center)


def test_every_ensemble_member_scales_its_inputs(tabular):
    X, Y = tabular
    clf = PALClassifier(**FAST, input_scaling="robust", n_estimators=2).fit(X, Y)
    members = clf.module_.members
    scalers = [m for m in members.modules() if isinstance(m, InputScaler)]
    assert len(scalers) == 2
    torch.testing.assert_close(scalers[0].center, scalers[1].center)
    assert scalers[0].center.abs().sum() > 0


def test_robust_scaling_is_the_default():
    assert PALClassifier().input_scaling == "robust"
    assert FixedETFClassifier().input_scaling == "robust"


def test_integer_weights_give_the_statistics_of_repeated_rows(tabular):
    X, _ = tabular
    weight = np.random.default_rng(1).integers(0, 4, len(X))
    rows = torch.as_tensor(X, dtype=torch.float32)
    weighted = InputScaler(X.shape[1]).fit(rows, weight)
    repeated = InputScaler(X.shape[1]).fit(rows[np.repeat(np.arange(len(X)), weight)])
    torch.testing.assert_close(weighted.center, repeated.center)
    torch.testing.assert_close(weighted.scale, repeated.scale)
    np.testing.assert_allclose(
        weighted.center.numpy(),
        np.median(np.repeat(X, weight, axis=0), axis=0),
        rtol=1e-5,
    )


def test_wide_sparse_inputs_are_densified_in_bounded_memory(monkeypatch):
    # the statistics densify a sample of rows: at most 2**25 values
    import sknc._classifier as classifier

    seen = []
    real = classifier.sample_rows

    def spy(X, n_max=20_000, **kwargs):
        seen.append(n_max)
        return real(X, n_max, **kwargs)

    monkeypatch.setattr(classifier, "sample_rows", spy)
    rng = np.random.default_rng(0)
    X = sp.random(1200, 40_000, density=1e-4, format="csr", random_state=0)
    Y = (rng.random((1200, 3)) < 0.4).astype(int)
    Y[Y.sum(axis=1) == 0, 0] = 1
    PALClassifier(**{**FAST, "max_epochs": 1}).fit(X, Y)
    # 838 rows of 40,000 columns; the model of the inputs keeps 2**24 values
    assert seen == [2**25 // 40_000, 2**24 // 40_000]
