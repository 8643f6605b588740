"""Tests of sknc.metrics: NC1, NC2, NC3, NCm, rho and the report."""

import itertools
import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch

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
from sknc.metrics._accumulator import NCAccumulator
from sknc.metrics._kernels import report_of

METRICS = ["nc1", "nc2", "nc2_means", "nc3", "ncm"]


# --------------------------------------------------------------------------
# Data builders and naive reference implementations
# --------------------------------------------------------------------------


def etf_rows(K, d, rng):
    """K x d simplex ETF (rows), built as in DESIGN.md: sqrt(K/(K-1)) P (I - 11^T/K)."""
    P, _ = np.linalg.qr(rng.standard_normal((d, K)))
    return (np.sqrt(K / (K - 1)) * P @ (np.eye(K) - 1.0 / K)).T


def collapsed(
    K=5, d=8, *, rhos=None, scale=3.0, offset=True, noise=0.0, seed=0, counts=None
):
    """Features under exact M-lab NC (plus optional Gaussian noise).

    Multiplicity-1 means form a scaled simplex ETF around a random offset
    (class sizes are imbalanced); each listed set S of size m has mean
    offset + rho_m * mean_{k in S}(ETF_k); the head is the ETF itself.
    """
    rng = np.random.default_rng(seed)
    rhos = {2: 1.3, 3: 0.7} if rhos is None else rhos
    M = scale * etf_rows(K, d, rng)
    c = rng.normal(0, 5, d) if offset else np.zeros(d)
    counts = counts or [3 + k for k in range(K)]  # imbalanced on purpose
    rows, labels = [], []
    for k in range(K):
        rows += [c + M[k]] * counts[k]
        labels += [(k,)] * counts[k]
    for m, r in rhos.items():
        for S in list(itertools.combinations(range(K), m))[:6]:
            rows += [c + r * M[list(S)].mean(axis=0)] * 2
            labels += [S] * 2
    H = np.array(rows) + noise * rng.standard_normal((len(rows), d))
    Y = np.zeros((len(rows), K), dtype=np.int64)
    for i, S in enumerate(labels):
        Y[i, list(S)] = 1
    return H, Y, M / scale


def random_data(n=300, d=12, K=6, seed=0, offset=0.0):
    """Random features; labels of multiplicity 1 and 2 mixed."""
    rng = np.random.default_rng(seed)
    H = rng.normal(size=(n, d)) + offset
    Y = np.zeros((n, K), dtype=np.int64)
    first = rng.integers(K, size=n)
    second = (first + rng.integers(1, K, size=n)) % K
    pair = rng.random(n) < 0.5
    Y[np.arange(n), first] = 1
    Y[np.arange(n)[pair], second[pair]] = 1
    W = rng.normal(size=(K, d))
    return H, Y, W


def naive_stats(H, Y):
    H = np.asarray(H, dtype=np.float64)
    one = Y.sum(axis=1) == 1
    used = [k for k in range(Y.shape[1]) if Y[one, k].any()]
    mu = np.stack([H[one & (Y[:, k] == 1)].mean(axis=0) for k in used])
    return used, mu, mu.mean(axis=0)


def naive_nc1(H, Y):
    H = np.asarray(H, dtype=np.float64)
    used, mu, mu_G = naive_stats(H, Y)
    one = Y.sum(axis=1) == 1
    H1, lab = H[one], Y[one].argmax(axis=1)
    R = H1 - mu[np.searchsorted(used, lab)]
    Sw = R.T @ R / len(R)
    Mb = mu - mu_G
    Sb = Mb.T @ Mb / len(used)
    return np.trace(Sw @ np.linalg.pinv(Sb, rcond=1e-10, hermitian=True)) / len(used)


def etf_distance(G):
    K = len(G)
    E = (np.eye(K) - 1.0 / K) / np.sqrt(K - 1)
    return np.linalg.norm(G / np.linalg.norm(G) - E)


def naive_nc2_means(H, Y):
    _, mu, mu_G = naive_stats(H, Y)
    return etf_distance((mu - mu_G) @ (mu - mu_G).T)


