"""Table 1: our Baseline and G2RL rows next to the paper's published rows, per dataset.

:func:`build_table1` assembles the numbers (ICC and MAE per AU and their average);
:func:`write_table1` writes them as ``.csv`` (full precision, plus a ``best`` column),
``.md``, ``.tex`` and ``.html`` (2 decimals, best value per column in bold: highest ICC, lowest
MAE, among the paper's rows and separately among ours on real data; never on demo rows).
Every output states which data our rows were computed on, because a table computed on the
demo dataset looks just like one computed on BP4D.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from g2rl.atomic import atomic_path
from g2rl.errors import G2RLError
from g2rl.reports.evaluate import mean_headline_table
from g2rl.reports.marks import HIGHER_IS_BETTER, LATEX_SYMBOLS
from g2rl.reports.numfmt import fixed
from g2rl.reports.paper_table import METRICS, dataset_aus, paper_wide, read_paper_table
from g2rl.reports.table1_evidence import (UNCERTAINTY_TITLE, csv_columns, mark_cells, uncertainty_markdown,
                                        uncertainty_rows)

DATASET_NAMES = {"bp4d": "BP4D", "disfa": "DISFA"}
DATA_LABELS = ("demo", "real")
DECIMALS = 2  # as printed in the paper; bold is decided on the printed (rounded) values


def data_note(dataset: str, data_label: str) -> str:
    """The sentence each table carries about the data our rows come from."""
    name = DATASET_NAMES.get(dataset, dataset)
    if data_label == "demo":
        return (
            f"Rows marked (ours) were computed on the DEMO dataset (synthetic expressions on two "
            f"public-domain photographs, in the {name} layout): not comparable with the paper's numbers. "
            f"The other rows are the paper's published numbers."
        )
    if data_label == "real":
        return f"Rows marked (ours) were computed on {name}; the other rows are the paper's published numbers."
    raise G2RLError(f"data_label must be one of {DATA_LABELS}, got {data_label!r}")


def _protocol(runs: Sequence[dict]) -> str:
    head = runs[0].get("headline")
    if head == "pooled":
        text = f"pooled over {len(runs[0]['folds'])} fold(s)"
    elif isinstance(head, str) and head.startswith("fold:"):
        text = f"test split {head[len('fold:'):]}"
    else:
        text = "no headline section"
    return text + (f", mean over {len(runs)} seeds" if len(runs) > 1 else "")


def build_table1(
    dataset: str,
    our_metrics: Mapping[str, dict | Sequence[dict]],
    paper_csv: str | os.PathLike,
    data_label: str,
) -> pd.DataFrame:
    """Table 1 for one dataset ('bp4d' | 'disfa').

    ``our_metrics`` maps a method name ('Baseline', 'G2RL') to its metrics dict
    (:func:`g2rl.reports.evaluate.evaluate_runs` / ``read_metrics_json``), or to a list of them
    (one per seed, averaged); the headline section (pooled, else the only fold) is used.
    ``data_label`` is 'demo' or 'real'.

    Returns a DataFrame with columns ``metric`` ('ICC' | 'MAE'), ``method``, ``source``
    ('paper' | 'ours'), one column per AU the paper reports for the dataset, and ``Avg``. Rows:
    per metric, the paper's methods in the paper's order, then ours. The paper's Avg is as
    printed; ours is the plain mean over our AUs. An AU we did not evaluate is NaN (our Avg then
    covers fewer AUs, and ``attrs['notes']`` says so); an AU the paper does not report is an error.
    ``attrs`` holds dataset, data_label, data_note and notes (protocol per method).
    """
    note = data_note(dataset, data_label)
    paper = read_paper_table(paper_csv)
    aus = dataset_aus(paper, dataset)
    notes = []
    ours: dict[str, pd.DataFrame] = {}
    for method, metrics in our_metrics.items():
        runs = [metrics] if isinstance(metrics, dict) else list(metrics)
        table = mean_headline_table(runs, source=f"{method} metrics")
        extra = [a for a in table.index if a != "Avg" and a not in aus]
        if extra:
            raise G2RLError(f"{method} metrics have AU(s) {extra} that the paper does not report for {dataset}")
        lacking = [a for a in aus if a not in table.index]
        notes.append(
            f"{method} (ours): {_protocol(runs)}"
            + (f"; not evaluated: {', '.join(lacking)} (Avg over {len(aus) - len(lacking)} AUs)" if lacking else "")
        )
        ours[method] = table
    rows = []
    for metric in METRICS:
        wide = paper_wide(paper, dataset, metric)
        for method, vals in wide.iterrows():
            rows.append({"metric": metric, "method": method, "source": "paper", **vals.to_dict()})
        for method, table in ours.items():
            col = metric.lower()
            vals = {a: float(table.at[a, col]) if a in table.index else math.nan for a in aus}
            vals["Avg"] = float(table.at["Avg", col])
            rows.append({"metric": metric, "method": method, "source": "ours", **vals})
    df = pd.DataFrame(rows, columns=["metric", "method", "source", *aus, "Avg"])
    df.attrs.update(dataset=dataset, data_label=data_label, data_note=note, notes=notes)
    return df


def value_columns(df: pd.DataFrame) -> list[str]:
    """The numeric columns of a Table 1 frame (AUs and Avg)."""
    return [c for c in df.columns if c not in ("metric", "method", "source", "best")]


def best_mask(df: pd.DataFrame) -> pd.DataFrame:
    """Boolean frame (same index, value columns): True where a cell is the best of its column.

    The paper's rows compete among themselves, and ours among themselves, never with each other:
    our numbers come from another run of the method (and maybe other data), so a bold cell says
    "best published" or "best of ours", not a claim over the paper. Our rows get bold only when
    ``attrs['data_label']`` is 'real': a demo number must never look like a result. Values are
    compared as printed (rounded), so ties are all bold.
    """
    cols = value_columns(df)
    mask = pd.DataFrame(False, index=df.index, columns=cols)
    for (metric, source), block in df.groupby(["metric", "source"], sort=False):
        if metric not in HIGHER_IS_BETTER:
            raise G2RLError(f"unknown metric {metric!r} in Table 1 frame")
        if source == "ours" and df.attrs.get("data_label") != "real":
            continue
        for c in cols:
            shown = block[c].astype(float).round(DECIMALS)
            if shown.notna().any():
                target = shown.max() if HIGHER_IS_BETTER[metric] else shown.min()
                mask.loc[block.index, c] = (shown == target).to_numpy()
    return mask


def _label(row, df: pd.DataFrame | None = None) -> str:
    """'KJRE', 'Baseline (ours)', or for our G2RL the variant it ran: 'G2RL (ours, literal)'. A row whose label is
    already its guidance's title ('G2RL + stop-grad/teach', g2rl.model.variants.GUIDANCE_TITLES) is not told it
    twice: 'G2RL + stop-grad/teach (ours)' (the notes and the CSV's variant column say stopgrad_aux)."""
    from g2rl.model.variants import GUIDANCE_TITLES

    if row["source"] != "ours":
        return str(row["method"])
    variant = (df.attrs.get("variants") or {}).get(row["method"], "") if df is not None else ""
    if not variant or GUIDANCE_TITLES.get(variant) == row["method"]:
        return f"{row['method']} (ours)"
    return f"{row['method']} (ours, {variant})"


def name_variant(df: pd.DataFrame, method: str, model: dict | None) -> pd.DataFrame:
    """Record which variant our ``method`` rows ran (g2rl.reports.model_label): the row label names its
    guidance, the notes its other non-paper choices."""
    from g2rl.reports.model_label import choices_note, variant_name

    if variant_name(model):
        df.attrs["variants"] = {**df.attrs.get("variants", {}), method: variant_name(model)}
        df.attrs["notes"] = [*df.attrs.get("notes", []), choices_note(model, method)]
    return df


def _fmt(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "--"
    return fixed(value, DECIMALS)  # never "-0.00"


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}",
}


