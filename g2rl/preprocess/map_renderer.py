"""Eq. 1 target maps rendered in torch for whole batches, on the training device (``train.heatmap_source:
device``), so a training on a fast card need not read and inflate the stored maps.

The heatmaps file stays what defines the targets: its sigma, layout, peak and AU points (its
``au_point_mapping``) set up the renderer, and :func:`check_against_cache` compares rendered maps with
the stored ones before a training uses them. The arithmetic is that of
:func:`g2rl.preprocess.heatmaps.render_heatmaps` and :func:`g2rl.preprocess.heatmap_layout.render_layout`,
step for step: the points snapped to heatmap pixel centres on the host in float64 (:meth:`MapRenderer.centres`),
the separable Gaussians and their max in float64 on the device (on an MPS device, which has no float64,
in float32), then rounded to float32 and through float16, as the cache stores them. So the maps equal the
cache's (tests/test_map_renderer.py: bit for bit on the CPU), and a training gets the same targets from
either source.

Shapes, per batch of B samples (K AUs, P points per AU at most, C channels, H = W = S/4):

    centres    float32 (B, K, P, 2)   snapped point centres, heatmap px (integers), NaN = padding
    intensity  float32 (B, K)         AU intensities 0-5, NaN = unlabelled (an all-zero map)
    maps       float32 (B, C, H, W)   :meth:`MapRenderer.render`
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from g2rl.errors import G2RLError
from g2rl.preprocess.heatmap_layout import channel_aus, check_layout
from g2rl.preprocess.heatmaps import HEATMAP_STRIDE, crop_to_heatmap, peak_factor

if TYPE_CHECKING:  # torch is imported where maps are rendered: the workflow reads HEATMAP_SOURCES without it
    import torch

HEATMAP_SOURCES = ("cache", "device")  # where a training's target maps come from
CHECK_ROWS = 16  # stored rows compared with the renderer before a training uses it


@dataclass(frozen=True)
class MapRenderer:
    """Renders one heatmaps file's maps from AU points.

    ``point_index`` (C, Pc): for each channel, its points' places in a sample's flattened (K * P) points;
    ``point_used`` (C, Pc): which of them are real (a per_au channel of an AU with fewer than Pc points
    has padding); ``channel_au`` (C,): each channel's AU. ``sigma`` in heatmap px, ``size`` = H = W.
    """

    sigma: float
    size: int
    peak: str
    channel_au: tuple[int, ...]
    point_index: tuple[tuple[int, ...], ...]
    point_used: tuple[tuple[bool, ...], ...]
    # device -> (point_index, point_used, channel_au) as tensors there, made once: a tensor made from Python
    # values at every step would be a blocking host-to-device copy (never pickled: a worker makes its own)
    _on: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def for_heatmaps(cls, heatmap_attrs: dict, aus: list[str], crop_size: int) -> "MapRenderer":
        """The renderer of a heatmaps file, from its validated attributes
        (:func:`g2rl.preprocess.cache.validate_heatmaps_file`) and the crops file's AU list and crop size."""
        layout = check_layout(heatmap_attrs["layout"])
        mapping = heatmap_attrs["au_point_mapping"]
        channel_au = channel_aus(aus, mapping, layout)
        counts = [len(mapping[au]) for au in aus]
        p = max(counts)
        if layout == "per_au":  # channel k: all of AU k's points, pixel-wise max
            index = [[k * p + j for j in range(p)] for k in range(len(aus))]
            used = [[j < counts[k] for j in range(p)] for k in range(len(aus))]
        else:  # per_point: one channel per point, AU order then point order
            index = [[k * p + j] for k in range(len(aus)) for j in range(counts[k])]
            used = [[True] for _ in index]
        if len(index) != len(channel_au):
            raise G2RLError(f"heatmap layout {layout}: {len(index)} channels from the AU points, {len(channel_au)} "
                            "in the heatmaps file")
        return cls(float(heatmap_attrs["sigma"]), crop_size // HEATMAP_STRIDE, heatmap_attrs["peak"],
                   tuple(channel_au), tuple(map(tuple, index)), tuple(map(tuple, used)))

    @property
    def n_channels(self) -> int:
        return len(self.channel_au)

    def centres(self, points: np.ndarray) -> np.ndarray:
        """AU points in crop px (N, K, P, 2), NaN-padded -> the pixel centres Eq. 1 puts the Gaussians on,
        heatmap px, float32 (N, K, P, 2), NaN kept: the host's half of render_heatmaps (float64, snapped to
        the nearest pixel centre, clipped into the map)."""
        h = crop_to_heatmap(np.asarray(points, np.float64), HEATMAP_STRIDE)
        with np.errstate(invalid="ignore"):
            snapped = np.clip(np.floor(h + 0.5), 0, self.size - 1)
        return np.where(np.isfinite(h), snapped, np.nan).astype(np.float32)

    def render(self, centres: torch.Tensor, intensity: torch.Tensor) -> torch.Tensor:
        """(B, K, P, 2) centres and (B, K) intensities, on one device -> (B, C, H, W) float32 maps there,
        equal to the heatmaps file's (module docstring). Launches a handful of kernels, never waits for
        the device."""
        import torch

        dev = centres.device
        wide = torch.float32 if dev.type == "mps" else torch.float64
        if dev not in self._on:
            self._on[dev] = tuple(torch.tensor(v).to(dev) for v in (self.point_index, self.point_used, self.channel_au))
        index, used, channel_au = self._on[dev]
        pts = centres.flatten(1, 2)[:, index].to(wide)  # (B, C, Pc, 2)
        valid = torch.isfinite(pts).all(-1) & used  # (B, C, Pc)
        pts = torch.nan_to_num(pts, 0.0)
        grid = torch.arange(self.size, dtype=wide, device=dev)
        two_var = 2 * self.sigma**2
        gx = torch.exp(-((grid - pts[..., 0:1]) ** 2) / two_var)  # (B, C, Pc, W)
        gy = torch.exp(-((grid - pts[..., 1:2]) ** 2) / two_var)  # (B, C, Pc, H)
        g = gy[..., :, None] * gx[..., None, :] * valid[..., None, None]  # (B, C, Pc, H, W)
        inten = intensity.to(wide).index_select(1, channel_au)  # (B, C)
        scale = torch.where(torch.isfinite(inten), inten, 0.0) * peak_factor(self.sigma, self.peak)
        maps = g.amax(dim=2) * scale[..., None, None]
        return maps.to(torch.float32).to(torch.float16).to(torch.float32)  # as the cache stores them

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_on": {}}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


