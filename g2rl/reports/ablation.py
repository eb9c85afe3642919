"""The ablation table: Baseline, Table 1's G2RL and its variants, side by side on the same folds and seeds.

Input: a JSON list of rows, each ``{"name", "changes", "runs": [{"seed", "predictions": [csv, ...],
"train_logs": [csv, ...]}, ...]}`` (one run per seed, one predictions.csv and train_log.csv per test
fold; the same folds and seeds for every row). The older one-seed form ``{"name", "changes",
"predictions", "train_logs"}`` is one run. Output: ``table.csv`` (one row per method: ICC and MAE per
AU and averaged, mean over seeds, with the sd over seeds, the 95 % subject-bootstrap CI and the paired
difference to the Baseline with its CI and ▲ / ▼ mark; the final ``g_spread`` and ``g_norm`` of the
train logs, averaged over folds and seeds; with the crops cache, the geometry probe's R^2 of each row
and its paired difference to the Baseline, g2rl.reports.geometry_probe), ``table.md`` and
``table.html`` (the report's view).

The uncertainty is g2rl.evidence's, the same as Table 1's: every method is bootstrapped on the same
subject resamples (one BootstrapSettings), and a variant is paired with the Baseline seed by seed.
Metrics are over the pooled folds when there are several (DISFA's protocol), else the one fold.
``g_spread`` near 0 means G no longer varies across faces: the guidance has collapsed.
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
from g2rl.evidence import BootstrapSettings, compare_methods
from g2rl.reports.evaluate import read_predictions
from g2rl.reports.uncertainty import run_arrays
from g2rl.reports.marks import SYMBOLS, direction, legend, marks_shown
from g2rl.reports.numfmt import fixed


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


def row_runs(spec: dict) -> list[dict]:
    """A row's runs, one per seed: ``spec['runs']``, or the one-seed form as a single run (seed '0')."""
    if "runs" in spec:
        return spec["runs"]
    return [{"seed": "0", "predictions": spec["predictions"], "train_logs": spec["train_logs"]}]


def _seed_frames(files: list[str], aus: list[str] | None) -> tuple[pd.DataFrame, list[str]]:
    """One seed's fold predictions, concatenated (the pooled test set), and its AUs."""
    frames, found = [], aus
    for f in files:
        df, found = read_predictions(f, aus)
        frames.append(df)
    return pd.concat(frames, ignore_index=True), list(found)


def _cells(summary, j: int) -> tuple[float, float, float, float]:
    return tuple(float(x) for x in (summary.mean[j], summary.sd[j], summary.lo[j], summary.hi[j]))


def build_ablation_table(rows: list[dict], aus: list[str] | None = None,
                         settings: BootstrapSettings = BootstrapSettings()) -> pd.DataFrame:
    """One row per method (columns in the module docstring); the first row must be the Baseline, which the
    others are paired with. ``attrs``: seeds, subjects, bootstrap settings."""
    if not rows:
        raise G2RLError("ablation: no rows given")
    runs = {r["name"]: row_runs(r) for r in rows}
    shapes = {(tuple(str(x["seed"]) for x in rs), len(rs[0]["predictions"])) for rs in runs.values()}
    if len(shapes) != 1 or any(len({len(x["predictions"]) for x in rs}) != 1 for rs in runs.values()):
        raise G2RLError("ablation: rows have different seeds or numbers of test folds; they would not be comparable")
    seeds = [str(x["seed"]) for x in next(iter(runs.values()))]
    arrays, folds, n_frames = {}, "", 0
    for name, rs in runs.items():
        arrays[name] = []
        for run in rs:
            df, aus = _seed_frames(run["predictions"], aus)
            arrays[name].append(run_arrays(df, aus, f"{name} seed {run['seed']}"))
            folds, n_frames = ",".join(sorted(df["split"].astype(str).unique())), len(df)
    base = rows[0]["name"]
    out = []
    for r in rows:
        name = r["name"]
        pair = {"Baseline": arrays[base]} if name == base else {"Baseline": arrays[base], "G2RL": arrays[name]}
        cmp = compare_methods(pair, seeds, aus, settings)  # same settings: the same resamples for every row
        summ = cmp.summaries["Baseline" if name == base else "G2RL"]
        logs = [log for run in runs[name] for log in run["train_logs"]]
        row = {"method": name, "changes": r.get("changes", ""), "seeds": ",".join(seeds),
               "g_spread_final": final_log_value(logs, "g_spread"), "g_norm_final": final_log_value(logs, "g_norm"),
               "folds": folds, "n_frames": n_frames, "n_subjects": len(cmp.subjects)}
        k = len(aus)
        for metric in ("ICC", "MAE"):
            m = metric.lower()
            mean, sd, lo, hi = _cells(summ[m], k)
            row.update({f"{metric}_avg": mean, f"{metric}_avg_sd": sd, f"{metric}_avg_lo": lo, f"{metric}_avg_hi": hi})
            d = cmp.differences.get(m)
            diff = [float(d.diff[k]), float(d.lo[k]), float(d.hi[k])] if d else [math.nan] * 3
            row.update({f"{metric}_diff": diff[0], f"{metric}_diff_lo": diff[1], f"{metric}_diff_hi": diff[2],
                        f"{metric}_mark": direction(metric, diff[0], bool(d.excludes_zero[k])) if d and
                        marks_shown(len(cmp.subjects)) else ""})
        for metric in ("ICC", "MAE"):
            for j, au in enumerate(aus):
                row[f"{metric}_{au}"] = float(summ[metric.lower()].mean[j])
        out.append(row)
    table = pd.DataFrame(out)
    table.attrs.update(seeds=seeds, n_subjects=out[0]["n_subjects"], bootstrap=settings.to_dict())
    return table


