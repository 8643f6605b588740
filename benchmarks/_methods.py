"""Fitting and scoring for the benchmark studies.

- :func:`make_estimator`: every method by its key (sknc's two estimators with
  any of their parameters, and the peers of ``sknc._bench``);
- :func:`scores` and :data:`METRICS`: one set of metric names for every study;
- :class:`Runner`: fit, time and score methods over seeds, keeping the
  results, the warnings and (when asked) the failures;
- :func:`network_outputs`: a fitted net's logits and features, which studies
  of decoders refit decoders on;
- :func:`warm_up`: the one-off torch set-up, paid outside the timings;
- :class:`AMPMixin`: mixed-precision training of the sknc estimators.
"""

import re
import time
import traceback
import warnings

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    hamming_loss,
    label_ranking_average_precision_score,
)
from skorch.dataset import unpack_data
from skorch.utils import TeeGenerator

import sknc
from sknc._bench import label_scores, n_trainable_params
from sknc._bench import make_estimator as make_peer

from ._harness import log, table

try:  # optional peer: scikit-multilearn's MLkNN
    from skmultilearn.adapt import MLkNN
except ImportError as exc:  # depends on the environment
    MLkNN = None
    MLKNN_IMPORT_ERROR = f"{type(exc).__name__}: {exc}"
else:
    MLKNN_IMPORT_ERROR = None

__all__ = [
    "METRICS",
    "MLKNN_IMPORT_ERROR",
    "AMPFixedETFClassifier",
    "AMPMixin",
    "AMPPALClassifier",
    "Runner",
    "make_estimator",
    "network_outputs",
    "scores",
    "warm_up",
    "warning_text",
]

# ------------------------------------------------------------------- scores
# key: (header, format, higher is better), the names of every report
METRICS = {
    "micro_f1": ("micro-F1", "{:.3f}", True),
    "macro_f1": ("macro-F1", "{:.3f}", True),
    "example_f1": ("example-F1", "{:.3f}", True),
    "subset_acc": ("subset acc", "{:.3f}", True),
    "hamming": ("Hamming loss", "{:.4f}", False),
    "lrap": ("LRAP", "{:.3f}", True),
    "pred_card": ("labels/row", "{:.2f}", None),
    "empty_pred": ("rows predicted empty", "{:.3f}", None),
}


def scores(Y_true, Y_pred, Y_score=None):
    """The quality of a multi-label prediction, under the names of :data:`METRICS`.

    ``micro_f1``, ``macro_f1`` and ``example_f1`` (F1 per row, averaged:
    scikit-learn's ``average='samples'``), all with ``zero_division=0``;
    ``subset_acc`` (exact match), ``hamming`` (Hamming loss), ``pred_card``
    (predicted labels per row), ``empty_pred`` (share of rows predicted with
    no label) and, given per-label scores ``Y_score`` (see
    ``sknc._bench.label_scores``), ``lrap`` (label-ranking average
    precision).
    """
    if sp.issparse(Y_pred):
        Y_pred = Y_pred.toarray()
    Y_pred = np.asarray(Y_pred).astype(np.uint8)
    Y_true = np.asarray(Y_true).astype(np.uint8)
    out = {
        "micro_f1": f1_score(Y_true, Y_pred, average="micro", zero_division=0),
        "macro_f1": f1_score(Y_true, Y_pred, average="macro", zero_division=0),
        "example_f1": f1_score(Y_true, Y_pred, average="samples", zero_division=0),
        "subset_acc": accuracy_score(Y_true, Y_pred),
        "hamming": hamming_loss(Y_true, Y_pred),
        "pred_card": Y_pred.sum(1).mean(),
        "empty_pred": (Y_pred.sum(1) == 0).mean(),
    }
    if Y_score is not None:
        out["lrap"] = label_ranking_average_precision_score(Y_true, Y_score)
    return {key: float(value) for key, value in out.items()}


