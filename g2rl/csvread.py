"""Reading a CSV the user pointed at: a missing or unreadable file is one :class:`G2RLError` naming it."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from g2rl.errors import G2RLError


def read_csv_file(path: str | os.PathLike, what: str = "CSV", **read_csv_kwargs) -> pd.DataFrame:
    """``pd.read_csv(path, **read_csv_kwargs)``; raises G2RLError '<path>: <what> not found' or
    '<path>: not a readable CSV (<why>)' instead of a pandas traceback."""
    path = Path(path)
    if not path.is_file():
        raise G2RLError(f"{path}: {what} not found")
    try:
        return pd.read_csv(path, **read_csv_kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise G2RLError(f"{path}: not a readable CSV ({exc})") from None
