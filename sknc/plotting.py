r"""Figures of neural collapse (needs matplotlib: ``pip install -e ".[plot]"``).

- :func:`plot_nc_history`: the metrics recorded by
  :class:`~sknc.callbacks.NeuralCollapseTracker`, epoch by epoch;
- :func:`plot_feature_geometry`: a 2-D view of the class means of the
  multiplicity-1 samples (the vertices of a simplex ETF under collapse) and
  of the means of the label pairs next to their tag-wise averages
  :math:`(\mu_a + \mu_b)/2`;
- :func:`plot_label_report`: per label, its frequency against the norm of its
  classifier row and that row's largest cosine to another row (minority
  collapse), from :func:`sknc.metrics.label_report`.

matplotlib is imported when a function is called, not with this module.
"""

import math
import numbers

import numpy as np
import torch

from ._docstring import Substitution, metric_params
from ._warnings import warn
from .metrics._accumulator import accumulate
from .metrics._kernels import METRICS, SCORED_METRICS, emit_warnings, rho_of

__all__ = ["plot_nc_history", "plot_feature_geometry", "plot_label_report"]

_PREFIXES = {"": "-", "train_": "-", "valid_": "--"}


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "sknc.plotting needs matplotlib, which is not installed. Install "
            'it with `pip install -e ".[plot]"` from the root of the sknc '
            "checkout (or `pip install matplotlib`)."
        ) from exc
    return plt


def _get_ax(ax, **subplots_kw):
    if ax is None:
        _, ax = _pyplot().subplots(layout="constrained", **subplots_kw)
    else:
        _pyplot()
    return ax


def _history_rows(net_or_history):
    history = net_or_history
    for attr in ("history_", "history"):
        if not isinstance(history, (list, tuple)) and hasattr(history, attr):
            history = getattr(history, attr)
    if not isinstance(history, (list, tuple)):
        raise TypeError(
            "net_or_history must be a skorch net (or sknc estimator) or its "
            f"history, a list of per-epoch dicts; got {type(history).__name__}."
        )
    return list(history)


def _series(rows, key):
    """Epochs and values of ``key`` in the rows that have it."""
    epochs, values = [], []
    for i, row in enumerate(rows, start=1):
        if key in row and isinstance(row[key], numbers.Real):
            epochs.append(row.get("epoch", i))
            values.append(float(row[key]))
    return np.asarray(epochs), np.asarray(values, dtype=float)


def _of_head(metric):
    """Whether ``metric`` is a property of the head alone (NC2)."""
    return metric in METRICS and not METRICS[metric].needs_features


def _constant(values, tol=1e-6):
    finite = values[np.isfinite(values)]
    return finite.size == 0 or finite.max() - finite.min() < tol


