"""One call for the command line (and for scripts): checkpoint + inputs -> CSV (+ overlays)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

from g2rl.predict.options import PredictOptions
from g2rl.predict.pipeline import PredictResult

log = logging.getLogger("g2rl.predict")


def run_predict(
    checkpoint: str | os.PathLike,
    inputs: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    options: PredictOptions = PredictOptions(),
    heatmaps: str | os.PathLike | None = None,
    heatmaps_every: int = 1,
    device: str = "auto",
    amp: str = "auto",
) -> PredictResult:
    """Predict AU intensities for ``inputs`` and write ``out`` (CSV, atomically).

    The output side is checked first (``out``'s folder exists, can be written and has room for
    the CSV; the ``heatmaps`` folder can be written), then the checkpoint is loaded (and
    validated), both before any input is touched: each problem is a G2RLError naming the path.
    A bad input is reported and skipped; ``out`` then holds the rows of the inputs that worked
    and the returned ``failures`` is non-empty. An overlay that cannot be written stops the
    overlays (``output_errors``), not the rows. If the CSV itself cannot be written at the end,
    the rows are saved elsewhere and :class:`g2rl.predict.output.OutputWriteError` says where.
    Beside the CSV, ``<out stem>.provenance.json`` names the checkpoint (path, sha256, its training
    provenance) and the settings; a checkpoint trained on demo data is warned about once
    (g2rl.predict.record).

    Args:
        checkpoint: ``model.pt`` from ``g2rl train``.
        inputs: video files, image files, folders of images.
        out: CSV path (docs/PREDICT.md for the columns).
        options: how inputs are read and what the CSV holds (:class:`PredictOptions`).
        heatmaps: folder for heatmap overlay PNGs (None = none); ``heatmaps_every``: every Nth frame.
        device: auto | cpu | cuda | cuda:N; amp: auto | bf16 | off (see load_au_model).
    """
    from g2rl.predict.inputs import plan_units
    from g2rl.predict.model import load_au_model
    from g2rl.predict.output import check_csv_target, check_overlay_folder, estimate_csv_bytes, write_or_rescue
    from g2rl.predict.overlays import OverlayWriter
    from g2rl.predict.pipeline import predict_inputs, write_au_csv
    from g2rl.predict.record import warn_if_demo, write_predict_record
    from g2rl.predict.stream import LandmarkPool
    from g2rl.predict.threads import torch_threads, torch_threads_for

    # output side first: nothing is computed for a result that could not be kept
    units, _ = plan_units(inputs, sequence=options.sequence)
    check_csv_target(out, 0)
    if heatmaps is not None:
        check_overlay_folder(heatmaps)
    # landmark workers start now: their start-up (loading dlib's model) overlaps loading the network
    pool = LandmarkPool(not options.plain, options.workers, options.detector) if options.workers >= 2 else None
    threads = options.torch_threads or torch_threads_for(options.workers)
    log.info("torch uses %d thread(s) beside %d landmark %s", threads, options.workers,
             "thread" if options.workers == 1 else "processes")
    try:
        with torch_threads(threads):
            model = load_au_model(checkpoint, device=device, amp=amp)
            demo = warn_if_demo(model.meta, checkpoint)
            check_csv_target(out, estimate_csv_bytes(units, len(model.aus), options.landmarks, options.max_frames))
            overlays = (None if heatmaps is None
                        else OverlayWriter(heatmaps, model.aus, model.peak_at_max, heatmaps_every, demo=demo))
            result = predict_inputs(model, inputs, options, overlays=overlays, pool=pool)
    finally:
        if pool is not None:
            pool.close()
    write_or_rescue(result.table, out, write_au_csv)
    write_predict_record(out, checkpoint, model.meta, options, len(result.table), len(result.failures))
    st = result.stats
    fps = st.frames / st.seconds_total if st.seconds_total > 0 else float("nan")
    log.info(
        "%d frames (%d faces measured) from %d input(s) in %.1f s (%.1f frames/s; landmark stage %.1f s beside "
        "the network %.1f s, which waited %.1f s for it) -> %s%s",
        st.frames, st.faces, st.units, st.seconds_total, fps, st.seconds_landmarks, st.seconds_network,
        st.seconds_waiting, out,
        "" if overlays is None else f"; {overlays.written} overlay PNGs under {Path(heatmaps)}",
    )  # fmt: skip
    return result
