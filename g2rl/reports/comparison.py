"""The G2RL-vs-Baseline table (``results/tables/g2rl_vs_baseline_{dataset}.{csv,md,html}``) from evidence.json files.

One block per (dataset, compared row): Table 1's G2RL, and each extra Table 1 row (e.g. G2RL + stop-grad/teach,
ours), against our Baseline. One line per (AU or Avg, metric): each method's mean +- sd over seeds with its 95 %
two-level bootstrap CI (seeds and test subjects resampled), the paired difference with its CI, each seed's own
difference, the share of resamples the row wins, whether the CI excludes 0, whether the seeds agree,
``g2rl_mark`` ('better' / 'worse' / '': the ▲ / ▼ of g2rl.reports.marks, as evidence.json gives it), and the
row's diagnostics: the geometry branch's own test score in that metric (its "teach" head on the test
landmarks), the final L_G and g_spread (run-level: the same on every line of a block; mean over folds and
seeds). The CSV names the row (``row``: its label, ``method``: its workflow method, ``variant``: its guidance);
``g2rl_*`` columns are that row's numbers.
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
from g2rl.reports.marks import SYMBOLS
from g2rl.reports.numfmt import fixed, interval

DATASET_NAMES = {"bp4d": "BP4D", "disfa": "DISFA"}
TITLE = "G2RL vs Baseline (ours): paired comparison over seeds and test subjects"
COLUMNS = [
    "dataset", "row", "method", "variant", "au", "metric", "n_seeds", "n_subjects",
    "baseline_mean", "baseline_sd", "baseline_lo", "baseline_hi",
    "g2rl_mean", "g2rl_sd", "g2rl_lo", "g2rl_hi",
    "diff", "diff_lo", "diff_hi", "diff_per_seed", "seeds_agree", "g2rl_win_share", "ci_excludes_0", "g2rl_mark",
    "g2rl_teach", "g2rl_final_loss_guidance", "g2rl_final_g_spread",
]  # fmt: skip


def _nan(x) -> float:
    return math.nan if x is None else float(x)


def comparison_frame(evidences: Sequence[dict]) -> pd.DataFrame:
    """Rows (dataset, compared row, AU..., Avg) x (ICC, MAE) of the columns in :data:`COLUMNS`."""
    rows = []
    for ev in evidences:
        if not ev.get("differences"):
            raise G2RLError(f"{ev.get('dataset')}: evidence has no row compared with the Baseline; nothing to compare")
        base = ev["methods"][ev["reference"]]
        for key, diff in ev["differences"].items():
            g2rl = ev["methods"][key]
            diag = g2rl.get("diagnostics") or {}
            teach = diag.get("teach") or {}
            for au in [*ev["aus"], "Avg"]:
                pick = (lambda d: d["avg"]) if au == "Avg" else (lambda d: d["per_au"][au])  # noqa: B023
                for metric in ("icc", "mae"):
                    b, g, d = pick(base)[metric], pick(g2rl)[metric], pick(diff)[metric]
                    t = (teach.get("avg") if au == "Avg" else (teach.get("per_au") or {}).get(au)) or {}
                    rows.append({
                        "dataset": ev["dataset"], "row": g2rl["label"], "method": key, "variant": g2rl.get("variant") or "",
                        "au": au, "metric": metric.upper(), "n_seeds": len(ev["seeds"]), "n_subjects": len(ev["subjects"]),
                        "baseline_mean": _nan(b["mean"]), "baseline_sd": _nan(b["sd"]),
                        "baseline_lo": _nan(b["ci"][0]), "baseline_hi": _nan(b["ci"][1]),
                        "g2rl_mean": _nan(g["mean"]), "g2rl_sd": _nan(g["sd"]),
                        "g2rl_lo": _nan(g["ci"][0]), "g2rl_hi": _nan(g["ci"][1]),
                        "diff": _nan(d["diff"]), "diff_lo": _nan(d["ci"][0]), "diff_hi": _nan(d["ci"][1]),
                        "diff_per_seed": ";".join("nan" if v is None else f"{v:.6g}" for v in d["per_seed"]),
                        "seeds_agree": bool(d["seeds_agree"]),
                        "g2rl_win_share": _nan(d["win_share"]), "ci_excludes_0": bool(d["ci_excludes_0"]),
                        "g2rl_mark": d.get("mark") or "",
                        "g2rl_teach": _nan(t.get(metric)),
                        "g2rl_final_loss_guidance": _nan(diag.get("final_loss_guidance")),
                        "g2rl_final_g_spread": _nan(diag.get("final_g_spread")),
                    })  # fmt: skip
    df = pd.DataFrame(rows, columns=COLUMNS)
    df.attrs["evidence"] = {ev["dataset"]: ev for ev in evidences}
    return df


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
        out += f" {interval(lo, hi, decimals)}"
    return out


def fmt_difference(diff: float, lo: float, hi: float, mark: str = "", decimals: int = 3) -> str:
    """'+0.012 [-0.004, +0.027]▲': a paired difference, its CI (bounds never print as a zero that would
    contradict the mark, g2rl.reports.numfmt.bound) and the mark; '--' when undefined."""
    if math.isnan(diff):
        return "--"
    return f"{fixed(diff, decimals, True)} {interval(lo, hi, decimals, True)}" + SYMBOLS.get(mark or "", "")


def _num(x: float, spec: str = ".2f") -> str:
    if math.isnan(x):
        return "n/a"
    m = re.fullmatch(r"(\+?)\.(\d+)f", spec)  # fixed-point specs go through fixed(): no "-0.00"
    return fixed(x, int(m.group(2)), sign=bool(m.group(1))) if m else format(x, spec)


def header(label: str) -> list[str]:
    """The column heads of one block, ``label`` the compared row (e.g. 'G2RL'); the run-level L_G and g_spread
    are in the block's heading line (:func:`block_heading`), which keeps the table inside the report's frame."""
    return ["AU", "Metric", "Baseline", label, f"{label} − Baseline", "per seed", "wins", "Teach"]


def legend(data_note: str) -> list[str]:
    """The caption: the data note, then one line per column group saying how to read it."""
    return [
        data_note,
        "Each method: mean ± sd over seeds [95 % bootstrap CI of the seed mean, resampling the seeds and the test "
        "subjects: the two-level bootstrap of docs/METRICS.md].",
        "Row − Baseline: the difference of the seed means [95 % CI, the same seed and subject resample for both "
        "methods, paired by seed]; per seed: each seed's own difference on the full test set. For ICC higher is "
        "better, for MAE lower.",
        "wins: share of bootstrap resamples in which the row is better (ties count one half).",
        "Teach: the geometry branch's own intensity head on the test landmarks (what the guidance could teach); "
        "n/a where the run has no such head. L_G and g_spread (under each block's heading): the row's last "
        "training epoch, mean over folds and seeds.",
    ]


def row_cells(r) -> list[str]:
    """The printed cells of one comparison line, in :func:`header` order (plain text)."""
    per_seed = [float(v) for v in str(r["diff_per_seed"]).split(";") if v]
    return [str(r["au"]), str(r["metric"]),
            fmt_estimate(r["baseline_mean"], r["baseline_sd"], r["baseline_lo"], r["baseline_hi"]),
            fmt_estimate(r["g2rl_mean"], r["g2rl_sd"], r["g2rl_lo"], r["g2rl_hi"]),
            fmt_difference(r["diff"], r["diff_lo"], r["diff_hi"], r["g2rl_mark"]),
            " ".join("n/a" if math.isnan(v) else fixed(v, 3, True) for v in per_seed),
            _num(r["g2rl_win_share"], ".0%"), _num(r["g2rl_teach"])]


def block_heading(block: pd.DataFrame) -> str:
    """'DISFA, G2RL (guidance literal) vs Baseline: 2 seed(s), 6 test subjects; last epoch L_G 0.00189, g_spread
    8.62e-06' for one block (L_G and g_spread are the row's, mean over folds and seeds)."""
    first = block.iloc[0]
    variant = f" (guidance {first['variant']})" if first["variant"] else ""
    run = (f"; last epoch L_G {_num(first['g2rl_final_loss_guidance'], '.3g')}, "
           f"g_spread {_num(first['g2rl_final_g_spread'], '.3g')}")
    return (f"{DATASET_NAMES.get(first['dataset'], first['dataset'])}, {first['row']}{variant} vs Baseline: "
            f"{int(first['n_seeds'])} seed(s), {int(first['n_subjects'])} test subjects{run}")


def dataset_notes(df: pd.DataFrame, dataset: str) -> list[str]:
    """What a dataset's blocks share: each row's variant in words, the marks' legend, how many cells were
    tested (from its evidence.json)."""
    ev = df.attrs["evidence"][dataset]
    notes = [f"{entry['label']}: guidance {entry['variant']}, {entry['variant_note']}."
             for row, entry in ev["methods"].items() if entry.get("variant") and entry.get("variant_note")]
    notes.append(ev["marks"]["legend"] + ".")
    if ev["multiplicity"]["note"]:
        notes.append(ev["multiplicity"]["note"] + ".")
    return notes


def _blocks(df: pd.DataFrame):
    """(dataset, [(heading, header, rows of cells)]) in the frame's order."""
    for dataset, by_dataset in df.groupby("dataset", sort=False):
        blocks = []
        for _, block in by_dataset.groupby("method", sort=False):
            blocks.append((block_heading(block), header(str(block.iloc[0]["row"])),
                           [row_cells(r) for _, r in block.iterrows()]))
        yield dataset, blocks


