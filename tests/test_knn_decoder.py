"""KNNDecoder: a vote of the nearest training samples in feature space."""

from itertools import combinations

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV

from sknc import KNNDecoder, ONNDecoder, PALClassifier, simplex_etf
from sknc.decoders import get_decoder
from sknc.model_selection import MultilabelStratifiedKFold

from .conftest import FAST


def _t(rows, dtype=torch.float32):
    return torch.tensor(rows, dtype=dtype)


def _line(sets, positions):
    """Training points on the x axis (2-D features), one label set each."""
    features = _t([[x, 1.0] for x in positions])
    return features, _t(sets, torch.uint8)


def test_clusters_are_decoded_exactly():
    rng = np.random.RandomState(0)
    centres = {(1, 0, 0): [5, 0, 0], (0, 1, 0): [0, 5, 0], (1, 0, 1): [3, 0, 3]}
    feats, labels = [], []
    for labelset, centre in centres.items():
        feats.append(np.asarray(centre) + 0.1 * rng.randn(20, 3))
        labels += [labelset] * 20
    features = torch.as_tensor(np.vstack(feats), dtype=torch.float32)
    Y = _t(labels, torch.uint8)
    for vote in ("local", "set", "label"):
        for metric in ("cosine", "euclidean"):
            dec = KNNDecoder(vote=vote, metric=metric).fit(None, features, Y)
            queries = _t(list(centres.values()))
            expected = _t(list(centres), torch.bool)
            assert torch.equal(dec.predict(None, queries), expected)


def test_set_vote_and_label_vote_differ():
    # 10 neighbours: {0} x4 (nearest), {1} x3, {0, 1} x3
    sets = [[1, 0]] * 4 + [[0, 1]] * 3 + [[1, 1]] * 3
    features, Y = _line(sets, range(10))
    query = _t([[0.0, 1.0]])
    by_set = KNNDecoder(metric="euclidean", vote="set").fit(None, features, Y)
    assert by_set.predict(None, query).tolist() == [[True, False]]
    # label 0 on 7 of 10, label 1 on 6 of 10: both reach half
    by_label = KNNDecoder(metric="euclidean", vote="label").fit(None, features, Y)
    assert by_label.predict(None, query).tolist() == [[True, True]]


