# Shared helpers: config validation, run enumeration, and how rules call the g2rl package.

import functools
import json
import os
import shlex
from pathlib import Path

import pandas as pd

from g2rl.config import lambda_label, parse_sigma, sigma_label, validate
from g2rl.init_policy import IMAGENET_CHOICES
from g2rl.model.variants import VARIANT_PREFIX, base_model_config, describe, heatmap_cache, method_model_config, variants

# config/config.yaml (the demo) is the default; a --configfile replaces it instead of merging into it,
# so a paper config never inherits the demo's folds or sizes.
if not workflow.overwrite_configfiles:

    configfile: os.path.join(workflow.basedir, "config", "config.yaml")


# Defaults filled, unknown keys and missing dataset roots rejected, with one message naming the key.
config = validate(config, source="workflow config")

REPO = Path(workflow.basedir)
RESULTS = config["results"]
DATASETS = config["datasets"]
EXP = config["experiments"]

# Rules run the library through its CLI, with this checkout on PYTHONPATH (also inside --sdm conda envs).
G2RL = f"PYTHONPATH={shlex.quote(str(REPO))}${{PYTHONPATH:+:$PYTHONPATH}} python -m g2rl"
CONDA_ENV = str(REPO / "envs" / "g2rl.yaml")

wildcard_constraints:
    dataset="disfa|bp4d",
    method="baseline|g2rl|g2rl-[a-z0-9_]+",
    sigma=r"[0-9.]+",
    lam=r"[0-9.]+",
    seed=r"\d+",
    fold=r"[A-Za-z0-9]+",


def jarg(value):
    """A JSON value as one shell word."""
    return shlex.quote(json.dumps(value, sort_keys=True))


def test_folds(dataset):
    """The test parts of a dataset: DISFA's folds, BP4D's devel partition."""
    if dataset == "disfa":
        return list(config["disfa"]["folds"])
    return ["devel"]


def aus_of(dataset):
    return [f"AU{a:02d}" for a in config[dataset]["aus"]]


def sigma_values():
    """Path label -> float for every sigma in use (Table 1 and the sweep)."""
    values = [EXP["sigma"], *EXP["sigma_sweep"]]
    return {sigma_label(v): parse_sigma(v) for v in values}


SIGMA0 = sigma_label(EXP["sigma"])
LAMBDA0 = lambda_label(EXP["lambda"])
# Table 1 rows run every seed of `seeds`; the sweeps run `sweep_seeds` (default: the first seed).
SEEDS = list(EXP["seeds"])
SWEEP_SEEDS = list(EXP["sweep_seeds"] or EXP["seeds"][:1])
TABLE1_SETTINGS = {("baseline", SIGMA0, "0"), ("g2rl", SIGMA0, LAMBDA0)}


def settings():
    """(method, sigma label, lambda label) of every training setting: Table 1 rows plus both sweeps."""
    out = set(TABLE1_SETTINGS)
    out |= {("g2rl", sigma_label(s), LAMBDA0) for s in EXP["sigma_sweep"]}
    out |= {("g2rl", SIGMA0, lambda_label(l)) for l in EXP["lambda_sweep"]}
    return sorted(out)


def seeds_of(setting):
    """Seeds a setting runs: a Table 1 row all `seeds` (and the sweep seeds, when it is also a sweep point)."""
    return sorted(set(SEEDS) | set(SWEEP_SEEDS)) if setting in TABLE1_SETTINGS else SWEEP_SEEDS


def run_dir(dataset, method, sigma, lam, seed):
    return f"{RESULTS}/{dataset}/runs/{method}/sigma{sigma}/lambda{lam}/seed{seed}"


def metrics_files(dataset):
    return [
        f"{run_dir(dataset, m, s, l, seed)}/metrics.json"
        for (m, s, l) in settings()
        for seed in seeds_of((m, s, l))
    ]


def final_outputs():
    outs = []
    for d in DATASETS:
        outs += expand(f"{RESULTS}/tables/table1_{d}.{{ext}}", ext=["csv", "md", "tex", "html"])
        outs += [f"{RESULTS}/{d}/evidence.json"]
        outs += [f"{RESULTS}/figures/heatmaps_{d}.png", f"{RESULTS}/figures/curves_{d}.png"]
        outs += [f"{RESULTS}/figures/training_{d}.png"]
    outs += expand(f"{RESULTS}/tables/g2rl_vs_baseline.{{ext}}", ext=["csv", "md"])
    if EXP["sigma_sweep"]:
        outs += [f"{RESULTS}/figures/sensitivity_sigma.png"]
    if EXP["lambda_sweep"]:
        outs += [f"{RESULTS}/figures/sensitivity_lambda.png"]
    outs += ablation_outputs()
    return outs
