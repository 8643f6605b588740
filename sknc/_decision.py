"""From a trained network's outputs to predictions: the decoder and the objective.

The estimators fit a decoder on the network's outputs at the end of ``fit``
(or alone, with ``fit_decoder``), and ``predict`` returns the prediction the
decoder's set distribution makes optimal for the metric named by
``objective`` (see :mod:`sknc.decoders._objectives`).
"""

import warnings

import numpy as np
import torch
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from ._targets import encode_targets
from ._weights import unpack
from .decoders import get_decoder
from .decoders._base import RowSample, ensure_nonempty
from .decoders._distribution import SetDistribution, chunks
from .decoders._objectives import (
    THRESHOLD_OBJECTIVES,
    fit_thresholds,
    gfm,
    max_expected_jaccard,
)

__all__ = ["DecisionMixin"]

# Rows of the training outputs kept to fit the objective thresholds on when
# there is no validation split.
_MAX_CALIBRATION_ROWS = 20_000
# Label sets per sample that the objective rules weigh.
_DECISION_SETS = 32


class DecisionMixin:
    """Fitting the decoder and deciding for the objective (estimator mixin)."""

    # ------------------------------------------------------------- decoder
    def _make_decoder(self):
        decoder = get_decoder(self.decoder)
        params = self.get_params_for("decoder")
        valid = decoder.get_params(deep=False)
        unknown = sorted(set(params) - set(valid))
        if unknown:
            raise ValueError(
                f"Invalid parameter {unknown[0]!r} for the decoder "
                f"{type(decoder).__name__} (set as decoder__{unknown[0]}); its "
                f"parameters are {sorted(valid)}."
            )
        return decoder.set_params(**params)

    def _decoder_key(self):
        """Return what the fitted decoder depends on besides the network."""
        decoder = self.decoder
        if not isinstance(decoder, str):
            decoder = repr(decoder)
        return (decoder, repr(sorted(self.get_params_for("decoder").items())))

    def set_params(self, **kwargs):
        """Set parameters; the decoder's and ``objective`` need no retraining.

        skorch would re-initialise the network for any prefixed parameter of
        an initialised net; ``decoder``, ``decoder__<name>`` and ``objective``
        do not need that. A new ``decoder`` drops the ``decoder__<name>``
        parameters the new decoder does not have, with a warning. A fitted
        estimator must then refit its decoder (:meth:`fit_decoder`) before it
        predicts again; a new ``objective`` applies at once.

        Parameters
        ----------
        **kwargs : dict
            Estimator parameters.

        Returns
        -------
        self : estimator
            The estimator.
        """
        own = {
            k: v
            for k, v in kwargs.items()
            if k in ("decoder", "objective") or k.startswith("decoder__")
        }
        for key, value in own.items():
            setattr(self, key, value)
            if key.startswith("decoder__"):  # skorch checks prefixed names
                self._params_to_validate.add(key)
        if "decoder" in own:
            self._drop_stale_decoder_params(set(own))
        rest = {k: v for k, v in kwargs.items() if k not in own}
        if rest or not own:
            super().set_params(**rest)
        return self

    def _drop_stale_decoder_params(self, just_set):
        try:
            valid = get_decoder(self.decoder).get_params(deep=False)
        except (TypeError, ValueError):
            return  # an invalid decoder is reported at fit
        for name in self.get_params_for("decoder"):
            key = f"decoder__{name}"
            if name in valid or key in just_set:
                continue
            warnings.warn(
                f"{key} does not apply to decoder={self.decoder!r} and is dropped.",
                UserWarning,
                stacklevel=4,
            )
            delattr(self, key)
            self._params_to_validate.discard(key)

    def get_split_datasets(self, X, y=None, **fit_params):
        """Skorch's split (stratified on the targets without their row weights).

        The datasets are remembered so that the decoder can use them.
        """
        dataset = self.get_dataset(X, y)
        train_split = self._effective_train_split()
        if not train_split:
            datasets = dataset, None
        elif y is None:
            datasets = train_split(dataset, **fit_params)
        else:
            targets, _ = unpack(y, self.multilabel_, self._n_head_outputs)
            datasets = train_split(dataset, targets, **fit_params)
        self._split_datasets_ = datasets
        return datasets

    def _fit_decoder(self, X, y_enc, sample_weight=None):
        """Fit the decoder and the objective thresholds on the network's outputs.

        With a validation split, the decoder's prototypes (or neighbours)
        come from the training part and its calibration (temperature,
        probability curve) and the thresholds from the validation part, which
        the network did not train on. Without one, a single streamed pass
        over the training data fits the decoder, and the thresholds are
        fitted on its probabilities of (a sample of) the training rows. Rows
        of zero ``sample_weight`` are left out.
        """
        train, valid = self.__dict__.pop("_split_datasets_", (None, None))
        if not self.multilabel_:
            self.decoder_ = self.thresholds_ = None
            return
        decoder = self._make_decoder()
        if valid is not None and len(valid):
            calibration = self._labelled_outputs(valid)
            decoder.fit(*self._labelled_outputs(train), calibration=calibration)
            logits, features, Y = calibration
            marginals = decoder.predict_proba(logits, features)
        else:
            dataset = self.get_dataset(X, y_enc)
            sample = RowSample(_MAX_CALIBRATION_ROWS)

            def batches():
                labelled = self._iter_labelled_outputs(dataset, y_enc, sample_weight)
                for z, h, Y in labelled:
                    sample.update(z, h, Y)
                    yield z, h, Y

            if hasattr(decoder, "fit_batches"):
                # one streamed pass: memory does not grow with the training set
                decoder.fit_batches(batches())
            else:
                z, h, Y = (torch.cat(t) for t in zip(*batches(), strict=True))
                decoder.fit(z, h, Y)
            logits, features, Y = sample.rows()
            marginals = decoder.training_proba(
                logits, features, positions=sample.positions
            )
        K = self.n_outputs_
        marginals, Y = marginals[:, :K], Y[:, :K]
        self.thresholds_ = {
            "f1_micro": fit_thresholds(marginals, Y, "micro"),
            "f1_macro": fit_thresholds(marginals, Y, "macro"),
        }
        self.decoder_key_ = self._decoder_key()
        self.decoder_ = decoder

    def _cross_fit_calibration(self, X, y_enc, sample_weight):
        """Recalibrate the fitted decoder and thresholds on out-of-fold outputs.

        ``calibration_cv`` networks, each trained on all folds but one, give
        outputs on rows they did not train on; each fold's decoder is fitted
        on its network's training part and calibrated on its held-out fold.
        The decoder's calibration parameters (``_calibration_attributes``:
        a temperature, a probability curve) are averaged over the folds and
        the thresholds fitted on the pooled held-out probabilities, so that
        they generalise like the network trained on every row.
        """
        # imported here: ``import sknc`` leaves sknc.model_selection unloaded
        from sklearn.base import clone
        from sklearn.utils import _safe_indexing

        from .model_selection import MultilabelStratifiedKFold

        if isinstance(X, torch.utils.data.Dataset):
            raise ValueError(
                "calibration_cv needs X as an array or a sparse matrix, to "
                "split it into folds; got a torch Dataset. Calibrate on a "
                "validation split instead (early_stopping=True or train_split)."
            )
        K = self.n_outputs_
        Y = np.asarray(y_enc[:, :K])
        folds = MultilabelStratifiedKFold(
            self.calibration_cv, shuffle=True, random_state=self._torch_seed()
        )
        decoders, marginals, truth = [], [], []
        for train, held in folds.split(np.zeros((len(Y), 1)), Y):
            inner = clone(self).set_params(
                calibration_cv=None, warm_start=False, verbose=0
            )
            weight = None if sample_weight is None else sample_weight[train]
            inner.fit(_safe_indexing(X, train), Y[train], sample_weight=weight)
            train_part = _labelled(inner, _safe_indexing(X, train), Y[train], weight)
            calibration = _labelled(inner, _safe_indexing(X, held), Y[held])
            decoder = inner._make_decoder()
            decoder.fit(*train_part, calibration=calibration)
            logits, features, Y_held = calibration
            decoders.append(decoder)
            marginals.append(decoder.predict_proba(logits, features)[:, :K].cpu())
            truth.append(Y_held[:, :K].cpu())
        for name in getattr(self.decoder_, "_calibration_attributes", ()):
            values = [float(getattr(d, name)) for d in decoders]
            setattr(self.decoder_, name, float(np.mean(values)))
        marginals, truth = torch.cat(marginals), torch.cat(truth)
        self.thresholds_ = {
            "f1_micro": fit_thresholds(marginals, truth, "micro"),
            "f1_macro": fit_thresholds(marginals, truth, "macro"),
        }

    def fit_decoder(self, X, y):
        """Refit only the decoder (and the objective thresholds); keep the network.

        The decoder is fitted as at the end of :meth:`fit` (on the training
        part of ``train_split`` or of early stopping's validation split,
        calibrated on its validation part, when there is one). Use it after
        changing ``decoder`` or ``decoder__<name>`` on a fitted estimator, or
        to fit the decoder on other data than the network (for example more
        labelled rows). The network's parameters are not touched.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Data to fit the decoder on, or a ``torch.utils.data.Dataset``.
        y : array-like of shape (n_samples, n_labels)
            Their 0/1 label indicator, with the labels of the first fit.

        Returns
        -------
        self : estimator
            The estimator with a new decoder.
        """
        check_is_fitted(self, "module_")
        self._check_params()
        X = self._validate_X(X, reset=False)
        n_samples = len(self.get_dataset(X))
        y_enc, classes, multilabel = encode_targets(y, n_samples)
        if not (multilabel and self.multilabel_ and len(classes) == self.n_outputs_):
            raise ValueError(
                "fit_decoder needs a 0/1 label indicator with the "
                f"{getattr(self, 'n_outputs_', '?')} labels of the fitted "
                "multi-label model; a multi-class model has no decoder."
            )
        y_enc = self._add_background_column(y_enc)
        self.__dict__.pop("_split_datasets_", None)
        with self._device_context():
            if self._effective_train_split() is not None:
                # the split fit would make: prototypes and calibration apart
                self.get_split_datasets(X, y_enc)
            self._fit_decoder(X, y_enc)
        return self

    def _check_decoder_current(self):
        # decoder_ is set last (None in multi-class mode): a fit that raised
        # leaves the estimator unfitted
        check_is_fitted(self, "decoder_")
        if self.multilabel_ and self.decoder_key_ != self._decoder_key():
            raise ValueError(
                "The decoder parameters changed since the decoder was fitted "
                f"(now decoder={self.decoder!r} with "
                f"{self.get_params_for('decoder') or 'its defaults'}). Call "
                "fit_decoder(X, y) to refit the decoder with the network "
                "unchanged, or fit(X, y) to retrain."
            )

    # ------------------------------------------------------------- decision
    def _set_distribution(self, logits, features, top):
        """Return the decoder's set distribution without the background label."""
        dist = self.decoder_.predict_set_proba(logits, features, top=top)
        return SetDistribution(dist.sets[:, : self.n_outputs_], dist.index, dist.proba)

    def _decide(self, logits, features):
        """Return the prediction the objective makes optimal, ``(n, K)`` bool.

        Rows are decided a block at a time, so that the set distributions of
        thousands of labels stay in bounded memory.
        """
        blocks = [
            self._decide_block(logits[rows], features[rows])
            for rows in chunks(len(logits), _DECISION_SETS * self._n_head_outputs)
        ]
        return torch.cat(blocks)

    def _decide_block(self, logits, features):
        objective, K = self.objective, self.n_outputs_
        allow_empty = self.decoder_.allow_empty_
        if objective is None:
            return self.decoder_.predict(logits, features)[:, :K]
        if objective == "subset_accuracy":
            return self._set_distribution(logits, features, _DECISION_SETS).mode()
        marginals = self.decoder_.predict_proba(logits, features)[:, :K]
        if objective == "hamming":
            return marginals >= 0.5
        if objective in THRESHOLD_OBJECTIVES:
            thresholds = self.thresholds_[objective].to(marginals)
            pred = marginals >= thresholds
            return pred if allow_empty else ensure_nonempty(pred, marginals)
        dist = self._set_distribution(logits, features, _DECISION_SETS)
        if objective == "f1_samples":
            return gfm(dist, allow_empty=allow_empty)[0]
        if objective == "jaccard_samples":
            return max_expected_jaccard(dist, marginals, allow_empty=allow_empty)
        raise AssertionError(f"unhandled objective {objective!r}")  # pragma: no cover

    def predict(self, X):
        """Predict label sets (multi-label) or class labels (multi-class).

        Multi-label: the prediction that is optimal, under the decoder's
        distribution over label sets, for the metric named by ``objective``
        (with ``objective=None``, the decoder's own rule).

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Input data, or a ``torch.utils.data.Dataset`` of 1-D samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples, n_labels) or (n_samples,)
            A 0/1 indicator with the dtype of the training ``y``, or the
            predicted class labels.
        """
        self._check_decoder_current()
        # objective takes effect without refitting: a value set after fit is
        # checked here, where it is used
        self._check_predict_params()
        logits, features = self._predict_outputs(X)
        if self.multilabel_:
            pred = self._decide(logits, features)
            return pred.cpu().numpy().astype(self.target_dtype_)
        return self.classes_[logits.argmax(dim=1).cpu().numpy()]

    def predict_proba(self, X):
        """Return probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Input data, or a ``torch.utils.data.Dataset`` of 1-D samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_labels), float64
            Multi-label: each label's probability ``P(k in S | x)``, the
            marginals of the decoder's distribution over label sets, strictly
            inside (0, 1). Multi-class: the softmax over classes (rows sum
            to 1).
        """
        self._check_decoder_current()
        logits, features = self._predict_outputs(X)
        if self.multilabel_:
            proba = self.decoder_.predict_proba(logits, features)
            proba = proba[:, : self.n_outputs_]
        else:
            proba = torch.softmax(logits.double(), dim=1)
        return proba.double().cpu().numpy()

    def predict_log_proba(self, X):
        """Return the logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Input data, or a ``torch.utils.data.Dataset`` of 1-D samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_labels), float64
            Natural logarithms of the probabilities.
        """
        return np.log(self.predict_proba(X))

    def predict_set_proba(self, X, top=5):
        """Return the most probable label sets of each sample, with their probabilities.

        The decoder's distribution over label sets: for ``decoder='knn'``
        the label sets of a sample's neighbours, for ``'onn'`` the soft
        assignment to the label-set prototypes, for the decoders of
        per-label probabilities the product distribution of independent
        labels. :meth:`predict_proba` gives its marginals.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Input data, or a ``torch.utils.data.Dataset`` of 1-D samples.
        top : int, default=5
            Label sets listed per sample, most probable first.

        Returns
        -------
        result : Bunch
            ``sets``: ndarray of shape (n_sets, n_labels), a 0/1 indicator of
            the distinct label sets listed; ``index``: ndarray of shape
            (n_samples, top), each sample's sets as rows of ``sets`` (-1 where
            a sample has fewer); ``proba``: ndarray of shape (n_samples, top),
            their probabilities (0 where ``index`` is -1); ``label_names``:
            the names of the columns of ``sets``.

        Examples
        --------
        >>> from sklearn.datasets import make_multilabel_classification
        >>> from sknc import PALClassifier
        >>> X, Y = make_multilabel_classification(n_samples=100, n_classes=4,
        ...                                       random_state=0)
        >>> clf = PALClassifier(max_epochs=5, random_state=0).fit(X, Y)
        >>> result = clf.predict_set_proba(X[:2], top=3)
        >>> result.index.shape, result.proba.shape, result.sets.shape[1]
        ((2, 3), (2, 3), 4)
        """
        self._check_decoder_current()
        if not self.multilabel_:
            raise ValueError(
                "predict_set_proba needs a multi-label model (fitted on a 2-D "
                "label indicator); a multi-class model's predict_proba already "
                "gives the probability of each class."
            )
        if not isinstance(top, (int, np.integer)) or isinstance(top, bool) or top < 1:
            raise ValueError(f"top must be a positive integer; got {top!r}.")
        logits, features = self._predict_outputs(X)
        dist = self._set_distribution(logits, features, int(top))
        index, proba = dist.index.cpu(), dist.proba.cpu()
        used, compact = torch.unique(index.clamp(min=0), return_inverse=True)
        compact = compact.masked_fill(index < 0, -1)
        width = index.shape[1]
        if width < top:  # fewer candidates than asked: pad
            pad = top - width
            compact = torch.nn.functional.pad(compact, (0, pad), value=-1)
            proba = torch.nn.functional.pad(proba, (0, pad), value=0.0)
        sets = dist.sets[used.to(dist.sets.device)].cpu().numpy()
        return Bunch(
            sets=sets.astype(self.target_dtype_),
            index=compact.numpy().astype(np.int64),
            proba=proba.double().numpy(),
            label_names=np.asarray(self.label_names_),
        )


def _labelled(estimator, X, Y, weight=None):
    """``(logits, features, targets)`` of ``estimator`` on rows it can read."""
    dataset = estimator.get_dataset(estimator._validate_X(X, reset=False))
    y = estimator._add_background_column(Y)
    batches = estimator._iter_labelled_outputs(dataset, y, weight)
    return tuple(torch.cat(t) for t in zip(*batches, strict=True))
