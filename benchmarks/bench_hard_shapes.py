"""Hard data shapes: fit and predict time and peak memory.

Three synthetic multi-label problems built like real data with awkward label
structure, each fitted with a default ``PALClassifier`` (except ``max_epochs``,
see ``--max-epochs``) and predicted on a test set of the same shape:

(a) ``empty``: 45 % of the rows have no label (K=20);
(b) ``dense``: 174 labels, 26 positive labels per sample on average (like CAL500);
(c) ``many-sets``: 1,000 labels and about 15,000 distinct label sets.

Features are ``Y @ centres + noise`` (100 dimensions), so the labels are
learnable. Peak memory is the resident set size sampled every 2 ms during fit
and during predict, minus the RSS before the call.

Examples
--------
    python -m benchmarks.bench_hard_shapes --threads 1
    python -m benchmarks.bench_hard_shapes --device cuda
"""

import sys
import time
import warnings

import numpy as np

from . import (
    PeakRSS,
    Run,
    add_common_arguments,
    log,
    make_estimator,
    score_predictions,
    study_parser,
    table,
)

MiB = 2**20


def make_problem(name, n, seed):
    rng = np.random.default_rng(seed)
    if name == "empty":
        K = 20
        Y = (rng.random((n, K)) < 0.08).astype(np.uint8)
        Y[rng.random(n) < 0.32] = 0  # plus 19 % empty by chance: 45 % in all
    elif name == "dense":
        K = 174
        Y = (rng.random((n, K)) < 26 / K).astype(np.uint8)
    else:  # many-sets: 1..4 labels drawn from 1,000 with a skew
        K = 1000
        popularity = 1.0 / np.arange(1, K + 1) ** 0.5
        popularity /= popularity.sum()
        Y = np.zeros((n, K), dtype=np.uint8)
        sizes = rng.integers(1, 5, size=n)
        for i, m in enumerate(sizes):
            Y[i, rng.choice(K, size=m, replace=False, p=popularity)] = 1
    centres = np.random.default_rng(1234).normal(size=(K, 100)).astype(np.float32)
    X = Y.astype(np.float32) @ centres / np.sqrt(max(1.0, Y.sum(1).mean()))
    X += 0.5 * rng.normal(size=X.shape).astype(np.float32)
    return X.astype(np.float32), Y


SIZES = {"empty": 5000, "dense": 500, "many-sets": 20000}
HEADER = [
    "problem",
    "train shape",
    "labels/row",
    "empty rows",
    "distinct sets",
    "ONN prototypes",
    "fit s",
    "fit extra peak MB",
    "predict + proba s (test)",
    "predict extra peak MB",
    "test micro-F1",
    "empty rows predicted empty",
]


def run_problem(name, args):
    X, Y = make_problem(name, SIZES[name], seed=0)
    X_test, Y_test = make_problem(name, SIZES[name] // 2, seed=1)
    # the ONN decoder: the report counts its label-set prototypes
    clf = make_estimator(
        "pal", 0, device=args.device, max_epochs=args.max_epochs, decoder="onn"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # labels never seen
        with PeakRSS() as fit_mem:
            t0 = time.perf_counter()
            clf.fit(X, Y)
            fit_s = time.perf_counter() - t0
    with PeakRSS() as pred_mem:
        t0 = time.perf_counter()
        pred = clf.predict(X_test)
        clf.predict_proba(X_test)
        pred_s = time.perf_counter() - t0
    empty = Y_test.sum(1) == 0
    log(f"{name}: done")
    return [
        name,
        f"{len(Y)} x {X.shape[1]}, K={Y.shape[1]}",
        f"{Y.sum(1).mean():.1f}",
        f"{(Y.sum(1) == 0).mean():.0%}",
        len(np.unique(Y, axis=0)),
        len(clf.decoder_.prototypes_),
        f"{fit_s:.1f}",
        f"{(fit_mem.peak - fit_mem.start) / MiB:.0f}",
        f"{pred_s:.2f}",
        f"{(pred_mem.peak - pred_mem.start) / MiB:.0f}",
        f"{score_predictions(Y_test, pred)['micro_f1']:.3f}",
        f"{(pred[empty].sum(1) == 0).mean():.2f}" if empty.any() else "—",
    ]


def main(argv=None):
    parser = study_parser(
        __doc__,
        "threads",
        "max_epochs",
        max_epochs={"default": 20, "help": "max_epochs (default: 20)"},
    )
    parser.add_argument(
        "--problems",
        nargs="+",
        choices=list(SIZES),
        default=list(SIZES),
        help="problems to run (default: all three)",
    )
    add_common_arguments(parser, "device", "out")
    args = parser.parse_args(argv)
    run = Run(args)
    rows = [run_problem(name, args) for name in args.problems]
    settings = [
        f"- PALClassifier defaults, max_epochs={args.max_epochs}, "
        f"decoder='onn'; device: {args.device}"
    ]
    header = run.header("# Hard data shapes", settings)
    return run.finish(header + "\n\n" + table(HEADER, rows))


if __name__ == "__main__":
    sys.exit(main())
