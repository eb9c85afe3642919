"""metrics.json's bootstrap / fold_mean / diagnostics keys, evidence.json, the G2RL-vs-Baseline table
and Table 1's uncertainty, on small fake DISFA-like runs (3 folds x 2 subjects, pooled)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from g2rl import metrics
from g2rl.errors import G2RLError
from g2rl.reports import cli as evaluate_cli
from g2rl.reports import report_cli
from g2rl.reports.evaluate import evaluate_runs

PAPER_CSV = Path(__file__).resolve().parents[1] / "config" / "paper_table1.csv"
AUS = ["AU01", "AU02", "AU04", "AU05", "AU06", "AU09", "AU12", "AU15", "AU17", "AU20", "AU25", "AU26"]
FOLDS = {"1": ["SN001", "SN002"], "2": ["SN003", "SN004"], "3": ["SN005", "SN006"]}


def _run(argv, module):
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return module.main(parser.parse_args(argv))


def make_seed(root: Path, method: str, seed: int, noise: float, frames: int = 15, guidance: str | None = None) -> Path:
    """Predictions of 3 folds + diagnostics -> `g2rl evaluate --pooled` -> metrics.json; returns its path.
    ``guidance``: recorded as the runs' model (their provenance), as a training would."""
    lam = "0" if method == "baseline" else "0.05"
    d = root / "disfa" / "runs" / method / "sigma2" / f"lambda{lam}" / f"seed{seed}"
    labels = np.random.default_rng(99)  # the same labels for every run
    noise_rng = np.random.default_rng(1000 * seed + int(100 * noise))
    preds, diags = [], []
    for split, subjects in FOLDS.items():
        n = frames * len(subjects)
        true = np.clip(labels.normal(1.5, 1.2, (n, len(AUS))), 0, 5).round()
        pred = np.clip(true + noise_rng.normal(0, noise, true.shape), 0, 5)
        df = pd.DataFrame({"subject": np.repeat(subjects, frames), "session": "a", "frame": np.arange(n), "split": split})
        for k, au in enumerate(AUS):
            df[f"{au}_pred"], df[f"{au}_true"] = pred[:, k], true[:, k]
        (d / f"fold{split}").mkdir(parents=True)
        df.to_csv(d / f"fold{split}" / "predictions.csv", index=False)
        preds.append(str(d / f"fold{split}" / "predictions.csv"))
        teach = ({"available": True, "reason": "", "n_frames": n, "n_skipped": 0,
                  "per_au": {a: {"icc": 0.5, "mae": 0.9} for a in AUS}, "avg": {"icc": 0.5, "mae": 0.9}}
                 if method.startswith("g2rl") else {"available": False, "reason": "no geometry branch (Baseline)"})
        diag = {"format": "g2rl-diagnostics/1", "method": method, "teach": teach,
                "final": {"loss_guidance": 0.1 * int(split) if method.startswith("g2rl") else None, "g_spread": 0.2,
                          "g_norm": 1.0}}
        (d / f"fold{split}" / "diagnostics.json").write_text(json.dumps(diag))
        diags.append(str(d / f"fold{split}" / "diagnostics.json"))
    out = d / "metrics.json"
    assert _run([*preds, "--pooled", "--out", str(out), "--resamples", "200", "--diagnostics", *diags], evaluate_cli) == 0
    if guidance:
        m = json.loads(out.read_text())
        model = {"guidance": guidance, "au_points": "hr", "heatmap_layout": "per_au", "heatmap_peak": "eq1"}
        m["provenance"] = {"inputs": {p: {"config": {"model": model}} for p in preds}}
        out.write_text(json.dumps(m))
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ev")
    base = [make_seed(root, "baseline", s, 1.2) for s in (0, 1)]
    g2rl = [make_seed(root, "g2rl", s, 0.4) for s in (0, 1)]
    return root, base, g2rl


