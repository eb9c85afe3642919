"""Per-subject identity: face-shape morph, skin tone, lighting, background and pose jitter.

Each demo subject is one of the two base photos (:mod:`g2rl.demo.faces`) morphed into a different
face shape (face width, eye spacing, brow height, nose size, mouth size, jaw length), with its own
skin tone, lighting direction, background and placement in the frame. All numbers come from one
``numpy.random.Generator`` seeded from (seed, subject id), so a subject looks the same whatever
else is generated beside it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np


def subject_rng(seed: int, subject: str, stream: str) -> np.random.Generator:
    """Independent, reproducible random stream for (seed, subject, purpose).

    ``zlib.crc32`` rather than ``hash()``: Python salts string hashes per process.
    """
    key = [int(seed), zlib.crc32(subject.encode()), zlib.crc32(stream.encode())]
    return np.random.default_rng(np.random.SeedSequence(key))


@dataclass(frozen=True)
class Identity:
    """Everything that makes one demo subject look like themself.

    morph (IOD units or fractions, see :func:`morph_landmarks`): face_width, eye_spacing,
    brow_height, nose_size, mouth_size, jaw_length.
    skin_gain: RGB multipliers on the skin region. light_dir: radians; light_strength: brightness
    change across the face (fraction). brightness: global gain. background: two RGB colours of a
    vertical gradient and a list of soft blobs (x, y, radius as fractions of the frame; RGB).
    iod_frac: inter-ocular distance as a fraction of the frame height; centre_frac: face-crop centre
    in the frame (fractions of W, H). jitter: rotation (deg), scale (fraction), shift (fraction of H).
    """

    subject: str
    base: str
    morph: dict
    skin_gain: tuple[float, float, float]
    light_dir: float
    light_strength: float
    brightness: float
    background: dict
    iod_frac: float
    centre_frac: tuple[float, float]
    jitter: tuple[float, float, float]


def make_identity(subject: str, base: str, seed: int) -> Identity:
    """Draw the identity of ``subject`` built on base photo ``base`` (a name in ``faces.BASE_NAMES``)."""
    rng = subject_rng(seed, subject, "identity")
    u = rng.uniform
    morph = {
        "face_width": u(-0.08, 0.08),   # jaw-line x scaled about the midline by (1 + face_width)
        "eye_spacing": u(-0.07, 0.07),  # each eye moved outwards by half of this (IOD)
        "brow_height": u(-0.06, 0.06),  # brows moved up by this (IOD)
        "nose_size": u(-0.12, 0.12),    # nose scaled about its tip by (1 + nose_size)
        "mouth_size": u(-0.10, 0.12),   # lips scaled about the mouth centre by (1 + mouth_size)
        "jaw_length": u(-0.06, 0.08),   # chin moved down by this (IOD), fading along the jaw
    }
    # Skin tones from light to dark brown: one lightness factor, a warm/cool tint.
    light = u(0.55, 1.1)
    warm = u(-0.06, 0.08)
    skin = (light * (1 + warm), light * (1 + 0.3 * warm), light * (1 - warm))
    background = {
        "top": tuple(u(20, 235, 3)),
        "bottom": tuple(u(20, 235, 3)),
        "blobs": [(u(0, 1), u(0, 1), u(0.1, 0.35), tuple(u(0, 255, 3))) for _ in range(int(rng.integers(2, 6)))],
    }
    return Identity(
        subject=subject, base=base, morph=morph, skin_gain=skin, light_dir=u(0, 2 * np.pi),
        light_strength=u(0.05, 0.3), brightness=u(0.85, 1.12), background=background,
        iod_frac=u(0.18, 0.21), centre_frac=(u(0.42, 0.58), u(0.56, 0.62)),
        jitter=(u(2.0, 4.0), u(0.02, 0.04), u(0.02, 0.04)),
    )


def morph_landmarks(landmarks: np.ndarray, morph: dict, iod: float) -> np.ndarray:
    """Apply an identity morph to (68, 2) landmarks of a neutral face; returns a new (68, 2) array, px.

    Shifts stay around 0.1 IOD or less so that dlib still fits the morphed face well.
    """
    from g2rl.demo.expressions import midline_x

    lm = np.array(landmarks, dtype=np.float64)
    mid = midline_x(lm)
    side = np.sign(lm[:, 0] - mid)
    jaw = np.arange(0, 17)
    lm[jaw, 0] = mid + (lm[jaw, 0] - mid) * (1 + morph["face_width"])
    eyes = np.arange(36, 48)
    lm[eyes, 0] += side[eyes] * morph["eye_spacing"] / 2 * iod
    brows = np.arange(17, 27)
    lm[brows, 0] += side[brows] * morph["eye_spacing"] / 3 * iod  # brows follow the eyes part way
    lm[brows, 1] -= morph["brow_height"] * iod
    nose = np.arange(27, 36)
    tip = lm[30].copy()
    lm[nose] = tip + (lm[nose] - tip) * (1 + morph["nose_size"])
    mouth = np.arange(48, 68)
    centre = lm[mouth].mean(0)
    lm[mouth] = centre + (lm[mouth] - centre) * (1 + morph["mouth_size"])
    # chin down, fading towards the jaw angles (points 4..12 around 8); the mouth follows a third
    weight = np.clip(1 - np.abs(np.arange(17) - 8) / 5.0, 0, 1)
    lm[jaw, 1] += weight * morph["jaw_length"] * iod
    lm[mouth, 1] += morph["jaw_length"] / 3 * iod
    return lm
