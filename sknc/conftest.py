"""Doctest set-up: skip the examples whose optional dependency is missing."""

import importlib.util

import pytest

# doctest name -> module it needs (an extra of the package)
_NEEDS = {"sknc.datasets._arff.load_arff": "arff"}


def pytest_collection_modifyitems(config, items):
    """Skip the doctests listed in ``_NEEDS`` when their module is missing."""
    for item in items:
        module = _NEEDS.get(item.name)
        if module and importlib.util.find_spec(module) is None:
            item.add_marker(pytest.mark.skip(reason=f"needs the optional {module!r}"))
