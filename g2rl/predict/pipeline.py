"""Frames -> landmarks -> aligned crops -> network -> AU intensities, one row per frame.

The path is training's (docs/PREPROCESSING.md): dlib landmarks (the fast tracked path for a
video or an image sequence; each photo detected on its own), the 3-point affine to the
checkpoint's crop size, then the network (g2rl.predict.model). When a frame holds several faces,
the largest detected face is the one measured (LandmarkDetector's rule; on a followed video the
face being followed until the next detection).

Each unit is read twice: pass 1 runs the landmark detector over the whole stream (it tracks the
face from frame to frame and hands its rows back at the end), pass 2 decodes the frames again,
warps the ones with a face and runs the network in batches. Two passes keep memory bounded by
one batch of crops for any video length; the second decode costs far less than landmarking
(docs/PERFORMANCE.md).

Output table (``AU_KEY_COLUMNS`` + ``<AU>_r`` per AU of the checkpoint), one row per frame:

* ``file``: the video, or the image file.
* ``frame``: 0-based video frame index; an image's position in its folder (natural order), 0
  for an image named on the command line.
* ``timestamp``: seconds, ``frame / fps`` of the video (empty if the video reports no fps);
  0 for images.
* ``success``: 1 when a face was found and measured, else 0 (AU values then empty).
* ``confidence``: dlib's detector score of that face (of its last detection on a followed
  video); empty without a face.
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
from g2rl.errors import G2RLError, MediaError
from g2rl.predict.inputs import Unit, plan_units
from g2rl.predict.model import AUModel
from g2rl.predict.overlays import OverlayWriter

log = logging.getLogger("g2rl.predict")

AU_KEY_COLUMNS = ["file", "frame", "timestamp", "success", "confidence"]


def au_columns(aus: Sequence[str]) -> list[str]:
    """OpenFace-style intensity columns: ``AU01`` -> ``AU01_r``."""
    return [f"{au}_r" for au in aus]


@dataclass
class PredictStats:
    """Counts and wall-clock seconds of a run, split by stage.

    ``seconds_landmarks``: pass 1 (decode + dlib detection/tracking + 68-point fit);
    ``seconds_align``: pass 2 decode + affine warp; ``seconds_network``: normalisation, forward
    pass, decoding of the maxima (incl. the device transfers); ``seconds_overlays``: PNGs.
    """

    units: int = 0
    frames: int = 0
    faces: int = 0
    seconds_landmarks: float = 0.0
    seconds_align: float = 0.0
    seconds_network: float = 0.0
    seconds_overlays: float = 0.0
    seconds_total: float = 0.0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class PredictResult:
    """The per-frame table, the inputs that failed (path, reason) and the run's stats."""

    table: pd.DataFrame
    failures: list[tuple[str, str]] = field(default_factory=list)
    stats: PredictStats = field(default_factory=PredictStats)


def _bar(iterable, total, desc, progress):
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit="frame", disable=not progress, leave=False, dynamic_ncols=True)


class _Batcher:
    """Collects aligned crops, runs the network on full batches, stores intensities by row."""

    def __init__(self, model: AUModel, n_rows: int, batch_size: int, stats: PredictStats,
                 overlays: OverlayWriter | None, overlay_dir: Path | None):
        self.model = model
        self.batch_size = batch_size
        self.stats = stats
        self.overlays = overlays
        self.overlay_dir = overlay_dir
        self.values = np.full((n_rows, len(model.aus)), np.nan, dtype=np.float32)
        self._rows: list[int] = []
        self._crops: list[np.ndarray] = []
        self._stems: list[str | None] = []  # overlay file stem, None = no overlay for this row

    def add(self, row: int, crop: np.ndarray, overlay_stem: str | None) -> None:
        self._rows.append(row)
        self._crops.append(crop)
        self._stems.append(overlay_stem)
        if len(self._rows) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if not self._rows:
            return
        crops = np.stack(self._crops)
        want_maps = any(s is not None for s in self._stems)
        t = time.perf_counter()
        intensity, maps = self.model.predict(crops, heatmaps=want_maps)
        self.stats.seconds_network += time.perf_counter() - t
        self.values[self._rows] = intensity
        if want_maps:
            t = time.perf_counter()
            for j, stem in enumerate(self._stems):
                if stem is not None:
                    self.overlays.write(self.overlay_dir, stem, crops[j], maps[j], intensity[j])
            self.stats.seconds_overlays += time.perf_counter() - t
        self._rows, self._crops, self._stems = [], [], []


