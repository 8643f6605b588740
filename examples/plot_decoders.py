"""
=====================================
Decoders: from logits to label sets
=====================================

A multi-label network outputs one score per label; its **decoder** turns the
scores into a label *set*. sknc offers four, chosen with ``decoder=``:
``'knn'`` (the default) predicts the label set whose nearest training
samples in feature space are closest, ``'onn'`` the label set of the nearest
label-set prototype in feature space, ``'threshold'`` every label whose
calibrated probability reaches a threshold, and ``'topk'`` the ``k`` most
probable labels, with ``k`` predicted per sample. This example decodes the same
trained network with each of them and compares the scores and the number of
labels they predict.
"""

# %%
# One network, five decoders
# --------------------------
#
# The decoder is fitted at the end of ``fit``, after the network is trained,
# and never influences the training. So estimators that differ only in
# ``decoder`` and share an int ``random_state`` train exactly the same
# network; we check it below by comparing their logits.
#
# A validation split (``train_split``) lets the decoders fit what must
# generalise (the threshold decoder's probability curve and ``'auto'``
# threshold, the ONN temperature) on samples the network did not train on;
# fitted on the training outputs, which a network fits closely, the
# threshold and top-k decoders tend to predict too many labels.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.base import clone
from sklearn.metrics import accuracy_score, f1_score

from sknc import FixedETFClassifier
from sknc.datasets import make_multilabel_digits
from sknc.model_selection import (
    MultilabelStratifiedValidSplit,
    multilabel_train_test_split,
)

X, Y = make_multilabel_digits({1: 500, 2: 500}, max_shift=0, random_state=0)
X_train, X_test, Y_train, Y_test = multilabel_train_test_split(
    X, Y, test_size=0.25, random_state=0, stratify=Y
)

base = FixedETFClassifier(
    max_epochs=20,
    random_state=0,
    train_split=MultilabelStratifiedValidSplit(0.2, random_state=0),
)
decoders = {
    "onn": {"decoder": "onn"},
    "knn": {"decoder": "knn"},
    "threshold 0.5": {"decoder": "threshold"},
    "threshold auto": {"decoder": "threshold", "decoder__threshold": "auto"},
    "top-k auto": {"decoder": "topk"},
}
models = {
    name: clone(base).set_params(**params).fit(X_train, Y_train)
    for name, params in decoders.items()
}
logits = [model.decision_function(X_test) for model in models.values()]
print(
    "same network for every decoder:", all(np.array_equal(logits[0], z) for z in logits)
)

# %%
# ``set_params(decoder=...)`` is for estimators that are not fitted yet
# (``clone`` gives one): ``fit`` trains the network and fits the chosen
# decoder. Each fitted decoder is the estimator's ``decoder_``:
onn = models["onn"].decoder_
print(
    f"onn: {len(onn.prototypes_)} label-set prototypes, "
    f"temperature {onn.temperature_:.3g}"
)
knn = models["knn"].decoder_
print(
    f"knn: {knn.n_neighbors_} neighbours, "
    f"the {knn.n_local} nearest of each label set averaged"
)
print(f"threshold auto: t = {models['threshold auto'].decoder_.threshold_:.2f}")
topk = models["top-k auto"].decoder_
print(f"top-k auto: k chosen among {topk.multiplicities_.tolist()}")

# %%
# Scores
# ------
#
# Micro-F1 counts correct labels; subset accuracy counts samples whose whole
# label set is right.
predictions = {name: model.predict(X_test) for name, model in models.items()}
print(f"{'decoder':<15} {'micro-F1':>8} {'subset acc.':>11} {'labels/sample':>13}")
scores = {}
for name, Y_pred in predictions.items():
    scores[name] = (
        f1_score(Y_test, Y_pred, average="micro"),
        accuracy_score(Y_test, Y_pred),
    )
    print(
        f"{name:<15} {scores[name][0]:8.3f} {scores[name][1]:11.3f} "
        f"{Y_pred.sum(axis=1).mean():13.2f}"
    )
print(f"{'truth':<15} {'':>8} {'':>11} {Y_test.sum(axis=1).mean():13.2f}")

# %%
# The left panel shows both scores for each decoder. The right one counts
# how many labels each decoder predicts per test sample, next to the true
# counts (grey): half of the canvases show one digit and half two.
#
# - The ONN decoder chooses among the label sets seen in training, so it
#   predicts one or two labels, in about the right proportions.
# - The kNN decoder chooses among the same sets. For each set among the 30
#   nearest training samples it averages the distances of the set's 4
#   nearest, counting a missing one at the 30th neighbour's distance, and
#   the closest set wins. Each pair of digits has only about seven training
#   samples here, against about 30 for each single digit, so fewer of them
#   lie near a test canvas: the decoder predicts one label too often and
#   scores below ONN. It does better when every label set has many training
#   samples (see the user guide).
# - The threshold decoders decide label by label: a two-digit sample whose
#   second digit scores low gets one label, and a few uncertain samples get
#   three.
# - The top-k decoder first guesses the number of labels from the shape of
#   the softmax, and guesses "one" too often.
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
names = list(models)
x = np.arange(len(names))
axes[0].bar(x - 0.2, [scores[n][0] for n in names], 0.4, label="micro-F1")
axes[0].bar(x + 0.2, [scores[n][1] for n in names], 0.4, label="subset accuracy")
axes[0].set_xticks(x, [name.replace(" ", "\n") for name in names])
axes[0].set(ylim=(0, 1.15), yticks=np.linspace(0, 1, 6), title="Scores on the test set")
axes[0].legend(loc="upper center", ncols=2)

counts = np.arange(1, 4)
width = 0.8 / (len(names) + 1)


def count_hist(Y):
    """Samples with 1, 2 and 3 or more labels (no sample here has none)."""
    return np.bincount(np.minimum(Y.sum(axis=1), 3), minlength=4)[1:]


hists = {"truth": count_hist(Y_test)}
hists.update((name, count_hist(predictions[name])) for name in names)
for i, (name, hist) in enumerate(hists.items()):
    color = "0.6" if name == "truth" else f"C{i - 1}"
    axes[1].bar(counts - 0.4 + (i + 0.5) * width, hist, width, color=color, label=name)
axes[1].set_xticks(counts, ["1", "2", "3+"])
axes[1].set(
    xlabel="labels per sample",
    ylabel="test samples",
    title="Number of labels predicted",
    ylim=(0, 1.4 * max(hist.max() for hist in hists.values())),
)
axes[1].legend(loc="upper center", ncols=3)
fig.tight_layout()
plt.show()