# ------------------------------------------------------------- estimators
class AMPMixin:
    """Mixed-precision training for a skorch net (``amp=True``).

    The forward pass and the loss run under ``torch.autocast`` (float16 on
    CUDA, with a ``GradScaler``; bfloat16 on CPU); the optimizer steps on
    float32 weights. Prediction stays in float32. skorch has no mixed
    precision of its own (only through Hugging Face accelerate), and sknc
    has no option for it, so the benchmarks bring this mixin.
    """

    def initialize(self):
        self.__dict__.pop("amp_scaler_", None)
        return super().initialize()

    def train_step(self, batch, **fit_params):
        device_type = torch.device(self.device).type
        dtype = torch.float16 if device_type == "cuda" else torch.bfloat16
        scaler = self.__dict__.get("amp_scaler_")
        if scaler is None:
            scaler = torch.amp.GradScaler(device_type, enabled=dtype is torch.float16)
            self.amp_scaler_ = scaler
        self._zero_grad_optimizer()
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        with torch.autocast(device_type, dtype=dtype):
            y_pred = self.infer(Xi, **fit_params)
            loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        scaler.scale(loss).backward()
        self.notify(
            "on_grad_computed",
            named_parameters=TeeGenerator(self.get_all_learnable_params()),
            batch=batch,
            training=True,
        )
        for name in self._optimizers:
            scaler.step(getattr(self, name + "_"))
        scaler.update()
        return {"loss": loss.detach().float(), "y_pred": y_pred}


class AMPPALClassifier(AMPMixin, sknc.PALClassifier):
    """``PALClassifier`` trained in mixed precision."""


class AMPFixedETFClassifier(AMPMixin, sknc.FixedETFClassifier):
    """``FixedETFClassifier`` trained in mixed precision."""


SKNC_CLASSES = {
    "pal": (sknc.PALClassifier, AMPPALClassifier),
    "etf": (sknc.FixedETFClassifier, AMPFixedETFClassifier),
}


def make_estimator(
    method,
    seed=0,
    *,
    device="cpu",
    max_epochs=None,
    amp=False,
    pin_memory=False,
    **params,
):
    """The unfitted estimator of ``method``.

    Parameters
    ----------
    method : str
        ``'pal'`` or ``'etf'`` (``PALClassifier``, ``FixedETFClassifier``);
        the peers of ``sknc._bench.make_estimator``: ``'mlp'``
        (``MLPClassifier(max_iter=300)``), ``'bce'`` (its BCE net: sknc's
        default backbone trained with ``BCEWithLogitsLoss``), ``'ovr-lr'``
        (alias ``'br-lr'``), ``'cc-lr'``, ``'knn'``; or ``'mlknn'``
        (scikit-multilearn's ``MLkNN``, when importable).
    seed : int
        ``random_state`` of the neural methods.
    device : str
        Torch device of sknc and the BCE net.
    max_epochs : int or None
        Epochs of the neural methods (``MLPClassifier``'s ``max_iter``);
        None: their defaults.
    amp : bool
        sknc estimators only: mixed-precision training (:class:`AMPMixin`).
    pin_memory : bool
        sknc estimators only: pinned training batches (for CUDA).
    **params
        sknc estimators only: their parameters, e.g. ``feature_dim=512``.
    """
    if method in SKNC_CLASSES:
        cls = SKNC_CLASSES[method][1 if amp else 0]
        if max_epochs is not None:
            params["max_epochs"] = max_epochs
        if pin_memory:
            params["iterator_train__pin_memory"] = True
        return cls(random_state=seed, device=device, **params)
    if params:
        raise ValueError(f"{method}: parameters apply to sknc's estimators only")
    if method == "mlknn":
        if MLkNN is None:
            raise RuntimeError(
                f"scikit-multilearn is not importable ({MLKNN_IMPORT_ERROR})"
            )
        return MLkNN()
    # the studies' --max-epochs applies to every neural method
    return make_peer(
        method,
        max_epochs=max_epochs,
        peer_epochs=max_epochs,
        random_state=seed,
        device=device,
    )


def network_outputs(clf, X, device=None):
    """Logits (float32) and features of a fitted sknc estimator, as tensors."""
    logits = torch.as_tensor(clf.decision_function(X), dtype=torch.float32)
    features = torch.as_tensor(clf.transform(X))
    if device is not None:
        logits, features = logits.to(device), features.to(device)
    return logits, features


def warm_up(device="cpu"):
    """Two tiny fits: the first fit of a process pays torch's one-off set-up
    (several seconds on a small machine), which must stay out of the timings."""
    rng = np.random.RandomState(0)
    X = rng.randn(256, 20).astype(np.float32)
    Y = (rng.rand(256, 4) < 0.4).astype(np.uint8)
    Y[Y.sum(1) == 0, 0] = 1
    for cls in (sknc.PALClassifier, sknc.FixedETFClassifier):
        cls(max_epochs=2, random_state=0, device=device).fit(X, Y).predict(X)