def naive_nc3(H, Y, W):
    used, mu, mu_G = naive_stats(H, Y)
    return etf_distance(W[used] @ (mu - mu_G).T)


def angle(u, v):
    return np.arccos(np.clip(u @ v / np.linalg.norm(u) / np.linalg.norm(v), -1, 1))


def naive_tagwise(H, Y, center=True):
    """NCm with the exact chance level (all subsets), and rho."""
    H = np.asarray(H, dtype=np.float64)
    used, mu, mu_G = naive_stats(H, Y)
    o = mu_G if center else 0.0
    means = {k: mu[i] - o for i, k in enumerate(used)}
    sets = {tuple(np.flatnonzero(y)) for y in Y if y.sum() >= 2}
    sets = sorted(S for S in sets if all(k in means for k in S))
    num, den, rhos = [], [], {}
    for S in sets:
        rows = (Y == np.isin(np.arange(Y.shape[1]), S)).all(axis=1)
        c = H[rows].mean(axis=0) - o
        t = sum(means[k] for k in S)
        dots, norms = rhos.setdefault(len(S), ([], []))
        dots.append(c @ t)
        norms.append(t @ t)
        num.append(angle(c, t))
        for S2 in itertools.combinations(means, len(S)):
            den.append(angle(c, sum(means[k] for k in S2)))
    rho_m = {m: m * sum(d) / sum(n) for m, (d, n) in rhos.items()}
    return np.mean(num) / np.mean(den), rho_m


