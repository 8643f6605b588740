"""The neural-collapse metrics computed from a :class:`Summary`, and their registry.

Each kernel takes the summary of a streamed pass (and the head ``W`` where
it needs one) and a list ``messages`` to which it appends, instead of
returning NaN silently, why a value is undefined on these data;
:func:`emit_warnings` then raises each message once as a
:class:`NeuralCollapseWarning`.

:data:`METRICS`, the registry, says per metric which kernel computes it and
what it needs; the public functions, the report, the scorer, the tracker and
the plots all go through it, so that a new metric is a kernel and an entry.
"""

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter

import numpy as np
import torch
from sklearn.utils import check_random_state

from .._tagwise import fit_rho, tagwise_r2
from .._warnings import warn
from ._checks import BATCH_ELEMENTS, check_head

__all__ = [
    "HEAD_METRICS",
    "METRICS",
    "SCORED_METRICS",
    "Metric",
    "NeuralCollapseWarning",
    "emit_warnings",
    "measure",
    "etf_distance",
    "nc1_of",
    "nc2_of",
    "nc2_means_of",
    "nc3_of",
    "ncm_of",
    "report_of",
    "rho_of",
    "rho_r2_of",
]

# Relative size under which a tag-wise direction counts as zero.
_DEGENERATE_RTOL = 1e-4
# Mean chance-level angle (radians) under which NCm is undefined.
_ZERO_ANGLE = 1e-6


class NeuralCollapseWarning(UserWarning):
    """Warning for a neural-collapse metric that is undefined or partial.

    Raised when a label has no multiplicity-1 sample, when a metric is NaN
    because the data do not define it (for example no label set with two or
    more labels for :func:`ncm`), or when some label sets are left out.
    """


def emit_warnings(messages):
    """Raise each distinct message once, in order, as a NeuralCollapseWarning.

    The warnings point at the user's line (:func:`sknc._warnings.warn`).

    Parameters
    ----------
    messages : list of str
        Messages collected by the kernels.
    """
    for message in dict.fromkeys(messages):  # unique, in order
        warn(message, NeuralCollapseWarning)


def etf_distance(G, what, messages, geometry="etf"):
    """``|| G / ||G||_F - T ||_F`` for a square Gram-like matrix ``G``.

    ``T`` is the normalised Gram matrix of the frame named by ``geometry``:
    ``E = (I - 11^T/K)/sqrt(K-1)`` (simplex ETF) or ``I/sqrt(K)``
    (orthogonal frame). Both have unit Frobenius norm.

    Parameters
    ----------
    G : torch.Tensor of shape (K, K)
        The matrix, float64.
    what : str
        What ``G`` is, for the message when it is zero.
    messages : list of str
        Where that message goes.
    geometry : {'etf', 'orthogonal'}, default='etf'
        The frame.

    Returns
    -------
    distance : float
        The distance; NaN when ``G`` is zero.
    """
    K = G.shape[0]
    norm = torch.linalg.matrix_norm(G)
    if not norm > 0:
        frame = "ETF" if geometry == "etf" else "orthogonal-frame"
        messages.append(f"{what} is zero, so its {frame} distance is undefined: NaN.")
        return math.nan
    if geometry == "etf":
        T = torch.eye(K, dtype=G.dtype, device=G.device) - 1.0 / K
        T /= math.sqrt(K - 1)
    else:
        T = torch.eye(K, dtype=G.dtype, device=G.device) / math.sqrt(K)
    return float(torch.linalg.matrix_norm(G / norm - T))


def _enough_labels(s, metric, messages):
    if s.mu.shape[0] >= 2:
        return True
    messages.append(
        f"{metric} needs class means of at least 2 labels, but only "
        f"{s.mu.shape[0]} label(s) have a multiplicity-1 sample: NaN."
    )
    return False


