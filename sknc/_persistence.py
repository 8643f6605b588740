"""Saving and loading a fitted estimator's state beside skorch's parameters.

skorch's ``save_params`` writes the torch modules; ``save_params(f_state=...)``
adds what ``fit`` learned besides them (the input size, the labels, the fitted
decoder and the objective thresholds). The state file holds plain data only
(tensors, numbers, strings and lists or dicts of them; a decoder as its class
name, its parameters and its fitted values), written with :func:`torch.save`
and read with ``torch.load(weights_only=True)``, as skorch reads ``f_params``:
loading it cannot run code from the file. The state is stored with its
SHA-256 digest, and every loaded attribute is checked against the others and
against the network, so that a damaged or edited file fails loudly, naming
the file and what is wrong, instead of predicting something else.
"""

import hashlib
import io
import numbers
import os
import pickle
import re
import zipfile

import numpy as np
import torch

from ._version import __version__
from .decoders import BaseDecoder, Decision
from .decoders._decision import AUTO_FALLBACK, LABEL_PROBA
from .decoders._registry import DECODERS

__all__ = [
    "FITTED_STATE",
    "StateFileError",
    "check_decision_fits_network",
    "load_state",
    "mismatch_message",
    "restore",
    "write_state",
]

_FORMAT = "sknc.fitted-state"
# 2: the state as a payload with its SHA-256 digest
_FORMAT_VERSION = 2
# The one key of a tagged value in the state: a dict with it is never user data.
_TAG = "__sknc__"
# What the network's shape depends on: a state that changes them rebuilds it.
_SHAPE_KEYS = ("n_features_in_", "n_outputs_", "background_label_")
_PLAIN_SCALARS = (bool, int, float, str, type(None))


class StateFileError(ValueError):
    """A state file that sknc refuses to load: damaged, edited or not plain data.

    The message names the file and what is wrong with it. sknc never
    unpickles a state file (unpickling can run any code the file contains).
    """


# ---------------------------------------------------------------- encoding
def _encode(value, where):
    """Return ``value`` as data ``torch.load(weights_only=True)`` reads back."""
    if isinstance(value, np.generic):  # np.str_, np.int64, np.bool_, ...
        return _encode(value.item(), where)
    if isinstance(value, _PLAIN_SCALARS):
        # str, int and float subclasses unpickle only as the plain type
        return value if type(value) in _PLAIN_SCALARS else _plain(value)
    if isinstance(value, torch.Tensor):
        return value.detach()
    if isinstance(value, np.dtype):
        return {_TAG: "dtype", "str": value.str}
    if isinstance(value, np.ndarray):
        items = [_encode(item, f"{where}[...]") for item in value.ravel().tolist()]
        for item, original in zip(items, value.ravel().tolist(), strict=True):
            if not isinstance(item, _PLAIN_SCALARS):  # arrays of scalars only
                raise TypeError(_not_plain(f"{where}[...]", original))
        return {
            _TAG: "ndarray",
            "dtype": value.dtype.str,
            "shape": list(value.shape),
            "items": items,
        }
    if isinstance(value, BaseDecoder):
        fitted = {k: v for k, v in vars(value).items() if _is_fitted_name(k)}
        return {
            _TAG: "decoder",
            "class": type(value).__name__,
            "params": _encode(value.get_params(deep=False), f"{where}.params"),
            "fitted": _encode(fitted, where),
        }
    if isinstance(value, Decision):
        return {
            _TAG: "decision",
            "n_labels": value.n_labels,
            "decoder": _encode(value.decoder_, f"{where}.decoder_"),
            "thresholds": _encode(value.thresholds_, f"{where}.thresholds_"),
        }
    if isinstance(value, tuple):
        return {_TAG: "tuple", "items": [_encode(v, where) for v in value]}
    if isinstance(value, list):
        return [_encode(v, where) for v in value]
    if isinstance(value, dict):
        items = []
        for key, item in value.items():
            if isinstance(key, np.integer):
                key = int(key)
            if not isinstance(key, (str, int)):
                raise TypeError(_not_plain(where, key))
            items.append([key, _encode(item, f"{where}[{key!r}]")])
        return {_TAG: "dict", "items": items}
    raise TypeError(_not_plain(where, value))


def _plain(value):
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value  # pragma: no cover


