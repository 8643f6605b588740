"""sknc.metrics.label_report: per-label imbalance and minority-collapse diagnostics."""

import itertools
import math
import sys

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from sknc import FixedETFClassifier, PALClassifier, simplex_etf
from sknc.metrics import (
    NeuralCollapseWarning,
    label_report,
    label_report_from_estimator,
)

from .conftest import FAST

COLUMNS = [
    "label",
    "count",
    "frequency",
    "mean_norm",
    "mean_max_cosine",
    "mean_nearest",
    "mean_nearest_cooccurrence",
]
HEAD_COLUMNS = [
    "weight_norm",
    "max_cosine",
    "nearest",
    "nearest_cooccurrence",
    "collapsed",
]


def random_problem(n=120, K=6, d=5, seed=0):
    """Multi-label data with unlabelled rows and a long tail of frequencies."""
    rng = np.random.default_rng(seed)
    p = np.array([0.6, 0.4, 0.25, 0.1, 0.05, 0.03])[:K]
    Y = (rng.random((n, K)) < p).astype(np.uint8)
    Y[0, -1] = 1  # every label occurs
    H = rng.normal(size=(n, d)) + Y @ rng.normal(size=(K, d))
    W = rng.normal(size=(K, d))
    return H, Y, W


def naive(H, Y, W):
    """Reference: every quantity by the definition, with plain NumPy."""
    K = Y.shape[1]
    labelled = Y.any(axis=1)
    nu_G = H[labelled].mean(axis=0)
    centred = np.stack([H[Y[:, k] == 1].mean(axis=0) - nu_G for k in range(K)])

    def max_cos(V):
        U = V / np.linalg.norm(V, axis=1, keepdims=True)
        C = U @ U.T
        np.fill_diagonal(C, -np.inf)
        return C.max(axis=1), C.argmax(axis=1)

    def cooc(partner):
        return np.array(
            [(Y[:, k] & Y[:, partner[k]]).sum() / Y[:, k].sum() for k in range(K)]
        )

    mean_cos, mean_nearest = max_cos(centred)
    cos, nearest = max_cos(W)
    return {
        "count": Y.sum(axis=0),
        "frequency": Y.mean(axis=0),
        "mean_norm": np.linalg.norm(centred, axis=1),
        "mean_max_cosine": mean_cos,
        "mean_nearest": mean_nearest,
        "mean_nearest_cooccurrence": cooc(mean_nearest),
        "weight_norm": np.linalg.norm(W, axis=1),
        "max_cosine": cos,
        "nearest": nearest,
        "nearest_cooccurrence": cooc(nearest),
    }


def assert_reports_equal(a, b, rtol=1e-10):
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], np.ndarray) and a[key].dtype.kind == "f":
            np.testing.assert_allclose(a[key], b[key], rtol=rtol, atol=1e-12)
        else:
            np.testing.assert_array_equal(a[key], b[key])


# --------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------


def test_columns_and_scalars():
    H, Y, W = random_problem()
    report = label_report(H, Y, W)
    assert list(report) == [
        *COLUMNS,
        *HEAD_COLUMNS,
        "threshold",
        "n_samples",
        "n_unlabeled",
    ]
    assert report.threshold == 0.9 and report.n_samples == len(Y)
    assert report.n_unlabeled == int((Y.sum(axis=1) == 0).sum()) > 0
    np.testing.assert_array_equal(report.label, np.arange(Y.shape[1]))
    assert report.count.dtype == np.int64 and report.collapsed.dtype == bool
    assert report.nearest.dtype == np.int64 and report.mean_nearest.dtype == np.int64
    without_head = label_report(H, Y)
    assert list(without_head) == [*COLUMNS, "threshold", "n_samples", "n_unlabeled"]


def test_matches_the_definitions():
    H, Y, W = random_problem()
    report = label_report(H, Y, W)
    for key, expected in naive(H, Y, W).items():
        np.testing.assert_allclose(report[key], expected, rtol=1e-10, err_msg=key)
    np.testing.assert_array_equal(report.collapsed, report.max_cosine > 0.9)


