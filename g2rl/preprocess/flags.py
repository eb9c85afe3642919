"""The no-face policy: one function, used identically when building training and test caches.

For every frame of a sequence's landmarks table:

* ``detected``: dlib fitted a face on this frame (``success == 1``): its landmarks are used.
* ``carried``: no face on this frame, but a detected frame lies within ``max_gap`` frame
  numbers: the nearest detected frame's landmarks are used (on a tie the earlier frame wins).
  Short detector drop-outs (blinks, motion blur, a hand passing) keep their labels.
* ``missing``: no detected frame within ``max_gap``: the frame is excluded from the cache and
  therefore from training *and* evaluation; the count is returned and logged per sequence.

A ``success=1`` row whose landmarks are no face fit (non-finite, far outside the frame, or with
collinear alignment points) is *not* a no-face frame: dlib never writes such rows, so the CSV was
damaged or edited, and carrying or dropping the frame would hide that. Reading the CSV
(:func:`g2rl.preprocess.landmarks.read_landmarks_csv`) and building the crops
(:func:`g2rl.preprocess.align.check_landmarks_in_frame`) raise an error naming the file and the frame.

A sequence in which no frame at all has a face is an error (:class:`G2RLError` naming it):
the pipeline must not silently lose a whole video. (The ``g2rl landmarks`` CLI, which only
writes the CSV, instead writes all-``success=0`` rows and warns.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from g2rl.errors import G2RLError
from g2rl.preprocess.landmarks import X_COLUMNS, Y_COLUMNS

SOURCES = ("detected", "carried", "missing")


def apply_flag_policy(landmarks_df: pd.DataFrame, max_gap: int, name: str = "sequence") -> tuple[pd.DataFrame, dict]:
    """Apply the no-face policy to one sequence's landmarks table.

    Args:
        landmarks_df: landmarks table (docs/CONTRACTS.md): ``frame``, ``success``, coordinates.
        max_gap: largest distance in frame numbers over which landmarks are carried (0 = never).
        name: the video / sequence named in errors.

    Returns:
        ``(df, counts)``: a copy with coordinates filled on carried frames and a
        ``landmark_source`` column in ``SOURCES``; counts ``{frames, detected, carried, missing}``.
    """
    if max_gap < 0:
        raise G2RLError(f"max_gap must be >= 0, got {max_gap}")
    df = landmarks_df.reset_index(drop=True).copy()
    frames = df["frame"].to_numpy(np.int64)
    ok = df["success"].to_numpy() == 1
    if not ok.any():
        raise G2RLError(f"{name}: no face found in any of its {len(df)} frames")
    source = np.where(ok, "detected", "missing").astype(object)
    good_idx = np.flatnonzero(ok)
    good_frames = frames[good_idx]
    order = np.argsort(good_frames, kind="stable")
    good_idx, good_frames = good_idx[order], good_frames[order]
    coords = X_COLUMNS + Y_COLUMNS
    values = df[coords].to_numpy(np.float64, copy=True)
    for i in np.flatnonzero(~ok):
        # nearest detected frame by frame number: candidates just before and just after
        pos = np.searchsorted(good_frames, frames[i])
        best, best_dist = None, None
        for j in (pos - 1, pos):  # earlier candidate first, so it wins a tie
            if 0 <= j < len(good_frames):
                dist = abs(int(good_frames[j]) - int(frames[i]))
                if best_dist is None or dist < best_dist:
                    best, best_dist = good_idx[j], dist
        if best_dist is not None and best_dist <= max_gap:
            values[i] = values[best]
            source[i] = "carried"
    filled = pd.DataFrame(values, columns=coords, index=df.index)
    df = pd.concat([df.drop(columns=coords), filled], axis=1)[list(df.columns)]
    df["landmark_source"] = source
    counts = {"frames": len(df), **{s: int((source == s).sum()) for s in SOURCES}}
    return df, counts
