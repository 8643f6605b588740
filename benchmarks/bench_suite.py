"""Benchmark suite: sknc against the estimators a data scientist would use instead.

One command fits, on the built-in multi-label digits and the seven Mulan data
sets (official train/test splits), every method below on the same features,
and writes one Markdown report (``docs/benchmarks.md``):

- sknc with default parameters: ``PALClassifier()`` and ``FixedETFClassifier()``
  (only ``random_state`` and ``device`` set);
- sknc tuned: each estimator in a small ``GridSearchCV`` on the training split
  only (``MultilabelStratifiedKFold(3)`` folds, ``scoring='f1_micro'``), then
  refitted on the whole training split with the chosen parameters;
- the peers: ``MLPClassifier``, a skorch net with sknc's default backbone
  trained with ``BCEWithLogitsLoss`` (``sknc._bench.BCENetClassifier``),
  binary relevance (``OneVsRestClassifier(LogisticRegression)``),
  ``ClassifierChain(LogisticRegression)``, ``KNeighborsClassifier`` and, when
  scikit-multilearn is installed, ``MLkNN``.

Features: a ``StandardScaler`` fitted on the training part, unless every
training value is 0 or 1 (word indicators: medical, enron, bibtex, tmc2007),
which stay as they are. Neural methods run with seeds 0..N-1 (cells are mean
± std); the deterministic ones run once.

Metrics: micro-F1, macro-F1 (``zero_division=0``), subset accuracy, Hamming
loss, label-ranking average precision (LRAP, from ``decision_function``
where there is one, else ``predict_proba``, as scikit-learn's ranking scorers
do), the mean number of predicted labels per row, fit and predict
seconds and trainable parameters. The report also counts the data sets on
which sknc's defaults lead every peer, compares the parameter-efficient
``FixedETFClassifier`` (d = K and K - 1) with ``PALClassifier(feature_dim=512)``,
and fits both estimators with a small CNN backbone on the digits images.

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

import argparse
import json
import re
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import label_ranking_average_precision_score
from sklearn.model_selection import GridSearchCV
from torch import nn

from sknc.model_selection import (
    MultilabelStratifiedKFold,
    multilabel_train_test_split,
)

from . import (
    DATASETS,
    DIGITS_TEST,
    DIGITS_TRAIN,
    METRICS,
    Run,
    Runner,
    add_common_arguments,
    cell,
    int_cell,
    is_binary,
    label_scores,
    load_datasets,
    log,
    make_estimator,
    positive_int,
    reused_note,
    run_datasets,
    study_parser,
    table,
    warnings_section,
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
# Extra fits for the parameter-efficiency and CNN sections.
EXTRA = {
    "pal-d512": ("PALClassifier(feature_dim=512)", "sknc", True),
    "etf-dK-1": ("FixedETFClassifier(feature_dim=K-1)", "sknc", True),
    "pal-cnn": ("PALClassifier(module=SmallCNN, d=64)", "sknc", True),
    "etf-cnn": ("FixedETFClassifier(module=SmallCNN, d=K)", "sknc", True),
}
ALL = {**METHODS, **EXTRA}
METRIC_NAMES = {m.key: m.header for m in METRICS}


# ------------------------------------------------------------------ methods
class SmallCNN(nn.Module):
    """A small CNN backbone for flat square images (the digits' 20x20 canvas).

    Two ``Conv -> BatchNorm -> ReLU -> MaxPool`` blocks and a linear map to
    ``out_features`` features; the flat input is reshaped in ``forward``.
    """

    def __init__(self, side=20, out_features=64, channels=(16, 32)):
        super().__init__()
        c1, c2 = channels
        self.side = side
        self.conv = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1),
            nn.BatchNorm2d(c1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1),
            nn.BatchNorm2d(c2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.fc = nn.Linear(c2 * (side // 4) ** 2, out_features)

    def forward(self, X):
        return self.fc(self.conv(X.reshape(-1, 1, self.side, self.side)))


def on_cuda(args):
    return str(args.device).startswith("cuda")


def build(key, seed, data, args, params=None):
    """The estimator ``key`` for ``seed`` (``params``: a tuned variant's)."""
    n_features, K = data.X_train.shape[1], data.Y_train.shape[1]
    options = {
        "device": args.device,
        "max_epochs": args.max_epochs,
        "amp": args.amp,
        "pin_memory": on_cuda(args),
    }
    if key in ("pal", "etf", "pal-tuned", "etf-tuned"):
        return make_estimator(key.split("-")[0], seed, **options, **(params or {}))
    if key == "pal-d512":
        return make_estimator("pal", seed, **options, feature_dim=512)
    if key == "etf-dK-1":
        return make_estimator("etf", seed, **options, feature_dim=K - 1)
    if key in ("pal-cnn", "etf-cnn"):
        return make_estimator(
            key[:3],
            seed,
            **options,
            module=SmallCNN,
            module__side=int(round(np.sqrt(n_features))),
            module__out_features=64 if key == "pal-cnn" else K,
        )
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


def duration(seconds):
    if seconds < 120:
        return f"~{seconds:.0f} s"
    if seconds < 7200:
        return f"~{seconds / 60:.0f} min"
    return f"~{seconds / 3600:.1f} h"


def fmt_params(params):
    parts = []
    for key, value in sorted(params.items()):
        if key == "feature_dim" and value is None:
            value = "None (default)"
        parts.append(f"{key}={value}")
    return ", ".join(parts) or "(none)"


# -------------------------------------------------------------------- runner
def lrap_proba(est, data, Y_pred):
    """``measure`` of the runner: sknc's LRAP of the decoder's probabilities too."""
    if not hasattr(est, "decoder_"):
        return {}
    proba = label_scores(est, data.X_test, response="proba")
    return {"lrap_proba": label_ranking_average_precision_score(data.Y_test, proba)}


def search(runner, args, dataset, data, key, seed):
    """The grid search of a tuned variant on the training split; its summary."""
    X, Y = data[0], data[1]
    if args.tune_max_rows and len(X) > args.tune_max_rows:
        X, _, Y, _ = multilabel_train_test_split(
            X, Y, train_size=args.tune_max_rows, random_state=seed, stratify=Y
        )
    grid = args.pal_grid if key == "pal-tuned" else args.etf_grid
    n_cand = int(np.prod([len(v) for v in grid.values()]))
    n_fits = n_cand * args.tune_folds
    default = runner.results.get((dataset, key.split("-")[0]))
    if default:
        per_fit = default[0]["fit_s"] * len(X) / len(data[0])
        per_fit *= (args.tune_folds - 1) / args.tune_folds
        estimate = f"{duration(n_fits * per_fit)} (rough: from the default fit)"
    else:
        estimate = "unknown (the default was not fitted first)"
    log(
        f"  [tune] {dataset} {label(key)} seed={seed}: {n_cand} candidates "
        f"x {args.tune_folds} folds = {n_fits} fits on {len(X)} rows, "
        f"estimated {estimate}"
    )
    search = GridSearchCV(
        build(key, seed, data, args),
        grid,
        cv=MultilabelStratifiedKFold(
            n_splits=args.tune_folds, shuffle=True, random_state=seed
        ),
        scoring="f1_micro",
        refit=False,
        n_jobs=args.tune_jobs,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        search.fit(X, Y)
        search_s = time.perf_counter() - start
    runner.record_warnings(dataset, key, caught)
    log(
        f"  [tune] done in {search_s:.0f} s: {fmt_params(search.best_params_)} "
        f"(CV micro-F1 {search.best_score_:.3f})"
    )
    return {
        "params": search.best_params_,
        "cv_score": float(search.best_score_),
        "search_s": search_s,
        "n_fits": n_fits,
        "rows": len(X),
        "seed": seed,
    }


def fit_tuned(runner, args, dataset, data, key, seed):
    """Search (once, or per seed), then fit the chosen parameters with ``seed``."""
    summaries = runner.notes.setdefault(("tuning", dataset, key), [])
    try:
        if not summaries or args.tune_per_seed:
            summaries.append(search(runner, args, dataset, data, key, seed))
    except Exception as exc:
        runner.fail(dataset, key, seed, exc)
        return None
    return runner.fit_one(dataset, data, key, seed, params=summaries[-1]["params"])


def run_method(runner, args, dataset, data, key):
    """Per-seed results of ``key`` on ``dataset`` (each fit once)."""
    seeds = range(args.seeds) if ALL[key][2] else [0]
    if not key.endswith("-tuned"):
        return runner.run(dataset, data, key, seeds)
    if (dataset, key) not in runner.results:
        res = [fit_tuned(runner, args, dataset, data, key, seed) for seed in seeds]
        runner.results[(dataset, key)] = [r for r in res if r is not None]
    return runner.results[(dataset, key)]


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
    for key in sorted(args.methods, key=lambda k: k.endswith("-tuned")):
        run_method(runner, args, name, data, key)
    if not args.skip_efficiency:
        for key in ("pal", "pal-d512", "etf", "etf-dK-1"):
            run_method(runner, args, name, data, key)
    if name == "digits" and not args.skip_cnn:
        for key in ("pal", "pal-cnn", "etf", "etf-cnn"):
            run_method(runner, args, name, data, key)
    return runner


# ----------------------------------------------------------------- reporting
def bold_best(rows, values, higher):
    """Bold the best mean in each metric column (``values``: per row)."""
    for col, (vals, hi) in enumerate(zip(values, higher, strict=True)):
        finite = [v for v in vals if v is not None]
        if not finite:
            continue
        best = max(finite) if hi else min(finite)
        for row, v in zip(rows, vals, strict=True):
            if v is not None and np.isclose(v, best):
                row[col + 1] = f"**{row[col + 1]}**"


def mean_of(res, key):
    return float(np.mean([r[key] for r in res])) if res else None


def method_keys(args):
    return [k for k in METHODS if k in args.methods]


def dataset_section(suite, args, name, data, info):
    keys = method_keys(args)
    rows, values = [], [[] for _ in METRICS]
    for key in keys:
        res = suite.results.get((name, key), [])
        if not res:
            failed = [label(key), "failed (see Failures)"]
            rows.append(failed + [""] * (len(METRICS) + 3))
            for v in values:
                v.append(None)
            continue
        row = [label(key)]
        for metric, v in zip(METRICS, values, strict=True):
            row.append(cell(res, metric.key, f"{{:.{metric.decimals}f}}"))
            v.append(mean_of(res, metric.key))
        row += [
            cell(res, "pred_card", "{:.2f}"),
            cell(res, "fit_s", "{:.1f}"),
            cell(res, "predict_s", "{:.3f}"),
            int_cell(res, "params"),
        ]
        rows.append(row)
    bold_best(rows, values, [m[3] for m in METRICS])
    true_card = data[3].sum(1).mean()
    header = (
        ["method"]
        + [m[1] for m in METRICS]
        + [f"labels/row (true {true_card:.2f})", "fit s", "predict s", "params"]
    )
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
    tuned = [
        (label(k), s)
        for k in keys
        if k.endswith("-tuned")
        for s in suite.notes.get(("tuning", name, k), [])
    ]
    if tuned:
        parts.append(
            "Tuning: "
            + "; ".join(
                f"{label} (seed {s['seed']}): {fmt_params(s['params'])}, CV micro-F1 "
                f"{s['cv_score']:.3f}, {s['n_fits']} fits on {s['rows']} rows in "
                f"{s['search_s']:.0f} s"
                for label, s in tuned
            )
            + "."
        )
    return "\n\n".join(parts)


def summary_section(suite, args, datasets):
    keys = method_keys(args)
    names = list(datasets)
    rows = []
    best = {}
    for name in names:
        for metric in ("micro_f1", "subset_acc"):
            vals = [mean_of(suite.results.get((name, k), []), metric) for k in keys]
            vals = [v for v in vals if v is not None]
            best[(name, metric)] = max(vals) if vals else None
    for key in keys:
        row = [label(key)]
        micro, subset = [], []
        for name in names:
            res = suite.results.get((name, key), [])
            if not res:
                row.append("failed")
                continue
            m, s = mean_of(res, "micro_f1"), mean_of(res, "subset_acc")
            micro.append(m)
            subset.append(s)
            cm = f"{m:.3f}".lstrip("0")
            cs = f"{s:.3f}".lstrip("0")
            if np.isclose(m, best[(name, "micro_f1")]):
                cm = f"**{cm}**"
            if np.isclose(s, best[(name, "subset_acc")]):
                cs = f"**{cs}**"
            row.append(f"{cm}\u00a0/\u00a0{cs}")  # no-break: one line per cell
        if len(micro) == len(names):
            row.append(
                f"{np.mean(micro):.3f}\u00a0/\u00a0{np.mean(subset):.3f}".replace(
                    "0.", "."
                )
            )
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


def leads(suite, args, datasets, key):
    """Per metric: data sets on which ``key`` beats every peer's mean."""
    peers = [k for k in method_keys(args) if METHODS[k][1] == "peer"]
    out = {}
    for metric, _, _, higher in METRICS:
        won, total, details = 0, 0, []
        for name in datasets:
            own = mean_of(suite.results.get((name, key), []), metric)
            others = {
                label(p): mean_of(suite.results.get((name, p), []), metric)
                for p in peers
            }
            others = {p: v for p, v in others.items() if v is not None}
            if own is None or not others:
                continue
            total += 1
            best_peer = (max if higher else min)(others, key=others.get)
            margin = own - others[best_peer]
            lead = margin > 0 if higher else margin < 0
            won += lead
            details.append((name, own, best_peer, others[best_peer], lead))
        out[metric] = (won, total, details)
    return out


def leads_section(suite, args, datasets):
    if "pal" not in args.methods and "etf" not in args.methods:
        return "## Does sknc lead?\n\nSkipped: neither sknc default was run."
    peers = [label(k) for k in method_keys(args) if METHODS[k][1] == "peer"]
    rows, goal, behind = [], [], []
    for key in ("pal", "etf"):
        if key not in args.methods:
            continue
        result = leads(suite, args, datasets, key)
        rows.append(
            [label(key) + " (defaults)"]
            + [f"{result[m][0]}/{result[m][1]}" for m, *_ in METRICS]
        )
        if key == "pal":
            w_s, n_s, _ = result["subset_acc"]
            w_m, n_m, _ = result["micro_f1"]
            met = w_s >= 6 and w_m >= 5
            goal.append(
                f"Goal of issue 5 (PALClassifier with defaults ahead of every peer "
                f"on subset accuracy on at least 6 of the 8 data sets and on "
                f"micro-F1 on at least 5): subset accuracy {w_s}/{n_s}, micro-F1 "
                f"{w_m}/{n_m}: **{'met' if met else 'not met'}**"
                + ("" if n_s == 8 else " (not all 8 data sets ran)")
                + "."
            )
            for metric in ("subset_acc", "micro_f1"):
                for name, own, peer, value, lead in result[metric][2]:
                    if not lead:
                        behind.append(
                            f"- {name}, {METRIC_NAMES[metric]}: "
                            f"PALClassifier {own:.3f}, {peer} {value:.3f} "
                            f"({100 * (own - value):+.1f} points)"
                        )
    detail_rows = []
    pal = leads(suite, args, datasets, "pal") if "pal" in args.methods else None
    if pal:
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
    parts = [
        "## Does sknc lead? Data sets where the defaults beat every peer",
        "Peers: "
        + ", ".join(peers)
        + ". The tuned sknc variants are not peers. A lead is a strictly better "
        "mean over seeds than the best peer's; Hamming loss: lower is better. "
        "A peer that failed on a data set is left out of that data set.",
        table(["estimator"] + [m[1] for m in METRICS], rows),
    ]
    parts += goal
    if detail_rows:
        parts.append(
            table(
                [
                    "dataset",
                    "PALClassifier micro-F1",
                    "best peer (Δ points)",
                    "PALClassifier subset acc",
                    "best peer (Δ points)",
                ],
                detail_rows,
            )
        )
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

    peers = [k for k in method_keys(args) if METHODS[k][1] == "peer"]
    lrap = {k: mean(k, "lrap") for k in peers if mean(k, "lrap") is not None}
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
        for key, label in (
            ("pal-d512", "PALClassifier(feature_dim=512) (reference)"),
            ("pal", "PALClassifier() (d=256)"),
            ("etf", f"FixedETFClassifier() (d=K={K})"),
            ("etf-dK-1", f"FixedETFClassifier(feature_dim=K-1={K - 1})"),
        ):
            res = suite.results.get((name, key), [])
            if not res:
                rows.append([name, label, "failed"] + [""] * 6)
                continue
            params = np.mean([r["params"] for r in res])
            dm = mean_of(res, "micro_f1") - ref_m
            ds = mean_of(res, "subset_acc") - ref_s
            is_ref = key == "pal-d512"
            holds = "—"
            if key.startswith("etf"):
                ok = params < ref_p and dm >= -0.01 and ds >= -0.01
                holds = "yes" if ok else "no"
            rows.append(
                [
                    name,
                    label,
                    int_cell(res, "params"),
                    "ref" if is_ref else f"{100 * (1 - params / ref_p):.1f}%",
                    cell(res, "micro_f1"),
                    "ref" if is_ref else f"{100 * dm:+.1f}",
                    cell(res, "subset_acc"),
                    "ref" if is_ref else f"{100 * ds:+.1f}",
                    holds,
                ]
            )
    return "\n\n".join(
        [
            "## Parameter efficiency: a fixed ETF head with d = K and K - 1",
            "Reference: `PALClassifier(feature_dim=512)` (hidden layer 512, "
            "features 512, learned head). Saved: the share of the reference's "
            "trainable parameters saved. Δ: difference to the reference in "
            "points (x100) of the means over seeds. The claim holds when the "
            "ETF model has fewer parameters and both micro-F1 and subset "
            "accuracy are at most 1 point below the reference.",
            table(
                [
                    "dataset",
                    "model",
                    "trainable params",
                    "saved",
                    "micro-F1",
                    "Δ micro-F1",
                    "subset acc",
                    "Δ subset acc",
                    "claim holds",
                ],
                rows,
            ),
        ]
    )


def cnn_section(suite, datasets):
    if "digits" not in datasets:
        return (
            "## Any backbone: a small CNN on the digits images\n\n"
            "Skipped: the digits are not among the selected data sets."
        )
    rows = []
    for key, backbone in (
        ("pal", "MLP 512 (default)"),
        ("pal-cnn", "SmallCNN, 64 features"),
        ("etf", "MLP 512 (default)"),
        ("etf-cnn", "SmallCNN, K=10 features"),
    ):
        res = suite.results.get(("digits", key), [])
        estimator = "PALClassifier" if key.startswith("pal") else "FixedETFClassifier"
        if not res:
            rows.append([estimator, backbone, "failed"] + [""] * 4)
            continue
        rows.append(
            [
                estimator,
                backbone,
                int_cell(res, "params"),
                cell(res, "micro_f1"),
                cell(res, "subset_acc"),
                cell(res, "lrap"),
                cell(res, "fit_s", "{:.1f}"),
            ]
        )
    return "\n\n".join(
        [
            "## Any backbone: a small CNN on the digits images",
            "The digits are 20x20 images (`make_multilabel_digits`), flattened "
            "to 400 features and standardised like every other method's input. "
            "`SmallCNN` (defined in `bench_suite.py`: two Conv3x3-BatchNorm-ReLU-"
            "MaxPool blocks with 16 and 32 channels, then a linear map to the "
            "features) reshapes each row to 1x20x20 in its `forward` and is "
            "passed as `module=SmallCNN` with `module__side=20` and "
            "`module__out_features` (64 for PALClassifier, K for "
            "FixedETFClassifier, whose `feature_dim` is then read from the "
            "module). Everything else stays at its default.",
            table(
                [
                    "estimator",
                    "backbone",
                    "trainable params",
                    "micro-F1",
                    "subset acc",
                    "LRAP",
                    "fit s",
                ],
                rows,
            ),
        ]
    )


def failures_section(suite, args):
    parts = ["## Failures"]
    if suite.failures:
        parts.append(
            table(
                ["dataset", "method", "seed", "error"],
                [[d, m, s, e.replace("|", "\\|")] for d, m, s, e in suite.failures],
            )
        )
    else:
        parts.append("None.")
    if args.mlknn_requested and MLKNN_IMPORT_ERROR:
        parts.append(
            f"MLkNN was not run: scikit-multilearn is not installed "
            f"(`{MLKNN_IMPORT_ERROR}`). When tried in a separate environment, "
            + MLKNN_NOTE
            + "."
        )
    return "\n\n".join(parts)


def settings_lines(args):
    epochs = (
        "defaults (sknc and the BCE net 100 epochs, MLPClassifier max_iter=300)"
        if args.max_epochs is None
        else f"{args.max_epochs} (sknc, BCE net; MLPClassifier max_iter)"
    )
    mlknn = (
        "MLkNN: "
        + (
            "run (scikit-multilearn importable)"
            if MLKNN_IMPORT_ERROR is None
            else "not run, scikit-multilearn is not installed; " + MLKNN_NOTE
        )
        if args.mlknn_requested
        else "MLkNN: not selected"
    )
    return [
        f"- device: {args.device}"
        + (
            f" ({torch.cuda.get_device_name(args.device)}), pinned-memory "
            "training batches"
            if on_cuda(args)
            else ""
        )
        + (
            ", mixed-precision training of the sknc estimators (--amp)"
            if args.amp
            else ""
        )
        + f"; seeds: {args.seeds} (0..{args.seeds - 1}) for the neural methods, "
        "whose cells are mean ± std (population) over seeds; the deterministic "
        "methods (logistic regression, chains, k-NN, MLkNN) run once",
        f"- epochs: {epochs}",
        "- methods: " + ", ".join(ALL[k][0] for k in method_keys(args)),
        "- peers: MLPClassifier(max_iter=300); BCE net = sknc's default backbone "
        "(MLP 512, batch norm, 256 features) + linear head, BCEWithLogitsLoss, "
        "AdamW lr 1e-3, weight decay 5e-4, 100 epochs, batch 128, threshold 0.5 "
        "(`sknc._bench.BCENetClassifier`); OneVsRestClassifier(LogisticRegression("
        "max_iter=1000)); ClassifierChain(LogisticRegression(max_iter=1000)) in "
        "label order, labels constant in training predicted as that constant; "
        "KNeighborsClassifier() (5 neighbours); " + mlknn,
        "- tuning: GridSearchCV(scoring='f1_micro', cv=MultilabelStratifiedKFold("
        f"n_splits={args.tune_folds}, shuffle=True, random_state=seed)) on the "
        "training split"
        + (
            f" (a stratified subsample of at most {args.tune_max_rows} rows)"
            if args.tune_max_rows
            else ""
        )
        + f"; PALClassifier grid {json.dumps(args.pal_grid)}, FixedETFClassifier "
        f"grid {json.dumps(args.etf_grid)} (null: the default feature_dim); "
        + (
            "searched once per seed"
            if args.tune_per_seed
            else "searched once (seed 0), the chosen parameters refitted on the "
            "whole training split with every seed"
        )
        + f"; {args.tune_jobs} parallel fit(s)",
        f"- parallelism: {args.jobs} data set(s) at a time (`--jobs`)"
        + (", one worker process each" if args.jobs > 1 else "")
        + (
            f"; finished data sets saved to and reused from `{args.checkpoint}` "
            "(`--checkpoint`), so the total time covers the last run only"
            if args.checkpoint
            else ""
        ),
        "- LRAP scores, as scikit-learn's ranking scorers choose them: "
        "`decision_function` where there is one (sknc and the BCE net: the "
        "logits), else `predict_proba` (one-vs-rest, whose margin for a label "
        "constant in training is 0 and would outrank the others; MLP; chain; "
        "k-NN: the neighbours' vote for 1). Below each table, "
        "sknc's LRAP from `predict_proba` (the decoder's probabilities)",
        "- preprocessing: official train/test splits; StandardScaler fitted on "
        "the training part, except for data sets whose training features are "
        "all 0 or 1 (left as they are); digits: make_multilabel_digits"
        f"({DIGITS_TRAIN}) for train, ({DIGITS_TEST}) for test",
        "- fit s: the final fit only (a tuned variant's search time is in the "
        "Tuning line); predict s: `predict` on the whole test set",
    ]


# ----------------------------------------------------------------------- CLI
def parse_grid(text):
    grid = json.loads(text)
    if not isinstance(grid, dict) or not all(
        isinstance(v, list) for v in grid.values()
    ):
        raise argparse.ArgumentTypeError("a grid is a JSON object of lists")
    return grid


def included_section(path):
    """Another benchmark's Markdown report, its headings one level down."""
    text = Path(path).read_text().strip()
    return re.sub(r"^(#{1,5}) ", r"#\1 ", text, flags=re.MULTILINE)


def parse_args(argv=None):
    parser = study_parser(
        __doc__,
        "datasets",
        "data_dir",
        datasets={"help": "any of " + " ".join(DATASETS) + " (default: all)"},
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=list(METHODS),
        default=list(METHODS),
        metavar="METHOD",
        help="methods of the main tables, any of " + " ".join(METHODS) + " (default: "
        "all; the parameter-efficiency and CNN fits are controlled by --skip-*)",
    )
    parser.add_argument("--skip-tuned", action="store_true", help="no grid searches")
    add_common_arguments(parser, "jobs")
    parser.add_argument(
        "--skip-efficiency",
        action="store_true",
        help="no parameter-efficiency fits (PAL d=512, ETF d=K-1)",
    )
    parser.add_argument("--skip-cnn", action="store_true", help="no CNN section")
    add_common_arguments(
        parser,
        "seeds",
        "device",
        seeds={
            "default": 3,
            "help": "seeds 0..N-1 for the neural methods (default: 3)",
        },
    )
    parser.add_argument(
        "--amp",
        action="store_true",
        help="mixed-precision training of the sknc estimators (float16 on CUDA, "
        "bfloat16 on CPU); the BCE net trains in float32",
    )
    add_common_arguments(
        parser,
        "max_epochs",
        max_epochs={
            "help": "epochs of every neural method (sknc, BCE net, MLPClassifier's "
            "max_iter), e.g. for a smoke run (default: their defaults)"
        },
    )
    parser.add_argument(
        "--tune-folds", type=int, default=3, help="folds of the grid searches"
    )
    parser.add_argument(
        "--tune-jobs",
        type=int,
        default=1,
        help="parallel fits of a grid search (GridSearchCV n_jobs; one torch "
        "thread each with OMP_NUM_THREADS=1). Fit times of the tuned rows are "
        "then not comparable with the others",
    )
    parser.add_argument(
        "--tune-max-rows",
        type=positive_int,
        default=None,
        help="search on a stratified subsample of at most this many training "
        "rows (the final fit uses all of them); default: all rows",
    )
    parser.add_argument(
        "--tune-per-seed",
        action="store_true",
        help="repeat the search for every seed (default: search with seed 0 "
        "and refit the chosen parameters with each seed)",
    )
    parser.add_argument(
        "--pal-grid",
        type=parse_grid,
        default=PAL_GRID,
        help=f"PALClassifier grid as JSON (default: {json.dumps(PAL_GRID)})",
    )
    parser.add_argument(
        "--etf-grid",
        type=parse_grid,
        default=ETF_GRID,
        help=f"FixedETFClassifier grid as JSON (default: {json.dumps(ETF_GRID)})",
    )
    add_common_arguments(parser, "threads", "out")
    parser.add_argument(
        "--analysis",
        default=str(Path(__file__).resolve().parent / "suite_analysis.md"),
        metavar="FILE",
        help="hand-written Markdown appended to the section on where sknc is "
        "behind (default: benchmarks/suite_analysis.md, if it exists)",
    )
    parser.add_argument(
        "--include",
        nargs="+",
        default=[],
        metavar="FILE",
        help="Markdown reports of other benchmarks (e.g. bench_overhead's) "
        "appended to this one, their headings one level down",
    )
    add_common_arguments(parser, "checkpoint", "verbose_errors")
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
    ]
    sections.append("## Per data set\n\nThe best mean of each column in bold.")
    sections += [
        dataset_section(suite, args, name, data, info[name])
        for name, data in datasets.items()
    ]
    if not args.skip_efficiency:
        sections.append(efficiency_section(suite, datasets))
    if not args.skip_cnn:
        sections.append(cnn_section(suite, datasets))
    sections += [included_section(path) for path in args.include]
    sections.append("## Settings\n\n" + "\n".join(settings_lines(args)))
    sections += [failures_section(suite, args), warnings_section(suite)]
    header = run.header(
        "# sknc benchmark suite: sknc against the usual multi-label estimators",
        ["- settings: see the section Settings at the end"],
        info,
    )
    return run.finish("\n\n".join([header, *sections]))


if __name__ == "__main__":
    sys.exit(main())
