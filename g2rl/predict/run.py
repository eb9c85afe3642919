"""One call for the command line (and for scripts): checkpoint + inputs -> CSV (+ overlays)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

from g2rl.predict.model import load_au_model
from g2rl.predict.overlays import OverlayWriter
from g2rl.predict.pipeline import PredictResult, predict_inputs, write_au_csv

log = logging.getLogger("g2rl.predict")


def run_predict(
    checkpoint: str | os.PathLike,
    inputs: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    heatmaps: str | os.PathLike | None = None,
    heatmaps_every: int = 1,
    batch_size: int = 16,
    device: str = "auto",
    amp: str = "auto",
    plain: bool = False,
    sequence: bool = False,
    max_frames: int | None = None,
    progress: bool = True,
) -> PredictResult:
    """Predict AU intensities for ``inputs`` and write ``out`` (CSV, atomically).

    The checkpoint is loaded (and validated) before any input is touched, so a bad checkpoint
    fails at once with a G2RLError naming it. A bad input is reported and skipped; ``out`` then
    holds the rows of the inputs that worked and the returned ``failures`` is non-empty.

    Args:
        checkpoint: ``model.pt`` from ``g2rl train``.
        inputs: video files, image files, folders of images.
        out: CSV path (docs/PREDICT.md for the columns).
        heatmaps: folder for heatmap overlay PNGs (None = none); ``heatmaps_every``: every Nth frame.
        batch_size: faces per forward pass.
        device: auto | cpu | cuda | cuda:N; amp: auto | bf16 | off (see load_au_model).
        plain: landmarks by full-resolution detection on every frame instead of the tracked path.
        sequence: folders hold the frames of one video (followed) rather than separate photos.
        max_frames: videos: stop after this many frames.
        progress: tqdm bars on stderr.
    """
    from g2rl.preprocess.landmarks import LandmarkDetector

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    model = load_au_model(checkpoint, device=device, amp=amp)
    detector = LandmarkDetector(fast=not plain)
    overlays = None if heatmaps is None else OverlayWriter(heatmaps, model.aus, model.peak_at_max, heatmaps_every)
    result = predict_inputs(model, detector, inputs, sequence=sequence, batch_size=batch_size,
                            max_frames=max_frames, overlays=overlays, progress=progress)
    write_au_csv(result.table, out)
    st = result.stats
    fps = st.frames / st.seconds_total if st.seconds_total > 0 else float("nan")
    log.info(
        "%d frames (%d with a face) from %d input(s) in %.1f s (%.1f frames/s: landmarks %.1f s, align %.1f s, "
        "network %.1f s) -> %s%s",
        st.frames, st.faces, st.units, st.seconds_total, fps, st.seconds_landmarks, st.seconds_align,
        st.seconds_network, out, "" if overlays is None else f"; {overlays.written} overlay PNGs under {Path(heatmaps)}",
    )  # fmt: skip
    return result
