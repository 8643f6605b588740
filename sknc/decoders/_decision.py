"""The decision: from a trained network's outputs to predictions for a metric.

A :class:`Decision` holds a fitted decoder and the thresholds of the
objectives that need them. It is fitted from the network's outputs on the
training rows and, when there is one, on a calibration part the network did
not train on, and answers :meth:`~Decision.predict` (for the metric named by
``objective``), :meth:`~Decision.predict_proba` and
:meth:`~Decision.predict_set_proba`. It sees only its arguments: the
estimators compute the outputs and hand them over, among them the
probabilities of the network's per-label head (``label_proba``) when it has
one.
"""

import torch

from ._base import RowSample
from ._calibration import ordered_like
from ._distribution import SetDistribution, chunks
from ._objectives import (
    OBJECTIVES,
    THRESHOLD_OBJECTIVES,
    TRAINING_ROWS_RULE,
    apply_thresholds,
    fit_objective_thresholds,
    gfm,
    max_expected_jaccard,
)

__all__ = ["LABEL_PROBA", "Decision", "choose_label_proba"]

# Rows of the training outputs kept to fit the objective thresholds on when
# there is no calibration part.
_MAX_CALIBRATION_ROWS = 20_000
# Label sets per sample that the objective rules weigh.
_DECISION_SETS = 32
# Weight of the network's softmax in the label probabilities: too small to
# move a probability that matters, enough to order the labels the decoder
# cannot tell apart (kNN gives every label absent from all neighbours the
# same floor), which rankings (LRAP, coverage error) would otherwise tie.
_TIE_BREAK = 1e-6
# Sources of the per-label probabilities (the estimators' label_proba;
# 'auto' resolves to one of AUTO_SOURCES at fit).
LABEL_PROBA = (
    "auto",
    "decoder",
    "head",
    "blend",
    "calibrated",
    "calibrated_wide",
    "linear",
    "wide",
)
# label_proba='auto' picks among these by their log loss on rows the network
# did not train on, and takes the first where there are none: a wide model
# of the inputs pays where each label has linear evidence in them (words)
# and costs where it has not (pixels), and only held-out rows tell which
# (the network's outputs on its own training rows are over-confident);
# 'calibrated_wide' keeps the decoder's ranking and lets the model of the
# inputs move only the levels, which lowered the Hamming loss on 7 of the 8
# shared sets (benchmarks/README.md, "calibrated_wide").
AUTO_SOURCES = ("calibrated_wide", "calibrated", "wide")
# label_proba='auto' where the model of the inputs would be too large to fit.
AUTO_FALLBACK = "calibrated"
# The weight of the linear model of the inputs in label_proba='wide' (the
# decoder's marginals weigh the rest). Chosen on the two-halves protocol's
# tuning half (held-out fifths of yeast, scene, medical and enron's training
# splits; benchmarks/README.md, "study_per_label"): against 0.5 it ranked
# better on scene, medical and enron and lowered the Hamming loss on yeast,
# medical and enron.
WIDE_LINEAR_WEIGHT = 0.75
# The sources read from the per-label head of the features, and from the
# per-label linear model of the inputs.
FEATURE_HEAD_SOURCES = ("head", "blend", "calibrated", "calibrated_wide")
INPUT_HEAD_SOURCES = ("linear", "wide", "calibrated_wide")


