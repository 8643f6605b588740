"""Decoders: turn a PAL network's outputs into label sets and probabilities.

A decoder is fitted once, at the end of training, on the network's outputs
for the training data (one eval-mode pass), and then maps the outputs of new
samples to an ``(n, K)`` 0/1 prediction and ``(n, K)`` per-label
probabilities. Decoders work on torch tensors on the model's device.

Four decoders are provided:

- :class:`KNNDecoder` (the default): the label set whose nearest training
  samples in feature space are closest.
- :class:`ONNDecoder`: nearest label-set prototype in feature space, the
  decoding the multi-label neural-collapse geometry suggests.
- :class:`ThresholdDecoder`: per-label calibrated probability >= threshold.
- :class:`TopKDecoder`: the k most probable labels, k fixed or predicted.
"""

import math
import numbers
import warnings
from itertools import combinations

import torch
from sklearn.base import BaseEstimator, clone

from ._search import fit_temperature, nearest_prototypes, soft_assign_marginals

__all__ = [
    "BaseDecoder",
    "ONNDecoder",
    "ThresholdDecoder",
    "TopKDecoder",
    "get_decoder",
]

# Probabilities are kept strictly inside (0, 1): scikit-learn's multi-label
# contract, and log-loss stays finite.
_PROBA_EPS = 1e-7


def _check_allow_empty(allow_empty):
    if allow_empty == "auto" or isinstance(allow_empty, bool):
        return
    raise ValueError(f"allow_empty must be 'auto', True or False; got {allow_empty!r}.")


def _has_empty_rows(Y):
    return bool((Y.sum(dim=1) == 0).any())


class BaseDecoder(BaseEstimator):
    """Base class of the decoders.

    Subclasses implement :meth:`fit`, :meth:`predict_proba` and
    :meth:`predict`. Each receives ``logits`` ``(n, K)`` and ``features``
    ``(n, d)`` torch tensors on the model's device; ``fit`` also receives the
    ``(n, K)`` 0/1 training targets as a tensor on the same device, and
    optionally ``calibration``: a ``(logits, features, Y)`` triple of data the
    network was not trained on (the estimators pass skorch's validation
    split when there is one), used for the parameters that must generalise
    (a temperature, a threshold, a calibration curve).

    ``allow_empty`` (in every decoder): ``'auto'`` allows predicting the
    empty label set when the training targets contain rows with no label;
    ``False`` always predicts at least one label; ``True`` allows empty
    predictions.
    """

    def fit(self, logits, features, Y, calibration=None):
        """Fit the decoder on training outputs and targets; return self."""
        raise NotImplementedError  # pragma: no cover

    def predict_proba(self, logits, features):
        """Return the ``(n, K)`` per-label probabilities as a tensor."""
        raise NotImplementedError  # pragma: no cover

    def predict(self, logits, features):
        """Return the ``(n, K)`` boolean label indicator as a tensor."""
        raise NotImplementedError  # pragma: no cover

    def _resolve_allow_empty(self, Y):
        _check_allow_empty(self.allow_empty)
        if self.allow_empty == "auto":
            return _has_empty_rows(Y)
        return self.allow_empty


class _SetSums:
    """Running count and float64 feature sum of each distinct label set."""

    def update(self, R, Y):
        batch_sets, inverse, counts = torch.unique(
            Y.to(torch.uint8), dim=0, return_inverse=True, return_counts=True
        )
        batch_sums = torch.zeros(
            len(batch_sets), R.shape[1], dtype=torch.float64, device=R.device
        )
        batch_sums.index_add_(0, inverse, R.double())
        if not hasattr(self, "sums"):
            self.sets, self.counts, self.sums = batch_sets, counts, batch_sums
            self.dtype = R.dtype
            return self
        # merge: the union of the sets seen so far and this batch's
        sets, where = torch.unique(
            torch.cat([self.sets, batch_sets]), dim=0, return_inverse=True
        )
        total_counts = torch.zeros(len(sets), dtype=counts.dtype, device=R.device)
        total_counts.index_add_(0, where, torch.cat([self.counts, counts]))
        total_sums = torch.zeros(
            len(sets), R.shape[1], dtype=torch.float64, device=R.device
        )
        total_sums.index_add_(0, where, torch.cat([self.sums, batch_sums]))
        self.sets, self.counts, self.sums = sets, total_counts, total_sums
        return self


