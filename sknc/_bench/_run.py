"""The one runner of the benchmarks: fit, time and score methods, then report."""

import re
import time
import traceback
import warnings
from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import f1_score
from threadpoolctl import threadpool_limits

from .._classifier import FixedETFClassifier, PALClassifier
from ._bce import BCENetClassifier
from ._data import DATA_KEYS, describe, preprocess
from ._estimators import (
    DEFAULT_METHODS,
    METHODS,
    MLP_MAX_ITER,
    PEER_EPOCH_METHODS,
    TORCH_METHODS,
    make_estimator,
)
from ._report import leaders
from ._scoring import (
    METRICS,
    label_probabilities,
    label_scores,
    n_trainable_params,
    score_predictions,
)

__all__ = ["Runner", "benchmark", "run_benchmark", "warm_up", "warning_text"]


def warm_up(device="cpu"):
    """Make two tiny fits, so that torch's one-off set-up is not in the timings.

    The first fit of a process pays it: several seconds on a small machine.
    """
    rng = np.random.RandomState(0)
    X = rng.randn(256, 20).astype(np.float32)
    Y = (rng.rand(256, 4) < 0.4).astype(np.uint8)
    Y[Y.sum(1) == 0, 0] = 1
    for cls in (PALClassifier, FixedETFClassifier):
        cls(max_epochs=2, random_state=0, device=device).fit(X, Y).predict(X)


def error_text(exc):
    """Return an exception's type and first line (and last, where the cause is)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    error = f"{type(exc).__name__}: {' '.join(lines[:1])}"
    if len(lines) > 2:  # e.g. GridSearchCV's: the cause is on the last line
        error += f" ... {lines[-1]}"
    return error[:300]


def warning_text(message):
    """Return a warning's first lines, label lists elided so that they group."""
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    text = " ".join(lines[:2])
    text = re.sub(r"\[[^\]]*\](\.\.\.)?", "[...]", text)
    text = re.sub(r"Label not \d+ is", "Label not <k> is", text)
    text = re.sub(r"^\d+ label\(s\) never", "<n> label(s) never", text)
    return text[:200]


def _group_warnings(caught):
    """``(category, first message, count, whether they differ)`` per kind.

    Messages that differ only in numbers count together.
    """
    counts = {}
    for w in caught:
        text = " ".join(str(w.message).split())[:200]
        entry = (w.category.__name__, re.sub(r"\d+", "#", text))
        first, count, differs = counts.get(entry, (text, 0, False))
        counts[entry] = (first, count + 1, differs or text != first)
    return [
        (category, text, count, differs)
        for (category, _), (text, count, differs) in counts.items()
    ]