def _not_plain(where, value):
    return (
        f"{where} holds a {type(value).__name__}, which the state file cannot "
        "store as plain data (tensors, arrays, numbers, strings, lists and dicts "
        "of them). Pickle the whole estimator instead (see the user guide on "
        "saving models)."
    )


def _is_fitted_name(name):
    return (
        isinstance(name, str)
        and name.endswith("_")
        and not name.startswith("_")
        and name.isidentifier()
    )


def _decode(value, decoder_classes):
    if isinstance(value, list):
        return [_decode(v, decoder_classes) for v in value]
    if not isinstance(value, dict):
        return value
    kind = value.get(_TAG)
    if kind == "tuple":
        return tuple(_decode(v, decoder_classes) for v in value["items"])
    if kind == "dict":
        return {k: _decode(v, decoder_classes) for k, v in value["items"]}
    if kind == "dtype":
        return np.dtype(value["str"])
    if kind == "ndarray":
        dtype = np.dtype(value["dtype"])
        if dtype.kind == "V":  # structured dtypes are not label data
            raise StateFileError(
                "The state file holds an array of an unsupported dtype."
            )
        array = np.empty(len(value["items"]), dtype=dtype)
        array[:] = value["items"]
        return array.reshape(value["shape"])
    if kind == "decoder":
        return _rebuild_decoder(value, decoder_classes)
    if kind == "decision":
        decoder = _decode(value["decoder"], decoder_classes)
        if not isinstance(decoder, BaseDecoder):
            raise StateFileError("its decision holds no fitted decoder.")
        decision = Decision(decoder, value["n_labels"])
        decision.decoder_ = decoder
        decision.thresholds_ = _decode(value["thresholds"], decoder_classes)
        return decision
    raise StateFileError(f"The state file holds an unknown value: {sorted(value)[:5]}.")


def _rebuild_decoder(value, decoder_classes):
    name = value["class"]
    cls = decoder_classes.get(name)
    if cls is None:
        raise StateFileError(
            f"The state file holds a fitted decoder of class {name!r}, which "
            "is neither an sknc decoder nor the class of this estimator's "
            f"decoder, so it is not rebuilt (known: {sorted(decoder_classes)}). "
            "Load the file into an estimator built with the parameters of the "
            "one that saved it (its decoder included)."
        )
    decoder = cls(**_decode(value["params"], decoder_classes))
    for key, item in _decode(value["fitted"], decoder_classes).items():
        if not _is_fitted_name(key):
            raise StateFileError(f"The state file sets {key!r} on the decoder.")
        setattr(decoder, key, item)
    return decoder


# ---------------------------------------------------------------- reading
def _file_name(f_state):
    if isinstance(f_state, (str, os.PathLike)):
        return os.fspath(f_state)
    return getattr(f_state, "name", None) or "the state file"


def _read_bytes(f_state):
    if isinstance(f_state, (str, os.PathLike)):
        with open(f_state, "rb") as f:
            return f.read()
    return f_state.read()


