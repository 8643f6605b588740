import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sknc import FixedETFClassifier, PALClassifier, PALCrossEntropyLoss
from sknc._loss import PALFocalLoss, PALMSELoss, _log1m_softmax

from .conftest import FAST


def test_one_hot_rows_equal_cross_entropy():
    logits = torch.randn(8, 5)
    labels = torch.randint(0, 5, (8,))
    one_hot = F.one_hot(labels, 5).float()
    expected = F.cross_entropy(logits, labels)
    assert torch.allclose(PALCrossEntropyLoss()(logits, one_hot), expected)
    assert torch.allclose(PALCrossEntropyLoss()(logits, labels), expected)


def test_pal_sums_one_cross_entropy_per_positive_label():
    logits = torch.tensor([[1.0, 2.0, 3.0, 0.5]])
    Y = torch.tensor([[1.0, 0.0, 1.0, 1.0]])
    log_p = torch.log_softmax(logits, dim=1)[0]
    expected = -(log_p[0] + log_p[2] + log_p[3])
    assert torch.allclose(PALCrossEntropyLoss()(logits, Y), expected)


def test_pal_n_divides_each_sample_by_its_multiplicity():
    logits = torch.randn(6, 4)
    Y = torch.tensor(
        [
            [1, 0, 0, 0],
            [1, 1, 0, 0],
            [1, 1, 1, 0],
            [1, 1, 1, 1],
            [0, 1, 0, 1],
            [0, 0, 1, 0],
        ],
        dtype=torch.float32,
    )
    pal = PALCrossEntropyLoss(reduction="none")(logits, Y)
    paln = PALCrossEntropyLoss(normalize=True, reduction="none")(logits, Y)
    assert torch.allclose(paln, pal / Y.sum(1))


def test_rows_without_labels_contribute_zero():
    logits = torch.randn(3, 4)
    Y = torch.tensor([[0, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]], dtype=torch.float32)
    for normalize in (False, True):
        per_sample = PALCrossEntropyLoss(normalize, reduction="none")(logits, Y)
        assert per_sample[0] == 0 and per_sample[2] == 0
        assert per_sample[1] > 0
        # the mean still divides by the whole batch
        mean = PALCrossEntropyLoss(normalize)(logits, Y)
        assert torch.allclose(mean, per_sample[1] / 3)


def test_soft_targets_weight_each_term():
    logits = torch.randn(2, 3)
    soft = torch.tensor([[0.5, 0.5, 0.0], [0.2, 0.0, 0.8]])
    log_p = torch.log_softmax(logits, dim=1)
    expected = -(soft * log_p).sum(1).mean()
    assert torch.allclose(PALCrossEntropyLoss()(logits, soft), expected)


@pytest.mark.parametrize("normalize", [False, True])
def test_finite_loss_and_gradients_for_huge_logits(normalize):
    logits = (torch.tensor([[1.0, -1.0, 0.5, -0.5]]) * 1e4).requires_grad_()
    Y = torch.tensor([[0.0, 1.0, 0.0, 1.0]])  # the labels with the lowest logits
    loss = PALCrossEntropyLoss(normalize)(logits, Y)
    loss.backward()
    assert torch.isfinite(loss) and loss > 1e4
    assert torch.isfinite(logits.grad).all()


def test_sum_reduction_and_loss_is_nonnegative():
    logits = torch.randn(10, 6)
    Y = (torch.rand(10, 6) > 0.5).float()
    total = PALCrossEntropyLoss(reduction="sum")(logits, Y)
    per = PALCrossEntropyLoss(reduction="none")(logits, Y)
    assert torch.allclose(total, per.sum())
    assert (per >= 0).all()


def test_bad_shapes_and_reduction_raise():
    with pytest.raises(ValueError, match="reduction must be"):
        PALCrossEntropyLoss(reduction="max")
    with pytest.raises(ValueError, match=r"target must be \(N,\) class indices"):
        PALCrossEntropyLoss()(torch.randn(4, 3), torch.ones(4, 2))
    with pytest.raises(ValueError, match=r"logits must have shape \(N, K\)"):
        PALCrossEntropyLoss()(torch.randn(4), torch.ones(4))


# --------------------------------------------------------------------------
# The PAL family: label smoothing, focal, rescaled square loss.
# --------------------------------------------------------------------------
FAMILY = [
    lambda **kw: PALCrossEntropyLoss(**kw),
    lambda **kw: PALCrossEntropyLoss(label_smoothing=0.2, **kw),
    lambda **kw: PALFocalLoss(**kw),
    lambda **kw: PALFocalLoss(gamma=0.5, **kw),
    lambda **kw: PALMSELoss(**kw),
    lambda **kw: PALMSELoss(kappa=3.0, M=5.0, **kw),
]
FAMILY_IDS = ["pal", "pal_ls", "focal", "focal_0.5", "mse", "mse_3_5"]

