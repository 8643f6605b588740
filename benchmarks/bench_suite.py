"""Benchmark suite: sknc against the estimators a data scientist would use instead.

One command fits, on the built-in multi-label digits and the seven Mulan data
sets (official train/test splits), every method below on the same features,
and writes one Markdown report (``docs/benchmarks.md``):

- sknc with default parameters: ``PALClassifier()`` and ``FixedETFClassifier()``;
- sknc tuned: each estimator in a small grid search on the training split
  only (``benchmarks._tuning``), refitted with the chosen parameters;
- the peers: ``MLPClassifier``, a BCE net with sknc's default backbone,
  one-vs-rest and chained ``LogisticRegression``, ``KNeighborsClassifier``
  and, when scikit-multilearn is installed, ``MLkNN``.

Features: a ``StandardScaler`` fitted on the training part, unless every
training value is 0 or 1 (word indicators), which stay as they are. Neural
methods run with seeds 0..N-1 (cells are mean ± std); the others run once.
Metrics: ``sknc._bench.METRICS``, the labels predicted per row, fit and
predict seconds and trainable parameters. The report also counts the data
sets on which sknc's defaults lead every peer and compares the ETF head with
d = K and K - 1 with ``PALClassifier(feature_dim=512)``. The CNN backbone on
the digits images: ``python -m benchmarks.bench_cnn``.

Examples
--------
    python -m benchmarks.bench_suite --threads 1 --out docs/benchmarks.md
    # docs/benchmarks.md as committed (about 65 min on 2 CPUs; a stopped run
    # resumes from the checkpoint folder)
    python -m benchmarks.bench_suite --threads 1 --seeds 3 --jobs 2 \\
        --tune-max-rows 3000 --checkpoint benchmarks/results/suite_ckpt \\
        --include benchmarks/results/overhead.md --out docs/benchmarks.md
    python -m benchmarks.bench_suite --threads 1 --datasets emotions scene \\
        --seeds 2 --max-epochs 10 --out /tmp/suite_smoke.md
    python -m benchmarks.bench_suite --device cuda --amp --out docs/benchmarks.md
"""

import re
import sys
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import label_ranking_average_precision_score

from . import (
    COMMON_ARGUMENTS,
    DATASETS,
    DIGITS_TEST,
    DIGITS_TRAIN,
    METRICS,
    Run,
    Runner,
    bold_best,
    cell,
    failures_section,
    int_cell,
    is_binary,
    label_scores,
    load_datasets,
    log,
    make_estimator,
    mean_of,
    reused_note,
    run_datasets,
    study_parser,
    table,
    warnings_section,
)
from ._tuning import (
    TUNE_ARGUMENTS,
    grid_argument,
    run_tuned,
    tuning_line,
    tuning_settings,
)

try:  # optional peer: scikit-multilearn's MLkNN
    from skmultilearn.adapt import MLkNN
except ImportError as exc:  # depends on the environment
    MLkNN = None
    MLKNN_IMPORT_ERROR = f"{type(exc).__name__}: {exc}"
else:
    MLKNN_IMPORT_ERROR = None

# What we found when we tried it (see benchmarks/README.md).
MLKNN_NOTE = (
    "scikit-multilearn 0.2.0 (the latest release) fails with current "
    "scikit-learn (1.9.1) and numpy (2.4.6): `MLkNN().fit` raises `TypeError: "
    "NearestNeighbors.__init__() takes 1 positional argument but 2 were given` "
    "(skmultilearn/adapt/mlknn.py passes `k` positionally; scikit-learn's "
    "estimators take keyword-only arguments since 1.0)"
)

# Small grids for the tuned variants (override with --pal-grid / --etf-grid).
# feature_dim=None is the estimator's default (256 for PAL, K for the ETF).
PAL_GRID = {"feature_dim": [128, 256, 512], "dropout": [0.0, 0.3]}
ETF_GRID = {"feature_dim": [None, 256], "dropout": [0.0, 0.3]}

