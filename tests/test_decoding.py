from itertools import combinations

import pytest
import torch

from sknc import ONNDecoder, ThresholdDecoder, TopKDecoder, simplex_etf
from sknc.decoders import get_decoder
from sknc.decoders._threshold import _micro_f1_threshold


def _collapsed_outputs():
    """Logits whose log-softmax sits at -log(m) on the m true labels."""
    Y = torch.tensor(
        [[1, 0, 0, 0], [0, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 0, 1]] * 20,
        dtype=torch.float32,
    )
    logits = 8.0 * Y - 4.0
    return logits, Y


def test_threshold_decoder_recovers_label_sets():
    logits, Y = _collapsed_outputs()
    dec = ThresholdDecoder().fit(logits, None, Y)
    assert dec.coef_ > 0
    pred = dec.predict(logits, None)
    assert pred.dtype == torch.bool
    assert torch.equal(pred, Y.bool())


def test_probabilities_are_strictly_inside_zero_one_and_ordered():
    logits, Y = _collapsed_outputs()
    dec = ThresholdDecoder().fit(logits, None, Y)
    proba = dec.predict_proba(logits * 100, None)
    assert ((proba > 0) & (proba < 1)).all()
    # positives get a higher probability than negatives
    assert proba[Y.bool()].min() > proba[~Y.bool()].max()


def test_every_prediction_has_a_label_unless_empty_sets_are_allowed():
    logits, Y = _collapsed_outputs()
    dec = ThresholdDecoder(threshold=0.999999).fit(logits, None, Y)
    flat = torch.zeros(3, 4)  # no label stands out
    flat[:, 2] = 0.1
    pred = dec.predict(flat, None)
    assert pred.sum(1).tolist() == [1, 1, 1]
    assert pred[:, 2].all()  # the best-scoring label
    dec_empty = ThresholdDecoder(threshold=0.999999, allow_empty=True).fit(
        logits, None, Y
    )
    assert not dec_empty.predict(flat, None).any()


@pytest.mark.parametrize("threshold", [0, 1, 1.5, -0.1, "high"])
def test_invalid_threshold_raises(threshold):
    logits, Y = _collapsed_outputs()
    with pytest.raises(
        ValueError,
        match=r"'threshold' parameter of ThresholdDecoder must be a float in the range",
    ):
        ThresholdDecoder(threshold=threshold).fit(logits, None, Y)


def test_get_decoder_by_name_and_instance():
    assert isinstance(get_decoder("threshold"), ThresholdDecoder)
    template = ThresholdDecoder(threshold=0.3)
    fresh = get_decoder(template)
    assert fresh is not template and fresh.threshold == 0.3
    with pytest.raises(ValueError, match="Unknown decoder 'onn2'"):
        get_decoder("onn2")
    with pytest.raises(TypeError, match="decoder must be a decoder name"):
        get_decoder(0.5)


# ---------------------------------------------------------------- ONN, top-k


def _collapsed_features(K=6, rho=1.3, held_out=(), noise=0.0, reps=5, seed=0):
    """Features at exact M-lab NC positions: an ETF and scaled tag-wise averages.

    Returns features, the 0/1 targets and the label sets used (singletons and
    every pair not in ``held_out``).
    """
    mu = torch.as_tensor(simplex_etf(K, K, random_state=seed), dtype=torch.float64)
    sets = [(k,) for k in range(K)] + [
        p for p in combinations(range(K), 2) if p not in held_out
    ]
    H, Y = [], []
    for s in sets:
        y = torch.zeros(K)
        y[list(s)] = 1
        proto = mu[list(s)].mean(0) * (rho if len(s) > 1 else 1.0)
        H.append(proto.repeat(reps, 1))
        Y.append(y.repeat(reps, 1))
    H = torch.cat(H)
    gen = torch.Generator().manual_seed(seed)
    H = H + noise * torch.randn(H.shape, generator=gen, dtype=H.dtype)
    return H.float(), torch.cat(Y), mu


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_onn_is_exact_on_perfectly_collapsed_features(metric):
    H, Y, _ = _collapsed_features()
    dec = ONNDecoder(metric=metric).fit(None, H, Y)
    assert len(dec.prototypes_) == len(torch.unique(Y, dim=0))
    assert torch.equal(dec.predict(None, H), Y.bool())
    # the fitted tag-wise scale is the one the features were built with
    assert dec.rho_ == pytest.approx({2: 1.3}, rel=1e-5)


