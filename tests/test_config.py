"""Config validation: defaults filled, unknown keys and wrong types rejected by name, dataset roots checked."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from g2rl.config import DEFAULT_CONFIG, lambda_label, load_config, parse_sigma, sigma_label, validate
from g2rl.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


def real_config(tmp_path, **extra):
    cfg = {"data_label": "real", "datasets": ["disfa"], "disfa": {"root": str(tmp_path)}}
    cfg.update(extra)
    return cfg


def test_defaults_are_filled(tmp_path):
    cfg = validate(real_config(tmp_path))
    assert cfg["train"]["lr"] == 0.0005 and cfg["train"]["batch_size"] == 16 and cfg["train"]["epochs"] == 10
    assert cfg["experiments"]["lambda"] == 0.05 and cfg["experiments"]["sigma"] == 2
    assert cfg["disfa"]["label_frame_offset"] == -1 and len(cfg["disfa"]["folds"]) == 3
    assert cfg["preprocess"]["crop_size"] == 256 and cfg["model"]["backbone"] == "resnet50"


def test_unknown_key_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key train\.learning_rate"):
        validate(real_config(tmp_path, train={"learning_rate": 0.1}))
    with pytest.raises(ConfigError, match=r"unknown key sigmas"):
        validate(real_config(tmp_path, sigmas=[1]))


def test_wrong_type_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"key train\.epochs: 'ten' is not of type 'integer'"):
        validate(real_config(tmp_path, train={"epochs": "ten"}))
    with pytest.raises(ConfigError, match=r"key experiments\.sigma_sweep\.1"):
        validate(real_config(tmp_path, experiments={"sigma_sweep": [1, "root(2)"]}))


def test_missing_dataset_root_is_named(tmp_path):
    cfg = real_config(tmp_path)
    cfg["disfa"]["root"] = str(tmp_path / "no_such_DISFA")
    with pytest.raises(ConfigError, match=r"disfa\.root: dataset folder .*no_such_DISFA not found"):
        validate(cfg)
    with pytest.raises(ConfigError, match=r"key bp4d\.root is required"):
        validate({"datasets": ["bp4d"]})
    # the workflow's parse-time check: a root not there yet is fine (its frame_index job names it), a missing key is not
    assert validate(cfg, check_roots=False)["disfa"]["root"].endswith("no_such_DISFA")
    with pytest.raises(ConfigError, match=r"key bp4d\.root is required"):
        validate({"datasets": ["bp4d"]}, check_roots=False)


def test_demo_root_need_not_exist_yet(tmp_path):
    cfg = load_config(DEFAULT_CONFIG)
    assert cfg["demo"]["enabled"] and cfg["data_label"] == "demo"


@pytest.mark.parametrize("name", ["config.yaml", "disfa.yaml", "bp4d.yaml"])
def test_shipped_configs_validate(name, tmp_path):
    """The paper configs are valid apart from their placeholder roots, which must be reported by name."""
    with open(REPO / "config" / name) as fh:
        raw = yaml.safe_load(fh)
    if raw.get("demo", {}).get("enabled"):
        validate(raw)
        return
    with pytest.raises(ConfigError, match=r"\.root: dataset folder"):
        validate(raw)
    for d in raw["datasets"]:
        raw[d]["root"] = str(tmp_path)
    cfg = validate(raw)
    assert cfg["data_label"] == "real" and cfg["preprocess"]["crop_size"] == 256 and cfg["model"]["backbone"] == "resnet50"


def test_sigma_and_lambda_labels():
    assert parse_sigma("sqrt(0.2)") == pytest.approx(math.sqrt(0.2))
    assert sigma_label("sqrt(0.2)") == "0.4472" and sigma_label(2) == "2" and sigma_label("sqrt(5)") == "2.236"
    assert lambda_label(0.05) == "0.05" and lambda_label(0) == "0"
    with pytest.raises(ConfigError):
        parse_sigma("two")


def _snakemake(tmp_path, config: dict, *args: str) -> subprocess.CompletedProcess:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    cmd = [sys.executable, "-m", "snakemake", "--cores", "1", "--configfile", str(path), "-d", str(tmp_path / "wd"),
           "-s", str(REPO / "Snakefile"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def test_workflow_rejects_bad_config_with_one_message(tmp_path):
    r = _snakemake(tmp_path, {"datasets": ["disfa"], "disfa": {"root": str(tmp_path)}, "train": {"epochs": "ten"}}, "-n")
    assert r.returncode != 0
    assert "key train.epochs: 'ten' is not of type 'integer'" in r.stdout + r.stderr


def test_missing_root_named_by_the_job_that_reads_it(tmp_path):
    """Dry runs work without the data (issue 11); the frame_index job then stops with one line naming the root."""
    cfg = {"data_label": "real", "datasets": ["disfa"], "disfa": {"root": str(tmp_path / "absent")}}
    assert _snakemake(tmp_path, cfg, "-n").returncode == 0
    r = _snakemake(tmp_path, cfg, "results/real/disfa/frame_index.csv")
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert "g2rl index: error:" in out and f"{tmp_path / 'absent'}" in out and "root folder not found" in out


def test_random_init_on_real_data_needs_allow_random_init(tmp_path):
    cfg = validate(real_config(tmp_path))
    assert cfg["model"]["pretrained"] == "imagenet" and cfg["model"]["allow_random_init"] is False
    with pytest.raises(ConfigError, match=r"model\.pretrained is null .* on real data.*allow_random_init: true"):
        validate(real_config(tmp_path, model={"pretrained": None}))
    validate(real_config(tmp_path, model={"pretrained": None, "allow_random_init": True}))
    assert load_config(DEFAULT_CONFIG)["model"]["pretrained"] is None  # the demo: random init allowed
