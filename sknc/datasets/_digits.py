"""Multi-label digits: scikit-learn's 8x8 digits in the corners of a canvas."""

import functools
from collections.abc import Iterable, Mapping
from itertools import combinations
from numbers import Integral

import numpy as np
from sklearn.datasets import load_digits
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params

__all__ = ["make_multilabel_digits"]

# Size of one source digit image (scikit-learn's digits are 8x8).
_DIGIT_SIZE = 8
# Number of digit classes, hence of labels.
_N_DIGIT_CLASSES = 10
# Corners are numbered clockwise: 0 top-left, 1 top-right, 2 bottom-right,
# 3 bottom-left, so that corner c is diagonally opposite corner (c + 2) % 4.
_N_CORNERS = 4
# The corner layouts used for each multiplicity. A multiplicity-2 sample uses
# two diagonally opposite corners; one digit per corner otherwise.
_DIGITS_CORNER_LAYOUTS = {
    1: np.array([[0], [1], [2], [3]]),
    2: np.array([[0, 2], [1, 3]]),
    3: np.array(list(combinations(range(_N_CORNERS), 3))),
    4: np.array([[0, 1, 2, 3]]),
}
_DIGITS_MAX_MULTIPLICITY = max(_DIGITS_CORNER_LAYOUTS)


@functools.cache
def _load_digits_sources():
    """Load the source digits once, grouped by class.

    Returns
    -------
    images : ndarray of shape (1797, 8, 8), dtype float32
        The digit images sorted by class and scaled from 0..16 to [0, 1].
        Read-only.
    class_start : ndarray of shape (10,)
        Index in ``images`` of the first image of each class. Read-only.
    class_count : ndarray of shape (10,)
        Number of images of each class. Read-only.
    """
    digits = load_digits()
    order = np.argsort(digits.target, kind="stable")
    images = (digits.images[order] / 16.0).astype(np.float32)
    class_count = np.bincount(digits.target, minlength=_N_DIGIT_CLASSES)
    class_start = np.concatenate(([0], np.cumsum(class_count)[:-1]))
    for array in (images, class_start, class_count):
        array.setflags(write=False)
    return images, class_start, class_count


def _check_digits_multiplicity_counts(n_samples):
    """Return ``n_samples`` as a dict ``{multiplicity: count}`` for 1..4."""
    if isinstance(n_samples, Integral):
        raise ValueError(
            f"n_samples={n_samples!r} does not say which multiplicities to "
            "generate; give one count per multiplicity, e.g. "
            f"n_samples={{1: {n_samples}}} for single digits only."
        )
    if isinstance(n_samples, Mapping):
        items = list(n_samples.items())
    else:
        counts = np.asarray(n_samples)
        if counts.ndim != 1 or counts.size > _DIGITS_MAX_MULTIPLICITY:
            raise ValueError(
                "n_samples must be a dict {multiplicity: count} or a sequence of "
                f"at most {_DIGITS_MAX_MULTIPLICITY} counts for multiplicities "
                f"1, 2, ...; got {n_samples!r}. For example, use "
                "n_samples={1: 1000, 2: 1000} or n_samples=(1000, 1000)."
            )
        items = list(enumerate(counts.tolist(), start=1))
    result = dict.fromkeys(_DIGITS_CORNER_LAYOUTS, 0)
    for multiplicity, count in items:
        if (
            not isinstance(multiplicity, Integral)
            or isinstance(multiplicity, bool)
            or multiplicity not in _DIGITS_CORNER_LAYOUTS
        ):
            raise ValueError(
                f"n_samples has multiplicity {multiplicity!r}, but a canvas has "
                f"{_N_CORNERS} corners, one digit each: use multiplicities 1 to "
                f"{_DIGITS_MAX_MULTIPLICITY}."
            )
        if not isinstance(count, Integral) or isinstance(count, bool) or count < 0:
            raise ValueError(
                f"n_samples asks for {count!r} samples of multiplicity "
                f"{multiplicity}; counts must be non-negative integers."
            )
        result[int(multiplicity)] = int(count)
    if sum(result.values()) == 0:
        raise ValueError(
            f"n_samples={n_samples!r} asks for no sample at all; give at least "
            "one positive count, e.g. n_samples={1: 1000, 2: 1000}."
        )
    return result


