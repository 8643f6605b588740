"""The features and the head of a fitted estimator, for the metrics.

One reader of ``module_.head.weight`` for the scorer, the label report and
the training tracker, and one walk down a Pipeline or a search to the step
whose head applies to the features being measured.
"""

import torch
from sklearn.pipeline import Pipeline

from ._checks import accumulation_device

__all__ = ["features_and_head", "head_owner", "head_weight"]


def _is_pass_through(step):
    # NeuralCollapseScorer steps return their input; duck-typed, since the
    # scorer's module imports this one
    return getattr(step, "_passes_features_through", False)


def head_owner(estimator):
    """Return the fitted estimator whose head applies to its ``transform(X)``.

    Walks down a Pipeline to its last step, skipping ``'passthrough'`` steps
    and :class:`~sknc.NeuralCollapseScorer` steps (which pass features
    through unchanged), and into a fitted search's ``best_estimator_``.

    Parameters
    ----------
    estimator : estimator
        A fitted estimator, Pipeline or search.

    Returns
    -------
    owner : estimator or None
        The step if it has a ``module_`` (a skorch net), else None.
    """
    while True:
        if isinstance(estimator, Pipeline):
            steps = [
                step for _, step in estimator.steps if step not in (None, "passthrough")
            ]
            while steps and _is_pass_through(steps[-1]):
                steps.pop()
            if not steps:
                return None
            estimator = steps[-1]
        elif hasattr(estimator, "best_estimator_"):
            estimator = estimator.best_estimator_
        else:
            return estimator if hasattr(estimator, "module_") else None


def head_weight(net):
    """Return the head ``module_.head.weight[:n_outputs_]`` of a fitted net.

    Parameters
    ----------
    net : skorch net or None
        A fitted net (e.g. from :func:`head_owner`).

    Returns
    -------
    W : torch.Tensor of shape (n_outputs, n_features) or None
        The head's first ``n_outputs_`` rows (without sknc's hidden
        background row), detached, float64, on the device where the metrics
        accumulate (that of the net, or the CPU for Apple ``mps``); None
        when there is no net or its module has no ``head.weight``.
    """
    if net is None:
        return None
    head = getattr(net.module_, "head", None)
    weight = getattr(head, "weight", None)
    if weight is None:
        return None
    n_outputs = getattr(net, "n_outputs_", weight.shape[0])
    device = accumulation_device(weight.device)
    return weight[:n_outputs].detach().to(device=device, dtype=torch.float64)


def features_and_head(estimator, X):
    """Features of ``X`` and the net whose head applies to them.

    Parameters
    ----------
    estimator : estimator
        A fitted estimator with ``transform``, or a Pipeline whose last step
        does not transform (the features reaching that step are used).
    X : array-like
        Input data.

    Returns
    -------
    H : array-like of shape (n_samples, n_features)
        The features.
    owner : estimator or None
        See :func:`head_owner`.
    """
    if hasattr(estimator, "transform"):
        return estimator.transform(X), head_owner(estimator)
    if isinstance(estimator, Pipeline) and len(estimator) > 1:
        # The last step does not transform (e.g. a LogisticRegression): use
        # the features that reach it.
        head_part = estimator[:-1]
        return head_part.transform(X), head_owner(head_part)
    raise TypeError(
        "NeuralCollapseScorer measures the features returned by "
        f"estimator.transform(X), but {type(estimator).__name__} has no "
        "transform method. Score an sknc estimator (PALClassifier, "
        "FixedETFClassifier), a Pipeline that ends with one, or any fitted "
        "transformer."
    )
