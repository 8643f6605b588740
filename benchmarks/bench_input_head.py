"""What the per-label model of the inputs costs: fit time of ``label_proba='wide'``.

``label_proba='linear'`` and ``'wide'`` fit, after the network, one
L2-regularised logistic regression per label on the robust-scaled inputs
(``sknc._input_head``: L-BFGS along four penalties on four fifths of the
rows, the penalty with the least log loss on the other fifth, then a fit on
every row). Per data set and seed, on the official training split: the fit
seconds of ``PALClassifier()`` (default ``label_proba``) and of
``PALClassifier(label_proba='wide')``, the seconds of the input model's fit
alone (timed again on the fitted estimator) and the penalty it chose.
One fit at a time; run it on an otherwise idle machine::

    python -m benchmarks.bench_input_head --threads 1
    python -m benchmarks.bench_input_head --threads 1 --datasets medical enron
"""

import time
import warnings

import numpy as np

from sknc import PALClassifier

from . import Run, load_datasets, log, study_parser, table, warm_up
from ._harness import DATASETS


def parse_args():
    parser = study_parser(
        __doc__,
        "datasets",
        "data_dir",
        "seeds",
        "threads",
        "out",
        datasets={"default": list(DATASETS)},
        seeds={"default": 1},
    )
    return parser.parse_args()


def timed_fit(clf, data):
    start = time.perf_counter()
    clf.fit(data.X_train, data.Y_train)
    return time.perf_counter() - start


def input_head_seconds(clf, data):
    """Seconds of the input model's fit alone, on the fitted estimator."""
    X = clf._validate_X(data.X_train, reset=False)
    start = time.perf_counter()
    clf._fit_input_head(X, np.asarray(data.Y_train), None)
    return time.perf_counter() - start


def main():
    args = parse_args()
    run = Run(args)
    datasets, info = load_datasets(args.datasets, args.data_dir, scaling="none")
    warm_up()
    rows = []
    warnings.simplefilter("ignore", UserWarning)
    for name, data in datasets.items():
        for seed in range(args.seeds):
            default_s = timed_fit(PALClassifier(random_state=seed), data)
            wide = PALClassifier(random_state=seed, label_proba="wide")
            wide_s = timed_fit(wide, data)
            head_s = input_head_seconds(wide, data)
            penalty = float(wide.module_.input_head.penalty)
            log(
                f"[{name} seed {seed}] default {default_s:.1f} s, wide {wide_s:.1f} s, "
                f"input model {head_s:.1f} s, penalty {penalty:g}"
            )
            rows.append(
                [
                    name,
                    str(seed),
                    f"{default_s:.1f}",
                    f"{wide_s:.1f}",
                    f"{head_s:.1f}",
                    f"{wide_s / default_s:.2f}",
                    f"{penalty:g}",
                ]
            )
    header = run.header(
        "# Fit time of label_proba='wide'",
        ["- PALClassifier on the official training splits; one fit at a time"],
        datasets=info,
    )
    body = table(
        [
            "data",
            "seed",
            "default fit s",
            "wide fit s",
            "input model s",
            "wide / default",
            "penalty",
        ],
        rows,
    )
    return run.finish(header + "\n\n" + body)


if __name__ == "__main__":
    main()
