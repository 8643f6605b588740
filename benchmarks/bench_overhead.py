"""Training overhead: sknc's ``fit`` against a hand-written PyTorch loop.

Both train the *same* network (the ``PALNet`` an sknc estimator builds, copied
before training), on the same data, for the same epochs, batch size,
optimizer (AdamW, sknc's learning rate and weight decay) and loss (PAL cross-
entropy plus feature decay), shuffling every epoch. The hand-written loop is
the usual idiom: a ``DataLoader`` over a ``TensorDataset`` of the whole
training set. A second loop slices a random permutation of the tensors
directly (no ``DataLoader``), the fastest thing one can write by hand.

``fit`` also validates the data and fits the decoder (one eval-mode pass over
the training data and the ONN prototypes); both are part of what a user waits
for and are counted. The ratio reported is the median of ``--repeat`` runs of
each, interleaved so that machine load affects both alike.

Examples
--------
    python -m benchmarks.bench_overhead --threads 1
    python -m benchmarks.bench_overhead --datasets digits scene --epochs 20 --repeat 5
"""

import copy
import sys
import time

import numpy as np
import torch

from sknc import PALCrossEntropyLoss

from . import (
    Run,
    add_common_arguments,
    load_datasets,
    log,
    make_estimator,
    positive_int,
    study_parser,
    synchronize,
    table,
    warm_up,
)

ESTIMATORS = {"PALClassifier": "pal", "FixedETFClassifier": "etf"}


def build(name, args):
    return make_estimator(
        ESTIMATORS[name], 0, device=args.device, max_epochs=args.epochs
    )


def sknc_fit(name, X, Y, args):
    clf = build(name, args)
    synchronize(args.device)
    t = time.perf_counter()
    clf.fit(X, Y)
    synchronize(args.device)
    return time.perf_counter() - t, clf


def reference_net(name, X, Y, args):
    """An untrained copy of the network sknc builds for this data."""
    clf = build(name, args)
    clf.max_epochs = 0
    clf.fit(X[:256], Y[:256])  # builds module_ for (n_features, K)
    return copy.deepcopy(clf.module_), clf


def torch_loop(net, X, Y, args, clf, dataloader=True):
    """The hand-written loop; returns seconds, data transfer included."""
    device = torch.device(args.device)
    torch.manual_seed(0)
    net = net.to(device)
    optimizer = torch.optim.AdamW(
        net.parameters(), lr=clf.lr, weight_decay=clf.weight_decay
    )
    criterion = PALCrossEntropyLoss()
    feature_decay = clf.feature_decay_
    synchronize(args.device)
    t = time.perf_counter()
    X_t = torch.as_tensor(X, dtype=torch.float32)
    Y_t = torch.as_tensor(Y, dtype=torch.float32)
    if dataloader:
        data = torch.utils.data.TensorDataset(X_t, Y_t)
        batches = torch.utils.data.DataLoader(
            data, batch_size=clf.batch_size, shuffle=True
        )
    else:
        X_t, Y_t = X_t.to(device), Y_t.to(device)
    net.train()
    for _ in range(args.epochs):
        if not dataloader:
            order = torch.randperm(len(X_t), device=device)
            batches = (
                (X_t[order[i : i + clf.batch_size]], Y_t[order[i : i + clf.batch_size]])
                for i in range(0, len(X_t), clf.batch_size)
            )
        for xb, yb in batches:
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            optimizer.zero_grad()
            logits, features = net(xb)
            loss = criterion(logits, yb)
            loss = loss + 0.5 * feature_decay * features.pow(2).sum(1).mean()
            loss.backward()
            optimizer.step()
    synchronize(args.device)
    return time.perf_counter() - t


def measure(dataset, data, name, args):
    X, Y = data[0], data[1]
    times = {"sknc fit": [], "loop (DataLoader)": [], "loop (tensor slices)": []}
    for _ in range(args.repeat):
        seconds, clf = sknc_fit(name, X, Y, args)
        times["sknc fit"].append(seconds)
        net, ref = reference_net(name, X, Y, args)
        times["loop (DataLoader)"].append(
            torch_loop(copy.deepcopy(net), X, Y, args, ref)
        )
        times["loop (tensor slices)"].append(
            torch_loop(copy.deepcopy(net), X, Y, args, ref, dataloader=False)
        )
    med = {k: float(np.median(v)) for k, v in times.items()}
    # what fit spends outside the training loop
    t = time.perf_counter()
    clf.fit_decoder(X, Y)
    decoder_s = time.perf_counter() - t
    epoch_s = float(np.median(clf.history[:, "dur"])) * args.epochs
    log(f"{dataset} {name}: {med}")
    return [
        dataset,
        name,
        f"{X.shape[0]} x {X.shape[1]}, K={Y.shape[1]}",
        f"{med['sknc fit']:.2f}",
        f"{med['loop (DataLoader)']:.2f}",
        f"{med['loop (tensor slices)']:.2f}",
        f"**{med['sknc fit'] / med['loop (DataLoader)']:.3f}**",
        f"{med['sknc fit'] / med['loop (tensor slices)']:.3f}",
        f"{epoch_s:.2f}",
        f"{decoder_s:.2f}",
    ]


HEADER = [
    "data",
    "estimator",
    "shape",
    "sknc fit s",
    "loop s (DataLoader)",
    "loop s (slices)",
    "ratio to DataLoader loop",
    "ratio to slices loop",
    "of which epochs s (history)",
    "decoder fit s",
]


def main(argv=None):
    parser = study_parser(
        __doc__,
        "datasets",
        "data_dir",
        datasets={"default": ["digits", "scene", "tmc2007"]},
    )
    parser.add_argument(
        "--epochs", type=positive_int, default=20, help="epochs (default: 20)"
    )
    parser.add_argument(
        "--repeat",
        type=positive_int,
        default=3,
        help="interleaved repeats; times are medians (default: 3)",
    )
    add_common_arguments(parser, "device", "threads", "out")
    args = parser.parse_args(argv)
    run = Run(args)
    datasets, info = load_datasets(args.datasets, args.data_dir)
    warm_up(args.device)
    rows = []
    for dataset, data in datasets.items():
        for name in ESTIMATORS:
            sknc_fit(name, data[0][:200], data[1][:200], args)  # warm-up
            rows.append(measure(dataset, data, name, args))
    settings = [
        f"- device: {args.device}; {args.epochs} epochs, median of {args.repeat}"
    ]
    header = run.header(
        "# Training overhead: sknc fit / hand-written PyTorch loop", settings
    )
    return run.finish(header + "\n\n" + table(HEADER, rows))


if __name__ == "__main__":
    sys.exit(main())
