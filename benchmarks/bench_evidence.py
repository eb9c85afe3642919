"""Time the two-level bootstrap (seeds and subjects; g2rl.evidence) on a DISFA-sized comparison.

    python benchmarks/bench_evidence.py [--subjects 27] [--frames 4845] [--seeds 3] [--resamples 1000]

Synthetic pooled predictions (subjects x frames rows, 12 AUs, ~10 % unlabelled) for the Baseline
and G2RL, one run per seed. Times one `compare_methods` call (per-subject sums of every run, the
B resamples of both methods, the CIs and the paired difference) and prints what it measured.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from g2rl.evidence import BootstrapSettings, RunArrays, compare_methods

AUS = ["AU01", "AU02", "AU04", "AU05", "AU06", "AU09", "AU12", "AU15", "AU17", "AU20", "AU25", "AU26"]


def fake_runs(subjects: int, frames: int, seeds: int, noise: float, rng) -> list[RunArrays]:
    subj = np.repeat([f"SN{i:03d}" for i in range(subjects)], frames)
    true = np.clip(rng.normal(1.0, 1.2, size=(subjects * frames, len(AUS))), 0, 5).round()
    true[rng.random(true.shape) < 0.1] = np.nan
    return [RunArrays(subj, np.clip(np.nan_to_num(true) + rng.normal(0, noise, true.shape), 0, 5), true, f"seed{s}")
            for s in range(seeds)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=27)
    ap.add_argument("--frames", type=int, default=4845, help="frames per subject (DISFA: 4845)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    methods = {"Baseline": fake_runs(args.subjects, args.frames, args.seeds, 0.8, rng),
               "G2RL": fake_runs(args.subjects, args.frames, args.seeds, 0.7, rng)}
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        cmp = compare_methods(methods, list(range(args.seeds)), AUS, BootstrapSettings(n_resamples=args.resamples))
        times.append(time.perf_counter() - t0)
    d = cmp.differences["G2RL"]["icc"]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    print(f"compare_methods: 2 methods x {args.seeds} seeds x {args.subjects} subjects x {args.frames} frames "
          f"x {len(AUS)} AUs, B = {args.resamples}: best {min(times):.3f} s, median {sorted(times)[len(times) // 2]:.3f} s "
          f"of {args.repeat}")
    print(f"(sanity) avg ICC difference {d.diff[-1]:+.3f} [{d.lo[-1]:+.3f}, {d.hi[-1]:+.3f}], win share {d.win_share[-1]:.2f}")


if __name__ == "__main__":
    main()
