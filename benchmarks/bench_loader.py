"""CPU cost per sample of the training data path, and how many cores a GPU's img/s needs.

    python benchmarks/bench_loader.py --crops C.h5 --heatmaps H.h5 --workers 0 1 2 --samples 1920
    python benchmarks/bench_loader.py --crops BIG.h5 --heatmaps BIGH.h5 --cold --workers 0 1 --samples 8000

On the cache given (a 256 px one: benchmarks/gpu_check.sh builds one, or the demo's at crop 256), it reads
``--samples`` shuffled samples in batches of ``--batch`` as training does (g2rl.preprocess.batches
through g2rl.training.feed.BatchFeed; the rows read from the files, as for a fold too large to hold):

* ``HDF5 DataLoader, stored heatmaps`` with 0, 1, 2, ... worker processes: samples/s (wall) and the CPU
  time per sample of the main process and of the workers (from /proc while they run), in the steady
  state (an epoch after a first one that starts the persistent workers, as training's are): read +
  hand-over, what a training's loading path costs the machine;
* the same rows held in memory (a fold under ``in_memory_max_mb``);
* the checksum's share: the same chunks read raw (``read_direct_chunk``, no Fletcher-32 check) against
  the HDF5 read the batch path does;
* the conversion to the model's input (uint8 -> normalised float32, float16 -> float32) with torch on
  ``--device``: on a GPU that is device time, here it shows what the CPU pays when it is the device;
* Eq. 1 rendered for a batch from the stored points by the training's renderer
  (g2rl.preprocess.map_renderer) on ``--device``, against numpy per item.

``--heatmap-source device``: the rows are served as ``train.heatmap_source: device`` serves them (the crops
read, the maps rendered on the device), and the feed's rows are named "HDF5 DataLoader, maps rendered on the
device"; the conversion then includes the rendering.

``--cold``: each worker setting starts with the files' pages dropped from the page cache
(benchmarks/pagecache.py, checked with mincore), as at the start of a training, and measures ``--samples``
rows that its warm-up did not read, drawn from the whole file, so the images come from disk throughout
(each row's image and heatmap chunks are read ahead together, as in training). Then: cores a GPU needs = img/s x CPU s per
sample, x 1.5 for headroom. ``--record NAME`` writes benchmarks/records/NAME.json.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pagecache import evict  # noqa: E402
from record import Record  # noqa: E402

from g2rl.preprocess.batches import open_cache_rows  # noqa: E402
from g2rl.preprocess.heatmap_layout import render_layout  # noqa: E402
from g2rl.preprocess.heatmaps import HEATMAP_STRIDE, crop_to_heatmap  # noqa: E402
from g2rl.preprocess.map_renderer import HEATMAP_SOURCES, MapRenderer  # noqa: E402
from g2rl.training.feed import BatchFeed, to_device  # noqa: E402


# the row name of each heatmap source (docs/PERFORMANCE.md keeps the first one's name: training's default)
PATHS = {"cache": "HDF5 DataLoader, stored heatmaps", "device": "HDF5 DataLoader, maps rendered on the device"}


def children_cpu() -> float:
    """CPU seconds (user + system) so far of this process's live children (the DataLoader's workers)."""
    pid, tick, total = os.getpid(), os.sysconf("SC_CLK_TCK"), 0.0
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # exited meanwhile
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def run_delay() -> float:
    """Seconds this process has spent runnable but waiting for a CPU (/proc/self/schedstat): on a shared
    machine, the part of a wall-clock time that other jobs took."""
    return int(Path("/proc/self/schedstat").read_text().split()[1]) / 1e9


def read_pass(rows, warm_up: np.ndarray, order: np.ndarray, batch: int, workers: int, cold: list | None) -> dict:
    """Steady state of the training feed: one epoch over ``warm_up`` starts the workers (persistent, as in
    training), then the epoch over ``order`` is measured: samples/s (wall) and CPU ms per sample of the
    main process and of the workers (from /proc, while they run). ``cold``: files whose pages are dropped
    before the feed opens them, as at the start of a training (the share still resident is returned);
    ``order`` should then hold rows the warm-up does not."""
    resident = evict(*cold) if cold else None
    feed = BatchFeed(rows, batch, workers)
    sum(len(b["row"]) for b in feed.epoch(warm_up))
    t0, m0, k0, d0 = time.perf_counter(), time.process_time(), children_cpu(), run_delay()
    got = sum(len(b["row"]) for b in feed.epoch(order))
    wall, main, kids = time.perf_counter() - t0, time.process_time() - m0, children_cpu() - k0
    delayed = run_delay() - d0
    feed.close()
    return {"samples": got, "samples_per_s": got / wall, "cpu_ms_per_sample": 1000 * (main + kids) / got,
            "main_cpu_ms_per_sample": 1000 * main / got, "worker_cpu_ms_per_sample": 1000 * kids / got,
            "wall_s": wall, "main_waited_for_cpu_s": delayed, "resident_before": resident,
            # one loading process (no workers): its rate had it not waited for a CPU other jobs held
            "samples_per_s_without_cpu_wait": got / (wall - delayed) if not workers and wall > delayed else None}


def raw_vs_checked(rows, order: np.ndarray, batch: int) -> dict:
    """CPU ms per image: raw chunk reads (no checksum check) against the batch path's HDF5 reads."""
    import h5py

    with h5py.File(rows.files.crops_h5, "r") as f:
        ds = f["images"]
        nbytes = ds.id.get_chunk_info(0).size
        buf = np.empty((batch, nbytes), np.uint8)
        c0 = time.process_time()
        for i in range(0, len(order), batch):
            for j, r in enumerate(np.sort(rows.rows[order[i:i + batch]]).tolist()):
                ds.id.read_direct_chunk((r, 0, 0, 0), out=buf[j])
        raw = time.process_time() - c0
    image = np.empty((batch, *rows.large["image"][0]), np.uint8)
    c0 = time.process_time()
    for i in range(0, len(order), batch):
        rr = np.sort(rows.rows[order[i:i + batch]])
        rows.files.read("image", rr, np.arange(len(rr)), image)
    checked = time.process_time() - c0
    return {"raw_ms": 1000 * raw / len(order), "checked_ms": 1000 * checked / len(order)}


