"""Tests of the label-mean estimators of the metrics (issue 19).

``label_means='singletons'`` (the definition), ``'all_rows'`` (a
least-squares fit of the tag-wise-average model to every row) and ``'auto'``;
the frequency-weighted average; the fit itself (``sknc._tagwise``).
"""

import itertools
import math
import warnings

import numpy as np
import pytest
import torch
from sklearn.model_selection import KFold, cross_validate
from sklearn.utils._param_validation import InvalidParameterError

from sknc import FixedETFClassifier
from sknc._tagwise import LabelSetSums, fit_label_means, tagwise_r2
from sknc.callbacks import NeuralCollapseTracker
from sknc.metrics import (
    NeuralCollapseScorer,
    NeuralCollapseWarning,
    nc1,
    ncm,
    neural_collapse_report,
    rho,
)

from .conftest import FAST
from .test_metrics import collapsed

METRICS = ["nc1", "nc2", "nc2_means", "nc3", "ncm"]


def yeast_like(
    n=1500, K=14, d=20, *, weights=None, noise=0.3, n_single=24, seed=0, rhos=None
):
    """Features of the tag-wise model on labels like yeast's.

    About 4 labels per row (multiplicities 2 to 8), label frequencies
    imbalanced; ``n_single`` rows with the single label 0 and none for the
    other labels. Each set's mean is ``o + rho_m a_S`` with ``a_S`` the plain
    (``weights=None``) or weighted average of the label offsets
    (``weights='frequency'``: by the labels' frequencies); rows scatter
    around it with standard deviation ``noise``.
    """
    rng = np.random.default_rng(seed)
    popularity = np.linspace(2.0, 0.4, K)
    sizes = np.clip(rng.poisson(3.2, n - n_single) + 1, 2, min(8, K - 1))
    Y = np.zeros((n, K), dtype=np.int64)
    Y[:n_single, 0] = 1
    for i, m in enumerate(sizes, start=n_single):
        Y[i, rng.choice(K, m, replace=False, p=popularity / popularity.sum())] = 1
    mu = 3.0 * rng.standard_normal((K, d))
    o = mu.mean(axis=0)
    rhos = {m: 1.0 + 0.25 * (m - 1) for m in range(2, K + 1)} if rhos is None else rhos
    w = Y.sum(axis=0) if weights == "frequency" else np.ones(K)
    coef = Y * w
    average = (coef / coef.sum(axis=1, keepdims=True)) @ (mu - o)
    scale = np.array([1.0 if m == 1 else rhos[m] for m in Y.sum(axis=1)])
    H = o + scale[:, None] * average + noise * rng.standard_normal((n, d))
    return H, Y, mu, rhos


