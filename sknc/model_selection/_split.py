"""Cross-validation splitters and a skorch ``train_split`` for multi-label data.

The splitters wrap the iterative stratification of Sechidis et al. (2011), as
implemented by the ``iterative-stratification`` package (``iterstrat``), so that
they accept what scikit-learn users pass as ``y``: a dense or sparse 0/1 label
indicator, a pandas DataFrame, a list of lists, or a 1-D vector of class labels.
They can be passed as ``cv=`` to :class:`~sklearn.model_selection.GridSearchCV`,
:func:`~sklearn.model_selection.cross_validate` and friends.

Iterative stratification keeps the proportion of positive samples of *each label*
close to the overall proportion in every fold. It does not stratify label pairs
or whole label sets, which is what makes it work where
:class:`~sklearn.model_selection.StratifiedKFold` on label combinations fails
(any label set seen once breaks it).

Differences from ``iterstrat``:

- ``y`` is validated: it must be a 2-D 0/1 indicator (or a 1-D vector of class
  labels, which is one-hot encoded). ``iterstrat`` casts ``y`` to ``bool``, so
  a value of 2 silently counts as a positive, and it rejects sparse ``y``,
  1-D ``y`` and single-label ``(n, 1)`` indicators.
- ``shuffle=False`` is the default, as in scikit-learn's
  :class:`~sklearn.model_selection.StratifiedKFold`, and it is deterministic:
  the same folds on every call (``iterstrat`` breaks ties with NumPy's
  global random state). ``shuffle=True, random_state=seed`` gives other,
  repeatable folds.
- :class:`MultilabelStratifiedShuffleSplit` has a working default ``test_size``
  (0.1, as in :class:`~sklearn.model_selection.ShuffleSplit`) and honours
  ``train_size`` (``iterstrat`` only uses the ratio of the two sizes).
- A :class:`StratificationWarning` is issued for labels with too few positive
  samples to appear in every fold, instead of leaving it to chance.

References
----------
.. [1] Sechidis K., Tsoumakas G., Vlahavas I. (2011). On the Stratification of
   Multi-Label Data. In: Machine Learning and Knowledge Discovery in Databases,
   ECML PKDD 2011. Lecture Notes in Computer Science, vol 6913. Springer.
"""

import numbers
from itertools import chain

import numpy as np
import torch
from iterstrat import ml_stratifiers as _iterstrat
from sklearn.model_selection._split import _BaseKFold, _validate_shuffle_split
from sklearn.utils import _safe_indexing, check_random_state, indexable
from sklearn.utils._param_validation import Interval, RealNotInt, validate_params
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import _num_samples

from .._targets import check_indicator, one_hot, to_array
from .._warnings import warn

__all__ = [
    "MultilabelStratifiedKFold",
    "MultilabelStratifiedShuffleSplit",
    "MultilabelStratifiedValidSplit",
    "RepeatedMultilabelStratifiedKFold",
    "StratificationWarning",
    "multilabel_train_test_split",
]

# How many rare labels a warning names before it summarises the rest.
_MAX_NAMED_LABELS = 10


class StratificationWarning(UserWarning):
    """Warning issued when some labels cannot be stratified.

    A label with fewer positive samples than there are folds (or than are
    needed for one expected positive in each part of a train/test split) cannot
    appear in every test set: some folds get none of its positives, and
    per-label scores on those folds are undefined or misleading.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from sknc.model_selection import (
    ...     MultilabelStratifiedKFold, StratificationWarning)
    >>> Y = np.zeros((10, 2), dtype=int)
    >>> Y[:5, 0] = 1
    >>> Y[0, 1] = 1  # label 1 has a single positive sample
    >>> cv = MultilabelStratifiedKFold(n_splits=3)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     folds = list(cv.split(np.zeros((10, 1)), Y))
    >>> caught[0].category is StratificationWarning
    True
    """


