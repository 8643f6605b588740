"""Time and memory of the nearest-prototype search behind ONN decoding.

Two scenarios, printed as Markdown tables:

1. **Full search**: ``nearest_prototypes(k=1)`` for N queries over P
   prototypes in d dimensions (default 100,000 x 10,000 x 256, float32),
   against one ``torch.matmul`` of the same shapes (``queries @
   prototypes.T``, whose (N, P) output alone is 4 GB by default). Goals:
   time ratio <= 1.5 and extra peak memory <= 512 MB. Also reported: the
   same product into a preallocated, already written output (``out=``), the
   arithmetic without the page faults of a fresh 4 GB array.
2. **Candidate pruning**: K=2,000 labels, P=30,000 distinct label sets of 1
   to 5 labels (labels drawn with a Zipf skew), N=20,000 queries, d=256. The
   prototype of a set follows the tag-wise-average rule of multi-label neural
   collapse; a query is the prototype of a random set plus Gaussian noise,
   and its candidate labels are the top r of a synthetic logit that adds
   ``--signal`` to the labels of the true set. Reports the full search
   against the pruned one (time ratio, agreement of the two answers, and
   how often each finds the true set).

Memory is the resident set size (RSS) of the process, sampled every 2 ms by
a thread while each step runs (``benchmarks._harness.PeakRSS``), as the
peak minus the RSS at the start of the step, with the inputs already
allocated. On CUDA, ``torch.cuda.max_memory_allocated`` over the start
instead. Times are the best of ``--repeat`` runs.

Examples
--------
    python -m benchmarks.bench_decoding_scale --threads 1 2 \\
        --out benchmarks/results/decoding_scale.md
"""

import gc
import os
import sys
import time

import torch

from sknc.decoders import nearest_prototypes

from . import (
    PeakRSS,
    Run,
    add_common_arguments,
    positive_int,
    study_parser,
    synchronize,
    table,
)

MB = 1e6


def measure(fn, device, repeat, keep=True):
    """Best time over ``repeat`` runs, the largest extra memory (bytes) and
    the last result (``None`` unless ``keep``)."""
    best, extra, out = float("inf"), 0, None
    for _ in range(repeat):
        out = None
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()
            start = torch.cuda.memory_allocated(device)
            torch.cuda.reset_peak_memory_stats(device)
        with PeakRSS() as mem:
            t0 = time.perf_counter()
            out = fn()
            synchronize(device)
            best = min(best, time.perf_counter() - t0)
        if device.type == "cuda":
            extra = max(extra, torch.cuda.max_memory_allocated(device) - start)
        else:
            extra = max(extra, mem.peak - mem.start)
        if not keep:
            out = None
    return best, extra, out


# --------------------------------------------------------------------------
# Scenario 2: label sets, prototypes, queries, logits
# --------------------------------------------------------------------------

MULTIPLICITY_P = (0.35, 0.3, 0.2, 0.1, 0.05)
RHO = (0.0, 1.0, 0.8, 0.7, 0.65, 0.6)  # scale of the tag-wise average, by size


def make_label_sets(K, P, generator, zipf=1.0):
    """P distinct label sets of 1-5 labels, labels drawn with a Zipf skew.

    Sizes follow ``MULTIPLICITY_P``; the labels of a set are drawn without
    replacement with probability proportional to ``1 / rank**zipf`` (Gumbel
    top-k). Returns a (P, K) boolean indicator.
    """
    logpop = -zipf * torch.log(torch.arange(1, K + 1, dtype=torch.float32))
    mult_p = torch.tensor(MULTIPLICITY_P, dtype=torch.float64)
    width = len(MULTIPLICITY_P)
    rows = torch.zeros(0, width, dtype=torch.long)
    while len(rows) < P:
        B = 2 * (P - len(rows)) + 1000
        size = torch.multinomial(mult_p, B, replacement=True, generator=generator)
        gumbel = -torch.log(-torch.log(torch.rand(B, K, generator=generator)))
        top = (logpop + gumbel).topk(width, dim=1).indices
        top[torch.arange(width) > size[:, None]] = K  # padding
        rows = torch.unique(torch.cat([rows, top.sort(dim=1).values]), dim=0)
    rows = rows[torch.randperm(len(rows), generator=generator)[:P]]
    Y = torch.zeros(P, K + 1, dtype=torch.bool)
    Y.scatter_(1, rows, True)
    return Y[:, :K]


