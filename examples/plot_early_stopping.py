"""
==================================================
Early stopping on a stratified validation split
==================================================

``early_stopping=True`` holds out ``validation_fraction`` of the training
rows (stratified by label), stops when the validation loss has not improved
by ``tol`` for ``n_iter_no_change`` epochs, and restores the weights of the
best epoch (see :ref:`training`). The loss of every epoch is in the
estimator's ``history``, as in skorch. This example draws the two loss
curves and compares the test scores with a fit of a fixed number of epochs.
"""

# %%
# A fit with early stopping
# -------------------------
#
# ``max_epochs`` is only an upper bound now. One fifth of the 700 training
# rows is held out; the decoder is fitted on the rest and calibrated on the
# held-out fifth.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from sknc import PALClassifier
from sknc.datasets import make_multilabel_digits
from sknc.model_selection import multilabel_train_test_split

X, Y = make_multilabel_digits({1: 500, 2: 500}, max_shift=1, random_state=0)
X_train, X_test, Y_train, Y_test = multilabel_train_test_split(
    X, Y, test_size=0.3, random_state=0, stratify=Y
)
stopped = PALClassifier(
    max_epochs=200,
    early_stopping=True,
    validation_fraction=0.2,
    n_iter_no_change=10,
    random_state=0,
).fit(X_train, Y_train)
history = stopped.history
valid_loss = np.array(history[:, "valid_loss"])
best = int(np.argmin(valid_loss)) + 1
print(f"stopped after {len(history)} of 200 epochs; best epoch {best}")
print(f"valid_loss at the best epoch: {valid_loss.min():.3f}")

# %%
# The validation loss is lowest after a few epochs and then stops improving
# while the training loss keeps falling: the network fits its training rows
# ever more closely, and grows over-confident on rows it has not seen.
fig, ax = plt.subplots(figsize=(6, 3.5))
epochs = history[:, "epoch"]
ax.plot(epochs, history[:, "train_loss"], label="train_loss")
ax.plot(epochs, valid_loss, label="valid_loss")
ax.axvline(best, color="k", linestyle="--", label=f"best epoch ({best})")
ax.set(xlabel="epoch", ylabel="PAL loss", title="history of the early-stopped fit")
ax.legend()
fig.tight_layout()

# %%
# Against a fixed number of epochs
# --------------------------------
#
# Early stopping is fast, but a lower validation loss is not always better
# predictions: on these 700 rows, 100 epochs on all of them predict the
# label sets better. This is why ``early_stopping='auto'`` (the default)
# turns it on only from 10,000 training rows, where it is both faster and
# better; below that, every row is worth more as training data.
full = PALClassifier(max_epochs=100, random_state=0).fit(X_train, Y_train)
for name, clf in [
    (f"early stopping ({len(history)} ep.)", stopped),
    ("100 epochs", full),
]:
    Y_pred = clf.predict(X_test)
    print(
        f"{name:<26} micro-F1 {f1_score(Y_test, Y_pred, average='micro'):.3f}  "
        f"subset acc. {accuracy_score(Y_test, Y_pred):.3f}"
    )
plt.show()
