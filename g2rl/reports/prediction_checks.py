"""Column checks for a predictions CSV (docs/CONTRACTS.md) before any metric is computed.

A hand-made or damaged file must not produce a metric: a line cut short (its missing fields
would read as "unlabelled"), a true label of 9 (BP4D's "not coded") or outside 0-5, a prediction
that is negative, infinite or not a number, a frame number that is not an integer. Each problem
raises :class:`G2RLError` naming the file, the line and the value.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pandas as pd

from g2rl.errors import G2RLError

MAX_INTENSITY = 5.0


def check_field_counts(path: str | os.PathLike) -> None:
    """Every line has as many fields as the header (a truncated last line does not)."""
    path = Path(path)
    with open(path, newline="", errors="replace") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            return  # an empty file is reported by the reader
        for line, row in enumerate(reader, start=2):
            if row and len(row) != len(header):
                raise G2RLError(
                    f"{path}: line {line} has {len(row)} fields, the header has {len(header)} (truncated file?)"
                )


def _shown(value) -> str:
    """A cell as the user wrote it: text quoted, numbers plain (not ``np.int64(9)``)."""
    if isinstance(value, str):
        return repr(value)
    return str(value.item() if hasattr(value, "item") else value)


def _line(df: pd.DataFrame, mask: np.ndarray) -> int:
    """The file line of the first row where ``mask`` holds (header = line 1)."""
    return int(np.flatnonzero(mask)[0]) + 2


def check_columns(df: pd.DataFrame, aus: list[str], path: str | os.PathLike) -> pd.DataFrame:
    """Validate ``frame``, ``<AU>_pred`` and ``<AU>_true``; return ``df`` with them numeric.

    frame: integers. <AU>_pred: finite numbers >= 0 (empty = no prediction, caught later if the
    frame is labelled). <AU>_true: empty (unlabelled) or a number in 0..5.
    """
    df = df.copy()
    frame = pd.to_numeric(df["frame"], errors="coerce")
    bad = frame.isna().to_numpy() | (frame.fillna(0) % 1 != 0).to_numpy()
    if bad.any():
        raise G2RLError(f"{path}: line {_line(df, bad)}: frame {_shown(df['frame'].iloc[int(np.flatnonzero(bad)[0])])} "
                        "is not an integer")
    df["frame"] = frame.astype(np.int64)
    for au in aus:
        for col, kind in ((f"{au}_pred", "prediction"), (f"{au}_true", "true label")):
            raw = df[col]
            values = pd.to_numeric(raw, errors="coerce").astype(float)
            text = raw.notna().to_numpy() & values.isna().to_numpy()
            if kind == "prediction":
                wrong = text | (values.notna() & ~(np.isfinite(values) & (values >= 0))).to_numpy()
                rule = "a finite number >= 0"
            else:
                wrong = text | (values.notna() & ~values.between(0, MAX_INTENSITY)).to_numpy()
                rule = "empty (unlabelled) or a number in 0-5"
            if wrong.any():
                first = int(np.flatnonzero(wrong)[0])
                raise G2RLError(f"{path}: line {first + 2}: {col} {_shown(raw.iloc[first])} is not a valid {kind} "
                                f"(must be {rule}; {int(wrong.sum())} such value(s))")
            df[col] = values
    return df
