"""``g2rl predict --checkpoint CKPT INPUT... --out FILE.csv``: AU intensities for any footage.

INPUT: video files, image files, or folders of images (natural numeric order; separate photos,
or the frames of one video with ``--sequence``). Writes one CSV row per frame and face
(docs/PREDICT.md).

Exit status: 0 when every input was processed and every output written; 1 when some input could
not be read, or some overlays could not be written (each reported by name on stderr; the CSV
holds every row that could be computed); 2 when nothing could run (bad checkpoint, bad
arguments, an output location that cannot be written) or the CSV could not be written at the
end (the message says where the computed rows were saved instead); 130 when interrupted (Ctrl-C,
SIGINT): one line, no CSV.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from g2rl.paths import refuse_output_over_input
from g2rl.preprocess.detectors import DEFAULT_DETECTOR, DETECTORS

log = logging.getLogger("g2rl.predict")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", type=Path, metavar="INPUT",
                        help="video files, image files, or folders of images")
    parser.add_argument("--checkpoint", type=Path, required=True, metavar="CKPT",
                        help="model.pt written by `g2rl train` (carries AUs, crop size, sigma, normalisation)")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE.csv", help="CSV to write, one row per frame")
    parser.add_argument("--sequence", action="store_true",
                        help="a folder holds the frames of one video: follow the face from image to image "
                             "(default: each image is a separate photo)")
    parser.add_argument("--heatmaps", type=Path, default=None, metavar="DIR",
                        help="also write PNG overlays of the predicted heatmaps on the aligned faces under DIR")
    parser.add_argument("--heatmaps-every", type=_positive, default=1, metavar="N",
                        help="with --heatmaps: only every Nth frame of each video / folder (default 1 = all)")
    parser.add_argument("--batch-size", type=_positive, default=16, metavar="N", help="faces per forward pass (default 16)")
    parser.add_argument("--device", default="auto", metavar="DEVICE",
                        help="auto (CUDA when present, default), cpu, cuda or cuda:N")
    parser.add_argument("--amp", choices=("auto", "bf16", "off"), default="auto",
                        help="bf16 autocast: auto = on CUDA and on CPUs with native bf16 (as in training); "
                             "off = float32")
    parser.add_argument("--plain", action="store_true",
                        help="landmarks: full-resolution face detection on every frame (slower; default: the "
                             "fast tracked path used in training)")
    parser.add_argument("--max-frames", type=_positive, default=None, metavar="N", help="videos: stop after this many frames")
    parser.add_argument("--faces", choices=("largest", "all"), default="largest",
                        help="largest: the largest face of each frame (followed through a video; default); "
                             "all: every face, largest first (face_id 0, 1, ...; each frame detected on its own)")
    parser.add_argument("--landmarks", action="store_true",
                        help="add the 68 dlib landmarks (x_0..x_67, y_0..y_67, frame pixels) to the CSV")
    parser.add_argument("--frame-base", type=int, choices=(0, 1), default=0,
                        help="number of a video's first frame in the 'frame' column (default 0; OpenFace uses 1)")
    parser.add_argument("--landmark-workers", type=_positive, default=1, metavar="N",
                        help="1 (default): landmarks in a thread beside the network; N >= 2: N processes, each "
                             "taking chunks of 33 frames of a video (re-detected at each chunk start)")
    parser.add_argument("--torch-threads", type=_positive, default=None, metavar="N",
                        help="torch's threads for the network (default: the cores the landmark stage leaves, "
                             "at least 1: usable cores - landmark workers)")
    parser.add_argument("--detector", choices=DETECTORS, default=DEFAULT_DETECTOR,
                        help="face detector: blazeface (default; MediaPipe's BlazeFace: small, turned and partly "
                             "covered faces, ~10-15 ms of CPU per frame), hog (dlib's HOG: upright frontal faces) or "
                             "cnn (dlib's MMOD CNN, ~1.5 s per frame on a CPU); docs/PREDICT.md")
    parser.add_argument("--occurrence", action="store_true",
                        help="add AUxx_c columns: 1 where AUxx_r >= --occurrence-threshold, else 0 (as OpenFace's)")
    parser.add_argument("--occurrence-threshold", type=float, default=1.0, metavar="T",
                        help="with --occurrence: the intensity counted as present (default 1, FACS level A)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def interrupted_note(args: argparse.Namespace) -> str:
    """What Ctrl-C leaves (g2rl.cli prints it): the CSV is written only at the end, atomically."""
    return f"{args.out} was not written"


def main(args: argparse.Namespace) -> int:
    from g2rl.predict.options import PredictOptions
    from g2rl.predict.run import run_predict

    # before anything is read: --out must not be a video, an image of an input folder or the checkpoint
    refuse_output_over_input("predict", {"--out": args.out}, {"INPUT": args.inputs, "--checkpoint": args.checkpoint})
    options = PredictOptions(
        sequence=args.sequence, batch_size=args.batch_size, max_frames=args.max_frames, plain=args.plain,
        faces=args.faces, landmarks=args.landmarks, frame_base=args.frame_base, workers=args.landmark_workers,
        progress=not args.no_progress, detector=args.detector, occurrence=args.occurrence,
        occurrence_threshold=args.occurrence_threshold, torch_threads=args.torch_threads,
    )  # fmt: skip
    result = run_predict(args.checkpoint, args.inputs, args.out, options, heatmaps=args.heatmaps,
                         heatmaps_every=args.heatmaps_every, device=args.device, amp=args.amp)
    if result.failures:
        print(f"g2rl predict: {len(result.failures)} input(s) could not be read and were skipped "
              f"(the others are in {args.out}):", file=sys.stderr)
        for path, reason in result.failures:
            print(f"  {path}: {reason}", file=sys.stderr)
    for path, reason in result.output_errors:
        print(f"g2rl predict: output error: {path}: {reason}; overlays stopped there (the AU rows of every "
              f"frame are in {args.out})", file=sys.stderr)
    return 1 if result.failures or result.output_errors else 0
