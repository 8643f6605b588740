"""sknc against the strong peers, on full data sets or on small subsamples.

The peers are what a data scientist tries first on tabular multi-label data:
``RandomForestClassifier(500)``, ``ExtraTreesClassifier(500)``,
``OneVsRestClassifier(HistGradientBoostingClassifier())``, an ensemble of
10 classifier chains of logistic regression, and the linear one-vs-rest
classifiers of text classification, ``LinearSVC`` and ``LogisticRegression``
with ``C`` chosen by inner 3-fold cross-validation (on l2-normalised rows for
0/1 word indicators, standardised features otherwise). sknc's configurations
(``--configs``, ``PALClassifier`` parameters) are scored under every
``objective`` from one fit each.

Each case is a data set's official training split, whole (``--sizes all``)
or a random subsample of n rows (``--sizes 150 300 500``; ``--reps``
subsamples, which are also the seeds of every method). With ``--split test``
every method is scored on the official test split (the benchmark report);
with ``--split train`` on the rest of the training split, so that choices of
defaults never see a test split (the small-data study of the training knobs).
The peers' features are scaled on the training rows (word indicators stay
0/1); sknc gets the raw features, as a user passes them, and scales them
itself (``input_scaling='robust'``, its default).

Results are appended to a JSON-lines file (``--records``), one line per
(split, data set, size, subsample, method, objective); a rerun skips what is
there, so configurations or data sets can be added to a finished run. The
report aggregates the records: mean scores, on how many data sets sknc with
``objective=m`` leads every peer on metric m, per-data-set tables of sknc
against the best peer, and fit times.
"""

import json
import multiprocessing
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from sknc._bench import (
    STRONG_PEERS,
    label_probabilities,
    label_scores,
    preprocess,
    warm_up,
)
from sknc.decoders._objectives import OBJECTIVES
from sknc.model_selection import MultilabelStratifiedValidSplit

from . import (
    DATASETS,
    SCORES,
    Run,
    limit_threads,
    load_dataset,
    log,
    make_estimator,
    positive_int,
    score_predictions,
    study_parser,
    table,
)

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
    "cw": {"class_weight": "balanced"},
    # calibration on a held-out fifth (decoder temperature, objective thresholds)
    "holdout": {"train_split": "holdout"},
    # predict_proba (and objective='hamming') from the per-label head blended in
    "blend": {"label_proba": "blend"},
    # predict_proba from the per-label linear model of the inputs, weighted 3/4
    "wide": {"label_proba": "wide"},
}
LEAD_HEADERS = ["subset acc", "micro-F1", "example-F1", "macro-F1", "Hamming loss"]
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


def size_type(text):
    """An argparse type: ``all`` or a number of training rows."""
    return text if text == "all" else positive_int(text)


def parse_args():
    parser = study_parser(__doc__, "datasets", "data_dir", "threads", "out")
    parser.add_argument(
        "--split",
        choices=("train", "test"),
        default="train",
        help="score on the rest of the training split (train) or on the "
        "official test split (test); default: %(default)s",
    )
    parser.add_argument(
        "--sizes",
        nargs="+",
        type=size_type,
        default=[150, 300, 500],
        help="training rows per case: numbers, or 'all' (with --split test)",
    )
    parser.add_argument("--reps", type=positive_int, default=3)
    parser.add_argument(
        "--configs", nargs="*", choices=sorted(CONFIGS), default=["default"]
    )
    parser.add_argument(
        "--peers", nargs="*", choices=STRONG_PEERS, default=list(STRONG_PEERS)
    )
    parser.add_argument(
        "--records",
        default="benchmarks/results/peers.jsonl",
        help="JSON-lines file of the results (appended; existing ones are reused)",
    )
    parser.add_argument("--jobs", type=positive_int, default=1)
    parser.add_argument(
        "--report-only", action="store_true", help="only report the records"
    )
    parser.add_argument(
        "--note",
        action="append",
        default=[],
        help="a line for the report's settings (e.g. where the records were "
        "computed); repeatable",
    )
    parser.add_argument(
        "--figures",
        default=None,
        help="folder for the report's figures (PNG, one pair per size); the "
        "report links them relative to --out",
    )
    args = parser.parse_args()
    if args.split == "train" and "all" in args.sizes:
        parser.error("--sizes all needs --split test: no rows would be left to score")
    return args


