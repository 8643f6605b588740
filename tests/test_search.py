import math

import pytest
import torch

from sknc.decoders import (
    fit_temperature,
    nearest_prototypes,
    prototype_nll,
    soft_assign_marginals,
)

METRICS = ["euclidean", "cosine"]


def _data(n=53, P=29, d=5, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(n, d, generator=g, dtype=torch.float64)
    p = torch.randn(P, d, generator=g, dtype=torch.float64)
    return q.to(dtype), p.to(dtype)


def _reference(q, p, metric):
    """Brute-force distances in float64."""
    q, p = q.double(), p.double()
    if metric == "euclidean":
        return torch.cdist(q, p) ** 2
    qn = q / q.norm(dim=1, keepdim=True).clamp_min(1e-300)
    pn = p / p.norm(dim=1, keepdim=True).clamp_min(1e-300)
    return 1 - qn @ pn.T


def _memory_for_rows(rows, P, dtype):
    """max_memory giving chunks of ``rows`` query rows."""
    return rows * P * torch.finfo(dtype).bits // 8


def _label_sets(P, K, seed=0, empty=True):
    """P random label sets of 1-3 labels (the first one empty if asked)."""
    g = torch.Generator().manual_seed(seed)
    L = torch.zeros(P, K, dtype=torch.bool)
    sizes = torch.randint(1, 4, (P,), generator=g)
    for i in range(P):
        L[i, torch.randperm(K, generator=g)[: sizes[i]]] = True
    if empty:
        L[0] = False
    return L


def _admissible(L, query_labels):
    """(n, P): the label set of the prototype is inside the query's labels."""
    member = torch.zeros(len(query_labels), L.shape[1], dtype=torch.bool)
    member.scatter_(1, query_labels, True)
    outside = L.double() @ (~member).double().T  # (P, n) labels not allowed
    return (outside == 0).T


# --------------------------------------------------------------------------
# nearest_prototypes
# --------------------------------------------------------------------------


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("k", [1, 4])
@pytest.mark.parametrize("rows", [None, 1, 7, 1000])
def test_matches_brute_force(metric, dtype, k, rows):
    q, p = _data(dtype=dtype)
    max_memory = None if rows is None else _memory_for_rows(rows, len(p), dtype)
    D, index = nearest_prototypes(q, p, metric=metric, k=k, max_memory=max_memory)
    assert D.shape == index.shape == (len(q), k)
    assert D.dtype == dtype and index.dtype == torch.long
    ref = _reference(q, p, metric)
    ref_D, ref_index = ref.topk(k, dim=1, largest=False)
    tol = 1e-4 if dtype == torch.float32 else 1e-10
    torch.testing.assert_close(D.double(), ref_D, atol=tol, rtol=tol)
    # the reported distance is the distance to the reported prototype
    torch.testing.assert_close(D.double(), ref.gather(1, index), atol=tol, rtol=tol)
    if dtype == torch.float64:
        assert torch.equal(index, ref_index)
    assert (D[:, 1:] >= D[:, :-1]).all()


def test_ties_are_ordered_by_index():
    p = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [1.0, 0.0], [5.0, 5.0]])
    q = torch.tensor([[0.0, 0.0], [0.5, 0.0], [1.0, 0.0]])
    D, index = nearest_prototypes(q, p, k=1)
    assert index[:, 0].tolist() == [0, 0, 1]
    D, index = nearest_prototypes(q, p, k=3)
    assert index[0].tolist() == [0, 2, 1]
    # which of several prototypes tied at the k-th distance is kept is
    # unspecified; the order within the result is by index
    assert index[2, :2].tolist() == [1, 3] and index[2, 2] in (0, 2)
    D, index = nearest_prototypes(q, p, k=4)
    assert index[2].tolist() == [1, 3, 0, 2]
    D, index = nearest_prototypes(q, p, k=4, max_memory=1)
    assert index[1].tolist() == [0, 1, 2, 3]
    assert D[1].tolist() == [0.25] * 4


def test_cosine_zero_vectors_are_at_distance_one():
    p = torch.tensor([[0.0, 0.0], [1.0, 0.0], [-2.0, 0.0]])
    q = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 1.0]])
    D, index = nearest_prototypes(q, p, metric="cosine", k=3)
    assert not D.isnan().any()
    assert D[0].tolist() == [1.0, 1.0, 1.0]
    assert index[0].tolist() == [0, 1, 2]
    assert D[1].tolist() == [0.0, 1.0, 2.0] and index[1].tolist() == [1, 0, 2]
    assert D[2].tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_distances_are_clamped(dtype):
    p = torch.randn(20, 16, dtype=dtype) * 1e3
    D, index = nearest_prototypes(p, p, k=1)
    assert (D >= 0).all() and torch.equal(index[:, 0], torch.arange(20))
    D, _ = nearest_prototypes(torch.cat([p, -p]), p, metric="cosine", k=20)
    assert (D >= 0).all() and (D <= 2).all()


