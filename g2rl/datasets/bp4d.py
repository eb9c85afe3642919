"""BP4D reader (FERA 2015 intensity subset): JPEG sequences and one CSV per AU and sequence.

Layout (defaults; every pattern is configurable, releases differ):
    {root}/Sequences/{subject}/{session}/{frame}.jpg            frame number zero-padded to 2, 3 or 4 digits
    {root}/AUCoding/AU_INT/AU{au:02d}/{subject}_{session}_AU{au:02d}.csv     `frame,code`, code 0-5, 9 = not coded

Sessions (tasks T1..T8) are discovered from all AUs' label files unless listed. Image number =
label frame number + `image_frame_offset` (0 by default; one release needs -1).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from g2rl.datasets.frame_index import MissingSubjects, au_column, finish_index, read_label_file
from g2rl.datasets.names import check_name
from g2rl.datasets.patterns import discover, fill
from g2rl.errors import DatasetLayoutError

log = logging.getLogger(__name__)

BP4D_AUS = [6, 10, 12, 14, 17]
NOT_CODED = 9
DEFAULT_IMAGE_PATTERN = "{root}/Sequences/{subject}/{session}/{frame}.jpg"
DEFAULT_LABEL_PATTERN = "{root}/AUCoding/AU_INT/AU{au:02d}/{subject}_{session}_AU{au:02d}.csv"
DEFAULT_PARTITIONS = {
    "train": "F001 F003 F005 F007 F009 F011 F013 F015 F017 F019 F021 F023 M001 M003 M005 M007 M009 M011 M013 M015 M017".split(),
    "devel": "F002 F004 F006 F008 F010 F012 F014 F016 F018 F020 F022 M002 M004 M006 M008 M010 M012 M014 M016 M018".split(),
}


def _image_paths(pattern: str, root: Path, subject: str, session: str, numbers: np.ndarray, paddings: list[int]) -> list[str]:
    """The existing image for each frame number, trying each zero padding in turn; error names the first missing one."""
    listing: dict[str, set[str]] = {}

    def exists(path: Path) -> bool:
        folder = str(path.parent)
        if folder not in listing:
            listing[folder] = set(os.listdir(folder)) if os.path.isdir(folder) else set()
        return path.name in listing[folder]

    paths = []
    for n in numbers:
        candidates = [fill(pattern, root=root, subject=subject, session=session, frame=str(int(n)).zfill(p)) for p in paddings]
        found = next((c for c in candidates if exists(c)), None)
        if found is None:
            raise DatasetLayoutError(
                f"{candidates[0]}: no image for labelled frame {int(n)} of {subject}/{session} "
                f"(tried zero padding {paddings}; check image_frame_offset and the image pattern)"
            )
        paths.append(str(found))
    return paths


def index_bp4d(
    root: str | Path,
    partitions: dict[str, list[str]] | None = None,
    aus: list[int] | None = None,
    image_pattern: str = DEFAULT_IMAGE_PATTERN,
    label_pattern: str = DEFAULT_LABEL_PATTERN,
    frame_padding: list[int] | None = None,
    image_frame_offset: int = 0,
    sessions: list[str] | None = None,
) -> pd.DataFrame:
    """Build the BP4D frame index: one row per frame with at least one coded AU.

    Args:
        root: the BP4D root folder.
        partitions: partition name -> subject ids (default: FERA 2015 train / devel).
        aus: AU numbers (default 6, 10, 12, 14, 17).
        image_pattern, label_pattern: path patterns with {root}, {subject}, {session}, {frame} / {au}.
        frame_padding: zero-padding widths tried for the frame number in image names (default 2, 3, 4).
        image_frame_offset: image number = label frame number + this.
        sessions: tasks to read; None discovers them from every AU's label files (a session with
            some AU files but not all is an error naming the missing ones).

    Code 9 becomes NaN; frames with no coded AU at all are dropped and the count is logged.
    Raises DatasetLayoutError naming the path for every layout problem.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetLayoutError(f"{root}: BP4D root folder not found")
    partitions = {str(k): list(v) for k, v in (partitions or DEFAULT_PARTITIONS).items()}
    aus = list(aus or BP4D_AUS)
    paddings = list(frame_padding or [2, 3, 4])
    columns = [au_column(a) for a in aus]
    parts = []
    missing = MissingSubjects("BP4D", "partition")
    for partition, subjects in partitions.items():
        for subject in subjects:
            check_name("subject", subject, f"bp4d.partitions.{partition}")
            subject_sessions = sessions or _discover_sessions(label_pattern, root, subject, aus)
            if not subject_sessions:
                missing.add(subject, partition, fill(label_pattern, root=root, subject=subject, au=aus[0], session="*"))
                continue
            missing.found(subject)
            for session in subject_sessions:
                files = [fill(label_pattern, root=root, subject=subject, session=session, au=a) for a in aus]
                absent = [str(f) for f in files if not f.is_file()]
                if absent:
                    raise DatasetLayoutError(
                        f"{absent[0]}: label file not found; session {subject}/{session} has "
                        f"{len(files) - len(absent)} of its {len(files)} AU label files (missing: {', '.join(absent)})"
                    )
                labels = pd.concat(
                    [read_label_file(f, allowed_extra=(NOT_CODED,)).rename(c) for f, c in zip(files, columns)],
                    axis=1,
                ).replace(NOT_CODED, np.nan)
                uncoded = labels.isna().all(axis=1)
                if uncoded.any():
                    log.info("BP4D %s/%s: %d frames with no coded AU dropped", subject, session, int(uncoded.sum()))
                labels = labels[~uncoded]
                part = labels.reset_index(names="frame")
                part.insert(0, "dataset", "bp4d")
                part.insert(1, "subject", subject)
                part.insert(2, "session", session)
                part["media"] = _image_paths(
                    image_pattern, root, subject, session, part["frame"].to_numpy() + image_frame_offset, paddings
                )
                part["media_frame"] = 0
                part["split"] = partition
                part["partition"] = partition
                parts.append(part)
            log.info("BP4D %s: %d sessions (partition %s)", subject, len(subject_sessions), partition)
    missing.check(root)
    return finish_index(pd.concat(parts, ignore_index=True), columns)


def _discover_sessions(label_pattern: str, root: Path, subject: str, aus: list[int]) -> list[str]:
    """A subject's sessions, from every AU's label files (a session missing one AU file must not vanish silently).

    Each name comes from a file name in the dataset tree, so it is checked before it goes anywhere.
    """
    found: dict[str, Path] = {}
    for au in aus:
        for session in discover(label_pattern, "session", root=root, subject=subject, au=au):
            found.setdefault(session, fill(label_pattern, root=root, subject=subject, session=session, au=au))
    for session, source in sorted(found.items()):
        check_name("session", session, source)
    return sorted(found)
