"""Small data: sknc's training knobs against the strong peers, on the training splits.

Each case is a random subsample of n rows (``--sizes``, default 150 300 500;
``--reps`` subsamples each) of a data set's official *training* split; every
method is fitted on it and scored on the rest of that training split, so the
test splits stay untouched for the benchmark report. Features are scaled on
the subsample (word indicators stay 0/1). sknc's configurations (``--configs``)
are scored under every ``objective`` from one fit each; the peers are
``RandomForestClassifier(500)``, ``ExtraTreesClassifier(500)``,
``OneVsRestClassifier(HistGradientBoostingClassifier())`` and 10 classifier
chains of logistic regression.

Results are appended to a JSON-lines file (``--records``), one line per
(data set, size, subsample, method, objective); a rerun skips what is there,
so configurations can be added to a finished run. The report aggregates the
records: mean scores per size, and on how many data sets sknc's best
objective for a metric beats every peer on it.
"""

import json
import multiprocessing
import time
import warnings
from pathlib import Path

import numpy as np

from sknc._bench import STRONG_PEERS, label_scores, preprocess
from sknc.decoders._objectives import OBJECTIVES
from sknc.model_selection import MultilabelStratifiedValidSplit

from . import (
    DATASETS,
    Run,
    limit_threads,
    load_dataset,
    log,
    positive_int,
    study_parser,
    table,
)
from ._methods import METRICS, make_estimator, scores

# name -> PALClassifier parameters
CONFIGS = {
    "default": {},
    "ens5": {"n_estimators": 5},
    "es": {"early_stopping": True, "max_epochs": 300},
    "drop": {"dropout": 0.3},
    "wd": {"weight_decay": 1e-2},
    "small": {"hidden_layer_sizes": (128,), "feature_dim": 64},
    "ep30": {"max_epochs": 30},
    "etf": {"estimator": "etf"},
    # calibration on a held-out fifth (decoder temperature, objective thresholds)
    "holdout": {"train_split": "holdout"},
}
LEAD_HEADERS = ["subset acc", "micro-F1", "example-F1", "macro-F1", "Hamming"]
# the rules scored for every sknc fit: None is the decoder's own
SKNC_OBJECTIVES = (None, *OBJECTIVES)
# the metric each objective aims at
OBJECTIVE_METRIC = {
    "subset_accuracy": "subset_acc",
    "hamming": "hamming",
    "f1_micro": "micro_f1",
    "f1_macro": "macro_f1",
    "f1_samples": "example_f1",
}


def parse_args():
    parser = study_parser(__doc__, "datasets", "data_dir", "threads", "out")
    parser.add_argument(
        "--sizes", nargs="+", type=positive_int, default=[150, 300, 500]
    )
    parser.add_argument("--reps", type=positive_int, default=3)
    parser.add_argument(
        "--configs", nargs="+", choices=sorted(CONFIGS), default=["default"]
    )
    parser.add_argument(
        "--peers", nargs="*", choices=STRONG_PEERS, default=list(STRONG_PEERS)
    )
    parser.add_argument(
        "--records",
        default="benchmarks/results/small_data.jsonl",
        help="JSON-lines file of the results (appended; existing ones are reused)",
    )
    parser.add_argument("--jobs", type=positive_int, default=1)
    parser.add_argument(
        "--report-only", action="store_true", help="only report the records"
    )
    return parser.parse_args()


def subsample(data, size, rep):
    """Rows ``size`` of the training split (seeded by ``rep``) and the rest."""
    n = len(data.Y_train)
    rng = np.random.RandomState(1000 * rep + size)
    order = rng.permutation(n)
    return order[:size], order[size:]


def fit_and_score(task):
    """Fit one method on one case; return its records."""
    name, size, rep, method, data_dir, threads = task
    limit_threads(threads)
    data = load_dataset(name, data_dir, scaling="none")
    train, rest = subsample(data, size, rep)
    X_fit, X_rest, _ = preprocess(data.X_train[train], data.X_train[rest], "auto")
    Y_fit, Y_rest = data.Y_train[train], data.Y_train[rest]
    key = {"dataset": name, "size": size, "rep": rep, "method": method}
    if method in CONFIGS:
        params = dict(CONFIGS[method])
        estimator = params.pop("estimator", "pal")
        if params.get("train_split") == "holdout":
            params["train_split"] = MultilabelStratifiedValidSplit(
                0.2, random_state=rep
            )
        est = make_estimator(estimator, rep, **params)
    else:
        est = make_estimator(method, rep)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X_fit, Y_fit)
        fit_s = time.perf_counter() - start
        Y_score = label_scores(est, X_rest)
        records = []
        for objective in SKNC_OBJECTIVES if method in CONFIGS else (None,):
            if method in CONFIGS:
                est.set_params(objective=objective)
            Y_pred = est.predict(X_rest)
            records.append(
                {
                    **key,
                    "objective": objective,
                    "fit_s": fit_s,
                    **scores(Y_rest, Y_pred, Y_score),
                }
            )
    return records


