"""The ablation table: Baseline, Table 1's G2RL and its variants, side by side on the same folds and seeds.

Input: a JSON list of rows, each ``{"name", "changes", "against", "lambda", "runs": [{"seed", "predictions":
[csv, ...], "train_logs": [csv, ...]}, ...]}`` (one run per seed, one predictions.csv and train_log.csv per test
fold; the same folds and seeds for every row). ``against`` names the row it is compared with: the Baseline, or
for a variant that changes the heatmaps the Baseline trained on those heatmaps (so a layout's own effect and
the guidance's are two rows, not one); missing = the first row. ``lambda`` is the row's guidance weight (0 for
a Baseline). The older one-seed form ``{"name", "changes", "predictions", "train_logs"}`` is one run.

Output: ``table.csv`` (one line per method: ICC and MAE per AU and averaged, mean over seeds, with the sd over
seeds, the 95 % two-level bootstrap CI (seeds and test subjects) and the paired difference to its reference with
its CI, each seed's difference and ▲ / ▼ mark; the final ``g_spread``, ``g_norm`` and the guidance's share of
the loss λ·L_G / ((1 − λ)·L_S) from the train logs, averaged over folds and seeds; with the crops cache, the
geometry probe's R² of each row and its paired difference, and the probe's two reference lines,
g2rl.reports.geometry_probe), ``table.md`` and ``table.html`` (the report's view: narrow tables, ICC, MAE, then
what the guidance did, so that none is cut off at the report's width, then ICC and MAE per AU).

The uncertainty is g2rl.evidence's, the same as Table 1's: every row is bootstrapped on the same seed and
subject resamples (one BootstrapSettings, one call), and paired with its reference seed by seed.
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
from g2rl.reports.comparison import fmt_difference, fmt_estimate
from g2rl.reports.evaluate import read_predictions
from g2rl.reports.marks import direction, legend, marks_shown, multiplicity_note
from g2rl.reports.numfmt import fixed, interval
from g2rl.reports.uncertainty import run_arrays


def _read_log(path: str) -> pd.DataFrame:
    try:
        log = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise G2RLError(f"{path}: cannot read the train log ({exc})") from exc
    if log.empty:
        raise G2RLError(f"{path}: train log has no epoch")
    return log


def final_log_value(paths: list[str], column: str) -> float:
    """Mean over folds of ``column`` in each train log's last epoch (NaN for the Baseline)."""
    values = []
    for path in paths:
        log = _read_log(path)
        if column not in log.columns:
            raise G2RLError(f"{path}: train log has no {column!r} column or no epoch")
        values.append(float(log[column].iloc[-1]))
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def guidance_share(paths: list[str], lam: float) -> float:
    """λ·L_G / ((1 − λ)·L_S) in each train log's last epoch, mean over the logs: how large the guidance term is
    against the heatmap term in Eq. 8 (NaN for λ = 0 or a log without L_G)."""
    if not lam:
        return float("nan")
    values = []
    for path in paths:
        last = _read_log(path).iloc[-1]
        lg, ls = float(last.get("loss_guidance", np.nan)), float(last.get("loss_heatmap", np.nan))
        if math.isfinite(lg) and math.isfinite(ls) and ls > 0:
            values.append(lam * lg / ((1 - lam) * ls))
    return float(np.mean(values)) if values else float("nan")


def row_runs(spec: dict) -> list[dict]:
    """A row's runs, one per seed: ``spec['runs']``, or the one-seed form as a single run (seed '0')."""
    if "runs" in spec:
        return spec["runs"]
    return [{"seed": "0", "predictions": spec["predictions"], "train_logs": spec["train_logs"]}]


def row_references(rows: list[dict]) -> dict[str, str]:
    """name -> the name of the row it is compared with (``against``, default the first row); the first row has none."""
    names = [r["name"] for r in rows]
    out = {}
    for r in rows[1:]:
        ref = r.get("against") or names[0]
        if ref not in names:
            raise G2RLError(f"ablation: row {r['name']!r} is compared with {ref!r}, which is not a row ({names})")
        out[r["name"]] = ref
    return out


def _seed_frames(files: list[str], aus: list[str] | None) -> tuple[pd.DataFrame, list[str]]:
    """One seed's fold predictions, concatenated (the pooled test set), and its AUs."""
    frames, found = [], aus
    for f in files:
        df, found = read_predictions(f, aus)
        frames.append(df)
    return pd.concat(frames, ignore_index=True), list(found)


