"""Rows with no label: background label against an empty-set prototype only.

The built-in digits with only the labels 0-4 kept: a sample showing only
digits 5-9 has no label (about 40 % of the rows). Each estimator is fitted
with ``background_label=True`` (an extra hidden label marks the empty rows, so
they get a PAL target of their own) and ``background_label=False`` (empty rows
get no PAL loss; the ONN decoder still has their mean feature as the empty
set's prototype), with each decoder. MLPClassifier is the baseline.

Reported on the test split: exact match on empty rows (predicted empty), on
the other rows, overall subset accuracy and micro-F1.

Examples
--------
    python -m benchmarks.bench_empty_sets --threads 1
    python -m benchmarks.bench_empty_sets --device cuda
"""

import sys
import time
import warnings

from sklearn.exceptions import ConvergenceWarning

from sknc._bench import preprocess
from sknc.datasets import make_multilabel_digits

from . import (
    Run,
    add_common_arguments,
    log,
    make_estimator,
    positive_int,
    score_predictions,
    study_parser,
    table,
)

KEPT = 5


def load(seed, n):
    X, Y = make_multilabel_digits(n_samples={1: n, 2: n}, random_state=seed)
    return X, Y[:, :KEPT]


def row(name, Y, pred):
    empty = Y.sum(1) == 0
    exact = (pred == Y).all(1)  # subset accuracy of each row
    result = score_predictions(Y, pred)
    return [
        name,
        f"{exact[empty].mean():.3f}",
        f"{exact[~empty].mean():.3f}",
        f"{result['subset_acc']:.3f}",
        f"{result['micro_f1']:.3f}",
        f"{result['empty_pred']:.3f}",
    ]


def main(argv=None):
    parser = study_parser(__doc__, "threads", "seed")
    parser.add_argument(
        "--n",
        type=positive_int,
        default=1000,
        help="training images per multiplicity (default: 1000; half for testing)",
    )
    add_common_arguments(parser, "device", "out")
    args = parser.parse_args(argv)
    run = Run(args)
    X, Y = load(args.seed, args.n)
    X_test, Y_test = load(args.seed + 1, args.n // 2)
    X, X_test, _ = preprocess(X, X_test, "standard")
    log(
        f"empty rows: train {(Y.sum(1) == 0).mean():.2f}, test "
        f"{(Y_test.sum(1) == 0).mean():.2f}"
    )
    rows = []
    warnings.simplefilter("ignore", UserWarning)
    for key, cls_name in (("pal", "PALClassifier"), ("etf", "FixedETFClassifier")):
        for background in (True, False):
            for decoder in ("onn", "threshold", "topk"):
                t0 = time.perf_counter()
                clf = make_estimator(
                    key,
                    args.seed,
                    device=args.device,
                    background_label=background,
                    decoder=decoder,
                ).fit(X, Y)
                name = f"{cls_name}, background_label={background}, {decoder}"
                log(f"{name}: {time.perf_counter() - t0:.0f} s")
                rows.append(row(name, Y_test, clf.predict(X_test)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = make_estimator("mlp", args.seed).fit(X, Y)
    rows.append(row("MLPClassifier", Y_test, mlp.predict(X_test)))
    settings = [
        f"- digits, labels 0-{KEPT - 1} kept: {(Y.sum(1) == 0).mean():.0%} of "
        f"training rows and {(Y_test.sum(1) == 0).mean():.0%} of test rows "
        f"empty; {len(Y)}/{len(Y_test)} rows; seed {args.seed}; device: "
        f"{args.device}"
    ]
    header = run.header("# Empty label sets", settings)
    body = table(
        [
            "model",
            "exact, empty rows",
            "exact, other rows",
            "subset accuracy",
            "micro-F1",
            "predicted empty",
        ],
        rows,
    )
    return run.finish(header + "\n\n" + body)


if __name__ == "__main__":
    sys.exit(main())
