"""The two-halves protocol shared by the studies that choose defaults.

Defaults are chosen on the **tuning** half from its *training* splits only (a
stratified fifth of each held out for scoring) and confirmed on the
**confirmation** half's official test splits (``benchmarks/README.md``,
"Protocol").
"""

from sknc._bench import warm_up
from sknc.model_selection import multilabel_train_test_split

from ._harness import Run, Split, load_datasets, table

__all__ = [
    "HALVES",
    "add_half_arguments",
    "half_cases",
    "half_report",
    "inner_split",
    "start_half",
]

HALVES = {
    "tuning": ["yeast", "scene", "medical", "enron"],
    "confirmation": ["emotions", "digits", "bibtex", "tmc2007"],
}


def add_half_arguments(parser, option="--half"):
    """``option`` (which half) and ``--datasets`` (a subset of it)."""
    parser.add_argument(option, choices=sorted(HALVES), required=True)
    parser.add_argument("--datasets", nargs="+", help="a subset of the half's sets")


def start_half(args, scaling="none"):
    """Start a study of ``args.half``: its ``Run``, the data sets and their lines."""
    study = Run(args)
    names = args.datasets or HALVES[args.half]
    datasets, info = load_datasets(names, args.data_dir, scaling=scaling)
    warm_up()
    return study, datasets, info


def inner_split(data, seed):
    """The tuning half's split: a stratified fifth of the training split held out."""
    X_fit, X_held, Y_fit, Y_held = multilabel_train_test_split(
        data.X_train,
        data.Y_train,
        test_size=0.2,
        random_state=seed,
        stratify=data.Y_train,
    )
    return Split(X_fit, Y_fit, X_held, Y_held)


def half_cases(datasets, half, seeds):
    """Yield ``(name, seed, split)``: what a half fits on and scores, per seed."""
    for name, data in datasets.items():
        for seed in range(seeds):
            yield name, seed, inner_split(data, seed) if half == "tuning" else data


def half_report(study, args, title, subject, info, header, rows, summary):
    """Write the report of one half: the table of means and the summary lines."""
    scoring = (
        "a stratified fifth of each training split held out (test splits unread)"
        if args.half == "tuning"
        else "the official test splits"
    )
    report = study.header(
        f"{title}, {args.half} half",
        settings=[
            f"- {subject}; {args.seeds} seed(s); scored on {scoring}; means over seeds"
        ],
        datasets=info,
    )
    study.finish(report + "\n\n" + table(header, rows) + "\n\n" + "\n".join(summary))
