"""The simulation of the unconstrained feature model."""

import math
import numbers
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from .._device import resolve_device
from .._etf import simplex_etf
from .._warnings import warn
from ..metrics import NeuralCollapseWarning, neural_collapse_report
from ._structure import _DTYPES, _LOSS_NAMES, _check_Y, _evaluate_loss, _make_loss

__all__ = ["UFMResult", "simulate_ufm"]

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
        warn(message, category)
    converged = grad_norm <= tol
    if not converged:
        warn(
            f"The UFM did not reach the optimum: grad_norm={grad_norm:.2g} > "
            f"tol={tol:g} after {step} gradient steps and {n_lbfgs} L-BFGS "
            "iterations. Raise n_steps or lbfgs_iter (small decays converge "
            "slowly), or raise tol.",
            ConvergenceWarning,
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
