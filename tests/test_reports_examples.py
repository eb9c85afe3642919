"""`g2rl report examples`: Figures 4-5 from a (tiny, untrained) checkpoint, a crops cache and predictions."""

import argparse
import json

import numpy as np
import pandas as pd
import pytest

from g2rl.errors import G2RLError
from g2rl.reports import report_cli
from g2rl.reports.examples import heatmaps_for_frames, pick_curve_subject, pick_heatmap_frames

AUS = ["AU01", "AU02", "AU12"]
S = 64  # crop size: a resnet18 forward pass at 64 px takes milliseconds


def write_crops(path, keys: pd.DataFrame, rng):
    """A crops file with the datasets and attributes g2rl.preprocess.cache validates."""
    import h5py

    from g2rl.preprocess.cache import CROPS_ATTRS, FORMAT_VERSION

    n, k = len(keys), len(AUS)
    attrs = {
        "format_version": FORMAT_VERSION, "kind": "crops", "dataset": "disfa", "aus": json.dumps(AUS),
        "crop_size": S, "au_point_mapping": json.dumps({a: [[21], [22]] for a in AUS}), "max_gap": 0,
        "heatmap_stride": 4, "fingerprint": "test", "n_frames": n, "counts": json.dumps({}),
    }
    assert set(attrs) == set(CROPS_ATTRS)
    text = h5py.string_dtype()
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=rng.integers(0, 255, (n, S, S, 3), dtype=np.uint8))
        f.create_dataset("landmarks", data=np.zeros((n, 68, 2), np.float32))
        f.create_dataset("au_points", data=np.zeros((n, k, 2, 2), np.float32))
        f.create_dataset("intensities", data=np.zeros((n, k), np.float32))
        for col in ("subject", "session", "split"):
            f.create_dataset(col, data=keys[col].astype(str).to_numpy(object), dtype=text)
        f.create_dataset("frame", data=keys["frame"].to_numpy(np.int64))
        f.create_dataset("media_frame", data=keys["frame"].to_numpy(np.int64))
        f.create_dataset("landmark_source", data=np.array(["dlib"] * n, dtype=object), dtype=text)
        f.attrs.update(attrs)


def write_model(path):
    import torch

    from g2rl.model.backbone import HeatmapNet
    from g2rl.training.checkpoint import save_inference_checkpoint

    torch.manual_seed(0)
    net = HeatmapNet(len(AUS), "resnet18", None, (16, 16, 16), warn_random=False)
    meta = {"dataset": "disfa", "aus": AUS, "crop_size": S, "heatmap_size": S // 4, "sigma": 2.0,
            "backbone": "resnet18", "deconv_channels": [16, 16, 16], "mean": [0.485, 0.456, 0.406],
            "std": [0.229, 0.224, 0.225], "au_points": {}, "method": "g2rl", "lambda_g": 0.05}
    save_inference_checkpoint(path, net, meta)
    return net, meta


@pytest.fixture
def fold(tmp_path):
    rng = np.random.default_rng(0)
    # cache: 2 subjects x 12 frames (all folds); predictions: fold 1 = SN001 all + SN002 first 8 frames
    keys = pd.DataFrame({"subject": np.repeat(["SN001", "SN002"], 12), "session": "LeftCamera",
                         "frame": np.tile(np.arange(1, 13), 2), "split": "1"})
    write_crops(tmp_path / "crops.h5", keys, rng)
    pred = keys.iloc[:20].copy()
    for a in AUS:
        pred[f"{a}_true"] = rng.integers(0, 4, len(pred)).astype(float)  # sums <= 9: the picks below are the top
        pred[f"{a}_pred"] = rng.uniform(0, 5, len(pred))
    pred.loc[3, [f"{a}_true" for a in AUS]] = 5.0  # the most intense frame: SN001 frame 4
    pred.loc[15, [f"{a}_true" for a in AUS]] = 4.0  # SN002's most intense: frame 4
    pred.loc[0, [f"{a}_true" for a in AUS]] = [5.0, 5.0, 4.0]  # SN001's runner-up, beaten by SN002
    pred.loc[1, "AU01_true"] = np.nan
    pred.to_csv(tmp_path / "predictions.csv", index=False)
    write_model(tmp_path / "model.pt")
    return tmp_path, pred


def test_pickers(fold):
    _, pred = fold
    chosen = pick_heatmap_frames(pred, AUS, 2)
    assert list(zip(chosen["subject"], chosen["frame"])) == [("SN001", 4), ("SN002", 4)]
    assert len(pick_heatmap_frames(pred, AUS, 3)) == 3
    rows = pick_curve_subject(pred)
    assert set(rows["subject"]) == {"SN001"} and list(rows["frame"]) == list(range(1, 13))


