"""Locate and load dlib's HOG face detector and 68-point shape predictor.

The 68-point model ships inside the ``face-recognition-models`` package; nothing is
downloaded. That package's ``__init__`` imports ``pkg_resources`` (gone from setuptools
>= 81), so we find its folder through ``importlib.util.find_spec`` and never import it.
The model is trained on iBUG 300-W, which is licensed for non-commercial research use.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

from g2rl.errors import G2RLError

PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"


def shape_predictor_path() -> Path:
    """Path of ``shape_predictor_68_face_landmarks.dat`` inside ``face_recognition_models``."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise G2RLError(
            "the 68-point landmark model is missing: install the 'face-recognition-models' package "
            f"(it ships {PREDICTOR_FILE}; nothing is downloaded at run time)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / PREDICTOR_FILE
    if not path.is_file():
        raise G2RLError(f"{path}: 68-point landmark model not found in the face-recognition-models package")
    return path


@functools.lru_cache(maxsize=1)
def face_detector():
    """dlib's frontal-face HOG detector (cached: building it costs ~50 ms)."""
    import dlib

    return dlib.get_frontal_face_detector()


@functools.lru_cache(maxsize=1)
def shape_predictor():
    """dlib's 68-point shape predictor (cached: loading the 99 MB model costs ~0.5 s)."""
    import dlib

    return dlib.shape_predictor(str(shape_predictor_path()))
