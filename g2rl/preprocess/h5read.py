"""Reading an HDF5 cache so that damage is one line naming the file, never a traceback.

A missing, truncated or non-HDF5 file, a damaged object header (h5py raises KeyError as if a name were
missing) and a chunk failing its fletcher32 checksum (an OSError without a file name) all become a
:class:`G2RLError` naming the file and what could not be read. The writer's counterpart is
:mod:`g2rl.preprocess.h5write`; the layouts and their validation are in :mod:`g2rl.preprocess.cache`.

Content digests (:func:`verify_content_digests`): fletcher32 cannot see a 16-bit word turned from
0x0000 into 0xFFFF or back (both are zero in its ones'-complement sums: a label 0.0 became NaN and the
training went on). The small datasets that decide what is learnt (labels, landmarks, AU points, frame
keys, splits) therefore carry a SHA-256 of their content in the file's ``content_sha256`` attribute,
written with the file and checked when it is opened, once per process and file.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np

from g2rl.errors import G2RLError

_log = logging.getLogger(__name__)

# the attribute holding {dataset name: SHA-256 hex} of a cache's small datasets
DIGEST_ATTR = "content_sha256"
# files whose digests this process checked (or warned about): (path, device, inode, size, mtime)
_VERIFIED: set[tuple] = set()


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


def dataset_digest(dataset, path) -> str:
    """SHA-256 (hex) of an HDF5 dataset's content: its dtype, shape and every value's bytes (variable-length
    strings as their stored bytes, each prefixed by its length). Read with :func:`read_rows`, so a chunk
    failing its fletcher32 checksum is an error naming ``path``."""
    import numpy as np

    data = read_rows(dataset, slice(0, dataset.shape[0]), path) if dataset.shape else dataset[()]
    digest = hashlib.sha256(f"{dataset.dtype.str}{dataset.shape}".encode())
    if data.dtype == object:  # variable-length strings: h5py gives bytes
        for value in data.reshape(-1):
            raw = value if isinstance(value, bytes) else str(value).encode("utf-8")
            digest.update(len(raw).to_bytes(8, "little") + raw)
    else:
        digest.update(np.ascontiguousarray(data).tobytes())
    return digest.hexdigest()


def verify_content_digests(f, path) -> None:
    """Check each dataset listed in ``f``'s :data:`DIGEST_ATTR` against its content; raise
    :class:`G2RLError` naming the file and the dataset on a mismatch. A file without the attribute
    (written before it existed) is read with a warning, once per process. Each file is checked once per
    process (identified by device, inode, size and modification time: a rebuilt file is checked again)."""
    st = os.stat(f.filename)
    key = (os.path.realpath(f.filename), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    if key in _VERIFIED:
        return
    if DIGEST_ATTR not in f.attrs:
        _log.warning("%s: written before caches carried content digests: its labels, landmarks and keys are "
                     "checked by HDF5's fletcher32 only, which misses some damage; rebuild it to get the check",
                     path)
        _VERIFIED.add(key)
        return
    raw = f.attrs[DIGEST_ATTR]
    try:
        expected = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except (ValueError, AttributeError):
        raise G2RLError(f"{path}: attribute {DIGEST_ATTR!r} is not readable: the file is damaged; rebuild it") from None
    for name, want in expected.items():
        if name not in f:
            raise G2RLError(f"{path}: dataset {name!r} is missing although the file's digests list it: the file "
                            "is damaged; rebuild it")
        if dataset_digest(f[name], path) != want:
            raise G2RLError(f"{path}: dataset {name!r} does not match its content digest (SHA-256 written with "
                            "the file): it was changed or damaged after it was written; rebuild it")
    _VERIFIED.add(key)