@pytest.mark.parametrize(
    "convert",
    [
        lambda H, Y, W: (H, Y, W),
        lambda H, Y, W: (torch.as_tensor(H), torch.as_tensor(Y), torch.as_tensor(W)),
        lambda H, Y, W: (H.astype(np.float32), sp.csr_matrix(Y), W),
        lambda H, Y, W: (H, Y.astype(bool), W.tolist()),
    ],
    ids=["numpy", "torch", "float32-sparse", "bool-list"],
)
def test_input_types_and_chunks_give_the_same_report(convert):
    H, Y, W = random_problem()
    expected = label_report(H, Y, W)
    rtol = 1e-5 if "float32" in str(convert(H, Y, W)[0].dtype) else 1e-10
    assert_reports_equal(label_report(*convert(H, Y, W), chunk_size=7), expected, rtol)


def test_recovers_a_constructed_minority_collapse():
    Y = np.array(
        [[1, 0, 0, 0]] * 45
        + [[0, 1, 0, 0]] * 45
        + [[0, 0, 1, 0]] * 5
        + [[0, 0, 0, 1]] * 5
    )
    W = np.array([[3.0, 0, 0], [0, 3.0, 0], [0.3, 0.3, 1.0], [0.3, 0.2, 1.0]])
    report = label_report(Y @ W, Y, W)
    np.testing.assert_array_equal(report.collapsed, [False, False, True, True])
    np.testing.assert_array_equal(report.nearest, [3, 2, 3, 2])
    np.testing.assert_array_equal(report.nearest_cooccurrence, [0, 0, 0, 0])
    np.testing.assert_allclose(report.frequency, [0.45, 0.45, 0.05, 0.05])
    assert label_report(Y @ W, Y, W, threshold=0.999).collapsed.sum() == 0


def test_simplex_etf_head_never_collapses():
    H, Y, _ = random_problem(K=5)
    W = simplex_etf(5, 5, random_state=0)
    report = label_report(H, Y, W)
    np.testing.assert_allclose(report.max_cosine, -1 / 4, atol=1e-12)
    np.testing.assert_allclose(report.weight_norm, 1.0)
    assert not report.collapsed.any()
    assert label_report(H, Y, W, threshold=-0.3).collapsed.all()


def _weighted_ufm(counts, lam=3e-2, d=8, steps=3000):
    """UFM with one feature per class, weighted by the class sizes.

    Equivalent to the per-sample UFM once every class has collapsed to its
    mean: each class's cross-entropy and feature decay count ``n_k / N``.
    """
    K = len(counts)
    p = torch.tensor(counts, dtype=torch.float64) / sum(counts)
    gen = torch.Generator().manual_seed(0)
    W = (torch.randn(K, d, dtype=torch.float64, generator=gen) * 0.1).requires_grad_()
    H = (torch.randn(K, d, dtype=torch.float64, generator=gen) * 0.1).requires_grad_()
    y = torch.arange(K)
    for _ in range(steps):
        ce = nn.functional.cross_entropy(H @ W.T, y, reduction="none")
        F = (
            (p * ce).sum()
            + lam / 2 * (W**2).sum()
            + lam / 2 * (p * (H**2).sum(1)).sum()
        )
        gW, gH = torch.autograd.grad(F, [W, H])
        with torch.no_grad():
            W -= 0.5 * gW
            H -= 0.5 * gH / p.unsqueeze(1)
    Y = np.repeat(np.eye(K, dtype=int), counts, axis=0)
    return np.repeat(H.detach().numpy(), counts, axis=0), Y, W.detach().numpy()


