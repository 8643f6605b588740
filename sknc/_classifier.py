"""The two estimators: PALClassifier and FixedETFClassifier."""

import copy
import inspect
import numbers
from contextlib import contextmanager

import numpy as np
import torch
from sklearn.base import ClassifierMixin, TransformerMixin
from sklearn.utils import Bunch
from sklearn.utils._param_validation import (
    Interval,
    Options,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet
from skorch.dataset import unpack_data
from skorch.exceptions import NotInitializedError
from skorch.utils import get_map_location

from ._device import resolve_device
from ._docstring import (
    ETF_FEATURE_DECAY,
    ETF_FEATURE_DIM,
    ETF_FEATURE_NORM,
    ETF_LOSS,
    PAL_FEATURE_DECAY,
    PAL_FEATURE_DIM,
    PAL_FEATURE_NORM,
    PAL_LOSS,
    SHARED_ATTRIBUTES,
    Substitution,
    estimator_params,
)
from ._input_head import InputHead, fit_input_head
from ._inputs import (
    LabelledDataset,
    SplitRecord,
    array_batches,
    n_rows,
    sample_rows,
    validate_inputs,
)
from ._loss import LOSSES
from ._modules import (
    EnsembleNet,
    FixedETFHead,
    InputScaler,
    LabelHead,
    LinearHead,
    MLPBackbone,
    NormalizedHead,
    PALNet,
    prior_log_odds,
)
from ._persistence import (
    check_decision_fits_network,
    load_state,
    mismatch_message,
    restore,
    write_state,
)
from ._targets import encode_targets, indicator_dtype, one_hot
from ._training import (
    default_callbacks,
    device_context,
    early_stopping_split,
    read_only_arrays_ok,
    resolve_early_stopping,
    resolve_feature_decay,
    seeded,
    torch_seed,
)
from ._warnings import warn
from ._weights import (
    check_class_weight,
    check_sample_weight,
    pack,
    unpack,
    weighted_loss,
)
from .decoders import BaseDecoder, Decision, get_decoder
from .decoders._decision import (
    AUTO_FALLBACK,
    AUTO_SOURCES,
    FEATURE_HEAD_SOURCES,
    INPUT_HEAD_SOURCES,
    LABEL_PROBA,
    choose_label_proba,
)
from .decoders._objectives import OBJECTIVES
from .decoders._registry import DECODERS

__all__ = ["PALClassifier", "FixedETFClassifier"]


def _signature(cls):
    """Return the real parameters, for ``help()`` and ``inspect.signature``.

    The ``__init__`` chain passes most of them on through ``**kwargs``; the
    signature lists every parameter with its default (the subclass's where it
    overrides one), then ``**kwargs`` for skorch's prefixed parameters such
    as ``module__<name>`` and ``decoder__<name>``.
    """
    params = {}
    for klass in (NeuralNet, *reversed(cls.__mro__[: cls.__mro__.index(NeuralNet)])):
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for param in inspect.signature(init).parameters.values():
            if param.name == "self" or param.kind in (
                param.VAR_POSITIONAL,
                param.VAR_KEYWORD,
            ):
                continue
            kind = (
                param.POSITIONAL_OR_KEYWORD
                if param.name == "module"
                else param.KEYWORD_ONLY
            )
            params[param.name] = param.replace(kind=kind)
    module = params.pop("module")
    kwargs = inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)
    return inspect.Signature([module, *params.values(), kwargs])


def _training_positions(data):
    """Return the rows of a :class:`SplitRecord`'s dataset the network trained on.

    None when the split has no validation part (it trained on all rows) or
    is not a subset of the dataset (a ``train_split`` of another kind).
    """
    train, valid = data.split
    if valid is None or not len(valid):
        return None
    if isinstance(train, torch.utils.data.Subset) and train.dataset is data.dataset:
        return np.asarray(train.indices)
    return None


def _targets_of(dataset):
    """Return the targets of a dataset in order: its ``y``, or a Subset's rows."""
    if isinstance(dataset, torch.utils.data.Subset):
        return _targets_of(dataset.dataset)[np.asarray(dataset.indices)]
    y = getattr(dataset, "y", None)
    if y is None:
        raise ValueError(
            f"The train_split returned a {type(dataset).__name__} without "
            "targets (no attribute y), so the decoder cannot be calibrated on "
            "it. Return torch.utils.data.Subset objects of the dataset it is "
            "given, as skorch's ValidSplit and sknc's "
            "MultilabelStratifiedValidSplit do."
        )
    return y


# The largest model of the inputs (features x labels) label_proba='auto'
# fits to choose: a dense weight per label, which L-BFGS keeps about twenty
# copies of (4M coefficients: 320 MB in float32).
AUTO_MAX_COEFFICIENTS = 2**22


