"""Peak conventions (eq1 / intensity), layouts (per_au / per_point), their decoding, and the pairs mapping."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from g2rl.preprocess.au_points import HR_AU_POINTS, PAIRS_AU_POINTS, resolve_au_mapping
from g2rl.preprocess.heatmap_layout import HeatmapSpec, channel_aus, channel_names, render_layout
from g2rl.preprocess.heatmaps import decode_heatmaps, peak_value, render_heatmaps

# the paper's sigma sweep (Figure 6) plus sigma = 2 of Table 1
SWEEP = [math.sqrt(0.2), math.sqrt(0.5), 1.0, 2.0, math.sqrt(5.0)]
BP4D = ["AU06", "AU10", "AU12", "AU14", "AU17"]
DISFA = ["AU01", "AU02", "AU04", "AU05", "AU06", "AU09", "AU12", "AU15", "AU17", "AU20", "AU25", "AU26"]


@pytest.mark.parametrize("sigma", SWEEP)
def test_peak_conventions_by_hand(sigma):
    pts = np.array([[[7.3, 9.6]]])  # snapped to pixel (7, 10)
    eq1 = render_heatmaps(pts, np.array([3.0]), sigma, 16, peak="eq1")
    inten = render_heatmaps(pts, np.array([3.0]), sigma, 16, peak="intensity")
    assert eq1[0, 10, 7] == pytest.approx(3.0 / (2 * math.pi * sigma**2), rel=1e-6)
    assert inten[0, 10, 7] == pytest.approx(3.0, rel=1e-6)
    assert np.allclose(inten, eq1 * 2 * math.pi * sigma**2, rtol=1e-5, atol=1e-7)  # same shape, other scale
    assert peak_value(3.0, sigma, "intensity") == 3.0
    with pytest.raises(ValueError, match="peak"):
        render_heatmaps(pts, np.array([3.0]), sigma, 16, peak="max")


@pytest.mark.parametrize("sigma", SWEEP)
@pytest.mark.parametrize("peak", ["eq1", "intensity"])
@pytest.mark.parametrize("layout", ["per_au", "per_point"])
def test_round_trip_exact_at_every_sigma(sigma, peak, layout):
    rng = np.random.default_rng(0)
    aus = BP4D
    channel_au = channel_aus(aus, PAIRS_AU_POINTS, layout)
    points = rng.uniform(0, 15, size=(len(aus), 2, 2))
    intens = np.array([0.0, 1.0, 2.5, 4.0, 5.0])
    maps = render_layout(points, intens, sigma, 16, layout, peak)
    assert maps.shape == (len(channel_au), 16, 16)
    spec = HeatmapSpec(sigma, peak, tuple(channel_au), len(aus))
    np.testing.assert_allclose(spec.decode(maps), intens, rtol=1e-6, atol=1e-6)  # float32: exact
    np.testing.assert_allclose(spec.decode(maps.astype(np.float16).astype(np.float32)), intens, rtol=2e-3, atol=2e-3)
    dec_t = spec.decode(torch.from_numpy(maps)[None])  # torch path, batched
    np.testing.assert_allclose(dec_t[0].numpy(), intens, rtol=1e-6, atol=1e-6)


def test_per_point_decode_is_the_mean_of_the_points_peaks():
    maps = np.zeros((3, 8, 8), np.float32)
    maps[0, 2, 2], maps[1, 5, 6], maps[2, 1, 1] = 2.0, 4.0, 1.5
    spec = HeatmapSpec(1.0, "intensity", (0, 0, 1), 2)
    np.testing.assert_allclose(spec.decode(maps), [3.0, 1.5])  # AU0 = (2 + 4) / 2
    maps[1, 5, 6] = 9.0  # a channel past 5 is clipped to 5 before the mean
    np.testing.assert_allclose(spec.decode(maps), [3.5, 1.5])
    merged = spec.per_au_maps(maps)
    assert merged.shape == (2, 8, 8) and merged[0, 5, 6] == 9.0 and merged[0, 2, 2] == 2.0


def test_per_point_channels_carry_one_point_each():
    points = np.array([[[3.0, 3.0], [12.0, 3.0]], [[8.0, 12.0], [np.nan, np.nan]]])  # AU0 two points, AU1 one
    maps = render_layout(points, np.array([2.0, 4.0]), 1.0, 16, "per_point", "intensity")
    assert maps.shape == (3, 16, 16)
    assert maps[0, 3, 3] == pytest.approx(2.0) and maps[0, 3, 12] < 1e-6  # channel 0 holds point 0 only
    assert maps[1, 3, 12] == pytest.approx(2.0) and maps[2, 12, 8] == pytest.approx(4.0)
    per_au = render_layout(points, np.array([2.0, 4.0]), 1.0, 16, "per_au", "intensity")
    assert per_au.shape == (2, 16, 16) and per_au[0, 3, 3] == per_au[0, 3, 12] == pytest.approx(2.0)


def test_channel_counts_follow_the_sccs_code():
    # SCC (EvelynFan/FAU): BP4D 10 points, DISFA 24 (AU04 one, AU09 three, the others two)
    assert len(channel_aus(BP4D, PAIRS_AU_POINTS, "per_point")) == 10
    assert len(channel_aus(DISFA, PAIRS_AU_POINTS, "per_point")) == 24
    counts = {au: len(PAIRS_AU_POINTS[au]) for au in DISFA}
    assert counts["AU04"] == 1 and counts["AU09"] == 3 and all(v == 2 for k, v in counts.items() if k not in ("AU04", "AU09"))
    assert channel_aus(BP4D, PAIRS_AU_POINTS, "per_au") == [0, 1, 2, 3, 4]
    assert channel_names(BP4D[:2], channel_aus(BP4D[:2], PAIRS_AU_POINTS, "per_point")) == ["AU06_1", "AU06_2", "AU10_1", "AU10_2"]
    # pairs uses single landmarks and midpoints only; AU12 and AU14 are at different places
    assert all(1 <= len(p) <= 2 for pts in PAIRS_AU_POINTS.values() for p in pts)
    assert PAIRS_AU_POINTS["AU12"] != PAIRS_AU_POINTS["AU14"] and HR_AU_POINTS["AU12"] == HR_AU_POINTS["AU14"]
    assert PAIRS_AU_POINTS["AU17"] == [[57], [57, 8]]
    assert resolve_au_mapping(None) is HR_AU_POINTS and resolve_au_mapping("pairs") is PAIRS_AU_POINTS


def test_spec_from_meta_of_old_and_new_checkpoints():
    old = HeatmapSpec.from_meta({"aus": ["AU06", "AU12"], "sigma": 2})
    assert (old.peak, old.channel_au, old.n_aus) == ("eq1", (0, 1), 2)
    new = HeatmapSpec.from_meta({"aus": ["AU06", "AU12"], "sigma": 1, "heatmap_peak": "intensity", "channel_au": [0, 0, 1, 1]})
    assert new.n_channels == 4 and new.peak == "intensity"
    maps = np.zeros((4, 4, 4), np.float32)
    maps[:, 0, 0] = [1, 3, 5, 5]
    np.testing.assert_allclose(new.decode(maps), [2.0, 5.0])
    np.testing.assert_allclose(decode_heatmaps(maps, 1.0, "intensity")[0], [1, 3, 5, 5])
