"""KNNDecoder: decode from the training samples nearest in feature space."""

import torch
from sklearn.utils._param_validation import StrOptions

from ._base import BaseDecoder, ensure_nonempty, positive_int
from ._search import nearest_prototypes

__all__ = ["KNNDecoder"]


class KNNDecoder(BaseDecoder):
    r"""Decode from the training samples nearest in feature space.

    Keeps the training features and label sets, and decodes a sample from its
    ``n_neighbors`` nearest training samples in the network's feature space.
    Three rules turn the neighbours into a label set:

    - ``vote='local'`` (default): for each label set among the neighbours,
      the mean distance of its ``n_local`` nearest samples, a sample it lacks
      among the neighbours counted at the farthest neighbour's distance; the
      set with the smallest mean wins (a *local mean* rule). A set with few
      training samples wins when they are close, however many samples of
      other sets follow.
    - ``vote='set'``: the label set that most neighbours carry.
    - ``vote='label'``: every label that at least half of the neighbours carry.

    Under full neural collapse every training sample sits on its label set's
    prototype and all three are :class:`ONNDecoder`. Before that, a set's
    training features form a cloud rather than a point, and the neighbours
    follow its shape where a single mean does not: the local rule is the
    default because it decoded better than ONN on most benchmark data sets
    (see the benchmark report in the documentation, :doc:`/benchmarks`, and
    the ``study_defaults.py`` section of ``benchmarks/README.md``). When most
    label sets have only a handful of training samples, compare ONN, which
    can do better there (the decoders example of the gallery is such a
    case).

    Parameters
    ----------
    n_neighbors : int, default=30
        Number of nearest training samples considered (at most the number of
        training samples). The set vote works best with about 10.
    metric : {'cosine', 'euclidean'}, default='cosine'
        Distance in feature space.
    vote : {'local', 'set', 'label'}, default='local'
        How the neighbours decide, see above. ``'local'`` and ``'set'``
        predict only label sets seen in training (ties: the set of the
        nearest tied neighbour).
    n_local : int, default=4
        Samples per label set in the local mean (``vote='local'`` only).
        ``n_local=1`` is the nearest neighbour's set.
    allow_empty : 'auto' or bool, default='auto'
        Whether the empty label set may be predicted; ``'auto'``: when the
        training targets have rows with no label.

    Attributes
    ----------
    features_ : torch.Tensor of shape (n_train, d)
        The training features (kept: memory grows with the training set).
    labels_ : torch.Tensor of shape (n_train, K), dtype bool
        The training label sets.
    set_ids_ : torch.Tensor of shape (n_train,)
        Index of each training row's label set among the distinct sets.
    n_neighbors_ : int
        The number of neighbours used: ``min(n_neighbors, n_train)``.
    allow_empty_ : bool
        Whether the empty set may be predicted.

    See Also
    --------
    ONNDecoder : One prototype per label set instead of every sample; its
        memory does not grow with the training set.

    Notes
    -----
    The set vote needs several training samples per label set: when most
    sets have fewer than about ``n_neighbors`` samples, the frequent sets
    outvote the right one.

    ``predict_proba`` is each label's share of the neighbours, smoothed to
    stay inside (0, 1): ``(count + 1/2) / (n_neighbors + 1)``. The held-out
    ``calibration`` data of :meth:`fit` are not used.

    The training features stay in memory (``n_train * d`` floats); for
    millions of training rows prefer :class:`ONNDecoder`, which keeps one
    mean per label set.

    Examples
    --------
    >>> import torch
    >>> from sknc import KNNDecoder
    >>> features = torch.tensor([[0.0, 1.0], [0.1, 1.0], [1.0, 0.0], [1.0, 0.1]])
    >>> Y = torch.tensor([[1, 0], [1, 0], [0, 1], [0, 1]])
    >>> dec = KNNDecoder(n_neighbors=3).fit(None, features, Y)
    >>> dec.predict(None, torch.tensor([[0.9, 0.2]])).int()
    tensor([[0, 1]], dtype=torch.int32)
    """

    _parameter_constraints = {
        **BaseDecoder._parameter_constraints,
        "n_neighbors": [positive_int()],
        "metric": [StrOptions({"cosine", "euclidean"})],
        "vote": [StrOptions({"local", "set", "label"})],
        "n_local": [positive_int()],
    }

    def __init__(
        self,
        n_neighbors=30,
        metric="cosine",
        vote="local",
        n_local=4,
        allow_empty="auto",
    ):
        self.n_neighbors = n_neighbors
        self.metric = metric
        self.vote = vote
        self.n_local = n_local
        self.allow_empty = allow_empty

    def fit(self, logits, features, Y, calibration=None):
        """Keep the training features and label sets.

        Parameters
        ----------
        logits : torch.Tensor of shape (n, K) or None
            Not used.
        features : torch.Tensor of shape (n, d)
            Training features.
        Y : torch.Tensor of shape (n, K)
            Training 0/1 targets.
        calibration : tuple or None, default=None
            Not used.

        Returns
        -------
        self : KNNDecoder
            The fitted decoder.
        """
        self._validate_params()
        if features is None:
            raise ValueError("KNNDecoder needs the training features.")
        Y = Y.to(features.device).bool()
        if len(features) != len(Y):
            raise ValueError(
                f"features and Y have different numbers of rows: {len(features)} "
                f"and {len(Y)}."
            )
        if not Y.any():
            raise ValueError(
                "No label set can be predicted: Y has no positive label in any "
                "row. Fit on rows with labels."
            )
        self.allow_empty_ = self._resolve_allow_empty(Y)
        self.features_ = features.detach().float()
        self.labels_ = Y
        _, self.set_ids_ = torch.unique(Y.to(torch.uint8), dim=0, return_inverse=True)
        self.n_neighbors_ = min(int(self.n_neighbors), len(Y))
        return self

    def _neighbours(self, features):
        """Distances (ascending) and indices of each query's neighbours."""
        if not hasattr(self, "features_"):
            raise RuntimeError("This KNNDecoder is not fitted yet; call fit first.")
        queries = features.detach().float().to(self.features_.device)
        distances, indices = nearest_prototypes(
            queries, self.features_, metric=self.metric, k=self.n_neighbors_
        )
        if self.metric == "euclidean":  # nearest_prototypes gives squared ones
            distances = distances.sqrt()
        return distances, indices

    def _local_winner(self, distances, ids, chunk=4096):
        """Position of the winning set's nearest sample among the neighbours."""
        k = ids.shape[1]
        m = int(self.n_local)
        earlier = torch.ones(k, k, dtype=torch.bool, device=ids.device).tril(-1)
        winners = []
        # (chunk, k, k) blocks bound the memory for large query sets
        for start in range(0, len(ids), chunk):
            d, s = distances[start : start + chunk], ids[start : start + chunk]
            same = s[:, :, None] == s[:, None, :]
            rank = (same & earlier).sum(dim=2)  # earlier neighbours of that set
            counted = same & (rank < m)[:, None, :]
            total = (counted * d[:, None, :]).sum(dim=2)
            missing = (m - counted.sum(dim=2)).clamp(min=0)
            score = total + missing * d[:, -1:]
            # argmin returns the first minimum: the nearest of the tied
            winners.append(score.argmin(dim=1, keepdim=True))
        return torch.cat(winners)

    def _counts(self, indices):
        return self.labels_[indices].sum(dim=1, dtype=torch.float32)

    def predict_proba(self, logits, features):
        """Return each label's smoothed share of the neighbours, ``(n, K)``."""
        _, indices = self._neighbours(features)
        counts = self._counts(indices)
        return (counts + 0.5) / (self.n_neighbors_ + 1)

    def predict(self, logits, features):
        """Return the ``(n, K)`` boolean label indicator of the vote."""
        distances, indices = self._neighbours(features)
        counts = self._counts(indices)
        if self.vote == "label":
            pred = 2 * counts >= self.n_neighbors_
        elif self.vote == "local":
            winner = self._local_winner(distances, self.set_ids_[indices])
            pred = self.labels_[indices.gather(1, winner).squeeze(1)]
        else:
            ids = self.set_ids_[indices]  # (n, k), nearest first
            votes = (ids[:, :, None] == ids[:, None, :]).sum(dim=2)
            # argmax returns the first maximum: the nearest of the tied
            winner = votes.argmax(dim=1, keepdim=True)
            pred = self.labels_[indices.gather(1, winner).squeeze(1)]
        if not self.allow_empty_:
            pred = ensure_nonempty(pred, counts)
        return pred