def build_ablation_table(rows: list[dict], aus: list[str] | None = None,
                         settings: BootstrapSettings = BootstrapSettings()) -> pd.DataFrame:
    """One line per method (columns in the module docstring); the first row must be the Baseline. ``attrs``:
    seeds, subjects, bootstrap settings, the number of cells tested."""
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
    against = row_references(rows)
    cmp = compare_methods(arrays, seeds, aus, settings, against)  # one call: the same resamples for every row
    shown = marks_shown(len(cmp.subjects))
    k = len(aus)
    out = []
    for r in rows:
        name, summ = r["name"], cmp.summaries[r["name"]]
        logs = [log for run in runs[name] for log in run["train_logs"]]
        lam = float(r.get("lambda", np.nan)) if r.get("lambda") is not None else math.nan
        row = {"method": name, "changes": r.get("changes", ""), "vs": against.get(name, ""), "seeds": ",".join(seeds),
               "g_spread_final": final_log_value(logs, "g_spread"), "g_norm_final": final_log_value(logs, "g_norm"),
               "guidance_share": guidance_share(logs, lam) if math.isfinite(lam) else math.nan,
               "folds": folds, "n_frames": n_frames, "n_subjects": len(cmp.subjects)}
        for metric in ("ICC", "MAE"):
            m = metric.lower()
            s = summ[m]
            row.update({f"{metric}_avg": float(s.mean[k]), f"{metric}_avg_sd": float(s.sd[k]),
                        f"{metric}_avg_lo": float(s.lo[k]), f"{metric}_avg_hi": float(s.hi[k])})
            d = cmp.differences.get(name, {}).get(m)
            if d is None:
                row.update({f"{metric}_diff": math.nan, f"{metric}_diff_lo": math.nan, f"{metric}_diff_hi": math.nan,
                            f"{metric}_diff_per_seed": "", f"{metric}_seeds_agree": False, f"{metric}_mark": ""})
                continue
            row.update({f"{metric}_diff": float(d.diff[k]), f"{metric}_diff_lo": float(d.lo[k]),
                        f"{metric}_diff_hi": float(d.hi[k]),
                        f"{metric}_diff_per_seed": ";".join(f"{v:.6g}" for v in d.per_seed[:, k]),
                        f"{metric}_seeds_agree": bool(d.seeds_agree[k]),
                        f"{metric}_mark": direction(metric, float(d.diff[k]), bool(d.excludes_zero[k]),
                                                    bool(d.seeds_agree[k])) if shown else ""})
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
    """'0.49 ± 0.02 [0.45, 0.53]': mean over seeds ± sd [95 % two-level bootstrap CI]."""
    return fmt_estimate(*(r[f"{metric}_avg{x}"] for x in ("", "_sd", "_lo", "_hi")))


def _difference(r, metric: str) -> str:
    """'+0.012 [-0.004, +0.027]▲' against the row's reference; '' on the Baseline's own row."""
    if math.isnan(r[f"{metric}_diff"]):
        return ""
    mark = r[f"{metric}_mark"] if isinstance(r[f"{metric}_mark"], str) else ""
    return fmt_difference(r[f"{metric}_diff"], r[f"{metric}_diff_lo"], r[f"{metric}_diff_hi"], mark)


def _share(v: float) -> str:
    """λ·L_G / ((1 − λ)·L_S) in 2 significant digits ('5.1e-05', '0.12'); '–' for a Baseline."""
    if math.isnan(v):
        return "–"
    return f"{v:.1e}" if abs(v) < 0.01 else f"{v:.2g}"


def _is_reference(table: pd.DataFrame) -> pd.Series:
    """The probe's reference lines (random init, AU labels), which are not ablation rows."""
    if "probe_reference" not in table.columns:
        return pd.Series(False, index=table.index)
    return table["probe_reference"].fillna(False).astype(bool)


def n_cells_tested(table: pd.DataFrame) -> int:
    """Paired differences the tables print: ICC and MAE averages of every compared row, and its probe difference."""
    cells = sum(int(table[f"{m}_diff"].notna().sum()) for m in ("ICC", "MAE"))
    return cells + (int(table["probe_diff"].notna().sum()) if "probe_diff" in table.columns else 0)


