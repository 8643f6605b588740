r"""ONNDecoder: the label set of the nearest label-set prototype."""

import numbers

import torch
from sklearn.utils._param_validation import StrOptions

from .._tagwise import LabelSetSums
from .._warnings import warn
from ._base import PROBA_EPS, BaseDecoder, RowSample, StrictInterval, positive_int
from ._calibration import fit_temperature
from ._distribution import SetDistribution
from ._search import nearest_prototypes, soft_assign_marginals
from ._synthesis import MAX_SYNTHESIZED, Synthesis, candidate_sets, set_index

__all__ = ["ONNDecoder"]


def _lexicographic(set_sums):
    """Return the sets, counts and sums of ``set_sums`` in lexicographic order.

    The order of the 0/1 rows (first label first), which ``torch.unique(dim=0)``
    gives: the prototypes keep it, and the nearest-prototype search breaks
    ties by the lowest index.
    """
    if set_sums.keys is None:
        raise ValueError(
            "No label set can be predicted: there are no training rows. Fit on "
            "rows with labels."
        )
    sets = set_sums.sets
    _, rank = torch.unique(sets.to(torch.uint8), dim=0, return_inverse=True)
    order = torch.empty_like(rank)
    order[rank] = torch.arange(len(rank), device=rank.device)
    return sets[order], set_sums.counts[order], set_sums.sums[order]