def test_local_rule_lets_a_small_close_set_beat_a_large_one():
    # 2 samples of {0} at distances 1, 2; 8 samples of {1} at distances 3..10
    sets = [[1, 0]] * 2 + [[0, 1]] * 8
    features, Y = _line(sets, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    query = _t([[0.0, 1.0]])
    by_set = KNNDecoder(metric="euclidean", vote="set").fit(None, features, Y)
    assert by_set.predict(None, query).tolist() == [[False, True]]
    # local means over 4 samples, {0}'s missing two at the farthest (10):
    # {0}: (1 + 2 + 10 + 10) / 4 = 5.75; {1}: (3 + 4 + 5 + 6) / 4 = 4.5
    local = KNNDecoder(metric="euclidean").fit(None, features, Y)
    assert local.vote == "local" and local.n_local == 4
    assert local.predict(None, query).tolist() == [[False, True]]
    # over 2 samples: {0}: 1.5 against {1}: 3.5
    two = KNNDecoder(metric="euclidean", n_local=2).fit(None, features, Y)
    assert two.predict(None, query).tolist() == [[True, False]]
    # n_local=1 is the nearest neighbour's set
    one = KNNDecoder(n_neighbors=10, metric="euclidean", n_local=1)
    far = _t([[9.6, 1.0]])
    assert one.fit(None, features, Y).predict(None, far).tolist() == [[False, True]]


def test_local_rule_uses_distances_not_squared_distances():
    # {0} at 1 and 3, {1} at 2.1 and 2.1: means 2 < 2.1, but squared 5 > 4.41
    features, Y = _line([[1, 0], [0, 1], [0, 1], [1, 0]], [1.0, 2.1, -2.1, 3.0])
    dec = KNNDecoder(metric="euclidean", n_local=2).fit(None, features, Y)
    assert dec.predict(None, _t([[0.0, 1.0]])).tolist() == [[True, False]]


def test_local_rule_in_chunks_equals_one_block():
    rng = np.random.RandomState(1)
    features = torch.as_tensor(rng.randn(200, 4), dtype=torch.float32)
    Y = torch.as_tensor(rng.rand(200, 3) < 0.4)
    Y[:, 0] |= ~Y.any(dim=1)
    dec = KNNDecoder(n_neighbors=15).fit(None, features, Y)
    queries = torch.as_tensor(rng.randn(50, 4), dtype=torch.float32)
    distances, indices = dec._neighbours(queries)
    ids = dec.set_ids_[indices]
    whole = dec._set_scores(distances, ids)
    chunked = dec._set_scores(distances, ids, chunk=7)
    assert all(torch.equal(a, b) for a, b in zip(whole, chunked, strict=True))


@pytest.mark.parametrize("vote", ["local", "set"])
def test_tied_sets_go_to_the_nearest_neighbour(vote):
    features, Y = _line([[0, 1], [1, 0], [1, 0], [0, 1]], [0.0, 1.0, 2.0, 3.0])
    dec = KNNDecoder(n_neighbors=2, metric="euclidean", vote=vote, n_local=1)
    dec.fit(None, features, Y)
    # neighbours of 0.9: point 1 ({0}) then point 0 ({1}): one vote each
    assert dec.predict(None, _t([[0.9, 1.0]])).tolist() == [[True, False]]
    assert dec.predict(None, _t([[0.1, 1.0]])).tolist() == [[False, True]]


def test_label_vote_proba_is_the_smoothed_share_and_k_is_clipped():
    features, Y = _line([[1, 0], [1, 1], [0, 1]], [0.0, 1.0, 2.0])
    dec = KNNDecoder(n_neighbors=50, metric="euclidean", vote="label")
    dec.fit(None, features, Y)
    assert dec.n_neighbors_ == 3
    proba = dec.predict_proba(None, _t([[0.0, 1.0]]))
    # every point votes: label 0 on 2 of 3, label 1 on 2 of 3
    torch.testing.assert_close(proba, _t([[2.5 / 4, 2.5 / 4]]).double())
    assert ((proba > 0) & (proba < 1)).all()


@pytest.mark.parametrize("vote", ["local", "set"])
def test_set_votes_hold_a_distribution_whose_mode_is_predict(vote):
    rng = np.random.RandomState(0)
    features = torch.as_tensor(rng.randn(300, 5), dtype=torch.float32)
    Y = torch.as_tensor(rng.rand(300, 4) < 0.4)
    Y[:, 0] |= ~Y.any(dim=1)
    dec = KNNDecoder(n_neighbors=20, vote=vote).fit(None, features, Y)
    assert 0 < dec.temperature_ < float("inf")
    queries = torch.as_tensor(rng.randn(60, 5), dtype=torch.float32)
    dist = dec.predict_set_proba(None, queries)
    # probabilities of the distinct neighbour sets, most probable first
    assert torch.allclose(dist.proba.sum(dim=1), torch.ones(60, dtype=torch.float64))
    assert (dist.proba[:, :-1] >= dist.proba[:, 1:]).all()
    assert torch.equal(dist.mode(), dec.predict(None, queries))
    proba = dec.predict_proba(None, queries)
    # the marginals, smoothed as estimates from 20 votes
    torch.testing.assert_close(proba, (20 * dist.marginals() + 0.5) / 21)
    assert (proba >= 0.5 / 21).all() and (proba <= 20.5 / 21).all()
    assert torch.equal(proba >= 0.5, dist.marginals() >= 0.5)
    # the temperature changes probabilities, never predictions
    cold = KNNDecoder(n_neighbors=20, vote=vote, temperature=1e-3)
    cold.fit(None, features, Y)
    assert torch.equal(cold.predict(None, queries), dec.predict(None, queries))
    assert not torch.allclose(cold.predict_proba(None, queries), proba)


def test_training_proba_leaves_each_row_out():
    # two well separated clusters, each row's twin carries the other label set
    features = _t([[0.0, 0.0], [0.0, 0.01], [5.0, 5.0], [5.0, 5.01]])
    Y = torch.tensor([[1, 0], [0, 1], [1, 0], [0, 1]])
    dec = KNNDecoder(n_neighbors=1, metric="euclidean", temperature=1.0)
    dec.fit(None, features, Y)
    # as a query, each row is its own nearest neighbour ...
    assert torch.equal(dec.predict(None, features), Y.bool())
    # ... but left out, its twin's set is the only one near
    loo = dec.training_proba(None, features)
    assert torch.equal(loo > 0.5, ~Y.bool())


def test_max_samples_bounds_the_kept_rows_in_fit_and_fit_batches():
    rng = np.random.RandomState(0)
    features = torch.as_tensor(rng.randn(500, 3), dtype=torch.float32)
    Y = torch.as_tensor(rng.rand(500, 3) < 0.5)
    Y[:, 0] |= ~Y.any(dim=1)
    dec = KNNDecoder(max_samples=100).fit(None, features, Y)
    assert len(dec.features_) == 100 and len(dec.sample_index_) == 100
    assert torch.equal(dec.features_, features[dec.sample_index_])
    streamed = KNNDecoder(max_samples=100).fit_batches(
        (None, features[i : i + 64], Y[i : i + 64]) for i in range(0, 500, 64)
    )
    assert torch.equal(streamed.features_, dec.features_)
    whole = KNNDecoder(max_samples=None).fit(None, features, Y)
    assert len(whole.features_) == 500 and whole.sample_index_ is None


def test_empty_sets():
    features, Y = _line([[0, 0], [0, 0], [0, 0], [1, 0], [0, 1]], range(5))
    query = _t([[0.0, 1.0]])
    auto = KNNDecoder(n_neighbors=3, metric="euclidean").fit(None, features, Y)
    assert auto.allow_empty_ and auto.predict(None, query).tolist() == [[False, False]]
    never = KNNDecoder(n_neighbors=3, metric="euclidean", allow_empty=False)
    pred = never.fit(None, features, Y).predict(None, query)
    assert pred.sum() == 1


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_neighbors": 0}, "n_neighbors"),
        ({"n_neighbors": 2.5}, "n_neighbors"),
        ({"n_neighbors": True}, "n_neighbors"),
        ({"metric": "manhattan"}, "metric"),
        ({"vote": "majority"}, "vote"),
        ({"n_local": 0}, "n_local"),
        ({"n_local": 1.5}, "n_local"),
        ({"allow_empty": "yes"}, "allow_empty"),
        ({"candidates": "synthesized"}, "candidates"),
        ({"candidates": "both", "vote": "set"}, "vote='local'"),
        ({"max_multiplicity": 0}, "max_multiplicity"),
    ],
)
def test_bad_parameters(params, match):
    features, Y = _line([[1, 0], [0, 1]], [0.0, 1.0])
    with pytest.raises(ValueError, match=match):
        KNNDecoder(**params).fit(None, features, Y)


