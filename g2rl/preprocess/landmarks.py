"""68-point facial landmarks with dlib: per-frame detection, or a fast tracked path for video.

The face detector is BlazeFace by default, or dlib's HOG or MMOD CNN detector (``detector=``,
g2rl.preprocess.detectors); everything after it is the same.

Two paths, one output format (the landmarks CSV of docs/CONTRACTS.md):

* **plain** (``fast=False``): the face detector on every full-resolution frame, then the
  68-point shape predictor inside the detected box. ~50 frames/s per core on 640x360.
* **fast** (``fast=True``, the default): detection dominates the cost, so we detect rarely
  (and optionally small). The detector runs on the frame resized by ``detect_scale`` (default
  1.0, see below; if a downscaled frame shows no face, once more at full resolution, so small
  faces are not lost); its box is scaled back and the shape predictor fits the full-resolution
  frame. On the following frames the face is
  *followed*: the box is re-derived from the previous frame's 68 points (with the box-to-
  landmark relation recorded at the last detection), and the predictor fits again. The
  detector runs again when

  1. ``redetect_every`` frames have passed since the last detection (periodic), or
  2. the fit degrades: the box implied by the new fit moved by more than ``max_shift`` box
     widths from the box that was used, or its size changed by more than ``max_size_change``
     (relative), i.e. the face moved faster than the predictor can follow, or
  3. the followed box's centre left the frame.

  On a followed frame ``detector_score`` is the score of the last detection of that face.

If the detector finds several faces, the largest box is used (the datasets have one subject
per video). A frame without a face gets ``success=0``, NaN coordinates and NaN detector_score;
they are counted in :attr:`LandmarkDetector.stats` and never dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import pandas as pd

from g2rl.atomic import atomic_path
from g2rl.errors import G2RLError, MediaError
from g2rl.preprocess.detectors import DEFAULT_DETECTOR

log = logging.getLogger(__name__)

N_LANDMARKS = 68
X_COLUMNS = [f"x_{i}" for i in range(N_LANDMARKS)]
Y_COLUMNS = [f"y_{i}" for i in range(N_LANDMARKS)]
LANDMARK_COLUMNS = ["frame", "success", "detector_score", *X_COLUMNS, *Y_COLUMNS]
# the name of ``detector_score`` in CSVs written before it was renamed (the same values: the detector's
# raw score, not a 0-1 confidence); read_landmarks_csv reads it under the new name
OLD_SCORE_COLUMN = "confidence"
REDETECT_EVERY = 10  # fast path default: a detection, then up to 10 followed frames


@dataclass
class _Track:
    """State of a followed face: its last 68 points and the box <-> landmark relation."""

    points: np.ndarray  # (68, 2) float64, full-frame px
    relation: np.ndarray  # (4,) box centre offset (x, y) and size (w, h), in units of the landmark RMS radius
    score: float  # detector score of the last detection
    box: np.ndarray  # (4,) x0, y0, x1, y1 of the box the current points were fitted from, full-frame px
    since_detect: int = 0


def _landmark_frame(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre (2,) and RMS radius of a 68-point set: a similarity frame for the box relation."""
    centre = points.mean(axis=0)
    radius = float(np.sqrt(((points - centre) ** 2).sum(axis=1).mean()))
    return centre, max(radius, 1e-6)


