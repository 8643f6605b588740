"""Saving and loading a fitted estimator's state beside skorch's parameters.

skorch's ``save_params`` writes the torch modules; ``save_params(f_state=...)``
adds what ``fit`` learned besides them (the input size, the labels, the fitted
decoder and the objective thresholds). The state file holds plain data only
(tensors, numbers, strings and lists or dicts of them; a decoder as its class
name, its parameters and its fitted values), written with :func:`torch.save`
and read with ``torch.load(weights_only=True)``, as skorch reads ``f_params``:
loading it cannot run code from the file. Files written by sknc before this
format were joblib pickles; they load only with ``allow_pickle=True``.
"""

import io
import os
import re
import zipfile

import joblib
import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from skorch.exceptions import NotInitializedError
from skorch.utils import get_map_location

from ._device import resolve_device
from ._version import __version__
from .decoders import BaseDecoder
from .decoders._registry import DECODERS

__all__ = ["PersistenceMixin", "UnsafeStateError"]

_FORMAT = "sknc.fitted-state"
_FORMAT_VERSION = 1
# The one key of a tagged value in the state: a dict with it is never user data.
_TAG = "__sknc__"
# What the network's shape depends on: a state that changes them rebuilds it.
_SHAPE_KEYS = ("n_features_in_", "n_outputs_", "background_label_")
_PLAIN_SCALARS = (bool, int, float, str, type(None))


class UnsafeStateError(ValueError):
    """A state file that only a pickle can read, refused by default.

    A pickle can run any code when it is loaded. Pass ``allow_pickle=True``
    to :meth:`~sknc.PALClassifier.load_params` only for a file from a source
    you trust.
    """


# ---------------------------------------------------------------- encoding
def _encode(value, where):
    """Return ``value`` as data ``torch.load(weights_only=True)`` reads back."""
    if isinstance(value, _PLAIN_SCALARS):
        return value
    if isinstance(value, torch.Tensor):
        return value.detach()
    if isinstance(value, np.generic):
        return _encode(value.item(), where)
    if isinstance(value, np.dtype):
        return {_TAG: "dtype", "str": value.str}
    if isinstance(value, np.ndarray):
        items = value.ravel().tolist()
        for item in items:
            _encode(item, f"{where}[...]")  # only plain items
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
            raise ValueError("The state file holds an array of an unsupported dtype.")
        array = np.empty(len(value["items"]), dtype=dtype)
        array[:] = value["items"]
        return array.reshape(value["shape"])
    if kind == "decoder":
        return _rebuild_decoder(value, decoder_classes)
    raise ValueError(f"The state file holds an unknown value: {sorted(value)[:5]}.")


def _rebuild_decoder(value, decoder_classes):
    name = value["class"]
    cls = decoder_classes.get(name)
    if cls is None:
        raise ValueError(
            f"The state file holds a fitted decoder of class {name!r}, which is "
            f"not an sknc decoder ({sorted(decoder_classes)}). Build the "
            f"estimator with decoder={name}(...) so that load_params can "
            "rebuild it."
        )
    decoder = cls(**_decode(value["params"], decoder_classes))
    for key, item in _decode(value["fitted"], decoder_classes).items():
        if not _is_fitted_name(key):
            raise ValueError(f"The state file sets {key!r} on the decoder.")
        setattr(decoder, key, item)
    return decoder


# ---------------------------------------------------------------- reading
def _is_zip(f):
    if isinstance(f, (str, os.PathLike)):
        return zipfile.is_zipfile(f)
    position = f.tell()
    try:
        return zipfile.is_zipfile(f)
    finally:
        f.seek(position)


def _refusal(f_state, why):
    name = f_state if isinstance(f_state, (str, os.PathLike)) else "the file"
    return UnsafeStateError(
        f"{name} is not an sknc state file that loads without running code: "
        f"{why} Loading a pickle can run any code it contains. State files "
        "saved by earlier versions of sknc (joblib pickles) load with "
        "load_params(..., allow_pickle=True): pass it only for a file from a "
        "source you trust, then save_params(f_state=...) again to write the "
        "plain-data format."
    )


