# Shared helpers: config validation, run enumeration, and how rules call the g2rl package.

import functools
import json
import os
import sys
from pathlib import Path

import pandas as pd

from snakemake_interface_executor_plugins.settings import DeploymentMethod

from g2rl.config import (
    check_configfiles_keep_datasets,
    missing_roots,
    dataset_set_label,
    lambda_label,
    parse_sigma,
    sigma_label,
    validate,
)
from g2rl.datasets.names import name_pattern, split_pattern, unanchored
from g2rl.init_policy import IMAGENET_CHOICES
from g2rl.model.variants import (
    VARIANT_PREFIX,
    ablation_methods,
    check_experiment_rows,
    heatmap_cache,
    is_baseline,
    table1_variants,
    variants,
)
from g2rl.model.weights import sha256_of
from g2rl.results_root import claim_results_root
from g2rl.reports.home import home_settings
from g2rl.training.from_config import workflow_train_flags
from g2rl.workflow_cmd import job_environment, local_source_root

# Snakemake's convention: config/config.yaml of the working directory (so `--directory .test` runs the tiny
# config and a snakedeploy'd copy its own); where the working directory has none, the workflow's own demo config.
# A --configfile replaces it instead of merging into it, so a paper config never inherits the demo's folds or sizes.
# (Used as a module, the caller's `config:` is used and this is skipped.)
_LOCAL_CONFIG = "config/config.yaml"
if not workflow.overwrite_configfiles:

    configfile: _LOCAL_CONFIG if os.path.isfile(_LOCAL_CONFIG) else workflow.source_path("../../config/config.yaml")


# Defaults filled, unknown keys rejected, with one message naming the key. A missing dataset root stops the job
# that reads it (frame_index), not the parse: dry runs and --lint work on the paper configs without the data, but
# say first, one line per dataset, which roots are missing.
config = validate(config, source="workflow config", check_roots=False)
for _missing in missing_roots(config):
    print(f"g2rl: workflow config: {_missing}; its frame_index job will stop there", file=sys.stderr)
check_experiment_rows(config)
# `--configfile a.yaml b.yaml` merges key by key: b's `datasets` would silently drop a's dataset.
check_configfiles_keep_datasets(
    workflow.overwrite_configfiles, config["datasets"], "datasets" in (workflow.config_settings.config or {})
)

RESULTS = config["results"]
# results/demo and results/real by default; a folder holding the other kind of data stops the run here
claim_results_root(RESULTS, config["data_label"])
DATASETS = config["datasets"]
EXP = config["experiments"]

# Jobs run the library through its CLI: every rule's shell starts with `"$G2RL_PYTHON" -m g2rl`, the Python
# running Snakemake, or the env's own `python` under --sdm conda/apptainer, with this checkout's package first
# on PYTHONPATH. Both are exported here, not passed as params: a job whose params change is rerun, and where
# the checkout or the venv lives must not retrain anything (g2rl/workflow_cmd.py says why).
_ISOLATED = bool(
    {DeploymentMethod.CONDA, DeploymentMethod.APPTAINER} & set(workflow.deployment_settings.deployment_method)
)
SOURCE_ROOT = local_source_root(workflow.current_basedir)
os.environ.update(job_environment(_ISOLATED, SOURCE_ROOT, os.environ))
# Relative to this file, so the workflow also works as a module or a snakedeploy'd copy.
CONDA_ENV = "../../envs/g2rl.yaml"
# `g2rl evaluate` / `report evidence` bootstrap options (a job's params.bootstrap).
BOOTSTRAP = ["--resamples", str(EXP["bootstrap"]["resamples"]), "--bootstrap-seed", str(EXP["bootstrap"]["seed"])]
# The paper's published rows ship inside the package (g2rl/resources/paper_table1.csv, a link to
# config/paper_table1.csv), so `g2rl report table1` needs no path to them, and a job sees a change of their
# content through this fingerprint (a param) instead of through an absolute path that moves with the checkout.
PAPER_TABLE1_SHA256 = sha256_of(
    SOURCE_ROOT / "config" / "paper_table1.csv"
    if SOURCE_ROOT
    else workflow.source_path("../../config/paper_table1.csv")
)


