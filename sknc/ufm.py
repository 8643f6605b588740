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

import itertools
import math
import numbers
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import torch
from scipy.optimize import minimize
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._device import resolve_device
from ._etf import simplex_etf
from ._loss import LOSSES
from .metrics import NeuralCollapseWarning, neural_collapse_report

__all__ = ["UFMResult", "collapsed_optimum", "make_label_structure", "simulate_ufm"]

_LOSS_NAMES = tuple(LOSSES)
_DTYPES = {"float32": torch.float32, "float64": torch.float64}


# --------------------------------------------------------------------------
# Label structures
# --------------------------------------------------------------------------


def _check_label_set(key, n_labels):
    """Return a label-set key of ``counts`` as a sorted tuple of ints."""
    try:
        labels = [int(k) for k in key]
    except (TypeError, ValueError):
        labels = None
    if labels is None or any(
        isinstance(k, bool) or not isinstance(k, numbers.Integral) for k in key
    ):
        raise ValueError(
            "counts keys must be a multiplicity (int) or a label set (a tuple "
            f"of label indices); got {key!r}."
        )
    if len(set(labels)) != len(labels) or any(not 0 <= k < n_labels for k in labels):
        raise ValueError(
            f"The label set {key!r} in counts must hold distinct label indices "
            f"in [0, {n_labels - 1}]."
        )
    return tuple(sorted(labels))