def _check_label_indicator(y, param="y"):
    """Validate ``y`` and return it as a dense boolean label indicator.

    Parameters
    ----------
    y : array-like, sparse matrix, DataFrame or tensor
        A 2-D 0/1 label indicator of shape (n_samples, n_labels), or a 1-D
        vector of class labels, which is one-hot encoded.
    param : str, default="y"
        Name of the parameter, used in error messages.

    Returns
    -------
    indicator : ndarray of shape (n_samples, n_labels), dtype=bool
        The label indicator.
    label_names : list
        A name for each column: the DataFrame's column names, the classes of a
        1-D ``y``, or the column indices.
    """
    if y is None:
        raise ValueError(
            f"{param}=None: stratified splitting needs the targets. Pass {param} "
            "as a 2-D 0/1 label indicator of shape (n_samples, n_labels)."
        )
    array, names = to_array(y, param)
    if array.ndim == 1:
        try:
            kind = type_of_target(array, input_name=param)
        except ValueError as exc:
            raise ValueError(f"{param} cannot be stratified: {exc}") from exc
        if kind not in ("binary", "multiclass"):
            raise ValueError(
                f"{param} is 1-D with target type {kind!r}; stratification needs "
                "class labels. Pass a 1-D vector of class labels or a 2-D 0/1 "
                "label indicator of shape (n_samples, n_labels)."
            )
        indicator, classes = one_hot(array, name=param)
        return indicator.astype(bool), classes.tolist()
    indicator, _ = check_indicator(array, param)
    names = list(range(indicator.shape[1])) if names is None else list(names)
    return indicator, names


def _warn_rare_labels(indicator, names, min_positives, reason):
    """Warn about labels with ``0 < n_positives < min_positives``."""
    counts = indicator.sum(axis=0)
    rare = np.flatnonzero((counts > 0) & (counts < min_positives))
    if rare.size == 0:
        return
    listed = ", ".join(f"{names[j]!r} ({counts[j]})" for j in rare[:_MAX_NAMED_LABELS])
    if rare.size > _MAX_NAMED_LABELS:
        listed += f", and {rare.size - _MAX_NAMED_LABELS} more"
    warn(
        f"{rare.size} of {indicator.shape[1]} labels have fewer than "
        f"{min_positives:g} positive samples ({reason}) and cannot be "
        "stratified: some test sets will contain none of their positives. "
        f"Labels (positives): {listed}. Use fewer splits or a larger test set, "
        "or merge or drop these labels.",
        StratificationWarning,
    )


def _check_n_splits(n_splits, n_samples):
    """Raise early (before any warning) when there are too few samples."""
    if isinstance(n_splits, numbers.Integral) and n_splits > n_samples:
        raise ValueError(
            f"Cannot have number of splits n_splits={n_splits} greater than the "
            f"number of samples: n_samples={n_samples}."
        )


def _iterative_stratification(indicator, proportions, rng, shuffle):
    """Assign each sample to a part with iterstrat's iterative stratification.

    Parameters
    ----------
    indicator : ndarray of shape (n_samples, n_labels), dtype=bool
        The label indicator (must be boolean: iterstrat indexes with its rows).
    proportions : array-like of shape (n_parts,)
        Desired fraction of the samples in each part; sums to 1.
    rng : numpy.random.RandomState
        Breaks ties and, if ``shuffle``, orders the samples.
    shuffle : bool
        Whether to shuffle the samples before stratifying.

    Returns
    -------
    parts : ndarray of shape (n_samples,)
        The part of each sample.
    """
    n_samples = indicator.shape[0]
    order = rng.permutation(n_samples) if shuffle else np.arange(n_samples)
    parts_in_order = _iterstrat.IterativeStratification(
        labels=indicator[order],
        r=np.asarray(proportions, dtype=float),
        random_state=rng,
    )
    parts = np.empty(n_samples, dtype=int)
    parts[order] = parts_in_order
    return parts


