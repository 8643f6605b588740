"""Property-based tests (hypothesis) of the loss, the ETF, the metrics and decoders.

Every test runs with ``derandomize=True`` (the same examples on every run, so
CI never flakes) and no example database (nothing is written to the checkout).
Feature values of the metric tests come from a NumPy generator seeded by
hypothesis: the properties are about rotations, permutations and collapse, and
well-conditioned Gaussian data keep the floating-point tolerances honest,
while hypothesis picks the shapes, the label sets and the transformations.
"""

import itertools
import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sknc import (
    ONNDecoder,
    PALCrossEntropyLoss,
    ThresholdDecoder,
    TopKDecoder,
    simplex_etf,
)
from sknc.metrics import (
    NeuralCollapseWarning,
    nc1,
    nc2,
    nc2_means,
    nc3,
    ncm,
    neural_collapse_report,
    rho,
)

PROPS = settings(derandomize=True, deadline=None, database=None, max_examples=30)

seeds = st.integers(0, 2**32 - 1)
F32_MAX = float(np.finfo(np.float32).max)


def finite(lo, hi, width=64):
    """Finite floats in [lo, hi] (bounds rounded to the width), no subnormals."""
    if width == 32:
        lo, hi = float(np.float32(lo)), float(np.float32(hi))
    return st.floats(
        lo,
        hi,
        width=width,
        allow_nan=False,
        allow_infinity=False,
        allow_subnormal=False,
    )


# --------------------------------------------------------------------------
# PAL cross-entropy
# --------------------------------------------------------------------------


@st.composite
def logits_and_targets(draw, max_abs=30.0, soft=False, max_k=8):
    n = draw(st.integers(1, 6))
    K = draw(st.integers(2, max_k))
    logits = draw(arrays(np.float32, (n, K), elements=finite(-max_abs, max_abs, 32)))
    if soft:
        targets = draw(arrays(np.float32, (n, K), elements=finite(0.0, 1.0, 32)))
    else:
        targets = draw(arrays(np.bool_, (n, K))).astype(np.float32)
    return torch.from_numpy(logits), torch.from_numpy(targets)


def per_label_cross_entropy(logits):
    """(n, K) matrix of F.cross_entropy(z_i, k), in float64."""
    n, K = logits.shape
    z = logits.double().repeat_interleave(K, dim=0)
    k = torch.arange(K).repeat(n)
    return F.cross_entropy(z, k, reduction="none").view(n, K)


@PROPS
@given(logits_and_targets(soft=True), st.booleans())
def test_pal_is_nonnegative_and_reductions_agree(data, normalize):
    logits, targets = data
    per_sample = PALCrossEntropyLoss(normalize, reduction="none")(logits, targets)
    assert per_sample.shape == (logits.shape[0],)
    assert (per_sample >= 0).all()
    mean = PALCrossEntropyLoss(normalize)(logits, targets)
    total = PALCrossEntropyLoss(normalize, reduction="sum")(logits, targets)
    torch.testing.assert_close(mean, per_sample.mean())
    torch.testing.assert_close(total, per_sample.sum())


@PROPS
@given(logits_and_targets(soft=True))
def test_pal_is_a_sum_of_per_label_cross_entropies(data):
    # L_PAL(z, y) = sum_k y_k CE(z, k), the definition, against torch's CE.
    logits, targets = data
    expected = (targets.double() * per_label_cross_entropy(logits)).sum(dim=1)
    got = PALCrossEntropyLoss(reduction="none")(logits, targets)
    torch.testing.assert_close(got.double(), expected, rtol=1e-5, atol=1e-4)


