"""Alignment template and AU points on hand-made landmarks."""

import numpy as np
import pytest

from g2rl.errors import ConfigError, G2RLError
from g2rl.preprocess.align import TEMPLATE_256, alignment_matrix, transform_points, warp_to_crop
from g2rl.preprocess.au_points import DEFAULT_AU_POINTS, au_points, max_points, validate_au_mapping


def _face(rng):
    pts = rng.uniform(100, 300, size=(68, 2))
    pts[8] = [205.0, 390.0]
    pts[36] = [150.0, 180.0]
    pts[45] = [262.0, 176.0]
    return pts


@pytest.mark.parametrize("size", [256, 128])
def test_template_points_land_on_template(size):
    pts = _face(np.random.default_rng(0))
    m = alignment_matrix(pts, size)
    out = transform_points(pts, m)
    expected = TEMPLATE_256 * size / 256
    np.testing.assert_allclose(out[[8, 36, 45]], expected, atol=1e-9)
    # hand-checked values for 128: half the 256 template
    if size == 128:
        np.testing.assert_allclose(out[8], [63.82375, 113.90805], atol=1e-9)


def test_warp_agrees_with_transform_points():
    rng = np.random.default_rng(1)
    pts = _face(rng)
    img = np.zeros((480, 400, 3), np.uint8)
    x, y = 180, 260  # a bright pixel at a known place
    img[y, x] = 255
    pts[30] = [x, y]
    m = alignment_matrix(pts, 256)
    crop = warp_to_crop(img, m, 256)
    assert crop.shape == (256, 256, 3)
    tx, ty = transform_points(pts[30], m)
    yy, xx = np.unravel_index(crop[..., 0].astype(float).argmax(), crop.shape[:2])
    assert abs(xx - tx) <= 1.0 and abs(yy - ty) <= 1.0


def test_alignment_errors():
    pts = np.zeros((68, 2))
    with pytest.raises(G2RLError, match="collinear"):
        alignment_matrix(pts, 256)
    with pytest.raises(G2RLError, match="68, 2"):
        alignment_matrix(np.zeros((66, 2)), 256)
    pts = _face(np.random.default_rng(2))
    pts[36] = np.nan
    with pytest.raises(G2RLError, match="finite"):
        alignment_matrix(pts, 256)


def test_au_points_hand_made():
    lm = np.zeros((1, 68, 2))
    lm[0, :, 0] = np.arange(68)  # x = index
    lm[0, :, 1] = 2 * np.arange(68)  # y = 2 * index
    aus = ["AU01", "AU05", "AU06", "AU12", "AU17", "AU25"]
    out = au_points(lm, aus, DEFAULT_AU_POINTS)
    assert out.shape == (1, 6, 3, 2)
    np.testing.assert_allclose(out[0, 0], [[21, 42], [22, 44], [70 / 3, 140 / 3]])  # cen(21,22,27)
    np.testing.assert_allclose(out[0, 1, :2], [[37.5, 75], [43.5, 87]])  # mid(37,38), mid(43,44)
    assert np.isnan(out[0, 1, 2]).all()
    np.testing.assert_allclose(out[0, 2, :2], [[73 / 3, 146 / 3], [32, 64]])  # cen(1,41,31), cen(15,46,35)
    np.testing.assert_allclose(out[0, 3, :2], [[48, 96], [54, 108]])
    np.testing.assert_allclose(out[0, 4, 0], [32.5, 65])  # mid(57, 8)
    assert np.isnan(out[0, 4, 1:]).all()
    np.testing.assert_allclose(out[0, 5, 0], [62.5, 125])  # mid(61, 64)
    assert max_points(["AU12", "AU25"], DEFAULT_AU_POINTS) == 2


def test_mapping_validation():
    with pytest.raises(ConfigError, match="AU99"):
        validate_au_mapping(["AU99"], DEFAULT_AU_POINTS)
    with pytest.raises(ConfigError, match="68"):
        validate_au_mapping(["AU01"], {"AU01": [[21], [68]]})
    with pytest.raises(ConfigError, match="non-empty"):
        validate_au_mapping(["AU01"], {"AU01": [[]]})
    with pytest.raises(ConfigError, match="duplicates"):
        validate_au_mapping(["AU01", "AU01"], DEFAULT_AU_POINTS)
    validate_au_mapping(list(DEFAULT_AU_POINTS), DEFAULT_AU_POINTS)
