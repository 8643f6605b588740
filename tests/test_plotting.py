"""sknc.plotting: returned axes and artists (Agg backend, no pixel checks)."""

import itertools
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sknc import FixedETFClassifier, simplex_etf  # noqa: E402
from sknc.callbacks import NeuralCollapseTracker  # noqa: E402
from sknc.metrics import NeuralCollapseWarning  # noqa: E402
from sknc.model_selection import MultilabelStratifiedValidSplit  # noqa: E402
from sknc.plotting import plot_feature_geometry, plot_nc_history  # noqa: E402

from .conftest import FAST  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _history():
    return [
        {"epoch": e, "train_nc1": 1.0 / e, "valid_nc1": 2.0 / e, "nc2": 0.5 / e}
        for e in range(1, 7)
    ]


# --------------------------------------------------------------------------
# plot_nc_history
# --------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::sknc.metrics.NeuralCollapseWarning")
def test_history_of_a_fitted_net(multilabel_data):
    X, Y = multilabel_data
    clf = FixedETFClassifier(
        **FAST,
        train_split=MultilabelStratifiedValidSplit(0.25, random_state=0),
        callbacks=[NeuralCollapseTracker(every=2, on_valid=True, random_state=0)],
    ).fit(X, Y)
    ax = plot_nc_history(clf)
    labels = [line.get_label() for line in ax.get_lines()]
    # the fixed ETF head's NC2 is constant: left out by default
    assert labels == [
        f"{name} ({part})"
        for name in ("NC1", "NC2 (class means)", "NC3", "NCm")
        for part in ("train", "valid")
    ]
    for line in ax.get_lines():
        np.testing.assert_array_equal(line.get_xdata(), [2, 4])
    train, valid = ax.get_lines()[:2]
    assert train.get_linestyle() == "-" and valid.get_linestyle() == "--"
    assert train.get_color() == valid.get_color()
    np.testing.assert_allclose(train.get_ydata(), clf.history[:, "train_nc1"])
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "epoch" and ax.get_title()
    assert len(ax.get_legend().get_texts()) == 8


def test_history_metrics_and_given_axes():
    _, ax = plt.subplots()
    out = plot_nc_history(_history(), metrics=["nc2", "nc1"], ax=ax, log_scale=False)
    assert out is ax
    assert [line.get_label() for line in ax.get_lines()] == [
        "NC2 (head)",
        "NC1 (train)",
        "NC1 (valid)",
    ]
    assert ax.get_yscale() == "linear"


def test_history_leaves_out_curves_a_log_scale_cannot_show():
    history = [{"epoch": e, "train_nc1": 1.0 / e, "nc2": 0.0} for e in (1, 2)]
    with pytest.warns(UserWarning, match="no positive value"):
        ax = plot_nc_history(history, metrics=["nc1", "nc2"])
    assert [line.get_label() for line in ax.get_lines()] == ["NC1 (train)"]


def test_history_errors():
    with pytest.raises(ValueError, match="NeuralCollapseTracker"):
        plot_nc_history([{"epoch": 1, "train_loss": 0.3}])
    with pytest.raises(TypeError, match="history"):
        plot_nc_history(42)


# --------------------------------------------------------------------------
# plot_feature_geometry
# --------------------------------------------------------------------------


def _collapsed(K=5, d=7, rho=1.5):
    M = simplex_etf(K, d, random_state=0)
    rows = [np.eye(K, dtype=int)[k] for k in range(K) for _ in range(3)]
    for a, b in itertools.combinations(range(K), 2):
        y = np.zeros(K, dtype=int)
        y[[a, b]] = 1
        rows += [y] * 2
    Y = np.array(rows)
    H = (Y @ M) / Y.sum(axis=1, keepdims=True)
    H[Y.sum(axis=1) == 2] *= rho
    return H + 3.0, Y  # off the origin: the plot centres at mu_G


def test_geometry_of_collapsed_features():
    K = 5
    H, Y = _collapsed(K)
    ax = plot_feature_geometry(H, Y, label_names=list("abcde"))
    edges, links, means, mids, pairs = ax.collections
    P = means.get_offsets()
    assert len(P) == K and len(pairs.get_offsets()) == len(mids.get_offsets()) == 10
    assert len(edges.get_segments()) == len(links.get_segments()) == 10
    # polygon projection: a simplex ETF becomes a regular K-gon, labels in order
    radius = np.linalg.norm(P, axis=1)
    np.testing.assert_allclose(radius, radius[0])
    angles = np.angle(P[:, 0] + 1j * P[:, 1])
    np.testing.assert_allclose(np.diff(np.unwrap(angles)) % (2 * np.pi), 2 * np.pi / K)
    # pair means at rho_2 = 1.5 times their tag-wise averages (edge midpoints)
    for (a, b), mid, pair in zip(
        itertools.combinations(range(K), 2),
        mids.get_offsets(),
        pairs.get_offsets(),
        strict=True,
    ):
        np.testing.assert_allclose(mid, (P[a] + P[b]) / 2, atol=1e-12)
        np.testing.assert_allclose(pair, 1.5 * mid, atol=1e-12)
    assert "1.50" in pairs.get_label()
    texts = [t.get_text() for t in ax.texts]
    assert texts[:K] == list("abcde") and len(texts) == K + 10  # pairs annotated
    assert "a,b" in texts
    assert ax.get_legend() is not None and ax.get_title()


