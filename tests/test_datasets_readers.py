"""The BP4D and DISFA readers on small trees in each layout, including every bad-input case of issue 2."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from g2rl.datasets import index_bp4d, index_disfa, read_frame_index
from g2rl.errors import DatasetLayoutError
from layouts import write_bp4d, write_disfa

FOLDS = {"1": ["SN001"], "2": ["SN002"], "3": ["SN003"]}
PARTS = {"train": ["F001"], "devel": ["F002"]}


def test_disfa_index_columns_and_values(tmp_path):
    root = write_disfa(tmp_path / "DISFA", n_frames=6)
    df = index_disfa(root, folds=FOLDS)
    assert list(df.columns[:6]) == ["dataset", "subject", "session", "frame", "media", "media_frame"]
    assert [c for c in df.columns if c.startswith("AU")] == [f"AU{a:02d}" for a in [1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26]]
    assert len(df) == 18 and set(df["split"]) == {"1", "2", "3"} and set(df["fold"]) == {1, 2, 3}
    sn2 = df[df.subject == "SN002"]
    # label frame f (1-based) is video frame f - 1
    assert sn2["frame"].tolist() == [1, 2, 3, 4, 5, 6] and sn2["media_frame"].tolist() == [0, 1, 2, 3, 4, 5]
    # the values are the label file's, row for row
    raw = pd.read_csv(root / "ActionUnit_Labels/SN002/SN002_au12.txt", header=None)
    assert sn2["AU12"].tolist() == raw[1].astype(float).tolist()


def test_disfa_missing_label_file(tmp_path):
    root = write_disfa(tmp_path / "DISFA")
    (root / "ActionUnit_Labels/SN002/SN002_au9.txt").unlink()
    with pytest.raises(DatasetLayoutError, match="SN002_au9.txt: label file not found"):
        index_disfa(root, folds=FOLDS)


def test_disfa_subject_without_data(tmp_path):
    root = write_disfa(tmp_path / "DISFA", subjects=("SN001", "SN002"))
    with pytest.raises(DatasetLayoutError, match="subject SN003 .fold 3. has no data"):
        index_disfa(root, folds=FOLDS)


def test_disfa_label_out_of_range(tmp_path):
    root = write_disfa(tmp_path / "DISFA")
    (root / "ActionUnit_Labels/SN001/SN001_au4.txt").write_text("1,0\n2,7\n3,1\n")
    with pytest.raises(DatasetLayoutError, match=r"SN001_au4.txt: label '7' at row 2 is outside 0-5"):
        index_disfa(root, folds=FOLDS)


def test_disfa_video_shorter_than_labels(tmp_path):
    root = write_disfa(tmp_path / "DISFA", n_frames=6, n_labels=8)
    with pytest.raises(DatasetLayoutError, match=r"LeftVideoSN001_comp.avi: has 6 frames but 2 labelled frames fall outside"):
        index_disfa(root, folds=FOLDS)


def test_disfa_duplicate_frame_rows(tmp_path):
    root = write_disfa(tmp_path / "DISFA")
    (root / "ActionUnit_Labels/SN003/SN003_au1.txt").write_text("1,0\n2,1\n2,1\n")
    with pytest.raises(DatasetLayoutError, match="SN003_au1.txt: duplicate row for frame 2"):
        index_disfa(root, folds=FOLDS)


def test_bp4d_index_padding_offsets_and_code9(tmp_path):
    root = write_bp4d(tmp_path / "BP4D", start=7, n_frames=5)
    label = root / "AUCoding/AU_INT/AU12/F002_T2_AU12.csv"
    label.write_text("7,9\n8,3\n9,9\n10,0\n11,5\n")
    df = index_bp4d(root, partitions=PARTS)
    assert len(df) == 20 and set(df["partition"]) == {"train", "devel"} and (df["split"] == df["partition"]).all()
    t2 = df[(df.subject == "F002") & (df.session == "T2")]
    assert t2["frame"].tolist() == [7, 8, 9, 10, 11]
    assert np.isnan(t2["AU12"].iloc[0]) and t2["AU12"].iloc[1] == 3 and np.isnan(t2["AU12"].iloc[2])
    # T1 images use 3-digit names, T2 4-digit names: the reader found each
    assert df[df.session == "T1"]["media"].str.endswith("/007.jpg").any()
    assert df[df.session == "T2"]["media"].str.endswith("/0007.jpg").any()
    assert (df["media_frame"] == 0).all()


def test_bp4d_frames_with_no_coded_au_are_dropped(tmp_path):
    root = write_bp4d(tmp_path / "BP4D", sessions=("T1",), n_frames=3, start=1)
    for au in (6, 10, 12, 14, 17):
        (root / f"AUCoding/AU_INT/AU{au:02d}/F001_T1_AU{au:02d}.csv").write_text("1,9\n2,1\n3,2\n")
    df = index_bp4d(root, partitions=PARTS, sessions=["T1"])
    assert df[df.subject == "F001"]["frame"].tolist() == [2, 3]
    assert df[df.subject == "F002"]["frame"].tolist() == [1, 2, 3]


def test_bp4d_image_offset_setting(tmp_path):
    root = write_bp4d(tmp_path / "BP4D", start=7)
    # labels numbered one above the images: offset -1 makes them match, 0 must fail naming the image
    for f in (root / "AUCoding/AU_INT").rglob("*.csv"):
        df = pd.read_csv(f, header=None)
        df[0] += 1
        df.to_csv(f, header=False, index=False)
    with pytest.raises(DatasetLayoutError, match=r"no image for labelled frame 12 .*image_frame_offset"):
        index_bp4d(root, partitions=PARTS)
    assert len(index_bp4d(root, partitions=PARTS, image_frame_offset=-1)) == 20


def test_bp4d_missing_jpeg(tmp_path):
    root = write_bp4d(tmp_path / "BP4D", start=7)
    (root / "Sequences/F001/T2/0009.jpg").unlink()
    with pytest.raises(DatasetLayoutError, match=r"Sequences/F001/T2/09.jpg: no image for labelled frame 9"):
        index_bp4d(root, partitions=PARTS)


def test_bp4d_bad_code_and_missing_label_and_subject(tmp_path):
    root = write_bp4d(tmp_path / "BP4D")
    (root / "AUCoding/AU_INT/AU10/F001_T1_AU10.csv").write_text("7,6\n")
    with pytest.raises(DatasetLayoutError, match=r"F001_T1_AU10.csv: label '6' at row 1 is outside 0-5 \(allowed codes: \[9\]\)"):
        index_bp4d(root, partitions=PARTS)
    root = write_bp4d(tmp_path / "B2")
    (root / "AUCoding/AU_INT/AU17/F002_T1_AU17.csv").unlink()
    with pytest.raises(DatasetLayoutError, match="F002_T1_AU17.csv: label file not found"):
        index_bp4d(root, partitions=PARTS)
    with pytest.raises(DatasetLayoutError, match=r"subject M009 \(partition devel\) has no data"):
        index_bp4d(root, partitions={"train": ["F001"], "devel": ["M009"]})


def test_bp4d_duplicate_frame_rows(tmp_path):
    root = write_bp4d(tmp_path / "BP4D", start=1, n_frames=2)
    (root / "AUCoding/AU_INT/AU06/F001_T1_AU06.csv").write_text("1,0\n1,2\n")
    with pytest.raises(DatasetLayoutError, match="F001_T1_AU06.csv: duplicate row for frame 1"):
        index_bp4d(root, partitions=PARTS)


def test_missing_root_is_named(tmp_path):
    with pytest.raises(DatasetLayoutError, match="nowhere: DISFA root folder not found"):
        index_disfa(tmp_path / "nowhere")
    with pytest.raises(DatasetLayoutError, match="nowhere: BP4D root folder not found"):
        index_bp4d(tmp_path / "nowhere")


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "g2rl", *args], capture_output=True, text=True)


def test_cli_index_both_layouts(tmp_path):
    write_disfa(tmp_path / "DISFA")
    write_bp4d(tmp_path / "BP4D")
    out = tmp_path / "disfa.csv"
    folds = '{"folds": {"1": ["SN001"], "2": ["SN002"], "3": ["SN003"]}}'
    r = run_cli("index", "--dataset", "disfa", "--root", str(tmp_path / "DISFA"), "--out", str(out), "--dataset-settings", folds)
    assert r.returncode == 0, r.stderr
    df = read_frame_index(out)
    assert len(df) == 18 and set(df["split"]) == {"1", "2", "3"}  # text, not numbers
    out = tmp_path / "bp4d.csv"
    r = run_cli("index", "--dataset", "bp4d", "--root", str(tmp_path / "BP4D"), "--out", str(out),
                "--dataset-settings", '{"partitions": {"train": ["F001"], "devel": ["F002"]}}')
    assert r.returncode == 0, r.stderr
    assert set(read_frame_index(out)["partition"]) == {"train", "devel"}


def test_cli_layout_error_is_one_line_without_traceback(tmp_path):
    write_disfa(tmp_path / "DISFA", subjects=("SN001",))
    r = run_cli("index", "--dataset", "disfa", "--root", str(tmp_path / "DISFA"), "--out", str(tmp_path / "x.csv"))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and "has no data" in r.stderr
    assert not (tmp_path / "x.csv").exists()
