"""The range of heatmap sigmas (Eq. 1's standard deviation, in heatmap pixels) a map can meaningfully have.

Its own small module, below the packages, because both the config check (g2rl.config) and the heatmap
code (g2rl.preprocess.heatmaps, the caches) enforce it.
"""

from __future__ import annotations

import math

from g2rl.errors import G2RLError

# The sigmas a heatmap can meaningfully have, in heatmap px. Below SIGMA_MIN the Gaussian is one
# pixel whatever sigma is, while the eq1 peak I / (2 pi sigma^2) keeps growing (float16 overflows
# to inf below sigma 0.0035); above SIGMA_MAX_SHARE x the heatmap side a map is nearly flat
# (a centred point's map is still 0.61 of its peak at the border) and locates nothing.
SIGMA_MIN = 0.1
SIGMA_MAX_SHARE = 0.5


def sigma_bounds(heatmap_size: int) -> tuple[float, float]:
    """The allowed sigma range (heatmap px) for maps of side ``heatmap_size``: (0.1, size / 2)."""
    return SIGMA_MIN, SIGMA_MAX_SHARE * heatmap_size


def check_sigma(sigma: float, heatmap_size: int, what: str = "sigma") -> float:
    """``sigma`` as a float if it is finite and within :func:`sigma_bounds`, else :class:`G2RLError`
    naming ``what`` (e.g. the option or the file that carries it). NaN fails every comparison, so
    the test is written as "inside", never as "not outside"."""
    low, high = sigma_bounds(heatmap_size)
    sigma = float(sigma)
    if not (math.isfinite(sigma) and low <= sigma <= high):
        raise G2RLError(f"{what}={sigma:g} is outside {low:g}..{high:g} heatmap px (finite; at most half the "
                        f"{heatmap_size}x{heatmap_size} heatmap side)")
    return sigma