def test_onn_predicts_the_label_set_of_hand_built_prototypes():
    H = torch.tensor([[2.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    Y = torch.tensor([[1, 0], [0, 1], [1, 1]])
    dec = ONNDecoder(min_count=1).fit(None, H, Y)
    queries = torch.tensor([[1.8, 0.3], [0.2, 2.5], [0.9, 1.2], [10.0, 10.0]])
    expected = torch.tensor([[1, 0], [0, 1], [1, 1], [1, 1]], dtype=torch.bool)
    assert torch.equal(dec.predict(None, queries), expected)


def test_onn_on_logits_and_probabilities():
    Y = torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]] * 3)
    logits = 6.0 * Y.float() - 3.0
    for space in ["logits", "proba"]:
        dec = ONNDecoder(space=space).fit(logits, None, Y)
        assert torch.equal(dec.predict(logits, None), Y.bool())
    with pytest.raises(ValueError, match="needs the logits"):
        ONNDecoder(space="logits").fit(None, logits, Y)


def test_synthesised_prototypes_recover_held_out_label_sets():
    held_out = ((0, 1), (2, 3), (1, 4))
    H, Y, mu = _collapsed_features(held_out=held_out, noise=0.01)
    queries = torch.stack([1.3 * mu[list(p)].mean(0) for p in held_out]).float()
    queries = queries + 0.01 * torch.randn(queries.shape, dtype=queries.dtype)
    expected = torch.zeros(len(held_out), 6, dtype=torch.bool)
    for i, p in enumerate(held_out):
        expected[i, list(p)] = True

    observed = ONNDecoder(candidates="observed").fit(None, H, Y)
    assert not (observed.predict(None, queries) == expected).all(1).any()

    both = ONNDecoder(candidates="both").fit(None, H, Y)
    assert both.rho_[2] == pytest.approx(1.3, rel=0.02)
    assert torch.equal(both.predict(None, queries), expected)
    # training samples are still decoded right, and synthesised sets have no count
    assert torch.equal(both.predict(None, H), Y.bool())
    assert (both.prototype_counts_ == 0).sum() == len(held_out)

    synth = ONNDecoder(candidates="synthesized").fit(None, H, Y)
    assert torch.equal(synth.predict(None, queries), expected)
    assert (synth.prototype_sets_.sum(1) == 2).sum() == 15  # all 6-choose-2 pairs


def test_min_count_drops_or_synthesises_rare_sets():
    H, Y, _ = _collapsed_features(reps=3)
    H, Y = torch.cat([H, H[-1:]]), torch.cat([Y, Y[-1:]])  # last pair: 4 samples
    observed = ONNDecoder(min_count=4).fit(None, H, Y)
    sizes = observed.prototype_sets_.sum(1)
    assert (sizes == 1).sum() == 6  # singletons are always kept
    assert (sizes == 2).sum() == 1  # only the pair with 4 samples
    both = ONNDecoder(min_count=4, candidates="both").fit(None, H, Y)
    assert (both.prototype_counts_ == 0).sum() == 14  # the rare pairs, synthesised


def test_label_never_alone_uses_the_mean_of_samples_containing_it():
    H, Y, _ = _collapsed_features()
    alone0 = (Y.sum(1) == 1) & (Y[:, 0] == 1)
    dec = ONNDecoder(candidates="both").fit(None, H[~alone0], Y[~alone0])
    expected = H[~alone0][Y[~alone0][:, 0] == 1].double().mean(0)
    torch.testing.assert_close(dec.label_means_[0].double(), expected)
    assert torch.isfinite(dec.prototypes_).all()


def test_all_rows_label_means_fit_labels_never_alone():
    # label 0 never alone: its mean is fitted from the pairs, exactly
    held_out = ((1, 2),)
    H, Y, mu = _collapsed_features(held_out=held_out)
    alone0 = (Y.sum(1) == 1) & (Y[:, 0] == 1)
    dec = ONNDecoder(candidates="both", label_means="all_rows")
    dec.fit(None, H[~alone0], Y[~alone0])
    torch.testing.assert_close(dec.label_means_.double(), mu, atol=1e-5, rtol=0)
    assert dec.rho_ == pytest.approx({2: 1.3}, rel=1e-5)
    query = (1.3 * mu[[1, 2]].mean(0)).float()[None]
    assert dec.predict(None, query)[0].nonzero().flatten().tolist() == [1, 2]


