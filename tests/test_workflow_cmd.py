"""How rules run g2rl: the interpreter that runs Snakemake, not PATH's `python` (issue 11), except inside a
conda/apptainer deployment; the checkout first on PYTHONPATH when it is on local disk. Both reach the jobs as
environment variables, never as params (issue 21: a moved checkout or venv must not rerun anything)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import REPO, path_without_project_python
from g2rl.workflow_cmd import JOB_COMMAND, job_environment, job_python, local_source_root


def test_job_python_is_snakemakes_interpreter_unless_isolated():
    assert job_python(False, "/opt/my env/bin/python") == "/opt/my env/bin/python"  # the rules quote it
    assert job_python(True, "/opt/venv/bin/python") == "python"  # the activated conda env's own
    assert job_python(False) == sys.executable
    with pytest.raises(RuntimeError, match="sys.executable is empty"):
        job_python(False, "")


def test_environment_puts_the_checkout_first_on_pythonpath_once(tmp_path):
    src = tmp_path / "g2rl repo"
    env = job_environment(False, src, {"PYTHONPATH": f"/other{os.pathsep}{src}"}, "/venv/bin/python")
    assert env == {"G2RL_PYTHON": "/venv/bin/python", "PYTHONPATH": f"{src}{os.pathsep}/other"}
    # parsing the workflow twice (a cluster job parses it again) adds nothing
    assert job_environment(False, src, env, "/venv/bin/python") == env
    assert job_environment(True, None, {}, "/venv/bin/python") == {"G2RL_PYTHON": "python"}


def test_source_root_found_from_the_rules_folder(tmp_path):
    assert local_source_root(REPO / "workflow" / "rules") == REPO
    assert local_source_root(tmp_path / "workflow" / "rules") is None  # no g2rl/ package there
    assert local_source_root("https://github.com/o/r/raw/v1/workflow/rules") is None


def test_command_runs_with_a_path_whose_python_fails(tmp_path):
    """What a rule's shell does, on a PATH with no virtualenv and a `python` that exits 97, from an interpreter
    path with a space in it."""
    spaced = tmp_path / "my venv" / "python"
    spaced.parent.mkdir()
    spaced.symlink_to(sys.executable)
    env = {"PATH": path_without_project_python(),
           **job_environment(False, local_source_root(REPO / "workflow" / "rules"), {}, str(spaced))}
    proc = subprocess.run(["bash", "-c", f"{JOB_COMMAND} --help"], capture_output=True, text=True, timeout=60,
                          env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "usage: g2rl" in proc.stdout
    # and the PATH really is hostile: its python fails
    bad = subprocess.run(["bash", "-c", "python -c pass"], capture_output=True, text=True,
                         env={"PATH": path_without_project_python()})
    assert bad.returncode == 97 and "instead of the interpreter" in bad.stderr