def test_flags_minority_collapse_in_the_unconstrained_features_model():
    # Fang et al. (2021): with enough imbalance the minority rows merge
    H, Y, W = _weighted_ufm([1000, 1000, 1000, 1, 1, 1])
    report = label_report(H, Y, W)
    np.testing.assert_array_equal(report.collapsed, [False] * 3 + [True] * 3)
    assert set(report.nearest[3:]) <= {3, 4, 5}
    assert report.weight_norm[3:].max() < 0.5 * report.weight_norm[:3].min()
    balanced = label_report(*_weighted_ufm([10] * 6))
    assert not balanced.collapsed.any()
    np.testing.assert_allclose(balanced.max_cosine, -1 / 5, atol=1e-3)


# --------------------------------------------------------------------------
# Degenerate cases
# --------------------------------------------------------------------------


def test_label_that_never_occurs_is_nan_with_a_warning():
    H, Y, W = random_problem()
    Y[:, 2] = 0
    with pytest.warns(NeuralCollapseWarning, match=r"1 label\(s\) never occur.*\[2\]"):
        report = label_report(H, Y, W)
    assert report.count[2] == 0 and report.frequency[2] == 0
    assert math.isnan(report.mean_norm[2]) and math.isnan(report.mean_max_cosine[2])
    assert report.mean_nearest[2] == -1 and 2 not in report.mean_nearest
    assert math.isnan(report.nearest_cooccurrence[2])
    assert np.isfinite(report.max_cosine[2])  # its head row still exists


def test_a_single_label():
    H, Y, W = random_problem()
    with pytest.warns(NeuralCollapseWarning, match="single label"):
        report = label_report(H, Y[:, :1], W[:1])
    assert math.isnan(report.max_cosine[0]) and report.nearest[0] == -1
    assert not report.collapsed[0]
    assert report.weight_norm[0] == pytest.approx(np.linalg.norm(W[0]))


def test_zero_head_row_is_nan_with_a_warning():
    H, Y, W = random_problem()
    W[1] = 0
    with pytest.warns(NeuralCollapseWarning, match=r"head row of label\(s\) \[1\]"):
        report = label_report(H, Y, W)
    assert math.isnan(report.max_cosine[1]) and not report.collapsed[1]
    assert report.weight_norm[1] == 0 and 1 not in report.nearest


def test_label_on_every_row_has_no_mean_direction():
    H, Y, W = random_problem()
    Y[:, 0] = 1
    with pytest.warns(NeuralCollapseWarning, match=r"label\(s\) \[0\] equals the mean"):
        report = label_report(H, Y, W)
    assert report.mean_norm[0] == pytest.approx(0, abs=1e-12)
    assert math.isnan(report.mean_max_cosine[0])


def test_no_labelled_row():
    H, Y, W = random_problem()
    with pytest.warns(NeuralCollapseWarning, match="no row with a label"):
        report = label_report(H, np.zeros_like(Y), W)
    assert np.isnan(report.mean_norm).all() and report.n_unlabeled == len(Y)
    assert np.isfinite(report.max_cosine).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"W": np.ones((5, 5))}, r"W must have shape \(n_labels, n_features\)"),
        ({"threshold": 1.5}, "threshold"),
        ({"label_names": ["a", "b"]}, "one name per label"),
    ],
    ids=["head-shape", "threshold", "label-names"],
)
def test_bad_arguments(kwargs, match):
    H, Y, W = random_problem()
    kwargs = {"W": W, **kwargs}
    with pytest.raises(ValueError, match=match):
        label_report(H, Y, **kwargs)


def test_bad_data():
    H, Y, W = random_problem()
    H[3, 1] = np.nan
    with pytest.raises(ValueError, match="H contains NaN or infinity"):
        label_report(H, Y, W)
    with pytest.raises(ValueError, match="0/1 label indicator"):
        label_report(np.ones((3, 2)), np.array([[0, 2], [1, 0], [1, 1]]))


# --------------------------------------------------------------------------
# Frames and estimators
# --------------------------------------------------------------------------