def nc1_of(s, messages):
    """NC1 of a summary; see :func:`sknc.metrics.nc1`.

    Parameters
    ----------
    s : Summary
        The statistics.
    messages : list of str
        Where the reasons for a NaN go.

    Returns
    -------
    nc1 : float
        The value, or NaN.
    """
    if not _enough_labels(s, "NC1", messages):
        return math.nan
    if s.n_within == 0:
        messages.append(
            "NC1 is undefined: every label set has a single row, so there is "
            "no within-set spread to measure: NaN."
        )
        return math.nan
    Mbar = s.mu - s.mu_G  # (K', d)
    # Sigma_B = Mbar^T Mbar / K' = V diag(sv^2) V^T / K', so
    # (1/K') tr(Sigma_W pinv(Sigma_B)) = sum_i v_i^T Sigma_W v_i / sv_i^2.
    # Its rank is at most min(K' - 1, d): the centred means sum to zero, and
    # that null direction is dropped explicitly (it is not exactly zero in
    # floating point, and relative to the spread of the means it can be
    # large when the features are far from the origin). Directions below
    # the rounding level of the input precision are dropped too.
    _, sv, Vh = torch.linalg.svd(Mbar, full_matrices=False)
    rank = min(Mbar.shape[0] - 1, Mbar.shape[1])
    tol = sv[0] * max(Mbar.shape) * s.eps
    keep = sv[:rank] > tol
    if not keep.any():
        messages.append(
            "NC1 is undefined: all class means coincide (the between-class "
            "covariance is zero): NaN."
        )
        return math.nan
    V = Vh[:rank][keep]
    within = ((V @ s.sigma_W) * V).sum(dim=1)
    return float((within / sv[:rank][keep] ** 2).sum())


def nc2_of(W, messages):
    """NC2 of a checked float64 head ``W``; see :func:`sknc.metrics.nc2`.

    Parameters
    ----------
    W : torch.Tensor of shape (K, d)
        The head.
    messages : list of str
        Where the reason for a NaN goes.

    Returns
    -------
    nc2 : float
        The value, or NaN.
    """
    return etf_distance(W @ W.T, "W W^T", messages)


def nc2_means_of(s, messages, geometry="etf"):
    """NC2 of the class means of a summary; see :func:`sknc.metrics.nc2_means`.

    Parameters
    ----------
    s : Summary
        The statistics.
    messages : list of str
        Where the reasons for a NaN go.
    geometry : {'etf', 'orthogonal'}, default='etf'
        The collapsed frame.

    Returns
    -------
    nc2_means : float
        The value, or NaN.
    """
    if not _enough_labels(s, "NC2 on the class means", messages):
        return math.nan
    if geometry == "orthogonal":  # the uncentred means
        return etf_distance(
            s.mu @ s.mu.T, "The class-mean matrix", messages, "orthogonal"
        )
    Mbar = s.mu - s.mu_G
    return etf_distance(Mbar @ Mbar.T, "The centred class-mean matrix", messages)


def nc3_of(s, W, messages):
    """NC3 of a summary and a checked head; see :func:`sknc.metrics.nc3`.

    Parameters
    ----------
    s : Summary
        The statistics.
    W : torch.Tensor of shape (n_labels, d)
        The head, float64, on the device of the summary.
    messages : list of str
        Where the reasons for a NaN go.

    Returns
    -------
    nc3 : float
        The value, or NaN.
    """
    if not _enough_labels(s, "NC3", messages):
        return math.nan
    Mbar = s.mu - s.mu_G
    WM = W[s.labels_used.to(W.device)] @ Mbar.T
    return etf_distance(WM, "W times the centred class means", messages)


