"""The report's home page (``results/report/home.rst``): the run's title and its result, one line per dataset,
where a reader opens the report (inside a 1280 x 720 window: tests/test_report_in_browser.py); then, after the
links to the detail that workflow/report/workflow.rst adds, what was run.

Snakemake renders the page with docutils (the workflow's ``report:`` page includes this file), so every value
that comes from a config or a result file goes through :func:`g2rl.reports.rst.rst_text` and cannot become
markup. The rows and their names are read from what Table 1 and evidence.json hold (every row of ours in the
Table 1 CSV; every paired difference in evidence.json), not from a fixed pair, so a new row shows up here.

``settings`` is :func:`home_settings` of the workflow's config: the keys the page describes, without dataset
roots or other machine paths.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd

from g2rl.atomic import atomic_path
from g2rl.csvread import read_csv_file
from g2rl.errors import G2RLError
from g2rl.evidence import distinct_resamples
from g2rl.init_policy import IMAGENET_CHOICES
from g2rl.reports.marks import MIN_DISTINCT_RESAMPLES, cell_direction, marks_shown, seeds_note
from g2rl.reports.numfmt import fixed
from g2rl.reports.rst import rst_text

DATASET_NAMES = {"bp4d": "BP4D", "disfa": "DISFA"}
METRICS = ("ICC", "MAE")
DEMO_NOTE = ("**DEMO DATA.** Every number and figure here comes from the demo dataset (two public-domain photographs "
             "given synthetic expressions, docs/DEMO_DATA.md): it shows that the pipeline runs end to end, not how "
             "well the method works, and is **not comparable with the paper's numbers**.")


@dataclass(frozen=True)
class Row:
    """One of our Table 1 rows: its name (method and variant) and its average ICC and MAE over AUs."""

    name: str
    icc: float
    mae: float


@dataclass(frozen=True)
class Difference:
    """A paired difference ``name`` - Baseline on the AU average: per metric its evidence.json cell
    (``diff``, ``ci``, ``ci_excludes_0``, ``seeds_agree``, ...; g2rl.evidence)."""

    name: str
    cells: Mapping[str, Mapping]

    def values(self, metric: str) -> tuple[float, float, float]:
        """(difference, CI low, CI high) of ``metric``; NaN where undefined."""
        cell = self.cells[metric]
        return _num(cell.get("diff")), _num(cell["ci"][0]), _num(cell["ci"][1])


@dataclass(frozen=True)
class DatasetResult:
    """What the page says about one dataset: our rows, the paired differences, and the test set's size
    (``n_subjects`` test subjects, ``n_seeds`` seeds, CI ``level``)."""

    dataset: str
    rows: list[Row]
    differences: list[Difference]
    n_subjects: int
    n_seeds: int
    level: float


def _num(x) -> float:
    return math.nan if x is None else float(x)


def our_rows(table1_csv: str | os.PathLike) -> list[Row]:
    """Every row of ours in a Table 1 CSV (``source`` starting with 'ours'), in its order, named by its method and
    the variant it ran (e.g. 'G2RL (stopgrad_aux)')."""
    df = read_csv_file(table1_csv, "Table 1 CSV", dtype={"method": str, "source": str, "variant": str})
    missing = {"metric", "method", "source", "Avg"} - set(df.columns)
    if missing:
        raise G2RLError(f"{table1_csv}: not a Table 1 CSV (no column {', '.join(sorted(missing))})")
    ours = df[df["source"].astype(str).str.startswith("ours")]
    if ours.empty:
        raise G2RLError(f"{table1_csv}: no row of ours (source 'ours ...')")
    variants = ours["variant"].fillna("") if "variant" in ours else pd.Series("", index=ours.index)
    rows: dict[str, dict[str, float]] = {}
    for (_, r), variant in zip(ours.iterrows(), variants):
        name = f"{r['method']} ({variant})" if variant else str(r["method"])
        rows.setdefault(name, {})[str(r["metric"]).upper()] = float(r["Avg"])
    return [Row(name, v.get("ICC", math.nan), v.get("MAE", math.nan)) for name, v in rows.items()]


def paired_differences(evidence: Mapping) -> list[Difference]:
    """Each paired difference to the Baseline that an evidence.json holds (``differences``: row -> block), on the
    AU average, named as :func:`our_rows` names its Table 1 row: the row's label (``methods``) and the variant it
    ran (e.g. 'G2RL (literal)'), so the page never shows one row under two names."""
    out = []
    methods = evidence.get("methods") or {}
    for row, block in (evidence.get("differences") or {}).items():
        avg = block["avg"]
        ident = methods.get(row) or {}
        name = ident.get("label") or str(row)
        if ident.get("variant"):
            name = f"{name} ({ident['variant']})"
        out.append(Difference(str(name), {m: avg[m.lower()] for m in METRICS}))
    return out


def dataset_result(dataset: str, table1_csv: str | os.PathLike, evidence: Mapping) -> DatasetResult:
    if evidence.get("dataset") not in (None, dataset):
        raise G2RLError(f"evidence for {evidence.get('dataset')!r} given for dataset {dataset!r}")
    return DatasetResult(dataset, our_rows(table1_csv), paired_differences(evidence), len(evidence["subjects"]),
                         len(evidence["seeds"]), float(evidence.get("bootstrap", {}).get("level", 0.95)))


def _value(x: float, decimals: int = 2, sign: bool = False) -> str:
    return "n/a" if math.isnan(x) else fixed(x, decimals, sign)


def verdict(diff: Difference, n_subjects: int) -> str:
    """What a paired difference means, in a few words, by the tables' own rule for a mark (g2rl.reports.marks:
    the CI excludes 0 and every seed's own difference has that sign); '' when the test subjects are too few for
    any verdict (:func:`result_line` says so once per dataset)."""
    if not marks_shown(n_subjects):
        return ""
    ways = {m: cell_direction(m, cell, n_subjects) for m, cell in diff.cells.items()}
    said = [f"{w} on {m}" for m, w in ways.items() if w]
    if not said:
        return "no clear difference"
    unsaid = [m for m, w in ways.items() if not w]
    return ", ".join(said) + (f", no clear difference on {' and '.join(unsaid)}" if unsaid else "")


def result_line(result: DatasetResult) -> str:
    """One bullet per dataset: each of our rows' average ICC and MAE, then each row's paired difference to the
    Baseline with its CI and what it means. Short, so that the page's top holds every dataset's line."""
    n = result.n_subjects
    size = f"{n} test subjects, {result.n_seeds} seed{'s' if result.n_seeds != 1 else ''}"
    if not marks_shown(n):
        size += f": too few for a verdict ({distinct_resamples(n)} distinct resamples, {MIN_DISTINCT_RESAMPLES} needed)"
    rows = "; ".join(f"{rst_text(r.name)} ICC {_value(r.icc)}, MAE {_value(r.mae)}" for r in result.rows)
    line = f"- **{DATASET_NAMES.get(result.dataset, rst_text(result.dataset))}** ({size}): {rows}."
    diffs = []
    for d in result.differences:
        cis = ", ".join(f"{m} {_value(v, 3, True)} [{_value(lo, 3, True)}, {_value(hi, 3, True)}]"
                        for m, (v, lo, hi) in ((m, d.values(m)) for m in METRICS))
        said = verdict(d, n)
        diffs.append(f"{rst_text(d.name)} {cis}" + (f", {said}" if said else ""))
    line += f" Against the Baseline: {'; '.join(diffs)}." if diffs else " No paired difference to the Baseline was computed."
    return line


def result_header(results: Sequence[DatasetResult]) -> str:
    """The sentence above the result lines: what the numbers are, and what the seeds can say."""
    level = f"{100 * results[0].level:g} %" if results else "95 %"
    text = (f"**Result** (average over AUs of each of our Table 1 rows; against the Baseline: the paired difference "
            f"with its {level} CI over seeds and test subjects")
    few = seeds_note(min(r.n_seeds for r in results)) if results else ""
    if few:
        text += f"; {rst_text(few.split(':')[0])}: training randomness is barely sampled"
    return text + "):"


def home_settings(config: Mapping) -> dict:
    """The keys of a validated workflow config that the home page describes (no roots, no machine paths)."""
    exp, model, train, pre = config["experiments"], config["model"], config["train"], config["preprocess"]
    protocol = {}
    if "disfa" in config["datasets"]:
        protocol["disfa"] = {"folds": len(config["disfa"]["folds"]), "pooled": bool(config["disfa"]["pooled"])}
    if "bp4d" in config["datasets"]:
        parts = config["bp4d"]["partitions"]
        protocol["bp4d"] = {"train": len(parts["train"]), "devel": len(parts["devel"])}
    return {
        "data_label": config["data_label"], "datasets": list(config["datasets"]), "protocol": protocol,
        "model": {k: model[k] for k in ("backbone", "deconv_channels", "pretrained", "guidance")},
        "preprocess": {k: pre[k] for k in ("crop_size", "au_points", "heatmap_layout", "heatmap_peak")},
        "train": {k: train[k] for k in ("epochs", "batch_size", "lr", "lr_step_epochs", "lr_gamma",
                                        "max_train_samples", "gpus")},
        "experiments": {"sigma": exp["sigma"], "lambda": exp["lambda"], "seeds": list(exp["seeds"]),
                        "sigma_sweep": list(exp["sigma_sweep"]), "lambda_sweep": list(exp["lambda_sweep"]),
                        "sweep_datasets": list(exp["sweep_datasets"] or config["datasets"]),
                        "table1_variants": list(exp["table1_variants"]),
                        "ablation": sorted(exp["ablation"]["variants"])},
    }  # fmt: skip


def _names(values: Sequence) -> str:
    return ", ".join(rst_text(v) for v in values)


def _upper(datasets: Sequence[str]) -> str:
    return ", ".join(DATASET_NAMES.get(d, rst_text(d)) for d in datasets)


GUIDANCE_NOTES = {"stopgrad_aux": "stop-gradient on G and the L_teach head: not the paper's Eq. 6/8 as written, "
                                  "which is literal",
                  "literal": "the paper's Eq. 6/8 as written",
                  "literal_fixed_norm": "Eq. 6/8 with G on a fixed-norm sphere"}


def what_was_run(s: Mapping) -> list[str]:
    """The run's settings, one short bullet per subject."""
    m, p, t, e = s["model"], s["preprocess"], s["train"], s["experiments"]
    proto = []
    if "disfa" in s["protocol"]:
        d = s["protocol"]["disfa"]
        proto.append(f"DISFA {d['folds']} subject-independent folds{', pooled' if d['pooled'] else ''}")
    if "bp4d" in s["protocol"]:
        b = s["protocol"]["bp4d"]
        proto.append(f"BP4D train on {b['train']} subjects, test on {b['devel']}")
    trunk = " up to layer3 (smaller than the paper's)" if len(m["deconv_channels"]) == 2 else ""
    if m["pretrained"] in IMAGENET_CHOICES:
        init = f"ImageNet weights ({rst_text(m['pretrained'])}, torchvision's {IMAGENET_CHOICES[m['pretrained']]})"
    elif m["pretrained"]:
        init = f"weights from the file {rst_text(m['pretrained'])}"
    else:
        init = "random initialisation (no ImageNet weights: not the paper's setting)"
    steps = f" (x {_names([t['lr_gamma']])} after epoch {_names(t['lr_step_epochs'])})" if t["lr_step_epochs"] else ""
    cap = f", at most {_names([t['max_train_samples']])} training samples" if t["max_train_samples"] else ""
    points = p["au_points"] if isinstance(p["au_points"], str) else "custom" if p["au_points"] else "hr"
    lines = [
        f"- **Data**: {'DEMO (synthetic)' if s['data_label'] == 'demo' else 'real'}; {'; '.join(proto)}.",
        f"- **Network**: {rst_text(m['backbone'])}{trunk}, "
        f"deconvolutions {' x '.join(rst_text(c) for c in m['deconv_channels'])}, "
        f"{rst_text(p['crop_size'])} px crops, {init}.",
        f"- **Training**: {rst_text(t['epochs'])} epochs, batch {rst_text(t['batch_size'])}, Adam lr "
        f"{rst_text(t['lr'])}{steps}{cap}, {'GPU' if t['gpus'] else 'CPU'}; seeds {_names(e['seeds'])}.",
        f"- **G2RL**: guidance {rst_text(m['guidance'])} ({GUIDANCE_NOTES.get(m['guidance'], 'see docs/METHOD.md')}), "
        f"AU points {rst_text(points)}, "
        f"{rst_text(p['heatmap_layout'])} heatmaps, peak {rst_text(p['heatmap_peak'])}; sigma = "
        f"{rst_text(e['sigma'])}, lambda = {rst_text(e['lambda'])} (the Baseline: lambda = 0).",
    ]
    if e.get("table1_variants"):
        lines.append(f"- **Table 1 rows**: Baseline, G2RL ({rst_text(m['guidance'])}), and a row for each of "
                     f"{_names(e['table1_variants'])} (ablation variants of G2RL; stopgrad_aux = G2RL + "
                     "stop-grad/teach, our fix, not the paper's method).")
    sweeps = []
    if e["sigma_sweep"]:
        sweeps.append(f"sigma in {_names(e['sigma_sweep'])}")
    if e["lambda_sweep"]:
        sweeps.append(f"lambda in {_names(e['lambda_sweep'])}")
    extra = []
    if sweeps:
        extra.append(f"sweeps {'; '.join(sweeps)} on {_upper(e['sweep_datasets'])}")
    if e["ablation"]:
        extra.append(f"ablation variants {_names(e['ablation'])}")
    if extra:
        lines.append(f"- **Also**: {'; '.join(extra)}.")
    return lines


