r"""Neural-collapse metrics for multi-label features.

Measure how far the penultimate features ``H`` (``n x d``) of a trained
network, its 0/1 label indicator ``Y`` (``n x K``) and its linear head ``W``
(``K x d``) are from multi-label neural collapse (M-lab NC). Every metric goes
to 0 under collapse.

Notation (used by every docstring of this module):

- multiplicity of a sample: its number of positive labels ``|S|``;
- :math:`\mu_k`: mean feature of the *multiplicity-1* samples of label ``k``
  (rows of ``Y`` whose only positive is ``k``), or its least-squares
  estimate from all rows (``label_means``, below);
- :math:`\mu_G = \frac{1}{K}\sum_k \mu_k`: the global mean is the mean of the
  class means, not the mean over samples, so that it does not move with the
  class sizes (it is the centre of the simplex under collapse, whatever the
  imbalance);
- :math:`\bar M` (``K x d``): rows :math:`\mu_k - \mu_G`;
- :math:`\mu_S`: mean feature of the samples whose label set is exactly ``S``;
- :math:`E = (I_K - \mathbf{1}\mathbf{1}^T/K)/\sqrt{K-1}`: the normalised
  Gram matrix of a simplex equiangular tight frame (ETF);
- :math:`O = I_K/\sqrt{K}`: the normalised Gram matrix of an orthogonal
  frame (``K`` mutually orthogonal vectors of equal norm), the geometry of
  the *uncentred* class means when the features are non-negative (after a
  ReLU); see ``geometry`` in :func:`nc2_means`.

Conventions shared by all functions:

- ``H`` and ``W`` may be NumPy arrays or torch tensors on any device; the
  work runs with torch on the device of ``H`` (NumPy input runs on the CPU).
  ``Y`` may also be a SciPy sparse matrix. Results are Python floats.
- The data are streamed in row chunks; besides the inputs, memory stays
  :math:`O(Kd + d^2)` plus :math:`O(d)` per distinct label set, and chunk
  results are accumulated in float64 (on the CPU for Apple ``mps`` tensors,
  which have no float64).
- Rows of ``Y`` without any positive label are ignored (and counted in the
  report).
- ``label_means`` chooses how :math:`\mu_k` is estimated. With
  ``'singletons'`` (the definition above), a label without any
  multiplicity-1 sample has no class mean: the metrics are computed over the
  other labels (``K`` becomes the number of labels that have one), a
  :class:`NeuralCollapseWarning` names the missing labels, and label sets
  that contain one are left out of ``ncm`` and ``rho``. With ``'all_rows'``
  the means are fitted to every label set's mean under the tag-wise-average
  model, so that data with few single-label rows (most real multi-label data
  sets) have every metric; ``'auto'`` (default) uses the definition when every
  label that occurs has a multiplicity-1 sample, the fit otherwise (see
  :func:`neural_collapse_report`). ``weighting='frequency'`` weights a set's
  labels by their frequencies in the tag-wise average.
- A quantity that is undefined on the data given (fewer than two usable
  labels, class means that coincide, no label set with two or more labels,
  ...) is returned as NaN with a :class:`NeuralCollapseWarning` saying why.
  Input errors raise a ``ValueError`` that names the problem and the fix.
"""

from ._collapse import nc1, nc2, nc2_means, nc3, ncm, neural_collapse_report, rho
from ._kernels import NeuralCollapseWarning
from ._label_report import label_report, label_report_from_estimator
from ._scorer import NeuralCollapseScorer

__all__ = [
    "NeuralCollapseWarning",
    "nc1",
    "nc2",
    "nc2_means",
    "nc3",
    "ncm",
    "rho",
    "neural_collapse_report",
    "label_report",
    "label_report_from_estimator",
    "NeuralCollapseScorer",
]