def test_metrics_json_gains_bootstrap_fold_mean_and_diagnostics(runs):
    _, base, g2rl = runs
    m = json.loads(g2rl[0].read_text())
    assert m["bootstrap"]["unit"] == "subject" and m["bootstrap"]["n_subjects"] == 6  # one run: its seed fixed
    assert m["bootstrap"]["section"] == "pooled" and m["bootstrap"]["n_resamples"] == 200
    lo, hi = m["bootstrap"]["avg"]["icc_ci"]
    assert lo <= m["pooled"]["avg"]["icc"] <= hi
    fm = m["fold_mean"]
    assert fm["n_folds"] == 3
    assert fm["avg"]["mae"] == pytest.approx(np.mean([f["avg"]["mae"] for f in m["folds"].values()]))
    assert fm["per_au"]["AU04"]["icc"] == pytest.approx(np.mean([f["per_au"]["AU04"]["icc"] for f in m["folds"].values()]))
    s = m["diagnostics"]["summary"]
    assert s["final_loss_guidance"] == pytest.approx(0.2) and s["teach"]["avg"]["icc"] == pytest.approx(0.5)
    sb = json.loads(base[0].read_text())["diagnostics"]["summary"]
    assert sb["teach"] is None and "no geometry branch" in sb["note"] and sb["final_loss_guidance"] is None


def test_evidence_comparison_and_table1(runs, tmp_path):
    root, base, g2rl = runs
    ev_path = tmp_path / "evidence.json"
    assert _run(["evidence", "--dataset", "disfa", "--baseline", *map(str, base), "--g2rl", *map(str, g2rl),
                 "--out", str(ev_path)], report_cli) == 0
    ev = json.loads(ev_path.read_text())
    assert ev["seeds"] == ["0", "1"] and len(ev["subjects"]) == 6
    # the seed mean is the mean of the per-seed pooled metrics that metrics.json holds
    per_seed = [json.loads(p.read_text())["pooled"]["avg"]["icc"] for p in g2rl]
    assert ev["methods"]["g2rl"]["avg"]["icc"]["mean"] == pytest.approx(np.mean(per_seed), abs=1e-9)
    assert ev["methods"]["g2rl"]["avg"]["icc"]["sd"] == pytest.approx(np.std(per_seed, ddof=1), abs=1e-9)
    assert ev["rows"] == ["baseline", "g2rl"] and ev["methods"]["g2rl"]["label"] == "G2RL"
    d = ev["differences"]["g2rl"]["avg"]
    assert ev["differences"]["g2rl"]["against"] == "baseline"
    assert d["icc"]["ci_excludes_0"] and d["icc"]["diff"] > 0 and d["icc"]["win_share"] == 1.0
    assert d["icc"]["seeds_agree"] and d["icc"]["mark"] == "better" and len(d["icc"]["per_seed"]) == 2
    assert d["mae"]["diff"] < 0 and d["mae"]["ci"][1] < 0
    assert ev["methods"]["g2rl"]["fold_mean"]["n_folds"] == 3
    # 12 AUs + Avg, two metrics, one compared row: 26 cells, no adjustment, said plainly
    assert ev["multiplicity"] == {"cells_tested": 26, "primary": 2, "adjusted": False,
                                  "note": ev["multiplicity"]["note"]}
    assert "26 cells tested" in ev["multiplicity"]["note"] and "about 1.3 of them" in ev["multiplicity"]["note"]
    assert "2 seeds: training randomness is barely sampled" in ev["marks"]["legend"]

    prefix = tmp_path / "g2rl_vs_baseline"
    assert _run(["compare", "--data-label", "demo", "--out-prefix", str(prefix), str(ev_path)], report_cli) == 0
    table = pd.read_csv(prefix.with_suffix(".csv"))
    assert len(table) == 2 * (len(AUS) + 1)
    avg = table[(table["au"] == "Avg") & (table["metric"] == "ICC")].iloc[0]
    assert avg["diff"] == pytest.approx(d["icc"]["diff"]) and bool(avg["ci_excludes_0"])
    assert avg["g2rl_teach"] == pytest.approx(0.5) and avg["g2rl_final_loss_guidance"] == pytest.approx(0.2)
    md = prefix.with_suffix(".md").read_text()
    assert "DEMO dataset" in md and "resampling the seeds and the test subjects" in md and "| Avg | ICC |" in md
    assert "26 cells tested" in md and "barely sampled" in md

    t1 = tmp_path / "table1_disfa"
    base_args = ["table1", "--dataset", "disfa", "--baseline", *map(str, base), "--g2rl", *map(str, g2rl),
                 "--paper", str(PAPER_CSV), "--data-label", "demo", "--out-prefix", str(t1)]
    assert _run([*base_args, "--evidence", str(ev_path)], report_cli) == 0
    csv = pd.read_csv(t1.with_suffix(".csv"))
    g = csv[(csv["method"] == "G2RL") & csv["source"].str.startswith("ours") & (csv["metric"] == "ICC")].iloc[0]
    assert g["Avg_lo"] == pytest.approx(ev["methods"]["g2rl"]["avg"]["icc"]["ci"][0])
    assert "Avg" in g["better_than_baseline"].split(";") and pd.isna(g["worse_than_baseline"])
    assert csv[csv["source"] == "paper"]["Avg_sd"].isna().all()
    md = t1.with_suffix(".md").read_text()
    assert "▲" in md and "▼ / " not in md and "Our rows with their uncertainty" in md and "excludes 0" in md
    fm = ev["methods"]["g2rl"]["fold_mean"]["avg"]["icc"]
    assert f"G2RL (ours), per-fold mean instead of pooled: Avg ICC {fm:.2f}" in md
    assert "\\bigtriangleup" in t1.with_suffix(".tex").read_text() and "▲" not in t1.with_suffix(".tex").read_text()
    # without --evidence, Table 1 is as before
    assert _run(base_args, report_cli) == 0
    assert "▲" not in t1.with_suffix(".md").read_text() and "Avg_sd" not in pd.read_csv(t1.with_suffix(".csv")).columns


