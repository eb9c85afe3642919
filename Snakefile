# G2RL reproduction workflow. The rules live in workflow/rules/; the logic in the g2rl package.
# Quick start: `snakemake --cores all` (demo data), or `--configfile config/disfa.yaml` for the real data.
# Every output path is <results>/<dataset>/<stage>/... (results/demo or results/real unless the config names a
# folder), one folder level per wildcard (README, "Outputs").


# The HTML report's home page (snakemake --report): it includes the page the report_home rule writes from the
# results (the run's title, its result per dataset, what was run).
report: "workflow/report/workflow.rst"


from snakemake.utils import min_version

# 9.18: small inputs compared by checksum (docs/PERFORMANCE.md); the pinned, tested version is 9.27.1.
min_version("9.18")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/preprocess.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/ablation.smk"


# Cheap aggregation and plotting run on the submit host, not as cluster jobs.
localrules:
    all,
    frame_index,
    weights,
    evaluate,
    table1,
    evidence,
    g2rl_vs_baseline,
    sensitivity_figures,
    example_figures,
    ablation_table,
    ablation,
    training_curves,
    report_home,


rule all:
    default_target: True
    input:
        final_outputs(),
