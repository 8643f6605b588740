"""Core benchmark: sknc's two estimators against scikit-learn's MLPClassifier.

Fits, with default parameters (only ``random_state`` set), ``PALClassifier``,
``FixedETFClassifier`` and ``MLPClassifier(max_iter=300)`` on multi-label
benchmarks with their official train/test splits, and writes Markdown tables:

1. accuracy (micro/macro-F1, subset accuracy, Hamming loss), fit and predict
   seconds and trainable parameters of each method;
2. training diagnostics (epochs, final training loss, training-set scores), to
   tell under-fitting from over-fitting;
3. parameter efficiency: ``PALClassifier(feature_dim=512)`` against
   ``FixedETFClassifier()`` (d = K) and ``FixedETFClassifier(feature_dim=K-1)``;
4. with ``--etf-scale-study``: ``FixedETFClassifier(etf_scale='learned')``
   against fixed logit scales.

Datasets: the built-in multi-label digits (``sknc.datasets``) and the Mulan
benchmarks ``yeast``, ``scene``, ``emotions`` read from
``<data-dir>/<name>.npz`` (arrays ``X_train, Y_train, X_test, Y_test``). Every
method sees features standardised by a ``StandardScaler`` fitted on the
training part (the digits' pixels too, for uniformity).

Examples
--------
    python benchmarks/bench_core.py                      # all four, one seed
    python benchmarks/bench_core.py --datasets yeast scene --seeds 3
    python benchmarks/bench_core.py --etf-scale-study --out benchmarks/results/core.md
    python benchmarks/bench_core.py --skip-main --etf-scale-study --max-epochs 20
"""

import argparse
import datetime
import os
import platform
import shlex
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
import skorch
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, f1_score, hamming_loss
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import sknc
from sknc._benchmark import _resolve_device, is_binary  # is_binary: for bench_suite
from sknc.datasets import make_multilabel_digits

ALL_DATASETS = ("digits", "yeast", "scene", "emotions")
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = (REPO_ROOT / ".." / "shared" / "data").resolve()

# The built-in digits: a fixed seed for the training part and another one for
# the test part, 1000 single digits + 1000 pairs / 500 + 500.
DIGITS_TRAIN = {"n_samples": (1000, 1000), "random_state": 0}
DIGITS_TEST = {"n_samples": (500, 500), "random_state": 1}

ETF_SCALES = ("learned", 1.0, 4.0, 16.0)
# Methods that are the same estimator as another one (fitted once).
ALIASES = {"FixedETFClassifier(scale=learned)": "FixedETFClassifier"}


def log(message):
    """Progress messages go to stderr, so that stdout holds only the report."""
    print(message, file=sys.stderr, flush=True)


# -------------------------------------------------------------------- device
def add_device_argument(parser):
    """Add ``--device`` to ``parser``, resolved when the arguments are parsed."""
    parser.add_argument(
        "--device",
        default="cpu",
        type=resolve_device,
        help="device of the torch work: cpu, cuda, cuda:N or auto (cuda if "
        "available, else cpu); default: cpu",
    )


def resolve_device(device):
    """Map ``'auto'`` to cuda or cpu; refuse cuda where CUDA is missing."""
    try:
        return _resolve_device(device)
    except ValueError as exc:  # "--device cuda: CUDA is not available ..."
        # argparse reports this message as a usage error
        message = str(exc).removeprefix(f"--device {device}: ")
        raise argparse.ArgumentTypeError(f"{device}: {message}") from None


# ---------------------------------------------------------------------- data
def load_dataset(name, data_dir, scale=True):
    """Return ``(X_train, Y_train, X_test, Y_test)`` or None if unavailable.

    ``scale``: True standardises the features with a ``StandardScaler`` fitted
    on the training part; ``'auto'`` does so unless every training value is 0
    or 1 (binary word indicators stay as they are).
    """
    if name == "digits":
        X_train, Y_train = make_multilabel_digits(**DIGITS_TRAIN)
        X_test, Y_test = make_multilabel_digits(**DIGITS_TEST)
    else:
        path = Path(data_dir) / f"{name}.npz"
        if not path.is_file():
            if Path(data_dir).is_dir():
                log(f"[skip] {name}: file not found: {path}")
            else:
                log(f"[skip] {name}: data folder not found: {data_dir}")
            return None
        with np.load(path) as data:
            X_train, Y_train = data["X_train"], data["Y_train"]
            X_test, Y_test = data["X_test"], data["Y_test"]
    if scale == "auto":
        scale = not is_binary(X_train)
    if scale:
        scaler = StandardScaler().fit(X_train)
        X_train = scaler.transform(X_train)
        X_test = scaler.transform(X_test)
    X_train = np.asarray(X_train, dtype=np.float32)
    X_test = np.asarray(X_test, dtype=np.float32)
    return X_train, np.asarray(Y_train), X_test, np.asarray(Y_test)


