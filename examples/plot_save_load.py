"""
==============================
Saving and loading a model
==============================

skorch's :meth:`~skorch.NeuralNet.save_params` saves the network's weights
(``f_params``). A fitted sknc estimator also holds what ``fit`` learned
besides the weights: the labels, the input size, the fitted decoder and the
objective's thresholds. Pass ``f_state=`` as well, and
:meth:`~sknc.FixedETFClassifier.load_params` restores a working model into a
fresh estimator built with the same parameters. Both files hold plain data
(no pickle), so loading them runs no code.
"""

# %%
# Fit and save
# ------------
import os
import tempfile
import textwrap

import numpy as np
from skorch.exceptions import NotInitializedError

from sknc import FixedETFClassifier
from sknc.datasets import make_multilabel_digits
from sknc.model_selection import multilabel_train_test_split

X, Y = make_multilabel_digits({1: 300, 2: 300}, max_shift=0, random_state=0)
X_train, X_test, Y_train, Y_test = multilabel_train_test_split(
    X, Y, test_size=0.25, random_state=0, stratify=Y
)
params = {"max_epochs": 15, "decoder": "onn", "objective": "f1_samples"}
clf = FixedETFClassifier(**params, random_state=0).fit(X_train, Y_train)

tmp = tempfile.TemporaryDirectory()
f_params = os.path.join(tmp.name, "params.pt")
f_state = os.path.join(tmp.name, "state.pt")
clf.save_params(f_params=f_params, f_state=f_state)
for path in (f_params, f_state):
    print(f"{os.path.basename(path)}: {os.path.getsize(path) / 1024:.0f} KiB")

# %%
# Load into a fresh estimator
# ---------------------------
#
# Build the estimator with the same parameters (the network's architecture
# and the decoder come from them), then load both files: no ``fit`` is
# needed, and the predictions are the same as the original model's.
new = FixedETFClassifier(**params)
new.load_params(f_params=f_params, f_state=f_state)
print("same predictions:", np.array_equal(new.predict(X_test), clf.predict(X_test)))
proba_new, proba = new.predict_proba(X_test), clf.predict_proba(X_test)
print("same probabilities:", np.array_equal(proba_new, proba))
print(f"decoder: {type(new.decoder_).__name__}, objective: {new.objective}")

# %%
# The weights alone are not enough for a fresh estimator (they do not say
# the input size or the labels), and the estimator says so rather than
# guessing:
try:
    FixedETFClassifier(**params).load_params(f_params=f_params)
except NotInitializedError as exc:
    print(textwrap.fill(f"NotInitializedError: {exc}", 79))
tmp.cleanup()
