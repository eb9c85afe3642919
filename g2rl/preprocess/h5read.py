"""Reading an HDF5 cache so that damage is one line naming the file, never a traceback.

A missing, truncated or non-HDF5 file, a damaged object header (h5py raises KeyError as if a name were
missing) and a chunk failing its fletcher32 checksum (an OSError without a file name) all become a
:class:`G2RLError` naming the file and what could not be read. The writer's counterpart is
:mod:`g2rl.preprocess.h5write`; the layouts and their validation are in :mod:`g2rl.preprocess.cache`.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from g2rl.errors import G2RLError


def read_rows(dataset, index: int | slice, path) -> np.ndarray:
    """``dataset[index]`` (a row or a slice of rows) of an open cache; an OSError (a chunk failing its
    fletcher32 checksum, a cut-short file) becomes :func:`damaged` naming ``path``, the dataset and the rows.
    Also where the read happens inside another file's context (an output being written), which would
    otherwise claim the error as its own."""
    try:
        return dataset[index]
    except OSError as exc:
        rows = f"row {index}" if isinstance(index, int) else f"rows {index.start}..{index.stop - 1}"
        raise damaged(path, exc, f"'{dataset.name.lstrip('/')}' {rows}") from exc


def damaged(path: str | os.PathLike, exc: BaseException, what: str = "its data") -> G2RLError:
    """The error for an HDF5 cache that opened but cannot be read: a chunk failing its fletcher32
    checksum, a cut-short file, a damaged object header. h5py's text is kept in parentheses."""
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0].strip("'\"")
    return G2RLError(f"{path}: cannot read {what} ({reason}): the file is damaged; rebuild it")


@functools.lru_cache(maxsize=None)
def _cache_file_class():
    """``h5py.File`` whose damage is a :class:`G2RLError` naming the file (h5py is imported lazily)."""
    import h5py

    class CacheFile(h5py.File):
        """A cache opened for reading. A damaged object header makes h5py raise KeyError (as if the
        name were missing) and a bad chunk OSError without a file name; both become one line."""

        def __getitem__(self, name):
            try:
                return super().__getitem__(name)
            except KeyError as exc:
                if not self.__contains__(name):  # really absent: the caller's own check reports it
                    raise
                raise damaged(self.filename, exc, f"'{name}'") from exc

        def __exit__(self, exc_type, exc, tb):
            path = self.filename if self.id.valid else "HDF5 file"
            super().__exit__(exc_type, exc, tb)
            # an OSError with a file name (EACCES, ...) already names it; h5py's read errors do not
            if isinstance(exc, OSError) and exc.filename is None and not isinstance(exc, G2RLError):
                raise damaged(path, exc) from exc

    return CacheFile


def open_h5(path: str | os.PathLike):
    """Open an HDF5 cache read-only. A missing, truncated or non-HDF5 file, a damaged object and
    (inside ``with open_h5(path) as f:``) a chunk that fails its checksum -> G2RLError naming it."""
    path = Path(path)
    if not path.is_file():
        raise G2RLError(f"{path}: cache file not found")
    try:
        return _cache_file_class()(path, "r")
    except OSError as exc:
        raise G2RLError(f"{path}: cannot open as HDF5 (truncated or not an HDF5 file: {exc})") from exc
