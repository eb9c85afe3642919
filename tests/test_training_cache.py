"""train_fold and `g2rl train` on a real (tiny) HDF5 cache built by g2rl.preprocess."""

from __future__ import annotations

import pandas as pd
import torch

from g2rl.cli import main as g2rl_main
from g2rl.preprocess.cache import build_heatmap_cache
from g2rl.training import train_fold
from test_preprocess_cache import _build, tiny  # noqa: F401  (fixture reused from the cache tests)
from test_training_fakes import small_settings


def test_train_fold_and_cli_on_cache(tiny, tmp_path):  # noqa: F811
    root, index, csvs = tiny
    crops, _ = _build(root, index, csvs)
    heat = root / "heatmaps_s2.h5"
    build_heatmap_cache(crops, 2.0, heat)
    out = tmp_path / "fold2"
    # the tiny cache is not demo data: random init must be asked for (tests/test_provenance.py checks the refusal)
    settings = small_settings(epochs=1, batch_size=4, allow_random_init=True)
    summary = train_fold(crops, heat, "2", out, settings, seed=0, device="cpu")
    keys = pd.read_csv(out / "predictions.csv")
    assert summary["n_test"] == 3 and len(keys) == 3 and set(keys["split"].astype(str)) == {"2"}
    assert list(keys.columns[4:6]) == ["AU06_pred", "AU06_true"]
    meta = torch.load(out / "model.pt", weights_only=True)["meta"]
    assert meta["aus"] == ["AU06", "AU12", "AU25"] and meta["crop_size"] == 64 and meta["au_points"]
    # the CLI maps onto the same call
    rc = g2rl_main([
        "train", "--crops", str(crops), "--heatmaps", str(heat), "--test-split", "1", "--out",
        str(tmp_path / "cli"), "--method", "baseline", "--backbone", "resnet18", "--epochs", "1",
        "--batch-size", "4", "--deconv-channels", "8,8,8", "--num-workers", "0", "--device", "cpu",
        "--allow-random-init", "--pretrained", "none",
    ])  # fmt: skip
    assert rc == 0
    assert torch.load(tmp_path / "cli" / "model.pt", weights_only=True)["meta"]["method"] == "baseline"
    # a sigma the heatmaps file was not built with is refused by the reader, naming the file
    rc = g2rl_main(["train", "--crops", str(crops), "--heatmaps", str(heat), "--test-split", "1", "--out",
                    str(tmp_path / "bad"), "--sigma", "1", "--backbone", "resnet18", "--device", "cpu",
                    "--allow-random-init", "--pretrained", "none"])  # fmt: skip
    assert rc == 2