def test_heatmaps_match_a_direct_forward_pass(fold):
    import h5py
    import torch

    from g2rl.training.checkpoint import load_inference_model

    tmp, pred = fold
    frames = pred.iloc[[15, 3]]  # out of cache order on purpose
    images, maps, meta = heatmaps_for_frames(tmp / "model.pt", tmp / "crops.h5", frames)
    assert meta["aus"] == AUS and images.shape == (2, S, S, 3) and maps.shape == (2, 3, S // 4, S // 4)
    with h5py.File(tmp / "crops.h5") as f:
        assert np.array_equal(images[0], f["images"][12 + 3])  # SN002 frame 4 = cache row 15
        assert np.array_equal(images[1], f["images"][3])
    net, meta = load_inference_model(tmp / "model.pt")
    x = (images[1].transpose(2, 0, 1)[None].astype(np.float32) / 255 - np.reshape(meta["mean"], (1, 3, 1, 1))) \
        / np.reshape(meta["std"], (1, 3, 1, 1))
    with torch.no_grad():
        ref = net(torch.from_numpy(x.astype(np.float32))).numpy()[0]
    np.testing.assert_allclose(maps[1], ref, rtol=1e-4, atol=1e-6)
    with pytest.raises(G2RLError, match="no cache row.*'SN003'"):
        heatmaps_for_frames(tmp / "model.pt", tmp / "crops.h5", frames.assign(subject="SN003"))


def run_examples(tmp, *options: str) -> int:
    """`g2rl report examples` on the fold's model, predictions and crops, with ``options`` added."""
    parser = argparse.ArgumentParser()
    report_cli.add_arguments(parser)
    return report_cli.main(parser.parse_args(["examples", "--model", str(tmp / "model.pt"), "--predictions",
                                              str(tmp / "predictions.csv"), "--crops", str(tmp / "crops.h5"),
                                              *options]))


def test_report_examples_cli(fold):
    tmp, _ = fold
    parser = argparse.ArgumentParser()
    report_cli.add_arguments(parser)
    args = parser.parse_args(["examples", "--model", str(tmp / "model.pt"), "--predictions", str(tmp / "predictions.csv"),
                              "--crops", str(tmp / "crops.h5"), "--heatmaps-out", str(tmp / "fig" / "heatmaps.png"),
                              "--curves-out", str(tmp / "fig" / "curves.png"), "--data-label", "demo"])
    assert report_cli.main(args) == 0
    for name in ("heatmaps.png", "curves.png"):
        data = (tmp / "fig" / name).read_bytes()
        assert data[:4] == b"\x89PNG" and len(data) > 5000
        assert (tmp / "fig" / name).with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"  # Figures 4/5 as PDF too


def test_report_examples_draws_the_baseline(fold, monkeypatch):
    """Figure 5 gets the Baseline's predictions of the same fold, and BP4D's session is called a task."""
    from g2rl.reports import examples

    tmp, pred = fold
    pred.assign(**{f"{a}_pred": 1.0 for a in AUS}).to_csv(tmp / "baseline.csv", index=False)
    seen = {}
    real = examples.plot_intensity_curves
    monkeypatch.setattr(examples, "plot_intensity_curves", lambda *a, **k: seen.update(k) or real(*a, **k))
    assert run_examples(tmp, "--baseline-predictions", str(tmp / "baseline.csv"), "--dataset", "bp4d",
                        "--heatmaps-out", str(tmp / "h.png"), "--curves-out", str(tmp / "c.png"),
                        "--data-label", "real") == 0
    assert seen["session_word"] == "task" and (seen["baseline"]["AU01_pred"] == 1.0).all()


def test_figure4_names_the_model_fold_and_seed(fold, monkeypatch):
    """Issue 30 item 4: the heatmaps' figure and its report page say which model, fold and seed they come from."""
    from g2rl.reports import examples
    from g2rl.training.checkpoint import save_inference_checkpoint

    tmp, _ = fold
    net, meta = write_model(tmp / "model.pt")
    save_inference_checkpoint(tmp / "model.pt", net, {**meta, "seed": 3, "test_split": "1",
                                                      "model": {"guidance": "literal"}})
    seen = {}
    real = examples.plot_heatmap_examples
    monkeypatch.setattr(examples, "plot_heatmap_examples", lambda *a, **k: seen.update(k) or real(*a, **k))
    assert run_examples(tmp, "--heatmaps-out", str(tmp / "h.png"), "--curves-out", str(tmp / "c.png"),
                        "--heatmaps-page", str(tmp / "h.html"), "--data-label", "demo") == 0
    name = "G2RL (literal), sigma 2, lambda 0.05, seed 3, test fold 1"
    assert seen["title"] == f"Predicted heatmaps of {name}"
    assert f"Figure 4: Predicted heatmaps of {name} over test faces" in (tmp / "h.html").read_text()
