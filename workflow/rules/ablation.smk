# The ablation: Baseline, Table 1's G2RL and its variants (experiments.ablation) on the same folds, first seed.
# `snakemake ablation` builds the tables alone; the variants' runs are results/<dataset>/runs/g2rl-<variant>/...


def ablation_folds(dataset):
    folds = test_folds(dataset)
    return folds[:1] if EXP["ablation"]["folds"] == "first" else folds


def ablation_rows(dataset):
    """One row per method: its fold predictions and train logs (g2rl.reports.ablation)."""
    seed = EXP["seeds"][0]
    base = base_model_config(config)
    rows = [("Baseline", "baseline", "0", "lambda = 0"), ("G2RL", "g2rl", LAMBDA0, "Table 1's G2RL")]
    rows += [(f"G2RL {name}", f"{VARIANT_PREFIX}{name}", LAMBDA0, describe(method_model_config(config, f"{VARIANT_PREFIX}{name}"), base))
             for name in variants(config)]
    out = []
    for label, method, lam, changes in rows:
        fold_dirs = [f"{run_dir(dataset, method, SIGMA0, lam, seed)}/fold{f}" for f in ablation_folds(dataset)]
        out.append({"name": label, "changes": changes,
                    "predictions": [f"{d}/predictions.csv" for d in fold_dirs],
                    "train_logs": [f"{d}/train_log.csv" for d in fold_dirs]})
    return out


def ablation_outputs():
    if not variants(config):
        return []
    return [f"{RESULTS}/{d}/ablation/table.{ext}" for d in DATASETS for ext in ("csv", "md")]


rule ablation_table:
    input:
        lambda wc: [p for r in ablation_rows(wc.dataset) for p in r["predictions"] + r["train_logs"]],
    output:
        csv=report(
            f"{RESULTS}/{{dataset}}/ablation/table.csv",
            caption="../report/ablation.rst",
            category="Ablation",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "sigma": SIGMA0, "lambda": LAMBDA0, "data": config["data_label"]},
        ),
        md=f"{RESULTS}/{{dataset}}/ablation/table.md",
    log:
        f"{RESULTS}/logs/{{dataset}}/ablation_table.log",
    params:
        rows=lambda wc: jarg(ablation_rows(wc.dataset)),
        aus=lambda wc: ",".join(aus_of(wc.dataset)),
        prefix=f"{RESULTS}/{{dataset}}/ablation/table",
        data_label=config["data_label"],
    conda:
        CONDA_ENV
    shell:
        "{G2RL} report ablation --dataset {wildcards.dataset} --rows {params.rows} --aus {params.aus} "
        "--data-label {params.data_label} --out-prefix {params.prefix} > {log} 2>&1"


rule ablation:
    input:
        ablation_outputs(),