def _latex_escape(text: str) -> str:
    # One pass, so the braces that an escape introduces are not escaped again.
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def to_markdown(df: pd.DataFrame, caption: str) -> str:
    """Markdown: a caption paragraph with the data note, then the table, best cells in **bold**."""
    cols = value_columns(df)
    best = best_mask(df)
    lines = [f"**{caption}**", "", df.attrs.get("data_note", ""), ""]
    lines += [f"- {n}" for n in df.attrs.get("notes", [])]
    lines += ["", "| Metric | Method | " + " | ".join(cols) + " |", "|---|---|" + "---:|" * len(cols)]
    for i, row in df.iterrows():
        cells = [f"**{_fmt(row[c])}**" if best.at[i, c] else _fmt(row[c]) for c in cols]
        cells = mark_cells(df, row, cols, cells)  # G2RL better / worse than the Baseline (g2rl.reports.marks)
        lines.append(f"| {row['metric']} | {_label(row, df)} | " + " | ".join(cells) + " |")
    lines += uncertainty_markdown(df)
    return "\n".join(lines) + "\n"


def _latex_caption(text: str) -> str:
    """The caption escaped, with the ▲ / ▼ of the marks' legend as the same macros as the cells."""
    out = _latex_escape(text)
    for symbol, macro in LATEX_SYMBOLS.items():
        out = out.replace(symbol, macro)
    return out


