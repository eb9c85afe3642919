"""Uncertainty in the result files: the keys g2rl.evidence adds to ``metrics.json``, and ``evidence.json``.

Per run (one seed), :func:`g2rl.reports.uncertainty.uncertainty_keys` gives the keys ``g2rl
evaluate`` adds next to the existing ones (docs/METRICS.md):

    "bootstrap":   {"unit": "subject", "n_resamples", "seed", "level", "section", "n_subjects",
                    "per_au": {AU: {"icc_ci": [lo, hi], "mae_ci": [lo, hi]}}, "avg": {...}}   # or null
    "fold_mean":   {"n_folds", "per_au": {AU: {"icc", "mae"}}, "avg": {"icc", "mae"}}       # or null (one fold)
    "diagnostics": see g2rl.reports.diagnostics                                             # only with --diagnostics

Per dataset, :func:`build_evidence` reads the metrics.json of every seed of each Table 1 row (the
Baseline, G2RL, and any ``experiments.table1_variants`` row such as G2RL + stop-grad/teach), reloads the
predictions they were computed from, and bootstraps every row on the same seed and subject resamples
(g2rl.evidence.compare_methods), each non-reference row paired with the Baseline. ``evidence.json``
layout (every row named, and its variant: a reader needs no other file to say what a number is)::

    {"format": "g2rl-evidence/2", "dataset", "aus", "seeds": [...], "subjects": [...],
     "bootstrap": {"unit": "seed and subject", "n_resamples", "seed", "level"},
     "reference": "baseline",
     "rows": ["baseline", "g2rl", "g2rl-stopgrad_aux", ...],          # the table's order; keys of "methods"
     "methods": {<row>: {"label": "Baseline" | "G2RL" | "G2RL + stop-grad/teach" | ...,
                         "variant": null | "literal" | "stopgrad_aux" | ...,   # the guidance (null: a Baseline)
                         "variant_note": "...",                    # what that guidance is, in words
                         "files": [metrics.json, ...],
                         "per_au": {AU: {"icc"|"mae": {"mean", "sd", "ci": [lo, hi], "per_seed": [...], "undefined"}}},
                         "avg": {...}, "fold_mean": {...} | null, "diagnostics": {...} | null}},
     "differences": {<row>: {"against": "baseline", "label": "G2RL - Baseline",
                             "per_au": {AU: {"icc"|"mae": {"diff", "ci": [lo, hi], "per_seed": [...], "seeds_agree",
                                                          "ci_excludes_0", "win_share", "mark"}}},
                             "avg": {...}}},                      # every row but the reference, paired by seed
     "marks": {"shown": bool, "legend": "..."},                   # "mark": "better" | "worse" | "" per cell
     "multiplicity": {"cells_tested", "primary", "adjusted": false, "note"}}
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from g2rl.errors import G2RLError
from g2rl.evidence import METRICS, BootstrapSettings, Comparison, RunArrays, compare_methods
from g2rl.formats import DIAGNOSTICS_FORMAT
from g2rl.jsonfile import read_json, write_json
from g2rl.reports.evaluate import read_metrics_json, read_predictions
from g2rl.reports.marks import cell_direction, legend, marks_shown, multiplicity_note
from g2rl.reports.model_label import row_identities
from g2rl.reports.run_files import run_labels
# per-run keys live in g2rl.reports.uncertainty (g2rl evaluate writes them); re-exported for readers of evidence
from g2rl.reports.uncertainty import _f, fold_mean, run_arrays, uncertainty_keys  # noqa: F401

EVIDENCE_FORMAT = "g2rl-evidence/2"
REFERENCE = "baseline"


def _load_run(path: str | os.PathLike, metrics: dict) -> RunArrays:
    """Reload the headline predictions a metrics.json was computed from (its 'file' / 'files')."""
    head = metrics.get("headline")
    if head == "pooled":
        files = metrics["pooled"]["files"]
    elif isinstance(head, str) and head.startswith("fold:"):
        files = [metrics["folds"][head[len("fold:"):]]["file"]]
    else:
        raise G2RLError(f"{path}: several folds and no pooled section, so no headline to bootstrap; evaluate with --pooled")
    frames = []
    for f in files:
        if not Path(f).is_file():
            raise G2RLError(f"{path}: names predictions file {f}, which is not there (run from the workflow's directory)")
        frames.append(read_predictions(f, metrics["aus"])[0])
    return run_arrays(pd.concat(frames, ignore_index=True), metrics["aus"], str(path))


def _seed_of(path: str, metrics: dict):
    return run_labels(path, metrics).get("seed")


def load_rows(files: dict[str, Sequence[str]]) -> tuple[dict[str, list[tuple[str, dict]]], list[str]]:
    """{row: [(path, metrics.json)] sorted by seed} and the seeds, from {row: [metrics.json per seed]}.

    Runs are paired by their seed (``run`` label or the ``seed<N>`` path folder); every row must have the
    same seeds and the same AUs."""
    loaded, seeds = {}, {}
    for row, paths in files.items():
        ms = [(str(p), read_metrics_json(p)) for p in paths]
        labels = [_seed_of(p, m) for p, m in ms]
        if None in labels:
            labels = list(range(len(ms)))  # no seed labels: paired by position
        if len(set(map(str, labels))) != len(ms):
            raise G2RLError(f"{row}: metrics files {[p for p, _ in ms]} repeat a seed {labels}")
        order = sorted(range(len(ms)), key=lambda i: str(labels[i]))
        loaded[row] = [ms[i] for i in order]
        seeds[row] = [str(labels[i]) for i in order]
    names = list(files)
    for row in names[1:]:
        if seeds[row] != seeds[names[0]]:
            raise G2RLError(f"{names[0]} has seeds {seeds[names[0]]} but {row} has {seeds[row]}; "
                            "the paired comparison needs the same seeds for every row")
    aus = loaded[names[0]][0][1]["aus"]
    for ms in loaded.values():
        for p, m in ms:
            if m["aus"] != aus:
                raise G2RLError(f"{p}: AUs {m['aus']} differ from {loaded[names[0]][0][0]}'s {aus}")
    return loaded, seeds[names[0]]


def build_evidence(dataset: str, files: dict[str, Sequence[str]], settings: BootstrapSettings = BootstrapSettings()) -> dict:
    """evidence.json for one dataset from {row: [metrics.json per seed]}, rows keyed by their workflow method
    ('baseline' first: the reference; 'g2rl'; 'g2rl-<variant>'). Returns the dict described in the module
    docstring."""
    if REFERENCE not in files:
        raise G2RLError(f"{dataset}: evidence needs the Baseline's runs (rows given: {sorted(files)})")
    files = {REFERENCE: files[REFERENCE], **{k: v for k, v in files.items() if k != REFERENCE}}
    loaded, seeds = load_rows(files)
    aus = loaded[REFERENCE][0][1]["aus"]
    ids = row_identities({row: [m for _, m in ms] for row, ms in loaded.items()})
    cmp = compare_methods({k: [_load_run(p, m) for p, m in ms] for k, ms in loaded.items()}, seeds, aus, settings,
                          against={row: REFERENCE for row in loaded if row != REFERENCE})
    n_subjects = len(cmp.subjects)
    out = {
        "format": EVIDENCE_FORMAT, "dataset": dataset, "aus": aus, "seeds": seeds, "subjects": cmp.subjects,
        "bootstrap": settings.to_dict(), "reference": REFERENCE, "rows": list(loaded), "methods": {}, "differences": {},
    }
    for row, ms in loaded.items():
        out["methods"][row] = {
            **ids[row], "files": [p for p, _ in ms], **_summary_dict(cmp, row),
            "fold_mean": _mean_of_dicts([m.get("fold_mean") for _, m in ms]),
            "diagnostics": _mean_of_dicts([m.get("diagnostics", {}).get("summary") for _, m in ms]),
        }
    cells = 0
    for row, ref in cmp.against.items():
        diff = _difference_dict(cmp, row, lambda metric, cell: cell_direction(metric, cell, n_subjects))
        cells += sum(c[m]["diff"] is not None for c in [*diff["per_au"].values(), diff["avg"]] for m in METRICS)
        out["differences"][row] = {"against": ref, "label": f"{ids[row]['label']} − {ids[ref]['label']}", **diff}
    primary = len(METRICS) * len(cmp.against)
    out["marks"] = {"shown": marks_shown(n_subjects), "legend": legend(n_subjects, len(seeds), "a G2RL row", "our Baseline")}
    out["multiplicity"] = {"cells_tested": cells, "primary": primary, "adjusted": False,
                           "note": multiplicity_note(cells, primary)}
    return out


def _summary_dict(cmp: Comparison, method: str) -> dict:
    s = cmp.summaries[method]

    def cell(j):
        return {m: {"mean": _f(s[m].mean[j]), "sd": _f(s[m].sd[j]), "ci": [_f(s[m].lo[j]), _f(s[m].hi[j])],
                    "per_seed": [_f(v) for v in s[m].per_seed[:, j]], "undefined": int(s[m].undefined[j])}
                for m in METRICS}

    return {"per_au": {au: cell(j) for j, au in enumerate(cmp.aus)}, "avg": cell(len(cmp.aus))}


def _difference_dict(cmp: Comparison, method: str, mark) -> dict:
    """One row's differences to its reference as plain dicts; ``mark(metric, cell)`` gives each cell's mark."""
    d = cmp.differences[method]

    def cell(j):
        out = {}
        for m in METRICS:
            c = {"diff": _f(d[m].diff[j]), "ci": [_f(d[m].lo[j]), _f(d[m].hi[j])],
                 "per_seed": [_f(v) for v in d[m].per_seed[:, j]], "seeds_agree": bool(d[m].seeds_agree[j]),
                 "ci_excludes_0": bool(d[m].excludes_zero[j]), "win_share": _f(d[m].win_share[j])}
            c["mark"] = mark(m, c)
            out[m] = c
        return out

    return {"per_au": {au: cell(j) for j, au in enumerate(cmp.aus)}, "avg": cell(len(cmp.aus))}


def _mean_of_dicts(items: list) -> dict | None:
    """Element-wise mean over seeds of nested dicts of numbers (None entries skipped); None if all None."""
    items = [i for i in items if i is not None]
    if not items:
        return None
    first = items[0]
    if isinstance(first, dict):
        return {k: _mean_of_dicts([i.get(k) for i in items]) for k in first}
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        vals = [float(i) for i in items if not (isinstance(i, float) and math.isnan(i))]
        return float(np.mean(vals)) if vals else None
    return first


def write_evidence(evidence: dict, out_path: str | os.PathLike) -> Path:
    return write_json(evidence, out_path)


def read_evidence(path: str | os.PathLike) -> dict:
    """Load an evidence.json; :class:`G2RLError` naming the file if it is not one."""
    return read_json(path, EVIDENCE_FORMAT, "evidence")


def diagnostics_key(paths: Sequence[str | os.PathLike]) -> dict:
    """metrics.json's 'diagnostics': each fold's diagnostics.json (keyed by its folder) and a
    'summary' averaged over folds: teach ICC / MAE per AU and on average, final L_G, g_spread.
    The teach score is n/a (null, with the reason) when the run has no geometry intensity head."""
    folds = {}
    for p in paths:
        folds[Path(p).parent.name] = read_json(p, DIAGNOSTICS_FORMAT, "diagnostics")
    teach = [d["teach"] for d in folds.values() if d["teach"].get("available")]
    reasons = sorted({d["teach"].get("reason", "") for d in folds.values() if not d["teach"].get("available")})
    summary = {
        "teach": None if not teach else {
            "per_au": _mean_of_dicts([t["per_au"] for t in teach]), "avg": _mean_of_dicts([t["avg"] for t in teach]),
        },
        "final_loss_guidance": _mean_of_dicts([d["final"]["loss_guidance"] for d in folds.values()]),
        "final_g_spread": _mean_of_dicts([d["final"]["g_spread"] for d in folds.values()]),
        "note": (f"mean over {len(folds)} fold(s)" + (f"; teach score n/a: {'; '.join(reasons)}" if reasons else "")),
    }
    return {"folds": folds, "summary": summary}