def test_bad_fit_data_and_unfitted():
    features, Y = _line([[1, 0], [0, 1]], [0.0, 1.0])
    with pytest.raises(ValueError, match="features"):
        KNNDecoder().fit(None, None, Y)
    with pytest.raises(ValueError, match="no positive label"):
        KNNDecoder().fit(None, features, torch.zeros_like(Y))
    with pytest.raises(ValueError, match="rows"):
        KNNDecoder().fit(None, features[:1], Y)
    with pytest.raises(RuntimeError, match="not fitted"):
        KNNDecoder().predict(None, features)


def test_estimator_decoder_name_and_grid_search(multilabel_data):
    X, Y = multilabel_data
    assert isinstance(get_decoder("knn"), KNNDecoder)
    clf = PALClassifier(decoder="knn", **FAST).fit(X, Y)
    assert isinstance(clf.decoder_, KNNDecoder)
    seen = {tuple(row) for row in Y}
    assert all(tuple(row) in seen for row in clf.predict(X))
    search = GridSearchCV(
        PALClassifier(decoder="knn", **FAST),
        {"decoder__n_neighbors": [1, 5]},
        cv=MultilabelStratifiedKFold(n_splits=2, shuffle=True, random_state=0),
        scoring="f1_micro",
    ).fit(X, Y)
    assert search.best_estimator_.decoder_.n_neighbors in (1, 5)
    # one neighbour on the training data itself: each row is its own nearest
    one = PALClassifier(decoder="knn", decoder__n_neighbors=1, **FAST).fit(X, Y)
    assert (one.predict(X) == Y).all(axis=1).mean() > 0.95


def test_switching_decoder_on_a_fitted_estimator(multilabel_data):
    X, Y = multilabel_data
    clf = PALClassifier(**FAST).fit(X, Y)
    assert isinstance(clf.decoder_, KNNDecoder)  # the default
    clf.set_params(decoder="onn")  # skorch would re-initialise and fail
    assert clf.decoder == "onn" and isinstance(clf.decoder_, KNNDecoder)
    clf.fit(X, Y)
    assert isinstance(clf.decoder_, ONNDecoder)


