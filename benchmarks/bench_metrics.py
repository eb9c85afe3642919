"""Time `evaluate_runs` on a DISFA-sized pooled evaluation, and the Table 1 / figure writers.

    python benchmarks/bench_metrics.py [--subjects 27] [--frames 4845]

Synthetic predictions (3 folds of subjects x frames rows, 12 AUs) are written to a temporary
folder first; only the evaluation and writing are timed. Prints what it measured and on what.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from g2rl.reports.evaluate import evaluate_runs, write_metrics_json
from g2rl.reports.figures import plot_intensity_curves, plot_sensitivity
from g2rl.reports.table1 import build_table1, write_table1

AUS = ["AU01", "AU02", "AU04", "AU05", "AU06", "AU09", "AU12", "AU15", "AU17", "AU20", "AU25", "AU26"]
PAPER_CSV = Path(__file__).resolve().parents[1] / "config" / "paper_table1.csv"


def fake_fold(split: int, subjects: list[str], frames: int, rng) -> pd.DataFrame:
    n = len(subjects) * frames
    df = pd.DataFrame(
        {
            "subject": np.repeat(subjects, frames),
            "session": "LeftCamera",
            "frame": np.tile(np.arange(1, frames + 1), len(subjects)),
            "split": str(split),
        }
    )
    for au in AUS:
        true = rng.integers(0, 6, n).astype(float)
        true[rng.random(n) < 0.02] = np.nan
        df[f"{au}_pred"] = np.clip(np.nan_to_num(true) + rng.normal(0, 0.8, n), 0, 5)
        df[f"{au}_true"] = true
    return df


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=27)
    ap.add_argument("--frames", type=int, default=4845)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    subjects = [f"SN{i:03d}" for i in range(1, args.subjects + 1)]
    parts = np.array_split(np.array(subjects), 3)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = []
        for k, part in enumerate(parts, start=1):
            p = tmp / f"fold{k}.csv"
            fake_fold(k, list(part), args.frames, rng).to_csv(p, index=False)
            paths.append(p)
        total = args.subjects * args.frames
        t0 = time.perf_counter()
        m = evaluate_runs(paths, pooled=True)
        t1 = time.perf_counter()
        write_metrics_json(m, tmp / "metrics.json")
        t2 = time.perf_counter()
        df = build_table1("disfa", {"Baseline": m, "G2RL": m}, PAPER_CSV, "demo")
        write_table1(df, tmp / "table1_disfa", "Table 1 (DISFA)")
        t3 = time.perf_counter()
        rec = pd.DataFrame(
            [{"dataset": d, "param": "lambda", "value": v, "icc": 0.5, "mae": 0.3}
             for d in ("bp4d", "disfa") for v in (0.005, 0.01, 0.05, 0.1, 0.5)]
        )
        plot_sensitivity(rec, tmp / "sens")
        t4 = time.perf_counter()
        one = pd.read_csv(paths[0], dtype={"subject": str})
        plot_intensity_curves(one[one["subject"] == subjects[0]], ["AU01", "AU02"], tmp / "fig5.png")
        t5 = time.perf_counter()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared with other jobs)")
    print(f"input: 3 predictions CSVs, {args.subjects} subjects x {args.frames} frames = {total} rows, {len(AUS)} AUs")
    print(f"evaluate_runs(pooled=True) incl. reading CSVs: {t1 - t0:.2f} s ({total / (t1 - t0):,.0f} rows/s)")
    print(f"write_metrics_json: {(t2 - t1) * 1000:.1f} ms")
    print(f"build_table1 + write_table1 (csv, md, tex): {(t3 - t2) * 1000:.0f} ms")
    print(f"plot_sensitivity (one param, PNG + PDF): {t4 - t3:.2f} s")
    print(f"plot_intensity_curves ({args.frames} frames, 2 AUs): {t5 - t4:.2f} s")


if __name__ == "__main__":
    main()
