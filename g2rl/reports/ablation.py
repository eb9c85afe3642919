"""The ablation table: Baseline, Table 1's G2RL and its variants, side by side on the same folds.

Input: a JSON list of rows, each ``{"name", "changes", "predictions": [csv, ...], "train_logs": [csv, ...]}``
(one predictions.csv and train_log.csv per test fold, the same folds for every row). Output:
``table.csv`` (one row per method: ICC and MAE averaged and per AU, the final ``g_spread`` and
``g_norm`` of the train log, averaged over folds) and ``table.md`` and ``table.html`` (the report's view). Metrics come from
g2rl.reports.evaluate: over the pooled folds when there are several (DISFA's protocol), else the one
fold. ``g_spread`` near 0 means G no longer varies across faces: the guidance has collapsed.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from g2rl.atomic import atomic_path
from g2rl.errors import G2RLError
from g2rl.reports.evaluate import evaluate_runs


def final_log_value(paths: list[str], column: str) -> float:
    """Mean over folds of ``column`` in each train log's last epoch (NaN for the Baseline)."""
    values = []
    for path in paths:
        try:
            log = pd.read_csv(path)
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise G2RLError(f"{path}: cannot read the train log ({exc})") from exc
        if column not in log.columns or log.empty:
            raise G2RLError(f"{path}: train log has no {column!r} column or no epoch")
        values.append(float(log[column].iloc[-1]))
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def ablation_row(spec: dict, aus: list[str] | None) -> dict:
    """One table row from one method's fold predictions and train logs."""
    metrics = evaluate_runs(spec["predictions"], aus=aus, pooled=len(spec["predictions"]) > 1)
    section = metrics["pooled"] or next(iter(metrics["folds"].values()))
    nan = lambda v: float("nan") if v is None else float(v)  # noqa: E731
    row = {"method": spec["name"], "changes": spec.get("changes", ""),
           "ICC_avg": nan(section["avg"]["icc"]), "MAE_avg": nan(section["avg"]["mae"]),
           "g_spread_final": final_log_value(spec["train_logs"], "g_spread"),
           "g_norm_final": final_log_value(spec["train_logs"], "g_norm"),
           "folds": ",".join(sorted(metrics["folds"])), "n_frames": int(section["n_frames"])}
    for au in metrics["aus"]:
        row[f"ICC_{au}"] = nan(section["per_au"][au]["icc"])
    for au in metrics["aus"]:
        row[f"MAE_{au}"] = nan(section["per_au"][au]["mae"])
    return row


def build_ablation_table(rows: list[dict], aus: list[str] | None = None) -> pd.DataFrame:
    if not rows:
        raise G2RLError("ablation: no rows given")
    if len({len(r["predictions"]) for r in rows}) != 1:
        raise G2RLError("ablation: rows have different numbers of test folds; they would not be comparable")
    return pd.DataFrame([ablation_row(r, aus) for r in rows])


def _fmt(v) -> str:
    if isinstance(v, float):
        return "–" if math.isnan(v) else f"{v:.3f}"
    return str(v)


def ablation_blocks(table: pd.DataFrame, dataset: str, data_label: str) -> tuple[str, list[str], list[tuple[str, list[str], list[list[str]]]]]:
    """The ablation as printed: (title, caption lines, [(heading, header, rows of plain-text cells)])."""
    aus = [c.removeprefix("ICC_") for c in table.columns if c.startswith("ICC_AU")]
    caption = []
    if data_label == "demo":
        caption.append("Demo data (synthetic expressions on two faces, a toy-sized network): these numbers say whether "
                       "each variant runs and what it does to G, not how it would do on the real dataset.")
    caption.append(f"Folds: {table['folds'].iloc[0]} ({table['n_frames'].iloc[0]} test frames). g_spread: mean over G's "
                   "coordinates of its std across a batch in the last epoch (≈ 0: G collapsed to a constant); "
                   "g_norm: mean ||G_raw||.")
    head = ["method", "changes", "ICC avg", "MAE avg", "g_spread", "g_norm"]
    summary = [[_fmt(v) for v in (r["method"], r["changes"], r["ICC_avg"], r["MAE_avg"], r["g_spread_final"],
                                  r["g_norm_final"])] for _, r in table.iterrows()]
    blocks = [("", head, summary)]
    for metric in ("ICC", "MAE"):
        blocks.append((f"{metric} per AU:", ["method", *aus],
                       [[str(r["method"]), *(_fmt(r[f"{metric}_{au}"]) for au in aus)] for _, r in table.iterrows()]))
    return f"Ablation on {dataset} ({data_label} data)", caption, blocks


def ablation_markdown(table: pd.DataFrame, dataset: str, data_label: str) -> str:
    title, caption, blocks = ablation_blocks(table, dataset, data_label)
    lines = [f"# {title}", ""]
    for line in caption:
        lines += [line, ""]
    for heading, head, rows in blocks:
        lines += [heading, ""] if heading else []
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head), *("| " + " | ".join(r) + " |" for r in rows), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def ablation_html(table: pd.DataFrame, dataset: str, data_label: str) -> str:
    """The same content as :func:`ablation_markdown`, as a page the Snakemake report renders."""
    from html import escape

    from g2rl.reports.html_page import page, paragraph, table as html_table

    title, caption, blocks = ablation_blocks(table, dataset, data_label)
    parts = [paragraph(line, demo=data_label == "demo" and i == 0) for i, line in enumerate(caption)]
    for heading, head, rows in blocks:
        parts += [paragraph(heading), html_table(head, [[escape(c) for c in r] for r in rows], left=2 if heading == "" else 1)]
    return page(title, parts)


def write_ablation(rows: list[dict], out_prefix: str | os.PathLike, dataset: str, data_label: str,
                   aus: list[str] | None = None) -> pd.DataFrame:
    """Write ``<out_prefix>.csv``, ``.md`` and ``.html``; return the table."""
    table = build_ablation_table(rows, aus)
    prefix = Path(out_prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(prefix.with_suffix(".csv")) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    with atomic_path(prefix.with_suffix(".md")) as tmp:
        Path(tmp).write_text(ablation_markdown(table, dataset, data_label))
    with atomic_path(prefix.with_suffix(".html")) as tmp:
        Path(tmp).write_text(ablation_html(table, dataset, data_label))
    return table


def read_rows(text_or_path: str) -> list[dict]:
    """The rows argument: a JSON list, or a file holding one."""
    source = text_or_path
    if not text_or_path.lstrip().startswith("["):
        try:
            source = Path(text_or_path).read_text()
        except OSError as exc:
            raise G2RLError(f"{text_or_path}: cannot read the ablation rows ({exc})") from exc
    try:
        rows = json.loads(source)
    except json.JSONDecodeError as exc:
        raise G2RLError(f"ablation rows: not valid JSON ({exc})") from None
    for r in rows:
        missing = {"name", "predictions", "train_logs"} - set(r)
        if missing:
            raise G2RLError(f"ablation rows: row {r.get('name', '?')!r} lacks {sorted(missing)}")
    return rows