def plot_nc_history(net_or_history, metrics=None, ax=None, *, log_scale=True):
    """Plot neural-collapse metrics over the epochs of training.

    Draws the curves recorded by :class:`~sknc.callbacks.NeuralCollapseTracker`:
    one colour per metric, solid for the training data (and for ``nc2``, a
    property of the head alone), dashed for the validation data.

    Parameters
    ----------
    net_or_history : skorch net or skorch.History or list of dict
        A net fitted with a :class:`~sknc.callbacks.NeuralCollapseTracker`
        callback (an sknc estimator), or its ``history``.
    metrics : sequence of str, default=None
        Metrics to draw, among those recorded: ``'nc1'``, ``'nc2'``,
        ``'nc2_means'``, ``'nc3'``, ``'ncm'``, or a recorded key without its
        ``train_``/``valid_`` prefix such as ``'rho_2'``. None draws every
        recorded metric of ``('nc1', 'nc2', 'nc2_means', 'nc3', 'ncm')``,
        leaving out ``nc2`` when it does not change (a fixed ETF head).
    ax : matplotlib Axes, default=None
        Axes to draw on; None creates a new figure.
    log_scale : bool, default=True
        Logarithmic y axis (the metrics go to 0). Values that are not
        positive cannot be shown on it; a curve without any positive value
        is left out with a warning.

    Returns
    -------
    ax : matplotlib Axes
        The axes, with one line per drawn curve, labelled like
        ``'NC1 (train)'``, and a legend.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sknc.plotting import plot_nc_history
    >>> history = [{"epoch": e, "train_nc1": 1.0 / e, "valid_nc1": 2.0 / e}
    ...            for e in range(1, 6)]
    >>> ax = plot_nc_history(history)
    >>> [line.get_label() for line in ax.get_lines()]
    ['NC1 (train)', 'NC1 (valid)']
    """
    rows = _history_rows(net_or_history)
    explicit = metrics is not None
    if metrics is None:
        metrics = SCORED_METRICS
    elif isinstance(metrics, str):
        metrics = (metrics,)
    curves = []  # (metric, prefix, epochs, values)
    for metric in metrics:
        for prefix in _PREFIXES:
            epochs, values = _series(rows, prefix + metric)
            if len(epochs):
                curves.append((metric, prefix, epochs, values))
    if not explicit:  # a fixed head's NC2 is a flat line: leave it out
        curves = [c for c in curves if not (_of_head(c[0]) and _constant(c[3]))]
    if not curves:
        raise ValueError(
            f"No neural-collapse metric among {list(metrics)} was found in the "
            "history. Fit the net with callbacks=[sknc.callbacks."
            "NeuralCollapseTracker()] to record them."
        )
    ax = _get_ax(ax, figsize=(8, 4.5))
    colors = {}
    for metric, prefix, epochs, values in curves:
        if np.isnan(values).all():
            warn(
                f"{prefix}{metric} is NaN at every recorded epoch: the metric "
                "is undefined on these data (the NeuralCollapseWarning raised "
                "while it was recorded says why, e.g. no label set with two or "
                "more labels for NCm); it is left out.",
                UserWarning,
            )
            continue
        if log_scale and not (values > 0).any():
            warn(
                f"{prefix}{metric} has no positive value and cannot be drawn on "
                "a log scale; it is left out. Pass log_scale=False to see it.",
                UserWarning,
            )
            continue
        color = colors.setdefault(metric, f"C{len(colors) % 10}")
        name = METRICS[metric].label if metric in METRICS else metric
        label = f"{name} ({prefix.rstrip('_')})" if prefix else name
        ax.plot(
            epochs,
            values,
            linestyle=_PREFIXES[prefix],
            marker="o" if len(epochs) <= 30 else None,
            markersize=3,
            color=color,
            label=label,
        )
    if log_scale:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("metric value" + (" (log scale)" if log_scale else ""))
    ax.set_title("Neural collapse during training")
    # outside the axes, on the right: the curves fill the whole plot
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(True, which="major", alpha=0.3)
    return ax


# ----------------------------------------------------------------------------
# Feature geometry
# ----------------------------------------------------------------------------


def _orthonormal_plane(vectors, fallback):
    """Orthonormal (d, 2) basis of ``span(vectors)``, completed from ``fallback``.

    ``vectors`` and ``fallback`` are (d, k) float64 arrays; directions are taken
    in order, and a direction with a negligible residual is skipped.
    """
    d = vectors.shape[0]
    basis = []
    scale = max(np.linalg.norm(vectors, axis=0).max(initial=0.0), 1e-300)
    for v in np.concatenate([vectors, fallback], axis=1).T:
        r = v - sum((b @ v) * b for b in basis) if basis else v.copy()
        if np.linalg.norm(r) > 1e-8 * scale:
            basis.append(r / np.linalg.norm(r))
        if len(basis) == 2:
            break
    while len(basis) < 2:  # d == 1, or everything coincides
        e = np.zeros(d)
        if len(basis) < d:
            e[len(basis)] = 1.0
            e -= sum((b @ e) * b for b in basis) if basis else 0.0
            basis.append(e / np.linalg.norm(e))
        else:
            basis.append(e)  # a flat second axis in 1-D
    return np.stack(basis, axis=1)


