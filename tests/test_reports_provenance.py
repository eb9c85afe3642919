"""Table 1 and the figures say how the backbones were initialised and where the runs come from:
one commit and config in the caption, or MIXED PROVENANCE when the rows come from two."""

from __future__ import annotations

import json

from g2rl.provenance import FORMAT, sha256_json
from g2rl.reports.evaluate import read_metrics_json, write_metrics_json
from test_reports_cli import PAPER_CSV, make_run, run_report


def record(commit="a" * 40, dirty=False, config=None, weights=None):
    """A training record as g2rl.training writes it (only the fields the captions read vary)."""
    config = config or {"epochs": 10, "backbone": "resnet50"}
    return {
        "format": FORMAT, "created": "2026-11-28T21:00:00Z", "code": {"commit": commit, "dirty": dirty, "g2rl": "0.1.0"},
        "config_sha256": sha256_json(config), "config": config, "versions": {"torch": "2.14.1"},
        "dataset": {"name": "bp4d", "kind": "real", "media_root": "/data/BP4D/Sequences",
                    "frame_index_fingerprint": "f" * 64},
        "caches": {"crops": "c1", "heatmaps": "h1"},
        "weights": weights or {"kind": "torchvision", "name": "ResNet50_Weights.IMAGENET1K_V1", "sha256": "0676ba61" + "0" * 56},
        "device": {"type": "cuda", "name": "NVIDIA H200", "precision": "bf16"}, "wall_seconds": 100.0,
    }  # fmt: skip


def stamp_metrics(path, *records):
    m = read_metrics_json(path)
    m["provenance"] = {"format": FORMAT, "what": "metrics", "inputs": {f"fold{i}.csv": r for i, r in enumerate(records)}}
    write_metrics_json(m, path)
    return path


def table(tmp_path, baseline_rec, g2rl_rec, label="real"):
    b, _ = make_run(tmp_path, "bp4d", "baseline", "2", "0", 0, 1.0)
    g, _ = make_run(tmp_path, "bp4d", "g2rl", "2", "0.05", 0, 0.3)
    stamp_metrics(b, baseline_rec)
    stamp_metrics(g, g2rl_rec)
    prefix = tmp_path / "tables" / "table1_bp4d"
    assert run_report(["table1", "--dataset", "bp4d", "--baseline", str(b), "--g2rl", str(g), "--paper",
                       str(PAPER_CSV), "--data-label", label, "--out-prefix", str(prefix)]) == 0
    return prefix


def test_single_provenance_caption_names_commit_config_and_weights(tmp_path):
    rec = record()
    prefix = table(tmp_path, rec, rec)
    md, tex = prefix.with_suffix(".md").read_text(), prefix.with_suffix(".tex").read_text()
    assert "Backbone initialisation: ImageNet (ResNet50_Weights.IMAGENET1K_V1)." in md
    assert f"Provenance: code {'a' * 12}, config {rec['config_sha256'][:12]}; details in table1_bp4d.provenance.json" in md
    assert "MIXED" not in md and "ResNet50\\_Weights.IMAGENET1K\\_V1" in tex  # in the LaTeX caption too
    side = json.loads((tmp_path / "tables" / "table1_bp4d.provenance.json").read_text())
    assert side["mixed"] == {} and len(side["inputs"]) == 2
    assert side["inputs"][str(tmp_path / "bp4d/runs/baseline/sigma2/lambda0/seed0/metrics.json")]["inputs"]["fold0.csv"] == rec


def test_mixed_commits_and_configs_are_said_in_the_caption(tmp_path):
    prefix = table(tmp_path, record(), record(commit="b" * 40, dirty=True, config={"epochs": 4, "backbone": "resnet50"}))
    md = prefix.with_suffix(".md").read_text()
    assert "MIXED PROVENANCE: these results come from 2 code versions" in md
    assert f"{'b' * 12} (modified tree)" in md and "2 configurations" in md
    side = json.loads((tmp_path / "tables" / "table1_bp4d.provenance.json").read_text())
    assert set(side["mixed"]) == {"commit", "config"}