def case_rows(data, split, size, rep):
    """The training rows of a case and the rows it is scored on."""
    n = len(data.Y_train)
    if size == "all":
        return np.arange(n), None
    order = np.random.RandomState(1000 * rep + size).permutation(n)
    return order[:size], (order[size:] if split == "train" else None)


def make_method(method, rep):
    if method not in CONFIGS:
        return make_estimator(method, rep)
    params = dict(CONFIGS[method])
    estimator = params.pop("estimator", "pal")
    if params.get("train_split") == "holdout":
        params["train_split"] = MultilabelStratifiedValidSplit(0.2, random_state=rep)
    return make_estimator(estimator, rep, **params)


def fit_and_score(task):
    """Fit one method on one case; return its records."""
    split, name, size, rep, method, data_dir, threads = task
    limit_threads(threads)
    data = load_dataset(name, data_dir, scaling="none")
    train, rest = case_rows(data, split, size, rep)
    if split == "train":
        X_eval, Y_eval = data.X_train[rest], data.Y_train[rest]
    else:
        X_eval, Y_eval = data.X_test, data.Y_test
    # sknc scales its inputs itself (input_scaling='robust')
    scaling = "none" if method in CONFIGS else "auto"
    X_fit, X_eval, _ = preprocess(data.X_train[train], X_eval, scaling)
    Y_fit = data.Y_train[train]
    key = {"split": split, "dataset": name, "size": size, "rep": rep, "method": method}
    est = make_method(method, rep)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X_fit, Y_fit)
        fit_s = time.perf_counter() - start
        Y_score = label_scores(est, X_eval)
        Y_proba, _ = label_probabilities(est, X_eval)
        # the chosen C of the linear peers
        chosen = {} if getattr(est, "best_C_", None) is None else {"C": est.best_C_}
        records = []
        for objective in SKNC_OBJECTIVES if method in CONFIGS else (None,):
            if method in CONFIGS:
                est.set_params(objective=objective)
            start = time.perf_counter()
            Y_pred = est.predict(X_eval)
            records.append(
                {
                    **key,
                    "objective": objective,
                    "fit_s": fit_s,
                    "predict_s": time.perf_counter() - start,
                    **score_predictions(Y_eval, Y_pred, Y_score, Y_proba),
                    **chosen,
                }
            )
    return records


def read_records(path):
    path = Path(path)
    if not path.is_file():
        return []
    with path.open() as f:
        records = [json.loads(line) for line in f if line.strip()]
    for record in records:
        record.setdefault("split", "train")  # the first records had none
    return records


# Peers whose fit does not depend on the seed below 10,000 training rows
# (histogram boosting's early stopping, with its random validation split,
# is 'auto': on from 10,000 rows): one fit stands for every seed there.
DETERMINISTIC = ("ovr-hgb",)


def _n_train(name, args):
    return len(load_dataset(name, args.data_dir, scaling="none").Y_train)


def _large(name, size, args):
    return (_n_train(name, args) if size == "all" else size) >= 10_000


def run(args):
    done = {
        (r["split"], r["dataset"], r["size"], r["rep"], r["method"])
        for r in read_records(args.records)
    }
    names = [n for n in args.datasets if load_dataset(n, args.data_dir) is not None]
    tasks = [
        (args.split, name, size, rep, method, args.data_dir, 1)
        for name in names
        for size in args.sizes
        for rep in range(args.reps)
        for method in [*args.configs, *args.peers]
        if (args.split, name, size, rep, method) not in done
        and not (rep and method in DETERMINISTIC and not _large(name, size, args))
        and (size == "all" or size < _n_train(name, args))
    ]
    log(f"{len(tasks)} fits to run, {len(done)} cases already recorded")
    # torch's one-off set-up out of the first fit's time (forked workers
    # inherit it)
    limit_threads(1)
    warm_up()
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
                + (f", C={r['C']:g}" if "C" in r else "")
            )
        if pool is not None:
            pool.close()


def label(method, objective):
    return method if objective is None else f"{method} / {objective}"


# (metric, the objective aimed at it) of the lead counts and per-data-set tables
LEADS = (
    ("subset_acc", "subset_accuracy"),
    ("micro_f1", "f1_micro"),
    ("example_f1", "f1_samples"),
    ("macro_f1", "f1_macro"),
    ("hamming", "hamming"),
)
# the per-label scores, compared per data set
RANKING = ("lrap", "coverage", "log_loss")
MEAN_METRICS = [
    "subset_acc",
    "micro_f1",
    "macro_f1",
    "example_f1",
    "hamming",
    "lrap",
    "coverage",
    "log_loss",
]


