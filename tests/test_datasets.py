from itertools import combinations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from sknc.datasets import make_multilabel_digits

# Corner cells of the default 20x20 canvas (max_shift=2): the four quadrants,
# numbered clockwise from the top-left.
QUADRANTS = {
    0: (slice(0, 10), slice(0, 10)),
    1: (slice(0, 10), slice(10, 20)),
    2: (slice(10, 20), slice(10, 20)),
    3: (slice(10, 20), slice(0, 10)),
}


@pytest.fixture(scope="module")
def source_digits():
    """Map the bytes of each scaled source digit to its class."""
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)
    return {
        image.tobytes(): int(k) for image, k in zip(images, digits.target, strict=True)
    }


def occupied_quadrants(images):
    """Boolean (n, 4): which quadrants of each 20x20 image hold any ink."""
    return np.stack(
        [(images[:, r, c] > 0).any(axis=(1, 2)) for r, c in QUADRANTS.values()],
        axis=1,
    )


def test_shapes_and_dtypes():
    X, Y, images = make_multilabel_digits(
        {1: 30, 2: 20}, canvas_size=24, return_images=True, random_state=0
    )
    assert X.shape == (50, 24 * 24)
    assert X.dtype == np.float32
    assert Y.shape == (50, 10)
    assert Y.dtype == np.uint8
    assert images.shape == (50, 24, 24)
    assert images.dtype == np.float32
    np.testing.assert_array_equal(images.reshape(50, -1), X)
    assert not np.shares_memory(X, images)


def test_default_returns_two_arrays():
    result = make_multilabel_digits(random_state=0)
    assert len(result) == 2
    X, Y = result
    assert X.shape == (2000, 400)
    np.testing.assert_array_equal(
        np.bincount(Y.sum(axis=1, dtype=int)), [0, 1000, 1000]
    )


def test_pixel_values_in_unit_interval():
    X, _ = make_multilabel_digits((200, 200), random_state=0)
    assert X.min() == 0.0
    assert X.max() == 1.0
    # Intensities are the source digits' 0..16 levels divided by 16.
    np.testing.assert_array_equal(np.unique(X * 16), np.arange(17))


@pytest.mark.parametrize(
    "n_samples",
    [{1: 7, 2: 5, 3: 3, 4: 2}, (7, 5, 3, 2), [7, 5, 3, 2], np.array([7, 5, 3, 2])],
    ids=["dict", "tuple", "list", "ndarray"],
)
def test_counts_per_multiplicity(n_samples):
    _, Y = make_multilabel_digits(n_samples, random_state=0)
    np.testing.assert_array_equal(
        np.bincount(Y.sum(axis=1, dtype=int)), [0, 7, 5, 3, 2]
    )


def test_dict_and_sequence_forms_agree():
    a = make_multilabel_digits({2: 40, 3: 10}, random_state=3)
    b = make_multilabel_digits((0, 40, 10), random_state=3)
    for left, right in zip(a, b, strict=True):
        np.testing.assert_array_equal(left, right)


def test_only_higher_multiplicity():
    _, Y = make_multilabel_digits({3: 12}, random_state=0)
    assert (Y.sum(axis=1, dtype=int) == 3).all()


def test_one_digit_per_label_in_expected_corners():
    # Each label gets its own corner: the number of inked quadrants equals the
    # number of labels, so two digits of a sample never share a class.
    _, Y, images = make_multilabel_digits(
        (400, 400, 100, 50), return_images=True, random_state=0
    )
    occupied = occupied_quadrants(images)
    multiplicity = Y.sum(axis=1, dtype=int)
    np.testing.assert_array_equal(occupied.sum(axis=1, dtype=int), multiplicity)

    # Single digits use all four corners.
    singles = occupied[multiplicity == 1]
    assert singles.any(axis=0).all()
    # Pairs lie in diagonally opposite corners, and both diagonals occur.
    pairs = occupied[multiplicity == 2]
    main = pairs[:, 0] & pairs[:, 2]
    anti = pairs[:, 1] & pairs[:, 3]
    assert (main ^ anti).all()
    assert main.any() and anti.any()
    # Every triple of corners occurs; a multiplicity-4 sample fills all four.
    triples = {tuple(row) for row in occupied[multiplicity == 3]}
    assert len(triples) == 4
    assert occupied[multiplicity == 4].all()


