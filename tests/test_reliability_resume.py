"""Issue 12 item 1: last.pt is continued only by the run that wrote it.

The identity covers the caches' fingerprints, the exact train/test subjects, the settings whole,
the seed and a format version. A mismatch is refused (the CLI default) or starts over (logged;
what the workflow asks for), also for a finished run kept with --keep-resume-checkpoint.
"""

from __future__ import annotations

import copy
import logging

import pandas as pd
import pytest
import torch

from g2rl.cli import main as g2rl_main
from g2rl.errors import G2RLError
from g2rl.preprocess.cache import build_heatmap_cache
from g2rl.training import run_training
from g2rl.training.run_identity import RESUME_FORMAT, data_identity, differences, resume_decision, run_identity
from test_preprocess_cache import _build, tiny  # noqa: F401  (fixture reused from the cache tests)
from test_training_fakes import make_fold, small_settings

QUICK = dict(epochs=2, batch_size=8, lr_step_epochs=(1,), num_workers=0)


# -- the identity itself --------------------------------------------------------------------------

def test_differences_names_nested_keys():
    old = {"format": 2, "settings": {"lr": 1e-3, "model": {"guidance": "a"}}, "data": {"test_subjects": ["S1"]}}
    new = copy.deepcopy(old)
    new["settings"]["model"]["guidance"] = "b"
    new["data"]["test_subjects"] = ["S1", "S2"]
    new["seed"] = 1
    assert differences(old, new) == ["data.test_subjects", "seed", "settings.model.guidance"]
    assert differences(old, copy.deepcopy(old)) == []


def test_identity_takes_settings_and_configs_whole():
    class ModelConfig:  # stands for any config object added later: to_dict() is taken whole
        def __init__(self, **kw):
            self.kw = kw

        def to_dict(self):
            return dict(self.kw)

    info = {"test_split": "1", "aus": ["AU06"], "data": {"test_subjects": ["S1"]}}
    a = run_identity(small_settings(), 0, info, ModelConfig(guidance="hard", peak=1.0))
    b = run_identity(small_settings(), 0, info, ModelConfig(guidance="hard", peak=2.0))
    assert a["format"] == RESUME_FORMAT and a["settings"] == small_settings().to_dict()
    assert differences(a, b) == ["configs"]  # lists are compared whole
    assert differences(a, run_identity(small_settings(lr=2e-3), 0, info, ModelConfig(guidance="hard", peak=1.0))) == [
        "settings.lr"]


def test_data_identity_lists_subjects_of_each_side():
    keys = pd.DataFrame({"subject": ["B", "A", "A", "C", "C"]})
    d = data_identity(None, None, keys, [0, 1, 2], [3, 4])
    assert d == {"crops_fingerprint": None, "heatmaps_fingerprint": None, "train_subjects": ["A", "B"],
                 "test_subjects": ["C"], "n_train": 3, "n_test": 2}


def test_old_format_checkpoint_is_not_continued(tmp_path, caplog):
    last = tmp_path / "last.pt"
    last.write_bytes(b"x")
    identity = run_identity(small_settings(), 0, {"test_split": "1", "aus": []})
    old = {k: identity[k] for k in ("settings", "seed", "test_split", "aus")}  # the format-1 identity
    with pytest.raises(G2RLError, match=r"last.pt: resume checkpoint belongs to another run \(differs in: "
                                        r"configs, data, format\)"):
        resume_decision(last, old, identity, "refuse")
    with caplog.at_level(logging.WARNING):
        assert resume_decision(last, old, identity, "restart") is False
    assert "starting over" in caplog.text and not last.exists()


# -- in the training loop (fake data: fast) -------------------------------------------------------

def _killed_after_first_epoch(out, info):
    train, test, keys, _ = make_fold(32, 8, crop=32)

    def kill(epoch, row):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_training(train, test, keys, info, out, small_settings(**QUICK), seed=0, on_epoch_end=kill)
    assert (out / "last.pt").exists()


def _info(test_subjects):
    info = make_fold(32, 8, crop=32)[3]
    info["data"] = {"crops_fingerprint": "c1", "heatmaps_fingerprint": "h1", "train_subjects": ["S000", "S001"],
                    "test_subjects": test_subjects}
    return info