def probe_verdict(table: pd.DataFrame) -> str:
    """What the probe column says on these runs, from its numbers: whether any row's probe difference is marked
    (CI excluding 0, seeds agreeing, enough subjects), and where the trained rows sit between the references."""
    reference = _is_reference(table)
    random_name, labels_name = table.loc[reference, "method"].tolist()
    refs = table.set_index("method")
    trained = table[~reference]
    rng = f"{fixed(trained['probe_r2'].min(), 3)}–{fixed(trained['probe_r2'].max(), 3)}"
    text = (f"Here the trained rows score R² {rng}, the random-init network {fixed(refs.at[random_name, 'probe_r2'], 3)} "
            f"{interval(refs.at[random_name, 'probe_r2_lo'], refs.at[random_name, 'probe_r2_hi'], 3)} and the AU labels "
            f"alone {fixed(refs.at[labels_name, 'probe_r2'], 3)}.")
    if (trained["probe_r2"] <= refs.at[random_name, "probe_r2_hi"]).all():
        text += " No trained row scores above the random-init network's CI: training put no more linearly readable geometry into M than the untrained architecture has."
    marked = trained[trained["probe_mark"].astype(str) != ""] if "probe_mark" in trained.columns else trained.iloc[:0]
    if marked.empty:
        why = ("the test subjects are too few for marks" if not marks_shown(int(trained.iloc[0]["n_subjects"]))
               else "no row's difference to its reference has a CI excluding 0 with every seed agreeing")
        text += (f" The probe does not separate the rows on these runs ({why}): read its column as a description, "
                 "not as evidence that the guidance adds geometry.")
    else:
        text += " Separated from their reference: " + "; ".join(
            f"{r['method']} {fixed(r['probe_diff'], 3, True)}" for _, r in marked.iterrows()) + "."
    return text


def ablation_blocks(table: pd.DataFrame, dataset: str, data_label: str) -> tuple[str, list[str], list[tuple[str, list[str], list[list[str]]]]]:
    """The ablation as printed: (title, caption lines, [(heading, header, rows of plain-text cells)])."""
    aus = [c.removeprefix("ICC_") for c in table.columns if c.startswith("ICC_AU")]
    reference = _is_reference(table)
    runs = table[~reference]
    first = runs.iloc[0]
    n_seeds = len(str(first["seeds"]).split(","))
    caption = []
    if data_label == "demo":
        caption.append("Demo data (synthetic expressions on two faces, a toy-sized network): these numbers say whether "
                       "each variant runs and what it does to G, not how it would do on the real dataset.")
    caption += [
        f"Folds: {first['folds']} ({int(first['n_frames'])} test frames, {int(first['n_subjects'])} test subjects); seeds "
        f"{first['seeds']}, the same for every row. ICC and MAE averaged over AUs: mean ± sd over seeds [95 % "
        "bootstrap CI resampling the seeds and the test subjects]; vs its reference: the paired difference of the "
        "seed means [95 % CI, the same resamples for every row]. For ICC higher is better, for MAE lower. A row that "
        "changes the heatmaps is compared with a Baseline trained on the same heatmaps, which is itself compared "
        "with the Baseline: the layout's own effect and the guidance's effect are separate rows.",
        legend(int(first["n_subjects"]), n_seeds, "a row", "its reference") + ".",
        multiplicity_note(n_cells_tested(table), primary=int(runs["ICC_diff"].notna().sum()) * 2) + ".",
    ]
    rows_list = [f"{r['method']}: {r['changes']}" + (f"; compared with {r['vs']}" if r["vs"] else "")
                 for _, r in runs.iterrows()]
    metric_blocks = [(f"{metric} averaged over AUs", ["method", "vs", f"{metric} avg", f"{metric} vs its reference"],
                      [[str(r["method"]), str(r["vs"]), _estimate(r, metric), _difference(r, metric)]
                       for _, r in runs.iterrows()]) for metric in ("ICC", "MAE")]
    guide_head = ["method", "g_spread", "g_norm", "λ·L_G / (1−λ)·L_S"]
    guide_rows = [[str(r["method"]), _fmt(r["g_spread_final"]), _fmt(r["g_norm_final"]), _share(r["guidance_share"])]
                  for _, r in runs.iterrows()]
    guide_caption = [
        "What the guidance did, last training epoch, mean over folds and seeds. g_spread: mean over G's coordinates of "
        "its std across a batch (≈ 0: G collapsed to one vector for every face); g_norm: mean ||G|| before any "
        "normalisation; λ·L_G / (1−λ)·L_S: the guidance term of Eq. 8 against the heatmap term, i.e. how strong the "
        "guidance actually was (variants differ in it by orders of magnitude, so a difference between them mixes "
        "'which loss' with 'how strong')."]
    if "probe_r2" in table.columns:
        guide_caption.append(
            "Landmark probe (g2rl.reports.geometry_probe): R² of the aligned 68 landmarks (face shape and expression, "
            "not centred per person) predicted by ridge regression from M, the deconvolution features L_G acts on, "
            "pooled to 4 x 4 cells; fitted on each fold's own network's training frames, the penalty chosen by "
            "cross-validation over training subjects, scored on the test frames (1 = all recovered, 0 = the mean "
            "face). Mean over seeds [95 % CI, seeds and subjects resampled] and the paired difference to the row's "
            "reference. Two reference lines score the same probe on a randomly initialised network of the same "
            "architecture and on the AU intensity labels alone. " + probe_verdict(table))
        guide_head += ["probe R²", "probe vs its reference"]
        probe = table.set_index("method")
        for cells in guide_rows:
            r = probe.loc[cells[0]]
            cells += [f"{fixed(r['probe_r2'], 3)} {interval(r['probe_r2_lo'], r['probe_r2_hi'], 3)}",
                      "" if math.isnan(r["probe_diff"]) else fmt_difference(r["probe_diff"], r["probe_diff_lo"],
                                                                            r["probe_diff_hi"], r.get("probe_mark", ""))]
        for name in table.loc[reference, "method"]:
            r = probe.loc[name]
            guide_rows.append([name, "", "", "", f"{fixed(r['probe_r2'], 3)} "
                               f"{interval(r['probe_r2_lo'], r['probe_r2_hi'], 3)}", ""])
    blocks = [("Rows", [], [[line] for line in rows_list]), *metric_blocks,
              ("What the guidance did", guide_head, guide_rows), ("", [], [[c] for c in guide_caption])]
    for metric in ("ICC", "MAE"):
        blocks.append((f"{metric} per AU (mean over seeds)", ["method", *aus],
                       [[str(r["method"]), *(_fmt(r[f"{metric}_{au}"]) for au in aus)] for _, r in runs.iterrows()]))
    return f"Ablation on {dataset} ({data_label} data)", caption, blocks


