"""``python -m sknc demo``: both estimators on the built-in multi-label digits."""

import time

import numpy as np
from sklearn.metrics import f1_score, hamming_loss

from ._classifier import FixedETFClassifier, PALClassifier
from .datasets import make_multilabel_digits


def run_demo(n_train=1000, n_test=500, max_epochs=30, random_state=0, device="cpu"):
    """Fit both estimators on multi-label digits and return one row per model.

    Parameters
    ----------
    n_train, n_test : int, default=1000, 500
        Samples per multiplicity (single digits and pairs) in each split.
    max_epochs : int, default=30
        Training epochs of each model.
    random_state : int, default=0
        Seed of the data and of the models.
    device : str, default='cpu'
        Torch device of the models.

    Returns
    -------
    rows : list of dict
        Scores, fit seconds and trainable parameters per model.
    """
    X_train, Y_train = make_multilabel_digits(
        (n_train, n_train), random_state=random_state
    )
    X_test, Y_test = make_multilabel_digits(
        (n_test, n_test), random_state=random_state + 1
    )
    models = {
        "FixedETFClassifier": FixedETFClassifier(
            max_epochs=max_epochs, random_state=random_state, device=device
        ),
        "PALClassifier": PALClassifier(
            max_epochs=max_epochs, random_state=random_state, device=device
        ),
    }
    rows = []
    for name, model in models.items():
        start = time.perf_counter()
        model.fit(X_train, Y_train)
        seconds = time.perf_counter() - start
        Y_pred = model.predict(X_test)
        rows.append(
            {
                "model": name,
                "micro-F1": f1_score(Y_test, Y_pred, average="micro"),
                "macro-F1": f1_score(Y_test, Y_pred, average="macro", zero_division=0),
                "subset acc": float(np.all(Y_pred == Y_test, axis=1).mean()),
                "Hamming": hamming_loss(Y_test, Y_pred),
                "fit s": seconds,
                "params": model.n_trainable_params_,
                "feature_dim": model.feature_dim_,
            }
        )
    return rows


def format_table(rows):
    """Format result rows as a Markdown table."""
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        cells = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in row.values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
