"""diagnostics.json: the geometry branch's teach score on test landmarks, final L_G and g_spread."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from g2rl import metrics
from g2rl.training import run_training
from g2rl.training.diagnostics import teach_score
from test_training_fakes import AUS, BlobDataset, make_fold, small_settings


class FakeGuided(torch.nn.Module):
    """A 'model' whose geometry branch returns (G, norm) with G = mean landmark y of points 17-26
    repeated K times, and whose head scales it by -1 plus 30: an exactly known teach prediction."""

    guided = True

    def __init__(self, k, head_name="teach_head"):
        super().__init__()
        self.k = k
        self.geometry = lambda lm: (lm[:, 17:27, 1].mean(dim=1, keepdim=True).repeat(1, k), None)
        setattr(self, head_name, lambda g: 30.0 - g)


def test_teach_score_is_the_head_scored_like_the_model():
    test = BlobDataset(24, crop=32, seed=5)
    test.landmarks[3] = np.nan  # one frame without landmarks: skipped and counted
    res = teach_score(FakeGuided(len(AUS)), test, AUS, torch.device("cpu"), batch_size=8)
    keep = np.ones(24, bool)
    keep[3] = False
    pred = np.clip(30.0 - test.landmarks[keep, 17:27, 1].mean(axis=1), 0, 5)
    assert res["available"] and res["n_frames"] == 23 and res["n_skipped"] == 1
    for k, au in enumerate(AUS):
        assert res["per_au"][au]["icc"] == pytest.approx(metrics.icc(pred, test.observed[keep, k]), abs=1e-5)
        assert res["per_au"][au]["mae"] == pytest.approx(metrics.mae(pred, test.observed[keep, k]), abs=1e-5)
    assert res["avg"]["mae"] == pytest.approx(np.mean([res["per_au"][a]["mae"] for a in AUS]))
    # the head's former name works as well
    assert teach_score(FakeGuided(len(AUS), "aux_head"), test, AUS, torch.device("cpu"))["available"]


def test_teach_score_not_available_says_why():
    class Baseline(torch.nn.Module):
        guided = False

    class Literal(torch.nn.Module):
        guided = True
        geometry = None

    test = BlobDataset(4, crop=32)
    assert teach_score(Baseline(), test, AUS, torch.device("cpu")) == {"available": False, "reason": "no geometry branch (Baseline)"}
    res = teach_score(Literal(), test, AUS, torch.device("cpu"))
    assert not res["available"] and "no intensity head" in res["reason"]


@pytest.mark.parametrize("lambda_g", [0.05, 0.0])
def test_training_writes_diagnostics(tmp_path, lambda_g):
    train, test, keys, info = make_fold(16, 8, crop=32)
    run_training(train, test, keys, info, tmp_path, small_settings(lambda_g=lambda_g, epochs=1, batch_size=8), seed=0)
    diag = json.loads((tmp_path / "diagnostics.json").read_text())
    log = __import__("pandas").read_csv(tmp_path / "train_log.csv")
    if lambda_g:
        assert diag["method"] == "g2rl" and diag["teach"]["available"] and diag["teach"]["n_frames"] == 8
        assert diag["final"]["loss_guidance"] == pytest.approx(log["loss_guidance"].iloc[-1], rel=1e-5)
        assert diag["final"]["g_spread"] == pytest.approx(log["g_spread"].iloc[-1], rel=1e-5)
        assert set(diag["teach"]["per_au"]) == set(AUS)
    else:
        assert diag["method"] == "baseline" and not diag["teach"]["available"]
        assert diag["final"]["loss_guidance"] is None