class Records:
    """The records of one split, averaged over subsamples on demand."""

    def __init__(self, records):
        self.by = {}
        for r in records:
            key = (r["dataset"], r["size"], r["method"], r["objective"])
            self.by.setdefault(key, []).append(r)

    def mean(self, dataset, size, method, objective, metric):
        rows = self.by.get((dataset, size, method, objective), [])
        # records written before a metric existed lack it
        return (
            float(np.mean([row.get(metric, np.nan) for row in rows]))
            if rows
            else np.nan
        )

    def std(self, dataset, size, method, objective, metric):
        rows = self.by.get((dataset, size, method, objective), [])
        return float(np.std([row[metric] for row in rows])) if rows else np.nan

    def best_peer(self, dataset, size, peers, metric):
        """The best peer on ``metric`` and its mean score."""
        values = {p: self.mean(dataset, size, p, None, metric) for p in peers}
        values = {p: v for p, v in values.items() if not np.isnan(v)}
        if not values:
            return None, np.nan
        pick = max if SCORES[metric].higher else min
        peer = pick(values, key=values.get)
        return peer, values[peer]


def _fmt(metric, value):
    return "—" if np.isnan(value) else SCORES[metric].format(value)


def _leads(recs, names, size, config, peers, metric, objective):
    slack = _lead_slack(metric)
    return sum(
        _versus(recs, n, size, config, objective, peers, metric, slack)[1]
        for n in names
    )


def _lead_slack(metric):
    """How far behind the best peer still counts as a lead: 0.002 of Hamming loss."""
    return 0.002 if metric == "hamming" else 0.0


def _lead_margin(recs, name, size, config, peers, metric, objective):
    """sknc's score minus the best peer's, signed so that > 0 is a lead."""
    ours = recs.mean(name, size, config, objective, metric)
    _, best = recs.best_peer(name, size, peers, metric)
    return ours - best if SCORES[metric].higher else best - ours


def draw_figures(recs, names, size, config, peers, folder):
    """Two figures for one size: sknc's margin over the best peer per data set
    and metric, and the fit times. Returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tag = f"peers_{size}"
    # the margins, in points (x 100), Hamming loss in points of 1/100
    margins = np.array(
        [
            [100 * _lead_margin(recs, n, size, config, peers, m, o) for m, o in LEADS]
            for n in names
        ]
    )
    # colours saturate at 5 points, so that the small Hamming margins show
    limit = 5.0
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(names) + 1.6))
    image = ax.imshow(margins, cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
    for (i, j), value in np.ndenumerate(margins):
        if not np.isnan(value):
            color = "white" if abs(value) > 0.6 * limit else "black"
            ax.text(
                j, i, f"{value:+.1f}", ha="center", va="center", fontsize=9, color=color
            )
    ax.set_xticks(range(len(LEADS)), LEAD_HEADERS)
    ax.set_yticks(range(len(names)), names)
    ax.set_title(
        f"sknc (objective = the metric) minus the best peer, points "
        f"({'all' if size == 'all' else size} training rows)",
        fontsize=10,
    )
    fig.colorbar(
        image, ax=ax, extend="both", label="blue: sknc ahead; red: a peer ahead"
    )
    fig.tight_layout()
    scores_path = folder / f"{tag}_scores.png"
    fig.savefig(scores_path, dpi=110)
    plt.close(fig)
    # fit times, one row per data set, log scale
    fig, ax = plt.subplots(figsize=(8.5, 0.45 * len(names) + 1.4))
    methods = [config, *peers]
    markers = "os^vDP*"
    for k, method in enumerate(methods):
        times = [recs.mean(n, size, method, None, "fit_s") for n in names]
        ax.scatter(
            times,
            np.arange(len(names)) + (k - len(methods) / 2) * 0.08,
            marker=markers[k % len(markers)],
            s=60 if k == 0 else 30,
            label=f"sknc ({method})" if k == 0 else method,
            zorder=3 if k == 0 else 2,
        )
    ax.set_xscale("log")
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlabel("fit time, seconds (one thread each; log scale)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    times_path = folder / f"{tag}_fit_time.png"
    fig.savefig(times_path, dpi=110)
    plt.close(fig)
    return scores_path, times_path


def _link(path, out):
    """``path`` relative to the report's folder (absolute without --out)."""
    path = Path(path).resolve()
    if not out:
        return str(path)
    return Path(os.path.relpath(path, Path(out).resolve().parent)).as_posix()


