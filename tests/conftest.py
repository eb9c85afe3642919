"""Shared fixtures. tests/ also holds fixture builders (layouts.py) imported by several test files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

REPO = Path(__file__).resolve().parent.parent
TINY_CONFIG = REPO / ".test" / "config.yaml"


def run_snakemake(workdir: Path, *args: str, timeout: int = 1500) -> str:
    """Run the real workflow (repository Snakefile, tiny config) in `workdir`; return its output, fail loudly."""
    cmd = [sys.executable, "-m", "snakemake", *args, "-s", str(REPO / "Snakefile"), "-d", str(workdir),
           "--configfile", str(TINY_CONFIG), "--cores", "2"]
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"snakemake failed ({' '.join(cmd)}):\n{out[-8000:]}"
    return out


@pytest.fixture(scope="session")
def tiny_workflow(tmp_path_factory) -> Path:
    """The whole workflow, run once per test session on the tiny config (.test/config.yaml); its working dir."""
    workdir = tmp_path_factory.mktemp("tiny_workflow")
    run_snakemake(workdir)
    return workdir
