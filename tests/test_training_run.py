"""End-to-end training on the synthetic blob dataset: outputs, learning, no collapse of G,
kill-and-resume, same-seed determinism, and the inference checkpoint."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from g2rl.errors import G2RLError
from g2rl.model import G2RLModel, ModelConfig
from g2rl.training import TrainSettings, load_inference_model, run_training
from g2rl.training.feed import BatchFeed
from g2rl.training.predictions import predict_intensities
from test_training_fakes import AUS, make_fold, small_settings

# learning runs: crop 32 (heatmaps 8 x 8), 96 frames, batch 8, 5 epochs
LEARN = dict(epochs=5, lr=2e-3, batch_size=8, lr_step_epochs=(4,))


def _learn(tmp_path_factory, lambda_g):
    train, test, keys, info = make_fold(96, 32, crop=32)
    out = tmp_path_factory.mktemp(f"learn{lambda_g}")
    summary = run_training(train, test, keys, info, out, small_settings(lambda_g=lambda_g, **LEARN), seed=0)
    return out, summary, train


@pytest.fixture(scope="module")
def g2rl_run(tmp_path_factory):
    return _learn(tmp_path_factory, 0.05)


@pytest.fixture(scope="module")
def baseline_run(tmp_path_factory):
    return _learn(tmp_path_factory, 0.0)


def _mse_vs_mean(out, train):
    p = pd.read_csv(out / "predictions.csv")
    mse = np.mean([((p[f"{a}_pred"] - p[f"{a}_true"]) ** 2).mean() for a in AUS])
    mean_mse = np.mean([((train.intensity[:, k].mean() - p[f"{a}_true"]) ** 2).mean() for k, a in enumerate(AUS)])
    return mse, mean_mse


@pytest.mark.parametrize("which", ["baseline_run", "g2rl_run"])
def test_trained_model_beats_training_mean(which, request):
    out, summary, train = request.getfixturevalue(which)
    mse, mean_mse = _mse_vs_mean(out, train)
    assert mse < 0.75 * mean_mse, (mse, mean_mse)


def test_outputs_and_contract(g2rl_run):
    out, summary, _ = g2rl_run
    assert (out / "model.pt").exists() and (out / "train_log.csv").exists()
    assert not (out / "last.pt").exists()  # removed once finished (keep_resume_checkpoint=False)
    assert not list(out.glob(".*tmp*"))  # no temporary leftovers
    p = pd.read_csv(out / "predictions.csv")
    assert list(p.columns[:4]) == ["subject", "session", "frame", "split"]
    assert [c for c in p.columns[4:]] == [f"{a}_{s}" for a in AUS for s in ("pred", "true")]
    assert len(p) == 32 and set(p["split"]) == {"devel"}
    assert p.filter(like="_pred").min().min() >= 0 and p.filter(like="_pred").max().max() <= 5
    log = pd.read_csv(out / "train_log.csv")
    assert list(log["epoch"]) == [1, 2, 3, 4, 5]
    assert np.allclose(log["lr"], [2e-3] * 4 + [2e-4])  # step at epoch 4 (0-based)
    for col in ("loss_total", "loss_heatmap", "loss_guidance", "loss_teach", "g_norm", "g_spread", "images_per_s", "seconds"):
        assert log[col].notna().all(), col
    assert summary["method"] == "g2rl" and summary["n_train"] == 96


def test_heatmap_loss_decreases_and_g_does_not_collapse(g2rl_run):
    log = pd.read_csv(g2rl_run[0] / "train_log.csv")
    # lambda = 0.05: L_G must not swamp L_S
    assert log["loss_heatmap"].iloc[-1] < 0.6 * log["loss_heatmap"].iloc[0]
    # ||G|| = sqrt(D) by construction; G must also vary across samples, increasingly so
    assert (log["g_norm"] > 0).all()
    assert log["g_spread"].iloc[-1] > 0.1
    assert log["g_spread"].iloc[-1] > 2 * log["g_spread"].iloc[0]
    # the teacher head learns from G: below its first-epoch loss
    assert log["loss_teach"].iloc[-1] < log["loss_teach"].iloc[0]


def test_inference_checkpoint(g2rl_run, baseline_run):
    out, _, _ = g2rl_run
    raw = torch.load(out / "model.pt", weights_only=True)  # plain types only
    assert set(raw) == {"state_dict", "meta"}
    meta = raw["meta"]
    for key in ("dataset", "aus", "crop_size", "heatmap_size", "sigma", "backbone", "deconv_channels", "mean", "std", "au_points", "method", "lambda_g"):
        assert key in meta, key
    assert meta["method"] == "g2rl" and meta["lambda_g"] == 0.05 and meta["heatmap_size"] == 8
    # exactly the Baseline's parameters
    base = torch.load(baseline_run[0] / "model.pt", weights_only=True)["state_dict"]
    assert list(raw["state_dict"]) == list(base)
    assert [v.shape for v in raw["state_dict"].values()] == [v.shape for v in base.values()]
    assert not any(k.startswith(("geometry", "projection", "teach_head")) for k in raw["state_dict"])
    # the loaded model reproduces the written predictions
    net, meta2 = load_inference_model(out / "model.pt", "cpu")
    assert meta2 == meta
    test = make_fold(96, 32, crop=32)[1]
    # The training's own test pass ran at its batch size and in the precision recorded in the checkpoint
    # (bf16 autocast only where the CPU has native bf16): repeat exactly that, so the match is to float rounding.
    bf16 = meta["provenance"]["device"]["precision"] == "bf16"
    _, pred, _ = predict_intensities(net, BatchFeed(test, LEARN["batch_size"]), meta["sigma"], torch.device("cpu"),
                                     bf16=bf16, channels_last=bf16)
    p = pd.read_csv(out / "predictions.csv")
    assert np.allclose(pred, p[[f"{a}_pred" for a in AUS]].to_numpy(), atol=1e-4)


def test_inference_model_equals_baseline_parameters():
    kw = dict(n_aus=4, config=ModelConfig(backbone="resnet18", deconv_channels=(16, 16, 16)))
    g, b = G2RLModel(lambda_g=0.05, **kw), G2RLModel(lambda_g=0.0, **kw)
    gn = [(n, p.numel()) for n, p in g.inference_model().named_parameters()]
    bn = [(n, p.numel()) for n, p in b.inference_model().named_parameters()]
    assert gn == bn
    assert sum(p.numel() for p in g.parameters()) > sum(p.numel() for p in b.parameters())


# --- reproducibility: small runs (crop 32, 32 frames, 2 epochs), with 2 DataLoader workers

REPRO = dict(epochs=2, batch_size=8, lr_step_epochs=(1,), num_workers=2)


def _repro(out, hook=None, seed=0):
    train, test, keys, info = make_fold(32, 8, crop=32)
    return run_training(train, test, keys, info, out, small_settings(**REPRO), seed=seed, on_epoch_end=hook)


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref")
    _repro(out)
    return pd.read_csv(out / "predictions.csv")


def test_same_seed_gives_identical_predictions(reference_run, tmp_path):
    _repro(tmp_path)
    again = pd.read_csv(tmp_path / "predictions.csv")
    pd.testing.assert_frame_equal(again, reference_run, check_exact=True)


def test_kill_and_resume_matches_uninterrupted_run(reference_run, tmp_path):
    class Killed(Exception):
        pass

    def kill(epoch, row):
        if epoch == 0:
            raise Killed

    with pytest.raises(Killed):
        _repro(tmp_path, hook=kill)
    assert (tmp_path / "last.pt").exists()
    assert not (tmp_path / "model.pt").exists() and not (tmp_path / "predictions.csv").exists()
    summary = _repro(tmp_path)
    assert summary["resumed_from_epoch"] == 1
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "predictions.csv"), reference_run, check_exact=True)
    assert list(pd.read_csv(tmp_path / "train_log.csv")["epoch"]) == [1, 2]


def test_resume_with_other_settings_is_refused(tmp_path):
    def kill(epoch, row):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _repro(tmp_path, hook=kill)
    with pytest.raises(G2RLError, match="last.pt"):
        _repro(tmp_path, seed=1)
