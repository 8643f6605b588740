"""The public neural-collapse metrics: nc1, nc2, nc2_means, nc3, ncm, rho.

Each function streams ``(H, Y)`` once into an
:class:`~sknc.metrics._accumulator.NCAccumulator` and measures its summary
with the kernel that the registry :data:`~sknc.metrics._kernels.METRICS`
names for it (:func:`metric_value`); :func:`neural_collapse_report` computes
them all from one pass. The notation is that of :mod:`sknc.metrics`.
"""

import functools
import inspect

from sklearn.utils._param_validation import validate_params

from .._docstring import Substitution, metric_params
from ._accumulator import accumulate
from ._checks import (
    COMMON_CONSTRAINTS,
    GEOMETRY_CONSTRAINT,
    MEANS_CONSTRAINTS,
    SET_CONSTRAINTS,
    accumulation_device,
    check_features,
    check_head,
    device_of,
)
from ._kernels import METRICS, emit_warnings, report_of

__all__ = [
    "nc1",
    "nc2",
    "nc2_means",
    "nc3",
    "ncm",
    "rho",
    "neural_collapse_report",
    "metric_value",
]


def _summary(H, Y, chunk_size, label_means, weighting):
    """Stream ``(H, Y)`` and estimate the label means as asked."""
    set_scatter = label_means != "singletons"
    accumulator = accumulate(H, Y, chunk_size, set_scatter=set_scatter)
    return accumulator.summary(label_means, weighting)


def _checked_head(W, s):
    """Return the head ``W`` checked against summary ``s``, or alone if None."""
    if s is not None:
        return check_head(W, s.n_labels, s.n_features, s.mu.device)
    W = check_features(W, name="W")
    if W.shape[0] < 2:
        raise ValueError(
            "Neural collapse needs at least 2 labels; W has "
            f"{W.shape[0]} row. Pass the whole head, one row per label."
        )
    return check_head(W, W.shape[0], None, accumulation_device(device_of(W)))


@Substitution(**metric_params())
def metric_value(
    name,
    H=None,
    Y=None,
    W=None,
    *,
    label_means="auto",
    weighting="uniform",
    chunk_size=None,
    **options,
):
    """Return one metric of the registry, warning why it is NaN.

    Parameters
    ----------
    name : str
        A key of :data:`~sknc.metrics._kernels.METRICS`.
    H, Y : array-like, default=None
        Features and label indicator, as the public metrics take them;
        unused by a metric of the head alone.
    W : array-like, default=None
        The head, for a metric that needs it.
    {label_means}
    {weighting}
    {chunk_size}
    **options : dict
        ``geometry``, ``center``, ``n_random``, ``random_state``, for the
        metrics that take them.

    Returns
    -------
    value : float or dict
        The metric.
    """
    metric = METRICS[name]
    s, messages = None, []
    if metric.needs_features:
        s = _summary(H, Y, chunk_size, label_means, weighting)
        messages = list(s.messages)
    if metric.needs_head:
        W = _checked_head(W, s)
    value = metric.compute(s, W, messages, **options)
    emit_warnings(messages)
    return value


def _public_metric(constraints):
    """Make a function the public metric of its name, through the registry.

    The decorated function gives the signature and the docstring, whose
    shared fields are filled with :func:`sknc._docstring.metric_params`; its
    body is never run: a call is validated against ``constraints`` and its
    arguments go to :func:`metric_value`.
    """

    def decorate(stub):
        signature = inspect.signature(stub)

        @functools.wraps(Substitution(**metric_params())(stub))
        def metric(*args, **kwargs):
            arguments = signature.bind(*args, **kwargs)
            arguments.apply_defaults()
            return metric_value(stub.__name__, **arguments.arguments)

        return validate_params(constraints, prefer_skip_nested_validation=True)(metric)

    return decorate


