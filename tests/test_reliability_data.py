"""Issue 20 (round 2), data items: inputs that gave a silently wrong dataset or a traceback.

4. a hand-edited frame_index.csv; 5. cache checksums; 6. heatmap sigma; 7. truncated JPEGs;
9. absurd landmarks; 10. file names that are not UTF-8; 11-12. one-line errors for the rest.
"""

from __future__ import annotations

import json
import os

import h5py
import numpy as np
import pandas as pd
import pytest

from g2rl.cli import main as g2rl_main
from g2rl.datasets import index_bp4d, index_disfa, read_frame_index
from g2rl.errors import ConfigError, DatasetLayoutError, G2RLError
from layouts import write_bp4d, write_disfa
from test_preprocess_cache import tiny, tiny_caches  # noqa: F401  (fixtures reused from the cache tests)

FOLDS = {"1": ["SN001"], "2": ["SN002"], "3": ["SN003"]}
PARTS = {"train": ["F001"], "devel": ["F002"]}


def one_error_line(capsys, rc: int) -> str:
    """The single stderr line of a refused command (exit 2, no traceback)."""
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err, err[-2000:]
    lines = [ln for ln in err.splitlines() if ln.startswith("g2rl ")]
    assert len(lines) == 1, err[-2000:]
    return lines[0]


# -- 4. a hand-edited frame index is checked where it is read --------------------------------------

@pytest.fixture(scope="module")
def bp4d_index_csv(tmp_path_factory):
    """A valid BP4D frame index CSV (F001 train, F002 devel; 2 sessions x 5 frames each)."""
    folder = tmp_path_factory.mktemp("bp4d")
    out = folder / "frame_index.csv"
    index_bp4d(write_bp4d(folder / "BP4D"), partitions=PARTS).to_csv(out, index=False)
    return out


def edited(src, tmp_path, edit) -> str:
    """A copy of the index CSV at ``src`` after ``edit(df)`` changed it in place."""
    df = pd.read_csv(src, dtype=str, keep_default_na=False)
    edit(df)
    out = tmp_path / "edited.csv"
    df.to_csv(out, index=False)
    return str(out)


def _leak(df):  # F002's first session moved into train: F002 is trained and tested on
    rows = (df.subject == "F002") & (df.session == "T1")
    df.loc[rows, ["split", "partition"]] = "train"


def _typo(df):  # 'Devel' for F002: before, F002 was silently trained on
    df.loc[df.subject == "F002", ["split", "partition"]] = "Devel"


def _split_only(df):  # split changed, partition left as the reader wrote it
    df.loc[df.subject == "F002", "split"] = "train"


def _duplicate(df):
    df.loc[len(df)] = df.iloc[3]


def _label(value):
    def edit(df):
        df.loc[4, "AU12"] = value
    return edit


@pytest.mark.parametrize("edit, message", [
    (_leak, r"subject F002 is in partitions devel and train \(each subject belongs to exactly one"),
    (_typo, r"split 'Devel' is not a bp4d partition \(known: train, devel\)"),
    (_split_only, r"row \d+ \(subject F002\) has split 'train' but partition 'devel'"),
    (_duplicate, r"duplicate frame rows for subject F001, session T1, frame 10"),
    (_label("9"), r"column AU12: label 9.0 at row 5 is outside 0-5"),
    (_label("-3"), r"column AU12: label -3.0 at row 5 is outside 0-5"),
    (_label("x"), r"column AU12: label 'x' at row 5 is outside 0-5"),
], ids=["subject-in-two-splits", "split-typo", "split-vs-partition", "duplicate-row", "label-9", "label-minus-3",
        "label-text"])
def test_hand_edited_frame_index_is_checked_when_read(bp4d_index_csv, tmp_path, edit, message):
    path = edited(bp4d_index_csv, tmp_path, edit)
    with pytest.raises(DatasetLayoutError, match=rf"^{path}: {message}"):
        read_frame_index(path)