class Runner:
    """Fit, time and score methods on data sets over seeds.

    The one runner of ``python -m sknc benchmark`` and of the repository's
    benchmark studies.

    Parameters
    ----------
    build : callable, optional
        ``build(method, seed, data, params)``: the unfitted estimator
        (``params``: extra estimator parameters, or None). A subclass may
        override the method instead.
    measure : callable, optional
        ``measure(estimator, data, Y_pred)``: more entries for a fit's result,
        computed while its warnings are recorded.
    label : callable, default=str
        The name of a method in the log, the warnings and the failures.
    catch_errors : bool, default=False
        Record a failed fit in :attr:`failures` and go on, instead of raising.
    verbose_errors : bool, default=False
        With ``catch_errors``: print each failure's traceback to stderr.
    log : callable, default=None
        Receives a line per fit and per failure; None: silent.

    Attributes
    ----------
    results : dict
        ``(dataset, method) -> list`` of one dict per seed: the scores of
        :func:`score_predictions` on the test part (with the ranking metrics,
        and the log loss NaN for a method without probabilities), ``fit_s``,
        ``predict_s``, ``params`` (trainable parameters, None for k-NN),
        ``not_scored`` (metric key -> why it is NaN) and what ``measure``
        adds.
    warnings : dict
        ``(dataset, label, category, message) -> count``.
    failures : list
        ``(dataset, label, seed, error)``.
    notes : dict
        What a study keeps besides the results (e.g. the summaries of its
        grid searches); merged and checkpointed with them.
    caught : list
        The warnings of the last fit, as ``warnings.catch_warnings`` records
        them.
    """

    def __init__(
        self,
        build=None,
        measure=None,
        label=str,
        catch_errors=False,
        verbose_errors=False,
        log=None,
    ):
        if build is not None:
            self.build = build
        if measure is not None:
            self.measure = measure
        self.label = label
        self.catch_errors = catch_errors
        self.verbose_errors = verbose_errors
        self.log = log or (lambda message: None)
        self.results = {}
        self.warnings = {}
        self.failures = []
        self.notes = {}
        self.caught = []

    def build(self, method, seed, data, params):
        """Return the unfitted estimator; pass ``build=`` or override this."""
        raise NotImplementedError("pass build= to Runner or override Runner.build")

    def measure(self, est, data, Y_pred):
        """Return more entries for a fit's result; none unless overridden."""
        return {}

    def merge(self, other):
        """Add the results of another runner (e.g. of a worker process)."""
        self.results.update(other.results)
        self.failures += other.failures
        self.notes.update(other.notes)
        for entry, count in other.warnings.items():
            self.warnings[entry] = self.warnings.get(entry, 0) + count

    def record_warnings(self, dataset, method, caught):
        """Count ``caught`` warnings under ``dataset`` and the method's label."""
        for w in caught:
            entry = (
                dataset,
                self.label(method),
                w.category.__name__,
                warning_text(w.message),
            )
            self.warnings[entry] = self.warnings.get(entry, 0) + 1

    def fail(self, dataset, method, seed, exc):
        """Record a failure (with ``catch_errors``)."""
        error = error_text(exc)
        label = self.label(method)
        self.failures.append((dataset, label, seed, error))
        self.log(f"  [error] {dataset} {label} seed={seed}: {error[:200]}")
        if self.verbose_errors:
            traceback.print_exception(exc)

    def fit_one(self, dataset, data, method, seed, params=None):
        """Fit ``method`` with ``seed`` on ``data``; its result, or None.

        ``data``: ``(X_train, Y_train, X_test, Y_test)``, or a dict with
        these keys.
        """
        if isinstance(data, dict):
            X_train, Y_train, X_test, Y_test = (data[key] for key in DATA_KEYS)
        else:
            X_train, Y_train, X_test, Y_test = data
        self.caught = []
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                self.caught = caught
                est = self.build(method, seed, data, params)
                start = time.perf_counter()
                est.fit(X_train, Y_train)
                fit_s = time.perf_counter() - start
                start = time.perf_counter()
                Y_pred = est.predict(X_test)
                predict_s = time.perf_counter() - start
                if sp.issparse(Y_pred):
                    Y_pred = Y_pred.toarray()
                Y_proba, no_proba = label_probabilities(est, X_test)
                scores = score_predictions(
                    Y_test, Y_pred, label_scores(est, X_test), Y_proba
                )
                result = {
                    **scores,
                    "fit_s": fit_s,
                    "predict_s": predict_s,
                    "params": n_trainable_params(est),
                    "not_scored": {} if no_proba is None else {"log_loss": no_proba},
                }
                result.update(self.measure(est, data, Y_pred))
            self.record_warnings(dataset, method, caught)
        except Exception as exc:
            if not self.catch_errors:
                raise
            # one failure must not end a long run
            self.fail(dataset, method, seed, exc)
            return None
        self.log(
            f"  {dataset:9s} {self.label(method):42s} seed={seed} fit {fit_s:7.1f}s  "
            f"micro-F1 {result['micro_f1']:.3f}  subset {result['subset_acc']:.3f}"
        )
        return result

    def run(self, dataset, data, method, seeds):
        """Per-seed results of ``method`` on ``dataset`` (each fit once)."""
        key = (dataset, method)
        if key not in self.results:
            res = [self.fit_one(dataset, data, method, seed) for seed in seeds]
            self.results[key] = [r for r in res if r is not None]
        return self.results[key]