def _check_digits_exclude_pairs(exclude_pairs):
    """Return ``exclude_pairs`` as an array of shape (n_pairs, 2)."""
    if exclude_pairs is None:
        return np.empty((0, 2), dtype=np.intp)
    pairs = []
    for pair in exclude_pairs:
        labels = list(pair) if isinstance(pair, Iterable) else [pair]
        if (
            len(labels) != 2
            or not all(
                isinstance(label, Integral) and not isinstance(label, bool)
                for label in labels
            )
            or not all(0 <= label < _N_DIGIT_CLASSES for label in labels)
            or labels[0] == labels[1]
        ):
            raise ValueError(
                f"exclude_pairs contains {pair!r}, which is not a pair of two "
                f"different digit labels in 0..{_N_DIGIT_CLASSES - 1}; write the "
                "pairs to exclude as e.g. exclude_pairs=[(0, 1), (2, 3)]."
            )
        pairs.append(labels)
    return np.array(pairs, dtype=np.intp).reshape(-1, 2)


def _digits_label_sets(multiplicity, exclude_pairs):
    """Return the allowed label sets of one multiplicity, one sorted row each.

    A label set is left out when it contains both labels of an excluded pair.
    """
    label_sets = np.array(
        list(combinations(range(_N_DIGIT_CLASSES), multiplicity)), dtype=np.intp
    )
    membership = np.zeros((len(label_sets), _N_DIGIT_CLASSES), dtype=bool)
    np.put_along_axis(membership, label_sets, True, axis=1)
    excluded = np.zeros(len(label_sets), dtype=bool)
    for first, second in exclude_pairs:
        excluded |= membership[:, first] & membership[:, second]
    return label_sets[~excluded]


