"""Large data: peak memory of training from a numpy memmap, against the data size.

For each size, a synthetic multi-label data set (``--features`` float32
features, ``--labels`` labels, 1 to 3 labels per row around per-label
centres) is written to ``.npy`` files chunk by chunk, so that it never sits
in memory whole. One fresh process per run then

1. opens ``X`` as a memmap (``np.load(mmap_mode='r')``), loads it into
   memory (``--modes memory``) for comparison, or wraps the memmap in a torch
   ``Dataset`` that returns one row per item (``--modes dataset``), read by
   skorch's ``DataLoader`` with ``--workers`` worker processes;
2. fits ``FixedETFClassifier(decoder='onn')`` (the ONN decoder is fitted in
   one streamed pass: per-set sums and counts, plus a bounded sample of rows
   for its temperature);
3. writes the features ``transform(X)`` chunk by chunk to another memmap and
   computes :func:`sknc.metrics.neural_collapse_report` from it (one streamed
   pass in row chunks);
4. predicts the first 100,000 rows.

Peak memory is sampled every 20 ms from ``/proc/self/status``: ``RssAnon``
(the process's own memory) and ``VmHWM`` (the peak resident set, which also
counts the memmap's file pages the kernel keeps cached while they are read;
those pages can be dropped under memory pressure). Linux only.

``--tmc2007`` adds a run on the tmc2007 training split (``../shared/data``),
saved as ``.npy`` and opened as a memmap.

Examples
--------
    python benchmarks/bench_large_data.py --threads 1 \\
        --sizes 100000 300000 1000000 --out benchmarks/results/large_data.md
    python benchmarks/bench_large_data.py --threads 1 --modes dataset \\
        --workers 0 2 --sizes 100000 1000000
    python benchmarks/bench_large_data.py --device cuda --modes memmap dataset
"""

import argparse
import json
import multiprocessing as mp
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import (  # noqa: E402
    DEFAULT_DATA_DIR,
    add_device_argument,
    log,
)

MiB = 2**20


class MemmapRows(torch.utils.data.Dataset):
    """One row of a ``.npy`` file per item, read from a memmap when asked."""

    def __init__(self, path):
        self.path = path
        self._X = None

    def _array(self):
        if self._X is None:  # opened lazily: each DataLoader worker maps it
            self._X = np.load(self.path, mmap_mode="r")
        return self._X

    def __len__(self):
        return self._array().shape[0]

    def __getitem__(self, i):
        return np.array(self._array()[i])


