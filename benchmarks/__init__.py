"""sknc's benchmark studies, run from the repository root as modules.

``python -m benchmarks.<study> --help`` describes a study and its options;
``benchmarks/README.md`` lists them with their results. Every study is a
module of settings and report sections on the shared harness
(:mod:`benchmarks._harness`: data sets, common arguments, the run and its
report header, Markdown tables, peak memory; :mod:`benchmarks._methods`:
the estimators by key, one set of scores, the runner of fits).
"""

from ._harness import *  # noqa: F403
from ._harness import __all__ as _harness_all
from ._methods import *  # noqa: F403
from ._methods import __all__ as _methods_all

__all__ = [*_harness_all, *_methods_all]