@_public_metric({**COMMON_CONSTRAINTS, **MEANS_CONSTRAINTS})
def nc1(H, Y, *, label_means="auto", weighting="uniform", chunk_size=None):
    r"""Within-class variability relative to between-class variability (NC1).

    .. math::

        \mathrm{NC1} = \frac{1}{K}\operatorname{tr}\big(\Sigma_W
        \Sigma_B^{+}\big),\quad
        \Sigma_W = \frac{1}{n_1}\sum_{i:\,|S_i|=1}(h_i - \mu_{k_i})
        (h_i - \mu_{k_i})^T,\quad
        \Sigma_B = \frac{1}{K}\sum_k (\mu_k - \mu_G)(\mu_k - \mu_G)^T,

    computed on the ``n_1`` multiplicity-1 samples (rows of ``Y`` with
    exactly one positive; ``k_i`` is that label). :math:`\mu_G` is the mean of
    the class means, :math:`^{+}` the Moore-Penrose pseudo-inverse. 0 when
    every multiplicity-1 feature equals its class mean. With the label means
    fitted to all rows (``label_means``), :math:`\Sigma_W` is the covariance
    of every row around the mean of its own label set (over the sets with at
    least two rows), and :math:`\Sigma_B` that of the fitted means.

    Parameters
    ----------
    {H}
    {Y}
    {label_means}
    {weighting}
    {chunk_size}
        Results do not depend on it beyond rounding.

    Returns
    -------
    nc1 : float
        The NC1 value; NaN (with a :class:`NeuralCollapseWarning`) when fewer
        than two labels have a multiplicity-1 sample or all class means
        coincide.

    See Also
    --------
    neural_collapse_report : All metrics from one pass over the data.

    Examples
    --------
    >>> import numpy as np
    >>> from sknc.metrics import nc1
    >>> Y = np.repeat(np.eye(3, dtype=int), 2, axis=0)  # 2 samples per label
    >>> means = np.array([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]])
    >>> H = Y @ means  # every sample sits on its class mean
    >>> nc1(H, Y)
    0.0
    >>> H_noisy = H + np.random.default_rng(0).normal(0, 0.1, H.shape)
    >>> 0 < nc1(H_noisy, Y) < 0.1
    True
    """


@_public_metric({"W": ["array-like"]})
def nc2(W):
    r"""Distance of a linear head from a simplex ETF (NC2 on the classifier).

    .. math::

        \mathrm{NC2}(W) = \Big\| \frac{W W^T}{\|W W^T\|_F} - E \Big\|_F,
        \qquad E = \frac{I_K - \mathbf{1}\mathbf{1}^T/K}{\sqrt{K-1}}.

    0 exactly when the rows of ``W`` have equal norms and pairwise cosine
    :math:`-1/(K-1)`. ``W`` is not centred. With ``n_features < K - 1`` the
    value stays positive (a simplex ETF needs ``K - 1`` dimensions). For the
    same measure on the class means, see :func:`nc2_means`.

    There is no ``geometry`` parameter: the head of a softmax (PAL) loss
    with weight decay is a simplex ETF also when the features are
    non-negative and their uncentred means form an orthogonal frame, since
    adding the same vector to every row of ``W`` changes no softmax and
    weight decay removes it (see the Notes of :func:`nc2_means`). Only a
    square loss without a bias, which sknc does not train, makes the head
    an orthogonal frame.

    Parameters
    ----------
    W : array-like or torch.Tensor of shape (n_labels, n_features)
        The head, one row per label (``nn.Linear(d, K).weight``).

    Returns
    -------
    nc2 : float
        The NC2 value of the head, between 0 and 2; NaN (with a
        :class:`NeuralCollapseWarning`) when ``W`` is zero.

    See Also
    --------
    nc2_means : NC2 on the centred class means.

    Examples
    --------
    >>> import numpy as np
    >>> from sknc import simplex_etf
    >>> from sknc.metrics import nc2
    >>> round(nc2(simplex_etf(4, 3, random_state=0)), 6)
    0.0
    >>> round(nc2(np.eye(4)), 3)  # orthogonal rows are not an ETF
    0.518
    """


