"""Issue 29 (round 3), items 8, 9, 15, 16 and 19: ranges, duplicates and sizes, one table for config and CLI.

8. `train --lr-step-epochs 0` (or -2) was accepted and the step never came: every numeric option is
   checked against its config key's range, read from the schema (g2rl.config_ranges).
9. Duplicate sweep values (`seeds: [0, 0]`, `sigma_sweep: [2, 2.0, "sqrt(4)"]`) and non-numeric strings.
15. `train --projection-pool 1000` asked for 32 GB: bounded by the feature map's side.
16. `train --seed 2**64`, `seeds: [2**70]`: seeds are 0 .. 2**32 - 1 in the schema and the CLI.
19. `demo.disfa_frames: 10` passed the schema and failed in the job: one minimum, the schema's.
Also: NaN / inf anywhere in a config, and control characters (newlines) in its strings, are refused.
"""

from __future__ import annotations

import copy

import pytest

from g2rl.cli import main as g2rl_main
from g2rl.config import validate
from g2rl.config_ranges import config_range
from g2rl.errors import ConfigError
from g2rl.training.cli import OPTION_RANGES
from test_preprocess_cache import tiny  # noqa: F401  (fixture reused from the cache tests)
from test_reliability_data import one_error_line

BASE = {"datasets": ["disfa"], "disfa": {"root": "/nonexistent"}}


def config_with(key: str, value) -> dict:
    """BASE with the dotted ``key`` set to ``value`` (an array key gets ``[value]``)."""
    config = copy.deepcopy(BASE)
    node = config
    *parents, last = key.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    schema_array = last in ("lr_step_epochs", "seeds", "sweep_seeds", "deconv_channels", "gcn_channels",
                            "gcn_fc_channels", "sigma_sweep", "lambda_sweep")
    if schema_array:
        width = {"deconv_channels": 3, "gcn_channels": 3, "gcn_fc_channels": 2}.get(last, 1)
        value = [value] * width
    node[last] = value
    return config


def outside(key: str) -> float:
    """A value just outside ``key``'s range (below its lower bound, else above its upper one)."""
    r = config_range(key)
    if r.minimum is not None:
        return r.minimum - 1
    if r.exclusive_minimum is not None:
        return r.exclusive_minimum
    return (r.maximum if r.maximum is not None else r.exclusive_maximum) + 1


def _train(*options: str) -> list[str]:
    return ["train", "--crops", "/nonexistent/c.h5", "--heatmaps", "/nonexistent/h.h5", "--test-split", "1",
            "--out", "/nonexistent/run", *options]


# -- 8. one table: the CLI options and their config keys refuse the same values ---------------------------

@pytest.mark.parametrize("dest", sorted(OPTION_RANGES))
def test_every_numeric_train_option_is_checked_like_its_config_key(dest, capsys):
    entry = OPTION_RANGES[dest]
    option, key = entry if isinstance(entry, tuple) else ("--" + dest.replace("_", "-"), entry)
    bad = outside(key)
    text = str(int(bad)) if float(bad).is_integer() else str(bad)
    widths = {"--deconv-channels": 3, "--gcn-channels": 3, "--gcn-fc-channels": 2}.get(option, 1)
    rc = g2rl_main(_train(option, ",".join([text] * widths)))
    line = one_error_line(capsys, rc)
    assert line.startswith(f"g2rl train: error: {option} {text}") and f"(as the config's {key})" in line, line
    assert "must be " + config_range(key).describe() in line
    # ... and the config refuses the same value under the key (the dry run's check)
    config_key = {"experiments.seeds": "experiments.seeds", "experiments.sigma": "experiments.sigma"}.get(key, key)
    with pytest.raises(ConfigError, match=config_key.split(".")[-1]):
        validate(config_with(config_key, bad), check_roots=False)


@pytest.mark.parametrize("value", ["0", "-2", "5,0"])
def test_lr_step_epochs_below_1_is_refused(value, capsys):
    line = one_error_line(capsys, g2rl_main(_train("--lr-step-epochs", value)))
    shown = value if "," not in value else "0 (in 5,0)"
    assert line.startswith(f"g2rl train: error: --lr-step-epochs {shown}: must be an integer >= 1 (as the config's "
                           "train.lr_step_epochs)"), line