def test_label_names_and_frame():
    pd = pytest.importorskip("pandas")
    H, Y, W = random_problem()
    names = [f"tag{k}" for k in range(Y.shape[1])]
    frame = label_report(H, Y, W, label_names=names, as_frame=True)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == [*COLUMNS, *HEAD_COLUMNS]
    assert list(frame["label"]) == names
    n_unlabeled = int((Y.sum(axis=1) == 0).sum())
    assert frame.attrs == {
        "threshold": 0.9,
        "n_samples": len(Y),
        "n_unlabeled": n_unlabeled,
    }
    np.testing.assert_allclose(frame["max_cosine"], label_report(H, Y, W).max_cosine)


def test_frame_without_pandas_says_what_to_do(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    H, Y, W = random_problem()
    with pytest.raises(ImportError, match="needs pandas.*Bunch"):
        label_report(H, Y, W, as_frame=True)


@pytest.mark.parametrize("cls", [PALClassifier, FixedETFClassifier])
def test_from_estimator(cls, multilabel_data):
    X, Y = multilabel_data
    clf = cls(**FAST).fit(X, Y)
    report = label_report_from_estimator(clf, X, Y)
    W = clf.module_.head.weight[: clf.n_outputs_].detach().double().numpy()
    assert_reports_equal(report, label_report(clf.transform(X), Y, W), rtol=1e-6)
    if cls is FixedETFClassifier:  # a fixed ETF head cannot collapse
        np.testing.assert_allclose(report.max_cosine, -1 / (Y.shape[1] - 1), atol=1e-6)
        assert not report.collapsed.any()
    pipe = make_pipeline(StandardScaler(), cls(**FAST)).fit(X, Y)
    assert len(label_report_from_estimator(pipe, X, Y).weight_norm) == Y.shape[1]


def test_from_estimator_label_names_background_and_classes(multilabel_data):
    pd = pytest.importorskip("pandas")
    X, Y = multilabel_data
    Y = Y.copy()
    Y[:20] = 0  # empty rows: the estimator trains a hidden background label
    frame = pd.DataFrame(Y, columns=[f"y{k}" for k in range(Y.shape[1])])
    clf = PALClassifier(**FAST).fit(X, frame)
    assert clf.background_label_
    report = label_report_from_estimator(clf, X, frame)
    assert list(report.label) == list(frame.columns)
    assert report.n_unlabeled == 20 and len(report.max_cosine) == Y.shape[1]
    # 1-D class labels: one-hot over classes_
    y = np.array(["a", "b", "c"])[Y.argmax(axis=1) % 3]
    clf = PALClassifier(**FAST).fit(X, y)
    report = label_report_from_estimator(clf, X, y)
    assert list(report.label) == ["a", "b", "c"]
    np.testing.assert_array_equal(report.count, [(y == c).sum() for c in "abc"])


# --------------------------------------------------------------------------
# plot_label_report (Agg backend, no pixel checks)
# --------------------------------------------------------------------------


@pytest.fixture
def plt():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def _collapsed_report(**kwargs):
    Y = np.array(
        [[1, 0, 0, 0, 0]] * 45
        + [[0, 1, 0, 0, 0]] * 45
        + [[0, 0, 1, 0, 0]] * 5
        + [[0, 0, 0, 1, 0]] * 5
    )
    W = np.array(
        [[3.0, 0, 0], [0, 3.0, 0], [0.3, 0.3, 1.0], [0.3, 0.2, 1.0], [-1.0, -1.0, 0]]
    )
    with pytest.warns(NeuralCollapseWarning, match="never occur"):
        return label_report(Y @ W, Y, W, **kwargs)


def test_plot_head(plt):
    from sknc.plotting import plot_label_report

    report = _collapsed_report(label_names=["a", "b", "rare1", "rare2", "ghost"])
    axes = plot_label_report(report)
    assert axes.shape == (2,)
    norm_ax, cos_ax = axes
    for ax in axes:
        assert ax.get_xscale() == "log"
        labels = [c.get_label() for c in ax.collections]
        assert labels == [
            "labels (2)",
            "never in Y (1), at the left edge",
            "collapsed (cos > 0.9): 2",
        ]
    np.testing.assert_allclose(
        sorted(norm_ax.collections[2].get_offsets()[:, 1]),
        sorted(report.weight_norm[2:4]),
    )
    # the label that never occurs sits left of every other one
    ghost_x = norm_ax.collections[1].get_offsets()[0, 0]
    assert ghost_x < report.frequency[report.frequency > 0].min()
    texts = [t.get_text() for t in cos_ax.texts]
    assert "rare1 \N{RIGHTWARDS ARROW} rare2" in texts and "simplex ETF" in texts
    assert [line.get_ydata()[0] for line in cos_ax.get_lines()] == [0.9, -0.25]
    assert norm_ax.get_title() and cos_ax.get_legend() is not None


def test_plot_means_given_axes_and_frame(plt):
    from sknc.plotting import plot_label_report

    _, given = plt.subplots(1, 2)
    report = _collapsed_report(threshold=0.5)
    axes = plot_label_report(report, given, which="means", annotate=False)
    assert list(axes) == list(given)
    assert axes[1].get_ylabel() == "largest cosine to another label's mean"
    assert not [t for t in axes[1].texts if "\N{RIGHTWARDS ARROW}" in t.get_text()]
    pd = pytest.importorskip("pandas")
    frame = _collapsed_report(as_frame=True)
    assert isinstance(frame, pd.DataFrame)
    axes = plot_label_report(frame)
    assert axes[1].collections[-1].get_label() == "collapsed (cos > 0.9): 2"


def test_plot_errors(plt):
    from sknc.plotting import plot_label_report

    H, Y, _ = random_problem()
    with pytest.raises(ValueError, match="which='head' needs the head columns"):
        plot_label_report(label_report(H, Y), which="head")
    with pytest.raises(ValueError, match="which must be"):
        plot_label_report(label_report(H, Y), which="rows")
    with pytest.raises(TypeError, match="output of sknc.metrics.label_report"):
        plot_label_report([1, 2, 3])
    _, one = plt.subplots()
    with pytest.raises(ValueError, match="two Axes"):
        plot_label_report(label_report(H, Y), one)


def _normalized_report():
    # rows of the same norm (a normalised head); labels 2 and 3 collapsed,
    # label 3 always with label 2
    rng = np.random.default_rng(0)
    Y = np.zeros((120, 4), dtype=int)
    Y[:60, 0] = 1
    Y[60:100, 1] = 1
    Y[100:, 2] = 1
    Y[110:, 3] = 1
    W = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0.6, 0.8], [0, 0.5, 0.866]])
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    H = Y @ W + 0.01 * rng.normal(size=(120, 3))
    return label_report(H, Y, W, label_names=["a", "b", "c", "d"])


