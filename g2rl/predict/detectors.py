"""``--detector hog|cnn``: which dlib face detector finds the faces the 68-point fit starts from.

* ``hog`` (default, and what the workflow uses): dlib's frontal HOG + linear SVM detector. Fast
  (~50 ms per 512 x 512 image on one core), finds upright frontal faces of >= ~80 px.
* ``cnn``: dlib's MMOD CNN detector (``mmod_human_face_detector.dat`` from the same models
  package). It finds about twice as many of the tilted and partly covered faces (sunglasses), but
  no smaller ones (both need ~60 px without upsampling), and on a CPU build of dlib costs ~60x
  HOG's time, ~2-3 s per 512 x 512 image (a CUDA build of dlib runs it on the GPU). On a video the
  tracked path detects only every 11th frame, which spreads that cost; ``--faces all`` detects on
  every frame. Figures: docs/PREDICT.md (benchmarks/bench_detectors.py).

Everything after the detector is shared: the box goes to the same 68-point shape predictor, the
same tracker and alignment. The CNN's ``detector_score`` is MMOD's detection confidence (0 at its
threshold, like HOG's SVM margin); ``confidence`` maps it through the curve fitted on HOG scores,
so with ``cnn`` it orders detections but is not calibrated.
"""

from __future__ import annotations

import numpy as np

DETECTORS = ("hog", "cnn")


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


def landmark_detector(fast: bool, detector: str = "hog"):
    """A :class:`g2rl.preprocess.landmarks.LandmarkDetector` (default settings) finding faces with
    ``detector`` (:data:`DETECTORS`)."""
    from g2rl.errors import G2RLError
    from g2rl.preprocess.landmarks import LandmarkDetector

    if detector not in DETECTORS:
        raise G2RLError(f"--detector must be one of {', '.join(DETECTORS)}, got {detector!r}")
    found = LandmarkDetector(fast=fast)
    if detector == "cnn":
        # LandmarkDetector takes no detector argument (g2rl landmarks and training always use HOG);
        # it only calls `run` on this attribute, which CnnFaceDetector provides
        found._detector = CnnFaceDetector()
    return found
