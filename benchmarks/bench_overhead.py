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
    python benchmarks/bench_overhead.py --threads 1
    python benchmarks/bench_overhead.py --datasets digits scene --epochs 20 --repeat 5
"""

import argparse
import copy
import datetime
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import sklearn
import skorch
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import DEFAULT_DATA_DIR, git_state, load_dataset, log, table  # noqa: E402

import sknc  # noqa: E402
from sknc import PALCrossEntropyLoss  # noqa: E402


def make_estimator(cls, args, seed=0):
    return cls(max_epochs=args.epochs, random_state=seed, device=args.device)


def sknc_fit(cls, X, Y, args):
    clf = make_estimator(cls, args)
    sync(args.device)
    t = time.perf_counter()
    clf.fit(X, Y)
    sync(args.device)
    return time.perf_counter() - t, clf


def sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def reference_net(cls, X, Y, args):
    """An untrained copy of the network sknc builds for this data."""
    clf = make_estimator(cls, args)
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
    feature_decay = clf.feature_decay
    sync(args.device)
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
    sync(args.device)
    return time.perf_counter() - t


def measure(name, data, cls, args):
    X, Y = data[0], data[1]
    times = {"sknc fit": [], "loop (DataLoader)": [], "loop (tensor slices)": []}
    for _ in range(args.repeat):
        seconds, clf = sknc_fit(cls, X, Y, args)
        times["sknc fit"].append(seconds)
        net, ref = reference_net(cls, X, Y, args)
        times["loop (DataLoader)"].append(
            torch_loop(copy.deepcopy(net), X, Y, args, ref)
        )
        times["loop (tensor slices)"].append(
            torch_loop(copy.deepcopy(net), X, Y, args, ref, dataloader=False)
        )
    med = {k: float(np.median(v)) for k, v in times.items()}
    # what fit spends outside the training loop
    t = time.perf_counter()
    clf._fit_decoder(clf._validate_X(X, reset=False), Y)
    decoder_s = time.perf_counter() - t
    epoch_s = float(np.median(clf.history[:, "dur"])) * args.epochs
    log(f"{name} {cls.__name__}: {med}")
    return [
        name,
        cls.__name__,
        f"{X.shape[0]} x {X.shape[1]}, K={Y.shape[1]}",
        f"{med['sknc fit']:.2f}",
        f"{med['loop (DataLoader)']:.2f}",
        f"{med['loop (tensor slices)']:.2f}",
        f"**{med['sknc fit'] / med['loop (DataLoader)']:.3f}**",
        f"{med['sknc fit'] / med['loop (tensor slices)']:.3f}",
        f"{epoch_s:.2f}",
        f"{decoder_s:.2f}",
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["digits", "scene", "tmc2007"])
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default=None, help="Markdown file (default: stdout)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    rows = []
    for name in args.datasets:
        data = load_dataset(name, args.data_dir)
        if data is None:
            continue
        for cls in (sknc.PALClassifier, sknc.FixedETFClassifier):
            sknc_fit(cls, data[0][:200], data[1][:200], args)  # warm-up
            rows.append(measure(name, data, cls, args))
    header = [
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
    report = "\n".join(
        [
            "# Training overhead: sknc fit / hand-written PyTorch loop",
            "",
            f"- date: {datetime.date.today()}",
            f"- command: `python {shlex.join(sys.argv)}`",
            f"- machine: {platform.processor() or platform.machine()}, "
            f"torch threads {torch.get_num_threads()}, device {args.device}",
            f"- sknc {git_state()}; torch {torch.__version__}, skorch "
            f"{skorch.__version__}, scikit-learn {sklearn.__version__}",
            f"- {args.epochs} epochs, median of {args.repeat}; total "
            f"{time.perf_counter() - start:.0f} s",
            "",
            table(header, rows),
        ]
    )
    if args.out:
        Path(args.out).write_text(report + "\n")
    else:
        print(report)


if __name__ == "__main__":
    main()
