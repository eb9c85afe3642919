"""Run a workflow through the SLURM profile on a real (one-node) SLURM cluster and compare it with a local run.

The cluster comes from ``bash tests/slurm/up.sh`` (``tests/slurm/README.md``). Without a running SLURM these
tests are skipped, unless ``G2RL_REQUIRE_SLURM=1`` (set by ``.ci/run``): then they fail, so CI cannot pass
silently without the cluster.

Evidence that a job really went through ``sbatch`` (no accounting database, so no ``sacct``):
  * the plugin's per-job SLURM log ``.snakemake/slurm_logs/rule_<rule>/<wildcards>/<jobid>.log`` (kept with
    ``--slurm-keep-successful-logs``), one per remote job that Snakemake's own log announces;
  * ``scontrol show job <jobid>`` (slurmctld keeps finished jobs for ``MinJobAge`` = 1 day): COMPLETED, exit code
    0:0, the partition the profile asked for, and ``gres:gpu`` for GPU rules;
  * for the stand-in workflow, each rule's log records ``$SLURM_JOB_ID`` from inside the job, which must be one
    of that rule's SLURM job ids.

To run the real workflow through it, add one ``WorkflowCase`` to ``CASES`` (see ``stand_in_case`` for the shape).
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import pytest

REPO = Path(__file__).resolve().parents[1]
SLURM_PROFILE = REPO / "workflow" / "profiles" / "slurm"
DEFAULT_PROFILE = REPO / "workflow" / "profiles" / "default"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]

# Snakemake announces each job as "rule <name>:" (submitted to the executor) or "localrule <name>:" (run here).
_JOB_HEADER = re.compile(r"^\s*\[?(local)?rule (\w+):\s*$", re.MULTILINE)


# --------------------------------------------------------------------------------------------------------------
# Is SLURM there? (skip vs. fail policy)
# --------------------------------------------------------------------------------------------------------------
def slurm_state() -> tuple[bool, str]:
    """Return ``(usable, why)``: usable when ``sinfo``/``sbatch`` exist and a node is idle, mixed or allocated."""
    for exe in ("sinfo", "sbatch", "squeue", "scontrol"):
        if shutil.which(exe) is None:
            return False, f"{exe} not on PATH (bring the test cluster up with: bash tests/slurm/up.sh)"
    try:
        out = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return False, "sinfo timed out (slurmctld not answering)"
    if out.returncode != 0:
        return False, f"sinfo failed: {out.stderr.strip()} (bring the cluster up with: bash tests/slurm/up.sh)"
    states = {s.strip().rstrip("*~#") for s in out.stdout.split()}
    if not states & {"idle", "mixed", "allocated"}:
        return False, f"no usable SLURM node (sinfo node states: {sorted(states) or 'none'})"
    return True, "SLURM node " + ",".join(sorted(states))


def require_slurm() -> None:
    """Skip the calling test if SLURM is not usable -- or fail it if ``G2RL_REQUIRE_SLURM=1`` (CI)."""
    usable, why = slurm_state()
    if usable:
        return
    if os.environ.get("G2RL_REQUIRE_SLURM") == "1":
        pytest.fail(f"G2RL_REQUIRE_SLURM=1 but SLURM is not usable: {why}", pytrace=False)
    pytest.skip(why)


# --------------------------------------------------------------------------------------------------------------
# Running a workflow
# --------------------------------------------------------------------------------------------------------------
@dataclass
class SlurmJob:
    """One SLURM job of a run: its rule, id, SLURM log file and ``scontrol show job`` fields."""

    rule: str
    jobid: str
    logfile: Path
    info: dict[str, str] = field(default_factory=dict)


@dataclass
class WorkflowRun:
    """Outcome of one Snakemake run: the command, its combined output, and per-rule job counts."""

    workdir: Path
    cmd: list[str]
    output: str
    remote_jobs: dict[str, int]  # rule -> number of jobs Snakemake handed to the executor
    local_jobs: dict[str, int]  # rule -> number of jobs run as local rules
    slurm_jobs: list[SlurmJob] = field(default_factory=list)

    def all_jobs(self) -> dict[str, int]:
        """rule -> number of jobs, remote and local together."""
        total = dict(self.local_jobs)
        for rule, n in self.remote_jobs.items():
            total[rule] = total.get(rule, 0) + n
        return total


def _count_jobs(output: str) -> tuple[dict[str, int], dict[str, int]]:
    remote: dict[str, int] = {}
    local: dict[str, int] = {}
    for is_local, rule in _JOB_HEADER.findall(output):
        target = local if is_local else remote
        target[rule] = target.get(rule, 0) + 1
    return remote, local


def _snakemake(cmd: list[str], workdir: Path, timeout_s: int) -> str:
    env = dict(os.environ)
    # The job step runs `python -m snakemake` from this environment: make sure it is first on PATH.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout_s, env=env)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise AssertionError(f"snakemake exited {proc.returncode}: {' '.join(cmd)}\n--- output ---\n{output[-6000:]}")
    return output


def _scontrol_job(jobid: str) -> dict[str, str]:
    out = subprocess.run(["scontrol", "-o", "show", "job", jobid], capture_output=True, text=True, timeout=20)
    if out.returncode != 0:
        raise AssertionError(f"scontrol show job {jobid} failed: {out.stderr.strip()}")
    info: dict[str, str] = {}
    for token in out.stdout.split():
        key, sep, value = token.partition("=")
        if sep:
            info[key] = value
    return info


def _slurm_logs(workdir: Path) -> list[SlurmJob]:
    root = workdir / ".snakemake" / "slurm_logs"
    jobs = []
    for log in sorted(root.glob("rule_*/**/*.log")):
        rule = log.relative_to(root).parts[0][len("rule_"):]
        jobs.append(SlurmJob(rule=rule, jobid=log.stem, logfile=log))
    return jobs


def _command(workdir: Path, snakefile: Path, configfile: Path | None, targets: Sequence[str],
             extra_args: Sequence[str], profile_args: Sequence[str]) -> list[str]:
    """The snakemake command line shared by the SLURM and the local run; only `profile_args` differ."""
    # Targets first: options such as --configfile take several values and would swallow them.
    cmd = [*SNAKEMAKE, *targets, "--snakefile", str(snakefile), "--directory", str(workdir), *profile_args]
    if configfile is not None:
        cmd += ["--configfile", str(configfile)]
    return cmd + list(extra_args)


def run_workflow_via_slurm(
    workdir: Path,
    snakefile: Path,
    configfile: Path | None,
    targets: Sequence[str],
    *,
    extra_args: Sequence[str] = (),
    timeout_s: int = 900,
) -> WorkflowRun:
    """Run ``targets`` of ``snakefile`` in ``workdir`` with ``--profile workflow/profiles/slurm`` and check that
    every job Snakemake handed to the executor went through ``sbatch`` and completed in SLURM.

    Raises AssertionError (with the evidence) if Snakemake fails, if a remote job has no SLURM log, or if
    ``scontrol`` does not report it COMPLETED with exit code 0:0. Returns the run with its ``slurm_jobs``.
    Call ``require_slurm()`` first.
    """
    cmd = _command(workdir, snakefile, configfile, targets, extra_args, [
        "--profile", str(SLURM_PROFILE),
        # Never also load workflow/profiles/default: its keys would override the SLURM profile's.
        "--workflow-profile", "none",
        # Keep the SLURM job logs of successful jobs: they are the evidence checked below.
        "--slurm-keep-successful-logs",
        # Poll early: the test jobs take seconds, not hours (the profile's 20 s is for real clusters).
        "--slurm-init-seconds-before-status-checks", "2",
        "--latency-wait", "5",
    ])
    output = _snakemake(cmd, workdir, timeout_s)
    remote, local = _count_jobs(output)
    run = WorkflowRun(workdir, cmd, output, remote, local, _slurm_logs(workdir))

    logged: dict[str, int] = {}
    for job in run.slurm_jobs:
        logged[job.rule] = logged.get(job.rule, 0) + 1
    assert remote, f"Snakemake submitted no job to SLURM:\n{output[-3000:]}"
    assert logged == remote, (
        f"SLURM job logs per rule {logged} differ from the jobs Snakemake submitted {remote}"
        f" (logs under {workdir / '.snakemake' / 'slurm_logs'})"
    )
    for job in run.slurm_jobs:
        job.info = _scontrol_job(job.jobid)
        assert job.info.get("JobState") == "COMPLETED", f"{job.rule} job {job.jobid}: {job.info}"
        assert job.info.get("ExitCode") == "0:0", f"{job.rule} job {job.jobid}: {job.info}"
        assert job.info.get("WorkDir") == str(workdir), f"{job.rule} job {job.jobid} ran in {job.info.get('WorkDir')}"
    return run


def run_workflow_locally(
    workdir: Path,
    snakefile: Path,
    configfile: Path | None,
    targets: Sequence[str],
    *,
    extra_args: Sequence[str] = (),
    timeout_s: int = 900,
) -> WorkflowRun:
    """Run ``targets`` locally with ``workflow/profiles/default`` (the reference for the SLURM run)."""
    cmd = _command(workdir, snakefile, configfile, targets, extra_args,
                   ["--workflow-profile", str(DEFAULT_PROFILE), "--cores", "2"])
    output = _snakemake(cmd, workdir, timeout_s)
    remote, local = _count_jobs(output)
    return WorkflowRun(workdir, cmd, output, remote, local)


def result_files(workdir: Path, ignore: Sequence[str]) -> dict[str, Path]:
    """Files under ``workdir`` (relative POSIX path -> path), without Snakemake's bookkeeping and ``ignore`` globs."""
    files = {}
    for path in sorted(workdir.rglob("*")):
        rel = path.relative_to(workdir).as_posix()
        if not path.is_file() or rel.startswith(".snakemake/"):
            continue
        if any(fnmatch.fnmatch(rel, pattern) for pattern in ignore):
            continue
        files[rel] = path
    return files


