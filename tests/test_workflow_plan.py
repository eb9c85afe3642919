"""The paper-scale plan: how many jobs of each rule the workflow (and so the SLURM profile) would run for
config/disfa.yaml and config/bp4d.yaml, on fake roots holding every subject of the real split (tiny files)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import path_without_project_python
from g2rl.config import load_schema
from layouts import write_bp4d, write_disfa

REPO = Path(__file__).resolve().parent.parent


def dry_run_counts(workdir: Path, configfile: Path, dataset: str, root: Path) -> dict[str, int]:
    """Build the frame index for real (the checkpoint), then dry-run the rest through the SLURM profile."""
    env = dict(os.environ, PATH=path_without_project_python())  # the frame_index job runs for real
    base = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
            "--configfile", str(configfile), "--config", f'{dataset}={{"root": "{root}"}}']
    index = f"results/{dataset}/frame_index.csv"
    r = subprocess.run([*base, "--cores", "1", index], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    r = subprocess.run([*base, "-n", "-p", "--profile", str(REPO / "workflow/profiles/slurm"), "--workflow-profile", "none"],
                       capture_output=True, text=True, env=env, timeout=600)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    # the paper configs train on GPUs (train.gpus: 1), so every training asks for CUDA explicitly
    trains = [line for line in out.splitlines() if " train --crops " in line]
    assert trains and all("--device cuda" in line for line in trains), trains[:2]
    table = out[out.index("Job stats:"):]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.MULTILINE) if m.group(1) != "total"}


def test_paper_scale_plan(tmp_path):
    schema = load_schema()["properties"]
    folds = schema["disfa"]["properties"]["folds"]["default"]
    parts = schema["bp4d"]["properties"]["partitions"]["default"]
    disfa_subjects = [s for f in folds.values() for s in f]
    bp4d_subjects = parts["train"] + parts["devel"]
    write_disfa(tmp_path / "DISFA", subjects=disfa_subjects, n_frames=2)
    write_bp4d(tmp_path / "BP4D", subjects=bp4d_subjects, sessions=[f"T{i}" for i in range(1, 9)], n_frames=1)

    disfa = dry_run_counts(tmp_path / "wd_disfa", REPO / "config/disfa.yaml", "disfa", tmp_path / "DISFA")
    bp4d = dry_run_counts(tmp_path / "wd_bp4d", REPO / "config/bp4d.yaml", "bp4d", tmp_path / "BP4D")

    # ImageNet weights are resolved once (the `weights` rule), not per training.
    # 5 sigmas, 5 lambdas sharing (sigma 2, lambda 0.05), plus the Baseline: 10 settings. The two Table 1
    # settings (Baseline, G2RL at 2 / 0.05) run 3 seeds, the other 8 sweep points one: 14 runs. The ablation
    # adds 4 variants x every fold (first seed), two of which (hr, intensity_peak) need their own heatmaps.
    abl = {"heatmap_cache_variant": 2, "ablation_table": 1}
    assert disfa == {"landmarks": 27, "crop_cache": 1, "heatmap_cache": 5, "train": 42 + 4 * 3, "evaluate": 14,
                     "evidence": 1, "g2rl_vs_baseline": 1, "training_curves": 1,
                     "table1": 1, "sensitivity_figures": 2, "example_figures": 1, "all": 1, "weights": 1, **abl}
    assert bp4d == {"landmarks": 41 * 8, "crop_cache": 1, "heatmap_cache": 5, "train": 14 + 4, "evaluate": 14,
                    "evidence": 1, "g2rl_vs_baseline": 1, "training_curves": 1,
                    "table1": 1, "sensitivity_figures": 2, "example_figures": 1, "all": 1, "weights": 1, **abl}
    assert len(disfa_subjects) == 27 and len(bp4d_subjects) == 41