def test_geometry_options():
    H, Y = _collapsed(4, 6)
    _, ax = plt.subplots()
    out = plot_feature_geometry(
        H, Y, ax=ax, projection="svd", show_samples=True, annotate_pairs=False
    )
    assert out is ax
    samples = ax.collections[0]
    assert len(samples.get_offsets()) == 4 * 3  # the multiplicity-1 samples
    assert len(ax.collections) == 6 and len(ax.texts) == 4
    assert "SVD" in ax.get_title()


def test_geometry_two_labels():
    # a 2-point simplex is a segment: the plane is completed from the pair
    # (and with two labels the pair's tag-wise average is the centre: no rho)
    H, Y = _collapsed(3, 4)
    keep = Y[:, 2] == 0
    with pytest.warns(NeuralCollapseWarning, match="rho for multiplicity 2"):
        ax = plot_feature_geometry(H[keep], Y[keep][:, :2])
    means = ax.collections[2].get_offsets()
    assert means.shape == (2, 2) and np.isfinite(means).all()
    assert np.linalg.norm(means[0] - means[1]) > 0.5
    assert "nan" in ax.collections[-1].get_label()


def test_geometry_errors():
    H, Y = _collapsed(3, 4)
    with pytest.raises(ValueError, match="projection"):
        plot_feature_geometry(H, Y, projection="tsne")
    with pytest.raises(ValueError, match="label_names"):
        plot_feature_geometry(H, Y, label_names=["a", "b"])
    only_pairs = Y.sum(axis=1) == 2
    with pytest.warns(UserWarning, match="at least 2"):
        ax = plot_feature_geometry(
            H[only_pairs], Y[only_pairs], label_means="singletons"
        )
    assert "at least 2 labels" in ax.texts[0].get_text() and not ax.collections


def test_geometry_without_single_labels_fits_the_means():
    # no multiplicity-1 sample: 'auto' fits the class means to the pairs
    H, Y = _collapsed(3, 4)
    only_pairs = Y.sum(axis=1) == 2
    with pytest.warns(NeuralCollapseWarning, match="do not fix the scale"):
        ax = plot_feature_geometry(H[only_pairs], Y[only_pairs])
    assert len(ax.collections) == 5
    one_label = np.zeros_like(Y)
    one_label[:, 0] = 1
    with pytest.warns(UserWarning, match="only 1 label"):
        ax = plot_feature_geometry(H, one_label)
    assert "only 1 label(s) have a" in ax.texts[0].get_text()


def test_history_all_nan_is_explained():
    history = [
        {"epoch": e, "train_ncm": float("nan"), "train_nc1": 1.0 / e}
        for e in range(1, 4)
    ]
    with pytest.warns(UserWarning, match="NaN at every recorded epoch"):
        ax = plot_nc_history(history)
    assert [line.get_label() for line in ax.get_lines()] == ["NC1 (train)"]


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[plot\]"'):
        plot_nc_history(_history())


# --------------------------------------------------------------------------
# Readability (#18)
# --------------------------------------------------------------------------


