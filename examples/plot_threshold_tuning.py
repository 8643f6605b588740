"""
=====================================
Tuning the threshold of the decoder
=====================================

The threshold decoder (``decoder='threshold'``) predicts every label whose
calibrated probability reaches a threshold :math:`t`, 0.5 by default. With
``decoder__threshold='auto'`` it picks the :math:`t` that maximises
micro-F1 on held-out data when it is fitted, the multi-label counterpart of
scikit-learn's :class:`~sklearn.model_selection.TunedThresholdClassifierCV`.
This example fits it once and shows how micro-F1, precision and recall on
the test set depend on the threshold.
"""

# %%
# Fit with an automatic threshold
# -------------------------------
#
# The threshold must be chosen on samples the network did not train on, so
# the estimator gets a validation split: the network trains on 80% of the
# training set, and the decoder fits its probability curve and its
# threshold on the other 20%.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import f1_score, precision_score, recall_score

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
clf = FixedETFClassifier(
    max_epochs=20,
    random_state=0,
    decoder="threshold",
    decoder__threshold="auto",
    train_split=MultilabelStratifiedValidSplit(0.2, random_state=0),
).fit(X_train, Y_train)
chosen = clf.decoder_.threshold_
print(f"threshold chosen on the validation split: {chosen:.2f}")

# %%
# Scores for every threshold
# --------------------------
#
# The decoder predicts ``predict_proba(X) >= t``, and gives a sample with no
# label above :math:`t` its most probable label (``allow_empty`` is False
# here because every training sample has a label). The same rule, applied
# to the test probabilities for a grid of thresholds, traces the scores the
# decoder would give with each. Raising :math:`t` trades recall (true labels
# found) for precision (predicted labels that are true).
proba = clf.predict_proba(X_test)


def predict_at(t):
    pred = proba >= t
    empty = ~pred.any(axis=1)
    pred[empty, proba[empty].argmax(axis=1)] = True
    return pred.astype(int)


print("same as clf.predict:", np.array_equal(predict_at(chosen), clf.predict(X_test)))
metrics = {"micro-F1": f1_score, "precision": precision_score, "recall": recall_score}
thresholds = np.linspace(0.05, 0.95, 91)
curves = {
    name: [metric(Y_test, predict_at(t), average="micro") for t in thresholds]
    for name, metric in metrics.items()
}
best = thresholds[np.argmax(curves["micro-F1"])]
for name, t in (("default", 0.5), ("auto", chosen), ("best on test", best)):
    f1 = f1_score(Y_test, predict_at(t), average="micro")
    print(f"t = {t:.2f} ({name}): test micro-F1 {f1:.3f}")

# %%
# The F1 curve is flat around its maximum, and the threshold chosen on the
# validation split (dashed) lands in that plateau: the validation split
# serves as the tuning set, without a cross-validation loop that would train
# the network again for every fold. Pass a number as ``decoder__threshold``
# to fix :math:`t`; a grid search over ``decoder__threshold`` would retrain
# the network for every value.
fig, ax = plt.subplots(figsize=(6.5, 4))
for name, values in curves.items():
    ax.plot(thresholds, values, label=name)
ax.axvline(0.5, color="0.5", linestyle=":", label="default t = 0.5")
ax.axvline(chosen, color="k", linestyle="--", label=f"auto t = {chosen:.2f}")
ax.set(
    xlabel="threshold t",
    ylabel="score on the test set",
    title="Threshold decoder: scores against the threshold",
    ylim=(0, 1.02),
)
ax.legend(loc="lower left")
ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()
