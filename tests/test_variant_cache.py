"""Per-point heatmap caches, the other peak convention and frame landmarks, through training and `g2rl predict`'s model."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from g2rl.cli import main as g2rl_main
from g2rl.errors import ConfigError
from g2rl.model.config import ModelConfig
from g2rl.preprocess.au_points import PAIRS_AU_POINTS
from g2rl.preprocess.cache import build_heatmap_cache
from g2rl.preprocess.batches import open_cache_rows
from g2rl.training.feed import to_device
from g2rl.preprocess.heatmap_layout import HeatmapSpec
from g2rl.training import train_fold
from test_preprocess_cache import AUS, _build, tiny  # noqa: F401  (fixture reused from the cache tests)
from test_training_fakes import small_settings


@pytest.fixture
def pairs_cache(tiny):  # noqa: F811
    root, index, csvs = tiny
    crops, _ = _build(root, index, csvs)
    heat = root / "pairs.h5"
    build_heatmap_cache(crops, 1.0, heat, layout="per_point", peak="intensity", mapping=PAIRS_AU_POINTS)
    return root, crops, heat


def test_per_point_cache_holds_one_channel_per_point_and_decodes_to_the_labels(pairs_cache):
    root, crops, heat = pairs_cache
    with h5py.File(heat) as f:
        assert f["heatmaps"].shape == (8, 6, 16, 16)  # AU06, AU12, AU25: two points each under pairs
        assert f.attrs["layout"] == "per_point" and f.attrs["peak"] == "intensity"
    batch = to_device(open_cache_rows(crops, heat).batch([5]), torch.device("cpu"))
    item = {k: v[0] for k, v in batch.items()}
    spec = HeatmapSpec(1.0, "intensity", (0, 0, 1, 1, 2, 2), 3)
    torch.testing.assert_close(spec.decode(item["heatmaps"]), item["intensity"], atol=1e-2, rtol=0)
    assert float(item["heatmaps"].max()) == pytest.approx(5.0, abs=1e-2)  # peak = I, not I / 2 pi sigma^2
    # frame landmarks are the original ones (the crops cache keeps them beside the aligned ones)
    with h5py.File(crops) as f:
        assert f["frame_landmarks"].shape == (8, 68, 2)
        assert not np.allclose(f["frame_landmarks"][0], f["landmarks"][0])
    assert item["frame_landmarks"].shape == (68, 2)


def test_training_and_prediction_on_a_per_point_cache(pairs_cache, tmp_path):
    from g2rl.predict.model import load_au_model

    root, crops, heat = pairs_cache
    settings = small_settings(epochs=1, batch_size=4, amp="off", channels_last="off", sigma=1.0, allow_random_init=True,
                              model_changes=dict(guidance="literal", geometry_input="similarity", adjacency="knn"))
    out = tmp_path / "fold2"
    train_fold(crops, heat, "2", out, settings, seed=0, device="cpu")
    meta = torch.load(out / "model.pt", weights_only=True)["meta"]
    assert meta["channel_au"] == [0, 0, 1, 1, 2, 2] and meta["heatmap_layout"] == "per_point"
    assert meta["model"]["au_points"] == "pairs" and meta["model"]["guidance"] == "literal"
    assert ModelConfig.from_dict(meta["model"]).heatmap_peak == "intensity"
    log = pd.read_csv(out / "train_log.csv")
    assert {"loss_teach", "g_norm", "g_spread"} <= set(log.columns)
    # `g2rl predict`'s model decodes with the checkpoint's own layout and peak
    model = load_au_model(out / "model.pt", device="cpu", amp="off")
    with h5py.File(crops) as f:
        split = f["split"].asstr()[...]
        images = f["images"][np.flatnonzero(split == "2")]
    inten, maps = model.predict(images, heatmaps=True)
    assert maps.shape == (3, 3, 16, 16)  # merged per AU for the overlays
    pred = pd.read_csv(out / "predictions.csv")[[f"{a}_pred" for a in AUS]].to_numpy()
    np.testing.assert_allclose(inten, pred, atol=1e-4)


def test_model_settings_that_contradict_the_cache_are_refused(pairs_cache, tmp_path):
    root, crops, heat = pairs_cache
    with pytest.raises(ConfigError, match="pairs.h5"):
        train_fold(crops, heat, "2", tmp_path / "x", small_settings(sigma=1.0, allow_random_init=True, model_changes=dict(heatmap_layout="per_au")),
                   seed=0, device="cpu")
    rc = g2rl_main(["train", "--crops", str(crops), "--heatmaps", str(heat), "--test-split", "2", "--out",
                    str(tmp_path / "y"), "--sigma", "1", "--au-points", "hr", "--backbone", "resnet18", "--device", "cpu", "--allow-random-init", "--pretrained", "none"])
    assert rc == 2


@pytest.mark.parametrize("text", ["pairs", '"pairs"', ' "pairs" '])
def test_au_points_name_plain_or_json_encoded(text):
    """The workflow passes `preprocess.au_points` as JSON, so the paper configs' `au_points: pairs` reaches
    `g2rl cache crops --au-points` as '"pairs"' (with quotes); it must mean the same as pairs (it was refused,
    so config/disfa.yaml and bp4d.yaml stopped at the crop cache: found by the paper-scale rehearsal)."""
    from g2rl.preprocess.cache_cli import parse_mapping

    assert parse_mapping(text) == PAIRS_AU_POINTS
    assert parse_mapping("null") is None and parse_mapping('{"AU01": [[21]]}') == {"AU01": [[21]]}
    with pytest.raises(ConfigError):
        parse_mapping('"nonsense"')