def _usable_sets(s, messages):
    """Return :attr:`Summary.sets_by_size` (and say why), or None if undefined."""
    if not s.set_labels:
        messages.append(
            "Y has no sample with two or more labels, so the tag-wise "
            "average property (NCm, rho) is undefined: NaN / empty."
        )
        return None
    if s.mu.shape[0] == 0:
        messages.append(
            "No label has a mean (with label_means='singletons': no "
            "multiplicity-1 sample), so NCm and rho are undefined: NaN / empty."
        )
        return None
    groups, n_skipped = s.sets_by_size
    if n_skipped:
        messages.append(
            f"{n_skipped} of {len(s.set_labels)} label set(s) with two or more "
            "labels contain a label without a multiplicity-1 sample and are "
            "left out of NCm and rho."
        )
    return groups


def _around(s, center):
    """Origin, label offsets ``mu_k - o``, their Gram matrix and zero level."""
    origin = s.mu_G if center else torch.zeros_like(s.mu_G)
    offsets = s.mu - origin  # (K', d)
    gram = offsets @ offsets.T
    tol2 = _DEGENERATE_RTOL**2 * float(gram.diagonal().mean())
    return origin, offsets, gram, tol2


def rho_of(s, messages, *, center=True):
    """Least-squares scales rho_m of a summary; see :func:`sknc.metrics.rho`.

    Parameters
    ----------
    s : Summary
        The statistics.
    messages : list of str
        Where the reasons for an empty dict or a NaN go.
    center : bool, default=True
        Fit around the mean of the class means (else the origin).

    Returns
    -------
    rho : dict of int to float
        rho_m per multiplicity, sorted by ``m``.
    """
    groups = _usable_sets(s, messages)
    if groups is None:
        return {}
    anchor = s.fit.get("anchor", 1)
    if anchor != 1:
        messages.append(
            "No row of Y has a single label, so the data do not fix the scale "
            f"of the label means: they are fitted with rho_{anchor} = 1, and "
            f"the other rho_m are relative to multiplicity {anchor}."
        )
    origin, offsets, _, tol2 = _around(s, center)
    rho = {}
    for m, (rows, positions) in groups.items():
        members = torch.zeros(
            len(rows), offsets.shape[0], dtype=torch.bool, device=offsets.device
        )
        members.scatter_(1, positions, True)
        # the zero level is that of the sum of the m labels' offsets, whose
        # square is m^2 that of their average, which fit_rho tests
        value = fit_rho(
            members,
            s.set_means[rows] - origin,
            offsets,
            tol2 / m**2,
            weights=s.label_weights,
        )[m]
        if math.isnan(value):
            messages.append(
                f"rho for multiplicity {m} is undefined: the tag-wise "
                "average of every observed set of that size is zero (with "
                "center=True a set that contains every label averages to "
                "mu_G): NaN."
            )
        rho[m] = value
    return dict(sorted(rho.items()))


def rho_r2_of(s, rho, *, center=True):
    """Return R^2 of the tag-wise model with scales ``rho``.

    See :func:`sknc._tagwise.tagwise_r2`.

    Parameters
    ----------
    s : Summary
        The statistics.
    rho : dict of int to float
        The scales, as returned by :func:`rho_of`.
    center : bool, default=True
        Around the mean of the class means (else the origin).

    Returns
    -------
    r2 : dict of int to float
        Per multiplicity.
    overall : float
        Over all multiplicities; NaN without a usable set.
    """
    if not s.set_labels or s.mu.shape[0] == 0 or not rho:
        return {}, math.nan
    groups, _ = s.sets_by_size
    origin, offsets, _, _ = _around(s, center)
    blocks, rows_all = [], []
    for rows, positions in groups.values():
        block = torch.zeros(
            len(rows), offsets.shape[0], dtype=torch.bool, device=offsets.device
        )
        blocks.append(block.scatter_(1, positions, True))
        rows_all.append(rows)
    if not blocks:
        return {}, math.nan
    members = torch.cat(blocks)
    rows = torch.cat(rows_all)
    return tagwise_r2(
        members, s.set_means[rows] - origin, offsets, rho, weights=s.label_weights
    )