def _label_f1(data):
    """``measure`` of the command line: each label's F1, by label name."""

    def measure(est, _, Y_pred):
        per_label = f1_score(
            np.asarray(data["Y_test"]), Y_pred, average=None, zero_division=0
        )
        names = data.get("label_names") or [str(k) for k in range(len(per_label))]
        return {"label_f1": dict(zip(names, per_label.round(4).tolist(), strict=True))}

    return measure


def run_benchmark(
    data,
    methods=DEFAULT_METHODS,
    *,
    max_epochs=None,
    peer_epochs=None,
    random_state=0,
    device="cpu",
    log=None,
):
    """Fit every method on the training part and score it on the test part.

    Parameters
    ----------
    data : dict
        ``X_train, Y_train, X_test, Y_test``, preprocessed, and optionally
        ``label_names``.
    methods : sequence of str, default=DEFAULT_METHODS
        Keys of :data:`METHODS`.
    max_epochs, peer_epochs, random_state, device
        Passed to :func:`make_estimator`.
    log : callable, default=None
        Called with one progress line per method; None: silent.

    Returns
    -------
    results : list of dict
        One per method that ran: ``method`` (key), ``name``, the metrics of
        :data:`METRICS` (None where a method cannot be scored on one, e.g.
        the log loss of a method without probabilities), ``not_scored``
        (metric key -> why), ``fit_s``, ``predict_s``, ``params``,
        ``label_f1`` (each label's F1, by label name) and ``converged``
        (False when fitting raised a
        :class:`~sklearn.exceptions.ConvergenceWarning`: the method stopped
        at its iteration limit).
    failures : list of dict
        ``method``, ``name`` and ``error`` for each method that raised.
    warnings : list of dict
        ``method``, ``category``, ``message`` and ``count`` of the warnings
        raised while fitting and predicting.
    """
    log = log or (lambda message: None)
    if any(key in TORCH_METHODS for key in methods):
        warm_up(device)
    epochs = {"max_epochs": max_epochs, "peer_epochs": peer_epochs}
    runner = Runner(
        lambda key, seed, _, __: make_estimator(
            key, **epochs, random_state=seed, device=device
        ),
        measure=_label_f1(data),
        catch_errors=True,
    )
    results, failures, caught_warnings = [], [], []
    for i, key in enumerate(methods, start=1):
        name = METHODS[key]
        prefix = f"[{i}/{len(methods)}] {name}"
        log(f"{prefix}: fitting ...")
        result = runner.fit_one("data", data, key, random_state)
        if result is None:  # one failure must not end the run
            error = runner.failures[-1][-1]
            failures.append({"method": key, "name": name, "error": error})
            log(f"{prefix}: FAILED, {error}")
            continue
        row = {
            "method": key,
            "name": name,
            **{
                metric.key: None
                if metric.key in result["not_scored"]
                else result[metric.key]
                for metric in METRICS
            },
            "not_scored": result["not_scored"],
            **{k: result[k] for k in ("fit_s", "predict_s", "params", "label_f1")},
            "converged": not any(
                issubclass(w.category, ConvergenceWarning) for w in runner.caught
            ),
        }
        for category, text, count, differs in _group_warnings(runner.caught):
            caught_warnings.append(
                {"method": key, "category": category, "message": text, "count": count}
            )
            similar = " (and similar)" if differs else ""
            log(f"{prefix}: {count} x {category}: {text}{similar}")
        results.append(row)
        log(
            f"{prefix}: fit {row['fit_s']:.2f} s, predict {row['predict_s']:.2f} s, "
            f"micro-F1 {row['micro_f1']:.3f}, subset acc {row['subset_acc']:.3f}"
        )
    return results, failures, caught_warnings


