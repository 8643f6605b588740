"""sknc's two estimators against scikit-learn's MLPClassifier.

Fits, with default parameters (only ``random_state`` set), ``PALClassifier``,
``FixedETFClassifier`` and ``MLPClassifier(max_iter=300)`` on multi-label
benchmarks with their official train/test splits, and writes Markdown tables:

1. accuracy (micro/macro-F1, subset accuracy, Hamming loss), fit and predict
   seconds and trainable parameters of each method;
2. training diagnostics (epochs, final training loss, training-set scores), to
   tell under-fitting from over-fitting;
3. with ``--etf-scale-study``: ``FixedETFClassifier(etf_scale='learned')``
   against fixed logit scales.

The parameter efficiency of ``FixedETFClassifier`` (d = K and K - 1) against
``PALClassifier(feature_dim=512)`` is ``bench_suite``'s table.

Datasets: the built-in multi-label digits (``sknc.datasets``) and the Mulan
benchmarks ``yeast``, ``scene``, ``emotions`` read from
``<data-dir>/<name>.npz``. Every method sees features standardised by a
``StandardScaler`` fitted on the training part (the digits' pixels too, for
uniformity).

Examples
--------
    python -m benchmarks.bench_estimators                # all four, one seed
    python -m benchmarks.bench_estimators --datasets yeast scene --seeds 3
    python -m benchmarks.bench_estimators --threads 1 --etf-scale-study \\
        --out benchmarks/results/estimators.md
    python -m benchmarks.bench_estimators --skip-main --etf-scale-study --max-epochs 20
"""

import sys

import sknc

from . import (
    DIGITS_TEST,
    DIGITS_TRAIN,
    Run,
    Runner,
    cell,
    int_cell,
    load_datasets,
    log,
    make_estimator,
    score_predictions,
    study_parser,
    table,
    warm_up,
    warnings_section,
)

ALL_DATASETS = ("digits", "yeast", "scene", "emotions")
ETF_SCALES = ("learned", 1.0, 4.0, 16.0)
# Methods that are the same estimator as another one (fitted once).
ALIASES = {"FixedETFClassifier(scale=learned)": "FixedETFClassifier"}


# ------------------------------------------------------------------- methods
def builder(args):
    """``build`` of the :class:`Runner`: the estimator named ``method``."""

    def build(method, seed, data, params):
        if method == "MLPClassifier":  # always max_iter=300
            return make_estimator("mlp", seed)
        key = "pal" if method.startswith("PAL") else "etf"
        if method.startswith("FixedETFClassifier(scale="):
            params = {"etf_scale": float(method[len("FixedETFClassifier(scale=") : -1])}
        elif method not in ("PALClassifier", "FixedETFClassifier"):
            raise ValueError(f"unknown method {method!r}")
        return make_estimator(
            key, seed, device=args.device, max_epochs=args.max_epochs, **(params or {})
        )

    return build


def diagnostics(est, data, Y_pred):
    """Training-set scores, epochs, final training loss, a learned ETF scale."""
    X_train, Y_train, _, Y_test = data
    train = score_predictions(Y_train, est.predict(X_train))
    info = {f"train_{key}": value for key, value in train.items()}
    info["true_card"] = float(Y_test.sum(1).mean())
    if hasattr(est, "n_iter_"):  # MLPClassifier
        info.update(epochs=est.n_iter_, train_loss=float(est.loss_))
        return info
    info.update(
        epochs=len(est.history_), train_loss=float(est.history_[-1, "train_loss"])
    )
    head = est.module_.head
    if hasattr(head, "log_scale"):
        info["scale"] = float(head.log_scale.detach().exp())
    return info


def run_seeds(runner, args, name, data, method):
    return runner.run(name, data, ALIASES.get(method, method), range(args.seeds))


# ---------------------------------------------------------------- the report
MAIN_METHODS = ("PALClassifier", "FixedETFClassifier", "MLPClassifier")


