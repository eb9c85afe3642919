"""Feeding the device: batches of a :class:`g2rl.preprocess.batches.RowBatches` in a given order, and
their conversion on the device.

:class:`BatchFeed` reads the batches in the main process (rows held in memory, or ``workers`` = 0) or in
DataLoader worker processes that each read whole batches (``workers`` > 0). The workers persist from
epoch to epoch; each keeps up to ``PREFETCH`` batches ready, written into slots of shared memory made
once (a fresh shared buffer per batch would cost more CPU than the read). A worker that meets bad input
(a damaged chunk, a file replaced meanwhile) hands the error back as it is, so the run ends with the
same one line (``g2rl train: error: <file>: <reason>``) as without workers, not with the worker's
traceback.

:func:`to_device` turns a batch as stored (uint8 images, float16 heatmaps) into the model's inputs on the
device: ``image`` float32 (B, 3, S, S) normalised with :data:`IMAGENET_MEAN` / :data:`IMAGENET_STD`,
``heatmaps`` float32 (B, C, S/4, S/4), the small fields as they are; ``row`` stays on the host.
"""

from __future__ import annotations

import time
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from g2rl.errors import G2RLError
from g2rl.preprocess.batches import IMAGENET_MEAN, IMAGENET_STD, torch_dtype

# batches each worker keeps ready: one being used while the next is read
PREFETCH = 2
# batches announced ahead of the one read when the training process reads them itself, so the read-ahead
# threads keep requests in flight on a cold cache (one process on a 27 GB cache, 256 px rows, batch 16:
# 4 ahead 1,372 samples/s, 8 ahead 1,448; docs/PERFORMANCE.md, "Loader and GPU readiness")
READ_AHEAD_BATCHES = 8


class _Failure:
    """Bad input met in a worker, carried back to the main process as the error object itself."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _Arena:
    """Shared memory for the batches between the workers and the training loop: ``slots`` x (batch, *row
    shape) per large field (images, heatmaps), made once, before the workers start (they inherit it).

    Why: a new shared-memory buffer per batch (a fresh segment and its page faults) cost more CPU than
    reading the sample into it, when prototyped for issue 27. The slots are reused in
    turn; :class:`_EpochOrder` gives each batch the slot of the batch ``slots`` before it, which the
    training loop has finished with by then (see there)."""

    def __init__(self, large: dict, batch_size: int, slots: int) -> None:
        self.slots = slots
        self.buffers = {f: torch.empty((slots, batch_size, *shape), dtype=torch_dtype(dtype)).share_memory_()
                        for f, (shape, dtype) in large.items()}

    def views(self, slot: int, n: int) -> dict[str, torch.Tensor]:
        return {f: b[slot, :n] for f, b in self.buffers.items()}


class _Batches(Dataset):
    """DataLoader view of a RowBatches: item (positions, slot) -> that batch, its images and heatmaps in
    the arena's slot, the small fields (a few KB) sent back as they are."""

    def __init__(self, source, arena: _Arena) -> None:
        self.source, self.arena = source, arena

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, task):
        positions, slot = task
        try:
            batch = self.source.batch(positions, out=self.arena.views(slot, len(positions)))
        except (G2RLError, OSError) as exc:  # bad input: one line in the main process, as without workers
            return _Failure(exc)
        return slot, {k: v.numpy() for k, v in batch.items() if k not in self.arena.buffers}


class _EpochOrder(Sampler):
    """The current epoch's batches as (positions, slot); the workers persist from epoch to epoch.

    The DataLoader asks for the next task when it hands a batch to the training loop, and keeps
    workers x PREFETCH tasks out; so when batch j + slots is dispatched, the loop has received batch
    j + 2 and is done with batch j (its step has consumed it: the conversion to the model's input
    copies the images and maps out of the slot). ``slots`` = workers x PREFETCH + 2 is therefore the
    fewest that never overwrite a batch in use."""

    def __init__(self, slots: int, advise) -> None:
        self.slots, self.count, self.advise = slots, 0, advise
        self.batches: list[np.ndarray] = []

    def __iter__(self):
        for positions in self.batches:
            slot, self.count = self.count % self.slots, self.count + 1
            self.advise(positions)  # the disk starts on it now, while the workers read the batches before it
            yield positions, slot

    def __len__(self) -> int:
        return len(self.batches)


def _as_is(task):
    return task


