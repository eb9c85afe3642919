"""How ``g2rl predict`` shares the CPU cores between the network and the landmark stage.

torch starts one intra-op thread per core. The landmark stage (dlib's detector and shape
predictor, the alignment warp) runs beside it in a thread, or in ``--landmark-workers N`` processes,
each keeping one core busy. With torch's default the two fight for the same cores: on 2 cores,
``OMP_NUM_THREADS=1`` gave 1.8x the frames per second with the same CSV (docs/PERFORMANCE.md,
benchmarks/bench_predict.py). So torch gets the cores the landmark stage leaves:
``max(1, cores - landmark workers)``, where the cores are those this process may run on
(``os.sched_getaffinity``: a SLURM job's or a ``taskset``'s, not the machine's count).
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity; ``os.cpu_count()`` where the platform has none)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity on macOS / Windows
        return max(1, os.cpu_count() or 1)


def torch_threads_for(landmark_workers: int, cores: int | None = None) -> int:
    """torch's intra-op threads beside ``landmark_workers`` (1 = the landmark thread, N = processes):
    the cores left, at least 1."""
    cores = usable_cores() if cores is None else cores
    return max(1, cores - max(1, landmark_workers))


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[int]:
    """Run the block with torch using ``n`` intra-op threads, then restore the caller's setting
    (``run_predict`` is also a library call: it must not leave the process changed)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(before)
