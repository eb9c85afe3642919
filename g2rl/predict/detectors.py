"""``--detector hog|cnn``: which dlib face detector finds the faces the 68-point fit starts from.

* ``hog`` (default, and what the workflow uses): dlib's frontal HOG + linear SVM detector. Fast
  (~50 ms per 512 x 512 image on one core), finds upright frontal faces of >= ~80 px.
* ``cnn``: dlib's MMOD CNN detector (``mmod_human_face_detector.dat`` from the same models
  package). It finds more of the turned, tilted and partly covered faces, and faces down to
  ~40 px, but on a CPU build of dlib costs ~3 s per 512 x 512 image (a CUDA build of dlib runs
  it on the GPU). On a video the tracked path detects only every 11th frame, which spreads that
  cost; ``--faces all`` detects on every frame. Figures: docs/PREDICT.md.

Everything after the detector is shared: the box goes to the same 68-point shape predictor, the
same tracker and alignment. The CNN's ``detector_score`` is MMOD's detection confidence (0 at its
threshold, like HOG's SVM margin); ``confidence`` maps it through the curve fitted on HOG scores,
so with ``cnn`` it orders detections but is not calibrated.
"""

from __future__ import annotations

import numpy as np

DETECTORS = ("hog", "cnn")


# MMOD's boxes sit higher on the face than the HOG boxes the 68-point model was trained on (by ~10 %
# of their width on the astronaut and Grace Hopper photos); moved down by this share of their width
# before the fit, the fits from the two detectors' boxes lie 5.2 % of the inter-ocular distance apart
# on average instead of 8.2 % (18 % at worst instead of 44 %: a fit that slid off a rotated face;
# median 4.5 % both ways), on the 15 images of benchmarks/bench_detectors.py at scales 0.5-1 and
# 0-30 degrees that both detectors find.
CNN_BOX_SHIFT = 0.1


class CnnFaceDetector:
    """dlib's MMOD CNN detector behind the HOG detector's ``run`` interface, which
    :class:`g2rl.preprocess.landmarks.LandmarkDetector` calls: ``run(image, upsample, threshold)
    -> (rectangles, scores, kinds)``. Boxes are moved down by :data:`CNN_BOX_SHIFT` of their width."""

    def __init__(self):
        from g2rl.preprocess.dlib_models import cnn_face_detector

        self.net = cnn_face_detector()

    def run(self, image: np.ndarray, upsample: int = 0, threshold: float = 0.0):
        """Faces of one RGB uint8 (H, W, 3) image: (dlib rectangles, MMOD confidences, zeros),
        those with a confidence >= ``threshold``; ``upsample``: dlib's pyramid upsampling."""
        import dlib

        found = [d for d in self.net(image, int(upsample)) if d.confidence >= threshold]
        rects = []
        for d in found:
            r, dy = d.rect, int(round(CNN_BOX_SHIFT * d.rect.width()))
            rects.append(dlib.rectangle(r.left(), r.top() + dy, r.right(), r.bottom() + dy))
        return rects, [float(d.confidence) for d in found], [0] * len(found)


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
