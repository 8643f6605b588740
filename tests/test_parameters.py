"""Every constructor parameter is validated by ``_parameter_constraints`` (#18).

A bad value fails at ``fit`` (or at the object's first use) with
scikit-learn's message, "The 'x' parameter of Y must be ...", before any
epoch runs, instead of deep inside torch or skorch.
"""

import inspect

import numpy as np
import pytest
import torch
from sklearn.utils._param_validation import InvalidParameterError
from skorch.callbacks import Callback

import sknc
from sknc import (
    FixedETFClassifier,
    KNNDecoder,
    NeuralCollapseScorer,
    ONNDecoder,
    PALClassifier,
    ThresholdDecoder,
    TopKDecoder,
)
from sknc.callbacks import NeuralCollapseTracker
from sknc.model_selection import TunedDecoderCV

from .conftest import FAST

ESTIMATORS = [PALClassifier, FixedETFClassifier]
DECODERS = [KNNDecoder, ONNDecoder, ThresholdDecoder, TopKDecoder]
# skorch's __init__ leaks this into get_params (a documented expected failure
# of scikit-learn's check_set_params)
_NOT_PARAMETERS = {"_params_to_validate"}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 6)).astype(np.float32)
    Y = (rng.random((40, 4)) > 0.5).astype(int)
    Y[Y.sum(1) == 0, 0] = 1
    return X, Y


def _params(obj):
    return sorted(set(obj.get_params(deep=False)) - _NOT_PARAMETERS)


def _cases(classes):
    return [(cls, name) for cls in classes for name in _params(cls())]


def _id(case):
    cls, name = case
    return f"{cls.__name__}-{name}"


class _Stop(Callback):
    """Fails the test if training starts: bad values must be caught first."""

    def on_train_begin(self, net, **kwargs):
        raise AssertionError("training started with an invalid parameter")


ALL = [*ESTIMATORS, *DECODERS, NeuralCollapseScorer, NeuralCollapseTracker]


@pytest.mark.parametrize("cls", [*ALL, TunedDecoderCV], ids=lambda c: c.__name__)
def test_every_constructor_parameter_has_a_constraint(cls):
    obj = cls(PALClassifier(), {}) if cls is TunedDecoderCV else cls()
    missing = sorted(set(_params(obj)) - set(cls._parameter_constraints))
    assert not missing


# A value no constraint accepts (not None, a number, a string, a bool, an
# array or a callable): each parameter must reject it.
_NOTHING = object()


@pytest.mark.parametrize("case", _cases(ESTIMATORS), ids=_id)
def test_estimators_reject_a_bad_value_of_each_parameter(case, data):
    cls, name = case
    X, Y = data
    clf = cls(**FAST).set_params(**{name: _NOTHING})
    with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter of"):
        clf.fit(X, Y)


@pytest.mark.parametrize(
    "params, name",
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": -2}, "batch_size"),
        ({"max_epochs": -1}, "max_epochs"),
        ({"lr": 0.0}, "lr"),
        ({"hidden_layer_sizes": 0}, "hidden_layer_sizes"),
        ({"feature_norm": -1.0}, "feature_norm"),
        ({"objective": "f2"}, "objective"),
        ({"background_label": "yes"}, "background_label"),
        ({"verbose": -1}, "verbose"),
        ({"callbacks": "none"}, "callbacks"),
        ({"optimizer": "adamw"}, "optimizer"),
        ({"train_split": 0.2}, "train_split"),
        ({"use_caching": "maybe"}, "use_caching"),
        ({"device": 0.5}, "device"),
    ],
    ids=lambda v: str(v) if not isinstance(v, dict) else repr(v)[1:-1],
)
def test_realistic_bad_values_fail_before_training(params, name, data):
    X, Y = data
    clf = PALClassifier(**FAST, callbacks=[("stop", _Stop())]).set_params(**params)
    with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter of"):
        clf.fit(X, Y)


def test_batch_size_minus_one_is_the_whole_data_set(data):
    X, Y = data
    clf = PALClassifier(**{**FAST, "batch_size": -1, "max_epochs": 1}).fit(X, Y)
    assert len(clf.history[-1]["batches"]) == 1