def _subset_pool(n_labels, m, n_random, rng, device):
    """Return indicator rows (float64) of the ``m``-subsets for the chance level.

    All ``m``-subsets of ``range(n_labels)`` when there are at most
    ``n_random`` of them, else ``n_random`` uniformly random ones.
    """
    if math.comb(n_labels, m) <= n_random:
        subsets = np.array(list(itertools.combinations(range(n_labels), m)))
    else:
        keys = rng.random_sample((n_random, n_labels))
        subsets = np.argpartition(keys, m - 1, axis=1)[:, :m]
    Z = np.zeros((len(subsets), n_labels))
    np.put_along_axis(Z, subsets, 1.0, axis=1)
    return torch.as_tensor(Z, device=device)


def ncm_of(s, messages, *, center=True, n_random=1000, random_state=None):
    """NCm of a summary; see :func:`sknc.metrics.ncm`.

    Parameters
    ----------
    s : Summary
        The statistics.
    messages : list of str
        Where the reasons for a NaN (or left-out sets) go.
    center : bool, default=True
        Measure the angles around the mean of the class means.
    n_random : int, default=1000
        Random label sets per size for the chance level.
    random_state : int, RandomState instance or None, default=None
        Seeds them.

    Returns
    -------
    ncm : float
        The value, or NaN.
    """
    groups = _usable_sets(s, messages)
    if groups is None:
        return math.nan
    origin, offsets, gram, tol2 = _around(s, center)
    n_used = offsets.shape[0]
    weights = s.label_weights
    if weights is not None:
        # scaled to mean 1, so that the zero level of the sums is unchanged
        weights = (weights / weights.mean()).to(offsets)
    rng = check_random_state(random_state)
    angle_sum, n_angles = 0.0, 0
    base_sum, n_base = 0.0, 0
    n_degenerate = 0
    for m, (rows, positions) in groups.items():
        # Chance level: the same angle with random label sets of size m, one
        # pool of them shared by all observed sets of that size.
        pool = _subset_pool(n_used, m, n_random, rng, offsets.device)  # (R, K')
        if weights is not None:  # the frequency-weighted direction
            pool = pool * weights
        pool_norm2 = ((pool @ gram) * pool).sum(dim=1)
        pool = pool[pool_norm2 > tol2]
        pool_norm = pool_norm2[pool_norm2 > tol2].sqrt()
        batch = max(1, BATCH_ELEMENTS // max(n_used, n_random))
        for b in range(0, len(rows), batch):
            C = s.set_means[rows[b : b + batch]] - origin  # (B, d): c_S
            G = C @ offsets.T  # (B, K'): <c_S, mu_k - origin>
            Z = torch.zeros_like(G).scatter_(1, positions[b : b + batch], 1.0)
            if weights is not None:
                Z = Z * weights
            # t_S = sum_{k in S} (mu_k - o), its squared norm from the Gram matrix
            norm2 = ((Z @ gram) * Z).sum(dim=1)
            c_norm = torch.linalg.vector_norm(C, dim=1)
            ok = (norm2 > tol2) & (c_norm**2 > tol2)
            n_degenerate += int((~ok).sum())
            if not ok.any():
                continue
            # atan2 of the parts along and across t_S: accurate for small
            # angles, where arccos of the cosine loses half the digits
            T = Z[ok] @ offsets
            unit = T / torch.linalg.vector_norm(T, dim=1, keepdim=True)
            along = (C[ok] * unit).sum(dim=1)
            across = torch.linalg.vector_norm(C[ok] - along[:, None] * unit, dim=1)
            angle_sum += float(torch.atan2(across, along).sum())
            n_angles += int(ok.sum())
            if len(pool):
                cos = (G[ok] @ pool.T) / (c_norm[ok, None] * pool_norm)
                base_sum += float(torch.arccos(cos.clamp(-1.0, 1.0)).sum())
                n_base += cos.numel()
    if n_degenerate:
        messages.append(
            f"{n_degenerate} label set(s) are left out of NCm because their "
            "mean or the sum of their labels' means is zero after centring "
            "(with center=True, a set that contains every label always is)."
        )
    # a chance level of (nearly) zero: every random set is the observed one
    if n_angles == 0 or n_base == 0 or base_sum <= _ZERO_ANGLE * n_base:
        messages.append("No label set gives a usable angle, so NCm is undefined: NaN.")
        return math.nan
    return (angle_sum / n_angles) / (base_sum / n_base)


# ----------------------------------------------------------------- registry


@dataclass(frozen=True)
class Metric:
    """A neural-collapse metric of the registry :data:`METRICS`.

    Parameters
    ----------
    name : str
        The key of the metric in the report and in the tracker's history,
        and the ``metric`` of :class:`~sknc.metrics.NeuralCollapseScorer`.
    kernel : callable
        ``kernel(s, messages, **options)`` computes the value from the
        summary ``s``; a metric that needs the head is given it after ``s``,
        ``kernel(s, W, messages, ...)``, and one of the head alone gets
        ``kernel(W, messages, ...)``. It appends to ``messages`` why the
        value is NaN.
    description : str
        What it measures, in one line.
    label : str
        Its name on a plot.
    needs_features : bool, default=True
        Whether it measures the features: False for a property of the head
        alone, which does not depend on the data.
    needs_head : bool, default=False
        Whether it needs the head ``W`` (float64, on the device of the
        summary).
    needs_sets : bool, default=False
        Whether it measures the label sets of two or more labels, so that it
        is undefined for class labels (one label per sample).
    options : tuple of str, default=()
        The keyword options of the kernel, among ``'geometry'``,
        ``'center'``, ``'n_random'`` and ``'random_state'``.
    scored : bool, default=True
        Whether it is one number that is 0 under collapse: a choice of the
        scorer, tracked and drawn by default. The scales ``rho`` are not.
    greater_is_better : bool, default=False
        The scorer's sign: False for a metric where lower is better, which
        a scorer negates (scikit-learn's scores are greater-is-better).
    order : int, default=0
        When it is computed among the metrics measured together, and so
        where its warnings come: by ``order``, then in registry order.
    """

    name: str
    kernel: Callable
    description: str
    label: str
    needs_features: bool = True
    needs_head: bool = False
    needs_sets: bool = False
    options: tuple = ()
    scored: bool = True
    greater_is_better: bool = False
    order: int = 0

    def compute(self, s, W, messages, **options):
        """Return the metric of summary ``s`` (None if unused) and head ``W``.

        Parameters
        ----------
        s : Summary or None
            The statistics of the features; None for a metric of the head
            alone.
        W : torch.Tensor of shape (n_labels, d) or None
            The checked head, float64; None if the metric does not need it.
        messages : list of str
            Where the reasons for a NaN go.
        **options : dict
            ``geometry``, ``center``, ``n_random``, ``random_state``: those
            of the kernel's :attr:`options` are passed on, others ignored.

        Returns
        -------
        value : float or dict
            What the kernel returns.
        """
        inputs = (s,) if self.needs_features else ()
        if self.needs_head:
            inputs += (W,)
        kwargs = {name: options[name] for name in self.options}
        return self.kernel(*inputs, messages, **kwargs)


METRICS = {
    metric.name: metric
    for metric in (
        Metric(
            "nc1",
            nc1_of,
            "Within-class variability relative to between-class variability.",
            "NC1",
        ),
        Metric(
            "nc2",
            nc2_of,
            "Distance of the head from a simplex ETF.",
            "NC2 (head)",
            needs_features=False,
            needs_head=True,
        ),
        Metric(
            "nc2_means",
            nc2_means_of,
            "Distance of the class means from their collapsed frame.",
            "NC2 (class means)",
            options=("geometry",),
        ),
        Metric(
            "nc3",
            nc3_of,
            "Self-duality of the head and the centred class means.",
            "NC3",
            needs_head=True,
        ),
        Metric(
            "ncm",
            ncm_of,
            "How well label-set means follow the tag-wise average rule.",
            "NCm",
            needs_sets=True,
            options=("center", "n_random", "random_state"),
            order=1,  # after rho, so that the warnings of rho come first
        ),
        Metric(
            "rho",
            rho_of,
            "Least-squares scale of the tag-wise average rule, per multiplicity.",
            "rho",
            needs_sets=True,
            options=("center",),
            scored=False,
        ),
    )
}
"""dict of str to Metric: the neural-collapse metrics, in report order."""

SCORED_METRICS = tuple(name for name, metric in METRICS.items() if metric.scored)
"""The metrics a scorer can choose, tracked and drawn by default."""

HEAD_METRICS = tuple(name for name, metric in METRICS.items() if metric.needs_head)
"""The metrics that need the head ``W``."""


def measure(s, W, names, messages, **options):
    """Compute the metrics ``names`` of the registry.

    Parameters
    ----------
    s : Summary or None
        The statistics of the features; None when every metric asked for is
        a property of the head alone.
    W : torch.Tensor of shape (n_labels, d) or None
        The checked head, float64, on the device of ``s``; None when no
        metric asked for needs it.
    names : collection of str
        Keys of :data:`METRICS`.
    messages : list of str
        Where the reasons for a NaN go, in the order of :attr:`Metric.order`.
    **options : dict
        ``geometry``, ``center``, ``n_random`` and ``random_state``, as the
        kernels take them.

    Returns
    -------
    values : dict
        ``{name: value}``, in registry order.
    """
    chosen = [metric for name, metric in METRICS.items() if name in names]
    values = {
        metric.name: metric.compute(s, W, messages, **options)
        for metric in sorted(chosen, key=attrgetter("order"))
    }
    return {metric.name: values[metric.name] for metric in chosen}


def report_of(
    s, W=None, *, n_random=1000, center=True, random_state=None, geometry="etf"
):
    """Every metric of a summary; see :func:`sknc.metrics.neural_collapse_report`.

    Parameters
    ----------
    s : Summary
        The statistics.
    W : array-like or torch.Tensor of shape (n_labels, n_features), default=None
        The head; without it ``"nc2"`` and ``"nc3"`` are absent.
    n_random : int, default=1000
        Random label sets per size for the chance level of NCm.
    center : bool, default=True
        Centre NCm and rho at the mean of the class means.
    random_state : int, RandomState instance or None, default=None
        Seeds the random label sets of NCm.
    geometry : {'etf', 'orthogonal'}, default='etf'
        The collapsed frame of ``"nc2_means"``.

    Returns
    -------
    report : dict
        The metrics and counts of :func:`sknc.metrics.neural_collapse_report`.
    messages : list of str
        The reasons for NaN values, to pass to :func:`emit_warnings`.
    """
    messages = list(s.messages)
    if W is not None:
        W = check_head(W, s.n_labels, s.n_features, s.mu.device)
    names = [name for name in METRICS if W is not None or name not in HEAD_METRICS]
    out = measure(
        s,
        W,
        names,
        messages,
        geometry=geometry,
        center=center,
        n_random=n_random,
        random_state=random_state,
    )
    out["rho_r2"], out["tagwise_r2"] = rho_r2_of(s, out["rho"], center=center)
    out.update(
        n_samples=s.n_samples,
        n_features=s.n_features,
        n_labels=s.n_labels,
        n_labels_used=int(s.mu.shape[0]),
        n_mult1=s.n_mult1,
        n_unlabeled=s.n_unlabeled,
        n_label_sets=len(s.set_labels),
        multiplicity_counts=s.multiplicity_counts,
        geometry=geometry,
        label_means=s.label_means,
        n_mean_rows=s.n_mean_rows,
        weighting=s.weighting,
    )
    return out, messages