def to_latex(df: pd.DataFrame, caption: str) -> str:
    """LaTeX ``table`` (plain ``tabular`` with ``\\hline``, no extra packages), best cells in ``\\textbf``."""
    cols = value_columns(df)
    best = best_mask(df)
    parts = [caption, df.attrs.get("data_note", ""), *df.attrs.get("notes", [])]
    full_caption = " ".join(p if p.endswith((".", ":")) else p + "." for p in (q.strip() for q in parts) if p)
    out = [
        "\\begin{table}[t]",
        "\\centering",
        f"\\caption{{{_latex_caption(full_caption)}}}",
        "\\begin{tabular}{l" + "c" * len(cols) + "}",
        "\\hline",
        "Method & " + " & ".join(_latex_escape(c) for c in cols) + " \\\\",
    ]
    for metric, block in df.groupby("metric", sort=False):
        out += ["\\hline", f"\\multicolumn{{{len(cols) + 1}}}{{l}}{{{_latex_escape(str(metric))}}} \\\\", "\\hline"]
        for i, row in block.iterrows():
            cells = [f"\\textbf{{{_fmt(row[c])}}}" if best.at[i, c] else _fmt(row[c]) for c in cols]
            cells = mark_cells(df, row, cols, cells, latex=True)
            out.append(f"{_latex_escape(_label(row, df))} & " + " & ".join(cells) + " \\\\")
    out += ["\\hline", "\\end{tabular}", "\\end{table}"]
    return "\n".join(out) + "\n"


def to_html(df: pd.DataFrame, caption: str) -> str:
    """A standalone HTML page (g2rl.reports.html_page) as the Snakemake report shows it: caption, the data
    note (a red banner on demo data), the protocol notes, the table with best cells in ``<b>``, then our
    rows' uncertainty as a second table."""
    from html import escape

    from g2rl.reports.html_page import Row, bullets, page, paragraph, table

    cols = value_columns(df)
    best = best_mask(df)
    demo = df.attrs.get("data_label") == "demo"
    rows = []
    for metric, block in df.groupby("metric", sort=False):
        rows.append(Row(block=str(metric)))
        for i, row in block.iterrows():
            cells = [f"<b>{_fmt(row[c])}</b>" if best.at[i, c] else _fmt(row[c]) for c in cols]
            cells = mark_cells(df, row, cols, cells)
            rows.append(Row([escape(_label(row, df)), *cells], "ours" if row["source"] == "ours" else ""))
    parts = [paragraph(df.attrs.get("data_note", ""), demo=demo), bullets(df.attrs.get("notes", [])),
             table(["Method", *cols], rows)]
    for metric in ("ICC", "MAE"):  # one table per metric, so three rows of ours still fit the report's frame
        header, uncertainty = uncertainty_rows(df, metric)
        if uncertainty:
            parts += [paragraph(f"{UNCERTAINTY_TITLE}, {metric}"),
                      table(header, [[escape(c) for c in r] for r in uncertainty])]
    parts.append(paragraph("Bold: the best value of a column among the paper's rows, and separately among ours"
                           + (" (none here: demo numbers are never marked best)." if demo else ".")))
    return page(caption, parts)


def to_csv_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The CSV form: full-precision values, ``source`` says 'paper' or 'ours (<data>)', and
    ``best`` lists the columns where the row holds the best (bold) value."""
    best = best_mask(df)
    out = df.copy()
    cols = value_columns(df)
    out[cols] = out[cols].astype(float) + 0.0  # -0.0 -> 0.0, written "0", never "-0"
    label = df.attrs.get("data_label", "")
    name = DATASET_NAMES.get(df.attrs.get("dataset", ""), df.attrs.get("dataset", ""))
    where = "DEMO data, not comparable with the paper" if label == "demo" else name
    out["source"] = np.where(df["source"] == "ours", f"ours ({where})", "paper")
    out["best"] = [";".join(c for c in best.columns if best.at[i, c]) for i in df.index]
    out["variant"] = [(df.attrs.get("variants") or {}).get(r["method"], "") if r["source"] == "ours" else ""
                      for _, r in df.iterrows()]
    return csv_columns(df, out)  # sd, CI and marks when evidence is attached


def write_table1(df: pd.DataFrame, out_prefix: str | os.PathLike, caption: str) -> dict[str, Path]:
    """Write ``<out_prefix>.csv``, ``.md``, ``.tex`` and ``.html`` atomically; returns {ext: path}.

    ``df`` comes from :func:`build_table1` (its ``attrs`` carry the data note that every output
    repeats). ``caption`` is the title, e.g. 'Table 1 (BP4D): ICC and MAE per AU'.
    """
    if "data_note" not in df.attrs:
        raise G2RLError("Table 1 frame has no data note; build it with build_table1")
    out_prefix = Path(out_prefix)
    paths = {ext: out_prefix.with_name(out_prefix.name + f".{ext}") for ext in ("csv", "md", "tex", "html")}
    with atomic_path(paths["csv"]) as tmp:
        to_csv_frame(df).to_csv(tmp, index=False, float_format="%.6g")
    with atomic_path(paths["md"]) as tmp:
        tmp.write_text(to_markdown(df, caption))
    with atomic_path(paths["tex"]) as tmp:
        tmp.write_text(to_latex(df, caption))
    with atomic_path(paths["html"]) as tmp:
        tmp.write_text(to_html(df, caption))
    return paths