# name shown in the report, family, whether it runs once per seed
METHODS = {
    "pal": ("PALClassifier", "sknc", True),
    "etf": ("FixedETFClassifier", "sknc", True),
    "pal-tuned": ("PALClassifier (tuned)", "tuned", True),
    "etf-tuned": ("FixedETFClassifier (tuned)", "tuned", True),
    "mlp": ("MLPClassifier", "peer", True),
    "bce": ("BCE net (same backbone)", "peer", True),
    "br-lr": ("OneVsRest(LogisticRegression)", "peer", False),
    "cc-lr": ("ClassifierChain(LogisticRegression)", "peer", False),
    "knn": ("KNeighborsClassifier", "peer", False),
    "mlknn": ("MLkNN (scikit-multilearn)", "peer", False),
}
# Extra fits for the parameter-efficiency section.
EXTRA = {
    "pal-d512": ("PALClassifier(feature_dim=512)", "sknc", True),
    "etf-dK-1": ("FixedETFClassifier(feature_dim=K-1)", "sknc", True),
}
ALL = {**METHODS, **EXTRA}
METRIC_NAMES = {m.key: m.header for m in METRICS}


# ------------------------------------------------------------------ methods
def on_cuda(args):
    return str(args.device).startswith("cuda")


def build(key, seed, data, args, params=None):
    """The estimator ``key`` for ``seed`` (``params``: a tuned variant's)."""
    K = data.Y_train.shape[1]
    options = {
        "device": args.device,
        "max_epochs": args.max_epochs,
        "amp": args.amp,
        "pin_memory": on_cuda(args),
    }
    if key in ("pal", "etf", "pal-tuned", "etf-tuned"):
        return make_estimator(key.split("-")[0], seed, **options, **(params or {}))
    if key in EXTRA:
        dim = 512 if key == "pal-d512" else K - 1
        return make_estimator(key[:3], seed, **options, feature_dim=dim)
    if key == "mlknn":
        if MLkNN is None:
            raise RuntimeError(
                f"scikit-multilearn is not importable ({MLKNN_IMPORT_ERROR})"
            )
        return MLkNN()
    if key in METHODS:  # the peers; the BCE net trains in float32 (no amp)
        epochs = {"max_epochs": args.max_epochs, "peer_epochs": args.max_epochs}
        return make_estimator(key, seed, device=args.device, **epochs)
    raise ValueError(f"unknown method {key!r}")


def label(key):
    return ALL[key][0]


# -------------------------------------------------------------------- runner
def lrap_proba(est, data, Y_pred):
    """``measure`` of the runner: sknc's LRAP of the decoder's probabilities too."""
    if not hasattr(est, "decoder_"):
        return {}
    proba = label_scores(est, data.X_test, response="proba")
    return {"lrap_proba": label_ranking_average_precision_score(data.Y_test, proba)}


def run_method(runner, args, dataset, data, key):
    """Per-seed results of ``key`` on ``dataset`` (each fit once)."""
    seeds = range(args.seeds) if ALL[key][2] else [0]
    if not key.endswith("-tuned"):
        return runner.run(dataset, data, key, seeds)
    grid = args.pal_grid if key == "pal-tuned" else args.etf_grid
    return run_tuned(runner, args, dataset, data, key, seeds, grid, key[:3])


def fit_dataset(args, name, data):
    """Every fit of the suite on one data set, as a ``Runner``."""
    runner = Runner(
        lambda key, seed, data, params: build(key, seed, data, args, params),
        measure=lrap_proba,
        label=label,
        catch_errors=True,
        verbose_errors=args.verbose_errors,
        log=log,
    )
    # defaults and peers first: the tuning estimate uses the default's time
    keys = sorted(args.methods, key=lambda k: k.endswith("-tuned"))
    if not args.skip_efficiency:
        keys += ["pal", "pal-d512", "etf", "etf-dK-1"]
    for key in keys:
        run_method(runner, args, name, data, key)
    return runner


# ----------------------------------------------------------------- reporting
def method_keys(args):
    return [k for k in METHODS if k in args.methods]


