"""The command line: ``python -m sknc demo`` and ``python -m sknc benchmark``."""

import csv
import io
import json

import numpy as np
import pytest
from sklearn.datasets import make_multilabel_classification
from sklearn.neighbors import KNeighborsClassifier

from sknc import PALClassifier, _bench
from sknc.__main__ import main
from sknc._bench import _run

from .conftest import FAST

METRIC_HEADERS = ["micro-F1", "macro-F1", "subset acc", "Hamming loss", "LRAP"]
TINY = ["--max-epochs", "2"]


def tiny_data(n=80, n_features=6, n_labels=4, seed=0, binary=False):
    X, Y = make_multilabel_classification(
        n_samples=n,
        n_features=n_features,
        n_classes=n_labels,
        n_labels=2,
        allow_unlabeled=False,
        random_state=seed,
    )
    if binary:
        X = (X > 0).astype(np.float32)
    return X.astype(np.float32), Y.astype(np.uint8)


def write_npz(path, split=True, drop=(), **kwargs):
    X, Y = tiny_data(**kwargs)
    arrays = (
        {"X_train": X[:60], "Y_train": Y[:60], "X_test": X[60:], "Y_test": Y[60:]}
        if split
        else {"X": X, "Y": Y}
    )
    np.savez(path, **{k: v for k, v in arrays.items() if k not in drop})
    return path