def test_evidence_refuses_unpaired_seeds(runs, tmp_path):
    _, base, g2rl = runs
    with pytest.raises(G2RLError, match="same seeds"):
        _run(["evidence", "--dataset", "disfa", "--baseline", str(base[0]), "--g2rl", str(g2rl[1]),
              "--out", str(tmp_path / "e.json")], report_cli)


def test_evaluate_without_bootstrap_and_point_estimates_agree(tmp_path):
    """--resamples 0 writes no CI; the bootstrap's full-set value equals g2rl.metrics on the same frames."""
    f = make_seed(tmp_path, "g2rl", 5, 0.5)
    m = json.loads(f.read_text())
    pooled = pd.concat([pd.read_csv(p) for p in m["pooled"]["files"]])
    assert m["pooled"]["per_au"]["AU12"]["icc"] == pytest.approx(metrics.icc(pooled["AU12_pred"], pooled["AU12_true"]))
    m0 = evaluate_runs(m["pooled"]["files"], pooled=True, bootstrap=None)
    assert m0["bootstrap"] is None and m0["fold_mean"]["n_folds"] == 3


def test_sensitivity_error_bars_sd_over_seeds_or_bootstrap_ci(runs, tmp_path):
    from g2rl.reports.figures import plot_sensitivity

    _, base, g2rl = runs
    one = report_cli.sensitivity_records([str(g2rl[0])], "sigma")
    m = json.loads(g2rl[0].read_text())
    assert one.at[0, "icc_lo"] == pytest.approx(m["bootstrap"]["avg"]["icc_ci"][0])
    assert one.at[0, "mae_hi"] == pytest.approx(m["bootstrap"]["avg"]["mae_ci"][1])
    assert "bootstrap CI over test subjects" in one.attrs["error_bars"]
    two = report_cli.sensitivity_records([str(p) for p in g2rl], "sigma")
    icc = [json.loads(p.read_text())["pooled"]["avg"]["icc"] for p in g2rl]
    assert two.at[0, "icc_hi"] - two.at[0, "icc"] == pytest.approx(np.std(icc, ddof=1))
    assert "sd over 2 seeds" in two.attrs["error_bars"]
    png, _ = plot_sensitivity(two, tmp_path / "sens")
    assert png.stat().st_size > 5000


