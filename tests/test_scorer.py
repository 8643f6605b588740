"""NeuralCollapseScorer as a scorer (GridSearchCV, cross_validate) and a step."""

import itertools
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from sknc import FixedETFClassifier, PALClassifier, simplex_etf
from sknc.metrics import (
    NeuralCollapseScorer,
    NeuralCollapseWarning,
    nc1,
    nc2_means,
    nc3,
    ncm,
    neural_collapse_report,
)
from sknc.model_selection import MultilabelStratifiedKFold

from .conftest import FAST

METRICS = ["nc1", "nc2", "nc2_means", "nc3", "ncm"]

pytestmark = pytest.mark.filterwarnings(
    # make_multilabel_classification draws one sample with all 5 labels: it
    # has no NCm angle after centring (expected, and tested in test_metrics)
    "ignore:1 label set\\(s\\) are left out of NCm:sknc.metrics.NeuralCollapseWarning",
    "ignore:rho for multiplicity 5:sknc.metrics.NeuralCollapseWarning",
)


# --------------------------------------------------------------------------
# Synthetic features and a minimal fitted "estimator"
# --------------------------------------------------------------------------


def _label_sets(K, n1=6, n2=3):
    rows = [np.eye(K, dtype=int)[k] for k in range(K) for _ in range(n1)]
    for a, b in itertools.combinations(range(K), 2):
        y = np.zeros(K, dtype=int)
        y[[a, b]] = 1
        rows += [y] * n2
    return np.array(rows)


def _collapsed(K=4, d=6, rho=1.5, seed=0):
    """Features under exact M-lab NC: ETF class means, scaled pair averages."""
    M = simplex_etf(K, d, random_state=seed)
    Y = _label_sets(K)
    H = (Y @ M) / Y.sum(axis=1, keepdims=True)
    H[Y.sum(axis=1) == 2] *= rho
    return H, Y, 2.0 * M  # W: the same ETF, scaled


class _FakeNet:
    """Fitted-estimator stand-in: ``transform`` looks features up by row index."""

    def __init__(self, H, W, n_outputs=None):
        self.H = H
        self.module_ = SimpleNamespace(head=SimpleNamespace(weight=torch.as_tensor(W)))
        self.n_outputs_ = len(W) if n_outputs is None else n_outputs

    def transform(self, X):
        return self.H[np.asarray(X, dtype=int).ravel()]


def _index(n):
    return np.arange(n).reshape(-1, 1)


# --------------------------------------------------------------------------
# Scorer
# --------------------------------------------------------------------------


@pytest.mark.parametrize("metric", METRICS)
def test_collapsed_features_score_zero_and_beat_random(metric):
    H, Y, W = _collapsed()
    rng = np.random.default_rng(0)
    scorer = NeuralCollapseScorer(metric, random_state=0)
    collapsed = scorer(_FakeNet(H, W), _index(len(H)), Y)
    noisy = scorer(
        _FakeNet(rng.normal(size=H.shape), rng.normal(size=W.shape)), _index(len(H)), Y
    )
    assert collapsed == pytest.approx(0.0, abs=1e-6)
    assert noisy < -0.05  # greater is better: minus the metric
    assert collapsed > noisy


def test_scorer_returns_minus_the_metric():
    H, Y, W = _collapsed()
    H = H + np.random.default_rng(1).normal(0, 0.05, H.shape)
    net = _FakeNet(H, W)
    X = _index(len(H))
    assert NeuralCollapseScorer("nc1")(net, X, Y) == pytest.approx(-nc1(H, Y))
    assert NeuralCollapseScorer("nc3")(net, X, Y) == pytest.approx(-nc3(H, Y, W))
    assert NeuralCollapseScorer("ncm", random_state=0)(net, X, Y) == pytest.approx(
        -ncm(H, Y, random_state=0)
    )


def test_scorer_uses_only_the_first_n_outputs_rows_of_the_head():
    H, Y, W = _collapsed()
    H = H + np.random.default_rng(1).normal(0, 0.05, H.shape)
    background = np.vstack([W, np.ones(W.shape[1])])  # an internal extra row
    X = _index(len(H))
    for metric in ("nc2", "nc3"):
        scorer = NeuralCollapseScorer(metric)
        expected = scorer(_FakeNet(H, W), X, Y)
        assert scorer(_FakeNet(H, background, n_outputs=len(W)), X, Y) == expected


