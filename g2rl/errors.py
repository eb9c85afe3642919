"""Errors that mean "the input is wrong", as opposed to a bug in g2rl.

The CLI prints these, and any OSError (a missing file, EACCES, EROFS, ENOSPC), as one line
naming the file and the problem (no traceback; ``-v`` adds it) and exits with status 2:
:func:`report_error`. Anything else is a bug and keeps its traceback. Ctrl-C (SIGINT) is the
user's choice, not an error: one line and the shell's status 130 (:func:`report_interrupt`).
"""

import os


class G2RLError(RuntimeError):
    """Bad input: a file, a dataset layout or a config value. The message names it."""


class ConfigError(G2RLError):
    """The workflow configuration is invalid; the message names the key."""


class DatasetLayoutError(G2RLError):
    """A BP4D / DISFA tree does not match the configured layout; the message names the path."""


class MediaError(G2RLError):
    """A video or image cannot be read; the message names the file."""


class UnusableImageError(MediaError):
    """An image file that exists but whose picture cannot be used (cut short, damaged, empty, or larger
    than g2rl decodes). The pipeline stops on it; ``g2rl predict`` gives that frame ``success=0``."""


class TruncatedImageError(UnusableImageError):
    """An image file is cut short (a JPEG without its end): decoders return it grey-filled, which
    must never be taken for a face. The pipeline stops on it; ``g2rl predict`` records no face."""


def describe_error(exc: BaseException) -> str:
    """``<path>: <reason>`` for an OSError (``PermissionError(13, 'Permission denied', 'x')`` ->
    ``x: permission denied``), else the exception's own message (a G2RLError names its file)."""
    if isinstance(exc, OSError) and not isinstance(exc, G2RLError):
        # the C library's text for the errno: h5py puts a multi-line driver report in strerror
        known = isinstance(exc.errno, int) and exc.errno > 0
        reason = (os.strerror(exc.errno) if known else exc.strerror) or str(exc) or type(exc).__name__
        reason = reason[:1].lower() + reason[1:]
        if exc.filename is not None and exc.filename2 is not None:
            return f"{exc.filename} -> {exc.filename2}: {reason}"
        if exc.filename is not None:
            return f"{exc.filename}: {reason}"
        return reason
    return str(exc)


INTERRUPTED_STATUS = 130  # what a shell reports for a process ended by SIGINT (128 + 2)


def report_interrupt(command: str, note: str | None = None) -> int:
    """Print ``g2rl <command>: interrupted[; <note>]`` to stderr and return 130: the one way every
    command answers Ctrl-C (no traceback). ``note`` says what was or was not written."""
    import sys

    print(f"g2rl {command}: interrupted" + (f"; {note}" if note else ""), file=sys.stderr)
    return INTERRUPTED_STATUS


# Reasons this process cannot be finalised safely (a native library left in a broken state);
# :func:`report_error` then ends the process at once instead of returning.
_UNRECOVERABLE: list[str] = []


def mark_unrecoverable(reason: str) -> None:
    """Record that the interpreter must not run its finalisation (e.g. HDF5 after a failed close)."""
    _UNRECOVERABLE.append(reason)


def report_error(command: str, exc: BaseException, verbose: bool = False) -> int:
    """Print ``g2rl <command>: error: <path>: <reason>`` to stderr (and the traceback when
    ``verbose``); return the exit status 2. The one place the CLI turns an error into a line.
    After :func:`mark_unrecoverable` it exits the process with status 2 instead of returning."""
    import sys
    import traceback

    if verbose:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    print(f"g2rl {command}: error: {describe_error(exc)}", file=sys.stderr)
    if _UNRECOVERABLE:
        # finalisation would free the broken native objects and segfault (exit 139, after the line)
        import logging

        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(2)
    return 2
