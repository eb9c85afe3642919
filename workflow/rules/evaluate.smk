# Predictions -> metrics per setting -> Table 1, the sigma/lambda figures, example figures, report.


rule evaluate:
    input:
        predictions=fold_predictions,
        diagnostics=fold_diagnostics,
    output:
        f"{RESULTS}/{{dataset}}/runs/{{method}}/sigma{{sigma}}/lambda{{lam}}/seed{{seed}}/metrics.json",
    log:
        f"{RESULTS}/logs/{{dataset}}/evaluate/{{method}}_sigma{{sigma}}_lambda{{lam}}_seed{{seed}}.log",
    # time and peak memory at the dataset's size (benchmarks/rehearse_paper_scale.py; docs/CLUSTER.md)
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/evaluate/{{method}}_sigma{{sigma}}_lambda{{lam}}_seed{{seed}}.tsv"
    conda:
        CONDA_ENV
    params:
        bootstrap=BOOTSTRAP,
        pooled=lambda wc: ["--pooled"] if wc.dataset == "disfa" and config["disfa"]["pooled"] else [],
        aus=lambda wc: ",".join(aus_of(wc.dataset)),
    shell:
        '"$G2RL_PYTHON" -m g2rl evaluate {input.predictions:q} --aus {params.aus:q} {params.pooled:q} '
        "--diagnostics {input.diagnostics:q} {params.bootstrap:q} --out {output:q} > {log:q} 2>&1"


rule evidence:
    input:
        unpack(table1_metrics),
    output:
        f"{RESULTS}/{{dataset}}/evidence.json",
    log:
        f"{RESULTS}/logs/{{dataset}}/evidence.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/evidence.tsv"
    conda:
        CONDA_ENV
    params:
        bootstrap=BOOTSTRAP,
        # the extra Table 1 rows (experiments.table1_variants): --variant NAME METRICS... each
        variants=table1_variant_args,
    shell:
        '"$G2RL_PYTHON" -m g2rl report evidence --dataset {wildcards.dataset:q} --baseline {input.baseline:q} '
        "--g2rl {input.g2rl:q} {params.variants:q} {params.bootstrap:q} --out {output:q} > {log:q} 2>&1"


# One per dataset (named by it), so the DISFA and BP4D configs, run one after the other, keep both.
rule g2rl_vs_baseline:
    input:
        f"{RESULTS}/{{dataset}}/evidence.json",
    output:
        csv=f"{RESULTS}/tables/g2rl_vs_baseline_{{dataset}}.csv",
        md=f"{RESULTS}/tables/g2rl_vs_baseline_{{dataset}}.md",
        # the table itself, rendered in the report (a CSV there is only a download link)
        html=report(
            f"{RESULTS}/tables/g2rl_vs_baseline_{{dataset}}.html",
            caption="../report/g2rl_vs_baseline.rst",
            category="Table 1",
            subcategory="{dataset}",
            labels={
                "dataset": "{dataset}",
                "table": "G2RL vs Baseline",
                "sigma": SIGMA0,
                "lambda": LAMBDA0,
                "data": config["data_label"],
            },
        ),
    log:
        f"{RESULTS}/logs/{{dataset}}/g2rl_vs_baseline.log",
    conda:
        CONDA_ENV
    params:
        prefix=lambda wc, output: output.csv.removesuffix(".csv"),
        data_label=config["data_label"],
    shell:
        '"$G2RL_PYTHON" -m g2rl report compare --data-label {params.data_label:q} --out-prefix {params.prefix:q} '
        "{input:q} > {log:q} 2>&1"


rule table1:
    input:
        unpack(table1_metrics),
        evidence=f"{RESULTS}/{{dataset}}/evidence.json",
    output:
        csv=f"{RESULTS}/tables/table1_{{dataset}}.csv",
        md=f"{RESULTS}/tables/table1_{{dataset}}.md",
        tex=f"{RESULTS}/tables/table1_{{dataset}}.tex",
        provenance=f"{RESULTS}/tables/table1_{{dataset}}.provenance.json",
        # the table itself, rendered in the report (the CSV, MD and TeX are files beside it)
        html=report(
            f"{RESULTS}/tables/table1_{{dataset}}.html",
            caption="../report/table1.rst",
            category="Table 1",
            subcategory="{dataset}",
            labels={
                "dataset": "{dataset}",
                "table": "Table 1",
                "sigma": SIGMA0,
                "lambda": LAMBDA0,
                "data": config["data_label"],
            },
        ),
    log:
        f"{RESULTS}/logs/{{dataset}}/table1.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/table1.tsv"
    conda:
        CONDA_ENV
    params:
        prefix=f"{RESULTS}/tables/table1_{{dataset}}",
        data_label=config["data_label"],
        # the published rows ship in the package; their fingerprint reruns the table when they are edited
        paper_sha256=PAPER_TABLE1_SHA256,
        variants=table1_variant_args,
    shell:
        '"$G2RL_PYTHON" -m g2rl report table1 --dataset {wildcards.dataset:q} --baseline {input.baseline:q} '
        "--g2rl {input.g2rl:q} {params.variants:q} --data-label {params.data_label:q} --evidence {input.evidence:q} "
        "--out-prefix {params.prefix:q} > {log:q} 2>&1"


