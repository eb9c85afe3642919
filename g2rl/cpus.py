"""How many CPUs this process may use: one answer for the training's loader workers
(g2rl.training.settings) and predict's split between torch and the landmark stage (g2rl.predict.threads)."""

from __future__ import annotations

import os


def available_cpus() -> int:
    """CPUs this process may run on: its affinity mask (what taskset, cgroups or SLURM's binding allow;
    ``os.cpu_count()`` where the platform has none), and no more than SLURM_CPUS_PER_TASK where SLURM set it
    (a job without binding sees the whole node)."""
    try:
        n = max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity on macOS / Windows
        n = max(1, os.cpu_count() or 1)
    slurm = os.environ.get("SLURM_CPUS_PER_TASK", "")
    return min(n, int(slurm)) if slurm.isdigit() and int(slurm) > 0 else n