@PROPS
@given(st.data(), st.booleans(), st.sampled_from(["mean", "sum", "none"]))
def test_pal_equals_cross_entropy_for_one_hot_targets(data, normalize, reduction):
    logits, _ = data.draw(logits_and_targets())
    n, K = logits.shape
    labels = torch.as_tensor(
        data.draw(arrays(np.int64, n, elements=st.integers(0, K - 1)))
    )
    expected = F.cross_entropy(logits, labels, reduction=reduction)
    loss = PALCrossEntropyLoss(normalize, reduction=reduction)
    one_hot = F.one_hot(labels, K).float()
    torch.testing.assert_close(loss(logits, one_hot), expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(loss(logits, labels), expected, rtol=1e-5, atol=1e-5)


@PROPS
@given(logits_and_targets(soft=True))
def test_paln_is_pal_divided_by_multiplicity(data):
    logits, targets = data
    pal = PALCrossEntropyLoss(reduction="none")(logits, targets)
    paln = PALCrossEntropyLoss(normalize=True, reduction="none")(logits, targets)
    size = targets.sum(dim=1)
    # (rows of total mass in (0, 1e-12): test_paln_of_a_tiny_soft_row)
    labelled = size >= 1e-6
    torch.testing.assert_close(
        paln[labelled], pal[labelled] / size[labelled], rtol=1e-5, atol=1e-6
    )
    # rows without a label contribute zero to both, not 0/0
    empty = size == 0
    assert (paln[empty] == 0).all() and (pal[empty] == 0).all()


def test_paln_of_a_tiny_soft_row():
    logits = torch.zeros(1, 2)
    targets = torch.full((1, 2), 1e-15)  # mass 2e-15; PAL-N = CE = log 2
    loss = PALCrossEntropyLoss(normalize=True)(logits, targets)
    assert loss.item() == pytest.approx(math.log(2), rel=1e-5)


@PROPS
@given(logits_and_targets(), finite(-100.0, 100.0), st.booleans())
def test_pal_is_invariant_to_a_shift_of_the_logits(data, shift, normalize):
    logits, targets = data
    loss = PALCrossEntropyLoss(normalize, reduction="none")
    torch.testing.assert_close(
        loss(logits + shift, targets), loss(logits, targets), rtol=1e-4, atol=1e-4
    )


@PROPS
@given(logits_and_targets(max_abs=1e4), st.booleans())
def test_pal_loss_and_gradient_are_finite_and_exact_for_extreme_logits(data, normalize):
    logits, targets = data
    logits.requires_grad_(True)
    loss = PALCrossEntropyLoss(normalize)(logits, targets)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(logits.grad).all()
    # d/dz of mean_i sum_k y_ik CE(z_i, k) is (|S_i| softmax(z_i) - y_i) / n
    # (divided by |S_i| for PAL-N, zero for rows without a label).
    n = logits.shape[0]
    p = torch.softmax(logits.detach().double(), dim=1)
    y = targets.double()
    size = y.sum(dim=1, keepdim=True)
    grad = size * p - y
    if normalize:
        grad = torch.where(size > 0, grad / size.clamp_min(1), 0.0)
    torch.testing.assert_close(logits.grad.double(), grad / n, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------
# Simplex ETF
# --------------------------------------------------------------------------


@st.composite
def etf_shapes(draw, max_k=200):
    K = draw(st.integers(2, max_k))
    d = draw(st.integers(K - 1, K + 20))
    return K, d


@PROPS
@given(etf_shapes(), seeds)
def test_simplex_etf_has_the_simplex_gram_matrix(shape, seed):
    K, d = shape
    M = simplex_etf(K, d, random_state=seed)
    assert M.shape == (K, d) and M.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(M, axis=1), 1.0, atol=1e-10)
    gram = (K * np.eye(K) - np.ones((K, K))) / (K - 1)
    np.testing.assert_allclose(M @ M.T, gram, atol=1e-10)
    np.testing.assert_array_equal(M, simplex_etf(K, d, random_state=seed))


@PROPS
@given(st.data())
def test_simplex_etf_rejects_too_small_dimensions(data):
    K = data.draw(st.integers(2, 200))
    d = data.draw(st.integers(-3, K - 2))
    with pytest.raises(ValueError, match="dim >= n_classes - 1"):
        simplex_etf(K, d)


@PROPS
@given(st.integers(-3, 1), st.integers(0, 10))
def test_simplex_etf_rejects_fewer_than_two_vectors(K, d):
    with pytest.raises(ValueError, match="n_classes >= 2"):
        simplex_etf(K, d)


# --------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------


def orthogonal(d, rng):
    Q, R = np.linalg.qr(rng.standard_normal((d, d)))
    return Q * np.sign(np.diag(R))


def etf_rows(K, d, rng):
    """K unit vectors in R^d, pairwise cosine -1/(K-1) (d >= K - 1).

    Built independently of sknc: an orthonormal basis of the complement of
    the all-ones vector (from an SVD), mapped into R^d by a random isometry.
    """
    U, _, _ = np.linalg.svd(np.eye(K) - 1.0 / K)
    P, _ = np.linalg.qr(rng.standard_normal((d, K - 1)))
    return np.sqrt(K / (K - 1)) * U[:, : K - 1] @ P.T


def call_metric(fn, *args, **kwargs):
    """Call fn; return its value and the sorted set of its warning messages.

    Only NeuralCollapseWarning may be emitted, and a NaN value always comes
    with one (the documented contract: NaN with a warning, never silently).
    """
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        value = fn(*args, **kwargs)
    assert all(issubclass(w.category, NeuralCollapseWarning) for w in record), [
        str(w.message) for w in record
    ]
    messages = sorted({str(w.message) for w in record})
    if isinstance(value, float) and math.isnan(value):
        assert messages, f"{fn.__name__} returned NaN without a warning"
    return value, messages


def all_metrics(H, Y, W):
    out = {
        "nc1": call_metric(nc1, H, Y),
        "nc2": call_metric(nc2, W),
        "nc2_means": call_metric(nc2_means, H, Y),
        "nc3": call_metric(nc3, H, Y, W),
        "ncm": call_metric(ncm, H, Y, random_state=0),
        "ncm_origin": call_metric(ncm, H, Y, center=False, random_state=0),
        "rho": call_metric(rho, H, Y),
    }
    return out


def assert_metrics_equal(a, b, rtol=1e-6, atol=1e-9, keys=None):
    for key in keys or a:
        (va, ma), (vb, mb) = a[key], b[key]
        assert ma == mb, key  # the same warnings
        if isinstance(va, dict):
            assert va.keys() == vb.keys(), key
            va, vb = list(va.values()), list(vb.values())
        np.testing.assert_allclose(va, vb, rtol=rtol, atol=atol, equal_nan=True)


@st.composite
def nc_problems(draw):
    """Gaussian features, arbitrary label sets (some labels may lack singletons)."""
    K = draw(st.integers(2, 6))
    d = draw(st.integers(1, 8))
    reps = draw(st.integers(0, 3))  # copies of every singleton row
    extra = draw(
        arrays(np.bool_, st.tuples(st.integers(0 if reps else 1, 16), st.just(K)))
    )
    Y = np.vstack([np.tile(np.eye(K, dtype=np.int64), (reps, 1)), extra]).astype(int)
    rng = np.random.default_rng(draw(seeds))
    scale = draw(finite(0.1, 10.0))
    offset = draw(finite(-10.0, 10.0))
    H = rng.standard_normal((len(Y), d)) * scale + offset
    W = rng.standard_normal((K, d))
    return H, Y, W, rng


@PROPS
@given(nc_problems())
def test_metrics_are_invariant_to_a_joint_rotation_of_features_and_head(problem):
    H, Y, W, rng = problem
    Q = orthogonal(H.shape[1], rng)
    assert_metrics_equal(all_metrics(H, Y, W), all_metrics(H @ Q, Y, W @ Q))


@PROPS
@given(nc_problems(), st.data())
def test_metrics_are_invariant_to_a_permutation_of_the_samples(problem, data):
    H, Y, W, _ = problem
    perm = np.array(data.draw(st.permutations(range(len(Y)))))
    assert_metrics_equal(all_metrics(H, Y, W), all_metrics(H[perm], Y[perm], W))


@PROPS
@given(nc_problems(), finite(0.01, 100.0), finite(0.01, 100.0))
def test_metrics_are_invariant_to_scale_and_translation(problem, c_h, c_w):
    # Angles and normalised Gram matrices do not see the scale; with
    # center=True everything is measured around the mean of the class means.
    H, Y, W, rng = problem
    shift = rng.normal(0, 5, H.shape[1])
    keys = ["nc1", "nc2", "nc2_means", "nc3", "ncm", "rho"]
    assert_metrics_equal(
        all_metrics(H, Y, W), all_metrics(c_h * H + shift, Y, c_w * W), keys=keys
    )


@PROPS
@given(nc_problems())
def test_report_matches_the_individual_metrics(problem):
    H, Y, W, _ = problem
    single = all_metrics(H, Y, W)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NeuralCollapseWarning)
        report = neural_collapse_report(H, Y, W, random_state=0)
    for key in ["nc1", "nc2", "nc2_means", "nc3", "ncm", "rho"]:
        got, expected = report[key], single[key][0]
        if isinstance(expected, dict):
            assert got.keys() == expected.keys()
            got, expected = list(got.values()), list(expected.values())
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12, equal_nan=True)
    assert report["n_samples"] == len(Y)
    assert report["n_unlabeled"] == int((Y.sum(1) == 0).sum())


