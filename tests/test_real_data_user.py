"""Issue 21: the researcher with the real data. A moved checkout reruns nothing; the paper configs do not overwrite
each other's outputs and can run together; a partial dataset copy is reported whole."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, TINY_CONFIG, copy_checkout, path_without_project_python
from g2rl.datasets import index_bp4d, index_disfa
from g2rl.errors import DatasetLayoutError
from layouts import write_bp4d, write_disfa


def snakemake(*args: str, python: str = sys.executable, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PATH"] = path_without_project_python()
    return subprocess.run([python, "-m", "snakemake", *args], capture_output=True, text=True, env=env, timeout=600,
                          cwd=cwd)


def test_a_moved_checkout_and_venv_rerun_nothing(tiny_workflow, tmp_path):
    """Copy a finished run and the checkout elsewhere, run Snakemake through another interpreter path: 0 jobs."""
    moved = copy_checkout(tmp_path / "elsewhere" / "g2rl")
    workdir = tmp_path / "shared storage" / "study"
    shutil.copytree(tiny_workflow, workdir, symlinks=True)  # results, resources, .snakemake metadata, mtimes kept
    # the same environment under another path (a venv rebuilt elsewhere): sys.executable differs
    other_venv = tmp_path / "rebuilt venv"
    other_venv.symlink_to(Path(sys.prefix), target_is_directory=True)
    other_python = other_venv / Path(sys.executable).relative_to(sys.prefix)
    # and a placement setting (how many trainings share a card) changes no result, so it reruns nothing either
    placement = tmp_path / "placement.yaml"
    placement.write_text("train: {jobs_per_gpu: 3}\n")
    proc = snakemake("-n", "-s", str(moved / "Snakefile"), "-d", str(workdir), "--configfile",
                     str(moved / TINY_CONFIG.relative_to(REPO)), str(placement), "--cores", "1",
                     python=str(other_python))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "Nothing to be done" in out, out[-4000:]


def outputs_of(configfile: Path, workdir: Path) -> str:
    """The dry run's plan (-p) of a config in an empty working directory (no data: the index is the first job)."""
    proc = snakemake("-n", "-p", "-s", str(REPO / "Snakefile"), "--configfile", str(configfile),
                     "--cores", "1", "--workflow-profile", "none", "-d", str(workdir))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    return out


def test_each_paper_config_names_its_outputs_and_paper_yaml_runs_both(tmp_path):
    disfa = outputs_of(REPO / "config" / "disfa.yaml", tmp_path)
    bp4d = outputs_of(REPO / "config" / "bp4d.yaml", tmp_path)
    both = outputs_of(REPO / "config" / "paper.yaml", tmp_path)
    # every output that combines datasets says which: the two configs, run one after the other, keep both
    assert "results/real/tables/g2rl_vs_baseline_disfa.csv" in disfa and "g2rl_vs_baseline_bp4d" not in disfa
    assert "results/real/tables/g2rl_vs_baseline_bp4d.csv" in bp4d and "g2rl_vs_baseline_disfa" not in bp4d
    assert "results/real/figures/sensitivity_sigma_disfa.png" in disfa
    assert "results/real/figures/sensitivity_lambda_bp4d.png" in bp4d
    for name in ("table1_disfa", "table1_bp4d", "g2rl_vs_baseline_disfa", "g2rl_vs_baseline_bp4d",
                 "sensitivity_sigma_bp4d-disfa", "sensitivity_lambda_bp4d-disfa"):
        assert name in both, name
    for out in (disfa, bp4d, both):
        assert "g2rl_vs_baseline.csv" not in out and "sensitivity_sigma.png" not in out


