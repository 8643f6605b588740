"""
============================================
A linear probe on frozen pretrained features
============================================

With few labelled samples, training a whole network from scratch is wasteful
and noisy. The usual alternative is to take a network pretrained on a large
data set, freeze it, and train only a linear classifier on its features: a
*linear probe*. Here the "pretrained" network is an sknc model trained on
many single-digit images; a :class:`~sklearn.frozen.FrozenEstimator` keeps it
fixed inside a :class:`~sklearn.pipeline.Pipeline`, and a
:class:`~sknc.FixedETFClassifier` with ``hidden_layer_sizes=()`` (a linear
backbone under the fixed ETF head) learns the multi-label task on top.
"""

# %%
# Pretraining on a large single-label data set
# --------------------------------------------
#
# The stand-in for a pretrained network: a :class:`~sknc.PALClassifier`
# trained as an ordinary multi-class classifier (1-D ``y``) on 2000
# canvases that each show one digit. Its ``transform`` returns the 64
# penultimate features. It never sees a canvas with two digits.
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import make_pipeline

from sknc import FixedETFClassifier, PALClassifier
from sknc.datasets import make_multilabel_digits

X_single, Y_single = make_multilabel_digits({1: 2000}, max_shift=0, random_state=1)
y_single = Y_single.argmax(axis=1)  # one class per canvas
start = time.perf_counter()
pretrained = PALClassifier(
    hidden_layer_sizes=(256,), feature_dim=64, max_epochs=15, random_state=0
).fit(X_single, y_single)
print(
    f"pretrained on {len(X_single)} single digits in "
    f"{time.perf_counter() - start:.1f} s: {pretrained.n_trainable_params_} "
    f"parameters, features of dimension {pretrained.feature_dim_}"
)

# %%
# The downstream task: few multi-label samples
# --------------------------------------------
#
# 200 labelled canvases with one or two digits, and a separate test set.
# (All canvases reuse scikit-learn's 1797 digit images, so the pretraining
# has seen the test digits, one at a time: a real pretrained network would
# have seen similar images, not the same ones.)
X_train, Y_train = make_multilabel_digits({1: 100, 2: 100}, max_shift=0, random_state=2)
X_test, Y_test = make_multilabel_digits({1: 250, 2: 250}, max_shift=0, random_state=3)


# %%
# Three models on the 200 samples:
#
# - **from scratch**: a :class:`~sknc.FixedETFClassifier` with its default MLP
#   backbone (512 hidden units), all weights trained;
# - **linear on pixels**: ``hidden_layer_sizes=()`` makes the backbone one
#   linear layer, from the 400 pixels to ``feature_dim`` = 10 features;
# - **linear probe**: the same linear model on the frozen 64 features.
#   ``FrozenEstimator(pretrained)`` is a pipeline step whose ``fit`` does
#   nothing and whose ``transform`` is the pretrained network's.
#
# The linear models have few parameters and train stably, so they take a
# larger learning rate.
def linear(**kwargs):
    return FixedETFClassifier(
        hidden_layer_sizes=(), lr=1e-2, max_epochs=30, random_state=0, **kwargs
    )


def make_models():
    return {
        "from scratch (MLP)": FixedETFClassifier(max_epochs=30, random_state=0),
        "linear on pixels": linear(),
        "linear probe on frozen features": make_pipeline(
            FrozenEstimator(pretrained), linear()
        ),
    }


print(f"{'model':<32} {'micro-F1':>8} {'subset acc.':>11} {'trained':>8} {'fit s':>6}")
for name, model in make_models().items():
    start = time.perf_counter()
    model.fit(X_train, Y_train)
    seconds = time.perf_counter() - start
    Y_pred = model.predict(X_test)
    classifier = model[-1] if hasattr(model, "steps") else model
    print(
        f"{name:<32} {f1_score(Y_test, Y_pred, average='micro'):8.3f} "
        f"{accuracy_score(Y_test, Y_pred):11.3f} "
        f"{classifier.n_trainable_params_:8d} {seconds:6.2f}"
    )

# %%
# The probe trains 651 parameters (a 64x10 matrix, 10 biases and the ETF
# head's scale) against the scratch model's 211 467, and its fit is a
# fraction of the time; it also scores higher. The pretrained features
# already separate the digits, single-label training or not; the probe only
# has to learn how the digits of a canvas combine, and the default ``'knn'``
# decoder picks the label set whose nearest training samples are closest.
#
# Why a probe is the cheap option
# -------------------------------
#
# - The frozen network runs **once**, forward only: the pipeline computes the
#   features when it fits and when it predicts, and no gradient flows through
#   the backbone.
# - The probe's epochs are passes over a ``(n, 64)`` array through one small
#   linear layer.
# - Few parameters need few labels: the probe cannot overfit 200 samples the
#   way 211 467 weights can.
#
# For many fits (a grid search over the probe's ``lr`` or ``max_epochs``,
# repeated splits), compute the features once with
# ``pretrained.transform(X)`` and fit the probe on them directly.

# %%
# How many labelled samples?
# --------------------------
#
# The same three models on 50 to 800 downstream samples (half single
# digits, half pairs), scored on the same test set. The gap between the
# probe and the scratch model is largest when labels are scarce, and the
# linear model on raw pixels shows that the gain comes from the features,
# not from the linear classifier.
sizes = [50, 100, 200, 400, 800]
curves = {name: [] for name in make_models()}
for n in sizes:
    X_n, Y_n = make_multilabel_digits(
        {1: n // 2, 2: n // 2}, max_shift=0, random_state=2
    )
    for name, model in make_models().items():
        curves[name].append(accuracy_score(Y_test, model.fit(X_n, Y_n).predict(X_test)))

fig, ax = plt.subplots(figsize=(6.5, 4))
for (name, scores), marker in zip(curves.items(), "os^", strict=True):
    ax.plot(sizes, scores, marker=marker, label=name)
ax.set_xscale("log")
ax.set_xticks(sizes, [str(n) for n in sizes])
ax.minorticks_off()
ax.set(
    xlabel="labelled multi-label training samples",
    ylabel="subset accuracy (test)",
    title="Linear probe on frozen features vs. training from scratch",
    ylim=(0, 1),
)
ax.grid(alpha=0.3)
ax.legend(loc="upper left")
fig.tight_layout()
print("subset accuracy by training size", sizes)
for name, scores in curves.items():
    print(f"  {name:<32}", np.round(scores, 3))
plt.show()
