"""The training loop's settings: device, seeds, callbacks and early stopping."""

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

__all__ = ["TrainingMixin", "read_only_arrays_ok"]

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


class TrainingMixin:
    """Device resolution, seeding, callbacks and early stopping (estimator mixin)."""

    @property
    def _default_callbacks(self):
        # skorch's classifier default adds a 'valid_acc' scoring that fails on
        # multi-label targets: keep only the losses, the timer and the log.
        callbacks = [
            ("epoch_timer", EpochTimer()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("divergence_check", _DivergenceCheck()),
            ("valid_loss", PassthroughScoring(name="valid_loss")),
        ]
        if getattr(self, "early_stopping_", False):
            # skorch's callback on the validation loss, restoring the best epoch
            callbacks.append(
                (
                    "early_stopping",
                    EarlyStopping(
                        monitor="valid_loss",
                        patience=self.n_iter_no_change,
                        threshold=self.tol,
                        threshold_mode="rel",
                        load_best=True,
                        sink=_silent,
                    ),
                )
            )
        if self.verbose:
            # a per-batch tqdm bar (on stderr) and the per-epoch table; both
            # are left out when silent, as PrintLog formats its table anyway
            callbacks += [("progress_bar", ProgressBar()), ("print_log", PrintLog())]
        return callbacks

    def _resolve_early_stopping(self, n_samples):
        """Return whether this fit stops early (``'auto'``: by the number of rows)."""
        if self.early_stopping == "auto":
            return n_samples >= EARLY_STOPPING_AUTO_ROWS
        return bool(self.early_stopping)

    def _resolve_feature_decay(self, decoder):
        """Return ``lambda_H`` (``'auto'``: what the decoder prefers, if anything)."""
        if self.feature_decay != "auto":
            return self.feature_decay
        preferred = decoder.preferred_feature_decay
        return FEATURE_DECAY if preferred is None else preferred

    def _effective_train_split(self):
        """``train_split``, or early stopping's stratified validation split."""
        if self.train_split is not None or not getattr(self, "early_stopping_", False):
            return self.train_split
        # imported here: ``import sknc`` leaves sknc.model_selection unloaded
        from .model_selection import MultilabelStratifiedValidSplit

        seed = self._torch_seed()
        return MultilabelStratifiedValidSplit(
            self.validation_fraction, random_state=seed
        )

    # ------------------------------------------------------------- contexts
    @contextmanager
    def _device_context(self):
        """Run skorch's machinery with ``device='auto'`` resolved.

        skorch reads ``self.device`` in many places; the parameter keeps the
        user's value and only the code inside the context sees the resolved
        device.
        """
        requested = self.device
        resolved = resolve_device(requested)
        if resolved is requested:
            yield
            return
        self.device = resolved
        try:
            yield
        finally:
            self.device = requested

    def _torch_seed(self):
        if self.random_state is None:
            return None
        return int(check_random_state(self.random_state).randint(2**31 - 1))

    @contextmanager
    def _training_context(self, resume=False):
        """Resolve the device and seed torch's generators for a repeatable fit.

        ``fork_rng`` restores the caller's global random state afterwards, so
        fitting with a ``random_state`` never disturbs the user's own RNG.
        With ``resume`` (``partial_fit`` and warm-started ``fit`` of a trained
        net) the random stream continues where the previous training call left
        it, so that every call draws new shuffles and dropout masks and
        ``fit`` for n + m epochs equals ``fit`` for n then ``partial_fit`` for m.
        """
        with self._device_context():
            seed = self._torch_seed()
            if seed is None:
                yield
                return
            cuda = self.device is not None and str(self.device).startswith("cuda")
            devices = [torch.device(self.device).index or 0] if cuda else []
            with torch.random.fork_rng(devices=devices):
                state = self.__dict__.get("_torch_rng_state_") if resume else None
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
                    self._torch_rng_state_ = {
                        "cpu": torch.random.get_rng_state(),
                        "cuda": {i: torch.cuda.get_rng_state(i) for i in devices},
                    }