def assert_same_outputs(local_dir: Path, slurm_dir: Path, ignore: Sequence[str] = ()) -> int:
    """Assert both runs produced the same set of files with identical bytes; returns how many were compared.
    ``ignore``: globs (relative to the workdir) for files that legitimately differ, such as logs and timings."""
    a, b = result_files(local_dir, ignore), result_files(slurm_dir, ignore)
    assert a.keys() == b.keys(), (
        f"different files: only local {sorted(a.keys() - b.keys())}, only SLURM {sorted(b.keys() - a.keys())}"
    )
    differing = [rel for rel in a if a[rel].read_bytes() != b[rel].read_bytes()]
    assert not differing, f"outputs differ between the local and the SLURM run: {differing}"
    return len(a)


# --------------------------------------------------------------------------------------------------------------
# The stand-in workflow: the real rule names, a DAG of the same shape, tiny deterministic shell jobs
# --------------------------------------------------------------------------------------------------------------
# Inside a job, record where it ran; `${SLURM_JOB_ID:-none}` is "none" for local runs.
_WHERE = (
    'echo "SLURM_JOB_ID=${{SLURM_JOB_ID:-none}} SLURM_JOB_PARTITION=${{SLURM_JOB_PARTITION:-none}}'
    ' SLURM_JOB_GPUS=${{SLURM_JOB_GPUS:-none}} threads={threads}" > {log}'
)

