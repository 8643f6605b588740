"""
========================================
Watching neural collapse during training
========================================

Train a :class:`~sknc.FixedETFClassifier` on multi-label digits while a
:class:`~sknc.callbacks.NeuralCollapseTracker` records the neural-collapse
metrics of :mod:`sknc.metrics` after every other epoch, on the training data
and on a validation split. Then draw the curves with
:func:`~sknc.plotting.plot_nc_history` and the geometry of the learned
features with :func:`~sknc.plotting.plot_feature_geometry`: the means of the
single-digit samples approach the vertices of a simplex, and the mean of
every pair of digits sits on the ray through the midpoint of its two
vertices, scaled by :math:`\\rho_2`.
"""

# %%
# Five digits, alone or in pairs
# ------------------------------
#
# :func:`~sknc.datasets.make_multilabel_digits` draws 20x20 canvases with one
# or two digits. To keep the geometry readable we keep the samples whose
# digits are all in 0-4: five labels, so five vertices and ten pairs. Within
# each multiplicity every label set is equally frequent, as the theory of
# multi-label neural collapse assumes.
import matplotlib.pyplot as plt
import numpy as np
from skorch.dataset import Dataset
from skorch.helper import predefined_split

from sknc import FixedETFClassifier
from sknc.callbacks import NeuralCollapseTracker
from sknc.datasets import make_multilabel_digits
from sknc.metrics import neural_collapse_report
from sknc.model_selection import multilabel_train_test_split
from sknc.plotting import plot_feature_geometry, plot_nc_history

X, Y = make_multilabel_digits({1: 800, 2: 1500}, max_shift=0, random_state=0)
keep = Y[:, 5:].sum(axis=1) == 0
X, Y = X[keep], Y[keep, :5]
print(
    f"{len(X)} samples, {Y.shape[1]} labels; per multiplicity:",
    np.bincount(Y.sum(1))[1:],
)
X_train, X_test, Y_train, Y_test = multilabel_train_test_split(
    X, Y, test_size=0.25, random_state=0, stratify=Y
)

# %%
# Train with the tracker
# ----------------------
#
# The tracker runs one evaluation-mode pass over the training data after
# every ``every``-th epoch and records ``train_nc1``, ``train_nc3``, ... in
# the net's ``history``. With ``on_valid=True`` it also measures the net's
# validation data (``valid_*`` keys); here skorch's ``predefined_split``
# makes the test set the validation data, so the training set is used whole
# and the ``valid_*`` curves show the test set. (Any ``train_split`` works,
# e.g. :class:`~sknc.model_selection.MultilabelStratifiedValidSplit`.)
#
# The head of a :class:`~sknc.FixedETFClassifier` is a fixed simplex ETF, so
# its NC2 is 0 from the start: the interesting curves are those of the
# features. A fairly strong feature decay (``feature_decay=1e-2``) speeds up
# the collapse of this small network.
tracker = NeuralCollapseTracker(
    every=2,
    metrics=("nc1", "nc2", "nc2_means", "nc3", "ncm", "rho"),
    on_valid=True,
    random_state=0,
)
clf = FixedETFClassifier(
    hidden_layer_sizes=(256,),
    lr=3e-3,
    feature_decay=1e-2,
    max_epochs=150,
    train_split=predefined_split(Dataset(X_test, Y_test.astype(np.float32))),
    callbacks=[tracker],
    random_state=0,
)
clf.fit(X_train, Y_train)

keys = ["train_nc1", "valid_nc1", "train_nc2_means", "train_nc3", "train_ncm"]
print(f"{'epoch':>5} " + " ".join(f"{k:>15}" for k in keys) + f" {'train_rho_2':>12}")
for row in clf.history:
    if "train_nc1" in row and row["epoch"] in (2, 10, 30, 70, 150):
        values = " ".join(f"{row[k]:15.3f}" for k in keys)
        print(f"{row['epoch']:>5} {values} {row['train_rho_2']:12.3f}")
tracking = sum(row.get("nc_dur", 0.0) for row in clf.history)
training = sum(row["dur"] for row in clf.history)
print(f"tracker: {tracking:.2f} s in all, for {training:.2f} s of training epochs")

# %%
# The metrics fall quickly during the first epochs and then slowly: a small
# network trained for a few seconds does not reach the terminal phase of
# training, where every metric would be close to 0 (see the unconstrained
# feature experiment in the documentation for the limit). The test features
# (dashed) collapse less than the training features: the geometry is learned
# on the training set.
fig, ax = plt.subplots(figsize=(7, 4.5))
plot_nc_history(clf, ax=ax)
fig.tight_layout()

# %%
# Geometry of the features
# ------------------------
#
# :func:`~sknc.plotting.plot_feature_geometry` projects the class means (big
# dots), the pair means (red squares) and the pairs' tag-wise averages
# :math:`(\mu_a+\mu_b)/2` (hollow circles, the midpoints of the grey edges)
# onto a plane in which a simplex ETF is a regular polygon. Under collapse
# each red square lies on the ray from the centre (+) through its hollow
# circle, at :math:`\rho_2` times its distance; the red segments join them.
# On the test set the class means are less regular and the samples spread
# more around them.
H_train = clf.transform(X_train)
H_test = clf.transform(X_test)
fig, axes = plt.subplots(1, 2, figsize=(12, 5.5))
plot_feature_geometry(H_train, Y_train, ax=axes[0], show_samples=True)
axes[0].set_title("Training features")
plot_feature_geometry(H_test, Y_test, ax=axes[1], show_samples=True)
axes[1].set_title("Test features")
fig.tight_layout()

for name, H, Y_part in (("train", H_train, Y_train), ("test", H_test, Y_test)):
    W = clf.module_.head.weight[: clf.n_outputs_]
    r = neural_collapse_report(H, Y_part, W, random_state=0)
    print(
        f"{name:>5}: NC1 {r['nc1']:.3f}, NC2 (means) {r['nc2_means']:.3f}, "
        f"NC3 {r['nc3']:.3f}, NCm {r['ncm']:.3f}, rho_2 {r['rho'][2]:.3f}"
    )
plt.show()