def _read_state(f_state, map_location, allow_pickle):
    """Return the fitted state of a file: (attributes, whether it is a pickle)."""
    if not _is_zip(f_state):
        if not allow_pickle:
            raise _refusal(f_state, "it is a pickle (a joblib file).")
        return joblib.load(f_state), True
    position = None if isinstance(f_state, (str, os.PathLike)) else f_state.tell()
    try:
        data = torch.load(f_state, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, or others
        if not allow_pickle:
            detail = str(exc).strip().splitlines()
            raise _refusal(
                f_state,
                "it holds objects other than tensors and plain data "
                f"({detail[-1] if detail else type(exc).__name__}).",
            ) from None
        if position is not None:
            f_state.seek(position)
        data = torch.load(f_state, map_location=map_location, weights_only=False)
        return (data if isinstance(data, dict) else {}), True
    if not (isinstance(data, dict) and data.get("format") == _FORMAT):
        raise ValueError(
            "This file is not an sknc state file: write one with "
            "save_params(f_state=...)."
        )
    if data.get("version", 0) > _FORMAT_VERSION:
        raise ValueError(
            f"The state file was written by sknc {data.get('sknc', '?')} in a "
            f"newer format (version {data['version']}); upgrade sknc to load it."
        )
    return data["state"], False


# ------------------------------------------------------------ mismatches
_SIZE_MISMATCH = re.compile(
    r"size mismatch for ([\w.]+): copying a param with shape torch.Size\(\[([^\]]*)\]\)"
    r" from checkpoint, the shape in current model is torch.Size\(\[([^\]]*)\]\)"
)
_KEYS = re.compile(r"(Missing|Unexpected) key\(s\) in state_dict: (.*?)\.\s*$", re.M)


def _shape(text):
    return str(tuple(int(n) for n in text.split(",") if n.strip()))


def _mismatch_message(exc):
    """Name the layers whose saved and expected shapes differ, from torch's error."""
    lines, resized, structure = [], False, []
    for name, saved, here in _SIZE_MISMATCH.findall(str(exc)):
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
        hints.append(
            "another head (feature_norm; models saved before PALClassifier "
            "normalized its features by default need feature_norm=None)"
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


class PersistenceMixin:
    """``save_params``/``load_params`` with sknc's fitted state (``f_state``).

    skorch saves the torch modules; a fresh estimator also needs what ``fit``
    learned besides them (the label encoding, the input size, the decoder).
    """

    def __setstate__(self, state):
        # skorch maps the saved tensors onto state["device"]: resolve 'auto'
        requested = state.get("device")
        if str(requested) == "auto":
            state = {**state, "device": resolve_device("auto")}
        super().__setstate__(state)
        self.device = requested

    # ----------------------------------------------------------- persistence
    # What fit learns beyond the torch state: needed to rebuild the network
    # and to decode its outputs in a fresh estimator.
    _fitted_state = (
        "n_features_in_",
        "feature_names_in_",
        "multilabel_",
        "label_names_",
        "n_outputs_",
        "classes_",
        "target_dtype_",
        "background_label_",
        "decoder_",
        "decoder_key_",
        "thresholds_",
        "class_weight_",
        "early_stopping_",
        "feature_decay_",
    )

    def initialize(self):
        """Initialize the network, once its input size is known.

        The network's size comes from the data: before :meth:`fit`, or before
        ``load_params(f_state=...)`` restores a saved model, there is nothing
        to build yet and this returns the estimator unchanged (skorch's
        ``net.initialize(); net.load_params(...)`` recipe then works, with
        ``f_state``).

        Returns
        -------
        self : estimator
            The estimator.
        """
        if not hasattr(self, "n_features_in_"):
            return self
        return super().initialize()

    def save_params(
        self,
        f_params=None,
        f_optimizer=None,
        f_criterion=None,
        f_history=None,
        f_state=None,
        **kwargs,
    ):
        """Save the network's parameters, and optionally sknc's fitted state.

        Parameters
        ----------
        f_params, f_optimizer, f_criterion, f_history : file-like or str, default=None
            See :meth:`skorch.NeuralNet.save_params`.
        f_state : file-like or str, default=None
            Where to save what ``fit`` learned besides the torch modules: the
            label encoding, the input size, the fitted decoder and the
            objective thresholds, as plain data (:func:`torch.save` of
            tensors, numbers and strings, which
            ``torch.load(weights_only=True)`` reads back). With it,
            :meth:`load_params` restores a working model into a fresh
            estimator.
        **kwargs : dict
            Passed to :meth:`skorch.NeuralNet.save_params`.
        """
        super().save_params(
            f_params=f_params,
            f_optimizer=f_optimizer,
            f_criterion=f_criterion,
            f_history=f_history,
            **kwargs,
        )
        if f_state is not None:
            check_is_fitted(self, "classes_")
            state = {
                k: getattr(self, k) for k in self._fitted_state if hasattr(self, k)
            }
            data = {
                "format": _FORMAT,
                "version": _FORMAT_VERSION,
                "sknc": __version__,
                "state": _encode(state, type(self).__name__),
            }
            # encoded first: a state that cannot be stored leaves no file
            buffer = io.BytesIO()
            torch.save(data, buffer)
            if isinstance(f_state, (str, os.PathLike)):
                with open(f_state, "wb") as f:
                    f.write(buffer.getvalue())
            else:
                f_state.write(buffer.getvalue())

    def load_params(
        self,
        f_params=None,
        f_optimizer=None,
        f_criterion=None,
        f_history=None,
        f_state=None,
        allow_pickle=False,
        **kwargs,
    ):
        """Load what :meth:`save_params` saved.

        Parameters
        ----------
        f_params, f_optimizer, f_criterion, f_history : file-like or str, default=None
            See :meth:`skorch.NeuralNet.load_params`.
        f_state : file-like or str, default=None
            sknc's fitted state saved with ``save_params(f_state=...)``. Load
            it to make an unfitted estimator (built with the same
            parameters) ready to predict; the network is initialised first.
            A fresh estimator needs it: ``f_params`` alone does not say the
            input size or the labels.
        allow_pickle : bool, default=False
            Also read a state file that only a pickle can read: one written
            by sknc before the plain-data format (a joblib file). Loading a
            pickle can run any code it contains: pass True only for a file
            from a source you trust.
        **kwargs : dict
            Passed to :meth:`skorch.NeuralNet.load_params`.
        """
        if f_state is not None:
            self._load_state(f_state, allow_pickle)
        elif not self.initialized_ and not hasattr(self, "n_features_in_"):
            wanted = [f_params, f_optimizer, f_criterion, kwargs.get("checkpoint")]
            if any(f is not None for f in wanted) or any(
                k.startswith("f_") for k in kwargs
            ):
                raise NotInitializedError(
                    f"This {type(self).__name__} does not know its input size "
                    "and labels yet, so the saved network has nothing to load "
                    "into. Call load_params(f_params=..., f_state=...) with the "
                    "state file save_params(f_state=...) wrote beside the "
                    "parameters: it holds the input size, the labels and the "
                    "fitted decoder (or fit the estimator first)."
                )
        with self._device_context():
            try:
                super().load_params(
                    f_params=f_params,
                    f_optimizer=f_optimizer,
                    f_criterion=f_criterion,
                    f_history=f_history,
                    **kwargs,
                )
            except RuntimeError as exc:
                if "state_dict" not in str(exc):
                    raise
                raise ValueError(_mismatch_message(exc)) from exc

    def _load_state(self, f_state, allow_pickle):
        with self._device_context():
            map_location = get_map_location(self.device)
        state, pickled = _read_state(f_state, map_location, allow_pickle)
        if not pickled:
            classes = {cls.__name__: cls for cls in DECODERS.values()}
            if isinstance(self.decoder, BaseDecoder):
                classes[type(self.decoder).__name__] = type(self.decoder)
            state = _decode(state, classes)
        if not isinstance(state, dict):
            raise ValueError("The state file does not hold an sknc fitted state.")
        unknown = sorted(set(state) - set(self._fitted_state))
        if unknown:
            raise ValueError(
                f"The state file sets {unknown[:5]}, which are not part of an "
                "sknc fitted state."
            )
        before = {k: getattr(self, k, None) for k in _SHAPE_KEYS}
        for key, value in state.items():
            setattr(self, key, value)
        changed = any(getattr(self, k, None) != before[k] for k in _SHAPE_KEYS)
        if not self.initialized_ or changed:
            with self._training_context():
                self.initialize()
