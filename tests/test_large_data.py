"""Training from data that stays on disk: numpy memmaps, streamed decoder fit."""

import warnings

import numpy as np
import pytest
import torch

from sknc import FixedETFClassifier, PALClassifier

from .conftest import FAST


def _memmap(path, array):
    mm = np.lib.format.open_memmap(
        path, mode="w+", dtype=array.dtype, shape=array.shape
    )
    mm[:] = array
    mm.flush()
    return np.load(path, mmap_mode="r")


@pytest.mark.parametrize("decoder", ["onn", "knn"])
@pytest.mark.parametrize("cls", [PALClassifier, FixedETFClassifier])
def test_memmap_fit_equals_in_memory_fit(tmp_path, multilabel_data, cls, decoder):
    X, Y = multilabel_data
    X_disk = _memmap(tmp_path / "X.npy", X)
    assert isinstance(X_disk, np.memmap)
    a = cls(**FAST, decoder=decoder).fit(X_disk, Y)
    b = cls(**FAST, decoder=decoder).fit(X, Y)
    np.testing.assert_array_equal(a.predict(X_disk), b.predict(X))
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_a_float32_memmap_is_not_copied_into_memory(tmp_path, multilabel_data):
    X, _ = multilabel_data
    X_disk = _memmap(tmp_path / "X.npy", X)
    clf = PALClassifier(**FAST)
    validated = clf._validate_X(X_disk, reset=True)
    assert np.shares_memory(validated, X_disk)


def test_streamed_onn_fit_equals_a_fit_on_all_outputs(multilabel_data):
    X, Y = multilabel_data
    clf = PALClassifier(**{**FAST, "batch_size": 16}, decoder="onn").fit(X, Y)
    logits, features = clf._outputs(clf.get_dataset(clf._validate_X(X, reset=False)))
    whole = clf._make_decoder().fit(logits, features, torch.as_tensor(Y))
    torch.testing.assert_close(clf.decoder_.prototypes_, whole.prototypes_)
    assert clf.decoder_.temperature_ == pytest.approx(whole.temperature_, rel=1e-4)


def test_dataloader_workers_over_a_memmap(tmp_path, multilabel_data):
    X, Y = multilabel_data
    X_disk = _memmap(tmp_path / "X.npy", X)
    params = {**FAST, "iterator_train__num_workers": 2}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no non-writable-array warning
        a = PALClassifier(**params).fit(X_disk, Y)
    b = PALClassifier(**params).fit(X, Y)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_training_from_a_memmap_streams_the_onn_fit(tmp_path, multilabel_data):
    X, Y = multilabel_data
    X_disk = _memmap(tmp_path / "X.npy", X)
    clf = FixedETFClassifier(**FAST, decoder="onn", device="cuda").fit(X_disk, Y)
    assert clf.decoder_.prototypes_.is_cuda
    logits, features = clf._outputs(clf.get_dataset(clf._validate_X(X, reset=False)))
    whole = clf._make_decoder().fit(logits, features, torch.as_tensor(Y).cuda())
    torch.testing.assert_close(clf.decoder_.prototypes_, whole.prototypes_)
    assert clf.predict(X_disk).shape == Y.shape
