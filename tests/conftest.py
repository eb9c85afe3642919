"""Shared fixtures. tests/ also holds fixture builders (layouts.py) imported by several test files."""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

REPO = Path(__file__).resolve().parent.parent
# Snakemake's convention: `snakemake --directory .test` uses .test/config/config.yaml (the tiny config).
TINY_CONFIG = REPO / ".test" / "config" / "config.yaml"
# Set by .ci/run after `make demo DIR=.test` (the README's command on the tiny config): the session fixture then
# continues that finished run in place instead of running the whole workflow a second time.
TINY_WORKDIR_ENV = "G2RL_TINY_WORKDIR"

_FAKE_PYTHON = """#!/bin/sh
echo "error: a workflow job ran \\`$(basename "$0")\\` from PATH instead of the interpreter that runs Snakemake" >&2
exit 97
"""


def load_benchmark(name: str):
    """The module benchmarks/<name>.py, loaded from its file (benchmarks/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.lru_cache(maxsize=None)
def path_without_project_python() -> str:
    """A PATH with no virtualenv on it, led by a `python`/`python3` that fail: a job using PATH's python dies.

    This is the fresh machine of issue 11 (a system python without the project's packages), made certain.
    """
    shims = Path(tempfile.mkdtemp(prefix="g2rl_fake_python_"))
    for name in ("python", "python3"):
        (shims / name).write_text(_FAKE_PYTHON)
        (shims / name).chmod(0o755)
    venvs = {Path(sys.executable).parent.resolve(), Path(sys.prefix).resolve() / "bin"}
    if os.environ.get("VIRTUAL_ENV"):
        venvs.add((Path(os.environ["VIRTUAL_ENV"]) / "bin").resolve())
    kept = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and Path(d).resolve() not in venvs]
    return os.pathsep.join([str(shims), *kept])


def run_snakemake(workdir: Path, *args: str, timeout: int = 1500) -> str:
    """Run the real workflow (repository Snakefile, tiny config) in `workdir`; return its output, fail loudly.

    Snakemake runs under this interpreter, but PATH holds no virtualenv and its `python` fails (see above), so
    the rules must find their interpreter themselves, as on a fresh machine.
    """
    cmd = [sys.executable, "-m", "snakemake", *args, "-s", str(REPO / "Snakefile"), "-d", str(workdir),
           "--configfile", str(TINY_CONFIG), "--cores", "2"]
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PATH"] = path_without_project_python()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"snakemake failed ({' '.join(cmd)}):\n{out[-8000:]}"
    return out


@pytest.fixture(scope="session")
def tiny_workflow(tmp_path_factory) -> Path:
    """The whole workflow on the tiny config, once per test session; its working directory.

    With G2RL_TINY_WORKDIR set (CI, after `make demo DIR=.test`), that directory's run is brought up to date
    (normally nothing left to do) and used; otherwise the workflow runs from scratch in a temporary folder.
    """
    given = os.environ.get(TINY_WORKDIR_ENV)
    workdir = Path(given).resolve() if given else tmp_path_factory.mktemp("tiny_workflow")
    run_snakemake(workdir)
    return workdir


def copy_checkout(dest: Path) -> Path:
    """The repository's files as a clone has them (tracked, and new files git does not ignore: no .venv, no
    results), copied to `dest` with their modification times and links."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split("\0")
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file() or src.is_symlink():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel, follow_symlinks=False)
    return dest
