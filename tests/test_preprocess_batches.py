"""The batch data path (g2rl.preprocess.batches, g2rl.training.feed): whole batches as stored, from the
files or from memory, the same values as an independent per-row read; converted on the device exactly as
the per-sample numpy path did; training and predictions equal to the code before it (da21ea6)."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from g2rl.cli import main as g2rl_main
from g2rl.errors import ConfigError
from g2rl.preprocess.batches import IMAGENET_MEAN, IMAGENET_STD, open_cache_rows
from g2rl.training import train_fold
from g2rl.training.feed import BatchFeed, to_device
from test_preprocess_cache import tiny, tiny_caches  # noqa: F401  (fixtures reused from the cache tests)
from test_reliability_data import flip_chunk_bytes, one_error_line, train_args
from test_training_fakes import small_settings

GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.fixture
def caches(tiny_caches):  # noqa: F811
    return tiny_caches[1:]


def reference_rows(crops, heat, rows) -> dict[str, np.ndarray]:
    """The rows read one by one with h5py's plain indexing, and normalised per sample in numpy as the
    per-sample dataset of da21ea6 did: the independent reference for the batch path."""
    out = {"image": [], "heatmaps": [], "intensity": [], "landmarks": [], "frame_landmarks": []}
    with h5py.File(crops) as c, h5py.File(heat) as h:
        for r in rows:
            img = c["images"][r].transpose(2, 0, 1).astype(np.float32) / 255.0
            mean = np.asarray(IMAGENET_MEAN, np.float32)[:, None, None]
            std = np.asarray(IMAGENET_STD, np.float32)[:, None, None]
            out["image"].append((img - mean) / std)
            out["heatmaps"].append(h["heatmaps"][r].astype(np.float32))
            out["intensity"].append(c["intensities"][r])
            out["landmarks"].append(c["landmarks"][r])
            out["frame_landmarks"].append(c["frame_landmarks"][r])
    return {k: np.stack(v) for k, v in out.items()}


@pytest.mark.parametrize("in_memory", ["on", "off"])
def test_batches_equal_an_independent_per_row_read(caches, in_memory):
    crops, heat = caches
    served = [0, 1, 2, 5, 7]  # three runs of consecutive rows: 0-2, 5, 7
    rows = open_cache_rows(crops, heat, served, in_memory=in_memory)
    assert rows.in_memory == (in_memory == "on") and len(rows) == 5
    positions = [4, 0, 3, 1]  # not sorted: the batch keeps this order (the reads go in row order)
    raw = rows.batch(positions)
    assert raw["image"].dtype == torch.uint8 and raw["heatmaps"].dtype == torch.float16
    assert raw["row"].tolist() == [7, 0, 5, 1]
    got = to_device(raw, torch.device("cpu"))
    ref = reference_rows(crops, heat, [7, 0, 5, 1])
    for key, want in ref.items():
        # the same float32 operations in the same order: equal to the bit (NaN = unlabelled equal too)
        torch.testing.assert_close(got[key], torch.from_numpy(want), rtol=0, atol=0, equal_nan=True, msg=key)
    # channels_last changes the layout, not a value
    cl = to_device(raw, torch.device("cpu"), channels_last=True)["image"]
    assert cl.is_contiguous(memory_format=torch.channels_last) and torch.equal(cl, got["image"])


def test_feed_orders_and_workers_give_the_same_batches(caches):
    crops, heat = caches
    on, off = open_cache_rows(crops, heat, in_memory="on"), open_cache_rows(crops, heat, in_memory="off")
    order = torch.tensor([6, 2, 7, 0, 3, 1, 5, 4])
    a = list(BatchFeed(on, 3).epoch(order))
    b = list(BatchFeed(off, 3).epoch(order))
    assert [len(x["row"]) for x in a] == [3, 3, 2] and a[0]["row"].tolist() == [6, 2, 7]
    for x, y in zip(a, b):
        for key in x:
            assert torch.equal(x[key].nan_to_num(), y[key].nan_to_num()), key
    # 2 workers, batches of one: 16 batches over 2 epochs through 2 x 2 + 2 = 6 slots of shared memory,
    # each used (converted, as the training step does) before the one after next is asked for
    feed = BatchFeed(off, 1, workers=2)
    for epoch_order in (order, order.flip(0)):  # the persistent workers serve the next epoch's order
        got = [to_device(x, torch.device("cpu")) for x in feed.epoch(epoch_order)]
        want = [to_device(on.batch([int(i)]), torch.device("cpu")) for i in epoch_order]
        assert torch.cat([x["row"] for x in got]).tolist() == epoch_order.tolist()
        for x, y in zip(got, want):
            assert torch.equal(x["image"], y["image"]) and torch.equal(x["heatmaps"], y["heatmaps"])
    feed.close()
    # a fold held in memory is sliced in the main process: no workers are started for it
    assert BatchFeed(on, 3, workers=2).workers == 0


def test_read_ahead_reads_each_rows_chunks_as_hdf5_stores_them(caches, monkeypatch):
    """The read-ahead threads read each announced row's chunk (offset, size) of the crops file and of the
    heatmaps file, and nothing else; the call returns without waiting for them."""
    crops, heat = caches
    rows = open_cache_rows(crops, heat, in_memory="off")
    want = {}
    for path, name in ((crops, "images"), (heat, "heatmaps")):
        with h5py.File(path) as f:
            info = [f[name].id.get_chunk_info(i) for i in range(8)]
            want[os.path.realpath(path)] = [(c.byte_offset, c.size) for c in info]
    asked, real = [], os.pread
    def spy(fd, size, offset):
        asked.append((os.path.realpath(f"/proc/self/fd/{fd}"), offset, size))
        return real(fd, size, offset)
    monkeypatch.setattr("os.pread", spy)
    rows.advise(np.array([5, 1]))
    ahead = rows.files.advise
    ahead._pool.shutdown(wait=True)
    assert sorted(asked) == sorted((p, *want[p][r]) for p in want for r in (1, 5))
    # a worker process gets neither the threads nor the descriptors: it makes its own if it is asked
    clone = pickle.loads(pickle.dumps(ahead))
    assert clone._pool is None and clone._fds == [] and len(clone.files) == 2


def test_feed_announces_batches_ahead_of_the_one_it_reads(caches):
    """Without workers the training process reads the batches itself: each is announced READ_AHEAD_BATCHES
    batches before it is read, so the read-ahead threads have requests in flight on a cold cache."""
    from g2rl.training.feed import READ_AHEAD_BATCHES

    crops, heat = caches
    rows = open_cache_rows(crops, heat, in_memory="off")
    events = []
    rows.advise = lambda positions: events.append(("advise", tuple(positions.tolist())))
    real_batch = rows.batch
    rows.batch = lambda positions, **kw: events.append(("read", tuple(np.asarray(positions).tolist()))) or real_batch(positions, **kw)
    feed = BatchFeed(rows, 1, workers=0)
    assert [int(b["row"][0]) for b in feed.epoch(np.arange(8))] == list(range(8))
    for i in range(8):  # batch i is announced before batch i - READ_AHEAD_BATCHES is read, and only once
        assert events.count(("advise", (i,))) == 1
        assert events.index(("advise", (i,))) < events.index(("read", (max(i - READ_AHEAD_BATCHES, 0),)))


def test_auto_holds_small_folds_only(caches):
    crops, heat = caches
    rows = open_cache_rows(crops, heat, [0, 1], in_memory="off")
    # 2 rows of a 64 x 64 x 3 uint8 image and 3 float16 maps of 16 x 16
    assert rows.nbytes_large() == 2 * (64 * 64 * 3 + 3 * 16 * 16 * 2)
    assert open_cache_rows(crops, heat, [0, 1], in_memory="auto", max_mb=1.0).in_memory
    assert not open_cache_rows(crops, heat, [0, 1], in_memory="auto", max_mb=0.01).in_memory
    with pytest.raises(ConfigError, match="in_memory"):
        open_cache_rows(crops, heat, in_memory="yes")


@pytest.mark.parametrize("lambda_g", [0.0, 0.05], ids=["baseline", "g2rl"])
def test_training_equals_da21ea6_and_is_the_same_from_memory_and_from_files(caches, tmp_path, lambda_g):
    """Same seed, same tiny cache: the losses and predictions of the code before the batch path (recorded
    at da21ea6 with one torch thread, tests/golden/) within float tolerance, and memory = files exactly."""
    crops, heat = caches
    torch.set_num_threads(1)
    out = {}
    for mode in ("on", "off"):
        s = small_settings(epochs=2, batch_size=2, lambda_g=lambda_g, in_memory=mode, deconv_channels=(8, 8, 8),
                           allow_random_init=True)
        train_fold(crops, heat, "1", tmp_path / mode, s, seed=0, device="cpu")
        out[mode] = (pd.read_csv(tmp_path / mode / "train_log.csv"), pd.read_csv(tmp_path / mode / "predictions.csv"))
    (log_on, pred_on), (log_off, pred_off) = out["on"], out["off"]
    losses = [c for c in log_on.columns if c.startswith("loss_")]
    pd.testing.assert_frame_equal(log_on[losses], log_off[losses], check_exact=True)
    pd.testing.assert_frame_equal(pred_on, pred_off, check_exact=True)
    name = "baseline" if lambda_g == 0 else "g2rl"
    old_log = pd.read_csv(GOLDEN / f"da21ea6_tiny_{name}_train_log.csv")
    old_pred = pd.read_csv(GOLDEN / f"da21ea6_tiny_{name}_predictions.csv")
    pd.testing.assert_frame_equal(log_off[losses], old_log[losses], check_exact=False, rtol=1e-4, atol=1e-6)
    pd.testing.assert_frame_equal(pred_off, old_pred, check_exact=False, rtol=1e-4, atol=1e-5)


def test_a_damaged_chunk_read_by_a_worker_is_one_line(caches, tmp_path, capsys):
    """Issue 29.12: the error a worker process meets reaches the CLI as it is, one line naming the file,
    not as "Caught G2RLError in DataLoader worker process 0" and the worker's traceback."""
    crops, heat = caches
    flip_chunk_bytes(crops, "images", 7)  # a training row (split 2)
    rc = g2rl_main(train_args(crops, heat, tmp_path / "run", "--in-memory", "off", "--num-workers", "1"))
    line = one_error_line(capsys, rc)
    assert line.startswith(f"g2rl train: error: {crops}: cannot read 'images' row 7") and "the file is damaged" in line
    assert "Caught" not in line and "worker" not in line
