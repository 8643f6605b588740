import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from iterstrat import ml_stratifiers
from sklearn.base import clone
from sklearn.datasets import make_multilabel_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    ShuffleSplit,
    StratifiedKFold,
    cross_validate,
)
from sklearn.multioutput import MultiOutputClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.utils._param_validation import InvalidParameterError
from skorch import NeuralNet
from skorch.dataset import Dataset

from sknc.model_selection import (
    MultilabelStratifiedKFold,
    MultilabelStratifiedShuffleSplit,
    MultilabelStratifiedValidSplit,
    RepeatedMultilabelStratifiedKFold,
    StratificationWarning,
    multilabel_train_test_split,
)

N_SAMPLES, N_FEATURES, N_LABELS = 200, 10, 5


@pytest.fixture(scope="module")
def data():
    X, Y = make_multilabel_classification(
        n_samples=N_SAMPLES,
        n_features=N_FEATURES,
        n_classes=N_LABELS,
        random_state=0,
    )
    # every label has 57 to 83 positives: all can be stratified in 5 folds
    assert Y.sum(axis=0).min() > 50
    return X.astype(np.float32), Y


def rare_label_data():
    """40 samples; label 0 has 20 positives, label 1 has 2, label 2 has none."""
    Y = np.zeros((40, 3), dtype=int)
    Y[::2, 0] = 1
    Y[[3, 7], 1] = 1
    return np.zeros((40, 1)), Y


def max_deviation(Y, splits):
    """Largest gap between a label's positive rate in a test set and overall."""
    return max(
        np.abs(Y[test].mean(axis=0) - Y.mean(axis=0)).max() for _, test in splits
    )


def as_tuples(splits):
    return [(tuple(train), tuple(test)) for train, test in splits]


@pytest.fixture
def no_stratification_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", StratificationWarning)
        yield


# --------------------------------------------------------------------------
# MultilabelStratifiedKFold


def test_kfold_partitions_the_data_into_stratified_folds(data):
    X, Y = data
    cv = MultilabelStratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    assert cv.get_n_splits() == 5
    splits = list(cv.split(X, Y))
    assert len(splits) == 5
    tests = np.concatenate([test for _, test in splits])
    np.testing.assert_array_equal(np.sort(tests), np.arange(N_SAMPLES))
    expected = Y.sum(axis=0) / 5
    for train, test in splits:
        assert np.intersect1d(train, test).size == 0
        assert train.size + test.size == N_SAMPLES
        assert abs(test.size - N_SAMPLES / 5) <= 2
        # positives of each label per test fold: close to a fifth of the total
        assert np.abs(Y[test].sum(axis=0) - expected).max() <= 4


def test_kfold_stratifies_much_better_than_kfold(data):
    X, Y = data
    ours = np.mean(
        [
            max_deviation(
                Y,
                MultilabelStratifiedKFold(5, shuffle=True, random_state=s).split(X, Y),
            )
            for s in range(10)
        ]
    )
    plain = np.mean(
        [
            max_deviation(Y, KFold(5, shuffle=True, random_state=s).split(X, Y))
            for s in range(10)
        ]
    )
    assert ours < 0.05
    assert ours < plain / 2


def test_kfold_is_deterministic_under_random_state(data):
    X, Y = data
    first = as_tuples(
        MultilabelStratifiedKFold(4, shuffle=True, random_state=1).split(X, Y)
    )
    cv = MultilabelStratifiedKFold(4, shuffle=True, random_state=1)
    assert as_tuples(cv.split(X, Y)) == first
    assert as_tuples(cv.split(X, Y)) == first  # same folds on every call
    other = as_tuples(
        MultilabelStratifiedKFold(4, shuffle=True, random_state=2).split(X, Y)
    )
    assert other != first