def run(argv, capsys):
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def usage_error(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    return capsys.readouterr().err


# ---------------------------------------------------------------------- help
def test_help_mentions_both_subcommands(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "demo" in out and "benchmark" in out and "examples" in out


@pytest.mark.parametrize("command", ["demo", "benchmark"])
def test_subcommand_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert f"python -m sknc {command}" in out and "example" in out
    if command == "benchmark":
        for text in ["--data", "--methods", "--format", "X_train", "ARFF", "ovr-lr"]:
            assert text in out


# ---------------------------------------------------------------------- demo
def test_demo_progress_and_threads(capsys):
    import torch

    before = torch.get_num_threads()
    argv = ["demo", "--n-train", "40", "--n-test", "10", *TINY]
    status, out, err = run([*argv, "--threads", "1"], capsys)
    assert status == 0
    # one progress line per fit, on stderr, after a warm-up fit
    lines = err.splitlines()
    assert lines[0].startswith("warming up torch (1 thread) ... ")
    assert lines[1].startswith("fitting FixedETFClassifier (2 epochs) ... ")
    assert lines[2].startswith("fitting PALClassifier (2 epochs) ... ")
    assert all(line.endswith(" s") for line in lines[:3])
    assert "fitting" not in out
    assert "| FixedETFClassifier |" in out and "| PALClassifier |" in out
    assert "Fit times: 1 torch thread (--threads)" in out
    assert torch.get_num_threads() == before  # restored after the demo
    status, out, err = run([*argv, "--threads", "2", "-q"], capsys)
    assert status == 0 and err == ""
    assert "Fit times: 2 torch threads (--threads)" in out
    assert torch.get_num_threads() == before
    assert "must be at least 1" in usage_error(["demo", "--threads", "0"], capsys)


# ----------------------------------------------------------------- benchmark
def test_benchmark_digits_table(capsys):
    status, out, err = run(
        ["benchmark", "--n-train", "30", "--n-test", "15", *TINY], capsys
    )
    assert status == 0
    for name in (_bench.METHODS[key] for key in _bench.DEFAULT_METHODS):
        assert name in out
    assert "BCE net" not in out  # not a default method
    for header in [*METRIC_HEADERS, "fit s", "predict s", "params"]:
        assert header in out
    assert "multi-label digits" in out and "60 training and 30 test rows" in out
    assert "Features: StandardScaler" in out
    assert "Best:" in out and "micro-F1: " in out
    # progress goes to stderr, results to stdout
    assert "[1/6] PALClassifier" in err and "[6/6] KNeighborsClassifier" in err
    assert "[1/6]" not in out


def test_benchmark_npz_json(tmp_path, capsys):
    path = write_npz(tmp_path / "data.npz")
    status, out, err = run(
        [
            "benchmark",
            "--data",
            str(path),
            "--methods",
            "pal,etf",
            "knn",
            "--format",
            "json",
            "-q",
            *TINY,
        ],
        capsys,
    )
    assert status == 0 and err == ""
    report = json.loads(out)
    assert [r["method"] for r in report["results"]] == ["pal", "etf", "knn"]
    for row in report["results"]:
        for key, *_ in _bench.METRICS:
            if key == "coverage":  # labels down the ranking: 1 to n_labels
                assert 1 <= row[key] <= 4
            elif key == "log_loss":  # clipped: at most -log(1e-15)
                assert 0 <= row[key] <= 35
            else:
                assert 0 <= row[key] <= 1
        assert row["fit_s"] >= 0 and row["predict_s"] >= 0
    params = {r["method"]: r["params"] for r in report["results"]}
    assert params["pal"] > 0 and params["knn"] is None
    assert set(report["best"]) == {key for key, *_ in _bench.METRICS}
    assert report["data"]["n_train"] == 60 and report["data"]["n_labels"] == 4
    assert report["data"]["split"] == "the file's own train/test split"
    assert report["preprocessing"].startswith("StandardScaler")
    assert report["settings"]["max_epochs"] == 2 and report["failures"] == []


def test_benchmark_binary_features_are_not_scaled_and_split(tmp_path, capsys):
    path = write_npz(tmp_path / "words.npz", split=False, binary=True)
    status, out, _ = run(
        [
            "benchmark",
            "--data",
            str(path),
            "--test-size",
            "20",
            "--methods",
            "ovr-lr",
            "--format",
            "json",
            *TINY,
        ],
        capsys,
    )
    assert status == 0
    report = json.loads(out)
    assert "all training values are 0 or 1" in report["preprocessing"]
    # iterative stratification: the sizes can differ slightly from the request
    assert abs(report["data"]["n_test"] - 20) <= 2
    assert report["data"]["n_train"] + report["data"]["n_test"] == 80
    assert "stratified split" in report["data"]["split"]


def test_benchmark_constant_labels_for_the_chain(tmp_path, capsys):
    X, Y = tiny_data()
    Y[:60, 1] = 0  # never positive in training
    np.savez(
        tmp_path / "d.npz", X_train=X[:60], Y_train=Y[:60], X_test=X[60:], Y_test=Y[60:]
    )
    status, out, _ = run(
        ["benchmark", "--data", str(tmp_path / "d.npz"), "--methods", "cc-lr,knn"],
        capsys,
    )
    assert status == 0
    assert "1 label(s) never positive in training" in out
    assert "ClassifierChain(LogisticRegression)" in out and "Failed" not in out


def test_benchmark_arff_csv(tmp_path, capsys):
    arff = pytest.importorskip("arff")
    X, Y = tiny_data()
    attributes = [(f"f{j}", "REAL") for j in range(X.shape[1])]
    attributes += [(f"label{k}", ["0", "1"]) for k in range(Y.shape[1])]
    rows = [
        [float(v) for v in x] + [str(int(v)) for v in y]
        for x, y in zip(X, Y, strict=True)
    ]
    path = tmp_path / "toy.arff"
    path.write_text(
        arff.dumps({"relation": "toy", "attributes": attributes, "data": rows})
    )
    status, out, _ = run(
        [
            "benchmark",
            "--data",
            str(path),
            "--n-labels",
            "4",
            "--test-size",
            "0.25",
            "--methods",
            "mlp",
            "cc-lr",
            "--format",
            "csv",
            *TINY,
        ],
        capsys,
    )
    assert status == 0
    table = list(csv.DictReader(io.StringIO(out)))
    assert [row["method"] for row in table] == ["mlp", "cc-lr"]
    assert float(table[1]["micro_f1"]) > 0
    assert set(table[0]) >= {"hamming", "lrap", "fit_s", "predict_s", "params"}


def test_benchmark_markdown_out(tmp_path, capsys):
    data = write_npz(tmp_path / "data.npz")
    out_path = tmp_path / "sub" / "results.md"
    status, out, err = run(
        [
            "benchmark",
            "--data",
            str(data),
            "--methods",
            "ovr-lr",
            "knn",
            "--format",
            "markdown",
            "--out",
            str(out_path),
        ],
        capsys,
    )
    assert status == 0 and out == ""
    assert str(out_path) in err
    text = out_path.read_text()
    assert "| method | micro-F1 |" in text and "**" in text
    assert "| KNeighborsClassifier |" in text


def test_benchmark_failing_method_is_reported(tmp_path, capsys, monkeypatch):
    make = _bench.make_estimator

    def broken(key, **kwargs):
        if key == "knn":
            raise RuntimeError("boom")
        return make(key, **kwargs)

    monkeypatch.setattr(_run, "make_estimator", broken)
    data = write_npz(tmp_path / "data.npz")
    status, out, err = run(
        ["benchmark", "--data", str(data), "--methods", "ovr-lr,knn"], capsys
    )
    assert status == 1
    assert "OneVsRest(LogisticRegression)" in out
    assert "Failed:" in out and "RuntimeError: boom" in out
    assert "FAILED" in err


# -------------------------------------------------------------------- errors
def test_error_missing_file(tmp_path, capsys):
    err = usage_error(["benchmark", "--data", str(tmp_path / "nope.npz")], capsys)
    assert "file not found" in err and "nope.npz" in err


def test_error_npz_missing_keys(tmp_path, capsys):
    path = write_npz(tmp_path / "bad.npz", drop=("Y_test",))
    err = usage_error(["benchmark", "--data", str(path)], capsys)
    assert "missing Y_test" in err and "found: X_train, Y_train, X_test" in err
    np.savez(tmp_path / "x_only.npz", X=np.zeros((4, 2)))
    err = usage_error(["benchmark", "--data", str(tmp_path / "x_only.npz")], capsys)
    assert "missing Y" in err


def test_error_bad_files(tmp_path, capsys):
    (tmp_path / "junk.npz").write_text("not a zip")
    err = usage_error(["benchmark", "--data", str(tmp_path / "junk.npz")], capsys)
    assert "not a readable .npz file" in err
    (tmp_path / "data.csv").write_text("1,2\n")
    err = usage_error(["benchmark", "--data", str(tmp_path / "data.csv")], capsys)
    assert "unknown file type" in err
    X, Y = tiny_data()
    np.savez(tmp_path / "y3.npz", X=X, Y=Y * 3)
    err = usage_error(["benchmark", "--data", str(tmp_path / "y3.npz")], capsys)
    assert "only 0 and 1" in err


def test_error_unknown_method(capsys):
    err = usage_error(["benchmark", "--methods", "pal,svm"], capsys)
    assert "unknown method 'svm'" in err and "ovr-lr" in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--n-train", "10", "--data", "DATA"], "built-in digits only"),
        (["--n-labels", "3", "--data", "DATA"], "only for ARFF files"),
        (["--test-size", "0.2", "--data", "DATA"], "already split"),
        (["--test-size", "0.2"], "need --data"),
        (["--test-size", "1.5"], "a fraction in (0, 1)"),
    ],
)
def test_error_options_that_do_not_apply(tmp_path, capsys, argv, message):
    data = str(write_npz(tmp_path / "data.npz"))
    argv = [data if a == "DATA" else a for a in argv]
    assert message in usage_error(["benchmark", *argv], capsys)


