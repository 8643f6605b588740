"""Tests of the unconstrained-feature-model simulator (sknc.ufm)."""

import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.exceptions import ConvergenceWarning

from sknc import PALCrossEntropyLoss
from sknc.metrics import NeuralCollapseWarning
from sknc.ufm import (
    UFMResult,
    collapsed_optimum,
    make_label_structure,
    simulate_ufm,
)

LOSSES = ["pal", "pal_n", "pal_ls", "pal_focal", "pal_mse"]


def quiet_simulate(Y, **kwargs):
    """simulate_ufm without its warnings (NaN metrics, short runs)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return simulate_ufm(Y, **kwargs)


@pytest.fixture(scope="module")
def pairs_result():
    Y = make_label_structure(5, {1: 6, 2: 3, 3: 2})
    return Y, simulate_ufm(Y, record_every=500, random_state=0)


# --------------------------------------------------------------------------
# make_label_structure
# --------------------------------------------------------------------------


def test_label_structure_balanced():
    Y = make_label_structure(4, {1: 3, 2: 2})
    assert Y.shape == (4 * 3 + 6 * 2, 4)
    assert Y.dtype == np.int64
    sets, counts = np.unique(Y, axis=0, return_counts=True)
    sizes = sets.sum(1)
    assert (counts[sizes == 1] == 3).all() and (counts[sizes == 2] == 2).all()
    assert (np.diff(Y.sum(1)) >= 0).all()  # ordered by multiplicity


def test_label_structure_weights_and_explicit_sets():
    Y = make_label_structure(
        4, {0: 2, 1: 10, 2: 5, (0, 1): 0, (2, 3, 1): 7}, label_weights=[1, 1, 1, 0.2]
    )
    rows = {tuple(np.flatnonzero(y)): 0 for y in Y}
    for y in Y:
        rows[tuple(np.flatnonzero(y))] += 1
    assert rows[()] == 2
    assert rows[(0,)] == 10 and rows[(3,)] == 2
    assert (0, 1) not in rows  # a missing set
    assert rows[(0, 3)] == 1 and rows[(1, 2)] == 5
    assert rows[(1, 2, 3)] == 7  # explicit counts ignore the weights


@pytest.mark.parametrize(
    "counts, kwargs, match",
    [
        ({5: 1}, {}, "multiplicity key"),
        ({(0, 0): 1}, {}, "distinct label indices"),
        ({(0, 4): 1}, {}, "distinct label indices"),
        ({"a": 1}, {}, "multiplicity .int. or a label set"),
        ({1: -1}, {}, ">= 0"),
        ({1: 1.5}, {}, "non-negative ints"),
        ({1: 0}, {}, "no sample at all"),
        ({1: 1}, {"label_weights": [1, 1]}, "4 positive finite"),
        ({1: 1}, {"label_weights": [1, 1, 0, 1]}, "4 positive finite"),
    ],
    ids=[
        "m-too-big",
        "repeated-label",
        "label-out-of-range",
        "bad-key",
        "negative",
        "float-count",
        "empty",
        "weights-shape",
        "zero-weight",
    ],
)
def test_label_structure_errors(counts, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_label_structure(4, counts, **kwargs)


# --------------------------------------------------------------------------
# simulate_ufm: the collapsed optimum
# --------------------------------------------------------------------------


@pytest.mark.slow
def test_multiclass_collapse():
    Y = make_label_structure(6, {1: 8})
    result = simulate_ufm(Y, feature_dim=8, record_every=200, random_state=0)
    assert isinstance(result, UFMResult)
    assert result.converged and result.grad_norm <= 1e-6
    first, last = result.history[0], result.history[-1]
    assert first["nc1"] > 1 and first["nc2"] > 0.3 and first["nc3"] > 0.3
    assert last["nc1"] < 1e-9
    assert last["nc2"] < 1e-4 and last["nc2_means"] < 1e-4 and last["nc3"] < 1e-4
    assert math.isnan(last["ncm"])
    assert result.H.shape == (48, 8) and result.W.shape == (6, 8) and result.b is None
    # the objective decreases along the gradient steps
    objectives = [row["objective"] for row in result.history]
    assert (np.diff(objectives) <= 1e-12).all()
    assert "UFMResult(n_samples=48" in repr(result)


def test_tagwise_average_and_rho(pairs_result):
    Y, result = pairs_result
    last = result.history[-1]
    assert last["phase"] in ("gd", "lbfgs")
    assert result.history[0]["ncm"] > 0.3
    assert last["ncm"] < 1e-4 and last["nc1"] < 1e-9
    predicted = collapsed_optimum(Y)
    assert set(predicted["rho"]) == {2, 3}
    for m in (2, 3):
        assert last[f"rho_{m}"] == pytest.approx(predicted["rho"][m], abs=1e-5)
        assert result.report["rho"][m] == last[f"rho_{m}"]
    assert predicted["rho"][2] > 1 and predicted["rho"][3] > predicted["rho"][2]
    alpha = np.linalg.norm(result.W, axis=1)
    assert alpha == pytest.approx(predicted["alpha"], rel=1e-5)
    assert result.objective == pytest.approx(predicted["objective"], abs=1e-10)


def test_closed_form_rho2():
    """rho_2 = 2 (e^x1 + K - 1) / (2 e^x2 + K - 2) at the predicted optimum."""
    K = 6
    Y = make_label_structure(K, {1: 10, 2: 5})
    opt = collapsed_optimum(Y)
    alpha, b1, b2 = opt["alpha"], opt["beta"][1], opt["beta"][2]
    x1, x2 = alpha * b1 * K / (K - 1), alpha * b2 * K / (2 * (K - 1))
    lam = 5e-3
    assert lam * b1 == pytest.approx(alpha * K / (math.exp(x1) + K - 1), rel=1e-8)
    closed = 2 * (math.exp(x1) + K - 1) / (2 * math.exp(x2) + K - 2)
    assert opt["rho"][2] == pytest.approx(closed, rel=1e-8)
    assert opt["rho"][2] == pytest.approx(1.811204, abs=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("loss", LOSSES)
def test_every_loss(loss):
    Y = make_label_structure(4, {1: 4, 2: 2})
    bias = loss == "pal_mse"
    result = quiet_simulate(
        Y, loss=loss, bias=bias, n_steps=300, record_every=None, random_state=0
    )
    assert [row["phase"] for row in result.history][0] == "gd"
    assert len(result.history) in (2, 3)
    assert np.isfinite(result.H).all() and np.isfinite(result.W).all()
    assert result.history[-1]["ncm"] < 0.05
    predicted = collapsed_optimum(Y, loss=loss, bias=bias)
    assert result.history[-1]["rho_2"] == pytest.approx(predicted["rho"][2], rel=1e-3)


def test_loss_object_and_params():
    Y = make_label_structure(4, {1: 4, 2: 2})
    kwargs = {"n_steps": 50, "lbfgs_iter": 0, "record_every": None}
    by_name = quiet_simulate(Y, loss="pal_n", random_state=0, **kwargs)
    by_object = quiet_simulate(
        Y, loss=PALCrossEntropyLoss(normalize=True), random_state=0, **kwargs
    )
    np.testing.assert_array_equal(by_name.H, by_object.H)
    smoothed = quiet_simulate(
        Y, loss="pal_ls", loss_params={"label_smoothing": 0.3}, random_state=0, **kwargs
    )
    default = quiet_simulate(Y, loss="pal_ls", random_state=0, **kwargs)
    assert smoothed.objective != default.objective
    with pytest.raises(ValueError, match="loss_params only applies"):
        simulate_ufm(Y, loss=PALCrossEntropyLoss(), loss_params={"normalize": True})
    with pytest.raises(ValueError, match="scalar tensor"):
        simulate_ufm(Y, loss=PALCrossEntropyLoss(reduction="none"))


@pytest.mark.slow
def test_mse_needs_bias_for_nc2():
    """Without a bias the square loss spends a shared direction: NC2 of W."""
    Y = make_label_structure(4, {1: 4, 2: 2})
    free = quiet_simulate(Y, loss="pal_mse", feature_dim=6, record_every=None)
    biased = quiet_simulate(
        Y, loss="pal_mse", bias=True, feature_dim=6, record_every=None
    )
    assert free.report["nc2"] > 0.3 and free.report["nc2_means"] < 1e-4
    assert biased.report["nc2"] < 1e-4
    assert biased.b == pytest.approx(
        np.full(4, collapsed_optimum(Y, loss="pal_mse", bias=True)["offset"]),
        abs=1e-5,
    )
    with pytest.raises(ValueError, match="Pass bias=True"):
        collapsed_optimum(Y, loss="pal_mse")


@pytest.mark.slow
def test_etf_head():
    Y = make_label_structure(5, {1: 4, 2: 2})
    learned = quiet_simulate(Y, head="etf", record_every=None, random_state=0)
    assert learned.report["nc2"] < 1e-12
    linear = quiet_simulate(Y, record_every=None, random_state=0)
    assert learned.objective == pytest.approx(linear.objective, abs=1e-10)
    fixed = quiet_simulate(
        Y, head="etf", etf_scale=2.0, feature_dim=4, record_every=None, random_state=0
    )
    assert np.linalg.norm(fixed.W, axis=1) == pytest.approx(2.0)
    predicted = collapsed_optimum(Y, etf_scale=2.0)
    assert fixed.report["rho"][2] == pytest.approx(predicted["rho"][2], abs=1e-5)
    with pytest.raises(ValueError, match="feature_dim >= n_labels - 1"):
        simulate_ufm(Y, head="etf", feature_dim=3)


@pytest.mark.slow
def test_unlabeled_rows_and_missing_sets():
    Y = make_label_structure(4, {0: 3, 1: 4, 2: 2, (0, 1): 0})
    result = quiet_simulate(Y, record_every=None, random_state=0)
    empty = Y.sum(1) == 0
    assert np.abs(result.H[empty]).max() < 1e-6  # feature decay only
    assert result.report["n_unlabeled"] == 3
    with pytest.raises(ValueError, match="multiplicity 2 has 5 of its 6 sets"):
        collapsed_optimum(Y)


def minority_cosines(R, lam=0.05):
    """Cosines of the classifier rows: labels 0-2 with R samples, 3-5 with 1."""
    counts = {(k,): R if k < 3 else 1 for k in range(6)}
    result = quiet_simulate(
        make_label_structure(6, counts),
        lambda_W=lam,
        lambda_H=lam,
        record_every=None,
        random_state=0,
    )
    Wn = result.W / np.linalg.norm(result.W, axis=1, keepdims=True)
    return Wn @ Wn.T


@pytest.mark.slow
def test_minority_collapse():
    """Rare labels' classifier rows merge once n_minor / N < lambda_W lambda_H."""
    # 1 / (3 * 200 + 3) = 1.7e-3 < 0.05**2: collapsed
    cos = minority_cosines(200)
    assert cos[3:, 3:].min() > 1 - 1e-5  # the three minority rows coincide
    assert cos[:3, :3][np.triu_indices(3, 1)].max() < -0.3
    # 1 / (3 * 50 + 3) = 6.5e-3 > 0.05**2: separate, but closer than an ETF
    cos = minority_cosines(50)
    off = cos[3:, 3:][np.triu_indices(3, 1)]
    assert (off < 0.99).all() and (off > 0).all()
    # balanced: a simplex ETF, cosines -1/(K-1)
    cos = minority_cosines(1)
    assert cos[np.triu_indices(6, 1)] == pytest.approx(-1 / 5, abs=1e-4)


