"""scikit-learn's estimator checks on both estimators."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sknc import FixedETFClassifier, PALClassifier

from .conftest import FAST

# skorch's NeuralNet.__init__ is the cause: every entry names its reason.
SKORCH_FAILURES = {
    "check_no_attributes_set_in_init": (
        "skorch's NeuralNet.__init__ sets history_, initialized_ and virtual_params_"
    ),
}


# Mini-batch training, not skorch: the two notions agree in expectation only.
_WEIGHTS = (
    "a row's weight scales its loss in its mini-batch, while a repeated row is "
    "shuffled into other batches and enters the batch-norm statistics twice; "
    "tests/test_weights.py checks the equivalence with full batches"
)
NETWORK_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data": _WEIGHTS,
    "check_sample_weight_equivalence_on_sparse_data": _WEIGHTS,
}


def _expected_failed_checks(estimator):
    return {**SKORCH_FAILURES, **NETWORK_FAILURES}


@parametrize_with_checks(
    [
        PALClassifier(**FAST, feature_dim=8),
        FixedETFClassifier(**FAST),
    ],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