class Decision:
    """A decoder and the objectives' thresholds, fitted on network outputs.

    Parameters
    ----------
    decoder : BaseDecoder
        An unfitted decoder; :meth:`fit` fits it in place.
    n_labels : int
        The user's labels: the decoder's outputs past them (the background
        label of rows with no label) are dropped from every answer.

    Attributes
    ----------
    decoder_ : BaseDecoder
        The fitted decoder.
    thresholds_ : dict of str to torch.Tensor
        Per-label thresholds of ``'f1_micro'`` and ``'f1_macro'`` on the
        decoder's probabilities; NaN where the objective keeps the decoder's
        own rule (it did not beat that rule on the rows it was fitted on).
    """

    def __init__(self, decoder, n_labels):
        self.decoder = decoder
        self.n_labels = n_labels

    # ------------------------------------------------------------- fitting
    def fit(self, train, calibration=None):
        """Fit the decoder and the thresholds.

        Parameters
        ----------
        train : tuple of torch.Tensor, or iterable of such tuples
            ``(logits, features, Y)`` of the training rows, or batches of
            them. Batches are read in one streamed pass (a decoder with
            ``fit_batches`` keeps memory bounded).
        calibration : tuple of torch.Tensor or None, default=None
            ``(logits, features, Y)`` of rows the network did not train on:
            the decoder's calibration (a temperature, a probability curve) and
            the thresholds are fitted on them. Without it, the thresholds are
            fitted on the decoder's training probabilities of (a sample of)
            the training rows.

        Returns
        -------
        self : Decision
            The fitted decision.
        """
        decoder = self.decoder
        if calibration is not None:
            decoder.fit(*_tensors(train), calibration=calibration)
            logits, features, Y = calibration
            marginals = _tie_broken(decoder.predict_proba(logits, features), logits)
            default = decoder.predict(logits, features)
        else:
            sample = RowSample(_MAX_CALIBRATION_ROWS)

            def batches():
                for z, h, Y in _batches(train):
                    sample.update(z, h, Y)
                    yield z, h, Y

            if hasattr(decoder, "fit_batches"):
                decoder.fit_batches(batches())
            else:
                decoder.fit(*_tensors(batches()))
            logits, features, Y = sample.rows()
            marginals = _tie_broken(
                decoder.training_proba(logits, features, positions=sample.positions),
                logits,
            )
            default = decoder.training_predict(
                logits, features, positions=sample.positions
            )
        self.decoder_ = decoder
        # on held-out rows the labels place the cuts; on the training rows
        # (over-confident outputs) the marginals do, the labels only test them
        rule = "fitted" if calibration is not None else TRAINING_ROWS_RULE
        self._fit_thresholds(marginals, Y, default, rule)
        return self

    def recalibrate(self, folds):
        """Recalibrate on cross-fitted outputs (``calibration_cv``).

        Parameters
        ----------
        folds : list of (Decision, tuple of torch.Tensor)
            For each fold, a decision fitted on the outputs of a network
            that did not train on the fold, and the fold's ``(logits,
            features, Y)`` from that network. The decoder refits its
            calibration from the folds (``recalibrate``: by default the mean
            of its ``_calibration_attributes`` over the folds), and the
            thresholds are fitted on the pooled held-out probabilities, so
            that they generalise like the network trained on every row.

        Returns
        -------
        self : Decision
            The recalibrated decision.
        """
        self.decoder_.recalibrate([(fold.decoder_, part) for fold, part in folds])
        marginals = [fold._outputs_proba(z, h).cpu() for fold, (z, h, _) in folds]
        default = [fold.predict(z, h).cpu() for fold, (z, h, _) in folds]
        truth = [Y[:, : self.n_labels].cpu() for _, (_, _, Y) in folds]
        self._fit_thresholds(
            torch.cat(marginals), torch.cat(truth), torch.cat(default), "fitted"
        )
        return self

    def _fit_thresholds(self, marginals, Y, default, rule):
        """Fit the thresholds against the default rule's prediction ``default``.

        ``rule``: where the cuts come from (see :func:`fit_objective_thresholds`).
        """
        K = self.n_labels
        self.thresholds_ = fit_objective_thresholds(
            marginals[:, :K],
            Y[:, :K],
            default[:, :K],
            allow_empty=self._allow_empty(marginals),
            rule=rule,
        )

    def _allow_empty(self, outputs):
        """Whether a threshold rule may predict no label.

        It may when the decoder allows empty sets, or when it has a
        background label (its ``outputs`` past ``n_labels``) standing for
        them: its own rule then predicts empty sets.
        """
        return bool(self.decoder_.allow_empty_) or outputs.shape[1] > self.n_labels

    # ------------------------------------------------------------ deciding
    def predict(self, logits, features, objective=None, proba=None):
        """Return the prediction the objective makes optimal, ``(n, K)`` bool.

        Parameters
        ----------
        logits, features : torch.Tensor
            The network's outputs.
        objective : str or None, default=None
            The metric (see :data:`OBJECTIVES`); None is the decoder's own
            rule.
        proba : torch.Tensor or None, default=None
            The ``(n, K)`` label probabilities that ``'hamming'`` thresholds
            at 1/2 (:meth:`predict_proba`'s); None: the decoder's marginals.

        Returns
        -------
        pred : torch.Tensor of shape (n, K), bool
            The label indicator.
        """
        if objective is not None and objective not in OBJECTIVES:
            raise ValueError(
                f"objective must be one of {sorted(OBJECTIVES)} or None; got "
                f"{objective!r}."
            )
        if objective == "hamming" and proba is not None:
            # the Hamming loss is the labels' own: each label at 1/2
            return proba >= 0.5
        # a block of rows at a time: set distributions of thousands of labels
        # stay in bounded memory
        blocks = [
            self._decide(logits[rows], features[rows], objective)
            for rows in chunks(len(logits), _DECISION_SETS * logits.shape[1])
        ]
        return torch.cat(blocks)

    def _decide(self, logits, features, objective):
        K, decoder = self.n_labels, self.decoder_
        allow_empty = decoder.allow_empty_
        if objective is None:
            return decoder.predict(logits, features)[:, :K]
        if objective == "subset_accuracy":
            return self.predict_set_proba(logits, features, _DECISION_SETS).mode()
        outputs = self._outputs_proba(logits, features)
        marginals = outputs[:, :K]
        if objective == "hamming":
            return marginals >= 0.5
        if objective in THRESHOLD_OBJECTIVES:
            return apply_thresholds(
                marginals,
                self.thresholds_[objective],
                lambda: decoder.predict(logits, features)[:, :K],
                allow_empty=self._allow_empty(outputs),
            )
        dist = self.predict_set_proba(logits, features, _DECISION_SETS)
        if objective == "f1_samples":
            return gfm(dist, allow_empty=allow_empty)[0]
        return max_expected_jaccard(dist, marginals, allow_empty=allow_empty)

    def predict_proba(
        self,
        logits,
        features,
        label_proba="decoder",
        feature_head=None,
        input_head=None,
    ):
        """Return each label's probability, ``(n, K)``.

        Parameters
        ----------
        logits, features : torch.Tensor
            The network's outputs.
        label_proba : str, default='decoder'
            One of :data:`LABEL_PROBA` but ``'auto'``. ``'decoder'``: the
            marginals of the decoder's distribution over label sets, labels
            with equal marginals ordered by the network's softmax (which
            weighs ``1e-6`` in them). ``'head'``: ``feature_head``.
            ``'linear'``: ``input_head``. ``'blend'``: the mean of the
            decoder's and ``feature_head``. ``'wide'``: the weighted mean of
            the decoder's and ``input_head``, which weighs
            :data:`WIDE_LINEAR_WEIGHT`. ``'calibrated'``: per row, the
            values closest to the blend that keep the decoder's order of the
            labels (:func:`ordered_like`); ``'calibrated_wide'``: the same
            with the mean of all three.
        feature_head, input_head : torch.Tensor or None, default=None
            ``(n, K)`` probabilities of the per-label model of the features
            and of the inputs; each is needed where the source names it
            (:data:`FEATURE_HEAD_SOURCES`, :data:`INPUT_HEAD_SOURCES`).

        Returns
        -------
        proba : torch.Tensor of shape (n, K), float64
            The labels' probabilities.
        """
        sources = LABEL_PROBA[1:]  # the estimator resolves 'auto' at fit
        if label_proba not in sources:
            raise ValueError(
                f"label_proba must be one of {sources}; got {label_proba!r}."
            )
        heads = {"feature_head": feature_head, "input_head": input_head}
        needs = {
            "feature_head": label_proba in FEATURE_HEAD_SOURCES,
            "input_head": label_proba in INPUT_HEAD_SOURCES,
        }
        for name, head in heads.items():
            if needs[name] and head is None:
                raise ValueError(f"label_proba={label_proba!r} needs {name}.")
        if label_proba == "head":
            return feature_head.double()
        if label_proba == "linear":
            return input_head.double()
        marginals = self._outputs_proba(logits, features)[:, : self.n_labels]
        if label_proba == "decoder":
            return marginals
        models = [marginals] + [
            heads[name].to(marginals.device).double() for name in heads if needs[name]
        ]
        if label_proba == "wide":
            return (1 - WIDE_LINEAR_WEIGHT) * marginals + WIDE_LINEAR_WEIGHT * models[1]
        blend = sum(models) / len(models)
        if label_proba in ("calibrated", "calibrated_wide"):
            # the decoder ranks a row's labels best, the blend is calibrated
            return ordered_like(blend, marginals)
        return blend

    def _outputs_proba(self, logits, features):
        """Return every output's probability (the background's too), ties broken."""
        return _tie_broken(self.decoder_.predict_proba(logits, features), logits)

    def predict_set_proba(self, logits, features, top):
        """Return the decoder's most probable label sets, without the background.

        Parameters
        ----------
        logits, features : torch.Tensor
            The network's outputs.
        top : int
            Sets per sample.

        Returns
        -------
        distribution : SetDistribution
            The sets (over the user's labels) and their probabilities.
        """
        dist = self.decoder_.predict_set_proba(logits, features, top=top)
        return SetDistribution(dist.sets[:, : self.n_labels], dist.index, dist.proba)