class BatchFeed:
    """Batches of ``source`` (a RowBatches) of ``batch_size`` in each epoch's order.

    ``workers``: DataLoader worker processes (ignored for rows held in memory, which are sliced in the
    main process); ``pin``: page-locked batches for an asynchronous copy to a CUDA device. ``waited``:
    seconds the caller has spent waiting for batches, over all epochs.
    """

    def __init__(self, source, batch_size: int, workers: int = 0, pin: bool = False) -> None:
        self.source, self.batch_size, self.pin = source, int(batch_size), bool(pin)
        self.workers = 0 if source.in_memory else int(workers)
        self.waited = 0.0
        self._loader = None
        if self.workers:
            slots = self.workers * PREFETCH + 2
            self._arena = _Arena(source.large, self.batch_size, slots)
            self._order = _EpochOrder(slots, source.advise)
            self._loader = DataLoader(
                _Batches(source, self._arena), sampler=self._order, batch_size=None, collate_fn=_as_is,
                num_workers=self.workers, persistent_workers=True, prefetch_factor=PREFETCH,
                generator=torch.Generator().manual_seed(0),  # the workers' seeds; the global RNG stays untouched
            )  # fmt: skip

    def epoch(self, order=None) -> Iterator[dict]:
        """The batches of positions ``order`` (a tensor or array; None = 0..N-1), the last one shorter.

        With workers, a batch's ``image`` and ``heatmaps`` are views of shared memory that a later batch
        reuses: use them (to_device copies them) before asking for the batch after next."""
        order = np.arange(len(self.source)) if order is None else np.asarray(order, dtype=np.int64)
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if self._loader is not None:
            self._order.batches = batches
            return self._timed(self._received(item) for item in self._loader)
        return self._timed(self._in_process(batches))

    def _timed(self, batches: Iterator[dict]) -> Iterator[dict]:
        while True:
            t0 = time.perf_counter()
            batch = next(batches, None)
            self.waited += time.perf_counter() - t0
            if batch is None:
                return
            yield batch

    def _received(self, item) -> dict:
        """A worker's answer -> the batch (views of the arena's slot, or page-locked copies of them)."""
        if isinstance(item, _Failure):
            raise item.exc
        slot, small = item
        batch = {k: torch.from_numpy(v) for k, v in small.items()}
        batch.update(self._arena.views(slot, len(batch["row"])))
        if self.pin:  # page-locked copies: the slot is free at once, and the copy to the device is asynchronous
            batch = {k: v if k == "row" else torch.empty_like(v, pin_memory=True).copy_(v) for k, v in batch.items()}
        return batch

    def _in_process(self, batches: list[np.ndarray]) -> Iterator[dict]:
        for positions in batches[:READ_AHEAD_BATCHES]:
            self.source.advise(positions)
        for i, positions in enumerate(batches):
            if i + READ_AHEAD_BATCHES < len(batches):  # its chunks load while the batches before it are used
                self.source.advise(batches[i + READ_AHEAD_BATCHES])
            yield self.source.batch(positions, pin=self.pin)

    def describe(self) -> str:
        """Where the batches come from, for the run's log."""
        where = "rows held in memory" if self.source.in_memory else "HDF5, whole batches"
        if getattr(self.source, "renderer", None) is not None:
            where += ", target maps rendered on the device from the AU points"
        return (f"{len(self.source)} rows, {where}, batch {self.batch_size}, "
                f"{self.workers} worker process{'es' if self.workers != 1 else ''}"
                + (f" (persistent, {PREFETCH} batches ready each, {self.workers * PREFETCH + 2} slots of shared "
                   "memory)" if self.workers else " (reading in the main process)"))

    def close(self) -> None:
        """Let the worker processes go: the DataLoader's iterator stops them when it is freed."""
        self._loader = None


_NORMALISATION: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}


def _mean_std(dev: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """ImageNet mean and std, (3, 1, 1) float32 on ``dev``, made once per device (a new tensor from
    Python values would be a blocking host-to-device copy at every step)."""
    if dev not in _NORMALISATION:
        _NORMALISATION[dev] = tuple(torch.tensor(v, dtype=torch.float32)[:, None, None].to(dev)
                                    for v in (IMAGENET_MEAN, IMAGENET_STD))
    return _NORMALISATION[dev]


def to_device(batch: dict, dev: torch.device, channels_last: bool = False, renderer=None) -> dict:
    """A batch as stored -> the model's inputs on ``dev`` (module docstring). The uint8 images cross to the
    device as they are (a quarter of float32's bytes) and become float there; permuting (B, S, S, 3) to
    (B, 3, S, S) gives channels_last's layout for free, a copy (of bytes) only when it is off. The
    arithmetic is the same float32 operations, in the same order, as a per-sample numpy version:
    (x / 255 - mean) / std. A batch that carries ``au_centres`` instead of ``heatmaps`` gets its maps
    rendered on ``dev`` by ``renderer`` (its RowBatches' :class:`g2rl.preprocess.map_renderer.MapRenderer`)."""
    out = {k: v.to(dev, non_blocking=True) for k, v in batch.items() if k != "row"}
    if "au_centres" in out:
        if renderer is None:
            raise ValueError("a batch with au_centres needs its RowBatches' renderer to make its target maps")
        out["heatmaps"] = renderer.render(out.pop("au_centres"), out["intensity"])
    out["row"] = batch["row"]
    image = out["image"].permute(0, 3, 1, 2)
    image = image.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    mean, std = _mean_std(dev)
    out["image"] = (image.to(torch.float32) / 255.0 - mean) / std
    if "heatmaps" in out:
        out["heatmaps"] = out["heatmaps"].to(torch.float32)
    return out