@pytest.mark.parametrize("device", ["gpu", "cuda:x"])
def test_an_unknown_device_gets_the_device_resolvers_error(device, data):
    X, Y = data
    clf = PALClassifier(**FAST, device=device, callbacks=[("stop", _Stop())])
    with pytest.raises(ValueError, match=f"device='{device}' is not a device name"):
        clf.fit(X, Y)


@pytest.mark.parametrize("case", _cases(DECODERS), ids=_id)
def test_decoders_reject_a_bad_value_at_the_estimators_fit(case, data):
    cls, name = case
    X, Y = data
    decoder = cls().set_params(**{name: _NOTHING})
    clf = PALClassifier(**FAST, decoder=decoder, callbacks=[("stop", _Stop())])
    with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter of"):
        clf.fit(X, Y)


def test_decoder_parameters_set_on_the_estimator_are_checked_first(data):
    X, Y = data
    clf = PALClassifier(**FAST, decoder__n_neighbors=0, callbacks=[("stop", _Stop())])
    with pytest.raises(InvalidParameterError, match="'n_neighbors' parameter of KNN"):
        clf.fit(X, Y)


@pytest.mark.parametrize("case", _cases([NeuralCollapseScorer]), ids=_id)
def test_the_scorer_rejects_a_bad_value_of_each_parameter(case, data):
    cls, name = case
    X, Y = data
    scorer = cls().set_params(**{name: _NOTHING})
    with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter of"):
        scorer.fit(X, Y)
    clf = PALClassifier(**FAST).fit(X, Y)
    with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter of"):
        scorer(clf, X, Y)


@pytest.mark.parametrize("case", _cases([NeuralCollapseTracker]), ids=_id)
def test_the_tracker_rejects_a_bad_value_of_each_parameter(case, data):
    cls, name = case
    X, Y = data
    tracker = cls(**{name: _NOTHING})
    clf = PALClassifier(**FAST, callbacks=[("nc", tracker), ("stop", _Stop())])
    with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter of"):
        clf.fit(X, Y)


def test_the_public_classes_are_all_covered():
    # a new estimator-like public class needs a row in this file
    public = {
        obj
        for name in sknc.__all__
        if isinstance(obj := getattr(sknc, name), type)
        and hasattr(obj, "_parameter_constraints")
    }
    assert public - {sknc.BaseDecoder} <= set(ALL)


@pytest.mark.parametrize("cls", [PALClassifier, FixedETFClassifier])
def test_the_signature_lists_every_parameter_with_its_default(cls):
    # help() and the API page showed (module=None, *args, ..., **kwargs)
    signature = inspect.signature(cls)
    defaults = cls().get_params(deep=False)
    listed = {
        name: p.default
        for name, p in signature.parameters.items()
        if p.kind is not p.VAR_KEYWORD
    }
    assert {"objective", "decoder", "lr", "class_weight", "device"} <= set(listed)
    assert set(listed) == set(defaults)
    for name, default in listed.items():
        assert default is defaults[name] or default == defaults[name], name
    assert "objective :" in cls.__doc__


def test_adam_steps_with_its_fused_kernel_unless_told_otherwise(multilabel_data):
    X, Y = multilabel_data
    fused = PALClassifier(**FAST).fit(X, Y)
    assert fused.optimizer_.defaults["fused"] is True
    # the user's choice of kernel wins, and other optimizers are left alone
    own = PALClassifier(**FAST, optimizer__foreach=False).fit(X, Y)
    assert not own.optimizer_.defaults["fused"]
    assert own.optimizer_.defaults["foreach"] is False
    sgd = PALClassifier(**FAST, optimizer=torch.optim.SGD).fit(X, Y)
    assert not sgd.optimizer_.defaults.get("fused")
    # the same seed still gives the same model
    again = PALClassifier(**FAST).fit(X, Y)
    np.testing.assert_array_equal(fused.predict_proba(X), again.predict_proba(X))
