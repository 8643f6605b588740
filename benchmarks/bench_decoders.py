"""Decoder benchmark: ONN (every space and distance), threshold and top-k.

For each dataset (official train/test split, ``StandardScaler`` on the
training part), fits one ``PALClassifier`` with default parameters (only
``random_state`` set), reads its logits (``decision_function``) and features
(``transform``) on the training and test data, and refits every decoder on
the *same* training outputs, so that the rows of a table differ only in the
decoder. Beside them: scikit-learn's ``MLPClassifier(max_iter=300)`` and a
skorch net with the same backbone trained with ``BCEWithLogitsLoss`` (the
usual multi-label recipe), on the same split.

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
    python benchmarks/bench_decoders.py --threads 1 --out benchmarks/results/decoders.md
    python benchmarks/bench_decoders.py --datasets scene emotions --valid
"""

import argparse
import datetime
import os
import platform
import shlex
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
import skorch
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import f1_score, hamming_loss, log_loss
from sklearn.neural_network import MLPClassifier

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import DEFAULT_DATA_DIR, git_state, load_dataset, log, table  # noqa: E402

import sknc  # noqa: E402
from sknc import ONNDecoder, ThresholdDecoder, TopKDecoder  # noqa: E402
from sknc.model_selection import MultilabelStratifiedValidSplit  # noqa: E402

