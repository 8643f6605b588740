"""Candidate defaults under the two-halves protocol: choose on one, confirm on other.

Each ``--configs`` entry is a name and the estimator's parameters (JSON); the
first is the baseline the others are compared with. ``--half tuning``
scores on a stratified fifth held out of each training split of yeast,
scene, medical and enron (the test splits are not read); ``--half
confirmation`` on the official test splits of emotions, digits, bibtex and
tmc2007 (``benchmarks/README.md``, "Protocol"). Inputs are the raw features
(the estimators scale them, ``input_scaling='robust'``)::

    python -m benchmarks.study_protocol --half tuning --threads 1 \\
        --configs 'base={}' 'es={"early_stopping": true}'
"""

import json

from . import study_parser
from ._protocol import (
    COLUMNS,
    ESTIMATORS,
    add_half_arguments,
    compare,
    fit_and_score,
    half_cases,
    half_report,
    mean_fit_s,
    start_half,
)


def config(text):
    name, _, params = text.partition("=")
    return name, json.loads(params or "{}")


def parse_args():
    parser = study_parser(
        __doc__, "data_dir", "seeds", "threads", "out", seeds={"default": 2}
    )
    add_half_arguments(parser)
    parser.add_argument("--estimator", choices=sorted(ESTIMATORS), default="pal")
    parser.add_argument("--configs", nargs="+", type=config, required=True)
    return parser.parse_args()


def main():
    args = parse_args()
    study, datasets, info = start_half(args)
    cls = ESTIMATORS[args.estimator]
    results = {}
    for name, seed, split in half_cases(datasets, args.half, args.seeds):
        for label, params in args.configs:
            clf = cls(random_state=seed, **params)
            scores = fit_and_score(clf, split, f"{name} seed {seed}: {label}")
            results.setdefault((name, label), []).append(scores)
    header = ["data", "config", *(h for _, h, _ in COLUMNS), "fit s"]
    labels = [label for label, _ in args.configs]
    rows, summary = compare(results, datasets, labels, mean_fit_s)
    configs = "; ".join(
        f"{label}: {params or 'defaults'}" for label, params in args.configs
    )
    subject = f"{cls.__name__}, configs {configs}"
    half_report(study, args, "Candidate defaults", subject, info, header, rows, summary)


if __name__ == "__main__":
    main()
