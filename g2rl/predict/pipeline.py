"""Frames -> landmarks -> aligned crops -> network -> AU intensities, one row per face and frame.

The path is training's (docs/PREPROCESSING.md): dlib landmarks (the fast tracked path for a
video or an image sequence; each photo detected on its own), the 3-point affine to the
checkpoint's crop size, then the network (g2rl.predict.model).

Each video is decoded once. The landmark stage (g2rl.predict.stream) runs in a producer thread,
or in worker processes, beside the network: this module consumes its results in frame order,
batches the crops for the network and builds the table. Memory stays bounded by a few chunks of
frames and one batch of crops for any video length.

Output table (:func:`output_columns`: ``AU_KEY_COLUMNS``, the face box and head pose, [``x_0..x_67,
y_0..y_67`` with ``landmarks``, before the AUs as in OpenFace], ``<AU>_r`` per AU of the checkpoint
[+ ``<AU>_c`` with ``occurrence``]), one row per face and frame (docs/PREDICT.md):

* ``file``: the video, or the image file.
* ``frame``: video frame index from ``frame_base`` (0 by default; OpenFace counts from 1); an
  image's position in its folder (natural order) from the same base; the base for an image
  named on the command line.
* ``face_id``: in a video or ``--sequence``: the same number for the same person through the
  clip (g2rl.predict.tracking); in photos: 0 for the largest face, 1 for the next...; a frame
  without a face has one row with face_id 0 and success 0.
* ``timestamp``: seconds, 0-based frame index / fps of the video (empty if the video reports
  no fps); 0 for images.
* ``confidence``: 0-1, how well the 68 points fit a face (g2rl.predict.confidence); empty
  without a face. Before ``success``, as in OpenFace.
* ``success``: 1 when a face was found and measured, else 0 (AU values then empty).
* ``detector_score``: the detector's score of that face (of its last detection on a followed
  video); empty without a face.
* ``face_x, face_y, face_w, face_h`` (px), ``pose_Tx, pose_Ty, pose_Tz`` (mm), ``pose_Rx,
  pose_Ry, pose_Rz`` (radians): g2rl.predict.pose; empty without a face.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pandas as pd

from g2rl.atomic import atomic_path
from g2rl.errors import MediaError, UnusableImageError
from g2rl.predict.inputs import Unit, plan_units
from g2rl.predict.model import AUModel
from g2rl.predict.options import PredictOptions
from g2rl.predict.overlays import OverlayWriter
from g2rl.predict.pose import BOX_COLUMNS, POSE_COLUMNS, face_box
from g2rl.predict.stream import LandmarkPool, LandmarkStage, StageSettings, Landmarker
from g2rl.predict.tracking import FaceTracker

log = logging.getLogger("g2rl.predict")

# OpenFace's order: confidence before success
AU_KEY_COLUMNS = ["file", "frame", "face_id", "timestamp", "confidence", "success", "detector_score"]
GEOMETRY_COLUMNS = [*BOX_COLUMNS, *POSE_COLUMNS]
# stands in for a frame whose file is cut short: one black pixel, in which no face is found (a
# followed face is lost too, so the next frame is detected afresh)
NO_PICTURE = np.zeros((1, 1, 3), np.uint8)


def au_columns(aus: Sequence[str]) -> list[str]:
    """OpenFace-style intensity columns: ``AU01`` -> ``AU01_r``."""
    return [f"{au}_r" for au in aus]


def occurrence_columns(aus: Sequence[str]) -> list[str]:
    """OpenFace-style occurrence columns: ``AU01`` -> ``AU01_c``."""
    return [f"{au}_c" for au in aus]


def output_columns(aus: Sequence[str], options: PredictOptions) -> list[str]:
    """The CSV's columns in order: keys, face box and pose, [landmarks], intensities, [occurrences]
    (OpenFace's order: the landmarks before the AUs)."""
    return [*AU_KEY_COLUMNS, *GEOMETRY_COLUMNS, *(landmark_columns() if options.landmarks else []),
            *au_columns(aus), *(occurrence_columns(aus) if options.occurrence else [])]


def landmark_columns() -> list[str]:
    """OpenFace-style landmark columns: ``x_0..x_67, y_0..y_67`` (frame px)."""
    from g2rl.preprocess.landmarks import X_COLUMNS, Y_COLUMNS

    return [*X_COLUMNS, *Y_COLUMNS]


@dataclass
class PredictStats:
    """Counts and wall-clock seconds of a run.

    The landmark stage runs beside the network, so its seconds overlap the others:
    ``seconds_landmarks``: the producer's time (decode + landmarks + alignment, or decode and
    waiting for the worker processes); ``seconds_waiting``: time the network side waited for
    the landmark stage (0 when landmarks keep up); ``seconds_network``: normalisation, forward
    pass, decoding of the maxima (incl. device transfers); ``seconds_overlays``: PNGs.
    """

    units: int = 0
    frames: int = 0
    faces: int = 0
    seconds_landmarks: float = 0.0
    seconds_waiting: float = 0.0
    seconds_network: float = 0.0
    seconds_overlays: float = 0.0
    seconds_total: float = 0.0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class PredictResult:
    """The per-frame table, the inputs that failed (path, reason), the run's stats, and the
    output problems met on the way (path, reason), e.g. overlays that could not be written."""

    table: pd.DataFrame
    failures: list[tuple[str, str]] = field(default_factory=list)
    stats: PredictStats = field(default_factory=PredictStats)
    output_errors: list[tuple[str, str]] = field(default_factory=list)


def _bar(total, desc, progress):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="frame", disable=not progress, leave=False, dynamic_ncols=True)