# --------------------------------------------------------------- the helpers
def test_leaders_ties_and_direction():
    rows = [
        {"name": "a", "micro_f1": 0.5001, "macro_f1": 0.1, "subset_acc": 0.2,
         "hamming": 0.1, "lrap": 0.9},
        {"name": "b", "micro_f1": 0.4999, "macro_f1": 0.3, "subset_acc": 0.2,
         "hamming": 0.2, "lrap": 0.8},
    ]  # fmt: skip
    best = _bench.leaders(rows)
    assert best["micro_f1"] == ["a", "b"]  # equal at 3 decimals
    assert best["macro_f1"] == ["b"] and best["hamming"] == ["a"]
    assert best["subset_acc"] == ["a", "b"]


def test_label_scores_of_knn_with_a_label_never_positive():
    X, Y = tiny_data()
    Y[:, 2] = 0
    knn = KNeighborsClassifier().fit(X, Y)
    scores = _bench.label_scores(knn, X[:5])
    assert scores.shape == (5, 4)
    assert (scores[:, 2] == 0).all()


def test_label_scores_of_sknc_are_its_probabilities(multilabel_data):
    # its per-label scores, not the logits scikit-learn's scorers would take
    X, Y = multilabel_data
    clf = PALClassifier(**FAST).fit(X, Y)
    scores = _bench.label_scores(clf, X[:20])
    np.testing.assert_array_equal(scores, clf.predict_proba(X[:20]))
    assert not np.allclose(scores, clf.decision_function(X[:20]))


