"""The landmark stage of ``g2rl predict``: frames -> faces (68 points, detector score, fit confidence,
aligned crop, head pose).

It runs beside the network, never before it: a producer thread decodes each video once, finds
the faces and warps them to the checkpoint's crop size, and hands the results, in frame order,
through a bounded queue (:class:`LandmarkStage`) to the consumer that batches the crops for the
network (g2rl.predict.pipeline). The queue bounds memory to a few chunks of frames for any video
length, and the network never waits for landmarks it could overlap with.

Workers (``workers``):

* ``1``: the producer thread itself finds the landmarks. A video is followed from its first
  frame to its last by one tracker, exactly as ``g2rl landmarks`` and training do.
* ``N >= 2``: the producer thread decodes and sends chunks of ``chunk_frames`` consecutive
  frames to N worker processes (dlib holds Python's lock, so threads would not scale). Each
  chunk starts with a detection (the tracker is re-seeded there) and is followed within; the
  results come back in order. The default chunk is 3 detection periods (33 frames: a
  detection and 10 followed frames, 3 times), so a chunk starts where one tracker would detect
  anyway and the points are identical to one worker's as long as no fit degrades; after a
  degraded fit (an extra detection shifts one tracker's schedule) they differ until the chunk
  ends, by about the fast path's own distance to the plain path (~2 % of the inter-ocular
  distance). tests/test_predict_stream.py compares them; benchmarks/bench_predict.py measures
  it on a real video.

Faces (``faces``): ``largest`` keeps the largest detected face of each frame (on a followed
video, the face being followed, as in training); ``all`` detects every frame on its own and
keeps every face, largest first (no tracking: the plain path's cost, ~50 frames/s per core on
640x360).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import numpy as np

from g2rl.errors import G2RLError
from g2rl.preprocess.detectors import DEFAULT_DETECTOR

log = logging.getLogger("g2rl.predict")

FACE_MODES = ("largest", "all")


def default_chunk_frames() -> int:
    """3 detection periods of the fast path with default settings (33 frames): chunk starts fall
    on frames where one tracker detects anyway."""
    from g2rl.preprocess.landmarks import REDETECT_EVERY

    return 3 * (REDETECT_EVERY + 1)


@dataclass(frozen=True)
class StageSettings:
    """What the landmark stage does to each frame (picklable: sent to worker processes).

    Attributes:
        crop_size: side S of the aligned crop (px), the checkpoint's.
        fast: the fast tracked landmark path (False = full-resolution detection on every frame).
        faces: ``largest`` or ``all`` (module docstring).
        detector: ``blazeface``, ``hog`` or ``cnn`` (g2rl.preprocess.detectors).
    """

    crop_size: int
    fast: bool = True
    faces: str = "largest"
    detector: str = DEFAULT_DETECTOR

    def __post_init__(self):
        from g2rl.preprocess.detectors import check_detector

        if self.faces not in FACE_MODES:
            raise G2RLError(f"faces must be one of {', '.join(FACE_MODES)}, got {self.faces!r}")
        check_detector(self.detector)


@dataclass
class Face:
    """One face of one frame.

    Attributes:
        score: the detector's score (BlazeFace: face probability; HOG: SVM margin; CNN: MMOD
            confidence; on a followed frame: of the last detection).
        points: (68, 2) float64 landmarks, full-frame px.
        crop: (S, S, 3) uint8 RGB aligned crop, or None when the fit cannot be aligned
            (landmarks 8, 36, 45 collinear).
        pose: (6,) float64 head pose Tx, Ty, Tz (mm), Rx, Ry, Rz (radians) from the points
            (g2rl.predict.pose.head_pose), computed here, beside the network.
        confidence: 0-1, how well the points fit a face (g2rl.predict.confidence); NaN when the
            fit cannot be aligned.
    """

    score: float
    points: np.ndarray
    crop: np.ndarray | None
    pose: np.ndarray | None = None
    confidence: float = float("nan")


@dataclass
class FrameFaces:
    """The landmark stage's result for one frame: its 0-based position in the unit, the file it
    came from, and its faces (largest first; empty = no face)."""

    position: int
    file: str
    faces: list[Face] = field(default_factory=list)


class Landmarker:
    """A LandmarkDetector plus fit confidence, alignment and head pose: frames -> [Face, ...] per frame.

    Args:
        fast: the fast tracked landmark path (False = plain).
        detector: ``blazeface``, ``hog`` or ``cnn`` (g2rl.preprocess.detectors).
    """

    def __init__(self, fast: bool, detector: str = DEFAULT_DETECTOR):
        from g2rl.preprocess.landmarks import LandmarkDetector

        self.fast = bool(fast)
        self.detector_kind = detector
        self.detector = LandmarkDetector(fast=fast, detector=detector)

    def frame(self, frame: np.ndarray, settings: StageSettings, track: bool, where: str) -> list[Face]:
        from g2rl.predict.confidence import fit_confidence
        from g2rl.predict.pose import head_pose
        from g2rl.preprocess.align import alignment_matrix, warp_to_crop

        if settings.fast != self.fast or settings.detector != self.detector_kind:
            raise ValueError("settings.fast or settings.detector differs from this landmarker's detector")
        s = settings.crop_size
        if settings.faces == "all":
            found = self.detector.all_faces(frame)
        else:
            ok, score, points = self.detector.step(frame, track=track)
            found = [(score, points, self.detector.last_box)] if ok else []
        faces = []
        for score, points, box in found:
            try:
                crop = warp_to_crop(frame, alignment_matrix(points, s), s)
            except G2RLError as exc:  # degenerate fit: no usable face
                log.warning("%s: %s; face not measured", where, exc)
                crop = None
            pose, confidence = None, float("nan")
            if crop is not None:
                pose = head_pose(points, frame.shape[1], frame.shape[0])
                confidence = fit_confidence(lambda b: self.detector.fit(frame, b), points, box)
            faces.append(Face(score=score, points=points, crop=crop, pose=pose, confidence=confidence))
        return faces

    def chunk(self, frames: list[np.ndarray], settings: StageSettings, track: bool, reseed: bool,
              where: str) -> list[list[Face]]:
        if reseed:
            self.detector.reset()
        return [self.frame(f, settings, track, where) for f in frames]


# -- worker processes --------------------------------------------------------------------------

_WORKER: Landmarker | None = None


def _worker_init(fast: bool, detector: str) -> None:
    import signal

    import cv2

    global _WORKER
    # Ctrl-C reaches the whole process group: the parent stops the run and the pool; a worker
    # that took it too would print its own KeyboardInterrupt traceback
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # a worker is one core's work; sequential OpenCV also never touches a thread pool copied by fork
    cv2.setNumThreads(0)
    _WORKER = Landmarker(fast, detector)


def _worker_chunk(frames: list[np.ndarray], settings: StageSettings, track: bool, where: str) -> list[list[Face]]:
    # a chunk is processed on its own: the tracker is re-seeded by a detection at its first frame
    return _WORKER.chunk(frames, settings, track, reseed=True, where=where)


class LandmarkPool:
    """N landmark worker processes, started once per run (each loads dlib's 99 MB model).

    Start it early (before loading the network) so the workers' start-up overlaps with it. Use
    as a context manager, or call :meth:`close`.

    Args:
        fast: the fast tracked landmark path (False = plain), as StageSettings.fast.
        workers: processes (>= 2).
        detector: ``blazeface``, ``hog`` or ``cnn``, as StageSettings.detector.
    """

    def __init__(self, fast: bool, workers: int, detector: str = DEFAULT_DETECTOR):
        import multiprocessing

        from g2rl.preprocess.detectors import face_detector
        from g2rl.preprocess.dlib_models import shape_predictor

        if workers < 2:
            raise ValueError(f"a pool needs >= 2 workers, got {workers}")
        self.fast = bool(fast)
        self.detector = detector
        self.workers = int(workers)
        # fork where the platform has it: the workers inherit dlib's models loaded here (no
        # 0.5 s load each), and a caller's script without a `__main__` guard is not re-run, as
        # spawn would. The workers never use torch, so its thread pools copied by fork stay idle.
        # Building the detector here also reports a missing model file once, before any worker starts.
        face_detector(detector), shape_predictor()
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        ctx = multiprocessing.get_context(method)
        self.executor = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init,
                                            initargs=(self.fast, detector))
        # start every worker now, not at the first chunk
        self._ready = [self.executor.submit(os.getpid) for _ in range(workers)]

    def submit(self, frames: list[np.ndarray], settings: StageSettings, track: bool, where: str) -> Future:
        if settings.fast != self.fast or settings.detector != self.detector:
            raise ValueError("settings.fast or settings.detector differs from the pool's landmark path")
        return self.executor.submit(_worker_chunk, frames, settings, track, where)

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "LandmarkPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# -- the producer -------------------------------------------------------------------------------

_DONE = object()


@dataclass
class StageTimes:
    """Seconds spent by the landmark stage (in the producer thread or, summed, in workers'
    results waited for) and by the consumer waiting for it."""

    producer: float = 0.0
    waiting: float = 0.0


class LandmarkStage:
    """Runs the landmark stage of one unit in a producer thread; iterate it for FrameFaces in
    frame order.

    Args:
        frames: iterable of (position, file, RGB uint8 frame), in order (decoded lazily by the
            producer thread: each frame is decoded once).
        settings: what to do per frame.
        track: follow the face from frame to frame (a video or ``--sequence``), else detect each.
        where: a label for messages (the unit's path).
        pool: worker processes (None = the producer thread finds the landmarks itself).
        landmarker: the in-thread landmarker (reused across units; None = a new one).
        chunk_frames: frames per chunk (the unit of work sent to a worker and put on the queue);
            None = :func:`default_chunk_frames`.
        queue_chunks: chunks that may wait in the queue (bounds memory).

    An exception in the producer (e.g. a video that cannot be decoded) is raised again by the
    iteration, in the consumer's thread.
    """

    def __init__(self, frames: Iterable[tuple[int, str, np.ndarray]], settings: StageSettings, track: bool,
                 where: str, pool: LandmarkPool | None = None, landmarker: Landmarker | None = None,
                 chunk_frames: int | None = None, queue_chunks: int = 4):
        chunk_frames = default_chunk_frames() if chunk_frames is None else chunk_frames
        if chunk_frames < 1 or queue_chunks < 1:
            raise ValueError("chunk_frames and queue_chunks must be >= 1")
        self.frames = frames
        self.settings = settings
        self.track = track
        self.where = where
        self.pool = pool
        self.landmarker = (landmarker if (landmarker is not None or pool is not None)
                           else Landmarker(settings.fast, settings.detector))
        self.chunk_frames = chunk_frames
        self.times = StageTimes()
        self._queue: queue.Queue = queue.Queue(maxsize=queue_chunks)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="g2rl-landmarks", daemon=True)

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _chunks(self) -> Iterator[tuple[list[int], list[str], list[np.ndarray]]]:
        pos, files, frames = [], [], []
        for p, f, frame in self.frames:
            pos.append(p)
            files.append(f)
            frames.append(frame)
            if len(frames) == self.chunk_frames:
                yield pos, files, frames
                pos, files, frames = [], [], []
        if frames:
            yield pos, files, frames

    def _produce(self) -> None:
        try:
            t0 = time.perf_counter()
            if self.pool is None:
                self.landmarker.detector.reset()
                for pos, files, frames in self._chunks():
                    faces = self.landmarker.chunk(frames, self.settings, self.track, reseed=False, where=self.where)
                    if not self._put([FrameFaces(p, f, fc) for p, f, fc in zip(pos, files, faces)]):
                        return
            else:
                inflight: list[tuple[list[int], list[str], Future]] = []
                limit = 2 * self.pool.workers  # chunks in flight: every worker busy, one more queued each
                for pos, files, frames in self._chunks():
                    inflight.append((pos, files, self.pool.submit(frames, self.settings, self.track, self.where)))
                    del frames  # the worker holds its copy
                    while len(inflight) >= limit:
                        if not self._deliver(inflight.pop(0)):
                            return
                while inflight:
                    if not self._deliver(inflight.pop(0)):
                        return
            self.times.producer += time.perf_counter() - t0
            self._put(_DONE)
        except BaseException as exc:  # handed to the consumer, which raises it
            self._put(exc)

    def _deliver(self, item) -> bool:
        pos, files, future = item
        faces = future.result()
        return self._put([FrameFaces(p, f, fc) for p, f, fc in zip(pos, files, faces)])

    def __iter__(self) -> Iterator[FrameFaces]:
        self._thread.start()
        try:
            while True:
                t = time.perf_counter()
                item = self._queue.get()
                self.times.waiting += time.perf_counter() - t
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield from item
        finally:
            self._stop.set()
            self._thread.join()