def test_changed_fold_membership_is_refused_then_restarted(tmp_path, caplog):
    _killed_after_first_epoch(tmp_path, _info(["S004"]))
    train, test, keys, _ = make_fold(32, 8, crop=32)
    moved = _info(["S003", "S004"])  # a training subject became a test subject
    with pytest.raises(G2RLError, match=r"last.pt: resume checkpoint belongs to another run \(differs in: "
                                        r"data.test_subjects\)"):
        run_training(train, test, keys, moved, tmp_path, small_settings(**QUICK), seed=0)
    with caplog.at_level(logging.WARNING):
        summary = run_training(train, test, keys, moved, tmp_path, small_settings(**QUICK), seed=0,
                               on_stale_resume="restart")
    assert summary["resumed_from_epoch"] == 0 and "starting over" in caplog.text
    assert list(pd.read_csv(tmp_path / "train_log.csv")["epoch"]) == [1, 2]


def test_same_run_still_resumes(tmp_path):
    _killed_after_first_epoch(tmp_path, _info(["S004"]))
    train, test, keys, _ = make_fold(32, 8, crop=32)
    summary = run_training(train, test, keys, _info(["S004"]), tmp_path, small_settings(**QUICK), seed=0)
    assert summary["resumed_from_epoch"] == 1


# -- on a real cache, through the CLI ---------------------------------------------------------------

def test_rebuilt_cache_with_kept_resume_checkpoint(tiny, tmp_path, capsys):  # noqa: F811
    """A finished run kept with --keep-resume-checkpoint must not 'resume' (0 epochs) on a rebuilt cache."""
    root, index, csvs = tiny
    crops, _ = _build(root, index, csvs)
    heat = root / "heatmaps.h5"
    build_heatmap_cache(crops, 2.0, heat)
    out = tmp_path / "run"
    argv = ["train", "--crops", str(crops), "--heatmaps", str(heat), "--test-split", "2", "--out", str(out),
            "--method", "baseline", "--backbone", "resnet18", "--epochs", "1", "--batch-size", "4",
            "--deconv-channels", "8,8,8", "--num-workers", "0", "--device", "cpu", "--keep-resume-checkpoint",
            "--allow-random-init", "--pretrained", "none"]
    assert g2rl_main(argv) == 0
    saved = torch.load(out / "last.pt", weights_only=True)["identity"]
    assert saved["data"]["test_subjects"] == ["F001"] and saved["data"]["train_subjects"] == ["SN001"]
    # same data: the finished run is recognised (0 epochs to go)
    assert g2rl_main(argv) == 0
    # rebuild both caches (new fingerprints, same content): refused on the CLI ...
    _build(root, index, csvs)
    build_heatmap_cache(crops, 2.0, heat)
    capsys.readouterr()
    assert g2rl_main(argv) == 2
    err = capsys.readouterr().err
    assert "last.pt: resume checkpoint belongs to another run (differs in: data.crops_fingerprint, " \
           "data.heatmaps_fingerprint)" in err and "--on-stale-resume restart" in err
    # ... and trained again from epoch 0 with --on-stale-resume restart (the workflow's choice)
    assert g2rl_main([*argv, "--on-stale-resume", "restart"]) == 0
    again = torch.load(out / "last.pt", weights_only=True)["identity"]
    assert again["data"]["crops_fingerprint"] != saved["data"]["crops_fingerprint"]


def test_workflow_passes_restart():
    from pathlib import Path

    rule = (Path(__file__).resolve().parent.parent / "workflow/rules/train.smk").read_text()
    assert "--on-stale-resume restart" in rule


def test_diverged_training_is_one_line_and_writes_no_model(tiny, tmp_path, capsys, monkeypatch):  # noqa: F811
    """A loss that turns NaN or inf ends the run with one line saying it diverged and what to change,
    not a traceback, and leaves no model.pt or predictions.csv that could pass for a result."""
    from g2rl.model.g2rl_net import G2RLModel

    root, index, csvs = tiny
    crops, _ = _build(root, index, csvs)
    heat = root / "heatmaps.h5"
    build_heatmap_cache(crops, 2.0, heat)
    original = G2RLModel.forward

    def diverging(self, *args, **kwargs):
        terms = original(self, *args, **kwargs)
        terms.total = terms.total * float("nan")
        return terms

    monkeypatch.setattr(G2RLModel, "forward", diverging)
    out = tmp_path / "run"
    argv = ["train", "--crops", str(crops), "--heatmaps", str(heat), "--test-split", "2", "--out", str(out),
            "--method", "baseline", "--backbone", "resnet18", "--epochs", "1", "--batch-size", "4",
            "--deconv-channels", "8,8,8", "--num-workers", "0", "--device", "cpu",
            "--allow-random-init", "--pretrained", "none", "--lr", "0.25"]
    capsys.readouterr()
    assert g2rl_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "diverged" in err[0] and "epoch 1, step 1" in err[0] and "lr 0.25" in err[0], err
    assert not (out / "model.pt").exists() and not (out / "predictions.csv").exists()