def read_records(path):
    path = Path(path)
    if not path.is_file():
        return []
    with path.open() as f:
        return [json.loads(line) for line in f if line.strip()]


def run(args):
    done = {
        (r["dataset"], r["size"], r["rep"], r["method"])
        for r in read_records(args.records)
    }
    names = [n for n in args.datasets if load_dataset(n, args.data_dir) is not None]
    tasks = [
        (name, size, rep, method, args.data_dir, 1)
        for name in names
        for size in args.sizes
        for rep in range(args.reps)
        for method in [*args.configs, *args.peers]
        if (name, size, rep, method) not in done
    ]
    log(f"{len(tasks)} fits to run, {len(done)} cases already recorded")
    Path(args.records).parent.mkdir(parents=True, exist_ok=True)
    with open(args.records, "a") as out:
        if args.jobs > 1:
            pool = multiprocessing.get_context("fork").Pool(args.jobs)
            results = pool.imap_unordered(fit_and_score, tasks)
        else:
            pool, results = None, map(fit_and_score, tasks)
        for i, records in enumerate(results, 1):
            for record in records:
                out.write(json.dumps(record) + "\n")
            out.flush()
            r = records[0]
            log(
                f"[{i}/{len(tasks)}] {r['dataset']} n={r['size']} rep={r['rep']} "
                f"{r['method']}: {r['fit_s']:.1f} s"
            )
        if pool is not None:
            pool.close()


def label(method, objective):
    return method if objective is None else f"{method} / {objective}"


def report(args, records):
    sections = []
    sizes = sorted({r["size"] for r in records})
    peers = [m for m in args.peers if any(r["method"] == m for r in records)]
    configs = [c for c in CONFIGS if any(r["method"] == c for r in records)]
    metrics = ["subset_acc", "micro_f1", "macro_f1", "example_f1", "hamming", "lrap"]
    by = {}
    for r in records:
        by.setdefault(
            (r["dataset"], r["size"], r["method"], r["objective"]), []
        ).append(r)

    def mean(dataset, size, method, objective, metric):
        rows = by.get((dataset, size, method, objective), [])
        return np.mean([row[metric] for row in rows]) if rows else np.nan

    names = [n for n in DATASETS if any(r["dataset"] == n for r in records)]
    for size in sizes:
        # mean over data sets of each method's mean over subsamples
        rows = []
        candidates = [(c, o) for c in configs for o in SKNC_OBJECTIVES]
        candidates += [(p, None) for p in peers]
        for method, objective in candidates:
            cells = [label(method, objective)]
            for metric in metrics:
                values = [mean(n, size, method, objective, metric) for n in names]
                cells.append(
                    f"{np.nanmean(values):.4f}"
                    if metric == "hamming"
                    else f"{np.nanmean(values):.3f}"
                )
            fit = [mean(n, size, method, objective, "fit_s") for n in names]
            cells.append(f"{np.nanmean(fit):.1f}")
            rows.append(cells)
        header = ["method / objective"] + [METRICS[m][0] for m in metrics] + ["fit s"]
        sections.append(
            f"## {size} training rows: mean over {len(names)} data sets\n\n"
            + table(header, rows)
        )
        # leads against the best peer, per config
        lead_rows = []
        for config in configs:
            cells = [config]
            for metric, objective in (
                ("subset_acc", "subset_accuracy"),
                ("micro_f1", "f1_micro"),
                ("example_f1", "f1_samples"),
                ("macro_f1", "f1_macro"),
                ("hamming", "hamming"),
            ):
                higher = METRICS[metric][2]
                wins = 0
                for n in names:
                    ours = mean(n, size, config, objective, metric)
                    best = [mean(n, size, p, None, metric) for p in peers]
                    best = np.nanmax(best) if higher else np.nanmin(best)
                    wins += bool(ours > best if higher else ours <= best + 0.002)
                cells.append(f"{wins}/{len(names)}")
            lead_rows.append(cells)
        sections.append(
            f"Data sets where the configuration with `objective=m` leads every peer "
            f"on m ({size} rows; Hamming: within 0.002 of the best peer):\n\n"
            + table(
                [
                    "config",
                    "subset acc",
                    "micro-F1",
                    "example-F1",
                    "macro-F1",
                    "Hamming",
                ],
                lead_rows,
            )
        )
    return "\n\n".join(sections)


def main():
    args = parse_args()
    study = Run(args)
    if not args.report_only:
        run(args)
    records = [r for r in read_records(args.records) if r["dataset"] in args.datasets]
    header = study.header(
        "Small data: sknc's knobs against the strong peers",
        settings=[
            f"- training rows: {args.sizes}, {args.reps} subsamples each",
            "- sknc configurations (PALClassifier parameters): "
            + "; ".join(f"{c}: {CONFIGS[c]}" for c in args.configs),
            f"- records: `{args.records}`",
        ],
    )
    study.finish(header + "\n\n" + report(args, records))


if __name__ == "__main__":
    main()
