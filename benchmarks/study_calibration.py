"""Calibration data for the decoder: training outputs, a held-out split, cross-fitting.

The decoder's probabilities (the temperature of its set distribution) and the
objectives' thresholds (micro- and macro-F1) must be fitted on outputs the
network did not train on to generalise. Three sources are compared, by
cross-validation on the *training* splits only (``--folds`` outer folds; the
test splits stay untouched):

- ``train``: the training outputs (for the default ``knn`` decoder, every
  training row left out of its own neighbours), the network trained on all
  rows: sknc's behaviour without a validation split;
- ``holdout``: a stratified fifth held out (``train_split``), the network
  trained on the other four fifths, the decoder calibrated on the fifth;
- ``cross_fit``: ``calibration_cv=--inner``: the network of ``train`` (all
  rows), but the temperature (averaged over the folds) and the thresholds
  fitted on out-of-fold outputs of ``--inner`` networks trained on the other
  folds (each in its own feature space), which costs ``--inner`` more
  networks.

Scored on the outer fold: the log-loss and Brier score of ``predict_proba``
(calibration), and each objective's metric.
"""

import time
import warnings

import numpy as np
from sklearn.metrics import log_loss

from sknc import PALClassifier
from sknc._bench import preprocess
from sknc.model_selection import (
    MultilabelStratifiedKFold,
    MultilabelStratifiedValidSplit,
)

from . import (
    Run,
    limit_threads,
    load_dataset,
    log,
    positive_int,
    score_predictions,
    study_parser,
    table,
)

OBJECTIVES = {
    "subset_accuracy": "subset_acc",
    "hamming": "hamming",
    "f1_micro": "micro_f1",
    "f1_macro": "macro_f1",
    "f1_samples": "example_f1",
}
SOURCES = ("train", "holdout", "cross_fit")


def parse_args():
    parser = study_parser(
        __doc__, "datasets", "data_dir", "threads", "seed", "max_epochs", "out"
    )
    parser.add_argument("--folds", type=positive_int, default=3)
    parser.add_argument("--inner", type=positive_int, default=3)
    parser.add_argument(
        "--max-rows",
        type=positive_int,
        default=6000,
        help="use at most this many training rows of a data set (a random "
        "subsample; default: %(default)s)",
    )
    return parser.parse_args()


def _estimator(args, **params):
    epochs = {} if args.max_epochs is None else {"max_epochs": args.max_epochs}
    return PALClassifier(random_state=args.seed, **epochs, **params)


def evaluate(est, X, Y):
    out = {}
    proba = est.predict_proba(X)
    out["log_loss"] = float(
        np.mean(
            [log_loss(Y[:, k], proba[:, k], labels=[0, 1]) for k in range(Y.shape[1])]
        )
    )
    out["brier"] = float(np.mean((proba - Y) ** 2))
    for objective, metric in OBJECTIVES.items():
        est.set_params(objective=objective)
        out[f"{metric}@{objective}"] = score_predictions(Y, est.predict(X))[metric]
    est.set_params(objective=None)
    out["temperature"] = float(est.decoder_.temperature_)
    return out


def run_dataset(args, name):
    data = load_dataset(name, args.data_dir, scaling="none")
    X_all, Y_all = data.X_train, data.Y_train
    if len(X_all) > args.max_rows:
        keep = np.random.RandomState(args.seed).choice(
            len(X_all), args.max_rows, replace=False
        )
        X_all, Y_all = X_all[np.sort(keep)], Y_all[np.sort(keep)]
    outer = MultilabelStratifiedKFold(args.folds, shuffle=True, random_state=args.seed)
    results = {source: [] for source in SOURCES}
    times = dict.fromkeys(SOURCES, 0.0)
    for fold, (train, test) in enumerate(outer.split(X_all, Y_all)):
        X_tr, X_te, _ = preprocess(X_all[train], X_all[test], "auto")
        Y_tr, Y_te = Y_all[train], Y_all[test]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            est = _estimator(args).fit(X_tr, Y_tr)
            times["train"] += time.perf_counter() - start
            results["train"].append(evaluate(est, X_te, Y_te))
            start = time.perf_counter()
            split = MultilabelStratifiedValidSplit(0.2, random_state=args.seed)
            holdout = _estimator(args, train_split=split).fit(X_tr, Y_tr)
            times["holdout"] += time.perf_counter() - start
            results["holdout"].append(evaluate(holdout, X_te, Y_te))
            start = time.perf_counter()
            crossed = _estimator(args, calibration_cv=args.inner).fit(X_tr, Y_tr)
            times["cross_fit"] += time.perf_counter() - start
            results["cross_fit"].append(evaluate(crossed, X_te, Y_te))
        log(
            f"[{name}] fold {fold}: "
            + ", ".join(f"{s} T={results[s][-1]['temperature']:.3g}" for s in SOURCES)
        )
    return results, times


def main():
    args = parse_args()
    study = Run(args)
    limit_threads(args.threads)
    columns = ["log_loss", "brier"] + [f"{m}@{o}" for o, m in OBJECTIVES.items()]
    rows, time_rows = [], []
    for name in args.datasets:
        if load_dataset(name, args.data_dir) is None:
            continue
        results, times = run_dataset(args, name)
        for source in SOURCES:
            means = {c: np.mean([r[c] for r in results[source]]) for c in columns}
            rows.append(
                [name, source]
                + [f"{means[c]:.4f}" for c in columns]
                + [f"{np.mean([r['temperature'] for r in results[source]]):.3g}"]
            )
        time_rows.append([name] + [f"{times[s] / args.folds:.1f}" for s in SOURCES])
    header = study.header(
        "Calibration data for the decoder",
        settings=[
            f"- outer folds {args.folds}, inner networks {args.inner}, "
            f"at most {args.max_rows} rows per data set, PALClassifier defaults"
        ],
    )
    report = (
        header
        + "\n\n## Scores on the outer folds (mean)\n\n"
        + table(
            ["data", "source", "log-loss", "Brier"]
            + [f"{m} with objective={o}" for o, m in OBJECTIVES.items()]
            + ["temperature"],
            rows,
        )
        + "\n\n## Fit time per fold (s; cross_fit includes the final network)\n\n"
        + table(["data", *SOURCES], time_rows)
    )
    study.finish(report)


if __name__ == "__main__":
    main()
