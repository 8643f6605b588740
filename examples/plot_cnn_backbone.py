"""
===============================
A custom CNN backbone on images
===============================

Any :class:`torch.nn.Module` that maps a batch of samples to features can be
the backbone of :class:`~sknc.PALClassifier` and
:class:`~sknc.FixedETFClassifier`: pass it as ``module=`` and its arguments
as ``module__<name>``, and the estimator puts its head on top. Here a small
convolutional network reads the 20x20 multi-label digits as images and is
compared with the default MLP backbone, on the scores and on the number of
trainable parameters.
"""

# %%
# Digits that move
# ----------------
#
# :func:`~sknc.datasets.make_multilabel_digits` draws one or two 8x8 digits
# in the corners of a 20x20 canvas. With the default ``max_shift=2`` each
# digit is shifted by up to two pixels inside its corner, so the same digit
# lights up different pixels from one sample to the next: a fully connected
# network must learn every position separately, while a convolution shares
# its filters across positions.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import accuracy_score, f1_score
from torch import nn

from sknc import FixedETFClassifier, PALClassifier
from sknc.datasets import make_multilabel_digits
from sknc.model_selection import multilabel_train_test_split

X, Y = make_multilabel_digits({1: 500, 2: 500}, random_state=0)
X_train, X_test, Y_train, Y_test = multilabel_train_test_split(
    X, Y, test_size=0.25, random_state=0, stratify=Y
)
print(f"X: {X.shape} (flat 20x20 images), Y: {Y.shape}")

# %%
# The backbone
# ------------
#
# The estimators hand the module a float32 batch of **flat** samples,
# ``(N, 400)``; the module reshapes it to ``(N, 1, 20, 20)`` images and must
# return ``(N, d)`` features. The estimator finds ``d`` with a dry forward
# pass, so ``feature_dim`` is left at its default, None.
#
# Two small convolution blocks, then the maximum of each filter's response
# over the whole image (wherever the digit is), then a linear layer to
# ``feature_dim`` features. For the fixed ETF head, ``feature_dim`` can be as
# small as the number of labels (10).


class DigitsCNN(nn.Module):
    """Two conv blocks on a ``side`` x ``side`` image, then ``feature_dim`` features."""

    def __init__(self, side=20, channels=(12, 24), feature_dim=10):
        super().__init__()
        self.side = side
        c1, c2 = channels
        self.conv = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1),
            nn.BatchNorm2d(c1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1),
            nn.BatchNorm2d(c2),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.fc = nn.Linear(c2, feature_dim)

    def forward(self, X):
        X = X.view(-1, 1, self.side, self.side)  # (N, 400) -> (N, 1, 20, 20)
        H = self.conv(X).amax(dim=(2, 3))  # strongest response of each filter
        return self.fc(H)  # (N, feature_dim)


# %%
# Four models
# -----------
#
# Each estimator with its default MLP backbone (one hidden layer of 512
# units) and with the CNN. The learned head of :class:`~sknc.PALClassifier`
# gets 64 CNN features; the fixed ETF head gets 10. Every model trains for
# 15 epochs with the same learning rate, and ``random_state`` makes each fit
# repeatable.
common = {"max_epochs": 15, "lr": 1e-2, "random_state": 0}
models = {
    "PALClassifier, MLP": PALClassifier(**common),
    "PALClassifier, CNN": PALClassifier(
        module=DigitsCNN, module__feature_dim=64, **common
    ),
    "FixedETFClassifier, MLP": FixedETFClassifier(**common),
    "FixedETFClassifier, CNN": FixedETFClassifier(
        module=DigitsCNN, module__feature_dim=10, **common
    ),
}
results = {}
print(f"{'model':<24} {'micro-F1':>8} {'subset acc.':>11} {'parameters':>10}")
for name, model in models.items():
    model.fit(X_train, Y_train)
    Y_pred = model.predict(X_test)
    results[name] = (
        f1_score(Y_test, Y_pred, average="micro"),
        accuracy_score(Y_test, Y_pred),
        model.n_trainable_params_,
    )
    print(
        f"{name:<24} {results[name][0]:8.3f} {results[name][1]:11.3f} "
        f"{results[name][2]:10d}"
    )

# %%
# Scores against size
# -------------------
#
# Each dot is one model: its subset accuracy on the test set against its
# number of trainable parameters (log scale). The CNNs have a few thousand
# parameters, the MLPs hundreds of thousands, and yet the CNNs read the
# shifted digits far better: a filter that recognises a stroke recognises it
# anywhere. With the fixed ETF head the CNN is smaller still, as the head has
# no weights and the backbone's last layer has only 10 outputs.
fig, ax = plt.subplots(figsize=(7, 4))
for name, (_, subset, n_params) in results.items():
    marker = "o" if "MLP" in name else "s"
    color = "tab:blue" if name.startswith("Fixed") else "tab:orange"
    ax.scatter(n_params, subset, s=80, marker=marker, color=color)
    left = n_params > 1e5  # label the points on the right to their left
    ax.annotate(
        name,
        (n_params, subset),
        xytext=(-10 if left else 10, 0),
        textcoords="offset points",
        ha="right" if left else "left",
        va="center",
    )
ax.set_xscale("log")
ax.set_xlim(1e3, 1e6)
ax.set(
    xlabel="trainable parameters",
    ylabel="subset accuracy (test)",
    title="CNN and MLP backbones on shifted multi-label digits",
    ylim=(0, 1),
)
ax.grid(alpha=0.3)
fig.tight_layout()

# %%
# The fitted network, ``module_``, wraps the backbone: ``module_.backbone``
# is the trained ``DigitsCNN`` and ``module_.head`` the head on top.
cnn = models["FixedETFClassifier, CNN"]
print(type(cnn.module_.backbone).__name__, "->", type(cnn.module_.head).__name__)
print("features of two test images:", cnn.transform(X_test[:2]).shape)
for i, proba in enumerate(cnn.predict_proba(X_test[:2])):
    with np.printoptions(precision=2, suppress=True):
        print(f"image {i}, digits {np.flatnonzero(Y_test[i]).tolist()}: {proba}")
plt.show()