def test_unedited_frame_index_reads_back(bp4d_index_csv):
    df = read_frame_index(bp4d_index_csv)
    assert set(df["split"]) == {"train", "devel"} and df["AU12"].notna().any()


def test_case_variant_disfa_folds_are_an_error(tmp_path):
    root = write_disfa(tmp_path / "DISFA")
    index_disfa(root, folds={"a": ["SN001"], "b": ["SN002"], "c": ["SN003"]}).to_csv(tmp_path / "i.csv", index=False)
    # DISFA's fold names are configurable: a hand-made 'A' is caught by its case twin

    def upper_case_twin(df):
        df.loc[df.subject == "SN003", ["split", "fold"]] = "A"

    path = edited(tmp_path / "i.csv", tmp_path, upper_case_twin)
    assert set(pd.read_csv(path)["split"]) == {"a", "b", "A"}
    with pytest.raises(DatasetLayoutError, match=rf"^{path}: splits 'A' and 'a' differ only in case"):
        read_frame_index(path)
    with pytest.raises(DatasetLayoutError, match=r"^splits 'A' and 'a' differ only in case"):
        index_disfa(root, folds={"a": ["SN001"], "A": ["SN002"], "c": ["SN003"]})


def test_cache_crops_refuses_a_hand_edited_index(bp4d_index_csv, tmp_path, capsys):
    path = edited(bp4d_index_csv, tmp_path, _typo)
    rc = g2rl_main(["cache", "crops", "--index", path, "--landmarks-dir", str(tmp_path), "--out",
                    str(tmp_path / "crops.h5"), "--aus", "AU06"])
    assert one_error_line(capsys, rc).startswith(f"g2rl cache: error: {path}: split 'Devel' is not a bp4d partition")


# -- 11. `cache crops --index photo.jpg` --------------------------------------------------------------

def test_cache_crops_on_a_photo_says_not_a_frame_index(tmp_path, capsys):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(range(256)) * 8)
    rc = g2rl_main(["cache", "crops", "--index", str(photo), "--landmarks-dir", str(tmp_path), "--out",
                    str(tmp_path / "crops.h5"), "--aus", "AU06"])
    assert one_error_line(capsys, rc).startswith(f"g2rl cache: error: {photo}: not a frame index CSV (")


# -- 12. a subject in two folds: the message names the folds ----------------------------------------

def test_subject_in_two_folds_names_the_subject_and_both_folds(tmp_path):
    root = write_disfa(tmp_path / "DISFA")
    with pytest.raises(DatasetLayoutError, match=r"subject SN002 is in folds 1 and 2 \(each subject belongs"):
        index_disfa(root, folds={"1": ["SN001", "SN002"], "2": ["SN002"], "3": ["SN003"]})


# -- 12. fold names the workflow cannot use are refused by the schema -------------------------------

@pytest.mark.parametrize("name", ["fold-1", "fold 1", "f/1", ""])
def test_fold_names_outside_the_wildcard_are_refused_by_the_schema(name):
    from g2rl.config import dataset_section, validate
    from g2rl.errors import ConfigError

    folds = {name: ["SN001"], "2": ["SN002"]}
    reason = rf"name {name!r} is not allowed: letters and digits only"
    with pytest.raises(ConfigError, match=rf"^config: key disfa.folds: {reason}"):
        validate({"datasets": ["disfa"], "disfa": {"root": "/data/DISFA", "folds": folds}}, check_roots=False)
    with pytest.raises(ConfigError, match=rf"^disfa settings: key folds: {reason}"):
        dataset_section("disfa", {"folds": folds})
    validate({"datasets": ["disfa"], "disfa": {"root": "/data/DISFA", "folds": {"A1": ["SN001"]}}}, check_roots=False)


# -- 6. heatmap sigma is range-checked and the written maps are finite ------------------------------