def test_frequency_weighted_synthesis():
    # balanced labels: the weighting changes nothing
    H, Y, _ = _collapsed_features()
    plain = ONNDecoder(candidates="synthesized").fit(None, H, Y)
    weighted = ONNDecoder(candidates="synthesized", weighting="frequency")
    weighted.fit(None, H, Y)
    torch.testing.assert_close(weighted.prototypes_, plain.prototypes_)
    # label 2 five times as frequent: the unseen pair (1, 2) leans towards it
    H, Y, _ = _collapsed_features(held_out=((1, 2),))
    alone2 = (Y.sum(1) == 1) & (Y[:, 2] == 1)
    H, Y = torch.cat([H] + [H[alone2]] * 20), torch.cat([Y] + [Y[alone2]] * 20)
    pair = torch.zeros(6, dtype=torch.bool)
    pair[[1, 2]] = True
    gaps = []
    for dec in (
        ONNDecoder(candidates="both"),
        ONNDecoder(candidates="both", weighting="frequency"),
    ):
        dec.fit(None, H, Y)
        row = (dec.prototype_sets_ == pair).all(1).nonzero()[0, 0]
        assert dec.prototype_counts_[row] == 0
        offsets = dec.label_means_ - dec.center_
        direction = dec.prototypes_[row] - dec.center_
        cosines = torch.nn.functional.cosine_similarity(
            direction[None], offsets[[1, 2]]
        )
        gaps.append(float(cosines[1] - cosines[0]))
    assert abs(gaps[0]) < 1e-5 < gaps[1]


def test_onn_probabilities_are_marginals_of_a_soft_assignment():
    H, Y, _ = _collapsed_features(noise=0.05)
    dec = ONNDecoder(temperature=0.2).fit(None, H, Y)
    proba = dec.predict_proba(None, H[:7])
    P = dec.prototypes_ - dec.center_
    d2 = torch.cdist((H[:7] - dec.center_).double(), P.double()) ** 2
    post = torch.softmax(-d2 / 0.2, dim=1)
    expected = post @ dec.prototype_sets_.double()
    torch.testing.assert_close(proba, expected.clamp(1e-7, 1 - 1e-7), atol=1e-5, rtol=0)
    assert ((proba > 0) & (proba < 1)).all()


def test_onn_temperature_is_fitted_and_changes_only_probabilities():
    H, Y, _ = _collapsed_features(noise=0.1)
    dec = ONNDecoder().fit(None, H, Y)
    assert dec.temperature_ > 0
    hot = ONNDecoder(temperature=100.0).fit(None, H, Y)
    assert torch.equal(dec.predict(None, H), hot.predict(None, H))
    # a very high temperature spreads the posterior: far from 0/1
    assert hot.predict_proba(None, H).max() < dec.predict_proba(None, H).max()


def test_onn_calibration_data_sets_the_temperature():
    H, Y, _ = _collapsed_features(noise=0.02)
    Hc, Yc, _ = _collapsed_features(noise=0.3, seed=0)
    plain = ONNDecoder().fit(None, H, Y)
    held = ONNDecoder().fit(None, H, Y, calibration=(None, Hc, Yc))
    # noisier held-out features call for a softer posterior
    assert held.temperature_ > 3 * plain.temperature_
    torch.testing.assert_close(held.prototypes_, plain.prototypes_)


def test_onn_empty_set_is_a_candidate_when_training_has_empty_rows():
    H, Y, _ = _collapsed_features()
    H = torch.cat([H, torch.zeros(5, H.shape[1])])
    Y = torch.cat([Y, torch.zeros(5, Y.shape[1])])
    dec = ONNDecoder().fit(None, H, Y)
    assert dec.allow_empty_
    assert not dec.predict(None, torch.zeros(2, H.shape[1])).any()
    strict = ONNDecoder(allow_empty=False).fit(None, H, Y)
    assert strict.predict(None, torch.zeros(2, H.shape[1])).any(1).all()


