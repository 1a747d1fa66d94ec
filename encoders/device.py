"""One check for a torch device string, shared by the encoders and the environments.

Why here: ``encoders`` is the lowest layer, so both ``load_encoder(device=...)`` and
``ScenarioConfig.device`` can use it. Without it, ``device="cuda"`` on a machine without CUDA
fails deep inside the first tensor allocation with torch's ``AssertionError: Torch not compiled
with CUDA enabled``, and ``device="gpu"`` with ``RuntimeError: Invalid device string``.
"""

from __future__ import annotations

from typing import Any

EXPECTED_DEVICES = "'cpu', 'cuda', 'cuda:<index>' or 'mps'"


def check_device(device: Any) -> str:
    """Return ``device`` as a string if it names a torch device this machine has.

    Raises:
        TypeError: ``device`` is not a ``str`` (or ``torch.device``).
        ValueError: the string is not a device, names a kind driftrec does not run on, or a
            device this machine lacks (CUDA not available, index out of range, no MPS).
    """
    if device == "cpu":
        return device  # the common case needs no torch import
    import torch

    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise TypeError(f"device must be a str such as {EXPECTED_DEVICES}, got {device!r} "
                        f"({type(device).__name__})")

    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        raise ValueError(f"device {device!r} is not a torch device; expected {EXPECTED_DEVICES}"
                         ) from None
    if parsed.type == "cpu":
        return device
    if parsed.type == "cuda":
        _check_cuda(device, parsed.index, torch)
        return device
    if parsed.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(f"device {device!r} asks for Apple MPS, which this machine does not "
                             "have; expected 'cpu'")
        return device
    raise ValueError(f"device {device!r} ({parsed.type}) is not supported; expected "
                     f"{EXPECTED_DEVICES}")


def _check_cuda(device: str, index: int | None, torch: Any) -> None:
    if not torch.cuda.is_available():
        built = torch.version.cuda or "none"
        raise ValueError(
            f"device {device!r} asks for CUDA, but CUDA is not available on this machine "
            f"(torch {torch.__version__}, built for CUDA: {built}); expected 'cpu' here"
        )
    count = torch.cuda.device_count()
    if index is not None and index >= count:
        raise ValueError(f"device {device!r}: this machine has {count} CUDA device(s); expected "
                         f"an index in [0, {count})")