def test_two_configfiles_that_drop_a_dataset_are_refused(tmp_path):
    proc = snakemake("-n", "-s", str(REPO / "Snakefile"), "--configfile", str(REPO / "config/disfa.yaml"),
                     str(REPO / "config/bp4d.yaml"), "--cores", "1", "--workflow-profile", "none",
                     "-d", str(tmp_path))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "lists dataset disfa" in out and "config/paper.yaml" in out, out[-2000:]
    # an explicit choice is the user's
    ok = snakemake("-n", "-s", str(REPO / "Snakefile"), "--configfile", str(REPO / "config/disfa.yaml"),
                   str(REPO / "config/bp4d.yaml"), "--config", "datasets=[bp4d]", "--cores", "1",
                   "--workflow-profile", "none", "-d", str(tmp_path))
    assert ok.returncode == 0, (ok.stdout + ok.stderr)[-2000:]


def test_paper_yaml_is_the_two_dataset_configs_together():
    load = lambda name: yaml.safe_load((REPO / "config" / name).read_text())  # noqa: E731
    paper, disfa, bp4d = load("paper.yaml"), load("disfa.yaml"), load("bp4d.yaml")
    assert paper["datasets"] == ["disfa", "bp4d"]
    assert paper["disfa"] == disfa["disfa"] and paper["bp4d"] == bp4d["bp4d"]
    shared = {k: v for k, v in paper.items() if k not in ("datasets", "disfa", "bp4d")}
    assert shared == {k: v for k, v in disfa.items() if k not in ("datasets", "disfa")}
    assert shared == {k: v for k, v in bp4d.items() if k not in ("datasets", "bp4d")}


def test_a_partial_disfa_copy_lists_every_missing_and_found_subject(tmp_path):
    root = write_disfa(tmp_path / "DISFA", subjects=("SN001", "SN011"))
    folds = {"1": ["SN001", "SN002"], "2": ["SN011", "SN013"], "3": ["SN003"]}
    with pytest.raises(DatasetLayoutError) as err:
        index_disfa(root, folds=folds)
    msg = str(err.value)
    assert msg.startswith(f"{root}: 3 of the 5 configured DISFA subjects have no data")
    assert "subject SN002 (fold 1) has no data: neither" in msg
    assert "subject SN013 (fold 2) has no data" in msg and "subject SN003 (fold 3) has no data" in msg
    assert msg.endswith("Found 2: SN001, SN011") and "\n" not in msg


def test_a_partial_bp4d_copy_lists_every_missing_subject(tmp_path):
    root = write_bp4d(tmp_path / "BP4D", subjects=("F001",))
    with pytest.raises(DatasetLayoutError, match=r"2 of the 3 configured BP4D subjects have no data\. subject F002 "
                       r"\(partition devel\) has no data: .*; subject M002 \(partition devel\) has no data\. Found 1: F001"):
        index_bp4d(root, partitions={"train": ["F001"], "devel": ["F002", "M002"]})


def test_a_dry_run_names_the_missing_roots_before_its_plan(tmp_path):
    """The paper configs' placeholder roots do not exist: the dry run still plans (exit 0), and says so before
    anything else, one line per dataset; a root that exists is not named."""
    def dry_run(*config: str) -> str:
        env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        env["PATH"] = path_without_project_python()
        proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "-s", str(REPO / "Snakefile"), "--configfile",
                               str(REPO / "config/paper.yaml"), *config, "--cores", "1", "--workflow-profile", "none",
                               "-d", str(tmp_path / "wd")],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:]
        return proc.stdout  # both streams in the order written

    out = dry_run()
    plan = out.index("Job stats")
    for name, root in (("disfa", "/path/to/DISFA"), ("bp4d", "/path/to/BP4D")):
        line = f"key {name}.root: dataset folder {root} not found"
        assert out.count(line) == 1 and out.index(line) < plan, out[:3000]
    (tmp_path / "DISFA").mkdir()
    out = dry_run("--config", f'disfa={{"root": "{tmp_path / "DISFA"}"}}')
    assert "key disfa.root" not in out and "key bp4d.root: dataset folder /path/to/BP4D not found" in out