class _Batcher:
    """Collects aligned crops, runs the network on full batches, stores intensities by row."""

    def __init__(self, model: AUModel, batch_size: int, stats: PredictStats,
                 overlays: OverlayWriter | None, overlay_dir: Path | None):
        self.model = model
        self.batch_size = batch_size
        self.stats = stats
        self.overlays = overlays
        self.overlay_dir = overlay_dir
        self.values: dict[int, np.ndarray] = {}  # row -> (K,) intensities
        self._rows: list[int] = []
        self._crops: list[np.ndarray] = []
        self._overlays: list[tuple[str, int] | None] = []  # (file stem, face rank); None = no overlay

    def add(self, row: int, crop: np.ndarray, overlay: tuple[str, int] | None) -> None:
        self._rows.append(row)
        self._crops.append(crop)
        self._overlays.append(overlay)
        if len(self._rows) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if not self._rows:
            return
        crops = np.stack(self._crops)
        want_maps = self.overlays is not None and any(o is not None for o in self._overlays)
        t = time.perf_counter()
        intensity, maps = self.model.predict(crops, heatmaps=want_maps)
        self.stats.seconds_network += time.perf_counter() - t
        for j, row in enumerate(self._rows):
            self.values[row] = intensity[j]
        if want_maps:
            t = time.perf_counter()
            for j, overlay in enumerate(self._overlays):
                if overlay is not None:
                    # an output failure stops the overlays (recorded by the writer); rows go on
                    self.overlays.write(self.overlay_dir, overlay[0], crops[j], maps[j], intensity[j], face=overlay[1])
            self.stats.seconds_overlays += time.perf_counter() - t
        self._rows, self._crops, self._overlays = [], [], []

    def table(self, n_rows: int) -> np.ndarray:
        out = np.full((n_rows, len(self.model.aus)), np.nan, dtype=np.float32)
        for row, v in self.values.items():
            out[row] = v
        return out


def _video_frames(path: Path, limit: int | None) -> Iterator[tuple[int, str, np.ndarray]]:
    from g2rl.media import iter_video_frames

    name = str(path)
    for i, frame in enumerate(iter_video_frames(path)):
        if limit is not None and i >= limit:
            return
        yield i, name, frame


