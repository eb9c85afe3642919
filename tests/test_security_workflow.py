"""Issue 20, item 1: nothing from a config or a dataset tree runs as shell in the workflow.

Every value in every rule's shell command is quoted (`{x:q}`), checked statically over the rule files, and for real
on a config whose `results` folder holds `$(...)` and a space. Subject and session names outside a safe set are
refused when the frame index is built, naming the file they came from.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, path_without_project_python
from g2rl.config import dataset_section
from g2rl.datasets import index_bp4d, index_disfa
from g2rl.datasets.names import is_safe_name
from g2rl.errors import ConfigError, DatasetLayoutError
from layouts import write_bp4d, write_disfa

RULE_FILES = sorted((REPO / "workflow" / "rules").glob("*.smk"))
# Placeholders that are safe unquoted: numbers Snakemake itself fills in.
UNQUOTED_OK = {"threads"}
HOSTILE = "$(touch INJECTED)"


def shell_commands(text: str) -> list[str]:
    """The shell command of each rule in a .smk file: the string literals under `shell:`, joined."""
    commands = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() != "shell:":
            continue
        indent = len(line) - len(line.lstrip())
        parts = []
        for body in lines[i + 1 :]:
            if body.strip() and len(body) - len(body.lstrip()) <= indent:
                break
            parts.append(body.strip())
        literals = re.findall(r"""(?:'([^']*)'|"([^"]*)")""", " ".join(parts))
        commands.append("".join(a or b for a, b in literals))
    return commands


def placeholders(command: str) -> list[str]:
    return re.findall(r"(?<!\{)\{([^{}]+)\}(?!\})", command)


def test_every_rule_runs_g2rl_and_quotes_every_value():
    commands = [c for f in RULE_FILES for c in shell_commands(f.read_text())]
    assert len(commands) >= 14, commands  # every rule with a shell: was found
    for command in commands:
        assert command.startswith('"$G2RL_PYTHON" -m g2rl '), command
        unquoted = [p for p in placeholders(command) if not p.endswith(":q") and p not in UNQUOTED_OK]
        assert not unquoted, f"unquoted in: {command}\n -> {unquoted}"


def test_the_static_check_sees_an_unquoted_value():
    bad = 'rule x:\n    shell:\n        \'"$G2RL_PYTHON" -m g2rl index --out {output} \'\n        "> {log:q}"\n'
    (command,) = shell_commands(bad)
    assert [p for p in placeholders(command) if not p.endswith(":q")] == ["output"]


def _bp4d_config(tmp_path: Path, root: Path, results: str) -> Path:
    cfg = {
        "results": results,
        "data_label": "demo",
        "datasets": ["bp4d"],
        "bp4d": {"root": str(root), "partitions": {"train": ["F001"], "devel": ["F002"]}},
        "model": {"pretrained": None},
    }
    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _snakemake(workdir: Path, configfile: Path, *targets: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PATH"] = path_without_project_python()
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
           "--configfile", str(configfile), "--cores", "1", *targets]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)


def test_hostile_results_folder_is_a_folder_name_not_a_command(tmp_path):
    """`results: 'r $(touch INJECTED)'` ran the command before the quoting; now it is just a folder's name."""
    root = write_bp4d(tmp_path / "BP4D")
    results = f"r {HOSTILE}"
    workdir = tmp_path / "wd"
    proc = _snakemake(workdir, _bp4d_config(tmp_path, root, results), f"{results}/bp4d/frame_index.csv")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (workdir / results / "bp4d" / "frame_index.csv").is_file()
    assert (workdir / results / "logs" / "bp4d" / "frame_index.log").is_file()  # the log went where it belongs
    assert not list(tmp_path.rglob("INJECTED"))


def test_hostile_label_file_name_is_refused_by_the_workflow(tmp_path):
    """A BP4D label file named `F001_T1$(touch INJECTED)_AU06.csv`, with its Sequences folder, and no config change."""
    root = write_bp4d(tmp_path / "BP4D")
    session = f"T1{HOSTILE}"
    for label in (root / "AUCoding" / "AU_INT").glob("AU*/F001_T1_AU*.csv"):
        (label.parent / label.name.replace("_T1_", f"_{session}_")).write_text(label.read_text())
    (root / "Sequences" / "F001" / "T1").rename(root / "Sequences" / "F001" / session)
    workdir = tmp_path / "wd"
    proc = _snakemake(workdir, _bp4d_config(tmp_path, root, "results"), "results/bp4d/frame_index.csv")
    assert proc.returncode != 0
    log = (workdir / "results" / "logs" / "bp4d" / "frame_index.log").read_text()
    assert f"F001_{session}_AU06.csv: session name" in log and "is not accepted" in log, log
    assert "Traceback" not in log
    assert not list(tmp_path.rglob("INJECTED"))


@pytest.mark.parametrize("name", ["T1$(x)", "..", ".hidden", "a b", "T1;ls", "x" * 65, "café", ""])
def test_unsafe_names_are_refused(name):
    assert not is_safe_name(name)


@pytest.mark.parametrize("name", ["F001", "T1", "SN001", "M017", "task_2", "s-1", "x" * 64])
def test_real_names_are_accepted(name):
    assert is_safe_name(name)


def test_bp4d_session_discovered_from_a_file_name_is_checked(tmp_path):
    root = write_bp4d(tmp_path / "BP4D")
    label = root / "AUCoding" / "AU_INT" / "AU10" / "F002_T1_AU10.csv"
    (label.parent / "F002_..;rm_AU10.csv").write_text(label.read_text())
    with pytest.raises(DatasetLayoutError, match=r"AU10/F002_\.\.;rm_AU10\.csv: session name '\.\.;rm' is not accepted"):
        index_bp4d(root, partitions={"train": ["F001"], "devel": ["F002"]})


def test_subject_names_from_the_config_are_checked(tmp_path):
    root = write_disfa(tmp_path / "DISFA")
    with pytest.raises(DatasetLayoutError, match=r"disfa.folds.2: subject name '\.\./SN002' is not accepted"):
        index_disfa(root, folds={"1": ["SN001"], "2": ["../SN002"]})
    # the schema says the same to `g2rl index --dataset-settings` and the workflow config
    with pytest.raises(ConfigError, match=r"folds\.1\.0"):
        dataset_section("disfa", {"folds": {"1": ["SN$(x)"]}})
    with pytest.raises(ConfigError, match=r"partitions\.devel\.0"):
        dataset_section("bp4d", {"partitions": {"train": ["F001"], "devel": ["F 002"]}})
    with pytest.raises(ConfigError, match=r"sessions\.0"):
        dataset_section("bp4d", {"sessions": ["T1`id`"]})


def test_a_hand_edited_index_with_a_hostile_session_is_refused_when_read(tmp_path):
    from g2rl.datasets import read_frame_index
    from g2rl.datasets.frame_index import write_frame_index

    root = write_bp4d(tmp_path / "BP4D")
    df = index_bp4d(root, partitions={"train": ["F001"], "devel": ["F002"]})
    df.loc[3, "session"] = "T1$(touch X)"
    write_frame_index(df, tmp_path / "index.csv")
    with pytest.raises(DatasetLayoutError, match=r"index.csv: row 4: session name 'T1\$\(touch X\)' is not accepted"):
        read_frame_index(tmp_path / "index.csv")
