"""Per-label diagnostics of imbalance and minority collapse: label_report.

Unlike the neural-collapse metrics, which use the multiplicity-1 rows, the
report measures for each label the mean feature of every row that contains
it, and the head's rows, to find the rare labels whose geometry has
collapsed onto another label's.
"""

import math
import numbers

import numpy as np
import torch
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, validate_params

from ._checks import (
    BATCH_ELEMENTS,
    COMMON_CONSTRAINTS,
    accumulation_device,
    as_indicator,
    check_features,
    check_head,
    check_labels,
    default_chunk_size,
    device_of,
    raise_non_finite,
    take_rows,
)
from ._estimator import features_and_head, head_weight
from ._kernels import emit_warnings

__all__ = ["label_report", "label_report_from_estimator"]


def _max_cosine(V, valid):
    """Largest cosine of each row of ``V`` to another valid row, and which row.

    ``V`` is a ``(K, d)`` float64 tensor and ``valid`` a ``(K,)`` boolean
    tensor of the rows that have a direction. Returns NumPy arrays
    ``(cosine, index)``: NaN and -1 for a row that is not valid or has no
    other valid row. Ties go to the lowest index. Works in blocks of rows,
    so memory stays ``O(K d)`` for any ``K``.
    """
    K = V.shape[0]
    norms = torch.linalg.vector_norm(V, dim=1, keepdim=True)
    U = torch.where(valid.unsqueeze(1), V / norms.clamp_min(1e-300), 0.0)
    best = torch.full((K,), math.nan, dtype=torch.float64, device=V.device)
    which = torch.full((K,), -1, dtype=torch.int64, device=V.device)
    batch = max(1, BATCH_ELEMENTS // max(K, 1))
    for start in range(0, K, batch):
        stop = min(start + batch, K)
        C = U[start:stop] @ U.T  # (B, K)
        C[:, ~valid] = -math.inf
        rows = torch.arange(stop - start, device=V.device)
        C[rows, rows + start] = -math.inf  # not itself
        value, index = C.max(dim=1)
        ok = valid[start:stop] & torch.isfinite(value)
        best[start:stop] = torch.where(ok, value.clamp(-1.0, 1.0), math.nan)
        which[start:stop] = torch.where(ok, index, -1)
    return best.cpu().numpy(), which.cpu().numpy()


def _label_sums(H, Y, W, chunk_size):
    """Per-label feature sums and counts over the rows that contain each label.

    Returns ``(sums (K, d), counts (K,), global_sum (d,), n_labelled,
    n_samples, Y, W)``: float64 / int64 tensors on the accumulation device,
    two ints, the checked ``Y`` and the head ``W`` as a float64 tensor (or
    None), checked before the pass over the data. The sums are computed in
    float64, so that a label mean and the global mean that are equal in
    exact arithmetic are equal to about 1e-12 relative.
    """
    H = check_features(H)
    Y = check_labels(Y, H.shape[0], min_labels=1)
    device = accumulation_device(device_of(H))
    if W is not None:
        W = check_head(W, Y.shape[1], H.shape[1], device)
    dtype = torch.float64
    n, d = H.shape
    K = Y.shape[1]
    sums = torch.zeros(K, d, dtype=torch.float64, device=device)
    counts = torch.zeros(K, dtype=torch.int64, device=device)
    global_sum = torch.zeros(d, dtype=torch.float64, device=device)
    n_labelled = 0
    step = chunk_size or default_chunk_size(d)
    with torch.no_grad():
        for start in range(0, n, step):
            stop = min(start + step, n)
            Hc = take_rows(H, start, stop, device, dtype)
            Yc = take_rows(Y, start, stop, device) != 0
            if not torch.isfinite(Hc).all():
                raise_non_finite(Hc, start)
            sums += Yc.to(dtype).T @ Hc  # (K, d): sum of the rows with label k
            counts += Yc.sum(dim=0)
            labelled = Yc.any(dim=1)
            global_sum += Hc[labelled].sum(dim=0)
            n_labelled += int(labelled.sum())
    return sums, counts, global_sum, n_labelled, n, Y, W


def _cooccurrence(Y, partner, counts, chunk_size):
    """Fraction of the rows of each label that also contain ``partner[k]``."""
    K = Y.shape[1]
    out = np.full(K, math.nan)
    has = (partner >= 0) & (counts > 0)
    if not has.any():
        return out
    labels = np.nonzero(has)[0]
    both = np.zeros(len(labels), dtype=np.int64)
    step = chunk_size or default_chunk_size(K)
    for start in range(0, Y.shape[0], step):
        stop = min(start + step, Y.shape[0])
        Yc = take_rows(Y, start, stop, torch.device("cpu")) != 0
        hit = Yc[:, labels] & Yc[:, partner[labels]]
        both += hit.sum(dim=0).numpy()
    out[labels] = both / counts[labels]
    return out


def _check_label_names(label_names, n_labels):
    if label_names is None:
        return np.arange(n_labels)
    names = np.asarray(label_names)
    if names.ndim != 1 or len(names) != n_labels:
        raise ValueError(
            f"label_names must have one name per label (column of Y): "
            f"{n_labels}; got {len(names) if names.ndim == 1 else names.shape}."
        )
    return names


def _listing(labels, names, limit=20):
    shown = [names[k].item() if hasattr(names[k], "item") else names[k] for k in labels]
    more = f" and {len(shown) - limit} more" if len(shown) > limit else ""
    return f"{shown[:limit]}{more}"


@validate_params(
    {
        **COMMON_CONSTRAINTS,
        "W": ["array-like", None],
        "threshold": [Interval(numbers.Real, -1, 1, closed="both")],
        "label_names": ["array-like", None],
        "as_frame": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def label_report(
    H, Y, W=None, *, threshold=0.9, label_names=None, as_frame=False, chunk_size=None
):
    r"""Per-label diagnostics of imbalance and minority collapse.

    Real multi-label data are long-tailed: a few labels are on most rows
    and most labels on a few. Trained with weight decay on imbalanced data,
    the classifier rows of the rare labels shrink and turn towards each
    other until they can no longer be told apart, *minority collapse* [1]_.
    This report gives, for every label ``k``, how often it occurs and how
    its classifier row and its features sit among the others, so that rare
    labels whose geometry has collapsed can be spotted (and drawn with
    :func:`sknc.plotting.plot_label_report`).

    Quantities, per label ``k`` (``n``: rows of ``Y``):

    - ``count``, ``frequency``: rows that contain ``k``, and that number
      divided by ``n``;
    - ``mean_norm``: :math:`\|\nu_k - \nu_G\|`, with :math:`\nu_k` the mean
      feature of the rows that contain ``k`` (whatever their other labels:
      rare labels often never occur alone) and :math:`\nu_G` the mean
      feature of the rows that have at least one label. Centring at the
      data's own mean, not at the mean of the label means as the NC
      metrics do, keeps the reference point where most rows are: a rare
      label whose features are not separated from the bulk has a small
      ``mean_norm``;
    - ``mean_max_cosine``, ``mean_nearest``: the largest cosine between
      :math:`\nu_k - \nu_G` and :math:`\nu_j - \nu_G` over the other labels
      ``j``, and that ``j``;
    - with ``W``: ``weight_norm`` :math:`\|w_k\|`; ``max_cosine`` and
      ``nearest``, the largest cosine between :math:`w_k` and another row
      :math:`w_j` and that ``j``; ``collapsed``, whether ``max_cosine``
      exceeds ``threshold``;
    - ``mean_nearest_cooccurrence``, ``nearest_cooccurrence``: the fraction
      of the rows of ``k`` that also contain its nearest label. In
      multi-label data, two labels that (almost) always occur together have
      no reason to be told apart, and their rows may align without any
      imbalance: a ``collapsed`` label with a high co-occurrence is
      redundant rather than collapsed.

    Parameters
    ----------
    H : array-like or torch.Tensor of shape (n_samples, n_features)
        Features (NumPy or a torch tensor on any device), e.g.
        ``clf.transform(X_train)``.
    Y : array-like, sparse matrix or torch.Tensor of shape (n_samples, n_labels)
        0/1 label indicator.
    W : array-like or torch.Tensor of shape (n_labels, n_features), default=None
        The head, one row per label. Without it the head columns
        (``weight_norm``, ``max_cosine``, ``nearest``,
        ``nearest_cooccurrence``, ``collapsed``) are absent. For an sknc
        estimator with ``feature_norm`` set, ``module_.head.weight`` has
        normalised rows times the temperature: ``weight_norm`` is then the
        same for every label by construction, and only the cosines are
        informative.
    threshold : float in [-1, 1], default=0.9
        A label is ``collapsed`` when its row's largest cosine to another row
        exceeds this. 0.9 (an angle of 26 degrees) is far from any healthy
        head: the rows of a collapsed head have pairwise cosine
        :math:`-1/(K-1)` (a simplex ETF), those of a random one about
        :math:`\pm 1/\sqrt{d}`, while minority collapse drives the angle
        between rare rows towards 0 [1]_. Below 1, so that a collapse that
        training has not finished is flagged.
    label_names : array-like of shape (n_labels,), default=None
        Names of the labels, stored in ``label``; default ``0, 1, ...``.
    as_frame : bool, default=False
        Return a :class:`pandas.DataFrame` (one row per label, the scalars
        in its ``attrs``) instead of a :class:`~sklearn.utils.Bunch`. With
        ``label_names``, its ``nearest`` and ``mean_nearest`` columns hold
        label names too (None where undefined). Needs pandas, which sknc
        does not require.
    chunk_size : int, default=None
        Rows per streamed chunk; ``None`` picks about 4M elements per chunk.

    Returns
    -------
    report : :class:`~sklearn.utils.Bunch` or pandas.DataFrame
        One array of length ``n_labels`` per column above (``nearest`` and
        ``mean_nearest`` are label indices, -1 where undefined;
        ``collapsed`` is boolean), plus the scalars ``threshold``,
        ``n_samples`` and ``n_unlabeled`` (rows without a label, left out
        of :math:`\nu_G`). Undefined values are NaN (with a
        :class:`NeuralCollapseWarning`): a label that never occurs has no
        mean; a label whose mean equals :math:`\nu_G` (it is on every
        labelled row) or a zero head row has no direction; with a single
        label there is no other one to compare with. ``collapsed`` is False
        where ``max_cosine`` is NaN.

    See Also
    --------
    label_report_from_estimator : The same from a fitted estimator.
    sknc.plotting.plot_label_report : Frequency against row norm and cosine.

    References
    ----------
    .. [1] C. Fang, H. He, Q. Long and W. J. Su, "Exploring deep neural
       networks via layer-peeled model: Minority collapse in imbalanced
       training", PNAS 118 (43), 2021.

    Examples
    --------
    Two frequent labels with well separated rows, two rare ones whose rows
    have collapsed onto each other:

    >>> import numpy as np
    >>> from sknc.metrics import label_report
    >>> Y = np.array([[1, 0, 0, 0]] * 45 + [[0, 1, 0, 0]] * 45
    ...              + [[0, 0, 1, 0]] * 5 + [[0, 0, 0, 1]] * 5)
    >>> W = np.array([[3.0, 0.0, 0.0], [0.0, 3.0, 0.0],
    ...               [0.3, 0.3, 1.0], [0.3, 0.2, 1.0]])
    >>> H = Y @ W  # features on their rows
    >>> report = label_report(H, Y, W)
    >>> report.frequency
    array([0.45, 0.45, 0.05, 0.05])
    >>> report.collapsed, report.nearest
    (array([False, False,  True,  True]), array([3, 2, 3, 2]))
    """
    sums, counts_t, global_sum, n_labelled, n, Y, W = _label_sums(H, Y, W, chunk_size)
    K = sums.shape[0]
    names = _check_label_names(label_names, K)
    messages = []
    counts = counts_t.cpu().numpy()
    present = counts > 0
    if K == 1:
        messages.append(
            "Y has a single label, so there is no other label to compare its "
            "mean or its head row with: the cosines are NaN."
        )
    absent = np.nonzero(~present)[0]
    if len(absent) and n_labelled:
        messages.append(
            f"{len(absent)} label(s) never occur in Y: {_listing(absent, names)}. "
            "They have no feature mean: their mean_norm and mean cosines are NaN."
        )
    # Feature means of the rows that contain each label, centred at the mean
    # of the labelled rows.
    mean_norm = np.full(K, math.nan)
    mean_cos = np.full(K, math.nan)
    mean_nearest = np.full(K, -1, dtype=np.int64)
    if n_labelled:
        nu_G = global_sum / n_labelled
        present_t = torch.as_tensor(present, device=sums.device)
        nu = sums / counts_t.clamp_min(1).unsqueeze(1).to(torch.float64)
        centred = torch.where(present_t.unsqueeze(1), nu - nu_G, 0.0)
        norms = torch.linalg.vector_norm(centred, dim=1)
        mean_norm[present] = norms.cpu().numpy()[present]
        # A mean has a direction when its norm is above the rounding of
        # float64 sums at the features' scale.
        scale = float(torch.linalg.vector_norm(nu_G)) + float(norms.max())
        has_direction = present_t & (norms > scale * 1e-9)
        flat = np.nonzero(present & ~has_direction.cpu().numpy())[0]
        if len(flat) and K > 1:
            messages.append(
                f"The feature mean of label(s) {_listing(flat, names)} equals the "
                "mean of all labelled rows (e.g. a label on every row), so it "
                "has no direction: its mean cosine is NaN."
            )
        mean_cos, mean_nearest = _max_cosine(centred, has_direction)
    else:
        messages.append(
            "Y has no row with a label, so no label has a feature mean: "
            "mean_norm and the mean cosines are NaN."
        )
    out = Bunch(
        label=names,
        count=counts.astype(np.int64),
        frequency=counts / n,
        mean_norm=mean_norm,
        mean_max_cosine=mean_cos,
        mean_nearest=mean_nearest,
        mean_nearest_cooccurrence=_cooccurrence(Y, mean_nearest, counts, chunk_size),
    )
    if W is not None:
        weight_norm = torch.linalg.vector_norm(W, dim=1)
        nonzero = weight_norm > 0
        zero = np.nonzero(~nonzero.cpu().numpy())[0]
        if len(zero):
            messages.append(
                f"The head row of label(s) {_listing(zero, names)} is zero, so it "
                "has no direction: its max_cosine is NaN (and collapsed False)."
            )
        max_cos, nearest = _max_cosine(W, nonzero)
        with np.errstate(invalid="ignore"):
            collapsed = max_cos > threshold  # NaN compares False
        out.update(
            weight_norm=weight_norm.cpu().numpy(),
            max_cosine=max_cos,
            nearest=nearest,
            nearest_cooccurrence=_cooccurrence(Y, nearest, counts, chunk_size),
            collapsed=collapsed,
        )
    scalars = {
        "threshold": float(threshold),
        "n_samples": int(n),
        "n_unlabeled": int(n - n_labelled),
    }
    emit_warnings(messages)
    if as_frame:
        return _as_frame(out, scalars, named=label_names is not None)
    out.update(scalars)
    return out


def _as_frame(columns, attrs, named):
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError(
            "label_report(as_frame=True) needs pandas, which is not installed. "
            "Install it (pip install pandas) or use the default Bunch of NumPy "
            "arrays."
        ) from exc
    columns = dict(columns)
    if named:
        # a frame is read by name: the nearest labels too, missing where -1
        names = columns["label"]
        for key in ("mean_nearest", "nearest"):
            if key in columns:
                index = columns[key]
                columns[key] = pd.Series(
                    [names[j] if j >= 0 else None for j in index], dtype=object
                )
    frame = pd.DataFrame(columns)
    frame.attrs.update(attrs)
    return frame


def label_report_from_estimator(
    estimator, X, Y, *, threshold=0.9, as_frame=False, chunk_size=None
):
    """Per-label diagnostics of a fitted estimator on data ``(X, Y)``.

    Calls :func:`label_report` with the features ``estimator.transform(X)``,
    the estimator's head (``module_.head.weight``, its first ``n_outputs_``
    rows, so without the hidden background label) and its label names.
    Pass the training data to diagnose minority collapse (a training
    phenomenon); the head columns do not depend on ``X``.

    Parameters
    ----------
    estimator : estimator
        A fitted sknc estimator, a Pipeline ending with one, or a fitted
        search whose best estimator is one; any fitted estimator with
        ``transform`` works, without the head columns.
    X : array-like of shape (n_samples, n_features)
        Input data.
    Y : array-like or sparse matrix of shape (n_samples, n_labels)
        0/1 label indicator of ``X`` (or 1-D class labels, one-hot encoded
        over the estimator's ``classes_``).
    threshold : float in [-1, 1], default=0.9
        Cosine above which a head row counts as collapsed; see
        :func:`label_report`.
    as_frame : bool, default=False
        Return a pandas DataFrame; see :func:`label_report`.
    chunk_size : int, default=None
        Rows per streamed chunk; ``None`` picks about 4M elements per chunk.

    Returns
    -------
    report : :class:`~sklearn.utils.Bunch` or pandas.DataFrame
        As :func:`label_report`.

    Examples
    --------
    >>> from sklearn.datasets import make_multilabel_classification
    >>> from sknc import PALClassifier
    >>> from sknc.metrics import label_report_from_estimator
    >>> X, Y = make_multilabel_classification(n_samples=100, n_classes=4,
    ...                                       random_state=0)
    >>> clf = PALClassifier(max_epochs=5, random_state=0).fit(X, Y)
    >>> report = label_report_from_estimator(clf, X, Y)
    >>> report.weight_norm.shape, report.collapsed.dtype
    ((4,), dtype('bool'))
    """
    H, owner = features_and_head(estimator, X)
    W = head_weight(owner)
    classes, names = None, None
    if owner is not None:
        if getattr(owner, "multilabel_", True) is False:
            classes = owner.classes_
        names = getattr(owner, "label_names_", None)
    Y, _ = as_indicator(Y, classes)
    if names is not None and len(names) != Y.shape[1]:
        names = None
    return label_report(
        H,
        Y,
        W,
        threshold=threshold,
        label_names=names,
        as_frame=as_frame,
        chunk_size=chunk_size,
    )
