"""``python -m sknc demo``: both estimators on the built-in multi-label digits."""

import time

from .._classifier import FixedETFClassifier, PALClassifier
from ._data import digits_split
from ._run import fixed_threads
from ._scoring import score_predictions

__all__ = ["format_table", "run_demo"]

# the demo's columns: key of score_predictions -> header
_SCORES = {
    "micro_f1": "micro-F1",
    "macro_f1": "macro-F1",
    "subset_acc": "subset acc",
    "hamming": "Hamming",
}


def run_demo(
    n_train=1000,
    n_test=500,
    max_epochs=30,
    random_state=0,
    device="cpu",
    threads=1,
    progress=None,
):
    """Fit both estimators on multi-label digits and return one row per model.

    The fits run with ``threads`` torch (and BLAS) threads, restored
    afterwards, and after a warm-up fit of one epoch on a few rows, so that
    the first model does not pay torch's one-off start-up cost in its time.

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
    threads : int or None, default=1
        Torch threads (``torch.set_num_threads``) and BLAS threads during
        the fits. One thread is the fastest on a small or busy machine;
        None keeps the current settings.
    progress : file-like or None, default=None
        Where to write one line per fit as it runs (e.g. ``sys.stderr``);
        None: nowhere.

    Returns
    -------
    rows : list of dict
        Scores, fit seconds and trainable parameters per model.
    """

    def say(text, end="\n"):
        if progress is not None:
            progress.write(text + end)
            progress.flush()

    X_train, Y_train, X_test, Y_test = digits_split(n_train, n_test, random_state)
    with fixed_threads(threads) as n:
        say(f"warming up torch ({n} thread{'s' if n > 1 else ''}) ...", end="")
        start = time.perf_counter()
        FixedETFClassifier(max_epochs=1, random_state=random_state, device=device).fit(
            X_train[:64], Y_train[:64]
        )
        say(f" {time.perf_counter() - start:.1f} s")
        rows = []
        for cls in (FixedETFClassifier, PALClassifier):
            model = cls(max_epochs=max_epochs, random_state=random_state, device=device)
            say(f"fitting {cls.__name__} ({max_epochs} epochs) ...", end="")
            start = time.perf_counter()
            model.fit(X_train, Y_train)
            seconds = time.perf_counter() - start
            say(f" {seconds:.1f} s")
            scores = score_predictions(Y_test, model.predict(X_test))
            rows.append(
                {
                    "model": cls.__name__,
                    **{header: scores[key] for key, header in _SCORES.items()},
                    "fit s": seconds,
                    "params": model.n_trainable_params_,
                    "feature_dim": model.feature_dim_,
                }
            )
    return rows


def format_table(rows):
    """Format result rows as a Markdown table.

    Parameters
    ----------
    rows : list of dict
        One per model, as :func:`run_demo` returns them.

    Returns
    -------
    table : str
        A header, a separator and one line per row; floats with 3 decimals.
    """
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        cells = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in row.values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