def no_warnings(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", NeuralCollapseWarning)
        return fn(*args, **kwargs)


# --------------------------------------------------------------------------
# Equal to the definition where the definition is complete
# --------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [False, True], ids=["origin", "offset"])
def test_auto_is_the_definition_on_singleton_rich_data(offset):
    H, Y, W = collapsed(offset=offset, noise=0.05)
    auto = neural_collapse_report(H, Y, W, random_state=0)
    singletons = neural_collapse_report(
        H, Y, W, random_state=0, label_means="singletons"
    )
    assert auto == singletons
    assert auto["label_means"] == "singletons"
    assert auto["n_mean_rows"] == auto["n_mult1"]


@pytest.mark.parametrize("offset", [False, True], ids=["origin", "offset"])
def test_all_rows_equals_the_definition_on_collapsed_data(offset):
    H, Y, W = collapsed(offset=offset)
    a = neural_collapse_report(H, Y, W, random_state=0, label_means="singletons")
    b = neural_collapse_report(H, Y, W, random_state=0, label_means="all_rows")
    assert b["label_means"] == "all_rows" and b["n_mean_rows"] == len(Y)
    for key in METRICS:
        assert a[key] == pytest.approx(0.0, abs=1e-6)
        assert b[key] == pytest.approx(a[key], abs=1e-6), key
    assert b["rho"] == pytest.approx(a["rho"], rel=1e-8)
    assert b["rho"] == pytest.approx({2: 1.3, 3: 0.7}, rel=1e-8)
    assert b["tagwise_r2"] == pytest.approx(1.0)


def test_all_rows_nc1_is_the_within_set_spread():
    H, Y, W = collapsed(noise=0.1, seed=3)
    report = neural_collapse_report(H, Y, W, label_means="all_rows")
    # every set of this data has two or more rows
    keys = [tuple(np.flatnonzero(y)) for y in Y]
    scatter = np.zeros((H.shape[1], H.shape[1]))
    for key in set(keys):
        rows = [i for i, k in enumerate(keys) if k == key]
        R = H[rows] - H[rows].mean(axis=0)
        scatter += R.T @ R
    sigma_W = scatter / len(Y)
    from sknc.metrics._accumulator import accumulate

    s = accumulate(H, Y).summary("all_rows")
    np.testing.assert_allclose(s.sigma_W.numpy(), sigma_W, atol=1e-12)
    Mbar = (s.mu - s.mu_G).numpy()
    sigma_B = Mbar.T @ Mbar / len(Mbar)
    expected = np.trace(sigma_W @ np.linalg.pinv(sigma_B, rcond=1e-10)) / len(Mbar)
    assert report["nc1"] == pytest.approx(expected, rel=1e-6)


# --------------------------------------------------------------------------
# Data without single labels (yeast-like)
# --------------------------------------------------------------------------


def test_yeast_like_data_gives_finite_metrics():
    H, Y, mu, rhos = yeast_like()
    assert (Y.sum(axis=1) >= 2).mean() > 0.98
    with pytest.warns(NeuralCollapseWarning, match="no multiplicity-1 sample"):
        old = neural_collapse_report(H, Y, random_state=0, label_means="singletons")
    assert math.isnan(old["nc1"]) and math.isnan(old["ncm"])
    report = no_warnings(neural_collapse_report, H, Y, random_state=0)
    assert report["label_means"] == "all_rows"
    assert report["n_mean_rows"] == len(Y) and report["n_labels_used"] == 14
    for key in ["nc1", "nc2_means", "ncm"]:
        assert math.isfinite(report[key]), key
    # the model holds up to noise: small NCm, rho and R^2 recovered
    assert report["ncm"] < 0.1
    assert report["tagwise_r2"] > 0.95
    for m, value in report["rho"].items():
        if sum(Y.sum(axis=1) == m) > 50:
            assert value == pytest.approx(rhos[m], rel=0.05), m
    # the fitted means are the true ones
    from sknc.metrics._accumulator import accumulate

    s = accumulate(H, Y).summary()
    assert s.label_means == "all_rows"
    np.testing.assert_allclose(s.mu.numpy(), mu, atol=0.15)


def test_yeast_like_frequency_weighting():
    H, Y, _, rhos = yeast_like(weights="frequency", seed=2)
    plain = neural_collapse_report(H, Y, random_state=0)
    weighted = neural_collapse_report(H, Y, random_state=0, weighting="frequency")
    assert weighted["weighting"] == "frequency"
    assert weighted["tagwise_r2"] > 0.98 > plain["tagwise_r2"]
    assert weighted["ncm"] < plain["ncm"]
    for m, value in weighted["rho"].items():
        if sum(Y.sum(axis=1) == m) > 50:
            assert value == pytest.approx(rhos[m], rel=0.05), m


def test_equal_frequencies_make_weighting_irrelevant():
    # every pair of 4 labels: every label equally frequent
    H, Y, W = collapsed(K=4, rhos={2: 1.3}, counts=[4] * 4, noise=0.05)
    freq = Y.sum(axis=0)
    assert (freq == freq[0]).all()
    a = neural_collapse_report(H, Y, W, random_state=0)
    b = neural_collapse_report(H, Y, W, random_state=0, weighting="frequency")
    for key in [*METRICS, "rho", "tagwise_r2"]:
        assert b[key] == pytest.approx(a[key], rel=1e-10), key


def test_no_single_label_row_anchors_the_smallest_multiplicity():
    H, Y, _, rhos = yeast_like(n_single=0, noise=0.0)
    with pytest.warns(NeuralCollapseWarning, match="do not fix the scale"):
        value = rho(H, Y)
    assert value[2] == pytest.approx(1.0, rel=1e-6)
    for m in (3, 4):
        assert value[m] == pytest.approx(rhos[m] / rhos[2], rel=1e-6)


def test_label_that_never_occurs_is_left_out():
    H, Y, _, _ = yeast_like(K=6, n=400)
    Y = np.hstack([Y, np.zeros((len(Y), 1), dtype=Y.dtype)])
    with pytest.warns(NeuralCollapseWarning, match=r"1 label\(s\) never occur"):
        report = neural_collapse_report(H, Y)
    assert report["n_labels"] == 7 and report["n_labels_used"] == 6
    assert math.isfinite(report["nc1"])


def test_single_row_sets_have_no_nc1():
    Y = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1], [1, 1, 1]])
    H = np.random.default_rng(0).normal(size=(4, 3))
    with pytest.warns(NeuralCollapseWarning, match="single row"):
        assert math.isnan(nc1(H, Y))


def test_bad_label_means_raise():
    H, Y, _ = collapsed()
    with pytest.raises(InvalidParameterError, match="label_means"):
        nc1(H, Y, label_means="pairs")
    with pytest.raises(InvalidParameterError, match="weighting"):
        ncm(H, Y, weighting="inverse")


# --------------------------------------------------------------------------
# Scorer, tracker
# --------------------------------------------------------------------------


