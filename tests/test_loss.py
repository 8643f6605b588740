import pytest
import torch
import torch.nn.functional as F

from sknc import PALCrossEntropyLoss


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
