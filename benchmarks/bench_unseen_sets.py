"""Unseen label sets: decoders with synthesised prototypes on the built-in digits.

Some digit pairs are held out of training (``exclude_pairs``); the test set has
every pair. A net is trained once per estimator and seed, and decoders are
refitted on the same training outputs: ONN with ``candidates='observed'``
(only sets seen in training: the held-out pairs can never be predicted),
``'both'`` (observed sets plus prototypes synthesised by the tag-wise-average
rule for the others; also with the label means fitted to all rows, and with
the frequency-weighted average) and ``'synthesized'`` (every set of two or
more labels synthesised); KNN (the estimators' default decoder) with
``candidates='observed'`` and ``'both'`` (synthesised prototypes scored
against the neighbours), cosine (its default) and Euclidean.

Reported: exact-match accuracy on the test samples of the held-out pairs and on
the other test samples, and, of the latter, on the pairs seen in training and
on the single digits (mean ± std over seeds); the fitted rho_2, and the number
of prototypes. The seen pairs are the yardstick: a held-out pair cannot be
predicted better than the network recognises the digits of a pair it was
trained on.

Examples
--------
    python -m benchmarks.bench_unseen_sets --threads 1 --seeds 5
    python -m benchmarks.bench_unseen_sets --threads 1 --seeds 5 --estimators etf-onn
    python -m benchmarks.bench_unseen_sets --threads 1 --estimators etf \\
        --params '{"feature_decay": 1e-3}'
    python -m benchmarks.bench_unseen_sets --threads 1 --scaling standard
    python -m benchmarks.bench_unseen_sets --device cuda
"""

import json
import sys
import time

import numpy as np
import torch
from sklearn.base import clone

from sknc import KNNDecoder, ONNDecoder
from sknc._bench import preprocess
from sknc.datasets import make_multilabel_digits

from . import (
    Run,
    add_common_arguments,
    cell,
    log,
    make_estimator,
    network_outputs,
    positive_int,
    study_parser,
    table,
)

HELD_OUT = [(0, 1), (2, 3), (4, 5)]
# --estimators key -> (name, make_estimator's method, its parameters). The
# estimator's decoder decides feature_decay='auto'; the decoders below are
# refitted on its network either way.
ESTIMATORS = {
    "etf": ("FixedETFClassifier()", "etf", {}),
    "etf-onn": (
        "FixedETFClassifier(decoder='onn')",
        "etf",
        {"decoder": "onn", "decoder__candidates": "both"},
    ),
    "pal": ("PALClassifier()", "pal", {}),
}
DECODERS = {
    "ONN observed": ONNDecoder(candidates="observed"),
    "ONN both": ONNDecoder(candidates="both", max_multiplicity=2),
    "ONN both, all-rows means": ONNDecoder(
        candidates="both", max_multiplicity=2, label_means="all_rows"
    ),
    "ONN both, frequency-weighted": ONNDecoder(
        candidates="both", max_multiplicity=2, weighting="frequency"
    ),
    "ONN synthesized": ONNDecoder(candidates="synthesized", max_multiplicity=2),
    "KNN observed (default)": KNNDecoder(),
    "KNN both": KNNDecoder(candidates="both", max_multiplicity=2),
    "KNN euclidean, observed": KNNDecoder(metric="euclidean"),
    "KNN euclidean, both": KNNDecoder(
        candidates="both", max_multiplicity=2, metric="euclidean"
    ),
}


