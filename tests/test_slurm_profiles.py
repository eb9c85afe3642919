"""The Snakemake profiles and the test-cluster files, checked without a running SLURM.

* both profiles parse, every top-level entry has a comment, per-rule entries name real rules;
* a dry run of the stand-in workflow through the SLURM profile gives each rule the partition, memory, runtime,
  threads and GPU the profile promises (this also proves the installed snakemake + plugin accept every key);
* the local profile's `gpu: 1` limit really keeps two GPU jobs apart (and without it they overlap);
* the skip/fail policy of `require_slurm`;
* the cluster template keeps the settings tests/slurm/README.md lists as necessary.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

import test_slurm_workflow as harness

REPO = harness.REPO
SLURM_DIR = REPO / "tests" / "slurm"

# Rule names of the real workflow (brief of issue 7); per-rule settings must use only these.
REAL_RULES = {
    "demo_data", "frame_index", "landmarks", "crop_cache", "heatmap_cache", "train", "evaluate", "table1",
    "sensitivity_figures", "example_figures", "all",
}


def _profile(name: str) -> tuple[dict, list[str]]:
    path = REPO / "workflow" / "profiles" / name / "config.yaml"
    text = path.read_text()
    return yaml.safe_load(text), text.splitlines()


@pytest.mark.parametrize("name", ["default", "slurm"])
def test_profile_entries_are_commented_and_name_real_rules(name: str) -> None:
    data, lines = _profile(name)
    for i, line in enumerate(lines):
        m = re.match(r"^([A-Za-z][\w-]*):", line)
        if m:
            commented = i > 0 and lines[i - 1].lstrip().startswith("#")
            assert commented, f"{name}: top-level entry {m.group(1)!r} has no comment above it"
    for key in ("set-resources", "set-threads"):
        unknown = set(data.get(key) or {}) - REAL_RULES
        assert not unknown, f"{name}: {key} names rules the workflow does not have: {sorted(unknown)}"


def test_default_profile_limits_gpu_and_slurm_profile_targets_slurm() -> None:
    default, _ = _profile("default")
    slurm, _ = _profile("slurm")
    assert default["resources"] == {"gpu": 1}
    assert default["cores"] == "all"
    assert slurm["executor"] == "slurm"
    # Without an accounting DB: squeue for status, and no account given (an explicit one is rejected there).
    assert slurm["slurm-status-command"] == "squeue"
    assert "slurm_account" not in slurm["default-resources"]
    # SLURM schedules GPUs itself: a global gpu limit here would serialise the whole grid's trainings.
    assert "resources" not in slurm
    assert "gres" not in slurm["set-resources"]["train"], "train's gpu=1 already becomes --gpus=1"


def _dry_run_jobs(output: str) -> dict[str, list[dict[str, str]]]:
    """rule -> list of {resource: value} for each job printed by `snakemake -n`."""
    jobs: dict[str, list[dict[str, str]]] = {}
    for block in re.split(r"\n(?=\s*\[?(?:local)?rule \w+:)", output):
        m = re.match(r"\s*\[?(local)?rule (\w+):", block)
        if not m:
            continue
        info: dict[str, str] = {}
        r = re.search(r"^\s*resources: (.*)$", block, re.MULTILINE)
        if r:
            for item in r.group(1).split(", "):
                key, _, value = item.partition("=")
                info[key] = value
        jobs.setdefault(m.group(2), []).append(info)
    return jobs


def test_slurm_profile_dry_run_assigns_per_rule_resources(tmp_path: Path) -> None:
    snakefile, configfile, targets = harness.stand_in_case(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    cmd = [
        *harness.SNAKEMAKE, *targets, "--snakefile", str(snakefile), "--directory", str(work),
        "--configfile", str(configfile), "--profile", str(harness.SLURM_PROFILE), "--workflow-profile", "none",
        "--dry-run",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    jobs = _dry_run_jobs(out.stdout + out.stderr)

    train = jobs["train"]
    assert len(train) == 2
    for job in train:
        assert (job["slurm_partition"], job["gpu"], job["mem_mb"], job["runtime"]) == ("gpu", "1", "16000", "720"), job
    for job in jobs["landmarks"]:
        assert (job["slurm_partition"], job["mem_mb"], job["runtime"]) == ("cpu", "1000", "60")
        assert "gpu" not in job
    (crop,) = jobs["crop_cache"]
    assert (crop["slurm_partition"], crop["mem_mb"], crop["runtime"]) == ("cpu", "2000", "120")
    # (A dry run caps threads at its own core count; the SLURM test checks train's 8 CPUs in scontrol instead.)
    # (A dry run prints local rules like the others; the SLURM test checks which rules stayed local.)
    assert jobs["evaluate"][0]["slurm_partition"] == "cpu"


def _train_intervals(workdir: Path) -> list[tuple[float, float]]:
    spans = []
    for log in sorted((workdir / "logs" / "train").glob("*.log")):
        text = log.read_text()
        start = float(re.search(r"^start (\S+)", text, re.MULTILINE).group(1))
        end = float(re.search(r"^end (\S+)", text, re.MULTILINE).group(1))
        spans.append((start, end))
    return spans


def _overlap(spans: list[tuple[float, float]]) -> bool:
    spans = sorted(spans)
    return any(b[0] < a[1] for a, b in zip(spans, spans[1:]))


def test_default_profile_runs_one_gpu_job_at_a_time(tmp_path: Path) -> None:
    snakefile, configfile, targets = harness.stand_in_case(tmp_path)
    # Two trainings that each hold the "GPU" for 1.5 s, 1 thread each, 2 cores: only the gpu limit separates them.
    args = ["--config", "train_sleep_s=1.5", "--set-threads", "train=1"]
    limited, unlimited = tmp_path / "limited", tmp_path / "unlimited"
    limited.mkdir()
    unlimited.mkdir()
    harness.run_workflow_locally(limited, snakefile, configfile, targets, extra_args=args)
    harness.run_workflow_locally(unlimited, snakefile, configfile, targets, extra_args=[*args, "--resources", "gpu=2"])
    spans = _train_intervals(limited)
    assert len(spans) == 2 and not _overlap(spans), f"GPU jobs overlapped under the profile's gpu=1: {spans}"
    spans = _train_intervals(unlimited)
    assert len(spans) == 2 and _overlap(spans), f"with gpu=2 the two jobs should run together: {spans}"


def test_require_slurm_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no sinfo here
    monkeypatch.delenv("G2RL_REQUIRE_SLURM", raising=False)
    with pytest.raises(pytest.skip.Exception, match="sinfo not on PATH"):
        harness.require_slurm()
    monkeypatch.setenv("G2RL_REQUIRE_SLURM", "1")
    with pytest.raises(pytest.fail.Exception, match="G2RL_REQUIRE_SLURM=1"):
        harness.require_slurm()


def test_cluster_template_keeps_the_settings_that_were_needed() -> None:
    conf = {}
    for line in (SLURM_DIR / "slurm.conf.in").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line and not line.startswith(("NodeName", "PartitionName")):
            key, _, value = line.partition("=")
            conf[key.strip()] = value.strip()
    assert conf["AccountingStorageType"] == "accounting_storage/none"
    assert conf["ProctrackType"] == "proctrack/linuxproc"
    assert conf["TaskPlugin"] == "task/none"
    assert conf["SelectType"] == "select/cons_tres"
    assert int(conf["MinJobAge"]) >= 3600  # squeue must still see finished jobs
    assert conf["GresTypes"] == "gpu"
    text = (SLURM_DIR / "slurm.conf.in").read_text()
    assert re.search(r"^NodeName=@HOST@ .*Gres=gpu:1", text, re.MULTILINE)
    # Partitions named like the profile's placeholders.
    slurm, _ = _profile("slurm")
    for part in (slurm["default-resources"]["slurm_partition"], slurm["set-resources"]["train"]["slurm_partition"]):
        assert re.search(rf"^PartitionName={part} ", text, re.MULTILINE), part
    assert re.search(r"^Name=gpu File=/dev/null$", (SLURM_DIR / "gres.conf").read_text(), re.MULTILINE)
    for script in ("up.sh", "down.sh"):
        check = subprocess.run(["bash", "-n", str(SLURM_DIR / script)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
