"""Bad input to the estimators gets an error that names the problem."""

import numpy as np
import pytest
from sklearn.exceptions import DataConversionWarning, NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from sknc import FixedETFClassifier, PALClassifier

from .conftest import FAST

ESTIMATORS = [PALClassifier, FixedETFClassifier]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 6)).astype(np.float32)
    Y = (rng.random((40, 4)) > 0.5).astype(int)
    Y[Y.sum(1) == 0, 0] = 1
    Y[0] = [1, 1, 1, 1]
    return X, Y


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    "corrupt, match",
    [
        (
            lambda X, Y: (
                np.where(np.arange(X.size).reshape(X.shape) == 3, np.nan, X),
                Y,
            ),
            "Input X contains NaN",
        ),
        (
            lambda X, Y: (
                np.where(np.arange(X.size).reshape(X.shape) == 3, np.inf, X),
                Y,
            ),
            "Input X contains infinity",
        ),
        (
            lambda X, Y: (X, np.where(Y == 1, 2, Y)),
            r"0/1 label indicator .* e\.g\. \[2\]",
        ),
        (lambda X, Y: (X, -Y), r"0/1 label indicator .* e\.g\. \[-1\]"),
        (lambda X, Y: (X, Y.astype(float) * 0.5), r"0/1 label indicator"),
        (lambda X, Y: (X[:-1], Y), "inconsistent numbers of samples"),
        (lambda X, Y: (X[:0], Y[:0]), "0 sample"),
        (lambda X, Y: (X, Y[:, :, None].repeat(2, 2)), "with 3 dimensions"),
        (lambda X, Y: (X, np.zeros(len(X))), "at least 2 classes"),
        (lambda X, Y: (X, np.linspace(0, 1, len(X))), "Unknown label type"),
        (lambda X, Y: (X, [[0, 1], [2]] * 20), "MultiLabelBinarizer"),
        (lambda X, Y: (X, None), "requires y to be passed"),
        (lambda X, Y: (X, np.where(Y == 1, np.nan, 0.0)), "Input y contains NaN"),
    ],
    ids=[
        "nan-X",
        "inf-X",
        "Y-with-2",
        "negative-Y",
        "fractional-Y",
        "length-mismatch",
        "empty-X",
        "3d-Y",
        "one-class",
        "continuous-y",
        "label-lists",
        "y-None",
        "nan-Y",
    ],
)
def test_fit_rejects_bad_data(cls, corrupt, match, data):
    X, Y = corrupt(*data)
    with pytest.raises(ValueError, match=match):
        cls(**FAST).fit(X, Y)


def test_single_column_y_is_a_binary_problem(data):
    X, Y = data
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        clf = PALClassifier(**FAST).fit(X, Y[:, :1])
    assert not clf.multilabel_
    assert clf.predict(X).shape == (len(X),)


def test_rows_without_labels_and_absent_labels_warn_once(data):
    X, Y = data
    Y = Y.copy()
    Y[:5] = 0
    Y[:, 3] = 0
    with pytest.warns(UserWarning) as record:
        PALClassifier(background_label=False, **FAST).fit(X, Y)
    messages = [str(w.message) for w in record]
    assert sum("have no positive label" in m for m in messages) == 1
    assert sum("never occur in y (columns [3])" in m for m in messages) == 1
    # by default empty rows get a background label: nothing to warn about
    with pytest.warns(UserWarning) as record:
        clf = PALClassifier(**FAST).fit(X, Y)
    assert not any("no positive label" in str(w.message) for w in record)
    assert clf.background_label_


def test_feature_dim_below_k_minus_1_for_the_etf_head(data):
    X, Y = data
    with pytest.raises(
        ValueError, match=r"needs feature_dim >= 3 .*got features of dimension 2"
    ):
        FixedETFClassifier(**FAST, feature_dim=2).fit(X, Y)
    # K - 1 is the smallest allowed
    assert FixedETFClassifier(**FAST, feature_dim=3).fit(X, Y).feature_dim_ == 3


@pytest.mark.parametrize(
    "method", ["predict", "predict_proba", "decision_function", "transform"]
)
def test_predict_before_fit(method, data):
    with pytest.raises(NotFittedError):
        getattr(PALClassifier(), method)(data[0])


def test_wrong_number_of_features_at_predict(data):
    X, Y = data
    clf = PALClassifier(**FAST).fit(X, Y)
    with pytest.raises(
        ValueError, match="X has 5 features, but PALClassifier is expecting 6"
    ):
        clf.predict(X[:, :5])
    with pytest.raises(ValueError, match="Input X contains NaN"):
        clf.predict(np.full_like(X, np.nan))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"loss": "bce"}, "'loss' parameter of PALClassifier must be"),
        ({"decoder": "nearest"}, "'decoder' parameter of PALClassifier must be"),
        ({"feature_dim": 0}, "'feature_dim' parameter"),
        ({"lr": -1.0}, "'lr' parameter"),
        ({"dropout": 1.0}, "'dropout' parameter"),
        ({"feature_decay": -0.1}, "'feature_decay' parameter"),
        ({"activation": "swish"}, "'activation' parameter"),
    ],
)
def test_invalid_parameters(params, match, data):
    X, Y = data
    with pytest.raises(InvalidParameterError, match=match):
        PALClassifier(**{**FAST, **params}).fit(X, Y)


def test_invalid_etf_scale(data):
    X, Y = data
    with pytest.raises(InvalidParameterError, match="'etf_scale' parameter"):
        FixedETFClassifier(**FAST, etf_scale=0.0).fit(X, Y)
    clf = FixedETFClassifier(**FAST, etf_scale=4.0).fit(X, Y)
    assert not any(p.requires_grad for p in clf.module_.head.parameters())
