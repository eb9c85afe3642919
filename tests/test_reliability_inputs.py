"""Issue 12 items 2-5: inputs that used to give a silently wrong result now give an error (or a warning).

2. a BP4D session with some AU label files but not others; 3. a DISFA label file shorter than its
siblings; 4. a video that decodes fewer frames than its container declares; 5. hand-made
predictions files with bad columns.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from g2rl.cli import main as g2rl_main
from g2rl.datasets import index_bp4d, index_disfa
from g2rl.errors import DatasetLayoutError, G2RLError
from g2rl.media import VideoWriter, truncation_note, video_info
from g2rl.reports.evaluate import read_predictions
from layouts import write_bp4d, write_disfa, write_noise_video

FOLDS = {"1": ["SN001"], "2": ["SN002"], "3": ["SN003"]}
PARTS = {"train": ["F001"], "devel": ["F002"]}


# -- 2. BP4D sessions come from every AU's label files ------------------------------------------

def test_bp4d_session_missing_the_first_aus_file_is_an_error(tmp_path):
    root = write_bp4d(tmp_path / "BP4D")
    gone = root / "AUCoding/AU_INT/AU06/F002_T2_AU06.csv"
    gone.unlink()  # the first AU: before, the whole session F002/T2 vanished with no word
    with pytest.raises(DatasetLayoutError, match=rf"{gone}: label file not found; session F002/T2 has 4 of its 5"):
        index_bp4d(root, partitions=PARTS)


def test_bp4d_message_lists_every_missing_file(tmp_path):
    root = write_bp4d(tmp_path / "BP4D")
    for au in ("AU10", "AU14"):
        (root / f"AUCoding/AU_INT/{au}/F001_T1_{au}.csv").unlink()
    with pytest.raises(DatasetLayoutError) as info:
        index_bp4d(root, partitions=PARTS)
    assert "F001_T1_AU10.csv" in str(info.value) and "F001_T1_AU14.csv" in str(info.value)
    assert "3 of its 5" in str(info.value)


# -- 3. DISFA label files of one subject cover the same frames ----------------------------------

def test_disfa_label_file_shorter_than_its_siblings(tmp_path):
    root = write_disfa(tmp_path / "DISFA", n_frames=10)
    short = root / "ActionUnit_Labels/SN002/SN002_au9.txt"
    short.write_text("".join(short.read_text().splitlines(keepends=True)[:7]))  # 7 of 10 lines
    with pytest.raises(DatasetLayoutError, match=rf"{short}: lacks 3 frame\(s\) 8..10 that SN002_au1.txt labels "
                                                 r"\(it covers 1..7, 7 lines"):
        index_disfa(root, folds=FOLDS)


def test_disfa_label_file_with_a_hole(tmp_path):
    root = write_disfa(tmp_path / "DISFA", n_frames=6)
    holed = root / "ActionUnit_Labels/SN001/SN001_au1.txt"
    lines = holed.read_text().splitlines(keepends=True)
    holed.write_text("".join(lines[:2] + lines[3:]))  # frame 3 missing
    with pytest.raises(DatasetLayoutError, match=rf"{holed}: lacks 1 frame\(s\) 3..3"):
        index_disfa(root, folds=FOLDS)


# -- 4. truncated videos --------------------------------------------------------------------------

def truncated_video(path, n_declared=12, keep_bytes=0.5):
    """An MJPG AVI whose header declares ``n_declared`` frames but whose data is cut at ``keep_bytes``."""
    rng = np.random.default_rng(0)
    with VideoWriter(path, 10, (64, 48)) as w:
        for _ in range(n_declared):
            w.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep_bytes)])
    return path


def test_truncation_note_counts_decoded_frames(tmp_path):
    from g2rl.media import iter_video_frames

    video = truncated_video(tmp_path / "cut.avi")
    declared = video_info(video)[0]
    decoded = sum(1 for _ in iter_video_frames(video))
    assert declared == 12 and 0 < decoded < 12  # the premise: the header still says 12
    assert truncation_note(video, decoded) == (
        f"{video}: decoded {decoded} of 12 frames (the container declares 12; the file is truncated or damaged "
        f"after frame {decoded - 1})")
    assert truncation_note(video, 12) is None
    assert truncation_note(video, decoded, max_frames=decoded) is None  # the caller's own limit


def test_landmarks_warns_on_a_truncated_video(tmp_path, caplog):
    video = truncated_video(tmp_path / "cut.avi")
    out = tmp_path / "lm.csv"
    with caplog.at_level(logging.WARNING, logger="g2rl.landmarks"):
        assert g2rl_main(["landmarks", str(video), "--out", str(out), "--no-progress"]) == 0
    n = len(pd.read_csv(out))
    assert n < 12
    assert f"decoded {n} of 12 frames" in caplog.text


def test_crop_cache_error_says_decoded_k_of_n(tmp_path):
    """Where labels need the frames, the truncation is an error in the container's terms."""
    from g2rl.preprocess.au_points import DEFAULT_AU_POINTS
    from g2rl.preprocess.cache import build_crop_cache
    from test_preprocess_cache import _landmarks
    from g2rl.preprocess.landmarks import write_landmarks_csv

    video = truncated_video(tmp_path / "cut.avi")
    from g2rl.media import iter_video_frames

    decoded = sum(1 for _ in iter_video_frames(video))
    csv = tmp_path / "cut.csv"
    write_landmarks_csv(_landmarks(decoded, [1] * decoded), csv)  # landmarks saw what decoded
    index = pd.DataFrame([dict(dataset="disfa", subject="SN001", session="LeftCamera", frame=f + 1, media=str(video),
                               media_frame=f, split="1", AU06=1.0) for f in range(12)])
    with pytest.raises(G2RLError, match=rf"decoded {decoded} of 12 frames"):
        build_crop_cache(index, {("SN001", "LeftCamera"): csv}, tmp_path / "c.h5", 64, ["AU06"], DEFAULT_AU_POINTS,
                         max_gap=0, progress=False)