def choose_label_proba(candidates):
    """Return the source of lowest log loss on held-out rows, and the losses.

    Parameters
    ----------
    candidates : list of (dict of str to torch.Tensor, torch.Tensor)
        Per part of held-out rows (a validation part, or each fold of
        ``calibration_cv``): ``{source: (n, K) probabilities}`` and the
        ``(n, K)`` labels. The parts are pooled.

    Returns
    -------
    source : str
        The source whose mean per-label log loss over the pooled rows is
        lowest; ties go to the first of :data:`AUTO_SOURCES`.
    losses : dict of str to float
        Each source's mean log loss.
    """
    eps = 1e-7
    losses = {}
    for source in AUTO_SOURCES:
        total, count = 0.0, 0
        for proba, Y in candidates:
            p = proba[source].double().clamp(eps, 1 - eps)
            Y = Y.to(p.device, torch.float64)
            loss = torch.nn.functional.binary_cross_entropy(p, Y, reduction="sum")
            total, count = total + float(loss), count + Y.numel()
        losses[source] = total / max(count, 1)
    return min(AUTO_SOURCES, key=losses.__getitem__), losses


def _tie_broken(marginals, logits):
    """``marginals`` with their ties ordered by the softmax of ``logits``.

    A convex combination, so the result stays a probability in (0, 1).
    """
    order = torch.softmax(logits.to(marginals.device, torch.float64), dim=1)
    return (1 - _TIE_BREAK) * marginals.double() + _TIE_BREAK * order


def _batches(train):
    return [train] if isinstance(train, tuple) else train


def _tensors(train):
    """``(logits, features, Y)`` of a triple or of batches of them."""
    if isinstance(train, tuple):
        return train
    return tuple(torch.cat(t) for t in zip(*train, strict=True))
