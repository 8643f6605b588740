"""Built-in multi-label datasets.

:func:`make_multilabel_digits` composes multi-label images from scikit-learn's
bundled 8x8 handwritten digits (:func:`sklearn.datasets.load_digits`, no
download): each digit of a sample sits in its own corner of a larger blank
canvas, so a sample's label set is the set of digit classes it shows. This is
the multi-label MNIST construction used to study neural collapse under the
pick-all-label loss, scaled down so that it runs on a CPU in seconds.

:func:`load_arff` reads the standard multi-label benchmarks distributed as
ARFF files in the Mulan format (labels last, named in an XML file) or the
MEKA format (labels first, counted by ``-C`` in the relation name), dense or
sparse. It needs the optional ``liac-arff`` package (``pip install
sknc[arff]``).
"""

import functools
import gzip
import os
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Mapping
from itertools import combinations
from numbers import Integral
from pathlib import Path

import numpy as np
from scipy import sparse as sp
from sklearn.datasets import load_digits
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

__all__ = ["load_arff", "make_multilabel_digits"]

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


# MEKA stores the number of labels as the option "-C n" in the relation name,
# e.g. @relation 'scene: -C 6'. A negative n means that the labels are the last
# |n| attributes instead of the first n.
_MEKA_LABELS_OPTION = re.compile(r"(?:^|[\s:])-C\s+([+-]?\d+)(?!\S)")
# How many offending names an error message lists before "and N more".
_MAX_NAMES_IN_ERROR = 5


def _import_liac_arff():
    """Import liac-arff (module ``arff``) or explain how to install it."""
    try:
        import arff
    except ImportError as exc:
        raise ImportError(
            "load_arff needs the optional dependency liac-arff; install it with "
            "pip install 'sknc[arff]' (or pip install liac-arff)."
        ) from exc
    if not hasattr(arff, "ArffDecoder"):
        raise ImportError(
            "The module 'arff' found at "
            f"{getattr(arff, '__file__', '<unknown>')} is not liac-arff, which "
            "load_arff needs; uninstall that package and run pip install "
            "'sknc[arff]' (or pip install liac-arff)."
        )
    return arff


def _format_names(names):
    """Quote the first few ``names`` for an error message."""
    shown = ", ".join(repr(name) for name in names[:_MAX_NAMES_IN_ERROR])
    if len(names) > _MAX_NAMES_IN_ERROR:
        shown += f" and {len(names) - _MAX_NAMES_IN_ERROR} more"
    return shown


def _existing_file(path, what):
    """Return ``path`` as a Path, or raise FileNotFoundError naming ``what``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{what} {str(path)!r} does not exist or is not a file."
        )
    return path


def _open_text(path):
    """Open an ARFF file as UTF-8 text, gunzipping it if its name ends in .gz."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


class _CountingLines:
    """Iterate over the lines of a file and count those read so far."""

    def __init__(self, lines):
        self._lines = iter(lines)
        self.count = 0

    def __iter__(self):
        return self

    def __next__(self):
        line = next(self._lines)
        self.count += 1
        return line


def _arff_data_is_sparse(path):
    """Whether the first data row of an ARFF file is in sparse ``{...}`` form."""
    with _open_text(path) as lines:
        in_data = False
        for line in lines:
            line = line.strip()
            if not line or line.startswith("%"):
                continue
            if in_data:
                return line.startswith("{")
            in_data = line.upper().startswith("@DATA")
    return False


def _read_mulan_label_names(xml):
    """Return the label names of a Mulan XML label file, in document order."""
    path = _existing_file(xml, "Mulan XML label file")
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as exc:
        raise ValueError(
            f"Could not parse the Mulan XML label file {str(path)!r}: {exc}."
        ) from exc
    names = []
    # Hierarchical label files nest <label> elements; every one is a label.
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        if element.tag.rpartition("}")[2] != "label":
            continue
        name = element.get("name")
        if not name:
            raise ValueError(
                f"The Mulan XML label file {str(path)!r} has a <label> element "
                'without a name; write each label as <label name="..."></label>.'
            )
        names.append(name)
    if not names:
        raise ValueError(
            f"The Mulan XML label file {str(path)!r} names no label; expected "
            '<labels xmlns="http://mulan.sourceforge.net/labels"><label '
            'name="..."></label>...</labels>.'
        )
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(
            f"The Mulan XML label file {str(path)!r} names the same label more "
            f"than once: {_format_names(duplicates)}."
        )
    return names


