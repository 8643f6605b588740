"""TunedDecoderCV behaves like GridSearchCV (#27)."""

import numpy as np
import pytest
import sklearn
from sklearn.metrics import f1_score, get_scorer, make_scorer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknc import PALClassifier
from sknc.model_selection import MultilabelStratifiedKFold, TunedDecoderCV

from .conftest import FAST

GRID = {"decoder": ["knn", "onn"], "objective": [None, "f1_samples"]}


def _cv():
    return MultilabelStratifiedKFold(n_splits=2, shuffle=True, random_state=0)


def _weights(n):
    weight = np.ones(n)
    weight[::3] = 0.0  # left out of the network's and the decoder's fits
    weight[1::3] = 3.0
    return weight


def test_fit_decoder_with_fits_weights_gives_fits_decoder(multilabel_data):
    X, Y = multilabel_data
    weight = _weights(len(X))
    clf = PALClassifier(**FAST, decoder="knn").fit(X, Y, sample_weight=weight)
    proba = clf.predict_proba(X)
    clf.fit_decoder(X, Y)  # every row: another decoder
    assert not np.allclose(clf.predict_proba(X), proba)
    clf.fit_decoder(X, Y, sample_weight=weight)
    np.testing.assert_array_equal(clf.predict_proba(X), proba)


def test_score_uses_scoring_not_subset_accuracy(multilabel_data):
    X, Y = multilabel_data
    search = TunedDecoderCV(PALClassifier(**FAST), GRID, scoring="f1_samples", cv=_cv())
    search.fit(X, Y)
    best = search.best_estimator_
    expected = f1_score(Y, best.predict(X), average="samples")
    assert search.score(X, Y) == pytest.approx(expected)
    assert search.score(X, Y) != pytest.approx(best.score(X, Y))
    assert search.scorer_ is not None and not search.multimetric_


def test_multimetric_scores_equal_grid_search_and_refit_picks(multilabel_data):
    X, Y = multilabel_data
    scoring = ["f1_samples", "f1_micro"]
    tuned = TunedDecoderCV(
        PALClassifier(**FAST), GRID, scoring=scoring, refit="f1_micro", cv=_cv()
    ).fit(X, Y)
    search = GridSearchCV(
        PALClassifier(**FAST), GRID, scoring=scoring, refit="f1_micro", cv=_cv()
    ).fit(X, Y)
    results = tuned.cv_results_
    assert "mean_test_score" not in results
    for name in scoring:
        for key in ("mean_test", "std_test", "split0_test", "split1_test"):
            np.testing.assert_allclose(
                results[f"{key}_{name}"], search.cv_results_[f"{key}_{name}"]
            )
        np.testing.assert_array_equal(
            results[f"rank_test_{name}"], search.cv_results_[f"rank_test_{name}"]
        )
    assert tuned.multimetric_
    assert sorted(tuned.scorer_) == sorted(scoring)
    assert tuned.best_index_ == search.best_index_
    assert tuned.best_params_ == search.best_params_
    assert tuned.best_score_ == pytest.approx(search.best_score_)
    assert results["rank_test_f1_micro"][tuned.best_index_] == 1
    # score is the refit metric's
    expected = f1_score(Y, tuned.best_estimator_.predict(X), average="micro")
    assert tuned.score(X, Y) == pytest.approx(expected)


def test_multimetric_dict_of_scorers(multilabel_data):
    X, Y = multilabel_data
    scoring = {"ex": "f1_samples", "hamming": make_scorer(f1_score, average="micro")}
    tuned = TunedDecoderCV(
        PALClassifier(**FAST), {"decoder": ["knn", "onn"]}, scoring=scoring, cv=2
    )
    tuned.set_params(refit="ex").fit(X, Y)
    assert {"mean_test_ex", "rank_test_hamming", "split1_test_ex"} <= set(
        tuned.cv_results_
    )
    assert tuned.best_index_ == int(np.argmax(tuned.cv_results_["mean_test_ex"]))


@pytest.mark.parametrize("refit", [True, "f1_macro"])
def test_multimetric_refit_must_name_a_metric(multilabel_data, refit):
    X, Y = multilabel_data
    tuned = TunedDecoderCV(
        PALClassifier(**FAST), GRID, scoring=("f1_samples", "f1_micro"), refit=refit
    )
    with pytest.raises(ValueError, match="refit must name the one") as info:
        tuned.fit(X, Y)
    assert "refit='f1_micro'" in str(info.value)  # a valid example


