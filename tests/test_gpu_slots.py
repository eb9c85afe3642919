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
from g2rl.errors import ConfigError
from g2rl.training.gpu_slots import LOCK_DIR_ENV, GpuSlots, default_lock_dir, place

HOLDER = """
import json, os, sys
import g2rl.training.gpu_slots as gpu_slots
from g2rl.training.gpu_slots import GpuSlots, place
gpu_slots.KEEP_S = float(os.environ.get("TEST_KEEP_S", getattr(gpu_slots, "KEEP_S", 5.0)))
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
    gpu_slots = _fresh_slots(monkeypatch)  # the lock this test process takes is released at its end
    try:
        assert cli.main(args) == 0
    finally:
        _release(gpu_slots)
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


# -- issue 29, item 7: a lock file deleted while held -----------------------------------------------

def _wait_for(predicate, timeout: float = 30.0) -> bool:
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_lock_file_deleted_while_held_is_locked_again_by_its_holder(tmp_path, holders):
    """A /tmp cleaner removes card 0's lock file while its training runs: the holder notices (every KEEP_S),
    re-creates and re-locks it, so the next training is placed on card 1, not on the held card 0."""
    a = holders(tmp_path, 2, TEST_KEEP_S="0.1")
    assert a.device() == "cuda:0"
    lock = tmp_path / "card-0.slot-0.lock"
    inode = lock.stat().st_ino
    lock.unlink()  # the cleaner
    assert _wait_for(lambda: lock.exists() and lock.stat().st_ino != inode), "the holder did not re-create its lock"
    b = holders(tmp_path, 2)
    assert b.device() == "cuda:1"
    assert holders(tmp_path, 2).device(timeout=1.5) is None  # both cards held: a third waits
    a.proc.kill()
    a.proc.wait()
    assert "card-0.slot-0.lock was removed or replaced while this training held it" in a.proc.stderr.read()


def test_a_lock_file_taken_by_another_training_in_between_is_reported(tmp_path, holders, monkeypatch, caplog):
    """If another training took the re-created file before the holder's next look, the holder says that the
    card may now be shared (it cannot undo it)."""
    import logging

    from g2rl.training import gpu_slots

    monkeypatch.setattr(gpu_slots, "_held", [])
    monkeypatch.setattr(gpu_slots, "_keeper", ["no thread in the test process"])
    p = place("cuda", GpuSlots(1, str(tmp_path)), env={}, device_count=lambda: 1)
    assert p.device == "cuda:0"
    held = gpu_slots._held[0]
    try:
        (tmp_path / "card-0.slot-0.lock").unlink()
        other = holders(tmp_path, 1)  # the next training, before the holder's watch came round
        assert other.device() == "cuda:0"
        with caplog.at_level(logging.WARNING):
            notes = gpu_slots.keep_locks()
        assert len(notes) == 1 and "could not be locked again (busy): another training may be using the same card " \
                                   "slot now" in notes[0]
    finally:
        os.close(held.fd)


def test_the_lock_is_checked_right_after_it_is_taken(tmp_path, monkeypatch):
    """The file removed between the open and the flock: the lock on the orphan guards nothing, so the new
    file at the path is locked instead."""
    from g2rl.training import gpu_slots

    monkeypatch.setattr(gpu_slots, "_held", [])
    monkeypatch.setattr(gpu_slots, "_keeper", ["no thread in the test process"])
    real_open, opened = gpu_slots._open_lock_file, []

    def open_then_vanish(path):
        fd = real_open(path)
        if not opened:
            os.unlink(path)  # a cleaner between the two calls
        opened.append(fd)
        return fd

    monkeypatch.setattr(gpu_slots, "_open_lock_file", open_then_vanish)
    path = tmp_path / "card-0.slot-0.lock"
    try:
        assert gpu_slots._try_lock(path) == "taken"
        assert len(opened) == 2 and gpu_slots._same_file(gpu_slots._held[0].fd, path)
    finally:
        for h in gpu_slots._held:
            os.close(h.fd)


# -- issue 29, item 17: an unusable lock file in a shared folder -------------------------------------

def _fresh_slots(monkeypatch):
    from g2rl.training import gpu_slots

    monkeypatch.setattr(gpu_slots, "_held", [])
    monkeypatch.setattr(gpu_slots, "_warned", set())
    monkeypatch.setattr(gpu_slots, "_keeper", ["no thread in the test process"])
    return gpu_slots


def _release(gpu_slots):
    for h in gpu_slots._held:
        os.close(h.fd)


@pytest.mark.parametrize("what", ["eacces", "folder", "fifo", "symlink"])
def test_an_unusable_lock_file_is_skipped_with_a_warning(tmp_path, monkeypatch, caplog, what):
    import errno
    import logging

    gpu_slots = _fresh_slots(monkeypatch)
    bad = tmp_path / "card-0.slot-0.lock"
    if what == "eacces":  # another user's 0600 file (root reads any file: EACCES is raised where it is opened)
        bad.write_text("")
        real_open = os.open

        def open_as_another_user(path, flags, *args):
            if Path(path) == bad:
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
            return real_open(path, flags, *args)

        monkeypatch.setattr(gpu_slots.os, "open", open_as_another_user)
    elif what == "folder":
        bad.mkdir()
    elif what == "fifo":
        os.mkfifo(bad)
    else:
        bad.symlink_to(tmp_path / "elsewhere")
    try:
        with caplog.at_level(logging.WARNING):
            p = place("cuda", GpuSlots(1, str(tmp_path)), env={}, device_count=lambda: 2, poll_s=0.01)
        assert p.device == "cuda:1"  # the next card, not an exception
        warnings = [r.getMessage() for r in caplog.records if "skipping the slot of lock file" in r.getMessage()]
        assert len(warnings) == 1 and str(bad) in warnings[0], caplog.text
        reason = {"eacces": "Permission denied", "folder": "not a regular file: a folder", "fifo": "a FIFO",
                  "symlink": "a symbolic link"}[what]
        assert reason in warnings[0], warnings[0]
    finally:
        _release(gpu_slots)


def test_no_usable_slot_at_all_is_one_line(tmp_path, monkeypatch, capsys):
    gpu_slots = _fresh_slots(monkeypatch)
    for card in (0, 1):
        (tmp_path / f"card-{card}.slot-0.lock").mkdir()
    with pytest.raises(ConfigError, match=rf"^{tmp_path}: no GPU slot lock file can be used \(2 slot\(s\); "
                                          r"card-0.slot-0.lock: not a regular file: a folder"):
        place("cuda", GpuSlots(1, str(tmp_path)), env={}, device_count=lambda: 2, poll_s=0.01)
    _release(gpu_slots)


def test_lock_files_are_group_writable_and_a_named_folder_is_the_groups(tmp_path, monkeypatch):
    import stat

    gpu_slots = _fresh_slots(monkeypatch)
    old = os.umask(0o022)
    try:
        shared = tmp_path / "shared"
        place("cuda", GpuSlots(1, str(shared)), env={}, device_count=lambda: 1)
        assert stat.S_IMODE((shared / "card-0.slot-0.lock").stat().st_mode) == 0o660
        assert stat.S_IMODE(shared.stat().st_mode) == 0o2770
        private = tmp_path / "tmp"
        place("cuda", GpuSlots(1), env={"TMPDIR": str(private)}, device_count=lambda: 2)
        assert stat.S_IMODE(default_lock_dir({"TMPDIR": str(private)}).stat().st_mode) == 0o700
    finally:
        os.umask(old)
        _release(gpu_slots)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become a second user (the simulated EACCES test runs)")
def test_another_users_private_lock_file_is_skipped_by_a_real_second_user(tmp_path):
    """Real permission bits: a root-owned 0600 lock file, and a placement run as user nobody (the child
    imports as root, then drops to uid/gid 65534 before it places)."""
    import subprocess
    import sys
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="g2rl-shared-locks-", dir="/tmp"))
    try:
        os.chmod(folder, 0o1777)
        private = folder / "card-0.slot-0.lock"
        private.write_text("")
        os.chmod(private, 0o600)  # root's, unreadable by nobody
        code = (
            "import json, logging, os, sys\n"
            "logging.basicConfig(level=logging.WARNING)\n"
            "from g2rl.training.gpu_slots import GpuSlots, place\n"
            "os.setgroups([]); os.setgid(65534); os.setuid(65534)\n"
            f"p = place('cuda', GpuSlots(1, {str(folder)!r}), env={{}}, device_count=lambda: 2)\n"
            "print(p.device)\n"
        )
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, PYTHONPATH=str(REPO)))
        assert r.returncode == 0, r.stderr[-2000:]
        assert r.stdout.strip() == "cuda:1"
        assert f"skipping the slot of lock file {private}: Permission denied" in r.stderr
        assert (folder / "card-1.slot-0.lock").stat().st_uid == 65534
    finally:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