def test_image_is_max_of_shifted_source_digits(source_digits):
    # Every inked quadrant holds exactly one source digit of one of the
    # sample's labels at a shift of 0..max_shift, the rest of the canvas is
    # blank, and together the digits' classes are the sample's label set.
    max_shift = 2
    _, Y, images = make_multilabel_digits(
        (40, 40, 20, 10), max_shift=max_shift, return_images=True, random_state=1
    )
    shifts_seen = set()
    for image, y in zip(images, Y, strict=True):
        classes = []
        rebuilt = np.zeros_like(image)
        for rows, cols in QUADRANTS.values():
            cell = image[rows, cols]
            if not cell.any():
                continue
            matches = []
            for dy in range(max_shift + 1):
                for dx in range(max_shift + 1):
                    window = np.ascontiguousarray(cell[dy : dy + 8, dx : dx + 8])
                    label = source_digits.get(window.tobytes())
                    outside = cell.copy()
                    outside[dy : dy + 8, dx : dx + 8] = 0
                    if label is not None and not outside.any():
                        matches.append((label, dy, dx))
            assert matches, "a quadrant does not hold a shifted source digit"
            label, dy, dx = matches[0]
            classes.append(label)
            shifts_seen.add((dy, dx))
            part = np.zeros_like(image)
            part[rows, cols][dy : dy + 8, dx : dx + 8] = cell[dy : dy + 8, dx : dx + 8]
            rebuilt = np.maximum(rebuilt, part)
        np.testing.assert_array_equal(rebuilt, image)
        assert len(set(classes)) == len(classes)
        np.testing.assert_array_equal(np.flatnonzero(y), sorted(classes))
    # The digits really move inside their cells, along both axes.
    assert {dy for dy, _ in shifts_seen} == set(range(max_shift + 1))
    assert {dx for _, dx in shifts_seen} == set(range(max_shift + 1))


def test_no_shift_puts_digits_flush_in_corners(source_digits):
    _, Y, images = make_multilabel_digits(
        {4: 20}, canvas_size=16, max_shift=0, return_images=True, random_state=0
    )
    for image, y in zip(images, Y, strict=True):
        corners = [image[:8, :8], image[:8, 8:], image[8:, 8:], image[8:, :8]]
        classes = [source_digits[np.ascontiguousarray(c).tobytes()] for c in corners]
        np.testing.assert_array_equal(np.flatnonzero(y), sorted(classes))


def test_source_digits_vary_within_a_class(source_digits):
    # 500 draws among about 1800 source images: about 430 distinct ones.
    _, Y, images = make_multilabel_digits(
        (500,), canvas_size=16, max_shift=0, return_images=True, random_state=0
    )
    crops = images.reshape(-1, 2, 8, 2, 8).transpose(0, 1, 3, 2, 4).reshape(-1, 8, 8)
    inked = crops[crops.any(axis=(1, 2))]
    assert len(inked) == 500
    distinct = {crop.tobytes() for crop in inked}
    assert len(distinct) > 350
    assert distinct <= source_digits.keys()


def test_larger_canvas_leaves_centre_blank():
    _, _, images = make_multilabel_digits(
        (50, 50, 50, 50), canvas_size=30, return_images=True, random_state=0
    )
    # Cells are 10 pixels wide, so the middle band 10..19 stays blank.
    assert not images[:, 10:20, :].any()
    assert not images[:, :, 10:20].any()
    assert images[:, 20:, 20:].any()


def test_excluded_pairs_never_occur_together():
    excluded = [(0, 1), (3, 2), (4, 5)]
    _, Y = make_multilabel_digits(
        (100, 900, 300, 200), exclude_pairs=excluded, random_state=0
    )
    for a, b in excluded:
        assert not (Y[:, a] & Y[:, b]).any()
        # Both labels still occur, alone and with others.
        assert (
            Y[Y.sum(axis=1, dtype=int) == 1, a].any()
            and Y[Y.sum(axis=1, dtype=int) == 2, b].any()
        )
    pairs = {tuple(np.flatnonzero(y)) for y in Y[Y.sum(axis=1, dtype=int) == 2]}
    allowed = set(combinations(range(10), 2)) - {(0, 1), (2, 3), (4, 5)}
    assert pairs == allowed


def test_exclude_pairs_accepts_any_iterable():
    _, expected = make_multilabel_digits(
        (0, 100), exclude_pairs=[(0, 1), (2, 3)], random_state=0
    )
    _, Y = make_multilabel_digits(
        (0, 100), exclude_pairs=np.array([[1, 0], [3, 2]]), random_state=0
    )
    np.testing.assert_array_equal(Y, expected)
    _, Y = make_multilabel_digits(
        (0, 100), exclude_pairs=(p for p in [(0, 1), (2, 3)]), random_state=0
    )
    np.testing.assert_array_equal(Y, expected)


def test_deterministic_with_random_state():
    a = make_multilabel_digits((50, 50), return_images=True, random_state=42)
    b = make_multilabel_digits((50, 50), return_images=True, random_state=42)
    for left, right in zip(a, b, strict=True):
        np.testing.assert_array_equal(left, right)
    c = make_multilabel_digits((50, 50), return_images=True, random_state=43)
    assert not np.array_equal(a[0], c[0])
    assert not np.array_equal(a[1], c[1])


def test_random_state_instance_is_consumed():
    rng = np.random.RandomState(0)
    X1, _ = make_multilabel_digits((20,), random_state=rng)
    X2, _ = make_multilabel_digits((20,), random_state=rng)
    assert not np.array_equal(X1, X2)