def to_markdown(df: pd.DataFrame, data_note: str, fold_notes: dict[str, list[str]] | None = None) -> str:
    """The table per dataset and compared row, with a caption that says how to read it; ``fold_notes``: lines
    per dataset shown above its tables (the per-fold means of DISFA)."""
    fold_notes = fold_notes or {}
    note, *items = legend(data_note)
    lines = [f"**{TITLE}**", "", note, "", *(f"- {i}" for i in items)]
    for dataset, blocks in _blocks(df):
        lines += ["", *[f"- {n}" for n in [*dataset_notes(df, dataset), *fold_notes.get(dataset, [])]]]
        for heading, head, rows in blocks:
            lines += ["", f"*{heading}*", "", "| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 2)]
            lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def to_html(df: pd.DataFrame, data_note: str, fold_notes: dict[str, list[str]] | None = None) -> str:
    """The same content as :func:`to_markdown`, as a page the Snakemake report renders (g2rl.reports.html_page)."""
    from html import escape

    from g2rl.reports.html_page import bullets, page, paragraph, table

    fold_notes = fold_notes or {}
    note, *items = legend(data_note)
    parts = [paragraph(note, demo=data_note.startswith("Computed on the DEMO")), bullets(items)]
    for dataset, blocks in _blocks(df):
        parts.append(bullets([*dataset_notes(df, dataset), *fold_notes.get(dataset, [])]))
        for heading, head, rows in blocks:
            parts += [f"<h4>{escape(heading)}</h4>", table(head, [[escape(c) for c in r] for r in rows], left=2)]
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
