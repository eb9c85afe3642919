"""Cold reads for the benchmarks: take a file's pages out of the kernel's page cache and check that they are.

``evict(path)`` asks the kernel to drop the file's cached pages (``posix_fadvise(POSIX_FADV_DONTNEED)``;
any user may, for files they can open; clean pages only, which a read-only cache's are), then reports
what share of the file is still resident, measured with ``mincore`` over a private mapping. Unlike
``echo 3 > /proc/sys/vm/drop_caches`` (root only) it leaves every other file's pages alone, so the
other jobs of a shared machine keep theirs. A cache on a network file system may still be cached by the
server; this measures the host's side only.
"""

from __future__ import annotations

import ctypes
import mmap
import os
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE")


def resident_share(path: str | os.PathLike) -> float:
    """Share (0..1) of ``path``'s pages in the page cache now (mincore)."""
    size = Path(path).stat().st_size
    if size == 0:
        return 0.0
    libc = ctypes.CDLL(None, use_errno=True)
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_COPY) as mm:
        pages = (size + _PAGE - 1) // _PAGE
        vec = (ctypes.c_ubyte * pages)()
        addr = ctypes.addressof(ctypes.c_char.from_buffer(mm))
        if libc.mincore(ctypes.c_void_p(addr), ctypes.c_size_t(size), vec) != 0:
            raise OSError(ctypes.get_errno(), "mincore failed", str(path))
        resident = sum(b & 1 for b in bytes(vec))
        del addr
    return resident / pages


def evict(*paths: str | os.PathLike) -> float:
    """Drop the files' pages from the page cache; return the largest share still resident (0.0 = cold)."""
    worst = 0.0
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
        worst = max(worst, resident_share(path))
    return worst
