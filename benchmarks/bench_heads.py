"""Head benchmark: a learned head against a fixed simplex-ETF head on long tails.

Real multi-label data are long-tailed, and a learned linear head trained with
weight decay on imbalanced data can suffer *minority collapse* (Fang et al.,
PNAS 2021): the rows of the rare labels shrink and turn towards each other.
A head fixed to a simplex ETF cannot collapse by construction. This script
measures whether that matters on the official train/test splits of the
long-tailed Mulan sets medical, enron, bibtex and yeast
(``<data-dir>/<name>.npz``), with features standardised by a
``StandardScaler`` fitted on the training part.

Estimators (default parameters, only ``random_state`` and ``device`` set,
plus the feature dimension where named):

- ``PALClassifier()``: learned head, ``feature_dim=256`` (its default);
- ``PALClassifier(feature_norm=None)``: the plain linear head, run only when
  the default ``feature_norm`` is not None (a normalized head's rows all have
  the same norm by construction);
- ``FixedETFClassifier(feature_dim=256)``: fixed ETF head, same ``d``;
- ``FixedETFClassifier()``: fixed ETF head, its default ``d = K``.

Reported per data set and estimator (mean ± std over seeds):

1. test micro-F1, macro-F1 (``zero_division=0``) and macro-F1 over the rarest
   third of the labels (by training frequency; ties by label index), fit
   seconds;
2. from :func:`sknc.metrics.label_report_from_estimator` on the training data:
   the number of labels whose head row is ``collapsed`` (largest cosine to
   another row above ``--threshold``), the mean of that largest cosine and
   the mean row norm over the rarest and the most frequent third, and the same
   largest cosine for the labels' feature means (rows containing the label,
   centred at the mean of the labelled rows), with the number of labels above
   the threshold. A fixed ETF head's rows all have cosine ``-1/(K-1)``, so
   only the feature-side columns can show collapse for it.

Examples
--------
    python -m benchmarks.bench_heads --threads 1
    python -m benchmarks.bench_heads --threads 1 --seeds 3 \\
        --out benchmarks/results/heads.md
    python -m benchmarks.bench_heads --datasets medical yeast --max-epochs 20
"""

import sys
import warnings

import numpy as np
from sklearn.metrics import f1_score

import sknc
from sknc.metrics import NeuralCollapseWarning, label_report_from_estimator

