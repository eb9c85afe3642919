"""Turn the command line's INPUT paths into units of work.

A *unit* is what the landmark stage sees as one stream of frames:

* ``video``: one video file; the face is followed from frame to frame (fast tracked path).
* ``sequence``: a folder of images holding the frames of one video (``--sequence``), in natural
  numeric order (``9.jpg`` before ``10.jpg``); followed like a video.
* ``photos``: unrelated images, each detected on its own: a folder without ``--sequence``, or
  consecutive image files named on the command line (grouped so the network sees full batches).

A path that does not exist, cannot be read (permissions), is neither a video nor an image, or a
folder without images or whose listing is refused, is a *failure*: reported by name and skipped,
while the other inputs are processed. So are a dangling symbolic link or a link loop (given, or
inside a folder where its name or its target's is an image's), and a file or folder whose name
is not valid UTF-8: OpenCV cannot open it (it crashes on such names), so it is never given one;
the report writes the name's odd bytes as ``\\xNN`` (:func:`g2rl.media.printable_path`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from g2rl.media import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    broken_image_links,
    broken_link,
    folder_images,
    has_utf8_name,
    is_image,
    is_video,
    printable_path,
)

NOT_UTF8 = "the name is not valid UTF-8, which OpenCV cannot open (rename it)"


@dataclass(frozen=True)
class Unit:
    """One stream of frames.

    Attributes:
        kind: ``video``, ``sequence`` or ``photos``.
        path: the video, the folder, or (loose photos) the first image named.
        files: the image files in order (empty for a video).
        name: a short label (file stem or folder name) for progress bars and overlay folders.
    """

    kind: str
    path: Path
    files: tuple[Path, ...] = ()
    name: str = ""


def _strerror(exc: OSError) -> str:
    return os.strerror(exc.errno) if exc.errno else str(exc)


def _unreadable(path: Path) -> str | None:
    """Why a file cannot be opened for reading (e.g. "Permission denied"), or None when it can:
    checked up front so that the report says so instead of OpenCV's "cannot decode"."""
    try:
        with open(path, "rb"):
            return None
    except OSError as exc:
        return f"cannot open the file ({_strerror(exc)})"


def plan_units(inputs: Sequence[str | os.PathLike], sequence: bool = False) -> tuple[list[Unit], list[tuple[str, str]]]:
    """Units for ``inputs`` in command-line order, and the inputs that cannot be used.

    Returns:
        (units, failures) where failures is a list of (path as given, reason).
    """
    units: list[Unit] = []
    failures: list[tuple[str, str]] = []
    loose: list[Path] = []  # consecutive image files, flushed into one photos unit

    def flush() -> None:
        if loose:
            units.append(Unit("photos", loose[0], tuple(loose), "images"))
            loose.clear()

    for given in inputs:
        path = Path(given)
        if not has_utf8_name(path):  # cv2 would crash on it, not fail
            failures.append((printable_path(path), NOT_UTF8))
        elif path.is_dir():
            flush()
            try:
                images = folder_images(path)
                failures.extend(broken_image_links(path))
            except OSError as exc:  # e.g. a folder without read permission
                failures.append((str(given), f"cannot list the folder ({_strerror(exc)})"))
                continue
            odd = [p for p in images if not has_utf8_name(p)]
            failures.extend((printable_path(p), NOT_UTF8) for p in odd)
            images = [p for p in images if has_utf8_name(p)] if odd else images
            if not images:
                if not odd:
                    failures.append((str(given), "folder holds no image files "
                                                  f"({', '.join(sorted(IMAGE_SUFFIXES))})"))
                continue
            name = path.resolve().name or "images"
            units.append(Unit("sequence" if sequence else "photos", path, tuple(images), name))
        elif (link := broken_link(path)) is not None:
            failures.append((str(given), link))
        elif not path.exists():
            failures.append((str(given), "no such file or folder"))
        elif path.is_file() and (problem := _unreadable(path)) is not None:
            failures.append((str(given), problem))
        elif is_video(path):
            flush()
            units.append(Unit("video", path, (), path.stem))
        elif is_image(path):
            loose.append(path)
        else:
            failures.append((str(given), "not a video (" + ", ".join(sorted(VIDEO_SUFFIXES)) + ") or image ("
                             + ", ".join(sorted(IMAGE_SUFFIXES)) + ") file"))
    flush()
    return units, failures
