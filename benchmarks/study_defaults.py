"""Choose sknc's defaults without looking at a test split.

Every data set's *training* part is split once more (iterative stratification,
75 % / 25 %, seed 0): candidate configurations of ``PALClassifier`` are fitted
on the 75 % and scored on the 25 %, next to the peers of the benchmark suite
(binary relevance and classifier chains of logistic regression, k-NN,
``MLPClassifier``, a BCE net with the same backbone). The official test parts
are never used. Each fitted net is decoded by several decoders on the same
outputs, so one fit scores them all.

Features: ``StandardScaler`` unless every value is 0 or 1 (word indicators
stay as they are), as in ``bench_suite``. tmc2007's training part is
subsampled to ``--max-rows`` rows to keep a configuration under a minute.
Results are appended to ``--out`` as JSON lines: ``dataset``, ``method``
(``<config>/<decoder>`` or ``peer/<name>``), ``seed``, the scores of
``sknc._bench.score_predictions`` (``micro_f1``, ``macro_f1``, ``example_f1``,
``subset_acc``, ``hamming``, ...) and, for a configuration's first decoder
and the peers, ``fit_s``.

Examples
--------
    python -m benchmarks.study_defaults --threads 1 --configs base dropout0.2 \\
        --out benchmarks/results/study/r.jsonl
    python -m benchmarks.study_defaults --threads 1 --peers --datasets scene \\
        --out benchmarks/results/study/r.jsonl
"""

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.exceptions import ConvergenceWarning

from sknc import KNNDecoder, ONNDecoder, ThresholdDecoder, TopKDecoder
from sknc._bench import ConstantLabels, preprocess
from sknc.model_selection import MultilabelStratifiedShuffleSplit

from . import (
    add_common_arguments,
    limit_threads,
    load_dataset,
    log,
    make_estimator,
    network_outputs,
    positive_int,
    score_predictions,
    study_parser,
)

CONFIGS = {
    "base": {},
    "dropout0.2": {"dropout": 0.2},
    "dropout0.5": {"dropout": 0.5},
    "epochs50": {"max_epochs": 50},
    "epochs200": {"max_epochs": 200},
    "wd0.05": {"weight_decay": 0.05},
    "fd1e-3": {"feature_decay": 1e-3},
    "pal_ls": {"loss": "pal_ls"},
    "pal_n": {"loss": "pal_n"},
    "lr3e-3": {"lr": 3e-3},
    "lr3e-4": {"lr": 3e-4},
    "bs32": {"batch_size": 32},
    "nobn": {"batch_norm": False},
    "h1024": {"hidden_layer_sizes": (1024,)},
    "h512x2": {"hidden_layer_sizes": (512, 512)},
    "etf": {"estimator": "etf"},
    "fn0.1": {"feature_norm": 0.1},
    "fn0.05": {"feature_norm": 0.05},
    "fnlearned": {"feature_norm": "learned"},
    "etf-fn0.1": {"estimator": "etf", "feature_norm": 0.1},
    "etf-fnlearned": {"estimator": "etf", "feature_norm": "learned"},
    "etf-fd3e-3": {"estimator": "etf", "feature_decay": 3e-3},
    "etf-fd1e-2": {"estimator": "etf", "feature_decay": 1e-2},
    "fn0.1-dropout0.2": {"feature_norm": 0.1, "dropout": 0.2},
    "fn0.1-epochs50": {"feature_norm": 0.1, "max_epochs": 50},
    "fn0.1-pal_ls": {"feature_norm": 0.1, "loss": "pal_ls"},
}

DECODERS = {
    "onn": ONNDecoder(),
    "onn-cos": ONNDecoder(metric="cosine"),
    "onn-proba-cos": ONNDecoder(space="proba", metric="cosine"),
    "onn-proba": ONNDecoder(space="proba"),
    "onn-logits": ONNDecoder(space="logits"),
    "thr0.5": ThresholdDecoder(),
    "topk": TopKDecoder(),
    "knn": KNNDecoder(),
    "knn-label": KNNDecoder(vote="label"),
    "knn20": KNNDecoder(n_neighbors=20),
}


