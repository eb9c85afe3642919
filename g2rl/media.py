"""Reading frames from videos and image files (RGB uint8 arrays).

One place for media I/O so that every stage (dataset readers, landmarks, predict)
sees the same frames with the same channel order: RGB, shape (H, W, 3), dtype uint8.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path
from typing import Iterator

import numpy as np

VIDEO_SUFFIXES = {".avi", ".mp4", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


from g2rl.errors import MediaError, TruncatedImageError  # noqa: E402  (re-exported for callers)

# JPEG markers: start of image, start of scan, end of image
_JPEG_SOI, _JPEG_SOS, _JPEG_EOI = b"\xff\xd8", b"\xff\xda", b"\xff\xd9"


def _cv2():
    import cv2  # imported lazily: OpenCV is slow to import and not needed by every command

    return cv2


def printable_path(path: str | os.PathLike) -> str:
    """``path`` as text that prints and encodes anywhere: bytes that are not UTF-8 appear as ``\\xNN``
    (``b'caf\\xe9.jpg'`` -> ``caf\\xe9.jpg``), not as the lone surrogates Python decodes them to."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def has_utf8_name(path: str | os.PathLike) -> bool:
    """True when ``path``'s bytes are UTF-8: only then may OpenCV be given it (it needs UTF-8 and
    crashes with SIGSEGV on other names instead of raising) and a UTF-8 CSV hold it."""
    try:
        os.fspath(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def opencv_path(path: str | os.PathLike) -> str:
    """``path`` as the str OpenCV is given. A name that is not valid UTF-8 reaches Python as lone
    surrogates, which OpenCV's binding turns into a segfault (exit 139), and could not be written to
    the UTF-8 CSVs either: :class:`MediaError` naming it instead."""
    if not has_utf8_name(path):
        raise MediaError(f"{printable_path(path)}: file name is not valid UTF-8 (rename the file or folder; "
                         f"media names must be UTF-8)")
    return os.fspath(path)


def jpeg_is_truncated(data: bytes) -> bool:
    """True when ``data`` is a JPEG stream that stops before its end-of-image marker after the last
    start-of-scan (entropy-coded data never holds FF D9, so it only appears as the real end; bytes
    after it are allowed). libjpeg decodes such a file grey-filled with nothing but a warning."""
    if not data.startswith(_JPEG_SOI):
        return False
    last_scan = data.rfind(_JPEG_SOS)
    return last_scan < 0 or data.find(_JPEG_EOI, last_scan + 2) < 0


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def is_image(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def video_info(path: str | Path) -> tuple[int, float, int, int]:
    """Return (frame_count, fps, width, height) from the container's metadata.

    The count comes from the header; :func:`iter_video_frames` yields what can really be
    decoded, which the landmark stage checks against the frame index.
    """
    cv2 = _cv2()
    name = opencv_path(path)
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: video file not found")
    cap = cv2.VideoCapture(name)
    try:
        if not cap.isOpened():
            raise MediaError(f"{path}: cannot open video (unknown codec or corrupt file)")
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(cap.get(cv2.CAP_PROP_FPS)) or 0.0
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    finally:
        cap.release()
    return count, fps, width, height


def iter_video_frames(path: str | Path) -> Iterator[np.ndarray]:
    """Yield the frames of a video in order as RGB uint8 arrays (H, W, 3)."""
    cv2 = _cv2()
    name = opencv_path(path)
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: video file not found")
    cap = cv2.VideoCapture(name)
    if not cap.isOpened():
        cap.release()
        raise MediaError(f"{path}: cannot open video (unknown codec or corrupt file)")
    try:
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()


def truncation_note(path: str | Path, decoded: int, max_frames: int | None = None) -> str | None:
    """``"<path>: decoded K of N frames ..."`` when a video yielded fewer frames than its container
    declares (a truncated or damaged file), else None.

    ``decoded``: how many frames :func:`iter_video_frames` gave; ``max_frames``: the caller's own
    limit, if any (stopping there is not truncation). For commands that read whole videos (landmarks,
    predict) to warn with, and for stages whose labels need the frames to put in their error.
    """
    declared = video_info(path)[0]
    wanted = declared if max_frames is None else min(declared, max_frames)
    if declared <= 0 or decoded >= wanted:
        return None
    return (f"{path}: decoded {decoded} of {declared} frames (the container declares {declared}; the file is "
            f"truncated or damaged after frame {decoded - 1})")


def natural_key(path: Path) -> list:
    """Sort key that orders 9.jpg before 10.jpg (BP4D mixes zero-padding widths within a release)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", Path(path).name)]


def folder_images(folder: str | Path) -> list[Path]:
    """The image files directly inside ``folder``, in natural numeric order."""
    return sorted((p for p in Path(folder).iterdir() if p.is_file() and is_image(p)), key=natural_key)


def broken_link(path: Path) -> str | None:
    """Why the symbolic link ``path`` leads nowhere (a loop, a missing target), or None when
    ``path`` is not a link or its target exists."""
    if not path.is_symlink():
        return None
    try:
        os.stat(path)
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop (too many levels of symbolic links)"
        return f"dangling symbolic link (its target {printable_path(os.readlink(path))} does not exist)"


def broken_image_links(folder: Path) -> list[tuple[str, str]]:
    """(path, reason) of the links in ``folder`` that lead nowhere and would be images: their name
    or their target's has an image suffix (:func:`folder_images` does not list them: a link to
    nothing is no file). Natural order."""
    found = []
    for entry in os.scandir(folder):
        link = Path(entry.path)
        if entry.is_symlink() and (is_image(link) or is_image(os.readlink(link))):
            reason = broken_link(link)
            if reason is not None:
                found.append((link, reason))
    return [(printable_path(p), r) for p, r in sorted(found, key=lambda f: natural_key(f[0]))]


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3); grey images are expanded to 3 channels, EXIF
    orientation is applied. A JPEG cut short raises :class:`TruncatedImageError` naming the file
    (decoded, it would be grey-filled and taken for a face); a name that is not UTF-8 MediaError."""
    cv2 = _cv2()
    opencv_path(path)  # the same names as videos: they end up in UTF-8 CSVs
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: image file not found")
    data = path.read_bytes()  # read once: checked, then decoded from memory
    if jpeg_is_truncated(data):
        raise TruncatedImageError(f"{path}: truncated JPEG (the data stops before the end-of-image marker: "
                                  f"the file is cut short or damaged)")
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise MediaError(f"{path}: cannot decode image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def write_image(path: str | Path, rgb: np.ndarray, jpeg_quality: int = 95) -> None:
    """Write an RGB uint8 image; the format follows the suffix. Encoded by OpenCV in memory and
    written through Python, so a full or read-only disk is an OSError with its reason (ENOSPC,
    EROFS) that :func:`g2rl.atomic.atomic_path` can name the output with (cv2.imwrite only says False)."""
    cv2 = _cv2()
    suffix = Path(path).suffix.lower()
    params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)] if suffix in {".jpg", ".jpeg"} else []
    ok, data = cv2.imencode(suffix, cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise MediaError(f"{path}: cannot encode an image as {suffix or 'an unknown format'}")
    with open(path, "wb") as fh:
        fh.write(data.tobytes())


class VideoWriter:
    """Write RGB frames to an AVI file with the MJPG codec (built into OpenCV, no ffmpeg needed).

    Use as a context manager; frames must all have the size given at construction.
    """

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int]):
        cv2 = _cv2()
        self.path = Path(path)
        self.size = size  # (width, height)
        self._writer = cv2.VideoWriter(opencv_path(self.path), cv2.VideoWriter_fourcc(*"MJPG"), float(fps), size)
        if not self._writer.isOpened():
            raise MediaError(f"{self.path}: cannot open video for writing")

    def write(self, rgb: np.ndarray) -> None:
        cv2 = _cv2()
        h, w = rgb.shape[:2]
        if (w, h) != self.size:
            raise MediaError(f"{self.path}: frame of size {w}x{h}, expected {self.size[0]}x{self.size[1]}")
        self._writer.write(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        self._writer.release()

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
