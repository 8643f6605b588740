"""Persistence, checkpoint-and-resume and run-to-run determinism (#7, #18).

Pickle/joblib round trips and ``save_params``/``load_params`` into a fresh
estimator are tested in ``test_classifier.py``; this file adds models saved
by an earlier version (``tests/data``), skorch's reload recipe, the safety of
the state file (plain data, never unpickled; damaged or edited files fail
loudly), repeatability across
processes, skorch's ``Checkpoint``/``LoadInitState`` after an interrupted
fit, and what ``partial_fit`` carries over.
"""

import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError
from skorch.callbacks import Callback, Checkpoint, LoadInitState
from skorch.exceptions import NotInitializedError

import sknc
from sknc import FixedETFClassifier, PALClassifier
from sknc._persistence import StateFileError

from .conftest import FAST

ESTIMATORS = [PALClassifier, FixedETFClassifier]
DATA = Path(__file__).resolve().parent / "data"
REPO = Path(__file__).resolve().parent.parent

# dropout makes the fits draw from the RNG in every batch, not only when
# shuffling; 6 epochs so that an interrupted fit has epochs left to resume.
RESUME = {**FAST, "max_epochs": 6, "dropout": 0.2}


class Interrupt(Callback):
    """Raise ``exc`` at the end of epoch ``epoch``, or at its ``batch``-th batch."""

    def __init__(self, exc, epoch, batch=None):
        self.exc = exc
        self.epoch = epoch
        self.batch = batch

    def on_batch_end(self, net, training=False, **kwargs):
        if training and self.batch is not None and len(net.history) == self.epoch:
            if len(net.history[-1]["batches"]) == self.batch:
                raise self.exc(f"interrupted in epoch {self.epoch}")

    def on_epoch_end(self, net, **kwargs):
        if self.batch is None and len(net.history) == self.epoch:
            raise self.exc(f"interrupted after epoch {self.epoch}")


class TorchRNGCheckpoint(Callback):
    """Save torch's CPU RNG state after every epoch; restore it when training begins.

    sknc seeds torch (inside ``fork_rng``) and builds the network before
    ``on_train_begin``, so restoring the state there continues the random
    stream of the interrupted fit: the same shuffles and dropout masks.
    """

    def __init__(self, path):
        self.path = path

    def on_epoch_end(self, net, **kwargs):
        torch.save(torch.get_rng_state(), self.path)

    def on_train_begin(self, net, **kwargs):
        if os.path.exists(self.path):
            torch.set_rng_state(torch.load(self.path))


def _checkpoint(tmp_path):
    # monitor=None: a checkpoint after every epoch, i.e. the last completed one
    return Checkpoint(monitor=None, dirname=str(tmp_path))


def _interrupted_fit(cls, X, Y, tmp_path, exc, epoch, batch=None):
    callbacks = [
        ("checkpoint", _checkpoint(tmp_path)),
        ("rng", TorchRNGCheckpoint(tmp_path / "rng.pt")),
        ("interrupt", Interrupt(exc, epoch, batch)),
    ]
    return cls(**RESUME, callbacks=callbacks)


def _resumed_fit(cls, X, Y, tmp_path, max_epochs, rng=True, **params):
    checkpoint = _checkpoint(tmp_path)
    callbacks = [("checkpoint", checkpoint), ("load", LoadInitState(checkpoint))]
    if rng:
        callbacks.append(("rng", TorchRNGCheckpoint(tmp_path / "rng.pt")))
    params = {**RESUME, **params, "max_epochs": max_epochs}
    return cls(**params, callbacks=callbacks).fit(X, Y)


def _saved_epochs(tmp_path):
    return len(json.loads((tmp_path / "history.json").read_text()))


