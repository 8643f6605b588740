"""Do the objectives keep their promise? A protocol that cannot tune to the test.

The shared data sets are split in two halves. On the **tuning** half (yeast,
scene, medical, enron) every rule and constant is chosen on the training
split alone: a stratified fifth of it is held out
(``multilabel_train_test_split``, ``random_state=seed``), the network trains
on the other four fifths and is scored on the held-out fifth. The
**confirmation** half (emotions, digits, bibtex, tmc2007) is then scored on
its official test splits, with the rule chosen on the tuning half.

For each data set and seed, one ``PALClassifier(random_state=seed)``
(defaults, or ``--params``) is fitted; every objective predicts from it, and
the threshold rules of ``'f1_micro'`` and ``'f1_macro'`` are refitted on the
very rows and outputs the fit used (recorded from ``Decision``): the rule of
before issue 25 (best F1 cut per label, 1/2 for a label without a positive
row), ``fit_objective_thresholds(rule='fitted')`` over a grid of shrinkage
weights ``a`` and guards ``z`` (a rule is kept only where it beats the
default rule on those rows, by McNemar's ``z``; else the default rule), and
``rule='plug-in'`` (the cuts of the largest F1 expected under the marginals)
with the guards None, 0 and 2. "after" is today's default: plug-in cuts on
the training rows, fitted ones on held-out rows (tmc2007's validation
split). The rules cut the decoder's marginals (``label_proba='decoder'``),
as ``predict`` does. Per objective:
its score on its own metric next to ``objective=None``'s, and the labels it
predicts per row against the true ones.
"""

import pickle
from pathlib import Path

import numpy as np
import torch

from sknc import PALClassifier
from sknc.decoders import _decision
from sknc.decoders._objectives import (
    TRAINING_ROWS_RULE,
    apply_thresholds,
    fit_objective_thresholds,
    fit_thresholds,
)

from . import Run, load_datasets, log, study_parser, table, warm_up
from ._protocol import HALVES, inner_split
from .bench_objectives import TARGETS

SHRINKAGES = (0.0, 1.0, 3.0, 10.0, 30.0)
GUARDS = (None, 0.0, 1.0, 2.0, 3.0)


def parse_args():
    parser = study_parser(
        __doc__,
        "datasets",
        "data_dir",
        "seeds",
        "threads",
        "max_epochs",
        "checkpoint",
        "out",
        datasets={"default": None},
        seeds={"default": 3},
    )
    parser.add_argument(
        "--protocol",
        choices=sorted(HALVES),
        default="tuning",
        help="tuning: inner validation fifth of the training splits of "
        + " ".join(HALVES["tuning"])
        + "; confirmation: official test splits of "
        + " ".join(HALVES["confirmation"])
        + " (default: %(default)s)",
    )
    parser.add_argument(
        "--params", type=eval, default={}, help="PALClassifier parameters (a dict)"
    )
    return parser.parse_args()


def split(data, protocol, seed):
    """The rows to fit on and the rows to score, by the protocol."""
    part = inner_split(data, seed) if protocol == "tuning" else data
    return part.X_train, part.Y_train, part.X_test, part.Y_test


def fit_one(X, Y, X_eval, seed, params):
    """Fit, record what the thresholds were fitted on, predict ``X_eval``."""
    recorded = {}
    original = _decision.Decision._fit_thresholds

    def spy(self, marginals, Y, default, rule):
        K = self.n_labels
        recorded["calibration"] = tuple(
            t[:, :K].cpu().numpy() for t in (marginals, Y, default)
        )
        recorded["allow_empty"] = {
            "before": bool(self.decoder_.allow_empty_),
            "after": self._allow_empty(marginals),
            # the rule predict uses: 'fitted' on held-out rows
            "rule": rule,
        }
        return original(self, marginals, Y, default, rule)

    _decision.Decision._fit_thresholds = spy
    try:
        clf = PALClassifier(random_state=seed, **params).fit(X, Y)
    finally:
        _decision.Decision._fit_thresholds = original
    preds = {}
    for objective in [None, *TARGETS]:
        clf.set_params(objective=objective)
        preds[objective] = np.asarray(clf.predict(X_eval)).astype(bool)
    # the thresholds cut the decoder's marginals (whatever label_proba is)
    marginals = clf.set_params(label_proba="decoder").predict_proba(X_eval)
    return {
        "calibration": recorded["calibration"],
        "allow_empty": recorded["allow_empty"],
        "proba": np.asarray(marginals),
        "preds": preds,
        "thresholds": {k: v.numpy() for k, v in clf.decision_.thresholds_.items()},
    }