def test_kfold_without_shuffle_is_deterministic(data):
    X, Y = data
    cv = MultilabelStratifiedKFold(4, shuffle=False)
    np.random.seed(1)
    first = as_tuples(cv.split(X, Y))
    np.random.seed(2)  # iterstrat itself would break ties with this RNG
    assert as_tuples(cv.split(X, Y)) == first


def test_kfold_does_not_shuffle_by_default_as_scikit_learn(data):
    # StratifiedKFold and iterstrat's own splitter: shuffle=False by default
    X, Y = data
    assert MultilabelStratifiedKFold().shuffle is False
    assert StratifiedKFold().shuffle is False
    default = MultilabelStratifiedKFold(4)
    np.random.seed(3)
    first = as_tuples(default.split(X, Y))
    np.random.seed(4)
    assert as_tuples(default.split(X, Y)) == first
    assert first == as_tuples(MultilabelStratifiedKFold(4, shuffle=False).split(X, Y))


def test_kfold_random_state_none_uses_global_rng(data):
    X, Y = data
    cv = MultilabelStratifiedKFold(4, shuffle=True)
    assert as_tuples(cv.split(X, Y)) != as_tuples(cv.split(X, Y))


@pytest.mark.parametrize("shuffle", [False, "default"])
def test_kfold_random_state_without_shuffle_raises(shuffle):
    kwargs = {} if shuffle == "default" else {"shuffle": shuffle}
    with pytest.raises(ValueError, match="random_state has no effect"):
        MultilabelStratifiedKFold(3, random_state=0, **kwargs)


def test_repeated_kfold_and_valid_split_still_shuffle(data):
    X, Y = data
    repeated = RepeatedMultilabelStratifiedKFold(n_splits=2, n_repeats=2)
    folds = as_tuples(repeated.split(X, Y))
    assert folds[:2] != folds[2:]  # each repetition a new shuffle
    split = MultilabelStratifiedValidSplit(4, random_state=0)
    dataset = Dataset(X, Y)
    first = [s.indices.tolist() for s in split(dataset, Y)]
    assert first == [s.indices.tolist() for s in split(dataset, Y)]
    other = MultilabelStratifiedValidSplit(4, random_state=1)
    assert first != [s.indices.tolist() for s in other(dataset, Y)]


@pytest.mark.parametrize(
    "convert",
    [
        pytest.param(sp.csr_matrix, id="csr"),
        pytest.param(sp.csc_array, id="csc_array"),
        pytest.param(pd.DataFrame, id="dataframe"),
        pytest.param(lambda Y: Y.tolist(), id="list"),
        pytest.param(lambda Y: Y.astype(bool), id="bool"),
        pytest.param(lambda Y: Y.astype(np.float32), id="float32"),
        pytest.param(torch.from_numpy, id="tensor"),
    ],
)
def test_y_representations_give_the_same_folds(data, convert):
    X, Y = data
    expected = as_tuples(
        MultilabelStratifiedKFold(3, shuffle=True, random_state=0).split(X, Y)
    )
    got = MultilabelStratifiedKFold(3, shuffle=True, random_state=0).split(
        X, convert(Y)
    )
    assert as_tuples(got) == expected
    got = MultilabelStratifiedShuffleSplit(2, random_state=0).split(X, convert(Y))
    expected = MultilabelStratifiedShuffleSplit(2, random_state=0).split(X, Y)
    assert as_tuples(got) == as_tuples(expected)


def test_iterstrat_itself_rejects_sparse_y(data):
    # the reason for the wrapper: keep this test to notice if iterstrat changes
    X, Y = data
    cv = ml_stratifiers.MultilabelStratifiedKFold(3, shuffle=True, random_state=0)
    with pytest.raises(TypeError, match="dense data is required"):
        list(cv.split(X, sp.csr_matrix(Y)))


