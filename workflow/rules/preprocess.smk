# Frame index -> landmarks (one job per video / image sequence) -> aligned-crop cache -> heatmap cache per sigma.


rule landmarks:
    input:
        index=f"{RESULTS}/{{dataset}}/frame_index.csv",
    output:
        f"{RESULTS}/{{dataset}}/landmarks/{{subject}}/{{session}}.csv",
    log:
        f"{RESULTS}/logs/{{dataset}}/landmarks/{{subject}}_{{session}}.log",
    # wall time, CPU time and peak memory of each job (max_rss, MB): docs/CLUSTER.md sizes SLURM from them
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/landmarks/{{subject}}_{{session}}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    params:
        g2rl=G2RL,
        media=lambda wc: sequence_table(wc.dataset)[(wc.subject, wc.session)],
        mode=lambda wc: ("" if config["landmarks"]["fast"] else "--plain ")
        + ("--sequence" if wc.dataset == "bp4d" else ""),
        detect_scale=config["landmarks"]["detect_scale"],
        redetect_every=config["landmarks"]["redetect_every"],
    shell:
        "{params.g2rl} landmarks {params.media:q} --out {output} {params.mode} --detect-scale {params.detect_scale} "
        "--redetect-every {params.redetect_every} --require-face --no-progress > {log} 2>&1"


rule crop_cache:
    input:
        index=f"{RESULTS}/{{dataset}}/frame_index.csv",
        landmarks=landmark_files,
    output:
        f"{RESULTS}/{{dataset}}/cache/crops.h5",
    log:
        f"{RESULTS}/logs/{{dataset}}/crop_cache.log",
    # wall time, CPU time and peak memory of each job (max_rss, MB): docs/CLUSTER.md sizes SLURM from them
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/crop_cache.tsv"
    conda:
        CONDA_ENV
    params:
        g2rl=G2RL,
        landmarks_dir=f"{RESULTS}/{{dataset}}/landmarks",
        crop_size=config["preprocess"]["crop_size"],
        max_gap=config["landmarks"]["max_gap"],
        aus=lambda wc: ",".join(aus_of(wc.dataset)),
        au_points=jarg(config["preprocess"]["au_points"]),
    shell:
        "{params.g2rl} cache crops --index {input.index} --landmarks-dir {params.landmarks_dir} --out {output} "
        "--crop-size {params.crop_size} --max-gap {params.max_gap} --aus {params.aus} --au-points {params.au_points} "
        "--no-progress > {log} 2>&1"


rule heatmap_cache:
    input:
        f"{RESULTS}/{{dataset}}/cache/crops.h5",
    output:
        f"{RESULTS}/{{dataset}}/cache/heatmaps_sigma{{sigma}}.h5",
    log:
        f"{RESULTS}/logs/{{dataset}}/heatmap_cache_sigma{{sigma}}.log",
    # wall time, CPU time and peak memory of each job (max_rss, MB): docs/CLUSTER.md sizes SLURM from them
    benchmark:
        f"{RESULTS}/benchmarks/{{dataset}}/heatmap_cache_sigma{{sigma}}.tsv"
    conda:
        CONDA_ENV
    params:
        g2rl=G2RL,
        sigma=lambda wc: sigma_values()[wc.sigma],
        au_points=jarg(config["preprocess"]["au_points"]),
        layout=config["preprocess"]["heatmap_layout"],
        peak=config["preprocess"]["heatmap_peak"],
    shell:
        "{params.g2rl} cache heatmaps --crops {input} --sigma {params.sigma} --au-points {params.au_points} "
        "--layout {params.layout} --peak {params.peak} --out {output} > {log} 2>&1"


# An ablation variant's heatmaps (other AU points, layout or peak), from the same crops.
rule heatmap_cache_variant:
    input:
        f"{RESULTS}/{{dataset}}/cache/crops.h5",
    output:
        f"{RESULTS}/{{dataset}}/cache/{{points}}-{{layout}}-{{peak}}/heatmaps_sigma{{sigma}}.h5",
    log:
        f"{RESULTS}/logs/{{dataset}}/heatmap_cache_{{points}}-{{layout}}-{{peak}}_sigma{{sigma}}.log",
    wildcard_constraints:
        points="hr|pairs",
        layout="per_au|per_point",
        peak="eq1|intensity",
    conda:
        CONDA_ENV
    params:
        g2rl=G2RL,
        sigma=lambda wc: sigma_values()[wc.sigma],
    shell:
        "{params.g2rl} cache heatmaps --crops {input} --sigma {params.sigma} --au-points {wildcards.points} "
        "--layout {wildcards.layout} --peak {wildcards.peak} --out {output} > {log} 2>&1"