def _relation(box: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Express a detector box (x0, y0, x1, y1) in the similarity frame of its fitted landmarks."""
    centre, radius = _landmark_frame(points)
    box_centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
    return np.array([*((box_centre - centre) / radius), (box[2] - box[0]) / radius, (box[3] - box[1]) / radius])


def _box_from_points(points: np.ndarray, relation: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_relation`: the box a detector would give for these landmarks."""
    centre, radius = _landmark_frame(points)
    c = centre + relation[:2] * radius
    w, h = relation[2] * radius, relation[3] * radius
    return np.array([c[0] - w / 2, c[1] - h / 2, c[0] + w / 2, c[1] + h / 2])


class LandmarkDetector:
    """Face detection (BlazeFace, dlib's HOG or CNN) + dlib's 68-point fit, per frame (plain) or tracked (fast).

    Args:
        detect_scale: fast path only: the detector sees the frame resized by this factor
            (0 < scale <= 1). dlib's HOG detector finds faces of >= ~80 px, so 0.5 suits faces
            of >= ~160 px; smaller faces are caught by the full-resolution retry. (BlazeFace
            sees every frame at 192 x 192 whatever this factor.) Default 1.0:
            the HOG box size is quantised in ~20 % pyramid steps that differ between scales and
            the 68-point fit follows the box, so detecting at 0.5 alone moves the landmarks by
            ~2-3 % of the inter-ocular distance against the plain path; with tracking, detection
            is rare and full resolution costs little (docs/PERFORMANCE.md).
        fast: use the fast tracked path (see the module docstring); False = plain path.
        redetect_every: fast path: run the detector at least every this many frames.
        max_shift: fast path: re-detect when the fitted face's box moved more than this
            fraction of the box width away from the box used for the fit.
        max_size_change: fast path: re-detect when that box's width changed by more than this
            fraction.
        upsample: dlib's ``upsample_num_times`` (0 = none; 1 finds faces down to ~40 px at 4x cost);
            BlazeFace takes none.
        full_res_retry: fast path: when the downscaled detection finds nothing, detect once more
            at full resolution (so the fast path finds the same faces as the plain one).
        detector: ``blazeface`` (default), ``hog`` or ``cnn`` (g2rl.preprocess.detectors).

    After :meth:`step`, :attr:`last_box` is the box (x0, y0, x1, y1, full-frame px) the returned
    points were fitted from (the detection's, or on a followed frame the one derived from the
    previous points), None without a face.
    """

    def __init__(
        self,
        detect_scale: float = 1.0,
        fast: bool = True,
        redetect_every: int = REDETECT_EVERY,
        max_shift: float = 0.1,
        max_size_change: float = 0.1,
        upsample: int = 0,
        full_res_retry: bool = True,
        detector: str = DEFAULT_DETECTOR,
    ):
        if not 0 < detect_scale <= 1:
            raise G2RLError(f"detect_scale must be in (0, 1], got {detect_scale}")
        if redetect_every < 1:
            raise G2RLError(f"redetect_every must be >= 1, got {redetect_every}")
        from g2rl.preprocess.detectors import face_detector
        from g2rl.preprocess.dlib_models import shape_predictor

        self.detect_scale = float(detect_scale)
        self.fast = bool(fast)
        self.redetect_every = int(redetect_every)
        self.max_shift = float(max_shift)
        self.max_size_change = float(max_size_change)
        self.upsample = int(upsample)
        self.full_res_retry = bool(full_res_retry)
        self.detector = detector
        self._detector = face_detector(detector)
        self._predictor = shape_predictor()
        self.last_box: np.ndarray | None = None
        self.stats: dict[str, int] = {}
        self._reset_stats()
        self._state: _Track | None = None

    @property
    def detection_period(self) -> int:
        """Frames from one periodic detection to the next on the fast path (the detection and
        ``redetect_every`` followed frames), while no fit degrades."""
        return self.redetect_every + 1

    # -- public API -------------------------------------------------------------------------

    def video(self, path: str | Path, max_frames: int | None = None, progress: bool = True) -> pd.DataFrame:
        """Landmarks for every frame of a video: DataFrame with :data:`LANDMARK_COLUMNS`.

        ``frame`` is the 0-based video frame index. Raises :class:`MediaError` if the video
        cannot be opened or yields no frame.
        """
        from g2rl.media import iter_video_frames, video_info

        path = Path(path)
        count, _, _, _ = video_info(path)
        total = count if max_frames is None else min(count, max_frames) if count > 0 else max_frames

        def frames() -> Iterator[np.ndarray]:
            for i, frame in enumerate(iter_video_frames(path)):
                if max_frames is not None and i >= max_frames:
                    return
                yield frame

        rows = self._run(frames(), track=True, total=total, desc=path.name, progress=progress)
        if len(rows) == 0:
            raise MediaError(f"{path}: no frame could be decoded")
        return _to_frame(rows)

    def images(self, paths: Sequence[str | Path], sequence: bool = False, progress: bool = True) -> pd.DataFrame:
        """Landmarks for a list of image files: DataFrame with ``file`` + :data:`LANDMARK_COLUMNS`.

        ``frame`` is the position in ``paths``; ``file`` the path as given. With
        ``sequence=True`` (frames of one video stored as images, e.g. BP4D) the fast path follows
        the face from image to image; otherwise every image is detected on its own.
        """
        from g2rl.media import read_image

        paths = [str(p) for p in paths]
        if not paths:
            raise G2RLError("no image files given")
        desc = Path(paths[0]).parent.name or "images"
        rows = self._run((read_image(p) for p in paths), track=sequence, total=len(paths), desc=desc, progress=progress)
        df = _to_frame(rows)
        df.insert(0, "file", paths)
        return df

    def frames(
        self, frames: Iterable[np.ndarray], track: bool = True, total: int | None = None,
        desc: str = "frames", progress: bool = False,
    ) -> pd.DataFrame:
        """Landmarks for RGB uint8 frames already in memory (benchmarks, tests, other sources)."""
        return _to_frame(self._run(frames, track=track, total=total, desc=desc, progress=progress))

    # -- the per-frame machinery -------------------------------------------------------------

    def _reset_stats(self) -> None:
        self.stats = {
            "frames": 0,  # frames processed
            "faces": 0,  # frames with success=1
            "no_face": 0,  # frames with success=0
            "detector_runs": 0,  # detector calls (incl. full-resolution retries)
            "full_res_retries": 0,  # downscaled detection found nothing -> full-resolution retry
            "followed": 0,  # frames fitted from the previous frame's landmarks
            "degraded": 0,  # followed fits rejected by the degradation test -> re-detected
        }

    def _run(self, frames: Iterable[np.ndarray], track: bool, total: int | None, desc: str, progress: bool) -> list:
        from tqdm import tqdm

        self._reset_stats()
        self.reset()
        rows = []
        bar = tqdm(frames, total=total, desc=desc, unit="frame", disable=not progress, leave=False)
        for frame in bar:
            rows.append(self.step(frame, track=track))
        bar.close()
        return rows

    def reset(self) -> None:
        """Forget the followed face: the next :meth:`step` runs the detector (a new stream, or a
        chunk of a stream processed on its own)."""
        self._state = None

    def step(self, frame: np.ndarray, track: bool = True) -> tuple[int, float, np.ndarray | None]:
        """Landmarks of the next frame of a stream: (success 0/1, detector score or NaN, (68, 2)
        float64 full-frame px or None). With ``track`` (and the fast path) the face found in the
        previous frame is followed, as in :meth:`video`; :meth:`reset` starts a new stream."""
        frame = np.ascontiguousarray(frame)
        points = None
        state = self._state
        if self.fast and track and state is not None and state.since_detect < self.redetect_every:
            points = self._follow(frame, state)
        if points is None:
            state = self._state = self._detect_and_fit(frame)
            points = None if state is None else state.points
        self.stats["frames"] += 1
        if points is None:
            self.stats["no_face"] += 1
            self.last_box = None
            return 0, np.nan, None
        self.stats["faces"] += 1
        self.last_box = state.box
        return 1, state.score, points

    def all_faces(self, frame: np.ndarray) -> list[tuple[float, np.ndarray, np.ndarray]]:
        """Every face the detector finds in one frame, largest box first: [(detector score,
        (68, 2) float64 full-frame px, (4,) detector box x0, y0, x1, y1), ...]; empty without a
        face. No tracking (each call detects), at the fast path's ``detect_scale`` with its
        full-resolution retry."""
        frame = np.ascontiguousarray(frame)
        found = self._detect(frame, every=True)
        self.stats["frames"] += 1
        self.stats["faces" if found else "no_face"] += 1
        return [(score, self.fit(frame, box), box) for box, score in found]

    def _detect(self, frame: np.ndarray, every: bool = False):
        """Largest face box (x0, y0, x1, y1) in full-frame px and its detector score, or None;
        with ``every``: the list of all (box, score), largest first (empty without a face)."""
        scale = self.detect_scale if self.fast else 1.0
        found = self._detect_at(frame, scale)
        if not found and self.fast and scale < 1 and self.full_res_retry:
            self.stats["full_res_retries"] += 1
            found = self._detect_at(frame, 1.0)
        if every:
            return found
        return found[0] if found else None

    def _detect_at(self, frame: np.ndarray, scale: float) -> list[tuple[np.ndarray, float]]:
        """All detections at one scale, largest box first (several faces: the largest is the
        subject; equal areas keep dlib's order)."""
        import cv2

        small = frame if scale == 1.0 else cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        self.stats["detector_runs"] += 1
        rects, scores, _ = self._detector.run(small, self.upsample, 0.0)
        order = sorted(range(len(rects)), key=lambda i: -rects[i].width() * rects[i].height())
        found = []
        for i in order:
            r = rects[i]
            # dlib boxes are inclusive pixel ranges; map pixel centres back to full resolution
            box = (np.array([r.left(), r.top(), r.right(), r.bottom()], float) + 0.5) / scale - 0.5
            found.append((box, float(scores[i])))
        return found

    def fit(self, frame: np.ndarray, box: np.ndarray) -> np.ndarray:
        """The 68-point fit of the shape predictor inside ``box`` (x0, y0, x1, y1, px, rounded to
        whole pixels as dlib takes them) of an RGB uint8 frame: (68, 2) float64 full-frame px."""
        import dlib

        x0, y0, x1, y1 = (int(round(v)) for v in box)
        shape = self._predictor(np.ascontiguousarray(frame), dlib.rectangle(x0, y0, x1, y1))
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)

    def _detect_and_fit(self, frame: np.ndarray) -> _Track | None:
        found = self._detect(frame)
        if found is None:
            return None
        box, score = found
        points = self.fit(frame, box)
        return _Track(points=points, relation=_relation(box, points), score=score, box=box)

    def _follow(self, frame: np.ndarray, state: _Track) -> np.ndarray | None:
        """Fit from the previous landmarks; None when the degradation test asks to re-detect."""
        h, w = frame.shape[:2]
        box = _box_from_points(state.points, state.relation)
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        if not (0 <= cx < w and 0 <= cy < h):
            self.stats["degraded"] += 1
            return None
        points = self.fit(frame, box)
        new_box = _box_from_points(points, state.relation)
        width = box[2] - box[0]
        shift = np.hypot((new_box[0] + new_box[2]) / 2 - cx, (new_box[1] + new_box[3]) / 2 - cy) / width
        size_change = abs((new_box[2] - new_box[0]) / width - 1.0)
        if shift > self.max_shift or size_change > self.max_size_change:
            self.stats["degraded"] += 1
            return None
        self.stats["followed"] += 1
        state.points = points
        state.box = box
        state.since_detect += 1
        return points


