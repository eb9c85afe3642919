"""Training curves from train_log.csv files laid out as the workflow writes them."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from g2rl.errors import G2RLError
from g2rl.reports import figures, report_cli
from g2rl.reports.training_curves import loss_terms, plot_training_curves, read_training_log, read_training_logs

COLUMNS = ["epoch", "lr", "loss_total", "loss_heatmap", "loss_guidance", "loss_aux", "g_norm", "seconds"]


def write_log(root, method, fold, seed=0, epochs=3):
    lam = "0" if method == "baseline" else "0.05"
    path = root / "disfa" / "runs" / method / "sigma2" / f"lambda{lam}" / f"seed{seed}" / f"fold{fold}" / "train_log.csv"
    path.parent.mkdir(parents=True)
    e = np.arange(1, epochs + 1)
    guided = method == "g2rl"
    pd.DataFrame({"epoch": e, "lr": 5e-4, "loss_total": 1.0 / e, "loss_heatmap": 0.8 / e,
                  "loss_guidance": 0.1 / e if guided else np.nan, "loss_aux": 0.1 / e if guided else np.nan,
                  "g_norm": 1.0 if guided else np.nan, "seconds": 2.0})[COLUMNS].to_csv(path, index=False)
    return path


def test_runs_are_labelled_from_their_paths(tmp_path):
    run = read_training_log(write_log(tmp_path, "g2rl", "2", seed=1))
    assert (run.method, run.sigma, run.lam, run.seed, run.fold) == ("g2rl", "2", "0.05", "1", "2")
    assert run.label == "g2rl fold 2 seed 1" and list(run.log["epoch"]) == [1, 2, 3]
    runs = read_training_logs([write_log(tmp_path, "g2rl", "1"), write_log(tmp_path, "baseline", "1")])
    assert [r.method for r in runs] == ["baseline", "g2rl"]


def test_loss_terms_skip_columns_no_run_fills(tmp_path):
    base = read_training_log(write_log(tmp_path, "baseline", "1"))
    assert loss_terms([base]) == ["loss_total", "loss_heatmap"]  # the Baseline logs no guidance
    g = read_training_log(write_log(tmp_path, "g2rl", "1"))
    assert loss_terms([base, g]) == ["loss_total", "loss_heatmap", "loss_guidance", "loss_aux"]


def test_bad_logs_name_the_file(tmp_path):
    with pytest.raises(G2RLError, match="not in the run layout"):
        read_training_log(tmp_path / "train_log.csv")
    path = write_log(tmp_path, "g2rl", "1")
    path.write_text("epoch,lr\n1,0.1\n")
    with pytest.raises(G2RLError, match=f"{path}: needs an 'epoch' column and loss_"):
        read_training_log(path)
    path.write_text("")
    with pytest.raises(G2RLError, match="not a readable CSV"):
        read_training_log(path)
    path.unlink()
    with pytest.raises(G2RLError, match="training log not found"):
        read_training_log(path)


def test_one_panel_per_term_one_line_per_run(tmp_path, monkeypatch):
    runs = read_training_logs([write_log(tmp_path, m, f) for m in ("baseline", "g2rl") for f in ("1", "2")])
    seen = {}
    real_save = figures._save
    monkeypatch.setattr(figures, "_save", lambda fig, path: seen.setdefault("fig", fig) and real_save(fig, path))
    png, pdf = plot_training_curves(runs, tmp_path / "fig" / "training_disfa", "DISFA", demo=True)
    assert png.read_bytes()[:4] == b"\x89PNG" and pdf.read_bytes()[:4] == b"%PDF"
    fig = seen["fig"]
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == [
        "L total: Eq. 8 + teach loss (loss_total)", "L_S heatmap loss (Eq. 8's L'_S) (loss_heatmap)",
        "L_G guidance loss (loss_guidance)", "L_teach geometry branch's intensity loss (loss_aux)"]
    assert [len(ax.lines) for ax in panels] == [4, 4, 2, 2]  # guidance terms: the G2RL runs only
    np.testing.assert_allclose(panels[1].lines[0].get_ydata(), [0.8, 0.4, 0.8 / 3])
    assert all(any(t.get_text() == "DEMO DATA" for t in ax.texts) for ax in panels)  # each panel stamped


def test_report_training_cli(tmp_path):
    import argparse

    logs = [str(write_log(tmp_path, m, "1")) for m in ("baseline", "g2rl")]
    parser = argparse.ArgumentParser()
    report_cli.add_arguments(parser)
    args = parser.parse_args(["training", "--out-prefix", str(tmp_path / "t"), "--data-label", "real", *logs])
    # the G2RL run carries a training record beside its predictions; the Baseline's has none (older run)
    record = {"format": "g2rl-provenance/1", "code": {"commit": "abc123", "dirty": False}}
    (Path(logs[1]).parent / "predictions.provenance.json").write_text(json.dumps(record))
    assert report_cli.main(args) == 0
    assert (tmp_path / "t.png").stat().st_size > 5000 and (tmp_path / "t.pdf").is_file()
    # provenance beside the figure, as for every other figure: each input run's record (None = unknown)
    side = json.loads((tmp_path / "t.provenance.json").read_text())
    inputs = {Path(k).parts[-6]: v for k, v in side["inputs"].items()}
    assert inputs == {"baseline": None, "g2rl": record}
    assert side["outputs"] == [str(tmp_path / "t.png"), str(tmp_path / "t.pdf")]


def test_every_column_train_log_writes_has_a_title_in_one_style():
    """The columns today's training writes (g2rl.training.loop) are all titled symbol + meaning + column,
    as the log line names them: none falls back to a bare column name (loss_teach once did)."""
    from g2rl.reports.training_curves import term_title
    from g2rl.training.loop import LOG_COLUMNS

    losses = [c for c in LOG_COLUMNS if c.startswith("loss_")]
    assert "loss_teach" in losses
    for c in losses:
        assert term_title(c).startswith("L") and term_title(c).endswith(f"({c})"), c