def check_against_cache(renderer: MapRenderer, centres: np.ndarray, intensity: np.ndarray, stored: np.ndarray,
                        rows: np.ndarray, heatmaps_h5) -> None:
    """Refuse a renderer that does not give the stored maps: ``stored`` (R, C, H, W) float16, the heatmaps
    file's ``rows`` (R,), against the maps rendered on the CPU from their ``centres`` (R, K, P, 2) and
    ``intensity`` (R, K). A difference of more than one float16 step (what another platform's exp can
    give) means the file was built from other points or by another renderer."""
    import torch

    got = renderer.render(torch.from_numpy(centres), torch.from_numpy(intensity)).numpy()
    ref = stored.astype(np.float32)
    if got.shape != ref.shape:
        raise G2RLError(f"{heatmaps_h5}: rendering gives maps of shape {got.shape[1:]}, the file stores "
                        f"{ref.shape[1:]}; train with heatmap_source: cache")
    step = np.spacing(np.abs(stored)).astype(np.float32)  # one float16 step at each stored value
    off = np.abs(got - ref) > step
    if off.any():
        r = int(np.flatnonzero(off.reshape(len(off), -1).any(1))[0])
        raise G2RLError(f"{heatmaps_h5}: row {int(rows[r])}'s stored maps differ from Eq. 1 rendered from the crops "
                        f"file's AU points (max difference {float(np.abs(got - ref).max()):.3g}); train with "
                        "heatmap_source: cache, or rebuild the heatmaps file")
