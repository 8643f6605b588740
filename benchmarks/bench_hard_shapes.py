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
    python benchmarks/bench_hard_shapes.py --threads 1
    python benchmarks/bench_hard_shapes.py --device cuda
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import f1_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import add_device_argument, git_state, table  # noqa: E402
from bench_metrics import PeakRSS  # noqa: E402

import sknc  # noqa: E402

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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--max-epochs", type=int, default=20)
    parser.add_argument(
        "--problems", nargs="+", default=["empty", "dense", "many-sets"]
    )
    add_device_argument(parser)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = {"empty": 5000, "dense": 500, "many-sets": 20000}
    rows = []
    for name in args.problems:
        X, Y = make_problem(name, sizes[name], seed=0)
        X_test, Y_test = make_problem(name, sizes[name] // 2, seed=1)
        # the ONN decoder: the report counts its label-set prototypes
        clf = sknc.PALClassifier(
            max_epochs=args.max_epochs,
            random_state=0,
            device=args.device,
            decoder="onn",
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
        rows.append(
            [
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
                f"{f1_score(Y_test, pred, average='micro', zero_division=0):.3f}",
                f"{(pred[empty].sum(1) == 0).mean():.2f}" if empty.any() else "—",
            ]
        )
        print(f"{name}: done", file=sys.stderr, flush=True)
    print(
        f"# Hard data shapes (PALClassifier defaults, max_epochs={args.max_epochs}, "
        f"torch threads {torch.get_num_threads()}, device: {args.device}; "
        f"sknc {git_state()})\n"
    )
    print(
        table(
            [
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
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
