"""Regenerate the saved models that ``tests/test_persistence.py`` loads.

Run it only when the saved format changes on purpose (and say so in the
changelog), naming the new models to write: the files stand for models saved
by an earlier release, and the test fails when a new version can no longer
load them or predicts differently from them. The models already recorded
are kept as they are::

    OMP_NUM_THREADS=1 python tests/data/make_saved_models.py pal_v2 fixed_etf_v2

For each named model it writes ``<name>_params.pt``
(``save_params(f_params=...)``) and ``<name>_state.pt``
(``save_params(f_state=...)``); ``saved_models.npz`` holds the input ``X`` and
the expected ``predict`` and ``predict_proba``, and ``saved_models.json`` the
constructor parameters and the versions that wrote the files. ``_v2`` is the
state format with its SHA-256 digest, the first one a release reads.
"""

import json
import sys
from pathlib import Path

import numpy as np
import sklearn
import skorch
import torch
from sklearn.datasets import make_multilabel_classification

import sknc

HERE = Path(__file__).resolve().parent

# Tiny networks keep the files a few KB each.
MODELS = {
    "pal_v2": (
        "PALClassifier",
        {
            "max_epochs": 5,
            "lr": 1e-2,
            "hidden_layer_sizes": [8],
            "feature_dim": 8,
            "batch_size": 32,
            "random_state": 0,
        },
    ),
    "fixed_etf_v2": (
        "FixedETFClassifier",
        {
            "max_epochs": 5,
            "lr": 1e-2,
            "hidden_layer_sizes": [8],
            "batch_size": 32,
            "decoder": "onn",
            "random_state": 0,
        },
    ),
}


def main(names):
    unknown = sorted(set(names) - set(MODELS))
    if not names or unknown:
        sys.exit(f"name the models to write, among {sorted(MODELS)}; got {names}")
    X, Y = make_multilabel_classification(
        n_samples=160,
        n_features=12,
        n_classes=5,
        n_labels=2,
        allow_unlabeled=False,
        random_state=0,
    )
    X = X.astype(np.float32)
    X_check = X[:24]
    versions = {
        "sknc": sknc.__version__,
        "torch": torch.__version__,
        "skorch": skorch.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
    }
    json_path, npz_path = HERE / "saved_models.json", HERE / "saved_models.npz"
    record = json.loads(json_path.read_text()) if json_path.exists() else {}
    record.setdefault("models", {})
    arrays = dict(np.load(npz_path)) if npz_path.exists() else {}
    if "X" in arrays:
        np.testing.assert_array_equal(arrays["X"], X_check)
    arrays["X"] = X_check
    for name in names:
        cls_name, params = MODELS[name]
        clf = getattr(sknc, cls_name)(**params).fit(X, Y)
        # record the architecture- and decision-defining defaults too, so that a
        # later change of a default does not silently change what the fixture
        # means
        params = {
            **params,
            "feature_norm": clf.feature_norm,
            "input_scaling": clf.input_scaling,
            "decoder": clf.decoder,
            "objective": clf.objective,
        }
        f_params, f_state = f"{name}_params.pt", f"{name}_state.pt"
        clf.save_params(f_params=HERE / f_params, f_state=HERE / f_state)
        arrays[f"{name}_predict"] = clf.predict(X_check)
        arrays[f"{name}_predict_proba"] = clf.predict_proba(X_check)
        record["models"][name] = {
            "class": cls_name,
            "params": params,
            "f_params": f_params,
            "f_state": f_state,
            "versions": versions,
        }
    np.savez(npz_path, **arrays)
    json_path.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
