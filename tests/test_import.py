"""``import sknc`` loads the estimators only; the rest comes on first use (#18)."""

import json
import subprocess
import sys

import sknc

_LAZY = [
    "sknc.callbacks",
    "sknc.datasets",
    "sknc.metrics",
    "sknc.model_selection",
    "sknc.plotting",
    "sknc.ufm",
    "sknc._bench",
    "matplotlib",
    "dask",
    "torch._dynamo",
]


def test_import_sknc_leaves_the_submodules_and_optional_packages_alone():
    code = (
        "import json, sys, sknc; "
        f"print(json.dumps([m for m in {_LAZY!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == []


def test_the_lazy_names_are_there_on_first_use():
    assert set(sknc.__all__) <= set(dir(sknc))
    for name in sknc.__all__:
        assert getattr(sknc, name) is not None
    from sknc import NeuralCollapseScorer, metrics

    assert NeuralCollapseScorer is metrics.NeuralCollapseScorer
    assert sknc.model_selection.MultilabelStratifiedKFold.__name__ == (
        "MultilabelStratifiedKFold"
    )


def test_an_unknown_attribute_is_an_attribute_error():
    try:
        sknc.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("no AttributeError")
