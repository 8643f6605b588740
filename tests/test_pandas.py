"""pandas targets: nullable columns, missing values, single columns, frames (#18)."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import DataConversionWarning

from sknc import NeuralCollapseScorer, PALClassifier, metrics
from sknc.model_selection import (
    MultilabelStratifiedKFold,
    MultilabelStratifiedShuffleSplit,
    MultilabelStratifiedValidSplit,
    RepeatedMultilabelStratifiedKFold,
    multilabel_train_test_split,
)

from .conftest import FAST

pd = pytest.importorskip("pandas")

NULLABLE = {
    "Int64": lambda Y: pd.DataFrame(Y, columns=list("abcd")).astype("Int64"),
    "boolean": lambda Y: pd.DataFrame(Y, columns=list("abcd")).astype("boolean"),
    "mixed": lambda Y: pd.DataFrame(Y, columns=list("abcd")).astype(
        {"a": "Int8", "b": "boolean", "c": "UInt16", "d": "int64"}
    ),
}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5)).astype(np.float32)
    Y = (rng.random((60, 4)) > 0.5).astype(np.int64)
    Y[Y.sum(1) == 0, 0] = 1
    return X, Y


def _as_lists(splits):
    return [(a.tolist(), b.tolist()) for a, b in splits]


@pytest.mark.parametrize("kind", sorted(NULLABLE))
def test_fit_accepts_nullable_columns(kind, data):
    X, Y = data
    frame = NULLABLE[kind](Y)
    clf = PALClassifier(**FAST).fit(X, frame)
    reference = PALClassifier(**FAST).fit(X, Y)
    assert list(clf.classes_) == list("abcd")
    pred = clf.predict(X)
    np.testing.assert_array_equal(pred, reference.predict(X))
    expected = {"Int64": np.int64, "boolean": np.bool_, "mixed": np.int64}[kind]
    assert pred.dtype == expected


@pytest.mark.parametrize("kind", sorted(NULLABLE))
def test_the_splitters_accept_nullable_columns(kind, data):
    X, Y = data
    frame = NULLABLE[kind](Y)
    splitters = [
        MultilabelStratifiedKFold(3),
        MultilabelStratifiedShuffleSplit(2, test_size=0.3, random_state=0),
        RepeatedMultilabelStratifiedKFold(n_splits=2, n_repeats=2, random_state=0),
    ]
    for cv in splitters:
        assert _as_lists(cv.split(X, frame)) == _as_lists(cv.split(X, Y))
    parts = multilabel_train_test_split(X, stratify=frame, random_state=0)
    plain = multilabel_train_test_split(X, stratify=Y, random_state=0)
    np.testing.assert_array_equal(parts[1], plain[1])
    clf = PALClassifier(
        **FAST, train_split=MultilabelStratifiedValidSplit(0.25, random_state=0)
    ).fit(X, frame)
    assert "valid_loss" in clf.history[-1]


@pytest.mark.parametrize("kind", sorted(NULLABLE))
def test_the_metrics_accept_nullable_columns(kind, data):
    X, Y = data
    frame = NULLABLE[kind](Y)
    assert metrics.nc1(X, frame) == pytest.approx(metrics.nc1(X, Y))
    report = metrics.label_report(X, frame)
    np.testing.assert_allclose(report.mean_norm, metrics.label_report(X, Y).mean_norm)
    clf = PALClassifier(**FAST).fit(X, Y)
    scorer = NeuralCollapseScorer("nc1")
    assert scorer(clf, X, frame) == pytest.approx(scorer(clf, X, Y))


def _with_missing(Y, dtype):
    frame = pd.DataFrame(Y, columns=list("abcd")).astype(dtype)
    frame.iloc[3, 2] = pd.NA
    return frame


@pytest.mark.parametrize("dtype", ["Int64", "boolean"])
@pytest.mark.parametrize(
    "use",
    ["fit", "split", "train_test_split", "nc1", "label_report"],
)
def test_missing_values_are_rejected_by_name(use, dtype, data):
    X, Y = data
    frame = _with_missing(Y, dtype)
    call = {
        "fit": lambda: PALClassifier(**FAST).fit(X, frame),
        "split": lambda: MultilabelStratifiedKFold(3).split(X, frame),
        "train_test_split": lambda: multilabel_train_test_split(X, stratify=frame),
        "nc1": lambda: metrics.nc1(X, frame),
        "label_report": lambda: metrics.label_report(X, frame),
    }[use]
    with pytest.raises(ValueError, match=r"1 missing value\(s\).*column\(s\) \['c'\]"):
        call()


@pytest.mark.parametrize(
    "column",
    [
        lambda y: y,
        lambda y: pd.DataFrame(y, columns=["tag"]),
        lambda y: pd.DataFrame(y, columns=["tag"]).astype("Int64"),
        lambda y: pd.DataFrame(y, columns=["tag"]).astype("boolean"),
        lambda y: sp.csr_matrix(y),
        lambda y: y.tolist(),
    ],
    ids=["array", "frame", "Int64", "boolean", "sparse", "list"],
)
def test_a_single_column_warns_that_it_is_a_binary_problem(column, data):
    X, Y = data
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        clf = PALClassifier(**FAST).fit(X, column(Y[:, :1]))
    assert not clf.multilabel_
    assert clf.predict(X).shape == (len(X),)


def test_label_report_frame_names_the_nearest_labels(data):
    X, Y = data
    W = np.random.default_rng(1).normal(size=(4, X.shape[1]))
    names = ["cat", "dog", "bird", "fish"]
    frame = metrics.label_report(X, Y, W, label_names=names, as_frame=True)
    bunch = metrics.label_report(X, Y, W)
    assert list(frame["nearest"]) == [names[j] for j in bunch.nearest]
    assert list(frame["mean_nearest"]) == [names[j] for j in bunch.mean_nearest]
    # without names the labels are their indices, in both columns
    plain = metrics.label_report(X, Y, W, as_frame=True)
    assert list(plain["nearest"]) == bunch.nearest.tolist()


def test_label_report_frame_has_no_name_where_there_is_no_nearest_label(data):
    X, Y = data
    Y = Y.copy()
    Y[:, 3] = 0  # never occurs: no mean, no nearest mean
    with pytest.warns(UserWarning, match="never occur"):
        frame = metrics.label_report(X, Y, label_names=list("abcd"), as_frame=True)
    assert frame["mean_nearest"][3] is None
