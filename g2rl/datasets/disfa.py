"""DISFA reader: one left-camera video and 12 AU label files per subject.

Layout (defaults; every pattern is configurable):
    {root}/Videos_LeftCamera/LeftVideo{subject}_comp.avi
    {root}/ActionUnit_Labels/{subject}/{subject}_au{au}.txt     one `frame,intensity` line per frame

Label frame numbers are 1-based in the usual release: video frame index = label frame + offset,
offset -1 by default. The 3-fold subject split is a parameter (the public one by default).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from g2rl.datasets.frame_index import MissingSubjects, au_column, finish_index, join_label_files, read_label_file
from g2rl.datasets.names import check_name
from g2rl.datasets.patterns import fill
from g2rl.errors import DatasetLayoutError
from g2rl.media import video_info

log = logging.getLogger(__name__)

DISFA_AUS = [1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26]
DEFAULT_VIDEO_PATTERN = "{root}/Videos_LeftCamera/LeftVideo{subject}_comp.avi"
DEFAULT_LABEL_PATTERN = "{root}/ActionUnit_Labels/{subject}/{subject}_au{au}.txt"
# The split most public code uses (G2RL's own split is unpublished).
DEFAULT_FOLDS = {
    "1": ["SN002", "SN010", "SN001", "SN026", "SN027", "SN032", "SN030", "SN009", "SN016"],
    "2": ["SN013", "SN018", "SN011", "SN028", "SN012", "SN006", "SN031", "SN021", "SN024"],
    "3": ["SN003", "SN029", "SN023", "SN025", "SN008", "SN005", "SN007", "SN017", "SN004"],
}
SESSION = "LeftCamera"


def index_disfa(
    root: str | Path,
    folds: dict[str, list[str]] | None = None,
    aus: list[int] | None = None,
    video_pattern: str = DEFAULT_VIDEO_PATTERN,
    label_pattern: str = DEFAULT_LABEL_PATTERN,
    label_frame_offset: int = -1,
) -> pd.DataFrame:
    """Build the DISFA frame index: one row per labelled frame of every subject in `folds`.

    Args:
        root: the DISFA root folder.
        folds: test part name -> subject ids (default: the public 3-fold split).
        aus: AU numbers to read (default: DISFA's 12).
        video_pattern, label_pattern: path patterns with {root}, {subject} (and {au} for labels).
        label_frame_offset: video frame index (0-based) = label frame number + this.

    Raises DatasetLayoutError naming the path for: a subject without data, a missing label file,
    labels outside 0-5, duplicate frames, label files of one subject covering different frames,
    or labels for frames beyond the end of the video.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetLayoutError(f"{root}: DISFA root folder not found")
    folds = {str(k): list(v) for k, v in (folds or DEFAULT_FOLDS).items()}
    aus = list(aus or DISFA_AUS)
    columns = [au_column(a) for a in aus]
    parts = []
    missing = MissingSubjects("DISFA", "fold")
    for fold, subjects in folds.items():
        for subject in subjects:
            check_name("subject", subject, f"disfa.folds.{fold}")
            video = fill(video_pattern, root=root, subject=subject)
            first_label = fill(label_pattern, root=root, subject=subject, au=aus[0])
            if not video.exists() and not first_label.parent.exists():
                missing.add(subject, fold, f"neither {video} nor {first_label.parent} exists")
                continue
            missing.found(subject)
            paths = [fill(label_pattern, root=root, subject=subject, au=a) for a in aus]
            labels = join_label_files(
                {path: read_label_file(path).rename(c) for path, c in zip(paths, columns)}, f"subject {subject}"
            )
            n_frames = video_info(video)[0]
            media_frame = labels.index.to_numpy() + label_frame_offset
            beyond = (media_frame < 0) | (media_frame >= n_frames)
            if beyond.any():
                raise DatasetLayoutError(
                    f"{video}: has {n_frames} frames but {int(beyond.sum())} labelled frames fall outside it "
                    f"(label frames {int(labels.index[beyond].min())}..{int(labels.index[beyond].max())}, "
                    f"label_frame_offset={label_frame_offset})"
                )
            part = labels.reset_index(names="frame")
            part.insert(0, "dataset", "disfa")
            part.insert(1, "subject", subject)
            part.insert(2, "session", SESSION)
            part["media"] = str(video)
            part["media_frame"] = media_frame
            part["split"] = fold
            part["fold"] = int(fold) if fold.isdigit() else fold
            parts.append(part)
            log.info("DISFA %s: %d labelled frames (fold %s)", subject, len(part), fold)
    missing.check(root)
    return finish_index(pd.concat(parts, ignore_index=True), columns)
