"""Fault fixtures for the reliability tests: small tmpfs mounts that are full or read-only.

Mounting needs root (the project's test machines run tests as root); elsewhere the tests that
need a mount are skipped with the reason, never passed silently.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import pytest


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "256k", read_only: bool = False):
    """Mount a tmpfs of ``size`` at ``path`` (created) for the block; skip the test if not permitted."""
    path.mkdir(parents=True, exist_ok=True)
    opts = f"size={size}" + (",ro" if read_only else "")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (needs root): {r.stderr.strip() or r.returncode}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(path: Path, leave: int = 0) -> None:
    """Fill the filesystem holding ``path`` so that at most ``leave`` bytes stay free."""
    free = os.statvfs(path).f_bavail * os.statvfs(path).f_frsize
    filler = path / "filler.bin"
    with open(filler, "wb") as fh:
        with contextlib.suppress(OSError):
            fh.write(b"\0" * max(0, free - leave))