def dataset_section(suite, args, name, data, info):
    keys = method_keys(args)
    rows, values = [], []
    for key in keys:
        res = suite.results.get((name, key), [])
        values.append([mean_of(res, m.key) for m in METRICS])
        if not res:
            failed = [label(key), "failed (see Failures)"]
            rows.append(failed + [""] * (len(METRICS) + 3))
            continue
        rows.append(
            [label(key)]
            + [cell(res, m.key, f"{{:.{m.decimals}f}}") for m in METRICS]
            + [cell(res, "pred_card", "{:.2f}"), cell(res, "fit_s", "{:.1f}")]
            + [cell(res, "predict_s", "{:.3f}"), int_cell(res, "params")]
        )
    bold_best(rows, values, [m[3] for m in METRICS])
    true_card = data[3].sum(1).mean()
    last = [f"labels/row (true {true_card:.2f})", "fit s", "predict s", "params"]
    header = ["method"] + [m[1] for m in METRICS] + last
    parts = [f"### {name}", f"{info}.", table(header, rows)]
    proba = [
        f"{label(k)} {cell(suite.results[(name, k)], 'lrap_proba')}"
        for k in keys
        if suite.results.get((name, k)) and "lrap_proba" in suite.results[(name, k)][0]
    ]
    if proba:
        parts.append(
            "LRAP of sknc's `predict_proba` (the decoder's per-label "
            "probabilities) instead of its logits: " + "; ".join(proba) + "."
        )
    tuned = tuning_line(suite, name, keys, label)
    parts += [tuned] if tuned else []
    return "\n\n".join(parts)


def summary_section(suite, args, datasets):
    keys, names, rows = method_keys(args), list(datasets), []
    means = {
        (name, key, metric): mean_of(suite.results.get((name, key), []), metric)
        for name in names
        for key in keys
        for metric in ("micro_f1", "subset_acc")
    }
    for key in keys:
        row, both = [label(key)], []
        for name in names:
            if not suite.results.get((name, key)):
                row.append("failed")
                continue
            cells = []
            for metric in ("micro_f1", "subset_acc"):
                value = means[(name, key, metric)]
                found = [means[(name, k, metric)] for k in keys]
                best = max(v for v in found if v is not None)
                text = f"{value:.3f}".lstrip("0")
                cells.append(f"**{text}**" if np.isclose(value, best) else text)
            both.append([means[(name, key, m)] for m in ("micro_f1", "subset_acc")])
            row.append("\u00a0/\u00a0".join(cells))  # no-break: one line per cell
        if len(both) == len(names):
            micro, subset = (np.mean(v) for v in zip(*both, strict=True))
            row.append(f"{micro:.3f}\u00a0/\u00a0{subset:.3f}".replace("0.", "."))
        else:
            row.append("—")
        rows.append(row)
    return "\n\n".join(
        [
            "## Summary: micro-F1 / subset accuracy",
            "Means over seeds; the best of each data set in bold. Last column: "
            "the mean over the data sets (only for methods that ran on all).",
            table(["method"] + names + ["mean"], rows),
        ]
    )


def peer_keys(args):
    return [k for k in method_keys(args) if METHODS[k][1] == "peer"]


def leads(suite, args, datasets, key):
    """Per metric: data sets on which ``key`` beats every peer's mean."""
    out = {}
    for metric, _, _, higher in METRICS:
        details = []
        for name in datasets:
            own = mean_of(suite.results.get((name, key), []), metric)
            others = {
                label(p): mean_of(suite.results.get((name, p), []), metric)
                for p in peer_keys(args)
            }
            others = {p: v for p, v in others.items() if v is not None}
            if own is None or not others:
                continue
            best_peer = (max if higher else min)(others, key=others.get)
            margin = own - others[best_peer]
            lead = margin > 0 if higher else margin < 0
            details.append((name, own, best_peer, others[best_peer], lead))
        out[metric] = (sum(d[4] for d in details), len(details), details)
    return out