def collect_warnings(fn, *args, **kwargs):
    """Call fn; return its result and the NeuralCollapseWarning messages."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        out = fn(*args, **kwargs)
    assert all(issubclass(w.category, NeuralCollapseWarning) for w in record)
    return out, [str(w.message) for w in record]


def assert_reports_close(a, b, rtol=1e-6, atol=1e-9):
    assert a.keys() == b.keys()
    for key in a:
        if key in ("rho", "rho_r2"):
            assert a[key].keys() == b[key].keys()
            np.testing.assert_allclose(
                list(a[key].values()), list(b[key].values()), rtol=rtol, atol=atol
            )
        elif isinstance(a[key], float):
            np.testing.assert_allclose(a[key], b[key], rtol=rtol, atol=atol)
        else:
            assert a[key] == b[key], key


# --------------------------------------------------------------------------
# Collapse, noise, randomness
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("offset", [False, True], ids=["origin", "offset"])
def test_collapsed_configuration_gives_zero(dtype, offset):
    H, Y, W = collapsed(offset=offset)
    report = neural_collapse_report(H.astype(dtype), Y, 2.0 * W, random_state=0)
    for key in METRICS:
        assert report[key] == pytest.approx(0.0, abs=1e-5), key
    assert report["rho"].keys() == {2, 3}
    assert report["rho"][2] == pytest.approx(1.3, rel=1e-5)
    assert report["rho"][3] == pytest.approx(0.7, rel=1e-5)
    assert report["n_labels_used"] == 5
    assert report["n_mult1"] == sum(3 + k for k in range(5))
    assert report["n_label_sets"] == 12
    assert report["multiplicity_counts"] == {1: 25, 2: 12, 3: 12}


def test_collapsed_in_minimal_dimension():
    # d = K - 1: the smallest space a simplex ETF fits in.
    from sknc import simplex_etf

    K = 6
    W = simplex_etf(K, K - 1, random_state=0)
    Y = np.vstack([np.eye(K, dtype=int)] * 2 + [[1, 1, 0, 0, 0, 0], [0, 0, 1, 1, 1, 0]])
    H = np.vstack([W, W, 0.8 * W[:2].mean(0), 0.5 * W[2:5].mean(0)])
    report = neural_collapse_report(H, Y, W, random_state=0)
    for key in METRICS:
        assert report[key] == pytest.approx(0.0, abs=1e-6), key
    assert report["rho"] == pytest.approx({2: 0.8, 3: 0.5})


def test_centring_matters_for_uncentred_features():
    # Collapsed features far from the origin: the centred measure sees the
    # collapse, the raw one does not recover rho.
    H, Y, W = collapsed(offset=True)
    assert ncm(H, Y, random_state=0) == pytest.approx(0.0, abs=1e-6)
    assert rho(H, Y)[2] == pytest.approx(1.3)
    assert ncm(H, Y, center=False, random_state=0) > 0.05
    assert rho(H, Y, center=False)[2] != pytest.approx(1.3, rel=0.05)
    # At the origin both conventions agree.
    H0, Y0, _ = collapsed(offset=False)
    assert ncm(H0, Y0, center=False, random_state=0) == pytest.approx(0, abs=1e-6)
    assert rho(H0, Y0, center=False) == pytest.approx(rho(H0, Y0))


def test_global_mean_is_mean_of_class_means():
    # Strongly imbalanced classes: the mean over samples would move towards
    # the big class and break the ETF; the mean of class means does not.
    H, Y, _ = collapsed(counts=[50, 2, 2, 2, 2])
    assert nc2_means(H, Y) == pytest.approx(0.0, abs=1e-8)
    assert nc1(H, Y) == pytest.approx(0.0, abs=1e-8)


def test_small_noise_gives_small_values():
    H, Y, W = collapsed(noise=1e-3, seed=1)
    report = neural_collapse_report(H, Y, 2.0 * W, random_state=0)
    assert 0 < report["nc1"] < 1e-4
    for key in ["nc2_means", "nc3", "ncm"]:
        assert 0 < report[key] < 0.01, key
    assert report["nc2"] == pytest.approx(0.0, abs=1e-9)  # W has no noise
    assert report["rho"] == pytest.approx({2: 1.3, 3: 0.7}, rel=1e-2)


def test_random_features_are_far_from_collapse():
    H, Y, W = random_data(n=400, d=16, K=6)
    report = neural_collapse_report(H, Y, W, random_state=0)
    assert report["nc1"] > 5
    assert report["nc2"] > 0.3
    assert report["nc2_means"] > 0.3
    assert report["nc3"] > 0.5
    assert 0.8 < report["ncm"] < 1.2
    assert abs(report["rho"][2]) < 0.5


# --------------------------------------------------------------------------
# Agreement with naive implementations
# --------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [0.0, 50.0], ids=["centred", "offset50"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_matches_naive_implementation(dtype, offset):
    H, Y, W = random_data(offset=offset)
    H = H.astype(dtype)
    report = neural_collapse_report(H, Y, W, n_random=1000, random_state=0)
    rtol = 1e-4 if dtype == np.float32 else 1e-8
    assert report["nc1"] == pytest.approx(naive_nc1(H, Y), rel=rtol)
    assert report["nc2_means"] == pytest.approx(naive_nc2_means(H, Y), rel=rtol)
    assert report["nc3"] == pytest.approx(naive_nc3(H, Y, W), rel=rtol)
    assert report["nc2"] == pytest.approx(etf_distance(W @ W.T), rel=1e-10)
    # 15 pairs of 6 labels < n_random: the chance level is exact.
    ncm_ref, rho_ref = naive_tagwise(H, Y)
    assert report["ncm"] == pytest.approx(ncm_ref, rel=rtol)
    assert report["rho"] == pytest.approx(rho_ref, rel=rtol)


def test_ncm_center_false_matches_naive():
    H, Y, _ = random_data(offset=2.0)
    ncm_ref, rho_ref = naive_tagwise(H, Y, center=False)
    assert ncm(H, Y, center=False) == pytest.approx(ncm_ref, rel=1e-8)
    assert rho(H, Y, center=False) == pytest.approx(rho_ref, rel=1e-8)


def test_float32_accuracy_far_from_origin():
    # Tight classes far from the origin: a one-pass sum of h h^T in float32
    # would lose everything; shifting by a per-label reference keeps NC1.
    rng = np.random.default_rng(0)
    H, Y, _ = random_data(n=2000, d=8, K=4, seed=1)
    H = (1e3 + 1e-2 * H + Y @ rng.normal(size=(4, 8))).astype(np.float32)
    expected = naive_nc1(H, Y)
    assert expected < 1e-2
    for chunk_size in [None, 100]:
        assert nc1(H, Y, chunk_size=chunk_size) == pytest.approx(expected, rel=1e-4)


def test_functions_agree_with_report():
    H, Y, W = random_data()
    report = neural_collapse_report(H, Y, W, n_random=20, random_state=3)
    assert nc1(H, Y) == report["nc1"]
    assert nc2(W) == report["nc2"]
    assert nc2_means(H, Y) == report["nc2_means"]
    assert nc3(H, Y, W) == report["nc3"]
    assert ncm(H, Y, n_random=20, random_state=3) == report["ncm"]
    assert rho(H, Y) == report["rho"]
    for key in METRICS:
        assert type(report[key]) is float


def test_report_without_head_omits_head_metrics():
    H, Y, _ = random_data()
    report = neural_collapse_report(H, Y, random_state=0)
    assert "nc2" not in report and "nc3" not in report
    assert {"nc1", "nc2_means", "ncm", "rho"} <= report.keys()


# --------------------------------------------------------------------------
# Invariances and input types
# --------------------------------------------------------------------------


def test_invariant_to_rotating_features_and_head():
    H, Y, W = random_data(K=8)  # 28 pairs > n_random: a random chance level
    Q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(H.shape[1],) * 2))
    a = neural_collapse_report(H, Y, W, n_random=10, random_state=0)
    b = neural_collapse_report(H @ Q, Y, W @ Q, n_random=10, random_state=0)
    assert_reports_close(a, b)


def test_invariant_to_permuting_samples():
    H, Y, W = random_data(K=8)
    perm = np.random.default_rng(1).permutation(len(H))
    a = neural_collapse_report(H, Y, W, n_random=10, random_state=0)
    b = neural_collapse_report(H[perm], Y[perm], W, n_random=10, random_state=0)
    assert_reports_close(a, b)


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 10_000])
def test_chunk_size_does_not_change_results(chunk_size):
    H, Y, W = random_data(K=8)
    a = neural_collapse_report(H, Y, W, n_random=10, random_state=0)
    b = neural_collapse_report(
        H, Y, W, n_random=10, random_state=0, chunk_size=chunk_size
    )
    assert_reports_close(a, b)


def test_incremental_updates_match_one_pass():
    H, Y, W = random_data()
    whole = NCAccumulator(Y.shape[1]).update(H, Y)
    parts = NCAccumulator(Y.shape[1])
    for start in range(0, len(H), 50):
        parts.update(torch.as_tensor(H[start : start + 50]), Y[start : start + 50])
    a, _ = report_of(whole.summary(), W, random_state=0)
    b, _ = report_of(parts.summary(), W, random_state=0)
    assert_reports_close(a, b)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
def test_torch_and_numpy_inputs_agree(dtype):
    H, Y, W = random_data()
    np_dtype = np.float64 if dtype == torch.float64 else np.float32
    a = neural_collapse_report(H.astype(np_dtype), Y, W, random_state=0)
    b = neural_collapse_report(
        torch.as_tensor(H, dtype=dtype).requires_grad_(),
        torch.as_tensor(Y),
        torch.as_tensor(W, dtype=dtype),
        random_state=0,
    )
    assert_reports_close(a, b, rtol=1e-6 if dtype == torch.float64 else 1e-5)


@pytest.mark.parametrize(
    "convert",
    [
        sp.csr_matrix,
        sp.csc_matrix,
        lambda Y: Y.astype(bool),
        lambda Y: Y.astype(np.float32),
        lambda Y: torch.as_tensor(Y, dtype=torch.uint8),
        lambda Y: Y.tolist(),
    ],
    ids=["csr", "csc", "bool", "float", "torch-uint8", "list"],
)
def test_label_indicator_formats(convert):
    H, Y, W = random_data()
    expected = neural_collapse_report(H, Y, W, random_state=0)
    assert_reports_close(
        neural_collapse_report(H, convert(Y), W, random_state=0), expected
    )


def test_non_contiguous_and_read_only_features():
    H, Y, _ = random_data()
    expected = nc1(H, Y)
    fortran = np.asfortranarray(H)
    read_only = H.copy()
    read_only.flags.writeable = False
    assert nc1(fortran, Y) == pytest.approx(expected, rel=1e-12)
    assert nc1(read_only, Y) == pytest.approx(expected, rel=1e-12)
    assert nc1(torch.as_tensor(H).T.contiguous().T, Y) == pytest.approx(expected)


def test_inputs_are_not_modified():
    H, Y, W = random_data()
    H_t = torch.as_tensor(H.copy())
    neural_collapse_report(H_t, Y, W, random_state=0)
    neural_collapse_report(H, Y, W, random_state=0)
    np.testing.assert_array_equal(H_t.numpy(), H)
    np.testing.assert_array_equal(H, random_data()[0])


def test_unlabeled_rows_are_counted_and_ignored():
    H, Y, W = random_data()
    H_extra = np.vstack([H, 100 * np.ones((5, H.shape[1]))])
    Y_extra = np.vstack([Y, np.zeros((5, Y.shape[1]), dtype=int)])
    a = neural_collapse_report(H, Y, W, random_state=0)
    b = neural_collapse_report(H_extra, Y_extra, W, random_state=0)
    assert b["n_unlabeled"] == 5 and b["n_samples"] == len(H) + 5
    for key in [*METRICS, "rho"]:
        assert a[key] == pytest.approx(b[key], rel=1e-12)


def test_more_labels_than_one_key_word():
    # Label-set keys use one int64 per 62 labels: sets across words.
    rng = np.random.default_rng(0)
    n, K = 300, 130
    pool = np.r_[0:3, 60:64, 126:130]
    H = rng.normal(size=(n, 6))
    Y = np.zeros((n, K), dtype=np.int64)
    for i in range(n):
        Y[i, rng.choice(pool, rng.choice([1, 1, 2, 3]), replace=False)] = 1
    assert len({tuple(w // 62 for w in np.flatnonzero(y)) for y in Y}) > 3
    report, messages = collect_warnings(
        neural_collapse_report, H, Y, n_random=10**6, random_state=0
    )
    assert "119 label(s) have no multiplicity-1 sample" in messages[0]
    sets = {tuple(np.flatnonzero(y)) for y in Y if y.sum() >= 2}
    assert report["n_label_sets"] == len(sets)
    ncm_ref, rho_ref = naive_tagwise(H, Y)
    assert report["ncm"] == pytest.approx(ncm_ref, rel=1e-8)
    assert report["rho"] == pytest.approx(rho_ref, rel=1e-8)
    assert report["nc1"] == pytest.approx(naive_nc1(H, Y), rel=1e-8)


def test_ncm_is_repeatable_with_random_state():
    H, Y, _ = random_data(K=8)
    a = ncm(H, Y, n_random=5, random_state=1)
    assert ncm(H, Y, n_random=5, random_state=1) == a
    assert ncm(H, Y, n_random=5, random_state=2) != a


# --------------------------------------------------------------------------
# Degenerate cases
# --------------------------------------------------------------------------


def test_label_without_multiplicity_one_sample_warns_and_is_left_out():
    H, Y, W = random_data(K=4)
    only_in_pairs = (Y[:, 3] == 1) & (Y.sum(axis=1) == 1)
    H, Y = H[~only_in_pairs], Y[~only_in_pairs]
    report, messages = collect_warnings(
        neural_collapse_report, H, Y, W, random_state=0, label_means="singletons"
    )
    assert len(messages) == 2
    assert "1 label(s) have no multiplicity-1 sample" in messages[0]
    assert "skip the label sets that contain them." in messages[0]
    assert ": [3]." in messages[0]
    assert messages[1].startswith("3 of 6 label set(s)")
    assert "left out of NCm and rho" in messages[1]
    assert report["n_labels"] == 4 and report["n_labels_used"] == 3
    assert report["nc1"] == pytest.approx(naive_nc1(H, Y), rel=1e-8)
    assert report["nc2_means"] == pytest.approx(naive_nc2_means(H, Y), rel=1e-8)
    assert report["nc3"] == pytest.approx(naive_nc3(H, Y, W), rel=1e-8)
    ncm_ref, rho_ref = naive_tagwise(H, Y)  # skips the sets that contain 3
    assert report["ncm"] == pytest.approx(ncm_ref, rel=1e-8)
    assert report["rho"] == pytest.approx(rho_ref, rel=1e-8)
    _, messages = collect_warnings(nc1, H, Y, label_means="singletons")
    assert len(messages) == 1 and ": [3]." in messages[0]


def test_warning_points_at_the_caller():
    H, Y, _ = random_data(K=4)
    keep = ~((Y[:, 3] == 1) & (Y.sum(axis=1) == 1))
    with pytest.warns(NeuralCollapseWarning) as record:
        nc1(H[keep], Y[keep], label_means="singletons")
    assert record[0].filename == __file__


def test_single_label_raises():
    H = np.ones((4, 3))
    with pytest.raises(ValueError, match="at least 2 labels"):
        nc1(H, np.ones((4, 1)))
    with pytest.raises(ValueError, match="at least 2 labels"):
        nc2(np.ones((1, 3)))


def test_two_labels():
    rng = np.random.default_rng(0)
    v = rng.normal(size=3)
    W = np.vstack([v, -v])  # a simplex ETF of 2 vectors: cosine -1
    Y = np.array([[1, 0], [1, 0], [0, 1], [0, 1], [1, 1]])
    H = np.vstack([W[0], W[0], W[1], W[1], [0.0, 0.0, 0.0]]) + 1.0
    assert nc2(W) == pytest.approx(0.0, abs=1e-12)
    assert nc1(H, Y) == pytest.approx(0.0, abs=1e-12)
    assert nc2_means(H, Y) == pytest.approx(0.0, abs=1e-12)
    assert nc3(H, Y, W) == pytest.approx(0.0, abs=1e-12)
    # With 2 labels, the centred means of the only pair sum to zero: the
    # tag-wise direction is undefined.
    value, messages = collect_warnings(ncm, H, Y)
    assert math.isnan(value)
    assert len(messages) == 2
    assert messages[0].startswith("1 label set(s) are left out of NCm")
    assert "NCm is undefined: NaN" in messages[1]
    value, messages = collect_warnings(rho, H, Y)
    assert math.isnan(value[2])
    assert len(messages) == 1 and "rho for multiplicity 2" in messages[0]


def test_no_higher_multiplicity_set_warns():
    H, Y, _ = random_data()
    single = Y.sum(axis=1) == 1
    with pytest.warns(NeuralCollapseWarning, match="no sample with two or more"):
        assert math.isnan(ncm(H[single], Y[single]))
    with pytest.warns(NeuralCollapseWarning, match="no sample with two or more"):
        assert rho(H[single], Y[single]) == {}
    with pytest.warns(NeuralCollapseWarning, match="no sample with two or more"):
        report = neural_collapse_report(H[single], Y[single])
    assert math.isnan(report["ncm"]) and report["rho"] == {}
    assert math.isfinite(report["nc1"])


def test_no_multiplicity_one_sample_at_all():
    H, Y, W = random_data()
    pairs = Y.sum(axis=1) == 2
    report, messages = collect_warnings(
        neural_collapse_report, H[pairs], Y[pairs], W, label_means="singletons"
    )
    assert messages[0].startswith("No row of Y has exactly one positive label")
    assert any("NC1 needs class means of at least 2 labels" in m for m in messages)
    assert any("NCm and rho are undefined" in m for m in messages)
    for key in ["nc1", "nc2_means", "nc3", "ncm"]:
        assert math.isnan(report[key]), key
    assert math.isfinite(report["nc2"])  # W alone is still measured
    assert report["n_labels_used"] == 0 and report["rho"] == {}


def test_coinciding_class_means_give_nan():
    Y = np.eye(3, dtype=int).repeat(2, axis=0)
    H = np.ones((6, 4))
    with pytest.warns(NeuralCollapseWarning, match="coincide"):
        assert math.isnan(nc1(H, Y))
    with pytest.warns(NeuralCollapseWarning, match="is zero"):
        assert math.isnan(nc2_means(H, Y))
    with pytest.warns(NeuralCollapseWarning, match="W W\\^T is zero"):
        assert math.isnan(nc2(np.zeros((3, 4))))


def test_fewer_dimensions_than_labels_minus_one():
    H, Y, W = random_data(d=2, K=6)
    report = neural_collapse_report(H, Y, W, random_state=0)
    for key in METRICS:
        assert math.isfinite(report[key]), key
    # A simplex ETF of 6 vectors needs 5 dimensions: 2 cannot reach 0.
    assert report["nc2"] > 0.3 and report["nc2_means"] > 0.3
    assert report["nc1"] == pytest.approx(naive_nc1(H, Y), rel=1e-8)


# --------------------------------------------------------------------------
# Input errors
# --------------------------------------------------------------------------


def test_one_dimensional_labels_raise():
    with pytest.raises(ValueError, match="label_binarize"):
        nc1(np.ones((4, 2)), np.array([0, 1, 2, 1]))


def test_non_binary_labels_raise():
    H, Y, _ = random_data()
    Y = Y.copy()
    Y[3, 0] = 2
    with pytest.raises(ValueError, match=r"0/1 label indicator.*\[2\]"):
        nc1(H, Y)
    with pytest.raises(ValueError, match="0/1 label indicator"):
        nc1(H, np.where(Y == 2, np.nan, Y))


@pytest.mark.parametrize("kind", ["single", "pair", "unlabeled"])
@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "inf"])
def test_non_finite_features_raise(kind, bad):
    H, Y, _ = random_data()
    Y = Y.copy()
    row = 123
    Y[row] = {"single": [1, 0, 0, 0, 0, 0], "pair": [1, 1, 0, 0, 0, 0]}.get(kind, 0)
    H = H.copy()
    H[row, 2] = bad
    with pytest.raises(ValueError, match=f"NaN or infinity \\(first in row {row}\\)"):
        neural_collapse_report(H, Y, chunk_size=50)


def test_shape_errors():
    H, Y, W = random_data()
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        nc1(H[:-1], Y)
    with pytest.raises(ValueError, match=r"H must be a 2-D \(n_samples"):
        nc1(H[:, 0], Y)
    with pytest.raises(ValueError, match=r"W must be a 2-D \(n_labels"):
        nc2(W[0])
    with pytest.raises(ValueError, match=r"W must have shape.*\(6, 12\)"):
        nc3(H, Y, W[:, :-1])
    with pytest.raises(ValueError, match=r"W must have shape.*\(6, 12\)"):
        neural_collapse_report(H, Y, W[:-1])
    with pytest.raises(ValueError, match="W contains NaN"):
        nc2(np.full((3, 2), np.nan))
    with pytest.raises(ValueError, match="MultiLabelBinarizer"):
        nc1(np.ones((2, 2)), [[0, 1], [1]])


def test_invalid_parameters_raise():
    H, Y, _ = random_data()
    with pytest.raises(ValueError, match="chunk_size"):
        nc1(H, Y, chunk_size=0)
    with pytest.raises(ValueError, match="n_random"):
        ncm(H, Y, n_random=0)


def test_accumulator_checks_consistency():
    H, Y, _ = random_data()
    acc = NCAccumulator(Y.shape[1]).update(H, Y)
    with pytest.raises(ValueError, match="built for 6"):
        acc.update(H, Y[:, :4])
    with pytest.raises(ValueError, match="earlier chunks had 12"):
        acc.update(H[:, :5], Y)
    with pytest.raises(ValueError, match="call update"):
        NCAccumulator(3).summary()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    H, Y, W = random_data(K=8)
    a = neural_collapse_report(H, Y, W, n_random=10, random_state=0)
    b = neural_collapse_report(
        torch.as_tensor(H, device="cuda"),
        torch.as_tensor(Y, device="cuda"),
        torch.as_tensor(W, device="cuda"),
        n_random=10,
        random_state=0,
    )
    assert_reports_close(a, b, rtol=1e-6)
