"""Metric-optimal predictions: the rules against brute force, and `objective`."""

import itertools
import warnings

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score

from sknc import FixedETFClassifier, PALClassifier
from sknc.decoders._distribution import SetDistribution, top_product_sets
from sknc.decoders._objectives import (
    OBJECTIVES,
    fit_thresholds,
    gfm,
    max_expected_jaccard,
)

FAST = {"max_epochs": 5, "hidden_layer_sizes": (32,), "random_state": 0}


# --------------------------------------------------------------------------
# The rules against brute force over all 2^K predictions
# --------------------------------------------------------------------------
def _all_sets(K):
    return torch.tensor(list(itertools.product([0, 1], repeat=K)), dtype=torch.bool)


def _random_distribution(K, n=30, m=6, seed=0, with_empty=True):
    g = torch.Generator().manual_seed(seed)
    sets = _all_sets(K)
    first = 0 if with_empty else 1  # row 0 of _all_sets is the empty set
    index = torch.stack(
        [first + torch.randperm(2**K - first, generator=g)[:m] for _ in range(n)]
    )
    proba = torch.rand(n, m, generator=g, dtype=torch.float64)
    proba, order = (proba / proba.sum(1, keepdim=True)).sort(1, descending=True)
    return SetDistribution(sets, index.gather(1, order), proba)


def _f1(h, y):
    a, b = int(h.sum()), int(y.sum())
    return 1.0 if a + b == 0 else 2 * int((h & y).sum()) / (a + b)


def _jaccard(h, y):
    union = int((h | y).sum())
    return 1.0 if union == 0 else int((h & y).sum()) / union


def _hamming_accuracy(h, y):
    return float((h == y).float().mean())


def _exact(h, y):
    return float(torch.equal(h, y))


def _expected(dist, i, h, utility):
    return sum(
        p * utility(h, dist.sets[j])
        for j, p in zip(dist.index[i].tolist(), dist.proba[i].tolist(), strict=True)
        if j >= 0
    )


def _best(dist, i, utility, allow_empty=True):
    candidates = [h for h in _all_sets(dist.sets.shape[1]) if allow_empty or h.any()]
    return max(_expected(dist, i, h, utility) for h in candidates)


@pytest.mark.parametrize("K", [3, 5, 6])
@pytest.mark.parametrize("allow_empty", [True, False])
def test_gfm_is_the_example_f1_optimum(K, allow_empty):
    dist = _random_distribution(K, seed=K)
    pred, expected = gfm(dist, allow_empty=allow_empty)
    for i in range(len(pred)):
        achieved = _expected(dist, i, pred[i], _f1)
        assert achieved == pytest.approx(_best(dist, i, _f1, allow_empty), abs=1e-12)
        assert expected[i].item() == pytest.approx(achieved, abs=1e-12)
        assert allow_empty or pred[i].any()


@pytest.mark.parametrize("K", [3, 5, 6])
@pytest.mark.parametrize("allow_empty", [True, False])
def test_max_expected_jaccard_is_the_optimum(K, allow_empty):
    dist = _random_distribution(K, seed=10 + K)
    pred = max_expected_jaccard(dist, dist.marginals(), allow_empty=allow_empty)
    for i in range(len(pred)):
        achieved = _expected(dist, i, pred[i], _jaccard)
        assert achieved == pytest.approx(
            _best(dist, i, _jaccard, allow_empty), abs=1e-12
        )


@pytest.mark.parametrize("K", [4, 6])
def test_mode_and_marginal_mode_are_the_subset_and_hamming_optima(K):
    dist = _random_distribution(K, seed=20 + K)
    mode = dist.mode()
    marginal_mode = dist.marginals() >= 0.5
    for i in range(len(mode)):
        assert _expected(dist, i, mode[i], _exact) == pytest.approx(
            _best(dist, i, _exact)
        )
        assert _expected(dist, i, marginal_mode[i], _hamming_accuracy) == (
            pytest.approx(_best(dist, i, _hamming_accuracy))
        )


def test_top_product_sets_are_the_most_probable_independent_sets():
    g = torch.Generator().manual_seed(0)
    marginals = torch.rand(8, 5, generator=g, dtype=torch.float64) * 0.98 + 0.01
    sets = _all_sets(5)
    every = torch.stack(
        [torch.where(s, marginals, 1 - marginals).prod(dim=1) for s in sets], dim=1
    )
    dist = top_product_sets(marginals, 8)
    torch.testing.assert_close(dist.proba, every.topk(8, dim=1).values)
    for i in range(8):
        listed = dist.sets[dist.index[i]]
        for s, p in zip(listed, dist.proba[i], strict=True):
            j = int(np.flatnonzero((sets == s).all(dim=1).numpy())[0])
            assert every[i, j] == pytest.approx(p.item())
    # all 32 sets: the marginals come back
    torch.testing.assert_close(top_product_sets(marginals, 32).marginals(), marginals)