class _PALNetBase(
    ClassifierMixin,
    TransformerMixin,
    NeuralNet,
):
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
        # -1: the whole data set in one batch
        "batch_size": [
            Interval(numbers.Integral, 1, None, closed="left"),
            Options(numbers.Integral, {-1}),
        ],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "feature_decay": [
            Interval(numbers.Real, 0, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "feature_norm": [
            None,
            StrOptions({"learned"}),
            Interval(numbers.Real, 0, None, closed="neither"),
        ],
        "loss": [StrOptions(set(LOSSES))],
        "decoder": [StrOptions(set(DECODERS)), BaseDecoder],
        "objective": [StrOptions(set(OBJECTIVES)), None],
        "background_label": [StrOptions({"auto"}), "boolean"],
        "class_weight": [None, StrOptions({"balanced"}), dict, "array-like"],
        "n_estimators": [Interval(numbers.Integral, 1, None, closed="left")],
        "early_stopping": [StrOptions({"auto"}), "boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "calibration_cv": [None, Interval(numbers.Integral, 2, None, closed="left")],
        "input_scaling": [StrOptions({"robust"}), None],
        "label_proba": [StrOptions(set(LABEL_PROBA))],
        "dtype": [StrOptions({"float32", "float64"})],
        "random_state": ["random_state"],
        # skorch's parameters
        "module": [None, callable],
        "criterion": [None, callable],
        "optimizer": [callable],
        "train_split": [None, callable],
        "callbacks": [None, list, tuple, StrOptions({"disable"})],
        "dataset": [callable],
        "iterator_train": [callable],
        "iterator_valid": [callable],
        "predict_nonlinearity": [None, callable, StrOptions({"auto"})],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "device": [str, torch.device, None],
        "compile": ["boolean"],
        "use_caching": [StrOptions({"auto"}), "boolean"],
        "torch_load_kwargs": [None, dict],
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
        objective=None,
        background_label="auto",
        class_weight=None,
        n_estimators=1,
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        calibration_cv=None,
        input_scaling="robust",
        label_proba="auto",
        dtype="float32",
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
        self.objective = objective
        self.background_label = background_label
        self.class_weight = class_weight
        self.n_estimators = n_estimators
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.calibration_cv = calibration_cv
        self.input_scaling = input_scaling
        self.label_proba = label_proba
        self.dtype = dtype
        self.random_state = random_state

    # ------------------------------------------------------------------ tags
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.input_tags.sparse = True
        # transform() returns features in the network's dtype, whatever X's
        tags.transformer_tags.preserves_dtype = [self.dtype]
        return tags

    # ---------------------------------------------------------- training loop
    @property
    def _default_callbacks(self):
        return default_callbacks(
            getattr(self, "early_stopping_", False),
            self.n_iter_no_change,
            self.tol,
            self.verbose,
        )

    def _effective_train_split(self):
        """``train_split``, or early stopping's stratified validation split."""
        if self.train_split is not None or not getattr(self, "early_stopping_", False):
            return self.train_split
        return early_stopping_split(self.validation_fraction, self._torch_seed())

    def _torch_seed(self):
        return torch_seed(self.random_state)

    def _device_context(self):
        return device_context(self)

    @contextmanager
    def _training_context(self, resume=False):
        """Resolve the device and seed torch for a repeatable fit."""
        with device_context(self), seeded(self, self._torch_seed(), resume):
            yield

    # ------------------------------------------------------------ persistence
    def __setstate__(self, state):
        # skorch maps the saved tensors onto state["device"]: resolve 'auto'
        requested = state.get("device")
        if str(requested) == "auto":
            state = {**state, "device": resolve_device("auto")}
        super().__setstate__(state)
        self.device = requested

    def initialize(self):
        """Initialize the network, once its input size is known.

        The network's size comes from the data: before :meth:`fit`, or before
        ``load_params(f_state=...)`` restores a saved model, there is nothing
        to build yet and this returns the estimator unchanged (skorch's
        ``net.initialize(); net.load_params(...)`` recipe then works, with
        ``f_state``).

        Returns
        -------
        self : estimator
            The estimator.
        """
        if not hasattr(self, "n_features_in_"):
            return self
        return super().initialize()

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
            label encoding, the input size, the fitted decoder and the
            objective thresholds, as plain data (:func:`torch.save` of
            tensors, numbers and strings, which
            ``torch.load(weights_only=True)`` reads back). With it,
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
            write_state(self, f_state)

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
            A fresh estimator needs it: ``f_params`` alone does not say the
            input size or the labels. A file that is damaged, edited or not
            plain data raises :class:`StateFileError`, naming the file and
            what is wrong, and leaves the estimator as it was.
        **kwargs : dict
            Passed to :meth:`skorch.NeuralNet.load_params`.
        """
        snapshot = None
        if f_state is not None:
            with self._device_context():
                map_location = get_map_location(self.device)
            snapshot, name = load_state(self, f_state, map_location)
        elif not self.initialized_ and not hasattr(self, "n_features_in_"):
            wanted = [f_params, f_optimizer, f_criterion, kwargs.get("checkpoint")]
            if any(f is not None for f in wanted) or any(
                k.startswith("f_") for k in kwargs
            ):
                raise NotInitializedError(
                    f"This {type(self).__name__} does not know its input size "
                    "and labels yet, so the saved network has nothing to load "
                    "into. Call load_params(f_params=..., f_state=...) with the "
                    "state file save_params(f_state=...) wrote beside the "
                    "parameters: it holds the input size, the labels and the "
                    "fitted decoder (or fit the estimator first)."
                )
        try:
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
                    if "state_dict" not in str(exc):
                        raise
                    raise ValueError(mismatch_message(exc, self)) from exc
            if snapshot is not None:
                check_decision_fits_network(self, name)
        except BaseException:
            # files that do not fit together leave the estimator as it was
            if snapshot is not None:
                restore(self, snapshot)
            raise

    # ------------------------------------------------------------ validation
    def _check_params(self):
        validate_parameter_constraints(
            self._parameter_constraints,
            self.get_params(deep=False),
            caller_name=type(self).__name__,
        )
        # before any data is read or any epoch run
        resolve_device(self.device)
        if isinstance(self.feature_norm, (bool, np.bool_)):
            raise ValueError(
                f"feature_norm={self.feature_norm} is ambiguous: pass 'learned' for "
                "normalized features with a learned temperature, a number such as "
                "0.1 for a fixed temperature, or None for plain features."
            )
        # the one decoder of this fit, validated before training
        decoder = self._make_decoder()
        decoder._validate_params()
        return decoder

    # parameters that predict reads without refitting
    _predict_params = ("objective", "label_proba", "batch_size", "device")

    def _check_predict_params(self):
        """Validate the parameters ``predict`` uses, which may change after fit."""
        validate_parameter_constraints(
            {k: self._parameter_constraints[k] for k in self._predict_params},
            {k: getattr(self, k) for k in self._predict_params},
            caller_name=type(self).__name__,
        )

    def _get_param_names(self):
        # skorch lists every attribute without a trailing underscore, its
        # private bookkeeping (_params_to_validate) included
        return [k for k in super()._get_param_names() if not k.startswith("_")]

    def _validate_X(self, X, reset):
        return validate_inputs(self, X, reset)

    def _validate_training_data(self, X, y, reset, decoder):
        X = self._validate_X(X, reset=reset)
        n_samples = n_rows(X)
        if isinstance(X, LabelledDataset):
            if y is None:
                raise ValueError(
                    "y is None: with a torch Dataset as X, pass its labels as y "
                    "too (a 1-D array of classes or a 0/1 indicator of shape "
                    "(len(X), n_labels)). The estimator needs them before "
                    "training; the dataset's own targets, if any, are ignored."
                )
        y_enc, classes, multilabel = encode_targets(y, n_samples)
        if reset:
            # a new fit chooses label_proba='auto''s source again
            self.__dict__.pop("label_proba_", None)
            self.multilabel_ = multilabel
            self.label_names_ = classes
            self.n_outputs_ = len(classes)
            # with K = 2, classes_ = [0, 1] would read as a *binary* problem to
            # scikit-learn's scorers: use the multi-output convention instead.
            if multilabel and len(classes) == 2:
                self.classes_ = [np.array([0, 1]), np.array([0, 1])]
            else:
                self.classes_ = classes
            self.target_dtype_ = indicator_dtype(y) if multilabel else None
            self.background_label_ = self._use_background_label(y_enc, decoder)
            self.early_stopping_ = resolve_early_stopping(
                self.early_stopping, n_samples
            )
            self.feature_decay_ = resolve_feature_decay(self.feature_decay, decoder)
            self.class_weight_ = check_class_weight(
                self.class_weight,
                y_enc if multilabel else one_hot(y_enc, np.arange(len(classes)))[0],
                classes,
            )
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

    def _use_background_label(self, y_enc, decoder):
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
            allow = getattr(decoder, "allow_empty", "auto")
            use = bool(empty) and allow is not False
        if empty and not use:
            warn(
                f"{empty} of {y_enc.shape[0]} rows of y have no positive label. "
                "Without a background label they add no PAL loss (their features "
                "are still regularised); set background_label='auto' and keep "
                "the decoder's allow_empty='auto' to learn to predict empty sets.",
                UserWarning,
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
        """Build the network: a backbone and the estimator's head (per member)."""
        members, dims = zip(
            *(self._make_member() for _ in range(self.n_estimators)), strict=True
        )
        if self.n_estimators == 1:
            self.module_ = members[0]
        else:
            self.module_ = EnsembleNet(list(members))
        if self.multilabel_ and self._builds_input_head():
            # fitted after the network (_fit_input_head); buffers only
            head = InputHead(self.n_features_in_, self.n_outputs_)
            self.module_.input_head = head.to(getattr(torch, self.dtype))
        # transform returns the members' features side by side
        self.feature_dim_ = sum(dims)
        self.n_trainable_params_ = sum(
            p.numel() for p in self.module_.parameters() if p.requires_grad
        )
        return self

    def _make_member(self):
        """Return one network (a backbone and a head) and its feature dimension."""
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
        scaler = None
        if self.input_scaling == "robust":
            # statistics fitted by fit (_fit_input_scaling), or loaded
            scaler = InputScaler(self.n_features_in_)
        label_head = None
        if self.multilabel_ and self.label_proba != "decoder":
            # it draws no random number and get_loss detaches the features
            # it sees: the PAL network trains the same with and without it
            label_head = LabelHead(feature_dim, self.n_outputs_)
        net = PALNet(
            backbone,
            head,
            normalize_features=self.feature_norm is not None,
            input_scaler=scaler,
            label_head=label_head,
        )
        return net.to(getattr(torch, self.dtype)), feature_dim

    def _fit_input_scaling(self, X, sample_weight):
        """Fit the input scalers of a new network to the training rows ``X``."""
        scalers = [m for m in self.module_.modules() if isinstance(m, InputScaler)]
        if scalers:
            # at most 2**25 values (128 MB): a wide sparse X is densified here
            n_max = max(256, min(20_000, 2**25 // self.n_features_in_))
            rows, index = sample_rows(X, n_max)
            weight = None if sample_weight is None else sample_weight[index]
            for scaler in scalers:
                scaler.fit(rows, weight)

    def _fit_input_head(self, X, y_enc, sample_weight, positions=None):
        """Fit the per-label model of the inputs to (a sample of) the rows.

        ``positions``: the rows of ``X`` it may see (None: all).
        """
        head = getattr(self._network(), "input_head", None)
        if head is None:
            return
        # at most 2**24 values (64 MB in float32) of densified rows
        n_max = max(256, min(50_000, 2**24 // max(self.n_features_in_, 1)))
        rows, index = sample_rows(X, n_max, among=positions)
        Y = torch.as_tensor(np.asarray(y_enc[index, : self.n_outputs_]))
        weight = None if sample_weight is None else sample_weight[index]
        seed = self._torch_seed()
        if seed is None:
            seed = int(torch.randint(2**31 - 1, ()).item())
        fit_input_head(head, rows, Y, weight, seed=seed)

    def _fit_label_prior(self, y_enc, sample_weight):
        """Start the per-label heads at the labels' (weighted) frequencies."""
        heads = [m for m in self.module_.modules() if isinstance(m, LabelHead)]
        if heads:
            Y = torch.as_tensor(np.asarray(y_enc[:, : self.n_outputs_], np.float64))
            weight = torch.ones(len(Y), dtype=torch.float64)
            if sample_weight is not None:
                weight = torch.as_tensor(sample_weight, dtype=torch.float64)
            log_odds = prior_log_odds(Y, weight)
            for head in heads:
                head.set_prior(log_odds)

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
            cls, defaults = LOSSES[self.loss]
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
        kwargs["batch_size"] = self._batch_size(training) or len(dataset)
        iterator = self.iterator_train if training else self.iterator_valid
        batches = array_batches(dataset, iterator, kwargs)
        if batches is None:
            return super().get_iterator(dataset, training=training)
        return batches

    def get_params_for_optimizer(self, prefix, named_parameters):
        """Add ``weight_decay`` (and Adam's fused kernel) to the optimizer's arguments.

        torch's Adam and AdamW step one parameter at a time in Python unless
        told otherwise; their fused kernel does the same update in one call
        per step (medical's fit: 3.6 s to 1.9 s on one CPU thread). It is
        used on CPU and CUDA unless ``optimizer__fused``,
        ``optimizer__foreach``, ``optimizer__differentiable`` or
        ``optimizer__capturable`` is given.
        """
        args, kwargs = super().get_params_for_optimizer(prefix, named_parameters)
        if prefix == "optimizer":
            kwargs.setdefault("weight_decay", self.weight_decay)
            # a kernel choice of the user's (or an option the fused kernel
            # may not support) wins
            chosen = {"fused", "foreach", "differentiable", "capturable"}
            if self._fused_optimizer_ok() and not chosen & set(kwargs):
                kwargs["fused"] = True
        return args, kwargs

    def _fused_optimizer_ok(self):
        """Whether torch's fused Adam kernel applies to this net's optimizer."""
        if self.optimizer not in (torch.optim.Adam, torch.optim.AdamW):
            return False
        params = list(self.module_.parameters())
        return bool(params) and all(
            p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params
        )

    # -------------------------------------------------------------- training
    def get_loss(self, y_pred, y_true, X=None, training=False):
        """PAL loss of the logits (weighted), plus more when training.

        Training adds the feature decay and the per-label head's binary
        cross-entropy.
        """
        logits, features = y_pred
        y_true, row_weight = unpack(
            y_true.to(logits.device), self.multilabel_, self._n_head_outputs
        )
        label_loss = 0.0
        if training and self._has_label_head():
            label_loss = self._label_head_loss(features, y_true, row_weight)
        if logits.ndim == 3:
            # an ensemble: every member learns from its own loss, averaged
            n_members = logits.shape[1]
            logits = logits.reshape(-1, logits.shape[2])
            y_true = y_true.repeat_interleave(n_members, dim=0)
            if row_weight is not None:
                row_weight = row_weight.repeat_interleave(n_members)
        label_weight = self._loss_label_weight()
        if row_weight is None and label_weight is None:
            loss = self.criterion_(logits, y_true)
        else:
            loss = weighted_loss(
                self.criterion_, logits, y_true, row_weight, label_weight
            )
        if not training:
            return loss
        decay = self.feature_decay_
        if decay:
            loss = loss + 0.5 * decay * features.pow(2).sum(-1).mean()
        return loss + label_loss

    def _network(self):
        """Return the network under any wrapper (DDP: module, compile: _orig_mod)."""
        module = self.module_
        for attribute in ("module", "_orig_mod"):
            inner = getattr(module, attribute, None)
            if isinstance(inner, torch.nn.Module):
                module = inner
        return module

    def _has_label_head(self):
        return getattr(self._network(), "label_head", None) is not None

    def _label_head_loss(self, features, y_true, row_weight):
        """Binary cross-entropy of the per-label head on the detached features.

        Detached: the head learns from the PAL features without changing
        them, so that ``label_proba`` leaves ``predict`` as it is.
        """
        label_logits = self._network().label_logits(features.detach())
        target = y_true[:, : self.n_outputs_].to(label_logits)
        if label_logits.ndim == 3:  # an ensemble's members
            target = target.unsqueeze(1).expand_as(label_logits)
        per_row = (
            torch.nn.functional.binary_cross_entropy_with_logits(
                label_logits, target, reduction="none"
            )
            .flatten(1)
            .mean(dim=1)
        )
        if row_weight is None:
            return per_row.mean()
        row_weight = row_weight.to(per_row)
        return (per_row * row_weight).sum() / row_weight.sum().clamp_min(1e-12)

    def _head_proba(self, features):
        """``(n, K)`` probabilities of the per-label head, or None without one."""
        if not self._has_label_head():
            return None
        with torch.no_grad():
            return torch.sigmoid(self._network().label_logits(features).double())

    def _input_head_proba(self, dataset):
        """``(n, K)`` probabilities of the per-label model of the inputs, or None."""
        head = getattr(self._network(), "input_head", None)
        if head is None:
            return None
        param = head.weight
        parts = []
        with self._device_context(), read_only_arrays_ok(), torch.no_grad():
            # skorch's own iterator: a data-parallel mixin's would give each
            # process its shard, and the model of the inputs needs no network
            for batch in NeuralNet.get_iterator(self, dataset, training=False):
                Xi, _ = unpack_data(batch)
                Xi = torch.as_tensor(Xi).to(param.device, param.dtype)
                parts.append(torch.sigmoid(head(Xi).double()))
        return torch.cat(parts)

    def _label_proba(self, decision, logits, features, dataset):
        """Return the labels' probabilities from the source ``label_proba`` names."""
        source = self._resolved_label_proba()
        if source == "decoder":  # the heads, if any, are not read
            return decision.predict_proba(logits, features)
        heads = {}
        if source in FEATURE_HEAD_SOURCES:
            heads["feature_head"] = self._head_proba(features)
        if source in INPUT_HEAD_SOURCES:
            heads["input_head"] = self._input_head_proba(dataset)
        for name, head in heads.items():
            if head is None:
                what, trained_by = "head of the features", LABEL_PROBA[2:]
                if name == "input_head":
                    what, trained_by = "model of the inputs", INPUT_HEAD_SOURCES
                raise ValueError(
                    f"label_proba={source!r} needs the per-label {what}, "
                    "and this network was trained without one (a fit with "
                    f"label_proba in {trained_by} trains it). Set another "
                    "label_proba, or fit again to train it."
                )
        return decision.predict_proba(logits, features, source, **heads)

    def _resolved_label_proba(self):
        """Return the source ``predict_proba`` reads (``'auto'``: fit's choice)."""
        if self.label_proba != "auto":
            return self.label_proba
        # a model saved before label_proba_ was kept had no model of the inputs
        return getattr(self, "label_proba_", AUTO_FALLBACK)

    def _builds_input_head(self):
        """Whether the network has the per-label model of the inputs.

        A fitted or loaded ``'auto'`` model has it where it chose a source
        that reads it (``label_proba_``); a fit builds it where it will fit it.
        """
        if self.label_proba == "auto" and hasattr(self, "label_proba_"):
            return self.label_proba_ in INPUT_HEAD_SOURCES
        return self._fits_input_head()

    def _fits_input_head(self):
        """Whether fit trains the per-label model of the inputs.

        The sources of :data:`INPUT_HEAD_SOURCES` read it; ``'auto'`` fits
        it where the model is of a size it affords.
        """
        if self.label_proba in INPUT_HEAD_SOURCES:
            return True
        if self.label_proba != "auto":
            return False
        return self.n_features_in_ * self.n_outputs_ <= AUTO_MAX_COEFFICIENTS

    def _held_out_sources(self, decision, dataset, held=None):
        """``label_proba='auto'``'s candidates on rows the network did not train on.

        ``dataset``: the rows (holding their targets unless ``held``, their
        ``(logits, features, targets)``, is given; rows of zero weight are
        then left out). Returns ``({source: (n, K) probabilities}, (n, K)
        labels)``, or None when the network has no model of the inputs.
        """
        if getattr(self._network(), "input_head", None) is None:
            return None
        inputs = self._input_head_proba(dataset)
        if held is None:
            _, weight = unpack(
                _targets_of(dataset), self.multilabel_, self._n_head_outputs
            )
            held = self._labelled_outputs(dataset)
            if weight is not None:
                inputs = inputs[torch.as_tensor(weight > 0, device=inputs.device)]
        logits, features, Y = held
        heads = {"feature_head": self._head_proba(features), "input_head": inputs}
        sources = {
            source: decision.predict_proba(logits, features, source, **heads)
            for source in AUTO_SOURCES
        }
        return sources, Y[:, : self.n_outputs_]

    def _chosen_label_proba(self, held_out):
        """Return ``label_proba_``: for ``'auto'``, the choice on ``held_out``."""
        if self.label_proba != "auto":
            return self.label_proba
        if getattr(self._network(), "input_head", None) is None:
            # multi-class mode, or a model of the inputs too large to fit
            return AUTO_FALLBACK
        if not held_out or any(part is None for part in held_out):
            return AUTO_SOURCES[0]
        source, losses = choose_label_proba(held_out)
        if self.verbose:
            rows = sum(len(labels) for _, labels in held_out)
            scores = ", ".join(f"{k} {v:.4f}" for k, v in losses.items())
            print(
                f"label_proba='auto' chose {source!r} (log loss on {rows} "
                f"held-out rows: {scores})"
            )
        return source

    def _loss_label_weight(self):
        """Return ``class_weight_`` over the network's outputs, or None."""
        weights = getattr(self, "class_weight_", None)
        if weights is None:
            return None
        extra = self._n_head_outputs - len(weights)  # the background label
        return torch.as_tensor(np.concatenate([weights, np.ones(extra)]))

    def fit(self, X, y, sample_weight=None, **fit_params):
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
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each row's PAL loss (0 leaves the row out
            of the loss and of the decoder's fit). With scikit-learn's
            metadata routing, request it with ``set_fit_request``.
        **fit_params : dict
            Passed to the module's ``forward`` and to ``train_split``
            (see :meth:`skorch.NeuralNet.fit`).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        decoder = self._check_params()
        X, y_enc = self._validate_training_data(X, y, reset=True, decoder=decoder)
        sample_weight = check_sample_weight(sample_weight, len(y_enc))
        resume = bool(self.warm_start and self.initialized_)
        with self._training_context(resume=resume):
            if not resume:
                self.initialize()
                self._fit_input_scaling(X, sample_weight)
                self._fit_label_prior(y_enc, sample_weight)
            self._train(X, y_enc, sample_weight, decoder, "fit", **fit_params)
        return self

    def partial_fit(self, X, y, classes=None, sample_weight=None, **fit_params):
        """Continue training for ``max_epochs`` more epochs and refit the decoder.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Training data, or a ``torch.utils.data.Dataset`` of 1-D samples.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Targets, of the same kind as in the first fit.
        classes : None
            Unused; all classes must be present in the first call.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each row's PAL loss, as in :meth:`fit`.
        **fit_params : dict
            Passed to the module's ``forward`` and to ``train_split``.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        decoder = self._check_params()
        first = not self.initialized_ or not hasattr(self, "classes_")
        X, y_enc = self._validate_training_data(X, y, reset=first, decoder=decoder)
        sample_weight = check_sample_weight(sample_weight, len(y_enc))
        with self._training_context(resume=not first):
            if first:
                self.initialize()
                self._fit_input_scaling(X, sample_weight)
                self._fit_label_prior(y_enc, sample_weight)
            self._train(X, y_enc, sample_weight, decoder, "partial_fit", **fit_params)
        return self

    def _train(self, X, y_enc, sample_weight, decoder, routing_method, **fit_params):
        # if training fails, a decision fitted to the network as it was
        # before must not decode the changed network's outputs: drop it until
        # the new one is fitted
        self.__dict__.pop("decision_", None)
        # row weights travel with the targets (one more column)
        y_train = y_enc if sample_weight is None else pack(y_enc, sample_weight)
        # skorch's loop cuts the data into its split (get_split_datasets) and
        # keeps the parts on the record, which the decision then reads
        data = SplitRecord(self.get_dataset(X, y_train))
        with read_only_arrays_ok():
            NeuralNet.partial_fit(
                self, data, y_train, _routing_method=routing_method, **fit_params
            )
            # with a validation part, on the network's training part only:
            # the validation part then scores it honestly for 'auto'
            positions = _training_positions(data)
            self._fit_input_head(X, y_enc, sample_weight, positions)
        decision = self._fit_decision(decoder, *data.split, y_enc, sample_weight)
        held_out = None  # label_proba='auto''s candidates on held-out rows
        if routing_method == "fit" and self.calibration_cv and decision is not None:
            folds = self._cross_fitted_folds(X, y_enc, sample_weight)
            decision.recalibrate([(fold, part) for fold, part, _ in folds])
            held_out = [sources for _, _, sources in folds]
        elif self.label_proba == "auto" and self.multilabel_ and positions is not None:
            held_out = [self._held_out_sources(decision, data.split[1])]
        self.label_proba_ = self._chosen_label_proba(held_out)
        if self.label_proba == "auto" and self.label_proba_ not in INPUT_HEAD_SOURCES:
            # not chosen: dropped, so that a loading estimator builds the
            # network from label_proba_ alone (_builds_input_head), whatever
            # its training parameters (a train_split, calibration_cv)
            self._network().input_head = None
        self.decoder_key_ = self._decoder_key()
        self.decision_ = decision

    def get_split_datasets(self, X, y=None, **fit_params):
        """Skorch's split, stratified on the targets without their row weights.

        Given the :class:`~sknc._inputs.SplitRecord` that ``fit`` hands to
        skorch's loop, the parts are also kept on it for the decision.
        """
        record = X if isinstance(X, SplitRecord) else None
        dataset = record.dataset if record is not None else self.get_dataset(X, y)
        train_split = self._effective_train_split()
        if not train_split:
            datasets = dataset, None
        elif y is None:
            datasets = train_split(dataset, **fit_params)
        else:
            targets, _ = unpack(y, self.multilabel_, self._n_head_outputs)
            datasets = train_split(dataset, targets, **fit_params)
        if record is not None:
            record.split = datasets
        return datasets

    # -------------------------------------------------------------- decision
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

    def _fit_decision(self, decoder, train, valid, y_enc, sample_weight):
        """Fit the decision on the network's outputs (None in multi-class mode).

        ``train`` and ``valid`` are the split's datasets, holding their
        targets. With a validation part, the decoder's prototypes (or
        neighbours) come from the training part, and its calibration and the
        thresholds from the validation part, which the network did not train
        on. Without one, one streamed pass over the training data (``train``,
        all the rows ``y_enc`` labels) fits it. Rows of zero weight are left
        out.
        """
        if not self.multilabel_:
            return None
        decision = Decision(decoder, self.n_outputs_)
        if valid is not None and len(valid):
            return decision.fit(
                self._labelled_outputs(train),
                calibration=self._labelled_outputs(valid),
            )
        if len(train) != len(y_enc):  # a split with an empty validation part
            y_enc, sample_weight = unpack(
                _targets_of(train), self.multilabel_, self._n_head_outputs
            )
        return decision.fit(self._iter_labelled_outputs(train, y_enc, sample_weight))

    def _cross_fitted_folds(self, X, y_enc, sample_weight):
        """Decisions of ``calibration_cv`` networks, each with its held-out fold.

        Each network trains on all folds but one; its decision is fitted on
        its training part and calibrated on its held-out fold, whose outputs
        it did not train on. Returns ``(decision, held-out outputs, sources)``
        per fold: ``sources`` are ``label_proba='auto'``'s candidates on the
        fold (:meth:`_held_out_sources`), or None when it has no choice.
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
        result = []
        # the folds feed the decoder's calibration, and label_proba='auto''s
        # choice: per-label heads only for that (they never change a network)
        choose = self._fits_input_head() and self.label_proba == "auto"
        for train, held in folds.split(np.zeros((len(Y), 1)), Y):
            inner = clone(self).set_params(
                calibration_cv=None,
                warm_start=False,
                verbose=0,
                label_proba="wide" if choose else "decoder",
            )
            weight = None if sample_weight is None else sample_weight[train]
            X_train, X_held = _safe_indexing(X, train), _safe_indexing(X, held)
            inner.fit(X_train, Y[train], sample_weight=weight)
            held_part = inner._outputs_with_targets(X_held, Y[held])
            decision = Decision(inner._make_decoder(), K).fit(
                inner._outputs_with_targets(X_train, Y[train], weight),
                calibration=held_part,
            )
            sources = None
            if choose:
                held_set = inner.get_dataset(inner._validate_X(X_held, reset=False))
                sources = inner._held_out_sources(decision, held_set, held_part)
            result.append((decision, held_part, sources))
        return result

    def _outputs_with_targets(self, X, Y, weight=None):
        """``(logits, features, targets)`` of rows ``X`` with labels ``Y``."""
        dataset = self.get_dataset(self._validate_X(X, reset=False))
        y = self._add_background_column(Y)
        batches = self._iter_labelled_outputs(dataset, y, weight)
        return tuple(torch.cat(t) for t in zip(*batches, strict=True))

    def fit_decoder(self, X, y, sample_weight=None):
        """Refit only the decoder (and the objective thresholds); keep the network.

        The decoder is fitted as at the end of :meth:`fit` (on the training
        part of ``train_split`` or of early stopping's validation split,
        calibrated on its validation part, when there is one). Use it after
        changing ``decoder`` or ``decoder__<name>`` on a fitted estimator, or
        to fit the decoder on other data than the network (for example more
        labelled rows). The network's parameters are not touched, nor are
        the per-label models and ``label_proba='auto'``'s choice
        (``label_proba_``), which :meth:`fit` makes.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Data to fit the decoder on, or a ``torch.utils.data.Dataset``.
        y : array-like of shape (n_samples, n_labels)
            Their 0/1 label indicator, with the labels of the first fit.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights, as in :meth:`fit`: rows of weight 0 are left out of
            the decoder's fit (what ``fit`` with these weights does).

        Returns
        -------
        self : estimator
            The estimator with a new decoder.
        """
        check_is_fitted(self, "module_")
        decoder = self._check_params()
        X = self._validate_X(X, reset=False)
        n_samples = n_rows(X)
        y_enc, classes, multilabel = encode_targets(y, n_samples)
        if not (multilabel and self.multilabel_ and len(classes) == self.n_outputs_):
            raise ValueError(
                "fit_decoder needs a 0/1 label indicator with the "
                f"{getattr(self, 'n_outputs_', '?')} labels of the fitted "
                "multi-label model; a multi-class model has no decoder."
            )
        sample_weight = check_sample_weight(sample_weight, len(y_enc))
        y_enc = self._add_background_column(y_enc)
        y_train = y_enc if sample_weight is None else pack(y_enc, sample_weight)
        with self._device_context():
            if self._effective_train_split() is not None:
                # the split fit would make: prototypes and calibration apart
                train, valid = self.get_split_datasets(X, y_train)
            else:
                train, valid = self.get_dataset(X, y_train), None
            self.decision_ = self._fit_decision(
                decoder, train, valid, y_enc, sample_weight
            )
        self.decoder_key_ = self._decoder_key()
        return self

    def _fitted_decision(self):
        """Return the fitted decision, refusing one fitted for other parameters."""
        # decision_ is set last (None in multi-class mode): a fit that raised
        # leaves the estimator unfitted
        check_is_fitted(self, "decision_")
        if self.multilabel_ and self.decoder_key_ != self._decoder_key():
            raise ValueError(
                "The decoder parameters changed since the decoder was fitted "
                f"(now decoder={self.decoder!r} with "
                f"{self.get_params_for('decoder') or 'its defaults'}). Call "
                "fit_decoder(X, y) to refit the decoder with the network "
                "unchanged, or fit(X, y) to retrain."
            )
        return self.decision_

    @property
    def decoder_(self):
        """The fitted decoder (None in multi-class mode)."""
        decision = self.decision_
        return None if decision is None else decision.decoder_

    @property
    def thresholds_(self):
        """The objectives' per-label thresholds (None in multi-class mode)."""
        decision = self.decision_
        return None if decision is None else decision.thresholds_

    def set_params(self, **kwargs):
        """Set parameters; the decoder's, objective and label_proba need no retraining.

        skorch would re-initialise the network for any prefixed parameter of
        an initialised net; ``decoder``, ``decoder__<name>``, ``objective``
        and ``label_proba`` do not need that. A new ``decoder`` drops the
        ``decoder__<name>`` parameters the new decoder does not have, with a
        warning. A fitted estimator must then refit its decoder
        (:meth:`fit_decoder`) before it predicts again; a new ``objective``
        or ``label_proba`` applies at once (``label_proba`` other than
        ``'decoder'`` needs a network trained with the per-label head).

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
            if k in ("decoder", "objective", "label_proba") or k.startswith("decoder__")
        }
        for key, value in own.items():
            setattr(self, key, value)
            if key.startswith("decoder__"):  # skorch checks prefixed names
                self._params_to_validate.add(key)
        if "decoder" in own:
            self._drop_stale_decoder_params(set(own))
        rest = {k: v for k, v in kwargs.items() if k not in own}
        if "callbacks" in rest and not self.initialized_:
            # skorch would build the callbacks at once, and fail on a value
            # that fit's validation reports properly
            self.callbacks = rest.pop("callbacks")
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
            warn(
                f"{key} does not apply to decoder={self.decoder!r} and is dropped.",
                UserWarning,
            )
            delattr(self, key)
            self._params_to_validate.discard(key)

    # ------------------------------------------------------------ prediction
    def get_dataset(self, X, y=None):
        """Skorch's dataset of ``X``; a torch Dataset gets the targets ``y``."""
        if isinstance(X, LabelledDataset):
            return X if y is None else X.with_targets(y)
        return super().get_dataset(X, y)

    def _batch_size(self, training=False):
        """Return the iterator's batch size; None means the whole data set."""
        prefix = "iterator_train" if training else "iterator_valid"
        size = self.get_params_for(prefix).get("batch_size", self.batch_size)
        return None if size in (-1, None) else size

    def infer(self, x, **fit_params):
        """Skorch's ``infer``; in eval mode, pad a short batch to the batch size.

        With the padding a sample's outputs do not depend on which other
        samples are predicted with it (float32 matrix products round
        differently for different shapes).
        """
        if not torch.is_tensor(x):
            return super().infer(x, **fit_params)
        dtype = getattr(torch, self.dtype)
        if x.is_floating_point() and x.dtype != dtype:  # a Dataset's items
            x = x.to(dtype)
        if self.device is None:  # placed by someone else (e.g. accelerate)
            param = next(iter(self.module_.parameters()), None)
            x = x if param is None else x.to(param.device, non_blocking=True)
        size, rows = self._batch_size(), x.shape[0]
        if self.module_.training or size is None or rows >= size:
            return super().infer(x, **fit_params)
        padding = x.new_zeros((size - rows,) + x.shape[1:])
        logits, features = super().infer(torch.cat([x, padding]), **fit_params)
        return logits[:rows], features[:rows]

    def _iter_outputs(self, dataset):
        """``(logits, features)`` of a dataset, one batch at a time, in order.

        The one inference path, for arrays and torch Datasets alike, as
        skorch's ``forward_iter``: ``get_iterator``, then ``evaluation_step``
        (which a data-parallel mixin overrides to gather the processes'
        shards). Only one batch is read at a time (a memmap stays on disk).
        """
        with self._device_context(), read_only_arrays_ok():
            for batch in self.get_iterator(dataset, training=False):
                logits, features = self.evaluation_step(batch, training=False)
                if logits.ndim == 3:  # an ensemble's members
                    logits, features = EnsembleNet.combine(logits, features)
                yield logits, features

    def _outputs(self, dataset):
        """``(logits, features)`` of a whole dataset, in eval mode."""
        logits, features = zip(*self._iter_outputs(dataset), strict=True)
        return torch.cat(logits), torch.cat(features)

    def _iter_labelled_outputs(self, dataset, y, weight=None):
        """``(logits, features, targets)`` batches of a dataset with targets ``y``.

        Rows of zero ``weight`` are left out.
        """
        start = 0
        for z, h in self._iter_outputs(dataset):
            rows = slice(start, start + len(z))
            start += len(z)
            Y = torch.as_tensor(y[rows], device=z.device)
            if weight is not None:
                keep = torch.as_tensor(weight[rows] > 0, device=z.device)
                z, h, Y = z[keep], h[keep], Y[keep]
            yield z, h, Y

    def _labelled_outputs(self, dataset):
        """``(logits, features, targets)`` of a dataset that holds its targets."""
        y, weight = unpack(_targets_of(dataset), self.multilabel_, self._n_head_outputs)
        batches = self._iter_labelled_outputs(dataset, y, weight)
        logits, features, Y = zip(*batches, strict=True)
        return torch.cat(logits), torch.cat(features), torch.cat(Y)

    def _predict_outputs(self, X):
        # decision_ is set last (None in multi-class mode): a fit that raised
        # leaves the estimator unfitted
        check_is_fitted(self, "decision_")
        return self._outputs(self._predict_dataset(X))

    def _predict_dataset(self, X):
        return self.get_dataset(self._validate_X(X, reset=False))

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
        decision = self._fitted_decision()
        # objective takes effect without refitting: a value set after fit is
        # checked here, where it is used
        self._check_predict_params()
        dataset = self._predict_dataset(X)
        logits, features = self._outputs(dataset)
        if decision is None:
            return self.classes_[logits.argmax(dim=1).cpu().numpy()]
        proba = None
        if self.objective == "hamming":
            proba = self._label_proba(decision, logits, features, dataset)
        pred = decision.predict(logits, features, self.objective, proba)
        return pred.cpu().numpy().astype(self.target_dtype_)

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
        decision = self._fitted_decision()
        self._check_predict_params()  # label_proba may change after fit
        dataset = self._predict_dataset(X)
        logits, features = self._outputs(dataset)
        if decision is None:
            proba = torch.softmax(logits.double(), dim=1)
        else:
            proba = self._label_proba(decision, logits, features, dataset)
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
        decision = self._fitted_decision()
        if decision is None:
            raise ValueError(
                "predict_set_proba needs a multi-label model (fitted on a 2-D "
                "label indicator); a multi-class model's predict_proba already "
                "gives the probability of each class."
            )
        if not isinstance(top, (int, np.integer)) or isinstance(top, bool) or top < 1:
            raise ValueError(f"top must be a positive integer; got {top!r}.")
        logits, features = self._predict_outputs(X)
        dist = decision.predict_set_proba(logits, features, int(top))
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


@Substitution(
    params=estimator_params(
        PAL_FEATURE_DIM, PAL_FEATURE_NORM, PAL_FEATURE_DECAY, PAL_LOSS
    ),
    attributes=SHARED_ATTRIBUTES,
)
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
        self,
        module=None,
        *args,
        feature_dim=None,
        feature_norm="learned",
        loss="pal_ls",
        **kwargs,
    ):
        super().__init__(
            module,
            *args,
            feature_dim=feature_dim,
            feature_norm=feature_norm,
            loss=loss,
            **kwargs,
        )

    def _resolved_feature_dim(self):
        return 256 if self.feature_dim is None else self.feature_dim

    def _make_head(self, feature_dim, n_outputs, seed):
        # normalized features use the rows' directions only: no bias
        return LinearHead(feature_dim, n_outputs, bias=self.feature_norm is None)


@Substitution(
    params=estimator_params(
        ETF_FEATURE_DIM, ETF_FEATURE_NORM, ETF_FEATURE_DECAY, ETF_LOSS
    ),
    attributes=SHARED_ATTRIBUTES,
)
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
        default by measurement: it needs no tuning, while the best fixed
        scale differs between data sets, so a fixed scale is worth a grid
        search (see the benchmark report in the documentation). Not used
        with ``feature_norm``, whose temperature is the scale.

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
        self,
        module=None,
        *args,
        feature_dim=None,
        feature_decay="auto",
        etf_scale="learned",
        **kwargs,
    ):
        super().__init__(
            module,
            *args,
            feature_dim=feature_dim,
            feature_decay=feature_decay,
            **kwargs,
        )
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


for _estimator in (PALClassifier, FixedETFClassifier):
    _estimator.__signature__ = _signature(_estimator)
