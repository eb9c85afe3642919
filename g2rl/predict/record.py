"""Which model made these numbers: the demo-checkpoint warning and ``<out>.provenance.json``.

A checkpoint trained on the demo data (synthetic expressions on two photographed faces) gives
numbers, not AU intensities of real faces; its meta's training provenance says so
(``meta["provenance"]["dataset"]["kind"] == "demo"``, g2rl.provenance). ``g2rl predict`` warns
once on stderr for such a checkpoint, and writes beside the CSV, as every other g2rl result has
(:func:`g2rl.provenance.sidecar_path`: ``aus.csv`` -> ``aus.provenance.json``)::

    {"format": "g2rl-provenance/1", "what": "predict", "code": {...}, "versions": {...},
     "inputs": {"<checkpoint path>": <its training record, or null>},
     "checkpoint": {"path": ..., "sha256": ..., "bytes": ..., "dataset": "disfa", "data_kind": "demo",
                    "aus": [...], "backbone": ..., "crop_size": ..., "sigma": ...},
     "settings": {"detector": "hog", "faces": "largest", ...}, "rows": 1234, "failures": 0}
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

log = logging.getLogger("g2rl.predict")


def data_kind(meta: dict) -> str:
    """``demo``, ``real`` or ``unknown`` (a checkpoint written before provenance was recorded)."""
    record = meta.get("provenance")
    dataset = record.get("dataset") if isinstance(record, dict) else None
    kind = dataset.get("kind") if isinstance(dataset, dict) else None
    return kind if kind in ("demo", "real") else "unknown"


def warn_if_demo(meta: dict, checkpoint: str | os.PathLike) -> bool:
    """Log one warning when ``meta`` says the checkpoint was trained on demo data; True if so."""
    if data_kind(meta) != "demo":
        return False
    log.warning("%s was trained on the DEMO data (synthetic expressions): not for real faces; its numbers are not "
                "meaningful AU intensities", checkpoint)
    return True


def checkpoint_summary(checkpoint: str | os.PathLike, meta: dict) -> dict:
    """What names a checkpoint: path, sha256, size and the meta fields that say what it is."""
    from g2rl.model.weights import sha256_of

    path = Path(checkpoint)
    return {
        "path": str(path.resolve()), "sha256": sha256_of(path), "bytes": path.stat().st_size,
        "dataset": meta.get("dataset"), "data_kind": data_kind(meta), "aus": meta.get("aus"),
        "backbone": meta.get("backbone"), "crop_size": meta.get("crop_size"), "sigma": meta.get("sigma"),
        "method": meta.get("method"),
    }  # fmt: skip


def write_predict_record(out: str | os.PathLike, checkpoint: str | os.PathLike, meta: dict, options,
                         rows: int, failures: int) -> Path:
    """Write ``<out stem>.provenance.json`` beside the CSV ``out`` (atomically); returns its path.

    ``options``: the run's PredictOptions (recorded as settings, progress aside)."""
    from g2rl.jsonfile import write_json
    from g2rl.media import printable_path
    from g2rl.provenance import collection, sidecar_path

    settings = {k: v for k, v in dataclasses.asdict(options).items() if k != "progress"}
    doc = collection({printable_path(checkpoint): meta.get("provenance")}, "predict")
    doc.update(checkpoint=checkpoint_summary(checkpoint, meta), settings=settings, rows=int(rows),
               failures=int(failures))
    doc["checkpoint"]["path"] = printable_path(doc["checkpoint"]["path"])  # JSON holds text, not raw bytes
    return write_json(doc, sidecar_path(out))