def test_random_init_and_missing_provenance_are_said(tmp_path):
    rnd = record(weights={"kind": "random"})
    md = table(tmp_path, rnd, rnd, label="demo").with_suffix(".md").read_text()
    assert "Backbone initialisation: RANDOM (no ImageNet weights), unlike the paper" in md
    # a metrics.json without provenance: unknown, and so mixed with the known run
    b, _ = make_run(tmp_path / "x", "bp4d", "baseline", "2", "0", 0, 1.0)
    g, _ = make_run(tmp_path / "x", "bp4d", "g2rl", "2", "0.05", 0, 0.3)
    stamp_metrics(g, record())
    prefix = tmp_path / "x" / "table1_bp4d"
    assert run_report(["table1", "--dataset", "bp4d", "--baseline", str(b), "--g2rl", str(g), "--paper",
                       str(PAPER_CSV), "--data-label", "real", "--out-prefix", str(prefix)]) == 0
    md = prefix.with_suffix(".md").read_text()
    assert "MIXED PROVENANCE" in md and "unknown" in md


def test_sensitivity_figure_gets_a_provenance_file(tmp_path):
    files = []
    for lam, commit in (("0.05", "a" * 40), ("0.5", "c" * 40)):
        m, _ = make_run(tmp_path, "bp4d", "g2rl", "2", lam, 0, 0.3)
        files.append(str(stamp_metrics(m, record(commit=commit))))
    prefix = tmp_path / "figures" / "sensitivity_lambda"
    assert run_report(["sensitivity", "--param", "lambda", "--out-prefix", str(prefix), "--data-label", "real",
                       *files]) == 0
    side = json.loads((tmp_path / "figures" / "sensitivity_lambda.provenance.json").read_text())
    assert set(side["inputs"]) == set(files) and list(side["mixed"]) == ["commit"]
    assert side["outputs"][0].endswith("sensitivity_lambda.png")


def test_table1_rows_may_differ_in_their_variant_but_a_rows_runs_may_not(tmp_path):
    """Table 1's G2RL + stop-grad/teach row differs from the G2RL row in its model (guidance) by design: not
    MIXED. Runs of one row with two configs, or rows that differ in anything else (epochs), are."""
    def cfg(guidance, epochs=10):
        return {"epochs": epochs, "model": {"guidance": guidance, "backbone": "resnet50"}}

    def runs(root, ours_configs):
        b, _ = make_run(root, "bp4d", "baseline", "2", "0", 0, 1.0)
        g, _ = make_run(root, "bp4d", "g2rl", "2", "0.05", 0, 0.3)
        v, _ = make_run(root, "bp4d", "g2rl-stopgrad_aux", "2", "0.05", 0, 0.2)
        stamp_metrics(b, record(config=cfg("literal")))
        stamp_metrics(g, record(config=cfg("literal")))
        stamp_metrics(v, *(record(config=c) for c in ours_configs))
        prefix = root / "tables" / "table1_bp4d"
        assert run_report(["table1", "--dataset", "bp4d", "--baseline", str(b), "--g2rl", str(g), "--variant",
                           "stopgrad_aux", str(v), "--paper", str(PAPER_CSV), "--data-label", "real",
                           "--out-prefix", str(prefix)]) == 0
        return prefix.with_suffix(".md").read_text(), json.loads(prefix.with_name("table1_bp4d.provenance.json").read_text())

    md, side = runs(tmp_path / "a", [cfg("stopgrad_aux")])
    assert "MIXED" not in md and "one config but for each row's model (its variant)" in md
    assert side["mixed"] == {} and set(side["rows"]) == {"Baseline", "G2RL", "G2RL + stop-grad/teach"}
    md, side = runs(tmp_path / "b", [cfg("stopgrad_aux"), cfg("stopgrad_aux", epochs=4)])
    assert "MIXED PROVENANCE" in md and "G2RL + stop-grad/teach's runs come from 2 configurations" in md
    assert "config" in side["mixed"] and "config within G2RL + stop-grad/teach" in side["mixed"]