@Substitution(**metric_params())
def plot_feature_geometry(
    H,
    Y,
    ax=None,
    *,
    projection="polygon",
    label_names=None,
    show_samples=False,
    annotate_pairs=None,
    max_pairs=10,
    label_means="auto",
):
    r"""Plot the class means and the label-pair means in a 2-D projection.

    A picture of multi-label neural collapse in the style of Fig. 1 of
    *Neural collapse in multi-label learning with pick-all-label loss*
    (Li et al., 2024): the means :math:`\mu_k` of the multiplicity-1
    samples of each label (the vertices of a simplex ETF under collapse),
    the mean :math:`\mu_{\{a,b\}}` of every observed label pair, and the
    pair's tag-wise average :math:`(\mu_a + \mu_b)/2`, the midpoint of the
    edge between its two vertices. Under collapse each pair mean sits on
    the ray from the centre :math:`\mu_G` through that midpoint, at
    :math:`\rho_2` times its distance (:func:`sknc.metrics.rho`); a short
    line joins each midpoint to its pair mean.

    Everything is centred at :math:`\mu_G`, the mean of the class means, and
    projected linearly onto a plane, so a tag-wise average in the plane is
    still the midpoint of its two projected vertices and the scale
    :math:`\rho_2` is the same as in feature space. The plane:

    - ``'polygon'`` (default): spanned by :math:`\sum_k \cos(2\pi k/K)\,
      (\mu_k - \mu_G)` and :math:`\sum_k \sin(2\pi k/K)\,(\mu_k - \mu_G)`.
      A simplex ETF of any size ``K`` projects onto a regular ``K``-gon
      with the labels in order around it (its Petrie polygon), so the
      picture reads the same for 3 labels or 20;
    - ``'svd'``: the best-fitting plane of the centred class means (their
      two leading right singular vectors). It keeps most of their spread,
      but for a collapsed simplex every plane fits equally well and the
      view is arbitrary.

    Parameters
    ----------
    H : array-like or torch.Tensor of shape (n_samples, n_features)
        Features, e.g. ``clf.transform(X_train)``.
    Y : array-like or sparse matrix of shape (n_samples, n_labels)
        0/1 label indicator. Only samples with one or two labels are drawn.
    ax : matplotlib Axes, default=None
        Axes to draw on; None creates a new figure.
    projection : {'polygon', 'svd'}, default='polygon'
        The plane to project onto (see above).
    label_names : sequence of str, default=None
        Names of the ``n_labels`` labels; default ``0, 1, ...``.
    show_samples : bool, default=False
        Also scatter the projected multiplicity-1 samples, coloured by label
        (their spread around the vertices is what NC1 measures).
    annotate_pairs : bool, default=None
        Write each pair's labels next to its mean; None does it when at most
        10 pairs are drawn.
    max_pairs : int or None, default=10
        Draw at most this many pairs: those with the most samples, whose
        means are the most reliable (with 10 labels there can be 45 pairs,
        too many to read). None draws every observed pair. :math:`\rho_2`
        in the legend is fitted on all of them either way.
    {label_means}

    Returns
    -------
    ax : matplotlib Axes
        The axes. Its collections are, in order: the samples (with
        ``show_samples=True``), the edges of the observed pairs, the
        midpoint-to-pair-mean links, the class means, the tag-wise averages
        and the pair means; each vertex has a text label. With fewer than
        two class means there is nothing to project: the axes hold only a
        text that says why, and a ``UserWarning`` repeats it.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sknc import simplex_etf
    >>> from sknc.plotting import plot_feature_geometry
    >>> means = simplex_etf(3, 3, random_state=0)
    >>> Y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1],
    ...               [1, 1, 0], [0, 1, 1], [1, 0, 1]])
    >>> H = Y @ means  # pairs: twice their tag-wise average (rho_2 = 2)
    >>> ax = plot_feature_geometry(H, Y)
    >>> len(ax.collections)  # edges, links, class means, midpoints, pair means
    5
    >>> ax.collections[-1].get_label()
    'pair means (2 labels), $\\rho_2$ = 2.00'
    """
    if projection not in ("polygon", "svd"):
        raise ValueError(
            f"projection must be 'polygon' or 'svd'; got projection={projection!r}."
        )
    if max_pairs is not None and not (
        isinstance(max_pairs, numbers.Integral)
        and not isinstance(max_pairs, bool)
        and max_pairs >= 1
    ):
        raise ValueError(
            f"max_pairs must be an int >= 1 or None; got max_pairs={max_pairs!r}."
        )
    s = accumulate(H, Y).summary(label_means)
    messages = list(s.messages)
    rho = rho_of(s, messages, center=True)
    emit_warnings(messages)
    K = s.n_labels
    names = [str(k) for k in range(K)] if label_names is None else list(label_names)
    if len(names) != K:
        raise ValueError(
            f"label_names has {len(names)} names but Y has {K} labels (columns)."
        )
    used = s.labels_used.cpu().numpy()
    if len(used) < 2:
        # nothing to project: say why on the axes instead of failing
        why = (
            "multiplicity-1 sample (label_means='singletons')"
            if s.label_means == "singletons"
            else "row"
        )
        message = (
            "plot_feature_geometry needs the class means of at least 2 labels, "
            f"but only {len(used)} label(s) have a {why}."
        )
        warn(message, UserWarning)
        ax = _get_ax(ax, figsize=(6.5, 6))
        ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
        ax.set_axis_off()
        return ax
    mu = s.mu.cpu().numpy()
    mu_G = s.mu_G.cpu().numpy()
    Mbar = mu - mu_G  # (K', d)
    pairs = [(i, labels) for i, labels in enumerate(s.set_labels) if len(labels) == 2]
    position = {int(k): i for i, k in enumerate(used)}
    pairs = [(i, ab) for i, ab in pairs if all(k in position for k in ab)]
    n_pairs = len(pairs)
    if max_pairs is not None and n_pairs > max_pairs:
        counts = s.set_counts.cpu().numpy()
        # the most frequent pairs, in their original order
        keep = sorted(sorted(pairs, key=lambda p: -counts[p[0]])[:max_pairs])
        pairs = keep
    set_means = s.set_means.cpu().numpy()
    pair_centred = (
        set_means[[i for i, _ in pairs]] - mu_G
        if pairs
        else np.zeros((0, Mbar.shape[1]))
    )
    _, _, Vt = np.linalg.svd(np.concatenate([Mbar, pair_centred]), full_matrices=False)
    if projection == "polygon":
        angles = 2 * math.pi * np.arange(len(used)) / len(used)
        directions = Mbar.T @ np.stack([np.cos(angles), np.sin(angles)], axis=1)
    else:
        _, _, Vt_means = np.linalg.svd(Mbar, full_matrices=False)
        directions = Vt_means[:2].T
    Q = _orthonormal_plane(directions, Vt.T)
    P = Mbar @ Q  # (K', 2) vertices
    pair_xy = pair_centred @ Q
    mid_xy = np.array([(P[position[a]] + P[position[b]]) / 2 for _, (a, b) in pairs])
    mid_xy = mid_xy.reshape(-1, 2)

    plt = _pyplot()
    from matplotlib.collections import LineCollection

    ax = _get_ax(ax, figsize=(6.5, 6))
    cmap = plt.get_cmap("tab10" if len(used) <= 10 else "tab20")
    colors = [cmap(i % cmap.N) for i in range(len(used))]
    if show_samples:
        H_np = H.detach().cpu().numpy() if isinstance(H, torch.Tensor) else H
        H_np = np.asarray(H_np.toarray() if hasattr(H_np, "toarray") else H_np)
        Y_np = Y.detach().cpu().numpy() if isinstance(Y, torch.Tensor) else Y
        Y_np = np.asarray(Y_np.toarray() if hasattr(Y_np, "toarray") else Y_np)
        single = Y_np.sum(axis=1) == 1
        xy = (H_np[single].astype(float) - mu_G) @ Q
        which = [position[k] for k in Y_np[single].argmax(axis=1)]
        ax.scatter(
            xy[:, 0],
            xy[:, 1],
            s=6,
            c=[colors[i] for i in which],
            alpha=0.25,
            linewidths=0,
            label="samples (1 label)",
        )
    edges = [[P[position[a]], P[position[b]]] for _, (a, b) in pairs]
    ax.add_collection(
        LineCollection(
            edges, colors="0.6", linewidths=0.6, alpha=0.6, label="edges of the pairs"
        )
    )
    links = [[m, p] for m, p in zip(mid_xy, pair_xy, strict=True)]
    ax.add_collection(
        LineCollection(
            links, colors="C3", linewidths=0.8, alpha=0.7, label="_midpoint to mean"
        )
    )
    ax.scatter(
        P[:, 0],
        P[:, 1],
        s=70,
        c=colors,
        edgecolors="black",
        zorder=3,
        label="class means (1 label)",
    )
    ax.scatter(
        mid_xy[:, 0],
        mid_xy[:, 1],
        s=18,
        facecolors="none",
        edgecolors="0.3",
        zorder=3,
        label=r"$(\mu_a+\mu_b)/2$",
    )
    rho2 = rho.get(2, math.nan)
    shown = f"{len(pairs)} most frequent of {n_pairs}" if len(pairs) < n_pairs else ""
    ax.scatter(
        pair_xy[:, 0],
        pair_xy[:, 1],
        s=18,
        marker="s",
        c="C3",
        zorder=4,
        label=rf"pair means (2 labels), $\rho_2$ = {rho2:.2f}"
        + (f"\n{shown} pairs shown" if shown else ""),
    )
    ax.plot([0], [0], marker="+", color="black", markersize=10, linestyle="none")
    radius = np.linalg.norm(P, axis=1).max()
    label_xy = []
    for i, k in enumerate(used):
        direction = P[i] / max(np.linalg.norm(P[i]), 1e-12 * max(radius, 1e-300))
        x, y = P[i] + 0.08 * radius * direction
        label_xy.append((x, y))
        ax.annotate(
            names[k], (x, y), ha="center", va="center", fontsize=9, fontweight="bold"
        )
    ax.update_datalim(label_xy)  # an annotation outside the limits is not drawn
    if annotate_pairs is None:
        annotate_pairs = len(pairs) <= 10
    if annotate_pairs:
        for (_, (a, b)), (x, y) in zip(pairs, pair_xy, strict=True):
            ax.annotate(
                f"{names[a]},{names[b]}",
                (x, y),
                fontsize=7,
                color="C3",
                xytext=(3, 3),
                textcoords="offset points",
            )
    ax.set_aspect("equal", adjustable="datalim")
    ax.autoscale_view()
    ax.set_xlabel("projection axis 1")
    ax.set_ylabel("projection axis 2")
    what = "regular-polygon" if projection == "polygon" else "best-fitting (SVD)"
    ax.set_title(f"Class and pair means, {what} projection")
    # below the axes: inside, it would hide vertices wherever it goes
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2)
    return ax


