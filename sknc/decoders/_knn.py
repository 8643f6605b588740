"""KNNDecoder: decode from the training samples nearest in feature space."""

import math

import torch
from sklearn.utils._param_validation import StrOptions

from .._tagwise import LabelSetSums
from ._base import (
    BaseDecoder,
    RowSample,
    ensure_nonempty,
    positive_int,
    positive_real,
)
from ._calibration import fit_gap_temperature
from ._distribution import SetDistribution
from ._search import nearest_prototypes
from ._synthesis import Synthesis, candidate_sets

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
    the ``study_defaults`` section of ``benchmarks/README.md``). When most
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
    temperature : float or 'auto', default='auto'
        Temperature :math:`T` of the distribution over the neighbours' label
        sets (see Notes); ``'auto'`` fits it by maximum likelihood on the
        ``calibration`` data when given, else on the training rows, each
        left out of its own neighbours. Never changes :meth:`predict`.
    max_samples : int or None, default=100000
        Training rows kept as neighbours at most: a uniform random sample of
        them (fixed seed) when there are more, so that memory and search
        time stay bounded for millions of training rows. None keeps all.
    allow_empty : 'auto' or bool, default='auto'
        Whether the empty label set may be predicted; ``'auto'``: when the
        training targets have rows with no label.
    candidates : {'observed', 'both', 'auto'}, default='observed'
        The label sets that can be predicted: those of the training rows,
        or also every set of 2 to ``max_multiplicity`` labels not seen in
        training, each with a prototype synthesised by the tag-wise-average
        rule (as :class:`ONNDecoder` does; see Notes). ``'auto'``: the
        synthesised sets compete only below a threshold fitted on rows the
        network did not train on, where it maximises exact matches: the
        out-of-fold rows of the estimators' ``calibration_cv`` (pooled over
        the folds, see :meth:`recalibrate`), else the ``calibration`` rows
        (a validation split: ``early_stopping=True`` or a ``train_split``).
        Without such rows (the estimators' default), or where synthesis
        does not pay on them, only observed sets are predicted: set
        ``calibration_cv`` (for example 3) to calibrate ``'auto'`` on the
        training data while the predicting network still trains on every
        row. ``'both'`` and ``'auto'`` need ``vote='local'``.
    max_multiplicity : int or None, default=None
        Largest size of a synthesised set; ``None``: the largest
        multiplicity seen in training (at most 50,000 sets are
        synthesised, as in :class:`ONNDecoder`).

    Attributes
    ----------
    features_ : torch.Tensor of shape (n_kept, d)
        The kept training features (float32).
    sets_ : torch.Tensor of shape (n_sets, K), dtype bool
        The distinct label sets of the kept training rows.
    set_ids_ : torch.Tensor of shape (n_kept,)
        Index of each kept training row's label set in ``sets_``.
    sample_index_ : torch.Tensor of shape (n_kept,) or None
        Positions of the kept rows among the training rows, or None when
        all were kept.
    n_neighbors_ : int
        The number of neighbours used: ``min(n_neighbors, n_kept)``.
    temperature_ : float
        The temperature in use (NaN for ``vote='label'``, which has none).
    allow_empty_ : bool
        Whether the empty set may be predicted.
    synthetic_sets_ : torch.Tensor of shape (n_synthetic, K), dtype bool
        The synthesised label sets (none with ``candidates='observed'``).
    synthetic_prototypes_ : torch.Tensor of shape (n_synthetic, d)
        Their prototypes (float32).
    synthesis_threshold_ : float
        The distance ratio below which a synthesised set wins: 0 for
        ``'observed'`` (never), 1 for ``'both'``, fitted for ``'auto'`` on
        the cross-fitted folds (``calibration_cv``) or the calibration rows;
        0 when there are neither (set ``calibration_cv`` to fit it).
    tagwise_prototypes_ : torch.Tensor of shape (n_sets + n_synthetic, d) or None
        The rule's prototype of every observed set, then of every
        synthesised one (None with ``candidates='observed'``).

    See Also
    --------
    ONNDecoder : One prototype per label set instead of every sample; its
        memory does not grow with the training set.

    Notes
    -----
    The set vote needs several training samples per label set: when most
    sets have fewer than about ``n_neighbors`` samples, the frequent sets
    outvote the right one.

    For ``vote='local'`` and ``vote='set'`` the decoder holds a distribution
    over the label sets among a sample's neighbours,

    .. math::

        P(S \mid x) \propto \exp(-s_S(x) / T),

    with :math:`s_S` the set's local mean distance (``'local'``) or one minus
    its share of the neighbours (``'set'``). Its mode is :meth:`predict`;
    :meth:`predict_set_proba` lists it and :meth:`predict_proba` returns its
    marginals :math:`P(k \in S \mid x)`, smoothed as estimates from
    :math:`n` = ``n_neighbors`` votes: :math:`(n P + 1/2) / (n + 1)`, so
    that a label no neighbour carries keeps a small probability (the
    rankings and the decisions at 1/2 stay as they are). With ``vote='label'``,
    :meth:`predict_proba` is each label's smoothed share of the neighbours,
    ``(count + 1/2) / (n_neighbors + 1)``.

    **Unseen label sets** (``candidates='both'``). The neighbours carry only
    label sets seen in training. Each unseen set of 2 to
    ``max_multiplicity`` labels gets a prototype
    :math:`p_S = o + \rho_m \frac{1}{m}\sum_{k \in S}(\mu_k - o)` (the
    tag-wise-average rule of :class:`ONNDecoder`, fitted on the kept
    training rows), and so does, for the comparison, every set among the
    neighbours. An unseen set competes through the ratio of the sample's
    distance to its prototype to the distance to the nearest rule prototype
    of a neighbour's set: its score is the best neighbour set's local-mean
    score times that ratio, so it wins when the sample is closer to it than
    to the rule's place of every set among its neighbours. The comparison
    needs no scale between prototype distances and local-mean scores, and
    errors of the rule shared by all sets cancel. The sample's 8 nearest
    synthesised prototypes compete, in :meth:`predict` and in the
    distribution.

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

    # fitted on held-out data (the temperature of the set scores);
    # calibration_cv averages them over its folds
    _calibration_attributes = ("temperature_",)

    _parameter_constraints = {
        **BaseDecoder._parameter_constraints,
        "n_neighbors": [positive_int()],
        "metric": [StrOptions({"cosine", "euclidean"})],
        "vote": [StrOptions({"local", "set", "label"})],
        "n_local": [positive_int()],
        "temperature": [StrOptions({"auto"}), positive_real()],
        "max_samples": [positive_int(), None],
        "candidates": [StrOptions({"observed", "both", "auto"})],
        "max_multiplicity": [positive_int(), None],
    }

    # Rows of the training data the temperature is fitted on, at most.
    _max_temperature_rows = 4096
    # Synthesised prototypes that compete with the neighbours' sets.
    _n_synthetic = 8

    def __init__(
        self,
        n_neighbors=30,
        metric="cosine",
        vote="local",
        n_local=4,
        temperature="auto",
        max_samples=100_000,
        allow_empty="auto",
        candidates="observed",
        max_multiplicity=None,
    ):
        self.n_neighbors = n_neighbors
        self.metric = metric
        self.vote = vote
        self.n_local = n_local
        self.temperature = temperature
        self.max_samples = max_samples
        self.allow_empty = allow_empty
        self.candidates = candidates
        self.max_multiplicity = max_multiplicity

    # ------------------------------------------------------------------- fit
    def fit(self, logits, features, Y, calibration=None):
        """Keep (a sample of) the training features and label sets.

        Parameters
        ----------
        logits : torch.Tensor of shape (n, K) or None
            Not used.
        features : torch.Tensor of shape (n, d)
            Training features.
        Y : torch.Tensor of shape (n, K)
            Training 0/1 targets.
        calibration : tuple (logits, features, Y) or None, default=None
            Held-out outputs and targets for the temperature.

        Returns
        -------
        self : KNNDecoder
            The fitted decoder.
        """
        self._validate_params()
        if features is None:
            raise ValueError("KNNDecoder needs the training features.")
        if len(features) != len(Y):
            raise ValueError(
                f"features and Y have different numbers of rows: {len(features)} "
                f"and {len(Y)}."
            )
        if self.max_samples is not None and len(Y) > self.max_samples:
            sample = RowSample(self.max_samples).update(features, Y)
            features, Y = sample.rows()
            return self._fit_rows(features, Y, sample.positions, calibration)
        return self._fit_rows(features, Y, None, calibration)

    def fit_batches(self, batches, calibration=None):
        """Fit in one pass over batches of outputs, in bounded memory.

        Parameters
        ----------
        batches : iterable of tuples (logits, features, Y)
            Training outputs and 0/1 targets, a batch at a time.
        calibration : tuple (logits, features, Y) or None, default=None
            Held-out outputs and targets for the temperature.

        Returns
        -------
        self : KNNDecoder
            The fitted decoder.
        """
        self._validate_params()
        size = math.inf if self.max_samples is None else self.max_samples
        sample = RowSample(size) if math.isfinite(size) else None
        kept = []
        for _, features, Y in batches:
            if features is None:
                raise ValueError("KNNDecoder needs the training features.")
            if sample is None:
                kept.append((features.detach(), Y))
            else:
                sample.update(features, Y)
        if sample is None:
            if not kept:
                raise ValueError("fit_batches got no batch; pass at least one.")
            features, Y = (torch.cat(t) for t in zip(*kept, strict=True))
            return self._fit_rows(features, Y, None, calibration)
        if sample.tensors is None:
            raise ValueError("fit_batches got no batch; pass at least one.")
        features, Y = sample.rows()
        index = None if sample.n_seen <= sample.size else sample.positions
        return self._fit_rows(features, Y, index, calibration)

    def _fit_rows(self, features, Y, sample_index, calibration):
        Y = Y.to(features.device).bool()
        if not Y.any():
            raise ValueError(
                "No label set can be predicted: Y has no positive label in any "
                "row. Fit on rows with labels."
            )
        self.allow_empty_ = self._resolve_allow_empty(Y)
        self.features_ = features.detach().float()
        sets, self.set_ids_ = torch.unique(
            Y.to(torch.uint8), dim=0, return_inverse=True
        )
        self.sets_ = sets.bool()
        self.sample_index_ = sample_index
        self.n_neighbors_ = min(int(self.n_neighbors), len(Y))
        self._fit_synthesis(Y)
        if self.candidates == "auto":
            self.synthesis_threshold_ = self._calibrate_threshold(calibration)
        self.temperature_ = self._fit_temperature(calibration)
        return self

    def _fit_synthesis(self, Y):
        """Synthesise unseen sets' prototypes and, for 'auto', fit the threshold."""
        K, d = Y.shape[1], self.features_.shape[1]
        device = self.features_.device
        self.synthetic_sets_ = torch.zeros(0, K, dtype=torch.bool, device=device)
        self.synthetic_prototypes_ = self.features_.new_zeros(0, d)
        self.tagwise_prototypes_ = None
        self.synthesis_threshold_ = 0.0
        if self.candidates == "observed":
            return
        if self.vote != "local":
            raise ValueError(
                f"candidates={self.candidates!r} scores synthesised label sets by "
                f"distance, which only vote='local' compares with; got "
                f"vote={self.vote!r}. "
                "Use vote='local' or candidates='observed'."
            )
        sums = LabelSetSums(K).update(self.features_, Y)
        synthesis = Synthesis(sums.sets, sums.counts, sums.sums)
        top = self.max_multiplicity
        if top is None:
            top = int(Y.sum(dim=1).max())
        # 'auto' keeps to the sets it can afford, without a warning
        sets = candidate_sets(
            self.sets_, synthesis.present, top, warn_cap=self.candidates == "both"
        )
        self.synthetic_sets_ = sets
        self.synthetic_prototypes_ = synthesis.prototypes(sets).float()
        # the rule's prototypes of the observed sets too: an unseen set is
        # compared with the neighbours' sets through the same rule
        self.tagwise_prototypes_ = torch.cat(
            [synthesis.prototypes(self.sets_).float(), self.synthetic_prototypes_]
        )
        self.synthesis_threshold_ = 1.0 if self.candidates == "both" else 0.0

    def _calibrate_threshold(self, calibration):
        """Return the threshold of ``candidates='auto'``, fitted on held-out rows.

        Each calibration row (one the network did not train on) is decoded
        by its best observed set and by its nearest synthesised one; a
        synthesised set wins where its distance ratio (see Notes) is below
        the threshold, which maximises the calibration rows' exact matches.
        Their label sets never seen in training are the unseen sets of new
        data, in the proportion new data has them. Without calibration rows
        the threshold is 0: only observed sets are predicted (training rows
        are no stand-in: the network fits them too closely);
        ``calibration_cv`` gives held-out rows through :meth:`recalibrate`.
        """
        if calibration is None or not len(self.synthetic_sets_):
            return 0.0
        _, features, Y = calibration
        return _best_threshold(*self._open_set_outcomes(features, Y))

    def recalibrate(self, folds):
        """Refit the calibration on cross-fitted folds (``calibration_cv``).

        The temperature is the mean of the folds' temperatures. With
        ``candidates='auto'`` the threshold is fitted, as by
        :meth:`fit` on calibration rows, on the held-out rows of every fold
        pooled, each decoded by its own fold's decoder: the distance ratios
        are dimensionless, so those of different networks pool.

        Parameters
        ----------
        folds : list of (KNNDecoder, tuple of torch.Tensor)
            For each fold, a decoder of the same parameters fitted on the
            outputs of a network that did not train on the fold, and the
            fold's ``(logits, features, Y)`` from that network.

        Returns
        -------
        self : KNNDecoder
            The recalibrated decoder.
        """
        super().recalibrate(folds)
        if self.candidates == "auto":
            outcomes = [
                decoder._open_set_outcomes(features, Y)
                for decoder, (_, features, Y) in folds
                # a fold without synthesised sets decodes as observed only
                if len(decoder.synthetic_sets_)
            ]
            self.synthesis_threshold_ = 0.0
            if outcomes and len(self.synthetic_sets_):
                columns = zip(*outcomes, strict=True)
                pooled = (torch.cat([t.cpu() for t in c]) for c in columns)
                self.synthesis_threshold_ = _best_threshold(*pooled)
        return self

    def _open_set_outcomes(self, features, Y):
        """Per held-out row: what synthesis would change.

        The distance ratio of its nearest synthesised set, whether that set
        is exactly right, and whether its best observed set is.
        """
        observed, synthetic, ratio = self._open_set_parts(features)
        truth = Y.to(self.sets_.device).bool()
        observed_ok = (self.sets_[observed] == truth).all(dim=1).double()
        synthetic_ok = (self.synthetic_sets_[synthetic] == truth).all(dim=1).double()
        return ratio, synthetic_ok, observed_ok

    def _open_set_parts(self, features, exclude=None):
        """Per query: the best observed set, the nearest synthesised set, its ratio."""
        distances, indices = self._neighbours(features, exclude)
        ids = self.set_ids_[indices]
        scores, first = self._set_scores(distances, ids)
        best = scores.masked_fill(~first, math.inf).argmin(dim=1, keepdim=True)
        relative, nearest = self._synthetic_ratios(features, ids, first)
        return ids.gather(1, best).squeeze(1), nearest[:, 0], relative[:, 0]

    def _synthetic_ratios(self, features, ids, first):
        """Distance ratios of each query's nearest synthesised prototypes.

        The distance to a synthesised set's prototype over the distance to
        the nearest rule prototype of a neighbour's set, ``(n, k)``
        ascending, with the synthesised sets' indices.
        """
        queries = features.detach().float().to(self.features_.device)
        k = min(self._n_synthetic, len(self.synthetic_sets_))
        gap, nearest = nearest_prototypes(
            queries, self.synthetic_prototypes_, metric=self.metric, k=k
        )
        if self.metric == "euclidean":
            gap = gap.sqrt()
        near = self._nearest_rule_prototype(queries, ids, first)
        return gap / near.clamp_min(torch.finfo(gap.dtype).tiny), nearest

    @property
    def labels_(self):
        """The label set of each kept training row, ``(n_kept, K)`` bool."""
        return self.sets_[self.set_ids_]

    def _fit_temperature(self, calibration):
        if self.vote == "label":
            return math.nan
        if self.temperature != "auto":
            return float(self.temperature)
        if calibration is not None:
            _, features, Y = calibration
            distances, indices = self._neighbours(features)
            true_ids = self._set_ids_of(Y.to(self.sets_.device).bool())
        else:
            # the training rows, each left out of its own neighbours
            n = len(self.features_)
            rows = torch.arange(n, device=self.features_.device)
            if n > self._max_temperature_rows:
                rows = rows[:: -(-n // self._max_temperature_rows)]
            distances, indices = self._neighbours(self.features_[rows], exclude=rows)
            true_ids = self.set_ids_[rows]
        scores, first = self._set_scores(distances, self.set_ids_[indices])
        ids = self.set_ids_[indices]
        hit = first & (ids == true_ids[:, None])
        known = hit.any(dim=1)
        if not known.any():
            return 1.0
        gaps = scores[known].double().masked_fill(~first[known], math.inf)
        return fit_gap_temperature(gaps, hit[known].float().argmax(dim=1))

    def _set_ids_of(self, Y):
        """Index of each row's label set in ``sets_``, or -1 for a set not kept."""
        both = torch.cat([self.sets_.to(torch.uint8), Y.to(torch.uint8)])
        _, inverse = torch.unique(both, dim=0, return_inverse=True)
        lookup = torch.full((int(inverse.max()) + 1,), -1, device=Y.device)
        lookup[inverse[: len(self.sets_)]] = torch.arange(
            len(self.sets_), device=Y.device
        )
        return lookup[inverse[len(self.sets_) :]]

    # ---------------------------------------------------------- neighbours
    def _neighbours(self, features, exclude=None):
        """Distances (ascending) and indices of each query's neighbours.

        ``exclude`` gives, per query, a training row to leave out (the query
        itself, for leave-one-out probabilities of the training rows).
        """
        if not hasattr(self, "features_"):
            raise RuntimeError("This KNNDecoder is not fitted yet; call fit first.")
        queries = features.detach().float().to(self.features_.device)
        k = self.n_neighbors_
        extra = int(exclude is not None and k < len(self.features_))
        distances, indices = nearest_prototypes(
            queries, self.features_, metric=self.metric, k=k + extra
        )
        if exclude is not None:
            keep = indices != exclude.to(indices.device)[:, None]
            # rows that did not find themselves drop their farthest neighbour
            keep[keep.sum(dim=1) > k, -1] = False
            if extra:
                distances = distances[keep].reshape(len(queries), k)
                indices = indices[keep].reshape(len(queries), k)
        if self.metric == "euclidean":  # nearest_prototypes gives squared ones
            distances = distances.sqrt()
        return distances, indices

    def _set_scores(self, distances, ids, chunk=4096):
        """Score of each neighbour's label set (lower is better), ``(n, k)``.

        Also returns where each set first occurs among the neighbours: the
        sets' scores are read there.
        """
        k = ids.shape[1]
        earlier = torch.ones(k, k, dtype=torch.bool, device=ids.device).tril(-1)
        scores, firsts = [], []
        # (chunk, k, k) blocks bound the memory for large query sets
        for start in range(0, len(ids), chunk):
            d, s = distances[start : start + chunk], ids[start : start + chunk]
            same = s[:, :, None] == s[:, None, :]
            rank = (same & earlier).sum(dim=2)  # earlier neighbours of that set
            firsts.append(rank == 0)
            if self.vote == "set":
                scores.append(1.0 - same.sum(dim=2) / k)
                continue
            m = int(self.n_local)
            counted = same & (rank < m)[:, None, :]
            total = (counted * d[:, None, :]).sum(dim=2)
            missing = (m - counted.sum(dim=2)).clamp(min=0)
            scores.append((total + missing * d[:, -1:]) / m)
        return torch.cat(scores), torch.cat(firsts)

    def _candidates(self, features, exclude=None):
        """Each query's candidate sets: the neighbours', then synthesised ones.

        Returns the neighbours' indices and, per candidate, its score (lower
        is better), its row in :meth:`_set_table` and whether it counts
        (the first neighbour of each set; every synthesised candidate).
        """
        distances, indices = self._neighbours(features, exclude)
        ids = self.set_ids_[indices]
        scores, first = self._set_scores(distances, ids)
        synthetic = getattr(self, "synthetic_sets_", None)
        if synthetic is not None and len(synthetic) and self.synthesis_threshold_ > 0:
            relative, nearest = self._synthetic_ratios(features, ids, first)
            best = scores.masked_fill(~first, math.inf).min(dim=1, keepdim=True).values
            # a synthesised set wins where its ratio is below the threshold
            relative = relative / self.synthesis_threshold_
            scores = torch.cat([scores, best * relative], dim=1)
            ids = torch.cat([ids, len(self.sets_) + nearest], dim=1)
            first = torch.cat([first, torch.ones_like(nearest, dtype=torch.bool)], 1)
        return indices, scores, ids, first

    def _nearest_rule_prototype(self, queries, ids, first, elements=2**22):
        """Distance of each query to the nearest rule prototype of its neighbours' sets.

        The distance an unseen set's prototype has to beat, ``(n, 1)``;
        computed in row chunks of at most ``elements`` values.
        """
        k, d = ids.shape[1], queries.shape[1]
        step = max(1, elements // max(k * d, 1))
        out = []
        for start in range(0, len(queries), step):
            rows = slice(start, start + step)
            rule = self.tagwise_prototypes_[ids[rows]]  # (chunk, k, d)
            q = queries[rows, None]
            if self.metric == "euclidean":
                dist = torch.linalg.vector_norm(q - rule, dim=2)
            else:
                dist = 1.0 - torch.nn.functional.cosine_similarity(q, rule, dim=2)
            dist = dist.masked_fill(~first[rows], math.inf)
            out.append(dist.min(dim=1, keepdim=True).values)
        return torch.cat(out)

    def _set_table(self):
        """Return the sets that candidates index: ``sets_``, ``synthetic_sets_``."""
        synthetic = getattr(self, "synthetic_sets_", None)
        if synthetic is None or not len(synthetic):
            return self.sets_
        return torch.cat([self.sets_, synthetic])

    def _distribution(self, features, exclude=None):
        """``(P, set ids)`` over each query's candidate sets, most probable first."""
        indices, scores, ids, first = self._candidates(features, exclude)
        gaps = (
            scores.double()
            - scores.double()
            .masked_fill(~first, math.inf)
            .min(dim=1, keepdim=True)
            .values
        )
        weights = torch.exp(-gaps / self.temperature_).masked_fill(~first, 0.0)
        proba = weights / weights.sum(dim=1, keepdim=True)
        # a stable sort keeps the nearest of tied sets first
        order = torch.argsort(proba, dim=1, descending=True, stable=True)
        proba = proba.gather(1, order)
        ids = ids.gather(1, order).masked_fill(proba == 0, -1)
        return proba, ids, indices

    # --------------------------------------------------------------- predict
    def predict_set_proba(self, logits, features, top=None):
        """Return the distribution over each sample's neighbour label sets.

        Parameters
        ----------
        logits : torch.Tensor of shape (n, K) or None
            Not used.
        features : torch.Tensor of shape (n, d)
            The network's features.
        top : int or None, default=None
            Sets listed per sample, most probable first; None lists every set
            among the neighbours.

        Returns
        -------
        distribution : SetDistribution
            The sets (``sets_``, then ``synthetic_sets_``), each sample's
            candidates and probabilities.
        """
        if self.vote == "label":
            return super().predict_set_proba(logits, features, top)
        proba, ids, _ = self._distribution(features)
        if top is not None:
            proba, ids = proba[:, :top], ids[:, :top]
        return SetDistribution(self._set_table(), ids, proba)

    def _marginals(self, features, exclude=None):
        if self.vote == "label":
            _, indices = self._neighbours(features, exclude)
            counts = self.labels_[indices].sum(dim=1, dtype=torch.float64)
            return (counts + 0.5) / (self.n_neighbors_ + 1)
        proba, ids, _ = self._distribution(features, exclude)
        marginals = SetDistribution(self._set_table(), ids, proba).marginals()
        # an estimate from n_neighbors votes, smoothed as the label vote's
        # (count + 1/2) / (k + 1): a label no neighbour carries is unlikely,
        # not impossible. It keeps every ranking and the decisions at 1/2,
        # and the log loss finite where the temperature, fitted on rows the
        # network trained on, is over-confident.
        k = self.n_neighbors_
        return (k * marginals.double() + 0.5) / (k + 1)

    def predict_proba(self, logits, features):
        """Return the per-label probabilities ``P(k in S | x)``, ``(n, K)``.

        Parameters
        ----------
        logits : torch.Tensor of shape (n, K) or None
            Not used.
        features : torch.Tensor of shape (n, d)
            The network's features.

        Returns
        -------
        proba : torch.Tensor of shape (n, K)
            Probabilities strictly inside (0, 1), in float64.
        """
        return self._marginals(features)

    def training_proba(self, logits, features, positions=None):
        """Return :meth:`predict_proba` of training rows, each left out.

        Parameters
        ----------
        logits : torch.Tensor of shape (n, K) or None
            Not used.
        features : torch.Tensor of shape (n, d)
            Features of rows :meth:`fit` was given.
        positions : torch.Tensor of shape (n,) or None, default=None
            Their positions among the rows :meth:`fit` was given; None means
            all of those rows, in order.

        Returns
        -------
        proba : torch.Tensor of shape (n, K)
            Each row's probabilities with itself removed from its neighbours.
        """
        return self._marginals(features, exclude=self._own_rows(features, positions))

    def training_predict(self, logits, features, positions=None):
        """Return :meth:`predict` of training rows, each left out.

        Parameters
        ----------
        logits, features, positions
            As :meth:`training_proba`.

        Returns
        -------
        pred : torch.Tensor of shape (n, K), dtype bool
            Each row's vote with itself removed from its neighbours.
        """
        return self._predict(features, exclude=self._own_rows(features, positions))

    def _own_rows(self, features, positions):
        """Per query, its row among the kept training rows (-1: none)."""
        device = self.features_.device
        n_kept = len(self.features_)
        kept_at = torch.arange(n_kept, device=device)
        if self.sample_index_ is not None:
            kept_at = self.sample_index_.to(device)
        if positions is None:
            positions = torch.arange(len(features), device=device)
        positions = positions.to(device)
        # the kept row (if any) that each query is: kept_at is sorted
        slot = torch.searchsorted(kept_at, positions).clamp(max=n_kept - 1)
        return torch.where(kept_at[slot] == positions, slot, -1)

    def predict(self, logits, features):
        """Return the ``(n, K)`` boolean label indicator of the vote.

        Parameters
        ----------
        logits : torch.Tensor of shape (n, K) or None
            Not used.
        features : torch.Tensor of shape (n, d)
            The network's features.

        Returns
        -------
        pred : torch.Tensor of shape (n, K), dtype bool
            The most probable label set (``'local'``, ``'set'``), or the
            labels of at least half of the neighbours (``'label'``).
        """
        return self._predict(features)

    def _predict(self, features, exclude=None):
        if self.vote == "label":
            _, indices = self._neighbours(features, exclude)
            counts = self.labels_[indices].sum(dim=1, dtype=torch.float32)
            pred = 2 * counts >= self.n_neighbors_
        else:
            indices, scores, ids, first = self._candidates(features, exclude)
            counts = self.labels_[indices].sum(dim=1, dtype=torch.float32)
            # argmin returns the first minimum: the nearest of the tied
            winner = scores.masked_fill(~first, math.inf).argmin(dim=1, keepdim=True)
            pred = self._set_table()[ids.gather(1, winner).squeeze(1)]
        if not self.allow_empty_:
            pred = ensure_nonempty(pred, counts)
        return pred


def _best_threshold(ratio, synthetic_ok, observed_ok):
    """Return the distance ratio below which synthesis maximises exact matches.

    Rows are ``(ratio, synthetic_ok, observed_ok)``: a synthesised set wins
    below the threshold, where a row counts as exact by ``synthetic_ok``
    instead of ``observed_ok``. The threshold is halfway between the best
    cut's ratio and the next one; 0 (never synthesise) when no cut gains.
    """
    finite = torch.isfinite(ratio)
    ratio = ratio[finite].double()
    change = (synthetic_ok - observed_ok)[finite].double()
    if not len(ratio):
        return 0.0
    order = torch.argsort(ratio)
    gain = torch.cumsum(change[order], dim=0)
    best = int(gain.argmax())
    if float(gain[best]) <= 0:
        return 0.0
    ratio = ratio[order]
    upper = ratio[best + 1] if best + 1 < len(ratio) else ratio[best] * 1.01
    return float((ratio[best] + upper) / 2)
