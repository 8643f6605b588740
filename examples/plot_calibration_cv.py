"""
=================================================
Cross-fitted calibration with ``calibration_cv``
=================================================

The decoder's temperature (how peaked its distribution over label sets is)
and the thresholds of the F1 objectives are fitted on the network's outputs.
By default these are the outputs on the training rows, which the network
fits closely, so the probabilities come out too sharp. ``calibration_cv=k``
trains k more networks, each on all folds but one, and fits the
calibration on their out-of-fold outputs, while the predicting network
still trains on every row (see :ref:`calibration`). It costs k more
trainings; this example shows what they buy.
"""

# %%
# Two fits
# --------
#
# The same network and ``objective='f1_micro'`` (one threshold shared by the
# labels, fitted with the decoder), calibrated on the training outputs or
# cross-fitted with 3 folds.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import f1_score, log_loss

from sknc import PALClassifier
from sknc.datasets import make_multilabel_digits
from sknc.model_selection import multilabel_train_test_split

X, Y = make_multilabel_digits({1: 500, 2: 500}, max_shift=1, random_state=0)
X_train, X_test, Y_train, Y_test = multilabel_train_test_split(
    X, Y, test_size=0.3, random_state=0, stratify=Y
)
probas = {}
print(f"{'calibration_cv':<16}{'temperature':>12}{'Brier':>8}{'log-loss':>10}"
      f"{'micro-F1':>10}")  # fmt: skip
for cv in (None, 3):
    clf = PALClassifier(
        max_epochs=20, calibration_cv=cv, objective="f1_micro", random_state=0
    )
    clf.fit(X_train, Y_train)
    proba = probas[cv] = clf.predict_proba(X_test)
    brier = np.mean((proba - Y_test) ** 2)
    loss = log_loss(Y_test.ravel(), proba.ravel())
    f1 = f1_score(Y_test, clf.predict(X_test), average="micro")
    print(
        f"{cv!s:<16}{clf.decoder_.temperature_:12.3f}{brier:8.4f}{loss:10.3f}{f1:10.3f}"
    )

# %%
# Cross-fitting finds a larger temperature, flatter probabilities, which
# score better on the test rows (a lower Brier score and log-loss, both
# computed over every sample and label); the F1 threshold fitted on
# out-of-fold probabilities gives a better micro-F1 too. Subset accuracy
# would not change: the most probable set does not depend on the
# temperature.
#
# Reliability diagram
# -------------------
#
# Test probabilities of all labels binned, against the fraction of them
# that are true labels: a calibrated model lies on the diagonal. Calibrated
# on the training outputs, the model is over-confident (its high
# probabilities are too high, its low ones too low).
fig, ax = plt.subplots(figsize=(4.5, 4.5))
ax.plot([0, 1], [0, 1], color="0.6", linestyle=":", label="calibrated")
for cv, proba in probas.items():
    true, predicted = calibration_curve(
        Y_test.ravel(), proba.ravel(), n_bins=8, strategy="quantile"
    )
    ax.plot(predicted, true, marker="o", label=f"calibration_cv={cv}")
ax.set(
    xlabel="predicted probability",
    ylabel="fraction of true labels",
    title="Test probabilities, all labels",
)
ax.legend(loc="upper left")
fig.tight_layout()
plt.show()
