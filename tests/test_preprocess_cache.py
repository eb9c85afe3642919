"""HDF5 crop and heatmap caches and the reader's validation, on a tiny generated dataset.

The landmarks CSVs are hand-made (no dlib), so these tests run fast and know the truth.
"""

import math
import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from g2rl.errors import G2RLError
from g2rl.media import VideoWriter, write_image
from g2rl.preprocess.align import TEMPLATE_256
from g2rl.preprocess.au_points import DEFAULT_AU_POINTS
from g2rl.preprocess.cache import build_crop_cache, build_heatmap_cache
from g2rl.preprocess.batches import IMAGENET_MEAN, IMAGENET_STD, open_cache_rows, read_cache_attrs, read_cache_keys
from g2rl.preprocess.heatmap_layout import render_layout
from g2rl.preprocess.heatmaps import HEATMAP_STRIDE, crop_to_heatmap
from g2rl.training.feed import BatchFeed, to_device
from g2rl.preprocess.heatmaps import decode_heatmaps
from g2rl.preprocess.landmarks import X_COLUMNS, Y_COLUMNS, write_landmarks_csv

AUS = ["AU06", "AU12", "AU25"]
S = 64


def _landmarks(n, success, offset=0.0):
    """A landmarks table: the same plausible face shifted by `offset` px per frame."""
    rng = np.random.default_rng(0)
    base = rng.uniform(60, 140, size=(68, 2))
    base[8], base[36], base[45] = [100, 170], [70, 80], [130, 80]
    rows = []
    for i in range(n):
        pts = base + offset * i
        ok = success[i]
        rows.append([i, ok, 2.0 if ok else np.nan, *(pts[:, 0] if ok else [np.nan] * 68),
                     *(pts[:, 1] if ok else [np.nan] * 68)])
    return pd.DataFrame(rows, columns=["frame", "success", "detector_score", *X_COLUMNS, *Y_COLUMNS])


@pytest.fixture
def tiny(tmp_path):
    """DISFA-like video sequence (8 frames, frames 3 and 4 without face; AU12 unlabelled in its first frames)
    + BP4D-like image sequence."""
    video = tmp_path / "SN001.avi"
    with VideoWriter(video, 10, (200, 200)) as w:
        for i in range(8):
            w.write(np.full((200, 200, 3), 20 * i, np.uint8))
    csv_v = tmp_path / "SN001.csv"
    write_landmarks_csv(_landmarks(8, [1, 1, 1, 0, 0, 0, 1, 1]), csv_v)
    imgs = []
    for i in range(3):
        p = tmp_path / f"img{i}.png"
        write_image(p, np.full((200, 200, 3), 50 + i, np.uint8))
        imgs.append(str(p))
    lm_i = _landmarks(3, [1, 1, 1])
    lm_i.insert(0, "file", imgs)
    csv_i = tmp_path / "F001_T1.csv"
    write_landmarks_csv(lm_i, csv_i)
    rows = []
    for f in [6, 1, 2, 3, 4, 7]:  # not sorted: the cache reads the video in order anyway
        rows.append(dict(dataset="disfa", subject="SN001", session="LeftCamera", frame=f + 1, media=str(video),
                         media_frame=f, split="1", AU06=f % 6, AU12=np.nan if f < 3 else 2.0, AU25=1.0))
    for i, p in enumerate(imgs):
        rows.append(dict(dataset="disfa", subject="F001", session="T1", frame=i, media=p, media_frame=0,
                         split="2", AU06=0.0, AU12=5.0, AU25=2.0))
    index = pd.DataFrame(rows)
    csvs = {("SN001", "LeftCamera"): csv_v, ("F001", "T1"): csv_i}
    return tmp_path, index, csvs


def _build(tmp_path, index, csvs, max_gap=1):
    out = tmp_path / "crops.h5"
    counts = build_crop_cache(index, csvs, out, S, AUS, DEFAULT_AU_POINTS, max_gap=max_gap, progress=False)
    return out, counts


