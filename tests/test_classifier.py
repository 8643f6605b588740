import io
import pickle
import warnings

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.datasets import load_iris, make_multilabel_classification
from sklearn.metrics import f1_score
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sknc import (
    FixedETFClassifier,
    ONNDecoder,
    PALClassifier,
    ThresholdDecoder,
    TopKDecoder,
)
from sknc.model_selection import (
    MultilabelStratifiedKFold,
    MultilabelStratifiedValidSplit,
)

from .conftest import FAST

ESTIMATORS = [PALClassifier, FixedETFClassifier]


@pytest.fixture(scope="module", params=ESTIMATORS, ids=lambda c: c.__name__)
def fitted(request, multilabel_data):
    X, Y = multilabel_data
    return request.param(**FAST).fit(X, Y), X, Y


def test_multilabel_outputs(fitted):
    clf, X, Y = fitted
    K = Y.shape[1]
    pred = clf.predict(X)
    assert pred.shape == Y.shape and pred.dtype == Y.dtype
    assert set(np.unique(pred)) <= {0, 1}
    assert (pred.sum(1) >= 1).all()  # at least one label per sample
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), K)
    assert ((proba > 0) & (proba < 1)).all()
    # the default ONN decoder predicts label sets seen in training
    seen = {tuple(row) for row in Y}
    assert all(tuple(row) in seen for row in pred)
    assert clf.decision_function(X).shape == (len(X), K)
    assert clf.transform(X).shape == (len(X), clf.feature_dim_)
    assert clf.transform(X).dtype == np.float32
    np.testing.assert_array_equal(clf.classes_, np.arange(K))
    assert clf.n_features_in_ == X.shape[1]
    assert clf.score(X, Y) == np.mean(np.all(pred == Y, axis=1))
    assert len(clf.get_feature_names_out()) == clf.feature_dim_


def test_fixed_etf_head_is_a_fixed_buffer(fitted):
    clf, X, Y = fitted
    if not isinstance(clf, FixedETFClassifier):
        pytest.skip("learned head")
    K = Y.shape[1]
    assert clf.feature_dim_ == K  # default feature_dim is the number of labels
    head = clf.module_.head
    assert "etf" in dict(head.named_buffers())
    assert "etf" not in dict(head.named_parameters())
    M = head.etf.double()
    expected = (K * torch.eye(K, dtype=torch.float64) - 1) / (K - 1)
    assert torch.allclose(M @ M.T, expected, atol=1e-6)
    # the only trainable head parameter is the scale
    assert [n for n, _ in head.named_parameters()] == ["log_scale"]


def test_etf_saves_parameters(multilabel_data):
    X, Y = multilabel_data
    K = Y.shape[1]
    pal = PALClassifier(**FAST, feature_dim=64).fit(X, Y)
    etf = FixedETFClassifier(**FAST).fit(X, Y)
    h = FAST["hidden_layer_sizes"][0]
    backbone = (X.shape[1] * h + h) + 2 * h  # first layer and batch norm
    # the default normalized head: K rows, no bias, one learned temperature
    label_head = 64 * K + K  # label_proba's per-label logistic head
    assert pal.n_trainable_params_ == (
        backbone + (h * 64 + 64) + (64 * K + 1) + label_head
    )
    plain = PALClassifier(
        **FAST, feature_dim=64, feature_norm=None, label_proba="decoder"
    ).fit(X, Y)
    assert plain.n_trainable_params_ == backbone + (h * 64 + 64) + (64 * K + K)
    assert etf.n_trainable_params_ == backbone + (h * K + K) + 1 + (K * K + K)


def test_learns_a_multilabel_problem(multilabel_data):
    X, Y = multilabel_data
    X = StandardScaler().fit_transform(X)
    for cls in ESTIMATORS:
        # ONN: its prototypes come from the network alone, where the default
        # KNNDecoder would partly recall its own training rows
        clf = cls(
            max_epochs=40,
            hidden_layer_sizes=(64,),
            lr=3e-3,
            random_state=0,
            decoder="onn",
            # train_loss is then the PAL loss alone (the head adds its BCE)
            label_proba="decoder",
        )
        clf.fit(X, Y)
        assert f1_score(Y, clf.predict(X), average="micro") > 0.85
        # PAL cannot go below m log m for a sample with m labels
        m = Y.sum(1)
        floor = np.mean(m * np.log(m))
        first, last = clf.history[0, "train_loss"], clf.history[-1, "train_loss"]
        assert last - floor < 0.4 * (first - floor)


