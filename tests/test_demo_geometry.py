"""Every AU moves the landmarks dlib re-detects on the demo faces, in the direction FACS gives.

These tests fit dlib on the rendered pixels (HOG detector + 68-point predictor), never on the
generator's own points, so they check that the geometry a pipeline would measure carries each AU.
"""

from __future__ import annotations

import numpy as np
import pytest

from g2rl.demo.expressions import AUS
from g2rl.demo.faces import detect_landmarks, inter_ocular
from g2rl.demo.identity import make_identity
from g2rl.demo.render import FaceRenderer

# Two subjects on each base photo, each seen in three slightly different head poses: a single dlib
# fit can jump (e.g. to the astronaut's fringe), so the test looks at the median over 12 fits.
SUBJECTS = [("SN001", "astronaut"), ("SN002", "grace_hopper"), ("SN011", "astronaut"), ("SN013", "grace_hopper")]
POSES = [(0.0, 1.0, 0.0, 0.0), (2.0, 1.02, 4.0, -3.0), (-2.0, 0.98, -4.0, 3.0)]
MIN_SHIFT_IOD = 0.02  # median re-detected movement at intensity 5 must exceed 2 % of the eye distance


def _dy(d, idx):
    return float(d[list(idx), 1].mean())


def _mouth_width(lm):
    return float(np.linalg.norm(lm[54] - lm[48]))


# AU -> signed movement (IOD units) that FACS predicts to be positive; a = landmarks at 0, b at 5.
# Written from the FACS descriptions, independently of the generator's displacement tables.
EXPECTED = {
    1: ("inner brows (21, 22) rise", lambda a, b: -_dy(b - a, (21, 22))),
    2: ("outer brows (17, 18, 25, 26) rise", lambda a, b: -_dy(b - a, (17, 18, 25, 26))),
    4: ("inner brows (20-23) lower", lambda a, b: _dy(b - a, (20, 21, 22, 23))),
    5: ("upper lids (37, 38, 43, 44) rise", lambda a, b: -_dy(b - a, (37, 38, 43, 44))),
    6: ("lower lids (40, 41, 46, 47) rise", lambda a, b: -_dy(b - a, (40, 41, 46, 47))),
    9: ("nose wings and tip (31-35) rise", lambda a, b: -_dy(b - a, (31, 32, 33, 34, 35))),
    10: ("upper lip (50-52) rises", lambda a, b: -_dy(b - a, (50, 51, 52))),
    12: ("mouth corners (48, 54) rise", lambda a, b: -_dy(b - a, (48, 54))),
    14: ("mouth corners move inwards (width shrinks)", lambda a, b: _mouth_width(a) - _mouth_width(b)),
    15: ("mouth corners (48, 54) lower", lambda a, b: _dy(b - a, (48, 54))),
    17: ("chin (7-9) and lower lip (57) rise", lambda a, b: -_dy(b - a, (7, 8, 9, 57))),
    20: ("mouth widens", lambda a, b: _mouth_width(b) - _mouth_width(a)),
    25: ("inner lips part (66 - 62 gap grows)", lambda a, b: (b[66, 1] - b[62, 1]) - (a[66, 1] - a[62, 1])),
    26: ("jaw (7-9) drops", lambda a, b: _dy(b - a, (7, 8, 9))),
}


@pytest.fixture(scope="module")
def renderers():
    return [FaceRenderer(make_identity(s, base, seed=0), (384, 288)) for s, base in SUBJECTS]


@pytest.fixture(scope="module")
def neutral_fits(renderers):
    out = {}
    for i, r in enumerate(renderers):
        for j, pose in enumerate(POSES):
            faces = detect_landmarks(r.render({}, pose))
            assert faces, f"{SUBJECTS[i][0]}: no face at intensity 0, pose {pose}"
            out[i, j] = faces[0]
    return out


def test_expected_table_covers_every_rendered_au():
    assert sorted(EXPECTED) == sorted(AUS)


@pytest.mark.parametrize("au", AUS)
def test_raising_an_au_moves_redetected_landmarks_as_facs_says(au, renderers, neutral_fits):
    what, metric = EXPECTED[au]
    values = []
    for i, r in enumerate(renderers):
        for j, pose in enumerate(POSES):
            faces = detect_landmarks(r.render({au: 5.0}, pose))
            assert faces, f"{SUBJECTS[i][0]}: no face with AU{au} at 5"
            a = neutral_fits[i, j]
            iod = inter_ocular(a)
            values.append(metric(a / iod, faces[0] / iod))
    values = np.array(values)
    assert np.median(values) > MIN_SHIFT_IOD, (
        f"AU{au}: expected '{what}' by > {MIN_SHIFT_IOD} IOD; re-detected shifts (IOD): {np.round(values, 3)}")
    # and in most individual fits, not only on average
    assert (values > 0).mean() >= 0.6, f"AU{au}: '{what}' in only {(values > 0).mean():.0%} of fits: {np.round(values, 3)}"