class _RowSample:
    """A uniform sample without replacement of at most ``size`` streamed rows.

    Every row gets a random key and the ``size`` smallest keys are kept
    (bottom-k sampling), with a fixed seed so that a fit is repeatable.
    """

    def __init__(self, size, seed=0):
        self.size = int(size)
        self.generator = torch.Generator().manual_seed(seed)
        self.keys = self.R = self.Y = None

    def update(self, R, Y):
        keys = torch.rand(len(R), generator=self.generator).to(R.device)
        if self.keys is not None:
            keys = torch.cat([self.keys, keys])
            R, Y = torch.cat([self.R, R]), torch.cat([self.Y, Y])
        if len(keys) > self.size:
            keep = torch.topk(keys, self.size, largest=False).indices
            keys, R, Y = keys[keep], R[keep], Y[keep]
        self.keys, self.R, self.Y = keys, R.detach(), Y

    def rows(self):
        return self.R, self.Y


def _ensure_nonempty(pred, scores):
    """Switch on the best-scoring label of rows that predict no label."""
    empty = ~pred.any(dim=1)
    if empty.any():
        pred = pred.clone()
        pred[empty, scores[empty].argmax(dim=1)] = True
    return pred


def _fit_platt(x, t, l2=1e-3, max_iter=100, tol=1e-10):
    """Fit ``P(t=1 | x) = sigmoid(a x + b)`` by damped Newton steps.

    A small ridge keeps the two parameters finite when the training scores
    separate the classes perfectly (as they do once a network fits its
    training data); the step-halving line search keeps Newton from
    overshooting on such data.
    """
    x = x.double()
    t = t.double()
    n = x.numel()

    def objective(theta):
        z = theta[0] * x + theta[1]
        nll = (torch.nn.functional.softplus(z) - t * z).sum() / n
        return nll + 0.5 * l2 * (theta**2).sum()

    theta = torch.tensor([1.0, 0.0], dtype=torch.float64, device=x.device)
    value = objective(theta)
    for _ in range(max_iter):
        p = torch.sigmoid(theta[0] * x + theta[1])
        r = p - t
        w = p * (1 - p)
        grad = torch.stack([(r * x).sum(), r.sum()]) / n + l2 * theta
        hxb = (w * x).sum() / n
        hess = torch.stack(
            [
                torch.stack([(w * x * x).sum() / n + l2, hxb]),
                torch.stack([hxb, w.sum() / n + l2]),
            ]
        )
        step = torch.linalg.solve(hess, grad)
        scale = 1.0
        while scale > 1e-8:
            candidate = theta - scale * step
            new_value = objective(candidate)
            if new_value <= value:
                break
            scale /= 2
        else:
            break
        theta, value = candidate, new_value
        if (scale * step).abs().max() < tol:
            break
    return float(theta[0]), float(theta[1])


