"""The training loop's settings: device, seeds, callbacks and early stopping.

Functions of explicit arguments; the estimators' skorch hooks call them.
"""

import warnings
from contextlib import contextmanager

import numpy as np
import torch
from sklearn.utils import check_random_state
from skorch.callbacks import (
    Callback,
    EarlyStopping,
    EpochTimer,
    PassthroughScoring,
    PrintLog,
    ProgressBar,
)

from ._device import resolve_device

__all__ = [
    "default_callbacks",
    "device_context",
    "early_stopping_split",
    "read_only_arrays_ok",
    "resolve_early_stopping",
    "resolve_feature_decay",
    "seeded",
    "torch_seed",
]

# early_stopping='auto' turns it on from this many training rows.
EARLY_STOPPING_AUTO_ROWS = 10_000
# feature_decay='auto' for a decoder with no preference (the local kNN rule)
FEATURE_DECAY = 1e-4


@contextmanager
def read_only_arrays_ok():
    """Silence torch's warning about non-writable arrays (read-only memmaps)."""
    # a read-only memmap reaches the DataLoader's collate when the iterator is
    # configured (e.g. num_workers); it is only read, never written
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="The given NumPy array is not writable"
        )
        yield


class _DivergenceCheck(Callback):
    """Stop with a clear error when the training loss is no longer finite.

    A diverged network would otherwise return NaN scores, or meaningless
    predictions, without a word.
    """

    def on_epoch_end(self, net, **kwargs):
        """Raise if this epoch's training loss is NaN or infinite."""
        loss = net.history[-1].get("train_loss")
        if loss is not None and not np.isfinite(loss):
            raise ValueError(
                f"Training diverged: the training loss is {loss} at epoch "
                f"{len(net.history)}. The learning rate is probably too high "
                f"(lr={net.lr!r}); lower it (e.g. by a factor of 10), or check "
                "the input for extreme values (scale it, e.g. with "
                "StandardScaler)."
            )


def _silent(*args, **kwargs):
    pass


def default_callbacks(early_stopping, n_iter_no_change, tol, verbose):
    """Return the estimators' default skorch callbacks.

    skorch's classifier default adds a 'valid_acc' scoring that fails on
    multi-label targets: keep only the losses, the timer and the log, plus
    skorch's early stopping on the validation loss (the best epoch restored).
    """
    callbacks = [
        ("epoch_timer", EpochTimer()),
        ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
        ("divergence_check", _DivergenceCheck()),
        ("valid_loss", PassthroughScoring(name="valid_loss")),
    ]
    if early_stopping:
        stopper = EarlyStopping(
            monitor="valid_loss",
            patience=n_iter_no_change,
            threshold=tol,
            threshold_mode="rel",
            load_best=True,
            sink=_silent,
        )
        callbacks.append(("early_stopping", stopper))
    try:
        loud = bool(verbose)
    except (TypeError, ValueError):  # an invalid verbose: fit reports it
        loud = False
    if loud:
        # a per-batch tqdm bar (on stderr) and the per-epoch table; both are
        # left out when silent, as PrintLog formats its table anyway
        callbacks += [("progress_bar", ProgressBar()), ("print_log", PrintLog())]
    return callbacks


def resolve_early_stopping(early_stopping, n_samples):
    """Return whether a fit stops early (``'auto'``: by the number of rows)."""
    if early_stopping == "auto":
        return n_samples >= EARLY_STOPPING_AUTO_ROWS
    return bool(early_stopping)


def resolve_feature_decay(feature_decay, decoder):
    """Return ``lambda_H`` (``'auto'``: what the decoder prefers, if anything)."""
    if feature_decay != "auto":
        return feature_decay
    preferred = decoder.preferred_feature_decay
    return FEATURE_DECAY if preferred is None else preferred


def early_stopping_split(validation_fraction, seed):
    """Early stopping's stratified validation split."""
    # imported here: ``import sknc`` leaves sknc.model_selection unloaded
    from .model_selection import MultilabelStratifiedValidSplit

    return MultilabelStratifiedValidSplit(validation_fraction, random_state=seed)


def torch_seed(random_state):
    """Return the torch seed a ``random_state`` gives (None for None)."""
    if random_state is None:
        return None
    return int(check_random_state(random_state).randint(2**31 - 1))


@contextmanager
def device_context(net):
    """Run skorch's machinery on ``net`` with ``device='auto'`` resolved.

    skorch reads ``net.device`` in many places; the parameter keeps the
    user's value and only the code inside the context sees the resolved
    device.
    """
    requested = net.device
    resolved = resolve_device(requested)
    if resolved is requested:
        yield
        return
    net.device = resolved
    try:
        yield
    finally:
        net.device = requested


@contextmanager
def seeded(net, seed, resume=False):
    """Seed torch's generators for a repeatable fit of ``net``.

    ``fork_rng`` restores the caller's global random state afterwards, so
    fitting with a ``random_state`` never disturbs the user's own RNG. With
    ``resume`` (``partial_fit`` and warm-started ``fit`` of a trained net)
    the random stream continues where the previous training call left it
    (``net._torch_rng_state_``), so that every call draws new shuffles and
    dropout masks and ``fit`` for n + m epochs equals ``fit`` for n then
    ``partial_fit`` for m.
    """
    if seed is None:
        yield
        return
    cuda = net.device is not None and str(net.device).startswith("cuda")
    devices = [torch.device(net.device).index or 0] if cuda else []
    with torch.random.fork_rng(devices=devices):
        state = net.__dict__.get("_torch_rng_state_") if resume else None
        if state is None:
            torch.manual_seed(seed)
        else:
            torch.random.set_rng_state(state["cpu"])
            for index in devices:
                if index in state["cuda"]:
                    torch.cuda.set_rng_state(state["cuda"][index], index)
        try:
            yield
        finally:
            net._torch_rng_state_ = {
                "cpu": torch.random.get_rng_state(),
                "cuda": {i: torch.cuda.get_rng_state(i) for i in devices},
            }
