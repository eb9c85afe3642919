"""How the Snakemake rules run the g2rl command line (workflow/rules/common.smk calls this once).

A rule's job must run the same Python that runs Snakemake, not whichever `python` comes first on PATH: on a
fresh machine that is the system's, which has none of the project's packages (issue 11). Snakemake's own
`script:` directive does the same (`sys.executable`). The one exception is a conda or apptainer deployment
(`--sdm conda` / `--sdm apptainer`): then the job's shell has the environment activated, and its `python` is
the one that holds the packages.

Where that interpreter and this checkout live must not reach a job's params or inputs: Snakemake reruns a job
whose params changed, so a re-cloned checkout, a renamed home or a rebuilt venv would retrain everything
(issue 21). The workflow therefore exports them as environment variables when it is parsed (the Snakemake
process and, on a cluster, the job-side Snakemake that parses the workflow again), and every rule's shell
starts with the fixed words of ``JOB_COMMAND``. The environment is inherited by each job and never recorded.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

# The interpreter a job runs (an absolute path, or `python` inside a conda/apptainer deployment).
PYTHON_VAR = "G2RL_PYTHON"
# What every rule's shell command starts with (a literal in each rule, for `snakemake --lint` and modules).
JOB_COMMAND = f'"${PYTHON_VAR}" -m g2rl'


def job_python(isolated: bool, executable: str | None = None) -> str:
    """The interpreter a job runs (not shell-quoted: the rules quote the variable that holds it).

    isolated: a conda/apptainer deployment is active, so the job's own environment provides `python`.
    executable: the interpreter running Snakemake (default: sys.executable).
    """
    if isolated:
        return "python"
    executable = sys.executable if executable is None else executable
    if not executable:
        # sys.executable is empty only for embedded interpreters; no job could find its packages then.
        raise RuntimeError("cannot tell which Python runs Snakemake (sys.executable is empty)")
    return executable


def job_environment(
    isolated: bool, source_root: Path | None, environ: Mapping[str, str], executable: str | None = None
) -> dict[str, str]:
    """The variables the workflow exports for its jobs: the interpreter, and this checkout first on PYTHONPATH.

    source_root: the folder holding this checkout's `g2rl/` package, put first on PYTHONPATH so a job runs the
    workflow's own code even inside a conda env that has only the dependencies; None when the workflow's source
    is not on local disk (a deployed module read from GitHub), where the installed g2rl is used.
    environ: the current environment (its PYTHONPATH is kept after the checkout; parsing twice adds nothing).
    """
    env = {PYTHON_VAR: job_python(isolated, executable)}
    if source_root is not None:
        first = str(source_root)
        rest = [p for p in environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != first]
        env["PYTHONPATH"] = os.pathsep.join([first, *rest])
    return env


def local_source_root(rules_dir: object) -> Path | None:
    """The checkout root (holding `g2rl/`) two levels above workflow/rules, or None if it is not a local folder.

    rules_dir: Snakemake's `workflow.current_basedir` while common.smk is parsed: a local path, or a remote
    source object when the workflow is used as a module straight from GitHub.
    """
    try:
        root = Path(str(rules_dir)).resolve().parents[1]
    except (IndexError, OSError):
        return None
    return root if (root / "g2rl" / "__init__.py").is_file() else None