@pytest.mark.parametrize("sigma", ["nan", "inf", "0.001", "0", "-2", "9"])
def test_heatmap_sigma_outside_its_range_is_refused(tiny_caches, tmp_path, capsys, sigma):
    _, crops, _ = tiny_caches  # 64 x 64 crops: 16 x 16 heatmaps, sigma 0.1..8
    out = tmp_path / "h.h5"
    rc = g2rl_main(["cache", "heatmaps", "--crops", str(crops), "--sigma", sigma, "--out", str(out)])
    line = one_error_line(capsys, rc)
    assert line.startswith(f"g2rl cache: error: {out}: sigma={float(sigma):g} is outside 0.1..8 heatmap px"), line
    assert not out.exists()


def test_heatmap_sigma_bounds_are_in_the_help(capsys):
    with pytest.raises(SystemExit):
        g2rl_main(["cache", "heatmaps", "--help"])
    assert "from 0.1 to half the heatmap side" in " ".join(capsys.readouterr().out.split())


def test_non_finite_maps_are_not_written(tiny_caches, tmp_path, monkeypatch):
    import g2rl.preprocess.cache as cache

    _, crops, _ = tiny_caches
    real = cache.render_layout
    monkeypatch.setattr(cache, "render_layout", lambda *a, **k: real(*a, **k) * np.float32(1e6))  # float16 inf
    with pytest.raises(G2RLError, match=r"h.h5: the heatmaps of \d+ rows \(first: row \d+\) are not finite at sigma=2 \(nothing written\)"):
        cache.build_heatmap_cache(crops, 2.0, tmp_path / "h.h5")
    assert not (tmp_path / "h.h5").exists()


# -- 11. train on heatmaps built with sigma inf or holding overflowed maps: one line ----------------

def train_args(crops, heat, out, *extra) -> list[str]:
    """A tiny CPU training run of the cache-test dataset (never reached when the inputs are refused)."""
    return ["train", "--crops", str(crops), "--heatmaps", str(heat), "--test-split", "1", "--out", str(out),
            "--method", "baseline", "--backbone", "resnet18", "--epochs", "1", "--batch-size", "4",
            "--deconv-channels", "8,8,8", "--num-workers", "0", "--device", "cpu", "--allow-random-init", "--pretrained", "none", *extra]


def test_train_on_heatmaps_built_with_sigma_inf_is_one_line(tiny_caches, tmp_path, capsys):
    _, crops, heat = tiny_caches
    with h5py.File(heat, "r+") as f:
        f.attrs["sigma"] = float("inf")  # as an unchecked build wrote it (all-zero maps)
    rc = g2rl_main(train_args(crops, heat, tmp_path / "run", "--sigma", "inf"))
    line = one_error_line(capsys, rc)
    # the option's range is the config key's (issue 29: g2rl.config_ranges)
    assert line.startswith("g2rl train: error: --sigma inf: must be a finite number > 0 (as the config's "
                           "experiments.sigma)"), line
    rc = g2rl_main(train_args(crops, heat, tmp_path / "run"))
    line = one_error_line(capsys, rc)
    assert line.startswith(f"g2rl train: error: {heat}: built with sigma=inf is outside 0.1..8 heatmap px"), line


@pytest.mark.parametrize("in_memory", ["on", "off"])
def test_train_on_overflowed_maps_is_one_line(tiny_caches, tmp_path, capsys, in_memory):
    _, crops, heat = tiny_caches
    with h5py.File(heat, "r+") as f:
        maps = f["heatmaps"][...]
        maps[-1, 1, 5, 5] = np.inf  # a training row (split 2); float16's value for I / (2 pi 0.001^2)
        f["heatmaps"][...] = maps
    rc = g2rl_main(train_args(crops, heat, tmp_path / "run", "--in-memory", in_memory))
    line = one_error_line(capsys, rc)
    assert line.startswith(f"g2rl train: error: {heat}: heatmaps of row") and "are not finite" in line, line


