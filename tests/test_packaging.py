"""The install paths agree: pyproject, the conda env file and the exact constraints name the same packages;
an installed wheel carries its package data and runs without the repository."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pandas as pd
import yaml

from layouts import write_bp4d

REPO = Path(__file__).resolve().parent.parent


def names(requirements):
    return {re.split(r"[<>=!~\[ ]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


def test_conda_env_names_the_same_packages_as_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((REPO / "envs" / "g2rl.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert names(pip) == names(project["dependencies"])
    assert any(str(d).startswith("python=3.11") for d in env["dependencies"])
    # and pins exactly what the tested install pins (envs/constraints.txt)
    pins = {}
    for line in (REPO / "envs" / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.lower().replace("_", "-")] = version
    for requirement in pip:
        name, sep, version = requirement.partition("==")
        assert sep and pins[name.lower().replace("_", "-")] == version, f"envs/g2rl.yaml: {requirement}"


def test_exact_pins_only_in_constraints_and_constraints_cover_every_dependency():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    deps = project["dependencies"] + extras["test"] + extras["workflow"]
    # pyproject gives ranges (an exact torch pin there would fight every other torch a user has)
    assert not [d for d in deps if "==" in d], deps
    assert "scipy" in names(project["dependencies"])  # imported by g2rl.demo.warp
    # Snakemake is for running the workflow only: `g2rl predict` users do not install it
    assert {"snakemake", "snakemake-executor-plugin-slurm"} <= names(extras["workflow"])
    assert not {n for n in names(project["dependencies"]) if n.startswith("snakemake")}
    assert project["license"] == "MIT" and (REPO / "LICENSE").read_text().startswith("MIT License")
    pins = {}
    for line in (REPO / "envs" / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.lower().replace("_", "-")] = version
    assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"
    assert names(deps) <= set(pins), names(deps) - set(pins)


def test_installed_wheel_runs_g2rl_index_without_the_repository(tmp_path):
    """Build the wheel, install it into an empty folder, and run `g2rl index` from elsewhere: the schema
    comes from the package data (before, it was read from the repository and this failed)."""
    run = lambda *cmd, **kw: subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)  # noqa: E731
    built = run(sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
                "-q", "-w", str(tmp_path / "dist"))
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("g2rl-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        # the default config is a link in the repository; the wheel must hold the file itself
        assert zf.read("g2rl/resources/config.yaml").decode() == (REPO / "config" / "config.yaml").read_text()
        metadata = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        assert "License-Expression: MIT" in zf.read(metadata).decode()
    target = tmp_path / "site"
    installed = run(sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel))
    assert installed.returncode == 0, installed.stderr
    root = write_bp4d(tmp_path / "BP4D", subjects=("F001", "F002"), sessions=("T1",), n_frames=3)
    layout = '{"partitions": {"train": ["F001"], "devel": ["F002"]}}'
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(target), "OMP_NUM_THREADS": "1"}
    where = run(sys.executable, "-c", "import g2rl.config as c; print(c.__file__)", cwd=work, env=env)
    assert where.stdout.strip().startswith(str(target)), where
    out = work / "index.csv"
    index = run(sys.executable, "-m", "g2rl", "index", "--dataset", "bp4d", "--root", str(root), "--out", str(out),
                "--dataset-settings", layout, cwd=work, env=env)
    assert index.returncode == 0, index.stderr
    frames = pd.read_csv(out)
    assert len(frames) == 6 and set(frames["subject"]) == {"F001", "F002"}
