"""The one device resolver: estimators, the UFM simulator, the CLI and benchmarks."""

import torch

__all__ = ["resolve_device"]

_NAMES = "'cpu', 'cuda', 'cuda:N', 'mps', 'auto' or a torch.device"


def _mps_available():
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


def resolve_device(device):
    """Return the device to run on, with ``'auto'`` resolved.

    Parameters
    ----------
    device : str, torch.device or None
        ``'cpu'``, ``'cuda'``, ``'cuda:N'``, ``'mps'``, ``'auto'`` (CUDA, then
        MPS, when available, else CPU), any other name torch accepts, or None
        (left to whoever placed the model, e.g. accelerate).

    Returns
    -------
    device : str, torch.device or None
        ``device`` itself, or the name ``'auto'`` stands for.

    Raises
    ------
    ValueError
        When the name is not a torch device, or names CUDA or MPS on a machine
        without it.
    """
    if device is None:
        return None
    name = str(device)
    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if _mps_available() else "cpu"
    try:
        torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(
            f"device={device!r} is not a device name torch knows; use {_NAMES}."
        ) from None
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available "
            "(torch.cuda.is_available() is False). Use device='cpu', or "
            "device='auto' to use a GPU only when there is one."
        )
    if name.startswith("mps") and not _mps_available():
        raise ValueError(
            f"device={device!r} was requested but MPS is not available. "
            "Use device='cpu' or device='auto'."
        )
    return device