@validate_params(
    {
        "n_labels": [Interval(numbers.Integral, 2, None, closed="left")],
        "counts": [dict],
        "label_weights": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def make_label_structure(n_labels, counts, *, label_weights=None):
    """Build a label indicator with a prescribed number of samples per set.

    Every label set gets a number of identical rows: the UFM has one free
    feature per row, so only these counts matter.

    Parameters
    ----------
    n_labels : int
        Number of labels ``K``; at least 2.
    counts : dict
        Samples per label set. A key is either

        - an int ``m`` (a multiplicity, ``0 <= m <= K``): **every** set of
          ``m`` labels gets ``counts[m]`` samples (balanced within the
          multiplicity; ``m = 0`` is the empty set, rows without a label);
        - a tuple of label indices, e.g. ``(0, 3)``: that set gets
          ``counts[(0, 3)]`` samples, overriding its multiplicity's entry;
          ``0`` removes the set (a *missing* set).

        Different values for different ``m`` make the multiplicities
        imbalanced between each other.
    label_weights : array-like of shape (n_labels,), default=None
        Imbalance *within* a multiplicity: a set ``S`` of an int entry gets
        ``round(counts[m] * prod(label_weights[k] for k in S))`` samples
        (an explicit tuple entry is used as given). For example weights
        ``[1, 1, 1, 0.1, 0.1, 0.1]`` with ``counts={1: 100}`` give 100
        samples to each of labels 0-2 and 10 to each of labels 3-5.

    Returns
    -------
    Y : ndarray of shape (n_samples, n_labels), dtype int64
        0/1 indicator; the rows of one set are contiguous, sets ordered by
        multiplicity and then lexicographically.

    See Also
    --------
    simulate_ufm : Optimise the UFM on the structure.

    Examples
    --------
    >>> from sknc.ufm import make_label_structure
    >>> Y = make_label_structure(3, {1: 2, 2: 1, (0, 2): 0})
    >>> Y
    array([[1, 0, 0],
           [1, 0, 0],
           [0, 1, 0],
           [0, 1, 0],
           [0, 0, 1],
           [0, 0, 1],
           [1, 1, 0],
           [0, 1, 1]])
    >>> make_label_structure(4, {1: 100}, label_weights=[1, 1, 0.1, 0.1]).sum(0)
    array([100, 100,  10,  10])
    """
    K = int(n_labels)
    if label_weights is None:
        weights = np.ones(K)
    else:
        weights = np.asarray(label_weights, dtype=float)
        if weights.shape != (K,) or not (
            np.isfinite(weights).all() and (weights > 0).all()
        ):
            raise ValueError(
                f"label_weights must hold {K} positive finite numbers (one per "
                f"label); got {label_weights!r}."
            )
    per_set = {}
    explicit = {}
    for key, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError(
                f"counts values must be non-negative ints; got {value!r} for {key!r}."
            )
        if value < 0:
            raise ValueError(f"counts[{key!r}] must be >= 0; got {value}.")
        if isinstance(key, numbers.Integral) and not isinstance(key, bool):
            if not 0 <= key <= K:
                raise ValueError(
                    f"A multiplicity key of counts must be in [0, {K}]; got {key}."
                )
            for labels in itertools.combinations(range(K), int(key)):
                n = int(round(value * float(np.prod(weights[list(labels)]))))
                per_set[labels] = n
        else:
            explicit[_check_label_set(key, K)] = int(value)
    per_set.update(explicit)
    rows = []
    for labels in sorted(per_set, key=lambda s: (len(s), s)):
        y = np.zeros(K, dtype=np.int64)
        y[list(labels)] = 1
        rows.extend([y] * per_set[labels])
    if not rows:
        raise ValueError(
            f"counts={counts!r} gives no sample at all; give at least one label "
            "set a positive count."
        )
    return np.array(rows)


def _check_Y(Y):
    """Return ``Y`` as a dense 0/1 float64 ndarray of shape (n, K >= 2)."""
    if isinstance(Y, torch.Tensor):
        Y = Y.detach().cpu().numpy()
    elif sp.issparse(Y):
        Y = Y.toarray()
    elif hasattr(Y, "to_numpy"):
        Y = Y.to_numpy()
    Y = np.asarray(Y)
    if Y.ndim != 2:
        raise ValueError(
            f"Y must be a 2-D (n_samples, n_labels) 0/1 indicator; got shape {Y.shape}."
        )
    if Y.shape[0] == 0 or Y.shape[1] < 2:
        raise ValueError(
            f"Y needs at least one sample and two labels; got shape {Y.shape}."
        )
    if Y.dtype.kind not in "biuf" or not np.isin(Y, (0, 1)).all():
        raise ValueError(
            "Y must be a 0/1 label indicator; it contains other values. "
            "Binarize it (for example Y > 0)."
        )
    return Y.astype(np.float64)


# --------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------


def _make_loss(loss, loss_params):
    """Return the loss module of a name (the estimators' mapping) or a callable."""
    params = dict(loss_params or {})
    if isinstance(loss, str):
        cls, defaults = LOSSES[loss]
        return cls(**{**defaults, **params})
    if params:
        raise ValueError(
            "loss_params only applies to a loss given by name; configure the "
            f"loss object {loss!r} directly instead."
        )
    return loss


def _evaluate_loss(criterion, logits, Y):
    value = criterion(logits, Y)
    if not isinstance(value, torch.Tensor) or value.ndim != 0:
        raise ValueError(
            "The loss must return a scalar tensor (the mean over the samples); "
            f"got {type(value).__name__} "
            f"{tuple(getattr(value, 'shape', ()))}. Use reduction='mean'."
        )
    return value


# --------------------------------------------------------------------------
# Simulation
# --------------------------------------------------------------------------


@dataclass(repr=False)
class UFMResult:
    """Solution and trajectory of :func:`simulate_ufm`.

    Attributes
    ----------
    H : ndarray of shape (n_samples, feature_dim)
        The optimised features, one row per row of ``Y``.
    W : ndarray of shape (n_labels, feature_dim)
        The head (for ``head='etf'``: the scale times the fixed frame).
    b : ndarray of shape (n_labels,) or None
        The bias, or None with ``bias=False``.
    Y : ndarray of shape (n_samples, n_labels)
        The label indicator (float64).
    history : list of dict
        One dict per recorded step, in order: ``"step"`` (gradient steps
        so far, plus L-BFGS iterations for the last row), ``"phase"``
        (``'gd'`` or ``'lbfgs'``), ``"objective"`` (the full objective
        :math:`F`), ``"loss"`` (its data term), ``"grad_norm"`` (the largest
        absolute gradient entry, the features' scaled by ``n_samples`` so
        that every sample counts as a whole), ``"nc1"``, ``"nc2"``,
        ``"nc2_means"``, ``"nc3"``, ``"ncm"`` (see :mod:`sknc.metrics`) and
        ``"rho_<m>"`` for each multiplicity ``m >= 2`` of ``Y``. ``"ncm"``
        is NaN when ``Y`` has no set of two or more labels (the
        :class:`~sknc.metrics.NeuralCollapseWarning` that says so is left
        out); the metrics' other warnings are raised once each, at the end.
        ``pandas.DataFrame(result.history)`` makes it a table.
    report : dict
        :func:`sknc.metrics.neural_collapse_report` of the final solution.
    objective : float
        Final value of the objective.
    grad_norm : float
        Final ``"grad_norm"`` (see ``history``).
    n_steps : int
        Gradient-descent steps taken.
    n_lbfgs_iter : int
        L-BFGS iterations taken.
    converged : bool
        Whether ``grad_norm <= tol`` at the end.
    time : float
        Wall-clock seconds of the optimisation and the recording.
    """

    H: np.ndarray
    W: np.ndarray
    b: np.ndarray | None
    Y: np.ndarray
    history: list = field(default_factory=list)
    report: dict = field(default_factory=dict)
    objective: float = math.nan
    grad_norm: float = math.nan
    n_steps: int = 0
    n_lbfgs_iter: int = 0
    converged: bool = False
    time: float = 0.0

    def __repr__(self):
        last = self.history[-1] if self.history else {}
        metrics = ", ".join(
            f"{k}={last[k]:.3g}"
            for k in ("nc1", "nc2", "nc2_means", "nc3", "ncm")
            if k in last
        )
        return (
            f"UFMResult(n_samples={self.H.shape[0]}, n_labels={self.W.shape[0]}, "
            f"feature_dim={self.H.shape[1]}, objective={self.objective:.6g}, "
            f"grad_norm={self.grad_norm:.2g}, {metrics})"
        )


class _Problem:
    """Parameters, objective and metrics of one UFM simulation."""

    def __init__(
        self,
        Y,
        *,
        d,
        criterion,
        lambda_W,
        lambda_H,
        lambda_b,
        bias,
        head,
        etf_scale,
        init_scale,
        rng,
        device,
        dtype,
    ):
        N, K = Y.shape
        self.N = N
        self.Y_np = Y
        self.Y = torch.as_tensor(Y, dtype=dtype, device=device)
        self.criterion = criterion
        self.lambda_W, self.lambda_H, self.lambda_b = lambda_W, lambda_H, lambda_b

        def tensor(a, grad=True):
            return torch.as_tensor(a, dtype=dtype, device=device).requires_grad_(grad)

        # Draw everything from one NumPy stream: the same start on every device.
        # The features are held as G = H / sqrt(N): the objective's curvature
        # in G is then on the scale of the head's, so plain gradient descent
        # moves every sample as if its term were not averaged, and L-BFGS is
        # well conditioned.
        self.root_N = math.sqrt(N)
        H0 = init_scale * rng.standard_normal((N, d))
        self.G = tensor(H0 / self.root_N)
        self.params = [self.G]
        self.etf = None
        self.log_scale = None
        if head == "etf":
            self.etf = tensor(simplex_etf(K, d, random_state=rng), grad=False)
            if etf_scale == "learned":
                self.scale = tensor(1.0)
                self.params.append(self.scale)
            else:
                self.scale = tensor(float(etf_scale), grad=False)
        else:
            self.W_free = tensor(init_scale * rng.standard_normal((K, d)))
            self.params.append(self.W_free)
        self.b = tensor(np.zeros(K)) if bias else None
        if bias:
            self.params.append(self.b)

    @property
    def H(self):
        return self.G * self.root_N

    @property
    def W(self):
        return self.scale * self.etf if self.etf is not None else self.W_free

    def terms(self):
        """Return ``(objective, loss)`` as scalar tensors."""
        W = self.W
        logits = self.H @ W.T
        if self.b is not None:
            logits = logits + self.b
        loss = _evaluate_loss(self.criterion, logits, self.Y)
        objective = (
            loss
            + 0.5 * self.lambda_W * W.square().sum()
            + 0.5 * self.lambda_H * self.G.square().sum()
        )
        if self.b is not None:
            objective = objective + 0.5 * self.lambda_b * self.b.square().sum()
        return objective, loss

    def backward(self):
        for p in self.params:
            p.grad = None
        objective, loss = self.terms()
        objective.backward()
        return objective.item(), loss.item()

    def grad_norm(self):
        """Largest gradient entry, the features' scaled by N (per sample)."""
        norm = 0.0
        for p in self.params:
            # dF/dH = dF/dG / sqrt(N), so N dF/dH = sqrt(N) dF/dG
            g = p.grad.abs().max() * (self.root_N if p is self.G else 1)
            norm = max(norm, float(g))
        return norm

    def step(self, lr):
        """One gradient step in (G, W, b): lr * N for each feature in H."""
        with torch.no_grad():
            for p in self.params:
                p -= lr * p.grad

    def arrays(self):
        with torch.no_grad():
            H = self.H.detach().cpu().numpy().astype(np.float64)
            W = self.W.detach().cpu().numpy().astype(np.float64)
            b = None if self.b is None else self.b.detach().cpu().numpy()
        return H, W, None if b is None else b.astype(np.float64)


def _check_finite(value, step, lr):
    if not math.isfinite(value):
        raise FloatingPointError(
            f"The UFM objective is {value} at step {step}: gradient descent "
            f"diverged. Lower lr (got lr={lr}), e.g. by a factor of 10."
        )


@validate_params(
    {
        "Y": ["array-like", "sparse matrix"],
        "feature_dim": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "loss": [StrOptions(set(_LOSS_NAMES)), callable],
        "loss_params": [dict, None],
        "lambda_W": [Interval(numbers.Real, 0, None, closed="left")],
        "lambda_H": [Interval(numbers.Real, 0, None, closed="left")],
        "lambda_b": [Interval(numbers.Real, 0, None, closed="left"), None],
        "bias": ["boolean"],
        "head": [StrOptions({"linear", "etf"})],
        "etf_scale": [
            Interval(numbers.Real, 0, None, closed="neither"),
            StrOptions({"learned"}),
        ],
        "n_steps": [Interval(numbers.Integral, 0, None, closed="left")],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "lbfgs_iter": [Interval(numbers.Integral, 0, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left"), None],
        "record_every": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "init_scale": [Interval(numbers.Real, 0, None, closed="neither")],
        "n_random": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "device": [str, torch.device],
        "dtype": [StrOptions(set(_DTYPES)), torch.dtype],
    },
    prefer_skip_nested_validation=True,
)
def simulate_ufm(
    Y,
    *,
    feature_dim=None,
    loss="pal",
    loss_params=None,
    lambda_W=5e-3,
    lambda_H=5e-3,
    lambda_b=None,
    bias=False,
    head="linear",
    etf_scale="learned",
    n_steps=2000,
    lr=0.5,
    lbfgs_iter=1000,
    tol=None,
    record_every=100,
    init_scale=0.1,
    n_random=1000,
    random_state=None,
    device="cpu",
    dtype="float64",
):
    r"""Optimise the unconstrained feature model and record neural collapse.

    Minimises, over the head :math:`W`, the features :math:`H` (one free row
    per row of ``Y``) and optionally a bias :math:`b`,

    .. math::

        F = \frac{1}{N}\sum_i L(W h_i + b, y_i)
        + \frac{\lambda_W}{2}\|W\|_F^2
        + \frac{\lambda_H}{2}\frac{1}{N}\sum_i\|h_i\|^2
        + \frac{\lambda_b}{2}\|b\|^2 ,

    from a small random start: ``n_steps`` steps of full-batch gradient
    descent (the training dynamics; the metrics of :mod:`sknc.metrics` are
    recorded every ``record_every`` steps), then up to ``lbfgs_iter``
    L-BFGS iterations to reach the optimum (one more record).

    Parameters
    ----------
    Y : array-like or sparse matrix of shape (n_samples, n_labels)
        0/1 label indicator, at least two labels; see
        :func:`make_label_structure`. Rows without a label are allowed: the
        PAL losses give them no loss, so the feature decay pulls their
        features to 0 (the metrics ignore them). Labels without a
        multiplicity-1 sample are allowed too (the metrics then warn).
    feature_dim : int, default=None
        Dimension ``d`` of the features; ``None`` means ``n_labels``. The
        collapsed geometry needs ``d >= n_labels - 1`` (required with
        ``head='etf'``).
    loss : str or callable, default='pal'
        The data term: one of ``'pal'``, ``'pal_n'``, ``'pal_ls'``,
        ``'pal_focal'``, ``'pal_mse'``, with the meanings and defaults of the
        estimators' ``loss`` parameter (see :class:`~sknc.PALClassifier`), or a callable
        ``loss(logits, Y) -> scalar tensor`` such as a
        :class:`~sknc.PALCrossEntropyLoss` instance (averaged over the
        samples).
    loss_params : dict, default=None
        Overrides of the named loss's parameters, e.g.
        ``{'label_smoothing': 0.2}`` or ``{'gamma': 1.0}``.
    lambda_W : float, default=5e-3
        Weight decay :math:`\lambda_W` on the head.
    lambda_H : float, default=5e-3
        Feature decay :math:`\lambda_H`. With both decays at 0 a
        cross-entropy objective has no minimiser (the norms grow forever).
    lambda_b : float, default=None
        Decay of the bias; ``None`` means ``lambda_W`` (the estimators'
        weight decay applies to every parameter).
    bias : bool, default=False
        Whether the logits have a learned bias. With label sets balanced
        within every multiplicity the optimal bias of the softmax losses is
        0; ``'pal_mse'`` regresses the logits on non-centred targets and uses
        it (without a bias it spends a common direction of the features and
        of :math:`W` instead, which raises NC2 of the head).
    head : {'linear', 'etf'}, default='linear'
        ``'linear'``: a free head :math:`W`. ``'etf'``: :math:`W = s M` with
        :math:`M` a fixed simplex ETF (:func:`sknc.simplex_etf`), as in
        :class:`~sknc.FixedETFClassifier`; the weight decay then costs
        :math:`\lambda_W K s^2 / 2`.
    etf_scale : float > 0 or 'learned', default='learned'
        The scale :math:`s` of an ETF head: fixed, or learned from 1.
    n_steps : int, default=2000
        Gradient-descent steps (0: L-BFGS only).
    lr : float, default=0.5
        Step size of the head and bias; each feature vector takes
        ``lr * n_samples``, the step it would take if its own term were not
        averaged over the samples. Lower it if the objective diverges.
    lbfgs_iter : int, default=1000
        Maximum L-BFGS iterations after the gradient steps (0: none).
    tol : float, default=None
        Both phases stop once ``grad_norm <= tol`` (see ``history`` in
        :class:`UFMResult`), and a
        :class:`~sklearn.exceptions.ConvergenceWarning` is raised when the
        final ``grad_norm`` is above it. ``None`` means ``1e-6`` in float64
        and ``1e-3`` in float32: near the optimum, the decrease of the
        objective for a gradient of size :math:`g` is about :math:`g^2`,
        which rounding hides below about the square root of the machine
        epsilon.
    record_every : int, default=100
        Record the metrics every this many gradient steps (and always at
        the start and the end); ``None`` records the start and the end only.
    init_scale : float, default=0.1
        Standard deviation of the Gaussian start of :math:`H` and :math:`W`.
    n_random : int, default=1000
        Random label sets per size for the chance level of NCm; see
        :func:`sknc.metrics.ncm`.
    random_state : int, RandomState instance or None, default=None
        Seeds the start (and the ETF's rotation and the random sets of
        NCm). An int gives the same result on every call.
    device : str or torch.device, default='cpu'
        Where the optimisation runs (``'cpu'``, ``'cuda'``, ``'mps'``,
        ``'auto'``).
    dtype : {'float64', 'float32'} or torch.dtype, default='float64'
        Precision of the optimisation. ``float64`` reaches the optimum to
        many digits; ``float32`` is faster on GPUs (and all that ``mps``
        supports).

    Returns
    -------
    result : UFMResult
        The solution ``H``, ``W``, ``b``, the recorded ``history`` of the
        objective and the metrics, the final ``report`` and convergence
        information.

    Raises
    ------
    FloatingPointError
        If the objective becomes non-finite (the step is too large).

    See Also
    --------
    make_label_structure : Build ``Y``.
    collapsed_optimum : The predicted optimum, to compare with.
    sknc.metrics.neural_collapse_report : The recorded metrics.

    Notes
    -----
    Features are one free vector per row, so rows with the same label set
    only differ by their random start; at the optimum they coincide (NC1 is
    0 up to rounding). The defaults reach the optimum of a few hundred
    samples and ten labels in about a second on one CPU thread. Smaller
    decays give larger optimal norms and slower convergence: raise
    ``n_steps`` or ``lbfgs_iter``.

    Examples
    --------
    >>> from sknc.ufm import make_label_structure, simulate_ufm
    >>> Y = make_label_structure(4, {1: 10, 2: 5})
    >>> result = simulate_ufm(Y, n_steps=500, record_every=250, random_state=0)
    >>> [row["step"] for row in result.history[:3]]
    [0, 250, 500]
    >>> result.converged, result.report["nc1"] < 1e-9
    (True, True)
    >>> round(result.report["rho"][2], 4)  # predicted: 1.804322
    1.8043
    """
    Y = _check_Y(Y)
    N, K = Y.shape
    d = K if feature_dim is None else int(feature_dim)
    if head == "etf" and d < K - 1:
        raise ValueError(
            f"head='etf' needs feature_dim >= n_labels - 1 = {K - 1}; got "
            f"feature_dim={d}."
        )
    criterion = _make_loss(loss, loss_params)
    dtype = _DTYPES.get(dtype, dtype)
    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating-point dtype; got {dtype}.")
    if tol is None:
        tol = 1e-6 if dtype == torch.float64 else 1e-3
    device = resolve_device(device)
    rng = check_random_state(random_state)
    metric_seed = rng.randint(np.iinfo(np.int32).max)
    problem = _Problem(
        Y,
        d=d,
        criterion=criterion,
        lambda_W=float(lambda_W),
        lambda_H=float(lambda_H),
        lambda_b=float(lambda_W if lambda_b is None else lambda_b),
        bias=bias,
        head=head,
        etf_scale=etf_scale,
        init_scale=float(init_scale),
        rng=rng,
        device=device,
        dtype=dtype,
    )
    multiplicities = sorted({int(m) for m in Y.sum(1) if m >= 2})
    history = []
    messages = {}
    start = time.perf_counter()

    def record(step, phase, value, loss_value):
        H, W, _ = problem.arrays()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", NeuralCollapseWarning)
            report = neural_collapse_report(
                H, Y, W, n_random=n_random, random_state=metric_seed
            )
        for w in caught:
            messages.setdefault(str(w.message), w.category)
        row = {
            "step": step,
            "phase": phase,
            "objective": float(value),
            "loss": float(loss_value),
            "grad_norm": problem.grad_norm(),
        }
        row.update({k: report[k] for k in ("nc1", "nc2", "nc2_means", "nc3", "ncm")})
        row.update({f"rho_{m}": report["rho"].get(m, math.nan) for m in multiplicities})
        history.append(row)
        return report

    # Gradient descent.
    step = 0
    while True:
        value, loss_value = problem.backward()
        _check_finite(value, step, lr)
        grad_norm = problem.grad_norm()
        done = step == n_steps or grad_norm <= tol
        if step == 0 or done or (record_every and step % record_every == 0):
            report = record(step, "gd", value, loss_value)
        if done:
            break
        problem.step(lr)
        step += 1
    n_lbfgs = 0

    # L-BFGS to the optimum.
    if lbfgs_iter and grad_norm > tol:
        optimizer = torch.optim.LBFGS(
            problem.params,
            lr=1,
            max_iter=lbfgs_iter,
            tolerance_grad=tol / math.sqrt(N),
            tolerance_change=0.0,
            history_size=50,
            line_search_fn="strong_wolfe",
        )

        def closure():
            optimizer.zero_grad()
            objective, _ = problem.terms()
            objective.backward()
            return objective

        optimizer.step(closure)
        n_lbfgs = int(optimizer.state[problem.params[0]].get("n_iter", 0))
        value, loss_value = problem.backward()
        _check_finite(value, step + n_lbfgs, lr)
        grad_norm = problem.grad_norm()
        report = record(step + n_lbfgs, "lbfgs", value, loss_value)

    for message, category in messages.items():
        if not multiplicities and "two or more labels" in message:
            continue  # documented: NCm is NaN without sets of two labels
        # stacklevel 3: the caller, above validate_params' wrapper
        warnings.warn(message, category, stacklevel=3)
    converged = grad_norm <= tol
    if not converged:
        warnings.warn(
            f"The UFM did not reach the optimum: grad_norm={grad_norm:.2g} > "
            f"tol={tol:g} after {step} gradient steps and {n_lbfgs} L-BFGS "
            "iterations. Raise n_steps or lbfgs_iter (small decays converge "
            "slowly), or raise tol.",
            ConvergenceWarning,
            stacklevel=3,
        )
    H, W, b = problem.arrays()
    return UFMResult(
        H=H,
        W=W,
        b=b,
        Y=Y,
        history=history,
        report=report,
        objective=value,
        grad_norm=grad_norm,
        n_steps=step,
        n_lbfgs_iter=n_lbfgs,
        converged=bool(converged),
        time=time.perf_counter() - start,
    )


# --------------------------------------------------------------------------
# The symmetric (collapsed) optimum
# --------------------------------------------------------------------------


def _balanced_counts(Y):
    """``{m: samples per set}`` of a structure balanced within multiplicities."""
    N, K = Y.shape
    sizes = Y.sum(1).astype(int)
    out = {}
    for m in np.unique(sizes):
        rows = Y[sizes == m]
        _, per_set = np.unique(rows, axis=0, return_counts=True)
        if len(per_set) != math.comb(K, int(m)) or (per_set != per_set[0]).any():
            raise ValueError(
                f"The symmetric optimum needs every label set of a multiplicity "
                f"present equally often; multiplicity {m} has {len(per_set)} of "
                f"its {math.comb(K, int(m))} sets, with {per_set.min()} to "
                f"{per_set.max()} samples each. Simulate it with simulate_ufm "
                "instead."
            )
        out[int(m)] = int(per_set[0])
    return out


def _is_shift_invariant(criterion, K):
    g = torch.Generator().manual_seed(0)
    z = torch.randn(4, K, generator=g, dtype=torch.float64)
    y = (torch.rand(4, K, generator=g) < 0.5).to(torch.float64)
    y[:, 0] = 1
    with torch.no_grad():
        a = float(_evaluate_loss(criterion, z, y))
        b = float(_evaluate_loss(criterion, z + 1.5, y))
    return abs(a - b) <= 1e-9 * max(1.0, abs(a))


@validate_params(
    {
        "Y": ["array-like", "sparse matrix"],
        "loss": [StrOptions(set(_LOSS_NAMES)), callable],
        "loss_params": [dict, None],
        "lambda_W": [Interval(numbers.Real, 0, None, closed="neither")],
        "lambda_H": [Interval(numbers.Real, 0, None, closed="neither")],
        "lambda_b": [Interval(numbers.Real, 0, None, closed="left"), None],
        "bias": ["boolean"],
        "etf_scale": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "symmetrize": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def collapsed_optimum(
    Y,
    *,
    loss="pal",
    loss_params=None,
    lambda_W=5e-3,
    lambda_H=5e-3,
    lambda_b=None,
    bias=False,
    etf_scale=None,
    symmetrize=False,
):
    r"""Predict the UFM optimum from multi-label neural collapse.

    For label sets balanced within every multiplicity (every set of size
    ``m`` present, equally often), M-lab NC says that at the global optimum
    the head is a scaled simplex ETF, :math:`w_k = \alpha m_k`, and the
    feature of every sample of a set :math:`S` of size :math:`m` is
    :math:`\beta_m \frac{1}{m}\sum_{k \in S} m_k` (plus, with a bias, a
    common logit offset :math:`c`). The objective of :func:`simulate_ufm`
    then depends on these few scalars only; this function minimises it over
    them (numerically, with the actual loss). With the class means
    :math:`\mu_k = \beta_1 m_k` (and :math:`\mu_G = 0`), the scale of the
    tag-wise average rule :math:`\mu_S = \rho_m \frac{1}{m}\sum_{k\in S}
    \mu_k` is :math:`\rho_m = \beta_m / \beta_1`.

    Parameters
    ----------
    Y : array-like or sparse matrix of shape (n_samples, n_labels)
        0/1 label indicator, balanced within every multiplicity (as made by
        :func:`make_label_structure` with int keys only), with single
        labels.
    loss, loss_params, lambda_W, lambda_H, lambda_b, bias
        As in :func:`simulate_ufm` (both decays must be positive). A loss
        that changes when every logit is shifted by the same amount (such as
        ``'pal_mse'``) needs ``bias=True``.
    etf_scale : float, default=None
        Fix :math:`\alpha` (a fixed ETF head of that scale); ``None``
        optimises it (a learned head or a learned scale).
    symmetrize : bool, default=False
        Accept any ``Y`` (real data are never balanced within their
        multiplicities) and predict the optimum of its symmetrised version:
        the same number of labels and the same share of samples of each
        multiplicity, spread equally over all the sets of that multiplicity.

    Returns
    -------
    optimum : dict
        ``"alpha"`` (row norm of :math:`W`), ``"beta"`` (``{m: beta_m}``,
        the norm scale of each multiplicity; :math:`\|\mu_k\| = \beta_1`),
        ``"rho"`` (``{m: rho_m}`` for ``m >= 2`` with ``m < n_labels``),
        ``"offset"`` (the common logit offset :math:`c`, 0 without a bias)
        and ``"objective"`` (the predicted minimum of :math:`F`).

    Raises
    ------
    ValueError
        If ``Y`` is not balanced within its multiplicities, has no single
        labels, or if the loss needs a bias that ``bias=False`` forbids.

    See Also
    --------
    simulate_ufm : The optimum found by optimisation.

    Notes
    -----
    With :math:`x = \alpha\beta_m K / (m (K-1))`, the logits of a sample of
    a set of size :math:`m` are :math:`x (K-m)/K` on its labels and
    :math:`-x m/K` on the others, and :math:`\|\frac{1}{m}\sum_{k\in S}
    m_k\|^2 = (K-m)/(m(K-1))`. For the PAL cross-entropy the per-sample
    loss is :math:`m \log(m + (K-m) e^{-x})`; setting the derivatives to 0
    gives closed forms, e.g. for pairs :math:`\rho_2 = 2(e^{x_1} + K - 1) /
    (2 e^{x_2} + K - 2)` (see ``python -m benchmarks.ufm_experiment``). The
    prediction is the best *symmetric* point; that the global optimum is
    symmetric is the M-lab NC theorem for the PAL cross-entropy, and
    :func:`simulate_ufm` checks it for the other losses.

    Examples
    --------
    >>> from sknc.ufm import collapsed_optimum, make_label_structure
    >>> Y = make_label_structure(4, {1: 10, 2: 5})
    >>> optimum = collapsed_optimum(Y)
    >>> round(optimum["rho"][2], 6)
    1.804322
    """
    Y = _check_Y(Y)
    N, K = Y.shape
    if symmetrize:
        sizes, n_rows = np.unique(np.asarray(Y.sum(axis=1)).ravel(), return_counts=True)
        # the rows of multiplicity m, as if spread over its comb(K, m) sets
        shares = {int(m): int(n) / N for m, n in zip(sizes, n_rows, strict=True)}
    else:
        counts = _balanced_counts(Y)
        shares = {m: counts[m] * math.comb(K, m) / N for m in counts}
    if 1 not in shares:
        raise ValueError(
            "The symmetric optimum is parametrised by the single labels' means; "
            "Y has no multiplicity-1 sample."
        )
    criterion = _make_loss(loss, loss_params)
    if not bias and not _is_shift_invariant(criterion, K):
        raise ValueError(
            "This loss changes when every logit is shifted by the same amount, "
            "so without a bias the optimum uses a common feature direction that "
            "the symmetric prediction does not model. Pass bias=True."
        )
    lambda_b = lambda_W if lambda_b is None else lambda_b
    ms = [m for m in shares if 0 < m < K]  # m = 0 and m = K have h = 0
    weights = {m: shares[m] for m in ms}
    # Representative set {0, ..., m-1} of each multiplicity.
    targets = torch.zeros(len(ms), K, dtype=torch.float64)
    for i, m in enumerate(ms):
        targets[i, :m] = 1.0
    on = torch.as_tensor([(K - m) / K for m in ms], dtype=torch.float64)
    off = torch.as_tensor([-m / K for m in ms], dtype=torch.float64)
    norm2 = torch.as_tensor([(K - m) / (m * (K - 1)) for m in ms], dtype=torch.float64)
    w = torch.as_tensor([weights[m] for m in ms], dtype=torch.float64)
    mass = torch.as_tensor(ms, dtype=torch.float64)
    # Constant loss of the rows whose logits are all equal (m = 0 or m = K).
    rest = {m: shares[m] for m in shares if m in (0, K)}

    n_alpha = 1 if etf_scale is None else 0
    n_beta = len(ms)

    def unpack(p):
        alpha = p[0] if n_alpha else torch.tensor(float(etf_scale), dtype=p.dtype)
        beta = p[n_alpha : n_alpha + n_beta]
        c = p[-1] if bias else torch.zeros((), dtype=p.dtype)
        return alpha, beta, c

    def objective(p):
        p = torch.as_tensor(p, dtype=torch.float64).requires_grad_()
        alpha, beta, c = unpack(p)
        x = alpha * beta * K / (mass * (K - 1))
        logits = torch.where(targets > 0, (x * on)[:, None], (x * off)[:, None]) + c
        # the loss averages over its rows: one call per representative row
        per_set = torch.stack(
            [
                _evaluate_loss(criterion, logits[i : i + 1], targets[i : i + 1])
                for i in range(n_beta)
            ]
        )
        value = (w * per_set).sum() + 0.5 * lambda_H * (w * beta**2 * norm2).sum()
        for m, n in rest.items():
            y = torch.zeros(1, K, dtype=torch.float64)
            y[0, :m] = 1.0
            flat = torch.zeros(1, K, dtype=torch.float64) + c
            value = value + n * _evaluate_loss(criterion, flat, y)
        value = value + 0.5 * lambda_W * K * alpha**2 + 0.5 * lambda_b * K * c**2
        value.backward()
        return value.item(), p.grad.numpy().copy()

    x0 = np.array([1.0] * (n_alpha + n_beta) + ([0.0] if bias else []))
    res = minimize(
        objective,
        x0,
        jac=True,
        method="BFGS",
        options={"gtol": 1e-12, "maxiter": 10000},
    )
    alpha, beta, c = (v.detach().numpy() for v in unpack(torch.as_tensor(res.x)))
    if alpha < 0:  # (alpha, beta) -> (-alpha, -beta) is a symmetry
        alpha, beta = -alpha, -beta
    beta = {m: float(beta[i]) for i, m in enumerate(ms)}
    return {
        "alpha": float(alpha),
        "beta": beta,
        "rho": {m: beta[m] / beta[1] for m in ms if m >= 2},
        "offset": float(c),
        "objective": float(res.fun),
    }