def _to_frame(rows: list) -> pd.DataFrame:
    n = len(rows)
    xy = np.full((n, N_LANDMARKS, 2), np.nan)
    success = np.zeros(n, dtype=np.int64)
    score = np.full(n, np.nan)
    for i, (ok, s, points) in enumerate(rows):
        success[i] = ok
        score[i] = s
        if points is not None:
            xy[i] = points
    data = {"frame": np.arange(n, dtype=np.int64), "success": success, "detector_score": score}
    data.update({c: xy[:, i, 0] for i, c in enumerate(X_COLUMNS)})
    data.update({c: xy[:, i, 1] for i, c in enumerate(Y_COLUMNS)})
    return pd.DataFrame(data)


def write_landmarks_csv(df: pd.DataFrame, out: str | Path) -> None:
    """Write a landmarks DataFrame to CSV atomically (temporary name, then rename)."""
    missing = [c for c in LANDMARK_COLUMNS if c not in df.columns]
    if missing:
        raise G2RLError(f"{out}: landmarks table lacks columns {missing[:5]}")
    with atomic_path(out) as tmp:
        df.to_csv(tmp, index=False, float_format="%.3f")


def read_landmarks_csv(path: str | Path) -> pd.DataFrame:
    """Read and validate a landmarks CSV (docs/CONTRACTS.md). Errors name the file.

    A CSV written before ``detector_score`` was renamed (its column ``confidence`` held the same
    raw detector score) is read with that column as ``detector_score``."""
    path = Path(path)
    if not path.is_file():
        raise G2RLError(f"{path}: landmarks CSV not found")
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise G2RLError(f"{path}: not a readable landmarks CSV ({exc})") from exc
    if "detector_score" not in df.columns and OLD_SCORE_COLUMN in df.columns:
        # written before the rename: its 'confidence' is the same raw detector score
        df = df.rename(columns={OLD_SCORE_COLUMN: "detector_score"})
    missing = [c for c in LANDMARK_COLUMNS if c not in df.columns]
    if missing:
        raise G2RLError(f"{path}: landmarks CSV lacks columns {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    if not df["success"].isin([0, 1]).all():
        raise G2RLError(f"{path}: column 'success' must be 0 or 1")
    if df["frame"].duplicated().any():
        raise G2RLError(f"{path}: duplicate frame numbers")
    ok = (df["success"] == 1).to_numpy()
    bad = ok & ~np.isfinite(df[X_COLUMNS + Y_COLUMNS].to_numpy(float)).all(axis=1)
    if bad.any():
        raise G2RLError(f"{path}: frame {df['frame'].iloc[int(np.argmax(bad))]} has success=1 but missing or "
                        f"non-finite coordinates ({int(bad.sum())} such rows)")
    return df


def landmark_array(df: pd.DataFrame) -> np.ndarray:
    """(N, 68, 2) float64 array of (x, y) from a landmarks table (NaN where success=0)."""
    return np.stack([df[X_COLUMNS].to_numpy(float), df[Y_COLUMNS].to_numpy(float)], axis=-1)


def inter_ocular_distance(points: np.ndarray) -> np.ndarray:
    """Distance between the two eye centres (means of landmarks 36-41 and 42-47), shape (...)."""
    left = points[..., 36:42, :].mean(axis=-2)
    right = points[..., 42:48, :].mean(axis=-2)
    return np.linalg.norm(right - left, axis=-1)
