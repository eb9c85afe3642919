"""A trained checkpoint, ready to turn aligned face crops into AU intensities.

The inference checkpoint (``model.pt``, g2rl.training.checkpoint) carries everything this needs:
the AU list, the crop size, sigma, the input normalisation and the backbone description. Nothing
is read from the workflow config, so a checkpoint copied to another machine works on its own.

The forward pass is the one training evaluates with (g2rl.training.predictions): RGB crop / 255,
minus mean, over std -> HeatmapNet -> heatmap maximum x 2 pi sigma^2, clipped to [0, 5]. On CUDA,
and on CPUs with native bf16 (AMX / AVX512-BF16), the network runs under bf16 autocast with
channels_last, as training does (``amp="auto"``); ``amp="off"`` forces float32.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from g2rl.errors import G2RLError
from g2rl.training.checkpoint import check_inference_meta

log = logging.getLogger(__name__)

# the meta checks live with the checkpoint reader (shared with `g2rl report examples`)
check_meta = check_inference_meta


@dataclass
class AUModel:
    """The test-time network of a checkpoint plus what inference needs from its meta.

    Attributes:
        net: HeatmapNet in eval mode on ``device``.
        meta: the checkpoint's meta (plain types).
        device: where the network runs.
        bf16: forward passes under bf16 autocast.
        channels_last: inputs converted to channels_last memory format.
        source: the checkpoint path (for messages).
    """

    net: torch.nn.Module
    meta: dict
    device: torch.device
    bf16: bool
    channels_last: bool
    source: Path

    @property
    def aus(self) -> list[str]:
        """The AU names, in heatmap order (e.g. ``["AU01", "AU02", ...]``)."""
        return list(self.meta["aus"])

    @property
    def crop_size(self) -> int:
        """Side S of the aligned crop the network takes (px)."""
        return int(self.meta["crop_size"])

    @property
    def sigma(self) -> float:
        """Eq. 1 sigma in heatmap px: intensity = heatmap max x 2 pi sigma^2."""
        return float(self.meta["sigma"])

    @property
    def heatmap_spec(self):
        """How this checkpoint's maps decode: layout (channel -> AU), peak convention, sigma."""
        from g2rl.preprocess.heatmap_layout import HeatmapSpec

        return HeatmapSpec.from_meta(self.meta)

    @property
    def peak_at_max(self) -> float:
        """Heatmap value of intensity 5 (the top of the overlay colour scale)."""
        from g2rl.preprocess.heatmaps import peak_value

        return peak_value(5.0, self.sigma, self.heatmap_spec.peak)

    def normalise(self, crops: np.ndarray) -> torch.Tensor:
        """(N, S, S, 3) uint8 RGB crops -> (N, 3, S, S) float32 on the device, normalised with
        the checkpoint's mean and std (on [0, 1] pixel values)."""
        x = torch.from_numpy(np.ascontiguousarray(crops)).to(self.device, non_blocking=True)
        x = x.permute(0, 3, 1, 2).float().div_(255.0)
        mean = torch.tensor(self.meta["mean"], dtype=torch.float32, device=self.device)[None, :, None, None]
        std = torch.tensor(self.meta["std"], dtype=torch.float32, device=self.device)[None, :, None, None]
        return (x - mean) / std

    def predict(self, crops: np.ndarray, heatmaps: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """AU intensities of aligned crops, in one forward pass (the caller batches).

        Args:
            crops: (N, S, S, 3) uint8 RGB, S = :attr:`crop_size`, aligned as in training.
            heatmaps: also return the predicted heatmaps.

        Returns:
            (intensities (N, K) float32 in [0, 5], heatmaps (N, K, S/4, S/4) float32 or None; a
            per_point checkpoint's maps are merged per AU by their pixel-wise max).
        """
        from g2rl.training.device import autocast

        crops = np.asarray(crops)
        s = self.crop_size
        if crops.ndim != 4 or crops.shape[1:] != (s, s, 3) or crops.dtype != np.uint8:
            raise ValueError(f"crops must be (N, {s}, {s}, 3) uint8, got {crops.shape} {crops.dtype}")
        with torch.inference_mode():
            x = self.normalise(crops)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast(self.device, self.bf16):
                maps = self.net(x)
            maps = maps.float()
            spec = self.heatmap_spec
            out = spec.decode(maps).cpu().numpy().astype(np.float32)
            return out, (spec.per_au_maps(maps.cpu().numpy()) if heatmaps else None)


def load_au_model(checkpoint: str | os.PathLike, device: str = "auto", amp: str = "auto") -> AUModel:
    """Load an inference checkpoint for prediction.

    Args:
        checkpoint: ``model.pt`` written by ``g2rl train``.
        device: ``auto`` (CUDA when present), ``cpu``, ``cuda`` or ``cuda:N``.
        amp: ``auto`` (bf16 autocast on CUDA and on CPUs with native bf16), ``bf16`` or ``off``.

    Raises:
        G2RLError naming ``checkpoint`` (one line) when it is missing, empty, not a g2rl inference
        checkpoint (or holds pickled code: never run), its meta is incomplete or out of bounds, or
        its weights do not fit the network its meta describes or are not finite
        (:func:`g2rl.training.checkpoint.load_inference_model`).
    """
    from g2rl.training.checkpoint import load_inference_model
    from g2rl.training.device import resolve_device, use_bf16, use_channels_last

    path = Path(checkpoint)
    if not path.is_file():
        raise G2RLError(f"{path}: checkpoint file does not exist")
    dev = resolve_device(device)
    net, meta = load_inference_model(path, dev)
    bf16 = use_bf16(dev, amp)
    cl = use_channels_last(dev, "auto", bf16)
    if cl:
        net = net.to(memory_format=torch.channels_last)
    log.info(
        "%s: %s @ %d px, sigma=%g, AUs %s; device %s%s",
        path, meta["backbone"], meta["crop_size"], meta["sigma"], ",".join(meta["aus"]), dev, " (bf16 autocast)" if bf16 else "",
    )  # fmt: skip
    return AUModel(net=net, meta=meta, device=dev, bf16=bf16, channels_last=cl, source=path)
