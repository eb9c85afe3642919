# Shared helpers: config validation, run enumeration, and how rules call the g2rl package.

import functools
import json
import os
import shlex
from pathlib import Path

import pandas as pd

from snakemake_interface_executor_plugins.settings import DeploymentMethod

from g2rl.config import lambda_label, parse_sigma, sigma_label, validate
from g2rl.init_policy import IMAGENET_CHOICES
from g2rl.model.variants import (
    VARIANT_PREFIX,
    base_model_config,
    describe,
    heatmap_cache,
    method_model_config,
    variants,
)
from g2rl.workflow_cmd import g2rl_command, local_source_root

# Snakemake's convention: config/config.yaml of the working directory (so `--directory .test` runs the tiny
# config and a snakedeploy'd copy its own); where the working directory has none, the workflow's own demo config.
# A --configfile replaces it instead of merging into it, so a paper config never inherits the demo's folds or sizes.
# (Used as a module, the caller's `config:` is used and this is skipped.)
_LOCAL_CONFIG = "config/config.yaml"
if not workflow.overwrite_configfiles:

    configfile: _LOCAL_CONFIG if os.path.isfile(_LOCAL_CONFIG) else workflow.source_path("../../config/config.yaml")


# Defaults filled, unknown keys rejected, with one message naming the key. Dataset roots are checked by the job
# that reads them (frame_index), not here: dry runs and --lint work on the paper configs without the data.
config = validate(config, source="workflow config", check_roots=False)

RESULTS = config["results"]
DATASETS = config["datasets"]
EXP = config["experiments"]

# Jobs run the library through its CLI: with the Python running Snakemake, or the env's own `python` under
# --sdm conda/apptainer (g2rl/workflow_cmd.py says why); this checkout's package first on PYTHONPATH.
# Each job gets it as `params.g2rl`; a module-level name in a shell string breaks use as a Snakemake module.
_ISOLATED = bool(
    {DeploymentMethod.CONDA, DeploymentMethod.APPTAINER} & set(workflow.deployment_settings.deployment_method)
)
SOURCE_ROOT = local_source_root(workflow.current_basedir)
G2RL = g2rl_command(_ISOLATED, SOURCE_ROOT)
# Relative to this file, so the workflow also works as a module or a snakedeploy'd copy.
CONDA_ENV = "../../envs/g2rl.yaml"
# `g2rl evaluate` / `report evidence` bootstrap options (a job's params.bootstrap).
BOOTSTRAP = f"--resamples {EXP['bootstrap']['resamples']} --bootstrap-seed {EXP['bootstrap']['seed']}"
# A stable path when the source is on local disk: workflow.source_path copies into a per-run cache folder, so as
# an input it would look changed to every run.
PAPER_TABLE1 = (
    str(SOURCE_ROOT / "config" / "paper_table1.csv")
    if SOURCE_ROOT
    else workflow.source_path("../../config/paper_table1.csv")
)


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
# The sweeps and the ablation may run on a subset of the datasets (null = all), to keep the demo small.
SWEEP_DATASETS = [d for d in DATASETS if d in (EXP["sweep_datasets"] or DATASETS)]
ABLATION_DATASETS = [d for d in DATASETS if d in (EXP["ablation"]["datasets"] or DATASETS)]


def run_dir(dataset, method, sigma, lam, seed):
    return f"{RESULTS}/{dataset}/runs/{method}/sigma{sigma}/lambda{lam}/seed{seed}"


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


# --- ablation.smk ----------------------------------------------------------------------------------------


def ablation_folds(dataset):
    folds = test_folds(dataset)
    return folds[:1] if EXP["ablation"]["folds"] == "first" else folds


def ablation_rows(dataset):
    """One row per method: its fold predictions and train logs (g2rl.reports.ablation)."""
    seed = EXP["seeds"][0]
    base = base_model_config(config)
    rows = [("Baseline", "baseline", "0", "lambda = 0"), ("G2RL", "g2rl", LAMBDA0, "Table 1's G2RL")]
    rows += [
        (
            f"G2RL {name}",
            f"{VARIANT_PREFIX}{name}",
            LAMBDA0,
            describe(method_model_config(config, f"{VARIANT_PREFIX}{name}"), base),
        )
        for name in variants(config)
    ]
    out = []
    for label, method, lam, changes in rows:
        fold_dirs = [f"{run_dir(dataset, method, SIGMA0, lam, seed)}/fold{f}" for f in ablation_folds(dataset)]
        out.append(
            {
                "name": label,
                "changes": changes,
                "predictions": [f"{d}/predictions.csv" for d in fold_dirs],
                "train_logs": [f"{d}/train_log.csv" for d in fold_dirs],
            }
        )
    return out


def ablation_outputs():
    if not variants(config):
        return []
    return [f"{RESULTS}/{d}/ablation/table.{ext}" for d in ABLATION_DATASETS for ext in ("csv", "md")]


# --- Dataset -> frame index (data.smk) -------------------------------------------------------------------


def generated_by_demo(dataset):
    """True when the dataset's root lies under the demo generator's output folder."""
    if not config["demo"]["enabled"]:
        return False
    out = Path(config["demo"]["out"]).resolve()
    root = Path(config[dataset]["root"]).resolve()
    return root == out or out in root.parents


# --- Evaluation, tables and figures (evaluate.smk) -------------------------------------------------------