@st.composite
def collapsed_problems(draw):
    """Exact M-lab NC: ETF class means, pairs/triples at rho_m * tag-wise averages."""
    K = draw(st.integers(2, 8))
    d = draw(st.integers(K - 1, K + 3))
    rng = np.random.default_rng(draw(seeds))
    scale = draw(finite(0.5, 10.0))
    M = etf_rows(K, d, rng)
    offset = rng.standard_normal(d) * scale * draw(finite(0.0, 3.0))
    counts = draw(st.lists(st.integers(1, 3), min_size=K, max_size=K))
    rows = [(k,) for k in range(K) for _ in range(counts[k])]
    rhos = {}
    for m in (2, 3):
        if K <= m:  # a set of every label sits at the centre: no angle
            continue
        sets = draw(
            st.lists(
                st.sampled_from(list(itertools.combinations(range(K), m))),
                min_size=1 if m == 2 else 0,
                max_size=5,
                unique=True,
            )
        )
        if sets:
            rhos[m] = draw(finite(0.3, 2.0))
            rows += [S for S in sets for _ in range(draw(st.integers(1, 2)))]
    Y = np.zeros((len(rows), K), dtype=np.int64)
    H = np.empty((len(rows), d))
    for i, S in enumerate(rows):
        Y[i, list(S)] = 1
        r = rhos.get(len(S), 1.0)
        H[i] = offset + scale * r * M[list(S)].mean(axis=0)
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    return H.astype(dtype), Y, M, rhos