def test_unseen_sets_are_synthesised_and_scored_against_the_neighbours():
    # tight clusters at M-lab NC positions (an ETF and scaled pair averages),
    # with the pairs (0, 1) and (2, 3) never seen in training
    K, rho = 6, 1.3
    mu = torch.as_tensor(simplex_etf(K, K, random_state=0), dtype=torch.float32)
    held_out = [(0, 1), (2, 3)]
    sets = [(k,) for k in range(K)]
    sets += [p for p in combinations(range(K), 2) if p not in held_out]
    gen = torch.Generator().manual_seed(0)
    H, Y = [], []
    for s in sets:
        y = torch.zeros(K)
        y[list(s)] = 1
        proto = mu[list(s)].mean(0) * (rho if len(s) > 1 else 1.0)
        H.append(proto + 0.02 * torch.randn(8, K, generator=gen))
        Y.append(y.repeat(8, 1))
    H, Y = torch.cat(H), torch.cat(Y)
    queries = torch.stack([rho * mu[list(p)].mean(0) for p in held_out])
    queries = queries + 0.02 * torch.randn(queries.shape, generator=gen)
    for metric in ["euclidean", "cosine"]:
        observed = KNNDecoder(metric=metric).fit(None, H, Y)
        both = KNNDecoder(metric=metric, candidates="both").fit(None, H, Y)
        assert len(observed.synthetic_sets_) == 0
        assert sorted(map(tuple, both.synthetic_sets_.int().tolist())) == sorted(
            tuple(int(k in p) for k in range(K)) for p in held_out
        )
        assert both.tagwise_prototypes_.shape == (len(both.sets_) + 2, K)
        pred = both.predict(None, queries)
        assert [p.nonzero().flatten().tolist() for p in pred] == [[0, 1], [2, 3]]
        assert not (observed.predict(None, queries) == pred).all(1).any()
        # the training rows are still decoded as before
        assert torch.equal(both.predict(None, H), observed.predict(None, H))
        # the distribution and the probabilities include the synthesised sets
        dist = both.predict_set_proba(None, queries)
        assert torch.equal(dist.sets[dist.index[:, 0]], pred)
        proba = both.predict_proba(None, queries)
        assert (proba[0, :2] > 0.5).all() and (proba[1, 2:4] > 0.5).all()


def _tagwise_rows(sets, n_per_set, noise, seed):
    """Features of the exact tag-wise law: a set's rows sit at its labels' mean."""
    rng = np.random.default_rng(seed)
    K = len(sets[0])
    means = np.eye(K) * 4.0
    Y = np.repeat(np.asarray(sets, dtype=bool), n_per_set, axis=0)
    H = Y @ means / Y.sum(axis=1, keepdims=True)
    H = H + noise * rng.standard_normal(H.shape)
    return torch.as_tensor(H, dtype=torch.float32), torch.as_tensor(Y)


def test_open_set_decision_needs_held_out_rows_and_follows_them():
    singles = [[int(i == k) for i in range(5)] for k in range(5)]
    seen_pairs = [[1, 0, 1, 0, 0], [0, 1, 0, 1, 0], [0, 0, 1, 0, 1]]
    unseen = [[1, 1, 0, 0, 0]]
    H, Y = _tagwise_rows(singles + seen_pairs, 20, 0.3, 0)
    held = _tagwise_rows(singles + seen_pairs + unseen, 10, 0.3, 1)
    test_H, test_Y = _tagwise_rows(unseen + singles, 10, 0.3, 2)
    observed = KNNDecoder(n_neighbors=10).fit(None, H, Y)
    # no held-out rows: no evidence that synthesis pays, observed sets only
    blind = KNNDecoder(n_neighbors=10, candidates="auto").fit(None, H, Y)
    assert blind.synthesis_threshold_ == 0.0
    assert torch.equal(blind.predict(None, test_H), observed.predict(None, test_H))
    # held-out rows of the unseen pair: the threshold lets synthesis win
    auto = KNNDecoder(n_neighbors=10, candidates="auto").fit(
        None, H, Y, calibration=(None, *held)
    )
    assert auto.synthesis_threshold_ > 0
    pred = auto.predict(None, test_H)
    hits = (pred == test_Y.bool()).all(dim=1)
    assert hits[:10].float().mean() >= 0.8  # the unseen pair
    assert (
        hits[10:].float().mean()
        >= ((observed.predict(None, test_H) == test_Y.bool()).all(dim=1)[10:])
        .float()
        .mean()
        - 0.1
    )
    # held-out rows where synthesis never pays: back to observed sets
    plain = _tagwise_rows(singles + seen_pairs, 10, 0.3, 3)
    cautious = KNNDecoder(n_neighbors=10, candidates="auto").fit(
        None, H, Y, calibration=(None, *plain)
    )
    assert cautious.synthesis_threshold_ == 0.0


