"""Device, mixed precision and memory-format choices.

auto: CUDA when present, with bf16 autocast and channels_last. On CPU, bf16 autocast and
channels_last are used when the CPU has native bf16 arithmetic (AVX512-BF16 or AMX); on this
project's machine that roughly doubles training throughput (docs/PERFORMANCE.md). On a CPU
without it bf16 is emulated and slower, so auto stays in fp32 there.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any

import torch

from g2rl.errors import ConfigError
from g2rl.provenance import cpu_name
from g2rl.training.gpu_slots import visible_cards

log = logging.getLogger(__name__)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """"auto" -> cuda if available else cpu; otherwise the named device (must exist)."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(f"device {device!r}: not a device; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        # The workflow asks for cuda whenever train.gpus > 0: fail here rather than train on the CPU for days.
        build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU only"
        raise ConfigError(
            f"device {device!r} requested but torch {torch.__version__} ({build} build) cannot use CUDA here "
            "(no GPU visible, or a driver too old for this build: see nvidia-smi); "
            "set train.gpus: 0 in the config to train on the CPU"
        )
    return dev


def cpu_has_native_bf16() -> bool:
    """True when this CPU computes bf16 natively (AVX512-BF16 or AMX tiles)."""
    checks = [getattr(torch.cpu, n, None) for n in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(bool(fn()) for fn in checks if fn is not None)


def use_bf16(device: torch.device, amp: str) -> bool:
    """Whether to run forward passes under bf16 autocast. amp: auto | bf16 | off."""
    if amp == "off":
        return False
    if amp == "bf16":
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise ConfigError("amp=bf16 requested but this GPU does not support bf16")
        return True
    if amp != "auto":
        raise ConfigError(f"amp must be auto, bf16 or off, got {amp!r}")
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and cpu_has_native_bf16()


def use_channels_last(device: torch.device, setting: str, bf16: bool) -> bool:
    """channels_last: on | off | auto (= on together with bf16 autocast, where it pays)."""
    if setting not in ("auto", "on", "off"):
        raise ConfigError(f"channels_last must be auto, on or off, got {setting!r}")
    return setting == "on" or (setting == "auto" and bf16)


def autocast(device: torch.device, bf16: bool):
    """A bf16 autocast context, or a no-op context when bf16 is off."""
    if not bf16:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def device_info(device, bf16: bool) -> dict[str, Any]:
    """The provenance record's "device": {"type", "name", "precision"} of a torch device; on CUDA also
    "index" (torch's) and "card" (the card's CUDA_VISIBLE_DEVICES entry: which physical card that was,
    g2rl.training.gpu_slots)."""
    kind = getattr(device, "type", str(device))
    if kind != "cuda":
        return {"type": kind, "name": cpu_name(), "precision": "bf16" if bf16 else "fp32"}
    index = device.index if device.index is not None else torch.cuda.current_device()
    card = visible_cards(torch.cuda.device_count(), os.environ)[index]
    return {"type": kind, "name": torch.cuda.get_device_name(index), "precision": "bf16" if bf16 else "fp32",
            "index": index, "card": card}  # fmt: skip
