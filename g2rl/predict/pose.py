"""Where the face is and how it is turned: the face box and the head pose of a 68-point fit.

* **Face box** (``face_x, face_y, face_w, face_h``, frame px): the tight box of the 68 landmarks,
  on every frame (detected or followed) and with any detector, so it means the same thing
  everywhere. py-feat's ``FaceRect*`` is its detector's box, which also covers the forehead: ours
  is shorter at the top (the brows are the highest points).
* **Head pose** (``pose_Tx, pose_Ty, pose_Tz`` in mm, ``pose_Rx, pose_Ry, pose_Rz`` in radians),
  as OpenFace reports it: ``cv2.solvePnP`` (SQPnP) of :data:`MEAN_FACE_3D` against the 68 points, with
  OpenFace's default camera when none is calibrated (:func:`camera_matrix`). Camera frame: x to
  the image's right, y down, z away from the camera; T is the position of the model's origin
  (the centroid of its 68 points, about the bridge of the nose). R = Rx(pose_Rx) Ry(pose_Ry)
  Rz(pose_Rz) (OpenFace's convention) rotates the model into the camera frame, the model facing
  the camera at R = I. Signs: ``pose_Rx`` > 0 pitches the head down (chin to chest),
  ``pose_Ry`` > 0 turns the face to the image's left (the subject's right), ``pose_Rz`` > 0 rolls
  it clockwise in the image.

The mean face is this project's own, defined here from textbook anthropometry of an adult face
(proportions as tabulated by L. G. Farkas, *Anthropometry of the Head and Face*, 2nd ed., 1994:
inner eye corners ~32 mm apart, outer ~90 mm, mouth ~50 mm wide, nose ~35 mm wide, nasion to
subnasale ~45 mm, subnasale to chin ~65 mm; depth from the facial profile), with no data from any
face model or landmark set: it is covered by the project's licence. It is a rough average head,
not a fitted one, so T is a scale estimate (a face larger than average reads as nearer) and the
angles are accurate to a few degrees on a frontal fit; on the astronaut and Grace Hopper photos it
reprojects onto dlib's 68 points to ~5 % of the inter-ocular distance (tests/test_predict_pose.py).
"""

from __future__ import annotations

import numpy as np

# 68 points in mm, dlib / iBUG order, frontal: x to the image right (the subject's left), y down,
# z away from the camera. Written about the inner eye corners (y = 0, z = 0), then centred.
_FACE_MM = np.array([
    # 0-16 jaw line, the subject's right ear (image left) round the chin: further back at the sides
    (-70, 5, 60), (-69, 23, 57), (-67, 41, 52), (-63, 58, 44), (-57, 74, 34), (-48, 88, 22), (-37, 99, 10),
    (-21, 106, 0), (0, 108, -5), (21, 106, 0), (37, 99, 10), (48, 88, 22), (57, 74, 34), (63, 58, 44),
    (67, 41, 52), (69, 23, 57), (70, 5, 60),
    # 17-21 right brow (outer to inner), 22-26 left brow (inner to outer): the brow ridge stands forward
    (-52, -9, 14), (-44, -15, 4), (-34, -18, -2), (-24, -18, -5), (-12, -15, -6),
    (12, -15, -6), (24, -18, -5), (34, -18, -2), (44, -15, 4), (52, -9, 14),
    # 27-30 nose bridge, nasion to tip; 31-35 base of the nose, right wing to left wing
    (0, -2, -10), (0, 11, -16), (0, 23, -22), (0, 35, -30),
    (-14, 40, -12), (-7, 42, -17), (0, 43, -19), (7, 42, -17), (14, 40, -12),
    # 36-41 right eye (outer corner, upper lid, inner corner, lower lid), 42-47 left eye (inner first)
    (-45, 0, 9), (-37, -4, 1), (-24, -4, -1), (-16, 0, 0), (-24, 3, -1), (-37, 3, 1),
    (16, 0, 0), (24, -4, -1), (37, -4, 1), (45, 0, 9), (37, 3, 1), (24, 3, -1),
    # 48-59 outer lips: right corner, upper lip to the left corner, lower lip back
    (-25, 61, -3), (-15, 55, -12), (-6, 52, -16), (0, 53, -17), (6, 52, -16), (15, 55, -12), (25, 61, -3),
    (15, 68, -11), (6, 71, -14), (0, 72, -15), (-6, 71, -14), (-15, 68, -11),
    # 60-67 inner lips: right corner, upper, left corner, lower
    (-21, 61, -5), (-7, 59, -14), (0, 59, -15), (7, 59, -14), (21, 61, -5), (7, 62, -14), (0, 62, -15),
    (-7, 62, -14),
], dtype=np.float64)  # fmt: skip

