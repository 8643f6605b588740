"""Per-label scores under the two-halves protocol: which head ranks the labels best.

``predict_proba`` is what a user thresholds, ranks and calibrates (issue
25). For one network per data set and seed (``PALClassifier`` or, with
``--estimator etf``, ``FixedETFClassifier``; defaults, or ``--params``), the
per-label scores of its sources are scored, next to the peers'
``predict_proba``:

- ``auto``, ``decoder``, ``head``, ``blend``, ``calibrated``, ``linear``,
  ``wide``: ``predict_proba`` with that ``label_proba`` (what ``'auto'``
  chose at fit, listed per seed; the decoder's marginals, ties
  ordered by the logits' softmax; the per-label logistic head on the
  detached features; their mean; the mean moved to the decoder's order; the
  per-label logistic regression of the inputs; its mean with the decoder's),
  from the same fitted network (the heads never change it);
- ``softmax``: the softmax of ``decision_function`` (the logits; a ranking
  score, not a probability).

Columns: label-ranking average precision and coverage error (rows with a
label), the Hamming loss of ``score >= 0.5`` and the mean per-label log loss
(probabilities only). ``--half tuning`` scores a stratified fifth held out of
each training split of yeast, scene, medical and enron; ``--half
confirmation`` the official test splits of emotions, digits, bibtex and
tmc2007 (``benchmarks/README.md``, "Protocol")::

    python -m benchmarks.study_per_label --half tuning --threads 1 --seeds 2

``label_proba='auto'`` chooses only where it has held-out rows, so its study
runs with cross-fitting (``--params '{"label_proba": "auto",
"calibration_cv": 3}' --peers``; the network that predicts is the same)::

    python -m benchmarks.study_per_label --half tuning --threads 1 --seeds 2 \\
        --params '{"label_proba": "auto", "calibration_cv": 3}' --peers

Before ``label_proba`` (issue 25, first round) the study scored the kNN
decoder's raw marginals, a 100-neighbour label vote and a blend with the
softmax; ``benchmarks/README.md`` keeps those figures.
"""

import json

import numpy as np
import torch
from sklearn.metrics import coverage_error, label_ranking_average_precision_score

from sknc._bench import label_probabilities, multilabel_log_loss
from sknc.decoders._decision import LABEL_PROBA

from . import (
    log,
    make_estimator,
    preprocess,
    study_parser,
)
from ._protocol import (
    ESTIMATORS,
    add_half_arguments,
    half_cases,
    half_report,
    start_half,
)

PEERS = ("rf", "et", "ovr-logreg")
# the source the summary lines compare with the best peer
SUMMARY_SOURCE = "wide"
# (column key, header, higher is better)
COLUMNS = (
    ("lrap", "LRAP", True),
    ("coverage", "coverage error", False),
    ("hamming", "Hamming loss at 0.5", False),
    ("log_loss", "log loss", False),
)


def parse_args():
    parser = study_parser(
        __doc__, "data_dir", "seeds", "threads", "out", seeds={"default": 2}
    )
    add_half_arguments(parser)
    parser.add_argument("--peers", nargs="*", choices=PEERS, default=list(PEERS))
    parser.add_argument("--estimator", choices=sorted(ESTIMATORS), default="pal")
    parser.add_argument(
        "--params", type=json.loads, default={}, help="estimator parameters (JSON)"
    )
    return parser.parse_args()


def sknc_scores(clf, split):
    """``{source: (scores, is_probability)}`` of one fitted estimator."""
    scores = {}
    for source in LABEL_PROBA:
        clf.set_params(label_proba=source)
        try:
            scores[source] = (clf.predict_proba(split.X_test), True)
        except ValueError:
            # a head this network does not have: label_proba='auto' keeps
            # the model of the inputs only where it chose 'wide'
            continue
    logits = torch.as_tensor(clf.decision_function(split.X_test))
    scores["softmax"] = (torch.softmax(logits, dim=1).numpy(), False)
    return scores


def peer_scores(key, split, seed):
    X_train, X_test, _ = preprocess(split.X_train, split.X_test)
    est = make_estimator(key, random_state=seed).fit(X_train, split.Y_train)
    proba, _ = label_probabilities(est, X_test)
    return proba


def score(Y, scores, probability):
    Y = np.asarray(Y)
    rows = Y.sum(axis=1) > 0
    result = {
        "lrap": label_ranking_average_precision_score(Y[rows], scores[rows]),
        "coverage": coverage_error(Y[rows], scores[rows]),
        "hamming": np.nan,
        "log_loss": np.nan,
    }
    if probability:
        result["hamming"] = float(np.mean((scores >= 0.5) != Y))
        result["log_loss"] = multilabel_log_loss(Y, scores)
    return result


def main():
    args = parse_args()
    study, datasets, info = start_half(args)
    results, chosen = {}, {}
    for name, seed, split in half_cases(datasets, args.half, args.seeds):
        # both heads trained (they never change the network): every source scored
        params = {"label_proba": "wide", **args.params}
        clf = ESTIMATORS[args.estimator](random_state=seed, **params)
        clf.fit(split.X_train, split.Y_train)
        chosen.setdefault(name, []).append(clf.label_proba_)
        log(f"[{name} seed {seed}] label_proba_={clf.label_proba_!r}")
        heads = sknc_scores(clf, split)
        for key in args.peers:
            heads[key] = (peer_scores(key, split, seed), True)
        for head, (scores, probability) in heads.items():
            result = score(split.Y_test, scores, probability)
            results.setdefault((name, head), []).append(result)
            log(
                f"[{name} seed {seed}] {head}: "
                + " ".join(f"{k}={result[k]:.4f}" for k, _, _ in COLUMNS)
            )
    header = ["data", "scores", *(h for _, h, _ in COLUMNS)]
    rows, summary = [], []
    for name in datasets:
        summary.append(f"- {name}: label_proba_ per seed {chosen[name]}")
        means = {
            head: {k: np.nanmean([r[k] for r in runs]) for k, _, _ in COLUMNS}
            for (data_name, head), runs in results.items()
            if data_name == name
        }
        for head, cells in means.items():
            rows.append(
                [name, head]
                + [
                    "n/a" if np.isnan(cells[k]) else f"{cells[k]:.4f}"
                    for k, _, _ in COLUMNS
                ]
            )
        if args.peers:
            ours = means[SUMMARY_SOURCE]
            for key, header_text, higher in COLUMNS:
                best = [means[p][key] for p in args.peers]
                best = max(best) if higher else min(best)
                summary.append(
                    f"- {name}, {header_text}: {SUMMARY_SOURCE} {ours[key]:.4f}, "
                    f"best peer {best:.4f}"
                )
    params = args.params or "defaults"
    cls = ESTIMATORS[args.estimator].__name__
    peers = ", ".join(args.peers)
    subject = f"{cls} ({params}) label_proba sources and the peers {peers}"
    half_report(study, args, "Per-label scores", subject, info, header, rows, summary)


if __name__ == "__main__":
    main()
