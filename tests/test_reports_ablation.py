"""The ablation table from hand-made predictions and train logs; the workflow's variant plumbing."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from g2rl.cli import main as g2rl_main
from g2rl.config import validate
from g2rl.errors import ConfigError, G2RLError
from g2rl.model.variants import base_model_config, describe, heatmap_cache, method_model_config
from g2rl.reports.ablation import build_ablation_table

AUS = ["AU06", "AU12"]


def _predictions(path, split, pred_noise, seed=0):
    rng = np.random.default_rng(seed)
    true = rng.integers(0, 6, size=(40, 2)).astype(float)
    df = pd.DataFrame({"subject": "S", "session": "T", "frame": np.arange(40) + 100 * int(split), "split": split})
    for k, au in enumerate(AUS):
        df[f"{au}_pred"] = true[:, k] + pred_noise[k]
        df[f"{au}_true"] = true[:, k]
    df.to_csv(path, index=False)
    return str(path)


def _log(path, g_spread):
    pd.DataFrame({"epoch": [1, 2], "g_spread": [0.5, g_spread], "g_norm": [3.0, 2.0]}).to_csv(path, index=False)
    return str(path)


def test_table_by_hand(tmp_path):
    rows = []
    for name, noise, spread in (("Baseline", (0.0, 1.0), float("nan")), ("G2RL literal", (0.5, 0.0), 0.001)):
        d = tmp_path / name
        d.mkdir()
        rows.append({"name": name, "changes": "x",
                     "predictions": [_predictions(d / "p1.csv", "1", noise), _predictions(d / "p2.csv", "2", noise, 1)],
                     "train_logs": [_log(d / "l1.csv", spread), _log(d / "l2.csv", spread)]})
    t = build_ablation_table(rows, AUS).set_index("method")
    # a constant offset c: MAE = c; ICC(3,1) is blind to an offset (consistency), so it stays 1
    assert t.loc["Baseline", "MAE_AU06"] == pytest.approx(0.0) and t.loc["Baseline", "MAE_AU12"] == pytest.approx(1.0)
    assert t.loc["Baseline", "MAE_avg"] == pytest.approx(0.5) and t.loc["G2RL literal", "MAE_avg"] == pytest.approx(0.25)
    assert t.loc["Baseline", "ICC_AU12"] == pytest.approx(1.0)
    assert t.loc["G2RL literal", "g_spread_final"] == pytest.approx(0.001)  # last epoch, not the first
    assert math.isnan(t.loc["Baseline", "g_spread_final"])
    assert t.loc["Baseline", "n_frames"] == 80 and t.loc["Baseline", "folds"] == "1,2"  # pooled over the folds
    # the CLI writes csv + md
    spec = tmp_path / "rows.json"
    spec.write_text(json.dumps(rows))
    assert g2rl_main(["report", "ablation", "--dataset", "disfa", "--rows", str(spec), "--data-label", "demo",
                      "--out-prefix", str(tmp_path / "out" / "table")]) == 0
    md = (tmp_path / "out" / "table.md").read_text()
    assert "G2RL literal" in md and "ICC per AU" in md and "demo" in md.lower()
    assert list(pd.read_csv(tmp_path / "out" / "table.csv")["method"]) == ["Baseline", "G2RL literal"]
    # and an HTML table, the report's view of it
    assert "<td class='m'>G2RL literal</td>" in (tmp_path / "out" / "table.html").read_text()
    rows[1]["train_logs"] = [str(tmp_path / "missing.csv")] * 2
    with pytest.raises(G2RLError, match="missing.csv"):
        build_ablation_table(rows, AUS)


def _config(tmp_path, **ablation):
    return validate({"data_label": "real", "datasets": ["disfa"], "disfa": {"root": str(tmp_path)},
                     "preprocess": {"au_points": "pairs", "heatmap_layout": "per_point"},
                     "experiments": {"ablation": ablation}})


def test_variants_become_run_configs_and_caches(tmp_path):
    cfg = _config(tmp_path, variants={"literal": {"guidance": "literal"}, "hr": {"au_points": "hr", "heatmap_layout": "per_au"},
                                      "intensity_peak": {"heatmap_peak": "intensity"}})
    base = base_model_config(cfg)
    assert (base.au_points, base.heatmap_layout, base.heatmap_peak, base.guidance) == ("pairs", "per_point", "eq1", "stopgrad_aux")
    assert method_model_config(cfg, "g2rl-literal").guidance == "literal"
    assert describe(method_model_config(cfg, "g2rl-hr"), base) == "au_points=hr, heatmap_layout=per_au"
    # Table 1's runs and a guidance variant share the heatmaps; a heatmap variant has its own
    assert heatmap_cache(cfg, "disfa", "g2rl", "2") == heatmap_cache(cfg, "disfa", "g2rl-literal", "2") == "results/real/disfa/cache/heatmaps_sigma2.h5"
    assert heatmap_cache(cfg, "disfa", "g2rl-hr", "2") == "results/real/disfa/cache/hr-per_au-eq1/heatmaps_sigma2.h5"
    assert heatmap_cache(cfg, "disfa", "g2rl-intensity_peak", "2") == "results/real/disfa/cache/pairs-per_point-intensity/heatmaps_sigma2.h5"
    with pytest.raises(ConfigError, match="g2rl-nope"):
        method_model_config(cfg, "g2rl-nope")


def test_schema_rejects_bad_ablation_and_lambda_one(tmp_path):
    with pytest.raises(ConfigError, match="experiments.ablation.variants"):
        _config(tmp_path, variants={"x": {"guidance": "stopgrad"}})
    with pytest.raises(ConfigError, match="experiments.ablation.variants"):
        _config(tmp_path, variants={"Bad-Name": {"guidance": "literal"}})
    with pytest.raises(ConfigError, match="experiments.lambda"):
        validate({"data_label": "real", "datasets": ["disfa"], "disfa": {"root": str(tmp_path)}, "experiments": {"lambda": 1}})
    with pytest.raises(ConfigError, match="lambda_sweep"):
        validate({"data_label": "real", "datasets": ["disfa"], "disfa": {"root": str(tmp_path)},
                  "experiments": {"lambda_sweep": [0.5, 1.0]}})
    with pytest.raises(ConfigError, match="model.aux_weight"):
        validate({"data_label": "real", "datasets": ["disfa"], "disfa": {"root": str(tmp_path)}, "model": {"aux_weight": 1}})


def _subject_predictions(path, split, noise, seed):
    """40 frames over 5 subjects (126 distinct resamples: marks shown); predictions = truth + noise."""
    rng = np.random.default_rng(seed)
    true = rng.integers(0, 6, size=(40, 2)).astype(float)
    df = pd.DataFrame({"subject": [f"S{i % 5}" for i in range(40)], "session": "T",
                       "frame": np.arange(40) + 100 * int(split), "split": split})
    for k, au in enumerate(AUS):
        df[f"{au}_pred"] = np.clip(true[:, k] + rng.normal(0, noise, 40), 0, None)
        df[f"{au}_true"] = true[:, k]
    df.to_csv(path, index=False)
    return str(path)


def test_ablation_has_seeds_cis_and_paired_differences(tmp_path):
    """Every row: mean ± sd over the same seeds, a subject-bootstrap CI, and its paired difference to the
    Baseline (g2rl.evidence, as Table 1); a clearly better variant is marked ▲ on ICC and on MAE."""
    from g2rl.evidence import BootstrapSettings
    from g2rl.reports.ablation import ablation_markdown

    rows = []
    for name, noise in (("Baseline", 1.5), ("G2RL", 1.4), ("G2RL exact", 0.1)):
        runs = []
        for seed in (0, 1):
            d = tmp_path / name / f"seed{seed}"
            d.mkdir(parents=True)
            runs.append({"seed": str(seed), "predictions": [_subject_predictions(d / "p1.csv", "1", noise, seed)],
                         "train_logs": [_log(d / "l1.csv", 0.1)]})
        rows.append({"name": name, "changes": "x", "runs": runs})
    t = build_ablation_table(rows, AUS, BootstrapSettings(200, 0)).set_index("method")
    assert t.loc["G2RL exact", "seeds"] == "0,1" and t.loc["G2RL exact", "n_subjects"] == 5
    assert t.loc["G2RL exact", "ICC_avg_lo"] <= t.loc["G2RL exact", "ICC_avg"] <= t.loc["G2RL exact", "ICC_avg_hi"]
    assert t.loc["G2RL exact", "ICC_avg_sd"] >= 0
    assert t.loc["G2RL exact", "ICC_diff"] > 0 and t.loc["G2RL exact", "ICC_diff_lo"] > 0
    assert t.loc["G2RL exact", "ICC_mark"] == "better" and t.loc["G2RL exact", "MAE_mark"] == "better"
    assert math.isnan(t.loc["Baseline", "ICC_diff"]) and t.loc["Baseline", "ICC_mark"] == ""
    md = ablation_markdown(t.reset_index(), "disfa", "demo")
    assert "▲" in md and "seeds 0,1" in md and " ± " in md
    # rows whose seeds differ are not comparable
    rows[2]["runs"] = rows[2]["runs"][:1]
    with pytest.raises(G2RLError, match="different seeds"):
        build_ablation_table(rows, AUS)


def test_a_heatmap_variant_comes_with_its_own_baseline(tmp_path):
    """`pairs` changes the heatmaps: the ablation trains a Baseline on them (baseline-pairs, lambda 0, the pairs
    cache) and compares G2RL pairs with it, and that Baseline with the Baseline; a guidance-only variant is
    compared with the Baseline and named by what it is."""
    from g2rl.model.variants import ablation_methods, config_method_label, is_baseline
    from g2rl.training.from_config import train_settings_from_config

    cfg = validate({"data_label": "real", "datasets": ["disfa"], "disfa": {"root": str(tmp_path)},
                    "model": {"guidance": "literal"},
                    "experiments": {"ablation": {"variants": {"stopgrad_aux": {"guidance": "stopgrad_aux"},
                                                              "pairs": {"au_points": "pairs", "heatmap_layout": "per_point"}}}}})
    plan = [(r["method"], r["label"], r["against"]) for r in ablation_methods(cfg)]
    assert plan == [("baseline", "Baseline", None), ("g2rl", "G2RL", "baseline"),
                    ("g2rl-stopgrad_aux", "G2RL + stop-grad/teach", "baseline"),
                    ("baseline-pairs", "Baseline pairs", "baseline"), ("g2rl-pairs", "G2RL pairs", "baseline-pairs")]
    assert heatmap_cache(cfg, "disfa", "baseline-pairs", "2") == heatmap_cache(cfg, "disfa", "g2rl-pairs", "2") \
        == "results/real/disfa/cache/pairs-per_point-eq1/heatmaps_sigma2.h5"
    s = train_settings_from_config(cfg, "baseline-pairs", "0")
    assert s.lambda_g == 0 and s.model.au_points == "pairs" and is_baseline("baseline-pairs")
    assert "Eq. 6/8 as written" in ablation_methods(cfg)[1]["changes"]
    assert config_method_label(cfg, "g2rl-pairs") == "G2RL pairs"


def test_table1_rows_and_variants_are_checked(tmp_path):
    """A Table 1 row must be an ablation variant; a variant that changes nothing against Table 1's G2RL would
    train the same runs twice."""
    from g2rl.model.variants import check_experiment_rows

    base = {"data_label": "real", "datasets": ["disfa"], "disfa": {"root": str(tmp_path)}, "model": {"guidance": "literal"}}
    ok = validate({**base, "experiments": {"table1_variants": ["stopgrad_aux"],
                                           "ablation": {"variants": {"stopgrad_aux": {"guidance": "stopgrad_aux"}}}}})
    check_experiment_rows(ok)
    with pytest.raises(ConfigError, match=r"experiments.table1_variants: \['ours'\] not among"):
        check_experiment_rows(validate({**base, "experiments": {"table1_variants": ["ours"]}}))
    with pytest.raises(ConfigError, match="experiments.ablation.variants.literal: .* changes nothing"):
        check_experiment_rows(validate({**base, "experiments": {"ablation": {"variants": {"literal": {"guidance": "literal"}}}}}))


def test_each_row_is_compared_with_its_reference_and_the_guidance_share_is_by_hand(tmp_path):
    """G2RL pairs is paired with Baseline pairs, not with the Baseline; λ·L_G / ((1 − λ)·L_S) comes from the last
    epoch of each log (0.05 x 0.002 / (0.95 x 0.5) here); the tables are two narrow ones, and the legend counts the
    cells tested."""
    from g2rl.evidence import BootstrapSettings
    from g2rl.reports.ablation import ablation_html, ablation_markdown

    rows = []
    for name, noise, against, lam in (("Baseline", 1.5, None, 0.0), ("Baseline pairs", 0.5, "Baseline", 0.0),
                                      ("G2RL pairs", 0.5, "Baseline pairs", 0.05)):
        runs = []
        for seed in (0, 1):
            d = tmp_path / name / f"seed{seed}"
            d.mkdir(parents=True)
            log = d / "log.csv"
            pd.DataFrame({"epoch": [1, 2], "g_spread": [0.3, 0.2], "g_norm": [1.0, 1.0], "loss_heatmap": [0.9, 0.5],
                          "loss_guidance": [0.1, 0.002]}).to_csv(log, index=False)
            runs.append({"seed": str(seed), "predictions": [_subject_predictions(d / "p.csv", "1", noise, seed)],
                         "train_logs": [str(log)]})
        rows.append({"name": name, "changes": "x", "against": against, "lambda": lam, "runs": runs})
    t = build_ablation_table(rows, AUS, BootstrapSettings(200, 0)).set_index("method")
    assert t.loc["G2RL pairs", "vs"] == "Baseline pairs" and t.loc["Baseline pairs", "vs"] == "Baseline"
    assert abs(t.loc["G2RL pairs", "MAE_diff"]) < abs(t.loc["Baseline pairs", "MAE_diff"])  # same heatmaps, same noise
    assert t.loc["Baseline pairs", "MAE_mark"] == "better" and t.loc["G2RL pairs", "MAE_mark"] == ""
    assert t.loc["G2RL pairs", "guidance_share"] == pytest.approx(0.05 * 0.002 / (0.95 * 0.5))
    assert math.isnan(t.loc["Baseline pairs", "guidance_share"])
    md = ablation_markdown(t.reset_index(), "disfa", "demo")
    assert "G2RL pairs: x; compared with Baseline pairs" in md and "2.1e-04" in md
    assert "4 cells tested" in md and "2 seeds: training randomness is barely sampled" in md
    html = ablation_html(t.reset_index(), "disfa", "demo")
    heads = [table.split("</tr>")[0].count("<th") for table in html.split("<table>")[1:]]
    assert heads[:3] == [4, 4, 4] and max(heads) <= 6, heads


def test_the_ablation_fits_the_reports_frame_in_chromium(tmp_path):
    """The report shows a table page in a frame about 1050 px wide (a 1400 px window; 1280 px gives ~930):
    at the demo's row names and cell widths, none of the three main tables (ICC, MAE, what the guidance did) is
    wider than 930 px. At da21ea6 the one table was 1473 px."""
    import shutil
    import subprocess

    from g2rl.evidence import BootstrapSettings
    from g2rl.reports.ablation import ablation_html, merge_probe

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it)")
    names = [("Baseline", None, 0.0), ("G2RL", "Baseline", 0.05), ("G2RL + stop-grad/teach", "Baseline", 0.05),
             ("Baseline pairs", "Baseline", 0.0), ("G2RL pairs", "Baseline pairs", 0.05)]
    rows = []
    for i, (name, against, lam) in enumerate(names):
        runs = []
        for seed in (0, 1):
            d = tmp_path / f"r{i}" / f"seed{seed}"
            d.mkdir(parents=True)
            log = d / "log.csv"
            pd.DataFrame({"epoch": [1], "g_spread": [0.4], "g_norm": [0.6], "loss_heatmap": [0.19],
                          "loss_guidance": [0.003]}).to_csv(log, index=False)
            runs.append({"seed": str(seed), "predictions": [_subject_predictions(d / "p.csv", "1", 1.0 + 0.1 * i, seed)],
                         "train_logs": [str(log)]})
        rows.append({"name": name, "changes": "au_points=pairs, heatmap_layout=per_point", "against": against,
                     "lambda": lam, "runs": runs})
    table = build_ablation_table(rows, AUS, BootstrapSettings(100, 0))
    probe = pd.DataFrame({"method": [n for n, _, _ in names] + ["random init (same architecture)", "AU labels alone"],
                          "probe_r2": 0.123, "probe_r2_lo": -0.0456, "probe_r2_hi": 0.321,
                          "probe_vs": [a or "" for _, a, _ in names] + ["", ""],
                          "probe_diff": [np.nan, 0.0123, -0.0234, 0.0345, -0.0456, np.nan, np.nan],
                          "probe_diff_lo": -0.0789, "probe_diff_hi": 0.0891, "probe_diff_per_seed": "",
                          "probe_seeds_agree": False, "probe_penalty": 0.1,
                          "probe_reference": [False] * 5 + [True, True]})
    page = tmp_path / "ablation.html"
    html = ablation_html(merge_probe(table, probe), "bp4d", "demo")
    measure = ("<script>document.title = Array.from(document.querySelectorAll('table')).slice(0, 3)"
               ".map(t => t.scrollWidth).join(',');</script>")
    page.write_text(html.replace("</body>", measure + "</body>"))
    out = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=930,800",
                          f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    widths = [int(w) for w in re.search(r"<title>([\d,]+)</title>", out.stdout).group(1).split(",")]
    assert len(widths) == 3 and max(widths) <= 930, widths


def test_the_paper_configs_run_the_papers_g2rl_and_ours_as_its_own_row():
    """config/paper.yaml, disfa.yaml and bp4d.yaml: Table 1's G2RL is Eq. 6/8 as written (guidance literal); our
    stopgrad_aux is its own Table 1 row and ablation row, labelled as ours; no variant repeats Table 1's G2RL."""
    from pathlib import Path

    import yaml

    from g2rl.model.variants import ablation_methods, check_experiment_rows, config_method_label, table1_variants

    repo = Path(__file__).resolve().parent.parent
    for name in ("paper.yaml", "disfa.yaml", "bp4d.yaml"):
        cfg = validate(yaml.safe_load((repo / "config" / name).read_text()), source=name, check_roots=False)
        check_experiment_rows(cfg, name)
        assert cfg["model"]["guidance"] == "literal", name
        assert table1_variants(cfg) == ["g2rl-stopgrad_aux"], name
        assert config_method_label(cfg, "g2rl-stopgrad_aux") == "G2RL + stop-grad/teach"
        assert "Eq. 6/8 as written" in ablation_methods(cfg)[1]["changes"]
        assert "Trainings per test fold" in (repo / "config" / name).read_text()  # what each row costs
