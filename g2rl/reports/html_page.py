"""Standalone HTML pages for the Snakemake report: the tables (Table 1, G2RL vs Baseline, ablation) and Figure 4.

Snakemake's report shows a registered ``.html`` result in an ``<iframe>`` that fills the screen and
scrolls; a ``.csv`` or ``.md`` result is only a download link, and a tall PNG is centred in a box whose
top is cut off. So every table is also written as one of these pages, and the heatmap figure is wrapped
in one. A page is plain HTML with an inline style and no script, so it opens the same from disk.

Cells are HTML fragments the caller has already escaped (they may hold ``<b>`` for a best value);
headings and notes are plain text and escaped here.
"""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path
from typing import Sequence

STYLE = (
    "body{font-family:sans-serif;font-size:14px;margin:12px} table{border-collapse:collapse;margin:6px 0 14px}"
    " th,td{padding:3px 8px;text-align:right;border-bottom:1px solid #ddd;white-space:nowrap}"
    " th{white-space:normal;vertical-align:bottom}"  # long headings wrap, so a table fits the report's frame
    " td.m,th.m{text-align:left} tr.block th{background:#eee;text-align:left} tr.ours td{background:#f6f8ff}"
    " p.demo{background:#fde2e1;border:2px solid #c0392b;padding:6px;font-weight:bold}"
    " img{max-width:100%;height:auto}"
)


class Row:
    """One table row: ``cells`` (HTML fragments), its CSS ``cls`` ('ours' shades our rows), or a block
    heading spanning the table when ``block`` is set (Table 1's 'ICC' / 'MAE' rows)."""

    def __init__(self, cells: Sequence[str] = (), cls: str = "", block: str | None = None):
        self.cells, self.cls, self.block = list(cells), cls, block


def table(header: Sequence[str], rows: Sequence[Row | Sequence[str]], left: int = 1) -> str:
    """A ``<table>``: ``header`` (plain text), ``rows``; the first ``left`` columns align left (labels)."""
    cls = lambda j: " class='m'" if j < left else ""  # noqa: E731
    out = ["<table><tr>" + "".join(f"<th{cls(j)}>{escape(h)}</th>" for j, h in enumerate(header)) + "</tr>"]
    for row in rows:
        row = row if isinstance(row, Row) else Row(row)
        if row.block is not None:
            out.append(f"<tr class='block'><th colspan='{len(header)}'>{escape(row.block)}</th></tr>")
            continue
        attr = f" class='{row.cls}'" if row.cls else ""
        out.append(f"<tr{attr}>" + "".join(f"<td{cls(j)}>{c}</td>" for j, c in enumerate(row.cells)) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def paragraph(text: str, demo: bool = False) -> str:
    """A plain-text paragraph; ``demo`` draws it as the red DEMO banner."""
    return f"<p class='demo'>{escape(text)}</p>" if demo else f"<p>{escape(text)}</p>"


def bullets(items: Sequence[str]) -> str:
    """A plain-text bullet list (empty string for no items)."""
    return "<ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>" if items else ""


def page(title: str, parts: Sequence[str]) -> str:
    """The whole document: ``title`` as heading, then ``parts`` (HTML fragments from the helpers above)."""
    return "\n".join(["<!DOCTYPE html>", "<html><head><meta charset='utf-8'>", f"<title>{escape(title)}</title>",
                      f"<style>{STYLE}</style>", "</head><body>", f"<h3>{escape(title)}</h3>",
                      *[p for p in parts if p], "</body></html>"]) + "\n"


def image_page(png: str | Path, title: str, notes: Sequence[str] = ()) -> str:
    """A page showing ``png`` (embedded, scaled to the frame's width, scrollable from its top) under ``title``."""
    data = base64.b64encode(Path(png).read_bytes()).decode("ascii")
    return page(title, [bullets(notes), f"<img alt='{escape(title)}' src='data:image/png;base64,{data}'>"])