def conversion_ms(rows, batch: int, dev: torch.device, reps: int = 20) -> float:
    """ms per sample of to_device (uint8 -> normalised float32, float16 -> float32 or Eq. 1 rendered from the
    points) on ``dev``."""
    b = rows.batch(np.arange(min(batch, len(rows))))
    to_device(b, dev, renderer=rows.renderer)  # warm-up
    clock = time.perf_counter if dev.type == "cuda" else time.process_time
    t0 = clock()
    for _ in range(reps):
        to_device(b, dev, renderer=rows.renderer)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return 1000 * (clock() - t0) / reps / len(b["row"])


def render_ms(crops: str, heat: dict, aus: list[str], crop_size: int, batch: int,
              dev: torch.device) -> tuple[float, float, float]:
    """(ms per sample of Eq. 1 for a batch with the training's renderer on ``dev`` (MapRenderer, the
    heatmaps file's layout and peak), numpy per item (what build_heatmap_cache does), max |difference|)."""
    import h5py

    with h5py.File(crops, "r") as f:
        pts = f["au_points"][:batch]
        inten = f["intensities"][:batch]
    renderer = MapRenderer.for_heatmaps(heat, aus, crop_size)
    c, i = torch.from_numpy(renderer.centres(pts)).to(dev), torch.from_numpy(inten).to(dev)
    hm = crop_to_heatmap(pts.astype(np.float64), HEATMAP_STRIDE)
    args = (heat["sigma"], renderer.size, heat["layout"], heat["peak"])
    ref = np.stack([render_layout(a, b, *args) for a, b in zip(hm, inten)]).astype(np.float16).astype(np.float32)
    err = float(np.abs(renderer.render(c, i).cpu().numpy() - ref).max())
    reps = 20
    clock = time.perf_counter if dev.type == "cuda" else time.process_time
    t0 = clock()
    for _ in range(reps):
        renderer.render(c, i)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    per = (clock() - t0) / reps / batch
    t0 = time.process_time()
    for _ in range(reps):
        for a, b in zip(hm, inten):
            render_layout(a, b, *args)
    return 1000 * per, 1000 * (time.process_time() - t0) / reps / batch, err


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crops", required=True)
    ap.add_argument("--heatmaps", required=True)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--samples", type=int, default=1920)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--cold", action="store_true", help="drop the files' pages before each worker setting")
    ap.add_argument("--repeats", type=int, default=1, help="runs per worker setting; the cheapest in CPU is shown")
    ap.add_argument("--heatmap-source", choices=HEATMAP_SOURCES, default="cache",
                    help="cache: read the stored maps (training's default); device: read the crops only, the maps "
                         "rendered on --device (train.heatmap_source: device)")
    ap.add_argument("--record", help="write benchmarks/records/RECORD.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    rec = Record("bench_loader", vars(args))
    rows = open_cache_rows(args.crops, args.heatmaps, in_memory="off", heatmap_source=args.heatmap_source)
    path = PATHS[args.heatmap_source]
    sigma = rows.heatmap_attrs["sigma"]
    n = min(args.samples, len(rows))
    rng = np.random.default_rng(0)
    results = rec.data["results"]
    results["file_bytes"] = {"crops": os.path.getsize(args.crops), "heatmaps": os.path.getsize(args.heatmaps),
                             "ram": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")}
    print(f"# {args.crops}: {len(rows)} rows, crop {rows.crop_size} px, {len(rows.attrs['aus'])} AUs, "
          f"{len(rows.heatmap_attrs['channel_au'])} heatmap channels, sigma {sigma:g}, {path}; {n} shuffled samples, batch "
          f"{args.batch}; torch threads 1; {'cold (pages dropped before each setting)' if args.cold else 'warm'}; "
          f"files {results['file_bytes']['crops'] / 1e9:.1f} + {results['file_bytes']['heatmaps'] / 1e9:.1f} GB, "
          f"RAM {results['file_bytes']['ram'] / 2**30:.1f} GiB")
    print("path                                            samples/s (wall)   CPU ms/sample: all (main + workers)")
    for w in args.workers:
        runs = []
        for _ in range(args.repeats):
            perm = rng.permutation(len(rows))
            if args.cold:  # a few batches per worker start the workers; then rows none of them read
                warm_up, order = perm[: 4 * args.batch * max(w, 1)], perm[-n:]
            else:  # the measured rows, read once before
                warm_up = order = perm[:n]
            runs.append(read_pass(rows, warm_up, order, args.batch, w, [args.crops, args.heatmaps] if args.cold else None))
        # the run that cost the least CPU per sample: other jobs on a shared machine only ever add to it
        r = {**min(runs, key=lambda x: x["cpu_ms_per_sample"]), "runs": runs}
        results[f"hdf5_{w}_workers"] = r
        print(f"{path}, {w:2d} workers      {r['samples_per_s']:8.0f}          "
              f"{r['cpu_ms_per_sample']:6.3f} ({r['main_cpu_ms_per_sample']:.3f} + {r['worker_cpu_ms_per_sample']:.3f})"
              f"   main process waited {r['main_waited_for_cpu_s']:.2f} of {r['wall_s']:.2f} s for a CPU"
              + (f" ({r['samples_per_s_without_cpu_wait']:.0f}/s without that wait)" if not w else ""), flush=True)
    if not args.cold:
        t0 = time.perf_counter()
        mem = open_cache_rows(args.crops, args.heatmaps, rows.rows[np.sort(rng.permutation(len(rows))[:n])],
                              in_memory="on", heatmap_source=args.heatmap_source)
        setup = time.perf_counter() - t0
        perm = rng.permutation(len(mem))
        r = read_pass(mem, perm, perm, args.batch, 0, None)
        r["load_s"], r["mib"] = setup, mem.nbytes_large() / 2**20
        results["memory"] = r
        print(f"rows held in memory ({r['mib']:.0f} MiB, loaded in {setup:.2f} s)    {r['samples_per_s']:8.0f}          "
              f"{r['cpu_ms_per_sample']:6.3f}")
        check = raw_vs_checked(rows, rng.permutation(len(rows))[:n], args.batch)
        results["checksum"] = check
        print(f"images only: HDF5 read with Fletcher-32 check {check['checked_ms']:.3f} ms/sample, raw chunk "
              f"read without it {check['raw_ms']:.3f} ms/sample")
    dev = torch.device(args.device)
    conv = conversion_ms(rows, args.batch, dev)
    renders = rows.renderer is not None
    results["conversion_ms"] = {"device": str(dev), "ms_per_sample": conv, "renders_maps": renders}
    print(f"conversion to the model's input (uint8 -> normalised float32{', Eq. 1 maps rendered' if renders else ''}) "
          f"with torch on {dev}: {conv:.3f} ms/sample")
    per, per_np, err = render_ms(args.crops, rows.heatmap_attrs, rows.attrs["aus"], rows.crop_size, args.batch, dev)
    results["render_ms"] = {"torch_batch": per, "numpy_item": per_np, "max_abs_diff": err,
                            "layout": rows.heatmap_attrs["layout"], "channels": len(rows.heatmap_attrs["channel_au"])}
    print(f"Eq. 1 for a batch with the training's renderer on {dev}: {per:.3f} ms/sample; numpy per item on the CPU: "
          f"{per_np:.3f} ms/sample (max |diff| against the stored float16 {err:.1e})")
    with_workers = [w for w in args.workers if w > 0]
    base = results[f"hdf5_{with_workers[0] if with_workers else args.workers[0]}_workers"]
    per_sample = base["cpu_ms_per_sample"] / 1000
    print(f"\nCPU per sample, all processes ({with_workers[0] if with_workers else 0} workers: read + hand-over): "
          f"{1000 * per_sample:.3f} ms -> cores a GPU needs (x1.5 headroom):")
    results["cores_needed"] = {}
    for ips in (1000, 2000, 2500, 5000):
        cores = 1.5 * ips * per_sample
        results["cores_needed"][ips] = cores
        print(f"  {ips:5d} img/s: {cores:.2f} cores ({math.ceil(cores)} worker processes)")
    if args.record:
        rec.write(args.record)


if __name__ == "__main__":
    main()