def _inside(ax, xy):
    (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
    return x0 <= xy[0] <= x1 and y0 <= xy[1] <= y1


def test_geometry_draws_the_most_frequent_pairs_by_default():
    K = 10
    H, Y = _collapsed(K, 12)
    # pair (0, 1) is the most frequent: 5 more rows
    extra = np.zeros((5, K), dtype=int)
    extra[:, [0, 1]] = 1
    H = np.concatenate([H, np.repeat(H[(Y[:, 0] == 1) & (Y[:, 1] == 1)][:1], 5, 0)])
    Y = np.concatenate([Y, extra])
    ax = plot_feature_geometry(H, Y)
    edges, links, means, mids, pairs = ax.collections
    assert len(pairs.get_offsets()) == 10 and len(edges.get_segments()) == 10
    assert "10 most frequent of 45 pairs shown" in pairs.get_label()
    assert "0,1" in [t.get_text() for t in ax.texts]  # annotated: 10 pairs
    ax = plot_feature_geometry(H, Y, max_pairs=None)
    assert len(ax.collections[-1].get_offsets()) == 45
    assert "shown" not in ax.collections[-1].get_label()
    with pytest.raises(Exception, match="max_pairs"):
        plot_feature_geometry(H, Y, max_pairs=0)


def test_geometry_keeps_every_vertex_name_and_the_legend_off_the_points():
    H, Y = _collapsed(10, 12)
    ax = plot_feature_geometry(H, Y, max_pairs=3)
    ax.figure.canvas.draw()
    names = [t for t in ax.texts if t.get_text() in {str(k) for k in range(10)}]
    assert len(names) == 10
    assert all(_inside(ax, t.xy) for t in names)
    legend = ax.get_legend().get_window_extent()
    assert legend.y1 <= ax.get_window_extent().y0  # below the axes


# --------------------------------------------------------------------------
# Readability (#27)
# --------------------------------------------------------------------------


def _text_boxes(ax):
    from matplotlib.text import Text

    ax.figure.canvas.draw()
    # the text alone: an Annotation's extent includes its leader line
    return [(t.get_text(), Text.get_window_extent(t)) for t in ax.texts]


def _overlapping(ax):
    boxes = _text_boxes(ax)
    return [
        (a, b)
        for (a, x), (b, y) in itertools.combinations(boxes, 2)
        if x.overlaps(y) and x.width and y.width
    ]


def _crowded(K=8, d=10, seed=0):
    # labels in close groups of three, and every pair of neighbours
    rng = np.random.default_rng(seed)
    M = simplex_etf(K, d, random_state=0)
    M[1] = M[0] + 0.05 * rng.normal(size=d)
    M[2] = M[0] + 0.05 * rng.normal(size=d)
    M[4] = M[3] + 0.05 * rng.normal(size=d)
    rows = [np.eye(K, dtype=int)[k] for k in range(K) for _ in range(3)]
    for a in range(K):
        y = np.zeros(K, dtype=int)
        y[[a, (a + 1) % K]] = 1
        rows += [y] * 3
    Y = np.array(rows)
    H = Y @ M / Y.sum(axis=1, keepdims=True) + 0.01 * rng.normal(size=(len(Y), d))
    return H, Y


def test_geometry_names_do_not_overlap():
    H, Y = _crowded()
    names = [f"label{k}" for k in range(Y.shape[1])]
    ax = plot_feature_geometry(H, Y, label_names=names)
    texts = [t.get_text() for t in ax.texts]
    assert texts[: len(names)] == names  # every vertex is named
    assert len(texts) > len(names)  # and pairs too
    assert _overlapping(ax) == []
    # nor do they cover a vertex
    centres = ax.transData.transform(ax.collections[-3].get_offsets())
    for text, box in _text_boxes(ax):
        assert not any(box.contains(x, y) for x, y in centres), text


def test_geometry_samples_of_the_pairs_when_single_rows_are_few():
    # only label 0 has single-label rows (as on yeast): the class means are
    # fitted to all rows, and the samples drawn are those of every drawn set
    K = 5
    H, Y = _collapsed(K)
    keep = (Y.sum(axis=1) == 2) | (Y[:, 0] == 1)
    H, Y = H[keep], Y[keep]
    n_single = int((Y.sum(axis=1) == 1).sum())
    ax = plot_feature_geometry(H, Y, show_samples=True, max_pairs=4)
    singles, pairs = ax.collections[:2]
    assert len(singles.get_offsets()) == n_single == 3
    assert len(pairs.get_offsets()) == 4 * 2  # the rows of the 4 pairs drawn
    assert "fitted to all rows" in ax.collections[4].get_label()
    # 'singletons' draws the single-label rows alone
    ax = plot_feature_geometry(H, Y, show_samples="singletons", max_pairs=4)
    assert len(ax.collections) == 6
    with pytest.raises(ValueError, match="show_samples"):
        plot_feature_geometry(H, Y, show_samples="all")


def test_nc1_note_when_validation_nc1_is_far_above_training():
    history = [
        {"epoch": e, "train_nc1": 1.0 / e, "valid_nc1": 300.0 + e} for e in (1, 2, 3)
    ]
    ax = plot_nc_history(history)
    notes = [t for t in ax.texts if "Validation NC1" in t.get_text()]
    assert len(notes) == 1 and "pseudo-inverse" in notes[0].get_text()
    ax.figure.canvas.draw()
    box = notes[0].get_window_extent()
    assert box.y1 < ax.get_window_extent().y0  # below the axes
    assert box.x1 <= ax.figure.bbox.x1 + 1  # and inside the figure
    assert not plot_nc_history(_history()).texts  # valid within 10x: no note
