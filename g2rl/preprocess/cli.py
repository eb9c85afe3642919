"""``g2rl landmarks INPUT --out FILE.csv``: 68-point landmarks for any footage.

INPUT is a video file, a folder of images (sorted by name; each image detected on its own
unless ``--sequence``), or one image. A video or folder in which no frame has a face is *not*
an error here: the CSV gets all-``success=0`` rows and a warning is logged (the pipeline, which
needs faces, raises instead; see docs/PREPROCESSING.md). Unreadable input -> exit status 2 with
one line naming the file.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from g2rl.errors import G2RLError
from g2rl.media import broken_image_links, folder_images, is_image, is_video, truncation_note
from g2rl.paths import refuse_output_over_input
from g2rl.preprocess.detectors import DEFAULT_DETECTOR, DETECTORS

log = logging.getLogger("g2rl.landmarks")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, metavar="INPUT", help="a video file, a folder of images, or one image")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE.csv", help="landmarks CSV to write")
    parser.add_argument("--plain", action="store_true",
                        help="plain path: full-resolution detection on every frame (slower; default: fast tracked path)")
    parser.add_argument("--detect-scale", type=float, default=1.0,
                        help="fast path: the detector sees frames resized by this factor (default 1.0; 0.5 is "
                             "faster but moves landmarks by ~2-3 %% of the inter-ocular distance)")
    parser.add_argument("--redetect-every", type=int, default=10,
                        help="fast path: run the detector at least every N frames (default 10)")
    parser.add_argument("--sequence", action="store_true",
                        help="a folder holds the frames of one video: follow the face from image to image")
    parser.add_argument("--detector", choices=DETECTORS, default=DEFAULT_DETECTOR,
                        help="face detector: blazeface (default; MediaPipe's BlazeFace: small, turned and partly "
                             "covered faces, ~10-15 ms of CPU per frame), hog (dlib's HOG: upright frontal faces) or "
                             "cnn (dlib's MMOD CNN, ~1.5 s per frame on a CPU); docs/PREDICT.md")
    parser.add_argument("--max-frames", type=int, default=None, help="video: stop after this many frames (>= 1)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--require-face", action="store_true",
                        help="exit with an error naming INPUT when no frame has a face (the workflow's policy: "
                             "such a video cannot be trained on) instead of writing all-success=0 rows")


def main(args: argparse.Namespace) -> int:
    from g2rl.config_ranges import check_options
    from g2rl.preprocess.landmarks import LandmarkDetector, write_landmarks_csv

    check_options(args, {"detect_scale": "landmarks.detect_scale", "redetect_every": "landmarks.redetect_every"})

    src: Path = args.input
    if args.max_frames is not None and args.max_frames < 1:  # -5 used to be taken as "no frames left out"
        raise G2RLError(f"--max-frames must be >= 1, got {args.max_frames}")
    if not src.exists():
        raise G2RLError(f"{src}: no such file or folder")
    refuse_output_over_input("landmarks", {"--out": args.out}, {"INPUT": src})
    _opencv_threads_from_environment()
    det = LandmarkDetector(detect_scale=args.detect_scale, fast=not args.plain, redetect_every=args.redetect_every,
                           detector=args.detector)
    progress = not args.no_progress
    if src.is_dir():
        images = folder_images(src)
        broken = broken_image_links(src)
        if broken:  # a frame of the sequence would be missing from the CSV without a word
            (first, why), more = broken[0], len(broken) - 1
            raise G2RLError(f"{first}: {why}" + (f" (and {more} more such link(s) in {src})" if more else "")
                            + "; nothing written")
        if not images:
            raise G2RLError(f"{src}: folder holds no image files")
        df = det.images(images, sequence=args.sequence, progress=progress)
    elif is_video(src):
        df = det.video(src, max_frames=args.max_frames, progress=progress)
        note = truncation_note(src, len(df), args.max_frames)
        if note:
            log.warning("%s; %s has rows for those %d only", note, args.out, len(df))
    elif is_image(src):
        df = det.images([src], progress=progress)
    else:
        raise G2RLError(f"{src}: not a video ({', '.join(sorted({'.avi', '.mp4', '.mov'}))}, ...) or image file")
    faces = int(df["success"].sum())
    if faces == 0 and args.require_face:
        raise G2RLError(f"{src}: no face found in any of its {len(df)} frames (nothing written)")
    write_landmarks_csv(df, args.out)
    if faces == 0:
        log.warning("%s: no face found in any of its %d frames; %s has only success=0 rows", src, len(df), args.out)
    else:
        log.info("%s: face found in %d of %d frames (%d without) -> %s", src, faces, len(df), len(df) - faces, args.out)
    return 0


def _opencv_threads_from_environment() -> None:
    """OpenCV's thread pool (BlazeFace's network) to ``OMP_NUM_THREADS`` when that is set: Snakemake
    sets it to a job's ``threads`` (1 for a landmark job), which OpenCV's own pool ignores; without it
    each of N parallel landmark jobs would run on every core."""
    import os

    threads = os.environ.get("OMP_NUM_THREADS", "")
    if threads.isdigit() and int(threads) > 0:
        import cv2

        cv2.setNumThreads(int(threads))
