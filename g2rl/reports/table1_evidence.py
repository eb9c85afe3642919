"""Table 1's uncertainty: sd over seeds, the two-level bootstrap CI and the differs-from-the-Baseline mark.

:func:`attach_evidence` puts an evidence.json (g2rl.reports.evidence_report) on a Table 1
frame (``df.attrs['evidence']``); the writers in g2rl.reports.table1 then

- mark each of our G2RL rows' cells whose paired difference to our Baseline has a CI excluding 0 and seeds
  that agree, ``▲`` better and ``▼`` worse (g2rl.reports.marks; none when the test subjects are too few),
- list our rows again as ``mean ± sd [95 % CI]`` under the table (markdown, html), and
- add ``<col>_sd``, ``<col>_lo``, ``<col>_hi``, ``better_than_baseline`` and ``worse_than_baseline`` columns
  to the CSV.

Our rows are matched to the evidence's by their label (g2rl.reports.model_label.row_identities, computed
from the same runs' records), so an evidence.json of other runs is refused rather than mislabelled.
"""

from __future__ import annotations

import math

import pandas as pd

from g2rl.errors import G2RLError
from g2rl.reports.comparison import fmt_estimate
from g2rl.reports.marks import LATEX_SYMBOLS, SYMBOLS
from g2rl.reports.numfmt import fixed


def attach_evidence(df: pd.DataFrame, evidence: dict) -> pd.DataFrame:
    """Store the per-cell sd, CI and marks of ``evidence`` (same dataset and rows as ``df``) in ``df.attrs``."""
    if evidence.get("dataset") != df.attrs.get("dataset"):
        raise G2RLError(f"evidence is for {evidence.get('dataset')!r}, Table 1 for {df.attrs.get('dataset')!r}")
    labels = {row: entry["label"] for row, entry in evidence["methods"].items()}
    ours = sorted(set(df.loc[df["source"] == "ours", "method"]))
    if sorted(labels.values()) != ours:
        raise G2RLError(f"evidence rows {sorted(labels.values())} are not Table 1's rows {ours}; "
                        "build both from the same runs")
    cols = [c for c in df.columns if c not in ("metric", "method", "source", "best")]
    cells, marks = {}, {}
    for row, entry in evidence["methods"].items():
        for metric in ("ICC", "MAE"):
            m = metric.lower()
            for c in cols:
                src = entry["avg"] if c == "Avg" else entry["per_au"].get(c)
                if src is None:
                    continue
                v = src[m]
                cells[(labels[row], metric, c)] = tuple(math.nan if x is None else float(x)
                                                        for x in (v["mean"], v["sd"], *v["ci"]))
    for row, diff in evidence["differences"].items():
        for metric in ("ICC", "MAE"):
            for c in cols:
                cell = (diff["avg"] if c == "Avg" else diff["per_au"].get(c, {})).get(metric.lower()) or {}
                if cell.get("mark"):
                    marks[(labels[row], metric, c)] = cell["mark"]
    b = evidence["bootstrap"]
    # ASCII apart from the marks: the note is also the LaTeX caption (to_latex swaps the marks for macros)
    note = (f"Uncertainty (ours): sd over {len(evidence['seeds'])} seed(s) and {round(b['level'] * 100)} % "
            f"bootstrap CI resampling the seeds and the {len(evidence['subjects'])} test subjects "
            f"(B = {b['n_resamples']}, seed {b['seed']}); {evidence['marks']['legend']}")
    multiplicity = evidence["multiplicity"]["note"]
    df.attrs["evidence"] = {"cells": cells, "marks": marks, "rows": [labels[r] for r in evidence["rows"]]}
    df.attrs["notes"] = [*df.attrs.get("notes", []), note, *([multiplicity] if multiplicity else []),
                         *fold_mean_notes(evidence)]
    return df


