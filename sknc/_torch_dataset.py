"""A torch ``Dataset`` as ``X``: its inputs paired with the encoded targets.

The estimators accept any map-style ``torch.utils.data.Dataset`` in place of
an array, so that data can be read lazily (files, a memmap, a database)
through skorch's ``DataLoader`` and its workers. The labels still come as
``y``: the estimator needs them before training (the number of outputs, the
background label, the stratified validation split) and encodes them itself.
"""

import numbers

import numpy as np
import torch
from skorch.helper import SliceDataset
from torch.utils.data import Dataset


def is_torch_dataset(X):
    # skorch's SliceDataset is how a Dataset goes through scikit-learn's
    # model selection, which indexes X by arrays of rows
    return isinstance(X, (Dataset, SliceDataset))


def _inputs_of(item):
    # an item may be the inputs alone or an (inputs, target, ...) tuple
    if isinstance(item, (tuple, list)):
        item = item[0]
    x = torch.as_tensor(np.asarray(item) if not torch.is_tensor(item) else item)
    # the network is float32, as arrays are converted to float32
    return x.float() if x.is_floating_point() else x


def check_torch_dataset(X):
    """Return ``(n_samples, n_features)`` of a dataset of 1-D samples.

    Raises a ValueError that says how to fix the dataset otherwise.
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