DATASETS = (
    "digits",
    "yeast",
    "scene",
    "emotions",
    "medical",
    "enron",
    "bibtex",
    "tmc2007",
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


class BCENet(torch.nn.Module):
    """The default sknc backbone with a linear head: the BCE baseline."""

    def __init__(self, n_features, n_labels):
        super().__init__()
        self.backbone = sknc.MLPBackbone(n_features, 256, hidden_layer_sizes=(512,))
        self.head = torch.nn.Linear(256, n_labels)

    def forward(self, X):
        return self.head(self.backbone(X))


def bce_net(seed, n_features, n_labels, device, net_cls=skorch.NeuralNet, **kwargs):
    """The BCE baseline; ``kwargs`` override its skorch parameters."""
    torch.manual_seed(seed)
    params = {
        "module__n_features": n_features,
        "module__n_labels": n_labels,
        "criterion": torch.nn.BCEWithLogitsLoss,
        "optimizer": torch.optim.AdamW,
        "optimizer__weight_decay": 5e-4,
        "lr": 1e-3,
        "max_epochs": 100,
        "batch_size": 128,
        "iterator_train__shuffle": True,
        "train_split": None,
        "predict_nonlinearity": None,  # predict_proba returns the logits
        "device": device,
        "verbose": 0,
    }
    return net_cls(BCENet, **{**params, **kwargs})


def scores(Y, pred):
    return {
        "micro-F1": f1_score(Y, pred, average="micro", zero_division=0),
        "macro-F1": f1_score(Y, pred, average="macro", zero_division=0),
        "subset": float((pred == Y).all(1).mean()),
        "hamming": hamming_loss(Y, pred),
        "labels/row": float(pred.sum(1).mean()),
    }


def calibration(Y, proba):
    proba = np.clip(np.asarray(proba, dtype=np.float64), 1e-7, 1 - 1e-7)
    brier = ((proba - Y) ** 2).mean(0)
    losses = [log_loss(Y[:, k], proba[:, k], labels=[0, 1]) for k in range(Y.shape[1])]
    return {"brier": float(brier.mean()), "log loss": float(np.mean(losses))}


def outputs(clf, X):
    logits = torch.as_tensor(clf.decision_function(X), dtype=torch.float32)
    return logits, torch.as_tensor(clf.transform(X))


def run_dataset(name, data, args):
    X_train, Y_train, X_test, Y_test = data
    rows, calib = {}, {}
    t0 = time.perf_counter()
    clf = sknc.PALClassifier(random_state=args.seed, device=args.device)
    clf.fit(X_train, Y_train)
    fit_s = time.perf_counter() - t0
    log(f"  PALClassifier fitted in {fit_s:.0f} s")
    z_tr, h_tr = outputs(clf, X_train)
    z_te, h_te = outputs(clf, X_test)
    Y_tr = torch.as_tensor(Y_train)
    for label, template in DECODERS.items():
        t = time.perf_counter()
        dec = sklearn.base.clone(template).fit(z_tr, h_tr, Y_tr)
        fit_dec = time.perf_counter() - t
        pred = dec.predict(z_te, h_te).numpy().astype(np.uint8)
        rows[label] = {**scores(Y_test, pred), "decoder fit s": fit_dec}
        if label in (DEFAULT, "threshold 0.5"):
            name_c = "ONN (T from training outputs)" if "ONN" in label else label
            calib[name_c] = calibration(Y_test, dec.predict_proba(z_te, h_te).numpy())
        if label == DEFAULT:
            calib[name_c]["T"] = dec.temperature_
            rows[label]["prototypes"] = len(dec.prototypes_)
    if args.valid:
        split = MultilabelStratifiedValidSplit(0.2, random_state=args.seed)
        val = sknc.PALClassifier(
            random_state=args.seed, device=args.device, train_split=split
        ).fit(X_train, Y_train)
        pred = val.predict(X_test)
        rows["ONN, train_split=0.2 (trained on 80 %)"] = scores(Y_test, pred)
        calib["ONN (T from validation split)"] = {
            **calibration(Y_test, val.predict_proba(X_test)),
            "T": val.decoder_.temperature_,
        }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier(max_iter=300, random_state=args.seed)
        mlp.fit(X_train, Y_train)
    rows["MLPClassifier"] = scores(Y_test, mlp.predict(X_test))
    calib["MLPClassifier"] = calibration(Y_test, mlp.predict_proba(X_test))
    net = bce_net(args.seed, X_train.shape[1], Y_train.shape[1], args.device)
    net.fit(X_train, Y_train.astype(np.float32))
    proba = torch.sigmoid(torch.as_tensor(net.predict_proba(X_test))).numpy()
    rows["BCE net, same backbone"] = scores(Y_test, (proba >= 0.5).astype(np.uint8))
    calib["BCE net, same backbone"] = calibration(Y_test, proba)
    log(f"  done in {time.perf_counter() - t0:.0f} s")
    return rows, calib, fit_s


def fmt(row, key, spec="{:.3f}"):
    return spec.format(row[key]) if key in row else "—"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--valid", action="store_true")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    load = os.getloadavg()[0]
    sections, summary = [], {}
    for name in args.datasets:
        data = load_dataset(name, args.data_dir)
        if data is None:
            continue
        log(f"{name}: {data[0].shape[0]}/{data[2].shape[0]} x {data[0].shape[1]}")
        rows, calib, fit_s = run_dataset(name, data, args)
        summary[name] = rows
        K = data[1].shape[1]
        sections.append(
            f"### {name} (K={K}, {len(np.unique(data[1], axis=0))} training "
            f"label sets, PAL fit {fit_s:.0f} s)\n\n"
            + table(
                [
                    "method",
                    "micro-F1",
                    "macro-F1",
                    "subset acc",
                    "Hamming loss",
                    f"labels/row (true {data[3].sum(1).mean():.2f})",
                ],
                [
                    [label]
                    + [fmt(r, k) for k in ("micro-F1", "macro-F1", "subset", "hamming")]
                    + [fmt(r, "labels/row", "{:.2f}")]
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
    command = " ".join(["python"] + [shlex.quote(a) for a in sys.argv])
    header = [
        "# sknc decoder benchmark",
        "",
        f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- command: `{command}`",
        f"- {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}, "
        f"load average at start {load:.2f}; python {platform.python_version()}, "
        f"torch {torch.__version__}, scikit-learn {sklearn.__version__}, "
        f"skorch {skorch.__version__}; sknc checkout {git_state()}",
        f"- seed {args.seed}; total {time.perf_counter() - start:.0f} s",
        "",
    ]
    if summary:
        labels = list(next(iter(summary.values())))
        overview = table(
            ["method"] + list(summary),
            [
                [label]
                + [
                    fmt(rows[label], "micro-F1") + " / " + fmt(rows[label], "subset")
                    if label in rows
                    else "—"
                    for rows in summary.values()
                ]
                for label in labels
            ],
        )
        header += ["## Overview: micro-F1 / subset accuracy", "", overview, ""]
    report = "\n".join(header) + "\n\n## Per dataset\n\n" + "\n\n".join(sections)
    print(report)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(report + "\n")


if __name__ == "__main__":
    main()
