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


# Full batches in float64, without batch normalisation or decay: the
# configuration in which sample_weight is exactly a repetition of rows (as
# scikit-learn runs MLPClassifier's checks with the full-batch lbfgs solver).
# Mini-batches shuffle a repeated row into other batches and batch
# normalisation counts it twice, so the equivalence holds only in expectation
# there (tests/test_weights.py).
FULL_BATCH = {
    **FAST,
    "batch_size": -1,
    "batch_norm": False,
    "weight_decay": 0.0,
    "feature_decay": 0.0,
    "dtype": "float64",
    # full batches take one step an epoch: enough of them to learn the checks
    "max_epochs": 40,
}


def _expected_failed_checks(estimator):
    return SKORCH_FAILURES


@parametrize_with_checks(
    [
        PALClassifier(**FULL_BATCH, feature_dim=8),
        FixedETFClassifier(**FULL_BATCH),
    ],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