@PROPS
@given(collapsed_problems(), finite(0.1, 10.0))
def test_metrics_vanish_on_collapsed_configurations(problem, w_scale):
    H, Y, M, rhos = problem
    f32 = H.dtype == np.float32
    atol = 1e-5 if f32 else 1e-8
    W = w_scale * M
    with warnings.catch_warnings():
        if rhos:  # a complete collapsed configuration is not degenerate
            warnings.simplefilter("error", NeuralCollapseWarning)
        assert nc1(H, Y) == pytest.approx(0.0, abs=atol)
        assert nc2(W) == pytest.approx(0.0, abs=1e-8)
        assert nc2_means(H, Y) == pytest.approx(0.0, abs=atol)
        assert nc3(H, Y, W) == pytest.approx(0.0, abs=atol)
        if rhos:
            assert ncm(H, Y, random_state=0) == pytest.approx(
                0.0, abs=1e-4 if f32 else 1e-6
            )
            fitted = rho(H, Y)
            assert fitted.keys() == rhos.keys()
            for m, r in rhos.items():
                assert fitted[m] == pytest.approx(r, rel=1e-4 if f32 else 1e-8)
    if not rhos:  # K = 2: no set of two or more labels that is not all labels
        with pytest.warns(NeuralCollapseWarning):
            assert math.isnan(ncm(H, Y, random_state=0))