def main_tables(runner, args, datasets):
    acc_rows, diag_rows = [], []
    for name, data in datasets.items():
        for method in MAIN_METHODS:
            res = run_seeds(runner, args, name, data, method)
            acc_rows.append(
                [
                    name,
                    method,
                    cell(res, "micro_f1"),
                    cell(res, "macro_f1"),
                    cell(res, "subset_acc"),
                    cell(res, "hamming", "{:.4f}"),
                    cell(res, "fit_s", "{:.1f}"),
                    cell(res, "predict_s", "{:.3f}"),
                    int_cell(res, "params"),
                ]
            )
            diag_rows.append(
                [
                    name,
                    method,
                    cell(res, "epochs", "{:.0f}"),
                    cell(res, "train_loss", "{:.4f}"),
                    cell(res, "train_micro_f1"),
                    cell(res, "train_subset_acc"),
                    cell(res, "micro_f1"),
                    cell(res, "subset_acc"),
                    cell(res, "pred_card", "{:.2f}") + f" ({res[0]['true_card']:.2f})",
                    cell(res, "empty_pred", "{:.3f}"),
                ]
            )
    acc = table(
        [
            "dataset",
            "method",
            "micro-F1",
            "macro-F1",
            "subset acc",
            "Hamming loss",
            "fit s",
            "predict s",
            "trainable params",
        ],
        acc_rows,
    )
    diag = table(
        [
            "dataset",
            "method",
            "epochs",
            "final train loss",
            "train micro-F1",
            "train subset acc",
            "test micro-F1",
            "test subset acc",
            "test labels/row predicted (true)",
            "test rows predicted empty",
        ],
        diag_rows,
    )
    return "\n\n".join(
        [
            "## 1. Default estimators",
            "Default parameters, only `random_state` (and `device`) set. "
            "Predict seconds: the whole test set.",
            acc,
            "## 2. Training diagnostics",
            "Final train loss: PAL cross-entropy plus feature decay for sknc "
            "(skorch's `history[-1, 'train_loss']`), binary cross-entropy plus "
            "L2 penalty for MLPClassifier (`loss_`): not comparable across "
            "families. MLPClassifier's epochs are `n_iter_` (300 = stopped by "
            "`max_iter`, not converged).",
            diag,
        ]
    )


def etf_scale_table(runner, args, datasets):
    rows = []
    for name, data in datasets.items():
        for scale in ETF_SCALES:
            method = f"FixedETFClassifier(scale={scale})"
            res = run_seeds(runner, args, name, data, method)
            rows.append(
                [
                    name,
                    "learned" if scale == "learned" else f"{scale:g}",
                    cell(res, "scale", "{:.2f}"),
                    cell(res, "micro_f1"),
                    cell(res, "macro_f1"),
                    cell(res, "subset_acc"),
                    cell(res, "train_loss", "{:.4f}"),
                    cell(res, "train_subset_acc"),
                ]
            )
    return "\n\n".join(
        [
            "## 3. ETF logit scale: learned or fixed",
            "`FixedETFClassifier(etf_scale=...)`, other parameters at their "
            "defaults. Final scale: the value of `s` at the end of training "
            "(the learned one starts at 1). Final train loss: "
            "`history[-1, 'train_loss']` (PAL + feature decay).",
            table(
                [
                    "dataset",
                    "etf_scale",
                    "final scale",
                    "micro-F1",
                    "macro-F1",
                    "subset acc",
                    "final train loss",
                    "train subset acc",
                ],
                rows,
            ),
        ]
    )


# ----------------------------------------------------------------------- CLI
def parse_args(argv=None):
    parser = study_parser(
        __doc__,
        "datasets",
        "data_dir",
        "seeds",
        "device",
        "max_epochs",
        "threads",
        "out",
        datasets={
            "choices": ALL_DATASETS,
            "default": list(ALL_DATASETS),
            "help": "any of " + " ".join(ALL_DATASETS) + " (default: all four)",
        },
        max_epochs={
            "help": "max_epochs of the sknc estimators (default: their default); "
            "MLPClassifier always uses max_iter=300"
        },
    )
    parser.add_argument(
        "--etf-scale-study",
        action="store_true",
        help="also compare etf_scale='learned' with fixed scales "
        + ", ".join(str(s) for s in ETF_SCALES[1:]),
    )
    parser.add_argument(
        "--skip-main",
        action="store_true",
        help="skip the default-estimator and diagnostics tables "
        "(use with --etf-scale-study)",
    )
    args = parser.parse_args(argv)
    if args.skip_main and not args.etf_scale_study:
        parser.error("--skip-main leaves nothing to run without --etf-scale-study")
    return args


def main(argv=None):
    args = parse_args(argv)
    run = Run(args)
    datasets, info = load_datasets(args.datasets, args.data_dir)
    warm_up(args.device)
    runner = Runner(builder(args), measure=diagnostics, log=log)
    sections = []
    if not args.skip_main:
        sections.append(main_tables(runner, args, datasets))
    if args.etf_scale_study:
        sections.append(etf_scale_table(runner, args, datasets))
    sections.append(warnings_section(runner))
    epochs = (
        str(args.max_epochs)
        if args.max_epochs is not None
        else f"default ({sknc.PALClassifier().max_epochs})"
    )
    settings = [
        f"- device: {args.device}; seeds: {args.seeds} (0..{args.seeds - 1}; "
        "cells are mean ± std over seeds when more than one); sknc max_epochs: "
        f"{epochs}; MLPClassifier(max_iter=300)",
        "- preprocessing: StandardScaler fitted on the training part; "
        "official train/test splits; digits: make_multilabel_digits"
        f"({DIGITS_TRAIN}) for train, ({DIGITS_TEST}) for test",
    ]
    header = run.header("# sknc core benchmark", settings, info)
    return run.finish("\n\n".join([header, *sections]))


if __name__ == "__main__":
    sys.exit(main())
