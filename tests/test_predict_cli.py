"""`g2rl predict` end to end on small real-face videos and photos (astronaut, Grace Hopper), a
video without a face, unreadable files among good ones, and a bad checkpoint."""

import logging
import math

import matplotlib.cbook
import numpy as np
import pandas as pd
import pytest
import skimage.data
from test_predict_model import AUS, make_checkpoint, reference_intensities

from g2rl.cli import main as g2rl_main
from g2rl.media import VideoWriter, read_image, write_image
from g2rl.preprocess.align import alignment_matrix, warp_to_crop
from g2rl.preprocess.landmarks import LandmarkDetector, landmark_array
from layouts import write_noise_video

KEYS = ["file", "frame", "face_id", "timestamp", "confidence", "success", "detector_score"]  # OpenFace's order
GEOMETRY = ["face_x", "face_y", "face_w", "face_h", "pose_Tx", "pose_Ty", "pose_Tz", "pose_Rx", "pose_Ry", "pose_Rz"]
COLUMNS = KEYS + GEOMETRY + [f"{au}_r" for au in AUS]


def _astronaut_frames(n):
    """320x240 windows on the astronaut photo around her face (~90 px), drifting over time."""
    img = skimage.data.astronaut()
    return [np.ascontiguousarray(img[10 + 3 * i:250 + 3 * i, 60 + 2 * i:380 + 2 * i]) for i in range(n)]


