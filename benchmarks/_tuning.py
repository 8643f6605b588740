"""Tuned variants for the studies: a grid search on the training split only.

A tuned variant of a method searches its grid with ``GridSearchCV``
(``MultilabelStratifiedKFold`` folds of the training split, optionally a
stratified subsample of it, ``scoring='f1_micro'``), once with seed 0 or once
per seed (``--tune-per-seed``), then fits the chosen parameters on the whole
training split with each seed. :data:`TUNE_ARGUMENTS` are its options, for
:func:`benchmarks._harness.study_parser`'s ``arguments``; :func:`run_tuned`
records the searches in the runner's ``notes`` (checkpointed with the
results) and :func:`tuning_line` reports them.
"""

import json
import time
import warnings

import numpy as np
from sklearn.model_selection import GridSearchCV

from sknc.model_selection import MultilabelStratifiedKFold, multilabel_train_test_split

from ._harness import json_grid, log, positive_int

__all__ = [
    "TUNE_ARGUMENTS",
    "fmt_params",
    "grid_argument",
    "run_tuned",
    "tuning_line",
    "tuning_settings",
]

# --tune-* options; a study adds its grids (``json_grid`` arguments)
TUNE_ARGUMENTS = {
    "tune_folds": {"type": int, "default": 3, "help": "folds of the grid searches"},
    "tune_jobs": {
        "type": int,
        "default": 1,
        "help": "parallel fits of a grid search (GridSearchCV n_jobs; one torch "
        "thread each with OMP_NUM_THREADS=1). Fit times of the tuned rows are "
        "then not comparable with the others",
    },
    "tune_max_rows": {
        "type": positive_int,
        "default": None,
        "help": "search on a stratified subsample of at most this many training "
        "rows (the final fit uses all of them); default: all rows",
    },
    "tune_per_seed": {
        "action": "store_true",
        "help": "repeat the search for every seed (default: search with seed 0 "
        "and refit the chosen parameters with each seed)",
    },
}


def grid_argument(name, grid):
    """A ``--<name>-grid`` argument with the default ``grid``."""
    help = f"{name} grid as JSON (default: {json.dumps(grid)})"
    return {"type": json_grid, "default": grid, "help": help}


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


def search(runner, args, dataset, data, key, seed, estimator, grid, default):
    """The grid search of ``key`` on the training split; its summary.

    ``default``: the method's untuned key, whose fit time gives an estimate.
    """
    X, Y = data[0], data[1]
    if args.tune_max_rows and len(X) > args.tune_max_rows:
        X, _, Y, _ = multilabel_train_test_split(
            X, Y, train_size=args.tune_max_rows, random_state=seed, stratify=Y
        )
    n_cand = int(np.prod([len(v) for v in grid.values()]))
    n_fits = n_cand * args.tune_folds
    default = runner.results.get((dataset, default))
    if default:
        per_fit = default[0]["fit_s"] * len(X) / len(data[0])
        per_fit *= (args.tune_folds - 1) / args.tune_folds
        estimate = f"{duration(n_fits * per_fit)} (rough: from the default fit)"
    else:
        estimate = "unknown (the default was not fitted first)"
    log(
        f"  [tune] {dataset} {runner.label(key)} seed={seed}: {n_cand} candidates "
        f"x {args.tune_folds} folds = {n_fits} fits on {len(X)} rows, "
        f"estimated {estimate}"
    )
    cv = MultilabelStratifiedKFold(args.tune_folds, shuffle=True, random_state=seed)
    search = GridSearchCV(
        estimator, grid, cv=cv, scoring="f1_micro", refit=False, n_jobs=args.tune_jobs
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        search.fit(X, Y)
        search_s = time.perf_counter() - start
    runner.record_warnings(dataset, key, caught)
    params, score = search.best_params_, float(search.best_score_)
    log(
        f"  [tune] done in {search_s:.0f} s: {fmt_params(params)} "
        f"(CV micro-F1 {score:.3f})"
    )
    summary = {"params": params, "cv_score": score, "search_s": search_s}
    return {**summary, "n_fits": n_fits, "rows": len(X), "seed": seed}


def run_tuned(runner, args, dataset, data, key, seeds, grid, default):
    """Per-seed results of the tuned variant ``key`` (searched, then refitted).

    The runner builds ``key`` (with ``params=None`` for the search's base
    estimator); ``default``: the untuned method's key.
    """
    if (dataset, key) in runner.results:
        return runner.results[(dataset, key)]
    summaries = runner.notes.setdefault(("tuning", dataset, key), [])
    results = []
    for seed in seeds:
        try:
            if not summaries or args.tune_per_seed:
                base = runner.build(key, seed, data, None)
                found = search(
                    runner, args, dataset, data, key, seed, base, grid, default
                )
                summaries.append(found)
        except Exception as exc:
            runner.fail(dataset, key, seed, exc)
            continue
        params = summaries[-1]["params"]
        results.append(runner.fit_one(dataset, data, key, seed, params=params))
    runner.results[(dataset, key)] = [r for r in results if r is not None]
    return runner.results[(dataset, key)]


def tuning_line(runner, dataset, keys, label):
    """The report's line on the searches of the tuned ``keys``, or None."""
    tuned = [
        f"{label(k)} (seed {s['seed']}): {fmt_params(s['params'])}, CV micro-F1 "
        f"{s['cv_score']:.3f}, {s['n_fits']} fits on {s['rows']} rows in "
        f"{s['search_s']:.0f} s"
        for k in keys
        for s in runner.notes.get(("tuning", dataset, k), [])
    ]
    return "Tuning: " + "; ".join(tuned) + "." if tuned else None


def tuning_settings(args, grids):
    """The settings line of the searches (``grids``: name -> grid)."""
    rows = f" (at most {args.tune_max_rows} rows)" if args.tune_max_rows else ""
    seeds = "each seed" if args.tune_per_seed else "seed 0, refitted with each seed"
    grids = ", ".join(f"{name} {json.dumps(grid)}" for name, grid in grids.items())
    return (
        f"- tuning: GridSearchCV, f1_micro, {args.tune_folds} stratified folds of "
        f"the training split{rows}; grids {grids} (null: the default); searched "
        f"with {seeds}; {args.tune_jobs} parallel fit(s)"
    )