def test_label_scores_of_one_vs_rest_rank_a_constant_label_last():
    # decision_function gives a label constant in training the margin 0,
    # above the negative margins of the labels that do occur
    X, Y = tiny_data()
    Y[:, 2] = 0
    ovr = _bench.make_estimator("ovr-lr")
    with pytest.warns(UserWarning, match="present in all training examples"):
        ovr.fit(X, Y)
    scores = _bench.label_scores(ovr, X)
    assert (scores[:, 2] == 0).all() and (scores[:, [0, 1, 3]] > 0).all()


def test_benchmark_separate_test_file(tmp_path, capsys):
    X, Y = tiny_data()
    np.savez(tmp_path / "train.npz", X=X[:60], Y=Y[:60])
    np.savez(tmp_path / "test.npz", X=X[60:], Y=Y[60:])
    argv = ["benchmark", "--data", str(tmp_path / "train.npz"), "--methods", "knn"]
    status, out, _ = run(
        [*argv, "--test-data", str(tmp_path / "test.npz"), "--format", "json"], capsys
    )
    assert status == 0
    report = json.loads(out)
    assert (report["data"]["n_train"], report["data"]["n_test"]) == (60, 20)
    assert "test part from" in report["data"]["split"]
    np.savez(tmp_path / "narrow.npz", X=X[60:, :3], Y=Y[60:])
    err = usage_error([*argv, "--test-data", str(tmp_path / "narrow.npz")], capsys)
    assert "X_train has 6 features but X_test has 3" in err


# ------------------------------------------------------- fair comparisons (#18)
def test_max_epochs_caps_sknc_only(tmp_path, capsys):
    path = write_npz(tmp_path / "data.npz")
    status, out, _ = run(
        ["benchmark", "--data", str(path), "--methods", "pal,mlp,bce"]
        + ["--format", "json", "-q", *TINY],
        capsys,
    )
    assert status == 0
    report = json.loads(out)
    assert report["settings"]["max_epochs"] == 2
    assert report["settings"]["peer_epochs"] is None
    status, out, _ = run(
        ["benchmark", "--data", str(path), "--methods", "knn", "-q", *TINY], capsys
    )
    assert "Settings: sknc with default parameters, 2 epochs;" in out
    mlp = _bench.make_estimator("mlp", max_epochs=2)
    assert mlp.max_iter == _bench.MLP_MAX_ITER
    assert _bench.make_estimator("bce", max_epochs=2).max_epochs == 100
    assert _bench.make_estimator("mlp", peer_epochs=7).max_iter == 7
    assert _bench.make_estimator("pal", peer_epochs=7).max_epochs == 100
    text = _bench.format_report(
        _bench.benchmark(_bench.load_data(path), ["mlp", "bce"], max_epochs=2)
    )
    assert "MLPClassifier max_iter=300 (default); BCE net 100 epochs (default)" in (
        text
    )


