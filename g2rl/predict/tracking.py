"""Who the face is across frames: ``face_id`` kept for one person through a video.

The landmark stage gives each frame's faces largest first, so a rank would swap ids when two
people change size. :class:`FaceTracker` matches each frame's faces to the faces of the frames
before by the overlap (IoU) of their landmark boxes, a one-to-one assignment that maximises the
total overlap (``scipy.optimize.linear_sum_assignment``); a face that matches no track with
IoU >= ``min_iou`` starts a new id (0, 1, 2, ... in order of appearance, largest first within a
frame). A track missed for more than ``max_missed`` frames is closed, so a face that leaves and
comes back later gets a new id: this is frame-to-frame tracking, not face recognition.

Used for videos and ``--sequence`` folders; separate photos keep the size rank as ``face_id``.
Cost: one small IoU matrix per frame (faces x open tracks), microseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_IOU = 0.3
MAX_MISSED = 5


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) intersection over union of boxes ``a`` (N, 4) and ``b`` (M, 4), each x, y, w, h."""
    a, b = np.asarray(a, float).reshape(-1, 4), np.asarray(b, float).reshape(-1, 4)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2])
    y1 = np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


@dataclass
class _Track:
    face_id: int
    box: np.ndarray  # (4,) x, y, w, h of its last face
    missed: int = 0  # frames since it was last matched


class FaceTracker:
    """Stable ids for the faces of one video, frame after frame (module docstring).

    Args:
        min_iou: the least box overlap that continues a track.
        max_missed: frames a track may go unmatched before it is closed.
    """

    def __init__(self, min_iou: float = MIN_IOU, max_missed: int = MAX_MISSED):
        self.min_iou = float(min_iou)
        self.max_missed = int(max_missed)
        self._tracks: list[_Track] = []
        self._next_id = 0

    def assign(self, boxes: np.ndarray) -> list[int]:
        """The ids of one frame's faces.

        Args:
            boxes: (N, 4) x, y, w, h of the frame's faces (N may be 0), in the order the rows
                are written (largest first): new ids follow that order.

        Returns:
            N ids: a continued track's id, or a new one.
        """
        from scipy.optimize import linear_sum_assignment

        boxes = np.asarray(boxes, float).reshape(-1, 4)
        ids: list[int | None] = [None] * len(boxes)
        matched: set[int] = set()
        if len(boxes) and self._tracks:
            iou = box_iou(boxes, np.stack([t.box for t in self._tracks]))
            for i, j in zip(*linear_sum_assignment(iou, maximize=True)):
                if iou[i, j] >= self.min_iou:
                    track = self._tracks[j]
                    ids[i], track.box, track.missed = track.face_id, boxes[i], 0
                    matched.add(j)
        for j, track in enumerate(self._tracks):
            if j not in matched:
                track.missed += 1
        self._tracks = [t for t in self._tracks if t.missed <= self.max_missed]
        for i, face_id in enumerate(ids):
            if face_id is None:
                ids[i] = self._next_id
                self._tracks.append(_Track(self._next_id, boxes[i]))
                self._next_id += 1
        return ids