def test_labels_the_decoder_ties_are_ranked_by_the_logits(multilabel_data):
    # one neighbour: every label outside its set gets the same floor
    X, Y = multilabel_data
    clf = PALClassifier(
        decoder="knn", decoder__n_neighbors=1, label_proba="decoder", **FAST
    ).fit(X, Y)
    logits, features = clf._predict_outputs(X[:40])
    own = clf.decoder_.predict_proba(logits, features).double().numpy()
    proba = clf.predict_proba(X[:40])
    order = clf.decision_function(X[:40])
    assert np.abs(proba - own).max() <= 1e-6
    assert ((proba > 0) & (proba < 1)).all()
    tied = 0
    for p, d, z in zip(proba, own, order, strict=True):
        assert len(np.unique(p)) == len(p)  # no ties left
        floor = d == d.min()
        if floor.all():  # the neighbour has every label
            continue
        tied += floor.sum() > 1
        # the floor's labels keep the decoder's place, ordered by the logits
        assert p[floor].max() < p[~floor].min()
        assert (np.argsort(p[floor]) == np.argsort(z[floor])).all()
    assert tied > 30  # the case this test is about


def _open_set_folds(sets, n_folds=3):
    """Cross-fitted folds of the tag-wise law: each a decoder and held-out rows.

    Every fold's decoder is fitted on its own draw of the training sets (as
    a network trained without the fold would give), and its held-out rows
    carry ``sets``.
    """
    singles = [[int(i == k) for i in range(5)] for k in range(5)]
    seen_pairs = [[1, 0, 1, 0, 0], [0, 1, 0, 1, 0], [0, 0, 1, 0, 1]]
    folds = []
    for i in range(n_folds):
        H, Y = _tagwise_rows(singles + seen_pairs, 20, 0.3, 10 + i)
        decoder = KNNDecoder(n_neighbors=10, candidates="auto").fit(None, H, Y)
        held = _tagwise_rows(sets, 10, 0.3, 20 + i)
        folds.append((decoder, (None, *held)))
    return folds


def test_cross_fitted_folds_calibrate_auto_on_their_pooled_rows():
    singles = [[int(i == k) for i in range(5)] for k in range(5)]
    seen_pairs = [[1, 0, 1, 0, 0], [0, 1, 0, 1, 0], [0, 0, 1, 0, 1]]
    unseen = [[1, 1, 0, 0, 0]]
    H, Y = _tagwise_rows(singles + seen_pairs, 20, 0.3, 0)
    test_H, test_Y = _tagwise_rows(unseen + singles, 10, 0.3, 2)
    # no calibration rows: observed sets only, until the folds recalibrate it
    auto = KNNDecoder(n_neighbors=10, candidates="auto").fit(None, H, Y)
    assert auto.synthesis_threshold_ == 0.0
    folds = _open_set_folds(singles + seen_pairs + unseen)
    auto.recalibrate(folds)
    assert auto.synthesis_threshold_ > 0
    hits = (auto.predict(None, test_H) == test_Y.bool()).all(dim=1)
    assert hits[:10].float().mean() >= 0.8  # the unseen pair
    # the temperature is still the folds' mean
    temperatures = [decoder.temperature_ for decoder, _ in folds]
    assert auto.temperature_ == pytest.approx(np.mean(temperatures))
    # folds whose held-out rows never reward synthesis: back to observed sets
    auto.recalibrate(_open_set_folds(singles + seen_pairs))
    assert auto.synthesis_threshold_ == 0.0


def test_pooled_folds_choose_the_threshold_of_their_rows_as_one_calibration():
    # with one decoder for every fold, pooling is calibrating on all the rows
    singles = [[int(i == k) for i in range(5)] for k in range(5)]
    seen_pairs = [[1, 0, 1, 0, 0], [0, 1, 0, 1, 0], [0, 0, 1, 0, 1]]
    sets = singles + seen_pairs + [[1, 1, 0, 0, 0], [0, 0, 0, 1, 1]]
    H, Y = _tagwise_rows(singles + seen_pairs, 20, 0.3, 0)
    fold = KNNDecoder(n_neighbors=10, candidates="auto").fit(None, H, Y)
    parts = [_tagwise_rows(sets, 3, 0.6, seed) for seed in (5, 6, 7)]
    pooled = KNNDecoder(n_neighbors=10, candidates="auto").fit(None, H, Y)
    pooled.recalibrate([(fold, (None, *part)) for part in parts])
    features, Y_held = (torch.cat(t) for t in zip(*parts, strict=True))
    single = KNNDecoder(n_neighbors=10, candidates="auto").fit(
        None, H, Y, calibration=(None, features, Y_held)
    )
    assert pooled.synthesis_threshold_ == single.synthesis_threshold_ > 0
