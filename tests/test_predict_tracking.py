"""g2rl.predict.tracking: face_id is the same person through a clip (issue 23, point 2)."""

import cv2
import matplotlib.cbook
import numpy as np
import pandas as pd
import skimage.data
from test_predict_model import make_checkpoint

from g2rl.cli import main as g2rl_main
from g2rl.media import VideoWriter, read_image
from g2rl.predict.tracking import FaceTracker, box_iou


def test_box_iou():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [20, 20, 5, 5]])
    np.testing.assert_allclose(box_iou(a, b), [[1.0, 50 / 150, 0.0]])
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 3)


def test_ids_follow_boxes_not_ranks():
    """Two faces cross in size (the rows come largest first), a third appears, one leaves."""
    t = FaceTracker(max_missed=2)
    left, right = np.array([100.0, 100, 120, 120]), np.array([400.0, 100, 80, 80])
    assert t.assign([left, right]) == [0, 1]
    left2, right2 = left + [5, 5, -10, -10], right + [-10, -10, 20, 20]  # now about the same size
    assert t.assign([right2, left2]) == [1, 0]  # listed in the other order: same people
    third = np.array([250.0, 300, 60, 60])
    assert t.assign([right2, left2, third]) == [1, 0, 2]  # a face appears: a new id
    assert t.assign([left2]) == [0]
    assert t.assign([]) == [] and t.assign([]) == []
    assert t.assign([right2]) == [3]  # gone for 3 frames > max_missed: a new person as far as we know


def _face_crop(img, box, factor=2.2):
    """A square crop ``factor`` times the face box (x0, y0, x1, y1), and the face's size in it."""
    cx, cy, side = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, (box[2] - box[0]) * factor
    x0, y0 = int(cx - side / 2), int(cy - side / 2)
    return np.ascontiguousarray(img[y0:y0 + int(side), x0:x0 + int(side)]), box[2] - box[0]


def _crossing_clip(path, n=8):
    """Astronaut (left) shrinking from a 140 to a 90 px face while Grace Hopper (right) grows from
    90 to 140 px: the larger face changes side halfway through."""
    hopper = read_image(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    faces = [_face_crop(skimage.data.astronaut(), (179, 83, 266, 170)), _face_crop(hopper, (161, 137, 376, 352))]
    with VideoWriter(path, 10, (640, 360)) as w:
        for i in range(n):
            frame = np.full((360, 640, 3), 110, np.uint8)
            sizes = (140 - 50 * i / (n - 1), 90 + 50 * i / (n - 1))
            for (crop, face), size, cx in zip(faces, sizes, (160, 480)):
                side = int(round(crop.shape[0] * size / face))
                tile = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)
                y0, x0 = 180 - side // 2, cx - side // 2
                frame[y0:y0 + side, x0:x0 + side] = tile
            w.write(frame)
    return path


def test_two_faces_crossing_in_size_keep_their_ids(tmp_path):
    make_checkpoint(tmp_path / "model.pt")
    video = _crossing_clip(tmp_path / "cross.avi")
    out = tmp_path / "aus.csv"
    assert g2rl_main(["predict", "--no-progress", "--amp", "off", "--checkpoint", str(tmp_path / "model.pt"),
                      str(video), "--faces", "all", "--out", str(out)]) == 0
    df = pd.read_csv(out)
    assert (df.groupby("frame").size() == 2).all() and len(df) == 16  # both faces in every frame
    first = df.groupby("frame").head(1)  # rows are largest first: the larger face changes side
    assert (first["face_x"] < 320).iloc[0] and (first["face_x"] > 320).iloc[-1]
    # ... but each person keeps the id of the first frame (0: the astronaut, the larger one then)
    assert ((df["face_x"] < 320) == (df["face_id"] == 0)).all(), df[["frame", "face_id", "face_x", "face_w"]]
    assert set(df["face_id"]) == {0, 1}