@pytest.mark.slow
def test_fit_thresholds_maximise_micro_and_macro_f1():
    rng = np.random.RandomState(0)
    Y = rng.rand(200, 4) < 0.3
    scores = np.clip(Y * 0.3 + rng.rand(200, 4) * 0.7, 0.001, 0.999)
    marginals, targets = torch.as_tensor(scores), torch.as_tensor(Y)
    grid = np.unique(scores)

    def best(score_fn):
        return max(score_fn(t) for t in grid)

    micro = fit_thresholds(marginals, targets, "micro").numpy()
    assert np.all(micro == micro[0])
    achieved = f1_score(Y, scores >= micro, average="micro")
    assert achieved == pytest.approx(
        best(lambda t: f1_score(Y, scores >= t, average="micro"))
    )
    macro = fit_thresholds(marginals, targets, "macro").numpy()
    for k in range(4):
        achieved = f1_score(Y[:, k], scores[:, k] >= macro[k])
        assert achieved == pytest.approx(
            best(lambda t, k=k: f1_score(Y[:, k], scores[:, k] >= t))
        )


def test_a_label_without_positives_keeps_threshold_one_half():
    marginals = torch.rand(20, 2, dtype=torch.float64)
    Y = torch.zeros(20, 2, dtype=torch.bool)
    Y[:5, 0] = True
    assert fit_thresholds(marginals, Y, "macro")[1] == 0.5


# --------------------------------------------------------------------------
# The estimators' objective
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fitted(multilabel_data):
    X, Y = multilabel_data
    return PALClassifier(**FAST).fit(X, Y)


@pytest.mark.parametrize("decoder", ["knn", "onn", "threshold", "topk"])
def test_hamming_objective_is_predict_proba_at_one_half(multilabel_data, decoder):
    X, Y = multilabel_data
    clf = PALClassifier(**FAST, decoder=decoder, objective="hamming").fit(X, Y)
    np.testing.assert_array_equal(clf.predict(X), clf.predict_proba(X) >= 0.5)


@pytest.mark.parametrize("decoder", ["knn", "onn"])
def test_subset_accuracy_objective_is_the_set_decoders_own_rule(
    multilabel_data, decoder
):
    X, Y = multilabel_data
    clf = PALClassifier(**FAST, decoder=decoder).fit(X, Y)
    own = clf.predict(X)
    clf.set_params(objective="subset_accuracy")
    np.testing.assert_array_equal(clf.predict(X), own)


def test_every_objective_predicts_without_refitting(fitted, multilabel_data):
    X, Y = multilabel_data
    clf = fitted
    weights = torch.cat([p.detach().flatten() for p in clf.module_.parameters()])
    predictions = {}
    try:
        for objective in OBJECTIVES:
            clf.set_params(objective=objective)
            pred = clf.predict(X)
            assert pred.shape == Y.shape and pred.dtype == Y.dtype
            predictions[objective] = pred
    finally:
        clf.set_params(objective=None)
    after = torch.cat([p.detach().flatten() for p in clf.module_.parameters()])
    assert torch.equal(weights, after)
    # the thresholds were fitted on the training outputs to maximise F1 there
    proba = clf.predict_proba(X)
    micro = f1_score(Y, predictions["f1_micro"], average="micro")
    assert micro >= f1_score(Y, proba >= 0.5, average="micro") - 1e-9


def test_predict_set_proba_lists_the_decoder_distribution(fitted, multilabel_data):
    X, Y = multilabel_data
    result = fitted.predict_set_proba(X[:20], top=4)
    assert result.index.shape == (20, 4) and result.proba.shape == (20, 4)
    assert result.sets.shape[1] == Y.shape[1]
    assert np.all(np.diff(result.proba, axis=1) <= 1e-12)
    assert np.all(result.proba.sum(axis=1) <= 1 + 1e-9)
    # the most probable set is the default prediction (the knn local rule)
    np.testing.assert_array_equal(
        result.sets[result.index[:, 0]], fitted.predict(X[:20])
    )
    with pytest.raises(ValueError, match="positive integer"):
        fitted.predict_set_proba(X[:2], top=0)


def test_predict_log_proba(fitted, multilabel_data):
    X, _ = multilabel_data
    np.testing.assert_allclose(
        fitted.predict_log_proba(X[:10]), np.log(fitted.predict_proba(X[:10]))
    )


def test_fit_decoder_refits_only_the_decoder(multilabel_data):
    X, Y = multilabel_data
    clf = FixedETFClassifier(**FAST).fit(X, Y)
    state = {k: v.clone() for k, v in clf.module_.state_dict().items()}
    features = clf.transform(X)
    clf.set_params(decoder="onn")
    with pytest.raises(ValueError, match="fit_decoder"):
        clf.predict(X)
    assert clf.fit_decoder(X, Y) is clf
    assert type(clf.decoder_).__name__ == "ONNDecoder"
    for key, value in clf.module_.state_dict().items():
        assert torch.equal(value, state[key]), key
    np.testing.assert_array_equal(clf.transform(X), features)
    assert clf.predict(X).shape == Y.shape
    with pytest.raises(ValueError, match="0/1 label indicator with the"):
        clf.fit_decoder(X, Y[:, :-1])


