"""
==============================================
Multi-label text classification with TF-IDF
==============================================

Classify short documents into one or more topics with a
:class:`~sklearn.pipeline.Pipeline` of a
:class:`~sklearn.feature_extraction.text.TfidfVectorizer` and a
:class:`~sknc.FixedETFClassifier`, with its default ``'knn'`` decoder and
with ``decoder='onn'``. The vectorizer hands the network a sparse matrix,
which the estimator densifies one mini-batch at a time. The baseline is the
usual linear model for this task, one logistic regression per topic
(:class:`~sklearn.multiclass.OneVsRestClassifier`).

No text corpus ships with scikit-learn (``fetch_20newsgroups`` downloads
one), so the documents are generated from topic word lists.
"""

# %%
# A generated multi-label corpus
# ------------------------------
#
# Each document is about one, two or three of eight topics. Its words are
# drawn from the word lists of its topics (40%), from a list of common words
# (55%) and from the whole topic vocabulary, as noise (5%). Some words belong
# to two topics ("tour", "study", "budget", "record"), and a short document
# may mention a secondary topic only once or twice, so some label sets are
# hard to read from the words.
from textwrap import shorten

import matplotlib.pyplot as plt
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline

from sknc import FixedETFClassifier
from sknc.model_selection import multilabel_train_test_split

TOPICS = {
    "sports": "match team goal coach season player league score win stadium "
    "referee record",
    "politics": "election vote minister parliament policy party campaign senate "
    "law debate reform budget",
    "science": "experiment theory physics cell research laboratory data "
    "hypothesis molecule telescope energy study",
    "cooking": "recipe oven flavor garlic sauce bake dish kitchen chef butter "
    "spice dinner",
    "music": "album guitar concert song band melody rhythm singer chorus piano "
    "record tour",
    "travel": "flight hotel beach passport island journey luggage museum map "
    "airport city tour",
    "finance": "market stock investor bank interest price profit fund trade "
    "inflation budget tax",
    "health": "doctor patient hospital vaccine diet exercise symptom treatment "
    "sleep nurse therapy study",
}
COMMON = (
    "the of and to in a is that for it with as was on be at by this from new "
    "year people time said more about after last first also"
).split()
topic_names = list(TOPICS)
topic_words = [TOPICS[name].split() for name in topic_names]
vocabulary = sorted({word for words in topic_words for word in words})


def make_corpus(n_documents, random_state):
    """Return ``n_documents`` strings and their (n_documents, 8) topic indicator."""
    rng = np.random.default_rng(random_state)
    documents = []
    Y = np.zeros((n_documents, len(topic_names)), dtype=np.int64)
    for i in range(n_documents):
        n_topics = rng.choice([1, 2, 3], p=[0.5, 0.35, 0.15])
        topics = rng.choice(len(topic_names), n_topics, replace=False)
        Y[i, topics] = 1
        words = []
        for u in rng.random(rng.integers(15, 40)):
            if u < 0.05:
                words.append(rng.choice(vocabulary))
            elif u < 0.45:
                words.append(rng.choice(topic_words[rng.choice(topics)]))
            else:
                words.append(rng.choice(COMMON))
        documents.append(" ".join(words))
    return np.array(documents, dtype=object), Y


documents, Y = make_corpus(1200, random_state=0)
for document, labels in zip(documents[:3], Y[:3], strict=True):
    print([topic_names[k] for k in np.flatnonzero(labels)], shorten(document, 45))
print("documents with 1, 2 and 3 topics:", np.bincount(Y.sum(axis=1))[1:])

documents_train, documents_test, Y_train, Y_test = multilabel_train_test_split(
    documents, Y, test_size=0.3, random_state=0, stratify=Y
)
sets, counts = np.unique(Y_train, axis=0, return_counts=True)
n_topics = sets.sum(axis=1)
print(
    "label sets in training with 1, 2 and 3 topics:",
    [int((n_topics == m).sum()) for m in (1, 2, 3)],
)
print(
    "median training documents per set:",
    [int(np.median(counts[n_topics == m])) for m in (1, 2, 3)],
)

