"""The per-label model of the inputs behind label_proba='linear' and 'wide'."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.metrics import label_ranking_average_precision_score

from sknc import FixedETFClassifier, PALClassifier
from sknc._input_head import PENALTIES, InputHead, fit_input_head
from sknc.decoders._decision import WIDE_LINEAR_WEIGHT

from .conftest import FAST

ESTIMATORS = (PALClassifier, FixedETFClassifier)


def _linear_labels(n, n_features, n_labels, noise, seed):
    """Rows whose label k is the sign of feature k (flipped with rate ``noise``)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    Y = (X[:, :n_labels] > 0).astype(int)
    flip = rng.random(Y.shape) < noise
    return torch.as_tensor(X), torch.as_tensor(np.where(flip, 1 - Y, Y))


def _fitted(X, Y, **kwargs):
    head = InputHead(X.shape[1], Y.shape[1]).double()
    return fit_input_head(head, X, Y, **kwargs)


def test_the_input_head_learns_each_labels_linear_evidence():
    X, Y = _linear_labels(400, 8, 3, noise=0.0, seed=0)
    head = _fitted(X, Y)
    with torch.no_grad():
        pred = head(X) > 0
    assert (pred == Y.bool()).float().mean() > 0.97
    assert float(head.penalty) in PENALTIES


def test_the_penalty_is_chosen_on_held_out_rows():
    # separable labels want little shrinkage; labels that are noise, the most
    X, Y = _linear_labels(400, 8, 3, noise=0.0, seed=0)
    assert float(_fitted(X, Y).penalty) <= 0.01
    rng = np.random.default_rng(1)
    noise = torch.as_tensor(rng.integers(0, 2, size=Y.shape))
    assert float(_fitted(X, noise).penalty) == max(PENALTIES)


def test_a_row_weight_counts_as_repeated_rows():
    X, Y = _linear_labels(120, 5, 2, noise=0.2, seed=2)
    weight = torch.ones(len(X), dtype=torch.float64)
    weight[::4] = 3.0
    repeats = weight.long()
    one = {"penalties": (0.1,)}  # no held-out choice: the same problem
    weighted = _fitted(X, Y, weight=weight, **one)
    repeated = _fitted(
        X.repeat_interleave(repeats, 0), Y.repeat_interleave(repeats, 0), **one
    )
    torch.testing.assert_close(weighted.weight, repeated.weight, rtol=0, atol=1e-5)
    torch.testing.assert_close(weighted.bias, repeated.bias, rtol=0, atol=1e-5)


def test_rows_of_zero_weight_are_left_out():
    X, Y = _linear_labels(200, 5, 2, noise=0.1, seed=3)
    garbage_X = torch.full((30, 5), 100.0, dtype=X.dtype)
    garbage_Y = torch.ones(30, 2, dtype=Y.dtype)
    weight = torch.cat([torch.ones(len(X)), torch.zeros(30)])
    with_garbage = _fitted(
        torch.cat([X, garbage_X]), torch.cat([Y, garbage_Y]), weight=weight
    )
    without = _fitted(X, Y)
    torch.testing.assert_close(with_garbage.weight, without.weight)
    torch.testing.assert_close(with_garbage.scaler.center, without.scaler.center)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("n_estimators", [1, 2])
def test_wide_is_the_weighted_mean_of_the_decoder_and_the_linear_model(
    multilabel_data, cls, n_estimators
):
    X, Y = multilabel_data
    clf = cls(**FAST, n_estimators=n_estimators, label_proba="wide").fit(X, Y)
    proba = {
        source: clf.set_params(label_proba=source).predict_proba(X)
        for source in ("decoder", "linear", "wide")
    }
    for p in proba.values():
        assert p.dtype == np.float64 and ((p > 0) & (p < 1)).all()
    a = WIDE_LINEAR_WEIGHT
    expected = (1 - a) * proba["decoder"] + a * proba["linear"]
    np.testing.assert_allclose(proba["wide"], expected, rtol=0, atol=1e-12)
    assert np.abs(proba["linear"] - proba["decoder"]).max() > 0.01
    # the head of the features is trained too: every source can be read
    clf.set_params(label_proba="calibrated").predict_proba(X)


def test_the_linear_model_ranks_labels_that_are_linear_in_the_inputs():
    X, Y = _linear_labels(300, 20, 4, noise=0.05, seed=4)
    X, Y = X.float().numpy(), Y.numpy()
    clf = PALClassifier(**FAST, label_proba="linear").fit(X[:200], Y[:200])
    proba = clf.predict_proba(X[200:])
    assert label_ranking_average_precision_score(Y[200:], proba) > 0.9


def test_a_network_without_the_input_model_refuses_its_sources(multilabel_data):
    X, Y = multilabel_data
    clf = PALClassifier(**FAST, label_proba="calibrated").fit(X, Y)
    assert clf.module_.input_head is None  # as in every model saved before
    clf.set_params(label_proba="wide")
    with pytest.raises(ValueError, match="model of the inputs.*fit again"):
        clf.predict_proba(X)
    with pytest.raises(ValueError, match="model of the inputs"):
        clf.set_params(objective="hamming").predict(X)


def test_a_model_saved_without_the_input_model_names_label_proba(
    multilabel_data, tmp_path
):
    # saving with it: test_label_proba's test_the_head_is_saved_with_the_network
    X, Y = multilabel_data
    files = {"f_params": tmp_path / "params.pt", "f_state": tmp_path / "state.pt"}
    PALClassifier(**FAST, label_proba="calibrated").fit(X, Y).save_params(**files)
    with pytest.raises(Exception, match="label_proba"):
        PALClassifier(**FAST, label_proba="wide").load_params(**files)


def test_sparse_rows_and_a_torch_dataset_give_the_same_probabilities(multilabel_data):
    X, Y = multilabel_data
    clf = PALClassifier(**FAST, label_proba="wide").fit(X, Y)
    expected = clf.predict_proba(X)
    np.testing.assert_allclose(clf.predict_proba(sp.csr_matrix(X)), expected, atol=1e-6)
    dataset = torch.utils.data.TensorDataset(torch.as_tensor(X))
    np.testing.assert_allclose(clf.predict_proba(dataset), expected, atol=1e-6)


def test_multi_class_mode_has_no_input_model(multilabel_data):
    X, Y = multilabel_data
    clf = PALClassifier(**FAST, label_proba="wide").fit(X, Y.argmax(axis=1))
    assert clf.module_.input_head is None
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0)


def test_partial_fit_refits_the_input_model_on_its_rows(multilabel_data):
    X, Y = multilabel_data
    clf = PALClassifier(**FAST, label_proba="linear").fit(X, Y)
    before = clf.predict_proba(X)
    clf.partial_fit(X[:80], Y[:80])
    refit = PALClassifier(**FAST, label_proba="linear").fit(X[:80], Y[:80])
    # the linear model depends on the rows only, not on the network
    np.testing.assert_allclose(clf.predict_proba(X), refit.predict_proba(X), atol=1e-6)
    assert np.abs(clf.predict_proba(X) - before).max() > 1e-3
