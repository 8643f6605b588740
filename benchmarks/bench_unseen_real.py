"""Unseen label sets on real data: the test rows whose set never occurs in training.

The real-data part of ``bench_unseen_sets`` (which studies held-out digit
pairs). On the official test splits, per data set: how many test rows carry
a label set absent from the training split, how many of them each method
predicts exactly, its exact match on the other rows and overall (mean over
seeds), and its fit time. sknc's decoders are refitted on one network per
seed: ``candidates='observed'`` (the default), ``'both'`` (every synthesised
set competes), the per-label decisions (``objective='hamming'``) of the
linear model of the inputs (``label_proba='linear'``) and of its mix with
the decoder (``'wide'``; the first network is fitted with it, which never
changes its predictions but adds the linear model's fit to its seconds),
and ``'auto'`` (synthesised sets compete below a threshold
fitted on held-out rows: on a validation split, the network then trained
with ``early_stopping=True, validation_fraction=0.2``, or on the out-of-fold
rows of ``calibration_cv=3`` with the default network); the threshold of
each seed is listed. The peers are the strong and linear ones of
``python -m sknc benchmark``::

    python -m benchmarks.bench_unseen_real --threads 1 --seeds 3
    python -m benchmarks.bench_unseen_real --threads 1 --datasets bibtex \\
        --peers rf et ovr-svm cc-lr
"""

import time
import warnings

import numpy as np

from sknc import PALClassifier

from . import Run, load_datasets, log, make_estimator, study_parser, table, warm_up

PEERS = ("rf", "et", "ovr-hgb", "ovr-svm", "cc-lr", "ecc-lr")


def parse_args():
    parser = study_parser(
        __doc__,
        "datasets",
        "data_dir",
        "seeds",
        "threads",
        "out",
        datasets={"default": ["yeast", "medical", "enron"]},
        seeds={"default": 1},
    )
    parser.add_argument("--peers", nargs="*", choices=PEERS, default=list(PEERS))
    return parser.parse_args()


def unseen_rows(Y_train, Y_test):
    seen = {row.tobytes() for row in np.asarray(Y_train, dtype=np.uint8)}
    return np.array([row.tobytes() not in seen for row in Y_test.astype(np.uint8)])


def exact(Y_true, Y_pred, unseen):
    hit = (np.asarray(Y_pred) == np.asarray(Y_true)).all(axis=1)
    return int(hit[unseen].sum()), hit[~unseen].mean(), hit.mean()


def sknc_rows(data, seed):
    """``(method, predictions, fit seconds, threshold)`` of the sknc settings.

    The fit seconds are the network's fit plus, for a refitted decoder, its
    ``fit_decoder``; the threshold is ``synthesis_threshold_`` (None when the
    setting has none to fit).
    """
    out = []
    start = time.perf_counter()
    # the heads never change the network: the default's predictions, plus
    # the per-label decisions of the linear model of the inputs
    clf = PALClassifier(random_state=seed, label_proba="wide")
    clf.fit(data.X_train, data.Y_train)
    fit_s = time.perf_counter() - start
    for candidates in ("observed", "both"):
        start = time.perf_counter()
        if candidates != "observed":
            clf.set_params(decoder__candidates=candidates)
            clf.fit_decoder(data.X_train, data.Y_train)
        seconds = fit_s + time.perf_counter() - start
        pred = clf.predict(data.X_test)
        out.append((f"PALClassifier, candidates={candidates!r}", pred, seconds, None))
        if candidates == "observed":
            for source in ("linear", "wide"):
                clf.set_params(label_proba=source, objective="hamming")
                pred = clf.predict(data.X_test)
                name = f"PALClassifier, label_proba={source!r}, objective='hamming'"
                out.append((name, pred, fit_s, None))
            clf.set_params(label_proba="wide", objective=None)
    start = time.perf_counter()
    held = PALClassifier(
        random_state=seed,
        early_stopping=True,
        validation_fraction=0.2,
        decoder__candidates="auto",
    ).fit(data.X_train, data.Y_train)
    fit_s = time.perf_counter() - start
    out.append(
        (
            "PALClassifier, candidates='auto', early stopping",
            held.predict(data.X_test),
            fit_s,
            held.decoder_.synthesis_threshold_,
        )
    )
    start = time.perf_counter()
    held.set_params(decoder__candidates="observed")
    held.fit_decoder(data.X_train, data.Y_train)
    out.append(
        (
            "PALClassifier, early stopping, candidates='observed'",
            held.predict(data.X_test),
            fit_s + time.perf_counter() - start,
            None,
        )
    )
    # the default network, calibrated on 3 cross-fitted folds
    start = time.perf_counter()
    crossed = PALClassifier(
        random_state=seed, calibration_cv=3, decoder__candidates="auto"
    ).fit(data.X_train, data.Y_train)
    out.append(
        (
            "PALClassifier, candidates='auto', calibration_cv=3",
            crossed.predict(data.X_test),
            time.perf_counter() - start,
            crossed.decoder_.synthesis_threshold_,
        )
    )
    return out


def main():
    args = parse_args()
    study = Run(args)
    datasets, info = load_datasets(args.datasets, args.data_dir, scaling="auto")
    warm_up()
    rows = []
    for name, data in datasets.items():
        unseen = unseen_rows(data.Y_train, data.Y_test)
        results = {}
        for seed in range(args.seeds):
            methods = sknc_rows(data, seed)
            for key in args.peers:
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    peer = make_estimator(key, random_state=seed)
                    peer.fit(data.X_train, data.Y_train)
                seconds = time.perf_counter() - start
                methods.append((key, peer.predict(data.X_test), seconds, None))
                log(f"[{name} seed {seed}] {key}: {seconds:.1f} s")
            for method, pred, seconds, threshold in methods:
                results.setdefault(method, []).append(
                    (*exact(data.Y_test, pred, unseen), seconds, threshold)
                )
        for method, runs in results.items():
            hits, other, overall, seconds = (
                np.mean(v) for v in list(zip(*runs, strict=True))[:4]
            )
            thresholds = [run[4] for run in runs]
            rows.append(
                [
                    name,
                    f"{unseen.sum()} / {len(unseen)}",
                    method,
                    ""
                    if thresholds[0] is None
                    else ", ".join(f"{t:.2f}" for t in thresholds),
                    f"{hits:.1f} ({hits / max(unseen.sum(), 1):.1%})",
                    f"{other:.3f}",
                    f"{overall:.3f}",
                    f"{seconds:.1f}",
                ]
            )
            log(f"[{name}] " + " | ".join(rows[-1][2:]))
    header = [
        "data",
        "unseen test rows",
        "method",
        "threshold per seed",
        "unseen rows exact (share)",
        "other rows exact",
        "subset accuracy",
        "fit s",
    ]
    report = study.header(
        "Unseen label sets on real data",
        settings=[
            f"- official test splits; {args.seeds} seed(s), means; sknc defaults "
            "otherwise; peers as in `python -m sknc benchmark`"
        ],
        datasets=info,
    )
    study.finish(report + "\n\n" + table(header, rows))


if __name__ == "__main__":
    main()