def test_mixed_dtypes_compute_in_the_queries_dtype():
    q, p = _data()
    D, index = nearest_prototypes(q.float(), p, k=2)
    assert D.dtype == torch.float32
    _, ref = nearest_prototypes(q.float(), p.float(), k=2)
    assert torch.equal(index, ref)


def test_no_queries_and_gradients():
    q, p = _data()
    D, index = nearest_prototypes(q[:0], p, k=3)
    assert D.shape == index.shape == (0, 3)
    q.requires_grad_(True)
    D, index = nearest_prototypes(q, p)
    assert not D.requires_grad


# --------------------------------------------------------------------------
# Candidate pruning
# --------------------------------------------------------------------------


def _pruned_reference(q, p, L, query_labels, metric, k):
    ref = _reference(q, p, metric)
    adm = _admissible(L, query_labels)
    masked = ref.masked_fill(~adm, math.inf)
    full = adm.sum(dim=1) < k  # fall back to the full search
    masked[full] = ref[full]
    return masked.topk(k, dim=1, largest=False), full


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("layout", ["bool", "float", "coo", "csr"])
@pytest.mark.parametrize("max_memory", [None, 1, 2000])
@pytest.mark.parametrize("empty", [True, False])
def test_pruning_matches_masked_brute_force(metric, k, layout, max_memory, empty):
    K, P, n, r = 9, 40, 70, 4
    q, p = _data(n=n, P=P, d=6)
    L = _label_sets(P, K, empty=empty)
    L[(L.sum(dim=1) == 1) & L[:, 8], 0] = True  # no set {8}
    g = torch.Generator().manual_seed(1)
    query_labels = torch.randint(K, (n, r), generator=g)
    query_labels[:5, 1] = query_labels[:5, 0]  # repeated labels
    query_labels[5, :] = 8  # no admissible set but the empty one
    labels = {
        "bool": L,
        "float": L.float(),
        "coo": L.float().to_sparse(),
        "csr": L.double().to_sparse_csr(),
    }[layout]
    D, index = nearest_prototypes(
        q,
        p,
        metric=metric,
        k=k,
        max_memory=max_memory,
        query_labels=query_labels,
        prototype_labels=labels,
    )
    (ref_D, ref_index), full = _pruned_reference(q, p, L, query_labels, metric, k)
    assert not full.all()
    assert full[5] == (k > 1 or not empty)  # falls back to the full search
    assert torch.equal(index, ref_index)
    torch.testing.assert_close(D, ref_D)


def test_pruning_with_all_labels_is_the_full_search():
    K, P, n = 6, 30, 40
    q, p = _data(n=n, P=P)
    L = _label_sets(P, K)
    everything = torch.arange(K).repeat(n, 1)
    pruned = nearest_prototypes(q, p, k=2, query_labels=everything, prototype_labels=L)
    full = nearest_prototypes(q, p, k=2)
    assert torch.equal(pruned[1], full[1])
    torch.testing.assert_close(pruned[0], full[0])


# --------------------------------------------------------------------------
# Soft assignment, likelihood and temperature
# --------------------------------------------------------------------------


def _softmax_reference(q, p, metric, T):
    return torch.softmax(-_reference(q, p, metric) / T, dim=1)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("max_memory", [None, 1, 3000])
@pytest.mark.parametrize("layout", ["bool", "coo"])
def test_marginals_match_dense_softmax(metric, max_memory, layout):
    q, p = _data()
    L = _label_sets(len(p), 7)
    T = 0.7 if metric == "euclidean" else 0.1
    labels = L if layout == "bool" else L.double().to_sparse()
    out = soft_assign_marginals(
        q, p, labels, metric=metric, temperature=T, max_memory=max_memory
    )
    ref = _softmax_reference(q, p, metric, T) @ L.double()
    torch.testing.assert_close(out, ref)
    assert out.shape == (len(q), 7) and (out >= 0).all() and (out <= 1).all()
    for top in (len(p), len(p) + 5):
        exact = soft_assign_marginals(
            q, p, labels, metric=metric, temperature=T, max_memory=max_memory, top=top
        )
        torch.testing.assert_close(exact, ref)


def test_marginals_with_many_labels_use_a_sparse_product():
    q, p = _data()
    L = _label_sets(len(p), 300)  # under 1/32 non-zeros
    out = soft_assign_marginals(q, p, L, metric="euclidean", temperature=0.5)
    ref = _softmax_reference(q, p, "euclidean", 0.5) @ L.double()
    torch.testing.assert_close(out, ref)


