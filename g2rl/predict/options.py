"""The settings of one ``g2rl predict`` run, grouped so that the CLI, the library call and the
benchmark pass them whole."""

from __future__ import annotations

from dataclasses import dataclass

import math

from g2rl.errors import G2RLError
from g2rl.predict.stream import FACE_MODES
from g2rl.preprocess.detectors import DEFAULT_DETECTOR, check_detector


@dataclass(frozen=True)
class PredictOptions:
    """How inputs are read and what the CSV holds (docs/PREDICT.md).

    Attributes:
        sequence: folders hold the frames of one video (followed) rather than separate photos.
        batch_size: faces per forward pass.
        max_frames: videos: stop after this many frames (None = all).
        plain: landmarks by full-resolution detection on every frame instead of the tracked path.
        faces: ``largest`` (one face per frame) or ``all`` (every face, largest first).
        landmarks: add the 68 points (``x_0..x_67, y_0..y_67``, frame px) to the CSV.
        frame_base: the number of a video's first frame in the ``frame`` column (0 or 1).
        workers: landmark workers (1 = a thread beside the network; N >= 2 = N processes).
        chunk_frames: frames per unit of landmark work (a chunk; each starts with a detection
            when ``workers`` >= 2); None = 3 detection periods (33 frames, see g2rl.predict.stream).
        progress: tqdm bars on stderr.
        detector: the face detector, ``blazeface`` (default), ``hog`` or ``cnn`` (g2rl.preprocess.detectors).
        occurrence: add ``AUxx_c`` columns: 1 where the intensity is >= ``occurrence_threshold``
            (default 1, FACS level A), 0 below it, empty without a face.
        torch_threads: torch's intra-op threads for the network; None = the cores the landmark
            stage leaves (g2rl.predict.threads).
    """

    sequence: bool = False
    batch_size: int = 16
    max_frames: int | None = None
    plain: bool = False
    faces: str = "largest"
    landmarks: bool = False
    frame_base: int = 0
    workers: int = 1
    chunk_frames: int | None = None
    progress: bool = True
    detector: str = DEFAULT_DETECTOR
    occurrence: bool = False
    occurrence_threshold: float = 1.0
    torch_threads: int | None = None

    def __post_init__(self):
        if self.batch_size < 1:
            raise G2RLError(f"batch size must be >= 1, got {self.batch_size}")
        if self.faces not in FACE_MODES:
            raise G2RLError(f"--faces must be one of {', '.join(FACE_MODES)}, got {self.faces!r}")
        if self.frame_base not in (0, 1):
            raise G2RLError(f"--frame-base must be 0 or 1, got {self.frame_base!r}")
        if self.workers < 1 or (self.chunk_frames is not None and self.chunk_frames < 1):
            raise G2RLError(f"workers and chunk_frames must be >= 1, got {self.workers}, {self.chunk_frames}")
        if self.torch_threads is not None and self.torch_threads < 1:
            raise G2RLError(f"--torch-threads must be >= 1, got {self.torch_threads}")
        if self.max_frames is not None and self.max_frames < 1:
            raise G2RLError(f"--max-frames must be >= 1, got {self.max_frames}")
        check_detector(self.detector)
        t = self.occurrence_threshold
        if not (isinstance(t, (int, float)) and math.isfinite(t) and 0 < t <= 5):
            raise G2RLError(f"--occurrence-threshold must be an intensity in (0, 5], got {t!r}")
