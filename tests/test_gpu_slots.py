"""Card placement of `g2rl train --device cuda` (issue 21, item 3), on a CPU with simulated cards.

Each holder is a real process that takes a slot through g2rl.training.gpu_slots.place with an injected
device count and environment, prints the device it got and keeps its lock until its stdin closes (or it
is killed): the same flock semantics as concurrent Snakemake training jobs.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from g2rl.training.gpu_slots import LOCK_DIR_ENV, GpuSlots, default_lock_dir, place

HOLDER = """
import json, sys
from g2rl.training.gpu_slots import GpuSlots, place
count, k, lock_dir = json.loads(sys.argv[1])
p = place("cuda", GpuSlots(k, lock_dir), device_count=lambda: count, poll_s=0.05)
print(p.device, "|", p.how, flush=True)
sys.stdin.read()
"""


class Holder:
    """One simulated training job holding (or waiting for) a card slot."""

    def __init__(self, lock_dir: Path, count: int, k: int = 1, **env: str):
        full_env = {key: v for key, v in os.environ.items() if key not in ("CUDA_VISIBLE_DEVICES", "SLURM_JOB_ID")}
        full_env.update(env, PYTHONPATH=str(REPO))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, json.dumps([count, k, str(lock_dir)])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env,
        )  # fmt: skip

    def device(self, timeout: float = 60.0) -> str | None:
        """The device this job got, or None when it has none after ``timeout`` s (it waits)."""
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return None
        line = self.proc.stdout.readline()
        assert line, self.proc.stderr.read()[-2000:]
        return line.split(" | ")[0]

    def end(self) -> None:
        self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            pipe.close()


@pytest.fixture
def holders():
    started: list[Holder] = []

    def start(*args, **kwargs) -> Holder:
        started.append(Holder(*args, **kwargs))
        return started[-1]

    yield start
    for h in started:
        h.end()


def test_concurrent_trainings_get_different_cards(tmp_path, holders):
    jobs = [holders(tmp_path, 3) for _ in range(3)]
    assert sorted(j.device() for j in jobs) == ["cuda:0", "cuda:1", "cuda:2"]


def test_k_trainings_share_a_card_spread_first(tmp_path, holders):
    """2 cards x 2 slots: the first two jobs go to different cards, the next two join them, a fifth waits."""
    first = [holders(tmp_path, 2, 2) for _ in range(2)]
    assert sorted(j.device() for j in first) == ["cuda:0", "cuda:1"]
    second = [holders(tmp_path, 2, 2) for _ in range(2)]
    assert sorted(j.device() for j in second) == ["cuda:0", "cuda:1"]
    assert holders(tmp_path, 2, 2).device(timeout=1.5) is None


def test_a_crashed_holder_frees_its_slot_for_a_waiting_job(tmp_path, holders):
    a, b = holders(tmp_path, 2), holders(tmp_path, 2)
    devices = {a.device(): a, b.device(): b}
    assert sorted(devices) == ["cuda:0", "cuda:1"]
    waiting = holders(tmp_path, 2)
    assert waiting.device(timeout=1.5) is None  # more jobs than slots: it waits...
    devices["cuda:1"].proc.kill()  # ...until a holder dies (kill -9: the kernel drops its flock)
    assert waiting.device() == "cuda:1"
    waiting.proc.stdin.close()
    waiting.proc.wait(timeout=30)
    assert "waiting for one to end" in waiting.proc.stderr.read()


def test_visible_devices_are_torch_indices_locked_by_physical_card(tmp_path, holders):
    """CUDA_VISIBLE_DEVICES=2,5: torch's cuda:0 and cuda:1, locked as cards 2 and 5, so a run that sees
    only card 5 waits for it while a run that sees card 7 does not."""
    jobs = [holders(tmp_path, 2, CUDA_VISIBLE_DEVICES="2,5") for _ in range(2)]
    assert sorted(j.device() for j in jobs) == ["cuda:0", "cuda:1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["card-2.slot-0.lock", "card-5.slot-0.lock"]
    assert holders(tmp_path, 1, CUDA_VISIBLE_DEVICES="5").device(timeout=1.5) is None
    assert holders(tmp_path, 1, CUDA_VISIBLE_DEVICES="7").device() == "cuda:0"


def test_slurm_one_card_is_used_without_a_lock(tmp_path, holders):
    locks = tmp_path / "locks"
    assert holders(locks, 1).device() == "cuda:0"  # a local job holds card 0 of the same lock folder
    env = {"SLURM_JOB_ID": "42", "CUDA_VISIBLE_DEVICES": "0"}
    p = place("cuda", GpuSlots(1, str(locks)), env=env, device_count=lambda: 1)
    assert p.device == "cuda:0" and "scheduler" in p.how
    assert sorted(x.name for x in locks.iterdir()) == ["card-0.slot-0.lock"]  # nothing of its own


def test_slurm_allocation_with_several_cards_shares_them_inside_it(tmp_path, holders):
    """Local jobs inside one allocation (salloc --gpus=2, then snakemake) spread over its cards; another
    allocation's cards (renumbered from 0 by cgroups) are other cards: its locks are separate."""
    jobs = [holders(tmp_path, 2, SLURM_JOB_ID="7", SLURM_JOB_GPUS="3,4") for _ in range(2)]
    assert sorted(j.device() for j in jobs) == ["cuda:0", "cuda:1"]
    assert holders(tmp_path, 2, SLURM_JOB_ID="8", SLURM_JOB_GPUS="5,6").device() == "cuda:0"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slurm-7", "slurm-8"]