def test_dataframe_x_and_y(data):
    X, Y = data
    X_df = pd.DataFrame(X)
    Y_df = pd.DataFrame(Y, columns=[f"tag{j}" for j in range(N_LABELS)])
    expected = as_tuples(
        MultilabelStratifiedKFold(3, shuffle=True, random_state=0).split(X, Y)
    )
    got = as_tuples(
        MultilabelStratifiedKFold(3, shuffle=True, random_state=0).split(X_df, Y_df)
    )
    assert got == expected


def test_single_label_indicator_is_supported():
    # iterstrat rejects an (n, 1) indicator as "binary"
    Y = np.zeros((30, 1), dtype=int)
    Y[:9] = 1
    splits = list(
        MultilabelStratifiedKFold(3, shuffle=True, random_state=0).split(Y, Y)
    )
    assert [Y[test].sum() for _, test in splits] == [3, 3, 3]


def test_one_dimensional_y_is_stratified_by_class():
    y = np.repeat(["a", "b", "c"], [30, 12, 6])
    rng = np.random.RandomState(0)
    rng.shuffle(y)
    cv = MultilabelStratifiedKFold(3, shuffle=True, random_state=0)
    for _, test in cv.split(np.zeros((48, 1)), y):
        assert [np.sum(y[test] == c) for c in "abc"] == [10, 4, 2]


def test_all_zero_rows_and_never_occurring_labels(no_stratification_warning):
    X, Y = rare_label_data()  # label 2 never occurs, half the rows are empty
    Y = Y[:, [0, 2]]
    for _, test in MultilabelStratifiedKFold(4, shuffle=True, random_state=0).split(
        X, Y
    ):
        assert test.size == 10
        assert Y[test, 0].sum() == 5


def test_kfold_repr():
    assert (
        repr(MultilabelStratifiedKFold(3))
        == "MultilabelStratifiedKFold(n_splits=3, random_state=None, shuffle=False)"
    )


def test_too_many_splits_raise_before_any_warning(no_stratification_warning):
    Y = np.eye(3, dtype=int)
    for cv in [
        MultilabelStratifiedKFold(5, shuffle=True, random_state=0),
        RepeatedMultilabelStratifiedKFold(n_splits=5, n_repeats=2, random_state=0),
    ]:
        with pytest.raises(ValueError, match="n_splits=5 greater than the number"):
            cv.split(Y, Y)


# --------------------------------------------------------------------------
# Warnings and errors


def test_warns_for_labels_with_fewer_positives_than_folds():
    X, Y = rare_label_data()
    cv = MultilabelStratifiedKFold(3, shuffle=True, random_state=0)
    with pytest.warns(StratificationWarning, match=r"fewer than 3 positive") as rec:
        splits = list(cv.split(X, Y))
    assert len(rec) == 1
    message = str(rec[0].message)
    assert "1 of 3 labels" in message
    assert "1 (2)" in message  # label 1, with 2 positives
    assert "n_splits=3" in message
    # the split still happens, and the rare label's positives are kept apart
    assert len(splits) == 3
    assert sorted(Y[test, 1].sum() for _, test in splits) == [0, 1, 1]


def test_warning_names_dataframe_columns():
    X, Y = rare_label_data()
    Y = pd.DataFrame(Y, columns=["common", "rare", "absent"])
    with pytest.warns(StratificationWarning, match=r"'rare' \(2\)"):
        MultilabelStratifiedKFold(3, shuffle=True, random_state=0).split(X, Y)


def test_no_warning_when_every_label_can_be_stratified(data, no_stratification_warning):
    X, Y = data
    list(MultilabelStratifiedKFold(5, shuffle=True, random_state=0).split(X, Y))
    list(MultilabelStratifiedShuffleSplit(3, random_state=0).split(X, Y))


def test_repeated_kfold_warns_once():
    X, Y = rare_label_data()
    cv = RepeatedMultilabelStratifiedKFold(n_splits=3, n_repeats=4, random_state=0)
    with pytest.warns(StratificationWarning, match="fewer than 3 positive") as rec:
        assert len(list(cv.split(X, Y))) == 12
    assert len(rec) == 1


