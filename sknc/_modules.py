"""PyTorch modules: the default MLP backbone, the two heads and the net."""

import math

import torch
from torch import nn

from ._etf import simplex_etf

__all__ = [
    "EnsembleNet",
    "InputScaler",
    "MLPBackbone",
    "LinearHead",
    "FixedETFHead",
    "PALNet",
]

_ACTIVATIONS = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
    "identity": nn.Identity,
}


class _BatchNorm1d(nn.BatchNorm1d):
    """Batch normalization that also accepts a training batch of one sample.

    Batch statistics of a single sample are undefined (torch raises); such a
    batch (the last one of an epoch, or a one-row data set) is normalised with
    the running statistics instead, as in evaluation.
    """

    def forward(self, x):
        """Normalise ``x``; a one-sample training batch uses running statistics."""
        if self.training and x.shape[0] == 1:
            return nn.functional.batch_norm(
                x,
                self.running_mean,
                self.running_var,
                self.weight,
                self.bias,
                training=False,
                eps=self.eps,
            )
        return super().forward(x)


class MLPBackbone(nn.Module):
    """A multi-layer perceptron mapping inputs to ``feature_dim`` features.

    Each hidden layer is ``Linear -> [BatchNorm1d] -> activation ->
    [Dropout]``. The last layer is a plain ``Linear`` to ``feature_dim``:
    the features are left unconstrained (no activation), as in the
    unconstrained-feature model of neural-collapse theory, so that a small
    ``feature_dim`` (down to ``K - 1``) keeps its full rank.

    Parameters
    ----------
    n_features : int
        Number of input features.
    feature_dim : int
        Dimension of the output features.
    hidden_layer_sizes : tuple of int, default=(512,)
        Sizes of the hidden layers; ``()`` makes the backbone linear.
    activation : {'relu', 'gelu', 'tanh', 'logistic', 'identity'}, default='relu'
        Activation of the hidden layers.
    dropout : float, default=0.0
        Dropout probability after each hidden activation.
    batch_norm : bool, default=True
        Whether to put a batch normalization after each hidden linear layer.
        A training batch of a single sample is normalised with the running
        statistics (batch statistics of one sample are undefined).
    """

    def __init__(
        self,
        n_features,
        feature_dim,
        hidden_layer_sizes=(512,),
        activation="relu",
        dropout=0.0,
        batch_norm=True,
    ):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(_ACTIVATIONS)}; got {activation!r}."
            )
        layers = []
        width = n_features
        for size in hidden_layer_sizes:
            layers.append(nn.Linear(width, size))
            if batch_norm:
                layers.append(_BatchNorm1d(size))
            layers.append(_ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, feature_dim))
        self.layers = nn.Sequential(*layers)

    def forward(self, X):
        """Map a batch ``(N, n_features)`` to features ``(N, feature_dim)``."""
        return self.layers(X)


class LinearHead(nn.Module):
    """A learned linear classifier ``z = W h + b``.

    Parameters
    ----------
    feature_dim : int
        Input feature dimension ``d``.
    n_outputs : int
        Number of labels (or classes) ``K``.
    bias : bool, default=True
        Whether to learn a bias.
    """

    def __init__(self, feature_dim, n_outputs, bias=True):
        super().__init__()
        self.linear = nn.Linear(feature_dim, n_outputs, bias=bias)

    @property
    def weight(self):
        """The ``(K, d)`` classifier matrix."""
        return self.linear.weight

    def forward(self, h):
        """Return the logits ``(N, K)`` of features ``(N, d)``."""
        return self.linear(h)