class MultilabelStratifiedKFold(_iterstrat.MultilabelStratifiedKFold):
    """Multi-label stratified K-fold cross-validator.

    Splits the samples into ``n_splits`` folds such that the proportion of
    positive samples of each label in every fold is close to its proportion in
    the whole data, with iterative stratification [1]_. Each fold is used once
    as the test set. Fold sizes can differ slightly from ``n_samples /
    n_splits``: stratification comes first.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds. Must be at least 2.
    shuffle : bool, default=False
        Whether to shuffle the samples before stratifying. Without shuffling
        (the default, as in :class:`~sklearn.model_selection.StratifiedKFold`)
        the folds are deterministic: ties are broken with a fixed seed, and
        ``random_state`` must be None.
    random_state : int, RandomState instance or None, default=None
        Controls the shuffling and the tie-breaking when ``shuffle=True``.
        Pass an int for the same folds on every call of ``split``. With None,
        NumPy's global random state is used and each call gives different
        folds (:class:`~sklearn.model_selection.GridSearchCV` and
        :func:`~sklearn.model_selection.cross_validate` call ``split`` once, so
        all candidates still see the same folds). Setting it without
        ``shuffle=True`` raises, as in scikit-learn.

    See Also
    --------
    RepeatedMultilabelStratifiedKFold : Repeats this with different shuffles.
    MultilabelStratifiedShuffleSplit : Random stratified train/test splits.
    sklearn.model_selection.StratifiedKFold : For a single multi-class target.

    Notes
    -----
    ``y`` passed to :meth:`split` may be a dense or sparse 0/1 indicator of
    shape (n_samples, n_labels), a DataFrame, a list of lists or a tensor; it
    is converted to a dense boolean array. A 1-D ``y`` of class labels is
    one-hot encoded, which stratifies by class like
    :class:`~sklearn.model_selection.StratifiedKFold`. Labels with fewer
    positive samples than ``n_splits`` trigger a
    :class:`StratificationWarning`.

    References
    ----------
    .. [1] Sechidis K., Tsoumakas G., Vlahavas I. (2011). On the
       Stratification of Multi-Label Data. ECML PKDD 2011, LNCS 6913.

    Examples
    --------
    >>> import numpy as np
    >>> from sknc.model_selection import MultilabelStratifiedKFold
    >>> Y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]] * 5)
    >>> cv = MultilabelStratifiedKFold(n_splits=2)
    >>> cv
    MultilabelStratifiedKFold(n_splits=2, random_state=None, shuffle=False)
    >>> for train, test in cv.split(np.zeros((20, 1)), Y):
    ...     print(len(test), Y[test].sum(axis=0))
    10 [5 5]
    10 [5 5]
    """

    # Set to False in the folds a repeated splitter builds (it warns once).
    _warn_rare = True

    def __init__(self, n_splits=5, *, shuffle=False, random_state=None):
        super().__init__(n_splits=n_splits, shuffle=shuffle, random_state=random_state)

    def split(self, X, y, groups=None):
        """Generate indices to split data into training and test sets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; only its number of samples is used, so
            ``np.zeros(n_samples)`` works too.
        y : array-like or sparse matrix of shape (n_samples, n_labels)
            The 0/1 label indicator to stratify on, or a 1-D vector of class
            labels.
        groups : object
            Ignored, exists for compatibility.

        Returns
        -------
        splits : generator of (ndarray, ndarray)
            The training and test indices of each fold. ``y`` is validated
            when ``split`` is called, not when the generator is consumed.
        """
        indicator, names = _check_label_indicator(y)
        X, indicator, groups = indexable(X, indicator, groups)
        _check_n_splits(self.n_splits, _num_samples(X))
        if self._warn_rare:
            _warn_rare_labels(
                indicator, names, self.n_splits, f"n_splits={self.n_splits}"
            )
        # Skip iterstrat's split, which rejects sparse y; _BaseKFold.split
        # checks n_splits <= n_samples and calls _make_test_folds below.
        return _BaseKFold.split(self, X, indicator, groups)

    def _make_test_folds(self, X, y):
        indicator, _ = _check_label_indicator(y)
        if self.shuffle:
            rng = check_random_state(self.random_state)
        else:
            rng = np.random.RandomState(0)
        proportions = np.full(self.n_splits, 1.0 / self.n_splits)
        return _iterative_stratification(
            indicator, proportions, rng, shuffle=self.shuffle
        )