@contextmanager
def fixed_threads(threads):
    """Run with ``threads`` torch and BLAS threads (None: as they are); restore them.

    Fit times people can trust: on a small or busy machine torch's default
    of one thread per core makes fits slower and their times erratic.
    """
    if threads is None:
        yield torch.get_num_threads()
        return
    previous = torch.get_num_threads()
    limits = threadpool_limits(threads)
    try:
        torch.set_num_threads(threads)
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)
        limits.restore_original_limits()


def benchmark(
    data,
    methods=DEFAULT_METHODS,
    *,
    scaling="auto",
    max_epochs=None,
    peer_epochs=None,
    random_state=0,
    device="cpu",
    threads=None,
    log=None,
):
    """Preprocess, fit, score and collect everything into a report.

    Parameters
    ----------
    data : dict
        As returned by :func:`load_data`.
    methods : sequence of str, default=DEFAULT_METHODS
        Keys of :data:`METHODS`.
    scaling : {'auto', 'standard', 'none'}, default='auto'
        See :func:`preprocess`.
    max_epochs, peer_epochs, random_state, device
        See :func:`make_estimator`.
    threads : int or None, default=None
        Torch and BLAS threads for the fits (None: the libraries' own).
    log : callable, default=None
        Receives progress lines.

    Returns
    -------
    report : dict
        The input to :func:`format_report`.
    """
    log = log or (lambda message: None)
    description = describe(data)
    log(f"[data] {data['source']}: {description}")
    X_train, X_test, note = preprocess(data["X_train"], data["X_test"], scaling)
    log(f"[data] features: {note}")
    scaled = {**data, "X_train": X_train, "X_test": X_test}
    with fixed_threads(threads) as n_threads:
        results, failures, caught = run_benchmark(
            scaled,
            methods,
            max_epochs=max_epochs,
            peer_epochs=peer_epochs,
            random_state=random_state,
            device=device,
            log=log,
        )
    sknc_epochs = PALClassifier().max_epochs if max_epochs is None else max_epochs
    settings = {
        "methods": list(methods),
        "max_epochs": max_epochs,
        "peer_epochs": peer_epochs,
        "random_state": random_state,
        "device": device,
        "threads": n_threads,
    }
    peers = []
    if "mlp" in methods:
        mlp_iter = MLP_MAX_ITER if peer_epochs is None else peer_epochs
        peers.append(f"MLPClassifier max_iter={mlp_iter}")
    if "bce" in methods:
        bce_epochs = (
            BCENetClassifier().max_epochs if peer_epochs is None else peer_epochs
        )
        peers.append(f"BCE net {bce_epochs} epochs")
    default = " (default)" if peer_epochs is None else ""
    settings_text = (
        f"sknc with default parameters, {sknc_epochs} epochs"
        + (" (default)" if max_epochs is None else "")
        + "".join(f"; {peer}{default}" for peer in peers)
        + f"; random_state={random_state}; device={device}"
        + f"; {n_threads} torch thread{'s' if n_threads > 1 else ''}"
    )
    unranked = [
        {
            "method": row["method"],
            "name": row["name"],
            "reason": "stopped at its iteration limit before converging "
            "(ConvergenceWarning)"
            + (": raise --peer-epochs" if row["method"] in PEER_EPOCH_METHODS else ""),
        }
        for row in results
        if not row["converged"]
    ]
    return {
        "data": {
            "source": data["source"],
            "description": description,
            "split": data["split"],
            "n_train": int(data["X_train"].shape[0]),
            "n_test": int(data["X_test"].shape[0]),
            "n_features": int(data["X_train"].shape[1]),
            "n_labels": int(data["Y_train"].shape[1]),
        },
        "label_names": data.get("label_names"),
        "feature_names": data.get("feature_names"),
        "preprocessing": note,
        "settings": settings,
        "settings_text": settings_text,
        "results": results,
        # a method cut short is no fair comparison: it leads nothing
        "best": leaders([row for row in results if row["converged"]]),
        "unranked": unranked,
        "failures": failures,
        "warnings": caught,
    }