def old_rule(marginals, Y):
    """The thresholds before issue 25: best F1 cut, 1/2 without positives."""
    m, y = torch.as_tensor(marginals), torch.as_tensor(Y)
    return {
        "f1_micro": fit_thresholds(m, y, "micro"),
        "f1_macro": fit_thresholds(m, y, "macro"),
    }


def rules(allow_empty):
    """Rule name -> (function of (marginals, Y, default) to thresholds,
    whether a row may predict no label)."""

    def rule(a, z, kind="fitted"):
        def fit(m, y, d):
            return fit_objective_thresholds(
                torch.as_tensor(m),
                torch.as_tensor(y),
                torch.as_tensor(d),
                shrinkage=a,
                guard=z,
                allow_empty=allow_empty["after"],
                rule=kind,
            )

        return fit, allow_empty["after"]

    out = {
        "before": (lambda m, y, d: old_rule(m, y), allow_empty["before"]),
        # the defaults: what objective= does today (the rule Decision chose
        # for these rows; a checkpoint from before it was recorded: plug-in,
        # as every set but tmc2007 has no held-out rows)
        "after": (
            lambda m, y, d: fit_objective_thresholds(
                torch.as_tensor(m),
                torch.as_tensor(y),
                torch.as_tensor(d),
                allow_empty=allow_empty["after"],
                rule=allow_empty.get("rule", TRAINING_ROWS_RULE),
            ),
            allow_empty["after"],
        ),
    }
    for z in GUARDS:
        for a in SHRINKAGES:
            out[f"a={a:g}, " + ("no guard" if z is None else f"z={z:g}")] = rule(a, z)
    for z in (None, 0.0, 2.0):
        name = "plug-in, " + ("no guard" if z is None else f"z={z:g}")
        out[name] = rule(0.0, z, "plug-in")
    return out


def score_rules(result, Y):
    """Per rule and threshold objective: (score, None's score, labels per row)."""
    marginals, y_cal, d_cal = result["calibration"]
    proba = torch.as_tensor(result["proba"])
    default = torch.as_tensor(result["preds"][None])
    out = {}
    for name, (rule, allow_empty) in rules(result["allow_empty"]).items():
        thresholds = rule(marginals, y_cal, d_cal)
        for objective in ("f1_micro", "f1_macro"):
            pred = apply_thresholds(
                proba, thresholds[objective], default, allow_empty
            ).numpy()
            _, score, _ = TARGETS[objective]
            out[name, objective] = (
                score(Y, pred),
                score(Y, result["preds"][None]),
                pred.sum(axis=1).mean(),
            )
    return out


def mean_std(values, digits=3):
    values = np.asarray(values, dtype=float)
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"