STAND_IN_SNAKEFILE = textwrap.dedent(
    """
    # Stand-in for the g2rl workflow (tests/test_slurm_workflow.py): same rule names and DAG shape,
    # tiny deterministic jobs. `train` declares resources: gpu=1 like the real rule.
    VIDEOS = list(config["videos"])
    SIGMAS = list(config["sigmas"])
    FOLDS = list(config["folds"])
    WHERE = '@WHERE@'

    # The local rules recommended for the real workflow (docs/CLUSTER.md).
    localrules: all, frame_index, table1

    rule all:
        input: "results/table1.csv"

    rule demo_data:
        output: expand("data/{v}.txt", v=VIDEOS)
        log: "logs/demo_data.log"
        params: values=lambda wc: " ".join(f"{v}:{config['videos'][v]}" for v in VIDEOS)
        shell:
            WHERE + "; for pair in {params.values}; do v=${{pair%%:*}}; n=${{pair#*:}}; seq 1 $n > data/$v.txt; done"

    rule frame_index:
        input: "data/{v}.txt"
        output: "index/{v}.txt"
        log: "logs/frame_index/{v}.log"
        shell: WHERE + "; wc -l < {input} > {output}"

    rule landmarks:
        input: video="data/{v}.txt", index="index/{v}.txt"
        output: "landmarks/{v}.txt"
        log: "logs/landmarks/{v}.log"
        threads: 1
        shell: WHERE + "; awk '{{print $1 * $1}}' {input.video} > {output}"

    rule crop_cache:
        input: expand("landmarks/{v}.txt", v=VIDEOS)
        output: "cache/crops.txt"
        log: "logs/crop_cache.log"
        shell: WHERE + "; cat {input} | sort -n > {output}"

    rule heatmap_cache:
        input: expand("landmarks/{v}.txt", v=VIDEOS)
        output: "cache/heatmaps_s{sigma}.txt"
        log: "logs/heatmap_cache/s{sigma}.log"
        shell: WHERE + "; cat {input} | awk '{{print $1 * {wildcards.sigma}}}' > {output}"

    rule train:
        input: crops="cache/crops.txt", heatmaps="cache/heatmaps_s{sigma}.txt"
        output: "models/s{sigma}/f{fold}.txt"
        log: "logs/train/s{sigma}_f{fold}.log"
        resources: gpu=1
        params: sleep=config.get("train_sleep_s", 0)
        shell:
            WHERE + "; echo start $(date +%s.%N) >> {log}; sleep {params.sleep};"
            " paste {input.crops} {input.heatmaps} | awk '{{s += $1 + $2}} END {{print s + {wildcards.fold}}}' > {output};"
            " echo end $(date +%s.%N) >> {log}"

    rule evaluate:
        input: expand("models/s{{sigma}}/f{fold}.txt", fold=FOLDS)
        output: "results/eval_s{sigma}.txt"
        log: "logs/evaluate/s{sigma}.log"
        shell: WHERE + "; cat {input} | awk '{{s += $1}} END {{print {wildcards.sigma}, s}}' > {output}"

    rule table1:
        input: expand("results/eval_s{sigma}.txt", sigma=SIGMAS)
        output: "results/table1.csv"
        log: "logs/table1.log"
        shell: WHERE + "; (echo sigma,score; cat {input} | tr ' ' ',') > {output}"
    """
).replace("@WHERE@", _WHERE.replace("'", "\\'"))