def test_shuffle_split_warns_when_test_set_too_small_for_a_label():
    X, Y = rare_label_data()  # label 1 has 2 positives
    cv = MultilabelStratifiedShuffleSplit(2, test_size=0.25, random_state=0)
    with pytest.warns(StratificationWarning, match="fewer than 4 positive"):
        list(cv.split(X, Y))
    with warnings.catch_warnings():
        warnings.simplefilter("error", StratificationWarning)
        cv = MultilabelStratifiedShuffleSplit(2, test_size=0.5, random_state=0)
        list(cv.split(X, Y))


def test_warning_is_a_user_warning():
    assert issubclass(StratificationWarning, UserWarning)


@pytest.mark.parametrize(
    "y, match",
    [
        pytest.param(None, "y=None", id="none"),
        pytest.param(np.full((6, 2), 2), r"contains the value\(s\) 2", id="two"),
        pytest.param(
            np.array([[0, 1], [1, -1], [0, 0.5]] * 2),
            r"value\(s\) -1, 0.5. Binarize",
            id="non-binary",
        ),
        pytest.param(np.array([[0.0, np.nan]] * 6), "NaN", id="nan"),
        pytest.param(np.linspace(0, 1, 6), "'continuous'", id="continuous-1d"),
        pytest.param(np.zeros((6, 2, 2)), r"2-D .* shape \(6, 2, 2\)", id="3d"),
        pytest.param(np.zeros((6, 0)), "no columns", id="no-columns"),
        pytest.param(
            np.array([[0], [1], [2]] * 2), r"pass y.ravel\(\)", id="class-column"
        ),
        pytest.param(
            [[0, 2], [1], [0], [1, 2], [2], [0]], "MultiLabelBinarizer", id="ragged"
        ),
        pytest.param(np.array([["a", "b"]] * 6), "include non-numbers", id="strings"),
    ],
)
def test_bad_y_raises_a_clear_error(y, match):
    X = np.zeros((6, 1))
    for cv in [
        MultilabelStratifiedKFold(2, shuffle=True, random_state=0),
        MultilabelStratifiedShuffleSplit(2, test_size=0.5, random_state=0),
        RepeatedMultilabelStratifiedKFold(n_splits=2, n_repeats=2, random_state=0),
    ]:
        with pytest.raises(ValueError, match=match):
            cv.split(X, y)  # raises on the call, before iteration


def test_inconsistent_lengths_raise(data):
    X, Y = data
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        MultilabelStratifiedKFold(3, shuffle=True, random_state=0).split(X[:-1], Y)


# --------------------------------------------------------------------------
# MultilabelStratifiedShuffleSplit


def test_shuffle_split_default_test_size_is_a_tenth(data):
    X, Y = data
    cv = MultilabelStratifiedShuffleSplit(random_state=0)
    assert cv.get_n_splits() == 10
    splits = list(cv.split(X, Y))
    assert len(splits) == 10
    for train, test in splits:
        assert abs(test.size - 20) <= 2
        assert train.size + test.size == N_SAMPLES
        assert np.intersect1d(train, test).size == 0
    assert len(set(as_tuples(splits))) == 10  # each iteration reshuffles


def test_iterstrat_default_test_size_raises(data):
    X, Y = data
    cv = ml_stratifiers.MultilabelStratifiedShuffleSplit(2, random_state=0)
    with pytest.raises(ValueError, match="test_size"):
        list(cv.split(X, Y))