def describe(data):
    X_train, Y_train, X_test, Y_test = data
    return (
        f"{X_train.shape[0]}/{X_test.shape[0]} x {X_train.shape[1]}, "
        f"K={Y_train.shape[1]}, labels/sample {Y_train.sum(1).mean():.2f} (train) "
        f"{Y_test.sum(1).mean():.2f} (test)"
    )


# ------------------------------------------------------------------- methods
def sknc_kwargs(seed, args):
    kwargs = {"random_state": seed, "device": args.device}
    if args.max_epochs is not None:
        kwargs["max_epochs"] = args.max_epochs
    return kwargs


def make_estimator(method, seed, n_labels, args):
    """Build the estimator called ``method`` (see ``METHOD_LABELS``)."""
    if method == "MLPClassifier":
        return MLPClassifier(max_iter=300, random_state=seed)
    kwargs = sknc_kwargs(seed, args)
    if method == "PALClassifier":
        return sknc.PALClassifier(**kwargs)
    if method == "PALClassifier(d=512)":
        return sknc.PALClassifier(feature_dim=512, **kwargs)
    if method == "FixedETFClassifier":
        return sknc.FixedETFClassifier(**kwargs)
    if method == "FixedETFClassifier(d=K-1)":
        return sknc.FixedETFClassifier(feature_dim=n_labels - 1, **kwargs)
    if method.startswith("FixedETFClassifier(scale="):
        scale = method[len("FixedETFClassifier(scale=") : -1]
        if scale == "learned":
            return sknc.FixedETFClassifier(**kwargs)  # the default
        return sknc.FixedETFClassifier(etf_scale=float(scale), **kwargs)
    raise ValueError(f"unknown method {method!r}")


def n_params(est):
    if isinstance(est, MLPClassifier):
        return int(
            sum(c.size for c in est.coefs_) + sum(b.size for b in est.intercepts_)
        )
    return int(est.n_trainable_params_)


def training_info(est):
    """Epochs run, final training loss and, for a learned ETF, the scale."""
    if isinstance(est, MLPClassifier):
        return {"epochs": est.n_iter_, "train_loss": float(est.loss_)}
    info = {
        "epochs": len(est.history_),
        "train_loss": float(est.history_[-1, "train_loss"]),
    }
    head = est.module_.head
    if hasattr(head, "log_scale"):
        info["scale"] = float(head.log_scale.detach().exp())
    return info


def scores(Y_true, Y_pred, prefix=""):
    return {
        prefix + "micro_f1": f1_score(Y_true, Y_pred, average="micro", zero_division=0),
        prefix + "macro_f1": f1_score(Y_true, Y_pred, average="macro", zero_division=0),
        prefix + "subset_acc": accuracy_score(Y_true, Y_pred),
        prefix + "hamming": hamming_loss(Y_true, Y_pred),
    }


class Runner:
    """Fit and score methods, caching each (dataset, method, seed) result."""

    def __init__(self, args):
        self.args = args
        self.cache = {}
        self.warnings = {}

    def run(self, dataset, data, method, seed):
        method = ALIASES.get(method, method)
        key = (dataset, method, seed)
        if key in self.cache:
            return self.cache[key]
        X_train, Y_train, X_test, Y_test = data
        est = make_estimator(method, seed, Y_train.shape[1], self.args)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            start = time.perf_counter()
            est.fit(X_train, Y_train)
            fit_s = time.perf_counter() - start
            start = time.perf_counter()
            Y_pred = est.predict(X_test)
            predict_s = time.perf_counter() - start
            Y_fit = est.predict(X_train)
        for w in caught:
            category = w.category.__name__
            text = str(w.message).splitlines()[0][:160]
            entry = (dataset, method, category, text)
            self.warnings[entry] = self.warnings.get(entry, 0) + 1
        result = {
            **scores(Y_test, Y_pred),
            **scores(Y_train, Y_fit, prefix="train_"),
            "fit_s": fit_s,
            "predict_s": predict_s,
            "params": n_params(est),
            "empty_pred": float((Y_pred.sum(1) == 0).mean()),
            "pred_card": float(Y_pred.sum(1).mean()),
            "true_card": float(Y_test.sum(1).mean()),
            **training_info(est),
        }
        if isinstance(est, MLPClassifier):
            result["converged"] = not any(
                issubclass(w.category, ConvergenceWarning) for w in caught
            )
        log(
            f"  {dataset:9s} {method:34s} seed={seed} fit {fit_s:6.1f}s  "
            f"micro-F1 {result['micro_f1']:.3f}  subset {result['subset_acc']:.3f}  "
            f"train loss {result['train_loss']:.4f}"
        )
        self.cache[key] = result
        return result

    def run_seeds(self, dataset, data, method):
        return [
            self.run(dataset, data, method, seed) for seed in range(self.args.seeds)
        ]


