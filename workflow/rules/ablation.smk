# The ablation: Baseline, Table 1's G2RL, its variants (experiments.ablation) and a Baseline on each variant's own
# heatmaps, on the same folds and seeds as Table 1.
# `snakemake ablation` builds the tables alone; the variants' runs are results/<dataset>/runs/g2rl-<variant>/...


rule ablation_table:
    input:
        runs=lambda wc: [
            p for r in ablation_rows(wc.dataset) for run in r["runs"] for p in run["predictions"] + run["train_logs"]
        ],
        # the geometry probe reads each run's model beside its predictions, on the cached test crops
        models=lambda wc: [
            str(Path(p).with_name("model.pt"))
            for r in ablation_rows(wc.dataset)
            for run in r["runs"]
            for p in run["predictions"]
        ],
        crops=f"{RESULTS}/{{dataset}}/cache/crops.h5",
    output:
        csv=f"{RESULTS}/{{dataset}}/ablation/table.csv",
        md=f"{RESULTS}/{{dataset}}/ablation/table.md",
        # the table itself, rendered in the report
        html=report(
            f"{RESULTS}/{{dataset}}/ablation/table.html",
            caption="../report/ablation.rst",
            category="Ablation",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "sigma": SIGMA0, "lambda": LAMBDA0, "data": config["data_label"]},
        ),
    log:
        f"{RESULTS}/logs/{{dataset}}/ablation_table.log",
    conda:
        CONDA_ENV
    params:
        rows=lambda wc: json_arg(ablation_rows(wc.dataset)),
        aus=lambda wc: ",".join(aus_of(wc.dataset)),
        prefix=f"{RESULTS}/{{dataset}}/ablation/table",
        data_label=config["data_label"],
        bootstrap=BOOTSTRAP,
        probe_frames=EXP["ablation"]["probe_frames"],
    shell:
        '"$G2RL_PYTHON" -m g2rl report ablation --dataset {wildcards.dataset:q} --rows {params.rows:q} '
        "--aus {params.aus:q} --data-label {params.data_label:q} {params.bootstrap:q} --out-prefix {params.prefix:q} "
        "--crops {input.crops:q} --probe-frames {params.probe_frames:q} > {log:q} 2>&1"


rule ablation:
    input:
        ablation_outputs(),
