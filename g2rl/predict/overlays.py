"""``--heatmaps DIR``: PNG overlays of the predicted heatmaps on the aligned faces.

One PNG per frame (or every Nth frame): the aligned crop, then one panel per AU with that AU's
heatmap (coloured 'jet') blended over the crop and ``AUxx <intensity>`` written on it. Every
panel shares one colour scale, 0 .. the heatmap value of intensity 5 (5 / (2 pi sigma^2)), so
the same colour means the same intensity in every frame, AU and video.

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


def heatmap_panel(crop: np.ndarray, maps: np.ndarray, aus: Sequence[str], intensities: np.ndarray,
                  vmax: float, alpha: float = 0.5, columns: int = 7) -> np.ndarray:
    """Tiles [crop, AU_1 overlay, ..., AU_K overlay], row by row, ``columns`` tiles per row
    (DISFA's 12 AUs: two rows of 7; the last tile black).

    Args:
        crop: (S, S, 3) uint8 RGB aligned face.
        maps: (K, H, W) predicted heatmaps (any H, W; stretched over the crop).
        aus: K AU names; intensities: (K,) decoded intensities (written on each panel).
        vmax: heatmap value at the top of the colour scale.

    Returns:
        (S * rows, S * min(K + 1, columns), 3) uint8 RGB, rows = ceil((K + 1) / columns).
    """
    import cv2

    from g2rl.reports.figures import overlay_heatmap

    s = crop.shape[0]
    panels = [crop]
    # text scaled to the crop so that 64 px and 256 px crops both stay legible
    scale = max(s / 256.0 * 0.7, 0.3)
    thick = max(int(round(s / 128)), 1)
    for k, au in enumerate(aus):
        panel = np.ascontiguousarray(overlay_heatmap(crop, maps[k], vmax=vmax, alpha=alpha))
        text = f"{au} {intensities[k]:.2f}"
        org = (max(s // 40, 2), max(int(s * 0.09), 10))
        cv2.putText(panel, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
        cv2.putText(panel, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick, cv2.LINE_AA)
        panels.append(panel)
    cols = min(len(panels), columns)
    panels += [np.zeros_like(crop)] * (-len(panels) % cols)
    rows = [np.concatenate(panels[i:i + cols], axis=1) for i in range(0, len(panels), cols)]
    return np.concatenate(rows, axis=0)


class OverlayWriter:
    """Writes the overlay PNGs of one run under ``root``, every ``every``-th frame of each unit.

    ``every`` counts frames of the unit (video frame index, image position), so with
    ``every=10`` a video gives frames 0, 10, 20, ... (those with a face).
    """

    def __init__(self, root: str | Path, aus: Sequence[str], vmax: float, every: int = 1):
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.root = Path(root)
        self.aus = list(aus)
        self.vmax = float(vmax)
        self.every = int(every)
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
        """Write ``folder/<stem>.png`` (see :func:`heatmap_panel`; the stem made safe, then
        ``-face<face>`` added for a further face of a frame, then made unique in ``folder``),
        ``folder`` from :meth:`unit_dir`. Returns the path, or None when it could
        not be written or would resolve outside the root (the reason is kept in :attr:`error`
        and no further overlay is written)."""
        import cv2

        if self.error is not None:
            return None
        # a name that two frames or photos share (as given or once made safe) gets -2, -3, ...
        name = safe_name(stem) + (f"-face{face}" if face else "")
        out = folder / f"{_unique(name, self._files.setdefault(folder, set()))}.png"
        if not self._inside(out):
            self.error = (str(out), f"resolves outside the --heatmaps folder {self.root} (a symbolic link there?)")
            log.error("%s: overlay refused: %s; no further overlays, the AU rows go on", out, self.error[1])
            return None
        panel = heatmap_panel(crop, maps, self.aus, intensities, self.vmax)
        ok, png = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(panel), cv2.COLOR_RGB2BGR))
        if not ok:  # an encoder failure is a bug, not an output fault
            raise RuntimeError(f"{out}: PNG encoding failed")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            # written through Python, not cv2.imwrite, so a failure carries its reason (errno)
            with atomic_path(out) as tmp, open(tmp, "wb") as fh:
                fh.write(png.tobytes())
        except OSError as exc:
            self.error = (str(out), os.strerror(exc.errno) if exc.errno else str(exc))
            log.error("%s: overlay could not be written (%s); no further overlays, the AU rows go on",
                      out, self.error[1])
            return None
        self.written += 1
        return out