# ----------------------------------------------------------- determinism
_FIT_AND_HASH = """
import hashlib, json, sys
import numpy as np
from sklearn.datasets import make_multilabel_classification
from sknc import FixedETFClassifier, PALClassifier
X, Y = make_multilabel_classification(n_samples=160, n_features=12, n_classes=5,
                                      n_labels=2, allow_unlabeled=False,
                                      random_state=0)
X = X.astype(np.float32)
for cls in (PALClassifier, FixedETFClassifier):
    clf = cls(**json.loads(sys.argv[1])).fit(X, Y)
    for out in (clf.predict_proba(X), clf.decision_function(X), clf.predict(X)):
        print(cls.__name__, hashlib.sha256(out.tobytes()).hexdigest())
"""


@pytest.mark.slow
def test_random_state_is_bitwise_repeatable_across_processes():
    # Two fresh interpreters with different hash seeds: the same random_state
    # must give the same bytes on CPU (with the same thread count).
    params = json.dumps({**FAST, "max_epochs": 3, "dropout": 0.2})
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _FIT_AND_HASH, params],
            env={
                **os.environ,
                "OMP_NUM_THREADS": "1",
                "MKL_NUM_THREADS": "1",
                "PYTHONHASHSEED": str(seed),
            },
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in (0, 1)
    ]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        outputs.append(out.split("\n"))
    assert len(outputs[0]) == 7  # 2 estimators x 3 outputs, and a newline
    assert outputs[0] == outputs[1]


# ------------------------------------------------------------ saved models
def _saved_models():
    return json.loads((DATA / "saved_models.json").read_text())["models"]


@pytest.mark.parametrize("name", sorted(_saved_models()))
def test_models_saved_by_an_earlier_version_still_load(name):
    # Add models with tests/data/make_saved_models.py only when the saved
    # format changes on purpose: this is what users' saved models look like.
    entry = _saved_models()[name]
    expected = np.load(DATA / "saved_models.npz")
    params = dict(entry["params"])
    params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
    # saved before label_proba: no per-label head, the decoder's marginals
    params.setdefault("label_proba", "decoder")
    clf = getattr(sknc, entry["class"])(**params)
    clf.load_params(f_params=DATA / entry["f_params"], f_state=DATA / entry["f_state"])
    X = expected["X"]
    pred = clf.predict(X)
    assert len(np.unique(pred, axis=0)) > 3  # a fixture worth comparing with
    assert pred.dtype == expected[f"{name}_predict"].dtype
    np.testing.assert_array_equal(pred, expected[f"{name}_predict"])
    np.testing.assert_allclose(
        clf.predict_proba(X), expected[f"{name}_predict_proba"], rtol=0, atol=1e-6
    )


def test_loading_a_model_saved_without_the_label_head_names_label_proba():
    entry = _saved_models()["pal_v2"]
    params = dict(entry["params"], hidden_layer_sizes=(8,), label_proba="blend")
    clf = sknc.PALClassifier(**params)  # 'blend' wants a head the file lacks
    with pytest.raises(ValueError, match="another label_proba \\('decoder'"):
        clf.load_params(
            f_params=DATA / entry["f_params"], f_state=DATA / entry["f_state"]
        )
    assert not hasattr(clf, "decision_")  # left as it was


def test_loading_into_a_different_head_names_feature_norm():
    entry = _saved_models()["pal_v2"]
    params = dict(entry["params"], hidden_layer_sizes=(8,), feature_norm=None)
    params["label_proba"] = "decoder"
    clf = sknc.PALClassifier(**params)  # saved with feature_norm='learned'
    with pytest.raises(ValueError, match="another head \\(feature_norm\\)"):
        clf.load_params(
            f_params=DATA / entry["f_params"], f_state=DATA / entry["f_state"]
        )


# ------------------------------------------------- skorch's reload recipe
@pytest.fixture(scope="module")
def saved(multilabel_data, tmp_path_factory):
    """A fitted estimator, and its parameter and state files."""
    X, Y = multilabel_data
    clf = PALClassifier(**FAST, feature_dim=16).fit(X, Y)
    path = tmp_path_factory.mktemp("saved")
    files = {"f_params": path / "params.pt", "f_state": path / "state.pt"}
    clf.save_params(**files)
    return clf, files


