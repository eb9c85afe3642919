"""TrainSettings validation, device choice, CLI mapping, and masked labels in training."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import pytest
import torch

from g2rl.errors import ConfigError
from g2rl.training import TrainSettings, run_training
from g2rl.training import cli as train_cli
from g2rl.training.device import resolve_device, use_bf16, use_channels_last
from g2rl.training.loop import split_rows
from test_training_fakes import make_fold, small_settings


def test_defaults_are_the_papers_and_the_scc_codes():
    s = TrainSettings()
    assert (s.lr, s.batch_size, s.epochs, s.lr_step_epochs, s.lr_gamma, s.weight_decay) == (5e-4, 16, 10, (5,), 0.1, 1e-5)
    assert (s.backbone, s.deconv_channels, s.model.latent_dim, s.lambda_g, s.sigma, s.num_workers) == ("resnet50", (256, 256, 256), 256, 0.05, 2.0, "auto")
    assert (s.model.guidance, s.model.adjacency, s.model.geometry_input) == ("stopgrad_aux", "gaussian", "aligned")
    assert s.method == "g2rl" and TrainSettings(lambda_g=0).method == "baseline"


def test_settings_validation_and_round_trip():
    s = TrainSettings(model={"deconv_channels": [128, 64, 32]})
    assert s.deconv_channels == (128, 64, 32)
    assert TrainSettings.from_dict(s.to_dict()) == s
    with pytest.raises(ConfigError, match="lambda_g"):
        TrainSettings(lambda_g=1.0)
    with pytest.raises(ConfigError, match="amp"):
        TrainSettings(amp="fp16")
    with pytest.raises(ConfigError, match="unknown"):
        TrainSettings.from_dict({"lerning_rate": 1})
    with pytest.raises(ConfigError, match="teach_weight"):
        TrainSettings(model={"teach_weight": 0})  # stopgrad_aux without L_teach: G would have no content
    with pytest.raises(ConfigError, match="unknown model setting"):
        TrainSettings.from_dict({"model": {"aux_weight": 1.0}})


def test_device_choices():
    cpu = torch.device("cpu")
    assert resolve_device("cpu") == cpu
    assert not use_bf16(cpu, "off") and use_bf16(cpu, "bf16")
    assert use_channels_last(cpu, "auto", True) and not use_channels_last(cpu, "auto", False)
    assert use_channels_last(cpu, "on", False) and not use_channels_last(cpu, "off", True)
    if not torch.cuda.is_available():
        assert resolve_device("auto") == cpu
        with pytest.raises(ConfigError):
            resolve_device("cuda")


def test_split_rows():
    train, test = split_rows(["1", "2", "3", 1, "2"], "1", "x.h5")
    assert list(test) == [0, 3] and list(train) == [1, 2, 4]
    with pytest.raises(Exception, match="x.h5"):
        split_rows(["1", "2"], "devel", "x.h5")


def test_cli_mapping():
    p = argparse.ArgumentParser()
    train_cli.add_arguments(p)
    base = ["--crops", "c.h5", "--heatmaps", "h.h5", "--test-split", "1", "--out", "o"]
    s = train_cli.settings_from_args(p.parse_args(base + ["--method", "baseline", "--deconv-channels", "64,64,32"]))
    assert s.lambda_g == 0 and s.deconv_channels == (64, 64, 32)
    s = train_cli.settings_from_args(p.parse_args(base + ["--lambda", "0.5", "--epochs", "3", "--backbone", "resnet18"]))
    assert (s.lambda_g, s.epochs, s.backbone) == (0.5, 3, "resnet18")
    s = train_cli.settings_from_args(p.parse_args(base + ["--guidance", "literal", "--adjacency", "knn", "--adjacency-k", "5",
                                                          "--heatmap-layout", "per_point", "--au-points", "pairs"]))
    assert (s.model.guidance, s.model.adjacency, s.model.adjacency_k, s.model.heatmap_layout, s.model.au_points) == (
        "literal", "knn", 5, "per_point", "pairs")
    with pytest.raises(ConfigError):
        train_cli.settings_from_args(p.parse_args(base + ["--lambda", "0"]))


def test_missing_labels_are_masked_not_zero(tmp_path):
    """Frames with a NaN label train fine, and _true keeps NaN; max_train_samples caps each epoch."""
    train, test, keys, info = make_fold(24, 8, crop=32, nan_every=2)
    test.observed[0, 0] = float("nan")
    s = run_training(train, test, keys, info, tmp_path, small_settings(epochs=1, max_train_samples=16, batch_size=8), seed=0)
    log = pd.read_csv(tmp_path / "train_log.csv")
    assert log["images"].iloc[0] == 16 and s["n_train"] == 24
    p = pd.read_csv(tmp_path / "predictions.csv")
    assert p["AU01_true"].isna().sum() == 1 and p["AU01_pred"].notna().all()


def test_workers_auto_are_the_jobs_cpus_minus_one(monkeypatch):
    from g2rl.training.settings import available_cpus, resolve_workers

    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(16)))
    monkeypatch.delenv("SLURM_CPUS_PER_TASK", raising=False)
    assert available_cpus() == 16 and resolve_workers("auto") == 15 and resolve_workers(4) == 4
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "6")  # SLURM's share of a node whose affinity shows all of it
    assert resolve_workers("auto") == 5
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {3})  # one CPU: read in the training process
    assert resolve_workers("auto") == 0
    for bad in (-1, "two", 1.5, True):
        with pytest.raises(ConfigError, match="num_workers"):
            TrainSettings(num_workers=bad)
    parser = argparse.ArgumentParser()
    train_cli.add_arguments(parser)
    base = ["--crops", "c", "--heatmaps", "h", "--test-split", "1", "--out", "o"]
    assert parser.parse_args(base).num_workers == "auto"
    assert parser.parse_args([*base, "--num-workers", "3"]).num_workers == 3
    with pytest.raises(SystemExit):
        parser.parse_args([*base, "--num-workers", "-2"])
    # the config key: auto by default, a count, nothing else
    import yaml

    from g2rl.config import validate

    paper = Path(__file__).resolve().parent.parent / "config" / "paper.yaml"

    def config(value):
        c = yaml.safe_load(paper.read_text())
        c["train"]["num_workers"] = value
        return c

    assert validate(yaml.safe_load(paper.read_text()), check_roots=False)["train"]["num_workers"] == "auto"
    assert validate(config(7), check_roots=False)["train"]["num_workers"] == 7
    with pytest.raises(ConfigError, match="train.num_workers: 'x' does not match"):
        validate(config("x"), check_roots=False)