def _draw_digits_label_sets(label_sets, n_samples, balanced, rng):
    """Draw ``n_samples`` rows of ``label_sets``, balanced or uniformly at random."""
    n_sets = len(label_sets)
    if balanced:
        # Every set appears n_samples // n_sets times; the remainder goes to
        # distinct sets chosen at random, so counts differ by at most one.
        counts = np.full(n_sets, n_samples // n_sets)
        counts[rng.choice(n_sets, n_samples % n_sets, replace=False)] += 1
        index = rng.permutation(np.repeat(np.arange(n_sets), counts))
    else:
        index = rng.randint(n_sets, size=n_samples)
    return label_sets[index]


@validate_params(
    {
        "n_samples": [Mapping, "array-like", Integral],
        "canvas_size": [Interval(Integral, 1, None, closed="left")],
        "max_shift": [Interval(Integral, 0, None, closed="left")],
        "exclude_pairs": [Iterable, None],
        "balanced": ["boolean"],
        "shuffle": ["boolean"],
        "return_images": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_multilabel_digits(
    n_samples=(1000, 1000),
    *,
    canvas_size=20,
    max_shift=2,
    exclude_pairs=None,
    balanced=True,
    shuffle=True,
    return_images=False,
    random_state=None,
):
    """Generate multi-label images of digits placed in the corners of a canvas.

    Each sample is a ``canvas_size`` x ``canvas_size`` blank canvas with one
    8x8 digit from :func:`sklearn.datasets.load_digits` in each of ``m``
    corners, where ``m`` is the sample's multiplicity (number of labels), and
    its labels are the classes of those digits, all different:

    - multiplicity 1: one digit in a corner chosen at random;
    - multiplicity 2: two digits in diagonally opposite corners (top-left and
      bottom-right, or top-right and bottom-left, at random);
    - multiplicity 3: three digits in three corners chosen at random;
    - multiplicity 4: one digit in every corner.

    Each corner owns a square cell of ``8 + max_shift`` pixels, in which its
    digit is shifted by a random offset of 0 to ``max_shift`` pixels along each
    axis. The cells never overlap, and the digits of a sample are merged by
    pixel-wise maximum on the blank canvas. With the defaults the four cells
    are the four 10x10 quadrants of a 20x20 canvas.

    Read more about the construction in the Notes.

    Parameters
    ----------
    n_samples : dict or sequence of int, default=(1000, 1000)
        Number of samples of each multiplicity. A dict maps multiplicity
        (1 to 4) to count, e.g. ``{1: 3000, 2: 2700}``; a sequence gives the
        counts of multiplicities 1, 2, ... in order, e.g. ``(1000, 1000)``.

    canvas_size : int, default=20
        Side of the square canvas, in pixels. Each sample has
        ``canvas_size ** 2`` features. Must be at least
        ``2 * (8 + max_shift)`` so that the corner cells do not overlap.

    max_shift : int, default=2
        Largest random shift of a digit inside its corner cell, in pixels,
        along each axis. ``0`` puts every digit flush in its corner.

    exclude_pairs : iterable of (int, int), default=None
        Pairs of digit labels that must never occur together, e.g.
        ``[(0, 1), (2, 3)]``. No generated sample carries both labels of an
        excluded pair: the pair's own multiplicity-2 label set is left out,
        and so is every multiplicity-3 or 4 label set that contains it. Use it
        to hold label sets out of a training set. Labels of an excluded pair
        still occur alone and with other labels.

    balanced : bool, default=True
        If True, every allowed label set of a multiplicity occurs equally often
        (to within one sample when the count is not a multiple of the number
        of allowed sets), so each multiplicity is balanced across classes as
        the neural-collapse theory assumes (up to the sets removed by
        ``exclude_pairs``). If False, each sample's label set is drawn
        uniformly at random among the allowed sets of its multiplicity.

    shuffle : bool, default=True
        If True, shuffle the samples. If False, samples come ordered by
        multiplicity, lowest first.

    return_images : bool, default=False
        If True, also return the images as an array of shape
        ``(n_samples, canvas_size, canvas_size)``.

    random_state : int, RandomState instance or None, default=None
        Determines the label sets, source digits, corners, shifts and order.
        Pass an int for reproducible output across multiple function calls.

    Returns
    -------
    X : ndarray of shape (n_samples, canvas_size ** 2), dtype float32
        The flattened images, with pixel values in [0, 1] (the source digits'
        0..16 intensities divided by 16). ``n_samples`` is the total count.

    Y : ndarray of shape (n_samples, 10), dtype uint8
        The label indicator matrix: ``Y[i, k]`` is 1 if sample ``i`` shows
        digit ``k`` and 0 otherwise. Each row has as many ones as its
        multiplicity.

    images : ndarray of shape (n_samples, canvas_size, canvas_size), dtype float32
        The same images unflattened, returned only if ``return_images`` is
        True. ``X`` and ``images`` do not share memory.

    See Also
    --------
    sklearn.datasets.load_digits : The source 8x8 digits.
    sklearn.datasets.make_multilabel_classification : Random multi-label data.

    Notes
    -----
    The source digit of each label of a sample is drawn uniformly, with
    replacement, among the 174 to 183 images of that class in
    :func:`sklearn.datasets.load_digits`. The same source image therefore
    appears in several samples, possibly in both parts of a train/test split
    of the output; for a split with disjoint source images, generate the two
    parts from different subsets yourself.

    References
    ----------
    .. [1] P. Li, X. Li, Y. Wang and Q. Qu, "Neural Collapse in Multi-label
       Learning with Pick-all-label Loss", ICML 2024, arXiv:2310.15903.

    Examples
    --------
    >>> from sknc.datasets import make_multilabel_digits
    >>> X, Y = make_multilabel_digits({1: 100, 2: 90}, random_state=0)
    >>> X.shape, X.dtype, Y.shape, Y.dtype
    ((190, 400), dtype('float32'), (190, 10), dtype('uint8'))
    >>> import numpy as np
    >>> np.bincount(Y.sum(axis=1, dtype=int))  # samples per multiplicity
    array([  0, 100,  90])
    >>> X, Y, images = make_multilabel_digits(
    ...     (0, 50), exclude_pairs=[(0, 1)], return_images=True, random_state=0
    ... )
    >>> images.shape
    (50, 20, 20)
    >>> int((Y[:, 0] & Y[:, 1]).sum())
    0
    """
    counts = _check_digits_multiplicity_counts(n_samples)
    min_canvas_size = 2 * (_DIGIT_SIZE + max_shift)
    if canvas_size < min_canvas_size:
        raise ValueError(
            f"canvas_size={canvas_size} is too small for max_shift={max_shift}: "
            f"four non-overlapping corner cells of {_DIGIT_SIZE} + max_shift = "
            f"{_DIGIT_SIZE + max_shift} pixels need canvas_size >= "
            f"{min_canvas_size}. Increase canvas_size or decrease max_shift."
        )
    pairs = _check_digits_exclude_pairs(exclude_pairs)
    rng = check_random_state(random_state)
    sources, class_start, class_count = _load_digits_sources()

    # One row per sample of each multiplicity: its labels (one per digit) and
    # the corners they go to. Unused slots of lower multiplicities hold -1.
    n_total = sum(counts.values())
    labels = np.full((n_total, _DIGITS_MAX_MULTIPLICITY), -1, dtype=np.intp)
    corners = np.full_like(labels, -1)
    start = 0
    for multiplicity, count in counts.items():
        if count == 0:
            continue
        label_sets = _digits_label_sets(multiplicity, pairs)
        if len(label_sets) == 0:
            raise ValueError(
                f"n_samples asks for {count} samples of multiplicity "
                f"{multiplicity}, but exclude_pairs={exclude_pairs!r} leaves "
                f"no label set of {multiplicity} different digits. Exclude "
                "fewer pairs or ask for 0 samples of that multiplicity."
            )
        rows = slice(start, start + count)
        labels[rows, :multiplicity] = _draw_digits_label_sets(
            label_sets, count, balanced, rng
        )
        layouts = _DIGITS_CORNER_LAYOUTS[multiplicity]
        layout = layouts[rng.randint(len(layouts), size=count)]
        # Assign the digits to the layout's corners in a random order.
        order = np.argsort(rng.random_sample(layout.shape), axis=1)
        corners[rows, :multiplicity] = np.take_along_axis(layout, order, axis=1)
        start += count

    # Flatten to one entry per placed digit.
    sample, slot = np.nonzero(labels >= 0)
    digit_label = labels[sample, slot]
    digit_corner = corners[sample, slot]
    n_digits = len(sample)
    source = class_start[digit_label] + (
        rng.random_sample(n_digits) * class_count[digit_label]
    ).astype(np.intp)
    far = canvas_size - _DIGIT_SIZE - max_shift  # origin of a bottom/right cell
    top = np.where(np.isin(digit_corner, (2, 3)), far, 0)
    left = np.where(np.isin(digit_corner, (1, 2)), far, 0)
    top = top + rng.randint(max_shift + 1, size=n_digits)
    left = left + rng.randint(max_shift + 1, size=n_digits)

    # The cells of a sample are disjoint and the canvas is blank, so writing
    # each digit into its window is the pixel-wise maximum of the parts.
    offset = np.arange(_DIGIT_SIZE)
    images = np.zeros((n_total, canvas_size, canvas_size), dtype=np.float32)
    images[
        sample[:, None, None],
        top[:, None, None] + offset[None, :, None],
        left[:, None, None] + offset[None, None, :],
    ] = sources[source]

    Y = np.zeros((n_total, _N_DIGIT_CLASSES), dtype=np.uint8)
    Y[sample, digit_label] = 1

    if shuffle:
        permutation = rng.permutation(n_total)
        images, Y = images[permutation], Y[permutation]
    X = images.reshape(n_total, canvas_size * canvas_size)
    if return_images:
        return X, Y, images.copy()
    return X, Y
