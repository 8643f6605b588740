"""The ``geometry`` of the class means: simplex ETF or orthogonal frame."""

import math

import numpy as np
import pytest
import torch
from sklearn.pipeline import make_pipeline
from torch import nn

from sknc import NeuralCollapseScorer, PALClassifier, simplex_etf
from sknc.callbacks import NeuralCollapseTracker
from sknc.metrics import nc1, nc2, nc2_means, nc3, neural_collapse_report

from .conftest import FAST


def etf_to_orthogonal(K):
    """Distance between a simplex ETF at the origin and an orthogonal frame."""
    return math.sqrt(2 - 2 * math.sqrt((K - 1) / K))


def orthogonal_frame(K, d, *, scale=2.0, seed=0):
    """K mutually orthogonal rows of equal norm in R^d (not centred)."""
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, K)))
    return scale * Q.T


def on_means(M, per_label=3):
    """Features sitting on the rows of M, ``per_label`` samples per label."""
    K = M.shape[0]
    Y = np.repeat(np.eye(K, dtype=int), per_label, axis=0)
    return Y @ M, Y


# --------------------------------------------------------------------------
# Constructed frames
# --------------------------------------------------------------------------


@pytest.mark.parametrize("K", [2, 3, 5, 10])
def test_orthogonal_frame_is_zero_for_orthogonal(K):
    H, Y = on_means(orthogonal_frame(K, K + 3))
    assert nc2_means(H, Y, geometry="orthogonal") == pytest.approx(0, abs=1e-12)
    # its centred means are a simplex ETF, so the (default) ETF measure,
    # which centres the means, is 0 as well: the ETF is the weaker claim
    assert nc2_means(H, Y, geometry="etf") == pytest.approx(0, abs=1e-12)


@pytest.mark.parametrize("K", [2, 3, 5, 10])
def test_simplex_etf_is_zero_for_etf_only(K):
    H, Y = on_means(3.0 * simplex_etf(K, K + 2, random_state=0))
    assert nc2_means(H, Y) == pytest.approx(0, abs=1e-12)
    orthogonal = nc2_means(H, Y, geometry="orthogonal")
    assert orthogonal == pytest.approx(etf_to_orthogonal(K), rel=1e-10)
    assert orthogonal > 0.1


def test_orthogonal_measures_the_position_of_the_origin():
    M = orthogonal_frame(4, 6)
    H, Y = on_means(M)
    Q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((6, 6)))
    # rotation and scale do not matter
    assert nc2_means(5.0 * H @ Q, Y, geometry="orthogonal") == pytest.approx(
        0, abs=1e-12
    )
    # a translation does: the same means moved away from the origin
    moved = nc2_means(H + 10.0, Y, geometry="orthogonal")
    assert moved > 0.5
    assert nc2_means(H + 10.0, Y) == pytest.approx(0, abs=1e-10)  # ETF: unchanged


def test_non_negative_features_can_form_an_orthogonal_frame():
    # the orthogonal frame of a ReLU network: scaled coordinate vectors
    H, Y = on_means(np.hstack([3.0 * np.eye(4), np.zeros((4, 2))]))
    assert (H >= 0).all()
    assert nc2_means(H, Y, geometry="orthogonal") == pytest.approx(0, abs=1e-12)


def test_fewer_features_than_labels_cannot_be_orthogonal():
    H, Y = on_means(simplex_etf(4, 3, random_state=0) + 1.0)
    assert nc2_means(H, Y, geometry="orthogonal") > 0.1


def test_zero_means_are_nan_with_a_warning():
    H, Y = on_means(np.zeros((3, 4)))
    with pytest.warns(UserWarning, match="orthogonal-frame distance is undefined"):
        assert math.isnan(nc2_means(H, Y, geometry="orthogonal"))


# --------------------------------------------------------------------------
# The unconstrained-features model, with and without non-negative features
# --------------------------------------------------------------------------


def _ufm(non_negative, K=4, d=6, n=2, steps=4000, lam=5e-3):
    """Regularised cross-entropy UFM without a bias, by (projected) GD."""
    gen = torch.Generator().manual_seed(0)
    y = torch.arange(K).repeat_interleave(n)
    W = (torch.randn(K, d, dtype=torch.float64, generator=gen) * 0.1).requires_grad_()
    H = (
        torch.rand(len(y), d, dtype=torch.float64, generator=gen) * 0.1
    ).requires_grad_()
    for _ in range(steps):
        F = (
            nn.functional.cross_entropy(H @ W.T, y)
            + lam / 2 * (W**2).sum()
            + lam / 2 * (H**2).sum() / len(y)
        )
        gW, gH = torch.autograd.grad(F, [W, H])
        with torch.no_grad():
            W -= gW
            H -= len(y) * gH
            if non_negative:
                H.clamp_(min=0)
    return H.detach(), nn.functional.one_hot(y, K), W.detach()


