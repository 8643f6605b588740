"""Sphinx configuration for the sknc documentation.

Build with::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The build works offline, and so do the built pages: MathJax is served from
their own ``_static/mathjax`` (the sphinx-mathjax-offline extension). It runs
every ``examples/plot_*.py`` with sphinx-gallery (about a minute of the build on
one CPU thread; add ``-D plot_gallery=0`` to show the examples without running
them). Cross-links
to the Python, NumPy, scikit-learn, skorch and PyTorch documentation
(intersphinx) need the network, so they are opt-in:
set ``SKNC_DOCS_INTERSPHINX=1`` to enable them (see below for why).
"""

import os
import re
import sys
from pathlib import Path

# Import sknc from the checkout even when it is not installed, and the local
# Sphinx helpers (docs/sphinxext).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent / "sphinxext"))

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
    # MathJax from the docs' own _static/mathjax (copied there from the
    # sphinx-mathjax-offline package of the docs extra) instead of a CDN, so
    # that the formulas are typeset without network access; it sets
    # mathjax_path to mathjax/tex-chtml.js
    "sphinx-mathjax-offline",
    "sphinx.ext.viewcode",
    "sphinx_gallery.gen_gallery",
    # Markdown pages: the benchmark report is written as Markdown by
    # python -m benchmarks.bench_suite, and CHANGELOG.md is Markdown
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
myst_enable_extensions = ["dollarmath"]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
root_doc = "index"
default_role = "literal"

# Autodoc / autosummary
autosummary_generate = True
autodoc_typehints = "none"
# "On this page" lists a class's methods as fit(), not PALClassifier.fit(),
# which the narrow right sidebar cut off
toc_object_entries_show_parents = "hide"

# Module docstrings (shown with automodule) are not reformatted by numpydoc,
# so a "References" entry they never cite would warn as unreferenced.
suppress_warnings = ["ref.citation"]


def _skip_member(app, what, name, obj, skip, options):
    # scikit-learn generates set_{method}_request methods for metadata routing
    # on every estimator. They are shown where a page lists them by name (the
    # estimators' methods, docs/_templates/estimator.rst), not on the pages
    # that list every member (class.rst).
    # (autosummary passes a dict of options, autodoc an object)
    members = getattr(options, "members", None)
    if re.fullmatch(r"set_\w+_request", name) and not isinstance(members, list):
        return True
    return None


# Roles in the docstrings of the methods that the estimators inherit from
# scikit-learn and skorch (score, set_output, set_*_request, ...) that point
# into scikit-learn's documentation: offline (no intersphinx) they would be
# undefined labels and glossary terms, so they become plain text.
_FOREIGN_ROLE = re.compile(r":(ref|term):`([^`<]*?)\s*(?:<([^>`]*)>)?`")


def _foreign_role_as_text(match):
    role, text, target = match.group(1), match.group(2).strip(), match.group(3)
    if role == "term":
        return text
    if target is not None:  # :ref:`title <label>`
        return f"{text} of scikit-learn" if "guide" in text.lower() else text
    label = text.removeprefix("sklearn:")
    example = re.fullmatch(r"sphx_glr_auto_examples_\w*?(plot_\w+\.py)", label)
    if example:
        return f"scikit-learn's example ``{example.group(1)}``"
    return f"scikit-learn's user guide on {label.replace('_', ' ')}"


def _foreign_docstrings(app, what, name, obj, options, lines):
    module = getattr(obj, "__module__", None) or ""
    if app.config.intersphinx_mapping or module.split(".")[0] == "sknc":
        return
    lines[:] = [_FOREIGN_ROLE.sub(_foreign_role_as_text, line) for line in lines]


# numpydoc
numpydoc_show_class_members = False
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
# Leave parameter types as written: numpydoc's cross-referencing of types
# links to glossaries that only exist with intersphinx.
numpydoc_xref_param_type = False

# -- Intersphinx (opt-in: the build machines are offline) --------------------
#
# Sphinx downloads each project's objects.inv at build time. A failed download
# is a *warning* ("failed to reach any of the inventories"), which fails the
# warnings-as-errors build (-W) of CI, and CI and the development machines
# reach no documentation site. No installed package ships these inventories,
# so the mapping is only used when SKNC_DOCS_INTERSPHINX=1 (e.g. for a release
# build on a machine with internet access). Without it, references such as
# :class:`sklearn.pipeline.Pipeline` in the docs and in the gallery's code
# render as plain code instead of links.

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

# -- Examples gallery (sphinx-gallery) -----------------------------------------

# The examples draw with matplotlib; never open a window while building.
os.environ.setdefault("MPLBACKEND", "Agg")

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # run every plot_*.py (and only those) to capture its output and figures
    "filename_pattern": "/plot_",
    "ignore_pattern": r"__init__\.py",
    # first steps first, then the theory (docs/sphinxext/gallery_order.py)
    "within_subsection_order": "gallery_order.ExampleOrder",
    # link the names used in the examples to the API pages, and list under
    # each sknc object the examples that use it (gen_modules/backreferences)
    "doc_module": ("sknc",),
    "reference_url": {"sknc": None},
    "backreferences_dir": "gen_modules/backreferences",
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "remove_config_comments": True,
    # a failing example fails the build
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
    # no "download all examples as a Jupyter notebook" zip of notebooks that
    # nobody asked for; the .py and .ipynb of each example stay downloadable
    "download_all_examples": False,
    "show_memory": False,
    "min_reported_time": 1,
}

# -- HTML output -------------------------------------------------------------

# pydata-sphinx-theme, as scikit-learn and imbalanced-learn: a wide content
# area, so that the benchmark tables and the gallery's code need no
# horizontal scrolling, a navigation bar for the pages and a table of
# contents per page on the right.
html_theme = "pydata_sphinx_theme"
html_title = f"sknc {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "navbar_align": "left",
    "header_links_before_dropdown": 4,
    "show_toc_level": 2,
    # the benchmark reports' tables need the whole width: no right sidebar
    "secondary_sidebar_items": {
        "**": ["page-toc", "sourcelink"],
        "benchmarks": [],
        "benchmarks_peers": [],
        "benchmarks_small": [],
        "benchmarks_gpu": [],
    },
    "footer_start": ["copyright"],
    "footer_end": ["theme-version"],
    # offline builds: no version switcher or icon fetched from the network
    "navigation_with_keys": False,
}
html_sidebars = {
    # single pages: the whole width for their content
    "install": [],
    "user_guide": [],
    "pitfalls": [],
    "neural_collapse": [],
    "ufm": [],
    "scaling": [],
    "benchmarks": [],
    "benchmarks_peers": [],
    "benchmarks_small": [],
    "benchmarks_gpu": [],
    "changelog": [],
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
    app.connect("autodoc-process-docstring", _foreign_docstrings)
