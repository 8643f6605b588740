"""
====================================================
Rare labels: ``class_weight`` and ``sample_weight``
====================================================

Both estimators take scikit-learn's two ways of weighting the loss (see
:ref:`training`): ``class_weight`` weights each label's term of the PAL
loss (``'balanced'`` gives rare labels more weight), and
``fit(X, Y, sample_weight=w)`` weights each row's loss. This example makes
two digits rare in the training rows and compares how often the fitted
models find them in the test rows.
"""

# %%
# Two rare labels
# ---------------
#
# Three quarters of the training rows that show an 8 or a 9 are dropped, so
# these two digits are about four times rarer than the others; the test rows
# keep them all.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import f1_score, recall_score

from sknc import PALClassifier
from sknc.datasets import make_multilabel_digits
from sknc.model_selection import multilabel_train_test_split

X, Y = make_multilabel_digits({1: 500, 2: 500}, max_shift=1, random_state=0)
X_train, X_test, Y_train, Y_test = multilabel_train_test_split(
    X, Y, test_size=0.3, random_state=0, stratify=Y
)
rare = Y_train[:, 8:].any(axis=1)
keep = ~rare | (np.random.default_rng(0).random(len(Y_train)) < 0.25)
X_train, Y_train = X_train[keep], Y_train[keep]
print("training rows per label:", Y_train.sum(axis=0))

# %%
# Three fits
# ----------
#
# Without weights; with ``class_weight='balanced'``, which weighs each label
# inversely to its number of positive rows; with a ``sample_weight`` of 4 for
# the rows that show a rare digit, which acts like repeating them; and with
# ``class_weight='balanced'`` and the threshold decoder.
weights = np.where(Y_train[:, 8:].any(axis=1), 4.0, 1.0)
fits = {
    "no weights": (PALClassifier(max_epochs=20, random_state=0), {}),
    "class_weight='balanced'": (
        PALClassifier(max_epochs=20, random_state=0, class_weight="balanced"),
        {},
    ),
    "sample_weight (4 for rare rows)": (
        PALClassifier(max_epochs=20, random_state=0),
        {"sample_weight": weights},
    ),
    "balanced, decoder='threshold'": (
        PALClassifier(
            max_epochs=20, random_state=0, class_weight="balanced", decoder="threshold"
        ),
        {},
    ),
}
recalls = {}
print(f"{'':<32}{'recall 8, 9':>13}{'F1 8, 9':>13}{'micro-F1':>10}")
for name, (clf, params) in fits.items():
    Y_pred = clf.fit(X_train, Y_train, **params).predict(X_test)
    recalls[name] = recall_score(Y_test, Y_pred, average=None)
    f1 = f1_score(Y_test[:, 8:], Y_pred[:, 8:], average=None)
    micro = f1_score(Y_test, Y_pred, average="micro")
    print(
        f"{name:<32}{recalls[name][8]:7.2f}{recalls[name][9]:6.2f}"
        f"{f1[0]:7.2f}{f1[1]:6.2f}{micro:10.3f}"
    )
balanced = fits["class_weight='balanced'"][0]
print("fitted class weights:", np.round(balanced.class_weight_, 2))

# %%
# Both weightings make the network find the rare digits more often, at a
# small cost in micro-F1. The weights change the network's training; the
# default ``'knn'`` decoder then predicts the label sets of the nearest
# training rows, where the rare digits stay rare. A decoder of per-label
# probabilities (``decoder='threshold'``, last row) or an objective of
# per-label thresholds (``objective='f1_macro'``, see :ref:`objectives`)
# lets the weights raise the rare labels' recall further.
fig, ax = plt.subplots(figsize=(6.5, 3.2))
width = 0.2
for k, (name, recall) in enumerate(recalls.items()):
    ax.bar(np.arange(10) + (k - 1.5) * width, recall, width, label=name)
ax.set(xticks=range(10), xlabel="digit (label)", ylabel="test recall", ylim=(0, 1.3))
ax.legend(loc="upper center", ncol=2, fontsize=8)
fig.tight_layout()
plt.show()
