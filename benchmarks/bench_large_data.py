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

``--tmc2007`` adds a run on the tmc2007 training split (``--data-dir``),
saved as ``.npy`` and opened as a memmap.

Examples
--------
    python -m benchmarks.bench_large_data --threads 1 \\
        --sizes 100000 300000 1000000 --out benchmarks/results/large_data.md
    python -m benchmarks.bench_large_data --threads 1 --modes dataset \\
        --workers 0 2 --sizes 100000 1000000
    python -m benchmarks.bench_large_data --device cuda --modes memmap dataset
"""

import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from sknc._bench import load_data

from . import (
    PeakRSS,
    Run,
    add_common_arguments,
    limit_threads,
    log,
    make_estimator,
    positive_int,
    study_parser,
    table,
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
    data = load_data(path)
    np.save(folder / "X.npy", data["X_train"])
    np.save(folder / "Y.npy", data["Y_train"])
    return True


def run_one(folder, mode, workers, decoder, args, queue):
    """Fit, measure NC and predict in this (fresh) process; report to queue."""
    # a spawned process makes "spawn" its children's default too: DataLoader
    # workers would then re-import torch and this script at every epoch
    # (seconds each); fork them, as a Linux process started normally does
    mp.set_start_method("fork", force=True)
    limit_threads(args.threads)
    from sknc.metrics import neural_collapse_report

    # the imports' memory is the baseline, not part of the run
    torch.zeros(1) @ torch.zeros(1)
    with PeakRSS(interval=0.02) as mem:
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
        clf = make_estimator(
            "etf",
            0,
            device=args.device,
            max_epochs=args.epochs,
            hidden_layer_sizes=(args.hidden,),
            batch_size=args.batch_size,
            decoder=decoder,
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
        # what the decoder keeps: one mean per label set, or sampled rows
        kept = getattr(clf.decoder_, "prototypes_", None)
        kept = kept if kept is not None else clf.decoder_.features_
        subset = float((pred == Y[:head]).all(axis=1).mean())
    queue.put(
        {
            "rows": len(X),
            "features": X.shape[1],
            "labels": Y.shape[1],
            "mode": mode
            + (f" ({workers} DataLoader workers)" if mode == "dataset" else ""),
            "decoder": decoder,
            "decoder_rows": len(kept),
            "decoder_mib": kept.numel() * kept.element_size() / MiB,
            "predict_rows_per_s": head / predict_s,
            "x_mib": X.nbytes / MiB,
            "base_anon_mib": mem.start_anon / MiB,
            "peak_anon_mib": mem.peak_anon / MiB,
            "peak_rss_mib": mem.hwm / MiB,
            "fit_s": fit_s,
            "nc_s": nc_s,
            "predict_s": predict_s,
            "nc1": report["nc1"],
            "train_subset_acc_first_100k": subset,
        }
    )


def measure(folder, mode, workers, decoder, args):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(
        target=run_one, args=(folder, mode, workers, decoder, args, queue)
    )
    proc.start()
    result = queue.get()
    proc.join()
    return result


HEADER = [
    "data",
    "rows",
    "X on disk (MiB)",
    "X held as",
    "decoder (rows kept, MiB)",
    "peak own memory, RssAnon (MiB)",
    "of which the run",
    "peak resident incl. file pages (MiB)",
    "fit (s)",
    "features + NC report (s)",
    "NC1",
    "predict (rows/s)",
]


def row(r):
    return [
        r["name"],
        f"{r['rows']:,}",
        f"{r['x_mib']:.0f}",
        r["mode"],
        f"{r['decoder']} ({r['decoder_rows']:,}, {r['decoder_mib']:.1f})",
        f"{r['peak_anon_mib']:.0f}",
        f"{r['peak_anon_mib'] - r['base_anon_mib']:.0f}",
        f"{r['peak_rss_mib']:.0f}",
        f"{r['fit_s']:.1f}",
        f"{r['nc_s']:.1f}",
        f"{r['nc1']:.3f}",
        f"{r['predict_rows_per_s']:,.0f}",
    ]


def main(argv=None):
    parser = study_parser(__doc__)
    parser.add_argument(
        "--sizes",
        type=positive_int,
        nargs="+",
        default=[100_000, 1_000_000],
        help="rows of the synthetic data sets (default: 100000 1000000)",
    )
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=["memmap", "memory", "dataset"],
        default=["memmap", "memory"],
        help="how X is held (default: memmap memory)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[0],
        help="DataLoader worker processes of the dataset mode (one run each)",
    )
    parser.add_argument(
        "--decoders",
        nargs="+",
        choices=["onn", "knn"],
        default=["onn"],
        help="decoders to fit and predict with (one run each; default: onn)",
    )
    parser.add_argument("--features", type=positive_int, default=64)
    parser.add_argument("--labels", type=positive_int, default=10)
    parser.add_argument("--hidden", type=positive_int, default=128)
    parser.add_argument("--epochs", type=positive_int, default=1)
    parser.add_argument("--batch-size", type=positive_int, default=1024)
    parser.add_argument(
        "--tmc2007", action="store_true", help="add the tmc2007 training split"
    )
    add_common_arguments(parser, "data_dir", "threads")
    parser.add_argument("--workdir", default=None, help="for the .npy files")
    add_common_arguments(parser, "out", "device")
    args = parser.parse_args(argv)
    if not Path("/proc/self/status").exists():
        parser.error("peak memory is read from /proc/self/status: Linux only")
    run = Run(args)
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # the spawned processes
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
                    for decoder in args.decoders:
                        result = measure(folder, mode, workers, decoder, args)
                        result["name"] = name
                        log(f"[run] {json.dumps(result)}")
                        rows.append(result)
            for f in folder.iterdir():
                f.unlink()
    settings = [
        f"- device: {args.device}; FixedETFClassifier(hidden_layer_sizes="
        f"({args.hidden},), max_epochs={args.epochs}, batch_size={args.batch_size}, "
        f"decoder in {args.decoders}); features written to a memmap in "
        "100,000-row chunks and `neural_collapse_report` computed from it",
        "- RssAnon: the process's own memory (the baseline after imports is "
        "about the first 300 MiB); the resident peak also counts cached pages "
        "of the memmapped files. The DataLoader workers' own memory is not "
        "counted (separate processes).",
    ]
    header = run.header("# Large data: peak memory against data size", settings)
    return run.finish(header + "\n\n" + table(HEADER, [row(r) for r in rows]))


if __name__ == "__main__":
    sys.exit(main())