@pytest.mark.parametrize("max_memory", [None, 1])
def test_marginals_top_restricts_the_softmax(max_memory):
    q, p = _data()
    L = _label_sets(len(p), 7)
    t, T = 5, 2.0
    out = soft_assign_marginals(
        q, p, L, metric="euclidean", temperature=T, top=t, max_memory=max_memory
    )
    D = _reference(q, p, "euclidean")
    far = D >= D.topk(t, dim=1, largest=False).values[:, -1:]
    far.scatter_(1, D.topk(t, dim=1, largest=False).indices, False)
    ref = torch.softmax((-D / T).masked_fill(far, -math.inf), dim=1) @ L.double()
    torch.testing.assert_close(out, ref)
    assert (out >= 0).all() and (out <= 1).all()


def test_marginals_float32_and_tiny_temperature_are_stable():
    q, p = _data(dtype=torch.float32)
    L = _label_sets(len(p), 7)
    out = soft_assign_marginals(q, p, L, metric="euclidean", temperature=1e-12)
    _, index = nearest_prototypes(q, p)
    assert out.dtype == torch.float32 and not out.isnan().any()
    torch.testing.assert_close(out, L[index[:, 0]].float())
    out = soft_assign_marginals(q * 1e3, p * 1e3, L, metric="euclidean", temperature=1)
    assert not out.isnan().any()


@pytest.mark.parametrize("metric", METRICS)
def test_nll_matches_log_softmax(metric):
    q, p = _data()
    targets = torch.randint(len(p), (len(q),))
    T = 0.5
    ref = -torch.log_softmax(-_reference(q, p, metric) / T, dim=1)
    ref = ref.gather(1, targets[:, None]).mean()
    for max_memory in (None, 1):
        nll = prototype_nll(
            q, p, targets, metric=metric, temperature=T, max_memory=max_memory
        )
        assert isinstance(nll, float)
        assert nll == pytest.approx(float(ref), rel=1e-10)


@pytest.mark.parametrize("metric, T0", [("euclidean", 0.5), ("cosine", 0.05)])
def test_fit_temperature_recovers_the_sampling_temperature(metric, T0):
    g = torch.Generator().manual_seed(0)
    q = torch.randn(4000, 4, generator=g, dtype=torch.float64)
    p = torch.randn(30, 4, generator=g, dtype=torch.float64)
    probs = _softmax_reference(q, p, metric, T0)
    targets = torch.multinomial(probs, 1, generator=g).squeeze(1)
    T = fit_temperature(q, p, targets, metric=metric)
    assert isinstance(T, float) and T > 0
    assert T == pytest.approx(T0, rel=0.15)
    # it is the likelihood maximum
    nll = prototype_nll(q, p, targets, metric=metric, temperature=T)
    for factor in (0.9, 1.1):
        other = prototype_nll(q, p, targets, metric=metric, temperature=T * factor)
        assert other > nll
    # deterministic; float32 and a subsample agree
    assert fit_temperature(q, p, targets, metric=metric) == T
    T32 = fit_temperature(q.float(), p.float(), targets, metric=metric)
    assert T32 == pytest.approx(T, rel=1e-3)
    T_sub = fit_temperature(q, p, targets, metric=metric, max_samples=1000)
    assert T_sub == pytest.approx(T0, rel=0.3)


def test_fit_temperature_degenerate_cases():
    q, p = _data()
    assert (
        fit_temperature(
            q, p[:1], torch.zeros(len(q), dtype=torch.long), metric="euclidean"
        )
        == 1.0
    )
    same = p[:1].repeat(3, 1)
    assert (
        fit_temperature(
            q, same, torch.zeros(len(q), dtype=torch.long), metric="euclidean"
        )
        == 1.0
    )
    # every target the nearest: the lower edge of the bracket, positive
    _, nearest = nearest_prototypes(q, p)
    T = fit_temperature(q, p, nearest[:, 0], metric="euclidean")
    assert 0 < T < 1e-3
    # targets the farthest: the upper edge
    _, farthest = nearest_prototypes(q, p, k=len(p))
    T = fit_temperature(q, p, farthest[:, -1], metric="euclidean")
    assert T > 100


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