def test_marks_say_which_way_and_vanish_with_few_subjects(runs, tmp_path):
    """G2RL (less noise) is better in ICC (higher) and in MAE (lower): both ▲, in every format. With the
    roles swapped both are ▼. With 3 test subjects (10 distinct resamples) there are no marks, and the
    tables say why."""
    from g2rl.reports.comparison import comparison_frame, to_html, to_markdown

    _, base, g2rl = runs
    ev_path = tmp_path / "evidence.json"
    assert _run(["evidence", "--dataset", "disfa", "--baseline", *map(str, base), "--g2rl", *map(str, g2rl),
                 "--out", str(ev_path)], report_cli) == 0
    ev = json.loads(ev_path.read_text())
    avg = comparison_frame([ev]).query("au == 'Avg'").set_index("metric")
    assert avg.loc["ICC", "g2rl_mark"] == "better" and avg.loc["MAE", "g2rl_mark"] == "better"
    assert "▲" in to_markdown(comparison_frame([ev]), "x") and "▲" in to_html(comparison_frame([ev]), "x")

    swapped = tmp_path / "swapped.json"
    assert _run(["evidence", "--dataset", "disfa", "--baseline", *map(str, g2rl), "--g2rl", *map(str, base),
                 "--out", str(swapped)], report_cli) == 0
    t1 = tmp_path / "t1"
    assert _run(["table1", "--dataset", "disfa", "--baseline", *map(str, g2rl), "--g2rl", *map(str, base),
                 "--paper", str(PAPER_CSV), "--data-label", "demo", "--evidence", str(swapped),
                 "--out-prefix", str(t1)], report_cli) == 0
    csv = pd.read_csv(t1.with_suffix(".csv"))
    g = csv[(csv["method"] == "G2RL") & csv["source"].str.startswith("ours")].set_index("metric")
    assert "Avg" in g.loc["ICC", "worse_than_baseline"].split(";") and "Avg" in g.loc["MAE", "worse_than_baseline"].split(";")
    row = next(line for line in t1.with_suffix(".md").read_text().splitlines() if line.startswith("| MAE | G2RL (ours)"))
    assert row.rstrip(" |").endswith("▼") and "▼" in t1.with_suffix(".html").read_text()
    assert "bigtriangledown" in t1.with_suffix(".tex").read_text()

    few_path = tmp_path / "few.json"  # the first fold's 2 subjects + 1: 3 test subjects, 10 distinct resamples
    few_runs = {}
    for name, runs in (("baseline", base), ("g2rl", g2rl)):
        few_runs[name] = []
        for p in runs:
            m = json.loads(Path(p).read_text())
            rows = pd.concat([pd.read_csv(f) for f in m["pooled"]["files"]])
            keep = rows[rows["subject"].isin(["SN001", "SN002", "SN003"])]
            out = Path(p).parent / "few" / "predictions.csv"
            out.parent.mkdir(exist_ok=True)
            keep.assign(split="1").to_csv(out, index=False)
            few_runs[name].append(out)
    few_metrics = {n: [] for n in few_runs}
    for n, preds in few_runs.items():
        for pred in preds:
            target = pred.parent / "metrics.json"
            assert _run([str(pred), "--out", str(target), "--resamples", "0"], evaluate_cli) == 0
            few_metrics[n].append(str(target))
    assert _run(["evidence", "--dataset", "disfa", "--baseline", *few_metrics["baseline"], "--g2rl",
                 *few_metrics["g2rl"], "--out", str(few_path)], report_cli) == 0
    few = json.loads(few_path.read_text())
    assert len(few["subjects"]) == 3 and not few["marks"]["shown"]
    frame = comparison_frame([few])
    assert (frame["g2rl_mark"] == "").all() and frame["ci_excludes_0"].any()
    md = to_markdown(frame, "x")
    assert "▲" not in md.split("No ▲/▼ marks")[1] and "only 10 distinct bootstrap resamples" in md
    assert _run(["table1", "--dataset", "disfa", "--baseline", *few_metrics["baseline"], "--g2rl", *few_metrics["g2rl"],
                 "--paper", str(PAPER_CSV), "--data-label", "demo", "--evidence", str(few_path),
                 "--out-prefix", str(t1)], report_cli) == 0
    md = t1.with_suffix(".md").read_text()
    assert "No ▲/▼ marks: 3 test subjects" in md and "▲" not in md.replace("No ▲/▼", "")