def make_pruning_data(args):
    g = torch.Generator().manual_seed(args.seed)
    sets = make_label_sets(args.prune_k, args.prune_p, g)
    mu = torch.randn(args.prune_k, args.d, generator=g)
    size = sets.sum(dim=1)
    rho = torch.tensor(RHO)[size]
    prototypes = (sets.float() @ mu) * (rho / size)[:, None]
    truth = torch.randint(args.prune_p, (args.prune_n,), generator=g)
    queries = prototypes[truth] + args.noise * torch.randn(
        args.prune_n, args.d, generator=g
    )
    logits = torch.randn(args.prune_n, args.prune_k, generator=g)
    logits[sets[truth]] += args.signal
    query_labels = logits.topk(args.r, dim=1).indices
    return queries, prototypes, sets, query_labels, truth


def admissible_counts(sets, query_labels, chunk=1024):
    """Prototypes whose label set is inside each query's labels."""
    K = sets.shape[1]
    width = int(sets.sum(1).max())
    # each set's labels, padded with label K, which every query has
    order = torch.argsort((~sets).to(torch.uint8), dim=1, stable=True)[:, :width]
    labels = torch.where(sets.gather(1, order), order, K)
    counts = []
    for start in range(0, len(query_labels), chunk):
        q = query_labels[start : start + chunk]
        member = torch.zeros(K + 1, len(q), dtype=torch.bool)  # label x query
        member[K] = True
        member.scatter_(0, q.T, True)
        counts.append(member[labels].all(dim=1).sum(dim=0))
    return torch.cat(counts)


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def main(argv=None):
    parser = study_parser(__doc__)
    parser.add_argument("--n", type=positive_int, default=100_000, help="queries")
    parser.add_argument("--p", type=positive_int, default=10_000, help="prototypes")
    parser.add_argument("--d", type=positive_int, default=256, help="dimensions")
    add_common_arguments(
        parser,
        "threads",
        "device",
        threads={
            "nargs": "+",
            "default": [1, 2],
            "help": "torch CPU thread counts to measure, each in turn (default: 1 2)",
        },
    )
    parser.add_argument("--repeat", type=positive_int, default=3)
    parser.add_argument(
        "--max-memory", type=int, default=None, help="bytes (default: the library's)"
    )
    parser.add_argument("--skip-full", action="store_true")
    parser.add_argument("--skip-pruning", action="store_true")
    parser.add_argument("--prune-n", type=int, default=20_000)
    parser.add_argument("--prune-p", type=int, default=30_000)
    parser.add_argument("--prune-k", type=int, default=2_000)
    parser.add_argument("--r", type=int, default=15, help="top-r logit labels")
    parser.add_argument("--signal", type=float, default=4.5)
    parser.add_argument("--noise", type=float, default=0.9)
    add_common_arguments(parser, "seed", "out")
    args = parser.parse_args(argv)
    run = Run(args)  # --threads is a list here: measured in turn, not limited
    device = torch.device(args.device)
    load_start = os.getloadavg()
    out = []

    if not args.skip_full:
        g = torch.Generator().manual_seed(args.seed)
        queries = torch.randn(args.n, args.d, generator=g).to(device)
        prototypes = torch.randn(args.p, args.d, generator=g).to(device)
        rows = []
        for threads in args.threads:
            torch.set_num_threads(threads)
            t_mm, mem_mm, _ = measure(
                lambda: torch.matmul(queries, prototypes.T),
                device,
                args.repeat,
                keep=False,
            )
            # The same product into a preallocated, already touched output:
            # the arithmetic alone, without the page faults of a fresh 4 GB.
            product = torch.zeros(args.n, args.p, device=device)
            t_gemm, _, _ = measure(
                lambda out=product: torch.matmul(queries, prototypes.T, out=out),
                device,
                args.repeat,
                keep=False,
            )
            del product
            t_nn, mem_nn, _ = measure(
                lambda: nearest_prototypes(
                    queries, prototypes, k=1, max_memory=args.max_memory
                ),
                device,
                args.repeat,
            )
            rows.append(
                [
                    threads,
                    f"{t_mm:.2f}",
                    f"{t_nn:.2f}",
                    f"**{t_nn / t_mm:.2f}**",
                    f"{t_gemm:.2f}",
                    f"{t_nn / t_gemm:.2f}",
                    f"{mem_mm / MB:.0f}",
                    f"**{mem_nn / MB:.0f}**",
                ]
            )
        del queries, prototypes
        out += [
            f"## Full search: N={args.n:,} queries, P={args.p:,} prototypes, "
            f"d={args.d}, float32, k=1",
            "",
            table(
                [
                    "threads",
                    "matmul (s)",
                    "nearest_prototypes (s)",
                    "ratio (goal <= 1.5)",
                    "matmul, preallocated output (s)",
                    "ratio to it",
                    "matmul extra peak (MB)",
                    "search extra peak (MB, goal <= 512)",
                ],
                rows,
            ),
            "",
        ]

    if not args.skip_pruning:
        t0 = time.perf_counter()
        queries, prototypes, sets, query_labels, truth = make_pruning_data(args)
        t_gen = time.perf_counter() - t0
        member = torch.zeros_like(sets[:1]).expand(len(truth), -1).clone()
        member.scatter_(1, query_labels, True)
        covered = float((~(sets[truth] & ~member).any(dim=1)).float().mean())
        del member
        counts = admissible_counts(sets, query_labels)
        queries, prototypes = queries.to(device), prototypes.to(device)
        labels_dev, sets_dev = query_labels.to(device), sets.to(device)
        rows = []
        for threads in args.threads:
            torch.set_num_threads(threads)
            t_full, mem_full, (_, i_full) = measure(
                lambda: nearest_prototypes(
                    queries, prototypes, max_memory=args.max_memory
                ),
                device,
                args.repeat,
            )
            t_pr, mem_pr, (_, i_pr) = measure(
                lambda: nearest_prototypes(
                    queries,
                    prototypes,
                    max_memory=args.max_memory,
                    query_labels=labels_dev,
                    prototype_labels=sets_dev,
                ),
                device,
                args.repeat,
            )
            i_full, i_pr = i_full[:, 0].cpu(), i_pr[:, 0].cpu()
            rows.append(
                [
                    threads,
                    f"{t_full:.2f}",
                    f"{t_pr:.2f}",
                    f"**{t_full / t_pr:.1f}x**",
                    f"**{float((i_full == i_pr).float().mean()):.4f}**",
                    f"{float((i_full == truth).float().mean()):.4f}",
                    f"{float((i_pr == truth).float().mean()):.4f}",
                    f"{mem_full / MB:.0f} / {mem_pr / MB:.0f}",
                ]
            )
        sizes = sets.sum(dim=1).bincount(minlength=6)[1:].tolist()
        out += [
            f"## Candidate pruning: K={args.prune_k:,} labels, "
            f"P={args.prune_p:,} label sets, N={args.prune_n:,} queries, "
            f"d={args.d}, top r={args.r} logit labels",
            "",
            f"- label sets by size 1..5: {sizes}; the most frequent label is in "
            f"{int(sets[:, 0].sum())} sets; data generated in {t_gen:.1f} s",
            f"- queries: prototype of a uniformly drawn set + N(0, "
            f"{args.noise}^2 I); logits: N(0, 1) + {args.signal} on the true "
            f"labels; the true set is inside the top {args.r} for "
            f"{covered:.1%} of the queries",
            f"- admissible prototypes per query (set inside the top r): mean "
            f"{float(counts.float().mean()):.1f}, max {int(counts.max())}; "
            f"{float((counts == 0).float().mean()):.2%} of the queries have none "
            "and fall back to the full search",
            "",
            table(
                [
                    "threads",
                    "full (s)",
                    "pruned (s)",
                    "speed-up",
                    "agreement with full",
                    "full finds true set",
                    "pruned finds true set",
                    "extra peak MB full / pruned",
                ],
                rows,
            ),
            "",
        ]

    settings = [
        f"- device {device}, threads measured: {args.threads}",
        "- load average (1, 5, 15 min) at start: "
        + ", ".join(f"{x:.2f}" for x in load_start)
        + "; at end: "
        + ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        f"- max_memory: {args.max_memory or 'default (64 MiB)'}; best of "
        f"{args.repeat} runs",
    ]
    header = run.header("# Nearest-prototype search at scale", settings)
    return run.finish("\n".join([header, "", *out]))


if __name__ == "__main__":
    sys.exit(main())
