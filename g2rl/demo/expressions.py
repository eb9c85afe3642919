"""Per-AU landmark displacement fields following FACS, and per-AU appearance cues.

Every field is given at intensity 5 in units of the inter-ocular distance (IOD), as
(points, outward, down): ``outward`` moves a point horizontally away from the face's vertical
midline (negative = towards it), ``down`` moves it down the image (negative = up). A field at
intensity ``i`` is scaled by ``i / 5``. Displacements of co-occurring AUs add; the total shift of any
point is then softly capped at ``MAX_SHIFT_IOD`` because dlib's fit breaks above ~15 % of IOD
(measured on the demo's warped faces, docs/DEMO_DATA.md). Neighbouring points move along with the ones
FACS names: dlib follows a lone mouth corner poorly (~40 % of the shift) but a moved lip region well
(70-90 %).

dlib's 68 points (0-indexed): jaw 0-16 (8 = chin), brows 17-21 / 22-26 (21, 22 inner), nose 27-35,
eyes 36-41 / 42-47 (upper lids 37, 38, 43, 44; lower lids 40, 41, 46, 47), outer lips 48-59
(corners 48, 54), inner lips 60-67 (corners 60, 64).
"""

from __future__ import annotations

import numpy as np

# The 14 AUs the demo renders: the 12 DISFA AUs plus BP4D's 10 and 14.
AUS: tuple[int, ...] = (1, 2, 4, 5, 6, 9, 10, 12, 14, 15, 17, 20, 25, 26)
DISFA_AUS: tuple[int, ...] = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)
BP4D_AUS: tuple[int, ...] = (6, 10, 12, 14, 17)

MAX_SHIFT_IOD = 0.15

# AU -> list of (point indices, outward, down) at intensity 5, IOD units.
FIELDS: dict[int, list[tuple[tuple[int, ...], float, float]]] = {
    # inner brow raiser: inner brow ends up, falling off outwards
    1: [((21, 22), 0.0, -0.11), ((20, 23), 0.0, -0.075), ((19, 24), 0.0, -0.035), ((18, 25), 0.0, -0.01)],
    # outer brow raiser: outer brow ends up
    2: [((17, 26), 0.0, -0.13), ((18, 25), 0.0, -0.12), ((19, 24), 0.0, -0.08), ((20, 23), 0.0, -0.035)],
    # brow lowerer: brows down and drawn together, upper lids slightly lowered
    4: [((21, 22), -0.05, 0.085), ((20, 23), -0.04, 0.075), ((19, 24), -0.025, 0.06), ((18, 25), -0.01, 0.04),
        ((17, 26), 0.0, 0.025), ((37, 38, 43, 44), 0.0, 0.015)],
    # upper lid raiser: upper lids up (more eye white), brows follow a little
    5: [((37, 38, 43, 44), 0.0, -0.07), ((36, 39, 42, 45), 0.0, -0.01), ((19, 20, 23, 24), 0.0, -0.02)],
    # cheek raiser: cheeks and lower lids up, outer eye corners up a little (eyes narrow from below)
    6: [((40, 41, 46, 47), 0.0, -0.065), ((36, 45), 0.0, -0.025), ((1, 15), 0.0, -0.04), ((2, 14), 0.0, -0.035),
        ((3, 13), 0.0, -0.02), ((31, 35), 0.0, -0.015)],
    # nose wrinkler: nose wings and lower nose up, upper lip up a little, inner brows pulled down
    9: [((31, 35), 0.01, -0.08), ((32, 33, 34), 0.0, -0.065), ((30,), 0.0, -0.045), ((29,), 0.0, -0.025),
        ((50, 51, 52), 0.0, -0.04), ((61, 62, 63), 0.0, -0.03), ((49, 53), 0.0, -0.025),
        ((21, 22), -0.02, 0.04), ((20, 23), 0.0, 0.02)],
    # upper lip raiser: upper lip up (centre most), corners a little, nose wings follow
    10: [((50, 51, 52), 0.0, -0.09), ((61, 62, 63), 0.0, -0.085), ((49, 53), 0.0, -0.07), ((48, 54, 60, 64), 0.0, -0.03),
         ((31, 35), 0.0, -0.025), ((32, 33, 34), 0.0, -0.02)],
    # lip corner puller: corners up and out, the lips around them follow
    12: [((48, 54), 0.06, -0.095), ((60, 64), 0.05, -0.085), ((49, 53, 59, 55), 0.03, -0.06),
         ((61, 63, 65, 67), 0.015, -0.035), ((50, 52, 58, 56), 0.015, -0.035), ((3, 13), 0.0, -0.02),
         ((4, 12), 0.0, -0.01)],
    # dimpler: corners tightened inwards (towards the midline), lips bunch a little
    14: [((48, 54), -0.11, -0.015), ((60, 64), -0.10, -0.015), ((49, 53, 59, 55), -0.07, 0.0),
         ((61, 63, 65, 67), -0.045, 0.0), ((50, 52, 58, 56), -0.035, 0.0)],
    # lip corner depressor: corners down, neighbours follow
    15: [((48, 54), 0.0, 0.10), ((60, 64), 0.0, 0.085), ((59, 55), 0.0, 0.06), ((49, 53), 0.0, 0.05),
         ((61, 63, 65, 67), 0.0, 0.03), ((58, 56), 0.0, 0.03), ((5, 11), 0.0, 0.015)],
    # chin raiser: chin boss and lower lip pushed up
    17: [((8,), 0.0, -0.09), ((7, 9), 0.0, -0.08), ((6, 10), 0.0, -0.05), ((5, 11), 0.0, -0.02),
         ((57,), 0.0, -0.075), ((56, 58), 0.0, -0.07), ((55, 59), 0.0, -0.045), ((66,), 0.0, -0.05),
         ((65, 67), 0.0, -0.045), ((48, 54, 60, 64), 0.0, -0.015), ((51, 62), 0.0, -0.015)],
    # lip stretcher: lips stretched sideways, corners slightly down
    20: [((48, 54), 0.10, 0.02), ((60, 64), 0.09, 0.02), ((49, 53, 59, 55), 0.055, 0.01),
         ((50, 52, 58, 56), 0.025, 0.0), ((61, 63, 65, 67), 0.035, 0.0), ((4, 12), 0.02, 0.0), ((5, 11), 0.015, 0.0)],
    # lips part: lower lip down, upper lip up a little; the dark opening is drawn by the cues
    25: [((65, 66, 67), 0.0, 0.10), ((56, 57, 58), 0.0, 0.075), ((55, 59), 0.0, 0.045), ((61, 62, 63), 0.0, -0.025),
         ((50, 51, 52), 0.0, -0.02), ((60, 64), 0.0, 0.01)],
    # jaw drop: jaw, chin and lower lip down; mouth corners follow a little
    26: [((8,), 0.0, 0.11), ((7, 9), 0.0, 0.10), ((6, 10), 0.0, 0.08), ((5, 11), 0.0, 0.055), ((4, 12), 0.0, 0.03),
         ((3, 13), 0.0, 0.01), ((57,), 0.0, 0.09), ((56, 58), 0.0, 0.085), ((55, 59), 0.0, 0.06),
         ((65, 66, 67), 0.0, 0.085), ((48, 54, 60, 64), 0.0, 0.03)],
}