class _QuietMultilabelStratifiedKFold(MultilabelStratifiedKFold):
    """Folds of a repeated splitter, which has already warned about y."""

    _warn_rare = False


class RepeatedMultilabelStratifiedKFold(_iterstrat.RepeatedMultilabelStratifiedKFold):
    """Repeated multi-label stratified K-fold cross-validator.

    Repeats :class:`MultilabelStratifiedKFold` ``n_repeats`` times, with a
    different shuffle of the samples in each repetition (it always
    shuffles).

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds. Must be at least 2.
    n_repeats : int, default=10
        Number of repetitions.
    random_state : int, RandomState instance or None, default=None
        Controls the shuffles of all repetitions. Pass an int for the same
        splits on every call of ``split``; with None each call differs.

    See Also
    --------
    MultilabelStratifiedKFold : A single repetition.

    Examples
    --------
    >>> import numpy as np
    >>> from sknc.model_selection import RepeatedMultilabelStratifiedKFold
    >>> Y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]] * 5)
    >>> cv = RepeatedMultilabelStratifiedKFold(n_splits=2, n_repeats=3,
    ...                                        random_state=0)
    >>> cv.get_n_splits()
    6
    >>> [len(test) for train, test in cv.split(np.zeros((20, 1)), Y)]
    [10, 10, 10, 10, 10, 10]
    """

    def __init__(self, n_splits=5, *, n_repeats=10, random_state=None):
        super().__init__(
            n_splits=n_splits, n_repeats=n_repeats, random_state=random_state
        )
        self.cv = _QuietMultilabelStratifiedKFold

    def split(self, X, y, groups=None):
        """Generate indices to split data into training and test sets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; only its number of samples is used.
        y : array-like or sparse matrix of shape (n_samples, n_labels)
            The 0/1 label indicator to stratify on, or a 1-D vector of class
            labels.
        groups : object
            Ignored, exists for compatibility.

        Returns
        -------
        splits : generator of (ndarray, ndarray)
            The training and test indices of each fold of each repetition.
        """
        indicator, names = _check_label_indicator(y)
        X, indicator, groups = indexable(X, indicator, groups)
        n_splits = self.cvargs["n_splits"]
        _check_n_splits(n_splits, _num_samples(X))
        _warn_rare_labels(indicator, names, n_splits, f"n_splits={n_splits}")
        return super().split(X, indicator, groups)