@_public_metric({**COMMON_CONSTRAINTS, **GEOMETRY_CONSTRAINT, **MEANS_CONSTRAINTS})
def nc2_means(
    H, Y, *, geometry="etf", label_means="auto", weighting="uniform", chunk_size=None
):
    r"""Distance of the class means from their collapsed frame (NC2).

    With ``geometry='etf'`` (default), the distance of the **centred** class
    means from a simplex ETF:

    .. math::

        \mathrm{NC2}_\mu = \Big\| \frac{\bar M \bar M^T}{\|\bar M \bar M^T\|_F}
        - E \Big\|_F, \qquad \bar M = [\mu_k - \mu_G]_k \in
        \mathbb{R}^{K \times d},

    with :math:`\mu_k` the mean of the multiplicity-1 samples of label ``k``
    and :math:`\mu_G` the mean of the :math:`\mu_k`. 0 when the centred means
    have equal norms and pairwise cosine :math:`-1/(K-1)`.

    With ``geometry='orthogonal'``, the distance of the **uncentred** class
    means :math:`M = [\mu_k]_k` from an orthogonal frame:

    .. math::

        \mathrm{NC2}^{\perp}_\mu = \Big\| \frac{M M^T}{\|M M^T\|_F}
        - \frac{I_K}{\sqrt{K}} \Big\|_F,

    0 when the means are mutually orthogonal with equal norms, the collapsed
    geometry of non-negative features (see Notes).

    Parameters
    ----------
    {H}
    {Y}
    geometry : {'etf', 'orthogonal'}, default='etf'
        The collapsed geometry to measure the means against: ``'etf'`` for
        unconstrained features (a backbone whose last layer is linear, as
        sknc's :class:`~sknc.MLPBackbone`), ``'orthogonal'`` for
        non-negative features (a backbone that ends with a ReLU).
    {label_means}
    {weighting}
    {chunk_size}

    Returns
    -------
    nc2_means : float
        The NC2 value of the class means, between 0 and 2; NaN (with a
        :class:`NeuralCollapseWarning`) when fewer than two labels have a
        multiplicity-1 sample or all class means coincide (are all zero,
        for ``'orthogonal'``).

    See Also
    --------
    nc2 : NC2 on the head.

    Notes
    -----
    **Which geometry.** In the unconstrained-features model, the optimum of
    the regularised cross-entropy is a simplex ETF [1]_. When the features
    pass through a ReLU they cannot leave the non-negative orthant, and the
    optimum changes: the uncentred class means become an *orthogonal frame*
    [2]_ [3]_. The centred means of an orthogonal frame are still a simplex
    ETF (:math:`\mu_k - \mu_G` with orthogonal, equal-norm :math:`\mu_k` has
    pairwise cosine :math:`-1/(K-1)`), so ``'etf'`` is 0 at both optima;
    ``'orthogonal'`` also checks the position of the origin and is 0 only at
    the non-negative one. A simplex ETF centred at the origin is at distance
    :math:`\sqrt{2 - 2\sqrt{(K-1)/K}}` from an orthogonal frame (0.61 for
    ``K = 3``, 0.10 for ``K = 100``): for many labels the two frames are
    close, and the difference is mostly in the position of :math:`\mu_G`.
    An orthogonal frame needs ``n_features >= K``; with fewer the value
    stays positive.

    The head is a simplex ETF at both optima: a softmax (and so the PAL
    loss) does not change when the same vector is added to every row of
    ``W``, so weight decay makes the rows sum to zero, the head is the
    *centred* frame and :func:`nc2` and :func:`nc3` keep their ETF target
    whatever the features (an unconstrained-features model with
    non-negative features, solved numerically, is in the user guide).

    References
    ----------
    .. [1] J. Zhu et al., "A Geometric Analysis of Neural Collapse with
       Unconstrained Features", NeurIPS 2021.
    .. [2] T. Tirer and J. Bruna, "Extended Unconstrained Features Model for
       Exploring Deep Neural Collapse", ICML 2022, arXiv:2202.08087.
    .. [3] D. A. Nguyen, R. Levie, J. Lienen, G. Kutyniok and E. Hüllermeier,
       "Memorization-Dilation: Modeling Neural Collapse Under Label Noise",
       ICLR 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from sknc.metrics import nc2_means
    >>> Y = np.eye(3, dtype=int)
    >>> H = np.array([[2.0, 0.0], [-1.0, 3**0.5], [-1.0, -(3**0.5)]]) + 5.0
    >>> round(nc2_means(H, Y), 6)  # an equilateral triangle, anywhere
    0.0
    >>> H = 2.0 * np.eye(3)  # orthogonal means: their centred version is an ETF
    >>> round(nc2_means(H, Y, geometry="orthogonal"), 6), round(nc2_means(H, Y), 6)
    (0.0, 0.0)
    >>> round(nc2_means(H - H.mean(axis=0), Y, geometry="orthogonal"), 3)
    0.606
    """