def _video_frames(path: Path, limit: int | None) -> Iterator[np.ndarray]:
    from g2rl.media import iter_video_frames

    for i, frame in enumerate(iter_video_frames(path)):
        if limit is not None and i >= limit:
            return
        yield frame


def _reason(path: str | os.PathLike, exc: Exception) -> str:
    """An error's message without the leading "<path>: " (the report names the path itself)."""
    text, prefix = str(exc), f"{path}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def _unique_stems(files: Sequence[Path]) -> list[str]:
    """Image stems for overlay names, with the position appended where two images share one."""
    stems = [p.stem for p in files]
    seen: dict[str, int] = {}
    for s in stems:
        seen[s] = seen.get(s, 0) + 1
    return [s if seen[s] == 1 else f"{s}-{i}" for i, s in enumerate(stems)]


def predict_unit(
    model: AUModel, detector, unit: Unit, batch_size: int = 16, max_frames: int | None = None,
    overlays: OverlayWriter | None = None, progress: bool = True, stats: PredictStats | None = None,
) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """Predict every frame of one unit.

    Args:
        model: the loaded checkpoint (:func:`g2rl.predict.model.load_au_model`).
        detector: a :class:`g2rl.preprocess.landmarks.LandmarkDetector`.
        unit: a video, image sequence or group of photos (:func:`g2rl.predict.inputs.plan_units`).
        batch_size: crops per forward pass.
        max_frames: video: stop after this many frames.
        overlays: write heatmap PNGs through this writer (None = none).
        progress: tqdm bars (stderr).
        stats: accumulate counts and timings here.

    Returns:
        (table with :data:`AU_KEY_COLUMNS` + :func:`au_columns`, failures) where failures are
        the unit's image files that could not be read (skipped; the rest is predicted).

    Raises:
        MediaError naming the file when a video cannot be opened or decoded (the unit fails).
    """
    from g2rl.media import read_image, video_info
    from g2rl.preprocess.align import alignment_matrix, warp_to_crop
    from g2rl.preprocess.landmarks import landmark_array

    stats = PredictStats() if stats is None else stats
    failures: list[tuple[str, str]] = []
    is_video = unit.kind == "video"
    label = unit.name or unit.path.name

    # pass 1: landmarks (the detector follows the face through a video or sequence)
    t0 = time.perf_counter()
    if is_video:
        count, fps, _, _ = video_info(unit.path)  # MediaError if it cannot be opened
        total = (min(count, max_frames) if max_frames else count) if count > 0 else max_frames
        frames = _bar(_video_frames(unit.path, max_frames), total, f"{label}: landmarks", progress)
        lm = detector.frames(frames, track=True, progress=False)
        frames.close()
        if len(lm) == 0:
            raise MediaError(f"{unit.path}: no frame could be decoded")
        files = [str(unit.path)] * len(lm)
        frame_no = np.arange(len(lm), dtype=np.int64)
        if fps > 0:
            timestamp = frame_no / fps
        else:
            log.warning("%s: the video reports no frame rate; timestamps left empty", unit.path)
            timestamp = np.full(len(lm), np.nan)
        read_ok: list[int] = list(range(len(lm)))
    else:
        read_ok = []  # positions in unit.files of the images that could be read

        def images() -> Iterator[np.ndarray]:
            for i, p in enumerate(unit.files):
                try:
                    img = read_image(p)
                except MediaError as exc:
                    log.error("%s", exc)
                    failures.append((str(p), _reason(p, exc)))
                    continue
                read_ok.append(i)
                yield img

        frames = _bar(images(), len(unit.files), f"{label}: landmarks", progress)
        lm = detector.frames(frames, track=unit.kind == "sequence", progress=False)
        frames.close()
        files = [str(unit.files[i]) for i in read_ok]
        in_folder = unit.path.is_dir()
        frame_no = np.array(read_ok if in_folder else [0] * len(read_ok), dtype=np.int64)
        timestamp = np.zeros(len(read_ok))
    stats.seconds_landmarks += time.perf_counter() - t0

    n = len(lm)
    if n == 0:  # every image of the unit was unreadable; each is already in failures
        return empty_table(model.aus), failures
    success = lm["success"].to_numpy(np.int64).copy()
    points = landmark_array(lm)
    confidence = lm["confidence"].to_numpy(float).copy()
    overlay_dir = None
    stems: list[str] = []
    if overlays is not None:
        overlay_dir = overlays.unit_dir(label)
        if unit.kind == "photos":
            unique = _unique_stems(unit.files)
            stems = [unique[i] for i in read_ok]
        else:
            stems = [f"{f:06d}" for f in frame_no]
    batcher = _Batcher(model, n, batch_size, stats, overlays, overlay_dir)

    # pass 2: decode again, warp the frames with a face, run the network in batches
    s = model.crop_size
    faces = np.flatnonzero(success == 1)
    bar = _bar(None, len(faces), f"{label}: AUs", progress)
    t1 = time.perf_counter()
    net_before = stats.seconds_network + stats.seconds_overlays
    if is_video:
        source = ((i, f) for i, f in enumerate(_video_frames(unit.path, n)))
    else:
        source = ((j, read_image(unit.files[read_ok[j]])) for j in faces)
    seen = 0
    for row, frame in source:
        seen += 1
        if success[row] != 1:
            continue
        try:
            m = alignment_matrix(points[row], s)
        except G2RLError as exc:  # degenerate fit (eye corners and chin collinear): no usable face
            log.warning("%s frame %d: %s; frame marked success=0", files[row], frame_no[row], exc)
            success[row], confidence[row] = 0, np.nan
            continue
        crop = warp_to_crop(frame, m, s)
        want = overlays is not None and overlays.wants(int(frame_no[row]))
        batcher.add(row, crop, stems[row] if want else None)
        bar.update(1)
    batcher.flush()
    bar.close()
    if is_video and seen != n:
        raise MediaError(f"{unit.path}: {n} frames decoded on the first read but {seen} on the second")
    stats.seconds_align += time.perf_counter() - t1 - (stats.seconds_network + stats.seconds_overlays - net_before)

    table = pd.DataFrame({
        "file": files, "frame": frame_no, "timestamp": timestamp, "success": success, "confidence": confidence,
    })  # fmt: skip
    values = batcher.values
    values[success != 1] = np.nan
    for k, col in enumerate(au_columns(model.aus)):
        table[col] = values[:, k]
    stats.units += 1
    stats.frames += n
    stats.faces += int(success.sum())
    if success.sum() == 0:
        log.warning("%s: no face found in any of its %d frames (success=0, empty AU values)", unit.path, n)
    else:
        log.info("%s: face in %d of %d frames", unit.path, int(success.sum()), n)
    return table, failures