def _hopper():
    return read_image(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


def _two_face_photos(folder):
    """0.png: a large (astronaut, ~125 px) and a small face (Grace Hopper, ~87 px) side by side;
    1.png: the same with the small face painted out; 2.png: with the large face painted out."""
    import cv2

    big = cv2.resize(skimage.data.astronaut(), None, fx=1.4, fy=1.4, interpolation=cv2.INTER_CUBIC)
    small = cv2.resize(_hopper(), None, fx=0.45, fy=0.45, interpolation=cv2.INTER_AREA)
    both = np.full((360, 640, 3), 120, np.uint8)
    both[:, :360] = big[40:400, 160:520]
    both[40:240, 400:400 + small.shape[1]] = small[20:220]
    only_big, only_small = both.copy(), both.copy()
    only_big[:, 380:] = 120
    only_small[:, :380] = 120
    folder.mkdir()
    for i, img in enumerate((both, only_big, only_small)):
        write_image(folder / f"{i}.png", img)
    return folder


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    net, meta = make_checkpoint(root / "model.pt")
    frames = _astronaut_frames(6)
    with VideoWriter(root / "face.avi", 10, (320, 240)) as w:
        for f in frames:
            w.write(f)
    return {"root": root, "ckpt": root / "model.pt", "net": net, "meta": meta, "video": root / "face.avi",
            "frames": frames}


def _run(*args):
    return g2rl_main(["predict", "--no-progress", "--amp", "off", *map(str, args)])


def test_video(data, tmp_path):
    out, hm = tmp_path / "aus.csv", tmp_path / "hm"
    assert _run("--checkpoint", data["ckpt"], data["video"], "--out", out, "--heatmaps", hm,
                "--heatmaps-every", 2, "--batch-size", 4) == 0
    df = pd.read_csv(out)
    assert list(df.columns) == COLUMNS  # the checkpoint's AUs, OpenFace-style
    assert df["frame"].tolist() == list(range(6)) and (df["file"] == str(data["video"])).all()
    np.testing.assert_allclose(df["timestamp"], np.arange(6) / 10.0)
    assert (df["success"] == 1).all() and (df["face_id"] == 0).all() and (df["detector_score"] > 0).all()
    assert ((df["confidence"] > 0.5) & (df["confidence"] <= 1)).all()  # a clear face, on the 0-1 scale
    values = df[[f"{au}_r" for au in AUS]].to_numpy()
    assert np.isfinite(values).all() and (values >= 0).all() and (values <= 5).all()

    # numerical check: the same frames through an independent landmark -> align -> forward -> decode path
    lm = landmark_array(LandmarkDetector().video(data["video"], progress=False))
    from g2rl.media import iter_video_frames

    crops = np.stack([warp_to_crop(f, alignment_matrix(p, 64), 64) for f, p in zip(iter_video_frames(data["video"]), lm)])
    want, maps = reference_intensities(data["net"], crops, data["meta"]["sigma"])
    np.testing.assert_allclose(values, want, atol=2e-4)  # CSV keeps 4 decimals
    assert values.std(axis=0).max() > 1e-3  # the frames really differ

    pngs = sorted(p.name for p in (hm / "face").iterdir())
    assert pngs == ["000000.png", "000002.png", "000004.png"]
    panel = read_image(hm / "face" / "000002.png")
    assert panel.shape[1] >= 256 * (1 + len(AUS)) and panel.shape[0] >= 256  # 4 large tiles in one row


def test_folder_of_photos_and_loose_images(data, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    write_image(folder / "10.png", np.full((120, 160, 3), 90, np.uint8))  # no face
    write_image(folder / "2.jpg", _hopper())
    write_image(folder / "1.png", data["frames"][0])
    loose = tmp_path / "single.png"
    write_image(loose, data["frames"][3])
    out = tmp_path / "aus.csv"
    assert _run("--checkpoint", data["ckpt"], folder, loose, "--out", out, "--heatmaps", tmp_path / "hm") == 0
    df = pd.read_csv(out)
    assert list(df.columns) == COLUMNS
    assert [p.split("/")[-1] for p in df["file"]] == ["1.png", "2.jpg", "10.png", "single.png"]  # natural order
    assert df["frame"].tolist() == [0, 1, 2, 0] and (df["timestamp"] == 0).all()
    assert df["success"].tolist() == [1, 1, 0, 1]
    au = df[[f"{a}_r" for a in AUS]]
    assert au.iloc[[0, 1, 3]].notna().all().all() and au.iloc[2].isna().all() and np.isnan(df.loc[2, "confidence"])
    assert sorted(p.name for p in (tmp_path / "hm" / "photos").iterdir()) == ["1.png", "2.png"]
    assert sorted(p.name for p in (tmp_path / "hm" / "images").iterdir()) == ["single.png"]


def test_log_counts_frames_per_file(data, tmp_path, caplog):
    """Two photos named on the command line are both frame 0: the log counts them as 2 frames with a
    face (it once said "a face in 1 of 2 frames")."""
    paths = [tmp_path / "a.png", tmp_path / "b.png"]
    for p, frame in zip(paths, (data["frames"][0], data["frames"][3])):
        write_image(p, frame)
    with caplog.at_level(logging.INFO, logger="g2rl.predict"):
        assert _run("--checkpoint", data["ckpt"], *paths, "--out", tmp_path / "aus.csv") == 0
    assert "a face in 2 of 2 frames (2 faces measured)" in caplog.text


def test_image_sequence_is_followed(data, tmp_path):
    folder = tmp_path / "seq"
    folder.mkdir()
    for i, f in enumerate(data["frames"][:4]):
        write_image(folder / f"frame{i + 1}.png", f)  # lossless: same pixels as decoded below
    out = tmp_path / "aus.csv"
    assert _run("--checkpoint", data["ckpt"], folder, "--sequence", "--out", out) == 0
    df = pd.read_csv(out)
    assert df["frame"].tolist() == [0, 1, 2, 3] and (df["success"] == 1).all()
    lm = landmark_array(LandmarkDetector().frames(data["frames"][:4], track=True))
    crops = np.stack([warp_to_crop(f, alignment_matrix(p, 64), 64) for f, p in zip(data["frames"][:4], lm)])
    want, _ = reference_intensities(data["net"], crops, data["meta"]["sigma"])
    np.testing.assert_allclose(df[[f"{a}_r" for a in AUS]].to_numpy(), want, atol=2e-4)


def test_video_without_face(data, tmp_path):
    video = write_noise_video(tmp_path / "noise.avi", n_frames=5, fps=25)
    out = tmp_path / "aus.csv"
    assert _run("--checkpoint", data["ckpt"], video, "--out", out) == 0
    df = pd.read_csv(out)
    assert list(df.columns) == COLUMNS and len(df) == 5
    empty = ["confidence", "detector_score", *GEOMETRY, *[f"{a}_r" for a in AUS]]
    assert (df["success"] == 0).all() and df[empty].isna().all().all()
    np.testing.assert_allclose(df["timestamp"], np.arange(5) / 25.0)
    assert out.read_text().splitlines()[1].endswith(",0.0,,0" + "," * (len(empty) - 1))  # empty cells, not 0 or nan


def test_unreadable_inputs_are_reported_and_skipped(data, tmp_path, capsys):
    broken_video = tmp_path / "broken.mp4"
    broken_video.write_bytes(b"\x00garbage" * 100)
    folder = tmp_path / "photos"
    folder.mkdir()
    write_image(folder / "good.png", data["frames"][1])
    (folder / "bad.jpg").write_bytes(b"not a jpeg")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    out = tmp_path / "aus.csv"
    rc = _run("--checkpoint", data["ckpt"], broken_video, data["video"], folder, tmp_path / "missing.avi", text,
              "--out", out)
    assert rc == 1
    err = capsys.readouterr().err
    for name in ("broken.mp4", "bad.jpg", "missing.avi", "notes.txt"):
        assert name in err
    df = pd.read_csv(out)  # the inputs that worked are written
    assert df["file"].str.endswith("face.avi").sum() == 6
    assert df["file"].str.endswith("good.png").sum() == 1 and not df["file"].str.contains("bad.jpg").any()
    assert df.loc[df["file"].str.endswith("good.png"), "frame"].item() == 1  # its position in the folder


def test_bad_checkpoint_is_one_clear_error(data, tmp_path, capsys):
    bad = tmp_path / "model.pt"
    bad.write_text("not a checkpoint")
    out = tmp_path / "aus.csv"
    assert _run("--checkpoint", bad, data["video"], "--out", out) == 2
    err = capsys.readouterr().err
    assert f"g2rl predict: error: {bad}" in err and not out.exists()


def test_max_frames_and_timestamps_follow_fps(data, tmp_path):
    out = tmp_path / "aus.csv"
    assert _run("--checkpoint", data["ckpt"], data["video"], "--max-frames", 3, "--plain", "--out", out) == 0
    df = pd.read_csv(out)
    assert df["frame"].tolist() == [0, 1, 2] and math.isclose(df["timestamp"].iloc[-1], 0.2)


def test_only_unreadable_images(data, tmp_path, capsys):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG but not really")
    out = tmp_path / "aus.csv"
    assert _run("--checkpoint", data["ckpt"], bad, "--out", out) == 1
    assert "broken.png: cannot decode image" in capsys.readouterr().err
    df = pd.read_csv(out)
    assert list(df.columns) == COLUMNS and len(df) == 0


def test_several_faces_the_largest_is_measured(data, tmp_path):
    """A photo with a large (astronaut, ~125 px) and a small face (Grace Hopper, ~87 px): the row is the
    large face's: the same numbers as the photo with the small face painted out, not the small face's.
    (HOG: its box depends on the face's surroundings only, so painting the other face out leaves it
    exactly where it was; BlazeFace sees the whole frame and its box moves by a pixel: the next test.)"""
    folder = _two_face_photos(tmp_path / "faces")
    out = tmp_path / "aus.csv"
    assert _run("--checkpoint", data["ckpt"], folder, "--detector", "hog", "--out", out) == 0
    df = pd.read_csv(out)
    assert (df["success"] == 1).all()
    au = df[[f"{a}_r" for a in AUS]].to_numpy()
    np.testing.assert_allclose(au[0], au[1], atol=1e-4)
    assert np.abs(au[0] - au[2]).max() > 1e-2


def test_faces_all_rows_largest_first(data, tmp_path):
    """--faces all: one row per face, face_id 0 = the larger; each face's numbers are those of
    the photo with only that face (the other painted out): exactly with HOG (previous test), and with
    BlazeFace (the default) the same points to within 5 % of the inter-ocular distance."""
    folder = _two_face_photos(tmp_path / "faces")
    for detector in ("hog", "blazeface"):
        out = tmp_path / f"{detector}.csv"
        assert _run("--checkpoint", data["ckpt"], folder, "--faces", "all", "--landmarks", "--detector", detector,
                    "--out", out) == 0
        df = pd.read_csv(out)
        assert df[["frame", "face_id"]].values.tolist() == [[0, 0], [0, 1], [1, 0], [2, 0]]
        assert (df["success"] == 1).all()
        x = df[[f"x_{i}" for i in range(68)]].to_numpy()
        assert x[0].mean() < 380 < x[1].mean()  # the large face is the left one
        points = np.stack([x, df[[f"y_{i}" for i in range(68)]].to_numpy()], axis=-1)
        for pair, alone in ((0, 2), (1, 3)):  # face 0 of the pair = the large face alone; face 1 = the small one
            iod = np.linalg.norm(points[alone, 36:42].mean(0) - points[alone, 42:48].mean(0))
            assert np.linalg.norm(points[pair] - points[alone], axis=1).mean() / iod < 0.05, detector
        if detector == "hog":
            au = df[[f"{a}_r" for a in AUS]].to_numpy()
            np.testing.assert_allclose(au[0], au[2], atol=1e-4)
            np.testing.assert_allclose(au[1], au[3], atol=1e-4)


def test_landmarks_and_frame_base(data, tmp_path):
    """--landmarks: the 68 points of the tracked path, before the AU columns (OpenFace's order); --frame-base 1: frames
    count from 1 (OpenFace), timestamps still from 0, overlay names follow the frame column."""
    out, hm = tmp_path / "aus.csv", tmp_path / "hm"
    assert _run("--checkpoint", data["ckpt"], data["video"], "--landmarks", "--frame-base", 1, "--out", out,
                "--heatmaps", hm, "--heatmaps-every", 3) == 0
    df = pd.read_csv(out)
    lm_cols = [f"x_{i}" for i in range(68)] + [f"y_{i}" for i in range(68)]
    assert list(df.columns) == KEYS + GEOMETRY + lm_cols + [f"{au}_r" for au in AUS]
    assert df["frame"].tolist() == list(range(1, 7))
    np.testing.assert_allclose(df["timestamp"], np.arange(6) / 10.0)
    want = LandmarkDetector().video(data["video"], progress=False)[lm_cols].to_numpy()
    np.testing.assert_allclose(df[lm_cols].to_numpy(), want, atol=5e-4)  # 3 decimals in the CSV
    assert sorted(p.name for p in (hm / "face").iterdir()) == ["000001.png", "000004.png"]


def test_two_landmark_workers_give_the_same_rows(data, tmp_path):
    """--landmark-workers 2 through the CLI: the same frames in the same order, landmarks within
    2 % IOD and intensities close to one worker's (the 6-frame video is one chunk here, so equal)."""
    from g2rl.preprocess.landmarks import inter_ocular_distance

    out1, out2 = tmp_path / "one.csv", tmp_path / "two.csv"
    assert _run("--checkpoint", data["ckpt"], data["video"], "--landmarks", "--out", out1) == 0
    assert _run("--checkpoint", data["ckpt"], data["video"], "--landmarks", "--landmark-workers", 2,
                "--out", out2) == 0
    a, b = pd.read_csv(out1), pd.read_csv(out2)
    assert a[KEYS].equals(b[KEYS])
    pa = np.stack([a[[f"x_{i}" for i in range(68)]], a[[f"y_{i}" for i in range(68)]]], -1)
    pb = np.stack([b[[f"x_{i}" for i in range(68)]], b[[f"y_{i}" for i in range(68)]]], -1)
    assert (np.linalg.norm(pa - pb, axis=-1).mean(-1) / inter_ocular_distance(pa)).max() < 0.02
    np.testing.assert_allclose(a[[f"{x}_r" for x in AUS]], b[[f"{x}_r" for x in AUS]], atol=1e-4)


def test_video_without_any_frame_is_a_named_failure(data, tmp_path, capsys):
    empty = tmp_path / "empty.avi"
    with VideoWriter(empty, 10, (64, 48)):
        pass  # a valid container holding no frame
    out = tmp_path / "aus.csv"
    assert _run("--checkpoint", data["ckpt"], empty, data["video"], "--out", out) == 1
    assert f"{empty}: no frame could be decoded" in capsys.readouterr().err
    assert len(pd.read_csv(out)) == 6  # the other video is still written


def test_truncated_video_is_predicted_with_a_warning(data, tmp_path, caplog):
    """A video whose container declares more frames than it decodes (issue 12, item 4): a warning
    'decoded K of N frames', the K frames predicted, exit 0."""

    from test_reliability_inputs import truncated_video

    video = truncated_video(tmp_path / "cut.avi")
    out = tmp_path / "aus.csv"
    with caplog.at_level(logging.WARNING, logger="g2rl.predict"):
        assert _run("--checkpoint", data["ckpt"], video, "--out", out) == 0
    n = len(pd.read_csv(out))
    assert 0 < n < 12 and f"decoded {n} of 12 frames" in caplog.text