def load(name, data_dir, max_rows):
    """The training part of ``name``, split 75 % / 25 %; None if missing."""
    data = load_dataset(name, data_dir, scaling="none")
    if data is None:
        return None
    X, Y = data.X_train, data.Y_train
    if len(X) > max_rows:
        keep = np.random.RandomState(0).choice(len(X), max_rows, replace=False)
        X, Y = X[np.sort(keep)], Y[np.sort(keep)]
    split = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=0.25, random_state=0)
    tr, va = next(split.split(X, Y))
    X_tr, X_va, _ = preprocess(X[tr], X[va], "auto")
    return X_tr, Y[tr], X_va, Y[va]


def run_config(name, data, seed, device, save_features=None):
    X_tr, Y_tr, X_va, Y_va = data
    kwargs = dict(CONFIGS[name])
    key = kwargs.pop("estimator", "pal")
    clf = make_estimator(key, seed, device=device, **kwargs)
    t = time.perf_counter()
    clf.fit(X_tr, Y_tr)
    fit_s = time.perf_counter() - t
    z_tr, h_tr = network_outputs(clf, X_tr)
    z_va, h_va = network_outputs(clf, X_va)
    if save_features is not None:
        # decoders can then be compared offline without refitting the net
        np.savez_compressed(
            save_features,
            **{"z_tr": z_tr, "h_tr": h_tr, "Y_tr": Y_tr},
            **{"z_va": z_va, "h_va": h_va, "Y_va": Y_va},
        )
    out = {}
    for dname, template in DECODERS.items():
        dec = sklearn.base.clone(template).fit(z_tr, h_tr, torch.as_tensor(Y_tr))
        out[f"{name}/{dname}"] = score_predictions(
            Y_va, dec.predict(z_va, h_va).numpy()
        )
    out[f"{name}/onn"]["fit_s"] = fit_s
    return out


def run_peers(data, seed, device):
    X_tr, Y_tr, X_va, Y_va = data
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for key in ("ovr-lr", "cc-lr", "knn", "mlp"):
            t = time.perf_counter()
            # labels constant in training (a logistic regression needs both
            # classes) are predicted as that constant
            est = ConstantLabels(make_estimator(key, seed)).fit(X_tr, Y_tr)
            out[f"peer/{key}"] = score_predictions(Y_va, est.predict(X_va))
            out[f"peer/{key}"]["fit_s"] = time.perf_counter() - t
    bce = make_estimator("bce", seed, device=device).fit(X_tr, Y_tr)
    out["peer/bce"] = score_predictions(Y_va, bce.predict(X_va))
    return out


def main(argv=None):
    parser = study_parser(__doc__, "datasets", "data_dir")
    parser.add_argument(
        "--configs",
        nargs="*",
        default=["base"],
        metavar="CONFIG",
        help="configurations, any of " + " ".join(CONFIGS) + " (default: base)",
    )
    parser.add_argument(
        "--peers", action="store_true", help="also score the peers on the split"
    )
    add_common_arguments(parser, "seed", "device", "threads")
    parser.add_argument(
        "--max-rows",
        type=positive_int,
        default=8000,
        help="subsample larger training parts to this many rows (default: 8000)",
    )
    add_common_arguments(
        parser, "out", out={"required": True, "help": "JSON lines file (appended)"}
    )
    parser.add_argument(
        "--save-features",
        metavar="DIR",
        help="save each fit's logits, features and targets to "
        "DIR/<data>-<config>-<seed>.npz",
    )
    args = parser.parse_args(argv)
    limit_threads(args.threads)
    unknown = set(args.configs) - set(CONFIGS)
    if unknown:
        parser.error(f"unknown configs {sorted(unknown)}; choose from {list(CONFIGS)}")
    for dataset in args.datasets:
        data = load(dataset, args.data_dir, args.max_rows)
        if data is None:
            continue
        jobs = [("peers", None)] if args.peers else []
        jobs += [("config", c) for c in args.configs]
        for kind, config in jobs:
            t = time.perf_counter()
            if kind == "peers":
                result = run_peers(data, args.seed, args.device)
            else:
                save = None
                if args.save_features:
                    Path(args.save_features).mkdir(parents=True, exist_ok=True)
                    name = f"{dataset}-{config}-{args.seed}.npz"
                    save = Path(args.save_features) / name
                result = run_config(config, data, args.seed, args.device, save)
            log(f"{dataset} {config or 'peers'}: {time.perf_counter() - t:.0f} s")
            with open(args.out, "a") as f:
                for method, row in result.items():
                    record = {"dataset": dataset, "method": method, "seed": args.seed}
                    f.write(json.dumps({**record, **row}) + "\n")


if __name__ == "__main__":
    sys.exit(main())
