"""Every ```bash block of the README works pasted into a new shell after `make setup` (issue 30 items 5 and 6).

Each block runs in ``bash -eu`` in its own copy of the checkout (with this ``.venv``), from a PATH without any
virtualenv whose ``python`` fails, so a bare ``snakemake``, ``g2rl`` or ``pip`` would not be found or would be the
wrong one. Blocks that would run the reproduction or need the licensed data run in their dry-run form
(``snakemake -n``, ``make -n``); ``/data/DISFA`` becomes a small generated DISFA tree. A block that cannot run here
is listed in :data:`NOT_RUN` with the reason, and a new block must be added to :data:`BLOCKS` or to it. The blocks
run two at a time (each dry run is seconds of one core; the whole test about a minute of CPU).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import REPO, copy_checkout, path_without_project_python

# a phrase of the block -> how it runs: "as is", "dry" (every snakemake with -n, make with -n)
BLOCKS = {
    "make demo": "dry",
    "--configfile config/paper.yaml": "dry",
    "--configfile config/disfa.yaml --config": "dry",
    "g2rl index --dataset disfa --root /data/DISFA": "as is",
    "-f results/demo/disfa/runs/g2rl/sigma2/lambda0.05/seed0/fold2/predictions.csv": "dry",
    "--resources gpu=4": "dry",
    "pip install snakemake-executor-plugin-slurm": "dry",
    "snakedeploy deploy-workflow": "dry",
}
NOT_RUN = {
    "--report results/demo/report.html": "needs a finished run: tests/test_report_in_browser.py makes the report of the "
                                    "tiny run with Snakemake's --report",
    "torchvision.models.resnet50(weights='IMAGENET1K_V1')": "downloads the ImageNet weights (internet) and copies "
                                                            "them to a host called cluster",
    "g2rl provenance results/demo/tables/table1_disfa.csv": "needs a finished run: tests/test_provenance.py runs "
                                                       "`g2rl provenance` on results",
    "g2rl predict --checkpoint": "needs a trained model and your footage: tests/test_predict_cli.py runs it on a "
                                 "tiny checkpoint",
}


def readme_blocks() -> list[str]:
    return re.findall(r"^```bash\n(.*?)^```", (REPO / "README.md").read_text(), re.S | re.M)


def key_of(block: str) -> str:
    found = [k for k in (*BLOCKS, *NOT_RUN) if k in block]
    assert len(found) == 1, f"README block matches {found} (add it to BLOCKS or NOT_RUN):\n{block}"
    return found[0]


def dry(block: str) -> str:
    block = re.sub(r'(snakemake"?) ', r"\1 -n ", block)
    return re.sub(r"^make ", "make -n ", block, flags=re.M)


@pytest.fixture(scope="module")
def disfa_tree(tmp_path_factory) -> Path:
    """A DISFA tree in the real layout with every subject the default folds name (20 small frames each), for the
    commands that read /data/DISFA (about 7 s of CPU)."""
    from g2rl.config import load_schema

    folds = load_schema()["properties"]["disfa"]["properties"]["folds"]["default"]
    subjects = sorted({s for names in folds.values() for s in names})
    out = tmp_path_factory.mktemp("disfa_data")
    subprocess.run([sys.executable, "-m", "g2rl", "demo-data", "--out", str(out), "--disfa-frames", "20",
                    "--frame-size", "214", "160", "--workers", "2", "--disfa-subjects", *subjects,
                    "--bp4d-train", "none", "--bp4d-devel", "none"], check=True, capture_output=True, timeout=600)
    return out / "DISFA"


def run_block(block: str, how: str, where: Path, disfa: Path) -> subprocess.CompletedProcess:
    checkout = copy_checkout(where / "g2rl")
    (checkout / ".venv").symlink_to(REPO / ".venv")
    if "git clone" in block:  # a clone of this checkout's files, as a user's is
        git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
        for cmd in (["init", "--quiet", "--initial-branch", "main"], ["add", "--all", "--", ":!.venv"],
                    ["commit", "--quiet", "--message", "checkout"]):
            subprocess.run([*git, *cmd], cwd=checkout, check=True, capture_output=True)
    script = (dry(block) if how == "dry" else block).replace("/data/DISFA", str(disfa))
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    # a new shell: no virtualenv on PATH, and pip may not reach an index (the plugin is installed already)
    env.update(PATH=path_without_project_python(), PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return subprocess.run(["bash", "-eu", "-c", script], cwd=checkout, env=env, capture_output=True, text=True,
                          timeout=600)


def test_every_block_is_run_or_has_a_reason():
    keys = [key_of(b) for b in readme_blocks()]
    assert sorted(keys) == sorted({*BLOCKS, *NOT_RUN}), "a listed block is gone from the README"


def test_readme_blocks_work_in_a_new_shell(tmp_path, disfa_tree):
    blocks = [(b, BLOCKS[key_of(b)]) for b in readme_blocks() if key_of(b) in BLOCKS]
    folders = [tmp_path / f"block{i}" for i in range(len(blocks))]
    with ThreadPoolExecutor(max_workers=2) as pool:  # each dry run is a few seconds of one core
        done = list(pool.map(lambda bf: run_block(*bf[0], bf[1], disfa_tree), zip(blocks, folders)))
    for (block, how), proc, folder in zip(blocks, done, folders):
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"README block ({how}) failed:\n{block}\n---\n{out[-4000:]}"
        if ".venv/bin/snakemake" in block:
            assert "This was a dry-run" in out, out[-2000:]
        if "g2rl index" in block:
            assert len((folder / "g2rl" / "disfa_index.csv").read_text().splitlines()) > 10
        if "snakedeploy" in block:
            assert "Snakefile path not found in traditional path" in out  # the warning the README explains
            module = (folder / "my-au-study" / "workflow" / "Snakefile").read_text()
            assert f'"{folder / "g2rl" / "Snakefile"}"' in module  # the module is this checkout