def leads_section(suite, args, datasets):
    if "pal" not in args.methods and "etf" not in args.methods:
        return "## Does sknc lead?\n\nSkipped: neither sknc default was run."
    result = {
        k: leads(suite, args, datasets, k) for k in ("pal", "etf") if k in args.methods
    }
    rows = [
        [label(key) + " (defaults)"] + [f"{w}/{n}" for w, n, _ in res.values()]
        for key, res in result.items()
    ]
    parts = [
        "## Does sknc lead? Data sets where the defaults beat every peer",
        "Peers: "
        + ", ".join(label(k) for k in peer_keys(args))
        + ". The tuned sknc variants are not peers. A lead is a strictly better "
        "mean over seeds than the best peer's; Hamming loss: lower is better. "
        "A peer that failed on a data set is left out of that data set.",
        table(["estimator"] + [m[1] for m in METRICS], rows),
    ]
    behind = []
    if "pal" in result:
        pal = result["pal"]
        (w_s, n_s, _), (w_m, n_m, _) = pal["subset_acc"], pal["micro_f1"]
        parts.append(
            f"Goal of issue 5 (PALClassifier with defaults ahead of every peer "
            f"on subset accuracy on at least 6 of the 8 data sets and on "
            f"micro-F1 on at least 5): subset accuracy {w_s}/{n_s}, micro-F1 "
            f"{w_m}/{n_m}: **{'met' if w_s >= 6 and w_m >= 5 else 'not met'}**"
            + ("" if n_s == 8 else " (not all 8 data sets ran)")
            + "."
        )
        behind = [
            f"- {name}, {METRIC_NAMES[metric]}: PALClassifier {own:.3f}, {peer} "
            f"{value:.3f} ({100 * (own - value):+.1f} points)"
            for metric in ("subset_acc", "micro_f1")
            for name, own, peer, value, lead in pal[metric][2]
            if not lead
        ]
        detail_rows = []
        for name in (d[0] for d in pal["micro_f1"][2]):
            cells = [name]
            for metric in ("micro_f1", "subset_acc"):
                match = [d for d in pal[metric][2] if d[0] == name]
                if not match:
                    cells += ["—", "—"]
                    continue
                _, own, peer, value, lead = match[0]
                cells.append(f"{own:.3f}" + (" (leads)" if lead else ""))
                cells.append(f"{value:.3f} ({peer}, {100 * (own - value):+.1f})")
            detail_rows.append(cells)
        if detail_rows:
            header = "dataset|PALClassifier micro-F1|best peer (Δ points)|"
            header += "PALClassifier subset acc|best peer (Δ points)"
            parts.append(table(header.split("|"), detail_rows))
    parts += [
        "## Where sknc is behind and why",
        "Where PALClassifier with defaults does not lead:",
        "\n".join(behind) if behind else "- nowhere on micro-F1 or subset accuracy.",
    ]
    lagging = sorted({line.split(",")[0][2:] for line in behind})
    if lagging:
        parts.append(
            "Diagnostics (means over seeds): LRAP ranks the labels by the raw "
            "scores, before any decoder, so a lower LRAP means the scores "
            "themselves are worse; labels per row compares the predicted set "
            "sizes with the truth.\n\n"
            + "\n".join(
                behind_diagnostics(suite, args, datasets, name) for name in lagging
            )
        )
    analysis = getattr(args, "analysis", None)
    if analysis and Path(analysis).exists():
        parts.append(Path(analysis).read_text().strip())
    return "\n\n".join(parts)


def behind_diagnostics(suite, args, datasets, name):
    """One line of facts on a data set where PALClassifier does not lead."""

    def mean(key, metric):
        return mean_of(suite.results.get((name, key), []), metric)

    lrap = {k: mean(k, "lrap") for k in peer_keys(args) if mean(k, "lrap") is not None}
    facts = [f"LRAP {mean('pal', 'lrap'):.3f}"]
    if lrap:
        best = max(lrap, key=lrap.get)
        facts[0] += f" (best peer {label(best)} {lrap[best]:.3f})"
    true_card = float(np.asarray(datasets[name][3]).sum(1).mean())
    facts.append(
        f"labels per row {mean('pal', 'pred_card'):.2f} (truth {true_card:.2f}, "
        f"training split {float(np.asarray(datasets[name][1]).sum(1).mean()):.2f})"
    )
    for key in ("pal-tuned", "etf"):
        if mean(key, "micro_f1") is not None:
            facts.append(
                f"{label(key)} micro-F1 {mean(key, 'micro_f1'):.3f}, subset "
                f"{mean(key, 'subset_acc'):.3f}"
            )
    return f"- {name}: " + "; ".join(facts) + "."


