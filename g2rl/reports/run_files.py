"""What a run's ``metrics.json`` says about itself: its labels (dataset, method, sigma, lambda,
seed: from its ``run`` section or the workflow's path layout) and its headline section.

Shared by the report commands (:mod:`g2rl.reports.report_cli`) and the evidence builder
(:mod:`g2rl.reports.evidence_report`), so neither imports the other.
"""

from __future__ import annotations

import re
from pathlib import Path

from g2rl.errors import G2RLError

_RUN_PATH = re.compile(
    r"(?:^|/)(?P<dataset>[^/]+)/runs/(?P<method>[^/]+)/sigma(?P<sigma>[^/]+)/lambda(?P<lambda>[^/]+)/seed(?P<seed>[^/]+)/[^/]+$"
)


def run_labels(path: str | Path, metrics: dict) -> dict:
    """dataset, method, sigma, lambda, seed of a metrics file: its ``run`` labels, else its path."""
    labels = dict(metrics.get("run") or {})
    m = _RUN_PATH.search(Path(path).as_posix())
    if m:
        for key, value in m.groupdict().items():
            labels.setdefault(key, value)
    return labels


def headline_section(path: str | Path, metrics: dict) -> dict:
    """The section of a metrics.json its ``headline`` names (pooled, or the one fold's)."""
    head = metrics.get("headline")
    if head is None:
        raise G2RLError(f"{path}: several folds and no pooled section; evaluate with --pooled")
    return metrics["pooled"] if head == "pooled" else metrics["folds"][head.split(":", 1)[1]]
