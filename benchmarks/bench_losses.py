"""Loss benchmark: the PAL loss family on the same data and networks.

For each loss (``pal``, ``pal_n``, ``pal_ls``, ``pal_focal``, ``pal_mse``),
fits ``FixedETFClassifier`` and ``PALClassifier`` with default parameters
(only ``loss`` and ``random_state`` set) and reports:

1. on the built-in digits (``make_multilabel_digits``: 1000 single digits +
   1000 pairs with ``random_state=0`` for training, 500 + 500 with
   ``random_state=1`` for testing): test micro-F1 and subset accuracy, the
   final training loss, fit seconds, and the neural-collapse metrics of the
   training features at the end of training
   (:func:`sknc.metrics.neural_collapse_report` with the head's weight):
   NC1, NC2, NC2 of the class means, NC3, NCm and the multiplicity-2 scale
   ``rho_2``;
2. with ``--datasets``: test micro-F1 / subset accuracy per loss on the
   official train/test splits of the named Mulan sets
   (``<data-dir>/<name>.npz``).

Features are standardised by a ``StandardScaler`` fitted on the training
part, except for Mulan sets whose features are all 0 or 1 (word indicators),
which stay as they are (as in ``bench_suite.py``). The neural-collapse
theory says every loss of the family has the same collapsed geometry at its
optimum, so the NC columns should agree across losses when training reaches
the terminal phase.

Examples
--------
    python benchmarks/bench_losses.py --threads 1 --out benchmarks/results/losses.md
    python benchmarks/bench_losses.py --threads 1 --datasets yeast scene emotions
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
from sklearn.metrics import accuracy_score, f1_score
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import (  # noqa: E402
    DEFAULT_DATA_DIR,
    DIGITS_TEST,
    DIGITS_TRAIN,
    git_state,
    load_dataset,
    log,
    table,
)

import sknc  # noqa: E402
from sknc.metrics import neural_collapse_report  # noqa: E402

LOSSES = ("pal", "pal_n", "pal_ls", "pal_focal", "pal_mse")
ESTIMATORS = {
    "FixedETFClassifier": sknc.FixedETFClassifier,
    "PALClassifier": sknc.PALClassifier,
}
MULAN = ("yeast", "scene", "emotions")


def fit_one(cls, loss, data, args, nc=False):
    X_train, Y_train, X_test, Y_test = data
    kwargs = {"loss": loss, "random_state": args.seed, "device": args.device}
    if args.max_epochs is not None:
        kwargs["max_epochs"] = args.max_epochs
    clf = cls(**kwargs)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.fit(X_train, Y_train)
    fit_s = time.perf_counter() - start
    Y_pred = clf.predict(X_test)
    result = {
        "micro_f1": f1_score(Y_test, Y_pred, average="micro", zero_division=0),
        "subset": accuracy_score(Y_test, Y_pred),
        "train_loss": clf.history[-1, "train_loss"],
        "fit_s": fit_s,
        "warnings": sorted({str(w.message).splitlines()[0][:120] for w in caught}),
    }
    if nc:
        H = clf.transform(X_train)
        W = clf.module_.head.weight[: clf.n_outputs_].detach()
        report = neural_collapse_report(H, Y_train, W=W, random_state=0)
        result.update({key: report[key] for key in ("nc1", "nc2", "nc2_means")})
        result.update({key: report[key] for key in ("nc3", "ncm")})
        result["rho_2"] = report["rho"].get(2, float("nan"))
        # mean logit of the true label, multiplicity-1 training rows: the
        # scale each loss drives the logits to
        Z = clf.decision_function(X_train)
        single = Y_train.sum(axis=1) == 1
        result["z_true"] = float(Z[single][Y_train[single] == 1].mean())
    return result


def header(args, total_s):
    command = " ".join(
        ["python"] + [shlex.quote(a) for a in [sys.argv[0]] + sys.argv[1:]]
    )
    return "\n".join(
        [
            "# sknc loss benchmark",
            "",
            "- date: "
            + datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            f"- command: `{command}`",
            f"- machine: {platform.node()}, {os.cpu_count()} CPUs, torch threads: "
            f"{torch.get_num_threads()}, device: {args.device}",
            f"- python {platform.python_version()}, torch {torch.__version__}, "
            f"scikit-learn {sklearn.__version__}, skorch {skorch.__version__}, "
            f"sknc {sknc.__version__}, checkout {args.git}",
            f"- estimators: default parameters, random_state={args.seed}, "
            "max_epochs="
            + (str(args.max_epochs) if args.max_epochs else "default")
            + "; loss defaults: pal_ls label_smoothing=0.1, pal_focal gamma=2, "
            "pal_mse kappa=M=1",
            f"- digits: make_multilabel_digits({DIGITS_TRAIN}) train, "
            f"({DIGITS_TEST}) test; StandardScaler fitted on the training part "
            "(Mulan sets too, unless all their features are 0/1)",
            f"- total wall time: {total_s:.0f} s",
        ]
    )


def digits_table(results):
    head = [
        "estimator",
        "loss",
        "micro-F1",
        "subset",
        "NC1",
        "NC2",
        "NC2 means",
        "NC3",
        "NCm",
        "rho_2",
        "mean z_true (m=1)",
        "final train loss",
        "fit s",
    ]
    rows = []
    for (est, loss), r in results.items():
        rows.append(
            [
                est,
                loss,
                f"{r['micro_f1']:.3f}",
                f"{r['subset']:.3f}",
                f"{r['nc1']:.3f}",
                f"{r['nc2']:.3f}",
                f"{r['nc2_means']:.3f}",
                f"{r['nc3']:.3f}",
                f"{r['ncm']:.3f}",
                f"{r['rho_2']:.3f}",
                f"{r['z_true']:.2f}",
                f"{r['train_loss']:.4f}",
                f"{r['fit_s']:.1f}",
            ]
        )
    return table(head, rows)


def datasets_table(results, datasets):
    head = ["estimator", "loss"] + [f"{d} micro-F1 / subset" for d in datasets]
    rows = []
    for est in ESTIMATORS:
        for loss in LOSSES:
            row = [est, loss]
            for d in datasets:
                r = results.get((d, est, loss))
                row.append(f"{r['micro_f1']:.3f} / {r['subset']:.3f}" if r else "—")
            rows.append(row)
    return table(head, rows)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--datasets",
        nargs="*",
        default=None,
        help="Mulan sets to add (default: none; with no name: " + " ".join(MULAN) + ")",
    )
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default=None, help="also write the report here")
    args = parser.parse_args(argv)
    if args.datasets is not None and not args.datasets:
        args.datasets = list(MULAN)
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    args.git = git_state()
    start = time.perf_counter()
    with threadpool_limits(args.threads):
        # the first fit of a process pays torch's one-off set-up
        rng = np.random.RandomState(0)
        Xw, Yw = rng.randn(64, 8).astype(np.float32), np.eye(4)[rng.randint(4, size=64)]
        sknc.PALClassifier(max_epochs=1, random_state=0).fit(Xw, Yw)

        digits = load_dataset("digits", args.data_dir)
        results = {}
        for est, cls in ESTIMATORS.items():
            for loss in LOSSES:
                log(f"digits {est} loss={loss}")
                results[est, loss] = fit_one(cls, loss, digits, args, nc=True)
        data_results = {}
        for name in args.datasets or ():
            data = load_dataset(name, args.data_dir, scale="auto")
            if data is None:
                continue
            for est, cls in ESTIMATORS.items():
                for loss in LOSSES:
                    log(f"{name} {est} loss={loss}")
                    data_results[name, est, loss] = fit_one(cls, loss, data, args)
    total_s = time.perf_counter() - start

    parts = [
        header(args, total_s),
        "",
        "## Digits: test scores and neural collapse of the training features",
        "",
        "NC metrics of `neural_collapse_report(clf.transform(X_train), Y_train, "
        "W=clf.module_.head.weight[:K])` (0 = full collapse; rho_2: the scale of "
        "a pair's mean against the average of its members' means). "
        "`mean z_true`: the mean logit of the true label over single-label "
        "training rows.",
        "",
        digits_table(results),
    ]
    if data_results:
        # in the order asked for (any Mulan set, not only the default three)
        names = [d for d in args.datasets if any(k[0] == d for k in data_results)]
        parts += [
            "",
            "## Mulan data sets: test micro-F1 / subset accuracy",
            "",
            datasets_table(data_results, names),
        ]
    messages = sorted(
        {
            f"{key}: {m}"
            for res in (results, data_results)
            for key, r in res.items()
            for m in r["warnings"]
        }
    )
    if messages:
        parts += ["", "## Warnings during fit", ""] + [f"- {m}" for m in messages]
    report = "\n".join(parts) + "\n"
    print(report)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(report)


if __name__ == "__main__":
    main()