class _PlattScoresMixin:
    r"""Per-label probabilities ``sigmoid(a * log_softmax(z)_k + b)``.

    Under the PAL loss a label's log-softmax score
    :math:`s_k = z_k - \log\sum_j e^{z_j}` is about :math:`-\log m` for the
    :math:`m` labels of a sample and much lower for the others, so one
    logistic curve shared by all labels (Platt scaling) turns it into a
    probability.
    """

    # Platt scaling over at most this many (sample, label) scores: the
    # two-parameter fit converges long before, and memory stays bounded.
    _max_fit_scores = 2_000_000

    def _fit_calibration(self, logits, Y, calibration=None):
        """Fit the curve on the held-out data if any; return the data used."""
        if calibration is not None:
            logits, _, Y = calibration
        n, K = logits.shape
        step = max(1, (n * K) // self._max_fit_scores)
        scores = torch.log_softmax(logits[::step].float(), dim=1)
        targets = Y[::step].reshape(-1)
        self.coef_, self.intercept_ = _fit_platt(scores.reshape(-1), targets)
        if self.coef_ < 0:
            # scores anti-correlated with the targets (a failed fit): rather
            # than ranking labels backwards, give every label the base rate
            rate = float(targets.double().mean().clamp(_PROBA_EPS, 1 - _PROBA_EPS))
            self.coef_, self.intercept_ = 0.0, math.log(rate / (1 - rate))
        return logits, Y

    def predict_proba(self, logits, features):
        """Return the ``(n, K)`` per-label probabilities, in float64.

        Parameters
        ----------
        logits : torch.Tensor of shape (n, K)
            The network's logits.
        features : torch.Tensor of shape (n, d) or None
            Unused.

        Returns
        -------
        proba : torch.Tensor of shape (n, K)
            Probabilities strictly inside (0, 1).
        """
        scores = torch.log_softmax(logits.double(), dim=1)
        proba = torch.sigmoid(self.coef_ * scores + self.intercept_)
        return proba.clamp(_PROBA_EPS, 1 - _PROBA_EPS)


def _micro_f1_threshold(proba, Y):
    """Return the micro-F1-maximising threshold (middle of the best plateau)."""
    grid = torch.linspace(0.02, 0.98, 97, dtype=proba.dtype, device=proba.device)
    Yb = Y.bool()
    n_true = Yb.sum()
    f1 = torch.empty_like(grid)
    for i, t in enumerate(grid):
        pred = proba >= t
        tp = (pred & Yb).sum()
        f1[i] = 2 * tp / (pred.sum() + n_true).clamp(min=1)
    best = torch.nonzero(f1 >= f1.max() - 1e-12).flatten()
    return float(grid[best[len(best) // 2]])


class ThresholdDecoder(_PlattScoresMixin, BaseDecoder):
    r"""Predict every label whose calibrated probability reaches a threshold.

    Each label's log-softmax score :math:`s_k = z_k - \log\sum_j e^{z_j}`
    (about :math:`-\log m` for the :math:`m` labels of a sample under the PAL
    loss) is mapped to a probability :math:`p_k = \sigma(a\,s_k + b)` with a
    logistic curve shared by all labels (Platt scaling, fitted by maximum
    likelihood), and the labels with :math:`p_k \geq t` are predicted.

    Parameters
    ----------
    threshold : float or 'auto', default=0.5
        The threshold :math:`t`, in (0, 1); ``'auto'`` picks the one that
        maximises micro-F1 (the middle of the best range, on a 0.01 grid).
    allow_empty : 'auto' or bool, default='auto'
        Whether a prediction may have no label. ``'auto'``: only when the
        training targets have rows with no label. Otherwise a sample with no
        label above the threshold gets its most probable label.

    Attributes
    ----------
    coef_ : float
        The fitted slope ``a``, never negative: a negative fit (scores
        anti-correlated with the targets) is replaced by ``a = 0`` and the
        base rate.
    intercept_ : float
        The fitted intercept ``b``.
    threshold_ : float
        The threshold in use.
    allow_empty_ : bool
        Whether empty predictions are allowed.

    Notes
    -----
    The curve and an ``'auto'`` threshold are fitted on the ``calibration``
    data when the estimator has some (a validation split), otherwise on the
    training outputs. A network fits its training data closely, so the curve
    is then steeper than on new data and tends to predict too many labels:
    give the estimator a ``train_split`` (for example
    :class:`sknc.model_selection.MultilabelStratifiedValidSplit`) to calibrate
    on held-out data.

    Examples
    --------
    >>> import torch
    >>> from sknc import ThresholdDecoder
    >>> logits = torch.tensor([[4.0, 4.0, -4.0], [5.0, -5.0, -5.0]]).repeat(10, 1)
    >>> Y = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]]).repeat(10, 1)
    >>> dec = ThresholdDecoder().fit(logits, None, Y)
    >>> dec.predict(logits[:2], None)
    tensor([[ True,  True, False],
            [ True, False, False]])
    """

    def __init__(self, threshold=0.5, allow_empty="auto"):
        self.threshold = threshold
        self.allow_empty = allow_empty

    def fit(self, logits, features, Y, calibration=None):
        """Fit the calibration curve (and an ``'auto'`` threshold).

        Parameters
        ----------
        logits : torch.Tensor of shape (n, K)
            Training logits.
        features : torch.Tensor of shape (n, d) or None
            Unused; part of the decoder interface.
        Y : torch.Tensor of shape (n, K)
            Training 0/1 targets.
        calibration : tuple (logits, features, Y) or None, default=None
            Held-out outputs and targets to fit on instead of the training
            ones.

        Returns
        -------
        self : ThresholdDecoder
            The fitted decoder.
        """
        t = self.threshold
        if t != "auto" and not (
            isinstance(t, numbers.Real) and not isinstance(t, bool) and 0 < t < 1
        ):
            raise ValueError(
                f"threshold must be a number in (0, 1) or 'auto'; got {t!r}."
            )
        self.allow_empty_ = self._resolve_allow_empty(Y)
        logits, Y = self._fit_calibration(logits, Y, calibration)
        if t == "auto":
            t = _micro_f1_threshold(self.predict_proba(logits, None), Y)
        self.threshold_ = float(t)
        return self

    def predict(self, logits, features):
        """Return the ``(n, K)`` boolean label indicator.

        Parameters
        ----------
        logits : torch.Tensor of shape (n, K)
            The network's logits.
        features : torch.Tensor of shape (n, d) or None
            Unused.

        Returns
        -------
        pred : torch.Tensor of shape (n, K), dtype bool
            The predicted label sets.
        """
        proba = self.predict_proba(logits, features)
        pred = proba >= self.threshold_
        if not self.allow_empty_:
            pred = _ensure_nonempty(pred, proba)
        return pred


def _sorted_proba(logits, width):
    """Return the ``width`` largest softmax probabilities of each row, descending."""
    proba = torch.softmax(logits.double(), dim=1)
    return proba.topk(min(width, proba.shape[1]), dim=1).values


class TopKDecoder(_PlattScoresMixin, BaseDecoder):
    r"""Predict the k labels with the largest scores, k fixed or predicted.

    With ``k='auto'`` the number of labels is predicted per sample: under the
    PAL loss the softmax of a sample with :math:`m` labels puts about
    :math:`1/m` on each of them, so the sorted softmax probabilities
    :math:`(p_{(1)} \geq p_{(2)} \geq \dots)` of the training samples of each
    multiplicity :math:`m` are averaged into a profile, and a new sample gets
    the :math:`m` of the nearest profile (Euclidean distance).

    Probabilities come from the same Platt curve as
    :class:`ThresholdDecoder`'s, so the predicted labels are always the most
    probable ones.

    Parameters
    ----------
    k : int or 'auto', default='auto'
        Number of labels to predict, at most the number of labels, or
        ``'auto'`` to predict it per sample.
    allow_empty : 'auto' or bool, default='auto'
        With ``k='auto'``, whether the predicted number may be 0 (learned
        from the training rows with no label). ``'auto'``: when the training
        targets have such rows. A fixed ``k`` never predicts an empty set.

    Attributes
    ----------
    coef_ : float
        The slope of the calibration curve.
    intercept_ : float
        Its intercept.
    k_ : int or None
        The fixed k, or None when it is predicted.
    multiplicities_ : torch.Tensor of shape (n_profiles,)
        With ``k='auto'``: the multiplicities seen in training.
    profiles_ : torch.Tensor of shape (n_profiles, max_multiplicity)
        With ``k='auto'``: the mean sorted softmax probabilities of each.
    allow_empty_ : bool
        Whether empty predictions are allowed.

    Examples
    --------
    >>> import torch
    >>> from sknc import TopKDecoder
    >>> logits = torch.tensor([[4.0, 4.0, -4.0], [5.0, -5.0, -5.0]]).repeat(10, 1)
    >>> Y = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]]).repeat(10, 1)
    >>> TopKDecoder().fit(logits, None, Y).predict(logits[:2], None)
    tensor([[ True,  True, False],
            [ True, False, False]])
    """

    def __init__(self, k="auto", allow_empty="auto"):
        self.k = k
        self.allow_empty = allow_empty

    def fit(self, logits, features, Y, calibration=None):
        """Fit the multiplicity profiles and the calibration curve.

        Parameters
        ----------
        logits : torch.Tensor of shape (n, K)
            Training logits.
        features : torch.Tensor of shape (n, d) or None
            Unused; part of the decoder interface.
        Y : torch.Tensor of shape (n, K)
            Training 0/1 targets.
        calibration : tuple (logits, features, Y) or None, default=None
            Held-out outputs and targets for the calibration curve.

        Returns
        -------
        self : TopKDecoder
            The fitted decoder.
        """
        K = logits.shape[1]
        k = self.k
        if k != "auto":
            if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 1:
                raise ValueError(f"k must be a positive integer or 'auto'; got {k!r}.")
            if k > K:
                raise ValueError(
                    f"k={k} is larger than the number of labels ({K}); use "
                    f"k <= {K} or k='auto'."
                )
        self.allow_empty_ = self._resolve_allow_empty(Y)
        self.k_ = None if k == "auto" else int(k)
        if self.k_ is None:
            m = Y.sum(dim=1).long()
            profile_logits = logits
            if not self.allow_empty_:
                profile_logits, m = logits[m > 0], m[m > 0]
            width = max(1, int(m.max()) + 1) if m.numel() else 1
            sorted_proba = _sorted_proba(profile_logits, width)
            self.multiplicities_ = torch.unique(m)
            self.profiles_ = torch.stack(
                [sorted_proba[m == v].mean(dim=0) for v in self.multiplicities_]
            )
        self._fit_calibration(logits, Y, calibration)
        return self

    def predict_k(self, logits):
        """Return the number of labels to predict for each row.

        Parameters
        ----------
        logits : torch.Tensor of shape (n, K)
            The network's logits.

        Returns
        -------
        k : torch.Tensor of shape (n,), dtype int64
            The fixed ``k``, or the predicted multiplicity of each row.
        """
        if self.k_ is not None:
            return torch.full(
                (logits.shape[0],), self.k_, dtype=torch.long, device=logits.device
            )
        sorted_proba = _sorted_proba(logits, self.profiles_.shape[1])
        nearest = torch.cdist(sorted_proba, self.profiles_.to(sorted_proba)).argmin(1)
        return self.multiplicities_.to(logits.device)[nearest]

    def predict(self, logits, features):
        """Return the ``(n, K)`` boolean label indicator.

        Parameters
        ----------
        logits : torch.Tensor of shape (n, K)
            The network's logits.
        features : torch.Tensor of shape (n, d) or None
            Unused.

        Returns
        -------
        pred : torch.Tensor of shape (n, K), dtype bool
            The predicted label sets.
        """
        k = self.predict_k(logits)
        rank = logits.argsort(dim=1, descending=True).argsort(dim=1)
        return rank < k[:, None]


_SPACES = ("features", "logits", "proba")
_METRICS = ("euclidean", "cosine")
_CANDIDATES = ("observed", "synthesized", "both")


def _set_index(sets, Y):
    """Index of each row of ``Y`` among the rows of ``sets``, or -1."""
    both = torch.cat([sets.to(torch.uint8), Y.to(torch.uint8)])
    _, inverse = torch.unique(both, dim=0, return_inverse=True)
    lookup = torch.full((int(inverse.max()) + 1,), -1, device=Y.device)
    lookup[inverse[: len(sets)]] = torch.arange(len(sets), device=Y.device)
    return lookup[inverse[len(sets) :]]


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
      ``k`` never occurs alone).

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
        every observed set when none would be left. On the
        benchmark data sets, 2 beat 1 in mean micro-F1 and subset accuracy.
    temperature : float or 'auto', default='auto'
        Temperature :math:`T` of the soft assignment used by
        :meth:`predict_proba`; ``'auto'`` fits it by maximum likelihood.
    allow_empty : 'auto' or bool, default='auto'
        Whether the empty set may be predicted (it needs training rows with
        no label, which give its prototype). ``'auto'``: when there are such
        rows.
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
    _max_synthesized = 50_000
    # Above this many prototypes, the soft posterior keeps the nearest ones.
    _posterior_full_max = 2048
    _posterior_top = 256

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
    ):
        self.space = space
        self.metric = metric
        self.candidates = candidates
        self.max_multiplicity = max_multiplicity
        self.min_count = min_count
        self.temperature = temperature
        self.allow_empty = allow_empty
        self.prune_top_r = prune_top_r

    # ---------------------------------------------------------------- checks
    def _check_params(self, K):
        for name, options in (
            ("space", _SPACES),
            ("metric", _METRICS),
            ("candidates", _CANDIDATES),
        ):
            value = getattr(self, name)
            if value not in options:
                raise ValueError(
                    f"{name} must be one of {list(options)}; got {value!r}."
                )
        _check_allow_empty(self.allow_empty)
        for name, low, allow_none in (
            ("max_multiplicity", 1, True),
            ("min_count", 1, False),
            ("prune_top_r", 1, True),
        ):
            value = getattr(self, name)
            if value is None and allow_none:
                continue
            if (
                not isinstance(value, numbers.Integral)
                or isinstance(value, bool)
                or value < low
            ):
                raise ValueError(
                    f"{name} must be an integer >= {low}"
                    + (" or None" if allow_none else "")
                    + f"; got {value!r}."
                )
        if self.prune_top_r is not None and self.prune_top_r > K:
            raise ValueError(
                f"prune_top_r={self.prune_top_r} is larger than the number of "
                f"labels ({K}); use at most {K}, or None for a full search."
            )
        T = self.temperature
        if T != "auto" and not (
            isinstance(T, numbers.Real)
            and not isinstance(T, bool)
            and math.isfinite(T)
            and T > 0
        ):
            raise ValueError(
                f"temperature must be a positive number or 'auto'; got {T!r}."
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
        K = Y.shape[1]
        self._check_params(K)
        R = self._representation(logits, features)
        Y = Y.to(R.device).bool()
        sums = _SetSums().update(R, Y)
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
        sums, sample = _SetSums(), _RowSample(max_temperature_rows)
        for logits, features, Y in batches:
            if not hasattr(sums, "sums"):
                self._check_params(Y.shape[1])
            R = self._representation(logits, features)
            Y = Y.to(R.device).bool()
            sums.update(R, Y)
            sample.update(R, Y)
        if not hasattr(sums, "sums"):
            raise ValueError("fit_batches got no batch; pass at least one.")
        R, Y = sample.rows()
        return self._fit_from_sums(sums, R, Y, calibration)

    def _fit_from_sums(self, set_sums, R, Y, calibration):
        """Fit from per-set counts and sums; ``R, Y`` rows for the temperature."""
        sets, counts, sums = set_sums.sets, set_sums.counts, set_sums.sums
        self.allow_empty_ = self._resolve_allow_empty(sets)
        sets = sets.bool()
        means = sums / counts[:, None]
        sizes = sets.sum(dim=1)

        self.label_means_ = self._label_means(sets, counts, sums, sizes, means)
        present = ~self.label_means_.isnan().any(dim=1)
        if not present.any():
            raise ValueError(
                "No label set can be predicted: Y has no positive label in any "
                "row, so there are no label prototypes. Fit on rows with labels."
            )
        center = self.label_means_[present].mean(dim=0)
        offsets = self.label_means_ - center
        self.rho_ = self._fit_rho(sets, sizes, means, offsets, center)

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
            syn_sets = self._synthesis_candidates(sets[trusted], present, sizes)
            if len(syn_sets):
                protos.append(self._synthesize(syn_sets, offsets, center))
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

    @staticmethod
    def _label_means(sets, counts, sums, sizes, means):
        """mu_k: the multiplicity-1 mean, else the mean of rows containing k."""
        K = sets.shape[1]
        member = sets.double()
        # the sum and count of the rows containing k, from the per-set ones
        n_with = member.T @ counts.double()
        label_means = (member.T @ sums) / n_with[:, None]  # NaN where absent
        singles = sizes == 1
        labels = sets[singles].double().argmax(dim=1)
        label_means[labels] = means[singles]
        return label_means.reshape(K, -1)

    @staticmethod
    def _fit_rho(sets, sizes, means, offsets, center):
        """Least-squares rho_m over the observed sets of each size m >= 2."""
        rho = {}
        present = ~offsets.isnan().any(dim=1)
        for m in torch.unique(sizes).tolist():
            if m < 2:
                continue
            chosen = sets[sizes == m]
            usable = ~(chosen & ~present).any(dim=1)
            if not usable.any():
                continue
            a = (chosen[usable].double() @ offsets.nan_to_num()) / m
            c = means[sizes == m][usable] - center
            denom = (a * a).sum()
            rho[m] = float((a * c).sum() / denom) if denom > 0 else float("nan")
        return rho

    def _rho_for(self, m):
        """rho_m, or that of the nearest fitted multiplicity, or 1."""
        fitted = {k: v for k, v in self.rho_.items() if math.isfinite(v)}
        if m in fitted:
            return fitted[m]
        if not fitted:
            return 1.0
        return fitted[min(fitted, key=lambda k: (abs(k - m), k))]

    def _synthesis_candidates(self, kept_sets, present, sizes):
        """All label sets of size 2..max_multiplicity not already kept."""
        K = kept_sets.shape[1]
        labels = torch.nonzero(present).flatten().tolist()
        top = self.max_multiplicity
        if top is None:
            top = int(sizes.max()) if len(sizes) else 1
        top = min(top, len(labels))
        rows, total = [], 0
        for m in range(2, top + 1):
            n_sets = math.comb(len(labels), m)
            if total + n_sets > self._max_synthesized:
                warnings.warn(
                    f"Synthesising label sets of size {m} would make "
                    f"{total + n_sets} prototypes (more than "
                    f"{self._max_synthesized}); only sets of up to {m - 1} "
                    "labels are synthesised. Lower max_multiplicity to silence "
                    "this warning.",
                    UserWarning,
                    stacklevel=4,
                )
                break
            rows.extend(combinations(labels, m))
            total += n_sets
        device = kept_sets.device
        if not rows:
            return torch.zeros(0, K, dtype=torch.bool, device=device)
        by_size = {}
        for combo in rows:
            by_size.setdefault(len(combo), []).append(combo)
        blocks = []
        for combos in by_size.values():
            index = torch.tensor(combos, device=device)
            block = torch.zeros(len(combos), K, dtype=torch.bool, device=device)
            block.scatter_(1, index, True)
            blocks.append(block)
        candidates = torch.cat(blocks)
        known = _set_index(kept_sets, candidates) >= 0
        return candidates[~known]

    def _synthesize(self, syn_sets, offsets, center):
        sizes = syn_sets.sum(dim=1)
        rho = torch.tensor(
            [self._rho_for(int(m)) for m in sizes.tolist()],
            dtype=torch.float64,
            device=offsets.device,
        )
        average = (syn_sets.double() @ offsets.nan_to_num()) / sizes[:, None]
        return center + rho[:, None] * average

    def _fit_temperature(self, R, Y, calibration):
        if self.temperature != "auto":
            return float(self.temperature)
        if calibration is not None:
            cal_logits, cal_features, Y = calibration
            R = self._representation(cal_logits, cal_features)
            Y = Y.to(R.device).bool()
        targets = _set_index(self.prototype_sets_, Y)
        known = targets >= 0
        if not known.any():
            warnings.warn(
                "No calibration sample has a label set among the candidates; "
                "temperature set to 1. Pass temperature= explicitly.",
                UserWarning,
                stacklevel=4,
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
        return marginals.double().clamp(_PROBA_EPS, 1 - _PROBA_EPS)


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
    follow its shape where a single mean does not. On held-out quarters of
    the training splits of the 8 benchmark data sets (3 seeds,
    ``benchmarks/study_defaults.py``), the local rule with 30 neighbours and
    ``n_local=4`` gained 4 to 15 points of subset accuracy over ONN decoding
    on 5 of them with :class:`PALClassifier` and was within 1.2 points on the
    other 3; with :class:`FixedETFClassifier` it gained 5 to 15 points on 6
    and 1 point on 2. When most label sets have only a handful of training
    samples, ONN can do better (the decoders example of the gallery: .649
    against .705); compare both there.

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
    outvote the right one (on the decoders example of the gallery, with
    about 7 samples per digit pair, it predicts one label too often).

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

    def _check_params(self):
        for name in ("n_neighbors", "n_local"):
            value = getattr(self, name)
            if (
                not isinstance(value, numbers.Integral)
                or isinstance(value, bool)
                or value < 1
            ):
                raise ValueError(f"{name} must be a positive integer; got {value!r}.")
        if self.metric not in ("cosine", "euclidean"):
            raise ValueError(
                f"metric must be 'cosine' or 'euclidean'; got {self.metric!r}."
            )
        if self.vote not in ("local", "set", "label"):
            raise ValueError(
                f"vote must be 'local', 'set' or 'label'; got {self.vote!r}."
            )
        _check_allow_empty(self.allow_empty)

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
        self._check_params()
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
            pred = _ensure_nonempty(pred, counts)
        return pred


_DECODERS = {
    "onn": ONNDecoder,
    "knn": KNNDecoder,
    "threshold": ThresholdDecoder,
    "topk": TopKDecoder,
}


def get_decoder(decoder):
    """Return a fresh, unfitted decoder from a name or a decoder instance.

    Parameters
    ----------
    decoder : str or BaseDecoder
        A name (``'onn'``, ``'knn'``, ``'threshold'``, ``'topk'``) or a decoder
        instance, which is cloned.

    Returns
    -------
    decoder : BaseDecoder
        An unfitted decoder.
    """
    if isinstance(decoder, str):
        if decoder not in _DECODERS:
            raise ValueError(
                f"Unknown decoder {decoder!r}; use one of {sorted(_DECODERS)} or "
                "pass a decoder instance such as sknc.ONNDecoder()."
            )
        return _DECODERS[decoder]()
    if isinstance(decoder, BaseDecoder):
        return clone(decoder)
    raise TypeError(
        f"decoder must be a decoder name or an sknc decoder instance; got {decoder!r}."
    )