def _reason(path: str | os.PathLike, exc: Exception) -> str:
    """An error's message without the leading "<path>: " (the report names the path itself)."""
    text, prefix = str(exc), f"{path}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def _image_frames(unit: Unit, failures: list) -> Iterator[tuple[int, str, np.ndarray]]:
    """(position in the unit, file, frame) of the unit's readable images; the others go to
    ``failures`` (reported by name, skipped)."""
    from g2rl.media import read_image

    for i, p in enumerate(unit.files):
        try:
            img = read_image(p)
        except UnusableImageError as exc:  # cut short, damaged, empty, too large: success=0, the run goes on
            log.warning("%s; its row has success=0", exc)
            img = NO_PICTURE
        except (MediaError, OSError) as exc:
            log.error("%s", exc)
            failures.append((str(p), _reason(p, exc)))
            continue
        yield i, str(p), img


class _Rows:
    """The key columns of a unit's table, grown one row per face (or per faceless frame)."""

    def __init__(self):
        self.file: list[str] = []
        self.position: list[int] = []
        self.face_id: list[int] = []
        self.success: list[int] = []
        self.score: list[float] = []
        self.confidence: list[float] = []
        self.points: list[np.ndarray | None] = []
        self.pose: list[np.ndarray | None] = []

    def add(self, file: str, position: int, face_id: int, score: float, points: np.ndarray | None,
            pose: np.ndarray | None = None, confidence: float = np.nan) -> int:
        self.file.append(file)
        self.position.append(position)
        self.face_id.append(face_id)
        self.success.append(0 if points is None else 1)
        self.score.append(score)
        self.confidence.append(confidence)
        self.points.append(points)
        self.pose.append(pose)
        return len(self.file) - 1

    def stacked(self) -> tuple[np.ndarray, np.ndarray]:
        """(N, 68, 2) landmarks and (N, 6) poses of the rows, NaN where a row has no face."""
        n = len(self.file)
        pts, pose = np.full((n, 68, 2), np.nan), np.full((n, 6), np.nan)
        for i, (p, q) in enumerate(zip(self.points, self.pose)):
            if p is not None:
                pts[i] = p
            if q is not None:
                pose[i] = q
        return pts, pose


