"""Input treatments under the two-halves protocol: choose on one, confirm on the other.

The shared data sets are split in two halves (``benchmarks/README.md``,
"Protocol"): defaults are chosen on the **tuning** half (yeast, scene,
medical, enron) from its *training* splits only (a stratified fifth of each
training split held out for scoring), then confirmed on the
**confirmation** half (emotions, digits, bibtex, tmc2007) on the official
test splits. ``--half tuning`` or ``--half confirmation`` picks which.

Treatments of the inputs, each feeding ``PALClassifier`` (defaults, or
``--params``):

- ``standard``: today's benchmark inputs: a ``StandardScaler`` fitted on the
  training part, unless every training value is 0 or 1 (word indicators
  stay as they are);
- ``none``: the raw features, as a user who scales nothing passes them;
- ``robust``: the raw features and ``input_scaling='robust'`` (median/IQR
  scaling and smooth clipping inside the network);
- ``quantile``: scikit-learn's ``QuantileTransformer`` (normal output)
  fitted on the training part.
"""

import json
import time

import numpy as np
from sklearn.preprocessing import QuantileTransformer

from sknc import PALClassifier

from . import Run, load_datasets, log, score_predictions, study_parser, warm_up
from ._protocol import COLUMNS, HALVES, add_half_arguments, half_report, inner_split

TREATMENTS = ("standard", "none", "robust", "quantile")


def parse_args():
    parser = study_parser(
        __doc__,
        "data_dir",
        "seeds",
        "threads",
        "max_epochs",
        "out",
        seeds={"default": 3},
    )
    add_half_arguments(parser)
    parser.add_argument(
        "--treatments", nargs="+", choices=TREATMENTS, default=TREATMENTS
    )
    parser.add_argument(
        "--params", type=json.loads, default={}, help="PALClassifier parameters (JSON)"
    )
    return parser.parse_args()


def treat(treatment, standard, raw):
    """``(X_train, X_test, input_scaling)`` of a treatment."""
    if treatment == "standard":
        return standard.X_train, standard.X_test, None
    if treatment == "none":
        return raw.X_train, raw.X_test, None
    if treatment == "robust":
        return raw.X_train, raw.X_test, "robust"
    quantile = QuantileTransformer(
        n_quantiles=min(1000, len(raw.X_train)), output_distribution="normal"
    ).fit(raw.X_train)
    transform = quantile.transform
    return transform(raw.X_train), transform(raw.X_test), None


def run_one(treatment, standard, raw, seed, params):
    X_train, X_test, scaling = treat(treatment, standard, raw)
    clf = PALClassifier(random_state=seed, input_scaling=scaling, **params)
    start = time.perf_counter()
    clf.fit(X_train, raw.Y_train)
    seconds = time.perf_counter() - start
    scores = score_predictions(
        raw.Y_test, clf.predict(X_test), clf.predict_proba(X_test)
    )
    scores["fit_s"] = seconds
    return scores


def main():
    args = parse_args()
    study = Run(args)
    names = args.datasets or HALVES[args.half]
    standard_sets, info = load_datasets(names, args.data_dir, scaling="auto")
    raw_sets, _ = load_datasets(names, args.data_dir, scaling="none")
    warm_up()
    params = dict(args.params)
    if args.max_epochs is not None:
        params["max_epochs"] = args.max_epochs
    results = {}  # (name, treatment) -> list of score dicts
    for name in standard_sets:
        for seed in range(args.seeds):
            standard, raw = standard_sets[name], raw_sets[name]
            if args.half == "tuning":
                standard, raw = inner_split(standard, seed), inner_split(raw, seed)
            for treatment in args.treatments:
                scores = run_one(treatment, standard, raw, seed, params)
                results.setdefault((name, treatment), []).append(scores)
                log(
                    f"[{name} seed {seed}] {treatment}: "
                    + " ".join(f"{k}={scores[k]:.3f}" for k, _, _ in COLUMNS)
                    + f" fit={scores['fit_s']:.1f}s"
                )
    header = ["data", "inputs", *(h for _, h, _ in COLUMNS), "fit s"]
    rows, wins = [], {t: [0, 0] for t in args.treatments}
    for name in standard_sets:
        base = (
            {
                k: np.mean([s[k] for s in results[(name, "standard")]])
                for k, _, _ in COLUMNS
            }
            if "standard" in args.treatments
            else None
        )
        for treatment in args.treatments:
            runs = results[(name, treatment)]
            cells = [name, treatment]
            for key, _, higher in COLUMNS:
                mean = np.mean([s[key] for s in runs])
                cells.append(f"{mean:.3f}")
                if base is not None and treatment != "standard":
                    better = mean > base[key] if higher else mean < base[key]
                    wins[treatment][0] += int(better)
                    wins[treatment][1] += 1
            cells.append(f"{np.mean([s['fit_s'] for s in runs]):.1f}")
            rows.append(cells)
    summary = [
        f"- {t}: better than `standard` on {w} of {n} (data set, metric) cells"
        for t, (w, n) in wins.items()
        if n
    ]
    subject = f"PALClassifier({params or 'defaults'})"
    half_report(study, args, "Input treatments", subject, info, header, rows, summary)


if __name__ == "__main__":
    main()
