"""The harness of the benchmark studies: data, arguments, runs and reports.

A study is a module of this package, run from the repository root as
``python -m benchmarks.<study>``. It declares its settings and report
sections; what every study needs lives here:

- the data set registry (:data:`DATASETS`, :func:`load_dataset`,
  :func:`load_datasets`): the built-in multi-label digits and the Mulan sets
  read from ``<data-dir>/<name>.npz``;
- the command line (:func:`study_parser`), whose common arguments
  (``--datasets``, ``--data-dir``, ``--seeds``, ``--seed``, ``--device``,
  ``--threads``, ``--max-epochs``, ``--out``) are declared once, in
  :data:`COMMON_ARGUMENTS`;
- one run of a study (:class:`Run`): thread limits, the machine and checkout
  header of the report, its wall time and where the report goes;
- per-data-set runs in worker processes, saved to and reused from a
  checkpoint folder (:func:`run_datasets`, ``--jobs``, ``--checkpoint``);
- the Markdown of a report (:func:`table`, :func:`cell`, :func:`int_cell`);
- peak memory (:class:`PeakRSS`);
- a fitted net's logits and features (:func:`network_outputs`).

The methods, the metrics and the runner of fits are ``sknc._bench``'s
(re-exported by :mod:`benchmarks`).
"""

import argparse
import datetime
import json
import os
import pickle
import platform
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import sklearn
import skorch
import torch
from joblib import Parallel, delayed
from threadpoolctl import threadpool_limits

import sknc
from sknc._bench import Runner, describe, load_data, preprocess, warm_up
from sknc._device import resolve_device
from sknc.datasets import make_multilabel_digits

__all__ = [
    "COMMON_ARGUMENTS",
    "DATASETS",
    "DEFAULT_DATA_DIR",
    "DIGITS_TEST",
    "DIGITS_TRAIN",
    "REPO_ROOT",
    "SINGLE_RUN",
    "PeakRSS",
    "Run",
    "Split",
    "add_common_arguments",
    "bold_best",
    "cell",
    "device_type",
    "failures_section",
    "git_state",
    "int_cell",
    "json_grid",
    "limit_threads",
    "load_dataset",
    "load_datasets",
    "log",
    "mean_of",
    "network_outputs",
    "positive_int",
    "reused_note",
    "run_datasets",
    "study_parser",
    "synchronize",
    "table",
    "warnings_section",
]

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = (REPO_ROOT / ".." / "shared" / "data").resolve()

# ---------------------------------------------------------------------- data
# The built-in digits and the Mulan sets with their official splits, in the
# order of the reports.
DATASETS = (
    "digits",
    "yeast",
    "scene",
    "emotions",
    "medical",
    "enron",
    "bibtex",
    "tmc2007",
)
# The digits: 1000 single digits + 1000 pairs for training, 500 + 500 with
# another seed for testing.
DIGITS_TRAIN = {"n_samples": (1000, 1000), "random_state": 0}
DIGITS_TEST = {"n_samples": (500, 500), "random_state": 1}


class Split(NamedTuple):
    """A data set's training and test parts (features float32, labels uint8)."""

    X_train: np.ndarray
    Y_train: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray


def log(message):
    """Progress messages go to stderr, so that stdout holds only the report."""
    print(message, file=sys.stderr, flush=True)