@pytest.mark.parametrize(
    "sizes, n_train, n_test",
    [
        pytest.param({"test_size": 0.3}, 140, 60, id="test-fraction"),
        pytest.param({"test_size": 50}, 150, 50, id="test-count"),
        pytest.param({"train_size": 0.6}, 120, 80, id="train-only"),
        pytest.param({"train_size": 0.5, "test_size": 0.2}, 100, 40, id="both"),
        pytest.param({"train_size": 60, "test_size": 40}, 60, 40, id="both-counts"),
    ],
)
def test_shuffle_split_honours_train_and_test_size(data, sizes, n_train, n_test):
    X, Y = data
    cv = MultilabelStratifiedShuffleSplit(3, random_state=0, **sizes)
    for train, test in cv.split(X, Y):
        assert abs(train.size - n_train) <= 2
        assert abs(test.size - n_test) <= 2
        assert np.intersect1d(train, test).size == 0
        for part in (train, test):
            assert np.abs(Y[part].mean(axis=0) - Y.mean(axis=0)).max() < 0.05


def test_shuffle_split_stratifies_better_than_shuffle_split(data):
    X, Y = data
    ours = np.mean(
        [
            max_deviation(
                Y,
                MultilabelStratifiedShuffleSplit(
                    1, test_size=0.2, random_state=s
                ).split(X, Y),
            )
            for s in range(10)
        ]
    )
    plain = np.mean(
        [
            max_deviation(Y, ShuffleSplit(1, test_size=0.2, random_state=s).split(X, Y))
            for s in range(10)
        ]
    )
    assert ours < 0.05
    assert ours < plain / 2


def test_shuffle_split_is_deterministic(data):
    X, Y = data
    cv = MultilabelStratifiedShuffleSplit(3, test_size=0.2, random_state=0)
    first = as_tuples(cv.split(X, Y))
    assert as_tuples(cv.split(X, Y)) == first
    cv = MultilabelStratifiedShuffleSplit(3, test_size=0.2, random_state=1)
    assert as_tuples(cv.split(X, Y)) != first


@pytest.mark.parametrize(
    "sizes, match",
    [
        pytest.param({"test_size": 1.5}, "test_size=1.5", id="test-above-1"),
        pytest.param({"test_size": 500}, "test_size=500", id="test-too-many"),
        pytest.param({"train_size": 0.8, "test_size": 0.3}, "sum", id="sum"),
    ],
)
def test_shuffle_split_bad_sizes_raise(data, sizes, match):
    X, Y = data
    with pytest.raises(ValueError, match=match):
        MultilabelStratifiedShuffleSplit(2, **sizes).split(X, Y)


def test_shuffle_split_repr():
    assert repr(MultilabelStratifiedShuffleSplit(3, test_size=0.2)) == (
        "MultilabelStratifiedShuffleSplit(n_splits=3, random_state=None, "
        "test_size=0.2,\n                 train_size=None)"
    )


# --------------------------------------------------------------------------
# RepeatedMultilabelStratifiedKFold


def test_repeated_kfold(data):
    X, Y = data
    cv = RepeatedMultilabelStratifiedKFold(n_splits=4, n_repeats=3, random_state=0)
    assert cv.get_n_splits() == 12
    splits = list(cv.split(sp.csr_matrix(X), sp.csr_matrix(Y)))
    assert len(splits) == 12
    repeats = [splits[i : i + 4] for i in range(0, 12, 4)]
    for repeat in repeats:
        tests = np.sort(np.concatenate([test for _, test in repeat]))
        np.testing.assert_array_equal(tests, np.arange(N_SAMPLES))
        assert max_deviation(Y, repeat) < 0.1
    assert as_tuples(repeats[0]) != as_tuples(repeats[1])
    assert as_tuples(cv.split(X, Y)) == as_tuples(splits)


def test_repeated_kfold_repr():
    cv = RepeatedMultilabelStratifiedKFold(n_splits=3, n_repeats=2, random_state=0)
    assert repr(cv) == (
        "RepeatedMultilabelStratifiedKFold(n_repeats=2, n_splits=3, random_state=0)"
    )


# --------------------------------------------------------------------------
# Use as cv= in scikit-learn


