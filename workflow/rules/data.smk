# Dataset -> frame index. With demo.enabled the workflow first generates the demo dataset.
# Every value in a shell command is quoted ({x:q}): names from a config or a dataset tree never run as shell.


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
            seed=config["demo"]["seed"],
            disfa_frames=config["demo"]["disfa_frames"],
            bp4d_frames=config["demo"]["bp4d_frames"],
        shell:
            '"$G2RL_PYTHON" -m g2rl demo-data --out {output:q} --seed {params.seed:q} '
            "--disfa-frames {params.disfa_frames:q} --bp4d-frames {params.bp4d_frames:q} --workers {threads:q} "
            "> {log:q} 2>&1"


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
        root=lambda wc: config[wc.dataset]["root"],
        settings=lambda wc: json_arg({k: v for k, v in config[wc.dataset].items() if k not in ("root", "pooled")}),
    shell:
        '"$G2RL_PYTHON" -m g2rl index --dataset {wildcards.dataset:q} --root {params.root:q} '
        "--dataset-settings {params.settings:q} --out {output:q} > {log:q} 2>&1"
