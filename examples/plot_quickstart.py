"""
==========================================
Quick start: multi-label digits with sknc
==========================================

Fit the two sknc estimators on the built-in multi-label digits: a
:class:`~sknc.FixedETFClassifier`, whose last layer is fixed to a simplex
equiangular tight frame, and a :class:`~sknc.PALClassifier`, whose last layer
is learned. Both are trained with the pick-all-label (PAL) loss, predict a
0/1 label indicator, and are compared on micro-F1, subset accuracy and number
of trainable parameters.
"""

# %%
# Multi-label data
# ----------------
#
# Each sample of :func:`~sknc.datasets.make_multilabel_digits` is a 20x20
# canvas showing one or two of scikit-learn's 8x8 digits, each in its own
# corner; its labels are the digits it shows. ``Y`` is an ``(n, 10)`` 0/1
# indicator matrix. ``max_shift=0`` puts every digit flush in its corner,
# which keeps the problem easy enough for a small MLP trained for a few
# epochs.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from sknc import FixedETFClassifier, PALClassifier
from sknc.datasets import make_multilabel_digits
from sknc.model_selection import multilabel_train_test_split

X, Y = make_multilabel_digits({1: 500, 2: 500}, max_shift=0, random_state=0)
print(f"X: {X.shape}, Y: {Y.shape}")
print("samples with 1 and 2 labels:", np.bincount(Y.sum(axis=1))[1:])

# %%
# A stratified train/test split
# -----------------------------
#
# :func:`~sknc.model_selection.multilabel_train_test_split` keeps the
# proportion of positive samples of every label about the same in both parts.
X_train, X_test, Y_train, Y_test = multilabel_train_test_split(
    X, Y, test_size=0.25, random_state=0, stratify=Y
)
print(f"train: {len(X_train)} samples, test: {len(X_test)} samples")

# %%
# Fit a fixed-ETF and a learned-head classifier
# ---------------------------------------------
#
# Both estimators use the same default backbone, an MLP with one hidden layer
# of 512 units. :class:`~sknc.FixedETFClassifier` maps it to ``feature_dim``
# features, by default as many as there are labels (10), and fixes the head;
# :class:`~sknc.PALClassifier` maps it to 256 features and learns a linear
# head on top. ``random_state`` makes each fit repeatable.
models = {
    "FixedETFClassifier": FixedETFClassifier(max_epochs=15, random_state=0),
    "PALClassifier": PALClassifier(max_epochs=15, random_state=0),
}
print(f"{'model':<20} {'micro-F1':>8} {'subset acc.':>11} {'parameters':>10}")
for name, model in models.items():
    model.fit(X_train, Y_train)
    Y_pred = model.predict(X_test)
    print(
        f"{name:<20} {f1_score(Y_test, Y_pred, average='micro'):8.3f} "
        f"{accuracy_score(Y_test, Y_pred):11.3f} {model.n_trainable_params_:10d}"
    )

# %%
# The fixed head has no weights to learn and the smaller feature dimension
# shrinks the last backbone layer, so :class:`~sknc.FixedETFClassifier` has
# far fewer trainable parameters for a similar score. Subset accuracy counts
# a sample as correct only when its whole label set is predicted exactly.

# %%
# Per-label probabilities
# -----------------------
#
# In multi-label mode, ``predict_proba`` returns one probability per label
# (rows do not sum to 1). ``predict`` returns the label set whose nearest
# training samples in feature space are closest (the default ``'knn'``
# decoder), and each probability is the label's share of the 30 nearest
# training samples, smoothed so that it is never exactly 0 or 1.
clf = models["FixedETFClassifier"]
proba = clf.predict_proba(X_test[:3])
pred = clf.predict(X_test[:3])
with np.printoptions(precision=2, suppress=True):
    for i in range(3):
        print(
            f"sample {i}: true labels {np.flatnonzero(Y_test[i]).tolist()}, "
            f"predicted {np.flatnonzero(pred[i]).tolist()}"
        )
        print(f"  predict_proba: {proba[i]}")

# %%
# Predictions on test images
# --------------------------
#
# The first twelve test canvases with their true digits and the digits the
# fixed-ETF model predicts (in red when the predicted set is wrong).
images, truth, pred = X_test[:12], Y_test[:12], clf.predict(X_test[:12])
fig, axes = plt.subplots(2, 6, figsize=(8, 3.4))
for ax, image, true, predicted in zip(axes.ravel(), images, truth, pred, strict=True):
    ax.imshow(image.reshape(20, 20), cmap="gray_r")
    ax.set_xticks([])
    ax.set_yticks([])
    ok = np.array_equal(true, predicted)
    ax.set_title(
        f"true {np.flatnonzero(true).tolist()}\n"
        f"pred. {np.flatnonzero(predicted).tolist()}",
        fontsize=9,
        color="k" if ok else "tab:red",
    )
fig.tight_layout()
plt.show()
