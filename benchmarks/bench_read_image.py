"""Per-frame cost of g2rl.media.read_image's strict JPEG decode against the OpenCV decode it replaced.

    python benchmarks/bench_read_image.py --frames 200 --record benchmarks/records/read_image_<date>.json

Writes --frames BP4D-sized JPEGs (1040 x 1392, OpenCV quality 95, real photographs moving: the
frames bench_landmarks.py renders, upscaled) into a temporary folder, then reads every file with
each reader, in alternating rounds (--repeats), and prints the best round's CPU time per frame
(time.process_time, which a loaded host barely moves) and wall time:

* ``opencv (before)``: the issue-20 reader: bytes read once, end-of-image trailer checked,
  cv2.imdecode + BGR->RGB (a cut file with its marker put back passes).
* ``strict (now)``: g2rl.media.read_image: bytes read once, header size checked, one strict
  libjpeg-turbo decode straight to RGB (simplejpeg), EXIF orientation looked for.

The two return identical arrays (checked on every frame). ``--record`` writes the figures with the
machine, the commit and the load average.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np


def opencv_reader(path: Path) -> np.ndarray:
    """The reader before issue 29 (g2rl.media.read_image at da21ea6, without its name checks)."""
    from g2rl.media import jpeg_is_truncated

    data = path.read_bytes()
    if jpeg_is_truncated(data):
        raise ValueError(f"{path}: truncated")
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def write_frames(folder: Path, n: int) -> list[Path]:
    """``n`` BP4D-sized JPEGs of real photographs moving (bench_landmarks' demo-like frames, upscaled)."""
    from bench_landmarks import demo_like_video
    from g2rl.media import iter_video_frames

    video = demo_like_video(folder / "v.avi", n_frames=n)
    paths = []
    for i, frame in enumerate(iter_video_frames(video)):
        big = cv2.resize(frame, (1040, 1392), interpolation=cv2.INTER_CUBIC)
        paths.append(folder / f"{i}.jpg")
        cv2.imwrite(str(paths[-1]), cv2.cvtColor(big, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    return paths


def main() -> None:
    from g2rl.media import read_image
    from record import Record, load  # benchmarks/record.py, beside this script

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3, help="alternating rounds per reader; the best is kept")
    ap.add_argument("--record", type=Path, default=None, help="also write the figures to this JSON file")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    rec = Record("read_image", vars(args))  # the commit, machine and load as the measurement starts
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_frames(Path(tmp), args.frames)
        size = sum(p.stat().st_size for p in paths) / len(paths)
        for p in paths:  # the same pixels, and the page cache warm for both
            assert np.array_equal(read_image(p), opencv_reader(p)), p
        best = {}
        for _ in range(args.repeats):
            for name, reader in (("opencv (before)", opencv_reader), ("strict (now)", read_image)):
                c0, w0 = time.process_time(), time.perf_counter()
                for p in paths:
                    reader(p)
                cpu, wall = time.process_time() - c0, time.perf_counter() - w0
                old = best.get(name)
                best[name] = (cpu, wall) if old is None or cpu < old[0] else old
    figures = {name: {"cpu_ms_per_frame": 1e3 * cpu / len(paths), "wall_ms_per_frame": 1e3 * wall / len(paths)}
               for name, (cpu, wall) in best.items()}
    print(f"{len(paths)} JPEGs of 1040x1392 (mean {size / 1e3:.0f} kB), best of {args.repeats} rounds; "
          f"load {rec.data['load_start']} -> {load()}")
    for name, f in figures.items():
        print(f"  {name:16s} {f['cpu_ms_per_frame']:6.2f} ms CPU / frame, {f['wall_ms_per_frame']:6.2f} ms wall")
    before, now = figures["opencv (before)"]["cpu_ms_per_frame"], figures["strict (now)"]["cpu_ms_per_frame"]
    print(f"  strict decode costs {now - before:+.2f} ms CPU per frame ({100 * (now / before - 1):+.0f} %)")
    if args.record:
        rec.data["settings"].update(frame_size=[1040, 1392], mean_bytes=round(size), opencv_threads=1)
        rec.data["results"] = {"figures": figures}
        rec.write(args.record.stem, out=args.record)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
