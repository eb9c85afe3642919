"""Benchmark the demo dataset generator: wall time, size on disk, and what dlib sees in the frames.

Usage: python benchmarks/bench_demo.py [--disfa-frames 200] [--bp4d-frames 80] [--workers 1 2] [--sample 4]
Prints the settings, the machine, the generation time per worker count, the tree size, whether two
runs are byte-identical, and on every ``sample``-th frame: the share with exactly one HOG face and the
share where the 68-point fit lands far (> 0.1 IOD mean error) from the points the generator intended.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from g2rl.demo.faces import BASE_NAMES, detect_landmarks, dlib_models, inter_ocular
from g2rl.demo.generator import generate_demo, _sequence
from g2rl.demo.expressions import DISFA_AUS


def tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--disfa-frames", type=int, default=200)
    ap.add_argument("--bp4d-frames", type=int, default=80)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--sample", type=int, default=4, help="check every n-th frame with dlib")
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}, "
          f"opencv {cv2.__version__}; load average at start {os.getloadavg()}")
    print(f"settings: disfa_frames={args.disfa_frames} bp4d_frames={args.bp4d_frames}, default subjects and frame size")
    dlib_models()  # load once, outside the timings
    with tempfile.TemporaryDirectory() as tmp:
        digests = []
        for w in args.workers:
            out = Path(tmp) / f"w{w}"
            t = time.perf_counter()
            s = generate_demo(out, seed=0, disfa_frames=args.disfa_frames, bp4d_frames=args.bp4d_frames, workers=w)
            dt = time.perf_counter() - t
            n = s["disfa"]["total_frames"] + s["bp4d"]["total_frames"]
            size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
            digests.append(tree_digest(out))
            print(f"workers={w}: {dt:.1f} s for {n} frames ({1000 * dt / n:.1f} ms/frame), {size / 2**20:.1f} MiB on disk")
        print(f"byte-identical across runs/worker counts: {len(set(digests)) == 1}")
        print(f"label nonzero fraction DISFA: {s['disfa']['nonzero_fraction']}")
        print(f"label nonzero fraction BP4D: {s['bp4d']['nonzero_fraction']}")
        shutil.rmtree(Path(tmp) / f"w{args.workers[0]}", ignore_errors=True)

    # dlib on re-rendered frames (same pixels as the written ones before compression), so the
    # intended landmarks are known: one face found? fit close to the intended points?
    detector, _ = dlib_models()
    for i, subject in enumerate(("SN001", "SN002", "SN011", "SN013", "SN003", "SN023")):
        renderer, curves, poses = _sequence(subject, BASE_NAMES[i % 2], 0, "disfa", args.disfa_frames, (384, 288),
                                            DISFA_AUS, 2)
        one = far = total = 0
        t = time.perf_counter()
        for k in range(0, args.disfa_frames, args.sample):
            inten = {au: float(c[k]) for au, c in curves.items()}
            img = renderer.render(inten, tuple(poses[k]))
            one += len(detector(img, 0)) == 1
            faces = detect_landmarks(img)
            want = cv2.transform(renderer.crop_landmarks(inten)[None], renderer.frame_transform(tuple(poses[k])))[0]
            far += (not faces) or np.abs(faces[0] - want).mean() / inter_ocular(want) > 0.1
            total += 1
        print(f"{subject} ({BASE_NAMES[i % 2]}): exactly one face {one}/{total}, fit > 0.1 IOD off {far}/{total} "
              f"({(time.perf_counter() - t) / total * 1000:.0f} ms per frame for render + 2 detections)")


if __name__ == "__main__":
    main()