def main(argv=None):
    parser = study_parser(__doc__, "threads", "max_epochs", "seeds")
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
    parser.add_argument(
        "--scaling",
        choices=["none", "standard"],
        default="none",
        help="'none' (default): the pixels as generated, in [0, 1]; 'standard': "
        "a StandardScaler fitted on the training rows, as before issue 19 "
        "(rarely lit corner pixels then reach values of 100 and more)",
    )
    parser.add_argument(
        "--params",
        type=json.loads,
        default={},
        metavar="JSON",
        help="more parameters of both estimators, e.g. "
        "'{\"feature_decay\": 1e-3}' (default: none)",
    )
    parser.add_argument(
        "--estimators",
        nargs="+",
        choices=list(ESTIMATORS),
        default=list(ESTIMATORS),
        help="FixedETFClassifier() (etf), FixedETFClassifier(decoder='onn', "
        "decoder__candidates='both') (etf-onn: trained with the feature decay "
        "of ONN), PALClassifier() (pal); default: all three",
    )
    add_common_arguments(parser, "device", "out")
    args = parser.parse_args(argv)
    run = Run(args)
    n_pairs_train = (45 - len(HELD_OUT)) * args.per_pair
    # the data of seed 0 (training) and 1 (test); --seeds varies the fits
    X, Y = make_multilabel_digits(
        n_samples={1: args.n_single, 2: n_pairs_train},
        exclude_pairs=HELD_OUT,
        max_shift=args.max_shift,
        random_state=0,
    )
    X_test, Y_test = make_multilabel_digits(
        n_samples={1: 1000, 2: 45 * 20},
        max_shift=args.max_shift,
        random_state=1,
    )
    X, X_test, _ = preprocess(X, X_test, args.scaling)
    held = np.zeros(len(Y_test), dtype=bool)
    for a, b in HELD_OUT:
        held |= (Y_test[:, a] == 1) & (Y_test[:, b] == 1)
    seen_pair = ~held & (Y_test.sum(axis=1) == 2)
    single = Y_test.sum(axis=1) == 1
    log(f"train {X.shape}, test {X_test.shape}, held-out test rows {held.sum()}")

    results = {}  # (estimator, decoder) -> per-seed dicts
    for key in args.estimators:
        est_name, method, own_params = ESTIMATORS[key]
        for seed in range(args.seeds):
            t0 = time.perf_counter()
            params = dict(args.params)
            if args.max_epochs is not None:
                params["max_epochs"] = args.max_epochs
            params.update(own_params)
            clf = make_estimator(method, seed, device=args.device, **params)
            clf.fit(X, Y)
            log(f"{est_name} seed {seed}: fitted in {time.perf_counter() - t0:.0f} s")
            train = network_outputs(clf, X, args.device)
            test = network_outputs(clf, X_test, args.device)
            Y_train = torch.as_tensor(Y, device=args.device)
            for dec_name, template in DECODERS.items():
                dec = clone(template).fit(*train, Y_train)
                pred = dec.predict(*test).cpu().numpy()
                exact = (pred == Y_test).all(1)
                rho = getattr(dec, "rho_", {}).get(2, float("nan"))
                n_proto = len(getattr(dec, "prototypes_", ())) or (
                    len(dec.sets_) + len(dec.synthetic_sets_)
                )
                results.setdefault((est_name, dec_name), []).append(
                    {
                        "held": exact[held].mean(),
                        "other": exact[~held].mean(),
                        "seen_pair": exact[seen_pair].mean(),
                        "single": exact[single].mean(),
                        "rho_2": rho,
                        "prototypes": n_proto,
                    }
                )
    rows = [
        [
            est_name,
            dec_name,
            cell(res, "held"),
            cell(res, "other"),
            cell(res, "seen_pair"),
            cell(res, "single"),
            cell(res, "rho_2"),
            res[0]["prototypes"],
        ]
        for (est_name, dec_name), res in results.items()
    ]
    settings = [
        f"- digits; held-out pairs {HELD_OUT}; {args.n_single} single digits + "
        f"{args.per_pair} per other pair for training (random_state=0), test "
        f"random_state=1; max_shift={args.max_shift}, scaling {args.scaling}, "
        "max_epochs="
        f"{args.max_epochs or args.params.get('max_epochs', 'default')}, "
        f"parameters {args.params or 'default'}; "
        f"seeds 0..{args.seeds - 1} of the fits; device: {args.device}"
    ]
    header = run.header("# Unseen label sets", settings)
    body = table(
        [
            "estimator",
            "decoder",
            f"exact match, held-out pairs ({held.sum()} rows)",
            f"exact match, other rows ({(~held).sum()})",
            f"of which pairs seen in training ({seen_pair.sum()})",
            f"of which single digits ({single.sum()})",
            "fitted rho_2 (ONN)",
            "candidate sets",
        ],
        rows,
    )
    return run.finish(header + "\n\n" + body)


if __name__ == "__main__":
    sys.exit(main())
