"""The one input path: arrays, sparse matrices, memmaps and torch Datasets.

What ``X`` is gets decided once, in :func:`validate_inputs`, where
scikit-learn hands the data over: an array-like becomes a float32 array or
CSR matrix (a float32 memmap stays on disk), and a map-style torch
``Dataset`` becomes a :class:`LabelledDataset`, which pairs its inputs with
the encoded targets. From there on training and inference take one path,
skorch's ``get_dataset`` -> ``get_iterator`` -> forward pass:

- :class:`ArrayBatches` slices whole mini-batches of in-memory arrays in one
  indexing call each, instead of the ``DataLoader``'s row-by-row collation
  (which on a small network costs as much as a quarter of the training
  time), whenever the user has not configured the iterator;
- anything else goes through skorch's ``DataLoader`` (workers included).

The labels of a torch ``Dataset`` still come as ``y``: the estimator needs
them before training (the number of outputs, the background label, the
stratified validation split) and encodes them itself.
"""

import numbers

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils.validation import validate_data
from skorch.dataset import Dataset as SkorchDataset
from skorch.helper import SliceDataset
from torch.utils.data import Dataset

__all__ = [
    "SplitRecord",
    "n_rows",
    "sample_rows",
    "ArrayBatches",
    "LabelledDataset",
    "array_batches",
    "check_torch_dataset",
    "validate_inputs",
]

# DataLoader arguments the fast path implements; any other (num_workers,
# sampler, collate_fn, ...) keeps the DataLoader
_SUPPORTED = {"batch_size", "shuffle", "drop_last", "pin_memory"}


# ------------------------------------------------------------ torch Dataset
def _inputs_of(item):
    # an item may be the inputs alone or an (inputs, target, ...) tuple
    if isinstance(item, (tuple, list)):
        item = item[0]
    x = torch.as_tensor(np.asarray(item) if not torch.is_tensor(item) else item)
    # the network is float32, as arrays are converted to float32
    return x.float() if x.is_floating_point() else x


def n_rows(X):
    """Return the number of rows of inputs as :func:`validate_inputs` returns them."""
    return len(X) if isinstance(X, LabelledDataset) else X.shape[0]


def sample_rows(X, n_max=20_000, among=None):
    """Return up to ``n_max`` evenly spaced rows of ``X`` as a float32 tensor.

    For statistics of the inputs (quantiles): a memmap is read only at those
    rows, a CSR matrix densified only there, a torch Dataset read item by
    item.

    Parameters
    ----------
    X : ndarray, csr_matrix or LabelledDataset
        Inputs as :func:`validate_inputs` returns them.
    n_max : int, default=20000
        The most rows read.
    among : array of int or None, default=None
        The positions the rows are drawn from (None: all of ``X``'s).

    Returns
    -------
    rows : torch.Tensor of shape (min(n, n_max), n_features)
        The rows.
    index : ndarray
        Their positions in ``X``.
    """
    among = np.arange(n_rows(X)) if among is None else np.sort(among)
    n = len(among)
    index = among[np.unique(np.linspace(0, n - 1, min(n, n_max)).round().astype(int))]
    if isinstance(X, LabelledDataset):
        rows = torch.stack([_inputs_of(X.dataset[int(i)]).reshape(-1) for i in index])
        return rows.float(), index
    rows = X[index]
    rows = rows.toarray() if sp.issparse(rows) else np.asarray(rows)
    return torch.as_tensor(rows, dtype=torch.float32), index


def check_torch_dataset(X):
    """Return ``(n_samples, n_features)`` of a dataset of 1-D samples.

    Parameters
    ----------
    X : torch.utils.data.Dataset
        A map-style dataset.

    Returns
    -------
    n_samples, n_features : int
        Its length and the length of its first sample.

    Raises
    ------
    ValueError
        When the dataset has no length, no sample, or samples that are not
        1-D; the message says how to fix it.
    """
    try:
        n = len(X)
    except TypeError as exc:
        raise ValueError(
            f"X is a torch Dataset without a length ({type(X).__name__}): the "
            "estimators need a map-style dataset with __len__ and __getitem__. "
            "Load an IterableDataset into an array or memmap first."
        ) from exc
    if not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"X is a torch Dataset with {n} samples; it needs at least 1.")
    x = _inputs_of(X[0])
    if x.ndim != 1:
        raise ValueError(
            "The samples of a torch Dataset passed as X must be 1-D feature "
            f"vectors, as the rows of an array are; the first has shape "
            f"{tuple(x.shape)}. Flatten them in the dataset's __getitem__ and "
            "reshape them in the module's forward (see the CNN example)."
        )
    return int(n), int(x.shape[0])


