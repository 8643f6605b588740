"""Unseen label sets: ONN with synthesised prototypes on the built-in digits.

Some digit pairs are held out of training (``exclude_pairs``); the test set has
every pair. A net is trained once per estimator, and its ONN decoder is refitted
on the same training outputs with ``candidates='observed'`` (only sets seen in
training: the held-out pairs can never be predicted), ``'both'`` (observed sets
plus prototypes synthesised by the tag-wise-average rule for the others) and
``'synthesized'`` (every set of two or more labels synthesised).

Reported: exact-match accuracy on the test samples of the held-out pairs and on
the other test samples, the fitted rho_2, and the number of prototypes.

Examples
--------
    python -m benchmarks.bench_unseen_sets --threads 1
    python -m benchmarks.bench_unseen_sets --device cuda
"""

import sys
import time

import numpy as np
import torch
from sklearn.base import clone

from sknc import ONNDecoder
from sknc._bench import preprocess
from sknc.datasets import make_multilabel_digits

from . import (
    Run,
    add_common_arguments,
    log,
    make_estimator,
    network_outputs,
    positive_int,
    study_parser,
    table,
)

HELD_OUT = [(0, 1), (2, 3), (4, 5)]


def main(argv=None):
    parser = study_parser(
        __doc__,
        "threads",
        "max_epochs",
        "seed",
        max_epochs={"default": 60, "help": "max_epochs (default: 60)"},
    )
    parser.add_argument(
        "--n-single",
        type=positive_int,
        default=3000,
        help="single digits for training (default: 3000)",
    )
    parser.add_argument(
        "--per-pair",
        type=positive_int,
        default=60,
        help="training samples per pair not held out (default: 60)",
    )
    parser.add_argument(
        "--max-shift",
        type=int,
        default=2,
        help="make_multilabel_digits' max_shift (default: 2)",
    )
    add_common_arguments(parser, "device", "out")
    args = parser.parse_args(argv)
    run = Run(args)
    n_pairs_train = (45 - len(HELD_OUT)) * args.per_pair
    X, Y = make_multilabel_digits(
        n_samples={1: args.n_single, 2: n_pairs_train},
        exclude_pairs=HELD_OUT,
        max_shift=args.max_shift,
        random_state=args.seed,
    )
    X_test, Y_test = make_multilabel_digits(
        n_samples={1: 1000, 2: 45 * 20},
        max_shift=args.max_shift,
        random_state=args.seed + 1,
    )
    X, X_test, _ = preprocess(X, X_test, "standard")
    held = np.zeros(len(Y_test), dtype=bool)
    for a, b in HELD_OUT:
        held |= (Y_test[:, a] == 1) & (Y_test[:, b] == 1)
    log(f"train {X.shape}, test {X_test.shape}, held-out test rows {held.sum()}")

    estimators = {"FixedETFClassifier (d=10)": "etf", "PALClassifier (d=256)": "pal"}
    decoders = {
        "observed": ONNDecoder(candidates="observed"),
        "both": ONNDecoder(candidates="both", max_multiplicity=2),
        "synthesized": ONNDecoder(candidates="synthesized", max_multiplicity=2),
    }
    rows = []
    for est_name, key in estimators.items():
        t0 = time.perf_counter()
        clf = make_estimator(
            key, args.seed, device=args.device, max_epochs=args.max_epochs
        ).fit(X, Y)
        log(f"{est_name}: fitted in {time.perf_counter() - t0:.0f} s")
        train = network_outputs(clf, X, args.device)
        test = network_outputs(clf, X_test, args.device)
        for dec_name, template in decoders.items():
            dec = clone(template).fit(*train, torch.as_tensor(Y, device=args.device))
            pred = dec.predict(*test).cpu().numpy()
            exact = (pred == Y_test).all(1)
            rows.append(
                [
                    est_name,
                    dec_name,
                    f"{exact[held].mean():.3f}",
                    f"{exact[~held].mean():.3f}",
                    f"{dec.rho_.get(2, float('nan')):.3f}",
                    len(dec.prototypes_),
                ]
            )
    settings = [
        f"- digits; held-out pairs {HELD_OUT}; {args.n_single} single digits + "
        f"{args.per_pair} per other pair for training, max_shift={args.max_shift}, "
        f"max_epochs={args.max_epochs}, seed {args.seed}; device: {args.device}"
    ]
    header = run.header("# Unseen label sets", settings)
    body = table(
        [
            "estimator",
            "ONN candidates",
            f"exact match, held-out pairs ({held.sum()} rows)",
            f"exact match, other rows ({(~held).sum()})",
            "fitted rho_2",
            "prototypes",
        ],
        rows,
    )
    return run.finish(header + "\n\n" + body)


if __name__ == "__main__":
    sys.exit(main())