def test_scorers_in_cross_validate_on_yeast_like_data():
    H, Y, _, _ = yeast_like(n=600, K=8, d=10)
    clf = FixedETFClassifier(**FAST)
    scoring = {m: NeuralCollapseScorer(m, random_state=0) for m in METRICS}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = cross_validate(
            clf, H.astype(np.float32), Y, cv=KFold(3), scoring=scoring
        )
    assert not [w for w in caught if w.category is NeuralCollapseWarning]
    for m in METRICS:
        assert np.isfinite(result[f"test_{m}"]).all(), m
    step = NeuralCollapseScorer(label_means="singletons")
    with pytest.warns(NeuralCollapseWarning):
        step.fit(H, Y)
    assert step.report_["label_means"] == "singletons"


def test_tracker_on_yeast_like_data():
    H, Y, _, _ = yeast_like(n=300, K=6, d=10)
    clf = FixedETFClassifier(
        **{**FAST, "max_epochs": 2},
        callbacks=[NeuralCollapseTracker(metrics=("nc1", "ncm", "rho"))],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", NeuralCollapseWarning)
        clf.fit(H.astype(np.float32), Y)
    assert np.isfinite(clf.history[:, "train_nc1"]).all()
    assert np.isfinite(clf.history[:, "train_rho_2"]).all()


# --------------------------------------------------------------------------
# sknc._tagwise
# --------------------------------------------------------------------------


def test_within_scatter_matches_naive_in_any_chunks():
    rng = np.random.default_rng(0)
    K, d, n = 5, 4, 300
    R = torch.as_tensor(rng.normal(size=(n, d)) + 50.0, dtype=torch.float32)
    Y = torch.as_tensor(rng.random((n, K)) < 0.4)
    keys = [tuple(np.flatnonzero(y)) for y in Y.numpy()]
    Rd = R.double().numpy()
    expected = np.zeros((d, d))
    for key in set(keys):
        rows = [i for i, k in enumerate(keys) if k == key]
        X = Rd[rows] - Rd[rows].mean(axis=0)
        expected += X.T @ X
    whole = LabelSetSums(K, scatter=True).update(R, Y)
    parts = LabelSetSums(K, scatter=True)
    for start in range(0, n, 37):
        parts.update(R[start : start + 37], Y[start : start + 37])
    for sums in (whole, parts):
        np.testing.assert_allclose(
            sums.within_scatter.numpy(), expected, rtol=1e-5, atol=1e-4
        )
    with pytest.raises(ValueError, match="scatter=True"):
        LabelSetSums(K).update(R, Y).within_scatter  # noqa: B018


def exact_sets(K=6, d=8, rhos=None, weights=None, seed=0):
    rng = np.random.default_rng(seed)
    rhos = {2: 1.3, 3: 1.6} if rhos is None else rhos
    mu = torch.as_tensor(rng.normal(size=(K, d)) + 3.0)
    sets = [c for m in (1, 2, 3) for c in itertools.combinations(range(K), m)]
    members = torch.zeros(len(sets), K, dtype=torch.bool)
    for i, c in enumerate(sets):
        members[i, list(c)] = True
    w = torch.ones(K, dtype=torch.float64) if weights is None else weights
    A = members.double() * w
    A = A / A.sum(dim=1, keepdim=True)
    scale = torch.tensor(
        [rhos.get(int(m), 1.0) for m in members.sum(dim=1)], dtype=torch.float64
    )
    o = mu.mean(dim=0)
    means = o + scale[:, None] * (A @ (mu - o))
    counts = torch.as_tensor(rng.integers(1, 20, len(sets)))
    return members, means, counts, mu


@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "frequency"])
def test_fit_label_means_recovers_exact_model(weighted):
    w = torch.linspace(2.0, 0.3, 6, dtype=torch.float64) if weighted else None
    members, means, counts, mu = exact_sets(weights=w)
    fit = fit_label_means(members, means, counts, w)
    assert fit.converged and fit.anchor == 1 and fit.rank == 6
    np.testing.assert_allclose(fit.label_means.numpy(), mu.numpy(), atol=1e-9)
    assert fit.rho == pytest.approx({2: 1.3, 3: 1.6}, rel=1e-9)
    # with one single label left, the pairs and triples still fix the means
    sizes = members.sum(dim=1)
    keep = (sizes >= 2) | (members[:, 0] & (sizes == 1))
    fit = fit_label_means(members[keep], means[keep], counts[keep], w)
    np.testing.assert_allclose(fit.label_means.numpy(), mu.numpy(), atol=1e-9)
    r2, overall = tagwise_r2(
        members[keep],
        means[keep] - fit.center,
        fit.label_means - fit.center,
        fit.rho,
        w,
    )
    assert overall == pytest.approx(1.0) and r2 == pytest.approx({2: 1.0, 3: 1.0})


def test_fit_label_means_without_single_labels():
    members, means, counts, mu = exact_sets()
    pairs_up = members.sum(dim=1) >= 2
    fit = fit_label_means(members[pairs_up], means[pairs_up], counts[pairs_up])
    assert fit.anchor == 2 and fit.rho == pytest.approx({2: 1.0, 3: 1.6 / 1.3})
    o = mu.mean(dim=0)
    np.testing.assert_allclose(
        (fit.label_means - fit.center).numpy(), 1.3 * (mu - o).numpy(), atol=1e-9
    )