class LabelledDataset(Dataset):
    """The inputs of ``dataset`` with row ``i`` of ``y`` as the target.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        Items are the inputs, or tuples whose first element is the inputs
        (any other elements, e.g. the dataset's own targets, are ignored).
    y : ndarray of shape (n_samples, ...) or None
        The encoded targets; None gives a zero placeholder per sample, as
        skorch's ``Dataset`` does when predicting.
    """

    def __init__(self, dataset, y=None):
        self.dataset = dataset
        self.y = y

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        x = _inputs_of(self.dataset[i])
        target = 0.0 if self.y is None else self.y[i]
        return x, target

    def with_targets(self, y):
        """Return the same inputs paired with the targets ``y``."""
        return LabelledDataset(self.dataset, y)


class SplitRecord(Dataset):
    """The training data as ``fit`` hands it to skorch's loop.

    skorch's loop cuts its ``X`` into a training and a validation part
    (``get_split_datasets``) and keeps them to itself; the estimators' hook
    writes them on the record as well, so that ``fit`` can fit the decision
    on the same parts without another split.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        The training data with its targets.
    """

    def __init__(self, dataset):
        self.dataset = dataset
        self.split = (dataset, None)

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        return self.dataset[i]


# --------------------------------------------------------------- validation
def _validate_torch_dataset(estimator, X, reset):
    _, n_features = check_torch_dataset(X)
    if reset:
        estimator.n_features_in_ = n_features
        estimator.__dict__.pop("feature_names_in_", None)
    elif n_features != estimator.n_features_in_:
        raise ValueError(
            f"X has {n_features} features, but {type(estimator).__name__} is "
            f"expecting {estimator.n_features_in_} features as input."
        )
    return LabelledDataset(X)


def validate_inputs(estimator, X, reset):
    """Check ``X`` where scikit-learn hands it over, and decide its path.

    Parameters
    ----------
    estimator : estimator
        Gets ``n_features_in_`` (and ``feature_names_in_``) when ``reset``,
        and is checked against them otherwise.
    X : array-like, sparse matrix, DataFrame or torch.utils.data.Dataset
        The input data. skorch's ``SliceDataset`` (how a torch Dataset goes
        through scikit-learn's model selection) counts as a Dataset.
    reset : bool
        Whether this is the first fit.

    Returns
    -------
    X : ndarray, csr_matrix or LabelledDataset
        A float32 (or the estimator's ``dtype``) array or CSR matrix (a
        memmap of that dtype is not copied), or
        the dataset wrapped as a :class:`LabelledDataset` without targets.
    """
    if isinstance(X, (Dataset, SliceDataset)):
        return _validate_torch_dataset(estimator, X, reset)
    try:
        X = validate_data(
            estimator,
            X,
            accept_sparse="csr",
            dtype=(np.float32, np.float64),
            reset=reset,
        )
    except ValueError as exc:
        if isinstance(X, list) and X and isinstance(X[0], tuple):
            # scikit-learn's model selection indexed a torch Dataset row by
            # row and handed over the list of its items
            raise ValueError(
                "X is a list of tuples, as scikit-learn makes of a torch "
                "Dataset when it selects rows (cross-validation, grid "
                "search). Wrap the dataset in skorch.helper.SliceDataset "
                "so that it is indexed lazily and read as a dataset."
            ) from exc
        if "could not convert" not in str(exc):
            raise
        raise ValueError(
            f"X must be numeric, but it contains non-numeric values ({exc}). "
            "Encode text or categorical columns first, e.g. with "
            "sklearn.preprocessing.OneHotEncoder or TfidfVectorizer in a "
            "Pipeline."
        ) from exc
    # the network's precision (float32 unless the estimator's dtype says)
    dtype = np.dtype(getattr(estimator, "dtype", "float32"))
    if sp.issparse(X):
        # skorch's Dataset densifies rows of scipy sparse *matrices*
        return sp.csr_matrix(X, dtype=dtype)
    return X.astype(dtype, copy=False)