def test_a_peer_stopped_before_converging_is_not_ranked(tmp_path, capsys):
    path = write_npz(tmp_path / "data.npz")
    status, out, err = run(
        ["benchmark", "--data", str(path), "--methods", "pal,mlp"]
        + ["--peer-epochs", "1", *TINY],
        capsys,
    )
    assert status == 0
    assert "ConvergenceWarning" in err
    assert "Not ranked (no fair comparison):" in out
    assert "MLPClassifier: stopped at its iteration limit" in out
    best = out.split("Best:")[1].split("Not ranked")[0]
    assert "MLPClassifier" not in best and "PALClassifier" in best
    report = _bench.benchmark(
        _bench.load_data(path), ["mlp"], peer_epochs=1, max_epochs=2
    )
    assert report["best"] == {}
    assert [u["method"] for u in report["unranked"]] == ["mlp"]
    assert report["results"][0]["converged"] is False


def test_label_and_feature_names_from_the_npz(tmp_path, capsys):
    X, Y = tiny_data()
    labels = np.array(["rock", "jazz", "pop", "folk"])
    np.savez(
        tmp_path / "named.npz",
        X=X,
        Y=Y,
        label_names=labels,
        feature_names=np.array([f"band{i}" for i in range(X.shape[1])]),
    )
    argv = ["benchmark", "--data", str(tmp_path / "named.npz"), "--methods", "knn"]
    status, out, _ = run([*argv, "-q"], capsys)
    assert status == 0
    assert "4 labels (rock, jazz, pop, folk)" in out
    assert "6 features (band0, band1, band2, ...)" in out
    status, out, _ = run([*argv, "-q", "--format", "json"], capsys)
    report = json.loads(out)
    assert report["label_names"] == labels.tolist()
    assert list(report["results"][0]["label_f1"]) == labels.tolist()


def test_names_that_do_not_fit_the_data_are_a_usage_error(tmp_path, capsys):
    X, Y = tiny_data()
    np.savez(tmp_path / "bad.npz", X=X, Y=Y, label_names=np.array(["a", "b"]))
    err = usage_error(["benchmark", "--data", str(tmp_path / "bad.npz")], capsys)
    assert "label_names has 2 names but the data has 4 label columns" in err


def test_never_positive_labels_are_named(tmp_path, capsys):
    X, Y = tiny_data()
    Y[:60, 1] = 0
    arrays = {"X_train": X[:60], "Y_train": Y[:60], "X_test": X[60:]}
    np.savez(
        tmp_path / "d.npz", **arrays, Y_test=Y[60:], label_names=np.array(list("abcd"))
    )
    data = _bench.load_data(tmp_path / "d.npz")
    assert "1 label(s) never positive in training (b)" in _bench.describe(data)


def test_the_method_keys_of_the_help_are_the_methods():
    # the epilog listed 7 of 11 methods and a wrong default
    from sknc._bench import _cli
    from sknc._bench._estimators import DEFAULT_METHODS, METHODS

    keys = [
        line.split()[0]
        for line in _cli.EPILOG.split("data files:")[0].splitlines()[1:]
        if line.strip()
    ]
    assert keys == [*METHODS, "all"]
    assert f"default: {','.join(DEFAULT_METHODS)}" in _cli.EPILOG


def test_benchmark_threads_are_fixed_reported_and_restored(capsys):
    import torch

    before = torch.get_num_threads()
    status = main(
        [
            "benchmark",
            "--n-train",
            "40",
            "--n-test",
            "20",
            "--max-epochs",
            "1",
            "--methods",
            "pal",
            "--threads",
            "1",
            "--format",
            "json",
            "-q",
        ]
    )
    assert status == 0
    report = json.loads(capsys.readouterr().out)
    assert report["settings"]["threads"] == 1
    assert torch.get_num_threads() == before