# -- 11, 12. training settings that are NaN are refused, naming the option ------------------------

@pytest.mark.parametrize("option, key", [("--lr", "lr"), ("--weight-decay", "weight_decay"),
                                         ("--lr-gamma", "lr_gamma"), ("--sigma", "sigma"),
                                         ("--in-memory-max-mb", "in_memory_max_mb"), ("--lr", "lr")])
@pytest.mark.parametrize("value", ["nan", "inf"])
def test_non_finite_training_settings_are_refused(tmp_path, capsys, option, key, value):
    rc = g2rl_main(train_args(tmp_path / "c.h5", tmp_path / "h.h5", tmp_path / "run", option, value))
    # refused with the option's range, the config key's (issue 29: g2rl.config_ranges), naming the option
    assert one_error_line(capsys, rc).startswith(f"g2rl train: error: {option} {value}: must be a finite number")
    # and by the settings themselves, for library callers
    from g2rl.training.settings import TrainSettings

    with pytest.raises(ConfigError, match=rf"training setting {key}={value}: must be"):
        TrainSettings(**{key: float(value)})


# -- 5. cache checksums: a flipped byte in a chunk is an error naming the file ----------------------

def flip_chunk_bytes(path, dataset: str, chunk: int, n: int = 240) -> None:
    """Invert ``n`` bytes inside chunk ``chunk`` of ``dataset`` (what a bad disk or a bit rot does)."""
    with h5py.File(path, "r") as f:
        info = f[dataset].id.get_chunk_info(chunk)
    data = bytearray(path.read_bytes())
    start = info.byte_offset + min(16, info.size - n)
    data[start:start + n] = bytes(b ^ 0xFF for b in data[start:start + n])
    path.write_bytes(bytes(data))


def test_cache_datasets_carry_checksums(tiny_caches):
    _, crops, heat = tiny_caches
    with h5py.File(crops, "r") as f:
        numeric = [n for n, d in f.items() if d.dtype.kind in "fiu"]
        assert {"images", "landmarks", "au_points", "intensities", "frame"} <= set(numeric)
        assert all(f[n].fletcher32 for n in numeric)
    with h5py.File(heat, "r") as f:
        assert f["heatmaps"].fletcher32


@pytest.mark.parametrize("in_memory", ["on", "off"])
def test_flipped_bytes_in_a_crops_chunk_stop_training_naming_the_file(tiny_caches, tmp_path, capsys, in_memory):
    _, crops, heat = tiny_caches
    flip_chunk_bytes(crops, "images", 7)  # a training row (split 2)
    rc = g2rl_main(train_args(crops, heat, tmp_path / "run", "--in-memory", in_memory))
    line = one_error_line(capsys, rc)
    assert line.startswith(f"g2rl train: error: {crops}: cannot read 'images' row") and "the file is damaged" in line


def test_flipped_bytes_in_a_heatmaps_chunk_name_the_heatmaps_file(tiny_caches):
    from g2rl.preprocess.batches import open_cache_rows

    _, crops, heat = tiny_caches
    flip_chunk_bytes(heat, "heatmaps", 5, n=24)  # lzf-compressed chunks are small
    with pytest.raises(G2RLError, match=rf"^{heat}: cannot read 'heatmaps' row 5 \(.*\): the file is damaged"):
        open_cache_rows(crops, heat, in_memory="off").batch([5])
    with pytest.raises(G2RLError, match=rf"^{heat}: cannot read 'heatmaps' rows 0..7"):
        open_cache_rows(crops, heat, in_memory="on")


def test_a_damaged_key_dataset_is_one_line_naming_the_file(tiny_caches, tmp_path, capsys):
    _, crops, _ = tiny_caches
    flip_chunk_bytes(crops, "intensities", 0, n=8)
    rc = g2rl_main(["cache", "heatmaps", "--crops", str(crops), "--sigma", "2", "--out", str(tmp_path / "h.h5")])
    assert one_error_line(capsys, rc).startswith(f"g2rl cache: error: {crops}: cannot read 'intensities' rows 0..")