INTRO = """\
The peers are what a data scientist tries first on tabular multi-label data:
`rf` = `RandomForestClassifier(500)`, `et` = `ExtraTreesClassifier(500)`,
`ovr-hgb` = `OneVsRestClassifier(HistGradientBoostingClassifier())`, `ecc-lr`
= 10 classifier chains of logistic regression in random orders (majority
vote), `ovr-svm` = `OneVsRestClassifier(LinearSVC)` and `ovr-logreg` =
`OneVsRestClassifier(LogisticRegression)`, `C` chosen by inner 3-fold micro-F1
cross-validation, on l2-normalised rows for 0/1 word indicators (standardised
features otherwise). Coverage error and log loss: lower is better; the log
loss is blank (—) for `ovr-svm`, which has no probabilities. The trees get
the features standardised on the training rows (word indicators stay 0/1);
sknc gets them raw and scales them itself (`input_scaling='robust'`, its
default), and ranks labels by `predict_proba`. sknc is fitted
once per seed and scored with `objective=m` for each metric m (`predict` then
serves that metric; see the user guide's page on objectives). A lead is a
strictly better mean than the best peer's; for the Hamming loss, within 0.002
of it. The figures come first: per data set and metric, sknc's margin over the
best peer in points (x 100; blue where sknc is ahead), then the fit times. The
tables below them hold the numbers. The records come from the command above
without `--report-only` (each fit is appended to the records file; a rerun
skips what is there)."""


def report(args, records):
    sections = [INTRO]
    recs = Records(records)
    sizes = sorted({r["size"] for r in records}, key=lambda s: (s == "all", str(s)))
    sizes = sorted(sizes, key=lambda s: float("inf") if s == "all" else s)
    peers = [m for m in args.peers if any(r["method"] == m for r in records)]
    configs = [c for c in CONFIGS if any(r["method"] == c for r in records)]
    all_names = [n for n in DATASETS if any(r["dataset"] == n for r in records)]
    for size in sizes:
        rows_label = "all" if size == "all" else f"{size}"
        # the data sets with more training rows than the size
        names = [n for n in all_names if any(k[:2] == (n, size) for k in recs.by)]
        # on how many data sets each configuration leads every peer
        lead_rows = [
            [config]
            + [
                f"{_leads(recs, names, size, config, peers, m, o)}/{len(names)}"
                for m, o in (*LEADS, *((m, None) for m in RANKING))
            ]
            for config in configs
        ]
        ranking_headers = [SCORES[m].header for m in RANKING]
        sections.append(
            f"## {rows_label} training rows\n\nData sets (of {len(names)}) where "
            "sknc with `objective=m` leads every peer on metric m (Hamming loss: "
            "within 0.002 of the best peer; the per-label scores, LRAP to log "
            "loss, are `predict_proba`'s, which no objective changes):\n\n"
            + table(["config", *LEAD_HEADERS, *ranking_headers], lead_rows)
        )
        # per data set: sknc's first configuration against the best peer
        config = configs[0] if configs else None
        if config is not None and args.figures and peers:
            figures = draw_figures(recs, names, size, config, peers, args.figures)
            sections.append(
                "\n\n".join(
                    f"![{caption}]({_link(path, args.out)})"
                    for caption, path in zip(
                        ("sknc against the best peer", "fit times"),
                        figures,
                        strict=True,
                    )
                )
            )
        if config is not None:
            rows = []
            for n in names:
                cells = [n]
                for metric, objective in LEADS:
                    slack = _lead_slack(metric)
                    cell, _ = _versus(
                        recs, n, size, config, objective, peers, metric, slack
                    )
                    cells.append(cell)
                rows.append(cells)
            sections.append(
                f"`{config}` with `objective=m` against the best peer on m "
                f"(mean over {args.reps} seeds/subsamples; bold: sknc leads):\n\n"
                + table(["data", *LEAD_HEADERS], rows)
            )
            sections.append(_ranking_section(recs, names, size, config, peers))
            # fit time against every peer
            time_rows = []
            for n in names:
                ours = recs.mean(n, size, config, None, "fit_s")
                cells = [n, f"{ours:.1f}"]
                for p in peers:
                    theirs = recs.mean(n, size, p, None, "fit_s")
                    cells.append(f"{theirs:.1f} ({ours / theirs:.2f})")
                time_rows.append(cells)
            sections.append(
                f"Fit time (s, one thread each; in brackets `{config}`'s time "
                "divided by the peer's):\n\n"
                + table(["data", config, *peers], time_rows)
            )
        # the mean over data sets of every configuration and objective
        rows = []
        candidates = [(c, o) for c in configs for o in SKNC_OBJECTIVES]
        candidates += [(p, None) for p in peers]
        for method, objective in candidates:
            cells = [label(method, objective)]
            for metric in MEAN_METRICS:
                values = [recs.mean(n, size, method, objective, metric) for n in names]
                values = [v for v in values if not np.isnan(v)]
                cells.append(_fmt(metric, float(np.mean(values)) if values else np.nan))
            fit = [recs.mean(n, size, method, objective, "fit_s") for n in names]
            cells.append(f"{np.nanmean(fit):.1f}")
            rows.append(cells)
        header = ["method / objective"] + [SCORES[m].header for m in MEAN_METRICS]
        sections.append(
            f"Mean over the {len(names)} data sets:\n\n"
            + table([*header, "fit s"], rows)
        )
    return "\n\n".join(sections)


