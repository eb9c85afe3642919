"""One mapping from a workflow config to a training: the benchmark's settings and the workflow's `g2rl train`
flags come from g2rl.training.from_config, and the flags, parsed by `g2rl train`, give those same settings."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

import yaml

from g2rl.config import load_config, validate
from g2rl.training import cli as train_cli
from g2rl.training.from_config import train_settings_from_config, workflow_train_flags

from conftest import load_benchmark

REPO = Path(__file__).resolve().parent.parent
CONFIGS = [REPO / "config/config.yaml", REPO / ".test/config/config.yaml", REPO / "config/paper.yaml"]


def parsed_settings(flags: list[str], sigma: float):
    parser = argparse.ArgumentParser()
    train_cli.add_arguments(parser)
    words = ["--crops", "c.h5", "--heatmaps", "h.h5", "--test-split", "1", "--out", "o", "--sigma", str(sigma)]
    method = "baseline" if "--lambda" not in flags else "g2rl"
    return train_cli.settings_from_args(parser.parse_args([*words, "--method", method, *flags]))


def methods(config):
    """Every method the workflow trains for this config (g2rl.model.variants.ablation_methods: a variant with
    other heatmaps brings its own Baseline, baseline-<variant>)."""
    from g2rl.model.variants import ablation_methods

    return [row["method"] for row in ablation_methods(config)] if config["experiments"]["ablation"]["variants"] \
        else ["baseline", "g2rl"]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name if p.parent.name == "config" else str(p.parent.parent.name))
def test_workflow_flags_give_the_libraries_settings(path):
    # as the workflow validates: the paper config's dataset roots are placeholders here
    config = validate(yaml.safe_load(path.read_text()), source=str(path), check_roots=False)
    for method in methods(config):
        for lam in ("0", "0.05", "0.5"):
            if method.startswith("baseline") != (lam == "0"):
                continue
            weights = "resources/weights/w.pth" if config["model"]["pretrained"] else None
            expect = train_settings_from_config(config, method, lam, pretrained=weights)
            flags = workflow_train_flags(config, method, lam, weights)
            assert parsed_settings([f for f in flags if f not in ("--device", "cuda")], expect.sigma) == expect, method
            assert ("--device" in flags) == (config["train"]["gpus"] > 0)


def test_empty_lr_schedule_is_spelled_none_not_left_to_the_cli_default():
    config = load_config(REPO / ".test/config/config.yaml")
    config["train"]["lr_step_epochs"] = []
    flags = workflow_train_flags(config, "g2rl", "0.05", None)
    assert flags[flags.index("--lr-step-epochs") + 1] == "none"
    assert parsed_settings(flags, 2.0).lr_step_epochs == ()


def test_benchmark_and_workflow_use_the_same_mapping():
    bench = load_benchmark("bench_demo_train")
    config = load_config(REPO / ".test/config/config.yaml")
    for method in methods(config):
        assert bench.demo_settings(config, method, {}) == train_settings_from_config(config, method)
    # the workflow's train_flags is that mapping, not a second field-by-field copy
    common = (REPO / "workflow/rules/common.smk").read_text()
    body = common[common.index("def train_flags(wc):"):common.index("def weights_file():")]
    assert "workflow_train_flags(config, wc.method, wc.lam, weights)" in body and '"--epochs"' not in body