# --------------------------------------------------------------------------
# Decoders
# --------------------------------------------------------------------------


@st.composite
def collapsed_features(draw, max_k=12):
    """Features exactly at M-lab NC positions for ONN: singletons and some sets."""
    K = draw(st.integers(3, max_k))
    d = draw(st.integers(K - 1, K + 4))
    rng = np.random.default_rng(draw(seeds))
    scale = draw(finite(0.5, 10.0))
    M = etf_rows(K, d, rng) * scale
    offset = rng.standard_normal(d) * scale * draw(finite(0.0, 3.0))
    sets = [frozenset([k]) for k in range(K)]
    sets += draw(
        st.lists(
            st.frozensets(st.integers(0, K - 1), min_size=2, max_size=min(K, 4)),
            max_size=8,
            unique=True,
        )
    )
    rhos = {m: draw(finite(0.3, 2.0)) for m in range(2, 5)}
    counts = draw(st.lists(st.integers(1, 3), min_size=len(sets), max_size=len(sets)))
    Y = np.zeros((sum(counts), K), dtype=np.int64)
    H = np.empty((sum(counts), d))
    i = 0
    for S, c in zip(sets, counts, strict=True):
        r = rhos.get(len(S), 1.0)
        Y[i : i + c, list(S)] = 1
        H[i : i + c] = offset + r * M[sorted(S)].mean(axis=0)
        i += c
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    return torch.as_tensor(H, dtype=dtype), torch.as_tensor(Y), M, offset


@PROPS
@given(collapsed_features())
def test_onn_is_exact_on_collapsed_features(problem):
    H, Y, _, _ = problem
    dec = ONNDecoder(min_count=1).fit(None, H, Y)
    assert torch.equal(dec.predict(None, H), Y.bool())
    proba = dec.predict_proba(None, H)
    assert proba.shape == Y.shape and ((proba > 0) & (proba < 1)).all()


