"""Write demo sequences in the DISFA and BP4D release layouts (what ``g2rl.datasets`` reads).

DISFA-like, under ``{root}`` (= ``{out}/DISFA``):
    Videos_LeftCamera/LeftVideo{SN}_comp.avi            one MJPG AVI per subject
    ActionUnit_Labels/{SN}/{SN}_au{N}.txt               ``frame,intensity``; frame 1-based (= video index + 1)
BP4D-like, under ``{root}`` (= ``{out}/BP4D``):
    Sequences/{subject}/{task}/{frame:0{padding}d}.jpg  frame numbers from ``start``, padding 2/3/4 digits
    AUCoding/AU_INT/AU{NN}/{subject}_{task}_AU{NN}.csv  ``frame,code``; code 0-5, 9 = not coded
Both without headers. Each file goes through :func:`g2rl.atomic.atomic_path`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np

from g2rl.atomic import atomic_path
from g2rl.media import VideoWriter, write_image

DISFA_FPS = 20.0  # DISFA was filmed at 20 fps
JPEG_QUALITY = 90


def _write_lines(path: Path, frames: np.ndarray, values: np.ndarray) -> None:
    text = "".join(f"{int(f)},{int(v)}\n" for f, v in zip(frames, values))
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def disfa_video_path(root: str | Path, subject: str) -> Path:
    return Path(root) / "Videos_LeftCamera" / f"LeftVideo{subject}_comp.avi"


def disfa_label_path(root: str | Path, subject: str, au: int) -> Path:
    return Path(root) / "ActionUnit_Labels" / subject / f"{subject}_au{au}.txt"


def write_disfa_subject(root: str | Path, subject: str, frames: Iterable[np.ndarray], labels: dict[int, np.ndarray],
                        frame_size: tuple[int, int], fps: float = DISFA_FPS) -> int:
    """Write one subject's video and its 12 label files; returns the number of frames written.

    frames: RGB uint8 (H, W, 3) arrays of size ``frame_size`` (W, H); labels: {AU: (n,) int 0-5}, one
    value per video frame. Label line ``f`` describes video frame ``f - 1``.
    """
    video = disfa_video_path(root, subject)
    n = 0
    with atomic_path(video) as tmp:
        with VideoWriter(tmp, fps, frame_size) as writer:
            for rgb in frames:
                writer.write(rgb)
                n += 1
    for au, values in labels.items():
        if len(values) != n:
            raise ValueError(f"{subject} AU{au}: {len(values)} labels for {n} frames")
        _write_lines(disfa_label_path(root, subject, au), np.arange(1, n + 1), values)
    return n


def bp4d_image_path(root: str | Path, subject: str, task: str, frame: int, padding: int) -> Path:
    return Path(root) / "Sequences" / subject / task / f"{frame:0{padding}d}.jpg"


def bp4d_label_path(root: str | Path, subject: str, task: str, au: int) -> Path:
    return Path(root) / "AUCoding" / "AU_INT" / f"AU{au:02d}" / f"{subject}_{task}_AU{au:02d}.csv"


def write_bp4d_sequence(root: str | Path, subject: str, task: str, frames: Iterable[np.ndarray],
                        codes: dict[int, np.ndarray], start: int, padding: int) -> int:
    """Write one sequence's JPEGs (numbered from ``start``) and its per-AU code files.

    codes: {AU: (n,) int, 0-5 or 9 = not coded}; code ``k`` belongs to image number ``start + k``.
    Returns the number of frames written.
    """
    n = 0
    for k, rgb in enumerate(frames):
        path = bp4d_image_path(root, subject, task, start + k, padding)
        with atomic_path(path) as tmp:
            write_image(tmp, rgb, jpeg_quality=JPEG_QUALITY)
        n += 1
    for au, values in codes.items():
        if len(values) != n:
            raise ValueError(f"{subject}/{task} AU{au}: {len(values)} codes for {n} frames")
        _write_lines(bp4d_label_path(root, subject, task, au), np.arange(start, start + n), values)
    return n


def not_coded_mask(n: int, rng: np.random.Generator, fraction: float = 0.03) -> np.ndarray:
    """Boolean (n,) mask of a few short stretches (2-4 frames) covering about ``fraction`` of the frames.

    BP4D codes frames the FACS coders skipped as 9; the demo marks such stretches so that the
    readers and the loss masking meet them.
    """
    mask = np.zeros(n, bool)
    target = max(2, int(round(fraction * n)))  # at least one stretch, even in a short sequence
    while mask.sum() < target:
        length = min(int(rng.integers(2, 5)), max(2, target - int(mask.sum())))
        a = int(rng.integers(0, max(1, n - length)))
        mask[a : a + length] = True
    return mask