def test_multiclass_mode_returns_original_labels():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = PALClassifier(max_epochs=40, lr=1e-2, batch_size=32, random_state=0)
    clf.fit(X, names)
    assert not clf.multilabel_
    np.testing.assert_array_equal(clf.classes_, np.unique(names))
    pred = clf.predict(X)
    assert pred.dtype == names.dtype and set(pred) <= set(names)
    assert np.mean(pred == names) > 0.9
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-10)
    assert clf.decision_function(X).shape == (150, 3)


def test_binary_decision_function_is_one_dimensional():
    X, y = load_iris(return_X_y=True)
    X, y = X[y < 2], y[y < 2]
    clf = FixedETFClassifier(max_epochs=5, random_state=0).fit(X, y)
    scores = clf.decision_function(X)
    assert scores.shape == (100,)
    np.testing.assert_array_equal(clf.predict(X), (scores > 0).astype(int))


def test_dataframe_targets_name_the_classes(multilabel_data):
    pd = pytest.importorskip("pandas")
    X, Y = multilabel_data
    names = ["a", "b", "c", "d", "e"]
    Xdf = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    Ydf = pd.DataFrame(Y.astype(bool), columns=names)
    clf = PALClassifier(**FAST).fit(Xdf, Ydf)
    np.testing.assert_array_equal(clf.classes_, names)
    np.testing.assert_array_equal(clf.feature_names_in_, Xdf.columns)
    assert clf.predict(Xdf).dtype == bool
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(Xdf[Xdf.columns[::-1]])


def test_sparse_input_matches_dense(multilabel_data):
    X, Y = multilabel_data
    dense = PALClassifier(**FAST).fit(X, Y)
    sparse = PALClassifier(**FAST).fit(sp.csr_matrix(X), sp.csr_matrix(Y))
    np.testing.assert_allclose(
        sparse.predict_proba(sp.csr_matrix(X)), dense.predict_proba(X), rtol=1e-5
    )
    np.testing.assert_array_equal(sparse.predict(sp.csr_array(X)), dense.predict(X))


def test_two_labels_work_with_probability_scorers(multilabel_data):
    X, Y = multilabel_data
    Y2 = Y[:, :2]
    keep = Y2.sum(1) > 0
    clf = FixedETFClassifier(**FAST)
    scores = cross_validate(
        clf,
        X[keep],
        Y2[keep],
        cv=3,
        scoring=["roc_auc", "average_precision", "f1_micro"],
    )
    assert np.isfinite(scores["test_roc_auc"]).all()
    assert np.isfinite(scores["test_average_precision"]).all()


def test_random_state_gives_identical_predictions(multilabel_data):
    X, Y = multilabel_data
    for cls in ESTIMATORS:
        params = {**FAST, "dropout": 0.2}
        a = cls(**params).fit(X, Y).predict_proba(X)
        b = cls(**params).fit(X, Y).predict_proba(X)
        c = cls(**{**params, "random_state": 1}).fit(X, Y).predict_proba(X)
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)


def test_fitting_leaves_the_global_torch_rng_alone(multilabel_data):
    X, Y = multilabel_data
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    PALClassifier(**FAST).fit(X, Y)
    np.testing.assert_array_equal(torch.rand(3), expected)


