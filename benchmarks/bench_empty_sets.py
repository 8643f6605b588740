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
    python benchmarks/bench_empty_sets.py --threads 1
    python benchmarks/bench_empty_sets.py --device cuda
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import f1_score
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import (  # noqa: E402
    add_device_argument,
    git_state,
    log,
    table,
)

import sknc  # noqa: E402
from sknc.datasets import make_multilabel_digits  # noqa: E402

KEPT = 5


def load(seed, n):
    X, Y = make_multilabel_digits(n_samples={1: n, 2: n}, random_state=seed)
    return X, Y[:, :KEPT]


def row(name, Y, pred):
    empty = Y.sum(1) == 0
    exact = (pred == Y).all(1)
    return [
        name,
        f"{exact[empty].mean():.3f}",
        f"{exact[~empty].mean():.3f}",
        f"{exact.mean():.3f}",
        f"{f1_score(Y, pred, average='micro', zero_division=0):.3f}",
        f"{(pred.sum(1) == 0).mean():.3f}",
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=1000)
    add_device_argument(parser)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    X, Y = load(args.seed, args.n)
    X_test, Y_test = load(args.seed + 1, args.n // 2)
    scaler = StandardScaler().fit(X)
    X, X_test = scaler.transform(X), scaler.transform(X_test)
    log(
        f"empty rows: train {(Y.sum(1) == 0).mean():.2f}, test "
        f"{(Y_test.sum(1) == 0).mean():.2f}"
    )
    rows = []
    warnings.simplefilter("ignore", UserWarning)
    for cls in (sknc.PALClassifier, sknc.FixedETFClassifier):
        for background in (True, False):
            for decoder in ("onn", "threshold", "topk"):
                t0 = time.perf_counter()
                clf = cls(
                    background_label=background,
                    decoder=decoder,
                    random_state=args.seed,
                    device=args.device,
                ).fit(X, Y)
                name = f"{cls.__name__}, background_label={background}, {decoder}"
                log(f"{name}: {time.perf_counter() - t0:.0f} s")
                rows.append(row(name, Y_test, clf.predict(X_test)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier(max_iter=300, random_state=args.seed).fit(X, Y)
    rows.append(row("MLPClassifier", Y_test, mlp.predict(X_test)))
    print(
        f"# Empty label sets (digits, labels 0-{KEPT - 1} kept; "
        f"{(Y.sum(1) == 0).mean():.0%} of training rows and "
        f"{(Y_test.sum(1) == 0).mean():.0%} of test rows empty; "
        f"{len(Y)}/{len(Y_test)} rows; seed {args.seed}; device: {args.device}; "
        f"sknc {git_state()})\n"
    )
    print(
        table(
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
    )


if __name__ == "__main__":
    main()