def _arff_label_indices(names, relation, path, n_labels, label_location, xml):
    """Return the sorted positions of the label attributes among ``names``."""
    n_attributes = len(names)
    if xml is not None:
        if n_labels is not None or label_location is not None:
            raise ValueError(
                "Give the labels either by name, with xml=, or by position, with "
                "n_labels= and label_location=, not both."
            )
        label_names = _read_mulan_label_names(xml)
        position = {name: j for j, name in enumerate(names)}
        missing = [name for name in label_names if name not in position]
        if missing:
            raise ValueError(
                f"{len(missing)} of the {len(label_names)} labels named in the "
                f"Mulan XML file {str(xml)!r} are not attributes of the ARFF "
                f"file {str(path)!r}: {_format_names(missing)}. Check that the "
                "XML file belongs to this ARFF file."
            )
        return np.sort([position[name] for name in label_names])

    match = _MEKA_LABELS_OPTION.search(relation)
    meka_n_labels = int(match.group(1)) if match else None
    if n_labels is None:
        if meka_n_labels is None:
            raise ValueError(
                f"Cannot tell which attributes of the ARFF file {str(path)!r} "
                f"are labels: its relation name {relation!r} has no MEKA "
                "'-C n' option. For a Mulan file pass xml= (the XML label file "
                "that comes with it) or n_labels= (the labels are the last "
                "n_labels attributes); for labels that come first pass "
                "n_labels= and label_location='start'."
            )
        if meka_n_labels == 0:
            raise ValueError(
                f"The relation name {relation!r} of the ARFF file {str(path)!r} "
                "says '-C 0', that is no label; pass n_labels= to say how many "
                "attributes are labels."
            )
        n_labels = abs(meka_n_labels)
        origin = f"the MEKA option '-C {meka_n_labels}'"
    else:
        origin = f"n_labels={n_labels}"
    if label_location is None:
        negative = meka_n_labels is not None and meka_n_labels < 0
        label_location = "end" if meka_n_labels is None or negative else "start"
    if n_labels > n_attributes:
        raise ValueError(
            f"{origin} asks for {n_labels} labels, but the ARFF file "
            f"{str(path)!r} has only {n_attributes} attributes."
        )
    start = 0 if label_location == "start" else n_attributes - n_labels
    return np.arange(start, start + n_labels)


def _arff_value_tables(attributes, is_label, encode_nominal, path):
    """Map the codes of each nominal attribute to numbers.

    Returns a list with, for each attribute, None if it is numeric or an array
    whose entry ``i`` is the number that the ``i``-th declared value stands for.
    """
    tables = [None] * len(attributes)
    bad_labels, string_features, nominal_features = [], [], []
    for j, (name, kind) in enumerate(attributes):
        if isinstance(kind, str):  # NUMERIC, REAL, INTEGER or STRING
            if kind == "STRING":
                (bad_labels if is_label[j] else string_features).append(name)
            continue
        values = list(kind)
        if is_label[j] and not set(values) <= {"0", "1"}:
            bad_labels.append(name)
            continue
        try:
            tables[j] = np.array([float(value) for value in values])
        except (TypeError, ValueError):
            if encode_nominal:
                tables[j] = np.arange(len(values), dtype=np.float64)
            else:
                nominal_features.append(name)
    if bad_labels:
        raise ValueError(
            f"Labels must be binary attributes with values 0 and 1 (nominal "
            f"{{0,1}} or numeric), but in the ARFF file {str(path)!r} the "
            f"label attributes {_format_names(bad_labels)} are not. Check "
            "which attributes are labels (xml=, n_labels=, label_location=)."
        )
    if string_features:
        raise ValueError(
            f"The ARFF file {str(path)!r} has string attributes, which "
            f"load_arff cannot turn into features: "
            f"{_format_names(string_features)}."
        )
    if nominal_features:
        raise ValueError(
            f"The ARFF file {str(path)!r} has nominal features with "
            f"non-numeric values: {_format_names(nominal_features)}. Pass "
            "encode_nominal=True to encode each value as its 0-based position "
            "in the attribute's declaration."
        )
    return tables


