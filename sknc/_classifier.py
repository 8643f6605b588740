"""The two estimators: PALClassifier and FixedETFClassifier."""

import copy
import numbers
import warnings
from contextlib import contextmanager

import joblib
import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import ClassifierMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch import NeuralNet
from skorch.callbacks import (
    Callback,
    EpochTimer,
    PassthroughScoring,
    PrintLog,
    ProgressBar,
)

from ._batching import array_batches
from ._device import resolve_device
from ._loss import _LOSSES
from ._modules import FixedETFHead, LinearHead, MLPBackbone, NormalizedHead, PALNet
from ._targets import encode_targets
from ._torch_dataset import LabelledDataset, check_torch_dataset, is_torch_dataset
from .decoders import BaseDecoder, get_decoder
from .decoders._registry import DECODERS

__all__ = ["PALClassifier", "FixedETFClassifier"]


class _DivergenceCheck(Callback):
    """Stop with a clear error when the training loss is no longer finite.

    A diverged network would otherwise return NaN scores, or meaningless
    predictions, without a word.
    """

    def on_epoch_end(self, net, **kwargs):
        """Raise if this epoch's training loss is NaN or infinite."""
        loss = net.history[-1].get("train_loss")
        if loss is not None and not np.isfinite(loss):
            raise ValueError(
                f"Training diverged: the training loss is {loss} at epoch "
                f"{len(net.history)}. The learning rate is probably too high "
                f"(lr={net.lr!r}); lower it (e.g. by a factor of 10), or check "
                "the input for extreme values (scale it, e.g. with "
                "StandardScaler)."
            )


