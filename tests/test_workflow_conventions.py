"""The workflow meets Snakemake's conventions (issue 11, section 2): `snakemake --lint` and `snakefmt --check`
are clean, dry runs work on the paper configs without their data, `--directory .test` picks up the tiny
config, and a `snakedeploy deploy-workflow` copy (the workflow used as a Snakemake module) dry-runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, copy_checkout, path_without_project_python

SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def run(cmd: list[str], cwd: Path, timeout: int = 300) -> str:
    """Run `cmd` on a PATH without this venv (the rules must not need it); return its output, fail loudly."""
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PATH"] = path_without_project_python()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{out[-5000:]}"
    return out


@pytest.mark.parametrize("config", [None, "config/disfa.yaml", "config/bp4d.yaml"])
def test_lint_and_dry_run_clean_without_the_data(config, tmp_path):
    """The paper configs point at /path/to/DISFA etc.: parsing must not need the data (the job that reads it does)."""
    args = ["-s", str(REPO / "Snakefile"), "-d", str(tmp_path)]
    if config:
        args += ["--configfile", str(REPO / config)]
        assert not Path("/path/to").exists()
    out = run([*SNAKEMAKE, *args, "--lint"], tmp_path)
    assert "Congratulations, your workflow is in a good condition!" in out
    out = run([*SNAKEMAKE, *args, "-n", "--cores", "1"], tmp_path)
    assert re.search(r"^frame_index\s+\d+$", out, re.M)


def test_snakefmt_check_clean():
    """Formatted with the line length of pyproject's [tool.snakefmt] (snakefmt finds it from the repository root)."""
    snakefmt = shutil.which("snakefmt", path=str(Path(sys.executable).parent))
    assert snakefmt, "snakefmt is not installed (it is in the test extra: pip install -e '.[test]')"
    run([snakefmt, "--check", "Snakefile", "workflow/"], REPO)


def test_directory_dot_test_uses_its_config(tmp_path):
    """`snakemake --directory .test` runs .test/config/config.yaml (the tiny config: 40 DISFA frames a video)."""
    shutil.copytree(REPO / ".test" / "config", tmp_path / "config")
    out = run([*SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "-n", "-p", "--cores", "1"],
              tmp_path)
    assert "demo-data --out resources/demo_data --seed 0 --disfa-frames 40 --bp4d-frames 20" in out


def test_snakedeploy_copy_dry_runs(tmp_path):
    """`snakedeploy deploy-workflow` of this repository, then a dry run of the deployed module in its own folder."""
    source = copy_checkout(tmp_path / "source")  # as a clone would have it
    dest = tmp_path / "deployed"
    snakedeploy = shutil.which("snakedeploy", path=str(Path(sys.executable).parent))
    assert snakedeploy, "snakedeploy is not installed (it is in the test extra: pip install -e '.[test]')"
    run([snakedeploy, "deploy-workflow", str(source), str(dest), "--name", "g2rl", "--branch", "main"], tmp_path)
    snakefile = dest / "workflow" / "Snakefile"
    text = snakefile.read_text()
    assert "use rule * from g2rl" in text and (dest / "config" / "config.yaml").is_file()
    # For a local source snakedeploy writes the module's snakefile relative to the source ("Snakefile"); a GitHub
    # source gets github(...). Point it at the source folder, as the github() reference would.
    text, n = re.subn(r'(snakefile:\s*\n\s*)"Snakefile"', rf'\1"{source / "Snakefile"}"', text)
    assert n == 1, text
    snakefile.write_text(text)
    out = run([*SNAKEMAKE, "-n", "-p", "--cores", "1"], dest)
    assert re.search(r"^demo_data\s+1$", out, re.M) and re.search(r"^train\s+\d+$", out, re.M)  # the demo grid
    # jobs run the package through the exported interpreter; no machine path is pasted into a command (a moved
    # source or venv must not change what Snakemake compares: tests/test_real_data_user.py)
    commands = [line for line in out.splitlines() if line.startswith("Shell command:") and "-m g2rl" in line]
    assert commands and all('"$G2RL_PYTHON" -m g2rl ' in c for c in commands), commands[:2]
    assert not [c for c in commands if str(source) in c or sys.executable in c]
