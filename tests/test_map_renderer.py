"""Eq. 1 rendered on the training device (heatmap_source: device) equals the heatmaps cache."""

from __future__ import annotations

import math

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from g2rl.errors import ConfigError, G2RLError
from g2rl.preprocess.au_points import PAIRS_AU_POINTS
from g2rl.preprocess.batches import open_cache_rows
from g2rl.preprocess.cache import build_heatmap_cache
from g2rl.preprocess.heatmap_layout import render_layout
from g2rl.preprocess.heatmaps import crop_to_heatmap
from g2rl.preprocess.map_renderer import MapRenderer
from g2rl.training import train_fold
from g2rl.training.feed import BatchFeed, to_device
from g2rl.training.settings import TrainSettings
from test_preprocess_cache import tiny, tiny_caches  # noqa: F401  (fixtures)
from test_training_fakes import small_settings

AUS = ["AU01", "AU04", "AU09", "AU12"]
MAPPING = {"AU01": [[21], [22]], "AU04": [[21, 22]], "AU09": [[28], [31], [35]], "AU12": [[48], [54]]}


def _sample_points(rng, n: int, crop: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, K, 3, 2) crop-px points, NaN-padded as the mapping says, some outside the crop; (n, K) intensities
    with NaNs (unlabelled) and exact zeros."""
    counts = [len(MAPPING[au]) for au in AUS]
    pts = rng.uniform(-10, crop + 10, (n, len(AUS), 3, 2)).astype(np.float32)
    pts[:, :, :, :][:, 0, :1] = 4 * rng.integers(0, crop // 4, (n, 1, 2)) + 1.5  # exactly on a rounding edge
    for k, c in enumerate(counts):
        pts[:, k, c:] = np.nan
    inten = rng.integers(0, 6, (n, len(AUS))).astype(np.float32)
    inten[rng.random(inten.shape) < 0.2] = np.nan
    return pts, inten


@pytest.mark.parametrize("layout", ["per_au", "per_point"])
@pytest.mark.parametrize("peak", ["eq1", "intensity"])
@pytest.mark.parametrize("sigma", [math.sqrt(0.2), 1.0, 2.0, math.sqrt(5)])
def test_renderer_equals_the_numpy_eq1_bit_for_bit(layout, peak, sigma):
    crop = 64
    rng = np.random.default_rng(int(sigma * 100) + len(layout) + len(peak))
    pts, inten = _sample_points(rng, 6, crop)
    attrs = {"layout": layout, "peak": peak, "sigma": sigma, "au_point_mapping": MAPPING}
    renderer = MapRenderer.for_heatmaps(attrs, AUS, crop)
    # the cache's maps: numpy in float64, float32, then stored as float16 (g2rl.preprocess.cache)
    ref = np.stack([render_layout(crop_to_heatmap(p.astype(np.float64)), i, sigma, crop // 4, layout, peak)
                    for p, i in zip(pts, inten)]).astype(np.float16)
    got = renderer.render(torch.from_numpy(renderer.centres(pts)), torch.from_numpy(inten))
    assert got.dtype == torch.float32 and got.shape == ref.shape
    assert renderer.n_channels == (len(AUS) if layout == "per_au" else 8)
    np.testing.assert_array_equal(got.numpy(), ref.astype(np.float32))
    assert (got.numpy() > 0).any() and (got.numpy() == 0).any()  # real maps, and unlabelled AUs all zero


def test_centres_snap_clip_and_keep_padding():
    r = MapRenderer.for_heatmaps({"layout": "per_au", "peak": "eq1", "sigma": 2.0, "au_point_mapping": MAPPING},
                                 AUS, 64)
    # crop px 5.5 -> heatmap px 1.0; 9.5 -> 2.0 (a half pixel rounds up, as np.floor(h + 0.5)); -40 -> 0; 400 -> 15
    pts = np.full((1, 4, 3, 2), np.nan, np.float32)
    pts[0, 0, 0] = (5.5, 9.5)
    pts[0, 0, 1] = (-40, 400)
    c = r.centres(pts)
    assert c[0, 0, 0].tolist() == [1.0, 2.0] and c[0, 0, 1].tolist() == [0.0, 15.0]
    assert np.isnan(c[0, 1:]).all() and c.dtype == np.float32


def test_training_rows_from_points_equal_the_cached_maps(tiny_caches):  # noqa: F811
    _, crops, heat = tiny_caches
    cached = open_cache_rows(crops, heat, in_memory="off")
    rendered = open_cache_rows(crops, heat, in_memory="off", heatmap_source="device")
    assert "heatmaps" not in rendered.large and "au_centres" in rendered.arrays  # the loader reads crops only
    assert rendered.files.heatmaps_h5 is None
    positions = np.array([5, 0, 7, 2])
    want = to_device(cached.batch(positions), torch.device("cpu"))["heatmaps"]
    got = to_device(rendered.batch(positions), torch.device("cpu"), renderer=rendered.renderer)["heatmaps"]
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    # held in memory, and through a worker process: the same maps
    held = open_cache_rows(crops, heat, in_memory="on", heatmap_source="device")
    assert "heatmaps" not in held.arrays
    torch.testing.assert_close(to_device(held.batch(positions), torch.device("cpu"), renderer=held.renderer)["heatmaps"],
                               want, rtol=0, atol=0)
    feed = BatchFeed(rendered, 4, workers=1)
    assert "target maps rendered on the device" in feed.describe()  # the run's log says where the maps come from
    assert "rendered" not in BatchFeed(cached, 4).describe()
    try:
        first = next(iter(feed.epoch(positions)))
        maps = to_device(first, torch.device("cpu"), renderer=rendered.renderer)["heatmaps"]
    finally:
        feed.close()
    torch.testing.assert_close(maps, want, rtol=0, atol=0)
    with pytest.raises(ValueError, match="renderer"):
        to_device(rendered.batch(positions), torch.device("cpu"))


def test_another_mapping_and_layout_render_from_the_landmarks(tiny_caches, tmp_path):  # noqa: F811
    _, crops, _ = tiny_caches
    mapping = {au: PAIRS_AU_POINTS[au] for au in ("AU06", "AU12", "AU25")}
    heat = tmp_path / "pairs.h5"
    build_heatmap_cache(crops, 1.0, heat, layout="per_point", peak="intensity", mapping=mapping)
    cached = open_cache_rows(crops, heat, in_memory="off")
    rendered = open_cache_rows(crops, heat, in_memory="off", heatmap_source="device")
    positions = np.arange(len(cached))
    want = to_device(cached.batch(positions), torch.device("cpu"))["heatmaps"]
    got = to_device(rendered.batch(positions), torch.device("cpu"), renderer=rendered.renderer)["heatmaps"]
    assert got.shape[1] == sum(len(v) for v in mapping.values())
    torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_maps_that_differ_from_the_points_are_refused(tiny_caches):  # noqa: F811
    _, crops, heat = tiny_caches
    with h5py.File(heat, "r+") as f:  # another renderer's maps: one row shifted by a pixel
        f["heatmaps"][3] = np.roll(f["heatmaps"][3], 1, axis=-1)
    with pytest.raises(G2RLError, match=rf"{heat.name}: row 3's stored maps differ from Eq. 1"):
        open_cache_rows(crops, heat, heatmap_source="device")
    open_cache_rows(crops, heat)  # the cache itself is still what it says it is: read as stored
    with pytest.raises(ConfigError, match="heatmap_source must be one of"):
        open_cache_rows(crops, heat, heatmap_source="gpu")


def test_training_on_rendered_maps_predicts_what_the_cache_does(tiny_caches, tmp_path):  # noqa: F811
    _, crops, heat = tiny_caches
    preds = {}
    for source in ("cache", "device"):
        settings = small_settings(epochs=1, batch_size=4, allow_random_init=True, heatmap_source=source)
        train_fold(crops, heat, "2", tmp_path / source, settings, seed=0, device="cpu")
        preds[source] = pd.read_csv(tmp_path / source / "predictions.csv")
    pd.testing.assert_frame_equal(preds["device"], preds["cache"])
    log = pd.read_csv(tmp_path / "device" / "train_log.csv")
    assert log["loss_heatmap"].iloc[0] > 0


def test_heatmap_source_setting_and_option():
    assert TrainSettings().heatmap_source == "cache"
    with pytest.raises(ConfigError, match="heatmap_source='gpu'"):
        TrainSettings(heatmap_source="gpu")


def test_rendering_in_a_steady_step_never_waits_for_the_device(tiny_caches):  # noqa: F811
    """No value read back, no boolean index, no output sized by the values; the index tensors are made once per
    device (a tensor made from Python values at every step would be a blocking copy to a GPU)."""
    import pickle

    from g2rl.training.syncs import count_host_syncs

    _, crops, heat = tiny_caches
    rows = open_cache_rows(crops, heat, in_memory="on", heatmap_source="device")
    batch = rows.batch(np.arange(4))
    to_device(batch, torch.device("cpu"), renderer=rows.renderer)
    made = rows.renderer._on[torch.device("cpu")]
    assert count_host_syncs(lambda: to_device(batch, torch.device("cpu"), renderer=rows.renderer)) == {}
    assert rows.renderer._on[torch.device("cpu")] is made
    assert pickle.loads(pickle.dumps(rows.renderer))._on == {}  # a worker makes its own
