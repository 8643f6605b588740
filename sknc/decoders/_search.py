r"""Nearest-prototype search and soft prototype assignment in bounded memory.

Building blocks of ONN decoding (predict the label set whose prototype is
nearest); the temperature of the soft assignment is fitted by
:func:`fit_temperature` (``_calibration``). Every function works on torch
tensors and keeps them on the device of ``queries``; the work is done in the
dtype of ``queries`` (prototypes are cast to it) and carries no gradient.

Distances (``metric``):

- ``'euclidean'``: the **squared** Euclidean distance
  :math:`\|q\|^2 - 2\,q \cdot p + \|p\|^2`, clamped at 0 (it feeds a Gaussian
  kernel :math:`\exp(-D/T)`);
- ``'cosine'``: :math:`1 - \cos(q, p)`, clamped to :math:`[0, 2]`. A zero
  vector (query or prototype) has cosine 0 with everything, so its distance
  to everything is 1; the result is never NaN.

Memory: queries are processed in row chunks of
``chunk = max(1, max_memory // (P * itemsize))`` rows, so that one chunk's
``(chunk, P)`` block of distances takes at most ``max_memory`` bytes (default
64 MiB). Besides the inputs and the outputs, a search needs
:math:`O(\mathrm{chunk} \cdot P + P + n k)` elements (plus a cast copy of
the prototypes when their dtype differs from the queries', and a normalised
copy for the cosine metric).
"""

import bisect
import math
import numbers

import torch

__all__ = [
    "nearest_prototypes",
    "soft_assign_marginals",
    "prototype_nll",
]

_DEFAULT_MAX_MEMORY = 64 * 2**20
_METRICS = ("euclidean", "cosine")


# --------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_points(queries, prototypes):
    """Check the two point sets; return the number of prototypes."""
    for name, x in (("queries", queries), ("prototypes", prototypes)):
        if not isinstance(x, torch.Tensor):
            raise TypeError(
                f"{name} must be a torch tensor; got {type(x).__name__}. "
                "Convert it with torch.as_tensor(x, dtype=torch.float32)."
            )
        if x.layout != torch.strided:
            raise ValueError(f"{name} must be a dense tensor; call .to_dense().")
        if x.ndim != 2:
            raise ValueError(
                f"{name} must be 2-D (n_points, n_dims); got shape {tuple(x.shape)}."
            )
        if not x.is_floating_point():
            raise ValueError(
                f"{name} must be a floating-point tensor; got dtype {x.dtype}. "
                "Convert it with .float()."
            )
    if queries.shape[1] != prototypes.shape[1]:
        raise ValueError(
            f"queries and prototypes must have the same number of dimensions; "
            f"got {queries.shape[1]} and {prototypes.shape[1]}."
        )
    if prototypes.shape[0] == 0:
        raise ValueError("prototypes is empty; pass at least one prototype.")
    _check_device(prototypes, "prototypes", queries.device)
    return prototypes.shape[0]


def _check_device(x, name, device):
    if x.device != device:
        raise ValueError(
            f"{name} is on {x.device} but queries are on {device}; move it with "
            f".to(queries.device)."
        )


def _check_metric(metric):
    if metric not in _METRICS:
        raise ValueError(f"metric must be one of {list(_METRICS)}; got {metric!r}.")


def _check_max_memory(max_memory):
    if max_memory is None:
        return _DEFAULT_MAX_MEMORY
    if not _is_int(max_memory) or max_memory < 1:
        raise ValueError(
            f"max_memory must be a positive number of bytes or None; got "
            f"{max_memory!r}."
        )
    return int(max_memory)


def _check_temperature(temperature):
    if not (
        isinstance(temperature, numbers.Real)
        and not isinstance(temperature, bool)
        and math.isfinite(temperature)
        and temperature > 0
    ):
        raise ValueError(
            f"temperature must be a finite number > 0; got {temperature!r}. "
            "fit_temperature() estimates one from labelled queries."
        )
    return float(temperature)