def midline_x(landmarks: np.ndarray) -> float:
    """x of the face's vertical midline: mean of the nose bridge points 27-30, px."""
    return float(landmarks[27:31, 0].mean())


def unit_field(au: int, landmarks: np.ndarray) -> np.ndarray:
    """Displacement of all 68 points for ``au`` at intensity 5, in IOD units, shape (68, 2).

    ``landmarks`` (68, 2) only decide which side of the midline each point is on.
    """
    if au not in FIELDS:
        raise ValueError(f"no displacement field for AU{au}; known: {sorted(FIELDS)}")
    side = np.sign(landmarks[:, 0] - midline_x(landmarks))
    field = np.zeros((68, 2))
    for points, outward, down in FIELDS[au]:
        idx = list(points)
        field[idx, 0] += outward * side[idx]
        field[idx, 1] += down
    return field


def displacement(intensities: dict[int, float], landmarks: np.ndarray, iod: float,
                 fields: dict[int, np.ndarray] | None = None) -> np.ndarray:
    """Total landmark shift in px, (68, 2), for AU intensities 0-5 on a face with inter-ocular ``iod`` px.

    Fields add; each point's total is capped smoothly (tanh on the length) at ``MAX_SHIFT_IOD``
    so that combinations such as AU25 + AU26 stay within what dlib can follow. ``fields``:
    optional precomputed {AU: unit_field(AU, landmarks)} (a renderer reuses them every frame).
    """
    total = np.zeros((68, 2))
    for au, value in intensities.items():
        if value:
            field = fields[au] if fields is not None else unit_field(au, landmarks)
            total += (float(value) / 5.0) * field
    length = np.linalg.norm(total, axis=1, keepdims=True)
    capped = MAX_SHIFT_IOD * np.tanh(length / MAX_SHIFT_IOD)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = np.where(length > 1e-12, total * capped / length, 0.0)
    return total * iod


# ---- appearance cues ------------------------------------------------------------------------

def _curve(cv2, layer, pts, value, thickness):
    cv2.polylines(layer, [np.round(np.asarray(pts) * 16).astype(np.int32)], False, float(value),
                  thickness=int(thickness), lineType=cv2.LINE_AA, shift=4)