def ablation_markdown(table: pd.DataFrame, dataset: str, data_label: str) -> str:
    title, caption, blocks = ablation_blocks(table, dataset, data_label)
    lines = [f"# {title}", ""]
    for line in caption:
        lines += [line, ""]
    for heading, head, rows in blocks:
        lines += [f"**{heading}**", ""] if heading else []
        if not head:  # a list of sentences
            lines += [*(f"- {r[0]}" for r in rows), ""]
            continue
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head), *("| " + " | ".join(r) + " |" for r in rows), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def ablation_html(table: pd.DataFrame, dataset: str, data_label: str) -> str:
    """The same content as :func:`ablation_markdown`, as a page the Snakemake report renders."""
    from html import escape

    from g2rl.reports.html_page import bullets, page, paragraph, table as html_table

    title, caption, blocks = ablation_blocks(table, dataset, data_label)
    parts = [paragraph(line, demo=data_label == "demo" and i == 0) for i, line in enumerate(caption)]
    for heading, head, rows in blocks:
        if heading:
            parts.append(f"<h4>{escape(heading)}</h4>")
        if not head:
            parts.append(bullets([r[0] for r in rows]))
            continue
        parts.append(html_table(head, [[escape(c) for c in r] for r in rows], left=2 if head[1] == "vs" else 1))
    return page(title, parts)


def merge_probe(table: pd.DataFrame, probe: pd.DataFrame) -> pd.DataFrame:
    """The ablation table with the probe's columns on its rows and the probe's reference lines appended, and a
    ``probe_mark`` per row (the same rule as the metrics' marks)."""
    probe = probe.copy()
    shown = marks_shown(int(table.iloc[0]["n_subjects"]))
    probe["probe_mark"] = [direction("ICC", d, bool((lo > 0) or (hi < 0)), bool(agree)) if shown and not math.isnan(d) else ""
                           for d, lo, hi, agree in zip(probe["probe_diff"], probe["probe_diff_lo"], probe["probe_diff_hi"],
                                                       probe["probe_seeds_agree"])]  # higher R² is better, as ICC
    attrs = table.attrs
    merged = table.merge(probe, on="method", how="left", validate="one_to_one")  # the table's order
    merged = pd.concat([merged, probe[~probe["method"].isin(table["method"])]], ignore_index=True)
    merged.attrs.update(attrs, probe=dict(probe.attrs))
    return merged


def write_ablation(rows: list[dict], out_prefix: str | os.PathLike, dataset: str, data_label: str,
                   aus: list[str] | None = None, settings: BootstrapSettings = BootstrapSettings(),
                   probe: pd.DataFrame | None = None) -> pd.DataFrame:
    """Write ``<out_prefix>.csv``, ``.md`` and ``.html``; return the table. ``probe``: the geometry
    probe's scores per method and its reference lines (g2rl.reports.geometry_probe.ablation_probe)."""
    table = build_ablation_table(rows, aus, settings)
    if probe is not None:
        table = merge_probe(table, probe)
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
