"""The G2RL-vs-Baseline table (``results/tables/g2rl_vs_baseline_{dataset}.{csv,md,html}``) from evidence.json files.

One row per (dataset, AU or Avg, metric): each method's mean +- sd over seeds with its 95 %
bootstrap CI over test subjects, the paired difference G2RL - Baseline with its CI, the share
of resamples G2RL wins, whether the CI excludes 0, ``g2rl_mark`` ('better' / 'worse' / '': the ▲ / ▼ of
g2rl.reports.marks, always '' when the test subjects are too few), and the G2RL diagnostics: the geometry
branch's own test score in that metric (its "teach" head on the test landmarks), the final L_G
and g_spread (run-level: the same on every row of a dataset; mean over folds and seeds).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Sequence

import pandas as pd

from g2rl.atomic import atomic_path
from g2rl.errors import G2RLError
from g2rl.reports.marks import SYMBOLS, direction, legend as marks_legend, marks_shown
from g2rl.reports.numfmt import fixed

DATASET_NAMES = {"bp4d": "BP4D", "disfa": "DISFA"}
TITLE = "G2RL vs Baseline (ours): paired comparison over seeds and test subjects"
COLUMNS = [
    "dataset", "au", "metric", "n_seeds", "n_subjects",
    "baseline_mean", "baseline_sd", "baseline_lo", "baseline_hi",
    "g2rl_mean", "g2rl_sd", "g2rl_lo", "g2rl_hi",
    "diff", "diff_lo", "diff_hi", "g2rl_win_share", "ci_excludes_0", "g2rl_mark",
    "g2rl_teach", "g2rl_final_loss_guidance", "g2rl_final_g_spread",
]  # fmt: skip


def _nan(x) -> float:
    return math.nan if x is None else float(x)


def comparison_frame(evidences: Sequence[dict]) -> pd.DataFrame:
    """Rows (dataset, AU..., Avg) x (ICC, MAE) of the columns in :data:`COLUMNS`."""
    rows = []
    for ev in evidences:
        if ev.get("difference") is None or not {"Baseline", "G2RL"} <= set(ev["methods"]):
            raise G2RLError(f"{ev.get('dataset')}: evidence lacks the Baseline or G2RL runs; nothing to compare")
        base, g2rl, diff = ev["methods"]["Baseline"], ev["methods"]["G2RL"], ev["difference"]
        diag = g2rl.get("diagnostics") or {}
        teach = diag.get("teach") or {}
        shown = marks_shown(len(ev["subjects"]))
        for au in [*ev["aus"], "Avg"]:
            key = ("avg", None) if au == "Avg" else ("per_au", au)
            pick = (lambda d: d[key[0]]) if au == "Avg" else (lambda d: d[key[0]][key[1]])
            for metric in ("icc", "mae"):
                b, g, d = pick(base)[metric], pick(g2rl)[metric], pick(diff)[metric]
                t = (teach.get("avg") if au == "Avg" else (teach.get("per_au") or {}).get(au)) or {}
                rows.append({
                    "dataset": ev["dataset"], "au": au, "metric": metric.upper(), "n_seeds": len(ev["seeds"]),
                    "n_subjects": len(ev["subjects"]),
                    "baseline_mean": _nan(b["mean"]), "baseline_sd": _nan(b["sd"]),
                    "baseline_lo": _nan(b["ci"][0]), "baseline_hi": _nan(b["ci"][1]),
                    "g2rl_mean": _nan(g["mean"]), "g2rl_sd": _nan(g["sd"]),
                    "g2rl_lo": _nan(g["ci"][0]), "g2rl_hi": _nan(g["ci"][1]),
                    "diff": _nan(d["diff"]), "diff_lo": _nan(d["ci"][0]), "diff_hi": _nan(d["ci"][1]),
                    "g2rl_win_share": _nan(d["win_share"]), "ci_excludes_0": bool(d["ci_excludes_0"]),
                    "g2rl_mark": direction(metric, _nan(d["diff"]), bool(d["ci_excludes_0"])) if shown else "",
                    "g2rl_teach": _nan(t.get(metric)),
                    "g2rl_final_loss_guidance": _nan(diag.get("final_loss_guidance")),
                    "g2rl_final_g_spread": _nan(diag.get("final_g_spread")),
                })  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


def comparison_note(datasets: Sequence[str], data_label: str) -> str:
    """The sentence saying what the runs were computed on ('demo' | 'real')."""
    names = " and ".join(DATASET_NAMES.get(d, d) for d in datasets)
    if data_label == "demo":
        return (f"Computed on the DEMO dataset (synthetic expressions on two public-domain photographs, in the "
                f"{names} layout): the numbers show the machinery, they say nothing about the method.")
    if data_label == "real":
        return f"Computed on {names}."
    raise G2RLError(f"data_label must be 'demo' or 'real', got {data_label!r}")


def fmt_estimate(mean: float, sd: float, lo: float, hi: float, decimals: int = 2) -> str:
    """'0.52 ± 0.01 [0.45, 0.60]' (sd over seeds, 95 % bootstrap CI); parts that are NaN are left out."""
    if math.isnan(mean):
        return "--"
    out = fixed(mean, decimals)
    if not math.isnan(sd):
        out += f" ± {fixed(sd, decimals)}"
    if not (math.isnan(lo) or math.isnan(hi)):
        out += f" [{fixed(lo, decimals)}, {fixed(hi, decimals)}]"
    return out


def _num(x: float, spec: str = ".2f") -> str:
    if math.isnan(x):
        return "n/a"
    m = re.fullmatch(r"(\+?)\.(\d+)f", spec)  # fixed-point specs go through fixed(): no "-0.00"
    return fixed(x, int(m.group(2)), sign=bool(m.group(1))) if m else format(x, spec)


HEADER = ["AU", "Metric", "Baseline", "G2RL", "G2RL − Baseline", "G2RL wins", "Teach", "L_G", "g_spread"]


def legend(data_note: str) -> list[str]:
    """The caption: the data note, then one line per column group saying how to read it."""
    return [
        data_note,
        "Each method: mean ± sd over seeds [95 % bootstrap CI over test subjects of the seed mean].",
        "G2RL − Baseline: the difference of the seed means [95 % CI, same subject resample for both methods, "
        "paired by seed]. For ICC higher is better, for MAE lower.",
        "G2RL wins: share of bootstrap resamples in which G2RL is better (ties count one half).",
        "Teach: the geometry branch's own intensity head on the test landmarks (what the guidance could teach); "
        "L_G and g_spread: G2RL's last training epoch. Run-level values (shown on the Avg rows), mean over folds "
        "and seeds; n/a where the run has no such head.",
    ]


def row_cells(r) -> list[str]:
    """The printed cells of one comparison row, in :data:`HEADER` order (plain text)."""
    diff = "--" if math.isnan(r["diff"]) else (
        f"{fixed(r['diff'], 3, True)} [{fixed(r['diff_lo'], 3, True)}, {fixed(r['diff_hi'], 3, True)}]"
        + SYMBOLS.get(r["g2rl_mark"] or "", ""))
    run_level = r["au"] == "Avg"
    return [str(r["au"]), str(r["metric"]),
            fmt_estimate(r["baseline_mean"], r["baseline_sd"], r["baseline_lo"], r["baseline_hi"]),
            fmt_estimate(r["g2rl_mean"], r["g2rl_sd"], r["g2rl_lo"], r["g2rl_hi"]),
            diff, _num(r["g2rl_win_share"], ".0%"), _num(r["g2rl_teach"]),
            _num(r["g2rl_final_loss_guidance"], ".3g") if run_level else "",
            _num(r["g2rl_final_g_spread"], ".3g") if run_level else ""]


def dataset_heading(block: pd.DataFrame) -> str:
    """'DISFA: 2 seed(s), 6 test subjects' for one dataset's rows."""
    first = block.iloc[0]
    return (f"{DATASET_NAMES.get(first['dataset'], first['dataset'])}: {int(first['n_seeds'])} seed(s), "
            f"{int(first['n_subjects'])} test subjects")


