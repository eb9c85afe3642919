# Predictions -> metrics per setting -> Table 1, the sigma/lambda figures, example figures, report.


rule evaluate:
    input:
        predictions=fold_predictions,
        diagnostics=fold_diagnostics,
    output:
        f"{RESULTS}/{{dataset}}/runs/{{method}}/sigma{{sigma}}/lambda{{lam}}/seed{{seed}}/metrics.json",
    log:
        f"{RESULTS}/logs/{{dataset}}/evaluate/{{method}}_sigma{{sigma}}_lambda{{lam}}_seed{{seed}}.log",
    conda:
        CONDA_ENV
    params:
        g2rl=G2RL,
        bootstrap=BOOTSTRAP,
        pooled=lambda wc: "--pooled" if wc.dataset == "disfa" and config["disfa"]["pooled"] else "",
        aus=lambda wc: ",".join(aus_of(wc.dataset)),
    shell:
        "{params.g2rl} evaluate {input.predictions} --aus {params.aus} {params.pooled} --diagnostics {input.diagnostics} "
        "{params.bootstrap} --out {output} > {log} 2>&1"


rule evidence:
    input:
        unpack(table1_metrics),
    output:
        f"{RESULTS}/{{dataset}}/evidence.json",
    log:
        f"{RESULTS}/logs/{{dataset}}/evidence.log",
    conda:
        CONDA_ENV
    params:
        g2rl=G2RL,
        bootstrap=BOOTSTRAP,
    shell:
        "{params.g2rl} report evidence --dataset {wildcards.dataset} --baseline {input.baseline} --g2rl {input.g2rl} "
        "{params.bootstrap} --out {output} > {log} 2>&1"


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
    conda:
        CONDA_ENV
    params:
        g2rl=G2RL,
        prefix=lambda wc, output: output.csv.removesuffix(".csv"),
        data_label=config["data_label"],
    shell:
        "{params.g2rl} report compare --data-label {params.data_label} --out-prefix {params.prefix} {input} > {log} 2>&1"


rule table1:
    input:
        unpack(table1_metrics),
        paper=PAPER_TABLE1,
        evidence=f"{RESULTS}/{{dataset}}/evidence.json",
    output:
        csv=report(
            f"{RESULTS}/tables/table1_{{dataset}}.csv",
            caption="../report/table1.rst",
            category="Table 1",
            subcategory="{dataset}",
            labels={
                "dataset": "{dataset}",
                "sigma": SIGMA0,
                "lambda": LAMBDA0,
                "data": config["data_label"],
                "format": "csv",
            },
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
            labels={
                "dataset": "{dataset}",
                "sigma": SIGMA0,
                "lambda": LAMBDA0,
                "data": config["data_label"],
                "format": "html",
            },
        ),
    log:
        f"{RESULTS}/logs/{{dataset}}/table1.log",
    conda:
        CONDA_ENV
    params:
        g2rl=G2RL,
        prefix=f"{RESULTS}/tables/table1_{{dataset}}",
        data_label=config["data_label"],
    shell:
        "{params.g2rl} report table1 --dataset {wildcards.dataset} --baseline {input.baseline} --g2rl {input.g2rl} "
        "--paper {input.paper} --data-label {params.data_label} --evidence {input.evidence} --out-prefix {params.prefix} "
        "> {log} 2>&1"


rule sensitivity_figures:
    input:
        lambda wc: sweep_metrics(wc.param),
    output:
        png=report(
            f"{RESULTS}/figures/sensitivity_{{param}}.png",
            caption="../report/sensitivity.rst",
            category="Figures 6-7 (sensitivity)",
            labels={"varied": "{param}", "datasets": ", ".join(SWEEP_DATASETS), "data": config["data_label"]},
        ),
        pdf=f"{RESULTS}/figures/sensitivity_{{param}}.pdf",
    log:
        f"{RESULTS}/logs/sensitivity_{{param}}.log",
    wildcard_constraints:
        param="sigma|lambda",
    conda:
        CONDA_ENV
    params:
        g2rl=G2RL,
        prefix=f"{RESULTS}/figures/sensitivity_{{param}}",
        data_label=config["data_label"],
    shell:
        "{params.g2rl} report sensitivity --param {wildcards.param} --out-prefix {params.prefix} "
        "--data-label {params.data_label} {input} > {log} 2>&1"


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
    conda:
        CONDA_ENV
    params:
        g2rl=G2RL,
        data_label=config["data_label"],
    shell:
        "{params.g2rl} report examples --model {input.model} --predictions {input.predictions} --crops {input.crops} "
        "--heatmaps-out {output.heatmaps} --curves-out {output.curves} --data-label {params.data_label} > {log} 2>&1"


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
    conda:
        CONDA_ENV
    params:
        g2rl=G2RL,
        prefix=f"{RESULTS}/figures/training_{{dataset}}",
        data_label=config["data_label"],
        title=lambda wc: f"{wc.dataset.upper()}: loss terms per epoch (sigma {SIGMA0}, lambda {LAMBDA0})",
    shell:
        "{params.g2rl} report training --out-prefix {params.prefix} --data-label {params.data_label} "
        "--title {params.title:q} {input} > {log} 2>&1"
