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
which stay as they are (as in ``bench_suite``). The neural-collapse
theory says every loss of the family has the same collapsed geometry at its
optimum, so the NC columns should agree across losses when training reaches
the terminal phase.

Examples
--------
    python -m benchmarks.bench_losses --threads 1 --out benchmarks/results/losses.md
    python -m benchmarks.bench_losses --threads 1 --datasets yeast scene emotions
"""

import sys

from sknc.metrics import neural_collapse_report

from . import (
    DATASETS,
    DIGITS_TEST,
    DIGITS_TRAIN,
    Run,
    Runner,
    load_dataset,
    log,
    make_estimator,
    study_parser,
    table,
    warm_up,
    warnings_section,
)

LOSSES = ("pal", "pal_n", "pal_ls", "pal_focal", "pal_mse")
ESTIMATORS = {"FixedETFClassifier": "etf", "PALClassifier": "pal"}
MULAN = ("yeast", "scene", "emotions")


def builder(args):
    """``build`` of the :class:`Runner`: method ``(estimator, loss)``."""

    def build(method, seed, data, params):
        est, loss = method
        return make_estimator(
            ESTIMATORS[est],
            seed,
            device=args.device,
            max_epochs=args.max_epochs,
            loss=loss,
        )

    return build


def training_loss(clf, data, Y_pred):
    return {"train_loss": clf.history[-1, "train_loss"]}


def collapse(clf, data, Y_pred):
    """The final training loss and the neural collapse of the training features."""
    X_train, Y_train = data.X_train, data.Y_train
    H = clf.transform(X_train)
    W = clf.module_.head.weight[: clf.n_outputs_].detach()
    report = neural_collapse_report(H, Y_train, W=W, random_state=0)
    result = {key: report[key] for key in ("nc1", "nc2", "nc2_means", "nc3", "ncm")}
    result["rho_2"] = report["rho"].get(2, float("nan"))
    # mean logit of the true label, multiplicity-1 training rows: the scale
    # each loss drives the logits to
    Z = clf.decision_function(X_train)
    single = Y_train.sum(axis=1) == 1
    result["z_true"] = float(Z[single][Y_train[single] == 1].mean())
    return {**training_loss(clf, data, Y_pred), **result}


def settings(args):
    return [
        f"- device: {args.device}; estimators: default parameters, "
        f"random_state={args.seed}, max_epochs="
        + (str(args.max_epochs) if args.max_epochs else "default")
        + "; loss defaults: pal_ls label_smoothing=0.1, pal_focal gamma=2, "
        "pal_mse kappa=M=1",
        f"- digits: make_multilabel_digits({DIGITS_TRAIN}) train, "
        f"({DIGITS_TEST}) test; StandardScaler fitted on the training part "
        "(Mulan sets too, unless all their features are 0/1)",
    ]


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
    for (_, (est, loss)), (r,) in results.items():
        rows.append(
            [
                est,
                loss,
                f"{r['micro_f1']:.3f}",
                f"{r['subset_acc']:.3f}",
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
                r = results.get((d, (est, loss)))
                row.append(
                    f"{r[0]['micro_f1']:.3f} / {r[0]['subset_acc']:.3f}" if r else "—"
                )
            rows.append(row)
    return table(head, rows)


def parse_args(argv=None):
    parser = study_parser(
        __doc__,
        "datasets",
        "data_dir",
        "seed",
        "device",
        "max_epochs",
        "threads",
        "out",
        datasets={
            "nargs": "*",
            "choices": DATASETS[1:],
            "default": None,
            "help": "Mulan sets to add, any of " + " ".join(DATASETS[1:]) + " "
            "(default: none; with no name: " + " ".join(MULAN) + ")",
        },
    )
    args = parser.parse_args(argv)
    if args.datasets is not None and not args.datasets:
        args.datasets = list(MULAN)
    return args


def main(argv=None):
    args = parse_args(argv)
    run = Run(args)
    warm_up(args.device)
    # one runner per part: their fits measure different things
    digits = Runner(builder(args), measure=collapse, label=" ".join, log=log)
    mulan = Runner(builder(args), measure=training_loss, label=" ".join, log=log)
    data = load_dataset("digits", args.data_dir)
    for method in ((est, loss) for est in ESTIMATORS for loss in LOSSES):
        digits.run("digits", data, method, [args.seed])
    for name in args.datasets or ():
        data = load_dataset(name, args.data_dir, scaling="auto")
        if data is None:
            continue
        for method in ((est, loss) for est in ESTIMATORS for loss in LOSSES):
            mulan.run(name, data, method, [args.seed])
    parts = [
        "## Digits: test scores and neural collapse of the training features",
        "NC metrics of `neural_collapse_report(clf.transform(X_train), Y_train, "
        "W=clf.module_.head.weight[:K])` (0 = full collapse; rho_2: the scale of "
        "a pair's mean against the average of its members' means). "
        "`mean z_true`: the mean logit of the true label over single-label "
        "training rows.",
        digits_table(digits.results),
    ]
    if mulan.results:
        # in the order asked for (any Mulan set, not only the default three)
        names = [d for d in args.datasets if any(k[0] == d for k in mulan.results)]
        parts += [
            "## Mulan data sets: test micro-F1 / subset accuracy",
            datasets_table(mulan.results, names),
        ]
    digits.merge(mulan)
    parts.append(warnings_section(digits))
    header = run.header("# sknc loss benchmark", settings(args))
    return run.finish("\n\n".join([header, *parts]))


if __name__ == "__main__":
    sys.exit(main())