# ------------------------------------------------------------------ runner
def warning_text(message):
    """A warning's first lines, with label lists elided so that they group."""
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    text = " ".join(lines[:2])
    text = re.sub(r"\[[^\]]*\](\.\.\.)?", "[...]", text)
    text = re.sub(r"Label not \d+ is", "Label not <k> is", text)
    text = re.sub(r"^\d+ label\(s\) never", "<n> label(s) never", text)
    return text[:200]


class Runner:
    """Fit, time and score methods on data sets over seeds.

    Parameters
    ----------
    build : callable, optional
        ``build(method, seed, data, params)``: the unfitted estimator
        (``params``: extra estimator parameters, or None). A subclass may
        override the method instead.
    measure : callable, optional
        ``measure(estimator, data, Y_pred)``: more entries for a fit's result,
        computed while its warnings are recorded.
    label : callable, optional
        The name of a method in the log, the warnings and the failures.
    catch_errors : bool
        Record a failed fit in :attr:`failures` and go on, instead of raising.
    verbose_errors : bool
        With ``catch_errors``: print each failure's traceback to stderr.

    Attributes
    ----------
    results : dict
        ``(dataset, method) -> list`` of one dict per seed: :func:`scores` of
        the test part (with the LRAP), ``fit_s``, ``predict_s``, ``params``
        (trainable parameters, None for k-NN) and what ``measure`` adds.
    warnings : dict
        ``(dataset, label, category, message) -> count``.
    failures : list
        ``(dataset, label, seed, error)``.
    """

    def __init__(
        self,
        build=None,
        measure=None,
        label=str,
        catch_errors=False,
        verbose_errors=False,
    ):
        if build is not None:
            self.build = build
        if measure is not None:
            self.measure = measure
        self.label = label
        self.catch_errors = catch_errors
        self.verbose_errors = verbose_errors
        self.results = {}
        self.warnings = {}
        self.failures = []

    def build(self, method, seed, data, params):
        """The unfitted estimator; pass ``build=`` or override this."""
        raise NotImplementedError("pass build= to Runner or override Runner.build")

    def measure(self, est, data, Y_pred):
        """More entries for a fit's result; none unless overridden."""
        return {}

    def merge(self, other):
        """Add the results of another runner (e.g. of a worker process)."""
        self.results.update(other.results)
        self.failures += other.failures
        for entry, count in other.warnings.items():
            self.warnings[entry] = self.warnings.get(entry, 0) + count

    def record_warnings(self, dataset, method, caught):
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
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        error = f"{type(exc).__name__}: {' '.join(lines[:1])}"
        if len(lines) > 2:  # e.g. GridSearchCV's: the cause is on the last line
            error += f" ... {lines[-1]}"
        label = self.label(method)
        self.failures.append((dataset, label, seed, error[:300]))
        log(f"  [error] {dataset} {label} seed={seed}: {error[:200]}")
        if self.verbose_errors:
            traceback.print_exception(exc)

    def fit_one(self, dataset, data, method, seed, params=None):
        """Fit ``method`` with ``seed`` on ``data``; its result, or None."""
        X_train, Y_train, X_test, Y_test = data
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                est = self.build(method, seed, data, params)
                start = time.perf_counter()
                est.fit(X_train, Y_train)
                fit_s = time.perf_counter() - start
                start = time.perf_counter()
                Y_pred = est.predict(X_test)
                predict_s = time.perf_counter() - start
                if sp.issparse(Y_pred):
                    Y_pred = Y_pred.toarray()
                result = {
                    **scores(Y_test, Y_pred, label_scores(est, X_test)),
                    "fit_s": fit_s,
                    "predict_s": predict_s,
                    "params": n_trainable_params(est),
                }
                result.update(self.measure(est, data, Y_pred))
            self.record_warnings(dataset, method, caught)
        except Exception as exc:
            if not self.catch_errors:
                raise
            # one failure must not end a long run
            self.fail(dataset, method, seed, exc)
            return None
        log(
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

    def warnings_section(self):
        """The report section listing the warnings raised during the fits."""
        title = "## Warnings raised during fit/predict"
        if not self.warnings:
            return f"{title}\n\nNone."
        rows = [
            [d, m, c, n, t.replace("|", "\\|")]
            for (d, m, c, t), n in sorted(self.warnings.items())
        ]
        return f"{title}\n\n" + table(
            ["dataset", "method", "category", "count", "message"], rows
        )