MULTI_Y = torch.tensor(
    [
        [1, 0, 0, 0],
        [1, 1, 0, 0],
        [0, 0, 0, 0],
        [1, 1, 1, 0],
        [1, 1, 1, 1],
        [0, 1, 0, 1],
    ],
    dtype=torch.float32,
)


def _reference(name, logits, Y, normalize=False, **params):
    """Per-sample loss by the definition: sum over k in S of l(z, k)."""
    N, K = logits.shape
    log_p = torch.log_softmax(logits.double(), dim=1)
    p = log_p.exp()
    z = logits.double()
    out = torch.zeros(N, dtype=torch.float64)
    for i in range(N):
        for k in range(K):
            if Y[i, k] == 0:
                continue
            if name == "ls":
                eps = params["eps"]
                target = torch.full((K,), eps / K, dtype=torch.float64)
                target[k] += 1 - eps
                term = -(target * log_p[i]).sum()
            elif name == "focal":
                term = -((1 - p[i, k]) ** params["gamma"]) * log_p[i, k]
            else:  # mse
                t = torch.zeros(K, dtype=torch.float64)
                t[k] = params["M"]
                w = torch.ones(K, dtype=torch.float64)
                w[k] = params["kappa"]
                term = (w * (z[i] - t) ** 2).sum() / K
            out[i] += Y[i, k] * term
        if normalize and Y[i].sum() > 0:
            out[i] /= Y[i].sum()
    return out


@pytest.mark.parametrize("normalize", [False, True])
def test_label_smoothing_matches_definition(normalize):
    logits = torch.randn(6, 4)
    loss = PALCrossEntropyLoss(normalize, reduction="none", label_smoothing=0.3)
    expected = _reference("ls", logits, MULTI_Y, normalize, eps=0.3)
    assert torch.allclose(loss(logits, MULTI_Y).double(), expected, atol=1e-5)


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("gamma", [0.5, 1.0, 2.0, 3.5])
def test_focal_matches_definition(normalize, gamma):
    logits = torch.randn(6, 4) * 3
    loss = PALFocalLoss(gamma, normalize, reduction="none")(logits, MULTI_Y)
    expected = _reference("focal", logits, MULTI_Y, normalize, gamma=gamma)
    assert torch.allclose(loss.double(), expected, atol=1e-5)


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize(("kappa", "M"), [(1.0, 1.0), (15.0, 30.0), (0.5, 2.0)])
def test_mse_matches_definition(normalize, kappa, M):
    logits = torch.randn(6, 4) * 3
    loss = PALMSELoss(kappa, M, normalize, reduction="none")(logits, MULTI_Y)
    expected = _reference("mse", logits, MULTI_Y, normalize, kappa=kappa, M=M)
    assert torch.allclose(loss.double(), expected, rtol=1e-5, atol=1e-5)


def test_hand_computed_examples():
    z = torch.tensor([[0.0, 0.0, 0.0, 0.0]])  # p = 1/4 everywhere
    y = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    log4 = torch.log(torch.tensor(4.0))
    # PAL-LS: (1 - eps) * 2 log 4 + 2 * eps * log 4 = 2 log 4 for uniform p
    ls = PALCrossEntropyLoss(label_smoothing=0.1)(z, y)
    assert torch.allclose(ls, 2 * log4)
    # focal: 2 * (3/4)^2 * log 4
    assert torch.allclose(PALFocalLoss(gamma=2)(z, y), 2 * 0.5625 * log4)
    # MSE at z = 0: each picked label costs kappa * M^2 / K
    assert torch.allclose(PALMSELoss(kappa=2.0, M=3.0)(z, y), torch.tensor(9.0))
    # MSE at z = y: each label's own term is 0, the other label costs 1 / K
    assert torch.allclose(PALMSELoss()(y, y), torch.tensor(0.5))
    # label smoothing on a confident one-hot row, K = 2
    z2 = torch.tensor([[0.0, torch.log(torch.tensor(3.0))]])  # p = (1/4, 3/4)
    ls2 = PALCrossEntropyLoss(label_smoothing=0.5)(z2, torch.tensor([1]))
    q = torch.tensor([0.25, 0.75])  # the smoothed target of class 1
    expected = -(q * q.log()).sum()
    assert torch.allclose(ls2, expected)


