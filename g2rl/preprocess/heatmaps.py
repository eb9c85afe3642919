"""Eq. 1 of the paper: AU intensity heatmaps, and their decoding, under two peak conventions.

``peak="eq1"`` (Eq. 1 as printed): the map's peak is I_k / (2 pi sigma^2), so decoding multiplies
the max by 2 pi sigma^2. ``peak="intensity"``: the peak is I_k itself, what the paper's test rule
"I = max Phi(X)" and its Figure 4 ("pred: 4.393") imply and the author's SCC code uses; decoding
is the max. The two weight the loss differently across sigma (docs/METHOD.md, "Peak convention").

Encoding, for AU k with intensity I_k and points p_1..p_P (heatmap pixels)::

    S_k(x) = I_k / (2 pi sigma^2) * max_p exp(-|x - c_p|^2 / (2 sigma^2))

where c_p is p snapped to the nearest heatmap pixel centre (as Simple Baselines does). The
snap makes the discrete peak exactly I_k / (2 pi sigma^2) for any sigma, even sigma^2 = 0.2
where a Gaussian centred between pixels would lose most of its peak, so decoding
``I = max(S_k) * 2 pi sigma^2`` returns I_k exactly (up to float16 storage). An AU with
several points takes the pixel-wise max of its Gaussians (not the sum), so overlapping points
do not raise the peak. sigma is in heatmap pixels. A NaN intensity (unlabelled) gives an all-zero
map (the trainer masks it out anyway); a NaN point (padding) is skipped. A point outside the
map is moved to the nearest border pixel so that its intensity stays decodable.

Coordinates: the heatmap has stride 4 (crop S -> heatmap S/4). With integer coordinates at pixel
centres in both, heatmap pixel j covers crop pixels 4j .. 4j+3, so
``h = (c + 0.5) / 4 - 0.5`` and ``c = 4 (h + 0.5) - 0.5`` (:func:`crop_to_heatmap`).

The range of sigmas a map can have is in g2rl.sigma_range.
"""

from __future__ import annotations

import math

import numpy as np

HEATMAP_STRIDE = 4
MAX_INTENSITY = 5.0
PEAKS = ("eq1", "intensity")
def peak_factor(sigma: float, peak: str = "eq1") -> float:
    """Map value per unit of intensity at a point's (snapped) centre: 1 / (2 pi sigma^2) or 1."""
    if peak == "eq1":
        return 1.0 / (2 * math.pi * sigma**2)
    if peak == "intensity":
        return 1.0
    raise ValueError(f"heatmap peak convention must be one of {PEAKS}, got {peak!r}")


def crop_to_heatmap(points, stride: int = HEATMAP_STRIDE):
    """Crop px -> heatmap px (pixel centres at integers in both); any array shape (..., 2)."""
    return (points + 0.5) / stride - 0.5


def heatmap_to_crop(points, stride: int = HEATMAP_STRIDE):
    """Heatmap px -> crop px, the inverse of :func:`crop_to_heatmap`."""
    return (points + 0.5) * stride - 0.5


def peak_value(intensity: float, sigma: float, peak: str = "eq1") -> float:
    """The value of a map at its (snapped) centre: I / (2 pi sigma^2) (eq1) or I (intensity)."""
    return intensity * peak_factor(sigma, peak)


def render_heatmaps(points: np.ndarray, intensities: np.ndarray, sigma: float, size: int, peak: str = "eq1") -> np.ndarray:
    """Eq. 1 target maps for one sample.

    Args:
        points: (K, P, 2) AU points (x, y) in heatmap px; NaN rows are padding.
        intensities: (K,) AU intensities (0-5), NaN = unlabelled.
        sigma: Gaussian standard deviation in heatmap px (> 0).
        size: heatmap side length H = W (crop size / 4).
        peak: ``eq1`` (peak I / 2 pi sigma^2) or ``intensity`` (peak I).

    Returns:
        (K, size, size) float32.
    """
    if not (math.isfinite(sigma) and sigma > 0):  # NaN passes `sigma <= 0`
        raise ValueError(f"sigma must be finite and > 0, got {sigma}")
    pts = np.asarray(points, dtype=np.float64)
    inten = np.asarray(intensities, dtype=np.float64)
    if pts.ndim != 3 or pts.shape[2] != 2 or inten.shape != pts.shape[:1]:
        raise ValueError(f"points must be (K, P, 2) and intensities (K,), got {pts.shape} and {inten.shape}")
    valid = np.isfinite(pts).all(axis=-1)  # (K, P)
    centres = np.clip(np.floor(np.where(np.isfinite(pts), pts, 0.0) + 0.5), 0, size - 1)
    grid = np.arange(size, dtype=np.float64)
    # separable Gaussian: exp(-(dx^2 + dy^2) / 2s^2) = gx * gy
    gx = np.exp(-((grid - centres[..., 0:1]) ** 2) / (2 * sigma**2))  # (K, P, W)
    gy = np.exp(-((grid - centres[..., 1:2]) ** 2) / (2 * sigma**2))  # (K, P, H)
    g = gy[..., :, None] * gx[..., None, :]  # (K, P, H, W)
    g[~valid] = 0.0
    scale = np.where(np.isfinite(inten), inten, 0.0) * peak_factor(sigma, peak)
    return (g.max(axis=1) * scale[:, None, None]).astype(np.float32)


def decode_heatmaps(maps, sigma: float, peak: str = "eq1"):
    """Intensities and locations from heatmaps (numpy arrays or torch tensors).

    Args:
        maps: (..., K, H, W) heatmaps.
        sigma: the sigma the maps were encoded with (heatmap px).
        peak: the peak convention they were encoded with.

    Returns:
        ``(intensities, locations)``: (..., K) = max / :func:`peak_factor` clipped to [0, 5], and
        (..., K, 2) (x, y) heatmap px of the global max; float32, same library as the input
        (torch stays on its device and keeps gradients for the intensity).
    """
    factor = 1.0 / peak_factor(sigma, peak)
    width = maps.shape[-1]
    if isinstance(maps, np.ndarray):
        flat = maps.reshape(*maps.shape[:-2], -1)
        idx = flat.argmax(axis=-1)
        peak = np.take_along_axis(flat, idx[..., None], axis=-1)[..., 0].astype(np.float32)
        loc = np.stack([idx % width, idx // width], axis=-1).astype(np.float32)
        return np.clip(peak * np.float32(factor), 0.0, MAX_INTENSITY), loc
    import torch

    if not isinstance(maps, torch.Tensor):
        raise TypeError(f"decode_heatmaps takes a numpy array or a torch tensor, got {type(maps).__name__}")
    peak, idx = maps.flatten(-2).max(dim=-1)
    loc = torch.stack([idx % width, torch.div(idx, width, rounding_mode="floor")], dim=-1).float()
    return (peak.float() * factor).clamp(0.0, MAX_INTENSITY), loc
