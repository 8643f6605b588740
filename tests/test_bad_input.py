"""Bad input to the estimators gets an error that names the problem."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.exceptions import DataConversionWarning, NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from sknc import (
    FixedETFClassifier,
    NeuralCollapseScorer,
    ONNDecoder,
    PALClassifier,
    ThresholdDecoder,
    TopKDecoder,
    metrics,
)
from sknc.decoders import get_decoder, nearest_prototypes
from sknc.model_selection import (
    MultilabelStratifiedKFold,
    multilabel_train_test_split,
)

from .conftest import FAST

ESTIMATORS = [PALClassifier, FixedETFClassifier]

# Module-level inputs for the component checks (30 rows, 5 features, 4 labels).
_rng = np.random.default_rng(0)
_Hn = _rng.normal(size=(30, 5))
_Y = (_rng.random((30, 4)) > 0.5).astype(int)
_Y[_Y.sum(1) == 0, 0] = 1
_H = torch.as_tensor(_Hn, dtype=torch.float32)


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
        ({"feature_decay": "onn"}, "'feature_decay' parameter"),
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


# ------------------------------------------------------- catalogue, continued
@pytest.mark.parametrize(
    "corrupt, match",
    [
        (
            lambda X, Y: (np.where(np.eye(*X.shape) > 0, None, X).astype(object), Y),
            "Input X contains NaN",
        ),
        (lambda X, Y: (np.full(X.shape, "a"), Y), "X must be numeric.*OneHotEncoder"),
        (lambda X, Y: (X[:, :, None], Y), "Found array with dim 3"),
        (lambda X, Y: (X, np.zeros_like(Y)), "no positive label in any row"),
        # '0'/'1' strings (a CSV read as text) once predicted 'False'/'True'
        (lambda X, Y: (X, Y.astype(str)), r"non-numbers.*astype\(int\)"),
        (lambda X, Y: (X, Y.astype("<U3")), r"non-numbers.*astype\(int\)"),
        (lambda X, Y: (X, Y.astype(str).astype(object)), r"non-numbers"),
        (lambda X, Y: (X, np.where(Y == 1, "yes", "no")), r"non-numbers"),
    ],
    ids=[
        "None-in-X",
        "string-X",
        "3d-X",
        "all-zero-Y",
        "string-01-Y",
        "U3-01-Y",
        "object-string-Y",
        "yes-no-Y",
    ],
)
def test_fit_rejects_more_bad_data(corrupt, match, data):
    X, Y = corrupt(*data)
    with pytest.raises(ValueError, match=match):
        PALClassifier(**FAST).fit(X, Y)


def test_diverging_training_names_the_learning_rate(data):
    X, Y = data
    with pytest.raises(
        ValueError, match=r"Training diverged.*too high \(lr=1000000000000\.0\)"
    ):
        PALClassifier(**{**FAST, "lr": 1e12}).fit(X, Y)


def test_reordered_dataframe_columns_at_predict(data):
    pd = pytest.importorskip("pandas")
    X, Y = data
    df = pd.DataFrame(X, columns=list("abcdef"))
    clf = PALClassifier(**FAST).fit(df, Y)
    with pytest.raises(ValueError, match="feature names should match"):
        clf.predict(df[list("fedcba")])


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    "reshape",
    [
        lambda X, Y: (X[:1], Y[:1]),  # one row: batch norm uses running stats
        lambda X, Y: (X[:33], Y[:33]),  # last training batch of one sample
        lambda X, Y: (X[:, :1], Y),  # one feature
        lambda X, Y: (X, np.ones_like(Y)),  # every label on every row
        lambda X, Y: (X, sp.csr_matrix(Y)),  # sparse Y
    ],
    ids=["one-row", "batch-of-one", "one-feature", "all-one-Y", "sparse-Y"],
)
def test_documented_acceptances(cls, reshape, data):
    X, Y = reshape(*data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # absent labels
        clf = cls(**FAST).fit(X, Y)
    pred = clf.predict(X)
    assert pred.shape == (X.shape[0], 4)
    assert np.isfinite(clf.predict_proba(X)).all()
    if not sp.issparse(Y) and (np.asarray(Y) == 1).all():
        assert (pred == 1).all()


def test_batch_size_larger_than_the_data(data):
    X, Y = data
    clf = PALClassifier(**{**FAST, "batch_size": 1000}).fit(X, Y)
    assert len(clf.history[-1, "batches"]) == 1
    assert clf.predict(X).shape == Y.shape


def _labels(Y):
    return torch.as_tensor(Y)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: get_decoder("nearest"), ValueError, "Unknown decoder 'nearest'"),
        (lambda: get_decoder(3), TypeError, "decoder must be a decoder name"),
        (
            lambda: ONNDecoder(temperature=0.0).fit(None, _H, _labels(_Y)),
            ValueError,
            "'temperature' parameter of ONNDecoder must be",
        ),
        (
            lambda: ONNDecoder(metric="l1").fit(None, _H, _labels(_Y)),
            ValueError,
            "'metric' parameter of ONNDecoder must be",
        ),
        (
            lambda: TopKDecoder(k=5).fit(_H[:, :4], None, _labels(_Y)),
            ValueError,
            r"k=5 is larger than the number of labels \(4\)",
        ),
        (
            lambda: ThresholdDecoder(threshold=1.5).fit(_H[:, :4], None, _labels(_Y)),
            ValueError,
            "'threshold' parameter of ThresholdDecoder must be",
        ),
        (
            lambda: nearest_prototypes(_H, _H[:3], metric="euclidean", k=4),
            ValueError,
            "k must be an integer in",
        ),
        (
            lambda: metrics.nc1(np.where(_Hn > 2, np.nan, _Hn), _Y),
            ValueError,
            "H contains NaN or infinity",
        ),
        (
            lambda: metrics.nc1(_Hn[:-1], _Y),
            ValueError,
            "inconsistent numbers of samples",
        ),
        (lambda: metrics.nc1(_Hn, _Y * 2), ValueError, "0/1 label indicator"),
        (
            lambda: metrics.nc3(_Hn, _Y, np.zeros((3, 5))),
            ValueError,
            r"W must have shape \(n_labels, n_features\)",
        ),
        (
            lambda: NeuralCollapseScorer("nc9").fit(_Hn, _Y),
            InvalidParameterError,
            "'metric' parameter of NeuralCollapseScorer",
        ),
        (
            lambda: NeuralCollapseScorer("nc2").fit(_Hn, _Y).score(_Hn, _Y),
            ValueError,
            "needs the classifier head W",
        ),
        (
            lambda: next(MultilabelStratifiedKFold(3).split(_Hn, _Y * 3)),
            ValueError,
            "must be a 0/1 label indicator",
        ),
        (
            lambda: multilabel_train_test_split(_Hn, _Y),
            ValueError,
            "needs stratify=Y",
        ),
    ],
    ids=[
        "decoder-unknown-name",
        "decoder-wrong-type",
        "onn-temperature-0",
        "onn-unknown-metric",
        "topk-k-above-K",
        "threshold-above-1",
        "search-k-above-P",
        "metric-nan-H",
        "metric-length-mismatch",
        "metric-non-binary-Y",
        "metric-head-shape",
        "scorer-unknown-metric",
        "scorer-head-metric-without-head",
        "splitter-non-binary-Y",
        "split-without-stratify",
    ],
)
@pytest.mark.filterwarnings("ignore::sknc.metrics.NeuralCollapseWarning")
def test_components_reject_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_numbers_held_as_objects_predict_as_numbers(data):
    X, Y = data
    clf = PALClassifier(**FAST).fit(X, Y.astype(object))
    pred = clf.predict(X)
    assert pred.dtype == np.int64
    np.testing.assert_array_equal(pred, PALClassifier(**FAST).fit(X, Y).predict(X))
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(Y.astype(bool)).astype(object)
    assert PALClassifier(**FAST).fit(X, frame).predict(X).dtype == bool


@pytest.mark.parametrize("objective", ["f1", "accuracy", 42, "F1_micro"])
def test_an_objective_set_after_fit_is_checked_where_it_is_used(objective, data):
    # set_params on a fitted model takes effect without refitting: a typo
    # must not fall through to another rule
    X, Y = data
    clf = PALClassifier(**FAST).fit(X, Y)
    clf.set_params(objective=objective)
    with pytest.raises(InvalidParameterError, match="'objective' parameter"):
        clf.predict(X)
    clf.set_params(objective="f1_micro")
    assert clf.predict(X).shape == Y.shape


def test_get_params_shows_parameters_only(data):
    params = PALClassifier(**FAST, decoder__k=3).get_params()
    assert not [name for name in params if name.startswith("_")]
    assert params["decoder__k"] == 3


def test_warnings_point_at_the_users_line(data):
    # they were attributed to sys:1 or to sknc's own modules
    X, Y = data
    Y = Y.copy()
    Y[:, 3] = 0  # a label that never occurs
    with pytest.warns(UserWarning, match="never occur") as record:
        clf = PALClassifier(**FAST).fit(X, Y)
    assert {w.filename for w in record} == {__file__}
    with pytest.warns(metrics.NeuralCollapseWarning) as record:
        metrics.nc1(clf.transform(X), Y, label_means="singletons")
    assert {w.filename for w in record} == {__file__}
    with pytest.warns(metrics.NeuralCollapseWarning) as record:
        NeuralCollapseScorer("nc1", label_means="singletons")(clf, X, Y)
    assert {w.filename for w in record} == {__file__}