@pytest.mark.slow
def test_ufm_with_non_negative_features_collapses_to_an_orthogonal_frame():
    H, Y, W = _ufm(non_negative=True)
    assert (H >= 0).all()
    assert nc1(H, Y) < 1e-12
    assert nc2_means(H, Y, geometry="orthogonal") < 1e-8
    # centred means, head and self-duality keep their ETF targets
    assert nc2_means(H, Y) < 1e-8
    assert nc2(W) < 1e-8
    assert nc3(H, Y, W) < 1e-8


@pytest.mark.slow
def test_ufm_with_free_features_collapses_to_a_simplex_etf():
    H, Y, W = _ufm(non_negative=False)
    assert nc2_means(H, Y) < 1e-8 and nc2(W) < 1e-8
    assert nc2_means(H, Y, geometry="orthogonal") == pytest.approx(
        etf_to_orthogonal(4), abs=1e-6
    )


# --------------------------------------------------------------------------
# The report, the scorer and the tracker pass it through
# --------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Y has no sample with two:UserWarning")
def test_report_uses_geometry_for_nc2_means_only():
    H, Y = on_means(orthogonal_frame(4, 6) + 0.5)
    W = simplex_etf(4, 6, random_state=0)
    etf = neural_collapse_report(H, Y, W, random_state=0)
    orth = neural_collapse_report(H, Y, W, random_state=0, geometry="orthogonal")
    assert etf["geometry"] == "etf" and orth["geometry"] == "orthogonal"
    assert orth["nc2_means"] == pytest.approx(
        nc2_means(H, Y, geometry="orthogonal"), abs=1e-12
    )
    assert orth["nc2_means"] != pytest.approx(etf["nc2_means"])
    for key in ("nc1", "nc2", "nc3", "ncm"):
        assert orth[key] == etf[key] or (math.isnan(orth[key]) and math.isnan(etf[key]))


@pytest.mark.parametrize(
    "call",
    [
        lambda H, Y: nc2_means(H, Y, geometry="simplex"),
        lambda H, Y: neural_collapse_report(H, Y, geometry="ETF"),
        lambda H, Y: NeuralCollapseScorer("nc2_means", geometry="relu").fit(H, Y),
    ],
    ids=["nc2_means", "report", "scorer"],
)
def test_bad_geometry_names_the_allowed_values(call):
    H, Y = on_means(orthogonal_frame(3, 4))
    # the allowed values, in any order
    with pytest.raises(ValueError, match="geometry(?=.*'etf')(?=.*'orthogonal')"):
        call(H, Y)


class ReLUBackbone(nn.Module):
    """A custom backbone whose features pass through a ReLU."""

    def __init__(self, n_features=12, width=16, feature_dim=8):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(n_features, width),
            nn.ReLU(),
            nn.Linear(width, feature_dim),
            nn.ReLU(),
        )

    def forward(self, X):
        return self.layers(X)


@pytest.mark.filterwarnings("ignore::sknc.metrics.NeuralCollapseWarning")
def test_scorer_and_tracker_pass_geometry_through(multilabel_data):
    X, Y = multilabel_data
    tracker = NeuralCollapseTracker(metrics=("nc2_means",), geometry="orthogonal")
    clf = PALClassifier(
        ReLUBackbone, **{**FAST, "max_epochs": 3}, callbacks=[tracker]
    ).fit(X, Y)
    H = clf.transform(X)
    assert (H >= 0).all()
    expected = nc2_means(H, Y, geometry="orthogonal")
    assert clf.history[-1, "train_nc2_means"] == pytest.approx(expected, rel=1e-5)
    scorer = NeuralCollapseScorer("nc2_means", geometry="orthogonal")
    assert scorer(clf, X, Y) == pytest.approx(-expected, rel=1e-6)
    step = make_pipeline(clf, NeuralCollapseScorer(geometry="orthogonal")).fit(X, Y)
    assert step[-1].report_["geometry"] == "orthogonal"


def test_tracker_rejects_a_bad_geometry(multilabel_data):
    X, Y = multilabel_data
    clf = PALClassifier(**FAST, callbacks=[NeuralCollapseTracker(geometry="relu")])
    with pytest.raises(ValueError, match=r"'geometry' parameter .* a str among"):
        clf.fit(X, Y)