MEAN_FACE_3D = _FACE_MM - _FACE_MM.mean(axis=0)
"""(68, 3) float64 mm, centred on the centroid of its points (module docstring)."""

POSE_COLUMNS = ["pose_Tx", "pose_Ty", "pose_Tz", "pose_Rx", "pose_Ry", "pose_Rz"]
BOX_COLUMNS = ["face_x", "face_y", "face_w", "face_h"]


def camera_matrix(width: int, height: int) -> np.ndarray:
    """(3, 3) pinhole intrinsics OpenFace assumes without calibration: focal length
    500 x (width / 640) and 500 x (height / 480), averaged, in px; principal point at the centre."""
    f = (500.0 * width / 640.0 + 500.0 * height / 480.0) / 2.0
    return np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])


def euler_to_rotation(rx: float, ry: float, rz: float) -> np.ndarray:
    """(3, 3) R = Rx(rx) Ry(ry) Rz(rz), angles in radians (right-handed rotations about the
    camera's x, y, z axes)."""
    cx, sx, cy, sy, cz, sz = np.cos(rx), np.sin(rx), np.cos(ry), np.sin(ry), np.cos(rz), np.sin(rz)
    rot_x = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    rot_y = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rot_z = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rot_x @ rot_y @ rot_z


def rotation_to_euler(rot: np.ndarray) -> np.ndarray:
    """(3,) (rx, ry, rz) radians with ``euler_to_rotation(*result) == rot``; ry in [-pi/2, pi/2]."""
    ry = np.arcsin(np.clip(rot[0, 2], -1.0, 1.0))
    rx = np.arctan2(-rot[1, 2], rot[2, 2])
    rz = np.arctan2(-rot[0, 1], rot[0, 0])
    return np.array([rx, ry, rz])


def face_box(points: np.ndarray) -> np.ndarray:
    """(4,) x, y, width, height (frame px) of the tight box around (68, 2) landmarks."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    return np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]])


def head_pose(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """Head pose of one 68-point fit in a ``width`` x ``height`` frame.

    Args:
        points: (68, 2) float landmarks, frame px (dlib order).
        width, height: the frame's size in px (sets the assumed camera, :func:`camera_matrix`).

    Returns:
        (6,) float64: Tx, Ty, Tz (mm, camera frame) and Rx, Ry, Rz (radians), as
        :data:`POSE_COLUMNS`; NaN when solvePnP finds no solution.
    """
    import cv2

    # SQPnP: a globally optimal solver, 4x faster than the iterative default (~0.1 ms per face)
    ok, rvec, tvec = cv2.solvePnP(MEAN_FACE_3D, np.ascontiguousarray(points, dtype=np.float64),
                                  camera_matrix(width, height), None, flags=cv2.SOLVEPNP_SQPNP)
    if not ok:
        return np.full(6, np.nan)
    rot, _ = cv2.Rodrigues(rvec)
    return np.concatenate([tvec.ravel(), rotation_to_euler(rot)])


def project(rot: np.ndarray, t: np.ndarray, width: int, height: int, model: np.ndarray = MEAN_FACE_3D) -> np.ndarray:
    """(68, 2) image px of the model rotated by ``rot`` (3, 3) and moved to ``t`` (3,) mm, through
    :func:`camera_matrix` by hand: x = f X / Z + cx (the inverse of :func:`head_pose`)."""
    cam = model @ rot.T + t
    k = camera_matrix(width, height)
    return np.stack([k[0, 0] * cam[:, 0] / cam[:, 2] + k[0, 2], k[1, 1] * cam[:, 1] / cam[:, 2] + k[1, 2]], axis=1)