def predict_unit(
    model: AUModel, unit: Unit, options: PredictOptions, overlays: OverlayWriter | None = None,
    stats: PredictStats | None = None, pool: LandmarkPool | None = None, landmarker: Landmarker | None = None,
) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """Predict every frame of one unit.

    Args:
        model: the loaded checkpoint (:func:`g2rl.predict.model.load_au_model`).
        unit: a video, image sequence or group of photos (:func:`g2rl.predict.inputs.plan_units`).
        options: the run's settings (faces, frame base, landmarks, workers, batch size...).
        overlays: write heatmap PNGs through this writer (None = none).
        stats: accumulate counts and timings here.
        pool: landmark worker processes (``options.workers`` >= 2), None = in a thread.
        landmarker: the in-thread landmarker to reuse (None = a new one).

    Returns:
        (table with :data:`AU_KEY_COLUMNS` + :func:`au_columns` [+ landmarks], failures) where
        failures are the unit's image files that could not be read (skipped).

    Raises:
        MediaError naming the file when a video cannot be opened or decoded (the unit fails).
    """
    from g2rl.media import video_info

    stats = PredictStats() if stats is None else stats
    failures: list[tuple[str, str]] = []
    label = unit.name or unit.path.name
    base = options.frame_base
    fps = 0.0
    if unit.kind == "video":
        count, fps, _, _ = video_info(unit.path)  # MediaError if it cannot be opened
        total = (min(count, options.max_frames) if options.max_frames else count) if count > 0 else options.max_frames
        source = _video_frames(unit.path, options.max_frames)
        stems = None
    else:
        total = len(unit.files)
        source = _image_frames(unit, failures)
        stems = [p.stem for p in unit.files] if unit.kind == "photos" else None  # the writer makes them safe
    settings = StageSettings(crop_size=model.crop_size, fast=not options.plain, faces=options.faces,
                             detector=options.detector)
    # ids that follow people through a video or a sequence; photos keep the size rank
    tracker = FaceTracker() if unit.kind != "photos" else None
    stage = LandmarkStage(source, settings, track=unit.kind != "photos", where=str(unit.path), pool=pool,
                          landmarker=landmarker, chunk_frames=options.chunk_frames)
    overlay_dir = None if overlays is None else overlays.unit_dir(label)
    batcher = _Batcher(model, options.batch_size, stats, overlays, overlay_dir)
    rows = _Rows()
    in_folder = unit.path.is_dir()
    bar = _bar(total, f"{label}: AUs", options.progress)
    n_frames = 0
    for ff in stage:
        n_frames += 1
        position = ff.position if (unit.kind == "video" or in_folder) else 0
        faces = [f for f in ff.faces if f.crop is not None]  # a fit that cannot be aligned is no face
        ids = list(range(len(faces))) if tracker is None else tracker.assign([face_box(f.points) for f in faces])
        if not faces:
            rows.add(ff.file, position, 0, np.nan, None)
        for k, face in enumerate(faces):
            row = rows.add(ff.file, position, ids[k], face.score, face.points, face.pose, face.confidence)
            overlay = None
            if overlays is not None and overlays.wants(ff.position):
                overlay = (stems[ff.position] if stems is not None else f"{position + base:06d}", k)
            batcher.add(row, face.crop, overlay)
        bar.update(1)
    batcher.flush()
    bar.close()
    stats.seconds_landmarks += stage.times.producer
    stats.seconds_waiting += stage.times.waiting

    if unit.kind == "video" and n_frames == 0:
        raise MediaError(f"{unit.path}: no frame could be decoded")
    if unit.kind == "video":
        from g2rl.media import truncation_note

        note = truncation_note(unit.path, n_frames, options.max_frames)
        if note:  # not an error: the frames that could be decoded are predicted
            log.warning("%s; the CSV has rows for those %d only", note, n_frames)
    n = len(rows.file)
    if n == 0:  # every image of the unit was unreadable; each is already in failures
        return empty_table(model.aus, options), failures
    position = np.asarray(rows.position, dtype=np.int64)
    if unit.kind == "video":
        if fps > 0:
            timestamp = position / fps
        else:
            log.warning("%s: the video reports no frame rate; timestamps left empty", unit.path)
            timestamp = np.full(n, np.nan)
    else:
        timestamp = np.zeros(n)
    score = np.asarray(rows.score, dtype=np.float64)
    success = np.asarray(rows.success, dtype=np.int64)
    pts, pose = rows.stacked()
    lo, hi = pts.min(axis=1), pts.max(axis=1)  # NaN rows stay NaN: no face, empty cells
    values = batcher.table(n)
    parts = {
        "file": rows.file, "frame": position + base, "face_id": np.asarray(rows.face_id, dtype=np.int64),
        "timestamp": timestamp, "confidence": np.asarray(rows.confidence, dtype=np.float64), "success": success,
        "detector_score": score, "face_x": lo[:, 0], "face_y": lo[:, 1], "face_w": hi[:, 0] - lo[:, 0],
        "face_h": hi[:, 1] - lo[:, 1], **dict(zip(POSE_COLUMNS, pose.T)), **dict(zip(au_columns(model.aus), values.T)),
    }  # fmt: skip
    if options.occurrence:
        # nullable integers: 1 / 0, and an empty cell (not 0) where no face was measured
        present = pd.DataFrame(values >= options.occurrence_threshold).astype("Int64").mask(np.isnan(values))
        parts.update(zip(occurrence_columns(model.aus), (present[k] for k in present.columns)))
    if options.landmarks:
        parts.update(zip(landmark_columns(), np.concatenate([pts[..., 0], pts[..., 1]], axis=1).T))
    table = pd.DataFrame(parts)[output_columns(model.aus, options)]
    stats.units += 1
    stats.frames += n_frames
    # a frame is a (file, position) pair: photos named on the command line all have position 0
    with_face = len({(f, p) for f, p, s in zip(rows.file, rows.position, rows.success) if s})
    stats.faces += int(success.sum())
    if success.sum() == 0:
        log.warning("%s: no face found in any of its %d frames (success=0, empty AU values)", unit.path, n_frames)
    else:
        log.info("%s: a face in %d of %d frames (%d faces measured)", unit.path, with_face, n_frames,
                 int(success.sum()))
    return table, failures


