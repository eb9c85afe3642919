"""The frame index: one row per labelled frame, shared by every later stage.

Columns (docs/CONTRACTS.md): dataset, subject, session, frame, media, media_frame,
AU01..AU26 (intensity 0-5, NaN = not labelled), split (the test part as text), and
partition (BP4D) or fold (DISFA).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from g2rl.atomic import atomic_path
from g2rl.datasets.names import check_name, is_safe_name, split_pattern
from g2rl.errors import DatasetLayoutError

INDEX_KEY_COLUMNS = ["dataset", "subject", "session", "frame", "media", "media_frame"]
AU_COLUMN = "AU{:02d}"
AU_COLUMN_NAME = re.compile(r"^AU\d\d$")
# the datasets an index may name (g2rl.datasets.from_config.DATASETS: a reader each)
KNOWN_DATASETS = ("disfa", "bp4d")
# the splits a dataset's index may hold when the schema fixes them (BP4D: the FERA 2015 partitions);
# DISFA's folds are configurable, so only their form and consistency are checked
KNOWN_SPLITS = {"bp4d": ("train", "devel")}


def au_column(au: int | str) -> str:
    """`12` or `"AU12"` or `"12"` -> `"AU12"`."""
    if isinstance(au, str) and au.upper().startswith("AU"):
        au = au[2:]
    return AU_COLUMN.format(int(au))


def check_intensities(values: pd.Series, source: Path | str, allowed_extra: tuple[int, ...] = ()) -> None:
    """Raise if any label is outside 0..5 (or the listed extra codes); names the file (``source``, e.g.
    ``"index.csv, column AU06"``) and the first bad row (1-based data row: the Series' index + 1)."""
    numeric = pd.to_numeric(values, errors="coerce")
    bad = numeric.isna() | ~(numeric.between(0, 5) | numeric.isin(allowed_extra))
    if bad.any():
        first = values[bad].index[0]
        value = values[first]
        value = value.item() if isinstance(value, np.generic) else value  # 9.0, not np.float64(9.0)
        raise DatasetLayoutError(
            f"{source}: label {value!r} at row {first + 1} is outside 0-5"
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


def _where(source: Path | str | None) -> str:
    """``"<source>: "`` for a message, or nothing for an index still being built by a reader."""
    return f"{source}: " if source else ""


def _split_word(df: pd.DataFrame) -> str:
    """What a split is called in this index: DISFA's folds, BP4D's partitions."""
    return "fold" if "fold" in df.columns else "partition" if "partition" in df.columns else "split"


def check_split_names(df: pd.DataFrame, source: Path | str | None = None) -> None:
    """Split values: letters and digits only, known for the dataset (BP4D: train / devel), never two
    that differ only in case (a hand-edited ``Devel`` beside ``devel`` would move subjects into
    training), and equal to the ``partition`` / ``fold`` column the reader wrote beside them."""
    splits = sorted(df["split"].astype(str).unique())
    # split names become parts of output paths (fold<name>): the schema's pattern, also the fold wildcard's
    bad = [s for s in splits if not split_pattern().fullmatch(s)]
    if bad:
        raise DatasetLayoutError(f"{_where(source)}split {bad[0]!r} is not a valid {_split_word(df)} name "
                                 f"(letters and digits only)")
    by_lower: dict[str, str] = {}
    for s in splits:
        if s.lower() in by_lower:
            raise DatasetLayoutError(f"{_where(source)}splits {by_lower[s.lower()]!r} and {s!r} differ only in case "
                                     f"(a hand edit? a subject's split decides whether it is trained or tested on)")
        by_lower[s.lower()] = s
    for dataset, known in KNOWN_SPLITS.items():
        unknown = sorted(set(df.loc[df["dataset"].astype(str) == dataset, "split"].astype(str)) - set(known))
        if unknown:
            raise DatasetLayoutError(f"{_where(source)}split {unknown[0]!r} is not a {dataset} {_split_word(df)} "
                                     f"(known: {', '.join(known)})")
    for col in ("partition", "fold"):
        if col in df.columns:
            differ = df["split"].astype(str) != df[col].astype(str)
            if differ.any():
                row = int(np.flatnonzero(differ.to_numpy())[0])
                raise DatasetLayoutError(f"{_where(source)}row {row + 1} (subject {df['subject'].iloc[row]}) has split "
                                         f"{df['split'].iloc[row]!r} but {col} {df[col].iloc[row]!r}")


def check_one_split_per_subject(df: pd.DataFrame, source: Path | str | None = None) -> None:
    """Each subject in exactly one split: a subject in two would be trained and tested on (a leak)."""
    splits = df.groupby("subject", sort=True)["split"].unique()
    shared = splits[splits.map(len) > 1]
    if len(shared):
        subject, names = shared.index[0], sorted(map(str, shared.iloc[0]))
        raise DatasetLayoutError(f"{_where(source)}subject {subject} is in {_split_word(df)}s {' and '.join(names)} "
                                 f"(each subject belongs to exactly one; {len(shared)} such subject(s))")


def check_unique_frames(df: pd.DataFrame, source: Path | str | None = None) -> None:
    """No two rows for one (subject, session, frame): a frame would count twice in training and metrics."""
    dup = df.duplicated(["subject", "session", "frame"])
    if dup.any():
        row = df[dup].iloc[0]
        raise DatasetLayoutError(
            f"{_where(source)}duplicate frame rows for subject {row.subject}, session {row.session}, "
            f"frame {row.frame} ({row.media})"
        )


def check_sequence_names(df: pd.DataFrame, source: Path | str | None = None) -> None:
    """Subject and session names in the safe set (g2rl/datasets/names.py): they become paths and shell words,
    and a hand-edited index must not bring in a name the readers would have refused."""
    for column in ("subject", "session"):
        bad = ~df[column].astype(str).map(is_safe_name)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            check_name(column, str(df[column].iloc[row]), f"{source or 'frame index'}: row {row + 1}")


def check_index(df: pd.DataFrame, au_columns: list[str], source: Path | str | None = None) -> None:
    """The invariants of every frame index, built by a reader or read back after a hand edit:
    safe subject/session names, split names, one split per subject, unique frames, AU labels 0-5 or empty
    (NaN = not labelled). ``source`` (the CSV) prefixes the messages."""
    check_sequence_names(df, source)
    check_split_names(df, source)
    check_one_split_per_subject(df, source)
    check_unique_frames(df, source)
    for col in au_columns:
        # an empty cell is NaN (not labelled); text such as 'x' stays and is reported
        check_intensities(df[col].dropna(), f"{source or 'frame index'}: column {col}")


def finish_index(df: pd.DataFrame, au_columns: list[str]) -> pd.DataFrame:
    """Check the invariants every reader shares (:func:`check_index`) and that every media path can
    be written to the UTF-8 CSV and opened by OpenCV (:func:`g2rl.media.opencv_path`), then order
    columns and rows."""
    from g2rl.media import opencv_path

    check_index(df, au_columns)
    for media in df["media"].unique():
        opencv_path(media)
    extra = [c for c in ("split", "partition", "fold") if c in df.columns]
    df = df[INDEX_KEY_COLUMNS + au_columns + extra]
    return df.sort_values(["subject", "session", "frame"], kind="stable").reset_index(drop=True)


def write_frame_index(df: pd.DataFrame, out: str | Path) -> None:
    """Write the index as CSV (atomic)."""
    with atomic_path(out) as tmp:
        df.to_csv(tmp, index=False)


def _line(row: int) -> int:
    """The file line of data row ``row`` (0-based) of a CSV with one header line."""
    return row + 2


def check_index_columns(df: pd.DataFrame, path: Path | str) -> pd.DataFrame:
    """The key columns of an index read back from ``path``: none empty, ``frame`` and ``media_frame``
    whole numbers (``media_frame`` >= 0), one known ``dataset``. A line cut mid-row (a copy interrupted)
    leaves its last cells empty, and sorting such a column later failed with a TypeError; an index
    holding rows of another dataset wrote them into the wrong cache. Every error names the file, the
    line and the column. Returns ``df`` with ``frame`` and ``media_frame`` as int64."""
    df = df.copy()
    for col in [*INDEX_KEY_COLUMNS, "split"]:
        empty = df[col].isna() | (df[col].astype(str).str.strip() == "")
        if empty.any():
            row = int(np.flatnonzero(empty.to_numpy())[0])
            raise DatasetLayoutError(f"{path}: line {_line(row)}: column {col} is empty (a line cut short? "
                                     f"{int(empty.sum())} such line(s))")
    for col, lowest in (("frame", None), ("media_frame", 0)):
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() | (values % 1 != 0) | ((values < lowest) if lowest is not None else False)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            want = "a whole number" + (f" >= {lowest}" if lowest is not None else "")
            value = df[col].iloc[row]
            value = value.item() if isinstance(value, np.generic) else value  # 12.5, not np.float64(12.5)
            raise DatasetLayoutError(f"{path}: line {_line(row)}: column {col} is {value!r}, not {want}")
        df[col] = values.astype(np.int64)
    names = df["dataset"].astype(str)
    unknown = ~names.isin(KNOWN_DATASETS)
    if unknown.any():
        row = int(np.flatnonzero(unknown.to_numpy())[0])
        raise DatasetLayoutError(f"{path}: line {_line(row)}: dataset {names.iloc[row]!r} is not one g2rl reads "
                                 f"(known: {', '.join(KNOWN_DATASETS)})")
    counts = names.value_counts()
    if len(counts) > 1:  # one index per dataset: the rows of the minority do not belong here
        main, other = counts.index[0], counts.index[-1]
        row = int(np.flatnonzero((names == other).to_numpy())[0])
        raise DatasetLayoutError(f"{path}: line {_line(row)}: dataset {other!r} in a {main} frame index "
                                 f"({int(counts.iloc[-1])} such line(s); an index holds one dataset)")
    return df


def read_frame_index(path: str | Path) -> pd.DataFrame:
    """Read a frame index written by `write_frame_index`, with stable dtypes (split stays text).

    The file may have been edited by hand or cut short, so its columns are checked
    (:func:`check_index_columns`: no empty key cell, whole frame numbers, one known dataset) and then
    what the readers check of what they build (:func:`check_index`); every error names the file.
    """
    try:
        df = pd.read_csv(path, dtype={"split": str, "subject": str, "session": str, "partition": str,
                                      "dataset": str, "media": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        # a photo, a binary file, a NUL byte: pandas' own text is a line of parser internals
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise DatasetLayoutError(f"{path}: not a frame index CSV ({reason[:120]})") from None
    missing = [c for c in INDEX_KEY_COLUMNS + ["split"] if c not in df.columns]
    if missing:
        raise DatasetLayoutError(f"{path}: not a frame index (missing columns {missing})")
    df = check_index_columns(df, path)
    check_index(df, [c for c in df.columns if AU_COLUMN_NAME.match(str(c))], path)
    return df
