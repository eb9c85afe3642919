"""The landmark geometry probe (g2rl.reports.geometry_probe), validated before it is believed: a network trained
to regress the landmarks scores far above a randomly initialised one of the same architecture, on a tiny crops
cache built by the real cache code; features that hold the landmarks score high and noise does not; the ridge
and its R² are checked by hand; the penalty is chosen on training subjects only; the ablation table gets the
probe of each row, its two reference lines and a caption that says whether the probe separates the rows."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd
import pytest
import torch

from g2rl.errors import G2RLError
from g2rl.evidence import BootstrapSettings
from g2rl.reports.geometry_probe import (REFERENCE_ROWS, ProbeFrames, ProbeTargets, fit_and_score, inner_folds,
                                         label_errors, network_errors, probe_table, r2_of_resamples, random_network,
                                         ridge_predictions, spread_frames)

AUS = ["AU06", "AU12"]


def geometry(n_subjects=6, per=30, seed=0):
    """Landmarks as faces have them: a few shape modes (8 latent factors) spread over the 136 coordinates,
    each subject with its own mean shape."""
    rng = np.random.default_rng(seed)
    subjects = np.repeat([f"S{i}" for i in range(n_subjects)], per)
    latent = rng.normal(size=(n_subjects, 1, 8)) + rng.normal(size=(n_subjects, per, 8))
    targets = latent.reshape(-1, 8) @ rng.normal(0, 3, (8, 136))
    return subjects, targets, rng


def _split_score(features, targets, subjects, test_subjects):
    test = np.isin(subjects, test_subjects)
    err, _ = fit_and_score(features[~test], targets[~test], subjects[~test], features[test], targets[test])
    return err, ProbeTargets(targets[test], subjects[test])


def test_ridge_by_hand():
    """One penalty: the normal equations on features centred with the training frames' mean and divided by their
    overall RMS (one number), the penalty scaled by the mean non-zero eigenvalue of X^T X."""
    rng = np.random.default_rng(3)
    x, y, xs = rng.normal(2, 3, (12, 5)), rng.normal(size=(12, 2)), rng.normal(2, 3, (4, 5))
    rms = np.sqrt(((x - x.mean(0)) ** 2).mean())
    z = (x - x.mean(0)) / rms
    scale = np.linalg.eigvalsh(z.T @ z).sum() / 5
    w = np.linalg.solve(z.T @ z + 0.3 * scale * np.eye(5), z.T @ (y - y.mean(0)))
    expect = ((xs - x.mean(0)) / rms) @ w + y.mean(0)
    np.testing.assert_allclose(ridge_predictions(x, y, xs, [0.3])[0], expect, rtol=1e-9, atol=1e-12)


def test_r2_of_a_resample_by_hand():
    """Subject A: targets 0 and 2 (errors 1 and 1), B: target 4 (error 0). Full set: SST = 8 (mean 2), SSE = 2,
    R² = 0.75. A twice: targets 0, 2, 0, 2: SST 4, SSE 4, R² = 0. B twice: SST 0, undefined."""
    targets = ProbeTargets(np.array([[0.0], [2.0], [4.0]]), np.array(["A", "A", "B"]))
    r2 = r2_of_resamples(np.array([1.0, 1.0, 0.0]), targets, np.array([[1.0, 1.0], [2.0, 0.0], [0.0, 2.0]]))
    assert r2[0] == pytest.approx(0.75) and r2[1] == pytest.approx(0.0) and np.isnan(r2[2])


def test_the_penalty_is_chosen_on_training_subjects_only():
    """Inner folds hold out whole training subjects (one each, or 5 groups); the test frames never enter: the
    chosen penalty and the predictions are the same whatever the test targets are."""
    groups = np.repeat(["a", "b", "c", "d", "e", "f", "g"], 3)
    folds = inner_folds(groups)
    assert len(folds) == 5 and np.sum(folds, axis=0).tolist() == [1] * len(groups)
    for held in folds:
        assert not set(groups[held]) & set(groups[~held])
    assert len(inner_folds(groups[:9])) == 3
    with pytest.raises(G2RLError, match="2 or more training subjects"):
        inner_folds(np.array(["a", "a"]))
    subjects, targets, rng = geometry()
    feats = targets @ rng.normal(size=(136, 40)) / 30 + rng.normal(0, 0.5, (len(targets), 40))
    test = np.isin(subjects, ["S4", "S5"])
    e1, p1 = fit_and_score(feats[~test], targets[~test], subjects[~test], feats[test], targets[test])
    e2, p2 = fit_and_score(feats[~test], targets[~test], subjects[~test], feats[test], targets[test] + 5.0)
    assert p1 == p2 and not np.allclose(e1, e2)


def test_features_that_hold_the_landmarks_score_high_and_noise_does_not():
    subjects, targets, rng = geometry()
    informative = targets @ rng.normal(size=(136, 64)) / 30 + rng.normal(0, 0.1, (len(targets), 64))
    noise = rng.normal(size=(len(targets), 64))
    good, held = _split_score(informative, targets, subjects, ["S4", "S5"])
    bad, _ = _split_score(noise, targets, subjects, ["S4", "S5"])
    table = probe_table({"Baseline": [bad], "G2RL": [good]}, held, BootstrapSettings(200, 0),
                        against={"G2RL": "Baseline"}).set_index("method")
    assert table.at["G2RL", "probe_r2"] > 0.8 and table.at["Baseline", "probe_r2"] < 0.05
    assert table.at["G2RL", "probe_r2_lo"] <= table.at["G2RL", "probe_r2"] <= table.at["G2RL", "probe_r2_hi"]
    assert table.at["G2RL", "probe_diff_lo"] > 0 and table.at["G2RL", "probe_vs"] == "Baseline"
    assert np.isnan(table.at["Baseline", "probe_diff"])


def test_a_feature_silent_on_the_training_frames_cannot_blow_up_a_test_prediction():
    """A unit that fires only on a test face (zero on every training frame but one, then 1e4 on the test frames)
    barely moves the prediction: features share one scale, so its tiny training spread is not divided out."""
    subjects, targets, rng = geometry()
    feats = targets @ rng.normal(size=(136, 40)) / 30 + rng.normal(0, 0.5, (len(targets), 40))
    test = np.isin(subjects, ["S4", "S5"])
    rare = np.zeros((len(targets), 1))
    rare[0] = 1e-6
    rare[test] = 1e4
    e_plain, _ = fit_and_score(feats[~test], targets[~test], subjects[~test], feats[test], targets[test])
    with_rare = np.hstack([feats, rare])
    e_rare, _ = fit_and_score(with_rare[~test], targets[~test], subjects[~test], with_rare[test], targets[test])
    assert e_rare.sum() == pytest.approx(e_plain.sum(), rel=0.05)


def test_features_that_only_name_the_subject_do_not_predict_an_unseen_face():
    """One-hot subject features (identity, no geometry) carry nothing to a subject the probe never saw."""
    subjects, targets, _ = geometry()
    identity = (subjects[:, None] == np.unique(subjects)[None, :]).astype(float)
    err, held = _split_score(identity, targets, subjects, ["S4", "S5"])
    assert r2_of_resamples(err, held, np.ones((1, 2)))[0] < 0.05


def test_probe_differences_are_paired_by_seed_and_say_when_seeds_disagree():
    subjects, targets, rng = geometry()
    held = ProbeTargets(targets, subjects)
    sst = ((targets - targets.mean(0)) ** 2).sum(1)
    rows = {"Baseline": [0.5 * sst, 0.5 * sst], "A": [0.4 * sst, 0.6 * sst], "B": [0.3 * sst, 0.2 * sst]}
    t = probe_table(rows, held, BootstrapSettings(200, 0), against={"A": "Baseline", "B": "Baseline"}).set_index("method")
    assert t.at["Baseline", "probe_r2"] == pytest.approx(0.5) and t.at["B", "probe_r2"] == pytest.approx(0.75)
    assert t.at["A", "probe_diff_per_seed"] == "0.1;-0.1" and not t.at["A", "probe_seeds_agree"]
    assert t.at["B", "probe_seeds_agree"] and t.at["B", "probe_diff"] == pytest.approx(0.25)
    with pytest.raises(G2RLError, match="different numbers of seeds"):
        probe_table({"Baseline": [sst], "A": [sst, sst]}, held)


def test_spread_frames_takes_evenly_spaced_frames_per_subject():
    frames = pd.DataFrame({"subject": ["B"] * 5 + ["A"] * 2, "session": "T", "frame": [4, 0, 1, 2, 3, 7, 5]})
    out = spread_frames(frames, 3)
    assert out.values.tolist() == [["A", "T", 5], ["A", "T", 7], ["B", "T", 0], ["B", "T", 2], ["B", "T", 4]]


# --- the validation on a real crops cache -------------------------------------------------------------------

FACE = 200  # frame size, px
SPLITS = {"S0": "train", "S1": "train", "S2": "train", "S3": "train", "S4": "test", "S5": "test"}


@pytest.fixture(scope="module")
def dot_faces(tmp_path_factory):
    """A crops cache built by g2rl.preprocess.cache from frames that draw their 68 landmarks as bright dots on
    noise: each subject has its own face shape, each frame its own expression, landmarks 8, 36 and 45 stay put
    (so the 3-point alignment keeps the shape). 4 training subjects, 2 test subjects, 20 frames each."""
    from g2rl.media import write_image
    from g2rl.preprocess.au_points import DEFAULT_AU_POINTS
    from g2rl.preprocess.cache import build_crop_cache
    from g2rl.preprocess.landmarks import X_COLUMNS, Y_COLUMNS, write_landmarks_csv

    root = tmp_path_factory.mktemp("dotfaces")
    rng = np.random.default_rng(0)
    mean = rng.uniform(62, 138, size=(68, 2))
    fixed = {8: (100, 170), 36: (70, 80), 45: (130, 80)}
    # shape modes as faces have them: regions that move together (a lower part opening down, an upper part
    # rising, a lower part widening, a side shifting), each point's share smooth in its position
    u = (mean - 100) / 38  # about -1..1
    lower, upper, side = np.clip(u[:, 1], 0, 1), np.clip(-u[:, 1], 0, 1), u[:, 0]
    modes = np.zeros((4, 68, 2))
    modes[0, :, 1], modes[1, :, 1] = 3 * lower, -3 * upper
    modes[2, :, 0], modes[3, :, 0] = 3 * side * lower, 2 * np.clip(side, 0, 1)
    yy, xx = np.mgrid[0:FACE, 0:FACE]
    rows, csvs = [], {}
    for subject, split in SPLITS.items():
        own = rng.normal(0, 1.0, 4)
        lm_rows, files = [], []
        for i in range(20):
            pts = mean + np.tensordot(own + rng.normal(0, 1.0, 4), modes, 1)
            for k, xy in fixed.items():
                pts[k] = xy
            d = (xx[None] - pts[:, 0, None, None]) ** 2 + (yy[None] - pts[:, 1, None, None]) ** 2
            img = 255 * np.exp(-d / 12.0).max(0) + rng.normal(0, 100, (FACE, FACE))
            path = root / f"{subject}_{i}.png"
            write_image(path, np.repeat(np.clip(img, 0, 255).astype(np.uint8)[..., None], 3, axis=2))
            files.append(str(path))
            lm_rows.append([i, 1, 2.0, *pts[:, 0], *pts[:, 1]])
            rows.append(dict(dataset="bp4d", subject=subject, session="T1", frame=i, media=str(path), media_frame=0,
                             split=split, AU06=float(rng.integers(0, 6)), AU12=float(rng.integers(0, 6))))
        lm = pd.DataFrame(lm_rows, columns=["frame", "success", "detector_score", *X_COLUMNS, *Y_COLUMNS])
        lm.insert(0, "file", files)
        csvs[(subject, "T1")] = root / f"{subject}.csv"
        write_landmarks_csv(lm, csvs[(subject, "T1")])
    crops = root / "crops.h5"
    build_crop_cache(pd.DataFrame(rows), csvs, crops, 64, AUS, DEFAULT_AU_POINTS, max_gap=1, progress=False)
    meta = {"aus": AUS, "crop_size": 64, "heatmap_size": 16, "sigma": 2.0, "mean": [0.485, 0.456, 0.406],
            "std": [0.229, 0.224, 0.225], "backbone": "resnet18", "deconv_channels": [16, 16], "test_split": "test",
            "dataset": "bp4d", "au_points": "hr", "method": "baseline", "lambda_g": 0.0}
    return crops, meta


def _landmark_regressor(crops, meta, steps=60):
    """The known positive: the same architecture trained for a few seconds to put a heatmap on each of the 68
    landmarks of the training frames (n_maps 68; the probe reads M, not the maps)."""
    from g2rl.model.backbone import HeatmapNet
    from g2rl.reports.examples import model_input

    frames = ProbeFrames(crops, per_subject=20)
    train = frames.train_frames("test")
    x = torch.from_numpy(model_input(frames.arrays(train, "images"), meta, "x"))
    pts = frames.arrays(train, "landmarks").reshape(-1, 68, 2) / 4 - 0.375  # heatmap px (stride 4)
    yy, xx = np.mgrid[0:16, 0:16]
    target = torch.from_numpy(np.exp(-((xx[None, None] - pts[..., 0, None, None]) ** 2
                                       + (yy[None, None] - pts[..., 1, None, None]) ** 2) / 2).astype(np.float32))
    torch.manual_seed(0)
    net = HeatmapNet(68, "resnet18", None, (16, 16), warn_random=False)
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    gen = torch.Generator().manual_seed(0)
    net.train()
    for _ in range(steps):
        idx = torch.randint(0, len(x), (16,), generator=gen)
        loss = ((net(x[idx]) - target[idx]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


def test_a_landmark_regressor_scores_far_above_its_random_init_reference(dot_faces):
    """The probe is evidence only if it can see geometry where there is some: a network trained to regress the
    landmarks must score far above a randomly initialised network of the same architecture, on held-out
    subjects; the AU labels (random here) carry no geometry."""
    torch.set_num_threads(1)
    crops, meta = dot_faces
    frames = ProbeFrames(crops, per_subject=20)
    test = frames.test_frames(frames.keys[frames.keys["split"] == "test"])
    held = ProbeTargets(frames.arrays(test, "landmarks"), test["subject"].to_numpy())
    scores = {}
    for name, net in (("trained", _landmark_regressor(crops, meta)), ("random", random_network(meta, 0))):
        err, _ = network_errors(net, meta, frames, test)
        scores[name] = r2_of_resamples(err, held, np.ones((1, 2)))[0]
    err, _ = label_errors(frames, "test", test)
    scores["labels"] = r2_of_resamples(err, held, np.ones((1, 2)))[0]
    # measured: trained 0.70, random init -0.13, labels -1.09 (the test subjects' own face shapes are unseen)
    assert scores["trained"] > 0.5 and scores["trained"] - scores["random"] > 0.4, scores
    assert scores["labels"] < 0.1, scores


def test_report_ablation_adds_the_probe_with_its_references(dot_faces, tmp_path):
    """`report ablation --crops` on two rows whose model.pt files are untrained networks of the same architecture:
    every row's probe, both reference lines, narrow tables (ICC; MAE; what the guidance did) and a caption
    that says the probe does not separate the rows."""
    from g2rl.reports import report_cli
    from g2rl.training.checkpoint import save_inference_checkpoint

    crops, meta = dot_faces
    keys = ProbeFrames(crops).keys
    test = keys[keys["split"] == "test"]
    rows = []
    for r, name in enumerate(("Baseline", "G2RL")):
        runs = []
        for seed in (0, 1):
            d = tmp_path / name / f"seed{seed}"
            d.mkdir(parents=True)
            pred = test[["subject", "session", "frame", "split"]].copy()
            lab = np.random.default_rng(seed).integers(0, 6, (len(pred), 2)).astype(float)
            for k, au in enumerate(AUS):
                pred[f"{au}_pred"], pred[f"{au}_true"] = np.clip(lab[:, k] + 0.3 * (r + 1), 0, 5), lab[:, k]
            pred.to_csv(d / "predictions.csv", index=False)
            save_inference_checkpoint(d / "model.pt", random_network(meta, 10 * r + seed), meta)
            pd.DataFrame({"epoch": [1], "g_spread": [0.1], "g_norm": [1.0], "loss_heatmap": [0.2],
                          "loss_guidance": [0.01 * r]}).to_csv(d / "train_log.csv", index=False)
            runs.append({"seed": str(seed), "predictions": [str(d / "predictions.csv")],
                         "train_logs": [str(d / "train_log.csv")]})
        rows.append({"name": name, "changes": "x", "against": "Baseline" if r else None, "lambda": 0.05 * r,
                     "runs": runs})
    rows_file = tmp_path / "rows.json"
    rows_file.write_text(json.dumps(rows))
    parser = argparse.ArgumentParser()
    report_cli.add_arguments(parser)
    prefix = tmp_path / "ablation" / "table"
    assert report_cli.main(parser.parse_args(["ablation", "--dataset", "bp4d", "--rows", str(rows_file), "--data-label",
                                              "demo", "--out-prefix", str(prefix), "--crops", str(crops),
                                              "--resamples", "50", "--probe-frames", "10"])) == 0
    csv = pd.read_csv(prefix.with_suffix(".csv")).set_index("method")
    assert {"Baseline", "G2RL", *REFERENCE_ROWS} == set(csv.index)
    assert csv["probe_r2"].notna().all() and csv.at["G2RL", "probe_vs"] == "Baseline"
    assert np.isfinite(csv.at["G2RL", "probe_diff"]) and np.isnan(csv.at["Baseline", "probe_diff"])
    # λ·L_G / ((1 - λ)·L_S) of the last epoch: 0.05 * 0.01 / (0.95 * 0.2)
    assert csv.at["G2RL", "guidance_share"] == pytest.approx(0.05 * 0.01 / (0.95 * 0.2))
    md = prefix.with_suffix(".md").read_text()
    assert "| random init (same architecture) |" in md and "| AU labels alone |" in md
    assert "The probe does not separate the rows on these runs (the test subjects are too few for marks)" in md
    html = prefix.with_suffix(".html").read_text()
    for table in html.split("<table>")[1:4]:
        assert table.split("</tr>")[0].count("<th") <= 6  # each of the main tables stays narrow