@PROPS
@given(st.data())
def test_onn_synthesises_unseen_label_sets_on_collapsed_features(data):
    # Training: every singleton and a few pairs, all at their collapsed
    # positions with one rho for every multiplicity. The synthesised
    # prototype of any set (seen or not, of any size) is its exact position.
    K = data.draw(st.integers(3, 7))
    rng = np.random.default_rng(data.draw(seeds))
    d = data.draw(st.integers(K - 1, K + 3))
    M = etf_rows(K, d, rng) * data.draw(finite(0.5, 10.0))
    offset = rng.standard_normal(d) * data.draw(finite(0.0, 20.0))
    r = data.draw(finite(0.3, 2.0))
    pairs = data.draw(
        st.lists(
            st.sampled_from(list(itertools.combinations(range(K), 2))),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    train = [(k,) for k in range(K)] + pairs
    queries = data.draw(
        st.lists(
            st.frozensets(st.integers(0, K - 1), min_size=1, max_size=K),
            min_size=1,
            max_size=8,
        )
    )

    def place(sets):
        Y = np.zeros((len(sets), K), dtype=np.int64)
        H = np.empty((len(sets), d))
        for i, S in enumerate(sets):
            Y[i, list(S)] = 1
            H[i] = offset + (r if len(S) > 1 else 1.0) * M[sorted(S)].mean(axis=0)
        return torch.as_tensor(H), torch.as_tensor(Y)

    H, Y = place(train)
    candidates = data.draw(st.sampled_from(["synthesized", "both"]))
    dec = ONNDecoder(candidates=candidates, max_multiplicity=K, min_count=1)
    dec.fit(None, H, Y)
    assert dec.rho_ == pytest.approx({2: r})
    Hq, Yq = place(queries)
    assert torch.equal(dec.predict(None, Hq), Yq.bool())


def test_onn_without_any_training_label():
    with pytest.raises(ValueError, match="Y has no positive label in any row"):
        ONNDecoder().fit(None, torch.tensor([[0.0], [1.0]]), torch.zeros(2, 2))


def test_onn_probabilities_for_huge_float32_features():
    H = torch.tensor([[1.0], [1.0], [-1.0], [-1.0]])
    Y = torch.tensor([[1, 0], [1, 0], [0, 1], [0, 1]])
    dec = ONNDecoder().fit(None, H, Y)
    q = torch.tensor([[3e38]])
    assert dec.predict(None, q).tolist() == [[True, False]]
    assert_valid_proba(dec.predict_proba(None, q), (1, 2))


@st.composite
def decoder_problems(draw, max_k=5):
    """Arbitrary training outputs and targets, and arbitrary query outputs."""
    n = draw(st.integers(1, 20))
    K = draw(st.integers(2, max_k))
    d = draw(st.integers(1, 5))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    train = finite(-100.0, 100.0, 32)
    logits = draw(arrays(np.float32, (n, K), elements=train))
    features = draw(arrays(dtype, (n, d), elements=train))
    Y = draw(arrays(np.bool_, (n, K)))
    m = draw(st.integers(1, 10))
    q_logits = draw(arrays(np.float32, (m, K), elements=finite(-F32_MAX, F32_MAX, 32)))
    q_features = draw(arrays(dtype, (m, d), elements=finite(-1e12, 1e12, 32)))
    return tuple(
        torch.from_numpy(a) for a in (logits, features, Y, q_logits, q_features)
    )


def fit_quietly(decoder, logits, features, Y):
    # Arbitrary targets may leave ONN no calibration sample among its
    # candidates or ask for many synthesised sets: UserWarnings, by design.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return decoder.fit(logits, features, Y)


def expects_empty_predictions(allow_empty, Y):
    if allow_empty == "auto":
        return bool((Y.sum(dim=1) == 0).any())
    return allow_empty


def assert_valid_proba(proba, shape):
    assert proba.shape == shape and proba.dtype == torch.float64
    assert torch.isfinite(proba).all()
    assert ((proba > 0) & (proba < 1)).all()


@PROPS
@given(
    decoder_problems(),
    st.sampled_from(["observed", "synthesized", "both"]),
    st.integers(1, 3),
    st.sampled_from(["auto", True, False]),
    st.sampled_from(["euclidean", "cosine"]),
)
def test_onn_predicts_prototype_sets_and_valid_probabilities(
    problem, candidates, min_count, allow_empty, metric
):
    logits, features, Y, q_logits, q_features = problem
    dec = ONNDecoder(
        candidates=candidates,
        min_count=min_count,
        allow_empty=allow_empty,
        metric=metric,
    )
    if not Y.any():  # no label in training: a clear error
        with pytest.raises(ValueError, match="No label set can be predicted"):
            fit_quietly(dec, logits, features, Y)
        return
    fit_quietly(dec, logits, features, Y)
    pred = dec.predict(q_logits, q_features)
    assert pred.dtype == torch.bool and pred.shape == q_logits.shape
    # every prediction is the label set of one of the prototypes
    match = (pred[:, None, :] == dec.prototype_sets_[None, :, :]).all(dim=2)
    assert match.any(dim=1).all()
    if not expects_empty_predictions(allow_empty, Y):
        assert pred.any(dim=1).all()
    assert_valid_proba(dec.predict_proba(q_logits, q_features), q_logits.shape)


@PROPS
@given(
    decoder_problems(),
    st.sampled_from(["auto", True, False]),
    st.one_of(st.sampled_from(["auto", 0.5, 0.9999999]), finite(0.01, 0.99)),
)
def test_threshold_decoder_predicts_its_probabilities_above_threshold(
    problem, allow_empty, threshold
):
    logits, _, Y, q_logits, _ = problem
    dec = fit_quietly(
        ThresholdDecoder(threshold=threshold, allow_empty=allow_empty), logits, None, Y
    )
    proba = dec.predict_proba(q_logits, None)
    assert_valid_proba(proba, q_logits.shape)
    pred = dec.predict(q_logits, None)
    above = proba >= dec.threshold_
    if expects_empty_predictions(allow_empty, Y):
        assert torch.equal(pred, above)
    else:
        # rows with a label above the threshold keep exactly those labels;
        # the others get exactly one label, a most probable one
        assert pred.any(dim=1).all()
        keep = above.any(dim=1)
        assert torch.equal(pred[keep], above[keep])
        filled = pred[~keep]
        assert (filled.sum(dim=1) == 1).all()
        best = proba[~keep].max(dim=1).values
        assert torch.equal(proba[~keep][filled], best)


@PROPS
@given(decoder_problems(max_k=8), st.data())
def test_topk_with_fixed_k_predicts_the_k_largest_logits(problem, data):
    logits, _, Y, q_logits, _ = problem
    K = logits.shape[1]
    k = data.draw(st.integers(1, K))
    dec = fit_quietly(TopKDecoder(k=k), logits, None, Y)
    pred = dec.predict(q_logits, None)
    assert pred.dtype == torch.bool
    assert (pred.sum(dim=1) == k).all()
    if k < K:  # the predicted logits are the largest ones
        low = q_logits.masked_fill(~pred, math.inf).min(dim=1).values
        high = q_logits.masked_fill(pred, -math.inf).max(dim=1).values
        assert (low >= high).all()
    assert_valid_proba(dec.predict_proba(q_logits, None), q_logits.shape)


@PROPS
@given(decoder_problems(), st.sampled_from(["auto", True, False]))
def test_topk_auto_predicts_a_training_multiplicity(problem, allow_empty):
    logits, _, Y, q_logits, _ = problem
    if allow_empty is False and not Y.any():
        return  # no multiplicity profile to learn from; covered elsewhere
    dec = fit_quietly(TopKDecoder(allow_empty=allow_empty), logits, None, Y)
    pred = dec.predict(q_logits, None)
    sizes = pred.sum(dim=1)
    assert torch.isin(sizes, dec.multiplicities_).all()
    if not expects_empty_predictions(allow_empty, Y):
        assert (sizes >= 1).all()
    assert_valid_proba(dec.predict_proba(q_logits, None), q_logits.shape)


@PROPS
@given(st.data())
def test_topk_predicts_the_most_probable_labels_when_calibration_is_increasing(data):
    # Training logits that carry the labels (the usual case): the Platt
    # slope is positive and the top-k labels are the most probable ones.
    n = data.draw(st.integers(4, 20))
    K = data.draw(st.integers(2, 6))
    Y = torch.from_numpy(data.draw(arrays(np.bool_, (n, K)))).float()
    noise = data.draw(arrays(np.float32, (n, K), elements=finite(-1.0, 1.0, 32)))
    logits = 6.0 * Y - 3.0 + torch.from_numpy(noise)
    dec = TopKDecoder(k=data.draw(st.integers(1, K))).fit(logits, None, Y)
    assume(dec.coef_ > 0)
    q = torch.from_numpy(
        data.draw(arrays(np.float32, (5, K), elements=finite(-50.0, 50.0, 32)))
    )
    pred = dec.predict(q, None)
    proba = dec.predict_proba(q, None)
    if pred.all():
        return
    low = proba.masked_fill(~pred, math.inf).min(dim=1).values
    high = proba.masked_fill(pred, -math.inf).max(dim=1).values
    assert (low >= high).all()


def test_topk_predicts_the_most_probable_labels_whatever_the_calibration():
    logits = torch.tensor([[-4.0, 4.0, 4.0], [4.0, -4.0, 4.0], [4.0, 4.0, -4.0]])
    logits = logits.repeat(5, 1)
    dec = TopKDecoder(k=1).fit(logits, None, (logits < 0).float())
    q = torch.tensor([[3.0, 0.0, -3.0]])
    pred = dec.predict(q, None)  # label 0, the largest logit
    proba = dec.predict_proba(q, None)  # [0.004, 0.19, 0.93]: coef_ < 0
    assert proba[pred].min() >= proba[~pred].max()
