"""A contact sheet of the demo data: a few frames per subject, their nonzero AU labels beneath.

It reads the written trees (not the generator's memory), so it shows what the pipeline will see.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from g2rl.atomic import atomic_path
from g2rl.errors import DatasetLayoutError
from g2rl.media import iter_video_frames, read_image, write_image



def _read_labels(path: Path) -> dict[int, int]:
    out = {}
    for line in path.read_text().splitlines():
        if line.strip():
            frame, value = line.split(",")
            out[int(frame)] = int(value)
    return out


def pick_frames(labels: np.ndarray, count: int, min_gap: int = 8) -> list[int]:
    """Row indices to show from (n, n_aus) labels: the first all-zero frame (a neutral reference), then
    the frames with the largest summed intensity, at least ``min_gap`` apart."""
    labels = np.where(labels == 9, 0, labels)
    chosen: list[int] = []
    neutral = np.flatnonzero(labels.sum(1) == 0)
    if len(neutral):
        chosen.append(int(neutral[0]))
    for k in np.argsort(-labels.sum(1), kind="stable"):
        if len(chosen) >= count:
            break
        if all(abs(int(k) - c) >= min_gap for c in chosen):
            chosen.append(int(k))
    return sorted(chosen)


def _disfa_rows(root: Path, per_subject: int):
    labels_dir = root / "ActionUnit_Labels"
    if not labels_dir.is_dir():
        raise DatasetLayoutError(f"{labels_dir}: missing (not a DISFA-layout demo tree)")
    for sdir in sorted(p for p in labels_dir.iterdir() if p.is_dir()):
        subject = sdir.name
        files = {int(re.search(r"_au(\d+)\.txt$", f.name).group(1)): f for f in sdir.glob(f"{subject}_au*.txt")}
        aus = sorted(files)
        per_au = {au: _read_labels(files[au]) for au in aus}
        frames = sorted(per_au[aus[0]])
        table = np.array([[per_au[au][f] for au in aus] for f in frames])
        picks = pick_frames(table, per_subject)
        video = root / "Videos_LeftCamera" / f"LeftVideo{subject}_comp.avi"
        wanted = {frames[k] - 1: k for k in picks}  # label frame f = video frame f - 1
        images = {}
        for idx, rgb in enumerate(iter_video_frames(video)):
            if idx in wanted:
                images[wanted[idx]] = rgb
            if len(images) == len(wanted):
                break
        yield f"DISFA {subject}", [(images[k], dict(zip(aus, table[k]))) for k in picks]


def _bp4d_rows(root: Path, per_subject: int):
    au_root = root / "AUCoding" / "AU_INT"
    seq_root = root / "Sequences"
    if not au_root.is_dir():
        raise DatasetLayoutError(f"{au_root}: missing (not a BP4D-layout demo tree)")
    for sdir in sorted(p for p in seq_root.iterdir() if p.is_dir()):
        subject = sdir.name
        task_dir = sorted(p for p in sdir.iterdir() if p.is_dir())[0]  # first task only: keeps the sheet small
        task = task_dir.name
        files = {int(p.name[2:]): p / f"{subject}_{task}_{p.name}.csv" for p in au_root.iterdir() if p.is_dir()}
        aus = sorted(files)
        per_au = {au: _read_labels(files[au]) for au in aus}
        frames = sorted(per_au[aus[0]])
        table = np.array([[per_au[au][f] for au in aus] for f in frames])
        images = {int(p.stem): p for p in task_dir.glob("*.jpg")}
        picks = pick_frames(table, per_subject)
        yield f"BP4D {subject}/{task}", [(read_image(images[frames[k]]), dict(zip(aus, table[k]))) for k in picks]


def _caption(labels: dict[int, int], max_chars: int) -> list[str]:
    parts = [f"AU{au}:{'-' if v == 9 else v}" for au, v in sorted(labels.items()) if v]
    if not parts:
        return ["neutral (all 0)"]
    lines, line = [], ""
    for p in parts:
        if len(line) + len(p) + 1 > max_chars:
            lines.append(line)
            line = p
        else:
            line = f"{line} {p}".strip()
    lines.append(line)
    return lines


def write_contact_sheet(demo_root: str | Path, out_png: str | Path, per_subject: int = 4,
                        datasets: tuple[str, ...] = ("DISFA", "BP4D"), max_rows: int | None = None,
                        thumb_width: int = 176) -> Path:
    """Write a PNG grid: one row per subject (DISFA video / first BP4D task), ``per_subject`` frames each.

    demo_root: folder holding ``DISFA/`` and/or ``BP4D/`` (as written by ``generate_demo``).
    Under each frame: its nonzero AU labels (``AU12:3``; ``-`` = BP4D "not coded"). Rows are capped at
    ``max_rows`` (all subjects when None); thumbnails are ``thumb_width`` px wide. Returns the PNG path.
    """
    import cv2

    demo_root = Path(demo_root)
    rows = []
    for name in datasets:
        root = demo_root / name
        if not root.is_dir():
            raise DatasetLayoutError(f"{root}: missing; expected the demo's {name} tree")
        gen = _disfa_rows(root, per_subject) if name == "DISFA" else _bp4d_rows(root, per_subject)
        rows.extend(gen)
    if max_rows is not None:
        rows = rows[:max_rows]
    font, scale, line_h, label_w = cv2.FONT_HERSHEY_SIMPLEX, 0.42, 15, 120
    rendered = []
    for title, cells in rows:
        tiles = []
        for rgb, labels in cells:
            h, w = rgb.shape[:2]
            thumb = cv2.resize(rgb, (thumb_width, int(round(h * thumb_width / w))), interpolation=cv2.INTER_AREA)
            lines = _caption(labels, max(12, thumb_width // 8))
            strip = np.full((line_h * 3 + 6, thumb_width, 3), 255, np.uint8)
            for k, text in enumerate(lines[:3]):
                cv2.putText(strip, text, (4, line_h * (k + 1)), font, scale, (0, 0, 0), 1, cv2.LINE_AA)
            tiles.append(np.vstack([thumb, strip]))
        while len(tiles) < per_subject:
            tiles.append(np.full_like(tiles[0], 255))
        row = np.hstack([np.pad(t, ((2, 2), (2, 2), (0, 0)), constant_values=255) for t in tiles])
        label = np.full((row.shape[0], label_w, 3), 255, np.uint8)
        for k, text in enumerate(title.split(" ")):
            cv2.putText(label, text, (6, row.shape[0] // 2 - 8 + 18 * k), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        rendered.append(np.hstack([label, row]))
    width = max(r.shape[1] for r in rendered)
    sheet = np.vstack([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rendered])
    out_png = Path(out_png)
    with atomic_path(out_png) as tmp:
        write_image(tmp, sheet)
    return out_png