def main():
    args = parse_args()
    study = Run(args)
    names = args.datasets or HALVES[args.protocol]
    datasets, info = load_datasets(names, args.data_dir)
    warm_up()
    params = dict(args.params)
    if args.max_epochs is not None:
        params["max_epochs"] = args.max_epochs
    checkpoint = Path(args.checkpoint) if args.checkpoint else None
    results = {}
    for name, data in datasets.items():
        for seed in range(args.seeds):
            path = checkpoint and checkpoint / f"{args.protocol}-{name}-{seed}.pkl"
            if path and path.is_file():
                results[name, seed] = pickle.loads(path.read_bytes())
                continue
            X, Y, X_eval, Y_eval = split(data, args.protocol, seed)
            result = fit_one(X, Y, X_eval, seed, params)
            result["Y"] = np.asarray(Y_eval).astype(bool)
            results[name, seed] = result
            if path:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(pickle.dumps(result))
            log(f"[{name} seed {seed}] fitted")

    scores = {key: score_rules(r, r["Y"]) for key, r in results.items()}
    # 1. every objective, today's code (after) and the rule of before
    rows = []
    for name in datasets:
        runs = [results[name, s] for s in range(args.seeds)]
        true = [r["Y"].sum(axis=1).mean() for r in runs]
        scored = [scores[name, s] for s in range(args.seeds)]
        for objective, (metric, score, higher) in TARGETS.items():
            if objective in ("f1_micro", "f1_macro"):
                before = [s["before", objective] for s in scored]
                rows.append(
                    [
                        name,
                        objective + " (before)",
                        metric,
                        mean_std([b[0] for b in before]),
                        mean_std([b[1] for b in before]),
                        _worse([b[0] - b[1] for b in before], higher),
                        f"{mean_std([b[2] for b in before], 2)} / {np.mean(true):.2f}",
                    ]
                )
            if objective in ("f1_micro", "f1_macro"):
                # refitted on the recorded rows with today's defaults (what
                # predict does), so that a checkpoint outlives a new default
                own, base, per_row = zip(
                    *[s["after", objective] for s in scored], strict=True
                )
            else:
                own = [score(r["Y"], r["preds"][objective]) for r in runs]
                base = [score(r["Y"], r["preds"][None]) for r in runs]
                per_row = [r["preds"][objective].sum(axis=1).mean() for r in runs]
            rows.append(
                [
                    name,
                    objective,
                    metric,
                    mean_std(own),
                    mean_std(base),
                    _worse(np.subtract(own, base), higher),
                    f"{mean_std(per_row, 2)} / {np.mean(true):.2f}",
                ]
            )
    header = [
        "data",
        "objective",
        "metric targeted",
        "objective's score",
        "objective=None's score",
        "seeds worse",
        "labels per row: predicted / true",
    ]

    # 2. the rule grid: mean difference to objective=None, seeds worse,
    # labels per row of f1_macro relative to the true ones
    grid_rows = []
    for rule in scores[next(iter(scores))]:
        if rule[1] != "f1_micro":
            continue
        rule = rule[0]
        cells, worse, ratio = [], 0, 0.0
        for name in datasets:
            runs = [results[name, s] for s in range(args.seeds)]
            diffs = {"f1_micro": [], "f1_macro": []}
            for seed, r in enumerate(runs):
                s = scores[name, seed]
                true = r["Y"].sum(axis=1).mean()
                for objective in diffs:
                    own, base, per_row = s[rule, objective]
                    diffs[objective].append(own - base)
                    worse += own < base - 1e-12
                    ratio = max(ratio, per_row / true)
            cells += [f"{np.mean(diffs[o]):+.4f}" for o in diffs]
        grid_rows.append([rule, *cells, str(worse), f"{ratio:.2f}"])
    grid_header = ["rule"]
    for name in datasets:
        grid_header += [f"{name} micro", f"{name} macro"]
    grid_header += ["(set, seed, objective) worse", "max labels/row ÷ true"]

    report = study.header(
        f"Objectives against objective=None: {args.protocol} half",
        settings=[
            f"- PALClassifier({params or 'defaults'}), random_state = seed, seeds "
            f"0..{args.seeds - 1}; "
            + (
                "fitted on 4/5 of the training split, scored on its held-out "
                "stratified fifth"
                if args.protocol == "tuning"
                else "fitted on the official training split, scored on the test split"
            )
        ],
        datasets=info,
    )
    study.finish(
        report
        + "\n\nEvery objective (mean ± std over seeds; 'before': the thresholds of "
        "before issue 25 on the same network):\n\n"
        + table(header, rows)
        + "\n\nThreshold rules: micro-/macro-F1 minus objective=None's, mean over "
        "seeds:\n\n" + table(grid_header, grid_rows)
    )


def _worse(diffs, higher):
    diffs = np.asarray(diffs)
    n = int(np.sum(diffs < -1e-12) if higher else np.sum(diffs > 1e-12))
    return f"**{n}**" if n else "0"


if __name__ == "__main__":
    main()