def test_a_new_decoder_drops_stale_decoder_parameters(multilabel_data):
    X, Y = multilabel_data
    clf = PALClassifier(**FAST, decoder="threshold", decoder__threshold=0.3)
    clf.fit(X, Y)
    with pytest.warns(UserWarning, match="decoder__threshold does not apply"):
        clf.set_params(decoder="onn")
    assert "decoder__threshold" not in clf.get_params()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.fit_decoder(X, Y)
    assert clf.predict(X).shape == Y.shape


# --------------------------------------------------------------------------
# TunedDecoderCV
# --------------------------------------------------------------------------
class _CountingPAL(PALClassifier):
    networks = 0

    def initialize_module(self):
        type(self).networks += 1
        return super().initialize_module()


GRID = {"decoder": ["knn", "onn"], "objective": [None, "f1_samples", "hamming"]}


def test_tuned_decoder_cv_trains_one_network_per_fold_plus_the_refit(multilabel_data):
    from sknc.model_selection import MultilabelStratifiedKFold, TunedDecoderCV

    X, Y = multilabel_data
    _CountingPAL.networks = 0
    cv = MultilabelStratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    search = TunedDecoderCV(_CountingPAL(**FAST), GRID, scoring="f1_micro", cv=cv)
    search.fit(X, Y)
    assert _CountingPAL.networks == 3 + 1
    assert len(search.cv_results_["params"]) == 6
    assert search.best_params_ == search.cv_results_["params"][search.best_index_]
    assert search.cv_results_["rank_test_score"][search.best_index_] == 1
    best = search.best_estimator_
    assert {k: best.get_params()[k] for k in search.best_params_} == search.best_params_
    np.testing.assert_array_equal(search.predict(X), best.predict(X))


def test_tuned_decoder_cv_scores_equal_a_grid_search(multilabel_data):
    from sklearn.model_selection import GridSearchCV

    from sknc.model_selection import MultilabelStratifiedKFold, TunedDecoderCV

    X, Y = multilabel_data
    cv = MultilabelStratifiedKFold(n_splits=2, shuffle=True, random_state=0)
    grid = {"decoder": ["knn", "onn"], "objective": [None, "f1_micro"]}
    tuned = TunedDecoderCV(PALClassifier(**FAST), grid, scoring="f1_micro", cv=cv)
    search = GridSearchCV(PALClassifier(**FAST), grid, scoring="f1_micro", cv=cv)
    tuned.fit(X, Y)
    search.fit(X, Y)
    # the same deterministic network per fold: the same decoders and scores
    np.testing.assert_allclose(
        tuned.cv_results_["mean_test_score"], search.cv_results_["mean_test_score"]
    )
    assert tuned.best_params_ == search.best_params_


def test_tuned_decoder_cv_candidates_without_objective_keep_the_estimators(
    multilabel_data,
):
    # one decoder fit serves a decoder's objectives; a candidate that names no
    # objective must not inherit the one a previous candidate set
    from sknc.model_selection import MultilabelStratifiedKFold, TunedDecoderCV

    X, Y = multilabel_data
    cv = MultilabelStratifiedKFold(n_splits=2, shuffle=True, random_state=0)
    grid = [{"objective": ["hamming"]}, {}]
    estimator = PALClassifier(**FAST, objective="f1_samples")
    tuned = TunedDecoderCV(estimator, grid, scoring="f1_samples", cv=cv).fit(X, Y)
    alone = TunedDecoderCV(estimator, [{}], scoring="f1_samples", cv=cv)
    alone.fit(X, Y)
    assert tuned.cv_results_["mean_test_score"][1] == pytest.approx(
        alone.cv_results_["mean_test_score"][0]
    )


def test_tuned_decoder_cv_rejects_network_parameters(multilabel_data):
    from sknc.model_selection import TunedDecoderCV

    X, Y = multilabel_data
    search = TunedDecoderCV(PALClassifier(**FAST), {"lr": [0.1, 0.01]}, cv=2)
    with pytest.raises(ValueError, match="'lr' changes the network"):
        search.fit(X, Y)


def test_tuned_decoder_cv_clones_pickles_and_pipelines(multilabel_data):
    import pickle

    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sknc.model_selection import TunedDecoderCV

    X, Y = multilabel_data
    search = TunedDecoderCV(PALClassifier(**FAST), {"decoder": ["knn", "onn"]}, cv=2)
    assert clone(search).get_params()["param_grid"] == {"decoder": ["knn", "onn"]}
    pipe = make_pipeline(StandardScaler(), search).fit(X, Y)
    again = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(again.predict(X), pipe.predict(X))
    np.testing.assert_allclose(again.predict_proba(X), pipe.predict_proba(X))