def write_synthetic(folder, n, n_features, n_labels, seed=0, chunk=100_000):
    """Write X (float32) and Y (uint8) to ``.npy`` files, a chunk at a time."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_labels, n_features)).astype(np.float32)
    X = np.lib.format.open_memmap(
        folder / "X.npy", mode="w+", dtype=np.float32, shape=(n, n_features)
    )
    Y = np.lib.format.open_memmap(
        folder / "Y.npy", mode="w+", dtype=np.uint8, shape=(n, n_labels)
    )
    for start in range(0, n, chunk):
        rows = min(chunk, n - start)
        y = np.zeros((rows, n_labels), dtype=np.uint8)
        m = rng.integers(1, 4, size=rows)
        for i, k in enumerate(m):
            y[i, rng.choice(n_labels, size=k, replace=False)] = 1
        noise = rng.normal(scale=0.8, size=(rows, n_features)).astype(np.float32)
        X[start : start + rows] = y @ centres / np.sqrt(m)[:, None] + noise
        Y[start : start + rows] = y
    X.flush()
    Y.flush()
    del X, Y


def write_tmc2007(folder, data_dir):
    path = Path(data_dir) / "tmc2007.npz"
    if not path.is_file():
        return False
    with np.load(path) as data:
        np.save(folder / "X.npy", np.asarray(data["X_train"], dtype=np.float32))
        np.save(folder / "Y.npy", np.asarray(data["Y_train"], dtype=np.uint8))
    return True


class PeakMemory:
    """Sample RssAnon and VmHWM of this process in a background thread."""

    def __init__(self, interval=0.02):
        self.interval = interval
        self.peak_anon = 0
        self._stop = threading.Event()

    @staticmethod
    def status(field):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
        return 0

    def _run(self):
        while not self._stop.is_set():
            self.peak_anon = max(self.peak_anon, self.status("RssAnon"))
            time.sleep(self.interval)

    def __enter__(self):
        self.base_anon = self.status("RssAnon")
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join()
        self.peak_anon = max(self.peak_anon, self.status("RssAnon"))
        self.peak_rss = self.status("VmHWM")


def run_one(folder, mode, workers, args, queue):
    """Fit, measure NC and predict in this (fresh) process; report to queue."""
    # a spawned process makes "spawn" its children's default too: DataLoader
    # workers would then re-import torch and this script at every epoch
    # (seconds each); fork them, as a Linux process started normally does
    mp.set_start_method("fork", force=True)
    if args.threads:
        torch.set_num_threads(args.threads)
    from sknc import FixedETFClassifier
    from sknc.metrics import neural_collapse_report

    # the imports' memory is the baseline, not part of the run
    torch.zeros(1) @ torch.zeros(1)
    with PeakMemory() as mem:
        X = np.load(folder / "X.npy", mmap_mode=None if mode == "memory" else "r")
        Y = np.load(folder / "Y.npy")  # n x K uint8: small next to X
        loader = {}
        if mode == "dataset" and workers:
            loader = {
                "iterator_train__num_workers": workers,
                "iterator_valid__num_workers": workers,
            }
        if mode == "dataset" and str(args.device).startswith("cuda"):
            loader["iterator_train__pin_memory"] = True
        clf = FixedETFClassifier(
            hidden_layer_sizes=(args.hidden,),
            max_epochs=args.epochs,
            batch_size=args.batch_size,
            decoder="onn",
            random_state=0,
            device=args.device,
            **loader,
        )
        t = time.perf_counter()
        # the dataset mode trains (and fits the decoder) from the Dataset;
        # features and predictions below read the memmap in both modes
        clf.fit(MemmapRows(folder / "X.npy") if mode == "dataset" else X, Y)
        fit_s = time.perf_counter() - t

        t = time.perf_counter()
        d = clf.transform(X[:1]).shape[1]
        H = np.lib.format.open_memmap(
            folder / "H.npy", mode="w+", dtype=np.float32, shape=(len(X), d)
        )
        step = 100_000
        for start in range(0, len(X), step):
            H[start : start + step] = clf.transform(X[start : start + step])
        H.flush()
        H = np.load(folder / "H.npy", mmap_mode="r")
        report = neural_collapse_report(H, Y, random_state=0)
        nc_s = time.perf_counter() - t

        t = time.perf_counter()
        head = min(len(X), 100_000)
        pred = clf.predict(X[:head])
        predict_s = time.perf_counter() - t
        subset = float((pred == Y[:head]).all(axis=1).mean())
    queue.put(
        {
            "rows": len(X),
            "features": X.shape[1],
            "labels": Y.shape[1],
            "mode": mode
            + (f" ({workers} DataLoader workers)" if mode == "dataset" else ""),
            "x_mib": X.nbytes / MiB,
            "base_anon_mib": mem.base_anon / MiB,
            "peak_anon_mib": mem.peak_anon / MiB,
            "peak_rss_mib": mem.peak_rss / MiB,
            "fit_s": fit_s,
            "nc_s": nc_s,
            "predict_s": predict_s,
            "nc1": report["nc1"],
            "train_subset_acc_first_100k": subset,
            "prototypes": len(clf.decoder_.prototypes_),
        }
    )


def measure(folder, mode, workers, args):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=run_one, args=(folder, mode, workers, args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def table(rows):
    head = (
        "| data | rows | X on disk (MiB) | X held as | peak own memory, RssAnon "
        "(MiB) | of which the run | peak resident incl. file pages (MiB) | fit (s) "
        "| features + NC report (s) | NC1 |"
    )
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['rows']:,} | {r['x_mib']:.0f} | {r['mode']} | "
            f"{r['peak_anon_mib']:.0f} | {r['peak_anon_mib'] - r['base_anon_mib']:.0f} "
            f"| {r['peak_rss_mib']:.0f} | {r['fit_s']:.1f} | {r['nc_s']:.1f} | "
            f"{r['nc1']:.3f} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=["memmap", "memory", "dataset"],
        default=["memmap", "memory"],
    )
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[0],
        help="DataLoader worker processes of the dataset mode (one run each)",
    )
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--labels", type=int, default=10)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--tmc2007", action="store_true")
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--workdir", default=None, help="for the .npy files")
    parser.add_argument("--out", default=None, help="Markdown report")
    add_device_argument(parser)
    args = parser.parse_args(argv)
    if not Path("/proc/self/status").exists():
        parser.error("peak memory is read from /proc/self/status: Linux only")
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    rows = []
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        jobs = [(f"synthetic {n:,}", n) for n in args.sizes]
        if args.tmc2007:
            jobs.append(("tmc2007 (train)", None))
        for name, n in jobs:
            folder = Path(tmp) / name.split()[0]
            folder.mkdir(exist_ok=True)
            t = time.perf_counter()
            if n is None:
                if not write_tmc2007(folder, args.data_dir):
                    log(f"[skip] tmc2007 not found in {args.data_dir}")
                    continue
            else:
                write_synthetic(folder, n, args.features, args.labels)
            log(f"[data] {name}: written in {time.perf_counter() - t:.0f} s")
            for mode in args.modes:
                for workers in args.workers if mode == "dataset" else [0]:
                    result = measure(folder, mode, workers, args)
                    result["name"] = name
                    log(f"[run] {json.dumps(result)}")
                    rows.append(result)
            for f in folder.iterdir():
                f.unlink()
    import sknc

    report = "\n\n".join(
        [
            "# Large data: peak memory against data size",
            f"`python benchmarks/bench_large_data.py {' '.join(sys.argv[1:])}`; "
            f"sknc {sknc.__version__}, torch {torch.__version__}, numpy "
            f"{np.__version__}, {os.cpu_count()} CPUs, device: {args.device}, "
            f"{time.strftime('%Y-%m-%d')}.",
            f"FixedETFClassifier(hidden_layer_sizes=({args.hidden},), "
            f"max_epochs={args.epochs}, batch_size={args.batch_size}, "
            "decoder='onn'); features written to a memmap in 100,000-row chunks and "
            "`neural_collapse_report` computed from it. RssAnon: the process's own "
            "memory (the baseline after imports is about the first 300 MiB); the "
            "resident peak also counts cached pages of the memmapped files. "
            "The DataLoader workers' own memory is not counted (separate "
            "processes).",
            table(rows),
        ]
    )
    if args.out:
        Path(args.out).write_text(report + "\n")
    print(report)


if __name__ == "__main__":
    main()