def empty_table(aus: Sequence[str]) -> pd.DataFrame:
    """A table with the output columns and no rows."""
    cols = {"file": pd.Series(dtype=str), "frame": pd.Series(dtype=np.int64), "timestamp": pd.Series(dtype=float),
            "success": pd.Series(dtype=np.int64), "confidence": pd.Series(dtype=float)}
    cols.update({c: pd.Series(dtype=np.float32) for c in au_columns(aus)})
    return pd.DataFrame(cols)


def predict_inputs(
    model: AUModel, detector, inputs: Sequence[str | os.PathLike], sequence: bool = False, batch_size: int = 16,
    max_frames: int | None = None, overlays: OverlayWriter | None = None, progress: bool = True,
) -> PredictResult:
    """Predict every INPUT (videos, images, folders); a bad input is reported and skipped.

    Returns a :class:`PredictResult` whose table holds the rows of every input that worked, in
    command-line order, and whose ``failures`` list each input (or image inside a folder) that
    could not be read, with the reason.
    """
    t0 = time.perf_counter()
    stats = PredictStats()
    units, failures = plan_units(inputs, sequence=sequence)
    for path, reason in failures:
        log.error("%s: %s (skipped)", path, reason)
    tables = []
    for unit in units:
        try:
            table, bad = predict_unit(model, detector, unit, batch_size, max_frames, overlays, progress, stats)
        except MediaError as exc:
            log.error("%s (skipped)", exc)
            failures.append((str(unit.path), _reason(unit.path, exc)))
            continue
        failures.extend(bad)
        tables.append(table)
    table = pd.concat(tables, ignore_index=True) if tables else empty_table(model.aus)
    stats.seconds_total = time.perf_counter() - t0
    return PredictResult(table=table, failures=failures, stats=stats)


def write_au_csv(table: pd.DataFrame, out: str | os.PathLike) -> None:
    """Write the per-frame table atomically: intensities and confidence to 4 decimals, timestamps
    to 6 (microseconds), missing values as empty cells."""
    df = table.copy()
    df["timestamp"] = df["timestamp"].astype(float).round(6)
    df["confidence"] = df["confidence"].astype(float).round(4)
    for col in df.columns[len(AU_KEY_COLUMNS):]:
        df[col] = df[col].astype(float).round(4)
    with atomic_path(out) as tmp:
        df.to_csv(tmp, index=False)
