"""Issue 29 (round 3), items 4, 5, 13 and 18: the data checked where it is used.

4. An AU with no labelled frame (a frame index whose every label is NaN) trained a model on nothing:
   `cache crops`, `cache heatmaps` and `train` (its training rows and its test rows) refuse it naming
   the file and the AU; a small labelled share is a warning with the count.
5. A crops file whose `split` puts a subject in two splits trained with the leak: `train` refuses it.
13. A frame index with its last line cut mid-row (TypeError in `cache crops`): its columns and types
   are checked on read, naming the file and the line.
18. A BP4D index holding a row of DISFA named crops.h5 (the output): the index and its line instead.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from g2rl.cli import main as g2rl_main
from g2rl.datasets import read_frame_index
from g2rl.errors import DatasetLayoutError, G2RLError
from g2rl.preprocess.au_points import DEFAULT_AU_POINTS
from g2rl.preprocess.cache import build_crop_cache, build_heatmap_cache
from g2rl.preprocess.data_checks import SMALL_LABELLED_SHARE, check_au_labels
from test_preprocess_cache import AUS, S, tiny  # noqa: F401  (fixture reused from the cache tests)
from test_reliability_data import bp4d_index_csv, one_error_line  # noqa: F401  (fixture reused)

TRAIN = ["--method", "baseline", "--backbone", "resnet18", "--epochs", "1", "--batch-size", "4",
         "--deconv-channels", "8,8,8", "--num-workers", "0", "--device", "cpu", "--allow-random-init",
         "--pretrained", "none"]


def _crops(root, index, csvs, name="crops.h5"):
    """A crops file built from ``index`` (a DataFrame) directly, as a library user would."""
    out = root / name
    build_crop_cache(index, csvs, out, S, AUS, DEFAULT_AU_POINTS, max_gap=1, progress=False)
    return out


def _train(crops, heat, out, split="2"):
    return g2rl_main(["train", "--crops", str(crops), "--heatmaps", str(heat), "--test-split", split,
                      "--out", str(out), *TRAIN])


# -- 4. labels ---------------------------------------------------------------------------------------

def test_check_au_labels_counts_by_hand(caplog):
    nan = np.nan
    labels = np.array([[0, nan, 1], [2, nan, nan], [1, nan, nan]] + [[1, nan, nan]] * 17, dtype=float)  # 20 rows
    with pytest.raises(G2RLError, match=r"^f.h5: the rows hold no labelled frame for AU12 \(all 20 frames "
                                        r"unlabelled\)"):
        check_au_labels(labels, ["AU06", "AU12", "AU25"], "f.h5", "the rows")
    labels[5, 1] = 3.0  # AU12: 1 of 20 labelled, AU25: 1 of 20 (5 % < 10 %): warnings with the counts
    with caplog.at_level(logging.WARNING):
        check_au_labels(labels, ["AU06", "AU12", "AU25"], "f.h5", "the rows")
    assert SMALL_LABELLED_SHARE == 0.10
    assert "f.h5: the rows hold only 1 labelled frames of 20 for AU12 (5.0 %)" in caplog.text
    assert "for AU25" in caplog.text and "for AU06" not in caplog.text
    caplog.clear()
    labels[:2, 1] = 1.0  # AU12 now 3 of 20 (15 %): no warning for it
    with caplog.at_level(logging.WARNING):
        check_au_labels(labels, ["AU06", "AU12", "AU25"], "f.h5", "the rows")
    assert "for AU12" not in caplog.text


def test_cache_crops_refuses_an_index_without_labels_for_an_au(tiny, tmp_path, capsys):  # noqa: F811
    root, index, csvs = tiny
    index = index.copy()
    index["AU25"] = np.nan  # every label of AU25 gone
    path = tmp_path / "frame_index.csv"
    index.to_csv(path, index=False)
    lm = tmp_path / "lm"
    for (subject, session), csv in csvs.items():
        (lm / subject).mkdir(parents=True, exist_ok=True)
        (lm / subject / f"{session}.csv").write_bytes(csv.read_bytes())
    rc = g2rl_main(["cache", "crops", "--index", str(path), "--landmarks-dir", str(lm), "--out",
                    str(tmp_path / "crops.h5"), "--aus", ",".join(AUS), "--crop-size", str(S), "--no-progress"])
    assert one_error_line(capsys, rc) == (
        f"g2rl cache: error: {path}: the frame index's rows hold no labelled frame for AU25 (all 9 frames "
        "unlabelled); a model cannot be trained or scored on an AU without labels: check the label files (or "
        "remove the AU from the AU list)")
    assert not (tmp_path / "crops.h5").exists()


def test_cache_heatmaps_refuses_a_crops_file_without_labels_for_an_au(tiny, tmp_path, capsys):  # noqa: F811
    root, index, csvs = tiny
    crops = _crops(root, index.assign(AU06=np.nan, AU12=np.nan, AU25=np.nan), csvs)  # every label NaN
    out = tmp_path / "heat.h5"
    rc = g2rl_main(["cache", "heatmaps", "--crops", str(crops), "--sigma", "2", "--out", str(out)])
    assert one_error_line(capsys, rc).startswith(
        f"g2rl cache: error: {crops}: its frames hold no labelled frame for AU06, AU12, AU25 (all 8 frames")
    assert not out.exists()


@pytest.mark.parametrize("part, split", [("training", "2"), ("test", "1")])
def test_train_refuses_a_fold_part_without_labels_for_an_au(tiny, tmp_path, capsys, part, split):  # noqa: F811
    """SN001 (split 1) has no AU25 label: training with split 2 as test, or testing on split 1, is refused."""
    root, index, csvs = tiny
    index = index.copy()
    index.loc[index.subject == "SN001", "AU25"] = np.nan
    crops = _crops(root, index, csvs)
    heat = root / "heat.h5"
    build_heatmap_cache(crops, 2.0, heat)
    rc = _train(crops, heat, tmp_path / "run", split)
    which = "the training rows (all but split 2)" if part == "training" else "the test rows (split 1)"
    assert one_error_line(capsys, rc).startswith(f"g2rl train: error: {crops}: {which} hold no labelled frame "
                                                 "for AU25")
    assert not (tmp_path / "run" / "model.pt").exists()


# -- 5. a subject in two splits of a crops file ----------------------------------------------------------

def test_train_refuses_a_crops_file_with_a_subject_in_two_splits(tiny, tmp_path, capsys):  # noqa: F811
    """The leak is built into the file (a library user's own index): its digests are right, only the
    subject check can stop it. F001 (split 2) has one frame marked split 1."""
    root, index, csvs = tiny
    index = index.copy()
    index.loc[index.index[index.subject == "F001"][0], "split"] = "1"
    crops = _crops(root, index, csvs)
    heat = root / "heat.h5"
    build_heatmap_cache(crops, 2.0, heat)
    for split in ("2", "1"):
        rc = _train(crops, heat, tmp_path / "run", split)
        assert one_error_line(capsys, rc) == (
            f"g2rl train: error: {crops}: subject F001 is in splits 1 and 2 (each subject belongs to exactly one; 1 "
            "such subject(s)); the training would include frames of a test subject (rebuild the cache from a "
            "checked frame index)")
    assert not (tmp_path / "run" / "model.pt").exists()


def test_a_split_edited_inside_the_crops_file_is_refused(tiny, tmp_path, capsys):  # noqa: F811
    """The issue's own case: `split` rewritten with h5py after the build (its digest then differs)."""
    import h5py

    root, index, csvs = tiny
    crops = _crops(root, index, csvs)
    heat = root / "heat.h5"
    build_heatmap_cache(crops, 2.0, heat)
    with h5py.File(crops, "r+") as f:
        split = f["split"].asstr()[...]
        split[-1] = "1"  # F001's last frame joins SN001's split
        f["split"][...] = split.astype(object)
    rc = _train(crops, heat, tmp_path / "run")
    line = one_error_line(capsys, rc)
    assert line.startswith(f"g2rl train: error: {crops}: ") and "'split'" in line, line


# -- 13. a frame index cut mid-row, 18. rows of another dataset -------------------------------------------

def _cut_last_line(src, tmp_path, keep: float):
    text = src.read_text()
    lines = text.splitlines(keepends=True)
    last = lines[-1]
    out = tmp_path / "cut.csv"
    out.write_text("".join(lines[:-1]) + last[: int(len(last) * keep)])
    return out, len(lines)


@pytest.mark.parametrize("keep, column", [(0.02, "subject"), (0.2, "media_frame"), (0.8, "split"), (0.97, None)])
def test_frame_index_with_its_last_line_cut_names_file_and_line(bp4d_index_csv, tmp_path, keep, column):  # noqa: F811
    """Cut in the key columns, in the media path (its frame number is then missing), in the labels (the split
    is then missing) and inside the last field."""
    path, n_lines = _cut_last_line(bp4d_index_csv, tmp_path, keep)
    with pytest.raises(DatasetLayoutError) as info:
        read_frame_index(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    if column is not None:
        assert message.startswith(f"{path}: line {n_lines}: column {column} is empty (a line cut short?"), message
    else:  # cut inside the last field (the partition): it no longer matches the split beside it
        assert "has split 'devel' but partition" in message, message


def test_cache_crops_on_an_index_cut_mid_row_is_one_line(bp4d_index_csv, tmp_path, capsys):  # noqa: F811
    path, n_lines = _cut_last_line(bp4d_index_csv, tmp_path, 0.5)
    rc = g2rl_main(["cache", "crops", "--index", str(path), "--landmarks-dir", str(tmp_path), "--out",
                    str(tmp_path / "crops.h5"), "--aus", "AU06"])
    assert one_error_line(capsys, rc).startswith(f"g2rl cache: error: {path}: line {n_lines}: column media_frame is "
                                                 "empty")


@pytest.mark.parametrize("value, message", [
    ("12.5", "column frame is 12.5, not a whole number"),
    ("abc", "column frame is 'abc', not a whole number"),
])
def test_frame_numbers_that_are_not_whole_numbers(bp4d_index_csv, tmp_path, value, message):  # noqa: F811
    df = pd.read_csv(bp4d_index_csv, dtype=str, keep_default_na=False)
    df.loc[3, "frame"] = value
    path = tmp_path / "i.csv"
    df.to_csv(path, index=False)
    with pytest.raises(DatasetLayoutError, match=rf"^{path}: line 5: {message}"):
        read_frame_index(path)
    df.loc[3, "frame"] = "7"
    df.loc[6, "media_frame"] = "-1"
    df.to_csv(path, index=False)
    with pytest.raises(DatasetLayoutError, match=rf"^{path}: line 8: column media_frame is -1, not a whole number >= 0"):
        read_frame_index(path)


def test_bp4d_index_holding_a_disfa_row_names_the_index_and_line(bp4d_index_csv, tmp_path, capsys):  # noqa: F811
    df = pd.read_csv(bp4d_index_csv, dtype=str, keep_default_na=False)
    df.loc[4, "dataset"] = "disfa"
    path = tmp_path / "frame_index.csv"
    df.to_csv(path, index=False)
    rc = g2rl_main(["cache", "crops", "--index", str(path), "--landmarks-dir", str(tmp_path), "--out",
                    str(tmp_path / "crops.h5"), "--aus", "AU06"])
    assert one_error_line(capsys, rc) == (f"g2rl cache: error: {path}: line 6: dataset 'disfa' in a bp4d frame index "
                                          "(1 such line(s); an index holds one dataset)")
    df.loc[4, "dataset"] = "affwild"
    df.to_csv(path, index=False)
    with pytest.raises(DatasetLayoutError, match=rf"^{path}: line 6: dataset 'affwild' is not one g2rl reads "
                                                 r"\(known: disfa, bp4d\)"):
        read_frame_index(path)


# -- 6. content digests: what fletcher32 cannot see ------------------------------------------------------

def _zero_words_to_ones(path, dataset: str, count: int = 2) -> list[int]:
    """Turn the first ``count`` float32 values 0.0 of ``dataset``'s first chunk into FF FF FF FF (NaN) in the
    raw file: 16-bit words 0x0000 -> 0xFFFF, which fletcher32's ones'-complement sums do not see.
    Returns the flat indices changed."""
    import h5py

    with h5py.File(path, "r") as f:
        ds = f[dataset]
        info = ds.id.get_chunk_info(0)
        values = ds[tuple(slice(0, c) for c in ds.chunks)].reshape(-1)
        assert ds.compression is None and ds.dtype == np.float32
    where = [int(i) for i in np.flatnonzero(values == 0.0)[:count]]
    data = bytearray(path.read_bytes())
    for i in where:
        data[info.byte_offset + 4 * i:info.byte_offset + 4 * i + 4] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(data))
    return where


def test_fletcher32_blind_spot_is_caught_by_the_digest(tiny, tmp_path, capsys):  # noqa: F811
    import h5py

    root, index, csvs = tiny
    crops = _crops(root, index, csvs)
    heat = root / "heat.h5"
    build_heatmap_cache(crops, 2.0, heat)
    before = h5py.File(crops, "r")["intensities"][...]
    changed = _zero_words_to_ones(crops, "intensities")
    # the premise: HDF5 reads the changed chunk without complaint, two labels 0.0 now NaN
    with h5py.File(crops, "r") as f:
        after = f["intensities"][...]
    assert len(changed) == 2 and np.isnan(after.reshape(-1)[changed]).all() and np.isfinite(before.reshape(-1)[changed]).all()
    rc = _train(crops, heat, tmp_path / "run")
    assert one_error_line(capsys, rc) == (
        f"g2rl train: error: {crops}: dataset 'intensities' does not match its content digest (SHA-256 written "
        "with the file): it was changed or damaged after it was written; rebuild it")
    assert not (tmp_path / "run" / "model.pt").exists()


def test_the_same_blind_spot_in_landmarks_stops_the_heatmap_build(tiny, tmp_path, capsys):  # noqa: F811
    """Another dataset, another command: a landmark coordinate 0.0 is rare, so a whole-zero row is made."""
    import h5py

    root, index, csvs = tiny
    crops = _crops(root, index, csvs)
    with h5py.File(crops, "r+") as f:  # a file whose landmark row 0 is legitimately zero, digests rewritten
        from g2rl.preprocess.cache import DIGESTED_DATASETS
        from g2rl.preprocess.h5write import write_content_digests

        f["landmarks"][0] = 0.0
        write_content_digests(f, DIGESTED_DATASETS, crops)
    _zero_words_to_ones(crops, "landmarks", count=3)
    rc = g2rl_main(["cache", "heatmaps", "--crops", str(crops), "--sigma", "2", "--out", str(tmp_path / "h.h5")])
    assert one_error_line(capsys, rc).startswith(f"g2rl cache: error: {crops}: dataset 'landmarks' does not match "
                                                 "its content digest")


def test_every_small_dataset_has_a_digest_and_the_file_reads(tiny):  # noqa: F811
    import h5py
    import json

    from g2rl.preprocess.cache import DIGESTED_DATASETS
    from g2rl.preprocess.batches import read_cache_keys
    from g2rl.preprocess.h5read import DIGEST_ATTR

    root, index, csvs = tiny
    crops = _crops(root, index, csvs)
    with h5py.File(crops, "r") as f:
        digests = json.loads(f.attrs[DIGEST_ATTR])
    assert set(digests) == set(DIGESTED_DATASETS) and "images" not in digests
    assert all(len(d) == 64 for d in digests.values())
    assert len(read_cache_keys(crops)) == 8


def test_a_cache_written_before_digests_is_read_with_a_warning(tiny, caplog):  # noqa: F811
    """Decision (docs/RELIABILITY.md): accepted with a warning naming the file, not refused."""
    import h5py

    from g2rl.preprocess.batches import read_cache_keys
    from g2rl.preprocess.h5read import DIGEST_ATTR

    root, index, csvs = tiny
    crops = _crops(root, index, csvs)
    with h5py.File(crops, "r+") as f:
        del f.attrs[DIGEST_ATTR]
    with caplog.at_level(logging.WARNING):
        assert len(read_cache_keys(crops)) == 8
        assert len(read_cache_keys(crops)) == 8
    warnings = [r for r in caplog.records if "written before caches carried content digests" in r.getMessage()]
    assert len(warnings) == 1 and str(crops) in warnings[0].getMessage()  # once per process and file
