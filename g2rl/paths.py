"""Guards on a command's output paths, checked in each command's CLI layer before any work.

:func:`refuse_output_over_input`: an output that resolves to one of the command's inputs (the
same path, a symlink to it, or a hard link of it) would destroy the input (``g2rl landmarks v.avi
--out v.avi``), so every command names its inputs and outputs here and is refused with one line
before it reads anything.

The same call refuses an output path that exists and is not a regular file (a folder, a device such
as ``/dev/null``, a FIFO, a socket): every output is written under a temporary name and renamed
onto its path (:mod:`g2rl.atomic`), which would replace the device node or FIFO by a regular file
(as root, ``--out /dev/null`` would replace the machine's ``/dev/null``) or fail on a folder after
all the work. Files a command appends to (``g2rl train --log``) are not replaced, so a device or FIFO
is fine there: they are passed as ``appended`` and only compared with the inputs.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterable, Mapping

from g2rl.errors import G2RLError

PathLike = str | os.PathLike


def _identity(path: PathLike) -> tuple[int, int] | None:
    """(device, inode) of the file a path resolves to (symlinks followed); None if there is none."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


# what a path that exists and is not a regular file is, for the message (checked in this order)
_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"))


def _special_kind(path: PathLike) -> str | None:
    """What ``path`` is when it exists (symlinks followed) and is not a regular file, else None."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None  # absent (or a dangling link): the output will be created
    if stat.S_ISREG(mode):
        return None
    return next((kind for test, kind in _KINDS if test(mode)), "not a regular file")


def _files(path: PathLike) -> Iterable[Path]:
    """The path itself, and for a folder the entries directly inside it (what a folder input reads)."""
    p = Path(path)
    yield p
    if p.is_dir():
        try:
            yield from p.iterdir()
        except OSError:
            return


def refuse_output_over_input(command: str, outputs: Mapping[str, PathLike | None],
                             inputs: Mapping[str, Iterable[PathLike] | PathLike | None],
                             appended: Mapping[str, PathLike | None] | None = None) -> None:
    """Raise :class:`G2RLError` when an output exists and is not a regular file, or is the same file as an input.

    Args:
        command: the command name for the message (e.g. ``"landmarks"``).
        outputs: option name -> output path (``None`` entries are skipped). An output that does
            not exist yet cannot be an input, so only existing ones are compared.
        inputs: option name -> an input path or several; a folder input also covers the files
            directly inside it.
        appended: option name -> a file the command appends to instead of replacing (a log): it may
            be a device or a FIFO, but not an input.

    Identity is the (device, inode) pair after following symlinks, so a symlink or a hard link to
    an input is refused as well as the same path.
    """
    for name, out in outputs.items():
        kind = None if out is None else _special_kind(out)
        if kind is not None:
            raise G2RLError(
                f"{out}: {name} is {kind}, not a regular file; `g2rl {command}` writes its output under a temporary "
                "name and renames it onto that path, which would replace it (nothing was done; choose a file path)"
            )
    existing = {}
    for name, out in {**outputs, **(appended or {})}.items():
        if out is None:
            continue
        ident = _identity(out)
        if ident is not None:
            existing[ident] = (name, out)
    if not existing:
        return
    for name, value in inputs.items():
        if value is None:
            continue
        paths = [value] if isinstance(value, (str, os.PathLike)) else list(value)
        for path in paths:
            for candidate in _files(path):
                ident = _identity(candidate)
                if ident in existing:
                    out_name, out = existing[ident]
                    what = "is" if os.fspath(candidate) == os.fspath(out) else f"resolves to {candidate}, which is"
                    raise G2RLError(
                        f"{out}: {out_name} {what} an input of `g2rl {command}` ({name}); refusing to overwrite it "
                        "(nothing was done; choose another output path)"
                    )


def ensure_writable_dir(folder: PathLike) -> Path:
    """Create ``folder`` (and parents) and prove a file can be created in it, before any work.

    Raises the OSError of the failing step (EACCES, EROFS, ...; the CLI prints it as one line
    naming the path), so a read-only or forbidden output location is reported before hours of
    computing rather than after. A full disk can still fail later: that is the writers' concern.
    """
    import tempfile

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        fd, probe = tempfile.mkstemp(prefix=".g2rl-write-probe-", dir=folder)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, os.fspath(folder)) from exc
    os.close(fd)
    os.unlink(probe)
    return folder