def test_intact_video_gives_no_note(tmp_path):
    video = write_noise_video(tmp_path / "ok.avi", 5, 10)
    assert truncation_note(video, 5) is None


# -- 5. evaluate validates its columns ------------------------------------------------------------

HEADER = "subject,session,frame,split,AU06_pred,AU06_true\n"


@pytest.mark.parametrize("body, message", [
    ("S1,T1,1,1,1.0,1\nS1,T1,2,1,2.0,2\nS1,T1,3,1,2.0", r"line 4 has 5 fields, the header has 6 \(truncated file\?\)"),
    ("S1,T1,1,1,1.0,9\nS1,T1,2,1,2.0,2\n", r"line 2: AU06_true 9 is not a valid true label"),
    ("S1,T1,1,1,1.0,1\nS1,T1,2,1,2.0,-1\n", r"line 3: AU06_true -1 is not a valid true label"),
    ("S1,T1,1,1,-0.5,1\nS1,T1,2,1,2.0,2\n", r"line 2: AU06_pred -0.5 is not a valid prediction"),
    ("S1,T1,1,1,inf,1\nS1,T1,2,1,2.0,2\n", r"line 2: AU06_pred inf is not a valid prediction"),
    ("S1,T1,1,1,1.0,1\nS1,T1,2,1,abc,2\n", r"line 3: AU06_pred 'abc' is not a valid prediction"),
    ("S1,T1,1,1,1.0,1\nS1,T1,x2,1,2.0,2\n", r"line 3: frame 'x2' is not an integer"),
])
def test_evaluate_rejects_bad_columns(tmp_path, capsys, body, message):
    path = tmp_path / "p.csv"
    path.write_text(HEADER + body)
    with pytest.raises(G2RLError, match=rf"{path}: {message}"):
        read_predictions(path)
    assert g2rl_main(["evaluate", str(path), "--out", str(tmp_path / "m.json")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("g2rl evaluate: error:") == 1
    assert not (tmp_path / "m.json").exists()


def test_evaluate_accepts_a_valid_file(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(HEADER + "S1,T1,1,1,1.0,1\nS1,T1,2,1,2.5,\nS1,T1,3,1,0,0\n")
    df, aus = read_predictions(path)
    assert aus == ["AU06"] and df["AU06_pred"].tolist() == [1.0, 2.5, 0.0] and df["AU06_true"].isna().tolist() == [
        False, True, False]