def test_explicit_index_and_other_devices_as_given(tmp_path):
    def no_count() -> int:
        raise AssertionError("an explicit device must not look at the cards")

    for device in ("cuda:1", "cpu"):
        assert place(device, GpuSlots(1, str(tmp_path / "locks")), device_count=no_count).device == device
    assert not (tmp_path / "locks").exists()


def test_default_lock_dir_per_user_and_configurable(tmp_path):
    assert default_lock_dir({LOCK_DIR_ENV: str(tmp_path)}) == tmp_path
    assert default_lock_dir({"TMPDIR": "/scratch"}) == Path(f"/scratch/g2rl-gpu-slots-uid{os.getuid()}")
    assert default_lock_dir({}) == Path(f"/tmp/g2rl-gpu-slots-uid{os.getuid()}")
    with pytest.raises(Exception, match="jobs_per_gpu"):
        GpuSlots(0)


def test_train_cli_trains_on_the_card_it_placed(tmp_path, holders, monkeypatch):
    """`g2rl train --device cuda` on a simulated 2-card machine whose card 0 is taken trains on cuda:1."""
    import torch

    from g2rl.training import cli, loop

    locks = tmp_path / "locks"
    assert holders(locks, 2).device() == "cuda:0"
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    seen = {}
    monkeypatch.setattr(loop, "train_fold", lambda *a, device, **kw: seen.setdefault("device", device) and {})
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["--crops", "c.h5", "--heatmaps", "h.h5", "--test-split", "1", "--out",
                              str(tmp_path / "out"), "--device", "cuda", "--gpu-lock-dir", str(locks)])  # fmt: skip
    assert cli.main(args) == 0
    assert seen["device"] == "cuda:1"


def test_provenance_records_index_and_physical_card(monkeypatch):
    import torch

    from g2rl.training.device import device_info

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,5")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: f"card {i}")
    info = device_info(torch.device("cuda:1"), True)
    assert info == {"type": "cuda", "name": "card 1", "precision": "bf16", "index": 1, "card": "5"}


@pytest.mark.parametrize("jobs_per_gpu", [1, 2])
def test_workflow_passes_jobs_per_gpu(tmp_path, jobs_per_gpu):
    """train.jobs_per_gpu reaches every training (as a resource: changing it reruns nothing,
    tests/test_real_data_user.py)."""
    extra = tmp_path / "gpu.yaml"
    extra.write_text(f"train: {{gpus: 1, jobs_per_gpu: {jobs_per_gpu}}}\n")
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "-n", "-p",
         "--cores", "1", "--configfile", str(REPO / "config/config.yaml"), str(extra)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    trains = [line for line in done.stdout.splitlines() if " train --crops " in line]
    assert trains and all("--device cuda" in line for line in trains), trains[:1]
    assert all(f"--jobs-per-gpu {jobs_per_gpu} " in line for line in trains), trains[:1]
