"""Epochs to collapse with and without normalized features (``feature_norm``).

For each data set (official train/test split, ``StandardScaler`` fitted on
the training part), fits ``PALClassifier`` and
``FixedETFClassifier`` with ``feature_norm`` None (plain features), 0.1 (unit
features, fixed temperature) and ``'learned'``, with a
``NeuralCollapseTracker`` measuring NC1 on the training data after every
epoch. Reports the first epoch at which NC1 falls below each threshold
(``--thresholds``; "—" if never), NC1 at the end, and test micro-F1 and subset
accuracy, as mean over seeds (epochs: median). NC1 needs single-label rows
of at least two labels: on yeast and emotions (almost no single-label rows)
it is undefined.

NC1 = tr(Sigma_W pinv(Sigma_B)) / K is scale-free, so plain and unit-norm
features are compared on the same footing.

Examples
--------
    python -m benchmarks.bench_feature_norm --threads 1 --seeds 3
    python -m benchmarks.bench_feature_norm --datasets digits scene --max-epochs 50
"""

import sys

import numpy as np

from sknc.callbacks import NeuralCollapseTracker

from . import (
    Run,
    Runner,
    add_common_arguments,
    cell,
    load_datasets,
    log,
    make_estimator,
    study_parser,
    table,
)

ESTIMATORS = {"PAL": "pal", "FixedETF": "etf"}
NORMS = (None, 0.1, "learned")


def first_below(curve, threshold):
    """1-based epoch of the first value below ``threshold``, or None."""
    below = np.flatnonzero(np.asarray(curve) < threshold)
    return int(below[0]) + 1 if len(below) else None


def builder(args):
    """``build`` of the :class:`Runner`: method ``(estimator, feature_norm)``."""

    def build(method, seed, data, params):
        est, feature_norm = method
        tracker = NeuralCollapseTracker(metrics=("nc1",), random_state=0)
        return make_estimator(
            ESTIMATORS[est],
            seed,
            device=args.device,
            max_epochs=args.max_epochs,
            feature_norm=feature_norm,
            callbacks=[("nc", tracker)],
        )

    return build


def collapse_epochs(args):
    """``measure`` of the :class:`Runner`: NC1 at the end, epochs to thresholds."""

    def measure(clf, data, Y_pred):
        curve = clf.history[:, "train_nc1"]
        row = {"nc1_end": float(curve[-1])}
        for threshold in args.thresholds:
            row[f"epochs<{threshold}"] = first_below(curve, threshold)
        return row

    return measure


def epochs_cell(rows, key):
    """Median epoch over the seeds that got there (and how many, if not all)."""
    reached = [r[key] for r in rows if r[key] is not None]
    if not reached:
        return "—"
    text = f"{np.median(reached):.0f}"
    return text if len(reached) == len(rows) else f"{text} ({len(reached)}/{len(rows)})"


def dataset_section(name, results, thresholds):
    rows = [
        [est, str(norm)]
        + [epochs_cell(res, f"epochs<{t}") for t in thresholds]
        + [
            cell(res, "nc1_end", "{:.3g}"),
            cell(res, "micro_f1"),
            cell(res, "subset_acc"),
            f"{np.mean([r['fit_s'] for r in res]):.1f}",
        ]
        for (dataset, (est, norm)), res in results.items()
        if dataset == name
    ]
    header = (
        ["estimator", "feature_norm"]
        + [f"epochs to NC1 < {t}" for t in thresholds]
        + ["NC1 at the end", "test micro-F1", "test subset acc", "fit s"]
    )
    return f"### {name}\n\n" + table(header, rows)


def main(argv=None):
    parser = study_parser(
        __doc__,
        "datasets",
        "data_dir",
        "seeds",
        "max_epochs",
        datasets={"default": ["digits", "scene"]},
        seeds={"default": 3},
    )
    parser.add_argument(
        "--thresholds",
        type=float,
        nargs="+",
        default=[0.5, 0.2],
        help="NC1 thresholds (default: 0.5 0.2)",
    )
    add_common_arguments(parser, "device", "threads", "out")
    args = parser.parse_args(argv)
    run = Run(args)
    datasets, info = load_datasets(args.datasets, args.data_dir)
    runner = Runner(builder(args), measure=collapse_epochs(args), label=str, log=log)
    for name, data in datasets.items():
        for est in ESTIMATORS:
            for norm in NORMS:
                runner.run(name, data, (est, norm), range(args.seeds))
    settings = [
        f"- device: {args.device}; {args.seeds} seeds; max_epochs: "
        + (str(args.max_epochs) if args.max_epochs is not None else "default"),
        "- epochs: median over seeds (in brackets: seeds that got there, if "
        "not all); other cells: mean ± std",
    ]
    header = run.header(
        "# Epochs to collapse with and without normalized features", settings, info
    )
    sections = [
        dataset_section(name, runner.results, args.thresholds) for name in datasets
    ]
    return run.finish("\n\n".join([header, *sections]))


if __name__ == "__main__":
    sys.exit(main())
