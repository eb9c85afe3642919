"""The frame index: one row per labelled frame, shared by every later stage.

Columns (docs/CONTRACTS.md): dataset, subject, session, frame, media, media_frame,
AU01..AU26 (intensity 0-5, NaN = not labelled), split (the test part as text), and
partition (BP4D) or fold (DISFA).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from g2rl.atomic import atomic_path
from g2rl.errors import DatasetLayoutError

INDEX_KEY_COLUMNS = ["dataset", "subject", "session", "frame", "media", "media_frame"]
AU_COLUMN = "AU{:02d}"


def au_column(au: int | str) -> str:
    """`12` or `"AU12"` or `"12"` -> `"AU12"`."""
    if isinstance(au, str) and au.upper().startswith("AU"):
        au = au[2:]
    return AU_COLUMN.format(int(au))


def check_intensities(values: pd.Series, source: Path, allowed_extra: tuple[int, ...] = ()) -> None:
    """Raise if any label is outside 0..5 (or the listed extra codes); names the file and the first bad row."""
    numeric = pd.to_numeric(values, errors="coerce")
    bad = numeric.isna() | ~(numeric.between(0, 5) | numeric.isin(allowed_extra))
    if bad.any():
        first = values[bad].index[0]
        raise DatasetLayoutError(
            f"{source}: label {values[first]!r} at row {first + 1} is outside 0-5"
            + (f" (allowed codes: {list(allowed_extra)})" if allowed_extra else "")
        )


def read_label_file(path: Path, allowed_extra: tuple[int, ...] = ()) -> pd.Series:
    """Read a headerless `frame,value` file into a Series value indexed by frame number.

    Errors name the file: missing, unparsable, labels out of range, duplicate frame rows.
    """
    if not path.is_file():
        raise DatasetLayoutError(f"{path}: label file not found")
    try:
        raw = pd.read_csv(path, header=None, skipinitialspace=True, dtype=str, comment=None)
    except pd.errors.EmptyDataError:
        raise DatasetLayoutError(f"{path}: label file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        # a line with more fields than the first, a binary file, a NUL byte
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise DatasetLayoutError(f"{path}: not a 'frame,intensity' text file ({reason})") from None
    if raw.shape[1] < 2:
        raise DatasetLayoutError(f"{path}: expected 'frame,intensity' lines, found {raw.shape[1]} column(s)")
    extra = raw.iloc[:, 2:].notna().any(axis=1)  # a trailing comma (empty third field) is harmless
    if extra.any():
        row = int(np.flatnonzero(extra.to_numpy())[0])
        raise DatasetLayoutError(
            f"{path}: line {row + 1} has {int(raw.iloc[row].notna().sum())} fields, expected 'frame,intensity'"
        )
    frames = pd.to_numeric(raw[0].str.strip(), errors="coerce")
    if frames.isna().any() or (frames % 1 != 0).any():
        row = int(np.flatnonzero(frames.isna() | (frames % 1 != 0))[0])
        raise DatasetLayoutError(f"{path}: frame number {raw[0][row]!r} at row {row + 1} is not an integer")
    values = raw[1].str.strip()
    check_intensities(values, path, allowed_extra)
    dup = frames.duplicated()
    if dup.any():
        raise DatasetLayoutError(f"{path}: duplicate row for frame {int(frames[dup].iloc[0])}")
    return pd.Series(pd.to_numeric(values).to_numpy(dtype=float), index=frames.astype(int).to_numpy(), name=path.name)


def join_label_files(series: dict[Path, pd.Series], what: str) -> pd.DataFrame:
    """Join one sequence's label files (path -> Series by frame) into columns, requiring equal frames.

    A file that lacks frames its siblings label (cut short, or a line deleted) would turn those
    frames into "unlabelled" NaN without a word; instead the error names the file and the frames
    it misses. ``what`` names the sequence for the message (e.g. "subject SN001").
    """
    frames = {path: set(s.index.tolist()) for path, s in series.items()}
    union = set().union(*frames.values())
    for path, have in frames.items():
        missing = sorted(union - have)
        if missing:
            other = next(p for p, f in frames.items() if p != path and missing[0] in f)
            raise DatasetLayoutError(
                f"{path}: lacks {len(missing)} frame(s) {missing[0]}..{missing[-1]} that {other.name} labels "
                f"(it covers {min(have) if have else '-'}..{max(have) if have else '-'}, {len(have)} lines; "
                f"the label files of {what} must cover the same frames: truncated file?)"
            )
    return pd.concat(list(series.values()), axis=1)


class MissingSubjects:
    """The configured subjects a reader found no data for, reported together once every subject was looked at.

    A user checking a partial copy wants every subject found and missing from one run, not the first gap only.
    dataset: "DISFA" / "BP4D"; part: what a subject's group is called ("fold", "partition").
    """

    def __init__(self, dataset: str, part: str):
        self.dataset, self.part = dataset, part
        self.missing: list[tuple[str, str, str]] = []  # (subject, its fold/partition, what was looked for)
        self.present: list[str] = []

    def add(self, subject: str, group: str, looked_for: object) -> None:
        self.missing.append((subject, group, str(looked_for)))

    def found(self, subject: str) -> None:
        self.present.append(subject)

    def check(self, root: Path) -> None:
        """Raise one DatasetLayoutError listing every missing subject (with what was looked for first) and the found ones."""
        if not self.missing:
            return
        total = len(self.missing) + len(self.present)
        (first, group, looked_for), rest = self.missing[0], self.missing[1:]
        details = [f"subject {first} ({self.part} {group}) has no data: {looked_for}"]
        details += [f"subject {s} ({self.part} {g}) has no data" for s, g, _ in rest]
        found = ", ".join(self.present) if self.present else "none"
        raise DatasetLayoutError(
            f"{root}: {len(self.missing)} of the {total} configured {self.dataset} subjects have no data. "
            + "; ".join(details)
            + f". Found {len(self.present)}: {found}"
        )


def finish_index(df: pd.DataFrame, au_columns: list[str]) -> pd.DataFrame:
    """Order columns and rows, and check the one invariant every reader shares: no duplicate frames."""
    dup = df.duplicated(["subject", "session", "frame"])
    if dup.any():
        row = df[dup].iloc[0]
        raise DatasetLayoutError(
            f"duplicate frame rows for subject {row.subject}, session {row.session}, frame {row.frame} ({row.media})"
        )
    extra = [c for c in ("split", "partition", "fold") if c in df.columns]
    df = df[INDEX_KEY_COLUMNS + au_columns + extra]
    return df.sort_values(["subject", "session", "frame"], kind="stable").reset_index(drop=True)


def write_frame_index(df: pd.DataFrame, out: str | Path) -> None:
    """Write the index as CSV (atomic)."""
    with atomic_path(out) as tmp:
        df.to_csv(tmp, index=False)


def read_frame_index(path: str | Path) -> pd.DataFrame:
    """Read a frame index written by `write_frame_index`, with stable dtypes (split stays text)."""
    df = pd.read_csv(path, dtype={"split": str, "subject": str, "session": str, "partition": str})
    missing = [c for c in INDEX_KEY_COLUMNS + ["split"] if c not in df.columns]
    if missing:
        raise DatasetLayoutError(f"{path}: not a frame index (missing columns {missing})")
    return df