def test_cache_without_checksums_is_still_read(tiny_caches):
    """Caches written before the checksums existed: read as before (no check), not refused."""
    from g2rl.preprocess.batches import open_cache_rows

    _, crops, heat = tiny_caches
    with h5py.File(crops, "r+") as f:
        images = f["images"][...]
        del f["images"]
        f.create_dataset("images", data=images, chunks=(1, *images.shape[1:]))
        assert not f["images"].fletcher32
    assert np.array_equal(open_cache_rows(crops, heat, in_memory="on").arrays["image"], images)
    assert np.array_equal(open_cache_rows(crops, heat, in_memory="off").batch([3, 1])["image"].numpy(), images[[3, 1]])


# -- 11. a flipped object header: one line naming the file ----------------------------------------

def test_flipped_object_header_is_one_line_naming_the_file(tiny_caches, tmp_path, capsys):
    _, crops, heat = tiny_caches
    with h5py.File(crops, "r") as f:
        header = h5py.h5o.get_info(f["landmarks"].id).addr
    data = bytearray(crops.read_bytes())
    data[header:header + 4] = b"\xff\xff\xff\xff"  # the header's signature and version
    crops.write_bytes(bytes(data))
    rc = g2rl_main(train_args(crops, heat, tmp_path / "run"))
    line = one_error_line(capsys, rc)
    assert line.startswith(f"g2rl train: error: {crops}: cannot read 'landmarks' (Unable to"), line


# -- 12. a truncated heatmaps file: the error names it ----------------------------------------------

