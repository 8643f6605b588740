"""TunedDecoderCV's cost: a grid of decoders and objectives for one network per fold.

For each data set, on its official training split: a 6-candidate grid
(``decoder`` in knn, onn, threshold; ``objective`` in None and the one of the
scoring metric) searched by :class:`sknc.model_selection.TunedDecoderCV`,
against scikit-learn's ``GridSearchCV`` with the single default candidate
and the same folds. The goal: the grid costs at most 1.3 times the
single-candidate search (both refit the best candidate on all rows). The
full 6-candidate ``GridSearchCV`` (one network per candidate and fold) is
timed too, with ``--full-grid``.
"""

import time
import warnings

import numpy as np
from sklearn.model_selection import GridSearchCV

from sknc import PALClassifier
from sknc.model_selection import MultilabelStratifiedKFold, TunedDecoderCV

from . import (
    SINGLE_RUN,
    Run,
    load_datasets,
    log,
    positive_int,
    study_parser,
    table,
    warm_up,
)

SCORING = {"f1_micro": "f1_micro", "f1_samples": "f1_samples"}


def parse_args():
    parser = study_parser(
        __doc__,
        *SINGLE_RUN,
        datasets={"default": ["emotions", "yeast", "scene"]},
    )
    parser.add_argument("--folds", type=positive_int, default=3)
    parser.add_argument("--scoring", choices=sorted(SCORING), default="f1_micro")
    parser.add_argument(
        "--full-grid",
        action="store_true",
        help="also time GridSearchCV over the 6 candidates",
    )
    return parser.parse_args()


def timed(search, X, Y):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X, Y)
    return time.perf_counter() - start


def main():
    args = parse_args()
    study = Run(args)
    datasets, info = load_datasets(args.datasets, args.data_dir)
    warm_up()  # torch's one-off set-up, outside the timings
    epochs = {} if args.max_epochs is None else {"max_epochs": args.max_epochs}
    estimator = PALClassifier(random_state=args.seed, **epochs)
    grid = {"decoder": ["knn", "onn", "threshold"], "objective": [None, args.scoring]}
    rows = []
    for name, data in datasets.items():
        cv = MultilabelStratifiedKFold(args.folds, shuffle=True, random_state=0)
        single = GridSearchCV(
            estimator, {"decoder": ["knn"]}, cv=cv, scoring=args.scoring
        )
        t_single = timed(single, data.X_train, data.Y_train)
        tuned = TunedDecoderCV(estimator, grid, cv=cv, scoring=args.scoring)
        t_tuned = timed(tuned, data.X_train, data.Y_train)
        cells = [
            name,
            f"{t_single:.1f}",
            f"{t_tuned:.1f}",
            f"{t_tuned / t_single:.2f}",
            f"{np.mean(tuned.fold_fit_times_):.1f}",
            f"{tuned.cv_results_['mean_decode_time'].sum():.1f}",
            str(tuned.best_params_),
            f"{tuned.best_score_:.3f} (default {single.best_score_:.3f})",
        ]
        if args.full_grid:
            full = GridSearchCV(estimator, grid, cv=cv, scoring=args.scoring)
            t_full = timed(full, data.X_train, data.Y_train)
            cells.append(f"{t_full:.1f}")
        rows.append(cells)
        log(f"[{name}] " + " | ".join(cells))
    header = [
        "data",
        "GridSearchCV, 1 candidate (s)",
        "TunedDecoderCV, 6 candidates (s)",
        "ratio",
        "network per fold (s)",
        "decoders, all candidates per fold (s)",
        "best candidate",
        f"best CV {args.scoring}",
    ]
    if args.full_grid:
        header.append("GridSearchCV, 6 candidates (s)")
    report = study.header(
        "TunedDecoderCV against GridSearchCV",
        settings=[
            f"- {args.folds} folds (MultilabelStratifiedKFold), scoring "
            f"{args.scoring}, grid {grid}, PALClassifier defaults"
        ],
        datasets=info,
    )
    study.finish(report + "\n\n" + table(header, rows))


if __name__ == "__main__":
    main()
