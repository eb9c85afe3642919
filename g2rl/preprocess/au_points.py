"""Where each AU lives on the face: one to three points computed from the 68 landmarks.

A mapping is ``{AU name: [point, ...]}`` and a point is a list of landmark indices (0-based,
dlib order) whose mean is the point: one index = that landmark, two = their midpoint, three =
their centroid. Each dataset uses its own AU list; the mapping lives in the workflow config,
either by name (:data:`NAMED_MAPPINGS`: ``hr`` or ``pairs``) or written out.

``hr`` (:data:`HR_AU_POINTS`) is a table found in third-party public heatmap AU code (written out in
docs/AU_POINTS.md): 1 to 3 points per AU, centroids included. ``pairs`` (:data:`PAIRS_AU_POINTS`) follows the
G2RL first author's own SCC code (EvelynFan/FAU): BP4D 10 points (two per AU), DISFA 24 (AU04 one,
AU09 three, the others two), only single landmarks and midpoints; docs/AU_POINTS.md says how each
point was chosen and shows them on an aligned face.
"""

from __future__ import annotations

import numpy as np

from g2rl.errors import ConfigError

# `hr`: a table found in third-party public code of heatmap AU intensity regression (not the G2RL
# author's); docs/AU_POINTS.md lists it.
_BROWS = [[21], [22], [21, 22, 27]]
_LIP_CORNERS = [[48], [54]]
HR_AU_POINTS: dict[str, list[list[int]]] = {
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
DEFAULT_AU_POINTS = HR_AU_POINTS  # what `au_points: null` means (today's behaviour)

# `pairs`: the G2RL author's convention (SCC code, EvelynFan/FAU main/datasets.py: one heatmap
# channel per point). The BP4D points are the landmarks / midpoints nearest to the author's
# example annotation (examples/train_example.json, BP4D M017/T8/336, 256 px crop) on our mean
# aligned face; DISFA has no published example, so its points are ours, with the SCC code's
# point counts. Point by point, with the example's coordinates: docs/AU_POINTS.md.
PAIRS_AU_POINTS: dict[str, list[list[int]]] = {
    "AU01": [[21], [22]],  # inner brow ends
    "AU02": [[18], [25]],  # outer halves of the brows
    "AU04": [[21, 22]],  # glabella, between the inner brow ends (one point in the SCC code)
    "AU05": [[37, 38], [43, 44]],  # upper eyelids
    "AU06": [[0, 1], [15, 16]],  # example (55, 105.5) / (198.5, 104.5): cheeks beside the eyes
    "AU09": [[28], [31], [35]],  # nose bridge and nostril wings (three points in the SCC code)
    "AU10": [[49], [53]],  # example (102, 166) / (158, 165): upper lip either side of the philtrum
    "AU12": [[48], [54]],  # example (84, 164) / (174, 164): lip corners
    "AU14": [[3], [13]],  # example (61, 156.5) / (192.5, 155): beside the mouth, at the face outline
    "AU15": [[48, 5], [54, 11]],  # below and outside the lip corners (depressor anguli oris)
    "AU17": [[57], [57, 8]],  # example (131, 191) / (130.5, 210.5): lower lip centre and the chin
    "AU20": [[48, 4], [54, 12]],  # outside the lip corners, the direction the stretcher pulls
    "AU25": [[62], [66]],  # inner lip centres (lips part)
    "AU26": [[57], [8]],  # lower lip centre and chin tip (jaw drop)
}
NAMED_MAPPINGS: dict[str, dict[str, list[list[int]]]] = {"hr": HR_AU_POINTS, "pairs": PAIRS_AU_POINTS}


def resolve_au_mapping(value) -> dict:
    """A mapping from the config: None (= ``hr``), a name in :data:`NAMED_MAPPINGS`, or a dict."""
    if value is None:
        return DEFAULT_AU_POINTS
    if isinstance(value, str):
        if value not in NAMED_MAPPINGS:
            raise ConfigError(f"AU point mapping {value!r} is not one of {sorted(NAMED_MAPPINGS)} (or a written-out mapping)")
        return NAMED_MAPPINGS[value]
    if not isinstance(value, dict):
        raise ConfigError(f"AU point mapping must be a name or a mapping, got {type(value).__name__}")
    return value


def mapping_name(value) -> str:
    """The name of a mapping given in the config (``custom`` for a written-out one)."""
    if value is None:
        return "hr"
    return value if isinstance(value, str) else "custom"


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