def test_cross_validate_with_knn(data):
    X, Y = data
    cv = MultilabelStratifiedKFold(3, shuffle=True, random_state=0)
    result = cross_validate(
        KNeighborsClassifier(n_neighbors=5),
        X,
        Y,
        cv=cv,
        scoring="f1_micro",
        return_indices=True,
    )
    assert result["test_score"].shape == (3,)
    assert np.all((result["test_score"] > 0.3) & (result["test_score"] <= 1))
    expected = [test for _, test in cv.split(X, Y)]
    for got, want in zip(result["indices"]["test"], expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_grid_search_with_multioutput_logistic_regression(data):
    X, Y = data
    search = GridSearchCV(
        MultiOutputClassifier(LogisticRegression(max_iter=200)),
        {"estimator__C": [0.1, 1.0]},
        cv=MultilabelStratifiedShuffleSplit(2, test_size=0.25, random_state=0),
        scoring="f1_micro",
    )
    search.fit(pd.DataFrame(X), pd.DataFrame(Y))
    assert search.n_splits_ == 2
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.predict(X).shape == Y.shape


# --------------------------------------------------------------------------
# multilabel_train_test_split


def test_train_test_split_numpy(data):
    X, Y = data
    X_tr, X_te, Y_tr, Y_te = multilabel_train_test_split(
        X, Y, test_size=0.3, random_state=0, stratify=Y
    )
    assert abs(len(X_te) - 60) <= 2
    assert len(X_tr) + len(X_te) == N_SAMPLES
    assert len(X_tr) == len(Y_tr) and len(X_te) == len(Y_te)
    assert np.abs(Y_te.mean(axis=0) - Y.mean(axis=0)).max() < 0.05
    # rows stay aligned: each (x, y) pair of the output is a pair of the input
    pairs = {(x.tobytes(), y.tobytes()) for x, y in zip(X, Y, strict=True)}
    for x, y in zip(np.vstack([X_tr, X_te]), np.vstack([Y_tr, Y_te]), strict=True):
        assert (x.tobytes(), y.tobytes()) in pairs


def test_train_test_split_default_test_size_is_a_quarter(data):
    X, Y = data
    _, X_te = multilabel_train_test_split(X, stratify=Y, random_state=0)
    assert abs(len(X_te) - 50) <= 2


def test_train_test_split_train_size_drops_the_rest(data):
    X, Y = data
    X_tr, X_te = multilabel_train_test_split(
        X, train_size=0.5, test_size=0.2, stratify=Y, random_state=0
    )
    assert abs(len(X_tr) - 100) <= 2
    assert abs(len(X_te) - 40) <= 2


def test_train_test_split_sparse_dataframe_and_list(data):
    X, Y = data
    X_sparse = sp.csr_matrix(X)
    X_df = pd.DataFrame(X, index=np.arange(N_SAMPLES) + 1000)
    names = [f"row{i}" for i in range(N_SAMPLES)]
    parts = multilabel_train_test_split(
        X, X_sparse, X_df, names, test_size=0.2, random_state=0, stratify=Y
    )
    X_tr, X_te, Xs_tr, Xs_te, Xdf_tr, Xdf_te, names_tr, names_te = parts
    assert sp.issparse(Xs_tr) and sp.issparse(Xs_te)
    np.testing.assert_array_equal(Xs_tr.toarray(), X_tr)
    np.testing.assert_array_equal(Xs_te.toarray(), X_te)
    assert isinstance(Xdf_te, pd.DataFrame)
    np.testing.assert_array_equal(Xdf_te.to_numpy(), X_te)
    test_rows = Xdf_te.index.to_numpy() - 1000
    assert isinstance(names_te, list)
    assert names_te == [f"row{i}" for i in test_rows]


def test_train_test_split_sparse_stratify_and_determinism(data):
    X, Y = data
    a = multilabel_train_test_split(X, stratify=sp.csr_matrix(Y), random_state=3)
    b = multilabel_train_test_split(X, stratify=Y, random_state=3)
    c = multilabel_train_test_split(X, stratify=Y, random_state=4)
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(b[1], c[1])


def test_train_test_split_requires_stratify(data):
    X, Y = data
    with pytest.raises(ValueError, match="needs stratify=Y.*train_test_split"):
        multilabel_train_test_split(X, Y, test_size=0.2)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        pytest.param({"test_size": 1.5}, InvalidParameterError, "test_size", id="ts"),
        pytest.param({"train_size": -1}, InvalidParameterError, "train_size", id="tr"),
        pytest.param({"random_state": "x"}, InvalidParameterError, "random_state"),
    ],
)
def test_train_test_split_bad_parameters(data, kwargs, error, match):
    X, Y = data
    with pytest.raises(error, match=match):
        multilabel_train_test_split(X, stratify=Y, **kwargs)