# ------------------------------------------------------------ array batches
class ArrayBatches:
    """Iterate over ``(X_batch, y_batch)`` tensors of in-memory arrays.

    Shuffling draws from torch's global generator, as ``DataLoader`` does,
    so ``random_state`` keeps training repeatable.

    Parameters
    ----------
    X : ndarray or CSR matrix of shape (n_samples, n_features)
        Rows are densified batch by batch.
    y : ndarray of shape (n_samples, ...) or None
        None yields a zero placeholder per row, as skorch's ``Dataset`` does.
    indices : ndarray of int or None
        The rows to iterate over (a ``Subset``'s); None takes all.
    batch_size : int
        Rows per batch.
    shuffle : bool, default=False
        Draw a new order of the rows at every iteration.
    drop_last : bool, default=False
        Leave out the last, smaller batch.
    pin_memory : bool, default=False
        Return page-locked tensors, for faster non-blocking copies to a GPU.
    """

    def __init__(
        self,
        X,
        y,
        indices,
        batch_size,
        shuffle=False,
        drop_last=False,
        pin_memory=False,
    ):
        self.X = X
        self.y = y
        self.indices = indices
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.pin_memory = pin_memory

    def _n_rows(self):
        return self.X.shape[0] if self.indices is None else len(self.indices)

    def __len__(self):
        n, size = self._n_rows(), self.batch_size
        return n // size if self.drop_last else -(-n // size)

    def __iter__(self):
        n, size = self._n_rows(), self.batch_size
        if self.shuffle:
            order = torch.randperm(n).numpy()
            rows = order if self.indices is None else self.indices[order]
        else:
            rows = np.arange(n) if self.indices is None else self.indices
        stop = n - n % size if self.drop_last else n
        for start in range(0, stop, size):
            batch = rows[start : start + size]
            Xb = self.X[batch]  # a copy: writable even for a read-only memmap
            Xb = torch.as_tensor(Xb.toarray() if sp.issparse(Xb) else Xb)
            if self.y is None:
                yb = torch.zeros(len(batch))
            else:
                yb = torch.as_tensor(self.y[batch])
            if self.pin_memory:
                Xb, yb = Xb.pin_memory(), yb.pin_memory()
            yield Xb, yb


def array_batches(dataset, iterator, kwargs):
    """Return an :class:`ArrayBatches` for ``dataset``, or None if it cannot apply.

    It applies to skorch's own ``Dataset`` (or a ``Subset`` of one, as made
    by a ``train_split``) over a numpy array or CSR matrix, iterated by the
    default ``DataLoader`` with no arguments beyond batch size, shuffling,
    ``drop_last`` and ``pin_memory``, and not inside a ``torch.distributed``
    process group.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        The dataset skorch would iterate over.
    iterator : type
        The net's ``iterator_train`` or ``iterator_valid``.
    kwargs : dict
        The iterator's arguments.

    Returns
    -------
    batches : ArrayBatches or None
        The fast iterator, or None when skorch's iterator must be used.
    """
    if iterator is not torch.utils.data.DataLoader or set(kwargs) - _SUPPORTED:
        return None
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        # data-parallel training (e.g. accelerate) shards DataLoaders only
        return None
    indices = None
    if type(dataset) is torch.utils.data.Subset:
        indices = np.asarray(dataset.indices)
        if indices.dtype.kind not in "iu":
            return None
        dataset = dataset.dataset
    if type(dataset) is not SkorchDataset:
        return None
    X, y = dataset.X, dataset.y
    if not (isinstance(X, np.ndarray) or sp.isspmatrix_csr(X)) or X.ndim != 2:
        return None
    if y is not None and not isinstance(y, np.ndarray):
        return None
    return ArrayBatches(X, y, indices, **kwargs)
