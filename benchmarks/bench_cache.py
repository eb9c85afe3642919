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

``--digests N [N ...]`` measures only the content digests of the crops file's small datasets (issue
29; g2rl.preprocess.h5read): for a crops file of N rows (12 AUs, 2 points each; the datasets the
digests cover, without images, so DISFA's 130,815 rows fit anywhere), the CPU time to write them
(end of a build) and to verify them (first open in a process), best of ``--repeats``;
``--record FILE`` also writes the figures with the machine, the commit and the load.

    python benchmarks/bench_cache.py --digests 1000 130815 --record benchmarks/records/cache_digests_<date>.json
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
    ap.add_argument("--repeats", type=int, default=3, help="--fletcher32, --digests: best of this many runs per figure")
    ap.add_argument("--digests", type=int, nargs="+", metavar="N", help="only measure the content digests at N rows")
    ap.add_argument("--record", type=Path, default=None, help="--digests: also write the figures to this JSON file")
    args = ap.parse_args()
    if args.digests:
        measure_digests(args.digests, args.repeats, args.record)
        return
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


def measure_digests(sizes: list[int], repeats: int, record_path: Path | None) -> None:
    """CPU seconds to write and to verify the content digests of a crops file's small datasets at each size."""
    import h5py

    from g2rl.preprocess import h5read
    from g2rl.preprocess.cache import DIGESTED_DATASETS
    from g2rl.preprocess.h5write import h5_output, write_content_digests
    from record import Record  # benchmarks/record.py, beside this script

    rec = Record("cache_digests", {"sizes": sizes, "repeats": repeats})  # commit, machine, load as it starts
    rng = np.random.default_rng(0)
    k, points = len(DISFA_AUS), 2
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = Path(tmp) / f"crops_{n}.h5"
            with h5_output(path) as (f, _):  # the writer's own datasets: fletcher32 on the numeric ones
                text = h5py.string_dtype()
                f.create_dataset("landmarks", data=rng.uniform(0, 256, (n, 68, 2)).astype(np.float32))
                f.create_dataset("frame_landmarks", data=rng.uniform(0, 640, (n, 68, 2)).astype(np.float32))
                f.create_dataset("au_points", data=rng.uniform(0, 256, (n, k, points, 2)).astype(np.float32))
                f.create_dataset("intensities", data=rng.integers(0, 6, (n, k)).astype(np.float32))
                for col, value in (("subject", "SN001"), ("session", "LeftCamera"), ("split", "1"),
                                   ("landmark_source", "detected")):
                    f.create_dataset(col, data=np.full(n, value, object), dtype=text)
                for col in ("frame", "media_frame"):
                    f.create_dataset(col, data=np.arange(n, dtype=np.int64))
            nbytes = 0
            write_s = verify_s = math.inf
            for _ in range(repeats):
                with h5py.File(path, "r+") as f:
                    c0 = time.process_time()
                    write_content_digests(f, DIGESTED_DATASETS, path)
                    write_s = min(write_s, time.process_time() - c0)
                    nbytes = sum(f[name].id.get_storage_size() for name in DIGESTED_DATASETS)
                with h5py.File(path, "r") as f:
                    h5read._VERIFIED.clear()  # a fresh process: nothing verified yet
                    c0 = time.process_time()
                    h5read.verify_content_digests(f, path)
                    verify_s = min(verify_s, time.process_time() - c0)
            rows.append({"rows": n, "digested_mib": nbytes / 2**20, "write_cpu_s": write_s, "verify_cpu_s": verify_s})
            print(f"{n:>7} rows ({nbytes / 2**20:7.1f} MiB digested): write {write_s:.3f} s CPU, verify on open "
                  f"{verify_s:.3f} s CPU (best of {repeats})")
    if record_path:
        rec.data["settings"].update(aus=k, points_per_au=points)
        rec.data["results"] = {"figures": rows}
        rec.write(record_path.stem, out=record_path)


if __name__ == "__main__":
    main()
