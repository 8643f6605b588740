"""
=====================================================
Tuning the decoder and the objective: TunedDecoderCV
=====================================================

``decoder`` (how the network's outputs become label sets) and ``objective``
(the metric ``predict`` optimises) do not change the trained network.
:class:`~sknc.model_selection.TunedDecoderCV` uses this: it trains **one
network per fold**, refits every candidate's decoder on it and scores it on
the held-out fold, then refits the best candidate on all the training rows.
A :class:`~sklearn.model_selection.GridSearchCV` over the same grid would
train one network per candidate and fold, here 6 times as many.
"""

# %%
# The search
# ----------
#
# Two decoders times three objectives, scored on example-based F1 with
# 3 multi-label stratified folds (an int ``cv`` gives
# :class:`~sknc.model_selection.MultilabelStratifiedKFold`).
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import f1_score

from sknc import PALClassifier
from sknc.datasets import make_multilabel_digits
from sknc.model_selection import TunedDecoderCV, multilabel_train_test_split

X, Y = make_multilabel_digits({1: 400, 2: 400, 3: 200}, max_shift=1, random_state=0)
X_train, X_test, Y_train, Y_test = multilabel_train_test_split(
    X, Y, test_size=0.3, random_state=0, stratify=Y
)
search = TunedDecoderCV(
    PALClassifier(max_epochs=20, random_state=0),
    {"decoder": ["knn", "onn"], "objective": [None, "hamming", "f1_samples"]},
    scoring="f1_samples",
    cv=3,
).fit(X_train, Y_train)
print(
    f"{search.n_splits_} networks trained for {len(search.cv_results_['params'])} "
    f"candidates, {search.fold_fit_times_.sum():.1f} s, and one refit"
)

# %%
# The candidates
# --------------
#
# ``cv_results_`` has the usual keys of a scikit-learn search, plus
# ``mean_decode_time``, the seconds to refit a decoder and score it.
results = search.cv_results_
names = [f"{p['decoder']}, {p['objective']}" for p in results["params"]]
order = np.argsort(results["rank_test_score"])
for i in order:
    print(
        f"{results['rank_test_score'][i]}. {names[i]:<16} "
        f"{results['mean_test_score'][i]:.3f} +- {results['std_test_score'][i]:.3f}"
    )
print("best:", search.best_params_)

# %%
# The search predicts with its best candidate, refitted on all the training
# rows; it is scored here on the test split it never saw.
f1 = f1_score(Y_test, search.predict(X_test), average="samples")
print(f"test example-F1 of the best candidate: {f1:.3f}")

fig, ax = plt.subplots(figsize=(6, 3))
ax.barh(
    names,
    results["mean_test_score"],
    xerr=results["std_test_score"],
    color=["tab:green" if i == search.best_index_ else "0.7" for i in range(6)],
)
ax.invert_yaxis()
lo = results["mean_test_score"].min() - 0.05
ax.set(
    xlim=(lo, None), xlabel="cross-validated example-F1", ylabel="decoder, objective"
)
fig.tight_layout()
plt.show()
