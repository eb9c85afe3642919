"""``confidence`` rates the landmark fit (g2rl.predict.confidence): its two measurements against
independent references, its curve by hand, and on real photos: lower on covered and rotated
versions whose fit went wrong than on the untouched photo."""

import numpy as np
import pytest
from scipy.spatial import procrustes

from g2rl.predict import confidence as conf
from g2rl.predict.pose import MEAN_FACE_3D, euler_to_rotation
from g2rl.preprocess.landmarks import LandmarkDetector, inter_ocular_distance

from conftest import load_benchmark


def _calibration():
    return load_benchmark("calibrate_confidence")


def test_shape_residual_is_zero_for_the_mean_face_moved_and_matches_scipy_otherwise():
    face = MEAN_FACE_3D[:, :2]
    turn = euler_to_rotation(0, 0, 0.4)[:2, :2]
    assert conf.shape_residual(3.7 * face @ turn.T + [120.0, -40.0]) < 1e-9  # a similarity: no residual
    rng = np.random.default_rng(1)
    bent = face @ turn.T + rng.normal(0, 4.0, face.shape)  # mm-scale noise on a ~60 mm IOD face
    # scipy's disparity is the squared residual after scaling both shapes to unit norm
    _, _, disparity = procrustes(bent, face)
    centred = bent - bent.mean(axis=0)
    expected = np.sqrt(disparity * (centred**2).sum() / 68) / inter_ocular_distance(bent)
    assert conf.shape_residual(bent) == pytest.approx(expected, rel=1e-9)
    assert conf.shape_residual(np.zeros((68, 2))) == np.inf  # a collapsed fit


def test_instability_is_the_mean_move_of_the_refits_in_iod():
    points = MEAN_FACE_3D[:, :2] + 200.0
    iod = inter_ocular_distance(points)
    boxes = []

    def refit(box):
        boxes.append(box)
        return points + ([3.0, 4.0] if len(boxes) == 1 else [0.0, 1.0])  # moves of 5 and 1 px

    box = np.array([100.0, 120.0, 300.0, 320.0])
    assert conf.instability(refit, points, box) == pytest.approx(3.0 / iod)
    # the refit boxes: centre moved by +-7 % of the width, size x1.08 / x0.92
    np.testing.assert_allclose(boxes[0], [200 + 14 - 108, 220 + 14 - 108, 200 + 14 + 108, 220 + 14 + 108])
    np.testing.assert_allclose(boxes[1], [200 - 14 - 92, 220 - 14 - 92, 200 - 14 + 92, 220 - 14 + 92])


def test_confidence_curve_by_hand():
    # C0 + C1 ln(0.05) + C2 ln(0.02) = -12.516 + 3.833 * 2.995732 + 2.321 * 3.912023 = 8.046446 -> 0.999680;
    # ln(0.2), ln(0.2): -12.516 + (3.833 + 2.321) * 1.609438 = -2.611519 -> 1 / (1 + 13.6198) = 0.068400 (floor: 1e-3)
    got = conf.confidence_from_measurements(np.array([0.05, 0.2, np.nan, 0.0]), np.array([0.02, 0.2, 0.1, 0.0]))
    np.testing.assert_allclose(got[:2], [0.999680, 0.068400], atol=2e-6)
    assert np.isnan(got[2]) and got[3] == pytest.approx(1.0)


@pytest.fixture(scope="module")
def photo_fits():
    """The untouched photos' fits from their HOG boxes (the astronaut, Grace Hopper)."""
    cal = _calibration()
    det = LandmarkDetector(fast=False)
    fits = {}
    for name, image in cal.photos(None).items():
        ok, _, points = det.step(image, track=False)
        assert ok
        fits[name] = (image, points, det.last_box)
    return cal, det, fits


MARGIN = 0.4


def test_confidence_lower_on_covered_and_rotated_versions_of_real_photos(photo_fits):
    """Each photo, then: a bar over one side of the face with the box 10 % of its width to the right (a
    tracker that lags), and the face rotated by +-45 degrees in the image fitted from the box a tracker
    would give. Each of those fits lies > 10 % of the IOD from the untouched fit moved by the same
    transform; each confidence lies at least MARGIN below the untouched photo's."""
    from g2rl.preprocess.landmarks import _box_from_points, _relation

    cal, det, fits = photo_fits
    for name, (image, points, box) in fits.items():
        original = conf.fit_confidence(lambda b: det.fit(image, b), points, box)
        assert original > 0.6, name
        iod = inter_ocular_distance(points)
        covered = cal.cover(image, points, "side")
        moved = box + [0.1 * (box[2] - box[0]), 0, 0.1 * (box[2] - box[0]), 0]
        variants = [(covered, moved, points)]
        for angle in (45, -45):
            rotated, m = cal.rotate(image, points.mean(axis=0), angle)
            truth = np.c_[points, np.ones(68)] @ m.T
            variants.append((rotated, _box_from_points(truth, _relation(box, points)), truth))
        for img, used, truth in variants:
            fit = det.fit(img, used)
            assert np.linalg.norm(fit - truth, axis=1).mean() / iod > 0.10, name  # the fit did go wrong
            assert conf.fit_confidence(lambda b: det.fit(img, b), fit, used) < original - MARGIN, name


def test_the_landmark_stage_reports_the_fit_confidence_of_its_box():
    """Each Face's confidence is fit_confidence of its points and the box they were fitted from (the HOG
    detection on a photo), not a function of the detector score."""
    from g2rl.predict.stream import Landmarker, StageSettings

    image = _calibration().photos(None)["grace_hopper"]
    (face,) = Landmarker(False).frame(image, StageSettings(crop_size=64, fast=False), track=False, where="x")
    det = LandmarkDetector(fast=False)
    ok, score, points = det.step(image, track=False)
    np.testing.assert_allclose(face.points, points)
    assert face.score == score
    assert face.confidence == pytest.approx(conf.fit_confidence(lambda b: det.fit(image, b), points, det.last_box))
