"""The landmark geometry probe: features that carry the landmarks score near 1, noise near or below 0, a
subject's own frames never train its prediction, CIs come from shared subject resamples; the ablation table
gets the probe from the runs' models (g2rl.reports.geometry_probe)."""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import pytest

from g2rl.errors import G2RLError
from g2rl.evidence import BootstrapSettings
from g2rl.reports.geometry_probe import held_out_errors, probe_scores


def geometry(n_subjects=4, per=30, seed=0):
    """Landmarks as faces have them: a few shape modes (8 latent factors) spread over the 136 coordinates."""
    rng = np.random.default_rng(seed)
    subjects = np.repeat([f"S{i}" for i in range(n_subjects)], per)
    latent = rng.normal(size=(len(subjects), 8))
    targets = latent @ rng.normal(0, 3, (8, 136))
    return subjects, targets, rng


def test_features_that_hold_the_landmarks_score_high_and_noise_does_not():
    subjects, targets, rng = geometry()
    mix = rng.normal(size=(136, 64))
    informative = targets @ mix / 30 + rng.normal(0, 0.1, (len(targets), 64))  # a linear code of the landmarks
    noise = rng.normal(size=(len(targets), 64))
    rows = {"Baseline": [held_out_errors(noise, targets, subjects)],
            "G2RL": [held_out_errors(informative, targets, subjects)]}
    table = probe_scores(rows, targets, subjects, BootstrapSettings(200, 0)).set_index("method")
    assert table.at["G2RL", "probe_r2"] > 0.5 > 0.05 > table.at["Baseline", "probe_r2"]
    assert table.at["G2RL", "probe_r2_lo"] <= table.at["G2RL", "probe_r2"] <= table.at["G2RL", "probe_r2_hi"]
    assert table.at["G2RL", "probe_diff_lo"] > 0  # paired over the same subject resamples
    assert np.isnan(table.at["Baseline", "probe_diff"])


def test_a_subjects_frames_never_train_its_own_prediction():
    """Features that only name the subject (identity, no geometry) cannot predict held-out landmarks."""
    subjects, targets, _ = geometry()
    identity = (subjects[:, None] == np.unique(subjects)[None, :]).astype(float)
    targets = targets + 10 * identity @ np.random.default_rng(1).normal(size=(4, 136))  # each face its own shape
    err = held_out_errors(identity, targets, subjects)
    sst = ((targets - targets.mean(0)) ** 2).sum()
    assert 1 - err.sum() / sst < 0.05
    with pytest.raises(G2RLError, match="2 or more subjects"):
        held_out_errors(identity, targets, np.full(len(targets), "S0"))


def test_identity_offsets_are_removed_before_the_probe():
    """Each face's own mean shape is taken out: what is left is the movement within a face."""
    from g2rl.reports.geometry_probe import centre_by_subject

    subjects = np.array(["A", "A", "B", "B"])
    values = np.array([[1.0, 10], [3, 14], [100, 0], [102, 2]])
    np.testing.assert_allclose(centre_by_subject(values, subjects), [[-1, -2], [1, 2], [-1, -1], [1, 1]])


def test_report_ablation_adds_the_probe(tmp_path, monkeypatch):
    """`report ablation --crops` puts each row's probe (R², CI, difference) in the csv, md and html."""
    import json

    from test_reports_ablation import _log, _subject_predictions

    from g2rl.reports import geometry_probe, report_cli

    rows = []
    for name, noise in (("Baseline", 1.5), ("G2RL", 1.0)):
        d = tmp_path / name
        d.mkdir()
        rows.append({"name": name, "changes": "x", "runs": [
            {"seed": "0", "predictions": [_subject_predictions(d / "p1.csv", "1", noise, 0)],
             "train_logs": [_log(d / "l1.csv", 0.1)]}]})
    rows_file = tmp_path / "rows.json"
    rows_file.write_text(json.dumps(rows))
    names = [r["name"] for r in rows]
    fake = pd.DataFrame({"method": names, "probe_r2": [0.2 + 0.1 * i for i in range(len(names))],
                         "probe_r2_lo": 0.1, "probe_r2_hi": 0.5, "probe_diff": [np.nan] + [0.1] * (len(names) - 1),
                         "probe_diff_lo": [np.nan] + [0.01] * (len(names) - 1), "probe_diff_hi": [np.nan] + [0.2] * (len(names) - 1)})
    monkeypatch.setattr(geometry_probe, "ablation_probe", lambda rows, crops, settings: fake)
    parser = argparse.ArgumentParser()
    report_cli.add_arguments(parser)
    prefix = tmp_path / "ablation" / "table"
    assert report_cli.main(parser.parse_args(["ablation", "--dataset", "disfa", "--rows", str(rows_file), "--data-label",
                                              "demo", "--out-prefix", str(prefix), "--crops", str(tmp_path / "c.h5"),
                                              "--resamples", "50"])) == 0
    csv = pd.read_csv(prefix.with_suffix(".csv"))
    assert list(csv["probe_r2"]) == pytest.approx(list(fake["probe_r2"]))
    md = prefix.with_suffix(".md").read_text()
    assert "landmark probe R²" in md and "+0.100 [+0.010, +0.200]" in md
    assert "landmark probe R²" in prefix.with_suffix(".html").read_text()