def _copy_run(src: Path, dest: Path) -> Path:
    """A finished run's working directory, hard-linked where possible (outputs are replaced by rename, never
    written in place), with its Snakemake metadata."""
    dest.mkdir(parents=True)
    for folder in ("results", "resources"):
        if (src / folder).exists():
            linked = subprocess.run(["cp", "-al", str(src / folder), str(dest / folder)], capture_output=True)
            if linked.returncode != 0:  # another file system: a real copy
                shutil.rmtree(dest / folder, ignore_errors=True)
                shutil.copytree(src / folder, dest / folder, symlinks=True)
    shutil.copytree(src / ".snakemake", dest / ".snakemake", symlinks=True)
    return dest


def test_the_demo_and_a_real_run_in_one_folder_keep_apart(tiny_workflow, tmp_path):
    """Issue 30 item 8: the tiny demo has run; a tiny real-data config then runs in the same working directory.
    It writes under results/real, leaves every demo output as it was, and each report shows only its own runs; a
    config that names the demo's folder for real data stops before planning anything."""
    work = _copy_run(tiny_workflow, tmp_path / "study")
    demo_files = {p: p.stat().st_mtime_ns for p in (work / "results" / "demo").rglob("*") if p.is_file()}
    # "real" data: the demo's BP4D tree copied without the generator's summary, so nothing marks it as demo
    real_root = tmp_path / "BP4D"
    shutil.copytree(work / "resources" / "demo_data" / "BP4D", real_root,
                    ignore=shutil.ignore_patterns("demo_summary.json"))
    real = {"data_label": "real", "datasets": ["bp4d"], "demo": {"enabled": False},
            "bp4d": {"root": str(real_root), "partitions": {"train": ["F001", "M001", "F003"],
                                                             "devel": ["F002", "M002", "F004"]}},
            "preprocess": {"crop_size": 64},
            "model": {"backbone": "resnet18", "deconv_channels": [32, 32], "pretrained": None,
                      "allow_random_init": True},
            "train": {"epochs": 1, "lr_step_epochs": [], "num_workers": 0, "threads": 1, "gpus": 0},
            "experiments": {"seeds": [0], "sigma_sweep": [], "lambda_sweep": [], "table1_variants": [],
                            "ablation": {"variants": {}}}}
    cfg = tmp_path / "real.yaml"
    cfg.write_text(yaml.safe_dump(real))
    out = _snakemake_in(work, cfg)
    assert (work / "results" / "real" / "tables" / "table1_bp4d.csv").is_file(), out[-3000:]
    assert {p: p.stat().st_mtime_ns for p in (work / "results" / "demo").rglob("*") if p.is_file()} == demo_files
    # each report holds its own runs only
    _snakemake_in(work, cfg, "--report", "results/real/report.html")
    _snakemake_in(work, TINY_CONFIG, "--report", "results/demo/report.html")
    real_page = (work / "results" / "real" / "report.html").read_text()
    demo_page = (work / "results" / "demo" / "report.html").read_text()
    assert "results/real/tables/table1_bp4d" in real_page and "results/demo/" not in real_page
    assert "results/demo/tables/table1_bp4d" in demo_page and "results/real/" not in demo_page
    # real data into the demo's folder: one line naming the folder, nothing planned
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**real, "results": "results/demo"}))
    proc = snakemake("-n", "-s", str(REPO / "Snakefile"), "--configfile", str(bad), "--cores", "1",
                     "--workflow-profile", "none", "-d", str(work))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "the folder results/demo holds demo results and this config's data_label is real" in out
    assert "Job stats" not in out


def _snakemake_in(work: Path, configfile: Path, *args: str) -> str:
    proc = snakemake("-s", str(REPO / "Snakefile"), "--configfile", str(configfile), "--cores", "2",
                     "--workflow-profile", "none", "-d", str(work), *args)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    return out
