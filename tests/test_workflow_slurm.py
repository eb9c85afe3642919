"""The real workflow (tiny config) through the SLURM profile on the one-node test cluster (tests/slurm/up.sh):
every non-local job goes through sbatch, trainings land on the GPU partition with a GPU, and the results equal
those of the session's local run (`tiny_workflow`). To keep CI short it builds BP4D's Table 1, which needs
every kind of job (demo data, landmarks, both caches, Baseline and G2RL trainings, evaluation, the table)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import REPO, TINY_CONFIG
from test_slurm_workflow import require_slurm, result_files, run_workflow_via_slurm

TARGET = "results/demo/tables/table1_bp4d.csv"
# Files that legitimately differ between two runs: logs, HDF5 caches (each build gets a fresh fingerprint),
# checkpoints and train logs (timings; the checkpoints are compared through their predictions), provenance
# records (times, devices, cache fingerprints; metrics.json is compared without its "provenance" key).
IGNORE = ("results/demo/logs/**", "results/demo/benchmarks/**", "results/**/*.h5", "results/**/model.pt",
          "results/**/train_log.csv", "results/**/*.provenance.json")


def comparable(path: Path):
    """A file's bytes, or for metrics.json its content without the run-specific provenance record."""
    if path.name == "metrics.json":
        return {k: v for k, v in json.loads(path.read_text()).items() if k != "provenance"}
    return path.read_bytes()


def test_real_workflow_via_slurm_matches_local(tiny_workflow: Path, tmp_path: Path) -> None:
    require_slurm()
    workdir = tmp_path / "slurm"
    workdir.mkdir()
    # one thread per training, as in the local run, so the floating-point results are the same. The tiny config
    # trains on the CPU (train.gpus: 0; gpus > 0 would add --device cuda, which fails without CUDA), so the GPU
    # request is set here: the test cluster's GPU is a stand-in (gres File=/dev/null).
    run = run_workflow_via_slurm(workdir, REPO / "Snakefile", TINY_CONFIG, [TARGET],
                                 extra_args=("--set-threads", "train=1",
                                             "--set-resources", "train:gpu=1", "train:slurm_partition=gpu"),
                                 timeout_s=1500)
    # Table 1's rows (Baseline, G2RL and the tiny config's extra row, G2RL + stop-grad/teach) x its 2 seeds
    assert run.remote_jobs == {"demo_data": 1, "landmarks": 12, "crop_cache": 1, "heatmap_cache": 1, "train": 6}
    # frame_index (a checkpoint) and the aggregation rules stay on the submit host
    assert run.local_jobs == {"evaluate": 6, "evidence": 1, "table1": 1} and "frame_index" not in run.remote_jobs
    assert (workdir / "results" / "demo" / "bp4d" / "frame_index.csv").is_file()
    for job in run.slurm_jobs:
        tres = job.info.get("TresPerJob", "") + job.info.get("TresPerNode", "")
        want = ("gpu", True) if job.rule == "train" else ("cpu", False)
        assert (job.info.get("Partition"), "gpu" in tres) == want, f"{job.rule} {job.jobid}: {job.info}"

    slurm_files = result_files(workdir, IGNORE)
    local_files = result_files(tiny_workflow, IGNORE)
    assert TARGET in slurm_files and len(slurm_files) > 50
    missing = sorted(set(slurm_files) - set(local_files))
    assert not missing, f"the SLURM run wrote files the local run did not: {missing[:10]}"
    differing = [rel for rel, path in slurm_files.items() if comparable(path) != comparable(local_files[rel])]
    assert not differing, f"outputs differ between the SLURM and the local run: {differing[:10]}"
