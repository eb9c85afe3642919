"""Eq. 1 heatmaps: peak, width, encode -> decode round trip (numpy and torch)."""

import math

import numpy as np
import pytest
import torch

from g2rl.preprocess.heatmaps import crop_to_heatmap, decode_heatmaps, heatmap_to_crop, render_heatmaps

SIGMAS = [math.sqrt(0.2), math.sqrt(0.5), 1.0, 2.0, math.sqrt(5.0)]


@pytest.mark.parametrize("sigma", SIGMAS)
def test_peak_and_width(sigma):
    points = np.array([[[20.0, 30.0]]])  # K=1, P=1, (x, y)
    m = render_heatmaps(points, np.array([3.0]), sigma, 64)[0]
    peak = 3.0 / (2 * math.pi * sigma**2)
    assert m.dtype == np.float32 and m.shape == (64, 64)
    assert m.max() == pytest.approx(peak, rel=1e-6)
    assert m[30, 20] == pytest.approx(peak, rel=1e-6)  # row = y, column = x
    # value at a distance of (exactly) sigma: along a diagonal pixel offset d = sigma is rarely
    # integral, so check the closed form at integer offsets instead
    for dx, dy in [(1, 0), (0, 2), (3, 4)]:
        d2 = dx * dx + dy * dy
        assert m[30 + dy, 20 + dx] == pytest.approx(peak * math.exp(-d2 / (2 * sigma**2)), rel=1e-5, abs=1e-12)
    # width: where d = sigma, the value is peak * exp(-1/2)
    if float(sigma).is_integer():
        assert m[30, 20 + int(sigma)] == pytest.approx(peak * math.exp(-0.5), rel=1e-6)


@pytest.mark.parametrize("sigma", SIGMAS)
@pytest.mark.parametrize("n_points", [1, 2, 3])
def test_round_trip(sigma, n_points):
    rng = np.random.default_rng(int(sigma * 100) + n_points)
    k = 5
    pts = np.full((k, 3, 2), np.nan)
    # points off the pixel centres, well apart (> 6 sigma) so the maxima are the snapped centres
    for a in range(k):
        for p in range(n_points):
            pts[a, p] = [8 + 20 * p + rng.uniform(-0.49, 0.49), 10 + 10 * a + rng.uniform(-0.49, 0.49)]
    intens = np.array([0.0, 1.0, 2.5, 4.0, 5.0])
    maps = render_heatmaps(pts, intens, sigma, 64)
    dec, loc = decode_heatmaps(maps, sigma)
    np.testing.assert_allclose(dec, intens, atol=1e-5)
    # locations: the snapped centre of one of the AU's points (argmax picks the first in raster order)
    for a in range(1, k):
        snapped = np.floor(pts[a, :n_points] + 0.5)
        assert any(np.array_equal(loc[a], s) for s in snapped)
    # float16 storage (the heatmap cache) keeps the intensity within 1e-3 * 5
    dec16, _ = decode_heatmaps(maps.astype(np.float16), sigma)
    np.testing.assert_allclose(dec16, intens, atol=5e-3)
    # torch path gives the same
    dt, lt = decode_heatmaps(torch.from_numpy(maps)[None], sigma)
    assert dt.shape == (1, k) and lt.shape == (1, k, 2)
    np.testing.assert_allclose(dt[0].numpy(), dec, atol=1e-6)
    np.testing.assert_array_equal(lt[0].numpy(), loc)


def test_multi_point_is_max_not_sum():
    sigma = 2.0
    pts = np.array([[[10.0, 10.0], [12.0, 10.0]]])  # overlapping Gaussians
    m = render_heatmaps(pts, np.array([4.0]), sigma, 32)[0]
    assert m.max() == pytest.approx(4.0 / (2 * math.pi * sigma**2), rel=1e-6)


def test_nan_intensity_and_padding_and_clip():
    pts = np.array([[[5.0, 5.0], [np.nan, np.nan]], [[7.0, 7.0], [9.0, 9.0]]])
    m = render_heatmaps(pts, np.array([np.nan, 2.0]), 1.0, 16)
    assert not np.isnan(m).any()
    assert m[0].max() == 0.0
    dec, _ = decode_heatmaps(m * 10, 1.0)  # too high -> clipped to 5
    assert dec[1] == 5.0 and dec[0] == 0.0
    dec_neg, _ = decode_heatmaps(-m, 1.0)
    assert (dec_neg >= 0).all()


def test_crop_heatmap_coordinates():
    # heatmap pixel j covers crop pixels 4j..4j+3, centre 4j + 1.5
    np.testing.assert_allclose(crop_to_heatmap(np.array([1.5, 5.5, -0.5])), [0.0, 1.0, -0.5])
    c = np.array([[17.3, 200.9]])
    np.testing.assert_allclose(heatmap_to_crop(crop_to_heatmap(c)), c)


def test_torch_decode_keeps_gradient():
    maps = torch.zeros(2, 3, 8, 8, requires_grad=True)
    dec, _ = decode_heatmaps(maps + 0.1, 1.0)
    dec.sum().backward()
    assert maps.grad is not None