def warm_up(args):
    rng = np.random.RandomState(0)
    X = rng.randn(256, 20).astype(np.float32)
    Y = (rng.rand(256, 4) < 0.4).astype(np.uint8)
    Y[Y.sum(1) == 0, 0] = 1
    for cls in (sknc.PALClassifier, sknc.FixedETFClassifier):
        cls(max_epochs=2, random_state=0, device=args.device).fit(X, Y).predict(X)


# ----------------------------------------------------------------- formatting
def cell(results, key, fmt="{:.3f}"):
    values = [r[key] for r in results if key in r]
    if not values:
        return "—"
    if len(values) == 1:
        return fmt.format(values[0])
    # no-break spaces: a narrow table column must not wrap "mean ± std"
    return f"{fmt.format(np.mean(values))}\u00a0±\u00a0{fmt.format(np.std(values))}"


def int_cell(results, key):
    values = {r[key] for r in results}
    if len(values) == 1:
        return f"{values.pop():,}"
    return "/".join(f"{v:,}" for v in sorted(values))


def table(header, rows):
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def git_state():
    """The commit of the checkout and whether sknc/ differs from it."""

    def git(*cmd):
        return subprocess.run(
            ["git", *cmd], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--", "sknc")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return commit + (
        " with uncommitted changes in sknc/" if dirty else " (clean sknc/)"
    )


