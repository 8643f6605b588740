import numpy as np
import pytest

from sknc import simplex_etf


@pytest.mark.parametrize(
    "K, d", [(2, 1), (2, 7), (3, 2), (10, 9), (10, 10), (10, 64), (50, 49)]
)
def test_unit_rows_and_equal_negative_cosines(K, d):
    M = simplex_etf(K, d, random_state=0)
    assert M.shape == (K, d)
    expected_gram = (K * np.eye(K) - np.ones((K, K))) / (K - 1)
    np.testing.assert_allclose(M @ M.T, expected_gram, atol=1e-12)
    # a simplex ETF is centred: its vectors sum to zero
    np.testing.assert_allclose(M.sum(axis=0), 0, atol=1e-12)


def test_random_state_controls_the_rotation():
    a, b = simplex_etf(5, 8, random_state=0), simplex_etf(5, 8, random_state=0)
    c = simplex_etf(5, 8, random_state=1)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    # any rotation keeps the geometry
    np.testing.assert_allclose(a @ a.T, c @ c.T, atol=1e-12)


@pytest.mark.parametrize(
    "K, d, match",
    [
        (1, 3, "needs n_classes >= 2"),
        (0, 3, "needs n_classes >= 2"),
        (5, 3, r"needs dim >= n_classes - 1 = 4; got dim=3"),
    ],
)
def test_invalid_sizes_raise(K, d, match):
    with pytest.raises(ValueError, match=match):
        simplex_etf(K, d)


def test_non_integer_sizes_raise():
    with pytest.raises(TypeError, match="n_classes must be an int"):
        simplex_etf(3.0, 4)
    with pytest.raises(TypeError, match="dim must be an int"):
        simplex_etf(3, "4")