def test_onn_pruning_matches_the_full_search_on_clear_cases():
    H, Y, mu = _collapsed_features(noise=0.01)
    W = mu.float() * 5
    logits = H @ W.T
    full = ONNDecoder().fit(logits, H, Y)
    pruned = ONNDecoder(prune_top_r=3).fit(logits, H, Y)
    assert torch.equal(pruned.predict(logits, H), full.predict(logits, H))


def test_synthesis_bound_warns_and_stops():
    H, Y, _ = _collapsed_features()
    dec = ONNDecoder(candidates="both", max_multiplicity=3)
    dec._max_synthesized = 30  # 15 pairs fit, 20 triples do not
    with pytest.warns(UserWarning, match="only sets of up to 2 labels"):
        dec.fit(None, H, Y)
    assert dec.prototype_sets_.sum(1).max() == 2


@pytest.mark.parametrize(
    "params, match",
    [
        ({"temperature": 0}, r"'temperature' parameter of ONNDecoder must be a float"),
        ({"temperature": -1.0}, r"'temperature' parameter of ONNDecoder must be"),
        ({"metric": "manhattan"}, r"'metric' parameter of ONNDecoder must be a str"),
        ({"space": "pixels"}, r"'space' parameter of ONNDecoder must be a str"),
        ({"candidates": "all"}, r"'candidates' parameter of ONNDecoder must be"),
        (
            {"min_count": 0},
            r"'min_count' parameter of ONNDecoder must be an int in the range \[1",
        ),
        ({"prune_top_r": 7}, "prune_top_r=7 is larger than the number of labels"),
        ({"allow_empty": "yes"}, r"'allow_empty' parameter of ONNDecoder must be"),
        ({"label_means": "auto"}, r"'label_means' parameter of ONNDecoder must be"),
        ({"weighting": "inverse"}, r"'weighting' parameter of ONNDecoder must be"),
    ],
)
def test_onn_invalid_parameters_raise(params, match):
    H, Y, _ = _collapsed_features()
    with pytest.raises(ValueError, match=match):
        ONNDecoder(**params).fit(H @ H.T[:, :6], H, Y)


def test_topk_fixed_k_and_predicted_k():
    Y = torch.tensor([[1, 0, 0, 0], [0, 1, 1, 0], [1, 1, 1, 0], [0, 0, 0, 1]] * 5)
    logits = 6.0 * Y.float() + 0.1 * torch.arange(4)
    auto = TopKDecoder().fit(logits, None, Y)
    assert torch.equal(auto.predict_k(logits), Y.sum(1))
    assert torch.equal(auto.predict(logits, None), Y.bool())
    two = TopKDecoder(k=2).fit(logits, None, Y)
    assert (two.predict(logits, None).sum(1) == 2).all()
    # the predicted labels are the most probable ones
    proba = two.predict_proba(logits, None)
    pred = two.predict(logits, None)
    assert (
        proba[pred].view(-1, 2).min(1).values >= proba[~pred].view(-1, 2).max(1).values
    ).all()


@pytest.mark.parametrize(
    "k, match",
    [
        (5, "k=5 is larger than the number of labels \\(4\\)"),
        (0, r"'k' parameter of TopKDecoder must be an int in the range \[1"),
    ],
)
def test_topk_invalid_k_raises(k, match):
    Y = torch.eye(4).repeat(3, 1)
    with pytest.raises(ValueError, match=match):
        TopKDecoder(k=k).fit(Y * 4, None, Y)


def test_topk_predicts_empty_sets_only_when_allowed():
    Y = torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 0]] * 5)
    logits = torch.tensor([[5.0, 0, 0], [0, 5.0, 0], [0, 0, 0]] * 5)
    dec = TopKDecoder().fit(logits, None, Y)
    assert dec.allow_empty_
    assert torch.equal(dec.predict(logits, None), Y.bool())
    strict = TopKDecoder(allow_empty=False).fit(logits, None, Y)
    assert strict.predict(logits, None).any(1).all()


def test_threshold_auto_maximises_micro_f1_in_the_middle_of_the_best_range():
    proba = torch.tensor([[0.1, 0.3, 0.6, 0.9]], dtype=torch.float64)
    Y = torch.tensor([[0, 1, 1, 1]])
    # every threshold in (0.1, 0.3] is perfect: the middle of the grid range
    assert _micro_f1_threshold(proba, Y) == pytest.approx(0.2, abs=0.011)