def _fmt(v) -> str:
    if isinstance(v, float):
        return "–" if math.isnan(v) else f"{v:.3f}"
    return str(v)


def _estimate(r, metric: str) -> str:
    """'0.49 ± 0.02 [0.45, 0.53]': mean over seeds ± sd [95 % subject-bootstrap CI]."""
    from g2rl.reports.comparison import fmt_estimate

    return fmt_estimate(*(r[f"{metric}_avg{x}"] for x in ("", "_sd", "_lo", "_hi")))


def _difference(r, metric: str) -> str:
    """'+0.012 [-0.004, +0.027]▲' against the Baseline; '' on the Baseline's own row."""
    if math.isnan(r[f"{metric}_diff"]):
        return ""
    mark = SYMBOLS.get(r[f"{metric}_mark"] or "", "") if isinstance(r[f"{metric}_mark"], str) else ""
    return (f"{fixed(r[f'{metric}_diff'], 3, True)} [{fixed(r[f'{metric}_diff_lo'], 3, True)}, "
            f"{fixed(r[f'{metric}_diff_hi'], 3, True)}]{mark}")


def ablation_blocks(table: pd.DataFrame, dataset: str, data_label: str) -> tuple[str, list[str], list[tuple[str, list[str], list[list[str]]]]]:
    """The ablation as printed: (title, caption lines, [(heading, header, rows of plain-text cells)])."""
    aus = [c.removeprefix("ICC_") for c in table.columns if c.startswith("ICC_AU")]
    first = table.iloc[0]
    caption = []
    if data_label == "demo":
        caption.append("Demo data (synthetic expressions on two faces, a toy-sized network): these numbers say whether "
                       "each variant runs and what it does to G, not how it would do on the real dataset.")
    caption += [
        f"Folds: {first['folds']} ({first['n_frames']} test frames, {first['n_subjects']} test subjects); seeds "
        f"{first['seeds']}, the same for every row. ICC and MAE averaged over AUs: mean ± sd over seeds [95 % "
        "bootstrap CI over test subjects]; vs Baseline: the paired difference of the seed means [95 % CI, the same "
        "subject resamples for every row]. For ICC higher is better, for MAE lower.",
        legend(int(first["n_subjects"])) + ".",
        "g_spread: mean over G's coordinates of its std across a batch in the last epoch (≈ 0: G collapsed to a "
        "constant); g_norm: mean ||G_raw||; both averaged over folds and seeds.",
    ]
    head = ["method", "changes", "ICC avg", "ICC vs Baseline", "MAE avg", "MAE vs Baseline", "g_spread", "g_norm"]
    summary = [[str(r["method"]), str(r["changes"]), _estimate(r, "ICC"), _difference(r, "ICC"), _estimate(r, "MAE"),
                _difference(r, "MAE"), _fmt(r["g_spread_final"]), _fmt(r["g_norm_final"])] for _, r in table.iterrows()]
    if "probe_r2" in table.columns:
        caption.append(
            "Landmark probe: how much geometry the trained backbone encodes, R² of the aligned 68 landmarks' movement "
            "within each face (subject means removed) predicted from its average-pooled trunk features by ridge "
            "regression, leave-one-test-subject-out (1 = all recovered, 0 = the still mean face); mean over seeds [95 % bootstrap CI over test subjects], and its paired "
            "difference to the Baseline [CI]. G2RL's guidance should raise it.")
        head += ["landmark probe R²", "probe vs Baseline"]
        for cells, (_, r) in zip(summary, table.iterrows()):
            cells += [f"{fixed(r['probe_r2'], 3)} [{fixed(r['probe_r2_lo'], 3)}, {fixed(r['probe_r2_hi'], 3)}]",
                      "" if math.isnan(r["probe_diff"]) else f"{fixed(r['probe_diff'], 3, True)} "
                      f"[{fixed(r['probe_diff_lo'], 3, True)}, {fixed(r['probe_diff_hi'], 3, True)}]"]
    blocks = [("", head, summary)]
    for metric in ("ICC", "MAE"):
        blocks.append((f"{metric} per AU (mean over seeds):", ["method", *aus],
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
                   aus: list[str] | None = None, settings: BootstrapSettings = BootstrapSettings(),
                   probe: pd.DataFrame | None = None) -> pd.DataFrame:
    """Write ``<out_prefix>.csv``, ``.md`` and ``.html``; return the table. ``probe``: the geometry
    probe's scores per method (g2rl.reports.geometry_probe.probe_scores), added as columns."""
    table = build_ablation_table(rows, aus, settings)
    if probe is not None:
        attrs = table.attrs
        table = table.merge(probe, on="method", how="left", validate="one_to_one")
        table.attrs.update(attrs)
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
        missing = {"name"} - set(r) or ({"runs"} if "runs" not in r and {"predictions", "train_logs"} - set(r) else set())
        if missing:
            raise G2RLError(f"ablation rows: row {r.get('name', '?')!r} lacks {sorted(missing)}")
    return rows
