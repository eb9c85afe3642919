"""The output side of ``g2rl predict``: checked before any work, rescued if it fails at the end.

A run can take hours; finding only at the end that ``--out`` sits in a missing, read-only or
full folder would throw all of it away. So:

* :func:`check_csv_target` and :func:`check_overlay_folder` run before the checkpoint is
  loaded or any input is read: a missing folder, a folder that cannot be written (permissions,
  read-only file system), or a disk with less free space than the CSV will need is one error
  naming the path.
* If writing the CSV still fails at the end (the disk filled meanwhile, the folder was
  removed), :func:`write_or_rescue` writes the computed table to a fallback location (the
  temporary folder, else the working directory, else the home folder) and raises
  :class:`OutputWriteError` naming both paths, so nothing computed is lost.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

from g2rl.errors import G2RLError
from g2rl.predict.inputs import Unit

log = logging.getLogger("g2rl.predict")

PROBE_BYTES = 4096  # written (and fsynced) by the probe: a full disk refuses even this


class OutputWriteError(G2RLError):
    """The CSV could not be written at the end of a run.

    Attributes:
        out: the requested path; reason: why it failed.
        saved_to: where the computed rows were written instead (None if nowhere worked).
    """

    def __init__(self, out: Path, reason: str, saved_to: Path | None, n_rows: int):
        self.out, self.reason, self.saved_to = out, reason, saved_to
        where = (f"the {n_rows} computed rows were saved to {saved_to}" if saved_to is not None
                 else "the computed rows could not be saved anywhere (tried the temporary folder, the working "
                      "directory and the home folder)")
        super().__init__(f"{out}: cannot write the CSV ({reason}); {where}")


def _reason(exc: OSError) -> str:
    return os.strerror(exc.errno) if exc.errno else str(exc)


def probe_folder(folder: Path, what: str) -> None:
    """Write, fsync and remove a small hidden file in ``folder``; G2RLError naming ``what`` and
    the reason (permission denied, read-only file system, no space left) when that fails."""
    try:
        fd, name = tempfile.mkstemp(prefix=".g2rl-write-test-", dir=folder)
    except OSError as exc:
        raise G2RLError(f"{what}: cannot write in {folder} ({_reason(exc)})") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(b"\0" * PROBE_BYTES)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise G2RLError(f"{what}: cannot write in {folder} ({_reason(exc)})") from exc
    finally:
        try:
            os.unlink(name)
        except OSError:
            pass


def estimate_csv_bytes(units: Sequence[Unit], n_aus: int, landmarks: bool, max_frames: int | None) -> int:
    """A generous estimate of the CSV's size (bytes): rows from the videos' headers and the image
    counts, times the longest row the columns can give."""
    from g2rl.errors import MediaError
    from g2rl.media import video_info

    size = 200  # header
    for unit in units:
        if unit.kind == "video":
            try:
                count = video_info(unit.path)[0]
            except MediaError:
                continue  # reported (and skipped) when the unit runs
            count = min(count, max_frames) if max_frames else count
            names = [str(unit.path)]
        else:
            count = len(unit.files)
            names = [str(p) for p in unit.files]
        longest = max(len(n.encode()) for n in names)
        # file, frame, face_id, timestamp, confidence, success, detector_score ~ 50 chars; face box and
        # pose ~ 10 x 10; AU "4.1234," (and "1," with --occurrence)
        row = longest + 50 + 100 + 9 * n_aus + (136 * 10 if landmarks else 0)
        size += max(count, 0) * row
    return size


def check_csv_target(out: str | os.PathLike, needed_bytes: int = 0) -> None:
    """Before any work: ``out`` can be written (its folder exists, is writable, has room).

    Raises:
        G2RLError naming ``out`` and the problem.
    """
    out = Path(out)
    if out.is_dir():
        raise G2RLError(f"{out}: --out is a folder; give a CSV file name")
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.exists():
        raise G2RLError(f"{out}: the folder {folder} does not exist (create it first)")
    if not folder.is_dir():
        raise G2RLError(f"{out}: {folder} is not a folder")
    probe_folder(folder, str(out))
    free = shutil.disk_usage(folder).free
    if needed_bytes > free:
        raise G2RLError(f"{out}: {folder} has {free / 1e6:.1f} MB free, the CSV needs about "
                        f"{needed_bytes / 1e6:.1f} MB")


def check_overlay_folder(folder: str | os.PathLike) -> None:
    """Before any work: the ``--heatmaps`` folder exists or can be created, and can be written.

    Raises:
        G2RLError naming the folder and the problem.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise G2RLError(f"{folder}: --heatmaps is a file; give a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise G2RLError(f"{folder}: cannot create the --heatmaps folder ({_reason(exc)})") from exc
    probe_folder(folder, str(folder))


def _fallback_folders() -> list[Path]:
    folders = [Path(tempfile.gettempdir()), Path.cwd()]
    try:
        folders.append(Path.home())
    except RuntimeError:  # no home folder known
        pass
    return folders


def write_or_rescue(table: pd.DataFrame, out: str | os.PathLike,
                    write: Callable[[pd.DataFrame, Path], None]) -> None:
    """``write(table, out)``; if that fails with an OSError, write the same table to a fallback
    folder and raise :class:`OutputWriteError` saying where (nothing computed is lost)."""
    out = Path(out)
    try:
        write(table, out)
        return
    except OSError as exc:
        reason = _reason(exc)
        log.error("%s: cannot write the CSV (%s); saving the computed rows elsewhere", out, reason)
    for folder in _fallback_folders():
        rescue = folder / f"{out.stem}.rescued-{os.getpid()}.csv"
        try:
            if rescue.resolve() == out.resolve():
                continue
            write(table, rescue)
        except OSError as exc:
            log.error("%s: cannot save the rows there either (%s)", rescue, _reason(exc))
            continue
        raise OutputWriteError(out, reason, rescue, len(table))
    raise OutputWriteError(out, reason, None, len(table))
