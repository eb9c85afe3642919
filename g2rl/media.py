"""Reading frames from videos and image files (RGB uint8 arrays).

One place for media I/O so that every stage (dataset readers, landmarks, predict)
sees the same frames with the same channel order: RGB, shape (H, W, 3), dtype uint8.

Images are checked before they are trusted (:func:`read_image`): an empty file, a JPEG cut short
(also one whose end-of-image marker was put back after the cut) or otherwise damaged, and an image
larger than :data:`MAX_IMAGE_PIXELS` raise :class:`UnusableImageError` naming the file, since a
decoder would return a grey-filled picture (taken for a face) or need gigabytes.
"""

from __future__ import annotations

import errno
import io
import os
import re
from pathlib import Path
from typing import Iterator

import numpy as np

VIDEO_SUFFIXES = {".avi", ".mp4", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


from g2rl.errors import MediaError, TruncatedImageError, UnusableImageError  # noqa: E402  (re-exported for callers)

# The largest image g2rl decodes: 100 megapixels (10,000 x 10,000; a 108 MP phone photo is 12,000 x 9,000
# and would be refused). An RGB copy of it is 300 MB and the decode, colour conversion and face detection
# hold several; a header claiming 20,000 x 20,000 made `g2rl landmarks` peak at 2.4 GB and `g2rl predict`
# die at 3.1 GB. The size is read from the header, before anything is decoded.
MAX_IMAGE_PIXELS = 100_000_000

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


class OversizedImageError(UnusableImageError):
    """An image whose header declares more than :data:`MAX_IMAGE_PIXELS` pixels (refused undecoded)."""


def check_image_size(width: int, height: int | None, path: str | Path) -> None:
    """Raise :class:`OversizedImageError` naming ``path`` when ``width`` x ``height`` (from the file's
    header) exceeds :data:`MAX_IMAGE_PIXELS`. ``height`` None: ``width`` is the pixel count itself."""
    pixels = width if height is None else width * height
    if pixels > MAX_IMAGE_PIXELS:
        size = f"{pixels / 1e6:.0f} MP" if height is None else f"{width}x{height} pixels ({pixels / 1e6:.0f} MP)"
        raise OversizedImageError(
            f"{path}: image of {size} is larger than the {MAX_IMAGE_PIXELS / 1e6:.0f} MP g2rl decodes "
            f"(g2rl.media.MAX_IMAGE_PIXELS); it was not decoded"
        )


# libjpeg-turbo warnings that leave every pixel decoded: bytes between two markers that belong to no
# segment (some cameras pad before the end-of-image marker). Every other warning means lost data.
_HARMLESS_JPEG_WARNINGS = ("extraneous bytes before marker",)


def _exif_orientation(data: bytes) -> int:
    """The EXIF orientation (1-8) of a JPEG; 1 (as stored) when it has none or an unreadable one."""
    if b"Exif\x00\x00" not in data[:65536]:  # APP1 comes first: no EXIF block, nothing to parse
        return 1
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            value = im.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - a damaged EXIF block is ignored, as OpenCV ignores it
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def apply_orientation(rgb: np.ndarray, orientation: int) -> np.ndarray:
    """``rgb`` (H, W, C) turned upright for an EXIF orientation 1-8 (as OpenCV's imread and PIL's
    exif_transpose do): 2 mirror, 3 rotate 180, 4 flip, 5 transpose, 6 rotate 90 clockwise,
    7 transverse, 8 rotate 90 counter-clockwise."""
    turns = {1: lambda a: a, 2: np.fliplr, 3: lambda a: np.rot90(a, 2), 4: np.flipud,
             5: lambda a: a.transpose(1, 0, 2), 6: lambda a: np.rot90(a, -1),
             7: lambda a: np.rot90(a, 2).transpose(1, 0, 2), 8: lambda a: np.rot90(a, 1)}
    return np.ascontiguousarray(turns[orientation](rgb)) if orientation != 1 else rgb


def _decode_jpeg(data: bytes, path: Path) -> np.ndarray:
    """A JPEG file's bytes -> RGB uint8 (H, W, 3), decoded once by libjpeg-turbo (simplejpeg) with its
    warnings as errors: a scan that ends early (a file cut short, even with its end-of-image marker put
    back) or corrupt entropy data is :class:`TruncatedImageError`, never a grey-filled picture."""
    import simplejpeg

    def damaged(reason: str) -> TruncatedImageError:
        return TruncatedImageError(f"{path}: damaged JPEG (libjpeg: {reason}): the file is cut short or its data "
                                   f"is corrupt")

    try:
        height, width, colorspace, _ = simplejpeg.decode_jpeg_header(data)
    except ValueError as exc:
        raise damaged(str(exc)) from None
    check_image_size(width, height, path)
    cmyk = colorspace in ("CMYK", "YCCK")  # libjpeg-turbo gives no RGB for these
    space = "CMYK" if cmyk else "RGB"
    try:
        pixels = simplejpeg.decode_jpeg(data, colorspace=space, strict=True)
    except ValueError as exc:
        if not any(w in str(exc) for w in _HARMLESS_JPEG_WARNINGS):
            raise damaged(str(exc)) from None
        pixels = simplejpeg.decode_jpeg(data, colorspace=space, strict=False)
    if cmyk:  # the data is checked; OpenCV converts CMYK / YCCK to RGB (a rare file: decoded twice)
        return _decode_other(data, path)
    return apply_orientation(pixels, _exif_orientation(data))


def _header_size(data: bytes) -> tuple[int, int | None] | None:
    """(width, height) from a non-JPEG image's header, without decoding it: PNG's IHDR directly, other
    formats through PIL (which reads only the header); (pixels, None) when PIL refuses the size itself,
    None when PIL does not know the format (OpenCV decides)."""
    import struct
    import warnings

    from PIL import Image

    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the bound is ours, below
            with Image.open(io.BytesIO(data)) as im:
                return im.size
    except Image.DecompressionBombError as exc:  # above PIL's own limit (and ours): its message has the count
        counts = [int(n) for n in re.findall(r"\((\d+) pixels\)", str(exc))]
        return (counts[0] if counts else MAX_IMAGE_PIXELS + 1), None
    except Exception:  # noqa: BLE001 - not an image PIL knows: OpenCV decides below
        return None


def _decode_other(data: bytes, path: Path) -> np.ndarray:
    """A PNG, BMP, TIFF, WebP (or CMYK JPEG) file's bytes -> RGB uint8 (H, W, 3) through OpenCV (EXIF
    orientation applied), after its header's size is checked."""
    cv2 = _cv2()
    size = _header_size(data)
    if size is not None:
        check_image_size(*size, path)
    try:
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise MediaError(f"{path}: cannot decode image ({str(exc).strip().splitlines()[-1]})") from None
    if bgr is None:
        raise MediaError(f"{path}: cannot decode image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3); grey images are expanded to 3 channels, EXIF
    orientation is applied. A file that cannot be used raises :class:`UnusableImageError` naming it:
    an empty file or a JPEG cut short or damaged (:class:`TruncatedImageError`; decoded, it would be
    grey-filled and taken for a face), an image above :data:`MAX_IMAGE_PIXELS` (its header is read
    first, nothing decoded). A name that is not UTF-8, or a file that is no image: MediaError.

    JPEGs are decoded once, strictly (libjpeg-turbo through simplejpeg, the same pixels as OpenCV's
    decoder); other formats by OpenCV."""
    opencv_path(path)  # the same names as videos: they end up in UTF-8 CSVs
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: image file not found")
    data = path.read_bytes()  # read once: checked, then decoded from memory
    if not data:
        raise TruncatedImageError(f"{path}: empty file (0 bytes): no picture to read")
    if jpeg_is_truncated(data):
        raise TruncatedImageError(f"{path}: truncated JPEG (the data stops before the end-of-image marker: "
                                  f"the file is cut short or damaged)")
    if data.startswith(_JPEG_SOI):
        return _decode_jpeg(data, path)
    return _decode_other(data, path)


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