# --------------------------------------------------------------------------
# Determinism, recording, options, errors
# --------------------------------------------------------------------------


def test_determinism():
    Y = make_label_structure(4, {1: 4, 2: 2})
    kwargs = {"n_steps": 100, "lbfgs_iter": 20, "record_every": 50}
    a = quiet_simulate(Y, random_state=3, **kwargs)
    b = quiet_simulate(Y, random_state=3, **kwargs)
    c = quiet_simulate(Y, random_state=4, **kwargs)
    np.testing.assert_array_equal(a.H, b.H)
    np.testing.assert_array_equal(a.W, b.W)
    assert a.history == b.history
    assert not np.array_equal(a.H, c.H)
    assert [row["step"] for row in a.history] == [0, 50, 100, 100 + a.n_lbfgs_iter]
    assert [row["phase"] for row in a.history] == ["gd", "gd", "gd", "lbfgs"]


def test_warnings_once_and_convergence_warning():
    # label 3 never occurs: the metrics warn at every record
    Y = make_label_structure(4, {(0,): 3, (1,): 3, (0, 2): 2, (0, 1): 2})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        simulate_ufm(Y, n_steps=20, lbfgs_iter=0, record_every=5)
    nc = [str(w.message) for w in caught if w.category is NeuralCollapseWarning]
    assert nc and len(nc) == len(set(nc))  # each message once, not per record
    assert any("label" in m for m in nc)
    assert caught[0].filename == __file__  # points at the caller
    converge = [w for w in caught if w.category is ConvergenceWarning]
    assert len(converge) == 1
    assert "did not reach the optimum" in str(converge[0].message)


