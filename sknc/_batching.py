"""Mini-batches sliced from in-memory arrays.

skorch's default iterator is a ``DataLoader`` over its ``Dataset``: every
batch indexes the arrays row by row and collates the rows again, which on a
small network costs as much as a quarter of the training time. When the data
are plain in-memory arrays and the user has not configured the iterator,
the estimators slice whole batches instead (one fancy-indexing call each).
Shuffling draws from torch's global generator, as ``DataLoader`` does, so
``random_state`` keeps training repeatable.
"""

import numpy as np
import scipy.sparse as sp
import torch
from skorch.dataset import Dataset

# DataLoader arguments the fast path implements; any other (num_workers,
# sampler, collate_fn, ...) keeps the DataLoader
_SUPPORTED = {"batch_size", "shuffle", "drop_last", "pin_memory"}


class ArrayBatches:
    """Iterate over ``(X_batch, y_batch)`` tensors of in-memory arrays.

    Parameters
    ----------
    X : ndarray or CSR matrix of shape (n_samples, n_features)
        Rows are densified batch by batch.
    y : ndarray of shape (n_samples, ...) or None
        None yields a zero placeholder per row, as skorch's ``Dataset`` does.
    indices : ndarray of int or None
        The rows to iterate over (a ``Subset``'s); None takes all.
    batch_size : int
    shuffle : bool, default=False
    drop_last : bool, default=False
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
            Xb = self.X[batch]
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
    default ``DataLoader`` with no arguments beyond :data:`_SUPPORTED`, and
    not inside a ``torch.distributed`` process group.
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
    if type(dataset) is not Dataset:
        return None
    X, y = dataset.X, dataset.y
    if not (isinstance(X, np.ndarray) or sp.isspmatrix_csr(X)) or X.ndim != 2:
        return None
    if y is not None and not isinstance(y, np.ndarray):
        return None
    return ArrayBatches(X, y, indices, **kwargs)
