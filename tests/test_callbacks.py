"""NeuralCollapseTracker: what it records, when, on which data, and at what cost."""

import warnings

import numpy as np
import pytest
import torch
from skorch import NeuralNet
from skorch.dataset import Dataset

from sknc import FixedETFClassifier, PALClassifier
from sknc.callbacks import NeuralCollapseTracker
from sknc.metrics import NeuralCollapseWarning, neural_collapse_report
from sknc.model_selection import MultilabelStratifiedValidSplit

from .conftest import FAST

pytestmark = pytest.mark.filterwarnings(
    # make_multilabel_classification draws one sample with all 5 labels: it
    # has no NCm angle after centring (expected, and tested in test_metrics)
    "ignore:1 label set\\(s\\) are left out of NCm:sknc.metrics.NeuralCollapseWarning",
    "ignore:rho for multiplicity 5:sknc.metrics.NeuralCollapseWarning",
)

NC_KEYS = ["train_nc1", "nc2", "train_nc2_means", "train_nc3", "train_ncm"]


def _history_keys(net, epoch):
    return {k for k in net.history[epoch - 1] if "nc" in k or "rho" in k}


def test_every_two_records_even_epochs_only(multilabel_data):
    X, Y = multilabel_data
    clf = PALClassifier(
        **FAST, feature_dim=8, callbacks=[NeuralCollapseTracker(every=2)]
    ).fit(X, Y)
    for epoch in (1, 3, 5):
        assert _history_keys(clf, epoch) == set()
    for epoch in (2, 4):
        assert _history_keys(clf, epoch) == {*NC_KEYS, "nc_dur"}
        row = clf.history[epoch - 1]
        assert all(np.isfinite(row[k]) for k in NC_KEYS)
        assert row["nc_dur"] > 0
    assert len(clf.history[:, "train_nc1"]) == 2


def test_last_epoch_matches_the_metrics_of_the_fitted_features(multilabel_data):
    X, Y = multilabel_data
    tracker = NeuralCollapseTracker(
        metrics=("nc1", "nc2", "nc2_means", "nc3", "ncm", "rho"),
        on_valid=True,
        random_state=0,
    )
    split = MultilabelStratifiedValidSplit(0.25, random_state=0)
    clf = PALClassifier(
        **FAST, feature_dim=8, train_split=split, callbacks=[tracker]
    ).fit(X, Y)
    # the same split again: the tracker measured exactly these rows
    train, valid = split(Dataset(X, Y), Y)
    W = clf.module_.head.weight.detach().numpy()
    row = clf.history[-1]
    for prefix, idx in (("train", train.indices), ("valid", valid.indices)):
        expected = neural_collapse_report(
            clf.transform(X[idx]), Y[idx], W, random_state=tracker.seed_
        )
        for key in ("nc1", "nc2_means", "nc3", "ncm"):
            assert row[f"{prefix}_{key}"] == pytest.approx(expected[key], rel=1e-4)
        assert row[f"{prefix}_rho_2"] == pytest.approx(expected["rho"][2], rel=1e-4)
        assert row["nc2"] == pytest.approx(expected["nc2"], rel=1e-6)
    assert row["train_nc1"] != row["valid_nc1"]


def test_training_is_unchanged_by_the_tracker(multilabel_data):
    X, Y = multilabel_data
    plain = FixedETFClassifier(**FAST).fit(X, Y)
    tracked = FixedETFClassifier(
        **FAST, callbacks=[NeuralCollapseTracker(random_state=0)]
    ).fit(X, Y)
    for a, b in zip(
        plain.module_.state_dict().values(),
        tracked.module_.state_dict().values(),
        strict=True,
    ):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert plain.history[:, "train_loss"] == tracked.history[:, "train_loss"]


def test_train_and_eval_mode_are_restored(multilabel_data):
    X, Y = multilabel_data
    clf = FixedETFClassifier(**{**FAST, "max_epochs": 1}).fit(X, Y)
    tracker = NeuralCollapseTracker().initialize()
    dataset = clf.get_dataset(X, Y.astype(np.float32))
    for training in (True, False):
        clf.module_.train(training)
        tracker.on_epoch_end(clf, dataset_train=dataset)
        assert clf.module_.training is training
        assert clf.module_.backbone.layers[1].training is training  # batch norm


def test_multiclass_net_skips_the_label_set_metrics(multilabel_data):
    X, Y = multilabel_data
    y = Y.argmax(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NeuralCollapseWarning)
        clf = FixedETFClassifier(
            **FAST, callbacks=[NeuralCollapseTracker(metrics=("nc1", "ncm", "rho"))]
        ).fit(X, y)
    assert _history_keys(clf, 5) == {"train_nc1", "nc_dur"}


def test_on_valid_needs_a_train_split(multilabel_data):
    X, Y = multilabel_data
    clf = FixedETFClassifier(**FAST, callbacks=[NeuralCollapseTracker(on_valid=True)])
    with pytest.raises(ValueError, match="train_split=None"):
        clf.fit(X, Y)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"every": 0}, r"'every' parameter .* must be an int in the range \[1"),
        ({"every": 1.5}, r"'every' parameter .* must be an int in the range \[1"),
        ({"metrics": ("nc1", "nc4")}, "'metrics' parameter .* must be"),
        ({"metrics": ()}, "'metrics' parameter .* must be"),
        ({"n_random": 0}, "n_random"),
    ],
)
def test_invalid_parameters(multilabel_data, params, match):
    X, Y = multilabel_data
    clf = FixedETFClassifier(**FAST, callbacks=[NeuralCollapseTracker(**params)])
    with pytest.raises(ValueError, match=match):
        clf.fit(X, Y)


def test_module_without_features_is_rejected(multilabel_data):
    X, Y = multilabel_data
    net = NeuralNet(
        torch.nn.Linear(X.shape[1], Y.shape[1]),
        criterion=torch.nn.BCEWithLogitsLoss,
        max_epochs=1,
        train_split=None,
        callbacks=[NeuralCollapseTracker(metrics=("nc1",))],
    )
    with pytest.raises(TypeError, match=r"returns \(logits, features\)"):
        net.fit(X, Y.astype(np.float32))
