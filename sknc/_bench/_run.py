"""The benchmark's runner: fit, time and score each method, then report."""

import re
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import f1_score

from .._classifier import PALClassifier
from ._bce import BCENetClassifier
from ._data import describe, preprocess
from ._estimators import (
    DEFAULT_METHODS,
    METHODS,
    MLP_MAX_ITER,
    PEER_EPOCH_METHODS,
    TORCH_METHODS,
    make_estimator,
)
from ._report import leaders
from ._scoring import label_scores, n_trainable_params, score_predictions

__all__ = ["benchmark", "run_benchmark"]


def _warm_up(device):
    """One tiny fit, so that torch's one-off set-up is not in the timings."""
    rng = np.random.RandomState(0)
    X = rng.randn(64, 8).astype(np.float32)
    Y = (rng.rand(64, 3) < 0.4).astype(np.uint8)
    PALClassifier(max_epochs=1, random_state=0, device=device).fit(X, Y).predict(X)


def _first_line(exc):
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:300]


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


def _fit_and_score(key, data, epochs, random_state, device):
    """Fit method ``key`` on the training part; its row of the results."""
    X_test = data["X_test"]
    est = make_estimator(key, **epochs, random_state=random_state, device=device)
    start = time.perf_counter()
    est.fit(data["X_train"], data["Y_train"])
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    Y_pred = est.predict(X_test)
    predict_s = time.perf_counter() - start
    per_label = f1_score(
        np.asarray(data["Y_test"]), np.asarray(Y_pred), average=None, zero_division=0
    )
    names = data.get("label_names") or [str(k) for k in range(len(per_label))]
    return {
        "method": key,
        "name": METHODS[key],
        **score_predictions(data["Y_test"], Y_pred, label_scores(est, X_test)),
        "fit_s": fit_s,
        "predict_s": predict_s,
        "params": n_trainable_params(est),
        "label_f1": dict(zip(names, per_label.round(4).tolist(), strict=True)),
    }


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
        :func:`score_predictions`, ``fit_s``, ``predict_s``, ``params``,
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
        _warm_up(device)
    results, failures, caught_warnings = [], [], []
    for i, key in enumerate(methods, start=1):
        name = METHODS[key]
        prefix = f"[{i}/{len(methods)}] {name}"
        log(f"{prefix}: fitting ...")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                epochs = {"max_epochs": max_epochs, "peer_epochs": peer_epochs}
                row = _fit_and_score(key, data, epochs, random_state, device)
        except Exception as exc:  # one failure must not end the run
            error = _first_line(exc)
            failures.append({"method": key, "name": name, "error": error})
            log(f"{prefix}: FAILED, {error}")
            continue
        row["converged"] = not any(
            issubclass(w.category, ConvergenceWarning) for w in caught
        )
        for category, text, count, differs in _group_warnings(caught):
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


def benchmark(
    data,
    methods=DEFAULT_METHODS,
    *,
    scaling="auto",
    max_epochs=None,
    peer_epochs=None,
    random_state=0,
    device="cpu",
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
