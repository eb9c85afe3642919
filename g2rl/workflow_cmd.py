"""How the Snakemake rules run the g2rl command line (workflow/rules/common.smk calls this once).

A rule's job must run the same Python that runs Snakemake, not whichever `python` comes first on PATH: on a
fresh machine that is the system's, which has none of the project's packages (issue 11). Snakemake's own
`script:` directive does the same (`sys.executable`). The one exception is a conda or apptainer deployment
(`--sdm conda` / `--sdm apptainer`): then the job's shell has the environment activated, and its `python` is
the one that holds the packages.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path


def job_python(isolated: bool, executable: str | None = None) -> str:
    """The interpreter a job runs, as one shell word.

    isolated: a conda/apptainer deployment is active, so the job's own environment provides `python`.
    executable: the interpreter running Snakemake (default: sys.executable).
    """
    if isolated:
        return "python"
    executable = sys.executable if executable is None else executable
    if not executable:
        # sys.executable is empty only for embedded interpreters; no job could find its packages then.
        raise RuntimeError("cannot tell which Python runs Snakemake (sys.executable is empty)")
    return shlex.quote(executable)


def g2rl_command(isolated: bool, source_root: Path | None, executable: str | None = None) -> str:
    """Shell words that run `python -m g2rl` in a job, e.g. ``PYTHONPATH=/repo${PYTHONPATH:+:$PYTHONPATH} /venv/bin/python -m g2rl``.

    source_root: the folder holding this checkout's `g2rl/` package, put first on PYTHONPATH so a job runs the
    workflow's own code even inside a conda env that has only the dependencies; None when the workflow's source
    is not on local disk (a deployed module read from GitHub), where the installed g2rl is used.
    """
    prefix = ""
    if source_root is not None:
        prefix = f"PYTHONPATH={shlex.quote(str(source_root))}${{PYTHONPATH:+:$PYTHONPATH}} "
    return f"{prefix}{job_python(isolated, executable)} -m g2rl"


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