def _check_indices(idx, name, shape, high, what, device):
    """Check an integer index tensor with values in ``[0, high)``.

    ``shape`` is the expected shape, with ``None`` for a free dimension.
    """
    if not isinstance(idx, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor; got {type(idx).__name__}.")
    if idx.ndim != len(shape) or any(
        want not in (None, got) for got, want in zip(idx.shape, shape, strict=True)
    ):
        expected = ", ".join("any" if s is None else str(s) for s in shape)
        raise ValueError(
            f"{name} must have shape ({expected}); got {tuple(idx.shape)}."
        )
    if idx.is_floating_point() or idx.is_complex() or idx.dtype == torch.bool:
        raise ValueError(
            f"{name} must be an integer tensor; got dtype {idx.dtype}. Convert "
            "it with .long()."
        )
    _check_device(idx, name, device)
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= high):
        raise ValueError(
            f"{name} must hold {what} in [0, {high}); got values in "
            f"[{int(idx.min())}, {int(idx.max())}]."
        )
    return idx.long()


def _wide_dtype(device):
    """float64 for accumulations, float32 on Apple ``mps`` (no float64)."""
    return torch.float32 if device.type == "mps" else torch.float64


def _chunk_rows(max_memory, n_cols, itemsize):
    return max(1, max_memory // max(1, n_cols * itemsize))


# --------------------------------------------------------------------------
# Distance blocks
# --------------------------------------------------------------------------


class _Prototypes:
    """Prototypes prepared once for the partial distances of a metric.

    ``partial(q)`` computes a ``(m, P)`` block that differs from the distances
    by a per-query constant ``offset(q)``: for the Euclidean metric
    ``||p||^2 - 2 q.p`` (the constant is ``||q||^2``), for the cosine metric
    ``-q^.p^`` with unit vectors (the constant is 1). Per-row minima, top-k
    and softmax do not need the constant.
    """

    def __init__(self, prototypes, dtype, metric):
        self.metric = metric
        p = prototypes.detach().to(dtype)
        if metric == "euclidean":
            self.mat = p
            self.sqnorm = torch.linalg.vector_norm(p, dim=1).square_()
            self._row = self.sqnorm.unsqueeze(0)
        else:  # negated unit vectors: q^ @ mat.T is -cos
            norm = torch.linalg.vector_norm(p, dim=1, keepdim=True)
            self.mat = p / norm.clamp_min_(torch.finfo(dtype).tiny).neg_()
        self.n = p.shape[0]

    def prepare(self, q):
        """Return the query rows ready for the block and their offsets."""
        if self.metric == "euclidean":
            return q, torch.linalg.vector_norm(q, dim=1).square_()
        norm = torch.linalg.vector_norm(q, dim=1, keepdim=True)
        q = q / norm.clamp_min_(torch.finfo(q.dtype).tiny)
        return q, torch.ones(q.shape[0], dtype=q.dtype, device=q.device)

    def partial(self, q, out):
        """Write the partial distances of prepared rows ``q`` into ``out``."""
        if self.metric == "euclidean":
            return torch.addmm(self._row, q, self.mat.T, alpha=-2, out=out)
        return torch.mm(q, self.mat.T, out=out)

    def partial_pairs(self, q, qid, pid):
        """Partial distances of the pairs ``(q[qid], prototype pid)``."""
        dots = torch.linalg.vecdot(
            q.index_select(0, qid), self.mat.index_select(0, pid)
        )
        if self.metric == "euclidean":
            return self.sqnorm.index_select(0, pid).sub_(dots, alpha=2)
        return dots

    def finish(self, values, offset):
        """Turn partial values into clamped distances, in place."""
        values.add_(offset.unsqueeze(1))
        if self.metric == "euclidean":
            return values.clamp_min_(0)
        return values.clamp_(0, 2)


def _sort_ties(values, index):
    """Order equal distances of each row by increasing prototype index."""
    index, perm = index.sort(dim=1)
    values, perm2 = values.gather(1, perm).sort(dim=1, stable=True)
    return values, index.gather(1, perm2)


def _reduce(block, k):
    """Return the ``k`` smallest entries of each row, ascending, ties by index."""
    if k == 1:
        values, index = block.min(dim=1)
        return values.unsqueeze(1), index.unsqueeze(1)
    values, index = torch.topk(block, k, dim=1, largest=False, sorted=True)
    return _sort_ties(values, index)


def _dense_search(protos, queries, k, rows, out_values, out_index, rows_out=None):
    """Exact search of every query over all prototypes, in row chunks."""
    n = queries.shape[0]
    if n == 0:
        return
    buf = queries.new_empty((min(rows, n), protos.n))
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        q, offset = protos.prepare(queries[start:stop])
        block = buf[: stop - start]
        protos.partial(q, block)
        values, index = _reduce(block, k)
        protos.finish(values, offset)
        if rows_out is None:
            out_values[start:stop] = values
            out_index[start:stop] = index
        else:
            out_values[rows_out[start:stop]] = values
            out_index[rows_out[start:stop]] = index


# --------------------------------------------------------------------------
# Label sets of the prototypes
# --------------------------------------------------------------------------


def _label_pairs(prototype_labels, P, device):
    """``(proto, label, value)`` of the non-zero entries, sorted, and ``K``."""
    L = prototype_labels
    if not isinstance(L, torch.Tensor):
        raise TypeError(
            "prototype_labels must be a torch tensor (dense, sparse COO or CSR); "
            f"got {type(L).__name__}."
        )
    if L.ndim != 2 or L.shape[0] != P:
        raise ValueError(
            f"prototype_labels must have shape (n_prototypes, n_labels) = ({P}, K); "
            f"got {tuple(L.shape)}."
        )
    _check_device(L, "prototype_labels", device)
    L = L.detach()
    if L.layout == torch.strided:
        nz = L.nonzero()
        p, lab = nz[:, 0], nz[:, 1]
        v = L[p, lab]
    elif L.layout == torch.sparse_coo:
        L = L.coalesce()
        p, lab = L.indices()
        v = L.values()
    elif L.layout == torch.sparse_csr:
        crow = L.crow_indices()
        p = torch.repeat_interleave(
            torch.arange(P, device=device), crow[1:] - crow[:-1]
        )
        lab, v = L.col_indices(), L.values()
    else:
        raise ValueError(
            f"prototype_labels must be dense, sparse COO or sparse CSR; got "
            f"layout {L.layout}."
        )
    keep = v != 0
    p, lab, v = p[keep], lab[keep], v[keep]
    if not bool((v == 1).all()):
        raise ValueError(
            "prototype_labels must be a 0/1 indicator of each prototype's label "
            "set; it has values other than 0 and 1."
        )
    return p.long(), lab.long(), L.shape[1]


class _LabelIndex:
    """Candidate lookup: which prototypes have a label set inside a query's.

    Every non-empty prototype is listed under one *pivot* label, the rarest of
    its labels (fewest prototypes containing it), so a query with label list
    ``R`` only has to look at the prototypes pivoted on a label of ``R`` and
    check that all their labels are in ``R``. Prototypes with no label (the
    empty set) are candidates of every query.
    """

    def __init__(self, prototype_labels, P, device):
        p, lab, K = _label_pairs(prototype_labels, P, device)
        self.K, self.P = K, P
        sizes = torch.bincount(p, minlength=P)
        freq = torch.bincount(lab, minlength=K)
        key = freq[lab] * K + lab
        pivot_key = torch.full((P,), -1, dtype=torch.long, device=device)
        pivot_key.scatter_reduce_(0, p, key, reduce="amin", include_self=False)
        labelled = sizes > 0
        members = torch.nonzero(labelled).flatten()  # ascending
        pivot = pivot_key[members] % K
        order = torch.argsort(pivot * P + members)
        self.members = members[order]
        counts = torch.bincount(pivot, minlength=K)
        self.crow = torch.zeros(K + 1, dtype=torch.long, device=device)
        torch.cumsum(counts, 0, out=self.crow[1:])
        self.empty = torch.nonzero(~labelled).flatten()
        # Labels of each prototype, one row per position, padded with K (a
        # label every query has).
        width = int(sizes.max()) if len(p) else 1
        start = torch.zeros(P + 1, dtype=torch.long, device=device)
        torch.cumsum(sizes, 0, out=start[1:])
        self.set_labels = torch.full((width, P), K, dtype=torch.long, device=device)
        self.set_labels[torch.arange(len(p), device=device) - start[p], p] = lab

    def unique_labels(self, query_labels):
        """Per query row: the sorted labels with repeats masked out."""
        R = query_labels.sort(dim=1).values
        keep = torch.ones_like(R, dtype=torch.bool)
        keep[:, 1:] = R[:, 1:] != R[:, :-1]
        return R, keep

    def lookups(self, R, keep):
        """Return how many pivot-list entries each query row looks at."""
        lens = self.crow[R + 1] - self.crow[R]
        return (lens * keep).sum(dim=1)

    def candidates(self, R, keep):
        """Admissible ``(query, prototype)`` pairs, sorted, for query rows R."""
        m, r = R.shape
        device = R.device
        flat = torch.nonzero(keep.flatten()).flatten()
        lab = R.flatten().index_select(0, flat)
        starts = self.crow.index_select(0, lab)
        lens = self.crow.index_select(0, lab + 1) - starts
        seg = torch.repeat_interleave(lens)
        shift = starts - (torch.cumsum(lens, 0) - lens)
        pos = torch.arange(len(seg), device=device) + shift.index_select(0, seg)
        qid = flat.div_(r, rounding_mode="floor").index_select(0, seg)
        pid = self.members.index_select(0, pos)
        member = torch.zeros(m, self.K + 1, dtype=torch.bool, device=device)
        member[:, self.K] = True
        member.scatter_(1, R, True)
        # All labels of the set among the query's: one column at a time (much
        # faster than a row-wise reduction over a few columns).
        member, offset = member.view(-1), qid * (self.K + 1)
        ok = torch.ones(len(pid), dtype=torch.bool, device=device)
        for labels in self.set_labels:
            ok &= member.take(labels.index_select(0, pid).add_(offset))
        qid, pid = qid[ok], pid[ok]
        if len(self.empty):
            E = len(self.empty)
            qid = torch.cat([qid, torch.arange(m, device=device).repeat_interleave(E)])
            pid = torch.cat([pid, self.empty.repeat(m)])
        order = torch.argsort(qid * self.P + pid)
        return qid.index_select(0, order), pid.index_select(0, order)


def _pruned_search(
    protos, queries, k, max_memory, query_labels, prototype_labels, values, index
):
    """Search each query among the prototypes whose set is inside its labels."""
    n, P = queries.shape[0], protos.n
    device = queries.device
    itemsize = queries.element_size()
    index_ = _LabelIndex(prototype_labels, P, device)
    query_labels = _check_indices(
        query_labels, "query_labels", (n, None), index_.K, "label indices", device
    )
    R, keep = index_.unique_labels(query_labels)
    looked = index_.lookups(R, keep) + len(index_.empty)
    # Rows per chunk: the (rows, P) bound of the full search, the (rows, K)
    # membership table, and pairs (about 64 bytes each) within max_memory.
    rows = _chunk_rows(max_memory, P * itemsize + index_.K + 1, 1)
    pair_budget = max(1, max_memory // 64)
    ends = torch.cumsum(looked, 0).tolist()
    fallback = []
    start = 0
    while start < n:
        base = ends[start - 1] if start else 0
        fits = bisect.bisect_right(ends, base + pair_budget, lo=start)
        stop = max(start + 1, min(fits, start + rows))
        qid, pid = index_.candidates(R[start:stop], keep[start:stop])
        m = stop - start
        count = torch.bincount(qid, minlength=m)
        short = count < k
        if bool(short.any()):
            fallback.append(torch.nonzero(short).flatten() + start)
        q, offset = protos.prepare(queries[start:stop])
        partial = torch.empty(len(qid), dtype=queries.dtype, device=device)
        step = max(1, max_memory // (2 * queries.shape[1] * itemsize))
        for s in range(0, len(qid), step):
            sl = slice(s, s + step)
            partial[sl] = protos.partial_pairs(q, qid[sl], pid[sl])
        width = max(int(count.max()) if m else 0, k)
        # Pairs are sorted by query: lay them out in rows of a padded block.
        first = torch.cumsum(count, 0) - count
        cell = torch.arange(len(qid), device=device) + (qid * width - first[qid])
        block = torch.full((m, width), math.inf, dtype=queries.dtype, device=device)
        block.view(-1).index_copy_(0, cell, partial)
        ids = torch.zeros((m, width), dtype=torch.long, device=device)
        ids.view(-1).index_copy_(0, cell, pid)
        v, j = _reduce(block, k)
        protos.finish(v, offset)
        values[start:stop] = v
        index[start:stop] = ids.gather(1, j)
        start = stop
    if fallback:
        rows_fb = torch.cat(fallback)
        dense_rows = _chunk_rows(max_memory, P, itemsize)
        _dense_search(
            protos, queries[rows_fb], k, dense_rows, values, index, rows_out=rows_fb
        )


# --------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------


@torch.no_grad()
def nearest_prototypes(
    queries,
    prototypes,
    *,
    metric="euclidean",
    k=1,
    max_memory=None,
    query_labels=None,
    prototype_labels=None,
):
    """Find the ``k`` nearest prototypes of each query, in bounded memory.

    Parameters
    ----------
    queries : torch.Tensor of shape (n, d)
        Floating-point query points; the search runs on their device and in
        their dtype.
    prototypes : torch.Tensor of shape (P, d)
        Floating-point prototypes on the same device (cast to the queries'
        dtype).
    metric : {'euclidean', 'cosine'}, default='euclidean'
        ``'euclidean'``: **squared** Euclidean distance, clamped at 0;
        ``'cosine'``: ``1 - cos``, clamped to [0, 2], and 1 between a zero
        vector and anything.
    k : int, default=1
        Number of neighbours, in ``[1, P]``.
    max_memory : int or None, default=None
        Bytes allowed for one chunk's ``(chunk, P)`` block of distances;
        queries are processed ``chunk = max(1, max_memory // (P * itemsize))``
        rows at a time. ``None``: 64 MiB. Extra memory is
        ``O(chunk * P + P + n * k)`` elements (plus a copy of the prototypes
        when they must be cast or normalised).
    query_labels : torch.Tensor of shape (n, r), optional
        Candidate pruning: the label indices allowed for each query (for
        example the indices of its ``r`` largest logits; repeats are
        ignored). With ``prototype_labels``, a query only considers the
        prototypes whose label set is a subset of its labels (the empty set
        is a subset of everything). A query with fewer than ``k`` such
        prototypes is searched over all prototypes instead.
    prototype_labels : torch.Tensor of shape (P, K), optional
        0/1 (or boolean) indicator of each prototype's label set, dense or
        sparse (COO or CSR). Needed with ``query_labels``.

    Returns
    -------
    distances : torch.Tensor of shape (n, k)
        Distances to the neighbours in ascending order, in the queries'
        dtype. Equal distances are ordered by increasing prototype index
        (with ``k=1``, the lowest index wins); which of several prototypes
        tied at the ``k``-th place are returned is unspecified.
    indices : torch.Tensor of shape (n, k), dtype int64
        Row indices of the neighbours in ``prototypes``.

    Notes
    -----
    Euclidean distances are computed as ``||q||^2 - 2 q.p + ||p||^2`` with
    one matrix product per chunk; for nearly coincident points their
    absolute error is about ``eps * ||q||^2``, which is larger than for
    ``torch.cdist(q, p) ** 2`` with its difference-based formula.

    Inputs are assumed finite; this is not checked.

    Pruning finds the admissible prototypes through an inverted index: each
    labelled prototype is listed under its rarest label, and a query looks
    at the prototypes listed under its ``r`` labels (about ``r * P / K`` of
    them), keeps those whose labels are all among its own, and computes
    distances to these only. The cost thus grows with ``r * P / K`` rather
    than with ``P``, which pays off for thousands of labels and tens of
    thousands of prototypes (measured by
    ``python -m benchmarks.bench_decoding_scale``; results in
    ``benchmarks/README.md``). The index takes
    ``O(n * r + P * m)`` integers (``m``: the largest set size) and the
    rest of the work is chunked within ``max_memory``, except that a query
    which alone looks at more than ``max_memory / 64`` prototypes is
    processed on its own.

    Examples
    --------
    >>> import torch
    >>> queries = torch.tensor([[0.0, 0.0], [2.0, 2.1], [0.9, 0.0]])
    >>> prototypes = torch.tensor([[0.0, 0.0], [1.0, 0.0], [2.0, 2.0]])
    >>> distances, indices = nearest_prototypes(queries, prototypes, k=2)
    >>> indices
    tensor([[0, 1],
            [2, 1],
            [1, 0]])
    >>> distances[:, 0]
    tensor([0.0000, 0.0100, 0.0100])
    """
    P = _check_points(queries, prototypes)
    _check_metric(metric)
    if not _is_int(k) or not 1 <= k <= P:
        raise ValueError(
            f"k must be an integer in [1, n_prototypes={P}]; got {k!r}. Ask for "
            "at most as many neighbours as there are prototypes."
        )
    max_memory = _check_max_memory(max_memory)
    if (query_labels is None) != (prototype_labels is None):
        raise ValueError(
            "Candidate pruning needs both query_labels and prototype_labels; "
            "pass both, or neither for a full search."
        )
    n = queries.shape[0]
    queries = queries.detach()
    protos = _Prototypes(prototypes, queries.dtype, metric)
    values = queries.new_empty((n, k))
    index = torch.empty((n, k), dtype=torch.long, device=queries.device)
    if query_labels is None:
        rows = _chunk_rows(max_memory, P, queries.element_size())
        _dense_search(protos, queries, k, rows, values, index)
    else:
        _pruned_search(
            protos,
            queries,
            k,
            max_memory,
            query_labels,
            prototype_labels,
            values,
            index,
        )
    return values, index


def _labels_operand(p, lab, P, K, dtype, device, max_memory):
    """Return ``W -> W @ L`` for the (P, K) 0/1 indicator given by its pairs."""
    ones = torch.ones(len(p), dtype=dtype, device=device)
    # A dense product runs some 50 times faster per multiply-add than a
    # sparse one: use it unless the indicator is very sparse (or too big).
    dense_bytes = P * K * torch.finfo(dtype).bits // 8
    if dense_bytes <= max_memory and 32 * len(p) >= P * K:
        dense = torch.zeros(P, K, dtype=dtype, device=device)
        dense[p, lab] = ones
        return lambda W: W @ dense
    if device.type == "cpu":
        sparse = torch.sparse_coo_tensor(
            torch.stack([p, lab]), ones, (P, K), check_invariants=False
        ).coalesce()
        return lambda W: torch.mm(W, sparse)
    sparse_t = torch.sparse_coo_tensor(
        torch.stack([lab, p]), ones, (K, P), check_invariants=False
    ).coalesce()
    return lambda W: torch.sparse.mm(sparse_t, W.T).T


@torch.no_grad()
def soft_assign_marginals(
    queries,
    prototypes,
    prototype_labels,
    *,
    metric,
    temperature,
    max_memory=None,
    top=None,
):
    r"""Per-label marginals of a soft assignment of queries to prototypes.

    The posterior of prototype ``S`` given query ``q`` is
    ``softmax(-D(q, .) / temperature)_S`` over the prototypes, and label
    ``k`` gets the total posterior of the prototypes whose label set
    contains it:

    .. math::

        P(k \mid q) = \sum_S \mathrm{softmax}(-D(q, \cdot)/T)_S \, L_{S k}.

    Parameters
    ----------
    queries : torch.Tensor of shape (n, d)
        Floating-point queries; the work runs on their device and dtype.
    prototypes : torch.Tensor of shape (P, d)
        Prototypes on the same device.
    prototype_labels : torch.Tensor of shape (P, K)
        0/1 (or boolean) indicator ``L`` of each prototype's label set, dense
        or sparse (COO or CSR).
    metric : {'euclidean', 'cosine'}
        Distance ``D``, as in :func:`nearest_prototypes` (squared Euclidean
        or ``1 - cos``).
    temperature : float
        Softmax temperature ``T > 0``, in the units of ``D``.
    max_memory : int or None, default=None
        Bytes for one chunk's ``(chunk, P)`` block, as in
        :func:`nearest_prototypes` (``None``: 64 MiB).
    top : int or None, default=None
        If given, the softmax of each query is restricted to its ``top``
        nearest prototypes (the others get probability 0): an approximation
        for very many prototypes that is exact when the prototypes left out
        carry negligible weight, and exact for ``top >= P``.

    Returns
    -------
    marginals : torch.Tensor of shape (n, K)
        Values in [0, 1], in the queries' dtype.

    Notes
    -----
    The softmax subtracts each row's smallest distance before exponentiating,
    so it neither overflows nor underflows to all zeros, however small the
    temperature. Memory is bounded as in :func:`nearest_prototypes`, plus a
    copy of the indicator in the queries' dtype: dense when it fits in
    ``max_memory`` and has at least 1/32 non-zeros, else sparse.
    """
    P = _check_points(queries, prototypes)
    _check_metric(metric)
    T = _check_temperature(temperature)
    max_memory = _check_max_memory(max_memory)
    if top is not None:
        if not _is_int(top) or top < 1:
            raise ValueError(f"top must be a positive integer or None; got {top!r}.")
        top = min(int(top), P)
    queries = queries.detach()
    device, dtype = queries.device, queries.dtype
    p, lab, K = _label_pairs(prototype_labels, P, device)
    n = queries.shape[0]
    out = queries.new_zeros((n, K))
    if n == 0:
        return out
    protos = _Prototypes(prototypes, dtype, metric)
    rows = min(_chunk_rows(max_memory, P, queries.element_size()), n)
    buf = queries.new_empty((rows, P))
    if top is None or top == P:
        product = _labels_operand(p, lab, P, K, dtype, device, max_memory)
    else:
        sizes = torch.bincount(p, minlength=P)
        first = torch.cumsum(sizes, 0) - sizes  # p is sorted
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        q, _ = protos.prepare(queries[start:stop])
        block = buf[: stop - start]
        protos.partial(q, block)
        if top is None or top == P:
            block.sub_(block.min(dim=1, keepdim=True).values)
            block.mul_(-1.0 / T).exp_()
            z = block.sum(dim=1, keepdim=True)
            out[start:stop] = product(block).div_(z)
            continue
        d, j = torch.topk(block, top, dim=1, largest=False, sorted=False)
        w = d.sub_(d.min(dim=1, keepdim=True).values).mul_(-1.0 / T).exp_()
        w.div_(w.sum(dim=1, keepdim=True))
        j, w = j.flatten(), w.flatten()
        lens = sizes[j]
        seg = torch.repeat_interleave(torch.arange(len(j), device=device), lens)
        pos = (
            torch.arange(len(seg), device=device) - (torch.cumsum(lens, 0) - lens)[seg]
        )
        out[start:stop].index_put_(
            (seg // top, lab[first[j[seg]] + pos]), w[seg], accumulate=True
        )
    return out.clamp_(0, 1)


def _check_targets(queries, prototypes, targets, metric):
    P = _check_points(queries, prototypes)
    _check_metric(metric)
    n = queries.shape[0]
    targets = _check_indices(
        targets, "targets", (n,), P, "prototype indices", queries.device
    )
    if n == 0:
        raise ValueError("queries is empty; pass at least one query.")
    return P, targets


@torch.no_grad()
def prototype_nll(
    queries, prototypes, targets, *, metric, temperature, max_memory=None
):
    """Mean negative log-likelihood of target prototypes under the soft assignment.

    The likelihood of prototype ``t`` for query ``q`` is
    ``softmax(-D(q, .) / temperature)_t``, as in
    :func:`soft_assign_marginals`.

    Parameters
    ----------
    queries : torch.Tensor of shape (n, d)
        Floating-point queries (``n >= 1``).
    prototypes : torch.Tensor of shape (P, d)
        Prototypes on the same device.
    targets : torch.Tensor of shape (n,)
        Integer index of each query's true prototype.
    metric : {'euclidean', 'cosine'}
        Distance ``D``, as in :func:`nearest_prototypes`.
    temperature : float
        Softmax temperature ``T > 0``.
    max_memory : int or None, default=None
        Bytes for one chunk's ``(chunk, P)`` block (``None``: 64 MiB).

    Returns
    -------
    nll : float
        The mean over queries of ``-log softmax(-D/T)_target`` (natural log),
        accumulated in float64 (float32 on ``mps``).
    """
    P, targets = _check_targets(queries, prototypes, targets, metric)
    T = _check_temperature(temperature)
    max_memory = _check_max_memory(max_memory)
    queries = queries.detach()
    n = queries.shape[0]
    protos = _Prototypes(prototypes, queries.dtype, metric)
    rows = min(_chunk_rows(max_memory, P, queries.element_size()), n)
    buf = queries.new_empty((rows, P))
    wide = _wide_dtype(queries.device)
    total = torch.zeros((), dtype=wide, device=queries.device)
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        q, _ = protos.prepare(queries[start:stop])
        block = buf[: stop - start]
        protos.partial(q, block)
        block.sub_(block.min(dim=1, keepdim=True).values)
        gap = block.gather(1, targets[start:stop, None]).squeeze(1)
        lse = block.mul_(-1.0 / T).exp_().sum(dim=1).log_()
        total += (gap.to(wide) / T + lse.to(wide)).sum()
    return float(total) / n