def test_multimetric_refit_false_keeps_results_only(multilabel_data):
    X, Y = multilabel_data
    tuned = TunedDecoderCV(
        PALClassifier(**FAST), GRID, scoring=["f1_samples", "f1_micro"], refit=False
    ).fit(X, Y)
    assert len(tuned.cv_results_["mean_test_f1_micro"]) == 4
    for name in ("best_index_", "best_params_", "best_score_", "best_estimator_"):
        assert not hasattr(tuned, name)
    with pytest.raises(AttributeError, match="refit=False"):
        tuned.predict(X)


def test_callable_scoring_of_several_metrics_and_callable_refit(multilabel_data):
    X, Y = multilabel_data
    grid = {"decoder": ["knn", "onn"]}

    def both(estimator, X_test, y_test):
        pred = estimator.predict(X_test)
        return {
            "micro": f1_score(y_test, pred, average="micro"),
            "ex": f1_score(y_test, pred, average="samples"),
        }

    tuned = TunedDecoderCV(PALClassifier(**FAST), grid, scoring=both, cv=2)
    with pytest.raises(ValueError, match="refit must name"):
        tuned.fit(X, Y)
    tuned.set_params(refit="ex").fit(X, Y)
    assert tuned.multimetric_ and "rank_test_micro" in tuned.cv_results_
    assert tuned.best_index_ == int(np.argmax(tuned.cv_results_["mean_test_ex"]))
    assert tuned.score(X, Y) == pytest.approx(both(tuned.best_estimator_, X, Y)["ex"])
    tuned.set_params(refit=lambda results: 1).fit(X, Y)
    assert tuned.best_index_ == 1 and not hasattr(tuned, "best_score_")
    assert tuned.best_params_ == {"decoder": "onn"}


def test_results_do_not_depend_on_n_jobs(multilabel_data):
    X, Y = multilabel_data
    X, Y = X[:80], Y[:80]
    grid = {"decoder": ["knn", "onn"]}
    one = TunedDecoderCV(PALClassifier(**FAST), grid, scoring="f1_micro", cv=_cv())
    two = TunedDecoderCV(
        PALClassifier(**FAST), grid, scoring="f1_micro", cv=_cv(), n_jobs=2
    )
    one.fit(X, Y)
    two.fit(X, Y)
    for key in ("split0_test_score", "split1_test_score", "rank_test_score"):
        np.testing.assert_array_equal(one.cv_results_[key], two.cv_results_[key])
    assert one.best_params_ == two.best_params_
    np.testing.assert_array_equal(one.predict(X), two.predict(X))


def test_sample_weight_without_routing_as_grid_search(multilabel_data):
    X, Y = multilabel_data
    weight = _weights(len(X))
    tuned = TunedDecoderCV(PALClassifier(**FAST), GRID, scoring="f1_samples", cv=_cv())
    search = GridSearchCV(PALClassifier(**FAST), GRID, scoring="f1_samples", cv=_cv())
    tuned.fit(X, Y, sample_weight=weight)
    search.fit(X, Y, sample_weight=weight)
    np.testing.assert_allclose(
        tuned.cv_results_["mean_test_score"], search.cv_results_["mean_test_score"]
    )
    unweighted = TunedDecoderCV(
        PALClassifier(**FAST), GRID, scoring="f1_samples", cv=_cv()
    ).fit(X, Y)
    assert not np.allclose(
        unweighted.cv_results_["mean_test_score"], tuned.cv_results_["mean_test_score"]
    )
    # the refit gets the weights too
    refit = PALClassifier(**FAST).set_params(**tuned.best_params_)
    refit.fit(X, Y, sample_weight=weight)
    np.testing.assert_array_equal(tuned.predict_proba(X), refit.predict_proba(X))