STAND_IN_CONFIG = "videos: {v1: 3, v2: 4}\nsigmas: [1, 2]\nfolds: [1]\n"


@dataclass
class WorkflowCase:
    """A workflow to run through SLURM and locally. ``make(tmp_path)`` writes what it needs and returns
    ``(snakefile, configfile, targets)``; ``gpu_rules`` must run on the gpu partition with a GPU; ``ignore`` are
    globs of files allowed to differ between the runs (logs, timings)."""

    name: str
    make: Callable[[Path], tuple[Path, Path | None, list[str]]]
    gpu_rules: frozenset[str]
    ignore: tuple[str, ...] = ("logs/*", "logs/**")
    extra_args: tuple[str, ...] = ()


def stand_in_case(tmp_path: Path) -> tuple[Path, Path | None, list[str]]:
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text(STAND_IN_SNAKEFILE)
    configfile = tmp_path / "config.yaml"
    configfile.write_text(STAND_IN_CONFIG)
    return snakefile, configfile, ["all"]


CASES = [
    WorkflowCase("stand-in", stand_in_case, gpu_rules=frozenset({"train"})),
    # The real workflow on its tiny config: tests/test_workflow_slurm.py (it reuses the session's local run).
]


def _rule_log_job_ids(run: WorkflowRun) -> dict[str, set[str]]:
    """rule -> SLURM job ids recorded by the stand-in's own logs (its `WHERE` line) from inside the jobs."""
    ids: dict[str, set[str]] = {}
    for log in (run.workdir / "logs").rglob("*.log"):
        rel = log.relative_to(run.workdir / "logs").parts
        rule = rel[0] if len(rel) > 1 else Path(rel[0]).stem
        m = re.search(r"SLURM_JOB_ID=(\S+)", log.read_text())
        assert m, f"{log} has no SLURM_JOB_ID line"
        ids.setdefault(rule, set()).add(m.group(1))
    return ids


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_workflow_via_slurm_matches_local(case: WorkflowCase, tmp_path: Path) -> None:
    require_slurm()
    slurm_dir, local_dir = tmp_path / "slurm", tmp_path / "local"
    slurm_dir.mkdir()
    local_dir.mkdir()
    snakefile, configfile, targets = case.make(tmp_path)

    run = run_workflow_via_slurm(slurm_dir, snakefile, configfile, targets, extra_args=case.extra_args)
    local = run_workflow_locally(local_dir, snakefile, configfile, targets, extra_args=case.extra_args)

    # Same jobs in both runs (a local run reports every job as a local rule).
    assert run.all_jobs() == local.all_jobs(), f"SLURM run {run.all_jobs()} vs local run {local.all_jobs()}"

    # GPU rules: on the profile's gpu partition with a GPU; the other submitted rules on the cpu partition.
    for job in run.slurm_jobs:
        tres = job.info.get("TresPerJob", "") + job.info.get("TresPerNode", "")
        if job.rule in case.gpu_rules:
            assert job.info.get("Partition") == "gpu", f"{job.rule} {job.jobid}: {job.info}"
            assert "gpu" in tres, f"{job.rule} {job.jobid} asked for no GPU: {job.info}"
        else:
            assert job.info.get("Partition") == "cpu", f"{job.rule} {job.jobid}: {job.info}"
            assert "gpu" not in tres, f"{job.rule} {job.jobid} asked for a GPU: {job.info}"
    assert case.gpu_rules <= set(run.remote_jobs), f"no {sorted(case.gpu_rules)} job went to SLURM"

    n_compared = assert_same_outputs(local_dir, slurm_dir, ignore=case.ignore)
    assert n_compared > 0

    if case.name == "stand-in":
        # From inside the jobs: each submitted rule's shell ran in one of its own SLURM jobs; local rules did not.
        slurm_ids: dict[str, set[str]] = {}
        for job in run.slurm_jobs:
            slurm_ids.setdefault(job.rule, set()).add(job.jobid)
        seen = _rule_log_job_ids(run)
        for rule, ids in seen.items():
            if rule in run.remote_jobs:
                assert ids <= slurm_ids[rule], f"{rule} logged job ids {ids}, SLURM logs {slurm_ids[rule]}"
            else:
                assert ids == {"none"}, f"local rule {rule} ran inside SLURM job(s) {ids}"
        assert set(run.remote_jobs) == {"demo_data", "landmarks", "crop_cache", "heatmap_cache", "train", "evaluate"}
        assert set(run.local_jobs) == {"all", "frame_index", "table1"}
        # The profile's set-threads reached SLURM as CPUs per task (train: 8).
        train = [j for j in run.slurm_jobs if j.rule == "train"]
        assert all(j.info.get("NumCPUs") == "8" for j in train), [j.info.get("NumCPUs") for j in train]
        assert (slurm_dir / "results" / "table1.csv").read_text() == "sigma,score\n1,89\n2,133\n"
