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


_VALID_NC1_NOTE = (
    "Validation NC1 is far above training NC1: "
    r"NC1 = tr$(\Sigma_W \Sigma_B^{+})/K$ divides the spread around the"
    "\nlabel means by their between-class covariance, which on a small "
    "validation set (few rows per label,\nor per label set when the means "
    "are fitted to all rows) has nearly zero directions that its\n"
    "pseudo-inverse magnifies; training NC1, NC3 and NCm are the curves to read."
)


def _valid_nc1_far_above(curves, factor=10.0):
    """Whether the validation NC1 is ``factor`` times the training one or more."""
    nc1 = {prefix: values for metric, prefix, _, values in curves if metric == "nc1"}
    train, valid = nc1.get("train_", nc1.get("")), nc1.get("valid_")
    if train is None or valid is None:
        return False
    train, valid = train[np.isfinite(train)], valid[np.isfinite(valid)]
    if not (train.size and valid.size):
        return False
    return bool(np.median(valid) > factor * max(np.median(train), 1e-300))


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
    if _valid_nc1_far_above(curves):
        ax.annotate(
            _VALID_NC1_NOTE,
            (0.0, 0.0),
            xycoords="axes fraction",
            xytext=(0, -36),
            textcoords="offset points",
            ha="left",
            va="top",
            fontsize=8,
            color="0.3",
        )
    return ax


# ----------------------------------------------------------------------------
# Labels that do not overlap
# ----------------------------------------------------------------------------


def _renderer(fig):
    """Lay ``fig`` out as it will be drawn and return a renderer to measure text."""
    fig.draw_without_rendering()
    get = getattr(fig.canvas, "get_renderer", None)
    return get() if get is not None else fig._get_renderer()


def _marker_boxes(ax, xy, size_points):
    """Display boxes ``(n, 4)`` (x0, y0, x1, y1) of markers at data points ``xy``."""
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    p = ax.transData.transform(xy) if len(xy) else np.zeros((0, 2))
    half = size_points * ax.figure.dpi / 72.0 / 2.0
    return np.concatenate([p - half, p + half], axis=1)


def _text_extent(text, renderer=None):
    """Display box of a text without its arrow (an Annotation's includes it)."""
    from matplotlib.text import Text

    if renderer is None:
        renderer = _renderer(text.figure)
    if hasattr(text, "update_positions"):
        text.update_positions(renderer)  # an Annotation places its text here
    return Text.get_window_extent(text, renderer)


def _overlap(box, boxes):
    """Area of ``box`` (4,) inside each of ``boxes`` (n, 4), summed."""
    if not len(boxes):
        return 0.0
    w = np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0])
    h = np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1])
    return float((np.clip(w, 0, None) * np.clip(h, 0, None)).sum())


