"""Time the README's front door: `make setup`, then `make demo`, in a fresh clone, from a PATH without any
virtualenv, and record it (benchmarks/records/), with the demo's Table 1 averages it produced.

    python benchmarks/time_make_demo.py --record make_demo_<date>      # clones this checkout's HEAD into /tmp

The clone is deleted afterwards unless --keep. The figures depend on the CPU (bf16 or fp32 training) and on
whether the pip cache is warm (setup); the record says which machine and the load around the run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from record import REPO, Record  # benchmarks/record.py, beside this script


def clean_env() -> dict:
    """The environment of a new shell: no virtualenv on PATH, none active."""
    path = [d for d in os.environ.get("PATH", "").split(os.pathsep)
            if d and "/.venv/" not in d + "/" and "/venv/" not in d + "/" and d != str(Path(sys.prefix) / "bin")]
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PATH"] = os.pathsep.join(path)
    return env


def timed(cmd: list[str], cwd: Path, env: dict, log: Path) -> float:
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        done = subprocess.run(cmd, cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed (exit {done.returncode}): see {log}")
    return time.perf_counter() - t0


def table1_averages(clone: Path) -> dict:
    """Our rows' average ICC and MAE per dataset, from the demo's Table 1 CSVs."""
    out = {}
    for csv in sorted((clone / "results" / "demo" / "tables").glob("table1_*.csv")):
        df = pd.read_csv(csv, dtype={"variant": str})
        ours = df[df["source"].astype(str).str.startswith("ours")]
        out[csv.stem.removeprefix("table1_")] = {
            f"{r['method']}{' (' + r['variant'] + ')' if isinstance(r['variant'], str) and r['variant'] else ''}"
            f" {r['metric']}": round(float(r["Avg"]), 4) for _, r in ours.iterrows()}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--record", required=True, help="record name (benchmarks/records/<name>.json)")
    ap.add_argument("--keep", action="store_true", help="keep the clone (its path is printed)")
    args = ap.parse_args()
    rec = Record("make_demo", vars(args))
    base = Path(tempfile.mkdtemp(prefix="g2rl_make_demo_"))
    clone = base / "g2rl"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    env = clean_env()
    setup_s = timed(["make", "setup"], clone, env, base / "setup.log")
    demo_s = timed(["make", "demo"], clone, env, base / "demo.log")
    jobs = sum(1 for line in (base / "demo.log").read_text().splitlines() if line.startswith("Finished job"))
    rec.data["results"] = {"setup_s": round(setup_s, 1), "demo_s": round(demo_s, 1), "jobs_finished": jobs,
                           "report": (clone / "results" / "demo" / "report.html").is_file(),
                           "table1_avg": table1_averages(clone)}
    print(f"make setup {setup_s:.0f} s, make demo {demo_s:.0f} s ({jobs} jobs); load {rec.data['load_start']}")
    rec.write(args.record)
    if args.keep:
        print(f"clone kept: {clone}")
    else:
        shutil.rmtree(base)


if __name__ == "__main__":
    main()