class FixedETFHead(nn.Module):
    """A classifier fixed to a simplex ETF, ``z = s * M h``.

    ``M`` (``K x d``, unit rows, pairwise cosine ``-1/(K-1)``) is a buffer:
    it is saved with the module and moves with it across devices, but it is
    not a parameter and is never trained. Only the scalar scale ``s`` may be
    learned.

    Parameters
    ----------
    feature_dim : int
        Input feature dimension ``d``; at least ``K - 1``.
    n_outputs : int
        Number of labels (or classes) ``K``; at least 2.
    scale : float or 'learned', default='learned'
        The logit scale ``s``. ``'learned'`` makes it one trainable scalar,
        initialised to 1.
    random_state : int, RandomState instance or None, default=None
        Seeds the rotation of the frame (see :func:`sknc.simplex_etf`).
    """

    def __init__(self, feature_dim, n_outputs, scale="learned", random_state=None):
        super().__init__()
        etf = simplex_etf(n_outputs, feature_dim, random_state=random_state)
        self.register_buffer("etf", torch.as_tensor(etf, dtype=torch.float32))
        if scale == "learned":
            self.log_scale = nn.Parameter(torch.zeros(()))
        else:
            self.register_buffer("log_scale", torch.tensor(math.log(float(scale))))

    @property
    def weight(self):
        """The effective ``(K, d)`` classifier matrix ``s * M``."""
        return self.log_scale.exp() * self.etf

    def forward(self, h):
        """Return the logits ``(N, K)`` of features ``(N, d)``."""
        return self.log_scale.exp() * nn.functional.linear(h, self.etf)


class NormalizedHead(nn.Module):
    """A head with unit-norm rows and a temperature: ``z = W~ h / tau``.

    Wraps another head (``LinearHead`` or ``FixedETFHead``) and uses only
    the directions of its rows ``W~ = W / ||W||`` (row-wise), so that with
    unit-norm features every logit is a cosine divided by the temperature.
    The wrapped head's bias and scale are not used.

    Parameters
    ----------
    head : torch.nn.Module
        Exposes the ``(K, d)`` classifier matrix as ``head.weight``.
    temperature : float or 'learned', default='learned'
        ``tau``: a fixed positive number, or one learned scalar initialised
        to :attr:`INITIAL_TEMPERATURE`. Cosines lie in [-1, 1], so a small
        temperature is what lets the softmax become confident.
    """

    #: the start of a learned temperature: logits up to +-10
    INITIAL_TEMPERATURE = 0.1

    def __init__(self, head, temperature="learned"):
        super().__init__()
        self.head = head
        if temperature == "learned":
            log_scale = torch.tensor(-math.log(self.INITIAL_TEMPERATURE))
            self.log_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer("log_scale", torch.tensor(-math.log(temperature)))

    @property
    def temperature(self):
        """The temperature ``tau`` as a float."""
        return float(torch.exp(-self.log_scale.detach()))

    @property
    def weight(self):
        """The effective ``(K, d)`` classifier matrix ``W~ / tau``."""
        return self.log_scale.exp() * nn.functional.normalize(self.head.weight, dim=1)

    def forward(self, h):
        """Return the logits ``(N, K)`` of (unit-norm) features ``(N, d)``."""
        return nn.functional.linear(h, self.weight)


class LabelHead(nn.Module):
    """A per-label logistic head: a linear map of the features.

    The weights start at zero and the biases at the labels' prior log-odds
    (:meth:`set_prior`): the head starts from the label frequencies, draws
    no random number, and learns at the optimizer's pace, which on small
    data sets keeps it from the over-confidence of the training rows.

    Parameters
    ----------
    feature_dim : int
        The features' dimension ``d``.
    n_labels : int
        The labels ``K``.
    """

    def __init__(self, feature_dim, n_labels):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_labels, feature_dim))
        self.bias = nn.Parameter(torch.zeros(n_labels))

    def set_prior(self, log_odds):
        """Start the biases at the labels' prior ``log_odds`` (see prior_log_odds)."""
        with torch.no_grad():
            self.bias.copy_(torch.as_tensor(log_odds, dtype=self.bias.dtype))

    def forward(self, h):
        """Return the ``(N, K)`` logits of ``(N, d)`` features."""
        return nn.functional.linear(h, self.weight, self.bias)


def prior_log_odds(Y, weight):
    """Each label's log-odds: its weighted frequency in ``Y``, shrunk by half a row.

    The half row keeps a label that is always or never present off 0 and 1.
    ``Y`` is ``(n, K)``, ``weight`` ``(n,)``, both float tensors.
    """
    frequency = (weight @ Y + 0.5) / (weight.sum() + 1.0)
    return torch.log(frequency) - torch.log1p(-frequency)


