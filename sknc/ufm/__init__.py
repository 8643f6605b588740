r"""The unconstrained feature model (UFM), simulated.

The UFM drops the network: the head :math:`W` (``K x d``), an optional bias
:math:`b` and one free feature vector :math:`h_i` per training sample are
optimised directly on the training objective of the estimators,

.. math::

    F(W, H, b) = \frac{1}{N}\sum_{i=1}^{N} L(W h_i + b, y_i)
    + \frac{\lambda_W}{2}\|W\|_F^2
    + \frac{\lambda_H}{2}\frac{1}{N}\sum_{i=1}^{N}\|h_i\|^2
    + \frac{\lambda_b}{2}\|b\|^2 ,

where :math:`L` is one of the PAL losses. Its global optima are where the
theory of (multi-label) neural collapse is proven, so the model shows, in
seconds on a CPU, what the metrics of :mod:`sknc.metrics` measure: NC1-NC3
for the single labels, the tag-wise average rule with its scale
:math:`\rho_m`, and how imbalance changes the picture (minority collapse).

- :func:`make_label_structure` builds a label indicator ``Y`` from a short
  spec: samples per label set, per multiplicity or per set, with imbalance
  between and within multiplicities and missing sets.
- :func:`simulate_ufm` optimises the objective from a random start
  (full-batch gradient descent, then L-BFGS) and returns the solution with
  the trajectory of the metrics.
- :func:`collapsed_optimum` predicts the optimum under the symmetric
  (M-lab NC) ansatz by minimising a problem with one scalar per multiplicity;
  it gives :math:`\rho_m` to compare with the simulation.
"""

from ._optimum import collapsed_optimum
from ._simulate import UFMResult, simulate_ufm
from ._structure import make_label_structure

__all__ = ["UFMResult", "collapsed_optimum", "make_label_structure", "simulate_ufm"]
