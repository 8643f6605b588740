"""Overhead of ``sknc.callbacks.NeuralCollapseTracker`` on training time.

Fits ``FixedETFClassifier`` (default backbone: one hidden layer of 512 units,
batch size 128) on the built-in digits (1000 single digits + 1000 pairs,
``random_state=0``) without a tracker and with trackers measuring every
epoch and every 5th epoch, and prints a Markdown table of the median wall
time of ``fit`` over ``--repeats`` runs (configurations interleaved, so that
a change of machine load hits all of them alike) and the overhead ratio
``(t_tracker - t_none) / t_none``. The tracker's own timing (the ``nc_dur``
history key, summed over epochs) is shown next to it. Use ``--threads 1`` on
a small shared machine (see ``benchmarks/README.md``).

Examples
--------
    python -m benchmarks.bench_tracker --threads 1
    python -m benchmarks.bench_tracker --device cuda
"""

import statistics
import sys
import time

import numpy as np

from sknc.callbacks import NeuralCollapseTracker
from sknc.datasets import make_multilabel_digits

from . import (
    Run,
    add_common_arguments,
    make_estimator,
    positive_int,
    study_parser,
    table,
    warm_up,
)

CONFIGS = {
    "no tracker": None,
    "every=1": {"every": 1},
    "every=1, +rho": {
        "every": 1,
        "metrics": ("nc1", "nc2", "nc2_means", "nc3", "ncm", "rho"),
    },
    "every=5": {"every": 5},
}


def main(argv=None):
    parser = study_parser(
        __doc__,
        "threads",
        "max_epochs",
        max_epochs={"default": 30, "help": "max_epochs (default: 30)"},
    )
    parser.add_argument(
        "--repeats",
        type=positive_int,
        default=5,
        help="interleaved fits per configuration; times are medians (default: 5)",
    )
    parser.add_argument(
        "--n",
        type=positive_int,
        default=1000,
        help="samples per multiplicity (default: 1000)",
    )
    add_common_arguments(parser, "device", "out")
    args = parser.parse_args(argv)
    run = Run(args)
    X, Y = make_multilabel_digits({1: args.n, 2: args.n}, random_state=0)

    def fit(config):
        callbacks = [] if config is None else [NeuralCollapseTracker(**config)]
        clf = make_estimator(
            "etf",
            0,
            device=args.device,
            max_epochs=args.max_epochs,
            callbacks=callbacks,
        )
        start = time.perf_counter()
        clf.fit(X, Y)
        elapsed = time.perf_counter() - start
        nc_dur = sum(row.get("nc_dur", 0.0) for row in clf.history)
        return elapsed, nc_dur, clf

    warm_up(args.device)
    times = {name: [] for name in CONFIGS}
    nc_durs = {name: [] for name in CONFIGS}
    last = {}
    for _ in range(args.repeats):
        for name, config in CONFIGS.items():
            elapsed, nc_dur, clf = fit(config)
            times[name].append(elapsed)
            nc_durs[name].append(nc_dur)
            last[name] = clf

    base = statistics.median(times["no tracker"])
    rows = []
    for name in CONFIGS:
        t = statistics.median(times[name])
        own = statistics.median(nc_durs[name])
        rows.append([name, f"{t:.2f}", f"{(t - base) / base:+.0%}", f"{own:.2f}"])
    history = last["every=1"].history
    final = {k: round(v, 4) for k, v in history[-1].items() if "nc" in k}
    same = np.array_equal(
        last["no tracker"].predict(X[:200]), last["every=1"].predict(X[:200])
    )
    settings = [
        f"- FixedETFClassifier on digits {args.n}+{args.n}, {args.max_epochs} "
        f"epochs, device: {args.device}, {args.repeats} repeats"
    ]
    return run.finish(
        "\n\n".join(
            [
                run.header("# Cost of NeuralCollapseTracker", settings),
                table(
                    [
                        "tracker",
                        "fit s (median)",
                        "overhead vs none",
                        "tracker's own s (nc_dur)",
                    ],
                    rows,
                ),
                f"final epoch (every=1): {final}",
                f"predictions identical with and without the tracker: {same}",
            ]
        )
    )


if __name__ == "__main__":
    sys.exit(main())