def test_truncated_heatmaps_file_is_named(tiny_caches, tmp_path, capsys):
    _, crops, heat = tiny_caches
    heat.write_bytes(heat.read_bytes()[: heat.stat().st_size // 2])
    rc = g2rl_main(train_args(crops, heat, tmp_path / "run"))
    assert one_error_line(capsys, rc).startswith(f"g2rl train: error: {heat}: cannot open as HDF5 (truncated")


# -- 7. a truncated JPEG in a sequence: an error in the pipeline, success=0 in predict --------------

def astronaut_sequence(folder, n: int = 4):
    """``n`` JPEG frames 0.jpg.. of a face moving slowly (the predict tests' astronaut windows)."""
    import skimage.data

    from g2rl.media import write_image

    folder.mkdir(parents=True)
    img = skimage.data.astronaut()
    for i in range(n):
        write_image(folder / f"{i}.jpg", np.ascontiguousarray(img[10 + 3 * i:250 + 3 * i, 60 + 2 * i:380 + 2 * i]))
    return folder


def truncate(path, keep: float = 0.6) -> None:
    """Cut the file at ``keep`` of its size (a copy interrupted, a full disk)."""
    path.write_bytes(path.read_bytes()[: int(path.stat().st_size * keep)])


def test_truncated_jpeg_is_detected_by_read_image(tmp_path):
    from g2rl.errors import TruncatedImageError
    from g2rl.media import jpeg_is_truncated, read_image

    seq = astronaut_sequence(tmp_path / "seq", n=1)
    whole = (seq / "0.jpg").read_bytes()
    assert not jpeg_is_truncated(whole) and not jpeg_is_truncated(whole + b"\0" * 10)  # bytes after the end: fine
    truncate(seq / "0.jpg")
    with pytest.raises(TruncatedImageError, match=rf"^{seq / '0.jpg'}: truncated JPEG"):
        read_image(seq / "0.jpg")


def test_landmarks_on_a_sequence_with_a_truncated_jpeg_is_one_line(tmp_path, capsys):
    seq = astronaut_sequence(tmp_path / "T1")
    truncate(seq / "2.jpg")
    rc = g2rl_main(["landmarks", str(seq), "--sequence", "--out", str(tmp_path / "lm.csv"), "--no-progress"])
    assert one_error_line(capsys, rc).startswith(f"g2rl landmarks: error: {seq / '2.jpg'}: truncated JPEG")
    assert not (tmp_path / "lm.csv").exists()


def assert_predict_gives_the_spoilt_frame_success_0(tmp_path, caplog, spoil, reason: str) -> None:
    """`g2rl predict --sequence` on 4 astronaut frames after ``spoil(path)`` damaged frame 2: exit 0, that
    frame success=0 with empty AU cells, the others predicted, and a warning naming it with ``reason``."""
    import logging

    from test_predict_model import AUS, make_checkpoint

    make_checkpoint(tmp_path / "model.pt")
    seq = astronaut_sequence(tmp_path / "T1")
    spoil(seq / "2.jpg")
    out = tmp_path / "aus.csv"
    with caplog.at_level(logging.WARNING, logger="g2rl.predict"):
        rc = g2rl_main(["predict", "--no-progress", "--amp", "off", "--checkpoint", str(tmp_path / "model.pt"),
                        "--sequence", str(seq), "--out", str(out)])
    assert rc == 0
    df = pd.read_csv(out)
    assert df["frame"].tolist() == [0, 1, 2, 3] and df["success"].tolist() == [1, 1, 0, 1]
    assert df.loc[2, [f"{au}_r" for au in AUS]].isna().all()  # no face: empty AU cells
    assert f"{seq / '2.jpg'}: {reason}" in caplog.text and "success=0" in caplog.text


def test_predict_gives_a_truncated_frame_success_0_and_a_warning(tmp_path, caplog):
    assert_predict_gives_the_spoilt_frame_success_0(tmp_path, caplog, truncate, "truncated JPEG")


# -- 10. names that are not UTF-8: one line, never handed to OpenCV (which segfaults) ---------------

NOT_UTF8 = b"caf\xe9"


def test_landmarks_on_a_video_named_in_latin1_is_one_line(tmp_path, capsys):
    from layouts import write_noise_video

    video = write_noise_video(tmp_path / "v.avi", 3, 10)
    bad = os.fsencode(tmp_path) + b"/vid\xe9o.avi"
    os.rename(video, bad)
    rc = g2rl_main(["landmarks", os.fsdecode(bad), "--out", str(tmp_path / "lm.csv")])
    line = one_error_line(capsys, rc)
    assert line == f"g2rl landmarks: error: {tmp_path}/vid\\xe9o.avi: file name is not valid UTF-8 " \
                   f"(rename the file or folder; media names must be UTF-8)"


def test_landmarks_on_a_folder_holding_a_latin1_name_is_one_line(tmp_path, capsys):
    seq = astronaut_sequence(tmp_path / "T1", n=2)
    os.rename(seq / "1.jpg", os.fsencode(seq) + b"/" + NOT_UTF8 + b".jpg")
    rc = g2rl_main(["landmarks", str(seq), "--sequence", "--out", str(tmp_path / "lm.csv"), "--no-progress"])
    assert one_error_line(capsys, rc).startswith(f"g2rl landmarks: error: {seq}/caf\\xe9.jpg: file name is not valid")


@pytest.mark.parametrize("dataset", ["disfa", "bp4d"])
def test_index_of_a_root_named_in_latin1_is_one_line(tmp_path, capsys, dataset):
    write = write_disfa if dataset == "disfa" else write_bp4d
    write(tmp_path / "data")
    root = os.fsencode(tmp_path) + b"/" + NOT_UTF8
    os.rename(tmp_path / "data", root)
    layout = {"disfa": {"folds": FOLDS}, "bp4d": {"partitions": PARTS}}[dataset]
    rc = g2rl_main(["index", "--dataset", dataset, "--root", os.fsdecode(root), "--out", str(tmp_path / "i.csv"),
                    "--dataset-settings", json.dumps(layout)])
    line = one_error_line(capsys, rc)
    assert line.startswith(f"g2rl index: error: {tmp_path}/caf\\xe9/") and "file name is not valid UTF-8" in line


# -- 9, 12. landmarks that are no face fit: an error naming the CSV and the frame ---------------------

def edit_landmarks(csv, frame: int, edit) -> None:
    """Apply ``edit(points (68, 2))`` to the landmarks of ``frame`` in a landmarks CSV, in place."""
    from g2rl.preprocess.landmarks import X_COLUMNS, Y_COLUMNS

    df = pd.read_csv(csv)
    row = df.index[df["frame"] == frame][0]
    pts = np.stack([df.loc[row, X_COLUMNS].to_numpy(float), df.loc[row, Y_COLUMNS].to_numpy(float)], axis=-1)
    edit(pts)
    df.loc[row, X_COLUMNS], df.loc[row, Y_COLUMNS] = pts[:, 0], pts[:, 1]
    df.to_csv(csv, index=False)


def _far(pts):
    pts[30] = 1e12  # the nose tip: not an alignment point, the crop would still be made


def _far_alignment_point(pts):
    pts[8, 1] = 1e12


def _collinear(pts):
    pts[8] = (pts[36] + pts[45]) / 2


@pytest.mark.parametrize("edit, reason", [
    (_far, r"landmark 30 at \(1e\+12, 1e\+12\) lies far outside the 200x200 frame \(1 of 68"),
    (_far_alignment_point, r"landmark 8 at \(100, 1e\+12\) lies far outside"),
    (_collinear, r"alignment: landmarks 8, 36, 45 are collinear"),
])
def test_landmarks_that_are_no_face_stop_the_crop_cache_naming_csv_and_frame(tiny, edit, reason):
    from test_preprocess_cache import _build

    root, index, csvs = tiny
    csv = csvs[("SN001", "LeftCamera")]
    edit_landmarks(csv, 6, edit)
    with pytest.raises(G2RLError, match=rf"^{csv}: landmarks of {root / 'SN001.avi'} frame 6: {reason}"):
        _build(root, index, csvs)
    assert not (root / "crops.h5").exists()


def test_infinite_landmark_names_the_frame(tiny):
    from g2rl.preprocess.landmarks import read_landmarks_csv

    _, _, csvs = tiny
    csv = csvs[("SN001", "LeftCamera")]
    edit_landmarks(csv, 7, lambda pts: pts.__setitem__((12, 0), np.inf))
    with pytest.raises(G2RLError, match=rf"^{csv}: frame 7 has success=1 but missing or non-finite coordinates"):
        read_landmarks_csv(csv)


# -- 12. small CLI checks ---------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["-5", "0"])
def test_landmarks_max_frames_below_1_is_refused(tmp_path, capsys, value):
    from layouts import write_noise_video

    video = write_noise_video(tmp_path / "v.avi", 3, 10)
    rc = g2rl_main(["landmarks", str(video), "--max-frames", value, "--out", str(tmp_path / "lm.csv")])
    assert one_error_line(capsys, rc) == f"g2rl landmarks: error: --max-frames must be >= 1, got {value}"
    assert not (tmp_path / "lm.csv").exists()


def test_demo_data_on_a_full_disk_names_the_real_output(tmp_path, capsys):
    from faults import tmpfs

    with tmpfs(tmp_path / "small", size="300k") as small:  # room for the DISFA video, not for BP4D's frames
        out = small / "demo"
        rc = g2rl_main(["demo-data", "--out", str(out), "--disfa-frames", "20", "--bp4d-frames", "20",
                        "--disfa-subjects", "SN001", "--bp4d-train", "F001", "--bp4d-devel", "F002",
                        "--bp4d-tasks", "T1"])
        line = one_error_line(capsys, rc)
        assert line.startswith(f"g2rl demo-data: error: {out}/") and line.endswith(": no space left on device"), line
        assert ".tmp-" not in line
        assert list(small.iterdir()) == []  # the temporary folder is gone