@_public_metric({**COMMON_CONSTRAINTS, **MEANS_CONSTRAINTS, "W": ["array-like"]})
def nc3(H, Y, W, *, label_means="auto", weighting="uniform", chunk_size=None):
    r"""Self-duality of the head and the centred class means (NC3).

    .. math::

        \mathrm{NC3} = \Big\| \frac{W \bar M^T}{\|W \bar M^T\|_F} - E
        \Big\|_F, \qquad \bar M = [\mu_k - \mu_G]_k \in \mathbb{R}^{K \times d},

    so :math:`(W \bar M^T)_{jk} = w_j^T(\mu_k - \mu_G)` (the ``d x K`` matrix
    of centred means of DESIGN.md is :math:`\bar M^T`). 0 when ``W`` and the
    centred class means are the same simplex ETF up to scale. This holds
    for non-negative features too (their centred means are an ETF; see the
    Notes of :func:`nc2_means`), so NC3 has no ``geometry`` parameter.

    Parameters
    ----------
    {H}
    {Y}
    W : array-like or torch.Tensor of shape (n_labels, n_features)
        The head, one row per label.
    {label_means}
    {weighting}
    {chunk_size}

    Returns
    -------
    nc3 : float
        The NC3 value, between 0 and 2; NaN (with a
        :class:`NeuralCollapseWarning`) when it is undefined.

    Examples
    --------
    >>> import numpy as np
    >>> from sknc.metrics import nc3
    >>> W = np.array([[2.0, 0.0], [-1.0, 3**0.5], [-1.0, -(3**0.5)]])
    >>> Y = np.eye(3, dtype=int)
    >>> round(nc3(0.5 * W + 1.0, Y, W), 6)  # means = scaled, shifted head
    0.0
    """


@_public_metric({**COMMON_CONSTRAINTS, **SET_CONSTRAINTS, **MEANS_CONSTRAINTS})
def ncm(
    H,
    Y,
    *,
    n_random=1000,
    center=True,
    random_state=None,
    label_means="auto",
    weighting="uniform",
    chunk_size=None,
):
    r"""How well label-set means follow the tag-wise average rule (NCm).

    Under M-lab NC the mean of the samples whose label set is exactly ``S``
    (:math:`|S| = m \geq 2`) is a scaled average of its labels' means:
    :math:`\mu_S - \mu_G = \rho_m \frac{1}{m}\sum_{k\in S}(\mu_k - \mu_G)`.
    NCm compares the angle between the two sides with the angle obtained for
    random label sets :math:`S'` of the same size:

    .. math::

        \mathrm{NCm} = \frac{\operatorname{mean}_S\,
        \angle\big(\mu_S - o,\ \sum_{k\in S}(\mu_k - o)\big)}
        {\operatorname{mean}_{S,\,S'}\,
        \angle\big(\mu_S - o,\ \sum_{k\in S'}(\mu_k - o)\big)},

    over the label sets ``S`` with two or more labels observed in ``Y`` (each
    set counts once, whatever its number of samples) and, in the
    denominator, over label sets :math:`S'` with :math:`|S'| = |S|` drawn
    uniformly at random (``n_random`` per size, or every set of that size
    when there are no more), with the origin :math:`o = \mu_G`
    (``center=True``) or :math:`o = 0`. 0 means the rule holds exactly;
    about 1 means the set means are no closer to their tag-wise direction
    than to a random one. A set whose centred mean or tag-wise sum is zero
    (relative to the spread of the class means) has no angle and is left
    out, with a warning.

    Parameters
    ----------
    {H}
    {Y}
    n_random : int, default=1000
        Number of random label sets of each size ``m`` that set the chance
        level (one pool per size, shared by the observed sets of that size).
        When there are at most ``n_random`` sets of size ``m`` in all, every
        one of them is used instead: exact, and no randomness.
    center : bool, default=True
        Measure angles around :math:`\mu_G`, the mean of the class means.
        This makes NCm invariant to a translation of the features: raw
        post-ReLU features all lie in the positive orthant, where every pair
        of means makes a small angle and the ratio says little. For features
        centred at the origin (a collapsed network with a bias) both choices
        agree. With ``center=True`` a set that contains every label is
        skipped: the centred means of all labels sum to zero.
    random_state : int, RandomState instance or None, default=None
        Seeds the random label sets. Pass an int for a repeatable value.
    {label_means}
    {weighting}
    {chunk_size}

    Returns
    -------
    ncm : float
        The NCm value; NaN (with a :class:`NeuralCollapseWarning`) when no
        label set with two or more labels gives a usable angle.

    See Also
    --------
    rho : The scale :math:`\rho_m` of the tag-wise average rule.

    Examples
    --------
    >>> import numpy as np
    >>> from sknc import simplex_etf
    >>> from sknc.metrics import ncm
    >>> means = simplex_etf(4, 3, random_state=0)
    >>> Y = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1],
    ...               [1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 1, 0]])
    >>> H = Y @ means  # set means: sums of their labels' means
    >>> round(ncm(H, Y, random_state=0), 6)
    0.0
    """