def load_dataset(name, data_dir=DEFAULT_DATA_DIR, scaling="standard"):
    """The :class:`Split` of data set ``name``, or None if its file is missing.

    ``scaling``: as :func:`sknc._bench.preprocess`: ``'standard'`` (a
    ``StandardScaler`` fitted on the training part), ``'auto'`` (the same
    unless every training value is 0 or 1: word indicators stay as they are)
    or ``'none'``.
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
        data = load_data(path)
        X_train, Y_train = data["X_train"], data["Y_train"]
        X_test, Y_test = data["X_test"], data["Y_test"]
    X_train, X_test, _ = preprocess(X_train, X_test, scaling)
    return Split(
        np.asarray(X_train, dtype=np.float32),
        np.asarray(Y_train, dtype=np.uint8),
        np.asarray(X_test, dtype=np.float32),
        np.asarray(Y_test, dtype=np.uint8),
    )


def load_datasets(names, data_dir=DEFAULT_DATA_DIR, scaling="standard", notes=None):
    """Load ``names``; returns ``(datasets, info)``, dicts keyed by name.

    ``info`` holds one line per data set for the report, skipped ones
    included; ``notes(name, data)`` may add study-specific facts to it. Exits
    when no data set could be loaded.
    """
    datasets, info = {}, {}
    for name in names:
        data = load_dataset(name, data_dir, scaling)
        if data is None:
            info[name] = f"skipped, not found: {Path(data_dir) / f'{name}.npz'}"
            continue
        info[name] = describe(data._asdict()) + (
            f"; {notes(name, data)}" if notes else ""
        )
        datasets[name] = data
        log(f"[load] {name}: {info[name]}")
    if not datasets:
        log("No dataset could be loaded; nothing to do.")
        raise SystemExit(1)
    return datasets, info


# ----------------------------------------------------------------- arguments
def positive_int(text):
    """An argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1; got {value}")
    return value


def device_type(device):
    """An argparse type: ``sknc._device.resolve_device`` as a usage error."""
    try:
        return resolve_device(device)
    except ValueError as exc:  # "--device cuda: CUDA is not available ..."
        message = str(exc).removeprefix(f"--device {device}: ")
        raise argparse.ArgumentTypeError(f"{device}: {message}") from None


def json_grid(text):
    """An argparse type: a parameter grid as a JSON object of lists."""
    grid = json.loads(text)
    if not isinstance(grid, dict) or not all(
        isinstance(v, list) for v in grid.values()
    ):
        raise argparse.ArgumentTypeError("a grid is a JSON object of lists")
    return grid


# name -> keyword arguments of parser.add_argument("--<name>"); a study may
# override any of them (``study_parser(..., seeds={"default": 3})``).
COMMON_ARGUMENTS = {
    "datasets": {
        "nargs": "+",
        "choices": DATASETS,
        "default": list(DATASETS),
        "metavar": "NAME",
        "help": "data sets, any of " + " ".join(DATASETS) + " (default: %(default)s)",
    },
    "data_dir": {
        "default": str(DEFAULT_DATA_DIR),
        "metavar": "DIR",
        "help": "folder of the <name>.npz files (default: ../shared/data from the "
        "repository root); a missing folder or file is skipped with a message",
    },
    "seeds": {
        "type": positive_int,
        "default": 1,
        "metavar": "N",
        "help": "seeds 0..N-1; cells are mean ± std over seeds when N > 1 "
        "(default: %(default)s)",
    },
    "seed": {
        "type": int,
        "default": 0,
        "help": "random_state of the fits (default: %(default)s)",
    },
    "device": {
        "type": device_type,
        "default": "cpu",
        "help": "device of the torch work: cpu, cuda, cuda:N or auto (cuda if "
        "available, else cpu); default: cpu",
    },
    "amp": {
        "action": "store_true",
        "help": "mixed-precision training of the sknc estimators (float16 on CUDA, "
        "bfloat16 on CPU)",
    },
    "threads": {
        "type": positive_int,
        "default": None,
        "metavar": "N",
        "help": "limit torch and BLAS/OpenMP threads to N (default: the "
        "libraries' own); use 1 on a small or shared machine, with "
        "OMP_NUM_THREADS=1",
    },
    "max_epochs": {
        "type": positive_int,
        "default": None,
        "metavar": "N",
        "help": "max_epochs of the sknc estimators (default: their default)",
    },
    "out": {
        "default": None,
        "metavar": "FILE",
        "help": "file to write the report to (default: stdout)",
    },
    "jobs": {
        "type": positive_int,
        "default": 1,
        "help": "data sets fitted in parallel worker processes (with --threads 1, "
        "one core each); fit times are then taken on a busier machine",
    },
    "checkpoint": {
        "default": None,
        "metavar": "DIR",
        "help": "save each finished data set's results to DIR/<name>.pkl and reuse "
        "the ones found there, so that a stopped run resumes where it was "
        "(delete DIR after changing the code or the settings)",
    },
    "verbose_errors": {
        "action": "store_true",
        "help": "print the traceback of every failure to stderr",
    },
}