def test_plot_replaces_a_flat_norm_panel_by_the_cooccurrence(plt):
    from sknc.plotting import plot_label_report

    report = _normalized_report()
    norm_ax, cos_ax = plot_label_report(report)
    assert "co-occurrence" in norm_ax.get_title()
    shown = np.concatenate([c.get_offsets()[:, 1] for c in norm_ax.collections])
    np.testing.assert_allclose(
        sorted(shown), sorted(report.nearest_cooccurrence), atol=1e-12
    )
    assert any("same norm" not in t.get_text() for t in norm_ax.texts)
    assert norm_ax.get_ylim() == pytest.approx((-0.05, 1.05))
    # a learned head keeps its norm panel
    H, Y, W = random_problem()
    norm_ax, _ = plot_label_report(label_report(H, Y, W))
    assert norm_ax.get_title().endswith("norm")


@pytest.mark.parametrize("K", [2, 3, 10])
def test_plot_keeps_the_etf_line_and_the_names_inside(plt, K):
    from sknc.plotting import plot_label_report

    rng = np.random.default_rng(K)
    Y = np.eye(K, dtype=int)[rng.integers(0, K, 200)]
    W = np.ones((K, 3)) + 0.01 * rng.normal(size=(K, 3))  # all collapsed
    report = label_report(Y @ W + 0.1 * rng.normal(size=(200, 3)), Y, W)
    _, cos_ax = plot_label_report(report, annotate=True)
    bottom, top = cos_ax.get_ylim()
    assert bottom < -1.0 / (K - 1) < top
    cos_ax.figure.canvas.draw()
    box = cos_ax.get_window_extent()
    for text in cos_ax.texts:
        extent = text.get_window_extent()
        assert box.x0 - 1 <= extent.x0 and extent.x1 <= box.x1 + 1, text.get_text()


