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
    python benchmarks/bench_heads.py --threads 1
    python benchmarks/bench_heads.py --threads 1 --seeds 3 --out results/heads.md
    python benchmarks/bench_heads.py --datasets medical yeast --max-epochs 20
"""

import argparse
import datetime
import os
import platform
import shlex
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
import skorch
import torch
from sklearn.metrics import f1_score
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import (  # noqa: E402
    DEFAULT_DATA_DIR,
    cell,
    describe,
    git_state,
    load_dataset,
    log,
    table,
)

import sknc  # noqa: E402
from sknc.metrics import NeuralCollapseWarning, label_report_from_estimator  # noqa: E402

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


def make_estimator(method, seed, args):
    kwargs = {"random_state": seed, "device": args.device}
    if args.max_epochs is not None:
        kwargs["max_epochs"] = args.max_epochs
    if method == "PALClassifier (d=256)":
        return sknc.PALClassifier(feature_dim=256, **kwargs)
    if method == "PALClassifier (d=256, feature_norm=None)":
        return sknc.PALClassifier(feature_dim=256, feature_norm=None, **kwargs)
    if method == "FixedETFClassifier (d=256)":
        return sknc.FixedETFClassifier(feature_dim=256, **kwargs)
    if method == "FixedETFClassifier (d=K)":
        return sknc.FixedETFClassifier(**kwargs)
    raise ValueError(f"unknown method {method!r}")


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


def run(dataset, data, method, seed, args):
    X_train, Y_train, X_test, Y_test = data
    rare, frequent = frequency_thirds(Y_train)
    est = make_estimator(method, seed, args)
    with warnings.catch_warnings():
        # labels absent from the training part or without a direction are
        # counted below; their warnings would only repeat it
        warnings.simplefilter("ignore", NeuralCollapseWarning)
        start = time.perf_counter()
        est.fit(X_train, Y_train)
        fit_s = time.perf_counter() - start
        Y_pred = est.predict(X_test)
        report = label_report_from_estimator(
            est, X_train, Y_train, threshold=args.threshold
        )
    f1 = {
        average: f1_score(Y_test, Y_pred, average=average, zero_division=0)
        for average in ("micro", "macro")
    }
    result = {
        "micro_f1": f1["micro"],
        "macro_f1": f1["macro"],
        "rare_macro_f1": f1_score(
            Y_test[:, rare], Y_pred[:, rare], average="macro", zero_division=0
        ),
        "fit_s": fit_s,
        "collapsed": int(report.collapsed.sum()),
        "rare_cos": float(np.nanmean(report.max_cosine[rare])),
        "frequent_cos": float(np.nanmean(report.max_cosine[frequent])),
        "rare_norm": float(np.mean(report.weight_norm[rare])),
        "frequent_norm": float(np.mean(report.weight_norm[frequent])),
        "mean_collapsed": int(np.sum(report.mean_max_cosine > args.threshold)),
        "rare_mean_cos": float(np.nanmean(report.mean_max_cosine[rare])),
        "frequent_mean_cos": float(np.nanmean(report.mean_max_cosine[frequent])),
    }
    log(
        f"  {dataset:8s} {method:28s} seed={seed} fit {fit_s:6.1f}s  "
        f"micro {result['micro_f1']:.3f} macro {result['macro_f1']:.3f} "
        f"rare {result['rare_macro_f1']:.3f}  collapsed {result['collapsed']}"
    )
    return result


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


def header(args, info, total_s):
    command = " ".join(
        ["python"] + [shlex.quote(a) for a in [sys.argv[0]] + sys.argv[1:]]
    )
    load = (
        f", 1-min load average at start / end: {args.load_at_start:.2f} / "
        f"{os.getloadavg()[0]:.2f}"
        if args.load_at_start is not None
        else ""
    )
    lines = [
        "# sknc head benchmark: learned head against fixed ETF head",
        "",
        "- date: " + datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        f"- command: `{command}`",
        f"- machine: {platform.node()}, {os.cpu_count()} CPUs, torch threads: "
        f"{torch.get_num_threads()}, device: {args.device}{load}",
        f"- python {platform.python_version()}, numpy {np.__version__}, "
        f"torch {torch.__version__}, scikit-learn {sklearn.__version__}, "
        f"skorch {skorch.__version__}, sknc {sknc.__version__}",
        f"- sknc checkout: {args.git}; default feature_norm: PALClassifier "
        f"{default_feature_norm(sknc.PALClassifier)!r}, FixedETFClassifier "
        f"{default_feature_norm(sknc.FixedETFClassifier)!r}",
        f"- seeds: {args.seeds} (0..{args.seeds - 1}; cells are mean ± std when "
        "more than one); max_epochs: "
        + (str(args.max_epochs) if args.max_epochs is not None else "default")
        + f"; collapse threshold (cosine): {args.threshold}",
        "- preprocessing: StandardScaler fitted on the training part; official "
        "train/test splits",
        f"- total wall time: {total_s:.0f} s",
        "",
        "Datasets:",
        "",
    ]
    lines += [f"- {name}: {text}" for name, text in info.items()]
    return "\n".join(lines)


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
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--datasets",
        nargs="+",
        default=list(ALL_DATASETS),
        help="Mulan data sets to run (default: %(default)s)",
    )
    parser.add_argument(
        "--data-dir",
        default=str(DEFAULT_DATA_DIR),
        help="folder of the <name>.npz files (default: %(default)s); a missing "
        "folder or file is skipped with a message",
    )
    parser.add_argument(
        "--seeds", type=int, default=1, help="number of seeds 0..n-1 (default: 1)"
    )
    parser.add_argument("--device", default="cpu", help="sknc device (default: cpu)")
    parser.add_argument(
        "--max-epochs",
        type=int,
        default=None,
        help="max_epochs of the estimators (default: their default)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.9,
        help="cosine above which a label counts as collapsed (default: 0.9)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="limit torch and BLAS/OpenMP threads (1 on a shared machine)",
    )
    parser.add_argument(
        "--out", default=None, help="Markdown file to write (default: stdout)"
    )
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    if args.datasets and "digits" in args.datasets:
        parser.error("digits is balanced; this benchmark is about long tails")
    return args


def main(argv=None):
    args = parse_args(argv)
    args.load_at_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    args.git = git_state()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)
    start = time.perf_counter()
    datasets, info = {}, {}
    for name in args.datasets:
        data = load_dataset(name, args.data_dir)
        if data is not None:
            datasets[name] = data
            info[name] = describe(data) + "; " + data_notes(data)
            log(f"[load] {name}: {info[name]}")
    if not datasets:
        log("No dataset could be loaded; nothing to do.")
        return 1
    results = {}
    for name, data in datasets.items():
        for method in methods():
            results[name, method] = [
                run(name, data, method, seed, args) for seed in range(args.seeds)
            ]
    total_s = time.perf_counter() - start
    report = header(args, info, total_s) + "\n\n" + tables(results) + "\n"
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report)
        log(f"[done] {total_s:.0f} s; report written to {out}")
    else:
        sys.stdout.write(report)
        log(f"[done] {total_s:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
