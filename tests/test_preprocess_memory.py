"""The in-memory cache path (g2rl.preprocess.memory): same values as the HDF5 DataLoader path."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader

from g2rl.errors import ConfigError
from g2rl.preprocess.dataset import CacheDataset
from g2rl.preprocess.memory import MemoryCache, batch_iterator, maybe_in_memory, wants_memory
from g2rl.training import train_fold
from g2rl.training.settings import TrainSettings
from test_preprocess_cache import tiny, tiny_caches  # noqa: F401  (fixtures reused from the cache tests)
from test_training_fakes import small_settings


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        x, y = torch.as_tensor(a[k]), torch.as_tensor(b[k])
        # exactly equal (NaN = unlabelled compared as equal), same dtype and shape
        torch.testing.assert_close(x, y, rtol=0, atol=0, equal_nan=True, msg=f"{k} differs")


@pytest.fixture
def caches(tiny_caches):  # noqa: F811
    return tiny_caches[1:]


@pytest.mark.parametrize("stored, layout", [(True, "per_au"), (False, "per_au"), (False, "per_point")],
                         ids=["stored heatmaps", "rendered per AU", "rendered per point"])
def test_memory_items_and_batches_equal_the_hdf5_path(caches, stored, layout):
    crops, heat = caches
    rows = [0, 1, 2, 5, 7]  # three runs of consecutive rows: 0-2, 5, 7
    ds = CacheDataset(crops, heat if stored else None, rows=rows, sigma=2.0, layout=layout)
    mem = MemoryCache.from_dataset(ds)
    assert len(mem) == len(ds) == 5
    assert mem.heatmaps.dtype == (torch.float16 if stored else torch.float32)
    for i in range(len(ds)):
        _same(mem[i], ds[i])
    order = torch.tensor([4, 0, 3, 1, 2])
    loader = DataLoader(ds, batch_size=2, sampler=order.tolist())
    got = list(batch_iterator(mem, order, 2))
    assert [len(b["row"]) for b in got] == [2, 2, 1]
    for a, b in zip(got, loader):
        _same(a, b)
    assert got[0]["row"].tolist() == [7, 0]


def test_memory_without_heatmaps_and_in_dataset_order(caches):
    crops, _ = caches
    ds = CacheDataset(crops, None, rows=[3, 4], sigma=None)
    mem = MemoryCache.from_dataset(ds)
    assert mem.heatmaps is None and "heatmaps" not in mem[0]
    (batch,) = list(batch_iterator(mem, None, 8))
    _same(batch, next(iter(DataLoader(ds, batch_size=8))))


def test_auto_holds_small_folds_only(caches):
    crops, heat = caches
    ds = CacheDataset(crops, heat, rows=[0, 1], sigma=2.0)
    # 2 rows: 64*64*3 image bytes + 3 float16 16x16 maps + landmarks, intensities, row each
    # (68, 2) float32 landmarks in crop and frame px
    assert ds.nbytes_in_memory() == 2 * (64 * 64 * 3 + 3 * 16 * 16 * 2 + 2 * 68 * 2 * 4 + 3 * 4 + 8)
    assert wants_memory(ds, "auto", 1.0) and not wants_memory(ds, "auto", 0.01)
    assert wants_memory(ds, "on", 0.0) and not wants_memory(ds, "off", 1e9)
    assert maybe_in_memory(ds, "auto", 0.01) is ds
    assert isinstance(maybe_in_memory(ds, "auto", 1.0), MemoryCache)
    assert not wants_memory(torch.utils.data.TensorDataset(torch.zeros(2)), "on", 1e9)  # only caches
    with pytest.raises(ConfigError, match="in_memory"):
        wants_memory(ds, "yes", 1.0)
    with pytest.raises(ConfigError, match="in_memory"):
        TrainSettings(in_memory="always")


@pytest.mark.parametrize("lambda_g", [0.0, 0.05], ids=["baseline", "g2rl"])
def test_training_is_the_same_from_memory_and_from_hdf5(caches, tmp_path, lambda_g):
    crops, heat = caches
    out = {}
    for mode in ("on", "off"):
        s = small_settings(epochs=2, batch_size=3, lambda_g=lambda_g, in_memory=mode, deconv_channels=(8, 8, 8),
                           allow_random_init=True)
        train_fold(crops, heat, "1", tmp_path / mode, s, seed=0, device="cpu")
        out[mode] = (pd.read_csv(tmp_path / mode / "train_log.csv"), pd.read_csv(tmp_path / mode / "predictions.csv"))
    log_on, pred_on = out["on"]
    log_off, pred_off = out["off"]
    losses = [c for c in log_on.columns if c.startswith("loss_")]
    pd.testing.assert_frame_equal(log_on[losses], log_off[losses], check_exact=True)
    pd.testing.assert_frame_equal(pred_on, pred_off, check_exact=True)