def test_plot_of_a_frame_with_named_nearest_labels(plt):
    pytest.importorskip("pandas")
    from sknc.plotting import plot_label_report

    frame = _collapsed_report(
        as_frame=True, label_names=["a", "b", "rare1", "rare2", "never"]
    )
    assert frame["nearest"].tolist()[2:4] == ["rare2", "rare1"]
    _, cos_ax = plot_label_report(frame)
    texts = [t.get_text() for t in cos_ax.texts]
    assert "rare1 \N{RIGHTWARDS ARROW} rare2" in texts


def test_plot_frequency_ticks_are_plain_numbers(plt):
    from sknc.plotting import plot_label_report

    norm_ax, _ = plot_label_report(_normalized_report())
    norm_ax.figure.canvas.draw()
    labels = [t.get_text() for t in norm_ax.get_xticklabels(minor=True)]
    labels += [t.get_text() for t in norm_ax.get_xticklabels()]
    assert any(labels) and not any("times" in s or "^" in s for s in labels)


def _long_tail_report(n_labels=12, seed=0):
    # frequencies from 0.5 down to ~0.02 (over one decade), a learned head
    # whose rare rows lean towards each other
    rng = np.random.default_rng(seed)
    freq = 0.5 * 0.75 ** np.arange(n_labels)
    Y = (rng.random((600, n_labels)) < freq).astype(int)
    Y[Y.sum(axis=1) == 0, 0] = 1
    W = rng.normal(size=(n_labels, 6))
    W[-4:] = W[-1] + 0.1 * rng.normal(size=(4, 6))
    H = Y @ W + 0.1 * rng.normal(size=(600, 6))
    return label_report(H, Y, W, label_names=[f"label{k}" for k in range(n_labels)])


def _labelled_ticks(ax):
    ax.figure.canvas.draw()
    lo, hi = sorted(ax.get_xlim())
    return [
        t.get_text()
        for t in ax.get_xticklabels() + ax.get_xticklabels(minor=True)
        if t.get_text() and lo <= t.get_position()[0] <= hi
    ]


def test_plot_frequency_axis_has_three_labelled_ticks(plt):
    from sknc.plotting import plot_label_report

    report = _long_tail_report()
    assert 10 < report.frequency.max() / report.frequency.min() < 100
    for ax in plot_label_report(report):
        assert ax.get_xscale() == "log"
        assert len(_labelled_ticks(ax)) >= 3
    # a small range: a linear axis, still with three labelled ticks
    Y = np.eye(3, dtype=int)[np.arange(90) % 3]
    W = np.eye(3)
    for ax in plot_label_report(label_report(Y @ W, Y, W)):
        assert ax.get_xscale() == "linear" and len(_labelled_ticks(ax)) >= 3


def test_plot_names_the_points_that_matter_apart(plt):
    from matplotlib.text import Text

    from sknc.plotting import plot_label_report

    report = _long_tail_report()
    axes = plot_label_report(report)
    axes[0].figure.canvas.draw()
    rarest = np.argsort(report.frequency)[:3]
    most = np.argsort(-report.max_cosine)[:3]
    for ax, arrow in zip(axes, (False, True), strict=True):
        texts = {t.get_text(): Text.get_window_extent(t) for t in ax.texts}
        named = {s.split(" \N{RIGHTWARDS ARROW}")[0] for s in texts}
        assert {f"label{k}" for k in rarest} <= named
        assert {f"label{k}" for k in most} <= named
        assert any("\N{RIGHTWARDS ARROW}" in s for s in texts) == arrow
        boxes = list(texts.values())
        for a, b in itertools.combinations(boxes, 2):
            assert not a.overlaps(b)