def _decode_nominal_codes(codes, table):
    """Replace the nominal ``codes`` (float, NaN when missing) by their values."""
    values = np.full_like(codes, np.nan)
    known = ~np.isnan(codes)
    values[known] = table[codes[known].astype(np.intp)]
    return values


def _read_dense_arff_rows(rows, tables, n_attributes):
    """Return the rows of a dense ARFF file as a float64 array."""
    # liac-arff gives missing values as None, which NumPy turns into NaN.
    data = np.array(list(rows), dtype=np.float64).reshape(-1, n_attributes)
    for j, table in enumerate(tables):
        if table is not None:
            data[:, j] = _decode_nominal_codes(data[:, j], table)
    return data


def _read_sparse_arff_rows(rows, tables, n_attributes):
    """Return the rows of a sparse ARFF file as a float64 CSR matrix."""
    indptr, columns, values = [0], [], []
    for row in rows:
        columns.extend(row.keys())
        values.extend(row.values())
        indptr.append(len(columns))
    n_samples = len(indptr) - 1
    row_index = np.repeat(np.arange(n_samples), np.diff(indptr))
    columns = np.asarray(columns, dtype=np.intp)
    values = np.array(values, dtype=np.float64).reshape(-1)

    nominal = [j for j, table in enumerate(tables) if table is not None]
    if nominal:
        # Look up every nominal entry at once in the concatenated tables.
        sizes = np.zeros(n_attributes, dtype=np.intp)
        sizes[nominal] = [len(tables[j]) for j in nominal]
        offsets = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        flat_table = np.concatenate([tables[j] for j in nominal])
        is_code = (sizes[columns] > 0) & ~np.isnan(values)
        values[is_code] = flat_table[
            offsets[columns[is_code]] + values[is_code].astype(np.intp)
        ]
        # A value left out of a sparse row is the first declared value of a
        # nominal attribute, which may stand for a nonzero number.
        default = np.zeros(n_attributes)
        default[nominal] = [tables[j][0] for j in nominal]
        nonzero_default = np.flatnonzero(default)
        if nonzero_default.size:
            present = sp.csr_matrix(
                (np.ones(len(columns), dtype=bool), (row_index, columns)),
                shape=(n_samples, n_attributes),
            )[:, nonzero_default].toarray()
            fill_rows, fill_k = np.nonzero(~present)
            row_index = np.concatenate((row_index, fill_rows))
            columns = np.concatenate((columns, nonzero_default[fill_k]))
            values = np.concatenate((values, default[nonzero_default][fill_k]))
    return sp.csr_matrix(
        (values, (row_index, columns)), shape=(n_samples, n_attributes)
    )


def _check_arff_labels(Y, label_names, path):
    """Return the label block ``Y`` as uint8 after checking it holds only 0/1."""
    for bad, problem in (
        (np.isnan(Y), "a missing value ('?')"),
        ((Y != 0) & (Y != 1), "a value other than 0 and 1"),
    ):
        if bad.any():
            row, k = np.argwhere(bad)[0]
            raise ValueError(
                f"Label {label_names[k]!r} of the ARFF file {str(path)!r} has "
                f"{problem} in data row {row} (counting from 0); labels must "
                "be 0 or 1. Check which attributes are labels (xml=, "
                "n_labels=, label_location=)."
            )
    return Y.astype(np.uint8)


