"""Simplex equiangular tight frames (ETF)."""

import numbers

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["simplex_etf"]


def simplex_etf(n_classes, dim, random_state=None):
    r"""Build a simplex equiangular tight frame of ``n_classes`` unit vectors.

    The rows of the returned matrix have unit norm and pairwise cosine
    :math:`-1/(K-1)`: the geometry that class means and classifier rows
    converge to under neural collapse.

    With :math:`P \in \mathbb{R}^{d \times (K-1)}` having orthonormal columns
    and :math:`V \in \mathbb{R}^{K \times (K-1)}` an orthonormal basis of the
    complement of the all-ones vector, the frame is
    :math:`M = \sqrt{K/(K-1)}\, V P^T`, whose Gram matrix is
    :math:`M M^T = (K I_K - \mathbf{1}\mathbf{1}^T)/(K-1)`.

    Parameters
    ----------
    n_classes : int
        Number of vectors ``K``; at least 2.
    dim : int
        Dimension ``d`` of the space; at least ``K - 1``.
    random_state : int, RandomState instance or None, default=None
        Seeds the random rotation that places the frame in ``R^d``. Pass an
        int for a reproducible frame.

    Returns
    -------
    etf : ndarray of shape (n_classes, dim), dtype float64
        One unit vector per class.

    Raises
    ------
    ValueError
        If ``n_classes < 2`` or ``dim < n_classes - 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from sknc import simplex_etf
    >>> M = simplex_etf(4, 3, random_state=0)
    >>> np.round(M @ M.T, 3)
    array([[ 1.   , -0.333, -0.333, -0.333],
           [-0.333,  1.   , -0.333, -0.333],
           [-0.333, -0.333,  1.   , -0.333],
           [-0.333, -0.333, -0.333,  1.   ]])
    """
    for name, value in (("n_classes", n_classes), ("dim", dim)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool):
            raise TypeError(f"{name} must be an int; got {value!r}.")
    if n_classes < 2:
        raise ValueError(
            f"A simplex ETF needs n_classes >= 2; got n_classes={n_classes}."
        )
    if dim < n_classes - 1:
        raise ValueError(
            f"A simplex ETF of {n_classes} vectors needs dim >= n_classes - 1 = "
            f"{n_classes - 1}; got dim={dim}. Increase the feature dimension."
        )
    rng = check_random_state(random_state)
    K = int(n_classes)
    # Orthonormal basis of the complement of the all-ones vector: the centred
    # one-hot vectors span it, and the Q of their QR decomposition is one.
    centred = np.eye(K)[:, : K - 1] - 1.0 / K
    V, _ = np.linalg.qr(centred)
    # A random isometry R^{K-1} -> R^d places the frame in the feature space.
    P, _ = np.linalg.qr(rng.standard_normal((dim, K - 1)))
    return np.sqrt(K / (K - 1)) * V @ P.T
