"""Landmark throughput: plain per-frame full-resolution dlib vs the fast tracked path.

Prints, per video: frames/s of both paths (frames decoded into memory first, so the figures are
landmark cost only; decode speed is printed separately), the speed-up, and the disagreement
between the paths' 68 points in units of inter-ocular distance (eye-centre distance of the
plain fit), over the frames where both found a face.

    python benchmarks/bench_landmarks.py --video some_640x360.mp4 --synthetic

``--synthetic`` also builds, in a temporary folder, a 640x360 "demo-like" video from the real
photographs shipped with our dependencies (scikit-image's astronaut, matplotlib's Grace Hopper)
moving, zooming and turning over time. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def demo_like_video(path: Path, n_frames: int = 300, size: tuple[int, int] = (640, 360), fps: float = 30.0) -> Path:
    """Write a video of two real photographs (alternating every 150 frames) moving smoothly."""
    import cv2
    import matplotlib.cbook
    import skimage.data

    from g2rl.media import VideoWriter, read_image

    grace = read_image(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    astro = skimage.data.astronaut()
    # scale each photo so its face is ~170 px tall (found by HOG at half resolution)
    photos = [(cv2.resize(grace, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_AREA), (215, 195)),
              (cv2.resize(astro, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC), (445, 255))]
    w, h = size
    with VideoWriter(path, fps, size) as out:
        for t in range(n_frames):
            img, (fx, fy) = photos[(t // 150) % 2]
            ph = 2 * np.pi * t / 120
            # slow head-like motion: +-25 px translation, +-6 % zoom, +-5 degrees rotation
            dx, dy = 25 * np.sin(ph), 12 * np.sin(2 * ph)
            zoom, angle = 1 + 0.06 * np.sin(0.5 * ph), 5 * np.sin(0.7 * ph)
            m = cv2.getRotationMatrix2D((float(fx), float(fy)), angle, zoom)
            m[:, 2] += np.array([w / 2 - fx + dx, h / 2 - fy + dy])
            out.write(cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
    return path


def bench(video: Path, max_frames: int | None, configs: list[tuple[float, int]]) -> None:
    from g2rl.media import iter_video_frames, video_info
    from g2rl.preprocess.landmarks import LandmarkDetector, inter_ocular_distance, landmark_array

    count, fps, width, height = video_info(video)
    t0 = time.perf_counter()
    frames = []
    for i, f in enumerate(iter_video_frames(video)):
        if max_frames is not None and i >= max_frames:
            break
        frames.append(f)
    t_decode = time.perf_counter() - t0
    n = len(frames)
    print(f"\n== {video.name}: {width}x{height}, {n} frames used (of {count}), {fps:.1f} fps")
    print(f"decode only: {n / t_decode:8.1f} frames/s")

    plain_det = LandmarkDetector(fast=False, detector="hog")  # the figures in docs are HOG's (its pyramid steps)
    t0 = time.perf_counter()
    plain = plain_det.frames(frames, track=True)
    fps_plain = n / (time.perf_counter() - t0)
    print(f"plain (HOG at full resolution + fit, every frame): {fps_plain:7.1f} frames/s, "
          f"faces {plain_det.stats['faces']}/{n}")
    p_ok = (plain["success"] == 1).to_numpy()
    p_all = landmark_array(plain)
    for scale, every in configs:
        det = LandmarkDetector(fast=True, detect_scale=scale, redetect_every=every, detector="hog")
        t0 = time.perf_counter()
        fast = det.frames(frames, track=True)
        fps_fast = n / (time.perf_counter() - t0)
        both = p_ok & (fast["success"] == 1).to_numpy()
        differ = int((p_ok != (fast["success"] == 1).to_numpy()).sum())
        p, f = p_all[both], landmark_array(fast)[both]
        d = np.linalg.norm(f - p, axis=-1) / inter_ocular_distance(p)[:, None]  # (frames, 68) in IOD
        err, inner = d.mean(axis=1), d[:, 17:].mean(axis=1)
        print(f"fast detect_scale={scale} redetect_every={every}: {fps_fast:7.1f} frames/s = "
              f"{fps_fast / fps_plain:5.2f}x plain; detector runs {det.stats['detector_runs']}, "
              f"degraded {det.stats['degraded']}, face-found mismatches {differ}")
        print(f"    disagreement / IOD over {both.sum()} frames: all 68 points mean {100 * err.mean():.2f} % "
              f"(median {100 * np.median(err):.2f}, 95th pct {100 * np.percentile(err, 95):.2f}); "
              f"inner 51 points (17-67) mean {100 * inner.mean():.2f} %")
    # what the plain path itself does when only its detection scale changes (no tracking):
    half = LandmarkDetector(fast=True, detect_scale=0.5, detector="hog").frames(frames, track=False)
    both = p_ok & (half["success"] == 1).to_numpy()
    d = np.linalg.norm(landmark_array(half)[both] - p_all[both], axis=-1) / inter_ocular_distance(p_all[both])[:, None]
    print(f"reference: per-frame detection at scale 0.5 (no tracking) vs plain: mean {100 * d.mean():.2f} % IOD "
          f"(the 68-point fit's sensitivity to the HOG box, whose size is quantised in ~20 % pyramid steps)")
    mot = np.linalg.norm(np.diff(p_all, axis=0), axis=-1).mean(axis=-1) / inter_ocular_distance(p_all[1:])
    print(f"reference: plain frame-to-frame landmark motion: mean {100 * np.nanmean(mot):.2f} % IOD")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", action="append", default=[], type=Path, help="a video to measure (repeatable)")
    ap.add_argument("--synthetic", action="store_true", help="also measure a generated demo-like 640x360 video")
    ap.add_argument("--max-frames", type=int, default=None)
    ap.add_argument("--fast", action="append", default=None, metavar="SCALE:EVERY",
                    help="fast-path setting detect_scale:redetect_every to measure (repeatable; "
                         "default: 1.0:10 (the library default), 0.5:30, 1.0:5)")
    args = ap.parse_args()
    import torch  # only to report the thread setting the pipeline runs with

    print(f"host: {platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores; "
          f"single process (dlib is single-threaded); torch threads {torch.get_num_threads()}")
    configs = [(float(a), int(b)) for a, b in (c.split(":") for c in (args.fast or ["1.0:10", "0.5:30", "1.0:5"]))]
    print(f"settings: max_frames={args.max_frames}, fast-path settings {configs}")
    videos = list(args.video)
    with tempfile.TemporaryDirectory() as tmp:
        if args.synthetic:
            videos.append(demo_like_video(Path(tmp) / "demo_like_640x360.avi"))
        if not videos:
            ap.error("give --video and/or --synthetic")
        for v in videos:
            bench(v, args.max_frames, configs)


if __name__ == "__main__":
    main()