def test_mse_minimiser_of_a_label_set():
    # the minimiser puts kappa M / (kappa + m - 1) on each of the m labels
    kappa, M = 2.0, 3.0
    y = torch.tensor([[1.0, 1.0, 1.0, 0.0, 0.0]])
    z = torch.zeros(1, 5, requires_grad=True)
    with torch.no_grad():
        z[0, :3] = kappa * M / (kappa + 2)
    PALMSELoss(kappa, M)(z, y).backward()
    assert torch.allclose(z.grad, torch.zeros_like(z.grad), atol=1e-6)


def test_reductions_to_pal():
    logits = torch.randn(6, 4) * 2
    for normalize in (False, True):
        pal = PALCrossEntropyLoss(normalize, reduction="none")(logits, MULTI_Y)
        ls0 = PALCrossEntropyLoss(normalize, "none", label_smoothing=0.0)
        focal0 = PALFocalLoss(0.0, normalize, reduction="none")
        assert torch.equal(ls0(logits, MULTI_Y), pal)
        assert torch.allclose(focal0(logits, MULTI_Y), pal)


def test_index_targets_match_torch_references():
    logits = torch.randn(8, 5)
    labels = torch.randint(0, 5, (8,))
    ls = PALCrossEntropyLoss(label_smoothing=0.25)(logits, labels)
    assert torch.allclose(ls, F.cross_entropy(logits, labels, label_smoothing=0.25))
    mse = PALMSELoss()(logits, labels)
    assert torch.allclose(mse, F.mse_loss(logits, F.one_hot(labels, 5).float()))


@pytest.mark.parametrize("make", FAMILY, ids=FAMILY_IDS)
@pytest.mark.parametrize("normalize", [False, True])
def test_index_targets_equal_one_hot_targets(make, normalize):
    logits = torch.randn(8, 5, requires_grad=True)
    labels = torch.randint(0, 5, (8,))
    loss = make(normalize=normalize)
    by_index = loss(logits, labels)
    (g_index,) = torch.autograd.grad(by_index, logits)
    by_one_hot = loss(logits, F.one_hot(labels, 5).float())
    (g_one_hot,) = torch.autograd.grad(by_one_hot, logits)
    assert torch.allclose(by_index, by_one_hot)
    assert torch.allclose(g_index, g_one_hot)


@pytest.mark.parametrize("make", FAMILY, ids=FAMILY_IDS)
@pytest.mark.parametrize("normalize", [False, True])
def test_family_empty_rows_contribute_zero(make, normalize):
    logits = torch.randn(6, 4, requires_grad=True)
    per_sample = make(normalize=normalize, reduction="none")(logits, MULTI_Y)
    assert per_sample[2] == 0
    assert (per_sample[[0, 1, 3, 4, 5]] > 0).all()
    mean = make(normalize=normalize)(logits, MULTI_Y)
    assert torch.allclose(mean, per_sample.sum() / 6)
    total = make(normalize=normalize, reduction="sum")(logits, MULTI_Y)
    assert torch.allclose(total, per_sample.sum())
    mean.backward()
    assert torch.equal(logits.grad[2], torch.zeros(4))