def test_grid_search_multimetric_refit_on_f1(multilabel_data):
    X, Y = multilabel_data
    search = GridSearchCV(
        FixedETFClassifier(**FAST),
        {"feature_dim": [5, 8]},
        cv=MultilabelStratifiedKFold(n_splits=3, shuffle=True, random_state=0),
        scoring={"f1": "f1_micro", "nc1": NeuralCollapseScorer("nc1")},
        refit="f1",
        error_score="raise",
    ).fit(X, Y)
    res = search.cv_results_
    for key in ("mean_test_nc1", "std_test_nc1", "mean_test_f1"):
        assert np.isfinite(res[key]).all(), key
    assert (res["mean_test_nc1"] < 0).all()  # minus NC1
    assert sorted(res["rank_test_nc1"]) == [1, 2]
    assert res["rank_test_nc1"][np.argmax(res["mean_test_nc1"])] == 1
    assert search.best_index_ == np.argmax(res["mean_test_f1"])
    # each split's value is minus NC1 of that test fold's features
    cv = MultilabelStratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    train, test = next(cv.split(X, Y))
    clf = FixedETFClassifier(**FAST, feature_dim=5).fit(X[train], Y[train])
    expected = -nc1(clf.transform(X[test]), Y[test])
    assert res["split0_test_nc1"][0] == pytest.approx(expected, rel=1e-5)


def test_cross_validate_with_head_metrics(multilabel_data):
    X, Y = multilabel_data
    scores = cross_validate(
        PALClassifier(**FAST, feature_dim=8),
        X,
        Y,
        cv=MultilabelStratifiedKFold(n_splits=2, shuffle=True, random_state=0),
        scoring={m: NeuralCollapseScorer(m, random_state=0) for m in METRICS},
        error_score="raise",
    )
    for m in METRICS:
        values = scores[f"test_{m}"]
        assert np.isfinite(values).all() and (values <= 0).all(), m


def test_pipeline_ending_with_sknc_estimator(multilabel_data):
    X, Y = multilabel_data
    pipe = make_pipeline(StandardScaler(), FixedETFClassifier(**FAST)).fit(X, Y)
    H = pipe[-1].transform(pipe[0].transform(X))
    W = pipe[-1].module_.head.weight.detach().numpy()
    assert NeuralCollapseScorer("nc3")(pipe, X, Y) == pytest.approx(-nc3(H, Y, W))


def test_pipeline_after_the_sknc_estimator(multilabel_data):
    X, Y = multilabel_data
    net = FixedETFClassifier(**FAST).fit(X, Y)
    expected = NeuralCollapseScorer("nc3")(net, X, Y)
    # a last step without transform: the features that reach it
    knn = Pipeline([("net", net), ("knn", KNeighborsClassifier(3))]).fit(X, Y)
    assert NeuralCollapseScorer("nc3")(knn, X, Y) == pytest.approx(expected)
    # a pass-through NeuralCollapseScorer step keeps the net's head
    step = Pipeline([("net", net), ("nc", NeuralCollapseScorer())]).fit(X, Y)
    assert NeuralCollapseScorer("nc3")(step, X, Y) == pytest.approx(expected)


def test_multiclass_estimator(multilabel_data):
    X, Y = multilabel_data
    y = np.array(["a", "b", "c"])[Y.argmax(axis=1) % 3]
    clf = PALClassifier(**FAST, feature_dim=8).fit(X, y)
    onehot = (y[:, None] == clf.classes_).astype(int)
    H = clf.transform(X)
    W = clf.module_.head.weight.detach().numpy()
    assert NeuralCollapseScorer("nc3")(clf, X, y) == pytest.approx(-nc3(H, onehot, W))
    with pytest.raises(ValueError, match="not fitted on"):
        NeuralCollapseScorer("nc1")(clf, X, np.where(y == "a", "z", y))


def test_head_metrics_without_a_head():
    H, Y, _ = _collapsed()
    pca = PCA(3).fit(H)
    assert np.isfinite(NeuralCollapseScorer("nc1")(pca, H, Y))
    for metric in ("nc2", "nc3"):
        with pytest.raises(ValueError, match="needs the classifier head"):
            NeuralCollapseScorer(metric)(pca, H, Y)


def test_scorer_errors():
    H, Y, W = _collapsed()
    with pytest.raises(TypeError, match="has no transform method"):
        NeuralCollapseScorer()(KNeighborsClassifier().fit(H, Y), H, Y)
    with pytest.raises(ValueError, match="sample_weight"):
        NeuralCollapseScorer()(_FakeNet(H, W), _index(len(H)), Y, np.ones(len(H)))
    with pytest.raises(ValueError, match="metric"):
        NeuralCollapseScorer("rho")(_FakeNet(H, W), _index(len(H)), Y)


