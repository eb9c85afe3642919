"""The paper-scale plan: how many jobs of each rule the workflow (and so the SLURM profile) would run for
config/disfa.yaml, config/bp4d.yaml and config/paper.yaml, on fake roots holding every subject of the real split
(tiny files). docs/CLUSTER.md shows the same counts, generated from this plan: the test fails when they differ and
prints the block to paste."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from conftest import path_without_project_python
from g2rl.config import load_schema
from layouts import write_bp4d, write_disfa

REPO = Path(__file__).resolve().parent.parent


def dry_run_counts(workdir: Path, configfile: Path, roots: dict[str, Path]) -> tuple[dict[str, int], int]:
    """Dry-run through the SLURM profile before the frame indexes exist (what a first `snakemake -n` shows: the
    jobs after the `frame_index` checkpoint are not known yet), build the indexes for real, then dry-run the rest.
    Returns the second plan's jobs per rule and the first plan's total."""
    env = dict(os.environ, PATH=path_without_project_python())  # the frame_index job runs for real
    base = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
            "--configfile", str(configfile), "--config", *[f'{d}={{"root": "{root}"}}' for d, root in roots.items()]]
    dry = [*base, "-n", "-p", "--profile", str(REPO / "workflow/profiles/slurm"), "--workflow-profile", "none"]

    def stats(out: str) -> dict[str, int]:
        table = out[out.index("Job stats:"):]
        return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.MULTILINE)}

    r = subprocess.run(dry, capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    first = stats(r.stdout + r.stderr)
    assert first.get("frame_index") == len(roots) and "landmarks" not in first, first
    indexes = [f"results/real/{d}/frame_index.csv" for d in roots]  # the paper configs: results/real
    r = subprocess.run([*base, "--cores", "1", *indexes], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    r = subprocess.run(dry, capture_output=True, text=True, env=env, timeout=600)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    # the paper configs train on GPUs (train.gpus: 1), so every training asks for CUDA explicitly
    trains = [line for line in out.splitlines() if " train --crops " in line]
    assert trains and all("--device cuda" in line for line in trains), trains[:2]
    return {k: v for k, v in stats(out).items() if k != "total"}, first["total"]


def test_paper_scale_plan(tmp_path):
    schema = load_schema()["properties"]
    folds = schema["disfa"]["properties"]["folds"]["default"]
    parts = schema["bp4d"]["properties"]["partitions"]["default"]
    disfa_subjects = [s for f in folds.values() for s in f]
    bp4d_subjects = parts["train"] + parts["devel"]
    write_disfa(tmp_path / "DISFA", subjects=disfa_subjects, n_frames=2)
    write_bp4d(tmp_path / "BP4D", subjects=bp4d_subjects, sessions=[f"T{i}" for i in range(1, 9)], n_frames=1)

    roots = {"disfa": tmp_path / "DISFA", "bp4d": tmp_path / "BP4D"}
    # the three plans side by side (separate working folders): Snakemake's DAG building is one core each, and the
    # suite runs one test at a time
    with ThreadPoolExecutor(3) as pool:
        plans = [pool.submit(dry_run_counts, tmp_path / f"wd_{name}", REPO / f"config/{config}.yaml", config_roots)
                 for name, config, config_roots in (("disfa", "disfa", {"disfa": roots["disfa"]}),
                                                    ("bp4d", "bp4d", {"bp4d": roots["bp4d"]}),
                                                    ("both", "paper", roots))]
        (disfa, disfa_first), (bp4d, bp4d_first), (both, both_first) = (p.result() for p in plans)

    # ImageNet weights are resolved once (the `weights` rule), not per training.
    # Per test fold: Table 1's 3 rows (Baseline, G2RL, G2RL + stop-grad/teach = the stopgrad_aux variant) x 3
    # seeds = 9 runs; the 8 other sigma / lambda points of G2RL, 1 seed each; the ablation's 5 more rows
    # (literal_fixed_norm, hr, intensity_peak and a Baseline on each of the last two's heatmaps) x 3 seeds = 15.
    # Evaluated (metrics.json): Table 1's 9 and the 8 sweep points. hr and intensity_peak need their own heatmaps.
    per_fold = 9 + 8 + 5 * 3
    abl = {"heatmap_cache_variant": 2, "ablation_table": 1}
    assert disfa == {"landmarks": 27, "crop_cache": 1, "heatmap_cache": 5, "train": 3 * per_fold, "evaluate": 17,
                     "evidence": 1, "g2rl_vs_baseline": 1, "training_curves": 1,
                     "table1": 1, "sensitivity_figures": 2, "example_figures": 1, "all": 1, "weights": 1, "report_home": 1, **abl}
    assert bp4d == {"landmarks": 41 * 8, "crop_cache": 1, "heatmap_cache": 5, "train": per_fold, "evaluate": 17,
                    "evidence": 1, "g2rl_vs_baseline": 1, "training_curves": 1,
                    "table1": 1, "sensitivity_figures": 2, "example_figures": 1, "all": 1, "weights": 1, "report_home": 1, **abl}
    assert len(disfa_subjects) == 27 and len(bp4d_subjects) == 41
    # paper.yaml: both datasets' jobs once; the weights, the two sensitivity figures, the report's home page and
    # `all` are shared
    shared = {"weights": 1, "sensitivity_figures": 2, "report_home": 1, "all": 1}
    assert both == {r: disfa.get(r, 0) + bp4d.get(r, 0) - shared.get(r, 0) for r in set(disfa) | set(bp4d)}

    block = plan_block({"config/disfa.yaml": disfa, "config/bp4d.yaml": bp4d, "config/paper.yaml": both},
                       model_pt_bytes(), {"config/disfa.yaml": disfa_first, "config/bp4d.yaml": bp4d_first,
                                          "config/paper.yaml": both_first})
    doc = CLUSTER_MD.read_text()
    current = doc[doc.index(BEGIN) : doc.index(END) + len(END)] if BEGIN in doc and END in doc else ""
    assert current == block, (
        f"docs/CLUSTER.md's plan differs from the dry runs; replace the part between the markers with:\n{block}"
    )


# --- docs/CLUSTER.md's generated block -------------------------------------------------------------------

CLUSTER_MD = REPO / "docs" / "CLUSTER.md"
BEGIN, END = "<!-- plan: generated by tests/test_workflow_plan.py -->", "<!-- plan: end -->"


def local_rules() -> set[str]:
    """The Snakefile's `localrules:` (run on the submit host)."""
    text = (REPO / "Snakefile").read_text()
    body = text[text.index("localrules:") :].split("\n\n")[0]
    return {w.strip(" ,") for w in body.split()[1:] if w.strip(" ,")}