def title(settings: Mapping) -> str:
    kind = "DEMO data" if settings["data_label"] == "demo" else "real data"
    return f"G2RL reproduction on {kind}: {_upper(settings['datasets'])}"


SETTINGS_KEYS = ("data_label", "datasets", "protocol", "model", "preprocess", "train", "experiments")
# A comment line between the result and what was run: workflow/report/workflow.rst includes the page in two
# parts around it and puts the links to the report's categories (known only when the report is made) between.
# A value cannot spell it: rst_text escapes its dots.
SPLIT = ".. the links to the report's categories go here"


def read_settings(text: str) -> dict:
    """``--settings``: the JSON object :func:`home_settings` makes; G2RLError naming what is wrong."""
    try:
        settings = json.loads(text)
    except json.JSONDecodeError as exc:
        raise G2RLError(f"--settings: not valid JSON ({exc})") from None
    missing = [k for k in SETTINGS_KEYS if not isinstance(settings, dict) or k not in settings]
    if missing:
        raise G2RLError(f"--settings: no key {', '.join(missing)} (make it with g2rl.reports.home.home_settings)")
    return settings


def home_page(settings: Mapping, results: Sequence[DatasetResult]) -> str:
    """The page's reStructuredText: title, data note and result, :data:`SPLIT`, what was run."""
    demo = settings["data_label"] == "demo"
    head = title(settings)
    lines = [head, "=" * len(head), ""]
    if demo:
        lines += [DEMO_NOTE, ""]
    else:
        lines += [f"Results on the real data ({_upper(settings['datasets'])}), read from the roots in the config.", ""]
    lines += [result_header(results), ""]
    lines += [result_line(r) for r in results] + [""]
    lines += [SPLIT, ""]
    lines += ["**What was run**", ""] + what_was_run(settings) + [""]
    lines += ["Every key of the configuration is described in ``g2rl/resources/config.schema.yaml``.", ""]
    return "\n".join(lines)


def write_home(text: str, out: str | os.PathLike) -> Path:
    out = Path(out)
    with atomic_path(out) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    return out
