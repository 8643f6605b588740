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
    python benchmarks/bench_unseen_sets.py --threads 1
    python benchmarks/bench_unseen_sets.py --device cuda
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.base import clone
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import (  # noqa: E402
    add_device_argument,
    git_state,
    log,
    table,
)

import sknc  # noqa: E402
from sknc import ONNDecoder  # noqa: E402
from sknc.datasets import make_multilabel_digits  # noqa: E402

HELD_OUT = [(0, 1), (2, 3), (4, 5)]


def outputs(clf, X, device):
    """Logits and features of ``clf`` as tensors on ``device`` (the decoders')."""
    logits = torch.as_tensor(clf.decision_function(X), dtype=torch.float32)
    return logits.to(device), torch.as_tensor(clf.transform(X)).to(device)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--max-epochs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-single", type=int, default=3000)
    parser.add_argument("--per-pair", type=int, default=60)
    parser.add_argument("--max-shift", type=int, default=2)
    add_device_argument(parser)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
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
    scaler = StandardScaler().fit(X)
    X, X_test = scaler.transform(X), scaler.transform(X_test)
    held = np.zeros(len(Y_test), dtype=bool)
    for a, b in HELD_OUT:
        held |= (Y_test[:, a] == 1) & (Y_test[:, b] == 1)
    log(f"train {X.shape}, test {X_test.shape}, held-out test rows {held.sum()}")

    estimators = {
        "FixedETFClassifier (d=10)": sknc.FixedETFClassifier,
        "PALClassifier (d=256)": sknc.PALClassifier,
    }
    decoders = {
        "observed": ONNDecoder(candidates="observed"),
        "both": ONNDecoder(candidates="both", max_multiplicity=2),
        "synthesized": ONNDecoder(candidates="synthesized", max_multiplicity=2),
    }
    rows = []
    for est_name, cls in estimators.items():
        t0 = time.perf_counter()
        clf = cls(
            max_epochs=args.max_epochs, random_state=args.seed, device=args.device
        ).fit(X, Y)
        log(f"{est_name}: fitted in {time.perf_counter() - t0:.0f} s")
        train, test = outputs(clf, X, args.device), outputs(clf, X_test, args.device)
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
    print(
        f"# Unseen label sets (digits; held-out pairs {HELD_OUT}; "
        f"{args.n_single} single digits + {args.per_pair} per other pair for "
        f"training, max_shift={args.max_shift}, max_epochs={args.max_epochs}, "
        f"seed {args.seed}; device: {args.device}; "
        f"sknc {git_state()})\n"
    )
    print(
        table(
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
    )


if __name__ == "__main__":
    main()
