"""Predictions CSV(s) -> metrics dict / ``metrics.json``, per fold and pooled over folds.

A predictions CSV (docs/CONTRACTS.md) holds one run's test frames: ``subject, session, frame,
split``, then ``AUxx_pred`` and ``AUxx_true`` per AU. One file is one fold (its ``split``).
DISFA's protocol pools the test predictions of all folds before computing the metrics: every
frame is predicted exactly once, so a frame found in two files (or twice in one) is an error,
not something to average.

``metrics.json`` layout (NaN written as ``null``; the ``note`` says why)::

    {
      "format": "g2rl-metrics/1",
      "aus": ["AU01", ...],
      "headline": "pooled" | "fold:<split>",     # the section Table 1 uses
      "folds": {"<split>": {"file": str, "n_frames": int,
                            "per_au": {"AU01": {"icc", "mae", "pcc", "n", "note"}, ...},
                            "avg": {"icc", "mae", "pcc", "n", "note"}}, ...},
      "pooled": null | {"n_frames": int, "files": [str, ...], "per_au": {...}, "avg": {...}},
      "run": {...},                               # optional labels (dataset, method, sigma, ...)
      "bootstrap": {...} | null, "fold_mean": {...} | null, "diagnostics": {...},  # g2rl.reports.evidence_report
      "provenance": {...}                         # g2rl evaluate: the runs' records (g2rl.provenance)
    }
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from g2rl.errors import G2RLError
from g2rl.evidence import BootstrapSettings
from g2rl.jsonfile import read_json, write_json
from g2rl.metrics import METRIC_NAMES, per_au_metrics
from g2rl.reports.uncertainty import uncertainty_keys
from g2rl.reports.prediction_checks import check_columns, check_field_counts

FORMAT = "g2rl-metrics/1"
KEY_COLUMNS = ("subject", "session", "frame", "split")
_AU_PRED = re.compile(r"^(AU\d+)_pred$")


def infer_aus(columns: Sequence[str]) -> list[str]:
    """AU names that have a ``<AU>_pred`` column, in column order (e.g. ['AU06', 'AU10'])."""
    return [m.group(1) for c in columns if (m := _AU_PRED.match(str(c)))]


def read_predictions(path: str | os.PathLike, aus: Sequence[str] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Read and check one predictions CSV; return (table, aus).

    ``aus`` defaults to every AU with a ``_pred`` column. Raises :class:`G2RLError` naming the
    file when a column is missing, a line is cut short, a value is out of its range
    (:mod:`g2rl.reports.prediction_checks`), a frame appears twice, or a prediction is NaN where
    the frame is labelled.
    """
    path = Path(path)
    if not path.is_file():
        raise G2RLError(f"{path}: predictions file not found")
    try:
        df = pd.read_csv(path, dtype={"subject": str, "session": str, "split": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise G2RLError(f"{path}: not a readable CSV ({exc})") from None
    missing = [c for c in KEY_COLUMNS if c not in df.columns]
    if missing:
        raise G2RLError(f"{path}: missing column(s) {', '.join(missing)} (see docs/CONTRACTS.md)")
    aus = list(aus) if aus is not None else infer_aus(df.columns)
    if not aus:
        raise G2RLError(f"{path}: no AUxx_pred columns")
    missing = [c for au in aus for c in (f"{au}_pred", f"{au}_true") if c not in df.columns]
    if missing:
        raise G2RLError(f"{path}: missing column(s) {', '.join(missing)}")
    check_field_counts(path)
    df = check_columns(df, aus, path)  # frames integer, labels 0-5, predictions finite >= 0
    if df.empty:
        raise G2RLError(f"{path}: no rows")
    dup = df.duplicated(subset=["subject", "session", "frame"], keep=False)
    if dup.any():
        first = df.loc[dup, ["subject", "session", "frame"]].iloc[0].tolist()
        raise G2RLError(f"{path}: {int(dup.sum())} rows repeat a (subject, session, frame), e.g. {first}")
    for au in aus:
        bad = df[f"{au}_pred"].isna() & df[f"{au}_true"].notna()
        if bad.any():
            raise G2RLError(f"{path}: {int(bad.sum())} NaN {au}_pred value(s) on labelled frames")
    return df, aus


def _clean(value):
    """Make a value JSON-safe: NaN -> None, numpy scalars -> Python."""
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    return value


def _section(df: pd.DataFrame, aus: list[str]) -> dict:
    table = per_au_metrics(df, aus)
    as_dict = lambda row: {k: _clean(row[k]) for k in (*METRIC_NAMES, "n", "note")}  # noqa: E731
    return {
        "n_frames": int(len(df)),
        "per_au": {au: as_dict(table.loc[au]) for au in aus},
        "avg": as_dict(table.loc["Avg"]),
    }


def evaluate_runs(
    prediction_csvs: Sequence[str | os.PathLike],
    aus: Sequence[str] | None = None,
    pooled: bool = False,
    bootstrap: BootstrapSettings | None = BootstrapSettings(),
) -> dict:
    """Metrics of one or more runs' predictions, per fold and (``pooled=True``) over all folds.

    Each file is one fold, keyed by its ``split`` value (a file must hold a single split, and
    no two files the same one). With ``pooled`` the files are concatenated first and every
    (subject, session, frame) must occur once: a frame predicted by two folds is an error.
    ``aus`` defaults to the AUs of the first file; every file must have them all.
    ``bootstrap``: settings of the subject bootstrap CI of the headline section (None: no CI).
    Returns the ``metrics.json`` dict described in the module docstring.
    """
    if not prediction_csvs:
        raise G2RLError("no predictions files given")
    frames: list[pd.DataFrame] = []
    folds: dict[str, dict] = {}
    for path in prediction_csvs:
        df, file_aus = read_predictions(path, aus)
        if aus is None:
            aus = file_aus
        splits = sorted(df["split"].astype(str).unique())
        if len(splits) != 1:
            raise G2RLError(f"{path}: holds several splits {splits}; one predictions file is one fold")
        split = splits[0]
        if split in folds:
            raise G2RLError(f"{path}: split {split!r} is also the split of {folds[split]['file']}")
        folds[split] = {"file": str(path), **_section(df, list(aus))}
        frames.append(df)
    result = {"format": FORMAT, "aus": list(aus), "folds": folds, "pooled": None}
    if pooled:
        allf = pd.concat(frames, ignore_index=True)
        dup = allf.duplicated(subset=["subject", "session", "frame"], keep=False)
        if dup.any():
            ex = allf.loc[dup, ["subject", "session", "frame", "split"]]
            first = ex.iloc[0, :3].tolist()
            in_splits = sorted(ex[(ex["subject"] == first[0]) & (ex["session"] == first[1]) & (ex["frame"] == first[2])]["split"])
            raise G2RLError(
                f"pooling {len(prediction_csvs)} predictions files: "
                f"{len(ex.drop_duplicates(subset=['subject', 'session', 'frame']))} frame(s) are predicted "
                f"by more than one fold, e.g. (subject, session, frame) = {first} in splits {in_splits}"
            )
        result["pooled"] = {"files": [str(p) for p in prediction_csvs], **_section(allf, list(aus))}
        result["headline"] = "pooled"
    elif len(folds) == 1:
        result["headline"] = f"fold:{next(iter(folds))}"
    else:
        # Several folds and no pooled section: there is no single figure to put in Table 1.
        result["headline"] = None
    # "bootstrap" (CI over test subjects) and "fold_mean": g2rl.reports.evidence_report
    result.update(uncertainty_keys(result, dict(zip(folds, frames)), bootstrap))
    return result


def write_metrics_json(metrics: dict, out_path: str | os.PathLike) -> Path:
    """Write a metrics dict as strict JSON (NaN -> null), atomically. Returns the path."""
    return write_json(_json_safe(metrics), out_path)


def _json_safe(obj):
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return _clean(obj)


def read_metrics_json(path: str | os.PathLike) -> dict:
    """Load a ``metrics.json``; raises :class:`G2RLError` naming the file if it is not one."""
    return read_json(path, FORMAT, "metrics")


def headline_table(metrics: dict, source: str = "metrics") -> pd.DataFrame:
    """The per-AU table Table 1 uses: rows AU.. and 'Avg', columns icc, mae, pcc, n, note.

    That is the pooled section when present, else the only fold. ``source`` names the
    metrics (e.g. its file) in the error raised when there is no headline section.
    """
    head = metrics.get("headline")
    if head == "pooled":
        sec = metrics["pooled"]
    elif isinstance(head, str) and head.startswith("fold:"):
        sec = metrics["folds"][head[len("fold:"):]]
    else:
        raise G2RLError(
            f"{source}: {len(metrics.get('folds', {}))} folds and no pooled section, so no single figure per AU; "
            "evaluate them with pooled=True (g2rl evaluate --pooled)"
        )
    rows = {au: sec["per_au"][au] for au in metrics["aus"]}
    rows["Avg"] = sec["avg"]
    table = pd.DataFrame.from_dict(rows, orient="index")
    for m in METRIC_NAMES:
        table[m] = table[m].astype(float)  # null -> NaN
    return table


def mean_headline_table(runs: Sequence[dict], source: str = "metrics") -> pd.DataFrame:
    """:func:`headline_table` averaged over runs that differ only in their seed.

    Each metric of each AU (and of 'Avg') is the mean over the runs where it is defined; ``n``
    is the first run's; ``note`` says how many seeds were averaged and names any left out.
    """
    if not runs:
        raise G2RLError(f"{source}: no runs to average")
    tables = [headline_table(m, source=source) for m in runs]
    index = list(tables[0].index)
    for t in tables[1:]:
        if list(t.index) != index:
            raise G2RLError(f"{source}: seeds evaluated different AUs ({index} vs {list(t.index)})")
    out = tables[0][["n"]].copy()
    notes = {row: [] for row in index}
    for m in METRIC_NAMES:
        stacked = pd.concat([t[m] for t in tables], axis=1)
        out[m] = stacked.mean(axis=1, skipna=True)
        for row in index:
            k = int(stacked.loc[row].notna().sum())
            if k < len(tables):
                notes[row].append(f"{m} over {k}/{len(tables)} seeds")
    out["note"] = [
        "; ".join([f"mean over {len(tables)} seed(s)"] + notes[row]) if len(tables) > 1 or notes[row] else tables[0].at[row, "note"]
        for row in index
    ]
    return out[[*METRIC_NAMES, "n", "note"]]