# Named by the datasets it plots (sensitivity_sigma_disfa, ..._bp4d-disfa), so no config overwrites another's.
rule sensitivity_figures:
    input:
        metrics=lambda wc: sweep_metrics(wc.param),
        # the Baseline of the sweep's datasets and seeds: each figure's reference line
        baseline=sweep_baseline_metrics,
    output:
        png=report(
            f"{RESULTS}/figures/sensitivity_{{param}}_{SWEEP_SET}.png",
            caption="../report/sensitivity.rst",
            category="Figures 6-7 (sensitivity)",
            labels={"varied": "{param}", "datasets": ", ".join(SWEEP_DATASETS), "data": config["data_label"]},
        ),
        pdf=f"{RESULTS}/figures/sensitivity_{{param}}_{SWEEP_SET}.pdf",
    log:
        f"{RESULTS}/logs/sensitivity_{{param}}_{SWEEP_SET}.log",
    wildcard_constraints:
        param="sigma|lambda",
    conda:
        CONDA_ENV
    params:
        prefix=f"{RESULTS}/figures/sensitivity_{{param}}_{SWEEP_SET}",
        data_label=config["data_label"],
    shell:
        '"$G2RL_PYTHON" -m g2rl report sensitivity --param {wildcards.param:q} --out-prefix {params.prefix:q} '
        "--data-label {params.data_label:q} {input.metrics:q} --baseline {input.baseline:q} > {log:q} 2>&1"


rule example_figures:
    input:
        unpack(example_run),
    output:
        heatmaps=f"{RESULTS}/figures/heatmaps_{{dataset}}.png",
        heatmaps_pdf=f"{RESULTS}/figures/heatmaps_{{dataset}}.pdf",
        curves_pdf=f"{RESULTS}/figures/curves_{{dataset}}.pdf",
        # the report shows the figure in a page that scrolls from its top (a tall PNG would be cut off there)
        heatmaps_page=report(
            f"{RESULTS}/figures/heatmaps_{{dataset}}.html",
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
        data_label=config["data_label"],
    shell:
        '"$G2RL_PYTHON" -m g2rl report examples --model {input.model:q} --predictions {input.predictions:q} '
        "--baseline-predictions {input.baseline_predictions:q} --dataset {wildcards.dataset:q} "
        "--crops {input.crops:q} --heatmaps-out {output.heatmaps:q} --heatmaps-page {output.heatmaps_page:q} "
        "--curves-out {output.curves:q} "
        "--data-label {params.data_label:q} > {log:q} 2>&1"


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
        prefix=f"{RESULTS}/figures/training_{{dataset}}",
        data_label=config["data_label"],
        title=lambda wc: f"{wc.dataset.upper()}: loss terms per epoch (sigma {SIGMA0}, lambda {LAMBDA0})",
    shell:
        '"$G2RL_PYTHON" -m g2rl report training --out-prefix {params.prefix:q} --data-label {params.data_label:q} '
        "--title {params.title:q} {input:q} > {log:q} 2>&1"


# The report's home page (workflow/report/workflow.rst includes it): the result in one line per dataset, read
# from Table 1 and the evidence, and what was run (g2rl/reports/home.py). Config values in it are escaped there.
rule report_home:
    input:
        table1=expand(f"{RESULTS}/tables/table1_{{dataset}}.csv", dataset=DATASETS),
        evidence=expand(f"{RESULTS}/{{dataset}}/evidence.json", dataset=DATASETS),
    output:
        f"{RESULTS}/report/home.rst",
    log:
        f"{RESULTS}/logs/report_home.log",
    conda:
        CONDA_ENV
    params:
        settings=json_arg(home_settings(config)),
    shell:
        '"$G2RL_PYTHON" -m g2rl report home --settings {params.settings:q} --table1 {input.table1:q} '
        "--evidence {input.evidence:q} --out {output:q} > {log:q} 2>&1"