def model_pt_bytes() -> int:
    """Bytes of one paper-config inference checkpoint (ResNet-50, three 256-channel deconvolutions, the largest
    head: DISFA's 24 per-point maps), as torch.save writes its state dict."""
    import io

    import torch

    from g2rl.model.backbone import HeatmapNet

    net = HeatmapNet(24, "resnet50", None, (256, 256, 256), warn_random=False)
    buf = io.BytesIO()
    torch.save({"state_dict": net.state_dict()}, buf)
    return buf.tell()


def plan_block(plans: dict[str, dict[str, int]], model_bytes: int, first_totals: dict[str, int]) -> str:
    """The markdown table of jobs per rule and config, what a first dry run shows instead (``first_totals``: its
    total per config, before the frame indexes exist), and the disk the trainings' checkpoints take."""
    local = local_rules()
    rules = sorted({r for p in plans.values() for r in p}, key=lambda r: (-max(p.get(r, 0) for p in plans.values()), r))
    where = lambda r: "local (submit host)" if r in local else ("gpu partition" if r == "train" else "cpu partition")  # noqa: E731
    lines = [BEGIN, "", "| rule | " + " | ".join(f"`{c}`" for c in plans) + " | where |",
             "|---|" + "---:|" * len(plans) + "---|"]
    lines += [f"| `{r}` | " + " | ".join(str(p.get(r, 0)) for p in plans.values()) + f" | {where(r)} |" for r in rules]
    lines.append("| **total** | " + " | ".join(str(sum(p.values())) for p in plans.values()) + " | |")
    lines += ["", "These are the jobs once the frame indexes exist. A first `snakemake -n` in a new working "
              "directory shows fewer (" + ", ".join(f"{first_totals[c]} for `{c}`" for c in plans)
              + "): it plans one `frame_index` job per dataset, and the jobs that depend on what that checkpoint "
              "finds in the dataset tree (the landmark jobs, one per video or sequence, and everything after them) "
              "appear only once it has run; a dry run after it (or `snakemake --cores 1 "
              "results/real/<dataset>/frame_index.csv` first) shows the counts above."]
    gib = lambda n: f"{n * model_bytes / 2**30:.1f} GiB"  # noqa: E731
    lines += ["", f"Each training leaves a `model.pt` of {model_bytes / 2**20:.0f} MiB (the paper's network, measured "
              "by the same test), so the checkpoints alone take "
              + ", ".join(f"{gib(p.get('train', 0))} (`{c}`)" for c, p in plans.items())
              + ". A training that is still running also holds a `last.pt` (model, optimiser and scheduler state, "
              "about 3x that) until it finishes.", "", END]
    return "\n".join(lines)
