"""scikit-learn's estimator checks on both estimators."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sknc import FixedETFClassifier, PALClassifier

from .conftest import FAST

# skorch's NeuralNet.__init__ is the cause of both: every entry names its reason.
SKORCH_FAILURES = {
    "check_no_attributes_set_in_init": (
        "skorch's NeuralNet.__init__ sets history_, initialized_ and virtual_params_"
    ),
    "check_set_params": (
        "skorch's NeuralNet stores _params_to_validate, which its set_params "
        "reports back as a parameter"
    ),
}


def _expected_failed_checks(estimator):
    return SKORCH_FAILURES


@parametrize_with_checks(
    [
        PALClassifier(**FAST, feature_dim=8),
        FixedETFClassifier(**FAST),
    ],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
