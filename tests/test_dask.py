"""Model selection on a Dask cluster through joblib's dask backend.

The cluster is a ``LocalCluster`` of two single-threaded worker *processes*
started by the test. Thread workers (``processes=False``) would not give
the sequential results: a seeded sknc fit seeds torch's global random
generator, which is shared by every thread of a process, so concurrent fits
in threads of one process draw from each other's streams (the same holds
for joblib's ``threading`` backend).
"""

import contextlib
import os

import joblib
import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV, cross_validate

from sknc import FixedETFClassifier, PALClassifier
from sknc.model_selection import MultilabelStratifiedKFold

from .conftest import FAST

distributed = pytest.importorskip("distributed")

# a local cluster per module: the slow tier
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client():
    # the nanny writes its pre-spawn variables (OMP_NUM_THREADS=1, ...) into
    # this process's environment: put the environment back afterwards
    environ = dict(os.environ)
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
        for key in set(os.environ) - set(environ):
            del os.environ[key]
        os.environ.update(environ)


def _cv():
    return MultilabelStratifiedKFold(n_splits=2, shuffle=True, random_state=0)


@contextlib.contextmanager
def _workers_thread_count(client):
    """Run this process's fits with the workers' torch thread count.

    A float32 sum split over a different number of threads rounds
    differently, and the nanny starts its workers with OMP_NUM_THREADS=1
    whatever this process uses.
    """
    counts = set(client.run(torch.get_num_threads).values())
    assert len(counts) == 1, counts
    before = torch.get_num_threads()
    torch.set_num_threads(counts.pop())
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _on_cluster(client, run):
    """Run ``run()`` under the dask backend; return its result and the workers used."""
    with distributed.get_task_stream(client) as stream:
        with joblib.parallel_config(backend="dask"):
            result = run()
    return result, {task["worker"] for task in stream.data}


def test_grid_search_on_dask_equals_sequential(client, multilabel_data):
    X, Y = multilabel_data

    def search(n_jobs):
        return GridSearchCV(
            PALClassifier(**FAST),
            {"feature_dim": [4, 8]},
            cv=_cv(),
            scoring="f1_samples",
            n_jobs=n_jobs,
        ).fit(X, Y)

    with _workers_thread_count(client):
        sequential = search(None)
        # the best model is refitted here, not on the cluster
        parallel, workers = _on_cluster(client, lambda: search(-1))

    # the four fits ran on the cluster, on both workers
    assert workers == set(client.scheduler_info()["workers"])
    for key in ["split0_test_score", "split1_test_score", "mean_test_score"]:
        np.testing.assert_array_equal(
            parallel.cv_results_[key], sequential.cv_results_[key]
        )
    assert parallel.best_params_ == sequential.best_params_
    np.testing.assert_array_equal(
        parallel.best_estimator_.predict(X), sequential.best_estimator_.predict(X)
    )


def test_cross_validate_on_dask_equals_sequential(client, multilabel_data):
    X, Y = multilabel_data

    def run(n_jobs):
        return cross_validate(
            FixedETFClassifier(**FAST),
            X,
            Y,
            cv=_cv(),
            scoring=["f1_micro", "f1_samples"],
            return_estimator=True,
            n_jobs=n_jobs,
        )

    with _workers_thread_count(client):
        sequential = run(None)
        parallel, workers = _on_cluster(client, lambda: run(-1))

    assert workers == set(client.scheduler_info()["workers"])
    for key in ["test_f1_micro", "test_f1_samples"]:
        np.testing.assert_array_equal(parallel[key], sequential[key])
    # the models trained on the workers come back whole and predict the same
    for par, seq in zip(parallel["estimator"], sequential["estimator"], strict=True):
        np.testing.assert_array_equal(par.predict(X), seq.predict(X))
        np.testing.assert_array_equal(par.predict_proba(X), seq.predict_proba(X))
