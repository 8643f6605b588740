"""Decoder benchmark: ONN (every space and distance), threshold and top-k.

For each dataset (official train/test split, ``StandardScaler`` on the
training part), fits one ``PALClassifier`` with default parameters (only
``random_state`` set), reads its logits (``decision_function``) and features
(``transform``) on the training and test data, and refits every decoder on
the *same* training outputs, so that the rows of a table differ only in the
decoder. Beside them: scikit-learn's ``MLPClassifier(max_iter=300)`` and a
skorch net with the same backbone trained with ``BCEWithLogitsLoss`` (the
usual multi-label recipe: ``sknc._bench.BCENetClassifier``), on the same split.

Tables:

1. micro-F1, macro-F1, subset accuracy, Hamming loss and the mean number of
   predicted labels per test row, for every decoder and the baselines;
2. calibration of ``predict_proba`` on the test data: Brier score and log loss
   per label (averaged over labels), for the ONN decoder (temperature fitted on
   the training outputs, or on a validation split with ``--valid``), the
   threshold decoder's Platt curve, the BCE net and ``MLPClassifier``.

With ``--valid`` a second ``PALClassifier`` is fitted with
``train_split=MultilabelStratifiedValidSplit(0.2)``: it trains on 80 % of the
training data and calibrates its decoder on the other 20 %.

Examples
--------
    python -m benchmarks.bench_decoders --threads 1 --out benchmarks/results/decoders.md
    python -m benchmarks.bench_decoders --datasets scene emotions --valid
"""

import sys
import time
import warnings

import numpy as np
import sklearn
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss

from sknc import ONNDecoder, ThresholdDecoder, TopKDecoder
from sknc.model_selection import MultilabelStratifiedValidSplit

from . import (
    Run,
    load_dataset,
    log,
    make_estimator,
    network_outputs,
    score_predictions,
    study_parser,
    table,
)

DEFAULT = "ONN features/euclidean (default)"
DECODERS = {
    DEFAULT: ONNDecoder(),
    "ONN features/cosine": ONNDecoder(metric="cosine"),
    "ONN logits/euclidean": ONNDecoder(space="logits"),
    "ONN logits/cosine": ONNDecoder(space="logits", metric="cosine"),
    "ONN proba/euclidean": ONNDecoder(space="proba"),
    "ONN proba/cosine": ONNDecoder(space="proba", metric="cosine"),
    "ONN features/euclidean, min_count=1": ONNDecoder(min_count=1),
    "ONN features/euclidean, min_count=5": ONNDecoder(min_count=5),
    "ONN proba/cosine, min_count=1": ONNDecoder(
        space="proba", metric="cosine", min_count=1
    ),
    "ONN features/euclidean, candidates=both (m<=2)": ONNDecoder(
        candidates="both", max_multiplicity=2
    ),
    "threshold 0.5": ThresholdDecoder(),
    "threshold auto": ThresholdDecoder(threshold="auto"),
    "top-k auto": TopKDecoder(),
    "top-1": TopKDecoder(k=1),
}


def calibration(Y, proba):
    proba = np.clip(np.asarray(proba, dtype=np.float64), 1e-7, 1 - 1e-7)
    brier = ((proba - Y) ** 2).mean(0)
    losses = [log_loss(Y[:, k], proba[:, k], labels=[0, 1]) for k in range(Y.shape[1])]
    return {"brier": float(brier.mean()), "log loss": float(np.mean(losses))}