def _place_labels(
    ax,
    anchors,
    texts,
    *,
    angles=None,
    obstacles=None,
    optional=None,
    arrow_color="0.4",
    **text_kw,
):
    r"""Annotate data points with texts that do not overlap, placed greedily.

    Each text, in the order given, tries positions around its anchor (16
    directions at 5 distances, in points, so the result does not depend on
    the data scale) and takes the cheapest: overlap with the texts already
    placed, with ``obstacles`` and with the outside of the axes costs far
    more than distance, and distance more than turning away from the
    preferred direction ``angles``. A text away from its point is joined to
    it by a thin line. The figure is laid out first (``draw_without_rendering``),
    so call this after everything else is on the axes.

    Parameters
    ----------
    ax : matplotlib Axes
        The axes.
    anchors : array-like of shape (n, 2)
        The annotated points, in data coordinates.
    texts : sequence of str
        One text per anchor.
    angles : array-like of shape (n,), default=None
        Preferred direction of each text from its point, in radians;
        None: up and to the right.
    obstacles : ndarray of shape (m, 4), default=None
        Display boxes (x0, y0, x1, y1) the texts should not cover (markers,
        the legend).
    optional : array-like of bool of shape (n,), default=None
        Texts left out when every position overlaps something.
    arrow_color : color, default='0.4'
        Colour of the lines that join a text to its point.
    **text_kw
        Passed to :meth:`~matplotlib.axes.Axes.annotate`.

    Returns
    -------
    annotations : list of matplotlib.text.Annotation
        The texts placed (without those left out).
    """
    n = len(texts)
    if not n:
        return []
    anchors = np.asarray(anchors, dtype=float).reshape(-1, 2)
    angles = np.full(n, math.pi / 4) if angles is None else np.asarray(angles, float)
    optional = np.zeros(n, bool) if optional is None else np.asarray(optional, bool)
    obstacles = np.zeros((0, 4)) if obstacles is None else np.asarray(obstacles)
    renderer = _renderer(ax.figure)
    scale = ax.figure.dpi / 72.0  # pixels per point
    frame = np.array([ax.get_window_extent(renderer).extents])
    pad = 1.5 * scale
    base = 6.0
    turns = np.array([0, 1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 6, -6, 7, -7, 8]) * (
        math.pi / 8
    )
    radii = base * np.array([1.0, 2.0, 3.5, 5.5, 8.0])
    placed_boxes = np.zeros((0, 4))
    placed = []
    for i in range(n):
        probe = ax.annotate(
            texts[i], anchors[i], xytext=(0, 0), textcoords="offset points", **text_kw
        )
        extent = probe.get_window_extent(renderer)
        probe.remove()
        w, h = extent.width, extent.height
        px, py = ax.transData.transform(anchors[i])
        best = None
        for r in radii:
            for turn in turns:
                a = angles[i] + turn
                ux, uy = math.cos(a), math.sin(a)
                ha = "left" if ux > 0.3 else "right" if ux < -0.3 else "center"
                va = "bottom" if uy > 0.3 else "top" if uy < -0.3 else "center"
                x0 = px + r * ux * scale - {"left": 0, "right": w, "center": w / 2}[ha]
                y0 = py + r * uy * scale - {"bottom": 0, "top": h, "center": h / 2}[va]
                box = np.array([x0 - pad, y0 - pad, x0 + w + pad, y0 + h + pad])
                area = (box[2] - box[0]) * (box[3] - box[1])
                clash = (
                    _overlap(box, placed_boxes)
                    + _overlap(box, obstacles)
                    + area
                    - _overlap(box, frame)
                )
                cost = 1e3 * clash + r + 2.0 * abs(turn)
                if best is None or cost < best[0]:
                    best = (cost, clash, r, (r * ux, r * uy), ha, va, box)
            if best[1] == 0:
                break  # free at this distance: farther is never cheaper
        _, clash, r, offset, ha, va, box = best
        if clash > 0 and optional[i]:
            continue
        arrow = None
        if r > radii[0]:  # away from its point: a thin line joins them
            arrow = {
                "arrowstyle": "-",
                "color": arrow_color,
                "lw": 0.5,
                "alpha": 0.7,
                "shrinkA": 1,
                "shrinkB": 3,
            }
        text = ax.annotate(
            texts[i],
            anchors[i],
            xytext=offset,
            textcoords="offset points",
            ha=ha,
            va=va,
            arrowprops=arrow,
            **text_kw,
        )
        placed_boxes = np.concatenate([placed_boxes, box[None]])
        placed.append(text)
    return placed


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
    show_samples : bool or {'singletons', 'sets'}, default=False
        Also scatter the projected samples behind the means drawn:

        - ``'singletons'``: the multiplicity-1 rows, coloured by label (their
          spread around the vertices is what NC1 measures);
        - ``'sets'``: those and the rows of the pairs drawn (red squares),
          whose spread around the pair means is part of what NC1 measures
          when the class means are fitted to all rows;
        - True: ``'singletons'`` when the class means are the means of the
          multiplicity-1 rows, ``'sets'`` when they are fitted to all rows
          (``label_means``). On yeast, whose 24 single-label training rows
          all have the same label, True draws those 24 rows and the 254 rows
          of its 2-label sets.
    annotate_pairs : bool, default=None
        Write each pair's labels next to its mean; None does it when at most
        10 pairs are drawn. The names of the vertices and of the pairs are
        placed where they cover no other name and no marker; a pair whose
        name finds no free place near its mean is left unnamed.
    max_pairs : int or None, default=10
        Draw at most this many pairs: those with the most samples, whose
        means are the most reliable (with 10 labels there can be 45 pairs,
        too many to read). None draws every observed pair. :math:`\rho_2`
        in the legend is fitted on all of them either way.
    {label_means}

    Returns
    -------
    ax : matplotlib Axes
        The axes. Its collections are, in order: the multiplicity-1 samples
        and the samples of the pairs (with ``show_samples``), the edges of
        the observed pairs, the midpoint-to-pair-mean links, the class
        means, the tag-wise averages and the pair means; each vertex has a
        text label. With fewer than
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
    if show_samples not in (False, True, "singletons", "sets"):
        raise ValueError(
            "show_samples must be a bool, 'singletons' or 'sets'; got "
            f"show_samples={show_samples!r}."
        )
    s = accumulate(H, Y).summary(label_means)
    if show_samples is True:
        # the rows behind the class means drawn
        show_samples = "singletons" if s.label_means == "singletons" else "sets"
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
        Y_np = np.asarray(Y_np.toarray() if hasattr(Y_np, "toarray") else Y_np) != 0
        single = Y_np.sum(axis=1) == 1
        single &= np.isin(Y_np.argmax(axis=1), used)
        xy = (H_np[single].astype(float) - mu_G) @ Q
        which = [position[k] for k in Y_np[single].argmax(axis=1)]
        ax.scatter(
            xy[:, 0],
            xy[:, 1],
            s=8,
            c=[colors[i] for i in which],
            alpha=0.5,
            linewidths=0,
            label=f"samples (1 label): {int(single.sum())}",
        )
        if show_samples == "sets":
            in_pair = np.zeros(len(Y_np), bool)
            for _, (a, b) in pairs:
                in_pair |= Y_np[:, a] & Y_np[:, b] & (Y_np.sum(axis=1) == 2)
            xy = (H_np[in_pair].astype(float) - mu_G) @ Q
            ax.scatter(
                xy[:, 0],
                xy[:, 1],
                s=8,
                marker="s",
                c="C3",
                alpha=0.2,
                linewidths=0,
                label=f"samples of the pairs shown: {int(in_pair.sum())}",
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
        label="class means"
        + (" (1 label)" if s.label_means == "singletons" else ", fitted to all rows"),
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
    ax.set_aspect("equal", adjustable="datalim")
    radius = np.linalg.norm(P, axis=1).max()
    norms = np.maximum(np.linalg.norm(P, axis=1), 1e-12 * max(radius, 1e-300))
    # room outside the polygon for the names of the vertices
    ax.update_datalim(P + 0.25 * radius * P / norms[:, None])
    ax.autoscale_view()
    ax.set_xlabel("projection axis 1")
    ax.set_ylabel("projection axis 2")
    what = "regular-polygon" if projection == "polygon" else "best-fitting (SVD)"
    ax.set_title(f"Class and pair means, {what} projection")
    # the legend goes below the axes (inside, it would hide vertices
    # wherever it went): make it before the names are placed
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2)
    if annotate_pairs is None:
        annotate_pairs = len(pairs) <= 10
    shown_pairs = pairs if annotate_pairs else []
    outward = [
        p - m if np.linalg.norm(p - m) > 1e-9 * max(radius, 1e-300) else p
        for p, m in zip(pair_xy, mid_xy, strict=True)
    ][: len(shown_pairs)]
    anchors = np.concatenate([P, pair_xy[: len(shown_pairs)]])
    directions = np.concatenate([P, np.reshape(outward, (-1, 2))])
    renderer = _renderer(ax.figure)  # the layout fixes where the markers are
    obstacles = np.concatenate(
        [
            _marker_boxes(ax, P, 9.0),
            _marker_boxes(ax, mid_xy, 5.0),
            _marker_boxes(ax, pair_xy, 5.0),
            _marker_boxes(ax, [(0.0, 0.0)], 10.0),
        ]
    )
    vertex_kw = {"fontsize": 9, "fontweight": "bold"}
    _place_labels(
        ax,
        P,
        [names[k] for k in used],
        angles=np.arctan2(P[:, 1], P[:, 0]),
        obstacles=obstacles,
        **vertex_kw,
    )
    if shown_pairs:
        pair_anchors = anchors[len(P) :]
        pair_dirs = directions[len(P) :]
        # a pair whose name finds no free place near its mean is left unnamed
        _place_labels(
            ax,
            pair_anchors,
            [f"{names[a]},{names[b]}" for _, (a, b) in shown_pairs],
            angles=np.arctan2(pair_dirs[:, 1], pair_dirs[:, 0]),
            obstacles=np.concatenate(
                [obstacles] + [[_text_extent(t, renderer).extents] for t in ax.texts]
            ),
            optional=np.ones(len(shown_pairs), bool),
            arrow_color="C3",
            fontsize=7,
            color="C3",
        )
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
    """Label frequencies on a log axis with at least 3 labelled ticks.

    The ticks are plain numbers (0.15, not a power of ten); where the
    frequencies span less than a factor of 3 the axis is linear.
    """
    from matplotlib.ticker import (
        FuncFormatter,
        LogLocator,
        MaxNLocator,
        NullFormatter,
    )

    low, high = float(np.min(x)), float(np.max(x))
    if high < 3 * low:
        panel.set_xscale("linear")
        panel.xaxis.set_major_locator(MaxNLocator(5))
        panel.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))
        panel.set_xlabel("label frequency (fraction of rows)")
        return
    panel.set_xscale("log")
    decades = math.log10(high / low)
    # the fewer decades, the more ticks in each: 3 labelled ticks at least
    if decades < 0.8:
        subs = np.arange(1.0, 10.0)
    elif decades < 1.5:
        subs = (1.0, 2.0, 3.0, 5.0)
    elif decades < 3:
        subs = (1.0, 2.0, 5.0)
    else:
        subs = (1.0,)
    panel.xaxis.set_major_locator(LogLocator(base=10, subs=subs, numticks=30))
    panel.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))
    panel.xaxis.set_minor_formatter(NullFormatter())
    panel.set_xlabel("label frequency (fraction of rows, log scale)")