# the common arguments of a study that fits once per data set with one seed
SINGLE_RUN = ("datasets", "data_dir", "threads", "seed", "max_epochs", "out")


def study_parser(doc, *common, arguments=None, **overrides):
    """An argument parser for a study, with the named common arguments.

    Parameters
    ----------
    doc : str
        The study's docstring: its first paragraph is the description, the
        rest the epilog of ``--help``.
    *common : str
        Keys of :data:`COMMON_ARGUMENTS` or of ``arguments``, in the order of
        ``--help``.
    arguments : dict, optional
        The study's own arguments, as :data:`COMMON_ARGUMENTS`.
    **overrides : dict
        Per key, keyword arguments replacing the common ones.
    """
    description, _, epilog = doc.strip().partition("\n\n")
    parser = argparse.ArgumentParser(
        prog=study_command(),
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return add_common_arguments(parser, *common, arguments=arguments, **overrides)


def add_common_arguments(parser, *common, arguments=None, **overrides):
    """Add the named arguments (common, or ``arguments``) to ``parser``; returns it."""
    unknown = set(overrides) - set(common)
    if unknown:
        raise ValueError(f"overrides of arguments not added: {sorted(unknown)}")
    known = {**COMMON_ARGUMENTS, **(arguments or {})}
    for name in common:
        kwargs = {**known[name], **overrides.get(name, {})}
        parser.add_argument("--" + name.replace("_", "-"), **kwargs)
    return parser


def study_command():
    """``python -m benchmarks.<study>``, as the study was started."""
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    if spec is not None and spec.name:
        return f"python -m {spec.name}"
    return f"python {sys.argv[0]}"


# ----------------------------------------------------------------------- run
def limit_threads(threads):
    """Limit torch and the BLAS/OpenMP pools to ``threads`` (None: leave)."""
    if threads is not None:
        torch.set_num_threads(threads)
        threadpool_limits(threads)


def synchronize(device):
    """Wait for the device's queued work (CUDA), so that timings are complete."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


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


def load_average():
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


class Run:
    """One run of a study: its settings, clock, machine header and output.

    Created right after the arguments are parsed: it limits the threads
    (``args.threads``, when it is one number), reads the checkout's state and
    the load average, and starts the clock.
    """

    def __init__(self, args):
        self.args = args
        threads = getattr(args, "threads", None)
        if isinstance(threads, int):
            limit_threads(threads)
        self.git = git_state()
        self.load_at_start = load_average()
        self.start = time.perf_counter()

    @property
    def seconds(self):
        """Wall time since the start."""
        return time.perf_counter() - self.start

    def header(self, title, settings=(), datasets=None, argv=None):
        """The report's header: date, command, machine, versions, checkout.

        ``settings``: lines (``"- ..."``) on the study's settings;
        ``datasets``: ``{name: one line}``, listed under the header;
        ``argv``: the arguments the command shows (default: ``sys.argv[1:]``).
        """
        argv = sys.argv[1:] if argv is None else argv
        command = " ".join([study_command(), *map(shlex.quote, argv)])
        end_load = load_average()
        lines = [
            title,
            "",
            "- date: "
            + datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            f"- command: `{command}`",
            f"- machine: {platform.node()}, {platform.system()} {platform.release()}, "
            f"{os.cpu_count()} CPUs ({cpu_name()}), torch threads: "
            f"{torch.get_num_threads()}"
            + (
                f", 1-min load average at start: {self.load_at_start:.2f}"
                if self.load_at_start is not None
                else ""
            ),
            f"- python {platform.python_version()}, numpy {np.__version__}, "
            f"torch {torch.__version__}, scikit-learn {sklearn.__version__}, "
            f"skorch {skorch.__version__}, sknc {sknc.__version__}",
            *settings,
            f"- sknc checkout: {self.git} (read at start; the package is imported "
            "once, so one run uses one version)",
            f"- total wall time: {self.seconds:.0f} s"
            + (f"; 1-min load average at end: {end_load:.2f}" if end_load else ""),
        ]
        if datasets:
            lines += ["", "Datasets:", ""]
            lines += [f"- {name}: {info}" for name, info in datasets.items()]
        return "\n".join(lines)

    def finish(self, report):
        """Write ``report`` to ``--out`` (or stdout); returns the exit status 0."""
        report = report.rstrip() + "\n"
        out = getattr(self.args, "out", None)
        if out:
            out = Path(out)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(report)
            log(f"[done] {self.seconds:.0f} s; report written to {out}")
        else:
            sys.stdout.write(report)
            log(f"[done] {self.seconds:.0f} s")
        return 0


# ------------------------------------------------------ runs per data set
def _checkpoint_path(args, name):
    if getattr(args, "checkpoint", None) is None:
        return None
    return Path(args.checkpoint) / f"{name}.pkl"


def _save_checkpoint(runner, path, git, seconds):
    state = {k: getattr(runner, k) for k in ("results", "failures", "warnings")}
    state.update(notes=runner.notes, git=git, seconds=seconds)
    path.parent.mkdir(parents=True, exist_ok=True)
    # write then rename, so that a run stopped mid-write leaves no broken file
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps(state))
    tmp.replace(path)


def _load_checkpoint(path):
    """The runner saved at ``path``, the checkout and the seconds it took."""
    state = pickle.loads(path.read_bytes())
    runner = Runner()
    for key in ("results", "failures", "warnings", "notes"):
        setattr(runner, key, state[key])
    return runner, state.get("git", "unknown"), state.get("seconds")


def _fit_datasets(fit, args, datasets):
    """Run ``fit`` on each data set, or reuse its checkpoint (a worker's part)."""
    limit_threads(args.threads)
    warm_up(args.device)  # one-off torch set-up outside the timings
    runner, reused = Runner(), {}
    for name, data in datasets.items():
        saved = _checkpoint_path(args, name)
        if saved is not None and saved.exists():
            part, checkout, seconds = _load_checkpoint(saved)
            reused[name] = (checkout, seconds)
            log(f"[dataset] {name}: results reused from {saved}")
        else:
            start = time.perf_counter()
            log(f"[dataset] {name}")
            part = fit(args, name, data)
            seconds = time.perf_counter() - start
            log(f"[dataset] {name} done in {seconds:.0f} s")
            if saved is not None:
                _save_checkpoint(part, saved, args.git, seconds)
        runner.merge(part)
    return runner, reused


def run_datasets(fit, args, datasets):
    """Run ``fit(args, name, data)``, which returns a ``Runner``, per data set.

    With ``args.jobs > 1`` the data sets run in worker processes, largest
    first; with ``args.checkpoint`` each finished data set is saved, with the
    checkout ``args.git``, and reused by the next run. Returns the merged
    runner and ``{name: (checkout, seconds)}`` of the reused data sets.
    """
    if getattr(args, "jobs", 1) > 1:
        # largest first, so that parallel workers finish at about the same time
        order = sorted(datasets, key=lambda n: -datasets[n].X_train.shape[0])
        parts = Parallel(n_jobs=args.jobs, backend="loky")(
            delayed(_fit_datasets)(fit, args, {name: datasets[name]}) for name in order
        )
    else:
        parts = [_fit_datasets(fit, args, datasets)]
    runner, reused = Runner(), {}
    for part, part_reused in parts:
        runner.merge(part)
        reused.update(part_reused)
    return runner, reused


def reused_note(reused):
    """For the report's checkout line: which code computed reused results."""
    if not reused:
        return ""
    by_checkout = {}
    for name, (checkout, _) in reused.items():
        by_checkout.setdefault(checkout, []).append(name)
    note = "; results reused from `--checkpoint`: " + "; ".join(
        f"{', '.join(names)} computed at {checkout}"
        for checkout, names in sorted(by_checkout.items())
    )
    seconds = [s for _, s in reused.values() if s is not None]
    if seconds:
        note += f" (their fits took {sum(seconds):.0f} s in all, summed over data sets)"
    return note


def network_outputs(clf, X, device=None):
    """Logits (float32) and features of a fitted sknc estimator, as tensors."""
    logits = torch.as_tensor(clf.decision_function(X), dtype=torch.float32)
    features = torch.as_tensor(clf.transform(X))
    if device is not None:
        logits, features = logits.to(device), features.to(device)
    return logits, features


# -------------------------------------------------------------------- tables
def table(header, rows):
    """A Markdown table."""
    lines = [
        "| " + " | ".join(str(c) for c in header) + " |",
        "|" + "---|" * len(header),
    ]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def cell(results, key, fmt="{:.3f}"):
    """``key`` over per-seed ``results``: one value, or mean ± std."""
    values = [r[key] for r in results if r.get(key) is not None]
    if not values:
        return "—"
    if len(values) == 1:
        return fmt.format(values[0])
    # no-break spaces: a narrow table column must not wrap "mean ± std"
    return f"{fmt.format(np.mean(values))}\u00a0±\u00a0{fmt.format(np.std(values))}"


def warnings_section(runner):
    """The report section listing the warnings a ``Runner`` recorded."""
    title = "## Warnings raised during fit/predict"
    if not runner.warnings:
        return f"{title}\n\nNone."
    rows = [
        [d, m, c, n, t.replace("|", "\\|")]
        for (d, m, c, t), n in sorted(runner.warnings.items())
    ]
    return f"{title}\n\n" + table(
        ["dataset", "method", "category", "count", "message"], rows
    )


def failures_section(runner, notes=()):
    """The report section listing the failures a ``Runner`` recorded."""
    rows = [[d, m, s, e.replace("|", "\\|")] for d, m, s, e in runner.failures]
    header = ["dataset", "method", "seed", "error"]
    listed = table(header, rows) if rows else "None."
    return "\n\n".join(["## Failures", listed, *notes])


def mean_of(results, key):
    """The mean of ``key`` over per-seed ``results`` (None if there are none)."""
    return float(np.mean([r[key] for r in results])) if results else None


def bold_best(rows, values, higher):
    """Bold the best mean of each metric column after the first column.

    ``values``: per row, the means of the metric columns (None: no value);
    ``higher``: per metric column, whether higher is better.
    """
    for col, hi in enumerate(higher):
        vals = [v[col] for v in values if v[col] is not None]
        if not vals:
            continue
        best = max(vals) if hi else min(vals)
        for row, v in zip(rows, values, strict=True):
            if v[col] is not None and np.isclose(v[col], best):
                row[col + 1] = f"**{row[col + 1]}**"


def int_cell(results, key):
    """The distinct integer values of ``key`` (e.g. parameter counts)."""
    values = sorted({r[key] for r in results if r.get(key) is not None})
    return "/".join(f"{v:,}" for v in values) if values else "—"


# -------------------------------------------------------------------- memory
def memory_status():
    """Resident memory of this process in bytes: VmRSS, RssAnon, VmHWM."""
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "VmHWM"):
                fields[key] = int(value.split()[0]) * 1024
    return fields


class PeakRSS:
    """Peak memory of this process while the block runs (Linux).

    A thread samples ``/proc/self/status`` every ``interval`` seconds (torch's
    CPU allocations are invisible to tracemalloc). Attributes: ``start`` and
    ``peak`` of the resident set (VmRSS), ``start_anon`` and ``peak_anon`` of
    the process's own memory (RssAnon: without the file pages of memmaps),
    and ``hwm`` (VmHWM, the kernel's own peak of the resident set) at exit.
    """

    def __init__(self, interval=0.002):
        self.interval = interval

    def _sample(self):
        status = memory_status()
        self.peak = max(self.peak, status["VmRSS"])
        self.peak_anon = max(self.peak_anon, status.get("RssAnon", 0))
        return status

    def __enter__(self):
        status = memory_status()
        self.start, self.start_anon = status["VmRSS"], status.get("RssAnon", 0)
        self.peak, self.peak_anon = self.start, self.start_anon
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self._sample()
            time.sleep(self.interval)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.hwm = self._sample()["VmHWM"]
