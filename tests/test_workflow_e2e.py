"""The real Snakemake workflow end to end on the tiny config: every rule runs, every promised output exists,
the report builds, and one fold can be rerun alone."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from conftest import run_snakemake

RESULTS = "results/demo"  # the tiny config is demo data: results/<data_label>
DATASETS = {"disfa": ["1", "2", "3"], "bp4d": ["devel"]}
# (method, sigma, lambda) of the tiny config: Table 1 rows on every dataset, the two sweeps on BP4D alone
TABLE1 = [("baseline", "2", "0"), ("g2rl", "2", "0.05"), ("g2rl-stopgrad_aux", "2", "0.05")]
SWEEPS = [("g2rl", "1", "0.05"), ("g2rl", "2", "0.5")]
SETTINGS = {"disfa": TABLE1, "bp4d": TABLE1 + SWEEPS}


def run_dir(wd: Path, dataset: str, method: str, sigma: str, lam: str) -> Path:
    return wd / RESULTS / dataset / "runs" / method / f"sigma{sigma}" / f"lambda{lam}" / "seed0"


def test_every_output_exists(tiny_workflow):
    wd = tiny_workflow
    for dataset, folds in DATASETS.items():
        assert (wd / RESULTS / dataset / "frame_index.csv").is_file()
        assert (wd / RESULTS / dataset / "cache" / "crops.h5").is_file()
        for method, sigma, lam in SETTINGS[dataset]:
            rd = run_dir(wd, dataset, method, sigma, lam)
            for fold in folds:
                for name in ("predictions.csv", "model.pt", "train_log.csv", "diagnostics.json"):
                    assert (rd / f"fold{fold}" / name).is_file(), rd / f"fold{fold}" / name
            metrics = json.loads((rd / "metrics.json").read_text())
            assert set(metrics["folds"]) == set(folds)
            assert (metrics["pooled"] is not None) == (dataset == "disfa")
        for ext in ("csv", "md", "tex", "html"):
            assert (wd / RESULTS / "tables" / f"table1_{dataset}.{ext}").stat().st_size > 0
        for fig in (f"heatmaps_{dataset}.png", f"curves_{dataset}.png", f"training_{dataset}.png"):
            assert (wd / RESULTS / "figures" / fig).stat().st_size > 10_000
    for param in ("sigma", "lambda"):
        # named by the datasets it plots (the tiny config sweeps BP4D only)
        assert (wd / RESULTS / "figures" / f"sensitivity_{param}_bp4d.png").stat().st_size > 10_000
    # experiments.sweep_datasets: [bp4d] keeps the sweep points off DISFA
    for method, sigma, lam in SWEEPS:
        assert not run_dir(wd, "disfa", method, sigma, lam).exists()


def test_ablation_table_has_every_row(tiny_workflow):
    """.test/config/config.yaml's ablation: Baseline, G2RL (Eq. 6/8 as written), our stop-grad/teach row, the pairs
    layout's own Baseline and G2RL pairs against it, on the first fold, per dataset; the probe's two references."""
    for dataset, folds in DATASETS.items():
        table = pd.read_csv(tiny_workflow / RESULTS / dataset / "ablation" / "table.csv", dtype={"folds": str})
        rows = table[~table["probe_reference"].fillna(False).astype(bool)]
        assert list(rows["method"]) == ["Baseline", "G2RL", "G2RL + stop-grad/teach", "Baseline pairs", "G2RL pairs"]
        assert list(rows["vs"].fillna("")) == ["", "Baseline", "Baseline", "Baseline", "Baseline pairs"]
        assert list(table.loc[~table.index.isin(rows.index), "method"]) == ["random init (same architecture)",
                                                                           "AU labels alone"]
        assert set(rows["folds"].astype(str)) == {folds[0]}
        assert rows[["ICC_avg", "MAE_avg", "probe_r2"]].notna().all().all() and rows.filter(like="MAE_AU").notna().all().all()
        assert rows["g_spread_final"].iloc[0] != rows["g_spread_final"].iloc[0]  # Baseline: no G (NaN)
        assert rows["g_spread_final"].iloc[[1, 2, 4]].notna().all() and rows["guidance_share"].iloc[[1, 2, 4]].gt(0).all()
        md = (tiny_workflow / RESULTS / dataset / "ablation" / "table.md").read_text()
        assert "Table 1's G2RL: guidance literal, Eq. 6/8 as written" in md and "G2RL + stop-grad/teach" in md
        # the pairs variant and its Baseline trained on one map per point (BP4D 10, DISFA 24 under pairs)
        for method, lam in (("g2rl-pairs", "0.05"), ("baseline-pairs", "0")):
            rd = run_dir(tiny_workflow, dataset, method, "2", lam) / f"fold{folds[0]}"
            meta = torch.load(rd / "model.pt", weights_only=True)["meta"]
            assert meta["heatmap_layout"] == "per_point" and meta["model"]["au_points"] == "pairs"
            assert len(meta["channel_au"]) == {"disfa": 24, "bp4d": 10}[dataset] and meta["lambda_g"] == float(lam)


def test_landmark_jobs_one_per_sequence(tiny_workflow):
    for dataset in DATASETS:
        index = pd.read_csv(tiny_workflow / RESULTS / dataset / "frame_index.csv", dtype={"session": str})
        sequences = {f"{s}/{t}.csv" for s, t in index[["subject", "session"]].drop_duplicates().itertuples(index=False)}
        written = {p.relative_to(tiny_workflow / RESULTS / dataset / "landmarks").as_posix()
                   for p in (tiny_workflow / RESULTS / dataset / "landmarks").rglob("*.csv")}
        assert written == sequences


def test_table1_has_our_rows_and_the_demo_caveat(tiny_workflow):
    for dataset in DATASETS:
        md = (tiny_workflow / RESULTS / "tables" / f"table1_{dataset}.md").read_text()
        assert "DEMO dataset" in md and "not comparable with the paper" in md
        table = pd.read_csv(tiny_workflow / RESULTS / "tables" / f"table1_{dataset}.csv", comment="#")
        ours = table[table["source"].str.startswith("ours")]
        assert len(ours) == 6  # Baseline, G2RL and G2RL + stop-grad/teach x ICC and MAE
        assert ours["Avg"].notna().all() and set(ours["method"]) == {"Baseline", "G2RL", "G2RL + stop-grad/teach"}
        assert dict(zip(ours["method"], ours["variant"].fillna(""))) == {
            "Baseline": "", "G2RL": "literal", "G2RL + stop-grad/teach": "stopgrad_aux"}


def test_seeds_confidence_intervals_and_the_paired_comparison(tiny_workflow):
    """Table 1 rows ran 2 seeds; metrics.json, Table 1 and g2rl_vs_baseline carry CIs over test subjects."""
    wd = tiny_workflow
    tables = wd / RESULTS / "tables"
    for dataset in DATASETS:
        for method, sigma, lam in TABLE1:
            assert (run_dir(wd, dataset, method, sigma, lam).parent / "seed1" / "metrics.json").is_file()
        assert not (run_dir(wd, dataset, "g2rl", "1", "0.05").parent / "seed1").exists()  # sweeps: one seed
        m = json.loads((run_dir(wd, dataset, "g2rl", "2", "0.05") / "metrics.json").read_text())
        lo, hi = m["bootstrap"]["avg"]["icc_ci"]
        assert m["bootstrap"]["unit"] == "subject" and lo <= hi  # one run; evidence.json resamples the seeds too
        assert json.loads((wd / RESULTS / dataset / "evidence.json").read_text())["bootstrap"]["unit"] == "seed and subject"
        assert m["diagnostics"]["summary"]["final_loss_guidance"] is not None
        ev = json.loads((wd / RESULTS / dataset / "evidence.json").read_text())
        assert ev["seeds"] == ["0", "1"] and ev["differences"]["g2rl"]["avg"]["icc"]["ci"][0] is not None
        assert ev["methods"]["g2rl-stopgrad_aux"]["label"] == "G2RL + stop-grad/teach"
        md = (tables / f"table1_{dataset}.md").read_text()
        assert "Our rows with their uncertainty" in md and "resampling the seeds and the" in md
        t1 = pd.read_csv(tables / f"table1_{dataset}.csv")
        assert t1.loc[t1["source"].str.startswith("ours"), ["Avg_sd", "Avg_lo", "Avg_hi"]].notna().all().all()
    for dataset in DATASETS:  # one comparison per dataset, named by it (issue 21: configs do not overwrite)
        cmp = pd.read_csv(tables / f"g2rl_vs_baseline_{dataset}.csv")
        assert set(cmp["dataset"]) == {dataset} and (cmp["n_seeds"] == 2).all()
        avg = cmp[cmp["au"] == "Avg"]
        assert len(avg) == 4 and avg[["diff", "diff_lo", "diff_hi", "g2rl_win_share"]].notna().all().all()
        assert (avg["diff_lo"] <= avg["diff_hi"]).all() and set(avg["variant"]) == {"literal", "stopgrad_aux"}
        text = (tables / f"g2rl_vs_baseline_{dataset}.md").read_text()
        assert "G2RL − Baseline" in text and "G2RL + stop-grad/teach − Baseline" in text


def test_predictions_cover_each_test_frame_once(tiny_workflow):
    """Across DISFA's three test folds every indexed frame (with landmarks) is predicted exactly once."""
    wd = tiny_workflow
    index = pd.read_csv(wd / RESULTS / "disfa" / "frame_index.csv", dtype={"split": str})
    rd = run_dir(wd, "disfa", "g2rl", "2", "0.05")
    preds = pd.concat([pd.read_csv(rd / f"fold{f}" / "predictions.csv", dtype={"split": str}) for f in DATASETS["disfa"]])
    assert not preds.duplicated(["subject", "session", "frame"]).any()
    assert len(preds) <= len(index) and len(preds) >= 0.95 * len(index)
    assert preds.filter(like="_pred").stack().between(0, 5).all()


