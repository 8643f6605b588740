"""Time and memory of ``sknc.metrics.neural_collapse_report`` on large features.

Compares the report with the cheapest pass that touches the same data: one
streamed pass computing ``H^T H`` with the same chunking (float32 products
accumulated in float64). Prints a Markdown table.

    python benchmarks/bench_metrics.py --n 1000000 --d 512 --k 100

Memory is the resident set size (RSS) of the process, sampled every 2 ms by a
thread while each step runs (torch's CPU allocations are invisible to
tracemalloc), and ``ru_maxrss`` for the whole run; on CUDA, torch's own peak
allocation is reported too.
"""

import argparse
import gc
import os
import platform
import resource
import threading
import time

import numpy as np
import torch

from sknc.metrics import neural_collapse_report
from sknc.metrics._checks import default_chunk_size

_PAGE = os.sysconf("SC_PAGE_SIZE")
GiB = 2**30


def current_rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


class PeakRSS:
    """Sample the RSS in a thread; ``peak`` is the largest value seen."""

    def __init__(self, interval=0.002):
        self.interval = interval

    def __enter__(self):
        self.start = current_rss()
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, current_rss())
            time.sleep(self.interval)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, current_rss())


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--d", type=int, default=512)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--chunk-size", type=int, default=None)
    parser.add_argument("--n-random", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
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

    print(
        f"n={args.n}, d={args.d}, K={args.k}, chunk_size={chunk}, "
        f"device={device}, torch threads={torch.get_num_threads()}, "
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}; "
        f"data generation {t_gen:.1f} s; H = {size_H / GiB:.2f} GiB, "
        f"Y = {Y.nbytes / GiB:.2f} GiB\n"
    )
    print(
        "| step | time (s) | ratio to H^T H pass | peak RSS (GiB) | "
        "extra over start (GiB) | peak RSS / size of H |"
    )
    print("|---|---|---|---|---|---|")
    for name, t, peak, base in (
        ("H^T H pass (baseline)", t_gram, peak_gram, base_gram),
        ("neural_collapse_report", t_rep, peak_rep, base_rep),
    ):
        print(
            f"| {name} | {t:.2f} | {t / t_gram:.2f} | {peak / GiB:.2f} | "
            f"{(peak - base) / GiB:.3f} | {peak / size_H:.2f} |"
        )
    print(f"\nru_maxrss of the whole process: {maxrss / GiB:.2f} GiB")
    if device.type == "cuda":
        print(
            f"torch.cuda.max_memory_allocated: "
            f"{torch.cuda.max_memory_allocated() / GiB:.2f} GiB"
        )
    shown = {k: v for k, v in report.items() if k != "multiplicity_counts"}
    shown["rho"] = {m: round(r, 4) for m, r in shown["rho"].items()}
    print(
        "\nreport:",
        {k: round(v, 4) if isinstance(v, float) else v for k, v in shown.items()},
    )


if __name__ == "__main__":
    main()