@pytest.mark.slow
def test_single_labels_do_not_warn():
    Y = make_label_structure(3, {1: 3})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = simulate_ufm(Y, random_state=0, record_every=None)
    assert math.isnan(result.history[-1]["ncm"]) and result.report["rho"] == {}


@pytest.mark.slow
def test_early_stop_and_float32():
    Y = make_label_structure(4, {1: 4, 2: 2})
    result = quiet_simulate(Y, n_steps=5000, tol=1e-3, random_state=0)
    assert result.converged and result.n_steps < 5000 and result.n_lbfgs_iter == 0
    single = quiet_simulate(Y, dtype="float32", random_state=0, record_every=None)
    assert single.H.dtype == np.float64  # returned as float64 arrays
    assert single.report["ncm"] < 1e-2
    sparse_Y = quiet_simulate(
        sp.csr_matrix(Y),
        n_steps=10,
        lbfgs_iter=0,
        random_state=0,
    )
    dense_Y = quiet_simulate(Y, n_steps=10, lbfgs_iter=0, random_state=0)
    np.testing.assert_array_equal(sparse_Y.H, dense_Y.H)


@pytest.mark.parametrize(
    "Y, kwargs, error, match",
    [
        (np.array([[1, 0], [0, 2]]), {}, ValueError, "0/1 label indicator"),
        (np.array([1, 0, 1]), {}, ValueError, "2-D"),
        (np.ones((3, 1)), {}, ValueError, "two labels"),
        (np.eye(3), {"loss": "bce"}, ValueError, "'loss' parameter"),
        (np.eye(3), {"lambda_W": -1.0}, ValueError, "'lambda_W' parameter"),
        (np.eye(3), {"lambda_H": -1e-3}, ValueError, "'lambda_H' parameter"),
        (np.eye(3), {"lr": 0}, ValueError, "'lr' parameter"),
        (np.eye(3), {"head": "cosine"}, ValueError, "'head' parameter"),
        (np.eye(3), {"dtype": torch.int64}, ValueError, "floating-point"),
        (np.eye(3), {"lr": 1e6}, FloatingPointError, "Lower lr"),
    ],
    ids=[
        "non-binary",
        "1-d",
        "one-label",
        "loss-name",
        "lambda-W",
        "lambda-H",
        "lr",
        "head",
        "dtype",
        "diverged",
    ],
)
def test_errors(Y, kwargs, error, match):
    with pytest.raises(error, match=match):
        quiet_simulate(Y, **kwargs)