def test_inference_checkpoint_is_the_baseline_network(tiny_workflow):
    """G2RL's saved model has exactly the Baseline's parameters: geometry module and projection are gone."""
    rd_b = run_dir(tiny_workflow, "bp4d", "baseline", "2", "0")
    rd_g = run_dir(tiny_workflow, "bp4d", "g2rl", "2", "0.05")
    base = torch.load(rd_b / "folddevel" / "model.pt", weights_only=True)
    g2rl = torch.load(rd_g / "folddevel" / "model.pt", weights_only=True)
    assert {k: v.shape for k, v in base["state_dict"].items()} == {k: v.shape for k, v in g2rl["state_dict"].items()}
    assert g2rl["meta"]["aus"] == ["AU06", "AU10", "AU12", "AU14", "AU17"]


def test_report_builds(tiny_workflow):
    run_snakemake(tiny_workflow, "--report", "report.html")
    html = (tiny_workflow / "report.html").read_text(errors="replace")
    assert "Table 1" in html and "sensitivity" in html.lower()


def test_rerun_one_fold_only(tiny_workflow):
    """README: force one fold by asking for its output with -f; nothing else is rerun."""
    wd = tiny_workflow
    target = run_dir(wd, "disfa", "g2rl", "2", "0.05") / "fold2" / "predictions.csv"
    before = {p: p.stat().st_mtime_ns for p in (wd / RESULTS).rglob("*") if p.is_file()}
    out = run_snakemake(wd, "-f", str(target.relative_to(wd)))
    after = {p: p.stat().st_mtime_ns for p in (wd / RESULTS).rglob("*") if p.is_file()}
    changed = {p.relative_to(wd).as_posix() for p in after if before.get(p) != after[p]}
    fold = target.parent.relative_to(wd).as_posix()
    assert target.relative_to(wd).as_posix() in changed
    # logs and benchmark records (results/benchmarks/) of the rerun job are rewritten with it
    others = {c for c in changed if not c.startswith(fold + "/") and not any(d in f"/{c}" for d in ("/logs/", "/benchmarks/"))}
    assert not others, f"rerunning one fold also rewrote {sorted(others)}"
    assert "1 of 1 steps (100%) done" in out or "2 of 2 steps (100%) done" in out