def _load_plain(content, name, what, map_location="cpu"):
    """``torch.load(weights_only=True)`` of bytes; every failure names the file."""
    buffer = io.BytesIO(content)
    if not zipfile.is_zipfile(buffer):
        raise StateFileError(
            f"{name} is not an sknc state file: {what} is not a torch.save "
            "archive (the file is truncated, corrupted, or another kind of "
            "file). Write one with save_params(f_state=...)."
        )
    try:
        with zipfile.ZipFile(buffer) as archive:
            bad = archive.testzip()  # every record against its CRC-32
    except Exception as exc:  # a damaged directory fails in many ways
        raise StateFileError(
            f"{name} is corrupted: {what} is a damaged archive "
            f"({type(exc).__name__}: {exc}). Save the model again with "
            "save_params(f_state=...)."
        ) from None
    if bad is not None:
        raise StateFileError(
            f"{name} is corrupted: the record {bad!r} of {what} does not match "
            "its checksum. Save the model again with save_params(f_state=...)."
        )
    buffer.seek(0)
    try:
        return torch.load(buffer, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        detail = str(exc).strip().splitlines()
        raise StateFileError(
            f"{name} is refused: {what} holds objects other than tensors and "
            f"plain data ({detail[-1] if detail else 'unpickling failed'}). "
            "sknc never unpickles a state file, since unpickling can run any "
            "code the file contains."
        ) from None
    except Exception as exc:  # a damaged archive fails in many ways
        raise StateFileError(
            f"{name} cannot be read: {what} is damaged ({type(exc).__name__}: "
            f"{exc}). Save the model again with save_params(f_state=...)."
        ) from None


def _read_state(f_state, map_location):
    """Return the encoded fitted state of a state file, its integrity checked."""
    name = _file_name(f_state)
    data = _load_plain(_read_bytes(f_state), name, "the file")
    if not (isinstance(data, dict) and data.get("format") == _FORMAT):
        raise StateFileError(
            f"{name} is not an sknc state file (a torch.save file of something "
            "else): write one with save_params(f_state=...)."
        )
    version = data.get("version")
    if version != _FORMAT_VERSION:
        newer = isinstance(version, int) and version > _FORMAT_VERSION
        raise StateFileError(
            f"{name} was written by sknc {data.get('sknc', '?')} in format "
            f"version {version!r}; this sknc ({__version__}) reads version "
            f"{_FORMAT_VERSION}. "
            + (
                "Upgrade sknc to load it."
                if newer
                else "Load it with the sknc that wrote it and save it again."
            )
        )
    payload = data.get("payload")
    if not (torch.is_tensor(payload) and payload.dtype == torch.uint8):
        raise StateFileError(f"{name} has no fitted state (its payload is missing).")
    content = payload.cpu().numpy().tobytes()
    if hashlib.sha256(content).hexdigest() != data.get("sha256"):
        raise StateFileError(
            f"{name} is corrupted or was edited: its fitted state does not match "
            "the SHA-256 digest save_params wrote beside it. Save the model "
            "again with save_params(f_state=...)."
        )
    return _load_plain(content, name, "its fitted state", map_location), name


# ------------------------------------------------------------ mismatches
_SIZE_MISMATCH = re.compile(
    r"size mismatch for ([\w.]+): copying a param with shape torch.Size\(\[([^\]]*)\]\)"
    r" from checkpoint, the shape in current model is torch.Size\(\[([^\]]*)\]\)"
)
_KEYS = re.compile(r"(Missing|Unexpected) key\(s\) in state_dict: (.*?)\.\s*$", re.M)


def _shape(text):
    return tuple(int(n) for n in text.split(",") if n.strip())


def _state_blame(name, saved, here, keys, estimator):
    """Return the error when the state file, not the estimator, disagrees with f_params.

    The first layer's input width is ``n_features_in_`` and the head's rows
    are the labels (``n_outputs_``, plus the background label): both come
    from the state file, so a mismatch there means the two files are not of
    the same model.
    """
    if name == keys[0] and saved[1:] != here[1:]:
        what = (
            f"n_features_in_={estimator.n_features_in_}, but the network in "
            f"the parameters file takes {saved[-1]} input features"
        )
    elif name.split(".")[-2:-1] != ["layers"] and ".head" in f".{name}":
        if saved[0] == here[0] or len(saved) != 2:
            return None
        what = (
            f"{estimator._n_head_outputs} outputs (n_outputs_="
            f"{estimator.n_outputs_}, background_label_="
            f"{estimator.background_label_}), but the head in the parameters "
            f"file has {saved[0]}"
        )
    else:
        return None
    return (
        f"The state file and the parameters file are not of the same model: "
        f"the state gives {what}. Load the f_params and f_state that one "
        "save_params call wrote."
    )


def mismatch_message(exc, estimator):
    """Name the layers whose saved and expected shapes differ, from torch's error."""
    lines, resized, structure = [], False, []
    keys = list(estimator.module_.state_dict())
    for name, saved, here in _SIZE_MISMATCH.findall(str(exc)):
        blame = _state_blame(name, _shape(saved), _shape(here), keys, estimator)
        if blame:
            return blame
        lines.append(
            f"{name} has shape {_shape(saved)} in the file, {_shape(here)} here"
        )
        resized = True
    for which, listed in _KEYS.findall(str(exc)):
        names = re.findall(r'"([^"]+)"', listed)
        where = "only in this estimator" if which == "Missing" else "only in the file"
        lines.append(f"{', '.join(names)} {where}")
        structure.extend(names)
    if not lines:
        return str(exc)
    hints = []
    if resized:
        hints.append("other layer sizes (hidden_layer_sizes, feature_dim)")
    if any(k.startswith("head.") for k in structure):
        hints.append("another head (feature_norm)")
    if any("input_scaler." in k for k in structure):
        hints.append("another input_scaling")
    if any(k.startswith(("label_head.", "input_head.")) for k in structure):
        # models saved before the heads existed have none
        hints.append(
            "another label_proba ('decoder' trains no per-label head, as every "
            "model saved before sknc had label_proba; only 'linear', 'wide', "
            "'calibrated_wide' and an 'auto' that chose one of them keep the "
            "model of the inputs, input_head)"
        )
    if any(k.startswith("backbone.") for k in structure):
        hints.append("another backbone (hidden_layer_sizes, batch_norm, module)")
    return (
        "The saved network does not match this estimator's: "
        + "; ".join(lines)
        + ". It was trained with "
        + " and ".join(hints)
        + ": build the estimator with the parameters the model was trained with."
    )


# What fit learns beyond the torch state: needed to rebuild the network and to
# decode its outputs in a fresh estimator.
FITTED_STATE = (
    "n_features_in_",
    "feature_names_in_",
    "multilabel_",
    "label_names_",
    "n_outputs_",
    "classes_",
    "target_dtype_",
    "background_label_",
    "decision_",
    "decoder_key_",
    "class_weight_",
    "early_stopping_",
    "feature_decay_",
    "label_proba_",
)


def write_state(net, f_state):
    """Write the fitted state of ``net`` to ``f_state``, with its SHA-256 digest."""
    state = {k: getattr(net, k) for k in FITTED_STATE if hasattr(net, k)}
    content = io.BytesIO()
    # encoded first: a state that cannot be stored leaves no file
    torch.save(_encode(state, type(net).__name__), content)
    content = content.getvalue()
    data = {
        "format": _FORMAT,
        "version": _FORMAT_VERSION,
        "sknc": __version__,
        "sha256": hashlib.sha256(content).hexdigest(),
        "payload": torch.frombuffer(bytearray(content), dtype=torch.uint8),
    }
    buffer = io.BytesIO()
    torch.save(data, buffer)
    if isinstance(f_state, (str, os.PathLike)):
        with open(f_state, "wb") as f:
            f.write(buffer.getvalue())
    else:
        f_state.write(buffer.getvalue())


def load_state(net, f_state, map_location):
    """Set the fitted state of a file on ``net`` and rebuild its network.

    Returns
    -------
    snapshot : dict
        ``net.__dict__`` as it was, for :func:`restore` if what follows fails.
    name : str
        The file's name, for messages.
    """
    encoded, name = _read_state(f_state, map_location)
    classes = {cls.__name__: cls for cls in DECODERS.values()}
    if isinstance(net.decoder, BaseDecoder):
        classes[type(net.decoder).__name__] = type(net.decoder)
    try:
        state = _decode(encoded, classes)
        _check_state(state)
    except StateFileError as exc:
        raise StateFileError(f"{name}: {exc}") from None
    snapshot = dict(net.__dict__)
    before = {k: getattr(net, k, None) for k in _SHAPE_KEYS}
    for key in FITTED_STATE:
        net.__dict__.pop(key, None)
    net.__dict__.update(state)
    if "label_proba_" not in state:
        # written before label_proba='auto': the network has no model of the
        # inputs, and an 'auto' estimator reads what it reads without one
        net.label_proba_ = (
            AUTO_FALLBACK if net.label_proba == "auto" else net.label_proba
        )
    try:
        changed = any(getattr(net, k, None) != before[k] for k in _SHAPE_KEYS)
        if not net.initialized_ or changed:
            with net._training_context():
                net.initialize()
    except BaseException:
        restore(net, snapshot)
        raise
    return snapshot, name


def restore(net, snapshot):
    """Put back the attributes :func:`load_state` replaced."""
    net.__dict__.clear()
    net.__dict__.update(snapshot)


def check_decision_fits_network(net, name):
    """Decode the outputs of a probe batch: the decoder must take the network's."""
    if not net.multilabel_:
        return
    probe = np.zeros((2, net.n_features_in_), dtype=np.float32)
    logits, features = net._outputs(net.get_dataset(probe))
    decoder = net.decision_.decoder_
    try:
        proba = decoder.predict_proba(logits, features)
        pred = decoder.predict(logits, features)
    except Exception as exc:
        raise StateFileError(
            f"{name}: its fitted decoder does not decode the outputs of the "
            f"network it describes ({type(exc).__name__}: {exc})."
        ) from None
    expected = (2, net._n_head_outputs)
    if tuple(proba.shape) != expected or tuple(pred.shape) != expected:
        raise StateFileError(
            f"{name}: its fitted decoder gives outputs of shape "
            f"{tuple(proba.shape)} for a network of {expected[1]} outputs."
        )


# ------------------------------------------------------------- checking
def _check_state(state):
    """Check every attribute of a decoded state, and that they agree."""
    if not isinstance(state, dict):
        raise StateFileError("it does not hold an sknc fitted state.")
    known = FITTED_STATE
    unknown = sorted(set(state) - set(known))
    if unknown:
        raise StateFileError(
            f"it sets {unknown[:5]}, which are not part of an sknc fitted state."
        )
    multilabel = state.get("multilabel_")
    # files written before label_proba='auto' have no label_proba_
    required = set(known) - {"feature_names_in_", "label_proba_"}
    missing = sorted(required - set(state))
    if missing:
        raise StateFileError(f"its fitted state lacks {missing}.")

    def bad(key, expected):
        raise StateFileError(
            f"{key}={_short(state[key])} does not fit the rest of the state: "
            f"expected {expected}."
        )

    if not isinstance(multilabel, bool):
        bad("multilabel_", "True or False")
    for key in ("n_features_in_", "n_outputs_"):
        value = state[key]
        if not isinstance(value, numbers.Integral) or isinstance(value, bool):
            bad(key, "a positive integer")
        if value < (1 if multilabel or key == "n_features_in_" else 2):
            bad(key, "a positive integer (at least 2 classes when multi-class)")
    n_features, K = state["n_features_in_"], state["n_outputs_"]
    names = state.get("feature_names_in_")
    if names is not None and (
        not isinstance(names, np.ndarray) or names.shape != (n_features,)
    ):
        bad("feature_names_in_", f"{n_features} names (n_features_in_)")
    labels = state["label_names_"]
    if not isinstance(labels, np.ndarray) or labels.shape != (K,):
        bad("label_names_", f"an array of {K} names (n_outputs_)")
    classes = state["classes_"]
    if multilabel and K == 2:
        ok = isinstance(classes, list) and [c.tolist() for c in classes] == [
            [0, 1],
            [0, 1],
        ]
    else:
        ok = isinstance(classes, np.ndarray) and np.array_equal(classes, labels)
    if not ok:
        bad("classes_", "the labels of label_names_")
    if not isinstance(state["background_label_"], bool) or (
        state["background_label_"] and not multilabel
    ):
        bad("background_label_", "a bool, False for a multi-class model")
    for key in ("early_stopping_",):
        if not isinstance(state[key], bool):
            bad(key, "True or False")
    if state.get("label_proba_", AUTO_FALLBACK) not in LABEL_PROBA[1:]:
        bad("label_proba_", f"one of {LABEL_PROBA[1:]}")
    decay = state["feature_decay_"]
    if not isinstance(decay, numbers.Real) or isinstance(decay, bool) or decay < 0:
        bad("feature_decay_", "a non-negative number")
    weights = state["class_weight_"]
    if weights is not None and (
        not isinstance(weights, np.ndarray) or weights.shape != (K,)
    ):
        bad("class_weight_", f"None or {K} weights (n_outputs_)")
    key = state["decoder_key_"]
    if not (
        isinstance(key, tuple)
        and len(key) == 2
        and all(isinstance(k, str) for k in key)
    ):
        bad("decoder_key_", "a pair of strings")
    if not multilabel:
        for key in ("target_dtype_", "decision_"):
            if state[key] is not None:
                bad(key, "None for a multi-class model")
        return
    dtype = state["target_dtype_"]
    if not isinstance(dtype, np.dtype) or dtype.kind not in "biuf":
        bad("target_dtype_", "a numeric or boolean dtype")
    decision = state["decision_"]
    if not isinstance(decision, Decision) or decision.n_labels != K:
        bad("decision_", f"a fitted decision over {K} labels (n_outputs_)")
    thresholds = decision.thresholds_
    if not (
        isinstance(thresholds, dict)
        and set(thresholds) == {"f1_micro", "f1_macro"}
        and all(
            torch.is_tensor(t) and t.is_floating_point() and tuple(t.shape) == (K,)
            for t in thresholds.values()
        )
    ):
        bad("decision_", f"f1_micro and f1_macro thresholds of {K} labels")


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
