"""Write outputs under a temporary name and rename them when complete.

A job that dies half-way must never leave a file that looks finished: Snakemake (and a
user) would take a truncated HDF5 or CSV for a real result. Every writer in g2rl goes
through :func:`atomic_path`.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``final``; rename it onto ``final`` on success.

    The temporary file lives in the same directory (so the rename is atomic on POSIX)
    and keeps the suffix (so libraries that look at the extension behave). On an
    exception the temporary file is removed and ``final`` is left untouched.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.stem}.tmp-{os.getpid()}{final.suffix}")
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()