@pytest.fixture
def tiny_caches(tiny):
    """The tiny dataset's crops cache and its sigma-2 heatmaps cache: (folder, crops.h5, heatmaps_s2.h5)."""
    root, index, csvs = tiny
    crops, _ = _build(root, index, csvs)
    heat = root / "heatmaps_s2.h5"
    build_heatmap_cache(crops, 2.0, heat)
    return root, crops, heat


def test_crop_cache_contents_and_counts(tiny):
    tmp_path, index, csvs = tiny
    out, counts = _build(tmp_path, index, csvs)
    # frames 3 (carried from 2) kept, 4 (2 away from 2 and 6) excluded with max_gap=1
    seq = counts["sequences"]["SN001/LeftCamera"]
    assert seq == {"detected": 4, "carried": 1, "missing": 1, "indexed": 6, "media_frames": 8, "media_frames_no_face": 3}
    assert counts["frames_written"] == 8 and counts["frames_excluded"] == 1
    with h5py.File(out) as f:
        assert f["images"].shape == (8, S, S, 3) and f["images"].chunks == (1, S, S, 3)
        assert f["au_points"].shape == (8, 3, 2, 2)
        np.testing.assert_allclose(f["landmarks"][0, [8, 36, 45]], TEMPLATE_256 * S / 256, atol=1e-4)
        assert list(f["media_frame"][:5]) == [1, 2, 3, 6, 7]  # video read in order
        assert list(f["landmark_source"].asstr()[:5]) == ["detected", "detected", "carried", "detected", "detected"]
        # frame grey level 20 * i survives the warp (inside the image) up to MJPG noise
        assert abs(float(f["images"][3][S // 2, S // 2, 0]) - 120) < 6
        inten = f["intensities"][...]
        assert inten[0, 0] == 1 and np.isnan(inten[0, 1]) and inten[5, 1] == 5
    keys = read_cache_keys(out)
    assert list(keys.columns) == ["subject", "session", "frame", "split"]
    assert keys["frame"].tolist()[:5] == [2, 3, 4, 7, 8] and keys["split"].tolist()[-1] == "2"
    attrs = read_cache_attrs(out)
    assert attrs["aus"] == AUS and attrs["crop_size"] == S and attrs["au_point_mapping"]["AU12"] == [[48], [54]]


def test_coverage_error_names_csv(tiny):
    tmp_path, index, csvs = tiny
    index.loc[0, "media_frame"] = 20  # beyond the 8-frame video / CSV
    with pytest.raises(G2RLError, match="SN001.csv.*video frame 20"):
        _build(tmp_path, index, csvs)


def test_no_face_sequence_is_error(tiny):
    tmp_path, index, csvs = tiny
    write_landmarks_csv(_landmarks(8, [0] * 8), csvs[("SN001", "LeftCamera")])
    with pytest.raises(G2RLError, match="no face"):
        _build(tmp_path, index, csvs)


def test_heatmaps_and_reader(tiny):
    tmp_path, index, csvs = tiny
    out, _ = _build(tmp_path, index, csvs)
    sigma = math.sqrt(0.5)
    hm = tmp_path / "hm.h5"
    build_heatmap_cache(out, sigma, hm)
    with h5py.File(hm) as f:
        assert f["heatmaps"].dtype == np.float16 and f["heatmaps"].shape == (8, 3, S // 4, S // 4)
        assert f["heatmaps"].chunks == (1, 3, S // 4, S // 4) and f["heatmaps"].compression == "gzip"
        assert f["heatmaps"].compression_opts == 1 and f["heatmaps"].fletcher32  # the cheapest inflate; checked
    stored = open_cache_rows(out, hm, in_memory="off")
    assert len(stored) == 8 and not stored.in_memory
    a = stored.batch([5, 0])
    assert a["row"].tolist() == [5, 0]
    assert a["image"].shape == (2, S, S, 3) and a["image"].dtype == torch.uint8
    assert a["heatmaps"].dtype == torch.float16 and a["heatmaps"].shape == (2, 3, S // 4, S // 4)
    # the stored maps are Eq. 1 rendered from the stored AU points
    with h5py.File(out) as f:
        points, intensity = f["au_points"][5], f["intensities"][5]
    fly = render_layout(crop_to_heatmap(points.astype(np.float64), HEATMAP_STRIDE), intensity, sigma, S // 4, "per_au", "eq1")
    torch.testing.assert_close(a["heatmaps"][0].float(), torch.from_numpy(fly).float(), atol=2e-3, rtol=2e-3)
    dec, _ = decode_heatmaps(a["heatmaps"][0].float(), sigma)
    torch.testing.assert_close(dec, torch.tensor([0.0, 5.0, 2.0]), atol=5e-3, rtol=0)
    assert torch.isnan(stored.batch([0])["intensity"][0, 1])
    # ImageNet normalisation on the device: undo it and compare with the raw pixels
    image = to_device(a, torch.device("cpu"))["image"][0]
    with h5py.File(out) as f:
        raw = f["images"][5].transpose(2, 0, 1) / 255.0
    mean, std = torch.tensor(IMAGENET_MEAN)[:, None, None], torch.tensor(IMAGENET_STD)[:, None, None]
    torch.testing.assert_close(image * std + mean, torch.from_numpy(raw).float(), atol=1e-5, rtol=0)
    assert "heatmaps" not in open_cache_rows(out, in_memory="off").batch([0])
    # 2 worker processes open the files lazily, each its own
    fresh = open_cache_rows(out, hm, in_memory="off")
    batches = list(BatchFeed(fresh, 4, workers=2).epoch(None))
    assert sorted(torch.cat([b["row"] for b in batches]).tolist()) == list(range(8))
    assert fresh.files._open_in is None  # the main process never opened the files


def test_reader_validation(tiny):
    tmp_path, index, csvs = tiny
    out, _ = _build(tmp_path, index, csvs)
    hm = tmp_path / "hm.h5"
    build_heatmap_cache(out, 1.0, hm)
    # truncated crops file
    trunc = tmp_path / "trunc.h5"
    data = out.read_bytes()
    trunc.write_bytes(data[: len(data) // 3])
    with pytest.raises(G2RLError, match="trunc.h5"):
        open_cache_rows(trunc)
    # heatmaps from another crops file (same content, new fingerprint) -> mismatch
    other = tmp_path / "other.h5"
    build_crop_cache(index, csvs, other, S, AUS, DEFAULT_AU_POINTS, max_gap=1, progress=False)
    with pytest.raises(G2RLError, match="hm.h5.*another crops file"):
        open_cache_rows(other, hm)
    # wrong N: drop a row from the heatmaps but keep the attributes
    wrong = tmp_path / "wrong.h5"
    shutil.copy(hm, wrong)
    with h5py.File(wrong, "r+") as f:
        data = f["heatmaps"][:-1]
        del f["heatmaps"]
        f.create_dataset("heatmaps", data=data)
    with pytest.raises(G2RLError, match="wrong.h5.*shape"):
        open_cache_rows(out, wrong)
    # wrong N in the crops file itself
    bad = tmp_path / "bad.h5"
    shutil.copy(out, bad)
    with h5py.File(bad, "r+") as f:
        f.attrs["n_frames"] = 9
    with pytest.raises(G2RLError, match="bad.h5"):
        read_cache_keys(bad)
    # sigma that disagrees with the heatmaps file
    with pytest.raises(G2RLError, match="sigma"):
        open_cache_rows(out, hm, sigma=2.0)


@pytest.mark.parametrize("mapping", [None, DEFAULT_AU_POINTS])
def test_heatmap_build_reads_the_crops_file_block_by_block(tiny_caches, tmp_path, monkeypatch, mapping):
    """Memory of the heatmap build must not grow with the dataset (the paper-scale rehearsal measured
    ~0.7 KB more per frame when it loaded every frame's points at once): every read from the crops file is
    at most one block of rows, and the maps equal those of a one-block build."""
    _, crops, _ = tiny_caches
    whole = tmp_path / "whole.h5"
    build_heatmap_cache(crops, 2.0, whole, mapping=mapping, block=10_000)
    reads = []
    original = h5py.Dataset.__getitem__

    def spy(self, key):
        if self.file.filename == str(crops) and self.name in ("/au_points", "/intensities", "/landmarks"):
            rows = original(self, key)
            reads.append((self.name, len(rows) if np.ndim(rows) else 1, key is Ellipsis))
            return rows
        return original(self, key)

    monkeypatch.setattr(h5py.Dataset, "__getitem__", spy)
    blocked = tmp_path / "blocked.h5"
    build_heatmap_cache(crops, 2.0, blocked, mapping=mapping, block=2)
    monkeypatch.undo()
    assert reads and all(n <= 2 and not whole_read for _, n, whole_read in reads)
    with h5py.File(whole) as a, h5py.File(blocked) as b:
        assert np.array_equal(a["heatmaps"][...], b["heatmaps"][...])


def test_crop_build_writes_sequence_by_sequence(tiny, monkeypatch):
    """Memory of the crop build must not grow with the dataset (the paper-scale rehearsal measured ~2 KB
    more per frame when every frame's landmarks, AU points and keys were held until the end): every
    per-frame dataset is created empty and written one sequence at a time, never from a whole array."""
    tmp_path, index, csvs = tiny
    out = tmp_path / "crops.h5"
    writes, created_with_data = [], []
    original_set, original_create = h5py.Dataset.__setitem__, h5py.Group.create_dataset

    def spy_set(self, key, value):
        if Path(self.file.filename).parent == tmp_path:  # the output, under its temporary name
            writes.append((self.name, len(np.asarray(value)) if np.ndim(value) and self.name != "/images" else 1))
        return original_set(self, key, value)

    def spy_create(self, name, shape=None, dtype=None, data=None, **kwargs):
        if data is not None:
            created_with_data.append(name)
        return original_create(self, name, shape, dtype, data, **kwargs)

    monkeypatch.setattr(h5py.Dataset, "__setitem__", spy_set)
    monkeypatch.setattr(h5py.Group, "create_dataset", spy_create)
    counts = build_crop_cache(index, csvs, out, S, AUS, DEFAULT_AU_POINTS, max_gap=1, progress=False)
    monkeypatch.undo()
    largest = max(c["indexed"] - c["missing"] for c in counts["sequences"].values())
    assert counts["frames_written"] > largest  # two sequences, so a whole-dataset write would show
    assert not created_with_data
    names = {name for name, _ in writes}
    assert {"/landmarks", "/frame_landmarks", "/au_points", "/intensities", "/subject", "/frame",
            "/landmark_source", "/images"} <= names
    assert all(rows <= largest for _, rows in writes), writes


def test_crop_build_refuses_landmarks_that_change_between_its_passes(tiny, monkeypatch):
    """The build reads each landmarks CSV twice (to plan, then to write); a CSV rewritten in between (another job
    on the same results folder) must stop the build naming the file, not write rows the plan did not count."""
    import g2rl.preprocess.cache as cache_module

    tmp_path, index, csvs = tiny
    calls = []
    original = cache_module.read_landmarks_csv

    def rewritten_after_planning(path):
        calls.append(path)
        table = original(path)
        if len(calls) > len(csvs) and "SN001" in str(path):  # the second pass: the video lost frame 2's face,
            table.loc[table["frame"] == 2, "success"] = 0     # so frame 3 is no longer within max_gap of one
        return table

    monkeypatch.setattr(cache_module, "read_landmarks_csv", rewritten_after_planning)
    out = tmp_path / "crops.h5"
    with pytest.raises(G2RLError, match=r"SN001\.csv: changed while the crops cache was being written \(SN001/LeftCamera\)"):
        build_crop_cache(index, csvs, out, S, AUS, DEFAULT_AU_POINTS, max_gap=1, progress=False)
    assert not out.exists()