def efficiency_section(suite, datasets):
    rows = []
    for name, data in datasets.items():
        K = data[1].shape[1]
        ref = suite.results.get((name, "pal-d512"), [])
        if not ref:
            rows.append([name, "PALClassifier(feature_dim=512) failed"] + [""] * 7)
            continue
        ref_p = np.mean([r["params"] for r in ref])
        ref_m, ref_s = mean_of(ref, "micro_f1"), mean_of(ref, "subset_acc")
        for key, model in (
            ("pal-d512", "PALClassifier(feature_dim=512) (reference)"),
            ("pal", "PALClassifier() (d=256)"),
            ("etf", f"FixedETFClassifier() (d=K={K})"),
            ("etf-dK-1", f"FixedETFClassifier(feature_dim=K-1={K - 1})"),
        ):
            res = suite.results.get((name, key), [])
            if not res:
                rows.append([name, model, "failed"] + [""] * 6)
                continue
            params = np.mean([r["params"] for r in res])
            dm = mean_of(res, "micro_f1") - ref_m
            ds = mean_of(res, "subset_acc") - ref_s
            ok = params < ref_p and dm >= -0.01 and ds >= -0.01
            holds = ("yes" if ok else "no") if key.startswith("etf") else "—"
            if key == "pal-d512":
                saved = dm = ds = "ref"
            else:
                saved = f"{100 * (1 - params / ref_p):.1f}%"
                dm, ds = f"{100 * dm:+.1f}", f"{100 * ds:+.1f}"
            rows.append([name, model, int_cell(res, "params"), saved])
            rows[-1] += [cell(res, "micro_f1"), dm, cell(res, "subset_acc"), ds, holds]
    header = "dataset|model|trainable params|saved|micro-F1|Δ micro-F1|subset acc"
    header += "|Δ subset acc|claim holds"
    return "\n\n".join(
        [
            "## Parameter efficiency: a fixed ETF head with d = K and K - 1",
            "Reference: `PALClassifier(feature_dim=512)` (hidden layer 512, "
            "features 512, learned head). Saved: the share of the reference's "
            "trainable parameters saved. Δ: difference to the reference in "
            "points (x100) of the means over seeds. The claim holds when the "
            "ETF model has fewer parameters and both micro-F1 and subset "
            "accuracy are at most 1 point below the reference.",
            table(header.split("|"), rows),
        ]
    )


def settings_lines(args):
    device = f"- device: {args.device}"
    if on_cuda(args):
        device += f" ({torch.cuda.get_device_name(args.device)}), pinned memory"
    if args.amp:
        device += ", mixed-precision training of the sknc estimators (--amp)"
    epochs = (
        "defaults (sknc and the BCE net 100, MLPClassifier max_iter=300)"
        if args.max_epochs is None
        else f"{args.max_epochs} (sknc, BCE net; MLPClassifier max_iter)"
    )
    mlknn = "not run (see Failures)" if MLKNN_IMPORT_ERROR else "run"
    mlknn = mlknn if args.mlknn_requested else "not selected"
    jobs = f"{args.jobs} data set(s) at a time" + (
        f"; finished data sets reused from `{args.checkpoint}`, so the wall time "
        "covers the last run only"
        if args.checkpoint
        else ""
    )
    return [
        device + f"; seeds: 0..{args.seeds - 1} for the neural methods (cells: "
        "mean ± std over seeds); the others run once",
        f"- epochs: {epochs}; parallelism: {jobs}",
        "- methods: " + ", ".join(label(k) for k in method_keys(args)),
        "- peers (`sknc._bench.make_estimator`): MLPClassifier(max_iter=300); "
        "BCE net: sknc's default backbone, a linear head, BCEWithLogitsLoss, "
        "threshold 0.5; LogisticRegression(max_iter=1000) one-vs-rest and "
        f"chained in label order; KNeighborsClassifier(); MLkNN: {mlknn}",
        tuning_settings(args, {"PAL": args.pal_grid, "ETF": args.etf_grid}),
        "- LRAP from `decision_function` where there is one (sknc, BCE net), "
        "else `predict_proba`, as scikit-learn's ranking scorers",
        "- features: StandardScaler unless all 0 or 1; digits: "
        f"make_multilabel_digits({DIGITS_TRAIN}) for train, ({DIGITS_TEST}) for "
        "test; fit s: the final fit (the search is in the Tuning line)",
    ]


