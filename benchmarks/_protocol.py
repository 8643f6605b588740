"""The two-halves protocol shared by the studies that choose defaults.

Defaults are chosen on the **tuning** half from its *training* splits only (a
stratified fifth of each held out for scoring) and confirmed on the
**confirmation** half's official test splits (``benchmarks/README.md``,
"Protocol").
"""

import time

import numpy as np

from sknc import FixedETFClassifier, PALClassifier
from sknc._bench import score_predictions, warm_up
from sknc.model_selection import multilabel_train_test_split

from ._harness import Run, Split, load_datasets, log, table

__all__ = [
    "COLUMNS",
    "HALVES",
    "add_half_arguments",
    "compare",
    "fit_and_score",
    "mean_fit_s",
    "half_cases",
    "half_report",
    "inner_split",
    "start_half",
]

# the estimators a study can name (--estimator)
ESTIMATORS = {"pal": PALClassifier, "etf": FixedETFClassifier}
HALVES = {
    "tuning": ["yeast", "scene", "medical", "enron"],
    "confirmation": ["emotions", "digits", "bibtex", "tmc2007"],
}


# the scores a protocol study reports: (key of score_predictions, header,
# higher is better)
COLUMNS = (
    ("subset_acc", "subset acc", True),
    ("micro_f1", "micro-F1", True),
    ("macro_f1", "macro-F1", True),
    ("example_f1", "example-F1", True),
    ("hamming", "Hamming loss", False),
    ("lrap", "LRAP", True),
)


def add_half_arguments(parser, option="--half"):
    """``option`` (which half) and ``--datasets`` (a subset of it)."""
    parser.add_argument(option, choices=sorted(HALVES), required=True)
    parser.add_argument("--datasets", nargs="+", help="a subset of the half's sets")


def start_half(args, scaling="none"):
    """Start a study of ``args.half``: its ``Run``, the data sets and their lines."""
    study = Run(args)
    names = args.datasets or HALVES[args.half]
    datasets, info = load_datasets(names, args.data_dir, scaling=scaling)
    warm_up()
    return study, datasets, info


def inner_split(data, seed):
    """The tuning half's split: a stratified fifth of the training split held out."""
    X_fit, X_held, Y_fit, Y_held = multilabel_train_test_split(
        data.X_train,
        data.Y_train,
        test_size=0.2,
        random_state=seed,
        stratify=data.Y_train,
    )
    return Split(X_fit, Y_fit, X_held, Y_held)


def half_cases(datasets, half, seeds):
    """Yield ``(name, seed, split)``: what a half fits on and scores, per seed."""
    for name, data in datasets.items():
        for seed in range(seeds):
            yield name, seed, inner_split(data, seed) if half == "tuning" else data


def fit_and_score(clf, split, where):
    """Fit ``clf`` on ``split``'s training part, score its test part, log it.

    Returns the scores of :func:`score_predictions` with ``fit_s`` and
    ``params`` (trainable parameters) added; ``where`` names the case in the
    log line.
    """
    start = time.perf_counter()
    clf.fit(split.X_train, split.Y_train)
    seconds = time.perf_counter() - start
    scores = score_predictions(
        split.Y_test, clf.predict(split.X_test), clf.predict_proba(split.X_test)
    )
    scores["fit_s"] = seconds
    scores["params"] = clf.n_trainable_params_
    log(
        f"[{where}] "
        + " ".join(f"{k}={scores[k]:.3f}" for k, _, _ in COLUMNS)
        + f" fit={seconds:.1f}s params={clf.n_trainable_params_}"
    )
    return scores


def compare(results, names, labels, extra=None):
    """Rows of mean scores and the counts of cells better than ``labels[0]``.

    ``results[(name, label)]`` is a list of score dicts (one per seed);
    ``extra(runs, base_runs)`` returns the cells after the scores (for example
    the fit time). Returns ``(rows, summary)``: one row per (data set, label)
    and one line per label after the first.
    """
    base = labels[0]
    rows, counts = [], {label: [0, 0, 0] for label in labels[1:]}
    for name in names:
        ref = {k: np.mean([s[k] for s in results[(name, base)]]) for k, _, _ in COLUMNS}
        for label in labels:
            runs = results[(name, label)]
            cells = [name, label]
            for key, _, higher in COLUMNS:
                mean = np.mean([s[key] for s in runs])
                cells.append(f"{mean:.3f}")
                if label != base:
                    delta = (mean - ref[key]) * (1 if higher else -1)
                    counts[label][0] += int(delta > 0)
                    counts[label][1] += int(delta < 0)
                    counts[label][2] += 1
            if extra is not None:
                cells += extra(runs, results[(name, base)])
            rows.append(cells)
    summary = [
        f"- {label} against {base}: better on {better}, worse on {worse} of {n} "
        "(data set, metric) cells"
        for label, (better, worse, n) in counts.items()
    ]
    return rows, summary


def mean_fit_s(runs, base_runs=None):
    """The mean fit time of ``runs``, as a cell."""
    return [f"{np.mean([s['fit_s'] for s in runs]):.1f}"]


def half_report(study, args, title, subject, info, header, rows, summary):
    """Write the report of one half: the table of means and the summary lines."""
    scoring = (
        "a stratified fifth of each training split held out (test splits unread)"
        if args.half == "tuning"
        else "the official test splits"
    )
    report = study.header(
        f"{title}, {args.half} half",
        settings=[
            f"- {subject}; {args.seeds} seed(s); scored on {scoring}; means over seeds"
        ],
        datasets=info,
    )
    study.finish(report + "\n\n" + table(header, rows) + "\n\n" + "\n".join(summary))