# subject, session and fold: the schema's name patterns, which the config check and the frame index enforce too
wildcard_constraints:
    dataset="disfa|bp4d",
    subject=unanchored(name_pattern()),
    session=unanchored(name_pattern()),
    # baseline, g2rl, g2rl-<variant>, or baseline-<variant> (the Baseline on a variant's heatmaps); these names
    # become folders and shell words, so nothing outside this pattern (g2rl.model.variants)
    method="baseline|g2rl|(?:baseline|g2rl)-[a-z0-9_]+",
    sigma=r"[0-9.]+",
    lam=r"[0-9.]+",
    seed=r"\d+",
    fold=unanchored(split_pattern()),


def json_arg(value):
    """A JSON value for one option (the shell command quotes it: {params.x:q}); sorted keys keep params stable."""
    return json.dumps(value, sort_keys=True)


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
# Outputs that combine datasets (the sensitivity figures) carry their names, e.g. sensitivity_sigma_bp4d-disfa.
SWEEP_SET = dataset_set_label(SWEEP_DATASETS)


def run_dir(dataset, method, sigma, lam, seed):
    return f"{RESULTS}/{dataset}/runs/{method}/sigma{sigma}/lambda{lam}/seed{seed}"


def final_outputs():
    """Every file a user or the report reads. Each must be listed: Snakemake runs a job for the files asked
    of it, so an output missing beside a present one (an older run lacking a newer .html) is only made when
    asked for, and `snakemake --report` would then fail on it."""
    outs = []
    for d in DATASETS:
        outs += expand(f"{RESULTS}/tables/table1_{d}.{{ext}}", ext=["csv", "md", "tex", "html"])
        outs += [f"{RESULTS}/{d}/evidence.json"]
        outs += expand(f"{RESULTS}/figures/heatmaps_{d}.{{ext}}", ext=["png", "html"])
        outs += [f"{RESULTS}/figures/curves_{d}.png", f"{RESULTS}/figures/training_{d}.png"]
        outs += expand(f"{RESULTS}/tables/g2rl_vs_baseline_{d}.{{ext}}", ext=["csv", "md", "html"])
    if EXP["sigma_sweep"]:
        outs += [f"{RESULTS}/figures/sensitivity_sigma_{SWEEP_SET}.png"]
    if EXP["lambda_sweep"]:
        outs += [f"{RESULTS}/figures/sensitivity_lambda_{SWEEP_SET}.png"]
    outs += ablation_outputs()
    outs += [f"{RESULTS}/report/home.rst"]
    return outs


# --- ablation.smk ----------------------------------------------------------------------------------------


def ablation_folds(dataset):
    folds = test_folds(dataset)
    return folds[:1] if EXP["ablation"]["folds"] == "first" else folds


def ablation_rows(dataset):
    """One row per method (g2rl.model.variants.ablation_methods: the Baseline first, a variant with other heatmaps
    after a Baseline on them): per seed of Table 1, its fold predictions and train logs, the row it is compared with
    and its lambda (g2rl.reports.ablation)."""
    plan = ablation_methods(config)
    labels = {row["method"]: row["label"] for row in plan}
    out = []
    for row in plan:
        lam = "0" if row["baseline"] else LAMBDA0
        runs = []
        for seed in EXP["seeds"]:
            fold_dirs = [
                f"{run_dir(dataset, row['method'], SIGMA0, lam, seed)}/fold{f}" for f in ablation_folds(dataset)
            ]
            runs.append(
                {
                    "seed": str(seed),
                    "predictions": [f"{d}/predictions.csv" for d in fold_dirs],
                    "train_logs": [f"{d}/train_log.csv" for d in fold_dirs],
                }
            )
        out.append(
            {
                "name": row["label"],
                "method": row["method"],
                "changes": row["changes"],
                "against": labels[row["against"]] if row["against"] else None,
                "lambda": float(lam),
                "runs": runs,
            }
        )
    return out


