"""
=========================================================
Probabilities: ranking metrics and a calibration plot
=========================================================

In multi-label mode ``predict_proba`` returns one probability per label,
``P(label in set | x)``, and its rows do not sum to 1. These probabilities
come from the decoder: the ONN decoder's (``decoder='onn'``) are the
marginals of a soft assignment to the label-set prototypes, the threshold
decoder's a logistic curve of the log-softmax scores (Platt scaling). This
example scores both with scikit-learn's ranking metrics and checks their
calibration, with the decoder fitted on the training outputs or on a
held-out validation split. (The default ``'knn'`` decoder's probabilities
are each label's share of the nearest training samples; it fits nothing on
a validation split.)
"""

# %%
# Four models
# -----------
#
# Two decoders, ``'onn'`` and ``'threshold'``, each fitted in two ways. With
# the default ``train_split=None`` the network trains on all the data and the
# decoder fits its temperature or its probability curve on the network's
# outputs for those same samples. With a
# :class:`~sknc.model_selection.MultilabelStratifiedValidSplit` the network
# trains on 80% of them, and the decoder fits what must generalise on the
# other 20%, which the network has not seen.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    coverage_error,
    label_ranking_average_precision_score,
    log_loss,
)

from sknc import FixedETFClassifier
from sknc.datasets import make_multilabel_digits
from sknc.model_selection import (
    MultilabelStratifiedValidSplit,
    multilabel_train_test_split,
)

X, Y = make_multilabel_digits({1: 800, 2: 800}, max_shift=0, random_state=0)
X_train, X_test, Y_train, Y_test = multilabel_train_test_split(
    X, Y, test_size=0.5, random_state=0, stratify=Y
)

splits = {
    "training outputs": None,
    "validation split": MultilabelStratifiedValidSplit(0.2, random_state=0),
}
probas = {}
for decoder in ("onn", "threshold"):
    for how, split in splits.items():
        model = FixedETFClassifier(
            max_epochs=20, random_state=0, decoder=decoder, train_split=split
        ).fit(X_train, Y_train)
        probas[decoder, how] = model.predict_proba(X_test)

# %%
# Ranking metrics
# ---------------
#
# The ranking metrics of :mod:`sklearn.metrics` take the ``(n, K)``
# probabilities as scores, like any multi-label score matrix:
#
# - label ranking average precision (LRAP, higher is better): for each true
#   label, the fraction of the labels ranked above it that are true;
# - coverage error (lower is better): how far down the ranking one must go
#   to cover every true label; the best possible value is the mean number of
#   labels per sample (printed below the table);
# - micro-averaged average precision: the area under the precision-recall
#   curve of all (sample, label) pairs pooled, which also compares scores
#   *across* samples.
#
# Log loss and the Brier score, on the pooled pairs, measure the
# probabilities themselves.
print(
    f"{'decoder':<10} {'fitted on':<17} {'LRAP':>6} {'cover.':>6} "
    f"{'AP':>6} {'logloss':>7} {'Brier':>6}"
)
for (decoder, how), proba in probas.items():
    print(
        f"{decoder:<10} {how:<17} "
        f"{label_ranking_average_precision_score(Y_test, proba):6.3f} "
        f"{coverage_error(Y_test, proba):6.3f} "
        f"{average_precision_score(Y_test, proba, average='micro'):6.3f} "
        f"{log_loss(Y_test.ravel(), proba.ravel()):7.3f} "
        f"{brier_score_loss(Y_test.ravel(), proba.ravel()):6.3f}"
    )
print(f"mean number of labels per test sample: {Y_test.sum(axis=1).mean():.2f}")

# %%
# Both decoders rank the labels of a sample about equally well: the
# threshold decoder's probabilities are a monotone function of the logits'
# log-softmax, so they rank each sample's labels exactly as the logits do.
# The two differ in how well the probabilities are calibrated.
#
# Calibration
# -----------
#
# A reliability diagram pools all ``n x K`` (sample, label) pairs, bins them
# by predicted probability and plots, for each bin, the fraction of pairs
# whose label is true (:func:`~sklearn.calibration.calibration_curve` on the
# flattened arrays). A calibrated model stays on the diagonal. The lower
# panels count the pairs in each bin (log scale): most probabilities are
# close to 0 (a sample has one or two of the ten labels) or to 1, so the middle
# bins hold few pairs and their points are noisy.
#
# Fitted on the training outputs (red), both decoders are
# **over-confident**: above 0.5 their curves fall below the diagonal, as the
# network fits its training samples more closely than new ones, and they put
# more pairs near 1. Fitted on a validation split (blue), both move to the
# diagonal: the threshold decoder's logistic curve follows it closely, and
# the ONN decoder, still slightly over-confident in the middle, has the
# lowest log loss and Brier score of the four models. The price is that
# the network trains on 80% of the data, which costs a little ranking
# quality here.
bins = np.linspace(0, 1, 11)
styles = {"training outputs": ("o", "tab:red"), "validation split": ("s", "tab:blue")}
fig, axes = plt.subplots(
    2, 2, figsize=(10, 6.5), sharex=True, height_ratios=(3, 1), sharey="row"
)
for col, decoder in enumerate(("onn", "threshold")):
    ax, hist_ax = axes[0, col], axes[1, col]
    ax.plot([0, 1], [0, 1], "k:", label="perfectly calibrated")
    for how, (marker, color) in styles.items():
        proba = probas[decoder, how].ravel()
        frac_true, mean_pred = calibration_curve(
            Y_test.ravel(), proba, n_bins=len(bins) - 1
        )
        ax.plot(
            mean_pred, frac_true, marker=marker, color=color, label=f"fitted on {how}"
        )
        hist_ax.hist(proba, bins=bins, histtype="step", color=color, lw=1.5)
    ax.set(title=f"decoder='{decoder}'", ylim=(-0.02, 1.02))
    hist_ax.set(xlabel="predicted probability", yscale="log")
axes[0, 0].set_ylabel("fraction of true labels")
axes[1, 0].set_ylabel("pairs")
axes[0, 0].legend(loc="upper left")
fig.tight_layout()
plt.show()
