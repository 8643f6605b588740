"""The gallery examples run on a CPU in seconds."""

import runpy
from pathlib import Path

import matplotlib
import pytest

# the gallery: the slow tier
pytestmark = pytest.mark.slow

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("plot_*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(path, monkeypatch, capsys):
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.chdir(path.parent)
    try:
        runpy.run_path(str(path), run_name="__main__")
    finally:
        plt.close("all")  # free the figures of this example
    assert capsys.readouterr().out  # each example reports something