class MultilabelStratifiedShuffleSplit(_iterstrat.MultilabelStratifiedShuffleSplit):
    """Multi-label stratified shuffle-split cross-validator.

    Draws ``n_splits`` random train/test splits in which the proportion of
    positive samples of each label is close to the overall one, with iterative
    stratification. The sizes of the parts can differ slightly from the
    requested ones: stratification comes first.

    Parameters
    ----------
    n_splits : int, default=10
        Number of re-shuffling and splitting iterations.
    test_size : float or int, default=None
        If float, the fraction of the samples in the test set, in (0, 1); if
        int, their number. If None, the complement of ``train_size``, or 0.1
        when ``train_size`` is None too.
    train_size : float or int, default=None
        If float, the fraction of the samples in the training set, in (0, 1);
        if int, their number. If None, the complement of the test size. When
        ``train_size + test_size`` is less than the whole data, the remaining
        samples are left out of both parts (stratified as a third part).
    random_state : int, RandomState instance or None, default=None
        Controls the shuffles and tie-breaking. Pass an int for the same
        splits on every call of ``split``; with None each call differs.

    See Also
    --------
    MultilabelStratifiedKFold : Stratified folds that cover every sample.
    multilabel_train_test_split : A single stratified train/test split.

    Notes
    -----
    ``y`` is handled as in :class:`MultilabelStratifiedKFold`. Labels with too
    few positive samples for one expected positive in the smaller of the two
    parts trigger a :class:`StratificationWarning`.

    Examples
    --------
    >>> import numpy as np
    >>> from sknc.model_selection import MultilabelStratifiedShuffleSplit
    >>> Y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]] * 5)
    >>> cv = MultilabelStratifiedShuffleSplit(n_splits=2, test_size=0.4,
    ...                                       random_state=0)
    >>> for train, test in cv.split(np.zeros((20, 1)), Y):
    ...     print(len(train), len(test), Y[test].sum(axis=0))
    12 8 [4 4]
    12 8 [4 4]
    """

    def __init__(
        self, n_splits=10, *, test_size=None, train_size=None, random_state=None
    ):
        # BaseShuffleSplit stores the parameters and sets _default_test_size.
        super().__init__(
            n_splits=n_splits,
            test_size=test_size,
            train_size=train_size,
            random_state=random_state,
        )

    def _sizes(self, n_samples):
        return _validate_shuffle_split(
            n_samples,
            self.test_size,
            self.train_size,
            default_test_size=self._default_test_size,
        )

    def split(self, X, y, groups=None):
        """Generate indices to split data into training and test sets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; only its number of samples is used.
        y : array-like or sparse matrix of shape (n_samples, n_labels)
            The 0/1 label indicator to stratify on, or a 1-D vector of class
            labels.
        groups : object
            Ignored, exists for compatibility.

        Returns
        -------
        splits : generator of (ndarray, ndarray)
            The training and test indices of each split. ``y`` and the sizes
            are validated when ``split`` is called.
        """
        indicator, names = _check_label_indicator(y)
        X, indicator, groups = indexable(X, indicator, groups)
        n_samples = _num_samples(X)
        n_train, n_test = self._sizes(n_samples)
        smaller = min(n_train, n_test)
        _warn_rare_labels(
            indicator,
            names,
            n_samples / smaller,
            f"{smaller} of {n_samples} samples in the smaller part",
        )
        return self._iter_indices(X, indicator, groups)

    def _iter_indices(self, X, y, groups=None):
        indicator, _ = _check_label_indicator(y)
        n_samples = _num_samples(X)
        n_train, n_test = self._sizes(n_samples)
        sizes = [n_train, n_test]
        if n_samples > n_train + n_test:
            sizes.append(n_samples - n_train - n_test)  # left out of both
        proportions = np.asarray(sizes) / n_samples
        rng = check_random_state(self.random_state)
        for _ in range(self.n_splits):
            parts = _iterative_stratification(indicator, proportions, rng, True)
            yield np.flatnonzero(parts == 0), np.flatnonzero(parts == 1)


