"""Cache build time per 1,000 frames and cache read throughput with 2 worker processes.

    python benchmarks/bench_cache.py --frames 1000 --crop-size 256

Builds, in a temporary folder, a demo-like 640x360 video (real photographs moving; see
bench_landmarks.py), its landmarks (fast path; not part of the cache timing), a frame index with
the 12 DISFA AUs, then times build_crop_cache, build_heatmap_cache with each compression
(size on disk too), and reading every sample in shuffled whole batches of 16 by 2 worker processes
(g2rl.training.feed.BatchFeed, the training path) with each compression of the heatmaps.

``--fletcher32`` then compares the caches with and without HDF5's per-chunk checksums (the
default since issue 20): build times, file sizes, DataLoader reads and the in-memory path's one
slice read, each the best of ``--repeats`` runs (the host is shared).
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

DISFA_AUS = ["AU01", "AU02", "AU04", "AU05", "AU06", "AU09", "AU12", "AU15", "AU17", "AU20", "AU25", "AU26"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--crop-size", type=int, default=256)
    ap.add_argument("--sigma", type=float, default=2.0)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--fletcher32", action="store_true", help="also compare caches with and without checksums")
    ap.add_argument("--repeats", type=int, default=3, help="--fletcher32: best of this many runs per figure")
    args = ap.parse_args()
    import torch

    from bench_landmarks import demo_like_video
    from g2rl.preprocess.au_points import DEFAULT_AU_POINTS
    from g2rl.preprocess.cache import build_crop_cache, build_heatmap_cache
    from g2rl.preprocess.landmarks import LandmarkDetector, write_landmarks_csv

    print(f"host: {os.cpu_count()} cores (shared with other jobs); torch threads {torch.get_num_threads()}")
    print(f"settings: {args.frames} frames 640x360 -> crops {args.crop_size}, {len(DISFA_AUS)} AUs, "
          f"sigma {args.sigma}, DataLoader workers 2, batch {args.batch_size}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        video = demo_like_video(tmp / "v.avi", n_frames=args.frames)
        lm = LandmarkDetector().video(video, progress=False)
        csv = tmp / "lm.csv"
        write_landmarks_csv(lm, csv)
        rng = np.random.default_rng(0)
        index = pd.DataFrame({"dataset": "disfa", "subject": "SN001", "session": "LeftCamera",
                              "frame": np.arange(args.frames) + 1, "media": str(video),
                              "media_frame": np.arange(args.frames), "split": "1",
                              **{au: rng.integers(0, 6, args.frames).astype(float) for au in DISFA_AUS}})
        crops = tmp / "crops.h5"
        t0 = time.perf_counter()
        build_crop_cache(index, {("SN001", "LeftCamera"): csv}, crops, args.crop_size, DISFA_AUS,
                         DEFAULT_AU_POINTS, max_gap=5, log=lambda s: None, progress=False)
        dt = time.perf_counter() - t0
        print(f"crop cache: {dt:.2f} s for {args.frames} frames = {1000 * dt / args.frames:.2f} s per 1,000 frames "
              f"(decode + align + write); {crops.stat().st_size / 2**20:.1f} MiB")
        heat = {}
        for comp in ["lzf", "gzip", None]:
            out = tmp / f"hm_{comp}.h5"
            t0 = time.perf_counter()
            build_heatmap_cache(crops, args.sigma, out, compression=comp, log=lambda s: None)
            dt = time.perf_counter() - t0
            heat[comp] = out
            print(f"heatmap cache ({comp}): {1000 * dt / args.frames:.2f} s per 1,000 frames; "
                  f"{out.stat().st_size / 2**20:.2f} MiB")
        for name, comp in [("stored heatmaps (lzf)", "lzf"), ("stored heatmaps (gzip)", "gzip"),
                           ("stored heatmaps (none)", None)]:
            t0 = time.perf_counter()
            n = read_pass(crops, heat[comp], args.batch_size)
            dt = time.perf_counter() - t0
            print(f"read, {name}: {n / dt:7.0f} samples/s ({n} samples, shuffled, incl. worker start-up)")
        if args.fletcher32:
            compare_checksums(index, csv, tmp, args)


def read_pass(crops: Path, heat: Path, batch_size: int, workers: int = 2) -> int:
    """Read every row once in a shuffled order, whole batches by ``workers`` processes; rows read."""
    from g2rl.preprocess.batches import open_cache_rows
    from g2rl.training.feed import BatchFeed

    rows = open_cache_rows(crops, heat, in_memory="off")
    feed = BatchFeed(rows, batch_size, workers)
    n = sum(len(b["row"]) for b in feed.epoch(np.random.default_rng(0).permutation(len(rows))))
    feed.close()
    return n


def _timed(fn) -> float:
    """Wall-clock seconds of one call of ``fn()``."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def compare_checksums(index: pd.DataFrame, csv: Path, tmp: Path, args) -> None:
    """Build and read the caches with fletcher32 off and on (the default), the two interleaved run by
    run so that a busy moment of the shared host hits both; print the best run of each figure."""
    from unittest import mock

    from g2rl.preprocess import h5write
    from g2rl.preprocess.au_points import DEFAULT_AU_POINTS
    from g2rl.preprocess.batches import open_cache_rows
    from g2rl.preprocess.cache import build_crop_cache, build_heatmap_cache

    n = len(index)
    no_checksums = lambda dtype: {}  # noqa: E731
    best: dict[tuple[str, str], float] = {}

    def record(key, seconds):
        best[key] = min(best.get(key, math.inf), seconds)

    for _ in range(args.repeats):
        for label, options in (("off", no_checksums), ("on", h5write.checksum_options)):
            crops, heat = tmp / f"crops_{label}.h5", tmp / f"hm_{label}.h5"
            with mock.patch.object(h5write, "checksum_options", options):
                record((label, "crops"), _timed(lambda: build_crop_cache(
                    index, {("SN001", "LeftCamera"): csv}, crops, args.crop_size, DISFA_AUS, DEFAULT_AU_POINTS,
                    max_gap=5, log=lambda s: None, progress=False)))
                record((label, "heatmaps"), _timed(lambda: build_heatmap_cache(crops, args.sigma, heat,
                                                                               log=lambda s: None)))
            record((label, "loader"), _timed(lambda: read_pass(crops, heat, args.batch_size)))
            record((label, "memory"), _timed(lambda: open_cache_rows(crops, heat, in_memory="on")))
    print(f"fletcher32 off / on, {n} frames at S = {args.crop_size}, best of {args.repeats} interleaved runs:")
    figures = [("crop cache build, s per 1,000 frames", "crops", lambda t: 1000 * t / n),
               ("heatmap cache build (lzf), s per 1,000 frames", "heatmaps", lambda t: 1000 * t / n),
               ("batch read (2 workers, incl. start-up), samples/s", "loader", lambda t: n / t),
               ("in-memory path (one slice per run of rows), ms", "memory", lambda t: 1000 * t)]
    for name, key, unit in figures:
        off, on = unit(best[("off", key)]), unit(best[("on", key)])
        print(f"  {name}: {off:.3f} / {on:.3f} ({100 * (on / off - 1):+.1f} %)")
    for name in ("crops", "hm"):
        off, on = ((tmp / f"{name}_{label}.h5").stat().st_size / 2**20 for label in ("off", "on"))
        print(f"  {name} file, MiB: {off:.3f} / {on:.3f} ({100 * (on / off - 1):+.2f} %)")


if __name__ == "__main__":
    main()