def _weighted_quantiles(X, weight, levels):
    """Per-column quantiles of rows repeated ``weight`` times (numpy's linear rule).

    The quantile at level ``q`` of ``n = sum(weight)`` repeated rows sits at
    position ``q (n - 1)`` of their sorted values, between two of them.
    """
    values, order = torch.sort(X, dim=0)
    counts = torch.cumsum(weight[order], dim=0)  # (n_rows, d): rows up to each
    total = counts[-1]
    out = []
    for q in levels:
        position = q * (total - 1)
        low, high = position.floor(), position.ceil()
        # the sorted row holding repeated position p: the first with count > p
        at_low = torch.searchsorted(counts.T.contiguous(), low[:, None], right=True)
        at_high = torch.searchsorted(counts.T.contiguous(), high[:, None], right=True)
        last = len(values) - 1
        v_low = values.gather(0, at_low.clamp(max=last).T).squeeze(0)
        v_high = values.gather(0, at_high.clamp(max=last).T).squeeze(0)
        out.append(v_low + (position - low).to(values.dtype) * (v_high - v_low))
    return out


class InputScaler(nn.Module):
    """Robust scaling with smooth clipping of the inputs, fitted to training data.

    ``x -> (x - center) / scale``, then ``x / sqrt(1 + (x / clip)^2)``, which
    is close to the identity for ``|x| << clip`` and bends outliers towards
    ``+-clip`` (RealMLP's input treatment: Holzmüller, Grinsztajn and
    Steinwart, NeurIPS 2024). The statistics are buffers: they travel with
    the network's parameters (``save_params(f_params=...)``) and its device.

    Parameters
    ----------
    n_features : int
        Number of input features.
    clip : float, default=3.0
        Where the smooth clipping saturates.
    """

    def __init__(self, n_features, clip=3.0):
        super().__init__()
        self.clip = clip
        self.register_buffer("center", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))

    @torch.no_grad()
    def fit(self, X, weight=None):
        """Set the statistics from rows ``X`` (a 2-D tensor); return self.

        ``center`` is the median; ``scale`` the interquartile range, or half
        the range where that is zero (a binary or mostly constant column),
        or 1 for a constant column. Row weights (``sample_weight``) count
        as repetitions: an integer weight gives the statistics of the
        repeated rows, a zero weight leaves the row out.
        """
        X = X.to(self.center.device, self.center.dtype)
        if weight is None:
            weight = torch.ones(len(X), device=X.device)
        weight = torch.as_tensor(weight, dtype=torch.float64, device=X.device)
        X = X[weight > 0]
        weight = weight[weight > 0]
        q25, median, q75 = _weighted_quantiles(X, weight, (0.25, 0.5, 0.75))
        scale = q75 - q25
        half_range = (X.amax(dim=0) - X.amin(dim=0)) / 2
        scale = torch.where(scale > 0, scale, half_range)
        self.center.copy_(median)
        self.scale.copy_(torch.where(scale > 0, scale, torch.ones_like(scale)))
        return self

    def forward(self, X):
        """Return the scaled and softly clipped batch."""
        X = (X - self.center) / self.scale
        return X / torch.sqrt(1 + (X / self.clip) ** 2)


