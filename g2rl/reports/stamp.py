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
    distinct,
    runs_of,
    sha256_json,
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


def _settings_id(run: dict) -> str:
    """A training record's settings without its model section (the part Table 1's rows share)."""
    config = run.get("config")
    return sha256_json({k: v for k, v in config.items() if k != "model"})[:12] if isinstance(config, dict) else "unknown"


def rows_stamp(
    outputs: Sequence[str | os.PathLike], rows: Mapping[str, Mapping[str, dict | None]], what: str,
    keys: Sequence[str] = IDENTITY_KEYS,
) -> tuple[Path, list[str]]:
    """:func:`stamp` for an output that shows several rows on purpose (Table 1's Baseline, G2RL and G2RL +
    stop-grad/teach; the training curves of those runs): ``rows`` maps a row's name to its inputs. Each row's
    runs must share one config; across rows everything but the model section (the rows' variants) must agree,
    and code, initialisation and data too. Anything else is said as MIXED PROVENANCE."""
    side = sidecar_path(outputs[0])
    inputs = {k: v for group in rows.values() for k, v in group.items()}
    records = list(inputs.values())
    diff = mixed(records, [k for k in keys if k != "config"])
    if "config" in keys:
        settings = sorted({_settings_id(run) for rec in records for run in runs_of(rec)} | (
            {"unknown"} if any(not runs_of(rec) for rec in records) else set()))
        if len(settings) > 1:
            diff["config"] = distinct(records)["config"]
    within = {name: mixed(list(group.values()), ["config"]).get("config") for name, group in rows.items()} \
        if "config" in keys else {}
    within = {name: v for name, v in within.items() if v}
    configs = distinct(records)["config"]
    notes = [initialisation_note(records)]
    if diff or within:
        sentence = provenance_note(records, side.name, list(diff)) if diff else f"MIXED PROVENANCE: details in {side.name}."
        notes.append(sentence + "".join(f" {name}'s runs come from {len(v)} configurations ({', '.join(v)})."
                                         for name, v in within.items()))
    elif len(configs) == 1:
        notes.append(provenance_note(records, side.name, keys))
    else:
        per_row = "; ".join(f"{name} {distinct(list(group.values()))['config'][0]}" for name, group in rows.items())
        notes.append(f"Provenance: code {distinct(records)['commit'][0]}, one config but for each row's model (its "
                     f"variant): {per_row}; details in {side.name}.")
    doc = collection(dict(inputs), what)
    doc.update(outputs=[str(o) for o in outputs], rows={name: sorted(group) for name, group in rows.items()},
               mixed={**diff, **{f"config within {name}": v for name, v in within.items()}}, notes=notes)
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
