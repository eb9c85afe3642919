"""Write a benchmark's figures as a JSON record (benchmarks/records/), with the machine, the commit and
whether the tree was dirty when the benchmark started, the load average at start and end, and the
command that made it: docs/PERFORMANCE.md quotes figures only from such records.

    started = start_record()            # first thing: the code and load as the benchmark begins
    ...
    write_record(path, figures, started)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def start_record() -> dict:
    """The machine (rehearse_paper_scale.machine_facts: CPU, memory, commit, dirty) and the load average
    (1, 5, 15 min) now, and the command line."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from rehearse_paper_scale import machine_facts

    return {"machine": machine_facts(), "load_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "command": " ".join(["benchmarks/" + Path(sys.argv[0]).name, *sys.argv[1:]])}


def write_record(path: Path, figures: dict, started: dict) -> Path:
    """``figures`` plus ``started`` (:func:`start_record`) and ``load_end``, as indented JSON at ``path``."""
    record = dict(figures, **started, load_end=" ".join(f"{x:.2f}" for x in os.getloadavg()))
    path.write_text(json.dumps(record, indent=1) + "\n")
    print(f"record: {path}")
    return path