def test_collapsed_optimum_errors():
    with pytest.raises(ValueError, match="no multiplicity-1 sample"):
        collapsed_optimum(make_label_structure(4, {2: 1}))
    with pytest.raises(ValueError, match="3 to 6 samples"):
        collapsed_optimum(make_label_structure(4, {1: 3, (2,): 6}))
    with pytest.raises(ValueError, match="'lambda_H' parameter"):
        collapsed_optimum(np.eye(3), lambda_H=0.0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.gpu
def test_cuda_matches_cpu():
    Y = make_label_structure(4, {1: 4, 2: 2})
    kwargs = {"n_steps": 200, "lbfgs_iter": 0, "record_every": None}
    cpu = quiet_simulate(Y, random_state=0, **kwargs)
    gpu = quiet_simulate(Y, random_state=0, device="cuda", **kwargs)
    np.testing.assert_allclose(cpu.H, gpu.H, atol=1e-8)


def test_collapsed_optimum_of_the_symmetrised_structure():
    balanced = make_label_structure(4, {1: 6, 2: 2})  # 24 singles, 12 pairs
    exact = collapsed_optimum(balanced)
    same = collapsed_optimum(balanced, symmetrize=True)
    assert same["rho"] == pytest.approx(exact["rho"], rel=1e-9)
    assert same["objective"] == pytest.approx(exact["objective"], rel=1e-12)
    # the same shares of multiplicities, unevenly spread: the same prediction
    uneven = make_label_structure(4, {(0,): 10, (1,): 8, (2,): 4, (3,): 2, (0, 1): 12})
    with pytest.raises(ValueError, match="every label set of a multiplicity"):
        collapsed_optimum(uneven)
    uneven_optimum = collapsed_optimum(uneven, symmetrize=True)
    assert uneven_optimum["rho"] == pytest.approx(exact["rho"], rel=1e-9)
    assert uneven_optimum["alpha"] == pytest.approx(exact["alpha"], rel=1e-9)