def test_train_test_split_input_errors(data):
    X, Y = data
    with pytest.raises(ValueError, match="At least one array"):
        multilabel_train_test_split(stratify=Y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        multilabel_train_test_split(X[:-5], stratify=Y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        multilabel_train_test_split(X, Y[:-5], stratify=Y)
    with pytest.raises(ValueError, match=r"stratify must be a 0/1 label indicator"):
        multilabel_train_test_split(X, stratify=Y * 2)


# --------------------------------------------------------------------------
# MultilabelStratifiedValidSplit (skorch train_split)


class LinearModule(torch.nn.Module):
    def __init__(self, n_in=N_FEATURES, n_out=N_LABELS):
        super().__init__()
        self.linear = torch.nn.Linear(n_in, n_out)

    def forward(self, X):
        return self.linear(X)


def make_net(train_split, **kwargs):
    return NeuralNet(
        LinearModule,
        criterion=torch.nn.BCEWithLogitsLoss,
        max_epochs=2,
        batch_size=64,
        lr=0.1,
        train_split=train_split,
        verbose=0,
        **kwargs,
    )


def valid_size_from_history(net):
    return sum(b.get("valid_batch_size", 0) for b in net.history[-1]["batches"])


@pytest.mark.parametrize("cv, n_valid", [(0.2, 40), (0.35, 70), (4, 50), (5, 40)])
def test_valid_split_sizes_and_proportions(data, cv, n_valid):
    X, Y = data
    split = MultilabelStratifiedValidSplit(cv, random_state=0)
    ds_train, ds_valid = split(Dataset(X, Y), Y)
    assert isinstance(ds_valid, torch.utils.data.Subset)
    assert abs(len(ds_valid) - n_valid) <= 2
    assert len(ds_train) + len(ds_valid) == N_SAMPLES
    assert np.intersect1d(ds_train.indices, ds_valid.indices).size == 0
    valid_rate = Y[ds_valid.indices].mean(axis=0)
    assert np.abs(valid_rate - Y.mean(axis=0)).max() < 0.05
    # the subsets index the dataset itself
    Xi, yi = ds_valid[0]
    np.testing.assert_array_equal(Xi, X[ds_valid.indices[0]])


def test_valid_split_same_seed_same_split(data):
    X, Y = data
    ds = Dataset(X, Y)
    splits = [
        MultilabelStratifiedValidSplit(0.2, random_state=seed)(ds, Y)[1].indices
        for seed in (0, 0, 1)
    ]
    np.testing.assert_array_equal(splits[0], splits[1])
    assert not np.array_equal(splits[0], splits[2])


@pytest.mark.parametrize(
    "convert",
    [
        pytest.param(torch.from_numpy, id="tensor"),
        pytest.param(lambda Y: torch.from_numpy(Y.astype(np.float32)), id="float"),
        pytest.param(sp.csr_matrix, id="sparse"),
        pytest.param(pd.DataFrame, id="dataframe"),
    ],
)
def test_valid_split_target_types(data, convert):
    X, Y = data
    ds = Dataset(X, Y)
    split = MultilabelStratifiedValidSplit(0.2, random_state=0)
    expected = split(ds, Y)[1].indices
    np.testing.assert_array_equal(split(ds, convert(Y))[1].indices, expected)


def test_valid_split_takes_y_from_the_dataset(data):
    X, Y = data
    split = MultilabelStratifiedValidSplit(0.2, random_state=0)
    expected = split(Dataset(X, Y), Y)[1].indices
    np.testing.assert_array_equal(split(Dataset(X, Y))[1].indices, expected)


def test_valid_split_one_dimensional_y():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    X = np.zeros((100, 3), dtype=np.float32)
    split = MultilabelStratifiedValidSplit(0.2, random_state=0)
    _, ds_valid = split(Dataset(X, y), y)
    assert np.bincount(y[ds_valid.indices]).tolist() == [10, 6, 4]


def test_valid_split_warns_when_a_label_is_too_rare():
    X, Y = rare_label_data()  # label 1 has 2 positives
    split = MultilabelStratifiedValidSplit(0.1, random_state=0)
    with pytest.warns(StratificationWarning, match="fewer than 10 positive"):
        ds_train, ds_valid = split(Dataset(X, Y), Y)
    assert len(ds_valid) == 4


@pytest.mark.parametrize("cv", [0, 1, 1.0, 1.5, -0.2, True, "5", None])
def test_valid_split_bad_cv(data, cv):
    X, Y = data
    with pytest.raises(ValueError, match=f"cv must be .* got cv={cv!r}"):
        MultilabelStratifiedValidSplit(cv)(Dataset(X, Y), Y)


def test_valid_split_needs_y(data):
    X, _ = data
    with pytest.raises(ValueError, match="needs the targets.*ValidSplit"):
        MultilabelStratifiedValidSplit(0.2)(Dataset(X))


def test_valid_split_length_mismatch(data):
    X, Y = data
    with pytest.raises(ValueError, match="y has 199 samples but the dataset has 200"):
        MultilabelStratifiedValidSplit(0.2)(Dataset(X), Y[:-1])


def test_valid_split_repr():
    assert (
        repr(MultilabelStratifiedValidSplit(0.2, random_state=0))
        == "MultilabelStratifiedValidSplit(cv=0.2, random_state=0)"
    )


def test_valid_split_in_skorch_net(data):
    X, Y = data
    Yf = Y.astype(np.float32)
    split = MultilabelStratifiedValidSplit(0.2, random_state=0)
    net = make_net(split).fit(X, Yf)
    assert len(net.history) == 2
    assert np.isfinite(net.history[-1]["valid_loss"])
    _, ds_valid = split(Dataset(X, Yf), Yf)
    assert valid_size_from_history(net) == len(ds_valid)
    # the net saw the split the splitter makes: same seed, same indices
    _, net_valid = net.get_split_datasets(X, Yf)
    np.testing.assert_array_equal(net_valid.indices, ds_valid.indices)
    assert np.abs(Y[net_valid.indices].mean(axis=0) - Y.mean(axis=0)).max() < 0.05
    # sklearn's clone copies the splitter with its parameters
    assert repr(clone(net).train_split) == repr(split)


def test_valid_split_in_skorch_net_with_tensors_and_dataset(data):
    X, Y = data
    Yf = Y.astype(np.float32)
    split = MultilabelStratifiedValidSplit(4, random_state=0)
    net = make_net(split).fit(torch.from_numpy(X), torch.from_numpy(Yf))
    assert np.isfinite(net.history[-1]["valid_loss"])
    n_valid = valid_size_from_history(net)
    # fit on a Dataset: skorch calls train_split without y
    net = make_net(split).fit(Dataset(X, Yf), None)
    assert np.isfinite(net.history[-1]["valid_loss"])
    assert valid_size_from_history(net) == n_valid