def empty_table(aus: Sequence[str], options: PredictOptions = PredictOptions()) -> pd.DataFrame:
    """A table with the output columns (:func:`output_columns`) and no rows."""
    types = {"file": str, "frame": np.int64, "face_id": np.int64, "success": np.int64}
    types.update({c: "Int64" for c in occurrence_columns(aus)})
    return pd.DataFrame({c: pd.Series(dtype=types.get(c, float)) for c in output_columns(aus, options)})


def predict_inputs(
    model: AUModel, inputs: Sequence[str | os.PathLike], options: PredictOptions = PredictOptions(),
    overlays: OverlayWriter | None = None, pool: LandmarkPool | None = None,
) -> PredictResult:
    """Predict every INPUT (videos, images, folders); a bad input is reported and skipped.

    ``pool``: landmark worker processes; with ``options.workers`` >= 2 and no pool given, one
    is started for this call.

    Returns a :class:`PredictResult` whose table holds the rows of every input that worked, in
    command-line order, and whose ``failures`` list each input (or image inside a folder) that
    could not be read, with the reason.
    """
    t0 = time.perf_counter()
    own_pool = None
    if pool is None and options.workers >= 2:
        pool = own_pool = LandmarkPool(not options.plain, options.workers, options.detector)
    try:
        stats = PredictStats()
        units, failures = plan_units(inputs, sequence=options.sequence)
        for path, reason in failures:
            log.error("%s: %s (skipped)", path, reason)
        landmarker = None if pool is not None else Landmarker(not options.plain, options.detector)
        tables = []
        for unit in units:
            try:
                table, bad = predict_unit(model, unit, options, overlays, stats, pool, landmarker)
            except MediaError as exc:
                log.error("%s (skipped)", exc)
                failures.append((str(unit.path), _reason(unit.path, exc)))
                continue
            failures.extend(bad)
            tables.append(table)
    finally:
        if own_pool is not None:
            own_pool.close()
    table = pd.concat(tables, ignore_index=True) if tables else empty_table(model.aus, options)
    stats.seconds_total = time.perf_counter() - t0
    output_errors = [] if overlays is None or overlays.error is None else [overlays.error]
    return PredictResult(table=table, failures=failures, stats=stats, output_errors=output_errors)


def _decimals(col: str) -> int | None:
    """Decimals a column is written with (None: as it is, e.g. integers and occurrences)."""
    if col == "timestamp":
        return 6  # microseconds
    if col == "confidence" or col.endswith("_r") or col.startswith("pose_R"):
        return 4  # intensities, 0-1 confidence, radians (0.006 degrees)
    if col.startswith("pose_T"):
        return 1  # mm
    if col == "detector_score" or col in BOX_COLUMNS or col[:2] in ("x_", "y_"):
        return 3  # px
    return None


def format_au_csv(table: pd.DataFrame) -> pd.DataFrame:
    """The table as written: intensities, confidence and angles (radians) to 4 decimals,
    timestamps to 6 (microseconds), detector scores, face boxes and landmarks to 3, translations
    to 1 (mm), occurrences as 0/1; missing values as empty cells."""
    df = table.copy()
    for col in df.columns:
        places = _decimals(col)
        if places is not None:
            df[col] = df[col].astype(float).round(places)
    return df


def write_au_csv(table: pd.DataFrame, out: str | os.PathLike) -> None:
    """Write the per-frame table atomically (:func:`format_au_csv`)."""
    df = format_au_csv(table)
    with atomic_path(out) as tmp:
        df.to_csv(tmp, index=False)
