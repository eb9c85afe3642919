"""The install paths agree: pyproject, the conda env file and the exact constraints name the same packages."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def names(requirements):
    return {re.split(r"[<>=!~\[ ]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


def test_conda_env_names_the_same_packages_as_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((REPO / "envs" / "g2rl.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert names(pip) == names(project["dependencies"])
    assert any(str(d).startswith("python=3.11") for d in env["dependencies"])


def test_torch_pins_and_constraints_cover_every_dependency():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + project["optional-dependencies"]["test"]
    assert "torch==2.14.1" in deps and "torchvision==0.29.1" in deps
    pins = {}
    for line in (REPO / "envs" / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.lower().replace("_", "-")] = version
    assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"
    assert names(deps) <= set(pins), names(deps) - set(pins)