def test_threshold_auto_is_fitted_on_calibration_data():
    logits, Y = _collapsed_outputs()
    dec = ThresholdDecoder(threshold="auto").fit(logits, None, Y)
    assert 0 < dec.threshold_ < 1
    assert torch.equal(dec.predict(logits, None), Y.bool())
    gen = torch.Generator().manual_seed(0)
    cal_logits = logits + 3 * torch.randn(logits.shape, generator=gen)
    low = ThresholdDecoder(threshold="auto").fit(
        logits, None, Y, calibration=(cal_logits, None, Y)
    )
    expected = _micro_f1_threshold(low.predict_proba(cal_logits, None), Y)
    assert low.threshold_ == expected
    assert low.coef_ < dec.coef_  # a flatter curve on the noisier held-out scores


def test_get_decoder_names():
    assert isinstance(get_decoder("onn"), ONNDecoder)
    assert isinstance(get_decoder("topk"), TopKDecoder)


# ------------------------------------------------------------ streamed fit
def _random_outputs(n=120, K=5, d=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    Y = (torch.rand(n, K, generator=g) < 0.35).to(torch.uint8)
    Y[:10] = 0  # some empty rows
    Y[10:20] = torch.eye(K, dtype=torch.uint8).repeat(2, 1)  # every singleton
    features = torch.randn(n, d, generator=g) + Y.float() @ torch.randn(K, d)
    logits = torch.randn(n, K, generator=g)
    return logits, features, Y


def _batches(logits, features, Y, size):
    return [
        (logits[i : i + size], features[i : i + size], Y[i : i + size])
        for i in range(0, len(Y), size)
    ]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"candidates": "both", "min_count": 3},
        {"space": "logits", "metric": "cosine"},
        {"allow_empty": False},
    ],
)
def test_fit_batches_equals_fit(params):
    logits, features, Y = _random_outputs()
    whole = ONNDecoder(**params).fit(logits, features, Y)
    streamed = ONNDecoder(**params).fit_batches(_batches(logits, features, Y, 7))
    for name in ("prototypes_", "label_means_", "center_"):
        torch.testing.assert_close(getattr(streamed, name), getattr(whole, name))
    assert torch.equal(streamed.prototype_sets_, whole.prototype_sets_)
    assert torch.equal(streamed.prototype_counts_, whole.prototype_counts_)
    assert streamed.rho_.keys() == whole.rho_.keys()
    for m in whole.rho_:
        assert streamed.rho_[m] == pytest.approx(whole.rho_[m], rel=1e-6, nan_ok=True)
    assert streamed.temperature_ == pytest.approx(whole.temperature_, rel=1e-4)
    assert streamed.allow_empty_ == whole.allow_empty_
    assert torch.equal(
        streamed.predict(logits, features), whole.predict(logits, features)
    )


def test_fit_batches_samples_the_temperature_rows_repeatably():
    logits, features, Y = _random_outputs(n=400)
    batches = _batches(logits, features, Y, 50)
    a = ONNDecoder().fit_batches(batches, max_temperature_rows=60)
    b = ONNDecoder().fit_batches(batches, max_temperature_rows=60)
    whole = ONNDecoder().fit(logits, features, Y)
    assert a.temperature_ == b.temperature_
    # the prototypes never depend on the sample; the temperature does a little
    torch.testing.assert_close(a.prototypes_, whole.prototypes_)
    assert a.temperature_ == pytest.approx(whole.temperature_, rel=0.5)


def test_row_sample_is_uniform_without_replacement():
    from sknc.decoders._base import RowSample

    sample = RowSample(30)
    rows = torch.arange(300, dtype=torch.float32)[:, None]
    for start in range(0, 300, 40):
        chunk = rows[start : start + 40]
        sample.update(chunk, torch.zeros(len(chunk), 1))
    kept, _ = sample.rows()
    assert len(kept) == 30 and len(torch.unique(kept)) == 30
    # not the first or last rows only: spread over the stream
    assert kept.min() < 100 and kept.max() >= 200
    # kept in stream order, with their positions in the stream
    assert torch.equal(kept[:, 0].long(), sample.positions)


def test_fit_batches_needs_a_batch():
    with pytest.raises(ValueError, match="no batch"):
        ONNDecoder().fit_batches([])
