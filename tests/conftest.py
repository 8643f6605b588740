import numpy as np
import pytest
import torch
from sklearn.datasets import make_multilabel_classification


@pytest.fixture(autouse=True)
def _seed_everything():
    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture(scope="session")
def multilabel_data():
    """A small multi-label problem: 160 rows, 12 features, 5 labels, no empty row."""
    X, Y = make_multilabel_classification(
        n_samples=160,
        n_features=12,
        n_classes=5,
        n_labels=2,
        allow_unlabeled=False,
        random_state=0,
    )
    return X.astype(np.float32), Y


# Test-only settings that keep every fit under a second.
FAST = {
    "max_epochs": 5,
    "lr": 1e-2,
    "hidden_layer_sizes": (16,),
    "batch_size": 32,
    "random_state": 0,
}
