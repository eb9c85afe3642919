"""Base photographs and their dlib landmarks, cut into a canonical face crop.

The only image sources are two public-domain photographs that ship inside our own dependencies:
scikit-image's ``data.astronaut()`` (Eileen Collins, NASA) and matplotlib's ``grace_hopper.jpg``
sample (US Navy). Their 68 landmarks come from running dlib on the photo itself (the 68-point
predictor of the ``face-recognition-models`` package; trained on iBUG 300-W, non-commercial licence).

A :class:`BaseFace` is the photo cut to a square ``CROP x CROP`` crop in which the face has a fixed
size (inter-ocular distance ``IOD_CROP`` px) and position, so every displacement field in
:mod:`g2rl.demo.expressions` (in IOD units) means the same thing on both faces.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from g2rl.errors import MediaError

CROP = 256  # side of the canonical face crop, px
IOD_CROP = 64.0  # inter-ocular distance (eye centre to eye centre) in the crop, px
# crop centre = eye midpoint + this many IOD downwards (roughly the middle of brow..chin)
CENTRE_BELOW_EYES = 0.55

BASE_NAMES = ("astronaut", "grace_hopper")


def dlib_models():
    """(HOG frontal face detector, 68-point shape predictor): the pipeline's own, loaded once per process
    (:mod:`g2rl.preprocess.dlib_models` finds the model file; nothing is downloaded)."""
    from g2rl.preprocess.dlib_models import face_detector, shape_predictor

    return face_detector(), shape_predictor()


def detect_landmarks(rgb: np.ndarray, upsample: int = 0) -> list[np.ndarray]:
    """All faces dlib finds in an RGB uint8 image, best detector score first.

    Returns a list of (68, 2) float arrays of (x, y) pixel coordinates.
    """
    detector, predictor = dlib_models()
    rects, scores, _ = detector.run(np.ascontiguousarray(rgb), upsample, 0.0)
    order = np.argsort(scores)[::-1]
    out = []
    for i in order:
        shape = predictor(np.ascontiguousarray(rgb), rects[int(i)])
        out.append(np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64))
    return out


def inter_ocular(landmarks: np.ndarray) -> float:
    """Distance between the two eye centres (means of points 36-41 and 42-47), in px."""
    return float(np.linalg.norm(landmarks[36:42].mean(0) - landmarks[42:48].mean(0)))


def _load_photo(name: str) -> np.ndarray:
    if name == "astronaut":
        import skimage.data

        return np.ascontiguousarray(skimage.data.astronaut()[..., :3])
    if name == "grace_hopper":
        import matplotlib.cbook
        import matplotlib.image

        with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as fh:
            rgb = matplotlib.image.imread(fh, format="jpg")
        return np.ascontiguousarray(rgb[..., :3]).astype(np.uint8)
    raise ValueError(f"unknown base face {name!r}; choose from {BASE_NAMES}")


@dataclass(frozen=True)
class BaseFace:
    """A canonical face crop.

    image: (CROP, CROP, 3) uint8 RGB.
    landmarks: (68, 2) float64, dlib's points re-detected on the crop itself, px.
    name: which photo it came from.
    """

    name: str
    image: np.ndarray
    landmarks: np.ndarray


@functools.lru_cache(maxsize=None)
def load_base_face(name: str) -> BaseFace:
    """Cut the named photo to the canonical crop and fit dlib's landmarks on the crop.

    The crop is a similarity transform that puts the eye midpoint at a fixed place and scales
    the inter-ocular distance to ``IOD_CROP``; landmarks are then re-fitted on the crop (not
    carried over), so they are exactly what dlib sees in the pixels we warp.
    """
    import cv2

    photo = _load_photo(name)
    faces = detect_landmarks(photo, upsample=1)
    if not faces:
        raise MediaError(f"base photo {name}: dlib found no face")
    lm = faces[0]  # best score: the astronaut photo also yields weak hits on her mission patch
    eyes_mid = (lm[36:42].mean(0) + lm[42:48].mean(0)) / 2
    scale = IOD_CROP / inter_ocular(lm)
    centre = eyes_mid + np.array([0.0, CENTRE_BELOW_EYES * inter_ocular(lm)])
    m = np.array([[scale, 0, CROP / 2 - scale * centre[0]], [0, scale, CROP / 2 - scale * centre[1]]])
    crop = cv2.warpAffine(photo, m, (CROP, CROP), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REFLECT)
    refit = detect_landmarks(crop, upsample=0)
    if not refit:
        raise MediaError(f"base photo {name}: dlib found no face in the canonical crop")
    return BaseFace(name=name, image=crop, landmarks=open_inner_lips(refit[0]))


def open_inner_lips(landmarks: np.ndarray, gap: float = 1.0) -> np.ndarray:
    """Separate coinciding inner-lip points (closed mouth) by at least ``gap`` px vertically.

    dlib puts the upper and lower inner lip (61/67, 62/66, 63/65) on the same pixel when the mouth
    is closed (the Hopper photo). Coinciding points would drop out of the triangulation, and the
    warp could then not part the lips (AU25); a 1 px sliver keeps every point a triangle vertex.
    """
    lm = np.array(landmarks, dtype=np.float64)
    for up, low in ((61, 67), (62, 66), (63, 65)):
        if lm[low, 1] - lm[up, 1] < gap:
            mid = (lm[low, 1] + lm[up, 1]) / 2
            lm[up, 1], lm[low, 1] = mid - gap / 2, mid + gap / 2
    return lm
