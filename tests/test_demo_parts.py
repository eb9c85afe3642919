"""Pieces of the demo generator checked against hand-computed or independent references."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from g2rl.demo.expressions import AUS, DISFA_AUS, MAX_SHIFT_IOD, displacement, unit_field
from g2rl.demo.identity import make_identity, morph_landmarks, subject_rng
from g2rl.demo.trajectories import event_profile, intensity_tracks, labels_from, pose_track
from g2rl.demo.warp import piecewise_affine_warp, triangle_affines, triangulate
from g2rl.demo.writer import not_coded_mask


def _grid_points(size: int, n: int = 5) -> np.ndarray:
    g = np.linspace(0, size - 1, n)
    return np.array([[x, y] for x in g for y in g], np.float64)


def _smooth_image(size: int = 96) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    img = np.stack([128 + 100 * np.sin(xx / 9.0), 128 + 100 * np.cos(yy / 7.0), (xx + yy) % 256], axis=2)
    return img.astype(np.uint8)


def test_triangle_affines_map_destination_vertices_onto_source():
    src = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], float)
    dst = src * 2 + [3, 5]
    tri = np.array([[0, 1, 2], [1, 2, 3]])
    a = triangle_affines(src, dst, tri)
    # hand-computed inverse of x' = 2x + (3, 5): x = 0.5 x' - (1.5, 2.5)
    np.testing.assert_allclose(a[0], [[0.5, 0, -1.5], [0, 0.5, -2.5]], atol=1e-12)
    np.testing.assert_allclose(a[1], a[0], atol=1e-12)


def test_warp_with_identical_points_is_the_identity():
    img = _smooth_image()
    pts = _grid_points(96)
    assert np.array_equal(piecewise_affine_warp(img, pts, pts, triangulate(pts)), img)


def test_warp_of_a_global_affine_matches_opencv_warpaffine():
    img = _smooth_image()
    src = _grid_points(96)
    m = np.array([[0.95, -0.05, 4.0], [0.05, 0.95, 2.0]])  # src -> dst, a small rotation + scale + shift
    dst = src @ m[:, :2].T + m[:, 2]
    ours = piecewise_affine_warp(img, src, dst, triangulate(src))
    ref = cv2.warpAffine(img, m, (96, 96), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    inner = (slice(12, 84), slice(12, 84))  # away from the border where the hull does not reach
    assert np.abs(ours[inner].astype(int) - ref[inner].astype(int)).max() <= 2


def test_warp_moves_a_marked_point_with_its_landmark():
    img = np.zeros((64, 64), np.uint8)
    img[30:34, 30:34] = 255  # a bright square centred at (31.5, 31.5)
    src = np.vstack([_grid_points(64, 4), [[31.5, 31.5]]])  # 4 x 4 grid: no grid point at the centre
    dst = src.copy()
    dst[-1] += [6, -4]
    out = piecewise_affine_warp(img, src, dst, triangulate(src))
    # the pixels around the moved landmark now show the square (its centre maps exactly there)...
    assert out[27:29, 37:39].min() > 200
    # ...and the square's centroid followed the landmark (the affine pieces stretch it unevenly)
    ys, xs = np.mgrid[0:64, 0:64]
    w = out.astype(float)
    assert abs((xs * w).sum() / w.sum() - 37.5) < 1.5 and abs((ys * w).sum() / w.sum() - 27.5) < 1.5


def test_fields_point_the_facs_way():
    lm = np.zeros((68, 2))
    lm[:, 0] = np.linspace(-1, 1, 68)  # only the side of the midline matters
    lm[27:31, 0] = 0.0
    lm[48, 0], lm[54, 0] = -0.5, 0.5
    f12, f14, f15, f20 = (unit_field(au, lm) for au in (12, 14, 15, 20))
    assert f12[48, 1] < 0 and f12[54, 1] < 0 and f12[48, 0] < 0 < f12[54, 0]  # up and out
    assert f14[48, 0] > 0 > f14[54, 0]  # corners inwards
    assert f15[48, 1] > 0 and f15[54, 1] > 0  # down
    assert f20[48, 0] < 0 < f20[54, 0]  # sideways out
    with pytest.raises(ValueError, match="AU3"):
        unit_field(3, lm)


def test_displacement_scales_with_intensity_and_is_capped():
    from g2rl.demo.faces import load_base_face

    pts = load_base_face("astronaut").landmarks
    iod = 64.0
    assert np.all(displacement({}, pts, iod) == 0)
    low, high = displacement({12: 1.0}, pts, iod), displacement({12: 5.0}, pts, iod)
    # small shifts are nearly linear in intensity (tanh cap ~ identity near 0)
    np.testing.assert_allclose(low[48], unit_field(12, pts)[48] / 5 * iod, rtol=0.02)
    assert np.linalg.norm(high[48]) > np.linalg.norm(low[48])
    everything = displacement({au: 5.0 for au in AUS}, pts, iod)
    assert np.linalg.norm(everything, axis=1).max() <= MAX_SHIFT_IOD * iod + 1e-9


def test_event_profile_rises_holds_and_falls():
    p = event_profile(4, 3, 5)
    assert len(p) == 12 and np.all(p[4:7] == 1.0)
    assert np.all(np.diff(p[:5]) > 0) and np.all(np.diff(p[6:]) < 0)
    assert 0 < p[0] < 0.3 and 0 < p[-1] < 0.3


def test_labels_round_half_up_and_clip():
    np.testing.assert_array_equal(labels_from(np.array([0.0, 0.49, 0.5, 2.5, 4.6, 5.2])), [0, 0, 1, 3, 5, 5])


def test_tracks_are_sparse_smooth_cooccurring_and_strong_where_required():
    rng = np.random.default_rng(7)
    zero, count, lab = 0, 0, {au: [] for au in AUS}
    for _ in range(20):
        curves = intensity_tracks(200, rng, required=DISFA_AUS, min_strong_events=2)
        for au, c in curves.items():
            assert c.min() >= 0 and c.max() <= 5
            assert np.abs(np.diff(c)).max() < 2.0  # no jumps: onsets take several frames
            labels = labels_from(c)
            lab[au].append(labels)
            if au in DISFA_AUS:
                runs = np.sum(np.diff(np.concatenate([[0], (labels >= 3).astype(int)])) == 1)
                assert runs >= 2
                zero += int((labels == 0).sum())
                count += len(labels)
    assert zero / count > 0.6  # mostly 0
    cat = {au: np.concatenate(v) for au, v in lab.items()}
    corr = lambda a, b: np.corrcoef(cat[a], cat[b])[0, 1]  # noqa: E731
    assert corr(6, 12) > 0.4 and corr(25, 26) > 0.3 and corr(1, 2) > 0.3
    assert corr(6, 12) > corr(6, 15) + 0.3


def test_not_coded_mask_is_a_few_short_stretches():
    m = not_coded_mask(1000, np.random.default_rng(0))
    assert 0.03 <= m.mean() <= 0.035
    runs = np.diff(np.flatnonzero(np.diff(np.concatenate([[0], m.astype(int), [0]]))))[::2]
    assert runs.min() >= 2 and runs.max() <= 8


def test_pose_track_is_small_and_moving():
    p = pose_track(300, np.random.default_rng(0), rot_deg=3.0, scale_frac=0.03, shift_px=10.0)
    assert p.shape == (300, 4)
    assert np.abs(p[:, 0]).max() < 3 * 2.5 and np.abs(p[:, 1] - 1).max() < 0.03 * 2.5
    assert p[:, 2].std() > 1.0 and np.abs(np.diff(p[:, 2])).max() < 5.0


def test_subject_streams_are_reproducible_and_distinct():
    a = subject_rng(0, "SN001", "identity").random(3)
    np.testing.assert_array_equal(a, subject_rng(0, "SN001", "identity").random(3))
    assert not np.array_equal(a, subject_rng(0, "SN002", "identity").random(3))
    assert not np.array_equal(a, subject_rng(1, "SN001", "identity").random(3))
    assert make_identity("F001", "astronaut", 0) == make_identity("F001", "astronaut", 0)


def test_morph_with_zero_parameters_is_identity_and_face_width_scales_the_jaw():
    from g2rl.demo.faces import load_base_face

    pts = load_base_face("grace_hopper").landmarks
    zero = dict(face_width=0, eye_spacing=0, brow_height=0, nose_size=0, mouth_size=0, jaw_length=0)
    np.testing.assert_allclose(morph_landmarks(pts, zero, 64.0), pts)
    wide = morph_landmarks(pts, {**zero, "face_width": 0.1}, 64.0)
    mid = pts[27:31, 0].mean()
    np.testing.assert_allclose(wide[0:17, 0] - mid, (pts[0:17, 0] - mid) * 1.1)
    np.testing.assert_allclose(wide[17:], pts[17:])