@validate_params(
    {
        "path": [str, os.PathLike],
        "n_labels": [Interval(Integral, 1, None, closed="left"), None],
        "label_location": [StrOptions({"start", "end"}), None],
        "xml": [str, os.PathLike, None],
        "sparse": ["boolean", None],
        "encode_nominal": ["boolean"],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_arff(
    path,
    *,
    n_labels=None,
    label_location=None,
    xml=None,
    sparse=None,
    encode_nominal=False,
    return_X_y=False,
):
    r"""Load a multi-label data set from an ARFF file in Mulan or MEKA format.

    Multi-label ARFF files store the labels as attributes next to the
    features, one binary attribute per label. The two common conventions say
    differently which attributes are labels:

    - **Mulan**: the labels are the last attributes; their names are listed in
      an XML file that comes with the data (pass it as ``xml``), or pass their
      number as ``n_labels``.
    - **MEKA**: the labels are the first attributes, and the relation name
      holds their number as the option ``-C n``, e.g.
      ``@relation 'scene: -C 6'``. With ``-C -n`` the labels are the last
      ``n`` attributes. Nothing needs to be passed.

    Both dense rows and sparse rows (``{index value, ...}``, where a left-out
    value is 0) are read. Files whose name ends in ``.gz`` are decompressed.

    Reading ARFF needs the optional package ``liac-arff``
    (``pip install sknc[arff]``).

    Parameters
    ----------
    path : str or path-like
        The ARFF file, UTF-8 encoded, optionally gzipped (``.gz``).

    n_labels : int, default=None
        Number of label attributes. If None, it is read from the MEKA ``-C``
        option of the relation name, or from ``xml``. Overrides the ``-C``
        option when given.

    label_location : {'start', 'end'}, default=None
        Whether the ``n_labels`` labels are the first (``'start'``, MEKA) or
        the last (``'end'``, Mulan) attributes. If None, it follows the sign
        of the MEKA ``-C`` option when there is one, and is ``'end'``
        otherwise.

    xml : str or path-like, default=None
        Mulan XML label file, e.g.
        ``<labels xmlns="http://mulan.sourceforge.net/labels"><label
        name="a"></label>...</labels>``. The attributes with these names are
        the labels, wherever they are in the file; nested (hierarchical)
        labels count as labels too. Cannot be combined with ``n_labels`` or
        ``label_location``.

    sparse : bool, default=None
        Whether to return the features as a SciPy CSR matrix. If None, they
        are sparse if and only if the file is in sparse ARFF format.

    encode_nominal : bool, default=False
        How to read nominal features whose declared values are not all
        numbers, e.g. ``{red, green}``. If False, such features raise a
        ``ValueError`` that names them. If True, each value is encoded as its
        0-based position in the declaration (``red`` -> 0, ``green`` -> 1), as
        Weka does internally. Nominal features with numeric values, such as
        the ``{0,1}`` word indicators of text data sets, are always read as
        those numbers.

    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        data : ndarray or CSR matrix of shape (n_samples, n_features)
            The features as float32, in file order. Missing values (``?``)
            are NaN.
        target : ndarray of shape (n_samples, n_labels), dtype uint8
            The label indicator matrix, columns in file order.
        feature_names : ndarray of shape (n_features,), dtype object
            The names of the feature attributes.
        target_names : ndarray of shape (n_labels,), dtype object
            The names of the label attributes, in the order of the columns of
            ``target``.
        relation : str
            The relation name of the file.
        DESCR : str
            The comment lines at the top of the file.

    (data, target) : tuple if ``return_X_y`` is True
        The features and the label indicator matrix described above.

    Raises
    ------
    ImportError
        If liac-arff is not installed.
    FileNotFoundError
        If ``path`` or ``xml`` is not an existing file.
    ValueError
        If the file is not valid ARFF; if nothing says which attributes are
        labels (no ``xml``, no ``n_labels`` and no MEKA ``-C`` option); if a
        label named in ``xml`` is not in the file; if a label attribute is not
        binary or holds a value other than 0 and 1, including missing values;
        or if a feature is a string attribute or a nominal attribute with
        non-numeric values while ``encode_nominal`` is False.

    See Also
    --------
    sklearn.datasets.load_svmlight_file : Load the svmlight/libsvm format.
    sklearn.datasets.fetch_openml : Fetch ARFF data sets from openml.org.

    Notes
    -----
    Features are returned as float32, like the estimators of sknc expect;
    integers above 2**24 are therefore rounded. Labels must be 0 or 1 in every
    row: missing labels (``?``), which MEKA allows, are an error.

    References
    ----------
    .. [1] G. Tsoumakas, E. Spyromitros-Xioufis, J. Vilcek and I. Vlahavas,
       "Mulan: A Java Library for Multi-Label Learning", JMLR 12, 2011.
    .. [2] J. Read, P. Reutemann, B. Pfahringer and G. Holmes, "MEKA: A
       Multi-label/Multi-target Extension to WEKA", JMLR 17, 2016.

    Examples
    --------
    A MEKA file says in its relation name that its first two attributes are
    labels:

    >>> from pathlib import Path
    >>> from tempfile import TemporaryDirectory
    >>> from sknc.datasets import load_arff
    >>> tmp = TemporaryDirectory()
    >>> path = Path(tmp.name) / "weather.arff"
    >>> _ = path.write_text(
    ...     "@relation 'weather: -C 2'\n"
    ...     "@attribute sun {0,1}\n"
    ...     "@attribute rain {0,1}\n"
    ...     "@attribute temperature numeric\n"
    ...     "@attribute humidity numeric\n"
    ...     "@data\n"
    ...     "1,0,25.5,0.25\n"
    ...     "0,1,12,0.75\n"
    ...     "1,1,18,0.5\n"
    ... )
    >>> data = load_arff(path)
    >>> data.data
    array([[25.5 ,  0.25],
           [12.  ,  0.75],
           [18.  ,  0.5 ]], dtype=float32)
    >>> data.target
    array([[1, 0],
           [0, 1],
           [1, 1]], dtype=uint8)
    >>> data.feature_names.tolist(), data.target_names.tolist()
    (['temperature', 'humidity'], ['sun', 'rain'])

    A sparse Mulan file, whose last two attributes are labels:

    >>> _ = path.write_text(
    ...     "@relation weather\n"
    ...     "@attribute temperature numeric\n"
    ...     "@attribute humidity numeric\n"
    ...     "@attribute sun {0,1}\n"
    ...     "@attribute rain {0,1}\n"
    ...     "@data\n"
    ...     "{0 25.5,2 1}\n"
    ...     "{1 0.75,3 1}\n"
    ... )
    >>> X, Y = load_arff(path, n_labels=2, return_X_y=True)
    >>> X.format, X.toarray()
    ('csr', array([[25.5 ,  0.  ],
           [ 0.  ,  0.75]], dtype=float32))
    >>> Y
    array([[1, 0],
           [0, 1]], dtype=uint8)
    >>> tmp.cleanup()
    """
    arff = _import_liac_arff()
    path = _existing_file(path, "ARFF file")
    decoder = arff.ArffDecoder()
    with _open_text(path) as file:
        lines = _CountingLines(file)
        try:
            sparse_file = _arff_data_is_sparse(path)
            # The generator return types parse the header here and the data
            # rows only when iterated, so header errors come before any row.
            parsed = decoder.decode(
                lines,
                encode_nominal=True,
                return_type=arff.LOD_GEN if sparse_file else arff.DENSE_GEN,
            )
            attributes = parsed["attributes"]
            names = [name for name, _ in attributes]
            relation = parsed["relation"]
            label_index = _arff_label_indices(
                names, relation, path, n_labels, label_location, xml
            )
            is_label = np.zeros(len(names), dtype=bool)
            is_label[label_index] = True
            tables = _arff_value_tables(attributes, is_label, encode_nominal, path)
            if sparse_file:
                values = _read_sparse_arff_rows(parsed["data"], tables, len(names))
            else:
                values = _read_dense_arff_rows(parsed["data"], tables, len(names))
        except arff.ArffException as exc:
            exc.line = lines.count
            try:
                message = str(exc)
            except (TypeError, ValueError):
                message = f"{type(exc).__name__} at line {lines.count}."
            raise ValueError(
                f"Could not read the ARFF file {str(path)!r}: {message}"
            ) from exc
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"The ARFF file {str(path)!r} is not UTF-8 text: {exc}."
            ) from exc

    feature_index = np.flatnonzero(~is_label)
    label_names = np.array([names[j] for j in label_index], dtype=object)
    feature_names = np.array([names[j] for j in feature_index], dtype=object)
    if sparse_file:
        target = values[:, label_index].toarray()
        X = values[:, feature_index].astype(np.float32)
        X.eliminate_zeros()
        X.sort_indices()
        if sparse is False:
            X = X.toarray()
    else:
        target = values[:, label_index]
        X = np.ascontiguousarray(values[:, feature_index], dtype=np.float32)
        if sparse:
            X = sp.csr_matrix(X)
    Y = _check_arff_labels(target, label_names, path)
    if return_X_y:
        return X, Y
    return Bunch(
        data=X,
        target=Y,
        feature_names=feature_names,
        target_names=label_names,
        relation=relation,
        DESCR=parsed["description"],
    )
