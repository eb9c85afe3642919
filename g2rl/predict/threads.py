"""How ``g2rl predict`` shares the CPU cores between the network and the landmark stage.

torch starts one intra-op thread per core. The landmark stage (dlib's detector and shape
predictor, the alignment warp) runs beside it in a thread, or in ``--landmark-workers N`` processes,
each keeping one core busy. With torch's default the two fight for the same cores: on 2 cores,
``OMP_NUM_THREADS=1`` gave 1.8x the frames per second with the same CSV (docs/PERFORMANCE.md,
benchmarks/bench_predict.py). So torch gets the cores the landmark stage leaves:
``max(1, cores - landmark workers)``, where the cores are those this process may run on
(g2rl.cpus.available_cpus: the affinity of a SLURM job or a ``taskset``, not the machine's count).
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from g2rl.cpus import available_cpus


def torch_threads_for(landmark_workers: int, cores: int | None = None) -> int:
    """torch's intra-op threads beside ``landmark_workers`` (1 = the landmark thread, N = processes):
    the cores left, at least 1."""
    cores = available_cpus() if cores is None else cores
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
