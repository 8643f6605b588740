"""Sphinx configuration for the sknc documentation.

Build with::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The build works offline. Cross-links to the Python, NumPy, scikit-learn, skorch
and PyTorch documentation (intersphinx) need the network, so they are opt-in:
set ``SKNC_DOCS_INTERSPHINX=1`` to enable them.
"""

import os
import re
import sys
from pathlib import Path

# Import sknc from the checkout even when it is not installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sknc  # noqa: E402

# -- Project information -----------------------------------------------------

project = "sknc"
author = "The sknc developers"
copyright = "The sknc developers"
release = sknc.__version__
version = ".".join(release.split(".")[:2])

# -- General configuration ---------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
root_doc = "index"
default_role = "literal"

# Autodoc / autosummary
autosummary_generate = True
autodoc_typehints = "none"

# Module docstrings (shown with automodule) are not reformatted by numpydoc,
# so a "References" entry they never cite would warn as unreferenced.
suppress_warnings = ["ref.citation"]


def _skip_member(app, what, name, obj, skip, options):
    # scikit-learn generates set_{method}_request methods for metadata routing
    # on every estimator; they are not sknc API and their docstrings link to
    # scikit-learn's glossary.
    if re.fullmatch(r"set_\w+_request", name):
        return True
    return None


# numpydoc
numpydoc_show_class_members = False
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
# Leave parameter types as written: numpydoc's cross-referencing of types
# links to glossaries that only exist with intersphinx.
numpydoc_xref_param_type = False

# -- Intersphinx (opt-in: the build machines are offline) --------------------

_INTERSPHINX = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable/", None),
    "sklearn": ("https://scikit-learn.org/stable/", None),
    "skorch": ("https://skorch.readthedocs.io/en/stable/", None),
    "torch": ("https://pytorch.org/docs/stable/", None),
}

if os.environ.get("SKNC_DOCS_INTERSPHINX", "0") == "1":
    intersphinx_mapping = _INTERSPHINX
else:
    # Offline, references such as :class:`skorch.NeuralNet` render as plain
    # code instead of links (Sphinx only warns about them in nitpicky mode).
    intersphinx_mapping = {}

# -- HTML output -------------------------------------------------------------

html_theme = "alabaster"
html_title = f"sknc {release}"
html_static_path = []
html_theme_options = {
    "description": "Multi-label neural classification with the PAL loss",
    "fixed_sidebar": True,
    "show_relbars": True,
}
html_sidebars = {
    "**": ["about.html", "navigation.html", "relations.html", "searchbox.html"]
}

# -- Changelog ---------------------------------------------------------------

# changelog.rst shows ../CHANGELOG.md with a literalinclude. In a checkout or
# sdist without that file, replace the directive with a note instead of
# failing the build.
_CHANGELOG = Path(__file__).resolve().parents[1] / "CHANGELOG.md"
_CHANGELOG_DIRECTIVE = ".. literalinclude:: ../CHANGELOG.md"


def _changelog_fallback(app, docname, source):
    if docname == "changelog" and not _CHANGELOG.exists():
        head, _, _ = source[0].partition(_CHANGELOG_DIRECTIVE)
        source[0] = head + "*CHANGELOG.md was not found when this page was built.*\n"


def setup(app):
    app.connect("source-read", _changelog_fallback)
    app.connect("autodoc-skip-member", _skip_member)