def _nearest_index(nearest, names):
    """Label indices of a ``nearest`` column (indices, or names in a frame)."""
    nearest = np.asarray(nearest)
    if nearest.dtype.kind in "iu":
        return nearest
    position = {name: k for k, name in enumerate(names.tolist())}
    return np.array([position.get(n, -1) for n in nearest.tolist()], dtype=np.int64)


def _labels_to_name(marked, frequency, present, cosine, annotate, n_notable=3):
    """Return the labels to name in the label report, most important first.

    The marked labels (all with ``annotate=True``, none when ``'auto'`` and
    more than 12 are marked), then the ``n_notable`` rarest labels that occur
    and the ``n_notable`` largest cosines, unless every cosine is the same.
    """
    order = np.nonzero(marked)[0]
    named = list(order[np.argsort(frequency[order], kind="stable")])
    if annotate == "auto" and len(named) > 12:
        named = []
    occurring = np.nonzero(present)[0]
    rarest = occurring[np.argsort(frequency[occurring], kind="stable")][:n_notable]
    finite = np.nonzero(np.isfinite(cosine))[0]
    extra = list(rarest)
    if finite.size and np.ptp(cosine[finite]) > 1e-6:
        extra += list(finite[np.argsort(-cosine[finite], kind="stable")][:n_notable])
    for k in extra:
        if k not in named:
            named.append(k)
    return [int(k) for k in named]


