"""Render one demo frame: identity morph + AU displacements -> warp -> appearance cues -> pose -> background.

A :class:`FaceRenderer` precomputes everything that is fixed for a subject (recoloured and lit base
crop, morphed neutral landmarks, triangulation, head mask, background) so a frame costs one
piecewise-affine warp of the 256 x 256 face crop, the cue layer, and one affine paste into the frame.
"""

from __future__ import annotations

import numpy as np

from g2rl.demo.expressions import AUS, displacement, draw_cues, unit_field
from g2rl.demo.faces import CROP, inter_ocular, load_base_face
from g2rl.demo.identity import Identity, morph_landmarks
from g2rl.demo.warp import piecewise_affine_warp, triangulate


def _soft_polygon(cv2, shape, polygon, sigma):
    mask = np.zeros(shape, np.float32)
    cv2.fillPoly(mask, [np.round(polygon * 16).astype(np.int32)], 1.0, cv2.LINE_AA, shift=4)
    return cv2.GaussianBlur(mask, (0, 0), sigma)


class FaceRenderer:
    """Frames of one subject.

    frame_size: (W, H) of the output frames, px. ``render`` returns (H, W, 3) uint8 RGB.
    """

    def __init__(self, identity: Identity, frame_size: tuple[int, int]):
        import cv2

        self.identity = identity
        self.frame_size = (int(frame_size[0]), int(frame_size[1]))
        w, h = self.frame_size
        base = load_base_face(identity.base)
        iod0 = inter_ocular(base.landmarks)
        self.neutral = morph_landmarks(base.landmarks, identity.morph, iod0)
        self.iod = inter_ocular(self.neutral)
        self._fields = {au: unit_field(au, self.neutral) for au in AUS}
        # Fixed anchors: crop border, and a band above the brows so a brow raise folds the forehead
        # only between brow and band (the band follows the identity's brow height, not expressions).
        border = np.array([[0, 0], [CROP / 2, 0], [CROP - 1, 0], [0, CROP / 2], [CROP - 1, CROP / 2],
                           [0, CROP - 1], [CROP / 2, CROP - 1], [CROP - 1, CROP - 1]], np.float64)
        forehead_src = base.landmarks[17:27] + [0, -0.6 * iod0]
        forehead_dst = self.neutral[17:27] + [0, -0.6 * iod0]
        self._src = np.vstack([base.landmarks, forehead_src, border])
        self._anchors_dst = np.vstack([forehead_dst, border])
        self._triangles = triangulate(self._src)
        if len(np.unique(self._triangles)) != len(self._src):  # a point left out could not be moved
            raise ValueError(f"base face {identity.base}: coinciding warp points; cannot triangulate all landmarks")

        # Skin tone on the face region (jaw line + forehead), lighting ramp over the whole crop.
        img = base.image.astype(np.float32)
        skin_poly = cv2.convexHull(np.vstack([base.landmarks[0:17], base.landmarks[17:27] + [0, -0.7 * iod0]])
                                   .astype(np.float32))[:, 0]
        skin = _soft_polygon(cv2, (CROP, CROP), skin_poly, 0.08 * iod0)[..., None]
        gain = np.asarray(identity.skin_gain, np.float32)
        img = img * (1 + skin * (gain - 1))
        yy, xx = np.mgrid[0:CROP, 0:CROP].astype(np.float32)
        ramp = ((xx - CROP / 2) * np.cos(identity.light_dir) + (yy - CROP / 2) * np.sin(identity.light_dir)) / (CROP / 2)
        img = img * (identity.brightness * (1 + identity.light_strength * ramp))[..., None]
        # Slightly darker brows: the astronaut's brows are faint next to her fringe, and with the brows
        # lowered (AU4) dlib would otherwise jump to the hairline. Drawn before the warp, so they move.
        brows = np.zeros((CROP, CROP), np.float32)
        for a, b in ((17, 22), (22, 27)):
            cv2.polylines(brows, [np.round(base.landmarks[a:b] * 16).astype(np.int32)], False, 1.0,
                          thickness=max(1, int(0.06 * iod0)), lineType=cv2.LINE_AA, shift=4)
        img = img * (1 - 0.3 * cv2.GaussianBlur(brows, (0, 0), 0.03 * iod0))[..., None]
        # A soft shadow under the jaw line (as under a ceiling light): it pins the chin for dlib's
        # detector, which otherwise sometimes slides its box down onto the collar of the Hopper photo.
        jaw = base.landmarks[2:15]
        under = np.vstack([jaw, (jaw + [0, 0.35 * iod0])[::-1]]).astype(np.float32)
        shadow = _soft_polygon(cv2, (CROP, CROP), under + [0, 0.08 * iod0], 0.08 * iod0)[..., None]
        img = img * (1 - 0.6 * shadow)
        self._face = np.clip(img, 0, 255).astype(np.uint8)

        # Head-and-shoulders mask in crop coordinates: an ellipse around face and hair, joined to the
        # neck and shoulders below, fading out before the crop border so no straight crop edge shows.
        # Keeping the clothes under the chin matters: with the chin faded into a bright background,
        # dlib's box sometimes slides down the neck and the 68-point fit fails.
        mask = np.zeros((CROP, CROP), np.float32)
        eyes = (base.landmarks[36:42].mean(0) + base.landmarks[42:48].mean(0)) / 2
        centre = (int(eyes[0]), int(eyes[1] + 0.35 * iod0))
        cv2.ellipse(mask, centre, (int(1.45 * iod0), int(2.0 * iod0)), 0, 0, 360, 1.0, -1, cv2.LINE_AA)
        top = int(eyes[1] + 1.4 * iod0)
        cv2.rectangle(mask, (int(eyes[0] - 1.8 * iod0), top), (int(eyes[0] + 1.8 * iod0), CROP), 1.0, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), 0.2 * iod0)
        fade = np.clip((CROP - 1 - np.arange(CROP, dtype=np.float32)) / (0.25 * iod0), 0, 1)
        mask *= fade[:, None] * fade[None, :] * fade[::-1][:, None] * fade[::-1][None, :]
        self._alpha = np.clip(mask * 255 + 0.5, 0, 255).astype(np.uint8)[..., None]

        # Background: vertical gradient between two colours plus a few soft blobs.
        bg = identity.background
        t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
        back = (1 - t) * np.asarray(bg["top"], np.float32) + t * np.asarray(bg["bottom"], np.float32)
        back = np.broadcast_to(back, (h, w, 3)).copy()
        for bx, by, br, colour in bg["blobs"]:
            blob = np.zeros((h, w), np.float32)
            cv2.circle(blob, (int(bx * w), int(by * h)), max(2, int(br * h)), 1.0, -1, cv2.LINE_AA)
            blob = cv2.GaussianBlur(blob, (0, 0), max(1.0, 0.25 * br * h))[..., None] * 0.7
            back = back * (1 - blob) + np.asarray(colour, np.float32) * blob
        self._background = np.clip(back + 0.5, 0, 255).astype(np.uint8)

    # -- geometry -------------------------------------------------------------------------------
    def crop_landmarks(self, intensities: dict[int, float]) -> np.ndarray:
        """Intended landmarks (68, 2) in face-crop px for the given AU intensities (0-5)."""
        return self.neutral + displacement(intensities, self.neutral, self.iod, self._fields)

    def frame_transform(self, pose: tuple[float, float, float, float] = (0.0, 1.0, 0.0, 0.0)) -> np.ndarray:
        """2 x 3 affine from face-crop px to frame px for pose (rotation deg, scale, dx px, dy px)."""
        w, h = self.frame_size
        ident = self.identity
        scale = ident.iod_frac * h / self.iod * pose[1]
        a = np.deg2rad(pose[0])
        rot = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        target = np.array([ident.centre_frac[0] * w + pose[2], ident.centre_frac[1] * h + pose[3]])
        return np.hstack([rot, (target - rot @ np.array([CROP / 2, CROP / 2]))[:, None]])

    def pose_amplitudes(self) -> tuple[float, float, float]:
        """(rotation deg, scale fraction, shift px) amplitudes for :func:`trajectories.pose_track`."""
        rot, scale, shift = self.identity.jitter
        return rot, scale, shift * self.frame_size[1]

    # -- pixels ---------------------------------------------------------------------------------
    def render(self, intensities: dict[int, float], pose: tuple[float, float, float, float] = (0.0, 1.0, 0.0, 0.0),
               ) -> np.ndarray:
        """One frame, (H, W, 3) uint8 RGB, for AU intensities {AU: 0-5} and a head pose."""
        import cv2

        dst_lm = self.crop_landmarks(intensities)
        dst = np.vstack([dst_lm, self._anchors_dst])
        face = piecewise_affine_warp(self._face, self._src, dst, self._triangles)
        face = draw_cues(face, dst_lm, intensities, self.iod)
        m = self.frame_transform(pose)
        w, h = self.frame_size
        # Paste only inside the bounding box of the transformed crop: the rest is background.
        corners = np.array([[0, 0, 1], [CROP, 0, 1], [0, CROP, 1], [CROP, CROP, 1]], np.float64) @ m.T
        x0, y0 = np.maximum(np.floor(corners.min(0)).astype(int), 0)
        x1, y1 = np.minimum(np.ceil(corners.max(0)).astype(int), [w, h])
        out = self._background.copy()
        if x1 <= x0 or y1 <= y0:
            return out
        m_roi = m.copy()
        m_roi[:, 2] -= [x0, y0]
        rgba = cv2.warpAffine(np.concatenate([face, self._alpha], axis=2), m_roi, (int(x1 - x0), int(y1 - y0)),
                              flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        alpha = rgba[..., 3:].astype(np.float32) * (1.0 / 255.0)
        roi = out[y0:y1, x0:x1].astype(np.float32)
        roi += alpha * (rgba[..., :3].astype(np.float32) - roi)
        out[y0:y1, x0:x1] = np.clip(roi + 0.5, 0, 255).astype(np.uint8)
        return out
