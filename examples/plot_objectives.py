"""
============================================
Choosing ``objective``: predict for a metric
============================================

One trained network can give different predictions, and the best one depends
on the metric: the most probable label *set* maximises the expected subset
accuracy, every label of probability at least one half minimises the
expected Hamming loss, and the F1 scores reward somewhat larger sets.
``objective=`` names the metric and ``predict`` returns the prediction that
is optimal for it under the model's probabilities (see
:ref:`objectives`). Changing it needs no retraining, so this example fits
one :class:`~sknc.PALClassifier` and scores the predictions of four
objectives on a test split.
"""

# %%
# One network
# -----------
#
# Digits in one, two or three corners of the canvas, shifted by up to one
# pixel: hard enough that the objectives disagree on some samples.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import accuracy_score, f1_score, hamming_loss

from sknc import PALClassifier
from sknc.datasets import make_multilabel_digits
from sknc.model_selection import multilabel_train_test_split

X, Y = make_multilabel_digits({1: 400, 2: 400, 3: 200}, max_shift=1, random_state=0)
X_train, X_test, Y_train, Y_test = multilabel_train_test_split(
    X, Y, test_size=0.3, random_state=0, stratify=Y
)
clf = PALClassifier(max_epochs=20, random_state=0).fit(X_train, Y_train)

# %%
# The predictions of each objective
# ---------------------------------
#
# ``set_params(objective=...)`` on the fitted model changes only how
# ``predict`` reads the decoder's distribution over label sets.
metrics = {
    "subset acc.": accuracy_score,
    "Hamming loss": hamming_loss,
    "example-F1": lambda Y, P: f1_score(Y, P, average="samples"),
    "micro-F1": lambda Y, P: f1_score(Y, P, average="micro"),
}
objectives = ["subset_accuracy", "hamming", "f1_samples", "f1_micro"]
scores = np.empty((len(objectives), len(metrics)))
labels = []
for i, objective in enumerate(objectives):
    Y_pred = clf.set_params(objective=objective).predict(X_test)
    scores[i] = [metric(Y_test, Y_pred) for metric in metrics.values()]
    labels.append(Y_pred.sum(axis=1).mean())

print(f"{'objective':<16}" + "".join(f"{name:>14}" for name in metrics) + "  labels")
for objective, row, n in zip(objectives, scores, labels, strict=True):
    print(f"{objective:<16}" + "".join(f"{v:14.3f}" for v in row) + f"  {n:6.2f}")
print(f"true labels per test sample: {Y_test.sum(axis=1).mean():.2f}")

# %%
# Each objective gives the best score on its own metric (the diagonal; the
# Hamming loss is lower-is-better): ``'hamming'`` predicts the fewest labels,
# the F1 objectives the most. ``'f1_macro'`` and ``'jaccard_samples'`` work
# the same way. Pick the objective of the metric you report, or let
# :class:`~sknc.model_selection.TunedDecoderCV` choose it by
# cross-validation.
best = np.where(np.array([1, -1, 1, 1]) > 0, scores.argmax(0), scores.argmin(0))
fig, ax = plt.subplots(figsize=(6.5, 3.2))
relative = (scores - scores.min(0)) / np.ptp(scores, axis=0)
relative[:, 1] = 1 - relative[:, 1]  # lower Hamming loss is better
ax.imshow(relative, cmap="Greens", vmin=-0.3, vmax=1.3, aspect="auto")
for i in range(len(objectives)):
    for j in range(len(metrics)):
        weight = "bold" if best[j] == i else "normal"
        ax.text(j, i, f"{scores[i, j]:.3f}", ha="center", va="center", weight=weight)
ax.set_xticks(range(len(metrics)), list(metrics))
ax.set_yticks(range(len(objectives)), objectives)
ax.set_ylabel("objective")
ax.set_title("Test scores of one network, per objective (best in bold)")
fig.tight_layout()
plt.show()