def _name_report_points(panel, x, y, named, marked, names, nearest=None):
    """Write the names of the ``named`` labels next to their points, apart.

    The marked labels first, in red. Each name prefers the direction of the
    middle of the panel and avoids the points, the legend, the texts already
    there and the other names (:func:`_place_labels`).
    """
    named = [k for k in named if np.isfinite(y[k])]
    if not named:
        return
    renderer = _renderer(panel.figure)
    shown = np.isfinite(y)
    markers = _marker_boxes(panel, np.column_stack([x[shown], y[shown]]), 7.0)
    legend = panel.get_legend()
    if legend is not None:
        markers = np.concatenate(
            [markers, [legend.get_window_extent(renderer).extents]]
        )
    texts = [
        str(names[k])
        + (
            f" \N{RIGHTWARDS ARROW} {names[nearest[k]]}"
            if nearest is not None and nearest[k] >= 0
            else ""
        )
        for k in named
    ]
    display = panel.transData.transform(np.column_stack([x[named], y[named]]))
    centre = panel.transAxes.transform((0.5, 0.5))
    angles = np.arctan2(centre[1] - display[:, 1], centre[0] - display[:, 0])
    for red in (True, False):
        which = [i for i, k in enumerate(named) if bool(marked[k]) == red]
        if not which:
            continue
        written = [[_text_extent(t, renderer).extents] for t in panel.texts]
        _place_labels(
            panel,
            np.column_stack([x, y])[[named[i] for i in which]],
            [texts[i] for i in which],
            angles=angles[which],
            obstacles=np.concatenate([markers, *written]),
            arrow_color="C3" if red else "0.4",
            fontsize=7,
            color="C3" if red else "0.2",
        )


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
        annotate = "auto"
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
    axes[0].set_title(left_title)
    axes[1].set_title(f"{title}: largest cosine")
    legend = axes[1].legend(fontsize="small", loc="best")
    if annotate:
        named = _labels_to_name(marked, frequency, present, cosine, annotate)
        finite_cos = cosine[np.isfinite(cosine)]
        # with every cosine the same (a fixed ETF head) "nearest" is a tie
        tied = finite_cos.size and np.ptp(finite_cos) <= 1e-6
        for panel, y, with_nearest in (
            (axes[0], norm, False),
            (axes[1], cosine, not tied),
        ):
            _name_report_points(
                panel, x, y, named, marked, names, nearest if with_nearest else None
            )
        if hasattr(legend, "set_loc"):  # matplotlib >= 3.8
            # keep the legend where the names were placed around it
            box = legend.get_window_extent(_renderer(axes[1].figure))
            corner = axes[1].transAxes.inverted().transform((box.x0, box.y0))
            legend.set_loc(tuple(corner))
    return axes