# ----------------------------------------------------------------------------
# Label report
# ----------------------------------------------------------------------------


def _report_item(report, key, default=None):
    """Return a column or a scalar of a label report (Bunch or DataFrame)."""
    attrs = getattr(report, "attrs", None)
    if isinstance(attrs, dict) and key in attrs:
        return attrs[key]
    try:
        value = report[key]
    except (KeyError, TypeError, IndexError):
        return default
    return value.to_numpy() if hasattr(value, "to_numpy") else value


def _frequency_axis(panel, x):
    """Log-scaled label frequencies, with ticks as plain numbers (0.15)."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    panel.set_xscale("log")
    panel.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    # within one decade the minor ticks are the only ones: label them too
    narrow = x.max() < 10 * x.min()
    panel.xaxis.set_minor_formatter(
        FuncFormatter(lambda v, _: f"{v:.3g}") if narrow else NullFormatter()
    )
    panel.set_xlabel("label frequency (fraction of rows, log scale)")


def _nearest_index(nearest, names):
    """Label indices of a ``nearest`` column (indices, or names in a frame)."""
    nearest = np.asarray(nearest)
    if nearest.dtype.kind in "iu":
        return nearest
    position = {name: k for k, name in enumerate(names.tolist())}
    return np.array([position.get(n, -1) for n in nearest.tolist()], dtype=np.int64)


def plot_label_report(report, ax=None, *, which="auto", annotate=None):
    r"""Plot each label's frequency against its row norm and largest cosine.

    Two panels share a logarithmic frequency axis (the fraction of rows that
    contain the label): on the left the norm of the label's classifier row
    :math:`\|w_k\|`, on the right the largest cosine of :math:`w_k` to
    another label's row, with the collapse threshold (dashed) and the value
    of a simplex ETF, :math:`-1/(K-1)` (dotted). Minority collapse [1]_
    shows as rare labels (on the left) with small norms and cosines near 1;
    the labels flagged ``collapsed`` are drawn as red crosses and named.
    Labels that never occur in the data cannot sit on a log axis: they are
    drawn with hollow markers at the left edge.

    When every row has the same norm (a normalised head, PALClassifier's
    default, or a fixed ETF head), the norm says nothing: the left panel
    shows instead the fraction of each label's rows that also contain its
    nearest label, which tells a redundant pair (labels that occur
    together) from a collapsed one.

    Parameters
    ----------
    report : Bunch or pandas.DataFrame
        The output of :func:`sknc.metrics.label_report` or
        :func:`~sknc.metrics.label_report_from_estimator`.
    ax : sequence of two matplotlib Axes, default=None
        The axes of the two panels; None creates a new figure.
    which : {'auto', 'head', 'means'}, default='auto'
        ``'head'``: the classifier rows (``weight_norm``, ``max_cosine``,
        ``collapsed``); ``'means'``: the labels' centred feature means
        (``mean_norm``, ``mean_max_cosine``; a fixed ETF head cannot
        collapse, its features can), with the labels above the threshold
        marked; ``'auto'``: the head when the report has it.
    annotate : bool, default=None
        Write the names of the marked labels (with the label they are
        nearest to); None does it when at most 12 are marked.

    Returns
    -------
    axes : ndarray of matplotlib Axes of shape (2,)
        The norm panel (or the co-occurrence panel, see above) and the
        cosine panel. In each, the collections are the labels that occur,
        the labels that never occur (only when there are some) and the
        marked labels, in this order.

    References
    ----------
    .. [1] C. Fang, H. He, Q. Long and W. J. Su, "Exploring deep neural
       networks via layer-peeled model: Minority collapse in imbalanced
       training", PNAS 118 (43), 2021.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sknc.metrics import label_report
    >>> from sknc.plotting import plot_label_report
    >>> Y = np.array([[1, 0, 0, 0]] * 45 + [[0, 1, 0, 0]] * 45
    ...              + [[0, 0, 1, 0]] * 5 + [[0, 0, 0, 1]] * 5)
    >>> W = np.array([[3.0, 0.0, 0.0], [0.0, 3.0, 0.0],
    ...               [0.3, 0.3, 1.0], [0.3, 0.2, 1.0]])
    >>> axes = plot_label_report(label_report(Y @ W, Y, W))
    >>> [ax.get_xscale() for ax in axes]
    ['log', 'log']
    >>> axes[1].collections[-1].get_label()
    'collapsed (cos > 0.9): 2'
    """
    if which not in ("auto", "head", "means"):
        raise ValueError(
            f"which must be 'auto', 'head' or 'means'; got which={which!r}."
        )
    frequency = _report_item(report, "frequency")
    if frequency is None:
        raise TypeError(
            "report must be the output of sknc.metrics.label_report (a Bunch "
            "or a DataFrame with a 'frequency' column); got "
            f"{type(report).__name__}."
        )
    has_head = _report_item(report, "max_cosine") is not None
    if which == "auto":
        which = "head" if has_head else "means"
    if which == "head" and not has_head:
        raise ValueError(
            "which='head' needs the head columns, but the report was made "
            "without W. Pass W to label_report (or use "
            "label_report_from_estimator), or use which='means'."
        )
    frequency = np.asarray(frequency, dtype=float)
    K = len(frequency)
    names = np.asarray(_report_item(report, "label", np.arange(K)))
    threshold = float(_report_item(report, "threshold", 0.9))
    if which == "head":
        norm = np.asarray(_report_item(report, "weight_norm"), dtype=float)
        cooccurrence = _report_item(report, "nearest_cooccurrence")
        cosine = np.asarray(_report_item(report, "max_cosine"), dtype=float)
        nearest = _nearest_index(_report_item(report, "nearest"), names)
        marked = np.asarray(_report_item(report, "collapsed"), dtype=bool)
        norm_label = r"row norm $\|w_k\|$"
        cos_label = "largest cosine to another row"
        mark_label = f"collapsed (cos > {threshold:g})"
        title = "Classifier rows"
    else:
        norm = np.asarray(_report_item(report, "mean_norm"), dtype=float)
        cooccurrence = _report_item(report, "mean_nearest_cooccurrence")
        cosine = np.asarray(_report_item(report, "mean_max_cosine"), dtype=float)
        nearest = _nearest_index(_report_item(report, "mean_nearest"), names)
        with np.errstate(invalid="ignore"):
            marked = cosine > threshold
        norm_label = r"centred mean norm $\|\nu_k - \nu_G\|$"
        cos_label = "largest cosine to another label's mean"
        mark_label = f"cos > {threshold:g}"
        title = "Feature means"
    present = frequency > 0
    if not present.any():
        raise ValueError("No label occurs in the data of the report: nothing to plot.")

    plt = _pyplot()
    if ax is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
    else:
        axes = [ax] if hasattr(ax, "plot") else list(np.ravel(ax))
        if len(axes) != 2:
            raise ValueError(
                "ax must be a sequence of two Axes (the norm and the cosine "
                f"panels); got {len(axes)}."
            )
    axes = np.asarray(axes, dtype=object)

    x = frequency.copy()
    x[~present] = frequency[present].min() / 2.0  # never in Y: left edge
    if annotate is None:
        annotate = marked.sum() <= 12
    finite = norm[np.isfinite(norm)]
    flat = finite.size and np.ptp(finite) <= 1e-6 * max(np.abs(finite).max(), 1e-300)
    left_title = f"{title}: norm"
    if flat and cooccurrence is not None:
        # every row has the same norm (a normalised or fixed head): show
        # what tells a redundant pair from a collapsed one instead
        norm = np.asarray(cooccurrence, dtype=float)
        norm_label = "fraction of its rows that also\nhold its nearest label"
        left_title = f"{title}: co-occurrence with the nearest label"
    for panel, y, ylabel in ((axes[0], norm, norm_label), (axes[1], cosine, cos_label)):
        shown = ~marked & present
        panel.scatter(
            x[shown],
            y[shown],
            s=22,
            color="C0",
            alpha=0.7,
            linewidths=0,
            # "_": no legend entry when every label is marked
            label=f"{'' if shown.any() else '_'}labels ({int(shown.sum())})",
        )
        if (~present).any():
            panel.scatter(
                x[~present],
                y[~present],
                s=22,
                facecolors="none",
                edgecolors="0.4",
                label=f"never in Y ({int((~present).sum())}), at the left edge",
            )
        panel.scatter(
            x[marked],
            y[marked],
            s=45,
            marker="X",
            color="C3",
            zorder=3,
            label=f"{mark_label}: {int(marked.sum())}",
        )
        _frequency_axis(panel, x)
        panel.set_ylabel(ylabel)
        panel.grid(True, which="major", alpha=0.3)
    norm_ax = axes[0]
    norm_ax.ticklabel_format(axis="y", useOffset=False)
    if flat and cooccurrence is not None:
        norm_ax.set_ylim(-0.05, 1.05)
        norm_ax.annotate(
            f"(every row has the norm {float(finite.mean()):.3g}:\n"
            "a normalised or fixed head)",
            (0.98, 0.98),
            xycoords="axes fraction",
            ha="right",
            va="top",
            fontsize=8,
            color="0.4",
        )
    elif flat:
        value = float(finite.mean())
        norm_ax.set_ylim(0.9 * value - 1e-12, 1.1 * value + 1e-12)
    cos_ax = axes[1]
    cos_ax.axhline(threshold, color="C3", linestyle="--", linewidth=1)
    low = np.nanmin(cosine) if np.isfinite(cosine).any() else 0.0
    bottom = min(-0.1, low - 0.05)
    if K > 1:
        etf = -1.0 / (K - 1)
        bottom = min(bottom, etf - 0.08)  # the line and its text inside
        cos_ax.axhline(etf, color="0.4", linestyle=":", linewidth=1)
        cos_ax.annotate(
            "simplex ETF",
            (0.0, etf),
            xycoords=("axes fraction", "data"),
            xytext=(3, 3),
            textcoords="offset points",
            fontsize=8,
            color="0.4",
        )
    cos_ax.set_ylim(bottom, 1.05)
    if annotate:
        # staggered below the threshold line, left to right, each joined to
        # its marker: collapsed labels sit close together
        order = np.nonzero(marked)[0]
        order = order[np.argsort(x[order], kind="stable")]
        log_x = np.log(x)
        middle = (log_x.min() + log_x.max()) / 2
        for i, k in enumerate(order):
            text = str(names[k])
            if nearest[k] >= 0:
                text += f" \N{RIGHTWARDS ARROW} {names[nearest[k]]}"
            # right of the middle the text goes to the left: inside the axes
            right = log_x[k] > middle
            cos_ax.annotate(
                text,
                (x[k], cosine[k]),
                xytext=(-8 if right else 8, -22 - 11 * (i % 6)),
                textcoords="offset points",
                ha="right" if right else "left",
                fontsize=7,
                color="C3",
                arrowprops={"arrowstyle": "-", "color": "C3", "lw": 0.5, "alpha": 0.6},
            )
    axes[0].set_title(left_title)
    axes[1].set_title(f"{title}: largest cosine")
    axes[1].legend(fontsize="small", loc="best")
    return axes