class ONNDecoder(BaseDecoder):
    r"""Predict the label set of the nearest label-set prototype (ONN).

    Under the pick-all-label loss every label set :math:`S` has a predictable
    place in feature space: the multiplicity-1 means :math:`\mu_k` form a
    simplex ETF and the mean of a set is a scaled tag-wise average,
    :math:`\mu_S - o = \rho_{|S|} \frac{1}{|S|}\sum_{k \in S}(\mu_k - o)`
    (:math:`o` the mean of the :math:`\mu_k`). The decoder stores one
    prototype per candidate label set and predicts the set of the nearest
    one, so the number of labels and the labels come out together, with no
    threshold.

    - **Observed sets**: the prototype is the mean of the training samples
      with exactly that label set.
    - **Synthesised sets** (label sets never seen in training): the
      tag-wise-average rule above, with :math:`\rho_m` fitted per
      multiplicity by least squares on the observed sets (as in
      :func:`sknc.metrics.rho`) and :math:`\mu_k` the mean of the samples
      whose only label is ``k`` (or of all samples containing ``k`` when
      ``k`` never occurs alone); or, with ``label_means='all_rows'``, both
      fitted to every observed set's mean.

    Parameters
    ----------
    space : {'features', 'logits', 'proba'}, default='features'
        Where prototypes live: the penultimate features, the logits, or the
        softmax of the logits.
    metric : {'euclidean', 'cosine'}, default='euclidean'
        Distance to the prototypes. Cosine distances are taken around the
        centre :math:`o`.
    candidates : {'observed', 'synthesized', 'both'}, default='observed'
        The label sets that can be predicted: those seen in training; the
        singletons seen in training plus every set of 2 to
        ``max_multiplicity`` labels, synthesised; or the observed sets plus
        synthesised prototypes for the sets not observed.
    max_multiplicity : int or None, default=None
        Largest size of a synthesised set; ``None``: the largest multiplicity
        seen in training. At most 50,000 sets are synthesised, enumerated by
        increasing size; a larger bound stops there with a warning.
    min_count : int, default=2
        Observed label sets with fewer training samples than this are not
        trusted (a one-sample "mean" is that sample, which the network has
        memorised): with ``candidates='observed'`` they cannot be predicted;
        otherwise they get a synthesised prototype. Singletons and the
        empty set are always kept (they anchor the synthesis), and so is
        every observed set when none would be left. The default 2 scored
        better than 1 on the benchmark data sets (see the benchmark report
        in the documentation).
    temperature : float or 'auto', default='auto'
        Temperature :math:`T` of the soft assignment used by
        :meth:`predict_proba`; ``'auto'`` fits it by maximum likelihood.
    allow_empty : 'auto' or bool, default='auto'
        Whether the empty set may be predicted (it needs training rows with
        no label, which give its prototype). ``'auto'``: when there are such
        rows.
    label_means : {'singletons', 'all_rows'}, default='singletons'
        How the label means behind synthesised prototypes (and the centre)
        are estimated: from the samples whose only label is ``k`` (all
        samples containing ``k`` when it never occurs alone), or by the
        least-squares fit of the tag-wise-average model to every observed
        set's mean, with :math:`\rho_m` (see
        :func:`sknc.metrics.neural_collapse_report`), for data where few
        samples have a single label.
    weighting : {'uniform', 'frequency'}, default='uniform'
        The average of a synthesised set's label offsets: plain, or
        weighted by the labels' training frequencies (the
        frequency-weighted tag-wise model).
    prune_top_r : int or None, default=None
        For thousands of labels and tens of thousands of sets: only consider
        the sets whose labels are all among the sample's ``prune_top_r``
        largest logits (a sample with no such set falls back to the full
        search). ``None`` searches every prototype.

    Attributes
    ----------
    prototypes_ : torch.Tensor of shape (n_prototypes, n_dims)
        One prototype per candidate label set, in ``space``.
    prototype_sets_ : torch.Tensor of shape (n_prototypes, K), dtype bool
        The label set of each prototype.
    prototype_counts_ : torch.Tensor of shape (n_prototypes,)
        Training samples behind each prototype (0 for synthesised ones).
    center_ : torch.Tensor of shape (n_dims,)
        The centre :math:`o`, the mean of the label means.
    label_means_ : torch.Tensor of shape (K, n_dims)
        :math:`\mu_k` (NaN for a label absent from the training data).
    rho_ : dict of int to float
        :math:`\rho_m` per multiplicity ``m >= 2`` seen in training.
    temperature_ : float
        The temperature of :meth:`predict_proba`.
    allow_empty_ : bool
        Whether the empty set is a candidate.

    Notes
    -----
    :meth:`predict_proba` returns the marginals of a soft nearest-prototype
    posterior,

    .. math::

        P(S \mid x) \propto \exp(-D(x, \mu_S) / T), \qquad
        P(k \in S \mid x) = \sum_{S \ni k} P(S \mid x),

    with :math:`D` the squared Euclidean distance or the cosine distance.
    ``temperature='auto'`` maximises the likelihood of the true label sets of
    the ``calibration`` data when the estimator has some (a validation
    split, which the network was not trained on), and otherwise of the
    training data, whose features lie closer to their prototypes than new
    samples' do: the probabilities are then over-confident. The temperature
    changes the probabilities, never :meth:`predict`. Over more than 2,048
    prototypes, the posterior is restricted to each sample's 256 nearest.

    Search memory is bounded: queries are processed in chunks so that one
    chunk's distances to all prototypes take at most 64 MiB.

    Examples
    --------
    >>> import torch
    >>> from sknc import ONNDecoder
    >>> features = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.6]])
    >>> Y = torch.tensor([[1, 0], [0, 1], [1, 1]])
    >>> dec = ONNDecoder(min_count=1).fit(None, features, Y)
    >>> dec.predict(None, torch.tensor([[0.9, 0.1], [0.5, 0.7]]))
    tensor([[ True, False],
            [ True,  True]])
    """

    # Synthesis enumerates label combinations; cap their number.
    _max_synthesized = MAX_SYNTHESIZED
    # Above this many prototypes, the soft posterior keeps the nearest ones.
    _posterior_full_max = 2048
    _posterior_top = 256

    # fitted on held-out data (the soft assignment's temperature);
    # calibration_cv averages them over its folds
    _calibration_attributes = ("temperature_",)
    # nearest prototypes need tight clusters: with feature_decay='auto' the
    # estimators train with this decay (FixedETFClassifier with ONN: better
    # subset accuracy and Hamming loss on all 8 benchmark sets than 1e-4)
    preferred_feature_decay = 1e-2

    _parameter_constraints = {
        **BaseDecoder._parameter_constraints,
        "space": [StrOptions({"features", "logits", "proba"})],
        "metric": [StrOptions({"euclidean", "cosine"})],
        "candidates": [StrOptions({"observed", "synthesized", "both"})],
        "max_multiplicity": [positive_int(), None],
        "min_count": [positive_int()],
        "temperature": [
            StrictInterval(numbers.Real, 0, None, closed="neither"),
            StrOptions({"auto"}),
        ],
        "label_means": [StrOptions({"singletons", "all_rows"})],
        "weighting": [StrOptions({"uniform", "frequency"})],
        "prune_top_r": [positive_int(), None],
    }

    def __init__(
        self,
        space="features",
        metric="euclidean",
        candidates="observed",
        max_multiplicity=None,
        min_count=2,
        temperature="auto",
        allow_empty="auto",
        prune_top_r=None,
        label_means="singletons",
        weighting="uniform",
    ):
        self.space = space
        self.metric = metric
        self.candidates = candidates
        self.max_multiplicity = max_multiplicity
        self.min_count = min_count
        self.temperature = temperature
        self.allow_empty = allow_empty
        self.prune_top_r = prune_top_r
        self.label_means = label_means
        self.weighting = weighting

    def _check_prune_top_r(self, K):
        if self.prune_top_r is not None and self.prune_top_r > K:
            raise ValueError(
                f"prune_top_r={self.prune_top_r} is larger than the number of "
                f"labels ({K}); use at most {K}, or None for a full search."
            )

    def _representation(self, logits, features):
        if self.space == "features":
            if features is None:
                raise ValueError("space='features' needs the features.")
            return features
        if logits is None:
            raise ValueError(f"space={self.space!r} needs the logits.")
        return logits if self.space == "logits" else torch.softmax(logits, dim=1)

    # ------------------------------------------------------------------- fit
    def fit(self, logits, features, Y, calibration=None):
        """Compute the prototypes, the tag-wise scales and the temperature.

        Parameters
        ----------
        logits : torch.Tensor of shape (n, K) or None
            Training logits (needed unless ``space='features'`` and no
            pruning).
        features : torch.Tensor of shape (n, d) or None
            Training features (needed for ``space='features'``).
        Y : torch.Tensor of shape (n, K)
            Training 0/1 targets.
        calibration : tuple (logits, features, Y) or None, default=None
            Held-out outputs and targets for the temperature.

        Returns
        -------
        self : ONNDecoder
            The fitted decoder.
        """
        self._validate_params()
        self._check_prune_top_r(Y.shape[1])
        R = self._representation(logits, features)
        Y = Y.to(R.device).bool()
        sums = LabelSetSums(Y.shape[1]).update(R, Y)
        return self._fit_from_sums(sums, R, Y, calibration)

    def fit_batches(self, batches, calibration=None, max_temperature_rows=20_000):
        """Fit in one pass over batches of outputs, in bounded memory.

        The prototypes, label means and tag-wise scales depend on the
        training rows only through each label set's count and feature sum,
        which are accumulated batch by batch (in float64). The temperature
        (``temperature='auto'`` without ``calibration``) is fitted on a
        uniform random sample of at most ``max_temperature_rows`` rows,
        drawn during the pass with a fixed seed. With fewer rows than that,
        the result equals :meth:`fit` on the concatenated batches up to
        rounding.

        Parameters
        ----------
        batches : iterable of tuples (logits, features, Y)
            Training outputs and 0/1 targets, a batch at a time (``logits``
            or ``features`` may be None where :meth:`fit` allows it).
        calibration : tuple (logits, features, Y) or None, default=None
            Held-out outputs and targets for the temperature.
        max_temperature_rows : int, default=20000
            Rows kept for the temperature: memory is
            ``O(max_temperature_rows * d + n_sets * d)``, whatever the number of
            training rows.

        Returns
        -------
        self : ONNDecoder
            The fitted decoder.
        """
        self._validate_params()
        sums, sample = None, RowSample(max_temperature_rows)
        for logits, features, Y in batches:
            if sums is None:
                self._check_prune_top_r(Y.shape[1])
                sums = LabelSetSums(Y.shape[1])
            R = self._representation(logits, features)
            Y = Y.to(R.device).bool()
            sums.update(R, Y)
            sample.update(R, Y)
        if sums is None:
            raise ValueError("fit_batches got no batch; pass at least one.")
        R, Y = sample.rows()
        return self._fit_from_sums(sums, R, Y, calibration)

    def _fit_from_sums(self, set_sums, R, Y, calibration):
        """Fit from per-set counts and sums; ``R, Y`` rows for the temperature."""
        sets, counts, sums = _lexicographic(set_sums)
        self.allow_empty_ = self._resolve_allow_empty(sets)
        means = sums / counts[:, None]
        sizes = sets.sum(dim=1)

        synthesis = Synthesis(sets, counts, sums, self.label_means, self.weighting)
        self.label_means_ = synthesis.label_means
        present, center = synthesis.present, synthesis.center
        self.rho_ = synthesis.rho

        usable = torch.ones_like(sizes, dtype=torch.bool)
        if not self.allow_empty_:
            usable &= sizes > 0
        trusted = usable & ((counts >= self.min_count) | (sizes <= 1))
        if self.candidates == "synthesized":
            trusted &= sizes <= 1
        if not trusted.any():  # no set is frequent enough: keep them all
            trusted = usable
        protos, proto_sets = [means[trusted]], [sets[trusted]]
        proto_counts = [counts[trusted]]
        if self.candidates != "observed":
            top = self.max_multiplicity
            if top is None:
                top = int(sizes.max()) if len(sizes) else 1
            syn_sets = candidate_sets(
                sets[trusted],
                present,
                top,
                max_sets=self._max_synthesized,
            )
            if len(syn_sets):
                protos.append(synthesis.prototypes(syn_sets))
                proto_sets.append(syn_sets)
                proto_counts.append(torch.zeros_like(counts[: len(syn_sets)]))
        self.prototypes_ = torch.cat(protos).to(set_sums.dtype)
        self.prototype_sets_ = torch.cat(proto_sets)
        self.prototype_counts_ = torch.cat(proto_counts)
        if not len(self.prototypes_):
            raise ValueError(
                "No label set can be predicted: every training row is empty and "
                "allow_empty=False. Use allow_empty='auto' or add labelled rows."
            )
        self.center_ = center.to(set_sums.dtype)
        self.label_means_ = self.label_means_.to(set_sums.dtype)
        self.temperature_ = self._fit_temperature(R, Y, calibration)
        return self

    def _fit_temperature(self, R, Y, calibration):
        if self.temperature != "auto":
            return float(self.temperature)
        if calibration is not None:
            cal_logits, cal_features, Y = calibration
            R = self._representation(cal_logits, cal_features)
            Y = Y.to(R.device).bool()
        targets = set_index(self.prototype_sets_, Y)
        known = targets >= 0
        if not known.any():
            warn(
                "No calibration sample has a label set among the candidates; "
                "temperature set to 1. Pass temperature= explicitly.",
                UserWarning,
            )
            return 1.0
        return float(
            fit_temperature(
                R[known] - self.center_,
                self.prototypes_ - self.center_,
                targets[known],
                metric=self.metric,
            )
        )

    # --------------------------------------------------------------- predict
    def _queries(self, logits, features):
        R = self._representation(logits, features)
        Q = R.to(self.prototypes_.dtype) - self.center_.to(R.device)
        # squared distances of float32 values beyond ~1e18 overflow: use float64
        if Q.dtype == torch.float32 and Q.abs().max() > 1e18:
            Q = Q.double()
        return Q

    def _pruning(self, logits):
        if self.prune_top_r is None:
            return {}
        if logits is None:
            raise ValueError("prune_top_r needs the logits.")
        return {
            "query_labels": logits.topk(self.prune_top_r, dim=1).indices,
            "prototype_labels": self.prototype_sets_,
        }

    def predict(self, logits, features):
        """Return the label set of each sample's nearest prototype.

        Parameters
        ----------
        logits : torch.Tensor of shape (n, K) or None
            The network's logits (unless ``space='features'`` without
            pruning).
        features : torch.Tensor of shape (n, d) or None
            The network's features (for ``space='features'``).

        Returns
        -------
        pred : torch.Tensor of shape (n, K), dtype bool
            The predicted label sets.
        """
        Q = self._queries(logits, features)
        P = (self.prototypes_ - self.center_).to(Q)
        _, index = nearest_prototypes(
            Q, P, metric=self.metric, k=1, **self._pruning(logits)
        )
        return self.prototype_sets_.to(Q.device)[index[:, 0]]

    def predict_set_proba(self, logits, features, top=None):
        r"""Return the most probable label sets of the soft nearest-prototype posterior.

        :math:`P(S \mid x) \propto \exp(-D(x, \mu_S) / T)` over the
        prototypes (over each sample's 256 nearest when there are more than
        2,048, as in :meth:`predict_proba`).

        Parameters
        ----------
        logits : torch.Tensor of shape (n, K) or None
            The network's logits (unless ``space='features'``).
        features : torch.Tensor of shape (n, d) or None
            The network's features (for ``space='features'``).
        top : int or None, default=None
            Sets listed per sample, most probable first (None: 32).

        Returns
        -------
        distribution : SetDistribution
            The prototypes' sets, each sample's most probable ones and their
            probabilities.
        """
        Q = self._queries(logits, features)
        P = (self.prototypes_ - self.center_).to(Q)
        width = len(P) if len(P) <= self._posterior_full_max else self._posterior_top
        distances, index = nearest_prototypes(
            Q, P, metric=self.metric, k=width, **self._pruning(logits)
        )
        distances = distances.double()
        weights = torch.exp(-(distances - distances[:, :1]) / self.temperature_)
        proba = weights / weights.sum(dim=1, keepdim=True)
        keep = min(width, 32 if top is None else int(top))
        return SetDistribution(
            self.prototype_sets_, index[:, :keep], proba[:, :keep].contiguous()
        )

    def predict_proba(self, logits, features):
        r"""Return per-label marginals of the soft nearest-prototype posterior.

        Parameters
        ----------
        logits : torch.Tensor of shape (n, K) or None
            The network's logits (unless ``space='features'``).
        features : torch.Tensor of shape (n, d) or None
            The network's features (for ``space='features'``).

        Returns
        -------
        proba : torch.Tensor of shape (n, K)
            :math:`P(k \in S \mid x)`, strictly inside (0, 1), in float64.
        """
        Q = self._queries(logits, features)
        P = (self.prototypes_ - self.center_).to(Q)
        top = None if len(P) <= self._posterior_full_max else self._posterior_top
        marginals = soft_assign_marginals(
            Q,
            P,
            self.prototype_sets_.to(Q.device),
            metric=self.metric,
            temperature=self.temperature_,
            top=top,
        )
        return marginals.double().clamp(PROBA_EPS, 1 - PROBA_EPS)
