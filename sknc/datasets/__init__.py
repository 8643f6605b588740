"""Built-in multi-label datasets.

:func:`make_multilabel_digits` composes multi-label images from scikit-learn's
bundled 8x8 handwritten digits (:func:`sklearn.datasets.load_digits`, no
download): each digit of a sample sits in its own corner of a larger blank
canvas, so a sample's label set is the set of digit classes it shows. This is
the multi-label MNIST construction used to study neural collapse under the
pick-all-label loss, scaled down so that it runs on a CPU in seconds.

:func:`load_arff` reads the standard multi-label benchmarks distributed as
ARFF files in the Mulan format (labels last, named in an XML file) or the
MEKA format (labels first, counted by ``-C`` in the relation name), dense or
sparse. It needs the optional ``liac-arff`` package (``pip install -e
".[arff]"`` from the repository root).
"""

from ._arff import load_arff
from ._digits import make_multilabel_digits

__all__ = ["load_arff", "make_multilabel_digits"]