@_public_metric({**COMMON_CONSTRAINTS, **MEANS_CONSTRAINTS, "center": ["boolean"]})
def rho(H, Y, *, center=True, label_means="auto", weighting="uniform", chunk_size=None):
    r"""Least-squares scale :math:`\rho_m` of the tag-wise average rule.

    For each multiplicity :math:`m \geq 2` observed in ``Y``:

    .. math::

        \rho_m = \arg\min_\rho \sum_{|S| = m} \|c_S - \rho\, a_S\|^2
        = \frac{\sum_S \langle c_S, a_S\rangle}{\sum_S \|a_S\|^2},
        \quad c_S = \mu_S - o,\quad
        a_S = \frac{1}{m}\sum_{k \in S}(\mu_k - o),

    over the observed label sets of size ``m`` (each set counts once), with
    :math:`o = \mu_G` (``center=True``) or :math:`o = 0`. A prototype for an
    unseen set ``S`` is then :math:`o + \rho_m a_S`.

    Parameters
    ----------
    {H}
    {Y}
    center : bool, default=True
        Fit around :math:`\mu_G`, the mean of the class means (translation
        invariant), or around the origin. See :func:`ncm`.
    {label_means}
    {weighting}
    {chunk_size}

    Returns
    -------
    rho : dict of int to float
        :math:`\rho_m` per observed multiplicity ``m >= 2``, sorted by ``m``.
        Empty (with a :class:`NeuralCollapseWarning`) when no sample has two
        or more labels; NaN for a multiplicity whose tag-wise averages are
        all zero.

    Examples
    --------
    >>> import numpy as np
    >>> from sknc import simplex_etf
    >>> from sknc.metrics import rho
    >>> means = simplex_etf(4, 3, random_state=0)
    >>> Y = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1],
    ...               [1, 1, 0, 0], [0, 1, 1, 0]])
    >>> H = Y @ means  # a pair's mean is the sum, 2x the average of its labels
    >>> {m: round(r, 6) for m, r in rho(H, Y).items()}
    {2: 2.0}
    """


