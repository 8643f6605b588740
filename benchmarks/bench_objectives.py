"""What each objective costs and what it buys, against objective=None.

For each data set, one ``PALClassifier`` (defaults, or ``--params``) trained
on the official training split; every objective then predicts the test
split from the same network (``set_params(objective=...)``, no retraining).
Per objective: its predict time, the labels it predicts per row (against
the true labels per row), and the score of the metric it targets next to
the score ``objective=None`` gets on that metric. A rule that targets a
metric should never do worse on it than the default rule; the table shows
where it does.
"""

import json
import time

import numpy as np
from sklearn.metrics import f1_score, hamming_loss, jaccard_score

from sknc import PALClassifier

from . import SINGLE_RUN, Run, load_datasets, log, study_parser, table, warm_up

# objective -> (metric name, score function, higher is better)
TARGETS = {
    "subset_accuracy": (
        "subset acc",
        lambda Y, P: float(np.mean(np.all(Y == P, axis=1))),
        True,
    ),
    "hamming": ("Hamming loss", hamming_loss, False),
    "f1_micro": (
        "micro-F1",
        lambda Y, P: f1_score(Y, P, average="micro", zero_division=0),
        True,
    ),
    "f1_macro": (
        "macro-F1",
        lambda Y, P: f1_score(Y, P, average="macro", zero_division=0),
        True,
    ),
    "f1_samples": (
        "example-F1",
        lambda Y, P: f1_score(Y, P, average="samples", zero_division=0),
        True,
    ),
    "jaccard_samples": (
        "example-Jaccard",
        lambda Y, P: jaccard_score(Y, P, average="samples", zero_division=0),
        True,
    ),
}


def parse_args():
    parser = study_parser(
        __doc__,
        *SINGLE_RUN,
        datasets={"default": ["yeast", "emotions", "medical"]},
    )
    parser.add_argument(
        "--params", type=json.loads, default={}, help="PALClassifier parameters (JSON)"
    )
    return parser.parse_args()


def timed_predict(clf, X, objective):
    clf.set_params(objective=objective)
    start = time.perf_counter()
    pred = clf.predict(X)
    return pred, time.perf_counter() - start


def main():
    args = parse_args()
    study = Run(args)
    datasets, info = load_datasets(args.datasets, args.data_dir)
    warm_up()  # torch's one-off set-up, outside the timings
    params = dict(args.params)
    if args.max_epochs is not None:
        params["max_epochs"] = args.max_epochs
    rows = []
    for name, data in datasets.items():
        clf = PALClassifier(random_state=args.seed, **params)
        clf.fit(data.X_train, data.Y_train)
        Y = np.asarray(data.Y_test)
        default, default_s = timed_predict(clf, data.X_test, None)
        for objective, (metric, score, higher) in TARGETS.items():
            pred, seconds = timed_predict(clf, data.X_test, objective)
            own, base = score(Y, pred), score(Y, default)
            worse = own < base if higher else own > base
            rows.append(
                [
                    name,
                    objective,
                    f"{seconds:.3f} ({seconds / default_s:.0f}x)",
                    f"{pred.sum(axis=1).mean():.2f} / {Y.sum(axis=1).mean():.2f}",
                    metric,
                    f"{own:.3f}",
                    f"{base:.3f}",
                    "**worse**" if worse else "",
                ]
            )
            log(f"[{name}] " + " | ".join(rows[-1][1:]))
    header = [
        "data",
        "objective",
        "predict s (x objective=None)",
        "labels per row: predicted / true",
        "metric targeted",
        "objective's score",
        "objective=None's score",
        "",
    ]
    report = study.header(
        "Objectives against objective=None",
        settings=[
            f"- PALClassifier({params or 'defaults'}), random_state={args.seed}; "
            "test splits; one network per data set, every objective predicts "
            "from it"
        ],
        datasets=info,
    )
    study.finish(report + "\n\n" + table(header, rows))


if __name__ == "__main__":
    main()