@pytest.mark.parametrize("make", FAMILY, ids=FAMILY_IDS)
@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_family_finite_at_extreme_logits(make, normalize, scale):
    base = torch.tensor(
        [[1.0, -1.0, 0.5, -0.5], [1.0, 0.0, 0.0, 0.0], [1.0, 1.0, -1.0, -1.0]]
    )
    Y = torch.tensor([[0.0, 1.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0, 0]])
    logits = (base * scale).requires_grad_()
    loss = make(normalize=normalize)(logits, Y)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(logits.grad).all()
    index_logits = (base * scale).requires_grad_()
    loss = make(normalize=normalize)(index_logits, torch.tensor([1, 0, 2]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(index_logits.grad).all()


def test_log1m_softmax_is_accurate_when_p_rounds_to_one():
    # p_0 rounds to 1 in float32, yet log(1 - p_0) ~ -20 is recovered
    logits = torch.tensor([[20.0, 0.0, -1.0], [0.0, 0.0, 0.0], [1e4, -1e4, 0.0]])
    logits.requires_grad_()
    log_p = torch.log_softmax(logits, dim=1)
    value = _log1m_softmax(logits, log_p)
    z = logits.detach().double()
    expected = torch.log1p(-torch.softmax(z, dim=1))
    expected[0, 0] = torch.logsumexp(z[0, 1:], 0) - torch.logsumexp(z[0], 0)
    expected[2, 0] = -1e4
    assert torch.allclose(value.double(), expected, rtol=1e-6)
    value.sum().backward()
    assert torch.isfinite(logits.grad).all()


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_focal_gradients_match_float64(gamma):
    logits = (torch.randn(6, 4) * 4).double().requires_grad_()
    assert torch.autograd.gradcheck(
        lambda z: PALFocalLoss(gamma)(z, MULTI_Y.double()), (logits,)
    )


def test_single_output_is_zero_and_finite():
    logits = torch.randn(3, 1, requires_grad=True)
    Y = torch.ones(3, 1)
    for loss in (PALFocalLoss(), PALFocalLoss(gamma=0.3), PALCrossEntropyLoss()):
        value = loss(logits, Y)
        (grad,) = torch.autograd.grad(value, logits)
        assert value == 0 and torch.isfinite(grad).all()


def test_family_bad_params_raise():
    with pytest.raises(ValueError, match=r"label_smoothing must be .* \[0, 1\]"):
        PALCrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match="label_smoothing must be"):
        PALCrossEntropyLoss(label_smoothing=-0.1)
    with pytest.raises(ValueError, match="label_smoothing must be"):
        PALCrossEntropyLoss(label_smoothing="0.1")
    with pytest.raises(ValueError, match="gamma must be"):
        PALFocalLoss(gamma=-1)
    with pytest.raises(ValueError, match="gamma must be"):
        PALFocalLoss(gamma=float("nan"))
    with pytest.raises(ValueError, match="gamma must be"):
        PALFocalLoss(gamma=True)
    with pytest.raises(ValueError, match=r"kappa must be .* \(0, inf\)"):
        PALMSELoss(kappa=0)
    with pytest.raises(ValueError, match="M must be"):
        PALMSELoss(M=-1.0)
    with pytest.raises(ValueError, match="M must be"):
        PALMSELoss(M=float("inf"))
    with pytest.raises(ValueError, match="normalize must be True or False"):
        PALFocalLoss(normalize="yes")
    for cls in (PALFocalLoss, PALMSELoss):
        with pytest.raises(ValueError, match="reduction must be"):
            cls(reduction="max")
        with pytest.raises(ValueError, match=r"target must be \(N,\) class indices"):
            cls()(torch.randn(4, 3), torch.ones(4, 2))
        with pytest.raises(ValueError, match=r"logits must have shape \(N, K\)"):
            cls()(torch.randn(4), torch.ones(4))
        with pytest.raises(ValueError, match=r"class indices must be in \[0, 2\]"):
            cls()(torch.randn(4, 3), torch.tensor([0, 1, 2, 3]))


def test_repr_shows_parameters():
    assert "label_smoothing=0.1" in repr(PALCrossEntropyLoss(label_smoothing=0.1))
    assert "gamma=2.0" in repr(PALFocalLoss())
    assert "kappa=1.0, M=1.0" in repr(PALMSELoss())


NEW_LOSSES = ["pal_ls", "pal_focal", "pal_mse"]


@pytest.mark.parametrize("name", NEW_LOSSES)
def test_estimators_train_with_each_loss(name, multilabel_data):
    X, Y = multilabel_data
    clf = PALClassifier(loss=name, **FAST).fit(X, Y)
    assert clf.predict(X).shape == Y.shape
    assert np.isfinite(clf.history[-1, "train_loss"])
    expected = {"pal_ls": PALCrossEntropyLoss, "pal_focal": PALFocalLoss}
    assert isinstance(clf.criterion_, expected.get(name, PALMSELoss))
    etf = FixedETFClassifier(loss=name, **FAST).fit(X, Y)
    assert etf.predict(X).shape == Y.shape
    # multi-class: 1-D y goes through the index-target path
    y = Y.argmax(axis=1)
    multi = PALClassifier(loss=name, **FAST).fit(X, y)
    assert set(multi.predict(X)) <= set(y)
    proba = multi.predict_proba(X)
    assert np.allclose(proba.sum(axis=1), 1)


def test_estimator_loss_defaults_and_overrides(multilabel_data):
    X, Y = multilabel_data
    fast = {**FAST, "max_epochs": 1}
    assert PALClassifier(loss="pal_ls", **fast).fit(X, Y).criterion_.label_smoothing
    clf = PALClassifier(loss="pal_ls", criterion__label_smoothing=0.3, **fast)
    assert clf.fit(X, Y).criterion_.label_smoothing == 0.3
    clf = PALClassifier(loss="pal_focal", criterion__gamma=1.0, **fast).fit(X, Y)
    assert clf.criterion_.gamma == 1.0
    clf = PALClassifier(loss="pal_mse", criterion__normalize=True, **fast).fit(X, Y)
    assert clf.criterion_.normalize and clf.criterion_.M == 1.0
    with pytest.raises(ValueError, match="gamma must be"):
        PALClassifier(loss="pal_focal", criterion__gamma=-1, **fast).fit(X, Y)
