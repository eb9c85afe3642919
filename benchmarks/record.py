"""The record of a measurement: what was measured, on what machine, at which commit, under what load.

Every figure docs/PERFORMANCE.md and docs/CLUSTER.md quote comes from a JSON file in benchmarks/records/
written by :func:`write_record` (tests/test_docs_records.py fails when a quoted figure has none):

    {"kind": "...", "command": "...", "settings": {...}, "machine": machine_facts(), "commit": "abc1234",
     "dirty": false, "started": "YYYY-MM-DD HH:MM UTC", "load_start": "...", "load_end": "...",
     "results": {...}}
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECORDS = REPO / "benchmarks" / "records"


def load() -> str:
    """The 1, 5 and 15 minute load averages, as /proc/loadavg gives them ("?" where there is none)."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"


def machine_facts() -> dict:
    """Python, cores, CPU model (lscpu), native bf16, memory, GPU (when torch sees one), commit and whether
    the tree had uncommitted changes."""
    facts = {"python": platform.python_version(), "nproc": os.cpu_count()}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in lscpu.splitlines():
            k, _, v = line.partition(":")
            if k.strip() in ("Model name", "CPU(s)", "Vendor ID"):
                facts[k.strip()] = v.strip()
        facts["bf16"] = "avx512_bf16" in lscpu or "amx_bf16" in lscpu
    except (OSError, subprocess.CalledProcessError):
        pass
    try:
        mem = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
        facts["mem_gib"] = round(int(mem) / 2**20, 1)
    except (OSError, IndexError, ValueError):
        pass
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        facts["torch"] = torch.__version__
        if torch.cuda.is_available():
            facts["gpu"] = torch.cuda.get_device_name(0)
            facts["gpus"] = torch.cuda.device_count()
    try:
        facts["commit"] = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                                         text=True, check=True).stdout.strip()
        changed = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                                 capture_output=True, text=True, check=True).stdout.splitlines()
        facts["dirty"] = bool(changed)
        facts["dirty_paths"] = [line[3:] for line in changed]  # which files differed from the commit
    except (OSError, subprocess.CalledProcessError):
        facts["commit"] = "unknown"
    return facts


class Record:
    """Collects one run's facts; :meth:`write` puts them in benchmarks/records/<name>.json (or ``out``)."""

    def __init__(self, kind: str, settings: dict) -> None:
        machine = machine_facts()  # the code as it was when the measurement started
        self.data = {"kind": kind, "command": " ".join(shlex.quote(a) for a in ["python", *sys.argv]),
                     "settings": settings, "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                     "load_start": load(), "machine": machine, "commit": machine.get("commit"),
                     "dirty": machine.get("dirty"), "results": {}}

    def write(self, name: str, out: str | os.PathLike | None = None, quiet: bool = False) -> Path:
        self.data["load_end"] = load()
        path = Path(out) if out else RECORDS / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.data, indent=1, default=str) + "\n")
        if not quiet:
            print(f"# record: {path}")
        return path
