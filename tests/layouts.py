"""Tiny BP4D- and DISFA-layout trees written by the tests (no faces needed: the readers only check files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from g2rl.media import VideoWriter, write_image

DISFA_AUS = [1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26]
BP4D_AUS = [6, 10, 12, 14, 17]


def write_disfa(root: Path, subjects=("SN001", "SN002", "SN003"), n_frames=6, n_labels=None, seed=0) -> Path:
    """DISFA layout: a `n_frames`-frame AVI and 12 label files (1-based frames) per subject."""
    rng = np.random.default_rng(seed)
    n_labels = n_frames if n_labels is None else n_labels
    for subject in subjects:
        video = root / "Videos_LeftCamera" / f"LeftVideo{subject}_comp.avi"
        video.parent.mkdir(parents=True, exist_ok=True)
        with VideoWriter(video, fps=25, size=(32, 24)) as writer:
            for _ in range(n_frames):
                writer.write(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8))
        labels = root / "ActionUnit_Labels" / subject
        labels.mkdir(parents=True, exist_ok=True)
        for au in DISFA_AUS:
            values = rng.integers(0, 6, n_labels)
            (labels / f"{subject}_au{au}.txt").write_text("".join(f"{f + 1},{v}\n" for f, v in enumerate(values)))
    return root


def write_bp4d(root: Path, subjects=("F001", "F002"), sessions=("T1", "T2"), n_frames=5, start=7, seed=0) -> Path:
    """BP4D layout: JPEG sequences (padding 3 for T1, 4 for the others) and one CSV per AU and sequence."""
    rng = np.random.default_rng(seed)
    for subject in subjects:
        for session in sessions:
            pad = 3 if session == "T1" else 4
            seq = root / "Sequences" / subject / session
            seq.mkdir(parents=True, exist_ok=True)
            frames = range(start, start + n_frames)
            for f in frames:
                write_image(seq / f"{str(f).zfill(pad)}.jpg", rng.integers(0, 255, (16, 16, 3), dtype=np.uint8))
            for au in BP4D_AUS:
                folder = root / "AUCoding" / "AU_INT" / f"AU{au:02d}"
                folder.mkdir(parents=True, exist_ok=True)
                codes = rng.integers(0, 6, n_frames)
                (folder / f"{subject}_{session}_AU{au:02d}.csv").write_text("".join(f"{f},{c}\n" for f, c in zip(frames, codes)))
    return root


def write_noise_video(path: Path, n_frames: int, fps: float, size=(160, 120), seed: int = 0) -> Path:
    """A video of random noise: no face in any frame (for the no-face paths of landmarks and predict)."""
    rng = np.random.default_rng(seed)
    with VideoWriter(path, fps, size) as writer:
        for _ in range(n_frames):
            writer.write(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    return path