@validate_params(
    {
        "test_size": [
            Interval(RealNotInt, 0, 1, closed="neither"),
            Interval(numbers.Integral, 1, None, closed="left"),
            None,
        ],
        "train_size": [
            Interval(RealNotInt, 0, 1, closed="neither"),
            Interval(numbers.Integral, 1, None, closed="left"),
            None,
        ],
        "random_state": ["random_state"],
        "stratify": ["array-like", "sparse matrix", None],
    },
    prefer_skip_nested_validation=True,
)
def multilabel_train_test_split(
    *arrays, test_size=None, train_size=None, random_state=None, stratify=None
):
    """Split arrays into train and test subsets, stratified on a label indicator.

    Like :func:`sklearn.model_selection.train_test_split`, but the split keeps
    the proportion of positive samples of each label of ``stratify`` close to
    the overall one (iterative stratification, through
    :class:`MultilabelStratifiedShuffleSplit`).

    Parameters
    ----------
    *arrays : sequence of indexables with the same length
        Lists, NumPy arrays, SciPy sparse matrices or pandas DataFrames.
    test_size : float or int, default=None
        If float, the fraction of the samples in the test set, in (0, 1); if
        int, their number. If None, the complement of ``train_size``, or 0.25
        when ``train_size`` is None too (as in ``train_test_split``).
    train_size : float or int, default=None
        If float, the fraction of the samples in the training set; if int,
        their number. If None, the complement of the test size. Samples in
        neither part are dropped.
    random_state : int, RandomState instance or None, default=None
        Controls the shuffle and tie-breaking. Pass an int for a repeatable
        split.
    stratify : array-like or sparse matrix of shape (n_samples, n_labels)
        Required. The 0/1 label indicator to stratify on, usually the ``Y``
        among ``arrays`` (a 1-D vector of class labels works too). There is no
        unstratified mode and no default: for an unstratified split use
        :func:`sklearn.model_selection.train_test_split`. The samples are
        always shuffled.

    Returns
    -------
    splitting : list of length 2 * len(arrays)
        The train and test parts of each input, in the order
        ``a_train, a_test, b_train, b_test, ...``, each of the input's type.

    See Also
    --------
    MultilabelStratifiedShuffleSplit : Several such splits, as a CV splitter.

    Examples
    --------
    >>> import numpy as np
    >>> from sknc.model_selection import multilabel_train_test_split
    >>> X = np.arange(40).reshape(20, 2)
    >>> Y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]] * 5)
    >>> X_train, X_test, Y_train, Y_test = multilabel_train_test_split(
    ...     X, Y, test_size=0.4, random_state=0, stratify=Y)
    >>> X_train.shape, X_test.shape
    ((12, 2), (8, 2))
    >>> Y_test.sum(axis=0)
    array([4, 4])
    """
    if not arrays:
        raise ValueError("At least one array is required as input.")
    if stratify is None:
        raise ValueError(
            "multilabel_train_test_split needs stratify=Y, the 0/1 label "
            "indicator of shape (n_samples, n_labels) to stratify on; got "
            "stratify=None. For an unstratified split use "
            "sklearn.model_selection.train_test_split."
        )
    _check_label_indicator(stratify, param="stratify")  # errors name stratify
    arrays = indexable(*arrays)
    n_samples = _num_samples(arrays[0])
    if test_size is None and train_size is None:
        test_size = 0.25
    cv = MultilabelStratifiedShuffleSplit(
        n_splits=1,
        test_size=test_size,
        train_size=train_size,
        random_state=random_state,
    )
    train, test = next(cv.split(np.zeros((n_samples, 1)), stratify))
    return list(
        chain.from_iterable(
            (_safe_indexing(a, train), _safe_indexing(a, test)) for a in arrays
        )
    )


