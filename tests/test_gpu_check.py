"""benchmarks/gpu_check.sh --smoke: the GPU check runs end to end on a CPU, as the lent GPU machine would run it.

The shell script itself is run (cache build included), with a Python that cannot import what that machine
lacks (dlib, Snakemake, PyYAML, jsonschema, scikit-image: a sitecustomize refuses them in every process the
script starts). No figure is asserted (speed is never tested); the test checks that every part produced its
rows, that none failed or timed out, and that the record holds them, so the script is ready when a GPU is lent.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# not on the GPU machine (its Python has torch, torchvision, torch-geometric, h5py, OpenCV, pandas, matplotlib,
# scipy and numpy): importing any of them there fails, so here too
ABSENT = ("dlib", "snakemake", "yaml", "jsonschema", "skimage", "face_recognition_models")

BLOCKER = f'''
import importlib.abc, sys
class _Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {ABSENT!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (absent on the GPU machine)", name=name)
        return None
sys.meta_path.insert(0, _Absent())
'''


def test_gpu_check_sh_smoke_runs_every_part_without_what_the_gpu_machine_lacks(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = {**os.environ, "PYTHONPATH": str(site), "OMP_NUM_THREADS": "1", "GPU_CHECK_DIR": str(tmp_path / "work"),
           "GPU_CHECK_OUT": str(tmp_path / "out")}
    done = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_check.sh"), "--smoke"], capture_output=True, text=True,
                          env=env, timeout=900, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    # the blocker was in force: the script's own interpreter cannot import dlib
    probe = subprocess.run([str(REPO / ".venv" / "bin" / "python"), "-c", "import dlib"], env=env, capture_output=True,
                           text=True)
    assert "absent on the GPU machine" in probe.stderr
    rows = dict(re.findall(r"^\| (.+?) \| (.+?) \|$", out.split("| measurement | result |")[1], flags=re.M))
    assert not [k for k, v in rows.items() if "failed" in v or "timeout" in v], rows
    number = r"\d+\.\d"
    feed_rows = [f"feed: batch {batch}, {workers} workers, {temp}, stored maps"
                 for batch in (2, 4) for workers in (0, 1) for temp in ("cold", "warm")]
    feed_rows += [f"feed: batch 2, {workers} workers, cold, maps rendered on the device" for workers in (0, 1)]
    for row in feed_rows:
        assert re.fullmatch(rf"{number} img/s, waiting for data {number} %", rows[row])
    for maps in ("stored maps", "maps rendered on the device"):
        assert rows[f"host syncs in 4 steady-state steps, {maps}"].startswith("0 (")
    assert re.match(rf"{number} img/s in total, {number}-{number} each; all 2 running together \d+ %",
                    rows["2 G2RL training(s) on one card (barrier start, data on the card)"])
    # every simulated card got --jobs-per-gpu (2) of the probes started together
    assert rows["placement, 4 jobs on 2 simulated card(s) x 2"] == "cuda:0 x2, cuda:1 x2: ok"
    assert re.match(rf"{number} img/s .*dlib's landmark side not measured",
                    rows["predict network path, resnet18 @ 64, batch 4 (no landmarks)"])
    for what in ("eager", "torch.compile mode=default, backend eager"):
        assert re.match(rf"{number} img/s; first 3 steps {number} s", rows[f"G2RL step, batch 2, {what}"])
    record = json.loads((tmp_path / "out" / "gpu_check.json").read_text())
    assert record["kind"] == "gpu_check" and record["settings"]["smoke"] and not record["results"]["errors"]
    assert [list(r) for r in record["results"]["table"]] == [[k, v] for k, v in rows.items()]
    assert {"feed", "syncs", "job", "place", "predict", "compile"} <= {ln["part"] for ln in record["results"]["lines"]}
