"""Cold reads for the benchmarks: take a file's pages out of the kernel's page cache and check that they are.

``evict(path)`` asks the kernel to drop the file's cached pages (``posix_fadvise(POSIX_FADV_DONTNEED)``;
any user may, for files they can open; clean pages only, which a read-only cache's are), then reports
what share of the file is still resident, measured with ``mincore`` over a shared read-only mapping. Unlike
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
    """Share (0..1) of ``path``'s pages in the page cache now (mincore over a shared read-only mapping: a
    private one must be backed by memory for copy-on-write, which the kernel refuses for a file larger than
    RAM, the case cold reads are measured on)."""
    size = Path(path).stat().st_size
    if size == 0:
        return 0.0
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    pages = (size + _PAGE - 1) // _PAGE
    vec = (ctypes.c_ubyte * pages)()
    with open(path, "rb") as fh:
        addr = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fh.fileno(), 0)
        if addr in (None, ctypes.c_void_p(-1).value):
            raise OSError(ctypes.get_errno(), "mmap failed", str(path))
        try:
            if libc.mincore(addr, size, vec) != 0:
                raise OSError(ctypes.get_errno(), "mincore failed", str(path))
        finally:
            libc.munmap(addr, size)
    return sum(b & 1 for b in bytes(vec)) / pages


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