def test_errors():
    q, p = _data()
    L = _label_sets(len(p), 5)
    labels = torch.zeros(len(q), 2, dtype=torch.long)
    targets = torch.zeros(len(q), dtype=torch.long)
    cases = [
        (lambda: nearest_prototypes(q, p, metric="manhattan"), "metric must be"),
        (lambda: nearest_prototypes(q, p, k=0), "k must be"),
        (lambda: nearest_prototypes(q, p, k=len(p) + 1), "k must be"),
        (lambda: nearest_prototypes(q, p, k=1.0), "k must be"),
        (lambda: nearest_prototypes(q, p[:, :3]), "same number of dimensions"),
        (lambda: nearest_prototypes(q[0], p), "must be 2-D"),
        (lambda: nearest_prototypes(q.long(), p), "floating-point"),
        (lambda: nearest_prototypes(q, p[:0]), "at least one prototype"),
        (lambda: nearest_prototypes(q, p, max_memory=0), "max_memory"),
        (lambda: nearest_prototypes(q, p, query_labels=labels), "both"),
        (
            lambda: nearest_prototypes(
                q, p, query_labels=labels + 5, prototype_labels=L
            ),
            r"label indices in \[0, 5\)",
        ),
        (
            lambda: nearest_prototypes(
                q, p, query_labels=labels[:3], prototype_labels=L
            ),
            "query_labels must have shape",
        ),
        (
            lambda: nearest_prototypes(
                q, p, query_labels=labels.float(), prototype_labels=L
            ),
            "integer tensor",
        ),
        (
            lambda: nearest_prototypes(
                q, p, query_labels=labels, prototype_labels=L[:3]
            ),
            "prototype_labels must have shape",
        ),
        (
            lambda: nearest_prototypes(
                q, p, query_labels=labels, prototype_labels=L * 2
            ),
            "0/1 indicator",
        ),
        (
            lambda: soft_assign_marginals(q, p, L, metric="euclidean", temperature=0),
            "temperature must be",
        ),
        (
            lambda: soft_assign_marginals(
                q, p, L, metric="euclidean", temperature=-1.0
            ),
            "temperature must be",
        ),
        (
            lambda: soft_assign_marginals(
                q, p, L, metric="euclidean", temperature=float("nan")
            ),
            "temperature must be",
        ),
        (
            lambda: soft_assign_marginals(
                q, p, L, metric="euclidean", temperature=1.0, top=0
            ),
            "top must be",
        ),
        (
            lambda: prototype_nll(
                q, p, targets + len(p), metric="euclidean", temperature=1.0
            ),
            "prototype indices",
        ),
        (
            lambda: prototype_nll(
                q, p, targets[:3], metric="euclidean", temperature=1.0
            ),
            "targets must have shape",
        ),
        (
            lambda: fit_temperature(q[:0], p, targets[:0], metric="cosine"),
            "queries is empty",
        ),
        (
            lambda: fit_temperature(q, p, targets, metric="cosine", max_samples=0),
            "max_samples",
        ),
    ]
    for call, match in cases:
        with pytest.raises(ValueError, match=match):
            call()
    with pytest.raises(TypeError, match="torch tensor"):
        nearest_prototypes(q.numpy(), p)


def test_device_mismatch_is_an_error():
    q, p = _data()
    with pytest.raises(ValueError, match=r"\.to\(queries\.device\)"):
        nearest_prototypes(q, p.to("meta"))
    L = _label_sets(len(p), 5)
    labels = torch.zeros(len(q), 2, dtype=torch.long)
    with pytest.raises(ValueError, match="prototype_labels is on meta"):
        nearest_prototypes(q, p, query_labels=labels, prototype_labels=L.to("meta"))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_results_stay_on_the_device_and_match_cpu():
    q, p = _data(dtype=torch.float32)
    L = _label_sets(len(p), 6)
    labels = torch.randint(6, (len(q), 3))
    qc, pc, Lc, lc = (x.cuda() for x in (q, p, L, labels))
    for metric in METRICS:
        D, index = nearest_prototypes(qc, pc, metric=metric, k=3, max_memory=1000)
        assert D.is_cuda and index.is_cuda
        _, ref = nearest_prototypes(q, p, metric=metric, k=3)
        assert torch.equal(index.cpu(), ref)
        D, index = nearest_prototypes(
            qc, pc, metric=metric, query_labels=lc, prototype_labels=Lc
        )
        assert index.is_cuda
        _, ref = nearest_prototypes(
            q, p, metric=metric, query_labels=labels, prototype_labels=L
        )
        assert torch.equal(index.cpu(), ref)
        for top, max_memory in ((None, None), (None, 1), (5, None)):
            out = soft_assign_marginals(
                qc,
                pc,
                Lc,
                metric=metric,
                temperature=0.5,
                top=top,
                max_memory=max_memory,
            )
            assert out.is_cuda
            ref = soft_assign_marginals(
                q, p, L, metric=metric, temperature=0.5, top=top
            )
            torch.testing.assert_close(out.cpu(), ref, atol=1e-5, rtol=1e-4)
        targets = torch.randint(len(p), (len(q),))
        T = fit_temperature(qc, pc, targets.cuda(), metric=metric)
        assert T == pytest.approx(
            fit_temperature(q, p, targets, metric=metric), rel=1e-3
        )