def ablation_outputs():
    if not variants(config):
        return []
    return [f"{RESULTS}/{d}/ablation/table.{ext}" for d in ABLATION_DATASETS for ext in ("csv", "md", "html")]


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
    """metrics.json per seed of Table 1's rows: Baseline, G2RL, and each `experiments.table1_variants` row
    (`variants`: their files in the order of table1_variant_args)."""
    seeds = SEEDS
    return {
        "baseline": [f"{run_dir(wc.dataset, 'baseline', SIGMA0, '0', s)}/metrics.json" for s in seeds],
        "g2rl": [f"{run_dir(wc.dataset, 'g2rl', SIGMA0, LAMBDA0, s)}/metrics.json" for s in seeds],
        "variants": [f for _, files in table1_variant_runs(wc.dataset) for f in files],
    }


def table1_variant_runs(dataset):
    """(variant name, metrics.json per seed) of each extra Table 1 row (`experiments.table1_variants`)."""
    return [
        (m.removeprefix(VARIANT_PREFIX), [f"{run_dir(dataset, m, SIGMA0, LAMBDA0, s)}/metrics.json" for s in SEEDS])
        for m in table1_variants(config)
    ]


def table1_variant_args(wc):
    """`--variant NAME METRICS...` per extra Table 1 row, one word each (the rule quotes them one by one)."""
    return [w for name, files in table1_variant_runs(wc.dataset) for w in ("--variant", name, *files)]


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


def sweep_baseline_metrics(wc):
    """The Baseline's metrics.json of every sweep dataset and sweep seed: the sensitivity figures' reference."""
    return [f"{run_dir(d, 'baseline', SIGMA0, '0', seed)}/metrics.json" for d in SWEEP_DATASETS for seed in SWEEP_SEEDS]


def example_run(wc):
    """The G2RL run (Table 1 setting, first seed, first test fold) whose outputs the example figures show,
    and the Baseline's predictions of the same seed and fold (drawn beside G2RL's in Figure 5)."""
    fold = test_folds(wc.dataset)[0]
    d = f"{run_dir(wc.dataset, 'g2rl', SIGMA0, LAMBDA0, EXP['seeds'][0])}/fold{fold}"
    base = f"{run_dir(wc.dataset, 'baseline', SIGMA0, '0', EXP['seeds'][0])}/fold{fold}"
    return {
        "model": f"{d}/model.pt",
        "predictions": f"{d}/predictions.csv",
        "baseline_predictions": f"{base}/predictions.csv",
        "crops": f"{RESULTS}/{wc.dataset}/cache/crops.h5",
    }


def table1_train_logs(wc):
    """train_log.csv of every fold and seed of the Table 1 rows (Baseline, G2RL and the extra variant rows)."""
    return [
        f"{run_dir(wc.dataset, m, SIGMA0, lam, seed)}/fold{fold}/train_log.csv"
        for m, lam in (("baseline", "0"), ("g2rl", LAMBDA0), *((v, LAMBDA0) for v in table1_variants(config)))
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
    """`g2rl train` arguments of one job, one word each, quoted one by one as {params.flags:q}; they come from
    the library's one config -> TrainSettings mapping (g2rl.training.from_config), which the benchmarks use too."""
    weights = weights_file() if config["model"]["pretrained"] else None
    return workflow_train_flags(config, wc.method, wc.lam, weights)


def weights_file():
    """The file a training loads: the `weights` rule's export for torchvision names, else the user's file."""
    m = config["model"]
    if m["pretrained"] in IMAGENET_CHOICES:
        return f"resources/weights/{m['backbone']}_{m['pretrained']}.pth"
    return m["pretrained"]
