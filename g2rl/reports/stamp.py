"""Provenance beside every table and figure, and the caption sentences that summarise it.

Each output ``<name>.<ext>`` gets ``<name>.provenance.json``: this step's code and versions, the
provenance record of every input, and which identity keys (code, config, initialisation, data)
disagree between the runs. Table 1's caption says how the backbones were initialised and either
names the single commit and config or says MIXED PROVENANCE, so mixed rows are never hidden.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

from g2rl.errors import G2RLError
from g2rl.jsonfile import write_json
from g2rl.provenance import (
    IDENTITY_KEYS,
    collection,
    initialisation_note,
    mixed,
    predictions_provenance,
    provenance_note,
    read_provenance,
    sidecar_path,
)

# a figure may show several datasets: only code, config and initialisation must agree there
FIGURE_KEYS = ("commit", "config", "weights")


def metrics_records(metrics: Mapping[str, dict]) -> dict[str, dict | None]:
    """path -> the "provenance" of each loaded metrics.json (None when it has none)."""
    return {str(p): m.get("provenance") for p, m in metrics.items()}


def stamp(
    outputs: Sequence[str | os.PathLike], inputs: Mapping[str, dict | None], what: str,
    keys: Sequence[str] = IDENTITY_KEYS,
) -> tuple[Path, list[str]]:
    """Write ``<first output>.provenance.json``; return (its path, the caption sentences)."""
    side = sidecar_path(outputs[0])
    records = list(inputs.values())
    notes = [initialisation_note(records), provenance_note(records, side.name, keys)]
    doc = collection(dict(inputs), what)
    doc.update(outputs=[str(o) for o in outputs], mixed=mixed(records, keys), notes=notes)
    write_json(doc, side)
    return side, notes


def example_inputs(model: str | os.PathLike, predictions: str | os.PathLike) -> dict[str, dict | None]:
    """The example figures' inputs: the model's own record and its predictions' record."""
    preds = predictions_provenance([predictions])["inputs"]
    try:
        own = read_provenance(model)
    except G2RLError:  # a checkpoint from before provenance: recorded as unknown, not fatal
        own = None
    return {str(model): own, **preds}