def dataset_marks(block: pd.DataFrame) -> str:
    """The marks' legend for one dataset's rows (their meaning, or why there are none)."""
    return marks_legend(int(block.iloc[0]["n_subjects"])) + "."


def to_markdown(df: pd.DataFrame, data_note: str, fold_notes: dict[str, list[str]] | None = None) -> str:
    """The table per dataset, with a caption that says how to read it; ``fold_notes``: lines per
    dataset shown above its table (the per-fold means of DISFA)."""
    fold_notes = fold_notes or {}
    note, *items = legend(data_note)
    lines = [f"**{TITLE}**", "", note, "", *(f"- {i}" for i in items)]
    for dataset, block in df.groupby("dataset", sort=False):
        lines += ["", f"*{dataset_heading(block)}*", "", f"- {dataset_marks(block)}",
                  *[f"- {n}" for n in fold_notes.get(dataset, [])], "",
                  "| " + " | ".join(HEADER) + " |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        lines += ["| " + " | ".join(row_cells(r)) + " |" for _, r in block.iterrows()]
    return "\n".join(lines) + "\n"


def to_html(df: pd.DataFrame, data_note: str, fold_notes: dict[str, list[str]] | None = None) -> str:
    """The same content as :func:`to_markdown`, as a page the Snakemake report renders (g2rl.reports.html_page)."""
    from html import escape

    from g2rl.reports.html_page import bullets, page, paragraph, table

    fold_notes = fold_notes or {}
    note, *items = legend(data_note)
    parts = [paragraph(note, demo=data_note.startswith("Computed on the DEMO")), bullets(items)]
    for dataset, block in df.groupby("dataset", sort=False):
        parts += [f"<h4>{escape(dataset_heading(block))}</h4>", bullets([dataset_marks(block), *fold_notes.get(dataset, [])]),
                  table(HEADER, [[escape(c) for c in row_cells(r)] for _, r in block.iterrows()], left=2)]
    return page(TITLE, parts)


def write_comparison(df: pd.DataFrame, out_prefix: str | os.PathLike, data_note: str,
                     fold_notes: dict[str, list[str]] | None = None) -> dict[str, Path]:
    """Write ``<out_prefix>.csv`` (full precision, every column), ``.md`` and ``.html``, atomically."""
    out_prefix = Path(out_prefix)
    paths = {ext: out_prefix.with_name(out_prefix.name + f".{ext}") for ext in ("csv", "md", "html")}
    with atomic_path(paths["csv"]) as tmp:
        df.to_csv(tmp, index=False, float_format="%.6g")
    with atomic_path(paths["md"]) as tmp:
        tmp.write_text(to_markdown(df, data_note, fold_notes))
    with atomic_path(paths["html"]) as tmp:
        tmp.write_text(to_html(df, data_note, fold_notes))
    return paths