def machine_header(
    args, datasets_info, total_s, title="# sknc core benchmark", settings=None
):
    """The report's header; ``settings`` replaces the run-settings lines."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    command = " ".join(
        ["python"] + [shlex.quote(a) for a in [sys.argv[0]] + sys.argv[1:]]
    )
    if settings is None:
        settings = [
            f"- device: {args.device}; seeds: {args.seeds} (0..{args.seeds - 1}; "
            "cells are mean ± std over seeds when more than one); sknc max_epochs: "
            + (
                str(args.max_epochs)
                if args.max_epochs is not None
                else f"default ({sknc.PALClassifier().max_epochs})"
            )
            + "; MLPClassifier(max_iter=300)",
            "- preprocessing: StandardScaler fitted on the training part; "
            "official train/test splits; digits: make_multilabel_digits"
            f"({DIGITS_TRAIN}) for train, ({DIGITS_TEST}) for test",
        ]
    lines = [
        title,
        "",
        f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- command: `{command}`",
        f"- machine: {platform.node()}, {platform.system()} {platform.release()}, "
        f"{os.cpu_count()} CPUs ({cpu}), torch threads: {torch.get_num_threads()}"
        + (
            f", 1-min load average at start: {args.load_at_start:.2f}"
            if args.load_at_start is not None
            else ""
        ),
        f"- python {platform.python_version()}, numpy {np.__version__}, "
        f"torch {torch.__version__}, scikit-learn {sklearn.__version__}, "
        f"skorch {skorch.__version__}, sknc {sknc.__version__}",
        *settings,
        f"- sknc checkout: {args.git} (read at start; the package is imported "
        "once, so one run uses one version)",
        f"- total wall time: {total_s:.0f} s"
        + (
            f"; 1-min load average at end: {os.getloadavg()[0]:.2f}"
            if hasattr(os, "getloadavg")
            else ""
        ),
        "",
        "Datasets:",
        "",
    ]
    lines += [f"- {name}: {info}" for name, info in datasets_info.items()]
    return "\n".join(lines)


# ---------------------------------------------------------------- the report
MAIN_METHODS = ("PALClassifier", "FixedETFClassifier", "MLPClassifier")
EFFICIENCY_METHODS = (
    "PALClassifier",
    "PALClassifier(d=512)",
    "FixedETFClassifier",
    "FixedETFClassifier(d=K-1)",
)


def main_tables(runner, datasets):
    acc_rows, diag_rows = [], []
    for name, data in datasets.items():
        for method in MAIN_METHODS:
            res = runner.run_seeds(name, data, method)
            acc_rows.append(
                [
                    name,
                    method,
                    cell(res, "micro_f1"),
                    cell(res, "macro_f1"),
                    cell(res, "subset_acc"),
                    cell(res, "hamming", "{:.4f}"),
                    cell(res, "fit_s", "{:.1f}"),
                    cell(res, "predict_s", "{:.3f}"),
                    int_cell(res, "params"),
                ]
            )
            diag_rows.append(
                [
                    name,
                    method,
                    cell(res, "epochs", "{:.0f}"),
                    cell(res, "train_loss", "{:.4f}"),
                    cell(res, "train_micro_f1"),
                    cell(res, "train_subset_acc"),
                    cell(res, "micro_f1"),
                    cell(res, "subset_acc"),
                    cell(res, "pred_card", "{:.2f}") + f" ({res[0]['true_card']:.2f})",
                    cell(res, "empty_pred", "{:.3f}"),
                ]
            )
    acc = table(
        [
            "dataset",
            "method",
            "micro-F1",
            "macro-F1",
            "subset acc",
            "Hamming loss",
            "fit s",
            "predict s",
            "trainable params",
        ],
        acc_rows,
    )
    diag = table(
        [
            "dataset",
            "method",
            "epochs",
            "final train loss",
            "train micro-F1",
            "train subset acc",
            "test micro-F1",
            "test subset acc",
            "test labels/row predicted (true)",
            "test rows predicted empty",
        ],
        diag_rows,
    )
    return "\n\n".join(
        [
            "## 1. Default estimators",
            "Default parameters, only `random_state` (and `device`) set. "
            "Predict seconds: the whole test set.",
            acc,
            "## 2. Training diagnostics",
            "Final train loss: PAL cross-entropy plus feature decay for sknc "
            "(skorch's `history[-1, 'train_loss']`), binary cross-entropy plus "
            "L2 penalty for MLPClassifier (`loss_`): not comparable across "
            "families. MLPClassifier's epochs are `n_iter_` (300 = stopped by "
            "`max_iter`, not converged).",
            diag,
        ]
    )


def efficiency_table(runner, datasets):
    rows = []
    for name, data in datasets.items():
        K = data[1].shape[1]
        results = {m: runner.run_seeds(name, data, m) for m in EFFICIENCY_METHODS}
        ref = np.mean([r["params"] for r in results["PALClassifier(d=512)"]])
        ref_acc = results["PALClassifier(d=512)"]
        for method, res in results.items():
            label = method.replace("(d=K-1)", f"(d=K-1={K - 1})")
            if method == "FixedETFClassifier":
                label = f"FixedETFClassifier (d=K={K})"
            elif method == "PALClassifier":
                label = "PALClassifier (default d=256)"
            params = np.mean([r["params"] for r in res])
            d_micro = np.mean([r["micro_f1"] for r in res]) - np.mean(
                [r["micro_f1"] for r in ref_acc]
            )
            d_subset = np.mean([r["subset_acc"] for r in res]) - np.mean(
                [r["subset_acc"] for r in ref_acc]
            )
            rows.append(
                [
                    name,
                    label,
                    int_cell(res, "params"),
                    f"{100 * (1 - params / ref):+.1f}%"
                    if method != "PALClassifier(d=512)"
                    else "ref",
                    cell(res, "micro_f1"),
                    cell(res, "subset_acc"),
                    f"{100 * d_micro:+.1f}"
                    if method != "PALClassifier(d=512)"
                    else "ref",
                    f"{100 * d_subset:+.1f}"
                    if method != "PALClassifier(d=512)"
                    else "ref",
                ]
            )
    return "\n\n".join(
        [
            "## 3. Parameter efficiency",
            "Reference: `PALClassifier(feature_dim=512)` (hidden 512, learned "
            "head). Saved: fraction of the reference's trainable parameters "
            "saved. Δ: difference to the reference in points (x100).",
            table(
                [
                    "dataset",
                    "model",
                    "trainable params",
                    "saved",
                    "micro-F1",
                    "subset acc",
                    "Δ micro-F1",
                    "Δ subset acc",
                ],
                rows,
            ),
        ]
    )


def etf_scale_table(runner, datasets):
    rows = []
    for name, data in datasets.items():
        for scale in ETF_SCALES:
            method = f"FixedETFClassifier(scale={scale})"
            res = runner.run_seeds(name, data, method)
            rows.append(
                [
                    name,
                    "learned" if scale == "learned" else f"{scale:g}",
                    cell(res, "scale", "{:.2f}"),
                    cell(res, "micro_f1"),
                    cell(res, "macro_f1"),
                    cell(res, "subset_acc"),
                    cell(res, "train_loss", "{:.4f}"),
                    cell(res, "train_subset_acc"),
                ]
            )
    return "\n\n".join(
        [
            "## 4. ETF logit scale: learned or fixed",
            "`FixedETFClassifier(etf_scale=...)`, other parameters at their "
            "defaults. Final scale: the value of `s` at the end of training "
            "(the learned one starts at 1). Final train loss: "
            "`history[-1, 'train_loss']` (PAL + feature decay).",
            table(
                [
                    "dataset",
                    "etf_scale",
                    "final scale",
                    "micro-F1",
                    "macro-F1",
                    "subset acc",
                    "final train loss",
                    "train subset acc",
                ],
                rows,
            ),
        ]
    )


def warnings_section(runner):
    if not runner.warnings:
        return "## Warnings\n\nNone."
    rows = [
        [d, m, c, n, t.replace("|", "\\|")]
        for (d, m, c, t), n in sorted(runner.warnings.items())
    ]
    return "## Warnings raised during fit/predict\n\n" + table(
        ["dataset", "method", "category", "count", "message"], rows
    )


# ----------------------------------------------------------------------- CLI
def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=ALL_DATASETS,
        default=list(ALL_DATASETS),
        help="datasets to run (default: all four)",
    )
    parser.add_argument(
        "--data-dir",
        default=str(DEFAULT_DATA_DIR),
        help="folder of the <name>.npz files (default: %(default)s); a missing "
        "folder or file is skipped with a message",
    )
    parser.add_argument(
        "--seeds", type=int, default=1, help="number of seeds 0..n-1 (default: 1)"
    )
    parser.add_argument("--device", default="cpu", help="sknc device (default: cpu)")
    parser.add_argument(
        "--max-epochs",
        type=int,
        default=None,
        help="max_epochs of the sknc estimators (default: their default); "
        "MLPClassifier always uses max_iter=300",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="limit torch and BLAS/OpenMP threads to this many (default: "
        "leave the libraries' defaults); 1 gives steadier timings on a "
        "loaded machine",
    )
    parser.add_argument(
        "--out", default=None, help="Markdown file to write (default: stdout)"
    )
    parser.add_argument(
        "--etf-scale-study",
        action="store_true",
        help="also compare etf_scale='learned' with fixed scales "
        + ", ".join(str(s) for s in ETF_SCALES[1:]),
    )
    parser.add_argument(
        "--skip-main",
        action="store_true",
        help="skip the default-estimator and parameter-efficiency tables "
        "(use with --etf-scale-study)",
    )
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    if args.skip_main and not args.etf_scale_study:
        parser.error("--skip-main leaves nothing to run without --etf-scale-study")
    return args


def main(argv=None):
    args = parse_args(argv)
    args.load_at_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    args.git = git_state()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)
    start = time.perf_counter()
    datasets, info = {}, {}
    for name in args.datasets:
        data = load_dataset(name, args.data_dir)
        if data is not None:
            datasets[name] = data
            info[name] = describe(data)
            log(f"[load] {name}: {info[name]}")
    if not datasets:
        log("No dataset could be loaded; nothing to do.")
        return 1

    # The first fit in a process pays one-off costs (torch's lazy kernel and
    # thread-pool set-up, several seconds on a small machine): pay them here,
    # outside the timings.
    warm_up(args)
    runner = Runner(args)
    sections = []
    if not args.skip_main:
        sections.append(main_tables(runner, datasets))
        sections.append(efficiency_table(runner, datasets))
    if args.etf_scale_study:
        sections.append(etf_scale_table(runner, datasets))
    sections.append(warnings_section(runner))
    total_s = time.perf_counter() - start
    report = (
        "\n\n".join([machine_header(args, info, total_s)] + sections).rstrip() + "\n"
    )
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report)
        log(f"[done] {total_s:.0f} s; report written to {out}")
    else:
        sys.stdout.write(report)
        log(f"[done] {total_s:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
