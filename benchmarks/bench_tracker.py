"""Overhead of ``sknc.callbacks.NeuralCollapseTracker`` on training time.

Fits ``FixedETFClassifier`` (default backbone: one hidden layer of 512 units,
batch size 128) on the built-in digits (1000 single digits + 1000 pairs,
``random_state=0``) without a tracker and with trackers measuring every
epoch and every 5th epoch, and prints a Markdown table of the median wall
time of ``fit`` over ``--repeats`` runs (configurations interleaved, so that
a change of machine load hits all of them alike) and the overhead ratio
``(t_tracker - t_none) / t_none``. The tracker's own timing (the ``nc_dur``
history key, summed over epochs) is shown next to it.

    python benchmarks/bench_tracker.py --threads 1
    python benchmarks/bench_tracker.py --device cuda

Use ``--threads 1`` on a small shared machine (see ``benchmarks/README.md``).
"""

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import add_device_argument  # noqa: E402

CONFIGS = {
    "no tracker": None,
    "every=1": {"every": 1},
    "every=1, +rho": {
        "every": 1,
        "metrics": ("nc1", "nc2", "nc2_means", "nc3", "ncm", "rho"),
    },
    "every=5": {"every": 5},
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n", type=int, default=1000, help="samples per multiplicity")
    add_device_argument(parser)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from sknc import FixedETFClassifier
    from sknc.callbacks import NeuralCollapseTracker
    from sknc.datasets import make_multilabel_digits

    X, Y = make_multilabel_digits({1: args.n, 2: args.n}, random_state=0)

    def fit(config):
        callbacks = [] if config is None else [NeuralCollapseTracker(**config)]
        clf = FixedETFClassifier(
            max_epochs=args.max_epochs,
            random_state=0,
            callbacks=callbacks,
            device=args.device,
        )
        start = time.perf_counter()
        clf.fit(X, Y)
        elapsed = time.perf_counter() - start
        nc_dur = sum(row.get("nc_dur", 0.0) for row in clf.history)
        return elapsed, nc_dur, clf

    fit(None)  # warm-up: the first fit pays torch's one-off set-up
    times = {name: [] for name in CONFIGS}
    nc_durs = {name: [] for name in CONFIGS}
    last = {}
    for _ in range(args.repeats):
        for name, config in CONFIGS.items():
            elapsed, nc_dur, clf = fit(config)
            times[name].append(elapsed)
            nc_durs[name].append(nc_dur)
            last[name] = clf

    print(
        f"FixedETFClassifier on digits {args.n}+{args.n}, {args.max_epochs} epochs, "
        f"torch threads {torch.get_num_threads()}, device: {args.device}, "
        f"{args.repeats} repeats, "
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}"
    )
    print()
    print("| tracker | fit s (median) | overhead vs none | tracker's own s (nc_dur) |")
    print("|---|---|---|---|")
    base = statistics.median(times["no tracker"])
    for name in CONFIGS:
        t = statistics.median(times[name])
        own = statistics.median(nc_durs[name])
        print(f"| {name} | {t:.2f} | {(t - base) / base:+.0%} | {own:.2f} |")
    history = last["every=1"].history
    final = {k: round(v, 4) for k, v in history[-1].items() if "nc" in k}
    print()
    print("final epoch (every=1):", final)
    same = np.array_equal(
        last["no tracker"].predict(X[:200]), last["every=1"].predict(X[:200])
    )
    print("predictions identical with and without the tracker:", same)


if __name__ == "__main__":
    main()
