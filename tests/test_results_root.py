"""The results folder holds one kind of data (g2rl.results_root): results/<data_label> by default, and a folder
claimed by one data label refuses the other."""

from __future__ import annotations

import json

import pytest

from g2rl.config import load_config
from g2rl.errors import ConfigError
from g2rl.results_root import MARKER, claim_results_root


def test_the_default_results_folder_is_per_data_label(tmp_path):
    assert load_config(None)["results"] == "results/demo"
    real = load_config(None, {"data_label": "real", "datasets": ["disfa"], "disfa": {"root": str(tmp_path)},
                              "model": {"pretrained": None, "allow_random_init": True}})
    assert real["results"] == "results/real"
    assert load_config(None, {"results": "out/mine"})["results"] == "out/mine"


def test_a_folder_is_claimed_once_and_refuses_the_other_label(tmp_path):
    folder = tmp_path / "results" / "x"
    claim_results_root(folder, "demo")
    assert json.loads((folder / MARKER).read_text())["data_label"] == "demo"
    claim_results_root(folder, "demo")  # the same label again: fine
    with pytest.raises(ConfigError, match=r"holds demo results and this config's data_label is real.*results/real"):
        claim_results_root(folder, "real")
    assert json.loads((folder / MARKER).read_text())["data_label"] == "demo"  # the marker is not rewritten


def test_a_damaged_marker_is_one_line_naming_it(tmp_path):
    (tmp_path / MARKER).write_text("{not json")
    with pytest.raises(Exception, match=rf"{MARKER}: not valid JSON"):
        claim_results_root(tmp_path, "demo")