def test_predictions_do_not_depend_on_batching(multilabel_data):
    X, Y = multilabel_data
    clf = FixedETFClassifier(**FAST).fit(X, Y)
    full = clf.decision_function(X)
    one_by_one = np.vstack([clf.decision_function(X[i : i + 1]) for i in range(20)])
    # float32 products may round a row differently at another position in a
    # batch; beyond that, a row's outputs are independent of its neighbours
    np.testing.assert_allclose(one_by_one, full[:20], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(clf.decision_function(X[:7]), full[:7])


class SmallCNN(torch.nn.Module):
    """Reads flat 8x8 images and returns `width` features."""

    def __init__(self, width=12):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.out = torch.nn.Linear(4 * 4 * 4, width)

    def forward(self, X):
        h = torch.relu(self.conv(X.view(-1, 1, 8, 8)))
        h = torch.nn.functional.max_pool2d(h, 2)
        return self.out(h.flatten(1))


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_custom_backbone_gets_the_head(cls):
    rng = np.random.default_rng(0)
    X = rng.random((60, 64), dtype=np.float32)
    Y = (rng.random((60, 4)) > 0.5).astype(int)
    Y[Y.sum(1) == 0, 0] = 1
    clf = cls(SmallCNN, module__width=12, max_epochs=2, random_state=0).fit(X, Y)
    assert clf.feature_dim_ == 12
    assert clf.transform(X).shape == (60, 12)
    assert isinstance(clf.module_.backbone, SmallCNN)
    # an instance is copied, never trained in place
    template = SmallCNN()
    before = {k: v.clone() for k, v in template.state_dict().items()}
    cls(template, max_epochs=2, random_state=0).fit(X, Y)
    for k, v in template.state_dict().items():
        assert torch.equal(v, before[k])
    with pytest.raises(ValueError, match="custom module returns 12 features"):
        cls(SmallCNN, feature_dim=5, max_epochs=1).fit(X, Y)


def test_feature_decay_shrinks_features(multilabel_data):
    X, Y = multilabel_data
    norms = []
    for decay in (0.0, 1.0):
        clf = PALClassifier(
            **{**FAST, "max_epochs": 20}, feature_decay=decay, feature_norm=None
        )
        norms.append(np.linalg.norm(clf.fit(X, Y).transform(X), axis=1).mean())
    assert norms[1] < 0.5 * norms[0]


@pytest.mark.parametrize(
    "decoder, expected",
    [("onn", 1e-2), (ONNDecoder(candidates="both"), 1e-2), ("knn", 1e-4)],
)
def test_auto_feature_decay_follows_the_decoder(multilabel_data, decoder, expected):
    X, Y = multilabel_data
    auto = FixedETFClassifier(**FAST, decoder=decoder).fit(X, Y)
    assert auto.feature_decay == "auto"
    assert auto.feature_decay_ == expected
    # 'auto' trains exactly the network of the explicit value
    explicit = FixedETFClassifier(**FAST, decoder=decoder, feature_decay=expected).fit(
        X, Y
    )
    assert explicit.feature_decay_ == expected
    np.testing.assert_array_equal(auto.transform(X), explicit.transform(X))
    other = 1e-4 if expected == 1e-2 else 1e-2
    different = FixedETFClassifier(**FAST, decoder=decoder, feature_decay=other).fit(
        X, Y
    )
    assert not np.array_equal(auto.transform(X), different.transform(X))


def test_resolved_feature_decay_survives_the_state_file(multilabel_data):
    X, Y = multilabel_data
    clf = FixedETFClassifier(**FAST, decoder="onn").fit(X, Y)
    params, state = io.BytesIO(), io.BytesIO()
    clf.save_params(f_params=params, f_state=state)
    params.seek(0)
    state.seek(0)
    new = FixedETFClassifier(**FAST, decoder="onn")
    new.load_params(f_params=params, f_state=state)
    assert new.feature_decay_ == clf.feature_decay_ == 1e-2


def test_feature_decay_defaults():
    assert FixedETFClassifier().feature_decay == "auto"
    assert PALClassifier().feature_decay == 1e-4
    clf = PALClassifier(**FAST, feature_decay="auto", decoder="onn", feature_norm=None)
    X, Y = make_multilabel_classification(n_samples=40, n_classes=3)
    assert clf.fit(X.astype(np.float32), Y).feature_decay_ == 1e-2


def test_loss_variants_and_custom_criterion(multilabel_data):
    X, Y = multilabel_data
    pal_n = PALClassifier(**FAST, loss="pal_n").fit(X, Y)
    assert pal_n.criterion_.normalize is True
    bce = PALClassifier(**FAST, criterion=torch.nn.BCEWithLogitsLoss).fit(X, Y)
    assert isinstance(bce.criterion_, torch.nn.BCEWithLogitsLoss)
    assert bce.predict(X).shape == Y.shape


def test_auto_device_keeps_the_parameter(multilabel_data):
    X, Y = multilabel_data
    clf = PALClassifier(**FAST, device="auto").fit(X, Y)
    assert clf.device == "auto"
    assert clf.predict(X).shape == Y.shape
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert next(clf.module_.parameters()).device.type in (expected, "mps")
    copy = pickle.loads(pickle.dumps(clf))
    assert copy.device == "auto"
    np.testing.assert_array_equal(copy.predict(X), clf.predict(X))


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available")
def test_cuda_without_a_gpu_gives_a_clear_error(multilabel_data):
    X, Y = multilabel_data
    with pytest.raises(ValueError, match="CUDA is not available"):
        PALClassifier(**FAST, device="cuda").fit(X, Y)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_cuda_smoke(cls, multilabel_data):
    X, Y = multilabel_data
    clf = cls(**FAST, device="cuda").fit(X, Y)
    assert next(clf.module_.parameters()).is_cuda
    assert clf.predict(X).shape == Y.shape
    cpu = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(cpu.predict(X), clf.predict(X))


def test_pipeline_clone_and_grid_search(multilabel_data):
    X, Y = multilabel_data
    pipe = Pipeline([("scale", StandardScaler()), ("clf", FixedETFClassifier(**FAST))])
    assert pipe.fit(X, Y).predict(X).shape == Y.shape
    search = GridSearchCV(
        FixedETFClassifier(**FAST),
        {"feature_dim": [5, 8], "lr": [1e-3, 1e-2]},
        cv=MultilabelStratifiedKFold(n_splits=3, shuffle=True, random_state=0),
        scoring="f1_micro",
    )
    search.fit(X, Y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_estimator_.feature_dim_ == search.best_params_["feature_dim"]
    unfitted = clone(search.best_estimator_)
    assert not hasattr(unfitted, "classes_")


def test_cross_validate_with_multilabel_scorers(multilabel_data):
    X, Y = multilabel_data
    scores = cross_validate(
        PALClassifier(**FAST),
        X,
        Y,
        cv=MultilabelStratifiedKFold(n_splits=3, shuffle=True, random_state=0),
        scoring=["f1_micro", "f1_macro", "accuracy", "roc_auc", "neg_log_loss"],
    )
    for key in ("test_f1_micro", "test_f1_macro", "test_roc_auc"):
        assert np.all((scores[key] >= 0) & (scores[key] <= 1))


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_pickle_and_joblib_round_trips(cls, multilabel_data):
    X, Y = multilabel_data
    clf = cls(**FAST).fit(X, Y)
    buf = io.BytesIO()
    joblib.dump(clf, buf)
    buf.seek(0)
    for copy in (pickle.loads(pickle.dumps(clf)), joblib.load(buf)):
        np.testing.assert_array_equal(copy.predict(X), clf.predict(X))
        np.testing.assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_save_and_load_params_into_a_fresh_estimator(cls, multilabel_data, tmp_path):
    X, Y = multilabel_data
    clf = cls(**FAST).fit(X, Y)
    clf.save_params(f_params=tmp_path / "params.pt", f_state=tmp_path / "state.pt")
    fresh = cls(**{**FAST, "random_state": 5})
    fresh.load_params(f_params=tmp_path / "params.pt", f_state=tmp_path / "state.pt")
    np.testing.assert_array_equal(fresh.predict(X), clf.predict(X))
    np.testing.assert_array_equal(fresh.predict_proba(X), clf.predict_proba(X))
    if cls is FixedETFClassifier:  # the ETF buffer travels with the parameters
        assert torch.equal(fresh.module_.head.etf, clf.module_.head.etf)


def test_partial_fit_continues_training_and_refits_the_decoder(multilabel_data):
    X, Y = multilabel_data
    clf = PALClassifier(**FAST).fit(X, Y)
    decoder = clf.decoder_
    clf.partial_fit(X, Y)
    assert len(clf.history) == 2 * FAST["max_epochs"]
    assert clf.decoder_ is not decoder
    with pytest.raises(ValueError, match="0/1 indicator with 5 columns"):
        clf.partial_fit(X, Y[:, :3])


def test_stratified_validation_split(multilabel_data):
    X, Y = multilabel_data
    clf = PALClassifier(
        **FAST,
        train_split=MultilabelStratifiedValidSplit(0.25, random_state=0),
        decoder="onn",
        decoder__min_count=1,  # every training row then backs a prototype
    ).fit(X, Y)
    assert np.isfinite(clf.history[-1, "valid_loss"])
    valid_sizes = [
        b["valid_batch_size"]
        for b in clf.history[-1, "batches"]
        if "valid_batch_size" in b
    ]
    assert sum(valid_sizes) == 40
    # the decoder's prototypes come from the 120 training rows; its
    # temperature from the 40 validation rows
    assert int(clf.decoder_.prototype_counts_.sum()) == 120
    plain = PALClassifier(**FAST, decoder="onn").fit(X, Y)
    assert clf.decoder_.temperature_ != plain.decoder_.temperature_


@pytest.mark.parametrize(
    "decoder, cls",
    [("onn", ONNDecoder), ("threshold", ThresholdDecoder), ("topk", TopKDecoder)],
)
def test_decoder_by_name(decoder, cls, multilabel_data):
    X, Y = multilabel_data
    clf = PALClassifier(**FAST, decoder=decoder).fit(X, Y)
    assert type(clf.decoder_) is cls
    assert clf.predict(X).shape == Y.shape


def test_decoder_parameters_can_be_set_and_grid_searched(multilabel_data):
    X, Y = multilabel_data
    clf = PALClassifier(**FAST, decoder="threshold", decoder__threshold=0.3)
    assert clf.fit(X, Y).decoder_.threshold_ == 0.3
    clf = PALClassifier(**FAST).fit(X, Y)
    clf.set_params(decoder__metric="cosine")
    assert clone(clf).get_params()["decoder__metric"] == "cosine"
    assert clf.fit(X, Y).decoder_.metric == "cosine"
    search = GridSearchCV(
        PALClassifier(**FAST, decoder="threshold"),
        {"decoder__threshold": [0.2, 0.6]},
        cv=MultilabelStratifiedKFold(n_splits=2, shuffle=True, random_state=0),
        scoring="f1_micro",
    ).fit(X, Y)
    assert search.best_estimator_.decoder_.threshold_ in (0.2, 0.6)
    with pytest.raises(ValueError, match="Invalid parameter 'nope'"):
        PALClassifier(**FAST, decoder__nope=1).fit(X, Y)


def _data_with_empty_rows(n=600, K=4, seed=0):
    """Label k adds a direction; 40 % of rows show only 'other' content."""
    centers = 3 * np.random.RandomState(0).randn(K + 1, 10)
    rng = np.random.RandomState(seed)
    Y = (rng.rand(n, K) < 0.35).astype(np.uint8)
    Y[rng.rand(n) < 0.4] = 0
    X = Y @ centers[:K] + (Y.sum(1) == 0)[:, None] * centers[K]
    X = X + 0.5 * rng.randn(n, 10)
    return X.astype(np.float32), Y


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_empty_label_sets_are_learned_and_predicted(cls):
    X, Y = _data_with_empty_rows()
    X_test, Y_test = _data_with_empty_rows(seed=1)
    clf = cls(**{**FAST, "max_epochs": 20}).fit(X, Y)
    assert clf.background_label_
    assert clf.module_.head.weight.shape[0] == Y.shape[1] + 1
    pred = clf.predict(X_test)
    assert pred.shape == Y_test.shape
    assert clf.decision_function(X_test).shape == Y_test.shape
    assert clf.predict_proba(X_test).shape == Y_test.shape
    empty = Y_test.sum(1) == 0
    assert (pred[empty].sum(1) == 0).mean() > 0.9
    assert (pred[~empty].sum(1) > 0).mean() > 0.9
    exact = (pred == Y_test).all(1).mean()
    assert exact > 0.9
    # without the background label the empty set is only a prototype: the
    # empty rows get no PAL gradient, and they are decoded no better
    plain = cls(**{**FAST, "max_epochs": 20}, background_label=False)
    with pytest.warns(UserWarning, match="have no positive label"):
        plain.fit(X, Y)
    assert plain.module_.head.weight.shape[0] == Y.shape[1]
    assert exact >= (plain.predict(X_test) == Y_test).all(1).mean()
    # never predicting an empty set when the decoder forbids it
    strict = cls(**FAST, decoder=ONNDecoder(allow_empty=False))
    with pytest.warns(UserWarning, match="have no positive label"):
        strict.fit(X, Y)
    assert not strict.background_label_
    assert (strict.predict(X_test).sum(1) > 0).all()


def test_verbose_prints_a_log(multilabel_data, capsys):
    X, Y = multilabel_data
    PALClassifier(**FAST).fit(X, Y)
    quiet = capsys.readouterr()
    assert quiet.out == "" and quiet.err == ""
    PALClassifier(**{**FAST, "verbose": 1}).fit(X, Y)
    captured = capsys.readouterr()
    assert "train_loss" in captured.out
    assert "it/s" in captured.err or "s/it" in captured.err  # the progress bar


def test_demo_runs(capsys):
    from sknc.__main__ import main

    assert main(["demo", "--n-train", "60", "--n-test", "20", "--max-epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert "FixedETFClassifier" in out and "PALClassifier" in out
    assert "subset acc" in out and "params" in out


def test_make_multilabel_classification_regression_guard():
    # a trained model beats predicting the most frequent label set
    X, Y = make_multilabel_classification(
        n_samples=300, n_features=10, n_classes=4, allow_unlabeled=False, random_state=3
    )
    X = StandardScaler().fit_transform(X)
    clf = FixedETFClassifier(max_epochs=30, random_state=0, lr=3e-3).fit(
        X[:200], Y[:200]
    )
    sets, counts = np.unique(Y[:200], axis=0, return_counts=True)
    baseline = np.mean(np.all(Y[200:] == sets[counts.argmax()], axis=1))
    assert clf.score(X[200:], Y[200:]) > baseline + 0.1


def test_many_labels_and_many_distinct_label_sets():
    rng = np.random.default_rng(0)
    n, K = 3000, 300
    Y = np.zeros((n, K), dtype=np.uint8)
    for i, m in enumerate(rng.integers(1, 4, size=n)):
        Y[i, rng.choice(K, size=m, replace=False)] = 1
    centres = rng.normal(size=(K, 20)).astype(np.float32)
    X = Y @ centres + 0.1 * rng.normal(size=(n, 20)).astype(np.float32)
    assert len(np.unique(Y, axis=0)) > 2000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # labels never seen
        clf = PALClassifier(
            **{**FAST, "max_epochs": 2},
            decoder="onn",
            decoder__min_count=1,
            decoder__prune_top_r=8,
        ).fit(X, Y)
    assert len(clf.decoder_.prototypes_) > 2000
    pred = clf.predict(X[:500])
    assert pred.shape == (500, K) and (pred.sum(1) >= 1).all()
    proba = clf.predict_proba(X[:500])
    assert ((proba > 0) & (proba < 1)).all()


def test_device_none_predicts_on_the_networks_device(multilabel_data):
    # device=None: the network was placed by someone else (e.g. accelerate);
    # prediction follows its parameters instead of moving batches nowhere
    X, Y = multilabel_data
    placed = PALClassifier(**FAST, device=None).fit(X, Y)
    on_cpu = PALClassifier(**FAST, device="cpu").fit(X, Y)
    np.testing.assert_array_equal(placed.predict_proba(X), on_cpu.predict_proba(X))
    assert placed.decoder_.features_.device.type == "cpu"


@pytest.mark.parametrize("cls", [PALClassifier, FixedETFClassifier])
def test_a_float64_network_end_to_end(cls, multilabel_data):
    X, Y = multilabel_data
    clf = cls(**FAST, dtype="float64").fit(X.astype(np.float32), Y)
    assert all(p.dtype == torch.float64 for p in clf.module_.parameters())
    assert clf.transform(X).dtype == np.float64
    assert clf.predict(X).shape == Y.shape
    # a Dataset's float32 items are cast to the network's precision
    data = torch.utils.data.TensorDataset(torch.as_tensor(X, dtype=torch.float32))
    np.testing.assert_allclose(clf.predict_proba(data), clf.predict_proba(X))
    params, state = io.BytesIO(), io.BytesIO()
    clf.save_params(f_params=params, f_state=state)
    params.seek(0)
    state.seek(0)
    new = cls(**FAST, dtype="float64")
    new.load_params(f_params=params, f_state=state)
    np.testing.assert_array_equal(new.predict_proba(X), clf.predict_proba(X))
