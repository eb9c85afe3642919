"""`g2rl report table1|sensitivity` on metrics.json files laid out as the workflow writes them."""

import argparse
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from g2rl.errors import G2RLError
from g2rl.reports import report_cli
from g2rl.reports.evaluate import evaluate_runs, write_metrics_json

PAPER_CSV = Path(__file__).resolve().parents[1] / "config" / "paper_table1.csv"
BP4D_AUS = ["AU06", "AU10", "AU12", "AU14", "AU17"]


def run_report(argv):
    parser = argparse.ArgumentParser()
    report_cli.add_arguments(parser)
    return report_cli.main(parser.parse_args(argv))


def make_run(root: Path, dataset, method, sigma, lam, seed, noise, split="devel", run_labels=None):
    """A predictions CSV (20 frames, BP4D AUs) -> metrics.json under the workflow's run layout."""
    rng = np.random.default_rng(seed + int(1000 * noise))
    true = rng.integers(0, 6, (20, len(BP4D_AUS))).astype(float)
    pred = np.clip(true + rng.normal(0, noise, true.shape), 0, 5)
    df = pd.DataFrame({"subject": "F002", "session": "T1", "frame": np.arange(20), "split": split})
    for k, au in enumerate(BP4D_AUS):
        df[f"{au}_pred"], df[f"{au}_true"] = pred[:, k], true[:, k]
    d = root / dataset / "runs" / method / f"sigma{sigma}" / f"lambda{lam}" / f"seed{seed}"
    d.mkdir(parents=True)
    df.to_csv(d / "predictions.csv", index=False)
    m = evaluate_runs([d / "predictions.csv"])
    if run_labels:
        m["run"] = run_labels
    return write_metrics_json(m, d / "metrics.json"), m


def test_report_table1_averages_seeds(tmp_path):
    b0, mb0 = make_run(tmp_path, "bp4d", "baseline", "2", "0", 0, 1.0)
    b1, mb1 = make_run(tmp_path, "bp4d", "baseline", "2", "0", 1, 1.0)
    g0, mg0 = make_run(tmp_path, "bp4d", "g2rl", "2", "0.05", 0, 0.3)
    prefix = tmp_path / "tables" / "table1_bp4d"
    rc = run_report(["table1", "--dataset", "bp4d", "--baseline", str(b0), str(b1), "--g2rl", str(g0),
                     "--paper", str(PAPER_CSV), "--data-label", "demo", "--out-prefix", str(prefix)])
    assert rc == 0
    csv = pd.read_csv(prefix.with_suffix(".csv"))
    ours = csv[csv["source"].str.startswith("ours")].set_index(["metric", "method"])
    expect = np.mean([mb0["folds"]["devel"]["per_au"]["AU10"]["icc"], mb1["folds"]["devel"]["per_au"]["AU10"]["icc"]])
    assert ours.at[("ICC", "Baseline"), "AU10"] == pytest.approx(expect, abs=1e-6)
    assert ours.at[("MAE", "G2RL"), "Avg"] == pytest.approx(mg0["folds"]["devel"]["avg"]["mae"], abs=1e-6)
    md = prefix.with_suffix(".md").read_text()
    assert "Baseline (ours): test split devel, mean over 2 seeds" in md
    assert "DEMO dataset" in md


def test_report_sensitivity_from_paths_and_labels(tmp_path):
    files = []
    for dataset in ("bp4d", "disfa"):
        for i, s in enumerate(["0.4472", "1", "2", "2.236"]):
            for seed in (0, 1):
                files.append(make_run(tmp_path, dataset, "g2rl", s, "0.05", seed, 0.2 + 0.3 * i)[0])
    # a file outside the layout, labelled through `g2rl evaluate --run`
    other = tmp_path / "elsewhere"
    f, _ = make_run(other, "x", "y", "z", "w", 0, 0.5, run_labels={"dataset": "disfa", "sigma": "0.7071"})
    files.append(f)
    records = report_cli.sensitivity_records([str(p) for p in files], "sigma")
    assert len(records) == 2 * 4 + 1
    assert sorted(records.loc[records["dataset"] == "disfa", "value"].round(4)) == [0.4472, 0.7071, 1.0, 2.0, 2.236]
    prefix = tmp_path / "figures" / "sensitivity_sigma"
    assert run_report(["sensitivity", "--param", "sigma", "--out-prefix", str(prefix), "--data-label", "real", *map(str, files)]) == 0
    assert prefix.with_suffix(".png").stat().st_size > 5000
    assert prefix.with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"
    # more noise -> lower ICC: the curve follows the runs, not a constant
    bp = records[records["dataset"] == "bp4d"].sort_values("value")
    assert bp["icc"].iloc[0] > bp["icc"].iloc[-1]
    assert not math.isnan(bp["mae"].iloc[0])


def test_report_sensitivity_unlabelled_file_is_an_error(tmp_path):
    d = tmp_path / "loose"
    f, _ = make_run(d, "a", "b", "c", "d", 0, 0.5)
    lonely = tmp_path / "metrics.json"
    lonely.write_text(f.read_text())
    with pytest.raises(G2RLError, match="metrics.json: cannot tell its dataset and sigma"):
        report_cli.sensitivity_records([str(lonely)], "sigma")


def test_report_sensitivity_draws_the_baseline(tmp_path, monkeypatch):
    """--baseline: the Baseline's metrics (seeds averaged per dataset) reach the figure as its reference lines."""
    from g2rl.reports import figures

    files = [make_run(tmp_path, "bp4d", "g2rl", "2", lam, 0, 0.3)[0] for lam in ("0.05", "0.5")]
    b0, m0 = make_run(tmp_path, "bp4d", "baseline", "2", "0", 0, 1.0)
    b1, m1 = make_run(tmp_path, "bp4d", "baseline", "2", "0", 1, 1.0)
    seen = {}
    real = figures.plot_sensitivity
    monkeypatch.setattr(figures, "plot_sensitivity", lambda *a, **k: seen.update(k) or real(*a, **k))
    prefix = tmp_path / "figures" / "sensitivity_lambda"
    assert run_report(["sensitivity", "--param", "lambda", "--out-prefix", str(prefix), "--data-label", "real",
                       *map(str, files), "--baseline", str(b0), str(b1)]) == 0
    base = seen["baseline"].set_index("dataset")
    expect = np.mean([m["folds"]["devel"]["avg"]["icc"] for m in (m0, m1)])
    assert base.at["bp4d", "icc"] == pytest.approx(expect)