def fold_predictions(wc):
    return [
        f"{run_dir(wc.dataset, wc.method, wc.sigma, wc.lam, wc.seed)}/fold{fold}/predictions.csv"
        for fold in test_folds(wc.dataset)
    ]


def fold_diagnostics(wc):
    return [str(Path(p).parent / "diagnostics.json") for p in fold_predictions(wc)]


def table1_metrics(wc):
    seeds = SEEDS
    return {
        "baseline": [f"{run_dir(wc.dataset, 'baseline', SIGMA0, '0', s)}/metrics.json" for s in seeds],
        "g2rl": [f"{run_dir(wc.dataset, 'g2rl', SIGMA0, LAMBDA0, s)}/metrics.json" for s in seeds],
    }


def sweep_metrics(param):
    """metrics.json of every (dataset, swept value, sweep seed) for one parameter's figure."""
    files = []
    for d in SWEEP_DATASETS:
        for seed in SWEEP_SEEDS:
            if param == "sigma":
                files += [
                    f"{run_dir(d, 'g2rl', sigma_label(s), LAMBDA0, seed)}/metrics.json" for s in EXP["sigma_sweep"]
                ]
            else:
                files += [
                    f"{run_dir(d, 'g2rl', SIGMA0, lambda_label(l), seed)}/metrics.json" for l in EXP["lambda_sweep"]
                ]
    return files


def example_run(wc):
    """The G2RL run (Table 1 setting, first seed, first test fold) whose outputs the example figures show."""
    fold = test_folds(wc.dataset)[0]
    d = f"{run_dir(wc.dataset, 'g2rl', SIGMA0, LAMBDA0, EXP['seeds'][0])}/fold{fold}"
    return {
        "model": f"{d}/model.pt",
        "predictions": f"{d}/predictions.csv",
        "crops": f"{RESULTS}/{wc.dataset}/cache/crops.h5",
    }


def table1_train_logs(wc):
    """train_log.csv of every fold and seed of the Table 1 settings (Baseline and G2RL)."""
    return [
        f"{run_dir(wc.dataset, m, SIGMA0, lam, seed)}/fold{fold}/train_log.csv"
        for m, lam in (("baseline", "0"), ("g2rl", LAMBDA0))
        for seed in SEEDS
        for fold in test_folds(wc.dataset)
    ]


# --- Landmarks and caches (preprocess.smk) ---------------------------------------------------------------


def sequence_table(dataset):
    """(subject, session) -> media input of every sequence in the frame index (known after the checkpoint)."""
    path = checkpoints.frame_index.get(dataset=dataset).output[0]
    return _sequences_of(path, os.stat(path).st_mtime_ns, dataset)


@functools.lru_cache(maxsize=None)
def _sequences_of(path, mtime_ns, dataset):
    # Read each frame index once per run: every landmark job's params ask for it (328 jobs on BP4D).
    index = pd.read_csv(path, dtype={"subject": str, "session": str}, usecols=["subject", "session", "media"])
    first = index.groupby(["subject", "session"], sort=True)["media"].first()
    # A video is its own input; an image sequence is the folder holding its frames.
    return {key: (m if dataset == "disfa" else str(Path(m).parent)) for key, m in first.items()}


def landmark_files(wc):
    return [
        f"{RESULTS}/{wc.dataset}/landmarks/{subject}/{session}.csv" for (subject, session) in sequence_table(wc.dataset)
    ]


# --- Training (train.smk) --------------------------------------------------------------------------------


def train_flags(wc):
    """`g2rl train` options of one job from the config's model and train sections."""
    m, t = config["model"], config["train"]
    flags = [
        *method_model_config(config, wc.method).cli_flags(),  # every ModelConfig field, variant applied
        f"--epochs {t['epochs']}",
        f"--batch-size {t['batch_size']}",
        f"--lr {t['lr']}",
        f"--lr-gamma {t['lr_gamma']}",
        f"--weight-decay {t['weight_decay']}",
        f"--num-workers {t['num_workers']}",
        f"--amp {t['amp']}",
        f"--channels-last {t['channels_last']}",
        f"--in-memory {t['in_memory']} --in-memory-max-mb {t['in_memory_max_mb']}",
    ]
    if t["lr_step_epochs"]:
        flags.append(f"--lr-step-epochs {','.join(map(str, t['lr_step_epochs']))}")
    if m["pretrained"]:
        flags.append(f"--pretrained {shlex.quote(weights_file())}")
    if m["allow_random_init"]:
        flags.append("--allow-random-init")
    if t["max_train_samples"]:
        flags.append(f"--max-train-samples {t['max_train_samples']}")
    if t["gpus"] > 0:
        # explicit, so a broken CUDA setup stops the job with one line instead of training on the CPU
        flags.append("--device cuda")
        if t["jobs_per_gpu"] > 1:  # only then: the default leaves the params (a rerun trigger) as they were
            flags.append(f"--jobs-per-gpu {t['jobs_per_gpu']}")
    if wc.method != "baseline":
        flags.append(f"--lambda {wc.lam}")
    return " ".join(flags)


def weights_file():
    """The file a training loads: the `weights` rule's export for torchvision names, else the user's file."""
    m = config["model"]
    if m["pretrained"] in IMAGENET_CHOICES:
        return f"resources/weights/{m['backbone']}_{m['pretrained']}.pth"
    return m["pretrained"]
