"""Whole-batch slicing of in-memory arrays (``sknc._batching``)."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from skorch.dataset import Dataset

from sknc import PALClassifier
from sknc._inputs import ArrayBatches, array_batches
from sknc.model_selection import MultilabelStratifiedValidSplit

from .conftest import FAST

DataLoader = torch.utils.data.DataLoader


def _data(n=10, p=3, sparse=False):
    X = np.arange(n * p, dtype=np.float32).reshape(n, p)
    y = np.arange(n, dtype=np.float32)[:, None] * np.ones((1, 2), np.float32)
    return (sp.csr_matrix(X) if sparse else X), y


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("drop_last", [False, True])
def test_every_row_once_per_epoch(sparse, shuffle, drop_last):
    X, y = _data(sparse=sparse)
    batches = ArrayBatches(X, y, None, 4, shuffle=shuffle, drop_last=drop_last)
    got = list(batches)
    assert len(got) == len(batches) == (2 if drop_last else 3)
    sizes = [len(xb) for xb, _ in got]
    assert sizes == ([4, 4] if drop_last else [4, 4, 2])
    rows = torch.cat([yb[:, 0] for _, yb in got]).long().numpy()
    dense = X.toarray() if sparse else X
    for xb, yb in got:  # X and y rows stay paired
        assert isinstance(xb, torch.Tensor) and xb.dtype == torch.float32
        np.testing.assert_array_equal(xb.numpy(), dense[yb[:, 0].long().numpy()])
    if drop_last:
        assert len(set(rows)) == 8
    else:
        assert sorted(rows) == list(range(10))
    if not shuffle:
        np.testing.assert_array_equal(rows, np.arange(len(rows)))


def test_shuffle_follows_torch_global_generator():
    X, y = _data(n=50)
    batches = ArrayBatches(X, y, None, 8, shuffle=True)
    torch.manual_seed(3)
    first = [yb.clone() for _, yb in batches]
    second = [yb.clone() for _, yb in batches]  # a new epoch, a new order
    torch.manual_seed(3)
    again = [yb.clone() for _, yb in batches]
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, second, strict=True))


def test_subset_indices_and_missing_y():
    X, y = _data()
    subset = torch.utils.data.Subset(Dataset(X, None), [7, 2, 5])
    batches = array_batches(subset, DataLoader, {"batch_size": 2})
    got = list(batches)
    np.testing.assert_array_equal(torch.cat([x for x, _ in got]).numpy(), X[[7, 2, 5]])
    assert all(torch.equal(yb, torch.zeros(len(xb))) for xb, yb in got)


@pytest.mark.parametrize(
    "dataset, iterator, kwargs",
    [
        # an iterator argument the fast path does not implement
        (Dataset(*_data()), DataLoader, {"batch_size": 2, "num_workers": 1}),
        (Dataset(*_data()), DataLoader, {"batch_size": 2, "collate_fn": None}),
        # a user's iterator or dataset
        (Dataset(*_data()), object, {"batch_size": 2}),
        (
            torch.utils.data.TensorDataset(torch.zeros(4, 2)),
            DataLoader,
            {"batch_size": 2},
        ),
        # data that are not arrays: a dict of arrays, a list
        (Dataset({"a": np.zeros((4, 2))}, None), DataLoader, {"batch_size": 2}),
        (Dataset([[0.0, 1.0]] * 4, None), DataLoader, {"batch_size": 2}),
    ],
)
def test_falls_back_to_skorch(dataset, iterator, kwargs):
    assert array_batches(dataset, iterator, kwargs) is None


def test_falls_back_inside_a_process_group(tmp_path):
    """Distributed training shards DataLoaders only: keep skorch's."""
    dist = pytest.importorskip("torch.distributed")
    if not dist.is_available():
        pytest.skip("torch.distributed is not available")
    dataset = Dataset(*_data())
    assert array_batches(dataset, DataLoader, {"batch_size": 2}) is not None
    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1
    )
    try:
        assert array_batches(dataset, DataLoader, {"batch_size": 2}) is None
    finally:
        dist.destroy_process_group()


def test_estimator_uses_it_and_trains_as_the_dataloader_does(multilabel_data):
    X, Y = multilabel_data
    fast = PALClassifier(iterator_train__shuffle=False, **FAST)
    fast.fit(X, Y)
    dataset = fast.get_dataset(X.astype(np.float32), Y.astype(np.float32))
    assert isinstance(fast.get_iterator(dataset, training=True), ArrayBatches)
    # num_workers=0 is the DataLoader's own default, but keeps the DataLoader
    slow = PALClassifier(
        iterator_train__shuffle=False, iterator_train__num_workers=0, **FAST
    ).fit(X, Y)
    assert isinstance(slow.get_iterator(dataset, training=True), DataLoader)
    # without shuffling, both see the same batches: the same training
    np.testing.assert_allclose(
        fast.decision_function(X), slow.decision_function(X), rtol=1e-5, atol=1e-5
    )


def test_validation_split_is_sliced(multilabel_data):
    X, Y = multilabel_data
    clf = PALClassifier(train_split=MultilabelStratifiedValidSplit(0.25), **FAST)
    clf.fit(X, Y)
    assert np.isfinite(clf.history[:, "valid_loss"]).all()
    train, valid = clf.get_split_datasets(X.astype(np.float32), Y.astype(np.float32))
    batches = clf.get_iterator(valid)
    assert isinstance(batches, ArrayBatches)
    assert sum(len(xb) for xb, _ in batches) == len(valid)