def run_dataset(name, data, args):
    X_train, Y_train, X_test, Y_test = data
    rows, calib = {}, {}
    t0 = time.perf_counter()
    clf = make_estimator("pal", args.seed, device=args.device)
    clf.fit(X_train, Y_train)
    fit_s = time.perf_counter() - t0
    log(f"  PALClassifier fitted in {fit_s:.0f} s")
    z_tr, h_tr = network_outputs(clf, X_train)
    z_te, h_te = network_outputs(clf, X_test)
    Y_tr = torch.as_tensor(Y_train)
    for label, template in DECODERS.items():
        t = time.perf_counter()
        dec = sklearn.base.clone(template).fit(z_tr, h_tr, Y_tr)
        fit_dec = time.perf_counter() - t
        pred = dec.predict(z_te, h_te).numpy().astype(np.uint8)
        rows[label] = {**score_predictions(Y_test, pred), "decoder fit s": fit_dec}
        if label in (DEFAULT, "threshold 0.5"):
            name_c = "ONN (T from training outputs)" if "ONN" in label else label
            calib[name_c] = calibration(Y_test, dec.predict_proba(z_te, h_te).numpy())
        if label == DEFAULT:
            calib[name_c]["T"] = dec.temperature_
            rows[label]["prototypes"] = len(dec.prototypes_)
    if args.valid:
        split = MultilabelStratifiedValidSplit(0.2, random_state=args.seed)
        # the ONN decoder (not the default): its temperature is the point
        val = make_estimator(
            "pal", args.seed, device=args.device, train_split=split, decoder="onn"
        ).fit(X_train, Y_train)
        pred = val.predict(X_test)
        rows["ONN, train_split=0.2 (trained on 80 %)"] = score_predictions(Y_test, pred)
        calib["ONN (T from validation split)"] = {
            **calibration(Y_test, val.predict_proba(X_test)),
            "T": val.decoder_.temperature_,
        }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = make_estimator("mlp", args.seed).fit(X_train, Y_train)
    rows["MLPClassifier"] = score_predictions(Y_test, mlp.predict(X_test))
    calib["MLPClassifier"] = calibration(Y_test, mlp.predict_proba(X_test))
    bce = make_estimator("bce", args.seed, device=args.device).fit(X_train, Y_train)
    rows["BCE net, same backbone"] = score_predictions(Y_test, bce.predict(X_test))
    calib["BCE net, same backbone"] = calibration(Y_test, bce.predict_proba(X_test))
    log(f"  done in {time.perf_counter() - t0:.0f} s")
    return rows, calib, fit_s


def fmt(row, key, spec="{:.3f}"):
    return spec.format(row[key]) if key in row else "—"


def dataset_section(name, data, rows, calib, fit_s):
    K = data.Y_train.shape[1]
    return (
        f"### {name} (K={K}, {len(np.unique(data.Y_train, axis=0))} training "
        f"label sets, PAL fit {fit_s:.0f} s)\n\n"
        + table(
            [
                "method",
                "micro-F1",
                "macro-F1",
                "subset acc",
                "Hamming loss",
                f"labels/row (true {data.Y_test.sum(1).mean():.2f})",
            ],
            [
                [label]
                + [fmt(r, k) for k in ("micro_f1", "macro_f1", "subset_acc")]
                + [fmt(r, "hamming"), fmt(r, "pred_card", "{:.2f}")]
                for label, r in rows.items()
            ],
        )
        + "\n\nCalibration of predict_proba on the test data (mean over "
        "labels):\n\n"
        + table(
            ["probabilities", "Brier", "log loss", "temperature"],
            [
                [
                    label,
                    fmt(c, "brier", "{:.4f}"),
                    fmt(c, "log loss", "{:.4f}"),
                    fmt(c, "T", "{:.3g}"),
                ]
                for label, c in calib.items()
            ],
        )
    )


def overview(summary):
    labels = list(next(iter(summary.values())))
    return table(
        ["method", *summary],
        [
            [label]
            + [
                fmt(rows[label], "micro_f1") + " / " + fmt(rows[label], "subset_acc")
                if label in rows
                else "—"
                for rows in summary.values()
            ]
            for label in labels
        ],
    )


def main(argv=None):
    parser = study_parser(
        __doc__,
        "datasets",
        "data_dir",
        "seed",
        "threads",
        "device",
        "out",
    )
    parser.add_argument(
        "--valid",
        action="store_true",
        help="also fit a PALClassifier with train_split="
        "MultilabelStratifiedValidSplit(0.2): its decoder's temperature is "
        "fitted on the held-out 20 %%",
    )
    args = parser.parse_args(argv)
    run = Run(args)
    sections, summary = [], {}
    for name in args.datasets:
        data = load_dataset(name, args.data_dir)
        if data is None:
            continue
        log(f"{name}: {data[0].shape[0]}/{data[2].shape[0]} x {data[0].shape[1]}")
        rows, calib, fit_s = run_dataset(name, data, args)
        summary[name] = rows
        sections.append(dataset_section(name, data, rows, calib, fit_s))
    parts = [run.header("# sknc decoder benchmark", [f"- seed {args.seed}"])]
    if summary:
        parts += ["## Overview: micro-F1 / subset accuracy", overview(summary)]
    parts += ["## Per dataset", *sections]
    return run.finish("\n\n".join(parts))


if __name__ == "__main__":
    sys.exit(main())
