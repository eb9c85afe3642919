"""Loader throughput and cost per sample: how many DataLoader workers a GPU at a given img/s needs.

    python benchmarks/bench_loader.py --crops C.h5 --heatmaps H.h5 --workers 0 1 2 --samples 960

On the cache given (build one at 256 px with benchmarks/gpu_check.sh's first step, or use the demo's),
it reads ``--samples`` shuffled samples in batches of 16 through:
  * a DataLoader over CacheDataset with 0, 1, 2, ... worker processes (the training path for large
    caches): wall samples/s, and with 0 workers the CPU time per sample (process time, which other
    jobs on a shared machine barely change): that CPU cost is what each worker pays per sample;
  * the same with heatmaps rendered from the stored AU points instead of read (heatmaps file unused);
  * batches cut from MemoryCache tensors (the small-cache path), set-up time included separately;
  * Eq. 1 rendered for a whole batch with torch on ``--device`` from the points (what rendering on the
    GPU would cost), checked against g2rl.preprocess.heatmaps.render_heatmaps.
Then: workers needed = GPU img/s x CPU s per sample, x 1.5 for headroom, for a few GPU speeds.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from g2rl.preprocess.dataset import CacheDataset
from g2rl.preprocess.heatmaps import HEATMAP_STRIDE, crop_to_heatmap, render_heatmaps
from g2rl.preprocess.memory import MemoryCache, batch_iterator


def torch_render(points: torch.Tensor, intensity: torch.Tensor, sigma: float, size: int) -> torch.Tensor:
    """Batched Eq. 1 as in render_heatmaps: points (B, K, P, 2) heatmap px (NaN = padding),
    intensity (B, K) (NaN = unlabelled -> 0) -> (B, K, size, size) float32."""
    valid = torch.isfinite(points).all(-1)
    centres = torch.clamp(torch.floor(torch.nan_to_num(points, 0.0) + 0.5), 0, size - 1)
    grid = torch.arange(size, dtype=points.dtype, device=points.device)
    gx = torch.exp(-((grid - centres[..., 0:1]) ** 2) / (2 * sigma**2))
    gy = torch.exp(-((grid - centres[..., 1:2]) ** 2) / (2 * sigma**2))
    g = (gy[..., :, None] * gx[..., None, :]) * valid[..., None, None]
    scale = torch.nan_to_num(intensity, 0.0) / (2 * math.pi * sigma**2)
    return (g.amax(dim=2) * scale[..., None, None]).float()


def read_all(batches) -> int:
    n = 0
    for b in batches:
        n += len(b["row"])
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crops", required=True)
    ap.add_argument("--heatmaps", required=True)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--samples", type=int, default=960)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(1)
    ds = CacheDataset(args.crops, args.heatmaps)
    sigma = ds.sigma
    n = min(args.samples, len(ds))
    order = torch.randperm(len(ds), generator=torch.Generator().manual_seed(0))[:n]
    print(f"# {args.crops}: {len(ds)} rows, crop {ds.crop_size} px, {len(ds.aus)} AUs, sigma {sigma:g}; "
          f"{n} shuffled samples, batch {args.batch}; torch threads 1")
    print("path                                   samples/s (wall)   CPU ms/sample (main process)")
    cpu_per_sample = None
    for label, heat in (("stored heatmaps", args.heatmaps), ("heatmaps rendered per item", None)):
        d = CacheDataset(args.crops, heat, sigma=sigma)
        for w in args.workers:
            t0, c0 = time.perf_counter(), time.process_time()
            got = read_all(batch_iterator(d, order, args.batch, w))
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            cpu_text = f"{1000 * cpu / got:8.3f}" if w == 0 else "   (in workers)"
            print(f"HDF5 DataLoader, {label:27s} {w} workers  {got / wall:8.0f}   {cpu_text}", flush=True)
            if w == 0 and heat is not None:
                cpu_per_sample = cpu / got
    t0 = time.perf_counter()
    mem = MemoryCache.from_dataset(CacheDataset(args.crops, args.heatmaps, rows=order.sort().values.numpy()))
    setup = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    got = read_all(mem.batches(torch.randperm(len(mem)), args.batch))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"MemoryCache batches ({mem.nbytes / 2**20:.0f} MiB, loaded in {setup:.2f} s)          "
          f"{got / wall:8.0f}   {1000 * cpu / got:8.3f}")
    # Eq. 1 for whole batches with torch, from the stored points (what the device would do)
    dev = torch.device(args.device)
    with torch.no_grad():
        import h5py

        with h5py.File(args.crops, "r") as f:
            pts = crop_to_heatmap(f["au_points"][: args.batch].astype(np.float64), HEATMAP_STRIDE)
            inten = f["intensities"][: args.batch].astype(np.float64)
        p, i = torch.from_numpy(pts).to(dev), torch.from_numpy(inten).to(dev)
        ref = np.stack([render_heatmaps(a, b, sigma, ds.heatmap_size) for a, b in zip(pts, inten)])
        out = torch_render(p, i, sigma, ds.heatmap_size)
        err = float(np.abs(out.cpu().numpy() - ref).max())
        reps = 20
        # CPU: process time (robust to other jobs); CUDA: wall time after a device sync
        clock = time.perf_counter if dev.type == "cuda" else time.process_time
        t0 = clock()
        for _ in range(reps):
            torch_render(p, i, sigma, ds.heatmap_size)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        per = (clock() - t0) / reps / args.batch
        t0 = time.process_time()
        for _ in range(reps):
            for a, b in zip(pts, inten):
                render_heatmaps(a, b, sigma, ds.heatmap_size)
        per_np = (time.process_time() - t0) / reps / args.batch
    print(f"Eq. 1 for a batch with torch on {dev}: {1000 * per:.3f} ms/sample; numpy per item on the CPU: "
          f"{1000 * per_np:.3f} ms/sample (max |diff| {err:.1e})")
    if cpu_per_sample:
        print(f"\nCPU cost per sample (stored heatmaps): {1000 * cpu_per_sample:.2f} ms -> workers a GPU needs "
              f"(x1.5 headroom):")
        for ips in (250, 500, 1000, 2000):
            print(f"  {ips:5d} img/s: {math.ceil(1.5 * ips * cpu_per_sample)} workers")


if __name__ == "__main__":
    main()
