# Predictions -> metrics per setting -> Table 1, the sigma/lambda figures, example figures, report.


def fold_predictions(wc):
    return [
        f"{run_dir(wc.dataset, wc.method, wc.sigma, wc.lam, wc.seed)}/fold{fold}/predictions.csv"
        for fold in test_folds(wc.dataset)
    ]


def fold_diagnostics(wc):
    return [str(Path(p).parent / "diagnostics.json") for p in fold_predictions(wc)]


BOOTSTRAP = f"--resamples {EXP['bootstrap']['resamples']} --bootstrap-seed {EXP['bootstrap']['seed']}"


rule evaluate:
    input:
        predictions=fold_predictions,
        diagnostics=fold_diagnostics,
    output:
        f"{RESULTS}/{{dataset}}/runs/{{method}}/sigma{{sigma}}/lambda{{lam}}/seed{{seed}}/metrics.json",
    log:
        f"{RESULTS}/logs/{{dataset}}/evaluate/{{method}}_sigma{{sigma}}_lambda{{lam}}_seed{{seed}}.log",
    params:
        pooled=lambda wc: "--pooled" if wc.dataset == "disfa" and config["disfa"]["pooled"] else "",
        aus=lambda wc: ",".join(aus_of(wc.dataset)),
    conda:
        CONDA_ENV
    shell:
        "{G2RL} evaluate {input.predictions} --aus {params.aus} {params.pooled} --diagnostics {input.diagnostics} "
        "{BOOTSTRAP} --out {output} > {log} 2>&1"


def table1_metrics(wc):
    seeds = SEEDS
    return {
        "baseline": [f"{run_dir(wc.dataset, 'baseline', SIGMA0, '0', s)}/metrics.json" for s in seeds],
        "g2rl": [f"{run_dir(wc.dataset, 'g2rl', SIGMA0, LAMBDA0, s)}/metrics.json" for s in seeds],
    }


rule evidence:
    input:
        unpack(table1_metrics),
    output:
        f"{RESULTS}/{{dataset}}/evidence.json",
    log:
        f"{RESULTS}/logs/{{dataset}}/evidence.log",
    conda:
        CONDA_ENV
    shell:
        "{G2RL} report evidence --dataset {wildcards.dataset} --baseline {input.baseline} --g2rl {input.g2rl} "
        "{BOOTSTRAP} --out {output} > {log} 2>&1"


rule g2rl_vs_baseline:
    input:
        expand(f"{RESULTS}/{{dataset}}/evidence.json", dataset=DATASETS),
    output:
        csv=report(
            f"{RESULTS}/tables/g2rl_vs_baseline.csv",
            caption="../report/g2rl_vs_baseline.rst",
            category="Table 1",
            subcategory="G2RL vs Baseline",
            labels={"table": "G2RL vs Baseline", "data": config["data_label"]},
        ),
        md=f"{RESULTS}/tables/g2rl_vs_baseline.md",
    log:
        f"{RESULTS}/logs/g2rl_vs_baseline.log",
    params:
        prefix=f"{RESULTS}/tables/g2rl_vs_baseline",
        data_label=config["data_label"],
    conda:
        CONDA_ENV
    shell:
        "{G2RL} report compare --data-label {params.data_label} --out-prefix {params.prefix} {input} > {log} 2>&1"


rule table1:
    input:
        unpack(table1_metrics),
        paper=str(REPO / "config" / "paper_table1.csv"),
        evidence=f"{RESULTS}/{{dataset}}/evidence.json",
    output:
        csv=report(
            f"{RESULTS}/tables/table1_{{dataset}}.csv",
            caption="../report/table1.rst",
            category="Table 1",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "sigma": SIGMA0, "lambda": LAMBDA0, "data": config["data_label"], "format": "csv"},
        ),
        md=f"{RESULTS}/tables/table1_{{dataset}}.md",
        tex=f"{RESULTS}/tables/table1_{{dataset}}.tex",
        provenance=f"{RESULTS}/tables/table1_{{dataset}}.provenance.json",
        # the table itself, rendered in the report (the CSV above is its download)
        html=report(
            f"{RESULTS}/tables/table1_{{dataset}}.html",
            caption="../report/table1.rst",
            category="Table 1",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "sigma": SIGMA0, "lambda": LAMBDA0, "data": config["data_label"], "format": "html"},
        ),
    log:
        f"{RESULTS}/logs/{{dataset}}/table1.log",
    params:
        prefix=f"{RESULTS}/tables/table1_{{dataset}}",
        data_label=config["data_label"],
    conda:
        CONDA_ENV
    shell:
        "{G2RL} report table1 --dataset {wildcards.dataset} --baseline {input.baseline} --g2rl {input.g2rl} "
        "--paper {input.paper} --data-label {params.data_label} --evidence {input.evidence} --out-prefix {params.prefix} "
        "> {log} 2>&1"


