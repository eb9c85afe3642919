"""benchmarks/gpu_check.py --smoke: the GPU readiness script runs end to end on a CPU with tiny settings.

No figure is asserted (speed is never tested); the test checks that every part produced a number
and the table has every row, so the script is ready when a GPU machine is lent.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from test_preprocess_cache import tiny, tiny_caches  # noqa: F401  (fixtures reused from the cache tests)

REPO = Path(__file__).resolve().parents[1]


def test_gpu_check_smoke_prints_every_measurement(tiny_caches):  # noqa: F811
    _, crops, heat = tiny_caches
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--smoke", "--device", "cpu",
         "--crops", str(crops), "--heatmaps", str(heat), "--timeout", "600"],
        capture_output=True, text=True, env=env, timeout=1500,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    table = done.stdout.split("| measurement | result |")[1]
    rows = dict(re.findall(r"^\| (.+?) \| (.+?) \|$", table, flags=re.M))
    number = r"\d+\.\d"
    for method in ("baseline", "g2rl"):
        assert re.fullmatch(number, rows[f"train img/s, {method}, data on device"])
    assert re.fullmatch(rf"{number} img/s, waiting {number} %", rows["G2RL fed by HDF5 loader, 1 workers"])
    assert re.fullmatch(rf"{number} img/s in total, {number}-{number} each", rows["2 G2RL training(s) sharing the device"])
    assert rows["predict"] == "skipped: no --video"
    # every simulated card got --jobs-per-gpu (2) of the probes started together
    assert rows["placement, 4 jobs on 2 simulated card(s) x 2"] == "cuda:0 x2, cuda:1 x2: ok"
