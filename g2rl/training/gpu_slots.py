"""Which card a training uses when it asks for ``cuda`` without an index.

Snakemake's ``resources: gpu=1`` only counts jobs: with ``--resources gpu=N`` it starts N trainings at
once, and every one of them would open ``cuda`` = ``cuda:0``. :func:`place` gives each its own card
instead, through slots: every visible card has ``jobs_per_gpu`` slots, each an ``fcntl.flock`` on one
file in a lock folder shared by the jobs of one machine. A job takes the first free slot, slot level
by level (slot 0 of every card before slot 1 of any), so N jobs on N cards spread one per card and K
per card only when the user allows K. The lock lives as long as the training process: the kernel
drops it on any exit, a crash or ``kill -9`` included, so there is nothing to clean up.

* Lock folder: ``$G2RL_GPU_LOCK_DIR``, else ``${TMPDIR:-/tmp}/g2rl-gpu-slots-uid<uid>``. Local, since
  cards belong to one machine (flock over NFS is unreliable, and two machines' card 0 are two cards);
  per user, since another user's files may not be writable (share one folder through the variable).
* Slots are named after the card as ``CUDA_VISIBLE_DEVICES`` names it (``2``, ``GPU-<uuid>``), but
  the device returned is torch's index (``CUDA_VISIBLE_DEVICES=2,5``: cuda:0 and cuda:1), so two runs
  that see different subsets of the cards still meet on the same physical card.
* All slots busy (more trainings than ``cards x jobs_per_gpu``, e.g. ``--resources gpu=4`` on 2
  cards, or two Snakemake runs at once): the job waits for a slot, with one log line and another every
  :data:`REMIND_S`; a training is never placed on a card beyond the share the user chose.
* SLURM (``SLURM_JOB_ID`` set and the scheduler named GPUs through ``CUDA_VISIBLE_DEVICES``,
  ``SLURM_STEP_GPUS`` or ``SLURM_JOB_GPUS``): the scheduler's assignment is in charge. With one card
  visible (an sbatch job of the SLURM profile) there is nothing to choose and nothing is locked. With
  several (local jobs inside one allocation, e.g. ``salloc --gpus=4`` then ``snakemake``), slots are
  taken among those cards only, in a lock folder of that allocation (cgroups renumber the cards of each
  job from 0, so two allocations on one node must not share lock names).
* An explicit index (``cuda:1``) and non-CUDA devices are used as given, without a lock.

Free memory is not consulted: ``torch.cuda.mem_get_info`` opens a CUDA context (hundreds of MB) on
every card it asks, and NVML numbers the cards differently from CUDA unless CUDA_DEVICE_ORDER is set.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping

from g2rl.errors import ConfigError

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

LOCK_DIR_ENV = "G2RL_GPU_LOCK_DIR"
SCHEDULER_GPU_VARS = ("CUDA_VISIBLE_DEVICES", "SLURM_STEP_GPUS", "SLURM_JOB_GPUS")
POLL_S = 2.0  # how often a waiting job tries the slots again
REMIND_S = 600.0  # how often a waiting job says it is still waiting

# Open lock files of this process: the locks last until the process exits (never closed on purpose).
_held: list = []


@dataclass(frozen=True)
class GpuSlots:
    """How trainings of one machine share its cards (the ``g2rl train`` options, not training settings:
    they change where a run computes, never what it computes)."""

    jobs_per_gpu: int = 1  # trainings allowed on one card at once
    lock_dir: str | None = None  # None: $G2RL_GPU_LOCK_DIR, else a per-user folder under $TMPDIR or /tmp

    def __post_init__(self) -> None:
        if self.jobs_per_gpu < 1:
            raise ConfigError(f"jobs_per_gpu={self.jobs_per_gpu}: must be >= 1")


@dataclass(frozen=True)
class Placement:
    """The device a training uses and, for the log and provenance, how it was chosen."""

    device: str  # "cuda:1", "cpu", ...
    how: str  # one line: "slot 0 of card 5 ...", "as given", "the scheduler's card"


def visible_cards(count: int, env: Mapping[str, str]) -> list[str]:
    """The name of each card torch sees, by torch index: its ``CUDA_VISIBLE_DEVICES`` entry, or the
    index itself when the variable is unset (torch counts only the valid leading entries)."""
    listed = env.get("CUDA_VISIBLE_DEVICES")
    if listed is None:
        return [str(i) for i in range(count)]
    return [name.strip() for name in listed.split(",")][:count]


def scheduler_assigned(env: Mapping[str, str]) -> bool:
    """True inside a SLURM job whose GPUs the scheduler chose."""
    return bool(env.get("SLURM_JOB_ID")) and any(env.get(k) for k in SCHEDULER_GPU_VARS)


def default_lock_dir(env: Mapping[str, str]) -> Path:
    """$G2RL_GPU_LOCK_DIR, else ${TMPDIR:-/tmp}/g2rl-gpu-slots-uid<uid> (see the module docstring)."""
    if env.get(LOCK_DIR_ENV):
        return Path(env[LOCK_DIR_ENV])
    return Path(env.get("TMPDIR") or "/tmp") / f"g2rl-gpu-slots-uid{os.getuid()}"


def _try_lock(path: Path) -> bool:
    """Take the flock on ``path`` without waiting; keep the file open (the lock) when it succeeds."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    _held.append(fd)
    return True


