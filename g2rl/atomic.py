"""Write outputs under a temporary name and rename them when complete.

A job that dies half-way must never leave a file that looks finished: Snakemake (and a
user) would take a truncated HDF5 or CSV for a real result. Every writer in g2rl goes
through :func:`atomic_path`.

Nor may it leave debris: the temporary file (``.<stem>.tmp-<pid><suffix>``, many GB for a crops
cache) is removed when the body fails, on SIGTERM / SIGINT / SIGHUP (scancel, a SLURM time limit,
Ctrl-C), and temporaries of the same output left by a process that no longer exists (SIGKILL,
a node crash) are removed the next time a process writes that output.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from pathlib import Path
from typing import Iterator

_log = logging.getLogger(__name__)

# temporaries being written by this process; removed by the signal handler
_ACTIVE: set[Path] = set()
_PREVIOUS: dict[int, object] = {}
_SIGNALS = tuple(s for s in (getattr(signal, n, None) for n in ("SIGTERM", "SIGINT", "SIGHUP")) if s is not None)


def temporary_path(final: Path, pid: int | None = None) -> Path:
    """The temporary name of ``final`` for process ``pid`` (default: this one)."""
    return final.with_name(f".{final.stem}.tmp-{os.getpid() if pid is None else pid}{final.suffix}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


# directory -> the temporary-looking names it held when this process first wrote there. One
# listing per directory and process: a command writing thousands of files into one folder (overlay
# PNGs) must not list it once per file.
_LISTINGS: dict[Path, list[str]] = {}


def _temporary_names(folder: Path, fresh: bool) -> list[str]:
    if fresh or folder not in _LISTINGS:
        try:
            _LISTINGS[folder] = [e.name for e in os.scandir(folder) if e.name.startswith(".") and ".tmp-" in e.name]
        except OSError:
            _LISTINGS[folder] = []
    return _LISTINGS[folder]


def clear_stale_temporaries(final: str | os.PathLike, fresh: bool = True) -> list[Path]:
    """Remove temporaries of ``final`` whose writing process is gone; return what was removed.

    Only names of the exact form :func:`temporary_path` makes are considered, and only for pids
    that do not exist on this machine (a live pid, even a reused one, keeps its file). ``fresh``:
    list the folder now; False (what :func:`atomic_path` does) reuses this process's first listing
    of the folder, so debris is cleared by the next process that writes there.
    """
    final = Path(final)
    prefix, suffix = f".{final.stem}.tmp-", final.suffix
    removed = []
    names = _temporary_names(final.parent, fresh)
    for name in list(names):
        entry = final.parent / name
        if not (name.startswith(prefix) and name.endswith(suffix)):
            continue
        pid_text = name[len(prefix): len(name) - len(suffix) if suffix else None]
        if not pid_text.isdigit() or int(pid_text) == os.getpid() or _pid_alive(int(pid_text)):
            continue
        names.remove(name)
        try:
            size = entry.stat().st_size
            entry.unlink()
        except OSError:
            continue
        _log.warning("%s: removed a temporary file left by process %s (%.1f MB), which no longer runs",
                     entry, pid_text, size / 1e6)
        removed.append(entry)
    return removed


def _on_signal(signum, frame):
    """Remove this process's temporaries, then do what the signal did before (exit, KeyboardInterrupt)."""
    previous = _PREVIOUS.get(signum, signal.SIG_DFL)
    if previous == signal.SIG_IGN:
        return  # the signal is ignored: keep writing, keep the temporary
    for tmp in list(_ACTIVE):
        with contextlib.suppress(OSError):
            tmp.unlink()
    if callable(previous):
        previous(signum, frame)  # e.g. Python's SIGINT handler: KeyboardInterrupt unwinds normally
        return
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)  # die of the same signal, so the exit status says what happened


def _register(tmp: Path) -> None:
    if not _ACTIVE and threading.current_thread() is threading.main_thread():
        for sig in _SIGNALS:
            with contextlib.suppress(ValueError, OSError):
                _PREVIOUS[sig] = signal.signal(sig, _on_signal)
    _ACTIVE.add(tmp)


def _unregister(tmp: Path) -> None:
    _ACTIVE.discard(tmp)
    if not _ACTIVE and _PREVIOUS and threading.current_thread() is threading.main_thread():
        for sig, previous in list(_PREVIOUS.items()):
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(sig, previous)
        _PREVIOUS.clear()


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``final``; rename it onto ``final`` on success.

    The temporary file lives in the same directory (so the rename is atomic on POSIX)
    and keeps the suffix (so libraries that look at the extension behave). On an
    exception or a terminating signal the temporary file is removed and ``final`` is left
    untouched. An OSError without a file name (ENOSPC from a library's write) or naming the
    temporary gets ``final`` as its file name, so the CLI's one-line message names the output.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    clear_stale_temporaries(final, fresh=False)
    tmp = temporary_path(final)
    _register(tmp)
    try:
        yield tmp
        os.replace(tmp, final)
    except OSError as exc:
        # name the output the user asked for, not its hidden temporary (or nothing at all)
        if exc.filename is None or os.fspath(exc.filename) == os.fspath(tmp):
            raise OSError(exc.errno, exc.strerror or str(exc), os.fspath(final)) from exc
        raise
    finally:
        _unregister(tmp)
        if tmp.exists():
            tmp.unlink()
