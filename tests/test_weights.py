"""sample_weight and class_weight."""

import numpy as np
import pytest
import sklearn
import torch
from sklearn.model_selection import GridSearchCV, cross_validate

from sknc import FixedETFClassifier, PALClassifier
from sknc.model_selection import MultilabelStratifiedKFold

from .conftest import FAST

# Full batches, no batch norm and no decay: the weighted average loss of a
# weighted fit is then the average loss of the duplicated (or removed) rows,
# up to float32 rounding (float64 makes it exact: tests/test_common.py).
EXACT = {
    **FAST,
    "batch_size": -1,
    "batch_norm": False,
    "weight_decay": 0.0,
    "feature_decay": 0.0,
    "max_epochs": 15,
}


def _params(clf):
    return torch.cat([p.detach().flatten() for p in clf.module_.parameters()])


@pytest.mark.parametrize("cls", [PALClassifier, FixedETFClassifier])
def test_unit_weights_give_bitwise_the_same_model(multilabel_data, cls):
    X, Y = multilabel_data
    plain = cls(**FAST).fit(X, Y)
    weighted = cls(**FAST).fit(X, Y, sample_weight=np.ones(len(X)))
    assert torch.equal(_params(plain), _params(weighted))
    np.testing.assert_array_equal(plain.predict_proba(X), weighted.predict_proba(X))


def test_integer_weights_act_as_duplicated_rows(multilabel_data):
    X, Y = multilabel_data
    weight = np.ones(len(X))
    weight[:40] = 3
    weighted = PALClassifier(**EXACT).fit(X, Y, sample_weight=weight)
    copies = np.repeat(np.arange(len(X)), weight.astype(int))
    duplicated = PALClassifier(**EXACT).fit(X[copies], Y[copies])
    plain = PALClassifier(**EXACT).fit(X, Y)
    a, b = weighted.decision_function(X), duplicated.decision_function(X)
    # float32 rounding of sums in another order: about 1e-6 here
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    assert np.abs(a - plain.decision_function(X)).max() > 100 * np.abs(a - b).max()


def test_zero_weights_act_as_removed_rows(multilabel_data):
    X, Y = multilabel_data
    weight = np.ones(len(X))
    weight[::3] = 0
    kept = weight > 0
    weighted = PALClassifier(**EXACT).fit(X, Y, sample_weight=weight)
    removed = PALClassifier(**EXACT).fit(X[kept], Y[kept])
    np.testing.assert_allclose(
        weighted.decision_function(X),
        removed.decision_function(X),
        rtol=1e-4,
        atol=1e-4,
    )
    # the decoder kept only the rows of positive weight
    assert len(weighted.decoder_.features_) == kept.sum()


@pytest.mark.parametrize(
    "weight, match",
    [
        (-np.ones(160), "negative"),
        (np.ones(5), r"give one weight per row, shape \(160,\)"),
        (np.full(160, np.nan), "NaN"),
        (np.zeros(160), "zero for every row"),
        (2.0, "one weight per row"),
    ],
    ids=["negative", "length", "nan", "all-zero", "scalar"],
)
def test_bad_sample_weight_raises(multilabel_data, weight, match):
    X, Y = multilabel_data
    with pytest.raises(ValueError, match=match):
        PALClassifier(**FAST).fit(X, Y, sample_weight=weight)


def test_partial_fit_and_multiclass_take_weights(multilabel_data):
    X, Y = multilabel_data
    weight = np.linspace(0.5, 2, len(X))
    clf = PALClassifier(**FAST).partial_fit(X, Y, sample_weight=weight)
    clf.partial_fit(X, Y, sample_weight=weight)
    assert clf.predict(X).shape == Y.shape
    y = Y.argmax(axis=1)
    multi = PALClassifier(**FAST, class_weight="balanced").fit(
        X, y, sample_weight=weight
    )
    assert set(multi.predict(X)) <= set(y)


def test_weights_with_a_validation_split(multilabel_data):
    from sknc.model_selection import MultilabelStratifiedValidSplit

    X, Y = multilabel_data
    weight = np.ones(len(X))
    weight[:20] = 0
    split = MultilabelStratifiedValidSplit(0.25, random_state=0)
    clf = PALClassifier(**FAST, train_split=split).fit(X, Y, sample_weight=weight)
    assert np.isfinite(clf.history[-1, "valid_loss"])
    assert clf.predict(X).shape == Y.shape


def test_class_weight_balanced_and_explicit(multilabel_data):
    X, Y = multilabel_data
    clf = PALClassifier(**FAST, class_weight="balanced").fit(X, Y)
    counts = Y.sum(axis=0)
    expected = counts.sum() / (len(counts) * counts)
    np.testing.assert_allclose(clf.class_weight_, expected)
    # average 1 over the positive occurrences
    assert (clf.class_weight_ * counts).sum() == pytest.approx(counts.sum())
    weights = np.arange(1, Y.shape[1] + 1, dtype=float)
    np.testing.assert_array_equal(
        PALClassifier(**FAST, class_weight=weights).fit(X, Y).class_weight_, weights
    )
    named = PALClassifier(**FAST, class_weight={2: 5.0}).fit(X, Y).class_weight_
    np.testing.assert_array_equal(named, [1, 1, 5, 1, 1])


def test_class_weight_raises_a_rare_label(multilabel_data):
    X, Y = multilabel_data
    rare = int(np.argmin(Y.sum(axis=0)))
    weights = np.ones(Y.shape[1])
    weights[rare] = 20.0
    plain = PALClassifier(**FAST, decoder="threshold").fit(X, Y)
    heavy = PALClassifier(**FAST, decoder="threshold", class_weight=weights).fit(X, Y)
    # the rare label's logit rises relative to the others
    margin = lambda clf: (  # noqa: E731
        clf.decision_function(X)[:, rare] - clf.decision_function(X).mean(axis=1)
    ).mean()
    assert margin(heavy) > margin(plain)


@pytest.mark.parametrize(
    "class_weight, match",
    [
        ({"nope": 2.0}, "not among the labels"),
        (np.ones(3), r"one weight per label: shape \(5,\)"),
        (np.array([1, 1, 0, 1, 1.0]), "positive and finite"),
        ("unbalanced", "class_weight"),
    ],
)
def test_bad_class_weight_raises(multilabel_data, class_weight, match):
    X, Y = multilabel_data
    with pytest.raises(ValueError, match=match):
        PALClassifier(**FAST, class_weight=class_weight).fit(X, Y)


class _Recorder(PALClassifier):
    seen = []

    def fit(self, X, y, sample_weight=None, **fit_params):
        type(self).seen.append(None if sample_weight is None else len(sample_weight))
        return super().fit(X, y, sample_weight=sample_weight, **fit_params)


def test_model_selection_passes_sample_weight(multilabel_data):
    X, Y = multilabel_data
    weight = np.ones(len(X))
    cv = MultilabelStratifiedKFold(n_splits=2, shuffle=True, random_state=0)
    _Recorder.seen = []
    cross_validate(_Recorder(**FAST), X, Y, cv=cv, params={"sample_weight": weight})
    assert _Recorder.seen == [80, 80]
    # scikit-learn's metadata routing: requested, the weights are routed
    with sklearn.config_context(enable_metadata_routing=True):
        _Recorder.seen = []
        estimator = _Recorder(**FAST).set_fit_request(sample_weight=True)
        estimator.set_score_request(sample_weight=False)
        GridSearchCV(estimator, {"lr": [1e-2]}, cv=cv).fit(X, Y, sample_weight=weight)
        assert _Recorder.seen == [80, 80, 160]