def test_an_extra_table1_row_is_named_by_its_variant_everywhere(tmp_path):
    """Table 1's G2RL ran the paper's Eq. 6/8 (guidance literal); our fix (stopgrad_aux) is a row of its own,
    `--variant stopgrad_aux`: evidence.json names both rows and their variants, Table 1 shows three of our rows,
    each labelled with its guidance, and the comparison has one block per G2RL row, each against the Baseline."""
    from g2rl.reports.comparison import comparison_frame, to_markdown

    base = [make_seed(tmp_path, "baseline", s, 1.2, guidance="literal") for s in (0, 1)]
    paper = [make_seed(tmp_path, "g2rl", s, 1.1, guidance="literal") for s in (0, 1)]
    ours = [make_seed(tmp_path, "g2rl-stopgrad_aux", s, 0.5, guidance="stopgrad_aux") for s in (0, 1)]
    rows = ["--baseline", *map(str, base), "--g2rl", *map(str, paper), "--variant", "stopgrad_aux", *map(str, ours)]
    ev_path = tmp_path / "evidence.json"
    assert _run(["evidence", "--dataset", "disfa", *rows, "--out", str(ev_path)], report_cli) == 0
    ev = json.loads(ev_path.read_text())
    assert ev["rows"] == ["baseline", "g2rl", "g2rl-stopgrad_aux"]
    named = {k: (v["label"], v["variant"]) for k, v in ev["methods"].items()}
    assert named == {"baseline": ("Baseline", None), "g2rl": ("G2RL", "literal"),
                     "g2rl-stopgrad_aux": ("G2RL + stop-grad/teach", "stopgrad_aux")}
    assert "the paper's" in ev["methods"]["g2rl"]["variant_note"] and "not the paper's" in ev["methods"]["g2rl-stopgrad_aux"]["variant_note"]
    assert set(ev["differences"]) == {"g2rl", "g2rl-stopgrad_aux"} and ev["multiplicity"]["cells_tested"] == 52

    t1 = tmp_path / "t1"
    assert _run(["table1", "--dataset", "disfa", *rows, "--paper", str(PAPER_CSV), "--data-label", "demo",
                 "--evidence", str(ev_path), "--out-prefix", str(t1)], report_cli) == 0
    md = t1.with_suffix(".md").read_text()
    assert "| ICC | G2RL (ours, literal) |" in md and "| ICC | G2RL + stop-grad/teach (ours) |" in md
    assert "G2RL (ours) is guidance literal: Eq. 6/8 as written" in md
    assert "G2RL + stop-grad/teach (ours) is guidance stopgrad_aux" in md
    assert "MAE G2RL + stop-grad/teach (ours)" in md  # its uncertainty column
    csv = pd.read_csv(t1.with_suffix(".csv"))
    ours_rows = csv[csv["source"].str.startswith("ours")]
    assert sorted(set(ours_rows["method"])) == ["Baseline", "G2RL", "G2RL + stop-grad/teach"]
    assert dict(zip(ours_rows["method"], ours_rows["variant"].fillna(""))) == {
        "Baseline": "", "G2RL": "literal", "G2RL + stop-grad/teach": "stopgrad_aux"}

    frame = comparison_frame([ev])
    assert list(dict.fromkeys(frame["row"])) == ["G2RL", "G2RL + stop-grad/teach"]
    md = to_markdown(frame, "x")
    assert "*DISFA, G2RL (guidance literal) vs Baseline: 2 seed(s), 6 test subjects; last epoch L_G " in md
    assert "*DISFA, G2RL + stop-grad/teach (guidance stopgrad_aux) vs Baseline" in md
    assert "| AU | Metric | Baseline | G2RL + stop-grad/teach | G2RL + stop-grad/teach − Baseline |" in md
    # an evidence.json of other rows is refused rather than mislabelled
    with pytest.raises(G2RLError, match="not Table 1's rows"):
        _run(["table1", "--dataset", "disfa", "--baseline", *map(str, base), "--g2rl", *map(str, paper),
              "--paper", str(PAPER_CSV), "--data-label", "demo", "--evidence", str(ev_path), "--out-prefix", str(t1)],
             report_cli)
    with pytest.raises(G2RLError, match="variant name"):
        _run(["evidence", "--dataset", "disfa", *rows[:6], "--variant", "Bad-Name", str(ours[0]), "--out",
              str(tmp_path / "x.json")], report_cli)


def test_the_sensitivity_figure_names_the_variant_the_sweep_trained(tmp_path, monkeypatch):
    """Figures 6 and 7 sweep Table 1's G2RL: its legend says which guidance that was, from the runs' records."""
    from g2rl.reports import figures

    runs = [make_seed(tmp_path, "g2rl", s, 0.4, guidance="literal") for s in (0, 1)]
    seen = {}
    def fake(records, prefix, **kw):
        seen.update(kw)
        out = [Path(f"{prefix}.png"), Path(f"{prefix}.pdf")]
        for p in out:
            p.write_bytes(b"x")
        return out

    monkeypatch.setattr(figures, "plot_sensitivity", fake)
    assert _run(["sensitivity", "--param", "sigma", "--out-prefix", str(tmp_path / "s"), "--data-label", "demo",
                 *map(str, runs)], report_cli) == 0
    assert seen["method"] == "G2RL (literal)"