def test_undefined_metric_is_nan_with_warning():
    H, Y, W = _collapsed()
    single = Y.sum(axis=1) == 1
    with pytest.warns(NeuralCollapseWarning, match="two or more labels"):
        value = NeuralCollapseScorer("ncm")(
            _FakeNet(H[single], W), _index(single.sum()), Y[single]
        )
    assert np.isnan(value)


# --------------------------------------------------------------------------
# Transformer
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transform_passes_features_through(dtype):
    H, Y, _ = _collapsed()
    H = (H + np.random.default_rng(0).normal(0, 0.1, H.shape)).astype(dtype)
    step = NeuralCollapseScorer(random_state=0)
    out = step.fit_transform(H, Y)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, H)
    np.testing.assert_array_equal(step.transform(H[:5]), H[:5])
    assert step.n_features_in_ == H.shape[1]
    expected = neural_collapse_report(H, Y, random_state=0)
    assert step.report_.keys() == expected.keys()
    assert "nc2" not in step.report_ and "nc3" not in step.report_
    for key in ("nc1", "nc2_means", "ncm"):
        assert step.report_[key] == pytest.approx(expected[key])
    assert step.report_["rho"] == pytest.approx(expected["rho"])


def test_transformer_score_is_minus_the_metric_of_the_given_data():
    H, Y, _ = _collapsed()
    rng = np.random.default_rng(0)
    noisy = H + rng.normal(0, 0.1, H.shape)
    step = NeuralCollapseScorer("nc1").fit(H, Y)
    assert step.score(noisy, Y) == pytest.approx(-nc1(noisy, Y))
    assert step.score(H, Y) > step.score(noisy, Y)
    assert step.report_["nc1"] == pytest.approx(0.0, abs=1e-12)  # from fit, not score
    for metric in ("nc2", "nc3"):
        with pytest.raises(ValueError, match="needs the classifier head"):
            NeuralCollapseScorer(metric).fit(H, Y).score(H, Y)


def test_pipeline_score_and_search_with_scoring_none():
    H, Y, _ = _collapsed(K=4, d=8)
    X = H + np.random.default_rng(0).normal(0, 0.05, H.shape)
    pipe = Pipeline(
        [("pca", PCA(random_state=0)), ("nc", NeuralCollapseScorer("nc2_means"))]
    )
    search = GridSearchCV(
        pipe,
        {"pca__n_components": [1, 3]},
        cv=MultilabelStratifiedKFold(n_splits=2, shuffle=True, random_state=0),
    ).fit(X, Y)
    # four class means form a simplex ETF in 3 dimensions, not on a line
    assert search.best_params_ == {"pca__n_components": 3}
    assert search.best_score_ > -0.1 > search.cv_results_["mean_test_score"][0]
    fitted = search.best_estimator_
    expected = -nc2_means(fitted[0].transform(X), Y)
    assert fitted.score(X, Y) == pytest.approx(expected)


def test_feature_names_clone_and_params():
    pd = pytest.importorskip("pandas")
    H, Y, _ = _collapsed()
    df = pd.DataFrame(H, columns=[f"f{i}" for i in range(H.shape[1])])
    step = NeuralCollapseScorer("ncm", n_random=50, random_state=3).fit(df, Y)
    np.testing.assert_array_equal(step.get_feature_names_out(), df.columns)
    unnamed = NeuralCollapseScorer().fit(H, Y)
    assert unnamed.get_feature_names_out().tolist() == [f"x{i}" for i in range(6)]
    copy = clone(step)
    assert copy.get_params() == step.get_params()
    assert copy.get_params()["metric"] == "ncm" and not hasattr(copy, "report_")
    out = NeuralCollapseScorer().set_output(transform="pandas").fit_transform(df, Y)
    assert list(out.columns) == list(df.columns)


def test_class_labels_are_one_hot_encoded_without_warning():
    H, Y, _ = _collapsed()
    single = Y.sum(axis=1) == 1
    y = Y[single].argmax(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NeuralCollapseWarning)
        step = NeuralCollapseScorer().fit(H[single], y)
    assert step.report_["nc1"] == pytest.approx(nc1(H[single], Y[single]))
    assert np.isnan(step.report_["ncm"])
    with pytest.raises(ValueError, match="1 class"):
        NeuralCollapseScorer().fit(H[:3], np.zeros(3))
    with pytest.raises(ValueError, match="y to be passed"):
        NeuralCollapseScorer().fit(H, None)


@parametrize_with_checks([NeuralCollapseScorer()])
def test_sklearn_compatible(estimator, check):
    check(estimator)
