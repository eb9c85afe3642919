"""Where each AU lives on the face: one to three points computed from the 68 landmarks.

A mapping is ``{AU name: [point, ...]}`` and a point is a list of landmark indices (0-based,
dlib order) whose mean is the point: one index = that landmark, two = their midpoint, three =
their centroid. Each dataset uses its own AU list; the mapping lives in the workflow config.
"""

from __future__ import annotations

import numpy as np

from g2rl.errors import ConfigError

# The default table (GUIDE.md section 2), used by two independent public implementations of
# heatmap AU intensity regression.
_BROWS = [[21], [22], [21, 22, 27]]
_LIP_CORNERS = [[48], [54]]
DEFAULT_AU_POINTS: dict[str, list[list[int]]] = {
    "AU01": _BROWS,
    "AU02": [[18], [25]],
    "AU04": _BROWS,
    "AU05": [[37, 38], [43, 44]],
    "AU06": [[1, 41, 31], [15, 46, 35]],
    "AU09": [[31], [35], [28]],
    "AU10": [[31], [35], [51]],
    "AU12": _LIP_CORNERS,
    "AU14": _LIP_CORNERS,
    "AU15": _LIP_CORNERS,
    "AU17": [[57, 8]],
    "AU20": [[48], [54], [51]],
    "AU25": [[61, 64]],
    "AU26": [[61, 64]],
}


def validate_au_mapping(aus: list[str], mapping: dict) -> None:
    """Raise :class:`ConfigError` unless every AU in ``aus`` has a well-formed entry."""
    if not aus:
        raise ConfigError("AU list is empty")
    if len(set(aus)) != len(aus):
        raise ConfigError(f"AU list has duplicates: {aus}")
    for au in aus:
        if au not in mapping:
            raise ConfigError(f"AU point mapping has no entry for {au} (known: {sorted(mapping)})")
        points = mapping[au]
        if not isinstance(points, (list, tuple)) or not points:
            raise ConfigError(f"AU point mapping: {au} must be a non-empty list of points, got {points!r}")
        for point in points:
            if not isinstance(point, (list, tuple)) or not point:
                raise ConfigError(f"AU point mapping: {au}: a point must be a non-empty list of landmark indices, got {point!r}")
            for idx in point:
                if isinstance(idx, bool) or not isinstance(idx, (int, np.integer)) or not 0 <= idx <= 67:
                    raise ConfigError(f"AU point mapping: {au}: landmark index {idx!r} is not an integer in 0..67")


def max_points(aus: list[str], mapping: dict) -> int:
    """P: the largest number of points of any AU in ``aus``."""
    validate_au_mapping(aus, mapping)
    return max(len(mapping[au]) for au in aus)


def au_points(landmarks: np.ndarray, aus: list[str], mapping: dict) -> np.ndarray:
    """AU locations from landmarks.

    Args:
        landmarks: (N, 68, 2) (x, y), any pixel frame (the output is in the same frame).
        aus: the K AU names, in output order.
        mapping: AU name -> list of points -> list of landmark indices (see module doc).

    Returns:
        (N, K, P, 2) float64, P = :func:`max_points`; AUs with fewer than P points are NaN-padded.
    """
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if landmarks.ndim != 3 or landmarks.shape[1:] != (68, 2):
        raise ConfigError(f"au_points needs landmarks of shape (N, 68, 2), got {landmarks.shape}")
    p_max = max_points(aus, mapping)
    out = np.full((landmarks.shape[0], len(aus), p_max, 2), np.nan)
    for k, au in enumerate(aus):
        for p, point in enumerate(mapping[au]):
            out[:, k, p] = landmarks[:, list(point)].mean(axis=1)
    return out