class MultilabelStratifiedValidSplit:
    """Stratified train/validation split for skorch's ``train_split``.

    A drop-in for :class:`skorch.dataset.ValidSplit` that stratifies a
    multi-label target with iterative stratification. skorch's own
    ``ValidSplit(stratified=True)`` only handles a 1-D target and cannot wrap
    the multi-label splitters. Pass an instance as ``train_split=`` to a
    :class:`skorch.NeuralNet`; it is called once per fit.

    Parameters
    ----------
    cv : int or float, default=5
        If float, the fraction of the samples in the validation set, in
        (0, 1), as with :class:`MultilabelStratifiedShuffleSplit`. If int
        (at least 2), the number of folds of a
        :class:`MultilabelStratifiedKFold`, of which the first is the
        validation set, so ``cv=5`` holds out about a fifth of the data.
    random_state : int, RandomState instance or None, default=None
        Controls the shuffle and tie-breaking, for both kinds of ``cv``
        (unlike skorch's ``ValidSplit``, an int ``cv`` shuffles too). Pass
        an int for the same split on every fit; with None each fit draws a
        new split.

    See Also
    --------
    skorch.dataset.ValidSplit : The skorch split, for 1-D or unstratified data.
    MultilabelStratifiedShuffleSplit, MultilabelStratifiedKFold : The
        splitters used for a float and an int ``cv``.

    Notes
    -----
    The targets are the ``y`` skorch passes, or, when the net is fitted on a
    dataset without ``y``, the dataset's ``y`` attribute (as in
    :class:`skorch.dataset.Dataset`). They may be a NumPy array, a tensor, a
    DataFrame or a sparse matrix. A 2-D 0/1 indicator is stratified label by
    label; a 1-D vector of class labels is one-hot encoded, which stratifies
    by class (the split differs from skorch's ``StratifiedShuffleSplit``, but
    a class with a single sample gives a warning, not an error). A
    :class:`StratificationWarning` names labels too rare to be stratified.
    ``groups`` are ignored.

    Examples
    --------
    >>> import numpy as np
    >>> from skorch.dataset import Dataset
    >>> from sknc.model_selection import MultilabelStratifiedValidSplit
    >>> X = np.zeros((20, 3), dtype=np.float32)
    >>> Y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]] * 5, dtype=np.float32)
    >>> split = MultilabelStratifiedValidSplit(0.2, random_state=0)
    >>> split
    MultilabelStratifiedValidSplit(cv=0.2, random_state=0)
    >>> ds_train, ds_valid = split(Dataset(X, Y), Y)
    >>> len(ds_train), len(ds_valid)
    (16, 4)
    >>> Y[ds_valid.indices].sum(axis=0)
    array([2., 2.], dtype=float32)
    """

    def __init__(self, cv=5, random_state=None):
        self.cv = cv
        self.random_state = random_state

    def __repr__(self):
        return (
            f"{type(self).__name__}(cv={self.cv!r}, random_state={self.random_state!r})"
        )

    def _splitter(self):
        cv = self.cv
        if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
            if cv >= 2:
                return MultilabelStratifiedKFold(
                    n_splits=int(cv), shuffle=True, random_state=self.random_state
                )
        elif isinstance(cv, numbers.Real) and not isinstance(cv, bool):
            if 0 < cv < 1:
                return MultilabelStratifiedShuffleSplit(
                    n_splits=1, test_size=float(cv), random_state=self.random_state
                )
        raise ValueError(
            f"cv must be an int number of folds >= 2 or a float validation "
            f"fraction in (0, 1); got cv={cv!r}. For example cv=5 or cv=0.2."
        )

    def __call__(self, dataset, y=None, groups=None):
        """Split ``dataset`` into a training and a validation subset.

        Parameters
        ----------
        dataset : torch.utils.data.Dataset
            The dataset to split, usually the :class:`skorch.dataset.Dataset`
            the net builds from ``X`` and ``y``.
        y : array-like, tensor or sparse matrix, default=None
            The targets to stratify on, one row per sample of ``dataset``. If
            None, ``dataset.y`` is used.
        groups : object, default=None
            Ignored, exists for compatibility with skorch.

        Returns
        -------
        dataset_train : torch.utils.data.Subset
            The training part of ``dataset``.
        dataset_valid : torch.utils.data.Subset
            The validation part of ``dataset``.
        """
        splitter = self._splitter()
        if y is None:
            y = getattr(dataset, "y", None)
        if y is None:
            raise ValueError(
                f"{type(self).__name__} needs the targets to stratify on, but "
                "y is None and the dataset has no y. Pass y to fit, or use "
                "skorch.dataset.ValidSplit(cv) for an unstratified split."
            )
        if isinstance(y, torch.Tensor):
            y = y.detach().cpu().numpy()
        n_samples = len(dataset)
        if _num_samples(y) != n_samples:
            raise ValueError(
                f"y has {_num_samples(y)} samples but the dataset has "
                f"{n_samples}; they must match to split them."
            )
        idx_train, idx_valid = next(splitter.split(np.zeros((n_samples, 1)), y))
        return (
            torch.utils.data.Subset(dataset, idx_train),
            torch.utils.data.Subset(dataset, idx_valid),
        )
