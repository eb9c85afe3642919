"""The generated demo trees: layouts the readers expect, labels, determinism, atomic writing, CLI."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from g2rl.demo import DEFAULT_BP4D_DEVEL, DEFAULT_BP4D_TRAIN, DEFAULT_DISFA_SUBJECTS, generate_demo
from g2rl.demo.expressions import BP4D_AUS, DISFA_AUS
from g2rl.errors import G2RLError
from g2rl.media import iter_video_frames, read_image

DISFA_FRAMES, BP4D_FRAMES = 24, 20  # small: the test set must stay fast on 2 cores
FOLDS = {"1": ["SN001", "SN002"], "2": ["SN011", "SN013"], "3": ["SN003", "SN023"]}


def _make(out: Path, seed: int = 0) -> dict:
    return generate_demo(out, seed=seed, disfa_frames=DISFA_FRAMES, bp4d_frames=BP4D_FRAMES)


@pytest.fixture(scope="module")
def demo_tree(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo"
    return out, _make(out)


def _read_pairs(path: Path) -> np.ndarray:
    rows = [line.split(",") for line in path.read_text().splitlines()]
    assert all(len(r) == 2 for r in rows), f"{path}: not 'frame,value' lines"
    return np.array(rows, dtype=np.int64)


def _digest_tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_defaults_name_the_configured_subjects():
    assert DEFAULT_DISFA_SUBJECTS == ("SN001", "SN002", "SN011", "SN013", "SN003", "SN023")
    assert DEFAULT_BP4D_TRAIN == ("F001", "M001", "F003") and DEFAULT_BP4D_DEVEL == ("F002", "M002", "F004")


def test_disfa_layout_one_based_label_per_video_frame(demo_tree):
    root, summary = demo_tree
    assert summary["disfa"]["public_fold"] == {"SN001": 1, "SN002": 1, "SN011": 2, "SN013": 2, "SN003": 3, "SN023": 3}
    for sn in DEFAULT_DISFA_SUBJECTS:
        video = root / "DISFA" / "Videos_LeftCamera" / f"LeftVideo{sn}_comp.avi"
        n_video = sum(1 for _ in iter_video_frames(video))
        assert n_video == DISFA_FRAMES
        files = sorted((root / "DISFA" / "ActionUnit_Labels" / sn).iterdir())
        assert {f.name for f in files} == {f"{sn}_au{au}.txt" for au in DISFA_AUS}
        for au in DISFA_AUS:
            pairs = _read_pairs(root / "DISFA" / "ActionUnit_Labels" / sn / f"{sn}_au{au}.txt")
            assert pairs[:, 0].tolist() == list(range(1, n_video + 1))  # 1-based, every video frame
            assert pairs[:, 1].min() >= 0 and pairs[:, 1].max() <= 5


def test_bp4d_layout_paddings_starts_and_not_coded(demo_tree):
    root, summary = demo_tree
    paddings, nines = set(), 0
    for seq in summary["bp4d"]["sequences"]:
        subject, task = seq["subject"], seq["task"]
        folder = root / "BP4D" / "Sequences" / subject / task
        names = sorted(p.name for p in folder.glob("*.jpg"))
        assert len(names) == BP4D_FRAMES
        numbers = sorted(int(n[:-4]) for n in names)
        assert numbers[0] == seq["start"] and numbers[0] > 1
        pad = seq["padding"]
        paddings.add(pad)
        assert all(n == f"{int(n[:-4]):0{pad}d}.jpg" for n in names)
        for au in BP4D_AUS:
            path = root / "BP4D" / "AUCoding" / "AU_INT" / f"AU{au:02d}" / f"{subject}_{task}_AU{au:02d}.csv"
            pairs = _read_pairs(path)
            assert pairs[:, 0].tolist() == numbers  # image number == label frame number
            assert set(np.unique(pairs[:, 1])) <= {0, 1, 2, 3, 4, 5, 9}
            nines += int((pairs[:, 1] == 9).sum())
    assert paddings == {2, 3, 4}
    # one 2-frame stretch per AU in these 20-frame sequences (~3 % of longer ones: see test_demo_parts)
    assert nines == 2 * len(summary["bp4d"]["sequences"]) * len(BP4D_AUS)


def test_every_au_has_strong_signal_in_every_subject(demo_tree):
    root, _ = demo_tree
    for sn in DEFAULT_DISFA_SUBJECTS:
        for au in DISFA_AUS:
            v = _read_pairs(root / "DISFA" / "ActionUnit_Labels" / sn / f"{sn}_au{au}.txt")[:, 1]
            assert (v >= 3).sum() >= 2, f"{sn} AU{au}: intensity >= 3 in only {(v >= 3).sum()} frames"
    for path in (root / "BP4D" / "AUCoding" / "AU_INT").rglob("*.csv"):
        v = _read_pairs(path)[:, 1]
        assert ((v >= 3) & (v != 9)).any(), f"{path.name}: never reaches intensity 3"


def test_same_seed_same_bytes_other_seed_other_labels(demo_tree, tmp_path):
    root, _ = demo_tree
    again = tmp_path / "again"
    _make(again)
    first, second = _digest_tree(root), _digest_tree(again)
    assert first.keys() == second.keys()
    assert first == second  # labels, JPEGs, the MJPG AVIs and the summary: byte for byte
    other = tmp_path / "other"
    _make(other, seed=1)
    labels = [k for k in first if k.endswith((".txt", ".csv"))]
    third = _digest_tree(other)
    assert any(first[k] != third[k] for k in labels)


def test_readers_index_both_trees(demo_tree):
    from g2rl.datasets import index_bp4d, index_disfa

    root, _ = demo_tree
    disfa = index_disfa(root / "DISFA", folds=FOLDS)
    assert len(disfa) == len(DEFAULT_DISFA_SUBJECTS) * DISFA_FRAMES
    assert disfa["media_frame"].min() == 0 and disfa["media_frame"].max() == DISFA_FRAMES - 1
    bp4d = index_bp4d(root / "BP4D", partitions={"train": list(DEFAULT_BP4D_TRAIN), "devel": list(DEFAULT_BP4D_DEVEL)})
    assert len(bp4d) == 6 * 2 * BP4D_FRAMES
    assert bp4d["AU06"].isna().any()  # code 9 -> NaN


def test_hog_finds_exactly_one_face_in_demo_frames(demo_tree):
    """>= 99 % of a sample of generated frames (every subject, both layouts) hold exactly one face."""
    from g2rl.demo.faces import dlib_models

    detector, _ = dlib_models()
    root, _ = demo_tree
    frames = []
    for video in sorted((root / "DISFA" / "Videos_LeftCamera").glob("*.avi")):
        frames += list(iter_video_frames(video))[::2]
    for jpg in sorted((root / "BP4D" / "Sequences").rglob("*.jpg"))[::2]:
        frames.append(read_image(jpg))
    counts = np.array([len(detector(f, 0)) for f in frames])
    assert len(frames) >= 180
    rate = float((counts == 1).mean())
    assert rate >= 0.99, f"exactly one face in {rate:.1%} of {len(frames)} frames; counts {np.bincount(counts)}"


def test_summary_file_and_no_temporary_left(demo_tree):
    root, summary = demo_tree
    on_disk = json.loads((root / "demo_summary.json").read_text())
    assert on_disk["disfa"]["total_frames"] == summary["disfa"]["total_frames"] == 6 * DISFA_FRAMES
    assert not [p for p in root.parent.iterdir() if re.search(r"\.tmp-\d+$", p.name)]


def test_refuses_to_replace_a_folder_that_is_not_a_demo(tmp_path):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.tex").write_text("keep me")
    with pytest.raises(G2RLError, match="not a demo dataset"):
        generate_demo(out, disfa_subjects=["SN001"], disfa_frames=20, bp4d_train=["F001"], bp4d_devel=[],
                      bp4d_tasks=["T1"], bp4d_frames=20)
    assert (out / "thesis.tex").read_text() == "keep me"


@pytest.mark.parametrize("kwargs, message", [
    ({"disfa_frames": 5}, ">= 20 frames"),
    ({"bp4d_train": ["F001"], "bp4d_devel": ["F001"]}, "both train and devel"),
    ({"disfa_subjects": ["SN001", "SN001"]}, "duplicate"),
    ({"frame_size": (100, 80)}, "too small"),
])
def test_bad_arguments_are_reported(tmp_path, kwargs, message):
    with pytest.raises(G2RLError, match=message):
        generate_demo(tmp_path / "x", **kwargs)


def test_cli_writes_tree_and_contact_sheet(tmp_path, capsys):
    from g2rl.cli import main

    out, sheet = tmp_path / "cli_demo", tmp_path / "sheet.png"
    rc = main(["demo-data", "--out", str(out), "--seed", "3", "--disfa-frames", "20", "--bp4d-frames", "20",
               "--disfa-subjects", "SN001", "--bp4d-train", "F001", "--bp4d-devel", "F002", "--bp4d-tasks", "T1",
               "--contact-sheet", str(sheet)])
    assert rc == 0
    assert (out / "DISFA" / "Videos_LeftCamera" / "LeftVideoSN001_comp.avi").is_file()
    assert len(list((out / "BP4D" / "Sequences" / "F002" / "T1").glob("*.jpg"))) == 20
    img = read_image(sheet)
    assert img.shape[0] > 3 * 100 and img.shape[1] > 4 * 150  # 3 rows (SN001, F001, F002) x 4 frames
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["disfa_frames"] == 20
    assert main(["demo-data", "--out", str(tmp_path / "bad"), "--disfa-frames", "3"]) == 2


def test_cli_one_dataset_at_a_given_size(tmp_path, capsys):
    """An empty subject list (`none`) skips that dataset (the paper-scale rehearsal generates DISFA or BP4D alone,
    at the real frame size); no subjects at all is refused."""
    from g2rl.cli import main

    out = tmp_path / "disfa_only"
    rc = main(["demo-data", "--out", str(out), "--disfa-frames", "20", "--disfa-subjects", "SN004",
               "--bp4d-train", "none", "--bp4d-devel", "none", "--frame-size", "320", "240"])
    assert rc == 0
    assert not (out / "BP4D").exists()
    frames = list(iter_video_frames(out / "DISFA" / "Videos_LeftCamera" / "LeftVideoSN004_comp.avi"))
    assert len(frames) == 20 and frames[0].shape == (240, 320, 3)
    summary = json.loads((out / "demo_summary.json").read_text())
    assert summary["bp4d"]["total_frames"] == 0 and summary["disfa"]["total_frames"] == 20
    capsys.readouterr()
    assert main(["demo-data", "--out", str(tmp_path / "none"), "--disfa-subjects", "none", "--bp4d-train", "none",
                 "--bp4d-devel", "none"]) == 2
    assert "no subjects at all" in capsys.readouterr().err
