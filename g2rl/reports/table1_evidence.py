"""Table 1's uncertainty: sd over seeds, the subject-bootstrap CI and the G2RL-differs mark.

:func:`attach_evidence` puts an evidence.json (g2rl.reports.evidence_report) on a Table 1
frame (``df.attrs['evidence']``); the writers in g2rl.reports.table1 then

- mark our G2RL cells whose paired difference to our Baseline has a CI excluding 0, ``▲`` better and ``▼``
  worse (g2rl.reports.marks; none when the test subjects are too few to tell),
- list our rows again as ``mean ± sd [95 % CI]`` under the table (markdown), and
- add ``<col>_sd``, ``<col>_lo``, ``<col>_hi``, ``g2rl_better`` and ``g2rl_worse`` columns to the CSV.
"""

from __future__ import annotations

import math

import pandas as pd

from g2rl.errors import G2RLError
from g2rl.reports.comparison import fmt_estimate
from g2rl.reports.marks import LATEX_SYMBOLS, SYMBOLS, direction, legend, marks_shown
from g2rl.reports.numfmt import fixed

METHOD_KEYS = {"Baseline": "Baseline", "G2RL": "G2RL"}


def attach_evidence(df: pd.DataFrame, evidence: dict) -> pd.DataFrame:
    """Store the per-cell sd, CI and marks of ``evidence`` (same dataset as ``df``) in ``df.attrs``."""
    if evidence.get("dataset") != df.attrs.get("dataset"):
        raise G2RLError(f"evidence is for {evidence.get('dataset')!r}, Table 1 for {df.attrs.get('dataset')!r}")
    cols = [c for c in df.columns if c not in ("metric", "method", "source", "best")]
    cells, marks = {}, {}
    for method, entry in evidence["methods"].items():
        for metric in ("ICC", "MAE"):
            m = metric.lower()
            for c in cols:
                src = entry["avg"] if c == "Avg" else entry["per_au"].get(c)
                if src is None:
                    continue
                v = src[m]
                cells[(method, metric, c)] = tuple(math.nan if x is None else float(x) for x in (v["mean"], v["sd"], *v["ci"]))
    if evidence.get("difference") and marks_shown(len(evidence["subjects"])):
        for metric in ("ICC", "MAE"):
            m = metric.lower()
            for c in cols:
                d = ((evidence["difference"]["avg"] if c == "Avg" else evidence["difference"]["per_au"].get(c, {}))
                     .get(m) or {})
                way = direction(metric, d.get("diff"), bool(d.get("ci_excludes_0")))
                if way:
                    marks[(metric, c)] = way
    b = evidence["bootstrap"]
    # ASCII apart from the marks: the note is also the LaTeX caption (to_latex swaps the marks for macros)
    note = (f"Uncertainty (ours): sd over {len(evidence['seeds'])} seed(s) and {round(b['level'] * 100)} % "
            f"bootstrap CI over the {len(evidence['subjects'])} test subjects (B = {b['n_resamples']}, seed {b['seed']})"
            + (f"; {legend(len(evidence['subjects']))}" if evidence.get("difference") else ""))
    df.attrs["evidence"] = {"cells": cells, "marks": marks}
    df.attrs["notes"] = [*df.attrs.get("notes", []), note, *fold_mean_notes(evidence)]
    return df


def fold_mean_notes(evidence: dict) -> list[str]:
    """One line per method with the mean over folds of the per-fold averages (DISFA), next to the
    pooled figure the table shows; none for a single test fold (BP4D)."""
    out = []
    for method, entry in evidence["methods"].items():
        fm = entry.get("fold_mean")
        if fm:
            icc, mae = (_fmt2(fm["avg"][m]) for m in ("icc", "mae"))
            out.append(f"{method} (ours), per-fold mean instead of pooled: Avg ICC {icc}, Avg MAE {mae} "
                       f"(mean over {int(fm['n_folds'])} folds and the seeds)")
    return out


def _fmt2(x) -> str:
    return "--" if x is None else fixed(x, 2)


def mark_of(df: pd.DataFrame, row, col: str) -> str:
    """'better' / 'worse' for our G2RL cell whose paired-difference CI excludes 0, else ''."""
    ev = df.attrs.get("evidence")
    if not ev or row["source"] != "ours" or row["method"] != "G2RL":
        return ""
    return ev["marks"].get((row["metric"], col), "")


def mark_cells(df: pd.DataFrame, row, cols: list[str], cells: list[str], latex: bool = False) -> list[str]:
    """``cells`` (formatted values of ``cols`` in ``row``) with ▲ / ▼ appended where :func:`mark_of` says
    (LaTeX macros when ``latex``)."""
    out = []
    for c, cell in zip(cols, cells):
        way = mark_of(df, row, c)
        symbol = SYMBOLS[way] if way else ""
        out.append(cell + (LATEX_SYMBOLS[symbol] if latex and symbol else symbol))
    return out


UNCERTAINTY_TITLE = "Our rows with their uncertainty: mean ± sd over seeds [95 % bootstrap CI over test subjects]"


def uncertainty_rows(df: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Our rows' uncertainty, one line per AU (and Avg) so it fits a page: header ``[AU, ICC Baseline, ICC
    G2RL, MAE Baseline, MAE G2RL]``, cells 'mean ± sd [lo, hi]'; ``([], [])`` without evidence."""
    ev = df.attrs.get("evidence")
    if not ev:
        return [], []
    cols = [c for c in df.columns if c not in ("metric", "method", "source", "best")]
    pairs = [(metric, method) for metric in ("ICC", "MAE") for method in ("Baseline", "G2RL")
             if any((method, metric, c) in ev["cells"] for c in cols)]
    header = ["AU", *(f"{metric} {method} (ours)" for metric, method in pairs)]
    rows = [[c, *(fmt_estimate(*ev["cells"][(method, metric, c)]) if (method, metric, c) in ev["cells"] else "--"
                  for metric, method in pairs)] for c in cols]
    return header, rows


def uncertainty_markdown(df: pd.DataFrame) -> list[str]:
    """Markdown lines listing our rows as mean ± sd [CI]; empty without evidence."""
    header, rows = uncertainty_rows(df)
    if not rows:
        return []
    return ["", UNCERTAINTY_TITLE, "", "| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1),
            *("| " + " | ".join(r) + " |" for r in rows)]


def csv_columns(df: pd.DataFrame, out: pd.DataFrame) -> pd.DataFrame:
    """Add ``<col>_sd``, ``<col>_lo``, ``<col>_hi`` (ours only), ``g2rl_better`` and ``g2rl_worse`` (the
    columns marked ▲ / ▼, ';'-separated) to the CSV frame."""
    ev = df.attrs.get("evidence")
    if not ev:
        return out
    cols = [c for c in df.columns if c not in ("metric", "method", "source", "best")]
    for j, part in ((1, "sd"), (2, "lo"), (3, "hi")):
        for c in cols:
            out[f"{c}_{part}"] = [ev["cells"].get((r["method"], r["metric"], c), (math.nan,) * 4)[j]
                                  if r["source"] == "ours" else math.nan for _, r in df.iterrows()]
    for way in ("better", "worse"):
        out[f"g2rl_{way}"] = [";".join(c for c in cols if mark_of(df, r, c) == way) for _, r in df.iterrows()]
    return out
