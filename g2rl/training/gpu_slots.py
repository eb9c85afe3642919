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
  per user by default (share one folder between users through the variable or ``--gpu-lock-dir``: such a
  folder is created group-accessible, and every lock file group-writable, whatever the umask).
* A lock file that cannot be used (another user's private file, a folder, a FIFO or a link in its place) is
  skipped with a warning naming it, once, and the other slots are tried; only when no slot at all is usable
  does placement stop, with one line naming the folder.
* A lock file deleted while its training runs (a /tmp cleaner; systemd-tmpfiles already skips a file that
  is flock-ed, others do not) would let the next training take the same slot: each training keeps a
  watch (:data:`KEEP_S`) on the files it holds, and re-creates and re-locks one that was removed or
  replaced; the warning says whether another training took the slot in between. The lock is also re-checked
  right after it is taken (the file at the path must still be the one locked).
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

import contextlib
import errno
import fcntl
import logging
import os
import re
import stat
import threading
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
KEEP_S = 5.0  # how often a holder checks that its lock files are still where it locked them
LOCK_FILE_MODE = 0o660  # group-writable: a folder shared between users works for the whole group
SHARED_DIR_MODE = 0o2770  # a lock folder named by the user: the group's, new files inheriting its group


@dataclass
class _Held:
    """A slot lock this process holds: the path and the open descriptor whose flock is the lock (kept open
    until the process exits, never closed on purpose)."""

    path: Path
    fd: int


# the locks of this process, and the lock files already reported as unusable (each warned about once)
_held: list[_Held] = []
_warned: set[str] = set()
_keeper: list = []  # the watch thread, once started


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


def _open_lock_file(path: Path) -> int:
    """A descriptor of the lock file at ``path``, created (group-writable) when absent. Read-only is enough
    for flock, so another user's readable lock file is usable too; a link is never followed, and a FIFO in
    its place never blocks the open. Raises OSError (EACCES, ELOOP, ENXIO...) when it cannot be opened."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, LOCK_FILE_MODE)
    except FileExistsError:
        return os.open(path, flags)
    try:
        os.fchmod(fd, LOCK_FILE_MODE)  # the umask (022 by default) took the group's write bit
    except OSError:
        pass
    return fd


def _unusable(path: Path, reason: str) -> str:
    """Warn once per process that the lock file ``path`` cannot be used, and return the reason."""
    if str(path) not in _warned:
        _warned.add(str(path))
        log.warning("GPU placement: skipping the slot of lock file %s: %s; the other slots are tried (make it a "
                    "group-writable regular file, or remove it)", path, reason)
    return reason


def _same_file(fd: int, path: Path) -> bool:
    """True when ``path`` (not followed if a link) is the file open as ``fd``."""
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _try_lock(path: Path) -> str:
    """Take the flock on ``path`` without waiting. Returns ``"taken"`` (the descriptor is kept: the lock),
    ``"busy"`` (another process holds it), or why the file cannot be used (warned about once)."""
    for _ in range(3):  # the file replaced between the open and the lock: try the new one
        try:
            fd = _open_lock_file(path)
        except OSError as exc:
            why = "a symbolic link" if exc.errno == errno.ELOOP else (os.strerror(exc.errno) if exc.errno else str(exc))
            return _unusable(path, _describe(path, why))
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(fd)
            return _unusable(path, _describe(path, "not a regular file"))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return "busy"
        except OSError as exc:  # ENOLCK (a network filesystem without locks), ...
            os.close(fd)
            return _unusable(path, _describe(path, f"cannot be locked ({os.strerror(exc.errno)})"))
        if _same_file(fd, path):
            _held.append(_Held(path, fd))
            _start_keeper()
            return "taken"
        os.close(fd)  # removed or replaced after we opened it: that lock guards nothing
    return "busy"


def _describe(path: Path, why: str) -> str:
    """``why`` with what the file is: its kind, owner and mode (``a folder``, ``owned by uid 1001, mode 600``)."""
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return why
    kind = ("a folder" if stat.S_ISDIR(st.st_mode) else "a FIFO" if stat.S_ISFIFO(st.st_mode)
            else "a socket" if stat.S_ISSOCK(st.st_mode) else "a symbolic link" if stat.S_ISLNK(st.st_mode)
            else "a file")
    return f"{why}: {kind} owned by uid {st.st_uid}, mode {stat.S_IMODE(st.st_mode):o}"


def keep_locks() -> list[str]:
    """One watch round over the locks this process holds: a lock file removed or replaced since it was
    locked (a /tmp cleaner) is created and locked again; each file's times are refreshed, so a cleaner
    that goes by age leaves it. Returns the warnings given (for tests; they are logged too)."""
    notes = []
    for held in list(_held):
        if _same_file(held.fd, held.path):
            with contextlib.suppress(OSError):
                os.utime(held.fd)  # futimens: an age-based cleaner sees a file in use
            continue
        outcome = _try_lock(held.path)
        _held.remove(held)  # the old descriptor stays open: closing it would be harmless, keeping it costs nothing
        if outcome == "taken":
            note = (f"GPU placement: lock file {held.path} was removed or replaced while this training held it (a "
                    "temporary-file cleaner?); it was created and locked again")
        else:
            note = (f"GPU placement: lock file {held.path} was removed or replaced while this training held it, and "
                    f"it could not be locked again ({outcome}): another training may be using the same card slot "
                    "now; keep the lock folder out of reach of temporary-file cleaners (G2RL_GPU_LOCK_DIR)")
        log.warning("%s", note)
        notes.append(note)
    return notes


def _start_keeper() -> None:
    """Start, once per process, the daemon thread that runs :func:`keep_locks` every :data:`KEEP_S`."""
    if _keeper:
        return

    def watch() -> None:
        while True:
            time.sleep(KEEP_S)
            try:
                keep_locks()
            except Exception:  # noqa: BLE001 - the watch must never end the training it protects
                log.exception("GPU placement: checking the slot locks failed")

    thread = threading.Thread(target=watch, name="g2rl-gpu-slot-keeper", daemon=True)
    _keeper.append(thread)
    thread.start()


def _make_lock_dir(lock_dir: Path, shared: bool) -> None:
    """Create the lock folder: private (0700) for the per-user default, group-accessible and setgid (2770)
    for one the user named, whatever the umask; an existing folder is left as it is."""
    if lock_dir.is_dir():
        return
    lock_dir.parent.mkdir(parents=True, exist_ok=True)
    mode = SHARED_DIR_MODE if shared else 0o700
    try:
        lock_dir.mkdir(mode=mode)
    except FileExistsError:
        return  # another training made it meanwhile
    with contextlib.suppress(OSError):
        os.chmod(lock_dir, mode)


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
    shared = bool(slots.lock_dir or env.get(LOCK_DIR_ENV))  # a folder the user named: maybe for a group
    lock_dir = Path(slots.lock_dir) if slots.lock_dir else default_lock_dir(env)
    if scheduler_assigned(env):
        if len(cards) == 1:
            return Placement("cuda:0", f"the scheduler's card ({cards[0]}, SLURM job {env['SLURM_JOB_ID']})")
        lock_dir = lock_dir / f"slurm-{env['SLURM_JOB_ID']}"
    _make_lock_dir(lock_dir, shared)
    # slot level by level: every card's slot 0 before any card's slot 1
    order = [(level, index) for level in range(slots.jobs_per_gpu) for index in range(len(cards))]
    start, last_note = time.monotonic(), None
    while True:
        unusable = []
        for level, index in order:
            name = re.sub(r"[^A-Za-z0-9_.-]", "_", cards[index])
            path = lock_dir / f"card-{name}.slot-{level}.lock"
            outcome = _try_lock(path)
            if outcome == "taken":
                waited = f", after waiting {time.monotonic() - start:.0f} s" if last_note is not None else ""
                how = f"slot {level} of {slots.jobs_per_gpu} on card {cards[index]} ({len(cards)} visible{waited})"
                return Placement(f"cuda:{index}", f"{how}; locks in {lock_dir}")
            if outcome != "busy":
                unusable.append((path, outcome))
        if len(unusable) == len(order):  # waiting would never end
            path, why = unusable[0]
            raise ConfigError(f"{lock_dir}: no GPU slot lock file can be used ({len(order)} slot(s); {path.name}: "
                              f"{why}); fix or remove them, or choose another --gpu-lock-dir / {LOCK_DIR_ENV}")
        now = time.monotonic()
        if last_note is None or now - last_note >= REMIND_S:
            log.warning(
                "GPU placement: all %d slots (%d card(s) x jobs_per_gpu %d) are taken by other trainings; "
                "waiting for one to end (locks in %s; more trainings than slots: lower --resources gpu=N)",
                len(order), len(cards), slots.jobs_per_gpu, lock_dir,
            )  # fmt: skip
            last_note = now
        time.sleep(poll_s)
