"""Choose sknc's defaults without looking at a test split.

Every data set's *training* part is split once more (iterative stratification,
75 % / 25 %, seed 0): candidate configurations of ``PALClassifier`` are fitted
on the 75 % and scored on the 25 %, next to the peers of the benchmark suite
(binary relevance and classifier chains of logistic regression, k-NN,
``MLPClassifier``, a BCE net with the same backbone). The official test parts
are never read. Each fitted net is decoded by several decoders on the same
outputs, so one fit scores them all.

Features: ``StandardScaler`` unless every value is 0 or 1 (word indicators
stay as they are), as in ``bench_suite.py``. tmc2007's training part is
subsampled to ``--max-rows`` rows to keep a configuration under a minute.

Examples
--------
    python benchmarks/study_defaults.py --threads 1 --configs base dropout0.2
    python benchmarks/study_defaults.py --threads 1 --peers --datasets scene
"""

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import f1_score
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import DEFAULT_DATA_DIR, log  # noqa: E402
from bench_decoders import DATASETS, bce_net  # noqa: E402

import sknc  # noqa: E402
from sknc import KNNDecoder, ONNDecoder, ThresholdDecoder, TopKDecoder  # noqa: E402
from sknc._benchmark import ConstantLabels  # noqa: E402
from sknc.datasets import make_multilabel_digits  # noqa: E402
from sknc.model_selection import MultilabelStratifiedShuffleSplit  # noqa: E402

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
    if name == "digits":
        X, Y = make_multilabel_digits(n_samples=(1000, 1000), random_state=0)
    else:
        path = Path(data_dir) / f"{name}.npz"
        if not path.is_file():
            log(f"[skip] {name}: not found: {path}")
            return None
        with np.load(path) as data:
            X, Y = data["X_train"], data["Y_train"]
    X, Y = np.asarray(X, dtype=np.float32), np.asarray(Y).astype(np.uint8)
    if len(X) > max_rows:
        keep = np.random.RandomState(0).choice(len(X), max_rows, replace=False)
        X, Y = X[np.sort(keep)], Y[np.sort(keep)]
    split = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=0.25, random_state=0)
    tr, va = next(split.split(X, Y))
    X_tr, X_va = X[tr], X[va]
    binary = bool(np.isin(X_tr, (0, 1)).all())
    if not binary:
        scaler = StandardScaler().fit(X_tr)
        X_tr = scaler.transform(X_tr).astype(np.float32)
        X_va = scaler.transform(X_va).astype(np.float32)
    return X_tr, Y[tr], X_va, Y[va], binary


def scores(Y, pred):
    pred = np.asarray(pred).astype(np.uint8)
    return {
        "micro": f1_score(Y, pred, average="micro", zero_division=0),
        "macro": f1_score(Y, pred, average="macro", zero_division=0),
        "subset": float((pred == Y).all(1).mean()),
    }


def run_config(name, data, seed, device, save_features=None):
    X_tr, Y_tr, X_va, Y_va, _ = data
    kwargs = dict(CONFIGS[name])
    cls = sknc.PALClassifier
    if kwargs.pop("estimator", None) == "etf":
        cls = sknc.FixedETFClassifier
    clf = cls(random_state=seed, device=device, **kwargs)
    t = time.perf_counter()
    clf.fit(X_tr, Y_tr)
    fit_s = time.perf_counter() - t
    z_tr = torch.as_tensor(clf.decision_function(X_tr), dtype=torch.float32)
    h_tr = torch.as_tensor(clf.transform(X_tr))
    z_va = torch.as_tensor(clf.decision_function(X_va), dtype=torch.float32)
    h_va = torch.as_tensor(clf.transform(X_va))
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
        out[f"{name}/{dname}"] = scores(Y_va, dec.predict(z_va, h_va).numpy())
    out[f"{name}/onn"]["fit_s"] = fit_s
    return out


def run_peers(data, seed, device):
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.multioutput import ClassifierChain
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier

    X_tr, Y_tr, X_va, Y_va, _ = data
    out = {}
    peers = {
        "peer/ovr-lr": OneVsRestClassifier(LogisticRegression(max_iter=1000)),
        "peer/cc-lr": ClassifierChain(
            LogisticRegression(max_iter=1000), random_state=seed
        ),
        "peer/knn": KNeighborsClassifier(),
        "peer/mlp": MLPClassifier(max_iter=300, random_state=seed),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name, est in peers.items():
            t = time.perf_counter()
            # labels constant in training (a logistic regression needs both
            # classes) are predicted as that constant
            est = ConstantLabels(est).fit(X_tr, Y_tr)
            out[name] = scores(Y_va, est.predict(X_va))
            out[name]["fit_s"] = time.perf_counter() - t
    net = bce_net(seed, X_tr.shape[1], Y_tr.shape[1], device)
    net.fit(X_tr, Y_tr.astype(np.float32))
    logits = net.predict_proba(X_va)
    out["peer/bce"] = scores(Y_va, logits >= 0)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    parser.add_argument("--configs", nargs="*", default=["base"])
    parser.add_argument("--peers", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--max-rows", type=int, default=8000)
    parser.add_argument("--out", required=True, help="JSON lines file (appended)")
    parser.add_argument(
        "--save-features",
        metavar="DIR",
        help="save each fit's logits, features and targets to "
        "DIR/<data>-<config>-<seed>.npz",
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
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
    main()
