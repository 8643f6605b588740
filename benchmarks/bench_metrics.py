"""Time and memory of ``sknc.metrics.neural_collapse_report`` on large features.

Compares the report with the cheapest pass that touches the same data: one
streamed pass computing ``H^T H`` with the same chunking (float32 products
accumulated in float64). Writes a Markdown table.

Memory is the resident set size (RSS) of the process, sampled every 2 ms by a
thread while each step runs (``benchmarks._harness.PeakRSS``: torch's CPU
allocations are invisible to tracemalloc), and ``ru_maxrss`` for the whole
run; on CUDA, torch's own peak allocation is reported too.

Examples
--------
    python -m benchmarks.bench_metrics --threads 1 --n 1000000 --d 512 --k 100
"""

import gc
import resource
import sys
import time

import numpy as np
import torch

from sknc.metrics import neural_collapse_report
from sknc.metrics._checks import default_chunk_size

from . import PeakRSS, Run, add_common_arguments, positive_int, study_parser, table

GiB = 2**30


def make_data(n, d, k, chunk, seed=0):
    """float32 features with class structure; half multiplicity 1, half 2."""
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    means = torch.randn(k, d, generator=gen) * 2.0 + 1.0  # not centred
    H = np.empty((n, d), dtype=np.float32)
    Y = np.zeros((n, k), dtype=np.uint8)
    first = rng.integers(k, size=n)
    second = (first + rng.integers(1, k, size=n)) % k
    pair = rng.random(n) < 0.5
    rows = np.arange(n)
    Y[rows, first] = 1
    Y[rows[pair], second[pair]] = 1
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        Yc = torch.from_numpy(Y[start:stop]).float()
        Hc = Yc @ means / Yc.sum(1, keepdim=True) + torch.randn(
            stop - start, d, generator=gen
        )
        torch.from_numpy(H[start:stop]).copy_(Hc)
    return H, Y


def gram_pass(H, chunk, device):
    """Baseline: one streamed pass accumulating H^T H in float64."""
    d = H.shape[1]
    total = torch.zeros(d, d, dtype=torch.float64, device=device)
    with torch.no_grad():
        for start in range(0, H.shape[0], chunk):
            Hc = torch.as_tensor(H[start : start + chunk]).to(device)
            total += (Hc.T @ Hc).double()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return total


def timed(fn, repeat):
    best, out = float("inf"), None
    peak = 0
    for _ in range(repeat):
        gc.collect()
        with PeakRSS() as mem:
            t0 = time.perf_counter()
            out = fn()
            best = min(best, time.perf_counter() - t0)
        peak = max(peak, mem.peak)
        base = mem.start
    return best, peak, base, out


def main(argv=None):
    parser = study_parser(__doc__)
    parser.add_argument("--n", type=positive_int, default=1_000_000, help="rows")
    parser.add_argument("--d", type=positive_int, default=512, help="features")
    parser.add_argument("--k", type=positive_int, default=100, help="labels")
    add_common_arguments(parser, "device")
    parser.add_argument(
        "--chunk-size",
        type=positive_int,
        default=None,
        help="rows per chunk, of the report and of the baseline alike "
        "(default: 2**22 // d, at least 256, as the library's default)",
    )
    parser.add_argument("--n-random", type=positive_int, default=1000)
    parser.add_argument(
        "--repeat", type=positive_int, default=1, help="best of (default: 1)"
    )
    add_common_arguments(parser, "threads", "out")
    args = parser.parse_args(argv)
    run = Run(args)
    device = torch.device(args.device)
    chunk = args.chunk_size or default_chunk_size(args.d)

    t0 = time.perf_counter()
    H, Y = make_data(args.n, args.d, args.k, chunk)
    t_gen = time.perf_counter() - t0
    if device.type == "cuda":  # features on the GPU, as a training loop has them
        H_in, Y_in = torch.from_numpy(H).to(device), torch.from_numpy(Y).to(device)
        torch.cuda.reset_peak_memory_stats()
    else:
        H_in, Y_in = H, Y
    size_H = H.nbytes

    t_gram, peak_gram, base_gram, _ = timed(
        lambda: gram_pass(H_in, chunk, device), args.repeat
    )
    t_rep, peak_rep, base_rep, report = timed(
        lambda: neural_collapse_report(
            H_in, Y_in, n_random=args.n_random, random_state=0, chunk_size=chunk
        ),
        args.repeat,
    )
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    rows = [
        [
            name,
            f"{t:.2f}",
            f"{t / t_gram:.2f}",
            f"{peak / GiB:.2f}",
            f"{(peak - base) / GiB:.3f}",
            f"{peak / size_H:.2f}",
        ]
        for name, t, peak, base in (
            ("H^T H pass (baseline)", t_gram, peak_gram, base_gram),
            ("neural_collapse_report", t_rep, peak_rep, base_rep),
        )
    ]
    lines = [f"ru_maxrss of the whole process: {maxrss / GiB:.2f} GiB"]
    if device.type == "cuda":
        lines.append(
            f"torch.cuda.max_memory_allocated: "
            f"{torch.cuda.max_memory_allocated() / GiB:.2f} GiB"
        )
    shown = {k: v for k, v in report.items() if k != "multiplicity_counts"}
    shown["rho"] = {m: round(r, 4) for m, r in shown["rho"].items()}
    shown = {k: round(v, 4) if isinstance(v, float) else v for k, v in shown.items()}
    lines.append(f"report: {shown}")
    settings = [
        f"- n={args.n}, d={args.d}, K={args.k}, chunk_size={chunk}, "
        f"device={device}; data generation {t_gen:.1f} s; H = {size_H / GiB:.2f} "
        f"GiB, Y = {Y.nbytes / GiB:.2f} GiB; best of {args.repeat}"
    ]
    header = run.header("# neural_collapse_report on large features", settings)
    body = table(
        [
            "step",
            "time (s)",
            "ratio to H^T H pass",
            "peak RSS (GiB)",
            "extra over start (GiB)",
            "peak RSS / size of H",
        ],
        rows,
    )
    return run.finish("\n\n".join([header, body, *lines]))


if __name__ == "__main__":
    sys.exit(main())