from . import (
    DATASETS,
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

ALL_DATASETS = ("medical", "enron", "bibtex", "yeast")
METHODS = (
    "PALClassifier (d=256)",
    "PALClassifier (d=256, feature_norm=None)",
    "FixedETFClassifier (d=256)",
    "FixedETFClassifier (d=K)",
)


def default_feature_norm(cls):
    """The estimator's default ``feature_norm``, or "absent" without one."""
    return cls().get_params().get("feature_norm", "absent")


def methods():
    """The methods to run: the plain linear head only when it is not the default.

    ``PALClassifier``'s learned head is a plain linear layer with
    ``feature_norm=None``; with a normalized head (``feature_norm`` set) its
    rows all have the same norm by construction, so the plain head is run
    beside it.
    """
    plain_is_default = default_feature_norm(sknc.PALClassifier) in (None, "absent")
    return [m for m in METHODS if not (plain_is_default and "feature_norm" in m)]


# method -> key of make_estimator, its parameters
PARAMS = {
    "PALClassifier (d=256)": ("pal", {"feature_dim": 256}),
    "PALClassifier (d=256, feature_norm=None)": (
        "pal",
        {"feature_dim": 256, "feature_norm": None},
    ),
    "FixedETFClassifier (d=256)": ("etf", {"feature_dim": 256}),
    "FixedETFClassifier (d=K)": ("etf", {}),
}


def builder(args):
    """``build`` of the :class:`Runner`: the estimator named ``method``."""

    def build(method, seed, data, params):
        key, params = PARAMS[method]
        return make_estimator(
            key, seed, device=args.device, max_epochs=args.max_epochs, **params
        )

    return build


def frequency_thirds(Y_train):
    """Label indices of the rarest and of the most frequent third (by count).

    Over the labels that occur in the training part: a label that never
    occurs cannot be learned by any estimator (its F1 is 0 for all of them)
    and would only dilute the rare third.
    """
    counts = Y_train.sum(axis=0)
    order = np.argsort(counts, kind="stable")  # rarest first, ties by index
    order = order[counts[order] > 0]
    third = max(1, len(order) // 3)
    return order[:third], order[-third:]


def geometry(args):
    """``measure`` of the :class:`Runner`: rare-label F1 and label geometry."""

    def measure(est, data, Y_pred):
        X_train, Y_train, _, Y_test = data
        rare, frequent = frequency_thirds(Y_train)
        # labels absent from the training part or without a direction are
        # counted below; their warnings would only repeat it
        warnings.simplefilter("ignore", NeuralCollapseWarning)
        report = label_report_from_estimator(
            est, X_train, Y_train, threshold=args.threshold
        )
        return {
            "rare_macro_f1": f1_score(
                Y_test[:, rare], Y_pred[:, rare], average="macro", zero_division=0
            ),
            "collapsed": int(report.collapsed.sum()),
            "rare_cos": float(np.nanmean(report.max_cosine[rare])),
            "frequent_cos": float(np.nanmean(report.max_cosine[frequent])),
            "rare_norm": float(np.mean(report.weight_norm[rare])),
            "frequent_norm": float(np.mean(report.weight_norm[frequent])),
            "mean_collapsed": int(np.sum(report.mean_max_cosine > args.threshold)),
            "rare_mean_cos": float(np.nanmean(report.mean_max_cosine[rare])),
            "frequent_mean_cos": float(np.nanmean(report.mean_max_cosine[frequent])),
        }

    return measure


def data_notes(data):
    """Frequency facts of a data set: the long tail and the rare third."""
    _, Y_train, _, Y_test = data
    counts = Y_train.sum(axis=0)
    rare, _ = frequency_thirds(Y_train)
    return (
        f"training rows per label: median {np.median(counts):.0f}, "
        f"max {counts.max()}, {int((counts == 0).sum())} label(s) never in "
        f"training, {int((counts < 5).sum())} with fewer than 5 rows; rarest "
        f"third of the others ({len(rare)} labels): at most {counts[rare].max()} "
        "training rows, "
        f"{int((Y_test[:, rare].sum(axis=0) == 0).sum())} of them without a "
        "positive test row (their F1 is 0 for every estimator under "
        "zero_division=0)"
    )


def settings(args):
    return [
        f"- device: {args.device}; default feature_norm: PALClassifier "
        f"{default_feature_norm(sknc.PALClassifier)!r}, FixedETFClassifier "
        f"{default_feature_norm(sknc.FixedETFClassifier)!r}",
        f"- seeds: {args.seeds} (0..{args.seeds - 1}; cells are mean ± std when "
        "more than one); max_epochs: "
        + (str(args.max_epochs) if args.max_epochs is not None else "default")
        + f"; collapse threshold (cosine): {args.threshold}",
        "- preprocessing: StandardScaler fitted on the training part; official "
        "train/test splits",
    ]


def tables(results):
    score_rows, geometry_rows = [], []
    for (name, method), res in results.items():
        score_rows.append(
            [
                name,
                method,
                cell(res, "micro_f1"),
                cell(res, "macro_f1"),
                cell(res, "rare_macro_f1"),
                cell(res, "fit_s", "{:.1f}"),
            ]
        )
        geometry_rows.append(
            [
                name,
                method,
                cell(res, "collapsed", "{:.1f}"),
                cell(res, "rare_cos") + " / " + cell(res, "frequent_cos"),
                cell(res, "rare_norm", "{:.2f}")
                + " / "
                + cell(res, "frequent_norm", "{:.2f}"),
                cell(res, "mean_collapsed", "{:.1f}"),
                cell(res, "rare_mean_cos") + " / " + cell(res, "frequent_mean_cos"),
            ]
        )
    return "\n\n".join(
        [
            "## 1. Test scores",
            "Macro-F1 with `zero_division=0`; rarest third: macro-F1 over the "
            "third of the labels with the fewest training rows, among the "
            "labels that occur in the training part.",
            table(
                [
                    "dataset",
                    "estimator",
                    "micro-F1",
                    "macro-F1",
                    "macro-F1 rarest third",
                    "fit s",
                ],
                score_rows,
            ),
            "## 2. Geometry of the labels (training data)",
            "`label_report_from_estimator(clf, X_train, Y_train)`. Head "
            "columns: labels whose row has a largest cosine to another row "
            "above the threshold, the mean of that cosine over the rarest / "
            "most frequent third, and the mean row norm over the same thirds. "
            "Feature columns: the same largest cosine for the labels' centred "
            "feature means.",
            table(
                [
                    "dataset",
                    "estimator",
                    "collapsed rows",
                    "row max cos rare / frequent",
                    "row norm rare / frequent",
                    "means above threshold",
                    "mean max cos rare / frequent",
                ],
                geometry_rows,
            ),
        ]
    )


def parse_args(argv=None):
    parser = study_parser(
        __doc__,
        "datasets",
        "data_dir",
        "seeds",
        "device",
        "max_epochs",
        datasets={
            "choices": DATASETS[1:],
            "default": list(ALL_DATASETS),
            "help": "Mulan data sets to run (default: %(default)s)",
        },
        max_epochs={"help": "max_epochs of the estimators (default: their default)"},
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.9,
        help="cosine above which a label counts as collapsed (default: 0.9)",
    )
    add_common_arguments(parser, "threads", "out")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    run = Run(args)
    datasets, info = load_datasets(
        args.datasets, args.data_dir, notes=lambda name, data: data_notes(data)
    )
    runner = Runner(builder(args), measure=geometry(args), log=log)
    for name, data in datasets.items():
        for method in methods():
            runner.run(name, data, method, range(args.seeds))
    header = run.header(
        "# sknc head benchmark: learned head against fixed ETF head",
        settings(args),
        info,
    )
    return run.finish(header + "\n\n" + tables(runner.results))


if __name__ == "__main__":
    sys.exit(main())
