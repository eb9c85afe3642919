"""The uncertainty keys ``g2rl evaluate`` adds to one run's ``metrics.json``: "bootstrap" (a
subject-bootstrap CI per AU and of the average) and "fold_mean" (mean over folds); layout in
:mod:`g2rl.reports.evidence_report`'s docstring. It depends on g2rl.evidence only, so both
``evaluate`` (which writes these keys) and ``evidence_report`` (which reads runs back) import it
without importing each other.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from g2rl.evidence import METRICS, BootstrapSettings, RunArrays, compare_methods


def _f(x) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


def _headline_frame(metrics: dict, frames: dict[str, pd.DataFrame]) -> pd.DataFrame | None:
    """The frames of the headline section: all folds when pooled, the one fold otherwise."""
    head = metrics.get("headline")
    if head == "pooled":
        return pd.concat(list(frames.values()), ignore_index=True)
    if isinstance(head, str) and head.startswith("fold:"):
        return frames[head[len("fold:"):]]
    return None


def run_arrays(df: pd.DataFrame, aus: Sequence[str], source: str) -> RunArrays:
    """A predictions table (docs/CONTRACTS.md columns) as the arrays g2rl.evidence works on."""
    return RunArrays(
        df["subject"].astype(str).to_numpy(),
        df[[f"{a}_pred" for a in aus]].to_numpy(dtype=np.float64),
        df[[f"{a}_true" for a in aus]].to_numpy(dtype=np.float64),
        source,
    )


def fold_mean(metrics: dict) -> dict | None:
    """Mean over folds of each fold's ICC and MAE (per AU and of the fold averages); None with one fold.

    DISFA papers report either this or the pooled figure; metrics.json keeps both."""
    folds = metrics["folds"]
    if len(folds) < 2:
        return None

    def mean(values):
        vals = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
        return float(np.mean(vals)) if vals else None

    return {
        "n_folds": len(folds),
        "per_au": {au: {m: mean([f["per_au"][au][m] for f in folds.values()]) for m in METRICS} for au in metrics["aus"]},
        "avg": {m: mean([f["avg"][m] for f in folds.values()]) for m in METRICS},
    }


def uncertainty_keys(metrics: dict, frames: dict[str, pd.DataFrame], settings: BootstrapSettings | None) -> dict:
    """The 'bootstrap' and 'fold_mean' keys of one run's metrics.json (see the module docstring).

    ``frames`` maps each fold's split to its predictions table; ``settings`` None skips the bootstrap."""
    aus = metrics["aus"]
    df = _headline_frame(metrics, frames)
    boot = None
    if df is not None and settings is not None:
        cmp = compare_methods({"run": [run_arrays(df, aus, "predictions")]}, [None], aus, settings)
        s = cmp.summaries["run"]

        def cell(j):
            return {f"{m}_ci": [_f(s[m].lo[j]), _f(s[m].hi[j])] for m in METRICS}

        # one run is one seed: its interval resamples the test subjects alone
        boot = {**settings.to_dict(), "unit": "subject", "section": metrics["headline"], "n_subjects": len(cmp.subjects),
                "per_au": {au: cell(j) for j, au in enumerate(aus)}, "avg": cell(len(aus))}
    return {"bootstrap": boot, "fold_mean": fold_mean(metrics)}