class PALNet(nn.Module):
    """A backbone followed by a classifier head.

    ``forward`` returns ``(logits, features)`` so that the loss can
    penalise the features and ``transform`` can read them.

    Parameters
    ----------
    backbone : torch.nn.Module
        Maps a batch to ``(N, d)`` features.
    head : torch.nn.Module
        Maps ``(N, d)`` features to ``(N, K)`` logits and exposes the
        ``(K, d)`` classifier matrix as ``head.weight``.
    normalize_features : bool, default=False
        Whether to project the features onto the unit sphere before the
        head (and in what ``forward`` returns).
    input_scaler : InputScaler or None, default=None
        Applied to the batch before the backbone.
    label_head : LabelHead or None, default=None
        A per-label logistic head on the features (``label_proba``): not
        called by ``forward``, so that the decoders see the PAL logits only;
        :meth:`label_logits` applies it.
    """

    def __init__(
        self,
        backbone,
        head,
        normalize_features=False,
        input_scaler=None,
        label_head=None,
    ):
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.normalize_features = normalize_features
        # registered last: the state's first key stays the backbone's first layer
        self.input_scaler = input_scaler
        self.label_head = label_head
        # the per-label model of the inputs (sknc._input_head), set by the
        # estimator after building the network; not called by forward
        self.input_head = None

    def label_logits(self, features):
        """Return the per-label head's ``(N, K)`` logits of ``(N, d)`` features."""
        return self.label_head(features)

    def forward(self, X):
        """Return ``(logits, features)`` for a batch."""
        if self.input_scaler is not None:
            X = self.input_scaler(X)
        features = self.backbone(X)
        if features.ndim != 2:
            raise ValueError(
                "The backbone must return features of shape (N, d); got shape "
                f"{tuple(features.shape)}. Flatten them in its forward."
            )
        if self.normalize_features:
            features = nn.functional.normalize(features, dim=1)
        return self.head(features), features


class _EnsembleHead:
    """The ensemble's head as one linear map of the combined features."""

    def __init__(self, members):
        self.members = members

    @property
    def weight(self):
        """The ``(K, M d)`` matrix that maps combined features to mean logits."""
        weights = [member.head.weight for member in self.members]
        return torch.cat(weights, dim=1) / math.sqrt(len(weights))


class EnsembleNet(nn.Module):
    """Several :class:`PALNet` members trained side by side on the same batches.

    ``forward`` returns every member's outputs, ``(N, M, K)`` logits and
    ``(N, M, d)`` features (batch first, so that data-parallel gathering
    works), so that each member is trained on its own loss.
    :meth:`combine` makes the ensemble's outputs of them: the mean logits,
    and the members' features side by side divided by ``sqrt(M)``, so that
    squared distances (and, for unit-norm features, cosines) between
    combined features are the members' averages, and ``head.weight`` maps
    the combined features to the mean logits (without biases).

    Parameters
    ----------
    members : list of PALNet
        The member networks (independently initialised).
    """

    def __init__(self, members):
        super().__init__()
        self.members = nn.ModuleList(members)
        # one per-label model of the inputs for all members (PALNet's)
        self.input_head = None

    @property
    def head(self):
        """The combined head: ``weight`` is ``[W_1 ... W_M] / sqrt(M)``."""
        return _EnsembleHead(self.members)

    def forward(self, X):
        """Return the members' ``(logits, features)``, stacked on dimension 1."""
        outputs = [member(X) for member in self.members]
        logits = torch.stack([z for z, _ in outputs], dim=1)
        features = torch.stack([h for _, h in outputs], dim=1)
        return logits, features

    @property
    def label_head(self):
        """The members' per-label heads, or None when they have none."""
        heads = [member.label_head for member in self.members]
        return None if heads[0] is None else heads

    def label_logits(self, features):
        """Return per-label logits: each member's of its own features.

        ``(N, M, d)`` features (as ``forward`` returns them) give the
        members' ``(N, M, K)`` logits; the combined ``(N, M d)`` features
        (:meth:`combine`) give the ensemble's ``(N, K)``, the members' mean.
        """
        m = len(self.members)
        if features.ndim == 3:
            parts = features.unbind(dim=1)
        else:  # combined: the members' features side by side, over sqrt(M)
            parts = (features * math.sqrt(m)).chunk(m, dim=1)
        members = zip(self.members, parts, strict=True)
        logits = [member.label_logits(h) for member, h in members]
        stacked = torch.stack(logits, dim=1)
        return stacked if features.ndim == 3 else stacked.mean(dim=1)

    @staticmethod
    def combine(logits, features):
        """Return the ensemble's ``(N, K)`` logits and ``(N, M d)`` features."""
        n, m = features.shape[:2]
        return logits.mean(dim=1), features.reshape(n, -1) / math.sqrt(m)