def test_skorch_recipe_initialize_then_load_params(saved, multilabel_data):
    # https://skorch.readthedocs.io "Saving and Loading":
    # new_net.initialize(); new_net.load_params(f_params=...)
    X, _ = multilabel_data
    clf, files = saved
    new = PALClassifier(**{**FAST, "feature_dim": 16})
    assert new.initialize() is new  # nothing to build before the input size
    new.load_params(**files)
    assert new.initialized_
    np.testing.assert_array_equal(new.predict(X), clf.predict(X))
    np.testing.assert_array_equal(new.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize("initialize", [True, False], ids=["initialized", "fresh"])
def test_load_params_without_f_state_says_what_to_pass(saved, initialize):
    _, files = saved
    new = PALClassifier(**{**FAST, "feature_dim": 16})
    if initialize:
        new.initialize()
    with pytest.raises(
        NotInitializedError, match=r"load_params\(f_params=\.\.\., f_state"
    ):
        new.load_params(f_params=files["f_params"])


def test_a_feature_dim_mismatch_names_the_layer_and_both_shapes(saved):
    _, files = saved
    new = PALClassifier(**FAST)  # feature_dim=256, the file has 16
    with pytest.raises(ValueError, match="does not match") as info:
        new.load_params(**files)
    message = str(info.value)
    hidden = FAST["hidden_layer_sizes"][0]
    assert (
        f"backbone.layers.3.weight has shape (16, {hidden}) in the file, "
        f"(256, {hidden}) here"
    ) in message
    assert "feature_dim" in message
    assert "feature_norm" not in message  # the head's structure is the same


def test_load_params_into_a_fitted_estimator_of_another_input_size(
    saved, multilabel_data
):
    X, Y = multilabel_data
    clf, files = saved
    other = PALClassifier(**{**FAST, "feature_dim": 16}).fit(X[:, :3], Y[:, :2])
    other.load_params(**files)  # the state rebuilds the network first
    np.testing.assert_array_equal(other.predict(X), clf.predict(X))


# ----------------------------------------------------- a safe state file
def test_the_state_file_is_plain_data(saved):
    clf, files = saved
    assert zipfile.is_zipfile(files["f_state"])
    data = torch.load(files["f_state"], weights_only=True)
    assert data["format"] == "sknc.fitted-state"
    content = data["payload"].numpy().tobytes()
    assert data["sha256"] == hashlib.sha256(content).hexdigest()
    state = dict(torch.load(io.BytesIO(content), weights_only=True)["items"])
    assert {"decision_", "decoder_key_"} <= set(state)
    decision = state["decision_"]
    assert decision["decoder"]["class"] == type(clf.decoder_).__name__
    thresholds = dict(decision["thresholds"]["items"])
    assert set(thresholds) == {"f1_micro", "f1_macro"}
    assert all(torch.is_tensor(t) for t in thresholds.values())


class _RunsCode:
    """Unpickling calls ``os.getpid``... or anything else a crafted file names."""

    def __reduce__(self):
        return (os.getpid, ())


def _rewrite(files, tmp_path, edit):
    """Write a copy of the state file whose decoded state ``edit`` changed.

    The copy carries a valid digest: what a deliberate edit looks like, which
    only the checks of the attributes can catch.
    """
    outer = torch.load(files["f_state"], weights_only=True)
    state = torch.load(
        io.BytesIO(outer["payload"].numpy().tobytes()), weights_only=True
    )
    edit(state)
    content = io.BytesIO()
    torch.save(state, content)
    content = content.getvalue()
    outer["payload"] = torch.frombuffer(bytearray(content), dtype=torch.uint8)
    outer["sha256"] = hashlib.sha256(content).hexdigest()
    path = tmp_path / "edited.pt"
    torch.save(outer, path)
    return path


def _items(state):
    return dict(state["items"])


def _set_item(state, key, value):
    state["items"] = [[k, value if k == key else v] for k, v in state["items"]]


def test_a_state_file_holding_a_pickled_callable_is_refused(saved, tmp_path):
    _, files = saved
    crafted = tmp_path / "crafted"
    torch.save({"n_features_in_": _RunsCode()}, crafted)
    new = PALClassifier(**FAST)
    with pytest.raises(StateFileError, match="never unpickles") as info:
        new.load_params(f_params=files["f_params"], f_state=crafted)
    assert str(crafted) in str(info.value)
    assert not hasattr(new, "n_features_in_")


def test_a_state_file_cannot_set_other_attributes(saved, tmp_path):
    _, files = saved
    edited = _rewrite(files, tmp_path, lambda s: s["items"].append(["module_", 1]))
    with pytest.raises(StateFileError, match="module_"):
        PALClassifier(**FAST).load_params(f_state=edited)


@pytest.mark.parametrize("damage", ["truncated", "random_bytes", "empty", "text"])
def test_a_damaged_state_file_names_the_file_and_the_damage(saved, tmp_path, damage):
    _, files = saved
    good = files["f_state"].read_bytes()
    content = {
        "truncated": good[: len(good) // 2],
        "random_bytes": np.random.default_rng(0).bytes(len(good)),
        "empty": b"",
        "text": b"n_features_in_ = 20\n",
    }[damage]
    path = tmp_path / f"{damage}.pt"
    path.write_bytes(content)
    new = PALClassifier(**FAST)
    with pytest.raises(StateFileError) as info:
        new.load_params(f_params=files["f_params"], f_state=path)
    message = str(info.value)
    assert str(path) in message
    assert "truncated" in message or "corrupted" in message
    assert "pickle" not in message  # no advice to unpickle it
    assert not hasattr(new, "n_features_in_")


@pytest.mark.parametrize("seed", range(20))
def test_flipped_bytes_never_load_silently(saved, multilabel_data, tmp_path, seed):
    # 64 bytes flipped anywhere: refused, or (padding only) the same model
    X, _ = multilabel_data
    clf, files = saved
    content = bytearray(files["f_state"].read_bytes())
    rng = np.random.default_rng(seed)
    for position in rng.choice(len(content), size=64, replace=False):
        content[position] ^= 0xFF
    path = tmp_path / "flipped.pt"
    path.write_bytes(bytes(content))
    new = PALClassifier(**{**FAST, "feature_dim": 16})
    try:
        new.load_params(f_params=files["f_params"], f_state=path)
    except StateFileError as exc:
        assert str(path) in str(exc)
    else:  # pragma: no cover - what a flip in padding would give
        np.testing.assert_array_equal(new.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize(
    "key, value, match",
    [
        ("multilabel_", False, "multilabel_|None for a multi-class"),
        ("n_outputs_", 3, "n_outputs_|label_names_"),
        ("target_dtype_", {"__sknc__": "dtype", "str": "<U5"}, "target_dtype_"),
        ("background_label_", 1, "background_label_"),
        ("feature_decay_", -1.0, "feature_decay_"),
        ("label_proba_", "auto", "label_proba_"),
        (
            "label_names_",
            {"__sknc__": "ndarray", "dtype": "<i8", "shape": [2], "items": [0, 1]},
            "label_names_",
        ),
    ],
)
def test_an_edited_attribute_is_refused_by_name(saved, tmp_path, key, value, match):
    _, files = saved
    edited = _rewrite(files, tmp_path, lambda s: _set_item(s, key, value))
    new = PALClassifier(**{**FAST, "feature_dim": 16})
    with pytest.raises(StateFileError, match=match) as info:
        new.load_params(f_params=files["f_params"], f_state=edited)
    assert str(edited) in str(info.value)
    assert not hasattr(new, "multilabel_")  # left as it was


def test_an_edited_input_size_is_blamed_on_the_state_file(saved, tmp_path):
    _, files = saved
    edited = _rewrite(files, tmp_path, lambda s: _set_item(s, "n_features_in_", 7))
    new = PALClassifier(**{**FAST, "feature_dim": 16})
    with pytest.raises(ValueError, match="not of the same model") as info:
        new.load_params(f_params=files["f_params"], f_state=edited)
    assert "n_features_in_=7" in str(info.value)
    assert "hidden_layer_sizes" not in str(info.value)


def test_a_decoder_that_does_not_fit_the_network_is_refused(saved, tmp_path):
    _, files = saved

    def shrink(state):
        decoder = _items(state)["decision_"]["decoder"]
        fitted = dict(decoder["fitted"]["items"])
        fitted["features_"] = fitted["features_"][:, :3]
        decoder["fitted"]["items"] = [[k, v] for k, v in fitted.items()]

    edited = _rewrite(files, tmp_path, shrink)
    new = PALClassifier(**{**FAST, "feature_dim": 16})
    with pytest.raises(StateFileError, match="decoder"):
        new.load_params(f_params=files["f_params"], f_state=edited)
    assert not hasattr(new, "decoder_")


@pytest.mark.parametrize(
    "decoder",
    ["knn", "onn", "threshold", "topk", sknc.ONNDecoder(space="proba")],
    ids=str,
)
@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_every_decoder_is_rebuilt_from_plain_data(cls, decoder, multilabel_data):
    X, Y = multilabel_data
    clf = cls(**FAST, decoder=decoder).fit(X, Y)
    params, state = io.BytesIO(), io.BytesIO()
    clf.save_params(f_params=params, f_state=state)
    params.seek(0)
    state.seek(0)
    new = cls(**FAST, decoder=decoder)
    new.load_params(f_params=params, f_state=state)
    assert type(new.decoder_) is type(clf.decoder_)
    assert new.decoder_.get_params() == clf.decoder_.get_params()
    for objective in (None, "f1_micro", "f1_samples"):
        clf.set_params(objective=objective)
        new.set_params(objective=objective)
        np.testing.assert_array_equal(new.predict(X), clf.predict(X))
    np.testing.assert_array_equal(new.predict_proba(X), clf.predict_proba(X))


def _columns(kind, K):
    """Label names of every type pandas and numpy produce."""
    return {
        "np_str": list(np.array([f"tag {k}" for k in range(K)])),  # np.str_
        "np_int64": list(np.arange(K) * 10),
        "np_bool": [np.bool_(k % 2) for k in range(K)][:2],
        "np_float": list(np.arange(K) + 0.5),
        "mixed": ["a", 1, np.int64(2), np.str_("d"), 4.5][:K],
    }[kind]


@pytest.mark.parametrize(
    "y_kind",
    [
        "frame",
        "two_labels",
        "string_classes",
        "nullable_frame",
        "np_str",
        "np_int64",
        "np_bool",
        "np_float",
        "mixed",
        "int_classes",
        "object_indicator",
    ],
)
def test_label_encodings_survive_the_state_file(y_kind, multilabel_data):
    X, Y = multilabel_data
    if y_kind == "np_bool":
        Y = Y[:, :2]
    elif y_kind == "mixed":
        Y = Y[:, :5]
    y = {
        "np_str": lambda: pd.DataFrame(Y, columns=_columns("np_str", Y.shape[1])),
        "np_int64": lambda: pd.DataFrame(Y, columns=_columns("np_int64", Y.shape[1])),
        "np_bool": lambda: pd.DataFrame(Y, columns=_columns("np_bool", 2)),
        "np_float": lambda: pd.DataFrame(Y, columns=_columns("np_float", Y.shape[1])),
        "mixed": lambda: pd.DataFrame(Y, columns=_columns("mixed", 5)),
        "int_classes": lambda: np.array([3, 7, 11])[Y.argmax(axis=1) % 3],
        "object_indicator": lambda: Y.astype(object),
        "frame": lambda: pd.DataFrame(
            Y, columns=[f"tag {k}" for k in range(Y.shape[1])]
        ),
        "two_labels": lambda: Y[:, :2],
        "string_classes": lambda: np.array(["a", "b", "c"])[Y.argmax(axis=1) % 3],
        "nullable_frame": lambda: pd.DataFrame(Y).astype("boolean"),
    }[y_kind]()
    clf = PALClassifier(**FAST).fit(X, y)
    params, state = io.BytesIO(), io.BytesIO()
    clf.save_params(f_params=params, f_state=state)
    params.seek(0)
    state.seek(0)
    new = PALClassifier(**FAST)
    new.load_params(f_params=params, f_state=state)
    pred = new.predict(X)
    assert pred.dtype == clf.predict(X).dtype
    np.testing.assert_array_equal(pred, clf.predict(X))
    if isinstance(clf.classes_, list):
        assert [c.tolist() for c in new.classes_] == [c.tolist() for c in clf.classes_]
    else:
        np.testing.assert_array_equal(new.classes_, clf.classes_)
        assert new.classes_.dtype == clf.classes_.dtype
    np.testing.assert_array_equal(new.label_names_, clf.label_names_)
    assert new.label_names_.dtype == clf.label_names_.dtype
    assert [str(n) for n in new.label_names_] == [str(n) for n in clf.label_names_]


class _MyDecoder(sknc.ThresholdDecoder):
    """A user's decoder: rebuilt when the estimator is built with one."""


def test_a_custom_decoder_is_rebuilt_from_the_estimators_decoder(multilabel_data):
    X, Y = multilabel_data
    clf = PALClassifier(**FAST, decoder=_MyDecoder(threshold=0.4)).fit(X, Y)
    params, state = io.BytesIO(), io.BytesIO()
    clf.save_params(f_params=params, f_state=state)
    params.seek(0)
    state.seek(0)
    with pytest.raises(ValueError, match="_MyDecoder"):
        PALClassifier(**FAST).load_params(f_params=params, f_state=state)
    state.seek(0)
    params.seek(0)
    new = PALClassifier(**FAST, decoder=_MyDecoder(threshold=0.4))
    new.load_params(f_params=params, f_state=state)
    assert type(new.decoder_) is _MyDecoder
    np.testing.assert_array_equal(new.predict(X), clf.predict(X))


class _OpaqueDecoder(sknc.ThresholdDecoder):
    def __init__(self, threshold=0.5, allow_empty="auto", hook=None):
        super().__init__(threshold=threshold, allow_empty=allow_empty)
        self.hook = hook


def test_a_state_that_is_not_plain_data_is_not_written(multilabel_data, tmp_path):
    X, Y = multilabel_data
    clf = PALClassifier(**FAST, decoder=_OpaqueDecoder(hook=print)).fit(X, Y)
    with pytest.raises(TypeError, match="hook.*builtin_function_or_method"):
        clf.save_params(f_state=tmp_path / "state.pt")
    assert not (tmp_path / "state.pt").exists()


def test_saved_model_files_stay_small():
    assert sum(f.stat().st_size for f in DATA.iterdir()) < 100_000


# ------------------------------------------------------ checkpoint/resume
@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_resume_after_an_exception_matches_an_uninterrupted_fit(
    cls, multilabel_data, tmp_path
):
    X, Y = multilabel_data
    reference = cls(**RESUME).fit(X, Y)

    crashed = _interrupted_fit(cls, X, Y, tmp_path, RuntimeError, epoch=3)
    with pytest.raises(RuntimeError, match="after epoch 3"):
        crashed.fit(X, Y)
    # the checkpoint runs before the failing callback: epoch 3 is on disk
    assert _saved_epochs(tmp_path) == 3

    # The same seeds, the remaining epochs, the checkpointed weights,
    # optimizer state, history and torch RNG state: the very same run.
    resumed = _resumed_fit(cls, X, Y, tmp_path, max_epochs=3)
    assert len(resumed.history) == RESUME["max_epochs"]
    np.testing.assert_array_equal(
        resumed.history[:, "train_loss"], reference.history[:, "train_loss"]
    )
    np.testing.assert_array_equal(resumed.predict_proba(X), reference.predict_proba(X))
    np.testing.assert_array_equal(resumed.predict(X), reference.predict(X))


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_keyboard_interrupt_mid_epoch_stops_with_a_usable_model(
    cls, multilabel_data, tmp_path
):
    X, Y = multilabel_data
    # skorch catches KeyboardInterrupt in fit: training stops after the
    # current batch, fit returns normally and sknc fits the decoder to the
    # network as it is (part-way through epoch 3).
    clf = _interrupted_fit(cls, X, Y, tmp_path, KeyboardInterrupt, epoch=3, batch=2)
    assert clf.fit(X, Y) is clf
    assert len(clf.history) == 3
    assert "train_loss" not in clf.history[-1]  # epoch 3 never ended
    assert len(clf.history[-1]["batches"]) == 2
    proba = clf.predict_proba(X)
    assert proba.shape == Y.shape
    assert np.all((proba > 0) & (proba < 1))
    assert clf.predict(X).shape == Y.shape

    # the last checkpoint is the last completed epoch, and resuming from it
    # gives the uninterrupted result
    assert _saved_epochs(tmp_path) == 2
    resumed = _resumed_fit(cls, X, Y, tmp_path, max_epochs=4)
    reference = cls(**RESUME).fit(X, Y)
    np.testing.assert_array_equal(resumed.predict_proba(X), reference.predict_proba(X))


def test_keyboard_interrupt_after_an_epoch_equals_a_shorter_fit(multilabel_data):
    X, Y = multilabel_data
    interrupted = FixedETFClassifier(
        **RESUME, callbacks=[Interrupt(KeyboardInterrupt, epoch=3)]
    ).fit(X, Y)
    shorter = FixedETFClassifier(**{**RESUME, "max_epochs": 3}).fit(X, Y)
    assert len(interrupted.history) == 3
    np.testing.assert_array_equal(
        interrupted.predict_proba(X), shorter.predict_proba(X)
    )


def test_resume_without_randomness_needs_no_rng_state(multilabel_data, tmp_path):
    # No shuffling and no dropout: training draws no random numbers, so
    # Checkpoint + LoadInitState alone resume the very same run.
    X, Y = multilabel_data
    no_rng = {"dropout": 0.0, "iterator_train__shuffle": False}
    params = {**RESUME, **no_rng}
    checkpoint = _checkpoint(tmp_path)
    crashed = PALClassifier(
        **params,
        callbacks=[("cp", checkpoint), ("stop", Interrupt(RuntimeError, epoch=3))],
    )
    with pytest.raises(RuntimeError):
        crashed.fit(X, Y)
    resumed = _resumed_fit(PALClassifier, X, Y, tmp_path, 3, rng=False, **no_rng)
    reference = PALClassifier(**params).fit(X, Y)
    np.testing.assert_array_equal(resumed.predict_proba(X), reference.predict_proba(X))


def test_resume_without_rng_state_continues_but_is_another_run(
    multilabel_data, tmp_path
):
    # Checkpoint does not save torch's RNG state, and fit reseeds from
    # random_state: a resumed fit replays the shuffles and dropout masks of
    # epochs 1, 2, ... A proper continuation of training, not the same run.
    X, Y = multilabel_data
    crashed = _interrupted_fit(PALClassifier, X, Y, tmp_path, RuntimeError, epoch=3)
    with pytest.raises(RuntimeError):
        crashed.fit(X, Y)
    resumed = _resumed_fit(PALClassifier, X, Y, tmp_path, 3, rng=False)
    reference = PALClassifier(**RESUME).fit(X, Y)
    losses = resumed.history[:, "train_loss"]
    expected = reference.history[:, "train_loss"]
    np.testing.assert_array_equal(losses[:3], expected[:3])  # loaded history
    assert losses[3] < losses[0]  # the trained weights, not a fresh network
    assert not np.array_equal(losses[3:], expected[3:])
    np.testing.assert_allclose(losses[-1], expected[-1], rtol=0.1)


def test_a_fit_that_raises_leaves_the_estimator_unfitted(multilabel_data):
    X, Y = multilabel_data
    clf = PALClassifier(**FAST, callbacks=[Interrupt(RuntimeError, epoch=2)])
    with pytest.raises(RuntimeError):
        clf.fit(X, Y)
    with pytest.raises(NotFittedError):
        clf.predict(X)


def test_a_failed_refit_does_not_keep_the_old_decoder(multilabel_data):
    X, Y = multilabel_data
    clf = PALClassifier(**FAST).fit(X, Y)
    clf.set_params(callbacks=[Interrupt(RuntimeError, epoch=2)])
    with pytest.raises(RuntimeError):
        clf.fit(X, Y)
    # the network was re-initialised and trained for 2 epochs: the decoder
    # fitted to the old network must not decode its outputs silently
    with pytest.raises(NotFittedError):
        clf.predict_proba(X)


# ------------------------------------------------------------ partial_fit
@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_partial_fit_of_a_fresh_estimator_equals_fit(cls, multilabel_data):
    X, Y = multilabel_data
    params = {**FAST, "dropout": 0.2}
    a = cls(**params).partial_fit(X, Y)
    b = cls(**params).fit(X, Y)
    assert len(a.history) == len(b.history)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_partial_fit_keeps_training_the_same_network(multilabel_data):
    X, Y = multilabel_data
    clf = FixedETFClassifier(**FAST, decoder="onn").fit(X, Y)
    weights = [p.detach().clone() for p in clf.module_.parameters()]
    prototypes = clf.decoder_.prototypes_.clone()
    proba = clf.predict_proba(X)
    n_batches = len(clf.history[-1]["batches"])

    clf.partial_fit(X, Y)
    losses = clf.history[:, "train_loss"]
    n = FAST["max_epochs"]
    assert len(losses) == 2 * n
    # not restarted: the new epochs start below where the first fit started,
    # and the loss keeps decreasing on average
    assert losses[n] < losses[0]
    assert np.mean(losses[n:]) < np.mean(losses[:n])
    # the optimizer state is carried over (AdamW counts its steps)
    steps = {int(s["step"]) for s in clf.optimizer_.state.values()}
    assert steps == {2 * n * n_batches}
    # the weights moved, and the decoder was refitted to the new features
    assert any(
        not torch.equal(a, b)
        for a, b in zip(weights, clf.module_.parameters(), strict=True)
    )
    assert clf.decoder_.prototypes_.shape == prototypes.shape
    assert not torch.equal(clf.decoder_.prototypes_, prototypes)
    assert not np.array_equal(clf.predict_proba(X), proba)


class _BatchOrder(Callback):
    """Record the first feature of each training batch's first row."""

    def __init__(self):
        self.epochs = []

    def initialize(self):
        return self  # keep the record across fit and partial_fit

    def on_epoch_begin(self, net, **kwargs):
        self.epochs.append([])

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            self.epochs[-1].append(batch[0][:, 0].tolist())


def test_successive_partial_fit_calls_draw_new_shuffles(multilabel_data):
    X, Y = multilabel_data
    order = _BatchOrder()
    clf = PALClassifier(**{**FAST, "max_epochs": 1}, callbacks=[("order", order)])
    for _ in range(3):
        clf.partial_fit(X, Y)
    assert order.epochs[1] != order.epochs[2]


def test_fit_then_partial_fit_equals_one_longer_fit(multilabel_data):
    X, Y = multilabel_data
    longer = PALClassifier(**RESUME).fit(X, Y)
    split = PALClassifier(**{**RESUME, "max_epochs": 3}).fit(X, Y)
    split.partial_fit(X, Y)
    np.testing.assert_array_equal(split.predict_proba(X), longer.predict_proba(X))
