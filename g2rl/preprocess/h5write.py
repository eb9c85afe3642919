"""Writing an HDF5 cache without crashing on a full disk.

HDF5 (h5py 3.16 / HDF5 2.0) raises an OSError when a write hits ENOSPC, but the file handle is
then left half-closed and freeing it later segfaults the interpreter (exit 139, no message).
Two defences:

* :func:`check_free_space`: the size of a crops cache is known before the first pixel is read
  (N x S x S x 3 bytes of images plus the geometry), so a disk that cannot hold it is refused
  with one line before any work.
* :func:`h5_output`: if a write still fails (another job filled the disk meanwhile), the file
  is closed if HDF5 can; if it cannot, its handles are parked and the garbage collector stopped
  (freeing them would segfault), the temporary is removed, and an ``OSError`` naming the output
  reaches the CLI, which prints one line and exits 2 at once, without the interpreter's
  finalisation (:func:`g2rl.errors.mark_unrecoverable`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Iterator

from g2rl.atomic import atomic_path
from g2rl.errors import G2RLError, mark_unrecoverable
from g2rl.preprocess.h5read import DIGEST_ATTR, dataset_digest

# h5py objects whose file failed to close: freeing them would segfault, so they live until exit
_PARKED: list = []
# headroom on top of the estimate: HDF5 metadata, B-tree nodes, filesystem blocks
MARGIN_BYTES = 1 << 20
MARGIN_SHARE = 0.02


def free_bytes(path: str | os.PathLike) -> int:
    """Free bytes (for this user) on the filesystem that holds ``path`` (or its nearest existing parent)."""
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return shutil.disk_usage(p).free


def check_free_space(out: str | os.PathLike, needed: int, what: str) -> None:
    """Raise :class:`G2RLError` naming ``out`` when its filesystem has less than ``needed`` bytes free
    (plus a small margin for HDF5's own metadata). ``what`` says what the bytes are, for the message."""
    want = int(needed * (1 + MARGIN_SHARE)) + MARGIN_BYTES
    free = free_bytes(Path(out).parent)
    if free < want:
        raise G2RLError(
            f"{out}: not enough free space: {what} needs about {want / 1e6:.1f} MB, the disk has "
            f"{free / 1e6:.1f} MB free (nothing written; free space or choose another --out)"
        )


def checksum_options(dtype) -> dict:
    """``fletcher32=True`` for a numeric dtype: HDF5 stores a checksum per chunk and a read of a
    chunk whose bytes changed fails (instead of returning them). Variable-length strings cannot
    carry filters in HDF5 ("not suitable for filters"); their few short keys go without."""
    import h5py
    import numpy as np

    return {} if h5py.check_string_dtype(np.dtype(dtype)) or np.dtype(dtype) == object else {"fletcher32": True}


def write_content_digests(f, names, path) -> None:
    """Store the SHA-256 of each dataset in ``names`` (those ``f`` holds) in ``f``'s content digest
    attribute (:data:`g2rl.preprocess.h5read.DIGEST_ATTR`), read back from the file being written, so
    that :func:`g2rl.preprocess.h5read.verify_content_digests` can check them on every open. ``f``: an
    open, writable ``h5py.File`` or the object :func:`h5_output` yields; ``path``: for messages."""
    import json

    file = getattr(f, "file", f)
    file.flush()
    f.attrs[DIGEST_ATTR] = json.dumps({name: dataset_digest(file[name], path) for name in names if name in file})


class _Tracked:
    """An ``h5py.File`` whose created datasets are remembered, so a failed close can park them all.
    Every numeric dataset is created with a checksum (:func:`checksum_options`)."""

    def __init__(self, f):
        self.file = f
        self.objects = [f]

    def create_dataset(self, name, shape=None, dtype=None, data=None, **kwargs):
        import numpy as np

        kind = dtype if dtype is not None else np.asarray(data).dtype
        ds = self.file.create_dataset(name, shape, dtype, data, **{**checksum_options(kind), **kwargs})
        self.objects.append(ds)
        return ds

    @property
    def attrs(self):
        return self.file.attrs

    def flush(self) -> None:
        self.file.flush()


@contextlib.contextmanager
def h5_output(final: str | os.PathLike) -> Iterator[tuple[_Tracked, Path]]:
    """Yield ``(file, temporary path)`` for a new HDF5 file that becomes ``final`` on success.

    Create datasets through the yielded object (``file.create_dataset``, ``file.attrs``). On any
    error the temporary is removed (:func:`g2rl.atomic.atomic_path`) and the error propagates; an
    error while closing after a failed write is folded into that error instead of a segfault.
    """
    import h5py

    with atomic_path(final) as tmp:
        tracked = _Tracked(h5py.File(tmp, "w"))
        try:
            yield tracked, tmp
        except BaseException:
            try:
                tracked.file.close()
            except Exception:  # noqa: BLE001 - HDF5 cannot close a file whose writes failed
                _poisoned(tracked, tmp)
            raise
        try:
            tracked.file.close()
        except OSError:
            _poisoned(tracked, tmp)
            raise


def _poisoned(tracked: _Tracked, tmp: Path) -> None:
    """HDF5 failed to close ``tmp``: keep its handles alive, stop the cyclic garbage collector (which
    would free h5py's internal ids and segfault) and tell the CLI to exit without finalisation."""
    import gc

    _PARKED.extend(tracked.objects)
    gc.disable()
    mark_unrecoverable(f"HDF5 could not close {tmp} after a failed write")