# ----------------------------------------------------------------------- CLI
OPTIONS = {  # the suite's own arguments, as the harness's COMMON_ARGUMENTS
    "methods": {
        "nargs": "+",
        "choices": list(METHODS),
        "default": list(METHODS),
        "metavar": "METHOD",
        "help": "methods of the main tables, any of " + " ".join(METHODS) + " "
        "(default: all; the parameter-efficiency fits: --skip-efficiency)",
    },
    "skip_tuned": {"action": "store_true", "help": "no grid searches"},
    "skip_efficiency": {
        "action": "store_true",
        "help": "no parameter-efficiency fits (PAL d=512, ETF d=K-1)",
    },
    **TUNE_ARGUMENTS,
    "pal_grid": grid_argument("PALClassifier", PAL_GRID),
    "etf_grid": grid_argument("FixedETFClassifier", ETF_GRID),
    "analysis": {
        "default": str(Path(__file__).resolve().parent / "suite_analysis.md"),
        "metavar": "FILE",
        "help": "hand-written Markdown appended to the section on where sknc is "
        "behind (default: benchmarks/suite_analysis.md, if it exists)",
    },
    "include": {
        "nargs": "+",
        "default": [],
        "metavar": "FILE",
        "help": "Markdown reports of other benchmarks (e.g. bench_overhead's) "
        "appended to this one, their headings one level down",
    },
}


def parse_args(argv=None):
    parser = study_parser(
        __doc__,
        *"datasets data_dir methods skip_tuned jobs skip_efficiency seeds device amp "
        "max_epochs tune_folds tune_jobs tune_max_rows tune_per_seed pal_grid "
        "etf_grid threads out analysis include checkpoint verbose_errors".split(),
        arguments=OPTIONS,
        datasets={"help": "any of " + " ".join(DATASETS) + " (default: all)"},
        seeds={"default": 3, "help": "seeds 0..N-1 of the neural methods (default: 3)"},
        amp={"help": COMMON_ARGUMENTS["amp"]["help"] + "; the BCE net: float32"},
        max_epochs={
            "help": "epochs of every neural method (sknc, BCE net, MLPClassifier's "
            "max_iter), e.g. for a smoke run (default: their defaults)"
        },
    )
    args = parser.parse_args(argv)
    if args.tune_folds < 2:
        parser.error("--tune-folds must be at least 2")
    if args.skip_tuned:
        args.methods = [m for m in args.methods if not m.endswith("-tuned")]
    args.methods = [m for m in METHODS if m in args.methods]  # canonical order
    return args


def dataset_notes(name, data):
    binary = is_binary(data.X_train)
    never = int((data.Y_train.sum(0) == 0).sum())
    return ("binary features, not scaled" if binary else "StandardScaler") + (
        f"; {never} labels never positive in training" if never else ""
    )


def main(argv=None):
    args = parse_args(argv)
    run = Run(args)
    args.git = run.git  # for the checkpoints, written by the workers too
    datasets, info = load_datasets(
        args.datasets, args.data_dir, scaling="auto", notes=dataset_notes
    )
    args.mlknn_requested = "mlknn" in args.methods
    if args.mlknn_requested and MLKNN_IMPORT_ERROR:
        log(f"[note] MLkNN skipped: scikit-multilearn not importable; {MLKNN_NOTE}")
        args.methods.remove("mlknn")

    suite, reused = run_datasets(fit_dataset, args, datasets)
    run.git += reused_note(reused)  # which code computed the reused results

    # the answer first; the run's settings, long, at the end
    sections = [
        leads_section(suite, args, datasets),
        summary_section(suite, args, datasets),
        "## Per data set\n\nThe best mean of each column in bold.",
    ]
    sections += [
        dataset_section(suite, args, name, data, info[name])
        for name, data in datasets.items()
    ]
    if not args.skip_efficiency:
        sections.append(efficiency_section(suite, datasets))
    for path in args.include:  # another report, its headings one level down
        text = Path(path).read_text().strip()
        sections.append(re.sub(r"^(#{1,5}) ", r"#\1 ", text, flags=re.MULTILINE))
    sections.append("## Settings\n\n" + "\n".join(settings_lines(args)))
    notes = []
    if args.mlknn_requested and MLKNN_IMPORT_ERROR:
        notes.append(
            f"MLkNN was not run: scikit-multilearn is not installed "
            f"(`{MLKNN_IMPORT_ERROR}`). When tried in a separate environment, "
            f"{MLKNN_NOTE}."
        )
    sections += [failures_section(suite, notes), warnings_section(suite)]
    header = run.header(
        "# sknc benchmark suite: sknc against the usual multi-label estimators",
        ["- settings: see the section Settings at the end"],
        info,
    )
    return run.finish("\n\n".join([header, *sections]))


if __name__ == "__main__":
    sys.exit(main())