def test_balanced_classes_and_pairs():
    _, Y = make_multilabel_digits((1000, 450 * 3), random_state=0)
    singles, pairs = Y[Y.sum(axis=1, dtype=int) == 1], Y[Y.sum(axis=1, dtype=int) == 2]
    np.testing.assert_array_equal(singles.sum(axis=0), np.full(10, 100))
    np.testing.assert_array_equal(pairs.sum(axis=0), np.full(10, 270))
    pair_ids = np.flatnonzero(pairs.reshape(-1)) % 10
    _, pair_counts = np.unique(pair_ids.reshape(-1, 2), axis=0, return_counts=True)
    np.testing.assert_array_equal(pair_counts, np.full(45, 30))


def test_balanced_remainder_differs_by_at_most_one():
    _, Y = make_multilabel_digits((1003, 100), random_state=0)
    single_counts = Y[Y.sum(axis=1, dtype=int) == 1].sum(axis=0)
    assert single_counts.sum() == 1003
    assert single_counts.max() - single_counts.min() == 1
    pair_rows = Y[Y.sum(axis=1, dtype=int) == 2]
    _, pair_counts = np.unique(pair_rows, axis=0, return_counts=True)
    assert len(pair_counts) == 45
    assert set(pair_counts) == {2, 3}


def test_unbalanced_draws_vary():
    _, Y = make_multilabel_digits((1000,), balanced=False, random_state=0)
    counts = Y.sum(axis=0)
    assert counts.sum() == 1000
    assert counts.min() < 100 < counts.max()


def test_shuffle_false_orders_by_multiplicity():
    _, Y = make_multilabel_digits((30, 20, 10), shuffle=False, random_state=0)
    np.testing.assert_array_equal(
        Y.sum(axis=1, dtype=int), np.repeat([1, 2, 3], [30, 20, 10])
    )
    _, Y = make_multilabel_digits((30, 20, 10), random_state=0)
    multiplicity = Y.sum(axis=1, dtype=int)
    assert (np.diff(multiplicity) < 0).any()
    np.testing.assert_array_equal(np.bincount(multiplicity), [0, 30, 20, 10])


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_samples": 100}, r"n_samples=100 does not say.*\{1: 100\}"),
        ({"n_samples": {5: 10}}, "multiplicity 5.*use multiplicities 1 to 4"),
        ({"n_samples": {0: 10}}, "multiplicity 0"),
        ({"n_samples": (1, 2, 3, 4, 5)}, "at most 4 counts"),
        ({"n_samples": [[1, 2]]}, "at most 4 counts"),
        ({"n_samples": (10, -1)}, "-1 samples of multiplicity 2.*non-negative"),
        ({"n_samples": (10.5,)}, "10.5 samples of multiplicity 1"),
        ({"n_samples": (0, 0)}, "asks for no sample"),
        ({"n_samples": "ab"}, "n_samples"),
        ({"canvas_size": 19}, r"canvas_size=19 is too small.*canvas_size >= 20"),
        (
            {"canvas_size": 20, "max_shift": 3},
            r"max_shift=3.*canvas_size >= 22.*decrease max_shift",
        ),
        ({"canvas_size": 0}, "canvas_size"),
        ({"max_shift": -1}, "max_shift"),
        ({"max_shift": 1.5}, "max_shift"),
        ({"exclude_pairs": [(1, 1)]}, r"contains \(1, 1\).*two different"),
        ({"exclude_pairs": [(0, 10)]}, r"contains \(0, 10\).*0\.\.9"),
        ({"exclude_pairs": [(-1, 2)]}, r"contains \(-1, 2\)"),
        ({"exclude_pairs": [(1, 2, 3)]}, r"contains \(1, 2, 3\).*not a pair"),
        ({"exclude_pairs": [0, 1]}, "contains 0, which is not a pair"),
        ({"exclude_pairs": [(0.0, 1.0)]}, "not a pair"),
        ({"exclude_pairs": 3}, "exclude_pairs"),
        (
            {"n_samples": (10, 10), "exclude_pairs": list(combinations(range(10), 2))},
            "multiplicity 2.*leaves no label set",
        ),
        ({"balanced": "yes"}, "balanced"),
        ({"return_images": None}, "return_images"),
        ({"random_state": "seed"}, "random_state"),
    ],
)
def test_bad_parameters_raise(params, match):
    with pytest.raises(ValueError, match=match):
        make_multilabel_digits(**params)


def test_excluding_all_pairs_is_fine_without_pairs():
    _, Y = make_multilabel_digits(
        (10,), exclude_pairs=list(combinations(range(10), 2)), random_state=0
    )
    assert (Y.sum(axis=1, dtype=int) == 1).all()


def test_excluding_pairs_can_empty_multiplicity_four_only():
    # Excluding every pair within 0..7 leaves pairs and triples using 8 and 9 but
    # no set of four different digits.
    excluded = list(combinations(range(8), 2))
    _, Y = make_multilabel_digits((0, 10, 5), exclude_pairs=excluded, random_state=0)
    assert len(Y) == 15
    with pytest.raises(ValueError, match="multiplicity 4.*leaves no label set"):
        make_multilabel_digits((0, 10, 5, 1), exclude_pairs=excluded, random_state=0)