@validate_params(
    {
        **COMMON_CONSTRAINTS,
        **SET_CONSTRAINTS,
        **GEOMETRY_CONSTRAINT,
        **MEANS_CONSTRAINTS,
        "W": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
@Substitution(**metric_params())
def neural_collapse_report(
    H,
    Y,
    W=None,
    *,
    n_random=1000,
    center=True,
    random_state=None,
    geometry="etf",
    label_means="auto",
    weighting="uniform",
    chunk_size=None,
):
    r"""All neural-collapse metrics from one streamed pass over the data.

    Streams ``H`` and ``Y`` once into per-label and per-label-set sums, then
    computes every metric of this module from them. Cheaper than calling the
    functions one by one, and the values are the same.

    Parameters
    ----------
    {H}
    {Y}
    W : array-like or torch.Tensor of shape (n_labels, n_features), default=None
        The head. Without it, the keys ``"nc2"`` and ``"nc3"`` are absent.
    {n_random}
    {center}
    random_state : int, RandomState instance or None, default=None
        Seeds the random label sets of NCm.
    geometry : {'etf', 'orthogonal'}, default='etf'
        The collapsed geometry of the class means for ``"nc2_means"``:
        ``'etf'`` for unconstrained features (sknc's default backbone),
        ``'orthogonal'`` for non-negative (post-ReLU) features; see
        :func:`nc2_means`. The other metrics do not depend on it.
    {label_means}
    {weighting}
    {chunk_size}

    Returns
    -------
    report : dict
        ``"nc1"``, ``"nc2"`` (with ``W``), ``"nc2_means"``, ``"nc3"`` (with
        ``W``), ``"ncm"``: floats as returned by :func:`nc1`, :func:`nc2`,
        :func:`nc2_means`, :func:`nc3`, :func:`ncm`; ``"rho"``: the dict
        returned by :func:`rho`; and the counts ``"n_samples"``,
        ``"n_features"``, ``"n_labels"``, ``"n_labels_used"`` (labels with a
        multiplicity-1 sample), ``"n_mult1"`` (multiplicity-1 samples),
        ``"n_unlabeled"`` (rows without a label, ignored),
        ``"n_label_sets"`` (distinct observed sets with two or more labels),
        ``"multiplicity_counts"`` (``{m: number of samples}``),
        ``"geometry"`` (the ``geometry`` used for ``"nc2_means"``),
        ``"label_means"`` (the estimator used: ``'singletons'`` or
        ``'all_rows'``), ``"n_mean_rows"`` (the rows it used: the
        multiplicity-1 samples, or every labelled row), ``"weighting"``,
        ``"rho_r2"`` (``{m: R^2_m}``, the share of the spread of the
        observed set means of size ``m`` that :math:`o + \rho_m a_S`
        explains, each set counting once) and ``"tagwise_r2"`` (the same
        over every size).

    Notes
    -----
    **Label means from all rows.** Many real data sets have few rows with a
    single label (yeast: 24 of 1,500, all of one label), so the definition
    leaves most labels without a mean and the metrics NaN. With
    ``label_means='all_rows'`` (or ``'auto'`` on such data) the means are
    fitted to every label set's mean under the tag-wise-average model,

    .. math::

        \min_{\mu, \rho} \sum_S n_S \big\| \bar h_S - o - \rho_{|S|}\,
        a_S(\mu) \big\|^2, \qquad \rho_1 = 1, \quad
        o = \tfrac{1}{K}\textstyle\sum_k \mu_k,

    over the distinct label sets ``S`` (:math:`n_S` rows of mean
    :math:`\bar h_S`; :math:`a_S` the plain or frequency-weighted average of
    the offsets :math:`\mu_k - o`). It returns the multiplicity-1 means on
    data that follow the model exactly. Without any multiplicity-1 row the
    scale of the means is not fixed by the data: the smallest multiplicity
    then gets :math:`\rho = 1` (:func:`rho` warns). NC1 then compares the
    within-set covariance (every row around its own set's mean, over the
    sets with at least two rows) with the spread of the fitted means; NC2,
    NC3, NCm and :math:`\rho_m` use the fitted means. As the means are
    fitted to the sets that NCm measures, NCm and ``"rho_r2"`` are then
    optimistic, and a label that always occurs with the same others is not
    identified (a warning says so).

    **Frequency-weighted average.** Under imbalance among labels, the mean
    of a set is closer to an average weighted by the labels' frequencies
    :math:`w_k`, :math:`a_S = \sum_{k\in S} w_k (\mu_k - o)/\sum_{k\in S}
    w_k` [1]_ (``weighting='frequency'``); with balanced labels the two
    agree. ``"rho_r2"`` says which one the data follow better.

    References
    ----------
    .. [1] Ma, Yang, Li and Hui, arXiv:2605.01897, 2026.

    Examples
    --------
    >>> import numpy as np
    >>> from sknc import simplex_etf
    >>> from sknc.metrics import neural_collapse_report
    >>> W = simplex_etf(4, 3, random_state=0)
    >>> Y = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1],
    ...               [1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 1, 0]])
    >>> report = neural_collapse_report(Y @ W, Y, W, random_state=0)
    >>> {key: round(report[key], 6) for key in ["nc1", "nc2", "nc3", "ncm"]}
    {'nc1': 0.0, 'nc2': 0.0, 'nc3': 0.0, 'ncm': 0.0}
    >>> round(report["rho"][2], 6), report["n_mult1"], report["n_label_sets"]
    (2.0, 4, 3)
    """
    out, messages = report_of(
        _summary(H, Y, chunk_size, label_means, weighting),
        W,
        n_random=n_random,
        center=center,
        random_state=random_state,
        geometry=geometry,
    )
    emit_warnings(messages)
    return out
