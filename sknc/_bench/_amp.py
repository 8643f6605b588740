"""Mixed-precision training of sknc's estimators, for the benchmarks' ``--amp``."""

import torch
from skorch.dataset import unpack_data
from skorch.utils import TeeGenerator

from .._classifier import FixedETFClassifier, PALClassifier

__all__ = ["AMPFixedETFClassifier", "AMPMixin", "AMPPALClassifier"]


class AMPMixin:
    """Mixed-precision training for a skorch net (``amp=True``).

    The forward pass and the loss run under ``torch.autocast`` (float16 on
    CUDA, with a ``GradScaler``; bfloat16 on CPU); the optimizer steps on
    float32 weights. Prediction stays in float32. skorch has no mixed
    precision of its own (only through Hugging Face accelerate), and sknc
    has no option for it, so the benchmarks bring this mixin.
    """

    def initialize(self):
        self.__dict__.pop("amp_scaler_", None)
        return super().initialize()

    def train_step(self, batch, **fit_params):
        device_type = torch.device(self.device).type
        dtype = torch.float16 if device_type == "cuda" else torch.bfloat16
        scaler = self.__dict__.get("amp_scaler_")
        if scaler is None:
            scaler = torch.amp.GradScaler(device_type, enabled=dtype is torch.float16)
            self.amp_scaler_ = scaler
        self._zero_grad_optimizer()
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        with torch.autocast(device_type, dtype=dtype):
            y_pred = self.infer(Xi, **fit_params)
            loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        scaler.scale(loss).backward()
        self.notify(
            "on_grad_computed",
            named_parameters=TeeGenerator(self.get_all_learnable_params()),
            batch=batch,
            training=True,
        )
        for name in self._optimizers:
            scaler.step(getattr(self, name + "_"))
        scaler.update()
        return {"loss": loss.detach().float(), "y_pred": y_pred}


class AMPPALClassifier(AMPMixin, PALClassifier):
    """``PALClassifier`` trained in mixed precision."""


class AMPFixedETFClassifier(AMPMixin, FixedETFClassifier):
    """``FixedETFClassifier`` trained in mixed precision."""