def fold_mean_notes(evidence: dict) -> list[str]:
    """One line per method with the mean over folds of the per-fold averages (DISFA), next to the
    pooled figure the table shows; none for a single test fold (BP4D)."""
    out = []
    for entry in evidence["methods"].values():
        fm = entry.get("fold_mean")
        if fm:
            icc, mae = (_fmt2(fm["avg"][m]) for m in ("icc", "mae"))
            out.append(f"{entry['label']} (ours), per-fold mean instead of pooled: Avg ICC {icc}, Avg MAE {mae} "
                       f"(mean over {int(fm['n_folds'])} folds and the seeds)")
    return out


def _fmt2(x) -> str:
    return "--" if x is None else fixed(x, 2)


def mark_of(df: pd.DataFrame, row, col: str) -> str:
    """'better' / 'worse' for one of our G2RL rows' cells that evidence.json marks, else ''."""
    ev = df.attrs.get("evidence")
    if not ev or row["source"] != "ours":
        return ""
    return ev["marks"].get((row["method"], row["metric"], col), "")


def mark_cells(df: pd.DataFrame, row, cols: list[str], cells: list[str], latex: bool = False) -> list[str]:
    """``cells`` (formatted values of ``cols`` in ``row``) with ▲ / ▼ appended where :func:`mark_of` says
    (LaTeX macros when ``latex``)."""
    out = []
    for c, cell in zip(cols, cells):
        way = mark_of(df, row, c)
        symbol = SYMBOLS[way] if way else ""
        out.append(cell + (LATEX_SYMBOLS[symbol] if latex and symbol else symbol))
    return out


UNCERTAINTY_TITLE = "Our rows with their uncertainty: mean ± sd over seeds [95 % bootstrap CI resampling seeds and test subjects]"


def uncertainty_rows(df: pd.DataFrame, metric: str) -> tuple[list[str], list[list[str]]]:
    """Our rows' uncertainty in ``metric`` ('ICC' or 'MAE'), one line per AU (and Avg), one column per row of ours,
    so it fits a page: header ``[AU, ICC Baseline (ours), ICC G2RL (ours), ...]``, cells 'mean ± sd [lo, hi]';
    ``([], [])`` without evidence."""
    ev = df.attrs.get("evidence")
    if not ev:
        return [], []
    cols = [c for c in df.columns if c not in ("metric", "method", "source", "best")]
    methods = [m for m in ev["rows"] if any((m, metric, c) in ev["cells"] for c in cols)]
    header = ["AU", *(f"{metric} {method} (ours)" for method in methods)]
    rows = [[c, *(fmt_estimate(*ev["cells"][(method, metric, c)]) if (method, metric, c) in ev["cells"] else "--"
                  for method in methods)] for c in cols]
    return header, rows


def uncertainty_markdown(df: pd.DataFrame) -> list[str]:
    """Markdown lines listing our rows as mean ± sd [CI], ICC then MAE; empty without evidence."""
    lines = []
    for metric in ("ICC", "MAE"):
        header, rows = uncertainty_rows(df, metric)
        if rows:
            lines += ["", f"{UNCERTAINTY_TITLE}, {metric}", "", "| " + " | ".join(header) + " |",
                      "|---|" + "---:|" * (len(header) - 1), *("| " + " | ".join(r) + " |" for r in rows)]
    return lines


def csv_columns(df: pd.DataFrame, out: pd.DataFrame) -> pd.DataFrame:
    """Add ``<col>_sd``, ``<col>_lo``, ``<col>_hi`` (ours only), ``better_than_baseline`` and
    ``worse_than_baseline`` (the columns marked ▲ / ▼ on that row, ';'-separated) to the CSV frame."""
    ev = df.attrs.get("evidence")
    if not ev:
        return out
    cols = [c for c in df.columns if c not in ("metric", "method", "source", "best")]
    for j, part in ((1, "sd"), (2, "lo"), (3, "hi")):
        for c in cols:
            out[f"{c}_{part}"] = [ev["cells"].get((r["method"], r["metric"], c), (math.nan,) * 4)[j]
                                  if r["source"] == "ours" else math.nan for _, r in df.iterrows()]
    for way in ("better", "worse"):
        out[f"{way}_than_baseline"] = [";".join(c for c in cols if mark_of(df, r, c) == way) for _, r in df.iterrows()]
    return out
