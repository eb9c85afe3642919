"""``--heatmaps DIR``: PNG overlays of the predicted heatmaps on the aligned faces.

One PNG per frame (or every Nth frame) in the style of the report's Figure 4 (:func:`overlay_png`):
the aligned face, upsampled to 256 px tiles, then one tile per AU with that AU's heatmap over the
face in grey (plasma colours whose opacity grows with the value) and its predicted intensity. Every
tile shares one colour scale, intensity 0 to 5 (a colour bar), so the same colour means the same
intensity in every frame, AU and video. A checkpoint trained on the demo data stamps "DEMO DATA"
on every PNG. Matplotlib draws each one: ~0.5 s of CPU per PNG, so use ``--heatmaps-every`` on long
videos.

Layout: ``DIR/<unit>/<frame:06d>.png`` for a video or an image sequence, and
``DIR/<unit>/<image stem>.png`` for photos, where ``<unit>`` is the video's stem or the
folder's name (``images`` for image files named on the command line); with ``--faces all`` the
second face of a frame gets ``<frame:06d>-face1.png``, and so on. Each PNG is written atomically.

Names come from input file names, which anyone can choose (``...avi`` has the stem ``..``), so
they never reach the file system as given: :func:`safe_name` keeps letters, digits, ``_``,
``.`` and ``-`` (others become ``_``; leading dots too; at most :data:`MAX_NAME_BYTES` bytes),
every folder and file name is made unique within the run (``-2``, ``-3``... when two inputs
give the same name, as given or once made safe), and each path is checked to resolve inside
``DIR`` (a symbolic link already there could point elsewhere) before anything is written.

A PNG that cannot be written (full disk, permissions) is an *output* error: the writer records
it (:attr:`OverlayWriter.error`), writes no further overlays, and the run goes on, so the AU
rows of every frame are still computed and written to the CSV.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from g2rl.atomic import atomic_path

log = logging.getLogger("g2rl.predict")

# file systems allow 255 bytes per name; this leaves room for "-face12", "-2" and ".png"
MAX_NAME_BYTES = 100
_UNSAFE = re.compile(r"[^\w.-]")  # \w: Unicode letters and digits, "_"; not surrogates (undecodable bytes)


def safe_name(name: str) -> str:
    """A file or folder name made from ``name`` that cannot leave its folder or hide.

    Every character other than a letter, digit, ``_``, ``.`` or ``-`` becomes ``_`` (``/``,
    ``\\``, NUL, spaces, bytes that are not UTF-8), leading dots become ``_`` (so ``..`` and
    ``.hidden`` are plain names), and the result is cut to :data:`MAX_NAME_BYTES` bytes of UTF-8.
    Different names can give the same result: callers make names unique (:class:`OverlayWriter`).

    >>> safe_name(".."), safe_name("a/../../x"), safe_name("/etc/passwd")
    ('__', 'a_.._.._x', '_etc_passwd')
    """
    text = _UNSAFE.sub("_", name)
    text = re.sub(r"^\.+", lambda m: "_" * len(m.group()), text)
    text = text.encode("utf-8")[:MAX_NAME_BYTES].decode("utf-8", "ignore")
    return text or "_"


def _unique(name: str, used: set[str]) -> str:
    """``name``, else ``name-2``, ``name-3``, ...: the first whose case-folded form is not in
    ``used`` (which it joins; case-folded so that ``A`` and ``a`` stay apart on a file system
    that ignores case)."""
    candidate, i = name, 1
    while candidate.casefold() in used:
        i += 1
        candidate = f"{name}-{i}"
    used.add(candidate.casefold())
    return candidate


# each tile's face is upsampled to this (a 64 px crop would show no features), and the figure is
# drawn at a resolution where a tile takes about this many pixels
TILE_PX = 256
DPI = 150


def overlay_png(crop: np.ndarray, maps: np.ndarray, aus: Sequence[str], intensities: np.ndarray,
                vmax: float, caption: str = "", demo: bool = False) -> bytes:
    """One face's overlay as PNG bytes, in the style of the report's Figure 4
    (:func:`g2rl.reports.figures.heatmap_examples_figure`): the input face, then one tile per AU with
    its heatmap over the face in grey (plasma colours, opacity growing with the value), titled with
    the predicted intensity, rows of 5 tiles, a colour bar on intensity 0-5; the "DEMO DATA" stamp
    when ``demo``.

    Args:
        crop: (S, S, 3) uint8 RGB aligned face (upsampled to :data:`TILE_PX` when smaller).
        maps: (K, H, W) predicted heatmaps (any H, W; stretched over the crop).
        aus: K AU names; intensities: (K,) decoded intensities.
        vmax: the heatmap value of intensity 5 (the top of the colour scale).
        caption: the input tile's title (e.g. the frame).
    """
    import io

    import matplotlib.pyplot as plt

    from g2rl.reports.figures import heatmap_examples_figure

    fig = heatmap_examples_figure(crop[None], maps[None], aus, np.asarray(intensities)[None], None, vmax / 5.0,
                                  captions=[caption] if caption else None, demo=demo, tile_px=TILE_PX)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")  # as the report: keeps the stamp above the tiles
    plt.close(fig)
    return buffer.getvalue()


class OverlayWriter:
    """Writes the overlay PNGs of one run under ``root``, every ``every``-th frame of each unit.

    ``every`` counts frames of the unit (video frame index, image position), so with
    ``every=10`` a video gives frames 0, 10, 20, ... (those with a face).
    """

    def __init__(self, root: str | Path, aus: Sequence[str], vmax: float, every: int = 1, demo: bool = False):
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.root = Path(root)
        self.aus = list(aus)
        self.vmax = float(vmax)
        self.every = int(every)
        self.demo = bool(demo)  # stamp "DEMO DATA" (the checkpoint was trained on the demo data)
        self._used: set[str] = set()  # unit folders of this run
        self._files: dict[Path, set[str]] = {}  # folder -> PNG stems written there in this run
        self.written = 0
        self.error: tuple[str, str] | None = None  # (path, reason) of the write that failed

    def unit_dir(self, name: str) -> Path:
        """A fresh folder for a unit: ``safe_name(name)``, else with ``-2``, ``-3``, ... appended."""
        return self.root / _unique(safe_name(name or "input"), self._used)

    def _inside(self, path: Path) -> bool:
        """Whether the folder of ``path`` (it may not exist yet) resolves to a folder under the
        root: a unit folder that is a symbolic link to elsewhere would not. (``path`` itself may be
        a link left by an earlier run: the atomic rename replaces the link, it is not followed.)"""
        folder = path.parent.resolve()
        return folder.is_relative_to(self.root.resolve()) and folder != self.root.resolve()

    def wants(self, position: int) -> bool:
        """Whether the frame at this 0-based position of its unit gets an overlay (every Nth,
        until a write has failed)."""
        return self.error is None and position % self.every == 0

    def write(self, folder: Path, stem: str, crop: np.ndarray, maps: np.ndarray,
              intensities: np.ndarray, face: int = 0) -> Path | None:
        """Write ``folder/<stem>.png`` (see :func:`overlay_png`; the stem made safe, then
        ``-face<face>`` added for a further face of a frame, then made unique in ``folder``),
        ``folder`` from :meth:`unit_dir`. Returns the path, or None when it could
        not be written or would resolve outside the root (the reason is kept in :attr:`error`
        and no further overlay is written)."""
        if self.error is not None:
            return None
        # a name that two frames or photos share (as given or once made safe) gets -2, -3, ...
        name = safe_name(stem) + (f"-face{face}" if face else "")
        out = folder / f"{_unique(name, self._files.setdefault(folder, set()))}.png"
        if not self._inside(out):
            self.error = (str(out), f"resolves outside the --heatmaps folder {self.root} (a symbolic link there?)")
            log.error("%s: overlay refused: %s; no further overlays, the AU rows go on", out, self.error[1])
            return None
        png = overlay_png(crop, maps, self.aus, intensities, self.vmax, caption=out.stem, demo=self.demo)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            # written through Python, not cv2.imwrite, so a failure carries its reason (errno)
            with atomic_path(out) as tmp, open(tmp, "wb") as fh:
                fh.write(png)
        except OSError as exc:
            self.error = (str(out), os.strerror(exc.errno) if exc.errno else str(exc))
            log.error("%s: overlay could not be written (%s); no further overlays, the AU rows go on",
                      out, self.error[1])
            return None
        self.written += 1
        return out
