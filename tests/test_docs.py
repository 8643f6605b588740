"""The Python code blocks of docs/*.rst run, as the pages say (#18).

Each page's ``.. code-block:: python`` blocks run in order, as one script, in
a fresh interpreter in an empty directory (the blocks write the files they
read). A block that starts worker processes (it holds ``if __name__ ==
"__main__":``) runs as a script of its own, as a user would run it. To keep
the run short, training stops after ``_MAX_EPOCHS`` epochs (skorch's
``fit_loop`` is capped: every parameter keeps its documented value).
"""

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# the docs pages run: the slow tier
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
_MAX_EPOCHS = 5
# optional packages a page's blocks import
_NEEDS = {
    "user_guide.rst": ["arff"],
    "neural_collapse.rst": ["matplotlib"],
    "scaling.rst": ["dask.distributed", "accelerate"],
    "pitfalls.rst": [],
    "objectives.rst": [],
    "training.rst": [],
}
_PRELUDE = f"""\
import skorch

_fit_loop = skorch.NeuralNet.fit_loop


def _short_fit_loop(self, X, y=None, epochs=None, **kwargs):
    epochs = self.max_epochs if epochs is None else epochs
    return _fit_loop(self, X, y, epochs=min(epochs, {_MAX_EPOCHS}), **kwargs)


skorch.NeuralNet.fit_loop = _short_fit_loop
"""


def code_blocks(text):
    """Return the Python code blocks of a reST page, dedented, in order."""
    blocks = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = re.match(r"^(\s*)\.\. code-block:: python\s*$", lines[i])
        i += 1
        if not match:
            continue
        indent = len(match.group(1))
        while i < len(lines) and lines[i].strip().startswith(":"):
            i += 1  # options such as :caption:
        body = []
        while i < len(lines) and (
            not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent
        ):
            body.append(lines[i])
            i += 1
        blocks.append(textwrap.dedent("\n".join(body)).strip() + "\n")
    return blocks


def _pages():
    return sorted(p.name for p in DOCS.glob("*.rst") if code_blocks(p.read_text()))


def _run(script, tmp_path, name):
    path = tmp_path / name
    path.write_text(_PRELUDE + "\n" + script)
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "OMP_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",  # figures are drawn, never shown
    }
    proc = subprocess.run(
        [sys.executable, path.name],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"{name} failed:\n{proc.stderr[-3000:]}"


def test_every_page_with_code_is_tested():
    assert set(_pages()) <= set(_NEEDS) | {"index.rst", "ufm.rst"}


def test_the_code_blocks_are_found():
    blocks = code_blocks((DOCS / "index.rst").read_text())
    assert len(blocks) == 1 and "FixedETFClassifier" in blocks[0]


@pytest.mark.parametrize("page", _pages())
def test_the_code_blocks_of_a_page_run(page, tmp_path):
    for module in _NEEDS.get(page, []):
        pytest.importorskip(module)
    blocks = code_blocks((DOCS / page).read_text())
    own = [b for b in blocks if '__name__ == "__main__"' in b]
    rest = [b for b in blocks if b not in own]
    for i, block in enumerate(own):
        _run(block, tmp_path, f"{Path(page).stem}_main_{i}.py")
    if rest:
        _run("\n".join(rest), tmp_path, f"{Path(page).stem}.py")
