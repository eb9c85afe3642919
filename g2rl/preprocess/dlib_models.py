"""Locate and load dlib's face detectors (HOG, and the MMOD CNN) and 68-point shape predictor.

The 68-point model and the CNN detector ship inside the ``face-recognition-models`` package; nothing is
downloaded. That package's ``__init__`` imports ``pkg_resources`` (gone from setuptools
>= 81), so we find its folder without importing it (:mod:`g2rl.preprocess.model_files`).
The model is trained on iBUG 300-W, which is licensed for non-commercial research use.
"""

from __future__ import annotations

import functools
from pathlib import Path

from g2rl.preprocess.model_files import package_file

PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"
CNN_DETECTOR_FILE = "mmod_human_face_detector.dat"


def _model_path(filename: str, what: str) -> Path:
    """Path of ``filename`` inside ``face_recognition_models/models`` (``what`` names it in errors)."""
    return package_file("face_recognition_models", f"models/{filename}", what, "pip install face-recognition-models")


def shape_predictor_path() -> Path:
    """Path of ``shape_predictor_68_face_landmarks.dat`` inside ``face_recognition_models``."""
    return _model_path(PREDICTOR_FILE, "68-point landmark model")


def cnn_detector_path() -> Path:
    """Path of dlib's MMOD CNN face detector (``mmod_human_face_detector.dat``, 0.7 MB, trained on
    dlib's own face detection dataset; the package's licence is MIT) inside ``face_recognition_models``."""
    return _model_path(CNN_DETECTOR_FILE, "CNN face detector model")


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


@functools.lru_cache(maxsize=1)
def cnn_face_detector():
    """dlib's MMOD CNN face detector (cached; loading it costs ~10 ms, running it on a CPU build of
    dlib ~3 s per 512 x 512 image: docs/PREDICT.md)."""
    import dlib

    return dlib.cnn_face_detection_model_v1(str(cnn_detector_path()))