class _PALNetBase(ClassifierMixin, TransformerMixin, NeuralNet):
    """Shared machinery of the PAL estimators (not public)."""

    # decoder__<name> sets a parameter of the decoder (e.g. in a grid search)
    prefixes_ = [*NeuralNet.prefixes_, "decoder"]

    _parameter_constraints = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(numbers.Integral, 1, None, closed="left"),
        ],
        "feature_dim": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "activation": [StrOptions({"relu", "gelu", "tanh", "logistic", "identity"})],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "batch_norm": ["boolean"],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, -1, None, closed="left")],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "feature_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "feature_norm": [
            None,
            StrOptions({"learned"}),
            Interval(numbers.Real, 0, None, closed="neither"),
        ],
        "loss": [StrOptions(set(_LOSSES))],
        "decoder": [StrOptions(set(DECODERS)), BaseDecoder],
        "background_label": [StrOptions({"auto"}), "boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        module=None,
        *args,
        criterion=None,
        optimizer=torch.optim.AdamW,
        lr=1e-3,
        max_epochs=100,
        batch_size=128,
        train_split=None,
        hidden_layer_sizes=(512,),
        feature_dim=None,
        activation="relu",
        dropout=0.0,
        batch_norm=True,
        weight_decay=5e-4,
        feature_decay=1e-4,
        feature_norm=None,
        loss="pal",
        decoder="knn",
        background_label="auto",
        random_state=None,
        device="cpu",
        verbose=0,
        **kwargs,
    ):
        super().__init__(
            module,
            *args,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            device=device,
            verbose=verbose,
            **kwargs,
        )
        self.hidden_layer_sizes = hidden_layer_sizes
        self.feature_dim = feature_dim
        self.activation = activation
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.weight_decay = weight_decay
        self.feature_decay = feature_decay
        self.feature_norm = feature_norm
        self.loss = loss
        self.decoder = decoder
        self.background_label = background_label
        self.random_state = random_state

    # ------------------------------------------------------------------ tags
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.input_tags.sparse = True
        # transform() returns float32 features whatever the input dtype
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    @property
    def _default_callbacks(self):
        # skorch's classifier default adds a 'valid_acc' scoring that fails on
        # multi-label targets: keep only the losses, the timer and the log.
        callbacks = [
            ("epoch_timer", EpochTimer()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("divergence_check", _DivergenceCheck()),
            ("valid_loss", PassthroughScoring(name="valid_loss")),
        ]
        if self.verbose:
            # a per-batch tqdm bar (on stderr) and the per-epoch table; both
            # are left out when silent, as PrintLog formats its table anyway
            callbacks += [("progress_bar", ProgressBar()), ("print_log", PrintLog())]
        return callbacks

    # ------------------------------------------------------------- contexts
    @contextmanager
    def _device_context(self):
        """Run skorch's machinery with ``device='auto'`` resolved.

        skorch reads ``self.device`` in many places; the parameter keeps the
        user's value and only the code inside the context sees the resolved
        device.
        """
        requested = self.device
        resolved = resolve_device(requested)
        if resolved is requested:
            yield
            return
        self.device = resolved
        try:
            yield
        finally:
            self.device = requested

    def _torch_seed(self):
        if self.random_state is None:
            return None
        return int(check_random_state(self.random_state).randint(2**31 - 1))

    @contextmanager
    def _training_context(self, resume=False):
        """Resolve the device and seed torch's generators for a repeatable fit.

        ``fork_rng`` restores the caller's global random state afterwards, so
        fitting with a ``random_state`` never disturbs the user's own RNG.
        With ``resume`` (``partial_fit`` and warm-started ``fit`` of a trained
        net) the random stream continues where the previous training call left
        it, so that every call draws new shuffles and dropout masks and
        ``fit`` for n + m epochs equals ``fit`` for n then ``partial_fit`` for m.
        """
        with self._device_context():
            seed = self._torch_seed()
            if seed is None:
                yield
                return
            cuda = self.device is not None and str(self.device).startswith("cuda")
            devices = [torch.device(self.device).index or 0] if cuda else []
            with torch.random.fork_rng(devices=devices):
                state = self.__dict__.get("_torch_rng_state_") if resume else None
                if state is None:
                    torch.manual_seed(seed)
                else:
                    torch.random.set_rng_state(state["cpu"])
                    for index in devices:
                        if index in state["cuda"]:
                            torch.cuda.set_rng_state(state["cuda"][index], index)
                try:
                    yield
                finally:
                    self._torch_rng_state_ = {
                        "cpu": torch.random.get_rng_state(),
                        "cuda": {i: torch.cuda.get_rng_state(i) for i in devices},
                    }

    # ------------------------------------------------------------ validation
    def _check_params(self):
        validate_parameter_constraints(
            self._parameter_constraints,
            self.get_params(deep=False),
            caller_name=type(self).__name__,
        )
        if isinstance(self.feature_norm, (bool, np.bool_)):
            raise ValueError(
                f"feature_norm={self.feature_norm} is ambiguous: pass 'learned' for "
                "normalized features with a learned temperature, a number such as "
                "0.1 for a fixed temperature, or None for plain features."
            )

    def _validate_X(self, X, reset):
        if is_torch_dataset(X):
            return self._validate_torch_dataset(X, reset)
        try:
            X = validate_data(
                self,
                X,
                accept_sparse="csr",
                dtype=(np.float32, np.float64),
                reset=reset,
            )
        except ValueError as exc:
            if isinstance(X, list) and X and isinstance(X[0], tuple):
                # scikit-learn's model selection indexed a torch Dataset row
                # by row and handed over the list of its items
                raise ValueError(
                    "X is a list of tuples, as scikit-learn makes of a torch "
                    "Dataset when it selects rows (cross-validation, grid "
                    "search). Wrap the dataset in skorch.helper.SliceDataset "
                    "so that it is indexed lazily and read as a dataset."
                ) from exc
            if "could not convert" not in str(exc):
                raise
            raise ValueError(
                f"X must be numeric, but it contains non-numeric values ({exc}). "
                "Encode text or categorical columns first, e.g. with "
                "sklearn.preprocessing.OneHotEncoder or TfidfVectorizer in a "
                "Pipeline."
            ) from exc
        if sp.issparse(X):
            # skorch's Dataset densifies rows of scipy sparse *matrices*
            return sp.csr_matrix(X, dtype=np.float32)
        return X.astype(np.float32, copy=False)

    def _validate_torch_dataset(self, X, reset):
        _, n_features = check_torch_dataset(X)
        if reset:
            self.n_features_in_ = n_features
            self.__dict__.pop("feature_names_in_", None)
        elif n_features != self.n_features_in_:
            raise ValueError(
                f"X has {n_features} features, but {type(self).__name__} is "
                f"expecting {self.n_features_in_} features as input."
            )
        return X

    def _validate_training_data(self, X, y, reset):
        X = self._validate_X(X, reset=reset)
        if is_torch_dataset(X):
            if y is None:
                raise ValueError(
                    "y is None: with a torch Dataset as X, pass its labels as y "
                    "too (a 1-D array of classes or a 0/1 indicator of shape "
                    "(len(X), n_labels)). The estimator needs them before "
                    "training; the dataset's own targets, if any, are ignored."
                )
            n_samples = len(X)
        else:
            n_samples = X.shape[0]
        y_enc, classes, multilabel = encode_targets(y, n_samples)
        if reset:
            self.multilabel_ = multilabel
            self.label_names_ = classes
            self.n_outputs_ = len(classes)
            # with K = 2, classes_ = [0, 1] would read as a *binary* problem to
            # scikit-learn's scorers: use the multi-output convention instead.
            if multilabel and len(classes) == 2:
                self.classes_ = [np.array([0, 1]), np.array([0, 1])]
            else:
                self.classes_ = classes
            self.target_dtype_ = np.asarray(y).dtype if multilabel else None
            if multilabel and hasattr(y, "dtypes"):
                self.target_dtype_ = np.result_type(*y.dtypes)
            self.background_label_ = self._use_background_label(y_enc)
        elif multilabel != self.multilabel_ or (
            multilabel and len(classes) != self.n_outputs_
        ):
            raise ValueError(
                "y does not match the targets the model was fitted on: expected "
                + (
                    f"a 0/1 indicator with {self.n_outputs_} columns"
                    if self.multilabel_
                    else "a 1-D array of class labels"
                )
                + ". Call fit to start over with new targets."
            )
        elif not multilabel:
            unknown = np.setdiff1d(classes, self.classes_)
            if unknown.size:
                raise ValueError(
                    f"y contains classes not seen in the first fit: "
                    f"{unknown.tolist()}. Call fit to start over."
                )
            y_enc = np.searchsorted(self.classes_, classes)[y_enc]
        if multilabel:
            y_enc = self._add_background_column(y_enc)
        return X, y_enc

    def _make_decoder(self):
        return get_decoder(self.decoder).set_params(**self.get_params_for("decoder"))

    def _use_background_label(self, y_enc):
        """Whether to train an extra label for the rows with no label.

        ``'auto'``: when such rows exist and the decoder may predict the empty
        set. The extra label gives them a PAL target of their own, so that
        they collapse to their own vertex instead of receiving no gradient.
        """
        if not self.multilabel_:
            return False
        empty = int((y_enc.sum(axis=1) == 0).sum())
        if self.background_label != "auto":
            use = bool(self.background_label)
        else:
            allow = getattr(self._make_decoder(), "allow_empty", "auto")
            use = bool(empty) and allow is not False
        if empty and not use:
            warnings.warn(
                f"{empty} of {y_enc.shape[0]} rows of y have no positive label. "
                "Without a background label they add no PAL loss (their features "
                "are still regularised); set background_label='auto' and keep "
                "the decoder's allow_empty='auto' to learn to predict empty sets.",
                UserWarning,
                stacklevel=4,
            )
        return use

    def _add_background_column(self, y_enc):
        if not self.background_label_:
            return y_enc
        empty = (y_enc.sum(axis=1) == 0).astype(y_enc.dtype)
        return np.concatenate([y_enc, empty[:, None]], axis=1)

    @property
    def _n_head_outputs(self):
        return self.n_outputs_ + int(getattr(self, "background_label_", False))

    # --------------------------------------------------------- initialisers
    def _resolved_feature_dim(self):
        raise NotImplementedError  # pragma: no cover

    def _make_head(self, feature_dim, n_outputs, seed):
        raise NotImplementedError  # pragma: no cover

    def initialize_module(self):
        """Build the network: a backbone and the estimator's head."""
        kwargs = self.get_params_for("module")
        if self.module is None:
            sizes = self.hidden_layer_sizes
            sizes = (sizes,) if isinstance(sizes, numbers.Integral) else tuple(sizes)
            backbone = MLPBackbone(
                self.n_features_in_,
                self._resolved_feature_dim(),
                hidden_layer_sizes=sizes,
                activation=self.activation,
                dropout=self.dropout,
                batch_norm=self.batch_norm,
                **kwargs,
            )
        else:
            # a copy: fitting must never train the user's module object
            module = self.module
            if isinstance(module, torch.nn.Module):
                module = copy.deepcopy(module)
            backbone = self.initialized_instance(module, kwargs)
        feature_dim = self._probe_feature_dim(backbone)
        seed = int(torch.randint(2**31 - 1, ()).item())
        head = self._make_head(feature_dim, self._n_head_outputs, seed)
        if self.feature_norm is not None:
            head = NormalizedHead(head, temperature=self.feature_norm)
        self.feature_dim_ = feature_dim
        self.module_ = PALNet(
            backbone, head, normalize_features=self.feature_norm is not None
        )
        self.n_trainable_params_ = sum(
            p.numel() for p in self.module_.parameters() if p.requires_grad
        )
        return self

    def _probe_feature_dim(self, backbone):
        """Return the backbone's output dimension from a dry forward pass."""
        was_training = backbone.training
        backbone.eval()
        try:
            with torch.no_grad():
                out = backbone(torch.zeros(2, self.n_features_in_))
        except Exception as exc:
            raise ValueError(
                "The backbone failed on a batch of shape (N, n_features_in_) = "
                f"(2, {self.n_features_in_}): {exc}. A custom module must map "
                "a float32 batch of flat samples to (N, d) features."
            ) from exc
        finally:
            backbone.train(was_training)
        if out.ndim != 2:
            raise ValueError(
                "The backbone must return features of shape (N, d); got shape "
                f"{tuple(out.shape)}. Flatten them in its forward."
            )
        expected = self._resolved_feature_dim()
        if self.module is not None and self.feature_dim is not None:
            if out.shape[1] != expected:
                raise ValueError(
                    f"feature_dim={self.feature_dim} but the custom module "
                    f"returns {out.shape[1]} features. Leave feature_dim=None to "
                    "use the module's output size."
                )
        return int(out.shape[1])

    def initialize_criterion(self):
        """Build the PAL loss from ``loss``, unless ``criterion`` is given."""
        kwargs = self.get_params_for("criterion")
        if self.criterion is None:
            cls, defaults = _LOSSES[self.loss]
            self.criterion_ = cls(**{**defaults, **kwargs})
        else:
            self.criterion_ = self.initialized_instance(self.criterion, kwargs)
        return self

    def get_params_for(self, prefix):
        """Skorch's ``get_params_for``, shuffling training batches by default.

        skorch's ``NeuralNet`` does not shuffle; a classifier trained on data
        sorted by class then fails. ``iterator_train__shuffle=False`` still
        turns shuffling off.
        """
        params = super().get_params_for(prefix)
        if prefix == "iterator_train":
            params.setdefault("shuffle", True)
        return params

    def get_iterator(self, dataset, training=False):
        """Skorch's iterator, or whole-batch slicing of in-memory arrays.

        With the default iterator over numpy or CSR data, batches are sliced
        in one indexing call (:mod:`sknc._batching`) rather than collated
        row by row. Any other dataset, iterator or iterator argument (e.g.
        ``iterator_train__num_workers``) goes through skorch's ``DataLoader``.
        """
        prefix = "iterator_train" if training else "iterator_valid"
        kwargs = self.get_params_for(prefix)
        kwargs.setdefault("batch_size", self.batch_size)
        if kwargs["batch_size"] in (-1, None):
            kwargs["batch_size"] = len(dataset)
        iterator = self.iterator_train if training else self.iterator_valid
        batches = array_batches(dataset, iterator, kwargs)
        if batches is None:
            return super().get_iterator(dataset, training=training)
        return batches

    def get_params_for_optimizer(self, prefix, named_parameters):
        """Add ``weight_decay`` to the optimizer's arguments."""
        args, kwargs = super().get_params_for_optimizer(prefix, named_parameters)
        if prefix == "optimizer":
            kwargs.setdefault("weight_decay", self.weight_decay)
        return args, kwargs

    # -------------------------------------------------------------- training
    def get_loss(self, y_pred, y_true, X=None, training=False):
        """PAL loss of the logits, plus the feature decay when training."""
        logits, features = y_pred
        y_true = y_true.to(logits.device)
        loss = self.criterion_(logits, y_true)
        if training and self.feature_decay:
            loss = loss + 0.5 * self.feature_decay * features.pow(2).sum(1).mean()
        return loss

    def fit(self, X, y, **fit_params):
        """Initialize and train the network, then fit the decoder.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Training data. Sparse CSR input is densified batch by batch. A
            map-style ``torch.utils.data.Dataset`` of 1-D samples is read
            through skorch's ``DataLoader`` (its labels still go in ``y``;
            see :ref:`large_data`).
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels (multi-class), or a 0/1 indicator, sparse matrix or
            DataFrame (multi-label).
        **fit_params : dict
            Passed to the module's ``forward`` and to ``train_split``
            (see :meth:`skorch.NeuralNet.fit`).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._check_params()
        X, y_enc = self._validate_training_data(X, y, reset=True)
        resume = bool(self.warm_start and self.initialized_)
        with self._training_context(resume=resume):
            if not resume:
                self.initialize()
            self._train(X, y_enc, "fit", **fit_params)
        return self

    def partial_fit(self, X, y, classes=None, **fit_params):
        """Continue training for ``max_epochs`` more epochs and refit the decoder.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Training data, or a ``torch.utils.data.Dataset`` of 1-D samples.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Targets, of the same kind as in the first fit.
        classes : None
            Unused; all classes must be present in the first call.
        **fit_params : dict
            Passed to the module's ``forward`` and to ``train_split``.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._check_params()
        first = not self.initialized_ or not hasattr(self, "classes_")
        X, y_enc = self._validate_training_data(X, y, reset=first)
        with self._training_context(resume=not first):
            if first:
                self.initialize()
            self._train(X, y_enc, "partial_fit", **fit_params)
        return self

    def _train(self, X, y_enc, routing_method, **fit_params):
        # if training fails, a decoder fitted to the network as it was before
        # must not decode the changed network's outputs: drop it until the
        # new one is fitted
        self.__dict__.pop("decoder_", None)
        data = LabelledDataset(X, y_enc) if is_torch_dataset(X) else X
        with warnings.catch_warnings():
            # a read-only memmap reaches the DataLoader's collate when the
            # iterator is configured (e.g. num_workers); it is only read
            warnings.filterwarnings(
                "ignore", message="The given NumPy array is not writable"
            )
            NeuralNet.partial_fit(
                self, data, y_enc, _routing_method=routing_method, **fit_params
            )
        self._fit_decoder(X, y_enc)

    def set_params(self, **kwargs):
        """Set parameters; ``decoder`` and ``decoder__<name>`` apply at the next fit.

        skorch would re-initialise the network for any prefixed parameter of
        an initialised net; the decoder's parameters do not need that.
        """
        decoder_params = {
            k: v
            for k, v in kwargs.items()
            if k == "decoder" or k.startswith("decoder__")
        }
        for key, value in decoder_params.items():
            setattr(self, key, value)
            self._params_to_validate.add(key)
        rest = {k: v for k, v in kwargs.items() if k not in decoder_params}
        if rest or not decoder_params:
            super().set_params(**rest)
        return self

    def get_split_datasets(self, X, y=None, **fit_params):
        """Skorch's split, remembered so that the decoder can use it."""
        datasets = super().get_split_datasets(X, y, **fit_params)
        self._split_datasets_ = datasets
        return datasets

    def _fit_decoder(self, X, y_enc):
        """Fit the decoder on one eval-mode pass over the training data.

        With a validation split, the decoder's prototypes (or profiles) come
        from the training part and its calibration (temperature, threshold,
        probability curve) from the validation part, which the network did
        not train on.
        """
        train, valid = self.__dict__.pop("_split_datasets_", (None, None))
        if not self.multilabel_:
            self.decoder_ = None
            return
        calibration = None
        if valid is not None and len(valid):
            logits, features, Y = self._dataset_outputs(train)
            calibration = self._dataset_outputs(valid)
        else:
            decoder = self._make_decoder()
            if hasattr(decoder, "fit_batches"):
                # one streamed pass: memory does not grow with the training set
                self.decoder_ = decoder.fit_batches(
                    self._iter_training_outputs(X, y_enc)
                )
                return
            logits, features = self._outputs(X)
            Y = torch.as_tensor(y_enc, device=logits.device)
        self.decoder_ = self._make_decoder().fit(
            logits, features, Y, calibration=calibration
        )

    def _iter_training_outputs(self, X, y_enc):
        """``(logits, features, targets)`` batches of the training data."""
        start = 0
        for z, h in self._iter_outputs(X):
            Y = torch.as_tensor(y_enc[start : start + len(z)], device=z.device)
            start += len(z)
            yield z, h, Y

    def _dataset_outputs(self, dataset):
        """``(logits, features, targets)`` of a skorch dataset, in eval mode."""
        self._set_training(False)
        logits, features, targets = [], [], []
        with torch.no_grad():
            for Xi, yi in self.get_iterator(dataset, training=False):
                z, h = self.infer(Xi)
                logits.append(z)
                features.append(h)
                targets.append(torch.as_tensor(yi).to(z.device))
        return torch.cat(logits), torch.cat(features), torch.cat(targets)

    # ------------------------------------------------------------ prediction
    def _outputs(self, X):
        """``(logits, features)`` of validated data, on the model's device."""
        with self._device_context():
            logits, features = [], []
            for z, h in self._iter_outputs(X):
                logits.append(z)
                features.append(h)
            return torch.cat(logits), torch.cat(features)

    def _iter_outputs(self, X):
        """``(logits, features)`` of validated data, one batch at a time.

        Every batch is padded to ``batch_size`` rows, so that a sample's
        outputs do not depend on which other samples are predicted with it
        (float32 matrix products round differently for different shapes).
        Only one batch of ``X`` is read at a time (a memmap stays on disk).
        """
        with self._device_context():
            self._set_training(False)
            n = len(X) if is_torch_dataset(X) else X.shape[0]
            size = n if self.batch_size in (-1, None) else self.batch_size
            device = self.device
            if device is None:  # placed by someone else (e.g. accelerate)
                param = next(iter(self.module_.parameters()), None)
                device = None if param is None else param.device
            with torch.no_grad():
                for chunk in self._input_batches(X, size):
                    rows = chunk.shape[0]
                    if rows < size:
                        padding = chunk.new_zeros((size - rows,) + chunk.shape[1:])
                        chunk = torch.cat([chunk, padding])
                    z, h = self.module_(chunk.to(device, non_blocking=True))
                    yield z[:rows], h[:rows]

    def _input_batches(self, X, size):
        """CPU tensors of consecutive rows of ``X``, in order."""
        if is_torch_dataset(X):
            # skorch's DataLoader, with the iterator_valid__* arguments
            # (e.g. num_workers); batches of batch_size rows by default
            iterator = self.get_iterator(LabelledDataset(X), training=False)
            for Xi, _ in iterator:
                yield Xi
            return
        for start in range(0, X.shape[0], size):
            chunk = X[start : start + size]
            chunk = chunk.toarray() if sp.issparse(chunk) else chunk
            if not chunk.flags.writeable:  # e.g. a read-only memmap
                chunk = np.array(chunk)  # one batch; torch wants it writable
            yield torch.as_tensor(chunk)

    def _predict_outputs(self, X):
        # decoder_ is set last (None in multi-class mode): a fit that raised
        # leaves the estimator unfitted
        check_is_fitted(self, "decoder_")
        return self._outputs(self._validate_X(X, reset=False))

    def decision_function(self, X):
        """Return the logits.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Input data, or a ``torch.utils.data.Dataset`` of 1-D samples.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_labels) or (n_samples,)
            The logits; for a binary (1-D ``y``) problem, the difference of
            the two classes' logits, as scikit-learn's binary classifiers do.
        """
        logits, _ = self._predict_outputs(X)
        logits = logits[:, : self.n_outputs_].double()
        if not self.multilabel_ and self.n_outputs_ == 2:
            logits = logits[:, 1] - logits[:, 0]
        return logits.cpu().numpy()

    def predict_proba(self, X):
        """Return probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Input data, or a ``torch.utils.data.Dataset`` of 1-D samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_labels)
            Multi-label: each label's probability, from the decoder, strictly
            inside (0, 1). Multi-class: the softmax over classes (rows sum
            to 1).
        """
        logits, features = self._predict_outputs(X)
        if self.multilabel_:
            proba = self.decoder_.predict_proba(logits, features)
            proba = proba[:, : self.n_outputs_]
        else:
            proba = torch.softmax(logits.double(), dim=1)
        return proba.cpu().numpy()

    def predict(self, X):
        """Predict label sets (multi-label) or class labels (multi-class).

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
        logits, features = self._predict_outputs(X)
        if self.multilabel_:
            pred = self.decoder_.predict(logits, features)[:, : self.n_outputs_]
            return pred.cpu().numpy().astype(self.target_dtype_)
        return self.classes_[logits.argmax(dim=1).cpu().numpy()]

    def transform(self, X):
        """Return the penultimate features, so the estimator can be a Pipeline step.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Input data, or a ``torch.utils.data.Dataset`` of 1-D samples.

        Returns
        -------
        features : ndarray of shape (n_samples, d)
            The backbone's output (float32).
        """
        _, features = self._predict_outputs(X)
        return features.cpu().numpy()

    def get_feature_names_out(self, input_features=None):
        """Names of the ``transform`` outputs: ``<classname>0``, ``<classname>1``, ...

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Ignored; present for API consistency.

        Returns
        -------
        feature_names_out : ndarray of str objects
            One name per feature.
        """
        check_is_fitted(self, "feature_dim_")
        prefix = type(self).__name__.lower()
        return np.asarray(
            [f"{prefix}{i}" for i in range(self.feature_dim_)], dtype=object
        )

    def __setstate__(self, state):
        # skorch maps the saved tensors onto state["device"]: resolve 'auto'
        requested = state.get("device")
        if str(requested) == "auto":
            state = {**state, "device": resolve_device("auto")}
        super().__setstate__(state)
        self.device = requested

    # ----------------------------------------------------------- persistence
    # What fit learns beyond the torch state: needed to rebuild the network
    # and to decode its outputs in a fresh estimator.
    _fitted_state = (
        "n_features_in_",
        "feature_names_in_",
        "multilabel_",
        "label_names_",
        "n_outputs_",
        "classes_",
        "target_dtype_",
        "background_label_",
        "decoder_",
    )

    def save_params(
        self,
        f_params=None,
        f_optimizer=None,
        f_criterion=None,
        f_history=None,
        f_state=None,
        **kwargs,
    ):
        """Save the network's parameters, and optionally sknc's fitted state.

        Parameters
        ----------
        f_params, f_optimizer, f_criterion, f_history : file-like or str, default=None
            See :meth:`skorch.NeuralNet.save_params`.
        f_state : file-like or str, default=None
            Where to save what ``fit`` learned besides the torch modules: the
            label encoding, the input size and the fitted decoder. With it,
            :meth:`load_params` restores a working model into a fresh
            estimator.
        **kwargs : dict
            Passed to :meth:`skorch.NeuralNet.save_params`.
        """
        super().save_params(
            f_params=f_params,
            f_optimizer=f_optimizer,
            f_criterion=f_criterion,
            f_history=f_history,
            **kwargs,
        )
        if f_state is not None:
            check_is_fitted(self, "classes_")
            state = {
                k: getattr(self, k) for k in self._fitted_state if hasattr(self, k)
            }
            joblib.dump(state, f_state)

    def load_params(
        self,
        f_params=None,
        f_optimizer=None,
        f_criterion=None,
        f_history=None,
        f_state=None,
        **kwargs,
    ):
        """Load what :meth:`save_params` saved.

        Parameters
        ----------
        f_params, f_optimizer, f_criterion, f_history : file-like or str, default=None
            See :meth:`skorch.NeuralNet.load_params`.
        f_state : file-like or str, default=None
            sknc's fitted state saved with ``save_params(f_state=...)``. Load
            it to make an unfitted estimator (built with the same
            parameters) ready to predict; the network is initialised first.
        **kwargs : dict
            Passed to :meth:`skorch.NeuralNet.load_params`.
        """
        if f_state is not None:
            for key, value in joblib.load(f_state).items():
                setattr(self, key, value)
            if not self.initialized_:
                with self._training_context():
                    self.initialize()
        with self._device_context():
            try:
                super().load_params(
                    f_params=f_params,
                    f_optimizer=f_optimizer,
                    f_criterion=f_criterion,
                    f_history=f_history,
                    **kwargs,
                )
            except RuntimeError as exc:
                if "state_dict" not in str(exc) or "head." not in str(exc):
                    raise
                raise ValueError(
                    "The saved network's head does not match this estimator's: "
                    f"{exc}\nBuild the estimator with the parameters the model "
                    "was trained with. Models saved before PALClassifier "
                    "normalized its features by default need feature_norm=None."
                ) from exc


_SHARED_PARAMS = """\
    module : torch.nn.Module class or instance, default=None
        The backbone: maps a float32 batch ``(N, n_features)`` to ``(N, d)``
        features (a CNN reshapes the flat input in its ``forward``). None
        builds an :class:`~sknc.MLPBackbone` from ``hidden_layer_sizes``,
        ``feature_dim``, ``activation``, ``dropout`` and ``batch_norm``.
        Arguments for a custom module are given as ``module__<name>``; an
        instance is copied, never trained in place. ``d`` is read from a dry
        forward pass.
    criterion : torch loss class or instance, default=None
        None builds the PAL loss chosen by ``loss``. A custom criterion is
        called as ``criterion(logits, targets)``.
    optimizer : torch optimizer class, default=torch.optim.AdamW
        Optimizer; extra arguments as ``optimizer__<name>``.
    lr : float, default=1e-3
        Learning rate.
    max_epochs : int, default=100
        Number of training epochs.
    batch_size : int, default=128
        Mini-batch size (``-1``: the whole data set). Training batches are
        shuffled every epoch (``iterator_train__shuffle=False`` turns it
        off); prediction pads its last batch to this size so that a
        sample's outputs do not depend on the batch it is predicted in.
    train_split : callable or None, default=None
        skorch's internal validation split. None trains on all data. For a
        validation split of multi-label data, pass a stratified one such as
        ``sknc.model_selection.MultilabelStratifiedValidSplit(0.2)``; skorch's
        default split does not work with a 2-D ``y``.
    hidden_layer_sizes : tuple of int, default=(512,)
        Hidden layer sizes of the default MLP backbone.
{feature_dim}
    activation : {{'relu', 'gelu', 'tanh', 'logistic', 'identity'}}, default='relu'
        Activation of the default backbone's hidden layers.
    dropout : float, default=0.0
        Dropout after each hidden layer of the default backbone.
    batch_norm : bool, default=True
        Batch normalization in the default backbone's hidden layers.
    weight_decay : float, default=5e-4
        Weight decay ``lambda_W`` passed to the optimizer (overridden by
        ``optimizer__weight_decay``).
    feature_decay : float, default=1e-4
        Feature decay ``lambda_H``: adds ``lambda_H / 2`` times the mean
        squared norm of the batch's features to the training loss.
{feature_norm}
    loss : {{'pal', 'pal_n', 'pal_ls', 'pal_focal', 'pal_mse'}}, default='pal'
        ``'pal'``: the pick-all-label cross-entropy, one softmax
        cross-entropy per positive label; ``'pal_n'``: the same divided by
        the number of labels of each sample (see
        :class:`~sknc.PALCrossEntropyLoss`); ``'pal_ls'``: PAL with label
        smoothing 0.1; ``'pal_focal'``: the PAL focal loss with ``gamma=2``
        (:class:`~sknc.PALFocalLoss`); ``'pal_mse'``: the PAL rescaled square
        loss with ``kappa=M=1`` (:class:`~sknc.PALMSELoss`). Change a loss's
        parameters with ``criterion__<name>``, e.g.
        ``criterion__label_smoothing=0.2``, ``criterion__gamma=1`` or
        ``criterion__normalize=True``.
    decoder : {{'knn', 'onn', 'threshold', 'topk'}} or decoder instance, default='knn'
        How multi-label outputs become label sets and per-label
        probabilities; fitted on the training data at the end of ``fit``
        (prototypes from the training part, calibration from the validation
        part when there is a ``train_split``). ``'knn'``: the label set whose
        nearest training samples in feature space are closest
        (:class:`~sknc.KNNDecoder`, which keeps the training features);
        ``'onn'``: nearest label-set prototype (:class:`~sknc.ONNDecoder`,
        one mean per label set: use it for millions of training rows or to
        study the collapsed geometry); ``'threshold'``:
        :class:`~sknc.ThresholdDecoder`; ``'topk'``:
        :class:`~sknc.TopKDecoder`. Set a decoder's parameters with
        ``decoder__<name>`` (e.g. ``decoder__metric='cosine'``), also in a
        grid search.
    background_label : 'auto' or bool, default='auto'
        Train an extra, hidden label that marks the rows of ``y`` with no
        label, so that the empty set is a first-class outcome the decoder
        can predict. ``'auto'``: when the training ``y`` has such rows and
        the decoder's ``allow_empty`` is not False. The extra label never
        appears in the outputs.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, dropout and the ETF
        rotation. With an int, two CPU fits give identical predictions; the
        caller's global torch random state is left untouched.
    device : str, torch.device or None, default='cpu'
        ``'cpu'``, ``'cuda'``, ``'cuda:N'``, ``'mps'`` or ``'auto'`` (CUDA,
        then MPS, when available, else CPU).
    verbose : int, default=0
        When positive, print a per-epoch log (stdout) and show a per-batch
        progress bar (tqdm, on stderr); 0 prints nothing.
    **kwargs : dict
        Any other :class:`skorch.NeuralNet` parameter (``callbacks``,
        ``iterator_train__*``, ``module__*``, ``optimizer__*``, ...)."""

_SHARED_ATTRIBUTES = """\
    Attributes
    ----------
    classes_ : ndarray or list of ndarray
        Multi-class: the class labels. Multi-label: ``arange(K)`` or the
        DataFrame's column names; with ``K = 2`` labels, the list
        ``[array([0, 1]), array([0, 1])]`` (scikit-learn's multi-output
        convention, so that probability scorers see a multi-label problem).
    label_names_ : ndarray
        The label names (multi-label) or class labels (multi-class).
    multilabel_ : bool
        Whether the model was fitted on a 2-D label indicator.
    n_outputs_ : int
        Number of labels or classes ``K``.
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of str
        Input feature names, when ``X`` was a DataFrame with string columns.
    feature_dim_ : int
        Dimension ``d`` of the features returned by ``transform``.
    n_trainable_params_ : int
        Number of trainable parameters of the network.
    decoder_ : decoder or None
        The fitted decoder (None in multi-class mode). It sees one more label
        than ``y`` when ``background_label_`` is True.
    background_label_ : bool
        Whether the network has the extra background label (its last
        output).
    target_dtype_ : numpy dtype or None
        dtype of the multi-label ``y``; ``predict`` returns the same.
    module_ : PALNet
        The trained network; its ``forward`` returns ``(logits, features)``.
    history_ : skorch.History
        Per-epoch losses and timings."""

_PAL_FEATURE_DIM = """\
    feature_dim : int or None, default=None
        Feature dimension ``d`` of the default backbone; None means 256.
        With a custom ``module``, None takes the module's output size and an
        int must match it."""

_FEATURE_NORM = """\
    feature_norm : None, float or 'learned', default={default!r}
        Normalized features: None trains plain features. Otherwise the
        features are projected onto the unit sphere, the head's rows are
        normalized too (without bias or scale), and the logits are cosines
        divided by a temperature: this number (e.g. 0.1), or ``'learned'``,
        one learned scalar starting at 0.1 (:class:`~sknc.NormalizedHead`).
        ``transform`` then returns the unit-norm features, and the feature
        decay has no effect. {why}"""

_PAL_FEATURE_NORM = _FEATURE_NORM.format(
    default="learned",
    why="""The default by measurement on held-out parts of the training
        splits (``benchmarks/study_defaults.py``, 2 seeds): against plain
        features, ONN decoding was better on 6 of 8 data sets in subset
        accuracy (digits +0.13) and in micro-F1 (enron +0.04).""",
)
_ETF_FEATURE_NORM = _FEATURE_NORM.format(
    default=None,
    why="""Off by default: with the fixed frame it was better on the
        larger text data sets but worse on the digits
        (``benchmarks/study_defaults.py``).""",
)

_ETF_FEATURE_DIM = """\
    feature_dim : int or None, default=None
        Feature dimension ``d``; None means the number of labels ``K``. Must
        be at least ``K - 1``. The parameter to grid-search: small values
        save parameters. With a custom ``module``, None takes the module's
        output size and an int must match it."""


class PALClassifier(_PALNetBase):
    """Neural multi-label classifier trained with the pick-all-label loss.

    A backbone (by default an MLP) maps each sample to features, and a
    learned linear head maps the features to one logit per label. Training
    minimises the PAL cross-entropy with weight decay and feature decay; a
    decoder fitted on the training data turns logits into label sets.

    With a 2-D 0/1 ``y`` the model is multi-label: ``predict`` returns a 0/1
    indicator and ``predict_proba`` per-label probabilities. With a 1-D
    ``y`` PAL reduces to the cross-entropy and the model is an ordinary
    multi-class classifier.

    Parameters
    ----------
    {params}

    {attributes}

    See Also
    --------
    FixedETFClassifier : The same with the head fixed to a simplex ETF.
    sklearn.neural_network.MLPClassifier : scikit-learn's MLP.

    Notes
    -----
    This is a :class:`skorch.NeuralNet`: every skorch feature (callbacks,
    checkpoints, ``set_params`` of nested arguments) is available.

    Examples
    --------
    >>> from sklearn.datasets import make_multilabel_classification
    >>> from sknc import PALClassifier
    >>> X, Y = make_multilabel_classification(n_samples=100, n_classes=4,
    ...                                       random_state=0)
    >>> clf = PALClassifier(max_epochs=5, random_state=0).fit(X, Y)
    >>> clf.predict(X[:3]).shape
    (3, 4)
    >>> clf.predict_proba(X[:3]).shape
    (3, 4)
    >>> clf.transform(X[:3]).shape
    (3, 256)
    """

    def __init__(
        self, module=None, *args, feature_dim=None, feature_norm="learned", **kwargs
    ):
        super().__init__(
            module, *args, feature_dim=feature_dim, feature_norm=feature_norm, **kwargs
        )

    def _resolved_feature_dim(self):
        return 256 if self.feature_dim is None else self.feature_dim

    def _make_head(self, feature_dim, n_outputs, seed):
        # normalized features use the rows' directions only: no bias
        return LinearHead(feature_dim, n_outputs, bias=self.feature_norm is None)


class FixedETFClassifier(_PALNetBase):
    """Neural multi-label classifier with a fixed simplex-ETF head.

    Like :class:`PALClassifier`, but the head is not learned: its rows are
    fixed to a simplex equiangular tight frame (the geometry a learned head
    converges to under neural collapse), scaled by one learned scalar. With
    ``feature_dim`` as small as the number of labels this saves the whole
    head and most of the last backbone layer.

    Parameters
    ----------
    {params}
    etf_scale : float or 'learned', default='learned'
        The logit scale ``s`` in ``z = s * M h``: one learned scalar
        (initialised to 1), or a fixed positive number. Learned is the
        default by measurement (``benchmarks/bench_core.py
        --etf-scale-study``, 3 seeds): it stays within about 1.5 points of
        the best fixed scale on digits, yeast, scene and emotions with no
        tuning; a fixed scale of 16 trains poorly on three of them, while 4
        does best on scene, so the scale is worth a grid search.
        Not used with ``feature_norm``, whose temperature is the scale.

    {attributes}

    See Also
    --------
    PALClassifier : The same with a learned linear head.
    sknc.simplex_etf : The frame used as the head.

    Examples
    --------
    >>> from sklearn.datasets import make_multilabel_classification
    >>> from sknc import FixedETFClassifier
    >>> X, Y = make_multilabel_classification(n_samples=100, n_classes=4,
    ...                                       random_state=0)
    >>> clf = FixedETFClassifier(max_epochs=5, random_state=0).fit(X, Y)
    >>> clf.feature_dim_
    4
    >>> clf.predict(X[:3]).shape
    (3, 4)
    """

    _parameter_constraints = {
        **_PALNetBase._parameter_constraints,
        "etf_scale": [
            StrOptions({"learned"}),
            Interval(numbers.Real, 0, None, closed="neither"),
        ],
    }

    def __init__(
        self, module=None, *args, feature_dim=None, etf_scale="learned", **kwargs
    ):
        super().__init__(module, *args, feature_dim=feature_dim, **kwargs)
        self.etf_scale = etf_scale

    def _resolved_feature_dim(self):
        if self.feature_dim is None:
            return self.n_outputs_
        return self.feature_dim

    def _make_head(self, feature_dim, n_outputs, seed):
        if feature_dim < n_outputs - 1:
            background = (
                " (the last one the background label of rows with no label)"
                if self.background_label_
                else ""
            )
            raise ValueError(
                f"A fixed simplex-ETF head for {n_outputs} labels{background} "
                f"needs feature_dim >= {n_outputs - 1} (the number of labels "
                f"minus one); got features of dimension {feature_dim}. Increase "
                "feature_dim, or use PALClassifier for a learned head."
            )
        # with normalized features the temperature is the only scale
        scale = self.etf_scale if self.feature_norm is None else 1.0
        return FixedETFHead(feature_dim, n_outputs, scale=scale, random_state=seed)


PALClassifier.__doc__ = PALClassifier.__doc__.format(
    params=_SHARED_PARAMS.format(
        feature_dim=_PAL_FEATURE_DIM, feature_norm=_PAL_FEATURE_NORM
    ).lstrip(),
    attributes=_SHARED_ATTRIBUTES.lstrip(),
)
FixedETFClassifier.__doc__ = FixedETFClassifier.__doc__.format(
    params=_SHARED_PARAMS.format(
        feature_dim=_ETF_FEATURE_DIM, feature_norm=_ETF_FEATURE_NORM
    ).lstrip(),
    attributes=_SHARED_ATTRIBUTES.lstrip(),
)
