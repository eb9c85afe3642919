"""CPU cost of reading (and writing) one heatmap row under each HDF5 compression, through the loader's own
row reader (g2rl.preprocess.batches: one hyperslab read per row into a buffer, Fletcher-32 checked).

    python benchmarks/bench_heatmap_compression.py --heatmaps CACHE/heatmaps_sigma2.h5 --rows 1000 \\
        --record heatmap_compression_<date>

Copies the first ``--rows`` maps of an existing heatmap cache into a temporary file per setting (lzf, gzip
at levels 1 and 4, uncompressed; one row per chunk, checksums on, as the cache writer stores them), then
reads every row once in a shuffled order, warm (the file is small; the cost is the filter pipeline's CPU,
the disk is another matter: bytes per row are printed). The cheapest of ``--repeats`` passes per setting.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from record import Record  # benchmarks/record.py, beside this script

from g2rl.preprocess.batches import _RowReader  # the loader's reader, so the figure is the loader's

SETTINGS = [("lzf", None), ("gzip", 1), ("gzip", 4), (None, None)]


def measure(maps: np.ndarray, folder: Path, compression, level, repeats: int) -> dict:
    path = folder / f"h_{compression}_{level}.h5"
    t0 = time.process_time()
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("heatmaps", maps.shape, np.float16, chunks=(1, *maps.shape[1:]),
                              compression=compression, compression_opts=level, fletcher32=True)
        for i in range(len(maps)):
            ds[i] = maps[i]
    write_ms = 1000 * (time.process_time() - t0) / len(maps)
    order = np.random.default_rng(0).permutation(len(maps))
    out = np.empty((1, *maps.shape[1:]), np.float16)
    best = float("inf")
    with h5py.File(path, "r") as f:
        reader = _RowReader(path, "heatmaps")
        reader.open(f)
        stored = f["heatmaps"].id.get_chunk_info(0).size
        for _ in range(repeats):
            t0 = time.process_time()
            for r in order.tolist():
                reader.read(np.array([r]), np.array([0]), out)
            best = min(best, time.process_time() - t0)
        assert np.array_equal(out[0], maps[order[-1]])
    return {"compression": compression or "none", "level": level, "write_ms_per_row": write_ms,
            "read_ms_per_row": 1000 * best / len(maps), "stored_bytes_row0": int(stored)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heatmaps", required=True, type=Path)
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--record", help="record name (benchmarks/records/<name>.json)")
    args = ap.parse_args()
    rec = Record("heatmap_compression", {k: str(v) for k, v in vars(args).items()})
    with h5py.File(args.heatmaps, "r") as f:
        maps = f["heatmaps"][: args.rows]
    print(f"# {args.heatmaps}: {len(maps)} rows of {maps.shape[1]} x {maps.shape[2]} x {maps.shape[3]} float16 "
          f"({maps[0].nbytes} bytes raw); CPU ms per row, cheapest of {args.repeats} shuffled passes, warm")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for compression, level in SETTINGS:
            r = measure(maps, Path(tmp), compression, level, args.repeats)
            results.append(r)
            name = f"{r['compression']}{'' if level is None else f' level {level}'}"
            print(f"{name:<16} read {r['read_ms_per_row']:.3f} ms/row   write {r['write_ms_per_row']:.3f} ms/row   "
                  f"{r['stored_bytes_row0']:>7} bytes stored (row 0)")
    if args.record:
        rec.data["results"] = results
        rec.write(args.record)


if __name__ == "__main__":
    main()
