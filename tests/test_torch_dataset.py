"""A torch Dataset as X: lazy inputs through skorch's DataLoader."""

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV, cross_validate
from skorch.helper import SliceDataset
from torch.utils.data import Dataset, IterableDataset, TensorDataset

from sknc import FixedETFClassifier, PALClassifier
from sknc.model_selection import (
    MultilabelStratifiedKFold,
    MultilabelStratifiedValidSplit,
)

from .conftest import FAST


class RowsOnDisk(Dataset):
    """Rows of a memmap read one at a time, as a lazy dataset would."""

    def __init__(self, path, as_tuple=True):
        self.path = path
        self.as_tuple = as_tuple
        self.reads = 0

    def __len__(self):
        return np.load(self.path, mmap_mode="r").shape[0]

    def __getitem__(self, i):
        self.reads += 1
        # float64 on purpose: the estimator casts inputs to float32
        x = np.array(np.load(self.path, mmap_mode="r")[i], dtype=np.float64)
        return (x, "ignored target") if self.as_tuple else x


@pytest.fixture
def on_disk(tmp_path, multilabel_data):
    X, Y = multilabel_data
    path = tmp_path / "X.npy"
    np.save(path, X)
    return path, X, Y


@pytest.mark.parametrize("label_proba", ["decoder", "blend"])
@pytest.mark.parametrize("cls", [PALClassifier, FixedETFClassifier])
def test_fit_on_a_dataset_equals_fit_on_its_array(on_disk, cls, label_proba):
    path, X, Y = on_disk
    # unshuffled: the DataLoader and the array batches then see the same rows
    params = {**FAST, "iterator_train__shuffle": False, "label_proba": label_proba}
    a = cls(**params).fit(RowsOnDisk(path), Y)
    b = cls(**params).fit(X, Y)
    np.testing.assert_allclose(
        a.decision_function(RowsOnDisk(path)), b.decision_function(X), atol=1e-5
    )
    np.testing.assert_allclose(
        a.predict_proba(RowsOnDisk(path)), b.predict_proba(X), atol=1e-5
    )
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    np.testing.assert_array_equal(
        a.predict(RowsOnDisk(path, as_tuple=False)), a.predict(X)
    )
    assert a.n_features_in_ == X.shape[1]
    assert a.transform(RowsOnDisk(path)).dtype == np.float32


def test_dataloader_workers_give_the_same_model(on_disk):
    path, X, Y = on_disk
    ref = PALClassifier(**FAST).fit(RowsOnDisk(path), Y)
    workers = PALClassifier(
        **FAST, iterator_train__num_workers=2, iterator_valid__num_workers=2
    ).fit(RowsOnDisk(path), Y)
    np.testing.assert_allclose(
        workers.decision_function(RowsOnDisk(path)),
        ref.decision_function(X),
        atol=1e-5,
    )


def test_the_dataset_is_read_lazily(on_disk):
    path, X, Y = on_disk
    data = RowsOnDisk(path)
    clf = PALClassifier(**{**FAST, "max_epochs": 2}).fit(data, Y)
    # a probe of the first item, the input scaler's rows (all of them, as
    # there are fewer than 20,000), 2 epochs, one pass for the decoder, the
    # rows of the per-label model of the inputs
    assert data.reads == 1 + len(X) + 3 * len(X) + len(X)
    data.reads = 0
    clf.predict(data)
    assert data.reads == 1 + len(X)


def test_stratified_validation_split_of_a_dataset(on_disk):
    path, X, Y = on_disk
    split = MultilabelStratifiedValidSplit(0.25, random_state=0)
    clf = PALClassifier(**FAST, train_split=split).fit(RowsOnDisk(path), Y)
    assert np.isfinite(clf.history[-1, "valid_loss"])
    assert clf.predict(X).shape == Y.shape


def test_multiclass_targets_with_a_dataset(multilabel_data):
    X, Y = multilabel_data
    y = Y.argmax(axis=1)
    clf = PALClassifier(**FAST).fit(TensorDataset(torch.as_tensor(X)), y)
    assert set(clf.predict(X)) <= set(y)


def test_a_dataset_without_y_is_refused(on_disk):
    path, _, _ = on_disk
    with pytest.raises(ValueError, match="pass its labels as y"):
        PALClassifier(**FAST).fit(RowsOnDisk(path), None)


def test_samples_that_are_not_flat_are_refused(multilabel_data):
    X, Y = multilabel_data
    images = TensorDataset(torch.as_tensor(X).reshape(-1, 3, 4))
    with pytest.raises(ValueError, match="Flatten them"):
        PALClassifier(**FAST).fit(images, Y)


def test_an_iterable_dataset_is_refused(multilabel_data):
    _, Y = multilabel_data

    class Stream(IterableDataset):
        def __iter__(self):
            yield from ()

    with pytest.raises(ValueError, match="map-style dataset"):
        PALClassifier(**FAST).fit(Stream(), Y)


def test_predicting_a_dataset_with_other_features_is_refused(on_disk):
    path, X, Y = on_disk
    clf = PALClassifier(**FAST).fit(X, Y)
    narrow = TensorDataset(torch.as_tensor(X[:, :5]))
    with pytest.raises(ValueError, match="X has 5 features"):
        clf.predict(narrow)


def test_grid_search_over_a_slice_dataset_equals_the_array(on_disk):
    path, X, Y = on_disk
    data = RowsOnDisk(path)
    params = {**FAST, "iterator_train__shuffle": False}
    cv = MultilabelStratifiedKFold(n_splits=2, shuffle=True, random_state=0)
    grid = {"feature_dim": [4, 8]}
    lazy = GridSearchCV(PALClassifier(**params), grid, cv=cv, error_score="raise")
    lazy.fit(SliceDataset(data), Y)
    eager = GridSearchCV(PALClassifier(**params), grid, cv=cv).fit(X, Y)
    np.testing.assert_allclose(
        lazy.cv_results_["mean_test_score"], eager.cv_results_["mean_test_score"]
    )
    np.testing.assert_array_equal(lazy.predict(SliceDataset(data)), eager.predict(X))
    # the folds read their rows through the dataset, not a materialized copy
    assert data.reads > 2 * len(X)


def test_a_plain_dataset_in_model_selection_points_to_slice_dataset(on_disk):
    path, _, Y = on_disk
    with pytest.raises(ValueError, match="skorch.helper.SliceDataset"):
        cross_validate(
            PALClassifier(**FAST), RowsOnDisk(path), Y, cv=2, error_score="raise"
        )


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("decoder", ["knn", "onn", "threshold", "topk"])
def test_cuda_training_from_a_dataset(on_disk, decoder):
    path, X, Y = on_disk
    params = {**FAST, "decoder": decoder, "iterator_valid__pin_memory": True}
    clf = PALClassifier(**params, device="cuda").fit(RowsOnDisk(path), Y)
    assert next(clf.module_.parameters()).is_cuda
    pred = clf.predict(RowsOnDisk(path))
    np.testing.assert_array_equal(pred, clf.predict(X))
    cpu = PALClassifier(**params).fit(RowsOnDisk(path), Y)
    # same seed, same batches: the devices' float32 rounding differs slightly
    agree = (cpu.predict(X) == pred).all(axis=1).mean()
    assert agree > 0.9