def _versus(recs, dataset, size, config, objective, peers, metric, slack=0.0):
    """``(cell, lead)``: sknc's mean against the best peer's, bold where it leads.

    A lower-is-better metric leads within ``slack`` of the best peer.
    """
    ours = recs.mean(dataset, size, config, objective, metric)
    peer, best = recs.best_peer(dataset, size, peers, metric)
    if SCORES[metric].higher:
        lead = bool(ours > best)
    else:
        lead = bool(ours <= best + slack) if slack else bool(ours < best)
    mark = "**" if lead else ""
    return f"{mark}{_fmt(metric, ours)}{mark} vs {_fmt(metric, best)} ({peer})", lead


def _ranking_section(recs, names, size, config, peers):
    """sknc's per-label scores against the best peer, per data set."""
    rows, leads = [], dict.fromkeys(RANKING, 0)
    for n in names:
        cells = [n]
        for metric in RANKING:
            cell, lead = _versus(recs, n, size, config, None, peers, metric)
            leads[metric] += lead
            cells.append(cell)
        rows.append(cells)
    counts = ", ".join(f"{SCORES[m].header} {leads[m]}/{len(names)}" for m in RANKING)
    return (
        f"`{config}`'s per-label scores (`predict_proba`; no objective changes "
        "them) against the best peer's: LRAP and coverage error rank each row's "
        "labels, the log loss scores the probabilities (bold: sknc is better; "
        f"data sets where it is: {counts}):\n\n"
        + table(["data", *(SCORES[m].header for m in RANKING)], rows)
    )


def _without_notes(argv):
    """``argv`` without the ``--note`` values, which the report lists apart."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--note":
            skip = True
        elif not arg.startswith("--note="):
            kept.append(arg)
    return kept


def main():
    args = parse_args()
    study = Run(args)
    if not args.report_only:
        run(args)
    records = [
        r
        for r in read_records(args.records)
        if r["dataset"] in args.datasets and r["split"] == args.split
    ]
    scored_on = (
        "the official test splits"
        if args.split == "test"
        else "the rest of the training splits"
    )
    sizes = ", ".join(map(str, args.sizes))
    title = (
        "# sknc against the strong peers: the full data sets"
        if args.sizes == ["all"]
        else f"# sknc against the strong peers: small data ({sizes} training rows)"
    )
    header = study.header(
        title,
        # the notes are listed apart, not in the command
        argv=_without_notes(sys.argv[1:]),
        settings=[
            f"- scored on {scored_on}; training rows: {args.sizes}, "
            f"{args.reps} seeds/subsamples each",
            "- sknc configurations (PALClassifier parameters): "
            + "; ".join(f"`{c}`: {CONFIGS[c]}" for c in args.configs),
            f"- records: `{args.records}`",
            *(f"- {line}" for line in args.note),
        ],
    )
    study.finish(header + "\n\n" + report(args, records))


if __name__ == "__main__":
    main()
