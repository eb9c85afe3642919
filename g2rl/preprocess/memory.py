"""A small cache held in memory as tensors, served as whole batches (no DataLoader, no per-item work).

For a cache fold of a few hundred MB or less (the demo's is ~8 MB), reading every row once and
slicing batches out of tensors replaces per-item HDF5 reads, per-item numpy normalisation and the
collate step. The batches are the same values a DataLoader over :class:`CacheDataset` yields with
the same sample order (tests/test_preprocess_memory.py), so training results do not depend on the
path. Larger caches keep the DataLoader, whose worker processes overlap reading with training.

The choice (``in_memory`` auto | on | off, ``in_memory_max_mb``) is made by :func:`maybe_in_memory`;
:func:`batch_iterator` gives the training and prediction loops one way to iterate either kind.
"""

from __future__ import annotations

import logging
from typing import Iterable, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from g2rl.errors import ConfigError
from g2rl.preprocess.dataset import IMAGENET_MEAN, IMAGENET_STD, CacheDataset

_log = logging.getLogger(__name__)

IN_MEMORY_MODES = ("auto", "on", "off")


class MemoryCache(Dataset):
    """The rows of a cache as tensors: images uint8 (N, S, S, 3), heatmaps (N, C, S/4, S/4) as stored
    (float16) or rendered (float32), intensities float32 (N, K) NaN = unlabelled, landmarks float32
    (N, 68, 2) crop px, frame_landmarks (N, 68, 2) original frame px when the cache has them, rows
    int64 (N,). Items and batches have :class:`CacheDataset`'s format."""

    def __init__(self, arrays: dict[str, np.ndarray], normalize: bool = True) -> None:
        self.images = torch.from_numpy(np.ascontiguousarray(arrays["images"]))
        self.heatmaps = torch.from_numpy(arrays["heatmaps"]) if "heatmaps" in arrays else None
        self.intensities = torch.from_numpy(arrays["intensities"])
        self.landmarks = torch.from_numpy(arrays["landmarks"])
        fl = arrays.get("frame_landmarks")
        self.frame_landmarks = None if fl is None else torch.from_numpy(fl)
        self.rows = torch.from_numpy(np.asarray(arrays["rows"], np.int64))
        self.normalize = normalize
        self._mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32)[:, None, None]
        self._std = torch.tensor(IMAGENET_STD, dtype=torch.float32)[:, None, None]

    @classmethod
    def from_dataset(cls, ds: CacheDataset) -> "MemoryCache":
        """Read every row ``ds`` serves (one HDF5 slice per run of consecutive rows)."""
        return cls(ds.read_arrays(), normalize=ds.normalize)

    @property
    def nbytes(self) -> int:
        parts = [self.images, self.intensities, self.landmarks, self.rows]
        parts += [t for t in (self.heatmaps, self.frame_landmarks) if t is not None]
        return sum(t.numel() * t.element_size() for t in parts)

    def __len__(self) -> int:
        return len(self.rows)

    def batch(self, idx: torch.Tensor) -> dict:
        """Positions ``idx`` (B,) -> the collated batch a DataLoader would give: image float32
        (B, 3, S, S) normalised as in CacheDataset (same float32 operations, so equal values),
        heatmaps float32, intensity (B, K), landmarks (B, 68, 2), row int64 (B,)."""
        img = self.images[idx].permute(0, 3, 1, 2).contiguous().to(torch.float32) / 255.0
        if self.normalize:
            img = (img - self._mean) / self._std
        out = {
            "image": img,
            "intensity": self.intensities[idx],
            "landmarks": self.landmarks[idx],
            "row": self.rows[idx],
        }
        if self.heatmaps is not None:
            out["heatmaps"] = self.heatmaps[idx].to(torch.float32)
        if self.frame_landmarks is not None:
            out["frame_landmarks"] = self.frame_landmarks[idx]
        return out

    def __getitem__(self, i: int) -> dict:
        item = self.batch(torch.tensor([int(i)]))
        item = {k: v[0] for k, v in item.items()}
        item["row"] = int(item["row"])
        return item

    def batches(self, order: Iterable[int] | torch.Tensor | None, batch_size: int) -> Iterator[dict]:
        """Batches of ``batch_size`` in ``order`` (positions; None = 0..N-1), the last one shorter."""
        order = torch.arange(len(self)) if order is None else torch.as_tensor(order, dtype=torch.int64)
        for idx in order.split(batch_size):
            yield self.batch(idx)


def wants_memory(ds: Dataset, mode: str, max_mb: float) -> bool:
    """Whether ``ds`` should be held in memory: mode on / off, or auto = a CacheDataset whose rows
    take at most ``max_mb`` MiB as stored (images uint8, heatmaps float16)."""
    if mode not in IN_MEMORY_MODES:
        raise ConfigError(f"in_memory must be one of {IN_MEMORY_MODES}, got {mode!r}")
    if mode == "off" or not isinstance(ds, CacheDataset):
        return False
    return mode == "on" or ds.nbytes_in_memory() <= max_mb * 2**20


def maybe_in_memory(ds: Dataset, mode: str, max_mb: float, what: str = "data") -> Dataset:
    """``ds`` as a :class:`MemoryCache` when :func:`wants_memory` says so, else ``ds`` unchanged.
    Logs the choice and its size, so a run's log says which path fed it."""
    if not wants_memory(ds, mode, max_mb):
        if isinstance(ds, CacheDataset):
            _log.info("%s: %d rows read from HDF5 per batch (%.0f MiB > in_memory_max_mb %g, or in_memory off)",
                      what, len(ds), ds.nbytes_in_memory() / 2**20, max_mb)  # fmt: skip
        return ds
    mem = MemoryCache.from_dataset(ds)
    _log.info("%s: %d rows held in memory (%.1f MiB)", what, len(mem), mem.nbytes / 2**20)
    return mem


def batch_iterator(
    ds: Dataset,
    order: torch.Tensor | None,
    batch_size: int,
    num_workers: int = 0,
    generator: torch.Generator | None = None,
    pin_memory: bool = False,
    worker_init_fn=None,
) -> Iterable[dict]:
    """Collated batches of ``ds`` in ``order`` (None = dataset order): sliced from a MemoryCache,
    or from a DataLoader (with ``num_workers`` processes) over any other Dataset."""
    if isinstance(ds, MemoryCache):
        return ds.batches(order, batch_size)
    sampler = None if order is None else order.tolist()
    return DataLoader(
        ds, batch_size=batch_size, sampler=sampler, shuffle=False, num_workers=num_workers,
        worker_init_fn=worker_init_fn, generator=generator, pin_memory=pin_memory,
    )  # fmt: skip
