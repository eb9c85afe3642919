"""`g2rl predict` at parity with py-feat and OpenFace (issue 23): column order and the face box /
pose columns (points 1, 5), AU occurrence columns (point 5), the CNN detector (point 3), the demo
warning and the provenance file beside the CSV (point 4). Pose and tracking have their own files
(test_predict_pose.py, test_predict_tracking.py)."""

import hashlib
import json
import logging

import numpy as np
import pandas as pd
import pytest
import skimage.data
import torch
from test_predict_cli import _astronaut_frames
from test_predict_model import AUS, make_checkpoint

from g2rl.cli import main as g2rl_main
from g2rl.media import VideoWriter, write_image


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("parity")
    make_checkpoint(root / "model.pt")
    with VideoWriter(root / "face.avi", 10, (320, 240)) as w:
        for f in _astronaut_frames(4):
            w.write(f)
    noface = root / "wall.png"
    write_image(noface, np.full((120, 160, 3), 90, np.uint8))
    return {"root": root, "ckpt": root / "model.pt", "video": root / "face.avi", "noface": noface}


def _run(*args):
    return g2rl_main(["predict", "--no-progress", "--amp", "off", *map(str, args)])


def test_openface_column_order_with_box_and_pose(data, tmp_path):
    out = tmp_path / "aus.csv"
    assert _run("--checkpoint", data["ckpt"], data["video"], data["noface"], "--out", out) == 0
    df = pd.read_csv(out)
    assert list(df.columns[:17]) == [
        "file", "frame", "face_id", "timestamp", "confidence", "success", "detector_score",  # OpenFace: confidence first
        "face_x", "face_y", "face_w", "face_h", "pose_Tx", "pose_Ty", "pose_Tz", "pose_Rx", "pose_Ry", "pose_Rz"]
    assert list(df.columns[17:]) == [f"{a}_r" for a in AUS]
    face, none = df[df["success"] == 1], df[df["success"] == 0]
    assert len(face) == 4 and len(none) == 1
    # the astronaut's face (~90 px) in 320x240 windows, upright and facing the camera
    assert face["face_w"].between(70, 130).all() and face["face_h"].between(70, 130).all()
    assert (face["face_x"] > 60).all() and (face["face_x"] + face["face_w"] < 260).all()
    assert face[["pose_Rx", "pose_Ry", "pose_Rz"]].abs().max().max() < 0.5 and face["pose_Tz"].between(150, 1500).all()
    assert none.iloc[0][["face_x", "pose_Tz", "pose_Rz"]].isna().all()  # no face: empty cells


def test_occurrence_columns_behind_a_flag(data, tmp_path):
    out = tmp_path / "aus.csv"
    assert _run("--checkpoint", data["ckpt"], data["video"], data["noface"], "--out", out, "--occurrence",
                "--occurrence-threshold", 1.25, "--landmarks") == 0
    df = pd.read_csv(out)
    r, c = [f"{a}_r" for a in AUS], [f"{a}_c" for a in AUS]
    # OpenFace's order: keys and geometry (17), the 136 landmark columns, then the AUs
    assert df.columns[17] == "x_0" and list(df.columns[17 + 136:]) == r + c
    face = df[df["success"] == 1]
    assert ((face[r].to_numpy() >= 1.25) == (face[c].to_numpy() == 1)).all()
    assert 0 < face[c].to_numpy().sum() < face[c].size  # the check has both cases
    assert df.loc[df["success"] == 0, c].isna().all().all()  # no face: empty, not 0
    row = out.read_text().splitlines()[1].split(",")
    assert set(row[17 + 136 + 3:]) <= {"0", "1"}  # written as integers


def test_occurrence_threshold_is_checked(data, tmp_path, capsys):
    assert _run("--checkpoint", data["ckpt"], data["video"], "--out", tmp_path / "a.csv", "--occurrence",
                "--occurrence-threshold", "nan") == 2
    assert "--occurrence-threshold must be an intensity in (0, 5], got nan" in capsys.readouterr().err


def test_each_detector_finds_the_face(data, tmp_path):
    """dlib's MMOD CNN (``--detector cnn``) and BlazeFace (``blazeface``, the default) on a small photo: the
    same face as HOG's, within a few px."""
    photo = tmp_path / "face.png"
    write_image(photo, skimage.data.astronaut()[40:240, 120:320])  # 200 x 200: ~0.5 s for the CNN on a CPU
    rows = {}
    for det in ("hog", "cnn", "blazeface"):
        out = tmp_path / f"{det}.csv"
        assert _run("--checkpoint", data["ckpt"], photo, "--detector", det, "--out", out, "--landmarks") == 0
        rows[det] = pd.read_csv(out).iloc[0]
        assert rows[det]["success"] == 1 and rows[det]["detector_score"] > 0
        assert json.loads((tmp_path / f"{det}.provenance.json").read_text())["settings"]["detector"] == det
    box = ["face_x", "face_y", "face_w", "face_h"]
    for det in ("cnn", "blazeface"):
        assert np.abs(rows["hog"][box].to_numpy(float) - rows[det][box].to_numpy(float)).max() < 12
    assert len({rows[det]["detector_score"] for det in rows}) == 3  # really other detectors


def _with_provenance(src, dst, kind):
    raw = torch.load(src, weights_only=True)
    raw["meta"]["provenance"] = {"format": "g2rl-provenance/1", "config_sha256": "abc",
                                 "dataset": {"name": "disfa", "kind": kind}, "code": {"commit": "0" * 40}}
    torch.save(raw, dst)
    return dst


def test_demo_checkpoint_warns_once_and_provenance_names_the_checkpoint(data, tmp_path, caplog):
    ckpt = _with_provenance(data["ckpt"], tmp_path / "demo.pt", "demo")
    out = tmp_path / "aus.csv"
    with caplog.at_level(logging.WARNING, logger="g2rl.predict"):
        assert _run("--checkpoint", ckpt, data["video"], data["noface"], "--out", out) == 0
    warned = [r for r in caplog.records if "not for real faces" in r.getMessage()]
    assert len(warned) == 1 and str(ckpt) in warned[0].getMessage()
    doc = json.loads((tmp_path / "aus.provenance.json").read_text())
    assert doc["format"] == "g2rl-provenance/1" and doc["what"] == "predict"
    assert doc["checkpoint"]["path"] == str(ckpt.resolve()) and doc["checkpoint"]["data_kind"] == "demo"
    assert doc["checkpoint"]["sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert doc["inputs"][str(ckpt)]["dataset"]["kind"] == "demo"  # its training record, whole
    assert doc["rows"] == 5 and doc["failures"] == 0 and doc["settings"]["detector"] == "blazeface"  # the default
    from g2rl.provenance import read_provenance

    assert read_provenance(out) == doc  # `g2rl provenance aus.csv` finds it


def test_real_checkpoint_does_not_warn(data, tmp_path, caplog):
    ckpt = _with_provenance(data["ckpt"], tmp_path / "real.pt", "real")
    with caplog.at_level(logging.WARNING, logger="g2rl.predict"):
        assert _run("--checkpoint", ckpt, data["video"], "--out", tmp_path / "aus.csv") == 0
    assert not [r for r in caplog.records if "not for real faces" in r.getMessage()]
