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
import time

import numpy as np

from sknc import FixedETFClassifier, PALClassifier

from . import log, score_predictions, study_parser
from ._protocol import add_half_arguments, half_cases, half_report, start_half

ESTIMATORS = {"pal": PALClassifier, "etf": FixedETFClassifier}
# (key of score_predictions, header, higher is better)
COLUMNS = (
    ("subset_acc", "subset acc", True),
    ("micro_f1", "micro-F1", True),
    ("macro_f1", "macro-F1", True),
    ("example_f1", "example-F1", True),
    ("hamming", "Hamming loss", False),
    ("lrap", "LRAP", True),
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
            start = time.perf_counter()
            clf.fit(split.X_train, split.Y_train)
            seconds = time.perf_counter() - start
            scores = score_predictions(
                split.Y_test,
                clf.predict(split.X_test),
                clf.predict_proba(split.X_test),
            )
            scores["fit_s"] = seconds
            results.setdefault((name, label), []).append(scores)
            log(
                f"[{name} seed {seed}] {label}: "
                + " ".join(f"{k}={scores[k]:.3f}" for k, _, _ in COLUMNS)
                + f" fit={seconds:.1f}s"
            )
    base = args.configs[0][0]
    header = ["data", "config", *(h for _, h, _ in COLUMNS), "fit s"]
    rows, wins = [], {label: [0, 0, 0] for label, _ in args.configs[1:]}
    for name in datasets:
        ref = {k: np.mean([s[k] for s in results[(name, base)]]) for k, _, _ in COLUMNS}
        for label, _ in args.configs:
            runs = results[(name, label)]
            cells = [name, label]
            for key, _, higher in COLUMNS:
                mean = np.mean([s[key] for s in runs])
                cells.append(f"{mean:.3f}")
                if label != base:
                    delta = (mean - ref[key]) * (1 if higher else -1)
                    wins[label][0] += int(delta > 0)
                    wins[label][1] += int(delta < 0)
                    wins[label][2] += 1
            cells.append(f"{np.mean([s['fit_s'] for s in runs]):.1f}")
            rows.append(cells)
    summary = [
        f"- {label} against {base}: better on {w}, worse on {lo} of {n} "
        "(data set, metric) cells"
        for label, (w, lo, n) in wins.items()
    ]
    configs = "; ".join(
        f"{label}: {params or 'defaults'}" for label, params in args.configs
    )
    subject = f"{cls.__name__}, configs {configs}"
    half_report(study, args, "Candidate defaults", subject, info, header, rows, summary)


if __name__ == "__main__":
    main()