def test_benchmarks_recorded_for_landmark_cache_train_and_evaluation_jobs(tiny_workflow):
    """`benchmark:` records (seconds, peak memory) that docs/CLUSTER.md sizes the SLURM profile from, and that the
    paper-scale rehearsal reads (benchmarks/rehearse_paper_scale.py: evaluate, evidence, Table 1 too)."""
    bench = tiny_workflow / RESULTS / "benchmarks"
    for pattern in ("*/landmarks/*.tsv", "*/crop_cache.tsv", "*/heatmap_cache_sigma2.tsv", "*/train/*.tsv",
                    "*/evaluate/*.tsv", "*/evidence.tsv", "*/table1.tsv"):
        files = sorted(bench.glob(pattern))
        assert files, f"no benchmark record {pattern}"
        table = pd.read_csv(files[0], sep="\t")
        assert {"s", "max_rss"} <= set(table.columns) and (table["s"] > 0).all()


def test_landmark_detector_is_a_config_key(tiny_workflow):
    """landmarks.detector reaches `g2rl landmarks --detector` (quoted): the default is blazeface, as `g2rl
    predict`'s; changing it replans every landmark job, which the default does not."""
    out = run_snakemake(tiny_workflow, "-n", "-p", "--forcerun", "landmarks")
    commands = [line for line in out.splitlines() if " -m g2rl landmarks " in line]
    assert commands and all("--detector blazeface " in c for c in commands), out[-3000:]
    out = run_snakemake(tiny_workflow, "-n", "-p", "--config", "landmarks={detector: cnn}")
    commands = [line for line in out.splitlines() if " -m g2rl landmarks " in line]
    assert commands and all("--detector cnn " in c for c in commands), out[-3000:]
    assert "--detector blazeface" not in out
