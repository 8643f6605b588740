"""Epochs to collapse with and without normalized features (``feature_norm``).

For each data set (official train/test split, ``StandardScaler`` as in
``bench_core.py``), fits ``PALClassifier`` and
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
    python benchmarks/bench_feature_norm.py --threads 1 --seeds 3
    python benchmarks/bench_feature_norm.py --datasets digits scene --max-epochs 50
"""

import argparse
import datetime
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import sklearn
import skorch
import torch
from sklearn.metrics import f1_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import DEFAULT_DATA_DIR, git_state, load_dataset, log, table  # noqa: E402

import sknc  # noqa: E402
from sknc.callbacks import NeuralCollapseTracker  # noqa: E402

ESTIMATORS = {"PAL": sknc.PALClassifier, "FixedETF": sknc.FixedETFClassifier}
NORMS = (None, 0.1, "learned")


def first_below(curve, threshold):
    """1-based epoch of the first value below ``threshold``, or None."""
    below = np.flatnonzero(np.asarray(curve) < threshold)
    return int(below[0]) + 1 if len(below) else None


def run(cls, feature_norm, data, seed, args):
    X_train, Y_train, X_test, Y_test = data
    tracker = NeuralCollapseTracker(metrics=("nc1",), random_state=0)
    clf = cls(
        feature_norm=feature_norm,
        random_state=seed,
        device=args.device,
        callbacks=[("nc", tracker)],
        **({} if args.max_epochs is None else {"max_epochs": args.max_epochs}),
    )
    t = time.perf_counter()
    clf.fit(X_train, Y_train)
    fit_s = time.perf_counter() - t
    curve = clf.history[:, "train_nc1"]
    pred = clf.predict(X_test)
    row = {
        "nc1_end": float(curve[-1]),
        "micro": f1_score(Y_test, pred, average="micro", zero_division=0),
        "subset": float((pred == Y_test).all(1).mean()),
        "fit_s": fit_s,
    }
    for threshold in args.thresholds:
        row[f"epochs<{threshold}"] = first_below(curve, threshold)
    return row, curve


def summarise(rows, thresholds):
    cells = {}
    for threshold in thresholds:
        key = f"epochs<{threshold}"
        reached = [r[key] for r in rows if r[key] is not None]
        if len(reached) < len(rows):
            cells[key] = (
                f"{np.median(reached):.0f} ({len(reached)}/{len(rows)})"
                if reached
                else "—"
            )
        else:
            cells[key] = f"{np.median(reached):.0f}"
    for key, fmt in (("nc1_end", "{:.3g}"), ("micro", "{:.3f}"), ("subset", "{:.3f}")):
        values = np.array([r[key] for r in rows])
        cells[key] = fmt.format(values.mean())
        if len(values) > 1:
            cells[key] += " ± " + fmt.format(values.std())
    cells["fit_s"] = f"{np.mean([r['fit_s'] for r in rows]):.1f}"
    return cells


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["digits", "scene"])
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.5, 0.2])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default=None, help="Markdown file (default: stdout)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    sections = []
    for name in args.datasets:
        data = load_dataset(name, args.data_dir)
        if data is None:
            continue
        rows = []
        for label, cls in ESTIMATORS.items():
            for norm in NORMS:
                results = []
                for seed in range(args.seeds):
                    row, _ = run(cls, norm, data, seed, args)
                    results.append(row)
                cells = summarise(results, args.thresholds)
                log(f"{name} {label} feature_norm={norm}: {cells}")
                keys = [f"epochs<{t}" for t in args.thresholds]
                rows.append(
                    [label, str(norm)]
                    + [cells[k] for k in keys]
                    + [cells[k] for k in ("nc1_end", "micro", "subset", "fit_s")]
                )
        header = (
            ["estimator", "feature_norm"]
            + [f"epochs to NC1 < {t}" for t in args.thresholds]
            + ["NC1 at the end", "test micro-F1", "test subset acc", "fit s"]
        )
        sections.append(f"### {name}\n\n" + table(header, rows) + "\n")
    report = "\n".join(
        [
            "# Epochs to collapse with and without normalized features",
            "",
            f"- date: {datetime.date.today()}",
            f"- command: `python {shlex.join(sys.argv)}`",
            f"- sknc commit {git_state()}; "
            f"torch {torch.__version__}, skorch {skorch.__version__}, "
            f"scikit-learn {sklearn.__version__}; {args.seeds} seeds; "
            f"total {time.perf_counter() - start:.0f} s",
            "- epochs: median over seeds (in brackets: seeds that got there, if "
            "not all); other cells: mean ± std",
            "",
            *sections,
        ]
    )
    if args.out:
        Path(args.out).write_text(report + "\n")
    else:
        print(report)


if __name__ == "__main__":
    main()