def test_lambda_is_checked_for_g2rl_only(capsys):
    rc = g2rl_main(_train("--lambda", "1"))
    assert "--lambda 1: must be a finite number > 0 and < 1 (as the config's experiments.lambda)" in one_error_line(
        capsys, rc)
    # a Baseline ignores --lambda: refused for a missing cache instead, i.e. it got past the option checks
    rc = g2rl_main(_train("--method", "baseline", "--lambda", "1", "--device", "cpu"))
    assert "/nonexistent" in one_error_line(capsys, rc)


@pytest.mark.parametrize("argv, message", [
    (["landmarks", "x.avi", "--out", "o.csv", "--detect-scale", "1.5"],
     "--detect-scale 1.5: must be a finite number > 0 and <= 1 (as the config's landmarks.detect_scale)"),
    (["landmarks", "x.avi", "--out", "o.csv", "--redetect-every", "0"],
     "--redetect-every 0: must be an integer >= 1 (as the config's landmarks.redetect_every)"),
    (["cache", "crops", "--index", "i.csv", "--landmarks-dir", ".", "--out", "c.h5", "--aus", "AU06",
      "--crop-size", "36"], "--crop-size 36: must be an integer >= 32, a multiple of 32"),
    (["cache", "crops", "--index", "i.csv", "--landmarks-dir", ".", "--out", "c.h5", "--aus", "AU06",
      "--max-gap", "-1"], "--max-gap -1: must be an integer >= 0 (as the config's landmarks.max_gap)"),
    (["demo-data", "--out", "d", "--disfa-frames", "10"],
     "--disfa-frames 10: must be an integer >= 20 (as the config's demo.disfa_frames)"),
    (["demo-data", "--out", "d", "--seed", "-1"], "--seed -1: must be an integer >= 0 and <= 4294967295"),
    (["evaluate", "p.csv", "--out", "m.json", "--bootstrap-seed", "4294967296"],
     "--bootstrap-seed 4294967296: must be an integer >= 0 and <= 4294967295"),
    (["report", "evidence", "--dataset", "disfa", "--baseline", "b.json", "--g2rl", "g.json",
      "--out", "e.json", "--resamples", "0"], "--resamples 0: must be an integer >= 1"),
])
def test_other_commands_check_their_options_like_the_config(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc = g2rl_main(argv)
    assert message in one_error_line(capsys, rc)
    assert not (tmp_path / "d").exists()


# -- 9. duplicates and non-numeric strings in sweeps -------------------------------------------------------

@pytest.mark.parametrize("key, values, message", [
    ("seeds", [0, 0], r"key experiments.seeds: \[0, 0\] has non-unique elements"),
    ("sigma_sweep", [2, 2.0, "sqrt(4)"], "key experiments.sigma_sweep: "),
    ("sigma_sweep", [2, "sqrt(4)"], r"key experiments.sigma_sweep: 2 and 'sqrt\(4\)' have the same value \(2.0\)"),
    ("sigma_sweep", ["sqrt(0.25)", 0.5], r"'sqrt\(0.25\)' and 0.5 have the same value"),
    ("sigma_sweep", [2, 2.00001], r"2 and 2.00001 have the same output folder label \(2\)"),
    ("lambda_sweep", [0.1, 0.1000001], r"have the same output folder label \(0.1\)"),
    ("sweep_seeds", [3, 3], "non-unique"),
    ("sigma_sweep", ["2"], r"key experiments.sigma_sweep.0: '2' is not valid"),
    ("sigma_sweep", ["sqrt(two)"], r"key experiments.sigma_sweep.0: 'sqrt\(two\)' is not valid"),
    ("seeds", ["0"], r"key experiments.seeds.0: '0' is not of type 'integer'"),
    ("lambda_sweep", ["0.1"], r"key experiments.lambda_sweep.0: '0.1' is not of type 'number'"),
    ("sigma_sweep", ["sqrt(0)"], r"key experiments.sigma_sweep\[0\]: sigma 'sqrt\(0\)'=0 is outside 0.1..32"),
])
def test_sweep_duplicates_and_non_numbers_are_refused(key, values, message):
    config = copy.deepcopy(BASE)
    config["experiments"] = {key: values}
    with pytest.raises(ConfigError, match=message):
        validate(config, check_roots=False)


def test_the_default_and_paper_configs_still_validate():
    from pathlib import Path

    import yaml

    repo = Path(__file__).resolve().parent.parent
    for path in sorted((repo / "config").glob("*.yaml")):
        config = yaml.safe_load(path.read_text()) or {}
        validate(config, source=str(path), check_roots=False)


# -- 15. the projection pool within the feature map -------------------------------------------------------

def test_projection_pool_above_the_feature_map_is_refused_before_the_model_is_built(tiny, tmp_path, capsys):  # noqa: F811
    from g2rl.preprocess.cache import build_heatmap_cache
    from test_reliability_labels import _crops

    root, index, csvs = tiny  # 64 px crops: M is 16 x 16
    crops = _crops(root, index, csvs)
    heat = root / "heat.h5"
    build_heatmap_cache(crops, 2.0, heat)
    argv = ["train", "--crops", str(crops), "--heatmaps", str(heat), "--test-split", "2", "--out",
            str(tmp_path / "run"), "--backbone", "resnet18", "--deconv-channels", "8,8,8", "--num-workers", "0",
            "--device", "cpu", "--allow-random-init", "--pretrained", "none", "--epochs", "1"]
    rc = g2rl_main([*argv, "--projection-pool", "1000"])
    assert one_error_line(capsys, rc) == (
        f"g2rl train: error: {crops}: model setting projection_pool=1000 is larger than the feature map M it pools "
        "(16 x 16 for this cache's crops); at most 16 (--projection-pool, model.projection_pool)")
    with pytest.raises(ConfigError, match=r"key model.projection_pool: 1000 is larger than the feature map M it pools "
                                          r"\(64 x 64: preprocess.crop_size / 4\); at most 64"):
        validate(config_with("model.projection_pool", 1000), check_roots=False)
    validate(config_with("model.projection_pool", 64), check_roots=False)  # the bound itself is fine


# -- 16. seeds -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", ["18446744073709551616", "4294967296", "-1"])
def test_seed_outside_32_bits_is_one_line(seed, capsys):
    rc = g2rl_main(_train("--seed", seed))
    assert one_error_line(capsys, rc) == (f"g2rl train: error: --seed {seed}: must be an integer >= 0 and <= "
                                          "4294967295 (as the config's experiments.seeds)")


@pytest.mark.parametrize("key", ["experiments.seeds", "experiments.sweep_seeds", "experiments.bootstrap.seed",
                                 "demo.seed"])
def test_seeds_in_the_config_are_32_bit(key):
    with pytest.raises(ConfigError, match="greater than the maximum of 4294967295"):
        validate(config_with(key, 2**70), check_roots=False)
    validate(config_with(key, 2**32 - 1), check_roots=False)


# -- 19. one minimum for the demo's frames -------------------------------------------------------------------

def test_demo_frames_minimum_is_the_schemas_and_the_generators():
    from g2rl.demo.trajectories import MIN_EVENT_FRAMES

    for key in ("demo.disfa_frames", "demo.bp4d_frames"):
        assert config_range(key).minimum == MIN_EVENT_FRAMES == 20
        with pytest.raises(ConfigError, match=rf"key {key}: 19 is less than the minimum of 20"):
            validate(config_with(key, 19), check_roots=False)
        validate(config_with(key, 20), check_roots=False)


# -- values that no range can see: NaN, inf, control characters ----------------------------------------------

@pytest.mark.parametrize("key, value", [("train.lr", float("nan")), ("train.weight_decay", float("inf")),
                                        ("experiments.lambda", float("nan")), ("landmarks.detect_scale", float("nan"))])
def test_non_finite_numbers_in_a_config_are_refused(key, value):
    with pytest.raises(ConfigError, match=rf"key {key}: {value} is not a finite number"):
        validate(config_with(key, value), check_roots=False)


@pytest.mark.parametrize("key, value", [
    ("model.pretrained", "w.pth\n\n.. raw:: html\n\n   <script>alert(3)</script>"),
    ("results", "res\rults"),
    ("disfa.video", "{root}/a\tb.avi"),
    ("demo.out", "demo\x1b[31m"),
    ("bp4d.images", "{root}/x\u2028{frame}.jpg"),
])
def test_control_characters_in_config_strings_are_refused(key, value):
    with pytest.raises(ConfigError, match=rf"key {key}: holds the control character U\+"):
        validate(config_with(key, value), check_roots=False)