def test_metadata_routing_fit_weights_and_weighted_scorer(multilabel_data):
    X, Y = multilabel_data
    weight = _weights(len(X))
    with sklearn.config_context(enable_metadata_routing=True):
        scorer = make_scorer(f1_score, average="samples")
        scorer.set_score_request(sample_weight=True)
        estimator = PALClassifier(**FAST).set_fit_request(sample_weight=True)
        tuned = TunedDecoderCV(estimator, GRID, scoring=scorer, cv=_cv())
        search = GridSearchCV(estimator, GRID, scoring=scorer, cv=_cv())
        tuned.fit(X, Y, sample_weight=weight)
        search.fit(X, Y, sample_weight=weight)
        np.testing.assert_allclose(
            tuned.cv_results_["mean_test_score"], search.cv_results_["mean_test_score"]
        )
        # a weighted scorer gets the fold's test weights: the split scores
        # are the weighted F1 of the held-out rows
        routing = tuned.get_metadata_routing()
        assert routing.consumes("fit", ["sample_weight"]) == {"sample_weight"}
        expected = f1_score(
            Y, tuned.best_estimator_.predict(X), average="samples", sample_weight=weight
        )
        assert tuned.score(X, Y, sample_weight=weight) == pytest.approx(expected)
        # the estimator's fit did not request the weights: refused
        plain = TunedDecoderCV(PALClassifier(**FAST), GRID, scoring=scorer, cv=_cv())
        with pytest.raises(ValueError, match="sample_weight"):
            plain.fit(X, Y, sample_weight=weight)


def test_metadata_routing_weighted_scorer_sees_test_rows(multilabel_data):
    # weights only for the scorer: the network trains unweighted, every
    # held-out fold is scored with its own rows' weights
    X, Y = multilabel_data
    weight = _weights(len(X))
    with sklearn.config_context(enable_metadata_routing=True):
        scoring = make_scorer(f1_score, average="samples")
        scoring.set_score_request(sample_weight=True)
        estimator = PALClassifier(**FAST).set_fit_request(sample_weight=False)
        cv = _cv()
        tuned = TunedDecoderCV(estimator, {"decoder": ["onn"]}, scoring=scoring, cv=cv)
        tuned.fit(X, Y, sample_weight=weight)
        alone = PALClassifier(**FAST, decoder="onn")
        for fold, (train, test) in enumerate(cv.split(X, Y)):
            alone.fit(X[train], Y[train])
            expected = f1_score(
                Y[test],
                alone.predict(X[test]),
                average="samples",
                sample_weight=weight[test],
            )
            assert tuned.cv_results_[f"split{fold}_test_score"][0] == pytest.approx(
                expected
            )


def test_delegates_prediction_methods_to_the_best_estimator(multilabel_data):
    X, Y = multilabel_data
    tuned = TunedDecoderCV(PALClassifier(**FAST), {"decoder": ["knn", "onn"]}, cv=2)
    for name in ("predict_set_proba", "predict_log_proba", "decision_function"):
        assert hasattr(tuned, name)  # before fit, as GridSearchCV
    tuned.fit(X[:100], Y[:100])
    best = tuned.best_estimator_
    np.testing.assert_array_equal(
        tuned.predict_log_proba(X[100:]), best.predict_log_proba(X[100:])
    )
    np.testing.assert_array_equal(
        tuned.decision_function(X[100:]), best.decision_function(X[100:])
    )
    sets, expected = (
        tuned.predict_set_proba(X[100:], top=3),
        best.predict_set_proba(X[100:], top=3),
    )
    assert sets.keys() == expected.keys()
    for key in sets:
        np.testing.assert_array_equal(sets[key], expected[key])


def test_a_pipeline_is_refused_in_one_short_sentence(multilabel_data):
    X, Y = multilabel_data
    pipe = make_pipeline(StandardScaler(), PALClassifier(**FAST))
    tuned = TunedDecoderCV(pipe, {"decoder": ["knn", "onn"]}, cv=2)
    with pytest.raises(ValueError) as info:
        tuned.fit(X, Y)
    message = str(info.value)
    assert len(message) < 300
    assert "Pipeline" in message and "outside" in message
    assert "make_pipeline(StandardScaler(), TunedDecoderCV(PALClassifier()" in message
    # the advice works
    advice = make_pipeline(StandardScaler(), TunedDecoderCV(PALClassifier(**FAST), {}))
    assert advice.fit(X, Y).predict(X).shape == Y.shape


def test_scoring_rejects_a_number():
    tuned = TunedDecoderCV(PALClassifier(**FAST), GRID, scoring=3)
    with pytest.raises(ValueError, match="scoring"):
        tuned.fit(np.zeros((4, 2)), np.eye(2)[[0, 1, 0, 1]])


def test_single_metric_keeps_score_names_and_scorer(multilabel_data):
    X, Y = multilabel_data
    tuned = TunedDecoderCV(
        PALClassifier(**FAST), {"decoder": ["knn", "onn"]}, scoring="f1_micro", cv=2
    ).fit(X, Y)
    assert {"mean_test_score", "std_test_score", "rank_test_score"} <= set(
        tuned.cv_results_
    )
    assert tuned.scorer_._score_func is get_scorer("f1_micro")._score_func
