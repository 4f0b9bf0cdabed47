"""Which torch device a name means: one rule for drafting, training, evaluation and segmentation."""

from __future__ import annotations

from ctrg_desktop.errors import CtrgError


class DeviceError(CtrgError, ValueError):
    """An unknown device name, or a CUDA device asked for where PyTorch sees none."""


def resolve_device(device="auto", error: type[Exception] = DeviceError):
    """``"auto"``/None -> cuda when available, else cpu; "cpu", "cuda", "cuda:N" or a
    ``torch.device`` as asked. ``error`` (an area's own type, e.g. ``SegmentationError``) is
    raised for an unknown name or a CUDA device without CUDA."""
    import torch

    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = device if isinstance(device, torch.device) else torch.device(device)
    except (RuntimeError, TypeError):
        raise error(f"unknown device {device!r}: use auto, cpu or cuda") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise error(f"device {str(device)!r} was asked for but CUDA is not available (PyTorch sees no CUDA GPU); "
                    "use cpu")
    return dev
