import pytest
import torch

from sknc import ThresholdDecoder
from sknc._decoding import get_decoder


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
    with pytest.raises(ValueError, match="threshold must be a number in"):
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