# %%
# Three pipelines
# ---------------
#
# All three pipelines start from the same TF-IDF features. The two
# :class:`~sknc.FixedETFClassifier` pipelines keep the defaults (one hidden
# layer of 512 units, ``feature_dim`` = 8 features for 8 topics) and train
# the same network, 30 epochs on 840 short documents in about a second; only
# the decoder differs. Both decoders predict a label set seen in training, so
# the number of topics comes out with the topics. The default ``'knn'``
# predicts the set whose nearest training documents in feature space are
# closest; ``'onn'`` the set whose prototype, the mean feature of its
# training documents, is nearest. The one-vs-rest baseline predicts each
# topic whose own logistic regression gives it a probability of at least 0.5.
models = {
    "TF-IDF + FixedETF, knn": make_pipeline(
        TfidfVectorizer(), FixedETFClassifier(max_epochs=30, random_state=0)
    ),
    "TF-IDF + FixedETF, onn": make_pipeline(
        TfidfVectorizer(),
        FixedETFClassifier(max_epochs=30, random_state=0, decoder="onn"),
    ),
    "TF-IDF + one-vs-rest logistic": make_pipeline(
        TfidfVectorizer(), OneVsRestClassifier(LogisticRegression())
    ),
}
predictions = {}
print(f"{'model':<30} {'micro-F1':>8} {'subset acc.':>11} {'topics/doc':>10}")
for name, model in models.items():
    model.fit(documents_train, Y_train)
    Y_pred = predictions[name] = model.predict(documents_test)
    print(
        f"{name:<30} {f1_score(Y_test, Y_pred, average='micro'):8.3f} "
        f"{accuracy_score(Y_test, Y_pred):11.3f} {Y_pred.sum(axis=1).mean():10.2f}"
    )
print(f"{'truth':<30} {'':>8} {'':>11} {Y_test.sum(axis=1).mean():10.2f}")
X_tfidf = models["TF-IDF + FixedETF, knn"][0].transform(documents_test)
print(f"TF-IDF matrix: {type(X_tfidf).__name__}, {X_tfidf.shape}")

# %%
# Where the difference comes from
# -------------------------------
#
# The left panel splits the subset accuracy (whole topic set right) by the
# number of topics a document really has; the right one shows how many
# topics each model predicts for those documents (the dashed lines mark the
# truth). The one-vs-rest model is the most cautious: it gets almost every
# single-topic document right, but each of its logistic regressions sees a
# secondary topic's few words as weak evidence, so it often stops at the
# main topic of a two- or three-topic document. The PAL network is trained
# on whole label sets and decodes to one, so both of its pipelines predict
# more topics for those documents and get more of the three-topic sets
# right.
#
# The ONN decoder does best overall here. A three-topic set has a median of
# two training documents, and one mean per set is all that ONN needs. The
# kNN decoder averages the distances of a set's 4 nearest training
# documents and counts a missing one at the 30th neighbour's distance, so
# such a set seldom wins: it predicts fewer topics than ONN for the larger
# sets, and its subset accuracy stays at about the baseline's. The kNN
# decoder does better when label sets have more training samples each (see
# the user guide).
n_true = Y_test.sum(axis=1)
multiplicities = np.unique(n_true)
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
width = 0.8 / len(predictions)
for j, (name, Y_pred) in enumerate(predictions.items()):
    exact = (Y_pred == Y_test).all(axis=1)
    offsets = multiplicities + (j - (len(predictions) - 1) / 2) * width
    axes[0].bar(
        offsets, [exact[n_true == m].mean() for m in multiplicities], width, label=name
    )
    axes[1].bar(
        offsets,
        [Y_pred.sum(axis=1)[n_true == m].mean() for m in multiplicities],
        width,
        label=name,
    )
for m in multiplicities:
    axes[1].hlines(m, m - 0.4, m + 0.4, colors="k", linestyles="--")
axes[0].set(
    xlabel="true number of topics",
    ylabel="subset accuracy",
    title="Whole topic set right",
    ylim=(0, 1),
)
axes[1].set(
    xlabel="true number of topics",
    ylabel="predicted topics per document",
    title="Number of topics predicted (dashed: truth)",
)
for ax in axes:
    ax.set_xticks(multiplicities)
axes[0].legend(loc="upper right")
fig.tight_layout()
plt.show()
