"""n_estimators: networks trained side by side, combined before decoding."""

import numpy as np
import pytest
import torch

from sknc import EnsembleNet, FixedETFClassifier, NeuralCollapseScorer, PALClassifier

from .conftest import FAST


@pytest.fixture(scope="module")
def ensemble(multilabel_data):
    X, Y = multilabel_data
    return PALClassifier(**FAST, n_estimators=3).fit(X, Y)


def test_members_are_trained_apart_and_combined(ensemble, multilabel_data):
    X, Y = multilabel_data
    assert isinstance(ensemble.module_, EnsembleNet)
    members = ensemble.module_.members
    assert len(members) == 3
    first = [p.detach().flatten() for p in members[0].parameters()]
    second = [p.detach().flatten() for p in members[1].parameters()]
    assert not all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    # the ensemble's logits are the members' mean, its features side by side
    members.eval()
    with torch.no_grad():
        x = torch.as_tensor(X[:10])
        outputs = [m(x) for m in members]
    mean = torch.stack([z for z, _ in outputs]).mean(0)
    np.testing.assert_allclose(
        ensemble.decision_function(X[:10]), mean.double().numpy(), atol=1e-5
    )
    features = ensemble.transform(X[:10])
    assert features.shape == (10, 3 * 256) == (10, ensemble.feature_dim_)
    side_by_side = torch.cat([h for _, h in outputs], dim=1) / np.sqrt(3)
    np.testing.assert_allclose(features, side_by_side.numpy(), atol=1e-5)
    assert ensemble.predict(X).shape == Y.shape


def test_the_head_maps_combined_features_to_mean_logits(ensemble, multilabel_data):
    X, _ = multilabel_data
    W = ensemble.module_.head.weight.detach().numpy()
    logits = ensemble.transform(X[:10]) @ W.T
    # normalized features, no bias: the head is exactly the mean logits
    np.testing.assert_allclose(logits, ensemble.decision_function(X[:10]), atol=1e-4)
    score = NeuralCollapseScorer("nc2")(ensemble, X, None)
    assert np.isfinite(score)


@pytest.mark.parametrize("decoder", ["knn", "onn", "threshold", "topk"])
def test_every_decoder_decodes_an_ensemble(multilabel_data, decoder):
    X, Y = multilabel_data
    clf = FixedETFClassifier(**FAST, n_estimators=2, decoder=decoder).fit(X, Y)
    assert clf.predict(X).shape == Y.shape
    assert np.all((clf.predict_proba(X) > 0) & (clf.predict_proba(X) < 1))


def test_ensembles_with_weights_and_early_stopping(multilabel_data):
    X, Y = multilabel_data
    clf = PALClassifier(**FAST, n_estimators=2, early_stopping=True)
    clf.fit(X, Y, sample_weight=np.linspace(0, 1, len(X)))
    assert np.isfinite(clf.history[-1, "valid_loss"])
    assert clf.predict(X).shape == Y.shape


def test_a_multiclass_ensemble(multilabel_data):
    X, Y = multilabel_data
    y = Y.argmax(axis=1)
    clf = PALClassifier(**FAST, n_estimators=2).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0, atol=1e-6)
    assert set(clf.predict(X)) <= set(y)


def test_an_ensemble_saves_and_loads(tmp_path, ensemble, multilabel_data):
    X, _ = multilabel_data
    ensemble.save_params(f_params=tmp_path / "p.pt", f_state=tmp_path / "s.pt")
    fresh = PALClassifier(**FAST, n_estimators=3)
    fresh.initialize()
    fresh.load_params(f_params=tmp_path / "p.pt", f_state=tmp_path / "s.pt")
    np.testing.assert_array_equal(fresh.predict(X), ensemble.predict(X))
    np.testing.assert_allclose(fresh.predict_proba(X), ensemble.predict_proba(X))
