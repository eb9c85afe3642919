"""Heatmap layouts: which channel holds which AU point, and how channels decode to AU intensities.

``per_au`` (today's default): one channel per AU; an AU with several points gets the pixel-wise
max of their Gaussians in its one channel; intensity = that channel's decoded peak.
``per_point`` (the paper's "one heatmap per location L_k", the SCC code's layout): one channel per
point, in AU order then point order (AU06_1, AU06_2, AU10_1, ...); each channel carries its AU's
intensity; the AU's intensity = the mean of its channels' decoded peaks.

:class:`HeatmapSpec` is everything needed to turn a network's maps into AU intensities; it is
saved in the inference checkpoint's meta, so `g2rl predict` and the reports decode a checkpoint
with the layout and peak convention it was trained with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from g2rl.preprocess.au_points import validate_au_mapping
from g2rl.preprocess.heatmaps import decode_heatmaps, render_heatmaps

LAYOUTS = ("per_au", "per_point")


def check_layout(layout: str) -> str:
    if layout not in LAYOUTS:
        raise ValueError(f"heatmap layout must be one of {LAYOUTS}, got {layout!r}")
    return layout


def channel_aus(aus: list[str], mapping: dict, layout: str) -> list[int]:
    """The AU index (into ``aus``) of every heatmap channel, in channel order. Length C."""
    check_layout(layout)
    validate_au_mapping(aus, mapping)
    if layout == "per_au":
        return list(range(len(aus)))
    return [k for k, au in enumerate(aus) for _ in mapping[au]]


def channel_names(aus: list[str], channel_au: list[int]) -> list[str]:
    """Readable channel names: the AU name (one channel) or AU_1, AU_2, ... (several)."""
    names, seen = [], {}
    counts = np.bincount(np.asarray(channel_au, int), minlength=len(aus))
    for k in channel_au:
        seen[k] = seen.get(k, 0) + 1
        names.append(aus[k] if counts[k] == 1 else f"{aus[k]}_{seen[k]}")
    return names


def render_layout(points: np.ndarray, intensities: np.ndarray, sigma: float, size: int,
                  layout: str = "per_au", peak: str = "eq1") -> np.ndarray:
    """Target maps of one sample in ``layout``.

    points: (K, P, 2) AU points in heatmap px, NaN-padded (the crops cache's ``au_points``);
    intensities: (K,) NaN = unlabelled. Returns (C, size, size) float32: C = K for ``per_au``,
    the number of non-padding points for ``per_point`` (each AU's points in order).
    """
    if check_layout(layout) == "per_au":
        return render_heatmaps(points, intensities, sigma, size, peak)
    pts = np.asarray(points, dtype=np.float64)
    valid = np.isfinite(pts).all(axis=-1)  # (K, P); padding sits at the end of each AU's row
    k_idx, p_idx = np.nonzero(valid)
    return render_heatmaps(pts[k_idx, p_idx][:, None], np.asarray(intensities, np.float64)[k_idx], sigma, size, peak)


def _average_matrix(channel_au, n_aus: int) -> np.ndarray:
    """(C, K) matrix whose column k averages AU k's channels."""
    ch = np.asarray(channel_au, dtype=np.int64)
    a = np.zeros((len(ch), n_aus), np.float32)
    a[np.arange(len(ch)), ch] = 1.0
    counts = a.sum(axis=0)
    if (counts == 0).any():
        raise ValueError(f"AUs {np.flatnonzero(counts == 0).tolist()} have no heatmap channel")
    return a / counts


@dataclass(frozen=True)
class HeatmapSpec:
    """How maps encode intensities: sigma (heatmap px), peak convention, channel -> AU index."""

    sigma: float
    peak: str
    channel_au: tuple[int, ...]
    n_aus: int

    @property
    def n_channels(self) -> int:
        return len(self.channel_au)

    @classmethod
    def from_meta(cls, meta: dict) -> "HeatmapSpec":
        """From an inference checkpoint's meta; checkpoints from before the layouts existed are
        per_au with the eq1 peak."""
        n = len(meta["aus"])
        return cls(float(meta["sigma"]), meta.get("heatmap_peak", "eq1"),
                   tuple(int(c) for c in meta.get("channel_au", range(n))), n)

    def decode(self, maps):
        """(..., C, H, W) maps (numpy or torch) -> (..., K) AU intensities in [0, 5]."""
        per_channel, _ = decode_heatmaps(maps, self.sigma, self.peak)
        if list(self.channel_au) == list(range(self.n_aus)):
            return per_channel
        avg = _average_matrix(self.channel_au, self.n_aus)
        if isinstance(per_channel, np.ndarray):
            return per_channel @ avg
        import torch

        return per_channel @ torch.from_numpy(avg).to(per_channel.device)

    def per_au_maps(self, maps: np.ndarray) -> np.ndarray:
        """(..., C, H, W) -> (..., K, H, W): the pixel-wise max over each AU's channels (for figures)."""
        ch = np.asarray(self.channel_au)
        return np.stack([maps[..., ch == k, :, :].max(axis=-3) for k in range(self.n_aus)], axis=-3)
