# Dataset -> frame index. With demo.enabled the workflow first generates the demo dataset.


if config["demo"]["enabled"]:

    rule demo_data:
        output:
            directory(config["demo"]["out"]),
        log:
            f"{RESULTS}/logs/demo_data.log",
        conda:
            CONDA_ENV
        threads: 2
        params:
            g2rl=G2RL,
            seed=config["demo"]["seed"],
            disfa_frames=config["demo"]["disfa_frames"],
            bp4d_frames=config["demo"]["bp4d_frames"],
        shell:
            "{params.g2rl} demo-data --out {output} --seed {params.seed} "
            "--disfa-frames {params.disfa_frames} --bp4d-frames {params.bp4d_frames} --workers {threads} > {log} 2>&1"


checkpoint frame_index:
    input:
        lambda wc: [config["demo"]["out"]] if generated_by_demo(wc.dataset) else [],
    output:
        f"{RESULTS}/{{dataset}}/frame_index.csv",
    log:
        f"{RESULTS}/logs/{{dataset}}/frame_index.log",
    conda:
        CONDA_ENV
    params:
        g2rl=G2RL,
        root=lambda wc: config[wc.dataset]["root"],
        layout=lambda wc: jarg({k: v for k, v in config[wc.dataset].items() if k not in ("root", "pooled")}),
    shell:
        "{params.g2rl} index --dataset {wildcards.dataset} --root {params.root:q} --layout {params.layout} "
        "--out {output} > {log} 2>&1"
