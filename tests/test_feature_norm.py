"""Normalized features: ``feature_norm`` on both estimators, ``NormalizedHead``."""

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV

from sknc import (
    FixedETFClassifier,
    LinearHead,
    NeuralCollapseScorer,
    NormalizedHead,
    PALClassifier,
)
from sknc.model_selection import MultilabelStratifiedKFold

from .conftest import FAST

ESTIMATORS = [PALClassifier, FixedETFClassifier]


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("feature_norm", [0.1, 0.5, "learned"])
def test_logits_are_cosines_over_the_temperature(cls, feature_norm, multilabel_data):
    X, Y = multilabel_data
    clf = cls(feature_norm=feature_norm, **FAST).fit(X, Y)
    H = clf.transform(X)
    np.testing.assert_allclose(np.linalg.norm(H, axis=1), 1, atol=1e-5)
    head = clf.module_.head
    assert isinstance(head, NormalizedHead)
    rows = head.head.weight.detach().numpy()
    rows = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    expected = H @ rows.T / head.temperature
    np.testing.assert_allclose(clf.decision_function(X), expected, rtol=1e-4, atol=1e-4)
    # every logit is a cosine over tau
    assert np.abs(clf.decision_function(X)).max() <= 1 / head.temperature + 1e-4
    if feature_norm == "learned":
        assert head.temperature != pytest.approx(NormalizedHead.INITIAL_TEMPERATURE)
    else:
        assert head.temperature == pytest.approx(feature_norm)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_no_unused_trainable_parameters(cls, multilabel_data):
    """The bias (learned head) and the ETF scale are replaced by the temperature."""
    X, Y = multilabel_data
    K = Y.shape[1]
    plain = cls(feature_norm=None, **FAST).fit(X, Y).n_trainable_params_
    fixed = cls(feature_norm=0.1, **FAST).fit(X, Y)
    learned = cls(feature_norm="learned", **FAST).fit(X, Y)
    dropped = K if cls is PALClassifier else 1  # bias, or the learned ETF scale
    assert fixed.n_trainable_params_ == plain - dropped
    assert learned.n_trainable_params_ == plain - dropped + 1
    # every trainable parameter gets a gradient
    net = learned.module_
    net.train()
    logits, _ = net(torch.as_tensor(X[:32], dtype=torch.float32))
    logits.logsumexp(1).sum().backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)


def test_fixed_temperature_head_keeps_its_temperature():
    head = NormalizedHead(LinearHead(4, 3), temperature=0.25)
    assert not any(p is head.log_scale for p in head.parameters())
    assert head.temperature == pytest.approx(0.25)
    # a buffer: saved in the state dict
    assert "log_scale" in head.state_dict()


@pytest.mark.parametrize("bad", [0, -0.1, "auto", True])
def test_bad_feature_norm(bad, multilabel_data):
    X, Y = multilabel_data
    with pytest.raises(ValueError, match="feature_norm"):
        PALClassifier(feature_norm=bad, **FAST).fit(X, Y)


def test_grid_search_and_scorer(multilabel_data):
    X, Y = multilabel_data
    search = GridSearchCV(
        PALClassifier(**FAST),
        {"feature_norm": [None, 0.1]},
        cv=MultilabelStratifiedKFold(n_splits=2, shuffle=True, random_state=0),
        scoring={"f1": "f1_micro", "nc1": NeuralCollapseScorer("nc1")},
        refit="f1",
    ).fit(X, Y)
    assert np.isfinite(search.cv_results_["mean_test_nc1"]).all()
    # NC3 reads the effective head W~ / tau
    nc3 = NeuralCollapseScorer("nc3")(search.best_estimator_, X, Y)
    assert np.isfinite(nc3)
