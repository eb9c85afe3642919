"""On the demo data, a trained Baseline and G2RL predict AU intensities better than the training-set mean
(issue 5): the real chain (demo video -> dlib landmarks -> aligned 64 px crops -> Eq. 1 heatmaps -> training),
held-out subject. The demo config's network (ResNet-18 up to layer3, two 64-channel deconvolutions); about
40 s per method on 2 cores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from g2rl.datasets import index_disfa
from g2rl.demo import generate_demo
from g2rl.model.config import ModelConfig
from g2rl.preprocess.au_points import DEFAULT_AU_POINTS
from g2rl.preprocess.cache import build_crop_cache, build_heatmap_cache
from g2rl.preprocess.landmarks import LandmarkDetector, write_landmarks_csv
from g2rl.training.loop import train_fold
from g2rl.training.settings import TrainSettings

TEST_SUBJECT = "SN001"
TRAIN_SUBJECTS = ["SN002", "SN011", "SN013", "SN003"]


@pytest.fixture(scope="module")
def demo_cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo_learning")
    generate_demo(root / "demo", seed=0, disfa_subjects=[TEST_SUBJECT, *TRAIN_SUBJECTS], disfa_frames=120,
                  bp4d_train=["F001"], bp4d_devel=["F002"], bp4d_tasks=["T1"], bp4d_frames=20)
    index = index_disfa(root / "demo" / "DISFA", folds={"test": [TEST_SUBJECT], "train": TRAIN_SUBJECTS})
    detector = LandmarkDetector()
    csvs = {}
    for (subject, session), rows in index.groupby(["subject", "session"]):
        csvs[(subject, session)] = root / "landmarks" / f"{subject}.csv"
        write_landmarks_csv(detector.video(rows["media"].iloc[0], progress=False), csvs[(subject, session)])
    aus = [c for c in index.columns if c.startswith("AU")]
    build_crop_cache(index, csvs, root / "crops.h5", crop_size=64, aus=aus, au_point_mapping=DEFAULT_AU_POINTS,
                     max_gap=5, progress=False)
    build_heatmap_cache(root / "crops.h5", 2.0, root / "heatmaps.h5")
    return root, index, aus


@pytest.mark.parametrize("lambda_g", [0.0, 0.05], ids=["baseline", "g2rl"])
def test_trained_model_beats_the_training_mean_on_demo_data(demo_cache, lambda_g):
    root, index, aus = demo_cache
    settings = TrainSettings(model=ModelConfig(backbone="resnet18", deconv_channels=(64, 64)), lambda_g=lambda_g, sigma=2.0,
                             epochs=6, lr_step_epochs=(5,), num_workers=0)
    out = root / f"run_{lambda_g}"
    train_fold(root / "crops.h5", root / "heatmaps.h5", "test", out, settings, seed=0, device="cpu")
    pred = pd.read_csv(out / "predictions.csv")
    train_mean = index[index["split"] == "train"][aus].mean()
    mse_model = np.mean([np.nanmean((pred[f"{a}_pred"] - pred[f"{a}_true"]) ** 2) for a in aus])
    mse_mean = np.mean([np.nanmean((train_mean[a] - pred[f"{a}_true"]) ** 2) for a in aus])
    pcc = np.nanmean([np.corrcoef(pred[f"{a}_pred"], pred[f"{a}_true"])[0, 1] for a in aus])
    print(f"lambda {lambda_g}: MSE model {mse_model:.3f} vs training mean {mse_mean:.3f}; mean PCC {pcc:.3f}")
    assert mse_model < mse_mean
    assert pcc > 0.2
