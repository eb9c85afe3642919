"""3-point affine registration of a face to an S x S crop.

As in the heatmap-regression AU work of Sanchez-Lozano et al. (BMVC 2018), the affine map
that takes dlib landmarks 8 (chin), 36 (outer corner of the subject's right eye) and 45 (outer
corner of the left eye), 0-indexed, exactly onto a fixed template. The template is given for a
256 x 256 crop and scaled by S / 256 for other crop sizes.

Coordinate convention (the same as dlib and OpenCV): integer coordinates are pixel centres,
so pixel (i, j) covers [i - 0.5, i + 0.5] x [j - 0.5, j + 0.5]. ``cv2.warpAffine`` uses the same
convention, so :func:`transform_points` and :func:`warp_to_crop` agree exactly.
"""

from __future__ import annotations

import numpy as np

from g2rl.errors import G2RLError

TEMPLATE_INDICES = (8, 36, 45)
TEMPLATE_SIZE = 256
# (x, y) in a 256 x 256 crop for landmarks 8, 36, 45
TEMPLATE_256 = np.array([[127.6475, 227.8161], [79.1608, 87.0376], [176.8392, 87.0376]])


def template(crop_size: int) -> np.ndarray:
    """(3, 2) template positions of landmarks 8, 36, 45 in a ``crop_size`` crop (px)."""
    return TEMPLATE_256 * (crop_size / TEMPLATE_SIZE)


def alignment_matrix(landmarks68: np.ndarray, crop_size: int) -> np.ndarray:
    """(2, 3) float64 affine M with M @ [x, y, 1] = crop position, mapping landmarks 8, 36, 45
    of ``landmarks68`` ((68, 2) original-frame px) exactly onto :func:`template` (crop px)."""
    pts = np.asarray(landmarks68, dtype=np.float64)
    if pts.shape != (68, 2):
        raise G2RLError(f"alignment needs (68, 2) landmarks, got shape {pts.shape}")
    src = pts[list(TEMPLATE_INDICES)]
    if not np.isfinite(src).all():
        raise G2RLError("alignment: landmarks 8, 36, 45 are not all finite")
    a = np.hstack([src, np.ones((3, 1))])  # rows [x, y, 1]
    if abs(np.linalg.det(a)) < 1e-6:
        raise G2RLError(f"alignment: landmarks 8, 36, 45 are collinear ({src.tolist()})")
    # a @ M.T = template: an exact solve, three points fix the six affine parameters
    return np.linalg.solve(a, template(crop_size)).T


# how far outside the frame a fitted landmark may lie, in frame widths / heights: dlib places points
# of a face cut by the border a little outside it, never a whole frame away
OUTSIDE_MARGIN = 1.0


def check_landmarks_in_frame(landmarks68: np.ndarray, frame_hw: tuple[int, int]) -> None:
    """Raise :class:`G2RLError` when the (68, 2) landmarks (x, y frame px) are not finite or lie more
    than :data:`OUTSIDE_MARGIN` frame sizes outside a frame of ``frame_hw`` = (H, W) px: such points
    are a damaged or edited landmarks file, not a face (warped, they would give a black crop)."""
    pts = np.asarray(landmarks68, dtype=np.float64)
    h, w = frame_hw
    if not np.isfinite(pts).all():
        raise G2RLError("landmarks are not all finite")
    low = -OUTSIDE_MARGIN * np.array([w, h])
    high = (1 + OUTSIDE_MARGIN) * np.array([w, h])
    outside = ((pts < low) | (pts > high)).any(axis=1)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise G2RLError(f"landmark {i} at ({pts[i, 0]:.6g}, {pts[i, 1]:.6g}) lies far outside the {w}x{h} frame "
                        f"({int(outside.sum())} of 68 such points)")


def transform_points(points: np.ndarray, M: np.ndarray) -> np.ndarray:
    """Apply the (2, 3) affine ``M`` to points of shape (..., 2); NaN stays NaN."""
    points = np.asarray(points, dtype=np.float64)
    return points @ M[:, :2].T + M[:, 2]


def warp_to_crop(image: np.ndarray, M: np.ndarray, crop_size: int) -> np.ndarray:
    """Warp an (H, W, C) image with ``M`` into a (crop_size, crop_size, C) crop (bilinear,
    black outside the image)."""
    import cv2

    return cv2.warpAffine(
        np.ascontiguousarray(image), M, (crop_size, crop_size), flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT, borderValue=0,
    )