def sweep_metrics(param):
    """metrics.json of every (dataset, swept value, sweep seed) for one parameter's figure."""
    files = []
    for d in DATASETS:
        for seed in SWEEP_SEEDS:
            if param == "sigma":
                files += [f"{run_dir(d, 'g2rl', sigma_label(s), LAMBDA0, seed)}/metrics.json" for s in EXP["sigma_sweep"]]
            else:
                files += [f"{run_dir(d, 'g2rl', SIGMA0, lambda_label(l), seed)}/metrics.json" for l in EXP["lambda_sweep"]]
    return files


rule sensitivity_figures:
    input:
        lambda wc: sweep_metrics(wc.param),
    output:
        png=report(
            f"{RESULTS}/figures/sensitivity_{{param}}.png",
            caption="../report/sensitivity.rst",
            category="Figures 6-7 (sensitivity)",
            labels={"varied": "{param}", "datasets": ", ".join(DATASETS), "data": config["data_label"]},
        ),
        pdf=f"{RESULTS}/figures/sensitivity_{{param}}.pdf",
    wildcard_constraints:
        param="sigma|lambda",
    log:
        f"{RESULTS}/logs/sensitivity_{{param}}.log",
    params:
        prefix=f"{RESULTS}/figures/sensitivity_{{param}}",
        data_label=config["data_label"],
    conda:
        CONDA_ENV
    shell:
        "{G2RL} report sensitivity --param {wildcards.param} --out-prefix {params.prefix} "
        "--data-label {params.data_label} {input} > {log} 2>&1"


def example_run(wc):
    """The G2RL run (Table 1 setting, first seed, first test fold) whose outputs the example figures show."""
    fold = test_folds(wc.dataset)[0]
    d = f"{run_dir(wc.dataset, 'g2rl', SIGMA0, LAMBDA0, EXP['seeds'][0])}/fold{fold}"
    return {
        "model": f"{d}/model.pt",
        "predictions": f"{d}/predictions.csv",
        "crops": f"{RESULTS}/{wc.dataset}/cache/crops.h5",
    }


rule example_figures:
    input:
        unpack(example_run),
    output:
        heatmaps=report(
            f"{RESULTS}/figures/heatmaps_{{dataset}}.png",
            caption="../report/heatmaps.rst",
            category="Figures 4-5 (examples)",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "heatmaps", "sigma": SIGMA0, "lambda": LAMBDA0},
        ),
        curves=report(
            f"{RESULTS}/figures/curves_{{dataset}}.png",
            caption="../report/curves.rst",
            category="Figures 4-5 (examples)",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "curves", "sigma": SIGMA0, "lambda": LAMBDA0},
        ),
    log:
        f"{RESULTS}/logs/{{dataset}}/example_figures.log",
    params:
        data_label=config["data_label"],
    conda:
        CONDA_ENV
    shell:
        "{G2RL} report examples --model {input.model} --predictions {input.predictions} --crops {input.crops} "
        "--heatmaps-out {output.heatmaps} --curves-out {output.curves} --data-label {params.data_label} > {log} 2>&1"


def table1_train_logs(wc):
    """train_log.csv of every fold and seed of the Table 1 settings (Baseline and G2RL)."""
    return [
        f"{run_dir(wc.dataset, m, SIGMA0, lam, seed)}/fold{fold}/train_log.csv"
        for m, lam in (("baseline", "0"), ("g2rl", LAMBDA0))
        for seed in SEEDS
        for fold in test_folds(wc.dataset)
    ]


rule training_curves:
    input:
        table1_train_logs,
    output:
        png=report(
            f"{RESULTS}/figures/training_{{dataset}}.png",
            caption="../report/training.rst",
            category="Training curves",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "sigma": SIGMA0, "lambda": LAMBDA0, "data": config["data_label"]},
        ),
        pdf=f"{RESULTS}/figures/training_{{dataset}}.pdf",
    log:
        f"{RESULTS}/logs/{{dataset}}/training_curves.log",
    params:
        prefix=f"{RESULTS}/figures/training_{{dataset}}",
        data_label=config["data_label"],
        title=lambda wc: f"{wc.dataset.upper()}: loss terms per epoch (sigma {SIGMA0}, lambda {LAMBDA0})",
    conda:
        CONDA_ENV
    shell:
        "{G2RL} report training --out-prefix {params.prefix} --data-label {params.data_label} "
        "--title {params.title:q} {input} > {log} 2>&1"