def draw_cues(image: np.ndarray, landmarks: np.ndarray, intensities: dict[int, float], iod: float) -> np.ndarray:
    """Add the appearance changes FACS lists beside the geometry, on the warped face crop.

    image: (H, W, 3) uint8 RGB, already warped so that ``landmarks`` (68, 2, px) are its points.
    Cues (strength proportional to intensity / 5): AU25 dark mouth opening inside the inner lips;
    AU9 horizontal wrinkles across the nose bridge; AU6 raised cheek highlight, lower-lid bulge and
    crow's feet; AU4 vertical furrows between the brows; AU1/AU2 forehead lines; AU12/AU10/AU9
    deeper nasolabial folds; AU17 chin-boss shading. Returns a new uint8 image.
    """
    import cv2

    g = {au: float(intensities.get(au, 0.0)) / 5.0 for au in AUS}
    if not any(v > 0 for v in g.values()):
        return image.copy()
    lm = landmarks
    shade = np.zeros(image.shape[:2], np.float32)  # multiplicative: pixel *= 1 + shade
    t = max(1, int(round(iod * 0.04)))
    if g[9] > 0:  # nose bridge wrinkles
        top, bot = lm[27], lm[29]
        for k, f in enumerate((0.25, 0.5, 0.75)):
            c = top + f * (bot - top)
            half = iod * (0.10 + 0.02 * k)
            pts = [c + [-half, 0.02 * iod], c + [0, -0.02 * iod], c + [half, 0.02 * iod]]
            _curve(cv2, shade, pts, -0.3 * g[9], t)
    if g[6] > 0:
        for lower, corner, sign in (((41, 40), 36, -1), ((46, 47), 45, 1)):
            a, b = lm[lower[0]], lm[lower[1]]
            _curve(cv2, shade, [a + [0, 0.09 * iod], (a + b) / 2 + [0, 0.12 * iod], b + [0, 0.09 * iod]], -0.3 * g[6], t)
            cheek = (a + b) / 2 + [0, 0.35 * iod]
            cv2.ellipse(shade, (int(cheek[0]), int(cheek[1])), (int(0.22 * iod), int(0.13 * iod)), 0, 0, 360,
                        0.18 * g[6], -1, cv2.LINE_AA)
            c = lm[corner]
            for dy in (-0.06, 0.0, 0.06):  # crow's feet fanning out from the outer corner
                _curve(cv2, shade, [c + [sign * 0.08 * iod, dy * 0.5 * iod], c + [sign * 0.22 * iod, dy * 1.6 * iod]],
                       -0.35 * g[6], t)
    if g[4] > 0:  # glabella furrows
        mid = (lm[21] + lm[22]) / 2
        for dx in (-0.07, 0.07):
            _curve(cv2, shade, [mid + [dx * iod, -0.1 * iod], mid + [dx * 0.8 * iod, 0.1 * iod]], -0.3 * g[4], t)
    brow = max(g[1], g[2])
    if brow > 0:  # forehead lines
        mid = (lm[21] + lm[22]) / 2
        for k in range(3):
            y = 0.22 + 0.12 * k
            pts = [mid + [-0.55 * iod, -(y - 0.03) * iod], mid + [0, -y * iod], mid + [0.55 * iod, -(y - 0.03) * iod]]
            _curve(cv2, shade, pts, -0.22 * brow, t)
    fold = max(g[12], 0.7 * g[10], 0.6 * g[9])
    if fold > 0:  # nasolabial folds from the nose wing to beyond the mouth corner
        for wing, corner, sign in ((31, 48, -1), (35, 54, 1)):
            w, c = lm[wing], lm[corner]
            pts = [w + [sign * 0.08 * iod, -0.02 * iod], (w + c) / 2 + [sign * 0.16 * iod, 0],
                   c + [sign * 0.12 * iod, 0.08 * iod]]
            _curve(cv2, shade, pts, -0.4 * fold, t + 1)
    if g[17] > 0:  # chin boss: light bulge with a dark crease under the lower lip
        c = lm[57] + 0.35 * (lm[8] - lm[57])
        cv2.ellipse(shade, (int(c[0]), int(c[1])), (int(0.2 * iod), int(0.1 * iod)), 0, 0, 360, 0.15 * g[17], -1,
                    cv2.LINE_AA)
        _curve(cv2, shade, [lm[57] + [-0.15 * iod, 0.1 * iod], lm[57] + [0, 0.14 * iod], lm[57] + [0.15 * iod, 0.1 * iod]],
               -0.4 * g[17], t)
    if g[14] > 0:  # dimples just outside the corners
        for corner, sign in ((48, -1), (54, 1)):
            # well outside the corner: a dark mark next to it would read as the corner itself to dlib
            c = lm[corner] + [sign * 0.17 * iod, 0.02 * iod]
            _curve(cv2, shade, [c + [0, -0.05 * iod], c + [sign * 0.015 * iod, 0.05 * iod]], -0.3 * g[14], t)
    sigma = max(0.6, iod * 0.012)
    # soft creases, not drawn lines: blur wider than the stroke
    shade = cv2.GaussianBlur(shade, (0, 0), max(1.0, iod * 0.025))
    out = image.astype(np.float32) * (1.0 + shade[..., None])
    if g[25] > 0:  # dark mouth opening inside the inner lip contour
        mask = np.zeros(image.shape[:2], np.float32)
        cv2.fillPoly(mask, [np.round(lm[60:68] * 16).astype(np.int32)], 1.0, cv2.LINE_AA, shift=4)
        mask = cv2.GaussianBlur(mask, (0, 0), sigma) * min(1.0, 1.4 * g[25]) * 0.8
        dark = np.array([40.0, 14.0, 18.0], np.float32)
        out = out * (1.0 - mask[..., None]) + dark * mask[..., None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
