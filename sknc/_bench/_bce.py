"""The usual neural multi-label baseline: sknc's backbone, sigmoid outputs, BCE."""

from numbers import Integral

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from .._device import resolve_device
from .._modules import LinearHead, MLPBackbone
from .._targets import check_indicator

__all__ = ["BCENetClassifier"]


class _BCENet(torch.nn.Module):
    """sknc's default backbone followed by a linear layer to the logits."""

    def __init__(self, n_features, n_labels, feature_dim=256):
        super().__init__()
        self.backbone = MLPBackbone(n_features, feature_dim, hidden_layer_sizes=(512,))
        self.head = LinearHead(feature_dim, n_labels)

    def forward(self, X):
        return self.head(self.backbone(X))


class BCENetClassifier(ClassifierMixin, BaseEstimator):
    """The usual neural multi-label baseline: sigmoid outputs and binary CE.

    sknc's default backbone (an MLP with a hidden layer of 512 units, batch
    normalization and 256 features) with a linear head, trained with
    ``BCEWithLogitsLoss`` and the optimizer settings of sknc's defaults
    (AdamW, learning rate 1e-3, weight decay 5e-4, batches of 128); a label
    is predicted when its probability is at least 0.5.

    Parameters
    ----------
    max_epochs : int, default=100
        Training epochs.
    random_state : int, default=0
        Seed of the weights and of the batch order.
    device : str, default='cpu'
        Torch device: ``'cpu'``, ``'cuda'``, ``'cuda:N'``, ``'mps'`` or
        ``'auto'``.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The fitted network; ``predict_proba`` of it returns the logits.
    n_features_in_ : int
        Number of features seen in ``fit``.
    n_trainable_params_ : int
        Trainable parameters of the network.
    """

    _parameter_constraints = {
        "max_epochs": [Interval(Integral, 0, None, closed="left")],
        "random_state": [Integral],
        "device": [str, torch.device],
    }

    def __init__(self, max_epochs=100, random_state=0, device="cpu"):
        self.max_epochs = max_epochs
        self.random_state = random_state
        self.device = device

    def _features(self, X, reset):
        return validate_data(
            self, X, accept_sparse="csr", dtype=np.float32, reset=reset
        )

    def fit(self, X, Y):
        """Train the network.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training features.
        Y : array-like of shape (n_samples, n_labels)
            The 0/1 label indicator.

        Returns
        -------
        self : BCENetClassifier
            The fitted estimator.
        """
        import skorch

        self._validate_params()
        device = resolve_device(self.device)
        X = self._features(X, reset=True)
        Y, _ = check_indicator(Y, "Y", n_samples=X.shape[0], dtype=np.float32)
        torch.manual_seed(self.random_state)
        self.net_ = skorch.NeuralNet(
            _BCENet,
            module__n_features=X.shape[1],
            module__n_labels=Y.shape[1],
            criterion=torch.nn.BCEWithLogitsLoss,
            optimizer=torch.optim.AdamW,
            optimizer__weight_decay=5e-4,
            lr=1e-3,
            max_epochs=self.max_epochs,
            batch_size=128,
            iterator_train__shuffle=True,
            train_split=None,
            predict_nonlinearity=None,
            device=device,
            verbose=0,
        ).fit(X, Y)
        self.n_trainable_params_ = sum(
            p.numel() for p in self.net_.module_.parameters() if p.requires_grad
        )
        return self

    def decision_function(self, X):
        """Return the logits, shape ``(n_samples, n_labels)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Features.

        Returns
        -------
        logits : ndarray of shape (n_samples, n_labels)
            One logit per label.
        """
        check_is_fitted(self, "net_")
        return np.asarray(self.net_.predict_proba(self._features(X, reset=False)))

    def predict_proba(self, X):
        """Return the sigmoid of the logits.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Features.

        Returns
        -------
        P : ndarray of shape (n_samples, n_labels)
            The probability of each label.
        """
        return 1.0 / (1.0 + np.exp(-self.decision_function(X)))

    def predict(self, X):
        """Predict the labels whose probability is at least 0.5.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Features.

        Returns
        -------
        Y : ndarray of shape (n_samples, n_labels), dtype uint8
            The predicted label indicator.
        """
        return (self.decision_function(X) >= 0).astype(np.uint8)