def _torch_device_count() -> int:
    import torch

    return torch.cuda.device_count()


def place(
    device: str | torch.device,
    slots: GpuSlots = GpuSlots(),
    *,
    env: Mapping[str, str] | None = None,
    device_count: Callable[[], int] = _torch_device_count,
    poll_s: float = POLL_S,
) -> Placement:
    """The card for ``device`` ("cuda" gets a free slot; anything else is returned as given).

    ``env`` (default os.environ) and ``device_count`` (default torch's) are parameters so that the
    placement can be tested without a GPU. Blocks while every slot is taken.
    """
    device = str(device)  # a torch.device("cuda") from resolve_device("auto") is placed too
    if device != "cuda":
        return Placement(device, "as given")
    env = os.environ if env is None else env
    cards = visible_cards(device_count(), env)
    if not cards:
        raise ConfigError("device 'cuda': no CUDA device visible (CUDA_VISIBLE_DEVICES or the driver)")
    lock_dir = Path(slots.lock_dir) if slots.lock_dir else default_lock_dir(env)
    if scheduler_assigned(env):
        if len(cards) == 1:
            return Placement("cuda:0", f"the scheduler's card ({cards[0]}, SLURM job {env['SLURM_JOB_ID']})")
        lock_dir = lock_dir / f"slurm-{env['SLURM_JOB_ID']}"
    lock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    # slot level by level: every card's slot 0 before any card's slot 1
    order = [(level, index) for level in range(slots.jobs_per_gpu) for index in range(len(cards))]
    start, last_note = time.monotonic(), None
    while True:
        for level, index in order:
            name = re.sub(r"[^A-Za-z0-9_.-]", "_", cards[index])
            if _try_lock(lock_dir / f"card-{name}.slot-{level}.lock"):
                waited = f", after waiting {time.monotonic() - start:.0f} s" if last_note is not None else ""
                how = f"slot {level} of {slots.jobs_per_gpu} on card {cards[index]} ({len(cards)} visible{waited})"
                return Placement(f"cuda:{index}", f"{how}; locks in {lock_dir}")
        now = time.monotonic()
        if last_note is None or now - last_note >= REMIND_S:
            log.warning(
                "GPU placement: all %d slots (%d card(s) x jobs_per_gpu %d) are taken by other trainings; "
                "waiting for one to end (locks in %s; more trainings than slots: lower --resources gpu=N)",
                len(order), len(cards), slots.jobs_per_gpu, lock_dir,
            )  # fmt: skip
            last_note = now
        time.sleep(poll_s)
