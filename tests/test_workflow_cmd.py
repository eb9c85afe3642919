"""How rules run g2rl: the interpreter that runs Snakemake, not PATH's `python` (issue 11), except inside a
conda/apptainer deployment; the checkout first on PYTHONPATH when it is on local disk."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, path_without_project_python
from g2rl.workflow_cmd import g2rl_command, job_python, local_source_root


def test_job_python_is_snakemakes_interpreter_unless_isolated():
    assert job_python(False, "/opt/venv/bin/python") == "/opt/venv/bin/python"
    assert job_python(False, "/opt/my env/bin/python") == "'/opt/my env/bin/python'"  # one shell word
    assert job_python(True, "/opt/venv/bin/python") == "python"  # the activated conda env's own
    assert job_python(False) == sys.executable
    with pytest.raises(RuntimeError, match="sys.executable is empty"):
        job_python(False, "")


def test_command_puts_the_checkout_first_on_pythonpath():
    cmd = g2rl_command(False, Path("/src/g2rl repo"), "/venv/bin/python")
    assert cmd == "PYTHONPATH='/src/g2rl repo'${PYTHONPATH:+:$PYTHONPATH} /venv/bin/python -m g2rl"
    assert g2rl_command(True, None, "/venv/bin/python") == "python -m g2rl"


def test_source_root_found_from_the_rules_folder(tmp_path):
    assert local_source_root(REPO / "workflow" / "rules") == REPO
    assert local_source_root(tmp_path / "workflow" / "rules") is None  # no g2rl/ package there
    assert local_source_root("https://github.com/o/r/raw/v1/workflow/rules") is None


def test_command_runs_with_a_path_whose_python_fails(tmp_path):
    """What a rule's shell does, on a PATH with no virtualenv and a `python` that exits 97."""
    cmd = g2rl_command(False, local_source_root(REPO / "workflow" / "rules"))
    proc = subprocess.run(["bash", "-c", f"{cmd} --help"], capture_output=True, text=True, timeout=60,
                          env={"PATH": path_without_project_python()}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "usage: g2rl" in proc.stdout
    # and the PATH really is hostile: its python fails
    bad = subprocess.run(["bash", "-c", "python -c pass"], capture_output=True, text=True,
                         env={"PATH": path_without_project_python()})
    assert bad.returncode == 97 and "instead of the interpreter" in bad.stderr
